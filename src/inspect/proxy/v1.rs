//! PROXY protocol v1 (text line), checked strictly: `PROXY` SP (`TCP4`|`TCP6`|`UNKNOWN`) SP src
//! SP dst SP sport SP dport CRLF, at most 107 bytes, single spaces, no leading zeros, the address
//! kind matching the family, CRLF and nothing else as the line end.
//!
//! Own code rather than `ppp::v1`: `ppp` gives one error per line without a byte offset, while
//! lbcheck reports each violation with its own code and the offset where it is.
//!
//! Promise: never panics on any bytes; fields are validated as soon as they are complete, so a
//! line cut by the capture is `truncated` unless a field before the cut is already wrong.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::text::escape;
use super::{Command, Family, Issue, ProxyHeader, code};
use crate::inspect::ip_text;

/// Longest valid line, CRLF included (spec §2.1: a 108-byte buffer always fits one line + NUL).
pub const MAX_LEN: usize = 107;

/// Offsets in the line.
mod field {
    /// First byte of the protocol word, after `PROXY `.
    pub const PROTOCOL: usize = 6;
}

/// Why parsing stopped before the CRLF.
enum Stop {
    Malformed(Issue),
    /// The captured bytes end inside the line (and before byte 107).
    Truncated,
}

type Step<T> = Result<T, Stop>;

fn malformed(code: &'static str, offset: usize, message: impl Into<String>) -> Stop {
    Stop::Malformed(Issue::new(code, offset, message))
}

fn missing(at: usize, what: &str) -> Stop {
    malformed(
        code::V1_MISSING_FIELD,
        at,
        format!("line ends where the {what} should be"),
    )
}

/// The first (at most) 107 captured bytes.
struct Line<'a> {
    window: &'a [u8],
}

impl Line<'_> {
    fn byte(&self, at: usize) -> Step<u8> {
        self.window.get(at).copied().ok_or_else(|| self.beyond())
    }

    /// Reading past the window: the line is too long, or the capture stopped.
    fn beyond(&self) -> Stop {
        if self.window.len() >= MAX_LEN {
            malformed(
                code::V1_TOO_LONG,
                MAX_LEN,
                "no CRLF within the first 107 bytes",
            )
        } else {
            Stop::Truncated
        }
    }

    fn text(&self, start: usize, end: usize) -> &[u8] {
        self.window.get(start..end).unwrap_or_default()
    }

    /// A field that must start at `start` (right after its single space); returns its end, the
    /// offset of the space, CR or LF that follows it.
    fn field(&self, start: usize, what: &str) -> Step<usize> {
        match self.byte(start)? {
            b' ' => Err(malformed(
                code::V1_DOUBLE_SPACE,
                start,
                format!("more than one space before the {what}"),
            )),
            b'\r' | b'\n' => Err(missing(start, what)),
            _ => {
                let mut at = start;
                while !matches!(self.byte(at)?, b' ' | b'\r' | b'\n') {
                    at += 1;
                }
                Ok(at)
            }
        }
    }

    /// The single space that must follow a field ending at `at`; returns where the next starts.
    fn space(&self, at: usize, next: &str) -> Step<usize> {
        match self.byte(at)? {
            b' ' => Ok(at + 1),
            _ => Err(missing(at, next)),
        }
    }

    /// The CRLF that must follow the last field at `at`; returns the header length.
    fn crlf(&self, at: usize) -> Step<usize> {
        match self.byte(at)? {
            b'\r' if self.byte(at + 1)? == b'\n' => Ok(at + 2),
            b'\r' => Err(malformed(code::V1_NO_CRLF, at, "CR not followed by LF")),
            b'\n' => Err(malformed(
                code::V1_NO_CRLF,
                at,
                "line ends with a bare LF, CRLF required",
            )),
            _ => Err(malformed(
                code::V1_TRAILING_DATA,
                at,
                "data after the destination port",
            )),
        }
    }
}

pub fn parse(bytes: &[u8]) -> ProxyHeader {
    let mut h = ProxyHeader::new(1);
    h.command = Some(Command::Proxy);
    let window = bytes.get(..MAX_LEN).unwrap_or(bytes);
    let line = Line { window };
    match parse_line(&line, &mut h) {
        Ok(len) => {
            h.header_len = len;
            h.payload_offset = len;
        }
        Err(stop) => {
            // Where the line would end, for the caller: the first LF, else what was examined.
            let end = window
                .iter()
                .position(|&b| b == b'\n')
                .map_or(window.len(), |i| i + 1);
            match stop {
                Stop::Malformed(issue) => {
                    h.header_len = end;
                    h.payload_offset = end;
                    h.fail(issue);
                }
                Stop::Truncated => {
                    h.header_len = window.len();
                    h.payload_offset = window.len();
                    h.truncate(Issue::new(
                        code::V1_TRUNCATED,
                        window.len(),
                        format!(
                            "capture ends after {} byte(s), before the CRLF",
                            window.len()
                        ),
                    ));
                }
            }
        }
    }
    h
}

fn parse_line(line: &Line<'_>, h: &mut ProxyHeader) -> Step<usize> {
    let start = field::PROTOCOL;
    let end = match line.field(start, "protocol") {
        Ok(end) => end,
        Err(Stop::Truncated) => {
            let partial = line.text(start, line.window.len());
            let known = [&b"TCP4"[..], b"TCP6", b"UNKNOWN"];
            return Err(if known.iter().any(|word| word.starts_with(partial)) {
                Stop::Truncated
            } else {
                bad_protocol(partial)
            });
        }
        Err(stop) => return Err(stop),
    };
    let family = match line.text(start, end) {
        b"TCP4" => Family::Tcp4,
        b"TCP6" => Family::Tcp6,
        b"UNKNOWN" => {
            h.family = Some(Family::Unknown);
            return unknown(line, end, h);
        }
        other => return Err(bad_protocol(other)),
    };
    h.family = Some(family);

    let start = line.space(end, "source address")?;
    let end = line.field(start, "source address")?;
    h.src = Some(address(line.text(start, end), start, family)?.into());

    let start = line.space(end, "destination address")?;
    let end = line.field(start, "destination address")?;
    h.dst = Some(address(line.text(start, end), start, family)?.into());

    let start = line.space(end, "source port")?;
    let end = line.field(start, "source port")?;
    h.src_port = Some(port(line.text(start, end), start)?);

    let start = line.space(end, "destination port")?;
    let end = line.field(start, "destination port")?;
    h.dst_port = Some(port(line.text(start, end), start)?);

    line.crlf(end)
}

fn bad_protocol(word: &[u8]) -> Stop {
    malformed(
        code::V1_BAD_FAMILY,
        field::PROTOCOL,
        format!(
            "protocol is \"{}\", must be TCP4, TCP6 or UNKNOWN",
            escape(word)
        ),
    )
}

/// `PROXY UNKNOWN`: anything may follow up to the CRLF (spec §2.1), but `HAProxy` accepts only
/// `PROXY UNKNOWN\r\n`, so extra data is a warning.
fn unknown(line: &Line<'_>, end: usize, h: &mut ProxyHeader) -> Step<usize> {
    let mut at = end;
    while line.byte(at)? != b'\n' {
        at += 1;
    }
    if at == end || line.window.get(at - 1) != Some(&b'\r') {
        return Err(malformed(
            code::V1_NO_CRLF,
            at,
            "line ends with a bare LF, CRLF required",
        ));
    }
    if at - 1 > end {
        h.warnings.push(Issue::new(
            code::V1_UNKNOWN_WITH_DATA,
            end,
            "PROXY UNKNOWN followed by data: allowed by the spec, but HAProxy accepts only \"PROXY UNKNOWN\\r\\n\"",
        ));
    }
    Ok(at + 1)
}

/// An address token at `offset`, checked against the family.
fn address(token: &[u8], offset: usize, family: Family) -> Step<String> {
    let looks_ipv4 =
        token.contains(&b'.') && token.iter().all(|b| b.is_ascii_digit() || *b == b'.');
    // The usual case first, without trying the token as IPv6 or formatting it with `Display`.
    if family == Family::Tcp4 && looks_ipv4 {
        return ipv4(token, offset).map(|a| ip_text::ipv4(a).as_str().to_owned());
    }
    let ipv6 = core::str::from_utf8(token)
        .ok()
        .and_then(|s| s.parse::<Ipv6Addr>().ok());
    match (family, looks_ipv4, ipv6) {
        (Family::Tcp4, true, _) => {
            ipv4(token, offset).map(|a| ip_text::ipv4(a).as_str().to_owned())
        }
        (Family::Tcp4, false, Some(_)) => Err(malformed(
            code::V1_FAMILY_MISMATCH,
            offset,
            format!("IPv6 address \"{}\" in a TCP4 line", escape(token)),
        )),
        (Family::Tcp6, true, _) => Err(malformed(
            code::V1_FAMILY_MISMATCH,
            offset,
            format!(
                "IPv4 address \"{}\" in a TCP6 line (nginx stream does this)",
                escape(token)
            ),
        )),
        (Family::Tcp6, false, Some(address)) => Ok(ip_text::ipv6(address).as_str().to_owned()),
        _ => Err(malformed(
            code::V1_BAD_ADDRESS,
            offset,
            format!("\"{}\" is not a valid address", escape(token)),
        )),
    }
}

/// A dotted quad with no leading zeros (which some parsers read as octal).
fn ipv4(token: &[u8], offset: usize) -> Step<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut count = 0usize;
    let mut at = offset;
    for part in token.split(|&b| b == b'.') {
        let bad = || {
            malformed(
                code::V1_BAD_ADDRESS,
                at,
                format!("\"{}\" is not a dotted-quad IPv4 address", escape(token)),
            )
        };
        let slot = octets.get_mut(count).ok_or_else(bad)?;
        if part.is_empty() || part.len() > 3 {
            return Err(bad());
        }
        if part.len() > 1 && part.first() == Some(&b'0') {
            return Err(malformed(
                code::V1_LEADING_ZERO,
                at,
                format!("IPv4 octet \"{}\" has a leading zero", escape(part)),
            ));
        }
        *slot = u8::try_from(decimal(part)).map_err(|_| bad())?;
        count += 1;
        at += part.len() + 1;
    }
    if count == 4 {
        Ok(Ipv4Addr::from(octets))
    } else {
        Err(malformed(
            code::V1_BAD_ADDRESS,
            offset,
            format!("\"{}\" is not a dotted-quad IPv4 address", escape(token)),
        ))
    }
}

/// A port 0–65535 in decimal with no leading zeros.
fn port(token: &[u8], offset: usize) -> Step<u16> {
    if !token.iter().all(u8::is_ascii_digit) {
        return Err(malformed(
            code::V1_BAD_PORT,
            offset,
            format!("\"{}\" is not a port", escape(token)),
        ));
    }
    if token.len() > 1 && token.first() == Some(&b'0') {
        return Err(malformed(
            code::V1_LEADING_ZERO,
            offset,
            format!("port \"{}\" has a leading zero", escape(token)),
        ));
    }
    if token.len() > 5 {
        return Err(malformed(
            code::V1_BAD_PORT,
            offset,
            format!("port {} is above 65535", escape(token)),
        ));
    }
    u16::try_from(decimal(token)).map_err(|_| {
        malformed(
            code::V1_BAD_PORT,
            offset,
            format!("port {} is above 65535", escape(token)),
        )
    })
}

/// Value of at most 5 ASCII digits (checked by the callers).
fn decimal(digits: &[u8]) -> u32 {
    digits.iter().fold(0u32, |acc, d| {
        acc.saturating_mul(10)
            .saturating_add(u32::from(d.wrapping_sub(b'0')))
    })
}
