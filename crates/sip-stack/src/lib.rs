//! # sip-stack: transactions, transports and proxy core for imscore
//!
//! - [`transaction`]: RFC 3261 §17 client/server transactions (INVITE and non-INVITE, Timers
//!   A–K) as sans-IO state machines and the [`TransactionLayer`] that matches messages to them.
//! - [`Flow`]: the transport, local and remote socket and connection of every message.
//! - [`transport`]: UDP/TCP/TLS sockets owned by a tokio [`Endpoint`]; listeners added and
//!   removed at run time; every received message comes with its flow.
//! - [`proxy`]: RFC 3261 §16 request checks and forwarding edits, and the sans-IO
//!   [`proxy::StatefulProxy`]; [`driver::run_proxy`] runs it on an endpoint.
//! - [`service`]: an asynchronous proxy application ([`Service`]) on the stateful proxy:
//!   concurrent per-request decisions, final responses seen before relay, serial fail-over,
//!   requests originated as a UAC.
//! - [`ua`]: tags, responses, Require checks, dialogs and RFC 6665 subscriptions.
//! - [`resolve`]: static host table and RFC 3263 NAPTR/SRV/A selection over a [`resolve::Dns`].

#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod driver;
mod error;
mod flow;
pub mod fuzzing;
pub mod proxy;
pub mod resolve;
mod send;
pub mod service;
pub mod transaction;
pub mod transport;
pub mod ua;

/// The RFC 3261 §8.1.1.7 branch magic cookie (re-exported from `sip`).
pub use sip::MAGIC_COOKIE;

pub use error::{Error, Result};
pub use flow::{
    connection_fallback, response_flow, via_destination, ConnId, Flow, ProtectedPorts, Transport,
};
pub use service::{
    spawn_service, ProxyResponse, RequestAction, ResponseAction, Service, ServiceConfig,
    ServiceContext,
};
pub use transaction::{
    ClientKey, Failure, LayerConfig, ServerKey, TimerConfig, TransactionLayer, TxEvent, TxKey,
};
pub use transport::{generate_self_signed, Endpoint, EndpointConfig, Inbound, TlsConfig};
