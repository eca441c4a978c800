//! Names what the first bytes of a flow direction are, in one short line.
//!
//! This is what turns "nginx logged `broken header`" into "the load balancer sent a TLS
//! `ClientHello` (SNI=…) where a PROXY header was expected". PROXY headers are found by
//! `inspect::proxy` before this runs; this module knows nothing of them (a PROXY v1 line is
//! plain text here).
//!
//! The summary is escaped and short (at most [`MAX_SUMMARY_CHARS`]). Never panics, on any input.

use std::fmt::Write as _;

use serde::Serialize;

use crate::inspect::escape::{ELLIPSIS, escape_bytes};
use crate::inspect::http::{
    looks_like_request, looks_like_response, parse_requests, parse_responses,
};
use crate::inspect::tls::{TlsParse, looks_like_tls, parse_client_hello};

#[cfg(test)]
pub(crate) mod test_support;

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
    if bytes.is_empty() {
        return first_bytes(PayloadKind::Empty, "no payload".to_owned());
    }
    if looks_like_request(bytes) {
        if let Some(summary) = request_summary(bytes) {
            return first_bytes(PayloadKind::HttpRequest, summary);
        }
    }
    if looks_like_response(bytes) {
        if let Some(response) = parse_responses(bytes).first() {
            let summary = format!(
                "{} {} {}",
                cut(&response.version, TOKEN_SUMMARY_CHARS),
                response.status,
                cut(&response.reason, TEXT_SUMMARY_CHARS)
            );
            return first_bytes(PayloadKind::HttpResponse, summary.trim_end().to_owned());
        }
    }
    if let Some(record) = looks_like_tls(bytes) {
        return tls_summary(bytes, record);
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
fn request_summary(bytes: &[u8]) -> Option<String> {
    let requests = parse_requests(bytes);
    let first = requests.first()?;
    if first.method == "PRI" && first.version == "HTTP/2.0" {
        return Some("HTTP/2 connection preface (PRI * HTTP/2.0)".to_owned());
    }
    let mut summary = format!(
        "{} {}",
        cut(&first.method, TOKEN_SUMMARY_CHARS),
        cut(&first.uri, URI_SUMMARY_CHARS)
    );
    if !first.version.is_empty() {
        let _ = write!(summary, " {}", cut(&first.version, TOKEN_SUMMARY_CHARS));
    }
    if let Some(host) = &first.host {
        let _ = write!(summary, " (Host: {})", cut(host, NAME_SUMMARY_CHARS));
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
fn tls_summary(bytes: &[u8], record: &str) -> FirstBytes {
    match parse_client_hello(bytes) {
        TlsParse::ClientHello(hello) => {
            let mut summary = "TLS ClientHello".to_owned();
            match &hello.sni {
                Some(sni) => {
                    let _ = write!(summary, " SNI={}", cut(sni, NAME_SUMMARY_CHARS));
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
        TlsParse::NotClientHello(what) => first_bytes(PayloadKind::Tls, what),
        TlsParse::Malformed(why) => first_bytes(
            PayloadKind::Tls,
            format!("TLS {record} record, malformed: {}", cut(&why, 80)),
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

/// Shortens already escaped text to `max` characters, with `…` when cut.
fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut short: String = text.chars().take(max).collect();
    short.push(ELLIPSIS);
    short
}

#[cfg(test)]
mod tests {
    use super::test_support::{for_each_prefix_and_corruption, hex};
    use super::*;

    /// OpenSSL 3 `ClientHello` (SNI example.com, ALPN h2,http/1.1), first 64 bytes of 517.
    const OPENSSL_CLIENT_HELLO_START: &str = concat!(
        "1603010200010001fc03037b2563da61cc484504576fc4b944c906b41428c560",
        "522d107ab885283a42e67e207685acfad32a19cfa9e179015ca0a8ea8a477c45",
    );

    fn classify_kind(bytes: &[u8]) -> (PayloadKind, String) {
        let first = classify(bytes);
        (first.kind, first.summary)
    }

    #[test]
    fn no_bytes_is_empty() {
        assert_eq!(
            classify_kind(b""),
            (PayloadKind::Empty, "no payload".to_owned())
        );
    }

    #[test]
    fn health_check_request_names_method_target_and_host() {
        let bytes = b"GET /health HTTP/1.1\r\nHost: example.com\r\nUser-Agent: ELB-HealthChecker/2.0\r\n\r\n";
        assert_eq!(
            classify_kind(bytes),
            (
                PayloadKind::HttpRequest,
                "GET /health HTTP/1.1 (Host: example.com)".to_owned()
            )
        );
    }

    #[test]
    fn pipelined_requests_say_how_many_more_and_cut_heads_say_so() {
        let (_, summary) = classify_kind(b"GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\nHost: x");
        assert_eq!(summary, "GET /a HTTP/1.1 +1 more");
        let (_, summary) = classify_kind(b"GET /a HTTP/1.1\r\nHost: x");
        assert_eq!(summary, "GET /a HTTP/1.1 [headers cut]");
    }

    #[test]
    fn long_target_is_shortened() {
        let uri = "/".repeat(200);
        let bytes = format!("GET {uri} HTTP/1.1\r\n\r\n");
        let (_, summary) = classify_kind(bytes.as_bytes());
        assert!(summary.chars().count() < 100, "{summary}");
        assert!(summary.contains('…'));
    }

    #[test]
    fn request_with_every_field_at_its_longest_stays_within_the_summary_limit() {
        // Found by the payload fuzz target: long method, target, version and host at once.
        let long = "\0".repeat(100);
        let bytes = format!("PRI *GET{long} {long} HTTP/0.0{long}\r\nHost: {long}\r\n");
        let summary = classify(bytes.as_bytes()).summary;
        assert!(summary.chars().count() <= MAX_SUMMARY_CHARS, "{summary}");
        assert!(summary.ends_with("[headers cut]"), "{summary}");
    }

    #[test]
    fn http2_prior_knowledge_preface_is_named() {
        let (kind, summary) = classify_kind(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
        assert_eq!(kind, PayloadKind::HttpRequest);
        assert_eq!(summary, "HTTP/2 connection preface (PRI * HTTP/2.0)");
    }

    #[test]
    fn response_status_line_is_the_summary() {
        assert_eq!(
            classify_kind(b"HTTP/1.1 400 Bad Request\r\nServer: nginx\r\n\r\n"),
            (
                PayloadKind::HttpResponse,
                "HTTP/1.1 400 Bad Request".to_owned()
            )
        );
    }

    #[test]
    fn client_hello_where_proxy_header_was_expected_is_named_with_sni_and_alpn() {
        // First 48 bytes of the ClientHello in the nDPI capture behind a PROXY v1 line.
        let bytes = hex(
            "16030100fd010000f90303657c5959dbc1d969b584cd12f1631910c3c64458ea4550ab820a5d844feb0f8b2099a04715",
        );
        // Cut: still a ClientHello by its handshake type.
        assert_eq!(
            classify_kind(&bytes),
            (
                PayloadKind::TlsClientHello,
                "TLS ClientHello (cut after 48 bytes)".to_owned()
            )
        );
        let start = hex(OPENSSL_CLIENT_HELLO_START);
        assert_eq!(classify(&start).kind, PayloadKind::TlsClientHello);
    }

    #[test]
    fn complete_client_hello_summary_lists_sni_and_alpn() {
        let hello = build_client_hello(Some(b"example.com"), &[b"h2", b"http/1.1"]);
        assert_eq!(
            classify_kind(&hello),
            (
                PayloadKind::TlsClientHello,
                "TLS ClientHello SNI=example.com ALPN=h2,http/1.1".to_owned()
            )
        );
        let bare = build_client_hello(None, &[]);
        assert_eq!(classify(&bare).summary, "TLS ClientHello (no SNI)");
    }

    #[test]
    fn tls_alert_and_application_data_are_tls() {
        assert_eq!(
            classify_kind(&[21, 3, 3, 0, 2, 2, 40]),
            (PayloadKind::Tls, "TLS alert record".to_owned())
        );
        assert_eq!(
            classify_kind(&[23, 3, 3, 0, 20, 1, 2, 3]),
            (PayloadKind::Tls, "TLS application_data record".to_owned())
        );
    }

    #[test]
    fn malformed_client_hello_is_tls_with_the_reason() {
        let mut hello = build_client_hello(Some(b"a"), &[]);
        hello[43] = 33; // session id length
        let (kind, summary) = classify_kind(&hello);
        assert_eq!(kind, PayloadKind::Tls);
        assert!(
            summary.starts_with("TLS handshake record, malformed: "),
            "{summary}"
        );
    }

    #[test]
    fn ssh_banner_is_shown_without_line_end() {
        assert_eq!(
            classify_kind(b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n\x00\x00\x05\xdc"),
            (
                PayloadKind::Ssh,
                "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3".to_owned()
            )
        );
    }

    #[test]
    fn proxy_v1_line_is_just_text_here() {
        let (kind, summary) = classify_kind(b"PROXY TCP4 192.0.2.1 198.51.100.1 56324 443\r\n");
        assert_eq!(kind, PayloadKind::Text);
        assert_eq!(summary, "PROXY TCP4 192.0.2.1 198.51.100.1 56324 …");
    }

    #[test]
    fn text_with_terminal_escape_is_binary_not_echoed() {
        let (kind, summary) = classify_kind(b"\x1b[2Jhello");
        assert_eq!(kind, PayloadKind::Binary);
        assert_eq!(summary, "binary 9 bytes: 1b5b324a68656c6c…");
    }

    #[test]
    fn utf8_text_cut_inside_a_character_is_still_text() {
        let bytes = "redis: ключ".as_bytes();
        assert_eq!(classify(&bytes[..bytes.len() - 1]).kind, PayloadKind::Text);
        assert_eq!(classify("ключ".as_bytes()).summary, "ключ");
    }

    #[test]
    fn short_binary_shows_all_its_bytes() {
        assert_eq!(
            classify_kind(&[0x0a, 0x1b]),
            (PayloadKind::Binary, "binary 2 bytes: 0a1b".to_owned())
        );
        assert_eq!(
            classify(&[0u8; 16]).summary,
            "binary 16 bytes: 0000000000000000…"
        );
    }

    #[test]
    fn payload_kind_json_names_are_stable() {
        let names: Vec<String> = [
            PayloadKind::Empty,
            PayloadKind::HttpRequest,
            PayloadKind::HttpResponse,
            PayloadKind::TlsClientHello,
            PayloadKind::Tls,
            PayloadKind::Ssh,
            PayloadKind::Text,
            PayloadKind::Binary,
        ]
        .iter()
        .map(|kind| {
            serde_json::to_value(kind)
                .unwrap()
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
        assert_eq!(
            names,
            [
                "empty",
                "http-request",
                "http-response",
                "tls-client-hello",
                "tls",
                "ssh",
                "text",
                "binary"
            ]
        );
    }

    #[test]
    fn no_prefix_or_single_byte_corruption_panics_and_summaries_stay_short() {
        let hello = build_client_hello(Some(b"example.com"), &[b"h2"]);
        let inputs: [&[u8]; 4] = [
            &hello,
            b"GET /health HTTP/1.1\r\nHost: example.com\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
            b"SSH-2.0-OpenSSH_9.2\r\n",
        ];
        for input in inputs {
            for_each_prefix_and_corruption(input, |bytes| {
                let first = classify(bytes);
                assert!(
                    first.summary.chars().count() <= MAX_SUMMARY_CHARS,
                    "{first:?}"
                );
                assert!(!first.summary.contains('\u{1b}'));
            });
        }
    }

    /// A minimal `ClientHello`: TLS 1.2 legacy version, one cipher suite, optional SNI and ALPN.
    fn build_client_hello(sni: Option<&[u8]>, alpn: &[&[u8]]) -> Vec<u8> {
        fn with_u16_len(body: &[u8]) -> Vec<u8> {
            let mut out = (body.len() as u16).to_be_bytes().to_vec();
            out.extend_from_slice(body);
            out
        }
        let mut extensions = Vec::new();
        if let Some(name) = sni {
            let mut entry = vec![0];
            entry.extend(with_u16_len(name));
            extensions.extend([0, 0]);
            extensions.extend(with_u16_len(&with_u16_len(&entry)));
        }
        if !alpn.is_empty() {
            let mut list = Vec::new();
            for protocol in alpn {
                list.push(protocol.len() as u8);
                list.extend_from_slice(protocol);
            }
            extensions.extend([0, 16]);
            extensions.extend(with_u16_len(&with_u16_len(&list)));
        }
        let mut body = vec![3, 3];
        body.extend([0x11; 32]); // random
        body.push(0); // session id
        body.extend([0, 2, 0x13, 0x01]); // one cipher suite
        body.extend([1, 0]); // null compression
        body.extend(with_u16_len(&extensions));
        let mut message = vec![1, 0];
        message.extend((body.len() as u16).to_be_bytes());
        message.extend(body);
        let mut record = vec![22, 3, 1];
        record.extend(with_u16_len(&message));
        record
    }
}
