//! Diameter base protocol (RFC 6733) for imscore.
//!
//! - [`message`], [`avp`]: sans-IO codec — header (§3), AVPs (§4), every base data type (§4.2, §4.3),
//!   zero-copy decoding with strict bounds, a borrowed walker ([`AvpRef`]) for hot paths, encoding
//!   into a reusable buffer.
//! - [`dictionary`]: base AVP table (§4.5), extensible by applications (Cx), validation and printing.
//! - [`error`], [`result_code`]: one error type mapping to Result-Codes (§7.1) with Failed-AVP (§7.5).
//! - [`framing`]: tokio-util codec for a byte stream (TCP).
//! - [`capabilities`]: CER/CEA, DWR/DWA, DPR/DPA contents and the common-application check (§5.3).
//! - [`peer`]: the peer state machine (§5.6, election §5.6.4) with the RFC 3539 watchdog — sans-IO.
//! - [`router`], [`ids`]: realm routing (§6.1), pending requests by Hop-by-Hop id, id generation (§3).
//! - [`engine`]: the sans-IO node tying peers, routing, validation, timeouts and failover together.
//! - [`transport`], [`node`]: transports behind a trait (TCP) and the thin tokio driver.
//! - [`fuzzing`]: the decoder fuzz target's entry point.
//!
//! ```
//! use diameter::{avp_code as c, Avp, AvpSlice, Message, APP_CX, VENDOR_3GPP};
//!
//! let mut mar = Message::request(303, APP_CX)
//!     .with(Avp::utf8(c::SESSION_ID, "scscf.example;1;1"))
//!     .with(Avp::grouped(
//!         c::VENDOR_SPECIFIC_APPLICATION_ID,
//!         vec![Avp::u32(c::VENDOR_ID, VENDOR_3GPP), Avp::u32(c::AUTH_APPLICATION_ID, APP_CX)],
//!     ))
//!     .with(Avp::utf8(601, "sip:alice@example").vendor(VENDOR_3GPP));
//! mar.header.hop_by_hop = 7;
//! let wire = mar.to_bytes();
//! let back = Message::decode(wire).unwrap();
//! assert_eq!(back.find(601, VENDOR_3GPP).unwrap().as_utf8().unwrap(), "sip:alice@example");
//! let vsai = back.require(c::VENDOR_SPECIFIC_APPLICATION_ID, 0).unwrap().as_grouped().unwrap();
//! assert_eq!(vsai.require(c::AUTH_APPLICATION_ID, 0).unwrap().as_u32().unwrap(), APP_CX);
//! let answer = back.answer(); // same ids, R bit cleared, Session-Id copied
//! assert_eq!(answer.header.hop_by_hop, 7);
//! ```
#![deny(missing_docs)]

pub mod avp;
pub mod avp_code;
pub mod capabilities;
pub mod command;
pub mod dictionary;
pub mod engine;
pub mod error;
pub mod framing;
pub mod fuzzing;
pub mod ids;
pub mod message;
pub mod node;
pub mod peer;
pub mod result_code;
pub mod router;
pub mod transport;

pub use avp::{iter_avps, Address, Avp, AvpIter, AvpRef, AvpSlice, Time, Value};
pub use capabilities::{AppId, LocalIdentity};
pub use dictionary::{AvpDef, AvpType, Dictionary, BASE_AVPS};
pub use engine::{EngineConfig, PeerConfig, PeerInfo};
pub use error::{Error, Result};
pub use message::{Header, Limits, Message};
pub use node::{Handler, Node, NodeConfig};
pub use peer::{PeerState, Timers};
pub use router::Route;

/// 3GPP's IANA enterprise number (Vendor-Id of the Cx/Dx AVPs).
pub const VENDOR_3GPP: u32 = 10415;
/// The Cx/Dx application id (TS 29.229 §6.1).
pub const APP_CX: u32 = 16_777_216;
