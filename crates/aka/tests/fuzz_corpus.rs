//! Runs every seed corpus file of the fuzz targets (`fuzz/corpus/<target>/`) through the same public
//! function the target calls, plus deterministic mutations of each file, so the corpus runs under
//! `cargo test`.

use std::path::Path;

fn mutations(seed: &[u8]) -> Vec<Vec<u8>> {
    let mut out = vec![seed.to_vec(), Vec::new()];
    // every truncation and every suffix
    for i in 0..seed.len() {
        out.push(seed[..i].to_vec());
        out.push(seed[i..].to_vec());
    }
    // single-bit flips, byte replacements with interesting values, insertions
    for i in 0..seed.len() {
        for bit in [0u8, 5, 7] {
            let mut m = seed.to_vec();
            m[i] ^= 1 << bit;
            out.push(m);
        }
        for v in [0u8, b'=', b'+', b'/', b'\r', b' ', 0xff, b'0', b'x'] {
            let mut m = seed.to_vec();
            m[i] = v;
            out.push(m);
            let mut m = seed.to_vec();
            m.insert(i, v);
            out.push(m);
        }
    }
    // duplication and padding games
    out.push([seed, seed].concat());
    out.push([seed, b"==".as_slice()].concat());
    out.push([seed, &[b'A'; 512]].concat());
    out
}

fn run_corpus(target: &str, f: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let entries =
        std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("corpus {} missing: {e}", dir.display()));
    let mut files = 0;
    for entry in entries {
        let path = entry.unwrap().path();
        let seed = std::fs::read(&path).unwrap();
        for m in mutations(&seed) {
            f(&m);
        }
        files += 1;
    }
    assert!(files > 0, "corpus {} is empty", dir.display());
}

#[test]
fn nonce_decode_corpus() {
    run_corpus("nonce_decode", aka::fuzzing::nonce_decode);
}

#[test]
fn hex_parsers_corpus() {
    run_corpus("hex_parsers", aka::fuzzing::hex_parsers);
}

#[test]
fn digest_verify_corpus() {
    run_corpus("digest_verify", aka::fuzzing::digest_verify);
}

/// The seeds that must decode do decode (so the corpus exercises the success path too).
#[test]
fn valid_seeds_decode() {
    for name in ["rand-autn", "captured-02-401", "with-server-data"] {
        let p = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fuzz/corpus/nonce_decode")
            .join(name);
        let s = std::fs::read_to_string(&p).unwrap();
        assert!(aka::AkaNonce::decode(&s).is_ok(), "{name}");
    }
    for name in ["ts24228-placeholder", "too-long", "31-bytes-unpadded"] {
        let p = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fuzz/corpus/nonce_decode")
            .join(name);
        let s = std::fs::read_to_string(&p).unwrap();
        assert!(aka::AkaNonce::decode(&s).is_err(), "{name}");
    }
}
