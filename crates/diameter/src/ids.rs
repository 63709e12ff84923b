//! Hop-by-Hop and End-to-End identifiers (RFC 6733 §3).

use std::time::{SystemTime, UNIX_EPOCH};

use crate::message::Message;

/// Generator of Hop-by-Hop ids (a counter from a random start) and End-to-End ids (high 12 bits
/// from the low bits of the start time in seconds, low 20 bits a counter starting at a random value,
/// as RFC 6733 §3 suggests).
#[derive(Debug, Clone)]
pub struct Ids {
    hop: u32,
    e2e_high: u32,
    e2e_low: u32,
}

impl Ids {
    /// Seeded generator (the seed randomises the counters; the time gives the e2e high bits).
    pub fn new(seed: u64, now: SystemTime) -> Ids {
        let secs = now
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let mut x = seed ^ 0x9e37_79b9_7f4a_7c15;
        x ^= x >> 33;
        x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
        x ^= x >> 33;
        Ids {
            hop: x as u32,
            e2e_high: ((secs as u32) & 0xfff) << 20,
            e2e_low: ((x >> 32) as u32) & 0xf_ffff,
        }
    }

    /// A fresh Hop-by-Hop id.
    pub fn next_hop_by_hop(&mut self) -> u32 {
        self.hop = self.hop.wrapping_add(1);
        self.hop
    }

    /// A fresh End-to-End id.
    pub fn next_end_to_end(&mut self) -> u32 {
        self.e2e_low = (self.e2e_low + 1) & 0xf_ffff;
        self.e2e_high | self.e2e_low
    }

    /// Give a request a new Hop-by-Hop id and, if it has none, an End-to-End id.
    pub fn stamp(&mut self, m: &mut Message) {
        m.header.hop_by_hop = self.next_hop_by_hop();
        if m.header.end_to_end == 0 {
            m.header.end_to_end = self.next_end_to_end();
        }
    }
}
