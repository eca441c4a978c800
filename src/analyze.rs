//! Drives the pipeline over the input files: source → decode → flows. Each file has its own
//! flow table (two capture points of one connection are two views, not one flow); flow ids
//! continue across files in first-seen order.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::config::Config;
use crate::decode::{self, Stop};
use crate::flow::{Flow, FlowTable, TableStats};
use crate::source::{
    CutShort, FileFormat, InterfaceInfo, LinkType, RawPacket, SourceError, open_capture,
};

/// What reading one file produced, besides flows.
#[derive(Debug, Clone)]
pub struct InputSummary {
    pub path: PathBuf,
    pub format: FileFormat,
    pub interfaces: Vec<InterfaceInfo>,
    pub packets: u64,
    pub truncated_packets: u64,
    pub first_ts: Option<i64>,
    pub last_ts: Option<i64>,
    pub bytes: u64,
    /// Packets per link-type name.
    pub by_link_type: BTreeMap<String, u64>,
    /// Packets that did not decode to TCP/UDP/ICMP, by reason.
    pub undecoded: BTreeMap<Stop, u64>,
    pub cut_short: Option<CutShort>,
    pub table: TableStats,
    /// Handshake (SYN) packets whose TCP checksum was verified, and how many were bad.
    pub syn_checksums_checked: u64,
    pub syn_checksums_bad: u64,
}

pub struct Analysis {
    pub inputs: Vec<InputSummary>,
    /// Flows with the index of the input they came from.
    pub flows: Vec<(usize, Flow)>,
}

pub fn analyze(config: &Config) -> Result<Analysis, SourceError> {
    let mut parts = Vec::new();
    let mut next_id = 1;
    for path in &config.files {
        let (summary, table) = read_file(path, next_id, &config.ports)?;
        next_id = table.next_id();
        parts.push((summary, table));
    }
    Ok(Analysis::from_inputs(parts))
}

fn read_file(
    path: &PathBuf,
    first_id: u32,
    ports: &[u16],
) -> Result<(InputSummary, FlowTable), SourceError> {
    let mut file = open_capture(path)?;
    let bytes = std::fs::metadata(path).map_or(0, |m| m.len());
    let mut input = InputAnalyzer::new(path.clone(), file.format(), bytes, first_id, ports);
    while let Some(raw) = file.next_packet()? {
        input.feed(&raw);
    }
    Ok(input.finish(file.interfaces().to_vec(), file.cut_short().cloned()))
}

/// One input's share of the pipeline: decode each packet, count it, add it to the flow table.
/// Files and live capture both feed it.
pub struct InputAnalyzer {
    table: FlowTable,
    summary: InputSummary,
    // Counting by link-type number keeps the per-packet path free of string work.
    by_link: BTreeMap<LinkType, u64>,
}

impl InputAnalyzer {
    pub fn new(
        path: PathBuf,
        format: FileFormat,
        bytes: u64,
        first_id: u32,
        ports: &[u16],
    ) -> Self {
        Self {
            table: FlowTable::new(first_id, ports),
            summary: InputSummary {
                path,
                format,
                interfaces: Vec::new(),
                packets: 0,
                truncated_packets: 0,
                first_ts: None,
                last_ts: None,
                bytes,
                by_link_type: BTreeMap::new(),
                undecoded: BTreeMap::new(),
                cut_short: None,
                table: TableStats::default(),
                syn_checksums_checked: 0,
                syn_checksums_bad: 0,
            },
            by_link: BTreeMap::new(),
        }
    }

    pub fn feed(&mut self, raw: &RawPacket<'_>) {
        let s = &mut self.summary;
        s.packets += 1;
        *self.by_link.entry(raw.link_type).or_default() += 1;
        s.first_ts.get_or_insert(raw.ts_nanos);
        s.last_ts = Some(raw.ts_nanos);
        let d = decode::decode(raw);
        if d.truncated {
            s.truncated_packets += 1;
        }
        if let Some(stop) = d.stop {
            *s.undecoded.entry(stop).or_default() += 1;
        }
        // Checksums are checked on SYNs only: enough to notice offload, and nearly free.
        if let (Some(ip), decode::L4::Tcp(t)) = (&d.ip, &d.l4) {
            if t.has(decode::tcp_flags::SYN) && !d.truncated && d.tunnel.is_none() && !ip.fragment {
                s.syn_checksums_checked += 1;
                if !decode::checksum::tcp_checksum_ok(ip.src, ip.dst, t.segment) {
                    s.syn_checksums_bad += 1;
                }
            }
        }
        self.table.add(raw, &d);
    }

    pub fn packets(&self) -> u64 {
        self.summary.packets
    }

    pub fn flows(&self) -> &[Flow] {
        self.table.flows()
    }

    pub fn finish(
        mut self,
        interfaces: Vec<InterfaceInfo>,
        cut_short: Option<CutShort>,
    ) -> (InputSummary, FlowTable) {
        let s = &mut self.summary;
        s.by_link_type = self
            .by_link
            .into_iter()
            .map(|(l, n)| (l.name(), n))
            .collect();
        s.interfaces = interfaces;
        s.cut_short = cut_short;
        s.table = self.table.stats.clone();
        (self.summary, self.table)
    }
}

impl Analysis {
    /// Gathers finished inputs (their flow ids already continue one another).
    pub fn from_inputs(parts: Vec<(InputSummary, FlowTable)>) -> Self {
        let mut inputs = Vec::new();
        let mut flows = Vec::new();
        for (i, (summary, table)) in parts.into_iter().enumerate() {
            inputs.push(summary);
            flows.extend(table.into_flows().into_iter().map(|f| (i, f)));
        }
        Self { inputs, flows }
    }
}
