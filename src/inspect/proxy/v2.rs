//! PROXY protocol v2 (binary): fixed header, address block, TLVs, CRC32C, and the LOCAL layout
//! decision.
//!
//! Own code rather than the `ppp` crate: `ppp` takes the address layout from the family byte even
//! for LOCAL (the AWS NLB health check has family 0x11 and no address block; `HAProxy`'s receiver
//! starts TLVs at byte 16 for LOCAL), has no CRC32C check, lacks SSL sub-TLVs 0x26–0x28 and vendor
//! TLVs, and its errors carry no byte offsets.
//!
//! Promise: never panics on any bytes; every field is read with `get` after its length is known
//! to be captured; a capture cut anywhere gives `truncated` with all complete fields decoded.

use std::net::Ipv6Addr;

use super::text::unix_path;
use super::tlv::{self, Walk, be_u16};
use super::{
    Command, Crc32cStatus, Family, Issue, LayoutReading, LocalLayout, ProxyHeader, code, crc,
};
use crate::inspect::ip_text;

/// Offsets of the 16-byte fixed part.
mod field {
    use core::ops::Range;
    pub const SIGNATURE: Range<usize> = 0..12;
    /// High nibble version (must be 2), low nibble command.
    pub const VER_CMD: usize = 12;
    /// High nibble address family, low nibble transport.
    pub const FAMILY: usize = 13;
    /// Big-endian length of everything after the fixed part.
    pub const LENGTH: Range<usize> = 14..16;
    /// End of the fixed part: start of the address block (or of the TLVs).
    pub const FIXED_END: usize = 16;
}

/// Address blocks, offsets relative to their start (byte 16).
mod addr {
    use core::ops::Range;
    pub const IPV4_LEN: usize = 12;
    pub const IPV4_SRC: Range<usize> = 0..4;
    pub const IPV4_DST: Range<usize> = 4..8;
    pub const IPV4_SRC_PORT: Range<usize> = 8..10;
    pub const IPV4_DST_PORT: Range<usize> = 10..12;
    pub const IPV6_LEN: usize = 36;
    pub const IPV6_SRC: Range<usize> = 0..16;
    pub const IPV6_DST: Range<usize> = 16..32;
    pub const IPV6_SRC_PORT: Range<usize> = 32..34;
    pub const IPV6_DST_PORT: Range<usize> = 34..36;
    pub const UNIX_LEN: usize = 216;
    pub const UNIX_SRC: Range<usize> = 0..108;
    pub const UNIX_DST: Range<usize> = 108..216;
}

const VERSION_2: u8 = 0x2;
const COMMAND_LOCAL: u8 = 0x0;
const COMMAND_PROXY: u8 = 0x1;

/// Header sizes that real receivers cap at: dnsdist's default, and go-proxyproto's default.
const COMMON_CAPS: [(usize, &str); 2] = [
    (512, "dnsdist's default 512 (DNS over UDP/TCP)"),
    (4096, "go-proxyproto's default 4096"),
];

fn family(byte: u8) -> Option<Family> {
    Some(match byte {
        0x00 => Family::Unspec,
        0x11 => Family::Tcp4,
        0x12 => Family::Udp4,
        0x21 => Family::Tcp6,
        0x22 => Family::Udp6,
        0x31 => Family::UnixStream,
        0x32 => Family::UnixDgram,
        _ => return None,
    })
}

/// Size of the address block the family calls for.
fn address_len(family: Family) -> usize {
    match family {
        Family::Tcp4 | Family::Udp4 => addr::IPV4_LEN,
        Family::Tcp6 | Family::Udp6 => addr::IPV6_LEN,
        Family::UnixStream | Family::UnixDgram => addr::UNIX_LEN,
        Family::Unspec | Family::Unknown => 0,
    }
}

pub fn parse(bytes: &[u8]) -> ProxyHeader {
    let mut h = ProxyHeader::new(2);
    h.header_len = bytes.len();
    h.payload_offset = bytes.len();
    if bytes.get(field::SIGNATURE).is_none() {
        h.truncate(cut(bytes.len(), "inside the 12-byte signature"));
        return h;
    }
    let Some(&ver_cmd) = bytes.get(field::VER_CMD) else {
        h.truncate(cut(bytes.len(), "before the version/command byte"));
        return h;
    };
    let version = ver_cmd >> 4;
    if version != VERSION_2 {
        h.fail(Issue::new(
            code::V2_BAD_VERSION,
            field::VER_CMD,
            format!("version nibble is 0x{version:x}, must be 0x2"),
        ));
        return h;
    }
    match ver_cmd & 0x0F {
        COMMAND_LOCAL => h.command = Some(Command::Local),
        COMMAND_PROXY => h.command = Some(Command::Proxy),
        other => h.fail(Issue::new(
            code::V2_BAD_COMMAND,
            field::VER_CMD,
            format!("command nibble is 0x{other:x}, must be 0x0 (LOCAL) or 0x1 (PROXY)"),
        )),
    }
    let Some(&family_byte) = bytes.get(field::FAMILY) else {
        if h.error.is_none() {
            h.truncate(cut(bytes.len(), "before the family byte"));
        }
        return h;
    };
    h.family = family(family_byte);
    if h.family.is_none() && h.error.is_none() {
        h.fail(Issue::new(
            code::V2_BAD_FAMILY,
            field::FAMILY,
            format!(
                "family/transport byte is 0x{family_byte:02x}, not one of 00 11 12 21 22 31 32"
            ),
        ));
    }
    let Some(len) = bytes.get(field::LENGTH).and_then(be_u16) else {
        if h.error.is_none() {
            h.truncate(cut(bytes.len(), "inside the length field"));
        }
        return h;
    };
    let end = field::FIXED_END + usize::from(len);
    h.declared_len = Some(len);
    h.header_len = end;
    h.payload_offset = end.min(bytes.len());
    let (Some(command), Some(family)) = (h.command, h.family) else {
        return h; // bad command or family: already failed
    };
    warn_if_large(&mut h, end);

    let header = Header {
        bytes,
        len: usize::from(len),
        end,
    };
    let walk = match command {
        Command::Proxy => {
            let addr_len = address_len(family);
            if header.len < addr_len {
                h.fail(Issue::new(
                    code::V2_LENGTH_TOO_SMALL,
                    field::LENGTH.start,
                    format!(
                        "length {len} is below the {addr_len}-byte address block of the family"
                    ),
                ));
                return h;
            }
            decode_addresses(&mut h, header.region(field::FIXED_END, addr_len), family);
            header.walk_after(addr_len)
        }
        Command::Local => local(&mut h, &header, family),
    };
    apply(&mut h, &header, walk);
    h
}

/// The captured bytes, the declared length and the declared end of one header.
struct Header<'a> {
    bytes: &'a [u8],
    len: usize,
    end: usize,
}

impl Header<'_> {
    /// The captured part of `[start, start + len)`.
    fn region(&self, start: usize, len: usize) -> &[u8] {
        let stop = (start + len).min(self.bytes.len());
        self.bytes.get(start..stop).unwrap_or_default()
    }

    /// TLVs after an address block of `addr_len` bytes (0: TLVs at byte 16).
    fn walk_after(&self, addr_len: usize) -> Walk {
        let start = field::FIXED_END + addr_len;
        let declared = self.len.saturating_sub(addr_len);
        tlv::check(self.region(start, declared), start, declared)
    }

    /// The whole header, when it was captured in full.
    fn complete(&self) -> Option<&[u8]> {
        self.bytes.get(..self.end)
    }

    /// `Some(true)` when every CRC32C TLV of the walk verifies, `Some(false)` when one does not,
    /// `None` when there is none or the header is truncated.
    fn crc_verdict(&self, walk: &Walk) -> Option<bool> {
        let header = self.complete()?;
        if walk.crc_values.is_empty() {
            return None;
        }
        Some(
            walk.crc_values
                .iter()
                .all(|&at| crc::compute(header, at) == crc::stored(header, at)),
        )
    }
}

/// Chooses the reading of a LOCAL header: TLVs at byte 16 (`HAProxy`), or after the address block
/// the family byte calls for (Wireshark, `ppp`, go-proxyproto). CRC32C decides when present.
fn local(h: &mut ProxyHeader, header: &Header<'_>, family: Family) -> Walk {
    let addr_len = address_len(family);
    if addr_len == 0 {
        return header.walk_after(0);
    }
    if header.len < addr_len {
        h.local_layout = Some(LocalLayout {
            used: LayoutReading::TlvsAt16,
            reason: "length-below-address-block",
            alternative_tlvs_valid: false,
        });
        return header.walk_after(0);
    }
    let at16 = header.walk_after(0);
    let after_block = header.walk_after(addr_len);
    let crc16 = header.crc_verdict(&at16);
    let crc_block = header.crc_verdict(&after_block);
    // The decision uses structure only (a corrupted CRC must not flip the layout); a CRC that
    // verifies settles it.
    let parses16 = at16.overrun.is_none();
    let parses_block = after_block.overrun.is_none();
    let (used, reason) = if crc16 == Some(true) {
        (LayoutReading::TlvsAt16, "crc32c-verifies")
    } else if crc_block == Some(true) {
        (LayoutReading::AddressBlock, "crc32c-verifies")
    } else if parses16 && !parses_block {
        (LayoutReading::TlvsAt16, "only-reading-that-parses")
    } else if parses_block && !parses16 {
        h.warnings.push(Issue::new(
            code::V2_LOCAL_LAYOUT_HAPROXY_REJECTS,
            field::FAMILY,
            format!(
                "LOCAL with a {addr_len}-byte address block: HAProxy reads TLVs at byte 16 for LOCAL and would reject this header"
            ),
        ));
        (LayoutReading::AddressBlock, "only-reading-that-parses")
    } else {
        h.warnings.push(Issue::new(
            code::V2_LOCAL_LAYOUT_AMBIGUOUS,
            field::FAMILY,
            format!(
                "LOCAL with an address family and no verifying CRC32C to tell the layouts apart: read as HAProxy does (TLVs at byte 16); Wireshark, ppp and go-proxyproto read a {addr_len}-byte address block first"
            ),
        ));
        (LayoutReading::TlvsAt16, "ambiguous")
    };
    let (walk, alternative_tlvs_valid) = match used {
        LayoutReading::TlvsAt16 => (at16, parses_block && crc_block != Some(false)),
        LayoutReading::AddressBlock => {
            decode_addresses(h, header.region(field::FIXED_END, addr_len), family);
            (after_block, parses16 && crc16 != Some(false))
        }
    };
    h.local_layout = Some(LocalLayout {
        used,
        reason,
        alternative_tlvs_valid,
    });
    walk
}

/// Records the TLVs, the CRC32C verdict and the final status.
fn apply(h: &mut ProxyHeader, header: &Header<'_>, walk: Walk) {
    h.warnings.extend(walk.warnings);
    let bad_length_crc = walk
        .tlvs
        .iter()
        .any(|t| t.kind == tlv::kind::CRC32C && t.crc32c == Some(Crc32cStatus::Invalid));
    h.crc32c = if bad_length_crc {
        Crc32cStatus::Invalid
    } else {
        Crc32cStatus::Absent
    };
    let mut verdicts = Vec::with_capacity(walk.crc_values.len());
    for &at in &walk.crc_values {
        let verdict = match header.complete() {
            Some(bytes) => {
                let (computed, stored) = (crc::compute(bytes, at), crc::stored(bytes, at));
                if computed == stored {
                    Crc32cStatus::Valid
                } else {
                    h.warnings.push(Issue::new(
                        code::V2_CRC32C_MISMATCH,
                        at,
                        format!(
                            "CRC32C on the wire is 0x{:08x}, the header computes to 0x{:08x}",
                            stored.unwrap_or_default(),
                            computed.unwrap_or_default()
                        ),
                    ));
                    Crc32cStatus::Invalid
                }
            }
            None => Crc32cStatus::Unverifiable,
        };
        verdicts.push((at, verdict));
        h.crc32c = match (h.crc32c, verdict) {
            (Crc32cStatus::Invalid, _) | (_, Crc32cStatus::Invalid) => Crc32cStatus::Invalid,
            (Crc32cStatus::Unverifiable, _) | (_, Crc32cStatus::Unverifiable) => {
                Crc32cStatus::Unverifiable
            }
            _ => Crc32cStatus::Valid,
        };
    }
    let region = header.region(walk.start, walk.declared);
    h.tlvs = tlv::Tlvs::keep(region, walk.start, walk.declared, verdicts);
    if let Some(overrun) = walk.overrun {
        h.fail(overrun);
    } else if header.bytes.len() < header.end {
        let captured = header.bytes.len();
        let part = if captured < walk.start {
            "address block"
        } else {
            "TLVs"
        };
        let end = header.end;
        h.truncate(cut(
            captured,
            &format!("inside the {part} of a {end}-byte header"),
        ));
    }
}

fn cut(at: usize, place: &str) -> Issue {
    Issue::new(
        code::V2_TRUNCATED,
        at,
        format!("capture ends after {at} byte(s), {place}"),
    )
}

fn warn_if_large(h: &mut ProxyHeader, end: usize) {
    let over: Vec<&str> = COMMON_CAPS
        .iter()
        .filter(|(cap, _)| end > *cap)
        .map(|(_, name)| *name)
        .collect();
    if !over.is_empty() {
        h.warnings.push(Issue::new(
            code::V2_HEADER_LARGE,
            field::LENGTH.start,
            format!(
                "header is {end} bytes, above {}: such receivers refuse it",
                over.join(" and ")
            ),
        ));
    }
}

/// Decodes whatever part of the address block was captured.
fn decode_addresses(h: &mut ProxyHeader, block: &[u8], family: Family) {
    let ipv4 = |r| {
        block
            .get(r)
            .and_then(|b: &[u8]| <[u8; 4]>::try_from(b).ok())
            .map(|a| ip_text::ipv4(a.into()).as_str().into())
    };
    let ipv6 = |r| {
        block
            .get(r)
            .and_then(|b: &[u8]| <[u8; 16]>::try_from(b).ok())
            .map(|a| ip_text::ipv6(Ipv6Addr::from(a)).as_str().into())
    };
    let port = |r| block.get(r).and_then(be_u16);
    match family {
        Family::Tcp4 | Family::Udp4 => {
            h.src = ipv4(addr::IPV4_SRC);
            h.dst = ipv4(addr::IPV4_DST);
            h.src_port = port(addr::IPV4_SRC_PORT);
            h.dst_port = port(addr::IPV4_DST_PORT);
        }
        Family::Tcp6 | Family::Udp6 => {
            h.src = ipv6(addr::IPV6_SRC);
            h.dst = ipv6(addr::IPV6_DST);
            h.src_port = port(addr::IPV6_SRC_PORT);
            h.dst_port = port(addr::IPV6_DST_PORT);
        }
        Family::UnixStream | Family::UnixDgram => {
            h.src = block.get(addr::UNIX_SRC).map(|p| unix_path(p).into());
            h.dst = block.get(addr::UNIX_DST).map(|p| unix_path(p).into());
        }
        Family::Unspec | Family::Unknown => {}
    }
}
