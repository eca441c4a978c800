//! Checks: pure functions from flow summaries and configuration to findings and verdicts.
//! No I/O here.

mod capture;
pub mod expect;
pub mod flows;
mod headers;
pub mod lb_ranges;
mod overlap;
pub mod paths;
pub mod return_path;
pub mod service;
pub mod verdict;

use std::net::IpAddr;

use ipnet::IpNet;

pub use capture::capture_findings;
pub use headers::header_findings;
pub use overlap::overlap_findings;
pub use verdict::{ClientIpVerdict, ProxyVerdict, ReturnPathVerdict, SnatVerdict, Verdicts};

/// What the user told us that the packets cannot.
#[derive(Debug, Clone)]
pub struct CheckConfig {
    /// `--side SIDE`: every input.
    pub side: Option<SideValue>,
    /// `--side FILE=SIDE`: one input, matched by path or file name.
    pub side_by_file: Vec<(String, SideValue)>,
    pub vips: Vec<IpAddr>,
    pub lb_ranges: lb_ranges::LbRanges,
    pub trusted_lb: Vec<IpNet>,
    pub expectations: Vec<expect::Expectation>,
}

impl Default for CheckConfig {
    fn default() -> Self {
        Self {
            side: None,
            side_by_file: Vec::new(),
            vips: Vec::new(),
            lb_ranges: lb_ranges::LbRanges::built_in(),
            trusted_lb: Vec::new(),
            expectations: Vec::new(),
        }
    }
}

/// Where a capture was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SideValue {
    Client,
    Lb,
    Backend,
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Info,
}

/// How to confirm a finding by hand.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Confirm {
    pub tcpdump: Option<String>,
    pub tshark: Option<String>,
}

/// `tshark -r CAPTURE` with PROXY looked for first on `proto`'s payloads: Wireshark tries its
/// PROXY dissector only as a heuristic, after the port's own (HTTP on 80, DNS on 53).
pub fn tshark_proxy(proto: crate::flow::Proto) -> &'static str {
    match proto {
        crate::flow::Proto::Tcp => "tshark -r CAPTURE -o tcp.try_heuristic_first:TRUE",
        crate::flow::Proto::Udp => "tshark -r CAPTURE -o udp.try_heuristic_first:TRUE",
    }
}

/// A tcpdump filter for `proto` packets with one of TCP `flags` (`tcp-syn`, or a group such
/// as `(tcp-syn|tcp-fin)`): on IPv6 every TCP packet, since libpcap's `tcp[tcpflags]` does not
/// reach into IPv6 and matches nothing there; every datagram for UDP.
pub fn tcpdump_flags(proto: crate::flow::Proto, v6: bool, flags: &str) -> String {
    match (proto, v6) {
        (crate::flow::Proto::Tcp, false) => format!("tcp[tcpflags] & {flags} != 0"),
        (crate::flow::Proto::Tcp, true) => "tcp".into(),
        (crate::flow::Proto::Udp, _) => "udp".into(),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    /// Stable dotted code, e.g. `capture.cut-short`.
    pub code: &'static str,
    pub severity: Severity,
    /// One line.
    pub summary: String,
    pub detail: Option<String>,
    /// Which input file (index into `input`), when the finding is about one.
    pub input: Option<usize>,
    /// The service (`tcp/80`) it belongs to, when it belongs to one.
    pub service: Option<String>,
    pub flows: Vec<u32>,
    pub packets: Vec<u64>,
    /// Configuration lines that fix it.
    pub fix: Vec<String>,
    pub confirm: Confirm,
}

impl Finding {
    pub fn new(code: &'static str, severity: Severity, summary: String) -> Self {
        Self {
            code,
            severity,
            summary,
            detail: None,
            input: None,
            service: None,
            flows: Vec::new(),
            packets: Vec::new(),
            fix: Vec::new(),
            confirm: Confirm::default(),
        }
    }
}

impl CheckConfig {
    /// The side given for an input file, if any.
    pub fn side_for(&self, path: &std::path::Path) -> Option<SideValue> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        self.side_by_file
            .iter()
            .find(|(f, _)| *f == name || std::path::Path::new(f) == path)
            .map(|(_, s)| *s)
            .or(self.side)
    }
}

#[derive(Debug, thiserror::Error)]
#[error("--side {0:?}: expected client, lb, backend or unknown, optionally as FILE=SIDE")]
pub struct SideArgError(pub String);

/// Parses `--side SIDE` or `--side FILE=SIDE`.
pub fn parse_side(arg: &str) -> Result<(Option<String>, SideValue), SideArgError> {
    let (file, value) = match arg.rsplit_once('=') {
        Some((f, v)) if !f.is_empty() => (Some(f.to_string()), v),
        Some(_) => return Err(SideArgError(arg.into())),
        None => (None, arg),
    };
    let side = match value.trim().to_ascii_lowercase().as_str() {
        "client" => SideValue::Client,
        "lb" => SideValue::Lb,
        "backend" => SideValue::Backend,
        "unknown" => SideValue::Unknown,
        _ => return Err(SideArgError(arg.into())),
    };
    Ok((file, side))
}
