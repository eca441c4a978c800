//! Test help: a TCP conversation (or UDP datagrams) between one client and one server, fed to a
//! flow table a packet at a time.

use super::{Flow, FlowTable};
use crate::decode::tcp_flags;
use crate::source::{LinkType, RawPacket};

pub(crate) const SYN: u8 = tcp_flags::SYN;
pub(crate) const ACK: u8 = tcp_flags::ACK;
pub(crate) const FIN: u8 = tcp_flags::FIN;
pub(crate) const RST: u8 = tcp_flags::RST;

const CLIENT: ([u8; 4], u16) = ([192, 0, 2, 10], 51000);
const SERVER: ([u8; 4], u16) = ([203, 0, 113, 5], 80);

pub(crate) struct Conversation {
    pub table: FlowTable,
    packets: u64,
    ts_nanos: i64,
}

impl Conversation {
    pub fn new() -> Self {
        Self {
            table: FlowTable::new(1, &[]),
            packets: 0,
            ts_nanos: 1_700_000_000_000_000_000,
        }
    }

    /// One segment from the client (`to_server`) or from the server, 1 ms after the last, with
    /// raw TCP `options`; gives its packet number.
    pub fn send_with(
        &mut self,
        to_server: bool,
        seq: u32,
        flags: u8,
        options: &[u8],
        payload: &[u8],
    ) -> u64 {
        let frame = tcp_frame(to_server, seq, flags, options, payload);
        self.feed(&frame)
    }

    /// One UDP datagram between the same two ends, 1 ms after the last; gives its packet
    /// number.
    pub fn send_udp(&mut self, to_server: bool, payload: &[u8]) -> u64 {
        let (src, dst) = if to_server {
            (CLIENT, SERVER)
        } else {
            (SERVER, CLIENT)
        };
        let udp = etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv4(src.0, dst.0, 64)
            .udp(src.1, dst.1);
        let mut frame = Vec::new();
        udp.write(&mut frame, payload).expect("a frame");
        self.feed(&frame)
    }

    /// A data segment (ACK) from one end whose capture kept only `captured` payload bytes.
    pub fn send_cut(&mut self, to_server: bool, seq: u32, payload: &[u8], captured: usize) -> u64 {
        let frame = tcp_frame(to_server, seq, ACK, &[], payload);
        let keep = frame.len() - payload.len() + captured.min(payload.len());
        self.feed_cut(&frame, keep)
    }

    /// Whether a stream of an open flow has dropped bytes nothing reads.
    pub fn hollowed_any(&self) -> bool {
        self.table
            .flows()
            .any(|f| f.streams.iter().any(super::stream::Stream::has_hollows))
    }

    fn feed(&mut self, frame: &[u8]) -> u64 {
        self.feed_cut(frame, frame.len())
    }

    /// `frame` as captured with a snaplen of `keep` bytes.
    fn feed_cut(&mut self, frame: &[u8], keep: usize) -> u64 {
        self.packets += 1;
        self.ts_nanos += 1_000_000;
        let raw = RawPacket {
            index: self.packets,
            ts_nanos: self.ts_nanos,
            interface: 0,
            link_type: LinkType::ETHERNET,
            orig_len: frame.len() as u32,
            data: &frame[..keep],
        };
        self.table.add(&raw, &crate::decode::decode(&raw));
        self.packets
    }

    pub fn send(&mut self, to_server: bool, seq: u32, flags: u8, payload: &[u8]) -> u64 {
        self.send_with(to_server, seq, flags, &[], payload)
    }

    /// The conversation's flow, while the table holds it.
    pub fn flow(&self) -> &Flow {
        self.table.flows().next().expect("the flow is open")
    }
}

/// An Ethernet frame of one TCP segment between the two ends.
fn tcp_frame(to_server: bool, seq: u32, flags: u8, options: &[u8], payload: &[u8]) -> Vec<u8> {
    let (src, dst) = if to_server {
        (CLIENT, SERVER)
    } else {
        (SERVER, CLIENT)
    };
    let mut tcp = etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4(src.0, dst.0, 64)
        .tcp(src.1, dst.1, seq, 65535);
    if flags & SYN != 0 {
        tcp = tcp.syn();
    }
    if flags & ACK != 0 {
        tcp = tcp.ack(1);
    }
    if flags & FIN != 0 {
        tcp = tcp.fin();
    }
    if flags & RST != 0 {
        tcp = tcp.rst();
    }
    let tcp = tcp.options_raw(options).expect("options fit");
    let mut frame = Vec::new();
    tcp.write(&mut frame, payload).expect("a frame");
    frame
}
