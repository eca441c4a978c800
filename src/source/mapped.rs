//! Reading a large capture through a memory map: no copy from the page cache into our buffers
//! (the kernel's copy was the largest single cost of reading), and every analysis thread walks
//! the file at its own pace through a map of its own.
//!
//! The map is read-only. What it costs in safety: if another program truncates the file while
//! lbcheck reads it, touching the lost pages raises SIGBUS. Capture tools append and rotate
//! into new files; they do not truncate. `LBCHECK_MMAP=never` reads with read(2) instead.
//!
//! Pages already walked are released from the map as the reader moves on, so the resident set
//! does not grow with the file (a mapped page counts in RSS while it is mapped).

use std::fs::File;
use std::sync::Arc;

use memmap2::{Advice, Mmap, UncheckedAdvice};

use super::reader::{Chunk, ChunkSource};

/// Files at least this large are mapped (smaller ones are read in a few calls anyway).
const MAP_MIN_BYTES: u64 = 16 << 20;
/// The part of the map handed out at once; released when the reader asks for the next.
const MAPPED_CHUNK: usize = 8 << 20;

/// Whether to map `file` of `size` bytes: `LBCHECK_MMAP` = never | always, else large regular
/// files only (a pipe or a device cannot be mapped).
pub(super) fn wanted(file: &File, size: u64) -> bool {
    let regular = file.metadata().is_ok_and(|m| m.is_file());
    match std::env::var("LBCHECK_MMAP").as_deref() {
        Ok("never") => false,
        Ok("always") => regular && size > 0,
        _ => regular && size >= MAP_MIN_BYTES && usize::try_from(size).is_ok(),
    }
}

pub(super) struct MappedChunks {
    map: Arc<Mmap>,
    next: usize,
}

impl MappedChunks {
    pub(super) fn new(file: &File) -> std::io::Result<Self> {
        // SAFETY: the map is read-only and private to this reader. The one way it can fail
        // Rust's rules is the file shrinking under it (SIGBUS), see the module comment.
        #[allow(unsafe_code)]
        let map = unsafe { Mmap::map(file)? };
        // Read-ahead hint only; failing it changes nothing.
        let _ = map.advise(Advice::Sequential);
        Ok(Self {
            map: Arc::new(map),
            next: 0,
        })
    }
}

impl ChunkSource for MappedChunks {
    fn next_chunk(&mut self, spent: Chunk) -> std::io::Result<Option<Chunk>> {
        if let Chunk::Mapped(map, range) = spent {
            if Arc::ptr_eq(&map, &self.map) && !range.is_empty() {
                // SAFETY: DONTNEED on a read-only file map only drops the page table entries:
                // a later read faults the same bytes back in from the page cache, so no slice
                // of the map can see different bytes. The reader no longer uses this range.
                #[allow(unsafe_code)]
                let _ = unsafe {
                    map.unchecked_advise_range(UncheckedAdvice::DontNeed, range.start, range.len())
                };
            }
        }
        let start = self.next;
        if start >= self.map.len() {
            return Ok(None);
        }
        let end = (start + MAPPED_CHUNK).min(self.map.len());
        self.next = end;
        // Map the chunk's pages in one call rather than one page fault per 64 KiB as the
        // reader walks them (Linux 5.14+; elsewhere the faults happen as before).
        let _ = self
            .map
            .advise_range(Advice::PopulateRead, start, end - start);
        Ok(Some(Chunk::Mapped(Arc::clone(&self.map), start..end)))
    }
}
