//! The flow table of one capture file: flows found by canonical key, ids in first-seen order.
//!
//! Memory is bounded by the flows alive at once, not by the file: a flow that has closed (RST,
//! or FIN both ways) is handed out a little later ([`CLOSE_LINGER_NS`], so its last ACKs still
//! count), its first bytes inspected and dropped meanwhile once they can no longer change (see
//! `FlowTable::seal_settled`); and when too many flows are open the longest idle are evicted
//! (counted, and said in the report). The limit holds per flow group ([`super::flow_group`]):
//! `max_live` / [`FLOW_GROUPS`] open flows in each of them. Threads that split one file own
//! whole groups, so each evicts exactly the flows one table would (a limit on the sum would
//! need every thread's flows to choose from). Groups are filled evenly by the hash, so the
//! whole table holds close to `max_live` before a group overflows. The caller turns handed-out
//! flows into summaries and drops them.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::SocketAddr;
use std::num::NonZeroU64;

use super::index::{FlowIndex, prefetch};
use super::key::{FLOW_GROUPS, flow_group};
use super::stream::SegmentKind;
use super::{
    DATAGRAM_HEAD_CAP, Datagram, Flow, FlowKey, IcmpRef, Inspected, MAX_DATAGRAMS, MAX_ICMP_ERRORS,
    Proto, Rare, RoleBy, TO_CLIENT, TO_SERVER, TcpFacts,
};
use crate::decode::{Decoded, IcmpError, IpLayer, L4, TcpSegment, UdpDatagram, tcp_flags};
use crate::source::RawPacket;

/// TCP option kind that carries the client address (TOA) on LVS full-NAT style balancers.
const TCP_OPTION_TOA: u8 = 254;
const TCP_OPTION_END: u8 = 0;
const TCP_OPTION_NOP: u8 = 1;

/// A closed flow stays this long (capture time) for its last packets before it is handed out.
pub const CLOSE_LINGER_NS: i64 = 2_000_000_000;
/// Open flows kept at once by default; beyond, the longest idle are evicted.
pub const DEFAULT_MAX_LIVE: usize = 65_536;
/// The least bound on open flows a table takes.
const MIN_LIVE: usize = 16;

/// Open flows each flow group may hold under a bound of `max_live` (rounded up).
pub fn per_group_cap(max_live: usize) -> usize {
    max_live.max(MIN_LIVE).div_ceil(FLOW_GROUPS)
}
/// Boxes of handed-out flows kept for reuse (see `FlowTable::recycle`): about what a tick's
/// evictions hand out in a flood (1.6 MiB).
const SPARE_BOXES: usize = 2048;
/// How often (in packets) closed and excess flows are looked for.
pub const MAINTAIN_EVERY: u32 = 1024;

/// Counters that belong to no single flow.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct TableStats {
    /// A new SYN reused the 5-tuple of an earlier connection (a new flow was started).
    pub port_reuse: u64,
    /// ICMP errors quoting a packet of no flow in this capture.
    pub icmp_errors_unmatched: u64,
    /// Flows evicted while still open because more than `max_live` were open at once.
    pub flows_evicted: u64,
    /// The most flows open at once.
    pub peak_live_flows: u64,
}

pub struct FlowTable {
    /// Key hash to slot. Slots hold boxed flows so that a freed slot costs a pointer.
    map: FlowIndex,
    slots: Vec<Option<Box<Flow>>>,
    free: Vec<usize>,
    /// Flows that have closed, waiting out the linger: (a time at or before their last packet,
    /// slot, id), earliest first. A flow that got packets since is put back with its new time,
    /// so a tick looks only at flows whose linger may be over, not at every closed flow.
    closing: BinaryHeap<Reverse<(i64, usize, u32)>>,
    // Boxed as the slots hold them: handing a flow out moves a pointer, not 800 bytes, and
    // its box can be reused.
    #[allow(clippy::vec_box)]
    finished: Vec<Box<Flow>>,
    /// Boxes of flows already summarised, for new flows (see `recycle`).
    #[allow(clippy::vec_box)]
    spare: Vec<Box<Flow>>,
    max_live: usize,
    /// The slots of each group's open flows (their number is the group's count), so that
    /// eviction reads only the flows of the groups over their share (a group overflows every
    /// few ticks in a flood).
    group_slots: Vec<Vec<u32>>,
    /// Where each slot is in its group's list.
    slot_place: Vec<u32>,
    /// Open flows at each maintenance tick, when the caller merges tables (see `keep_samples`).
    live_samples: Option<Vec<u32>>,
    /// Given by the caller: drops first bytes nothing will read (see `Stream::trim`).
    trim: Option<super::stream::TrimFn>,
    /// What the last segment's copies said otherwise (reused: no allocation per packet).
    conflicts: Vec<super::Conflict>,
    /// Given by the caller: tells the datagrams whose bytes the inspection reads.
    datagram_probe: Option<super::DatagramProbe>,
    /// The slot and id of the flow whose first bytes the last packet settled (see
    /// `seal_settled`).
    settled: Option<(usize, u32)>,
    /// The flow the last packet created with its roles final: a TCP flow by a SYN, or a UDP
    /// flow (see [`Self::seal_created_if`]).
    created: Option<(usize, u32)>,
    next_id: u32,
    service_ports: Vec<u16>,
    pub stats: TableStats,
}

impl FlowTable {
    /// `first_id`: ids continue across files; `service_ports`: the `--port` list (may be empty).
    pub fn new(first_id: u32, service_ports: &[u16]) -> Self {
        Self::with_max_live(first_id, service_ports, DEFAULT_MAX_LIVE)
    }

    pub fn with_max_live(first_id: u32, service_ports: &[u16], max_live: usize) -> Self {
        Self {
            map: FlowIndex::default(),
            slots: Vec::new(),
            free: Vec::new(),
            closing: BinaryHeap::new(),
            finished: Vec::new(),
            spare: Vec::new(),
            max_live: max_live.max(MIN_LIVE),
            group_slots: vec![Vec::new(); FLOW_GROUPS],
            slot_place: Vec::new(),
            live_samples: None,
            trim: None,
            conflicts: Vec::new(),
            datagram_probe: None,
            settled: None,
            created: None,
            next_id: first_id,
            service_ports: service_ports.to_vec(),
            stats: TableStats::default(),
        }
    }

    pub fn next_id(&self) -> u32 {
        self.next_id
    }

    /// Lets the table drop first bytes that `trim` says nothing will read.
    pub fn set_trim(&mut self, trim: super::stream::TrimFn) {
        self.trim = Some(trim);
    }

    /// Lets the table drop the bytes of UDP datagrams that the inspection will not read: after
    /// a direction's first, all but the client's first that `probe` says starts a header.
    pub fn set_datagram_probe(&mut self, probe: super::DatagramProbe) {
        self.datagram_probe = Some(probe);
    }

    pub fn set_max_live(&mut self, max_live: usize) {
        self.max_live = max_live.max(MIN_LIVE);
    }

    /// Flows open now.
    pub fn live(&self) -> usize {
        self.map.len()
    }

    /// Whether flows were handed out since the last `take_finished`.
    pub fn has_finished(&self) -> bool {
        !self.finished.is_empty()
    }

    /// Flows handed out since the last call (closed and lingered, or evicted), boxed as the
    /// table held them. Hand the list back with [`Self::recycle`] once the flows are summarised.
    pub fn take_finished(&mut self) -> Vec<Box<Flow>> {
        std::mem::take(&mut self.finished)
    }

    /// Takes back the list [`Self::take_finished`] gave, and a few of its boxes for the next
    /// flows: a flood creates and hands out a flow per packet, and reusing boxes spares the
    /// allocator a malloc and a free of scattered 800-byte blocks per packet.
    pub fn recycle(&mut self, mut done: Vec<Box<Flow>>) {
        let room = SPARE_BOXES.saturating_sub(self.spare.len());
        for mut flow in done.drain(..).take(room) {
            // A spare box holds no buffers (they would wait for its reuse).
            flow.streams = Default::default();
            flow.rare = None;
            flow.inspected = None;
            self.spare.push(flow);
        }
        done.clear();
        if self.finished.is_empty() {
            self.finished = done;
        }
    }

    /// Whether the last packet created a TCP flow with a SYN, or a UDP flow (see
    /// [`Self::seal_created_if`]).
    pub fn has_created(&self) -> bool {
        self.created.is_some()
    }

    /// Seals the first bytes (or datagrams) of the flow the last packet created, when `unkept`
    /// says nothing will read them (beyond `--max-flows`: the flow is only counted). Past that
    /// cut every new flow is such a one, and buffering their bytes until they close cost a busy
    /// capture most of its memory for nothing.
    pub fn seal_created_if(&mut self, unkept: impl FnOnce(&Flow) -> bool) {
        let Some((idx, id)) = self.created.take() else {
            return;
        };
        if let Some(flow) = self.slots[idx].as_mut().filter(|f| f.id == id) {
            if unkept(flow) {
                for stream in &mut flow.streams {
                    stream.seal();
                }
                if let Some(rare) = &mut flow.rare {
                    rare.datagrams = Default::default();
                }
            }
        }
    }

    /// Whether the last packet settled a flow's first bytes (see [`Self::seal_settled`]).
    pub fn has_settled(&self) -> bool {
        self.settled.is_some()
    }

    /// Inspects and drops the first bytes of the flow the last packet settled: it is closed,
    /// and no packet that keeps to TCP can change its first bytes or swap its directions any
    /// more (see `first_bytes_settled`). A closed flow lingers ([`CLOSE_LINGER_NS`]) for its
    /// last packets to count, and on a busy capture most open flows are such closed ones:
    /// their first bytes were most of the memory. `inspect` makes what the summary will read
    /// in their place (`None`: nothing will, the flow is not summarised). Call it after each
    /// packet ([`Self::add`]); a flow left unsealed is offered again on its next packet.
    pub fn seal_settled(&mut self, inspect: impl FnOnce(&Flow) -> Option<Inspected>) {
        let Some((idx, id)) = self.settled.take() else {
            return;
        };
        let Some(flow) = self.slots[idx].as_mut().filter(|f| f.id == id) else {
            return;
        };
        flow.inspected = inspect(flow);
        flow.keep_held_conflicts();
        for stream in &mut flow.streams {
            stream.seal();
        }
    }

    /// Every flow, at the end of the input: those handed out and not yet drained, then the
    /// open ones, in id (first-seen) order.
    pub fn finish_all(mut self) -> Vec<Box<Flow>> {
        let mut out = std::mem::take(&mut self.finished);
        out.extend(self.slots.into_iter().flatten());
        out.sort_unstable_by_key(|f| f.id);
        out
    }

    fn flow_mut(&mut self, idx: usize) -> &mut Flow {
        self.slots[idx]
            .as_mut()
            .expect("the map only points at occupied slots")
    }

    /// The last sample of the open flows, at the end of the input (see `maintain`); call it
    /// before reading `stats` at the end.
    pub fn end_sample(&mut self) {
        self.sample_live();
    }

    /// Counts the open flows into the peak (and the samples, when kept).
    fn sample_live(&mut self) {
        let live = self.map.len();
        self.stats.peak_live_flows = self.stats.peak_live_flows.max(live as u64);
        if let Some(samples) = &mut self.live_samples {
            samples.push(u32::try_from(live).unwrap_or(u32::MAX));
        }
    }

    /// Hands a flow out: off the map, into `finished`, its slot free for reuse.
    fn retire(&mut self, idx: usize) {
        if let Some(flow) = self.slots[idx].take() {
            self.map.remove(flow.hash, idx);
            let group = flow_group(flow.hash);
            let list = &mut self.group_slots[group];
            let place = self.slot_place[idx] as usize;
            list.swap_remove(place);
            if let Some(&moved) = list.get(place) {
                self.slot_place[moved as usize] = place as u32;
            }
            self.finished.push(flow);
            self.free.push(idx);
        }
    }

    /// Keeps the number of open flows at every maintenance tick, so that the tables of one
    /// file split across threads can say how many were open at once in all (see `tick`).
    pub fn keep_samples(&mut self) {
        self.live_samples = Some(Vec::new());
    }

    /// Open flows at each maintenance tick (with `keep_samples`).
    pub fn live_samples(&self) -> &[u32] {
        self.live_samples.as_deref().unwrap_or_default()
    }

    /// The packet clock for a packet this table does not see (it belongs to a flow of another
    /// table of the same file): maintenance runs at the same packets, with the same time, as
    /// it would in one table, so flows are handed out at the same moments.
    pub fn tick(&mut self, index: u64, ts_nanos: i64) {
        self.maintain(index, ts_nanos);
    }

    /// Every `MAINTAIN_EVERY` packets of the file: hand out closed flows whose linger is over,
    /// and evict the longest idle when too many are open. Open flows are counted here too (the
    /// peak is sampled at these ticks and at the end, so split tables add up to the same).
    fn maintain(&mut self, packet: u64, now: i64) {
        if packet % u64::from(MAINTAIN_EVERY) != 0 {
            return;
        }
        self.sample_live();
        while let Some(&Reverse((since, idx, id))) = self.closing.peek() {
            if now.saturating_sub(since) < CLOSE_LINGER_NS {
                break;
            }
            self.closing.pop();
            // The slot may hold another flow by now (this one was evicted or reused).
            let Some(f) = self.slots[idx].as_ref().filter(|f| f.id == id) else {
                continue;
            };
            if now.saturating_sub(f.last_ts) >= CLOSE_LINGER_NS {
                self.retire(idx);
            } else {
                let last = f.last_ts;
                self.closing.push(Reverse((last, idx, id)));
            }
        }
        self.evict();
    }

    /// Evicts the longest idle flows of each group above its share of `max_live`, down to
    /// three quarters of the share (ties by first packet: one flow per packet at most, so the
    /// order is the same in every table).
    fn evict(&mut self) {
        let cap = per_group_cap(self.max_live);
        let target = cap - cap / 4;
        for group in 0..FLOW_GROUPS {
            if self.group_slots[group].len() <= cap {
                continue;
            }
            let mut by_age: Vec<(i64, u64, usize)> = self.group_slots[group]
                .iter()
                .map(|&i| {
                    let f = self.slots[i as usize]
                        .as_ref()
                        .expect("listed slots hold flows");
                    (f.last_ts, f.first_packet, i as usize)
                })
                .collect();
            let excess = by_age.len() - target;
            by_age.select_nth_unstable(excess - 1);
            for &(_, _, idx) in &by_age[..excess] {
                self.retire(idx);
            }
            self.stats.flows_evicted += excess as u64;
        }
    }

    pub fn add(&mut self, raw: &RawPacket<'_>, d: &Decoded<'_>) {
        self.maintain(raw.index, raw.ts_nanos);
        let Some(ip) = d.ip else { return };
        match &d.l4 {
            L4::Tcp(seg) => self.tcp(raw, d, &ip, seg),
            L4::Udp(u) => self.udp(raw, d, &ip, u),
            L4::IcmpError(e) => self.icmp_error(raw, e),
            L4::None | L4::Other(_) => {}
        }
    }

    fn tcp(&mut self, raw: &RawPacket<'_>, d: &Decoded<'_>, ip: &IpLayer, seg: &TcpSegment<'_>) {
        let src = SocketAddr::new(ip.src, seg.src_port);
        let dst = SocketAddr::new(ip.dst, seg.dst_port);
        let (key, src_is_lo) = FlowKey::oriented(Proto::Tcp, src, dst);
        let hash = key.hash();
        let flags = if seg.header_complete { seg.flags } else { 0 };
        let syn_only = flags & (tcp_flags::SYN | tcp_flags::ACK) == tcp_flags::SYN;
        let synack = flags & (tcp_flags::SYN | tcp_flags::ACK) == tcp_flags::SYN | tcp_flags::ACK;
        let (idx, new) = match self.find(&key, hash) {
            Some(i) if syn_only && is_new_connection(self.flow_mut(i), src_is_lo, seg.seq) => {
                self.stats.port_reuse += 1;
                self.retire(i);
                (self.create((key, hash), raw, d, src, dst, flags), true)
            }
            Some(i) => (i, false),
            None => (self.create((key, hash), raw, d, src, dst, flags), true),
        };
        // Only a SYN fixes the roles: a flow whose streams might still be swapped is not sealed.
        self.created = self.slots[idx]
            .as_ref()
            .filter(|f| new && f.role_by == RoleBy::Syn)
            .map(|f| (idx, f.id));
        let flow = self.slots[idx]
            .as_mut()
            .expect("the map only points at occupied slots");
        let was_closed = is_closed(&flow.tcp);
        let last_before = flow.last_ts;
        let mut dir = direction(flow, src_is_lo);
        if syn_only && dir == TO_CLIENT && flow.role_by != RoleBy::Syn {
            flow.swap_roles();
            flow.role_by = RoleBy::Syn;
            dir = TO_SERVER;
        } else if synack
            && dir == TO_SERVER
            && !matches!(flow.role_by, RoleBy::Syn | RoleBy::SynAck)
        {
            flow.swap_roles();
            flow.role_by = RoleBy::SynAck;
            dir = TO_CLIENT;
        }
        count_packet(flow, raw, d, dir, seg.wire_len);
        let t = &mut flow.tcp;
        let packet = raw.index;
        let number = NonZeroU64::new(packet);
        if syn_only || synack {
            if syn_only {
                t.syn_count += 1;
                if t.syn.is_none() {
                    t.syn = number;
                }
            } else {
                t.synack_count += 1;
                if t.synack.is_none() {
                    t.synack = number;
                }
            }
            t.isn[dir].get_or_insert(seg.seq);
            flow.streams[dir].set_isn(seg.seq);
        } else if flags & tcp_flags::ACK != 0
            && dir == TO_SERVER
            && t.synack.is_some()
            && t.handshake_ack.is_none()
        {
            t.handshake_ack = number;
        }
        if flags & tcp_flags::FIN != 0 && t.fin[dir].is_none() {
            t.fin[dir] = number;
        }
        if flags & tcp_flags::RST != 0 && t.rst[dir].is_none() {
            t.rst[dir] = number;
        }
        // Only the sender's FIN says where its bytes end. A RST may come from a middlebox that
        // resets both ends at once, while the other side's real data is still on its way.
        if flags & tcp_flags::FIN != 0 {
            let end = data_seq(seg, flags).wrapping_add(seg.wire_len);
            flow.streams[dir].set_end(end);
        }
        // Kind 254 on a SYN is the experimental TCP Fast Open cookie, not TOA (which LVS-style
        // balancers put on the ACK that completes the handshake or on the first data).
        if t.toa_option.is_none() && flags & tcp_flags::SYN == 0 {
            if let Some(value) = find_option(seg.options, TCP_OPTION_TOA) {
                t.toa_option = Some(Box::new((packet, value.to_vec())));
            }
        }
        if seg.header_complete && seg.wire_len > 0 {
            let seq = data_seq(seg, flags);
            let found = &mut self.conflicts;
            match flow.streams[dir].add_segment(seq, seg.payload, seg.wire_len, packet, found) {
                SegmentKind::New => {}
                SegmentKind::Retransmission => flow.tcp.retransmissions += 1,
                SegmentKind::OutOfOrder => flow.tcp.out_of_order += 1,
            }
            if !found.is_empty() {
                flow.note_conflicts(dir, found);
                found.clear();
            }
            if let Some(trim) = self.trim {
                flow.streams[dir].trim(trim);
            }
        }
        let closed = is_closed(&flow.tcp);
        if closed && first_bytes_settled(flow) {
            self.settled = Some((idx, flow.id));
        }
        // A closed flow whose packet went back in time (clocks of merged captures) is queued
        // again with that time: its queued time must stay at or before its last packet.
        if (!was_closed || flow.last_ts < last_before) && closed {
            let id = flow.id;
            let last = flow.last_ts;
            self.closing.push(Reverse((last, idx, id)));
        }
    }

    fn udp(&mut self, raw: &RawPacket<'_>, d: &Decoded<'_>, ip: &IpLayer, u: &UdpDatagram<'_>) {
        let src = SocketAddr::new(ip.src, u.src_port);
        let dst = SocketAddr::new(ip.dst, u.dst_port);
        let (key, src_is_lo) = FlowKey::oriented(Proto::Udp, src, dst);
        let hash = key.hash();
        let (idx, new) = match self.find(&key, hash) {
            Some(i) => (i, false),
            None => (self.create((key, hash), raw, d, src, dst, 0), true),
        };
        // A UDP flow's roles never change: it may be sealed from its first datagram.
        self.created = self.slots[idx]
            .as_ref()
            .filter(|_| new)
            .map(|f| (idx, f.id));
        let probe = self.datagram_probe;
        let flow = self.flow_mut(idx);
        let dir = direction(flow, src_is_lo);
        count_packet(flow, raw, d, dir, u.wire_len);
        let kept = flow.datagrams(dir);
        // Sealed (see `seal_created_if`): nothing will read its datagrams.
        if kept.len() < MAX_DATAGRAMS && !flow.streams[TO_SERVER].is_sealed() {
            let bytes = &u.payload[..u.payload.len().min(DATAGRAM_HEAD_CAP)];
            let header = probe.map(|probe| probe(bytes));
            // The first datagram is always read; a later one only when it is the client's
            // first to start a header (the inspection looks for headers in the client's
            // datagrams, and counts the later ones).
            let read = match header {
                None => true,
                Some(starts) => {
                    kept.is_empty()
                        || (dir == TO_SERVER
                            && starts
                            && !kept.iter().any(|d| d.header == Some(true)))
                }
            };
            let head = if read { bytes.to_vec() } else { Vec::new() };
            flow.rare_mut().datagrams[dir].push(Datagram {
                packet: raw.index,
                head,
                wire_len: u.wire_len,
                header,
            });
        }
    }

    fn icmp_error(&mut self, raw: &RawPacket<'_>, e: &IcmpError) {
        let Some(q) = e.quoted else {
            self.stats.icmp_errors_unmatched += 1;
            return;
        };
        let proto = match q.proto {
            6 => Proto::Tcp,
            17 => Proto::Udp,
            _ => {
                self.stats.icmp_errors_unmatched += 1;
                return;
            }
        };
        let (Some(sp), Some(dp)) = (q.src_port, q.dst_port) else {
            self.stats.icmp_errors_unmatched += 1;
            return;
        };
        let quoted_src = SocketAddr::new(q.src, sp);
        let key = FlowKey::new(proto, quoted_src, SocketAddr::new(q.dst, dp));
        let Some(i) = self.find(&key, key.hash()) else {
            self.stats.icmp_errors_unmatched += 1;
            return;
        };
        let flow = self.flow_mut(i);
        // The error goes back to whoever sent the quoted packet.
        let toward_client = quoted_src == flow.client();
        // Past the first few, an error is kept only when it is the first of its kind: what the
        // checks make of a flow's errors (their kinds, and whether one says unreachable) is
        // then what they would make of all of them.
        let rare = flow.rare_mut();
        let kept = &rare.icmp_errors;
        let new_kind = || {
            !kept
                .iter()
                .any(|k| (k.v6, k.icmp_type, k.code) == (e.v6, e.icmp_type, e.code))
        };
        if kept.len() >= MAX_ICMP_ERRORS && (kept.len() >= 2 * MAX_ICMP_ERRORS || !new_kind()) {
            rare.icmp_errors_not_kept = rare.icmp_errors_not_kept.saturating_add(1);
            return;
        }
        rare.icmp_errors.push(IcmpRef {
            packet: raw.index,
            v6: e.v6,
            icmp_type: e.icmp_type,
            code: e.code,
            toward_client,
        });
    }

    /// The key comes with its hash.
    fn create(
        &mut self,
        (key, hash): (FlowKey, u64),
        raw: &RawPacket<'_>,
        d: &Decoded<'_>,
        src: SocketAddr,
        dst: SocketAddr,
        flags: u8,
    ) -> usize {
        let (client, server, role_by) = decide_roles(src, dst, flags, &self.service_ports);
        let client_is_lo = FlowKey::oriented(key.proto(), client, server).1;
        let flow = Flow {
            id: self.next_id,
            key,
            hash,
            proto: key.proto(),
            client_is_lo,
            v6: client.is_ipv6(),
            role_by,
            first_packet: raw.index,
            last_packet: raw.index,
            first_ts: raw.ts_nanos,
            last_ts: raw.ts_nanos,
            interface: raw.interface,
            link: [None, None],
            packets: [0, 0],
            bytes: [0, 0],
            truncated_packets: 0,
            ttl: [None, None],
            tcp: TcpFacts::default(),
            streams: Default::default(),
            rare: d.tunnel.map(|tunnel| {
                Box::new(Rare {
                    tunnel: Some(tunnel),
                    ..Rare::default()
                })
            }),
            inspected: None,
        };
        self.next_id += 1;
        debug_assert_eq!((flow.client(), flow.server()), (client, server));
        let flow = match self.spare.pop() {
            Some(mut spare) => {
                *spare = flow;
                spare
            }
            None => Box::new(flow),
        };
        let addr = std::ptr::from_ref::<Flow>(&flow).addr();
        let idx = if let Some(i) = self.free.pop() {
            self.slots[i] = Some(flow);
            i
        } else {
            self.slots.push(Some(flow));
            self.slots.len() - 1
        };
        // A boxed flow stays where it is until it is handed out (and taken off the index).
        self.map.insert(hash, idx, addr);
        let group = flow_group(hash);
        if self.slot_place.len() <= idx {
            self.slot_place.resize(idx + 1, 0);
        }
        let list = &mut self.group_slots[group];
        self.slot_place[idx] = list.len() as u32;
        list.push(idx as u32);
        idx
    }

    /// The open flows, in no order.
    #[cfg(test)]
    pub(crate) fn flows(&self) -> impl Iterator<Item = &Flow> {
        self.slots.iter().flatten().map(|f| &**f)
    }

    /// Brings in the index entry that a packet of the flow filed under `hash` will look up
    /// (a few packets ahead: see `analyze::ahead`).
    pub fn prefetch_entry(&self, hash: u64) {
        prefetch(self.map.entry_ptr(hash));
    }

    /// Brings in the flow that a packet with `hash` most likely belongs to, and its slot (the
    /// index entry was brought in a packet earlier, and holds both addresses: no load waits
    /// here). A hint: a wrong guess costs only the bandwidth.
    pub fn prefetch_flow(&self, hash: u64) {
        let Some((slot, addr)) = self.map.guess(hash) else {
            return;
        };
        prefetch(self.slots.as_ptr().wrapping_add(slot).cast());
        let start = std::ptr::without_provenance::<u8>(addr);
        for line in (0..Flow::HOT_BYTES).step_by(64) {
            prefetch(start.wrapping_add(line));
        }
    }

    /// The slot of the open flow with `key` (`hash` is `key.hash()`).
    fn find(&self, key: &FlowKey, hash: u64) -> Option<usize> {
        self.map.find(hash, |slot| {
            self.slots[slot].as_ref().is_some_and(|f| f.key == *key)
        })
    }
}

/// A TCP flow is over once either side reset it or both sides sent FIN.
fn is_closed(t: &TcpFacts) -> bool {
    t.rst.iter().any(Option::is_some) || t.fin.iter().all(Option::is_some)
}

/// The sequence number of a segment's first data byte: data on a SYN starts one past it.
fn data_seq(seg: &TcpSegment<'_>, flags: u8) -> u32 {
    if flags & tcp_flags::SYN != 0 {
        seg.seq.wrapping_add(1)
    } else {
        seg.seq
    }
}

/// A closed flow's first bytes can be inspected and dropped now: a SYN fixed the roles (no
/// later packet swaps the directions), and neither direction's bytes can change any more.
fn first_bytes_settled(flow: &Flow) -> bool {
    flow.role_by == RoleBy::Syn
        && flow
            .streams
            .iter()
            .all(|s| !s.is_sealed() && s.is_settled())
}

/// Which way a packet goes, from which end of the key its source is (no address compare).
fn direction(flow: &Flow, src_is_lo: bool) -> usize {
    if src_is_lo == flow.client_is_lo {
        TO_SERVER
    } else {
        TO_CLIENT
    }
}

fn count_packet(flow: &mut Flow, raw: &RawPacket<'_>, d: &Decoded<'_>, dir: usize, wire_len: u32) {
    flow.packets[dir] += 1;
    flow.bytes[dir] += u64::from(wire_len);
    flow.last_packet = raw.index;
    flow.last_ts = raw.ts_nanos;
    if d.truncated {
        flow.truncated_packets += 1;
    }
    // The first packet this way (link facts are cold: not read on every packet).
    if flow.packets[dir] == 1 {
        flow.link[dir] = Some(d.link);
        flow.ttl[dir] = d.ip.map(|ip| ip.ttl);
    }
}

/// A SYN whose sequence number differs from the connection's first one opens a new connection
/// on the same 5-tuple (port reuse: common behind SNAT, and evidence of it).
fn is_new_connection(flow: &Flow, src_is_lo: bool, seq: u32) -> bool {
    let dir = direction(flow, src_is_lo);
    matches!(flow.tcp.isn[dir], Some(isn) if isn != seq)
}

fn decide_roles(
    src: SocketAddr,
    dst: SocketAddr,
    flags: u8,
    service_ports: &[u16],
) -> (SocketAddr, SocketAddr, RoleBy) {
    let syn_ack = flags & (tcp_flags::SYN | tcp_flags::ACK);
    if syn_ack == tcp_flags::SYN {
        return (src, dst, RoleBy::Syn);
    }
    if syn_ack == tcp_flags::SYN | tcp_flags::ACK {
        return (dst, src, RoleBy::SynAck);
    }
    if service_ports.contains(&dst.port()) {
        return (src, dst, RoleBy::ServicePort);
    }
    if service_ports.contains(&src.port()) {
        return (dst, src, RoleBy::ServicePort);
    }
    let well_known = |p: u16| p < 1024;
    let ephemeral = |p: u16| p >= 32768;
    if (well_known(dst.port()) && !well_known(src.port()))
        || (ephemeral(src.port()) && !ephemeral(dst.port()))
    {
        return (src, dst, RoleBy::PortHeuristic);
    }
    if (well_known(src.port()) && !well_known(dst.port()))
        || (ephemeral(dst.port()) && !ephemeral(src.port()))
    {
        return (dst, src, RoleBy::PortHeuristic);
    }
    (src, dst, RoleBy::FirstPacket)
}

/// The value of the first TCP option of `kind`, walking kinds and lengths defensively.
fn find_option(mut options: &[u8], kind: u8) -> Option<&[u8]> {
    while let Some(&k) = options.first() {
        match k {
            TCP_OPTION_END => return None,
            TCP_OPTION_NOP => options = &options[1..],
            _ => {
                let len = *options.get(1)? as usize;
                if len < 2 || len > options.len() {
                    return None;
                }
                if k == kind {
                    return Some(&options[2..len]);
                }
                options = &options[len..];
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::testing::{ACK, Conversation, FIN, RST, SYN};
    use crate::flow::{Stream, StreamEnd};

    const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    const RESPONSE: &[u8] = b"HTTP/1.1 204 No Content\r\n\r\n";
    /// Initial sequence numbers of the client and the server.
    const C: u32 = 1000;
    const S: u32 = 5000;
    /// One past the request and the response (where their FINs go).
    const REQUEST_END: u32 = C + 1 + REQUEST.len() as u32;
    const RESPONSE_END: u32 = S + 1 + RESPONSE.len() as u32;

    fn handshake() -> Conversation {
        let mut c = Conversation::new();
        c.send(true, C, SYN, b"");
        c.send(false, S, SYN | ACK, b"");
        c.send(true, C + 1, ACK, b"");
        c
    }

    /// The handshake, a request and its response.
    fn exchange() -> Conversation {
        let mut c = handshake();
        c.send(true, C + 1, ACK, REQUEST);
        c.send(false, S + 1, ACK, RESPONSE);
        c
    }

    fn held(flow: &Flow) -> usize {
        flow.streams.iter().map(Stream::held_bytes).sum()
    }

    #[test]
    fn flow_beyond_the_kept_ones_buffers_nothing_from_its_syn_on() {
        let mut c = Conversation::new();
        c.send(true, C, SYN, b"");
        assert!(c.table.has_created());
        c.table.seal_created_if(|_| true);
        assert!(!c.table.has_created(), "offered once");
        c.send(false, S, SYN | ACK, b"");
        c.send(true, C + 1, ACK, b"");
        assert!(
            !c.table.has_created(),
            "only the packet that creates a flow offers it"
        );
        c.send(true, C + 1, ACK, REQUEST);
        c.send(false, S + 1, ACK, RESPONSE);
        let f = c.flow();
        assert_eq!(held(f), 0);
        // Counted as before: the flow is only counted, never summarised.
        assert_eq!(f.packets, [3, 2]);
        assert_eq!(f.streams[TO_SERVER].wire_bytes, REQUEST.len() as u64);
        // A kept flow is left alone; a flow seen without its SYN is not offered (its
        // directions may still be swapped).
        let mut kept = Conversation::new();
        kept.send(true, C, SYN, b"");
        kept.table.seal_created_if(|_| false);
        kept.send(true, C + 1, ACK, REQUEST);
        assert!(held(kept.flow()) >= REQUEST.len());
        assert_eq!(kept.flow().streams[TO_SERVER].bytes(), REQUEST);
        let mut mid = Conversation::new();
        mid.send(true, C + 1, ACK, REQUEST);
        assert!(!mid.table.has_created());
    }

    /// Seals as the analyzer does, the client's bytes standing in for their inspection.
    fn seal(c: &mut Conversation) {
        c.table
            .seal_settled(|f| Some(Box::new(f.streams[TO_SERVER].bytes().to_vec())));
    }

    fn closing(c: &mut Conversation) {
        c.send(true, REQUEST_END, FIN | ACK, b"");
        c.send(false, RESPONSE_END, FIN | ACK, b"");
    }

    #[test]
    fn closed_flow_drops_its_first_bytes_and_still_counts_its_last_packets() {
        let mut c = exchange();
        c.send(true, REQUEST_END, FIN | ACK, b"");
        assert!(!c.table.has_settled(), "open until both sides sent FIN");
        c.send(false, RESPONSE_END, FIN | ACK, b"");
        assert!(c.table.has_settled());
        assert!(held(c.flow()) > 0);
        seal(&mut c);
        let f = c.flow();
        assert_eq!(held(f), 0);
        assert_eq!(f.streams[TO_SERVER].len(), REQUEST.len());
        let kept = f
            .inspected
            .as_ref()
            .and_then(|i| i.downcast_ref::<Vec<u8>>());
        assert_eq!(kept.map(Vec::as_slice), Some(REQUEST));
        // The lingering flow's last ACK, and a late copy of the response: counted, not kept.
        c.send(true, REQUEST_END + 1, ACK, b"");
        let again = c.send(false, S + 1, ACK, RESPONSE);
        assert!(!c.table.has_settled(), "sealed once");
        let f = c.flow();
        assert_eq!(f.packets, [5, 4]);
        assert_eq!(f.last_packet, again);
        assert_eq!(f.tcp.retransmissions, 1);
        let down = &f.streams[TO_CLIENT];
        assert_eq!(down.wire_bytes, 2 * RESPONSE.len() as u64);
        assert_eq!(
            (down.len(), down.end()),
            (RESPONSE.len(), StreamEnd::Complete)
        );
        assert_eq!(held(f), 0);
    }

    #[test]
    fn flow_closing_with_a_segment_missing_keeps_its_first_bytes_until_it_comes() {
        let (head, tail) = REQUEST.split_at(10);
        let (head, tail) = ((C + 1, head), (C + 11, tail));
        // The first missing leaves a hole; the last missing before a bare FIN leaves nothing
        // in the bytes to tell: only the FIN's sequence number does.
        for (seen, late, end) in [
            (tail, head, StreamEnd::Hole),
            (head, tail, StreamEnd::Complete),
        ] {
            let mut c = handshake();
            c.send(true, seen.0, ACK, seen.1);
            c.send(false, S + 1, ACK, RESPONSE);
            closing(&mut c);
            assert_eq!(c.flow().streams[TO_SERVER].end(), end);
            assert!(!c.table.has_settled());
            assert!(held(c.flow()) > 0);
            // A late retransmission: the bytes are whole, and settled.
            c.send(true, late.0, ACK, late.1);
            assert_eq!(c.flow().streams[TO_SERVER].bytes(), REQUEST);
            assert!(c.table.has_settled());
        }
    }

    #[test]
    fn reset_flow_keeps_its_bytes_until_it_is_handed_out() {
        let mut c = exchange();
        // A RST (perhaps a middlebox's, sent to both ends at once) says nothing about where
        // either side's bytes end: the server's next segment may be on its way.
        c.send(true, REQUEST_END, RST | ACK, b"");
        assert!(!c.table.has_settled());
        c.send(false, RESPONSE_END, ACK, b"more");
        let mut whole = RESPONSE.to_vec();
        whole.extend_from_slice(b"more");
        assert_eq!(c.flow().streams[TO_CLIENT].bytes(), whole);
        // Even after the server's FIN: the reset side never said where its own bytes end.
        c.send(false, RESPONSE_END + 4, FIN | ACK, b"");
        assert!(!c.table.has_settled());
        assert!(held(c.flow()) > 0);
    }

    #[test]
    fn flow_seen_without_its_syn_keeps_its_bytes() {
        // A later SYN could still turn its directions around (see `swap_roles`).
        let mut c = Conversation::new();
        c.send(true, C + 1, ACK, REQUEST);
        c.send(false, S + 1, ACK, RESPONSE);
        closing(&mut c);
        assert_eq!(c.flow().role_by, RoleBy::PortHeuristic);
        assert!(!c.table.has_settled());
    }

    #[test]
    fn toa_option_found_after_mss_and_nops() {
        let opts = [2, 4, 0x05, 0xb4, 1, 1, 254, 8, 0x1f, 0x90, 192, 0, 2, 10];
        assert_eq!(
            find_option(&opts, 254),
            Some(&[0x1f, 0x90, 192, 0, 2, 10][..])
        );
        assert_eq!(
            find_option(&[2, 1, 254, 8], 254),
            None,
            "a length below 2 stops the walk"
        );
        assert_eq!(
            find_option(&[254, 30, 0], 254),
            None,
            "an option longer than the header"
        );
    }

    #[test]
    fn roles_from_ports_when_no_syn_was_seen() {
        let c: SocketAddr = "192.0.2.10:51000".parse().unwrap();
        let s: SocketAddr = "203.0.113.5:443".parse().unwrap();
        assert_eq!(
            decide_roles(s, c, tcp_flags::ACK, &[]),
            (c, s, RoleBy::PortHeuristic)
        );
        assert_eq!(decide_roles(c, s, tcp_flags::SYN, &[]), (c, s, RoleBy::Syn));
        assert_eq!(
            decide_roles(s, c, tcp_flags::SYN | tcp_flags::ACK, &[]),
            (c, s, RoleBy::SynAck)
        );
        let a: SocketAddr = "192.0.2.1:8080".parse().unwrap();
        let b: SocketAddr = "192.0.2.2:9090".parse().unwrap();
        assert_eq!(decide_roles(a, b, 0, &[8080]), (b, a, RoleBy::ServicePort));
        assert_eq!(decide_roles(a, b, 0, &[]), (a, b, RoleBy::FirstPacket));
    }
}
