//! A transaction-stateful proxy (RFC 3261 §16.2): each forwarded request has a server
//! transaction upstream and a client transaction downstream; responses are relayed through them
//! (§16.7, one branch), CANCEL is answered and propagated (§16.10), ACK for 2xx and stray 2xx
//! are forwarded statelessly (§16.11). Routing decisions stay with the application: it takes
//! each [`ProxyRequest`] and calls [`StatefulProxy::forward`] or [`StatefulProxy::reject`].
//!
//! Timer C (§16.6 step 11, §16.7 step 2, §16.8) runs per forwarded INVITE: set to
//! [`crate::transaction::TimerConfig::timer_c`] when the INVITE is sent, reset by every 101–199,
//! cleared by a final response. When it fires and the branch had a provisional response, the
//! branch is CANCELled (§9.1) and given 64·T1 to answer, after which the proxy answers 408
//! upstream; without a provisional it is treated at once as a 408 (§16.8).
//!
//! Two additions serve applications that decide asynchronously ([`crate::service`]):
//! - *Response interception* ([`StatefulProxy::set_intercept_responses`]): final responses of
//!   the current branch, and the 408/503 the proxy would generate for it (§16.7 step 6, §16.8),
//!   are queued for the application ([`StatefulProxy::poll_response`]) instead of relayed; it
//!   relays (edited) with [`StatefulProxy::respond`] or tries another branch
//!   ([`StatefulProxy::forward_branch`], serial search, §16.7 step 6 / §16.6). A CANCEL for an
//!   INVITE not yet forwarded is answered 200 and the INVITE 487 (§16.10).
//! - *Originated requests* ([`StatefulProxy::originate`]): the proxy acting as a UAC (§8.1); the
//!   final response or failure of each is queued ([`StatefulProxy::poll_originated`]).

use super::core::{
    check_request, prepare_forward, strip_own_via, Prepared, ProxyConfig, Rejection,
};
use crate::flow::{via_destination, Flow};
use crate::transaction::{
    ClientKey, Failure, LayerConfig, ServerKey, TransactionLayer, TxEvent, TxKey,
};
use crate::{Error, Result};
use bytes::Bytes;
use sip::{Message, MessageBuilder, Method};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};
use std::time::Instant;

/// Timer C phase of one INVITE branch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TimerC {
    /// Waiting for a final response; fires at the instant.
    Running(Instant),
    /// Fired and the branch was CANCELled; 408 upstream at the instant if still unanswered.
    Cancelled(Instant),
}

impl TimerC {
    fn at(self) -> Instant {
        match self {
            TimerC::Running(t) | TimerC::Cancelled(t) => t,
        }
    }
}

/// A request the application must route.
#[derive(Debug, Clone)]
pub struct ProxyRequest {
    /// Its server transaction (`None` for an ACK to a 2xx, forwarded statelessly).
    pub key: Option<ServerKey>,
    /// The request as received (already checked by [`check_request`]).
    pub msg: Message,
    /// Where it came from.
    pub flow: Flow,
}

/// A final response (or local 408/503) of a forwarded branch, held for the application in
/// response-interception mode ([`StatefulProxy::set_intercept_responses`]).
#[derive(Debug, Clone)]
pub struct BranchResponse {
    /// The server transaction it answers.
    pub server: ServerKey,
    /// The branch (client transaction) it came from.
    pub branch: ClientKey,
    /// The response, our Via removed (§16.7 step 3); for a local one, built for the request.
    pub response: Message,
    /// True for a 408 (timeout, Timer C) or 503 (transport error) generated here (§16.7 step 6).
    pub local: bool,
    /// The application's value given with the branch.
    pub cookie: u64,
}

/// Sans-IO stateful proxy.
pub struct StatefulProxy {
    /// The transaction layer (exposed for inspection).
    pub layer: TransactionLayer,
    cfg: ProxyConfig,
    /// client transaction → server transaction it serves, and the application's cookie
    up: HashMap<ClientKey, (ServerKey, u64)>,
    /// server transaction → client transaction (for CANCEL)
    down: HashMap<ServerKey, ClientKey>,
    requests: VecDeque<ProxyRequest>,
    transmit: VecDeque<(Option<TxKey>, Flow, Bytes)>,
    /// Timer C per INVITE branch, and its (lazily cleaned) schedule.
    timer_c: HashMap<ClientKey, TimerC>,
    timer_c_heap: BinaryHeap<Reverse<(Instant, ClientKey)>>,
    /// Response-interception mode and its queue.
    intercept: bool,
    responses: VecDeque<BranchResponse>,
    /// Server transactions CANCELled upstream while a branch was out: no new branches (§16.10).
    cancelled: HashSet<ServerKey>,
    /// Client transactions we originated (UAC), and their outcomes.
    originated: HashSet<ClientKey>,
    outcomes: VecDeque<(ClientKey, std::result::Result<Message, Failure>)>,
}

impl StatefulProxy {
    /// A proxy with this identity and transaction settings.
    pub fn new(cfg: ProxyConfig, layer: LayerConfig) -> Self {
        StatefulProxy {
            layer: TransactionLayer::new(layer),
            cfg,
            up: HashMap::new(),
            down: HashMap::new(),
            requests: VecDeque::new(),
            transmit: VecDeque::new(),
            timer_c: HashMap::new(),
            timer_c_heap: BinaryHeap::new(),
            intercept: false,
            responses: VecDeque::new(),
            cancelled: HashSet::new(),
            originated: HashSet::new(),
            outcomes: VecDeque::new(),
        }
    }

    /// Timer C of an INVITE branch, if running (`Some(at)`; also the CANCEL wait after it fired).
    pub fn timer_c(&self, branch: &ClientKey) -> Option<Instant> {
        self.timer_c.get(branch).map(|t| t.at())
    }

    fn set_timer_c(&mut self, key: &ClientKey, t: TimerC) {
        self.timer_c.insert(key.clone(), t);
        self.timer_c_heap.push(Reverse((t.at(), key.clone())));
    }

    fn next_timer_c(&mut self) -> Option<Instant> {
        while let Some(Reverse((at, key))) = self.timer_c_heap.peek() {
            if self.timer_c.get(key).is_some_and(|t| t.at() == *at) {
                return Some(*at);
            }
            self.timer_c_heap.pop(); // stale
        }
        None
    }

    fn fire_timer_c(&mut self, now: Instant) {
        while let Some(at) = self.next_timer_c() {
            if at > now {
                break;
            }
            let Some(Reverse((_, ckey))) = self.timer_c_heap.pop() else {
                break;
            };
            let Some(phase) = self.timer_c.remove(&ckey) else {
                continue;
            };
            let proceeding = self.layer.client(&ckey).map(|c| c.state())
                == Some(crate::transaction::ClientState::Proceeding);
            match phase {
                TimerC::Running(_) if proceeding => {
                    // §16.8: CANCEL the branch; give it 64·T1 to answer (§9.1)
                    self.cancel_branch(&ckey, now);
                    let wait = self.layer.config().timers.t1x64();
                    self.set_timer_c(&ckey, TimerC::Cancelled(now + wait));
                }
                // §16.8: no provisional → as if a 408 was received; or the CANCELled branch
                // never answered
                _ => self.answer_upstream(&ckey, Failure::Timeout, now),
            }
        }
    }

    /// Response-interception mode (off by default): final responses of the current branch of
    /// each server transaction and the proxy's own 408/503 for it are queued for
    /// [`StatefulProxy::poll_response`] instead of relayed; a CANCEL for an INVITE the
    /// application has not forwarded yet is answered 200 and the INVITE 487 (§16.10).
    pub fn set_intercept_responses(&mut self, on: bool) {
        self.intercept = on;
    }

    /// The next intercepted final response.
    pub fn poll_response(&mut self) -> Option<BranchResponse> {
        self.responses.pop_front()
    }

    /// The next outcome of an originated request: its final response or its failure (Timer
    /// B/F → [`Failure::Timeout`], transport error → [`Failure::Transport`]).
    pub fn poll_originated(
        &mut self,
    ) -> Option<(ClientKey, std::result::Result<Message, Failure>)> {
        self.outcomes.pop_front()
    }

    /// Sends a request as a UAC through a new client transaction (retransmissions, Timer B/F;
    /// RFC 3261 §8.1, §17.1). `msg` carries its top Via with a fresh branch. Its final response
    /// or failure comes from [`StatefulProxy::poll_originated`]; provisional ones are dropped.
    pub fn originate(&mut self, msg: Message, flow: Flow, now: Instant) -> Result<ClientKey> {
        let key = self.layer.send_request(msg, flow, now)?;
        self.originated.insert(key.clone());
        self.pump(now);
        Ok(key)
    }

    /// Sends another branch for the server transaction `server` (a finished request with our Via
    /// and a branch not used before, e.g. after a 408/503, §16.7 step 6 / §16.6); it becomes the
    /// current branch (CANCEL goes there, its final response is intercepted). Fails if the server
    /// transaction is gone, already has a final response, or was CANCELled upstream (§16.10: no
    /// new branches after a CANCEL; answer it 487 then).
    pub fn forward_branch(
        &mut self,
        server: &ServerKey,
        msg: Message,
        flow: Flow,
        cookie: u64,
        now: Instant,
    ) -> Result<ClientKey> {
        let open = self
            .layer
            .server(server)
            .is_some_and(|s| s.last_status().is_none_or(|c| c < 200));
        if !open || self.cancelled.contains(server) {
            return Err(Error::NoTransaction);
        }
        let ckey = self.start_branch(server, msg, flow, cookie, now)?;
        self.pump(now);
        Ok(ckey)
    }

    fn start_branch(
        &mut self,
        server: &ServerKey,
        msg: Message,
        flow: Flow,
        cookie: u64,
        now: Instant,
    ) -> Result<ClientKey> {
        let invite = msg.method() == Some(Method::Invite);
        let ckey = self.layer.send_request(msg, flow, now)?;
        if invite {
            // §16.6 step 11
            let c = self.layer.config().timers.timer_c;
            self.set_timer_c(&ckey, TimerC::Running(now + c));
        }
        self.up.insert(ckey.clone(), (server.clone(), cookie));
        self.down.insert(server.clone(), ckey.clone());
        Ok(ckey)
    }

    /// Whether the upstream CANCELled this server transaction while a branch was out (§16.10).
    pub fn is_cancelled(&self, server: &ServerKey) -> bool {
        self.cancelled.contains(server)
    }

    /// Drops a request without answering: its server transaction is removed (a retransmission
    /// will be a new request).
    pub fn abandon(&mut self, server: &ServerKey, now: Instant) {
        self.layer.abandon_server(server);
        self.pump(now);
    }

    /// Entries held in the proxy's own maps (branch links, Timer C, queued responses, originated
    /// transactions and their outcomes): zero once everything finished and was polled.
    pub fn tracked(&self) -> usize {
        self.up.len()
            + self.down.len()
            + self.timer_c.len()
            + self.responses.len()
            + self.cancelled.len()
            + self.originated.len()
            + self.outcomes.len()
    }

    /// The configuration.
    pub fn config(&self) -> &ProxyConfig {
        &self.cfg
    }

    /// Feeds a received message.
    pub fn on_message(&mut self, msg: Message, flow: Flow, now: Instant) {
        if let Err(e) = self.layer.on_message(msg.clone(), flow, now) {
            // no usable Via/CSeq: answer statelessly if we can (it still has to route back)
            if msg.is_request() && msg.method() != Some(Method::Ack) {
                let rej = match e {
                    Error::Sip(s) => Rejection::from(s),
                    other => Rejection::new(other.status(), "Bad Request"),
                };
                if let (Ok(resp), Ok(to)) =
                    (rej.response_to(&msg), crate::response_flow(&msg, &flow))
                {
                    self.transmit.push_back((None, to, resp.wire()));
                }
            }
        }
        self.pump(now);
    }

    /// Fires due timers.
    pub fn on_timeout(&mut self, now: Instant) {
        self.layer.on_timeout(now);
        self.pump(now);
        self.fire_timer_c(now);
        self.pump(now);
    }

    /// When to call [`StatefulProxy::on_timeout`] (transaction timers and Timer C).
    pub fn next_timeout(&mut self) -> Option<Instant> {
        match (self.layer.next_timeout(), self.next_timer_c()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// A send failed.
    pub fn on_transport_error(&mut self, key: &TxKey, now: Instant) {
        self.layer.on_transport_error(key);
        self.pump(now);
    }

    /// The next request to route.
    pub fn poll_request(&mut self) -> Option<ProxyRequest> {
        self.requests.pop_front()
    }

    /// The next datagram/segment to send: (transaction to blame on failure, flow, bytes).
    pub fn poll_transmit(&mut self) -> Option<(Option<TxKey>, Flow, Bytes)> {
        self.transmit.pop_front()
    }

    /// §16.3–§16.6 for a request: [`prepare_forward`] with this proxy's config.
    pub fn prepare(&self, req: &ProxyRequest) -> std::result::Result<Prepared, Rejection> {
        prepare_forward(&req.msg, &req.flow, &self.cfg)
    }

    /// Sends a prepared request to `flow`: through a new client transaction linked to the
    /// request's server transaction, or statelessly for an ACK.
    pub fn forward(
        &mut self,
        req: &ProxyRequest,
        prepared: Prepared,
        flow: Flow,
        now: Instant,
    ) -> Result<()> {
        match &req.key {
            None => {
                let bytes = prepared.finish(flow.transport)?;
                self.transmit.push_back((None, flow, bytes));
            }
            Some(skey) => {
                let msg = prepared.finish_message(flow.transport)?;
                self.start_branch(skey, msg, flow, 0, now)?;
            }
        }
        self.pump(now);
        Ok(())
    }

    /// Answers a request locally (e.g. 404 when no route, 420, a registrar's response).
    pub fn respond(&mut self, key: &ServerKey, resp: &Message, now: Instant) -> Result<()> {
        self.layer.send_response(key, resp, now)?;
        self.pump(now);
        Ok(())
    }

    /// Rejects a request with `rej`.
    pub fn reject(&mut self, req: &ProxyRequest, rej: &Rejection, now: Instant) -> Result<()> {
        if let Some(k) = &req.key {
            let resp = rej.response_to(&req.msg)?;
            self.respond(k, &resp, now)?;
        }
        Ok(())
    }

    fn pump(&mut self, now: Instant) {
        while let Some(ev) = self.layer.poll_event() {
            match ev {
                TxEvent::Transmit { key, flow, data } => self.transmit.push_back((key, flow, data)),
                TxEvent::Request { key, msg, flow } => self.on_request(key, msg, flow, now),
                TxEvent::Ack { msg, flow } => {
                    if check_request(&msg, &self.cfg).is_ok() {
                        self.requests.push_back(ProxyRequest {
                            key: None,
                            msg,
                            flow,
                        });
                    }
                }
                TxEvent::Response { key, msg, .. } if self.originated.contains(&key) => {
                    if msg.status().is_some_and(|c| c >= 200) {
                        self.outcomes.push_back((key, Ok(msg)));
                    }
                }
                TxEvent::Failed {
                    key: TxKey::Client(key),
                    failure,
                } if self.originated.contains(&key) => {
                    self.outcomes.push_back((key, Err(failure)));
                }
                TxEvent::Response { key, msg, .. } => self.relay_response(&key, msg, now),
                TxEvent::StrayResponse { msg, .. } => self.forward_stray(msg),
                TxEvent::Failed { key, failure } => self.on_failed(key, failure, now),
                TxEvent::Terminated { key } => match key {
                    TxKey::Client(c) => {
                        self.timer_c.remove(&c);
                        self.originated.remove(&c);
                        if let Some((s, _)) = self.up.remove(&c) {
                            if self.down.get(&s) == Some(&c) {
                                self.down.remove(&s);
                            }
                        }
                    }
                    TxKey::Server(s) => {
                        // keep the downstream link until the client transaction ends
                        self.cancelled.remove(&s);
                    }
                },
            }
        }
    }

    fn on_request(&mut self, key: ServerKey, msg: Message, flow: Flow, now: Instant) {
        if let Err(rej) = check_request(&msg, &self.cfg) {
            if let Ok(resp) = rej.response_to(&msg) {
                let _ = self.layer.send_response(&key, &resp, now);
            }
            return;
        }
        if msg.method() == Some(Method::Cancel) {
            self.on_cancel(key, msg, now);
            return;
        }
        self.requests.push_back(ProxyRequest {
            key: Some(key),
            msg,
            flow,
        });
    }

    /// §16.10: answer the CANCEL 200, and CANCEL the pending client transaction (same Request-URI,
    /// Call-ID, From, To, CSeq number, top Via and Route as the INVITE we sent, §9.1). A CANCEL
    /// matching nothing gets 481.
    fn on_cancel(&mut self, key: ServerKey, msg: Message, now: Instant) {
        let invite_key = key.invite_for_cancel();
        let pending = self.down.get(&invite_key).cloned();
        // §16.10: an INVITE the application is still deciding about (interception mode) is
        // answered 487 at once; whatever it decides later finds the transaction completed
        let undecided = self.intercept
            && pending.is_none()
            && self
                .layer
                .server(&invite_key)
                .is_some_and(|s| s.last_status().is_none_or(|c| c < 200));
        let status = if pending.is_some() || undecided {
            200
        } else {
            481
        };
        let reason = if status == 200 {
            "OK"
        } else {
            "Call/Transaction Does Not Exist"
        };
        if let Ok(resp) = crate::ua::response(&msg, status, reason, None).build() {
            let _ = self.layer.send_response(&key, &resp, now);
        }
        if let Some(ckey) = pending {
            if self.intercept {
                self.cancelled.insert(invite_key.clone());
            }
            self.cancel_branch(&ckey, now);
        }
        if undecided {
            let invite = self.layer.server(&invite_key).map(|s| s.request().clone());
            if let Some(Ok(resp)) =
                invite.map(|i| crate::ua::response(&i, 487, "Request Terminated", None).build())
            {
                let _ = self.layer.send_response(&invite_key, &resp, now);
            }
        }
    }

    /// In interception mode: whether a final response for branch `ckey` of `skey` goes to the
    /// application (the branch is the current one and the server transaction is unanswered).
    fn intercepts(&self, skey: &ServerKey, ckey: &ClientKey) -> bool {
        self.intercept
            && self.down.get(skey) == Some(ckey)
            && self
                .layer
                .server(skey)
                .is_some_and(|s| s.last_status().is_none_or(|c| c < 200))
    }

    /// Sends a CANCEL for the INVITE branch `ckey` if it is in Proceeding (§9.1, §16.10).
    fn cancel_branch(&mut self, ckey: &ClientKey, now: Instant) {
        let Some(ctx) = self.layer.client(ckey) else {
            return;
        };
        if ctx.state() != crate::transaction::ClientState::Proceeding {
            // §9.1: CANCEL only after a provisional response; the final response ends it anyway
            return;
        }
        let Some(flow) = self.layer.client_flow(ckey) else {
            return;
        };
        if let Ok(cancel) = build_cancel(ctx.request()) {
            if let Ok(k) = self.layer.send_request(cancel, flow, now) {
                // responses to our CANCEL are not relayed
                let _ = k;
            }
        }
    }

    fn relay_response(&mut self, ckey: &ClientKey, msg: Message, now: Instant) {
        let Some((skey, cookie)) = self.up.get(ckey).cloned() else {
            // response to a CANCEL we generated: consumed here
            return;
        };
        let status = msg.status().unwrap_or(0);
        if let Some(TimerC::Running(_)) = self.timer_c.get(ckey) {
            if (101..200).contains(&status) {
                // §16.7 step 2: reset Timer C
                let c = self.layer.config().timers.timer_c;
                self.set_timer_c(ckey, TimerC::Running(now + c));
            }
        }
        if status >= 200 {
            self.timer_c.remove(ckey);
        }
        if status == 100 {
            return; // hop by hop (§16.7 step 5)
        }
        match strip_own_via(&msg, &self.cfg) {
            Ok(Some(_))
                if self.intercept
                    && self.down.get(&skey) != Some(ckey)
                    && !(200..300).contains(&status) =>
            {
                // a branch given up for a later one: only its 2xx still counts (§16.7 step 10)
            }
            Ok(Some((out, _))) if status >= 200 && self.intercepts(&skey, ckey) => {
                self.responses.push_back(BranchResponse {
                    server: skey,
                    branch: ckey.clone(),
                    response: out,
                    local: false,
                    cookie,
                });
            }
            Ok(Some((out, _))) => {
                let _ = self.layer.send_response(&skey, &out, now);
            }
            _ => tracing::debug!("response without our Via dropped"),
        }
    }

    fn forward_stray(&mut self, msg: Message) {
        // §16.7 / §18.1.2: e.g. 2xx retransmissions after the INVITE client transaction ended
        if let Ok(Some((out, next))) = strip_own_via(&msg, &self.cfg) {
            if let Some((transport, addr)) = via_destination(&next) {
                self.transmit
                    .push_back((None, Flow::to(transport, addr), out.wire()));
            }
        }
    }

    fn on_failed(&mut self, key: TxKey, failure: Failure, now: Instant) {
        let TxKey::Client(ckey) = key else { return };
        self.timer_c.remove(&ckey);
        self.answer_upstream(&ckey, failure, now);
    }

    /// Answers the server transaction of branch `ckey` with 408/503 unless it has a final
    /// response already.
    fn answer_upstream(&mut self, ckey: &ClientKey, failure: Failure, now: Instant) {
        let Some((skey, cookie)) = self.up.get(ckey).cloned() else {
            return;
        };
        let Some(stx) = self.layer.server(&skey) else {
            return;
        };
        if stx.last_status().is_some_and(|s| s >= 200) {
            return;
        }
        // §16.7 step 6 / §16.8: timeout → 408, transport error → 503
        let Ok(resp) =
            crate::ua::response(stx.request(), failure.status(), failure.reason(), None).build()
        else {
            return;
        };
        if self.intercepts(&skey, ckey) {
            self.responses.push_back(BranchResponse {
                server: skey,
                branch: ckey.clone(),
                response: resp,
                local: true,
                cookie,
            });
        } else if !self.intercept || self.down.get(&skey) == Some(ckey) {
            let _ = self.layer.send_response(&skey, &resp, now);
        }
    }
}

/// §9.1: a CANCEL for `invite` (Request-URI, Call-ID, To, From, CSeq number, top Via and Route of
/// the INVITE; CSeq method CANCEL).
pub fn build_cancel(invite: &Message) -> sip::Result<Message> {
    let uri = invite
        .request_uri_raw()
        .ok_or(sip::Error::Usage("not a request"))?;
    let mut b = MessageBuilder::request(Method::Cancel, &*uri)
        .header(sip::HeaderName::Via, invite.top_via()?)
        .header(sip::HeaderName::MaxForwards, 70);
    for name in ["From", "To", "Call-ID"] {
        let v = invite.header_value(name).ok_or(sip::Error::MissingHeader {
            name: "From/To/Call-ID",
        })?;
        b = b.header(name, v);
    }
    b = b.header(
        sip::HeaderName::CSeq,
        format_args!("{} CANCEL", invite.cseq()?.seq),
    );
    for r in invite.headers_named("Route") {
        if let Some(v) = r.value_str() {
            b = b.header(sip::HeaderName::Route, v);
        }
    }
    b.build()
}
