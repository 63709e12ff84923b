//! Parse `03-register-protected.sip` and read its Via, Authorization and Security-Verify
//! (issue 2 target: ≤ 1.5 µs), plus the pieces separately.
//!
//! The first group reports wall-clock time as usual. The `cpu/` benchmarks measure the same
//! target with the thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`), which does not count time the
//! thread spends descheduled: on a shared, loaded host that is the figure to compare.

use bytes::Bytes;
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use sip::Message;

const REGISTER: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/testdata/sip/03-register-protected.sip"
));

fn bench(c: &mut Criterion) {
    let bytes = Bytes::from_static(REGISTER);
    c.bench_function("parse+via+authorization+security-verify", |b| {
        b.iter(|| target(&bytes))
    });
    // As a transport hands it over: a frozen BytesMut (reference-counted); includes the copy.
    c.bench_function(
        "from a received buffer: copy+parse+via+authorization+security-verify",
        |b| {
            b.iter(|| {
                let mut buf = bytes::BytesMut::with_capacity(2048);
                buf.extend_from_slice(black_box(REGISTER));
                let m = Message::parse(buf.freeze()).expect("parses");
                let via = m.top_via().expect("via");
                let auth = m.authorization().expect("auth").expect("present");
                let sv = m.security_verify().expect("sv");
                black_box((via, auth, sv));
            })
        },
    );
    c.bench_function("parse only (index)", |b| {
        b.iter(|| Message::parse(black_box(bytes.clone())).expect("parses"))
    });
    let m = Message::parse(bytes.clone()).expect("parses");
    c.bench_function("validate", |b| {
        b.iter(|| black_box(&m).validate().expect("valid"))
    });
    c.bench_function("editor: pop via + strip header", |b| {
        b.iter(|| {
            let mut ed = sip::Editor::new(black_box(&m));
            ed.pop_via().expect("via");
            ed.remove(sip::HeaderName::SecurityVerify);
            ed.to_bytes().expect("bytes")
        })
    });
}

/// The benchmark target: parse, then read top Via, Authorization and Security-Verify.
fn target(bytes: &Bytes) {
    let m = Message::parse(black_box(bytes.clone())).expect("parses");
    let via = m.top_via().expect("via");
    let auth = m.authorization().expect("auth").expect("present");
    let sv = m.security_verify().expect("sv");
    black_box((via, auth, sv));
}

fn bench_cpu(c: &mut Criterion<ThreadCpuTime>) {
    let bytes = Bytes::from_static(REGISTER);
    c.bench_function("cpu/parse+via+authorization+security-verify", |b| {
        b.iter(|| target(&bytes))
    });
    c.bench_function("cpu/parse only (index)", |b| {
        b.iter(|| Message::parse(black_box(bytes.clone())).expect("parses"))
    });
}

use benchkit::ThreadCpuTime;

criterion_group!(benches, bench);
criterion_group! {
    name = cpu;
    config = Criterion::default().with_measurement(ThreadCpuTime);
    targets = bench_cpu
}
criterion_main!(benches, cpu);
