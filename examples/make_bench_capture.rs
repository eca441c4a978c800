//! Large, deterministic captures for lbcheck's benchmark (issue 9, `scripts/bench.sh`).
//!
//! ```text
//! cargo run --release --example make_bench_capture -- \
//!     --size 100M --format pcap|pcapng --seed 1 --out FILE [--kind mixed|synflood] \
//!     [--flows N: per kind, see USAGE] [--live 4000]
//! ```
//!
//! The output is a function of the arguments only (own PRNG, fixed seed, no clock, no hash maps)
//! and is written as it is generated: nothing but the live flows is held in memory.
//!
//! **mixed** (default) is a capture taken on a backend behind a load balancer, Ethernet link
//! type, microsecond timestamps, one packet every 1..39 µs (20 µs on average). `--live` TCP/UDP
//! flows (default 4000) are open at any time and their packets are interleaved at random; a flow
//! that ends is replaced by a new one. Flow kinds (share of flows):
//!
//! | share | kind | from → backend |
//! |---|---|---|
//! | 24 % | PROXY v2 PROXY TCP4 + TLVs (ALPN, AUTHORITY, CRC32C valid, UNIQUE_ID, SSL with VERSION/CIPHER/CN sub-TLVs), then HTTP | LB 100.64.0.0/10 → 203.0.113.10-13:80 |
//! | 14 % | PROXY v1 (TCP4, one in five TCP6) then HTTP | LB → :8081 |
//! | 22 % | plain HTTP with X-Forwarded-For (one in ten with two XFF headers, the first forged) | LB → :8080 |
//! | 14 % | TLS ClientHello with SNI, server flight, application data | clients 192.0.2.0/24, 198.51.100.0/24 → :443 |
//! | 10 % | AWS-NLB-style health check: connect, PROXY v2 LOCAL (CRC32C + NOOP, 100 bytes), close | LB → :80 |
//! |  6 % | IPv6: PROXY v2 PROXY TCP6 + TLVs then HTTP | LB 2001:db8:0:64::/64 → [2001:db8:0:203::10]:80 |
//! |  4 % | IPv6: TLS ClientHello with SNI | clients 2001:db8:0:192::/64 → [2001:db8:0:203::10]:443 |
//! |  6 % | UDP: 1-3 datagrams, each a PROXY v2 UDP4 header + DNS query, and the DNS answers | LB → 203.0.113.53:53 |
//!
//! HTTP connections carry 1-3 requests (one in ten a POST with a body) and responses of
//! 0.2-3 kB (70 %), 3-40 kB (25 %) or 40-400 kB (5 %). Besides, two bulk flows (PROXY v2 then
//! a 2-16 MiB download) are live at any time and get one packet in five, so bulk MSS-sized
//! segments (1448 bytes of payload, 1514-byte frames) are a large share of the bytes. Every TCP
//! segment carries the timestamp option (SYNs: MSS, SACK-permitted, timestamps, window scale);
//! data is ACKed every second segment; 1 % of data segments are sent out of order (two
//! segments swapped) and 1.5 % are retransmitted; 2 % of connections end with a client RST
//! instead of FINs. The capture stops at the first packet that brings the file to `--size`,
//! in the middle of the flows live at that moment, as a capture stopped by size would. The size
//! is counted as the pcap file would weigh, so `--format pcap` and `--format pcapng` with the
//! same seed and size hold exactly the same packets (the pcapng file is a few % larger).
//!
//! **synflood** is `--flows` one-packet flows: a SYN (74-byte frame) from a distinct
//! address:port of 198.18.0.0/15 (RFC 2544 benchmarking range) to the VIP 198.51.100.10:80,
//! 1 µs apart. `--size` does not apply.
//!
//! **quic** is `--flows` UDP flows from such addresses to 198.51.100.10:443, all open at once:
//! in each of 8 rounds every flow sends a 1,200-byte datagram (a QUIC long header, then filler)
//! and gets one back, flows 10 µs apart. `--size` does not apply; 20,000 flows make 400 MB.
//!
//! MAC addresses follow testdata's convention (`02:00:` + the last four bytes of the IP).

use std::collections::VecDeque;
use std::fs::File;
use std::io::BufWriter;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use etherparse::{IpHeaders, PacketBuilder, PacketBuilderStep};
use lbcheck::source::writer::{ByteOrder, PcapWriter, PcapngWriter, TsPrecision};

// ---------------------------------------------------------------------------------------------
// Arguments
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Pcap,
    Pcapng,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Mixed,
    Synflood,
    /// One scanner: a SYN to each port of a few addresses, each answered by a RST. One client
    /// of `flows` flows, and a service per port: the shape that made the checks quadratic.
    Scan,
    /// A server's SYN-ACKs to `flows` spoofed sources (the backscatter of a flood elsewhere):
    /// SYN-ACKs that answer no SYN in the capture.
    Backscatter,
    /// A balancer's capture of `flows` proxied connections, both legs: client to VIP, then
    /// balancer to backend with X-Forwarded-For naming the client (a path each).
    Legs,
    /// `flows` QUIC-like UDP flows to :443, all open at once: 8 rounds in which every flow
    /// sends a 1,200-byte datagram each way (HTTP/3 behind a balancer that keeps UDP flows).
    Quic,
}

/// What to write (tests/threads.rs builds one too: this file is also its module).
pub struct Args {
    pub size: u64,
    pub format: Format,
    pub seed: u64,
    pub out: PathBuf,
    pub kind: Kind,
    pub flows: u64,
    pub live: usize,
    /// Multiplies the time between packets (default 1: 1-39 µs), so that a small file spans
    /// more capture time (closed flows linger 2 s before they are handed out).
    pub gap_scale: u64,
}

const USAGE: &str = "usage: make_bench_capture --out FILE [--size 100M] [--format pcap|pcapng] \
[--seed 1] [--kind mixed|synflood|scan|backscatter|legs|quic] [--flows N (synflood 10000000, scan 60000, \
backscatter 30000, legs and quic 20000)] [--live 4000] [--gap-scale 1]";

/// `100M`, `1G`, `512K`, `12345`: binary multiples (MiB, GiB).
fn parse_size(text: &str) -> Result<u64> {
    let text = text.trim();
    let (digits, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((at, _)) => text.split_at(at),
        None => (text, ""),
    };
    let value: u64 = digits.parse().with_context(|| format!("size {text:?}"))?;
    let multiplier = match unit
        .to_ascii_uppercase()
        .trim_end_matches("IB")
        .trim_end_matches('B')
    {
        "" => 1,
        "K" => 1 << 10,
        "M" => 1 << 20,
        "G" => 1 << 30,
        "T" => 1 << 40,
        _ => bail!("size {text:?}: unit must be K, M, G or T"),
    };
    Ok(value * multiplier)
}

fn parse_args() -> Result<Args> {
    let mut args = Args {
        size: 100 << 20,
        format: Format::Pcap,
        seed: 1,
        out: PathBuf::new(),
        kind: Kind::Mixed,
        flows: 0,
        live: 4000,
        gap_scale: 1,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "-h" || flag == "--help" {
            println!("{USAGE}");
            std::process::exit(0);
        }
        let value = it
            .next()
            .with_context(|| format!("{flag} needs a value\n{USAGE}"))?;
        match flag.as_str() {
            "--size" => args.size = parse_size(&value)?,
            "--format" => {
                args.format = match value.as_str() {
                    "pcap" => Format::Pcap,
                    "pcapng" => Format::Pcapng,
                    _ => bail!("--format must be pcap or pcapng"),
                }
            }
            "--seed" => args.seed = value.parse().context("--seed")?,
            "--out" => args.out = PathBuf::from(value),
            "--kind" => {
                args.kind = match value.as_str() {
                    "mixed" => Kind::Mixed,
                    "synflood" => Kind::Synflood,
                    "scan" => Kind::Scan,
                    "backscatter" => Kind::Backscatter,
                    "legs" => Kind::Legs,
                    "quic" => Kind::Quic,
                    _ => bail!("--kind must be mixed, synflood, scan, backscatter, legs or quic"),
                }
            }
            "--flows" => args.flows = parse_size(&value)?,
            "--live" => args.live = value.parse().context("--live")?,
            "--gap-scale" => args.gap_scale = value.parse().context("--gap-scale")?,
            _ => bail!("unknown argument {flag}\n{USAGE}"),
        }
    }
    if args.out.as_os_str().is_empty() {
        bail!("--out FILE is required\n{USAGE}");
    }
    if args.live == 0 {
        bail!("--live must be at least 1");
    }
    if args.flows == 0 {
        // The default of each kind: what the benchmark uses. (One default for all was the SYN
        // flood's 10 M, and `--kind legs` without `--flows` wrote 50 GB.)
        args.flows = match args.kind {
            Kind::Mixed | Kind::Synflood => 10_000_000,
            Kind::Scan => 60_000,
            Kind::Backscatter => 30_000,
            Kind::Legs | Kind::Quic => 20_000,
        };
    }
    Ok(args)
}

// ---------------------------------------------------------------------------------------------
// PRNG: splitmix64, so the output depends on the seed only
// ---------------------------------------------------------------------------------------------

struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        let mut rng = Self(seed ^ 0x6c62_6368_6563_6b21);
        rng.next();
        rng
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `per_mille / 1000`.
    fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

// ---------------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------------

const SNAPLEN: u32 = 262_144;
const LINKTYPE_EN10MB: u32 = 1;
/// 2026-01-01T00:00:00Z in nanoseconds.
const FIRST_TS: u64 = 1_767_225_600_000_000_000;

enum Sink {
    Pcap(PcapWriter<BufWriter<File>>),
    Pcapng(PcapngWriter<BufWriter<File>>),
}

struct Output {
    sink: Sink,
    bytes: u64,
    /// What the file would weigh as pcap: `--size` is counted in these, so the pcap and the
    /// pcapng file of one seed and size hold exactly the same packets.
    pcap_bytes: u64,
    packets: u64,
}

impl Output {
    fn create(path: &PathBuf, format: Format) -> Result<Self> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        let file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
        let buffered = BufWriter::with_capacity(1 << 20, file);
        let (sink, bytes) = match format {
            Format::Pcap => (
                Sink::Pcap(PcapWriter::new(
                    buffered,
                    LINKTYPE_EN10MB,
                    SNAPLEN,
                    TsPrecision::Micro,
                    ByteOrder::Little,
                )?),
                24,
            ),
            Format::Pcapng => {
                let mut writer = PcapngWriter::new(buffered, ByteOrder::Little)?;
                writer.add_interface(LINKTYPE_EN10MB as u16, SNAPLEN, Some("eth0"), 6)?;
                // SHB 44 bytes, IDB 40 bytes (if_name "eth0", if_tsresol)
                (Sink::Pcapng(writer), 84)
            }
        };
        Ok(Self {
            sink,
            bytes,
            pcap_bytes: 24,
            packets: 0,
        })
    }

    fn write(&mut self, ts_ns: u64, frame: &[u8]) -> Result<()> {
        let len = frame.len() as u32;
        match &mut self.sink {
            Sink::Pcap(w) => {
                w.write_packet(ts_ns, frame, len)?;
                self.bytes += 16 + frame.len() as u64;
            }
            Sink::Pcapng(w) => {
                w.write_epb(0, ts_ns / 1000, frame, len)?;
                self.bytes += 32 + frame.len().next_multiple_of(4) as u64;
            }
        }
        self.pcap_bytes += 16 + frame.len() as u64;
        self.packets += 1;
        Ok(())
    }

    fn finish(self) -> Result<()> {
        match self.sink {
            Sink::Pcap(w) => drop(w.into_inner()?),
            Sink::Pcapng(w) => drop(w.into_inner()?),
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Packets
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
struct Endpoint {
    ip: IpAddr,
    port: u16,
}

fn ep(ip: impl Into<IpAddr>, port: u16) -> Endpoint {
    Endpoint {
        ip: ip.into(),
        port,
    }
}

fn mac_of(ip: IpAddr) -> [u8; 6] {
    let tail = match ip {
        IpAddr::V4(a) => a.octets(),
        IpAddr::V6(a) => {
            let o = a.octets();
            [o[12], o[13], o[14], o[15]]
        }
    };
    [0x02, 0x00, tail[0], tail[1], tail[2], tail[3]]
}

/// Ethernet header, then an IP builder for the rest.
fn frame_start(src: IpAddr, dst: IpAddr, out: &mut Vec<u8>) -> PacketBuilderStep<IpHeaders> {
    out.extend_from_slice(&mac_of(dst));
    out.extend_from_slice(&mac_of(src));
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            out.extend_from_slice(&0x0800u16.to_be_bytes());
            PacketBuilder::ipv4(s.octets(), d.octets(), 64)
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            out.extend_from_slice(&0x86ddu16.to_be_bytes());
            PacketBuilder::ipv6(s.octets(), d.octets(), 64)
        }
        _ => panic!("{src} and {dst} are of different families"),
    }
}

fn udp_frame(src: Endpoint, dst: Endpoint, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(14 + 48 + payload.len());
    frame_start(src.ip, dst.ip, &mut out)
        .udp(src.port, dst.port)
        .write(&mut out, payload)
        .expect("in-memory write");
    out
}

const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const RST: u8 = 0x04;
const PSH: u8 = 0x08;
const ACK: u8 = 0x10;
/// Payload of a full-sized segment: 1500-byte MTU, 20 IP, 20 TCP, 12 timestamp option.
const MSS: u64 = 1448;

#[allow(clippy::too_many_arguments)]
fn tcp_frame(
    src: Endpoint,
    dst: Endpoint,
    seq: u32,
    ack: u32,
    flags: u8,
    window: u16,
    options: &[u8],
    payload: &[u8],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(14 + 60 + options.len() + payload.len());
    let mut b = frame_start(src.ip, dst.ip, &mut out).tcp(src.port, dst.port, seq, window);
    if flags & FIN != 0 {
        b = b.fin();
    }
    if flags & SYN != 0 {
        b = b.syn();
    }
    if flags & RST != 0 {
        b = b.rst();
    }
    if flags & PSH != 0 {
        b = b.psh();
    }
    if flags & ACK != 0 {
        b = b.ack(ack);
    }
    if !options.is_empty() {
        b = b.options_raw(options).expect("options fit");
    }
    b.write(&mut out, payload).expect("in-memory write");
    out
}

/// NOP NOP TS: the option block of every non-SYN segment.
fn ts_option(tsval: u32, tsecr: u32) -> [u8; 12] {
    let mut o = [1, 1, 8, 10, 0, 0, 0, 0, 0, 0, 0, 0];
    o[4..8].copy_from_slice(&tsval.to_be_bytes());
    o[8..12].copy_from_slice(&tsecr.to_be_bytes());
    o
}

/// MSS 1460, SACK permitted, TS, NOP, window scale 7: what Linux sends in a SYN.
fn syn_options(tsval: u32, tsecr: u32) -> [u8; 20] {
    let mut o = [
        2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 0, 0, 0, 0, 0, 1, 3, 3, 7,
    ];
    o[8..12].copy_from_slice(&tsval.to_be_bytes());
    o[12..16].copy_from_slice(&tsecr.to_be_bytes());
    o
}

// ---------------------------------------------------------------------------------------------
// Payloads
// ---------------------------------------------------------------------------------------------

const PP2_SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";
const PP2_CMD_LOCAL: u8 = 0x20;
const PP2_CMD_PROXY: u8 = 0x21;
const PP2_FAM_UNSPEC: u8 = 0x00;
const PP2_FAM_TCP4: u8 = 0x11;
const PP2_FAM_UDP4: u8 = 0x12;
const PP2_FAM_TCP6: u8 = 0x21;
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

/// Source address, destination address, source port, destination port.
fn address_block(src: Endpoint, dst: Endpoint) -> Vec<u8> {
    let mut out = Vec::with_capacity(36);
    match (src.ip, dst.ip) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            out.extend_from_slice(&s.octets());
            out.extend_from_slice(&d.octets());
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            out.extend_from_slice(&s.octets());
            out.extend_from_slice(&d.octets());
        }
        _ => panic!("mixed families in a PROXY v2 address block"),
    }
    out.extend_from_slice(&src.port.to_be_bytes());
    out.extend_from_slice(&dst.port.to_be_bytes());
    out
}

/// A PROXY v2 header; a CRC32C TLV among `tlvs` (value zero) gets the header's checksum.
fn proxy_v2(command: u8, family: u8, addresses: &[u8], tlvs: &[Vec<u8>]) -> Vec<u8> {
    let body_len = addresses.len() + tlvs.iter().map(Vec::len).sum::<usize>();
    let mut header = Vec::with_capacity(16 + body_len);
    header.extend_from_slice(&PP2_SIGNATURE);
    header.extend_from_slice(&[command, family]);
    header.extend_from_slice(&(body_len as u16).to_be_bytes());
    header.extend_from_slice(addresses);
    let mut crc_at = None;
    for t in tlvs {
        if t[0] == PP2_TYPE_CRC32C {
            crc_at = Some(header.len() + 3);
        }
        header.extend_from_slice(t);
    }
    if let Some(at) = crc_at {
        let crc = crc32c::crc32c(&header);
        header[at..at + 4].copy_from_slice(&crc.to_be_bytes());
    }
    header
}

const HOSTS: &[&str] = &[
    "www.example.com",
    "api.example.com",
    "static.example.net",
    "shop.example.org",
    "login.example.com",
    "cdn.example.net",
];
const USER_AGENTS: &[&str] = &[
    "curl/8.5.0",
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "okhttp/4.12.0",
    "Go-http-client/1.1",
];
const PATHS: &[&str] = &[
    "/",
    "/index.html",
    "/api/v1/items",
    "/api/v1/orders",
    "/static/app.js",
    "/static/style.css",
    "/images/logo.png",
    "/healthz",
];
const CIPHERS: &[&str] = &[
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "ECDHE-RSA-AES128-GCM-SHA256",
];

fn ip_text(ip: IpAddr) -> String {
    ip.to_string()
}

/// Request head (request line and headers, ending with the blank line) and body length.
fn http_request(rng: &mut Rng, host: &str, extra: &str) -> (Vec<u8>, u64) {
    let path = rng.pick(PATHS);
    let ua = rng.pick(USER_AGENTS);
    let id = rng.below(1_000_000);
    if rng.chance(100) {
        let body = rng.range(200, 20_000);
        let head = format!(
            "POST {path}?id={id} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {ua}\r\nAccept: */*\r\n\
             Content-Type: application/json\r\nContent-Length: {body}\r\n{extra}\r\n"
        );
        (head.into_bytes(), body)
    } else {
        let head = format!(
            "GET {path}?id={id} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {ua}\r\nAccept: */*\r\n\
             Accept-Encoding: gzip, deflate, br\r\n{extra}\r\n"
        );
        (head.into_bytes(), 0)
    }
}

fn response_size(rng: &mut Rng) -> u64 {
    match rng.below(100) {
        0..70 => rng.range(200, 3_000),
        70..95 => rng.range(3_000, 40_000),
        _ => rng.range(40_000, 400_000),
    }
}

fn http_response(body: u64) -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\nServer: nginx/1.26.2\r\nContent-Type: application/octet-stream\r\n\
         Content-Length: {body}\r\nConnection: keep-alive\r\n\r\n"
    )
    .into_bytes()
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

fn dns_query(id: u16, name: &str) -> Vec<u8> {
    let mut out = id.to_be_bytes().to_vec();
    out.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    out.extend_from_slice(&dns_name(name));
    out.extend_from_slice(&[0, 1, 0, 1]);
    out
}

fn dns_answer(id: u16, name: &str, answer: [u8; 4]) -> Vec<u8> {
    let mut out = id.to_be_bytes().to_vec();
    out.extend_from_slice(&[0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]);
    out.extend_from_slice(&dns_name(name));
    out.extend_from_slice(&[0, 1, 0, 1]);
    out.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0x01, 0x2c, 0, 4]);
    out.extend_from_slice(&answer);
    out
}

fn with_len16(body: &[u8]) -> Vec<u8> {
    let mut out = (body.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(body);
    out
}

/// A TLS 1.3 ClientHello with SNI `server_name`, ALPN h2 and http/1.1.
fn tls_client_hello(rng: &mut Rng, server_name: &str) -> Vec<u8> {
    fn extension(kind: u16, body: &[u8]) -> Vec<u8> {
        [&kind.to_be_bytes()[..], &with_len16(body)].concat()
    }
    let name_entry = [&[0u8][..], &with_len16(server_name.as_bytes())].concat();
    let extensions = [
        extension(0x0000, &with_len16(&name_entry)),
        extension(0x000a, &with_len16(&[0x00, 0x1d, 0x00, 0x17])),
        extension(0x0010, &with_len16(b"\x02h2\x08http/1.1")),
        extension(0x002b, &[0x04, 0x03, 0x04, 0x03, 0x03]),
        extension(
            0x0033,
            &with_len16(&[&[0x00, 0x1d, 0x00, 0x20][..], &[0x5a; 32]].concat()),
        ),
    ]
    .concat();
    let random: Vec<u8> = (0..4).flat_map(|_| rng.next().to_be_bytes()).collect();
    let hello = [
        &[0x03, 0x03][..],
        &random,
        &[32],
        &random,
        &with_len16(&[0x13, 0x01, 0x13, 0x02, 0xc0, 0x2f]),
        &[1, 0],
        &with_len16(&extensions),
    ]
    .concat();
    let handshake = [
        &[0x01][..],
        &(hello.len() as u32).to_be_bytes()[1..],
        &hello,
    ]
    .concat();
    [&[0x16, 0x03, 0x01][..], &with_len16(&handshake)].concat()
}

/// A TLS record header for `len` bytes of `content_type` (the record body is filler).
fn tls_record_head(content_type: u8, len: u64) -> Vec<u8> {
    let len = len.min(16_384) as u16;
    let mut out = vec![content_type, 0x03, 0x03];
    out.extend_from_slice(&len.to_be_bytes());
    out
}

// ---------------------------------------------------------------------------------------------
// Flows
// ---------------------------------------------------------------------------------------------

/// What a flow does next.
enum Step {
    /// A segment without payload.
    Ctl { from_client: bool, flags: u8 },
    /// A message of `head` followed by `body` filler bytes, cut into MSS-sized segments, ACKed
    /// every second segment.
    Send {
        from_client: bool,
        head: Vec<u8>,
        body: u64,
    },
    /// One UDP datagram.
    Udp { from_client: bool, payload: Vec<u8> },
}

struct Flow {
    client: Endpoint,
    server: Endpoint,
    client_next: u32,
    server_next: u32,
    ts_offset: u32,
    steps: VecDeque<Step>,
    /// Frames built ahead (the peer's ACK, a retransmission, a reordered pair).
    pending: VecDeque<Vec<u8>>,
    /// Bytes of the current `Send` already sent.
    sent: u64,
    unacked: u32,
    filler_at: usize,
}

/// Shared state of the generator.
struct Ctx {
    rng: Rng,
    filler: Vec<u8>,
    clock: u64,
    flows_started: u64,
    gap_scale: u64,
}

impl Ctx {
    fn tsval(&self, offset: u32) -> u32 {
        ((self.clock / 1_000_000) as u32).wrapping_add(offset)
    }
}

impl Flow {
    fn new(ctx: &mut Ctx, client: Endpoint, server: Endpoint) -> Self {
        Self {
            client,
            server,
            client_next: ctx.rng.next() as u32,
            server_next: ctx.rng.next() as u32,
            ts_offset: ctx.rng.next() as u32,
            steps: VecDeque::new(),
            pending: VecDeque::new(),
            sent: 0,
            unacked: 0,
            filler_at: ctx.rng.below(ctx.filler.len() as u64) as usize,
        }
    }

    fn ctl(&mut self, from_client: bool, flags: u8) {
        self.steps.push_back(Step::Ctl { from_client, flags });
    }

    fn send(&mut self, from_client: bool, head: Vec<u8>, body: u64) {
        self.steps.push_back(Step::Send {
            from_client,
            head,
            body,
        });
    }

    fn handshake(&mut self) {
        self.ctl(true, SYN);
        self.ctl(false, SYN | ACK);
        self.ctl(true, ACK);
    }

    fn close(&mut self, rng: &mut Rng) {
        if rng.chance(20) {
            self.ctl(true, RST | ACK);
        } else if rng.chance(500) {
            self.ctl(true, FIN | ACK);
            self.ctl(false, FIN | ACK);
            self.ctl(true, ACK);
        } else {
            self.ctl(false, FIN | ACK);
            self.ctl(true, FIN | ACK);
            self.ctl(false, ACK);
        }
    }

    /// A segment with an explicit sequence number; ACKs what the peer sent so far.
    fn segment(
        &self,
        ctx: &Ctx,
        from_client: bool,
        seq: u32,
        flags: u8,
        payload: &[u8],
    ) -> Vec<u8> {
        let tsval = ctx.tsval(self.ts_offset);
        let (src, dst, ack, window) = if from_client {
            (self.client, self.server, self.server_next, 502)
        } else {
            (self.server, self.client, self.client_next, 509)
        };
        if flags & SYN != 0 {
            let window = if from_client { 64240 } else { 65160 };
            let tsecr = if from_client {
                0
            } else {
                tsval.wrapping_sub(1)
            };
            tcp_frame(
                src,
                dst,
                seq,
                ack,
                flags,
                window,
                &syn_options(tsval, tsecr),
                payload,
            )
        } else {
            let options = ts_option(tsval, tsval.wrapping_sub(1));
            tcp_frame(src, dst, seq, ack, flags, window, &options, payload)
        }
    }

    fn next_seq(&mut self, from_client: bool) -> &mut u32 {
        if from_client {
            &mut self.client_next
        } else {
            &mut self.server_next
        }
    }

    /// The next frame of the flow, `None` when it has ended.
    fn next_frame(&mut self, ctx: &mut Ctx) -> Option<Vec<u8>> {
        if let Some(frame) = self.pending.pop_front() {
            return Some(frame);
        }
        match self.steps.pop_front()? {
            Step::Ctl { from_client, flags } => {
                let seq = *self.next_seq(from_client);
                let frame = self.segment(ctx, from_client, seq, flags, &[]);
                if flags & (SYN | FIN) != 0 {
                    *self.next_seq(from_client) = seq.wrapping_add(1);
                }
                Some(frame)
            }
            Step::Udp {
                from_client,
                payload,
            } => Some(if from_client {
                udp_frame(self.client, self.server, &payload)
            } else {
                udp_frame(self.server, self.client, &payload)
            }),
            Step::Send {
                from_client,
                head,
                body,
            } => {
                let total = head.len() as u64 + body;
                let remaining = total - self.sent;
                let count = if remaining > 2 * MSS && ctx.rng.chance(10) {
                    2
                } else {
                    1
                };
                let mut frames = Vec::with_capacity(2);
                for _ in 0..count {
                    let len = (total - self.sent).min(MSS);
                    let payload = self.payload(ctx, &head, self.sent, len);
                    self.sent += len;
                    let flags = if self.sent == total { PSH | ACK } else { ACK };
                    let seq = *self.next_seq(from_client);
                    frames.push(self.segment(ctx, from_client, seq, flags, &payload));
                    *self.next_seq(from_client) = seq.wrapping_add(len as u32);
                }
                let done = self.sent == total;
                if count == 2 {
                    // out of order: the second segment overtakes the first
                    frames.swap(0, 1);
                } else if ctx.rng.chance(15) {
                    // retransmission of the segment
                    frames.push(frames[0].clone());
                }
                let first = frames.remove(0);
                self.pending.extend(frames);
                self.unacked += count;
                if self.unacked >= 2 || done {
                    let seq = *self.next_seq(!from_client);
                    let ack = self.segment(ctx, !from_client, seq, ACK, &[]);
                    self.pending.push_back(ack);
                    self.unacked = 0;
                }
                if done {
                    self.sent = 0;
                } else {
                    self.steps.push_front(Step::Send {
                        from_client,
                        head,
                        body,
                    });
                }
                Some(first)
            }
        }
    }

    fn payload(&self, ctx: &Ctx, head: &[u8], from: u64, len: u64) -> Vec<u8> {
        let mut out = Vec::with_capacity(len as usize);
        let end = from + len;
        let head_len = head.len() as u64;
        if from < head_len {
            out.extend_from_slice(&head[from as usize..end.min(head_len) as usize]);
        }
        let mut at = from.max(head_len);
        while at < end {
            let index = (self.filler_at + (at - head_len) as usize) % ctx.filler.len();
            let take = ((end - at) as usize).min(ctx.filler.len() - index);
            out.extend_from_slice(&ctx.filler[index..index + take]);
            at += take as u64;
        }
        out
    }
}

// ---------------------------------------------------------------------------------------------
// Flow kinds
// ---------------------------------------------------------------------------------------------

const VIP4: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 10);
const VIP6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0x198, 0, 0, 0, 0x10);
const BACKEND6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0x203, 0, 0, 0, 0x10);
const LB_NODES: u64 = 64;

impl Ctx {
    fn next_flow_number(&mut self) -> u64 {
        self.flows_started += 1;
        self.flows_started
    }

    /// A load-balancer source: one of 64 LB addresses in 100.64.0.0/10, ports handed out in
    /// turn, so no two live flows share a 4-tuple.
    fn lb4(&mut self) -> Endpoint {
        let n = self.next_flow_number();
        let node = n % LB_NODES;
        let port = 1024 + ((n / LB_NODES) % 64_000) as u16;
        ep(
            Ipv4Addr::new(100, 64, (node / 16) as u8, 2 + (node % 16) as u8),
            port,
        )
    }

    fn lb6(&mut self) -> Endpoint {
        let n = self.next_flow_number();
        let node = n % LB_NODES;
        let port = 1024 + ((n / LB_NODES) % 64_000) as u16;
        ep(
            Ipv6Addr::new(0x2001, 0xdb8, 0, 0x64, 0, 0, 0, 2 + node as u16),
            port,
        )
    }

    /// A real client: 192.0.2.1-254 or 198.51.100.20-254 (the VIPs are below .20).
    fn client4(&mut self) -> Endpoint {
        let n = self.next_flow_number();
        let hosts = 254 + 235;
        let host = n % hosts;
        let ip = if host < 254 {
            Ipv4Addr::new(192, 0, 2, 1 + host as u8)
        } else {
            Ipv4Addr::new(198, 51, 100, 20 + (host - 254) as u8)
        };
        ep(ip, 32_768 + ((n / hosts) % 28_000) as u16)
    }

    fn client6(&mut self) -> Endpoint {
        let n = self.next_flow_number();
        let r = self.rng.next();
        let ip = Ipv6Addr::new(
            0x2001,
            0xdb8,
            0,
            0x192,
            (r >> 48) as u16,
            (r >> 32) as u16,
            (r >> 16) as u16,
            r as u16,
        );
        ep(ip, 32_768 + (n % 28_000) as u16)
    }

    fn backend4(&mut self, port: u16) -> Endpoint {
        ep(
            Ipv4Addr::new(203, 0, 113, 10 + self.rng.below(4) as u8),
            port,
        )
    }

    fn requests(&mut self) -> u64 {
        match self.rng.below(10) {
            0..6 => 1,
            6..9 => 2,
            _ => 3,
        }
    }

    /// Request/response pairs on a connection; the first request starts with `preface`.
    fn http_exchanges(&mut self, flow: &mut Flow, preface: &[u8], host: &str, extra: &str) {
        for n in 0..self.requests() {
            let (head, body) = http_request(&mut self.rng, host, extra);
            let head = if n == 0 {
                [preface, &head].concat()
            } else {
                head
            };
            flow.send(true, head, body);
            let size = response_size(&mut self.rng);
            flow.send(false, http_response(size), size);
        }
    }

    fn pp2_tlvs(&mut self, host: &str) -> Vec<Vec<u8>> {
        let ssl = [
            &[PP2_CLIENT_SSL | PP2_CLIENT_CERT_CONN | PP2_CLIENT_CERT_SESS][..],
            &0u32.to_be_bytes(),
            &tlv(PP2_SUBTYPE_SSL_VERSION, b"TLSv1.3"),
            &tlv(PP2_SUBTYPE_SSL_CIPHER, self.rng.pick(CIPHERS).as_bytes()),
            &tlv(PP2_SUBTYPE_SSL_CN, b"client.example.com"),
        ]
        .concat();
        let unique = format!("{:016x}{:016x}", self.rng.next(), self.rng.next());
        let alpn: &[u8] = if self.rng.chance(500) {
            b"h2"
        } else {
            b"http/1.1"
        };
        vec![
            tlv(PP2_TYPE_ALPN, alpn),
            tlv(PP2_TYPE_AUTHORITY, host.as_bytes()),
            tlv(PP2_TYPE_CRC32C, &[0; 4]),
            tlv(PP2_TYPE_UNIQUE_ID, unique.as_bytes()),
            tlv(PP2_TYPE_SSL, &ssl),
        ]
    }

    fn proxy_v2_http(&mut self) -> Flow {
        let (lb, backend, client) = (self.lb4(), self.backend4(80), self.client4());
        let host = *self.rng.pick(HOSTS);
        let tlvs = self.pp2_tlvs(host);
        let header = proxy_v2(
            PP2_CMD_PROXY,
            PP2_FAM_TCP4,
            &address_block(client, ep(VIP4, 443)),
            &tlvs,
        );
        let mut flow = Flow::new(self, lb, backend);
        flow.handshake();
        self.http_exchanges(&mut flow, &header, host, "");
        flow.close(&mut self.rng);
        flow
    }

    fn proxy_v2_http6(&mut self) -> Flow {
        let (lb, client) = (self.lb6(), self.client6());
        let host = *self.rng.pick(HOSTS);
        let tlvs = self.pp2_tlvs(host);
        let header = proxy_v2(
            PP2_CMD_PROXY,
            PP2_FAM_TCP6,
            &address_block(client, ep(VIP6, 443)),
            &tlvs,
        );
        let mut flow = Flow::new(self, lb, ep(BACKEND6, 80));
        flow.handshake();
        self.http_exchanges(&mut flow, &header, host, "");
        flow.close(&mut self.rng);
        flow
    }

    fn proxy_v1_http(&mut self) -> Flow {
        let (lb, backend) = (self.lb4(), self.backend4(8081));
        let line = if self.rng.chance(200) {
            let client = self.client6();
            format!(
                "PROXY TCP6 {} {VIP6} {} 80\r\n",
                ip_text(client.ip),
                client.port
            )
        } else {
            let client = self.client4();
            format!(
                "PROXY TCP4 {} {VIP4} {} 80\r\n",
                ip_text(client.ip),
                client.port
            )
        };
        let host = *self.rng.pick(HOSTS);
        let mut flow = Flow::new(self, lb, backend);
        flow.handshake();
        self.http_exchanges(&mut flow, line.as_bytes(), host, "");
        flow.close(&mut self.rng);
        flow
    }

    fn xff_http(&mut self) -> Flow {
        let (lb, backend, client) = (self.lb4(), self.backend4(8080), self.client4());
        let host = *self.rng.pick(HOSTS);
        let extra = if self.rng.chance(100) {
            // the client sent its own (forged) XFF; the LB added a second header
            format!(
                "X-Forwarded-For: 203.0.113.{}\r\nX-Forwarded-For: {}\r\nX-Forwarded-Proto: https\r\n",
                200 + self.rng.below(50),
                ip_text(client.ip)
            )
        } else {
            format!(
                "X-Forwarded-For: {}\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Port: 443\r\n",
                ip_text(client.ip)
            )
        };
        let mut flow = Flow::new(self, lb, backend);
        flow.handshake();
        self.http_exchanges(&mut flow, b"", host, &extra);
        flow.close(&mut self.rng);
        flow
    }

    fn tls(&mut self, v6: bool) -> Flow {
        let (client, server) = if v6 {
            (self.client6(), ep(BACKEND6, 443))
        } else {
            (self.client4(), self.backend4(443))
        };
        let host = *self.rng.pick(HOSTS);
        let hello = tls_client_hello(&mut self.rng, host);
        let mut flow = Flow::new(self, client, server);
        flow.handshake();
        flow.send(true, hello, 0);
        let flight = self.rng.range(2_500, 5_000);
        flow.send(false, tls_record_head(0x16, flight), flight);
        flow.send(true, tls_record_head(0x14, 1), 80);
        for _ in 0..self.requests() {
            let request = self.rng.range(100, 900);
            flow.send(true, tls_record_head(0x17, request), request);
            let response = response_size(&mut self.rng);
            flow.send(false, tls_record_head(0x17, response), response);
        }
        flow.close(&mut self.rng);
        flow
    }

    fn health_check(&mut self) -> Flow {
        let (lb, backend) = (self.lb4(), self.backend4(80));
        let header = proxy_v2(
            PP2_CMD_LOCAL,
            PP2_FAM_UNSPEC,
            &[],
            &[tlv(PP2_TYPE_CRC32C, &[0; 4]), tlv(PP2_TYPE_NOOP, &[0; 74])],
        );
        let mut flow = Flow::new(self, lb, backend);
        flow.handshake();
        flow.send(true, header, 0);
        flow.ctl(true, FIN | ACK);
        flow.ctl(false, FIN | ACK);
        flow.ctl(true, ACK);
        flow
    }

    fn udp(&mut self) -> Flow {
        let (lb, server, client) = (
            self.lb4(),
            ep(Ipv4Addr::new(203, 0, 113, 53), 53),
            self.client4(),
        );
        let header = proxy_v2(
            PP2_CMD_PROXY,
            PP2_FAM_UDP4,
            &address_block(client, ep(Ipv4Addr::new(198, 51, 100, 53), 53)),
            &[],
        );
        let mut flow = Flow::new(self, lb, server);
        for _ in 0..self.rng.range(1, 3) {
            let id = self.rng.next() as u16;
            let name = *self.rng.pick(HOSTS);
            flow.steps.push_back(Step::Udp {
                from_client: true,
                payload: [&header[..], &dns_query(id, name)].concat(),
            });
            let answer = [198, 51, 100, 10 + self.rng.below(4) as u8];
            flow.steps.push_back(Step::Udp {
                from_client: false,
                payload: dns_answer(id, name, answer),
            });
        }
        flow
    }

    fn bulk(&mut self) -> Flow {
        let (lb, backend, client) = (self.lb4(), self.backend4(80), self.client4());
        let host = *self.rng.pick(HOSTS);
        let tlvs = self.pp2_tlvs(host);
        let header = proxy_v2(
            PP2_CMD_PROXY,
            PP2_FAM_TCP4,
            &address_block(client, ep(VIP4, 443)),
            &tlvs,
        );
        let mut flow = Flow::new(self, lb, backend);
        flow.handshake();
        let request = format!(
            "GET /download/archive-{}.tar HTTP/1.1\r\nHost: {host}\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n",
            self.rng.below(1000)
        );
        flow.send(true, [&header[..], request.as_bytes()].concat(), 0);
        let size = self.rng.range(2 << 20, 16 << 20);
        flow.send(false, http_response(size), size);
        flow.close(&mut self.rng);
        flow
    }

    fn regular(&mut self) -> Flow {
        match self.rng.below(100) {
            0..24 => self.proxy_v2_http(),
            24..38 => self.proxy_v1_http(),
            38..60 => self.xff_http(),
            60..74 => self.tls(false),
            74..84 => self.health_check(),
            84..90 => self.proxy_v2_http6(),
            90..94 => self.tls(true),
            _ => self.udp(),
        }
    }

    /// 1..39 µs between packets.
    fn tick(&mut self) {
        self.clock += self.rng.range(1_000, 39_000) * self.gap_scale;
    }
}

// ---------------------------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------------------------

const BULK_LIVE: usize = 2;
/// Per mille of the packets that go to a bulk flow.
const BULK_SHARE: u64 = 200;

fn new_ctx(args: &Args) -> Ctx {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789 ,.{}:\"\n";
    let mut filler_rng = Rng::new(args.seed.wrapping_add(0xf111));
    // printable text: lbcheck sees "HTTP-like" bodies, tshark does not find a protocol in them
    let filler: Vec<u8> = (0..65_536)
        .map(|_| ALPHABET[filler_rng.below(ALPHABET.len() as u64) as usize])
        .collect();
    Ctx {
        rng: Rng::new(args.seed),
        filler,
        clock: FIRST_TS,
        flows_started: 0,
        gap_scale: args.gap_scale.max(1),
    }
}

fn mixed(args: &Args, out: &mut Output) -> Result<u64> {
    let mut ctx = new_ctx(args);
    let mut live: Vec<Flow> = (0..args.live).map(|_| ctx.regular()).collect();
    let mut bulk: Vec<Flow> = (0..BULK_LIVE).map(|_| ctx.bulk()).collect();
    let mut flows = (live.len() + bulk.len()) as u64;
    while out.pcap_bytes < args.size {
        let from_bulk = ctx.rng.chance(BULK_SHARE);
        let pool = if from_bulk { &mut bulk } else { &mut live };
        let index = ctx.rng.below(pool.len() as u64) as usize;
        if let Some(frame) = pool[index].next_frame(&mut ctx) {
            ctx.tick();
            out.write(ctx.clock, &frame)?;
        } else {
            pool.swap_remove(index);
            let flow = if from_bulk { ctx.bulk() } else { ctx.regular() };
            flows += 1;
            if from_bulk { &mut bulk } else { &mut live }.push(flow);
        }
    }
    Ok(flows)
}

/// The `n`th of the distinct sources of a flood, in 198.18.0.0/15: a bijection of `n`, each
/// address once per round, a new port each round.
fn spoofed_source(n: u64) -> Result<Endpoint> {
    const SOURCES: u64 = 1 << 17;
    let host = (n % SOURCES).wrapping_mul(40_503) % SOURCES;
    let round = n / SOURCES;
    if round >= 60_000 {
        bail!("at most {} distinct sources", 60_000 * SOURCES);
    }
    Ok(ep(
        Ipv4Addr::from(0xC612_0000u32 + host as u32),
        1024 + round as u16,
    ))
}

fn synflood(args: &Args, out: &mut Output) -> Result<u64> {
    let mut rng = Rng::new(args.seed);
    let vip = ep(VIP4, 80);
    let mut ts = FIRST_TS;
    for n in 0..args.flows {
        let src = spoofed_source(n)?;
        let isn = rng.next() as u32;
        let tsval = rng.next() as u32;
        let frame = tcp_frame(src, vip, isn, 0, SYN, 64240, &syn_options(tsval, 0), &[]);
        out.write(ts, &frame)?;
        ts += 1_000;
    }
    Ok(args.flows)
}

fn scan(args: &Args, out: &mut Output) -> Result<u64> {
    let mut rng = Rng::new(args.seed);
    let scanner = ep(Ipv4Addr::new(192, 0, 2, 66), 50_000);
    let mut ts = FIRST_TS;
    for n in 0..args.flows {
        let host = n / 65_535;
        if host >= 200 {
            bail!("at most {} scanned ports (200 addresses)", 200 * 65_535);
        }
        let target = ep(
            Ipv4Addr::new(198, 51, 100, 10 + host as u8),
            1 + (n % 65_535) as u16,
        );
        let isn = rng.next() as u32;
        let syn = tcp_frame(scanner, target, isn, 0, SYN, 1024, &[], &[]);
        out.write(ts, &syn)?;
        let rst = tcp_frame(
            target,
            scanner,
            0,
            isn.wrapping_add(1),
            RST | ACK,
            0,
            &[],
            &[],
        );
        out.write(ts + 50_000, &rst)?;
        ts += 100_000;
    }
    Ok(args.flows)
}

fn backscatter(args: &Args, out: &mut Output) -> Result<u64> {
    let mut rng = Rng::new(args.seed);
    let server = ep(VIP4, 80);
    let mut ts = FIRST_TS;
    for n in 0..args.flows {
        let client = spoofed_source(n)?;
        let (isn, acked) = (rng.next() as u32, rng.next() as u32);
        let frame = tcp_frame(server, client, isn, acked, SYN | ACK, 65160, &[], &[]);
        out.write(ts, &frame)?;
        ts += 1_000;
    }
    Ok(args.flows)
}

fn legs(args: &Args, out: &mut Output) -> Result<u64> {
    let mut ctx = new_ctx(args);
    for _ in 0..args.flows {
        let client = ctx.client4();
        let host = *ctx.rng.pick(HOSTS);
        let mut front = Flow::new(&mut ctx, client, ep(VIP4, 80));
        front.handshake();
        ctx.http_exchanges(&mut front, b"", host, "");
        front.close(&mut ctx.rng);
        let (lb, backend) = (ctx.lb4(), ctx.backend4(8080));
        let mut back = Flow::new(&mut ctx, lb, backend);
        back.handshake();
        let xff = format!("X-Forwarded-For: {}\r\n", ip_text(client.ip));
        ctx.http_exchanges(&mut back, b"", host, &xff);
        back.close(&mut ctx.rng);
        for flow in [&mut front, &mut back] {
            while let Some(frame) = flow.next_frame(&mut ctx) {
                ctx.tick();
                out.write(ctx.clock, &frame)?;
            }
        }
    }
    Ok(args.flows * 2)
}

/// Datagrams each way per QUIC-like flow: as many as lbcheck keeps of a UDP flow.
const QUIC_ROUNDS: u64 = 8;

fn quic(args: &Args, out: &mut Output) -> Result<u64> {
    let server = ep(VIP4, 443);
    // A long-header packet (0xc3, version 1), then filler: the size of a QUIC Initial.
    let mut payload = vec![b'Q'; 1200];
    payload[..5].copy_from_slice(&[0xc3, 0, 0, 0, 1]);
    let mut ts = FIRST_TS;
    for _ in 0..QUIC_ROUNDS {
        for n in 0..args.flows {
            let client = spoofed_source(n)?;
            out.write(ts, &udp_frame(client, server, &payload))?;
            out.write(ts + 5_000, &udp_frame(server, client, &payload))?;
            ts += 10_000;
        }
    }
    Ok(args.flows)
}

/// Writes the capture `args` describes; returns its bytes, packets and flows.
pub fn generate(args: &Args) -> Result<(u64, u64, u64)> {
    let mut out = Output::create(&args.out, args.format)?;
    let flows = match args.kind {
        Kind::Mixed => mixed(args, &mut out)?,
        Kind::Synflood => synflood(args, &mut out)?,
        Kind::Scan => scan(args, &mut out)?,
        Kind::Backscatter => backscatter(args, &mut out)?,
        Kind::Legs => legs(args, &mut out)?,
        Kind::Quic => quic(args, &mut out)?,
    };
    let (bytes, packets) = (out.bytes, out.packets);
    out.finish()?;
    Ok((bytes, packets, flows))
}

#[allow(dead_code)] // unused where tests/threads.rs includes this file as a module
fn main() -> Result<()> {
    let args = parse_args()?;
    let started = Instant::now();
    let (bytes, packets, flows) = generate(&args)?;
    eprintln!(
        "{}: {bytes} bytes, {packets} packets, {flows} flows, {:.1} s",
        args.out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
