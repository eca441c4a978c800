//! PROXY protocol v1 (text) and v2 (binary) inspector.
//!
//! [`inspect`] looks at the first in-order bytes of one TCP direction (or one UDP datagram) and
//! reports what a strict receiver would see: version, command, family, addresses, every TLV
//! (standard, SSL sub-TLVs, vendor), the CRC32C verdict, and for each problem a stable code with
//! the byte offset where it is.
//!
//! Promise: never panics on any input bytes (every access is bounds-checked with `get`, lengths are
//! checked before use, and no arithmetic can overflow); a capture that stops inside a header is
//! reported as `truncated` with everything decodable so far, never as "not PROXY" and never as
//! "malformed". Nothing is allocated unless the bytes start with a PROXY signature.
//!
//! Why not only the `ppp` crate: it reads the address block from the family byte even for LOCAL
//! (AWS NLB health checks carry none), does not verify CRC32C, lacks SSL sub-TLVs 0x26–0x28 and
//! vendor TLVs, and its errors carry no byte offsets. See `notes/PROTOCOL.md` §0 and §4.5.

mod crc;
mod der;
mod text;
mod tlv;
mod v1;
mod v2;

#[cfg(test)]
mod tests;

use serde::Serialize;

pub use der::CertNames;
pub use tlv::{RawTlv, Tlv, TlvClass, Tlvs};
/// What the report's TLV writer reads besides [`Tlvs`].
pub mod tlv_parts {
    pub use super::text::{escape, hex};
    pub use super::tlv::{RawTlvs, SSL_CLIENT_FLAGS, decode_one, field, kind, name, ssl_sub_name};
}

/// The v1 signature: `PROXY` and one space.
pub const V1_SIGNATURE: &[u8; 6] = b"PROXY ";
/// The v2 signature, `\r\n\r\n\0\r\nQUIT\n`.
pub const V2_SIGNATURE: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";
/// Shortest prefix of a signature that counts as "starts a PROXY header".
pub const MIN_SIGNATURE_PREFIX: usize = 6;

/// Stable problem codes (`error.code`, `warnings[].code`). Never renamed within `lbcheck/1`.
pub mod code {
    pub const V1_TRUNCATED: &str = "v1.truncated";
    pub const V1_TOO_LONG: &str = "v1.too-long";
    pub const V1_NO_CRLF: &str = "v1.no-crlf";
    pub const V1_DOUBLE_SPACE: &str = "v1.double-space";
    pub const V1_BAD_FAMILY: &str = "v1.bad-family";
    pub const V1_MISSING_FIELD: &str = "v1.missing-field";
    pub const V1_BAD_ADDRESS: &str = "v1.bad-address";
    pub const V1_LEADING_ZERO: &str = "v1.leading-zero";
    pub const V1_FAMILY_MISMATCH: &str = "v1.family-mismatch";
    pub const V1_BAD_PORT: &str = "v1.bad-port";
    pub const V1_TRAILING_DATA: &str = "v1.trailing-data";
    /// Warning: `PROXY UNKNOWN` followed by more than CRLF (valid per spec, `HAProxy` rejects it).
    pub const V1_UNKNOWN_WITH_DATA: &str = "v1.unknown-with-data";

    pub const V2_TRUNCATED: &str = "v2.truncated";
    pub const V2_BAD_VERSION: &str = "v2.bad-version";
    pub const V2_BAD_COMMAND: &str = "v2.bad-command";
    pub const V2_BAD_FAMILY: &str = "v2.bad-family";
    pub const V2_LENGTH_TOO_SMALL: &str = "v2.length-too-small";
    pub const V2_TLV_OVERRUN: &str = "v2.tlv-overrun";
    pub const V2_SUBTLV_OVERRUN: &str = "v2.subtlv-overrun";
    pub const V2_CRC32C_MISMATCH: &str = "v2.crc32c-mismatch";
    pub const V2_CRC32C_BAD_LENGTH: &str = "v2.crc32c-bad-length";
    pub const V2_CRC32C_DUPLICATE: &str = "v2.crc32c-duplicate";
    pub const V2_ALPN_EMPTY: &str = "v2.alpn-empty";
    pub const V2_AUTHORITY_EMPTY: &str = "v2.authority-empty";
    pub const V2_AUTHORITY_TOO_LONG: &str = "v2.authority-too-long";
    pub const V2_AUTHORITY_NOT_UTF8: &str = "v2.authority-not-utf8";
    pub const V2_UNIQUE_ID_EMPTY: &str = "v2.unique-id-empty";
    pub const V2_UNIQUE_ID_TOO_LONG: &str = "v2.unique-id-too-long";
    pub const V2_TLV_OVER_HAPROXY_CAP: &str = "v2.tlv-over-haproxy-cap";
    pub const V2_TLV_TYPE_ZERO: &str = "v2.tlv-type-zero";
    pub const V2_SUBTYPE_OUTSIDE_SSL: &str = "v2.subtype-outside-ssl";
    pub const V2_SSL_TOO_SHORT: &str = "v2.ssl-too-short";
    pub const V2_SSL_UNKNOWN_CLIENT_BITS: &str = "v2.ssl-unknown-client-bits";
    pub const V2_SSL_UNKNOWN_SUBTYPE: &str = "v2.ssl-unknown-subtype";
    pub const V2_SSL_CLIENT_CERT_UNDECODABLE: &str = "v2.ssl-client-cert-undecodable";
    pub const V2_VENDOR_BAD_VALUE: &str = "v2.vendor-bad-value";
    pub const V2_HEADER_LARGE: &str = "v2.header-large";
    pub const V2_LOCAL_LAYOUT_AMBIGUOUS: &str = "v2.local-layout-ambiguous";
    pub const V2_LOCAL_LAYOUT_HAPROXY_REJECTS: &str = "v2.local-layout-haproxy-rejects";
}

/// v2 command (v1 is always `PROXY`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Command {
    #[serde(rename = "PROXY")]
    Proxy,
    #[serde(rename = "LOCAL")]
    Local,
}

/// Address family and transport: the v2 family byte, or the v1 protocol word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Family {
    #[serde(rename = "TCP4")]
    Tcp4,
    #[serde(rename = "UDP4")]
    Udp4,
    #[serde(rename = "TCP6")]
    Tcp6,
    #[serde(rename = "UDP6")]
    Udp6,
    #[serde(rename = "UNIX_STREAM")]
    UnixStream,
    #[serde(rename = "UNIX_DGRAM")]
    UnixDgram,
    /// v2 `0x00`.
    #[serde(rename = "UNSPEC")]
    Unspec,
    /// v1 `PROXY UNKNOWN`.
    #[serde(rename = "UNKNOWN")]
    Unknown,
}

/// How far the header could be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Complete,
    /// The capture ends inside the header; not a protocol error.
    Truncated,
    Malformed,
}

/// CRC32C verdict for the header (v1 is always `absent`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Crc32cStatus {
    Valid,
    Invalid,
    Absent,
    /// A CRC32C TLV is present but the header is truncated, so the CRC cannot be computed.
    Unverifiable,
}

/// One problem, fatal (`error`) or not (`warnings`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Issue {
    /// Stable dotted code, see [`code`].
    pub code: &'static str,
    /// Byte offset from the first byte of the header.
    pub offset: usize,
    /// One line for humans.
    pub message: String,
}

impl Issue {
    pub(crate) fn new(code: &'static str, offset: usize, message: impl Into<String>) -> Self {
        Self {
            code,
            offset,
            message: message.into(),
        }
    }
}

/// Which reading of a v2 LOCAL header with an address family was used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum LayoutReading {
    /// TLVs start at byte 16, the family is ignored: `HAProxy`'s receiver, AWS NLB health checks.
    #[serde(rename = "tlvs-at-16")]
    TlvsAt16,
    /// An address block sized by the family, then TLVs: Wireshark, `ppp`, go-proxyproto.
    #[serde(rename = "address-block")]
    AddressBlock,
}

/// The decision for a v2 LOCAL header whose family byte names an address family.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LocalLayout {
    pub used: LayoutReading,
    /// `crc32c-verifies` | `length-below-address-block` | `only-reading-that-parses` | `ambiguous`.
    pub reason: &'static str,
    /// Whether the reading not used parses to the end of the header (and its CRC32C, if any,
    /// verifies).
    pub alternative_tlvs_valid: bool,
}

/// Everything the inspector found in one PROXY header. JSON contract: schema `lbcheck/1`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProxyHeader {
    /// 1 or 2.
    pub version: u8,
    /// `None` when the capture stops before it, or the v2 command nibble is invalid.
    pub command: Option<Command>,
    /// `None` when the capture stops before it, or the value is invalid.
    pub family: Option<Family>,
    pub src: Option<Box<str>>,
    pub dst: Option<Box<str>>,
    pub src_port: Option<u16>,
    pub dst_port: Option<u16>,
    /// v2: 16 + declared length (once the length field is captured, else the bytes seen);
    /// v1: up to and including CRLF (when no line end was found: the bytes examined).
    pub header_len: usize,
    /// v2 only: the length field (bytes after the 16-byte fixed part).
    pub declared_len: Option<u16>,
    /// Where the bytes after the header start: `header_len` when complete, the end of the
    /// captured bytes when truncated.
    pub payload_offset: usize,
    pub tlvs: Tlvs,
    pub crc32c: Crc32cStatus,
    pub status: Status,
    /// The fatal problem (for `truncated`, where the capture stopped). Boxed: most headers
    /// have none, and tens of thousands are kept.
    pub error: Option<Box<Issue>>,
    /// The first [`MAX_WARNINGS`].
    pub warnings: Vec<Issue>,
    /// Warnings past those, counted.
    pub warnings_not_listed: u32,
    /// Another PROXY header (v1 or v2) starts right after this one.
    pub stacked: bool,
    /// Only for v2 LOCAL headers whose family byte names an address family.
    pub local_layout: Option<LocalLayout>,
}

impl ProxyHeader {
    fn new(version: u8) -> Self {
        Self {
            version,
            command: None,
            family: None,
            src: None,
            dst: None,
            src_port: None,
            dst_port: None,
            header_len: 0,
            declared_len: None,
            payload_offset: 0,
            tlvs: Tlvs::default(),
            crc32c: Crc32cStatus::Absent,
            status: Status::Complete,
            error: None,
            warnings: Vec::new(),
            warnings_not_listed: 0,
            stacked: false,
            local_layout: None,
        }
    }

    fn fail(&mut self, issue: Issue) {
        self.status = Status::Malformed;
        self.error = Some(Box::new(issue));
    }

    fn truncate(&mut self, issue: Issue) {
        self.status = Status::Truncated;
        self.error = Some(Box::new(issue));
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Version {
    V1,
    V2,
}

/// Whether `bytes` start with a PROXY header, or a prefix of at least 6 bytes of a signature:
/// exactly when [`inspect`] returns one. The flow table's probe of UDP datagrams.
pub fn starts_header(bytes: &[u8]) -> bool {
    detect(bytes).is_some()
}

/// Which signature `bytes` start with (at least [`MIN_SIGNATURE_PREFIX`] bytes of it).
fn detect(bytes: &[u8]) -> Option<Version> {
    if bytes.len() < MIN_SIGNATURE_PREFIX {
        return None;
    }
    if bytes.starts_with(V1_SIGNATURE) {
        return Some(Version::V1);
    }
    let n = bytes.len().min(V2_SIGNATURE.len());
    (bytes.get(..n) == V2_SIGNATURE.get(..n)).then_some(Version::V2)
}

/// Inspect the in-order first bytes of one TCP direction (reassembled from offset 0, as
/// captured), or the payload of one UDP datagram. Returns `None` when the bytes do not start with
/// a PROXY header (nor with a prefix of at least 6 bytes of one of the two signatures).
///
/// The caller calls this once it has all the bytes it will ever get, so "needs more bytes" means
/// the header is truncated in the capture ([`Status::Truncated`]), never "not PROXY".
/// Warnings kept per header: 4 KiB of 3-byte TLVs make ~2,600 (~400 KB a flow, held with its
/// summary until the checks end); the first says what is wrong.
pub const MAX_WARNINGS: usize = 8;

pub fn inspect(bytes: &[u8]) -> Option<ProxyHeader> {
    let mut header = match detect(bytes)? {
        Version::V1 => v1::parse(bytes),
        Version::V2 => v2::parse(bytes),
    };
    let past = header.warnings.len().saturating_sub(MAX_WARNINGS);
    header.warnings.truncate(MAX_WARNINGS);
    header.warnings.shrink_to_fit();
    header.warnings_not_listed = past as u32;
    if header.status == Status::Complete {
        header.stacked = bytes
            .get(header.payload_offset..)
            .is_some_and(|rest| detect(rest).is_some());
    }
    Some(header)
}
