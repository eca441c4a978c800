//! Bounded, in-order reassembly of the first bytes of one TCP direction.
//!
//! Only the first [`FIRST_BYTES_CAP`] bytes are kept: that is where PROXY headers, HTTP request
//! heads and TLS ClientHellos live. Handles segments arriving out of order, retransmissions,
//! overlaps (bytes already held stay, conflicts reported) and snaplen-cut segments (the
//! contiguous bytes stop where the capture lost bytes, and say so).
//!
//! Once a flow has closed and its bytes can no longer change, the caller may inspect them and
//! drop them ([`Stream::seal`]): the counters go on as before, only the bytes are gone.

use std::borrow::Cow;
use std::num::NonZeroU64;
use std::ops::Range;

/// Bytes kept per direction: enough for a PROXY v2 header with a client certificate TLV and a
/// typical HTTP request head.
pub const FIRST_BYTES_CAP: usize = 4096;
/// Out-of-order segments held while waiting for the hole before them.
const MAX_PENDING: usize = 16;
/// How many segment boundaries are remembered (to tell a header split across segments).
pub const MAX_SEGMENT_ENDS: usize = 8;

/// A copy of bytes already here that said otherwise: the stream offsets of its first and
/// last differing bytes, and the packet that carried it (the version the bytes do not hold).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conflict {
    pub first: u32,
    pub last: u32,
    pub packet: u64,
}

impl Conflict {
    /// Whether the copy still differs from bytes `stream` holds (at either end of where it
    /// differed: a copy that changes a body dropped since and the next head counts).
    pub fn is_held(&self, stream: &Stream) -> bool {
        stream.holds(self.first) || stream.holds(self.last)
    }
}

/// Why the contiguous first bytes end where they do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StreamEnd {
    /// Everything the direction carried (up to the cap) is here.
    Complete,
    /// The cap was reached; more bytes followed.
    Capped,
    /// The capture cut a segment (snaplen): bytes were on the wire but not captured.
    NotCaptured,
    /// A segment is missing from the capture (a hole before later data).
    Hole,
}

/// Tells how many of a stream's first bytes are worth keeping (None: not known yet), given the
/// bytes and the cap; while not known, it adds to the list the ranges of them that no
/// inspector will read (HTTP bodies that the parsers step over by their length), which the
/// stream drops from memory and gives back as zeros (see [`Stream::bytes`]). Given by the
/// caller (the inspectors know protocols; this module does not). Once a stream has dropped
/// ranges, each call is given a copy of its bytes (at most 4 KiB, once per KiB it grows).
pub type TrimFn = fn(&[u8], usize, &mut Vec<Range<usize>>) -> Option<usize>;

/// A range nothing will read is dropped only from this length on: shorter ones would cost
/// more moving bytes than they free.
const HOLLOW_FROM: usize = 64;

/// A stream is offered for trimming once it holds this much, then after each further KiB.
const TRIM_FROM: usize = 1024;

/// Where the first segments of a direction ended: at most [`MAX_SEGMENT_ENDS`] offsets within
/// the first [`FIRST_BYTES_CAP`] bytes, so held inline as `u16`s. A `Vec<u32>` here cost every
/// open flow 24 bytes a direction plus an allocation of 32 (48 with the allocator's header),
/// and a second copy in the summary. Written as the list of numbers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SegmentEnds {
    len: u8,
    ends: [u16; MAX_SEGMENT_ENDS],
}

const _: () = assert!(FIRST_BYTES_CAP <= u16::MAX as usize && MAX_SEGMENT_ENDS <= 255);

impl SegmentEnds {
    /// Adds an end, unless [`MAX_SEGMENT_ENDS`] are kept already.
    fn push(&mut self, end: usize) {
        if let Some(slot) = self.ends.get_mut(usize::from(self.len)) {
            // Ends lie within the first bytes, which are capped below `u16::MAX`.
            *slot = u16::try_from(end).unwrap_or(u16::MAX);
            self.len += 1;
        }
    }

    /// Keeps the ends at or before `keep` (they ascend).
    fn cut_after(&mut self, keep: usize) {
        self.len = self.iter().take_while(|&end| end as usize <= keep).count() as u8;
    }

    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.ends[..usize::from(self.len)]
            .iter()
            .map(|&end| u32::from(end))
    }
}

impl serde::Serialize for SegmentEnds {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

/// What one data segment was, relative to what came before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SegmentKind {
    New,
    /// Every byte of it was seen before.
    Retransmission,
    /// It arrived after data that follows it.
    OutOfOrder,
}

#[derive(Debug, Clone, Default)]
pub struct Stream {
    /// Sequence number of stream byte 0 (ISN + 1, or the first data seen mid-stream).
    base: Option<u32>,
    /// The contiguous first bytes, less the ranges in `hollows`.
    data: Vec<u8>,
    /// Boxed: most streams never hold a segment out of order, and an empty `Vec` costs 24
    /// bytes inline where the box costs 8 (in every direction of every open flow).
    #[allow(clippy::box_collection)]
    pending: Option<Box<Vec<Pending>>>,
    /// Ranges dropped from the middle of the bytes because nothing reads them (see
    /// [`TrimFn`]): (offset, length) in stream offsets, ascending and apart. `data` holds the
    /// bytes around them, so every offset here and outside (`len`, `segment_ends`, segments
    /// placed) counts them. On a busy balancer's backend, keep-alive connections held their
    /// responses' bodies between heads: 23 MB of the 62,000 connections open at once.
    #[allow(clippy::box_collection)]
    hollows: Option<Box<Vec<(u32, u32)>>>,
    /// Stream offset one past the highest byte seen on the wire.
    highest_end: u32,
    /// Set when a snaplen cut stops the contiguous bytes at `len()`.
    cut: bool,
    /// True when no SYN fixed byte 0: the capture started mid-stream.
    pub started_mid_stream: bool,
    /// End offsets of the first segments that built `data`.
    pub segment_ends: SegmentEnds,
    /// Packet number of the first segment carrying data (numbers start at 1: `None` costs no
    /// extra word).
    pub first_data_packet: Option<NonZeroU64>,
    /// Payload bytes this direction carried on the wire (all of them, not capped).
    pub wire_bytes: u64,
    /// The bytes that matter are all here and the rest was dropped (see [`TrimFn`]).
    trimmed: bool,
    /// The bytes were inspected and dropped (see [`Self::seal`]); they were this many.
    sealed: bool,
    sealed_len: u32,
    next_trim_check: u32,
    /// Sequence number one past the sender's last byte, from its first FIN: none of its
    /// data lies beyond.
    end_seq: Option<u32>,
}

impl Stream {
    /// Byte 0 is the one after the SYN's sequence number.
    pub fn set_isn(&mut self, isn: u32) {
        if self.base.is_none() {
            self.base = Some(isn.wrapping_add(1));
        }
    }

    /// The contiguous first bytes (none once sealed: see [`Self::seal`]), with zeros where
    /// bytes that nothing reads were dropped (see [`TrimFn`]).
    pub fn bytes(&self) -> Cow<'_, [u8]> {
        let Some(hollows) = &self.hollows else {
            return Cow::Borrowed(&self.data);
        };
        let mut out = Vec::with_capacity(self.len());
        let mut from = 0;
        for &(start, len) in hollows.iter() {
            let take = start as usize - out.len();
            out.extend_from_slice(&self.data[from..from + take]);
            from += take;
            out.resize(out.len() + len as usize, 0);
        }
        out.extend_from_slice(&self.data[from..]);
        Cow::Owned(out)
    }

    /// How many contiguous first bytes were captured (also once they were sealed).
    pub fn len(&self) -> usize {
        if self.sealed {
            self.sealed_len as usize
        } else {
            self.data.len() + self.hollowed()
        }
    }

    /// Bytes dropped from the middle (see [`TrimFn`]).
    fn hollowed(&self) -> usize {
        self.hollows
            .as_ref()
            .map_or(0, |h| h.iter().map(|&(_, len)| len as usize).sum())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn end(&self) -> StreamEnd {
        if self.cut {
            StreamEnd::NotCaptured
        } else if self.trimmed || self.len() >= FIRST_BYTES_CAP {
            StreamEnd::Capped
        } else if self.pending.is_some() || (self.highest_end as usize) > self.len() {
            StreamEnd::Hole
        } else {
            StreamEnd::Complete
        }
    }

    /// [`Self::add_segment`], for tests that do not look at conflicts.
    #[cfg(test)]
    pub fn add(&mut self, seq: u32, payload: &[u8], wire_len: u32, packet: u64) -> SegmentKind {
        self.add_segment(seq, payload, wire_len, packet, &mut Vec::new())
    }

    /// Adds one data segment: `payload` as captured, `wire_len` bytes on the wire. A copy of
    /// held bytes that says otherwise is added to `conflicts` (compared until the stream is
    /// sealed, and only where bytes are held).
    pub fn add_segment(
        &mut self,
        seq: u32,
        payload: &[u8],
        wire_len: u32,
        packet: u64,
        conflicts: &mut Vec<Conflict>,
    ) -> SegmentKind {
        if wire_len == 0 {
            return SegmentKind::New;
        }
        self.wire_bytes += u64::from(wire_len);
        if self.first_data_packet.is_none() {
            self.first_data_packet = NonZeroU64::new(packet);
        }
        let base = *self.base.get_or_insert_with(|| {
            self.started_mid_stream = true;
            seq
        });
        let off = seq.wrapping_sub(base);
        if off > u32::MAX / 2 {
            // Before byte 0: a retransmission of data older than the capture's view.
            return SegmentKind::Retransmission;
        }
        let end = off.saturating_add(wire_len);
        // Holes are tracked only inside the kept bytes; past them (beyond the cap, or once the
        // stream was trimmed) a segment that ends at or before the highest byte seen is taken
        // for a retransmission.
        let tracked = !self.trimmed && !self.cut && (off as usize) < FIRST_BYTES_CAP;
        let kind = if end <= self.highest_end {
            if tracked && (off as usize) >= self.len() {
                SegmentKind::OutOfOrder
            } else {
                SegmentKind::Retransmission
            }
        } else if tracked && off < self.highest_end && (off as usize) >= self.len() {
            SegmentKind::OutOfOrder
        } else {
            SegmentKind::New
        };
        if wire_len == 1 && end == self.highest_end && (off as usize) < self.len() {
            // A keep-alive probe: the last byte sent, held already, often garbage (RFC 1122
            // 4.2.3.6; Wireshark's "TCP Keep-Alive" is the same test). Not a copy to compare;
            // the resend of a last byte sent alone looks the same and is not compared either.
            return kind;
        }
        self.highest_end = self.highest_end.max(end);
        let captured = &payload[..payload.len().min(wire_len as usize)];
        let cut_here = (captured.len() as u32) < wire_len;
        self.place(off, captured, cut_here, packet, conflicts);
        kind
    }

    /// Whether the byte at stream offset `offset` is held (not sealed, not dropped as unread,
    /// not past a trim).
    pub fn holds(&self, offset: u32) -> bool {
        !self.sealed
            && (offset as usize) < self.len()
            && !self
                .hollows
                .iter()
                .flat_map(|h| h.iter())
                .any(|&(start, len)| (start..start + len).contains(&offset))
    }

    /// The sender ended its bytes with a FIN at `seq`, one past its last byte (the first FIN
    /// counts; a RST says nothing: a middlebox may send it for either end).
    pub fn set_end(&mut self, seq: u32) {
        self.end_seq.get_or_insert(seq);
    }

    /// No segment that keeps to TCP can change the kept bytes any more: they stopped growing
    /// (trimmed, capped, cut by the capture), or they run without a hole up to where the
    /// sender ended them with its FIN (only a retransmission of them can still come).
    /// A bare FIN after a lost last segment leaves no hole in the bytes (`end()` says
    /// complete): only the FIN's sequence number tells.
    pub fn is_settled(&self) -> bool {
        if self.trimmed || self.cut || self.len() >= FIRST_BYTES_CAP {
            return true;
        }
        let len = self.len() as u32;
        let ends_here = matches!(
            (self.base, self.end_seq),
            (Some(base), Some(end)) if end.wrapping_sub(base) == len
        );
        ends_here && self.pending.is_none() && self.highest_end == len
    }

    pub fn is_sealed(&self) -> bool {
        self.sealed
    }

    /// Drops the bytes once the caller has inspected them (or will not): every counter, the
    /// captured length and `end()` go on as before; bytes that would still come are not kept.
    pub fn seal(&mut self) {
        self.sealed_len = self.len() as u32;
        self.sealed = true;
        self.data = Vec::new();
        self.pending = None;
        self.hollows = None;
        self.segment_ends = SegmentEnds::default();
    }

    /// Drops what the caller says nothing will read, once the bytes that matter are complete.
    pub fn trim(&mut self, worth_keeping: TrimFn) {
        // (A sealed stream holds no bytes: it is below `TRIM_FROM`.)
        let len = self.len();
        if self.trimmed || self.cut || len < TRIM_FROM.max(self.next_trim_check as usize) {
            return;
        }
        // At most the cap plus a KiB.
        self.next_trim_check = (len + TRIM_FROM) as u32;
        let mut unread = Vec::new();
        match worth_keeping(&self.bytes(), FIRST_BYTES_CAP, &mut unread) {
            Some(keep) => {
                self.truncate(keep);
                self.data.shrink_to_fit();
                self.pending = None;
                self.segment_ends.cut_after(keep);
                self.trimmed = true;
            }
            None => {
                for range in unread {
                    self.hollow(range);
                }
            }
        }
    }

    /// Keeps the first `keep` bytes (stream offsets).
    fn truncate(&mut self, keep: usize) {
        if let Some(hollows) = &mut self.hollows {
            hollows.retain_mut(|(start, len)| {
                *len = (*len).min((keep as u32).saturating_sub(*start));
                *len > 0
            });
            if hollows.is_empty() {
                self.hollows = None;
            }
        }
        self.data.truncate(keep - self.hollowed());
    }

    /// Drops `range` (stream offsets, within the bytes) from memory, as far as it is not
    /// dropped already and is worth it ([`HOLLOW_FROM`]).
    fn hollow(&mut self, range: Range<usize>) {
        debug_assert!(range.end <= self.len());
        let parts = self.kept_parts(range);
        let mut hollows = self.hollows.take().map(|h| *h).unwrap_or_default();
        // From the last, so that the earlier parts' places in `data` stay put.
        let mut changed = false;
        for (part, before) in parts.into_iter().rev() {
            if part.len() < HOLLOW_FROM {
                continue;
            }
            self.data.drain(part.start - before..part.end - before);
            hollows.push((part.start as u32, part.len() as u32));
            changed = true;
        }
        if changed {
            hollows.sort_unstable();
            // Touching ranges become one.
            let mut merged: Vec<(u32, u32)> = Vec::with_capacity(hollows.len());
            for (start, len) in hollows {
                match merged.last_mut() {
                    Some((s, l)) if *s + *l == start => *l += len,
                    _ => merged.push((start, len)),
                }
            }
            hollows = merged;
            if self.data.capacity() - self.data.len() >= TRIM_FROM / 2 {
                self.data.shrink_to_fit();
            }
        }
        self.hollows = (!hollows.is_empty()).then(|| Box::new(hollows));
    }

    #[cfg(test)]
    pub(crate) fn has_hollows(&self) -> bool {
        self.hollows.is_some()
    }

    /// Heap bytes the stream holds.
    #[cfg(test)]
    pub(crate) fn held_bytes(&self) -> usize {
        self.data.capacity()
            + self.hollows.as_ref().map_or(0, |h| {
                std::mem::size_of::<Vec<(u32, u32)>>()
                    + h.capacity() * std::mem::size_of::<(u32, u32)>()
            })
            + self.pending.as_ref().map_or(0, |p| {
                std::mem::size_of::<Vec<Pending>>()
                    + p.capacity() * std::mem::size_of::<Pending>()
                    + p.iter().map(|p| p.bytes.capacity()).sum::<usize>()
            })
    }

    fn place(
        &mut self,
        off: u32,
        captured: &[u8],
        cut_here: bool,
        packet: u64,
        conflicts: &mut Vec<Conflict>,
    ) {
        let have = self.len();
        if self.trimmed || self.sealed || self.cut || have >= FIRST_BYTES_CAP {
            // Nothing more is kept, but a copy of bytes that are (the typical retransmission,
            // one timeout after the first copy) is still compared with them.
            if !self.sealed {
                self.compare_overlap(off, captured, packet, conflicts);
            }
            return;
        }
        if off as usize >= FIRST_BYTES_CAP {
            return;
        }
        if off as usize > have {
            let pending = self.pending.get_or_insert_default();
            if pending.len() < MAX_PENDING {
                pending.push(Pending {
                    off,
                    bytes: captured.to_vec(),
                    cut: cut_here,
                    packet,
                });
            }
            return;
        }
        // In order, its bytes go in even where a segment waiting after a hole has others
        // (Linux too drops a waiting segment that what arrived in order covers).
        self.append_at(off, captured, cut_here, packet, conflicts);
        self.drain_pending(conflicts);
    }

    fn append_at(
        &mut self,
        off: u32,
        captured: &[u8],
        cut_here: bool,
        packet: u64,
        conflicts: &mut Vec<Conflict>,
    ) {
        // Bytes we already have: they stay, a disagreement is reported.
        self.compare_overlap(off, captured, packet, conflicts);
        let have = self.len();
        let skip = have - off as usize;
        if skip >= captured.len() {
            if cut_here && off as usize + captured.len() == have {
                self.cut = true;
            }
            return;
        }
        let room = FIRST_BYTES_CAP - have;
        let fresh = &captured[skip..];
        let take = fresh.len().min(room);
        self.reserve(self.data.len() + take);
        self.data.extend_from_slice(&fresh[..take]);
        self.segment_ends.push(have + take);
        if cut_here && fresh.len() <= room {
            self.cut = true;
        }
    }

    /// Room for `needed` bytes: doubling, as `Vec` does, but never past the cap (a response's
    /// third full segment doubled 2,896 bytes to 5,792 to hold 4,096).
    fn reserve(&mut self, needed: usize) {
        let cap = self.data.capacity();
        if needed > cap {
            let target = needed.max((2 * cap).min(FIRST_BYTES_CAP));
            self.data.reserve_exact(target - self.data.len());
        }
    }

    /// Reports the part of `captured` (a copy from `packet`, at stream offset `off`) that
    /// overlaps the bytes held, if it differs from them.
    fn compare_overlap(
        &self,
        off: u32,
        captured: &[u8],
        packet: u64,
        conflicts: &mut Vec<Conflict>,
    ) {
        let (off, have) = (off as usize, self.len());
        if off >= have {
            return;
        }
        let overlap = &captured[..captured.len().min(have - off)];
        if let Some((first, last)) = self.differences(off, overlap) {
            conflicts.push(Conflict {
                first: first as u32,
                last: last as u32,
                packet,
            });
        }
    }

    /// The stream offsets of the first and last bytes of `bytes` (at stream offset `off`,
    /// within the bytes) that differ from the bytes kept there; dropped ranges (see
    /// [`TrimFn`]) are not compared.
    fn differences(&self, off: usize, bytes: &[u8]) -> Option<(usize, usize)> {
        fn ends(a: &[u8], b: &[u8]) -> Option<(usize, usize)> {
            // Equal copies (nearly all) are told by one memcmp.
            if a == b {
                return None;
            }
            let differ = |(x, y): (&u8, &u8)| x != y;
            let first = a.iter().zip(b).position(differ)?;
            let last = a.iter().zip(b).rposition(differ)?;
            Some((first, last))
        }
        if self.hollows.is_none() {
            let (first, last) = ends(bytes, &self.data[off..off + bytes.len()])?;
            return Some((off + first, off + last));
        }
        let mut found: Option<(usize, usize)> = None;
        for (part, before) in self.kept_parts(off..off + bytes.len()) {
            let theirs = &bytes[part.start - off..part.end - off];
            if let Some((first, last)) =
                ends(theirs, &self.data[part.start - before..part.end - before])
            {
                let first = found.map_or(part.start + first, |(f, _)| f);
                found = Some((first, part.start + last));
            }
        }
        found
    }

    /// The parts of `range` (stream offsets, within the bytes) outside the dropped ranges, in
    /// order, each with how many bytes were dropped before it (so `part - before` is where it
    /// lies in `data`).
    fn kept_parts(&self, range: Range<usize>) -> Vec<(Range<usize>, usize)> {
        let mut parts = Vec::new();
        let (mut at, mut before) = (range.start, 0);
        for &(start, len) in self.hollows.iter().flat_map(|h| h.iter()) {
            let (start, end) = (start as usize, (start + len) as usize);
            if end <= at {
                before += len as usize;
                continue;
            }
            if start >= range.end {
                break;
            }
            if at < start {
                parts.push((at..start, before));
            }
            at = at.max(end);
            before += len as usize;
        }
        if at < range.end {
            parts.push((at..range.end, before));
        }
        parts
    }

    /// Appends the waiting segments that now join the bytes, the first to arrive first: of
    /// two waiting copies of the same bytes the first stays, and the other is the one
    /// reported if they differ. (Linux keeps the first too, unless a later one covers more
    /// than it: the report then decodes the version Linux dropped, and says that two differ.)
    fn drain_pending(&mut self, conflicts: &mut Vec<Conflict>) {
        while !self.cut {
            let have = self.len() as u32;
            let Some(pending) = &mut self.pending else {
                return;
            };
            let Some(i) = pending.iter().position(|p| p.off <= have) else {
                break;
            };
            // `remove`, not `swap_remove`: the list stays in arrival order.
            let p = pending.remove(i);
            if pending.is_empty() {
                // `None` means none is waiting (see `end`).
                self.pending = None;
            }
            self.append_at(p.off, &p.bytes, p.cut, p.packet, conflicts);
        }
    }
}

/// A segment that arrived after a hole, waiting for the bytes before it.
#[derive(Debug, Clone)]
struct Pending {
    off: u32,
    bytes: Vec<u8>,
    /// The capture cut this segment: the stream cannot grow past its end.
    cut: bool,
    packet: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream_after_syn(isn: u32) -> Stream {
        let mut s = Stream::default();
        s.set_isn(isn);
        s
    }

    #[test]
    fn in_order_segments_join_and_remember_their_boundaries() {
        let mut s = stream_after_syn(1000);
        assert_eq!(s.add(1001, b"PROXY TCP4 ", 11, 4), SegmentKind::New);
        assert_eq!(s.add(1012, b"1.2.3.4\r\n", 9, 5), SegmentKind::New);
        assert_eq!(&*s.bytes(), b"PROXY TCP4 1.2.3.4\r\n");
        assert_eq!(s.segment_ends.iter().collect::<Vec<_>>(), [11, 20]);
        assert_eq!(s.first_data_packet, NonZeroU64::new(4));
        assert_eq!(s.end(), StreamEnd::Complete);
    }

    #[test]
    fn full_segments_fill_the_cap_without_holding_more() {
        let mut s = stream_after_syn(0);
        let segment = [b'x'; 1448];
        for (i, packet) in (0..4u32).zip(10u64..) {
            s.add(1 + i * 1448, &segment, 1448, packet);
        }
        assert_eq!(s.bytes().len(), FIRST_BYTES_CAP);
        assert_eq!(s.end(), StreamEnd::Capped);
        // Doubling 2,896 would have held 5,792 bytes for these 4,096.
        assert_eq!(s.data.capacity(), FIRST_BYTES_CAP);
        assert_eq!(
            s.segment_ends.iter().collect::<Vec<_>>(),
            [1448, 2896, 4096]
        );
    }

    #[test]
    fn out_of_order_segment_waits_for_the_hole() {
        let mut s = stream_after_syn(0);
        assert_eq!(s.add(6, b"world", 5, 3), SegmentKind::New);
        assert_eq!(&*s.bytes(), b"");
        assert_eq!(s.end(), StreamEnd::Hole);
        assert_eq!(s.add(1, b"hello", 5, 4), SegmentKind::OutOfOrder);
        assert_eq!(&*s.bytes(), b"helloworld");
        assert_eq!(s.end(), StreamEnd::Complete);
    }

    /// The conflicts one segment reports.
    fn conflicts(
        s: &mut Stream,
        seq: u32,
        payload: &[u8],
        wire_len: u32,
        packet: u64,
    ) -> Vec<Conflict> {
        let mut found = Vec::new();
        s.add_segment(seq, payload, wire_len, packet, &mut found);
        found
    }

    fn conflict(first: u32, last: u32, packet: u64) -> Vec<Conflict> {
        vec![Conflict {
            first,
            last,
            packet,
        }]
    }

    #[test]
    fn retransmission_is_counted_and_first_copy_wins_on_conflict() {
        let mut s = stream_after_syn(0);
        s.add(1, b"GET / HTTP/1.1\r\n", 16, 3);
        assert_eq!(
            s.add(1, b"GET / HTTP/1.1\r\n", 16, 4),
            SegmentKind::Retransmission
        );
        assert_eq!(conflicts(&mut s, 1, b"GET / HTTP/1.1\r\n", 16, 5), []);
        // Overlap: offsets 10..16 again (different from offset 11 on) plus 4 new ones.
        assert_eq!(
            conflicts(&mut s, 11, b"/XXXXX\r\nHo", 10, 6),
            conflict(11, 15, 6)
        );
        assert_eq!(&*s.bytes(), b"GET / HTTP/1.1\r\n\r\nHo");
    }

    #[test]
    fn of_two_waiting_copies_the_first_stays_and_the_second_is_reported() {
        let mut s = stream_after_syn(0);
        assert_eq!(conflicts(&mut s, 11, b"first", 5, 3), []);
        assert_eq!(conflicts(&mut s, 21, b"tail", 4, 4), []);
        assert_eq!(conflicts(&mut s, 11, b"secnd", 5, 5), []);
        // The hole is filled by packet 6: the copies are placed in arrival order.
        assert_eq!(
            conflicts(&mut s, 1, b"0123456789", 10, 6),
            conflict(10, 14, 5)
        );
        assert_eq!(&*s.bytes(), b"0123456789first");
        assert_eq!(s.end(), StreamEnd::Hole, "bytes 15..20 are missing");
    }

    #[test]
    fn a_keepalive_probe_is_no_copy() {
        let mut s = stream_after_syn(0);
        s.add(1, b"GET / HTTP/1.1\r\n\r\n", 18, 3);
        // One garbage byte at the last sequence number sent (Windows and BSD send 0).
        assert_eq!(conflicts(&mut s, 18, b"\0", 1, 4), []);
        // A real one-byte copy of an earlier byte is compared.
        assert_eq!(conflicts(&mut s, 1, b"P", 1, 5), conflict(0, 0, 5));
        assert_eq!(&*s.bytes(), b"GET / HTTP/1.1\r\n\r\n");
    }

    #[test]
    fn the_last_byte_never_held_is_placed_when_it_comes_again() {
        let mut s = stream_after_syn(0);
        for i in 0..MAX_PENDING as u32 {
            s.add(11 + i, b"b", 1, 3 + u64::from(i));
        }
        // A 17th segment after the hole finds no room: dropped, but seen on the wire.
        s.add(11 + MAX_PENDING as u32, b"Z", 1, 20);
        s.add(1, b"0123456789", 10, 21);
        assert_eq!((s.len(), s.end()), (26, StreamEnd::Hole));
        // Its resend has the shape of a keep-alive probe, but its byte is not held yet.
        s.add(11 + MAX_PENDING as u32, b"Z", 1, 22);
        assert_eq!((s.len(), s.end()), (27, StreamEnd::Complete));
        assert_eq!(s.bytes().last(), Some(&b'Z'));
    }

    #[test]
    fn a_conflict_counts_while_either_end_of_it_is_held() {
        let mut s = stream_after_syn(0);
        s.add(1, &[7; 300], 300, 3);
        s.hollow(100..200);
        let c = |first, last| Conflict {
            first,
            last,
            packet: 4,
        };
        assert!(c(150, 250).is_held(&s), "a dropped body and the next head");
        assert!(c(50, 150).is_held(&s));
        assert!(!c(150, 190).is_held(&s), "only in the dropped body");
    }

    #[test]
    fn held_bytes_are_those_not_dropped() {
        let mut s = stream_after_syn(0);
        s.add(1, &[7; 300], 300, 3);
        s.hollow(100..200);
        assert!(s.holds(0) && s.holds(99) && s.holds(200) && s.holds(299));
        assert!(!s.holds(100) && !s.holds(199) && !s.holds(300));
        s.seal();
        assert!(!s.holds(0));
    }

    #[test]
    fn a_resent_copy_is_compared_after_trimming_until_sealed() {
        #[allow(clippy::unnecessary_wraps)] // a TrimFn
        fn keep_first_100(_: &[u8], _: usize, _: &mut Vec<Range<usize>>) -> Option<usize> {
            Some(100)
        }
        let mut s = stream_after_syn(0);
        let whole: Vec<u8> = (0..2000u32).map(|i| (i % 251) as u8).collect();
        s.add(1, &whole, 2000, 3);
        s.trim(keep_first_100);
        assert_eq!((s.len(), s.end()), (100, StreamEnd::Capped));
        assert_eq!(s.add(1, &whole, 2000, 4), SegmentKind::Retransmission);
        let mut changed = whole.clone();
        changed[500] ^= 1; // past the kept bytes: nothing to compare with
        assert_eq!(conflicts(&mut s, 1, &changed, 2000, 5), []);
        changed[50] ^= 1;
        assert_eq!(
            conflicts(&mut s, 41, &changed[40..], 1960, 6),
            conflict(50, 50, 6)
        );
        assert_eq!(&s.bytes()[..], &whole[..100], "the first copy stays");
        s.seal();
        assert_eq!(
            conflicts(&mut s, 1, &changed, 2000, 7),
            [],
            "a sealed stream holds no bytes to compare"
        );
    }

    #[test]
    fn snaplen_cut_stops_the_stream_and_says_so() {
        let mut s = stream_after_syn(0);
        s.add(1, b"\r\n\r\n", 200, 3);
        assert_eq!(&*s.bytes(), b"\r\n\r\n");
        assert_eq!(s.end(), StreamEnd::NotCaptured);
        s.add(201, b"more", 4, 4);
        assert_eq!(
            &*s.bytes(),
            b"\r\n\r\n",
            "bytes after a cut are not contiguous with it"
        );
    }

    #[test]
    fn no_payload_captured_at_all_is_not_captured() {
        let mut s = stream_after_syn(0);
        s.add(1, b"", 120, 3);
        assert_eq!(&*s.bytes(), b"");
        assert_eq!(s.end(), StreamEnd::NotCaptured);
        assert_eq!(s.wire_bytes, 120);
    }

    #[test]
    fn mid_stream_capture_starts_at_the_first_data_seen() {
        let mut s = Stream::default();
        s.add(5_000_000, b"HTTP/1.1 200 OK\r\n", 17, 1);
        assert!(s.started_mid_stream);
        assert_eq!(&*s.bytes(), b"HTTP/1.1 200 OK\r\n");
        assert_eq!(s.add(4_000_000, b"old", 3, 2), SegmentKind::Retransmission);
    }

    #[test]
    fn bytes_settle_once_they_run_up_to_the_senders_fin() {
        let mut s = stream_after_syn(0);
        s.add(1, b"hello", 5, 3);
        assert!(!s.is_settled(), "no FIN yet");
        // A bare FIN one past a segment the capture has not shown (yet).
        s.set_end(11);
        assert_eq!(s.end(), StreamEnd::Complete);
        assert!(!s.is_settled());
        s.add(6, b"world", 5, 4);
        assert!(s.is_settled());
    }

    #[test]
    fn sealed_stream_counts_what_still_comes_without_keeping_it() {
        let mut s = stream_after_syn(0);
        s.add(1, b"hello", 5, 3);
        s.set_end(6);
        s.seal();
        assert_eq!(s.held_bytes(), 0);
        assert_eq!((s.len(), &*s.bytes()), (5, &b""[..]));
        assert_eq!(s.add(1, b"hello", 5, 5), SegmentKind::Retransmission);
        assert_eq!(s.wire_bytes, 10);
        assert_eq!(s.end(), StreamEnd::Complete);
        // Past the FIN (breaking TCP): counted, and said to leave a hole, as before the seal.
        assert_eq!(s.add(100, b"late", 4, 6), SegmentKind::New);
        assert_eq!((s.len(), s.end(), s.held_bytes()), (5, StreamEnd::Hole, 0));
    }

    #[test]
    fn cap_is_respected_and_reported() {
        let mut s = stream_after_syn(u32::MAX - 10);
        let big = vec![b'a'; 3000];
        s.add((u32::MAX - 10).wrapping_add(1), &big, 3000, 3);
        s.add((u32::MAX - 10).wrapping_add(3001), &big, 3000, 4);
        assert_eq!(s.bytes().len(), FIRST_BYTES_CAP);
        assert_eq!(s.end(), StreamEnd::Capped);
        assert_eq!(s.wire_bytes, 6000);
    }

    /// A `TrimFn` that never decides and says nothing reads bytes 100..700 and 1500..2000
    /// (as far as the bytes go).
    fn two_unread_ranges(bytes: &[u8], _: usize, unread: &mut Vec<Range<usize>>) -> Option<usize> {
        let len = bytes.len();
        unread.extend([100..700, 1500..2000].map(|r| r.start.min(len)..r.end.min(len)));
        None
    }

    #[test]
    fn ranges_nothing_reads_leave_memory_and_read_back_as_zeros() {
        let mut s = stream_after_syn(0);
        let whole: Vec<u8> = (0..3200u32).map(|i| (i % 251) as u8 + 1).collect();
        // Trimmed at 1,600 bytes (100..700 and 1500..1600 go) and at 3,200 (1600..2000 go).
        for (i, part) in whole.chunks(800).enumerate() {
            s.add(1 + 800 * i as u32, part, part.len() as u32, 3 + i as u64);
            s.trim(two_unread_ranges);
        }
        assert_eq!(s.hollows.as_deref(), Some(&vec![(100, 600), (1500, 500)]));
        let mut expected = whole.clone();
        expected[100..700].fill(0);
        expected[1500..2000].fill(0);
        assert!(*s.bytes() == expected[..], "zeros where bytes were dropped");
        assert_eq!(s.len(), 3200);
        assert_eq!(
            s.data.len(),
            3200 - 600 - 500,
            "held: only the bytes around them"
        );
        assert_eq!(
            s.segment_ends.iter().collect::<Vec<_>>(),
            [800, 1600, 2400, 3200]
        );
        assert_eq!(s.end(), StreamEnd::Complete);
        // A retransmission is compared with what is kept, not with the dropped bytes.
        let mut changed = whole[50..1600].to_vec();
        changed[200..400].fill(0xee); // inside the first dropped range
        assert_eq!(conflicts(&mut s, 51, &changed, 1550, 7), []);
        changed[10] ^= 1; // before it
        assert_eq!(
            conflicts(&mut s, 51, &changed, 1550, 8),
            conflict(60, 60, 8)
        );
        // New bytes go on at the stream offset, after the dropped ones.
        s.add(3201, b"more", 4, 9);
        assert_eq!(s.len(), 3204);
        assert_eq!(&s.bytes()[3200..], b"more");
        // Keeping a prefix drops the ranges past it, or their part past it.
        s.truncate(1800);
        assert_eq!(s.len(), 1800);
        assert!(*s.bytes() == expected[..1800]);
        s.truncate(500);
        assert!(*s.bytes() == expected[..500]);
        s.truncate(100);
        assert!(s.hollows.is_none());
        assert!(*s.bytes() == whole[..100]);
    }

    #[test]
    fn short_unread_ranges_stay() {
        let mut s = stream_after_syn(0);
        s.add(1, &[7; 1100], 1100, 3);
        s.trim(|_, _, unread| {
            unread.push(10..10 + HOLLOW_FROM - 1);
            None
        });
        assert!(s.hollows.is_none());
        assert_eq!(s.data.len(), 1100);
    }
}
