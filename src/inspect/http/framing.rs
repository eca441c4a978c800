//! Message framing: heads (start line, header fields, folded lines) and how far a body
//! reaches (RFC 9112 §2, §5, §6). Slices of the input; never panics.

use std::borrow::Cow;

use super::addr::trim_ows;

/// Where the message after the one at `pos` starts; None when its body cannot be skipped
/// (unknown length, or more bytes than were captured).
pub(super) fn next_message(
    pos: usize,
    head: &Head<'_>,
    body: &Body,
    captured: usize,
) -> Option<usize> {
    let body_len = match body {
        Body::None => 0,
        Body::Length(len) => *len,
        Body::Unknown => return None,
    };
    pos.checked_add(head.len)?
        .checked_add(body_len)
        .filter(|&next| next <= captured)
}

/// A message head: start line and header fields, as slices of the input.
pub(super) struct Head<'a> {
    /// Start line without its line ending.
    pub(super) start_line: &'a [u8],
    /// Whether the start line's line ending was seen.
    pub(super) start_line_complete: bool,
    /// Header fields (name, value with folded lines joined), in order.
    pub(super) headers: Vec<(&'a [u8], Cow<'a, [u8]>)>,
    /// Whether the empty line ending the head was seen.
    pub(super) complete: bool,
    /// Bytes used by the head, including its final empty line.
    pub(super) len: usize,
}

/// Reads a message head; lines end in LF with an optional CR before it. A header line without
/// a colon is ignored; a cut last line is left out.
pub(super) fn read_head(bytes: &[u8]) -> Head<'_> {
    let mut lines = Lines { bytes, pos: 0 };
    let Some(start_line) = lines.next() else {
        return Head {
            start_line: strip_cr(bytes),
            start_line_complete: false,
            headers: Vec::new(),
            complete: false,
            len: bytes.len(),
        };
    };
    // Room for a typical request's headers at once (growing from 4 cost three allocations).
    let mut headers: Vec<(&[u8], Cow<'_, [u8]>)> = Vec::with_capacity(16);
    while let Some(line) = lines.next() {
        if line.is_empty() {
            return Head {
                start_line,
                start_line_complete: true,
                headers,
                complete: true,
                len: lines.pos,
            };
        }
        if matches!(line[0], b' ' | b'\t') {
            // Obsolete line folding (RFC 9112 §5.2): continues the previous value.
            if let Some((_, value)) = headers.last_mut() {
                let joined = value.to_mut();
                joined.push(b' ');
                joined.extend_from_slice(trim_ows(line));
            }
            continue;
        }
        if let Some(colon) = memchr::memchr(b':', line) {
            let name = trim_ows(&line[..colon]);
            headers.push((name, Cow::Borrowed(trim_ows(&line[colon + 1..]))));
        }
    }
    Head {
        start_line,
        start_line_complete: true,
        headers,
        complete: false,
        len: bytes.len(),
    }
}

/// The first line of `bytes` when its line ending was seen, without the line ending.
pub(super) fn first_line(bytes: &[u8]) -> Option<&[u8]> {
    Lines { bytes, pos: 0 }.next()
}

/// Complete lines (ending in LF), without their line ending.
pub(super) struct Lines<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for Lines<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let rest = self.bytes.get(self.pos..)?;
        // memchr: a byte loop here was a tenth of a flow's summary (every head is split into
        // lines, and trimming a stream splits its heads again).
        let lf = memchr::memchr(b'\n', rest)?;
        self.pos += lf + 1;
        Some(strip_cr(&rest[..lf]))
    }
}

pub(super) fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Skips CRLF / LF lines between messages (RFC 9112 §2.2 allows them before a request).
pub(super) fn skip_empty_lines(bytes: &[u8], mut pos: usize) -> usize {
    loop {
        match bytes.get(pos..) {
            Some([b'\r', b'\n', ..]) => pos += 2,
            Some([b'\n', ..]) => pos += 1,
            _ => return pos.min(bytes.len()),
        }
    }
}

/// How the body after a head is delimited.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Body {
    /// No body.
    None,
    /// `Content-Length` bytes.
    Length(usize),
    /// Chunked, another transfer coding, conflicting lengths or up to the close: the next
    /// message cannot be found without decoding it.
    Unknown,
}

/// Body declared by the headers (RFC 9112 §6.3). No framing header gives [`Body::None`],
/// which is right for a request; for a response the caller reads it as "to the close".
pub(super) fn declared_body(headers: &[(&[u8], Cow<'_, [u8]>)]) -> Body {
    let mut length: Option<usize> = None;
    for (name, value) in headers {
        if name.eq_ignore_ascii_case(b"transfer-encoding") {
            return Body::Unknown;
        }
        if name.eq_ignore_ascii_case(b"content-length") {
            // A list of identical values is allowed (RFC 9110 §8.6); anything else is not.
            for item in value.split(|&b| b == b',') {
                match (parse_decimal(trim_ows(item)), length) {
                    (Some(n), None) => length = Some(n),
                    (Some(n), Some(seen)) if n == seen => {}
                    _ => return Body::Unknown,
                }
            }
        }
    }
    length.map_or(Body::None, Body::Length)
}

pub(super) fn parse_decimal(digits: &[u8]) -> Option<usize> {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    digits.iter().try_fold(0usize, |acc, d| {
        acc.checked_mul(10)?.checked_add(usize::from(d - b'0'))
    })
}
