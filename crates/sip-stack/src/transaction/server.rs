//! Server transactions: INVITE (RFC 3261 §17.2.1, Figure 7, with the RFC 6026 Accepted state)
//! and non-INVITE (§17.2.2, Figure 8).

use super::{Failure, Timer, TimerConfig, TxKind, TxOutput};
use bytes::Bytes;
use sip::{Message, MessageBuilder, Method};
use std::time::{Duration, Instant};

/// Server transaction states (Figures 7 and 8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerState {
    /// Non-INVITE received, nothing sent yet.
    Trying,
    /// A provisional response was sent (INVITE: from the start).
    Proceeding,
    /// A final response was sent; retransmitting it / absorbing request retransmissions.
    Completed,
    /// INVITE only: the ACK arrived.
    Confirmed,
    /// INVITE only: a 2xx was sent; INVITE retransmissions are absorbed and the TU's 2xx
    /// retransmissions pass until Timer L (RFC 6026 §7.1).
    Accepted,
    /// Over.
    Terminated,
}

/// One server transaction.
#[derive(Debug, Clone)]
pub struct ServerTransaction {
    kind: TxKind,
    state: ServerState,
    request: Message,
    reliable: bool,
    cfg: TimerConfig,
    last_response: Option<Bytes>,
    last_status: Option<u16>,
    to_tag: Option<String>,
    /// Timer G.
    retransmit: Option<(Instant, Duration)>,
    /// Timer H.
    timeout: Option<Instant>,
    /// Timer I, J or L.
    linger: Option<Instant>,
    /// [`Timer::Unanswered`]: no final response from the user yet.
    unanswered: Option<Instant>,
}

impl ServerTransaction {
    /// Creates the server transaction for a new request. For INVITE the outputs hold a
    /// `100 Trying` (§17.2.1: sent at once so that INVITE retransmissions stop).
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
        let mut tx = ServerTransaction {
            kind,
            state: match kind {
                TxKind::Invite => ServerState::Proceeding,
                TxKind::NonInvite => ServerState::Trying,
            },
            request,
            reliable,
            cfg,
            last_response: None,
            last_status: None,
            to_tag: None,
            retransmit: None,
            timeout: None,
            linger: None,
            unanswered: Some(
                now + match kind {
                    TxKind::Invite => cfg.unanswered_invite,
                    TxKind::NonInvite => cfg.unanswered_non_invite(),
                },
            ),
        };
        let mut out = Vec::new();
        if kind == TxKind::Invite {
            if let Ok(trying) =
                MessageBuilder::response_to(&tx.request, 100, "Trying", None).to_bytes()
            {
                tx.last_response = Some(trying.clone());
                tx.last_status = Some(100);
                out.push(TxOutput::Transmit(trying));
            }
        }
        (tx, out)
    }

    /// INVITE or non-INVITE.
    pub fn kind(&self) -> TxKind {
        self.kind
    }

    /// Current state.
    pub fn state(&self) -> ServerState {
        self.state
    }

    /// The request that created the transaction.
    pub fn request(&self) -> &Message {
        &self.request
    }

    /// The last response sent (what a retransmission resends).
    pub fn last_response(&self) -> Option<&Bytes> {
        self.last_response.as_ref()
    }

    /// Status of the last response sent.
    pub fn last_status(&self) -> Option<u16> {
        self.last_status
    }

    /// The To tag of the last final response sent (RFC 2543 ACK matching, §17.2.3).
    pub fn response_to_tag(&self) -> Option<&str> {
        self.to_tag.as_deref()
    }

    /// True once the transaction is over.
    pub fn is_terminated(&self) -> bool {
        self.state == ServerState::Terminated
    }

    /// The timers currently armed.
    pub fn timers(&self) -> Vec<(Timer, Instant)> {
        let mut v = Vec::new();
        if let Some((at, _)) = self.retransmit {
            v.push((Timer::G, at));
        }
        if let Some(at) = self.timeout {
            v.push((Timer::H, at));
        }
        if let Some(at) = self.linger {
            let t = match (self.kind, self.state) {
                (TxKind::Invite, ServerState::Accepted) => Timer::L,
                (TxKind::Invite, _) => Timer::I,
                (TxKind::NonInvite, _) => Timer::J,
            };
            v.push((t, at));
        }
        if let Some(at) = self.unanswered {
            v.push((Timer::Unanswered, at));
        }
        v
    }

    /// The earliest armed timer.
    pub fn next_timeout(&self) -> Option<Instant> {
        [
            self.retransmit.map(|r| r.0),
            self.timeout,
            self.linger,
            self.unanswered,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn terminate(&mut self, out: &mut Vec<TxOutput>) {
        self.state = ServerState::Terminated;
        self.retransmit = None;
        self.timeout = None;
        self.linger = None;
        self.unanswered = None;
        out.push(TxOutput::Terminated);
    }

    /// A retransmission of the request, or (INVITE) the ACK for a non-2xx response, matched to
    /// this transaction (§17.2.3). Returns the response retransmission, if any.
    pub fn on_request(&mut self, req: &Message, now: Instant) -> Vec<TxOutput> {
        let mut out = Vec::new();
        let is_ack = req.method() == Some(Method::Ack);
        match (self.kind, self.state, is_ack) {
            (TxKind::Invite, ServerState::Completed, true) => {
                self.state = ServerState::Confirmed;
                self.retransmit = None;
                self.timeout = None;
                if self.reliable {
                    self.terminate(&mut out);
                } else {
                    self.linger = Some(now + self.cfg.t4);
                }
            }
            (_, ServerState::Proceeding | ServerState::Completed, false) => {
                if let Some(r) = &self.last_response {
                    out.push(TxOutput::Transmit(r.clone()));
                }
            }
            // Trying (absorbed, nothing to resend), Confirmed (ACK retransmissions absorbed),
            // Accepted (INVITE retransmissions absorbed, RFC 6026 §8.6).
            _ => {}
        }
        out
    }

    /// The transaction user sends a response; the outputs transmit it (or nothing if the state
    /// no longer allows one).
    pub fn send_response(&mut self, resp: &Message, now: Instant) -> Vec<TxOutput> {
        let mut out = Vec::new();
        let Some(code) = resp.status() else {
            return out;
        };
        let bytes = resp.wire();
        // RFC 6026 §8.7: in Accepted, the TU's 2xx retransmissions are sent
        if self.state == ServerState::Accepted {
            if (200..300).contains(&code) {
                out.push(TxOutput::Transmit(bytes));
            }
            return out;
        }
        // Completed/Confirmed/Terminated: further responses are not sent (§17.2.2)
        if !matches!(self.state, ServerState::Trying | ServerState::Proceeding) {
            return out;
        }
        out.push(TxOutput::Transmit(bytes.clone()));
        self.last_response = Some(bytes);
        self.last_status = Some(code);
        if code < 200 {
            self.state = ServerState::Proceeding;
            if self.kind == TxKind::Invite {
                self.unanswered = Some(now + self.cfg.unanswered_invite);
            }
            return out;
        }
        self.unanswered = None;
        self.to_tag = resp.to().ok().and_then(|t| t.tag().map(str::to_string));
        match self.kind {
            TxKind::Invite if code < 300 => {
                // RFC 6026 §8.5: Accepted until Timer L
                self.state = ServerState::Accepted;
                self.linger = Some(now + self.cfg.t1x64());
            }
            TxKind::Invite => {
                self.state = ServerState::Completed;
                if !self.reliable {
                    self.retransmit = Some((now + self.cfg.t1, self.cfg.t1));
                }
                self.timeout = Some(now + self.cfg.t1x64());
            }
            TxKind::NonInvite => {
                self.state = ServerState::Completed;
                if self.reliable {
                    self.terminate(&mut out);
                } else {
                    self.linger = Some(now + self.cfg.t1x64());
                }
            }
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
        if self.unanswered.is_some_and(|t| t <= now) {
            self.unanswered = None;
            out.push(TxOutput::Failed(Failure::Timeout));
            match self.kind {
                // the user never answered: 408 (then Completed as for any final response)
                TxKind::Invite => {
                    let tag = crate::ua::new_tag();
                    if let Ok(resp) = MessageBuilder::response_to(
                        &self.request,
                        408,
                        "Request Timeout",
                        Some(&tag),
                    )
                    .build()
                    {
                        out.extend(self.send_response(&resp, now));
                    }
                }
                // RFC 4320 §4.2: no 408 to a non-INVITE; the client has given up anyway
                TxKind::NonInvite => self.terminate(&mut out),
            }
            return out;
        }
        if let Some((at, interval)) = self.retransmit {
            if at <= now {
                if let Some(r) = &self.last_response {
                    out.push(TxOutput::Transmit(r.clone()));
                }
                let next = interval.saturating_mul(2).min(self.cfg.t2);
                self.retransmit = Some((now + next, next));
            }
        }
        out
    }

    /// The transport failed to deliver a response (§17.2.4): the transaction ends.
    pub fn on_transport_error(&mut self) -> Vec<TxOutput> {
        let mut out = Vec::new();
        if self.state != ServerState::Terminated {
            out.push(TxOutput::Failed(Failure::Transport));
            self.terminate(&mut out);
        }
        out
    }
}
