//! The body of the `parse` criterion benchmark run N times (default 10 000), for instruction
//! counting under `valgrind --tool=callgrind` (wall-clock time is unreliable on a shared host):
//!
//! ```text
//! cargo build --release -p sip --example bench_parse
//! valgrind --tool=callgrind target/release/examples/bench_parse 10000 count
//! ```
//!
//! Subtract a run with N = 0 to remove start-up cost, then divide by N. Natively it also
//! prints the best thread-CPU time per iteration over batches of 1000 (CPU time, so time the
//! thread spends descheduled on a loaded host is not counted).

use bytes::Bytes;
use sip::Message;
use std::hint::black_box;

const REGISTER: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/testdata/sip/03-register-protected.sip"
));

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000);
    let bytes = Bytes::from_static(REGISTER);
    let mut checksum = 0usize;
    for _ in 0..n {
        let m = Message::parse(black_box(bytes.clone())).expect("parses");
        let via = m.top_via().expect("via");
        let auth = m.authorization().expect("auth").expect("present");
        let sv = m.security_verify().expect("sv");
        checksum += via.params.len() + auth.params.len() + sv.len();
        black_box((via, auth, sv));
    }
    println!("{n} iterations, checksum {checksum}");
    if n > 0 && std::env::args().nth(2).as_deref() != Some("count") {
        let mut best = f64::MAX;
        for _ in 0..(n / 1000).max(1) {
            let t0 = thread_cpu_ns();
            for _ in 0..1000 {
                let m = Message::parse(black_box(bytes.clone())).expect("parses");
                let via = m.top_via().expect("via");
                let auth = m.authorization().expect("auth").expect("present");
                let sv = m.security_verify().expect("sv");
                black_box((via, auth, sv));
            }
            best = best.min((thread_cpu_ns() - t0) as f64 / 1000.0);
        }
        println!("best batch: {best:.0} ns CPU time per iteration");
    }
}

/// CPU time consumed by this thread, in nanoseconds.
fn thread_cpu_ns() -> u128 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_THREAD_CPUTIME_ID is always supported
    // on Linux.
    #[allow(unsafe_code)]
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime");
    ts.tv_sec as u128 * 1_000_000_000 + ts.tv_nsec as u128
}
