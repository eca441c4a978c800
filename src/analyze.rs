//! Drives the pipeline over the input files: source → decode → flows. Each file has its own
//! flow table (two capture points of one connection are two views, not one flow); flow ids
//! continue across files in first-seen order.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::config::Config;
use crate::decode::{self, Stop};
use crate::flow::{Flow, FlowTable, TableStats};
use crate::source::{CutShort, FileFormat, InterfaceInfo, SourceError, open_capture};

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
}

pub struct Analysis {
    pub inputs: Vec<InputSummary>,
    /// Flows with the index of the input they came from.
    pub flows: Vec<(usize, Flow)>,
}

pub fn analyze(config: &Config) -> Result<Analysis, SourceError> {
    let mut inputs = Vec::new();
    let mut flows = Vec::new();
    let mut next_id = 1;
    for (i, path) in config.files.iter().enumerate() {
        let (summary, table) = read_file(path, next_id, &config.ports)?;
        next_id = table.next_id();
        inputs.push(summary);
        flows.extend(table.into_flows().into_iter().map(|f| (i, f)));
    }
    Ok(Analysis { inputs, flows })
}

fn read_file(
    path: &PathBuf,
    first_id: u32,
    ports: &[u16],
) -> Result<(InputSummary, FlowTable), SourceError> {
    let mut file = open_capture(path)?;
    let mut table = FlowTable::new(first_id, ports);
    let mut s = InputSummary {
        path: path.clone(),
        format: file.format(),
        interfaces: Vec::new(),
        packets: 0,
        truncated_packets: 0,
        first_ts: None,
        last_ts: None,
        bytes: std::fs::metadata(path).map_or(0, |m| m.len()),
        by_link_type: BTreeMap::new(),
        undecoded: BTreeMap::new(),
        cut_short: None,
        table: TableStats::default(),
    };
    // Counting by link-type number first keeps the per-packet path free of string work.
    let mut by_link: BTreeMap<crate::source::LinkType, u64> = BTreeMap::new();
    while let Some(raw) = file.next_packet()? {
        s.packets += 1;
        *by_link.entry(raw.link_type).or_default() += 1;
        s.first_ts.get_or_insert(raw.ts_nanos);
        s.last_ts = Some(raw.ts_nanos);
        let d = decode::decode(&raw);
        if d.truncated {
            s.truncated_packets += 1;
        }
        if let Some(stop) = d.stop {
            *s.undecoded.entry(stop).or_default() += 1;
        }
        table.add(&raw, &d);
    }
    s.by_link_type = by_link.into_iter().map(|(l, n)| (l.name(), n)).collect();
    s.interfaces = file.interfaces().to_vec();
    s.cut_short = file.cut_short().cloned();
    s.table = table.stats.clone();
    Ok((s, table))
}
