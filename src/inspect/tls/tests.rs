//! `ClientHello` tests on real bytes: one written by OpenSSL 3, one from an nDPI capture.

use super::*;
use crate::inspect::payload::test_support::{for_each_prefix_and_corruption, hex};

/// `ClientHello` behind a PROXY v1 line (`ppv1_tcp4_with_tls_clienthello_one_segment__ndpi.pcap`, packet 1,
/// payload from byte 51): SNI aaaaaaaaaaaaaaaa.xx, no ALPN, offers TLS 1.3 and 1.2.
const NDPI_CLIENT_HELLO_AFTER_PROXY_V1: &str = concat!(
    "16030100fd010000f90303657c5959dbc1d969b584cd12f1631910c3c64458ea4550ab820a5d844feb0f8b2099a04715",
    "fc43f7abd89b36bfff4bc60a9d130d677a5f45a297046927add30b3c0024130113021303c02fc02bc030c02ccca9cca8",
    "c009c013c00ac014009c009d002f0035000a0100008c000000180016000013616161616161616161616161616161612e",
    "787800170000ff01000100000a00080006001d00170018000b0002010000230000000d00140012040308040401050308",
    "050501080606010201003300260024001d00202f701ed6de355ed886ca79790617b53ed333447ef4d039fc0eb4804c40",
    "83b64c002d00020101002b00050403040303",
);

/// `ClientHello` written by OpenSSL 3.0.19 (Python `ssl`, memory BIO) for SNI example.com with
/// ALPN h2, http/1.1: 517 bytes, one record, padded.
const OPENSSL_3_CLIENT_HELLO: &str = concat!(
    "1603010200010001fc03037b2563da61cc484504576fc4b944c906b41428c560522d107ab885283a42e67e207685acfa",
    "d32a19cfa9e179015ca0a8ea8a477c450c66d5d1fcbc10d633ccea530024130213031301c02cc030c02bc02fcca9cca8",
    "c024c028c023c027009f009e006b006700ff0100018f00000010000e00000b6578616d706c652e636f6d000b00040300",
    "0102000a00160014001d0017001e0019001801000101010201030104002300000010000e000c02683208687474702f31",
    "2e310016000000170000000d002a0028040305030603080708080809080a080b08040805080604010501060103030301",
    "0302040205020602002b00050403040303002d00020101003300260024001d0020d7694b07e471a818bfea66bd93df15",
    "5acf91c9677b0c6dceb57b7d7e8ebefb14001500d0000000000000000000000000000000000000000000000000000000",
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
    "00000000000000000000000000000000000000000000000000000000000000000000000000",
);

fn hello(bytes: &[u8]) -> ClientHello {
    match parse_client_hello(bytes) {
        TlsParse::ClientHello(hello) => hello,
        other => panic!("expected a ClientHello, got {other:?}"),
    }
}

/// Re-sends the handshake message of a one-record `hello` in records of at most `size` bytes.
fn split_into_records(one_record: &[u8], size: usize) -> Vec<u8> {
    let message = &one_record[record::HEADER_LEN..];
    let mut out = Vec::new();
    for fragment in message.chunks(size) {
        out.extend_from_slice(&one_record[..3]);
        out.extend_from_slice(&(fragment.len() as u16).to_be_bytes());
        out.extend_from_slice(fragment);
    }
    out
}

#[test]
fn openssl3_client_hello_with_sni_alpn_and_tls13() {
    let hello = hello(&hex(OPENSSL_3_CLIENT_HELLO));
    assert_eq!(
        hello,
        ClientHello {
            record_version: "TLS1.0".into(),
            legacy_version: "TLS1.2".into(),
            sni: Some("example.com".into()),
            alpn: ["h2".into(), "http/1.1".into()].into(),
            supported_versions: ["TLS1.3".into(), "TLS1.2".into()].into(),
            encrypted_client_hello: false,
            records: 1,
            alpn_not_listed: 0,
        }
    );
}

#[test]
fn ndpi_client_hello_behind_proxy_v1_line_without_alpn() {
    let hello = hello(&hex(NDPI_CLIENT_HELLO_AFTER_PROXY_V1));
    assert_eq!(hello.sni.as_deref(), Some("aaaaaaaaaaaaaaaa.xx"));
    assert!(hello.alpn.is_empty());
    assert_eq!(*hello.supported_versions, ["TLS1.3", "TLS1.2"]);
    assert_eq!(hello.records, 1);
}

#[test]
fn client_hello_spanning_several_records() {
    let one_record = hex(OPENSSL_3_CLIENT_HELLO);
    for size in [1, 4, 100, 300] {
        let split = split_into_records(&one_record, size);
        let hello = hello(&split);
        assert_eq!(hello.sni.as_deref(), Some("example.com"), "size {size}");
        assert_eq!(hello.records, (one_record.len() - 5).div_ceil(size));
    }
}

#[test]
fn encrypted_client_hello_extension_is_flagged() {
    // Turn the padding extension (0x0015, the last one) into ECH (0xfe0d): same length.
    let mut bytes = hex(OPENSSL_3_CLIENT_HELLO);
    assert_eq!(&bytes[0x131..0x133], [0x00, 0x15]);
    bytes[0x131..0x133].copy_from_slice(&[0xfe, 0x0d]);
    let hello = hello(&bytes);
    assert!(hello.encrypted_client_hello);
    assert_eq!(hello.sni.as_deref(), Some("example.com"));
}

#[test]
fn client_hello_cut_by_the_capture_needs_more() {
    let bytes = hex(OPENSSL_3_CLIENT_HELLO);
    for len in [0, 1, 3, 5, 9, 100, bytes.len() - 1] {
        assert_eq!(
            parse_client_hello(&bytes[..len]),
            TlsParse::NeedMore,
            "len {len}"
        );
    }
    let split = split_into_records(&bytes, 100);
    assert_eq!(parse_client_hello(&split[..250]), TlsParse::NeedMore);
}

#[test]
fn record_cut_after_a_complete_hello_still_gives_the_hello() {
    // The record claims 100 more bytes than were captured, but the handshake message is whole.
    let mut bytes = hex(NDPI_CLIENT_HELLO_AFTER_PROXY_V1);
    let length = u16::from_be_bytes([bytes[3], bytes[4]]) + 100;
    bytes[3..5].copy_from_slice(&length.to_be_bytes());
    assert_eq!(hello(&bytes).sni.as_deref(), Some("aaaaaaaaaaaaaaaa.xx"));
}

#[test]
fn handshake_length_past_the_record_without_next_record_needs_more() {
    let mut bytes = hex(NDPI_CLIENT_HELLO_AFTER_PROXY_V1);
    bytes[7] += 1; // handshake length, middle byte: 256 bytes more than the record holds
    assert_eq!(parse_client_hello(&bytes), TlsParse::NeedMore);
}

#[test]
fn extension_length_past_its_list_is_malformed() {
    let mut bytes = hex(OPENSSL_3_CLIENT_HELLO);
    // The server_name extension starts at byte 0x76: type 0000, length 0010.
    assert_eq!(&bytes[0x76..0x7a], [0, 0, 0, 0x10]);
    bytes[0x78] = 0x7f;
    match parse_client_hello(&bytes) {
        TlsParse::Malformed(why) => assert!(why.contains("extension data"), "{why}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn session_id_longer_than_32_is_malformed() {
    let mut bytes = hex(OPENSSL_3_CLIENT_HELLO);
    // record 5 + handshake 4 + version 2 + random 32 = session id length at 43.
    assert_eq!(bytes[43], 32);
    bytes[43] = 33;
    assert!(matches!(parse_client_hello(&bytes), TlsParse::Malformed(_)));
}

#[test]
fn oversized_handshake_record_is_malformed() {
    let bytes = [22, 3, 1, 0x40, 0x01, 1, 0, 0, 0];
    match parse_client_hello(&bytes) {
        TlsParse::Malformed(why) => assert!(why.contains("16384"), "{why}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn alert_between_handshake_fragments_is_malformed() {
    let split = split_into_records(&hex(OPENSSL_3_CLIENT_HELLO), 300);
    let mut bytes = split[..305].to_vec();
    bytes.extend_from_slice(&[21, 3, 3, 0, 2, 2, 40]);
    bytes.extend_from_slice(&split[305..]);
    assert!(matches!(parse_client_hello(&bytes), TlsParse::Malformed(_)));
}

#[test]
fn zero_length_second_record_is_malformed() {
    let split = split_into_records(&hex(OPENSSL_3_CLIENT_HELLO), 300);
    let mut bytes = split[..305].to_vec();
    bytes.extend_from_slice(&[22, 3, 1, 0, 0]);
    assert!(matches!(parse_client_hello(&bytes), TlsParse::Malformed(_)));
}

#[test]
fn server_hello_is_tls_but_not_a_client_hello() {
    let server_hello = [22, 3, 3, 0, 6, 2, 0, 0, 2, 3, 3];
    assert_eq!(
        parse_client_hello(&server_hello),
        TlsParse::NotClientHello("TLS handshake ServerHello".to_owned())
    );
}

#[test]
fn alert_record_is_tls_but_not_a_client_hello() {
    let alert = [21, 3, 3, 0, 2, 2, 40];
    assert_eq!(looks_like_tls(&alert), Some("alert"));
    assert_eq!(
        parse_client_hello(&alert),
        TlsParse::NotClientHello("TLS alert record".to_owned())
    );
}

#[test]
fn short_bytes_are_need_more_only_while_they_can_start_a_handshake_record() {
    assert_eq!(parse_client_hello(&[22, 3, 1, 2]), TlsParse::NeedMore);
    assert_eq!(parse_client_hello(&[22, 3, 9]), TlsParse::NotTls);
    assert_eq!(parse_client_hello(&[22, 4]), TlsParse::NotTls);
    assert_eq!(parse_client_hello(&[21]), TlsParse::NotTls);
}

#[test]
fn http_and_ssh_and_proxy_lines_are_not_tls() {
    for bytes in [
        &b"GET / HTTP/1.1\r\n"[..],
        b"SSH-2.0-OpenSSH_9.2\r\n",
        b"PROXY TCP4 ",
    ] {
        assert_eq!(parse_client_hello(bytes), TlsParse::NotTls);
        assert_eq!(looks_like_tls(bytes), None);
    }
}

#[test]
fn looks_like_tls_names_each_record_type_and_rejects_bad_versions_and_lengths() {
    assert_eq!(looks_like_tls(&[22, 3, 1, 0, 5]), Some("handshake"));
    assert_eq!(
        looks_like_tls(&[20, 3, 3, 0, 1]),
        Some("change_cipher_spec")
    );
    assert_eq!(
        looks_like_tls(&[23, 3, 3, 0x10, 0]),
        Some("application_data")
    );
    assert_eq!(looks_like_tls(&[24, 3, 3, 0, 3]), Some("heartbeat"));
    assert_eq!(looks_like_tls(&[22, 3, 5, 0, 5]), None);
    assert_eq!(looks_like_tls(&[22, 2, 0, 0, 5]), None);
    assert_eq!(looks_like_tls(&[22, 3, 1, 0, 0]), None);
    assert_eq!(looks_like_tls(&[23, 3, 3, 0x48, 1]), None);
    assert_eq!(looks_like_tls(&[22, 3, 1, 0]), None);
}

#[test]
fn version_names_cover_grease_drafts_and_unknown_values() {
    assert_eq!(version_name(0x0a0a), "GREASE");
    assert_eq!(version_name(0xfafa), "GREASE");
    assert_eq!(version_name(0x0a1a), "0x0a1a");
    assert_eq!(version_name(0x7f1c), "TLS1.3-draft-28");
    assert_eq!(version_name(0x0300), "SSL3.0");
    assert_eq!(version_name(0xfeff), "0xfeff");
}

#[test]
fn sni_with_terminal_escape_is_escaped() {
    let mut bytes = hex(OPENSSL_3_CLIENT_HELLO);
    // "example.com" starts at 0x7f; turn 'x' into ESC.
    assert_eq!(&bytes[0x7f..0x8a], b"example.com");
    bytes[0x80] = 0x1b;
    assert_eq!(hello(&bytes).sni.as_deref(), Some("e\\x1bample.com"));
}

#[test]
fn tls_parse_json_is_tagged_by_status() {
    let json = serde_json::to_value(parse_client_hello(&hex(OPENSSL_3_CLIENT_HELLO))).unwrap();
    assert_eq!(json["status"], "client-hello");
    assert_eq!(json["value"]["sni"], "example.com");
    let need_more = serde_json::to_value(TlsParse::NeedMore).unwrap();
    assert_eq!(need_more, serde_json::json!({"status": "need-more"}));
}

#[test]
fn no_prefix_or_single_byte_corruption_of_real_client_hellos_panics() {
    let openssl = hex(OPENSSL_3_CLIENT_HELLO);
    for input in [
        openssl.clone(),
        hex(NDPI_CLIENT_HELLO_AFTER_PROXY_V1),
        split_into_records(&openssl, 61),
    ] {
        for_each_prefix_and_corruption(&input, |bytes| {
            let _ = parse_client_hello(bytes);
            let _ = looks_like_tls(bytes);
        });
    }
}

/// A hello of 1,969 one-byte ALPN names took 110 KB of its flow's summary: the first
/// [`super::MAX_ALPN`] are kept, the rest counted.
#[test]
fn alpn_names_past_the_first_few_are_counted() {
    let names: Vec<u8> = (0..20u8).flat_map(|i| [1, b'a' + i]).collect();
    let len16 = |n: usize| u16::try_from(n).unwrap().to_be_bytes();
    let mut alpn = vec![0x00, 0x10];
    alpn.extend_from_slice(&len16(names.len() + 2));
    alpn.extend_from_slice(&len16(names.len()));
    alpn.extend_from_slice(&names);
    let mut body = vec![0x03, 0x03];
    body.extend_from_slice(&[7; 32]); // random
    body.extend_from_slice(&[0, 0, 2, 0x13, 0x01, 1, 0]); // session id, suites, compression
    body.extend_from_slice(&len16(alpn.len()));
    body.extend_from_slice(&alpn);
    let mut handshake = vec![1];
    handshake.extend_from_slice(&u32::try_from(body.len()).unwrap().to_be_bytes()[1..]);
    handshake.extend_from_slice(&body);
    let mut record = vec![0x16, 0x03, 0x01];
    record.extend_from_slice(&len16(handshake.len()));
    record.extend_from_slice(&handshake);
    let hello = hello(&record);
    assert_eq!(hello.alpn.len(), super::MAX_ALPN);
    assert_eq!(&*hello.alpn[0], "a");
    assert_eq!(hello.alpn_not_listed, 20 - super::MAX_ALPN as u32);
}
