//! Opening a capture file: recognise the format from its first bytes and hand out one reader.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use super::pcap::{MAGIC_MICRO, MAGIC_MODIFIED, MAGIC_NANO, PcapReader, Step};
use super::pcapng::PcapngReader;
use super::reader::ByteReader;
use super::{CutShort, InterfaceInfo, RawPacket, SourceError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FileFormat {
    Pcap,
    Pcapng,
    /// Packets captured live (`lbcheck live`).
    Live,
}

/// The file, with the magic number already taken put back in front; read on this thread, or
/// on a reader thread of its own (see [`ReadAhead`]).
type Src = Box<dyn Read + Send>;

/// Files at least this large are read ahead on a second thread when the machine has one.
const READ_AHEAD_MIN_BYTES: u64 = 16 << 20;
/// Bytes per chunk handed from the reader thread.
const READ_AHEAD_CHUNK: usize = 1 << 20;
/// Chunks in flight between the threads (bounded: memory stays flat).
const READ_AHEAD_DEPTH: usize = 4;

/// Reads a file on a thread of its own, so the kernel's copy and page-cache work run on the
/// second core while this one decodes. The bytes are the same, in the same order, so the
/// analysis cannot differ (tests/read_ahead.rs compares the reports). `LBCHECK_READ_AHEAD`
/// = never | always overrides the size rule (tests, and measuring it).
struct ReadAhead {
    rx: std::sync::mpsc::Receiver<std::io::Result<Vec<u8>>>,
    chunk: Vec<u8>,
    pos: usize,
}

impl ReadAhead {
    fn start(mut inner: impl Read + Send + 'static) -> Self {
        let (tx, rx) = std::sync::mpsc::sync_channel(READ_AHEAD_DEPTH);
        std::thread::spawn(move || {
            loop {
                let mut chunk = vec![0u8; READ_AHEAD_CHUNK];
                let mut got = 0;
                let result = loop {
                    match inner.read(&mut chunk[got..]) {
                        Ok(0) => break Ok(()),
                        Ok(n) => {
                            got += n;
                            if got == chunk.len() {
                                break Ok(());
                            }
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(e) => break Err(e),
                    }
                };
                chunk.truncate(got);
                let last = got == 0 || result.is_err();
                let message = match result {
                    Ok(()) => Ok(chunk),
                    Err(e) => Err(e),
                };
                // The receiver went away (the analysis stopped early): nothing left to do.
                if tx.send(message).is_err() || last {
                    return;
                }
            }
        });
        Self {
            rx,
            chunk: Vec::new(),
            pos: 0,
        }
    }
}

impl Read for ReadAhead {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.pos == self.chunk.len() {
            match self.rx.recv() {
                Ok(Ok(chunk)) => {
                    self.chunk = chunk;
                    self.pos = 0;
                }
                Ok(Err(e)) => return Err(e),
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len() - self.pos);
        buf[..n].copy_from_slice(&self.chunk[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

fn read_ahead_wanted(size: u64) -> bool {
    match std::env::var("LBCHECK_READ_AHEAD").as_deref() {
        Ok("never") => false,
        Ok("always") => true,
        _ => {
            size >= READ_AHEAD_MIN_BYTES
                && std::thread::available_parallelism().is_ok_and(|n| n.get() > 1)
        }
    }
}

enum Inner {
    Pcap(PcapReader<Src>),
    Pcapng(PcapngReader<Src>),
}

/// An open capture file, read front to back, one packet at a time.
pub struct CaptureFile {
    inner: Inner,
    cut_short: Option<CutShort>,
}

/// Opens `path` and reads just enough to know its format.
pub fn open_capture(path: &Path) -> Result<CaptureFile, SourceError> {
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
    let mut got = 0;
    while got < 4 {
        match file.read(&mut magic[got..]).map_err(io)? {
            0 => break,
            n => got += n,
        }
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
    // Offsets count from the file start, so the reader starts over the bytes already taken.
    let whole = std::io::Cursor::new(magic).chain(file);
    let src: Src = if read_ahead_wanted(meta.len()) {
        Box::new(ReadAhead::start(whole))
    } else {
        Box::new(whole)
    };
    let reader = ByteReader::new(src);
    let le = u32::from_le_bytes(magic);
    let be = u32::from_be_bytes(magic);
    let pcap_magic = |m| matches!(m, MAGIC_MICRO | MAGIC_NANO | MAGIC_MODIFIED);
    let inner = if be == 0x0a0d_0d0a {
        Inner::Pcapng(PcapngReader::open(path, reader))
    } else if pcap_magic(le) || pcap_magic(be) {
        Inner::Pcap(PcapReader::open(path, reader)?)
    } else {
        return Err(not(describe_non_capture(magic)));
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
