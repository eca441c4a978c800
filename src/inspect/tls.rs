//! TLS: the record layer and the `ClientHello` (RFC 8446 §4.1.2, RFC 5246 §7.4.1.2).
//!
//! [`parse_client_hello`] reads the first handshake message of a connection, joined from as
//! many handshake records as it spans, and keeps what tells a load-balancer story: SNI, ALPN,
//! the offered versions. The outcome says apart "not TLS", "TLS but not a `ClientHello`",
//! "the bytes stop inside it" and "its lengths disagree".
//!
//! Lax about truncation: a record cut by the capture still gives its bytes; only when the
//! `ClientHello` itself is incomplete is the answer [`TlsParse::NeedMore`].
//! Never panics, on any input.

use std::borrow::Cow;

use serde::Serialize;

use crate::inspect::escape::{escape_bytes, escape_common};

#[cfg(test)]
mod tests;

/// Record header: content type (1), legacy record version (2), length (2).
mod record {
    pub const TYPE: usize = 0;
    pub const VERSION: std::ops::Range<usize> = 1..3;
    pub const LENGTH: std::ops::Range<usize> = 3..5;
    pub const HEADER_LEN: usize = 5;
    /// RFC 8446 §5.1: a plaintext fragment is at most 2^14 bytes.
    pub const MAX_PLAINTEXT: usize = 1 << 14;
    /// RFC 5246 §6.2.3: a protected record may add up to 2048 bytes.
    pub const MAX_CIPHERTEXT: usize = MAX_PLAINTEXT + 2048;
}

/// Handshake header: message type (1), length (3).
mod handshake {
    pub const HEADER_LEN: usize = 4;
    pub const CLIENT_HELLO: u8 = 1;
}

/// `ClientHello` body fields with fixed size.
mod hello {
    pub const LEGACY_VERSION_LEN: usize = 2;
    pub const RANDOM_LEN: usize = 32;
    pub const MAX_SESSION_ID_LEN: usize = 32;
}

/// Extension types read here (IANA "TLS `ExtensionType` Values").
mod extension {
    pub const SERVER_NAME: u16 = 0;
    pub const ALPN: u16 = 16;
    pub const SUPPORTED_VERSIONS: u16 = 43;
    pub const ENCRYPTED_CLIENT_HELLO: u16 = 0xfe0d;
    /// RFC 6066 §3 `NameType` `host_name`.
    pub const HOST_NAME: u8 = 0;
}

/// ALPN protocols kept without an allocation.
const COMMON_ALPN: &[&str] = &["h2", "http/1.1"];

const CONTENT_CHANGE_CIPHER_SPEC: u8 = 20;
const CONTENT_ALERT: u8 = 21;
const CONTENT_HANDSHAKE: u8 = 22;
const CONTENT_APPLICATION_DATA: u8 = 23;
const CONTENT_HEARTBEAT: u8 = 24;

/// Escaped length kept for a server name or an ALPN protocol.
const MAX_NAME_CHARS: usize = 255;

/// What the first bytes of a connection are, as TLS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", content = "value", rename_all = "kebab-case")]
pub enum TlsParse {
    /// Not the start of a TLS record. Fewer than 5 bytes count as this unless they can still
    /// begin a handshake record.
    NotTls,
    /// A TLS record whose first message is not a `ClientHello` (an alert, a `ServerHello`, …);
    /// the text names it.
    NotClientHello(String),
    /// A `ClientHello` that the bytes stop inside.
    NeedMore,
    /// TLS records whose lengths or fields disagree; the text says where.
    Malformed(String),
    /// A complete `ClientHello`.
    ClientHello(ClientHello),
}

/// What a `ClientHello` offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClientHello {
    /// Version of the first record (`TLS1.0` is usual, whatever is negotiated).
    pub record_version: Cow<'static, str>,
    /// `legacy_version` of the hello (`TLS1.2` for TLS 1.3 clients).
    pub legacy_version: Cow<'static, str>,
    /// First host name of the `server_name` extension, escaped.
    pub sni: Option<Box<str>>,
    /// ALPN protocols in client order, escaped: the first [`MAX_ALPN`].
    pub alpn: Box<[Cow<'static, str>]>,
    /// Protocols past those, counted.
    pub alpn_not_listed: u32,
    /// `supported_versions` in client order (`TLS1.3`, `GREASE`, `0x7f1c`…).
    pub supported_versions: Box<[Cow<'static, str>]>,
    /// Whether it carries `encrypted_client_hello` (RFC 9849): the `sni` is then the public
    /// name of the client-facing server, not the host the client wants.
    pub encrypted_client_hello: bool,
    /// Handshake records the message spanned (more than 1 is legal but unusual).
    pub records: usize,
}

/// Names the record type when `bytes` start like a TLS record (type 20–24, major version 3,
/// minor 0–4, a length no record can exceed): `handshake`, `alert`, `change_cipher_spec`,
/// `application_data`, `heartbeat`. Needs the 5-byte record header.
pub fn looks_like_tls(bytes: &[u8]) -> Option<&'static str> {
    let header = bytes.get(..record::HEADER_LEN)?;
    let name = content_type_name(header[record::TYPE])?;
    let [major, minor] = [
        header[record::VERSION.start],
        header[record::VERSION.start + 1],
    ];
    let length = read_u16(&header[record::LENGTH]);
    (major == 3 && minor <= 4 && length > 0 && usize::from(length) <= record::MAX_CIPHERTEXT)
        .then_some(name)
}

fn content_type_name(content_type: u8) -> Option<&'static str> {
    Some(match content_type {
        CONTENT_CHANGE_CIPHER_SPEC => "change_cipher_spec",
        CONTENT_ALERT => "alert",
        CONTENT_HANDSHAKE => "handshake",
        CONTENT_APPLICATION_DATA => "application_data",
        CONTENT_HEARTBEAT => "heartbeat",
        _ => return None,
    })
}

/// Reads the `ClientHello` at the start of `bytes`.
pub fn parse_client_hello(bytes: &[u8]) -> TlsParse {
    if bytes.len() < record::HEADER_LEN {
        // Too short to tell: a handshake record header so far is "maybe".
        let maybe = bytes.first().is_none_or(|&t| t == CONTENT_HANDSHAKE)
            && bytes.get(1).is_none_or(|&major| major == 3)
            && bytes.get(2).is_none_or(|&minor| minor <= 4);
        return if maybe {
            TlsParse::NeedMore
        } else {
            TlsParse::NotTls
        };
    }
    let Some(record_name) = looks_like_tls(bytes) else {
        return TlsParse::NotTls;
    };
    if bytes[record::TYPE] != CONTENT_HANDSHAKE {
        return TlsParse::NotClientHello(format!("TLS {record_name} record"));
    }
    let record_version = version_name(read_u16(&bytes[record::VERSION]));
    let (message, records) = match join_handshake_message(bytes) {
        Ok(joined) => joined,
        Err(JoinError::NeedMore) => return TlsParse::NeedMore,
        Err(JoinError::Malformed(why)) => return TlsParse::Malformed(why),
    };
    let message_type = message[0];
    if message_type != handshake::CLIENT_HELLO {
        return TlsParse::NotClientHello(format!("TLS handshake {}", handshake_name(message_type)));
    }
    match parse_hello_body(&message[handshake::HEADER_LEN..]) {
        Ok(mut hello) => {
            hello.record_version = record_version;
            hello.records = records;
            TlsParse::ClientHello(hello)
        }
        Err(why) => TlsParse::Malformed(why),
    }
}

/// Joins handshake-record fragments until the first handshake message is whole; returns it
/// (header included) and the number of records used.
fn join_handshake_message(bytes: &[u8]) -> Result<(Vec<u8>, usize), JoinError> {
    let mut message = Vec::new();
    let mut pos = 0;
    let mut records = 0;
    loop {
        if let Some(needed) = message_len(&message) {
            if message.len() >= needed {
                message.truncate(needed);
                return Ok((message, records));
            }
        }
        let Some(header) = bytes.get(pos..pos + record::HEADER_LEN) else {
            return Err(JoinError::NeedMore);
        };
        if header[record::TYPE] != CONTENT_HANDSHAKE {
            return Err(JoinError::Malformed(format!(
                "record at byte {pos} has content type {} inside a handshake message",
                header[record::TYPE]
            )));
        }
        if header[record::VERSION.start] != 3 {
            return Err(JoinError::Malformed(format!(
                "record at byte {pos} has version 0x{:04x}",
                read_u16(&header[record::VERSION])
            )));
        }
        let length = usize::from(read_u16(&header[record::LENGTH]));
        if length == 0 {
            // RFC 8446 §5.1: no zero-length handshake fragments.
            return Err(JoinError::Malformed(format!(
                "zero-length handshake record at byte {pos}"
            )));
        }
        if length > record::MAX_PLAINTEXT {
            return Err(JoinError::Malformed(format!(
                "handshake record at byte {pos} is {length} bytes, over the 16384 limit"
            )));
        }
        let body_start = pos + record::HEADER_LEN;
        let body_end = body_start + length;
        // A record cut by the capture still gives the bytes it has.
        let available = &bytes[body_start..body_end.min(bytes.len())];
        message.extend_from_slice(available);
        records += 1;
        pos = body_end;
        if body_end > bytes.len() {
            return match message_len(&message) {
                Some(needed) if message.len() >= needed => {
                    message.truncate(needed);
                    Ok((message, records))
                }
                _ => Err(JoinError::NeedMore),
            };
        }
    }
}

/// Why the first handshake message could not be joined.
enum JoinError {
    NeedMore,
    Malformed(String),
}

/// Total length of the handshake message in `message` (header + body), once its header is in.
fn message_len(message: &[u8]) -> Option<usize> {
    let header = message.get(..handshake::HEADER_LEN)?;
    Some(handshake::HEADER_LEN + read_u24(&header[1..4]))
}

/// Parses a complete `ClientHello` body; every shortfall is a disagreement of lengths.
fn parse_hello_body(body: &[u8]) -> Result<ClientHello, String> {
    let mut reader = Reader::new(body);
    let legacy_version = reader.take(hello::LEGACY_VERSION_LEN, "legacy_version")?;
    reader.take(hello::RANDOM_LEN, "random")?;
    let session_id = reader.vec_u8("legacy_session_id")?;
    if session_id.len() > hello::MAX_SESSION_ID_LEN {
        return Err(format!(
            "legacy_session_id is {} bytes, over 32",
            session_id.len()
        ));
    }
    let suites = reader.vec_u16("cipher_suites")?;
    if suites.is_empty() || suites.len() % 2 != 0 {
        return Err(format!(
            "cipher_suites length {} is not a positive even number",
            suites.len()
        ));
    }
    if reader.vec_u8("legacy_compression_methods")?.is_empty() {
        return Err("no compression method".to_owned());
    }
    let mut hello = ClientHello {
        record_version: Cow::Borrowed(""),
        legacy_version: version_name(read_u16(legacy_version)),
        sni: None,
        alpn: Box::default(),
        alpn_not_listed: 0,
        supported_versions: Box::default(),
        encrypted_client_hello: false,
        records: 0,
    };
    if reader.remaining() == 0 {
        // No extensions at all (RFC 5246 allows that).
        return Ok(hello);
    }
    let extensions = reader.vec_u16("extensions")?;
    if reader.remaining() != 0 {
        return Err(format!(
            "{} bytes after the extensions, inside the ClientHello",
            reader.remaining()
        ));
    }
    let mut extensions = Reader::new(extensions);
    while extensions.remaining() > 0 {
        let kind = read_u16(extensions.take(2, "extension type")?);
        let data = extensions.vec_u16("extension data")?;
        match kind {
            extension::SERVER_NAME if hello.sni.is_none() => hello.sni = parse_sni(data)?,
            extension::ALPN if hello.alpn.is_empty() => {
                (hello.alpn, hello.alpn_not_listed) = parse_alpn(data)?;
            }
            extension::SUPPORTED_VERSIONS if hello.supported_versions.is_empty() => {
                hello.supported_versions = parse_supported_versions(data)?;
            }
            extension::ENCRYPTED_CLIENT_HELLO => hello.encrypted_client_hello = true,
            _ => {}
        }
    }
    Ok(hello)
}

/// RFC 6066 §3 `ServerNameList`: the first `host_name`.
fn parse_sni(data: &[u8]) -> Result<Option<Box<str>>, String> {
    let mut outer = Reader::new(data);
    let mut list = Reader::new(outer.vec_u16("server_name list")?);
    while list.remaining() > 0 {
        let name_type = list.take(1, "server_name type")?[0];
        let name = list.vec_u16("server_name")?;
        if name_type == extension::HOST_NAME {
            return Ok(Some(escape_bytes(name, MAX_NAME_CHARS).into()));
        }
    }
    Ok(None)
}

/// A list of escaped names, most of them borrowed.
type Names = Box<[Cow<'static, str>]>;

/// ALPN protocols kept: a hello of 1,969 one-byte names took 110 KB of its flow's summary.
pub const MAX_ALPN: usize = 8;

/// RFC 7301 §3.1 `ProtocolNameList`: the first [`MAX_ALPN`], and how many more.
fn parse_alpn(data: &[u8]) -> Result<(Names, u32), String> {
    let mut outer = Reader::new(data);
    let mut list = Reader::new(outer.vec_u16("ALPN list")?);
    let mut protocols = Vec::new();
    let mut more = 0u32;
    while list.remaining() > 0 {
        let protocol = list.vec_u8("ALPN protocol")?;
        if protocols.len() < MAX_ALPN {
            protocols.push(escape_common(protocol, MAX_NAME_CHARS, COMMON_ALPN));
        } else {
            more += 1;
        }
    }
    Ok((protocols.into(), more))
}

/// RFC 8446 §4.2.1, `ClientHello` form: a u8-prefixed list of versions.
fn parse_supported_versions(data: &[u8]) -> Result<Box<[Cow<'static, str>]>, String> {
    let mut outer = Reader::new(data);
    let list = outer.vec_u8("supported_versions list")?;
    if list.len() % 2 != 0 {
        return Err(format!(
            "supported_versions list length {} is odd",
            list.len()
        ));
    }
    Ok(list
        .chunks_exact(2)
        .map(|pair| version_name(read_u16(pair)))
        .collect())
}

/// Names a protocol version: `TLS1.3`, `SSL3.0`, `GREASE`, `TLS1.3-draft-28`, else hex.
/// Borrowed when the name is fixed: kept hellos hold several each.
fn version_name(version: u16) -> Cow<'static, str> {
    match version {
        0x0300 => "SSL3.0".into(),
        0x0301 => "TLS1.0".into(),
        0x0302 => "TLS1.1".into(),
        0x0303 => "TLS1.2".into(),
        0x0304 => "TLS1.3".into(),
        // RFC 8701: 0x0a0a, 0x1a1a, … 0xfafa.
        v if v & 0x0f0f == 0x0a0a && v >> 12 == (v >> 4) & 0x0f => "GREASE".into(),
        v if v >> 8 == 0x7f => format!("TLS1.3-draft-{}", v & 0xff).into(),
        v => format!("0x{v:04x}").into(),
    }
}

fn handshake_name(message_type: u8) -> String {
    match message_type {
        0 => "HelloRequest".to_owned(),
        2 => "ServerHello".to_owned(),
        4 => "NewSessionTicket".to_owned(),
        8 => "EncryptedExtensions".to_owned(),
        11 => "Certificate".to_owned(),
        12 => "ServerKeyExchange".to_owned(),
        13 => "CertificateRequest".to_owned(),
        14 => "ServerHelloDone".to_owned(),
        15 => "CertificateVerify".to_owned(),
        16 => "ClientKeyExchange".to_owned(),
        20 => "Finished".to_owned(),
        other => format!("message type {other}"),
    }
}

fn read_u16(bytes: &[u8]) -> u16 {
    u16::from_be_bytes([bytes[0], bytes[1]])
}

fn read_u24(bytes: &[u8]) -> usize {
    (usize::from(bytes[0]) << 16) | (usize::from(bytes[1]) << 8) | usize::from(bytes[2])
}

/// Reads length-prefixed fields, checking each length against the bytes left.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, pos: 0 }
    }

    fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    fn take(&mut self, len: usize, what: &str) -> Result<&'a [u8], String> {
        if len > self.remaining() {
            return Err(format!(
                "{what} needs {len} bytes, {} left in its enclosing field",
                self.remaining()
            ));
        }
        let field = &self.bytes[self.pos..self.pos + len];
        self.pos += len;
        Ok(field)
    }

    fn vec_u8(&mut self, what: &str) -> Result<&'a [u8], String> {
        let len = self.take(1, what)?[0];
        self.take(usize::from(len), what)
    }

    fn vec_u16(&mut self, what: &str) -> Result<&'a [u8], String> {
        let len = read_u16(self.take(2, what)?);
        self.take(usize::from(len), what)
    }
}
