//! Runs every seed corpus file of the fuzz targets (`fuzz/corpus/<target>/`) through the same public
//! function the target calls, plus deterministic mutations of each file, so the corpus runs under
//! `cargo test`.

use std::path::{Path, PathBuf};

use ipsec::fuzzing;
use ipsec::packet::{open_ip_packet, parse_ip, seal_ip_packet};
use ipsec::InboundSa;

fn mutations(seed: &[u8]) -> Vec<Vec<u8>> {
    let mut out = vec![seed.to_vec(), Vec::new()];
    for i in 0..seed.len() {
        out.push(seed[..i].to_vec());
        out.push(seed[i..].to_vec());
    }
    for i in 0..seed.len() {
        for bit in [0u8, 3, 7] {
            let mut m = seed.to_vec();
            m[i] ^= 1 << bit;
            out.push(m);
        }
        for v in [0u8, 1, 0x45, 0x60, 0x7f, 0xff] {
            let mut m = seed.to_vec();
            m[i] = v;
            out.push(m);
            let mut m = seed.to_vec();
            m.insert(i, v);
            out.push(m);
        }
    }
    out.push([seed, seed].concat());
    out.push([seed, &[0u8; 300]].concat());
    out.push([seed, &[0xffu8; 70_000]].concat());
    out
}

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let entries =
        std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("corpus {} missing: {e}", dir.display()));
    let files: Vec<_> = entries
        .map(|e| {
            let p = e.unwrap().path();
            let b = std::fs::read(&p).unwrap();
            (p, b)
        })
        .collect();
    assert!(!files.is_empty(), "corpus {} is empty", dir.display());
    files
}

fn run_corpus(target: &str, f: fn(&[u8])) {
    for (_, seed) in corpus(target) {
        for m in mutations(&seed) {
            f(&m);
        }
    }
}

#[test]
fn esp_open_corpus() {
    run_corpus("esp_open", fuzzing::esp_open);
}

#[test]
fn ip_packet_corpus() {
    run_corpus("ip_packet", fuzzing::ip_packet);
}

/// The sealed seeds really are valid packets, so the corpus reaches the success paths.
#[test]
fn seeds_exercise_success_paths() {
    let mut opened = 0;
    for (path, seed) in corpus("esp_open") {
        let Some((&sel, pkt)) = seed.split_first() else {
            continue;
        };
        let mut rx = InboundSa::new(fuzzing::FUZZ_SPI, &fuzzing::keys(usize::from(sel))).unwrap();
        let mut out = Vec::new();
        if rx.open(pkt, &mut out).is_ok() {
            assert!(out.starts_with(b"SIP/2.0 200 OK"), "{}", path.display());
            opened += 1;
        }
    }
    assert_eq!(opened, 6, "one valid sealed seed per alg pair");

    let (mut ue, mut pcscf) = fuzzing::fuzz_tables();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/ip_packet");
    let read = |n: &str| std::fs::read(dir.join(n)).unwrap();
    let (mut scratch, mut out) = (Vec::new(), Vec::new());
    let (_, o) = open_ip_packet(&mut pcscf, &read("esp-v4"), &mut scratch, &mut out).unwrap();
    assert_eq!(o.next_header, 17);
    assert_eq!(
        out,
        read("udp-v4"),
        "esp-v4 seed decapsulates to the udp-v4 seed"
    );
    for n in ["udp-v4", "tcp-v4"] {
        seal_ip_packet(&mut ue, &read(n), &mut scratch).unwrap();
    }
    assert!(parse_ip(&read("udp-v6")).is_ok());
}
