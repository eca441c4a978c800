//! Findings about what conveys the client: PROXY header faults and misconfigurations (header
//! sent to a backend that does not speak it, expected but missing), X-Forwarded-For trust.

use std::collections::BTreeMap;

use super::{CheckConfig, Finding, Severity};
use crate::inspect::flow::ProxySeen;
use crate::inspect::payload::PayloadKind;
use crate::inspect::proxy::{Crc32cStatus, Status};
use crate::summary::FlowReport;

pub fn header_findings(flows: &[&FlowReport], cfg: &CheckConfig) -> Vec<Finding> {
    let mut out = Vec::new();
    sent_to_plain_backend(flows, &mut out);
    expected_but_missing(flows, &mut out);
    header_faults(flows, &mut out);
    xff_findings(flows, &mut out);
    trust(flows, cfg, &mut out);
    lb_range_sources(flows, cfg, &mut out);
    udp_first_datagram_only(flows, &mut out);
    destination_not_vip(flows, cfg, &mut out);
    out
}

/// With `--vip`: a PROXY header whose destination is not one of the VIPs was written for
/// another listener (a shared backend pool, or a second proxy in the path).
fn destination_not_vip(flows: &[&FlowReport], cfg: &CheckConfig, out: &mut Vec<Finding>) {
    if cfg.vips.is_empty() {
        return;
    }
    let hits: Vec<&FlowReport> = flows
        .iter()
        .copied()
        .filter(|f| {
            let Some(h) = &f.inspection.proxy else {
                return false;
            };
            let dst = h
                .dst
                .as_deref()
                .and_then(|d| d.parse::<std::net::IpAddr>().ok());
            h.command == Some(crate::inspect::proxy::Command::Proxy)
                && dst.is_some_and(|d| !cfg.vips.contains(&d))
        })
        .collect();
    if let Some(first) = hits.first() {
        let dst = first
            .inspection
            .proxy
            .as_ref()
            .and_then(|h| h.dst.clone())
            .unwrap_or_default();
        out.push(grouped(
            "proxy.destination-not-vip",
            Severity::Warning,
            &hits,
            format!("PROXY headers name destination {dst}, which is not a --vip address: they were written for another listener or by another proxy in the path"),
            hits.iter().map(|f| f.first_packet).collect(),
        ));
    }
}

fn with_tcpdump(filter: String, mut f: Finding) -> Finding {
    f.confirm.tcpdump = Some(filter);
    f
}

/// Groups flows under one finding per code (one line for 500 flows, not 500 lines).
fn grouped(
    code: &'static str,
    severity: Severity,
    flows: &[&FlowReport],
    summary: String,
    packets: Vec<u64>,
) -> Finding {
    let mut f = Finding::new(code, severity, summary);
    f.flows = flows.iter().map(|f| f.id).collect();
    f.packets = packets;
    f
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// A PROXY header, then an HTTP 400, or a close with no reply at all.
fn sent_to_plain_backend(flows: &[&FlowReport], out: &mut Vec<Finding>) {
    let hits: Vec<&FlowReport> = flows
        .iter()
        .copied()
        .filter(|f| {
            let ins = &f.inspection;
            let Some(h) = &ins.proxy else { return false };
            // A faulty header explains a silent close by itself (HAProxy drops a bad CRC32C).
            let faulty = h.status != Status::Complete || h.crc32c == Crc32cStatus::Invalid;
            if faulty || f.kind == "health-check" {
                return false;
            }
            let first_status = ins
                .http
                .as_ref()
                .and_then(|h| h.responses.first())
                .map(|r| r.status);
            let closed_silently = f
                .tcp
                .as_ref()
                .is_some_and(|t| t.fin_from_server.is_some() || t.rst_from_server.is_some())
                && ins.first_bytes.to_client.wire_bytes == 0
                && ins.first_bytes.to_server.wire_bytes > h.header_len as u64;
            first_status == Some(400) || closed_silently
        })
        .collect();
    if hits.is_empty() {
        return;
    }
    let first = hits[0];
    let reply = match first
        .inspection
        .http
        .as_ref()
        .and_then(|h| h.responses.first())
    {
        Some(r) => format!("answers HTTP {} {}", r.status, r.reason),
        None => "closes without a reply".into(),
    };
    let mut f = grouped(
        "proxy.sent-to-plain-backend",
        Severity::Error,
        &hits,
        format!(
            "the balancer sends a PROXY header but the backend {}:{} does not expect one: it {reply} ({} flow{})",
            first.server.ip,
            first.server.port,
            hits.len(),
            plural(hits.len())
        ),
        hits.iter().map(|f| f.first_packet).collect(),
    );
    f.detail = Some("a backend without PROXY support reads the header as the start of the request (nginx: 400 Bad Request)".into());
    f.fix = vec![
format!(
            "make the backend expect it: nginx http or stream `listen {port} proxy_protocol;` with `set_real_ip_from <LB range>; real_ip_header proxy_protocol;` (HAProxy: `bind :{port} accept-proxy`; Envoy: listener filter `envoy.filters.listener.proxy_protocol`)",
            port = first.server.port
        ),

        "or stop sending it: HAProxy remove `send-proxy`/`send-proxy-v2`; nginx stream `proxy_protocol off;`; AWS target group `proxy_protocol_v2.enabled=false`".into(),
    ];
    f.confirm.tshark = Some(format!(
        "tshark -r CAPTURE -o tcp.try_heuristic_first:TRUE -Y 'proxy and tcp.port == {}'",
        first.server.port
    ));
    out.push(f);
}

/// No PROXY header, but the backend closes without answering what came instead.
fn expected_but_missing(flows: &[&FlowReport], out: &mut Vec<Finding>) {
    let hits: Vec<&FlowReport> = flows
        .iter()
        .copied()
        .filter(|f| {
            let ins = &f.inspection;
            ins.proxy_seen == ProxySeen::Absent
                && f.kind != "health-check"
                && ins.first_bytes.to_client.wire_bytes == 0
                && f.tcp
                    .as_ref()
                    .is_some_and(|t| t.fin_from_server.is_some() || t.rst_from_server.is_some())
        })
        .collect();
    if hits.is_empty() {
        return;
    }
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    for f in &hits {
        *kinds
            .entry(f.inspection.first_bytes.to_server.summary.to_string())
            .or_default() += 1;
    }
    let what: Vec<String> = kinds
        .iter()
        .take(3)
        .map(|(k, n)| format!("{n}× {k}"))
        .collect();
    let first = hits[0];
    let tls = first.inspection.first_bytes.to_server.kind == PayloadKind::TlsClientHello;
    let mut f = grouped(
        "proxy.expected-but-missing",
        Severity::Error,
        &hits,
        format!(
            "the backend {}:{} closes without answering: it seems to expect a PROXY header, but the first bytes are {}",
            first.server.ip,
            first.server.port,
            what.join("; ")
        ),
        hits.iter().map(|f| f.first_packet).collect(),
    );
    f.detail = Some(format!(
        "nginx logs `broken header: \"…\" while reading PROXY protocol` and closes{}",
        if tls {
            "; here the balancer passed the TLS ClientHello straight through"
        } else {
            ""
        }
    ));
    f.fix = vec![
        "enable PROXY on the balancer: HAProxy `server … send-proxy-v2`; nginx stream `proxy_protocol on;`; AWS target group `proxy_protocol_v2.enabled=true`; Alibaba/Tencent CLB listener \"Proxy Protocol\"".into(),
        format!("or stop expecting it on the backend: remove `proxy_protocol` from nginx `listen {}` (HAProxy: drop `accept-proxy`)", first.server.port),
        "clients that reach the backend directly (in-cluster, hairpin, monitoring) never send a header: give them a listener without proxy_protocol".into(),
    ];
    out.push(f);
}

/// Flows, their first packets, and the summary of the first of them.
type Group<'a> = (Vec<&'a FlowReport>, Vec<u64>, String);

fn header_faults<'a>(flows: &[&'a FlowReport], out: &mut Vec<Finding>) {
    let mut by_code: BTreeMap<(&'static str, Severity), Group<'a>> = BTreeMap::new();
    let mut add = |code: &'static str, sev: Severity, f: &'a FlowReport, text: String| {
        let e = by_code
            .entry((code, sev))
            .or_insert_with(|| (Vec::new(), Vec::new(), text));
        e.0.push(f);
        e.1.push(f.first_packet);
    };
    for &f in flows {
        let Some(h) = &f.inspection.proxy else {
            continue;
        };
        match h.status {
            Status::Malformed => {
                let e = h.error.as_ref();
                add(
                    "proxy.malformed",
                    Severity::Error,
                    f,
                    format!(
                        "malformed PROXY v{} header: {} [{} at byte {}]",
                        h.version,
                        e.map_or("", |e| e.message.as_str()),
                        e.map_or("", |e| e.code),
                        e.map_or(0, |e| e.offset)
                    ),
                );
            }
            Status::Truncated => add(
                "proxy.truncated",
                Severity::Warning,
                f,
                format!(
                    "PROXY v{} header cut by the capture (snaplen): what is known is shown, the rest is unknown",
                    h.version
                ),
            ),
            Status::Complete => {}
        }
        if h.crc32c == Crc32cStatus::Invalid {
            add(
                "proxy.crc32c-mismatch",
                Severity::Error,
                f,
                "PROXY v2 CRC32C does not match the header: a receiver that checks it (HAProxy) drops the connection".into(),
            );
        }
        if let Some(n) = f.inspection.proxy_segments {
            add(
                "proxy.split",
                Severity::Warning,
                f,
                format!(
                    "PROXY header split across {n} TCP segments: the spec says a v2 receiver must reject partial headers"
                ),
            );
        }
        if h.stacked {
            add(
                "proxy.stacked",
                Severity::Warning,
                f,
                "a second PROXY header follows the first (two proxies both add one; AWS NLB does not strip earlier headers)".into(),
            );
        }
        if h.version == 1 && f.lb_range.as_deref() == Some("rfc6598-cloud-lb") {
            add(
                "proxy.v1-from-v2-only-lb",
                Severity::Info,
                f,
                "PROXY v1 from an address in the Alibaba/Tencent CLB range, whose layer-4 listeners only send v2: another proxy is in the path".into(),
            );
        }
        // Once per flow (the first warning speaks for the rest): per warning, a header of
        // 1,300 tiny TLVs listed its flow 2,600 times.
        if let Some(w) = h
            .warnings
            .iter()
            .find(|w| w.code != crate::inspect::proxy::code::V2_CRC32C_MISMATCH)
        {
            add(
                "proxy.header-warning",
                Severity::Info,
                f,
                format!("PROXY header: {} [{}]", w.message, w.code),
            );
        }
    }
    for ((code, sev), (fl, packets, text)) in by_code {
        let n = fl.len();
        let mut f = grouped(
            code,
            sev,
            &fl,
            if n > 1 {
                format!("{text} ({n} flows)")
            } else {
                text
            },
            packets,
        );
        if code == "proxy.malformed" || code == "proxy.crc32c-mismatch" {
            f.confirm.tshark = Some(format!("{} -Y proxy -V", super::tshark_proxy(fl[0].proto)));
        }
        out.push(f);
    }
}

fn xff_findings(flows: &[&FlowReport], out: &mut Vec<Finding>) {
    let mut headers = Vec::new();
    let mut entries = Vec::new();
    let mut example = None;
    let mut invalid = Vec::new();
    for f in flows {
        let Some(req) = f.inspection.http.as_ref().and_then(|h| h.requests.first()) else {
            continue;
        };
        let count: usize = req
            .x_forwarded_for
            .iter()
            .map(|h| h.entries.len() + h.entries_not_listed as usize)
            .sum();
        if req.x_forwarded_for.len() > 1 || req.x_forwarded_for_not_listed() > 0 {
            headers.push(*f);
        } else if count > 1 {
            entries.push(*f);
        }
        if count > 1 && example.is_none() {
            // Long lists are shown by their ends, as they are kept.
            let lines: Vec<String> = req
                .x_forwarded_for
                .iter()
                .map(|h| {
                    let mut all: Vec<&str> = h.entries.iter().map(|e| &*e.raw).collect();
                    let more = format!("… {} more", h.entries_not_listed);
                    if h.entries_not_listed > 0 {
                        all.insert(crate::inspect::http::ENDS_KEPT, &more);
                    }
                    all.join(", ")
                })
                .collect();
            example = Some(lines.join(", "));
        }
        if req
            .x_forwarded_for
            .iter()
            .any(|h| h.invalid_not_listed || h.entries.iter().any(|e| !e.valid))
        {
            invalid.push(*f);
        }
    }
    let fixes = || {
        vec![
            "nginx: `set_real_ip_from <balancer addresses>; real_ip_header X-Forwarded-For; real_ip_recursive on;` (takes the right-most untrusted entry)".to_string(),
            "HAProxy in front: `http-request del-header X-Forwarded-For` before `option forwardfor`, so clients cannot inject entries".to_string(),
        ]
    };
    let example = example.unwrap_or_default();
    if !headers.is_empty() {
        let mut f = grouped(
            "xff.multiple-headers",
            Severity::Warning,
            &headers,
            format!(
                "several X-Forwarded-For header lines ({example}): only the last entry of the last line was added by the balancer; the earlier ones are whatever the client sent"
            ),
            headers.iter().map(|f| f.first_packet).collect(),
        );
        f.fix = fixes();
        f.confirm.tshark = Some("tshark -r CAPTURE -Y 'http.x_forwarded_for' -T fields -e frame.number -e ip.src -e http.x_forwarded_for".into());
        out.push(f);
    }
    if !entries.is_empty() {
        let mut f = grouped(
            "xff.multiple-entries",
            Severity::Info,
            &entries,
            format!(
                "X-Forwarded-For lists several hops ({example}): each proxy appends its peer; trust entries only from the right, as far as your own proxies go"
            ),
            entries.iter().map(|f| f.first_packet).collect(),
        );
        f.fix = fixes();
        out.push(f);
    }
    if !invalid.is_empty() {
        out.push(grouped(
            "xff.invalid-entry",
            Severity::Warning,
            &invalid,
            "an X-Forwarded-For entry is not a valid address (or is ambiguous, e.g. leading zeros read as octal by some parsers)".into(),
            invalid.iter().map(|f| f.first_packet).collect(),
        ));
    }
}

fn trust(flows: &[&FlowReport], cfg: &CheckConfig, out: &mut Vec<Finding>) {
    if cfg.trusted_lb.is_empty() {
        return;
    }
    let untrusted: Vec<&FlowReport> = flows
        .iter()
        .copied()
        .filter(|f| {
            f.client_ip.as_ref().is_some_and(|c| c.by != "ip-source")
                && !cfg.trusted_lb.iter().any(|n| n.contains(&f.client.ip))
        })
        .collect();
    if let Some(first) = untrusted.first() {
        let mut f = grouped(
            "trust.header-from-untrusted-source",
            Severity::Warning,
            &untrusted,
            format!(
                "client-conveying headers arrive from {} which is not a --trusted-lb address: anyone who can connect can claim any client",
                first.client.ip
            ),
            untrusted.iter().map(|f| f.first_packet).collect(),
        );
        f.fix = vec!["accept PROXY/X-Forwarded-For only from the balancer: nginx `set_real_ip_from <LB CIDR>;`, firewall the port to the LB".into()];
        out.push(f);
    }
}

fn lb_range_sources(flows: &[&FlowReport], cfg: &CheckConfig, out: &mut Vec<Finding>) {
    let mut by_range: BTreeMap<String, Vec<&FlowReport>> = BTreeMap::new();
    for f in flows {
        if let Some(r) = &f.lb_range {
            by_range.entry(r.to_string()).or_default().push(f);
        }
    }
    for (name, fl) in by_range {
        let Some(m) = cfg.lb_ranges.lookup(fl[0].client.ip) else {
            continue;
        };
        let possible = if m.ambiguous { "possibly " } else { "" };
        let confirm = format!(
            "tcpdump -nn -r CAPTURE 'src net {} and {}'",
            m.cidr,
            super::tcpdump_flags(fl[0].proto, m.cidr.addr().is_ipv6(), "tcp-syn")
        );
        out.push(with_tcpdump(confirm, grouped(
            "lb-range.source",
            Severity::Info,
            &fl,
            format!(
                "{} flow{} from {} ({name}: {}): {possible}the balancer or its health checker{}",
                fl.len(),
                plural(fl.len()),
                m.cidr,
                m.vendor,
                if m.ambiguous {
                    "; the range is also used for carrier-grade NAT and VPNs"
                } else {
                    ""
                }
            ),
            fl.iter().map(|f| f.first_packet).collect(),
        )));
    }
}

/// The 2026 spec revision: on UDP the header is in every datagram; Spectrum-style senders put
/// it only in the first.
fn udp_first_datagram_only(flows: &[&FlowReport], out: &mut Vec<Finding>) {
    let hits: Vec<&FlowReport> = flows
        .iter()
        .copied()
        .filter(|f| {
            f.inspection
                .proxy_datagrams
                .is_some_and(|d| d.inspected > 1 && d.with_header == 1)
        })
        .collect();
    if !hits.is_empty() {
        out.push(grouped(
            "proxy.udp-first-datagram-only",
            Severity::Warning,
            &hits,
            "PROXY header only in the first datagram of a UDP flow: the spec (2026-04 revision) puts one in every datagram; receivers that follow it drop the rest".into(),
            hits.iter().map(|f| f.first_packet).collect(),
        ));
    }
}
