//! Fuzz the SIP parser, framer, typed headers and editor (see `sip::fuzz::exercise`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    sip::fuzz::exercise(data);
});
