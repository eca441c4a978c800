//! Capture writers: classic pcap and pcapng.
//!
//! Used by the test-capture generator (`examples/make_testdata.rs`) and by `lbcheck live --write`.
//! The writers produce files that tcpdump, tshark and pcap-parser read: pcap with the magic written
//! in the chosen byte order (so a reader detects the order from it), pcapng with every block padded
//! to 32 bits, both total-length fields, and option lists closed by `opt_endofopt`.
//!
//! The writers refuse to produce a file that is invalid by construction (a record larger than its
//! snaplen, an EPB naming an interface the section does not have): such an error is
//! `io::ErrorKind::InvalidInput` and nothing is written for that packet. Corrupt files for tests
//! are made by editing the bytes afterwards.

use std::io::{self, Write};

/// Magic number of a pcap file with microsecond timestamps.
pub const PCAP_MAGIC_MICRO: u32 = 0xa1b2_c3d4;
/// Magic number of a pcap file with nanosecond timestamps.
pub const PCAP_MAGIC_NANO: u32 = 0xa1b2_3c4d;
/// pcap format version written (2.4, the only one in use).
pub const PCAP_VERSION: (u16, u16) = (2, 4);
/// Length of the pcap global header.
pub const PCAP_GLOBAL_HEADER_LEN: usize = 24;
/// Length of a pcap record header.
pub const PCAP_RECORD_HEADER_LEN: usize = 16;

/// pcapng block types.
pub mod block {
    /// Section Header Block.
    pub const SHB: u32 = 0x0A0D_0D0A;
    /// Interface Description Block.
    pub const IDB: u32 = 0x0000_0001;
    /// Simple Packet Block.
    pub const SPB: u32 = 0x0000_0003;
    /// Enhanced Packet Block.
    pub const EPB: u32 = 0x0000_0006;
}

/// Byte-order magic of a pcapng section header.
pub const PCAPNG_BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;

/// pcapng option codes written here.
pub mod option {
    /// `opt_endofopt`: closes an option list.
    pub const END_OF_OPT: u16 = 0;
    /// `shb_userappl`: application that wrote the section.
    pub const SHB_USERAPPL: u16 = 4;
    /// `if_name`.
    pub const IF_NAME: u16 = 2;
    /// `if_tsresol`: timestamp resolution, 10^-n seconds when the high bit is clear.
    pub const IF_TSRESOL: u16 = 9;
}

/// Timestamp precision of a classic pcap file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TsPrecision {
    /// Microseconds (magic `0xa1b2c3d4`).
    Micro,
    /// Nanoseconds (magic `0xa1b23c4d`).
    Nano,
}

/// Byte order of every multi-byte field the writer emits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteOrder {
    /// Little-endian, what x86 and ARM hosts write.
    Little,
    /// Big-endian.
    Big,
}

impl ByteOrder {
    fn u16(self, value: u16) -> [u8; 2] {
        match self {
            Self::Little => value.to_le_bytes(),
            Self::Big => value.to_be_bytes(),
        }
    }

    fn u32(self, value: u32) -> [u8; 4] {
        match self {
            Self::Little => value.to_le_bytes(),
            Self::Big => value.to_be_bytes(),
        }
    }
}

fn invalid_input(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}

fn check_orig_len(caplen: usize, orig_len: u32) -> io::Result<u32> {
    let caplen = u32::try_from(caplen)
        .map_err(|_| invalid_input(format!("packet of {caplen} bytes is too large")))?;
    if orig_len < caplen {
        return Err(invalid_input(format!(
            "original length {orig_len} is smaller than the {caplen} captured bytes"
        )));
    }
    Ok(caplen)
}

/// Writes a classic pcap file.
#[derive(Debug)]
pub struct PcapWriter<W: Write> {
    out: W,
    snaplen: u32,
    precision: TsPrecision,
    byte_order: ByteOrder,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the 24-byte global header.
    pub fn new(
        mut out: W,
        link_type: u32,
        snaplen: u32,
        precision: TsPrecision,
        byte_order: ByteOrder,
    ) -> io::Result<Self> {
        let magic = match precision {
            TsPrecision::Micro => PCAP_MAGIC_MICRO,
            TsPrecision::Nano => PCAP_MAGIC_NANO,
        };
        let mut header = Vec::with_capacity(PCAP_GLOBAL_HEADER_LEN);
        header.extend_from_slice(&byte_order.u32(magic));
        header.extend_from_slice(&byte_order.u16(PCAP_VERSION.0));
        header.extend_from_slice(&byte_order.u16(PCAP_VERSION.1));
        header.extend_from_slice(&byte_order.u32(0)); // thiszone: always 0 in practice
        header.extend_from_slice(&byte_order.u32(0)); // sigfigs: always 0 in practice
        header.extend_from_slice(&byte_order.u32(snaplen));
        header.extend_from_slice(&byte_order.u32(link_type));
        out.write_all(&header)?;
        Ok(Self {
            out,
            snaplen,
            precision,
            byte_order,
        })
    }

    /// Writes one record. `ts_nanos` counts nanoseconds since the Unix epoch; a microsecond file
    /// keeps whole microseconds. The captured length is `data.len()`.
    pub fn write_packet(&mut self, ts_nanos: u64, data: &[u8], orig_len: u32) -> io::Result<()> {
        let caplen = check_orig_len(data.len(), orig_len)?;
        if caplen > self.snaplen {
            return Err(invalid_input(format!(
                "{caplen} captured bytes exceed the snaplen {}",
                self.snaplen
            )));
        }
        let secs = u32::try_from(ts_nanos / 1_000_000_000).map_err(|_| {
            invalid_input(format!(
                "timestamp {ts_nanos} ns does not fit a pcap record"
            ))
        })?;
        let sub_nanos = (ts_nanos % 1_000_000_000) as u32;
        let fraction = match self.precision {
            TsPrecision::Micro => sub_nanos / 1_000,
            TsPrecision::Nano => sub_nanos,
        };
        let mut record = Vec::with_capacity(PCAP_RECORD_HEADER_LEN + data.len());
        record.extend_from_slice(&self.byte_order.u32(secs));
        record.extend_from_slice(&self.byte_order.u32(fraction));
        record.extend_from_slice(&self.byte_order.u32(caplen));
        record.extend_from_slice(&self.byte_order.u32(orig_len));
        record.extend_from_slice(data);
        self.out.write_all(&record)
    }

    /// Flushes and returns the underlying writer.
    pub fn into_inner(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Builds one pcapng block: type, total length, body padded to 32 bits, total length again.
struct BlockBuilder {
    byte_order: ByteOrder,
    block_type: u32,
    body: Vec<u8>,
}

impl BlockBuilder {
    fn new(byte_order: ByteOrder, block_type: u32) -> Self {
        Self {
            byte_order,
            block_type,
            body: Vec::new(),
        }
    }

    fn u16(&mut self, value: u16) -> &mut Self {
        self.body.extend_from_slice(&self.byte_order.u16(value));
        self
    }

    fn u32(&mut self, value: u32) -> &mut Self {
        self.body.extend_from_slice(&self.byte_order.u32(value));
        self
    }

    /// Appends bytes and zero padding up to the next 32-bit boundary.
    fn padded(&mut self, bytes: &[u8]) -> &mut Self {
        self.body.extend_from_slice(bytes);
        self.body.resize(self.body.len().next_multiple_of(4), 0);
        self
    }

    fn option(&mut self, code: u16, value: &[u8]) -> io::Result<&mut Self> {
        let len = u16::try_from(value.len())
            .map_err(|_| invalid_input(format!("option {code} value is too long")))?;
        self.u16(code).u16(len).padded(value);
        Ok(self)
    }

    fn end_of_options(&mut self) -> &mut Self {
        self.u16(option::END_OF_OPT).u16(0)
    }

    fn finish(&self) -> io::Result<Vec<u8>> {
        // type + length before the body, length after it
        let total = self.body.len() + 12;
        let total_u32 = u32::try_from(total)
            .map_err(|_| invalid_input(format!("block of {total} bytes is too large")))?;
        let mut block = Vec::with_capacity(total);
        block.extend_from_slice(&self.byte_order.u32(self.block_type));
        block.extend_from_slice(&self.byte_order.u32(total_u32));
        block.extend_from_slice(&self.body);
        block.extend_from_slice(&self.byte_order.u32(total_u32));
        Ok(block)
    }
}

/// Name written in `shb_userappl` of every section.
const USER_APPLICATION: &str = "lbcheck";

/// Writes a pcapng file: sections, interfaces, Enhanced and Simple Packet Blocks.
#[derive(Debug)]
pub struct PcapngWriter<W: Write> {
    out: W,
    byte_order: ByteOrder,
    /// Snaplen of each interface of the current section, by interface id.
    interfaces: Vec<u32>,
}

impl<W: Write> PcapngWriter<W> {
    /// Writes the first Section Header Block.
    pub fn new(out: W, byte_order: ByteOrder) -> io::Result<Self> {
        let mut writer = Self {
            out,
            byte_order,
            interfaces: Vec::new(),
        };
        writer.write_section_header()?;
        Ok(writer)
    }

    fn write_section_header(&mut self) -> io::Result<()> {
        let mut shb = BlockBuilder::new(self.byte_order, block::SHB);
        shb.u32(PCAPNG_BYTE_ORDER_MAGIC).u16(1).u16(0);
        // section length -1: not specified, the reader walks the blocks
        shb.u32(u32::MAX).u32(u32::MAX);
        shb.option(option::SHB_USERAPPL, USER_APPLICATION.as_bytes())?
            .end_of_options();
        self.out.write_all(&shb.finish()?)
    }

    /// Starts a new section (another SHB). Interface ids restart at 0.
    pub fn new_section(&mut self) -> io::Result<()> {
        self.interfaces.clear();
        self.write_section_header()
    }

    /// Writes an Interface Description Block with `if_name` (when given) and `if_tsresol`
    /// (`tsresol` is the exponent n of 10^-n seconds: 6 for microseconds, 9 for nanoseconds).
    /// Returns the interface id that EPBs use.
    pub fn add_interface(
        &mut self,
        link_type: u16,
        snaplen: u32,
        name: Option<&str>,
        tsresol: u8,
    ) -> io::Result<u32> {
        let mut idb = BlockBuilder::new(self.byte_order, block::IDB);
        idb.u16(link_type).u16(0).u32(snaplen);
        if let Some(name) = name {
            idb.option(option::IF_NAME, name.as_bytes())?;
        }
        idb.option(option::IF_TSRESOL, &[tsresol])?.end_of_options();
        self.out.write_all(&idb.finish()?)?;
        let id = self.interfaces.len() as u32;
        self.interfaces.push(snaplen);
        Ok(id)
    }

    fn snaplen_of(&self, interface: u32) -> io::Result<u32> {
        self.interfaces
            .get(interface as usize)
            .copied()
            .ok_or_else(|| {
                invalid_input(format!(
                    "interface {interface} is not defined in this section ({} defined)",
                    self.interfaces.len()
                ))
            })
    }

    fn check_snaplen(interface: u32, snaplen: u32, caplen: u32) -> io::Result<()> {
        // snaplen 0 means "no limit" in pcapng
        if snaplen != 0 && caplen > snaplen {
            return Err(invalid_input(format!(
                "{caplen} captured bytes exceed the snaplen {snaplen} of interface {interface}"
            )));
        }
        Ok(())
    }

    /// Writes an Enhanced Packet Block; `ts` counts units of the interface's `if_tsresol`.
    pub fn write_epb(
        &mut self,
        interface: u32,
        ts: u64,
        data: &[u8],
        orig_len: u32,
    ) -> io::Result<()> {
        let caplen = check_orig_len(data.len(), orig_len)?;
        Self::check_snaplen(interface, self.snaplen_of(interface)?, caplen)?;
        let mut epb = BlockBuilder::new(self.byte_order, block::EPB);
        epb.u32(interface)
            .u32((ts >> 32) as u32)
            .u32(ts as u32)
            .u32(caplen)
            .u32(orig_len)
            .padded(data);
        self.out.write_all(&epb.finish()?)
    }

    /// Writes a Simple Packet Block, which belongs to interface 0 and has no timestamp. The
    /// captured length is implied by the block length, so `data` must respect interface 0's
    /// snaplen.
    pub fn write_spb(&mut self, data: &[u8], orig_len: u32) -> io::Result<()> {
        let caplen = check_orig_len(data.len(), orig_len)?;
        Self::check_snaplen(0, self.snaplen_of(0)?, caplen)?;
        let mut spb = BlockBuilder::new(self.byte_order, block::SPB);
        spb.u32(orig_len).padded(data);
        self.out.write_all(&spb.finish()?)
    }

    /// Flushes and returns the underlying writer.
    pub fn into_inner(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pcap_little_endian_micro_header_and_record() {
        let mut writer =
            PcapWriter::new(Vec::new(), 1, 65535, TsPrecision::Micro, ByteOrder::Little).unwrap();
        writer
            .write_packet(1_700_000_000_123_456_789, &[0xAA, 0xBB, 0xCC], 60)
            .unwrap();
        let bytes = writer.into_inner().unwrap();
        let expected: Vec<u8> = [
            // global header
            &[0xd4, 0xc3, 0xb2, 0xa1][..],
            &[2, 0, 4, 0],
            &[0, 0, 0, 0],
            &[0, 0, 0, 0],
            &[0xff, 0xff, 0, 0],
            &[1, 0, 0, 0],
            // record: 1_700_000_000 s = 0x6553_F100, 123_456 us = 0x0001_E240
            &[0x00, 0xf1, 0x53, 0x65],
            &[0x40, 0xe2, 0x01, 0x00],
            &[3, 0, 0, 0],
            &[60, 0, 0, 0],
            &[0xAA, 0xBB, 0xCC],
        ]
        .concat();
        assert_eq!(bytes, expected);
    }

    #[test]
    fn pcap_big_endian_nano_keeps_nanoseconds() {
        let mut writer =
            PcapWriter::new(Vec::new(), 101, 262_144, TsPrecision::Nano, ByteOrder::Big).unwrap();
        writer
            .write_packet(1_700_000_000_123_456_789, &[0x45], 1)
            .unwrap();
        let bytes = writer.into_inner().unwrap();
        let expected: Vec<u8> = [
            &[0xa1, 0xb2, 0x3c, 0x4d][..],
            &[0, 2, 0, 4],
            &[0, 0, 0, 0],
            &[0, 0, 0, 0],
            &[0, 4, 0, 0],
            &[0, 0, 0, 101],
            &[0x65, 0x53, 0xf1, 0x00],
            // 123_456_789 ns = 0x075B_CD15
            &[0x07, 0x5b, 0xcd, 0x15],
            &[0, 0, 0, 1],
            &[0, 0, 0, 1],
            &[0x45],
        ]
        .concat();
        assert_eq!(bytes, expected);
    }

    #[test]
    fn pcap_record_longer_than_snaplen_is_refused() {
        let mut writer =
            PcapWriter::new(Vec::new(), 1, 4, TsPrecision::Micro, ByteOrder::Little).unwrap();
        let err = writer.write_packet(0, &[0; 5], 5).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        let err = writer.write_packet(0, &[0; 3], 2).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        // nothing but the global header was written
        assert_eq!(writer.into_inner().unwrap().len(), PCAP_GLOBAL_HEADER_LEN);
    }

    #[test]
    fn pcapng_little_endian_blocks_are_padded_with_both_lengths() {
        let mut writer = PcapngWriter::new(Vec::new(), ByteOrder::Little).unwrap();
        let id = writer.add_interface(1, 0, Some("eth0"), 9).unwrap();
        assert_eq!(id, 0);
        writer
            .write_epb(0, 0x0000_0001_0000_0002, &[1, 2, 3, 4, 5], 90)
            .unwrap();
        writer.write_spb(&[9, 8], 2).unwrap();
        let bytes = writer.into_inner().unwrap();
        let expected: Vec<u8> = [
            // SHB: 12 framing + 16 fixed + userappl (4 + 8) + endofopt 4 = 44
            &[0x0a, 0x0d, 0x0d, 0x0a][..],
            &[44, 0, 0, 0],
            &[0x4d, 0x3c, 0x2b, 0x1a],
            &[1, 0, 0, 0],
            &[0xff; 8],
            &[4, 0, 7, 0],
            b"lbcheck\0",
            &[0, 0, 0, 0],
            &[44, 0, 0, 0],
            // IDB: 12 + 8 fixed + if_name (4 + 4) + if_tsresol (4 + 4) + endofopt 4 = 40
            &[1, 0, 0, 0],
            &[40, 0, 0, 0],
            &[1, 0, 0, 0],
            &[0, 0, 0, 0],
            &[2, 0, 4, 0],
            b"eth0",
            &[9, 0, 1, 0],
            &[9, 0, 0, 0],
            &[0, 0, 0, 0],
            &[40, 0, 0, 0],
            // EPB: 12 + 20 fixed + 8 padded data = 40
            &[6, 0, 0, 0],
            &[40, 0, 0, 0],
            &[0, 0, 0, 0],
            &[1, 0, 0, 0],
            &[2, 0, 0, 0],
            &[5, 0, 0, 0],
            &[90, 0, 0, 0],
            &[1, 2, 3, 4, 5, 0, 0, 0],
            &[40, 0, 0, 0],
            // SPB: 12 + 4 + 4 padded data = 20
            &[3, 0, 0, 0],
            &[20, 0, 0, 0],
            &[2, 0, 0, 0],
            &[9, 8, 0, 0],
            &[20, 0, 0, 0],
        ]
        .concat();
        assert_eq!(bytes, expected);
    }

    #[test]
    fn pcapng_big_endian_writes_byte_order_magic_big_endian() {
        let writer = PcapngWriter::new(Vec::new(), ByteOrder::Big).unwrap();
        let bytes = writer.into_inner().unwrap();
        assert_eq!(&bytes[..4], &[0x0a, 0x0d, 0x0d, 0x0a]);
        assert_eq!(&bytes[4..8], &[0, 0, 0, 44]);
        assert_eq!(&bytes[8..12], &[0x1a, 0x2b, 0x3c, 0x4d]);
        assert_eq!(&bytes[12..16], &[0, 1, 0, 0]);
        assert_eq!(&bytes[40..44], &[0, 0, 0, 44]);
    }

    #[test]
    fn pcapng_new_section_restarts_interface_ids() {
        let mut writer = PcapngWriter::new(Vec::new(), ByteOrder::Little).unwrap();
        assert_eq!(writer.add_interface(1, 0, None, 6).unwrap(), 0);
        assert_eq!(writer.add_interface(113, 0, None, 6).unwrap(), 1);
        writer.write_epb(1, 0, &[0], 1).unwrap();
        writer.new_section().unwrap();
        let err = writer.write_epb(1, 0, &[0], 1).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(writer.write_spb(&[0], 1).is_err());
        assert_eq!(writer.add_interface(101, 0, None, 6).unwrap(), 0);
        writer.write_spb(&[0], 1).unwrap();
    }

    #[test]
    fn pcapng_epb_longer_than_snaplen_is_refused() {
        let mut writer = PcapngWriter::new(Vec::new(), ByteOrder::Little).unwrap();
        writer.add_interface(1, 4, None, 6).unwrap();
        assert!(writer.write_epb(0, 0, &[0; 5], 5).is_err());
        writer.write_epb(0, 0, &[0; 4], 5).unwrap();
    }
}
