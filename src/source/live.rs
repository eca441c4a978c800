//! Live capture on Linux with an AF_PACKET socket, no libpcap.
//!
//! One interface: a SOCK_RAW socket bound to it delivers Ethernet frames (`EN10MB`), with the
//! VLAN tag the driver stripped put back, as libpcap does. `-i any`, and interfaces without an
//! Ethernet header: a SOCK_DGRAM socket, and a `LINUX_SLL2` header built from the `sockaddr_ll`
//! of each packet (protocol, interface index, ARPHRD type, packet type, link address), as
//! `tcpdump -i any` writes. A kernel-side classic BPF filter ([`bpf`]) keeps only the service's
//! packets; the kernel's drop counter is read with `PACKET_STATISTICS`.
//!
//! Packets come from a TPACKET_V3 ring ([`ring`] reads its blocks): one wake-up per block, not
//! one system call per packet. Where the kernel refuses a ring (or with `LBCHECK_LIVE_RECVMSG=1`,
//! for comparison) one recvmsg(2) per packet, with `PACKET_AUXDATA` for the original length and
//! the VLAN tag. With the `libpcap` feature, `--filter EXPR` goes through libpcap instead.
//!
//! The syscalls live in [`sys`], the only module with `unsafe`.

pub mod bpf;
#[cfg(feature = "libpcap")]
mod libpcap;
mod ring;
mod sys;

use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::time::Duration;

pub use bpf::FilterSpec;
pub use sys::{IfAddr, NetlinkSocket, interface_addresses};

use super::{InterfaceInfo, LinkType, RawPacket, TsPrecision};

/// `ARPHRD_*` types (linux/if_arp.h) whose frames start with an Ethernet header.
const ARPHRD_ETHER: u16 = 1;
const ARPHRD_LOOPBACK: u16 = 772;
/// `PACKET_OUTGOING`: on loopback each packet is seen leaving and arriving; keep one.
const PACKET_OUTGOING: u8 = 4;
const SLL2_HEADER_LEN: usize = 20;
const VLAN_TAG_LEN: usize = 4;
const ETHERTYPE_VLAN: u16 = 0x8100;
/// MAC addresses before the ethertype in an Ethernet header.
const ETHERNET_ADDRS_LEN: usize = 12;
/// Socket receive buffer asked for: bursts of a few thousand packets fit without drops.
const RCVBUF_BYTES: i32 = 8 << 20;
/// How long one receive waits before the loop checks its stop conditions.
pub const POLL_INTERVAL: Duration = Duration::from_millis(100);
/// The TPACKET_V3 ring: blocks of 1 MiB (a 256 KiB packet fits), 8 of them (the same 8 MiB as
/// the socket buffer of the plain path), handed over when full or after 20 ms.
const RING_BLOCK_SIZE: u32 = 1 << 20;
const RING_BLOCKS: u32 = 8;
const RING_RETIRE_MS: u32 = 20;
/// Set to 1 to receive with one recvmsg(2) per packet instead of the ring (for comparison).
pub const RECVMSG_ENV: &str = "LBCHECK_LIVE_RECVMSG";
/// Where interfaces are listed.
const SYS_CLASS_NET: &str = "/sys/class/net";

/// Why live capture cannot start or go on.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error(
        "live capture needs CAP_NET_RAW: run as root or `setcap cap_net_raw+ep $(command -v lbcheck)`"
    )]
    NoPrivilege,
    #[error("no interface named {name:?}; available: {}", available.join(", "))]
    UnknownInterface {
        name: String,
        available: Vec<String>,
    },
    #[error(transparent)]
    Filter(#[from] bpf::TooLong),
    #[error("--filter {expression:?}: {why}")]
    BadFilter { expression: String, why: String },
    #[error(
        "--filter needs lbcheck built with `--features libpcap`; without it, --port and --proto build the kernel filter"
    )]
    FilterNeedsLibpcap,
    #[error("{iface}: {what}: {source}")]
    Io {
        iface: String,
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
}

/// Counters the kernel keeps for the socket.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KernelStats {
    /// Packets that passed the filter (received or dropped).
    pub received: u64,
    /// Packets that passed the filter but found the socket buffer full.
    pub dropped: u64,
}

/// An open live capture.
pub struct LiveCapture {
    /// Declared before `fd`: the mapping goes before the socket closes.
    ring: Option<RingReader>,
    fd: OwnedFd,
    iface: String,
    cooked: bool,
    link_type: LinkType,
    snaplen: u32,
    buf: Vec<u8>,
    index: u64,
    stats: KernelStats,
}

/// A live packet source: the AF_PACKET capture, or libpcap with `--filter`.
pub trait LiveSource {
    /// The next packet, or `None` when about [`POLL_INTERVAL`] passed without one.
    fn next_packet(&mut self) -> Result<Option<RawPacket<'_>>, LiveError>;
    /// The kernel's counters so far.
    fn kernel_stats(&mut self) -> KernelStats;
    fn link_type(&self) -> LinkType;
    /// The snaplen to declare in a file written from this capture (room for added headers).
    fn file_snaplen(&self) -> u32;
    fn interface_info(&self) -> InterfaceInfo;
    /// A name for the report's `input.path`.
    fn source_path(&self) -> PathBuf;
}

/// Opens the capture: libpcap when a `--filter` expression is given (feature `libpcap`), else
/// AF_PACKET with the filter built from `spec`.
pub fn open_source(
    iface: &str,
    spec: &FilterSpec,
    expression: Option<&str>,
    snaplen: u32,
) -> Result<Box<dyn LiveSource>, LiveError> {
    match expression {
        None => Ok(Box::new(LiveCapture::open(iface, spec, snaplen)?)),
        #[cfg(feature = "libpcap")]
        Some(e) => Ok(Box::new(libpcap::PcapCapture::open(iface, e, snaplen)?)),
        #[cfg(not(feature = "libpcap"))]
        Some(_) => Err(LiveError::FilterNeedsLibpcap),
    }
}

/// The interface's index and ARPHRD type; (0, 0) for `any`.
fn check_interface(iface: &str) -> Result<(i64, i64), LiveError> {
    if iface == "any" {
        return Ok((0, 0));
    }
    let Some(ifindex) = sys_net_value(iface, "ifindex") else {
        return Err(LiveError::UnknownInterface {
            name: iface.to_string(),
            available: available_interfaces(),
        });
    };
    Ok((ifindex, sys_net_value(iface, "type").unwrap_or(0)))
}

/// The ring and where reading it has got to.
struct RingReader {
    ring: sys::Ring,
    block: usize,
    /// In the current (user-owned) block: offset of the next packet, packets left.
    cursor: Option<(usize, u32)>,
}

/// Waits up to [`POLL_INTERVAL`] for `fd` to become readable.
#[cfg(feature = "libpcap")]
fn wait_readable(fd: std::os::fd::RawFd) {
    // An error shows again on the next read.
    let _ = sys::poll_readable(fd, POLL_INTERVAL);
}

/// Interface names from /sys/class/net, sorted.
pub fn available_interfaces() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(SYS_CLASS_NET)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn sys_net_value(iface: &str, file: &str) -> Option<i64> {
    // An interface name never contains '/' (the kernel refuses it); check anyway, as it
    // becomes a path.
    if iface.contains('/') || iface == "." || iface == ".." {
        return None;
    }
    std::fs::read_to_string(format!("{SYS_CLASS_NET}/{iface}/{file}"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

impl LiveCapture {
    /// Opens the capture: checks the interface, opens the socket (needs CAP_NET_RAW), attaches
    /// the filter, then binds. Packets are longer than `snaplen` only by the header lbcheck adds
    /// (an SLL2 header, a VLAN tag).
    pub fn open(iface: &str, filter: &FilterSpec, snaplen: u32) -> Result<Self, LiveError> {
        let any = iface == "any";
        let (ifindex, hatype) = check_interface(iface)?;
        let ethernet = !any && matches!(u16::try_from(hatype), Ok(ARPHRD_ETHER | ARPHRD_LOOPBACK));
        let cooked = !ethernet;
        let io = |what| {
            move |source: std::io::Error| LiveError::Io {
                iface: iface.to_string(),
                what,
                source,
            }
        };
        let fd = sys::packet_socket(cooked).map_err(|e| match e.raw_os_error() {
            Some(libc::EPERM | libc::EACCES) => LiveError::NoPrivilege,
            _ => io("cannot open a packet socket")(e),
        })?;
        let framing = if cooked {
            bpf::Framing::Cooked
        } else {
            bpf::Framing::Ethernet
        };
        let prog = bpf::program(filter, framing, snaplen)?;
        sys::attach_filter(&fd, &prog).map_err(io("cannot attach the capture filter"))?;
        // The ring when the kernel gives one (any Linux since 3.2), else one recvmsg(2) per
        // packet with PACKET_AUXDATA.
        let ring = if std::env::var(RECVMSG_ENV).as_deref() == Ok("1") {
            None
        } else {
            sys::Ring::new(&fd, RING_BLOCK_SIZE, RING_BLOCKS, RING_RETIRE_MS).ok()
        };
        if ring.is_none() {
            sys::enable_auxdata_and_timestamps(&fd).map_err(io("cannot enable packet metadata"))?;
            sys::set_recv_timeout(&fd, POLL_INTERVAL)
                .map_err(io("cannot set a receive timeout"))?;
            // SO_RCVBUFFORCE passes the rmem_max cap with CAP_NET_ADMIN; SO_RCVBUF otherwise.
            if sys::set_int(&fd, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, RCVBUF_BYTES).is_err() {
                let _ = sys::set_int(&fd, libc::SOL_SOCKET, libc::SO_RCVBUF, RCVBUF_BYTES);
            }
        }
        sys::bind(&fd, i32::try_from(ifindex).unwrap_or(0)).map_err(|e| {
            if e.raw_os_error() == Some(libc::ENODEV) {
                LiveError::UnknownInterface {
                    name: iface.to_string(),
                    available: available_interfaces(),
                }
            } else {
                io("cannot bind to the interface")(e)
            }
        })?;
        let header_room = if cooked {
            SLL2_HEADER_LEN
        } else {
            VLAN_TAG_LEN
        };
        Ok(Self {
            ring: ring.map(|ring| RingReader {
                ring,
                block: 0,
                cursor: None,
            }),
            fd,
            iface: iface.to_string(),
            cooked,
            link_type: if cooked {
                LinkType::LINUX_SLL2
            } else {
                LinkType::ETHERNET
            },
            snaplen,
            buf: vec![0; snaplen as usize + header_room],
            index: 0,
            stats: KernelStats::default(),
        })
    }
}

impl LiveSource for LiveCapture {
    /// The next packet, or `None` when [`POLL_INTERVAL`] passed without one (or a signal came).
    fn next_packet(&mut self) -> Result<Option<RawPacket<'_>>, LiveError> {
        let head = if self.cooked {
            SLL2_HEADER_LEN
        } else {
            VLAN_TAG_LEN
        };
        let meta = loop {
            let received = match &mut self.ring {
                Some(r) => Ok(r.next(&self.fd, &mut self.buf[head..], self.cooked)),
                None => sys::recv(&self.fd, &mut self.buf[head..]),
            };
            let Some(meta) = received.map_err(|source| LiveError::Io {
                iface: self.iface.clone(),
                what: "receive failed",
                source,
            })?
            else {
                return Ok(None);
            };
            // Loopback shows each packet twice (leaving, then arriving): keep the arrival, as
            // libpcap does.
            if meta.pkttype == PACKET_OUTGOING && meta.hatype == ARPHRD_LOOPBACK {
                continue;
            }
            break meta;
        };
        self.index += 1;
        let ts_nanos = meta.ts_nanos.unwrap_or_else(now_nanos);
        let (start, len, orig_len) = if self.cooked {
            self.buf[..SLL2_HEADER_LEN].copy_from_slice(&sll2_header(&meta));
            let orig = meta.orig_len.saturating_add(SLL2_HEADER_LEN as u32);
            (0, SLL2_HEADER_LEN + meta.caplen, orig)
        } else if meta.status & sys::TP_STATUS_VLAN_VALID != 0 && meta.caplen >= ETHERNET_ADDRS_LEN
        {
            // Put the stripped tag back between the MAC addresses and the ethertype.
            let tpid = if meta.status & sys::TP_STATUS_VLAN_TPID_VALID != 0 {
                meta.vlan_tpid
            } else {
                ETHERTYPE_VLAN
            };
            self.buf
                .copy_within(VLAN_TAG_LEN..VLAN_TAG_LEN + ETHERNET_ADDRS_LEN, 0);
            self.buf[ETHERNET_ADDRS_LEN..ETHERNET_ADDRS_LEN + 2]
                .copy_from_slice(&tpid.to_be_bytes());
            self.buf[ETHERNET_ADDRS_LEN + 2..ETHERNET_ADDRS_LEN + 4]
                .copy_from_slice(&meta.vlan_tci.to_be_bytes());
            let orig = meta.orig_len.saturating_add(VLAN_TAG_LEN as u32);
            (0, VLAN_TAG_LEN + meta.caplen, orig)
        } else {
            (VLAN_TAG_LEN, meta.caplen, meta.orig_len)
        };
        let data = &self.buf[start..start + len];
        Ok(Some(RawPacket {
            index: self.index,
            ts_nanos,
            interface: 0,
            link_type: self.link_type,
            orig_len: orig_len.max(len as u32),
            data,
        }))
    }

    /// The kernel's counters so far (each read adds to the running totals).
    fn kernel_stats(&mut self) -> KernelStats {
        if let Ok((received, dropped)) = sys::packet_stats(&self.fd) {
            self.stats.received += u64::from(received);
            self.stats.dropped += u64::from(dropped);
        }
        self.stats
    }
    fn link_type(&self) -> LinkType {
        self.link_type
    }

    /// The snaplen to declare in a file written from this capture (room for added headers).
    fn file_snaplen(&self) -> u32 {
        self.buf.len() as u32
    }

    fn interface_info(&self) -> InterfaceInfo {
        InterfaceInfo {
            id: 0,
            name: Some(self.iface.clone()),
            link_type: self.link_type,
            snaplen: self.snaplen,
            ts_precision: TsPrecision::Nano,
        }
    }

    /// A name for the report's `input.path`.
    fn source_path(&self) -> PathBuf {
        PathBuf::from(format!("live:{}", self.iface))
    }
}

impl RingReader {
    /// The next packet copied into `buf`, or `None` after [`POLL_INTERVAL`] without one.
    fn next(&mut self, fd: &OwnedFd, buf: &mut [u8], cooked: bool) -> Option<sys::RecvMeta> {
        let mut polled = false;
        loop {
            if let Some((at, left)) = self.cursor {
                if left > 0 {
                    let block = self.ring.block(self.block)?;
                    if let Some((mut meta, data, next)) = ring::packet_at(block, at, cooked) {
                        let n = data.len().min(buf.len());
                        buf[..n].copy_from_slice(&data[..n]);
                        meta.caplen = n;
                        self.cursor = Some((next, left - 1));
                        return Some(meta);
                    }
                }
                // Block done (or a header that does not fit): hand it back, go to the next.
                self.ring.release(self.block);
                self.block = (self.block + 1) % self.ring.blocks();
                self.cursor = None;
            }
            if let Some(block) = self.ring.block(self.block) {
                self.cursor = ring::first_packet(block);
                if self.cursor.is_none() {
                    self.ring.release(self.block);
                    self.block = (self.block + 1) % self.ring.blocks();
                }
                continue;
            }
            if polled {
                return None;
            }
            // An error here shows again on the next wait; the loop goes on either way.
            let _ = sys::poll_readable(std::os::fd::AsRawFd::as_raw_fd(fd), POLL_INTERVAL);
            polled = true;
        }
    }
}

/// The LINUX_SLL2 header `tcpdump -i any` writes, from the packet's `sockaddr_ll`.
fn sll2_header(m: &sys::RecvMeta) -> [u8; SLL2_HEADER_LEN] {
    let mut h = [0u8; SLL2_HEADER_LEN];
    h[0..2].copy_from_slice(&m.protocol.to_be_bytes());
    // 2..4 reserved
    h[4..8].copy_from_slice(&m.ifindex.to_be_bytes());
    h[8..10].copy_from_slice(&m.hatype.to_be_bytes());
    h[10] = m.pkttype;
    h[11] = m.halen;
    h[12..20].copy_from_slice(&m.addr);
    h
}

fn now_nanos() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// Capabilities lbcheck gives up once the socket is open.
pub const DROPPED_CAPABILITIES: [&str; 2] = ["CAP_NET_RAW", "CAP_NET_ADMIN"];

/// Drops CAP_NET_RAW and CAP_NET_ADMIN from the effective, permitted and (when allowed: it
/// needs CAP_SETPCAP, which root has and a `setcap cap_net_raw+ep` binary does not) bounding
/// sets, so a bug in the packet parsers cannot open new raw sockets or reconfigure the network.
/// Returns the sets the capabilities were removed from.
pub fn drop_capabilities() -> Vec<&'static str> {
    use caps::{CapSet, Capability};
    let mut done = Vec::new();
    for (set, name) in [
        (CapSet::Bounding, "bounding"),
        (CapSet::Effective, "effective"),
        (CapSet::Permitted, "permitted"),
    ] {
        let ok = [Capability::CAP_NET_RAW, Capability::CAP_NET_ADMIN]
            .into_iter()
            .all(|c| caps::drop(None, set, c).is_ok());
        if ok {
            done.push(name);
        }
    }
    done
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sll2_header_has_the_fields_the_decoder_reads() {
        let m = sys::RecvMeta {
            protocol: 0x0800,
            ifindex: 3,
            hatype: 1,
            pkttype: 4,
            halen: 6,
            addr: [1, 2, 3, 4, 5, 6, 0, 0],
            ..sys::RecvMeta::default()
        };
        let h = sll2_header(&m);
        assert_eq!(
            h,
            [
                0x08, 0x00, 0, 0, 0, 0, 0, 3, 0, 1, 4, 6, 1, 2, 3, 4, 5, 6, 0, 0
            ]
        );
    }

    #[test]
    fn unknown_interface_names_the_available_ones() {
        let e = LiveCapture::open("no-such-iface0", &FilterSpec::default(), 65535)
            .err()
            .expect("no such interface");
        let text = e.to_string();
        assert!(
            text.starts_with("no interface named \"no-such-iface0\"; available: "),
            "{text}"
        );
        assert!(text.contains("lo"), "{text}");
    }
}
