//! The transaction layer: owns every client and server transaction, matches incoming messages
//! to them (RFC 3261 §17.1.3, §17.2.3), multiplexes their timers and queues [`TxEvent`]s for the
//! transport (what to send where) and the transaction user (requests, responses, failures).
//! Sans-IO: time is passed in; [`TransactionLayer::next_timeout`] says when to call
//! [`TransactionLayer::on_timeout`].

use super::{
    ClientKey, ClientTransaction, Failure, ServerKey, ServerTransaction, TimerConfig, TxOutput,
};
use crate::flow::{connection_fallback, response_flow, Flow, Transport};
use crate::{Error, Result};
use bytes::Bytes;
use sip::{Editor, Message, Method};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::time::Instant;

/// Layer configuration.
#[derive(Debug, Clone, Copy)]
pub struct LayerConfig {
    /// T1/T2/T4/D.
    pub timers: TimerConfig,
    /// A request larger than this sent over UDP goes over TCP instead (RFC 3261 §18.1.1: 1300
    /// bytes when the path MTU is unknown).
    pub udp_mtu_threshold: usize,
    /// ipsec-3gpp protected ports (P-CSCF): UDP responses follow
    /// [`crate::flow::ProtectedPorts::reply_local`].
    pub protected_ports: Option<crate::flow::ProtectedPorts>,
}

impl Default for LayerConfig {
    fn default() -> Self {
        LayerConfig {
            timers: TimerConfig::default(),
            udp_mtu_threshold: 1300,
            protected_ports: None,
        }
    }
}

/// Either kind of transaction key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TxKey {
    /// A client transaction.
    Client(ClientKey),
    /// A server transaction.
    Server(ServerKey),
}

/// What the layer asks of its driver and its user.
#[derive(Debug, Clone)]
pub enum TxEvent {
    /// Send `data` on `flow`. If sending fails, report it with
    /// [`TransactionLayer::on_transport_error`] for `key`.
    Transmit {
        /// Transaction that sent it (none for stateless sends).
        key: Option<TxKey>,
        /// Where.
        flow: Flow,
        /// Wire bytes.
        data: Bytes,
    },
    /// A new request: a server transaction was created; answer with
    /// [`TransactionLayer::send_response`].
    Request {
        /// Its server transaction.
        key: ServerKey,
        /// The request.
        msg: Message,
        /// Where it came from.
        flow: Flow,
    },
    /// An ACK that matches no server transaction (the ACK for a 2xx, §17.1.1.3 / §13.2.2.4):
    /// the user handles it (a proxy forwards it statelessly, §16.11).
    Ack {
        /// The ACK.
        msg: Message,
        /// Where it came from.
        flow: Flow,
    },
    /// A response for a client transaction.
    Response {
        /// Its client transaction.
        key: ClientKey,
        /// The response.
        msg: Message,
        /// Where it came from.
        flow: Flow,
    },
    /// A response that matches no client transaction (§18.1.2: passed to the core; a proxy
    /// forwards 2xx retransmissions statelessly, §16.7).
    StrayResponse {
        /// The response.
        msg: Message,
        /// Where it came from.
        flow: Flow,
    },
    /// A transaction failed (timeout or transport error); for a client transaction the user acts
    /// as on a 408/503 ([`Failure::status`]).
    Failed {
        /// Which.
        key: TxKey,
        /// Why.
        failure: Failure,
    },
    /// A transaction ended and was removed.
    Terminated {
        /// Which.
        key: TxKey,
    },
}

struct ClientEntry {
    tx: ClientTransaction,
    flow: Flow,
}

struct ServerEntry {
    tx: ServerTransaction,
    /// Where the request came from.
    flow: Flow,
    /// Where responses go (§18.2.2).
    reply: Flow,
    /// Where they go once the request's TCP/TLS connection failed (§18.2.2), until used.
    fallback: Option<Flow>,
}

/// All transactions of one endpoint.
pub struct TransactionLayer {
    cfg: LayerConfig,
    clients: HashMap<ClientKey, ClientEntry>,
    servers: HashMap<ServerKey, ServerEntry>,
    timers: BinaryHeap<Reverse<(Instant, TxKey)>>,
    events: VecDeque<TxEvent>,
    /// §18.2.2 fallbacks of server transactions that ended on their final response before the
    /// driver could report that the connection was gone (a reliable non-INVITE ends at once):
    /// (fallback flow, last response), the most recent [`RECENT_FALLBACKS`] kept.
    recent: HashMap<ServerKey, (Flow, Bytes)>,
    recent_order: VecDeque<ServerKey>,
}

/// How many ended server transactions keep their §18.2.2 fallback (bounded memory).
pub const RECENT_FALLBACKS: usize = 4096;

impl TransactionLayer {
    /// An empty layer.
    pub fn new(cfg: LayerConfig) -> Self {
        TransactionLayer {
            cfg,
            clients: HashMap::new(),
            servers: HashMap::new(),
            timers: BinaryHeap::new(),
            events: VecDeque::new(),
            recent: HashMap::new(),
            recent_order: VecDeque::new(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &LayerConfig {
        &self.cfg
    }

    /// Number of live client and server transactions.
    pub fn len(&self) -> (usize, usize) {
        (self.clients.len(), self.servers.len())
    }

    /// A client transaction.
    pub fn client(&self, key: &ClientKey) -> Option<&ClientTransaction> {
        self.clients.get(key).map(|e| &e.tx)
    }

    /// The flow a client transaction sends on.
    pub fn client_flow(&self, key: &ClientKey) -> Option<Flow> {
        self.clients.get(key).map(|e| e.flow)
    }

    /// A server transaction.
    pub fn server(&self, key: &ServerKey) -> Option<&ServerTransaction> {
        self.servers.get(key).map(|e| &e.tx)
    }

    /// The flow a server transaction's request arrived on.
    pub fn server_flow(&self, key: &ServerKey) -> Option<Flow> {
        self.servers.get(key).map(|e| e.flow)
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<TxEvent> {
        self.events.pop_front()
    }

    /// When [`TransactionLayer::on_timeout`] should next be called.
    pub fn next_timeout(&mut self) -> Option<Instant> {
        while let Some(Reverse((at, key))) = self.timers.peek() {
            let live = match key {
                TxKey::Client(k) => self.clients.get(k).and_then(|e| e.tx.next_timeout()),
                TxKey::Server(k) => self.servers.get(k).and_then(|e| e.tx.next_timeout()),
            };
            match live {
                Some(t) if t <= *at => return Some(*at),
                _ => {
                    // stale entry (timer moved or transaction gone)
                    self.timers.pop();
                }
            }
        }
        None
    }

    fn arm(&mut self, key: TxKey) {
        let next = match &key {
            TxKey::Client(k) => self.clients.get(k).and_then(|e| e.tx.next_timeout()),
            TxKey::Server(k) => self.servers.get(k).and_then(|e| e.tx.next_timeout()),
        };
        if let Some(at) = next {
            self.timers.push(Reverse((at, key)));
        }
    }

    fn apply(&mut self, key: TxKey, flow: Flow, outs: Vec<TxOutput>, resp_flow: Option<Flow>) {
        let mut terminated = false;
        for o in outs {
            match o {
                TxOutput::Transmit(data) => self.events.push_back(TxEvent::Transmit {
                    key: Some(key.clone()),
                    flow,
                    data,
                }),
                TxOutput::Response(msg) => {
                    if let TxKey::Client(k) = &key {
                        self.events.push_back(TxEvent::Response {
                            key: k.clone(),
                            msg,
                            flow: resp_flow.unwrap_or(flow),
                        });
                    }
                }
                TxOutput::Failed(failure) => self.events.push_back(TxEvent::Failed {
                    key: key.clone(),
                    failure,
                }),
                TxOutput::Terminated => terminated = true,
            }
        }
        if terminated {
            match &key {
                TxKey::Client(k) => {
                    self.clients.remove(k);
                }
                TxKey::Server(k) => {
                    if let Some(e) = self.servers.remove(k) {
                        if let (Some(fb), Some(data)) = (e.fallback, e.tx.last_response()) {
                            self.remember_fallback(k.clone(), fb, data.clone());
                        }
                    }
                }
            }
            self.events.push_back(TxEvent::Terminated { key });
        } else {
            self.arm(key);
        }
    }

    fn remember_fallback(&mut self, key: ServerKey, fallback: Flow, data: Bytes) {
        if self.recent.insert(key.clone(), (fallback, data)).is_none() {
            self.recent_order.push_back(key);
        }
        while self.recent_order.len() > RECENT_FALLBACKS {
            if let Some(old) = self.recent_order.pop_front() {
                self.recent.remove(&old);
            }
        }
    }

    /// Feeds a received message. Requests create or match server transactions; responses match
    /// client transactions. An `Err` means the message lacks what matching needs (top Via, CSeq,
    /// From): answer a request with `e.status()` if possible, drop a response.
    pub fn on_message(&mut self, msg: Message, flow: Flow, now: Instant) -> Result<()> {
        if msg.is_request() {
            self.on_request(msg, flow, now)
        } else {
            let key = ClientKey::from_message(&msg)?;
            match self.clients.get_mut(&key) {
                Some(e) => {
                    let tx_flow = e.flow;
                    let outs = e.tx.on_response(msg, now);
                    self.apply(TxKey::Client(key), tx_flow, outs, Some(flow));
                }
                None => self.events.push_back(TxEvent::StrayResponse { msg, flow }),
            }
            Ok(())
        }
    }

    fn on_request(&mut self, msg: Message, flow: Flow, now: Instant) -> Result<()> {
        let key = ServerKey::from_request(&msg)?;
        let is_ack = msg.method() == Some(Method::Ack);
        if let Some(e) = self.servers.get_mut(&key) {
            let matches = match (&key, is_ack) {
                // RFC 2543 ACK: the To tag must be the one we sent (§17.2.3).
                (ServerKey::Rfc2543 { .. }, true) => {
                    let tag = msg.to().ok().and_then(|t| t.tag().map(str::to_string));
                    tag.as_deref() == e.tx.response_to_tag()
                }
                _ => true,
            };
            if matches {
                let reply = e.reply;
                let outs = e.tx.on_request(&msg, now);
                self.apply(TxKey::Server(key), reply, outs, None);
                return Ok(());
            }
        }
        if is_ack {
            self.events.push_back(TxEvent::Ack { msg, flow });
            return Ok(());
        }
        let mut reply = response_flow(&msg, &flow)?;
        if let Some(local) = self
            .cfg
            .protected_ports
            .and_then(|pp| pp.reply_local(&flow, &reply))
        {
            reply.local = local;
        }
        let fallback = if flow.conn.is_some() {
            connection_fallback(&msg, &flow)
        } else {
            None
        };
        let (tx, outs) = ServerTransaction::new(
            msg.clone(),
            flow.transport.is_reliable(),
            self.cfg.timers,
            now,
        );
        self.servers.insert(
            key.clone(),
            ServerEntry {
                tx,
                flow,
                reply,
                fallback,
            },
        );
        self.events.push_back(TxEvent::Request {
            key: key.clone(),
            msg,
            flow,
        });
        self.apply(TxKey::Server(key), reply, outs, None);
        Ok(())
    }

    /// Sends a response through a server transaction (to the address §18.2.2 / RFC 3581 give).
    pub fn send_response(&mut self, key: &ServerKey, resp: &Message, now: Instant) -> Result<()> {
        let e = self.servers.get_mut(key).ok_or(Error::NoTransaction)?;
        let reply = e.reply;
        let outs = e.tx.send_response(resp, now);
        self.apply(TxKey::Server(key.clone()), reply, outs, None);
        Ok(())
    }

    /// Removes a server transaction without answering it (the transaction user decided to drop
    /// the request); later retransmissions of the request create a new one.
    pub fn abandon_server(&mut self, key: &ServerKey) -> bool {
        if self.servers.remove(key).is_some() {
            self.events.push_back(TxEvent::Terminated {
                key: TxKey::Server(key.clone()),
            });
            true
        } else {
            false
        }
    }

    /// Starts a client transaction for `request` (top Via with a fresh RFC 3261 branch already in
    /// place) on `flow`. Over UDP, a request above [`LayerConfig::udp_mtu_threshold`] is sent
    /// over TCP instead and its top Via transport rewritten (RFC 3261 §18.1.1).
    pub fn send_request(
        &mut self,
        request: Message,
        mut flow: Flow,
        now: Instant,
    ) -> Result<ClientKey> {
        if !request.is_request() || request.method() == Some(Method::Ack) {
            return Err(Error::Usage("send_request needs a request other than ACK"));
        }
        let mut request = request;
        if flow.transport == Transport::Udp && request.wire().len() > self.cfg.udp_mtu_threshold {
            let mut ed = Editor::new(&request);
            let mut via = ed.pop_via()?;
            via.transport = "TCP".into();
            ed.push_via(&via)?;
            request = ed.finish()?;
            flow.transport = Transport::Tcp;
            flow.local.set_port(0);
            flow.conn = None;
        }
        let key = ClientKey::from_message(&request)?;
        if self.clients.contains_key(&key) {
            return Err(Error::Usage("a client transaction with this branch exists"));
        }
        let (tx, outs) =
            ClientTransaction::new(request, flow.transport.is_reliable(), self.cfg.timers, now);
        self.clients.insert(key.clone(), ClientEntry { tx, flow });
        self.apply(TxKey::Client(key.clone()), flow, outs, None);
        Ok(key)
    }

    /// Queues a send outside any transaction (ACK for 2xx, stateless forwarding, §16.11).
    pub fn send_stateless(&mut self, flow: Flow, data: Bytes) {
        self.events.push_back(TxEvent::Transmit {
            key: None,
            flow,
            data,
        });
    }

    /// The transport could not send for `key` (§17.1.1.2, §17.1.2.2, §17.2.4). For a server
    /// transaction whose request came on a TCP/TLS connection, the first failure is not final:
    /// the last response is sent again on a new connection to the Via sent-by (§18.2.2,
    /// [`connection_fallback`]), and responses keep going there; a failure there ends it.
    pub fn on_transport_error(&mut self, key: &TxKey) {
        match key {
            TxKey::Client(k) => {
                if let Some(e) = self.clients.get_mut(k) {
                    let flow = e.flow;
                    let outs = e.tx.on_transport_error();
                    self.apply(key.clone(), flow, outs, None);
                }
            }
            TxKey::Server(k) => {
                if let Some(e) = self.servers.get_mut(k) {
                    if let Some(fb) = e.fallback.take() {
                        if let Some(data) = e.tx.last_response().cloned() {
                            e.reply = fb;
                            self.events.push_back(TxEvent::Transmit {
                                key: Some(key.clone()),
                                flow: fb,
                                data,
                            });
                            return;
                        }
                    }
                    let flow = e.reply;
                    let outs = e.tx.on_transport_error();
                    self.apply(key.clone(), flow, outs, None);
                } else if let Some((fb, data)) = self.recent.remove(k) {
                    // already ended on its final response: send that on a new connection
                    self.recent_order.retain(|x| x != k);
                    self.events.push_back(TxEvent::Transmit {
                        key: None,
                        flow: fb,
                        data,
                    });
                }
            }
        }
    }

    /// Fires every timer due at `now`.
    pub fn on_timeout(&mut self, now: Instant) {
        while let Some(Reverse((at, _))) = self.timers.peek() {
            if *at > now {
                break;
            }
            let Some(Reverse((_, key))) = self.timers.pop() else {
                break;
            };
            match &key {
                TxKey::Client(k) => {
                    if let Some(e) = self.clients.get_mut(k) {
                        if e.tx.next_timeout().is_some_and(|t| t <= now) {
                            let flow = e.flow;
                            let outs = e.tx.on_timer(now);
                            self.apply(key, flow, outs, None);
                        }
                    }
                }
                TxKey::Server(k) => {
                    if let Some(e) = self.servers.get_mut(k) {
                        if e.tx.next_timeout().is_some_and(|t| t <= now) {
                            let flow = e.reply;
                            let outs = e.tx.on_timer(now);
                            self.apply(key, flow, outs, None);
                        }
                    }
                }
            }
        }
    }
}
