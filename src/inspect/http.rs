//! HTTP/1.x on the reassembled first bytes of a connection, both directions.
//!
//! [`parse_requests`] lists every request the bytes hold (keep-alive and pipelining), with the
//! headers that carry a client address (`X-Forwarded-For` per header line, RFC 7239
//! `Forwarded`, `X-Real-IP`, `True-Client-IP`, `CF-Connecting-IP`) and `Host`.
//! [`parse_responses`] lists the status lines of the other direction.
//!
//! Framing follows RFC 9112 §6: a body is skipped by `Content-Length`; `Transfer-Encoding`
//! (chunked or other), conflicting or bad `Content-Length`, `CONNECT`, a `101` response, or a
//! response body running to the close all end the listing, because the next message cannot be
//! found without decoding the body. Running out of bytes ends it too: a message whose head is
//! cut is listed with `complete: false`; a message cut in its body is listed complete.
//!
//! Every string in the results went through [`crate::inspect::escape`]; none is raw packet text.
//! Never panics, on any input; no input makes it loop or allocate beyond a few times its size.

use std::borrow::Cow;
use std::ops::Range;

use serde::Serialize;

use crate::inspect::escape::{escape_bytes, escape_common};

mod addr;
mod framing;
#[cfg(test)]
mod tests;

pub use addr::{ENDS_KEPT, ForwardedAddr, ForwardedElement, XffHeader};
use addr::{parse_forwarded, parse_xff};
use framing::{Body, Head, declared_body, first_line, next_message, read_head, skip_empty_lines};

/// No more messages than this are parsed per direction (the first bytes' summary counts them).
pub const MAX_MESSAGES: usize = 256;
/// Messages kept in a flow's summary per direction; the rest are counted. Every summary is
/// held until the checks end, and 4 KiB of pipelined `GET / HTTP/1.1` with a one-letter host
/// are 148 requests (~210 bytes each): 20,000 such flows took 602 MiB with all of them
/// listed. The checks read the first message only; 16 show what a reused connection carries.
pub const LISTED_MESSAGES: usize = 16;
/// Escaped length kept for a request target.
const MAX_URI_CHARS: usize = 512;
/// Escaped length kept for a method, version or reason phrase.
const MAX_TOKEN_CHARS: usize = 64;
/// Escaped length kept for other header values.
const MAX_VALUE_CHARS: usize = 256;
/// Longest method token accepted when the method is not a known one.
const MAX_METHOD_LEN: usize = 24;

/// Methods recognised without seeing the rest of the request line (RFC 9110, `WebDAV`, and the
/// HTTP/2 connection preface `PRI`).
const KNOWN_METHODS: &[&str] = &[
    "GET",
    "HEAD",
    "POST",
    "PUT",
    "DELETE",
    "CONNECT",
    "OPTIONS",
    "TRACE",
    "PATCH",
    "PRI",
    "PROPFIND",
    "PROPPATCH",
    "MKCOL",
    "COPY",
    "MOVE",
    "LOCK",
    "UNLOCK",
    "SEARCH",
    "REPORT",
    "PURGE",
];

/// Versions kept without an allocation (empty: a request line without one).
const COMMON_VERSIONS: &[&str] = &["HTTP/1.1", "HTTP/1.0", ""];
/// Reason phrases kept without an allocation.
const COMMON_REASONS: &[&str] = &[
    "OK",
    "No Content",
    "Moved Permanently",
    "Found",
    "Not Modified",
    "Bad Request",
    "Unauthorized",
    "Forbidden",
    "Not Found",
    "Too Many Requests",
    "Internal Server Error",
    "Bad Gateway",
    "Service Unavailable",
    "Gateway Timeout",
    "Switching Protocols",
    "",
];

/// The start of every HTTP/1.x status line.
const RESPONSE_PREFIX: &[u8] = b"HTTP/1.";

/// One HTTP request as seen on the wire. Kept with the flow's summary for the whole run: boxed
/// strings and slices (no spare capacity), common tokens borrowed, rare headers boxed apart.
/// JSON: the fields in this order, the rare headers among them (see the `Serialize` impl).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// Method, escaped.
    pub method: Cow<'static, str>,
    /// Request target, escaped (cut past 512 characters).
    pub uri: Box<str>,
    /// Version token (`HTTP/1.1`), escaped; empty when the line has none (HTTP/0.9, or cut).
    pub version: Cow<'static, str>,
    /// First `Host` header, escaped.
    pub host: Option<Box<str>>,
    /// Every `X-Forwarded-For` header line, in order.
    pub x_forwarded_for: Box<[XffHeader]>,
    /// Every element of every `Forwarded` header line, in order.
    pub forwarded: Box<[ForwardedElement]>,
    /// `None` when the request has none of them.
    pub other_client_ip: Option<Box<OtherClientIp>>,
    /// False when the bytes end inside the request line or headers.
    pub complete: bool,
}

/// Single-address client headers: few requests carry any, so they are kept together, boxed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OtherClientIp {
    /// First `X-Real-IP`, escaped.
    pub x_real_ip: Option<Box<str>>,
    /// First `True-Client-IP` (Akamai, Cloudflare Enterprise), escaped.
    pub true_client_ip: Option<Box<str>>,
    /// First `CF-Connecting-IP` (Cloudflare), escaped.
    pub cf_connecting_ip: Option<Box<str>>,
    /// `X-Forwarded-For` lines and `Forwarded` elements not listed (see [`addr::ENDS_KEPT`]).
    pub x_forwarded_for_not_listed: u32,
    pub forwarded_not_listed: u32,
}

impl HttpRequest {
    pub fn x_real_ip(&self) -> Option<&str> {
        self.other_client_ip.as_ref()?.x_real_ip.as_deref()
    }

    pub fn true_client_ip(&self) -> Option<&str> {
        self.other_client_ip.as_ref()?.true_client_ip.as_deref()
    }

    pub fn cf_connecting_ip(&self) -> Option<&str> {
        self.other_client_ip.as_ref()?.cf_connecting_ip.as_deref()
    }

    pub fn x_forwarded_for_not_listed(&self) -> u32 {
        self.other_client_ip
            .as_ref()
            .map_or(0, |o| o.x_forwarded_for_not_listed)
    }

    pub fn forwarded_not_listed(&self) -> u32 {
        self.other_client_ip
            .as_ref()
            .map_or(0, |o| o.forwarded_not_listed)
    }
}

impl Serialize for HttpRequest {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut s = serializer.serialize_struct("HttpRequest", 12)?;
        s.serialize_field("method", &self.method)?;
        s.serialize_field("uri", &self.uri)?;
        s.serialize_field("version", &self.version)?;
        s.serialize_field("host", &self.host)?;
        s.serialize_field("x_forwarded_for", &self.x_forwarded_for)?;
        s.serialize_field("forwarded", &self.forwarded)?;
        s.serialize_field("x_real_ip", &self.x_real_ip())?;
        s.serialize_field("true_client_ip", &self.true_client_ip())?;
        s.serialize_field("cf_connecting_ip", &self.cf_connecting_ip())?;
        s.serialize_field("complete", &self.complete)?;
        s.serialize_field(
            "x_forwarded_for_not_listed",
            &self.x_forwarded_for_not_listed(),
        )?;
        s.serialize_field("forwarded_not_listed", &self.forwarded_not_listed())?;
        s.end()
    }
}

/// One HTTP response status line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HttpResponse {
    /// Version token (`HTTP/1.1`), escaped.
    pub version: Cow<'static, str>,
    /// Status code.
    pub status: u16,
    /// Reason phrase, escaped.
    pub reason: Cow<'static, str>,
    /// False when the bytes end inside the status line or headers.
    pub complete: bool,
}

/// How many of `bytes` (a direction's first bytes, starting with an HTTP message) are worth
/// keeping when at most `cap` will ever be kept: all of them while another message may still
/// start inside the cap (None: keep going), or the end of the last head once the body that
/// follows runs past the cap or to the close (nothing more can be learned after it).
///
/// While going on, it adds to `unread` (moved by `offset`) the bodies that the parsers step
/// over by their length, as far as `bytes` hold them: only those of messages the parsers list
/// and go on after (`listed_body`), so that the parsers never read a byte of them. A response
/// the parsers list is framed as they frame it (1xx, 204 and 304 have no body: framed by a
/// `Content-Length` they announce, the next response's head was taken for a body).
pub fn worth_keeping(
    bytes: &[u8],
    cap: usize,
    requests: bool,
    offset: usize,
    unread: &mut Vec<Range<usize>>,
) -> Option<usize> {
    let mut pos = skip_empty_lines(bytes, 0);
    let mut bodies = Vec::new();
    // Whether the parsers still list the messages, and how many heads came before.
    let (mut listing, mut listed) = (true, 0);
    let keep = loop {
        let Some(rest) = bytes.get(pos..) else {
            break None;
        };
        let head = read_head(rest);
        if !head.complete {
            break None;
        }
        let head_end = pos + head.len;
        let parsers = if listing && listed < MAX_MESSAGES {
            listed_body(rest, &head, requests)
        } else {
            None
        };
        listed += 1;
        listing = parsers.is_some();
        let body = match parsers {
            Some(body) if !requests => body,
            _ => match declared_body(&head.headers) {
                // A response without framing headers runs to the close.
                Body::None if !requests => Body::Unknown,
                other => other,
            },
        };
        let body = match body {
            Body::None => 0,
            Body::Length(n) => n,
            Body::Unknown => break Some(head_end),
        };
        let Some(next) = head_end.checked_add(body) else {
            break None;
        };
        if next >= cap {
            break Some(head_end);
        }
        if listing && body > 0 {
            bodies.push(offset + head_end..offset + next.min(bytes.len()));
        }
        if next >= bytes.len() {
            break None;
        }
        pos = skip_empty_lines(bytes, next);
    };
    if keep.is_none() {
        unread.append(&mut bodies);
    }
    keep
}

/// True when `bytes` start with a known method followed by a space.
pub fn looks_like_request(bytes: &[u8]) -> bool {
    KNOWN_METHODS.iter().any(|method| {
        bytes.len() > method.len()
            && bytes.starts_with(method.as_bytes())
            && bytes[method.len()] == b' '
    })
}

/// True when `bytes` start with `HTTP/1.`.
pub fn looks_like_response(bytes: &[u8]) -> bool {
    bytes.starts_with(RESPONSE_PREFIX)
}

/// Of the requests after the first, keeps only what vouches for each one's client: the last
/// X-Forwarded-For line with its last element, and the last Forwarded element. The checks
/// read the first request; the later ones show what a reused connection carries. 16
/// requests of 8 lines of 8 elements each took 113 KB of a flow's summary.
pub fn thin_later_requests(requests: &mut [HttpRequest]) {
    for r in requests.iter_mut().skip(1) {
        let (mut lines, mut forwarded) = (
            std::mem::take(&mut r.x_forwarded_for).into_vec(),
            std::mem::take(&mut r.forwarded).into_vec(),
        );
        let (lines_gone, forwarded_gone) =
            (addr::keep_last(&mut lines), addr::keep_last(&mut forwarded));
        for line in &mut lines {
            let mut entries = std::mem::take(&mut line.entries).into_vec();
            let before_last = &entries[..entries.len().saturating_sub(1)];
            line.invalid_not_listed |= before_last.iter().any(|e| !e.valid);
            line.entries_not_listed += addr::keep_last(&mut entries);
            line.entries = entries.into();
        }
        r.x_forwarded_for = lines.into();
        r.forwarded = forwarded.into();
        if lines_gone + forwarded_gone > 0 {
            let other = r.other_client_ip.get_or_insert_with(Box::default);
            other.x_forwarded_for_not_listed += lines_gone;
            other.forwarded_not_listed += forwarded_gone;
        }
    }
}

/// Every request in one direction of a connection, in order. See the module doc for where the
/// listing stops.
pub fn parse_requests(bytes: &[u8]) -> Vec<HttpRequest> {
    let mut requests = Vec::new();
    let mut pos = 0;
    while requests.len() < MAX_MESSAGES {
        pos = skip_empty_lines(bytes, pos);
        let rest = &bytes[pos..];
        if !starts_like_request(rest) {
            break;
        }
        let head = read_head(rest);
        let line = parse_request_line(head.start_line);
        requests.push(build_request(&head, line));
        let Some(body) = after_request(&head) else {
            break;
        };
        match next_message(pos, &head, &body, bytes.len()) {
            Some(next) => pos = next,
            None => break,
        }
    }
    requests
}

/// How the listing of requests goes on after a request's head: over its body (`Some`), or
/// not at all (a cut head; CONNECT, after which the bytes are the tunnel's).
fn after_request(head: &Head<'_>) -> Option<Body> {
    if !head.complete || head.start_line.starts_with(b"CONNECT ") {
        return None;
    }
    Some(declared_body(&head.headers))
}

/// How the listing of responses goes on after the head of a response with `status`: over its
/// body (`Some`), or not at all (a cut head; 101, after which the bytes are another
/// protocol's). 1xx, 204 and 304 have no body whatever they declare; a response that declares
/// no length runs to the close.
fn after_response(head: &Head<'_>, status: u16) -> Option<Body> {
    if !head.complete || status == 101 {
        return None;
    }
    if (100..200).contains(&status) || status == 204 || status == 304 {
        return Some(Body::None);
    }
    Some(match declared_body(&head.headers) {
        Body::None => Body::Unknown,
        other => other,
    })
}

/// The body after the message at the start of `rest` (whose head is `head`), as the parsers
/// step over it; `None` when they do not list this message or stop after it.
fn listed_body(rest: &[u8], head: &Head<'_>, requests: bool) -> Option<Body> {
    if requests {
        return starts_like_request(rest)
            .then(|| after_request(head))
            .flatten();
    }
    if !looks_like_response(rest) {
        return None;
    }
    let (_, status, _) = parse_status_line(head.start_line, head.start_line_complete)?;
    after_response(head, status)
}

/// Every response in one direction of a connection, in order. See the module doc for where the
/// listing stops; a response to `HEAD` that announces a length may end it early, because the
/// request side is not known here.
pub fn parse_responses(bytes: &[u8]) -> Vec<HttpResponse> {
    let mut responses = Vec::new();
    let mut pos = 0;
    while responses.len() < MAX_MESSAGES {
        pos = skip_empty_lines(bytes, pos);
        let rest = &bytes[pos..];
        if !looks_like_response(rest) {
            break;
        }
        let head = read_head(rest);
        let Some((version, status, reason)) =
            parse_status_line(head.start_line, head.start_line_complete)
        else {
            break;
        };
        responses.push(HttpResponse {
            version: escape_common(version, MAX_TOKEN_CHARS, COMMON_VERSIONS),
            status,
            reason: escape_common(reason, MAX_TOKEN_CHARS, COMMON_REASONS),
            complete: head.complete,
        });
        let Some(body) = after_response(&head, status) else {
            break;
        };
        match next_message(pos, &head, &body, bytes.len()) {
            Some(next) => pos = next,
            None => break,
        }
    }
    responses
}

/// A known method and a space, or any method token whose complete line ends in `HTTP/x.y`.
fn starts_like_request(bytes: &[u8]) -> bool {
    if looks_like_request(bytes) {
        return true;
    }
    let Some(space) = bytes
        .iter()
        .take(MAX_METHOD_LEN + 1)
        .position(|&b| b == b' ')
    else {
        return false;
    };
    if space == 0 || !bytes[..space].iter().all(|&b| is_tchar(b)) {
        return false;
    }
    let Some(line) = first_line(bytes) else {
        return false;
    };
    line.rsplit(|&b| b == b' ')
        .next()
        .is_some_and(|version| version.starts_with(b"HTTP/") && version.len() == 8)
}

/// RFC 9110 token characters.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Method, target and version (empty when absent) of a request line.
fn parse_request_line(line: &[u8]) -> (&[u8], &[u8], &[u8]) {
    let (method, rest) = match line.iter().position(|&b| b == b' ') {
        Some(space) => (&line[..space], &line[space + 1..]),
        None => (line, &line[line.len()..]),
    };
    match rest.iter().rposition(|&b| b == b' ') {
        Some(space) if rest[space + 1..].starts_with(b"HTTP/") => {
            (method, &rest[..space], &rest[space + 1..])
        }
        _ => (method, rest, &rest[rest.len()..]),
    }
}

/// Version, status and reason of a status line; None when the status code is cut or not
/// three digits.
fn parse_status_line(line: &[u8], line_complete: bool) -> Option<(&[u8], u16, &[u8])> {
    let space = line.iter().position(|&b| b == b' ')?;
    let version = &line[..space];
    let rest = &line[space + 1..];
    let code = rest.get(..3)?;
    if !code.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let after = &rest[3..];
    // The code may end the line only when the line ending was seen ("HTTP/1.1 20" is cut).
    if !(after.first() == Some(&b' ') || (after.is_empty() && line_complete)) {
        return None;
    }
    let status = code
        .iter()
        .fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0'));
    Some((version, status, after.get(1..).unwrap_or_default()))
}

fn build_request(head: &Head<'_>, (method, uri, version): (&[u8], &[u8], &[u8])) -> HttpRequest {
    let mut host = None;
    let mut x_forwarded_for = Vec::new();
    let mut forwarded = Vec::new();
    let mut other = OtherClientIp::default();
    for (name, value) in &head.headers {
        let first = |slot: &mut Option<Box<str>>| {
            if slot.is_none() {
                *slot = Some(escape_bytes(value, MAX_VALUE_CHARS).into());
            }
        };
        if name.eq_ignore_ascii_case(b"host") {
            first(&mut host);
        } else if name.eq_ignore_ascii_case(b"x-forwarded-for") {
            x_forwarded_for.push(parse_xff(value));
        } else if name.eq_ignore_ascii_case(b"forwarded") {
            parse_forwarded(value, &mut forwarded);
        } else if name.eq_ignore_ascii_case(b"x-real-ip") {
            first(&mut other.x_real_ip);
        } else if name.eq_ignore_ascii_case(b"true-client-ip") {
            first(&mut other.true_client_ip);
        } else if name.eq_ignore_ascii_case(b"cf-connecting-ip") {
            first(&mut other.cf_connecting_ip);
        }
    }
    other.x_forwarded_for_not_listed = addr::keep_ends(&mut x_forwarded_for);
    other.forwarded_not_listed = addr::keep_ends(&mut forwarded);
    HttpRequest {
        method: escape_common(method, MAX_TOKEN_CHARS, KNOWN_METHODS),
        uri: escape_bytes(uri, MAX_URI_CHARS).into(),
        version: escape_common(version, MAX_TOKEN_CHARS, COMMON_VERSIONS),
        host,
        x_forwarded_for: x_forwarded_for.into(),
        forwarded: forwarded.into(),
        other_client_ip: (other != OtherClientIp::default()).then(|| Box::new(other)),
        complete: head.complete,
    }
}
