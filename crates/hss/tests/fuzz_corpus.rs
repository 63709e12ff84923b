//! Runs every file of the `provisioning_input` fuzz corpus, plus deterministic mutations of each
//! (bit flips, truncations, byte duplications), through the fuzz target's function.

use std::path::Path;

#[test]
fn provisioning_input_corpus_does_not_panic() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/provisioning_input");
    let mut files = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("corpus {dir:?} missing: {e}")) {
        let data = std::fs::read(entry.unwrap().path()).unwrap();
        files += 1;
        hss::fuzzing::provisioning_input(&data);
        for i in 0..data.len() {
            let mut flipped = data.clone();
            flipped[i] ^= 1 << (i % 8);
            hss::fuzzing::provisioning_input(&flipped);
            hss::fuzzing::provisioning_input(&data[..i]);
            let mut dup = data.clone();
            dup.insert(i, data[i]);
            hss::fuzzing::provisioning_input(&dup);
        }
        // Every selector on the same payload.
        for sel in 0..4u8 {
            let mut d = data.clone();
            if let Some(first) = d.first_mut() {
                *first = sel;
            }
            hss::fuzzing::provisioning_input(&d);
        }
    }
    assert!(files >= 8, "corpus has only {files} files");
}
