//! Runs the fuzz target's function (`sip::fuzz::exercise`) over every seed corpus file in
//! `fuzz/corpus/parse/` and deterministic mutations of them, so the corpus runs under `cargo test`.

use std::path::PathBuf;

fn corpus() -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/corpus/parse"));
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

/// Deterministic mutations: truncations, byte replacements with grammar-relevant bytes,
/// deletions, duplications, and a few structural edits.
fn mutations(data: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let n = data.len();
    if n == 0 {
        return out;
    }
    let step = (n / 48).max(1);
    let specials: &[u8] = b"\r\n \t:;,=\"\\<>@[]%/\x00\xff";
    for (k, i) in (0..n).step_by(step).enumerate() {
        out.push(data[..i].to_vec());
        let mut m = data.to_vec();
        m[i] = specials[k % specials.len()];
        out.push(m);
        let mut m = data.to_vec();
        m.remove(i);
        out.push(m);
        let mut m = data.to_vec();
        m.insert(i, specials[(k * 7) % specials.len()]);
        out.push(m);
    }
    let mut doubled = data.to_vec();
    doubled.extend_from_slice(data);
    out.push(doubled);
    let s = String::from_utf8_lossy(data);
    for (from, to) in [
        ("\r\n", "\n"),
        (": ", ":\r\n "),
        (";", ";;"),
        (",", ",,"),
        ("\"", ""),
        ("SIP/2.0", "SIP/2.1"),
        ("<", ""),
    ] {
        out.push(s.replacen(from, to, 3).into_bytes());
    }
    out
}

#[test]
fn corpus_and_mutations_never_panic() {
    let files = corpus();
    assert!(
        files.len() >= 60,
        "seed corpus is missing files ({})",
        files.len()
    );
    let mut runs = 0;
    let mut parsed = 0;
    for (name, data) in &files {
        sip::fuzz::exercise(data);
        if name.ends_with(".sip") && !name.contains("bad-") {
            assert!(
                sip::Message::parse(data.clone()).is_ok(),
                "{name} should parse"
            );
        }
        for m in mutations(data) {
            sip::fuzz::exercise(&m);
            if sip::Message::parse(m).is_ok() {
                parsed += 1;
            }
            runs += 1;
        }
    }
    assert!(runs > 10_000, "{runs}");
    // the mutations reach past the parser's first checks
    assert!(parsed > runs / 10, "{parsed} of {runs} mutations parsed");
}
