//! lbcheck: packet-level diagnosis of load balancers.
//!
//! The pipeline, one module per stage:
//! `source` (pcap/pcapng/live) → `decode` (link, IP, L4, tunnels) → `flow` (5-tuple table,
//! first-bytes reassembly) → `inspect` (PROXY, HTTP, TLS, TOA, SPP) → `checks` (verdicts,
//! findings) → `report` (text, JSON, exit code).

pub mod analyze;
pub mod checks;
pub mod cli;
pub mod config;
pub mod decode;
pub mod flow;
pub mod generate;
pub mod host;
pub mod inspect;
#[cfg(target_os = "linux")]
pub mod live;
pub mod report;
pub mod run;
pub mod source;
pub mod summary;
