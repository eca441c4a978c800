//! The addresses and ports of a plain TCP/UDP packet, found without decoding it: what a thread
//! needs to tell whether a packet is of one of its flows (see `analyze.rs`). Each analysis
//! thread looks at every packet of the file but decodes only its own, so this runs for every
//! packet on every thread and must be cheap; etherparse's slicer does far more (all headers,
//! options, extension chains) than this question needs.
//!
//! Anything out of the ordinary — fragments, tunnels, ICMP, IPv6 extension headers, headers cut
//! by snaplen or lengths that do not add up — answers `None`, and the caller decodes the packet
//! in full. Where it answers, it must agree with the full decoder on the packet's flow; debug
//! builds check that on every packet (the tests run them over every capture we have).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::LinkInfo;
use super::ip::proto;
use super::link::{self, Next};
use super::tunnel::port;
use crate::source::RawPacket;

/// Source and destination (address, port) of a packet.
pub type Endpoints = ((IpAddr, u16), (IpAddr, u16));

const TCP_MIN_HEADER: usize = 20;
const UDP_HEADER: usize = 8;

pub fn endpoints(raw: &RawPacket<'_>) -> Option<Endpoints> {
    let mut info = LinkInfo::default();
    let Next::Ip(ip) = link::strip(raw.link_type, raw.data, &mut info) else {
        return None;
    };
    match ip.first()? >> 4 {
        4 => ipv4(ip),
        6 => ipv6(ip),
        _ => None,
    }
}

fn ipv4(b: &[u8]) -> Option<Endpoints> {
    let header = usize::from(b.first()? & 0x0f) * 4;
    if header < 20 || b.len() < header {
        return None;
    }
    let total = usize::from(u16::from_be_bytes([b[2], b[3]]));
    // More fragments, or a fragment offset: the full decoder knows fragments.
    if u16::from_be_bytes([b[6], b[7]]) & 0x3fff != 0 {
        return None;
    }
    let src = Ipv4Addr::new(b[12], b[13], b[14], b[15]);
    let dst = Ipv4Addr::new(b[16], b[17], b[18], b[19]);
    let l4 = transport(b[9], &b[header..], total.checked_sub(header)?)?;
    Some(((src.into(), l4.0), (dst.into(), l4.1)))
}

fn ipv6(b: &[u8]) -> Option<Endpoints> {
    let h = b.get(..40)?;
    let payload = usize::from(u16::from_be_bytes([h[4], h[5]]));
    let octets = |at: usize| {
        let mut a = [0u8; 16];
        a.copy_from_slice(&h[at..at + 16]);
        Ipv6Addr::from(a)
    };
    let l4 = transport(h[6], &b[40..], payload)?;
    Some(((octets(8).into(), l4.0), (octets(24).into(), l4.1)))
}

/// The ports, when the IP payload is plainly a whole TCP or UDP header that is no tunnel.
fn transport(next: u8, body: &[u8], declared: usize) -> Option<(u16, u16)> {
    let min = match next {
        proto::TCP => TCP_MIN_HEADER,
        proto::UDP => UDP_HEADER,
        _ => return None,
    };
    if body.len() < min || declared < min {
        return None;
    }
    let ports = (
        u16::from_be_bytes([body[0], body[1]]),
        u16::from_be_bytes([body[2], body[3]]),
    );
    if next == proto::TCP {
        let header = usize::from(body[12] >> 4) * 4;
        if header < TCP_MIN_HEADER || header > body.len().min(declared) {
            return None;
        }
    } else if matches!(ports.1, port::VXLAN | port::GENEVE)
        || matches!(ports.0, port::VXLAN | port::GENEVE)
    {
        return None;
    }
    Some(ports)
}
