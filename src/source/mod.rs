//! Packet sources: capture files (pcap, pcapng) and live capture (Linux AF_PACKET, `live`).
//!
//! A source yields [`RawPacket`]s one at a time, borrowing its own buffer, so a file of any size
//! is read in constant memory. Only this module knows file formats; nothing here decodes packets.

pub mod file;
pub mod link_type;
#[cfg(target_os = "linux")]
pub mod live;
mod mapped;
mod pcap;
mod pcapng;
mod reader;
pub mod writer;

use std::path::PathBuf;

pub use file::{
    CaptureFile, FileFormat, Located, STDIN_PATH, SharedChunk, is_stdin, open_capture,
    open_capture_shareable, open_capture_shared, read_ahead_wanted, stored_size,
};
pub use link_type::LinkType;

/// One captured packet as the capture file recorded it.
#[derive(Debug, Clone, Copy)]
pub struct RawPacket<'a> {
    /// 1-based packet number within its file, as Wireshark shows it.
    pub index: u64,
    /// Nanoseconds since the Unix epoch.
    pub ts_nanos: i64,
    /// Interface id (pcapng IDB number within the section; 0 for pcap).
    pub interface: u32,
    pub link_type: LinkType,
    /// Bytes on the wire; `data.len()` is what was captured.
    pub orig_len: u32,
    pub data: &'a [u8],
}

impl RawPacket<'_> {
    /// True when the capture kept fewer bytes than the packet had (snaplen).
    pub fn is_cut(&self) -> bool {
        (self.data.len() as u64) < u64::from(self.orig_len)
    }
}

/// Timestamp resolution of an interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TsPrecision {
    Micro,
    Nano,
    /// Any other resolution (pcapng `if_tsresol`), e.g. milliseconds or a power of two.
    Other,
}

/// What a capture file says about one of its interfaces.
#[derive(Debug, Clone, serde::Serialize)]
pub struct InterfaceInfo {
    pub id: u32,
    pub name: Option<String>,
    pub link_type: LinkType,
    pub snaplen: u32,
    pub ts_precision: TsPrecision,
}

/// Why a capture file cannot be read. Every variant names the file and where it went wrong.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {what}")]
    NotACapture { path: PathBuf, what: String },
    #[error("{path}: corrupt at byte {offset}{}: {what}", packet_suffix(*.packet))]
    Corrupt {
        path: PathBuf,
        offset: u64,
        /// The packet number the bad record would have had.
        packet: Option<u64>,
        what: String,
    },
}

fn packet_suffix(packet: Option<u64>) -> String {
    packet.map_or_else(String::new, |n| format!(" (packet {n})"))
}

/// A problem that stopped reading early but left what came before usable: the file was cut
/// inside its last record, as when tcpdump is killed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CutShort {
    /// Byte offset where the incomplete record starts.
    pub offset: u64,
    /// Packets read completely before it.
    pub packets_before: u64,
    pub what: String,
}
