//! SPI and protected-port allocation for the P-CSCF / UE (TS 33.203 §7.1: spi-c, spi-s, port-c,
//! port-s are chosen by each side; they must not collide with SAs in use).

use std::collections::HashSet;

use rand::Rng;

use crate::error::{IpsecError, Result};

/// Hands out unique values from a range: random picks (an SPI should not be predictable), never one
/// that is in use, and a value comes back into the pool only after [`release`](Pool::release).
#[derive(Debug, Clone)]
struct Pool {
    lo: u32,
    hi: u32,
    in_use: HashSet<u32>,
}

impl Pool {
    fn new(lo: u32, hi: u32) -> Result<Self> {
        if lo > hi {
            return Err(IpsecError::BadRange("low end above high end"));
        }
        Ok(Self {
            lo,
            hi,
            in_use: HashSet::new(),
        })
    }

    fn size(&self) -> u64 {
        u64::from(self.hi) - u64::from(self.lo) + 1
    }

    fn allocate(&mut self, what: &'static str) -> Result<u32> {
        if self.in_use.len() as u64 >= self.size() {
            return Err(IpsecError::Exhausted(what));
        }
        let mut rng = rand::thread_rng();
        // Random probing; with the pool at most 15/16 full the expected tries are ≤ 16.
        for _ in 0..64 {
            let v = rng.gen_range(self.lo..=self.hi);
            if self.in_use.insert(v) {
                return Ok(v);
            }
        }
        // Dense pool: scan from a random start.
        let start = rng.gen_range(self.lo..=self.hi);
        let span = self.size();
        for off in 0..span {
            let v = (u64::from(start) - u64::from(self.lo) + off) % span + u64::from(self.lo);
            let v = v as u32;
            if self.in_use.insert(v) {
                return Ok(v);
            }
        }
        Err(IpsecError::Exhausted(what))
    }

    fn reserve(&mut self, v: u32) -> bool {
        self.in_use.insert(v)
    }

    fn release(&mut self, v: u32) -> bool {
        self.in_use.remove(&v)
    }

    fn contains(&self, v: u32) -> bool {
        self.in_use.contains(&v)
    }
}

/// Allocator of local (inbound) SPIs. SPIs 0–255 are reserved (RFC 4303 §2.1) and never handed out.
#[derive(Debug, Clone)]
pub struct SpiAllocator {
    pool: Pool,
}

impl Default for SpiAllocator {
    fn default() -> Self {
        Self {
            pool: Pool {
                lo: 256,
                hi: u32::MAX,
                in_use: HashSet::new(),
            },
        }
    }
}

impl SpiAllocator {
    /// All of 256..=2^32−1.
    pub fn new() -> Self {
        Self::default()
    }

    /// A sub-range (e.g. to give each process its own); `lo` is raised to 256.
    pub fn with_range(lo: u32, hi: u32) -> Result<Self> {
        Ok(Self {
            pool: Pool::new(lo.max(256), hi)?,
        })
    }

    /// A fresh SPI not in use.
    pub fn allocate(&mut self) -> Result<u32> {
        self.pool.allocate("SPI")
    }

    /// Two distinct fresh SPIs (spi-c, spi-s of TS 33.203 §7.1). On failure nothing stays allocated.
    pub fn allocate_pair(&mut self) -> Result<(u32, u32)> {
        let c = self.allocate()?;
        match self.allocate() {
            Ok(s) => Ok((c, s)),
            Err(e) => {
                self.release(c);
                Err(e)
            }
        }
    }

    /// Marks an SPI chosen elsewhere (e.g. restored state) as in use.
    pub fn reserve(&mut self, spi: u32) -> Result<()> {
        crate::esp::check_spi(spi)?;
        if spi < self.pool.lo || spi > self.pool.hi {
            return Err(IpsecError::BadRange("SPI outside the allocator's range"));
        }
        if self.pool.reserve(spi) {
            Ok(())
        } else {
            Err(IpsecError::SpiInUse(spi))
        }
    }

    /// Returns an SPI to the pool once its SA is deleted. False if it was not allocated.
    pub fn release(&mut self, spi: u32) -> bool {
        self.pool.release(spi)
    }

    /// Is the SPI currently allocated?
    pub fn in_use(&self, spi: u32) -> bool {
        self.pool.contains(spi)
    }

    /// Number of SPIs allocated.
    pub fn len(&self) -> usize {
        self.pool.in_use.len()
    }

    /// True when nothing is allocated.
    pub fn is_empty(&self) -> bool {
        self.pool.in_use.is_empty()
    }
}

/// Allocator of protected ports (port-c / port-s) from a configured range.
#[derive(Debug, Clone)]
pub struct PortAllocator {
    pool: Pool,
}

impl PortAllocator {
    /// Ports `lo..=hi` (port 0 is never handed out).
    pub fn new(lo: u16, hi: u16) -> Result<Self> {
        Ok(Self {
            pool: Pool::new(u32::from(lo.max(1)), u32::from(hi))?,
        })
    }

    /// A fresh port not in use.
    pub fn allocate(&mut self) -> Result<u16> {
        // The pool's range is within u16.
        self.pool.allocate("port").map(|p| p as u16)
    }

    /// Two distinct ports (port-c, port-s). On failure nothing stays allocated.
    pub fn allocate_pair(&mut self) -> Result<(u16, u16)> {
        let c = self.allocate()?;
        match self.allocate() {
            Ok(s) => Ok((c, s)),
            Err(e) => {
                self.release(c);
                Err(e)
            }
        }
    }

    /// Marks a port as in use.
    pub fn reserve(&mut self, port: u16) -> Result<()> {
        let p = u32::from(port);
        if p < self.pool.lo || p > self.pool.hi {
            return Err(IpsecError::BadRange("port outside the allocator's range"));
        }
        if self.pool.reserve(p) {
            Ok(())
        } else {
            Err(IpsecError::PortInUse(port))
        }
    }

    /// Returns a port to the pool. False if it was not allocated.
    pub fn release(&mut self, port: u16) -> bool {
        self.pool.release(u32::from(port))
    }

    /// Is the port currently allocated?
    pub fn in_use(&self, port: u16) -> bool {
        self.pool.contains(u32::from(port))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spis_unique_never_reserved_and_recycled_only_after_release() {
        let mut a = SpiAllocator::with_range(0, 300).unwrap();
        let mut seen = HashSet::new();
        for _ in 0..45 {
            let s = a.allocate().unwrap();
            assert!((256..=300).contains(&s), "{s}");
            assert!(seen.insert(s), "duplicate {s}");
        }
        assert_eq!(a.allocate(), Err(IpsecError::Exhausted("SPI")));
        assert_eq!(a.allocate_pair(), Err(IpsecError::Exhausted("SPI")));
        let victim = *seen.iter().next().unwrap();
        assert!(a.release(victim));
        assert!(!a.release(victim), "double release");
        assert_eq!(
            a.allocate().unwrap(),
            victim,
            "only the released SPI can come back"
        );
        assert_eq!(a.reserve(victim), Err(IpsecError::SpiInUse(victim)));
        assert_eq!(a.reserve(5), Err(IpsecError::ReservedSpi(5)));
    }

    #[test]
    fn pair_rollback_and_full_range() {
        let mut a = SpiAllocator::with_range(256, 256).unwrap();
        assert_eq!(a.allocate_pair(), Err(IpsecError::Exhausted("SPI")));
        assert!(a.is_empty(), "failed pair must not leak");
        let mut b = SpiAllocator::new();
        let (c, s) = b.allocate_pair().unwrap();
        assert!(c != s && c >= 256 && s >= 256 && b.in_use(c) && b.in_use(s));
        assert_eq!(b.len(), 2);
        assert!(SpiAllocator::with_range(10, 9).is_err());
    }

    #[test]
    fn ports() {
        let mut p = PortAllocator::new(5100, 5103).unwrap();
        let (c, s) = p.allocate_pair().unwrap();
        let (c2, s2) = p.allocate_pair().unwrap();
        let mut all = vec![c, s, c2, s2];
        all.sort();
        assert_eq!(all, vec![5100, 5101, 5102, 5103]);
        assert_eq!(p.allocate(), Err(IpsecError::Exhausted("port")));
        assert!(p.release(s));
        assert_eq!(p.reserve(s), Ok(()));
        assert_eq!(p.reserve(s), Err(IpsecError::PortInUse(s)));
        assert!(p.reserve(80).is_err());
        assert!(
            PortAllocator::new(0, 0).is_err(),
            "port 0 is never allocatable"
        );
    }
}
