//! The flow table's index: flow hash to slot, open addressing with linear probing.
//!
//! Written here rather than taken from hashbrown because the read loop looks a few packets
//! ahead and prefetches each one's index entry, then its flow, before the packet is processed
//! (`FlowTable::prefetch`). Profiles showed the lookup waiting on two cache misses per packet —
//! the bucket and the flow — since the packet bytes streamed in between evict both. hashbrown
//! has no way to ask where a key's bucket is without probing it, and a probe blocks on the very
//! miss the prefetch should hide (measured: slower). Here the entry's address is a shift of the
//! hash, and an entry holds the hash's upper half, so a tag match names the flow to prefetch
//! without touching it.
//!
//! The hash is the endpoints' hash (`key::pair_hash`), the same either way round; the caller
//! confirms a match by comparing keys.

/// An entry: upper 32 bits of the hash (the tag), lower 32 bits the slot + 1; 0 is empty.
type Entry = u64;

const MIN_BITS: u32 = 10;

pub struct FlowIndex {
    entries: Vec<Entry>,
    /// log2 of `entries.len()`.
    bits: u32,
    len: usize,
}

impl Default for FlowIndex {
    fn default() -> Self {
        Self {
            entries: vec![0; 1 << MIN_BITS],
            bits: MIN_BITS,
            len: 0,
        }
    }
}

fn tag(hash: u64) -> u32 {
    (hash >> 32) as u32
}

fn entry(tag: u32, slot: usize) -> Entry {
    let slot = u32::try_from(slot + 1).expect("fewer than 2^32 flows open at once");
    (u64::from(tag) << 32) | u64::from(slot)
}

fn slot_of(e: Entry) -> usize {
    (e as u32) as usize - 1
}

impl FlowIndex {
    pub fn len(&self) -> usize {
        self.len
    }

    /// Where probing for a tag starts: its top bits (so that growing needs only the tag).
    fn home(&self, tag: u32) -> usize {
        (tag >> (32 - self.bits)) as usize
    }

    fn mask(&self) -> usize {
        self.entries.len() - 1
    }

    /// The slot whose flow `is_it` accepts, among those filed under `hash`.
    pub fn find(&self, hash: u64, mut is_it: impl FnMut(usize) -> bool) -> Option<usize> {
        let t = tag(hash);
        let mut at = self.home(t);
        loop {
            let e = self.entries[at];
            if e == 0 {
                return None;
            }
            if (e >> 32) as u32 == t && is_it(slot_of(e)) {
                return Some(slot_of(e));
            }
            at = (at + 1) & self.mask();
        }
    }

    /// The first slot filed under `hash`'s tag, without confirming it (for a prefetch).
    pub fn guess(&self, hash: u64) -> Option<usize> {
        self.find(hash, |_| true)
    }

    /// The address of `hash`'s first entry, for a prefetch.
    pub fn entry_ptr(&self, hash: u64) -> *const u8 {
        self.entries[self.home(tag(hash))..].as_ptr().cast()
    }

    /// Files `slot` under `hash` (the caller knows its key is not filed yet).
    pub fn insert(&mut self, hash: u64, slot: usize) {
        // At most half full: probes stay short.
        if (self.len + 1) * 2 > self.entries.len() {
            self.grow();
        }
        self.place(entry(tag(hash), slot));
        self.len += 1;
    }

    fn place(&mut self, e: Entry) {
        let mut at = self.home((e >> 32) as u32);
        while self.entries[at] != 0 {
            at = (at + 1) & self.mask();
        }
        self.entries[at] = e;
    }

    fn grow(&mut self) {
        let old = std::mem::replace(&mut self.entries, vec![0; 1 << (self.bits + 1)]);
        self.bits += 1;
        for e in old.into_iter().filter(|&e| e != 0) {
            self.place(e);
        }
    }

    /// Takes `slot`, filed under `hash`, out. Later entries of its probe run move back into
    /// the gap (backward-shift deletion), so no tombstones build up.
    pub fn remove(&mut self, hash: u64, slot: usize) {
        let wanted = entry(tag(hash), slot);
        let mut gap = self.home(tag(hash));
        while self.entries[gap] != wanted {
            assert_ne!(self.entries[gap], 0, "removing a slot that is not filed");
            gap = (gap + 1) & self.mask();
        }
        let mut at = gap;
        loop {
            at = (at + 1) & self.mask();
            let e = self.entries[at];
            if e == 0 {
                break;
            }
            // An entry whose home lies cyclically in (gap, at] must stay where it is.
            let home = self.home((e >> 32) as u32);
            let stays = if gap <= at {
                gap < home && home <= at
            } else {
                gap < home || home <= at
            };
            if !stays {
                self.entries[gap] = e;
                gap = at;
            }
        }
        self.entries[gap] = 0;
        self.len -= 1;
    }
}

/// Asks the CPU to bring the cache line at `p` in (a hint: it never faults, even for a wild
/// address, and changes nothing the program can observe except timing).
#[inline(always)]
pub fn prefetch(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    #[allow(unsafe_code)]
    // SAFETY: PREFETCHT0 does not access memory architecturally: no fault, no data read.
    unsafe {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        _mm_prefetch::<_MM_HINT_T0>(p.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hash whose tag lands every key on a few homes, so runs wrap and interleave.
    fn clash(k: u64) -> u64 {
        ((k % 7) << 61 | (k & 0xffff) << 32) ^ (k * 0x9e37_79b9)
    }

    #[test]
    fn agrees_with_a_map_through_inserts_and_removals() {
        let mut index = FlowIndex::default();
        let mut model = std::collections::HashMap::new();
        let mut rng = 0x2545_f491_4f6c_dd1d_u64;
        for round in 0..200_000u64 {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let k = rng % 3000;
            let h = if round % 2 == 0 {
                clash(k)
            } else {
                k.wrapping_mul(0xff51_afd7_ed55_8ccd)
            };
            // Keys alternate between the two hash shapes; keep one shape per key.
            let h = model.get(&k).map_or(h, |&(h, _)| h);
            match model.get(&k) {
                Some(&(hash, slot)) if rng % 3 == 0 => {
                    index.remove(hash, slot);
                    model.remove(&k);
                }
                Some(&(hash, slot)) => {
                    assert_eq!(index.find(hash, |s| s == slot), Some(slot));
                }
                None => {
                    assert_eq!(index.find(h, |s| s == k as usize), None);
                    index.insert(h, k as usize);
                    model.insert(k, (h, k as usize));
                }
            }
            assert_eq!(index.len(), model.len());
        }
        for (&k, &(hash, slot)) in &model {
            assert_eq!(index.find(hash, |s| s == slot), Some(k as usize));
        }
        assert!(index.entries.len() >= 2 * model.len());
    }

    #[test]
    fn guess_names_the_first_entry_with_the_tag() {
        let mut index = FlowIndex::default();
        let h = 0xdead_beef_0000_0001;
        assert_eq!(index.guess(h), None);
        index.insert(h, 5);
        index.insert(h ^ 1, 6); // same tag, another flow
        assert_eq!(index.guess(h), Some(5));
        assert_eq!(index.find(h, |s| s == 6), Some(6));
        index.remove(h, 5);
        assert_eq!(index.guess(h), Some(6));
    }
}
