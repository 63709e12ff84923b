//! The sans-IO Diameter node: peers (RFC 6733 §5.6), capabilities exchange on inbound connections,
//! validation of incoming requests (§7), routing of outgoing requests (§6.1), answer matching,
//! per-request timeouts and failover (§5.5.4). The tokio [`crate::node`] only moves bytes and time.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

use crate::avp::Avp;
use crate::avp_code as c;
use crate::capabilities::{LocalIdentity, PeerCapabilities};
use crate::command;
use crate::dictionary::Dictionary;
use crate::error::{Error, Result};
use crate::framing::Frame;
use crate::ids::Ids;
use crate::message::{Message, FLAG_RETRANSMIT};
use crate::peer::{ConnId, Peer, PeerAction, PeerState, PeerStats, Timers};
use crate::result_code as rc;
use crate::router::{Pending, PendingTable, RequestId, Route, RouteTable};

/// Upper bound on peers (configured plus learned from CERs), so unknown hosts cannot grow the table
/// without limit.
pub const MAX_PEERS: usize = 4096;

/// A configured peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerConfig {
    /// The peer's Origin-Host.
    pub host: String,
    /// Where to connect (None: only accept its connections).
    pub addr: Option<SocketAddr>,
    /// Whether we initiate the connection.
    pub connect: bool,
}

/// Configuration of the sans-IO node.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Our identity and applications.
    pub local: LocalIdentity,
    /// Known peers.
    pub peers: Vec<PeerConfig>,
    /// Realm routes.
    pub routes: Vec<Route>,
    /// Default route (peer hosts), used when no realm route matches.
    pub default_route: Vec<String>,
    /// Peer timers.
    pub timers: Timers,
    /// Per-request answer timeout.
    pub request_timeout: Duration,
    /// Dictionary for validating incoming requests.
    pub dictionary: Dictionary,
    /// Accept CERs from hosts not in `peers` (they become responder-only peers).
    pub accept_unknown_peers: bool,
    /// Seed for ids and jitter.
    pub seed: u64,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            local: LocalIdentity::default(),
            peers: vec![],
            routes: vec![],
            default_route: vec![],
            timers: Timers::default(),
            request_timeout: Duration::from_secs(5),
            dictionary: Dictionary::base(),
            accept_unknown_peers: true,
            seed: 0x5eed,
        }
    }
}

/// A snapshot of one peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerInfo {
    /// RFC 6733 §5.6 state.
    pub state: PeerState,
    /// Open and not suspect.
    pub usable: bool,
    /// Counters.
    pub stats: PeerStats,
    /// What it advertised in CER/CEA.
    pub capabilities: Option<PeerCapabilities>,
}

/// What the engine asks its driver to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Open a connection to `peer` at `addr`; report `connected` or `connect_failed`.
    Connect {
        /// Peer host.
        peer: String,
        /// Address.
        addr: SocketAddr,
    },
    /// Write a message on a connection.
    Send {
        /// Connection.
        conn: ConnId,
        /// Message.
        msg: Message,
    },
    /// Close a connection.
    Close {
        /// Connection.
        conn: ConnId,
    },
    /// A validated application request for the local handler; answer with [`Engine::answer`].
    Request {
        /// Connection it came on.
        conn: ConnId,
        /// Peer host it came from.
        peer: String,
        /// The request.
        request: Message,
    },
    /// The outcome of a local request.
    Complete {
        /// The id given to [`Engine::request`].
        id: RequestId,
        /// The answer, or why there is none.
        result: Result<Message>,
    },
    /// A peer became open.
    PeerUp {
        /// Peer host.
        peer: String,
    },
    /// A peer went down.
    PeerDown {
        /// Peer host.
        peer: String,
    },
}

/// The node's state machine.
#[derive(Debug)]
pub struct Engine {
    cfg: EngineConfig,
    peers: Vec<Peer>,
    addrs: Vec<Option<SocketAddr>>,
    routes: RouteTable,
    conn_peer: HashMap<ConnId, usize>,
    unassoc: HashMap<ConnId, Instant>,
    pending: PendingTable,
    ids: Ids,
    actions: VecDeque<Action>,
    generation: u64,
}

impl Engine {
    /// A new engine (nothing happens until [`Engine::start`]).
    pub fn new(cfg: EngineConfig) -> Engine {
        let mut peers = Vec::new();
        let mut addrs = Vec::new();
        for (i, p) in cfg.peers.iter().enumerate() {
            peers.push(Peer::new(
                p.host.clone(),
                p.connect && p.addr.is_some(),
                cfg.timers,
                cfg.seed.wrapping_add(i as u64),
            ));
            addrs.push(p.addr);
        }
        let routes = RouteTable::new(cfg.routes.clone(), cfg.default_route.clone());
        let ids = Ids::new(cfg.seed, SystemTime::now());
        Engine {
            cfg,
            peers,
            addrs,
            routes,
            conn_peer: HashMap::new(),
            unassoc: HashMap::new(),
            pending: PendingTable::default(),
            ids,
            actions: VecDeque::new(),
            generation: 0,
        }
    }

    /// Our identity.
    pub fn local(&self) -> &LocalIdentity {
        &self.cfg.local
    }

    /// Start every initiating peer.
    pub fn start(&mut self, now: Instant) {
        for i in 0..self.peers.len() {
            if let Some(p) = self.peers.get_mut(i) {
                p.start(now);
            }
            self.drain_peer(i, now);
        }
    }

    /// Stop: DPR to every open peer (RFC 6733 §5.4), no reconnects.
    pub fn stop(&mut self, now: Instant) {
        for i in 0..self.peers.len() {
            if let Some(p) = self.peers.get_mut(i) {
                p.stop(0, &self.cfg.local, &mut self.ids, now);
            }
            self.drain_peer(i, now);
        }
        for conn in self.unassoc.drain().map(|(c, _)| c).collect::<Vec<_>>() {
            self.actions.push_back(Action::Close { conn });
        }
    }

    /// Whether every peer is closed (after `stop`).
    pub fn all_closed(&self) -> bool {
        self.peers.iter().all(|p| p.state() == PeerState::Closed)
    }

    /// State of the peer `host`.
    pub fn peer_state(&self, host: &str) -> Option<PeerState> {
        self.peer_index(host)
            .and_then(|i| self.peers.get(i))
            .map(Peer::state)
    }

    /// Every peer's state.
    pub fn peer_states(&self) -> HashMap<String, PeerState> {
        self.peers
            .iter()
            .map(|p| (p.host.clone(), p.state()))
            .collect()
    }

    /// Changes whenever peer states or counters may have changed (to skip redundant snapshots).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// A snapshot of every peer.
    pub fn peer_infos(&self) -> HashMap<String, PeerInfo> {
        self.peers
            .iter()
            .map(|p| {
                let info = PeerInfo {
                    state: p.state(),
                    usable: p.is_usable(),
                    stats: p.stats(),
                    capabilities: p.capabilities().cloned(),
                };
                (p.host.clone(), info)
            })
            .collect()
    }

    /// The peer `host`.
    pub fn peer(&self, host: &str) -> Option<&Peer> {
        self.peer_index(host).and_then(|i| self.peers.get(i))
    }

    fn peer_index(&self, host: &str) -> Option<usize> {
        self.peers
            .iter()
            .position(|p| p.host.eq_ignore_ascii_case(host))
    }

    /// Next action for the driver.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// Earliest timer deadline.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let peers = self.peers.iter().filter_map(Peer::poll_timeout);
        let un = self.unassoc.values().copied();
        peers.chain(un).chain(self.pending.next_deadline()).min()
    }

    /// Number of requests waiting for answers.
    pub fn pending_requests(&self) -> usize {
        self.pending.len()
    }

    /// Our connection to `peer` is up.
    pub fn connected(&mut self, peer: &str, conn: ConnId, now: Instant) {
        let Some(i) = self.peer_index(peer) else {
            self.actions.push_back(Action::Close { conn });
            return;
        };
        self.conn_peer.insert(conn, i);
        if let Some(p) = self.peers.get_mut(i) {
            p.connected(conn, &self.cfg.local, &mut self.ids, now);
        }
        self.drain_peer(i, now);
    }

    /// Connecting to `peer` failed.
    pub fn connect_failed(&mut self, peer: &str, now: Instant) {
        if let Some(i) = self.peer_index(peer) {
            if let Some(p) = self.peers.get_mut(i) {
                p.connect_failed(&self.cfg.local, now);
            }
            self.drain_peer(i, now);
        }
    }

    /// A new inbound connection; it must send a CER within the CEA timeout.
    pub fn accepted(&mut self, conn: ConnId, now: Instant) {
        self.unassoc.insert(conn, now + self.cfg.timers.cea_timeout);
    }

    /// A connection closed (by the peer or after our `Close`).
    pub fn disconnected(&mut self, conn: ConnId, now: Instant) {
        self.unassoc.remove(&conn);
        if let Some(i) = self.conn_peer.remove(&conn) {
            if let Some(p) = self.peers.get_mut(i) {
                p.disconnected(conn, &self.cfg.local, now);
            }
            self.drain_peer(i, now);
        }
    }

    /// A frame arrived on `conn`.
    pub fn frame(&mut self, conn: ConnId, frame: Frame, now: Instant) {
        match frame {
            Frame::Message(m) => self.message(conn, m, now),
            Frame::Malformed { header, error } => {
                tracing::debug!(conn, %error, "malformed message");
                let is_req = header.flags & crate::message::FLAG_REQUEST != 0;
                if self.unassoc.contains_key(&conn) || !self.conn_peer.contains_key(&conn) {
                    self.close_conn(conn);
                } else if is_req {
                    let stub = Message {
                        header,
                        avps: vec![],
                    };
                    let local = &self.cfg.local;
                    let ans = stub.error_answer(&error, &local.origin_host, &local.origin_realm);
                    self.actions.push_back(Action::Send { conn, msg: ans });
                }
            }
        }
    }

    fn close_conn(&mut self, conn: ConnId) {
        self.unassoc.remove(&conn);
        self.conn_peer.remove(&conn);
        self.actions.push_back(Action::Close { conn });
    }

    fn message(&mut self, conn: ConnId, m: Message, now: Instant) {
        if self.unassoc.contains_key(&conn) {
            return self.first_message(conn, m, now);
        }
        let Some(&i) = self.conn_peer.get(&conn) else {
            return self.close_conn(conn);
        };
        if command::is_peer_command(m.command_code()) {
            self.generation += 1;
        }
        if let Some(p) = self.peers.get_mut(i) {
            p.received(conn, m, &self.cfg.local, now);
        }
        self.drain_peer(i, now);
    }

    /// The first message of an inbound connection must be a CER (RFC 6733 §5.6.1 R-Conn-CER).
    fn first_message(&mut self, conn: ConnId, m: Message, now: Instant) {
        self.unassoc.remove(&conn);
        if m.command_code() != command::CAPABILITIES_EXCHANGE || !m.is_request() {
            tracing::debug!(conn, "first message is not a CER; closing");
            return self.close_conn(conn);
        }
        let local = self.cfg.local.clone();
        let caps = match PeerCapabilities::parse(&m) {
            Ok(c) => c,
            Err(e) => {
                let mut cea = local.cea(&m, e.result_code());
                if let Some(f) = e.failed_avp() {
                    cea.push(Avp::grouped(c::FAILED_AVP, vec![f.clone()]));
                }
                self.actions.push_back(Action::Send { conn, msg: cea });
                return self.close_conn(conn);
            }
        };
        let i = match self.peer_index(&caps.origin_host) {
            Some(i) => i,
            None if self.cfg.accept_unknown_peers && self.peers.len() < MAX_PEERS => {
                let seed = self.cfg.seed.wrapping_add(self.peers.len() as u64);
                self.peers.push(Peer::new(
                    caps.origin_host.clone(),
                    false,
                    self.cfg.timers,
                    seed,
                ));
                self.addrs.push(None);
                self.peers.len() - 1
            }
            None => {
                let cea = local.cea(&m, rc::UNKNOWN_PEER);
                self.actions.push_back(Action::Send { conn, msg: cea });
                return self.close_conn(conn);
            }
        };
        self.conn_peer.insert(conn, i);
        if let Some(p) = self.peers.get_mut(i) {
            p.incoming_cer(conn, m, caps, &local, now);
        }
        self.drain_peer(i, now);
    }

    /// The local handler's answer to a request delivered on `conn`.
    pub fn answer(&mut self, conn: ConnId, mut msg: Message) {
        if !self.conn_peer.contains_key(&conn) {
            tracing::debug!(conn, "answer for a closed connection dropped");
            return;
        }
        self.fill_origin(&mut msg);
        self.actions.push_back(Action::Send { conn, msg });
    }

    fn fill_origin(&self, msg: &mut Message) {
        if msg.find(c::ORIGIN_HOST, 0).is_none() {
            msg.push(Avp::identity(c::ORIGIN_HOST, &self.cfg.local.origin_host));
        }
        if msg.find(c::ORIGIN_REALM, 0).is_none() {
            msg.push(Avp::identity(c::ORIGIN_REALM, &self.cfg.local.origin_realm));
        }
    }

    /// Send a local request; its outcome comes back as [`Action::Complete`] with `id`.
    pub fn request(&mut self, id: RequestId, msg: Message, now: Instant) {
        let t = self.cfg.request_timeout;
        self.request_with_timeout(id, msg, t, now)
    }

    /// [`Engine::request`] with its own answer timeout.
    pub fn request_with_timeout(
        &mut self,
        id: RequestId,
        mut msg: Message,
        timeout: Duration,
        now: Instant,
    ) {
        if !msg.is_request() {
            self.actions.push_back(Action::Complete {
                id,
                result: Err(Error::Misuse("not a request")),
            });
            return;
        }
        self.fill_origin(&mut msg);
        msg.header.hop_by_hop = self.ids.next_hop_by_hop();
        if msg.header.end_to_end == 0 {
            msg.header.end_to_end = self.ids.next_end_to_end();
        }
        let deadline = now + timeout;
        match self.choose_peer(&msg, &[]) {
            Some(i) => self.send_pending(Pending {
                id,
                request: msg,
                peer: i,
                tried: vec![i],
                deadline,
            }),
            None => {
                let why = format!(
                    "no open peer for Destination-Realm {:?} / Destination-Host {:?}",
                    msg.destination_realm(),
                    msg.destination_host()
                );
                self.actions.push_back(Action::Complete {
                    id,
                    result: Err(Error::UnableToDeliver(why)),
                });
            }
        }
    }

    fn send_pending(&mut self, p: Pending) {
        let hbh = p.request.header.hop_by_hop;
        let conn = match self.peers.get(p.peer).map(Peer::sending_conn) {
            Some(Ok(conn)) => conn,
            Some(Err(e)) => {
                return self.actions.push_back(Action::Complete {
                    id: p.id,
                    result: Err(e),
                })
            }
            None => return,
        };
        self.actions.push_back(Action::Send {
            conn,
            msg: p.request.clone(),
        });
        self.pending.insert(hbh, p);
    }

    /// Pick a usable peer: candidates from Destination-Host / routes / default route, then any peer
    /// whose advertised realm is the Destination-Realm.
    fn choose_peer(&self, msg: &Message, exclude: &[usize]) -> Option<usize> {
        let usable = |i: &usize| {
            !exclude.contains(i)
                && self
                    .peers
                    .get(*i)
                    .is_some_and(|p| p.is_usable() && supports(p, msg.application_id()))
        };
        let dest_realm = msg.destination_realm();
        for h in self.routes.candidates(msg.destination_host(), dest_realm) {
            if let Some(i) = self.peer_index(h).filter(usable) {
                return Some(i);
            }
        }
        let realm = dest_realm?;
        (0..self.peers.len()).filter(usable).find(|i| {
            self.peers
                .get(*i)
                .and_then(Peer::capabilities)
                .is_some_and(|c| c.origin_realm.eq_ignore_ascii_case(realm))
        })
    }

    /// Handle expired timers.
    pub fn handle_timeout(&mut self, now: Instant) {
        for i in 0..self.peers.len() {
            let due = self
                .peers
                .get(i)
                .and_then(Peer::poll_timeout)
                .is_some_and(|t| t <= now);
            if due {
                if let Some(p) = self.peers.get_mut(i) {
                    p.on_timer(&self.cfg.local, &mut self.ids, now);
                }
                self.drain_peer(i, now);
            }
        }
        let expired: Vec<ConnId> = self
            .unassoc
            .iter()
            .filter(|(_, t)| **t <= now)
            .map(|(c, _)| *c)
            .collect();
        for conn in expired {
            self.close_conn(conn);
        }
        for p in self.pending.expired(now) {
            self.actions.push_back(Action::Complete {
                id: p.id,
                result: Err(Error::Timeout),
            });
        }
    }

    /// Translate a peer's actions into engine actions.
    fn drain_peer(&mut self, i: usize, now: Instant) {
        while let Some(a) = self.peers.get_mut(i).and_then(Peer::poll_action) {
            if !matches!(a, PeerAction::Deliver(..)) {
                self.generation += 1;
            }
            let host = self
                .peers
                .get(i)
                .map(|p| p.host.clone())
                .unwrap_or_default();
            match a {
                PeerAction::Connect => match self.addrs.get(i).copied().flatten() {
                    Some(addr) => self.actions.push_back(Action::Connect { peer: host, addr }),
                    None => {
                        if let Some(p) = self.peers.get_mut(i) {
                            p.connect_failed(&self.cfg.local, now);
                        }
                    }
                },
                PeerAction::Send(conn, msg) => self.actions.push_back(Action::Send { conn, msg }),
                PeerAction::Close(conn) => {
                    self.conn_peer.remove(&conn);
                    self.actions.push_back(Action::Close { conn });
                }
                PeerAction::Up(_) => self.actions.push_back(Action::PeerUp { peer: host }),
                PeerAction::Suspect => self.failover(i, false, now),
                PeerAction::Down => {
                    self.actions.push_back(Action::PeerDown { peer: host });
                    self.failover(i, true, now);
                }
                PeerAction::Deliver(conn, msg) => self.deliver(i, conn, msg),
            }
        }
    }

    /// Move requests pending on peer `i` to alternate peers with the T bit (RFC 6733 §5.5.4).
    /// When none is available: if the peer is down the request fails with 3002, otherwise it stays.
    fn failover(&mut self, i: usize, down: bool, _now: Instant) {
        for hbh in self.pending.on_peer(i) {
            let Some(mut p) = self.pending.remove(hbh) else {
                continue;
            };
            match self.choose_peer(&p.request, &p.tried) {
                Some(j) => {
                    p.request.header.flags |= FLAG_RETRANSMIT;
                    p.peer = j;
                    p.tried.push(j);
                    tracing::debug!(hbh, from = i, to = j, "failover");
                    self.send_pending(p);
                }
                None if down => self.actions.push_back(Action::Complete {
                    id: p.id,
                    result: Err(Error::UnableToDeliver(
                        "peer went down and no alternate peer".into(),
                    )),
                }),
                None => self.pending.insert(hbh, p),
            }
        }
    }

    /// A non-base message from an open peer.
    fn deliver(&mut self, i: usize, conn: ConnId, msg: Message) {
        if !msg.is_request() {
            let hbh = msg.header.hop_by_hop;
            if self.pending.peer_of(hbh) == Some(i) {
                if let Some(p) = self.pending.remove(hbh) {
                    self.actions.push_back(Action::Complete {
                        id: p.id,
                        result: Ok(msg),
                    });
                }
            } else {
                tracing::debug!(hbh, "answer matches no pending request; dropped");
            }
            return;
        }
        let local = &self.cfg.local;
        let check = if !local.supports(msg.application_id()) {
            Err(Error::ApplicationUnsupported(msg.application_id()))
        } else {
            self.cfg.dictionary.validate(&msg)
        };
        match check {
            Ok(()) => {
                let peer = self
                    .peers
                    .get(i)
                    .map(|p| p.host.clone())
                    .unwrap_or_default();
                self.actions.push_back(Action::Request {
                    conn,
                    peer,
                    request: msg,
                });
            }
            Err(e) => {
                let ans = msg.error_answer(&e, &local.origin_host, &local.origin_realm);
                self.actions.push_back(Action::Send { conn, msg: ans });
            }
        }
    }
}

fn supports(p: &Peer, app: u32) -> bool {
    p.common_applications()
        .iter()
        .any(|a| *a == app || *a == command::APP_RELAY)
}
