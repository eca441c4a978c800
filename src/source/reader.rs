//! A buffered reader that knows its byte offset and tells "clean end of file" apart from "the
//! file stopped in the middle of what I was reading" (a cut capture).
//!
//! The file arrives in large chunks (see [`ChunkSource`]); a record inside one chunk is handed
//! out as a slice of it, so its bytes are copied once (kernel to chunk) and never again. Only a
//! record that straddles two chunks is gathered into a small side buffer. Chunks are shared
//! (`Arc`), so several readers on several threads can walk the same bytes (see `file.rs`).

use std::io::{self, Read};
use std::sync::Arc;

/// Bytes asked of the kernel per read: large enough that syscalls are rare, small enough to
/// stay in cache.
pub(super) const READ_CHUNK: usize = 1 << 20;

/// How a request for `n` bytes ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fill {
    /// All requested bytes were read.
    Full,
    /// End of file before the first byte: a clean end between records.
    Eof,
    /// End of file after this many bytes: the file is cut inside a record.
    Partial(usize),
}

/// A piece of the file: bytes read into memory (shared between threads), or a range of a
/// memory map of it (`mapped.rs`).
#[derive(Clone)]
pub(super) enum Chunk {
    Owned(Arc<Vec<u8>>),
    Mapped(Arc<memmap2::Mmap>, std::ops::Range<usize>),
}

impl Default for Chunk {
    fn default() -> Self {
        Self::Owned(Arc::default())
    }
}

impl Chunk {
    pub(super) fn bytes(&self) -> &[u8] {
        match self {
            Self::Owned(v) => v,
            Self::Mapped(map, range) => &map[range.clone()],
        }
    }
}

/// Where the chunks come from: this thread's reads, a reader thread (`file.rs`), or a memory
/// map (`mapped.rs`).
pub(super) trait ChunkSource: Send {
    /// The next chunk of the file (`None` at its end). `spent` is the chunk the caller is done
    /// with, for reuse when nobody else holds it.
    fn next_chunk(&mut self, spent: Chunk) -> io::Result<Option<Chunk>>;
}

/// Chunks read on the calling thread.
pub(super) struct ReadChunks<R>(pub(super) R);

impl<R: Read + Send> ChunkSource for ReadChunks<R> {
    fn next_chunk(&mut self, spent: Chunk) -> io::Result<Option<Chunk>> {
        // Reuse the buffer when the reader let go of it (it always has, on one thread).
        let buf = match spent {
            Chunk::Owned(v) if Arc::strong_count(&v) == 1 => v,
            _ => Arc::new(Vec::new()),
        };
        read_chunk(&mut self.0, buf, READ_CHUNK)
    }
}

/// Reads the next chunk into `buf` (which nobody else holds).
fn read_chunk(r: &mut impl Read, mut buf: Arc<Vec<u8>>, size: usize) -> io::Result<Option<Chunk>> {
    {
        let bytes = Arc::get_mut(&mut buf).expect("a chunk nobody else holds");
        bytes.resize(size, 0);
        let got = read_full(r, bytes)?;
        bytes.truncate(got);
    }
    Ok((!buf.is_empty()).then_some(Chunk::Owned(buf)))
}

/// Chunks read on the calling thread, for a reader whose chunks other threads hold on to for
/// a while (`SharedChunk`): spent buffers wait in a small pool until nobody holds them, so the
/// same few buffers are reused (a fresh megabyte costs page faults on every page).
pub(super) struct PooledReadChunks<R> {
    inner: R,
    pool: Vec<Arc<Vec<u8>>>,
}

/// Buffers kept for reuse; more in flight than this are simply dropped when spent.
const POOL: usize = 16;

/// Bytes per pooled chunk: several are held at once by other threads, and a smaller one is
/// still in cache when they read it (1 GiB bench capture, two threads: peak RSS 102 -> 99 MB,
/// time within the noise).
const POOLED_CHUNK: usize = 256 << 10;

impl<R> PooledReadChunks<R> {
    pub(super) fn new(inner: R) -> Self {
        Self {
            inner,
            pool: Vec::new(),
        }
    }
}

impl<R: Read + Send> ChunkSource for PooledReadChunks<R> {
    fn next_chunk(&mut self, spent: Chunk) -> io::Result<Option<Chunk>> {
        if let Chunk::Owned(v) = spent {
            if self.pool.len() < POOL && v.capacity() > 0 {
                self.pool.push(v);
            }
        }
        let buf = match self.pool.iter().position(|b| Arc::strong_count(b) == 1) {
            Some(i) => self.pool.swap_remove(i),
            None => Arc::new(Vec::new()),
        };
        read_chunk(&mut self.inner, buf, POOLED_CHUNK)
    }
}

/// Reads until `buf` is full or the file ends; returns the bytes read.
pub(super) fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

pub(super) struct ByteReader {
    src: Box<dyn ChunkSource>,
    chunk: Chunk,
    pos: usize,
    /// A record that straddles chunks, gathered.
    carry: Vec<u8>,
    offset: u64,
    eof: bool,
}

impl ByteReader {
    pub(super) fn new(src: Box<dyn ChunkSource>) -> Self {
        Self {
            src,
            chunk: Chunk::default(),
            pos: 0,
            carry: Vec::new(),
            offset: 0,
            eof: false,
        }
    }

    /// Byte offset of the next byte to be read.
    pub(super) fn offset(&self) -> u64 {
        self.offset
    }

    /// The chunk in hand (the bytes of the packet just read, unless it was gathered).
    pub(super) fn chunk(&self) -> &Chunk {
        &self.chunk
    }

    /// The record last gathered from several chunks.
    pub(super) fn gathered(&self) -> &[u8] {
        &self.carry
    }

    /// The bytes after the read position that are already in memory (the rest of the
    /// chunk): what a look ahead may read without reading the file.
    pub(super) fn in_hand(&self) -> &[u8] {
        &self.chunk.bytes()[self.pos..]
    }

    /// Moves to the next non-empty chunk; false at the end of the file.
    fn advance(&mut self) -> io::Result<bool> {
        while !self.eof {
            let spent = std::mem::take(&mut self.chunk);
            self.pos = 0;
            match self.src.next_chunk(spent)? {
                Some(c) if c.bytes().is_empty() => {}
                Some(c) => {
                    self.chunk = c;
                    self.pos = 0;
                    return Ok(true);
                }
                None => self.eof = true,
            }
        }
        Ok(false)
    }

    /// The next `n` bytes, or how the file ended before them. The usual case (the bytes are
    /// in the chunk in hand) is inlined into the record readers, twice a packet; gathering a
    /// record that straddles chunks is not.
    #[inline]
    pub(super) fn take(&mut self, n: usize) -> io::Result<(Fill, &[u8])> {
        if self.chunk.bytes().len() - self.pos >= n {
            let start = self.pos;
            self.pos += n;
            self.offset += n as u64;
            return Ok((Fill::Full, &self.chunk.bytes()[start..start + n]));
        }
        self.take_gathered(n)
    }

    #[cold]
    #[inline(never)]
    fn take_gathered(&mut self, n: usize) -> io::Result<(Fill, &[u8])> {
        // The record straddles chunks (or the file ends inside it): gather it.
        self.carry.clear();
        self.carry
            .extend_from_slice(&self.chunk.bytes()[self.pos..]);
        self.pos = self.chunk.bytes().len();
        while self.carry.len() < n && self.advance()? {
            let bytes = self.chunk.bytes();
            let want = (n - self.carry.len()).min(bytes.len());
            self.carry.extend_from_slice(&bytes[..want]);
            self.pos = want;
        }
        let got = self.carry.len();
        self.offset += got as u64;
        let fill = match got {
            g if g == n => Fill::Full,
            0 => Fill::Eof,
            g => Fill::Partial(g),
        };
        Ok((fill, &self.carry[..got]))
    }

    /// Reads exactly `buf.len()` bytes unless the file ends first (small fixed headers).
    pub(super) fn fill(&mut self, buf: &mut [u8]) -> io::Result<Fill> {
        let (fill, bytes) = self.take(buf.len())?;
        buf[..bytes.len()].copy_from_slice(bytes);
        Ok(fill)
    }
}

/// Byte order of a capture file or pcapng section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Endian {
    Little,
    Big,
}

impl Endian {
    pub(super) fn u16(self, b: &[u8]) -> u16 {
        let a = [b[0], b[1]];
        match self {
            Self::Little => u16::from_le_bytes(a),
            Self::Big => u16::from_be_bytes(a),
        }
    }

    pub(super) fn u32(self, b: &[u8]) -> u32 {
        let a = [b[0], b[1], b[2], b[3]];
        match self {
            Self::Little => u32::from_le_bytes(a),
            Self::Big => u32::from_be_bytes(a),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hands out the given chunks, as a reader thread would.
    struct Fixed(std::collections::VecDeque<Vec<u8>>);

    impl ChunkSource for Fixed {
        fn next_chunk(&mut self, _: Chunk) -> io::Result<Option<Chunk>> {
            Ok(self.0.pop_front().map(|c| Chunk::Owned(Arc::new(c))))
        }
    }

    fn reader(chunks: &[&[u8]]) -> ByteReader {
        ByteReader::new(Box::new(Fixed(chunks.iter().map(|c| c.to_vec()).collect())))
    }

    #[test]
    fn records_across_chunk_boundaries_and_empty_chunks_come_out_whole() {
        let mut r = reader(&[b"abc", b"", b"defg", b"h", b"ij"]);
        assert_eq!(r.take(2).unwrap(), (Fill::Full, &b"ab"[..]));
        assert_eq!(r.take(5).unwrap(), (Fill::Full, &b"cdefg"[..]));
        assert_eq!(r.offset(), 7);
        assert_eq!(r.take(1).unwrap(), (Fill::Full, &b"h"[..]));
        assert_eq!(r.take(4).unwrap(), (Fill::Partial(2), &b"ij"[..]));
        assert_eq!(r.take(4).unwrap(), (Fill::Eof, &b""[..]));
        assert_eq!(r.offset(), 10);
    }

    #[test]
    fn a_record_larger_than_several_chunks() {
        let mut r = reader(&[b"ab", b"cd", b"ef", b"gh"]);
        assert_eq!(r.take(7).unwrap(), (Fill::Full, &b"abcdefg"[..]));
        assert_eq!(r.take(1).unwrap(), (Fill::Full, &b"h"[..]));
        assert_eq!(r.take(1).unwrap().0, Fill::Eof);
    }

    #[test]
    fn read_chunks_reads_the_whole_stream() {
        let data: Vec<u8> = (0..3 * READ_CHUNK + 17).map(|i| (i % 251) as u8).collect();
        let mut r = ByteReader::new(Box::new(ReadChunks(std::io::Cursor::new(data.clone()))));
        let mut back = Vec::new();
        loop {
            let (fill, bytes) = r.take(4093).unwrap();
            back.extend_from_slice(bytes);
            if fill != Fill::Full {
                break;
            }
        }
        assert_eq!(back, data);
    }
}
