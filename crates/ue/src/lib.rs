//! IMS UE simulator core (no I/O): the simulated ISIM with its SQN state file, the registration
//! state machine of TS 24.229 §5.1.1 (IMS-AKA, AUTS resynchronisation, RFC 3329 security
//! agreement hooks, re-/de-registration, reg event), the RFC 3680 reginfo parser and the
//! `--trace` ladder formatter.
//!
//! * [`isim`]: K, OP/OPc, AMF, SQN_MS array; atomic JSON state file.
//! * [`register`]: [`Ue`], the sans-IO machine: `handle(Event, now) -> Vec<Action>`.
//! * [`security`]: Security-Client offer, Security-Server choice, [`SecuritySetup`] for the
//!   IPsec/TLS layer.
//! * [`reginfo`]: `application/reginfo+xml` (RFC 3680).
//! * [`trace`]: one line per message.
//! * [`driver`]: the tokio driver (UDP/TCP, RFC 3261 §17.1.2 retransmissions, timers, state file).
//! * [`tls`]: TLS client settings (`--transport tls`, `--sec tls`).
//! * [`ipsec`]: the UE's ipsec-3gpp SAs on the userspace ESP datapath (`--sec ipsec`).
//! * [`load`]: the load generator of `imscore bench`; [`load::engine`] runs it over UDP with a few
//!   threads, batched `recvmmsg`/`sendmmsg` and a timer heap instead of a task per UE.
//! * [`fuzzing`]: entry points of the fuzz targets.

#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod driver;
mod error;
pub mod fuzzing;
pub mod ipsec;
pub mod isim;
pub mod load;
pub mod reginfo;
pub mod register;
mod register_wire;
pub mod security;
pub mod tls;
pub mod trace;

pub use error::{Result, UeError};
pub use isim::{Isim, OperatorKey};
pub use register::{
    refresh_delay, Action, Credentials, Event, Flow, Password, Phase, TimerId, Ue, UeConfig,
};
pub use security::{IpsecOffer, Negotiated, SaEndpoint, SecurityOffer, SecuritySetup};
