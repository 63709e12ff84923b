//! Anti-replay sliding window (RFC 4303 §3.4.3 and Appendix A2, 32-bit sequence numbers).
//!
//! The receiver keeps `top` (the highest sequence number authenticated so far) and a bitmap of the
//! [`WINDOW`] numbers ending at `top`. [`ReplayWindow::check`] runs before the ICV check (cheap
//! rejection of duplicates); [`ReplayWindow::update`] runs only after the ICV verified, so a forged
//! packet can never move the window.

use crate::error::{IpsecError, Result};

/// Window size in packets (RFC 4303 §3.4.3: at least 32, 64 recommended).
pub const WINDOW: u32 = 128;

/// The sliding window of one inbound SA.
#[derive(Debug, Clone, Default)]
pub struct ReplayWindow {
    /// Highest sequence number accepted so far (0 = none yet).
    top: u32,
    /// Bit `i` set = sequence number `top - i` was accepted.
    bitmap: u128,
}

impl ReplayWindow {
    /// A fresh window (nothing received).
    pub fn new() -> Self {
        Self::default()
    }

    /// Highest sequence number accepted so far (0 if none).
    pub fn top(&self) -> u32 {
        self.top
    }

    /// Would `seq` be accepted? Does not change the window.
    pub fn check(&self, spi: u32, seq: u32) -> Result<()> {
        let replay = Err(IpsecError::Replay { spi, seq });
        if seq == 0 {
            // The first packet of an SA carries 1 (RFC 4303 §3.3.3); 0 is never sent.
            return replay;
        }
        if seq > self.top {
            return Ok(());
        }
        let diff = self.top - seq;
        if diff >= WINDOW {
            return replay; // left of the window
        }
        if self.bitmap & (1u128 << diff) != 0 {
            return replay; // duplicate
        }
        Ok(())
    }

    /// Marks `seq` as received. Call only after [`check`](Self::check) succeeded and the ICV
    /// verified; checks again so a misuse cannot accept a duplicate.
    pub fn update(&mut self, spi: u32, seq: u32) -> Result<()> {
        self.check(spi, seq)?;
        if seq > self.top {
            let shift = seq - self.top;
            self.bitmap = if shift >= WINDOW {
                1
            } else {
                (self.bitmap << shift) | 1
            };
            self.top = seq;
        } else {
            self.bitmap |= 1u128 << (self.top - seq);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(w: &mut ReplayWindow, seq: u32) -> bool {
        w.check(1, seq).is_ok() && w.update(1, seq).is_ok()
    }

    #[test]
    fn in_order_then_duplicates() {
        let mut w = ReplayWindow::new();
        assert!(!accept(&mut w, 0), "sequence number 0 is never valid");
        for s in 1..=300 {
            assert!(accept(&mut w, s), "{s}");
            assert!(!accept(&mut w, s), "duplicate {s}");
        }
        assert_eq!(w.top(), 300);
    }

    #[test]
    fn out_of_order_within_window() {
        let mut w = ReplayWindow::new();
        assert!(accept(&mut w, 200));
        // Everything in (200-128, 200) is still acceptable once.
        for s in (73..200).rev() {
            assert!(accept(&mut w, s), "{s}");
        }
        for s in 73..=200 {
            assert!(!accept(&mut w, s), "dup {s}");
        }
        // 72 = top - 128: left of the window.
        assert_eq!(w.check(9, 72), Err(IpsecError::Replay { spi: 9, seq: 72 }));
        assert!(!accept(&mut w, 1));
    }

    #[test]
    fn big_jump_resets_bitmap() {
        let mut w = ReplayWindow::new();
        assert!(accept(&mut w, 5));
        assert!(accept(&mut w, 5 + WINDOW + 10));
        assert!(!accept(&mut w, 5), "left of window now");
        assert!(accept(&mut w, 5 + 11), "inside window, never seen");
        assert!(accept(&mut w, u32::MAX));
        assert!(!accept(&mut w, u32::MAX));
        assert!(accept(&mut w, u32::MAX - 1));
    }

    #[test]
    fn check_does_not_move_window() {
        let mut w = ReplayWindow::new();
        assert!(w.check(1, 1000).is_ok());
        assert_eq!(w.top(), 0);
        assert!(accept(&mut w, 3));
        assert!(accept(&mut w, 1));
    }
}
