//! The UE's half of ipsec-3gpp (TS 33.203 §7.1–§7.4, TS 24.229 §5.1.1.2) on the userspace ESP
//! datapath of the `ipsec` crate (ARCHITECTURE.md, "IPsec on machines without kernel ESP"):
//!
//! * [`UeDatapath`]: one per process (all UEs of `imscore bench` share it) — a TUN device, the raw
//!   ESP socket(s) and the SA table, driven by a thread; policy routing sends every packet from
//!   the protected port range to the P-CSCF into the TUN
//!   (`ip rule add to <P-CSCF> ipproto udp|tcp sport <lo>-<hi> table <T>`, `default dev <tun>` in
//!   table T). SPIs and protected ports come from its allocators, so UEs never collide. Dropping
//!   the last handle (or [`UeDatapath::shutdown`]) stops the thread, deletes the rules and removes
//!   the TUN.
//! * [`IpsecUe`]: one UE — its protected server port (UDP socket and TCP listener on port-s), its
//!   offers (spi-c/spi-s/port-c, a UDP socket on each port-c), the SA sets installed from them
//!   (`secagree::SaParams::ue_sa_set`, keys from IK/CK per TS 33.203 Annex I), and how protected
//!   messages leave: requests from port-c to the P-CSCF's port-s, answers to the P-CSCF's requests
//!   back where they came from (the port-s ⇄ port-c pair).
//!
//! Re-registration (§7.4): a new offer (new SPIs and port-c, same port-s) goes out over the SAs in
//! use; on the challenge its SAs are installed beside the old ones, and the old set is removed once
//! the 2xx to the REGISTER sent over the new one arrives.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use bytes::Bytes;
use ipsec::datapath::{Datapath, DatapathStats, EspSocket, Tun};
use ipsec::{
    Counters, EncryptionAlg, Endpoint, ImsSaSet, IntegrityAlg, Keylog, PortAllocator, SaTable,
    SpiAllocator,
};
use secagree::SaParams;
use sip::Message;
use tokio::net::{TcpListener, TcpSocket, UdpSocket};
use tokio::sync::mpsc;
use tokio::task::JoinHandle as TaskHandle;

use crate::driver::{close_stream, spawn_stream, Inbound, Reply, TransportKind};
use crate::error::{Result, UeError};
use crate::security::{IpsecOffer, Negotiated, SaEndpoint, SecuritySetup};

/// Default protected port range: below Linux's ephemeral range (32768–60999) so the policy
/// rules never catch another program's ephemeral ports.
pub const DEFAULT_PORTS: (u16, u16) = (30000, 32767);

/// How the process-wide datapath is set up.
#[derive(Debug, Clone)]
pub struct IpsecSettings {
    /// The P-CSCF's address (the SAs' remote address; the policy rules match it).
    pub pcscf: IpAddr,
    /// Our address (the SAs' local address; the protected sockets bind to it).
    pub local: IpAddr,
    /// Protected ports (port-c and port-s) are allocated from `lo..=hi`.
    pub ports: (u16, u16),
    /// SPIs are allocated from this range (≥ 256).
    pub spis: (u32, u32),
    /// TUN interface name (at most 15 bytes).
    pub tun: String,
    /// Policy routing table number.
    pub table: u32,
    /// Append every installed SA here in Wireshark's `esp_sa` format (`--esp-keylog`).
    pub keylog: Option<PathBuf>,
}

impl IpsecSettings {
    /// Defaults: [`DEFAULT_PORTS`], all SPIs, TUN `imsue<pid>`, table 100000 + pid % 1000000.
    pub fn new(pcscf: IpAddr, local: IpAddr) -> Self {
        let pid = std::process::id();
        IpsecSettings {
            pcscf,
            local,
            ports: DEFAULT_PORTS,
            spis: (256, u32::MAX),
            tun: format!("imsue{}", pid % 10_000_000),
            table: 100_000 + pid % 1_000_000,
            keylog: None,
        }
    }

    fn family(&self) -> &'static str {
        if self.pcscf.is_ipv4() {
            "-4"
        } else {
            "-6"
        }
    }

    /// The `ip` command lines that install the policy routing (see the module doc).
    pub fn routing_commands(&self) -> Vec<Vec<String>> {
        let fam = self.family();
        let table = self.table.to_string();
        let to = format!(
            "{}/{}",
            self.pcscf,
            if self.pcscf.is_ipv4() { 32 } else { 128 }
        );
        let range = format!(
            "{}-{}",
            self.ports.0.min(self.ports.1),
            self.ports.0.max(self.ports.1)
        );
        let mut cmds = vec![[
            fam, "route", "replace", "default", "dev", &self.tun, "table", &table,
        ]
        .map(str::to_owned)
        .to_vec()];
        for proto in ["udp", "tcp"] {
            cmds.push(
                [
                    fam, "rule", "add", "to", &to, "ipproto", proto, "sport", &range, "table",
                    &table,
                ]
                .map(str::to_owned)
                .to_vec(),
            );
        }
        cmds
    }

    /// The commands that undo [`routing_commands`](Self::routing_commands) (the routes go with
    /// the TUN device).
    pub fn teardown_commands(&self) -> Vec<Vec<String>> {
        self.routing_commands()
            .into_iter()
            .filter(|c| c.get(1).map(String::as_str) == Some("rule"))
            .map(|mut c| {
                c[2] = "del".into();
                c
            })
            .collect()
    }
}

fn run_ip(args: &[String]) -> std::result::Result<(), String> {
    let out = std::process::Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run ip (iproute2): {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn privilege(what: &str, e: impl std::fmt::Display) -> UeError {
    UeError::Privilege(format!(
        "--sec ipsec needs root (CAP_NET_ADMIN and CAP_NET_RAW) for its userspace ESP datapath: \
         {what}: {e}"
    ))
}

fn ipsec_err(e: impl std::fmt::Display) -> UeError {
    UeError::Ipsec(e.to_string())
}

struct Allocators {
    spis: SpiAllocator,
    ports: PortAllocator,
    /// Ports allocated (the allocator does not count them).
    ports_in_use: usize,
}

struct Inner {
    settings: IpsecSettings,
    table: Arc<Mutex<SaTable>>,
    alloc: Mutex<Allocators>,
    keylog: Option<Keylog>,
    stop: Arc<AtomicBool>,
    thread: Mutex<Option<JoinHandle<()>>>,
    stats: Arc<Mutex<DatapathStats>>,
    routed: Mutex<bool>,
}

impl Inner {
    fn shutdown(&self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.thread.lock().ok().and_then(|mut t| t.take()) {
            let _ = h.join();
        }
        if let Ok(mut routed) = self.routed.lock() {
            if *routed {
                for c in self.settings.teardown_commands() {
                    let _ = run_ip(&c);
                }
                *routed = false;
            }
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The process's userspace ESP datapath (cheap to clone; see the module doc).
#[derive(Clone)]
pub struct UeDatapath {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for UeDatapath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UeDatapath")
            .field("tun", &self.inner.settings.tun)
            .field("local", &self.inner.settings.local)
            .field("pcscf", &self.inner.settings.pcscf)
            .finish_non_exhaustive()
    }
}

impl UeDatapath {
    /// Opens the TUN device and raw ESP socket, starts the datapath thread and installs the
    /// policy routing, all in the calling thread's network namespace. Without the privileges
    /// this fails with [`UeError::Privilege`].
    pub fn start(settings: IpsecSettings) -> Result<Self> {
        let tun = Tun::open(&settings.tun).map_err(|e| privilege("TUN device", e))?;
        let esp = EspSocket::open_v4().map_err(|e| privilege("raw ESP socket", e))?;
        let table = Arc::new(Mutex::new(SaTable::new()));
        let mut dp = Datapath::new(tun, esp, table.clone());
        if settings.pcscf.is_ipv6() {
            dp = dp.with_ipv6(EspSocket::open_v6().map_err(|e| privilege("raw ESP socket", e))?);
        }
        let tun_name = dp.tun().name().to_string();
        let mut settings = settings;
        settings.tun = tun_name;
        let alloc = Allocators {
            spis: SpiAllocator::with_range(settings.spis.0, settings.spis.1).map_err(ipsec_err)?,
            ports: PortAllocator::new(settings.ports.0, settings.ports.1).map_err(ipsec_err)?,
            ports_in_use: 0,
        };
        let keylog = match &settings.keylog {
            Some(p) => Some(Keylog::open(p).map_err(ipsec_err)?),
            None => None,
        };
        let stop = Arc::new(AtomicBool::new(false));
        let stats = Arc::new(Mutex::new(DatapathStats::default()));
        let thread = {
            let (stop, stats) = (stop.clone(), stats.clone());
            std::thread::Builder::new()
                .name("ue-esp".into())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        if dp.poll_once(50).is_err() {
                            break;
                        }
                        if let Ok(mut s) = stats.lock() {
                            *s = dp.stats();
                        }
                    }
                    // dropping `dp` closes the TUN: the device and its routes go
                })
                .map_err(|e| ipsec_err(format!("datapath thread: {e}")))?
        };
        let inner = Inner {
            settings,
            table,
            alloc: Mutex::new(alloc),
            keylog,
            stop,
            thread: Mutex::new(Some(thread)),
            stats,
            routed: Mutex::new(false),
        };
        // the TUN up, reverse-path filtering off on it (inbound packets come from the P-CSCF's
        // address), then the rules
        let tun = inner.settings.tun.clone();
        // a large MTU: the kernel must not fragment before sealing (see `ipsec::datapath::TUN_MTU`)
        let mtu = ipsec::datapath::TUN_MTU.to_string();
        let mut setup = vec![["link", "set", &tun, "mtu", &mtu, "up"]
            .map(str::to_owned)
            .to_vec()];
        if let Ok(mut r) = inner.routed.lock() {
            *r = true;
        }
        setup.extend(inner.settings.routing_commands());
        for c in &setup {
            run_ip(c).map_err(|e| privilege("policy routing", e))?;
        }
        if inner.settings.pcscf.is_ipv4() {
            let path = format!("/proc/sys/net/ipv4/conf/{tun}/rp_filter");
            std::fs::write(&path, "0").map_err(|e| privilege("rp_filter", e))?;
        }
        Ok(UeDatapath {
            inner: Arc::new(inner),
        })
    }

    /// The settings in effect (the TUN name as the kernel gave it).
    pub fn settings(&self) -> &IpsecSettings {
        &self.inner.settings
    }

    /// SA table counters (sealed, opened, drops by cause).
    pub fn counters(&self) -> Counters {
        self.inner
            .table
            .lock()
            .map(|t| t.counters().clone())
            .unwrap_or_default()
    }

    /// Datapath I/O counters (packets from/to the TUN and the raw socket).
    pub fn stats(&self) -> DatapathStats {
        self.inner.stats.lock().map(|s| *s).unwrap_or_default()
    }

    /// (inbound, outbound) SAs installed.
    pub fn sa_count(&self) -> (usize, usize) {
        self.inner.table.lock().map(|t| t.len()).unwrap_or((0, 0))
    }

    /// (SPIs, protected ports) currently allocated to this process's UEs.
    pub fn allocated(&self) -> (usize, usize) {
        self.inner
            .alloc
            .lock()
            .map(|a| (a.spis.len(), a.ports_in_use))
            .unwrap_or((0, 0))
    }

    /// Stops the thread, removes the rules; the TUN goes with the thread. Idempotent; also done
    /// when the last handle is dropped.
    pub fn shutdown(&self) {
        self.inner.shutdown();
    }

    fn lock_alloc(&self) -> Result<std::sync::MutexGuard<'_, Allocators>> {
        self.inner
            .alloc
            .lock()
            .map_err(|_| UeError::Ipsec("allocator lock poisoned".into()))
    }

    fn allocate_spis(&self) -> Result<(u32, u32)> {
        self.lock_alloc()?.spis.allocate_pair().map_err(ipsec_err)
    }

    fn allocate_port(&self) -> Result<u16> {
        let mut a = self.lock_alloc()?;
        let p = a.ports.allocate().map_err(ipsec_err)?;
        a.ports_in_use += 1;
        Ok(p)
    }

    fn release_spis(&self, spis: &[u32]) {
        if let Ok(mut a) = self.inner.alloc.lock() {
            for s in spis {
                a.spis.release(*s);
            }
        }
    }

    fn release_port(&self, port: u16) {
        if let Ok(mut a) = self.inner.alloc.lock() {
            if a.ports.release(port) {
                a.ports_in_use = a.ports_in_use.saturating_sub(1);
            }
        }
    }

    fn install(&self, set: &ImsSaSet) -> Result<()> {
        let mut t = self
            .inner
            .table
            .lock()
            .map_err(|_| UeError::Ipsec("SA table lock poisoned".into()))?;
        set.install(&mut t).map_err(ipsec_err)?;
        drop(t);
        if let Some(k) = &self.inner.keylog {
            for r in set.keylog_records() {
                k.write(&r).map_err(ipsec_err)?;
            }
        }
        Ok(())
    }

    fn remove(&self, set: &ImsSaSet) {
        if let Ok(mut t) = self.inner.table.lock() {
            set.remove(&mut t);
        }
    }
}

/// Most attempts at finding a free protected port (another program may hold one).
const BIND_ATTEMPTS: usize = 16;

/// One offer: SPIs and port-c, with the UDP socket on port-c.
struct Offer {
    spi_c: u32,
    spi_s: u32,
    port_c: u16,
    udp_c: Arc<UdpSocket>,
    reader: TaskHandle<()>,
    /// The TCP connection from port-c to the P-CSCF's port-s (opened on first use).
    tcp_c: Option<(SocketAddr, mpsc::UnboundedSender<Bytes>)>,
}

/// An installed SA set.
struct Installed {
    set: ImsSaSet,
    port_c: u16,
    server: SaEndpoint,
}

/// One UE's IPsec state (see the module doc).
pub struct IpsecUe {
    dp: UeDatapath,
    transport: TransportKind,
    algs: Vec<String>,
    ealgs: Vec<String>,
    port_s: u16,
    udp_s: Arc<UdpSocket>,
    offers: Vec<Offer>,
    sets: Vec<Installed>,
    tasks: Vec<TaskHandle<()>>,
    tx: mpsc::UnboundedSender<Inbound>,
    rx: Option<mpsc::UnboundedReceiver<Inbound>>,
}

impl std::fmt::Debug for IpsecUe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IpsecUe")
            .field("port_s", &self.port_s)
            .field("offers", &self.offers.len())
            .field("sets", &self.sets.len())
            .finish_non_exhaustive()
    }
}

fn spawn_udp(sock: Arc<UdpSocket>, tx: mpsc::UnboundedSender<Inbound>) -> TaskHandle<()> {
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65_535];
        loop {
            let (n, from) = match sock.recv_from(&mut buf).await {
                Ok(x) => x,
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => continue,
                Err(_) => break,
            };
            if let Ok(msg) = Message::parse(Bytes::copy_from_slice(&buf[..n])) {
                let reply = Reply::Udp {
                    sock: sock.clone(),
                    to: from,
                };
                if tx.send(Inbound::Msg(msg, reply)).is_err() {
                    break;
                }
            }
        }
    })
}

impl IpsecUe {
    /// Allocates the UE's port-s (UDP socket and TCP listener) and its first offer (SPIs,
    /// port-c and its UDP socket) on `dp`. `algs`/`ealgs` restrict the Security-Client pairs
    /// (empty: all of TS 33.203 §6.1/§6.2); `transport` is how protected requests are sent.
    pub async fn allocate(
        dp: &UeDatapath,
        transport: TransportKind,
        algs: Vec<String>,
        ealgs: Vec<String>,
    ) -> Result<IpsecUe> {
        for a in &algs {
            IntegrityAlg::from_name(a)
                .ok_or_else(|| UeError::Config(format!("unknown integrity algorithm {a:?}")))?;
        }
        for e in &ealgs {
            EncryptionAlg::from_name(e)
                .ok_or_else(|| UeError::Config(format!("unknown encryption algorithm {e:?}")))?;
        }
        let all = IpsecOffer::all_algorithms(0, 0, 0, 0);
        let algs = if algs.is_empty() { all.algs } else { algs };
        let ealgs = if ealgs.is_empty() { all.ealgs } else { ealgs };
        let (tx, rx) = mpsc::unbounded_channel();
        let local = dp.settings().local;
        let mut last = None;
        let mut bound = None;
        // ports found busy (another program, or a socket of ours not closed yet) go back to the
        // pool once this allocation is over
        let mut busy = Vec::new();
        for _ in 0..BIND_ATTEMPTS {
            let p = match dp.allocate_port() {
                Ok(p) => p,
                Err(e) => {
                    busy.iter().for_each(|b| dp.release_port(*b));
                    return Err(e);
                }
            };
            let addr = SocketAddr::new(local, p);
            let udp = UdpSocket::bind(addr).await;
            let tcp = TcpListener::bind(addr).await;
            match (udp, tcp) {
                (Ok(u), Ok(t)) => {
                    bound = Some((p, u, t));
                    break;
                }
                (Err(e), _) | (_, Err(e)) => {
                    last = Some(e);
                    busy.push(p);
                }
            }
        }
        busy.iter().for_each(|b| dp.release_port(*b));
        let Some((port_s, udp_s, tcp_s)) = bound else {
            return Err(UeError::Ipsec(format!(
                "no free protected server port: {}",
                last.map(|e| e.to_string()).unwrap_or_default()
            )));
        };
        let udp_s = Arc::new(udp_s);
        let mut tasks = vec![spawn_udp(udp_s.clone(), tx.clone())];
        // P-CSCF requests over TCP arrive on connections to port-s (TS 33.203 §7.1)
        let tcp_tx = tx.clone();
        tasks.push(tokio::spawn(async move {
            while let Ok((stream, _)) = tcp_s.accept().await {
                let _ = stream.set_nodelay(true);
                let (rd, wr) = stream.into_split();
                let t = tcp_tx.clone();
                spawn_stream(rd, wr, move |m, out| {
                    let _ = t.send(Inbound::Msg(m, Reply::Stream(out)));
                });
            }
        }));
        let mut ue = IpsecUe {
            dp: dp.clone(),
            transport,
            algs,
            ealgs,
            port_s,
            udp_s,
            offers: Vec::new(),
            sets: Vec::new(),
            tasks,
            tx,
            rx: Some(rx),
        };
        ue.new_offer().await?;
        Ok(ue)
    }

    /// The receiver of messages that arrived over the SAs (taken once by the driver).
    pub(crate) fn take_inbound(&mut self) -> Option<mpsc::UnboundedReceiver<Inbound>> {
        self.rx.take()
    }

    /// The current offer (the last allocated) for Security-Client.
    pub fn offer(&self) -> IpsecOffer {
        let (spi_c, spi_s, port_c) = self
            .offers
            .last()
            .map(|o| (o.spi_c, o.spi_s, o.port_c))
            .unwrap_or_default();
        IpsecOffer {
            algs: self.algs.clone(),
            ealgs: self.ealgs.clone(),
            spi_c,
            spi_s,
            port_c,
            port_s: self.port_s,
        }
    }

    /// The protected server port.
    pub fn port_s(&self) -> u16 {
        self.port_s
    }

    /// SA sets installed (2 between the challenge of a re-registration and its 2xx).
    pub fn installed_sets(&self) -> usize {
        self.sets.len()
    }

    /// Allocates a new offer (new SPIs and port-c, TS 33.203 §7.4) and returns it.
    pub async fn new_offer(&mut self) -> Result<IpsecOffer> {
        let (spi_c, spi_s) = self.dp.allocate_spis()?;
        let local = self.dp.settings().local;
        let mut last = None;
        let mut busy = Vec::new();
        for _ in 0..BIND_ATTEMPTS {
            let p = match self.dp.allocate_port() {
                Ok(p) => p,
                Err(e) => {
                    self.dp.release_spis(&[spi_c, spi_s]);
                    busy.iter().for_each(|b| self.dp.release_port(*b));
                    return Err(e);
                }
            };
            match UdpSocket::bind(SocketAddr::new(local, p)).await {
                Ok(u) => {
                    busy.iter().for_each(|b| self.dp.release_port(*b));
                    let udp_c = Arc::new(u);
                    let reader = spawn_udp(udp_c.clone(), self.tx.clone());
                    self.offers.push(Offer {
                        spi_c,
                        spi_s,
                        port_c: p,
                        udp_c,
                        reader,
                        tcp_c: None,
                    });
                    return Ok(self.offer());
                }
                Err(e) => {
                    last = Some(e);
                    busy.push(p);
                }
            }
        }
        busy.iter().for_each(|b| self.dp.release_port(*b));
        self.dp.release_spis(&[spi_c, spi_s]);
        Err(UeError::Ipsec(format!(
            "no free protected client port: {}",
            last.map(|e| e.to_string()).unwrap_or_default()
        )))
    }

    /// Installs the four SAs of `setup` (the offer it names, the P-CSCF's SPIs and ports, keys
    /// from its IK/CK). A set already installed for the same offer (a challenged
    /// de-registration) is replaced.
    pub fn setup(&mut self, setup: &SecuritySetup) -> Result<()> {
        let Negotiated::Ipsec {
            alg,
            ealg,
            local,
            server,
        } = &setup.negotiated
        else {
            return Err(UeError::Ipsec("not an ipsec-3gpp setup".into()));
        };
        if !self
            .offers
            .iter()
            .any(|o| o.spi_c == local.spi_c && o.spi_s == local.spi_s && o.port_c == local.port_c)
        {
            return Err(UeError::Ipsec(format!(
                "SA setup for an offer this UE did not make (spi-c {})",
                local.spi_c
            )));
        }
        let integrity = IntegrityAlg::from_name(alg)
            .ok_or_else(|| UeError::Ipsec(format!("unsupported alg {alg}")))?;
        let encryption = EncryptionAlg::from_name(ealg)
            .ok_or_else(|| UeError::Ipsec(format!("unsupported ealg {ealg}")))?;
        let s = self.dp.settings();
        let params = SaParams {
            integrity,
            encryption,
            ue: Endpoint {
                addr: s.local,
                port_c: local.port_c,
                port_s: local.port_s,
                spi_c: local.spi_c,
                spi_s: local.spi_s,
            },
            pcscf: Endpoint {
                addr: s.pcscf,
                port_c: server.port_c,
                port_s: server.port_s,
                spi_c: server.spi_c,
                spi_s: server.spi_s,
            },
        };
        let set = params.ue_sa_set(&setup.ik, &setup.ck);
        if let Some(i) = self
            .sets
            .iter()
            .position(|x| x.set.local.spi_c == local.spi_c)
        {
            let old = self.sets.remove(i);
            self.dp.remove(&old.set);
        }
        self.dp.install(&set)?;
        self.sets.push(Installed {
            set,
            port_c: local.port_c,
            server: *server,
        });
        Ok(())
    }

    fn offer_in_use(&self, o: &Offer) -> bool {
        self.sets.iter().any(|s| s.set.local.spi_c == o.spi_c)
    }

    fn free_offer(&self, o: Offer) {
        o.reader.abort();
        if let Some((_, tx)) = &o.tcp_c {
            close_stream(tx);
        }
        self.dp.release_spis(&[o.spi_c, o.spi_s]);
        self.dp.release_port(o.port_c);
    }

    /// After the 2xx: removes every SA set but the newest, and frees the offers that are neither
    /// installed nor `current` (the machine's offer: an unchallenged re-registration's new offer
    /// is dropped, TS 33.203 §7.4).
    pub fn retire_old(&mut self, current: Option<&IpsecOffer>) {
        while self.sets.len() > 1 {
            let old = self.sets.remove(0);
            self.dp.remove(&old.set);
        }
        self.prune(current);
    }

    /// Removes all SA sets (de-registration done, or a new registration from scratch) and frees
    /// the offers other than `current`.
    pub fn release_all(&mut self, current: Option<&IpsecOffer>) {
        for s in self.sets.drain(..) {
            self.dp.remove(&s.set);
        }
        self.prune(current);
    }

    fn prune(&mut self, current: Option<&IpsecOffer>) {
        let offers = std::mem::take(&mut self.offers);
        for o in offers {
            let keep = self.offer_in_use(&o)
                || current.is_some_and(|c| c.spi_c == o.spi_c && c.port_c == o.port_c);
            if keep {
                self.offers.push(o);
            } else {
                self.free_offer(o);
            }
        }
        // the current offer stays the last one (it is what Security-Client carries)
        if let Some(c) = current {
            if let Some(i) = self.offers.iter().position(|o| o.spi_c == c.spi_c) {
                let o = self.offers.remove(i);
                self.offers.push(o);
            }
        }
    }

    /// True if protected requests go over UDP (then retransmitted, RFC 3261 §17.1.2.2).
    pub fn unreliable(&self) -> bool {
        self.transport == TransportKind::Udp
    }

    /// Sends a request over the newest SA set: from its port-c to the P-CSCF's port-s.
    pub async fn send_request(&mut self, bytes: &Bytes) -> Result<()> {
        let Some(set) = self.sets.last() else {
            return Err(UeError::Ipsec("no SA set installed".into()));
        };
        let (port_c, to) = (
            set.port_c,
            SocketAddr::new(self.dp.settings().pcscf, set.server.port_s),
        );
        let local = SocketAddr::new(self.dp.settings().local, port_c);
        let transport = self.transport;
        let tx = self.tx.clone();
        let Some(offer) = self.offers.iter_mut().find(|o| o.port_c == port_c) else {
            return Err(UeError::Ipsec("the SA set's offer is gone".into()));
        };
        if transport != TransportKind::Tcp {
            offer
                .udp_c
                .send_to(bytes, to)
                .await
                .map_err(|e| UeError::Transport(format!("UDP send over the SA: {e}")))?;
            return Ok(());
        }
        if let Some((peer, out)) = &offer.tcp_c {
            if *peer == to && out.send(bytes.clone()).is_ok() {
                return Ok(());
            }
        }
        // TCP from port-c to the P-CSCF's port-s (TS 33.203 §7.1); the UDP socket already holds
        // port-c for UDP, TCP has its own port space
        let sock = match local {
            SocketAddr::V4(_) => TcpSocket::new_v4(),
            SocketAddr::V6(_) => TcpSocket::new_v6(),
        }
        .map_err(|e| UeError::Transport(format!("TCP socket: {e}")))?;
        let _ = sock.set_reuseaddr(true);
        sock.bind(local)
            .map_err(|e| UeError::Transport(format!("TCP bind {local}: {e}")))?;
        let stream = tokio::time::timeout(std::time::Duration::from_secs(10), sock.connect(to))
            .await
            .map_err(|_| UeError::Transport(format!("TCP connect {local} -> {to}: timed out")))?
            .map_err(|e| UeError::Transport(format!("TCP connect {local} -> {to}: {e}")))?;
        let _ = stream.set_nodelay(true);
        let (rd, wr) = stream.into_split();
        let out = spawn_stream(rd, wr, move |m, out| {
            let _ = tx.send(Inbound::Msg(m, Reply::Stream(out)));
        });
        out.send(bytes.clone())
            .map_err(|_| UeError::Transport("TCP connection over the SA closed".into()))?;
        offer.tcp_c = Some((to, out));
        Ok(())
    }

    /// Sends a response to a P-CSCF request that has no recorded return path: from port-s to the
    /// P-CSCF's port-c over UDP.
    pub async fn send_fallback_response(&self, bytes: &Bytes) -> Result<()> {
        let Some(set) = self.sets.last() else {
            return Err(UeError::Ipsec("no SA set installed".into()));
        };
        let to = SocketAddr::new(self.dp.settings().pcscf, set.server.port_c);
        self.udp_s
            .send_to(bytes, to)
            .await
            .map(|_| ())
            .map_err(|e| UeError::Transport(format!("UDP send over the SA: {e}")))
    }
}

impl Drop for IpsecUe {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
        self.release_all(None);
        self.dp.release_port(self.port_s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_rules_match_the_pcscf_and_the_protected_ports_and_are_undone() {
        let mut s = IpsecSettings::new("10.0.0.2".parse().unwrap(), "10.0.0.1".parse().unwrap());
        s.tun = "imsue1".into();
        s.table = 100;
        s.ports = (30000, 30099);
        let c: Vec<String> = s.routing_commands().iter().map(|c| c.join(" ")).collect();
        assert_eq!(
            c,
            [
                "-4 route replace default dev imsue1 table 100",
                "-4 rule add to 10.0.0.2/32 ipproto udp sport 30000-30099 table 100",
                "-4 rule add to 10.0.0.2/32 ipproto tcp sport 30000-30099 table 100",
            ]
        );
        let d: Vec<String> = s.teardown_commands().iter().map(|c| c.join(" ")).collect();
        assert_eq!(
            d,
            [
                "-4 rule del to 10.0.0.2/32 ipproto udp sport 30000-30099 table 100",
                "-4 rule del to 10.0.0.2/32 ipproto tcp sport 30000-30099 table 100",
            ]
        );
        let v6 = IpsecSettings::new("fd00::2".parse().unwrap(), "fd00::1".parse().unwrap());
        assert!(v6.routing_commands()[1]
            .join(" ")
            .contains("to fd00::2/128"));
        assert_eq!(v6.routing_commands()[0][0], "-6");
        // the default range stays below Linux's ephemeral ports
        assert!(DEFAULT_PORTS.1 < 32768);
    }
}
