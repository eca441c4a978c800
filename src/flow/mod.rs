//! Flows: the canonical 5-tuple table, who is client and who is server, TCP handshake facts,
//! and the first bytes of each direction. Packet numbers are kept as evidence. No protocol
//! parsing happens here (that is `inspect`).

mod index;
mod key;
pub mod stream;
mod table;
#[cfg(test)]
pub(crate) mod testing;

use std::net::SocketAddr;
use std::num::NonZeroU64;

use crate::decode::{LinkInfo, Tunnel};

pub use index::prefetch;
pub use key::{FLOW_GROUPS, FlowKey, Proto, endpoint_hash, flow_group, pair_hash};
pub use stream::{Conflict, FIRST_BYTES_CAP, Stream, StreamEnd};
pub use table::{
    CLOSE_LINGER_NS, DEFAULT_MAX_LIVE, FlowTable, MAINTAIN_EVERY, TableStats, per_group_cap,
};

/// What the caller made of a flow's first bytes before they were dropped (see
/// [`FlowTable::seal_settled`]). Opaque here: this module keeps it and never reads it.
pub type Inspected = Box<dyn std::any::Any + Send + Sync>;

/// Index into per-direction arrays.
pub const TO_SERVER: usize = 0;
pub const TO_CLIENT: usize = 1;

/// How the client and server ends of a flow were told apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RoleBy {
    /// The client sent the SYN.
    Syn,
    /// Only the SYN-ACK was seen; its destination is the client.
    SynAck,
    /// A service port given with `--port`.
    ServicePort,
    /// Port numbers: a well-known port against an ephemeral one.
    PortHeuristic,
    /// No better clue: the sender of the first packet is taken as the client.
    FirstPacket,
}

/// UDP datagrams kept per direction for inspection (a PROXY header belongs in every one).
pub const MAX_DATAGRAMS: usize = 8;
/// Bytes kept of each such datagram.
pub const DATAGRAM_HEAD_CAP: usize = 2048;
/// ICMP errors kept per flow (and, past them, up to as many more that are each the first of
/// their type and code); the rest are counted. A stream of datagrams to a closed port draws one
/// error per datagram: kept all, a flow's memory followed its packets.
pub const MAX_ICMP_ERRORS: usize = 8;

/// Tells whether a UDP datagram's bytes start a header that the inspection looks for in every
/// datagram (PROXY). Given by the caller (the inspectors know protocols; this module does not):
/// see [`FlowTable::set_datagram_probe`].
pub type DatagramProbe = fn(&[u8]) -> bool;

#[derive(Debug, Clone)]
pub struct Datagram {
    pub packet: u64,
    /// Its first [`DATAGRAM_HEAD_CAP`] bytes. With a probe set, only the first datagram of a
    /// direction and the client's first to start a header keep theirs: the inspection reads no
    /// other (a QUIC flow's 16 datagrams of 1,200 bytes each cost 19 KB per open flow).
    pub head: Vec<u8>,
    pub wire_len: u32,
    /// What the probe said of its bytes (`None`: no probe set, the head is kept).
    pub header: Option<bool>,
}

impl Datagram {
    /// Whether its bytes start a header, by the probe or by `starts` on the kept head.
    pub fn starts_header(&self, starts: impl Fn(&[u8]) -> bool) -> bool {
        self.header.unwrap_or_else(|| starts(&self.head))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IcmpRef {
    pub packet: u64,
    pub v6: bool,
    pub icmp_type: u8,
    pub code: u8,
    /// The error went toward the client (about a packet the server sent) or toward the server.
    pub toward_client: bool,
}

#[derive(Debug, Clone, Default)]
pub struct TcpFacts {
    /// Packet numbers of the first SYN, SYN-ACK, and the ACK completing the handshake. Packets
    /// are numbered from 1, so `None` costs no extra word: with plain `u64`s the seven packet
    /// numbers here took 56 bytes more in every open flow.
    pub syn: Option<NonZeroU64>,
    pub synack: Option<NonZeroU64>,
    pub handshake_ack: Option<NonZeroU64>,
    pub syn_count: u32,
    pub synack_count: u32,
    /// Initial sequence numbers per direction.
    pub isn: [Option<u32>; 2],
    /// First FIN and RST per direction.
    pub fin: [Option<NonZeroU64>; 2],
    pub rst: [Option<NonZeroU64>; 2],
    pub retransmissions: u32,
    pub out_of_order: u32,
    /// The first TCP option of kind 254 (TOA) and its packet, raw. Boxed: few flows have one.
    pub toa_option: Option<Box<(u64, Vec<u8>)>>,
}

/// `repr(C)`, hot fields first: what every packet reads and writes (key, counters, TCP state,
/// first bytes) lies in the first cache lines, which the read loop prefetches a packet ahead
/// (see [`Flow::HOT_BYTES`]); the rest is read when the flow starts or is summarised.
#[derive(Debug)]
#[repr(C)]
pub struct Flow {
    /// Kept, not recomputed: the index confirms a lookup by comparing it.
    key: FlowKey,
    pub proto: Proto,
    /// The client is the lower end of the flow key (tells directions apart without comparing
    /// addresses on every packet).
    pub client_is_lo: bool,
    /// The first packet carried IPv6: the key's ends are written back as IPv6 addresses.
    v6: bool,
    pub role_by: RoleBy,
    pub id: u32,
    /// `key.hash()`, the index files the flow under it.
    hash: u64,
    pub last_packet: u64,
    pub last_ts: i64,
    pub packets: [u64; 2],
    /// Payload bytes on the wire per direction.
    pub bytes: [u64; 2],
    pub truncated_packets: u64,
    pub tcp: TcpFacts,
    /// First bytes per direction (TCP).
    pub streams: [Stream; 2],
    // Cold from here on. (The client and server addresses are the key's ends, not fields of
    // their own: two `SocketAddr`s cost every open flow 64 bytes.)
    pub first_packet: u64,
    pub first_ts: i64,
    pub interface: u32,
    /// IP TTL / hop limit of the first packet in each direction (an initial value such as 64
    /// means the packet was captured on the host that sent it).
    pub ttl: [Option<u8>; 2],
    /// Link facts of the first packet in each direction (VLANs, MACs, SLL2 interface index).
    pub link: [Option<LinkInfo>; 2],
    /// What few flows have (see [`Rare`]); `None` for most TCP flows.
    rare: Option<Box<Rare>>,
    /// The inspection of the first bytes, made when they settled and were dropped (TCP: see
    /// [`FlowTable::seal_settled`]); `None` while the streams still hold their bytes.
    pub inspected: Option<Inspected>,
}

/// What only some flows have, boxed apart: tens of thousands of flows are open on a busy
/// balancer, and inline these took ~110 bytes of every one (a TCP flow outside a tunnel that
/// draws no ICMP error needs none of them).
#[derive(Debug, Default)]
pub struct Rare {
    pub tunnel: Option<Tunnel>,
    /// First datagrams per direction (UDP).
    pub datagrams: [Vec<Datagram>; 2],
    /// The first [`MAX_ICMP_ERRORS`] ICMP errors about the flow's packets, then the first of
    /// each further type and code (up to as many again).
    pub icmp_errors: Vec<IcmpRef>,
    /// ICMP errors past those, counted.
    pub icmp_errors_not_kept: u32,
    /// Per direction, the first [`MAX_CONFLICTS_KEPT`] copies of held bytes that said
    /// otherwise (see [`Stream::add_segment`]).
    pub conflicts: [Vec<Conflict>; 2],
}

/// Conflicting copies kept per direction: one is a finding; a flow with more is rewritten
/// throughout, and the count says "at least".
pub const MAX_CONFLICTS_KEPT: usize = 8;

impl Flow {
    /// The bytes every packet of the flow may touch: up to the end of the first bytes.
    pub const HOT_BYTES: usize =
        std::mem::offset_of!(Flow, streams) + std::mem::size_of::<[Stream; 2]>();

    pub fn key(&self) -> FlowKey {
        self.key
    }

    /// The end that opened the connection (or was taken for the client).
    pub fn client(&self) -> SocketAddr {
        self.key.end(self.client_is_lo, self.v6)
    }

    pub fn server(&self) -> SocketAddr {
        self.key.end(!self.client_is_lo, self.v6)
    }

    pub fn tunnel(&self) -> Option<&Tunnel> {
        self.rare.as_ref()?.tunnel.as_ref()
    }

    /// The first datagrams of a direction (UDP).
    pub fn datagrams(&self, dir: usize) -> &[Datagram] {
        self.rare.as_ref().map_or(&[], |r| &r.datagrams[dir])
    }

    pub fn icmp_errors(&self) -> &[IcmpRef] {
        self.rare.as_ref().map_or(&[], |r| &r.icmp_errors)
    }

    pub fn icmp_errors_not_kept(&self) -> u32 {
        self.rare.as_ref().map_or(0, |r| r.icmp_errors_not_kept)
    }

    /// The copies of direction `dir` that said otherwise, where the bytes they differ in are
    /// still held: a difference in a body dropped between HTTP heads, or past a trim, says
    /// nothing of what the report reads, whenever it was seen.
    pub fn conflicts(&self, dir: usize) -> impl Iterator<Item = &Conflict> {
        let stream = &self.streams[dir];
        // A sealed stream's were sorted out before its bytes went (`keep_held_conflicts`).
        let kept = self
            .rare
            .as_ref()
            .map_or(&[][..], |r| &r.conflicts[dir][..]);
        kept.iter()
            .filter(move |c| stream.is_sealed() || c.is_held(stream))
    }

    fn note_conflicts(&mut self, dir: usize, found: &[Conflict]) {
        let kept = &mut self.rare.get_or_insert_with(Box::default).conflicts[dir];
        if kept.len() + found.len() > MAX_CONFLICTS_KEPT {
            // Make room: those in bytes dropped since will not be counted.
            let stream = &self.streams[dir];
            kept.retain(|c| c.is_held(stream));
        }
        let room = MAX_CONFLICTS_KEPT.saturating_sub(kept.len());
        kept.extend(found.iter().take(room));
    }

    /// Before the streams are sealed: keeps the conflicts in bytes still held.
    fn keep_held_conflicts(&mut self) {
        if let Some(rare) = &mut self.rare {
            for (dir, kept) in rare.conflicts.iter_mut().enumerate() {
                kept.retain(|c| c.is_held(&self.streams[dir]));
            }
        }
    }

    /// The flow's rare parts, made on first use.
    fn rare_mut(&mut self) -> &mut Rare {
        self.rare.get_or_insert_with(Box::default)
    }

    /// The client and server were decided from a weak clue and a stronger one says otherwise.
    fn swap_roles(&mut self) {
        // Streams are sealed only once the roles are final (see `FlowTable::seal_settled`).
        debug_assert!(!self.streams.iter().any(Stream::is_sealed));
        self.client_is_lo = !self.client_is_lo;
        self.link.swap(0, 1);
        self.ttl.swap(0, 1);
        self.packets.swap(0, 1);
        self.bytes.swap(0, 1);
        self.streams.swap(0, 1);
        let t = &mut self.tcp;
        t.isn.swap(0, 1);
        t.fin.swap(0, 1);
        t.rst.swap(0, 1);
        if let Some(rare) = &mut self.rare {
            rare.datagrams.swap(0, 1);
            rare.conflicts.swap(0, 1);
            for e in &mut rare.icmp_errors {
                e.toward_client = !e.toward_client;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Flow, Stream};

    /// Tens of thousands of flows are open at once on a busy balancer (62,000 in the bench's
    /// busy-balancer capture): every byte here is paid that many times. Stop 20 brought a flow
    /// from 728 to 552 bytes; a field that grows it again should be a choice, not an accident.
    #[test]
    fn open_flows_stay_small() {
        assert!(
            std::mem::size_of::<Flow>() <= 552,
            "{}",
            std::mem::size_of::<Flow>()
        );
        assert!(
            std::mem::size_of::<Stream>() <= 112,
            "{}",
            std::mem::size_of::<Stream>()
        );
    }
}
