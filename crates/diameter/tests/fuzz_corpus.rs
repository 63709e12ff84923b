//! Runs the fuzz target's seed corpus (and deterministic mutations of it) through the same function
//! the fuzz target calls, so the corpus is exercised by `cargo test`.

use std::path::Path;

use diameter::fuzzing::decode_everything;

#[test]
fn corpus_and_mutations_never_panic() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/decode");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus dir {} missing: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 8, "seed corpus is incomplete: {files:?}");
    let mut runs = 0usize;
    for f in &files {
        let data = std::fs::read(f).unwrap();
        decode_everything(&data);
        // Every truncation.
        for n in 0..data.len() {
            decode_everything(&data[..n]);
            runs += 1;
        }
        // Every single-byte mutation with a few values (covers length fields, flags, vendor ids).
        for i in 0..data.len() {
            for v in [0x00u8, 0xff, 0x80, data[i] ^ 0x01, data[i].wrapping_add(4)] {
                let mut d = data.clone();
                d[i] = v;
                decode_everything(&d);
                runs += 1;
            }
        }
        // Appended garbage and duplicated content.
        let mut d = data.clone();
        d.extend_from_slice(&data);
        decode_everything(&d);
        d.extend_from_slice(&[1, 0, 0]);
        decode_everything(&d);
    }
    assert!(runs > 5_000, "{runs}");
}
