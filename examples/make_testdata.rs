//! Generates lbcheck's own test captures: `cargo run --example make_testdata -- testdata/`.
//!
//! Every file is synthetic and deterministic: fixed timestamps, fixed ISNs and ports, no
//! randomness, so `tests/testdata_reproducible.rs` can assert that the committed `testdata/` is
//! exactly what this program writes. L3/L4 headers come from etherparse's `PacketBuilder` (so IP
//! and TCP/UDP checksums are right unless a scenario breaks them on purpose); link headers,
//! tunnel headers and application payloads are written here by hand.
//!
//! The conventions shared by every scenario (addresses, MACs, timestamps) are stated once, in
//! `README_INTRO`, which becomes the head of `testdata/README.md`.

use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use etherparse::{IpHeaders, IpNumber, Ipv4Header, PacketBuilder, PacketBuilderStep};
use lbcheck::source::writer::{ByteOrder, PcapWriter, PcapngWriter, TsPrecision};

fn main() -> Result<()> {
    let dir = std::env::args_os()
        .nth(1)
        .map_or_else(|| PathBuf::from("testdata"), PathBuf::from);
    let written = generate(&dir)?;
    for path in &written {
        println!("{}", path.display());
    }
    eprintln!("{} files written under {}", written.len(), dir.display());
    Ok(())
}

/// Writes every capture, the corrupt corpus and `README.md` under `dir`; returns the paths
/// written, in a fixed order.
pub fn generate(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    let mut readme = String::from(README_INTRO);
    let mut section = "";
    for scenario in scenarios() {
        if scenario.section != section {
            section = scenario.section;
            let _ = write!(readme, "\n## {section}\n");
        }
        let bytes = (scenario.build)().with_context(|| format!("building {}", scenario.file))?;
        let path = dir.join(scenario.file);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&path, &bytes).with_context(|| format!("writing {}", path.display()))?;
        let _ = write!(
            readme,
            "\n### `{}`\n\n- made: {}\n- expect: {}\n",
            scenario.file, scenario.made, scenario.expect
        );
        written.push(path);
    }
    let path = dir.join("README.md");
    std::fs::write(&path, readme).with_context(|| format!("writing {}", path.display()))?;
    written.push(path);
    Ok(written)
}

const README_INTRO: &str = "# testdata

Synthetic captures for lbcheck's tests. **Generated, do not edit by hand**: every file here
(this README included) is written by

    cargo run --example make_testdata -- testdata/

and `tests/testdata_reproducible.rs` fails when a committed file differs from what the generator
writes, so a change to a capture is always a deliberate change to `examples/make_testdata.rs`.
Real-world captures stay out of the repository (they live in the shared captures folder).

Conventions shared by every file:

- addresses only from documentation ranges: clients 192.0.2.0/24, VIPs 198.51.100.0/24,
  backends 203.0.113.0/24, load-balancer \"system\" sources 100.64.0.0/10; IPv6 under 2001:db8::/32
  with clients in 2001:db8:0:192::/64, VIPs 2001:db8:0:198::/64, backends 2001:db8:0:203::/64 and
  LB sources 2001:db8:0:64::/64;
- MAC addresses are `02:00:` followed by the last four bytes of the frame's IP address;
- the first packet is at 2026-01-01T00:00:00.123456789Z (microsecond files keep .123456), then
  one packet per millisecond unless a scenario pauses;
- captures are taken on the backend: Linux cooked headers (SLL, SLL2) mark packets sent from
  203.0.113.0/24 or 2001:db8:0:203::/64 as outgoing (packet type 4), the rest as to-us (0);
- unless said otherwise: pcap, little-endian, microseconds, snaplen 262144, Ethernet (EN10MB);
  TCP without options; IP and TCP/UDP checksums valid; a \"standard exchange\" is SYN, SYN-ACK,
  ACK, request, response, ACK, client FIN, server FIN, ACK (9 packets);
- the \"request\" is `GET / HTTP/1.1` with `Host: www.example.com`, the response
  `HTTP/1.1 200 OK` with body `ok`.

Packet numbers below are 1-based, as Wireshark shows them.

Checked when generated: every file outside `corrupt/` reads without error in tshark 4.0 (Wireshark
decodes the PROXY headers with `-o tcp.try_heuristic_first:TRUE`) and tcpdump 4.99; tcpdump cannot
read the pcapng files whose interfaces have different link types, a libpcap limit, not damage.
";

/// One generated file and its README entry.
struct Scenario {
    section: &'static str,
    file: &'static str,
    made: &'static str,
    expect: &'static str,
    build: fn() -> Result<Vec<u8>>,
}

// ---------------------------------------------------------------------------------------------
// Addresses, timing and link-layer numbers
// ---------------------------------------------------------------------------------------------

/// 2026-01-01T00:00:00.123456789Z in nanoseconds.
const FIRST_TS: u64 = 1_767_225_600_123_456_789;
/// Gap between two packets.
const STEP_NS: u64 = 1_000_000;
const SECOND_NS: u64 = 1_000_000_000;
const DEFAULT_SNAPLEN: u32 = 262_144;

mod linktype {
    pub const NULL: u32 = 0;
    pub const EN10MB: u32 = 1;
    pub const RAW_OPENBSD_NUMBERING: u32 = 12;
    pub const RAW: u32 = 101;
    pub const LOOP: u32 = 108;
    pub const LINUX_SLL: u32 = 113;
    pub const USER0: u32 = 147;
    pub const IPV4: u32 = 228;
    pub const IPV6: u32 = 229;
    pub const LINUX_SLL2: u32 = 276;
}

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const TPID_8021Q: u16 = 0x8100;
const TPID_8021AD: u16 = 0x88a8;
const ETHERTYPE_ERSPAN_II: u16 = 0x88be;
const ARPHRD_ETHER: u16 = 1;
const SLL_PACKET_HOST: u8 = 0;
const SLL_PACKET_OUTGOING: u8 = 4;
const IPPROTO_IPIP: u8 = 4;
const IPPROTO_TCP: u8 = 6;
const IPPROTO_IPV6: u8 = 41;
const IPPROTO_GRE: u8 = 47;
const IPPROTO_DSTOPTS: u8 = 60;
const IPV6_HEADER_LEN: usize = 40;
const PORT_VXLAN: u16 = 4789;
const PORT_GENEVE: u16 = 6081;
const AF_INET: u32 = 2;

#[derive(Debug, Clone, Copy)]
struct Endpoint {
    ip: IpAddr,
    port: u16,
}

fn ep(ip: &str, port: u16) -> Endpoint {
    Endpoint {
        ip: ip.parse().expect("address literal"),
        port,
    }
}

fn addr(ip: &str) -> IpAddr {
    ip.parse().expect("address literal")
}

fn ip_start(src: IpAddr, dst: IpAddr) -> PacketBuilderStep<IpHeaders> {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => PacketBuilder::ipv4(s.octets(), d.octets(), 64),
        (IpAddr::V6(s), IpAddr::V6(d)) => PacketBuilder::ipv6(s.octets(), d.octets(), 64),
        _ => panic!("{src} and {dst} are of different families"),
    }
}

/// An IP packet carrying `payload` as protocol `proto` (tunnels).
fn ip_packet(src: IpAddr, dst: IpAddr, proto: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    ip_start(src, dst)
        .write(&mut out, IpNumber(proto), payload)
        .expect("in-memory write");
    out
}

fn udp_packet(src: Endpoint, dst: Endpoint, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    ip_start(src.ip, dst.ip)
        .udp(src.port, dst.port)
        .write(&mut out, payload)
        .expect("in-memory write");
    out
}

/// Source and destination address of an IP packet built here.
fn ip_addresses(ip: &[u8]) -> (&[u8], &[u8]) {
    if ip[0] >> 4 == 6 {
        (&ip[8..24], &ip[24..40])
    } else {
        (&ip[12..16], &ip[16..20])
    }
}

fn ethertype_of(ip: &[u8]) -> u16 {
    if ip[0] >> 4 == 6 {
        ETHERTYPE_IPV6
    } else {
        ETHERTYPE_IPV4
    }
}

fn mac_of(ip_address: &[u8]) -> [u8; 6] {
    let tail = &ip_address[ip_address.len() - 4..];
    [0x02, 0x00, tail[0], tail[1], tail[2], tail[3]]
}

/// Whether the packet was sent by a backend (where the captures are "taken").
fn sent_by_backend(ip: &[u8]) -> bool {
    let (src, _) = ip_addresses(ip);
    match src.len() {
        4 => src[..3] == [203, 0, 113],
        _ => src[..8] == [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0x02, 0x03],
    }
}

/// Whether the packet was sent by a client (`192.0.2.0/24`, `2001:db8:0:192::/64`).
fn sent_by_client(ip: &[u8]) -> bool {
    let (src, _) = ip_addresses(ip);
    match src.len() {
        4 => src[..3] == [192, 0, 2],
        _ => src[..8] == [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0x01, 0x92],
    }
}

/// Ethernet frame around an IP packet, with 802.1Q/802.1ad tags `(tpid, vlan id)` outermost
/// first.
fn ethernet(ip: &[u8], tags: &[(u16, u16)]) -> Vec<u8> {
    let (src, dst) = ip_addresses(ip);
    let mut frame = Vec::with_capacity(14 + 4 * tags.len() + ip.len());
    frame.extend_from_slice(&mac_of(dst));
    frame.extend_from_slice(&mac_of(src));
    for &(tpid, vid) in tags {
        frame.extend_from_slice(&tpid.to_be_bytes());
        frame.extend_from_slice(&vid.to_be_bytes());
    }
    frame.extend_from_slice(&ethertype_of(ip).to_be_bytes());
    frame.extend_from_slice(ip);
    frame
}

/// How IP packets are framed on the capture's link.
#[derive(Debug, Clone)]
enum Link {
    Ethernet(Vec<(u16, u16)>),
    /// Linux cooked v1, 16 bytes.
    Sll,
    /// Linux cooked v2, 20 bytes, with the interface index.
    Sll2 {
        ifindex: u32,
    },
    /// Raw IP, no link header (RAW, IPV4, IPV6 and link type 12).
    Raw,
    /// BSD loopback: a 4-byte address family. NULL writes it in the capturing host's order
    /// (the file's order), LOOP in network order.
    Null {
        order: ByteOrder,
        inet6: u32,
    },
    /// An unknown link type: a made-up 8-byte header in front of the IP packet.
    User0,
}

impl Link {
    fn frame(&self, ip: &[u8]) -> Vec<u8> {
        let (src, _) = ip_addresses(ip);
        let packet_type = if sent_by_backend(ip) {
            SLL_PACKET_OUTGOING
        } else {
            SLL_PACKET_HOST
        };
        let mut frame = Vec::new();
        match self {
            Self::Ethernet(tags) => return ethernet(ip, tags),
            Self::Sll => {
                frame.extend_from_slice(&u16::from(packet_type).to_be_bytes());
                frame.extend_from_slice(&ARPHRD_ETHER.to_be_bytes());
                frame.extend_from_slice(&6u16.to_be_bytes());
                frame.extend_from_slice(&mac_of(src));
                frame.extend_from_slice(&[0, 0]);
                frame.extend_from_slice(&ethertype_of(ip).to_be_bytes());
            }
            Self::Sll2 { ifindex } => {
                frame.extend_from_slice(&ethertype_of(ip).to_be_bytes());
                frame.extend_from_slice(&[0, 0]);
                frame.extend_from_slice(&ifindex.to_be_bytes());
                frame.extend_from_slice(&ARPHRD_ETHER.to_be_bytes());
                frame.push(packet_type);
                frame.push(6);
                frame.extend_from_slice(&mac_of(src));
                frame.extend_from_slice(&[0, 0]);
            }
            Self::Raw => {}
            Self::Null { order, inet6 } => {
                let family = if ip[0] >> 4 == 6 { *inet6 } else { AF_INET };
                frame.extend_from_slice(&match order {
                    ByteOrder::Little => family.to_le_bytes(),
                    ByteOrder::Big => family.to_be_bytes(),
                });
            }
            Self::User0 => frame.extend_from_slice(b"USR0\x00\x01\x00\x08"),
        }
        frame.extend_from_slice(ip);
        frame
    }
}

// ---------------------------------------------------------------------------------------------
// Tunnels
// ---------------------------------------------------------------------------------------------

/// GENEVE option class of AWS Gateway Load Balancer, and its option types.
const GENEVE_CLASS_AWS: u16 = 0x0108;
const GWLB_OPT_ENI_ID: u8 = 1;
const GWLB_OPT_ATTACHMENT_ID: u8 = 2;
const GWLB_OPT_FLOW_COOKIE: u8 = 3;

#[derive(Debug, Clone, Copy)]
enum Tunnel {
    /// VXLAN between two VTEPs, inner Ethernet.
    Vxlan,
    /// GENEVE from a Gateway Load Balancer to an appliance, both inner directions, inner IPv4.
    GeneveGwlb,
    /// Plain GRE carrying IPv4.
    Gre,
    /// ERSPAN type II (GRE with sequence numbers), a mirror of Ethernet frames.
    ErspanII,
    /// IP-in-IP from an LVS-TUN director: requests encapsulated, replies sent plain (DSR).
    IpIpLvsTun,
    /// IPv6 in IPv4 (protocol 41), both directions.
    SixIn4,
    /// IPv4 in IPv6 (next header 4), both directions.
    FourIn6,
}

impl Tunnel {
    /// The outer IP packet for `inner` (an IP packet), or `None` when it travels unencapsulated.
    fn wrap(self, inner: &[u8], seq: u32) -> Option<Vec<u8>> {
        let forward = sent_by_client(inner);
        let ends = |a: &str, b: &str| {
            if forward {
                (addr(a), addr(b))
            } else {
                (addr(b), addr(a))
            }
        };
        Some(match self {
            Self::Vxlan => {
                let (a, b) = ends("198.51.100.1", "203.0.113.1");
                let mut payload = vec![0x08, 0, 0, 0, 0x00, 0x03, 0xe8, 0]; // I flag, VNI 1000
                payload.extend_from_slice(&ethernet(inner, &[]));
                udp_packet(
                    Endpoint { ip: a, port: 49160 },
                    Endpoint {
                        ip: b,
                        port: PORT_VXLAN,
                    },
                    &payload,
                )
            }
            Self::GeneveGwlb => {
                let mut options = Vec::new();
                for (kind, value) in [
                    (
                        GWLB_OPT_ENI_ID,
                        &0x0000_0a0b_0c0d_0e0f_u64.to_be_bytes()[..],
                    ),
                    (
                        GWLB_OPT_ATTACHMENT_ID,
                        &0x0000_0000_0000_1234_u64.to_be_bytes()[..],
                    ),
                    (GWLB_OPT_FLOW_COOKIE, &0x1122_3344_u32.to_be_bytes()[..]),
                ] {
                    options.extend_from_slice(&GENEVE_CLASS_AWS.to_be_bytes());
                    options.push(kind);
                    options.push((value.len() / 4) as u8);
                    options.extend_from_slice(value);
                }
                let mut payload = vec![(options.len() / 4) as u8, 0];
                payload.extend_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
                payload.extend_from_slice(&[0, 0, 0, 0]); // VNI 0, reserved
                payload.extend_from_slice(&options);
                payload.extend_from_slice(inner);
                udp_packet(
                    ep("198.51.100.200", 49161),
                    ep("203.0.113.200", PORT_GENEVE),
                    &payload,
                )
            }
            Self::Gre => {
                let (a, b) = ends("198.51.100.1", "203.0.113.1");
                let mut payload = vec![0, 0];
                payload.extend_from_slice(&ethertype_of(inner).to_be_bytes());
                payload.extend_from_slice(inner);
                ip_packet(a, b, IPPROTO_GRE, &payload)
            }
            Self::ErspanII => {
                let mut payload = vec![0x10, 0x00]; // S bit: sequence number present
                payload.extend_from_slice(&ETHERTYPE_ERSPAN_II.to_be_bytes());
                payload.extend_from_slice(&seq.to_be_bytes());
                // version 1 (type II), VLAN 0, COS 0, En 0, T 0, session id 7; index 0
                payload.extend_from_slice(&[0x10, 0x00, 0x00, 0x07, 0, 0, 0, 0]);
                payload.extend_from_slice(&ethernet(inner, &[]));
                ip_packet(
                    addr("198.51.100.250"),
                    addr("203.0.113.250"),
                    IPPROTO_GRE,
                    &payload,
                )
            }
            Self::IpIpLvsTun => {
                if !forward {
                    return None;
                }
                ip_packet(
                    addr("198.51.100.2"),
                    addr("203.0.113.10"),
                    IPPROTO_IPIP,
                    inner,
                )
            }
            Self::SixIn4 => {
                let (a, b) = ends("198.51.100.1", "203.0.113.1");
                ip_packet(a, b, IPPROTO_IPV6, inner)
            }
            Self::FourIn6 => {
                let (a, b) = ends("2001:db8:0:198::1", "2001:db8:0:203::1");
                ip_packet(a, b, IPPROTO_IPIP, inner)
            }
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Captures
// ---------------------------------------------------------------------------------------------

struct Frame {
    ts: u64,
    data: Vec<u8>,
    orig_len: u32,
}

/// Packets of one capture, framed for its link, in order.
struct Capture {
    link: Link,
    tunnel: Option<Tunnel>,
    snaplen: u32,
    clock: u64,
    frames: Vec<Frame>,
}

impl Capture {
    fn new(link: Link) -> Self {
        Self {
            link,
            tunnel: None,
            snaplen: DEFAULT_SNAPLEN,
            clock: FIRST_TS,
            frames: Vec::new(),
        }
    }

    fn ether() -> Self {
        Self::new(Link::Ethernet(Vec::new()))
    }

    /// Frames an IP packet (through the tunnel, if any), cuts it at the snaplen and records it.
    fn push(&mut self, ip: &[u8]) {
        let wrapped = self
            .tunnel
            .and_then(|tunnel| tunnel.wrap(ip, self.frames.len() as u32));
        let mut data = self.link.frame(wrapped.as_deref().unwrap_or(ip));
        let orig_len = data.len() as u32;
        data.truncate(self.snaplen as usize);
        self.frames.push(Frame {
            ts: self.clock,
            data,
            orig_len,
        });
        self.clock += STEP_NS;
    }

    fn pause(&mut self, nanos: u64) {
        self.clock += nanos;
    }

    /// The standard exchange: handshake, one request and one response, client closes first.
    fn exchange(&mut self, tcp: &mut Tcp, request: &[u8], response: &[u8]) {
        self.handshake(tcp);
        self.push(&tcp.client(PSH | ACK, request));
        self.push(&tcp.server(PSH | ACK, response));
        self.push(&tcp.client(ACK, b""));
        self.close_client_first(tcp);
    }

    /// The standard exchange with the standard request and response; `flow` picks the ISNs.
    fn http(&mut self, client: Endpoint, server: Endpoint, flow: u32) {
        self.exchange(&mut tcp(client, server, flow), HTTP_REQUEST, HTTP_RESPONSE);
    }

    /// An empty capture on `link` whose clock starts at the next flow slot after `self`'s packets
    /// (for the second interface or section of a pcapng file).
    fn after(&self, link: Link) -> Self {
        let mut next = Self::new(link);
        next.clock = self.clock;
        next.next_flow();
        next
    }

    fn handshake(&mut self, tcp: &mut Tcp) {
        self.push(&tcp.client(SYN, b""));
        self.push(&tcp.server(SYN | ACK, b""));
        self.push(&tcp.client(ACK, b""));
    }

    fn close_client_first(&mut self, tcp: &mut Tcp) {
        self.push(&tcp.client(FIN | ACK, b""));
        self.push(&tcp.server(FIN | ACK, b""));
        self.push(&tcp.client(ACK, b""));
    }

    fn close_server_first(&mut self, tcp: &mut Tcp) {
        self.push(&tcp.server(FIN | ACK, b""));
        self.push(&tcp.client(FIN | ACK, b""));
        self.push(&tcp.server(ACK, b""));
    }

    /// Gap between flows, so each flow starts on a round 100 ms.
    fn next_flow(&mut self) {
        self.clock = FIRST_TS + (self.clock - FIRST_TS).next_multiple_of(100 * STEP_NS);
    }

    fn pcap(&self, link_type: u32) -> Result<Vec<u8>> {
        self.pcap_with(link_type, TsPrecision::Micro, ByteOrder::Little)
    }

    fn pcap_with(
        &self,
        link_type: u32,
        precision: TsPrecision,
        order: ByteOrder,
    ) -> Result<Vec<u8>> {
        let mut writer = PcapWriter::new(Vec::new(), link_type, self.snaplen, precision, order)?;
        for frame in &self.frames {
            writer.write_packet(frame.ts, &frame.data, frame.orig_len)?;
        }
        Ok(writer.into_inner()?)
    }

    /// Writes the frames as EPBs of `interface`, whose `if_tsresol` is 10^-`tsresol` s.
    fn epbs<W: std::io::Write>(
        &self,
        writer: &mut PcapngWriter<W>,
        interface: u32,
        tsresol: u8,
    ) -> Result<()> {
        let divisor = 10u64.pow(9 - u32::from(tsresol));
        for frame in &self.frames {
            writer.write_epb(interface, frame.ts / divisor, &frame.data, frame.orig_len)?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// TCP
// ---------------------------------------------------------------------------------------------

const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const RST: u8 = 0x04;
const PSH: u8 = 0x08;
const ACK: u8 = 0x10;

/// The IP packets of one TCP connection, with sequence numbers kept in step.
struct Tcp {
    client: Endpoint,
    server: Endpoint,
    client_next: u32,
    server_next: u32,
    /// TCP options of the next client packet only.
    client_options: Vec<u8>,
}

impl Tcp {
    fn new(client: Endpoint, server: Endpoint, client_isn: u32, server_isn: u32) -> Self {
        Self {
            client,
            server,
            client_next: client_isn,
            server_next: server_isn,
            client_options: Vec::new(),
        }
    }

    /// One segment with an explicit sequence number; ACKs what the peer sent so far.
    fn segment(
        &self,
        from_client: bool,
        seq: u32,
        flags: u8,
        options: &[u8],
        payload: &[u8],
    ) -> Vec<u8> {
        let (src, dst, ack, window) = if from_client {
            (self.client, self.server, self.server_next, 64240)
        } else {
            (self.server, self.client, self.client_next, 65160)
        };
        let mut builder = ip_start(src.ip, dst.ip).tcp(src.port, dst.port, seq, window);
        if flags & FIN != 0 {
            builder = builder.fin();
        }
        if flags & SYN != 0 {
            builder = builder.syn();
        }
        if flags & RST != 0 {
            builder = builder.rst();
        }
        if flags & PSH != 0 {
            builder = builder.psh();
        }
        if flags & ACK != 0 {
            builder = builder.ack(ack);
        }
        if !options.is_empty() {
            builder = builder.options_raw(options).expect("options fit");
        }
        let mut out = Vec::new();
        builder.write(&mut out, payload).expect("in-memory write");
        out
    }

    fn send(&mut self, from_client: bool, flags: u8, payload: &[u8]) -> Vec<u8> {
        let seq = if from_client {
            self.client_next
        } else {
            self.server_next
        };
        let options = if from_client {
            std::mem::take(&mut self.client_options)
        } else {
            Vec::new()
        };
        let packet = self.segment(from_client, seq, flags, &options, payload);
        let advance = payload.len() as u32 + u32::from(flags & (SYN | FIN) != 0);
        if from_client {
            self.client_next = self.client_next.wrapping_add(advance);
        } else {
            self.server_next = self.server_next.wrapping_add(advance);
        }
        packet
    }

    fn client(&mut self, flags: u8, payload: &[u8]) -> Vec<u8> {
        self.send(true, flags, payload)
    }

    fn server(&mut self, flags: u8, payload: &[u8]) -> Vec<u8> {
        self.send(false, flags, payload)
    }
}

/// ISNs differ per flow number so that no two flows share sequence space.
fn tcp(client: Endpoint, server: Endpoint, flow: u32) -> Tcp {
    Tcp::new(
        client,
        server,
        0x1000_0000 + flow * 0x0100_0000,
        0x8000_0000 + flow * 0x0100_0000,
    )
}

// ---------------------------------------------------------------------------------------------
// Payloads
// ---------------------------------------------------------------------------------------------

const HTTP_REQUEST: &[u8] =
    b"GET / HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n";
const HTTP_RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n";
const HTTP_400: &[u8] = b"HTTP/1.1 400 Bad Request\r\nServer: nginx\r\nContent-Type: text/html\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// The 12-byte PROXY v2 signature.
const PP2_SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";
const PP2_CMD_LOCAL: u8 = 0x20;
const PP2_CMD_PROXY: u8 = 0x21;
const PP2_FAM_TCP4: u8 = 0x11;
const PP2_FAM_UDP4: u8 = 0x12;
const PP2_TYPE_ALPN: u8 = 0x01;
const PP2_TYPE_AUTHORITY: u8 = 0x02;
const PP2_TYPE_CRC32C: u8 = 0x03;
const PP2_TYPE_NOOP: u8 = 0x04;
const PP2_TYPE_UNIQUE_ID: u8 = 0x05;
const PP2_TYPE_SSL: u8 = 0x20;
const PP2_SUBTYPE_SSL_VERSION: u8 = 0x21;
const PP2_SUBTYPE_SSL_CN: u8 = 0x22;
const PP2_SUBTYPE_SSL_CIPHER: u8 = 0x23;
const PP2_CLIENT_SSL: u8 = 0x01;
const PP2_CLIENT_CERT_CONN: u8 = 0x02;
const PP2_CLIENT_CERT_SESS: u8 = 0x04;

fn tlv(kind: u8, value: &[u8]) -> Vec<u8> {
    let mut out = vec![kind];
    out.extend_from_slice(&(value.len() as u16).to_be_bytes());
    out.extend_from_slice(value);
    out
}

fn ipv4_address_block(src: Endpoint, dst: Endpoint) -> Vec<u8> {
    let (IpAddr::V4(s), IpAddr::V4(d)) = (src.ip, dst.ip) else {
        panic!("IPv4 endpoints expected");
    };
    cat(&[
        &s.octets(),
        &d.octets(),
        &src.port.to_be_bytes(),
        &dst.port.to_be_bytes(),
    ])
}

/// A PROXY v2 header. `tlvs` are whole TLVs; a CRC32C TLV among them (value zero) gets the
/// checksum of the whole header filled in, corrupted when `corrupt_crc`.
fn proxy_v2(
    command: u8,
    family: u8,
    addresses: &[u8],
    tlvs: &[Vec<u8>],
    corrupt_crc: bool,
) -> Vec<u8> {
    let body: Vec<u8> = cat(&[addresses, &tlvs.concat()]);
    let mut header = cat(&[
        &PP2_SIGNATURE,
        &[command, family],
        &(body.len() as u16).to_be_bytes(),
        &body,
    ]);
    let mut offset = 16 + addresses.len();
    for tlv in tlvs {
        if tlv[0] == PP2_TYPE_CRC32C {
            let crc = crc32c::crc32c(&header) ^ u32::from(corrupt_crc);
            header[offset + 3..offset + 7].copy_from_slice(&crc.to_be_bytes());
        }
        offset += tlv.len();
    }
    header
}

fn crc32c_placeholder() -> Vec<u8> {
    tlv(PP2_TYPE_CRC32C, &[0; 4])
}

/// A PROXY v2 TCP4 header with no TLVs.
fn proxy_v2_tcp4(client: Endpoint, vip: Endpoint) -> Vec<u8> {
    proxy_v2(
        PP2_CMD_PROXY,
        PP2_FAM_TCP4,
        &ipv4_address_block(client, vip),
        &[],
        false,
    )
}

fn dns_name(name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for label in name.split('.') {
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    out
}

/// A DNS query for `name` IN A.
fn dns_query(id: u16, name: &str) -> Vec<u8> {
    cat(&[
        &id.to_be_bytes(),
        &[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0],
        &dns_name(name),
        &[0, 1, 0, 1],
    ])
}

/// The answer to `dns_query(id, name)`: one A record with `answer` and TTL 300.
fn dns_answer(id: u16, name: &str, answer: [u8; 4]) -> Vec<u8> {
    cat(&[
        &id.to_be_bytes(),
        &[0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0],
        &dns_name(name),
        &[0, 1, 0, 1],
        &[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0x01, 0x2c, 0, 4],
        &answer,
    ])
}

/// A TLS 1.3 `ClientHello` with SNI `server_name`, ALPN h2 and http/1.1, a fixed "random".
fn tls_client_hello(server_name: &str) -> Vec<u8> {
    fn with_len16(body: &[u8]) -> Vec<u8> {
        cat(&[&(body.len() as u16).to_be_bytes(), body])
    }
    fn extension(kind: u16, body: &[u8]) -> Vec<u8> {
        cat(&[&kind.to_be_bytes(), &with_len16(body)])
    }
    let name_entry = cat(&[&[0u8], &with_len16(server_name.as_bytes())]);
    let extensions = cat(&[
        &extension(0x0000, &with_len16(&name_entry)),
        &extension(0x000a, &with_len16(&[0x00, 0x1d, 0x00, 0x17])),
        &extension(0x0010, &with_len16(b"\x02h2\x08http/1.1")),
        &extension(0x002b, &[0x04, 0x03, 0x04, 0x03, 0x03]),
    ]);
    let random: Vec<u8> = (0u8..32).collect();
    let hello = cat(&[
        &[0x03, 0x03],
        &random,
        &[0],
        &with_len16(&[0x13, 0x01, 0x13, 0x02, 0xc0, 0x2f]),
        &[1, 0],
        &with_len16(&extensions),
    ]);
    let handshake = cat(&[&[0x01], &(hello.len() as u32).to_be_bytes()[1..], &hello]);
    cat(&[&[0x16, 0x03, 0x01], &with_len16(&handshake)])
}

// ---------------------------------------------------------------------------------------------
// Common flows
// ---------------------------------------------------------------------------------------------

fn client_a() -> Endpoint {
    ep("192.0.2.10", 51000)
}

fn backend_http() -> Endpoint {
    ep("203.0.113.10", 80)
}

fn vip_http() -> Endpoint {
    ep("198.51.100.10", 80)
}

/// One standard HTTP exchange, client straight to the backend.
fn direct_http(link: Link) -> Capture {
    let mut cap = Capture::new(link);
    cap.http(client_a(), backend_http(), 0);
    cap
}

/// Two standard HTTP exchanges, one IPv4 and one IPv6, client straight to the backend.
fn direct_http_v4_v6(link: Link) -> Capture {
    let mut cap = Capture::new(link);
    cap.http(client_a(), backend_http(), 0);
    cap.next_flow();
    cap.http(
        ep("2001:db8:0:192::10", 51001),
        ep("2001:db8:0:203::10", 80),
        1,
    );
    cap
}

fn direct_http_v6(link: Link) -> Capture {
    let mut cap = Capture::new(link);
    cap.http(
        ep("2001:db8:0:192::10", 51001),
        ep("2001:db8:0:203::10", 80),
        1,
    );
    cap
}

fn lb_http_flow(request: &[u8]) -> Capture {
    let mut cap = Capture::ether();
    cap.exchange(
        &mut tcp(ep("100.64.0.2", 40001), backend_http(), 2),
        request,
        HTTP_RESPONSE,
    );
    cap
}

/// The client closes at once after `request`; the server answers nothing and closes too
/// (what a PROXY-expecting server does with bytes it cannot parse).
fn rejected_flow(client: Endpoint, server: Endpoint, request: &[u8]) -> Capture {
    let mut cap = Capture::ether();
    let mut t = tcp(client, server, 3);
    cap.handshake(&mut t);
    cap.push(&t.client(PSH | ACK, request));
    cap.push(&t.server(ACK, b""));
    cap.close_server_first(&mut t);
    cap
}

fn proxy_v1_tcp4_line() -> Vec<u8> {
    b"PROXY TCP4 192.0.2.10 198.51.100.10 51000 80\r\n".to_vec()
}

// ---------------------------------------------------------------------------------------------
// pcapng files
// ---------------------------------------------------------------------------------------------

fn pcapng_two_interfaces() -> Result<Vec<u8>> {
    let mut writer = PcapngWriter::new(Vec::new(), ByteOrder::Little)?;
    let eth0 = writer.add_interface(linktype::EN10MB as u16, DEFAULT_SNAPLEN, Some("eth0"), 6)?;
    let any = writer.add_interface(linktype::LINUX_SLL as u16, DEFAULT_SNAPLEN, Some("any"), 9)?;
    let first = direct_http(Link::Ethernet(Vec::new()));
    let mut second = first.after(Link::Sll);
    second.http(ep("192.0.2.11", 51002), backend_http(), 1);
    first.epbs(&mut writer, eth0, 6)?;
    second.epbs(&mut writer, any, 9)?;
    let mut dns = Capture::ether();
    let (client, server) = (ep("192.0.2.30", 53000), ep("203.0.113.53", 53));
    dns.push(&udp_packet(
        client,
        server,
        &dns_query(0x1001, "www.example.com"),
    ));
    dns.push(&udp_packet(
        server,
        client,
        &dns_answer(0x1001, "www.example.com", [198, 51, 100, 10]),
    ));
    for frame in &dns.frames {
        writer.write_spb(&frame.data, frame.orig_len)?;
    }
    Ok(writer.into_inner()?)
}

fn pcapng_two_sections() -> Result<Vec<u8>> {
    let mut writer = PcapngWriter::new(Vec::new(), ByteOrder::Little)?;
    let eth0 = writer.add_interface(linktype::EN10MB as u16, DEFAULT_SNAPLEN, Some("eth0"), 6)?;
    let first = direct_http(Link::Ethernet(Vec::new()));
    first.epbs(&mut writer, eth0, 6)?;
    writer.new_section()?;
    let tun0 = writer.add_interface(linktype::RAW as u16, DEFAULT_SNAPLEN, Some("tun0"), 9)?;
    let mut second = first.after(Link::Raw);
    second.http(ep("192.0.2.12", 51003), backend_http(), 1);
    second.epbs(&mut writer, tun0, 9)?;
    Ok(writer.into_inner()?)
}

fn pcapng_single(order: ByteOrder, cap: &Capture, link_type: u32, name: &str) -> Result<Vec<u8>> {
    let mut writer = PcapngWriter::new(Vec::new(), order)?;
    let id = writer.add_interface(link_type as u16, cap.snaplen, Some(name), 6)?;
    cap.epbs(&mut writer, id, 6)?;
    Ok(writer.into_inner()?)
}

fn pcapng_known_and_unknown_link() -> Result<Vec<u8>> {
    let mut writer = PcapngWriter::new(Vec::new(), ByteOrder::Little)?;
    let eth0 = writer.add_interface(linktype::EN10MB as u16, DEFAULT_SNAPLEN, Some("eth0"), 6)?;
    let usr0 = writer.add_interface(linktype::USER0 as u16, DEFAULT_SNAPLEN, Some("usr0"), 6)?;
    let first = direct_http(Link::Ethernet(Vec::new()));
    let mut second = first.after(Link::User0);
    second.http(ep("192.0.2.13", 51004), backend_http(), 1);
    first.epbs(&mut writer, eth0, 6)?;
    second.epbs(&mut writer, usr0, 6)?;
    Ok(writer.into_inner()?)
}

// ---------------------------------------------------------------------------------------------
// Link types
// ---------------------------------------------------------------------------------------------

fn null_host_order(order: ByteOrder, families: &[u32]) -> Result<Vec<u8>> {
    let mut cap = Capture::new(Link::Null { order, inet6: 0 });
    cap.http(client_a(), backend_http(), 0);
    for (n, &inet6) in families.iter().enumerate() {
        cap.link = Link::Null { order, inet6 };
        cap.next_flow();
        let client = Endpoint {
            ip: addr("2001:db8:0:192::10"),
            port: 51010 + n as u16,
        };
        cap.http(client, ep("2001:db8:0:203::10", 80), 1 + n as u32);
    }
    cap.pcap_with(linktype::NULL, TsPrecision::Micro, order)
}

fn qinq_xff() -> Result<Vec<u8>> {
    let mut cap = Capture::new(Link::Ethernet(vec![(TPID_8021AD, 200), (TPID_8021Q, 300)]));
    let request = b"GET / HTTP/1.1\r\nHost: www.example.com\r\nX-Forwarded-For: 192.0.2.10\r\nX-Forwarded-Proto: https\r\n\r\n";
    cap.exchange(
        &mut tcp(ep("100.64.0.3", 40002), backend_http(), 0),
        request,
        HTTP_RESPONSE,
    );
    cap.pcap(linktype::EN10MB)
}

// ---------------------------------------------------------------------------------------------
// Content scenarios
// ---------------------------------------------------------------------------------------------

fn proxy_v2_full_tlvs() -> Result<Vec<u8>> {
    let ssl = cat(&[
        &[PP2_CLIENT_SSL | PP2_CLIENT_CERT_CONN | PP2_CLIENT_CERT_SESS],
        &0u32.to_be_bytes(),
        &tlv(PP2_SUBTYPE_SSL_VERSION, b"TLSv1.3"),
        &tlv(PP2_SUBTYPE_SSL_CIPHER, b"TLS_AES_128_GCM_SHA256"),
        &tlv(PP2_SUBTYPE_SSL_CN, b"client.example.com"),
    ]);
    let header = proxy_v2(
        PP2_CMD_PROXY,
        PP2_FAM_TCP4,
        &ipv4_address_block(client_a(), ep("198.51.100.10", 443)),
        &[
            tlv(PP2_TYPE_ALPN, b"http/1.1"),
            tlv(PP2_TYPE_AUTHORITY, b"www.example.com"),
            crc32c_placeholder(),
            tlv(PP2_TYPE_UNIQUE_ID, b"lbcheck-unique-id-0001"),
            tlv(PP2_TYPE_SSL, &ssl),
        ],
        false,
    );
    lb_http_flow(&cat(&[&header, HTTP_REQUEST])).pcap(linktype::EN10MB)
}

/// Two connections whose PROXY v2 header carries 20 empty ALPN TLVs (a warning each).
fn proxy_v2_many_faulty_tlvs() -> Result<Vec<u8>> {
    let mut cap = Capture::ether();
    for (i, port) in [(0u32, 51000u16), (1, 51001)] {
        let header = proxy_v2(
            PP2_CMD_PROXY,
            PP2_FAM_TCP4,
            &ipv4_address_block(ep("192.0.2.10", port), ep("198.51.100.10", 80)),
            &vec![tlv(PP2_TYPE_ALPN, b""); 20],
            false,
        );
        cap.exchange(
            &mut tcp(ep("100.64.0.2", 40060 + i as u16), backend_http(), 10 + i),
            &cat(&[&header, HTTP_REQUEST]),
            HTTP_RESPONSE,
        );
    }
    cap.pcap(linktype::EN10MB)
}

fn proxy_v2_local_health_check() -> Result<Vec<u8>> {
    let header = proxy_v2(
        PP2_CMD_LOCAL,
        PP2_FAM_TCP4,
        &[],
        &[crc32c_placeholder(), tlv(PP2_TYPE_NOOP, &[0; 74])],
        false,
    );
    debug_assert_eq!(header.len(), 100);
    let mut cap = Capture::ether();
    let mut t = tcp(ep("100.64.0.2", 40010), backend_http(), 0);
    cap.handshake(&mut t);
    cap.push(&t.client(PSH | ACK, &header));
    cap.push(&t.server(ACK, b""));
    cap.close_client_first(&mut t);
    cap.pcap(linktype::EN10MB)
}

fn proxy_v2_split() -> Result<Vec<u8>> {
    let request = cat(&[&proxy_v2_tcp4(client_a(), vip_http()), HTTP_REQUEST]);
    let mut cap = Capture::ether();
    let mut t = tcp(ep("100.64.0.2", 40003), backend_http(), 0);
    cap.handshake(&mut t);
    cap.push(&t.client(PSH | ACK, &request[..20]));
    cap.push(&t.server(ACK, b""));
    cap.push(&t.client(PSH | ACK, &request[20..]));
    cap.push(&t.server(PSH | ACK, HTTP_RESPONSE));
    cap.push(&t.client(ACK, b""));
    cap.close_client_first(&mut t);
    cap.pcap(linktype::EN10MB)
}

fn proxy_v2_bad_crc() -> Result<Vec<u8>> {
    let header = proxy_v2(
        PP2_CMD_PROXY,
        PP2_FAM_TCP4,
        &ipv4_address_block(client_a(), vip_http()),
        &[crc32c_placeholder()],
        true,
    );
    rejected_flow(
        ep("100.64.0.2", 40004),
        backend_http(),
        &cat(&[&header, HTTP_REQUEST]),
    )
    .pcap(linktype::EN10MB)
}

fn xff_two_headers() -> Result<Vec<u8>> {
    let request = b"GET / HTTP/1.1\r\nHost: www.example.com\r\nX-Forwarded-For: 192.0.2.66\r\nX-Forwarded-For: 192.0.2.10\r\nX-Forwarded-Proto: http\r\n\r\n";
    let mut cap = Capture::ether();
    cap.exchange(
        &mut tcp(ep("100.64.0.3", 40020), backend_http(), 0),
        request,
        HTTP_RESPONSE,
    );
    cap.pcap(linktype::EN10MB)
}

/// A balancer and its application on one host (10.0.0.5), captured there: the client's
/// connection to :80, then the balancer's to :8080 on the same address with the client in
/// X-Forwarded-For.
fn xff_same_host_both_legs() -> Result<Vec<u8>> {
    let mut cap = Capture::ether();
    let client = ep("198.51.100.7", 50001);
    cap.exchange(
        &mut tcp(client, ep("10.0.0.5", 80), 0),
        b"GET / HTTP/1.1\r\nHost: www.example.com\r\n\r\n",
        HTTP_RESPONSE,
    );
    cap.exchange(
        &mut tcp(ep("10.0.0.5", 40100), ep("10.0.0.5", 8080), 1),
        b"GET / HTTP/1.1\r\nHost: www.example.com\r\nX-Forwarded-For: 198.51.100.7\r\n\r\n",
        HTTP_RESPONSE,
    );
    cap.pcap(linktype::EN10MB)
}

/// A client endpoint seen twice (its source port reused), one second before and one second
/// after a balancer's connection whose PROXY v1 header names it: equally near in time, so
/// the header is linked to the earlier flow (the first in flow order, as the scan did).
fn proxy_client_port_reused_equally_near() -> Result<Vec<u8>> {
    let mut cap = Capture::ether();
    let (client, vip) = (ep("192.0.2.10", 51000), ep("198.51.100.10", 80));
    cap.exchange(&mut tcp(client, vip, 0), HTTP_REQUEST, HTTP_RESPONSE);
    cap.pause(SECOND_NS);
    let proxied = [
        &b"PROXY TCP4 192.0.2.10 198.51.100.10 51000 80\r\n"[..],
        HTTP_REQUEST,
    ]
    .concat();
    cap.exchange(
        &mut tcp(ep("10.0.0.2", 40000), ep("10.0.0.5", 80), 1),
        &proxied,
        HTTP_RESPONSE,
    );
    cap.pause(SECOND_NS);
    cap.exchange(&mut tcp(client, vip, 2), HTTP_REQUEST, HTTP_RESPONSE);
    cap.pcap(linktype::EN10MB)
}

/// Three TCP health checks (connect, close) from a private address, and nothing else.
fn tcp_health_checks_only() -> Result<Vec<u8>> {
    let mut cap = Capture::ether();
    for i in 0..3u16 {
        let mut t = tcp(ep("10.0.0.9", 41000 + i), backend_http(), u32::from(i));
        cap.handshake(&mut t);
        cap.close_client_first(&mut t);
    }
    cap.pcap(linktype::EN10MB)
}

/// An LB that does not strip the header of the proxy in front of it: two PROXY v2 headers.
fn proxy_v2_stacked() -> Result<Vec<u8>> {
    let outer = proxy_v2(
        PP2_CMD_PROXY,
        PP2_FAM_TCP4,
        &ipv4_address_block(ep("192.0.2.10", 51000), ep("198.51.100.10", 80)),
        &[],
        false,
    );
    let inner = proxy_v2(
        PP2_CMD_PROXY,
        PP2_FAM_TCP4,
        &ipv4_address_block(ep("100.64.9.9", 42000), ep("198.51.100.10", 80)),
        &[],
        false,
    );
    lb_http_flow(&cat(&[&outer, &inner, HTTP_REQUEST])).pcap(linktype::EN10MB)
}

/// Spectrum-style UDP: a PROXY v2 header on the first datagram of the flow only.
fn udp_proxy_v2_first_datagram_only() -> Result<Vec<u8>> {
    let mut cap = Capture::ether();
    let (lb, backend) = (ep("100.64.0.2", 40031), ep("203.0.113.53", 53));
    let header = proxy_v2(
        PP2_CMD_PROXY,
        PP2_FAM_UDP4,
        &ipv4_address_block(ep("192.0.2.31", 53001), ep("198.51.100.53", 53)),
        &[],
        false,
    );
    for (i, id) in [0x3101u16, 0x3102, 0x3103].into_iter().enumerate() {
        let query = dns_query(id, "www.example.com");
        let payload = if i == 0 {
            cat(&[&header, &query])
        } else {
            query
        };
        cap.push(&udp_packet(lb, backend, &payload));
        cap.push(&udp_packet(
            backend,
            lb,
            &dns_answer(id, "www.example.com", [198, 51, 100, 10]),
        ));
    }
    cap.pcap(linktype::EN10MB)
}

/// Two clients behind one backend port: one conveyed by PROXY v2, one not conveyed at all.
fn mixed_proxy_and_plain() -> Result<Vec<u8>> {
    let mut cap = Capture::ether();
    let header = proxy_v2(
        PP2_CMD_PROXY,
        PP2_FAM_TCP4,
        &ipv4_address_block(ep("192.0.2.10", 51000), ep("198.51.100.10", 80)),
        &[],
        false,
    );
    cap.exchange(
        &mut tcp(ep("100.64.0.2", 40070), backend_http(), 0),
        &cat(&[&header, HTTP_REQUEST]),
        HTTP_RESPONSE,
    );
    cap.exchange(
        &mut tcp(ep("100.64.0.2", 40071), backend_http(), 1),
        HTTP_REQUEST,
        HTTP_RESPONSE,
    );
    cap.pcap(linktype::EN10MB)
}

/// An X-Forwarded-For entry with leading-zero octets (octal in some parsers).
fn xff_leading_zero_entry() -> Result<Vec<u8>> {
    let request =
        b"GET / HTTP/1.1\r\nHost: www.example.com\r\nX-Forwarded-For: 010.000.002.010\r\n\r\n";
    let mut cap = Capture::ether();
    cap.exchange(
        &mut tcp(ep("100.64.0.3", 40021), backend_http(), 0),
        request,
        HTTP_RESPONSE,
    );
    cap.pcap(linktype::EN10MB)
}

fn proxy_to_plain_backend_400() -> Result<Vec<u8>> {
    let mut cap = Capture::ether();
    let mut t = tcp(ep("100.64.0.2", 40011), backend_http(), 0);
    cap.handshake(&mut t);
    cap.push(&t.client(PSH | ACK, &cat(&[&proxy_v1_tcp4_line(), HTTP_REQUEST])));
    cap.push(&t.server(PSH | ACK, HTTP_400));
    cap.close_server_first(&mut t);
    cap.pcap(linktype::EN10MB)
}

fn tls_without_proxy() -> Result<Vec<u8>> {
    rejected_flow(
        ep("192.0.2.20", 51020),
        ep("203.0.113.10", 443),
        &tls_client_hello("www.example.com"),
    )
    .pcap(linktype::EN10MB)
}

fn udp_dns() -> Result<Vec<u8>> {
    let mut cap = Capture::ether();
    let server = ep("203.0.113.53", 53);
    for (n, client) in [ep("192.0.2.30", 53000), ep("192.0.2.31", 53001)]
        .into_iter()
        .enumerate()
    {
        let id = 0x2001 + n as u16;
        cap.push(&udp_packet(
            client,
            server,
            &dns_query(id, "www.example.com"),
        ));
        cap.push(&udp_packet(
            server,
            client,
            &dns_answer(id, "www.example.com", [198, 51, 100, 10]),
        ));
    }
    cap.pcap(linktype::EN10MB)
}

/// A DNS query per id from `proxy` to `backend`, each datagram starting with `header`, and
/// its answer (without one).
fn dns_behind_header(
    cap: &mut Capture,
    proxy: Endpoint,
    backend: Endpoint,
    header: &[u8],
    ids: [u16; 2],
) {
    for id in ids {
        cap.push(&udp_packet(
            proxy,
            backend,
            &cat(&[header, &dns_query(id, "www.example.com")]),
        ));
        cap.push(&udp_packet(
            backend,
            proxy,
            &dns_answer(id, "www.example.com", [198, 51, 100, 10]),
        ));
    }
}

fn udp_proxy_v2() -> Result<Vec<u8>> {
    let mut cap = Capture::ether();
    let (lb, backend) = (ep("100.64.0.2", 40030), ep("203.0.113.53", 53));
    let addresses = ipv4_address_block(ep("192.0.2.30", 53000), ep("198.51.100.53", 53));
    let header = proxy_v2(PP2_CMD_PROXY, PP2_FAM_UDP4, &addresses, &[], false);
    dns_behind_header(&mut cap, lb, backend, &header, [0x3001, 0x3002]);
    cap.pcap(linktype::EN10MB)
}

/// Cloudflare Spectrum's Simple Proxy Protocol: a 38-byte header before every datagram to the
/// origin (magic 0x56EC, client and proxy addresses as IPv6, IPv4 mapped, then their ports).
fn udp_cloudflare_spp() -> Result<Vec<u8>> {
    let mut cap = Capture::ether();
    let (edge, backend) = (ep("162.158.1.2", 40060), ep("203.0.113.53", 53));
    let mapped = |ip: [u8; 4]| {
        let mut a = [0u8; 16];
        a[10..12].copy_from_slice(&[0xff, 0xff]);
        a[12..].copy_from_slice(&ip);
        a
    };
    let header = cat(&[
        &[0x56, 0xec],
        &mapped([192, 0, 2, 31]),
        &mapped([198, 51, 100, 53]),
        &53001u16.to_be_bytes(),
        &53u16.to_be_bytes(),
    ]);
    assert_eq!(header.len(), 38);
    dns_behind_header(&mut cap, edge, backend, &header, [0x3101, 0x3102]);
    cap.pcap(linktype::EN10MB)
}

fn toa_option() -> Result<Vec<u8>> {
    let mut cap = Capture::ether();
    let mut t = tcp(ep("100.64.0.4", 40040), backend_http(), 0);
    cap.push(&t.client(SYN, b""));
    cap.push(&t.server(SYN | ACK, b""));
    // TOA: kind 254, length 8, client port, client IPv4
    t.client_options = cat(&[&[254, 8], &51000u16.to_be_bytes(), &[192, 0, 2, 10]]);
    cap.push(&t.client(ACK, b""));
    cap.push(&t.client(PSH | ACK, HTTP_REQUEST));
    cap.push(&t.server(PSH | ACK, HTTP_RESPONSE));
    cap.push(&t.client(ACK, b""));
    cap.close_client_first(&mut t);
    cap.pcap(linktype::EN10MB)
}

fn retransmit_reorder_overlap() -> Result<Vec<u8>> {
    let request = cat(&[&proxy_v1_tcp4_line(), HTTP_REQUEST]);
    let mut cap = Capture::ether();
    let mut t = tcp(ep("100.64.0.2", 40050), backend_http(), 0);
    cap.handshake(&mut t);
    let base = t.client_next;
    let at = |offset: usize| base.wrapping_add(offset as u32);
    cap.push(&t.segment(true, at(20), PSH | ACK, &[], &request[20..50])); // out of order
    cap.push(&t.server(ACK, b"")); // duplicate ACK for the hole
    cap.push(&t.segment(true, at(0), ACK, &[], &request[..20])); // fills the hole
    cap.pause(200 * STEP_NS);
    cap.push(&t.segment(true, at(0), ACK, &[], &request[..20])); // retransmission
    t.client_next = at(50);
    cap.push(&t.server(ACK, b""));
    cap.push(&t.segment(true, at(40), PSH | ACK, &[], &request[40..])); // overlaps 10 bytes
    t.client_next = at(request.len());
    cap.push(&t.server(PSH | ACK, HTTP_RESPONSE));
    cap.push(&t.client(ACK, b""));
    cap.close_client_first(&mut t);
    cap.pcap(linktype::EN10MB)
}

/// The first copy of the request is lost past the capture point; the resent copy names another
/// client in the same bytes (what a rewriting middlebox would send).
fn retransmit_conflicting_proxy_v1() -> Result<Vec<u8>> {
    let first = cat(&[&proxy_v1_tcp4_line(), HTTP_REQUEST]);
    let resent = cat(&[
        b"PROXY TCP4 192.0.2.99 198.51.100.10 51000 80\r\n",
        HTTP_REQUEST,
    ]);
    assert_eq!(first.len(), resent.len());
    let mut cap = Capture::ether();
    let mut t = tcp(ep("100.64.0.2", 40051), backend_http(), 0);
    cap.handshake(&mut t);
    let base = t.client_next;
    cap.push(&t.segment(true, base, PSH | ACK, &[], &first));
    cap.pause(200 * STEP_NS);
    cap.push(&t.segment(true, base, PSH | ACK, &[], &resent)); // same bytes' place, other client
    t.client_next = base.wrapping_add(first.len() as u32);
    cap.push(&t.server(ACK, b""));
    cap.push(&t.server(PSH | ACK, HTTP_RESPONSE));
    cap.push(&t.client(ACK, b""));
    cap.close_client_first(&mut t);
    cap.pcap(linktype::EN10MB)
}

fn midstream_no_syn() -> Result<Vec<u8>> {
    let mut cap = Capture::ether();
    let mut t = tcp(ep("192.0.2.40", 52000), backend_http(), 0);
    cap.push(&t.server(PSH | ACK, b"end of an earlier response body\n"));
    cap.push(&t.client(ACK, b""));
    cap.push(&t.client(PSH | ACK, HTTP_REQUEST));
    cap.push(&t.server(PSH | ACK, HTTP_RESPONSE));
    cap.push(&t.client(ACK, b""));
    cap.pcap(linktype::EN10MB)
}

fn syn_without_synack() -> Result<Vec<u8>> {
    let mut cap = Capture::ether();
    let t = tcp(ep("192.0.2.50", 52100), vip_http(), 0);
    let isn = t.client_next;
    for wait in [SECOND_NS, 2 * SECOND_NS, 0] {
        cap.push(&t.segment(true, isn, SYN, &[], b""));
        cap.pause(wait);
    }
    cap.pcap(linktype::EN10MB)
}

fn rst_from_server() -> Result<Vec<u8>> {
    let mut cap = Capture::ether();
    let mut refused = tcp(ep("192.0.2.60", 53000), ep("203.0.113.10", 8080), 0);
    cap.push(&refused.client(SYN, b""));
    cap.push(&refused.segment(false, 0, RST | ACK, &[], b""));
    cap.next_flow();
    let mut reset = tcp(ep("192.0.2.60", 53001), backend_http(), 1);
    cap.handshake(&mut reset);
    cap.push(&reset.client(PSH | ACK, HTTP_REQUEST));
    cap.push(&reset.server(RST | ACK, b""));
    cap.pcap(linktype::EN10MB)
}

fn zero_tcp_checksum_from_backend(ip: &[u8]) -> Vec<u8> {
    let mut out = ip.to_vec();
    if sent_by_backend(ip) && ip[9] == IPPROTO_TCP {
        let tcp_start = usize::from(ip[0] & 0x0f) * 4;
        out[tcp_start + 16..tcp_start + 18].copy_from_slice(&[0, 0]);
    }
    out
}

/// Inserts a hop-by-hop and a destination options header (`PadN` only) after the IPv6 header.
fn with_ipv6_extension_headers(ip: &[u8]) -> Vec<u8> {
    let upper = ip[6];
    let payload_len = u16::from_be_bytes([ip[4], ip[5]]) + 16;
    let mut out = ip[..IPV6_HEADER_LEN].to_vec();
    out[4..6].copy_from_slice(&payload_len.to_be_bytes());
    out[6] = 0; // hop-by-hop options
    out.extend_from_slice(&[IPPROTO_DSTOPTS, 0, 1, 4, 0, 0, 0, 0]);
    out.extend_from_slice(&[upper, 0, 1, 4, 0, 0, 0, 0]);
    out.extend_from_slice(&ip[IPV6_HEADER_LEN..]);
    out
}

fn rewritten_http(
    rewrite: fn(&[u8]) -> Vec<u8>,
    client: Endpoint,
    server: Endpoint,
) -> Result<Vec<u8>> {
    let mut cap = Capture::ether();
    let mut t = tcp(client, server, 0);
    let push = |cap: &mut Capture, ip: Vec<u8>| cap.push(&rewrite(&ip));
    push(&mut cap, t.client(SYN, b""));
    push(&mut cap, t.server(SYN | ACK, b""));
    push(&mut cap, t.client(ACK, b""));
    push(&mut cap, t.client(PSH | ACK, HTTP_REQUEST));
    push(&mut cap, t.server(PSH | ACK, HTTP_RESPONSE));
    push(&mut cap, t.client(ACK, b""));
    push(&mut cap, t.client(FIN | ACK, b""));
    push(&mut cap, t.server(FIN | ACK, b""));
    push(&mut cap, t.client(ACK, b""));
    cap.pcap(linktype::EN10MB)
}

fn icmp_port_unreachable() -> Result<Vec<u8>> {
    let mut cap = Capture::ether();
    let (client, server) = (ep("192.0.2.30", 53010), ep("203.0.113.53", 53));
    for id in [0x4001u16, 0x4002] {
        let query = udp_packet(client, server, &dns_query(id, "www.example.com"));
        cap.push(&query);
        let mut icmp = Vec::new();
        ip_start(server.ip, client.ip)
            .icmpv4_raw(3, 3, [0; 4])
            .write(&mut icmp, &query)?;
        cap.push(&icmp);
        cap.pause(SECOND_NS);
    }
    cap.pcap(linktype::EN10MB)
}

/// Syslog datagrams drawing more ICMP errors than a flow keeps: redirects from the first-hop
/// router, then port unreachables once nothing listens any more (a kind that comes after the
/// kept ones).
fn icmp_errors_past_the_cap() -> Result<Vec<u8>> {
    let mut cap = Capture::ether();
    let (client, server) = (ep("192.0.2.31", 40514), ep("203.0.113.54", 514));
    let router: IpAddr = "192.0.2.1".parse()?;
    for n in 0..12 {
        let line = format!("<13>Nov 27 02:40:{n:02} web1 app: request served");
        let datagram = udp_packet(client, server, line.as_bytes());
        cap.push(&datagram);
        let mut icmp = Vec::new();
        if n < 9 {
            // Redirect for host (type 5 code 1), gateway 192.0.2.254.
            ip_start(router, client.ip)
                .icmpv4_raw(5, 1, [192, 0, 2, 254])
                .write(&mut icmp, &datagram)?;
        } else {
            ip_start(server.ip, client.ip)
                .icmpv4_raw(3, 3, [0; 4])
                .write(&mut icmp, &datagram)?;
        }
        cap.push(&icmp);
        cap.pause(SECOND_NS / 10);
    }
    cap.pcap(linktype::EN10MB)
}

fn icmpv6_errors() -> Result<Vec<u8>> {
    let mut cap = Capture::ether();
    let client = ep("2001:db8:0:192::30", 53020);
    let big = udp_packet(client, ep("2001:db8:0:203::53", 5000), &[0x5a; 1300]);
    cap.push(&big);
    let mut too_big = Vec::new();
    ip_start(addr("2001:db8:0:198::1"), client.ip)
        .icmpv6_raw(2, 0, 1280u32.to_be_bytes())
        .write(&mut too_big, &big[..1280 - 48])?;
    cap.push(&too_big);
    let small = udp_packet(
        client,
        ep("2001:db8:0:203::53", 5001),
        &dns_query(0x5001, "www.example.com"),
    );
    cap.push(&small);
    let mut unreachable = Vec::new();
    ip_start(addr("2001:db8:0:203::53"), client.ip)
        .icmpv6_raw(1, 4, [0; 4])
        .write(&mut unreachable, &small)?;
    cap.push(&unreachable);
    cap.pcap(linktype::EN10MB)
}

/// Splits an IPv4 packet into fragments of `chunk` payload bytes (a multiple of 8).
fn fragments(ip: &[u8], identification: u16, chunk: usize) -> Result<Vec<Vec<u8>>> {
    let (mut header, payload) = Ipv4Header::from_slice(ip)?;
    header.identification = identification;
    header.dont_fragment = false;
    let mut out = Vec::new();
    for (n, part) in payload.chunks(chunk).enumerate() {
        header.fragment_offset = etherparse::IpFragOffset::try_new((n * chunk / 8) as u16)?;
        header.more_fragments = (n + 1) * chunk < payload.len();
        header.total_len = (header.header_len() + part.len()) as u16;
        header.header_checksum = header.calc_header_checksum();
        out.push(cat(&[&header.to_bytes(), part]));
    }
    Ok(out)
}

fn ipv4_fragments() -> Result<Vec<u8>> {
    let mut cap = Capture::ether();
    let (client, server) = (ep("192.0.2.30", 53030), ep("203.0.113.53", 53));
    for (n, reverse) in [(0u16, false), (1, true)] {
        let mut query = dns_query(0x6001 + n, "www.example.com");
        query.resize(1200, 0);
        let mut parts = fragments(&udp_packet(client, server, &query), 0x0100 + n, 552)?;
        if reverse {
            parts.reverse();
        }
        for part in &parts {
            cap.push(part);
        }
        cap.push(&udp_packet(
            server,
            client,
            &dns_answer(0x6001 + n, "www.example.com", [198, 51, 100, 10]),
        ));
    }
    cap.pcap(linktype::EN10MB)
}

fn snaplen_cut(snaplen: u32, request: &[u8]) -> Result<Vec<u8>> {
    let mut cap = Capture::ether();
    cap.snaplen = snaplen;
    cap.exchange(
        &mut tcp(ep("100.64.0.2", 40060), backend_http(), 0),
        request,
        HTTP_RESPONSE,
    );
    cap.pcap(linktype::EN10MB)
}

fn tunnel(tunnel: Tunnel, client: Endpoint, server: Endpoint) -> Result<Vec<u8>> {
    let mut cap = Capture::ether();
    cap.tunnel = Some(tunnel);
    cap.http(client, server, 0);
    cap.pcap(linktype::EN10MB)
}

// ---------------------------------------------------------------------------------------------
// Corrupt corpus
// ---------------------------------------------------------------------------------------------

/// A healthy little-endian microsecond pcap with the standard exchange, to be damaged.
fn healthy_pcap() -> Result<Vec<u8>> {
    direct_http(Link::Ethernet(Vec::new())).pcap(linktype::EN10MB)
}

/// Offsets of the records of a little-endian pcap.
fn pcap_record_offsets(bytes: &[u8]) -> Vec<usize> {
    let mut offsets = Vec::new();
    let mut at = 24;
    while at + 16 <= bytes.len() {
        offsets.push(at);
        let caplen = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().expect("4 bytes"));
        at += 16 + caplen as usize;
    }
    offsets
}

/// `(offset, type, total length)` of each block of a little-endian pcapng.
fn pcapng_blocks(bytes: &[u8]) -> Vec<(usize, u32, usize)> {
    let mut blocks = Vec::new();
    let mut at = 0;
    while at + 12 <= bytes.len() {
        let kind = u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
        let len = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().expect("4 bytes")) as usize;
        blocks.push((at, kind, len));
        at += len;
    }
    blocks
}

fn healthy_pcapng() -> Result<Vec<u8>> {
    pcapng_single(
        ByteOrder::Little,
        &direct_http(Link::Ethernet(Vec::new())),
        linktype::EN10MB,
        "eth0",
    )
}

/// The healthy pcapng with `damage` applied to its `n`-th EPB (`offset`, `total length`).
fn damaged_epb(n: usize, damage: fn(&mut Vec<u8>, usize, usize)) -> Result<Vec<u8>> {
    let mut bytes = healthy_pcapng()?;
    let Some(&(offset, _, len)) = pcapng_blocks(&bytes)
        .iter()
        .filter(|(_, kind, _)| *kind == lbcheck::source::writer::block::EPB)
        .nth(n)
    else {
        bail!("the healthy pcapng has fewer than {} EPBs", n + 1);
    };
    damage(&mut bytes, offset, len);
    Ok(bytes)
}

fn set_u32_le(bytes: &mut [u8], at: usize, value: u32) {
    bytes[at..at + 4].copy_from_slice(&value.to_le_bytes());
}

fn corrupt_bad_magic() -> Result<Vec<u8>> {
    let mut bytes = healthy_pcap()?;
    bytes[..4].copy_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
    Ok(bytes)
}

fn corrupt_version_1_0() -> Result<Vec<u8>> {
    let mut bytes = healthy_pcap()?;
    bytes[4..8].copy_from_slice(&[1, 0, 0, 0]);
    Ok(bytes)
}

fn corrupt_last_record_cut_mid_data() -> Result<Vec<u8>> {
    let mut bytes = healthy_pcap()?;
    let last = *pcap_record_offsets(&bytes).last().expect("records");
    bytes.truncate(last + 16 + 20);
    Ok(bytes)
}

fn corrupt_last_record_header_cut() -> Result<Vec<u8>> {
    let mut bytes = healthy_pcap()?;
    let last = *pcap_record_offsets(&bytes).last().expect("records");
    bytes.truncate(last + 8);
    Ok(bytes)
}

fn corrupt_caplen_over_snaplen() -> Result<Vec<u8>> {
    let mut bytes = healthy_pcap()?;
    set_u32_le(&mut bytes, 16, 96); // snaplen 96, but records 4 and 5 carry more
    Ok(bytes)
}

fn corrupt_absurd_caplen() -> Result<Vec<u8>> {
    let mut bytes = healthy_pcap()?;
    let third = pcap_record_offsets(&bytes)[2];
    set_u32_le(&mut bytes, third + 8, 0xFFFF_FF00);
    Ok(bytes)
}

fn corrupt_pcapng_cut_mid_block() -> Result<Vec<u8>> {
    let mut bytes = healthy_pcapng()?;
    let &(offset, _, _) = pcapng_blocks(&bytes).last().expect("blocks");
    bytes.truncate(offset + 30);
    Ok(bytes)
}

// ---------------------------------------------------------------------------------------------
// The list
// ---------------------------------------------------------------------------------------------

const FORMATS: &str = "Formats";
const LINKS: &str = "Link types";
const CONTENT: &str = "Content scenarios";
const TUNNELS: &str = "Tunnels";
const CORRUPT: &str = "Corrupt input (`corrupt/`)";

const STANDARD_EXPECT: &str = "one TCP flow 192.0.2.10:51000 → 203.0.113.10:80 (client → \
server), 9 packets, handshake complete, closed by FIN both ways; first client bytes \
`GET / HTTP/1.1`, server answers 200; client IP preserved (ip-source), no PROXY, no SNAT";

const V4_V6_EXPECT: &str = "two TCP flows, 192.0.2.10:51000 → 203.0.113.10:80 and \
[2001:db8:0:192::10]:51001 → [2001:db8:0:203::10]:80, 9 packets each, standard exchange; client \
IP preserved";

const V6_EXPECT: &str = "one TCP flow [2001:db8:0:192::10]:51001 → [2001:db8:0:203::10]:80, 9 \
packets, standard exchange; client IP preserved";

#[allow(clippy::too_many_lines)]
fn scenarios() -> Vec<Scenario> {
    vec![
        // ---- formats
        Scenario {
            section: FORMATS,
            file: "format_pcap_le_micro_http.pcap",
            made: "pcap, little-endian, magic a1b2c3d4 (microseconds), EN10MB, the standard exchange",
            expect: STANDARD_EXPECT,
            build: || healthy_pcap(),
        },
        Scenario {
            section: FORMATS,
            file: "format_pcap_be_micro_http.pcap",
            made: "pcap, big-endian (magic bytes a1 b2 c3 d4), microseconds, EN10MB, the standard exchange",
            expect: STANDARD_EXPECT,
            build: || {
                direct_http(Link::Ethernet(Vec::new())).pcap_with(
                    linktype::EN10MB,
                    TsPrecision::Micro,
                    ByteOrder::Big,
                )
            },
        },
        Scenario {
            section: FORMATS,
            file: "format_pcap_le_nano_http.pcap",
            made: "pcap, little-endian, magic a1b23c4d (nanoseconds), EN10MB, the standard exchange",
            expect: "as the micro file, with timestamps ending .123456789 (nanosecond precision kept)",
            build: || {
                direct_http(Link::Ethernet(Vec::new())).pcap_with(
                    linktype::EN10MB,
                    TsPrecision::Nano,
                    ByteOrder::Little,
                )
            },
        },
        Scenario {
            section: FORMATS,
            file: "format_pcap_be_nano_http.pcap",
            made: "pcap, big-endian, nanoseconds (magic bytes a1 b2 3c 4d), EN10MB, the standard exchange",
            expect: "as the micro file, with timestamps ending .123456789",
            build: || {
                direct_http(Link::Ethernet(Vec::new())).pcap_with(
                    linktype::EN10MB,
                    TsPrecision::Nano,
                    ByteOrder::Big,
                )
            },
        },
        Scenario {
            section: FORMATS,
            file: "format_pcapng_two_interfaces_en10mb_sll_tsresol6_9_epb_spb.pcapng",
            made: "pcapng, little-endian, one section; interface 0 `eth0` EN10MB if_tsresol 6, interface 1 \
                   `any` LINUX_SLL if_tsresol 9; EPBs: the standard exchange on eth0 (packets 1-9), a second \
                   standard exchange 192.0.2.11:51002 → 203.0.113.10:80 on `any` (10-18, starting 100 ms after \
                   the first flow's start); then two SPBs on interface 0: DNS query 192.0.2.30:53000 → \
                   203.0.113.53:53 and its answer (packets 19-20, no timestamps)",
            expect: "2 interfaces with their own link type and precision (micro, nano); both TCP flows decoded \
                     with timestamps in the same time base (flow 2 starts at .223456789); 2 SPB packets decoded as \
                     Ethernet, one UDP flow with no timestamp",
            build: pcapng_two_interfaces,
        },
        Scenario {
            section: FORMATS,
            file: "format_pcapng_two_sections_en10mb_then_raw.pcapng",
            made: "pcapng, two sections: section 1 interface 0 `eth0` EN10MB tsresol 6 with the standard exchange; \
                   section 2 interface 0 `tun0` RAW (101) tsresol 9 with 192.0.2.12:51003 → 203.0.113.10:80",
            expect: "interface ids restart per section: two interfaces (EN10MB, RAW), two TCP flows of 9 packets, \
                     client IP preserved",
            build: pcapng_two_sections,
        },
        Scenario {
            section: FORMATS,
            file: "format_pcapng_big_endian_http.pcapng",
            made: "pcapng written big-endian (byte-order magic 1a 2b 3c 4d), EN10MB `eth0`, tsresol 6, the standard exchange",
            expect: STANDARD_EXPECT,
            build: || {
                pcapng_single(
                    ByteOrder::Big,
                    &direct_http(Link::Ethernet(Vec::new())),
                    linktype::EN10MB,
                    "eth0",
                )
            },
        },
        // ---- link types
        Scenario {
            section: LINKS,
            file: "link_en10mb_plain_http.pcap",
            made: "EN10MB without VLAN tags, the standard exchange (same packets as format_pcap_le_micro_http.pcap)",
            expect: STANDARD_EXPECT,
            build: || healthy_pcap(),
        },
        Scenario {
            section: LINKS,
            file: "link_en10mb_vlan100_http.pcap",
            made: "EN10MB, every frame tagged 802.1Q (TPID 0x8100) VLAN 100, the standard exchange",
            expect: "the standard flow with `vlan` [100]",
            build: || direct_http(Link::Ethernet(vec![(TPID_8021Q, 100)])).pcap(linktype::EN10MB),
        },
        Scenario {
            section: LINKS,
            file: "link_en10mb_qinq_88a8_200_8100_300_http_xff.pcap",
            made: "EN10MB, QinQ: outer 802.1ad tag (TPID 0x88a8) VLAN 200, inner 802.1Q (0x8100) VLAN 300; \
                   standard exchange from LB source 100.64.0.3:40002 → 203.0.113.10:80 whose request carries \
                   `X-Forwarded-For: 192.0.2.10` and `X-Forwarded-Proto: https`",
            expect: "one flow with `vlan` [200, 300]; outer source 100.64.0.3 is in 100.64.0.0/10 (LB range, SNAT); \
                     client IP recovered by xff = 192.0.2.10",
            build: qinq_xff,
        },
        Scenario {
            section: LINKS,
            file: "link_linux_sll_http.pcap",
            made: "LINUX_SLL (113), 16-byte cooked header (packet type 0 inbound / 4 outbound, ARPHRD_ETHER, \
                   sender MAC); standard exchange over IPv4, then the same over IPv6",
            expect: V4_V6_EXPECT,
            build: || direct_http_v4_v6(Link::Sll).pcap(linktype::LINUX_SLL),
        },
        Scenario {
            section: LINKS,
            file: "link_linux_sll2_ifindex3_http.pcap",
            made: "LINUX_SLL2 (276), 20-byte cooked header with interface index 3; IPv4 then IPv6 standard exchange",
            expect: V4_V6_EXPECT,
            build: || direct_http_v4_v6(Link::Sll2 { ifindex: 3 }).pcap(linktype::LINUX_SLL2),
        },
        Scenario {
            section: LINKS,
            file: "link_raw101_ipv4_http.pcap",
            made: "RAW (101): IPv4 packets with no link header, the standard exchange",
            expect: STANDARD_EXPECT,
            build: || direct_http(Link::Raw).pcap(linktype::RAW),
        },
        Scenario {
            section: LINKS,
            file: "link_raw101_ipv6_http.pcap",
            made: "RAW (101): IPv6 packets with no link header, the standard exchange over IPv6",
            expect: V6_EXPECT,
            build: || direct_http_v6(Link::Raw).pcap(linktype::RAW),
        },
        Scenario {
            section: LINKS,
            file: "link_raw12_openbsd_numbering_ipv4_http.pcap",
            made: "link type 12 with raw IPv4 packets (the standard exchange): DLT_RAW's number on most BSDs \
                   and old libpcap; libpcap and Wireshark read 12 in a file as raw IP (on OpenBSD DLT 12 is LOOP, \
                   which a file writes as 108)",
            expect: "decoded as raw IP (version nibble 4): the standard flow",
            build: || direct_http(Link::Raw).pcap(linktype::RAW_OPENBSD_NUMBERING),
        },
        Scenario {
            section: LINKS,
            file: "link_ipv4_228_http.pcap",
            made: "IPV4 (228): raw IPv4 packets, the standard exchange",
            expect: STANDARD_EXPECT,
            build: || direct_http(Link::Raw).pcap(linktype::IPV4),
        },
        Scenario {
            section: LINKS,
            file: "link_ipv6_229_http.pcap",
            made: "IPV6 (229): raw IPv6 packets, the standard exchange over IPv6",
            expect: V6_EXPECT,
            build: || direct_http_v6(Link::Raw).pcap(linktype::IPV6),
        },
        Scenario {
            section: LINKS,
            file: "link_null0_host_order_le_af2_24_28_30.pcap",
            made: "NULL (0), little-endian file, 4-byte family in host (= file) order: one IPv4 standard exchange \
                   (family 2), then three IPv6 standard exchanges from ports 51010, 51011, 51012 with family 24 \
                   (NetBSD/OpenBSD), 28 (FreeBSD) and 30 (macOS)",
            expect: "4 flows, all decoded: 192.0.2.10:51000 → 203.0.113.10:80 and [2001:db8:0:192::10]:51010/51011/51012 \
                     → [2001:db8:0:203::10]:80, 9 packets each",
            build: || null_host_order(ByteOrder::Little, &[24, 28, 30]),
        },
        Scenario {
            section: LINKS,
            file: "link_null0_host_order_be_af2_30.pcap",
            made: "NULL (0), big-endian file (a big-endian host), family in that order: IPv4 (2) then IPv6 (30, port 51010)",
            expect: "2 flows decoded, as in the little-endian NULL file",
            build: || null_host_order(ByteOrder::Big, &[30]),
        },
        Scenario {
            section: LINKS,
            file: "link_loop108_network_order_af2_24.pcap",
            made: "LOOP (108), little-endian file but family in network order (OpenBSD loopback): IPv4 (2) then \
                   IPv6 (24) standard exchanges",
            expect: V4_V6_EXPECT,
            build: || {
                direct_http_v4_v6(Link::Null {
                    order: ByteOrder::Big,
                    inet6: 24,
                })
                .pcap(linktype::LOOP)
            },
        },
        Scenario {
            section: LINKS,
            file: "link_user0_147_unknown.pcap",
            made: "USER0 (147): a made-up 8-byte header `USR0 00 01 00 08` before IPv4 packets of the standard exchange",
            expect: "unknown link type 147: 9 packets counted as undecodable, no flows; not a crash, not a corrupt file",
            build: || direct_http(Link::User0).pcap(linktype::USER0),
        },
        Scenario {
            section: LINKS,
            file: "link_pcapng_en10mb_plus_user0_unknown.pcapng",
            made: "pcapng: interface 0 `eth0` EN10MB with the standard exchange, interface 1 `usr0` USER0 (147) \
                   with 192.0.2.13:51004 → 203.0.113.10:80 behind the made-up 8-byte header",
            expect: "the EN10MB flow decoded (standard result); the 9 packets of interface 1 counted as \
                     undecodable (unknown link type 147)",
            build: pcapng_known_and_unknown_link,
        },
        // ---- content
        Scenario {
            section: CONTENT,
            file: "proxy_v2_tcp4_tlvs_alpn_authority_crc_uniqueid_ssl_http.pcap",
            made: "LB 100.64.0.2:40001 → backend 203.0.113.10:80, standard exchange; the request segment starts \
                   with a PROXY v2 header (PROXY, TCP4, 192.0.2.10:51000 → 198.51.100.10:443) with TLVs ALPN \
                   `http/1.1`, AUTHORITY `www.example.com`, CRC32C (valid), UNIQUE_ID `lbcheck-unique-id-0001`, \
                   SSL (client 0x07, verify 0, sub-TLVs VERSION `TLSv1.3`, CIPHER `TLS_AES_128_GCM_SHA256`, CN \
                   `client.example.com`), followed by the HTTP request",
            expect: "proxy_protocol v2, status complete, crc32c valid, header_len 153 (16 + 137); client_ip proxy-v2 = \
                     192.0.2.10:51000; snat yes (outer source in 100.64.0.0/10); HTTP 200",
            build: proxy_v2_full_tlvs,
        },
        Scenario {
            section: CONTENT,
            file: "proxy_v2_local_aws_nlb_health_check_crc_noop.pcap",
            made: "LB 100.64.0.2:40010 → 203.0.113.10:80: handshake, one 100-byte segment holding a PROXY v2 \
                   header cmd LOCAL, family 0x11, length 84, no address block, TLVs CRC32C (valid) + NOOP (74 zero \
                   bytes), as AWS NLB health checks send (the CRC32C, bce5951f, equals the one on the real NLB header \
                   quoted in kubernetes/kubernetes#57250); then the LB closes (FIN) without a request",
            expect: "flow kind health-check; PROXY v2 LOCAL with TLVs parsed from byte 16, crc32c valid; no client \
                     address in the header; not counted as a lost client IP",
            build: proxy_v2_local_health_check,
        },
        Scenario {
            section: CONTENT,
            file: "proxy_v1_tcp4_http.pcap",
            made: "LB 100.64.0.2:40001 → 203.0.113.10:80, standard exchange whose request starts with \
                   `PROXY TCP4 192.0.2.10 198.51.100.10 51000 80\\r\\n`",
            expect: "proxy_protocol v1, complete; client_ip proxy-v1 = 192.0.2.10:51000, dst 198.51.100.10:80; snat yes; HTTP 200",
            build: || {
                lb_http_flow(&cat(&[&proxy_v1_tcp4_line(), HTTP_REQUEST])).pcap(linktype::EN10MB)
            },
        },
        Scenario {
            section: CONTENT,
            file: "proxy_v1_tcp6_http.pcap",
            made: "LB [2001:db8:0:64::2]:40013 → [2001:db8:0:203::10]:80, standard exchange whose request starts \
                   with `PROXY TCP6 2001:db8:0:192::10 2001:db8:0:198::10 51001 80\\r\\n`",
            expect: "proxy_protocol v1 TCP6; client_ip proxy-v1 = 2001:db8:0:192::10 port 51001; snat yes; HTTP 200",
            build: || {
                let mut cap = Capture::ether();
                let request = cat(&[
                    b"PROXY TCP6 2001:db8:0:192::10 2001:db8:0:198::10 51001 80\r\n",
                    HTTP_REQUEST,
                ]);
                cap.exchange(
                    &mut tcp(
                        ep("2001:db8:0:64::2", 40013),
                        ep("2001:db8:0:203::10", 80),
                        0,
                    ),
                    &request,
                    HTTP_RESPONSE,
                );
                cap.pcap(linktype::EN10MB)
            },
        },
        Scenario {
            section: CONTENT,
            file: "proxy_v2_split_across_two_segments_http.pcap",
            made: "LB 100.64.0.2:40003 → 203.0.113.10:80; a 28-byte PROXY v2 header (PROXY, TCP4, \
                   192.0.2.10:51000 → 198.51.100.10:80, no TLVs) + HTTP request sent as two segments: packet 4 \
                   carries the first 20 bytes (signature, command, family, length and 4 address bytes), packet 6 the rest",
            expect: "after reassembly: proxy v2 complete, client_ip proxy-v2 = 192.0.2.10:51000; a warning that \
                     the header was split across 2 segments; HTTP 200",
            build: proxy_v2_split,
        },
        Scenario {
            section: CONTENT,
            file: "proxy_v2_bad_crc32c_http.pcap",
            made: "LB 100.64.0.2:40004 → 203.0.113.10:80; PROXY v2 (PROXY, TCP4, 192.0.2.10:51000 → \
                   198.51.100.10:80) with a CRC32C TLV whose value is the right checksum XOR 1, then the HTTP \
                   request; the server ACKs and closes without answering",
            expect: "proxy v2 parsed, crc32c invalid (finding proxy.crc32c-mismatch, error); server closed without a response",
            build: proxy_v2_bad_crc,
        },
        Scenario {
            section: CONTENT,
            file: "proxy_v1_malformed_leading_zero_port.pcap",
            made: "LB 100.64.0.2:40005 → 203.0.113.10:80; request starts `PROXY TCP4 192.0.2.10 198.51.100.10 \
                   051000 80\\r\\n` (leading zero in the source port) + HTTP; the server closes without answering",
            expect: "proxy v1 malformed (leading zero in a port; finding proxy.malformed), client IP unknown from it",
            build: || {
                let request = cat(&[
                    b"PROXY TCP4 192.0.2.10 198.51.100.10 051000 80\r\n",
                    HTTP_REQUEST,
                ]);
                rejected_flow(ep("100.64.0.2", 40005), backend_http(), &request)
                    .pcap(linktype::EN10MB)
            },
        },
        Scenario {
            section: CONTENT,
            file: "proxy_v1_sent_to_plain_backend_http_400.pcap",
            made: "LB 100.64.0.2:40011 → 203.0.113.10:80; PROXY v1 TCP4 line + HTTP request; the backend \
                   answers `HTTP/1.1 400 Bad Request` (nginx) and closes first",
            expect: "proxy v1 present and a 400 right after it: finding proxy.sent-to-plain-backend",
            build: proxy_to_plain_backend_400,
        },
        Scenario {
            section: CONTENT,
            file: "proxy_missing_tls_clienthello_sni_server_closes.pcap",
            made: "client 192.0.2.20:51020 straight to 203.0.113.10:443; the first client bytes are a TLS 1.3 \
                   ClientHello (record 16 03 01) with SNI `www.example.com` and ALPN h2/http/1.1; the server ACKs, \
                   sends no byte and closes first",
            expect: "no PROXY header, TLS ClientHello with SNI www.example.com where a server expecting PROXY \
                     closed at once: finding proxy.expected-but-missing (with --expect or when the port expects PROXY)",
            build: tls_without_proxy,
        },
        Scenario {
            section: CONTENT,
            file: "proxy_client_port_reused_equally_near.pcap",
            made: "192.0.2.10:51000 → 198.51.100.10:80, then 1 s later 10.0.0.2:40000 → 10.0.0.5:80 with \
                   `PROXY TCP4 192.0.2.10 198.51.100.10 51000 80`, then 1 s later 192.0.2.10:51000 → \
                   198.51.100.10:80 again (the port reused); the three exchanges have the same packets",
            expect: "one path linked by proxy-header: flow 1 (the earlier of the two flows from the named \
                     endpoint, both 1 s away) then flow 2; flow 3 alone",
            build: proxy_client_port_reused_equally_near,
        },
        Scenario {
            section: CONTENT,
            file: "xff_same_host_balancer_both_legs.pcap",
            made: "client 198.51.100.7:50001 → 10.0.0.5:80 (plain GET), then 10.0.0.5:40100 → 10.0.0.5:8080 \
                   with `X-Forwarded-For: 198.51.100.7`: a balancer forwarding to an application on its own \
                   host, captured there",
            expect: "side lb (both legs: the named client connects to the address that sends the header); \
                     main service tcp/8080: client_ip xff, snat yes; one path linked by xff",
            build: xff_same_host_both_legs,
        },
        Scenario {
            section: CONTENT,
            file: "tcp_health_checks_only_private_source.pcap",
            made: "three connect-then-close flows from 10.0.0.9 to 203.0.113.10:80, no payload, nothing else",
            expect: "3 health checks (health-check.flows); no client flow, so no snat.undecided (probes alone say \
                     nothing of the clients); client_ip unknown",
            build: tcp_health_checks_only,
        },
        Scenario {
            section: CONTENT,
            file: "xff_two_headers_client_forged_first_from_lb.pcap",
            made: "LB 100.64.0.3:40020 → 203.0.113.10:80, standard exchange; the request has two headers, \
                   `X-Forwarded-For: 192.0.2.66` (forged by the client) then `X-Forwarded-For: 192.0.2.10` \
                   (added by the LB)",
            expect: "x_forwarded_for [\"192.0.2.66\", \"192.0.2.10\"] in order; finding xff.multiple-headers; the \
                     trustworthy client is the last value, 192.0.2.10; snat yes (100.64.0.0/10)",
            build: xff_two_headers,
        },
        Scenario {
            section: CONTENT,
            file: "ipv6_http_two_clients.pcap",
            made: "two IPv6 standard exchanges straight to [2001:db8:0:203::10]:80 from 2001:db8:0:192::10 port \
                   51001 and 2001:db8:0:192::11 port 51002",
            expect: "2 IPv6 flows, 9 packets each; client IP preserved",
            build: || {
                let mut cap = Capture::ether();
                cap.http(
                    ep("2001:db8:0:192::10", 51001),
                    ep("2001:db8:0:203::10", 80),
                    0,
                );
                cap.next_flow();
                cap.http(
                    ep("2001:db8:0:192::11", 51002),
                    ep("2001:db8:0:203::10", 80),
                    1,
                );
                cap.pcap(linktype::EN10MB)
            },
        },
        Scenario {
            section: CONTENT,
            file: "udp_dns_query_answer.pcap",
            made: "UDP: 192.0.2.30:53000 and 192.0.2.31:53001 each ask 203.0.113.53:53 for www.example.com A \
                   and get 198.51.100.10",
            expect: "2 UDP flows (server 203.0.113.53:53, decided by the requests), 1 datagram each way; client IP preserved",
            build: udp_dns,
        },
        Scenario {
            section: CONTENT,
            file: "proxy_v2_udp4_per_datagram_dns.pcap",
            made: "UDP from LB 100.64.0.2:40030 to 203.0.113.53:53: two DNS queries, each datagram starting with \
                   a 28-byte PROXY v2 header (PROXY, UDP4 0x12, 192.0.2.30:53000 → 198.51.100.53:53); the \
                   answers carry no header",
            expect: "one UDP flow; proxy v2 UDP4 in every request datagram (2 of 2); client_ip proxy-v2 = \
                     192.0.2.30:53000; snat yes",
            build: udp_proxy_v2,
        },
        Scenario {
            section: CONTENT,
            file: "udp_cloudflare_spp_dns.pcap",
            made: "UDP from a Cloudflare address 162.158.1.2:40060 to 203.0.113.53:53: two DNS queries, each \
                   datagram starting with a 38-byte Simple Proxy Protocol header (magic 0x56EC, client \
                   ::ffff:192.0.2.31 port 53001, proxy ::ffff:198.51.100.53 port 53); the answers carry none",
            expect: "one UDP flow; client_ip spp = 192.0.2.31:53001; snat yes, with a tshark command that \
                     lists the SPP datagrams",
            build: udp_cloudflare_spp,
        },
        Scenario {
            section: CONTENT,
            file: "proxy_v2_many_faulty_tlvs_http.pcap",
            made: "two connections LB 100.64.0.2:40060/40061 → 203.0.113.10:80, each a PROXY v2 header (TCP4, \
                   client 192.0.2.10:51000/51001) with 20 empty ALPN TLVs, then HTTP",
            expect: "8 warnings listed per header and 12 counted (warnings_not_listed); finding \
                     proxy.header-warning lists the 2 flows once each",
            build: proxy_v2_many_faulty_tlvs,
        },
        Scenario {
            section: CONTENT,
            file: "proxy_v2_stacked_two_headers_http.pcap",
            made: "LB 100.64.0.2:40001 → 203.0.113.10:80; the request starts with two PROXY v2 headers (client \
                   192.0.2.10:51000, then 100.64.9.9:42000), then HTTP",
            expect: "proxy v2 complete, stacked; client_ip proxy-v2 = 192.0.2.10 (the first header); finding proxy.stacked",
            build: proxy_v2_stacked,
        },
        Scenario {
            section: CONTENT,
            file: "proxy_v2_udp_first_datagram_only_dns.pcap",
            made: "UDP 100.64.0.2:40031 → 203.0.113.53:53, three DNS queries; only the first carries a PROXY v2 \
                   UDP4 header (192.0.2.31:53001), as Cloudflare Spectrum sends it",
            expect: "proxy v2 in 1 of 3 datagrams; finding proxy.udp-first-datagram-only",
            build: udp_proxy_v2_first_datagram_only,
        },
        Scenario {
            section: CONTENT,
            file: "mixed_proxy_v2_and_plain_same_port.pcap",
            made: "two flows from LB 100.64.0.2 to 203.0.113.10:80: one with a PROXY v2 header (192.0.2.10), one \
                   plain HTTP without any header",
            expect: "proxy_protocol mixed; client_ip mixed (proxy-v2 and lost); findings client-ip.mixed, client-ip.lost",
            build: mixed_proxy_and_plain,
        },
        Scenario {
            section: CONTENT,
            file: "xff_leading_zero_octets_entry.pcap",
            made: "LB 100.64.0.3:40021 → 203.0.113.10:80, `X-Forwarded-For: 010.000.002.010`",
            expect: "the entry is kept raw and flagged invalid/ambiguous (octal vs decimal); finding xff.invalid-entry; client_ip not taken from it",
            build: xff_leading_zero_entry,
        },
        Scenario {
            section: CONTENT,
            file: "tcp_toa_option254_in_handshake_ack.pcap",
            made: "LB 100.64.0.4:40040 → 203.0.113.10:80, standard exchange; the handshake ACK (packet 3) \
                   carries TCP option kind 254 length 8: port 51000, address 192.0.2.10 (TOA, LVS full-NAT style)",
            expect: "client_ip toa = 192.0.2.10:51000; snat yes (outer source 100.64.0.4)",
            build: toa_option,
        },
        Scenario {
            section: CONTENT,
            file: "tcp_retransmit_out_of_order_overlap_first_bytes.pcap",
            made: "LB 100.64.0.2:40050 → 203.0.113.10:80; request = PROXY v1 TCP4 line + HTTP request (124 \
                   bytes) sent as: packet 4 bytes 20..50 (out of order), packet 5 server duplicate ACK, packet \
                   6 bytes 0..20, packet 7 bytes 0..20 again 200 ms later (retransmission), packet 8 server ACK, \
                   packet 9 bytes 40..124 (overlaps 10 bytes with identical content); then 200 response and FINs",
            expect: "reassembled client bytes are the exact request: proxy v1 client 192.0.2.10:51000, HTTP GET /; \
                     retransmissions counted (at least 1)",
            build: retransmit_reorder_overlap,
        },
        Scenario {
            section: CONTENT,
            file: "tcp_retransmission_conflicting_proxy_v1.pcap",
            made: "LB 100.64.0.2:40051 → 203.0.113.10:80; packet 4 = PROXY v1 TCP4 line naming client 192.0.2.10:51000 \
                   + HTTP request; packet 5, 200 ms later, resends the same sequence numbers with the line naming \
                   192.0.2.99 (same length); then server ACK, 200 response and FINs",
            expect: "the first copy is decoded (proxy v1 client 192.0.2.10:51000); tcp.overlap_conflicts 1 and \
                     finding tcp.overlap-conflict on packet 5",
            build: retransmit_conflicting_proxy_v1,
        },
        Scenario {
            section: CONTENT,
            file: "tcp_midstream_no_syn_server_by_port.pcap",
            made: "capture started mid-connection 192.0.2.40:52000 ↔ 203.0.113.10:80, no SYN: packet 1 is from \
                   the server (tail of a response body), then ACK, a request, a 200 response, an ACK",
            expect: "one flow, server 203.0.113.10:80 decided by port (not by the first packet's sender), \
                     handshake not seen; HTTP request and 200 found",
            build: midstream_no_syn,
        },
        Scenario {
            section: CONTENT,
            file: "tcp_syn_without_synack.pcap",
            made: "192.0.2.50:52100 → VIP 198.51.100.10:80 (as a DSR backend without the VIP configured \
                   sees it): a SYN and two retransmissions 1 s and 3 s later, never answered",
            expect: "one flow, syn true, synack false: finding return-path.no-synack; retransmissions 2",
            build: syn_without_synack,
        },
        Scenario {
            section: CONTENT,
            file: "tcp_rst_from_server.pcap",
            made: "flow 1: 192.0.2.60:53000 → 203.0.113.10:8080 SYN answered by RST/ACK (port closed); flow 2: \
                   192.0.2.60:53001 → 203.0.113.10:80 handshake, request, then RST/ACK from the server",
            expect: "2 flows, both rst_from_server; flow 1 has no handshake",
            build: rst_from_server,
        },
        Scenario {
            section: CONTENT,
            file: "tcp_zero_checksum_offload.pcap",
            made: "the standard exchange, but every TCP segment sent by the backend (the capturing host) has \
                   checksum 0, as checksum offload leaves them in a capture",
            expect: "the standard result; bad checksums mentioned once as info (checksum offload), nothing dropped",
            build: || rewritten_http(zero_tcp_checksum_from_backend, client_a(), backend_http()),
        },
        Scenario {
            section: CONTENT,
            file: "icmp_port_unreachable_quoting_udp.pcap",
            made: "192.0.2.30:53010 → 203.0.113.53:53 DNS query, answered by ICMP type 3 code 3 (port \
                   unreachable) from 203.0.113.53 quoting the whole query; twice, 1 s apart",
            expect: "one UDP flow with no answer; 2 ICMP port-unreachable errors linked to it by the quoted 5-tuple",
            build: icmp_port_unreachable,
        },
        Scenario {
            section: CONTENT,
            file: "icmp_port_unreachable_past_the_kept_errors.pcap",
            made: "192.0.2.31:40514 → 203.0.113.54:514, 12 syslog datagrams 0.1 s apart; the first 9 draw an \
                   ICMP redirect (type 5 code 1) from the router 192.0.2.1, the last 3 a port unreachable \
                   (type 3 code 3) from 203.0.113.54, each quoting the datagram whole",
            expect: "one UDP flow; 9 ICMP errors listed (the first 8, and the first port unreachable: the first \
                     of a new kind), the other 3 counted (icmp_errors_not_kept); return-path.icmp-error is an \
                     error naming both kinds, says in its detail that 3 were not listed; return path broken",
            build: icmp_errors_past_the_cap,
        },
        Scenario {
            section: CONTENT,
            file: "icmpv6_packet_too_big_and_port_unreachable_quoting_udp.pcap",
            made: "[2001:db8:0:192::30]:53020 → [2001:db8:0:203::53]:5000, 1300-byte UDP payload, answered by \
                   ICMPv6 Packet Too Big (type 2, MTU 1280) from router 2001:db8:0:198::1 quoting the first 1232 \
                   bytes; then a small datagram to port 5001 answered by ICMPv6 type 1 code 4 (port unreachable) \
                   from the server quoting it whole",
            expect: "2 UDP flows; one ICMPv6 error linked to each (packet too big, port unreachable)",
            build: icmpv6_errors,
        },
        Scenario {
            section: CONTENT,
            file: "ipv4_fragments_udp.pcap",
            made: "192.0.2.30:53030 → 203.0.113.53:53: two 1200-byte UDP payloads (a DNS query padded with \
                   zeros) each sent as 3 IPv4 fragments of 552/552/104 payload bytes (ids 0x0100, 0x0101); the \
                   second datagram's fragments arrive in reverse order; each gets a small unfragmented answer",
            expect: "one UDP flow with 2 requests and 2 answers after reassembly (or, without reassembly, \
                     first fragments decoded and later fragments counted, never a crash)",
            build: ipv4_fragments,
        },
        Scenario {
            section: CONTENT,
            file: "ipv6_ext_headers_hop_by_hop_dest_opts_http.pcap",
            made: "the standard exchange over IPv6 [2001:db8:0:192::10]:51001 → [2001:db8:0:203::10]:80 with a \
                   hop-by-hop header and a destination options header (PadN only, 8 bytes each) between IPv6 and TCP",
            expect: "one IPv6 TCP flow, 9 packets, as if the extension headers were absent",
            build: || {
                rewritten_http(
                    with_ipv6_extension_headers,
                    ep("2001:db8:0:192::10", 51001),
                    ep("2001:db8:0:203::10", 80),
                )
            },
        },
        Scenario {
            section: CONTENT,
            file: "snaplen64_http_payload_cut.pcap",
            made: "snaplen 64: LB 100.64.0.2:40060 → 203.0.113.10:80 standard exchange; 54 bytes of headers, \
                   so only the first 10 payload bytes of the request (`GET / HTTP`) and response are kept",
            expect: "truncated_packets 2; HTTP GET seen but headers not (XFF unknown, not absent); finding \
                     capture.snaplen-too-small",
            build: || snaplen_cut(64, HTTP_REQUEST),
        },
        Scenario {
            section: CONTENT,
            file: "snaplen80_proxy_v2_cut_after_length.pcap",
            made: "snaplen 80: LB 100.64.0.2:40060 → 203.0.113.10:80 with a PROXY v2 TCP4 header (192.0.2.10:51000 \
                   → 198.51.100.10:80) + HTTP; 26 payload bytes kept: the 16-byte fixed part (length 12) and 10 of \
                   the 12 address bytes",
            expect: "proxy v2, status truncated (never malformed); client IP unknown; finding capture.snaplen-too-small",
            build: || {
                snaplen_cut(
                    80,
                    &cat(&[&proxy_v2_tcp4(client_a(), vip_http()), HTTP_REQUEST]),
                )
            },
        },
        Scenario {
            section: CONTENT,
            file: "snaplen54_no_payload.pcap",
            made: "snaplen 54: the same flow with a PROXY v2 header + HTTP; every frame cut after the TCP header",
            expect: "payload never captured: client_ip and proxy_protocol unknown (never `none`); finding \
                     capture.snaplen-too-small",
            build: || {
                snaplen_cut(
                    54,
                    &cat(&[&proxy_v2_tcp4(client_a(), vip_http()), HTTP_REQUEST]),
                )
            },
        },
        // ---- tunnels
        Scenario {
            section: TUNNELS,
            file: "tunnel_vxlan4789_inner_ether_ipv4_http.pcap",
            made: "outer Ethernet/IPv4 VTEPs 198.51.100.1 ↔ 203.0.113.1, UDP 49160 → 4789, VXLAN VNI 1000, \
                   inner Ethernet + the standard exchange",
            expect: "the inner standard flow (tunnel vxlan, VNI 1000); the outer UDP is not the service",
            build: || tunnel(Tunnel::Vxlan, client_a(), backend_http()),
        },
        Scenario {
            section: TUNNELS,
            file: "tunnel_geneve6081_aws_gwlb_options_inner_ipv4_http.pcap",
            made: "GWLB 198.51.100.200:49161 → appliance 203.0.113.200:6081, GENEVE protocol 0x0800 (inner IPv4, \
                   no Ethernet), options class 0x0108 (AWS): type 1 GWLB endpoint ENI id 0x00000a0b0c0d0e0f, type 2 \
                   attachment id 0x1234, type 3 flow cookie 0x11223344; both directions of the inner standard \
                   exchange go GWLB → appliance",
            expect: "the inner standard flow; GENEVE options decoded as AWS GWLB metadata",
            build: || tunnel(Tunnel::GeneveGwlb, client_a(), backend_http()),
        },
        Scenario {
            section: TUNNELS,
            file: "tunnel_gre_0800_inner_ipv4_http.pcap",
            made: "outer IPv4 198.51.100.1 ↔ 203.0.113.1 protocol 47, GRE without options, protocol 0x0800, \
                   inner standard exchange",
            expect: "the inner standard flow",
            build: || tunnel(Tunnel::Gre, client_a(), backend_http()),
        },
        Scenario {
            section: TUNNELS,
            file: "tunnel_erspan2_gre_88be_inner_ether_http.pcap",
            made: "mirror session: outer IPv4 198.51.100.250 → 203.0.113.250, GRE with sequence numbers, protocol \
                   0x88BE, ERSPAN type II header (version 1, session 7), inner Ethernet + the standard exchange",
            expect: "the inner standard flow (both directions are in the mirror)",
            build: || tunnel(Tunnel::ErspanII, client_a(), backend_http()),
        },
        Scenario {
            section: TUNNELS,
            file: "tunnel_ipip_4in4_lvs_tun_http.pcap",
            made: "LVS-TUN: client 192.0.2.10:51000 → VIP 198.51.100.10:80 standard exchange; client packets \
                   arrive IP-in-IP (protocol 4) from director 198.51.100.2 to backend 203.0.113.10, the backend's \
                   replies leave unencapsulated from the VIP (direct server return)",
            expect: "one flow 192.0.2.10:51000 → 198.51.100.10:80, client IP preserved; replies from the VIP (DSR return path ok)",
            build: || tunnel(Tunnel::IpIpLvsTun, client_a(), vip_http()),
        },
        Scenario {
            section: TUNNELS,
            file: "tunnel_6in4_proto41_http.pcap",
            made: "outer IPv4 198.51.100.1 ↔ 203.0.113.1 protocol 41, inner IPv6 standard exchange \
                   [2001:db8:0:192::10]:51001 → [2001:db8:0:203::10]:80",
            expect: "the inner IPv6 flow",
            build: || {
                tunnel(
                    Tunnel::SixIn4,
                    ep("2001:db8:0:192::10", 51001),
                    ep("2001:db8:0:203::10", 80),
                )
            },
        },
        Scenario {
            section: TUNNELS,
            file: "tunnel_4in6_http.pcap",
            made: "outer IPv6 2001:db8:0:198::1 ↔ 2001:db8:0:203::1 next header 4, inner IPv4 standard exchange",
            expect: "the inner IPv4 standard flow",
            build: || tunnel(Tunnel::FourIn6, client_a(), backend_http()),
        },
        // ---- corrupt
        Scenario {
            section: CORRUPT,
            file: "corrupt/empty_0_bytes.pcap",
            made: "an empty file",
            expect: "exit 2: `empty file, not a pcap or pcapng capture`",
            build: || Ok(Vec::new()),
        },
        Scenario {
            section: CORRUPT,
            file: "corrupt/header_only_no_packets.pcap",
            made: "a valid 24-byte pcap global header (EN10MB, LE, micro) and nothing else",
            expect: "a valid capture with 0 packets: exit 0, no flows (service unknown), not an error",
            build: || {
                Ok(PcapWriter::new(
                    Vec::new(),
                    linktype::EN10MB,
                    DEFAULT_SNAPLEN,
                    TsPrecision::Micro,
                    ByteOrder::Little,
                )?
                .into_inner()?)
            },
        },
        Scenario {
            section: CORRUPT,
            file: "corrupt/text_file_named_pcap.pcap",
            made: "a line of ASCII text with a .pcap name",
            expect: "exit 2: not a pcap or pcapng file (unknown magic 0x73696854, `This`)",
            build: || Ok(b"This is not a capture, only a text file with a .pcap name.\n".to_vec()),
        },
        Scenario {
            section: CORRUPT,
            file: "corrupt/pcap_bad_magic.pcap",
            made: "format_pcap_le_micro_http.pcap with its magic replaced by de ad be ef",
            expect: "exit 2: unknown magic 0xdeadbeef at byte 0",
            build: corrupt_bad_magic,
        },
        Scenario {
            section: CORRUPT,
            file: "corrupt/pcap_version_1_0_unsupported_major.pcap",
            made: "format_pcap_le_micro_http.pcap with version 1.0 instead of 2.4",
            expect: "exit 2: unsupported pcap version 1.0 (only 2.x)",
            build: corrupt_version_1_0,
        },
        Scenario {
            section: CORRUPT,
            file: "corrupt/pcap_last_record_cut_mid_data.pcap",
            made: "format_pcap_le_micro_http.pcap cut 20 bytes into the data of record 9 (as when tcpdump is killed)",
            expect: "8 packets analysed and a warning `file cut inside packet 9`; exit status as for a complete \
                     file (the cut packet is dropped or kept as truncated, never a panic)",
            build: corrupt_last_record_cut_mid_data,
        },
        Scenario {
            section: CORRUPT,
            file: "corrupt/pcap_last_record_header_cut.pcap",
            made: "format_pcap_le_micro_http.pcap cut 8 bytes into the record header of packet 9",
            expect: "8 packets analysed and a warning `file cut inside the header of packet 9`",
            build: corrupt_last_record_header_cut,
        },
        Scenario {
            section: CORRUPT,
            file: "corrupt/pcap_record_caplen_over_snaplen.pcap",
            made: "format_pcap_le_micro_http.pcap with the global snaplen changed to 96, so records 4 and 5 \
                   (request and response, caplen > 96) exceed it",
            expect: "all 9 packets read (caplen is plausible, the data is there) with a warning that caplen exceeds \
                     snaplen at packets 4 and 5",
            build: corrupt_caplen_over_snaplen,
        },
        Scenario {
            section: CORRUPT,
            file: "corrupt/pcap_record_caplen_absurd_0xffffff00.pcap",
            made: "format_pcap_le_micro_http.pcap with the caplen of record 3 set to 0xFFFFFF00",
            expect: "packets 1-2 read, then exit 2 (or a stop with a warning): `packet 3: caplen 4294967040 is \
                     absurd` with its byte offset; no allocation of 4 GiB",
            build: corrupt_absurd_caplen,
        },
        Scenario {
            section: CORRUPT,
            file: "corrupt/pcapng_block_length_not_multiple_of_4.pcapng",
            made: "format_pcapng-style file (EN10MB, the standard exchange); the leading total length of EPB 1 \
                   increased by 1 (not a multiple of 4)",
            expect: "exit 2 or a stop with a warning: bad block length at the offset of EPB 1; no packets after it",
            build: || {
                damaged_epb(0, |bytes, offset, len| {
                    set_u32_le(bytes, offset + 4, len as u32 + 1);
                })
            },
        },
        Scenario {
            section: CORRUPT,
            file: "corrupt/pcapng_block_length_below_12.pcapng",
            made: "the same file with the leading total length of EPB 1 set to 8",
            expect: "exit 2 or a stop with a warning: block length 8 smaller than 12 at the offset of EPB 1",
            build: || damaged_epb(0, |bytes, offset, _| set_u32_le(bytes, offset + 4, 8)),
        },
        Scenario {
            section: CORRUPT,
            file: "corrupt/pcapng_block_lengths_differ.pcapng",
            made: "the same file with the trailing total length of EPB 2 increased by 4 (leading and trailing differ)",
            expect: "packet 1 read, then exit 2 or a stop with a warning: block lengths differ at EPB 2",
            build: || {
                damaged_epb(1, |bytes, offset, len| {
                    set_u32_le(bytes, offset + len - 4, len as u32 + 4);
                })
            },
        },
        Scenario {
            section: CORRUPT,
            file: "corrupt/pcapng_epb_unknown_interface_id.pcapng",
            made: "the same file with the interface id of EPB 3 set to 5 (only interface 0 exists)",
            expect: "packets 1-2 read; packet 3 reported (interface 5 not defined) and skipped or the read stopped; never a panic",
            build: || damaged_epb(2, |bytes, offset, _| set_u32_le(bytes, offset + 8, 5)),
        },
        Scenario {
            section: CORRUPT,
            file: "corrupt/pcapng_cut_mid_block.pcapng",
            made: "the same file cut 30 bytes into its last EPB (packet 9)",
            expect: "8 packets analysed and a warning that the file is cut inside a block",
            build: corrupt_pcapng_cut_mid_block,
        },
    ]
}
