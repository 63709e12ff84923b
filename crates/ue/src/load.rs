//! The load generator behind `imscore bench`: many simulated UEs in one process, started
//! open-loop at a fixed rate (UE `i` starts at `i / rate` whatever the server does, so a slow
//! server shows as latency and failures, not as a slower client), each registering with IMS-AKA
//! (TS 24.229 §5.1.1.2), re-registering on the TS 24.229 §5.1.1.4.1 schedule, and de-registering
//! when the run ends.
//!
//! Per-registration latency (first REGISTER sent → 200 OK received, challenge included) goes into
//! an HDR histogram; failures are counted by cause; a per-second timeline feeds the plot.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Serialize;
use tokio::sync::watch;

use crate::driver::{
    self, Outcome, Report, RunOptions, Security, SharedUdp, TimerConfig, TransportKind, Wire,
};
use crate::error::{Result, UeError};
use crate::ipsec::{IpsecUe, UeDatapath};
use crate::isim::Isim;
use crate::register::{Credentials, Ue, UeConfig};
use crate::tls::TlsClient;

pub mod engine;
pub mod udp_batch;

/// Failure cause of a UE that was registered at no time before the run ended.
const NOT_REGISTERED_AT_END: &str = "not registered when the run ended";
/// Failure cause of a UE whose arrival time passed but that the generator could not start
/// before the run ended.
const OVERLOADED: &str = "generator overloaded: UE not started before the run ended";

/// One subscriber to simulate.
#[derive(Clone)]
pub struct Subscriber {
    /// Private identity.
    pub impi: String,
    /// Public identity (SIP URI).
    pub impu: String,
    /// K, hex.
    pub k: String,
    /// OP, hex (exclusive with `opc`).
    pub op: Option<String>,
    /// OPc, hex.
    pub opc: Option<String>,
    /// AMF, hex (default 8000).
    pub amf: Option<String>,
}

impl std::fmt::Debug for Subscriber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscriber")
            .field("impi", &self.impi)
            .field("impu", &self.impu)
            .finish_non_exhaustive()
    }
}

impl Subscriber {
    /// The home domain: the realm part of the IMPI (TS 23.003 §13.3).
    pub fn home_domain(&self) -> &str {
        self.impi
            .rsplit_once('@')
            .map(|(_, d)| d)
            .unwrap_or(&self.impi)
    }

    /// Its ISIM (keys checked).
    pub fn isim(&self) -> Result<Isim> {
        Isim::from_hex(
            &self.k,
            self.op.as_deref(),
            self.opc.as_deref(),
            self.amf.as_deref(),
        )
    }
}

/// Parses a subscriber CSV in the format of `imscore subscriber import`: a header line naming the
/// columns (any order; `impi`, `impus`, `k` and one of `op`/`opc` are needed, `amf` is optional,
/// other columns are ignored), `impus` holding `;`-separated IMPUs of which the first is used.
pub fn parse_subscribers_csv(text: &str) -> Result<Vec<Subscriber>> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'));
    let Some((_, header)) = lines.next() else {
        return Err(UeError::Subscribers("empty file".into()));
    };
    let cols: Vec<String> = header
        .split(',')
        .map(|c| c.trim().to_ascii_lowercase())
        .collect();
    let col = |name: &str| cols.iter().position(|c| c == name);
    let (Some(ci), Some(cu), Some(ck)) = (col("impi"), col("impus").or(col("impu")), col("k"))
    else {
        return Err(UeError::Subscribers(
            "CSV header needs impi, impus and k columns".into(),
        ));
    };
    let (cop, copc, camf) = (col("op"), col("opc"), col("amf"));
    if cop.is_none() && copc.is_none() {
        return Err(UeError::Subscribers(
            "CSV header needs an op or opc column".into(),
        ));
    }
    let mut out = Vec::new();
    for (n, line) in lines {
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        let get = |i: Option<usize>| {
            i.and_then(|i| f.get(i))
                .filter(|s| !s.is_empty())
                .map(|s| s.to_string())
        };
        let (Some(impi), Some(impus), Some(k)) = (get(Some(ci)), get(Some(cu)), get(Some(ck)))
        else {
            return Err(UeError::Subscribers(format!(
                "line {}: impi, impus and k are required",
                n + 1
            )));
        };
        let impu = impus.split(';').next().unwrap_or("").trim().to_string();
        let s = Subscriber {
            impi,
            impu,
            k,
            op: get(cop),
            opc: get(copc),
            amf: get(camf),
        };
        s.isim()
            .map_err(|e| UeError::Subscribers(format!("line {}: {e}", n + 1)))?;
        out.push(s);
    }
    if out.is_empty() {
        return Err(UeError::Subscribers("no subscribers".into()));
    }
    Ok(out)
}

/// Parameters of a load run.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// The P-CSCF (UDP).
    pub pcscf: SocketAddr,
    /// UEs to start (subscribers are reused round-robin if fewer).
    pub ues: usize,
    /// Arrivals per second.
    pub rate: f64,
    /// Time from the first arrival to the de-registration of every UE.
    pub duration: Duration,
    /// Expires asked for in REGISTER.
    pub expires: u32,
    /// Subscribe to the reg event after registering.
    pub reg_event: bool,
    /// UDP sockets shared by the UEs.
    pub sockets: usize,
    /// RFC 3261 timers.
    pub timers: TimerConfig,
    /// Security agreement of every UE.
    pub security: LoadSecurity,
}

/// Security agreement in a load run (RFC 3329; see [`Security`]).
#[derive(Debug, Clone, Default)]
pub enum LoadSecurity {
    /// None.
    #[default]
    None,
    /// "TLS during registration": each UE opens its own TLS connection to `pcscf`.
    Tls {
        /// The P-CSCF's TLS listener.
        pcscf: SocketAddr,
        /// Certificate checks.
        client: TlsClient,
    },
    /// ipsec-3gpp: all UEs share one datapath (one TUN); each has its own SPIs and ports.
    Ipsec {
        /// The process's datapath.
        datapath: UeDatapath,
        /// Integrity algorithms offered (empty: all).
        algs: Vec<String>,
        /// Encryption algorithms offered (empty: all).
        ealgs: Vec<String>,
    },
}

/// One second of the run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Second {
    /// Seconds since the start.
    pub t: u64,
    /// Registrations (initial and re-) completed in this second.
    pub registered: u64,
    /// UEs that failed in this second.
    pub failed: u64,
    /// Mean registration latency of this second (ms).
    pub mean_ms: f64,
    /// Largest registration latency of this second (ms).
    pub max_ms: f64,
    #[serde(skip)]
    sum_us: u64,
}

/// Latency percentiles (milliseconds).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Latency {
    /// Samples.
    pub count: u64,
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Largest.
    pub max_ms: f64,
    /// Mean.
    pub mean_ms: f64,
}

fn latency(h: &Histogram<u64>) -> Latency {
    let ms = |us: u64| us as f64 / 1000.0;
    if h.is_empty() {
        return Latency::default();
    }
    Latency {
        count: h.len(),
        p50_ms: ms(h.value_at_quantile(0.50)),
        p90_ms: ms(h.value_at_quantile(0.90)),
        p99_ms: ms(h.value_at_quantile(0.99)),
        max_ms: ms(h.max()),
        mean_ms: h.mean() / 1000.0,
    }
}

/// The result of a load run (the JSON summary of `imscore bench`).
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// UEs started.
    pub ues_started: u64,
    /// Offered arrival rate (per second).
    pub rate: f64,
    /// Seconds from the first arrival to the last UE done.
    pub elapsed_s: f64,
    /// Initial registrations that succeeded.
    pub registered: u64,
    /// Successful initial registrations per second, from the first arrival to the last initial
    /// registration.
    pub registrations_per_s: f64,
    /// Re-registrations that succeeded.
    pub reregistered: u64,
    /// De-registrations that succeeded.
    pub deregistered: u64,
    /// Failed UEs.
    pub failed: u64,
    /// Failures by cause.
    pub failures: BTreeMap<String, u64>,
    /// Request retransmissions (RFC 3261 Timer E).
    pub retransmissions: u64,
    /// Received messages that matched no UE.
    pub stray_messages: u64,
    /// Latency of initial registrations.
    pub latency: Latency,
    /// Latency of re-registrations.
    pub rereg_latency: Latency,
    /// Per-second timeline.
    pub timeline: Vec<Second>,
}

/// Live counters (for the progress bar).
#[derive(Debug, Default)]
pub struct Progress {
    /// UEs started.
    pub started: AtomicU64,
    /// Initial registrations done.
    pub registered: AtomicU64,
    /// Failed UEs.
    pub failed: AtomicU64,
    /// Retransmissions.
    pub retransmissions: AtomicU64,
    /// UEs finished (de-registered or failed).
    pub finished: AtomicU64,
}

struct Stats {
    initial: Histogram<u64>,
    rereg: Histogram<u64>,
    reregistered: u64,
    deregistered: u64,
    failures: BTreeMap<String, u64>,
    timeline: Vec<Second>,
    last_initial: Option<Instant>,
}

impl Stats {
    fn new() -> Stats {
        Stats {
            initial: new_hist(),
            rereg: new_hist(),
            reregistered: 0,
            deregistered: 0,
            failures: BTreeMap::new(),
            timeline: Vec::new(),
            last_initial: None,
        }
    }

    /// Adds another worker's statistics to these.
    fn merge(&mut self, o: &Stats) {
        let _ = self.initial.add(&o.initial);
        let _ = self.rereg.add(&o.rereg);
        self.reregistered += o.reregistered;
        self.deregistered += o.deregistered;
        for (k, v) in &o.failures {
            *self.failures.entry(k.clone()).or_insert(0) += v;
        }
        for s in &o.timeline {
            let t = s.t;
            let mine = self.second_at(t as usize);
            mine.registered += s.registered;
            mine.failed += s.failed;
            mine.sum_us += s.sum_us;
            mine.max_ms = mine.max_ms.max(s.max_ms);
        }
        self.last_initial = match (self.last_initial, o.last_initial) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }

    /// Records a successful registration (initial or re-) that took `us` microseconds.
    fn registered(&mut self, t0: Instant, now: Instant, initial: bool, us: u64) {
        if initial {
            self.last_initial = Some(now);
            let _ = self.initial.record(us);
        } else {
            self.reregistered += 1;
            let _ = self.rereg.record(us);
        }
        let sec = self.second(t0, now);
        sec.registered += 1;
        sec.sum_us += us;
        sec.max_ms = sec.max_ms.max(us as f64 / 1000.0);
    }

    /// Records a failed UE.
    fn failed(&mut self, t0: Instant, now: Instant, reason: String) {
        *self.failures.entry(reason).or_insert(0) += 1;
        self.second(t0, now).failed += 1;
    }

    fn second(&mut self, t0: Instant, now: Instant) -> &mut Second {
        let s = now.saturating_duration_since(t0).as_secs() as usize;
        self.second_at(s)
    }

    fn second_at(&mut self, s: usize) -> &mut Second {
        // bounded: one entry per second of the run
        while self.timeline.len() <= s {
            let t = self.timeline.len() as u64;
            self.timeline.push(Second {
                t,
                ..Second::default()
            });
        }
        &mut self.timeline[s]
    }
}

fn new_hist() -> Histogram<u64> {
    // 1 µs .. 1 h, 3 significant digits; the bounds are constants that are always valid
    Histogram::new_with_bounds(1, 3_600_000_000, 3).unwrap_or_else(|_| {
        Histogram::new(3).unwrap_or_else(|_| unreachable!("3 significant digits are valid"))
    })
}

/// Runs the load: starts `cfg.ues` UEs at `cfg.rate`, keeps them registered until
/// `cfg.duration` has passed since the first arrival, de-registers them all, and summarises.
pub async fn run(
    cfg: &LoadConfig,
    subscribers: &[Subscriber],
    progress: Arc<Progress>,
) -> Result<Summary> {
    if subscribers.is_empty() {
        return Err(UeError::Subscribers("no subscribers".into()));
    }
    if cfg.rate.is_nan() || cfg.rate <= 0.0 {
        return Err(UeError::Config("rate must be positive".into()));
    }
    // every ISIM is checked before the first packet, so a bad key fails the run at once
    for s in subscribers {
        s.isim()?;
    }
    let shared = SharedUdp::bind(cfg.pcscf, cfg.sockets).await?;
    let stats = Arc::new(Mutex::new(Stats::new()));
    let (stop_tx, stop_rx) = watch::channel(false);
    let t0 = Instant::now();
    let end = t0 + cfg.duration;
    let opts = Arc::new(RunOptions {
        state_file: None,
        timers: cfg.timers,
        once: false,
        trace: false,
    });
    let mut tasks = tokio::task::JoinSet::new();
    let mut started = 0u64;
    for i in 0..cfg.ues {
        let at = t0 + Duration::from_secs_f64(i as f64 / cfg.rate);
        if at >= end {
            break;
        }
        tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await;
        let sub = &subscribers[i % subscribers.len()];
        let wire = shared.wire(i);
        let local = wire.local_addr();
        let mut uc = UeConfig::new(
            sub.impi.clone(),
            sub.impu.clone(),
            sub.home_domain().to_string(),
            local.ip().to_string(),
            local.port(),
        );
        uc.pcscf = Some((cfg.pcscf.ip().to_string(), cfg.pcscf.port()));
        uc.expires = cfg.expires;
        uc.reg_event_expires = cfg.reg_event.then_some(cfg.expires);
        let security = match &cfg.security {
            LoadSecurity::None => Security::None,
            LoadSecurity::Tls { pcscf, client } => {
                uc.security.tls = true;
                Security::Tls {
                    pcscf: *pcscf,
                    client: client.clone(),
                }
            }
            LoadSecurity::Ipsec {
                datapath,
                algs,
                ealgs,
            } => {
                let i =
                    IpsecUe::allocate(datapath, TransportKind::Udp, algs.clone(), ealgs.clone())
                        .await?;
                uc.security.ipsec = Some(i.offer());
                Security::Ipsec(i)
            }
        };
        let ue = Ue::new(uc, Credentials::Aka(Box::new(sub.isim()?)))?;
        started += 1;
        progress.started.fetch_add(1, Ordering::Relaxed);
        let stats = stats.clone();
        let progress = progress.clone();
        let opts = opts.clone();
        let stop = stop_rx.clone();
        tasks.spawn(run_one(ue, wire, security, opts, stop, stats, progress, t0));
        // reap finished tasks as we go so the set stays small
        while tasks.try_join_next().is_some() {}
    }
    tokio::time::sleep_until(tokio::time::Instant::from_std(end)).await;
    let _ = stop_tx.send(true);
    while tasks.join_next().await.is_some() {}
    let elapsed = t0.elapsed().as_secs_f64();
    let st = stats
        .lock()
        .map_err(|_| UeError::Config("statistics lock poisoned".into()))?;
    Ok(summarise(
        cfg,
        &st,
        t0,
        started,
        elapsed,
        progress.retransmissions.load(Ordering::Relaxed),
        shared.stray(),
    ))
}

/// The summary of a run from its statistics.
fn summarise(
    cfg: &LoadConfig,
    st: &Stats,
    t0: Instant,
    started: u64,
    elapsed: f64,
    retransmissions: u64,
    stray: u64,
) -> Summary {
    let registered = st.initial.len();
    // achieved rate: first arrival to the last initial registration, as it really happened
    let reg_secs = st
        .last_initial
        .map(|t| t.saturating_duration_since(t0).as_secs_f64())
        .unwrap_or(0.0);
    let mut timeline = st.timeline.clone();
    for s in &mut timeline {
        if s.registered > 0 {
            s.mean_ms = s.sum_us as f64 / s.registered as f64 / 1000.0;
        }
    }
    Summary {
        ues_started: started,
        rate: cfg.rate,
        elapsed_s: elapsed,
        registered,
        registrations_per_s: if reg_secs > 0.0 {
            registered as f64 / reg_secs
        } else {
            0.0
        },
        reregistered: st.reregistered,
        deregistered: st.deregistered,
        failed: st.failures.values().sum(),
        failures: st.failures.clone(),
        retransmissions,
        stray_messages: stray,
        latency: latency(&st.initial),
        rereg_latency: latency(&st.rereg),
        timeline,
    }
}

#[allow(clippy::too_many_arguments)]
async fn run_one(
    ue: Ue,
    wire: Wire,
    security: Security,
    opts: Arc<RunOptions>,
    stop: watch::Receiver<bool>,
    stats: Arc<Mutex<Stats>>,
    progress: Arc<Progress>,
    t0: Instant,
) {
    let mut began: Option<Instant> = None;
    let ever_flag = std::sync::atomic::AtomicBool::new(false);
    let ever = &ever_flag;
    let p = progress.clone();
    let s = stats.clone();
    let outcome = driver::run_with(ue, wire, security, &opts, stop, move |r| match r {
        Report::Registering { .. } => began = Some(Instant::now()),
        Report::Registered { initial, .. } => {
            ever.store(true, Ordering::Relaxed);
            let now = Instant::now();
            let us = began
                .take()
                .map(|b| now.saturating_duration_since(b).as_micros() as u64)
                .unwrap_or(0)
                .max(1);
            if initial {
                p.registered.fetch_add(1, Ordering::Relaxed);
            }
            if let Ok(mut st) = s.lock() {
                st.registered(t0, now, initial, us);
            }
        }
        Report::Retransmission => {
            p.retransmissions.fetch_add(1, Ordering::Relaxed);
        }
        _ => {}
    })
    .await;
    progress.finished.fetch_add(1, Ordering::Relaxed);
    if let Ok(mut st) = stats.lock() {
        match outcome {
            Outcome::Deregistered | Outcome::Registered if ever.load(Ordering::Relaxed) => {
                st.deregistered += 1
            }
            Outcome::Deregistered | Outcome::Registered => {
                progress.failed.fetch_add(1, Ordering::Relaxed);
                st.failed(t0, Instant::now(), NOT_REGISTERED_AT_END.into());
            }
            Outcome::Failed(reason) => {
                let reason = if reason == driver::STOPPED_BEFORE_START {
                    OVERLOADED.to_string()
                } else {
                    reason
                };
                progress.failed.fetch_add(1, Ordering::Relaxed);
                st.failed(t0, Instant::now(), reason);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_in_import_format() {
        let text = "id,impi,impus,k,op,amf\n\
                    1,001@ims.test,sip:001@ims.test;tel:+1,465b5ce8b199b49faa5f0a2ee238a6bc,cdc202d5123e20f62b6d676ac72cb318,8000\n";
        let s = parse_subscribers_csv(text).unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].impu, "sip:001@ims.test");
        assert_eq!(s[0].home_domain(), "ims.test");
        assert_eq!(s[0].amf.as_deref(), Some("8000"));
        assert!(parse_subscribers_csv("impi,impus,k\n").is_err());
        let bad = "impi,impus,k,opc\na@b,sip:a@b,zz,cdc202d5123e20f62b6d676ac72cb318\n";
        let e = parse_subscribers_csv(bad).unwrap_err().to_string();
        assert!(e.contains("line 2"), "{e}");
    }

    #[test]
    fn latency_percentiles() {
        let mut h = new_hist();
        for us in 1..=1000u64 {
            h.record(us * 1000).unwrap();
        }
        let l = latency(&h);
        assert_eq!(l.count, 1000);
        assert!((l.p50_ms - 500.0).abs() < 1.0, "{l:?}");
        assert!((l.p99_ms - 990.0).abs() < 2.0, "{l:?}");
        assert!((l.max_ms - 1000.0).abs() < 1.0, "{l:?}");
    }
}
