//! IP and L4 through etherparse's lax slicer, with our own fallback for the cases it leaves
//! open on purpose: a TCP/UDP header cut by snaplen (we still want the ports, to count the
//! packet to its flow) and the first fragment of a fragmented datagram.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

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
    if let Some((ip, l4)) = plain_tcp(bytes) {
        out.ip = Some(ip);
        out.l4 = l4;
        return;
    }
    decode_ip_sliced(bytes, out, depth);
}

/// The common packet read by hand: IPv4 without options or IPv6 without extension headers,
/// not a fragment, carrying a whole TCP header, all of it captured (`None` for anything
/// else). etherparse's lax slicer made ~500 instructions of every packet (it slices each
/// layer into its own structs and checks what we then read again); this is the same reading
/// in a few dozen. The tests compare the two on generated, cut and mutated packets.
fn plain_tcp(bytes: &[u8]) -> Option<(IpLayer, L4<'_>)> {
    let (ip, body, declared) = match bytes.first()? {
        0x45 => {
            let h = bytes.get(..20)?;
            let total = usize::from(u16::from_be_bytes([h[2], h[3]]));
            // Not a fragment: more-fragments clear and offset zero (don't-fragment may be set).
            let fragment = h[6] & 0x3f != 0 || h[7] != 0;
            if fragment || h[9] != proto::TCP || total < 20 || total > bytes.len() {
                return None;
            }
            let ip = IpLayer {
                src: Ipv4Addr::new(h[12], h[13], h[14], h[15]).into(),
                dst: Ipv4Addr::new(h[16], h[17], h[18], h[19]).into(),
                proto: proto::TCP,
                ttl: h[8],
                fragment: false,
                has_options: false,
            };
            (ip, &bytes[20..total], total - 20)
        }
        v if v >> 4 == 6 => {
            let h = bytes.get(..40)?;
            let len = usize::from(u16::from_be_bytes([h[4], h[5]]));
            // Length zero (a jumbogram, or TSO) leaves no room for the TCP header below: the
            // sliced path decides.
            if h[6] != proto::TCP || 40 + len > bytes.len() {
                return None;
            }
            let addr = |at: usize| -> IpAddr {
                let octets: [u8; 16] = h[at..at + 16].try_into().expect("16 bytes");
                Ipv6Addr::from(octets).into()
            };
            let ip = IpLayer {
                src: addr(8),
                dst: addr(24),
                proto: proto::TCP,
                ttl: h[7],
                fragment: false,
                has_options: false,
            };
            (ip, &bytes[40..40 + len], len)
        }
        _ => return None,
    };
    let t = body.get(..TCP_MIN_HEADER)?;
    let header_len = usize::from(t[12] >> 4) * 4;
    if header_len < TCP_MIN_HEADER || header_len > body.len() {
        return None;
    }
    let payload = &body[header_len..];
    let segment = TcpSegment {
        header_complete: true,
        payload,
        wire_len: (declared as u32)
            .saturating_sub(header_len as u32)
            .max(payload.len() as u32),
        options: &body[TCP_MIN_HEADER..header_len],
        segment: body,
        ..fixed_tcp_header(t)
    };
    Some((ip, L4::Tcp(segment)))
}

/// Ports, sequence numbers, flags and window from the 20-byte fixed TCP header; the rest as
/// if nothing more were known (header incomplete, no payload).
fn fixed_tcp_header(h: &[u8]) -> TcpSegment<'static> {
    let be16 = |at: usize| u16::from_be_bytes([h[at], h[at + 1]]);
    let be32 = |at: usize| u32::from_be_bytes([h[at], h[at + 1], h[at + 2], h[at + 3]]);
    TcpSegment {
        src_port: be16(0),
        dst_port: be16(2),
        seq: be32(4),
        ack: be32(8),
        flags: h[13],
        window: be16(14),
        ..TcpSegment::default()
    }
}

/// Any IP packet, through etherparse's lax slicer.
fn decode_ip_sliced<'a>(bytes: &'a [u8], out: &mut Decoded<'a>, depth: u8) {
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
                seg = fixed_tcp_header(h);
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Both readings of `bytes`, as Debug text (every field of the decoded packet).
    fn both(bytes: &[u8]) -> (String, String, bool) {
        let mut fast = Decoded::default();
        decode_ip(bytes, &mut fast, 0);
        let mut sliced = Decoded::default();
        decode_ip_sliced(bytes, &mut sliced, 0);
        (
            format!("{fast:?}"),
            format!("{sliced:?}"),
            plain_tcp(bytes).is_some(),
        )
    }

    fn tcp_header(header_len: usize, flags: u8) -> Vec<u8> {
        let mut t = vec![0u8; header_len];
        t[..4].copy_from_slice(&[0xc3, 0x50, 0x01, 0xbb]);
        t[4..8].copy_from_slice(&0x1234_5678u32.to_be_bytes());
        t[8..12].copy_from_slice(&0x9abc_def0u32.to_be_bytes());
        t[12] = u8::try_from(header_len / 4).unwrap() << 4;
        t[13] = flags;
        t[14..16].copy_from_slice(&[0xfa, 0xf0]);
        for (i, b) in t[20..].iter_mut().enumerate() {
            *b = u8::try_from(i % 7).unwrap() + 1;
        }
        t
    }

    fn ipv4(l4: &[u8], proto: u8, total_extra: i32, frag: [u8; 2]) -> Vec<u8> {
        let total = i32::try_from(20 + l4.len()).unwrap() + total_extra;
        let mut p = vec![0x45, 0, 0, 0, 0x12, 0x34, frag[0], frag[1], 63, proto, 0, 0];
        p[2..4].copy_from_slice(&u16::try_from(total.max(0)).unwrap().to_be_bytes());
        p.extend_from_slice(&[192, 0, 2, 10, 203, 0, 113, 200]);
        p.extend_from_slice(l4);
        p
    }

    fn ipv6(l4: &[u8], next: u8, len_extra: i32) -> Vec<u8> {
        let len = i32::try_from(l4.len()).unwrap() + len_extra;
        let mut p = vec![0x60, 0x01, 0x23, 0x45];
        p.extend_from_slice(&u16::try_from(len.max(0)).unwrap().to_be_bytes());
        p.extend_from_slice(&[next, 64]);
        p.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        p.extend_from_slice(&[0x80, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        p.extend_from_slice(l4);
        p
    }

    /// Packets around every edge the hand reading checks: header and option lengths, payload,
    /// padding after the IP length, lengths too short or longer than the capture, fragments,
    /// other protocols, IPv4 options, IPv6 extension headers and jumbograms.
    fn packets() -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for header_len in [20, 24, 32, 40, 60] {
            for payload in [0usize, 1, 5, 100] {
                let mut l4 = tcp_header(header_len, 0x18);
                l4.extend((0..payload).map(|i| u8::try_from(i % 251).unwrap()));
                for extra in [0, -1, 1, -4, 6, -i32::try_from(l4.len()).unwrap()] {
                    for frag in [
                        [0, 0],
                        [0x40, 0],
                        [0x20, 0],
                        [0, 8],
                        [0x80, 0],
                        [0x1f, 0xff],
                    ] {
                        out.push(ipv4(&l4, proto::TCP, extra, frag));
                    }
                    out.push(ipv6(&l4, proto::TCP, extra));
                    // Ethernet padding after the datagram.
                    let mut padded = ipv4(&l4, proto::TCP, extra, [0x40, 0]);
                    padded.extend_from_slice(&[0; 6]);
                    out.push(padded);
                    let mut padded = ipv6(&l4, proto::TCP, extra);
                    padded.extend_from_slice(&[0; 6]);
                    out.push(padded);
                }
                out.push(ipv4(&l4, proto::UDP, 0, [0, 0]));
                out.push(ipv6(&l4, proto::UDP, 0));
                // Hop-by-hop options before TCP.
                let mut hbh = vec![proto::TCP, 0, 1, 4, 0, 0, 0, 0];
                hbh.extend_from_slice(&l4);
                out.push(ipv6(&hbh, 0, 0));
                // IPv4 with options (IHL 6).
                let mut opt = ipv4(&l4, proto::TCP, 4, [0, 0]);
                opt[0] = 0x46;
                opt.splice(20..20, [1, 1, 1, 0]);
                out.push(opt);
            }
        }
        // A data offset below 5 and one past the end.
        for off in [0u8, 0x40, 0xf0] {
            let mut l4 = tcp_header(20, 0x02);
            l4[12] = off;
            out.push(ipv4(&l4, proto::TCP, 0, [0, 0]));
            out.push(ipv6(&l4, proto::TCP, 0));
        }
        out
    }

    #[test]
    fn the_hand_reading_gives_what_etherparse_gives() {
        let mut taken = 0;
        let all = packets();
        for p in &all {
            // Every cut of the packet, as a snaplen would make.
            for cut in 0..=p.len() {
                let (fast, sliced, hand) = both(&p[..cut]);
                assert_eq!(fast, sliced, "{:02x?}", &p[..cut]);
                taken += usize::from(hand);
            }
        }
        // Most complete TCP packets take the hand path (else this compares nothing).
        assert!(taken > all.len(), "{taken} of {} packets", all.len());
    }

    #[test]
    fn mutated_headers_read_the_same_both_ways() {
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        for p in packets() {
            for _ in 0..40 {
                let mut m = p.clone();
                // Flip a byte of the IP or TCP header (the first 80 bytes).
                let at = usize::try_from(next() % 80).unwrap() % m.len();
                m[at] ^= u8::try_from(next() % 255 + 1).unwrap();
                let (fast, sliced, _) = both(&m);
                assert_eq!(fast, sliced, "{m:02x?}");
            }
        }
    }
}
