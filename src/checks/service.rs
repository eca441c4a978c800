//! Verdicts for one service (protocol + server port), from its annotated flows. Health checks
//! are counted apart and never drag a verdict; flows that cannot be judged (payload not
//! captured) are left out rather than guessed.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use super::verdict::{ClientIpVerdict, ProxyVerdict, SnatVerdict, Verdicts};
use super::{CheckConfig, Finding, Severity, SideValue};
use crate::inspect::flow::ProxySeen;
use crate::summary::FlowReport;

/// Where the capture was taken, and how we know.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Side {
    pub value: SideValue,
    pub inferred: bool,
    pub reason: Option<String>,
}

pub struct ServiceJudgement {
    pub verdicts: Verdicts,
    pub side: Side,
    pub findings: Vec<Finding>,
    pub health_checks: usize,
}

pub fn judge(
    flows: &[&FlowReport],
    side: &Side,
    rp: &super::return_path::ReturnPath,
    ranges: &super::lb_ranges::LbRanges,
) -> ServiceJudgement {
    let (hc, clients): (Vec<&FlowReport>, Vec<&FlowReport>) = flows
        .iter()
        .copied()
        .partition(|f| f.kind == "health-check");
    let health_checks = hc.len();
    // With nothing but health checks, judge those: it is all the capture shows.
    let judged: &[&FlowReport] = if clients.is_empty() { flows } else { &clients };
    let side = side.clone();
    let mut findings = Vec::new();
    let proxy_protocol = proxy_verdict(judged);
    // Who sends the health checks: a balancer probes from the address it forwards from
    // (looked at only beside client flows: probes alone say nothing of the clients).
    let mut probes: BTreeMap<IpAddr, usize> = BTreeMap::new();
    if !clients.is_empty() {
        for f in &hc {
            *probes.entry(f.client.ip).or_default() += 1;
        }
    }
    let (snat, snat_findings) = snat_verdict(judged, &side, &probes);
    findings.extend(snat_findings);
    // Health checks convey no client: with nothing else, the client IP question has no answer.
    let client_ip = if clients.is_empty() {
        ClientIpVerdict::Unknown
    } else {
        client_ip_verdict(judged, snat, &side, ranges, &mut findings)
    };
    let return_path = super::return_path::verdict(judged, rp);
    if health_checks > 0 {
        let mut reasons: BTreeMap<&str, usize> = BTreeMap::new();
        for f in &hc {
            *reasons
                .entry(f.kind_reason.as_deref().unwrap_or(""))
                .or_default() += 1;
        }
        let top = reasons
            .iter()
            .max_by_key(|&(r, n)| (*n, std::cmp::Reverse(*r)))
            .map_or("", |(r, _)| *r);
        let example = hc
            .iter()
            .find(|f| f.kind_reason.as_deref() == Some(top))
            .unwrap_or(&hc[0]);
        let confirm = health_check_confirm(top, example);
        let mut f = Finding::new(
            "health-check.flows",
            Severity::Info,
            format!(
                "{health_checks} health-check flows counted apart from client traffic: {}",
                reason_list(reasons)
            ),
        );
        f.flows = hc.iter().map(|f| f.id).collect();
        f.packets = hc.iter().map(|f| f.first_packet).collect();
        f.confirm = confirm;
        findings.push(f);
    }
    ServiceJudgement {
        verdicts: Verdicts {
            client_ip,
            snat,
            proxy_protocol,
            return_path,
        },
        side,
        findings,
        health_checks,
    }
}

/// The command that shows the most frequent kind of health check by hand (`reason` is one of
/// `flows::health_check_reason`'s sentences; an HTTP path in it is one of the fixed health
/// paths, so it is safe inside the quotes).
fn health_check_confirm(reason: &str, example: &FlowReport) -> super::Confirm {
    let mut c = super::Confirm::default();
    let tshark = super::tshark_proxy(example.proto);
    if reason.starts_with("PROXY v2 LOCAL") {
        c.tshark = Some(format!(
            "{tshark} -Y 'proxy.v2.cmd == 0' # PROXY LOCAL health checks"
        ));
    } else if reason.starts_with("PROXY v1") {
        c.tshark = Some(format!(
            "{tshark} -Y 'proxy.v1.magic' -T fields -e frame.number -e ip.src -e proxy.src.ipv4 -e proxy.dst.ipv4"
        ));
    } else if let Some(path) = reason
        .strip_suffix(" looks like a health-check request")
        .and_then(|r| r.split(' ').nth(1))
    {
        c.tshark = Some(format!(
            "tshark -r CAPTURE -Y 'http.request.uri contains \"{path}\"' -T fields -e frame.number -e ip.src -e http.request.uri"
        ));
    } else if reason.starts_with("connect-then-close") {
        // The probe closes before sending a byte, so its FIN or RST has relative sequence
        // number 1; the balancer's forwarded connections from the same address sent data.
        let ip = if example.client.ip.is_ipv6() {
            "ipv6"
        } else {
            "ip"
        };
        c.tshark = Some(format!(
            "tshark -r CAPTURE -Y '{ip}.src == {} and tcp.dstport == {} and (tcp.flags.fin == 1 or tcp.flags.reset == 1) and tcp.seq == 1' -T fields -e frame.number -e {ip}.src -e tcp.srcport",
            example.client.ip, example.server.port
        ));
    } else {
        // A source in a health-check range: the probes' handshakes and closes from the first
        // probing source.
        c.tcpdump = Some(format!(
            "tcpdump -nn -r CAPTURE '{} and src host {} and dst port {}'",
            super::tcpdump_flags(
                example.proto,
                example.client.ip.is_ipv6(),
                "(tcp-syn|tcp-fin|tcp-rst)"
            ),
            example.client.ip,
            example.server.port
        ));
    }
    c
}

/// Reasons shown in the `health-check.flows` line; the rest are counted.
const REASONS_SHOWN: usize = 5;

/// `5× reason; 2× other`, the most frequent first, at most [`REASONS_SHOWN`] of them: one line
/// even when a capture holds thousands of distinct probes.
fn reason_list(reasons: BTreeMap<&str, usize>) -> String {
    let mut by_count: Vec<(&str, usize)> = reasons.into_iter().collect();
    // Stable: equal counts stay in text order.
    by_count.sort_by_key(|&(_, n)| std::cmp::Reverse(n));
    let mut list: Vec<String> = by_count
        .iter()
        .take(REASONS_SHOWN)
        .map(|(r, n)| format!("{n}× {r}"))
        .collect();
    let rest = &by_count[by_count.len().min(REASONS_SHOWN)..];
    if !rest.is_empty() {
        let flows: usize = rest.iter().map(|(_, n)| n).sum();
        let other = if rest.len() == 1 { "reason" } else { "reasons" };
        list.push(format!("{flows} more for {} other {other}", rest.len()));
    }
    list.join("; ")
}

/// Where the capture was taken, from every flow in it (a property of the capture point).
pub fn side(flows: &[&FlowReport], given: Option<SideValue>, cfg: &CheckConfig) -> Side {
    if let Some(value) = given {
        return Side {
            value,
            inferred: false,
            reason: Some("given with --side".into()),
        };
    }
    // The clients named in headers, and the servers such headers reach (the backends).
    let mut conveyed: BTreeSet<IpAddr> = BTreeSet::new();
    let mut backends: BTreeSet<IpAddr> = BTreeSet::new();
    let mut senders: BTreeSet<IpAddr> = BTreeSet::new();
    for f in flows {
        if let Some(c) = f.client_ip.as_ref().filter(|c| c.by != "ip-source") {
            conveyed.insert(c.ip);
            backends.insert(f.server.ip);
            senders.insert(f.client.ip);
        }
    }
    // Both legs: a named client's own connection goes to a server no header reaches (the
    // balancer's VIP), or to the address that sends the headers (a balancer forwarding to an
    // application on its own host). A client that also reaches the backends directly (a pool
    // exposed both behind a balancer and on its own addresses), or a balancer whose
    // health-check header names itself, is no second leg.
    if let Some(f) = flows.iter().find(|f| {
        conveyed.contains(&f.client.ip)
            && (!backends.contains(&f.server.ip) || senders.contains(&f.server.ip))
    }) {
        return Side {
            value: SideValue::Lb,
            inferred: true,
            reason: Some(format!(
                "the capture holds both legs: client {} connects itself (flow {}) and is conveyed by a header on another flow",
                f.client.ip, f.id
            )),
        };
    }
    if let Some(f) = flows.iter().find(|f| f.inspection.proxy.is_some()) {
        return Side {
            value: SideValue::Backend,
            inferred: true,
            reason: Some(format!(
                "PROXY headers arrive at {} (flow {})",
                f.server.ip, f.id
            )),
        };
    }
    if let Some(f) = flows.iter().find(|f| {
        f.client_ip
            .as_ref()
            .is_some_and(|c| c.by == "xff" || c.by == "forwarded")
    }) {
        return Side {
            value: SideValue::Backend,
            inferred: true,
            reason: Some(format!(
                "forwarding headers arrive at {} (flow {})",
                f.server.ip, f.id
            )),
        };
    }
    if let Some(f) = flows.iter().find(|f| f.lb_range.is_some()) {
        return Side {
            value: SideValue::Backend,
            inferred: true,
            reason: Some(format!(
                "sources in a load-balancer range reach {} (flow {})",
                f.server.ip, f.id
            )),
        };
    }
    if !cfg.vips.is_empty() && flows.iter().all(|f| cfg.vips.contains(&f.server.ip)) {
        return Side {
            value: SideValue::Client,
            inferred: true,
            reason: Some(
                "every flow goes to a --vip address and nothing has been rewritten yet".into(),
            ),
        };
    }
    Side {
        value: SideValue::Unknown,
        inferred: true,
        // The verdicts then read the sources as what the servers see; in front of a balancer
        // they are only what the balancer sees (lab captures client.pcap and lb.pcap).
        reason: Some("no header, LB range or --vip tells where this capture was taken: the verdicts hold if it is a backend's; for one taken on a client or in front of a balancer, give --side".into()),
    }
}

fn proxy_verdict(flows: &[&FlowReport]) -> ProxyVerdict {
    let mut seen: BTreeSet<u8> = BTreeSet::new();
    let mut without = false;
    for f in flows {
        match f.inspection.proxy_seen {
            ProxySeen::Present => {
                seen.insert(f.inspection.proxy.as_ref().map_or(0, |h| h.version));
            }
            ProxySeen::Absent => without = true,
            ProxySeen::NotCaptured | ProxySeen::NoPayload => {}
        }
    }
    match (seen.len(), without) {
        (0, false) => ProxyVerdict::Unknown,
        (0, true) => ProxyVerdict::None,
        (1, false) if seen.contains(&2) => ProxyVerdict::V2,
        (1, false) => ProxyVerdict::V1,
        _ => ProxyVerdict::Mixed,
    }
}

/// Is the source the balancer rather than the client?
fn snat_verdict(
    flows: &[&FlowReport],
    side: &Side,
    probes: &BTreeMap<IpAddr, usize>,
) -> (SnatVerdict, Vec<Finding>) {
    let mut findings = Vec::new();
    if side.value == SideValue::Client {
        return (SnatVerdict::Unknown, findings);
    }
    // A conveyed client that differs from the IP source proves a translation.
    let rewritten: Vec<&FlowReport> = flows
        .iter()
        .copied()
        .filter(|f| {
            f.client_ip
                .as_ref()
                .is_some_and(|c| c.by != "ip-source" && c.ip != f.client.ip)
        })
        .collect();
    let in_range: Vec<&FlowReport> = flows
        .iter()
        .copied()
        .filter(|f| f.lb_range.is_some())
        .collect();
    if !rewritten.is_empty() {
        let sources: BTreeSet<IpAddr> = rewritten.iter().map(|f| f.client.ip).collect();
        let clients: BTreeSet<IpAddr> = rewritten
            .iter()
            .filter_map(|f| f.client_ip.as_ref().map(|c| c.ip))
            .collect();
        let mut f = Finding::new(
            "snat.detected",
            Severity::Info,
            format!(
                "the balancer translates the source: {} source address{} ({}) {} {} distinct client{} in headers",
                sources.len(),
                if sources.len() == 1 { "" } else { "es" },
                list(&sources, 3),
                if sources.len() == 1 {
                    "carries"
                } else {
                    "carry"
                },
                clients.len(),
                if clients.len() == 1 { "" } else { "s" }
            ),
        );
        f.flows = rewritten.iter().map(|f| f.id).collect();
        f.packets = rewritten.iter().map(|f| f.first_packet).collect();
        f.confirm = conveyed_confirm(&rewritten);
        findings.push(f);
        return (SnatVerdict::Yes, findings);
    }
    if !in_range.is_empty() {
        return (SnatVerdict::Yes, findings);
    }
    let with_header: Vec<&FlowReport> = flows
        .iter()
        .copied()
        .filter(|f| f.client_ip.as_ref().is_some_and(|c| c.by != "ip-source"))
        .collect();
    if !with_header.is_empty() {
        // Every header names the IP source itself: the client reached us unchanged.
        return (SnatVerdict::No, findings);
    }
    // Flows whose first bytes are known to carry no header (or that carried no payload at all).
    let judged: Vec<&FlowReport> = flows
        .iter()
        .copied()
        .filter(|f| {
            matches!(
                f.inspection.proxy_seen,
                ProxySeen::Absent | ProxySeen::NoPayload
            )
        })
        .collect();
    if !judged.is_empty()
        && judged
            .iter()
            .all(|f| is_global_or_documentation(f.client.ip))
    {
        return (SnatVerdict::No, findings);
    }
    if side.value != SideValue::Lb {
        findings.extend(undecided(&judged, probes));
    }
    (SnatVerdict::Unknown, findings)
}

/// The command that shows the headers naming the clients, for the most frequent way they are
/// conveyed among `flows`.
fn conveyed_confirm(flows: &[&FlowReport]) -> super::Confirm {
    let mut by: BTreeMap<&str, usize> = BTreeMap::new();
    for c in flows.iter().filter_map(|f| f.client_ip.as_ref()) {
        *by.entry(c.by).or_default() += 1;
    }
    let top = by.iter().max_by_key(|&(_, n)| *n).map_or("", |(b, _)| *b);
    let tshark = Some(match top {
        "xff" => "tshark -r CAPTURE -Y 'http.x_forwarded_for' -T fields -e frame.number -e ip.src -e http.x_forwarded_for".into(),
        "forwarded" => "tshark -r CAPTURE -Y 'http.request.line contains \"Forwarded:\"' -T fields -e frame.number -e ip.src -e http.request.line".into(),
        "toa" => "tshark -r CAPTURE -Y 'tcp.option_kind == 254' -T fields -e frame.number -e ip.src -e tcp.options".into(),
        "spp" => {
            // The outer family of the first flow that conveys the client this way.
            let v6 = flows
                .iter()
                .find(|f| f.client_ip.as_ref().is_some_and(|c| c.by == "spp"))
                .is_some_and(|f| f.client.ip.is_ipv6());
            let ip = if v6 { "ipv6" } else { "ip" };
            format!("tshark -r CAPTURE -Y 'udp.payload[0:2] == 56:ec' -T fields -e frame.number -e {ip}.src -e udp.payload # Cloudflare SPP: after the magic 56ec, the client address in hex digits 5-36 (an IPv4 one as ::ffff:a.b.c.d: digits 29-36), the proxy's in 37-68, the client port in 69-72")
        }
        _ => format!(
            "{} -Y proxy -T fields -e frame.number -e ip.src -e proxy.src.ipv4 -e proxy.src.ipv6",
            super::tshark_proxy(flows.first().map_or(crate::flow::Proto::Tcp, |f| f.proto))
        ),
    });
    super::Confirm {
        tshark,
        tcpdump: None,
    }
}

/// Flows from a non-public address with no header, whose source also sends the service's
/// health checks: a balancer probes from the address it forwards from (HAProxy `source`,
/// kube-proxy's node address), while clients do not probe. Nothing in the packets proves it is
/// a balancer (a self-hosted one sends from a private address in no LB range), so the verdict
/// stays unknown; this says who is most likely the balancer and the `--lb-range` that decides.
fn undecided(judged: &[&FlowReport], probes: &BTreeMap<IpAddr, usize>) -> Option<Finding> {
    let from_probers: Vec<&FlowReport> = judged
        .iter()
        .copied()
        .filter(|f| !is_global_or_documentation(f.client.ip) && probes.contains_key(&f.client.ip))
        .collect();
    let first = from_probers.first()?;
    let sources: BTreeSet<IpAddr> = from_probers.iter().map(|f| f.client.ip).collect();
    let checks: usize = sources.iter().map(|ip| probes[ip]).sum();
    let plural = |n: usize, one: &'static str, many: &'static str| if n == 1 { one } else { many };
    let n = from_probers.len();
    let mut f = Finding::new(
        "snat.undecided",
        Severity::Info,
        format!(
            "{n} flow{} from {} carr{} no header naming a client, and {} also sen{} this service's {checks} health check{}, as a balancer does from the address it forwards from: most likely the balancer's own (SNAT) address, so the client IP would be lost",
            plural(n, "", "s"),
            list(&sources, 3),
            plural(n, "ies", "y"),
            plural(sources.len(), "that address", "those addresses"),
            plural(sources.len(), "ds", "d"),
            plural(checks, "", "s"),
        ),
    );
    f.detail = Some(
        "a non-public address in no LB range: lbcheck does not guess, SNAT and the client IP stay unknown until the balancer's addresses are named".into(),
    );
    // One option per address (a /24 of the first would miss the others, and IPv6).
    let options: Vec<String> = sources
        .iter()
        .take(3)
        .map(|ip| {
            let bits = if ip.is_ipv4() { 32 } else { 128 };
            format!("--lb-range lb={ip}/{bits}")
        })
        .collect();
    let options = options.join(" ");
    f.flows = from_probers.iter().map(|f| f.id).collect();
    f.packets = from_probers.iter().map(|f| f.first_packet).collect();
    f.fix = vec![
        format!(
            "if {} the balancer: `{options}` (lbcheck then judges SNAT and the client IP, with the fixes)",
            plural(sources.len(), "it is", "they are")
        ),
        "if they are the clients themselves (an internal service that probes itself), the backend sees them as they are: nothing to fix".into(),
    ];
    f.confirm.tcpdump = Some(format!(
        "tcpdump -nn -r CAPTURE '{} dst port {} and src host {}'",
        first.proto.name(),
        first.server.port,
        first.client.ip
    ));
    Some(f)
}

fn client_ip_verdict(
    flows: &[&FlowReport],
    snat: SnatVerdict,
    side: &Side,
    ranges: &super::lb_ranges::LbRanges,
    findings: &mut Vec<Finding>,
) -> ClientIpVerdict {
    if side.value == SideValue::Client {
        return ClientIpVerdict::NotApplicable;
    }
    let mut by_value: BTreeMap<&'static str, Vec<&FlowReport>> = BTreeMap::new();
    for f in flows {
        let Some(c) = &f.client_ip else { continue };
        let header_broken = f
            .inspection
            .proxy
            .as_ref()
            .is_some_and(|h| h.status != crate::inspect::proxy::Status::Complete);
        let request_cut = f.inspection.first_bytes.to_server.end
            == crate::flow::StreamEnd::NotCaptured
            && f.inspection
                .http
                .as_ref()
                .and_then(|h| h.requests.first())
                .is_some_and(|r| !r.complete);
        if c.by == "ip-source" && (header_broken || request_cut) {
            // A broken PROXY header, or request headers the capture cut (an X-Forwarded-For
            // may be in the part not captured): this flow cannot say.
            continue;
        }
        let value = match c.by {
            "ip-source" => match (f.inspection.proxy_seen, snat) {
                // A flow that sent nothing (yet) cannot show a header is missing.
                (ProxySeen::NotCaptured, _)
                | (_, SnatVerdict::Unknown)
                | (ProxySeen::NoPayload, SnatVerdict::Yes) => continue,
                (_, SnatVerdict::Yes) => "lost",
                (_, SnatVerdict::No) => "preserved",
            },
            other => other,
        };
        by_value.entry(value).or_default().push(f);
    }
    if by_value.contains_key("lost") {
        let lost = &by_value["lost"];
        let sources: BTreeSet<IpAddr> = lost.iter().map(|f| f.client.ip).collect();
        let range = lost
            .iter()
            .find_map(|f| f.lb_range.clone().map(|r| (r, f.client.ip)));
        let mut f = Finding::new(
            "client-ip.lost",
            Severity::Error,
            format!(
                "the backend sees the balancer's address ({}), not the client: no PROXY header, X-Forwarded-For or TOA conveys it on {} flow{}",
                list(&sources, 3),
                lost.len(),
                if lost.len() == 1 { "" } else { "s" }
            ),
        );
        f.detail = Some(match range {
            // RFC 6598 space is a balancer's in the clouds that use it, but also a carrier
            // NAT's or a VPN's (Tailscale hands out 100.64.0.0/10): "most likely", not proof.
            Some((r, ip)) => match ranges.why_ambiguous(ip) {
                Some(why) => format!(
                    "the source is in the {r} range ({why}): most likely a balancer translating the client address (SNAT); if these are the clients themselves, reaching the backend over such a network, the backend does see them and nothing is lost"
                ),
                None => format!(
                    "the source is in the {r} range: the balancer translates the client address (SNAT)"
                ),
            },
            None => "the source address is the balancer's (SNAT)".into(),
        });
        f.flows = lost.iter().map(|f| f.id).collect();
        f.packets = lost.iter().map(|f| f.first_packet).collect();
        f.fix = vec![
            "enable PROXY protocol v2 on the balancer (AWS NLB: target group attribute proxy_protocol_v2.enabled=true; HAProxy: server … send-proxy-v2; nginx stream: proxy_protocol on;)".into(),
            format!(
                "and on the backend: nginx `listen {} proxy_protocol;` + `set_real_ip_from {};` + `real_ip_header proxy_protocol;` (HAProxy: `bind :{} accept-proxy`)",
                lost[0].server.port,
                lb_cidr_hint(&sources),
                lost[0].server.port
            ),
            "or, for HTTP, have the balancer add X-Forwarded-For (HAProxy `option forwardfor`) and trust it only from the balancer (nginx `set_real_ip_from` + `real_ip_header X-Forwarded-For;`)".into(),
            "Envoy as the backend's proxy: add the `envoy.filters.listener.proxy_protocol` listener filter".into(),
            "cloud switches: AWS NLB target group attribute `proxy_protocol_v2.enabled`; Alibaba CLB/NLB and Tencent CLB layer-4 listener setting \"Proxy Protocol\" (v2); Huawei ELB \"Transfer Client IP Address\" / TOA".into(),
            "or keep the client address end to end: client IP preservation / instance targets (AWS), or a pass-through (DNAT) balancer".into(),
        ];
        f.confirm.tcpdump = Some(format!(
            "tcpdump -nn -r CAPTURE -A 'tcp dst port {} and src host {}'",
            lost[0].server.port, lost[0].client.ip
        ));
        findings.push(f);
    }
    match by_value.len() {
        0 => ClientIpVerdict::Unknown,
        1 => word_to_verdict(by_value.keys().next().copied().unwrap_or("unknown")),
        _ => {
            let parts: Vec<String> = by_value
                .iter()
                .map(|(k, v)| {
                    format!(
                        "{k}: flows {}",
                        v.iter()
                            .take(5)
                            .map(|f| f.id.to_string())
                            .collect::<Vec<_>>()
                            .join(",")
                    )
                })
                .collect();
            let mut f = Finding::new(
                "client-ip.mixed",
                Severity::Warning,
                format!(
                    "flows of this service disagree on how the client reaches the backend ({})",
                    parts.join("; ")
                ),
            );
            f.flows = by_value.values().flatten().map(|f| f.id).collect();
            findings.push(f);
            ClientIpVerdict::Mixed
        }
    }
}

fn word_to_verdict(w: &str) -> ClientIpVerdict {
    match w {
        "preserved" => ClientIpVerdict::Preserved,
        "proxy-v2" => ClientIpVerdict::ProxyV2,
        "proxy-v1" => ClientIpVerdict::ProxyV1,
        "xff" => ClientIpVerdict::Xff,
        "forwarded" => ClientIpVerdict::Forwarded,
        "toa" => ClientIpVerdict::Toa,
        "spp" => ClientIpVerdict::Spp,
        "lost" => ClientIpVerdict::Lost,
        _ => ClientIpVerdict::Unknown,
    }
}

fn list(ips: &BTreeSet<IpAddr>, max: usize) -> String {
    let mut v: Vec<String> = ips.iter().take(max).map(ToString::to_string).collect();
    if ips.len() > max {
        v.push(format!("+{} more", ips.len() - max));
    }
    v.join(", ")
}

/// A CIDR to trust for `set_real_ip_from`: the LB's /24 (IPv4) or /64 (IPv6) as a starting point.
fn lb_cidr_hint(sources: &BTreeSet<IpAddr>) -> String {
    match sources.iter().next() {
        Some(IpAddr::V4(v4)) => {
            let o = v4.octets();
            format!("{}.{}.{}.0/24", o[0], o[1], o[2])
        }
        Some(IpAddr::V6(v6)) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        None => "<LB subnet>".into(),
    }
}

/// A global address (or a documentation one, as in tests and examples): a real client can
/// come from it. Private, shared (RFC 6598), loopback and link-local ones may be a balancer.
fn is_global_or_documentation(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            let shared = o[0] == 100 && (o[1] & 0xc0) == 64;
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || shared)
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            let unique_local = (first & 0xfe00) == 0xfc00;
            let link_local = (first & 0xffc0) == 0xfe80;
            !(v6.is_loopback() || v6.is_unspecified() || unique_local || link_local)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{BTreeMap, reason_list};

    #[test]
    fn reasons_are_listed_most_frequent_first_and_the_rest_counted() {
        let reasons: BTreeMap<&str, usize> = [
            ("a", 1),
            ("b", 9),
            ("c", 3),
            ("d", 3),
            ("e", 7),
            ("f", 2),
            ("g", 4),
        ]
        .into_iter()
        .collect();
        assert_eq!(
            reason_list(reasons.clone()),
            "9× b; 7× e; 4× g; 3× c; 3× d; 3 more for 2 other reasons"
        );
        let six: BTreeMap<&str, usize> = reasons.into_iter().filter(|(r, _)| *r != "a").collect();
        assert_eq!(
            reason_list(six),
            "9× b; 7× e; 4× g; 3× c; 3× d; 2 more for 1 other reason"
        );
        let two: BTreeMap<&str, usize> = [("x", 1), ("y", 1)].into_iter().collect();
        assert_eq!(reason_list(two), "1× x; 1× y");
    }
}
