//! Realm-based routing (RFC 6733 §6.1) and the table of pending requests matched to answers by
//! Hop-by-Hop id (§6.2), with per-request deadlines and failover bookkeeping (§5.5.4).

use std::collections::{BTreeSet, HashMap};
use std::time::Instant;

use crate::message::Message;

/// One routing entry: requests for `realm` go to the first usable of `peers`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Destination-Realm (compared case-insensitively).
    pub realm: String,
    /// Peer Origin-Hosts in preference order.
    pub peers: Vec<String>,
}

/// Destination-Realm → peers, plus an optional default route.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouteTable {
    routes: Vec<Route>,
    default: Vec<String>,
}

impl RouteTable {
    /// A table from routes and a default route (may be empty).
    pub fn new(routes: Vec<Route>, default: Vec<String>) -> Self {
        RouteTable { routes, default }
    }

    /// Candidate peer hosts for a request, in preference order: Destination-Host itself, then the
    /// realm's route, then the default route. Duplicates removed.
    pub fn candidates<'a>(
        &'a self,
        dest_host: Option<&'a str>,
        dest_realm: Option<&str>,
    ) -> Vec<&'a str> {
        let mut out: Vec<&str> = Vec::new();
        if let Some(h) = dest_host {
            out.push(h);
        }
        if let Some(realm) = dest_realm {
            for r in self
                .routes
                .iter()
                .filter(|r| r.realm.eq_ignore_ascii_case(realm))
            {
                out.extend(r.peers.iter().map(String::as_str));
            }
        }
        out.extend(self.default.iter().map(String::as_str));
        let mut seen = Vec::new();
        out.retain(|h| {
            let dup = seen.iter().any(|s: &&str| s.eq_ignore_ascii_case(h));
            seen.push(*h);
            !dup
        });
        out
    }
}

/// Caller-chosen id of a local request (to hand back its answer).
pub type RequestId = u64;

/// A request waiting for its answer.
#[derive(Debug, Clone)]
pub struct Pending {
    /// The caller's id.
    pub id: RequestId,
    /// The request as sent (kept for failover retransmission).
    pub request: Message,
    /// Index of the peer it was sent to.
    pub peer: usize,
    /// Peers already tried.
    pub tried: Vec<usize>,
    /// When it times out.
    pub deadline: Instant,
}

/// Pending requests keyed by Hop-by-Hop id, with a deadline index.
#[derive(Debug, Default)]
pub struct PendingTable {
    by_hbh: HashMap<u32, Pending>,
    deadlines: BTreeSet<(Instant, u32)>,
}

impl PendingTable {
    /// Track a sent request.
    pub fn insert(&mut self, hbh: u32, p: Pending) {
        self.deadlines.insert((p.deadline, hbh));
        if let Some(old) = self.by_hbh.insert(hbh, p) {
            self.deadlines.remove(&(old.deadline, hbh));
        }
    }
    /// Remove by Hop-by-Hop id (an answer arrived).
    pub fn remove(&mut self, hbh: u32) -> Option<Pending> {
        let p = self.by_hbh.remove(&hbh)?;
        self.deadlines.remove(&(p.deadline, hbh));
        Some(p)
    }
    /// Peer a pending request went to.
    pub fn peer_of(&self, hbh: u32) -> Option<usize> {
        self.by_hbh.get(&hbh).map(|p| p.peer)
    }
    /// Hop-by-Hop ids of requests pending on `peer`.
    pub fn on_peer(&self, peer: usize) -> Vec<u32> {
        let mut v: Vec<u32> = self
            .by_hbh
            .iter()
            .filter(|(_, p)| p.peer == peer)
            .map(|(h, _)| *h)
            .collect();
        v.sort_unstable();
        v
    }
    /// Earliest deadline.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.first().map(|(t, _)| *t)
    }
    /// Remove and return every request whose deadline is at or before `now`.
    pub fn expired(&mut self, now: Instant) -> Vec<Pending> {
        let mut out = Vec::new();
        while let Some(&(t, hbh)) = self.deadlines.first() {
            if t > now {
                break;
            }
            self.deadlines.remove(&(t, hbh));
            if let Some(p) = self.by_hbh.remove(&hbh) {
                out.push(p);
            }
        }
        out
    }
    /// Number of pending requests.
    pub fn len(&self) -> usize {
        self.by_hbh.len()
    }
    /// Whether nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.by_hbh.is_empty()
    }
}
