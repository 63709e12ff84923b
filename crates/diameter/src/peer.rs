//! The peer state machine of RFC 6733 §5.6 (with the election of §5.6.4) and the transport
//! watchdog of RFC 3539 §3.4 (DWR/DWA), as a sans-IO machine: inputs are events plus the current
//! time, outputs are [`PeerAction`]s (connect, send, close, up/down) and one timer deadline.
//!
//! The RFC 3539 states map as: INITIAL → first open (usable at once), OKAY/SUSPECT → [`Watchdog`],
//! DOWN → [`PeerState::Closed`] with a reconnect timer, REOPEN → [`Watchdog::Reopen`] after a
//! reconnection that follows a failure (usable after three DWAs).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::capabilities::{LocalIdentity, PeerCapabilities};
use crate::command;
use crate::error::Error;
use crate::ids::Ids;
use crate::message::Message;
use crate::result_code as rc;

/// Identifier the driver gives each transport connection.
pub type ConnId = u64;

/// States of RFC 6733 §5.6.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerState {
    /// No connection.
    Closed,
    /// Connecting (initiator side).
    WaitConnAck,
    /// CER sent, waiting for CEA.
    WaitICea,
    /// Connecting while a CER arrived from the peer on a responder connection.
    WaitConnAckElect,
    /// Election done and lost; waiting for the CEA on our connection.
    WaitReturns,
    /// Open on the responder connection.
    ROpen,
    /// Open on the initiator connection.
    IOpen,
    /// DPR sent, waiting for DPA.
    Closing,
}

/// RFC 3539 §3.4 watchdog state while open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Watchdog {
    /// Answers arrive.
    Okay,
    /// A DWR went unanswered for Tw: requests fail over to other peers.
    Suspect,
    /// Reconnected after a failure: not used until three DWAs arrived (RFC 3539 §3.4.1 REOPEN).
    Reopen,
}

/// Timer settings (RFC 3539 §3.4.1 Tw; RFC 6733 §2.1 Tc reconnect).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timers {
    /// Twinit, the watchdog interval (default 30 s; RFC 3539 says not below 6 s in production).
    pub watchdog: Duration,
    /// The jitter added to Tw: uniformly within ±`watchdog_jitter` (default 2 s).
    pub watchdog_jitter: Duration,
    /// How long to wait for a connection and then for the CEA.
    pub cea_timeout: Duration,
    /// How long to wait for the DPA.
    pub dpa_timeout: Duration,
    /// First reconnect delay; doubled after each failure…
    pub reconnect_min: Duration,
    /// …up to this.
    pub reconnect_max: Duration,
}

impl Default for Timers {
    fn default() -> Self {
        Timers {
            watchdog: Duration::from_secs(30),
            watchdog_jitter: Duration::from_secs(2),
            cea_timeout: Duration::from_secs(10),
            dpa_timeout: Duration::from_secs(5),
            reconnect_min: Duration::from_secs(1),
            reconnect_max: Duration::from_secs(30),
        }
    }
}

/// What the peer machine asks its driver to do.
#[derive(Debug, Clone, PartialEq)]
pub enum PeerAction {
    /// Open a transport connection to the peer; answer with `connected` or `connect_failed`.
    Connect,
    /// Send a message on a connection.
    Send(ConnId, Message),
    /// Close a connection.
    Close(ConnId),
    /// The peer is open on this connection (capabilities exchanged).
    Up(ConnId),
    /// The watchdog suspects the connection: fail pending requests over (RFC 3539 §3.4).
    Suspect,
    /// The peer is no longer usable.
    Down,
    /// A non-base message (application request or answer) arrived on the open connection.
    Deliver(ConnId, Message),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TimerKind {
    None,
    Reconnect,
    Connect,
    Cea,
    Watchdog,
    Dpa,
}

/// One peer: its state, its connections and its timers.
#[derive(Debug)]
pub struct Peer {
    /// Configured (or learned) Origin-Host of the peer.
    pub host: String,
    /// Whether we connect to it (otherwise we only accept).
    pub initiate: bool,
    state: PeerState,
    i_conn: Option<ConnId>,
    r_conn: Option<ConnId>,
    pending_cer: Option<Message>,
    timer: Option<Instant>,
    kind: TimerKind,
    wd: Watchdog,
    wd_pending: bool,
    num_dwa: i32,
    failed: bool,
    backoff: Duration,
    stopped: bool,
    caps: Option<PeerCapabilities>,
    common: Vec<u32>,
    timers: Timers,
    rng: u64,
    actions: VecDeque<PeerAction>,
    stats: PeerStats,
}

/// Counters of base-protocol traffic with one peer (for monitoring and tests).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PeerStats {
    /// DWRs received (and answered).
    pub dwr_received: u64,
    /// DWAs received.
    pub dwa_received: u64,
    /// Times the peer became open.
    pub opened: u64,
}

impl Peer {
    /// A peer in state Closed. `seed` drives the watchdog jitter (deterministic in tests).
    pub fn new(host: impl Into<String>, initiate: bool, timers: Timers, seed: u64) -> Peer {
        Peer {
            host: host.into(),
            initiate,
            state: PeerState::Closed,
            i_conn: None,
            r_conn: None,
            pending_cer: None,
            timer: None,
            kind: TimerKind::None,
            wd: Watchdog::Okay,
            wd_pending: false,
            num_dwa: 0,
            failed: false,
            backoff: timers.reconnect_min,
            stopped: false,
            caps: None,
            common: Vec::new(),
            timers,
            rng: seed | 1,
            actions: VecDeque::new(),
            stats: PeerStats::default(),
        }
    }

    /// Current state.
    pub fn state(&self) -> PeerState {
        self.state
    }
    /// Watchdog state.
    pub fn watchdog(&self) -> Watchdog {
        self.wd
    }
    /// Open (R-Open or I-Open).
    pub fn is_open(&self) -> bool {
        matches!(self.state, PeerState::ROpen | PeerState::IOpen)
    }
    /// Open and not suspect: requests may be routed here.
    pub fn is_usable(&self) -> bool {
        self.is_open() && self.wd == Watchdog::Okay
    }
    /// The connection in use while open.
    pub fn active_conn(&self) -> Option<ConnId> {
        match self.state {
            PeerState::IOpen => self.i_conn,
            PeerState::ROpen => self.r_conn,
            PeerState::Closing => self.i_conn.or(self.r_conn),
            _ => None,
        }
    }
    /// Whether `conn` belongs to this peer.
    pub fn owns(&self, conn: ConnId) -> bool {
        self.i_conn == Some(conn) || self.r_conn == Some(conn)
    }
    /// The capabilities the peer advertised.
    pub fn capabilities(&self) -> Option<&PeerCapabilities> {
        self.caps.as_ref()
    }
    /// Applications in common.
    pub fn common_applications(&self) -> &[u32] {
        &self.common
    }
    /// Traffic counters.
    pub fn stats(&self) -> PeerStats {
        self.stats
    }
    /// The next timer deadline.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timer
    }
    /// Next action to perform.
    pub fn poll_action(&mut self) -> Option<PeerAction> {
        self.actions.pop_front()
    }

    fn arm(&mut self, kind: TimerKind, at: Instant) {
        self.kind = kind;
        self.timer = Some(at);
    }
    fn disarm(&mut self) {
        self.kind = TimerKind::None;
        self.timer = None;
    }
    fn tw(&mut self) -> Duration {
        // xorshift64 for the RFC 3539 jitter.
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        let j = self.timers.watchdog_jitter.as_millis() as u64;
        let base = self.timers.watchdog.as_millis() as u64;
        let ms = if j == 0 {
            base
        } else {
            (base + self.rng % (2 * j + 1)).saturating_sub(j)
        };
        Duration::from_millis(ms.max(1))
    }
    fn arm_watchdog(&mut self, now: Instant) {
        let tw = self.tw();
        self.arm(TimerKind::Watchdog, now + tw);
    }
    fn schedule_reconnect(&mut self, now: Instant) {
        self.state = PeerState::Closed;
        if self.initiate && !self.stopped {
            let d = self.backoff;
            self.backoff = (self.backoff * 2).min(self.timers.reconnect_max);
            self.arm(TimerKind::Reconnect, now + d);
        } else {
            self.disarm();
        }
    }
    fn go_open(&mut self, state: PeerState, conn: ConnId, now: Instant) {
        self.state = state;
        self.wd_pending = false;
        self.backoff = self.timers.reconnect_min;
        self.stats.opened += 1;
        if self.failed {
            // REOPEN: probe at once, count DWAs.
            self.wd = Watchdog::Reopen;
            self.num_dwa = 0;
            self.arm(TimerKind::Watchdog, now);
        } else {
            self.wd = Watchdog::Okay;
            self.arm_watchdog(now);
        }
        self.failed = false;
        self.actions.push_back(PeerAction::Up(conn));
    }
    fn go_down(&mut self, now: Instant) {
        let was_open = matches!(
            self.state,
            PeerState::ROpen | PeerState::IOpen | PeerState::Closing
        );
        if matches!(self.state, PeerState::ROpen | PeerState::IOpen) {
            self.failed = true;
        }
        for c in [self.i_conn.take(), self.r_conn.take()]
            .into_iter()
            .flatten()
        {
            self.actions.push_back(PeerAction::Close(c));
        }
        self.pending_cer = None;
        if was_open {
            self.actions.push_back(PeerAction::Down);
        }
        self.schedule_reconnect(now);
    }

    /// Begin (Start event): connect if we are the initiator.
    pub fn start(&mut self, now: Instant) {
        self.stopped = false;
        if self.initiate && self.state == PeerState::Closed {
            self.state = PeerState::WaitConnAck;
            self.arm(TimerKind::Connect, now + self.timers.cea_timeout);
            self.actions.push_back(PeerAction::Connect);
        }
    }

    /// I-Rcv-Conn-Ack: our connection is up.
    pub fn connected(&mut self, conn: ConnId, local: &LocalIdentity, ids: &mut Ids, now: Instant) {
        match self.state {
            PeerState::WaitConnAck => {
                self.i_conn = Some(conn);
                self.send_cer(conn, local, ids);
                self.state = PeerState::WaitICea;
                self.arm(TimerKind::Cea, now + self.timers.cea_timeout);
            }
            PeerState::WaitConnAckElect => {
                self.i_conn = Some(conn);
                self.send_cer(conn, local, ids);
                self.state = PeerState::WaitReturns;
                self.arm(TimerKind::Cea, now + self.timers.cea_timeout);
                self.elect(local, now);
            }
            _ => self.actions.push_back(PeerAction::Close(conn)),
        }
    }

    /// I-Rcv-Conn-Nack: connecting failed.
    pub fn connect_failed(&mut self, local: &LocalIdentity, now: Instant) {
        match self.state {
            PeerState::WaitConnAck => self.schedule_reconnect(now),
            PeerState::WaitConnAckElect => self.answer_pending_cer(local, now),
            _ => {}
        }
    }

    fn send_cer(&mut self, conn: ConnId, local: &LocalIdentity, ids: &mut Ids) {
        let mut cer = local.cer();
        ids.stamp(&mut cer);
        self.actions.push_back(PeerAction::Send(conn, cer));
    }

    /// R-Snd-CEA for the stored CER and go to R-Open.
    fn answer_pending_cer(&mut self, local: &LocalIdentity, now: Instant) {
        match (self.pending_cer.take(), self.r_conn) {
            (Some(cer), Some(r)) => {
                self.actions
                    .push_back(PeerAction::Send(r, local.cea(&cer, rc::SUCCESS)));
                self.go_open(PeerState::ROpen, r, now);
            }
            _ => self.schedule_reconnect(now),
        }
    }

    /// §5.6.4 election: the side with the lexicographically higher Origin-Host keeps its responder
    /// connection.
    fn elect(&mut self, local: &LocalIdentity, now: Instant) {
        let peer_host = self
            .caps
            .as_ref()
            .map(|c| c.origin_host.as_str())
            .unwrap_or(&self.host);
        if local.origin_host.as_bytes() > peer_host.as_bytes() {
            // Win-Election: I-Disc, R-Snd-CEA.
            if let Some(i) = self.i_conn.take() {
                self.actions.push_back(PeerAction::Close(i));
            }
            self.answer_pending_cer(local, now);
        }
        // Lost: wait for the CEA on our connection (Wait-Returns).
    }

    /// R-Conn-CER: a CER arrived on a new inbound connection, attributed to this peer by its
    /// Origin-Host. The capabilities were already parsed by the caller.
    pub fn incoming_cer(
        &mut self,
        conn: ConnId,
        cer: Message,
        caps: PeerCapabilities,
        local: &LocalIdentity,
        now: Instant,
    ) {
        let common = match caps.check_common(local) {
            Ok(c) => c,
            Err(e) => {
                let cea = local.cea(&cer, e.result_code());
                self.actions.push_back(PeerAction::Send(conn, cea));
                self.actions.push_back(PeerAction::Close(conn));
                return;
            }
        };
        match self.state {
            PeerState::Closed => {
                self.caps = Some(caps);
                self.common = common;
                self.r_conn = Some(conn);
                self.pending_cer = Some(cer);
                self.answer_pending_cer(local, now);
            }
            PeerState::WaitConnAck => {
                self.caps = Some(caps);
                self.common = common;
                self.r_conn = Some(conn);
                self.pending_cer = Some(cer);
                self.state = PeerState::WaitConnAckElect;
            }
            PeerState::WaitICea => {
                self.caps = Some(caps);
                self.common = common;
                self.r_conn = Some(conn);
                self.pending_cer = Some(cer);
                self.state = PeerState::WaitReturns;
                self.elect(local, now);
            }
            _ => {
                // R-Reject: we already have a connection with this peer.
                let cea = local.cea(&cer, rc::UNABLE_TO_COMPLY);
                self.actions.push_back(PeerAction::Send(conn, cea));
                self.actions.push_back(PeerAction::Close(conn));
            }
        }
    }

    /// A message arrived on one of this peer's connections.
    pub fn received(&mut self, conn: ConnId, msg: Message, local: &LocalIdentity, now: Instant) {
        if !self.owns(conn) {
            self.actions.push_back(PeerAction::Close(conn));
            return;
        }
        let cmd = msg.command_code();
        match self.state {
            PeerState::WaitICea | PeerState::WaitReturns
                if Some(conn) == self.i_conn
                    && cmd == command::CAPABILITIES_EXCHANGE
                    && !msg.is_request() =>
            {
                self.on_cea(conn, msg, local, now)
            }
            PeerState::ROpen | PeerState::IOpen | PeerState::Closing
                if Some(conn) == self.active_conn() =>
            {
                self.on_open_message(conn, msg, local, now)
            }
            _ => {
                // Anything else before the capabilities exchange is a protocol violation: drop
                // that connection and continue as if it had gone away.
                self.actions.push_back(PeerAction::Close(conn));
                self.disconnected(conn, local, now);
            }
        }
    }

    fn on_cea(&mut self, conn: ConnId, cea: Message, local: &LocalIdentity, now: Instant) {
        let result = cea.result_code().unwrap_or(rc::UNABLE_TO_COMPLY);
        let caps = PeerCapabilities::parse(&cea);
        let ok = match (&caps, rc::is_success(result)) {
            (Ok(caps), true) => caps.check_common(local).ok(),
            _ => None,
        };
        match ok {
            Some(common) => {
                self.caps = caps.ok();
                self.common = common;
                if self.state == PeerState::WaitReturns {
                    // We lost the election: drop the responder connection.
                    if let Some(r) = self.r_conn.take() {
                        self.actions.push_back(PeerAction::Close(r));
                    }
                    self.pending_cer = None;
                }
                self.go_open(PeerState::IOpen, conn, now);
            }
            None => {
                tracing::warn!(peer = %self.host, result, "capabilities exchange rejected");
                self.i_conn = None;
                self.actions.push_back(PeerAction::Close(conn));
                if self.state == PeerState::WaitReturns {
                    self.answer_pending_cer(local, now);
                } else {
                    self.schedule_reconnect(now);
                }
            }
        }
    }

    fn on_open_message(&mut self, conn: ConnId, msg: Message, local: &LocalIdentity, now: Instant) {
        // Any traffic proves the connection alive (RFC 3539 §3.4: non-DWA also resets the timer).
        let is_dwa = msg.command_code() == command::DEVICE_WATCHDOG && !msg.is_request();
        match (self.state, self.wd) {
            (PeerState::Closing, _) => {}
            (_, Watchdog::Reopen) => {
                // REOPEN: only DWAs count; the timer is not reset by traffic.
                if is_dwa {
                    self.wd_pending = false;
                    self.num_dwa += 1;
                    if self.num_dwa >= 3 {
                        self.wd = Watchdog::Okay;
                        self.arm_watchdog(now);
                    }
                }
            }
            _ => {
                self.wd = Watchdog::Okay;
                if is_dwa {
                    self.wd_pending = false;
                }
                self.arm_watchdog(now);
            }
        }
        match (msg.command_code(), msg.is_request()) {
            (command::DEVICE_WATCHDOG, true) => {
                self.stats.dwr_received += 1;
                self.actions
                    .push_back(PeerAction::Send(conn, local.dwa(&msg)));
            }
            (command::DEVICE_WATCHDOG, false) => self.stats.dwa_received += 1,
            (command::DISCONNECT_PEER, true) => {
                self.actions
                    .push_back(PeerAction::Send(conn, local.dpa(&msg)));
                self.go_down(now);
                self.failed = false; // a graceful close, not a failure
            }
            (command::DISCONNECT_PEER, false) => {
                if self.state == PeerState::Closing {
                    self.go_down(now);
                }
            }
            (command::CAPABILITIES_EXCHANGE, true) => {
                // Re-negotiation is not supported: answer UNABLE_TO_COMPLY.
                let err = Error::Misuse("capabilities re-negotiation is not supported");
                let a = msg.error_answer(&err, &local.origin_host, &local.origin_realm);
                self.actions.push_back(PeerAction::Send(conn, a));
            }
            (command::CAPABILITIES_EXCHANGE, false) => {}
            _ => self.actions.push_back(PeerAction::Deliver(conn, msg)),
        }
    }

    /// The transport connection went away.
    pub fn disconnected(&mut self, conn: ConnId, local: &LocalIdentity, now: Instant) {
        if Some(conn) == self.i_conn {
            self.i_conn = None;
            match self.state {
                PeerState::WaitReturns => self.answer_pending_cer(local, now),
                PeerState::WaitICea | PeerState::IOpen => self.go_down(now),
                PeerState::Closing if self.r_conn.is_none() => self.go_down(now),
                _ => {}
            }
        } else if Some(conn) == self.r_conn {
            self.r_conn = None;
            match self.state {
                PeerState::WaitReturns => {
                    self.pending_cer = None;
                    self.state = PeerState::WaitICea;
                }
                PeerState::WaitConnAckElect => {
                    self.pending_cer = None;
                    self.state = PeerState::WaitConnAck;
                }
                PeerState::ROpen => self.go_down(now),
                PeerState::Closing if self.i_conn.is_none() => self.go_down(now),
                _ => {}
            }
        }
    }

    /// Timer expiry (call when `now >= poll_timeout()`).
    pub fn on_timer(&mut self, local: &LocalIdentity, ids: &mut Ids, now: Instant) {
        match self.timer {
            Some(t) if t <= now => {}
            _ => return,
        }
        match self.kind {
            TimerKind::None => self.disarm(),
            TimerKind::Reconnect => {
                self.disarm();
                self.start(now);
            }
            TimerKind::Connect | TimerKind::Cea => {
                if let Some(i) = self.i_conn.take() {
                    self.actions.push_back(PeerAction::Close(i));
                }
                if self.r_conn.is_some() && self.pending_cer.is_some() {
                    self.answer_pending_cer(local, now);
                } else {
                    self.go_down(now);
                }
            }
            TimerKind::Watchdog => {
                let Some(conn) = self.active_conn() else {
                    return self.go_down(now);
                };
                if self.wd == Watchdog::Reopen && self.wd_pending {
                    if self.num_dwa < 0 {
                        self.go_down(now);
                    } else {
                        self.num_dwa = -1;
                        self.arm_watchdog(now);
                    }
                } else if !self.wd_pending {
                    let mut dwr = local.dwr();
                    ids.stamp(&mut dwr);
                    self.actions.push_back(PeerAction::Send(conn, dwr));
                    self.wd_pending = true;
                    self.arm_watchdog(now);
                } else if self.wd == Watchdog::Okay {
                    self.wd = Watchdog::Suspect;
                    self.actions.push_back(PeerAction::Suspect);
                    self.arm_watchdog(now);
                } else {
                    self.go_down(now);
                }
            }
            TimerKind::Dpa => self.go_down(now),
        }
    }

    /// Stop: send DPR if open (graceful close, RFC 6733 §5.4), otherwise drop connections. No reconnect.
    pub fn stop(&mut self, cause: i32, local: &LocalIdentity, ids: &mut Ids, now: Instant) {
        self.stopped = true;
        match (self.state, self.active_conn()) {
            (PeerState::ROpen | PeerState::IOpen, Some(conn)) => {
                let mut dpr = local.dpr(cause);
                ids.stamp(&mut dpr);
                self.actions.push_back(PeerAction::Send(conn, dpr));
                self.state = PeerState::Closing;
                self.arm(TimerKind::Dpa, now + self.timers.dpa_timeout);
            }
            (PeerState::Closing, _) => {}
            _ => self.go_down(now),
        }
    }

    /// The connection to send an application message on (open peers only).
    pub fn sending_conn(&self) -> Result<ConnId, Error> {
        match (self.is_open(), self.active_conn()) {
            (true, Some(c)) => Ok(c),
            _ => Err(Error::UnableToDeliver(format!(
                "peer {} is not open",
                self.host
            ))),
        }
    }
}
