//! The one report model. Text and JSON are two renderings of it; its serde shape is the JSON
//! contract (schema `lbcheck/1`: fields are added, never renamed or removed).

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use serde::Serialize;

use crate::analyze::{Analysis, InputSummary};
use crate::checks::{self, Finding, Verdicts};
use crate::config::Config;
use crate::decode::Tunnel;
use crate::flow::{Flow, Proto, RoleBy, TO_CLIENT, TO_SERVER};
use crate::inspect::flow::FlowInspection;
use crate::source::{FileFormat, InterfaceInfo};

pub const SCHEMA: &str = "lbcheck/1";

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema: &'static str,
    pub tool: Tool,
    pub input: Vec<InputReport>,
    /// The main service (most flows); `services` lists every one.
    pub service: Option<ServiceReport>,
    /// The main service's verdicts.
    pub verdicts: Verdicts,
    pub services: Vec<ServiceReport>,
    pub findings: Vec<Finding>,
    pub flows: Vec<FlowReport>,
    pub stats: Stats,
}

#[derive(Debug, Clone, Serialize)]
pub struct Tool {
    pub name: &'static str,
    pub version: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct InputReport {
    pub path: String,
    pub format: FileFormat,
    pub interfaces: Vec<InterfaceInfo>,
    pub packets: u64,
    pub truncated_packets: u64,
    /// Epoch seconds with nanoseconds, as a decimal string (exact, unlike a float).
    pub first_ts: Option<String>,
    pub last_ts: Option<String>,
    /// Set when the file ended inside a record.
    pub cut_short: Option<crate::source::CutShort>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ServiceReport {
    pub proto: Proto,
    pub port: u16,
    pub server_ips: Vec<IpAddr>,
    pub side: Side,
    pub verdicts: Verdicts,
    pub flows: Vec<u32>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Side {
    /// client | lb | backend | unknown
    pub value: &'static str,
    pub inferred: bool,
    pub reason: Option<String>,
}

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
    /// Packet numbers (null when not seen).
    pub syn: Option<u64>,
    pub synack: Option<u64>,
    pub handshake_complete: bool,
    pub syn_count: u32,
    pub synack_count: u32,
    pub fin_from_client: Option<u64>,
    pub fin_from_server: Option<u64>,
    pub rst_from_client: Option<u64>,
    pub rst_from_server: Option<u64>,
    pub retransmissions: u32,
    pub out_of_order: u32,
    /// No SYN fixed the start of the client's byte stream: the capture began mid-connection.
    pub started_mid_stream: bool,
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
    pub vlan: Vec<u16>,
    /// LINUX_SLL2 interface index of the first packet.
    pub ifindex: Option<u32>,
    pub client: Endpoint,
    pub server: Endpoint,
    pub role_by: RoleBy,
    pub first_packet: u64,
    pub last_packet: u64,
    pub packets: PerDirection,
    pub bytes: PerDirection,
    pub truncated_packets: u64,
    pub tcp: Option<TcpReport>,
    pub tunnel: Option<Tunnel>,
    pub icmp_errors: Vec<IcmpReport>,
    /// client | health-check | unknown
    pub kind: &'static str,
    /// Name of the LB range the client address is in (verdict engine).
    pub lb_range: Option<String>,
    #[serde(flatten)]
    pub inspection: FlowInspection,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Stats {
    pub packets: u64,
    pub bytes_read: u64,
    pub truncated_packets: u64,
    pub by_link_type: BTreeMap<String, u64>,
    /// Packets that did not decode to TCP/UDP/ICMP, by reason.
    pub undecodable: BTreeMap<String, u64>,
    pub flows: u64,
    pub flows_evicted: u64,
    pub port_reuse: u64,
    pub icmp_errors_unmatched: u64,
}

pub fn ts_string(nanos: i64) -> String {
    let sign = if nanos < 0 { "-" } else { "" };
    let n = nanos.unsigned_abs();
    format!("{sign}{}.{:09}", n / 1_000_000_000, n % 1_000_000_000)
}

/// Builds the report from the analysed flows.
pub fn build(analysis: Analysis, config: &Config) -> Report {
    let selected: Vec<(usize, Flow)> = analysis
        .flows
        .into_iter()
        .filter(|(_, f)| config.proto.is_none_or(|p| p == f.proto))
        .filter(|(_, f)| config.ports.is_empty() || config.ports.contains(&f.server.port()))
        .collect();
    let flows: Vec<FlowReport> = selected
        .iter()
        .map(|(input, f)| flow_report(*input, f))
        .collect();
    let services = services(&flows);
    let mut findings = checks::capture_findings(&analysis.inputs);
    findings.sort_by(|a, b| (a.severity, a.code).cmp(&(b.severity, b.code)));
    let stats = stats(&analysis.inputs, flows.len() as u64);
    Report {
        schema: SCHEMA,
        tool: Tool {
            name: "lbcheck",
            version: env!("CARGO_PKG_VERSION"),
        },
        input: analysis.inputs.iter().map(input_report).collect(),
        service: services.first().cloned(),
        verdicts: services.first().map(|s| s.verdicts).unwrap_or_default(),
        services,
        findings,
        flows,
        stats,
    }
}

fn input_report(s: &InputSummary) -> InputReport {
    InputReport {
        path: s.path.display().to_string(),
        format: s.format,
        interfaces: s.interfaces.clone(),
        packets: s.packets,
        truncated_packets: s.truncated_packets,
        first_ts: s.first_ts.map(ts_string),
        last_ts: s.last_ts.map(ts_string),
        cut_short: s.cut_short.clone(),
    }
}

fn flow_report(input: usize, f: &Flow) -> FlowReport {
    let link = f.link[TO_SERVER].or(f.link[TO_CLIENT]).unwrap_or_default();
    let t = &f.tcp;
    FlowReport {
        id: f.id,
        input,
        proto: f.proto,
        interface: f.interface,
        vlan: link.vlan_ids().to_vec(),
        ifindex: link.ifindex,
        client: f.client.into(),
        server: f.server.into(),
        role_by: f.role_by,
        first_packet: f.first_packet,
        last_packet: f.last_packet,
        packets: f.packets.into(),
        bytes: f.bytes.into(),
        truncated_packets: f.truncated_packets,
        tcp: (f.proto == Proto::Tcp).then(|| TcpReport {
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
            started_mid_stream: t.syn.is_none() && f.streams[TO_SERVER].started_mid_stream,
        }),
        tunnel: f.tunnel,
        icmp_errors: f
            .icmp_errors
            .iter()
            .map(|e| IcmpReport {
                packet: e.packet,
                version: if e.v6 { 6 } else { 4 },
                icmp_type: e.icmp_type,
                code: e.code,
                toward: if e.toward_client { "client" } else { "server" },
            })
            .collect(),
        kind: "unknown",
        lb_range: None,
        inspection: crate::inspect::flow::inspect_flow(f),
    }
}

/// One section per (protocol, server port), most flows first.
fn services(flows: &[FlowReport]) -> Vec<ServiceReport> {
    let mut by: BTreeMap<(Proto, u16), ServiceReport> = BTreeMap::new();
    for f in flows {
        let s = by
            .entry((f.proto, f.server.port))
            .or_insert_with(|| ServiceReport {
                proto: f.proto,
                port: f.server.port,
                server_ips: Vec::new(),
                side: Side {
                    value: "unknown",
                    inferred: false,
                    reason: None,
                },
                verdicts: Verdicts::default(),
                flows: Vec::new(),
            });
        if !s.server_ips.contains(&f.server.ip) {
            s.server_ips.push(f.server.ip);
        }
        s.flows.push(f.id);
    }
    let mut list: Vec<ServiceReport> = by.into_values().collect();
    for s in &mut list {
        s.server_ips.sort();
    }
    list.sort_by(|a, b| {
        b.flows
            .len()
            .cmp(&a.flows.len())
            .then((a.proto, a.port).cmp(&(b.proto, b.port)))
    });
    list
}

fn stats(inputs: &[InputSummary], flows: u64) -> Stats {
    let mut s = Stats {
        flows,
        ..Stats::default()
    };
    for i in inputs {
        s.packets += i.packets;
        s.bytes_read += i.bytes;
        s.truncated_packets += i.truncated_packets;
        for (k, v) in &i.by_link_type {
            *s.by_link_type.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &i.undecoded {
            *s.undecodable.entry(stop_name(*k).to_string()).or_default() += v;
        }
        s.port_reuse += i.table.port_reuse;
        s.icmp_errors_unmatched += i.table.icmp_errors_unmatched;
    }
    s
}

fn stop_name(stop: crate::decode::Stop) -> &'static str {
    use crate::decode::Stop;
    match stop {
        Stop::UnknownLinkType => "unknown-link-type",
        Stop::NotIp => "not-ip",
        Stop::CutInHeader => "cut-in-header",
        Stop::BadIp => "bad-ip",
        Stop::Fragment => "ip-fragment",
    }
}
