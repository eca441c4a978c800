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

fn bytes(ip: IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

impl FlowKey {
    pub fn new(proto: Proto, a: SocketAddr, b: SocketAddr) -> Self {
        Self::oriented(proto, a, b).0
    }

    /// The key, and whether `a` is its lower end.
    pub fn oriented(proto: Proto, a: SocketAddr, b: SocketAddr) -> (Self, bool) {
        let (ab, bb) = (bytes(a.ip()), bytes(b.ip()));
        let a_lo = (ab, a.port()) <= (bb, b.port());
        let key = if a_lo {
            Self {
                lo: ab,
                hi: bb,
                lo_port: a.port(),
                hi_port: b.port(),
                proto,
            }
        } else {
            Self {
                lo: bb,
                hi: ab,
                lo_port: b.port(),
                hi_port: a.port(),
                proto,
            }
        };
        (key, a_lo)
    }

    pub fn proto(&self) -> Proto {
        self.proto
    }
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
    fn ipv4_and_its_mapped_ipv6_form_are_one_endpoint_and_ports_matter() {
        let a: SocketAddr = "192.0.2.10:51000".parse().unwrap();
        let mapped: SocketAddr = "[::ffff:192.0.2.10]:51000".parse().unwrap();
        let b: SocketAddr = "203.0.113.5:80".parse().unwrap();
        assert_eq!(
            FlowKey::new(Proto::Tcp, a, b),
            FlowKey::new(Proto::Tcp, mapped, b)
        );
        let other: SocketAddr = "192.0.2.10:51001".parse().unwrap();
        assert_ne!(
            FlowKey::new(Proto::Tcp, a, b),
            FlowKey::new(Proto::Tcp, other, b)
        );
    }
}
