//! Checks a reg-event NOTIFY body: valid against the RFC 3680 schema (`tests/data/reginfo.xsd`,
//! with `xmllint --noout --schema`) and parsed by the UE's own reader. Fails (never skips) when
//! xmllint is missing.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// Validates `xml` with xmllint against the reginfo schema; panics with xmllint's output if it
/// is not valid.
pub fn assert_schema_valid(xml: &[u8]) {
    static N: AtomicU32 = AtomicU32::new(0);
    let schema = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/reginfo.xsd");
    let file = std::env::temp_dir().join(format!(
        "reginfo-{}-{}.xml",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&file, xml).expect("write the reginfo body");
    let out = Command::new("xmllint")
        .arg("--noout")
        .arg("--nonet")
        .arg("--schema")
        .arg(&schema)
        .arg(&file)
        .output()
        .unwrap_or_else(|e| {
            panic!("xmllint is required for this test (apt-get install libxml2-utils): {e}")
        });
    let _ = std::fs::remove_file(&file);
    assert!(
        out.status.success(),
        "reginfo body not valid against RFC 3680's schema:\n{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(xml)
    );
}

/// Validates and parses a NOTIFY's body (Content-Type `application/reginfo+xml`).
pub fn reginfo_of(notify: &sip::Message) -> ue::reginfo::Reginfo {
    let ct = notify
        .content_type()
        .ok()
        .flatten()
        .expect("NOTIFY with Content-Type");
    assert!(
        ct.mtype.eq_ignore_ascii_case("application")
            && ct.subtype.eq_ignore_ascii_case("reginfo+xml"),
        "{notify}"
    );
    let body = notify.body();
    assert_schema_valid(&body);
    ue::reginfo::parse(&body).unwrap_or_else(|e| panic!("UE cannot parse it: {e}\n{notify}"))
}
