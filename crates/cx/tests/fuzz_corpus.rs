//! Runs the fuzz corpora (`fuzz/corpus/<target>/`) through the functions the fuzz targets call, plus
//! deterministic mutations of every file (every truncation, a byte flipped at every position, AVP
//! length fields pushed up and down), checking the same oracles as the targets: no panic, the
//! borrowed decoder and the `diameter` decoder agree, and what decodes re-encodes to itself.

use std::path::PathBuf;

use bytes::{Bytes, BytesMut};
use cx::{AnyCx, CxError, ImsSubscription};

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/corpus")).join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("fuzz corpus {} is missing: {e}", dir.display()))
        .map(|e| e.expect("corpus entry").path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "fuzz corpus {} is empty", dir.display());
    files
        .into_iter()
        .map(|p| {
            let data = std::fs::read(&p).expect("read corpus file");
            (p, data)
        })
        .collect()
}

/// The cx_decode target's oracle; returns whether the input decoded.
fn check_cx(data: &[u8]) -> bool {
    let direct = AnyCx::decode(data);
    let via_message = diameter::Message::decode(Bytes::copy_from_slice(data))
        .map_err(CxError::from)
        .and_then(|m| AnyCx::from_message(&m));
    match (&direct, &via_message) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "decoders disagree on {data:02x?}"),
        (Err(_), Err(_)) => {}
        _ => panic!("one decoder accepted what the other refused: {direct:?} / {via_message:?} on {data:02x?}"),
    }
    match direct {
        Ok(v) => {
            let mut buf = BytesMut::new();
            v.encode(&mut buf);
            assert_eq!(AnyCx::decode(&buf).expect("re-encoded message decodes"), v);
            true
        }
        Err(e) => {
            // Every refusal maps to an outcome a peer can be told.
            assert!(e.result().code() >= 3000, "{e}");
            false
        }
    }
}

/// The user_data target's oracle.
fn check_user_data(data: &[u8]) -> bool {
    match ImsSubscription::from_xml(data) {
        Ok(p) => {
            let xml = p.to_xml().expect("parsed text is representable");
            assert_eq!(
                ImsSubscription::from_xml(xml.as_bytes()).expect("own output parses"),
                p
            );
            true
        }
        Err(_) => false,
    }
}

fn mutations(data: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for n in 0..data.len() {
        out.push(data[..n].to_vec());
    }
    for i in 0..data.len() {
        let mut m = data.to_vec();
        m[i] ^= 0xff;
        out.push(m);
        let mut m = data.to_vec();
        m[i] = m[i].wrapping_add(1);
        out.push(m);
    }
    out
}

#[test]
fn cx_decode_corpus_and_mutations() {
    let files = corpus("cx_decode");
    assert!(
        files.len() >= 12,
        "expected a seed for each of the 12 Cx messages"
    );
    let (mut ok, mut total) = (0, 0);
    for (path, data) in &files {
        assert!(check_cx(data), "seed {} does not decode", path.display());
        for m in mutations(data) {
            total += 1;
            ok += usize::from(check_cx(&m));
        }
    }
    // Some mutations (e.g. in string contents) still decode, most do not: both paths were exercised.
    assert!(ok > 0 && ok < total, "{ok} of {total} mutations decoded");
}

#[test]
fn user_data_corpus_and_mutations() {
    let files = corpus("user_data");
    let (mut ok, mut total) = (0, 0);
    for (path, data) in &files {
        assert!(
            check_user_data(data),
            "seed {} does not parse",
            path.display()
        );
        for m in mutations(data) {
            total += 1;
            ok += usize::from(check_user_data(&m));
        }
    }
    assert!(ok > 0 && ok < total, "{ok} of {total} mutations parsed");
}
