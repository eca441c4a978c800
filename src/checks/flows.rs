//! Per-flow judgement: is it a health check, is its source a known LB range, and which client
//! does it convey (and by what).

use std::borrow::Cow;
use std::net::IpAddr;

use super::CheckConfig;
use crate::inspect::proxy::{Command, ProxyHeader, Status};
use crate::summary::{ClientIp, FlowReport};

/// Request paths that health checkers use (AWS, GCP, Kubernetes, HAProxy and nginx examples).
const HEALTH_PATHS: &[&str] = &[
    "/health",
    "/healthz",
    "/healthcheck",
    "/health-check",
    "/_health",
    "/ready",
    "/readyz",
    "/livez",
    "/ping",
    "/status",
    "/hc",
    "/lb-status",
    "/lbcheck",
    "/haproxy_check",
    "/nginx_status",
];

/// Range names whose sources are health checkers only (not forwarded client traffic).
const HEALTH_CHECK_RANGES: &[&str] = &["gcp-legacy-health-check", "azure-probe"];

pub fn annotate(flows: &mut [FlowReport], cfg: &CheckConfig) {
    // One pass over the summaries for what each flow says alone (tens of thousands of them are
    // far apart in memory: each pass waits on memory). The health-check reason reads the
    // range set just before it, not the client, which the passes below may still change.
    // The analysis judges its summaries alone as it makes them (`annotate_alone`, while they
    // are in cache); this pass does those still "unknown" (summaries made elsewhere: tests).
    per_flow(flows, |f| {
        if f.kind == "unknown" {
            annotate_alone(f, &cfg.lb_ranges);
        }
    });
    // When one flow's source is the client another flow conveys, the capture holds both legs
    // (a capture on the balancer): the first leg's own X-Forwarded-For came from the client
    // itself and conveys nothing.
    let conveyed: std::collections::BTreeSet<IpAddr> = flows
        .iter()
        .filter_map(|f| {
            f.client_ip
                .as_ref()
                .filter(|c| c.by != "ip-source" && c.ip != f.client.ip)
                .map(|c| c.ip)
        })
        .collect();
    if !conveyed.is_empty() {
        for f in flows.iter_mut() {
            if conveyed.contains(&f.client.ip) {
                discard_forwarding_header(f);
            }
        }
    }
    client_supplied_xff(flows);
}

/// What a flow says alone: the LB range its source is in, the client it conveys, and whether
/// it is a health check (the reason reads the range set just before it).
pub fn annotate_alone(f: &mut FlowReport, ranges: &super::lb_ranges::LbRanges) {
    f.lb_range = ranges.lookup_name(f.client.ip);
    f.client_ip = Some(conveyed_client(f));
    match health_check_reason(f) {
        Some(reason) => {
            f.kind = "health-check";
            f.kind_reason = Some(reason);
        }
        None => f.kind = "client",
    }
}

/// Flows above which the per-flow passes run on every core (each flow on its own: no order).
const PARALLEL_MIN_FLOWS: usize = 4096;

/// Runs `each` on every flow, split across the cores when there are many (tens of thousands
/// of summaries are far apart in memory: a pass over them waits on memory, not on work).
fn per_flow(flows: &mut [FlowReport], each: impl Fn(&mut FlowReport) + Sync) {
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    if threads < 2 || flows.len() < PARALLEL_MIN_FLOWS {
        flows.iter_mut().for_each(each);
        return;
    }
    let each = &each;
    std::thread::scope(|s| {
        for part in flows.chunks_mut(flows.len().div_ceil(threads)) {
            s.spawn(move || part.iter_mut().for_each(each));
        }
    });
}

/// The header that conveys the client, when it is complete enough to name one.
pub fn proxy_client(h: &ProxyHeader) -> Option<(IpAddr, Option<u16>)> {
    if h.command != Some(Command::Proxy) || h.status == Status::Malformed {
        return None;
    }
    let ip: IpAddr = h.src.as_deref()?.parse().ok()?;
    Some((ip, h.src_port))
}

fn conveyed_client(f: &FlowReport) -> ClientIp {
    let ins = &f.inspection;
    if let Some(h) = &ins.proxy {
        if let Some((ip, port)) = proxy_client(h) {
            return ClientIp {
                ip,
                port,
                by: if h.version == 2 {
                    "proxy-v2"
                } else {
                    "proxy-v1"
                },
            };
        }
    }
    if let Some(t) = &ins.toa {
        return ClientIp {
            ip: t.toa.ip,
            port: Some(t.toa.port),
            by: "toa",
        };
    }
    if let Some(s) = &ins.spp {
        return ClientIp {
            ip: s.client_ip,
            port: Some(s.client_port),
            by: "spp",
        };
    }
    if let Some(http) = &ins.http {
        if let Some(req) = http.requests.first() {
            // The balancer appends its peer to the end of the last header: that entry is the
            // one it vouches for; anything before it came from the client.
            if let Some(entry) = req.x_forwarded_for.last().and_then(|h| h.entries.last()) {
                if let (Some(ip), true) = (entry.ip, entry.valid) {
                    return ClientIp {
                        ip,
                        port: entry.port,
                        by: "xff",
                    };
                }
            }
            if let Some(el) = req.forwarded.last() {
                if let Some(ip) = el.for_.as_ref().filter(|a| a.valid).and_then(|a| a.ip) {
                    return ClientIp {
                        ip,
                        port: el.for_.as_ref().and_then(|a| a.port),
                        by: "forwarded",
                    };
                }
            }
        }
    }
    ClientIp {
        ip: f.client.ip,
        port: Some(f.client.port),
        by: "ip-source",
    }
}

fn health_check_reason(f: &FlowReport) -> Option<Cow<'static, str>> {
    let ins = &f.inspection;
    if let Some(h) = &ins.proxy {
        if h.command == Some(Command::Local) {
            return Some("PROXY v2 LOCAL command (sent by the balancer itself)".into());
        }
        if h.version == 1 && h.src.is_some() && h.src == h.dst {
            return Some(
                "PROXY v1 line whose source equals its destination (classic ELB health check)"
                    .into(),
            );
        }
    }
    if let Some(name) = &f.lb_range {
        if HEALTH_CHECK_RANGES.contains(&&**name) {
            return Some(format!("source in the {name} health-check range").into());
        }
    }
    if let Some(req) = ins.http.as_ref().and_then(|h| h.requests.first()) {
        let path = req.uri.split(['?', '#']).next().unwrap_or("");
        if HEALTH_PATHS.iter().any(|p| path.eq_ignore_ascii_case(p)) {
            // The path, not the query: it is what matched, and probes that number their
            // requests (`/healthz?id=…`) then share one reason in the report.
            return Some(format!("{} {path} looks like a health-check request", req.method).into());
        }
    }
    if let Some(t) = &f.tcp {
        let connect_close = t.handshake_complete
            && ins.first_bytes.to_server.wire_bytes == 0
            && (t.fin_from_client.is_some() || t.rst_from_client.is_some());
        if connect_close && ins.proxy.is_none() {
            return Some("connect-then-close with no payload (a TCP health check)".into());
        }
    }
    None
}

/// Once the capture point is known: on a client's own capture, or on the client-facing leg of a
/// balancer's, a forwarding header was written by the client itself and conveys nothing.
///
/// On a balancer's capture the legs toward backends are told apart from the client-facing ones
/// by an LB-range source or a PROXY header, or by a forwarding header that names a client seen
/// connecting in the same capture (`sources`: every flow's source address): a self-hosted
/// HAProxy sends from its own private address, in no LB range, and that header is the only
/// sign of the backend leg.
pub fn apply_side(
    f: &mut FlowReport,
    side: super::SideValue,
    sources: &std::collections::BTreeSet<IpAddr>,
) {
    use super::SideValue;
    let client_leg = match side {
        SideValue::Client => true,
        SideValue::Lb => {
            f.lb_range.is_none()
                && f.inspection.proxy.is_none()
                && !names_a_connecting_client(f, sources)
        }
        SideValue::Backend | SideValue::Unknown => false,
    };
    if client_leg {
        discard_forwarding_header(f);
    }
}

/// Whether the flow's forwarding header names another address that connects in the capture.
fn names_a_connecting_client(f: &FlowReport, sources: &std::collections::BTreeSet<IpAddr>) -> bool {
    f.client_ip.as_ref().is_some_and(|c| {
        matches!(c.by, "xff" | "forwarded") && c.ip != f.client.ip && sources.contains(&c.ip)
    })
}

/// A balancer adds X-Forwarded-For to every request it forwards. When one source sends some
/// requests with it and some without, the header came from the client (curl -H …), not from
/// a balancer: it conveys nothing. Health checks are left out (balancers do not add it to
/// their own probes).
fn client_supplied_xff(flows: &mut [FlowReport]) {
    use std::collections::BTreeMap;
    let mut by_source: BTreeMap<IpAddr, (usize, usize)> = BTreeMap::new();
    for f in flows.iter().filter(|f| f.kind != "health-check") {
        let Some(req) = f.inspection.http.as_ref().and_then(|h| h.requests.first()) else {
            continue;
        };
        let e = by_source.entry(f.client.ip).or_default();
        if req.x_forwarded_for.is_empty() && req.forwarded.is_empty() {
            e.1 += 1;
        } else {
            e.0 += 1;
        }
    }
    by_source.retain(|_, (with, without)| *with > 0 && *without > 0);
    if by_source.is_empty() {
        return;
    }
    for f in flows.iter_mut() {
        if by_source.contains_key(&f.client.ip) {
            discard_forwarding_header(f);
        }
    }
}

/// A forwarding header the client wrote itself conveys nothing: the flow's client is its source.
fn discard_forwarding_header(f: &mut FlowReport) {
    if f.client_ip
        .as_ref()
        .is_some_and(|c| matches!(c.by, "xff" | "forwarded"))
    {
        f.client_ip = Some(ClientIp {
            ip: f.client.ip,
            port: Some(f.client.port),
            by: "ip-source",
        });
    }
}
