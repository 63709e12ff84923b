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
use criterion::measurement::{Measurement, ValueFormatter};
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};

/// CPU time of the calling thread, in nanoseconds.
struct ThreadCpuTime;

fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_THREAD_CPUTIME_ID is supported on Linux.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

struct NsFormatter;

impl ValueFormatter for NsFormatter {
    fn scale_values(&self, typical: f64, values: &mut [f64]) -> &'static str {
        let (factor, unit) = if typical < 1e3 {
            (1.0, "ns")
        } else if typical < 1e6 {
            (1e-3, "µs")
        } else {
            (1e-6, "ms")
        };
        values.iter_mut().for_each(|v| *v *= factor);
        unit
    }

    fn scale_throughputs(&self, _typical: f64, t: &Throughput, values: &mut [f64]) -> &'static str {
        let n = match *t {
            Throughput::Elements(n) | Throughput::Bytes(n) | Throughput::BytesDecimal(n) => {
                n as f64
            }
        };
        values.iter_mut().for_each(|v| *v = n * 1e9 / *v / 1e6);
        "M/s"
    }

    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "ns"
    }
}

impl Measurement for ThreadCpuTime {
    type Intermediate = u64;
    type Value = u64;

    fn start(&self) -> u64 {
        thread_cpu_ns()
    }
    fn end(&self, start: u64) -> u64 {
        thread_cpu_ns().saturating_sub(start)
    }
    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }
    fn zero(&self) -> u64 {
        0
    }
    fn to_f64(&self, v: &u64) -> f64 {
        *v as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        &NsFormatter
    }
}

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
