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
    /// The main service: the one with the most flows, except on a balancer's capture of both
    /// legs, where the legs toward the backends (translated sources) come first; `services`
    /// lists every one in that order.
    pub service: Option<ServiceReport>,
    /// The verdicts: the main service's with one file; with several, each from the best
    /// vantage point (see `verdict_sources`).
    pub verdicts: Verdicts,
    /// With several files: which file and service each verdict comes from.
    pub verdict_sources: BTreeMap<&'static str, String>,
    pub services: Vec<ServiceReport>,
    pub findings: Vec<Finding>,
    /// `--expect` results (empty without `--expect`).
    pub expectations: Vec<ExpectResult>,
    /// Connections followed across capture points (or both legs on one balancer capture).
    pub paths: Vec<checks::paths::Path>,
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
    /// Index into `input`: a service is judged per capture file.
    pub input: usize,
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
    /// Flows counted but not summarised (beyond the kept maximum).
    pub flows_not_kept: u64,
    /// The most flows open at once in one input.
    pub peak_live_flows: u64,
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
    let mut buf = [0u8; TS_MAX];
    ts_write(nanos, &mut buf).to_owned()
}

/// The longest [`ts_string`]: a sign, 11 digits of seconds (`i64::MIN` ns), the point and 9.
pub const TS_MAX: usize = 1 + 11 + 1 + 9;

/// [`ts_string`] into `buf`, without an allocation (written once per flow into the JSON).
pub fn ts_write(nanos: i64, buf: &mut [u8; TS_MAX]) -> &str {
    // By hand, not `write!`: once per flow in the JSON, where formatting machinery cost ~850
    // instructions a timestamp.
    let n = nanos.unsigned_abs();
    let mut len = 0;
    if nanos < 0 {
        buf[0] = b'-';
        len = 1;
    }
    let mut secs = itoa::Buffer::new();
    let secs = secs.format(n / 1_000_000_000).as_bytes();
    buf[len..len + secs.len()].copy_from_slice(secs);
    len += secs.len();
    buf[len] = b'.';
    let mut frac = n % 1_000_000_000;
    for d in buf[len + 1..len + 10].iter_mut().rev() {
        *d = b'0' + (frac % 10) as u8;
        frac /= 10;
    }
    len += 10;
    std::str::from_utf8(&buf[..len]).expect("ASCII digits")
}

/// Builds the report from the analysed flows.
pub fn build(analysis: Analysis, config: &Config) -> Report {
    build_with_findings(analysis, config, Vec::new())
}

/// [`build`], with findings the caller knows of (e.g. live capture's kernel drops), sorted in and
/// seen by `--expect`.
pub fn build_with_findings(analysis: Analysis, config: &Config, extra: Vec<Finding>) -> Report {
    let Analysis {
        inputs,
        flows: analysed,
    } = analysis;
    let analysis = AnalysisInputs { inputs };
    // Filtered in place: tens of thousands of summaries of 640 bytes are not moved for nothing.
    let mut all: Vec<FlowReport> = analysed;
    if let Some(proto) = config.proto {
        all.retain(|f| f.proto == proto);
    }
    checks::flows::annotate(&mut all, &config.check);
    // Where a capture was taken is a property of the capture point: judged per input file,
    // from all its flows. Return paths too are judged over a whole file: a broken one often
    // shows as a second flow on another port, which `--port` would hide.
    let mut sides = Vec::new();
    let mut return_path = checks::return_path::ReturnPath {
        findings: Vec::new(),
        broken: BTreeSet::new(),
    };
    for (i, input) in analysis.inputs.iter().enumerate() {
        let members: Vec<&FlowReport> = all.iter().filter(|f| f.input == i).collect();
        let side =
            checks::service::side(&members, config.check.side_for(&input.path), &config.check);
        let rp = checks::return_path::analyze(&members);
        return_path
            .findings
            .extend(rp.findings.into_iter().map(|mut f| {
                f.input = Some(i);
                f
            }));
        return_path.broken.extend(rp.broken);
        sides.push(side);
    }
    // On a balancer's capture, the addresses that connect tell a backend leg by its header.
    let sources: Vec<BTreeSet<IpAddr>> = sides
        .iter()
        .enumerate()
        .map(|(i, side)| match side.value {
            SideValue::Lb => all
                .iter()
                .filter(|f| f.input == i)
                .map(|f| f.client.ip)
                .collect(),
            _ => BTreeSet::new(),
        })
        .collect();
    for f in &mut all {
        let input = f.input;
        if let Some(side) = sides.get(input) {
            checks::flows::apply_side(f, side.value, &sources[input]);
        }
    }
    let judge = |flows: &[FlowReport], return_path: &checks::return_path::ReturnPath| {
        judge_services(flows, &sides, return_path, config, &analysis.inputs)
    };
    let (flows, paths, path_findings, services, service_findings) = if config.ports.is_empty() {
        // The flow list is final: paths are correlated on another core while the services
        // are judged (both only read the summaries).
        let ((paths, path_findings), (services, service_findings)) = std::thread::scope(|s| {
            let correlated = s.spawn(|| checks::paths::correlate(&all));
            let judged = judge(&all, &return_path);
            (
                correlated.join().expect("correlating paths panicked"),
                judged,
            )
        });
        (all, paths, path_findings, services, service_findings)
    } else {
        // With --port, the flows of other ports stay only as partners of a finding or a path.
        let (mut paths, path_findings) = checks::paths::correlate(&all);
        let mut keep: BTreeSet<u32> = all
            .iter()
            .filter(|f| config.ports.contains(&f.server.port))
            .map(|f| f.id)
            .collect();
        return_path
            .findings
            .retain(|f| f.flows.iter().any(|id| keep.contains(id)));
        paths.retain(|p| p.hops.iter().any(|h| keep.contains(&h.flow)));
        for f in return_path.findings.iter().chain(&path_findings) {
            keep.extend(f.flows.iter().copied());
        }
        for p in &paths {
            keep.extend(p.hops.iter().map(|h| h.flow));
        }
        all.retain(|f| keep.contains(&f.id));
        let (services, service_findings) = judge(&all, &return_path);
        (all, paths, path_findings, services, service_findings)
    };
    let mut findings = checks::capture_findings(&analysis.inputs);
    findings.extend(extra);
    findings.extend(service_findings);
    findings.extend(return_path.findings);
    findings.extend(path_findings);
    findings
        .sort_by(|a, b| (a.severity, a.code, &a.service).cmp(&(b.severity, b.code, &b.service)));
    let (verdicts, verdict_sources) = overall_verdicts(&services, &analysis.inputs);
    let main = services.first();
    let expectations = checks::expect::evaluate(
        &config.check.expectations,
        &verdicts,
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
        service: main.cloned(),
        verdicts,
        verdict_sources,
        services,
        findings,
        expectations,
        paths,
        flows,
        stats,
        host: None,
    }
}

/// The services of the kept flows, judged, with their findings (in service order).
fn judge_services(
    flows: &[FlowReport],
    sides: &[checks::service::Side],
    return_path: &checks::return_path::ReturnPath,
    config: &Config,
    inputs: &[InputSummary],
) -> (Vec<ServiceReport>, Vec<Finding>) {
    let mut services = services(flows);
    // Services the user asked for with --port come first (partners of a return-path finding
    // or of a path may add others).
    services.sort_by_key(|s| !(config.ports.is_empty() || config.ports.contains(&s.port)));
    let mut findings = Vec::new();
    let several = inputs.len() > 1;
    // Each service's flows, in flow order, from one sort of the flow indexes by service: a
    // port scan makes tens of thousands of services, and a pass over every flow for each was
    // quadratic. One service's list is held at a time, as before.
    let key = |f: &FlowReport| (f.input, f.proto, f.server.port);
    let mut order: Vec<u32> = (0..flows.len() as u32).collect();
    order.sort_by_key(|&i| (key(&flows[i as usize]), i));
    for s in &mut services {
        let service = (s.input, s.proto, s.port);
        let from = order.partition_point(|&i| key(&flows[i as usize]) < service);
        let members: Vec<&FlowReport> = order[from..]
            .iter()
            .map(|&i| &flows[i as usize])
            .take_while(|f| key(f) == service)
            .collect();
        let judgement = checks::service::judge(
            &members,
            &sides[s.input],
            return_path,
            &config.check.lb_ranges,
        );
        s.verdicts = judgement.verdicts;
        s.side = judgement.side;
        s.health_checks = judgement.health_checks;
        let name = if several {
            format!(
                "{}/{} in {}",
                s.proto.name(),
                s.port,
                file_name(&inputs[s.input].path)
            )
        } else {
            format!("{}/{}", s.proto.name(), s.port)
        };
        for mut f in judgement
            .findings
            .into_iter()
            .chain(checks::header_findings(&members, &config.check))
            .chain(checks::overlap_findings(&members))
        {
            f.service = Some(name.clone());
            f.input = Some(s.input);
            findings.push(f);
        }
    }
    // On a balancer's capture of both legs, the leg toward the backends answers the question
    // (does the backend see the client?): a service there whose sources are translated comes
    // before the client-facing ones, which the balancer itself sees unchanged. Stable: the
    // order by --port and by flows stays within each group.
    services.sort_by_key(|s| {
        (
            !(config.ports.is_empty() || config.ports.contains(&s.port)),
            !(s.side.value == SideValue::Lb && s.verdicts.snat == checks::SnatVerdict::Yes),
        )
    });
    (services, findings)
}

fn file_name(p: &std::path::Path) -> String {
    p.file_name().map_or_else(
        || p.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// With one file: the main service's verdicts. With several: each question answered from the
/// best vantage point — who the client is, from the capture nearest the backend; whether
/// replies come back, broken if any capture point shows it broken.
fn overall_verdicts(
    services: &[ServiceReport],
    inputs: &[InputSummary],
) -> (Verdicts, BTreeMap<&'static str, String>) {
    let mut sources = BTreeMap::new();
    let Some(main) = services.first() else {
        return (Verdicts::default(), sources);
    };
    if inputs.len() < 2 {
        return (main.verdicts, sources);
    }
    let rank = |s: &ServiceReport| match s.side.value {
        SideValue::Backend => 0,
        SideValue::Lb => 1,
        SideValue::Unknown => 2,
        SideValue::Client => 3,
    };
    let describe = |s: &ServiceReport| {
        format!(
            "{} ({}/{}, {} side)",
            file_name(&inputs[s.input].path),
            s.proto.name(),
            s.port,
            side_word(s.side.value)
        )
    };
    let best = services
        .iter()
        .min_by_key(|s| (rank(s), std::cmp::Reverse(s.flows.len())))
        .unwrap_or(main);
    let mut v = best.verdicts;
    for key in ["client_ip", "snat", "proxy_protocol"] {
        sources.insert(key, describe(best));
    }
    let broken = services
        .iter()
        .find(|s| s.verdicts.return_path == checks::ReturnPathVerdict::Broken);
    let ok = services
        .iter()
        .find(|s| s.verdicts.return_path == checks::ReturnPathVerdict::Ok);
    if let Some(s) = broken.or(ok) {
        v.return_path = s.verdicts.return_path;
        sources.insert("return_path", describe(s));
    }
    (v, sources)
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

/// One section per (protocol, server port), most flows first (see `judge_services` for the
/// final order).
fn services(flows: &[FlowReport]) -> Vec<ServiceReport> {
    let mut by: BTreeMap<(usize, Proto, u16), (ServiceReport, BTreeSet<IpAddr>)> = BTreeMap::new();
    for f in flows {
        let (s, ips) = by
            .entry((f.input, f.proto, f.server.port))
            .or_insert_with(|| {
                (
                    ServiceReport {
                        input: f.input,
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
                    },
                    BTreeSet::new(),
                )
            });
        // A set, not a search of the list: a service can have thousands of addresses.
        ips.insert(f.server.ip);
        s.flows.push(f.id);
    }
    let mut list: Vec<ServiceReport> = by
        .into_values()
        .map(|(mut s, ips)| {
            s.server_ips = ips.into_iter().collect();
            s
        })
        .collect();
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
        s.flows_evicted += i.table.flows_evicted;
        s.flows_not_kept += i.flows_not_kept;
        s.peak_live_flows = s.peak_live_flows.max(i.table.peak_live_flows);
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

/// The inputs, once the flows have moved into the report.
struct AnalysisInputs {
    inputs: Vec<InputSummary>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_written_as_format_writes_them() {
        let reference = |nanos: i64| {
            let sign = if nanos < 0 { "-" } else { "" };
            let n = nanos.unsigned_abs();
            format!("{sign}{}.{:09}", n / 1_000_000_000, n % 1_000_000_000)
        };
        let mut values = vec![
            0,
            1,
            -1,
            999_999_999,
            1_000_000_000,
            -1_000_000_000,
            1_767_225_600_000_139_000,
            i64::MAX,
            i64::MIN,
            i64::MIN + 1,
        ];
        let mut state = 1u64;
        for _ in 0..10_000 {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            values.push(i64::from_ne_bytes(state.to_ne_bytes()) >> (state % 40));
        }
        for nanos in values {
            assert_eq!(ts_string(nanos), reference(nanos), "{nanos}");
        }
    }
}
