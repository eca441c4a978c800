//! Checks: pure functions from flow summaries to findings and verdicts. No I/O here.

mod capture;
pub mod lb_ranges;
pub mod verdict;

pub use capture::capture_findings;
pub use verdict::{ClientIpVerdict, ProxyVerdict, ReturnPathVerdict, SnatVerdict, Verdicts};

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
            flows: Vec::new(),
            packets: Vec::new(),
            fix: Vec::new(),
            confirm: Confirm::default(),
        }
    }
}
