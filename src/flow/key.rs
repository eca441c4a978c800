//! The canonical flow key: the same for both directions of a connection.

use std::net::SocketAddr;

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
    pub proto: Proto,
    pub lo: SocketAddr,
    pub hi: SocketAddr,
}

impl FlowKey {
    pub fn new(proto: Proto, a: SocketAddr, b: SocketAddr) -> Self {
        let (lo, hi) = if (a.ip(), a.port()) <= (b.ip(), b.port()) {
            (a, b)
        } else {
            (b, a)
        };
        Self { proto, lo, hi }
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
    }
}
