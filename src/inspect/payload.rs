//! Names what the first bytes of a flow direction are, in one short line.
//!
//! This is what turns "nginx logged `broken header`" into "the load balancer sent a TLS
//! `ClientHello` (SNI=…) where a PROXY header was expected". PROXY headers are found by
//! `inspect::proxy` before this runs; this module knows nothing of them (a PROXY v1 line is
//! plain text here).
//!
//! The summary is escaped and short (at most [`MAX_SUMMARY_CHARS`]). Never panics, on any input.

use std::borrow::Cow;
use std::fmt::Write as _;

use serde::Serialize;

use crate::inspect::escape::{ELLIPSIS, escape_bytes};
use crate::inspect::http::{
    HttpRequest, HttpResponse, looks_like_request, looks_like_response, parse_requests,
    parse_responses,
};
use crate::inspect::tls::{TlsParse, looks_like_tls, parse_client_hello};

#[cfg(test)]
pub(crate) mod test_support;
#[cfg(test)]
mod tests;

/// Longest summary, in characters.
pub const MAX_SUMMARY_CHARS: usize = 200;
/// How many leading bytes decide between text and binary.
const TEXT_PROBE_LEN: usize = 64;
/// Characters of other text shown in a summary.
const TEXT_SUMMARY_CHARS: usize = 40;
/// Characters of an SSH banner shown.
const BANNER_CHARS: usize = 80;
/// Characters of a request target shown.
const URI_SUMMARY_CHARS: usize = 60;
/// Characters of a host or SNI shown.
const NAME_SUMMARY_CHARS: usize = 60;
/// Characters of a method or version token shown.
const TOKEN_SUMMARY_CHARS: usize = 16;
/// Bytes shown in hex for binary payloads.
const HEX_PREVIEW_BYTES: usize = 8;
/// RFC 4253 §4.2 identification string prefix.
const SSH_PREFIX: &[u8] = b"SSH-";
/// TLS handshake type `ClientHello`, at its fixed place after the 5-byte record header.
const CLIENT_HELLO_TYPE_OFFSET: usize = 5;
const CLIENT_HELLO_TYPE: u8 = 1;

/// What kind of bytes start a flow direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PayloadKind {
    /// No payload at all.
    Empty,
    /// An HTTP/1.x request (or the HTTP/2 preface).
    HttpRequest,
    /// An HTTP/1.x response.
    HttpResponse,
    /// A TLS `ClientHello`, whole or cut.
    TlsClientHello,
    /// Other TLS records (alert, `ServerHello`, application data…) or a malformed `ClientHello`.
    Tls,
    /// An SSH identification string.
    Ssh,
    /// Other printable text.
    Text,
    /// Anything else.
    Binary,
}

/// The kind of the first bytes and a one-line, escaped description.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FirstBytes {
    pub kind: PayloadKind,
    pub summary: String,
}

/// Classifies the first bytes of a flow direction (after any PROXY header).
pub fn classify(bytes: &[u8]) -> FirstBytes {
    classify_parsed(bytes, Parsed::default())
}

/// What the flow's inspection has already parsed of the very same bytes, so that classifying
/// them does not parse them again (the parsers were a fifth of a flow's summary).
#[derive(Debug, Default, Clone, Copy)]
pub struct Parsed<'a> {
    /// `parse_requests(bytes)`, when the bytes look like a request.
    pub requests: Option<&'a [HttpRequest]>,
    /// `parse_responses(bytes)`, when the bytes look like a response.
    pub responses: Option<&'a [HttpResponse]>,
    /// `parse_client_hello(bytes)`.
    pub hello: Option<&'a TlsParse>,
}

/// [`classify`], reusing what was parsed already.
pub fn classify_parsed(bytes: &[u8], parsed: Parsed<'_>) -> FirstBytes {
    if bytes.is_empty() {
        return first_bytes(PayloadKind::Empty, "no payload".to_owned());
    }
    if looks_like_request(bytes) {
        let requests = parsed
            .requests
            .map_or_else(|| Cow::Owned(parse_requests(bytes)), Cow::Borrowed);
        if let Some(summary) = request_summary(&requests) {
            return first_bytes(PayloadKind::HttpRequest, summary);
        }
    }
    if looks_like_response(bytes) {
        let responses = parsed
            .responses
            .map_or_else(|| Cow::Owned(parse_responses(bytes)), Cow::Borrowed);
        if let Some(response) = responses.first() {
            let version = cut(&response.version, TOKEN_SUMMARY_CHARS);
            let reason = cut(&response.reason, TEXT_SUMMARY_CHARS);
            let mut summary = String::with_capacity(version.len() + reason.len() + 8);
            summary.push_str(&version);
            summary.push(' ');
            summary.push_str(itoa::Buffer::new().format(response.status));
            summary.push(' ');
            summary.push_str(&reason);
            summary.truncate(summary.trim_end().len());
            return first_bytes(PayloadKind::HttpResponse, summary);
        }
    }
    if let Some(record) = looks_like_tls(bytes) {
        return match parsed.hello {
            Some(hello) => tls_summary(bytes, record, hello),
            None => tls_summary(bytes, record, &parse_client_hello(bytes)),
        };
    }
    if bytes.starts_with(SSH_PREFIX) {
        let line = bytes
            .split(|&b| b == b'\r' || b == b'\n')
            .next()
            .unwrap_or(bytes);
        return first_bytes(PayloadKind::Ssh, escape_bytes(line, BANNER_CHARS));
    }
    if is_text(bytes) {
        return first_bytes(PayloadKind::Text, escape_bytes(bytes, TEXT_SUMMARY_CHARS));
    }
    first_bytes(PayloadKind::Binary, binary_summary(bytes))
}

fn first_bytes(kind: PayloadKind, summary: String) -> FirstBytes {
    FirstBytes { kind, summary }
}

/// `GET /health HTTP/1.1 (Host: example.com)`, with `[cut]` and `+N more` when they apply.
fn request_summary(requests: &[HttpRequest]) -> Option<String> {
    let first = requests.first()?;
    if first.method == "PRI" && first.version == "HTTP/2.0" {
        return Some("HTTP/2 connection preface (PRI * HTTP/2.0)".to_owned());
    }
    // Sized once for the usual parts (a format! string grew two or three times).
    let mut summary = String::with_capacity(
        first.method.len()
            + first.uri.len()
            + first.version.len()
            + 32
            + first.host.as_ref().map_or(0, |h| h.len() + 8),
    );
    // Pieces pushed, not `write!`: one summary per direction of every flow.
    summary.push_str(&cut(&first.method, TOKEN_SUMMARY_CHARS));
    summary.push(' ');
    summary.push_str(&cut(&first.uri, URI_SUMMARY_CHARS));
    if !first.version.is_empty() {
        summary.push(' ');
        summary.push_str(&cut(&first.version, TOKEN_SUMMARY_CHARS));
    }
    if let Some(host) = &first.host {
        summary.push_str(" (Host: ");
        summary.push_str(&cut(host, NAME_SUMMARY_CHARS));
        summary.push(')');
    }
    if !first.complete {
        summary.push_str(" [headers cut]");
    }
    if requests.len() > 1 {
        let _ = write!(summary, " +{} more", requests.len() - 1);
    }
    Some(summary)
}

/// `TLS ClientHello SNI=example.com ALPN=h2,http/1.1`, or what other TLS it is.
fn tls_summary(bytes: &[u8], record: &str, hello: &TlsParse) -> FirstBytes {
    match hello {
        TlsParse::ClientHello(hello) => {
            let mut summary = String::with_capacity(96);
            summary.push_str("TLS ClientHello");
            match &hello.sni {
                Some(sni) => {
                    summary.push_str(" SNI=");
                    summary.push_str(&cut(sni, NAME_SUMMARY_CHARS));
                }
                None => summary.push_str(" (no SNI)"),
            }
            if !hello.alpn.is_empty() {
                let _ = write!(summary, " ALPN={}", cut(&hello.alpn.join(","), 40));
            }
            if hello.encrypted_client_hello {
                summary.push_str(" ECH");
            }
            if hello.records > 1 {
                let _ = write!(summary, " [{} records]", hello.records);
            }
            first_bytes(PayloadKind::TlsClientHello, summary)
        }
        TlsParse::NeedMore if bytes.get(CLIENT_HELLO_TYPE_OFFSET) == Some(&CLIENT_HELLO_TYPE) => {
            first_bytes(
                PayloadKind::TlsClientHello,
                format!("TLS ClientHello (cut after {} bytes)", bytes.len()),
            )
        }
        TlsParse::NotClientHello(what) => first_bytes(PayloadKind::Tls, what.clone()),
        TlsParse::Malformed(why) => first_bytes(
            PayloadKind::Tls,
            format!("TLS {record} record, malformed: {}", cut(why, 80)),
        ),
        TlsParse::NeedMore | TlsParse::NotTls => {
            first_bytes(PayloadKind::Tls, format!("TLS {record} record (cut)"))
        }
    }
}

/// True when the first bytes are printable text (UTF-8, with CR, LF, TAB); a character cut
/// at the end of the probe does not count against it.
fn is_text(bytes: &[u8]) -> bool {
    let probe = &bytes[..bytes.len().min(TEXT_PROBE_LEN)];
    let probe_cut = probe.len() < bytes.len();
    let mut chunks = probe.utf8_chunks().peekable();
    while let Some(chunk) = chunks.next() {
        let printable = chunk
            .valid()
            .chars()
            .all(|c| !c.is_control() || matches!(c, '\r' | '\n' | '\t'));
        if !printable {
            return false;
        }
        let is_last = chunks.peek().is_none();
        let invalid = chunk.invalid();
        // At most 3 bytes of a 4-byte character can be cut off by the probe or the capture.
        if !invalid.is_empty()
            && !(is_last && invalid.len() < 4 && (probe_cut || invalid[0] >= 0xc2))
        {
            return false;
        }
    }
    true
}

/// `binary 16 bytes: 0a1b2c3d4e5f6071…`
fn binary_summary(bytes: &[u8]) -> String {
    let mut summary = format!("binary {} bytes: ", bytes.len());
    for byte in bytes.iter().take(HEX_PREVIEW_BYTES) {
        let _ = write!(summary, "{byte:02x}");
    }
    if bytes.len() > HEX_PREVIEW_BYTES {
        summary.push(ELLIPSIS);
    }
    summary
}

/// Shortens already escaped text to `max` characters, with `…` when cut. Borrowed when it
/// fits (most do: summaries are made for tens of thousands of flows).
fn cut(text: &str, max: usize) -> Cow<'_, str> {
    // No more bytes than `max`: no more characters either (nearly every token).
    if text.len() <= max {
        return Cow::Borrowed(text);
    }
    match text.char_indices().nth(max) {
        None => Cow::Borrowed(text),
        Some((end, _)) => {
            let mut short = String::with_capacity(end + ELLIPSIS.len_utf8());
            short.push_str(&text[..end]);
            short.push(ELLIPSIS);
            Cow::Owned(short)
        }
    }
}
