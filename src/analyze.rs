//! Drives the pipeline over the input files: source → decode → flows → (as each flow finishes)
//! its summary. Each file has its own flow table (two capture points of one connection are two
//! views, not one flow); flow ids continue across files in first-seen order.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::config::Config;
use crate::decode::{self, Stop};
use crate::flow::{Flow, FlowTable, TableStats};
use crate::source::{
    CutShort, FileFormat, InterfaceInfo, LinkType, RawPacket, SourceError, open_capture,
};
use crate::summary::FlowReport;

/// Flow summaries kept per input by default; flows beyond are counted, not kept (a SYN flood of
/// ten million one-packet flows must not exhaust memory), and the report says so.
pub const DEFAULT_MAX_FLOWS_KEPT: usize = 50_000;

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
    /// Flows beyond the kept maximum: counted, not summarised.
    pub flows_not_kept: u64,
}

pub struct Analysis {
    pub inputs: Vec<InputSummary>,
    /// Flow summaries of every input, in id (first-seen) order.
    pub flows: Vec<FlowReport>,
}

pub fn analyze(config: &Config) -> Result<Analysis, SourceError> {
    let mut parts = Vec::new();
    let mut next_id = 1;
    for path in &config.files {
        let mut file = open_capture(path)?;
        let bytes = std::fs::metadata(path).map_or(0, |m| m.len());
        let mut input =
            InputAnalyzer::new(path.clone(), file.format(), bytes, next_id, &config.ports);
        let progress = Progress::new(path, bytes, config.output.progress);
        let mut since = 0u32;
        while let Some(raw) = file.next_packet()? {
            input.feed(&raw);
            since += 1;
            if since == PROGRESS_EVERY {
                since = 0;
                progress.at(file.offset());
            }
        }
        progress.done();
        next_id = input.next_id();
        parts.push(input.finish(file.interfaces().to_vec(), file.cut_short().cloned()));
    }
    Ok(Analysis::from_inputs(parts))
}

/// Packets between two progress updates (cheap enough to be invisible in the figures).
const PROGRESS_EVERY: u32 = 1 << 14;
/// Files smaller than this finish before a bar would be worth drawing.
const PROGRESS_MIN_BYTES: u64 = 64 << 20;

/// A progress bar on stderr for long files, only on a terminal (never in pipes or JSON).
struct Progress(Option<indicatif::ProgressBar>);

impl Progress {
    fn new(path: &std::path::Path, bytes: u64, enabled: bool) -> Self {
        use std::io::IsTerminal;
        if !enabled || bytes < PROGRESS_MIN_BYTES || !std::io::stderr().is_terminal() {
            return Self(None);
        }
        let bar = indicatif::ProgressBar::new(bytes);
        let style = indicatif::ProgressStyle::with_template(
            "{msg:.24} {wide_bar} {bytes}/{total_bytes} {bytes_per_sec}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
        bar.set_style(style);
        bar.set_message(
            path.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        );
        Self(Some(bar))
    }

    fn at(&self, offset: u64) {
        if let Some(bar) = &self.0 {
            bar.set_position(offset);
        }
    }

    fn done(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}

/// One input's share of the pipeline: decode each packet, count it, add it to the flow table,
/// and summarise each flow the table hands out. Files and live capture both feed it.
pub struct InputAnalyzer {
    table: FlowTable,
    /// Summaries of the flows the table has handed out (their buffers are gone).
    reports: Vec<FlowReport>,
    max_kept: usize,
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
            table: {
                let mut t = FlowTable::new(first_id, ports);
                t.set_trim(crate::inspect::trim::worth_keeping);
                t
            },
            reports: Vec::new(),
            max_kept: DEFAULT_MAX_FLOWS_KEPT,
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
                flows_not_kept: 0,
            },
            by_link: BTreeMap::new(),
        }
    }

    /// A table with its own bound on open flows (tests, and users with small memory).
    #[must_use]
    pub fn with_limits(mut self, max_live: usize, max_kept: usize) -> Self {
        self.table.set_max_live(max_live);
        self.max_kept = max_kept;
        self
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
        for flow in self.table.drain_finished() {
            keep(
                &mut self.reports,
                &mut self.summary.flows_not_kept,
                self.max_kept,
                &flow,
            );
        }
    }

    pub fn packets(&self) -> u64 {
        self.summary.packets
    }

    pub fn next_id(&self) -> u32 {
        self.table.next_id()
    }

    /// Flows seen so far (open and finished).
    pub fn flow_count(&self) -> usize {
        self.table.live() + self.reports.len() + self.summary.flows_not_kept as usize
    }

    pub fn finish(
        mut self,
        interfaces: Vec<InterfaceInfo>,
        cut_short: Option<CutShort>,
    ) -> (InputSummary, Vec<FlowReport>) {
        let s = &mut self.summary;
        s.by_link_type = self
            .by_link
            .into_iter()
            .map(|(l, n)| (l.name(), n))
            .collect();
        s.interfaces = interfaces;
        s.cut_short = cut_short;
        s.table = self.table.stats.clone();
        for flow in self.table.finish_all() {
            keep(
                &mut self.reports,
                &mut s.flows_not_kept,
                self.max_kept,
                &flow,
            );
        }
        (self.summary, in_id_order(self.reports))
    }
}

/// Flows finish in their closing order; reports list them in first-seen order. Summaries are
/// large, so they are moved once into place rather than shuffled by a sort.
fn in_id_order(reports: Vec<FlowReport>) -> Vec<FlowReport> {
    let mut order: Vec<(u32, usize)> = reports.iter().enumerate().map(|(i, r)| (r.id, i)).collect();
    if order.windows(2).all(|w| w[0].0 < w[1].0) {
        return reports;
    }
    order.sort_unstable();
    let mut slots: Vec<Option<FlowReport>> = reports.into_iter().map(Some).collect();
    order
        .into_iter()
        .filter_map(|(_, i)| slots[i].take())
        .collect()
}

/// Summarises a finished flow (running the first-bytes inspection); its buffers go with it.
fn keep(reports: &mut Vec<FlowReport>, not_kept: &mut u64, max: usize, flow: &Flow) {
    if reports.len() < max {
        reports.push(crate::summary::flow_summary(0, flow));
    } else {
        *not_kept += 1;
    }
}

impl Analysis {
    /// Gathers finished inputs (their flow ids already continue one another).
    pub fn from_inputs(parts: Vec<(InputSummary, Vec<FlowReport>)>) -> Self {
        let mut inputs = Vec::new();
        let mut flows = Vec::new();
        for (i, (summary, reports)) in parts.into_iter().enumerate() {
            inputs.push(summary);
            flows.extend(reports.into_iter().map(|mut f| {
                f.input = i;
                f
            }));
        }
        Self { inputs, flows }
    }
}
