//! Tunnels that cloud mirrors and gateway load balancers wrap packets in: VXLAN (traffic
//! mirroring, UDP 4789), GENEVE (AWS Gateway Load Balancer, UDP 6081), GRE and ERSPAN,
//! IP-in-IP, 6in4 and 4in6. The inner packet is what gets analysed; the outer addresses and
//! the tunnel id are kept as facts of the flow.

use std::net::IpAddr;

use super::{Decoded, IpLayer, UdpDatagram, decode_ethernet_inner, ip::decode_ip};

pub(super) mod port {
    pub const VXLAN: u16 = 4789;
    pub const GENEVE: u16 = 6081;
}

mod gre {
    pub const FLAG_CHECKSUM: u16 = 0x8000;
    pub const FLAG_KEY: u16 = 0x2000;
    pub const FLAG_SEQUENCE: u16 = 0x1000;
    pub const VERSION_MASK: u16 = 0x0007;
    pub const PROTO_IPV4: u16 = 0x0800;
    pub const PROTO_IPV6: u16 = 0x86dd;
    pub const PROTO_ETHERNET: u16 = 0x6558;
    pub const PROTO_ERSPAN_2: u16 = 0x88be;
    pub const PROTO_ERSPAN_3: u16 = 0x22eb;
    pub const ERSPAN_2_HEADER: usize = 8;
    pub const ERSPAN_3_HEADER: usize = 12;
    pub const ERSPAN_3_PLATFORM_SUBHEADER: usize = 8;
}

const VXLAN_HEADER: usize = 8;
const VXLAN_FLAG_VNI: u8 = 0x08;
const GENEVE_HEADER: usize = 8;
/// GENEVE option class AWS uses for Gateway Load Balancer metadata (endpoint id, attachment
/// id, flow cookie).
const GENEVE_CLASS_AWS: u16 = 0x0108;

mod ip_proto {
    pub const IPIP: u8 = 4;
    pub const IPV6: u8 = 41;
    pub const GRE: u8 = 47;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TunnelKind {
    Vxlan,
    Geneve,
    Gre,
    Erspan,
    IpInIp,
    SixInFour,
    FourInSix,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Tunnel {
    pub kind: TunnelKind,
    pub outer_src: IpAddr,
    pub outer_dst: IpAddr,
    /// VXLAN/GENEVE VNI, GRE key or ERSPAN session id.
    pub id: Option<u32>,
    /// GENEVE carried AWS Gateway Load Balancer options.
    pub aws_gwlb: bool,
}

fn record(
    out: &mut Decoded<'_>,
    outer: &IpLayer,
    kind: TunnelKind,
    id: Option<u32>,
    aws_gwlb: bool,
) {
    if out.tunnel.is_none() {
        out.tunnel = Some(Tunnel {
            kind,
            outer_src: outer.src,
            outer_dst: outer.dst,
            id,
            aws_gwlb,
        });
    }
}

pub(super) fn open_ip_tunnel<'a>(
    proto: u8,
    outer: &IpLayer,
    body: &'a [u8],
    out: &mut Decoded<'a>,
    depth: u8,
) -> bool {
    match proto {
        ip_proto::IPIP | ip_proto::IPV6 => {
            let outer_v4 = outer.src.is_ipv4();
            let kind = match (outer_v4, proto == ip_proto::IPIP) {
                (true, false) => TunnelKind::SixInFour,
                (false, true) => TunnelKind::FourInSix,
                _ => TunnelKind::IpInIp,
            };
            record(out, outer, kind, None, false);
            decode_ip(body, out, depth + 1);
            true
        }
        ip_proto::GRE => gre(outer, body, out, depth),
        _ => false,
    }
}

fn gre<'a>(outer: &IpLayer, body: &'a [u8], out: &mut Decoded<'a>, depth: u8) -> bool {
    let Some(h) = body.get(..4) else { return false };
    let flags = u16::from_be_bytes([h[0], h[1]]);
    if flags & gre::VERSION_MASK != 0 {
        return false; // version 1 is PPTP's enhanced GRE, not a tunnel we open
    }
    let proto = u16::from_be_bytes([h[2], h[3]]);
    let mut at = 4;
    if flags & gre::FLAG_CHECKSUM != 0 {
        at += 4;
    }
    let key = if flags & gre::FLAG_KEY != 0 {
        let k = body
            .get(at..at + 4)
            .map(|k| u32::from_be_bytes([k[0], k[1], k[2], k[3]]));
        at += 4;
        k
    } else {
        None
    };
    if flags & gre::FLAG_SEQUENCE != 0 {
        at += 4;
    }
    let Some(inner) = body.get(at..) else {
        out.truncated = true;
        return true;
    };
    match proto {
        gre::PROTO_IPV4 | gre::PROTO_IPV6 => {
            record(out, outer, TunnelKind::Gre, key, false);
            decode_ip(inner, out, depth + 1);
        }
        gre::PROTO_ETHERNET => {
            record(out, outer, TunnelKind::Gre, key, false);
            decode_ethernet_inner(inner, out, depth + 1);
        }
        gre::PROTO_ERSPAN_2 | gre::PROTO_ERSPAN_3 => {
            // ERSPAN type I has no header of its own (and no GRE sequence number).
            let header = match proto {
                gre::PROTO_ERSPAN_2 if flags & gre::FLAG_SEQUENCE == 0 => 0,
                gre::PROTO_ERSPAN_2 => gre::ERSPAN_2_HEADER,
                _ => {
                    let platform = inner.get(11).is_some_and(|b| b & 0x01 != 0);
                    gre::ERSPAN_3_HEADER
                        + if platform {
                            gre::ERSPAN_3_PLATFORM_SUBHEADER
                        } else {
                            0
                        }
                }
            };
            let session = inner
                .get(2..4)
                .filter(|_| header > 0)
                .map(|s| u32::from(u16::from_be_bytes([s[0], s[1]]) & 0x03ff));
            record(out, outer, TunnelKind::Erspan, session, false);
            match inner.get(header..) {
                Some(frame) => decode_ethernet_inner(frame, out, depth + 1),
                None => out.truncated = true,
            }
        }
        _ => return false,
    }
    true
}

pub(super) fn open_udp_tunnel<'a>(
    d: &UdpDatagram<'a>,
    outer: &IpLayer,
    out: &mut Decoded<'a>,
    depth: u8,
) -> bool {
    let p = d.payload;
    match d.dst_port {
        port::VXLAN => {
            let Some(h) = p.get(..VXLAN_HEADER) else {
                return false;
            };
            if h[0] & VXLAN_FLAG_VNI == 0 {
                return false;
            }
            let vni = u32::from_be_bytes([0, h[4], h[5], h[6]]);
            record(out, outer, TunnelKind::Vxlan, Some(vni), false);
            decode_ethernet_inner(&p[VXLAN_HEADER..], out, depth + 1);
            true
        }
        port::GENEVE => {
            let Some(h) = p.get(..GENEVE_HEADER) else {
                return false;
            };
            if h[0] >> 6 != 0 {
                return false; // only GENEVE version 0 exists
            }
            let options_len = usize::from(h[0] & 0x3f) * 4;
            let proto = u16::from_be_bytes([h[2], h[3]]);
            let vni = u32::from_be_bytes([0, h[4], h[5], h[6]]);
            let Some(options) = p.get(GENEVE_HEADER..GENEVE_HEADER + options_len) else {
                out.truncated = true;
                return true;
            };
            record(
                out,
                outer,
                TunnelKind::Geneve,
                Some(vni),
                has_aws_option(options),
            );
            let inner = &p[GENEVE_HEADER + options_len..];
            match proto {
                gre::PROTO_ETHERNET => decode_ethernet_inner(inner, out, depth + 1),
                gre::PROTO_IPV4 | gre::PROTO_IPV6 => decode_ip(inner, out, depth + 1),
                _ => {}
            }
            true
        }
        _ => false,
    }
}

/// Walks GENEVE options (class 2 bytes, type 1, length in 4-byte words in the low 5 bits).
fn has_aws_option(mut options: &[u8]) -> bool {
    while let Some(h) = options.get(..4) {
        if u16::from_be_bytes([h[0], h[1]]) == GENEVE_CLASS_AWS {
            return true;
        }
        let len = 4 + usize::from(h[3] & 0x1f) * 4;
        options = options.get(len..).unwrap_or(&[]);
    }
    false
}
