//! Shared helpers for the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

/// `shared/testdata/sip` beside the repository checkout; panics loudly when missing.
pub fn testdata_dir() -> PathBuf {
    let p = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/testdata/sip"
    ));
    assert!(
        p.is_dir(),
        "shared SIP test data missing at {} (clone `shared/` beside the repository)",
        p.display()
    );
    p
}

/// Reads a test data file as bytes (relative to `testdata_dir()`).
pub fn read(rel: &str) -> Vec<u8> {
    let p = testdata_dir().join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
}
