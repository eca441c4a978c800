//! Reading a capture through a memory map, on request (`LBCHECK_MMAP`, see [`wanted`]): no
//! copy from the page cache into our buffers, and every analysis thread walks the file at its
//! own pace through one shared map (pages mapped once, not once per thread). Once the read loop
//! prefetched what it reads, mapping and releasing the pages cost more than the copy, so files
//! are read with read(2) by default.
//!
//! The map is read-only. What it costs in safety: if another program truncates the file while
//! lbcheck reads it, touching the lost pages raises SIGBUS. Capture tools append and rotate
//! into new files; they do not truncate. `LBCHECK_MMAP=never` reads with read(2) instead.
//!
//! Pages every reader has walked are released from the map, so the resident set does not grow
//! with the file (a mapped page counts in RSS while it is mapped); a reader may not run more
//! than a few chunks ahead of the slowest.

use std::fs::File;
use std::sync::{Arc, Condvar, Mutex};

use memmap2::{Advice, Mmap, UncheckedAdvice};

use super::file::LARGE_FILE_BYTES;
use super::reader::{Chunk, ChunkSource};

/// The released range must start on a page; 4 KiB pages divide every larger page size.
const PAGE: usize = 4096;
/// The part of the map handed out at once; released when the reader asks for the next.
const MAPPED_CHUNK: usize = 1 << 20;
/// How far one reader may run ahead of the slowest.
const MAX_LEAD: usize = 4 * MAPPED_CHUNK;

/// Whether to map `file` of `size` bytes: `LBCHECK_MMAP` = always (regular files; a pipe or
/// a device cannot be mapped) | large (regular files of 16 MiB and more); by default no file
/// is mapped. Once the read loop prefetched what it reads (`analyze/ahead.rs`), mapping the
/// pages in and out cost more than the kernel's copy: 1 GiB bench capture, one thread,
/// analysis 0.86-0.88 s mapped, 0.72-0.74 s read(2). Several threads read through one reader
/// (`analyze/walker.rs`) instead of each walking a shared map.
pub(super) fn wanted(file: &File, size: u64) -> bool {
    let regular = file.metadata().is_ok_and(|m| m.is_file());
    match std::env::var("LBCHECK_MMAP").as_deref() {
        Ok("always") => regular && size > 0,
        Ok("large") => regular && size >= LARGE_FILE_BYTES && usize::try_from(size).is_ok(),
        _ => false,
    }
}

/// One map of the file shared by every reader: pages are mapped once (not once per thread)
/// and released once every reader has gone past them.
struct SharedMap {
    map: Arc<Mmap>,
    state: Mutex<MapState>,
    /// Signalled when the slowest reader moves on.
    moved: Condvar,
}

struct MapState {
    /// Per reader: the offset before which it needs nothing any more.
    done_before: Vec<usize>,
    /// Pages before this are released; pages before `populated` were mapped in.
    released: usize,
    populated: usize,
}

/// One reader's walk through the shared map.
pub(super) struct MappedChunks {
    shared: Arc<SharedMap>,
    reader: usize,
    next: usize,
}

/// Maps `file` once for `readers` readers.
pub(super) fn map_for(file: &File, readers: usize) -> std::io::Result<Vec<MappedChunks>> {
    // SAFETY: the map is read-only. The one way it can fail Rust's rules is the file shrinking
    // under it (SIGBUS), see the module comment.
    #[allow(unsafe_code)]
    let map = unsafe { Mmap::map(file)? };
    // Read-ahead hint only; failing it changes nothing.
    let _ = map.advise(Advice::Sequential);
    let shared = Arc::new(SharedMap {
        map: Arc::new(map),
        state: Mutex::new(MapState {
            done_before: vec![0; readers],
            released: 0,
            populated: 0,
        }),
        moved: Condvar::new(),
    });
    Ok((0..readers)
        .map(|reader| MappedChunks {
            shared: Arc::clone(&shared),
            reader,
            next: 0,
        })
        .collect())
}

impl ChunkSource for MappedChunks {
    fn next_chunk(&mut self, _spent: Chunk) -> std::io::Result<Option<Chunk>> {
        let map = &self.shared.map;
        let start = self.next;
        let end = (start + MAPPED_CHUNK).min(map.len());
        self.next = end;
        // A poisoned lock only means another reader panicked; the numbers are still right.
        let mut state = self
            .shared
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // This reader is done with everything before `start` (the spent chunk).
        state.done_before[self.reader] = start;
        self.shared.moved.notify_all();
        // A reader far ahead of the slowest waits for it: mapped pages count in the resident
        // set until every reader is past them. (A reader that stops, at the end or on an
        // error, counts as past everything: see Drop.)
        while start > state.done_before.iter().copied().min().unwrap_or(0) + MAX_LEAD {
            state = self
                .shared
                .moved
                .wait(state)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        let all_done = state.done_before.iter().copied().min().unwrap_or(0);
        let release_to = all_done / PAGE * PAGE;
        if release_to > state.released {
            // SAFETY: DONTNEED on a read-only file map only drops the page table entries: a
            // later read faults the same bytes back in from the page cache, so no slice of the
            // map can see different bytes. No reader uses these pages any more.
            #[allow(unsafe_code)]
            let _ = unsafe {
                map.unchecked_advise_range(
                    UncheckedAdvice::DontNeed,
                    state.released,
                    release_to - state.released,
                )
            };
            state.released = release_to;
        }
        if start >= map.len() {
            state.done_before[self.reader] = usize::MAX;
            self.shared.moved.notify_all();
            return Ok(None);
        }
        if end > state.populated {
            // Map the chunk's pages in one call rather than one page fault per 64 KiB as the
            // readers walk them (Linux 5.14+; elsewhere the faults happen as before).
            let from = state.populated.max(start);
            let _ = map.advise_range(Advice::PopulateRead, from, end - from);
            state.populated = end;
        }
        Ok(Some(Chunk::Mapped(Arc::clone(map), start..end)))
    }
}

impl Drop for MappedChunks {
    fn drop(&mut self) {
        let mut state = self
            .shared
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        state.done_before[self.reader] = usize::MAX;
        self.shared.moved.notify_all();
    }
}
