//! Runs every seed of the fuzz corpus (`fuzz/corpus/<target>/`) through the fuzz entry points,
//! plus deterministic mutations (truncations, bit flips, byte deletions), under `cargo test`.

use std::path::Path;

fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut out = Vec::new();
    for e in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("corpus {}: {e}", dir.display())) {
        let p = e.unwrap().path();
        if p.is_file() {
            out.push(std::fs::read(&p).unwrap());
        }
    }
    assert!(!out.is_empty(), "empty corpus {}", dir.display());
    out
}

fn run_with_mutations(seeds: &[Vec<u8>], f: fn(&[u8])) {
    for s in seeds {
        f(s);
        let step = (s.len() / 64).max(1);
        for i in (0..s.len()).step_by(step) {
            f(&s[..i]);
            let mut flip = s.clone();
            flip[i] ^= 0x80;
            f(&flip);
            let mut del = s.clone();
            del.remove(i);
            f(&del);
            let mut dup = s.clone();
            dup.insert(i, s[i]);
            f(&dup);
        }
    }
}

#[test]
fn reginfo_corpus() {
    let seeds = corpus("reginfo");
    // the well-formed seeds really parse (so the mutations start from valid documents)
    assert!(
        seeds
            .iter()
            .filter(|s| ue::reginfo::parse(s).is_ok())
            .count()
            >= 2
    );
    run_with_mutations(&seeds, ue::fuzzing::reginfo);
}

#[test]
fn ue_input_corpus() {
    let seeds = corpus("ue_input");
    assert!(seeds.iter().all(|s| sip::Message::parse(s.clone()).is_ok()));
    run_with_mutations(&seeds, ue::fuzzing::ue_input);
}
