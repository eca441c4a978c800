//! A look ahead in the read loop, to hide the flow lookup's cache misses.
//!
//! Profiles of a 1 GiB capture had the lookup waiting on memory for a third of a thread's
//! time: the packet bytes streamed between two packets of one flow evict its index entry and
//! the flow itself. Before packet `i` is read, packet `i + 2` is peeked in the reader's buffer
//! (never read from the file), its endpoints hashed without decoding it, and its index entry
//! prefetched; packet `i + 1`'s entry, prefetched a step earlier, is in cache by then and
//! names its flow, which is prefetched too. By the time a packet is processed, both are in.
//! The hash is kept, so the threads' "is it mine" test does not decode the packet again.
//!
//! Only hints: a packet that cannot be peeked (at the end of a chunk, a pcapng block other
//! than a packet) or is not plain TCP/UDP is simply not prefetched.

use crate::decode::quick;
use crate::flow::{pair_hash, prefetch};
use crate::source::{CaptureFile, RawPacket};

/// Packets ahead whose index entry is prefetched (their flow, one packet less).
pub const DISTANCE: u64 = 2;
const RING: usize = 4;
/// Cache lines brought in of the packet after the peeked one.
const FILE_LINES: usize = 2;

#[derive(Clone, Copy, Default)]
struct Peeked {
    /// Packet number (0: none; packets count from 1).
    index: u64,
    /// Its endpoints' hash, when it is plain TCP/UDP.
    hash: Option<u64>,
}

#[derive(Default)]
pub struct Ahead {
    ring: [Peeked; RING],
}

/// What the look ahead knows of a packet: `None` not peeked, `Some(None)` peeked but not plain
/// TCP/UDP, `Some(Some(hash))` its endpoints' hash.
pub type Known = Option<Option<u64>>;

impl Ahead {
    /// Before packet `next` is read: peeks packet `next + DISTANCE`, and gives the hashes
    /// of the packets ahead to `hints` (entry for the far one, flow for the near one).
    pub fn step(&mut self, file: &CaptureFile, next: u64, hints: &mut impl Prefetch) {
        let far = next + DISTANCE;
        if let Some((link_type, data)) = file.peek(DISTANCE as usize) {
            // The packet after it starts about here (its record header and the packet's
            // headers): bring it in now, so that peeking it next time does not wait.
            let after = data.as_ptr_range().end;
            for line in 0..FILE_LINES {
                prefetch(after.wrapping_add(64 * line));
            }
            let raw = RawPacket {
                index: far,
                ts_nanos: 0,
                interface: 0,
                link_type,
                orig_len: 0,
                data,
            };
            let hash = quick::endpoints(&raw).map(|(a, b)| pair_hash(a, b));
            self.ring[far as usize % RING] = Peeked { index: far, hash };
            if let Some(h) = hash {
                hints.entry(h);
            }
        }
        if let Some(Some(h)) = self.known(next + 1) {
            hints.flow(h);
        }
    }

    /// What was peeked of packet `index`.
    pub fn known(&self, index: u64) -> Known {
        let p = self.ring[index as usize % RING];
        (p.index == index).then_some(p.hash)
    }
}

/// Who acts on the hints: the analyzer, which knows whether the flow is its own.
pub trait Prefetch {
    fn entry(&mut self, hash: u64);
    fn flow(&mut self, hash: u64);
}
