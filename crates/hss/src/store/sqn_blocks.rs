//! SQN block reservation (TS 33.102 Annex C.3 leaves the HE free in how it allocates SEQ): instead
//! of one database commit per MAR, the store reserves a block of consecutive SQNs for an IMPI with
//! ONE atomic allocation in the database (the persisted SEQ becomes the block's high-water mark)
//! and hands them out from memory.
//!
//! Guarantees:
//! - The reservation is committed (durable) before any SQN of the block is handed out, so after a
//!   restart the next block starts above everything handed out before: SQNs may be skipped, never
//!   reused.
//! - Two processes on one database reserve disjoint blocks (the allocation is atomic in the
//!   database), so they never hand out the same SQN.
//! - Within this process, each IMPI's SQNs are handed out in increasing order (one lock per IMPI,
//!   held while a new block is reserved).
//! - A resynchronisation or a provisioning change made through this process drops the IMPI's
//!   remaining block and cached credentials; changes made by another process are picked up when
//!   the block expires (`ttl`).
//!
//! With blocks on, the store also keeps the MAR/UAR context ([`super::AuthContext`]) of
//! associated IMPI/IMPU pairs for at most `ttl`, so a MAR served from a block needs no database
//! round trip at all. Every write made through the store empties that cache (a generation counter
//! keeps a read that raced with the write from putting the old value back); writes made by another
//! process are seen after at most `ttl`, as for the credentials.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{AuthContext, AuthData};
use crate::model::Impi;

/// How a [`super::SqlStore`] reserves SQN blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SqnBlockConfig {
    /// SQNs reserved per database commit (1..=1024, `MAX_SQN_BATCH`).
    pub block: u32,
    /// Longest time a reserved block and the credentials read with it are used; after that the
    /// rest of the block is skipped and credentials are read again (bounds how long a change made
    /// by another process goes unseen).
    pub ttl: Duration,
}

impl Default for SqnBlockConfig {
    fn default() -> Self {
        Self {
            block: 64,
            ttl: Duration::from_secs(5),
        }
    }
}

/// The unused part of a reserved block for one IMPI, with the credentials read with it.
#[derive(Debug, Default)]
pub(crate) struct Reserved {
    pub(crate) auth: Option<AuthData>,
    pub(crate) sqns: VecDeque<u64>,
    pub(crate) reserved_at: Option<Instant>,
}

impl Reserved {
    /// Takes `n` SQNs if the block is fresh and holds that many.
    pub(crate) fn take(&mut self, n: u32, ttl: Duration) -> Option<(AuthData, Vec<u64>)> {
        let fresh = self.reserved_at.is_some_and(|t| t.elapsed() <= ttl);
        if !fresh || self.sqns.len() < n as usize {
            return None;
        }
        let auth = self.auth.clone()?;
        Some((auth, self.sqns.drain(..n as usize).collect()))
    }

    /// Forgets the block (its SQNs are skipped) and the credentials.
    pub(crate) fn clear(&mut self) {
        self.auth = None;
        self.sqns.clear();
        self.reserved_at = None;
    }
}

/// Most IMPIs with a block in memory; beyond it the cache is emptied (the blocks are skipped).
const MAX_ENTRIES: usize = 100_000;

/// Cached contexts of associated (IMPI, IMPU) pairs, with the time they were read.
#[derive(Debug, Default)]
struct Contexts {
    /// Bumped by every write through the store.
    generation: u64,
    map: HashMap<(String, String), (AuthContext, Instant)>,
}

/// The per-IMPI blocks of one store.
#[derive(Debug)]
pub(crate) struct SqnBlocks {
    pub(crate) config: SqnBlockConfig,
    entries: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Reserved>>>>,
    contexts: Mutex<Contexts>,
}

impl SqnBlocks {
    pub(crate) fn new(config: SqnBlockConfig) -> Self {
        Self {
            config,
            entries: Mutex::new(HashMap::new()),
            contexts: Mutex::new(Contexts::default()),
        }
    }

    fn contexts(&self) -> std::sync::MutexGuard<'_, Contexts> {
        self.contexts.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A cached context younger than `ttl`, and the generation to pass to
    /// [`SqnBlocks::put_context`] after reading it from the database on a miss.
    pub(crate) fn context(&self, impi: &str, impu: &str) -> (Option<AuthContext>, u64) {
        let c = self.contexts();
        let hit = c
            .map
            .get(&(impi.to_string(), impu.to_string()))
            .filter(|(_, at)| at.elapsed() <= self.config.ttl)
            .map(|(ctx, _)| ctx.clone());
        (hit, c.generation)
    }

    /// Caches a context read at `generation`, unless a write happened since.
    pub(crate) fn put_context(&self, generation: u64, impi: &str, impu: &str, ctx: &AuthContext) {
        let mut c = self.contexts();
        if c.generation != generation {
            return;
        }
        if c.map.len() >= MAX_ENTRIES {
            c.map.clear();
        }
        c.map.insert(
            (impi.to_string(), impu.to_string()),
            (ctx.clone(), Instant::now()),
        );
    }

    /// Forgets every cached context (after a write through the store).
    pub(crate) fn invalidate_contexts(&self) {
        let mut c = self.contexts();
        c.generation = c.generation.wrapping_add(1);
        c.map.clear();
    }

    /// The (possibly new, empty) entry of an IMPI; lock it before using or changing its block.
    pub(crate) fn entry(&self, impi: &Impi) -> Arc<tokio::sync::Mutex<Reserved>> {
        let mut map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(e) = map.get(impi.as_str()) {
            return e.clone();
        }
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
        map.entry(impi.as_str().to_string()).or_default().clone()
    }

    /// Drops every block and cached context (e.g. after a subscription was deleted).
    pub(crate) fn clear_all(&self) {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        self.invalidate_contexts();
    }
}
