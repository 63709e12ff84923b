//! `imscore subscriber …` run as a process on a fresh embedded (SQLite) data directory: the demo
//! set is provisioned, listed and shown without secrets; bad input exits non-zero and writes nothing.

use std::path::Path;
use std::process::{Command, Output};

fn imscore(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_imscore"))
        .arg("subscriber")
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_remove("IMSCORE_HSS_DB")
        .output()
        .expect("run imscore")
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("imscore-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn demo_subscribers_are_provisioned_listed_and_shown_without_secrets() {
    let dir = temp_dir("demo");
    let out = imscore(&dir, &["demo", "--count", "3"]);
    assert!(
        out.status.success(),
        "demo failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        dir.join("hss.sqlite").exists(),
        "the embedded store is in the data dir"
    );

    let out = imscore(&dir, &["list", "--json"]);
    assert!(out.status.success());
    let list = String::from_utf8_lossy(&out.stdout);
    for n in 1..=3 {
        assert!(
            list.contains(&format!(
                "00101000000000{n}@ims.mnc001.mcc001.3gppnetwork.org"
            )),
            "{list}"
        );
    }
    assert!(
        !list.contains("001010000000004"),
        "only three were asked for: {list}"
    );

    let out = imscore(
        &dir,
        &[
            "show",
            "sip:001010000000002@ims.mnc001.mcc001.3gppnetwork.org",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        shown.contains("001010000000002@ims.mnc001.mcc001.3gppnetwork.org"),
        "{shown}"
    );
    // K and OP of the demo set, in hex: never printed.
    assert!(
        !shown.contains("696d73636f72652d64656d6f2d6b6579"),
        "K leaked: {shown}"
    );
    assert!(
        !shown.contains("696d73636f72652d64656d6f2d6f702e"),
        "OP leaked: {shown}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn unknown_subscriber_and_bad_key_fail_with_a_message() {
    let dir = temp_dir("bad");
    let out = imscore(&dir, &["show", "sip:nobody@ims.example.net"]);
    assert!(!out.status.success());
    assert!(!out.stderr.is_empty(), "a reason is printed");

    let out = imscore(
        &dir,
        &[
            "add",
            "--impi",
            "alice@ims.example.net",
            "--impu",
            "sip:alice@ims.example.net",
            "--k",
            "00112233", // too short
            "--op",
            "696d73636f72652d64656d6f2d6f702e",
        ],
    );
    assert!(!out.status.success(), "a short K is refused");
    let err = String::from_utf8_lossy(&out.stderr).to_lowercase();
    assert!(err.contains('k'), "the message names the key: {err}");
    let out = imscore(&dir, &["list", "--json"]);
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("alice"),
        "nothing was written"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
