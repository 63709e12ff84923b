//! Benchmark support shared by the workspace's criterion benches (a dev-dependency only).
//!
//! [`ThreadCpuTime`] is a criterion [`Measurement`] of the benchmark thread's CPU time
//! (`clock_gettime(CLOCK_THREAD_CPUTIME_ID)`, POSIX.1-2008). On a shared, oversubscribed machine the
//! wall-clock time of an iteration includes the time the thread waited for a core; the thread's CPU
//! time does not, so it is the figure our benchmark targets are checked against. Values are
//! nanoseconds and print with criterion's wall-time formatter (ns/µs/ms, elements or bytes per second).

use std::time::Duration;

use criterion::measurement::{Measurement, ValueFormatter, WallTime};

/// Criterion measurement: CPU time consumed by the calling thread.
#[derive(Debug, Clone, Copy, Default)]
pub struct ThreadCpuTime;

/// Borrowed for its formatter only: our values are durations in nanoseconds, like wall time's.
static WALL: WallTime = WallTime;

/// CPU time consumed so far by the calling thread.
pub fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec and CLOCK_THREAD_CPUTIME_ID is a clock Linux
    // supports; clock_gettime only writes through the pointer we pass.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

impl Measurement for ThreadCpuTime {
    type Intermediate = Duration;
    type Value = Duration;

    fn start(&self) -> Duration {
        thread_cpu_time()
    }
    fn end(&self, start: Duration) -> Duration {
        thread_cpu_time().saturating_sub(start)
    }
    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }
    fn zero(&self) -> Duration {
        Duration::ZERO
    }
    fn to_f64(&self, v: &Duration) -> f64 {
        v.as_nanos() as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        WALL.formatter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_cpu_time_advances_with_work_and_not_with_sleep() {
        let m = ThreadCpuTime;
        let start = m.start();
        let mut x = 0u64;
        for i in 0..5_000_000u64 {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
        }
        let busy = m.end(start);
        assert!(
            busy > Duration::from_micros(100),
            "work took CPU time: {busy:?} ({x})"
        );

        let start = m.start();
        std::thread::sleep(Duration::from_millis(200));
        let slept = m.end(start);
        assert!(
            slept < Duration::from_millis(50),
            "sleeping uses no CPU: {slept:?}"
        );
        assert_eq!(m.to_f64(&Duration::from_nanos(1500)), 1500.0);
        assert_eq!(
            m.add(&Duration::from_nanos(1), &Duration::from_nanos(2)),
            Duration::from_nanos(3)
        );
    }
}
