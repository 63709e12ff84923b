//! The fast UDP engine of the load generator (`imscore bench` over UDP without security
//! agreement): the same sans-IO [`Ue`] machines as [`super::run`], the same RFC 3261 §17.1.2
//! non-INVITE client transaction (Timer E retransmissions doubling up to T2, Timer F timeout), the
//! same statistics and [`Summary`], but no task or channel per UE.
//!
//! A few worker threads each own a few connected UDP sockets and a slab of UEs. A worker loops:
//! read every queued datagram with `recvmmsg(2)` and route it to its UE by Call-ID (a hash map
//! looked up with the borrowed header bytes), start the UEs whose arrival time has come (open
//! loop: UE `i` arrives at `i / rate`), fire due timers (one entry per UE in a binary heap keyed
//! by the UE's earliest deadline, stale entries skipped by generation), flush the datagrams queued
//! meanwhile with `sendmmsg(2)`, then sleep in `ppoll(2)` until a socket is readable or the next
//! deadline. UE `i` belongs to worker `i mod workers`.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use sip::{Message, Method};

use super::udp_batch::{self, RecvBatch, BATCH};
use super::{LoadConfig, Progress, Stats, Subscriber, Summary, NOT_REGISTERED_AT_END, OVERLOADED};
use crate::driver::TimerConfig;
use crate::error::{Result, UeError};
use crate::register::{Action, Credentials, Event, Flow, TimerId, Ue, UeConfig};

/// Kernel buffer asked for on each socket (capped by `net.core.rmem_max` / `wmem_max`).
const SOCKET_BUFFER: usize = 8 * 1024 * 1024;

/// De-registrations in flight per worker once the run ends: the UEs are stopped through this
/// window rather than all at once, so that the end of a large run is not a burst the peer's socket
/// buffer drops (de-registrations are not measured).
const STOP_WINDOW: usize = 128;

/// Longest single sleep, so that a run whose peer went silent still notices the clock.
const MAX_SLEEP: Duration = Duration::from_millis(50);

/// Engine parameters beyond [`LoadConfig`].
#[derive(Debug, Clone, Copy)]
pub struct EngineConfig {
    /// Worker threads (at least 1).
    pub workers: usize,
}

/// How a UE ended (as in [`crate::driver::Outcome`]).
enum End {
    Deregistered,
    Failed(String),
}

/// A pending non-INVITE client transaction (RFC 3261 §17.1.2).
struct Tx {
    branch: Box<str>,
    method: Method,
    wire: Bytes,
    retransmit_at: Instant,
    interval: Duration,
    deadline: Instant,
}

/// One UE and its transactions and timers.
struct Slot {
    /// The machine (dropped when the UE is done).
    ue: Option<Ue>,
    sock: usize,
    txs: Vec<Tx>,
    timers: Vec<(TimerId, Instant)>,
    /// Generation of the slot's heap entry (older entries are stale).
    gen: u32,
    /// Call-IDs routed to this UE.
    call_ids: Vec<Box<[u8]>>,
    /// When the current registration attempt began.
    began: Option<Instant>,
    ever_registered: bool,
    reregistering: bool,
    deregistering: bool,
    /// Stopped by the end of the run (counted in the stop window until done).
    stopped: bool,
    done: bool,
}

impl Slot {
    fn next_deadline(&self) -> Option<Instant> {
        let t = self.timers.iter().map(|(_, at)| *at).min();
        let x = self
            .txs
            .iter()
            .map(|t| t.retransmit_at.min(t.deadline))
            .min();
        match (t, x) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// The top Via branch (RFC 3261 §17.1.3), scanned rather than parsed: it is read for every
/// datagram sent and received.
fn branch_of(msg: &Message) -> Option<Box<str>> {
    msg.top_via_branch().map(|b| b.as_str().into())
}

/// Counters a worker hands back.
struct WorkerResult {
    stats: Stats,
    started: u64,
    retransmissions: u64,
    stray: u64,
}

struct Worker<'a> {
    cfg: &'a LoadConfig,
    subs: &'a [Subscriber],
    progress: &'a Progress,
    timers: TimerConfig,
    t0: Instant,
    workers: usize,
    socks: Vec<UdpSocket>,
    locals: Vec<SocketAddr>,
    out: Vec<Vec<Bytes>>,
    slots: Vec<Slot>,
    routes: HashMap<Box<[u8]>, u32>,
    /// Validated, not started UEs by (subscriber, socket).
    templates: HashMap<(usize, usize), Ue>,
    heap: BinaryHeap<Reverse<(Instant, u32, u32)>>,
    stats: Stats,
    started: u64,
    active: usize,
    /// Stopped UEs not done yet.
    stopping_now: usize,
    /// Next slot to stop.
    stop_cursor: usize,
    retransmissions: u64,
    stray: u64,
}

impl Worker<'_> {
    /// A fresh UE for subscriber `sub` on socket `sock`: a clone of a template built (and so
    /// validated by [`Ue::new`]) once per subscriber and socket.
    fn new_ue(&mut self, sub: usize, sock: usize) -> Result<Ue> {
        if let Some(t) = self.templates.get(&(sub, sock)) {
            return Ok(t.clone());
        }
        let s = &self.subs[sub];
        let local = self.locals[sock];
        let mut uc = UeConfig::new(
            s.impi.clone(),
            s.impu.clone(),
            s.home_domain().to_string(),
            local.ip().to_string(),
            local.port(),
        );
        uc.pcscf = Some((self.cfg.pcscf.ip().to_string(), self.cfg.pcscf.port()));
        uc.expires = self.cfg.expires;
        uc.reg_event_expires = self.cfg.reg_event.then_some(self.cfg.expires);
        let ue = Ue::new(uc, Credentials::Aka(Box::new(s.isim()?)))?;
        // cached only when subscribers are reused (with one subscriber per UE, as `--demo`
        // gives, a cache would only double the memory)
        if self.subs.len() < self.cfg.ues {
            self.templates.insert((sub, sock), ue.clone());
        }
        Ok(ue)
    }

    /// Starts UE number `i` (global index).
    fn start(&mut self, i: usize, now: Instant) -> Result<()> {
        let sock = (i / self.workers) % self.socks.len();
        let ue = self.new_ue(i % self.subs.len(), sock)?;
        self.started += 1;
        self.active += 1;
        self.progress.started.fetch_add(1, Ordering::Relaxed);
        let id = self.slots.len() as u32;
        self.slots.push(Slot {
            ue: Some(ue),
            sock,
            txs: Vec::with_capacity(2),
            timers: Vec::new(),
            gen: 0,
            call_ids: Vec::new(),
            began: None,
            ever_registered: false,
            reregistering: false,
            deregistering: false,
            stopped: false,
            done: false,
        });
        self.feed(id, Event::Start, now);
        Ok(())
    }

    /// Feeds an event to UE `id`, executes the actions, and re-arms its heap entry.
    fn feed(&mut self, id: u32, ev: Event, now: Instant) {
        let Some(slot) = self.slots.get_mut(id as usize) else {
            return;
        };
        if slot.done {
            return;
        }
        let Some(ue) = slot.ue.as_mut() else { return };
        let actions = ue.handle(ev, now);
        if let Some(end) = self.apply(id, actions, now) {
            self.finish(id, end, now);
        } else {
            self.rearm(id);
        }
    }

    fn rearm(&mut self, id: u32) {
        let Some(slot) = self.slots.get_mut(id as usize) else {
            return;
        };
        slot.gen = slot.gen.wrapping_add(1);
        if let Some(at) = slot.next_deadline() {
            self.heap.push(Reverse((at, id, slot.gen)));
        }
    }

    fn route(&mut self, id: u32, msg: &Message) {
        let Ok(cid) = msg.call_id() else { return };
        if self.routes.contains_key(cid.as_bytes()) {
            return;
        }
        let key: Box<[u8]> = cid.as_bytes().into();
        self.routes.insert(key.clone(), id);
        if let Some(slot) = self.slots.get_mut(id as usize) {
            slot.call_ids.push(key);
        }
    }

    /// Executes actions as the driver does (crate::driver), returning the end when the UE is done.
    fn apply(&mut self, id: u32, actions: Vec<Action>, now: Instant) -> Option<End> {
        let mut done = None;
        for a in actions {
            match a {
                Action::Send { msg, flow } => {
                    if flow == Flow::Protected {
                        return Some(End::Failed(
                            "security agreement is not supported by the UDP engine".into(),
                        ));
                    }
                    self.route(id, &msg);
                    let bytes = msg.wire();
                    let slot = self.slots.get_mut(id as usize)?;
                    if let Some(method) = msg.method() {
                        if method == Method::Register {
                            let dereg = msg.expires().ok().flatten() == Some(0);
                            if dereg && !slot.deregistering {
                                slot.deregistering = true;
                            } else if msg.cseq().map(|c| c.seq).unwrap_or(0) == 1 {
                                slot.began = Some(now);
                            }
                        }
                        let t1 = self.timers.t1;
                        slot.txs.retain(|t| t.method != method);
                        slot.txs.push(Tx {
                            branch: branch_of(&msg).unwrap_or_default(),
                            method,
                            wire: bytes.clone(),
                            retransmit_at: now + t1,
                            interval: t1,
                            deadline: now + self.timers.timer_f(),
                        });
                    }
                    self.out[slot.sock].push(bytes);
                }
                Action::ArmTimer { id: t, at } => {
                    let slot = self.slots.get_mut(id as usize)?;
                    slot.timers.retain(|(x, _)| *x != t);
                    slot.timers.push((t, at));
                }
                Action::CancelTimer(t) => {
                    let slot = self.slots.get_mut(id as usize)?;
                    slot.timers.retain(|(x, _)| *x != t);
                }
                Action::SetupSecurity(_) => {
                    return Some(End::Failed(
                        "security agreement is not supported by the UDP engine".into(),
                    ));
                }
                Action::ReleaseSecurity | Action::SaveSqnState(_) => {}
                Action::Registered { .. } => {
                    let slot = self.slots.get_mut(id as usize)?;
                    let initial = !slot.reregistering;
                    slot.reregistering = false;
                    slot.ever_registered = true;
                    let us = slot
                        .began
                        .take()
                        .map(|b| now.saturating_duration_since(b).as_micros() as u64)
                        .unwrap_or(0)
                        .max(1);
                    if initial {
                        self.progress.registered.fetch_add(1, Ordering::Relaxed);
                    }
                    self.stats.registered(self.t0, now, initial, us);
                }
                Action::Failed { reason } => done = Some(End::Failed(reason)),
                Action::Deregistered => done = Some(End::Deregistered),
            }
        }
        done
    }

    /// Ends UE `id`: statistics as [`super::run`] keeps them, routes dropped.
    fn finish(&mut self, id: u32, end: End, now: Instant) {
        let Some(slot) = self.slots.get_mut(id as usize) else {
            return;
        };
        if slot.done {
            return;
        }
        slot.done = true;
        slot.ue = None;
        if slot.stopped {
            self.stopping_now -= 1;
        }
        slot.txs = Vec::new();
        slot.timers = Vec::new();
        slot.gen = slot.gen.wrapping_add(1);
        let ever = slot.ever_registered;
        for cid in std::mem::take(&mut slot.call_ids) {
            self.routes.remove(&cid);
        }
        self.active -= 1;
        self.progress.finished.fetch_add(1, Ordering::Relaxed);
        match end {
            End::Deregistered if ever => self.stats.deregistered += 1,
            End::Deregistered => {
                self.progress.failed.fetch_add(1, Ordering::Relaxed);
                self.stats
                    .failed(self.t0, now, NOT_REGISTERED_AT_END.into());
            }
            End::Failed(reason) => {
                self.progress.failed.fetch_add(1, Ordering::Relaxed);
                self.stats.failed(self.t0, now, reason);
            }
        }
    }

    /// One received datagram.
    fn on_datagram(&mut self, data: &[u8], now: Instant) {
        let Ok(msg) = Message::parse(Bytes::copy_from_slice(data)) else {
            self.stray += 1;
            return;
        };
        let id = match msg.call_id() {
            Ok(cid) => self.routes.get(cid.as_bytes()).copied(),
            Err(_) => None,
        };
        let Some(id) = id else {
            self.stray += 1;
            return;
        };
        if msg.is_request() {
            self.feed(id, Event::Request(msg), now);
            return;
        }
        let (Some(code), Ok(cseq)) = (msg.status(), msg.cseq()) else {
            self.stray += 1;
            return;
        };
        let branch = branch_of(&msg);
        let t2 = self.timers.t2;
        let Some(slot) = self.slots.get_mut(id as usize) else {
            return;
        };
        // RFC 3261 §17.1.3: match on the top Via branch and the CSeq method
        let Some(i) = slot
            .txs
            .iter()
            .position(|t| Some(&t.branch) == branch.as_ref() && t.method == cseq.method)
        else {
            self.stray += 1;
            return;
        };
        if code < 200 {
            // Proceeding: retransmit at T2 (§17.1.2.2)
            if let Some(tx) = slot.txs.get_mut(i) {
                tx.interval = t2;
                tx.retransmit_at = now + t2;
            }
            self.rearm(id);
            return;
        }
        slot.txs.remove(i);
        self.feed(id, Event::Response(msg), now);
    }

    /// UE `id`'s earliest deadline passed: its timers, retransmissions and timeouts.
    fn on_deadline(&mut self, id: u32, now: Instant) {
        let t2 = self.timers.t2;
        let Some(slot) = self.slots.get_mut(id as usize) else {
            return;
        };
        if slot.done {
            return;
        }
        let mut due = Vec::new();
        slot.timers.retain(|(t, at)| {
            if *at <= now {
                due.push(*t);
                false
            } else {
                true
            }
        });
        let mut timed_out = Vec::new();
        let mut resent = 0u64;
        let sock = slot.sock;
        for t in &mut slot.txs {
            if t.deadline <= now {
                timed_out.push(t.method.clone());
            } else if t.retransmit_at <= now {
                // Timer E doubles up to T2
                t.interval = (t.interval * 2).min(t2);
                t.retransmit_at = now + t.interval;
                self.out[sock].push(t.wire.clone());
                resent += 1;
            }
        }
        slot.txs.retain(|t| t.deadline > now);
        if resent > 0 {
            self.retransmissions += resent;
            self.progress
                .retransmissions
                .fetch_add(resent, Ordering::Relaxed);
        }
        for t in due {
            if t == TimerId::Reregister {
                if let Some(slot) = self.slots.get_mut(id as usize) {
                    slot.reregistering = true;
                    slot.began = Some(now);
                }
            }
            self.feed(id, Event::TimerFired(t), now);
        }
        for m in timed_out {
            self.feed(id, Event::Timeout(m), now);
        }
        self.rearm(id);
    }

    fn flush(&mut self) {
        for (sock, out) in self.socks.iter().zip(self.out.iter_mut()) {
            if !out.is_empty() {
                // datagrams the kernel refused count as lost; Timer E resends them
                udp_batch::send_batch(sock, out);
                out.clear();
            }
        }
    }

    /// Drains the sockets; returns the datagrams read.
    fn receive(&mut self, rb: &mut RecvBatch) -> usize {
        let mut total = 0;
        for s in 0..self.socks.len() {
            // bounded: at most 16 batches per socket before timers and sends get a turn
            for _ in 0..16 {
                // a socket error other than "nothing queued" reads as an empty batch
                let n = rb.recv(&self.socks[s]).unwrap_or_default();
                if n == 0 {
                    break;
                }
                let now = Instant::now();
                for i in 0..n {
                    self.on_datagram(rb.get(i), now);
                }
                total += n;
                if n < BATCH {
                    break;
                }
            }
        }
        total
    }

    /// Stops UEs (de-registers them) while fewer than [`STOP_WINDOW`] are in flight.
    fn stop_some(&mut self, now: Instant) {
        while self.stop_cursor < self.slots.len() && self.stopping_now < STOP_WINDOW {
            let id = self.stop_cursor as u32;
            self.stop_cursor += 1;
            let Some(slot) = self.slots.get_mut(id as usize) else {
                continue;
            };
            if slot.done {
                continue;
            }
            slot.stopped = true;
            self.stopping_now += 1;
            self.feed(id, Event::Stop, now);
        }
    }

    fn fire_timers(&mut self, now: Instant) {
        while let Some(Reverse((at, id, gen))) = self.heap.peek().copied() {
            if at > now {
                break;
            }
            self.heap.pop();
            let live = self
                .slots
                .get(id as usize)
                .is_some_and(|s| !s.done && s.gen == gen);
            if live {
                self.on_deadline(id, now);
            }
        }
    }
}

/// Runs the load like [`super::run`], on `engine.workers` threads with batched UDP I/O. Blocks
/// until every UE is done.
pub fn run(
    cfg: &LoadConfig,
    subscribers: &[Subscriber],
    progress: Arc<Progress>,
    engine: EngineConfig,
) -> Result<Summary> {
    if subscribers.is_empty() {
        return Err(UeError::Subscribers("no subscribers".into()));
    }
    if cfg.rate.is_nan() || cfg.rate <= 0.0 {
        return Err(UeError::Config("rate must be positive".into()));
    }
    for s in subscribers {
        s.isim()?;
    }
    let workers = engine.workers.max(1);
    let nsock = cfg.sockets.max(workers);
    let local_ip = crate::driver::local_ip_for(cfg.pcscf);
    let mut per_worker: Vec<Vec<UdpSocket>> = (0..workers).map(|_| Vec::new()).collect();
    for j in 0..nsock {
        let s = udp_batch::connected_socket(SocketAddr::new(local_ip, 0), cfg.pcscf, SOCKET_BUFFER)
            .map_err(|e| UeError::Transport(format!("UDP socket towards {}: {e}", cfg.pcscf)))?;
        per_worker[j % workers].push(s);
    }
    let t0 = Instant::now();
    let results: Vec<Result<WorkerResult>> = std::thread::scope(|scope| {
        let handles: Vec<_> = per_worker
            .into_iter()
            .enumerate()
            .map(|(w, socks)| {
                let progress = &*progress;
                scope.spawn(move || run_worker(cfg, subscribers, progress, socks, w, workers, t0))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(UeError::Config("load worker panicked".into())))
            })
            .collect()
    });
    let elapsed = t0.elapsed().as_secs_f64();
    let mut stats = Stats::new();
    let (mut started, mut retrans, mut stray) = (0, 0, 0);
    for r in results {
        let r = r?;
        stats.merge(&r.stats);
        started += r.started;
        retrans += r.retransmissions;
        stray += r.stray;
    }
    Ok(super::summarise(
        cfg, &stats, t0, started, elapsed, retrans, stray,
    ))
}

fn run_worker(
    cfg: &LoadConfig,
    subs: &[Subscriber],
    progress: &Progress,
    socks: Vec<UdpSocket>,
    w: usize,
    workers: usize,
    t0: Instant,
) -> Result<WorkerResult> {
    let locals = socks
        .iter()
        .map(|s| s.local_addr())
        .collect::<std::io::Result<Vec<_>>>()
        .map_err(|e| UeError::Transport(format!("UDP socket: {e}")))?;
    let arrivals = (cfg.duration.as_secs_f64() * cfg.rate)
        .ceil()
        .min(cfg.ues as f64) as usize;
    let expected = arrivals.div_ceil(workers).min(1 << 24);
    let mut wk = Worker {
        cfg,
        subs,
        progress,
        timers: cfg.timers,
        t0,
        workers,
        out: socks.iter().map(|_| Vec::with_capacity(BATCH)).collect(),
        socks,
        locals,
        // the UEs this worker will start, so the slab and the routes never move while growing
        slots: Vec::with_capacity(expected),
        routes: HashMap::with_capacity(expected),
        templates: HashMap::new(),
        heap: BinaryHeap::new(),
        stats: Stats::new(),
        started: 0,
        active: 0,
        stopping_now: 0,
        stop_cursor: 0,
        retransmissions: 0,
        stray: 0,
    };
    let end = t0 + cfg.duration;
    let arrival = |i: usize| t0 + Duration::from_secs_f64(i as f64 / cfg.rate);
    let mut next = w; // next UE index of this worker
    let mut stopping = false;
    let mut rb = RecvBatch::default();
    loop {
        let got = wk.receive(&mut rb);
        let mut now = Instant::now();
        if !stopping {
            // open loop: every UE whose arrival time has come starts now (bounded per round so
            // that replies keep being read)
            let mut n = 0;
            while next < cfg.ues && arrival(next) <= now && arrival(next) < end && n < 4 * BATCH {
                wk.start(next, now)?;
                next += workers;
                n += 1;
            }
            wk.flush();
        }
        now = Instant::now();
        wk.fire_timers(now);
        if !stopping && now >= end {
            stopping = true;
            // arrivals that were due but not started: the generator fell behind
            while next < cfg.ues && arrival(next) < end {
                wk.started += 1;
                progress.started.fetch_add(1, Ordering::Relaxed);
                progress.failed.fetch_add(1, Ordering::Relaxed);
                progress.finished.fetch_add(1, Ordering::Relaxed);
                wk.stats.failed(t0, now, OVERLOADED.into());
                next += workers;
            }
        }
        if stopping {
            wk.stop_some(now);
        }
        wk.flush();
        if stopping && wk.active == 0 {
            break;
        }
        if got > 0 {
            continue;
        }
        // sleep until a datagram, the next timer, the next arrival or the end
        let mut wake = wk.heap.peek().map(|Reverse((at, _, _))| *at);
        if !stopping {
            let a = if next < cfg.ues {
                arrival(next).min(end)
            } else {
                end
            };
            wake = Some(wake.map_or(a, |x| x.min(a)));
        }
        let now = Instant::now();
        let timeout = wake
            .map(|at| at.saturating_duration_since(now))
            .unwrap_or(MAX_SLEEP)
            .min(MAX_SLEEP);
        if !timeout.is_zero() {
            udp_batch::wait_readable(&wk.socks, Some(timeout));
        }
    }
    Ok(WorkerResult {
        stats: wk.stats,
        started: wk.started,
        retransmissions: wk.retransmissions,
        stray: wk.stray,
    })
}
