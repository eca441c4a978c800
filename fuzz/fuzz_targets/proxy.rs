//! PROXY v1/v2 header detection and decoding on arbitrary first bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = lbcheck::inspect::proxy::inspect(data);
});
