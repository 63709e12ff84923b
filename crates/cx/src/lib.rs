//! The Cx/Dx Diameter application of the IMS (3GPP TS 29.228 procedures, TS 29.229 protocol),
//! sans-IO, on the `diameter` crate's codec.
//!
//! - [`dictionary`]: AVP codes, command codes, the Cx AVP table (`CX_AVPS`) to register with a
//!   [`diameter::Dictionary`].
//! - [`enums`]: enumerated AVP values (Server-Assignment-Type, User-Authorization-Type, …).
//! - [`result`]: base and Cx experimental result codes; [`CxResult`] is an answer's outcome.
//! - [`messages`]: typed UAR/UAA, SAR/SAA, LIR/LIA, MAR/MAA, RTR/RTA, PPR/PPA ([`CxMessage`]).
//! - [`user_data`]: the `IMSSubscription` User-Data XML model, serializer and parser.
//! - [`secret`]: zeroizing, constant-time-compared byte strings for CK, IK, XRES, HA1.
//!
//! Encoding and decoding walk the wire format directly (a private module checked against the
//! `diameter` codec): no intermediate AVP tree and no refcount per AVP on the hot path.
#![deny(missing_docs)]

pub mod dictionary;
pub mod enums;
pub mod error;
pub mod messages;
pub mod result;
pub mod secret;
pub mod user_data;
mod wire;

pub use error::CxError;
pub use messages::common::{
    AnswerCommon, DeregistrationReason, ProxyInfo, RequestCommon, SupportedFeatures,
};
pub use messages::grouped::{
    scheme, ChargingInformation, ServerCapabilities, SipAuthDataItem, SipDigestAuthenticate,
};
pub use messages::{
    AnyCx, CxMessage, LocationInfoAnswer, LocationInfoRequest, MultimediaAuthAnswer,
    MultimediaAuthRequest, PushProfileAnswer, PushProfileRequest, RegistrationTerminationAnswer,
    RegistrationTerminationRequest, ServerAssignmentAnswer, ServerAssignmentRequest,
    UserAuthorizationAnswer, UserAuthorizationRequest,
};
pub use result::{CxResult, ExperimentalResultCode};
pub use secret::SecretBytes;
pub use user_data::ImsSubscription;
