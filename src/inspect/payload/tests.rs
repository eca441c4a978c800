//! Classification tests: one per kind of first bytes a load balancer can send.

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
    let bytes =
        b"GET /health HTTP/1.1\r\nHost: example.com\r\nUser-Agent: ELB-HealthChecker/2.0\r\n\r\n";
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
