//! The text report: verdicts first (three lines and a person knows), then findings with their
//! evidence and fix, then the flow table. Deterministic for a given report (golden tests).

use std::fmt::Write as _;
use std::io::Write;

use colored::{ColoredString, Colorize};
use comfy_table::{ColumnConstraint, ContentArrangement, LineStyle, Table, TableStyle, Width};

use super::model::{FlowReport, Report, ServiceReport};
use crate::checks::{Finding, Severity};
use crate::config::OutputConfig;

/// A header rule and nothing else: compact, and easy to read in a diff.
pub(super) const TABLE_STYLE: TableStyle =
    TableStyle::new().header_separator(LineStyle::none().fill('─').junction('─'));

/// Services shown with all four verdicts; the rest get one line each.
const DETAILED_SERVICES: usize = 3;

/// Flows listed without `--flows`.
const DEFAULT_FLOW_ROWS: usize = 20;

/// How many of `len` items a list shows: at most `cap`, or all with `--flows`.
fn shown(len: usize, cap: usize, all: bool) -> usize {
    if all { len } else { len.min(cap) }
}

/// Findings of one code listed without `--flows` (one per service or file).
const FINDINGS_PER_CODE: usize = 5;

/// Paths listed without `--flows` (a balancer capture has one per proxied connection).
const DEFAULT_PATHS: usize = 10;

/// One-line services listed without `--flows` (a port scan makes one per port).
const OTHER_SERVICE_ROWS: usize = 20;

pub fn render(
    report: &Report,
    out: OutputConfig,
    color: bool,
    w: &mut dyn Write,
) -> std::io::Result<()> {
    colored::control::set_override(color);
    writeln!(w, "{} {}", "lbcheck".bold(), report.tool.version)?;
    for input in &report.input {
        let links: Vec<String> = input
            .interfaces
            .iter()
            .map(|i| i.link_type.name())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        write!(
            w,
            "input  {}: {}, {}, {} packets",
            input.path,
            format_name(input.format),
            links.join("+"),
            input.packets
        )?;
        if input.truncated_packets > 0 {
            write!(w, " ({} cut by snaplen)", input.truncated_packets)?;
        }
        writeln!(w)?;
    }
    if report.services.is_empty() {
        writeln!(
            w,
            "\nNo TCP or UDP flows{}.",
            if report.stats.packets == 0 {
                " (the capture holds no packets)"
            } else {
                ""
            }
        )?;
    }
    let several = report.input.len() > 1;
    for s in report.services.iter().take(DETAILED_SERVICES) {
        let file = if several {
            report.input.get(s.input).map(|i| i.path.as_str())
        } else {
            None
        };
        service(w, s, file)?;
    }
    if report.services.len() > DETAILED_SERVICES {
        writeln!(w, "\n{}", "Other services".bold())?;
        let others = &report.services[DETAILED_SERVICES..];
        let shown = shown(others.len(), OTHER_SERVICE_ROWS, out.all_flows);
        for s in &others[..shown] {
            writeln!(
                w,
                "  {}/{} ({} flows)",
                s.proto.name(),
                s.port,
                s.flows.len()
            )?;
        }
        let rest = &others[shown..];
        if !rest.is_empty() {
            let flows: usize = rest.iter().map(|s| s.flows.len()).sum();
            writeln!(
                w,
                "  … {} more services ({flows} flows; --flows lists them)",
                rest.len()
            )?;
        }
    }
    if !report.verdict_sources.is_empty() {
        let v = &report.verdicts;
        writeln!(w, "\n{}", "Across the capture points".bold())?;
        for (label, key, value) in [
            ("client IP", "client_ip", word(&v.client_ip)),
            ("SNAT", "snat", word(&v.snat)),
            ("PROXY protocol", "proxy_protocol", word(&v.proxy_protocol)),
            ("return path", "return_path", word(&v.return_path)),
        ] {
            let from = report
                .verdict_sources
                .get(key)
                .map_or(String::new(), |s| format!("  (from {s})"));
            writeln!(w, "  {label:<15} {}{from}", paint(&value))?;
        }
    }
    if !report.paths.is_empty() {
        paths(report, out.all_flows, w)?;
    }
    if !report.expectations.is_empty() {
        writeln!(w, "\n{}", "Expectations".bold())?;
        for e in &report.expectations {
            let tag = if e.ok {
                "ok    ".green()
            } else {
                "FAILED".red().bold()
            };
            writeln!(w, "  {tag} {}={}  (found {})", e.check, e.expected, e.found)?;
            if let Some(b) = &e.because {
                writeln!(w, "         because {b}")?;
            }
        }
    }
    if !report.findings.is_empty() {
        writeln!(w, "\n{}", "Findings".bold())?;
        // Findings of one code and severity are adjacent (sorted by severity, code, service): a port scan
        // or a few hundred files can repeat one for each service or file.
        for same in report.findings.chunk_by(|a, b| a.code == b.code) {
            let shown = shown(same.len(), FINDINGS_PER_CODE, out.all_flows);
            for f in &same[..shown] {
                finding(w, f)?;
            }
            if shown < same.len() {
                writeln!(
                    w,
                    "  … {} more {} findings (--flows lists them)",
                    same.len() - shown,
                    same[0].code
                )?;
            }
        }
    }
    if let Some(host) = &report.host {
        writeln!(w, "\n{} ({})", "Host".bold(), host.interface)?;
        for line in host.text_lines() {
            writeln!(w, "  {line}")?;
        }
    }
    if !report.flows.is_empty() {
        flow_table(report, out, w)?;
        if out.verbose > 0 {
            details(report, w)?;
        }
    }
    Ok(())
}

fn format_name(f: crate::source::FileFormat) -> &'static str {
    match f {
        crate::source::FileFormat::Pcap => "pcap",
        crate::source::FileFormat::Pcapng => "pcapng",
        crate::source::FileFormat::Live => "live",
    }
}

fn service(w: &mut dyn Write, s: &ServiceReport, file: Option<&str>) -> std::io::Result<()> {
    let ips: Vec<String> = s.server_ips.iter().map(ToString::to_string).collect();
    let hc = if s.health_checks > 0 {
        format!(", {} of them health checks", s.health_checks)
    } else {
        String::new()
    };
    let file = file.map_or(String::new(), |f| format!(" in {f}"));
    writeln!(
        w,
        "\n{} {}/{} on {}{file} ({} flows{hc})",
        "Service".bold(),
        s.proto.name(),
        s.port,
        ips.join(", "),
        s.flows.len()
    )?;
    let v = &s.verdicts;
    for (label, value) in [
        ("client IP", word(&v.client_ip)),
        ("SNAT", word(&v.snat)),
        ("PROXY protocol", word(&v.proxy_protocol)),
        ("return path", word(&v.return_path)),
    ] {
        writeln!(w, "  {label:<15} {}", paint(&value))?;
    }
    let side = word(&s.side.value);
    match (&s.side.reason, s.side.inferred) {
        (Some(r), true) => writeln!(w, "  {:<15} {} (inferred: {r})", "capture side", side)?,
        (Some(r), false) => writeln!(w, "  {:<15} {} ({r})", "capture side", side)?,
        (None, _) => writeln!(w, "  {:<15} {}", "capture side", side)?,
    }
    Ok(())
}

/// The serde name of a verdict value, e.g. `proxy-v2`.
fn word<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|j| j.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn paint(value: &str) -> ColoredString {
    match value {
        "unknown" | "not-applicable" => value.dimmed(),
        "lost" | "broken" | "mixed" => value.red().bold(),
        _ => value.green(),
    }
}

fn finding(w: &mut dyn Write, f: &Finding) -> std::io::Result<()> {
    let tag = match f.severity {
        Severity::Error => "ERROR  ".red().bold(),
        Severity::Warning => "WARNING".yellow().bold(),
        Severity::Info => "info   ".normal(),
    };
    let svc = f
        .service
        .as_deref()
        .map_or(String::new(), |s| format!("[{s}] "));
    writeln!(w, "  {tag} {svc}{}  {}", f.code, f.summary)?;
    if let Some(d) = &f.detail {
        writeln!(w, "          {d}")?;
    }
    if !f.packets.is_empty() {
        let list: Vec<String> = f.packets.iter().take(10).map(ToString::to_string).collect();
        writeln!(
            w,
            "          packets: {}{}",
            list.join(", "),
            if f.packets.len() > 10 { ", …" } else { "" }
        )?;
    }
    for line in &f.fix {
        writeln!(w, "          fix: {line}")?;
    }
    if let Some(c) = f.confirm.tcpdump.as_ref().or(f.confirm.tshark.as_ref()) {
        writeln!(w, "          confirm: {c}")?;
    }
    Ok(())
}

fn flow_table(report: &Report, out: OutputConfig, w: &mut dyn Write) -> std::io::Result<()> {
    let total = report.flows.len();
    let shown = shown(total, DEFAULT_FLOW_ROWS, out.all_flows);
    if shown < total {
        writeln!(
            w,
            "\n{} (first {shown} of {total}; --flows lists all)",
            "Flows".bold()
        )?;
    } else {
        writeln!(w, "\n{}", "Flows".bold())?;
    }
    flow_rows(&report.flows[..shown], FLOW_BLOCK_ROWS, w)
}

/// The flow table, written `block_rows` flows at a time. Pass 1 takes the column widths of the
/// whole list (header included); pass 2 lays each block out with them, so the text is what one
/// table of every row would print.
fn flow_rows(flows: &[FlowReport], block_rows: usize, w: &mut dyn Write) -> std::io::Result<()> {
    let mut widths = flow_block(&[], true).column_max_content_widths();
    for f in flows {
        for (w, cell) in widths.iter_mut().zip(flow_cells(f)) {
            *w = (*w).max(cell_width(&cell));
        }
    }
    if flows.is_empty() {
        return writeln!(w, "{}", flow_block(&[], true));
    }
    for (i, block) in flows.chunks(block_rows).enumerate() {
        let mut t = flow_block(block, i == 0);
        for (column, &width) in t.column_iter_mut().zip(&widths) {
            let width = width.saturating_add(column.padding_width());
            column.set_constraint(ColumnConstraint::Absolute(Width::Fixed(width)));
        }
        writeln!(w, "{t}")?;
    }
    Ok(())
}

/// Flows per table block. A table holds every cell and joins its lines into one string before
/// it is written (about 2.8 KB per row): one table of 40,000 flows more than doubled the peak
/// memory of `--flows` on a 1 GiB capture.
const FLOW_BLOCK_ROWS: usize = 1024;

/// The flow table for `flows`, with the header row when `header`.
fn flow_block(flows: &[FlowReport], header: bool) -> Table {
    let mut t = Table::new();
    t.load_style(TABLE_STYLE)
        .set_content_arrangement(ContentArrangement::Disabled);
    if header {
        t.set_header(vec![
            "#",
            "from",
            "to",
            "client (how)",
            "pkts →/←",
            "bytes →/←",
            "tcp",
            "first bytes →",
            "from pkt",
        ]);
    }
    for f in flows {
        t.add_row(flow_cells(f));
    }
    t
}

/// The cells of a flow's row.
fn flow_cells(f: &FlowReport) -> [String; 9] {
    [
        f.id.to_string(),
        endpoint(&f.client.ip, f.client.port),
        format!(
            "{}/{}",
            endpoint(&f.server.ip, f.server.port),
            f.proto.name()
        ),
        conveyed(f),
        format!("{}/{}", f.packets.to_server, f.packets.to_client),
        format!("{}/{}", f.bytes.to_server, f.bytes.to_client),
        tcp_state(f),
        first_bytes(f),
        f.first_packet.to_string(),
    ]
}

/// The width of a cell as comfy-table measures it: one column per byte of printable ASCII
/// (nearly every cell), comfy-table's own measure for anything else.
fn cell_width(cell: &str) -> u16 {
    if cell.bytes().all(|b| b == b' ' || b.is_ascii_graphic()) {
        return u16::try_from(cell.len()).unwrap_or(u16::MAX);
    }
    let mut t = Table::new();
    t.add_row([cell]);
    t.column_max_content_widths()[0]
}

fn endpoint(ip: &std::net::IpAddr, port: u16) -> String {
    match ip {
        std::net::IpAddr::V6(v6) => format!("[{v6}]:{port}"),
        std::net::IpAddr::V4(v4) => format!("{v4}:{port}"),
    }
}

/// The client the flow conveys and how, or why it conveys none.
fn conveyed(f: &FlowReport) -> String {
    if f.kind == "health-check" {
        return "health check".into();
    }
    match &f.client_ip {
        Some(c) if c.by == "ip-source" => "= from".into(),
        Some(c) => format!("{} ({})", c.ip, c.by),
        None => "-".into(),
    }
}

fn tcp_state(f: &FlowReport) -> String {
    let Some(t) = &f.tcp else { return "-".into() };
    let mut parts = Vec::new();
    if t.handshake_complete {
        parts.push("est".to_string());
    } else if t.syn.is_some() && t.synack.is_none() {
        parts.push(format!("SYN×{} no SYN-ACK", t.syn_count));
    } else if t.syn.is_none() && t.synack.is_some() {
        parts.push("SYN-ACK only".into());
    } else if t.syn.is_none() {
        parts.push("mid-stream".into());
    }
    if t.rst_from_server.is_some() {
        parts.push("RST←".into());
    }
    if t.rst_from_client.is_some() {
        parts.push("RST→".into());
    }
    if t.fin_from_client.is_some() || t.fin_from_server.is_some() {
        parts.push("FIN".into());
    }
    if t.retransmissions > 0 {
        parts.push(format!("{} retx", t.retransmissions));
    }
    if t.overlap_conflicts > 0 {
        parts.push(format!("{} conflicting", t.overlap_conflicts));
    }
    parts.join(" ")
}

fn first_bytes(f: &FlowReport) -> String {
    use crate::inspect::flow::ProxySeen;
    let ins = &f.inspection;
    let after = &ins.first_bytes.to_server;
    let rest = if after.kind == crate::inspect::payload::PayloadKind::Empty {
        String::new()
    } else {
        after.summary.to_string()
    };
    match ins.proxy_seen {
        ProxySeen::Present => {
            let h = ins.proxy.as_ref().expect("present means a header");
            let mut s = format!("PROXY v{}", h.version);
            if let Some(c) = h.command {
                s.push(' ');
                s.push_str(&word(&c));
            }
            if let (Some(src), Some(port)) = (&h.src, h.src_port) {
                let _ = write!(s, " {src}:{port}");
            }
            if h.status != crate::inspect::proxy::Status::Complete {
                let _ = write!(s, " [{}]", word(&h.status));
            }
            if !rest.is_empty() {
                s.push_str(" + ");
                s.push_str(&rest);
            }
            s
        }
        ProxySeen::NotCaptured => "not captured (snaplen)".into(),
        ProxySeen::NoPayload => "no payload".into(),
        ProxySeen::Absent => rest,
    }
}

/// `-v`: what each flow's first bytes say, field by field (every TLV, every forwarding header).
fn details(report: &Report, w: &mut dyn Write) -> std::io::Result<()> {
    writeln!(w, "\n{}", "Flow details".bold())?;
    for f in &report.flows {
        let ins = &f.inspection;
        writeln!(
            w,
            "\nflow {}: {} → {} ({}, from packet {})",
            f.id,
            endpoint(&f.client.ip, f.client.port),
            endpoint(&f.server.ip, f.server.port),
            f.proto.name(),
            f.first_packet
        )?;
        if let Some(reason) = &f.kind_reason {
            writeln!(w, "  health check: {reason}")?;
        }
        if let Some(h) = &ins.proxy {
            let cmd = h
                .command
                .map_or(String::new(), |c| format!(" {}", word(&c)));
            let fam = h.family.map_or(String::new(), |c| format!(" {}", word(&c)));
            writeln!(
                w,
                "  PROXY v{}{cmd}{fam}, {} bytes, {}",
                h.version,
                h.header_len,
                word(&h.status)
            )?;
            if let (Some(src), Some(dst)) = (&h.src, &h.dst) {
                writeln!(
                    w,
                    "    source {src}:{}  destination {dst}:{}",
                    h.src_port.map_or("-".into(), |p| p.to_string()),
                    h.dst_port.map_or("-".into(), |p| p.to_string())
                )?;
            }
            if h.version == 2 {
                writeln!(w, "    CRC32C {}", word(&h.crc32c))?;
            }
            if let Some(l) = &h.local_layout {
                writeln!(w, "    LOCAL layout: {} ({})", word(&l.used), l.reason)?;
            }
            for t in &h.tlvs.decode() {
                tlv_line(w, t, 4)?;
            }
            if let Some(e) = &h.error {
                writeln!(
                    w,
                    "    error {} at byte {}: {}",
                    e.code, e.offset, e.message
                )?;
            }
            for warn in &h.warnings {
                writeln!(
                    w,
                    "    warning {} at byte {}: {}",
                    warn.code, warn.offset, warn.message
                )?;
            }
            if h.warnings_not_listed > 0 {
                writeln!(
                    w,
                    "    … {} more warnings, not listed",
                    h.warnings_not_listed
                )?;
            }
        }
        if let Some(t) = &ins.toa {
            writeln!(
                w,
                "  TOA (TCP option {}) in packet {}: {}:{}",
                t.toa.kind, t.packet, t.toa.ip, t.toa.port
            )?;
        }
        if let Some(s) = &ins.spp {
            writeln!(
                w,
                "  Cloudflare SPP: client {}:{} via {}:{}",
                s.client_ip, s.client_port, s.proxy_ip, s.proxy_port
            )?;
        }
        writeln!(w, "  first bytes → {}", ins.first_bytes.to_server.summary)?;
        writeln!(w, "  first bytes ← {}", ins.first_bytes.to_client.summary)?;
        if let Some(http) = &ins.http {
            for r in &http.requests {
                writeln!(
                    w,
                    "  {} {} {} (Host: {})",
                    r.method,
                    r.uri,
                    r.version,
                    r.host.as_deref().unwrap_or("-")
                )?;
                for x in &r.x_forwarded_for {
                    let mut entries: Vec<String> = x
                        .entries
                        .iter()
                        .map(|e| {
                            if e.valid {
                                e.raw.to_string()
                            } else {
                                format!("{} [invalid]", e.raw)
                            }
                        })
                        .collect();
                    if x.entries_not_listed > 0 {
                        let more = format!("… {} more", x.entries_not_listed);
                        entries.insert(crate::inspect::http::ENDS_KEPT, more);
                    }
                    writeln!(w, "    X-Forwarded-For: {}", entries.join(", "))?;
                }
                if r.x_forwarded_for_not_listed() > 0 {
                    let n = r.x_forwarded_for_not_listed();
                    writeln!(w, "    … {n} more X-Forwarded-For lines, not listed")?;
                }
                for fw in &r.forwarded {
                    let by = |a: &Option<crate::inspect::http::ForwardedAddr>| {
                        a.as_ref().map_or("-".to_string(), |a| a.raw.to_string())
                    };
                    writeln!(w, "    Forwarded: for={} by={}", by(&fw.for_), by(&fw.by))?;
                }
                for (name, v) in [
                    ("X-Real-IP", r.x_real_ip()),
                    ("True-Client-IP", r.true_client_ip()),
                    ("CF-Connecting-IP", r.cf_connecting_ip()),
                ] {
                    if let Some(v) = v {
                        writeln!(w, "    {name}: {v}")?;
                    }
                }
            }
            if http.requests_not_listed > 0 {
                writeln!(
                    w,
                    "  … {} more requests, not listed",
                    http.requests_not_listed
                )?;
            }
            let mut statuses: Vec<String> = http
                .responses
                .iter()
                .map(|r| r.status.to_string())
                .collect();
            if http.responses_not_listed > 0 {
                statuses.push(format!("… {} more, not listed", http.responses_not_listed));
            }
            if !statuses.is_empty() {
                writeln!(w, "  responses: {}", statuses.join(", "))?;
            }
        }
        if let Some(t) = &ins.tls {
            let mut alpn = t.alpn.join(",");
            if t.alpn_not_listed > 0 {
                alpn = format!("{alpn},… {} more", t.alpn_not_listed);
            }
            writeln!(
                w,
                "  TLS ClientHello SNI={} ALPN={alpn} versions={}",
                t.sni.as_deref().unwrap_or("-"),
                t.supported_versions.join(",")
            )?;
        }
    }
    Ok(())
}

fn tlv_line(
    w: &mut dyn Write,
    t: &crate::inspect::proxy::Tlv,
    indent: usize,
) -> std::io::Result<()> {
    writeln!(
        w,
        "{:indent$}TLV 0x{:02x} {} ({} bytes): {}",
        "", t.kind, t.name, t.length, t.value
    )?;
    for sub in &t.sub {
        tlv_line(w, sub, indent + 2)?;
    }
    Ok(())
}

/// Connections followed hop by hop across files (or both legs on a balancer capture): the
/// first [`DEFAULT_PATHS`], or every one when `all`.
fn paths(report: &Report, all: bool, w: &mut dyn Write) -> std::io::Result<()> {
    writeln!(w, "\n{} ({})", "Paths".bold(), report.paths.len())?;
    let shown = shown(report.paths.len(), DEFAULT_PATHS, all);
    for p in &report.paths[..shown] {
        writeln!(w, "  path {} (linked by {})", p.id, p.linked_by.join(", "))?;
        for h in &p.hops {
            let file = report.input.get(h.input).map_or("", |i| i.path.as_str());
            let at = match h.ifindex {
                Some(ix) => format!("{file} ifindex {ix}"),
                None if report
                    .input
                    .get(h.input)
                    .is_some_and(|i| i.interfaces.len() > 1) =>
                {
                    format!("{file} interface {}", h.interface)
                }
                None => file.to_string(),
            };
            let state = match (h.synack_seen, h.handshake_complete) {
                (_, Some(true)) => "handshake ok",
                (Some(true), _) => "SYN-ACK, no ACK",
                (Some(false), _) => "no SYN-ACK",
                _ => "",
            };
            writeln!(
                w,
                "    flow {:<4} {} → {}  {}{}  [{at}]",
                h.flow,
                endpoint(&h.from.ip, h.from.port),
                endpoint(&h.to.ip, h.to.port),
                state,
                h.header
                    .as_ref()
                    .map_or(String::new(), |x| format!(", {x}")),
            )?;
        }
        for e in &p.events {
            writeln!(w, "      · {e}")?;
        }
    }
    if shown < report.paths.len() {
        writeln!(
            w,
            "  … {} more paths (--flows lists them)",
            report.paths.len() - shown
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flow_table_in_blocks_is_the_table_of_all_rows() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
        // IPv4 and IPv6 endpoints, several services and kinds: columns change width from row
        // to row.
        let files = [
            root.join("lab/capture-variants/any-sll2.pcap"),
            root.join("ipv6_http_two_clients.pcap"),
        ];
        let report = crate::report::test_report(&[&files[0], &files[1]]);
        assert!(report.flows.len() > 30, "captures with many flows");
        // One table of every row, as comfy-table lays it out by itself.
        let all = format!("{}\n", flow_block(&report.flows, true)).into_bytes();
        for block_rows in [1, 2, 3, report.flows.len() - 1, usize::MAX] {
            let mut got = Vec::new();
            flow_rows(&report.flows, block_rows, &mut got).unwrap();
            assert!(got == all, "blocks of {block_rows} rows differ");
        }
        for cell in ["", "a b", "203.0.113.7:443/tcp", "é…", "漢字 x", "\u{301}"] {
            let mut t = Table::new();
            t.add_row([cell]);
            let want = t.column_max_content_widths()[0];
            assert!(
                cell_width(cell) == want || (cell.is_empty() && want == 1),
                "width of {cell:?}"
            );
        }
        let mut none = Vec::new();
        flow_rows(&[], 2, &mut none).unwrap();
        assert!(String::from_utf8(none).unwrap().starts_with(" #"));
    }
}
