//! Client-address headers: `X-Forwarded-For` elements and RFC 7239 `Forwarded`.
//!
//! Every element is kept, in wire order, with its escaped text, so a report can show what a
//! client forged in front of what the load balancer appended. `ip` is set when the text names
//! one address without doubt; `valid` says whether the text follows the header's grammar. So
//! `010.001.002.003` (read as 10.1.2.3 by some parsers and 8.1.2.3 by others) has neither, and an
//! unbracketed IPv6 in `Forwarded` has an `ip` but is not `valid`.
//!
//! Never panics, on any input.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::Serialize;

use crate::inspect::escape::escape_bytes;

/// Longest escaped text kept for one element.
const MAX_ELEMENT_CHARS: usize = 128;
/// Longest escaped text kept for a whole `X-Forwarded-For` value.
const MAX_HEADER_CHARS: usize = 1024;
/// Longest escaped text kept for `Forwarded` `proto=` and `host=` values.
const MAX_PARAM_CHARS: usize = 256;

/// One node of an address list: an `X-Forwarded-For` element or a `Forwarded` `for=`/`by=`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ForwardedAddr {
    /// The element as sent (after unquoting, for `Forwarded`), escaped.
    pub raw: Box<str>,
    /// The address it names, when it names one unambiguously.
    pub ip: Option<IpAddr>,
    /// The port, when one was given as a number.
    pub port: Option<u16>,
    /// Whether the element follows the header's grammar.
    pub valid: bool,
    /// Why it is invalid, ambiguous or special (`unknown`, obfuscated), when it is.
    pub note: Option<Box<str>>,
}

/// Of a long address list (the elements of an `X-Forwarded-For` line, its lines in a request,
/// the elements of `Forwarded`), the first and the last this many are kept and the ones
/// between counted: the left-most is the claimed client, the right-most are the hops that
/// vouch for it. 430 elements in one line took 40 KB of every such flow's summary.
pub const ENDS_KEPT: usize = 4;

/// Keeps the first and last [`ENDS_KEPT`] of `list`; returns how many went from between.
pub fn keep_ends<T>(list: &mut Vec<T>) -> u32 {
    let Some(between) = list.len().checked_sub(2 * ENDS_KEPT).filter(|&n| n > 0) else {
        return 0;
    };
    list.drain(ENDS_KEPT..ENDS_KEPT + between);
    between as u32
}

/// Keeps the last element of `list` only; returns how many went.
pub fn keep_last<T>(list: &mut Vec<T>) -> u32 {
    let gone = list.len().saturating_sub(1);
    list.drain(..gone);
    gone as u32
}

/// One `X-Forwarded-For` header line. Kept for the whole run: boxed, no spare capacity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct XffHeader {
    /// The header value, escaped.
    pub raw: Box<str>,
    /// Its comma-separated elements, in order (the left-most is the claimed client): the
    /// first and last [`ENDS_KEPT`].
    pub entries: Box<[ForwardedAddr]>,
    /// Elements between those, not listed.
    pub entries_not_listed: u32,
    /// One of them was not valid (the `xff.invalid-entry` check reads it).
    #[serde(skip)]
    pub invalid_not_listed: bool,
}

/// One element (one hop) of an RFC 7239 `Forwarded` header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ForwardedElement {
    /// `for=`: the client of this hop.
    #[serde(rename = "for")]
    pub for_: Option<ForwardedAddr>,
    /// `by=`: the interface of the proxy that received the request.
    pub by: Option<ForwardedAddr>,
    /// `proto=`, escaped.
    pub proto: Option<Box<str>>,
    /// `host=`, escaped.
    pub host: Option<Box<str>>,
}

/// Which grammar an address element follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Grammar {
    /// `X-Forwarded-For`: de facto syntax; bare IPv6 and `ip:port` are common.
    Xff,
    /// RFC 7239 §6 node syntax (brackets around IPv6, obfuscated identifiers).
    Forwarded { quoted: bool },
}

/// Parses one `X-Forwarded-For` header value.
pub(super) fn parse_xff(value: &[u8]) -> XffHeader {
    let mut entries: Vec<ForwardedAddr> = value
        .split(|&b| b == b',')
        .map(trim_ows)
        .filter(|element| !element.is_empty())
        .map(|element| parse_node(element, Grammar::Xff))
        .collect();
    let between = ENDS_KEPT..entries.len().saturating_sub(ENDS_KEPT);
    let invalid_not_listed = entries
        .get(between)
        .is_some_and(|b| b.iter().any(|e| !e.valid));
    let entries_not_listed = keep_ends(&mut entries);
    XffHeader {
        raw: escape_bytes(trim_ows(value), MAX_HEADER_CHARS).into(),
        entries: entries.into(),
        entries_not_listed,
        invalid_not_listed,
    }
}

/// Parses one `Forwarded` header value, appending its elements to `out`.
pub(super) fn parse_forwarded(value: &[u8], out: &mut Vec<ForwardedElement>) {
    for pairs in split_forwarded(value) {
        let mut element = ForwardedElement {
            for_: None,
            by: None,
            proto: None,
            host: None,
        };
        for pair in pairs {
            // Repeated parameters are invalid (RFC 7239 §4); the first one is kept.
            if pair.key.eq_ignore_ascii_case(b"for") && element.for_.is_none() {
                element.for_ = Some(forwarded_node(&pair));
            } else if pair.key.eq_ignore_ascii_case(b"by") && element.by.is_none() {
                element.by = Some(forwarded_node(&pair));
            } else if pair.key.eq_ignore_ascii_case(b"proto") && element.proto.is_none() {
                element.proto = Some(escape_bytes(&pair.value, MAX_PARAM_CHARS).into());
            } else if pair.key.eq_ignore_ascii_case(b"host") && element.host.is_none() {
                element.host = Some(escape_bytes(&pair.value, MAX_PARAM_CHARS).into());
            }
        }
        out.push(element);
    }
}

fn forwarded_node(pair: &Pair) -> ForwardedAddr {
    let mut node = parse_node(
        &pair.value,
        Grammar::Forwarded {
            quoted: pair.quoted,
        },
    );
    if pair.unterminated {
        node.valid = false;
        node.note = Some("unterminated quoted string".into());
    }
    node
}

/// One `key=value` of a `Forwarded` element, value unquoted.
#[derive(Debug)]
struct Pair {
    key: Vec<u8>,
    value: Vec<u8>,
    quoted: bool,
    unterminated: bool,
}

/// Splits a `Forwarded` value into elements (`,`) of pairs (`;`), honouring quoted strings.
/// Elements without any pair are dropped (empty list elements are allowed by RFC 7230 §7).
fn split_forwarded(value: &[u8]) -> Vec<Vec<Pair>> {
    let mut elements = Vec::new();
    let mut pairs = Vec::new();
    let mut i = 0;
    while i < value.len() {
        match value[i] {
            b' ' | b'\t' | b';' => i += 1,
            b',' => {
                if !pairs.is_empty() {
                    elements.push(std::mem::take(&mut pairs));
                }
                i += 1;
            }
            _ => {
                let key_end = find_any(value, i, b"=;,");
                let key = trim_ows(&value[i..key_end]).to_vec();
                i = key_end;
                let mut pair = Pair {
                    key,
                    value: Vec::new(),
                    quoted: false,
                    unterminated: false,
                };
                if value.get(i) == Some(&b'=') {
                    i += 1;
                    while matches!(value.get(i), Some(b' ' | b'\t')) {
                        i += 1;
                    }
                    if value.get(i) == Some(&b'"') {
                        i = read_quoted(value, i + 1, &mut pair);
                    } else {
                        let end = find_any(value, i, b";,");
                        pair.value = trim_ows(&value[i..end]).to_vec();
                        i = end;
                    }
                }
                pairs.push(pair);
            }
        }
    }
    if !pairs.is_empty() {
        elements.push(pairs);
    }
    elements
}

/// Reads a quoted string starting after its opening quote; returns the index after it.
fn read_quoted(value: &[u8], mut i: usize, pair: &mut Pair) -> usize {
    pair.quoted = true;
    while i < value.len() {
        match value[i] {
            b'"' => return skip_to_separator(value, i + 1),
            b'\\' if i + 1 < value.len() => {
                pair.value.push(value[i + 1]);
                i += 2;
            }
            b => {
                pair.value.push(b);
                i += 1;
            }
        }
    }
    pair.unterminated = true;
    i
}

/// After a closing quote, junk up to the next separator is ignored.
fn skip_to_separator(value: &[u8], i: usize) -> usize {
    find_any(value, i, b";,")
}

/// Index of the first byte of `set` at or after `from`, or `value.len()`.
fn find_any(value: &[u8], from: usize, set: &[u8]) -> usize {
    value
        .get(from..)
        .and_then(|rest| rest.iter().position(|b| set.contains(b)))
        .map_or(value.len(), |at| from + at)
}

/// Trims optional whitespace (SP, HTAB) at both ends.
pub(super) fn trim_ows(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t')
        .map_or(start, |at| at + 1);
    &bytes[start..end]
}

/// Parses one node (address, optional port) under `grammar`.
fn parse_node(text: &[u8], grammar: Grammar) -> ForwardedAddr {
    let raw = escape_bytes(text, MAX_ELEMENT_CHARS);
    let Ok(text) = std::str::from_utf8(text) else {
        return invalid(raw, "not an IP address");
    };
    let mut node = parse_node_text(text, grammar);
    node.raw = raw.into();
    if let Grammar::Forwarded { quoted: false } = grammar {
        if text.contains([':', '[']) && node.valid {
            node.valid = false;
            node.note = Some("RFC 7239 requires quotes around a value with ':' or '['".into());
        }
    }
    node
}

fn parse_node_text(text: &str, grammar: Grammar) -> ForwardedAddr {
    let forwarded = matches!(grammar, Grammar::Forwarded { .. });
    let (name, port_text, bracketed) = if let Some(inner) = text.strip_prefix('[') {
        let Some(close) = inner.find(']') else {
            return invalid(String::new(), "'[' without ']'");
        };
        let after = &inner[close + 1..];
        let port_text = match after.strip_prefix(':') {
            Some(port) => Some(port),
            None if after.is_empty() => None,
            None => return invalid(String::new(), "text after ']'"),
        };
        (&inner[..close], port_text, true)
    } else if text.matches(':').count() >= 2 {
        // Bare IPv6; a port cannot be told apart from the last group.
        (text, None, false)
    } else if let Some((name, port)) = text.rsplit_once(':') {
        (name, Some(port), false)
    } else {
        (text, None, false)
    };

    let port = match port_text.map(|p| parse_port(p, forwarded)) {
        Some(PortText::Number(port)) => Some(port),
        Some(PortText::Bad) => return invalid(String::new(), "bad port"),
        None | Some(PortText::Obfuscated) => None,
    };
    let obfuscated_port = port_text.is_some() && port.is_none();
    let mut node = parse_name(name, bracketed, forwarded);
    node.port = port;
    if obfuscated_port && node.note.is_none() {
        node.note = Some("obfuscated port".into());
    }
    node
}

fn parse_name(name: &str, bracketed: bool, forwarded: bool) -> ForwardedAddr {
    if name.eq_ignore_ascii_case("unknown") && !bracketed {
        return special("unknown: the sender did not know this hop's address");
    }
    if forwarded && !bracketed && is_obfuscated(name) {
        return special("obfuscated identifier");
    }
    if bracketed {
        return match name.parse::<Ipv6Addr>() {
            Ok(ip) => address(IpAddr::V6(ip), true, None),
            Err(_) => invalid(String::new(), "not an IPv6 address inside brackets"),
        };
    }
    if let Ok(ip) = name.parse::<Ipv4Addr>() {
        return address(IpAddr::V4(ip), true, None);
    }
    if name.contains(':') {
        if let Ok(ip) = name.parse::<Ipv6Addr>() {
            return if forwarded {
                address(
                    IpAddr::V6(ip),
                    false,
                    Some("IPv6 must be in brackets in Forwarded (RFC 7239)"),
                )
            } else {
                address(IpAddr::V6(ip), true, None)
            };
        }
    }
    match leading_zero_note(name) {
        Some(note) => invalid(String::new(), &note),
        None => invalid(String::new(), "not an IP address"),
    }
}

/// RFC 7239 obfnode / obfport: `_` then ALPHA / DIGIT / `.` / `_` / `-`.
fn is_obfuscated(text: &str) -> bool {
    text.strip_prefix('_').is_some_and(|rest| {
        !rest.is_empty()
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    })
}

enum PortText {
    Number(u16),
    Obfuscated,
    Bad,
}

fn parse_port(text: &str, forwarded: bool) -> PortText {
    if forwarded && is_obfuscated(text) {
        return PortText::Obfuscated;
    }
    if text.is_empty() || text.len() > 5 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return PortText::Bad;
    }
    text.parse().map_or(PortText::Bad, PortText::Number)
}

/// For a dotted quad with leading-zero octets, says how parsers disagree on it.
fn leading_zero_note(name: &str) -> Option<String> {
    let parts: Vec<&str> = name.split('.').collect();
    let is_quad = parts.len() == 4
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 4 && p.bytes().all(|b| b.is_ascii_digit()));
    if !is_quad || !parts.iter().any(|p| p.len() > 1 && p.starts_with('0')) {
        return None;
    }
    let decimal = read_quad(&parts, 10);
    // inet_aton(3) reads a leading 0 as octal.
    let octal = read_quad(&parts, 8);
    let prefix = "leading-zero octets are ambiguous: strict parsers reject it";
    Some(match (decimal, octal) {
        (Some(d), Some(o)) if d == o => format!("{prefix}, lenient ones read {d}"),
        (Some(d), Some(o)) => format!("{prefix}; read as decimal {d}, as octal (inet_aton) {o}"),
        (Some(d), None) => format!("{prefix}; read as decimal {d}, inet_aton rejects it"),
        (None, Some(o)) => format!("{prefix}; inet_aton reads octal {o}"),
        (None, None) => format!("{prefix}; octets out of range"),
    })
}

/// Reads four octets; with `radix` 8, only octets with a leading zero are read as octal.
fn read_quad(parts: &[&str], radix: u32) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    for (octet, part) in octets.iter_mut().zip(parts) {
        let octal = radix == 8 && part.len() > 1 && part.starts_with('0');
        *octet = u8::from_str_radix(part, if octal { 8 } else { 10 }).ok()?;
    }
    Some(Ipv4Addr::from(octets))
}

fn address(ip: IpAddr, valid: bool, note: Option<&str>) -> ForwardedAddr {
    ForwardedAddr {
        raw: Box::default(),
        ip: Some(ip),
        port: None,
        valid,
        note: note.map(Into::into),
    }
}

fn special(note: &str) -> ForwardedAddr {
    ForwardedAddr {
        raw: Box::default(),
        ip: None,
        port: None,
        valid: true,
        note: Some(note.into()),
    }
}

fn invalid(raw: String, note: &str) -> ForwardedAddr {
    ForwardedAddr {
        raw: raw.into(),
        ip: None,
        port: None,
        valid: false,
        note: Some(note.into()),
    }
}
