//! How much of a direction's first bytes is worth keeping. The flow table keeps up to a few KiB
//! per direction until the flow ends; most of it is body that nothing reads (a download's
//! first 4 KiB). Once the bytes that matter are complete — a PROXY header, the HTTP heads that
//! can still start inside the cap, a TLS handshake record — the rest is dropped and the buffer
//! shrunk, so memory follows the flows open at once, not their traffic.

use std::ops::Range;

use super::{http, proxy, tls};

/// Bytes kept of a stream that is neither HTTP nor TLS: enough to name what it is.
const OTHER_KEEP: usize = 256;
/// TLS record header: type, version, length.
const TLS_RECORD_HEADER: usize = 5;
/// Bytes after a PROXY header never listed as unread: the inspection skips a PROXY header only
/// in the client's bytes, and a server's bytes that start with one are summarised from the raw
/// bytes, which reads at most a 64-byte probe and 80 characters. (Without a header, unread
/// ranges follow a head that the parsers listed, so the first bytes are taken for HTTP.)
const KEPT_AFTER_HEADER: usize = 512;

/// `Some(n)`: the first `n` bytes hold everything the inspectors will read; `None`: not yet
/// known, keep buffering, and `unread` gets the ranges of `bytes` that no inspector reads
/// (HTTP bodies of a declared length before the end: the parsers step over them by their
/// length). `cap` is the most that would ever be kept. A `flow::stream::TrimFn`.
pub fn worth_keeping(bytes: &[u8], cap: usize, unread: &mut Vec<Range<usize>>) -> Option<usize> {
    let mut offset = 0;
    if bytes.starts_with(&proxy::V2_SIGNATURE[..1]) || bytes.starts_with(b"P") {
        if let Some(h) = proxy::inspect(bytes) {
            // Keep everything until the header is whole and nothing is stacked behind it.
            if h.status != proxy::Status::Complete || h.stacked {
                return None;
            }
            offset = h.payload_offset.min(bytes.len());
        }
    }
    let rest = &bytes[offset..];
    if rest.is_empty() {
        return None;
    }
    let cap_rest = cap.saturating_sub(offset);
    let requests = http::looks_like_request(rest);
    if requests || http::looks_like_response(rest) {
        let from = unread.len();
        let keep = http::worth_keeping(rest, cap_rest, requests, offset, unread);
        if offset > 0 {
            for range in &mut unread[from..] {
                range.start = range.start.max(KEPT_AFTER_HEADER);
            }
            unread.retain(|r| !r.is_empty());
        }
        return keep.map(|n| offset + n);
    }
    if tls::looks_like_tls(rest).is_some() {
        // The first record holds the ClientHello or ServerHello in practice; a hello that
        // spans records keeps everything (the parser follows it).
        let len = usize::from(u16::from_be_bytes([rest[3], rest[4]]));
        let record_end = TLS_RECORD_HEADER + len;
        let hello_fits = rest.get(5..9).is_none_or(|h| {
            4 + (usize::from(h[1]) << 16 | usize::from(h[2]) << 8 | usize::from(h[3])) <= len
        });
        return (rest.len() >= record_end && hello_fits).then_some(offset + record_end);
    }
    (rest.len() >= OTHER_KEEP).then_some(offset + OTHER_KEEP)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAP: usize = 4096;

    fn worth_keeping(bytes: &[u8], cap: usize) -> Option<usize> {
        super::worth_keeping(bytes, cap, &mut Vec::new())
    }

    #[test]
    fn a_download_keeps_its_response_head_only() {
        let mut r = b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n".to_vec();
        let head = r.len();
        r.extend(std::iter::repeat_n(b'x', 2000));
        assert_eq!(worth_keeping(&r, CAP), Some(head));
    }

    #[test]
    fn pipelined_requests_inside_the_cap_are_all_kept() {
        let one = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n";
        let two = [&one[..], &one[..]].concat();
        assert_eq!(
            worth_keeping(&two, CAP),
            None,
            "a third request may still come"
        );
        let mut upload = b"POST /u HTTP/1.1\r\nContent-Length: 9999\r\n\r\n".to_vec();
        let head = upload.len();
        upload.extend(std::iter::repeat_n(b'y', 100));
        assert_eq!(worth_keeping(&upload, CAP), Some(head));
    }

    #[test]
    fn proxy_header_then_http_keeps_both() {
        let line = b"PROXY TCP4 192.0.2.10 198.51.100.10 51000 80\r\n";
        let mut b = line.to_vec();
        b.extend_from_slice(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello");
        let n = worth_keeping(&b, CAP).unwrap();
        assert!(n > line.len() && b[..n].ends_with(b"\r\n\r\n"));
        assert_eq!(
            worth_keeping(&line[..20], CAP),
            None,
            "a cut header keeps buffering"
        );
    }

    #[test]
    fn tls_keeps_the_first_record_and_other_bytes_a_little() {
        let mut rec = vec![0x16, 3, 1, 0, 8, 1, 0, 0, 4, 3, 3, 0, 0];
        rec.extend_from_slice(&[0x17, 3, 3, 0, 2, 9, 9]);
        assert_eq!(worth_keeping(&rec, CAP), Some(13));
        assert_eq!(worth_keeping(&rec[..10], CAP), None);
        let binary = vec![0u8; 1000];
        assert_eq!(worth_keeping(&binary, CAP), Some(OTHER_KEEP));
    }
}
