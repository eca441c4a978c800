//! The per-flow summary: what the flow table and the first-bytes inspection say about one
//! flow, in the shape of the JSON contract. Checks read and annotate it; the report prints it.

use std::borrow::Cow;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU64;
use std::sync::Arc;

use serde::Serialize;

use crate::decode::Tunnel;
use crate::flow::{Flow, Proto, RoleBy, TO_CLIENT, TO_SERVER};
use crate::inspect::flow::FlowInspection;

#[derive(Debug, Clone, Serialize)]
pub struct Endpoint {
    pub ip: IpAddr,
    pub port: u16,
}

impl From<SocketAddr> for Endpoint {
    fn from(a: SocketAddr) -> Self {
        Self {
            ip: a.ip(),
            port: a.port(),
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct PerDirection {
    pub to_server: u64,
    pub to_client: u64,
}

impl From<[u64; 2]> for PerDirection {
    fn from(v: [u64; 2]) -> Self {
        Self {
            to_server: v[TO_SERVER],
            to_client: v[TO_CLIENT],
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct TcpReport {
    /// Packet numbers (null when not seen). Numbers start at 1, so `None` costs no extra word:
    /// six per kept TCP flow.
    pub syn: Option<NonZeroU64>,
    pub synack: Option<NonZeroU64>,
    pub handshake_complete: bool,
    pub syn_count: u32,
    pub synack_count: u32,
    pub fin_from_client: Option<NonZeroU64>,
    pub fin_from_server: Option<NonZeroU64>,
    pub rst_from_client: Option<NonZeroU64>,
    pub rst_from_server: Option<NonZeroU64>,
    pub retransmissions: u32,
    pub out_of_order: u32,
    /// Copies of stream bytes, both ways, that said otherwise than the bytes held to be read
    /// (PROXY header, HTTP heads, TLS hello; not bodies of 64 bytes or more, which are dropped
    /// between heads; at most 8 each way): the report decodes one version, the receiver may
    /// have kept the other.
    pub overlap_conflicts: u32,
    /// The first of them (the finding lists it; the flow's JSON has the count only).
    #[serde(skip)]
    pub first_overlap_conflict: Option<NonZeroU64>,
    /// No SYN fixed the start of the client's byte stream: the capture began mid-connection.
    pub started_mid_stream: bool,
    /// Initial sequence numbers (a forwarded connection keeps the client's across capture
    /// points; a proxied one gets a new one).
    pub client_isn: Option<u32>,
    pub server_isn: Option<u32>,
}

#[derive(Debug, Clone, Serialize)]
pub struct IcmpReport {
    pub packet: u64,
    pub version: u8,
    #[serde(rename = "type")]
    pub icmp_type: u8,
    pub code: u8,
    /// client | server: who the error was sent to.
    pub toward: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct FlowReport {
    pub id: u32,
    /// Index into `input`.
    pub input: usize,
    pub proto: Proto,
    pub interface: u32,
    pub vlan: Box<[u16]>,
    /// LINUX_SLL2 interface index of the first packet.
    pub ifindex: Option<u32>,
    pub client: Endpoint,
    pub server: Endpoint,
    pub role_by: RoleBy,
    /// Ethernet next hops: the MAC the requests came from and the one replies went to, as seen
    /// from the captured host's side (equal on a symmetric path).
    pub next_hop: Option<NextHop>,
    pub first_packet: u64,
    /// Time of the first packet in nanoseconds; in the JSON `first_ts`, epoch seconds as a
    /// decimal string, made only when written (a string per flow held all along costs more).
    #[serde(rename = "first_ts", serialize_with = "ts_decimal")]
    pub first_ts_ns: i64,
    pub last_packet: u64,
    pub packets: PerDirection,
    pub bytes: PerDirection,
    pub truncated_packets: u64,
    /// TTL / hop limit of the first packet each way.
    pub ttl: Ttl,
    pub tcp: Option<TcpReport>,
    /// Boxed: rare, and flows are many.
    pub tunnel: Option<Box<Tunnel>>,
    pub icmp_errors: Box<[IcmpReport]>,
    /// ICMP errors past the first [`crate::flow::MAX_ICMP_ERRORS`], counted only. Written only
    /// when there are any.
    #[serde(skip_serializing_if = "is_zero")]
    pub icmp_errors_not_kept: u32,
    /// client | health-check | unknown
    pub kind: &'static str,
    /// Why the flow was taken for a health check (mostly one of a few fixed sentences).
    pub kind_reason: Option<Cow<'static, str>>,
    /// Name of the LB range the client address is in (verdict engine): the table's own name,
    /// shared by every flow from the range.
    #[serde(serialize_with = "shared_str")]
    pub lb_range: Option<Arc<str>>,
    /// The client as far as the backend can know it, and what conveyed it.
    pub client_ip: Option<ClientIp>,
    #[serde(flatten)]
    pub inspection: FlowInspection,
}

/// Gives up the flow's inspection made when it closed, if any (see `inspect::flow::inspect_flow`).
pub fn flow_summary(input: usize, f: &mut Flow) -> FlowReport {
    let inspection = crate::inspect::flow::inspect_flow(f);
    let link = f.link[TO_SERVER].or(f.link[TO_CLIENT]).unwrap_or_default();
    let t = &f.tcp;
    FlowReport {
        id: f.id,
        input,
        proto: f.proto,
        interface: f.interface,
        vlan: link.vlan_ids().into(),
        ifindex: link.ifindex,
        client: f.client().into(),
        server: f.server().into(),
        role_by: f.role_by,
        next_hop: next_hop(f),
        first_packet: f.first_packet,
        first_ts_ns: f.first_ts,
        last_packet: f.last_packet,
        packets: f.packets.into(),
        bytes: f.bytes.into(),
        truncated_packets: f.truncated_packets,
        ttl: Ttl {
            to_server: f.ttl[TO_SERVER],
            to_client: f.ttl[TO_CLIENT],
        },
        tcp: (f.proto == Proto::Tcp).then(|| TcpReport {
            client_isn: t.isn[TO_SERVER],
            server_isn: t.isn[TO_CLIENT],
            syn: t.syn,
            synack: t.synack,
            handshake_complete: t.handshake_ack.is_some(),
            syn_count: t.syn_count,
            synack_count: t.synack_count,
            fin_from_client: t.fin[TO_SERVER],
            fin_from_server: t.fin[TO_CLIENT],
            rst_from_client: t.rst[TO_SERVER],
            rst_from_server: t.rst[TO_CLIENT],
            retransmissions: t.retransmissions,
            out_of_order: t.out_of_order,
            overlap_conflicts: (f.conflicts(TO_SERVER).count() + f.conflicts(TO_CLIENT).count())
                as u32,
            first_overlap_conflict: f
                .conflicts(TO_SERVER)
                .chain(f.conflicts(TO_CLIENT))
                .map(|c| c.packet)
                .min()
                .and_then(NonZeroU64::new),
            started_mid_stream: t.syn.is_none() && f.streams[TO_SERVER].started_mid_stream,
        }),
        tunnel: f.tunnel().copied().map(Box::new),
        icmp_errors: f
            .icmp_errors()
            .iter()
            .map(|e| IcmpReport {
                packet: e.packet,
                version: if e.v6 { 6 } else { 4 },
                icmp_type: e.icmp_type,
                code: e.code,
                toward: if e.toward_client { "client" } else { "server" },
            })
            .collect(),
        icmp_errors_not_kept: f.icmp_errors_not_kept(),
        kind: "unknown",
        kind_reason: None,
        lb_range: None,
        client_ip: None,
        inspection,
    }
}

impl FlowReport {
    /// One of the TCP packet numbers, as evidence lists hold them (`None` for UDP).
    pub fn tcp_packet(&self, which: impl Fn(&TcpReport) -> Option<NonZeroU64>) -> Option<u64> {
        self.tcp.as_ref().and_then(which).map(u64::from)
    }
}

/// A packet number as kept in a summary (packets are numbered from 1, as Wireshark does).
pub fn packet_number(n: Option<u64>) -> Option<NonZeroU64> {
    n.and_then(NonZeroU64::new)
}

// As an `Option<String>` is written (serde has no `Arc` without its `rc` feature).
#[allow(clippy::ref_option)]
fn shared_str<S: serde::Serializer>(
    s: &Option<Arc<str>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    s.as_deref().serialize(serializer)
}

// serde's `skip_serializing_if` hands over a reference.
#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_zero(n: &u32) -> bool {
    *n == 0
}

// serde's `serialize_with` hands over a reference.
#[allow(clippy::trivially_copy_pass_by_ref)]
fn ts_decimal<S: serde::Serializer>(nanos: &i64, serializer: S) -> Result<S::Ok, S::Error> {
    let mut buf = [0u8; crate::report::model::TS_MAX];
    serializer.serialize_str(crate::report::model::ts_write(*nanos, &mut buf))
}

/// The client address a flow conveys, and by what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClientIp {
    pub ip: IpAddr,
    pub port: Option<u16>,
    /// ip-source | proxy-v2 | proxy-v1 | xff | forwarded | toa | spp
    pub by: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NextHop {
    /// The captured host: client or server.
    pub local: &'static str,
    pub requests_via: Mac,
    pub replies_via: Mac,
}

/// An Ethernet address, written `02:00:5e:00:53:01` (in JSON too). Kept as its six bytes: one
/// per flow, two strings each would cost more than the summary's own fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mac(pub [u8; 6]);

impl Mac {
    pub fn text(self) -> [u8; 17] {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut out = [b':'; 17];
        for (i, b) in self.0.iter().enumerate() {
            out[i * 3] = HEX[usize::from(b >> 4)];
            out[i * 3 + 1] = HEX[usize::from(b & 0xf)];
        }
        out
    }
}

impl std::fmt::Display for Mac {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = self.text();
        f.write_str(std::str::from_utf8(&text).expect("hex digits and colons"))
    }
}

impl Serialize for Mac {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let text = self.text();
        serializer.serialize_str(std::str::from_utf8(&text).expect("hex digits and colons"))
    }
}

/// Works out which end is the captured host (its MAC is on both directions) and returns the
/// remote hop of each direction.
fn next_hop(f: &Flow) -> Option<NextHop> {
    let up = f.link[TO_SERVER]?;
    let down = f.link[TO_CLIENT]?;
    let (us, ud, ds, dd) = (up.src_mac?, up.dst_mac?, down.src_mac?, down.dst_mac?);
    let (local, req, rep) = if ud == ds {
        ("server", us, dd)
    } else if us == dd {
        ("client", ud, ds)
    } else {
        return None;
    };
    Some(NextHop {
        local,
        requests_via: Mac(req),
        replies_via: Mac(rep),
    })
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct Ttl {
    pub to_server: Option<u8>,
    pub to_client: Option<u8>,
}

impl Ttl {
    /// The usual initial TTLs: a packet still carrying one was captured where it was sent.
    pub fn is_initial(ttl: Option<u8>) -> bool {
        matches!(ttl, Some(64 | 128 | 255))
    }
}

#[cfg(test)]
mod tests {
    use super::Mac;

    #[test]
    fn mac_is_written_as_lowercase_hex_pairs() {
        let m = Mac([0x02, 0x00, 0x5e, 0xab, 0xcd, 0xff]);
        assert_eq!(m.to_string(), "02:00:5e:ab:cd:ff");
        assert_eq!(serde_json::to_string(&m).unwrap(), "\"02:00:5e:ab:cd:ff\"");
    }
}
