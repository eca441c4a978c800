//! Terminal-safe text from packet bytes.
//!
//! Everything lbcheck shows that came off the wire (HTTP header values, URIs, SNI, banners)
//! goes through this module first, so a capture cannot move the cursor, recolour the terminal,
//! rewrite earlier lines (ANSI/ESC sequences, C1 controls such as CSI `U+009B`) or reorder what
//! the reader sees (Unicode bidi overrides, "Trojan Source").
//!
//! Rules, shared by [`escape_bytes`] and [`escape_str`]:
//! - printable ASCII (`0x20..=0x7E`) is kept, except `\` which becomes `\\`, so the output is
//!   unambiguous (a literal `\x1b` in the input reads `\\x1b`);
//! - `\r`, `\n`, `\t` become `\r`, `\n`, `\t`;
//! - every other ASCII control (C0 including ESC, and DEL) becomes `\xNN`;
//! - non-ASCII characters of valid UTF-8 are kept, except C1 controls (`U+0080..=U+009F`), the
//!   bidi controls (`U+061C`, `U+200E`, `U+200F`, `U+202A..=U+202E`, `U+2066..=U+2069`) and the
//!   line/paragraph separators (`U+2028`, `U+2029`), which become `\u{NNNN}`;
//! - bytes that are not valid UTF-8 become `\xNN`, one per byte.
//!
//! Never panics, on any input.

/// Appended when [`escape_bytes`] cuts its output.
pub const ELLIPSIS: char = '…';

/// [`escape_bytes`], but a value that is one of `common` (plain text, shorter than `max_chars`)
/// is borrowed from it rather than allocated: tens of thousands of kept requests and responses
/// say `GET`, `HTTP/1.1` and `OK`.
pub fn escape_common(
    bytes: &[u8],
    max_chars: usize,
    common: &[&'static str],
) -> std::borrow::Cow<'static, str> {
    match common.iter().find(|c| c.as_bytes() == bytes) {
        Some(c) => std::borrow::Cow::Borrowed(c),
        None => std::borrow::Cow::Owned(escape_bytes(bytes, max_chars)),
    }
}

/// Escapes `bytes` for a terminal or a log line, keeping at most `max_chars` characters of
/// escaped text; when the input goes on past that, `…` is appended (so the result holds at most
/// `max_chars + 1` characters). An escape sequence is never split.
pub fn escape_bytes(bytes: &[u8], max_chars: usize) -> String {
    // Most of what comes off the wire is plain ASCII: taken in one piece, not char by char.
    let plain = plain_prefix(bytes);
    if plain == bytes.len() && plain <= max_chars {
        return String::from_utf8_lossy(bytes).into_owned();
    }
    let mut out = Limited::new(max_chars);
    let head = plain.min(max_chars);
    out.text.reserve(head + 16);
    out.text
        .push_str(std::str::from_utf8(&bytes[..head]).unwrap_or_default());
    out.chars = head;
    let bytes = &bytes[head..];
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if !out.push_char(c) {
                return out.finish_cut();
            }
        }
        for &b in chunk.invalid() {
            if !out.push_piece(&format!("\\x{b:02x}")) {
                return out.finish_cut();
            }
        }
    }
    out.text
}

/// Escapes a string that is already valid UTF-8 (for example after parsing), without length
/// limit. Same rules as [`escape_bytes`].
pub fn escape_str(s: &str) -> String {
    if plain_prefix(s.as_bytes()) == s.len() {
        return s.to_owned();
    }
    let mut out = Limited::new(usize::MAX);
    for c in s.chars() {
        out.push_char(c);
    }
    out.text
}

/// Length of the leading run of printable ASCII other than `\` (kept as is).
fn plain_prefix(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .position(|&b| !(0x20..=0x7e).contains(&b) || b == b'\\')
        .unwrap_or(bytes.len())
}

/// True when `c` must not reach a terminal as is.
fn needs_escape(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{1f}'
        | '\u{7f}'..='\u{9f}'
        | '\\'
        | '\u{061c}'
        | '\u{200e}'
        | '\u{200f}'
        | '\u{2028}'..='\u{202e}'
        | '\u{2066}'..='\u{2069}')
}

/// Output buffer that counts characters and refuses pieces past its limit.
struct Limited {
    text: String,
    chars: usize,
    max_chars: usize,
}

impl Limited {
    fn new(max_chars: usize) -> Self {
        Self {
            text: String::new(),
            chars: 0,
            max_chars,
        }
    }

    /// Pushes `c`, escaped when needed; false (and nothing pushed) when it does not fit.
    fn push_char(&mut self, c: char) -> bool {
        if !needs_escape(c) {
            return self.push_piece(c.encode_utf8(&mut [0; 4]));
        }
        match c {
            '\r' => self.push_piece("\\r"),
            '\n' => self.push_piece("\\n"),
            '\t' => self.push_piece("\\t"),
            '\\' => self.push_piece("\\\\"),
            c if (c as u32) < 0x80 => self.push_piece(&format!("\\x{:02x}", c as u32)),
            c => self.push_piece(&format!("\\u{{{:04x}}}", c as u32)),
        }
    }

    fn push_piece(&mut self, piece: &str) -> bool {
        let len = piece.chars().count();
        if self.chars.saturating_add(len) > self.max_chars {
            return false;
        }
        self.chars += len;
        self.text.push_str(piece);
        true
    }

    fn finish_cut(mut self) -> String {
        self.text.push(ELLIPSIS);
        self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_common_token_is_borrowed_and_anything_else_escaped_as_usual() {
        use std::borrow::Cow;
        let common = ["GET", "HTTP/1.1"];
        assert!(matches!(
            escape_common(b"GET", 64, &common),
            Cow::Borrowed("GET")
        ));
        let other = escape_common(b"G\x1bT", 64, &common);
        assert!(matches!(other, Cow::Owned(_)));
        assert_eq!(other, escape_bytes(b"G\x1bT", 64));
    }

    #[test]
    fn plain_ascii_taken_whole_is_cut_exactly_like_char_by_char() {
        // The plain-ASCII fast path and the per-character path meet at every boundary.
        assert_eq!(escape_bytes(b"abcdef", 6), "abcdef");
        assert_eq!(escape_bytes(b"abcdef", 5), "abcde…");
        assert_eq!(escape_bytes(b"abc\n", 4), "abc…");
        assert_eq!(escape_bytes(b"abc\n", 5), "abc\\n");
        assert_eq!(escape_bytes(b"abc\x1b", 7), "abc\\x1b");
        assert_eq!(escape_bytes(b"abc\x1b", 6), "abc…");
        assert_eq!(escape_bytes(b"ab\\c", 3), "ab…");
        assert_eq!(escape_bytes(b"ab\\c", 5), "ab\\\\c");
        assert_eq!(escape_bytes(b"", 0), "");
        assert_eq!(escape_bytes(b"a", 0), "…");
        assert_eq!(escape_str("plain"), "plain");
        assert_eq!(escape_str("caf\u{e9}\u{202e}"), "caf\u{e9}\\u{202e}");
    }

    #[test]
    fn printable_ascii_is_kept_as_is() {
        assert_eq!(
            escape_bytes(b"GET /health HTTP/1.1", 100),
            "GET /health HTTP/1.1"
        );
    }

    #[test]
    fn line_breaks_and_tabs_are_shown_as_escapes() {
        assert_eq!(escape_bytes(b"a\r\nb\tc", 100), "a\\r\\nb\\tc");
    }

    #[test]
    fn backslash_is_doubled_so_a_literal_escape_cannot_be_mistaken_for_one() {
        assert_eq!(escape_bytes(br"C:\x1b", 100), r"C:\\x1b");
        assert_eq!(escape_str(r"a\b"), r"a\\b");
    }

    #[test]
    fn ansi_colour_sequence_in_header_value_is_neutralised() {
        let injected = b"1.2.3.4\x1b[31mFAKE\x1b[0m\x1b]0;title\x07";
        let escaped = escape_bytes(injected, 200);
        assert_eq!(escaped, "1.2.3.4\\x1b[31mFAKE\\x1b[0m\\x1b]0;title\\x07");
        assert!(!escaped.contains('\u{1b}'));
    }

    #[test]
    fn c1_csi_control_is_escaped_in_str_and_bytes() {
        assert_eq!(escape_str("a\u{9b}31mb"), "a\\u{009b}31mb");
        assert_eq!(escape_bytes("a\u{9b}b".as_bytes(), 100), "a\\u{009b}b");
    }

    #[test]
    fn del_and_nul_are_hex_escaped() {
        assert_eq!(escape_bytes(b"\x00\x7f", 100), "\\x00\\x7f");
        assert_eq!(escape_str("\u{0}\u{7f}"), "\\x00\\x7f");
    }

    #[test]
    fn trojan_source_bidi_overrides_are_escaped() {
        let s = "admin\u{202e}nimda\u{2066}x\u{2069}\u{200f}";
        assert_eq!(
            escape_str(s),
            "admin\\u{202e}nimda\\u{2066}x\\u{2069}\\u{200f}"
        );
    }

    #[test]
    fn line_separator_is_escaped() {
        assert_eq!(escape_str("a\u{2028}b"), "a\\u{2028}b");
    }

    #[test]
    fn valid_utf8_letters_are_kept() {
        assert_eq!(escape_bytes("café.example".as_bytes(), 100), "café.example");
        assert_eq!(escape_str("пример.рф"), "пример.рф");
    }

    #[test]
    fn invalid_utf8_bytes_become_hex_escapes() {
        assert_eq!(escape_bytes(b"ab\xff\xc3", 100), "ab\\xff\\xc3");
    }

    #[test]
    fn output_is_cut_with_ellipsis_past_max_chars() {
        assert_eq!(escape_bytes(b"abcdef", 4), "abcd…");
        assert_eq!(escape_bytes(b"abcd", 4), "abcd");
        assert_eq!(escape_bytes(b"", 0), "");
        assert_eq!(escape_bytes(b"a", 0), "…");
    }

    #[test]
    fn escape_sequence_is_never_split_by_the_cut() {
        // "ab" + "\x1b" (4 chars) does not fit in 5.
        assert_eq!(escape_bytes(b"ab\x1bcd", 5), "ab…");
    }

    #[test]
    fn every_byte_value_escapes_to_printable_text() {
        let all: Vec<u8> = (0..=255).collect();
        let escaped = escape_bytes(&all, usize::MAX);
        assert!(escaped.chars().all(|c| !c.is_control()));
    }
}
