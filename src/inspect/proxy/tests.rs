//! Tests for the PROXY inspector, named after the situation they cover.
//!
//! Real bytes where they exist (the AWS NLB health check from kubernetes/kubernetes#57250, the
//! nDPI capture in `shared/captures`, nginx and `HAProxy` style lines), a small test-only builder
//! (fields → bytes) for the rest, and round trips in both directions.

use super::tlv::kind;
use super::*;

// ---------------------------------------------------------------------------------------------
// helpers: hex, TLVs, a v2 builder with CRC32C sealing, a fields ⇄ bytes round trip

fn unhex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text.bytes().filter(u8::is_ascii_hexdigit).collect();
    digits
        .chunks(2)
        .map(|pair| u8::from_str_radix(core::str::from_utf8(pair).unwrap(), 16).unwrap())
        .collect()
}

fn unhex_lines(lines: &[&str]) -> Vec<u8> {
    unhex(&lines.concat())
}

fn tlv(kind: u8, value: &[u8]) -> Vec<u8> {
    let len = u16::try_from(value.len()).unwrap();
    let mut out = vec![kind];
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(value);
    out
}

/// An SSL TLV: client, verify, then the given sub-TLVs.
fn ssl(client: u8, verify: u32, subs: &[Vec<u8>]) -> Vec<u8> {
    let mut value = vec![client];
    value.extend_from_slice(&verify.to_be_bytes());
    for sub in subs {
        value.extend_from_slice(sub);
    }
    tlv(kind::SSL, &value)
}

/// A CRC32C TLV with a zero value, filled by [`v2`].
fn crc_tlv() -> Vec<u8> {
    tlv(kind::CRC32C, &[0; 4])
}

fn ipv4_block(src: [u8; 4], dst: [u8; 4], src_port: u16, dst_port: u16) -> Vec<u8> {
    let mut out = src.to_vec();
    out.extend_from_slice(&dst);
    out.extend_from_slice(&src_port.to_be_bytes());
    out.extend_from_slice(&dst_port.to_be_bytes());
    out
}

fn ipv6_block(src: &str, dst: &str, src_port: u16, dst_port: u16) -> Vec<u8> {
    let mut out = src.parse::<std::net::Ipv6Addr>().unwrap().octets().to_vec();
    out.extend_from_slice(&dst.parse::<std::net::Ipv6Addr>().unwrap().octets());
    out.extend_from_slice(&src_port.to_be_bytes());
    out.extend_from_slice(&dst_port.to_be_bytes());
    out
}

fn unix_field(path: &str) -> Vec<u8> {
    let mut out = match path.strip_prefix('@') {
        Some(name) => [&[0u8][..], name.as_bytes()].concat(),
        None => path.as_bytes().to_vec(),
    };
    out.resize(108, 0);
    out
}

/// A v2 header: signature, `ver_cmd`, family byte, length computed from `parts`, then the parts.
/// The first 4-byte CRC32C TLV whose value is zero is sealed (CRC computed and written).
fn v2(ver_cmd: u8, family: u8, parts: &[Vec<u8>]) -> Vec<u8> {
    let body: Vec<u8> = parts.concat();
    let mut out = V2_SIGNATURE.to_vec();
    out.push(ver_cmd);
    out.push(family);
    out.extend_from_slice(&u16::try_from(body.len()).unwrap().to_be_bytes());
    let mut crc_at = None;
    let mut pos = out.len();
    for part in parts {
        if part.len() == 7
            && part[..3] == [kind::CRC32C, 0, 4]
            && part[3..] == [0; 4]
            && crc_at.is_none()
        {
            crc_at = Some(pos + 3);
        }
        pos += part.len();
    }
    out.extend_from_slice(&body);
    if let Some(at) = crc_at {
        let value = crc32c::crc32c(&out);
        out[at..at + 4].copy_from_slice(&value.to_be_bytes());
    }
    out
}

const PROXY_CMD: u8 = 0x21;
const LOCAL_CMD: u8 = 0x20;

fn ok(bytes: &[u8]) -> ProxyHeader {
    inspect(bytes).expect("bytes start with a PROXY signature")
}

fn error_code(h: &ProxyHeader) -> Option<&'static str> {
    h.error.as_ref().map(|e| e.code)
}

fn warning_codes(h: &ProxyHeader) -> Vec<&'static str> {
    h.warnings.iter().map(|w| w.code).collect()
}

fn assert_malformed(bytes: &[u8], code: &str, offset: usize) -> ProxyHeader {
    let h = ok(bytes);
    assert_eq!(h.status, Status::Malformed, "{h:#?}");
    let error = h.error.as_ref().unwrap();
    assert_eq!((error.code, error.offset), (code, offset), "{h:#?}");
    h
}

/// The header described by fields; the inverse of [`fields_of`].
#[derive(Debug, Clone, PartialEq)]
struct Fields {
    version: u8,
    command: Command,
    family: Family,
    /// v2: whether an address block is on the wire (false for an AWS-style LOCAL).
    address_block: bool,
    src: Option<String>,
    dst: Option<String>,
    src_port: Option<u16>,
    dst_port: Option<u16>,
    /// Top-level TLVs as (type, raw value); a CRC32C value is all zeros (sealed by the builder).
    tlvs: Vec<(u8, Vec<u8>)>,
}

fn family_byte(family: Family) -> u8 {
    match family {
        Family::Unspec | Family::Unknown => 0x00,
        Family::Tcp4 => 0x11,
        Family::Udp4 => 0x12,
        Family::Tcp6 => 0x21,
        Family::Udp6 => 0x22,
        Family::UnixStream => 0x31,
        Family::UnixDgram => 0x32,
    }
}

fn family_word(family: Family) -> &'static str {
    match family {
        Family::Tcp4 => "TCP4",
        Family::Tcp6 => "TCP6",
        _ => "UNKNOWN",
    }
}

/// Test-only builder: fields → bytes.
fn build(f: &Fields) -> Vec<u8> {
    if f.version == 1 {
        return match (&f.src, &f.dst, f.src_port, f.dst_port) {
            (Some(src), Some(dst), Some(sp), Some(dp)) => {
                format!("PROXY {} {src} {dst} {sp} {dp}\r\n", family_word(f.family)).into_bytes()
            }
            _ => b"PROXY UNKNOWN\r\n".to_vec(),
        };
    }
    let mut parts = Vec::new();
    if f.address_block {
        let (src, dst) = (
            f.src.clone().unwrap_or_default(),
            f.dst.clone().unwrap_or_default(),
        );
        let (sp, dp) = (f.src_port.unwrap_or(0), f.dst_port.unwrap_or(0));
        parts.push(match f.family {
            Family::Tcp4 | Family::Udp4 => ipv4_block(
                src.parse::<std::net::Ipv4Addr>().unwrap().octets(),
                dst.parse::<std::net::Ipv4Addr>().unwrap().octets(),
                sp,
                dp,
            ),
            Family::Tcp6 | Family::Udp6 => ipv6_block(&src, &dst, sp, dp),
            Family::UnixStream | Family::UnixDgram => [unix_field(&src), unix_field(&dst)].concat(),
            Family::Unspec | Family::Unknown => Vec::new(),
        });
    }
    for (kind, value) in &f.tlvs {
        parts.push(tlv(*kind, value));
    }
    let command = match f.command {
        Command::Local => LOCAL_CMD,
        Command::Proxy => PROXY_CMD,
    };
    v2(command, family_byte(f.family), &parts)
}

/// Raw value bytes of a decoded TLV, from its decoded fields (the inverse of decoding).
fn raw_value(t: &Tlv) -> Vec<u8> {
    match t.kind {
        kind::CRC32C => vec![0; 4],
        kind::SSL => {
            let mut out = vec![t.client.unwrap()];
            out.extend_from_slice(&t.verify.unwrap().to_be_bytes());
            for sub in &t.sub {
                out.extend(tlv(sub.kind, &raw_value(sub)));
            }
            out
        }
        kind::ALPN | kind::AUTHORITY | kind::NETNS | 0x21..=0x27 => t.value.as_bytes().to_vec(),
        kind::AWS | kind::ALIBABA => [&[t.sub[0].kind][..], t.sub[0].value.as_bytes()].concat(),
        kind::AZURE => [&[1u8][..], &t.value.parse::<u32>().unwrap().to_le_bytes()].concat(),
        kind::GCP => t.value.parse::<u64>().unwrap().to_be_bytes().to_vec(),
        _ => unhex(&t.value),
    }
}

/// Decoded header → fields.
fn fields_of(h: &ProxyHeader) -> Fields {
    let family = h.family.unwrap();
    Fields {
        version: h.version,
        command: h.command.unwrap(),
        family,
        address_block: h.version == 2
            && match &h.local_layout {
                Some(layout) => layout.used == LayoutReading::AddressBlock,
                None => h.command == Some(Command::Proxy) && family != Family::Unspec,
            },
        src: h.src.as_deref().map(str::to_owned),
        dst: h.dst.as_deref().map(str::to_owned),
        src_port: h.src_port,
        dst_port: h.dst_port,
        tlvs: h
            .tlvs
            .decode()
            .iter()
            .map(|t| (t.kind, raw_value(t)))
            .collect(),
    }
}

/// The AWS NLB health-check header, byte for byte, from the tcpdump in
/// kubernetes/kubernetes#57250 (TCP payload at 0x28 of that dump): LOCAL, family 0x11, length
/// 84, no address block, CRC32C 0xbce5951f, then a 74-byte NOOP pad.
fn aws_nlb_health_check() -> Vec<u8> {
    let mut bytes = unhex("0d0a 0d0a 000d 0a51 5549 540a 2011 0054 0300 04bc e595 1f04 004a");
    bytes.resize(100, 0);
    bytes
}

/// A DER certificate (openssl, CA-signed, X.509 v1 so no `[0]` version): subject
/// `CN=client.example.com,OU=Edge,O=Example Corp,C=US`, issuer `CN=Example Client CA,O=Example Trust`.
const CLIENT_CERT_DER: &[&str] = &[
    "3082017f30820125021404047bdb54a9e8ebc1534407968d9962aa51a40f300a06082a8648ce3d040302303431163014",
    "060355040a0c0d4578616d706c65205472757374311a301806035504030c114578616d706c6520436c69656e74204341",
    "301e170d3236313132363036313834375a170d3336313132333036313834375a3050310b300906035504061302555331",
    "153013060355040a0c0c4578616d706c6520436f7270310d300b060355040b0c0445646765311b301906035504030c12",
    "636c69656e742e6578616d706c652e636f6d3059301306072a8648ce3d020106082a8648ce3d03010703420004121b7c",
    "c0864da946c745f12047b737aee01c5d3a8d5a2a36db18ead846db67e9dc748252a00437b1e3520c8e1ec9c26b947e42",
    "b60dfee87eeb21165dba95f17a300a06082a8648ce3d040302034800304502202f62d2880c44b63103be68c0bbb548b0",
    "edc7b7babe93b2ff7badeb0485485cd1022100b5fcc836e1699190fecef09ed37fc68680c680719d8af8f3ec20439ed3",
    "ecb306",
];

/// A self-signed X.509 v3 certificate (with the `[0]` version field), same subject.
const SELF_SIGNED_DER: &[&str] = &[
    "308201f53082019ba00302010202147e912d8b971d6c5e8a539064207a50fe0103faac300a06082a8648ce3d04030230",
    "50310b300906035504061302555331153013060355040a0c0c4578616d706c6520436f7270310d300b060355040b0c04",
    "45646765311b301906035504030c12636c69656e742e6578616d706c652e636f6d301e170d3236313132363036313834",
    "365a170d3336313132333036313834365a3050310b300906035504061302555331153013060355040a0c0c4578616d70",
    "6c6520436f7270310d300b060355040b0c0445646765311b301906035504030c12636c69656e742e6578616d706c652e",
    "636f6d3059301306072a8648ce3d020106082a8648ce3d0301070342000456d353dc4ed345577d359169dff3bc2cc129",
    "95b8456ee3ed7b409e050f7ff2375d42c4afb6eee227aa1b901ead7de93d0ea2ecadd3b81825d55d4abdd03381d3a353",
    "3051301d0603551d0e04160414871e9d0a81541161b0fbd9d7c0d02c3d5649d726301f0603551d23041830168014871e",
    "9d0a81541161b0fbd9d7c0d02c3d5649d726300f0603551d130101ff040530030101ff300a06082a8648ce3d04030203",
    "48003045022100c616b44da288fc85b6c90c835f7a0585f0d9829176a0f6eb4c5032bb67687e6c022027d5e3b7e5a021",
    "f75696112ac727a51fc7ad024d199ee197bbd888803e802ab0",
];

/// The first 64 TCP payload bytes of `shared/captures/ppv1_tcp4_with_tls_clienthello_one_segment__ndpi.pcap`
/// (file offset 106): a 51-byte v1 line, then the start of a TLS `ClientHello`.
const NDPI_PAYLOAD: &str = "50524f585920544350342031312e3131312e31312e313131203232322e3232322e3232322e3232203532313736203434330d0a16030100fd010000f90303657c";

/// A `HAProxy` `send-proxy-v2-ssl-cn` + `crc32c` style header: TCP4, CRC32C, ALPN, AUTHORITY,
/// `UNIQUE_ID`, SSL with every sub-TLV (0x21–0x28), then NETNS after the SSL TLV.
fn haproxy_tls_header() -> Vec<u8> {
    v2(
        PROXY_CMD,
        0x11,
        &[
            ipv4_block([192, 0, 2, 1], [198, 51, 100, 2], 51234, 443),
            crc_tlv(),
            tlv(kind::ALPN, b"h2"),
            tlv(kind::AUTHORITY, b"www.example.com"),
            tlv(kind::UNIQUE_ID, &[0xAB; 16]),
            ssl(
                0x07,
                0,
                &[
                    tlv(kind::SSL_VERSION, b"TLSv1.3"),
                    tlv(kind::SSL_CN, b"client.example.com"),
                    tlv(kind::SSL_CIPHER, b"TLS_AES_128_GCM_SHA256"),
                    tlv(kind::SSL_SIG_ALG, b"ecdsa-with-SHA256"),
                    tlv(kind::SSL_KEY_ALG, b"EC256"),
                    tlv(kind::SSL_GROUP, b"X25519"),
                    tlv(kind::SSL_SIG_SCHEME, b"ecdsa_secp256r1_sha256"),
                    tlv(kind::SSL_CLIENT_CERT, &unhex_lines(CLIENT_CERT_DER)),
                ],
            ),
            tlv(kind::NETNS, b"blue"),
        ],
    )
}

/// A small `HAProxy` `send-proxy-v2` header without CRC: TCP6 + AUTHORITY + SSL (version, cipher).
fn haproxy_tcp6_header() -> Vec<u8> {
    v2(
        PROXY_CMD,
        0x21,
        &[
            ipv6_block("2001:db8::1", "2001:db8::2", 40000, 443),
            tlv(kind::AUTHORITY, b"api.example.net"),
            ssl(
                0x01,
                0,
                &[
                    tlv(kind::SSL_VERSION, b"TLSv1.2"),
                    tlv(kind::SSL_CIPHER, b"ECDHE-RSA-AES128-GCM-SHA256"),
                ],
            ),
        ],
    )
}

/// What the report's writer (`report::flow_json::tlv`) writes from bytes and what it leaves
/// to the decoder, side by side: an SSL TLV with no client bits, an unknown sub-type and a text
/// one; an SSL TLV too short; the experimental, reserved and zero types; an SSL sub-type at the
/// top; escapes in text; an empty ALPN; a CRC32C TLV of the wrong length.
fn writer_coverage_header() -> Vec<u8> {
    v2(
        PROXY_CMD,
        0x11,
        &[
            ipv4_block([192, 0, 2, 1], [198, 51, 100, 2], 51234, 443),
            tlv(
                kind::SSL,
                &[
                    vec![0, 0, 0, 0, 1],
                    tlv(0x29, b"?"),
                    tlv(kind::SSL_SIG_ALG, b"RSA-SHA256"),
                ]
                .concat(),
            ),
            tlv(kind::SSL, &[0x05, 0, 0, 0]),
            tlv(0xF0, b"exp"),
            tlv(0xF8, b"res"),
            tlv(0x00, b"\0\0"),
            tlv(kind::SSL_VERSION, b"TLSv1.2"),
            tlv(kind::NETNS, b"ns\x1b[0m\\\""),
            tlv(kind::ALPN, b""),
            crc_tlv(),
            tlv(kind::CRC32C, b"\x01\x02"),
        ],
    )
}

fn all_test_headers() -> Vec<Vec<u8>> {
    vec![
        aws_nlb_health_check(),
        haproxy_tls_header(),
        haproxy_tcp6_header(),
        unhex(NDPI_PAYLOAD),
        b"PROXY TCP4 192.0.2.1 198.51.100.2 51234 80\r\n".to_vec(),
        b"PROXY TCP6 2001:db8::1 2001:db8::2 51234 443\r\n".to_vec(),
        b"PROXY UNKNOWN\r\n".to_vec(),
        v2(LOCAL_CMD, 0x00, &[]),
        v2(
            PROXY_CMD,
            0x31,
            &[
                unix_field("/run/haproxy.sock"),
                unix_field("/run/app.sock"),
                crc_tlv(),
            ],
        ),
        v2(
            PROXY_CMD,
            0x12,
            &[
                ipv4_block([203, 0, 113, 9], [10, 0, 0, 53], 5353, 53),
                tlv(kind::AWS, b"\x01vpce-08d2bf15fac5001c9"),
                tlv(kind::AZURE, &[1, 0x78, 0x56, 0x34, 0x12]),
                tlv(kind::GCP, &[0, 0, 0, 1, 2, 3, 4, 5]),
                tlv(kind::ALIBABA, b"\x01vpc-bp1abc"),
            ],
        ),
    ]
}

// ---------------------------------------------------------------------------------------------
// detection

#[test]
fn bytes_that_are_not_proxy_give_none() {
    assert_eq!(inspect(b""), None);
    assert_eq!(inspect(b"GET / HTTP/1.1\r\n"), None);
    assert_eq!(inspect(&unhex("16030100fd010000")), None, "TLS ClientHello");
    assert_eq!(
        inspect(b"PROXY"),
        None,
        "5 bytes: shorter than the 6-byte minimum prefix"
    );
    assert_eq!(inspect(b"PROXYTCP4 1.2.3.4"), None, "no space after PROXY");
    assert_eq!(inspect(&V2_SIGNATURE[..5]), None);
    let mut wrong = V2_SIGNATURE.to_vec();
    wrong[11] = b'X';
    wrong.extend_from_slice(&[0x21, 0x11, 0, 0]);
    assert_eq!(inspect(&wrong), None, "signature differs in its last byte");
}

// ---------------------------------------------------------------------------------------------
// v2 LOCAL: the AWS NLB health check and the layout decision

#[test]
fn v2_local_with_family_but_no_address_block_aws_nlb_health_check() {
    let bytes = aws_nlb_health_check();
    assert_eq!(
        crc32c::crc32c(&[&bytes[..19], &[0; 4], &bytes[23..]].concat()),
        0xbce5_951f
    );
    let h = ok(&bytes);
    assert_eq!(h.version, 2);
    assert_eq!(h.command, Some(Command::Local));
    assert_eq!(h.family, Some(Family::Tcp4));
    assert_eq!(
        (h.src.as_deref(), h.dst.as_deref(), h.src_port, h.dst_port),
        (None, None, None, None)
    );
    assert_eq!(
        (h.header_len, h.declared_len, h.payload_offset),
        (100, Some(84), 100)
    );
    assert_eq!(h.status, Status::Complete);
    assert_eq!(h.error, None);
    assert_eq!(h.crc32c, Crc32cStatus::Valid);
    assert_eq!(h.tlvs.decode().len(), 2);
    let (crc, noop) = (&h.tlvs.decode()[0], &h.tlvs.decode()[1]);
    assert_eq!(
        (crc.kind, crc.name, crc.length, crc.offset),
        (0x03, "CRC32C", 4, 16)
    );
    assert_eq!(crc.value, "bce5951f");
    assert_eq!(crc.crc32c, Some(Crc32cStatus::Valid));
    assert_eq!(
        (noop.kind, noop.name, noop.length, noop.offset),
        (0x04, "NOOP", 74, 23)
    );
    assert_eq!(noop.value, "00".repeat(74));
    assert_eq!(
        h.local_layout,
        Some(LocalLayout {
            used: LayoutReading::TlvsAt16,
            reason: "crc32c-verifies",
            // Read with a 12-byte address block, bytes 28..100 are 24 zero-type, zero-length
            // TLVs: they parse, they just mean nothing.
            alternative_tlvs_valid: true,
        })
    );
    assert!(h.warnings.is_empty(), "{:?}", h.warnings);
    assert!(!h.stacked);
}

#[test]
fn v2_aws_nlb_health_check_with_a_corrupted_crc_keeps_haproxy_layout_and_reports_invalid() {
    let mut bytes = aws_nlb_health_check();
    bytes[22] ^= 0x01;
    let h = ok(&bytes);
    assert_eq!(h.crc32c, Crc32cStatus::Invalid);
    assert_eq!(h.tlvs.decode()[0].crc32c, Some(Crc32cStatus::Invalid));
    let layout = h.local_layout.as_ref().unwrap();
    assert_eq!(
        (layout.used, layout.reason),
        (LayoutReading::TlvsAt16, "ambiguous")
    );
    assert_eq!(
        warning_codes(&h),
        vec![code::V2_LOCAL_LAYOUT_AMBIGUOUS, code::V2_CRC32C_MISMATCH]
    );
    assert_eq!(h.warnings[1].offset, 19);
    assert!(
        h.warnings[1].message.contains("0xbce5951e"),
        "{}",
        h.warnings[1].message
    );
    assert_eq!(
        h.status,
        Status::Complete,
        "a bad CRC is a finding, not a parse failure"
    );
}

#[test]
fn v2_local_unspec_with_no_body_haproxy_health_check() {
    let bytes = v2(LOCAL_CMD, 0x00, &[]);
    assert_eq!(bytes.len(), 16);
    let h = ok(&bytes);
    assert_eq!(
        (h.command, h.family),
        (Some(Command::Local), Some(Family::Unspec))
    );
    assert_eq!(
        (h.header_len, h.status, h.crc32c),
        (16, Status::Complete, Crc32cStatus::Absent)
    );
    assert_eq!(h.local_layout, None, "no address family, nothing to decide");
    assert!(h.tlvs.decode().is_empty() && h.warnings.is_empty());
}

#[test]
fn v2_local_with_a_real_address_block_that_haproxy_would_misread() {
    // LOCAL, TCP4, a genuine address block and no TLVs. Read from byte 16 the addresses make a
    // TLV 0xc0 of 2 bytes, then a TLV 0x33 declaring 0x6402 bytes: overrun. Only the
    // address-block reading parses.
    let bytes = v2(
        LOCAL_CMD,
        0x11,
        &[ipv4_block([192, 0, 2, 1], [198, 51, 100, 2], 51234, 80)],
    );
    let h = ok(&bytes);
    let layout = h.local_layout.clone().unwrap();
    assert_eq!(
        (layout.used, layout.reason, layout.alternative_tlvs_valid),
        (
            LayoutReading::AddressBlock,
            "only-reading-that-parses",
            false
        )
    );
    assert_eq!(h.src.as_deref(), Some("192.0.2.1"));
    assert_eq!(h.dst.as_deref(), Some("198.51.100.2"));
    assert_eq!((h.src_port, h.dst_port), (Some(51234), Some(80)));
    assert_eq!(
        warning_codes(&h),
        vec![code::V2_LOCAL_LAYOUT_HAPROXY_REJECTS]
    );
    assert_eq!(h.status, Status::Complete);
}

#[test]
fn v2_local_with_family_where_the_crc_verifies_only_after_the_address_block() {
    let bytes = v2(
        LOCAL_CMD,
        0x11,
        &[
            ipv4_block([10, 0, 0, 1], [10, 0, 0, 2], 1000, 2000),
            crc_tlv(),
        ],
    );
    let h = ok(&bytes);
    let layout = h.local_layout.clone().unwrap();
    assert_eq!(
        (layout.used, layout.reason),
        (LayoutReading::AddressBlock, "crc32c-verifies")
    );
    assert_eq!(h.crc32c, Crc32cStatus::Valid);
    assert_eq!(h.src.as_deref(), Some("10.0.0.1"));
    assert_eq!(h.tlvs.decode().len(), 1);
    assert_eq!(h.tlvs.decode()[0].offset, 28);
}

#[test]
fn v2_local_with_family_and_no_crc_where_both_readings_parse_is_ambiguous() {
    let bytes = v2(LOCAL_CMD, 0x11, &[vec![0; 12]]);
    let h = ok(&bytes);
    let layout = h.local_layout.clone().unwrap();
    assert_eq!(
        (layout.used, layout.reason, layout.alternative_tlvs_valid),
        (LayoutReading::TlvsAt16, "ambiguous", true)
    );
    assert_eq!(
        h.tlvs.decode().len(),
        4,
        "twelve zero bytes read as four empty type-0 TLVs"
    );
    assert_eq!(
        warning_codes(&h),
        vec![
            code::V2_LOCAL_LAYOUT_AMBIGUOUS,
            code::V2_TLV_TYPE_ZERO,
            code::V2_TLV_TYPE_ZERO,
            code::V2_TLV_TYPE_ZERO,
            code::V2_TLV_TYPE_ZERO
        ]
    );
    assert_eq!(h.src, None);
}

#[test]
fn v2_local_with_family_and_length_below_the_address_block() {
    let bytes = v2(LOCAL_CMD, 0x21, &[crc_tlv()]);
    let h = ok(&bytes);
    assert_eq!(
        h.local_layout,
        Some(LocalLayout {
            used: LayoutReading::TlvsAt16,
            reason: "length-below-address-block",
            alternative_tlvs_valid: false,
        })
    );
    assert_eq!(h.crc32c, Crc32cStatus::Valid);
    assert_eq!(h.family, Some(Family::Tcp6));
}

// ---------------------------------------------------------------------------------------------
// v2 PROXY: HAProxy-style headers, families

#[test]
fn v2_proxy_tcp4_haproxy_tls_header_with_every_ssl_sub_tlv_and_netns_after_ssl() {
    let bytes = haproxy_tls_header();
    let h = ok(&bytes);
    assert_eq!(
        (h.status, h.command, h.family),
        (Status::Complete, Some(Command::Proxy), Some(Family::Tcp4))
    );
    assert_eq!(h.src.as_deref(), Some("192.0.2.1"));
    assert_eq!(h.dst.as_deref(), Some("198.51.100.2"));
    assert_eq!((h.src_port, h.dst_port), (Some(51234), Some(443)));
    assert_eq!(h.header_len, bytes.len());
    assert_eq!(h.crc32c, Crc32cStatus::Valid);
    // The 387-byte client certificate takes the header past dnsdist's 512-byte default.
    assert_eq!(warning_codes(&h), [code::V2_HEADER_LARGE]);
    let names: Vec<&str> = h.tlvs.decode().iter().map(|t| t.name).collect();
    assert_eq!(
        names,
        ["CRC32C", "ALPN", "AUTHORITY", "UNIQUE_ID", "SSL", "NETNS"]
    );
    assert_eq!(h.tlvs.decode()[0].offset, 28);
    assert_eq!(h.tlvs.decode()[1].value, "h2");
    assert_eq!(h.tlvs.decode()[2].value, "www.example.com");
    assert_eq!(h.tlvs.decode()[3].value, "ab".repeat(16));
    assert!(
        h.tlvs
            .decode()
            .iter()
            .all(|t| t.class == TlvClass::Standard)
    );
    let ssl = &h.tlvs.decode()[4];
    assert_eq!(ssl.client, Some(0x07));
    assert_eq!(
        ssl.client_flags,
        Some(vec!["SSL", "CERT_CONN", "CERT_SESS"])
    );
    assert_eq!(ssl.verify, Some(0));
    assert_eq!(ssl.value, "client=SSL|CERT_CONN|CERT_SESS verify=0");
    let subs: Vec<(u8, &str, &str)> = ssl
        .sub
        .iter()
        .map(|s| (s.kind, s.name, s.value.as_str()))
        .collect();
    assert_eq!(
        subs[..7],
        [
            (0x21, "SSL_VERSION", "TLSv1.3"),
            (0x22, "SSL_CN", "client.example.com"),
            (0x23, "SSL_CIPHER", "TLS_AES_128_GCM_SHA256"),
            (0x24, "SSL_SIG_ALG", "ecdsa-with-SHA256"),
            (0x25, "SSL_KEY_ALG", "EC256"),
            (0x26, "SSL_GROUP", "X25519"),
            (0x27, "SSL_SIG_SCHEME", "ecdsa_secp256r1_sha256"),
        ]
    );
    let cert = &ssl.sub[7];
    assert_eq!((cert.kind, cert.name), (0x28, "SSL_CLIENT_CERT"));
    assert_eq!(
        cert.cert,
        Some(CertNames {
            subject: "CN=client.example.com,OU=Edge,O=Example Corp,C=US".into(),
            issuer: "CN=Example Client CA,O=Example Trust".into(),
        })
    );
    assert_eq!(
        cert.value,
        "subject=CN=client.example.com,OU=Edge,O=Example Corp,C=US; issuer=CN=Example Client CA,O=Example Trust"
    );
    // NETNS follows the SSL TLV: it is a top-level TLV, not an SSL sub-TLV (Wireshark's bug).
    assert_eq!(
        (h.tlvs.decode()[5].kind, h.tlvs.decode()[5].value.as_str()),
        (0x30, "blue")
    );
    assert!(ssl.sub.iter().all(|s| s.kind != 0x30));
}

#[test]
fn v2_proxy_tcp6_haproxy_header_without_crc() {
    let h = ok(&haproxy_tcp6_header());
    assert_eq!(h.family, Some(Family::Tcp6));
    assert_eq!(h.src.as_deref(), Some("2001:db8::1"));
    assert_eq!(h.dst.as_deref(), Some("2001:db8::2"));
    assert_eq!((h.src_port, h.dst_port), (Some(40000), Some(443)));
    assert_eq!(h.crc32c, Crc32cStatus::Absent);
    assert_eq!(h.tlvs.decode()[0].offset, 52);
    assert_eq!(
        h.tlvs.decode()[1].sub[1].value,
        "ECDHE-RSA-AES128-GCM-SHA256"
    );
    assert_eq!(h.tlvs.decode()[1].client_flags, Some(vec!["SSL"]));
}

#[test]
fn v2_proxy_udp4_and_udp6_dnsdist_style_datagrams() {
    let mut datagram = v2(
        PROXY_CMD,
        0x12,
        &[ipv4_block([203, 0, 113, 7], [192, 0, 2, 53], 33000, 53)],
    );
    let header_len = datagram.len();
    datagram.extend_from_slice(&unhex("abcd01000001000000000000")); // a DNS query follows
    let h = ok(&datagram);
    assert_eq!(h.family, Some(Family::Udp4));
    assert_eq!(
        (h.src.as_deref(), h.dst_port),
        (Some("203.0.113.7"), Some(53))
    );
    assert_eq!((h.header_len, h.payload_offset), (header_len, 28));
    assert!(!h.stacked);

    let h = ok(&v2(
        PROXY_CMD,
        0x22,
        &[ipv6_block("2001:db8::7", "2001:db8::53", 33000, 53)],
    ));
    assert_eq!(h.family, Some(Family::Udp6));
    assert_eq!(h.dst.as_deref(), Some("2001:db8::53"));
    assert_eq!(h.header_len, 52);
}

#[test]
fn v2_proxy_unix_stream_and_dgram_paths_up_to_the_first_nul_escaped() {
    let h = ok(&v2(
        PROXY_CMD,
        0x31,
        &[unix_field("/run/haproxy.sock"), unix_field("/run/app.sock")],
    ));
    assert_eq!(h.family, Some(Family::UnixStream));
    assert_eq!(h.src.as_deref(), Some("/run/haproxy.sock"));
    assert_eq!(h.dst.as_deref(), Some("/run/app.sock"));
    assert_eq!((h.src_port, h.dst_port, h.header_len), (None, None, 232));

    let mut hostile = unix_field("/tmp/\x1b[31mred\x07");
    hostile[40] = b'X'; // after the first NUL: not shown
    let h = ok(&v2(
        PROXY_CMD,
        0x32,
        &[hostile, unix_field("@abstract.sock")],
    ));
    assert_eq!(h.family, Some(Family::UnixDgram));
    assert_eq!(h.src.as_deref(), Some("/tmp/\\x1b[31mred\\x07"));
    assert_eq!(
        h.dst.as_deref(),
        Some("@abstract.sock"),
        "Linux abstract socket shown like ss does"
    );
}

#[test]
fn v2_proxy_unspec_has_no_address_block() {
    let h = ok(&v2(PROXY_CMD, 0x00, &[tlv(kind::NOOP, &[])]));
    assert_eq!((h.family, h.src.as_deref()), (Some(Family::Unspec), None));
    assert_eq!(h.tlvs.decode()[0].offset, 16);
    assert_eq!(h.status, Status::Complete);
}

#[test]
fn v2_header_followed_by_tls_reports_payload_offset() {
    let mut bytes = haproxy_tcp6_header();
    let len = bytes.len();
    bytes.extend_from_slice(&unhex("16030100fd010000f90303"));
    let h = ok(&bytes);
    assert_eq!((h.payload_offset, h.header_len), (len, len));
    assert_eq!(bytes[h.payload_offset], 0x16);
}

// ---------------------------------------------------------------------------------------------
// vendor TLVs and the type space

#[test]
fn v2_aws_vpce_id_tlv() {
    let h = ok(&v2(
        PROXY_CMD,
        0x00,
        &[tlv(0xEA, b"\x01vpce-08d2bf15fac5001c9")],
    ));
    let t = &h.tlvs.decode()[0];
    assert_eq!(
        (t.name, t.class, t.vendor, t.value.as_str()),
        (
            "AWS",
            TlvClass::Custom,
            Some("aws"),
            "vpce-08d2bf15fac5001c9"
        )
    );
    assert_eq!(
        (
            t.sub[0].kind,
            t.sub[0].name,
            t.sub[0].length,
            t.sub[0].offset
        ),
        (0x01, "AWS_VPCE_ID", 22, 19)
    );
    assert_eq!(t.sub[0].value, "vpce-08d2bf15fac5001c9");
    assert!(h.warnings.is_empty());

    let h = ok(&v2(PROXY_CMD, 0x00, &[tlv(0xEA, b"\x01vpce id!")]));
    assert_eq!(warning_codes(&h), [code::V2_VENDOR_BAD_VALUE]);
    let h = ok(&v2(PROXY_CMD, 0x00, &[tlv(0xEA, b"")]));
    assert_eq!(warning_codes(&h), [code::V2_VENDOR_BAD_VALUE]);
    let h = ok(&v2(PROXY_CMD, 0x00, &[tlv(0xEA, b"\x07abc")]));
    assert_eq!(
        (
            h.tlvs.decode()[0].sub[0].name,
            h.tlvs.decode()[0].sub[0].value.as_str()
        ),
        ("AWS_UNKNOWN_SUBTYPE", "616263")
    );
}

#[test]
fn v2_azure_private_link_id_is_little_endian_and_exactly_five_bytes() {
    let h = ok(&v2(
        PROXY_CMD,
        0x00,
        &[tlv(0xEE, &[0x01, 0x78, 0x56, 0x34, 0x12])],
    ));
    let t = &h.tlvs.decode()[0];
    assert_eq!(
        (t.name, t.vendor, t.value.as_str()),
        ("AZURE", Some("azure"), "305419896")
    );
    assert_eq!(
        (t.sub[0].name, t.sub[0].value.as_str()),
        ("AZURE_PRIVATEENDPOINT_LINKID", "305419896")
    );
    assert!(h.warnings.is_empty());

    for bad in [
        &[0x01, 1, 2, 3][..],
        &[0x01, 1, 2, 3, 4, 5],
        &[0x02, 1, 2, 3, 4],
    ] {
        let h = ok(&v2(PROXY_CMD, 0x00, &[tlv(0xEE, bad)]));
        assert_eq!(warning_codes(&h), [code::V2_VENDOR_BAD_VALUE], "{bad:?}");
        assert!(h.tlvs.decode()[0].sub.is_empty());
    }
}

#[test]
fn v2_gcp_psc_connection_id_is_big_endian_u64() {
    let h = ok(&v2(
        PROXY_CMD,
        0x00,
        &[tlv(0xE0, &[0x01, 0, 0, 0, 0, 0, 0, 0x2A])],
    ));
    let t = &h.tlvs.decode()[0];
    assert_eq!(
        (t.name, t.vendor, t.value.as_str()),
        ("GCP_PSC_CONNECTION_ID", Some("gcp"), "72057594037927978")
    );
    let h = ok(&v2(PROXY_CMD, 0x00, &[tlv(0xE0, &[1, 2, 3, 4])]));
    assert_eq!(
        (warning_codes(&h), h.tlvs.decode()[0].value.as_str()),
        (vec![code::V2_VENDOR_BAD_VALUE], "01020304")
    );
}

#[test]
fn v2_alibaba_privatelink_vpc_endpoint_and_service_ids() {
    let h = ok(&v2(
        PROXY_CMD,
        0x00,
        &[
            tlv(0xE1, b"\x01vpc-bp1abc"),
            tlv(0xE1, b"\x02ep-bp1def"),
            tlv(0xE1, b"\x03epsrv-bp1ghi"),
            tlv(0xE1, b"\x09??"),
        ],
    ));
    let tlvs = h.tlvs.decode();
    let values: Vec<&str> = tlvs.iter().map(|t| t.value.as_str()).collect();
    assert_eq!(
        values[..3],
        [
            "vpc-id=vpc-bp1abc",
            "endpoint-id=ep-bp1def",
            "endpoint-service-id=epsrv-bp1ghi"
        ]
    );
    let subs: Vec<&str> = h.tlvs.decode().iter().map(|t| t.sub[0].name).collect();
    assert_eq!(
        subs,
        [
            "ALIBABA_VPC_ID",
            "ALIBABA_ENDPOINT_ID",
            "ALIBABA_ENDPOINT_SERVICE_ID",
            "ALIBABA_UNKNOWN_SUBTYPE"
        ]
    );
    assert!(
        h.tlvs
            .decode()
            .iter()
            .all(|t| t.vendor == Some("alibaba") && t.name == "ALIBABA_PRIVATELINK")
    );
    assert_eq!(h.tlvs.decode()[3].value, "093f3f");
    let h = ok(&v2(PROXY_CMD, 0x00, &[tlv(0xE1, b"")]));
    assert_eq!(warning_codes(&h), [code::V2_VENDOR_BAD_VALUE]);
}

#[test]
fn v2_type_space_classes_custom_experimental_reserved_unassigned() {
    let h = ok(&v2(
        PROXY_CMD,
        0x00,
        &[
            tlv(0xE5, b"x"),
            tlv(0xF3, b"y"),
            tlv(0xF9, b"z"),
            tlv(0x10, b"w"),
            tlv(0x06, b""),
        ],
    ));
    let tlvs = h.tlvs.decode();
    let got: Vec<(&str, TlvClass, &str)> = tlvs
        .iter()
        .map(|t| (t.name, t.class, t.value.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("CUSTOM", TlvClass::Custom, "78"),
            ("EXPERIMENTAL", TlvClass::Experimental, "79"),
            ("RESERVED", TlvClass::Reserved, "7a"),
            ("UNASSIGNED", TlvClass::Unassigned, "77"),
            ("UNASSIGNED", TlvClass::Unassigned, ""),
        ]
    );
    for kind in 0..=255u8 {
        assert!(!tlv::name(kind).is_empty());
    }
    assert_eq!(TlvClass::of(0x28), TlvClass::Standard);
    assert_eq!(TlvClass::of(0x29), TlvClass::Unassigned);
}

// ---------------------------------------------------------------------------------------------
// standard TLVs with odd values

#[test]
fn v2_standard_tlvs_with_odd_lengths_are_warnings_with_offsets() {
    let cases: [(Vec<u8>, &str); 8] = [
        (tlv(kind::ALPN, b""), code::V2_ALPN_EMPTY),
        (tlv(kind::AUTHORITY, b""), code::V2_AUTHORITY_EMPTY),
        (
            tlv(kind::AUTHORITY, &[b'a'; 256]),
            code::V2_AUTHORITY_TOO_LONG,
        ),
        (
            tlv(kind::AUTHORITY, b"\xff\xfe"),
            code::V2_AUTHORITY_NOT_UTF8,
        ),
        (tlv(kind::UNIQUE_ID, b""), code::V2_UNIQUE_ID_EMPTY),
        (tlv(kind::UNIQUE_ID, &[7; 129]), code::V2_UNIQUE_ID_TOO_LONG),
        (tlv(kind::CRC32C, &[1, 2, 3]), code::V2_CRC32C_BAD_LENGTH),
        (tlv(kind::SSL_CN, b"cn"), code::V2_SUBTYPE_OUTSIDE_SSL),
    ];
    for (tlv_bytes, expected) in cases {
        let h = ok(&v2(
            PROXY_CMD,
            0x11,
            &[ipv4_block([1, 2, 3, 4], [5, 6, 7, 8], 1, 2), tlv_bytes],
        ));
        assert_eq!(warning_codes(&h), [expected]);
        assert_eq!(h.warnings[0].offset, 28, "{expected}");
        assert_eq!(h.status, Status::Complete, "{expected}");
    }
    let h = ok(&v2(
        PROXY_CMD,
        0x00,
        &[
            tlv(kind::AUTHORITY, &[b'a'; 255]),
            tlv(kind::UNIQUE_ID, &[7; 128]),
        ],
    ));
    assert!(
        h.warnings.is_empty(),
        "255 and 128 are the limits, not over them"
    );
    let h = ok(&v2(PROXY_CMD, 0x00, &[tlv(kind::CRC32C, &[1, 2, 3])]));
    assert_eq!(
        (h.crc32c, h.tlvs.decode()[0].crc32c),
        (Crc32cStatus::Invalid, Some(Crc32cStatus::Invalid))
    );
    let h = ok(&v2(PROXY_CMD, 0x00, &[tlv(kind::SSL_CN, b"cn")]));
    assert_eq!(
        (h.tlvs.decode()[0].name, h.tlvs.decode()[0].value.as_str()),
        ("SSL_CN", "cn")
    );
}

#[test]
fn v2_text_tlvs_are_escaped_for_the_terminal() {
    let h = ok(&v2(
        PROXY_CMD,
        0x00,
        &[
            tlv(kind::AUTHORITY, b"evil\x1b]0;pwned\x07\\.example"),
            tlv(kind::NETNS, "caf\u{e9}\u{202e}".as_bytes()),
        ],
    ));
    assert_eq!(
        h.tlvs.decode()[0].value,
        "evil\\x1b]0;pwned\\x07\\\\.example"
    );
    assert_eq!(h.tlvs.decode()[1].value, "caf\u{e9}\\u{202e}");
}

#[test]
fn v2_large_tlv_and_large_header_warn_about_real_receiver_caps() {
    let h = ok(&v2(PROXY_CMD, 0x00, &[tlv(kind::NOOP, &[0; 5000])]));
    assert_eq!(
        warning_codes(&h),
        [code::V2_HEADER_LARGE, code::V2_TLV_OVER_HAPROXY_CAP]
    );
    assert!(h.warnings[0].message.contains("512") && h.warnings[0].message.contains("4096"));
    assert!(
        h.tlvs.decode()[0].value.ends_with("…(+3976 bytes)"),
        "values are cut for display"
    );
    assert_eq!(h.tlvs.decode()[0].length, 5000);
    let h = ok(&v2(PROXY_CMD, 0x00, &[tlv(kind::NOOP, &[0; 600])]));
    assert_eq!(warning_codes(&h), [code::V2_HEADER_LARGE]);
}

#[test]
fn v2_zero_bytes_instead_of_a_noop_pad_warn_as_type_zero() {
    let h = ok(&v2(PROXY_CMD, 0x00, &[vec![0; 6]]));
    assert_eq!(
        warning_codes(&h),
        [code::V2_TLV_TYPE_ZERO, code::V2_TLV_TYPE_ZERO]
    );
    assert_eq!((h.warnings[0].offset, h.warnings[1].offset), (16, 19));
}

#[test]
fn v2_duplicate_crc32c_tlvs_both_checked() {
    let h = ok(&v2(
        PROXY_CMD,
        0x00,
        &[crc_tlv(), tlv(kind::CRC32C, &[0, 0, 0, 0])],
    ));
    assert!(warning_codes(&h).contains(&code::V2_CRC32C_DUPLICATE));
    // The builder seals only the first: it verifies with its own bytes zeroed, while the second
    // (zero) value cannot match.
    assert_eq!(h.tlvs.decode()[0].crc32c, Some(Crc32cStatus::Valid));
    assert_eq!(h.tlvs.decode()[1].crc32c, Some(Crc32cStatus::Invalid));
    assert_eq!(h.crc32c, Crc32cStatus::Invalid);
}

// ---------------------------------------------------------------------------------------------
// SSL TLV details

#[test]
fn v2_ssl_sub_tlvs_are_bounded_by_the_ssl_tlv_not_the_header() {
    // SSL (client 1, verify 0) with one sub-TLV, then AUTHORITY at top level.
    let h = ok(&v2(
        PROXY_CMD,
        0x00,
        &[
            ssl(0x01, 0, &[tlv(kind::SSL_VERSION, b"TLSv1.3")]),
            tlv(kind::AUTHORITY, b"a.example"),
        ],
    ));
    assert_eq!(h.tlvs.decode().len(), 2);
    assert_eq!(h.tlvs.decode()[0].sub.len(), 1);
    assert_eq!(h.tlvs.decode()[1].name, "AUTHORITY");
}

#[test]
fn v2_ssl_sub_tlv_overrunning_its_parent_is_a_warning_and_later_tlvs_still_parse() {
    // The sub-TLV claims 20 bytes but the SSL TLV holds only 5 + 3 + 4.
    let mut value = vec![0x01, 0, 0, 0, 0, kind::SSL_VERSION, 0, 20];
    value.extend_from_slice(b"TLSv");
    let h = ok(&v2(
        PROXY_CMD,
        0x00,
        &[tlv(kind::SSL, &value), tlv(kind::NETNS, b"ns1")],
    ));
    assert_eq!(warning_codes(&h), [code::V2_SUBTLV_OVERRUN]);
    assert_eq!(h.warnings[0].offset, 16 + 3 + 5);
    assert!(h.tlvs.decode()[0].sub.is_empty());
    assert_eq!(
        (h.tlvs.decode()[1].name, h.status),
        ("NETNS", Status::Complete)
    );

    // Two stray bytes after the last sub-TLV: too few for a sub-TLV header.
    let mut value = vec![0x01, 0, 0, 0, 0];
    value.extend(tlv(kind::SSL_CN, b"x"));
    value.extend_from_slice(&[0, 0]);
    let h = ok(&v2(PROXY_CMD, 0x00, &[tlv(kind::SSL, &value)]));
    assert_eq!(warning_codes(&h), [code::V2_SUBTLV_OVERRUN]);
    assert_eq!(h.warnings[0].offset, 16 + 3 + 5 + 4);
    assert_eq!(h.tlvs.decode()[0].sub.len(), 1);
}

#[test]
fn v2_ssl_too_short_unknown_bits_unknown_subtype_and_unreadable_cert() {
    let h = ok(&v2(PROXY_CMD, 0x00, &[tlv(kind::SSL, &[1, 0, 0])]));
    assert_eq!(warning_codes(&h), [code::V2_SSL_TOO_SHORT]);
    assert_eq!(
        (h.tlvs.decode()[0].client, h.tlvs.decode()[0].value.as_str()),
        (None, "010000")
    );

    let h = ok(&v2(
        PROXY_CMD,
        0x00,
        &[ssl(
            0x09,
            0x0000_0001,
            &[tlv(0x2F, b"?"), tlv(kind::SSL_CLIENT_CERT, b"not der")],
        )],
    ));
    assert_eq!(
        warning_codes(&h),
        [
            code::V2_SSL_UNKNOWN_CLIENT_BITS,
            code::V2_SSL_UNKNOWN_SUBTYPE,
            code::V2_SSL_CLIENT_CERT_UNDECODABLE
        ]
    );
    let t = &h.tlvs.decode()[0];
    assert_eq!(
        (t.client_flags.clone(), t.verify),
        (Some(vec!["SSL"]), Some(1))
    );
    assert_eq!(t.value, "client=SSL verify=1");
    assert_eq!(
        (t.sub[0].name, t.sub[0].value.as_str()),
        ("SSL_UNKNOWN_SUBTYPE", "3f")
    );
    assert_eq!(t.sub[1].value, "6e6f7420646572");

    let h = ok(&v2(PROXY_CMD, 0x00, &[ssl(0x00, 0, &[])]));
    assert_eq!(
        (
            h.tlvs.decode()[0].value.as_str(),
            h.tlvs.decode()[0].client_flags.clone()
        ),
        ("client=none verify=0", Some(vec![]))
    );
}

#[test]
fn v2_ssl_client_cert_self_signed_v3_with_version_field() {
    let der = unhex_lines(SELF_SIGNED_DER);
    let names = der::cert_names(&der).unwrap();
    assert_eq!(
        names.subject,
        "CN=client.example.com,OU=Edge,O=Example Corp,C=US"
    );
    assert_eq!(names.issuer, names.subject);
    for cut in 0..der.len() {
        assert_eq!(der::cert_names(&der[..cut]), None, "cut at {cut}");
    }
}

#[test]
fn der_names_escape_rfc4514_specials_and_render_unknown_types() {
    // Name: [SET { OID 2.5.4.10, UTF8 "A, \"B\" + <C>" }], [SET { OID 1.2.3.4, INTEGER 5 }],
    // [SET { CN BMPString "Zoë" + emailAddress IA5 "a@b" }]
    fn element(tag: u8, content: &[u8]) -> Vec<u8> {
        let len = content.len();
        let len_bytes = match u8::try_from(len) {
            Ok(short) if short < 0x80 => vec![short],
            Ok(long) => vec![0x81, long],
            Err(_) => [&[0x82][..], &u16::try_from(len).unwrap().to_be_bytes()].concat(),
        };
        [&[tag][..], &len_bytes, content].concat()
    }
    let atv = |oid: &[u8], value: Vec<u8>| element(0x30, &[element(0x06, oid), value].concat());
    let name = element(
        0x30,
        &[
            element(
                0x31,
                &atv(&[0x55, 4, 10], element(0x0C, b"A, \"B\" + <C> ")),
            ),
            element(0x31, &atv(&[0x2A, 3, 4], element(0x02, &[5]))),
            element(
                0x31,
                &[
                    atv(&[0x55, 4, 3], element(0x1E, &[0, b'Z', 0, b'o', 0, 0xEB])),
                    atv(
                        &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 1, 9, 1],
                        element(0x16, b"a@b\n"),
                    ),
                ]
                .concat(),
            ),
        ]
        .concat(),
    );
    let tbs = element(
        0x30,
        &[
            element(0x02, &[1]),
            element(0x30, &[]),
            name.clone(),
            element(0x30, &[]),
            name,
        ]
        .concat(),
    );
    let cert = element(0x30, &tbs);
    let names = der::cert_names(&cert).unwrap();
    assert_eq!(
        names.subject,
        "CN=Zo\u{eb}+emailAddress=a@b\\0A,1.2.3.4=#020105,O=A\\, \\\"B\\\" \\+ \\<C\\>\\ "
    );
}

// ---------------------------------------------------------------------------------------------
// CRC32C

#[test]
fn v2_crc32c_valid_invalid_absent_and_unverifiable_when_truncated() {
    let bytes = haproxy_tls_header();
    assert_eq!(ok(&bytes).crc32c, Crc32cStatus::Valid);

    let mut flipped = bytes.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 0x20; // a payload byte of NETNS, not the CRC itself
    let h = ok(&flipped);
    assert_eq!(h.crc32c, Crc32cStatus::Invalid);
    assert_eq!(
        warning_codes(&h),
        [code::V2_HEADER_LARGE, code::V2_CRC32C_MISMATCH]
    );
    assert_eq!(h.warnings[1].offset, 31, "offset of the CRC value bytes");

    assert_eq!(ok(&haproxy_tcp6_header()).crc32c, Crc32cStatus::Absent);

    let h = ok(&bytes[..bytes.len() - 1]);
    assert_eq!(
        (h.status, h.crc32c),
        (Status::Truncated, Crc32cStatus::Unverifiable)
    );
}

// ---------------------------------------------------------------------------------------------
// v2 malformations

#[test]
fn v2_bad_version_nibble() {
    for ver_cmd in [0x11, 0x31, 0x01, 0xF1] {
        let bytes = v2(
            ver_cmd,
            0x11,
            &[ipv4_block([1, 1, 1, 1], [2, 2, 2, 2], 1, 2)],
        );
        let h = assert_malformed(&bytes, code::V2_BAD_VERSION, 12);
        assert_eq!((h.version, h.command, h.family), (2, None, None));
    }
}

#[test]
fn v2_bad_command_nibble_names_the_value() {
    let h = assert_malformed(&v2(0x22, 0x11, &[vec![0; 12]]), code::V2_BAD_COMMAND, 12);
    assert!(h.error.as_ref().unwrap().message.contains("0x2"));
    assert_eq!(
        (h.command, h.family, h.declared_len),
        (None, Some(Family::Tcp4), Some(12))
    );
    assert!(h.tlvs.decode().is_empty());
    assert_malformed(&v2(0x2F, 0x00, &[]), code::V2_BAD_COMMAND, 12);
}

#[test]
fn v2_bad_family_byte() {
    for family in [0x01, 0x10, 0x13, 0x20, 0x33, 0x41, 0xFF] {
        let h = assert_malformed(
            &v2(PROXY_CMD, family, &[vec![0; 12]]),
            code::V2_BAD_FAMILY,
            13,
        );
        assert!(
            h.error
                .as_ref()
                .unwrap()
                .message
                .contains(&format!("0x{family:02x}"))
        );
        assert_eq!(h.command, Some(Command::Proxy));
    }
}

#[test]
fn v2_proxy_length_too_small_for_the_address_block() {
    assert_malformed(
        &v2(PROXY_CMD, 0x11, &[vec![0; 8]]),
        code::V2_LENGTH_TOO_SMALL,
        14,
    );
    assert_malformed(
        &v2(PROXY_CMD, 0x12, &[vec![0; 11]]),
        code::V2_LENGTH_TOO_SMALL,
        14,
    );
    assert_malformed(
        &v2(PROXY_CMD, 0x21, &[vec![0; 12]]),
        code::V2_LENGTH_TOO_SMALL,
        14,
    );
    assert_malformed(
        &v2(PROXY_CMD, 0x31, &[vec![0; 100]]),
        code::V2_LENGTH_TOO_SMALL,
        14,
    );
    assert_malformed(&v2(PROXY_CMD, 0x32, &[]), code::V2_LENGTH_TOO_SMALL, 14);
}

#[test]
fn v2_tlv_overrunning_the_header_stops_parsing_with_its_offset() {
    let block = ipv4_block([1, 2, 3, 4], [5, 6, 7, 8], 1, 2);
    // ALPN fine, then a NOOP declaring 10 bytes with 2 left.
    let h = assert_malformed(
        &v2(
            PROXY_CMD,
            0x11,
            &[
                block.clone(),
                tlv(kind::ALPN, b"h2"),
                vec![kind::NOOP, 0, 10, 0, 0],
            ],
        ),
        code::V2_TLV_OVERRUN,
        33,
    );
    assert_eq!(
        h.tlvs.decode().len(),
        1,
        "the TLVs before the overrun are kept"
    );
    // Two stray bytes at the end: no room for a TLV header.
    let h = assert_malformed(
        &v2(PROXY_CMD, 0x11, &[block, vec![0, 0]]),
        code::V2_TLV_OVERRUN,
        28,
    );
    assert!(h.error.unwrap().message.contains("2 byte(s) left"));
}

// ---------------------------------------------------------------------------------------------
// truncation at every interesting point

#[test]
fn v2_truncated_inside_the_signature() {
    let bytes = haproxy_tls_header();
    for cut in 6..12 {
        let h = ok(&bytes[..cut]);
        assert_eq!(
            (h.version, h.status, h.command),
            (2, Status::Truncated, None)
        );
        assert_eq!(error_code(&h), Some(code::V2_TRUNCATED));
        assert_eq!(
            (h.header_len, h.payload_offset, h.declared_len),
            (cut, cut, None)
        );
    }
}

#[test]
fn v2_truncated_inside_the_fixed_header() {
    let bytes = haproxy_tls_header();
    let h = ok(&bytes[..12]);
    assert_eq!((h.status, h.command), (Status::Truncated, None));
    let h = ok(&bytes[..13]);
    assert_eq!(
        (h.status, h.command, h.family),
        (Status::Truncated, Some(Command::Proxy), None)
    );
    let h = ok(&bytes[..14]);
    assert_eq!((h.family, h.declared_len), (Some(Family::Tcp4), None));
    let h = ok(&bytes[..15]);
    assert_eq!(
        (h.status, h.declared_len, h.header_len),
        (Status::Truncated, None, 15)
    );
    assert!(h.error.unwrap().message.contains("length field"));
}

#[test]
fn v2_truncated_right_after_the_fixed_header_knows_the_declared_length() {
    let bytes = haproxy_tls_header();
    let h = ok(&bytes[..16]);
    assert_eq!(h.status, Status::Truncated);
    assert_eq!((h.header_len, h.payload_offset), (bytes.len(), 16));
    assert_eq!(
        h.declared_len,
        Some(u16::try_from(bytes.len() - 16).unwrap())
    );
    assert_eq!(h.error.unwrap().offset, 16);
}

#[test]
fn v2_truncated_inside_the_addresses_keeps_the_complete_ones() {
    let bytes = haproxy_tls_header();
    let h = ok(&bytes[..22]);
    assert_eq!(
        (h.src.as_deref(), h.dst.as_deref(), h.src_port),
        (Some("192.0.2.1"), None, None)
    );
    let h = ok(&bytes[..26]);
    assert_eq!(
        (h.dst.as_deref(), h.src_port, h.dst_port),
        (Some("198.51.100.2"), Some(51234), None)
    );
    assert_eq!(h.status, Status::Truncated);
    let h = ok(&haproxy_tcp6_header()[..40]);
    assert_eq!((h.src.as_deref(), h.dst), (Some("2001:db8::1"), None));
}

#[test]
fn v2_truncated_inside_a_tlv_keeps_the_complete_tlvs() {
    let bytes = haproxy_tls_header();
    // CRC (28..35), ALPN (35..40), AUTHORITY (40..58): cut inside AUTHORITY's value.
    let h = ok(&bytes[..45]);
    assert_eq!(h.status, Status::Truncated);
    let names: Vec<&str> = h.tlvs.decode().iter().map(|t| t.name).collect();
    assert_eq!(names, ["CRC32C", "ALPN"]);
    assert_eq!(h.crc32c, Crc32cStatus::Unverifiable);
    let error = h.error.unwrap();
    assert_eq!(error.offset, 45);
    assert!(
        error.message.contains("inside the TLVs"),
        "{}",
        error.message
    );
    // Cut inside a TLV's own 3-byte header.
    let h = ok(&bytes[..41]);
    assert_eq!((h.status, h.tlvs.decode().len()), (Status::Truncated, 2));
    // A truncated LOCAL header: the layout falls back to HAProxy's reading.
    let h = ok(&aws_nlb_health_check()[..50]);
    assert_eq!(h.status, Status::Truncated);
    assert_eq!(h.local_layout.unwrap().used, LayoutReading::TlvsAt16);
    assert_eq!(h.tlvs.decode()[0].crc32c, Some(Crc32cStatus::Unverifiable));
}

#[test]
fn v2_truncated_header_is_never_malformed_for_any_prefix_of_a_valid_header() {
    for bytes in all_test_headers() {
        let full = ok(&bytes);
        assert_eq!(full.status, Status::Complete, "{full:#?}");
        for cut in 6..full.header_len {
            let h = ok(&bytes[..cut]);
            assert_eq!(
                h.status,
                Status::Truncated,
                "cut at {cut} of {bytes:02x?}: {h:#?}"
            );
            assert_eq!(h.payload_offset, cut);
        }
        for cut in 0..6 {
            assert_eq!(inspect(&bytes[..cut]), None);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// v1

#[test]
fn v1_nginx_tcp4_line() {
    let line = b"PROXY TCP4 192.0.2.1 198.51.100.2 51234 80\r\n";
    let h = ok(line);
    assert_eq!(
        (h.version, h.command, h.family),
        (1, Some(Command::Proxy), Some(Family::Tcp4))
    );
    assert_eq!(
        (h.src.as_deref(), h.dst.as_deref()),
        (Some("192.0.2.1"), Some("198.51.100.2"))
    );
    assert_eq!((h.src_port, h.dst_port), (Some(51234), Some(80)));
    assert_eq!(
        (h.header_len, h.payload_offset, h.declared_len),
        (line.len(), line.len(), None)
    );
    assert_eq!(
        (h.status, h.crc32c, h.error),
        (Status::Complete, Crc32cStatus::Absent, None)
    );
    assert!(h.tlvs.decode().is_empty() && h.warnings.is_empty() && h.local_layout.is_none());
}

#[test]
fn v1_nginx_tcp6_line() {
    let line = b"PROXY TCP6 2001:db8::1 2001:db8:0:0::2 51234 443\r\n";
    let h = ok(line);
    assert_eq!(h.family, Some(Family::Tcp6));
    assert_eq!(
        (h.src.as_deref(), h.dst.as_deref()),
        (Some("2001:db8::1"), Some("2001:db8::2"))
    );
    assert_eq!((h.header_len, h.status), (line.len(), Status::Complete));
    let h = ok(b"PROXY TCP6 ::ffff:192.0.2.1 ::1 1 2\r\n");
    assert_eq!(h.src.as_deref(), Some("::ffff:192.0.2.1"));
}

#[test]
fn v1_unknown_lines() {
    let h = ok(b"PROXY UNKNOWN\r\n");
    assert_eq!(
        (h.family, h.header_len, h.status),
        (Some(Family::Unknown), 15, Status::Complete)
    );
    assert_eq!(h.src, None);
    assert!(h.warnings.is_empty());

    let long = format!(
        "PROXY UNKNOWN {0} {0} 65535 65535\r\n",
        "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"
    );
    assert_eq!(long.len(), 107, "the spec's worst case");
    let h = ok(long.as_bytes());
    assert_eq!((h.status, h.header_len), (Status::Complete, 107));
    assert_eq!(warning_codes(&h), [code::V1_UNKNOWN_WITH_DATA]);
    assert_eq!(h.warnings[0].offset, 13);

    let too_long = format!(
        "PROXY UNKNOWN {0} {0} 65535 655350\r\n",
        "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"
    );
    assert_malformed(too_long.as_bytes(), code::V1_TOO_LONG, 107);
    assert_malformed(b"PROXY UNKNOWN\n", code::V1_NO_CRLF, 13);
    assert_malformed(b"PROXY UNKNOWN junk\n", code::V1_NO_CRLF, 18);
}

#[test]
fn v1_line_from_the_ndpi_capture_followed_by_a_tls_client_hello() {
    let bytes = unhex(NDPI_PAYLOAD);
    let h = ok(&bytes);
    assert_eq!(h.status, Status::Complete);
    assert_eq!(h.family, Some(Family::Tcp4));
    assert_eq!(
        (h.src.as_deref(), h.src_port),
        (Some("11.111.11.111"), Some(52176))
    );
    assert_eq!(
        (h.dst.as_deref(), h.dst_port),
        (Some("222.222.222.22"), Some(443))
    );
    assert_eq!((h.header_len, h.payload_offset), (51, 51));
    assert_eq!(
        &bytes[h.payload_offset..h.payload_offset + 3],
        &[0x16, 0x03, 0x01],
        "TLS record follows"
    );
    assert!(!h.stacked);
}

#[test]
fn v1_ndpi_capture_file_when_present() {
    // The same bytes, read from the shared capture (skipped when the file is not there).
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/captures/ppv1_tcp4_with_tls_clienthello_one_segment__ndpi.pcap"
    );
    let Ok(file) = std::fs::read(path) else {
        return;
    };
    // pcap: 24-byte file header, 16-byte record header, 14 Ethernet, 20 IPv4, 32 TCP (with options).
    let start = file.windows(6).position(|w| w == b"PROXY ").unwrap();
    assert_eq!(start, 106);
    let h = ok(&file[start..]);
    assert_eq!((h.status, h.header_len), (Status::Complete, 51));
}

#[test]
fn v1_leading_zeros_in_octets_and_ports() {
    assert_malformed(
        b"PROXY TCP4 192.0.02.1 198.51.100.2 51234 80\r\n",
        code::V1_LEADING_ZERO,
        17,
    );
    assert_malformed(
        b"PROXY TCP4 010.0.0.1 198.51.100.2 51234 80\r\n",
        code::V1_LEADING_ZERO,
        11,
    );
    assert_malformed(
        b"PROXY TCP4 192.0.2.1 198.51.100.2 051234 80\r\n",
        code::V1_LEADING_ZERO,
        34,
    );
    let h = assert_malformed(
        b"PROXY TCP4 192.0.2.1 198.51.100.2 51234 080\r\n",
        code::V1_LEADING_ZERO,
        40,
    );
    assert_eq!(h.header_len, 45, "the line end is still known");
    assert_eq!(
        h.src_port,
        Some(51234),
        "fields before the problem are kept"
    );
    assert_eq!(
        ok(b"PROXY TCP4 0.0.0.0 0.0.0.0 0 0\r\n").status,
        Status::Complete,
        "a lone 0 is fine"
    );
}

#[test]
fn v1_too_long_without_crlf_in_107_bytes() {
    let mut line = b"PROXY TCP4 192.0.2.1 198.51.100.2 51234 80".to_vec();
    line.extend(std::iter::repeat_n(b'1', 80));
    line.extend_from_slice(b"\r\n");
    assert_malformed(&line, code::V1_TOO_LONG, 107);
    let mut junk = b"PROXY ".to_vec();
    junk.extend(std::iter::repeat_n(b'A', 200));
    assert_malformed(&junk, code::V1_TOO_LONG, 107);
}

#[test]
fn v1_line_end_must_be_crlf() {
    assert_malformed(
        b"PROXY TCP4 192.0.2.1 198.51.100.2 51234 80\n",
        code::V1_NO_CRLF,
        42,
    );
    assert_malformed(
        b"PROXY TCP4 192.0.2.1 198.51.100.2 51234 80\rX",
        code::V1_NO_CRLF,
        42,
    );
    assert_malformed(
        b"PROXY TCP4 192.0.2.1 198.51.100.2 51234 80\r\r\n",
        code::V1_NO_CRLF,
        42,
    );
}

#[test]
fn v1_double_spaces() {
    assert_malformed(
        b"PROXY  TCP4 192.0.2.1 198.51.100.2 51234 80\r\n",
        code::V1_DOUBLE_SPACE,
        6,
    );
    assert_malformed(
        b"PROXY TCP4  192.0.2.1 198.51.100.2 51234 80\r\n",
        code::V1_DOUBLE_SPACE,
        11,
    );
    assert_malformed(
        b"PROXY TCP4 192.0.2.1 198.51.100.2  51234 80\r\n",
        code::V1_DOUBLE_SPACE,
        34,
    );
}

#[test]
fn v1_bad_addresses() {
    for (line, offset) in [
        (&b"PROXY TCP4 192.0.2 198.51.100.2 1 2\r\n"[..], 11),
        (b"PROXY TCP4 256.0.2.1 198.51.100.2 1 2\r\n", 11),
        (b"PROXY TCP4 1.2.3.4.5 198.51.100.2 1 2\r\n", 19),
        (b"PROXY TCP4 1..3.4 198.51.100.2 1 2\r\n", 13),
        (b"PROXY TCP4 1.2.3.4 example.com 1 2\r\n", 19),
        (b"PROXY TCP6 2001:db8:::1 ::2 1 2\r\n", 11),
        (b"PROXY TCP6 fe80::1%eth0 ::2 1 2\r\n", 11),
    ] {
        assert_malformed(line, code::V1_BAD_ADDRESS, offset);
    }
}

#[test]
fn v1_address_kind_must_match_the_family() {
    assert_malformed(
        b"PROXY TCP4 2001:db8::1 192.0.2.2 1 2\r\n",
        code::V1_FAMILY_MISMATCH,
        11,
    );
    assert_malformed(
        b"PROXY TCP6 ::1 192.0.2.2 1 2\r\n",
        code::V1_FAMILY_MISMATCH,
        15,
    );
}

#[test]
fn v1_bad_ports() {
    assert_malformed(
        b"PROXY TCP4 1.2.3.4 5.6.7.8 65536 80\r\n",
        code::V1_BAD_PORT,
        27,
    );
    assert_malformed(
        b"PROXY TCP4 1.2.3.4 5.6.7.8 http 80\r\n",
        code::V1_BAD_PORT,
        27,
    );
    assert_malformed(
        b"PROXY TCP4 1.2.3.4 5.6.7.8 1 -1\r\n",
        code::V1_BAD_PORT,
        29,
    );
    assert_malformed(
        b"PROXY TCP4 1.2.3.4 5.6.7.8 1 999999\r\n",
        code::V1_BAD_PORT,
        29,
    );
    assert_eq!(
        ok(b"PROXY TCP4 1.2.3.4 5.6.7.8 65535 0\r\n").src_port,
        Some(65535)
    );
}

#[test]
fn v1_bad_protocol_missing_fields_and_trailing_data() {
    assert_malformed(
        b"PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n",
        code::V1_BAD_FAMILY,
        6,
    );
    assert_malformed(
        b"PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n",
        code::V1_BAD_FAMILY,
        6,
    );
    assert_malformed(
        b"PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n",
        code::V1_BAD_FAMILY,
        6,
    );
    assert_malformed(b"PROXY TX", code::V1_BAD_FAMILY, 6);
    assert_malformed(b"PROXY \r\n", code::V1_MISSING_FIELD, 6);
    assert_malformed(
        b"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",
        code::V1_MISSING_FIELD,
        28,
    );
    assert_malformed(b"PROXY TCP4\r\n", code::V1_MISSING_FIELD, 10);
    assert_malformed(
        b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n",
        code::V1_TRAILING_DATA,
        30,
    );
    assert_malformed(
        b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n",
        code::V1_TRAILING_DATA,
        30,
    );
}

#[test]
fn v1_truncated_lines_report_what_was_read() {
    let h = ok(b"PROXY TC");
    assert_eq!(
        (h.status, h.family, error_code(&h)),
        (Status::Truncated, None, Some(code::V1_TRUNCATED))
    );
    let h = ok(b"PROXY TCP4 192.0.2.1 198");
    assert_eq!(
        (h.status, h.family, h.src.as_deref()),
        (Status::Truncated, Some(Family::Tcp4), Some("192.0.2.1"))
    );
    assert_eq!((h.header_len, h.payload_offset), (24, 24));
    let h = ok(b"PROXY TCP4 192.0.2.1 198.51.100.2 51234 80\r");
    assert_eq!((h.status, h.dst_port), (Status::Truncated, Some(80)));
    // A problem before the cut wins over the cut.
    assert_malformed(b"PROXY TCP4 01.2.3.4 1.2", code::V1_LEADING_ZERO, 11);
}

#[test]
fn v1_hostile_bytes_in_errors_are_escaped() {
    let h = assert_malformed(
        b"PROXY TCP4 \x1b[2J 1.2.3.4 1 2\r\n",
        code::V1_BAD_ADDRESS,
        11,
    );
    assert!(h.error.unwrap().message.contains("\\x1b[2J"));
}

// ---------------------------------------------------------------------------------------------
// stacked headers

#[test]
fn stacked_headers_are_flagged() {
    let v1 = b"PROXY TCP4 192.0.2.1 198.51.100.2 51234 80\r\n".to_vec();
    let v2_local = aws_nlb_health_check();
    let h = ok(&[v1.clone(), v2_local.clone()].concat());
    assert!(h.stacked);
    assert_eq!(h.payload_offset, v1.len());
    let h = ok(&[v2_local.clone(), v1.clone()].concat());
    assert!(h.stacked);
    assert_eq!(
        h.crc32c,
        Crc32cStatus::Valid,
        "the CRC covers the header only, not what follows"
    );
    assert!(ok(&[haproxy_tls_header(), haproxy_tcp6_header()].concat()).stacked);
    assert!(
        ok(&[v2_local.clone(), V2_SIGNATURE[..6].to_vec()].concat()).stacked,
        "a cut second signature"
    );
    assert!(!ok(&[v2_local.clone(), b"GET / HTTP/1.1\r\n".to_vec()].concat()).stacked);
    assert!(
        !ok(&[v1, b"PROX".to_vec()].concat()).stacked,
        "too short to tell"
    );
    let mut truncated = v2_local;
    truncated.truncate(50);
    assert!(!ok(&truncated).stacked);
}

// ---------------------------------------------------------------------------------------------
// JSON contract

#[test]
fn json_has_the_lbcheck_1_keys_and_spellings() {
    let value = serde_json::to_value(ok(&aws_nlb_health_check())).unwrap();
    for key in [
        "version",
        "command",
        "family",
        "src",
        "dst",
        "src_port",
        "dst_port",
        "header_len",
        "tlvs",
        "crc32c",
        "status",
        "error",
        "warnings",
        "stacked",
        "local_layout",
        "payload_offset",
    ] {
        assert!(value.get(key).is_some(), "missing key {key}");
    }
    assert_eq!(value["version"], 2);
    assert_eq!(value["command"], "LOCAL");
    assert_eq!(value["family"], "TCP4");
    assert_eq!(value["crc32c"], "valid");
    assert_eq!(value["status"], "complete");
    assert_eq!(value["local_layout"]["used"], "tlvs-at-16");
    assert_eq!(value["tlvs"][0]["type"], 3);
    assert_eq!(value["tlvs"][0]["class"], "standard");
    assert_eq!(value["tlvs"][0]["sub"], serde_json::json!([]));

    let value = serde_json::to_value(ok(&haproxy_tls_header())).unwrap();
    assert_eq!(value["tlvs"][4]["sub"][0]["name"], "SSL_VERSION");
    assert_eq!(
        value["tlvs"][4]["client_flags"],
        serde_json::json!(["SSL", "CERT_CONN", "CERT_SESS"])
    );
    let value = serde_json::to_value(ok(b"PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n")).unwrap();
    assert_eq!(value["status"], "malformed");
    assert_eq!(value["error"]["code"], "v1.leading-zero");
    assert_eq!(value["error"]["offset"], 27);
    let value = serde_json::to_value(ok(&v2(PROXY_CMD, 0x32, &[vec![0; 216]]))).unwrap();
    assert_eq!(value["family"], "UNIX_DGRAM");
    let value = serde_json::to_value(ok(&v2(LOCAL_CMD, 0x00, &[]))).unwrap();
    assert_eq!(value["family"], "UNSPEC");
    assert_eq!(value["local_layout"], serde_json::Value::Null);
}

/// Prints the JSON of the two reference headers: `cargo test --lib json_examples -- --nocapture`.
#[test]
fn json_examples() {
    for bytes in [aws_nlb_health_check(), haproxy_tls_header()] {
        let json = serde_json::to_string_pretty(&ok(&bytes)).unwrap();
        println!("{json}");
    }
}

// ---------------------------------------------------------------------------------------------
// build-back: fields → bytes → fields, and bytes → fields → bytes

#[test]
fn build_back_fields_to_bytes_to_fields() {
    let cases = [
        Fields {
            version: 2,
            command: Command::Proxy,
            family: Family::Tcp4,
            address_block: true,
            src: Some("192.0.2.1".into()),
            dst: Some("198.51.100.2".into()),
            src_port: Some(51234),
            dst_port: Some(443),
            tlvs: vec![
                (kind::CRC32C, vec![0; 4]),
                (kind::ALPN, b"http/1.1".to_vec()),
                (kind::AUTHORITY, b"example.org".to_vec()),
                (
                    kind::SSL,
                    [&[1u8, 0, 0, 0, 0][..], &tlv(kind::SSL_VERSION, b"TLSv1.3")].concat(),
                ),
                (kind::AWS, b"\x01vpce-0abc".to_vec()),
            ],
        },
        Fields {
            version: 2,
            command: Command::Local,
            family: Family::Tcp4,
            address_block: false,
            src: None,
            dst: None,
            src_port: None,
            dst_port: None,
            tlvs: vec![(kind::CRC32C, vec![0; 4]), (kind::NOOP, vec![0; 74])],
        },
        Fields {
            version: 2,
            command: Command::Proxy,
            family: Family::Udp6,
            address_block: true,
            src: Some("2001:db8::5".into()),
            dst: Some("2001:db8::35".into()),
            src_port: Some(5353),
            dst_port: Some(53),
            tlvs: vec![
                (kind::GCP, 42u64.to_be_bytes().to_vec()),
                (kind::AZURE, vec![1, 2, 0, 0, 0]),
            ],
        },
        Fields {
            version: 2,
            command: Command::Proxy,
            family: Family::UnixStream,
            address_block: true,
            src: Some("/run/a.sock".into()),
            dst: Some("@b".into()),
            src_port: None,
            dst_port: None,
            tlvs: vec![
                (kind::ALIBABA, b"\x02ep-1".to_vec()),
                (kind::UNIQUE_ID, vec![9; 32]),
                (0xF1, vec![1]),
            ],
        },
        Fields {
            version: 1,
            command: Command::Proxy,
            family: Family::Tcp6,
            address_block: false,
            src: Some("2001:db8::1".into()),
            dst: Some("2001:db8::2".into()),
            src_port: Some(1),
            dst_port: Some(65535),
            tlvs: vec![],
        },
        Fields {
            version: 1,
            command: Command::Proxy,
            family: Family::Unknown,
            address_block: false,
            src: None,
            dst: None,
            src_port: None,
            dst_port: None,
            tlvs: vec![],
        },
    ];
    for fields in cases {
        let bytes = build(&fields);
        let h = ok(&bytes);
        assert_eq!(h.status, Status::Complete, "{h:#?}");
        assert_eq!(fields_of(&h), fields);
    }
}

#[test]
fn build_back_real_bytes_to_fields_to_bytes() {
    for bytes in [
        aws_nlb_health_check(),
        haproxy_tcp6_header(),
        all_test_headers().pop().unwrap(),
        b"PROXY TCP4 192.0.2.1 198.51.100.2 51234 80\r\n".to_vec(),
        b"PROXY UNKNOWN\r\n".to_vec(),
        v2(LOCAL_CMD, 0x00, &[]),
        v2(
            PROXY_CMD,
            0x31,
            &[
                unix_field("/run/haproxy.sock"),
                unix_field("/run/app.sock"),
                crc_tlv(),
            ],
        ),
    ] {
        let h = ok(&bytes);
        assert_eq!(build(&fields_of(&h)), bytes, "{h:#?}");
    }
}

// ---------------------------------------------------------------------------------------------
// robustness: never panic

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % u64::try_from(n).unwrap()).unwrap()
    }
}

fn check_invariants(bytes: &[u8]) {
    if let Some(h) = inspect(bytes) {
        assert!(h.payload_offset <= bytes.len());
        assert_eq!(h.status == Status::Complete, h.error.is_none(), "{h:#?}");
        if h.status == Status::Complete {
            assert_eq!(h.payload_offset, h.header_len);
        }
        // The report writes headers by hand: byte for byte what serde writes.
        crate::report::flow_json::assert_written_as_serde(&h, |out, h| {
            crate::report::flow_json::write_proxy(out, h).unwrap();
        });
    }
}

#[test]
fn every_prefix_and_random_byte_flips_never_panic() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for bytes in all_test_headers()
        .into_iter()
        .chain([writer_coverage_header()])
    {
        for cut in 0..=bytes.len() {
            check_invariants(&bytes[..cut]);
        }
        for _ in 0..3000 {
            let mut mutated = bytes.clone();
            for _ in 0..=rng.below(4) {
                let at = rng.below(mutated.len());
                mutated[at] ^= u8::try_from(1 + rng.below(255)).unwrap();
            }
            let keep = mutated.len() - rng.below(mutated.len() / 4 + 1);
            mutated.truncate(keep);
            check_invariants(&mutated);
        }
    }
    // Random bytes behind each signature.
    for _ in 0..3000 {
        let len = rng.below(300);
        let mut bytes = if rng.below(2) == 0 {
            V2_SIGNATURE.to_vec()
        } else {
            V1_SIGNATURE.to_vec()
        };
        bytes.extend((0..len).map(|_| u8::try_from(rng.below(256)).unwrap()));
        if bytes.len() > 13 && rng.below(2) == 0 {
            bytes[12] = 0x20 | u8::try_from(rng.below(2)).unwrap();
        }
        check_invariants(&bytes);
    }
}

#[test]
fn der_walker_never_panics_on_mutated_certificates() {
    let mut rng = Rng(42);
    let der = unhex_lines(CLIENT_CERT_DER);
    for _ in 0..5000 {
        let mut mutated = der.clone();
        for _ in 0..=rng.below(3) {
            let at = rng.below(mutated.len().min(200));
            mutated[at] = u8::try_from(rng.below(256)).unwrap();
        }
        let _ = der::cert_names(&mutated);
    }
}

/// 4 KiB of tiny faulty TLVs made a warning each (~400 KB a flow, held until the checks end):
/// the first [`super::MAX_WARNINGS`] are kept, the rest counted.
#[test]
fn v2_warnings_past_the_first_few_are_counted() {
    let mut parts = vec![ipv4_block([192, 0, 2, 1], [198, 51, 100, 2], 51234, 80)];
    parts.extend((0..100).map(|_| tlv(kind::ALPN, b"")));
    let h = ok(&v2(PROXY_CMD, 0x11, &parts));
    assert_eq!(h.status, Status::Complete);
    assert_eq!(h.warnings.len(), super::MAX_WARNINGS);
    assert!(h.warnings_not_listed > 0);
    let all = h.warnings.len() + h.warnings_not_listed as usize;
    assert!(all >= 100, "one per TLV at least: {all}");
    assert_eq!(h.warnings[0].offset, 28, "the first TLV's");
}
