//! Runs the fuzz target's function (`secagree::fuzzing::exercise`) over every seed corpus file in
//! `fuzz/corpus/security_headers/` and deterministic mutations of them, under `cargo test`.

use std::path::PathBuf;

fn corpus() -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fuzz/corpus/security_headers"
    ));
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus dir {}: {e}", dir.display()))
        .map(|e| {
            let p = e.expect("entry").path();
            (p.display().to_string(), std::fs::read(&p).expect("read"))
        })
        .collect();
    out.sort();
    out
}

fn mutations(data: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let n = data.len();
    let specials: &[u8] = b";,=\" \n0159q-\xff";
    let step = (n / 40).max(1);
    for (k, i) in (0..n).step_by(step).enumerate() {
        out.push(data[..i].to_vec());
        let mut m = data.to_vec();
        m[i] = specials[k % specials.len()];
        out.push(m);
        let mut m = data.to_vec();
        m.remove(i);
        out.push(m);
        let mut m = data.to_vec();
        m.insert(i, specials[(k * 5) % specials.len()]);
        out.push(m);
    }
    let s = String::from_utf8_lossy(data);
    for (from, to) in [
        ("hmac-md5-96", "hmac-sha-1-96"),
        ("null", "aes-cbc"),
        ("esp", "ah"),
        ("spi-c=", "spi-c=0"),
        ("port-s=", "port-s=9"),
        ("q=0.1", "q=1"),
        (", ", ",,"),
        ("\n", ""),
    ] {
        out.push(s.replacen(from, to, 2).into_bytes());
    }
    out
}

#[test]
fn corpus_and_mutations_never_panic() {
    let files = corpus();
    assert!(
        files.len() >= 13,
        "seed corpus is missing files ({})",
        files.len()
    );
    let mut runs = 0;
    for (name, data) in &files {
        let ok = secagree::fuzzing::exercise(data);
        let want = [
            "trace-client-verify",
            "trace-client-only",
            "tls-offer",
            "tls-only",
            "mixed",
            "upper-bounds",
            "dup-params",
        ]
        .iter()
        .any(|s| name.ends_with(s));
        assert_eq!(ok, want, "{name}: negotiation outcome");
        runs += 1;
        for m in mutations(data) {
            let _ = secagree::fuzzing::exercise(&m);
            runs += 1;
        }
    }
    assert!(runs > 1000, "{runs}");
}
