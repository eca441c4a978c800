//! One file on several threads, the walker's way: thread 0 reads the file and walks every
//! record once (record headers, the look ahead, each packet's flow hash), keeps its share of
//! the flows, and hands every other packet, by reference into the chunk of the file it lies
//! in (not copied), to the thread that owns its flow. The other threads never walk the file.
//!
//! Why: when every thread walks every record (`analyze_sharded`), the walk is paid once per
//! thread. On the 1 GiB bench capture, a thread that kept no flow at all still spent 0.37 s of
//! CPU walking, against 0.68 s for the flows of the whole file. Here thread 0 takes a smaller
//! share of the flows to make up for the walk ([`FIRST_PERCENT`]).
//!
//! The report is the one a single thread makes, for the same reasons as with
//! `analyze_sharded`: each flow lives in one table, and every table's clock ticks at the same
//! packets (thread 0 sends each thread the ticks of the packets it does not get).

use std::sync::mpsc;

use super::ahead::{self, Ahead, Known, Prefetch};
use super::{InputAnalyzer, InputPart, KeptCut, Progress, Shard, Split, join_all, merge_results};
use crate::config::Config;
use crate::flow::{MAINTAIN_EVERY, prefetch};
use crate::source::{
    CaptureFile, LinkType, Located, RawPacket, SharedChunk, SourceError, open_capture_shareable,
};

/// Thread 0's share of the flows with two threads, in percent: it also walks the whole file.
/// Measured on the 1 GiB bench captures (analysis, two threads, min-median of 5): pcap 15 %
/// 0.530-0.543 s, 20 % 0.528-0.531 s, 25 % 0.537-0.549 s; pcapng (dearer to walk) 15 %
/// 0.523-0.548 s, 20 % 0.536-0.545 s, 25 % 0.563-0.588 s. (Before the summaries reused their
/// parses, flows cost more and 25 % was best: 10 % 0.70 s, 20 % 0.61, 25 % 0.60, 40 % 0.69.)
/// Stop 15, once packets were decoded and keyed by hand (a flow's packets cost less, the walk
/// as much), read phase medians of 6 alternated runs: pcap 0 % 440 ms, 2 % 423, 4 % 418,
/// 7 % 424, 10 % 443, 14 % 452, 20 % 483; pcapng 2 % 421, 4 % 427, 7 % 442, 10 % 449. The
/// 100 MiB pcap, whole run (hyperfine, 20 runs, both orders): 4 % 108-114 ms, 20 % 139 ms.
/// The price is on floods of one-packet flows, where flows are all the work: the 10 M-flow
/// SYN flood takes 6.2 s at 4 %, 5.7 s at 10 %, 4.9 s at 20 % (same memory); stop 16: 4 %
/// 6.1-6.9 s, 20 % 4.9-5.1 s, 35 % 3.9-4.1 s, 50 % 4.0 s. Why the share is not chosen per file
/// yet: bench/README.md, stop 16, "a flood-aware thread split".
const FIRST_PERCENT: u64 = 4;
/// Items per hand-over: enough that the channel is not the cost, few enough that the chunks
/// the batches hold stay few.
const BATCH_ITEMS: usize = 512;
/// Batches on their way to one thread before the walker waits.
const IN_FLIGHT: usize = 4;

/// Whether multi-threaded files are analysed this way: `LBCHECK_SPLIT` = walk | share.
pub fn wanted() -> bool {
    std::env::var("LBCHECK_SPLIT").as_deref() != Ok("share")
}

/// Thread 0's share of the flows with `n` threads, in percent (`LBCHECK_FIRST_PERCENT`
/// overrides it, for measuring).
fn first_percent(n: usize) -> u64 {
    std::env::var("LBCHECK_FIRST_PERCENT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(FIRST_PERCENT * 2 / n as u64)
}

/// A packet handed to another thread.
#[derive(Clone, Copy)]
struct Handed {
    index: u64,
    ts_nanos: i64,
    interface: u32,
    link_type: LinkType,
    orig_len: u32,
    known: Known,
    /// Where its bytes are: in the batch's chunk, or in its gathered bytes.
    in_chunk: bool,
    at: usize,
    len: usize,
}

#[derive(Clone, Copy)]
enum Item {
    Packet(Handed),
    /// The clock of a packet the thread does not get (see `FlowTable::tick`).
    Tick {
        index: u64,
        ts_nanos: i64,
    },
}

#[derive(Default)]
struct Batch {
    chunk: Option<SharedChunk>,
    /// Tells the chunk in hand apart from the batch's (see `CaptureFile::chunk_id`).
    chunk_id: usize,
    /// Bytes of packets that straddled two chunks, copied.
    gathered: Vec<u8>,
    items: Vec<Item>,
}

impl Batch {
    fn data(&self, h: &Handed) -> &[u8] {
        let bytes = if h.in_chunk {
            self.chunk.as_ref().map_or(&[][..], SharedChunk::bytes)
        } else {
            &self.gathered
        };
        &bytes[h.at..h.at + h.len]
    }

    fn clear(&mut self) {
        self.chunk = None;
        self.gathered.clear();
        self.items.clear();
    }
}

/// The walker's end of one other thread.
struct Worker {
    to: mpsc::SyncSender<Batch>,
    /// Batches come back to be reused.
    back: mpsc::Receiver<Batch>,
    open: Batch,
}

impl Worker {
    /// Sends the open batch; false when the thread is gone (it panicked: the scope says so).
    fn flush(&mut self) -> bool {
        if self.open.items.is_empty() {
            return true;
        }
        let mut next = self.back.try_recv().unwrap_or_default();
        next.clear();
        let full = std::mem::replace(&mut self.open, next);
        self.to.send(full).is_ok()
    }
}

pub(super) fn analyze_walked(
    path: &std::path::Path,
    bytes: u64,
    first_id: u32,
    n: usize,
    config: &Config,
    progress: &Progress,
) -> Result<InputPart, SourceError> {
    let mut file = open_capture_shareable(path)?;
    let split = Split::with_first_percent(n, first_percent(n));
    let format = file.format();
    let cut = KeptCut::new(n, config.limits.max_flows);
    let new_input = |k| {
        InputAnalyzer::for_run(path.to_path_buf(), format, bytes, 1, config).shard(k, split, &cut)
    };
    let results: Vec<Result<Shard, SourceError>> = std::thread::scope(|scope| {
        let mut workers = Vec::new();
        let mut handles = Vec::new();
        for k in 1..n {
            let (to, from) = mpsc::sync_channel::<Batch>(IN_FLIGHT);
            let (give_back, back) = mpsc::channel::<Batch>();
            let mut input = new_input(k);
            handles.push(scope.spawn(move || {
                for batch in from {
                    work(&mut input, &batch);
                    // The walker may have finished: then the batch is dropped here.
                    let _ = give_back.send(batch);
                }
                input.finish_shard(Vec::new(), None)
            }));
            workers.push(Worker {
                to,
                back,
                open: Batch::default(),
            });
        }
        let mut results = vec![walk(&mut file, new_input(0), workers, progress)];
        results.extend(join_all(handles).into_iter().map(Ok));
        results
    });
    merge_results(results, first_id)
}

/// Thread 0: reads every packet, analyses its own, hands the others over. The workers' ends
/// are dropped on return (at the end, or on an error), which lets them finish.
fn walk(
    file: &mut CaptureFile,
    mut input: InputAnalyzer,
    mut workers: Vec<Worker>,
    progress: &Progress,
) -> Result<Shard, SourceError> {
    let mut ahead = Ahead::default();
    let mut next = 1;
    let mut since = 0u32;
    loop {
        ahead.step(file, next, &mut input);
        let Some(raw) = file.next_packet()? else {
            break;
        };
        let (index, ts_nanos) = (raw.index, raw.ts_nanos);
        next = index + 1;
        let known = ahead.known(index);
        let owner = input.feed_known(&raw, known);
        let handed = owner.map(|_| Handed {
            index,
            ts_nanos,
            interface: raw.interface,
            link_type: raw.link_type,
            orig_len: raw.orig_len,
            known,
            in_chunk: true,
            at: raw.data.as_ptr() as usize,
            len: raw.data.len(),
        });
        if let (Some(owner), Some(mut h)) = (owner, handed) {
            let w = &mut workers[owner - 1];
            match file.locate(h.at, h.len) {
                Some(Located::InChunk(at)) => {
                    let id = file.chunk_id();
                    if w.open.chunk.is_some() && w.open.chunk_id != id && !w.flush() {
                        break;
                    }
                    if w.open.chunk.is_none() {
                        w.open.chunk = Some(file.share_chunk());
                        w.open.chunk_id = id;
                    }
                    h.at = at;
                }
                Some(Located::Gathered(bytes)) => {
                    h.in_chunk = false;
                    h.at = w.open.gathered.len();
                    w.open.gathered.extend_from_slice(bytes);
                }
                None => unreachable!("the packet just read is in the reader's hands"),
            }
            w.open.items.push(Item::Packet(h));
        }
        if index % u64::from(MAINTAIN_EVERY) == 0 {
            for (k, w) in workers.iter_mut().enumerate() {
                if owner != Some(k + 1) {
                    w.open.items.push(Item::Tick { index, ts_nanos });
                }
            }
        }
        for w in &mut workers {
            if w.open.items.len() >= BATCH_ITEMS && !w.flush() {
                return Err(gone());
            }
        }
        since += 1;
        if since == super::PROGRESS_EVERY {
            since = 0;
            progress.at(file.offset());
        }
    }
    for w in &mut workers {
        if !w.flush() {
            return Err(gone());
        }
    }
    Ok(input.finish_shard(file.interfaces().to_vec(), file.cut_short().cloned()))
}

/// A worker thread went away: it panicked, and the scope re-raises that panic; this error is
/// never seen.
fn gone() -> SourceError {
    SourceError::Io {
        path: std::path::PathBuf::new(),
        source: std::io::Error::other("an analysis thread stopped"),
    }
}

/// Another thread: the packets handed to it, in order, looking two ahead in the batch to
/// prefetch (as `ahead.rs` does in the read loop).
fn work(input: &mut InputAnalyzer, batch: &Batch) {
    let hash = |i: usize| match batch.items.get(i) {
        Some(Item::Packet(h)) => h.known.flatten(),
        _ => None,
    };
    for (i, item) in batch.items.iter().enumerate() {
        if let Some(h) = hash(i + ahead::DISTANCE as usize) {
            input.entry(h);
        }
        if let Some(Item::Packet(h)) = batch.items.get(i + 1) {
            prefetch(batch.data(h).as_ptr());
        }
        if let Some(h) = hash(i + 1) {
            input.flow(h);
        }
        match *item {
            Item::Tick { index, ts_nanos } => input.tick(index, ts_nanos),
            Item::Packet(h) => {
                let raw = RawPacket {
                    index: h.index,
                    ts_nanos: h.ts_nanos,
                    interface: h.interface,
                    link_type: h.link_type,
                    orig_len: h.orig_len,
                    data: batch.data(&h),
                };
                let other = input.feed_known(&raw, h.known);
                debug_assert_eq!(other, None, "packet {} handed to the wrong thread", h.index);
            }
        }
    }
}
