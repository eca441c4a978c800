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
    /// A gzip file's: why its stream ended early, if it did.
    damage: Option<Damage>,
    /// Packets read so far.
    packets: u64,
}

/// Opens `path` for a reader whose packets other threads go on reading after it has moved on
/// (see [`CaptureFile::chunk`]): read with read(2) into a few reused buffers, never mapped
/// (pages of a map are released as the reader moves on).
pub fn open_capture_shareable(path: &Path) -> Result<CaptureFile, SourceError> {
    let Raw {
        magic,
        input,
        damage,
        ..
    } = open_raw(path)?;
    let whole = std::io::Cursor::new(magic).chain(input);
    from_source(path, magic, Box::new(PooledReadChunks::new(whole)), damage)
}

/// Opens `path` and reads just enough to know its format.
pub fn open_capture(path: &Path) -> Result<CaptureFile, SourceError> {
    let mut one = open_capture_shared(path, 1)?;
    Ok(one.remove(0))
}

/// Opens `path` for `readers` readers on as many threads, each of which gets every byte (and
/// then keeps the packets it is responsible for). A large regular file is memory-mapped, one
/// map shared by the readers (see `mapped.rs`); otherwise one thread reads the file and shares
/// its chunks, or, for one reader of a small file, the reader reads it itself. A stream
/// (standard input, a gzip file) is always read on its own thread: waiting on the pipe, or
/// decompressing, then overlaps the analysis.
pub fn open_capture_shared(path: &Path, readers: usize) -> Result<Vec<CaptureFile>, SourceError> {
    let readers = readers.max(1);
    let Raw {
        magic,
        input,
        size,
        damage,
    } = open_raw(path)?;
    // A file system that cannot map the file (some FUSE and /proc files) is read instead.
    let mapped = match &input {
        RawInput::File(file) => super::mapped::wanted(file, size)
            .then(|| super::mapped::map_for(file, readers).ok())
            .flatten(),
        RawInput::Stream(_) => None,
    };
    let sources: Vec<Box<dyn ChunkSource>> = if let Some(maps) = mapped {
        maps.into_iter().map(|m| Box::new(m) as _).collect()
    } else {
        let stream = matches!(input, RawInput::Stream(_));
        // Offsets count from the file start: the magic number goes back in front.
        let whole = std::io::Cursor::new(magic).chain(input);
        if readers == 1 && !stream && !read_ahead_wanted(size) {
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
        .map(|src| from_source(path, magic, src, damage.clone()))
        .collect()
}

/// The path that names standard input (as for `tcpdump -r -`).
pub const STDIN_PATH: &str = "-";

/// Whether `path` names standard input.
pub fn is_stdin(path: &Path) -> bool {
    path.as_os_str() == STDIN_PATH
}

/// Bytes of `path` as stored, for progress and for choosing threads; `None` for a stream, read
/// front to back on one analysis thread: standard input, a pipe or device, a gzip file (whose
/// packets are more bytes than the file). Only a regular file is looked into: reading the first
/// bytes of a named pipe or `/dev/stdin` would take them from the analysis.
pub fn stored_size(path: &Path) -> Option<u64> {
    if is_stdin(path) {
        return None;
    }
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_file() {
        return None;
    }
    let mut magic = [0u8; 2];
    let gzip = File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok_and(|()| magic == GZIP_MAGIC);
    (!gzip).then_some(meta.len())
}

/// The first two bytes of a gzip stream (RFC 1952).
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// What a capture's bytes come from.
enum RawInput {
    File(File),
    /// Standard input, or a decompressor: read front to back, never mapped.
    Stream(Box<dyn Read + Send>),
}

impl Read for RawInput {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Self::File(f) => f.read(buf),
            Self::Stream(s) => s.read(buf),
        }
    }
}

/// The input, its magic number (read), and its size (0 for a stream). A gzip file or stream
/// is decompressed on the way (as Wireshark reads `capture.pcap.gz`).
fn open_raw(path: &Path) -> Result<Raw, SourceError> {
    let io = |source| SourceError::Io {
        path: path.to_path_buf(),
        source,
    };
    let not = |what: String| SourceError::NotACapture {
        path: path.to_path_buf(),
        what,
    };
    let (mut input, size) = if is_stdin(path) {
        (RawInput::Stream(Box::new(std::io::stdin())), 0)
    } else {
        let meta = std::fs::metadata(path).map_err(io)?;
        if meta.is_dir() {
            return Err(not("is a directory, not a capture file".into()));
        }
        (RawInput::File(File::open(path).map_err(io)?), meta.len())
    };
    let mut magic = [0u8; 4];
    let mut got = read_full(&mut input, &mut magic).map_err(io)?;
    let mut size = size;
    let mut damage = None;
    if got >= 2 && magic[..2] == GZIP_MAGIC {
        let compressed = std::io::Cursor::new(magic[..got].to_vec()).chain(input);
        let seen = Damage::default();
        input = RawInput::Stream(Box::new(EndAtDamage {
            inner: GzipMembers::new(compressed),
            seen: seen.clone(),
            ended: false,
        }));
        size = 0;
        got = read_full(&mut input, &mut magic).map_err(io)?;
        if let Some(e) = seen.take() {
            return Err(not(format!(
                "gzip-compressed, and the compressed data is damaged: {e}"
            )));
        }
        if got == 0 {
            return Err(not("gzip-compressed, and empty once decompressed".into()));
        }
        damage = Some(seen);
    }
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
    Ok(Raw {
        magic,
        input,
        size,
        damage,
    })
}

/// An opened input: its magic number (read), the rest of it, its size (0 for a stream), and
/// for a gzip file, where a damaged or cut stream is told.
struct Raw {
    magic: [u8; 4],
    input: RawInput,
    size: u64,
    damage: Option<Damage>,
}

/// Why a decompressed stream ended early, once it has (shared by the reader, which may run on
/// its own thread, and the capture, which reports it).
#[derive(Clone, Default)]
struct Damage(Arc<std::sync::Mutex<Option<String>>>);

impl Damage {
    fn take(&self) -> Option<String> {
        self.0.lock().map_or(None, |mut d| d.take())
    }
}

/// A decompressor that ends where its stream is damaged or cut instead of failing, so that the
/// packets before are analysed (as for a pcap cut short); why it ended goes to `seen`, and
/// nothing is read after it.
struct EndAtDamage<R> {
    inner: R,
    seen: Damage,
    ended: bool,
}

impl<R: Read> Read for EndAtDamage<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.ended {
            return Ok(0);
        }
        match self.inner.read(buf) {
            Err(e) if e.kind() != std::io::ErrorKind::Interrupted => {
                if let Ok(mut seen) = self.seen.0.lock() {
                    seen.get_or_insert_with(|| e.to_string());
                }
                self.ended = true;
                Ok(0)
            }
            other => other,
        }
    }
}

/// The members of a gzip file, one after another (as `gzip -d` reads `cat a.gz b.gz`). What
/// follows the last member and is not one (zero padding from a tape or a copy tool, or other
/// trailing bytes) ends the stream cleanly, as `gzip -d` ignores it: flate2's
/// `MultiGzDecoder` reads it as a damaged member instead.
struct GzipMembers {
    member: Option<flate2::bufread::GzDecoder<PutBack>>,
}

impl GzipMembers {
    fn new(inner: impl Read + Send + 'static) -> Self {
        let reader = PutBack {
            back: Vec::new(),
            inner: std::io::BufReader::with_capacity(READ_CHUNK, Box::new(inner)),
        };
        Self {
            member: Some(flate2::bufread::GzDecoder::new(reader)),
        }
    }
}

impl Read for GzipMembers {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while let Some(member) = &mut self.member {
            let n = member.read(buf)?;
            if n > 0 || buf.is_empty() {
                return Ok(n);
            }
            // This member ended (its trailer checked): another starts only with the magic,
            // which may straddle the reader's buffer, so it is read and put back.
            let Some(done) = self.member.take() else {
                break;
            };
            let mut rest = done.into_inner();
            let mut next = [0u8; 2];
            let got = read_full(&mut rest, &mut next)?;
            if got == 2 && next == GZIP_MAGIC {
                rest.back = next.to_vec();
                self.member = Some(flate2::bufread::GzDecoder::new(rest));
            }
        }
        Ok(0)
    }
}

/// A buffered reader that can be handed back a few bytes it gave out.
struct PutBack {
    /// Given back, read before `inner`.
    back: Vec<u8>,
    inner: std::io::BufReader<Box<dyn Read + Send>>,
}

impl Read for PutBack {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = {
            let mut from = std::io::BufRead::fill_buf(self)?;
            from.read(buf)?
        };
        std::io::BufRead::consume(self, n);
        Ok(n)
    }
}

impl std::io::BufRead for PutBack {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        if self.back.is_empty() {
            self.inner.fill_buf()
        } else {
            Ok(&self.back)
        }
    }

    fn consume(&mut self, n: usize) {
        if self.back.is_empty() {
            self.inner.consume(n);
        } else {
            self.back.drain(..n.min(self.back.len()));
        }
    }
}

fn from_source(
    path: &Path,
    magic: [u8; 4],
    src: Box<dyn ChunkSource>,
    damage: Option<Damage>,
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
        damage,
        packets: 0,
    })
}

/// A helpful guess at what a non-capture file is.
fn describe_non_capture(magic: [u8; 4]) -> String {
    // Compressed with something other than gzip (which is read): say how to pipe it in.
    const COMPRESSED: &[(&[u8], &str, &str)] = &[
        (&[0x28, 0xb5, 0x2f, 0xfd], "zstd", "zstdcat"),
        (&[0xfd, b'7', b'z', b'X'], "xz", "xzcat"),
        (b"BZh", "bzip2", "bzcat"),
        (&[0x04, 0x22, 0x4d, 0x18], "lz4", "lz4cat"),
    ];
    if let Some((_, name, cat)) = COMPRESSED.iter().find(|(m, _, _)| magic.starts_with(m)) {
        return format!(
            "{name}-compressed: lbcheck reads pcap and pcapng, plain or gzip; decompress it on the way: `{cat} FILE | lbcheck pcap -`"
        );
    }
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
        // Where this record starts: at the end, where a gzip stream ended (only asked then).
        let at = if self.damage.is_some() {
            self.offset()
        } else {
            0
        };
        let step = match &mut self.inner {
            Inner::Pcap(r) => r.next()?,
            Inner::Pcapng(r) => r.next()?,
        };
        let damaged = |packets: u64, offset: u64, d: &Option<Damage>| {
            let why = d.as_ref().and_then(Damage::take)?;
            Some(CutShort {
                offset,
                packets_before: packets,
                what: format!("the gzip stream ends early or is damaged ({why})"),
            })
        };
        match step {
            Step::Packet(p) => {
                self.packets += 1;
                Ok(Some(p))
            }
            Step::End => {
                self.cut_short = damaged(self.packets, at, &self.damage);
                Ok(None)
            }
            Step::Cut(mut c) => {
                if let Some(d) = damaged(c.packets_before, c.offset, &self.damage) {
                    c.what = format!("{}: {}", d.what, c.what);
                }
                self.cut_short = Some(c);
                Ok(None)
            }
        }
    }
}
