//! Link-layer header types (tcpdump.org LINKTYPE_* numbers) and their names.

use std::fmt;

/// A LINKTYPE_* value as stored in a capture file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LinkType(pub u32);

impl LinkType {
    pub const NULL: Self = Self(0);
    pub const ETHERNET: Self = Self(1);
    /// Raw IP on OpenBSD and some old libpcap builds (DLT_RAW 12 / 14).
    pub const RAW_12: Self = Self(12);
    pub const RAW_14: Self = Self(14);
    pub const RAW: Self = Self(101);
    pub const LOOP: Self = Self(108);
    pub const LINUX_SLL: Self = Self(113);
    pub const IPV4: Self = Self(228);
    pub const IPV6: Self = Self(229);
    pub const LINUX_SLL2: Self = Self(276);

    /// The name tcpdump uses (`-y` / `-L`), or `LINKTYPE_<n>` for types lbcheck does not decode.
    pub fn name(self) -> String {
        match self.known_name() {
            Some(name) => name.to_string(),
            None => format!("LINKTYPE_{}", self.0),
        }
    }

    /// Some when lbcheck can decode this link type.
    pub fn known_name(self) -> Option<&'static str> {
        Some(match self {
            Self::NULL => "NULL",
            Self::ETHERNET => "EN10MB",
            Self::RAW_12 | Self::RAW_14 | Self::RAW => "RAW",
            Self::LOOP => "LOOP",
            Self::LINUX_SLL => "LINUX_SLL",
            Self::IPV4 => "IPV4",
            Self::IPV6 => "IPV6",
            Self::LINUX_SLL2 => "LINUX_SLL2",
            _ => return None,
        })
    }
}

impl fmt::Display for LinkType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl serde::Serialize for LinkType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.name())
    }
}
