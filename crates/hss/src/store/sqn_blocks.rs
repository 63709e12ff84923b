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

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::AuthData;
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

/// The per-IMPI blocks of one store.
#[derive(Debug)]
pub(crate) struct SqnBlocks {
    pub(crate) config: SqnBlockConfig,
    entries: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Reserved>>>>,
}

impl SqnBlocks {
    pub(crate) fn new(config: SqnBlockConfig) -> Self {
        Self {
            config,
            entries: Mutex::new(HashMap::new()),
        }
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

    /// Drops every block (e.g. after a subscription was deleted).
    pub(crate) fn clear_all(&self) {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}
