//! Helpers shared by the inspect tests.

/// Calls `check` on every prefix of `input`, then on `input` with each single byte replaced in
/// turn by values that stress parsers (0x00, 0xff, bit-flipped, and separators such as CR, LF,
/// space, `,`, `:`, `"`, `[`).
pub(crate) fn for_each_prefix_and_corruption(input: &[u8], mut check: impl FnMut(&[u8])) {
    for len in 0..=input.len() {
        check(&input[..len]);
    }
    let mut corrupted = input.to_vec();
    for at in 0..input.len() {
        let original = input[at];
        for replacement in [
            0x00,
            0xff,
            original ^ 0xff,
            original ^ 0x01,
            original.wrapping_add(1),
            b'\r',
            b'\n',
            b' ',
            b',',
            b':',
            b'"',
            b'[',
        ] {
            corrupted[at] = replacement;
            check(&corrupted);
        }
        corrupted[at] = original;
    }
}

/// Decodes a hex string (test fixtures).
pub(crate) fn hex(text: &str) -> Vec<u8> {
    assert!(text.len() % 2 == 0, "odd hex length");
    (0..text.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(&text[at..at + 2], 16).expect("hex digit"))
        .collect()
}
