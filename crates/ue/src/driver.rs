//! The tokio driver of the sans-IO [`Ue`]: sockets (UDP and TCP, RFC 3261 §18), the non-INVITE
//! client transaction of RFC 3261 §17.1.2 (Timer E retransmissions over UDP, Timer F timeout),
//! the machine's timers, persistence of the ISIM's SQN state (`--state FILE`) and the `--trace`
//! ladder.
//!
//! A UE talks through a [`Wire`]: a way to send bytes to the P-CSCF and a channel of received
//! messages. [`Wire::udp`] and [`Wire::tcp`] give one UE its own socket; [`SharedUdp`] lets many
//! UEs (the load generator) share a few sockets, dispatching received messages by Call-ID.
//!
//! Security agreement: the machine asks for a protected flow with
//! [`Action::SetupSecurity`]; this driver has no IPsec/TLS layer yet and ends the UE with
//! [`Outcome::Failed`] when asked. The layer slots in at [`Wire`] (a protected sender beside the
//! unprotected one) and in the `SetupSecurity`/`ReleaseSecurity` arms of the action loop.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use sip::{Limits, Message, Method, StreamItem};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::{mpsc, watch};

use crate::error::{Result, UeError};
use crate::isim;
use crate::register::{Action, Event, Flow, TimerId, Ue};
use crate::trace::{self, Direction};

/// Largest UDP datagram read.
const MAX_DATAGRAM: usize = 65_535;

/// RFC 3261 §17.1.1.1 timer values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerConfig {
    /// T1, the RTT estimate (500 ms).
    pub t1: Duration,
    /// T2, the maximum retransmit interval for non-INVITE requests (4 s).
    pub t2: Duration,
}

impl Default for TimerConfig {
    fn default() -> Self {
        TimerConfig {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
        }
    }
}

impl TimerConfig {
    /// Timer F: 64·T1 (RFC 3261 §17.1.2.2).
    pub fn timer_f(&self) -> Duration {
        self.t1.saturating_mul(64)
    }
}

/// Transport to the P-CSCF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportKind {
    /// UDP (unreliable: the driver retransmits).
    Udp,
    /// TCP (reliable: no retransmissions).
    Tcp,
}

impl TransportKind {
    /// The Via transport token.
    pub fn via_token(self) -> &'static str {
        match self {
            TransportKind::Udp => "UDP",
            TransportKind::Tcp => "TCP",
        }
    }
}

/// Routes received messages of a shared socket to the UE that owns the Call-ID.
#[derive(Debug, Default)]
pub struct Router {
    routes: Mutex<HashMap<Bytes, mpsc::UnboundedSender<Message>>>,
}

impl Router {
    fn insert(&self, call_id: Bytes, tx: mpsc::UnboundedSender<Message>) {
        if let Ok(mut m) = self.routes.lock() {
            m.insert(call_id, tx);
        }
    }

    fn remove(&self, call_id: &[u8]) {
        if let Ok(mut m) = self.routes.lock() {
            m.remove(call_id);
        }
    }

    fn dispatch(&self, msg: Message) -> bool {
        let Ok(cid) = msg.call_id() else { return false };
        let tx = match self.routes.lock() {
            Ok(m) => m.get(cid.as_bytes()).cloned(),
            Err(_) => None,
        };
        match tx {
            Some(tx) => tx.send(msg).is_ok(),
            None => false,
        }
    }

    /// Call-IDs currently routed.
    pub fn len(&self) -> usize {
        self.routes.lock().map(|m| m.len()).unwrap_or(0)
    }

    /// True when no Call-ID is routed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// How a UE sends.
#[derive(Debug, Clone)]
enum Sender {
    Udp {
        sock: Arc<UdpSocket>,
        peer: SocketAddr,
    },
    Tcp(mpsc::UnboundedSender<Bytes>),
}

/// One UE's link to the P-CSCF: a sender and the messages received for it.
#[derive(Debug)]
pub struct Wire {
    sender: Sender,
    inbound: mpsc::UnboundedReceiver<Message>,
    local: SocketAddr,
    kind: TransportKind,
    shared: Option<(Arc<Router>, mpsc::UnboundedSender<Message>)>,
    routed: Vec<Bytes>,
    stray: u64,
}

impl Drop for Wire {
    fn drop(&mut self) {
        if let Some((router, _)) = &self.shared {
            for cid in &self.routed {
                router.remove(cid);
            }
        }
    }
}

/// The local address a socket towards `peer` should use (the loopback for a loopback peer, else
/// the address the routing table picks).
pub(crate) fn local_ip_for(peer: SocketAddr) -> IpAddr {
    if peer.ip().is_loopback() {
        return peer.ip();
    }
    let probe = std::net::UdpSocket::bind(match peer {
        SocketAddr::V4(_) => SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)),
        SocketAddr::V6(_) => SocketAddr::from((std::net::Ipv6Addr::UNSPECIFIED, 0)),
    });
    probe
        .and_then(|s| s.connect(peer).and_then(|_| s.local_addr()))
        .map(|a| a.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
}

/// Socket buffer asked for on shared sockets: thousands of UEs answer in bursts.
const SHARED_BUFFER: usize = 4 * 1024 * 1024;

/// A non-blocking UDP socket with large send and receive buffers (the kernel caps them at
/// `net.core.rmem_max` / `wmem_max`).
fn bind_large(addr: SocketAddr) -> std::io::Result<UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let s = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    let _ = s.set_recv_buffer_size(SHARED_BUFFER);
    let _ = s.set_send_buffer_size(SHARED_BUFFER);
    s.set_nonblocking(true)?;
    s.bind(&addr.into())?;
    UdpSocket::from_std(s.into())
}

fn io_err(what: &str, e: std::io::Error) -> UeError {
    UeError::Transport(format!("{what}: {e}"))
}

fn spawn_udp_reader(sock: Arc<UdpSocket>, deliver: impl Fn(Message) + Send + 'static) {
    tokio::spawn(async move {
        let mut buf = vec![0u8; MAX_DATAGRAM];
        loop {
            let n = match sock.recv_from(&mut buf).await {
                Ok((n, _)) => n,
                // ICMP port unreachable and the like: keep reading
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => continue,
                Err(_) => break,
            };
            if let Ok(msg) = Message::parse(Bytes::copy_from_slice(&buf[..n])) {
                deliver(msg);
            }
        }
    });
}

impl Wire {
    /// A UDP socket of its own towards `pcscf` (RFC 3261 §18.1.1), bound to an ephemeral port of
    /// the local address that reaches it.
    pub async fn udp(pcscf: SocketAddr) -> Result<Wire> {
        let sock = UdpSocket::bind(SocketAddr::new(local_ip_for(pcscf), 0))
            .await
            .map_err(|e| io_err("UDP bind", e))?;
        let local = sock.local_addr().map_err(|e| io_err("UDP socket", e))?;
        let sock = Arc::new(sock);
        let (tx, rx) = mpsc::unbounded_channel();
        spawn_udp_reader(sock.clone(), move |m| {
            let _ = tx.send(m);
        });
        Ok(Wire {
            sender: Sender::Udp { sock, peer: pcscf },
            inbound: rx,
            local,
            kind: TransportKind::Udp,
            shared: None,
            routed: Vec::new(),
            stray: 0,
        })
    }

    /// A TCP connection to `pcscf` (RFC 3261 §18.1.1), messages framed by Content-Length
    /// (§18.3). The connection closing ends the UE.
    pub async fn tcp(pcscf: SocketAddr) -> Result<Wire> {
        let stream = tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(pcscf))
            .await
            .map_err(|_| UeError::Transport(format!("TCP connect to {pcscf}: timed out")))?
            .map_err(|e| io_err(&format!("TCP connect to {pcscf}"), e))?;
        let _ = stream.set_nodelay(true);
        let local = stream.local_addr().map_err(|e| io_err("TCP socket", e))?;
        let (mut rd, mut wr) = stream.into_split();
        let (out_tx, mut out_rx) = mpsc::unbounded_channel::<Bytes>();
        tokio::spawn(async move {
            while let Some(b) = out_rx.recv().await {
                if wr.write_all(&b).await.is_err() {
                    break;
                }
            }
        });
        let (tx, rx) = mpsc::unbounded_channel();
        let pong = out_tx.clone();
        tokio::spawn(async move {
            let mut buf = BytesMut::with_capacity(16 * 1024);
            let limits = Limits::default();
            loop {
                match rd.read_buf(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                loop {
                    match sip::decode_stream(&mut buf, &limits) {
                        Ok(Some(StreamItem::Message(m))) => {
                            if tx.send(m).is_err() {
                                return;
                            }
                        }
                        Ok(Some(StreamItem::Ping)) => {
                            let _ = pong.send(Bytes::from_static(b"\r\n"));
                        }
                        Ok(Some(StreamItem::Pong)) => {}
                        Ok(None) => break,
                        // a stream that cannot be framed any more is closed (RFC 3261 §18.3)
                        Err(_) => return,
                    }
                }
            }
            // dropping tx tells the UE the connection is gone
        });
        Ok(Wire {
            sender: Sender::Tcp(out_tx),
            inbound: rx,
            local,
            kind: TransportKind::Tcp,
            shared: None,
            routed: Vec::new(),
            stray: 0,
        })
    }

    /// The local address to put in Via and Contact.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The transport.
    pub fn kind(&self) -> TransportKind {
        self.kind
    }

    fn route(&mut self, msg: &Message) {
        let Some((router, tx)) = &self.shared else {
            return;
        };
        let Ok(cid) = msg.call_id() else { return };
        let cid = Bytes::copy_from_slice(cid.as_bytes());
        if !self.routed.contains(&cid) {
            router.insert(cid.clone(), tx.clone());
            self.routed.push(cid);
        }
    }

    async fn send(&self, bytes: &Bytes) -> Result<()> {
        match &self.sender {
            Sender::Udp { sock, peer } => sock
                .send_to(bytes, *peer)
                .await
                .map(|_| ())
                .map_err(|e| io_err("UDP send", e)),
            Sender::Tcp(tx) => tx
                .send(bytes.clone())
                .map_err(|_| UeError::Transport("TCP connection closed".into())),
        }
    }
}

/// A few UDP sockets shared by many UEs (the load generator): each received message goes to the
/// UE that sent a request with its Call-ID.
#[derive(Debug, Clone)]
pub struct SharedUdp {
    socks: Vec<(Arc<UdpSocket>, SocketAddr)>,
    router: Arc<Router>,
    pcscf: SocketAddr,
    stray: Arc<std::sync::atomic::AtomicU64>,
}

impl SharedUdp {
    /// Binds `sockets` UDP sockets (at least one) towards `pcscf`.
    pub async fn bind(pcscf: SocketAddr, sockets: usize) -> Result<SharedUdp> {
        let router = Arc::new(Router::default());
        let stray = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let mut socks = Vec::new();
        for _ in 0..sockets.max(1) {
            let sock = bind_large(SocketAddr::new(local_ip_for(pcscf), 0))
                .map_err(|e| io_err("UDP bind", e))?;
            let local = sock.local_addr().map_err(|e| io_err("UDP socket", e))?;
            let sock = Arc::new(sock);
            let r = router.clone();
            let s = stray.clone();
            spawn_udp_reader(sock.clone(), move |m| {
                if !r.dispatch(m) {
                    s.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            });
            socks.push((sock, local));
        }
        Ok(SharedUdp {
            socks,
            router,
            pcscf,
            stray,
        })
    }

    /// A wire for UE number `n` (sockets are handed out round-robin).
    pub fn wire(&self, n: usize) -> Wire {
        let (sock, local) = self.socks[n % self.socks.len()].clone();
        let (tx, rx) = mpsc::unbounded_channel();
        Wire {
            sender: Sender::Udp {
                sock,
                peer: self.pcscf,
            },
            inbound: rx,
            local,
            kind: TransportKind::Udp,
            shared: Some((self.router.clone(), tx)),
            routed: Vec::new(),
            stray: 0,
        }
    }

    /// Messages received that matched no UE (late retransmissions, answers after a UE ended).
    pub fn stray(&self) -> u64 {
        self.stray.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// What the driver tells its caller while a UE runs.
#[derive(Debug, Clone)]
pub enum Report {
    /// One `--trace` ladder line.
    Trace(String),
    /// A registration attempt began (initial: the first REGISTER of a new registration).
    Registering {
        /// Initial registration (else a re-registration).
        initial: bool,
    },
    /// Registered (after an initial registration or a re-registration).
    Registered {
        /// Seconds granted.
        expires: u32,
        /// Initial registration (else a re-registration).
        initial: bool,
    },
    /// The final answer to a reg-event SUBSCRIBE (2xx: subscribed; else no reg event).
    SubscribeAnswered(u16),
    /// A request was retransmitted (RFC 3261 §17.1.2.2 Timer E).
    Retransmission,
    /// A de-registration began.
    Deregistering,
}

/// The failure reason of a UE whose stop signal came before it could start.
pub const STOPPED_BEFORE_START: &str = "stopped before starting";

/// How a UE run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Registered and stopped there (`once`).
    Registered,
    /// De-registered (after the stop signal, or by the network).
    Deregistered,
    /// Gave up: the reason.
    Failed(String),
}

/// Options of one UE run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Persist the ISIM's SQN state here after every accepted AUTN.
    pub state_file: Option<PathBuf>,
    /// RFC 3261 timers.
    pub timers: TimerConfig,
    /// Stop once registered and the reg-event subscription attempt is answered.
    pub once: bool,
    /// Produce [`Report::Trace`] lines.
    pub trace: bool,
}

/// A pending non-INVITE client transaction (RFC 3261 §17.1.2).
struct ClientTx {
    branch: String,
    method: Method,
    wire: Bytes,
    /// Next Timer E firing (None: reliable transport or proceeding without retransmit).
    retransmit_at: Option<Instant>,
    interval: Duration,
    /// Timer F.
    deadline: Instant,
}

fn branch_of(msg: &Message) -> Option<String> {
    msg.top_via()
        .ok()
        .and_then(|v| v.branch().map(|b| b.to_string()))
}

struct Runner<'a, F: FnMut(Report)> {
    ue: Ue,
    wire: Wire,
    opts: &'a RunOptions,
    report: F,
    timers: HashMap<TimerId, Instant>,
    txs: Vec<ClientTx>,
    registered_once: bool,
    reregistering: bool,
    deregistering: bool,
}

impl<F: FnMut(Report)> Runner<'_, F> {
    fn trace(&mut self, dir: Direction, msg: &Message, note: &str) {
        if self.opts.trace {
            let mut l = trace::line(dir, msg);
            l.push_str(note);
            (self.report)(Report::Trace(l));
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        let t = self.timers.values().copied().min();
        let x = self
            .txs
            .iter()
            .map(|t| t.retransmit_at.map_or(t.deadline, |r| r.min(t.deadline)))
            .min();
        match (t, x) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Executes actions; returns the outcome when the UE is done.
    async fn apply(&mut self, actions: Vec<Action>) -> Option<Outcome> {
        let mut done = None;
        for a in actions {
            match a {
                Action::Send { msg, flow } => {
                    if flow == Flow::Protected {
                        return Some(Outcome::Failed(
                            "security agreement is not supported yet (no IPsec/TLS layer)".into(),
                        ));
                    }
                    self.wire.route(&msg);
                    let bytes = msg.wire();
                    self.trace(Direction::Out, &msg, "");
                    if msg.is_request() {
                        let Some(method) = msg.method() else { continue };
                        if method == Method::Register {
                            let dereg = msg.expires().ok().flatten() == Some(0);
                            if dereg && !self.deregistering {
                                self.deregistering = true;
                                (self.report)(Report::Deregistering);
                            } else if msg.cseq().map(|c| c.seq).unwrap_or(0) == 1 {
                                (self.report)(Report::Registering { initial: true });
                            }
                        }
                        let now = Instant::now();
                        let t1 = self.opts.timers.t1;
                        self.txs.retain(|t| t.method != method);
                        self.txs.push(ClientTx {
                            branch: branch_of(&msg).unwrap_or_default(),
                            method,
                            wire: bytes.clone(),
                            retransmit_at: (self.wire.kind == TransportKind::Udp).then(|| now + t1),
                            interval: t1,
                            deadline: now + self.opts.timers.timer_f(),
                        });
                    }
                    if let Err(e) = self.wire.send(&bytes).await {
                        return Some(Outcome::Failed(e.to_string()));
                    }
                }
                Action::ArmTimer { id, at } => {
                    self.timers.insert(id, at);
                }
                Action::CancelTimer(id) => {
                    self.timers.remove(&id);
                }
                Action::SetupSecurity(_) => {
                    // the IPsec/TLS layer of the security-agreement issue plugs in here
                    return Some(Outcome::Failed(
                        "security agreement is not supported yet (no IPsec/TLS layer)".into(),
                    ));
                }
                Action::ReleaseSecurity => {}
                Action::SaveSqnState(state) => {
                    if let Some(p) = &self.opts.state_file {
                        if let Err(e) = isim::save_state(p, &state) {
                            return Some(Outcome::Failed(e.to_string()));
                        }
                    }
                }
                Action::Registered { expires, .. } => {
                    let initial = !self.reregistering;
                    self.reregistering = false;
                    self.registered_once = true;
                    (self.report)(Report::Registered { expires, initial });
                }
                Action::Failed { reason } => done = Some(Outcome::Failed(reason)),
                Action::Deregistered => done = Some(Outcome::Deregistered),
            }
        }
        if done.is_none() && self.opts.once && self.registered_once && self.txs.is_empty() {
            done = Some(Outcome::Registered);
        }
        done
    }

    async fn feed(&mut self, ev: Event) -> Option<Outcome> {
        let actions = self.ue.handle(ev, Instant::now());
        self.apply(actions).await
    }

    async fn on_message(&mut self, msg: Message) -> Option<Outcome> {
        if msg.is_request() {
            self.trace(Direction::In, &msg, "");
            return self.feed(Event::Request(msg)).await;
        }
        let (Some(code), Ok(cseq)) = (msg.status(), msg.cseq()) else {
            return None;
        };
        let branch = branch_of(&msg);
        // RFC 3261 §17.1.3: match on the top Via branch and the CSeq method
        let Some(i) = self
            .txs
            .iter()
            .position(|t| Some(&t.branch) == branch.as_ref() && t.method == cseq.method)
        else {
            self.wire.stray += 1;
            self.trace(Direction::In, &msg, "  (no transaction: ignored)");
            return None;
        };
        self.trace(Direction::In, &msg, "");
        if code < 200 {
            // Proceeding: retransmit at T2 (§17.1.2.2)
            let t2 = self.opts.timers.t2;
            if let Some(tx) = self.txs.get_mut(i) {
                if tx.retransmit_at.is_some() {
                    tx.interval = t2;
                    tx.retransmit_at = Some(Instant::now() + t2);
                }
            }
            return None;
        }
        self.txs.remove(i);
        if cseq.method == Method::Subscribe {
            (self.report)(Report::SubscribeAnswered(code));
        }
        self.feed(Event::Response(msg)).await
    }

    async fn on_deadline(&mut self) -> Option<Outcome> {
        let now = Instant::now();
        let due: Vec<TimerId> = self
            .timers
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            self.timers.remove(&id);
            if id == TimerId::Reregister {
                self.reregistering = true;
                (self.report)(Report::Registering { initial: false });
            }
            if let Some(o) = self.feed(Event::TimerFired(id)).await {
                return Some(o);
            }
        }
        let mut timed_out = Vec::new();
        let mut resend = Vec::new();
        let t2 = self.opts.timers.t2;
        self.txs.retain_mut(|t| {
            if t.deadline <= now {
                timed_out.push(t.method.clone());
                return false;
            }
            if let Some(at) = t.retransmit_at {
                if at <= now {
                    // Timer E doubles up to T2
                    t.interval = (t.interval * 2).min(t2);
                    t.retransmit_at = Some(now + t.interval);
                    resend.push(t.wire.clone());
                }
            }
            true
        });
        for b in resend {
            (self.report)(Report::Retransmission);
            if self.opts.trace {
                if let Ok(m) = Message::parse(b.clone()) {
                    self.trace(Direction::Out, &m, "  (retransmission)");
                }
            }
            if let Err(e) = self.wire.send(&b).await {
                return Some(Outcome::Failed(e.to_string()));
            }
        }
        for m in timed_out {
            if let Some(o) = self.feed(Event::Timeout(m)).await {
                return Some(o);
            }
        }
        None
    }
}

/// Runs one UE until it is done: registers, keeps the registration (re-registering, answering
/// NOTIFYs), and de-registers when `stop` becomes true. With [`RunOptions::once`] it returns as
/// soon as it is registered and its reg-event SUBSCRIBE is answered. `report` sees every
/// [`Report`]. After `stop`, de-registration is bounded by Timer F.
pub async fn run<F: FnMut(Report)>(
    ue: Ue,
    wire: Wire,
    opts: &RunOptions,
    mut stop: watch::Receiver<bool>,
    report: F,
) -> Outcome {
    let mut r = Runner {
        ue,
        wire,
        opts,
        report,
        timers: HashMap::new(),
        txs: Vec::new(),
        registered_once: false,
        reregistering: false,
        deregistering: false,
    };
    if *stop.borrow() {
        return Outcome::Failed(STOPPED_BEFORE_START.into());
    }
    if let Some(o) = r.feed(Event::Start).await {
        return o;
    }
    let mut stopping = false;
    loop {
        let next = r.next_deadline();
        let sleep = async {
            match next {
                Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
                None => std::future::pending::<()>().await,
            }
        };
        let out = tokio::select! {
            changed = stop.changed(), if !stopping => {
                if changed.is_err() || *stop.borrow() {
                    stopping = true;
                    r.feed(Event::Stop).await
                } else {
                    None
                }
            }
            m = r.wire.inbound.recv() => match m {
                Some(m) => r.on_message(m).await,
                None => Some(Outcome::Failed("connection to the P-CSCF closed".into())),
            },
            _ = sleep => r.on_deadline().await,
        };
        if let Some(o) = out {
            return o;
        }
    }
}
