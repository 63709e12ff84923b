//! Where the SAs of a TS 33.203 §7.1 set are installed: one trait, two backends
//! (ARCHITECTURE.md, "IPsec on machines without kernel ESP").
//!
//! * [`UserspaceBackend`]: the ESP engine of this crate — a TUN device, raw protocol-50 sockets and
//!   an [`SaTable`], driven by a [`Datapath`] thread; the policy routing that sends
//!   everything leaving the protected ports into the TUN is installed at start and removed (with
//!   the TUN) when the backend is dropped.
//! * [`crate::xfrm::XfrmBackend`]: kernel IPsec through NETLINK_XFRM (SAs and policies), for
//!   production kernels with ESP.
//!
//! Both can append every installed SA to a Wireshark `esp_sa` file ([`Keylog`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crate::datapath::{Datapath, DatapathStats, EspSocket, Routing, Tun};
use crate::error::{IpsecError, Result};
use crate::keylog::Keylog;
use crate::sa_set::ImsSaSet;
use crate::table::{Counters, SaTable};

/// What a backend reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BackendStats {
    /// Inbound SAs installed.
    pub inbound_sas: usize,
    /// Outbound SAs installed.
    pub outbound_sas: usize,
    /// Sealed/opened packets and drops by reason (userspace only; zero for xfrm).
    pub counters: Counters,
    /// TUN / raw socket I/O (userspace only).
    pub datapath: DatapathStats,
}

/// Installs and removes the four SAs of an IMS SA set (TS 33.203 §7.1) in some datapath.
pub trait SaBackend: Send + Sync {
    /// `userspace` or `xfrm`.
    fn name(&self) -> &'static str;
    /// Installs the set's two inbound and two outbound SAs (all or nothing).
    fn install(&self, set: &ImsSaSet) -> Result<()>;
    /// Removes the set's SAs (outbound ones only while they still carry this set's SPIs, so a
    /// newer set of the same UE keeps its traffic, TS 33.203 §7.4).
    fn remove(&self, set: &ImsSaSet) -> Result<()>;
    /// Counters and sizes.
    fn stats(&self) -> BackendStats;
    /// Stops the datapath and removes what the backend set up (also done on drop).
    fn shutdown(&self) {}
}

/// Settings of the [`UserspaceBackend`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserspaceConfig {
    /// TUN interface name (created at start, gone when the backend is dropped).
    pub tun: String,
    /// Policy routing table for the protected ports (used by nothing else).
    pub table: u32,
    /// Protected local port ranges (inclusive): traffic leaving them goes through the TUN.
    pub ports: Vec<(u16, u16)>,
    /// Carry IPv4 SAs.
    pub ipv4: bool,
    /// Carry IPv6 SAs.
    pub ipv6: bool,
    /// Wireshark `esp_sa` file every installed SA is appended to.
    pub keylog: Option<std::path::PathBuf>,
}

struct Running {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<()>>>,
}

/// The userspace datapath as a backend: owns the TUN, the raw ESP socket(s), the SA table, the
/// datapath thread and the policy routing, in the network namespace of the thread that starts
/// it (needs CAP_NET_ADMIN and CAP_NET_RAW).
pub struct UserspaceBackend {
    table: Arc<Mutex<SaTable>>,
    stats: Arc<Mutex<DatapathStats>>,
    routing: Routing,
    keylog: Option<Keylog>,
    running: Mutex<Running>,
}

impl std::fmt::Debug for UserspaceBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserspaceBackend")
            .field("routing", &self.routing)
            .finish_non_exhaustive()
    }
}

impl UserspaceBackend {
    /// Opens the TUN and raw socket(s), starts the datapath thread and installs the routing.
    /// Fails (nothing left behind) without root, without `/dev/net/tun` or without `ip`.
    pub fn start(cfg: &UserspaceConfig) -> Result<Self> {
        let tun = Tun::open(&cfg.tun)?;
        let esp = EspSocket::open_v4()?;
        let table = Arc::new(Mutex::new(SaTable::new()));
        let mut dp = Datapath::new(tun, esp, table.clone());
        if cfg.ipv6 {
            dp = dp.with_ipv6(EspSocket::open_v6()?);
        }
        let routing = Routing {
            tun: dp.tun().name().to_string(),
            table: cfg.table,
            ports: cfg.ports.clone(),
            ipv4: cfg.ipv4,
            ipv6: cfg.ipv6,
        };
        let keylog = cfg.keylog.as_deref().map(Keylog::open).transpose()?;
        let stats = Arc::new(Mutex::new(DatapathStats::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (stop, stats) = (stop.clone(), stats.clone());
            std::thread::Builder::new()
                .name("esp-datapath".into())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        if dp.poll_once(50)? > 0 {
                            if let Ok(mut s) = stats.lock() {
                                *s = dp.stats();
                            }
                        }
                    }
                    Ok(())
                })
                .map_err(|e| IpsecError::Io {
                    op: "spawn datapath thread",
                    reason: e.to_string(),
                })?
        };
        let me = Self {
            table,
            stats,
            routing,
            keylog,
            running: Mutex::new(Running {
                stop,
                thread: Some(thread),
            }),
        };
        // on failure `me` is dropped: thread stopped, partial routing removed
        me.routing.apply()?;
        Ok(me)
    }

    /// The shared SA table (e.g. for tests and metrics).
    pub fn table(&self) -> &Arc<Mutex<SaTable>> {
        &self.table
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, SaTable>> {
        self.table.lock().map_err(|_| IpsecError::Io {
            op: "SA table",
            reason: "lock poisoned".into(),
        })
    }

    /// Stops the datapath thread and removes the routing (also done on drop).
    pub fn shutdown(&self) {
        let mut r = self.running.lock().unwrap_or_else(|p| p.into_inner());
        let Some(t) = r.thread.take() else { return };
        r.stop.store(true, Ordering::Relaxed);
        let _ = t.join();
        // the TUN goes with the datapath (its fd closed when the thread's Datapath dropped)
        let _ = self.routing.remove();
    }
}

impl Drop for UserspaceBackend {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Appends the set's four SAs to the keylog.
pub(crate) fn log_set(keylog: Option<&Keylog>, set: &ImsSaSet) -> Result<()> {
    if let Some(k) = keylog {
        for rec in set.keylog_records() {
            k.write(&rec)?;
        }
    }
    Ok(())
}

impl SaBackend for UserspaceBackend {
    fn name(&self) -> &'static str {
        "userspace"
    }

    fn install(&self, set: &ImsSaSet) -> Result<()> {
        set.install(&mut *self.lock()?)?;
        log_set(self.keylog.as_ref(), set)
    }

    fn remove(&self, set: &ImsSaSet) -> Result<()> {
        set.remove(&mut *self.lock()?);
        Ok(())
    }

    fn shutdown(&self) {
        UserspaceBackend::shutdown(self);
    }

    fn stats(&self) -> BackendStats {
        let (inbound_sas, outbound_sas, counters) = match self.table.lock() {
            Ok(t) => (t.len().0, t.len().1, t.counters().clone()),
            Err(_) => (0, 0, Counters::default()),
        };
        BackendStats {
            inbound_sas,
            outbound_sas,
            counters,
            datapath: self.stats.lock().map(|s| *s).unwrap_or_default(),
        }
    }
}
