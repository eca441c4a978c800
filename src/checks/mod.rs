//! Checks: pure functions from flow summaries and configuration to findings and verdicts.
//! No I/O here.

mod capture;
pub mod expect;
pub mod flows;
mod headers;
pub mod lb_ranges;
pub mod return_path;
pub mod service;
pub mod verdict;

use std::net::IpAddr;

use ipnet::IpNet;

pub use capture::capture_findings;
pub use headers::header_findings;
pub use verdict::{ClientIpVerdict, ProxyVerdict, ReturnPathVerdict, SnatVerdict, Verdicts};

/// What the user told us that the packets cannot.
#[derive(Debug, Clone)]
pub struct CheckConfig {
    pub side: Option<SideValue>,
    pub vips: Vec<IpAddr>,
    pub lb_ranges: lb_ranges::LbRanges,
    pub trusted_lb: Vec<IpNet>,
    pub expectations: Vec<expect::Expectation>,
}

impl Default for CheckConfig {
    fn default() -> Self {
        Self {
            side: None,
            vips: Vec::new(),
            lb_ranges: lb_ranges::LbRanges::built_in(),
            trusted_lb: Vec::new(),
            expectations: Vec::new(),
        }
    }
}

/// Where a capture was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, clap::ValueEnum)]
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
