//! A buffered reader that knows its byte offset and tells "clean end of file" apart from "the
//! file stopped in the middle of what I was reading" (a cut capture).

use std::io::{self, Read};

/// Bytes asked of the kernel per read: large enough that syscalls are rare, small enough to
/// stay in cache.
const READ_CHUNK: usize = 1 << 20;

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

/// Reads the file in large chunks into one buffer and hands out slices of it, so a record's
/// bytes are copied once (kernel to buffer), not again into a per-record buffer. A slice lives
/// until the next call.
pub(super) struct ByteReader<R> {
    inner: R,
    buf: Vec<u8>,
    pos: usize,
    end: usize,
    offset: u64,
    eof: bool,
}

impl<R: Read> ByteReader<R> {
    pub(super) fn new(inner: R) -> Self {
        Self {
            inner,
            buf: Vec::new(),
            pos: 0,
            end: 0,
            offset: 0,
            eof: false,
        }
    }

    /// Byte offset of the next byte to be read.
    pub(super) fn offset(&self) -> u64 {
        self.offset
    }

    /// Makes `n` bytes available at `pos` unless the file ends first; returns how many are.
    fn ensure(&mut self, n: usize) -> io::Result<usize> {
        while self.end - self.pos < n && !self.eof {
            if self.pos > 0 {
                // Move the unread tail (part of one record) to the front.
                self.buf.copy_within(self.pos..self.end, 0);
                self.end -= self.pos;
                self.pos = 0;
            }
            let want = self.end + n.max(READ_CHUNK);
            if self.buf.len() < want {
                self.buf.resize(want, 0);
            }
            match self.inner.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(got) => self.end += got,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(self.end - self.pos)
    }

    /// The next `n` bytes, or how the file ended before them.
    pub(super) fn take(&mut self, n: usize) -> io::Result<(Fill, &[u8])> {
        let avail = self.ensure(n)?;
        let got = avail.min(n);
        let start = self.pos;
        self.pos += got;
        self.offset += got as u64;
        let fill = match got {
            g if g == n => Fill::Full,
            0 => Fill::Eof,
            g => Fill::Partial(g),
        };
        Ok((fill, &self.buf[start..start + got]))
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
