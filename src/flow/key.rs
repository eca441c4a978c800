//! The canonical flow key: the same for both directions of a connection.
//!
//! Compact on purpose (addresses as 16 bytes, IPv4 mapped): it is hashed and compared once per
//! packet, and `SocketAddr`'s enum (with IPv6 flow info and scope id) was the most expensive
//! part of a lookup.

use std::net::{IpAddr, SocketAddr};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    Tcp,
    Udp,
}

impl Proto {
    pub fn name(self) -> &'static str {
        match self {
            Self::Tcp => "tcp",
            Self::Udp => "udp",
        }
    }
}

/// Endpoints in a fixed order (lower first), so `a→b` and `b→a` give the same key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FlowKey {
    lo: [u8; 16],
    hi: [u8; 16],
    lo_port: u16,
    hi_port: u16,
    proto: Proto,
}

impl FlowKey {
    pub fn new(proto: Proto, a: SocketAddr, b: SocketAddr) -> Self {
        Self::oriented(proto, a, b).0
    }

    /// The key, and whether `a` is its lower end.
    pub fn oriented(proto: Proto, a: SocketAddr, b: SocketAddr) -> (Self, bool) {
        // Compared as numbers, the same order as the bytes' (big-endian): built from the address
        // bits and compared without the byte arrays and a `memcmp` call (a fifth of the cost
        // of a packet's flow lookup).
        let (an, bn) = (bits(a.ip()), bits(b.ip()));
        let a_lo = (an, a.port()) <= (bn, b.port());
        let (lo, hi, lo_port, hi_port) = if a_lo {
            (an, bn, a.port(), b.port())
        } else {
            (bn, an, b.port(), a.port())
        };
        let key = Self {
            lo: lo.to_be_bytes(),
            hi: hi.to_be_bytes(),
            lo_port,
            hi_port,
            proto,
        };
        (key, a_lo)
    }

    pub fn proto(&self) -> Proto {
        self.proto
    }

    /// The lower (`lo`) or higher end, as an IPv6 address when `v6` (the flow's packets carry
    /// IPv6) and as IPv4 otherwise (the key holds IPv4 addresses mapped into IPv6).
    pub fn end(&self, lo: bool, v6: bool) -> SocketAddr {
        let (bytes, port) = if lo {
            (self.lo, self.lo_port)
        } else {
            (self.hi, self.hi_port)
        };
        let v6addr = std::net::Ipv6Addr::from(bytes);
        let ip = match v6addr.to_ipv4_mapped() {
            Some(v4) if !v6 => IpAddr::V4(v4),
            _ => IpAddr::V6(v6addr),
        };
        SocketAddr::new(ip, port)
    }

    /// [`pair_hash`] of the key's two ends.
    pub fn hash(&self) -> u64 {
        let (lo, hi) = (u128::from_be_bytes(self.lo), u128::from_be_bytes(self.hi));
        mix(end_hash(lo, self.lo_port) ^ end_hash(hi, self.hi_port))
    }
}

/// A hash of the flow between two endpoints: the same either way round, and the same for an
/// IPv4 address and its IPv4-mapped IPv6 form, as the key has it. The protocol is left out
/// (a TCP and a UDP flow on the same ends share it; keys tell them apart). The analysis
/// threads split flows by it and the flow index files them by it, so it is computed once per
/// packet, from the packet's endpoints, before the packet is decoded.
pub fn pair_hash(a: (IpAddr, u16), b: (IpAddr, u16)) -> u64 {
    mix(end_hash(bits(a.0), a.1) ^ end_hash(bits(b.0), b.1))
}

/// A hash of one endpoint, as [`pair_hash`] hashes each end (an IPv4 address and its
/// IPv4-mapped form alike): for indexes of flows by their client endpoint.
pub fn endpoint_hash(ip: IpAddr, port: u16) -> u64 {
    mix(end_hash(bits(ip), port))
}

/// Flows fall into this many groups by their hash. The open-flow limit is kept per group, and
/// the analysis threads of one file each own whole groups, so which flows are evicted depends
/// on the capture alone, never on how many threads read it.
pub const FLOW_GROUPS: usize = 64;

/// The group of a flow with hash `hash` (the top bits of its low half: the half that picks
/// threads; the flow index files by the high half).
pub fn flow_group(hash: u64) -> usize {
    ((hash as u32) >> (32 - FLOW_GROUPS.trailing_zeros())) as usize
}

/// The address as the key holds it (IPv4 mapped into IPv6), as a number.
fn bits(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => 0xffff_0000_0000 | u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

/// One end's share: an XOR of the two ends' shares is the same either way round.
fn end_hash(x: u128, port: u16) -> u64 {
    let v = (x as u64) ^ ((x >> 64) as u64).rotate_left(23);
    (v ^ (u64::from(port) << 40)).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// splitmix64's finalizer: every output bit depends on every input bit (the ports sit in
/// the high bits of the shares, the index files by the high bits, the threads too).
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_directions_give_one_key() {
        let a: SocketAddr = "192.0.2.10:51000".parse().unwrap();
        let b: SocketAddr = "203.0.113.5:80".parse().unwrap();
        assert_eq!(
            FlowKey::new(Proto::Tcp, a, b),
            FlowKey::new(Proto::Tcp, b, a)
        );
        assert_ne!(
            FlowKey::new(Proto::Tcp, a, b),
            FlowKey::new(Proto::Udp, a, b)
        );
        assert!(FlowKey::oriented(Proto::Tcp, a, b).1);
        assert!(!FlowKey::oriented(Proto::Tcp, b, a).1);
    }

    #[test]
    fn the_lower_end_is_the_lower_address_as_bytes_then_the_lower_port() {
        let lower = |a: &str, b: &str| {
            let (a, b): (SocketAddr, SocketAddr) = (a.parse().unwrap(), b.parse().unwrap());
            FlowKey::oriented(Proto::Tcp, a, b).1
        };
        // The address decides before the port.
        assert!(lower("10.0.0.1:9999", "10.0.0.2:1"));
        assert!(!lower("10.0.0.2:1", "10.0.0.1:9999"));
        // Bytes, not the last octet alone: 10.0.1.0 is above 10.0.0.255.
        assert!(lower("10.0.0.255:1", "10.0.1.0:1"));
        // The same address: the port.
        assert!(lower("10.0.0.1:80", "10.0.0.1:81"));
        assert!(!lower("10.0.0.1:81", "10.0.0.1:80"));
        // IPv4 is ::ffff:a.b.c.d: above ::1, below 2001:db8::.
        assert!(!lower("192.0.2.1:80", "[::1]:80"));
        assert!(lower("192.0.2.1:80", "[2001:db8::1]:80"));
        // The high bit of the first byte (a signed compare would get these wrong).
        assert!(lower("[7fff::1]:80", "[8000::1]:80"));
        assert!(lower("127.255.255.255:1", "128.0.0.0:1"));
        // An endpoint is not lower than itself: the first is taken as lower.
        assert!(lower("10.0.0.1:80", "10.0.0.1:80"));
    }

    #[test]
    fn ipv4_and_its_mapped_ipv6_form_are_one_endpoint_and_ports_matter() {
        let a: SocketAddr = "192.0.2.10:51000".parse().unwrap();
        let mapped: SocketAddr = "[::ffff:192.0.2.10]:51000".parse().unwrap();
        let b: SocketAddr = "203.0.113.5:80".parse().unwrap();
        assert_eq!(
            FlowKey::new(Proto::Tcp, a, b),
            FlowKey::new(Proto::Tcp, mapped, b)
        );
        assert_eq!(
            FlowKey::new(Proto::Tcp, a, b).hash(),
            pair_hash((mapped.ip(), 51000), (b.ip(), 80))
        );
        assert_eq!(
            pair_hash((a.ip(), 51000), (b.ip(), 80)),
            pair_hash((b.ip(), 80), (a.ip(), 51000))
        );
        let other: SocketAddr = "192.0.2.10:51001".parse().unwrap();
        assert_ne!(
            FlowKey::new(Proto::Tcp, a, b).hash(),
            FlowKey::new(Proto::Tcp, other, b).hash()
        );
        assert_ne!(
            FlowKey::new(Proto::Tcp, a, b),
            FlowKey::new(Proto::Tcp, other, b)
        );
    }
}
