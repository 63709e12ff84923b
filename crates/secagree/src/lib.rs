//! # secagree: SIP security mechanism agreement for IMS (no I/O)
//!
//! RFC 3329 as profiled by TS 33.203 §7 and TS 24.229 §5.2.3 (P-CSCF) / §5.1.1 (UE), with the
//! refresh and unprotected-port rules of the reference TLS call flows:
//!
//! * [`config`]: `sec_agree = required | optional | off`, mechanism q values, allowed algorithms.
//! * [`negotiate`]: validate the UE's Security-Client, choose mechanism and alg/ealg, build the
//!   Security-Server for the 401 from ids allocated by `ipsec::SpiAllocator`/`PortAllocator`.
//! * [`sa`]: the four SAs of TS 33.203 §7.1 ([`SaParams`]) and their `ipsec::ImsSaSet`.
//! * [`compare`]: Security-Verify / Security-Client list equality.
//! * [`policy`]: per-request checks ([`check_request`]) and the `integrity-protected` value.
//! * [`strip`]: headers removed before forwarding, `integrity-protected` setting.
//! * [`ue`]: the UE half (offer, pick, Security-Verify).
//! * [`fuzzing`]: the fuzz entry point.
//!
//! Every refusal is a [`SecAgreeError`] with its SIP status ([`SecAgreeError::status`]).

#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod compare;
pub mod config;
pub mod error;
pub mod fuzzing;
pub mod negotiate;
pub mod policy;
pub mod sa;
pub mod strip;
pub mod ue;

pub use compare::{lists_eq, mechanism_eq};
pub use config::{Config, Mechanism, MechanismPref, Qvalue, SecAgreeMode};
pub use error::{Result, SecAgreeError};
pub use negotiate::{advertised, negotiate, select, Choice, IpsecIds, Negotiated};
pub use policy::{
    check_request, is_emergency, Action, Arrival, Association, Binding, IntegrityProtected,
    Rejection, Transport, Verdict,
};
pub use sa::{SaDirection, SaParams};
pub use strip::{prepare_forward, strip_sec_agree};
