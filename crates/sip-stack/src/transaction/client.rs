//! Client transactions: INVITE (RFC 3261 §17.1.1, Figure 5, with the RFC 6026 Accepted state)
//! and non-INVITE (§17.1.2, Figure 6).

use super::{Failure, Timer, TimerConfig, TxKind, TxOutput};
use bytes::Bytes;
use sip::{HeaderName, Message, MessageBuilder, Method};
use std::time::{Duration, Instant};

/// Client transaction states (Figures 5 and 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientState {
    /// INVITE sent, no response yet.
    Calling,
    /// Non-INVITE sent, no response yet.
    Trying,
    /// A provisional response arrived.
    Proceeding,
    /// A final non-2xx response arrived; absorbing its retransmissions.
    Completed,
    /// INVITE only: a 2xx arrived; further 2xx (retransmissions, other forks) still go to the
    /// user until Timer M (RFC 6026 §7.2).
    Accepted,
    /// Over.
    Terminated,
}

/// One client transaction. Create with [`ClientTransaction::new`], feed responses, timer expiries
/// and transport errors, act on the returned [`TxOutput`]s.
#[derive(Debug, Clone)]
pub struct ClientTransaction {
    kind: TxKind,
    state: ClientState,
    request: Message,
    reliable: bool,
    cfg: TimerConfig,
    /// Timer A or E.
    retransmit: Option<(Instant, Duration)>,
    /// Timer B or F.
    timeout: Option<Instant>,
    /// Timer D, K or M.
    linger: Option<Instant>,
    ack: Option<Bytes>,
}

impl ClientTransaction {
    /// Starts a client transaction for `request` (the caller has put the branch in the top Via).
    /// The returned outputs hold the first transmission. `reliable` is true on TCP/TLS.
    pub fn new(
        request: Message,
        reliable: bool,
        cfg: TimerConfig,
        now: Instant,
    ) -> (Self, Vec<TxOutput>) {
        let kind = match request.method() {
            Some(Method::Invite) => TxKind::Invite,
            _ => TxKind::NonInvite,
        };
        let retransmit = (!reliable).then_some((now + cfg.t1, cfg.t1));
        let tx = ClientTransaction {
            kind,
            state: match kind {
                TxKind::Invite => ClientState::Calling,
                TxKind::NonInvite => ClientState::Trying,
            },
            retransmit,
            timeout: Some(now + cfg.t1x64()),
            linger: None,
            ack: None,
            reliable,
            cfg,
            request,
        };
        let out = vec![TxOutput::Transmit(tx.request.wire())];
        (tx, out)
    }

    /// INVITE or non-INVITE.
    pub fn kind(&self) -> TxKind {
        self.kind
    }

    /// Current state.
    pub fn state(&self) -> ClientState {
        self.state
    }

    /// The request this transaction sends.
    pub fn request(&self) -> &Message {
        &self.request
    }

    /// True once the transaction is over.
    pub fn is_terminated(&self) -> bool {
        self.state == ClientState::Terminated
    }

    /// The timers currently armed, with their expiry.
    pub fn timers(&self) -> Vec<(Timer, Instant)> {
        let inv = self.kind == TxKind::Invite;
        let mut v = Vec::new();
        if let Some((at, _)) = self.retransmit {
            v.push((if inv { Timer::A } else { Timer::E }, at));
        }
        if let Some(at) = self.timeout {
            v.push((if inv { Timer::B } else { Timer::F }, at));
        }
        if let Some(at) = self.linger {
            let t = match (inv, self.state) {
                (true, ClientState::Accepted) => Timer::M,
                (true, _) => Timer::D,
                (false, _) => Timer::K,
            };
            v.push((t, at));
        }
        v
    }

    /// The earliest armed timer.
    pub fn next_timeout(&self) -> Option<Instant> {
        [self.retransmit.map(|r| r.0), self.timeout, self.linger]
            .into_iter()
            .flatten()
            .min()
    }

    fn terminate(&mut self, out: &mut Vec<TxOutput>) {
        self.state = ClientState::Terminated;
        self.retransmit = None;
        self.timeout = None;
        self.linger = None;
        out.push(TxOutput::Terminated);
    }

    /// Handles a response matched to this transaction (§17.1.3).
    pub fn on_response(&mut self, resp: Message, now: Instant) -> Vec<TxOutput> {
        let mut out = Vec::new();
        let Some(code) = resp.status() else {
            return out;
        };
        match (self.kind, self.state) {
            (TxKind::Invite, ClientState::Calling | ClientState::Proceeding) => {
                if code < 200 {
                    self.state = ClientState::Proceeding;
                    self.retransmit = None;
                    self.timeout = None;
                    out.push(TxOutput::Response(resp));
                } else if code < 300 {
                    // §17.1.1.2: 2xx goes to the TU, which ACKs end to end; RFC 6026 §8.4:
                    // Accepted, so that 2xx retransmissions still reach the TU until Timer M.
                    out.push(TxOutput::Response(resp));
                    self.state = ClientState::Accepted;
                    self.retransmit = None;
                    self.timeout = None;
                    self.linger = Some(now + self.cfg.t1x64());
                } else {
                    if let Some(ack) = self.build_ack(&resp) {
                        out.push(TxOutput::Transmit(ack.clone()));
                        self.ack = Some(ack);
                    }
                    out.push(TxOutput::Response(resp));
                    self.state = ClientState::Completed;
                    self.retransmit = None;
                    self.timeout = None;
                    if self.reliable {
                        self.terminate(&mut out);
                    } else {
                        self.linger = Some(now + self.cfg.timer_d);
                    }
                }
            }
            (TxKind::Invite, ClientState::Accepted) if (200..300).contains(&code) => {
                out.push(TxOutput::Response(resp));
            }
            (TxKind::Invite, ClientState::Completed) if code >= 300 => {
                if let Some(ack) = &self.ack {
                    out.push(TxOutput::Transmit(ack.clone()));
                }
            }
            (TxKind::NonInvite, ClientState::Trying | ClientState::Proceeding) => {
                if code < 200 {
                    self.state = ClientState::Proceeding;
                    out.push(TxOutput::Response(resp));
                } else {
                    out.push(TxOutput::Response(resp));
                    self.state = ClientState::Completed;
                    self.retransmit = None;
                    self.timeout = None;
                    if self.reliable {
                        self.terminate(&mut out);
                    } else {
                        self.linger = Some(now + self.cfg.t4);
                    }
                }
            }
            _ => {}
        }
        out
    }

    /// Fires every timer due at `now`.
    pub fn on_timer(&mut self, now: Instant) -> Vec<TxOutput> {
        let mut out = Vec::new();
        if self.linger.is_some_and(|t| t <= now) {
            self.terminate(&mut out);
            return out;
        }
        if self.timeout.is_some_and(|t| t <= now) {
            out.push(TxOutput::Failed(Failure::Timeout));
            self.terminate(&mut out);
            return out;
        }
        if let Some((at, interval)) = self.retransmit {
            if at <= now {
                out.push(TxOutput::Transmit(self.request.wire()));
                let next = match (self.kind, self.state) {
                    (TxKind::Invite, _) => interval.saturating_mul(2),
                    (TxKind::NonInvite, ClientState::Proceeding) => self.cfg.t2,
                    (TxKind::NonInvite, _) => interval.saturating_mul(2).min(self.cfg.t2),
                };
                self.retransmit = Some((now + next, next));
            }
        }
        out
    }

    /// The transport failed to send the request (§17.1.1.2, §17.1.2.2): the TU gets a 503.
    pub fn on_transport_error(&mut self) -> Vec<TxOutput> {
        let mut out = Vec::new();
        if self.state != ClientState::Terminated {
            if matches!(
                self.state,
                ClientState::Calling | ClientState::Trying | ClientState::Proceeding
            ) {
                out.push(TxOutput::Failed(Failure::Transport));
            }
            self.terminate(&mut out);
        }
        out
    }

    /// The ACK for a non-2xx final response (§17.1.1.3): Request-URI, Call-ID, From, CSeq number
    /// and the top Via of the request, To of the response, the request's Route headers.
    fn build_ack(&self, resp: &Message) -> Option<Bytes> {
        let req = &self.request;
        let uri = req.request_uri_raw()?;
        let mut b = MessageBuilder::request(Method::Ack, &*uri);
        b = b.header(HeaderName::Via, req.top_via().ok()?);
        b = b.header(HeaderName::MaxForwards, 70);
        b = b.header(HeaderName::From, req.header_value("From")?);
        b = b.header(HeaderName::To, resp.header_value("To")?);
        b = b.header(HeaderName::CallId, req.header_value("Call-ID")?);
        b = b.header(HeaderName::CSeq, format!("{} ACK", req.cseq().ok()?.seq));
        for r in req.headers_named("Route") {
            b = b.header(HeaderName::Route, r.value_str()?);
        }
        b.to_bytes().ok()
    }
}
