//! First-bytes classification on arbitrary bytes: no panic, a short summary without control
//! characters; the TOA and SPP decoders on the same bytes.
#![no_main]

#[path = "common.rs"]
mod common;

use lbcheck::inspect::payload::{MAX_SUMMARY_CHARS, classify};
use lbcheck::inspect::{spp::parse_spp, toa};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let first = classify(data);
    assert!(
        first.summary.chars().count() <= MAX_SUMMARY_CHARS,
        "{first:?}"
    );
    common::assert_json_strings_escaped(&first);
    let _ = parse_spp(data);
    let _ = toa::find_toa(data);
    if let Some((&kind, value)) = data.split_first() {
        let _ = toa::parse_toa(kind, value);
    }
});
