//! HTTP request and response listing on arbitrary bytes: no panic, bounded output, every
//! string escaped.
#![no_main]

#[path = "common.rs"]
mod common;

use lbcheck::inspect::http::{
    MAX_MESSAGES, looks_like_request, looks_like_response, parse_requests, parse_responses,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let requests = parse_requests(data);
    assert!(requests.len() <= MAX_MESSAGES);
    common::assert_json_strings_escaped(&requests);
    let responses = parse_responses(data);
    assert!(responses.len() <= MAX_MESSAGES);
    common::assert_json_strings_escaped(&responses);
    let _ = (looks_like_request(data), looks_like_response(data));
});
