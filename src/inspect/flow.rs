//! Inspection of one flow: runs the first-bytes parsers over each direction (or each kept UDP
//! datagram) and gathers what they say. Judging what it means is the job of `checks`.

use std::borrow::Cow;
use std::num::NonZeroU64;

use serde::Serialize;

use super::http::{self, HttpRequest, HttpResponse};
use super::payload::{self, PayloadKind};
use super::proxy::{self, ProxyHeader};
use super::spp::{self, SppHeader};
use super::tls::{self, ClientHello, TlsParse};
use super::toa::{self, Toa};
pub use crate::flow::stream::SegmentEnds;
use crate::flow::{Flow, Inspected, Proto, Stream, StreamEnd, TO_CLIENT, TO_SERVER};
use crate::summary::packet_number;

/// Tens of thousands are kept at once: the large parts that most flows lack are boxed, so that
/// an absent one costs a pointer (serde writes a `Box<T>` as the `T`).
#[derive(Debug, Clone, Serialize)]
pub struct FlowInspection {
    /// The PROXY header at the start of the client's bytes (or of its first datagram).
    pub proxy: Option<Box<ProxyHeader>>,
    /// Whether a PROXY header could be looked for, and what was found.
    pub proxy_seen: ProxySeen,
    /// Segments the PROXY header spanned, when more than one (a v2 receiver must reject it).
    pub proxy_segments: Option<u32>,
    /// UDP: how many of the kept datagrams carried a PROXY header.
    pub proxy_datagrams: Option<DatagramCount>,
    pub first_bytes: FirstBytesPair,
    pub http: Option<HttpFacts>,
    pub tls: Option<Box<ClientHello>>,
    /// TCP option 254 (TOA) on a handshake packet.
    pub toa: Option<Box<ToaSeen>>,
    /// Cloudflare Simple Proxy Protocol in front of the first datagram.
    pub spp: Option<Box<SppHeader>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProxySeen {
    /// A PROXY header (see `proxy` for its status).
    Present,
    /// The first bytes are something else.
    Absent,
    /// Bytes were sent, but the capture kept none of them (snaplen): nothing can be said.
    NotCaptured,
    /// The client sent no payload at all.
    NoPayload,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct DatagramCount {
    pub inspected: usize,
    pub with_header: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct FirstBytesPair {
    pub to_server: DirectionBytes,
    pub to_client: DirectionBytes,
}

/// What the capture holds of a direction's first bytes, and what they are.
#[derive(Debug, Clone, Serialize)]
pub struct DirectionBytes {
    /// Contiguous bytes captured from the start of the direction (capped).
    pub captured: usize,
    /// Payload bytes the direction carried on the wire.
    pub wire_bytes: u64,
    pub end: StreamEnd,
    /// Where the first segments ended.
    pub segment_ends: SegmentEnds,
    /// Packet number of the first segment (or datagram) carrying payload.
    pub first_data_packet: Option<NonZeroU64>,
    /// What the bytes are (after a PROXY header, if any).
    pub kind: PayloadKind,
    /// One escaped line describing them.
    pub summary: Cow<'static, str>,
}

/// Summaries that tens of thousands of flows share: borrowed, not allocated once per flow.
const COMMON_SUMMARIES: &[&str] = &[
    "no payload",
    "HTTP/1.1 200 OK",
    "HTTP/1.1 204 No Content",
    "HTTP/1.1 301 Moved Permanently",
    "HTTP/1.1 302 Found",
    "HTTP/1.1 304 Not Modified",
    "HTTP/1.1 404 Not Found",
    "HTTP/1.0 200 OK",
    "TLS handshake record (cut)",
];

/// Keeps the first [`http::LISTED_MESSAGES`] of `messages`; returns how many went.
fn not_listed<T>(messages: &mut Vec<T>) -> u32 {
    let past = messages.len().saturating_sub(http::LISTED_MESSAGES);
    messages.truncate(http::LISTED_MESSAGES);
    past as u32
}

fn summary(text: String) -> Cow<'static, str> {
    match COMMON_SUMMARIES.iter().find(|c| **c == text) {
        Some(c) => Cow::Borrowed(c),
        None => Cow::Owned(text),
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct HttpFacts {
    /// The first [`http::LISTED_MESSAGES`] of them.
    pub requests: Box<[HttpRequest]>,
    pub responses: Box<[HttpResponse]>,
    /// Messages parsed past those listed.
    pub requests_not_listed: u32,
    pub responses_not_listed: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct ToaSeen {
    pub packet: u64,
    #[serde(flatten)]
    pub toa: Toa,
}

/// The flow's inspection. A TCP flow whose first bytes were inspected when they settled
/// and then dropped (see `FlowTable::seal_settled`) gives that inspection up here.
pub fn inspect_flow(f: &mut Flow) -> FlowInspection {
    match f.proto {
        Proto::Tcp => {
            let bytes = if let Some(seen) = f.inspected.take() {
                *seen
                    .downcast::<TcpBytes>()
                    .expect("a TCP flow keeps what `inspect_settled` made")
            } else {
                debug_assert!(!f.streams[TO_SERVER].is_sealed(), "sealed, not inspected");
                tcp_bytes(&f.streams)
            };
            inspect_tcp(f, bytes)
        }
        Proto::Udp => inspect_udp(f),
    }
}

/// What the summary will read of a closed TCP flow's first bytes, made before the table drops
/// them (see `FlowTable::seal_settled`).
pub fn inspect_settled(f: &Flow) -> Inspected {
    Box::new(tcp_bytes(&f.streams))
}

/// The part of a TCP flow's inspection that reads its first bytes. Everything else is read
/// from the flow at the summary: a closed flow's later packets still count (its retransmitted
/// bytes, a hole past the kept bytes, a TOA option), but cannot change its first bytes.
struct TcpBytes {
    proxy: Option<Box<ProxyHeader>>,
    http: Option<HttpFacts>,
    tls: Option<Box<ClientHello>>,
    to_server: BytesSeen,
    to_client: BytesSeen,
}

/// What one direction's first bytes are.
struct BytesSeen {
    kind: PayloadKind,
    summary: Cow<'static, str>,
    segment_ends: SegmentEnds,
}

fn tcp_bytes(streams: &[Stream; 2]) -> TcpBytes {
    let (up, down) = (&streams[TO_SERVER], &streams[TO_CLIENT]);
    let (up_bytes, down_bytes) = (up.bytes(), down.bytes());
    let header = proxy::inspect(&up_bytes);
    let after = header
        .as_ref()
        .map_or(0, |h| h.payload_offset.min(up_bytes.len()));
    let client_bytes = &up_bytes[after..];
    let server_bytes: &[u8] = &down_bytes;
    let requests =
        http::looks_like_request(client_bytes).then(|| http::parse_requests(client_bytes));
    let responses =
        http::looks_like_response(server_bytes).then(|| http::parse_responses(server_bytes));
    let hello = tls::parse_client_hello(client_bytes);
    // The first bytes' summaries reuse what was just parsed from the same bytes.
    let to_server = bytes_seen(
        client_bytes,
        up,
        payload::Parsed {
            requests: requests.as_deref(),
            responses: None,
            hello: Some(&hello),
        },
    );
    let to_client = bytes_seen(
        server_bytes,
        down,
        payload::Parsed {
            requests: None,
            responses: responses.as_deref(),
            hello: None,
        },
    );
    let (requests, responses) = (requests.unwrap_or_default(), responses.unwrap_or_default());
    let tls = match hello {
        TlsParse::ClientHello(hello) => Some(hello),
        _ => None,
    };
    let (mut requests, mut responses) = (requests, responses);
    let requests_not_listed = not_listed(&mut requests);
    http::thin_later_requests(&mut requests);
    let responses_not_listed = not_listed(&mut responses);
    TcpBytes {
        proxy: header.map(Box::new),
        http: (!requests.is_empty() || !responses.is_empty()).then(|| HttpFacts {
            requests: requests.into(),
            responses: responses.into(),
            requests_not_listed,
            responses_not_listed,
        }),
        tls: tls.map(Box::new),
        to_server,
        to_client,
    }
}

fn inspect_tcp(f: &Flow, bytes: TcpBytes) -> FlowInspection {
    let up = &f.streams[TO_SERVER];
    let down = &f.streams[TO_CLIENT];
    let proxy_seen = match (&bytes.proxy, up.is_empty(), up.wire_bytes) {
        (Some(_), _, _) => ProxySeen::Present,
        (None, _, 0) => ProxySeen::NoPayload,
        (None, true, _) => ProxySeen::NotCaptured,
        (None, false, _) => ProxySeen::Absent,
    };
    // Only a complete header can be said to span segments: a snaplen cut ends the captured
    // segment early without the header being split on the wire.
    let proxy_segments = bytes
        .proxy
        .as_ref()
        .filter(|h| h.status == proxy::Status::Complete && up.end() != StreamEnd::NotCaptured)
        .and_then(|h| {
            let spanned = bytes
                .to_server
                .segment_ends
                .iter()
                .take_while(|&end| (end as usize) < h.header_len)
                .count() as u32
                + 1;
            (spanned > 1).then_some(spanned)
        });
    let toa = f.tcp.toa_option.as_deref().and_then(|(packet, value)| {
        toa::parse_toa(toa::TOA_KIND, value).map(|toa| ToaSeen {
            packet: *packet,
            toa,
        })
    });
    FlowInspection {
        proxy: bytes.proxy,
        proxy_seen,
        proxy_segments,
        proxy_datagrams: None,
        first_bytes: FirstBytesPair {
            to_server: direction(up, bytes.to_server),
            to_client: direction(down, bytes.to_client),
        },
        http: bytes.http,
        tls: bytes.tls,
        toa: toa.map(Box::new),
        spp: None,
    }
}

fn inspect_udp(f: &Flow) -> FlowInspection {
    let up = f.datagrams(TO_SERVER);
    let with_header = up
        .iter()
        .filter(|d| d.starts_header(proxy::starts_header))
        .count();
    let first = up.first();
    // The first datagram to start a header kept its bytes (see `Datagram::head`).
    let header = up.iter().find_map(|d| proxy::inspect(&d.head));
    let spp = first.and_then(|d| spp::parse_spp(&d.head));
    let skip = header
        .as_ref()
        .map(|h| h.payload_offset)
        .or(spp.as_ref().map(|s| s.header_len))
        .unwrap_or(0);
    let proxy_seen = match (first, &header) {
        (_, Some(_)) => ProxySeen::Present,
        (None, None) => ProxySeen::NoPayload,
        (Some(d), None) if d.head.is_empty() && d.wire_len > 0 => ProxySeen::NotCaptured,
        (Some(d), None) if d.wire_len == 0 => ProxySeen::NoPayload,
        (Some(_), None) => ProxySeen::Absent,
    };
    FlowInspection {
        proxy: header.map(Box::new),
        proxy_seen,
        proxy_segments: None,
        proxy_datagrams: (!up.is_empty()).then_some(DatagramCount {
            inspected: up.len(),
            with_header,
        }),
        first_bytes: FirstBytesPair {
            to_server: datagram(f, TO_SERVER, skip),
            to_client: datagram(f, TO_CLIENT, 0),
        },
        http: None,
        tls: None,
        toa: None,
        spp: spp.map(Box::new),
    }
}

fn bytes_seen(bytes: &[u8], stream: &Stream, parsed: payload::Parsed<'_>) -> BytesSeen {
    let fb = payload::classify_parsed(bytes, parsed);
    BytesSeen {
        kind: fb.kind,
        summary: summary(fb.summary),
        segment_ends: stream.segment_ends,
    }
}

fn direction(stream: &Stream, seen: BytesSeen) -> DirectionBytes {
    DirectionBytes {
        captured: stream.len(),
        wire_bytes: stream.wire_bytes,
        end: stream.end(),
        segment_ends: seen.segment_ends,
        first_data_packet: stream.first_data_packet,
        kind: seen.kind,
        summary: seen.summary,
    }
}

fn datagram(f: &Flow, dir: usize, skip: usize) -> DirectionBytes {
    let d = f.datagrams(dir).first();
    let head = d.map_or(&[][..], |d| &d.head[skip.min(d.head.len())..]);
    let end = match d {
        Some(d) if (d.head.len() as u32) < d.wire_len => StreamEnd::NotCaptured,
        _ => StreamEnd::Complete,
    };
    let fb = payload::classify(head);
    DirectionBytes {
        captured: d.map_or(0, |d| d.head.len()),
        wire_bytes: f.bytes[dir],
        end,
        segment_ends: SegmentEnds::default(),
        first_data_packet: packet_number(
            f.datagrams(dir)
                .iter()
                .find(|d| d.wire_len > 0)
                .map(|d| d.packet),
        ),
        kind: fb.kind,
        summary: summary(fb.summary),
    }
}

/// For tests: the analyzer's trimming, without dropping any range (as before stop 20).
#[cfg(test)]
fn keeps_bodies(bytes: &[u8], cap: usize, _: &mut Vec<std::ops::Range<usize>>) -> Option<usize> {
    crate::inspect::trim::worth_keeping(bytes, cap, &mut Vec::new())
}

#[cfg(test)]
mod fuzz_tests;

#[cfg(test)]
mod tests {
    use crate::flow::testing::{ACK, Conversation, FIN, SYN};
    use crate::flow::{TO_CLIENT, TO_SERVER};

    const REQUEST: &[u8] =
        b"PROXY TCP4 198.51.100.7 203.0.113.5 40000 80\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n";
    const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    /// TCP option 254 (TOA): port 40000, address 198.51.100.7.
    const TOA: &[u8] = &[254, 8, 0x9c, 0x40, 198, 51, 100, 7];

    /// To server or not, sequence number, flags, TCP options, payload.
    type Segment = (bool, u32, u8, &'static [u8], &'static [u8]);

    /// A flow's JSON summary after a conversation that goes on after both FINs: the last
    /// ACK brings a TOA option, the response comes again, and a segment far past the server's
    /// FIN leaves a hole behind its bytes. `seal`: as the analyzer does, the first bytes are
    /// inspected and dropped once settled.
    fn summary_after_close(seal: bool) -> serde_json::Value {
        let (c, s) = (1000u32, 5000u32);
        let (request_end, response_end) =
            (c + 1 + REQUEST.len() as u32, s + 1 + RESPONSE.len() as u32);
        let script: &[Segment] = &[
            (true, c, SYN, &[], b""),
            (false, s, SYN | ACK, &[], b""),
            (true, c + 1, ACK, &[], b""),
            // The PROXY header spans two segments.
            (true, c + 1, ACK, &[], &REQUEST[..20]),
            (true, c + 21, ACK, &[], &REQUEST[20..]),
            (false, s + 1, ACK, &[], RESPONSE),
            (true, request_end, FIN | ACK, &[], b""),
            (false, response_end, FIN | ACK, &[], b""),
            (true, request_end + 1, ACK, TOA, b""),
            (false, s + 1, ACK, &[], RESPONSE),
            (false, s + 10_000, ACK, &[], b"late"),
        ];
        let mut conversation = Conversation::new();
        let mut sealed = false;
        for &(to_server, seq, flags, options, payload) in script {
            conversation.send_with(to_server, seq, flags, options, payload);
            if seal && conversation.table.has_settled() {
                conversation
                    .table
                    .seal_settled(|f| Some(super::inspect_settled(f)));
                sealed = true;
            }
        }
        assert_eq!(sealed, seal);
        let mut flows = conversation.table.finish_all();
        assert_eq!(flows[0].streams[0].is_sealed(), seal);
        serde_json::to_value(crate::summary::flow_summary(0, &mut flows[0])).unwrap()
    }

    /// The JSON summary of a UDP flow whose datagrams are `script` (to server or not, bytes),
    /// and the bytes the table held of them; `probe`: as the analyzer sets the table up.
    fn udp_summary(script: &[(bool, &[u8])], probe: bool) -> (serde_json::Value, usize) {
        let mut conversation = Conversation::new();
        if probe {
            conversation
                .table
                .set_datagram_probe(crate::inspect::proxy::starts_header);
        }
        for &(to_server, payload) in script {
            conversation.send_udp(to_server, payload);
        }
        let mut flows = conversation.table.finish_all();
        let held = [TO_SERVER, TO_CLIENT]
            .iter()
            .flat_map(|&dir| flows[0].datagrams(dir))
            .map(|d| d.head.len())
            .sum();
        let summary = crate::summary::flow_summary(0, &mut flows[0]);
        (serde_json::to_value(summary).unwrap(), held)
    }

    #[test]
    fn udp_datagrams_that_nothing_reads_keep_no_bytes_and_change_nothing() {
        const V1: &[u8] = b"PROXY UDP4 198.51.100.7 203.0.113.5 40000 53\r\nquery";
        let v2 = {
            let mut h = b"\r\n\r\n\0\r\nQUIT\n\x21\x12\0\x0c".to_vec();
            h.extend_from_slice(&[198, 51, 100, 9, 203, 0, 113, 5, 0x9c, 0x41, 0, 53]);
            h.extend_from_slice(b"query");
            h
        };
        let big = [0xc3u8; 1200];
        // The first client datagram has no header; the third is the first with one (its
        // header is the one reported), the fourth has another (only counted).
        let script: &[(bool, &[u8])] = &[
            (true, &big),
            (false, &big),
            (true, b"plain"),
            (false, &big),
            (true, &v2),
            (true, V1),
            (false, &big),
            (true, &big),
            // A header toward the client: counted nowhere, so not kept either.
            (false, V1),
        ];
        let (probed, held) = udp_summary(script, true);
        let (all, held_all) = udp_summary(script, false);
        assert_eq!(probed, all);
        assert_eq!(probed["proxy"]["version"], 2);
        assert_eq!(probed["proxy"]["src"], "198.51.100.9");
        assert_eq!(probed["proxy_datagrams"]["inspected"], 5);
        assert_eq!(probed["proxy_datagrams"]["with_header"], 2);
        assert_eq!(probed["first_bytes"]["to_client"]["captured"], 1200);
        // Kept: each direction's first datagram and the first header; not the rest.
        assert_eq!(held, 1200 + 1200 + v2.len());
        assert_eq!(held_all, 1200 * 5 + 5 + v2.len() + 2 * V1.len());
    }

    #[test]
    fn udp_flow_beyond_the_kept_ones_keeps_no_datagram() {
        let mut c = Conversation::new();
        c.send_udp(true, b"first");
        assert!(
            c.table.has_created(),
            "a UDP flow is offered when it starts"
        );
        c.table.seal_created_if(|_| true);
        c.send_udp(false, b"reply");
        c.send_udp(true, b"again");
        assert!(!c.table.has_created(), "only when it starts");
        let f = c.flow();
        assert!(f.datagrams(TO_SERVER).is_empty() && f.datagrams(TO_CLIENT).is_empty());
        assert_eq!(f.packets, [2, 1], "still counted");
        let mut kept = Conversation::new();
        kept.send_udp(true, b"first");
        kept.table.seal_created_if(|_| false);
        kept.send_udp(true, b"again");
        assert_eq!(kept.flow().datagrams(TO_SERVER).len(), 2);
    }

    /// The JSON summary of a connection still open at the end whose client sent `up` and whose
    /// server sent `down`, each in 700-byte segments (the server's first 1,400 bytes twice),
    /// and the bytes both streams held; the table trims as the analyzer does and, unless
    /// `drop_unread`, keeps the bodies between HTTP heads.
    fn open_flow_summary(up: &[u8], down: &[u8], drop_unread: bool) -> (serde_json::Value, usize) {
        use crate::inspect::trim::worth_keeping;
        let mut c = Conversation::new();
        c.table.set_trim(if drop_unread {
            worth_keeping
        } else {
            super::keeps_bodies
        });
        let (cs, ss) = (1000u32, 5000u32);
        c.send_with(true, cs, SYN, &[], b"");
        c.send_with(false, ss, SYN | ACK, &[], b"");
        c.send_with(true, cs + 1, ACK, &[], b"");
        for (i, part) in up.chunks(700).enumerate() {
            c.send_with(true, cs + 1 + 700 * i as u32, ACK, &[], part);
        }
        for (i, part) in down.chunks(700).enumerate() {
            c.send_with(false, ss + 1 + 700 * i as u32, ACK, &[], part);
        }
        c.send_with(false, ss + 1, ACK, &[], &down[..down.len().min(1400)]);
        let held = c
            .flow()
            .streams
            .iter()
            .map(crate::flow::stream::Stream::held_bytes)
            .sum();
        let mut flows = c.table.finish_all();
        let summary = crate::summary::flow_summary(0, &mut flows[0]);
        (serde_json::to_value(summary).unwrap(), held)
    }

    /// A response: status line, declared length, body bytes sent.
    type Response<'a> = (&'a str, Option<usize>, usize);

    /// The responses one after another.
    fn responses(list: &[Response<'_>]) -> Vec<u8> {
        let mut down = Vec::new();
        for &(status, declared, body) in list {
            down.extend_from_slice(format!("{status}\r\n").as_bytes());
            if let Some(n) = declared {
                down.extend_from_slice(format!("Content-Length: {n}\r\n").as_bytes());
            }
            down.extend_from_slice(b"\r\n");
            down.extend(std::iter::repeat_n(b'd', body));
        }
        down
    }

    fn statuses(summary: &serde_json::Value) -> Vec<u64> {
        summary["http"]["responses"]
            .as_array()
            .map(|r| r.iter().filter_map(|r| r["status"].as_u64()).collect())
            .unwrap_or_default()
    }

    #[test]
    fn bodies_between_heads_leave_memory_and_change_nothing() {
        let mut up = b"PROXY TCP4 198.51.100.7 203.0.113.5 40000 80\r\n".to_vec();
        up.extend_from_slice(b"POST /upload HTTP/1.1\r\nContent-Length: 900\r\n\r\n");
        up.extend_from_slice(&[b'u'; 900]);
        up.extend_from_slice(b"GET /a HTTP/1.1\r\nHost: a\r\n\r\n");
        up.extend_from_slice(b"GET /b HTTP/1.1\r\nX-Forwarded-For: 192.0.2.77\r\n\r\n");
        let down = responses(&[
            ("HTTP/1.1 200 OK", Some(1000), 1000),
            ("HTTP/1.1 404 Not Found", Some(20), 20),
            ("HTTP/1.1 200 OK", Some(1500), 1500),
        ]);
        let (dropped, held) = open_flow_summary(&up, &down, true);
        let (kept, held_all) = open_flow_summary(&up, &down, false);
        assert_eq!(dropped, kept);
        let requests = dropped["http"]["requests"].as_array().unwrap();
        assert_eq!(requests.len(), 3);
        assert_eq!(requests[2]["x_forwarded_for"][0]["raw"], "192.0.2.77");
        assert_eq!(statuses(&dropped), [200, 404, 200]);
        assert_eq!(dropped["proxy"]["src"], "198.51.100.7");
        // Every byte counts, dropped or not: three heads and 2,520 bytes of bodies.
        assert_eq!(dropped["first_bytes"]["to_client"]["captured"], 2648);
        // Measured: 396 bytes against 4,200.
        assert!(held * 4 < held_all, "held {held} against {held_all}");
    }

    /// A summary lists the first 16 messages each way and counts the rest: 4 KiB of pipelined
    /// tiny requests are ~150, and every summary is held until the checks end.
    #[test]
    fn messages_past_the_listed_ones_are_counted() {
        const LISTED: usize = crate::inspect::http::LISTED_MESSAGES;
        let up = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n".repeat(40);
        let down = responses(&[("HTTP/1.1 204 No Content", None, 0); 20]);
        let (summary, _) = open_flow_summary(&up, &down, true);
        let http = &summary["http"];
        assert_eq!(http["requests"].as_array().unwrap().len(), LISTED);
        assert_eq!(http["requests_not_listed"], 40 - LISTED);
        assert_eq!(statuses(&summary).len(), LISTED);
        assert_eq!(http["responses_not_listed"], 20 - LISTED);
        let first = &summary["first_bytes"]["to_server"]["summary"];
        assert_eq!(
            first, "GET / HTTP/1.1 (Host: a) +39 more",
            "counts them all"
        );
    }

    /// Responses without a body that announce a length (RFC 9110 allows it for 304, and a
    /// server may send it for 1xx and 204) are framed as the parsers frame them: as having
    /// none. Framed by the length, the next response's head was dropped for a body (review of
    /// stop 20); before stop 20, a bare 1xx, 204 or 304, or one announcing a length past the
    /// cap, ended the listing once the bytes passed 1 KiB.
    #[test]
    fn responses_without_a_body_are_framed_as_the_parsers_frame_them() {
        let up = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
        let cases: [(&[Response<'_>], &[u64]); 5] = [
            (
                &[
                    ("HTTP/1.1 200 OK", Some(700), 700),
                    ("HTTP/1.1 304 Not Modified", Some(300), 0),
                    ("HTTP/1.1 200 OK", Some(500), 500),
                    ("HTTP/1.1 404 Not Found", Some(100), 100),
                    ("HTTP/1.1 200 OK", Some(300), 300),
                ],
                &[200, 304, 200, 404, 200],
            ),
            (
                &[
                    ("HTTP/1.1 200 OK", Some(900), 900),
                    ("HTTP/1.1 204 No Content", Some(400), 0),
                    ("HTTP/1.1 200 OK", Some(400), 400),
                    ("HTTP/1.1 200 OK", Some(100), 100),
                ],
                &[200, 204, 200, 200],
            ),
            (
                &[
                    ("HTTP/1.1 100 Continue", None, 0),
                    ("HTTP/1.1 200 OK", Some(1500), 1500),
                    ("HTTP/1.1 201 Created", Some(10), 10),
                ],
                &[100, 200, 201],
            ),
            // A bare 304, and one announcing the whole file's length (RFC 9110 §8.6).
            (
                &[
                    ("HTTP/1.1 200 OK", Some(700), 700),
                    ("HTTP/1.1 304 Not Modified", None, 0),
                    ("HTTP/1.1 200 OK", Some(500), 500),
                ],
                &[200, 304, 200],
            ),
            (
                &[
                    ("HTTP/1.1 200 OK", Some(700), 700),
                    ("HTTP/1.1 304 Not Modified", Some(50_000), 0),
                    ("HTTP/1.1 200 OK", Some(500), 500),
                ],
                &[200, 304, 200],
            ),
        ];
        for (list, expected) in cases {
            let down = responses(list);
            let (dropped, _) = open_flow_summary(up, &down, true);
            let (kept, _) = open_flow_summary(up, &down, false);
            assert_eq!(dropped, kept);
            assert_eq!(statuses(&dropped), expected);
        }
    }

    /// When the server's first bytes are not taken for HTTP after all, their summary is made
    /// from the raw bytes, which must still be there.
    #[test]
    fn raw_summaries_of_the_first_bytes_read_kept_bytes() {
        let up = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
        // Short enough that the 64-byte probe reaches into the first body.
        let mut proxy_first = b"PROXY UNKNOWN\r\n".to_vec();
        proxy_first.extend(responses(&[
            ("HTTP/1.1 200 OK", Some(800), 800),
            ("HTTP/1.1 200 OK", Some(800), 800),
        ]));
        let bad_status = responses(&[
            ("HTTP/1.1 2x0 OK", Some(800), 800),
            ("HTTP/1.1 200 OK", Some(800), 800),
        ]);
        for (down, kind) in [(proxy_first, "text"), (bad_status, "text")] {
            let (dropped, _) = open_flow_summary(up, &down, true);
            let (kept, _) = open_flow_summary(up, &down, false);
            assert_eq!(dropped, kept);
            assert_eq!(dropped["first_bytes"]["to_client"]["kind"], kind);
        }
    }

    #[test]
    fn summary_of_a_flow_sealed_at_close_is_the_summary_of_its_bytes() {
        let sealed = summary_after_close(true);
        assert_eq!(sealed, summary_after_close(false));
        // What was read after the close is in it.
        assert_eq!(sealed["toa"]["packet"], 9);
        assert_eq!(sealed["tcp"]["retransmissions"], 1);
        let down = &sealed["first_bytes"]["to_client"];
        assert_eq!(down["wire_bytes"], 2 * RESPONSE.len() + 4);
        assert_eq!(down["end"], "hole");
        assert_eq!(sealed["proxy_segments"], 2);
        assert_eq!(sealed["http"]["responses"][0]["status"], 200);
    }
}
