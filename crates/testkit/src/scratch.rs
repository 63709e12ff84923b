//! Scratch resources for integration tests: a temporary directory removed on drop, and free
//! loopback ports.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// A directory under the system temp dir, removed on drop (also when the test panics).
pub struct TempDir(PathBuf);

impl TempDir {
    /// A new empty directory whose name starts with `prefix` (unique per process and call).
    pub fn new(prefix: &str) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "{prefix}_{}_{}_{:08x}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(&p).expect("create temp dir");
        TempDir(p)
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The ports tests choose from: `10000` up to the first of the UE simulator's default protected
/// ports (30000) or of the kernel's ephemeral range (`net.ipv4.ip_local_port_range`, 32768 by
/// default), whichever is lower. A port taken from the ephemeral range by binding port 0 and then
/// released can be handed by the kernel to any socket bound to port 0 or to an outgoing connection
/// of a test running in parallel before the role meant for it binds it ("Address already in use");
/// below that range only explicit choices land, and within a process this module never hands out
/// the same port twice until it wraps around.
fn test_port_range() -> (u16, u16) {
    let (low, high) = ephemeral_range();
    let hi = low.min(30000);
    if hi > 12000 {
        (10000, hi)
    } else if high < 60000 {
        // an ephemeral range starting low: above it instead
        (high + 1, 65000)
    } else {
        // it covers nearly everything: no port is safe from it, take the usual ones
        (10000, 30000)
    }
}

/// `net.ipv4.ip_local_port_range` (Linux's default 32768–60999 when unreadable).
fn ephemeral_range() -> (u16, u16) {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| {
            let mut it = s.split_whitespace().map(|x| x.parse::<u16>().ok());
            Some((it.next()??, it.next()??))
        })
        .unwrap_or((32768, 60999))
}

fn loopback_port_free(p: u16) -> bool {
    std::net::UdpSocket::bind(("127.0.0.1", p)).is_ok()
        && std::net::TcpListener::bind(("127.0.0.1", p)).is_ok()
}

/// The first of `n` consecutive loopback ports, each free for UDP and TCP a moment ago, outside
/// the kernel's ephemeral range (see [`test_port_range`]); successive calls in one process walk
/// the range from a random start.
pub fn free_ports(n: u16) -> u16 {
    static NEXT: AtomicU32 = AtomicU32::new(u32::MAX);
    let (lo, hi) = test_port_range();
    let span = u32::from(hi - lo);
    assert!(n > 0 && u32::from(n) < span, "{n} ports");
    let _ = NEXT.compare_exchange(
        u32::MAX,
        rand::random::<u32>() % span,
        Ordering::Relaxed,
        Ordering::Relaxed,
    );
    for _ in 0..(span / u32::from(n)) {
        let mut off = NEXT.fetch_add(u32::from(n), Ordering::Relaxed) % span;
        if off + u32::from(n) > span {
            off = 0;
        }
        let base = lo + off as u16;
        if (base..base + n).all(loopback_port_free) {
            return base;
        }
    }
    panic!("no {n} consecutive free loopback ports in {lo}..{hi}");
}

/// A loopback port free for UDP and TCP a moment ago, outside the kernel's ephemeral range.
pub fn free_port() -> u16 {
    free_ports(1)
}

/// A UDP port on 127.0.0.1 that was free a moment ago (and free for TCP: see [`free_port`]).
pub fn free_udp_port() -> u16 {
    free_port()
}

/// A TCP port on 127.0.0.1 that was free a moment ago (and free for UDP: see [`free_port`]).
pub fn free_tcp_port() -> u16 {
    free_port()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_ports_are_distinct_bindable_and_outside_the_ephemeral_range() {
        let (lo, hi) = test_port_range();
        let (low, high) = ephemeral_range();
        assert!(hi <= low || lo > high, "{lo}..{hi} overlaps {low}..={high}");
        let mut seen = std::collections::HashSet::new();
        for _ in 0..200 {
            let base = free_ports(3);
            assert!(base >= lo && base + 3 <= hi, "{base} outside {lo}..{hi}");
            for p in base..base + 3 {
                assert!(seen.insert(p), "port {p} handed out twice");
            }
        }
        let p = free_port();
        let _u = std::net::UdpSocket::bind(("127.0.0.1", p)).expect("UDP bind");
        let _t = std::net::TcpListener::bind(("127.0.0.1", p)).expect("TCP bind");
    }
}
