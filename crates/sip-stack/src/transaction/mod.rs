//! RFC 3261 §17 transactions as sans-IO state machines: every method takes the current time and
//! returns [`TxOutput`]s; nothing here sleeps or does I/O. [`TransactionLayer`] keys them per
//! §17.1.3 / §17.2.3 and multiplexes their timers.

mod client;
mod key;
mod layer;
mod server;
mod timers;

pub use client::{ClientState, ClientTransaction};
pub use key::{ClientKey, ServerKey};
pub use layer::{LayerConfig, TransactionLayer, TxEvent, TxKey};
pub use server::{ServerState, ServerTransaction};
pub use timers::{Timer, TimerConfig};

use bytes::Bytes;
use sip::Message;

/// What a transaction asks its owner to do.
#[derive(Debug, Clone)]
pub enum TxOutput {
    /// Send these bytes on the transaction's flow (first transmission or retransmission).
    Transmit(Bytes),
    /// Pass this response to the transaction user (client transactions only).
    Response(Message),
    /// The transaction failed: Timer B/F/H fired or the transport reported an error.
    Failed(Failure),
    /// The transaction is over; drop it.
    Terminated,
}

/// Why a transaction failed; the user treats it like the response [`Failure::status`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Timer B or F (client: treat as 408, RFC 3261 §8.1.3.1) or Timer H (server: no ACK).
    Timeout,
    /// The transport could not deliver (treat as 503, RFC 3261 §8.1.3.1).
    Transport,
}

impl Failure {
    /// The status code the client transaction user acts upon (408 or 503).
    pub fn status(self) -> u16 {
        match self {
            Failure::Timeout => 408,
            Failure::Transport => 503,
        }
    }

    /// The reason phrase for [`Failure::status`].
    pub fn reason(self) -> &'static str {
        match self {
            Failure::Timeout => "Request Timeout",
            Failure::Transport => "Service Unavailable",
        }
    }

    /// A response of [`Failure::status`] to `request`, as the client transaction user sees it
    /// (RFC 3261 §8.1.3.1; §16.7 step 5 for proxies: a timeout becomes a 408 best response).
    pub fn response_to(self, request: &Message) -> sip::Result<Message> {
        sip::MessageBuilder::response_to(request, self.status(), self.reason(), None).build()
    }
}

/// INVITE or non-INVITE (the two state machines of §17.1.1/§17.1.2 and §17.2.1/§17.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxKind {
    /// INVITE transaction.
    Invite,
    /// Any other method except ACK.
    NonInvite,
}
