//! Opening a capture file: recognise the format from its first bytes and hand out one reader.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use super::pcap::{MAGIC_MICRO, MAGIC_MODIFIED, MAGIC_NANO, PcapReader, Step};
use super::pcapng::PcapngReader;
use super::reader::{
    ByteReader, Chunk, ChunkSource, PooledReadChunks, READ_CHUNK, ReadChunks, read_full,
};
use super::{CutShort, InterfaceInfo, RawPacket, SourceError};
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FileFormat {
    Pcap,
    Pcapng,
    /// Packets captured live (`lbcheck live`).
    Live,
}

/// Files at least this large are read ahead on a thread of their own, or analysed on every
/// core (smaller ones are read in a few calls anyway); `LBCHECK_MMAP=large` maps them.
pub(super) const LARGE_FILE_BYTES: u64 = 16 << 20;
/// Chunks in flight between the reader thread and each consumer (bounded: memory stays flat).
const READ_AHEAD_DEPTH: usize = 4;
/// Chunks the reader thread remembers for reuse: those in flight and a few being read.
const SENT_KEPT: usize = 4 * READ_AHEAD_DEPTH;

/// Reads the file on a thread of its own and hands every chunk to each of its consumers, so
/// the kernel's copy and page-cache work run on another core, and several analysis threads can
/// walk the same bytes without reading the file twice. The bytes are the same, in the same
/// order, so the analysis cannot differ (tests/read_ahead.rs compares the reports).
struct Broadcast {
    rx: std::sync::mpsc::Receiver<std::io::Result<Arc<Vec<u8>>>>,
}

impl Broadcast {
    fn start(mut inner: impl Read + Send + 'static, consumers: usize) -> Vec<Self> {
        let (txs, rxs): (Vec<_>, Vec<_>) = (0..consumers)
            .map(|_| std::sync::mpsc::sync_channel(READ_AHEAD_DEPTH))
            .unzip();
        std::thread::spawn(move || {
            // Chunks handed out lately, oldest first: one that every consumer has dropped is
            // read into again. A fresh chunk is zeroed first (safe Rust cannot read into
            // uninitialised memory), which cost as much as a tenth of a one-thread run.
            let mut sent: std::collections::VecDeque<Arc<Vec<u8>>> =
                std::collections::VecDeque::new();
            loop {
                let reusable = sent.front_mut().is_some_and(|c| Arc::get_mut(c).is_some());
                let mut chunk = match reusable.then(|| sent.pop_front()).flatten() {
                    Some(c) => Arc::try_unwrap(c).unwrap_or_else(|c| c.as_ref().clone()),
                    None => Vec::new(),
                };
                chunk.resize(READ_CHUNK, 0);
                let result = read_full(&mut inner, &mut chunk);
                let last = !matches!(result, Ok(n) if n > 0);
                let message = result.map(|n| {
                    chunk.truncate(n);
                    let chunk = Arc::new(chunk);
                    sent.push_back(Arc::clone(&chunk));
                    if sent.len() > SENT_KEPT {
                        sent.pop_front();
                    }
                    chunk
                });
                let mut listening = 0;
                for tx in &txs {
                    // io::Error is not Clone: each consumer gets its own copy of the error.
                    let copy = match &message {
                        Ok(c) => Ok(Arc::clone(c)),
                        Err(e) => Err(std::io::Error::new(e.kind(), e.to_string())),
                    };
                    // A consumer that went away (it stopped early) is simply not fed.
                    if tx.send(copy).is_ok() {
                        listening += 1;
                    }
                }
                if last || listening == 0 {
                    return;
                }
            }
        });
        rxs.into_iter().map(|rx| Self { rx }).collect()
    }
}

impl ChunkSource for Broadcast {
    fn next_chunk(&mut self, _spent: Chunk) -> std::io::Result<Option<Chunk>> {
        match self.rx.recv() {
            Ok(Ok(chunk)) if chunk.is_empty() => Ok(None),
            Ok(Ok(chunk)) => Ok(Some(Chunk::Owned(chunk))),
            Ok(Err(e)) => Err(e),
            Err(_) => Ok(None),
        }
    }
}

/// Whether a file of `size` bytes is read on a thread of its own. `LBCHECK_READ_AHEAD` =
/// never | always overrides the size rule (tests, and measuring it).
pub fn read_ahead_wanted(size: u64) -> bool {
    match std::env::var("LBCHECK_READ_AHEAD").as_deref() {
        Ok("never") => false,
        Ok("always") => true,
        _ => {
            size >= LARGE_FILE_BYTES
                && std::thread::available_parallelism().is_ok_and(|n| n.get() > 1)
        }
    }
}

/// See [`CaptureFile::locate`].
pub enum Located<'a> {
    InChunk(usize),
    Gathered(&'a [u8]),
}

/// A part of a capture file held in memory, which other threads may share.
#[derive(Clone)]
pub struct SharedChunk(Chunk);

impl SharedChunk {
    pub fn bytes(&self) -> &[u8] {
        self.0.bytes()
    }
}

enum Inner {
    Pcap(PcapReader),
    Pcapng(PcapngReader),
}

/// An open capture file, read front to back, one packet at a time.
pub struct CaptureFile {
    inner: Inner,
    cut_short: Option<CutShort>,
}

/// Opens `path` for a reader whose packets other threads go on reading after it has moved on
/// (see [`CaptureFile::chunk`]): read with read(2) into a few reused buffers, never mapped
/// (pages of a map are released as the reader moves on).
pub fn open_capture_shareable(path: &Path) -> Result<CaptureFile, SourceError> {
    let (magic, file, _) = open_raw(path)?;
    let whole = std::io::Cursor::new(magic).chain(file);
    from_source(path, magic, Box::new(PooledReadChunks::new(whole)))
}

/// Opens `path` and reads just enough to know its format.
pub fn open_capture(path: &Path) -> Result<CaptureFile, SourceError> {
    let mut one = open_capture_shared(path, 1)?;
    Ok(one.remove(0))
}

/// Opens `path` for `readers` readers on as many threads, each of which gets every byte (and
/// then keeps the packets it is responsible for). A large regular file is memory-mapped, one
/// map shared by the readers (see `mapped.rs`); otherwise one thread reads the file and shares
/// its chunks, or, for one reader of a small file, the reader reads it itself.
pub fn open_capture_shared(path: &Path, readers: usize) -> Result<Vec<CaptureFile>, SourceError> {
    let readers = readers.max(1);
    let (magic, file, size) = open_raw(path)?;
    // A file system that cannot map the file (some FUSE and /proc files) is read instead.
    let mapped = super::mapped::wanted(&file, size)
        .then(|| super::mapped::map_for(&file, readers).ok())
        .flatten();
    let sources: Vec<Box<dyn ChunkSource>> = if let Some(maps) = mapped {
        maps.into_iter().map(|m| Box::new(m) as _).collect()
    } else {
        // Offsets count from the file start: the magic number goes back in front.
        let whole = std::io::Cursor::new(magic).chain(file);
        if readers == 1 && !read_ahead_wanted(size) {
            vec![Box::new(ReadChunks(whole))]
        } else {
            Broadcast::start(whole, readers)
                .into_iter()
                .map(|b| Box::new(b) as _)
                .collect()
        }
    };
    // A file that is no capture drops every reader (and a reader thread stops with them).
    sources
        .into_iter()
        .map(|src| from_source(path, magic, src))
        .collect()
}

/// The file, its magic number (read), and its size.
fn open_raw(path: &Path) -> Result<([u8; 4], File, u64), SourceError> {
    let io = |source| SourceError::Io {
        path: path.to_path_buf(),
        source,
    };
    let not = |what: String| SourceError::NotACapture {
        path: path.to_path_buf(),
        what,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if meta.is_dir() {
        return Err(not("is a directory, not a capture file".into()));
    }
    let mut file = File::open(path).map_err(io)?;
    let mut magic = [0u8; 4];
    let got = read_full(&mut file, &mut magic).map_err(io)?;
    if got == 0 {
        return Err(not(
            "empty file (0 bytes): not a pcap or pcapng capture".into()
        ));
    }
    if got < 4 {
        return Err(not(format!(
            "only {got} bytes long: too short to be a capture"
        )));
    }
    Ok((magic, file, meta.len()))
}

fn from_source(
    path: &Path,
    magic: [u8; 4],
    src: Box<dyn ChunkSource>,
) -> Result<CaptureFile, SourceError> {
    let reader = ByteReader::new(src);
    let le = u32::from_le_bytes(magic);
    let be = u32::from_be_bytes(magic);
    let pcap_magic = |m| matches!(m, MAGIC_MICRO | MAGIC_NANO | MAGIC_MODIFIED);
    let inner = if be == 0x0a0d_0d0a {
        Inner::Pcapng(PcapngReader::open(path, reader))
    } else if pcap_magic(le) || pcap_magic(be) {
        Inner::Pcap(PcapReader::open(path, reader)?)
    } else {
        return Err(SourceError::NotACapture {
            path: path.to_path_buf(),
            what: describe_non_capture(magic),
        });
    };
    Ok(CaptureFile {
        inner,
        cut_short: None,
    })
}

/// A helpful guess at what a non-capture file is.
fn describe_non_capture(magic: [u8; 4]) -> String {
    if magic.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
        let text: String = magic.iter().map(|b| char::from(*b)).collect();
        format!(
            "not a pcap or pcapng file: it starts with text {text:?}; was it saved with `tcpdump -w`?"
        )
    } else {
        let hex = u32::from_be_bytes(magic);
        format!("not a pcap or pcapng file: unknown magic number {hex:08x}")
    }
}

impl CaptureFile {
    /// Bytes of the file read so far (for progress).
    pub fn offset(&self) -> u64 {
        match &self.inner {
            Inner::Pcap(r) => r.offset(),
            Inner::Pcapng(r) => r.offset(),
        }
    }

    pub fn format(&self) -> FileFormat {
        match self.inner {
            Inner::Pcap(_) => FileFormat::Pcap,
            Inner::Pcapng(_) => FileFormat::Pcapng,
        }
    }

    /// The interfaces described so far (pcapng describes them as it goes).
    pub fn interfaces(&self) -> &[InterfaceInfo] {
        match &self.inner {
            Inner::Pcap(r) => &r.interfaces,
            Inner::Pcapng(r) => &r.interfaces,
        }
    }

    /// Set once the file ended inside a record: everything before it was read.
    pub fn cut_short(&self) -> Option<&CutShort> {
        self.cut_short.as_ref()
    }

    /// Where the bytes `addr..addr + len` of the packet just read are (call it before the
    /// next read): at an offset in the chunk in hand, or gathered from two chunks (then
    /// they must be copied to be kept). `None` if they are neither (not the last packet).
    pub fn locate(&self, addr: usize, len: usize) -> Option<Located<'_>> {
        let r = self.reader();
        let within = |b: &[u8]| {
            let at = addr.checked_sub(b.as_ptr() as usize)?;
            (at + len <= b.len()).then_some(at)
        };
        if let Some(at) = within(r.chunk().bytes()) {
            return Some(Located::InChunk(at));
        }
        let gathered = r.gathered();
        within(gathered).map(|at| Located::Gathered(&gathered[at..at + len]))
    }

    /// The chunk in hand, shared (not copied) with whoever holds on to it.
    pub fn share_chunk(&self) -> SharedChunk {
        SharedChunk(self.reader().chunk().clone())
    }

    /// Tells chunks apart: the address of the chunk in hand (the same for the same chunk).
    pub fn chunk_id(&self) -> usize {
        self.reader().chunk().bytes().as_ptr() as usize
    }

    fn reader(&self) -> &super::reader::ByteReader {
        match &self.inner {
            Inner::Pcap(r) => r.reader(),
            Inner::Pcapng(r) => r.reader(),
        }
    }

    /// The link type and captured bytes of the packet `n` places ahead of the next one (0:
    /// the next), when they are already in memory: for a look ahead that prefetches (it never
    /// reads, never fails, and may answer `None` at any time).
    pub fn peek(&self, n: usize) -> Option<(crate::source::LinkType, &[u8])> {
        if self.cut_short.is_some() {
            return None;
        }
        match &self.inner {
            Inner::Pcap(r) => r.peek(n),
            Inner::Pcapng(r) => r.peek(n),
        }
    }

    /// The next packet, or `None` at the end (clean or cut short — see [`Self::cut_short`]).
    pub fn next_packet(&mut self) -> Result<Option<RawPacket<'_>>, SourceError> {
        if self.cut_short.is_some() {
            return Ok(None);
        }
        let step = match &mut self.inner {
            Inner::Pcap(r) => r.next()?,
            Inner::Pcapng(r) => r.next()?,
        };
        match step {
            Step::Packet(p) => Ok(Some(p)),
            Step::End => Ok(None),
            Step::Cut(c) => {
                self.cut_short = Some(c);
                Ok(None)
            }
        }
    }
}
