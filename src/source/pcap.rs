//! The classic pcap format (libpcap `savefile`): both byte orders, micro- and nanosecond
//! timestamps, and the "modified" (Kuznetzov) variant with 24-byte record headers.
//!
//! Own code rather than a crate: the format is 40 lines of structure, and owning it lets every
//! error carry the byte offset and packet number a user needs to open the file elsewhere.

use std::path::{Path, PathBuf};

use super::reader::{ByteReader, Endian, Fill};
use super::{CutShort, InterfaceInfo, LinkType, RawPacket, SourceError, TsPrecision};

/// Offsets in the 24-byte global header.
mod field {
    pub const VERSION_MAJOR: std::ops::Range<usize> = 4..6;
    pub const VERSION_MINOR: std::ops::Range<usize> = 6..8;
    pub const SNAPLEN: std::ops::Range<usize> = 16..20;
    pub const LINK_TYPE: std::ops::Range<usize> = 20..24;
    pub const GLOBAL_HEADER_LEN: usize = 24;
}

pub(super) const MAGIC_MICRO: u32 = 0xa1b2_c3d4;
pub(super) const MAGIC_NANO: u32 = 0xa1b2_3c4d;
pub(super) const MAGIC_MODIFIED: u32 = 0xa1b2_cd34;

/// libpcap refuses records above this unless the file's snaplen is larger (it is the largest
/// snaplen any link type uses); a bigger caplen means a corrupt record, not a big packet.
const MAX_NORMAL_CAPLEN: u32 = 262_144;
/// No snaplen in a header makes us allocate more than this for one record.
const MAX_ANY_CAPLEN: u32 = 16 << 20;

/// Link-type field bits 16–25 are reserved and must be zero; bits 26–31 carry FCS information.
const LINK_TYPE_RESERVED_BITS: u32 = 0x03ff_0000;
const LINK_TYPE_MASK: u32 = 0x0000_ffff;

pub(super) struct PcapReader {
    path: PathBuf,
    r: ByteReader,
    endian: Endian,
    nanos: bool,
    record_header_len: usize,
    link_type: LinkType,
    max_caplen: u32,
    packets: u64,
    pub(super) interfaces: Vec<InterfaceInfo>,
}

pub(super) enum Step<'a> {
    Packet(RawPacket<'a>),
    End,
    Cut(CutShort),
}

impl PcapReader {
    pub(super) fn open(path: &Path, mut r: ByteReader) -> Result<Self, SourceError> {
        let corrupt = |what: String| SourceError::Corrupt {
            path: path.to_path_buf(),
            offset: 0,
            packet: None,
            what,
        };
        let mut h = [0u8; field::GLOBAL_HEADER_LEN];
        match r.fill(&mut h).map_err(|source| SourceError::Io {
            path: path.to_path_buf(),
            source,
        })? {
            Fill::Full => {}
            Fill::Eof | Fill::Partial(_) => {
                return Err(corrupt(
                    "pcap global header cut short (file under 24 bytes)".into(),
                ));
            }
        }
        let le = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
        let be = u32::from_be_bytes([h[0], h[1], h[2], h[3]]);
        let (endian, magic) = if matches!(le, MAGIC_MICRO | MAGIC_NANO | MAGIC_MODIFIED) {
            (Endian::Little, le)
        } else if matches!(be, MAGIC_MICRO | MAGIC_NANO | MAGIC_MODIFIED) {
            (Endian::Big, be)
        } else {
            return Err(corrupt(format!("not a pcap magic number: {be:08x}")));
        };
        let major = endian.u16(&h[field::VERSION_MAJOR]);
        let minor = endian.u16(&h[field::VERSION_MINOR]);
        if major != 2 {
            return Err(corrupt(format!(
                "unsupported pcap version {major}.{minor} (only 2.x exists in practice)"
            )));
        }
        let snaplen = endian.u32(&h[field::SNAPLEN]);
        let raw_link = endian.u32(&h[field::LINK_TYPE]);
        if raw_link & LINK_TYPE_RESERVED_BITS != 0 {
            return Err(corrupt(format!(
                "link-type field {raw_link:#010x} has reserved bits set (corrupt global header)"
            )));
        }
        let link_type = LinkType(raw_link & LINK_TYPE_MASK);
        let nanos = magic == MAGIC_NANO;
        Ok(Self {
            path: path.to_path_buf(),
            r,
            endian,
            nanos,
            record_header_len: if magic == MAGIC_MODIFIED { 24 } else { 16 },
            link_type,
            max_caplen: snaplen.clamp(MAX_NORMAL_CAPLEN, MAX_ANY_CAPLEN),
            packets: 0,
            interfaces: vec![InterfaceInfo {
                id: 0,
                name: None,
                link_type,
                snaplen,
                ts_precision: if nanos {
                    TsPrecision::Nano
                } else {
                    TsPrecision::Micro
                },
            }],
        })
    }

    pub(super) fn next(&mut self) -> Result<Step<'_>, SourceError> {
        let start = self.r.offset();
        let index = self.packets + 1;
        let mut h = [0u8; 24];
        let h = &mut h[..self.record_header_len];
        match self.r.fill(h).map_err(|e| self.io(e))? {
            Fill::Full => {}
            Fill::Eof => return Ok(Step::End),
            Fill::Partial(n) => {
                return Ok(Step::Cut(CutShort {
                    offset: start,
                    packets_before: self.packets,
                    what: format!(
                        "file ends inside the header of packet {index} ({n} of {} bytes)",
                        self.record_header_len
                    ),
                }));
            }
        }
        let e = self.endian;
        let (sec, frac, caplen, orig_len) = (
            e.u32(&h[0..4]),
            e.u32(&h[4..8]),
            e.u32(&h[8..12]),
            e.u32(&h[12..16]),
        );
        if caplen > self.max_caplen {
            return Err(SourceError::Corrupt {
                path: self.path.clone(),
                offset: start,
                packet: Some(index),
                what: format!(
                    "record claims {caplen} captured bytes, more than the {} any real capture holds",
                    self.max_caplen
                ),
            });
        }
        let frac_nanos = if self.nanos {
            i64::from(frac)
        } else {
            i64::from(frac) * 1_000
        };
        let link_type = self.link_type;
        let packets_before = self.packets;
        // An empty record reads as `Full`; anything else short means the file was cut.
        let (fill, data) = match self.r.take(caplen as usize) {
            Ok(t) => t,
            Err(source) => {
                return Err(SourceError::Io {
                    path: self.path.clone(),
                    source,
                });
            }
        };
        if fill != Fill::Full {
            return Ok(Step::Cut(CutShort {
                offset: start,
                packets_before,
                what: format!(
                    "file ends inside the data of packet {index} (record of {caplen} bytes)"
                ),
            }));
        }
        self.packets = index;
        Ok(Step::Packet(RawPacket {
            index,
            ts_nanos: i64::from(sec) * 1_000_000_000 + frac_nanos,
            interface: 0,
            link_type,
            orig_len: orig_len.max(caplen),
            data,
        }))
    }

    pub(super) fn reader(&self) -> &ByteReader {
        &self.r
    }

    pub(super) fn offset(&self) -> u64 {
        self.r.offset()
    }

    /// The link type and captured bytes of the record `n` places after the read position
    /// (0: the next), when they are in hand; `None` otherwise (a look ahead never reads and
    /// never fails: the record is checked when it is read).
    pub(super) fn peek(&self, n: usize) -> Option<(LinkType, &[u8])> {
        let hlen = self.record_header_len;
        let caplen = |b: &[u8]| Some(self.endian.u32(b.get(8..12)?) as usize);
        let mut b = self.r.in_hand();
        for _ in 0..n {
            b = b.get(hlen.checked_add(caplen(b)?)?..)?;
        }
        Some((self.link_type, b.get(hlen..hlen.checked_add(caplen(b)?)?)?))
    }

    fn io(&self, source: std::io::Error) -> SourceError {
        SourceError::Io {
            path: self.path.clone(),
            source,
        }
    }
}
