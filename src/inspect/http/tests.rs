//! HTTP tests: real request and response shapes from the shared captures, and the client-address
//! headers in every form the field sends them.

use std::fmt::Write as _;
use std::net::IpAddr;

use super::*;
use crate::inspect::payload::test_support::for_each_prefix_and_corruption;

/// `xff_single_value_leading_zero_octets__arkime.pcap`, packet 4.
const ARKIME_XFF_LEADING_ZERO_REQUEST: &[u8] = b"GET /xx/xxxxx?xx=xxxxxxxxxxxx HTTP/1.1\r\n\
    Accept-Encoding: gzip\r\n\
    X-Forwarded-For: 10.000.000.03\r\n\
    Connection: close\r\n\
    User-Agent: Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) \
    Chrome/44.0.2403.125 Safari/537.36\r\n\
    Host: www.xxxxxxxxx.xx\r\n\
    Referer: http://www.xxxxx.xxx/xxxx/xxxxxxxxxxxx\r\n\
    \r\n";
/// `xff_websocket_upgrade_reverse_proxy_loopback__zeek.pcap`, packet 4.
const ZEEK_WEBSOCKET_XFF_REQUEST: &[u8] =
    b"GET /user/christian/api/kernels/f8645ecd-0a76-4bb1-9e6e-cb464276bc69/channels?session_id=\
    deeecee7-efc2-42a1-a7c1-e1c0569436e3 HTTP/1.1\r\n\
    Host: 192.168.122.182\r\n\
    User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:109.0) Gecko/20100101 Firefox/118.0\r\n\
    Accept: */*\r\n\
    Accept-Encoding: gzip, deflate\r\n\
    Accept-Language: en-US,en;q=0.5\r\n\
    Cache-Control: no-cache\r\n\
    Connection: Upgrade\r\n\
    Cookie: _xsrf=2|8b336cae|f65d8cdbd66b807cf0cb4ec007a97e9b|1696029484; jupyterhub-user-c\
    hristian=2|1:0|10:1696029879|25:jupyterhub-user-christian|40:eXVBckNsSG5KWFZ4UTY0dEJUTF\
    BHM1Fid1R2UUNR|576e1ecf00599ded4c9e5983dda6cf6cfc04298b1aec9346d02031b02dab8911; jupyte\
    rhub-session-id=b7af84db6264410798c8aeeb8c9fc547\r\n\
    Dnt: 1\r\n\
    Origin: http://192.168.122.182\r\n\
    Pragma: no-cache\r\n\
    Sec-WebSocket-Extensions: permessage-deflate\r\n\
    Sec-WebSocket-Key: 7K5Qx7HwJUsja5KzBhGvfQ==\r\n\
    Sec-WebSocket-Protocol: v1.kernel.websocket.jupyter.org\r\n\
    Sec-WebSocket-Version: 13\r\n\
    Upgrade: websocket\r\n\
    X-Forwarded-For: 192.168.122.1\r\n\
    X-Forwarded-Host: 192.168.122.182\r\n\
    X-Forwarded-Port: 80\r\n\
    X-Forwarded-Proto: ws\r\n\
    X-Forwarded-Server: ubuntu2204\r\n\
    X-Real-Ip: 192.168.122.1\r\n\
    \r\n";
/// `tcp_retransmissions_http__suricata.pcap`, packet 4.
const SURICATA_NMAP_PIPELINED_REQUESTS: &[u8] = b"GET /postinfo.html HTTP/1.1\r\n\
    Host: 116.181.2.152\r\n\
    User-Agent: Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.h\
    tml)\r\n\
    Connection: keep-alive\r\n\
    \r\n\
    GET /_vti_bin/_vti_aut/author.dll HTTP/1.1\r\n\
    Host: 116.181.2.152\r\n\
    User-Agent: Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.h\
    tml)\r\n\
    Connection: keep-alive\r\n\
    \r\n\
    GET /_vti_bin/_vti_aut/author.exe HTTP/1.1\r\n\
    Host: 116.181.2.152\r\n\
    User-Agent: Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.h\
    tml)\r\n\
    Connection: keep-alive\r\n\
    \r\n\
    GET /_vti_bin/_vti_aut/dvwssr.dll HTTP/1.1\r\n\
    Host: 116.181.2.152\r\n\
    User-Agent: Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.h\
    tml)\r\n\
    Connection: keep-alive\r\n\
    \r\n\
    GET /_vti_bin/_vti_adm/admin.dll HTTP/1.1\r\n\
    Host: 116.181.2.152\r\n\
    User-Agent: Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.h\
    tml)\r\n\
    Connection: keep-alive\r\n\
    \r\n\
    GET /_vti_bin/_vti_adm/admin.exe HTTP/1.1\r\n\
    Host: 116.181.2.152\r\n\
    User-Agent: Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.h\
    tml)\r\n\
    Connection: keep-alive\r\n\
    \r\n\
    GET /_vti_bin/fpcount.exe?Page=default.asp|Image=3 HTTP/1.1\r\n\
    Host: 116.181.2.152\r\n\
    User-Agent: Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.h\
    tml)\r\n\
    Connection: keep-alive\r\n\
    \r\n\
    GET /_vti_bin/shtml.dll HTTP/1.1\r\n\
    Host: 116.181.2.152\r\n\
    User-Agent: Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.h\
    tml)\r\n\
    Conn";
/// `tcp_retransmissions_http__suricata.pcap`, packet 7.
const SURICATA_NGINX_PIPELINED_RESPONSES: &[u8] = b"HTTP/1.1 404 Not Found\r\n\
    Server: nginx\r\n\
    Date: Thu, 29 Oct 2020 09:59:02 GMT\r\n\
    Content-Type: text/html\r\n\
    Content-Length: 146\r\n\
    Connection: keep-alive\r\n\
    \r\n\
    <html>\r\n\
    <head><title>404 Not Found</title></head>\r\n\
    <body>\r\n\
    <center><h1>404 Not Found</h1></center>\r\n\
    <hr><center>nginx</center>\r\n\
    </body>\r\n\
    </html>\r\n\
    HTTP/1.1 404 Not Found\r\n\
    Server: nginx\r\n\
    Date: Thu, 29 Oct 2020 09:59:02 GMT\r\n\
    Content-Type: text/html\r\n\
    Content-Length: 146\r\n\
    Connection: keep-alive\r\n\
    \r\n\
    <html>\r\n\
    <head><title>404 Not Found</title></head>\r\n\
    <body>\r\n\
    <center><h1>404 Not Found</h1></center>\r\n\
    <hr><center>nginx</center>\r\n\
    </body>\r\n\
    </html>\r\n\
    HTTP/1.1 404 Not Found\r\n\
    Server: nginx\r\n\
    Date: Thu, 29 Oct 2020 09:59:02 GMT\r\n\
    Content-Type: text/html\r\n\
    Content-Length: 146\r\n\
    Connection: keep-alive\r\n\
    \r\n\
    <html>\r\n\
    <head><title>404 Not Found</title></head>\r\n\
    <body>\r\n\
    <center><h1>404 Not Found</h1></center>\r\n\
    <hr><center>nginx</center>\r\n\
    </body>\r\n\
    </html>\r\n\
    HTTP/1.1 404 Not Found\r\n\
    Server: nginx\r\n\
    Date: Thu, 29 Oct 2020 09:59:02 GMT\r\n\
    Content-Type: text/html\r\n\
    Content-Length: 146\r\n\
    Connection: keep-alive\r\n\
    \r\n\
    <html>\r\n\
    <head><title>404 Not Found</title></head>\r\n\
    <body>\r\n\
    <center><h1>404 Not Found</h1></center>\r\n\
    <hr><center>nginx</center>\r\n\
    </body>\r\n\
    </html>\r\n\
    HTTP/1.1 404 Not Found\r\n\
    Server: nginx\r\n\
    Date: Thu, 29 Oct 2020 09:59:02 GMT\r\n\
    Content-Type: text/html\r\n\
    Content-Length: 146\r\n\
    Connection: keep-alive\r\n\
    \r\n\
    <html>\r\n\
    <head><title>404 Not Found</title></head>\r\n\
    <body>\r\n\
    <center><h1>404 Not Found</h1></center>\r\n\
    <hr><center>ngin";
/// `xff_single_value_leading_zero_octets__arkime.pcap`, packet 6.
const ARKIME_CHUNKED_403_RESPONSE: &[u8] = b"HTTP/1.1 403 Forbidden\r\n\
    Date: Wed, 03 Feb 2016 15:27:08 GMT\r\n\
    Content-Type: text/html\r\n\
    Transfer-Encoding: chunked\r\n\
    Connection: close\r\n\
    Set-Cookie: __cfduid=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; expires=Thu, 02-Feb-1\
    7 15:27:08 GMT; path=/; domain=.xxxxxxxxx.xx; HttpOnly\r\n\
    Server: xxxxxxxxxxxxxxxx\r\n\
    CF-RAY: xxxxxxxxxxxxxxxx-IAD\r\n\
    Content-Encoding: gzip\r\n\
    \r\n\
    b9\r\n\
    \x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\xec\x90\xb1\n\
    \xc20\x10\x86w\xa1\xefpvO\xd3\xa2\x83C\xcc\"\n\
    \x0eN>A\xda;\x9b@\x9a\x943\xa0}{\x89Z\x10gG\xd7\xfb?\xbe\xff\xe7\x94M\x83\xd7\xc5BY2\xa8\
    Ur\xc9\x93^\xd7+8Dn\x1d\"\x05%_G%\x9fH\xb1Pm\xc4\t\xda\xbe\x8b>\xf2\xb6\xbcY\x97\xa8\xcc\
    \x8a\x8eB\"\xd6\xca6\xdf\x06\xdbh%\xdfq\xeeb=\xc3\xa1w\xe1.\x9bjS\xd5\x9f\x84\xcc\x1d\xd9\
    )\xe7}K!\xc0\xc0h\x10]\xe8!E@w5\xad'8\x9d\x8f{0\x01ag9\x0e\x04\x17v\x14\xd0O@\xcc\x91a4\
    =\x81\x10\xd9\xf5W\xfc\xf2\x17\x0f\x00\x00\x00\xff\xff\r\n";

/// The `ip` field expected for `text`.
fn ip(text: &str) -> Option<IpAddr> {
    text.parse().ok()
}

fn one_request(bytes: &[u8]) -> HttpRequest {
    let mut requests = parse_requests(bytes);
    assert_eq!(requests.len(), 1, "{requests:#?}");
    requests.remove(0)
}

fn xff_entries(request: &HttpRequest) -> Vec<&ForwardedAddr> {
    request
        .x_forwarded_for
        .iter()
        .flat_map(|header| &header.entries)
        .collect()
}

// --- real captures -------------------------------------------------------------------------

#[test]
fn arkime_xff_with_leading_zero_octets_is_flagged_not_silently_fixed() {
    let request = one_request(ARKIME_XFF_LEADING_ZERO_REQUEST);
    assert_eq!(request.method, "GET");
    assert_eq!(&*request.uri, "/xx/xxxxx?xx=xxxxxxxxxxxx");
    assert_eq!(request.version, "HTTP/1.1");
    assert_eq!(request.host.as_deref(), Some("www.xxxxxxxxx.xx"));
    assert!(request.complete);
    assert_eq!(request.x_forwarded_for.len(), 1);
    assert_eq!(&*request.x_forwarded_for[0].raw, "10.000.000.03");
    let entry = &request.x_forwarded_for[0].entries[0];
    assert_eq!(&*entry.raw, "10.000.000.03");
    assert_eq!(entry.ip, None);
    assert!(!entry.valid);
    let note = entry.note.as_deref().unwrap();
    assert!(note.contains("leading-zero"), "{note}");
    // Octal and decimal agree here, so the note names the one reading.
    assert!(note.contains("10.0.0.3"), "{note}");
}

#[test]
fn jupyter_websocket_behind_reverse_proxy_carries_xff_and_x_real_ip() {
    let request = one_request(ZEEK_WEBSOCKET_XFF_REQUEST);
    assert!(request.uri.starts_with("/user/christian/api/kernels/"));
    assert_eq!(request.host.as_deref(), Some("192.168.122.182"));
    assert_eq!(request.x_real_ip(), Some("192.168.122.1"));
    let entries = xff_entries(&request);
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].ip, ip("192.168.122.1"));
    assert!(entries[0].valid);
    assert_eq!(entries[0].note, None);
}

#[test]
fn nmap_pipelined_requests_in_one_segment_last_one_cut() {
    let requests = parse_requests(SURICATA_NMAP_PIPELINED_REQUESTS);
    assert_eq!(requests.len(), 8);
    assert_eq!(&*requests[0].uri, "/postinfo.html");
    assert_eq!(&*requests[1].uri, "/_vti_bin/_vti_aut/author.dll");
    assert!(requests[..7].iter().all(|r| r.complete));
    assert!(
        requests
            .iter()
            .all(|r| r.host.as_deref() == Some("116.181.2.152"))
    );
    assert!(!requests[7].complete);
}

#[test]
fn nginx_pipelined_404s_are_separated_by_content_length() {
    let responses = parse_responses(SURICATA_NGINX_PIPELINED_RESPONSES);
    assert_eq!(responses.len(), 5);
    for response in &responses {
        assert_eq!(response.version, "HTTP/1.1");
        assert_eq!(response.status, 404);
        assert_eq!(response.reason, "Not Found");
        assert!(response.complete);
    }
}

#[test]
fn chunked_response_ends_the_listing() {
    let responses = parse_responses(ARKIME_CHUNKED_403_RESPONSE);
    assert_eq!(responses.len(), 1);
    assert_eq!(responses[0].status, 403);
    assert_eq!(responses[0].reason, "Forbidden");
}

// --- request shapes of real senders --------------------------------------------------------

#[test]
fn haproxy_forwardfor_request_with_lowercased_header_names() {
    // HAProxy (HTX) lowercases header names on HTTP/1 output.
    let request = one_request(
        b"GET /health HTTP/1.1\r\nhost: example.com\r\nuser-agent: curl/8.5.0\r\n\
          accept: */*\r\nx-forwarded-for: 203.0.113.7\r\n\r\n",
    );
    assert_eq!(request.host.as_deref(), Some("example.com"));
    assert_eq!(xff_entries(&request)[0].ip, ip("203.0.113.7"));
}

#[test]
fn nginx_proxy_add_x_forwarded_for_appends_its_peer() {
    // nginx: proxy_set_header X-Real-IP $remote_addr; X-Forwarded-For $proxy_add_x_forwarded_for;
    let request = one_request(
        b"GET /api HTTP/1.0\r\nX-Real-IP: 203.0.113.7\r\n\
          X-Forwarded-For: 198.51.100.9, 203.0.113.7\r\nHost: backend\r\n\
          Connection: close\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n",
    );
    assert_eq!(request.version, "HTTP/1.0");
    assert_eq!(request.x_real_ip(), Some("203.0.113.7"));
    let entries = xff_entries(&request);
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0].ip, ip("198.51.100.9"));
    assert_eq!(entries[1].ip, ip("203.0.113.7"));
}

#[test]
fn xff_client_forged_entry_before_lb_appended_one() {
    let request =
        one_request(b"GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 6.6.6.6, 203.0.113.7\r\n\r\n");
    let header = &request.x_forwarded_for[0];
    assert_eq!(&*header.raw, "6.6.6.6, 203.0.113.7");
    assert_eq!(&*header.entries[0].raw, "6.6.6.6");
    assert_eq!(header.entries[0].ip, ip("6.6.6.6"));
    assert_eq!(header.entries[1].ip, ip("203.0.113.7"));
}

#[test]
fn xff_sent_by_client_and_second_line_added_by_lb_are_kept_apart_in_order() {
    let request = one_request(
        b"GET / HTTP/1.1\r\nX-Forwarded-For: 10.9.9.9\r\nHost: a\r\n\
          x-forwarded-for: 198.51.100.20\r\n\r\n",
    );
    assert_eq!(request.x_forwarded_for.len(), 2);
    assert_eq!(&*request.x_forwarded_for[0].raw, "10.9.9.9");
    assert_eq!(&*request.x_forwarded_for[1].raw, "198.51.100.20");
    assert_eq!(
        request.x_forwarded_for[1].entries[0].ip,
        ip("198.51.100.20")
    );
}

#[test]
fn xff_every_address_form_the_field_sends() {
    let request = one_request(
        // Two lines: one line lists at most 8 elements (`ENDS_KEPT`).
        b"GET / HTTP/1.1\r\nX-Forwarded-For: [2001:db8::1]:443, 2001:db8::2, 192.0.2.1:5678,\
          unknown, ::ffff:192.0.2.9 \r\nX-Forwarded-For: not-an-ip, _hidden, 1.2.3.4:99999, [1.2.3.4],, \r\n\r\n",
    );
    let e = xff_entries(&request);
    assert_eq!(e.len(), 9);
    assert_eq!(
        (e[0].ip, e[0].port, e[0].valid),
        (ip("2001:db8::1"), Some(443), true)
    );
    assert_eq!(
        (e[1].ip, e[1].port, e[1].valid),
        (ip("2001:db8::2"), None, true)
    );
    assert_eq!(
        (e[2].ip, e[2].port, e[2].valid),
        (ip("192.0.2.1"), Some(5678), true)
    );
    assert_eq!((e[3].ip, e[3].valid), (None, true));
    assert!(e[3].note.as_deref().unwrap().starts_with("unknown"));
    assert_eq!(e[4].ip, ip("::ffff:192.0.2.9"));
    assert_eq!(&*e[4].raw, "::ffff:192.0.2.9");
    for garbage in &e[5..] {
        assert_eq!((garbage.ip, garbage.valid), (None, false), "{garbage:?}");
        assert!(garbage.note.is_some());
    }
    assert_eq!(&*e[5].raw, "not-an-ip");
    // In XFF an underscore name is not an RFC 7239 obfuscated identifier.
    assert_eq!(&*e[6].raw, "_hidden");
    assert_eq!(e[7].note.as_deref(), Some("bad port"));
}

#[test]
fn xff_leading_zero_octets_that_octal_reads_differently() {
    let request = one_request(b"GET / HTTP/1.1\r\nX-Forwarded-For: 010.001.002.003\r\n\r\n");
    let entry = xff_entries(&request)[0];
    assert_eq!((entry.ip, entry.valid), (None, false));
    let note = entry.note.as_deref().unwrap();
    assert!(note.contains("decimal 10.1.2.3"), "{note}");
    assert!(note.contains("octal (inet_aton) 8.1.2.3"), "{note}");
}

#[test]
fn xff_leading_zero_octet_with_digit_nine_is_not_octal() {
    let request = one_request(b"GET / HTTP/1.1\r\nX-Forwarded-For: 10.0.0.09\r\n\r\n");
    let note = xff_entries(&request)[0].note.clone().unwrap();
    assert!(
        note.contains("decimal 10.0.0.9, inet_aton rejects it"),
        "{note}"
    );
}

#[test]
fn empty_xff_header_is_listed_with_no_entries() {
    let request = one_request(b"GET / HTTP/1.1\r\nX-Forwarded-For:\r\n\r\n");
    assert_eq!(request.x_forwarded_for.len(), 1);
    assert_eq!(&*request.x_forwarded_for[0].raw, "");
    assert!(request.x_forwarded_for[0].entries.is_empty());
}

#[test]
fn header_names_match_in_any_case_and_with_space_before_colon() {
    let request = one_request(
        b"GET / HTTP/1.1\r\nhOsT: h\r\nx-FORWARDED-for : 192.0.2.1\r\nX-REAL-IP: 192.0.2.2\r\n\
          TRUE-client-ip: 192.0.2.3\r\ncf-connecting-IP: 192.0.2.4\r\n\r\n",
    );
    assert_eq!(request.host.as_deref(), Some("h"));
    assert_eq!(xff_entries(&request)[0].ip, ip("192.0.2.1"));
    assert_eq!(request.x_real_ip(), Some("192.0.2.2"));
    assert_eq!(request.true_client_ip(), Some("192.0.2.3"));
    assert_eq!(request.cf_connecting_ip(), Some("192.0.2.4"));
}

#[test]
fn first_host_header_wins_when_repeated() {
    let request = one_request(b"GET / HTTP/1.1\r\nHost: first\r\nHost: second\r\n\r\n");
    assert_eq!(request.host.as_deref(), Some("first"));
}

#[test]
fn ansi_escape_injection_in_xff_and_host_is_escaped() {
    let request = one_request(
        b"GET /\x1b[2J HTTP/1.1\r\nHost: evil\x1b]0;pwned\x07\r\n\
          X-Forwarded-For: 1.2.3.4\x1b[2J\x1b[H, 5.6.7.8\xe2\x80\xae\r\n\r\n",
    );
    assert_eq!(&*request.uri, "/\\x1b[2J");
    assert_eq!(request.host.as_deref(), Some("evil\\x1b]0;pwned\\x07"));
    let header = &request.x_forwarded_for[0];
    assert_eq!(&*header.raw, "1.2.3.4\\x1b[2J\\x1b[H, 5.6.7.8\\u{202e}");
    assert_eq!(&*header.entries[0].raw, "1.2.3.4\\x1b[2J\\x1b[H");
    assert!(!header.entries[0].valid);
    let json = serde_json::to_string(&request).unwrap();
    assert!(!json.contains("\\u001b"), "{json}");
    assert!(!json.contains('\u{202e}'), "{json}");
}

#[test]
fn folded_xff_header_continues_on_next_line() {
    let request =
        one_request(b"GET / HTTP/1.1\r\nX-Forwarded-For: 192.0.2.1,\r\n 192.0.2.2\r\n\r\n");
    let entries = xff_entries(&request);
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[1].ip, ip("192.0.2.2"));
}

// --- Forwarded (RFC 7239) ------------------------------------------------------------------

fn forwarded(value: &str) -> Vec<ForwardedElement> {
    let bytes = format!("GET / HTTP/1.1\r\nForwarded: {value}\r\n\r\n");
    one_request(bytes.as_bytes()).forwarded.into_vec()
}

#[test]
fn forwarded_rfc7239_example_with_proto_and_by() {
    let elements = forwarded("for=192.0.2.60;proto=http;by=203.0.113.43");
    assert_eq!(elements.len(), 1);
    let element = &elements[0];
    assert_eq!(element.for_.as_ref().unwrap().ip, ip("192.0.2.60"));
    assert_eq!(element.by.as_ref().unwrap().ip, ip("203.0.113.43"));
    assert_eq!(element.proto.as_deref(), Some("http"));
    assert_eq!(element.host, None);
}

#[test]
fn forwarded_quoted_ipv6_with_port_and_uppercase_key() {
    let elements = forwarded("For=\"[2001:db8:cafe::17]:4711\"");
    let node = elements[0].for_.as_ref().unwrap();
    assert_eq!(&*node.raw, "[2001:db8:cafe::17]:4711");
    assert_eq!(node.ip, ip("2001:db8:cafe::17"));
    assert_eq!(node.port, Some(4711));
    assert!(node.valid);
}

#[test]
fn forwarded_two_hops_in_one_header_and_a_second_header() {
    let bytes = b"GET / HTTP/1.1\r\nForwarded: for=192.0.2.43, for=198.51.100.17;by=203.0.113.60;\
                  proto=http;host=example.com\r\nForwarded: for=\"[2001:db8::9]\"\r\n\r\n";
    let elements = one_request(bytes).forwarded;
    assert_eq!(elements.len(), 3);
    assert_eq!(elements[0].for_.as_ref().unwrap().ip, ip("192.0.2.43"));
    assert_eq!(elements[1].for_.as_ref().unwrap().ip, ip("198.51.100.17"));
    assert_eq!(elements[1].host.as_deref(), Some("example.com"));
    assert_eq!(elements[2].for_.as_ref().unwrap().ip, ip("2001:db8::9"));
}

#[test]
fn forwarded_obfuscated_and_unknown_identifiers_are_valid_without_ip() {
    let elements = forwarded("for=_hidden, for=unknown;by=_SEVKISEK, for=\"[2001:db8::1]:_p0rt\"");
    let hidden = elements[0].for_.as_ref().unwrap();
    assert_eq!(
        (&*hidden.raw, hidden.ip, hidden.valid),
        ("_hidden", None, true)
    );
    assert_eq!(hidden.note.as_deref(), Some("obfuscated identifier"));
    let unknown = elements[1].for_.as_ref().unwrap();
    assert_eq!((unknown.ip, unknown.valid), (None, true));
    assert_eq!(
        elements[1].by.as_ref().unwrap().note.as_deref(),
        Some("obfuscated identifier")
    );
    let obfuscated_port = elements[2].for_.as_ref().unwrap();
    assert_eq!(obfuscated_port.ip, ip("2001:db8::1"));
    assert_eq!(obfuscated_port.port, None);
    assert_eq!(obfuscated_port.note.as_deref(), Some("obfuscated port"));
}

#[test]
fn forwarded_ipv6_without_brackets_or_quotes_names_the_address_but_is_invalid() {
    let elements = forwarded("for=2001:db8::1, for=[2001:db8::2]:80, for=\"2001:db8::3\"");
    for (element, expected) in elements
        .iter()
        .zip(["2001:db8::1", "2001:db8::2", "2001:db8::3"])
    {
        let node = element.for_.as_ref().unwrap();
        assert_eq!(node.ip, ip(expected));
        assert!(!node.valid, "{node:?}");
        assert!(node.note.is_some());
    }
}

#[test]
fn forwarded_comma_and_semicolon_inside_quotes_do_not_split() {
    let elements = forwarded("for=\"_a,b;c\";host=\"x\\\"y\"");
    assert_eq!(elements.len(), 1);
    let node = elements[0].for_.as_ref().unwrap();
    assert_eq!(&*node.raw, "_a,b;c");
    assert!(!node.valid);
    assert_eq!(elements[0].host.as_deref(), Some("x\"y"));
}

#[test]
fn forwarded_unterminated_quote_is_invalid() {
    let elements = forwarded("for=\"192.0.2.1");
    let node = elements[0].for_.as_ref().unwrap();
    assert!(!node.valid);
    assert_eq!(node.note.as_deref(), Some("unterminated quoted string"));
}

#[test]
fn forwarded_repeated_parameter_keeps_the_first_and_unknown_keys_are_ignored() {
    let elements = forwarded("for=192.0.2.1;for=192.0.2.2;secret=x");
    assert_eq!(elements.len(), 1);
    assert_eq!(elements[0].for_.as_ref().unwrap().ip, ip("192.0.2.1"));
}

#[test]
fn forwarded_json_uses_for_as_key() {
    let elements = forwarded("for=192.0.2.1");
    let json = serde_json::to_value(&elements[0]).unwrap();
    assert_eq!(json["for"]["ip"], "192.0.2.1");
    assert!(json.get("for_").is_none());
}

// --- framing -------------------------------------------------------------------------------

#[test]
fn keep_alive_post_body_is_skipped_by_content_length() {
    let bytes = b"POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 18\r\n\r\nGET /fake HTTP/1.1\
                  GET /b HTTP/1.1\r\nHost: h\r\n\r\n";
    let requests = parse_requests(bytes);
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].method, "POST");
    assert_eq!(&*requests[1].uri, "/b");
}

#[test]
fn body_cut_by_capture_ends_the_listing_with_the_request_complete() {
    let requests = parse_requests(b"POST /a HTTP/1.1\r\nContent-Length: 100\r\n\r\nabc");
    assert_eq!(requests.len(), 1);
    assert!(requests[0].complete);
}

#[test]
fn chunked_request_body_ends_the_listing() {
    let bytes = b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n\
                  GET /b HTTP/1.1\r\n\r\n";
    assert_eq!(parse_requests(bytes).len(), 1);
}

#[test]
fn conflicting_content_lengths_end_the_listing() {
    let bytes = b"POST /a HTTP/1.1\r\nContent-Length: 0\r\nContent-Length: 5\r\n\r\nGET /b HTTP/1.1\r\n\r\n";
    assert_eq!(parse_requests(bytes).len(), 1);
    let same = b"POST /a HTTP/1.1\r\nContent-Length: 2, 2\r\n\r\nxxGET /b HTTP/1.1\r\n\r\n";
    assert_eq!(parse_requests(same).len(), 2);
}

#[test]
fn huge_content_length_does_not_overflow() {
    let bytes = b"POST /a HTTP/1.1\r\nContent-Length: 18446744073709551615\r\n\r\n";
    assert_eq!(parse_requests(bytes).len(), 1);
    let bytes = b"POST /a HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n";
    assert_eq!(parse_requests(bytes).len(), 1);
}

#[test]
fn headers_cut_mid_xff_line_mark_the_request_incomplete_and_drop_the_cut_line() {
    let requests = parse_requests(b"GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 203.0.1");
    assert_eq!(requests.len(), 1);
    assert!(!requests[0].complete);
    assert_eq!(requests[0].host.as_deref(), Some("h"));
    assert!(requests[0].x_forwarded_for.is_empty());
}

#[test]
fn request_line_cut_keeps_method_and_partial_target() {
    let request = one_request(b"GET /very/lo");
    assert_eq!(request.method, "GET");
    assert_eq!(&*request.uri, "/very/lo");
    assert_eq!(request.version, "");
    assert!(!request.complete);
}

#[test]
fn bare_lf_line_endings_and_blank_lines_between_requests() {
    let requests = parse_requests(b"GET /a HTTP/1.1\nHost: h\n\n\r\n\r\nGET /b HTTP/1.1\n\n");
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].host.as_deref(), Some("h"));
    assert!(requests[1].complete);
}

#[test]
fn connect_tunnel_ends_the_listing() {
    let bytes = b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n\x16\x03\x01";
    let requests = parse_requests(bytes);
    assert_eq!(requests.len(), 1);
    assert_eq!(&*requests[0].uri, "example.com:443");
}

#[test]
fn unknown_method_is_a_request_only_with_an_http_version() {
    assert_eq!(parse_requests(b"BREW /pot HTTP/1.1\r\n\r\n").len(), 1);
    assert!(parse_requests(b"BREW /pot\r\n\r\n").is_empty());
    assert!(parse_requests(b"hello world").is_empty());
}

#[test]
fn http2_preface_is_listed_as_pri_and_stops() {
    let requests = parse_requests(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x12\x04");
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].method, "PRI");
    assert_eq!(requests[0].version, "HTTP/2.0");
}

#[test]
fn stray_bytes_after_a_request_end_the_listing() {
    let requests = parse_requests(b"GET / HTTP/1.1\r\n\r\n\x16\x03\x01\x00");
    assert_eq!(requests.len(), 1);
}

#[test]
fn looks_like_request_needs_known_method_and_space() {
    assert!(looks_like_request(b"GET /"));
    assert!(looks_like_request(b"OPTIONS * HTTP/1.1"));
    assert!(!looks_like_request(b"GET"));
    assert!(!looks_like_request(b"GETX /"));
    assert!(!looks_like_request(b"get /"));
    assert!(!looks_like_request(b""));
}

#[test]
fn looks_like_response_needs_http1_prefix() {
    assert!(looks_like_response(b"HTTP/1.1 200 OK"));
    assert!(looks_like_response(b"HTTP/1.0"));
    assert!(!looks_like_response(b"HTTP/2"));
    assert!(!looks_like_response(b"HTTP/"));
}

// --- responses -----------------------------------------------------------------------------

#[test]
fn continue_then_final_response() {
    let responses = parse_responses(
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok\
          HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n\
          HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n",
    );
    let statuses: Vec<u16> = responses.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [100, 200, 204, 304, 503]);
    assert_eq!(responses[4].reason, "Service Unavailable");
}

#[test]
fn switching_protocols_ends_the_listing() {
    let responses = parse_responses(b"HTTP/1.1 101 Switching Protocols\r\n\r\n\x81\x05hello");
    assert_eq!(responses.len(), 1);
    assert_eq!(responses[0].status, 101);
}

#[test]
fn response_without_length_runs_to_the_close() {
    let responses =
        parse_responses(b"HTTP/1.0 200 OK\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(responses.len(), 1);
}

#[test]
fn status_line_without_reason() {
    let responses = parse_responses(b"HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(responses[0].status, 200);
    assert_eq!(responses[0].reason, "");
}

#[test]
fn status_code_cut_by_capture_lists_nothing() {
    assert!(parse_responses(b"HTTP/1.1 20").is_empty());
    assert!(parse_responses(b"HTTP/1.1 200").is_empty());
    let cut = parse_responses(b"HTTP/1.1 200 O");
    assert_eq!((cut[0].status, cut[0].complete), (200, false));
    let cut_in_headers = parse_responses(b"HTTP/1.1 200\r\nServer: ngi");
    assert_eq!(
        (cut_in_headers[0].status, cut_in_headers[0].complete),
        (200, false)
    );
}

#[test]
fn non_numeric_status_lists_nothing() {
    assert!(parse_responses(b"HTTP/1.1 2x0 OK\r\n\r\n").is_empty());
}

// --- JSON contract -------------------------------------------------------------------------

#[test]
fn request_json_field_names_are_stable() {
    let request = one_request(
        b"GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 192.0.2.1\r\nForwarded: for=192.0.2.1\r\n\r\n",
    );
    let json = serde_json::to_value(&request).unwrap();
    let mut keys: Vec<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "cf_connecting_ip",
            "complete",
            "forwarded",
            "forwarded_not_listed",
            "host",
            "method",
            "true_client_ip",
            "uri",
            "version",
            "x_forwarded_for",
            "x_forwarded_for_not_listed",
            "x_real_ip"
        ]
    );
    assert_eq!(
        json["x_forwarded_for"][0]["entries"][0],
        serde_json::json!({"raw": "192.0.2.1", "ip": "192.0.2.1", "port": null, "valid": true, "note": null})
    );
}

// --- robustness ----------------------------------------------------------------------------

#[test]
fn no_prefix_or_single_byte_corruption_of_real_requests_panics() {
    for input in [
        ARKIME_XFF_LEADING_ZERO_REQUEST,
        ZEEK_WEBSOCKET_XFF_REQUEST,
        SURICATA_NMAP_PIPELINED_REQUESTS,
        b"GET / HTTP/1.1\r\nForwarded: for=\"[2001:db8::1]:_x\";by=_a, for=unknown\r\n\
          X-Forwarded-For: [2001:db8::1]:443, 010.1.2.3\r\nContent-Length: 3\r\n\r\nabc",
    ] {
        for_each_prefix_and_corruption(input, |bytes| {
            for request in parse_requests(bytes) {
                assert!(request.uri.chars().count() <= MAX_URI_CHARS + 1);
            }
            let _ = looks_like_request(bytes);
            written_as_serde_writes(bytes);
        });
    }
}

/// The report writes HTTP facts by hand (`report::flow_json::http`): byte for byte what serde
/// writes, for whatever the parsers make of `bytes`.
fn written_as_serde_writes(bytes: &[u8]) {
    let facts = crate::inspect::flow::HttpFacts {
        requests: parse_requests(bytes).into(),
        responses: parse_responses(bytes).into(),
        requests_not_listed: 3,
        responses_not_listed: 0,
    };
    crate::report::flow_json::assert_written_as_serde(&facts, crate::report::flow_json::write_http);
}

#[test]
fn every_client_address_header_is_written_as_serde_writes_it() {
    let input: &[u8] = b"GET /a?b=%22 HTTP/1.1\r\nHost: h\x1b[31m\r\nX-Real-IP: 192.0.2.7\r\n\
        True-Client-IP: 2001:db8::7\r\nCF-Connecting-IP: 198.51.100.7\r\n\
        X-Forwarded-For: 192.0.2.1:80, [2001:db8::1]:443, unknown, 010.1.2.3\r\n\
        Forwarded: for=\"[2001:db8::2]:8080\";by=_hidden;proto=https;host=\"a\\\"b\"\r\n\r\n\
        HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
    let requests = parse_requests(input);
    let r = &requests[0];
    assert_eq!(
        (r.x_real_ip(), r.true_client_ip(), r.cf_connecting_ip()),
        (Some("192.0.2.7"), Some("2001:db8::7"), Some("198.51.100.7"))
    );
    assert_eq!(r.forwarded.len(), 1);
    for_each_prefix_and_corruption(input, written_as_serde_writes);
    // And a stream of responses alone, and nothing at all.
    written_as_serde_writes(SURICATA_NGINX_PIPELINED_RESPONSES);
    written_as_serde_writes(b"");
}

#[test]
fn no_prefix_or_single_byte_corruption_of_real_responses_panics() {
    for input in [
        SURICATA_NGINX_PIPELINED_RESPONSES,
        ARKIME_CHUNKED_403_RESPONSE,
    ] {
        for_each_prefix_and_corruption(input, |bytes| {
            let _ = parse_responses(bytes);
            written_as_serde_writes(bytes);
        });
    }
}

/// Long address lists keep their ends and count the rest: 430 elements in one line took 40 KB
/// of every such flow's summary. An invalid element between the ends is still known.
#[test]
fn long_address_lists_keep_their_ends() {
    let mut xff: Vec<String> = (1..=20).map(|i| format!("192.0.2.{i}")).collect();
    xff[10] = "010.0.0.1".into();
    let mut head = format!("GET / HTTP/1.1\r\nX-Forwarded-For: {}\r\n", xff.join(", "));
    for i in 1..=11 {
        let _ = write!(head, "X-Forwarded-For: 198.51.100.{i}\r\n");
    }
    let forwarded: Vec<String> = (1..=9).map(|i| format!("for=203.0.113.{i}")).collect();
    let _ = write!(head, "Forwarded: {}\r\n\r\n", forwarded.join(", "));
    let r = &parse_requests(head.as_bytes())[0];
    assert_eq!(
        r.x_forwarded_for.len(),
        2 * ENDS_KEPT,
        "12 lines: the first and last 4"
    );
    assert_eq!(r.x_forwarded_for_not_listed(), 4);
    let first = &r.x_forwarded_for[0];
    let kept: Vec<&str> = first.entries.iter().map(|e| &*e.raw).collect();
    assert_eq!(
        kept[..4],
        ["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"]
    );
    assert_eq!(
        kept[4..],
        ["192.0.2.17", "192.0.2.18", "192.0.2.19", "192.0.2.20"]
    );
    assert_eq!(first.entries_not_listed, 12);
    assert!(
        first.invalid_not_listed,
        "010.0.0.1 went, but it was invalid"
    );
    assert!(!r.x_forwarded_for[1].invalid_not_listed);
    assert_eq!(
        &*r.x_forwarded_for.last().unwrap().raw,
        "198.51.100.11",
        "the last line stays"
    );
    assert_eq!(r.forwarded.len(), 2 * ENDS_KEPT);
    assert_eq!(r.forwarded_not_listed(), 1);
    let last_for = r.forwarded.last().and_then(|f| f.for_.as_ref()).unwrap();
    assert_eq!(&*last_for.raw, "203.0.113.9");
    written_as_serde_writes(head.as_bytes());
}

/// Requests after the first keep what vouches for each one's client: the last
/// X-Forwarded-For line's last element and the last Forwarded element.
#[test]
fn later_requests_keep_the_last_address_only() {
    let one = "GET / HTTP/1.1\r\nX-Forwarded-For: 010.0.0.1, 192.0.2.1\r\n\
               X-Forwarded-For: 192.0.2.2, 192.0.2.3\r\nForwarded: for=192.0.2.4, for=192.0.2.5\r\n\r\n";
    let mut requests = parse_requests(one.repeat(3).as_bytes());
    thin_later_requests(&mut requests);
    let first = &requests[0];
    assert_eq!(
        (first.x_forwarded_for.len(), first.forwarded.len()),
        (2, 2),
        "untouched"
    );
    for later in &requests[1..] {
        assert_eq!(later.x_forwarded_for.len(), 1);
        let line = &later.x_forwarded_for[0];
        assert_eq!(
            (&*line.raw, line.entries.len()),
            ("192.0.2.2, 192.0.2.3", 1)
        );
        assert_eq!(
            (&*line.entries[0].raw, line.entries_not_listed),
            ("192.0.2.3", 1)
        );
        assert_eq!(later.x_forwarded_for_not_listed(), 1);
        assert!(
            !line.invalid_not_listed,
            "the invalid 010.0.0.1 was on the line that went"
        );
        let last_for = later.forwarded[0].for_.as_ref().unwrap();
        assert_eq!(
            (&*last_for.raw, later.forwarded_not_listed()),
            ("192.0.2.5", 1)
        );
    }
}
