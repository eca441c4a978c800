//! Decoding one captured packet: link layer (with VLAN tags), tunnels, IP and TCP/UDP/ICMP.
//!
//! Promise: never panics on any bytes. Decoding goes as far as the captured bytes allow; a
//! packet cut by snaplen is data (`truncated`), not an error. Checksums are never verified
//! here: captures taken on the sending host carry bad ones (offload), and they are no reason to
//! drop a packet. Link layers are our own small code (`link.rs`); IP and L4 use etherparse's
//! lax slicer, which was built for exactly this (truncated packets, length disagreements).

pub mod checksum;
mod ip;
mod link;
pub mod quick;
mod tunnel;

use std::net::IpAddr;

use crate::source::{LinkType, RawPacket};

pub use link::LinkInfo;
pub use tunnel::{Tunnel, TunnelKind};

/// Tunnels nested deeper than this are not opened (a loop guard against crafted packets).
const MAX_TUNNEL_DEPTH: u8 = 4;

/// What one packet says, borrowing its bytes.
#[derive(Debug, Clone, Default)]
pub struct Decoded<'a> {
    pub link: LinkInfo,
    /// The outermost tunnel this packet arrived in, when it was encapsulated.
    pub tunnel: Option<Tunnel>,
    pub ip: Option<IpLayer>,
    pub l4: L4<'a>,
    /// The capture cut this packet before the end of what was decoded.
    pub truncated: bool,
    /// Why decoding stopped early, when it did (for statistics).
    pub stop: Option<Stop>,
}

/// Why a packet could not be decoded all the way to TCP/UDP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Stop {
    /// The link type is not one lbcheck decodes.
    UnknownLinkType,
    /// A link-layer frame that carries no IP (ARP, LLDP, CDP…).
    NotIp,
    /// The capture ended inside the link or IP header.
    CutInHeader,
    /// The bytes do not form an IP packet.
    BadIp,
    /// A later IP fragment (no L4 header in it).
    Fragment,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpLayer {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// IP protocol number of the payload (after IPv6 extension headers).
    pub proto: u8,
    pub ttl: u8,
    /// Part of a fragmented datagram (any fragment).
    pub fragment: bool,
    /// IPv4 options or IPv6 extension headers were present.
    pub has_options: bool,
}

/// TCP flag bits as on the wire.
pub mod tcp_flags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
}

#[derive(Debug, Clone, Default)]
pub enum L4<'a> {
    #[default]
    None,
    Tcp(TcpSegment<'a>),
    Udp(UdpDatagram<'a>),
    /// An ICMP/ICMPv6 error quoting the packet it is about.
    IcmpError(IcmpError),
    /// Other ICMP (echo…), or another IP protocol.
    Other(u8),
}

#[derive(Debug, Clone, Copy, Default)]
pub struct TcpSegment<'a> {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub window: u16,
    /// False when the capture cut the fixed TCP header: only the ports are known. (Options
    /// may still be cut when true: `options` holds what was captured.)
    pub header_complete: bool,
    /// Captured payload (may be shorter than `wire_len`).
    pub payload: &'a [u8],
    /// Payload bytes the packet carried on the wire.
    pub wire_len: u32,
    /// Raw TCP options (kind 254 TOA and friends are read by `inspect`).
    pub options: &'a [u8],
    /// The whole TCP segment as captured (header and payload), for checksum checks.
    pub segment: &'a [u8],
}

impl TcpSegment<'_> {
    pub fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct UdpDatagram<'a> {
    pub src_port: u16,
    pub dst_port: u16,
    pub payload: &'a [u8],
    pub wire_len: u32,
}

/// The flow an ICMP error refers to, read from the header it quotes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IcmpError {
    pub v6: bool,
    pub icmp_type: u8,
    pub code: u8,
    pub quoted: Option<QuotedPacket>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotedPacket {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub proto: u8,
    pub src_port: Option<u16>,
    pub dst_port: Option<u16>,
}

/// Decodes one packet. `data` is what was captured; `raw.orig_len` tells whether it was cut.
pub fn decode<'a>(raw: &RawPacket<'a>) -> Decoded<'a> {
    let mut out = Decoded {
        truncated: raw.is_cut(),
        ..Decoded::default()
    };
    match link::strip(raw.link_type, raw.data, &mut out.link) {
        link::Next::Ip(bytes) => ip::decode_ip(bytes, &mut out, 0),
        link::Next::Stop(stop) => out.stop = Some(stop),
    }
    out
}

/// Decodes a packet that starts with an Ethernet header (used by tunnels carrying Ethernet).
fn decode_ethernet_inner<'a>(bytes: &'a [u8], out: &mut Decoded<'a>, depth: u8) {
    let mut inner_link = LinkInfo::default();
    match link::strip(LinkType::ETHERNET, bytes, &mut inner_link) {
        link::Next::Ip(ip_bytes) => ip::decode_ip(ip_bytes, out, depth),
        link::Next::Stop(stop) => out.stop = Some(stop),
    }
}
