//! An asynchronous proxy application on a [`StatefulProxy`]: a [`Service`] decides about each
//! request (forward, answer, reject, drop) and about each final response (relay, possibly edited,
//! or try another next hop), each decision in its own task so that slow ones (Diameter UAR/MAR/SAR,
//! store writes) run concurrently; and it can originate requests as a UAC (NOTIFY, SUBSCRIBE).
//!
//! One loop task owns the proxy (receives, sends, fires timers). Decisions come back to it over a
//! channel with the server transaction they belong to; the costly part of a forward (the
//! service's edits and [`Prepared::finish_message`]) runs in the decision's task. The loop uses
//! the proxy's response-interception mode ([`StatefulProxy::set_intercept_responses`]): final
//! responses of a forwarded request go to [`Service::on_response`] before they are relayed
//! (§16.7 steps 3–9 left to the application), and a branch that fails can be followed by another
//! (serial search, RFC 3261 §16.7 step 6; TS 24.229 §5.3.1.3 for the I-CSCF). Provisional
//! responses, CANCEL (§16.10) and stateless ACK/2xx handling (§16.11, §16.7) stay in the proxy.
//!
//! Overload: beyond [`ServiceConfig::max_in_flight`] requests in the service's hands, new ones are
//! answered 503 with Retry-After at once (RFC 3261 §21.5.4, RFC 3261 §20.33).

use crate::proxy::{Prepared, ProxyConfig, ProxyRequest, Rejection, StatefulProxy};
use crate::send::Senders;
use crate::transaction::{ClientKey, Failure, ServerKey};
use crate::transport::{Endpoint, Inbound};
use crate::Flow;
use bytes::Bytes;
use sip::{Editor, HeaderName, Message};
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// The application logic of a proxy (P-/I-/S-CSCF). Each call runs in its own task.
pub trait Service: Send + Sync + 'static {
    /// A request from the network, already checked (§16.3); CANCEL and ACK-for-2xx handling stay
    /// inside the proxy (an ACK for a 2xx comes here with `req.key == None`). Runs in its own
    /// task, concurrently with other requests. Retransmissions of the request are absorbed by its
    /// server transaction (§17.2) while this runs.
    fn on_request(
        &self,
        req: ProxyRequest,
        ctx: ServiceContext,
    ) -> impl Future<Output = RequestAction> + Send;

    /// A final response (≥200) to a request forwarded with [`RequestAction::Forward`] (our Via
    /// already removed), or a locally generated 408 (branch timeout, Timer F / Timer C) or 503
    /// (transport error) with `local = true` (§16.7 step 6, §16.8). Provisional responses are
    /// relayed without asking. Default: relay unchanged.
    fn on_response(
        &self,
        resp: ProxyResponse,
        ctx: ServiceContext,
    ) -> impl Future<Output = ResponseAction> + Send {
        let _ = ctx;
        async move { ResponseAction::Relay(resp.response) }
    }
}

/// A final response for [`Service::on_response`].
#[derive(Debug, Clone)]
pub struct ProxyResponse {
    /// The request as received from upstream.
    pub request: ProxyRequest,
    /// The response, our Via removed (§16.7 step 3).
    pub response: Message,
    /// True for a locally generated 408/503.
    pub local: bool,
    /// What the service passed with the forward of this branch (e.g. a candidate index).
    pub cookie: u64,
}

/// What to do with a request.
// the shape is the API the CSCFs code against; one value per request, not worth a Box
#[allow(clippy::large_enum_variant)]
pub enum RequestAction {
    /// Send the prepared request (from [`ServiceContext::prepare`] plus the service's edits) to
    /// `flow`.
    Forward {
        /// The prepared request.
        prepared: Prepared,
        /// Where to send it.
        flow: Flow,
        /// Returned in [`ProxyResponse::cookie`].
        cookie: u64,
    },
    /// Answer with this final response (e.g. a registrar's 200/401; built by the service).
    Respond(Message),
    /// Answer with a rejection (status + reason).
    Reject(Rejection),
    /// Do nothing (e.g. an ACK that goes nowhere). A request with a server transaction is
    /// dropped unanswered: the transaction is removed.
    Drop,
}

/// What to do with a final response.
#[allow(clippy::large_enum_variant)]
pub enum ResponseAction {
    /// Relay this (possibly edited) response upstream.
    Relay(Message),
    /// Do not relay; send a new branch of the same server transaction (serial fail-over, §16.7
    /// step 6 / TS 24.229 §5.3.1.3). Its branch parameter is made unique by the service loop.
    Forward {
        /// The prepared request (e.g. `ctx.prepare(&resp.request)` with a new target).
        prepared: Prepared,
        /// Where to send it.
        flow: Flow,
        /// Returned in [`ProxyResponse::cookie`].
        cookie: u64,
    },
}

/// Settings of [`spawn_service`].
#[derive(Debug, Clone, Copy)]
pub struct ServiceConfig {
    /// Requests in the service's hands at once (deciding, forwarded, or their response being
    /// decided); beyond it new requests are answered 503 at once.
    pub max_in_flight: usize,
    /// Retry-After (seconds) of that 503.
    pub retry_after: u32,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        ServiceConfig {
            max_in_flight: 10_000,
            retry_after: 5,
        }
    }
}

/// A handle into the service loop, given to every call and usable from outside.
#[derive(Clone)]
pub struct ServiceContext {
    inner: Arc<Shared>,
}

struct Shared {
    cfg: ProxyConfig,
    endpoint: Endpoint,
    cmds: mpsc::UnboundedSender<Cmd>,
    in_flight: AtomicUsize,
}

impl ServiceContext {
    /// The proxy's identity.
    pub fn config(&self) -> &ProxyConfig {
        &self.inner.cfg
    }

    /// The endpoint (local addresses, listeners).
    pub fn endpoint(&self) -> &Endpoint {
        &self.inner.endpoint
    }

    /// §16.4–§16.6 edits for `req` with the proxy's config ([`crate::proxy::prepare_forward`]).
    pub fn prepare(&self, req: &ProxyRequest) -> Result<Prepared, Rejection> {
        crate::proxy::prepare_forward(&req.msg, &req.flow, &self.inner.cfg)
    }

    /// Requests in the service's hands now (as counted for [`ServiceConfig::max_in_flight`]).
    pub fn in_flight(&self) -> usize {
        self.inner.in_flight.load(Ordering::Relaxed)
    }

    /// Originates a request as a UAC (client transaction: retransmissions, Timer B/F; RFC 3261
    /// §8.1, §17.1) and awaits its final response. Without a Via, ours is added (this proxy's
    /// host and port, the flow's transport, a fresh branch, `rport`). `Err` on timeout
    /// ([`Failure::Timeout`]) or transport error, or if the request cannot be sent or the loop
    /// has ended ([`Failure::Transport`]).
    pub async fn send_request(&self, msg: Message, flow: Flow) -> Result<Message, Failure> {
        let msg = if msg.headers_id(HeaderName::Via).next().is_none() {
            self.with_via(&msg, &flow).map_err(|_| Failure::Transport)?
        } else {
            msg
        };
        let (reply, rx) = oneshot::channel();
        self.inner
            .cmds
            .send(Cmd::Originate { msg, flow, reply })
            .map_err(|_| Failure::Transport)?;
        rx.await.unwrap_or(Err(Failure::Transport))
    }

    fn with_via(&self, msg: &Message, flow: &Flow) -> sip::Result<Message> {
        let host = &self.inner.cfg.host;
        let host = if host.parse::<std::net::Ipv6Addr>().is_ok() {
            format!("[{host}]")
        } else {
            host.clone()
        };
        let mut ed = Editor::new(msg);
        ed.prepend(
            HeaderName::Via,
            format_args!(
                "SIP/2.0/{} {host}:{};branch={};rport",
                flow.transport.as_str(),
                self.inner.cfg.port,
                crate::ua::new_branch()
            ),
        )?;
        ed.finish()
    }
}

/// A decision, made in a task, for the loop to carry out.
enum Outcome {
    Forward {
        msg: Message,
        flow: Flow,
        cookie: u64,
    },
    Respond(Message),
    Reject(Rejection),
    Drop,
}

enum Cmd {
    /// A decision about a request or a response of server transaction `key`.
    Decided { key: ServerKey, outcome: Outcome },
    /// An ACK's decision: send these bytes (or nothing).
    AckDone(Option<(Flow, Bytes)>),
    /// Originate a request.
    Originate {
        msg: Message,
        flow: Flow,
        reply: oneshot::Sender<Result<Message, Failure>>,
    },
}

/// Sends the task's decision; if the task ends without one (the service panicked), the request
/// is answered 500 so that nothing is left waiting.
struct Reply {
    cmds: mpsc::UnboundedSender<Cmd>,
    key: Option<ServerKey>,
    done: bool,
}

impl Reply {
    fn send(mut self, outcome: Outcome) {
        self.done = true;
        let _ = self.cmds.send(match self.key.take() {
            Some(key) => Cmd::Decided { key, outcome },
            None => Cmd::AckDone(match outcome {
                Outcome::Forward { msg, flow, .. } => Some((flow, msg.wire())),
                _ => None,
            }),
        });
    }
}

impl Drop for Reply {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let _ = self.cmds.send(match self.key.take() {
            Some(key) => Cmd::Decided {
                key,
                outcome: Outcome::Reject(Rejection::new(500, "Server Internal Error")),
            },
            None => Cmd::AckDone(None),
        });
    }
}

/// The branch parameter of attempt `n` of a server transaction: the first keeps
/// [`crate::proxy::branch_for`]'s; later ones get a suffix (still unique per branch, §16.6
/// step 8, and starting with the loop-detection prefix).
fn finish(mut prepared: Prepared, flow: &Flow, attempt: u32) -> Outcome {
    if attempt > 0 {
        prepared.branch = format!("{}.{attempt}", prepared.branch);
    }
    match prepared.finish_message(flow.transport) {
        Ok(msg) => Outcome::Forward {
            msg,
            flow: *flow,
            cookie: 0,
        },
        Err(e) => Outcome::Reject(Rejection::from(e)),
    }
}

fn forward_outcome(prepared: Prepared, flow: Flow, cookie: u64, attempt: u32) -> Outcome {
    match finish(prepared, &flow, attempt) {
        Outcome::Forward { msg, flow, .. } => Outcome::Forward { msg, flow, cookie },
        other => other,
    }
}

fn request_outcome(action: RequestAction, req: &Message) -> Outcome {
    match action {
        RequestAction::Forward {
            prepared,
            flow,
            cookie,
        } => forward_outcome(prepared, flow, cookie, 0),
        RequestAction::Respond(m) => Outcome::Respond(m),
        RequestAction::Reject(r) => match r.response_to(req) {
            Ok(m) => Outcome::Respond(m),
            Err(_) => Outcome::Reject(r),
        },
        RequestAction::Drop => Outcome::Drop,
    }
}

/// Where a server transaction is in the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// [`Service::on_request`] running.
    Deciding,
    /// A branch is out.
    Forwarded,
    /// [`Service::on_response`] running.
    Responding,
}

struct Entry {
    req: ProxyRequest,
    phase: Phase,
    /// Branches sent so far.
    attempts: u32,
}

/// Whether server transaction `key` still waits for its final response.
fn open(proxy: &StatefulProxy, key: &ServerKey) -> bool {
    proxy
        .layer
        .server(key)
        .is_some_and(|s| s.last_status().is_none_or(|c| c < 200))
}

struct Loop<S: Service> {
    proxy: StatefulProxy,
    service: Arc<S>,
    ctx: ServiceContext,
    cfg: ServiceConfig,
    pending: HashMap<ServerKey, Entry>,
    acks: usize,
    stateless: Vec<(Flow, Bytes)>,
    waiters: HashMap<ClientKey, oneshot::Sender<Result<Message, Failure>>>,
}

impl<S: Service> Loop<S> {
    fn in_flight(&self) -> usize {
        self.pending.len() + self.acks
    }

    fn reply(&self, key: Option<ServerKey>) -> Reply {
        Reply {
            cmds: self.ctx.inner.cmds.clone(),
            key,
            done: false,
        }
    }

    fn on_request(&mut self, req: ProxyRequest, now: Instant) {
        let overloaded = self.in_flight() >= self.cfg.max_in_flight;
        let Some(key) = req.key.clone() else {
            if overloaded {
                return;
            }
            self.acks += 1;
            let reply = self.reply(None);
            let (service, ctx) = (self.service.clone(), self.ctx.clone());
            tokio::spawn(async move {
                let msg = req.msg.clone();
                let action = service.on_request(req, ctx).await;
                reply.send(request_outcome(action, &msg));
            });
            return;
        };
        if overloaded {
            // RFC 3261 §21.5.4 with Retry-After (§20.33)
            if let Ok(resp) = crate::ua::response(&req.msg, 503, "Service Unavailable", None)
                .header(HeaderName::RetryAfter, self.cfg.retry_after)
                .build()
            {
                let _ = self.proxy.respond(&key, &resp, now);
            }
            return;
        }
        self.pending.insert(
            key.clone(),
            Entry {
                req: req.clone(),
                phase: Phase::Deciding,
                attempts: 0,
            },
        );
        let reply = self.reply(Some(key));
        let (service, ctx) = (self.service.clone(), self.ctx.clone());
        tokio::spawn(async move {
            let msg = req.msg.clone();
            let action = service.on_request(req, ctx).await;
            reply.send(request_outcome(action, &msg));
        });
    }

    fn on_response(&mut self, br: crate::proxy::BranchResponse, now: Instant) {
        let Some(e) = self.pending.get_mut(&br.server) else {
            // not ours (or swept): relay as the plain proxy would
            let _ = self.proxy.respond(&br.server, &br.response, now);
            return;
        };
        if e.phase != Phase::Forwarded {
            return;
        }
        e.phase = Phase::Responding;
        let attempt = e.attempts;
        let resp = ProxyResponse {
            request: e.req.clone(),
            response: br.response,
            local: br.local,
            cookie: br.cookie,
        };
        let reply = self.reply(Some(br.server));
        let (service, ctx) = (self.service.clone(), self.ctx.clone());
        tokio::spawn(async move {
            let outcome = match service.on_response(resp, ctx).await {
                ResponseAction::Relay(m) => Outcome::Respond(m),
                ResponseAction::Forward {
                    prepared,
                    flow,
                    cookie,
                } => forward_outcome(prepared, flow, cookie, attempt),
            };
            reply.send(outcome);
        });
    }

    fn on_decided(&mut self, key: ServerKey, outcome: Outcome, now: Instant) {
        let Some(e) = self.pending.get_mut(&key) else {
            return;
        };
        match outcome {
            Outcome::Forward { msg, flow, cookie } => {
                match self.proxy.forward_branch(&key, msg, flow, cookie, now) {
                    Ok(_) => {
                        e.phase = Phase::Forwarded;
                        e.attempts += 1;
                        return;
                    }
                    Err(err) => {
                        tracing::debug!(error = %err, "forward failed");
                        let rej = if self.proxy.is_cancelled(&key) {
                            // §16.10: no new branch after a CANCEL
                            Rejection::new(487, "Request Terminated")
                        } else {
                            Rejection::new(err.status(), "Service Unavailable")
                        };
                        let _ = self.proxy.reject(&e.req, &rej, now);
                    }
                }
            }
            Outcome::Respond(m) => {
                let _ = self.proxy.respond(&key, &m, now);
            }
            Outcome::Reject(rej) => {
                let _ = self.proxy.reject(&e.req, &rej, now);
            }
            Outcome::Drop => self.proxy.abandon(&key, now),
        }
        if open(&self.proxy, &key) {
            // a provisional "final" answer: the transaction still needs one
            let rej = Rejection::new(500, "Server Internal Error");
            let _ = self.proxy.reject(&e.req, &rej, now);
        }
        self.pending.remove(&key);
    }

    fn originate(
        &mut self,
        msg: Message,
        flow: Flow,
        reply: oneshot::Sender<Result<Message, Failure>>,
        now: Instant,
    ) {
        match self.proxy.originate(msg, flow, now) {
            Ok(k) => {
                self.waiters.insert(k, reply);
            }
            Err(e) => {
                tracing::debug!(error = %e, "cannot originate");
                let _ = reply.send(Err(Failure::Transport));
            }
        }
    }

    /// Drops entries whose server transaction went away while a branch was out (e.g. its
    /// connection failed for good): nothing will answer them.
    fn sweep(&mut self) {
        let proxy = &self.proxy;
        self.pending
            .retain(|k, e| e.phase != Phase::Forwarded || open(proxy, k));
    }
}

/// How often [`Loop::sweep`] runs.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// Spawns the service loop (owns the [`StatefulProxy`], switched to response interception;
/// receives from the endpoint; sends; fires timers) and returns a context usable from outside
/// (e.g. timers of the S-CSCF that originate requests) and the loop's task, which ends when the
/// endpoint's inbound channel closes.
pub fn spawn_service<S: Service>(
    endpoint: Endpoint,
    mut inbound: mpsc::Receiver<Inbound>,
    mut proxy: StatefulProxy,
    service: Arc<S>,
    cfg: ServiceConfig,
) -> (ServiceContext, tokio::task::JoinHandle<()>) {
    proxy.set_intercept_responses(true);
    let (cmds, mut cmd_rx) = mpsc::unbounded_channel();
    let ctx = ServiceContext {
        inner: Arc::new(Shared {
            cfg: proxy.config().clone(),
            endpoint: endpoint.clone(),
            cmds,
            in_flight: AtomicUsize::new(0),
        }),
    };
    let mut lp = Loop {
        proxy,
        service,
        ctx: ctx.clone(),
        cfg,
        pending: HashMap::new(),
        acks: 0,
        stateless: Vec::new(),
        waiters: HashMap::new(),
    };
    let task = tokio::spawn(async move {
        let (failed_tx, mut failed_rx) = mpsc::unbounded_channel();
        let mut senders = Senders::new(endpoint, failed_tx);
        let mut sweep = tokio::time::interval(SWEEP_EVERY);
        sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let deadline = lp.proxy.next_timeout();
            let sleep = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                m = inbound.recv() => {
                    let Some(m) = m else { return };
                    let now = Instant::now();
                    lp.proxy.on_message(m.msg, m.flow, now);
                    for _ in 0..256 {
                        match inbound.try_recv() {
                            Ok(m) => lp.proxy.on_message(m.msg, m.flow, now),
                            Err(_) => break,
                        }
                    }
                }
                Some(cmd) = cmd_rx.recv() => {
                    let now = Instant::now();
                    let mut next = Some(cmd);
                    let mut n = 0;
                    while let Some(cmd) = next {
                        match cmd {
                            Cmd::Decided { key, outcome } => lp.on_decided(key, outcome, now),
                            Cmd::AckDone(send) => {
                                lp.acks = lp.acks.saturating_sub(1);
                                if let Some(out) = send {
                                    lp.stateless.push(out);
                                }
                            }
                            Cmd::Originate { msg, flow, reply } => lp.originate(msg, flow, reply, now),
                        }
                        n += 1;
                        next = if n < 256 { cmd_rx.try_recv().ok() } else { None };
                    }
                }
                _ = sleep => lp.proxy.on_timeout(Instant::now()),
                Some(key) = failed_rx.recv() => lp.proxy.on_transport_error(&key, Instant::now()),
                _ = sweep.tick() => lp.sweep(),
            }
            loop {
                let mut progressed = false;
                let now = Instant::now();
                while let Some(req) = lp.proxy.poll_request() {
                    progressed = true;
                    lp.on_request(req, now);
                }
                while let Some(br) = lp.proxy.poll_response() {
                    progressed = true;
                    lp.on_response(br, now);
                }
                while let Some((k, result)) = lp.proxy.poll_originated() {
                    progressed = true;
                    if let Some(w) = lp.waiters.remove(&k) {
                        let _ = w.send(result);
                    }
                }
                for (flow, data) in std::mem::take(&mut lp.stateless) {
                    // §16.11: an ACK for a 2xx, forwarded statelessly
                    let _ = senders.send(None, flow, data).await;
                }
                // before anything is sent: a finished request no longer counts
                lp.ctx
                    .inner
                    .in_flight
                    .store(lp.in_flight(), Ordering::Relaxed);
                while let Some((key, flow, data)) = lp.proxy.poll_transmit() {
                    progressed = true;
                    if let Some(k) = senders.send(key, flow, data).await {
                        lp.proxy.on_transport_error(&k, Instant::now());
                    }
                }
                if !progressed {
                    break;
                }
            }
            lp.ctx
                .inner
                .in_flight
                .store(lp.in_flight(), Ordering::Relaxed);
        }
    });
    (ctx, task)
}
