//! A buffered reader that knows its byte offset and tells "clean end of file" apart from "the
//! file stopped in the middle of what I was reading" (a cut capture).

use std::io::{self, BufReader, Read};

/// Large enough that a read syscall moves plenty of data, small enough to stay in cache.
const READ_BUFFER: usize = 1 << 20;

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

pub(super) struct ByteReader<R> {
    inner: BufReader<R>,
    offset: u64,
}

impl<R: Read> ByteReader<R> {
    pub(super) fn new(inner: R) -> Self {
        Self {
            inner: BufReader::with_capacity(READ_BUFFER, inner),
            offset: 0,
        }
    }

    /// Byte offset of the next byte to be read.
    pub(super) fn offset(&self) -> u64 {
        self.offset
    }

    /// Reads exactly `buf.len()` bytes unless the file ends first.
    pub(super) fn fill(&mut self, buf: &mut [u8]) -> io::Result<Fill> {
        let mut done = 0;
        while done < buf.len() {
            match self.inner.read(&mut buf[done..]) {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.offset += done as u64;
        Ok(match done {
            n if n == buf.len() => Fill::Full,
            0 => Fill::Eof,
            n => Fill::Partial(n),
        })
    }

    /// Reads `len` bytes into `buf` (resized, never shrunk in capacity: one allocation serves
    /// every record).
    pub(super) fn fill_vec(&mut self, buf: &mut Vec<u8>, len: usize) -> io::Result<Fill> {
        buf.resize(len, 0);
        self.fill(buf)
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
