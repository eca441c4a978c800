//! The flow table's index: flow hash to slot, open addressing with linear probing.
//!
//! Written here rather than taken from hashbrown because the read loop looks a few packets
//! ahead and prefetches each one's index entry, then its flow, before the packet is processed
//! (`FlowTable::prefetch`). Profiles showed the lookup waiting on two cache misses per packet —
//! the bucket and the flow — since the packet bytes streamed in between evict both. hashbrown
//! has no way to ask where a key's bucket is without probing it, and a probe blocks on the very
//! miss the prefetch should hide (measured: slower). Here the entry's address is a shift of the
//! hash, and an entry holds the hash's upper half and the flow's address, so a tag match names
//! the flow to prefetch without another dependent load.
//!
//! The hash is the endpoints' hash (`key::pair_hash`), the same either way round; the caller
//! confirms a match by comparing keys.

/// An entry: the upper 32 bits of the hash (the tag) over the slot + 1 (0: empty), and where
/// the slot's flow lives in memory (only ever prefetched, never read through).
#[derive(Clone, Copy, Default, PartialEq, Eq)]
struct Entry {
    tag_slot: u64,
    addr: usize,
}

impl Entry {
    fn is_empty(self) -> bool {
        self.tag_slot == 0
    }

    fn tag(self) -> u32 {
        (self.tag_slot >> 32) as u32
    }

    fn slot(self) -> usize {
        (self.tag_slot as u32) as usize - 1
    }
}

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
            entries: vec![Entry::default(); 1 << MIN_BITS],
            bits: MIN_BITS,
            len: 0,
        }
    }
}

fn tag(hash: u64) -> u32 {
    (hash >> 32) as u32
}

fn tag_slot(tag: u32, slot: usize) -> u64 {
    let slot = u32::try_from(slot + 1).expect("fewer than 2^32 flows open at once");
    (u64::from(tag) << 32) | u64::from(slot)
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
        self.find_entry(hash, |e| is_it(e.slot())).map(Entry::slot)
    }

    fn find_entry(&self, hash: u64, mut is_it: impl FnMut(Entry) -> bool) -> Option<Entry> {
        let t = tag(hash);
        let mut at = self.home(t);
        loop {
            let e = self.entries[at];
            if e.is_empty() {
                return None;
            }
            if e.tag() == t && is_it(e) {
                return Some(e);
            }
            at = (at + 1) & self.mask();
        }
    }

    /// The slot and flow address first filed under `hash`'s tag, unconfirmed (for a prefetch).
    pub fn guess(&self, hash: u64) -> Option<(usize, usize)> {
        self.find_entry(hash, |_| true).map(|e| (e.slot(), e.addr))
    }

    /// The address of `hash`'s first entry, for a prefetch.
    pub fn entry_ptr(&self, hash: u64) -> *const u8 {
        self.entries[self.home(tag(hash))..].as_ptr().cast()
    }

    /// Files `slot`, whose flow lives at `addr`, under `hash` (the caller knows its key is not
    /// filed yet).
    pub fn insert(&mut self, hash: u64, slot: usize, addr: usize) {
        // At most half full: probes stay short.
        if (self.len + 1) * 2 > self.entries.len() {
            self.grow();
        }
        self.place(Entry {
            tag_slot: tag_slot(tag(hash), slot),
            addr,
        });
        self.len += 1;
    }

    fn place(&mut self, e: Entry) {
        let mut at = self.home(e.tag());
        while !self.entries[at].is_empty() {
            at = (at + 1) & self.mask();
        }
        self.entries[at] = e;
    }

    fn grow(&mut self) {
        let bigger = vec![Entry::default(); 1 << (self.bits + 1)];
        let old = std::mem::replace(&mut self.entries, bigger);
        self.bits += 1;
        for e in old.into_iter().filter(|e| !e.is_empty()) {
            self.place(e);
        }
    }

    /// Takes `slot`, filed under `hash`, out. Later entries of its probe run move back into
    /// the gap (backward-shift deletion), so no tombstones build up.
    pub fn remove(&mut self, hash: u64, slot: usize) {
        let wanted = tag_slot(tag(hash), slot);
        let mut gap = self.home(tag(hash));
        while self.entries[gap].tag_slot != wanted {
            assert!(
                !self.entries[gap].is_empty(),
                "removing a slot that is not filed"
            );
            gap = (gap + 1) & self.mask();
        }
        let mut at = gap;
        loop {
            at = (at + 1) & self.mask();
            let e = self.entries[at];
            if e.is_empty() {
                break;
            }
            // An entry whose home lies cyclically in (gap, at] must stay where it is.
            let home = self.home(e.tag());
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
        self.entries[gap] = Entry::default();
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
                    index.insert(h, k as usize, 0);
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
        index.insert(h, 5, 0x500);
        index.insert(h ^ 1, 6, 0x600); // same tag, another flow
        assert_eq!(index.guess(h), Some((5, 0x500)));
        assert_eq!(index.find(h, |s| s == 6), Some(6));
        index.remove(h, 5);
        assert_eq!(index.guess(h), Some((6, 0x600)));
    }
}
