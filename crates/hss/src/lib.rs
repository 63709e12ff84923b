//! `hss`: the Home Subscriber Server of imscore.
//!
//! - [`model`]: the IMS subscription data model (TS 29.228 Annex B user profile shapes): subscription →
//!   private identities (K, OP or OPc, AMF, SQN state, authentication schemes) → public identities
//!   (barring, implicit registration sets, registration state) → service profiles with initial
//!   filter criteria; S-CSCF assignment and capabilities; roaming agreements.
//! - [`store`]: the async [`store::SubscriberStore`] trait and [`store::SqlStore`] over SQLite
//!   (embedded default, WAL) or PostgreSQL, with SQN allocation done atomically in the database.
//! - [`provision`]: validated subscriber input, bulk CSV/JSON import, demo subscribers.
//! - [`cli`]: the `imscore subscriber …` commands; [`rest`]: the same over HTTP/JSON (bearer
//!   token, OpenAPI at `/openapi.json`), plus network-initiated de-registration.
//! - [`server`]: a complete HSS ([`server::Hss`]) from one [`server::HssConfig`]: store, Cx
//!   Diameter node, REST API, SQN blocks.
//! - [`cx_server`]: the Cx server (UAR, MAR, SAR, LIR answered from the store; RTR sent on an
//!   operator command), on a `diameter::Node`.
//!
//! Secrets ([`secret`]) are fixed byte arrays, zeroized on drop, compared in constant time and
//! never printed.

mod api_client;
pub mod cli;
pub mod cx_server;
mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod model;
pub mod provision;
pub mod rest;
pub mod secret;
pub mod server;
pub mod store;

pub use error::HssError;
pub use store::{SqlStore, StoreConfig, SubscriberStore};
