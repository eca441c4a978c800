//! pcapng: any number of sections (each with its own byte order) and interfaces (each with its
//! own link type, snaplen, `if_tsresol` and `if_tsoffset`); Enhanced, Simple and obsolete Packet
//! Blocks. Other blocks (name resolution, statistics, custom) are skipped whole.
//!
//! Own code for the same reason as `pcap.rs`: errors that name the byte offset and block.

use std::path::{Path, PathBuf};

use super::pcap::Step;
use super::reader::{ByteReader, Endian, Fill};
use super::{CutShort, InterfaceInfo, LinkType, RawPacket, SourceError, TsPrecision};

mod block {
    pub const SECTION_HEADER: u32 = 0x0a0d_0d0a;
    pub const INTERFACE_DESCRIPTION: u32 = 1;
    pub const PACKET_OBSOLETE: u32 = 2;
    pub const SIMPLE_PACKET: u32 = 3;
    pub const ENHANCED_PACKET: u32 = 6;
    /// Type, total length, and the trailing copy of the total length.
    pub const FRAMING_LEN: usize = 12;
    pub const BYTE_ORDER_MAGIC: u32 = 0x1a2b_3c4d;
}

mod option {
    pub const END: u16 = 0;
    pub const IF_NAME: u16 = 2;
    pub const IF_TSRESOL: u16 = 9;
    pub const IF_TSOFFSET: u16 = 14;
}

/// A block larger than this is taken as corruption rather than allocated.
const MAX_BLOCK_LEN: u32 = 32 << 20;

/// Where an enhanced packet block's data starts: type, length, interface, two timestamp
/// words, captured and original length.
const EPB_DATA_AT: usize = 28;

struct Interface {
    /// Index into the file-wide interface list (ids restart per section; ours do not).
    global_id: u32,
    link_type: LinkType,
    snaplen: u32,
    /// Timestamp units per second.
    units_per_sec: u64,
    /// Nanoseconds per unit when a unit is a whole number of them (micro- and nanosecond
    /// units: nearly every file), else 0. Worked out once, not by a division per packet.
    ns_per_unit: u64,
    offset_secs: i64,
}

pub(super) struct PcapngReader {
    path: PathBuf,
    r: ByteReader,
    endian: Endian,
    section: Vec<Interface>,
    buf: Vec<u8>,
    packets: u64,
    pub(super) interfaces: Vec<InterfaceInfo>,
}

impl PcapngReader {
    pub(super) fn open(path: &Path, r: ByteReader) -> Self {
        Self {
            path: path.to_path_buf(),
            r,
            endian: Endian::Little,
            section: Vec::new(),
            buf: Vec::new(),
            packets: 0,
            interfaces: Vec::new(),
        }
    }

    fn corrupt(&self, offset: u64, what: String) -> SourceError {
        SourceError::Corrupt {
            path: self.path.clone(),
            offset,
            packet: None,
            what,
        }
    }

    pub(super) fn reader(&self) -> &ByteReader {
        &self.r
    }

    pub(super) fn offset(&self) -> u64 {
        self.r.offset()
    }

    fn io(&self, source: std::io::Error) -> SourceError {
        SourceError::Io {
            path: self.path.clone(),
            source,
        }
    }

    fn cut(&self, offset: u64, what: &str) -> Step<'static> {
        Step::Cut(CutShort {
            offset,
            packets_before: self.packets,
            what: what.to_string(),
        })
    }

    pub(super) fn next(&mut self) -> Result<Step<'_>, SourceError> {
        let (start, block_type, total, rest) = match self.advance()? {
            Ok(found) => found,
            Err(done) => return Ok(done),
        };
        let e = self.endian;
        let packets_before = self.packets;
        let body = match take_block(&mut self.r, &self.path, rest, start, total, packets_before)? {
            Ok(body) => body,
            Err(cut) => return Ok(Step::Cut(cut)),
        };
        check_trailer(body, e, total, block_type, start, &self.path)?;
        // Packets are parsed in place in the reader's buffer (no copy).
        let step = packet(
            &body[..rest - 4],
            block_type,
            start,
            e,
            &self.section,
            &self.path,
            packets_before + 1,
        )?;
        self.packets += 1;
        Ok(step)
    }

    /// The link type and captured bytes of the packet `n` places after the read position (0:
    /// the next), when its block is in hand and the blocks before it are enhanced packet
    /// blocks of this section; `None` otherwise. A look ahead: it never reads and never fails
    /// (the block is checked when it is read).
    pub(super) fn peek(&self, n: usize) -> Option<(LinkType, &[u8])> {
        let e = self.endian;
        let epb = |b: &[u8]| -> Option<usize> {
            let total = e.u32(b.get(4..8)?) as usize;
            (e.u32(b.get(0..4)?) == block::ENHANCED_PACKET && total >= EPB_DATA_AT).then_some(total)
        };
        let mut b = self.r.in_hand();
        for _ in 0..n {
            b = b.get(epb(b)?..)?;
        }
        let block = b.get(..epb(b)?)?;
        let iface = self.section.get(e.u32(&block[8..12]) as usize)?;
        let caplen = e.u32(&block[20..24]) as usize;
        Some((
            iface.link_type,
            block.get(EPB_DATA_AT..EPB_DATA_AT.checked_add(caplen)?)?,
        ))
    }

    /// Reads blocks until the header of a packet block: `Ok((start, type, total, rest))` with
    /// the body still unread, or `Err(step)` for the end of the file.
    #[allow(clippy::type_complexity)]
    fn advance(&mut self) -> Result<Result<(u64, u32, u32, usize), Step<'static>>, SourceError> {
        loop {
            let start = self.r.offset();
            let mut head = [0u8; 8];
            match self.r.fill(&mut head).map_err(|e| self.io(e))? {
                Fill::Full => {}
                Fill::Eof => return Ok(Err(Step::End)),
                Fill::Partial(_) => {
                    return Ok(Err(self.cut(start, "file ends inside a block header")));
                }
            }
            let raw_type = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
            if raw_type == block::SECTION_HEADER {
                // The byte-order magic follows the length and decides how to read both.
                let mut bom = [0u8; 4];
                match self.r.fill(&mut bom).map_err(|e| self.io(e))? {
                    Fill::Full => {}
                    _ => {
                        return Ok(Err(
                            self.cut(start, "file ends inside a section header block")
                        ));
                    }
                }
                self.endian = match u32::from_le_bytes(bom) {
                    block::BYTE_ORDER_MAGIC => Endian::Little,
                    m if m.swap_bytes() == block::BYTE_ORDER_MAGIC => Endian::Big,
                    m => {
                        return Err(self.corrupt(
                            start,
                            format!("section header has a bad byte-order magic {m:08x}"),
                        ));
                    }
                };
                self.section.clear();
            } else if start == 0 {
                return Err(self.corrupt(
                    0,
                    "pcapng file does not start with a section header block".into(),
                ));
            }
            let e = self.endian;
            let block_type = e.u32(&head[0..4]);
            let total = e.u32(&head[4..8]);
            if (total as usize)
                < block::FRAMING_LEN
                    + if block_type == block::SECTION_HEADER {
                        4
                    } else {
                        0
                    }
                || total % 4 != 0
                || total > MAX_BLOCK_LEN
            {
                return Err(self.corrupt(
                    start,
                    format!("block of type {block_type:#x} has an impossible length {total} (must be a multiple of 4, at least 12)"),
                ));
            }
            let already = if block_type == block::SECTION_HEADER {
                4
            } else {
                0
            };
            // Body plus trailing length; the SHB's byte-order magic was read already.
            let rest = total as usize - 8 - already;
            if matches!(
                block_type,
                block::ENHANCED_PACKET | block::PACKET_OBSOLETE | block::SIMPLE_PACKET
            ) {
                return Ok(Ok((start, block_type, total, rest)));
            }
            let body = match take_block(&mut self.r, &self.path, rest, start, total, self.packets)?
            {
                Ok(body) => body,
                Err(cut) => return Ok(Err(Step::Cut(cut))),
            };
            check_trailer(body, e, total, block_type, start, &self.path)?;
            // Other blocks are rare and small: copied out so their parsers can borrow freely.
            self.buf.clear();
            self.buf.extend_from_slice(&body[..rest - 4]);
            let body_len = self.buf.len();
            match block_type {
                block::SECTION_HEADER => self.section_header(start, body_len)?,
                block::INTERFACE_DESCRIPTION => self.interface_description(start, body_len)?,
                _ => {}
            }
        }
    }

    fn section_header(&mut self, start: u64, body_len: usize) -> Result<(), SourceError> {
        // Body (after the magic we consumed): major, minor, section length (8), options.
        if body_len < 12 {
            return Err(self.corrupt(start, "section header block too short".into()));
        }
        let major = self.endian.u16(&self.buf[0..2]);
        if major != 1 {
            return Err(self.corrupt(start, format!("unsupported pcapng major version {major}")));
        }
        self.walk_options(start, 12, body_len, "section header")
            .map(|_| ())
    }

    fn interface_description(&mut self, start: u64, body_len: usize) -> Result<(), SourceError> {
        if body_len < 8 {
            return Err(self.corrupt(start, "interface description block too short".into()));
        }
        let e = self.endian;
        let link_type = LinkType(u32::from(e.u16(&self.buf[0..2])));
        let snaplen = e.u32(&self.buf[4..8]);
        let opts = self.walk_options(start, 8, body_len, "interface description")?;
        let tsresol = opts.tsresol.unwrap_or(6);
        let exp = u32::from(tsresol & 0x7f);
        let units_per_sec = if tsresol & 0x80 == 0 {
            10u64.checked_pow(exp)
        } else {
            2u64.checked_pow(exp)
        };
        let Some(units_per_sec) = units_per_sec.filter(|u| *u > 0) else {
            return Err(self.corrupt(
                start,
                format!("interface has an impossible if_tsresol {tsresol:#x}"),
            ));
        };
        let global_id = self.interfaces.len() as u32;
        self.interfaces.push(InterfaceInfo {
            id: global_id,
            name: opts.name,
            link_type,
            snaplen,
            ts_precision: match tsresol {
                6 => TsPrecision::Micro,
                9 => TsPrecision::Nano,
                _ => TsPrecision::Other,
            },
        });
        self.section.push(Interface {
            global_id,
            link_type,
            snaplen,
            units_per_sec,
            ns_per_unit: match 1_000_000_000 % units_per_sec {
                0 => 1_000_000_000 / units_per_sec,
                _ => 0,
            },
            offset_secs: opts.tsoffset,
        });
        Ok(())
    }

    /// Reads options from `from` to `end` in the block body, checking every length.
    fn walk_options(
        &self,
        start: u64,
        from: usize,
        end: usize,
        what: &str,
    ) -> Result<Options, SourceError> {
        let e = self.endian;
        let mut opts = Options::default();
        let mut at = from;
        while at + 4 <= end {
            let code = e.u16(&self.buf[at..at + 2]);
            let len = e.u16(&self.buf[at + 2..at + 4]) as usize;
            if code == option::END {
                break;
            }
            let value_end = at + 4 + len;
            if value_end > end {
                return Err(self.corrupt(
                    start,
                    format!(
                        "{what} block: option {code} of length {len} runs past the end of the block"
                    ),
                ));
            }
            let v = &self.buf[at + 4..value_end];
            match code {
                option::IF_NAME => {
                    opts.name = Some(
                        String::from_utf8_lossy(v.split(|b| *b == 0).next().unwrap_or(v))
                            .into_owned(),
                    );
                }
                option::IF_TSRESOL if len == 1 => opts.tsresol = Some(v[0]),
                option::IF_TSOFFSET if len == 8 => {
                    let (hi, lo) = (e.u32(&v[0..4]), e.u32(&v[4..8]));
                    let raw = match e {
                        Endian::Little => u64::from(lo) << 32 | u64::from(hi),
                        Endian::Big => u64::from(hi) << 32 | u64::from(lo),
                    };
                    opts.tsoffset = i64::from_ne_bytes(raw.to_ne_bytes());
                }
                _ => {}
            }
            at = value_end + (4 - len % 4) % 4;
        }
        Ok(opts)
    }
}

/// The rest of a block (body and trailing length), or where the file was cut inside it.
#[inline]
fn take_block<'r>(
    r: &'r mut ByteReader,
    path: &Path,
    rest: usize,
    start: u64,
    total: u32,
    packets_before: u64,
) -> Result<Result<&'r [u8], CutShort>, SourceError> {
    let (fill, body) = r.take(rest).map_err(|source| SourceError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if fill == Fill::Full {
        Ok(Ok(body))
    } else {
        Ok(Err(CutShort {
            offset: start,
            packets_before,
            what: format!("file ends inside a block of {total} bytes"),
        }))
    }
}

/// The trailing copy of a block's length must match the leading one.
#[inline]
fn check_trailer(
    body: &[u8],
    e: Endian,
    total: u32,
    block_type: u32,
    start: u64,
    path: &Path,
) -> Result<(), SourceError> {
    let trailer = e.u32(&body[body.len() - 4..]);
    if trailer == total {
        return Ok(());
    }
    Err(SourceError::Corrupt {
        path: path.to_path_buf(),
        offset: start,
        packet: None,
        what: format!(
            "block of type {block_type:#x}: leading length {total} and trailing length {trailer} differ"
        ),
    })
}

/// One packet block, parsed where it lies in the reader's buffer.
#[inline]
fn packet<'a>(
    b: &'a [u8],
    block_type: u32,
    start: u64,
    e: Endian,
    section: &[Interface],
    path: &Path,
    index: u64,
) -> Result<Step<'a>, SourceError> {
    let body_len = b.len();
    let corrupt = |what: String| SourceError::Corrupt {
        path: path.to_path_buf(),
        offset: start,
        packet: Some(index),
        what,
    };
    let (if_id, ts, caplen, orig_len, data_at) = match block_type {
        block::ENHANCED_PACKET | block::PACKET_OBSOLETE => {
            if body_len < 20 {
                return Err(corrupt(
                    "packet block too short for its fixed fields".into(),
                ));
            }
            let if_id = if block_type == block::ENHANCED_PACKET {
                e.u32(&b[0..4])
            } else {
                u32::from(e.u16(&b[0..2]))
            };
            let ts = u64::from(e.u32(&b[4..8])) << 32 | u64::from(e.u32(&b[8..12]));
            (if_id, Some(ts), e.u32(&b[12..16]), e.u32(&b[16..20]), 20)
        }
        _ => {
            if body_len < 4 {
                return Err(corrupt("simple packet block too short".into()));
            }
            let orig_len = e.u32(&b[0..4]);
            // The captured length of an SPB is implied: the block body, bounded by snaplen.
            let snap = section.first().map_or(0, |i| i.snaplen);
            let room = (body_len - 4) as u32;
            let caplen = orig_len
                .min(room)
                .min(if snap == 0 { u32::MAX } else { snap });
            (0, None, caplen, orig_len, 4)
        }
    };
    let Some(iface) = section.get(if_id as usize) else {
        return Err(corrupt(format!(
            "packet names interface {if_id}, but this section describes only {}",
            section.len()
        )));
    };
    if data_at + caplen as usize > body_len {
        return Err(corrupt(format!(
            "captured length {caplen} runs past the end of its block"
        )));
    }
    let ts_nanos = ts.map_or(0, |t| {
        // Micro- and nanosecond units (nearly every file) multiply; a 128-bit division per
        // packet cost more than parsing the block.
        let nanos = match iface.ns_per_unit {
            0 => u128::from(t) * 1_000_000_000 / u128::from(iface.units_per_sec),
            n => u128::from(t) * u128::from(n),
        };
        (nanos as i64).saturating_add(iface.offset_secs.saturating_mul(1_000_000_000))
    });
    Ok(Step::Packet(RawPacket {
        index,
        ts_nanos,
        interface: iface.global_id,
        link_type: iface.link_type,
        orig_len: orig_len.max(caplen),
        data: &b[data_at..data_at + caplen as usize],
    }))
}

#[derive(Default)]
struct Options {
    name: Option<String>,
    tsresol: Option<u8>,
    tsoffset: i64,
}

#[cfg(test)]
mod tests {
    use crate::source::writer::{ByteOrder, PcapngWriter};

    /// Timestamps in every kind of unit: whole nanoseconds per unit (micro, nano, milli,
    /// 100 ns), and units that are not (2^-10 s), with an interface's `if_tsoffset` absent.
    #[test]
    fn timestamps_in_every_unit_become_nanoseconds() {
        let cases: [(u8, u64, i64); 6] = [
            (6, 1_700_000_000_123_456, 1_700_000_000_123_456_000),
            (9, 1_700_000_000_123_456_789, 1_700_000_000_123_456_789),
            (3, 1_700_000_000_123, 1_700_000_000_123_000_000),
            (7, 17_000_000_001_234_567, 1_700_000_000_123_456_700),
            // 2^-10 s: 1,024 units a second; 1,536 units = 1.5 s.
            (0x80 | 0x0a, 1_536, 1_500_000_000),
            // 2^-3 s: 1 unit = 125 ms exactly, by the general path too.
            (0x80 | 0x03, 9, 1_125_000_000),
        ];
        let mut w = PcapngWriter::new(Vec::new(), ByteOrder::Little).unwrap();
        for (tsresol, _, _) in cases {
            w.add_interface(1, 0, None, tsresol).unwrap();
        }
        for (i, (_, ts, _)) in cases.iter().enumerate() {
            w.write_epb(i as u32, *ts, &[0u8; 14], 14).unwrap();
        }
        let dir = std::env::temp_dir().join(format!("lbcheck-pcapng-ts-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("units.pcapng");
        std::fs::write(&path, w.into_inner().unwrap()).unwrap();
        let mut file = crate::source::open_capture(&path).unwrap();
        for (tsresol, _, want) in cases {
            let p = file.next_packet().unwrap().expect("a packet");
            assert_eq!(p.ts_nanos, want, "if_tsresol {tsresol:#x}");
        }
        assert!(file.next_packet().unwrap().is_none());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
