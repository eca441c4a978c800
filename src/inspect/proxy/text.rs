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
        let mut valid = chunk.valid();
        while !valid.is_empty() {
            // Printable ASCII other than the backslash is written as it is, a run at a time
            // (most TLV text is host names and ids); every other character goes one by one.
            let plain = valid
                .bytes()
                .position(|b| !(b' '..=b'~').contains(&b) || b == b'\\')
                .unwrap_or(valid.len());
            out.push_str(&valid[..plain]);
            let mut rest = valid[plain..].chars();
            if let Some(ch) = rest.next() {
                push_char(&mut out, ch);
            }
            valid = rest.as_str();
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
    let mut digits = vec![0; shown.len() * 2];
    for (pair, &byte) in digits.chunks_exact_mut(2).zip(shown) {
        pair[0] = DIGITS[usize::from(byte >> 4)];
        pair[1] = DIGITS[usize::from(byte & 0xf)];
    }
    let mut out = String::from_utf8(digits).expect("hex digits are ASCII");
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

#[cfg(test)]
mod tests {
    use super::*;

    /// `escape` as it was written first, one character at a time: the reference.
    fn escape_char_by_char(bytes: &[u8]) -> String {
        let shown = bytes.get(..DISPLAY_CAP).unwrap_or(bytes);
        let mut out = String::new();
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

    #[test]
    fn escape_writes_plain_runs_as_the_char_by_char_rendering_does() {
        let cases: &[&[u8]] = &[
            b"",
            b"api.example.com",
            b"a\\b",
            b"\x1b[31mred\x1b[0m",
            b"tab\there\x7f",
            "caf\u{e9} \u{202e}evil\u{2066} \u{85}".as_bytes(),
            b"\xff\xfeok\xc3",
        ];
        for case in cases {
            assert_eq!(escape(case), escape_char_by_char(case), "{case:?}");
        }
        // Every byte value, in runs and alone, and past the display cap.
        let all: Vec<u8> = (0..=255u8).cycle().take(3000).collect();
        for len in [1, 2, 7, 64, 255, 256, 1024, 1025, 3000] {
            for start in [0, 31, 127, 200] {
                let part = &all[start..start + len.min(all.len() - start)];
                assert_eq!(
                    escape(part),
                    escape_char_by_char(part),
                    "len {len} from {start}"
                );
            }
        }
        assert_eq!(escape(b"a\\b\x1b"), "a\\\\b\\x1b");
    }

    #[test]
    fn hex_is_lower_case_and_cut_at_the_display_cap() {
        assert_eq!(hex(&[0x00, 0xab, 0x7f, 0xff]), "00ab7fff");
        let long = vec![0x5a; DISPLAY_CAP + 3];
        let shown = hex(&long);
        assert!(shown.starts_with(&"5a".repeat(DISPLAY_CAP)));
        assert!(shown.ends_with("…(+3 bytes)"));
    }
}
