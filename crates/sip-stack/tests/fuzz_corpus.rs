//! Runs every seed corpus file of the fuzz targets (`fuzz/corpus/<target>/`) through the same
//! public function the target calls, plus deterministic mutations of each file, so the corpus
//! runs under `cargo test`. Passing means: no panic on any of them.

use std::path::Path;

fn mutations(seed: &[u8]) -> Vec<Vec<u8>> {
    let mut out = vec![seed.to_vec(), Vec::new()];
    // truncations (every 7th position, and the last 40), which cut lines and bodies
    for i in (0..seed.len())
        .step_by(7)
        .chain(seed.len().saturating_sub(40)..seed.len())
    {
        out.push(seed[..i].to_vec());
    }
    // byte replacements with bytes that matter to SIP grammar, at every 3rd position
    for i in (0..seed.len()).step_by(3) {
        for v in [0u8, b'\r', b'\n', b' ', b',', b';', b':', b'<', b'"', 0xff] {
            let mut m = seed.to_vec();
            m[i] = v;
            out.push(m);
        }
    }
    out.push([seed, seed].concat());
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
    assert!(files >= 5, "corpus {target} has only {files} files");
}

#[test]
fn proxy_path_corpus() {
    run_corpus("proxy_path", sip_stack::fuzzing::proxy_path);
}
