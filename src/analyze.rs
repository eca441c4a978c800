//! Drives the pipeline over the input files: source → decode → flows → (as each flow finishes)
//! its summary. Each file has its own flow table (two capture points of one connection are two
//! views, not one flow); flow ids continue across files in first-seen order. A large file is
//! split by flow across threads (`analyze_sharded`), and the parts merged back into exactly
//! what one thread makes.

mod ahead;
mod walker;

use std::collections::{BTreeMap, VecDeque};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::checks::lb_ranges::LbRanges;
use crate::config::Config;
use crate::decode::{self, Stop};
use crate::flow::{Flow, FlowTable, MAINTAIN_EVERY, TableStats};
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
    /// The bounds this input was read with (the findings quote them).
    pub limits: crate::config::Limits,
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
        // A stream is read on one analysis thread (and a reader thread).
        let stored = crate::source::stored_size(path);
        let bytes = stored.unwrap_or(0);
        let threads = if stored.is_some() {
            threads_for(bytes)
        } else {
            1
        };
        let progress = Progress::new(path, bytes, config.output.progress);
        let part = if threads > 1 && walker::wanted() {
            walker::analyze_walked(path, bytes, next_id, threads, config, &progress)?
        } else if threads > 1 {
            analyze_sharded(path, bytes, next_id, threads, config, &progress)?
        } else {
            let mut file = open_capture(path)?;
            let input = InputAnalyzer::for_run(path.clone(), file.format(), bytes, next_id, config);
            feed_all(&mut file, input, &progress)?
        };
        progress.done();
        next_id = part.next_id;
        parts.push((part.summary, part.reports));
    }
    Ok(Analysis::from_inputs(parts))
}

/// Analysis threads for a file of `bytes`: `LBCHECK_THREADS` when set (1 = all on one thread),
/// else one per core (at most [`MAX_THREADS`]) for files large enough to be read ahead.
fn threads_for(bytes: u64) -> usize {
    if let Some(n) = std::env::var("LBCHECK_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    {
        return n.clamp(1, 64);
    }
    if !crate::source::read_ahead_wanted(bytes) {
        return 1;
    }
    std::thread::available_parallelism().map_or(1, |n| n.get().min(MAX_THREADS))
}

/// Every thread reads and decodes every packet to find the ones it owns, so threads beyond a
/// few add more repeated work than they take away.
const MAX_THREADS: usize = 4;

/// What one input gave: its summary, its flows in id order, and the id the next input starts at.
struct InputPart {
    summary: InputSummary,
    reports: Vec<FlowReport>,
    next_id: u32,
}

fn feed_all(
    file: &mut crate::source::CaptureFile,
    mut input: InputAnalyzer,
    progress: &Progress,
) -> Result<InputPart, SourceError> {
    read_all(file, &mut input, Some(progress))?;
    // A stream's size is known once read (standard input; a gzip file: its capture bytes).
    if input.summary.bytes == 0 {
        input.summary.bytes = file.offset();
    }
    let next_id = input.next_id();
    let (summary, reports) = input.finish(file.interfaces().to_vec(), file.cut_short().cloned());
    Ok(InputPart {
        summary,
        reports,
        next_id,
    })
}

/// Feeds every packet of the file to `input`, moving the progress bar on the way.
fn read_all(
    file: &mut crate::source::CaptureFile,
    input: &mut InputAnalyzer,
    progress: Option<&Progress>,
) -> Result<(), SourceError> {
    let mut since = 0u32;
    let mut ahead = ahead::Ahead::default();
    let mut next = 1;
    loop {
        ahead.step(file, next, input);
        let Some(raw) = file.next_packet()? else {
            break;
        };
        next = raw.index + 1;
        input.feed_known(&raw, ahead.known(raw.index));
        since += 1;
        if since == PROGRESS_EVERY {
            since = 0;
            if let Some(p) = progress {
                p.at(file.offset());
            }
        }
    }
    Ok(())
}

/// One file on `n` threads, the sharing way (`LBCHECK_SPLIT=share`; by default the walker's
/// way, `walker.rs`). Each thread reads every packet (one reader thread or one memory map
/// shares the chunks), decodes it, and keeps those whose flow hashes to it: each flow lives wholly in one
/// thread's table, so flows, their inspection and their summaries run in parallel. The parts
/// are merged into what one thread would have produced: same flows, same ids (first-seen
/// order), same counts (tests/threads.rs compares whole reports), past the limits too: the
/// open-flow limit holds per flow group and each thread owns whole groups, and the kept
/// summaries are the file's earliest flows (see `InputAnalyzer::shard` and `KeptCut`).
fn analyze_sharded(
    path: &std::path::Path,
    bytes: u64,
    first_id: u32,
    n: usize,
    config: &Config,
    progress: &Progress,
) -> Result<InputPart, SourceError> {
    let files = crate::source::open_capture_shared(path, n)?;
    let cut = KeptCut::new(n, config.limits.max_flows);
    let cut = &cut;
    let results: Vec<Result<Shard, SourceError>> = std::thread::scope(|scope| {
        let mut files = files.into_iter().enumerate();
        let (_, first) = files.next().expect("at least one reader");
        let handles: Vec<_> = files
            .map(|(k, file)| {
                scope.spawn(move || {
                    let input =
                        InputAnalyzer::for_run(path.to_path_buf(), file.format(), bytes, 1, config)
                            .shard(k, Split::even(n), cut);
                    run_shard(file, input, None)
                })
            })
            .collect();
        let input = InputAnalyzer::for_run(path.to_path_buf(), first.format(), bytes, 1, config)
            .shard(0, Split::even(n), cut);
        let mut results = vec![run_shard(first, input, Some(progress))];
        results.extend(join_all(handles));
        results
    });
    merge_results(results, first_id)
}

/// Waits for the other threads of a file (one that panicked is re-raised).
fn join_all<T>(handles: Vec<std::thread::ScopedJoinHandle<'_, T>>) -> Vec<T> {
    handles
        .into_iter()
        .map(|h| h.join().expect("an analysis thread panicked"))
        .collect()
}

/// The threads' parts of one file merged, or the first error one of them met.
fn merge_results(
    results: Vec<Result<Shard, SourceError>>,
    first_id: u32,
) -> Result<InputPart, SourceError> {
    let shards = results.into_iter().collect::<Result<Vec<_>, _>>()?;
    Ok(merge_shards(shards, first_id))
}

/// Runs one thread's share; the file (its reader) is dropped at the end, so a reader that
/// stops early lets the others go on (see source/mapped.rs).
fn run_shard(
    mut file: crate::source::CaptureFile,
    mut input: InputAnalyzer,
    progress: Option<&Progress>,
) -> Result<Shard, SourceError> {
    read_all(&mut file, &mut input, progress)?;
    Ok(input.finish_shard(file.interfaces().to_vec(), file.cut_short().cloned()))
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
    /// The id of this input's first flow (ids continue across inputs).
    first_id: u32,
    summary: InputSummary,
    // Counting by link-type number keeps the per-packet path free of string work; a short
    // list, not a map: a file has one link type or a few, and a map's entry per packet cost
    // ~50 instructions on the thread that walks the file.
    by_link: Vec<(LinkType, u64)>,
    /// Set when this analyzer is one of several threads on one file: (which, how many).
    shard: Option<(usize, Split)>,
    /// Shared by the threads of one file: where its kept flows end.
    kept_cut: Option<Arc<KeptCut>>,
    /// The LB ranges to judge each summary by alone as it is made (see [`Self::for_run`]).
    ranges: Option<Arc<LbRanges>>,
}

/// One thread's part of a file (see `analyze_sharded`): flows with ids of its own table.
pub struct Shard {
    summary: InputSummary,
    reports: Vec<FlowReport>,
    /// Flows still to be summarised at the end of the file (see `summarise_leftovers`).
    #[allow(clippy::vec_box)] // as the table handed them out (see `FlowTable::take_finished`)
    leftover: Vec<Box<Flow>>,
    /// As the analyzer's: the leftovers are judged alone as they are summarised.
    ranges: Option<Arc<LbRanges>>,
    /// Flows its table created (kept or not).
    created: u32,
    /// Open flows at each maintenance tick, and at the end.
    live_samples: Vec<u32>,
    /// Summaries kept at most for the whole file.
    max_kept: usize,
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
                t.set_datagram_probe(crate::inspect::proxy::starts_header);
                t
            },
            reports: Vec::new(),
            max_kept: DEFAULT_MAX_FLOWS_KEPT,
            first_id,
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
                limits: crate::config::Limits::default(),
            },
            by_link: Vec::new(),
            shard: None,
            kept_cut: None,
            ranges: None,
        }
    }

    /// [`Self::new`] for an input of an analysis run with `config`: each summary is judged
    /// alone as it is made, by the checks' own LB ranges (the part of
    /// `checks::flows::annotate` that reads only the flow itself).
    pub fn for_run(
        path: PathBuf,
        format: FileFormat,
        bytes: u64,
        first_id: u32,
        config: &Config,
    ) -> Self {
        let mut input =
            Self::new(path, format, bytes, first_id, &config.ports).with_limits(config.limits);
        input.ranges = Some(Arc::new(config.check.lb_ranges.clone()));
        input
    }

    /// Makes this analyzer thread `k` of `n` on one file: it keeps the flows that hash to it.
    /// The open-flow limit holds per flow group and each thread owns whole groups, so every
    /// thread's table keeps the whole limit and evicts exactly what one table would. The kept
    /// summaries are the file's earliest flows; a thread keeps those among its own earliest
    /// `max_kept` that began before the file's cut (`cut`, shared by the threads of the file:
    /// see [`KeptCut`]), a superset of its part of them, and the merge cuts to the file's.
    #[must_use]
    fn shard(mut self, k: usize, split: Split, cut: &Arc<KeptCut>) -> Self {
        // The cut ranks flows against the same limit this thread keeps to.
        assert_eq!(
            cut.max_kept, self.max_kept as u64,
            "KeptCut made for another limit"
        );
        self.table.keep_samples();
        self.kept_cut = Some(Arc::clone(cut));
        self.shard = Some((k, split));
        self
    }

    /// A table with its own bound on open flows (tests, and users with small memory). The bound
    /// holds per flow group: `max_live` / 64 in each, rounded up.
    #[must_use]
    pub fn with_limits(mut self, limits: crate::config::Limits) -> Self {
        self.table.set_max_live(limits.max_open_flows);
        self.max_kept = limits.max_flows;
        self.summary.limits = limits;
        self
    }

    pub fn feed(&mut self, raw: &RawPacket<'_>) {
        self.feed_known(raw, None);
    }

    /// [`Self::feed`], with what the read loop's look ahead found of the packet (see
    /// `ahead.rs`), which saves finding its endpoints again. Answers the thread the packet
    /// belongs to when it is another's (this one only moved its clock on).
    fn feed_known(&mut self, raw: &RawPacket<'_>, known: ahead::Known) -> Option<usize> {
        // Counts of every packet are thread 0's; the rest belong to the flow's thread.
        if self.shard.is_none_or(|(k, _)| k == 0) {
            let s = &mut self.summary;
            s.packets += 1;
            match self.by_link.iter_mut().find(|(l, _)| *l == raw.link_type) {
                Some((_, n)) => *n += 1,
                None => self.by_link.push((raw.link_type, 1)),
            }
            s.first_ts.get_or_insert(raw.ts_nanos);
            s.last_ts = Some(raw.ts_nanos);
        }
        let d = match self.shard {
            None => decode::decode(raw),
            Some((k, split)) => {
                // Another thread's packet is told apart cheaply when it is plain TCP/UDP; the
                // rest are decoded to find their flow.
                let hash = known.unwrap_or_else(|| {
                    decode::quick::endpoints(raw).map(|(a, b)| crate::flow::pair_hash(a, b))
                });
                let quick = hash.map(|h| split.owner(h));
                if let Some(owner) = quick.filter(|&owner| owner != k) {
                    debug_assert_eq!(quick, Some(shard_of(&decode::decode(raw), split)));
                    self.pass(raw);
                    return Some(owner);
                }
                let d = decode::decode(raw);
                let owner = shard_of(&d, split);
                debug_assert!(quick.is_none_or(|q| q == owner), "packet {}", raw.index);
                if owner != k {
                    self.pass(raw);
                    return Some(owner);
                }
                d
            }
        };
        let s = &mut self.summary;
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
        if self.table.has_created() {
            // Beyond the kept flows, nothing will read a new flow's first bytes.
            let limit = self.kept_limit();
            self.table.seal_created_if(|flow| !limit.keeps(flow));
        }
        if self.table.has_settled() {
            // A flow that will not be summarised needs no inspection, only its memory back.
            let limit = self.kept_limit();
            self.table.seal_settled(|flow| {
                limit
                    .keeps(flow)
                    .then(|| crate::inspect::flow::inspect_settled(flow))
            });
        }
        self.publish(raw.index);
        self.drain();
        None
    }

    /// At each maintenance tick, tells the other threads of the file how many flows this one
    /// has created (see [`KeptCut`]).
    fn publish(&self, index: u64) {
        if let (Some(cut), Some((k, _))) = (&self.kept_cut, self.shard) {
            if index % u64::from(MAINTAIN_EVERY) == 0 {
                cut.publish(k, index, self.table.next_id() - self.first_id);
            }
        }
    }

    /// Which flows this analyzer summarises.
    fn kept_limit(&self) -> KeptLimit {
        KeptLimit {
            max: self.max_kept,
            first_id: self.first_id,
            last_packet: self.kept_cut.as_ref().map_or(u64::MAX, |c| c.last_packet()),
        }
    }

    /// Whether a flow with this hash is this analyzer's (all are, on one thread).
    fn owns(&self, hash: u64) -> bool {
        self.shard.is_none_or(|(k, split)| split.owner(hash) == k)
    }

    /// Another thread's packet: only the table's clock moves on.
    fn pass(&mut self, raw: &RawPacket<'_>) {
        self.tick(raw.index, raw.ts_nanos);
    }

    /// The clock of a packet this analyzer does not see (see `FlowTable::tick`).
    fn tick(&mut self, index: u64, ts_nanos: i64) {
        self.table.tick(index, ts_nanos);
        self.publish(index);
        self.drain();
    }

    /// Summarises the flows the table has handed out.
    fn drain(&mut self) {
        if !self.table.has_finished() {
            return;
        }
        let mut done = self.table.take_finished();
        let limit = self.kept_limit();
        let ranges = self.ranges.as_deref();
        for flow in &mut done {
            keep(
                &mut self.reports,
                &mut self.summary.flows_not_kept,
                limit,
                ranges,
                flow,
            );
        }
        self.table.recycle(done);
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
        let limit = self.kept_limit();
        let s = &mut self.summary;
        // Link types may share a name (RAW is 12, 14 or 101 by platform): their counts add up.
        s.by_link_type = BTreeMap::new();
        for (l, n) in self.by_link {
            *s.by_link_type.entry(l.name()).or_default() += n;
        }
        s.interfaces = interfaces;
        s.cut_short = cut_short;
        self.table.end_sample();
        s.table = self.table.stats.clone();
        let ranges = self.ranges.as_deref();
        for mut flow in self.table.finish_all() {
            keep(
                &mut self.reports,
                &mut s.flows_not_kept,
                limit,
                ranges,
                &mut flow,
            );
        }
        let mut reports = self.reports;
        sort_in_place(&mut reports, |r| r.id);
        (self.summary, reports)
    }

    /// [`Self::finish`] for one thread of several (see [`Self::shard`]).
    /// The flows still open at the end are handed back unsummarised (those within the kept
    /// limit): the threads of one file end together, and their leftovers are summarised on
    /// every core at once (`summarise_leftovers`) rather than each by its own thread.
    pub fn finish_shard(
        mut self,
        interfaces: Vec<InterfaceInfo>,
        cut_short: Option<CutShort>,
    ) -> Shard {
        self.table.end_sample();
        let live_samples = self.table.live_samples().to_vec();
        let created = self.table.next_id() - 1;
        let max_kept = self.max_kept;
        let ranges = self.ranges.clone();
        let table = std::mem::replace(&mut self.table, FlowTable::new(1, &[]));
        let stats = table.stats.clone();
        let mut leftover = table.finish_all();
        let before = leftover.len();
        let limit = self.kept_limit();
        leftover.retain(|f| limit.keeps(f));
        self.summary.flows_not_kept += (before - leftover.len()) as u64;
        let (mut summary, reports) = self.finish(interfaces, cut_short);
        summary.table = stats;
        Shard {
            summary,
            reports,
            leftover,
            ranges,
            created,
            live_samples,
            max_kept,
        }
    }
}

/// Which thread owns a decoded packet: the one its flow hashes to (see
/// [`shard_by_endpoints`]). Packets of no flow go to thread 0, which counts them.
fn shard_of(d: &decode::Decoded<'_>, n: Split) -> usize {
    let Some(ip) = d.ip else { return 0 };
    match &d.l4 {
        decode::L4::Tcp(t) => shard_by_endpoints((ip.src, t.src_port), (ip.dst, t.dst_port), n),
        decode::L4::Udp(u) => shard_by_endpoints((ip.src, u.src_port), (ip.dst, u.dst_port), n),
        // An ICMP error goes with the flow it quotes (the table looks it up by that key).
        decode::L4::IcmpError(e) => {
            let Some(q) = e.quoted.filter(|q| matches!(q.proto, 6 | 17)) else {
                return 0;
            };
            let (Some(sp), Some(dp)) = (q.src_port, q.dst_port) else {
                return 0;
            };
            shard_by_endpoints((q.src, sp), (q.dst, dp), n)
        }
        decode::L4::None | decode::L4::Other(_) => 0,
    }
}

/// The thread of `n` a flow between two endpoints belongs to: the same either way round, and
/// the same for an IPv4 address and its IPv4-mapped IPv6 form (see `flow::pair_hash`). The
/// hash's low half picks the thread; the flow index files by its high half, so each thread's
/// flows still spread over the whole index.
fn shard_by_endpoints(a: (IpAddr, u16), b: (IpAddr, u16), split: Split) -> usize {
    split.owner(crate::flow::pair_hash(a, b))
}

/// How flows are split between `n` threads: by their group ([`crate::flow::flow_group`]),
/// thread 0 taking the groups below `zero_below`, the others equal shares of the rest. Threads
/// own whole groups, so the per-group open-flow limit (see `FlowTable`) evicts the same flows
/// on any number of threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Split {
    n: usize,
    zero_below: usize,
}

impl Split {
    const WHOLE: usize = crate::flow::FLOW_GROUPS;

    /// Equal shares (as near as whole groups allow).
    fn even(n: usize) -> Self {
        let n = n.clamp(1, Self::WHOLE);
        Self {
            n,
            zero_below: Self::WHOLE / n,
        }
    }

    /// Thread 0 takes `percent` of the flows (to the nearest group), the others equal shares
    /// of the rest; every other thread keeps at least one group.
    fn with_first_percent(n: usize, percent: u64) -> Self {
        let n = n.clamp(1, Self::WHOLE);
        if n == 1 {
            return Self::even(1);
        }
        let wanted = (Self::WHOLE as u64 * percent.min(100)).div_ceil(100) as usize;
        Self {
            n,
            zero_below: wanted.min(Self::WHOLE - (n - 1)),
        }
    }

    /// The thread that owns the flows of group `group`.
    fn group_owner(self, group: usize) -> usize {
        if group < self.zero_below {
            return 0;
        }
        // Two threads (the usual case): no division for every packet the walker reads.
        if self.n == 2 {
            return 1;
        }
        1 + (group - self.zero_below) * (self.n - 1) / (Self::WHOLE - self.zero_below)
    }

    fn owner(self, hash: u64) -> usize {
        self.group_owner(crate::flow::flow_group(hash))
    }
}

/// Merges the threads' parts of one file into what one thread would have made: flows in
/// first-seen order (a packet opens at most one flow, so the first packet orders them as one
/// table's ids do), numbered from `first_id`; counters summed; the peak of open flows taken
/// over the summed samples.
fn merge_shards(mut shards: Vec<Shard>, first_id: u32) -> InputPart {
    summarise_leftovers(&mut shards);
    let mut created = 0u32;
    let mut parts = Vec::with_capacity(shards.len());
    let mut samples: Vec<u64> = Vec::new();
    let mut summary: Option<InputSummary> = None;
    let mut max_kept = usize::MAX;
    for shard in shards {
        created += shard.created;
        max_kept = max_kept.min(shard.max_kept);
        if samples.len() < shard.live_samples.len() {
            samples.resize(shard.live_samples.len(), 0);
        }
        for (sum, n) in samples.iter_mut().zip(&shard.live_samples) {
            *sum += u64::from(*n);
        }
        parts.push(shard.reports);
        let part = shard.summary;
        let Some(s) = &mut summary else {
            summary = Some(part);
            continue;
        };
        s.truncated_packets += part.truncated_packets;
        for (stop, n) in part.undecoded {
            *s.undecoded.entry(stop).or_default() += n;
        }
        s.syn_checksums_checked += part.syn_checksums_checked;
        s.syn_checksums_bad += part.syn_checksums_bad;
        s.flows_not_kept += part.flows_not_kept;
        s.table.port_reuse += part.table.port_reuse;
        s.table.icmp_errors_unmatched += part.table.icmp_errors_unmatched;
        s.table.flows_evicted += part.table.flows_evicted;
    }
    let mut summary = summary.expect("at least one thread");
    summary.table.peak_live_flows = samples.into_iter().max().unwrap_or(0);
    let mut reports = concat_largest_first(parts);
    sort_in_place(&mut reports, |r| r.first_packet);
    // Past the limit (floods only) the threads together kept more than one thread would.
    if reports.len() > max_kept {
        summary.flows_not_kept += (reports.len() - max_kept) as u64;
        reports.truncate(max_kept);
    }
    for (id, r) in (first_id..).zip(reports.iter_mut()) {
        r.id = id;
    }
    InputPart {
        summary,
        reports,
        next_id: first_id + created,
    }
}

/// Appends `more` to `all`; into an empty `all` the vector is taken as it is, not copied (a
/// file's summaries are tens of megabytes).
fn append_moved<T>(all: &mut Vec<T>, mut more: Vec<T>) {
    if all.is_empty() {
        *all = more;
    } else {
        all.append(&mut more);
    }
}

/// The vectors joined into the largest of them (order does not matter: they are sorted next).
/// A file's summaries are tens of megabytes: growing the largest in place and copying the
/// others into it holds the small ones twice for a moment, where growing the first (thread 0's
/// fifth) held all of them twice (a 25 MB peak at 1 GiB).
fn concat_largest_first<T>(mut parts: Vec<Vec<T>>) -> Vec<T> {
    let Some(largest) = (0..parts.len()).max_by_key(|&i| parts[i].len()) else {
        return Vec::new();
    };
    let mut all = parts.swap_remove(largest);
    all.reserve_exact(parts.iter().map(Vec::len).sum());
    for mut part in parts {
        all.append(&mut part);
    }
    all
}

/// Sorts flow summaries by `key` (flows finish in their closing order; reports list them in
/// first-seen order). Summaries are large, so each is moved into place at most once (the
/// permutation is applied by swaps along its cycles) rather than shuffled by a sort or copied
/// into a second vector.
fn sort_in_place<T, K: Ord + Copy>(reports: &mut [T], key: impl Fn(&T) -> K) {
    if reports.windows(2).all(|w| key(&w[0]) < key(&w[1])) {
        return;
    }
    // order[i]: the index of the report that belongs at position i.
    let mut order: Vec<usize> = (0..reports.len()).collect();
    order.sort_unstable_by_key(|&i| key(&reports[i]));
    for start in 0..order.len() {
        let mut at = start;
        // Follow the cycle through `start`, pulling each report into place.
        while order[at] != start {
            let from = order[at];
            reports.swap(at, from);
            order[at] = at;
            at = from;
        }
        order[at] = at;
    }
}

/// Summarises the threads' leftover flows, split evenly over the cores (how many each thread
/// has left depends on where its flows ended; often most are still open at the end).
fn summarise_leftovers(shards: &mut [Shard]) {
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    // In rounds of a few hundred flows, so that a round's summaries and the flows they are
    // made from are all that is held twice (not a whole file's leftovers).
    let round = threads * LEFTOVERS_PER_THREAD;
    for s in shards.iter_mut() {
        let mut rest = std::mem::take(&mut s.leftover);
        let ranges = s.ranges.as_deref();
        while !rest.is_empty() {
            let mut flows: Vec<Box<Flow>> = rest.drain(..round.min(rest.len())).collect();
            let per_thread = flows.len().div_ceil(threads);
            let parts: Vec<Vec<FlowReport>> = std::thread::scope(|scope| {
                let handles: Vec<_> = flows
                    .chunks_mut(per_thread)
                    .map(|part| {
                        scope.spawn(move || {
                            part.iter_mut()
                                .map(|f| summarise(f, ranges))
                                .collect::<Vec<_>>()
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().expect("a summary thread panicked"))
                    .collect()
            });
            s.reports.extend(parts.into_iter().flatten());
        }
    }
}

/// Which flows an analyzer summarises: those among the first `max` of its table (ids from
/// `first_id`) that began at or before `last_packet`.
#[derive(Clone, Copy)]
struct KeptLimit {
    max: usize,
    first_id: u32,
    last_packet: u64,
}

impl KeptLimit {
    fn keeps(self, flow: &Flow) -> bool {
        ((flow.id - self.first_id) as usize) < self.max && flow.first_packet <= self.last_packet
    }
}

/// Where the kept flows of a file split between threads end, found while they run. A thread
/// cannot tell which of its flows are among the file's first `max_kept`, so it keeps its own
/// first `max_kept` and the merge cuts: with `n` threads that could hold `n` times as many
/// summaries as are kept. So at every maintenance tick (the same packets on every thread) each
/// thread says how many flows it has created; once the sum at a tick reaches `max_kept`, no
/// flow that begins after that tick's packet can be kept, and no thread summarises one.
pub(crate) struct KeptCut {
    max_kept: u64,
    /// Per thread, the ticks not yet added up (the oldest first, the same tick at the front of
    /// every queue): the tick's packet, and the flows the thread had created by then. A tick is
    /// dropped once added up, so the queues hold only how far the threads are apart.
    pending: Mutex<Vec<VecDeque<(u64, u32)>>>,
    /// The packet of the first tick where the sum reached `max_kept` (`u64::MAX`: not yet).
    last_packet: AtomicU64,
}

impl KeptCut {
    /// The cut of a file analysed on `threads` threads whose analyzers keep `max_kept`.
    pub(crate) fn new(threads: usize, max_kept: usize) -> Arc<Self> {
        Arc::new(Self {
            max_kept: max_kept as u64,
            pending: Mutex::new(vec![VecDeque::new(); threads]),
            last_packet: AtomicU64::new(u64::MAX),
        })
    }

    fn publish(&self, k: usize, index: u64, created: u32) {
        if self.last_packet() != u64::MAX {
            return;
        }
        let mut pending = self.pending.lock().expect("no thread panics holding it");
        pending[k].push_back((index, created));
        // Ticks are added up in order, when the last thread reaches them: the first to reach
        // the limit is the first found. Threads that disagree on a tick (they cannot: a wrong
        // cut would drop kept flows) never cut.
        while pending.iter().all(|q| !q.is_empty()) {
            let at = pending[0].front().map_or(0, |&(at, _)| at);
            let mut sum = 0;
            for q in pending.iter_mut() {
                match q.pop_front() {
                    Some((same, c)) if same == at => sum += u64::from(c),
                    _ => {
                        debug_assert!(false, "the threads saw different ticks");
                        return;
                    }
                }
            }
            debug_assert_eq!(at % u64::from(MAINTAIN_EVERY), 0);
            if sum >= self.max_kept {
                self.last_packet.fetch_min(at, Ordering::Relaxed);
                pending.iter_mut().for_each(VecDeque::clear);
                return;
            }
        }
    }

    fn last_packet(&self) -> u64 {
        self.last_packet.load(Ordering::Relaxed)
    }
}

/// Leftover flows summarised by each thread per round (see `summarise_leftovers`).
const LEFTOVERS_PER_THREAD: usize = 256;

/// Summarises a finished flow (running the first-bytes inspection) when it is one of the
/// first `max` flows of its table (ids from `first_id`), else counts it; its buffers go with
/// it. The earliest flows, not the first to finish: which ones finish first depends on which
/// of several threads' tables a flow was in, which are the earliest does not.
fn keep(
    reports: &mut Vec<FlowReport>,
    not_kept: &mut u64,
    limit: KeptLimit,
    ranges: Option<&LbRanges>,
    flow: &mut Flow,
) {
    if limit.keeps(flow) {
        reports.push(summarise(flow, ranges));
    } else {
        *not_kept += 1;
    }
}

/// A flow's summary, judged alone when `ranges` are given: which LB range its source is in,
/// which client it conveys, whether it is a health check (`checks::flows::annotate_alone`).
/// Done here, on the analysis threads, the summary is still in cache; done in the checks,
/// tens of thousands of summaries were read back from all over the heap.
fn summarise(flow: &mut Flow, ranges: Option<&LbRanges>) -> FlowReport {
    let mut report = crate::summary::flow_summary(0, flow);
    if let Some(ranges) = ranges {
        crate::checks::flows::annotate_alone(&mut report, ranges);
    }
    report
}

impl ahead::Prefetch for InputAnalyzer {
    fn entry(&mut self, hash: u64) {
        if self.owns(hash) {
            self.table.prefetch_entry(hash);
        }
    }

    fn flow(&mut self, hash: u64) {
        if self.owns(hash) {
            self.table.prefetch_flow(hash);
        }
    }
}

impl Analysis {
    /// Gathers finished inputs (their flow ids already continue one another).
    pub fn from_inputs(parts: Vec<(InputSummary, Vec<FlowReport>)>) -> Self {
        let mut inputs = Vec::new();
        let mut flows = Vec::new();
        for (i, (summary, mut reports)) in parts.into_iter().enumerate() {
            inputs.push(summary);
            for f in &mut reports {
                f.input = i;
            }
            append_moved(&mut flows, reports);
        }
        Self { inputs, flows }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sort_in_place_applies_any_permutation() {
        // Every permutation of 6 items (all cycle shapes), and some larger shuffles.
        fn permutations(n: usize) -> Vec<Vec<u32>> {
            if n == 0 {
                return vec![Vec::new()];
            }
            let mut out = Vec::new();
            for p in permutations(n - 1) {
                for at in 0..=p.len() {
                    let mut q = p.clone();
                    q.insert(at, (n - 1) as u32);
                    out.push(q);
                }
            }
            out
        }
        for mut p in permutations(6) {
            sort_in_place(&mut p, |x| *x);
            assert_eq!(p, vec![0, 1, 2, 3, 4, 5]);
        }
        let mut state = 7u64;
        for len in [0usize, 1, 2, 100, 1000] {
            let mut v: Vec<(u64, usize)> = (0..len)
                .map(|i| {
                    state = state
                        .wrapping_mul(6_364_136_223_846_793_005)
                        .wrapping_add(1);
                    (state >> 33, i)
                })
                .collect();
            let mut want = v.clone();
            want.sort_unstable();
            sort_in_place(&mut v, |x| x.0);
            assert_eq!(v, want);
        }
    }

    #[test]
    fn the_kept_cut_is_the_first_tick_where_the_threads_together_reach_the_limit() {
        let tick = u64::from(MAINTAIN_EVERY);
        let cut = KeptCut::new(2, DEFAULT_MAX_FLOWS_KEPT);
        // Thread 0 runs ahead; nothing is decided until thread 1 reaches a tick.
        for (t, created) in [10_000, 20_000, 30_000, 40_000].into_iter().enumerate() {
            cut.publish(0, (t as u64 + 1) * tick, created);
        }
        assert_eq!(cut.last_packet(), u64::MAX);
        // 10,000 + 5,000 at tick 1; 20,000 + 29,999 at tick 2; 30,000 + 30,000 at tick 3.
        cut.publish(1, tick, 5_000);
        cut.publish(1, 2 * tick, 29_999);
        assert_eq!(cut.last_packet(), u64::MAX);
        cut.publish(1, 3 * tick, 30_000);
        assert_eq!(cut.last_packet(), 3 * tick);
        // Later ticks do not move it, and nothing more is held.
        cut.publish(1, 4 * tick, 50_000);
        assert_eq!(cut.last_packet(), 3 * tick);
        assert!(cut.pending.lock().unwrap().iter().all(VecDeque::is_empty));
        // Below the limit, what is held is how far the threads are apart, not the file.
        let cut = KeptCut::new(2, DEFAULT_MAX_FLOWS_KEPT);
        for t in 1..=10_000u64 {
            cut.publish(0, t * tick, 1);
            cut.publish(1, t * tick, 1);
        }
        assert_eq!(cut.last_packet(), u64::MAX);
        assert!(cut.pending.lock().unwrap().iter().all(VecDeque::is_empty));
    }

    #[test]
    fn a_flow_belongs_to_the_same_thread_either_way_round_and_for_mapped_ipv4() {
        let a: IpAddr = "192.0.2.10".parse().unwrap();
        let a6: IpAddr = "::ffff:192.0.2.10".parse().unwrap();
        let b: IpAddr = "2001:db8::1".parse().unwrap();
        for n in 1..6 {
            let k = shard_by_endpoints((a, 40000), (b, 443), Split::even(n));
            assert!(k < n);
            assert_eq!(k, shard_by_endpoints((b, 443), (a, 40000), Split::even(n)));
            assert_eq!(k, shard_by_endpoints((a6, 40000), (b, 443), Split::even(n)));
        }
        // Flows spread over the threads, evenly or in the shares asked for (to whole groups
        // of 1/64), and each thread owns whole groups.
        for (split, want) in [
            (Split::even(2), [32, 32, 0, 0]),
            (Split::with_first_percent(2, 20), [13, 51, 0, 0]),
            (Split::with_first_percent(4, 10), [7, 19, 19, 19]),
            (Split::even(4), [16, 16, 16, 16]),
            (Split::even(3), [21, 22, 21, 0]),
            (Split::with_first_percent(3, 0), [0, 32, 32, 0]),
        ] {
            let mut seen = [0usize; 4];
            let mut groups = [0usize; 4];
            for g in 0..crate::flow::FLOW_GROUPS {
                groups[split.group_owner(g)] += 1;
            }
            for port in 1024..21024u16 {
                let hash = crate::flow::pair_hash((a, port), (b, 443));
                let k = shard_by_endpoints((a, port), (b, 443), split);
                assert_eq!(k, split.group_owner(crate::flow::flow_group(hash)));
                seen[k] += 1;
            }
            assert_eq!(groups, want, "{split:?}");
            // 20,000 flows: each thread's count within 400 of its groups' share.
            for (got, groups) in seen.iter().zip(want) {
                assert!(
                    (got * 64).abs_diff(20_000 * groups) < 400 * 64,
                    "{split:?}: {seen:?}"
                );
            }
        }
        // Every thread gets a group, even with as many threads as groups.
        let split = Split::with_first_percent(64, 20);
        let owners: std::collections::BTreeSet<usize> = (0..crate::flow::FLOW_GROUPS)
            .map(|g| split.group_owner(g))
            .collect();
        assert_eq!(owners.len(), 64);
        assert_eq!(Split::even(1).owner(u64::MAX), 0);
        assert_eq!(Split::with_first_percent(1, 10), Split::even(1));
    }
}
