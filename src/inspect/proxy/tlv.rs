//! PROXY v2 TLVs: the walk over a region, names and classes of every type, decoding of standard,
//! SSL (with sub-TLVs bounded by the SSL TLV's own length) and vendor TLVs.
//!
//! Promise: never panics; a TLV that does not fit its region stops the walk and is reported
//! with its offset; a region cut short by the capture stops the walk as "truncated".

use serde::Serialize;

use super::der::{self, CertNames};
use super::text::{escape, hex};
use super::{Crc32cStatus, Issue, code, crc};

/// Byte offsets inside one TLV and inside the SSL TLV value.
pub mod field {
    use core::ops::Range;
    pub const TYPE: usize = 0;
    pub const LENGTH: Range<usize> = 1..3;
    /// Size of type + length; the smallest TLV.
    pub const HEADER: usize = 3;
    /// SSL value: `client` bit field.
    pub const SSL_CLIENT: usize = 0;
    /// SSL value: `verify`, big-endian u32.
    pub const SSL_VERIFY: Range<usize> = 1..5;
    /// SSL value: first sub-TLV.
    pub const SSL_SUB_TLVS: usize = 5;
}

/// TLV type numbers (spec §2.2, and the vendor values in `notes/PROTOCOL.md` (b)).
pub mod kind {
    pub const ALPN: u8 = 0x01;
    pub const AUTHORITY: u8 = 0x02;
    pub const CRC32C: u8 = 0x03;
    pub const NOOP: u8 = 0x04;
    pub const UNIQUE_ID: u8 = 0x05;
    pub const SSL: u8 = 0x20;
    pub const SSL_VERSION: u8 = 0x21;
    pub const SSL_CN: u8 = 0x22;
    pub const SSL_CIPHER: u8 = 0x23;
    pub const SSL_SIG_ALG: u8 = 0x24;
    pub const SSL_KEY_ALG: u8 = 0x25;
    pub const SSL_GROUP: u8 = 0x26;
    pub const SSL_SIG_SCHEME: u8 = 0x27;
    pub const SSL_CLIENT_CERT: u8 = 0x28;
    pub const NETNS: u8 = 0x30;
    pub const GCP: u8 = 0xE0;
    pub const ALIBABA: u8 = 0xE1;
    pub const AWS: u8 = 0xEA;
    pub const AZURE: u8 = 0xEE;
    /// Vendor sub-type shared by AWS (VPCE id), Azure (`LinkID`) and Alibaba (VPC id).
    pub const VENDOR_SUB_1: u8 = 0x01;
    pub const ALIBABA_ENDPOINT_ID: u8 = 0x02;
    pub const ALIBABA_ENDPOINT_SERVICE_ID: u8 = 0x03;
}

/// `HAProxy` refuses `AUTHORITY` values longer than this (`HA_PP2_AUTHORITY_MAX`).
const AUTHORITY_MAX: usize = 255;
/// `HAProxy` refuses `UNIQUE_ID` values longer than this (`UNIQUEID_LEN`, spec: "up to 128 bytes").
const UNIQUE_ID_MAX: usize = 128;
/// `HAProxy` fails the connection on any TLV value longer than this (`HA_PP2_MAX_ALLOC`).
const HAPROXY_TLV_CAP: usize = 1024;

/// `client` bits of the SSL TLV.
pub const SSL_CLIENT_FLAGS: [(u8, &str); 3] =
    [(0x01, "SSL"), (0x02, "CERT_CONN"), (0x04, "CERT_SESS")];

/// Where a type number sits in the spec's type space.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TlvClass {
    Standard,
    /// 0xE0–0xEF, application specific (vendors).
    Custom,
    /// 0xF0–0xF7.
    Experimental,
    /// 0xF8–0xFF, reserved for future multi-byte types.
    Reserved,
    Unassigned,
}

impl TlvClass {
    pub fn of(kind: u8) -> Self {
        match kind {
            0x01..=0x05 | 0x20..=0x28 | 0x30 => Self::Standard,
            0xE0..=0xEF => Self::Custom,
            0xF0..=0xF7 => Self::Experimental,
            0xF8..=0xFF => Self::Reserved,
            _ => Self::Unassigned,
        }
    }
}

/// One decoded TLV (or SSL sub-TLV, or vendor sub-type).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tlv {
    #[serde(rename = "type")]
    pub kind: u8,
    pub name: &'static str,
    pub class: TlvClass,
    /// Value length in bytes (for a vendor sub-type: the bytes after the sub-type byte).
    pub length: u16,
    /// Byte offset of the TLV's type byte (vendor sub-type: of the sub-type byte) in the header.
    pub offset: usize,
    /// Text where the type is text, decimal for numeric vendor ids, hex otherwise;
    /// always escaped for a terminal.
    pub value: String,
    /// SSL sub-TLVs, or vendor sub-types.
    pub sub: Vec<Tlv>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vendor: Option<&'static str>,
    /// SSL: the `client` byte.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client: Option<u8>,
    /// SSL: names of the `client` bits that are set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_flags: Option<Vec<&'static str>>,
    /// SSL: `verify` (0 = client certificate verified).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verify: Option<u32>,
    /// SSL `CLIENT_CERT`: subject and issuer from the DER certificate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cert: Option<CertNames>,
    /// CRC32C TLV: whether it verifies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crc32c: Option<Crc32cStatus>,
}

impl Tlv {
    /// `render`: the value as hex (see [`Walk`]).
    fn raw(kind: u8, name: &'static str, offset: usize, value: &[u8], render: bool) -> Self {
        Self {
            kind,
            name,
            class: TlvClass::of(kind),
            length: u16::try_from(value.len()).unwrap_or(u16::MAX),
            offset,
            value: if render { hex(value) } else { String::new() },
            sub: Vec::new(),
            vendor: None,
            client: None,
            client_flags: None,
            verify: None,
            cert: None,
            crc32c: None,
        }
    }
}

/// Name of a top-level type.
pub fn name(kind: u8) -> &'static str {
    match kind {
        kind::ALPN => "ALPN",
        kind::AUTHORITY => "AUTHORITY",
        kind::CRC32C => "CRC32C",
        kind::NOOP => "NOOP",
        kind::UNIQUE_ID => "UNIQUE_ID",
        kind::SSL => "SSL",
        kind::NETNS => "NETNS",
        kind::GCP => "GCP_PSC_CONNECTION_ID",
        kind::ALIBABA => "ALIBABA_PRIVATELINK",
        kind::AWS => "AWS",
        kind::AZURE => "AZURE",
        other => ssl_sub_name(other).unwrap_or(match TlvClass::of(other) {
            TlvClass::Custom => "CUSTOM",
            TlvClass::Experimental => "EXPERIMENTAL",
            TlvClass::Reserved => "RESERVED",
            TlvClass::Standard | TlvClass::Unassigned => "UNASSIGNED",
        }),
    }
}

pub fn ssl_sub_name(kind: u8) -> Option<&'static str> {
    Some(match kind {
        kind::SSL_VERSION => "SSL_VERSION",
        kind::SSL_CN => "SSL_CN",
        kind::SSL_CIPHER => "SSL_CIPHER",
        kind::SSL_SIG_ALG => "SSL_SIG_ALG",
        kind::SSL_KEY_ALG => "SSL_KEY_ALG",
        kind::SSL_GROUP => "SSL_GROUP",
        kind::SSL_SIG_SCHEME => "SSL_SIG_SCHEME",
        kind::SSL_CLIENT_CERT => "SSL_CLIENT_CERT",
        _ => return None,
    })
}

/// Top-level TLVs, or the sub-TLVs of an SSL TLV.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Context {
    Top,
    Ssl,
}

/// The TLVs of a header, kept as their captured bytes and decoded each time they are read.
/// Only the report shows them, and tens of thousands of headers are kept for the whole run:
/// decoded (names, values as text, sub-TLV lists) they cost several times their bytes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Tlvs {
    /// The captured part of the TLV region (shorter than `declared` when the capture is cut).
    region: Box<[u8]>,
    /// Offset of the region in the header.
    start: usize,
    declared: usize,
    /// The verdict of each well-formed CRC32C TLV, by the offset of its value (the CRC covers
    /// the whole header, which is not kept).
    crc: Box<[(usize, Crc32cStatus)]>,
}

impl Tlvs {
    /// Keeps what [`Tlvs::decode`] needs to walk the region again (`start`, `declared`: as
    /// given to [`walk`]).
    pub fn keep(
        region: &[u8],
        start: usize,
        declared: usize,
        crc: Vec<(usize, Crc32cStatus)>,
    ) -> Self {
        Self {
            region: region.into(),
            start,
            declared,
            crc: crc.into_boxed_slice(),
        }
    }

    /// The TLVs, framed but not decoded (see [`RawTlvs`]).
    pub fn raw(&self) -> RawTlvs<'_> {
        RawTlvs::new(&self.region, self.start, self.declared)
    }

    /// The parse-time verdict of the 4-byte CRC32C TLV whose value starts at `value_offset`.
    pub fn crc_verdict(&self, value_offset: usize) -> Option<Crc32cStatus> {
        self.crc
            .iter()
            .find(|&&(at, _)| at == value_offset)
            .map(|&(_, verdict)| verdict)
    }

    /// The TLVs, as the walk at parse time found them (its warnings are in the header).
    pub fn decode(&self) -> Vec<Tlv> {
        let mut tlvs = walk(&self.region, self.start, self.declared).tlvs;
        for &(at, verdict) in &self.crc {
            if let Some(tlv) = tlvs
                .iter_mut()
                .find(|t| t.kind == kind::CRC32C && t.offset + field::HEADER == at)
            {
                tlv.crc32c = Some(verdict);
            }
        }
        tlvs
    }
}

impl Serialize for Tlvs {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.decode().serialize(serializer)
    }
}

/// The result of walking one region of TLVs.
#[derive(Debug, Default)]
pub struct Walk {
    /// Offset of the first TLV (the end of the address block, if any).
    pub start: usize,
    /// Declared length of the region.
    pub declared: usize,
    pub tlvs: Vec<Tlv>,
    pub warnings: Vec<Issue>,
    /// A TLV that does not fit the region: the walk stopped there.
    pub overrun: Option<Issue>,
    /// The captured bytes end inside the region at this offset: the walk stopped there.
    pub truncated_at: Option<usize>,
    /// Offsets of the value bytes of each 4-byte CRC32C TLV.
    pub crc_values: Vec<usize>,
    /// Whether TLV values are rendered as text. The walk at parse time wants only the
    /// warnings, the CRC32C offsets and the kinds; the text (hex, escapes, certificate names)
    /// is made when the report is written, from the kept bytes.
    render: bool,
}

/// Walks the top-level TLVs of a header. `region` is the captured part of the TLV area (it may
/// be shorter than `declared_len` when the capture is cut), `base` its offset in the header.
pub fn walk(region: &[u8], base: usize, declared_len: usize) -> Walk {
    walk_rendering(region, base, declared_len, true)
}

/// [`walk`] without the values' text: what parsing a header needs (tens of thousands of
/// headers are parsed; their TLV text is only made for the report).
pub fn check(region: &[u8], base: usize, declared_len: usize) -> Walk {
    walk_rendering(region, base, declared_len, false)
}

impl Walk {
    /// `make()` when values are rendered, else nothing.
    fn text(&self, make: impl FnOnce() -> String) -> String {
        if self.render { make() } else { String::new() }
    }
}

fn walk_rendering(region: &[u8], base: usize, declared_len: usize, render: bool) -> Walk {
    let mut walk = Walk {
        start: base,
        declared: declared_len,
        render,
        ..Walk::default()
    };
    walk_into(&mut walk, region, base, declared_len, Context::Top);
    walk
}

/// One TLV as the walk finds it, not decoded.
#[derive(Debug, Clone, Copy)]
pub struct RawTlv<'a> {
    pub kind: u8,
    /// Offset of its type byte in the header.
    pub offset: usize,
    pub value: &'a [u8],
}

/// Why a walk over a region stopped before its declared end.
#[derive(Debug, Clone, Copy)]
enum Stop {
    /// Fewer than 3 bytes were left for the next TLV (at `offset`).
    ShortTail { offset: usize, left: usize },
    /// The TLV at `offset` declares more than the region has left.
    Overrun {
        offset: usize,
        kind: u8,
        len: usize,
        left: usize,
    },
    /// The captured bytes end inside the region, at this offset.
    Truncated(usize),
}

/// The TLVs of a region in order, framed (type, length, value) and bounded by the region's
/// declared length; the one place that framing is read, for the walk at parse time and for
/// the report's writer (`report::flow_json::tlv`).
pub struct RawTlvs<'a> {
    region: &'a [u8],
    base: usize,
    declared: usize,
    pos: usize,
    stop: Option<Stop>,
}

impl<'a> RawTlvs<'a> {
    /// `region`: the captured part of the TLV area, `base` its offset in the header,
    /// `declared` the length the header gives it.
    pub fn new(region: &'a [u8], base: usize, declared: usize) -> Self {
        Self {
            region,
            base,
            declared,
            pos: 0,
            stop: None,
        }
    }
}

impl<'a> Iterator for RawTlvs<'a> {
    type Item = RawTlv<'a>;

    fn next(&mut self) -> Option<RawTlv<'a>> {
        if self.stop.is_some() || self.pos >= self.declared {
            return None;
        }
        let (pos, declared, region) = (self.pos, self.declared, self.region);
        let offset = self.base + pos;
        let left = declared - pos;
        let stop = if left < field::HEADER {
            Stop::ShortTail { offset, left }
        } else if let Some(head) = region.get(pos..pos + field::HEADER) {
            let kind = head[field::TYPE];
            let len = usize::from(u16::from_be_bytes([head[1], head[2]]));
            let value_start = pos + field::HEADER;
            if len > declared - value_start {
                Stop::Overrun {
                    offset,
                    kind,
                    len,
                    left: declared - value_start,
                }
            } else if let Some(value) = region.get(value_start..value_start + len) {
                self.pos = value_start + len;
                return Some(RawTlv {
                    kind,
                    offset,
                    value,
                });
            } else {
                Stop::Truncated(self.base + region.len())
            }
        } else {
            Stop::Truncated(self.base + region.len())
        };
        self.stop = Some(stop);
        None
    }
}

fn walk_into(walk: &mut Walk, region: &[u8], base: usize, declared_len: usize, ctx: Context) {
    let mut raw = RawTlvs::new(region, base, declared_len);
    for t in raw.by_ref() {
        let tlv = decode(walk, t.kind, t.offset, t.value, ctx);
        walk.tlvs.push(tlv);
    }
    match raw.stop {
        None => {}
        Some(Stop::ShortTail { offset, left }) => {
            walk.overrun = Some(Issue::new(
                overrun_code(ctx),
                offset,
                format!(
                    "{left} byte(s) left at the end of the {}: too few for a TLV (3)",
                    region_name(ctx)
                ),
            ));
        }
        Some(Stop::Overrun {
            offset,
            kind,
            len,
            left,
        }) => {
            walk.overrun = Some(Issue::new(
                overrun_code(ctx),
                offset,
                format!(
                    "TLV type 0x{kind:02x} declares {len} byte(s) but only {left} remain in the {}",
                    region_name(ctx)
                ),
            ));
        }
        Some(Stop::Truncated(at)) => walk.truncated_at = Some(at),
    }
}

/// One TLV decoded alone, as the report's walk decodes it (`ssl_sub`: inside an SSL TLV).
/// For the writer's rare types: it writes the common ones straight from their bytes.
pub fn decode_one(raw: RawTlv<'_>, ssl_sub: bool) -> Tlv {
    let mut walk = Walk {
        render: true,
        ..Walk::default()
    };
    let ctx = if ssl_sub { Context::Ssl } else { Context::Top };
    decode(&mut walk, raw.kind, raw.offset, raw.value, ctx)
}

/// A big-endian u16 from exactly 2 bytes.
pub fn be_u16(bytes: &[u8]) -> Option<u16> {
    Some(u16::from_be_bytes(bytes.try_into().ok()?))
}

/// The warning for an empty value, for the types where empty makes no sense.
fn empty_code(kind: u8) -> Option<&'static str> {
    match kind {
        kind::ALPN => Some(code::V2_ALPN_EMPTY),
        kind::AUTHORITY => Some(code::V2_AUTHORITY_EMPTY),
        kind::UNIQUE_ID => Some(code::V2_UNIQUE_ID_EMPTY),
        _ => None,
    }
}

fn overrun_code(ctx: Context) -> &'static str {
    match ctx {
        Context::Top => code::V2_TLV_OVERRUN,
        Context::Ssl => code::V2_SUBTLV_OVERRUN,
    }
}

fn region_name(ctx: Context) -> &'static str {
    match ctx {
        Context::Top => "header",
        Context::Ssl => "SSL TLV",
    }
}

fn decode(walk: &mut Walk, kind: u8, offset: usize, value: &[u8], ctx: Context) -> Tlv {
    let value_offset = offset + field::HEADER;
    let warn = |walk: &mut Walk, code, message: String| {
        walk.warnings.push(Issue::new(code, offset, message));
    };
    if kind == 0 {
        warn(
            walk,
            code::V2_TLV_TYPE_ZERO,
            "TLV type 0x00 is unassigned: zero padding instead of a NOOP TLV?".into(),
        );
    }
    if ctx == Context::Ssl {
        return decode_ssl_sub(walk, kind, offset, value);
    }
    if value.len() > HAPROXY_TLV_CAP {
        warn(
            walk,
            code::V2_TLV_OVER_HAPROXY_CAP,
            format!(
                "TLV type 0x{kind:02x} value is {} bytes: HAProxy refuses more than {HAPROXY_TLV_CAP}",
                value.len()
            ),
        );
    }
    // The text types get their text below: no hex made to be thrown away.
    let text_type = matches!(kind, kind::ALPN | kind::NETNS | kind::AUTHORITY);
    let mut tlv = Tlv::raw(kind, name(kind), offset, value, walk.render && !text_type);
    if let (true, Some(empty_code)) = (value.is_empty(), empty_code(kind)) {
        warn(
            walk,
            empty_code,
            format!("{} TLV with an empty value", tlv.name),
        );
    }
    match kind {
        kind::ALPN | kind::NETNS => tlv.value = walk.text(|| escape(value)),
        kind::AUTHORITY => {
            tlv.value = walk.text(|| escape(value));
            if value.len() > AUTHORITY_MAX {
                let message = format!(
                    "AUTHORITY is {} bytes: HAProxy refuses more than {AUTHORITY_MAX}",
                    value.len()
                );
                warn(walk, code::V2_AUTHORITY_TOO_LONG, message);
            }
            if core::str::from_utf8(value).is_err() {
                warn(
                    walk,
                    code::V2_AUTHORITY_NOT_UTF8,
                    "AUTHORITY is not UTF-8".into(),
                );
            }
        }
        kind::CRC32C if value.len() == crc::LEN => {
            if !walk.crc_values.is_empty() {
                warn(
                    walk,
                    code::V2_CRC32C_DUPLICATE,
                    "more than one CRC32C TLV".into(),
                );
            }
            walk.crc_values.push(value_offset);
        }
        kind::CRC32C => {
            tlv.crc32c = Some(Crc32cStatus::Invalid);
            let message = format!(
                "CRC32C TLV is {} bytes, must be 4 (HAProxy rejects the header)",
                value.len()
            );
            warn(walk, code::V2_CRC32C_BAD_LENGTH, message);
        }
        kind::UNIQUE_ID if value.len() > UNIQUE_ID_MAX => {
            let message = format!(
                "UNIQUE_ID is {} bytes: the spec allows up to {UNIQUE_ID_MAX}",
                value.len()
            );
            warn(walk, code::V2_UNIQUE_ID_TOO_LONG, message);
        }
        kind::SSL => decode_ssl(walk, &mut tlv, value, value_offset),
        kind::SSL_VERSION..=kind::SSL_CLIENT_CERT => {
            warn(
                walk,
                code::V2_SUBTYPE_OUTSIDE_SSL,
                format!("SSL sub-type 0x{kind:02x} used as a top-level TLV"),
            );
            let sub = decode_ssl_sub(walk, kind, offset, value);
            tlv.value = sub.value;
            tlv.cert = sub.cert;
        }
        kind::GCP => decode_gcp(walk, &mut tlv, value),
        kind::ALIBABA => decode_alibaba(walk, &mut tlv, value, value_offset),
        kind::AWS => decode_aws(walk, &mut tlv, value, value_offset),
        kind::AZURE => decode_azure(walk, &mut tlv, value, value_offset),
        // NOOP and everything else: hex, as set by `raw`.
        _ => {}
    }
    tlv
}

/// SSL TLV: `client`, `verify`, then sub-TLVs bounded by the SSL TLV's own length (Wireshark
/// bounds them by the end of the header and nests later TLVs under SSL).
fn decode_ssl(walk: &mut Walk, tlv: &mut Tlv, value: &[u8], value_offset: usize) {
    let verify = value
        .get(field::SSL_VERIFY)
        .and_then(|b| <[u8; 4]>::try_from(b).ok());
    let (Some(&client), Some(verify)) = (value.get(field::SSL_CLIENT), verify) else {
        walk.warnings.push(Issue::new(
            code::V2_SSL_TOO_SHORT,
            tlv.offset,
            format!(
                "SSL TLV is {} bytes: needs at least 5 (client, verify)",
                value.len()
            ),
        ));
        return;
    };
    let verify = u32::from_be_bytes(verify);
    let flags: Vec<&'static str> = SSL_CLIENT_FLAGS
        .iter()
        .filter(|(bit, _)| client & bit != 0)
        .map(|(_, name)| *name)
        .collect();
    let unknown_bits = client & !SSL_CLIENT_FLAGS.iter().fold(0, |acc, (bit, _)| acc | bit);
    if unknown_bits != 0 {
        walk.warnings.push(Issue::new(
            code::V2_SSL_UNKNOWN_CLIENT_BITS,
            value_offset + field::SSL_CLIENT,
            format!("SSL client byte 0x{client:02x} has unknown bits 0x{unknown_bits:02x}"),
        ));
    }
    tlv.value = walk.text(|| {
        format!(
            "client={} verify={verify}",
            if flags.is_empty() {
                "none".to_owned()
            } else {
                flags.join("|")
            }
        )
    });
    tlv.client = Some(client);
    tlv.client_flags = Some(flags);
    tlv.verify = Some(verify);

    let subs = value.get(field::SSL_SUB_TLVS..).unwrap_or_default();
    let mut inner = Walk {
        render: walk.render,
        ..Walk::default()
    };
    walk_into(
        &mut inner,
        subs,
        value_offset + field::SSL_SUB_TLVS,
        subs.len(),
        Context::Ssl,
    );
    walk.warnings.append(&mut inner.warnings);
    walk.warnings.extend(inner.overrun);
    tlv.sub = inner.tlvs;
    tlv.sub.shrink_to_fit();
}

fn decode_ssl_sub(walk: &mut Walk, kind: u8, offset: usize, value: &[u8]) -> Tlv {
    let Some(name) = ssl_sub_name(kind) else {
        walk.warnings.push(Issue::new(
            code::V2_SSL_UNKNOWN_SUBTYPE,
            offset,
            format!("unknown SSL sub-type 0x{kind:02x}"),
        ));
        return Tlv::raw(kind, "SSL_UNKNOWN_SUBTYPE", offset, value, walk.render);
    };
    // Every value below gets its text (hex only for a certificate that does not decode).
    let mut tlv = Tlv::raw(kind, name, offset, value, false);
    if kind == kind::SSL_CLIENT_CERT {
        if let Some(names) = der::cert_names(value) {
            tlv.value = walk.text(|| format!("subject={}; issuer={}", names.subject, names.issuer));
            tlv.cert = Some(names);
        } else {
            tlv.value = walk.text(|| hex(value));
            walk.warnings.push(Issue::new(
                code::V2_SSL_CLIENT_CERT_UNDECODABLE,
                offset,
                "SSL_CLIENT_CERT is not a DER X.509 certificate this inspector can read",
            ));
        }
    } else {
        tlv.value = walk.text(|| escape(value));
    }
    tlv
}

fn vendor_warning(walk: &mut Walk, tlv: &Tlv, expected: &str) {
    walk.warnings.push(Issue::new(
        code::V2_VENDOR_BAD_VALUE,
        tlv.offset,
        format!(
            "{} TLV 0x{:02x} of {} bytes: expected {expected}",
            tlv.name, tlv.kind, tlv.length
        ),
    ));
}

/// A vendor sub-type: one sub-type byte at `offset`, then `rest`.
fn vendor_sub(kind: u8, name: &'static str, offset: usize, rest: &[u8], value: String) -> Tlv {
    let mut sub = Tlv::raw(kind, name, offset, rest, false);
    sub.class = TlvClass::Custom;
    sub.value = value;
    sub
}

/// GCP Private Service Connect: 8-byte big-endian connection id.
fn decode_gcp(walk: &mut Walk, tlv: &mut Tlv, value: &[u8]) {
    tlv.vendor = Some("gcp");
    match <[u8; 8]>::try_from(value) {
        Ok(id) => tlv.value = walk.text(|| u64::from_be_bytes(id).to_string()),
        Err(_) => vendor_warning(walk, tlv, "8 bytes (PSC connection id, big-endian u64)"),
    }
}

/// AWS: sub-type 0x01 then the VPC endpoint id in ASCII (`[A-Za-z0-9-]*`).
fn decode_aws(walk: &mut Walk, tlv: &mut Tlv, value: &[u8], value_offset: usize) {
    tlv.vendor = Some("aws");
    match value.split_first() {
        Some((&kind::VENDOR_SUB_1, id)) => {
            if !id.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-') {
                vendor_warning(walk, tlv, "an ASCII VPC endpoint id [A-Za-z0-9-]");
            }
            tlv.value = walk.text(|| escape(id));
            tlv.sub = vec![vendor_sub(
                kind::VENDOR_SUB_1,
                "AWS_VPCE_ID",
                value_offset,
                id,
                tlv.value.clone(),
            )];
        }
        Some((&other, rest)) => {
            tlv.sub = vec![vendor_sub(
                other,
                "AWS_UNKNOWN_SUBTYPE",
                value_offset,
                rest,
                walk.text(|| hex(rest)),
            )];
        }
        None => vendor_warning(walk, tlv, "sub-type 0x01 and a VPC endpoint id"),
    }
}

/// Azure Private Link: sub-type 0x01 then the `LinkID` as a little-endian u32; exactly 5 bytes.
fn decode_azure(walk: &mut Walk, tlv: &mut Tlv, value: &[u8], value_offset: usize) {
    tlv.vendor = Some("azure");
    if let &[kind::VENDOR_SUB_1, a, b, c, d] = value {
        let link_id = walk.text(|| u32::from_le_bytes([a, b, c, d]).to_string());
        tlv.value.clone_from(&link_id);
        tlv.sub = vec![vendor_sub(
            kind::VENDOR_SUB_1,
            "AZURE_PRIVATEENDPOINT_LINKID",
            value_offset,
            &[a, b, c, d],
            link_id,
        )];
    } else {
        vendor_warning(
            walk,
            tlv,
            "5 bytes (sub-type 0x01, LinkID little-endian u32)",
        );
    }
}

/// Alibaba Cloud `PrivateLink`: one sub-type byte (VPC id, endpoint id, endpoint-service id) then
/// the id string; one TLV per sub-type.
fn decode_alibaba(walk: &mut Walk, tlv: &mut Tlv, value: &[u8], value_offset: usize) {
    tlv.vendor = Some("alibaba");
    let Some((&sub_kind, id)) = value.split_first() else {
        vendor_warning(walk, tlv, "a sub-type byte and an id");
        return;
    };
    let (name, label) = match sub_kind {
        kind::VENDOR_SUB_1 => ("ALIBABA_VPC_ID", "vpc-id"),
        kind::ALIBABA_ENDPOINT_ID => ("ALIBABA_ENDPOINT_ID", "endpoint-id"),
        kind::ALIBABA_ENDPOINT_SERVICE_ID => ("ALIBABA_ENDPOINT_SERVICE_ID", "endpoint-service-id"),
        _ => {
            tlv.sub = vec![vendor_sub(
                sub_kind,
                "ALIBABA_UNKNOWN_SUBTYPE",
                value_offset,
                id,
                walk.text(|| hex(id)),
            )];
            return;
        }
    };
    tlv.value = walk.text(|| format!("{label}={}", escape(id)));
    tlv.sub = vec![vendor_sub(
        sub_kind,
        name,
        value_offset,
        id,
        walk.text(|| escape(id)),
    )];
}
