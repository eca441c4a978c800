//! A small DER walker that reads the subject and issuer names of an X.509 certificate
//! (PROXY v2 SSL sub-TLV 0x28 `CLIENT_CERT`) and renders them RFC 4514 style (`CN=…,O=…`, most
//! specific RDN first).
//!
//! Promise: never panics on any bytes, never recurses, never allocates more than the output
//! strings. Anything it does not understand makes it return `None`; the caller then shows hex.
//! It is not a certificate validator: it reads only the fields needed for a name.

use core::fmt::Write as _;

use super::text::is_bidi_control;

/// DER tags used on the path to the names.
mod tag {
    pub const INTEGER: u8 = 0x02;
    pub const OID: u8 = 0x06;
    pub const SEQUENCE: u8 = 0x30;
    pub const SET: u8 = 0x31;
    /// `[0] EXPLICIT Version` in `TBSCertificate`.
    pub const VERSION: u8 = 0xA0;
    pub const UTF8_STRING: u8 = 0x0C;
    pub const NUMERIC_STRING: u8 = 0x12;
    pub const PRINTABLE_STRING: u8 = 0x13;
    pub const TELETEX_STRING: u8 = 0x14;
    pub const IA5_STRING: u8 = 0x16;
    pub const UNIVERSAL_STRING: u8 = 0x1C;
    pub const BMP_STRING: u8 = 0x1E;
}

/// Subject and issuer of a certificate, RFC 4514 style.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CertNames {
    pub subject: String,
    pub issuer: String,
}

/// One DER element: its tag, its content, and the whole encoding (tag + length + content).
struct Element<'a> {
    tag: u8,
    content: &'a [u8],
    whole: &'a [u8],
}

/// Reads one element from the front of `input`; returns it and the rest.
/// Only single-byte tags and definite lengths up to 4 length bytes (DER never needs more here).
fn read(input: &[u8]) -> Option<(Element<'_>, &[u8])> {
    let (&tag, rest) = input.split_first()?;
    if tag & 0x1F == 0x1F {
        return None; // multi-byte tag number: never on the path to a Name
    }
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let count = usize::from(first & 0x7F);
        if count == 0 || count > 4 {
            return None; // indefinite length (BER) or absurd size
        }
        let (len_bytes, after) = rest.split_at_checked(count)?;
        rest = after;
        len_bytes
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b))
    };
    let header_len = input.len() - rest.len();
    let (content, rest) = rest.split_at_checked(len)?;
    let whole = input.get(..header_len + len)?;
    Some((
        Element {
            tag,
            content,
            whole,
        },
        rest,
    ))
}

fn expect(input: &[u8], wanted: u8) -> Option<(Element<'_>, &[u8])> {
    let (element, rest) = read(input)?;
    (element.tag == wanted).then_some((element, rest))
}

/// Subject and issuer of a DER X.509 certificate.
pub fn cert_names(der: &[u8]) -> Option<CertNames> {
    let (certificate, _) = expect(der, tag::SEQUENCE)?;
    let (tbs, _) = expect(certificate.content, tag::SEQUENCE)?;
    let mut rest = tbs.content;
    let (first, after) = read(rest)?;
    if first.tag == tag::VERSION {
        rest = after;
    }
    let (_serial, rest) = expect(rest, tag::INTEGER)?;
    let (_signature, rest) = expect(rest, tag::SEQUENCE)?;
    let (issuer, rest) = expect(rest, tag::SEQUENCE)?;
    let (_validity, rest) = expect(rest, tag::SEQUENCE)?;
    let (subject, _) = expect(rest, tag::SEQUENCE)?;
    Some(CertNames {
        subject: name(subject.content)?,
        issuer: name(issuer.content)?,
    })
}

/// `Name ::= SEQUENCE OF RelativeDistinguishedName`, rendered most specific first (RFC 4514 §2.1).
fn name(mut rdns: &[u8]) -> Option<String> {
    let mut parts = Vec::new();
    while !rdns.is_empty() {
        let (set, rest) = expect(rdns, tag::SET)?;
        rdns = rest;
        let mut attributes = Vec::new();
        let mut inner = set.content;
        while !inner.is_empty() {
            let (pair, rest) = expect(inner, tag::SEQUENCE)?;
            inner = rest;
            let (oid, value) = expect(pair.content, tag::OID)?;
            let (value, _) = read(value)?;
            attributes.push(format!(
                "{}={}",
                attribute_name(oid.content)?,
                attribute_value(&value)
            ));
        }
        parts.push(attributes.join("+"));
    }
    parts.reverse();
    Some(parts.join(","))
}

/// Short names from RFC 4514 §3 (plus the usual extras); other types as a dotted OID.
fn attribute_name(oid: &[u8]) -> Option<String> {
    const KNOWN: &[(&[u8], &str)] = &[
        (&[0x55, 0x04, 0x03], "CN"),
        (&[0x55, 0x04, 0x05], "serialNumber"),
        (&[0x55, 0x04, 0x06], "C"),
        (&[0x55, 0x04, 0x07], "L"),
        (&[0x55, 0x04, 0x08], "ST"),
        (&[0x55, 0x04, 0x09], "STREET"),
        (&[0x55, 0x04, 0x0A], "O"),
        (&[0x55, 0x04, 0x0B], "OU"),
        (
            &[0x09, 0x92, 0x26, 0x89, 0x93, 0xF2, 0x2C, 0x64, 0x01, 0x19],
            "DC",
        ),
        (
            &[0x09, 0x92, 0x26, 0x89, 0x93, 0xF2, 0x2C, 0x64, 0x01, 0x01],
            "UID",
        ),
        (
            &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x01],
            "emailAddress",
        ),
    ];
    if let Some((_, short)) = KNOWN.iter().find(|(bytes, _)| *bytes == oid) {
        return Some((*short).to_owned());
    }
    dotted_oid(oid)
}

/// `1.2.840…` from the OID content octets; `None` for a malformed or oversized arc.
fn dotted_oid(oid: &[u8]) -> Option<String> {
    let mut arcs: Vec<u64> = Vec::new();
    let mut current: u64 = 0;
    let mut in_arc = false;
    for &byte in oid {
        current = current
            .checked_mul(128)?
            .checked_add(u64::from(byte & 0x7F))?;
        in_arc = byte & 0x80 != 0;
        if !in_arc {
            arcs.push(current);
            current = 0;
        }
    }
    if in_arc || arcs.is_empty() {
        return None;
    }
    let first = arcs.remove(0);
    let (a, b) = match first {
        0..=39 => (0, first),
        40..=79 => (1, first - 40),
        _ => (2, first - 80),
    };
    let mut out = format!("{a}.{b}");
    for arc in arcs {
        let _ = write!(out, ".{arc}");
    }
    Some(out)
}

/// A string attribute value with RFC 4514 escaping; any other type as `#` + hex of its DER.
fn attribute_value(value: &Element<'_>) -> String {
    let text = match value.tag {
        tag::UTF8_STRING | tag::PRINTABLE_STRING | tag::IA5_STRING | tag::NUMERIC_STRING => {
            core::str::from_utf8(value.content).ok().map(str::to_owned)
        }
        tag::TELETEX_STRING => Some(value.content.iter().map(|&b| char::from(b)).collect()),
        tag::BMP_STRING => utf16_be(value.content),
        tag::UNIVERSAL_STRING => utf32_be(value.content),
        _ => None,
    };
    if let Some(text) = text {
        return rfc4514_escape(&text);
    }
    let mut out = String::from("#");
    for byte in value.whole {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

fn utf16_be(bytes: &[u8]) -> Option<String> {
    if bytes.len() % 2 != 0 {
        return None;
    }
    let units = bytes
        .chunks_exact(2)
        .map(|pair| <[u8; 2]>::try_from(pair).map_or(0, u16::from_be_bytes));
    char::decode_utf16(units)
        .collect::<Result<String, _>>()
        .ok()
}

fn utf32_be(bytes: &[u8]) -> Option<String> {
    if bytes.len() % 4 != 0 {
        return None;
    }
    bytes
        .chunks_exact(4)
        .map(|quad| {
            <[u8; 4]>::try_from(quad)
                .ok()
                .map(u32::from_be_bytes)
                .and_then(char::from_u32)
        })
        .collect()
}

/// RFC 4514 §2.4 escaping. Control and bidi characters use the `\XX` hex-pair form for each UTF-8
/// byte (valid RFC 4514, and safe on a terminal).
fn rfc4514_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let last = text.chars().count().saturating_sub(1);
    for (index, ch) in text.chars().enumerate() {
        let special = matches!(ch, '"' | '+' | ',' | ';' | '<' | '>' | '\\')
            || (index == 0 && matches!(ch, '#' | ' '))
            || (index == last && ch == ' ');
        if ch.is_control() || is_bidi_control(ch) {
            let mut buf = [0u8; 4];
            for byte in ch.encode_utf8(&mut buf).bytes() {
                let _ = write!(out, "\\{byte:02X}");
            }
        } else {
            if special {
                out.push('\\');
            }
            out.push(ch);
        }
    }
    out
}
