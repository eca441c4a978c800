//! The only unsafe code in lbcheck: the Linux system calls of live capture and of the host
//! facts, each wrapped in a safe function or type. Everything above this module is safe Rust.
//!
//! AF_PACKET: socket, setsockopt (filter, ring, buffer), bind, recvmsg with control messages,
//! getsockopt (PACKET_STATISTICS), and the TPACKET_V3 ring mapping ([`Ring`]). Also
//! getifaddrs(3), and a NETLINK_ROUTE socket that moves bytes (parsing is safe code elsewhere).
//!
//! Why our own layer over `libc` rather than `pnet` datalink: pnet opens the socket with
//! `ETH_P_ALL` already bound, so packets arrive before a filter can be attached, and it gives
//! neither the kernel's drop counters (`PACKET_STATISTICS`), `PACKET_AUXDATA` (original length,
//! stripped VLAN tag), nor a TPACKET_V3 ring. The calls needed are few and each has a simple
//! contract.
//!
//! Soundness, once for the whole module: every pointer handed to the kernel points to a live,
//! properly aligned Rust value (or slice) of exactly the size passed with it, valid for the call's
//! duration; the kernel writes at most the given sizes; every returned length is checked before
//! it is used to slice. File descriptors are owned by `OwnedFd` and closed once. The ring's
//! shared memory has its own argument at [`Ring`].

use std::io;
use std::mem::{size_of, zeroed};
use std::net::IpAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use super::bpf::Insn;

/// `SOL_PACKET` option numbers (linux/if_packet.h).
const PACKET_STATISTICS: libc::c_int = 6;
const PACKET_AUXDATA: libc::c_int = 8;
/// `tp_status` bits of `tpacket_auxdata`.
pub const TP_STATUS_VLAN_VALID: u32 = 1 << 4;
pub const TP_STATUS_VLAN_TPID_VALID: u32 = 1 << 6;

fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// An AF_PACKET socket that receives nothing yet (protocol 0) — the filter goes on before
/// [`bind`] starts the flow of packets, so no unfiltered packet is ever queued.
pub fn packet_socket(cooked: bool) -> io::Result<OwnedFd> {
    let ty = if cooked {
        libc::SOCK_DGRAM
    } else {
        libc::SOCK_RAW
    };
    #[allow(unsafe_code)]
    // SAFETY: socket(2) takes plain integers; a non-negative result is a new descriptor that
    // nothing else owns, so OwnedFd may take it.
    unsafe {
        let fd = check(libc::socket(libc::AF_PACKET, ty | libc::SOCK_CLOEXEC, 0))?;
        Ok(OwnedFd::from_raw_fd(fd))
    }
}

fn setsockopt<T>(fd: &OwnedFd, level: libc::c_int, name: libc::c_int, value: &T) -> io::Result<()> {
    #[allow(unsafe_code)]
    // SAFETY: `value` is a live `T` and its exact size is passed; the kernel only reads it.
    unsafe {
        check(libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            std::ptr::from_ref(value).cast(),
            size_of::<T>() as libc::socklen_t,
        ))?;
    }
    Ok(())
}

pub fn set_int(fd: &OwnedFd, level: libc::c_int, name: libc::c_int, v: i32) -> io::Result<()> {
    setsockopt(fd, level, name, &v)
}

/// Attaches a classic BPF program (`SO_ATTACH_FILTER`); the kernel copies it.
pub fn attach_filter(fd: &OwnedFd, prog: &[Insn]) -> io::Result<()> {
    let insns: Vec<libc::sock_filter> = prog
        .iter()
        .map(|i| libc::sock_filter {
            code: i.code,
            jt: i.jt,
            jf: i.jf,
            k: i.k,
        })
        .collect();
    let fprog = libc::sock_fprog {
        len: u16::try_from(insns.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "BPF program too long"))?,
        // The kernel only reads through this pointer (the field is `*mut` by C declaration).
        filter: insns.as_ptr().cast_mut(),
    };
    // `insns` outlives the call: the kernel copies the program during setsockopt.
    setsockopt(fd, libc::SOL_SOCKET, libc::SO_ATTACH_FILTER, &fprog)
}

pub fn enable_auxdata_and_timestamps(fd: &OwnedFd) -> io::Result<()> {
    set_int(fd, libc::SOL_PACKET, PACKET_AUXDATA, 1)?;
    set_int(fd, libc::SOL_SOCKET, libc::SO_TIMESTAMPNS, 1)
}

/// A receive timeout, so the capture loop wakes to check the stop flag and the clock.
pub fn set_recv_timeout(fd: &OwnedFd, d: Duration) -> io::Result<()> {
    let tv = libc::timeval {
        tv_sec: libc::time_t::try_from(d.as_secs()).unwrap_or(libc::time_t::MAX),
        tv_usec: libc::suseconds_t::from(d.subsec_micros()),
    };
    setsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVTIMEO, &tv)
}

/// Starts receiving every protocol on `ifindex` (0: every interface).
pub fn bind(fd: &OwnedFd, ifindex: i32) -> io::Result<()> {
    #[allow(unsafe_code)]
    // SAFETY: an all-zero sockaddr_ll is a valid value (plain integers and byte arrays); it is
    // a live local of the size passed to bind(2), which only reads it.
    unsafe {
        let mut sa: libc::sockaddr_ll = zeroed();
        sa.sll_family = libc::AF_PACKET as u16;
        sa.sll_protocol = (libc::ETH_P_ALL as u16).to_be();
        sa.sll_ifindex = ifindex;
        check(libc::bind(
            fd.as_raw_fd(),
            std::ptr::from_ref(&sa).cast(),
            size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        ))?;
    }
    Ok(())
}

/// What the kernel said about one received packet besides its bytes.
#[derive(Debug, Clone, Copy, Default)]
pub struct RecvMeta {
    /// Bytes written into the buffer.
    pub caplen: usize,
    /// Length on the wire (`tp_len`), or the received length without auxdata.
    pub orig_len: u32,
    pub ts_nanos: Option<i64>,
    pub ifindex: i32,
    pub hatype: u16,
    pub pkttype: u8,
    /// Ethertype (`sll_protocol`, host order).
    pub protocol: u16,
    pub halen: u8,
    pub addr: [u8; 8],
    pub status: u32,
    pub vlan_tci: u16,
    pub vlan_tpid: u16,
}

/// Room for the control messages we ask for (a timespec and a tpacket_auxdata, with headers).
const CMSG_SPACE: usize = 256;

/// Receives one packet into `buf`. `Ok(None)` on timeout or interruption by a signal.
pub fn recv(fd: &OwnedFd, buf: &mut [u8]) -> io::Result<Option<RecvMeta>> {
    // u64 array: control messages need `cmsghdr` alignment (8 on 64-bit Linux).
    let mut control = [0u64; CMSG_SPACE / 8];
    #[allow(unsafe_code)]
    // SAFETY: msghdr/sockaddr_ll are plain C structs for which all-zero is valid. Every pointer
    // in `msg` points to a live local or to `buf`, with the matching length; recvmsg(2) writes
    // within those lengths and reports how much. The CMSG_* macros walk `control` only within
    // `msg_controllen` as the kernel set it, and each payload is read with read_unaligned
    // after checking that its cmsg_len covers the struct.
    unsafe {
        let mut sa: libc::sockaddr_ll = zeroed();
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        let mut msg: libc::msghdr = zeroed();
        msg.msg_name = std::ptr::from_mut(&mut sa).cast();
        msg.msg_namelen = size_of::<libc::sockaddr_ll>() as libc::socklen_t;
        msg.msg_iov = &raw mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = size_of::<[u64; CMSG_SPACE / 8]>() as _;
        let n = libc::recvmsg(fd.as_raw_fd(), &raw mut msg, libc::MSG_TRUNC);
        if n < 0 {
            let e = io::Error::last_os_error();
            return match e.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(None),
                _ => Err(e),
            };
        }
        let full = n.unsigned_abs();
        let mut meta = RecvMeta {
            caplen: full.min(buf.len()),
            orig_len: u32::try_from(full).unwrap_or(u32::MAX),
            ifindex: sa.sll_ifindex,
            hatype: sa.sll_hatype,
            pkttype: sa.sll_pkttype,
            protocol: u16::from_be(sa.sll_protocol),
            halen: sa.sll_halen.min(8),
            addr: sa.sll_addr,
            ..RecvMeta::default()
        };
        let mut c = libc::CMSG_FIRSTHDR(&raw const msg);
        while !c.is_null() {
            let h = &*c;
            let data = libc::CMSG_DATA(c);
            let have = (h.cmsg_len as usize).saturating_sub(libc::CMSG_LEN(0) as usize);
            if h.cmsg_level == libc::SOL_PACKET
                && h.cmsg_type == PACKET_AUXDATA
                && have >= size_of::<libc::tpacket_auxdata>()
            {
                let aux: libc::tpacket_auxdata = std::ptr::read_unaligned(data.cast());
                meta.orig_len = aux.tp_len;
                meta.status = aux.tp_status;
                meta.vlan_tci = aux.tp_vlan_tci;
                meta.vlan_tpid = aux.tp_vlan_tpid;
            } else if h.cmsg_level == libc::SOL_SOCKET
                && h.cmsg_type == libc::SCM_TIMESTAMPNS
                && have >= size_of::<libc::timespec>()
            {
                let ts: libc::timespec = std::ptr::read_unaligned(data.cast());
                meta.ts_nanos = Some(timespec_nanos(&ts));
            }
            c = libc::CMSG_NXTHDR(&raw const msg, c);
        }
        Ok(Some(meta))
    }
}

/// time_t and c_long are i32 on 32-bit targets, i64 here: the conversion is not useless there.
#[allow(clippy::useless_conversion)]
fn timespec_nanos(ts: &libc::timespec) -> i64 {
    i64::from(ts.tv_sec) * 1_000_000_000 + i64::from(ts.tv_nsec)
}

/// Packets the kernel passed the filter and dropped since the last call (the counters reset on
/// each read).
pub fn packet_stats(fd: &OwnedFd) -> io::Result<(u32, u32)> {
    #[allow(unsafe_code)]
    // SAFETY: tpacket_stats is two u32s (all-zero valid), a live local of the size passed;
    // getsockopt(2) writes at most `len` bytes into it.
    unsafe {
        let mut st: libc::tpacket_stats = zeroed();
        let mut len = size_of::<libc::tpacket_stats>() as libc::socklen_t;
        check(libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_PACKET,
            PACKET_STATISTICS,
            std::ptr::from_mut(&mut st).cast(),
            &raw mut len,
        ))?;
        Ok((st.tp_packets, st.tp_drops))
    }
}

/// One address of one interface, from getifaddrs(3).
#[derive(Debug, Clone)]
pub struct IfAddr {
    pub interface: String,
    pub ip: IpAddr,
    pub prefix: u8,
}

/// Every IPv4/IPv6 address on every interface of this network namespace.
pub fn interface_addresses() -> io::Result<Vec<IfAddr>> {
    let mut out = Vec::new();
    #[allow(unsafe_code)]
    // SAFETY: getifaddrs(3) allocates a linked list we walk read-only and free exactly once with
    // freeifaddrs. Each ifa_addr/ifa_netmask is checked for null and its family read before the
    // pointer is read as the sockaddr_in/sockaddr_in6 that family promises; ifa_name is a
    // NUL-terminated string owned by the list, copied before the list is freed.
    unsafe {
        let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
        check(libc::getifaddrs(&raw mut head))?;
        let mut p = head;
        while !p.is_null() {
            let ifa = &*p;
            p = ifa.ifa_next;
            if ifa.ifa_addr.is_null() || ifa.ifa_name.is_null() {
                continue;
            }
            let name = std::ffi::CStr::from_ptr(ifa.ifa_name)
                .to_string_lossy()
                .into_owned();
            let family = i32::from((*ifa.ifa_addr).sa_family);
            let (ip, prefix) = if family == libc::AF_INET {
                let a: libc::sockaddr_in = std::ptr::read_unaligned(ifa.ifa_addr.cast());
                let ip = std::net::Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr));
                let prefix = if ifa.ifa_netmask.is_null() {
                    32
                } else {
                    let m: libc::sockaddr_in = std::ptr::read_unaligned(ifa.ifa_netmask.cast());
                    u32::from_be(m.sin_addr.s_addr).count_ones() as u8
                };
                (IpAddr::V4(ip), prefix)
            } else if family == libc::AF_INET6 {
                let a: libc::sockaddr_in6 = std::ptr::read_unaligned(ifa.ifa_addr.cast());
                let prefix = if ifa.ifa_netmask.is_null() {
                    128
                } else {
                    let m: libc::sockaddr_in6 = std::ptr::read_unaligned(ifa.ifa_netmask.cast());
                    m.sin6_addr
                        .s6_addr
                        .iter()
                        .map(|b| b.count_ones() as u8)
                        .sum()
                };
                (IpAddr::V6(a.sin6_addr.s6_addr.into()), prefix)
            } else {
                continue;
            };
            out.push(IfAddr {
                interface: name,
                ip,
                prefix,
            });
        }
        libc::freeifaddrs(head);
    }
    Ok(out)
}

/// A NETLINK_ROUTE socket (for `ip rule` and `ip route get` equivalents in `host`): bytes in,
/// bytes out; the messages are built and parsed in safe code.
pub struct NetlinkSocket {
    fd: OwnedFd,
}

impl NetlinkSocket {
    pub fn open() -> io::Result<Self> {
        #[allow(unsafe_code)]
        // SAFETY: socket(2) takes plain integers; a non-negative result is a new descriptor
        // that nothing else owns.
        let fd = unsafe {
            let fd = check(libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_ROUTE,
            ))?;
            OwnedFd::from_raw_fd(fd)
        };
        set_recv_timeout(&fd, Duration::from_secs(1))?;
        Ok(Self { fd })
    }

    /// Sends one request to the kernel (netlink address 0).
    pub fn send(&self, request: &[u8]) -> io::Result<()> {
        #[allow(unsafe_code)]
        // SAFETY: `request` is a live slice of the length passed; an all-zero sockaddr_nl is
        // valid and lives across the call, which only reads both.
        unsafe {
            let mut sa: libc::sockaddr_nl = zeroed();
            sa.nl_family = libc::AF_NETLINK as u16;
            let n = libc::sendto(
                self.fd.as_raw_fd(),
                request.as_ptr().cast(),
                request.len(),
                0,
                std::ptr::from_ref(&sa).cast(),
                size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            );
            if n < 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(())
    }

    /// Receives one datagram (one or more netlink messages) into `buf`; returns its length.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        #[allow(unsafe_code)]
        // SAFETY: recv(2) writes at most `buf.len()` bytes into the live slice `buf`.
        let n = unsafe { libc::recv(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(n.unsigned_abs().min(buf.len()))
    }
}

/// `SOL_PACKET` options and values for the TPACKET_V3 receive ring.
const PACKET_RX_RING: libc::c_int = 5;
const PACKET_VERSION: libc::c_int = 10;
const TPACKET_V3: libc::c_int = 2;
/// Offset of `block_status` in `struct tpacket_block_desc` (after `version`, `offset_to_priv`).
const BLOCK_STATUS_OFFSET: usize = 8;
/// `TP_STATUS_KERNEL` / `TP_STATUS_USER`: who owns a block.
const TP_STATUS_KERNEL: u32 = 0;
const TP_STATUS_USER: u32 = 1;

/// A TPACKET_V3 receive ring mapped from the socket: the kernel fills blocks of packets and
/// hands each over by setting its status word; we read it, then hand it back. One wake-up per
/// block instead of one system call per packet.
///
/// Soundness: the mapping is `block_size * block_nr` bytes, page-aligned, shared with the
/// kernel and unmapped once (Drop) — after the socket, which the ring does not own, is still
/// open (the field order of the owner ensures the ring drops first). The status word of block
/// `i` is at a 4-byte-aligned offset inside the mapping and is only accessed atomically. The
/// kernel does not touch a block whose status is TP_STATUS_USER until we store
/// TP_STATUS_KERNEL, so a shared slice of a user-owned block is not written behind our back;
/// [`Ring::block`] hands out such a slice borrowing `&self`, and [`Ring::release`] needs
/// `&mut self`, so no slice outlives its ownership.
pub struct Ring {
    base: std::ptr::NonNull<u8>,
    block_size: usize,
    block_nr: usize,
}

impl Ring {
    /// Switches `fd` to TPACKET_V3 and maps a ring of `block_nr` blocks of `block_size` bytes
    /// (a multiple of the page size); blocks are handed over when full or `retire_ms` old.
    pub fn new(fd: &OwnedFd, block_size: u32, block_nr: u32, retire_ms: u32) -> io::Result<Self> {
        /// Frames are a TPACKET_V3 formality (packets are packed in blocks); 16-aligned.
        const FRAME_SIZE: u32 = 2048;
        set_int(fd, libc::SOL_PACKET, PACKET_VERSION, TPACKET_V3)?;
        let req = libc::tpacket_req3 {
            tp_block_size: block_size,
            tp_block_nr: block_nr,
            tp_frame_size: FRAME_SIZE,
            tp_frame_nr: block_size / FRAME_SIZE * block_nr,
            tp_retire_blk_tov: retire_ms,
            tp_sizeof_priv: 0,
            tp_feature_req_word: 0,
        };
        setsockopt(fd, libc::SOL_PACKET, PACKET_RX_RING, &req)?;
        let len = block_size as usize * block_nr as usize;
        #[allow(unsafe_code)]
        // SAFETY: a fresh shared mapping of the socket's ring, of the size the kernel just
        // allocated; no Rust object aliases it. MAP_FAILED is checked.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let base = std::ptr::NonNull::new(p.cast::<u8>())
            .ok_or_else(|| io::Error::other("mmap returned null"))?;
        Ok(Self {
            base,
            block_size: block_size as usize,
            block_nr: block_nr as usize,
        })
    }

    pub fn blocks(&self) -> usize {
        self.block_nr
    }

    // The mapping is page-aligned, blocks are whole pages, the status word is at offset 8.
    #[allow(clippy::cast_ptr_alignment)]
    fn status(&self, i: usize) -> &std::sync::atomic::AtomicU32 {
        assert!(i < self.block_nr);
        #[allow(unsafe_code)]
        // SAFETY: block i starts inside the mapping (i < block_nr) at a page-aligned offset;
        // the status word is 4-byte aligned, lives as long as the mapping (&self), and is only
        // accessed through this atomic (the kernel side uses atomic stores with barriers).
        unsafe {
            std::sync::atomic::AtomicU32::from_ptr(
                self.base
                    .as_ptr()
                    .add(i * self.block_size + BLOCK_STATUS_OFFSET)
                    .cast::<u32>(),
            )
        }
    }

    /// Block `i`'s bytes when the kernel has handed it to us.
    pub fn block(&self, i: usize) -> Option<&[u8]> {
        let st = self.status(i).load(std::sync::atomic::Ordering::Acquire);
        if st & TP_STATUS_USER == 0 {
            return None;
        }
        #[allow(unsafe_code)]
        // SAFETY: in bounds (block i of block_nr), user-owned (checked above, Acquire orders
        // the kernel's writes before our reads), and not released while the slice lives
        // (release takes &mut self).
        unsafe {
            Some(std::slice::from_raw_parts(
                self.base.as_ptr().add(i * self.block_size),
                self.block_size,
            ))
        }
    }

    /// Hands block `i` back to the kernel.
    pub fn release(&mut self, i: usize) {
        self.status(i)
            .store(TP_STATUS_KERNEL, std::sync::atomic::Ordering::Release);
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        #[allow(unsafe_code)]
        // SAFETY: the mapping made in `new`, of this length, unmapped once; no slice of it
        // outlives `self`.
        unsafe {
            libc::munmap(self.base.as_ptr().cast(), self.block_size * self.block_nr);
        }
    }
}

/// Waits up to `timeout` for descriptor `fd` to become readable (a ring block handed over). A
/// number, not a borrow: poll(2) does not use the descriptor beyond checking it (a closed one
/// gives POLLNVAL), so this is safe for any value.
pub fn poll_readable(fd: std::os::fd::RawFd, timeout: Duration) -> io::Result<()> {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN | libc::POLLERR,
        revents: 0,
    };
    let ms = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
    #[allow(unsafe_code)]
    // SAFETY: one live pollfd, count 1.
    let r = unsafe { libc::poll(&raw mut p, 1, ms) };
    if r < 0 {
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
    Ok(())
}
