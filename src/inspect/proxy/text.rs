//! Turning captured bytes into text that is safe to print on a terminal.
//!
//! Never panics; every byte sequence has a rendering.

use core::fmt::Write as _;

/// Longest value (in bytes) rendered in full; longer values are cut and say how much was left out.
/// A 64 KiB NOOP pad rendered as 128 Ki hex digits helps nobody.
pub const DISPLAY_CAP: usize = 1024;

/// Bytes as text: valid UTF-8 stays readable, control characters, bidi overrides and invalid bytes
/// become `\xNN` (or `\u{..}` for non-ASCII controls), and a backslash becomes `\\`, so the result
/// is unambiguous and cannot drive a terminal.
pub fn escape(bytes: &[u8]) -> String {
    let shown = bytes.get(..DISPLAY_CAP).unwrap_or(bytes);
    let mut out = String::with_capacity(shown.len());
    for chunk in shown.utf8_chunks() {
        for ch in chunk.valid().chars() {
            push_char(&mut out, ch);
        }
        for byte in chunk.invalid() {
            let _ = write!(out, "\\x{byte:02x}");
        }
    }
    push_cut_note(&mut out, bytes.len());
    out
}

fn push_char(out: &mut String, ch: char) {
    if ch == '\\' {
        out.push_str("\\\\");
    } else if ch.is_ascii_control() {
        let _ = write!(out, "\\x{:02x}", ch as u32);
    } else if ch.is_control() || is_bidi_control(ch) {
        let _ = write!(out, "\\u{{{:04x}}}", ch as u32);
    } else {
        out.push(ch);
    }
}

/// Characters that reorder text on screen ("trojan source"); shown escaped.
pub fn is_bidi_control(ch: char) -> bool {
    matches!(ch, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Lower-case hex, cut at [`DISPLAY_CAP`] bytes. Digits from a table: TLVs are decoded again
/// each time the report is written, and `write!` per byte was a fifth of a run's instructions.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let shown = bytes.get(..DISPLAY_CAP).unwrap_or(bytes);
    let mut out = String::with_capacity(shown.len() * 2);
    for &byte in shown {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0xf)]));
    }
    push_cut_note(&mut out, bytes.len());
    out
}

fn push_cut_note(out: &mut String, total: usize) {
    if total > DISPLAY_CAP {
        let _ = write!(out, "…(+{} bytes)", total - DISPLAY_CAP);
    }
}

/// An `AF_UNIX` path from its fixed 108-byte field: the bytes up to the first NUL, escaped.
/// A Linux abstract socket (first byte NUL, name after it) is shown as `@name` like `ss` does,
/// because "up to the first NUL" would print it as an empty path.
pub fn unix_path(field: &[u8]) -> String {
    match field.split_first() {
        Some((0, rest)) if rest.iter().any(|&b| b != 0) => {
            let name_len = rest.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
            format!("@{}", escape(rest.get(..name_len).unwrap_or(rest)))
        }
        _ => {
            let len = field.iter().position(|&b| b == 0).unwrap_or(field.len());
            escape(field.get(..len).unwrap_or(field))
        }
    }
}
