//! Fuzz the Security-* evaluation (see `secagree::fuzzing::exercise`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    secagree::fuzzing::exercise(data);
});
