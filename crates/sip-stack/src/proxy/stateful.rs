//! A transaction-stateful proxy (RFC 3261 §16.2): each forwarded request has a server
//! transaction upstream and a client transaction downstream; responses are relayed through them
//! (§16.7, one branch), CANCEL is answered and propagated (§16.10), ACK for 2xx and stray 2xx
//! are forwarded statelessly (§16.11). Routing decisions stay with the application: it takes
//! each [`ProxyRequest`] and calls [`StatefulProxy::forward`] or [`StatefulProxy::reject`].

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
use std::collections::{HashMap, VecDeque};
use std::time::Instant;

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

/// Sans-IO stateful proxy.
pub struct StatefulProxy {
    /// The transaction layer (exposed for inspection).
    pub layer: TransactionLayer,
    cfg: ProxyConfig,
    /// client transaction → server transaction it serves
    up: HashMap<ClientKey, ServerKey>,
    /// server transaction → client transaction (for CANCEL)
    down: HashMap<ServerKey, ClientKey>,
    requests: VecDeque<ProxyRequest>,
    transmit: VecDeque<(Option<TxKey>, Flow, Bytes)>,
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
        }
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
    }

    /// When to call [`StatefulProxy::on_timeout`].
    pub fn next_timeout(&mut self) -> Option<Instant> {
        self.layer.next_timeout()
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
                let ckey = self.layer.send_request(msg, flow, now)?;
                self.up.insert(ckey.clone(), skey.clone());
                self.down.insert(skey.clone(), ckey);
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
                TxEvent::Response { key, msg, .. } => self.relay_response(&key, msg, now),
                TxEvent::StrayResponse { msg, .. } => self.forward_stray(msg),
                TxEvent::Failed { key, failure } => self.on_failed(key, failure, now),
                TxEvent::Terminated { key } => match key {
                    TxKey::Client(c) => {
                        if let Some(s) = self.up.remove(&c) {
                            if self.down.get(&s) == Some(&c) {
                                self.down.remove(&s);
                            }
                        }
                    }
                    TxKey::Server(s) => {
                        // keep the downstream link until the client transaction ends
                        let _ = s;
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
        let status = if pending.is_some() { 200 } else { 481 };
        let reason = if status == 200 {
            "OK"
        } else {
            "Call/Transaction Does Not Exist"
        };
        if let Ok(resp) = crate::ua::response(&msg, status, reason, None).build() {
            let _ = self.layer.send_response(&key, &resp, now);
        }
        let Some(ckey) = pending else { return };
        let Some(ctx) = self.layer.client(&ckey) else {
            return;
        };
        if ctx.state() != crate::transaction::ClientState::Proceeding {
            // §9.1: CANCEL only after a provisional response; the final response ends it anyway
            return;
        }
        let Some(flow) = self.layer.client_flow(&ckey) else {
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
        let Some(skey) = self.up.get(ckey).cloned() else {
            // response to a CANCEL we generated: consumed here
            return;
        };
        if msg.status() == Some(100) {
            return; // hop by hop (§16.7 step 5)
        }
        match strip_own_via(&msg, &self.cfg) {
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
        let Some(skey) = self.up.get(&ckey).cloned() else {
            return;
        };
        let Some(stx) = self.layer.server(&skey) else {
            return;
        };
        if stx.last_status().is_some_and(|s| s >= 200) {
            return;
        }
        // §16.7 step 6 / §16.8: timeout → 408, transport error → 503
        if let Ok(resp) =
            crate::ua::response(stx.request(), failure.status(), failure.reason(), None).build()
        {
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
