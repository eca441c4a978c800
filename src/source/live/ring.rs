//! Reading a TPACKET_V3 block handed over by the kernel (linux/if_packet.h), in safe code over
//! the block's bytes. Every offset the kernel wrote is checked against the block before use: a
//! bad one ends the block, it never panics.

use super::sys::RecvMeta;

/// `struct tpacket_block_desc` → `tpacket_hdr_v1` fields.
mod block {
    pub const NUM_PKTS: usize = 12;
    pub const OFFSET_TO_FIRST_PKT: usize = 16;
}

/// `struct tpacket3_hdr` fields, and where the `sockaddr_ll` follows it
/// (`TPACKET_ALIGN(sizeof(struct tpacket3_hdr))`).
mod pkt {
    pub const NEXT_OFFSET: usize = 0;
    pub const SEC: usize = 4;
    pub const NSEC: usize = 8;
    pub const SNAPLEN: usize = 12;
    pub const LEN: usize = 16;
    pub const STATUS: usize = 20;
    pub const MAC: usize = 24;
    pub const NET: usize = 26;
    pub const VLAN_TCI: usize = 32;
    pub const VLAN_TPID: usize = 36;
    pub const SOCKADDR_LL: usize = 48;
}

/// `struct sockaddr_ll` fields.
mod sll {
    pub const PROTOCOL: usize = 2;
    pub const IFINDEX: usize = 4;
    pub const HATYPE: usize = 8;
    pub const PKTTYPE: usize = 10;
    pub const HALEN: usize = 11;
    pub const ADDR: usize = 12;
    pub const LEN: usize = 20;
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Where the packets of a block start and how many there are.
pub fn first_packet(block: &[u8]) -> Option<(usize, u32)> {
    let n = u32_at(block, block::NUM_PKTS)?;
    let first = u32_at(block, block::OFFSET_TO_FIRST_PKT)? as usize;
    Some((first, n))
}

/// One packet of a block at `at`: its metadata, its bytes, and the offset of the next packet.
pub fn packet_at(block: &[u8], at: usize, cooked: bool) -> Option<(RecvMeta, &[u8], usize)> {
    let h = block.get(at..)?;
    let sa = h.get(pkt::SOCKADDR_LL..pkt::SOCKADDR_LL + sll::LEN)?;
    let snaplen = u32_at(h, pkt::SNAPLEN)? as usize;
    // SOCK_DGRAM data starts at the network header; SOCK_RAW at the link header.
    let data_at = usize::from(u16_at(h, if cooked { pkt::NET } else { pkt::MAC })?);
    let data = h.get(data_at..data_at.checked_add(snaplen)?)?;
    let sec = i64::from(u32_at(h, pkt::SEC)?);
    let nsec = i64::from(u32_at(h, pkt::NSEC)?);
    let mut addr = [0u8; 8];
    addr.copy_from_slice(&sa[sll::ADDR..sll::ADDR + 8]);
    let meta = RecvMeta {
        caplen: snaplen,
        orig_len: u32_at(h, pkt::LEN)?,
        ts_nanos: Some(sec * 1_000_000_000 + nsec),
        ifindex: i32::from_ne_bytes(sa[sll::IFINDEX..sll::IFINDEX + 4].try_into().ok()?),
        hatype: u16::from_ne_bytes([sa[sll::HATYPE], sa[sll::HATYPE + 1]]),
        pkttype: sa[sll::PKTTYPE],
        protocol: u16::from_be_bytes([sa[sll::PROTOCOL], sa[sll::PROTOCOL + 1]]),
        halen: sa[sll::HALEN].min(8),
        addr,
        status: u32_at(h, pkt::STATUS)?,
        vlan_tci: u32_at(h, pkt::VLAN_TCI)? as u16,
        vlan_tpid: u16_at(h, pkt::VLAN_TPID)?,
    };
    let next = u32_at(h, pkt::NEXT_OFFSET)? as usize;
    Some((meta, data, at + next))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A block with one packet, laid out as the kernel does.
    fn block_with(data: &[u8], cooked: bool) -> Vec<u8> {
        let first = 48usize;
        let mut b = vec![0u8; 4096];
        b[block::NUM_PKTS..block::NUM_PKTS + 4].copy_from_slice(&1u32.to_ne_bytes());
        b[block::OFFSET_TO_FIRST_PKT..block::OFFSET_TO_FIRST_PKT + 4]
            .copy_from_slice(&(first as u32).to_ne_bytes());
        let h = &mut b[first..];
        h[pkt::SEC..pkt::SEC + 4].copy_from_slice(&1_700_000_000u32.to_ne_bytes());
        h[pkt::NSEC..pkt::NSEC + 4].copy_from_slice(&5u32.to_ne_bytes());
        h[pkt::SNAPLEN..pkt::SNAPLEN + 4].copy_from_slice(&(data.len() as u32).to_ne_bytes());
        h[pkt::LEN..pkt::LEN + 4].copy_from_slice(&1500u32.to_ne_bytes());
        let data_at: u16 = 80;
        let field = if cooked { pkt::NET } else { pkt::MAC };
        h[field..field + 2].copy_from_slice(&data_at.to_ne_bytes());
        h[pkt::VLAN_TCI..pkt::VLAN_TCI + 4].copy_from_slice(&10u32.to_ne_bytes());
        let sa = pkt::SOCKADDR_LL;
        h[sa + sll::PROTOCOL..sa + sll::PROTOCOL + 2].copy_from_slice(&0x0800u16.to_be_bytes());
        h[sa + sll::IFINDEX..sa + sll::IFINDEX + 4].copy_from_slice(&7i32.to_ne_bytes());
        h[sa + sll::PKTTYPE] = 4;
        h[sa + sll::HALEN] = 6;
        h[data_at as usize..data_at as usize + data.len()].copy_from_slice(data);
        b
    }

    #[test]
    fn packet_fields_and_bytes_come_from_their_offsets() {
        let b = block_with(b"frame bytes", false);
        let (first, n) = first_packet(&b).unwrap();
        assert_eq!((first, n), (48, 1));
        let (meta, data, _) = packet_at(&b, first, false).unwrap();
        assert_eq!(data, b"frame bytes");
        assert_eq!(meta.orig_len, 1500);
        assert_eq!(meta.ts_nanos, Some(1_700_000_000_000_000_005));
        assert_eq!((meta.ifindex, meta.pkttype, meta.halen), (7, 4, 6));
        assert_eq!(meta.protocol, 0x0800);
        assert_eq!(meta.vlan_tci, 10);
    }

    #[test]
    fn offsets_past_the_block_end_the_block_instead_of_panicking() {
        let mut b = block_with(b"x", true);
        let snap = 48 + pkt::SNAPLEN;
        b[snap..snap + 4].copy_from_slice(&u32::MAX.to_ne_bytes());
        assert!(packet_at(&b, 48, true).is_none());
        assert!(packet_at(&b, 4090, true).is_none());
        assert!(packet_at(&b, usize::MAX - 1, true).is_none());
    }
}
