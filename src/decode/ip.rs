//! IP and L4 through etherparse's lax slicer, with our own fallback for the cases it leaves
//! open on purpose: a TCP/UDP header cut by snaplen (we still want the ports, to count the
//! packet to its flow) and the first fragment of a fragmented datagram.

use etherparse::{LaxNetSlice, LaxSlicedPacket, TransportSlice};

use super::{
    Decoded, IcmpError, IpLayer, L4, MAX_TUNNEL_DEPTH, QuotedPacket, Stop, TcpSegment, UdpDatagram,
    tunnel,
};

pub(super) mod proto {
    pub const ICMP: u8 = 1;
    pub const TCP: u8 = 6;
    pub const UDP: u8 = 17;
    pub const ICMPV6: u8 = 58;
}

const TCP_MIN_HEADER: usize = 20;
const UDP_HEADER: usize = 8;

pub(super) fn decode_ip<'a>(bytes: &'a [u8], out: &mut Decoded<'a>, depth: u8) {
    let Ok(lax) = LaxSlicedPacket::from_ip(bytes) else {
        let min_header = if bytes.first().map(|b| b >> 4) == Some(6) {
            40
        } else {
            20
        };
        out.stop = Some(if bytes.len() < min_header {
            Stop::CutInHeader
        } else {
            Stop::BadIp
        });
        out.truncated |= bytes.len() < min_header;
        return;
    };
    let Some(payload) = lax.ip_payload() else {
        out.stop = Some(Stop::BadIp);
        return;
    };
    let (ip, declared_payload) = match &lax.net {
        Some(LaxNetSlice::Ipv4(v4)) => {
            let h = v4.header();
            let layer = IpLayer {
                src: h.source_addr().into(),
                dst: h.destination_addr().into(),
                proto: payload.ip_number.0,
                ttl: h.ttl(),
                fragment: payload.fragmented,
                has_options: !h.options().is_empty(),
            };
            let declared = u32::from(h.total_len()).saturating_sub(u32::from(h.ihl()) * 4);
            (layer, declared)
        }
        Some(LaxNetSlice::Ipv6(v6)) => {
            let h = v6.header();
            let exts = v6.extensions().slice().len() as u32;
            let layer = IpLayer {
                src: h.source_addr().into(),
                dst: h.destination_addr().into(),
                proto: payload.ip_number.0,
                ttl: h.hop_limit(),
                fragment: payload.fragmented,
                has_options: exts > 0,
            };
            (layer, u32::from(h.payload_length()).saturating_sub(exts))
        }
        _ => {
            out.stop = Some(Stop::BadIp);
            return;
        }
    };
    out.truncated |= payload.incomplete;
    out.ip = Some(ip);
    let body = payload.payload;
    // A jumbo or TSO super-frame can have an IP length of 0; trust the captured bytes then.
    let declared_payload = if declared_payload == 0 {
        body.len() as u32
    } else {
        declared_payload
    };

    if depth < MAX_TUNNEL_DEPTH && tunnel::open_ip_tunnel(ip.proto, &ip, body, out, depth) {
        return;
    }
    if payload.fragmented && !first_fragment(&lax) {
        out.stop = Some(Stop::Fragment);
        return;
    }
    out.l4 = match &lax.transport {
        Some(TransportSlice::Tcp(t)) => {
            let header_len = t.header_slice().len() as u32;
            L4::Tcp(TcpSegment {
                src_port: t.source_port(),
                dst_port: t.destination_port(),
                seq: t.sequence_number(),
                ack: t.acknowledgment_number(),
                flags: t.header_slice()[13],
                window: t.window_size(),
                header_complete: true,
                payload: t.payload(),
                wire_len: declared_payload
                    .saturating_sub(header_len)
                    .max(t.payload().len() as u32),
                options: options_of(t.header_slice()),
                segment: t.slice(),
            })
        }
        Some(TransportSlice::Udp(u)) => {
            let d = UdpDatagram {
                src_port: u.source_port(),
                dst_port: u.destination_port(),
                payload: u.payload(),
                wire_len: u32::from(u.length())
                    .saturating_sub(UDP_HEADER as u32)
                    .max(u.payload().len() as u32),
            };
            if depth < MAX_TUNNEL_DEPTH && tunnel::open_udp_tunnel(&d, &ip, out, depth) {
                return;
            }
            L4::Udp(d)
        }
        Some(TransportSlice::Icmpv4(i)) => icmp(false, i.type_u8(), i.code_u8(), i.payload()),
        Some(TransportSlice::Icmpv6(i)) => icmp(true, i.type_u8(), i.code_u8(), i.payload()),
        Some(_) => L4::Other(ip.proto),
        None => {
            let l4 = fallback_l4(ip.proto, body, declared_payload);
            if matches!(
                l4,
                L4::Tcp(TcpSegment {
                    header_complete: false,
                    ..
                })
            ) {
                out.truncated = true;
            }
            l4
        }
    };
}

fn first_fragment(lax: &LaxSlicedPacket<'_>) -> bool {
    match &lax.net {
        Some(LaxNetSlice::Ipv4(v4)) => v4.header().fragments_offset().value() == 0,
        // IPv6 fragment offsets live in an extension header; etherparse decodes no L4 for any
        // fragment, and our fallback below reads the ports of a first fragment.
        _ => true,
    }
}

/// TCP/UDP read by hand when etherparse stopped: the header is cut, or the datagram is fragmented.
fn fallback_l4(proto: u8, body: &[u8], declared: u32) -> L4<'_> {
    let ports = body.get(..4).map(|p| {
        (
            u16::from_be_bytes([p[0], p[1]]),
            u16::from_be_bytes([p[2], p[3]]),
        )
    });
    match (proto, ports) {
        (proto::TCP, Some((src_port, dst_port))) => {
            let mut seg = TcpSegment {
                src_port,
                dst_port,
                ..TcpSegment::default()
            };
            if let Some(h) = body.get(..TCP_MIN_HEADER) {
                // The fixed header is here: flags and sequence numbers are known even when the
                // capture cut the options (snaplen 60 with timestamps) or the payload.
                let header_len = ((h[12] >> 4) as usize) * 4;
                seg.seq = u32::from_be_bytes([h[4], h[5], h[6], h[7]]);
                seg.ack = u32::from_be_bytes([h[8], h[9], h[10], h[11]]);
                seg.flags = h[13];
                seg.window = u16::from_be_bytes([h[14], h[15]]);
                if header_len >= TCP_MIN_HEADER {
                    seg.header_complete = true;
                    seg.options = &body[TCP_MIN_HEADER..header_len.min(body.len())];
                    seg.payload = body.get(header_len..).unwrap_or(&[]);
                    seg.wire_len = declared
                        .saturating_sub(header_len as u32)
                        .max(seg.payload.len() as u32);
                }
            }
            L4::Tcp(seg)
        }
        (proto::UDP, Some((src_port, dst_port))) => {
            let payload = body.get(UDP_HEADER..).unwrap_or(&[]);
            let wire_len = body.get(4..6).map_or(payload.len() as u32, |l| {
                u32::from(u16::from_be_bytes([l[0], l[1]])).saturating_sub(UDP_HEADER as u32)
            });
            L4::Udp(UdpDatagram {
                src_port,
                dst_port,
                payload,
                wire_len,
            })
        }
        _ => L4::Other(proto),
    }
}

fn options_of(tcp_header: &[u8]) -> &[u8] {
    tcp_header.get(TCP_MIN_HEADER..).unwrap_or(&[])
}

/// ICMP errors (destination unreachable, time exceeded, parameter problem, redirect / packet
/// too big) quote the packet that caused them; other ICMP is just counted.
fn icmp(v6: bool, icmp_type: u8, code: u8, quoted: &[u8]) -> L4<'_> {
    let is_error = if v6 {
        (1..=4).contains(&icmp_type)
    } else {
        matches!(icmp_type, 3 | 4 | 5 | 11 | 12)
    };
    if !is_error {
        return L4::Other(if v6 { proto::ICMPV6 } else { proto::ICMP });
    }
    L4::IcmpError(IcmpError {
        v6,
        icmp_type,
        code,
        quoted: quoted_packet(quoted),
    })
}

fn quoted_packet(bytes: &[u8]) -> Option<QuotedPacket> {
    let lax = LaxSlicedPacket::from_ip(bytes).ok()?;
    let payload = lax.ip_payload()?;
    let (src, dst) = match &lax.net {
        Some(LaxNetSlice::Ipv4(v4)) => (
            v4.header().source_addr().into(),
            v4.header().destination_addr().into(),
        ),
        Some(LaxNetSlice::Ipv6(v6)) => (
            v6.header().source_addr().into(),
            v6.header().destination_addr().into(),
        ),
        _ => return None,
    };
    let proto = payload.ip_number.0;
    let ports = payload
        .payload
        .get(..4)
        .filter(|_| matches!(proto, proto::TCP | proto::UDP))
        .map(|p| {
            (
                u16::from_be_bytes([p[0], p[1]]),
                u16::from_be_bytes([p[2], p[3]]),
            )
        });
    Some(QuotedPacket {
        src,
        dst,
        proto,
        src_port: ports.map(|p| p.0),
        dst_port: ports.map(|p| p.1),
    })
}
