//! Link-layer headers: Ethernet (802.1Q / 802.1ad / QinQ tags), Linux cooked v1 and v2, raw IP,
//! BSD loopback. Small enough to own; it lets one code path keep VLAN ids, the SLL2 interface
//! index and the MAC addresses (the next hop, which the return-path checks compare).

use super::Stop;
use crate::source::LinkType;

mod ethertype {
    pub const IPV4: u16 = 0x0800;
    pub const IPV6: u16 = 0x86dd;
    pub const VLAN: u16 = 0x8100;
    pub const QINQ: u16 = 0x88a8;
    pub const QINQ_OLD: u16 = 0x9100;
}

const ETHERNET_HEADER_LEN: usize = 14;
const VLAN_TAG_LEN: usize = 4;
const SLL_HEADER_LEN: usize = 16;
const SLL2_HEADER_LEN: usize = 20;
const NULL_HEADER_LEN: usize = 4;
/// At most this many stacked VLAN tags are kept.
pub const MAX_VLANS: usize = 4;

/// BSD `AF_INET` and the several values different BSDs use for `AF_INET6`.
const AF_INET: u32 = 2;
const AF_INET6: [u32; 3] = [24, 28, 30];

/// Link-layer facts kept for the flow table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkInfo {
    pub vlans: [u16; MAX_VLANS],
    pub vlan_count: u8,
    pub src_mac: Option<[u8; 6]>,
    pub dst_mac: Option<[u8; 6]>,
    /// LINUX_SLL2 interface index (the `-i any` capture's real interface).
    pub ifindex: Option<u32>,
    /// LINUX_SLL/SLL2 packet type: 0 to us, 1 broadcast, 2 multicast, 3 to someone else, 4 outgoing.
    pub sll_packet_type: Option<u8>,
}

impl LinkInfo {
    pub fn vlan_ids(&self) -> &[u16] {
        &self.vlans[..self.vlan_count as usize]
    }
}

pub(super) enum Next<'a> {
    /// The bytes of an IP packet (either version; the first nibble tells).
    Ip(&'a [u8]),
    Stop(Stop),
}

pub(super) fn strip<'a>(link: LinkType, data: &'a [u8], info: &mut LinkInfo) -> Next<'a> {
    match link {
        LinkType::ETHERNET => ethernet(data, info),
        LinkType::LINUX_SLL => {
            let Some(h) = data.get(..SLL_HEADER_LEN) else {
                return Next::Stop(Stop::CutInHeader);
            };
            info.sll_packet_type = Some(h[1]);
            if h[4..6] == [0, 6] {
                info.src_mac = Some([h[6], h[7], h[8], h[9], h[10], h[11]]);
            }
            after_ethertype(
                u16::from_be_bytes([h[14], h[15]]),
                &data[SLL_HEADER_LEN..],
                info,
            )
        }
        LinkType::LINUX_SLL2 => {
            let Some(h) = data.get(..SLL2_HEADER_LEN) else {
                return Next::Stop(Stop::CutInHeader);
            };
            info.ifindex = Some(u32::from_be_bytes([h[4], h[5], h[6], h[7]]));
            info.sll_packet_type = Some(h[10]);
            if h[11] == 6 {
                info.src_mac = Some([h[12], h[13], h[14], h[15], h[16], h[17]]);
            }
            after_ethertype(
                u16::from_be_bytes([h[0], h[1]]),
                &data[SLL2_HEADER_LEN..],
                info,
            )
        }
        LinkType::RAW | LinkType::RAW_12 | LinkType::RAW_14 | LinkType::IPV4 | LinkType::IPV6 => {
            raw_ip(data)
        }
        LinkType::NULL | LinkType::LOOP => {
            let Some(h) = data.get(..NULL_HEADER_LEN) else {
                return Next::Stop(Stop::CutInHeader);
            };
            let bytes = [h[0], h[1], h[2], h[3]];
            // NULL stores the family in the capturing host's byte order, LOOP in network order:
            // accept either reading.
            let family = [u32::from_le_bytes(bytes), u32::from_be_bytes(bytes)];
            if family.iter().any(|f| *f == AF_INET || AF_INET6.contains(f)) {
                raw_ip(&data[NULL_HEADER_LEN..])
            } else {
                Next::Stop(Stop::NotIp)
            }
        }
        _ => Next::Stop(Stop::UnknownLinkType),
    }
}

fn ethernet<'a>(data: &'a [u8], info: &mut LinkInfo) -> Next<'a> {
    let Some(h) = data.get(..ETHERNET_HEADER_LEN) else {
        return Next::Stop(Stop::CutInHeader);
    };
    info.dst_mac = Some([h[0], h[1], h[2], h[3], h[4], h[5]]);
    info.src_mac = Some([h[6], h[7], h[8], h[9], h[10], h[11]]);
    after_ethertype(
        u16::from_be_bytes([h[12], h[13]]),
        &data[ETHERNET_HEADER_LEN..],
        info,
    )
}

/// Follows VLAN tags, then hands out the IP packet.
fn after_ethertype<'a>(mut ethertype: u16, mut rest: &'a [u8], info: &mut LinkInfo) -> Next<'a> {
    while matches!(
        ethertype,
        ethertype::VLAN | ethertype::QINQ | ethertype::QINQ_OLD
    ) {
        let Some(tag) = rest.get(..VLAN_TAG_LEN) else {
            return Next::Stop(Stop::CutInHeader);
        };
        if (info.vlan_count as usize) < MAX_VLANS {
            info.vlans[info.vlan_count as usize] = u16::from_be_bytes([tag[0], tag[1]]) & 0x0fff;
            info.vlan_count += 1;
        }
        ethertype = u16::from_be_bytes([tag[2], tag[3]]);
        rest = &rest[VLAN_TAG_LEN..];
    }
    match ethertype {
        ethertype::IPV4 | ethertype::IPV6 => raw_ip(rest),
        _ => Next::Stop(Stop::NotIp),
    }
}

fn raw_ip(data: &[u8]) -> Next<'_> {
    match data.first().map(|b| b >> 4) {
        Some(4 | 6) => Next::Ip(data),
        Some(_) => Next::Stop(Stop::BadIp),
        None => Next::Stop(Stop::CutInHeader),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qinq_tags_are_kept_in_order() {
        let mut frame = vec![0u8; 12];
        frame.extend_from_slice(&[
            0x88, 0xa8, 0x00, 0xc8, 0x81, 0x00, 0x01, 0x2c, 0x08, 0x00, 0x45,
        ]);
        let mut info = LinkInfo::default();
        assert!(matches!(strip(LinkType::ETHERNET, &frame, &mut info), Next::Ip(b) if b == [0x45]));
        assert_eq!(info.vlan_ids(), &[200, 300]);
    }

    #[test]
    fn sll2_keeps_interface_index() {
        let mut frame = vec![
            0x08, 0x00, 0, 0, 0, 0, 0, 3, 0, 1, 4, 6, 1, 2, 3, 4, 5, 6, 0, 0,
        ];
        frame.push(0x45);
        let mut info = LinkInfo::default();
        assert!(matches!(
            strip(LinkType::LINUX_SLL2, &frame, &mut info),
            Next::Ip(_)
        ));
        assert_eq!(info.ifindex, Some(3));
        assert_eq!(info.sll_packet_type, Some(4));
    }

    #[test]
    fn null_family_in_either_byte_order() {
        for header in [[2, 0, 0, 0], [0, 0, 0, 2], [30, 0, 0, 0], [0, 0, 0, 24]] {
            let mut frame = header.to_vec();
            frame.push(0x60);
            assert!(matches!(
                strip(LinkType::NULL, &frame, &mut LinkInfo::default()),
                Next::Ip(_)
            ));
        }
        assert!(matches!(
            strip(
                LinkType::NULL,
                &[7, 0, 0, 0, 0x45],
                &mut LinkInfo::default()
            ),
            Next::Stop(Stop::NotIp)
        ));
    }

    #[test]
    fn cut_ethernet_header_is_a_stop_not_a_panic() {
        for n in 0..ETHERNET_HEADER_LEN {
            assert!(matches!(
                strip(
                    LinkType::ETHERNET,
                    &[0u8; 20][..n],
                    &mut LinkInfo::default()
                ),
                Next::Stop(Stop::CutInHeader)
            ));
        }
    }
}
