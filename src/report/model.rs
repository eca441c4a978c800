//! The one report model. Text and JSON are two renderings of it; its serde shape is the JSON
//! contract (schema `lbcheck/1`: fields are added, never renamed or removed).

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use serde::Serialize;

use crate::analyze::{Analysis, InputSummary};
use crate::checks::expect::ExpectResult;
use crate::checks::service::Side;
use crate::checks::{self, Finding, SideValue, Verdicts};
use crate::config::Config;
use crate::flow::Proto;
use crate::source::{FileFormat, InterfaceInfo};
pub use crate::summary::FlowReport;

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
    /// `--expect` results (empty without `--expect`).
    pub expectations: Vec<ExpectResult>,
    pub flows: Vec<FlowReport>,
    pub stats: Stats,
    /// `lbcheck live` only: the capturing host's routes and sysctls (absent for files).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<crate::host::HostFacts>,
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
    /// Flows taken for health checks (counted apart from client traffic).
    pub health_checks: usize,
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
    /// `lbcheck live` only: packets the kernel filter passed, and those it dropped because
    /// lbcheck did not read them fast enough (PACKET_STATISTICS).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel_received: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel_drops: Option<u64>,
}

pub fn ts_string(nanos: i64) -> String {
    let sign = if nanos < 0 { "-" } else { "" };
    let n = nanos.unsigned_abs();
    format!("{sign}{}.{:09}", n / 1_000_000_000, n % 1_000_000_000)
}

/// Builds the report from the analysed flows.
pub fn build(analysis: &Analysis, config: &Config) -> Report {
    build_with_findings(analysis, config, Vec::new())
}

/// [`build`], with findings the caller knows of (e.g. live capture's kernel drops), sorted in and
/// seen by `--expect`.
pub fn build_with_findings(analysis: &Analysis, config: &Config, extra: Vec<Finding>) -> Report {
    let mut all: Vec<FlowReport> = analysis
        .flows
        .iter()
        .filter(|(_, f)| config.proto.is_none_or(|p| p == f.proto))
        .map(|(input, f)| crate::summary::flow_summary(*input, f))
        .collect();
    checks::flows::annotate(&mut all, &config.check);
    // Where the capture was taken is a property of the capture point: judged from every flow.
    let side = checks::service::side(&all.iter().collect::<Vec<_>>(), &config.check);
    checks::flows::apply_side(&mut all, side.value);
    // Return paths are judged over the whole capture: a broken one often shows as a second
    // flow on another port (the real server answering directly), which `--port` would hide.
    let mut return_path = checks::return_path::analyze(&all);
    let wanted = |f: &FlowReport| config.ports.is_empty() || config.ports.contains(&f.server.port);
    let mut keep: BTreeSet<u32> = all.iter().filter(|f| wanted(f)).map(|f| f.id).collect();
    return_path
        .findings
        .retain(|f| f.flows.iter().any(|id| keep.contains(id)));
    for f in &return_path.findings {
        keep.extend(f.flows.iter().copied());
    }
    let flows: Vec<FlowReport> = all.into_iter().filter(|f| keep.contains(&f.id)).collect();
    let mut services = services(&flows);
    // Services the user asked for with --port come first (partners of a return-path finding
    // may add others).
    services.sort_by_key(|s| !(config.ports.is_empty() || config.ports.contains(&s.port)));
    let mut findings = checks::capture_findings(&analysis.inputs);
    findings.extend(extra);
    for s in &mut services {
        let members: Vec<&FlowReport> = flows.iter().filter(|f| s.flows.contains(&f.id)).collect();
        let judgement = checks::service::judge(&members, &side, &return_path);
        s.verdicts = judgement.verdicts;
        s.side = judgement.side;
        s.health_checks = judgement.health_checks;
        let name = format!("{}/{}", s.proto.name(), s.port);
        for mut f in judgement
            .findings
            .into_iter()
            .chain(checks::header_findings(&members, &config.check))
        {
            f.service = Some(name.clone());
            findings.push(f);
        }
    }
    findings.extend(return_path.findings);
    findings
        .sort_by(|a, b| (a.severity, a.code, &a.service).cmp(&(b.severity, b.code, &b.service)));
    let main = services.first();
    let expectations = checks::expect::evaluate(
        &config.check.expectations,
        &main.map(|s| s.verdicts).unwrap_or_default(),
        main.map_or("unknown", |s| side_word(s.side.value)),
        &findings,
    );
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
        expectations,
        flows,
        stats,
        host: None,
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
                    value: SideValue::Unknown,
                    inferred: false,
                    reason: None,
                },
                verdicts: Verdicts::default(),
                flows: Vec::new(),
                health_checks: 0,
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

fn side_word(s: SideValue) -> &'static str {
    match s {
        SideValue::Client => "client",
        SideValue::Lb => "lb",
        SideValue::Backend => "backend",
        SideValue::Unknown => "unknown",
    }
}
