//! `imscore aka …` run as a process: outputs against the TS 35.208 data, exit codes and messages.

use std::process::{Command, Output};

use base64::Engine;
use serde_json::Value;

fn imscore(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_imscore"))
        .args(args)
        .output()
        .expect("run imscore")
}

fn testdata() -> Vec<Value> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/testdata/milenage-ts35208.json"
    );
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path} missing: {e}"));
    let v: Value = serde_json::from_str(&text).unwrap();
    let sets = v["vectors"].as_array().unwrap().clone();
    assert_eq!(sets.len(), 6);
    sets
}

fn s<'a>(set: &'a Value, key: &str) -> &'a str {
    set[key].as_str().unwrap()
}

const KEYS: [&str; 8] = ["opc", "mac_a", "mac_s", "res", "ck", "ik", "ak", "ak_star"];

#[test]
fn milenage_json_matches_every_set_with_op_and_with_opc() {
    for set in testdata() {
        for (flag, key) in [("--op", "op"), ("--opc", "opc")] {
            let out = imscore(&[
                "aka",
                "milenage",
                "--k",
                s(&set, "k"),
                flag,
                s(&set, key),
                "--rand",
                s(&set, "rand"),
                "--sqn",
                s(&set, "sqn"),
                "--amf",
                s(&set, "amf"),
                "--json",
            ]);
            assert!(out.status.success(), "{out:?}");
            let stdout = String::from_utf8(out.stdout).unwrap();
            // exactly one JSON object, one line
            assert_eq!(stdout.trim_end().lines().count(), 1, "{stdout}");
            let obj: Value = serde_json::from_str(&stdout).unwrap();
            let map = obj.as_object().unwrap();
            assert_eq!(map.len(), KEYS.len());
            for k in KEYS {
                assert_eq!(
                    map[k].as_str().unwrap(),
                    s(&set, k),
                    "set {} {k}",
                    set["set"]
                );
            }
        }
    }
}

#[test]
fn milenage_text_output_names_each_value() {
    let set = &testdata()[2];
    let out = imscore(&[
        "aka",
        "milenage",
        "--k",
        s(set, "k"),
        "--opc",
        s(set, "opc"),
        "--rand",
        s(set, "rand"),
        "--sqn",
        s(set, "sqn"),
        "--amf",
        s(set, "amf"),
    ]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for (label, key) in [("MAC-A", "mac_a"), ("RES", "res"), ("AK*", "ak_star")] {
        let line = text
            .lines()
            .find(|l| l.split_whitespace().next() == Some(label))
            .unwrap_or_else(|| panic!("no {label} line in {text}"));
        assert!(line.ends_with(s(set, key)), "{line}");
    }
}

#[test]
fn vector_with_given_rand_matches_autn_and_nonce() {
    for set in testdata() {
        let out = imscore(&[
            "aka",
            "vector",
            "--k",
            s(&set, "k"),
            "--op",
            s(&set, "op"),
            "--sqn",
            s(&set, "sqn"),
            "--amf",
            s(&set, "amf"),
            "--rand",
            s(&set, "rand"),
            "--json",
        ]);
        assert!(out.status.success(), "{out:?}");
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["autn"], set["autn"]);
        assert_eq!(v["xres"], set["res"]);
        assert_eq!(v["ck"], set["ck"]);
        assert_eq!(v["ik"], set["ik"]);
        let nonce = base64::engine::general_purpose::STANDARD
            .decode(v["nonce"].as_str().unwrap())
            .unwrap();
        assert_eq!(hex::encode(&nonce[..16]), s(&set, "rand"));
        assert_eq!(hex::encode(&nonce[16..]), s(&set, "autn"));
    }
}

#[test]
fn vector_without_rand_is_random() {
    let set = &testdata()[0];
    let args = [
        "aka",
        "vector",
        "--k",
        s(set, "k"),
        "--opc",
        s(set, "opc"),
        "--sqn",
        s(set, "sqn"),
        "--amf",
        s(set, "amf"),
        "--json",
    ];
    let a: Value = serde_json::from_slice(&imscore(&args).stdout).unwrap();
    let b: Value = serde_json::from_slice(&imscore(&args).stdout).unwrap();
    assert_eq!(a["rand"].as_str().unwrap().len(), 32);
    assert_ne!(a["rand"], b["rand"]);
    assert_ne!(a["autn"], b["autn"]);
}

#[test]
fn auts_build_and_verify() {
    for set in testdata() {
        let out = imscore(&[
            "aka",
            "auts",
            "--k",
            s(&set, "k"),
            "--opc",
            s(&set, "opc"),
            "--rand",
            s(&set, "rand"),
            "--sqn",
            s(&set, "sqn"),
            "--json",
        ]);
        assert!(out.status.success());
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["auts"], set["auts"]);
        let b64 = base64::engine::general_purpose::STANDARD
            .decode(v["auts_base64"].as_str().unwrap())
            .unwrap();
        assert_eq!(hex::encode(b64), s(&set, "auts"));
        let out = imscore(&[
            "aka",
            "auts",
            "--k",
            s(&set, "k"),
            "--op",
            s(&set, "op"),
            "--rand",
            s(&set, "rand"),
            "--auts",
            s(&set, "auts"),
            "--json",
        ]);
        assert!(out.status.success());
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["sqn_ms"], set["sqn"]);
    }
    // a tampered AUTS is refused with exit 1 and a message
    let set = &testdata()[0];
    let mut bad = s(set, "auts").to_owned();
    bad.replace_range(27..28, if bad.ends_with('6') { "7" } else { "6" });
    let out = imscore(&[
        "aka",
        "auts",
        "--k",
        s(set, "k"),
        "--opc",
        s(set, "opc"),
        "--rand",
        s(set, "rand"),
        "--auts",
        &bad,
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("MAC-S"));
    assert!(out.stdout.is_empty());
}

#[test]
fn digest_rfc2617_example_and_akav1() {
    let out = imscore(&[
        "aka",
        "digest",
        "--algorithm",
        "MD5",
        "--username",
        "Mufasa",
        "--realm",
        "testrealm@host.com",
        "--password",
        "Circle Of Life",
        "--nonce",
        "dcd98b7102dd2f0e8b11d0f600bfb0c093",
        "--method",
        "GET",
        "--uri",
        "/dir/index.html",
        "--qop",
        "auth",
        "--nc",
        "00000001",
        "--cnonce",
        "0a4f113b",
        "--json",
    ]);
    assert!(out.status.success(), "{out:?}");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["response"], "6629fae49393a05397450978507c4ef1");

    // AKAv1-MD5 with a RES containing 0x00 bytes, against a straightforward MD5 computation
    let res = [0x00u8, 0x11, 0x00, 0x22, 0x33, 0x00, 0x44, 0x00];
    let ha1 = md5_hex(&[b"alice@ims.test:ims.test:".as_slice(), &res].concat());
    let ha2 = md5_hex(b"REGISTER:sip:ims.test");
    let expected = md5_hex(format!("{ha1}:abc:{ha2}").as_bytes());
    let out = imscore(&[
        "aka",
        "digest",
        "--algorithm",
        "AKAv1-MD5",
        "--username",
        "alice@ims.test",
        "--realm",
        "ims.test",
        "--res",
        &hex::encode(res),
        "--nonce",
        "abc",
        "--uri",
        "sip:ims.test",
        "--json",
    ]);
    assert!(out.status.success(), "{out:?}");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ha1"], ha1.as_str());
    assert_eq!(v["response"], expected.as_str());
}

fn md5_hex(data: &[u8]) -> String {
    use md5::{Digest, Md5};
    hex::encode(Md5::digest(data))
}

fn assert_usage_error(args: &[&str], names: &str) {
    let out = imscore(args);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(names), "stderr should name {names}: {err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn bad_arguments_exit_2_and_name_the_argument() {
    let set = &testdata()[0];
    let base = |k: &str, op: &str, rand: &str, sqn: &str, amf: &str| -> Vec<String> {
        [
            "aka", "milenage", "--k", k, "--op", op, "--rand", rand, "--sqn", sqn, "--amf", amf,
        ]
        .iter()
        .map(|x| x.to_string())
        .collect()
    };
    let (k, op, rand, sqn, amf) = (
        s(set, "k"),
        s(set, "op"),
        s(set, "rand"),
        s(set, "sqn"),
        s(set, "amf"),
    );
    let cases: Vec<(Vec<String>, &str)> = vec![
        (base("465b", op, rand, sqn, amf), "--k"),
        (base(k, "zz", rand, sqn, amf), "--op"),
        (base(k, op, &format!("{rand}00"), sqn, amf), "--rand"),
        (base(k, op, rand, "ff9bb4d0b6", amf), "--sqn"),
        (base(k, op, rand, sqn, "b9b"), "--amf"),
        (base(k, op, rand, sqn, "xyzw"), "--amf"),
    ];
    for (args, name) in &cases {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        assert_usage_error(&a, name);
    }
    // missing arguments
    assert_usage_error(
        &[
            "aka", "milenage", "--k", k, "--op", op, "--sqn", sqn, "--amf", amf,
        ],
        "--rand",
    );
    assert_usage_error(
        &[
            "aka", "milenage", "--k", k, "--rand", rand, "--sqn", sqn, "--amf", amf,
        ],
        "--op",
    );
    assert_usage_error(
        &[
            "aka", "milenage", "--k", k, "--op", op, "--opc", op, "--rand", rand, "--sqn", sqn,
            "--amf", amf,
        ],
        "--opc",
    );
    assert_usage_error(
        &["aka", "vector", "--k", k, "--op", op, "--amf", amf],
        "--sqn",
    );
    assert_usage_error(
        &["aka", "auts", "--k", k, "--op", op, "--rand", rand],
        "--sqn",
    );
    assert_usage_error(
        &[
            "aka", "auts", "--k", k, "--op", op, "--rand", rand, "--auts", "00",
        ],
        "--auts",
    );
    assert_usage_error(
        &[
            "aka",
            "digest",
            "--username",
            "u",
            "--realm",
            "r",
            "--nonce",
            "n",
            "--uri",
            "sip:x",
        ],
        "--res",
    );
    assert_usage_error(
        &[
            "aka",
            "digest",
            "--username",
            "u",
            "--realm",
            "r",
            "--nonce",
            "n",
            "--uri",
            "sip:x",
            "--res",
            "0011",
        ],
        "--res",
    );
    assert_usage_error(
        &[
            "aka",
            "digest",
            "--username",
            "u",
            "--realm",
            "r",
            "--nonce",
            "n",
            "--uri",
            "sip:x",
            "--res",
            "0011223344556677",
            "--qop",
            "auth",
            "--nc",
            "1",
            "--cnonce",
            "c",
        ],
        "--nc",
    );
}

#[test]
fn digest_akav2_and_auth_int_match_the_library() {
    use aka::digest::{self as d, DigestInput, Qop, QopParams};
    let res = "00a1b2c3d4e5f600";
    let ik = "f769bcd751044604127672711c6d3441";
    let ck = "b40ba9a3c58b2a05bbf0d987b21bf8cb";
    let out = imscore(&[
        "aka",
        "digest",
        "--algorithm",
        "AKAv2-MD5",
        "--username",
        "bob@ims.test",
        "--realm",
        "ims.test",
        "--res",
        res,
        "--ik",
        ik,
        "--ck",
        ck,
        "--nonce",
        "bm9uY2U=",
        "--uri",
        "sip:ims.test",
        "--qop",
        "auth-int",
        "--nc",
        "00000002",
        "--cnonce",
        "abcd",
        "--body",
        "v=0\r\n",
        "--json",
    ]);
    assert!(out.status.success(), "{out:?}");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let ha1 = d::ha1_akav2(
        "bob@ims.test",
        "ims.test",
        &aka::Res::from_hex(res).unwrap(),
        &aka::Ik::from_hex(ik).unwrap(),
        &aka::Ck::from_hex(ck).unwrap(),
    );
    let input = DigestInput {
        nonce: "bm9uY2U=",
        method: "REGISTER",
        uri: "sip:ims.test",
        qop: Some(QopParams {
            qop: Qop::AuthInt,
            nc: "00000002",
            cnonce: "abcd",
        }),
        body: b"v=0\r\n",
    };
    assert_eq!(v["algorithm"], "AKAv2-MD5");
    assert_eq!(v["ha1"], ha1.expose_hex().as_str());
    assert_eq!(v["response"], d::response(&ha1, &input).unwrap().as_str());
    assert_eq!(v["rspauth"], d::rspauth(&ha1, &input).unwrap().as_str());
    // AKAv2 without IK/CK is a usage error naming what is missing
    let out = imscore(&[
        "aka",
        "digest",
        "--algorithm",
        "AKAv2-MD5",
        "--username",
        "u",
        "--realm",
        "r",
        "--res",
        res,
        "--nonce",
        "n",
        "--uri",
        "sip:x",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--ik"));
}
