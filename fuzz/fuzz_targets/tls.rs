//! TLS ClientHello parsing on arbitrary bytes: no panic, an answer that agrees with the
//! record-type check, escaped strings.
#![no_main]

#[path = "common.rs"]
mod common;

use lbcheck::inspect::tls::{TlsParse, looks_like_tls, parse_client_hello};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let parsed = parse_client_hello(data);
    if matches!(
        parsed,
        TlsParse::ClientHello(_) | TlsParse::NotClientHello(_)
    ) {
        assert!(looks_like_tls(data).is_some());
    }
    common::assert_json_strings_escaped(&parsed);
});
