//! criterion benchmarks: one complete authentication vector, one AKAv1-MD5 response check.
//!
//! Run: `cargo bench -p aka --bench aka -- --warm-up-time 1 --measurement-time 3`
//!
//! Every benchmark is measured twice: `wall/…` with criterion's usual wall-clock time, and `cpu/…` with
//! the benchmark thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`), which is not inflated when the machine
//! is shared and the thread waits for a core. Targets: vector ≥ 3 M/s per core (≤ 333 ns), AKAv1-MD5
//! check ≤ 1.5 µs.

use aka::digest::{self, DigestInput, Qop, QopParams};
use aka::{Amf, AuthVector, Milenage, Opc, Rand, Res, Sqn, K};
use criterion::measurement::Measurement;
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};

use benchkit::ThreadCpuTime;

fn all<M: Measurement>(c: &mut Criterion<M>, prefix: &str) {
    vectors(c, prefix);
    digest_check(c, prefix);
}

fn wall(c: &mut Criterion) {
    all(c, "wall");
}

fn cpu(c: &mut Criterion<ThreadCpuTime>) {
    all(c, "cpu");
}

fn vectors<M: Measurement>(c: &mut Criterion<M>, prefix: &str) {
    let k = K::from_hex("465b5ce8b199b49faa5f0a2ee238a6bc").unwrap();
    let opc = Opc::from_hex("cd63cb71954a9f4e48a5994e37a02baf").unwrap();
    let rand = Rand::from_hex("23553cbe9637a89d218ae64dae47bf35").unwrap();
    let sqn = Sqn::from_hex("ff9bb4d0b607").unwrap();
    let amf = Amf::from_hex("b9b9").unwrap();
    let mut g = c.benchmark_group(format!("{prefix}/vector"));
    g.throughput(Throughput::Elements(1));
    // What the HSS does per request: key schedule of K, then f1..f5 and AUTN.
    g.bench_function("complete_incl_key_schedule", |b| {
        b.iter(|| {
            let m = Milenage::new(black_box(&k), black_box(&opc));
            AuthVector::generate(&m, black_box(rand), black_box(sqn), amf)
        })
    });
    let m = Milenage::new(&k, &opc);
    g.bench_function("complete_prebuilt_key_schedule", |b| {
        b.iter(|| AuthVector::generate(black_box(&m), black_box(rand), black_box(sqn), amf))
    });
    g.bench_function("complete_with_os_rand", |b| {
        b.iter(|| {
            let m = Milenage::new(black_box(&k), black_box(&opc));
            AuthVector::generate_random(&m, black_box(sqn), amf)
        })
    });
    g.finish();
}

fn digest_check<M: Measurement>(c: &mut Criterion<M>, prefix: &str) {
    let xres = Res::from_hex("a54211d5e3ba50bf").unwrap();
    let input = DigestInput {
        nonce: "I1U8vpY3qJ0hiuZNrke/NVXzKLQ1d7m5Sp/6w1Tfr7M=",
        method: "REGISTER",
        uri: "sip:ims.mnc001.mcc001.3gppnetwork.org",
        qop: Some(QopParams {
            qop: Qop::Auth,
            nc: "00000001",
            cnonce: "NGNhMTgzMw==",
        }),
        body: b"",
    };
    let user = "001010123456789@ims.mnc001.mcc001.3gppnetwork.org";
    let realm = "ims.mnc001.mcc001.3gppnetwork.org";
    let ha1 = digest::ha1_akav1(user, realm, &xres);
    let response = digest::response(&ha1, &input).unwrap();
    let mut g = c.benchmark_group(format!("{prefix}/digest"));
    g.throughput(Throughput::Elements(1));
    // What the S-CSCF does per REGISTER: HA1 from XRES, then the constant-time response check.
    g.bench_function("akav1_md5_check", |b| {
        b.iter(|| {
            let ha1 = digest::ha1_akav1(black_box(user), black_box(realm), black_box(&xres));
            let ok =
                digest::verify_response(&ha1, black_box(&input), black_box(&response)).unwrap();
            assert!(ok);
        })
    });
    // With HA1 computed once when the vector arrived (the S-CSCF keeps it with the challenge).
    g.bench_function("akav1_md5_verify_precomputed_ha1", |b| {
        b.iter(|| {
            let ok =
                digest::verify_response(black_box(&ha1), black_box(&input), black_box(&response))
                    .unwrap();
            assert!(ok);
        })
    });
    g.finish();
}

criterion_group!(wall_time, wall);
criterion_group! {
    name = cpu_time;
    config = Criterion::default().with_measurement(ThreadCpuTime);
    targets = cpu
}
criterion_main!(wall_time, cpu_time);
