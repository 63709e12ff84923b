//! The kernel's ceiling for the load-generator comparison of issue #8 on this machine: how many
//! IMS-AKA registrations per second loopback UDP alone can carry when neither side does any SIP
//! work. A registration is two request/answer exchanges (REGISTER → 401, REGISTER → 200), so
//! four datagrams; this program moves datagrams of the same sizes as the real exchange (REGISTER
//! `REQ` bytes, answer `ANS` bytes) between a client thread and an echo thread with the load
//! engine's own batched I/O (`ue::load::udp_batch`: `sendmmsg`/`recvmmsg`, 64 per call, on
//! connected non-blocking sockets) and a window of `WINDOW` exchanges in flight, for `SECS`
//! seconds, and prints exchanges/s, registrations/s (= exchanges/s ÷ 2) and the CPU time (user,
//! system) the process used.
//!
//! ```text
//! cargo run --release -p ue --example udp_floor -- [SECS] [WINDOW] [REQ] [ANS]
//! ```
//! Defaults: 5 s, 4096, 620 and 480 bytes (the sizes `imscore bench` and `aka_responder`
//! exchange).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use ue::load::udp_batch::{connected_socket, send_batch, wait_readable, RecvBatch};

fn cpu_seconds() -> (f64, f64) {
    // SAFETY: getrusage writes into the zeroed struct it is given
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    (t(ru.ru_utime), t(ru.ru_stime))
}

fn main() -> std::io::Result<()> {
    let arg = |i: usize, d: u64| {
        std::env::args()
            .nth(i)
            .and_then(|s| s.parse().ok())
            .unwrap_or(d)
    };
    let (secs, window, req, ans) = (arg(1, 5), arg(2, 4096) as usize, arg(3, 620), arg(4, 480));
    let a: SocketAddr = "127.0.0.1:25190".parse().expect("address");
    let b: SocketAddr = "127.0.0.1:25191".parse().expect("address");
    let client = connected_socket(a, b, 8 << 20)?;
    let server = connected_socket(b, a, 8 << 20)?;
    let stop = AtomicBool::new(false);
    let request = Bytes::from(vec![b'R'; req as usize]);
    let answer = Bytes::from(vec![b'A'; ans as usize]);
    let (t0, c0) = (Instant::now(), cpu_seconds());
    let done = std::thread::scope(|s| {
        s.spawn(|| {
            let mut rb = RecvBatch::default();
            let mut out = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let n = rb.recv(&server).unwrap_or(0);
                if n == 0 {
                    wait_readable(
                        std::slice::from_ref(&server),
                        Some(Duration::from_millis(20)),
                    );
                    continue;
                }
                out.clear();
                out.extend((0..n).map(|_| answer.clone()));
                send_batch(&server, &out);
            }
        });
        let mut rb = RecvBatch::default();
        let (mut in_flight, mut done, mut out) = (0usize, 0u64, Vec::new());
        let end = t0 + Duration::from_secs(secs);
        while Instant::now() < end {
            out.clear();
            while in_flight + out.len() < window && out.len() < 1024 {
                out.push(request.clone());
            }
            in_flight += send_batch(&client, &out);
            let n = rb.recv(&client).unwrap_or(0);
            if n == 0 && in_flight >= window {
                wait_readable(
                    std::slice::from_ref(&client),
                    Some(Duration::from_millis(20)),
                );
            }
            in_flight -= n.min(in_flight);
            done += n as u64;
            // a window lost to a full buffer is restarted rather than waited for
            if n == 0 && in_flight > 0 && out.is_empty() {
                in_flight = 0;
            }
        }
        stop.store(true, Ordering::Relaxed);
        done
    });
    let wall = t0.elapsed().as_secs_f64();
    let c1 = cpu_seconds();
    let (user, sys) = (c1.0 - c0.0, c1.1 - c0.1);
    let xps = done as f64 / wall;
    println!(
        "{done} exchanges in {wall:.2} s = {xps:.0} exchanges/s = {:.0} registrations/s; CPU user {user:.2} s, system {sys:.2} s ({:.2} µs of CPU per exchange)",
        xps / 2.0,
        (user + sys) * 1e6 / done.max(1) as f64
    );
    Ok(())
}
