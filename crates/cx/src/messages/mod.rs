//! Typed Cx requests and answers (TS 29.229 §6.1) and their mapping to Diameter messages.
//!
//! Every type implements [`CxMessage`]: `encode` writes the message straight into a buffer and
//! `decode` reads it back from borrowed bytes (the fast path, see the `cx` benchmark);
//! `to_message` / `from_message` do the same with a [`diameter::Message`] for the node. Both paths
//! share one writer and one reader per command (AVPs in the order of the command's CCF, flags from
//! the Cx dictionary; the AVPs are walked once). Decoding errors carry the Result-Code and Failed-AVP to answer with: a missing
//! required AVP is DIAMETER_MISSING_AVP (5005), a value of the wrong size DIAMETER_INVALID_AVP_LENGTH
//! (5014), a bad value DIAMETER_INVALID_AVP_VALUE (5004), a repeated single AVP
//! DIAMETER_AVP_OCCURS_TOO_MANY_TIMES (5009). Unknown AVPs are ignored here (the `*[AVP]` of every
//! CCF); rejecting unknown AVPs with the M bit is the dictionary's job
//! ([`crate::dictionary::dictionary`]).

pub use lir::{LocationInfoAnswer, LocationInfoRequest};
pub use mar::{MultimediaAuthAnswer, MultimediaAuthRequest};
pub use ppr::{PushProfileAnswer, PushProfileRequest};
pub use rtr::{RegistrationTerminationAnswer, RegistrationTerminationRequest};
pub use sar::{ServerAssignmentAnswer, ServerAssignmentRequest};
pub use uar::{UserAuthorizationAnswer, UserAuthorizationRequest};

use bytes::BytesMut;
use diameter::Message;

use crate::error::CxError;

/// A typed Cx command.
pub trait CxMessage: Sized {
    /// The command code (TS 29.229 Table 6.1.1).
    const COMMAND_CODE: u32;
    /// Whether this is the request (R bit set) or the answer.
    const IS_REQUEST: bool;

    /// Appends the encoded message to `buf` (hop-by-hop and end-to-end 0). This writes straight
    /// into the buffer, without building a [`Message`].
    fn encode(&self, buf: &mut BytesMut);

    /// Decodes one whole Diameter message from `bytes` (borrowing them; only the typed fields are
    /// copied).
    fn decode(bytes: &[u8]) -> Result<Self, CxError>;

    /// Builds the Diameter message. Requests get hop-by-hop and end-to-end 0 (the sending node
    /// assigns them); answers too, see [`CxMessage::to_answer_for`].
    fn to_message(&self) -> Message;

    /// Reads the typed command from a Diameter message.
    fn from_message(msg: &Message) -> Result<Self, CxError>;

    /// Builds the answer message to `request`: same hop-by-hop and end-to-end identifiers, P bit
    /// copied (RFC 6733 §6.2).
    fn to_answer_for(&self, request: &Message) -> Message {
        let mut m = self.to_message();
        m.header.hop_by_hop = request.header.hop_by_hop;
        m.header.end_to_end = request.header.end_to_end;
        let p = diameter::message::FLAG_PROXIABLE;
        m.header.flags = (m.header.flags & !p) | (request.header.flags & p);
        m
    }
}

/// Implements [`CxMessage`] for a type with inherent `write`, `read` and `header_flags`.
macro_rules! cx_message {
    ($t:ty, $command:expr, $request:expr) => {
        impl $crate::messages::CxMessage for $t {
            const COMMAND_CODE: u32 = $command;
            const IS_REQUEST: bool = $request;

            fn encode(&self, buf: &mut bytes::BytesMut) {
                let mut s = $crate::wire::BufSink::new(
                    buf,
                    self.header_flags(),
                    $command,
                    $crate::dictionary::CX_APPLICATION_ID,
                );
                self.write(&mut s);
                s.finish();
            }

            fn decode(bytes: &[u8]) -> Result<Self, $crate::error::CxError> {
                let (header, mut avps) = $crate::wire::parse_message(bytes)?;
                $crate::messages::common::check_header(&header, $command, $request)?;
                Self::read(&mut avps)
            }

            fn to_message(&self) -> diameter::Message {
                let mut s = $crate::wire::TreeSink::new();
                self.write(&mut s);
                s.finish(
                    self.header_flags(),
                    $command,
                    $crate::dictionary::CX_APPLICATION_ID,
                )
            }

            fn from_message(msg: &diameter::Message) -> Result<Self, $crate::error::CxError> {
                $crate::messages::common::with_avps(msg, |header, avps| {
                    $crate::messages::common::check_header(header, $command, $request)?;
                    Self::read(avps)
                })
            }
        }
    };
}
pub(crate) use cx_message;

pub mod common;
pub mod grouped;
mod lir;
mod mar;
mod ppr;
mod rtr;
mod sar;
mod uar;

/// Any Cx command, for code that receives whatever comes.
#[derive(Debug, Clone, PartialEq)]
pub enum AnyCx {
    /// UAR.
    Uar(UserAuthorizationRequest),
    /// UAA.
    Uaa(UserAuthorizationAnswer),
    /// SAR.
    Sar(ServerAssignmentRequest),
    /// SAA.
    Saa(ServerAssignmentAnswer),
    /// LIR.
    Lir(LocationInfoRequest),
    /// LIA.
    Lia(LocationInfoAnswer),
    /// MAR.
    Mar(MultimediaAuthRequest),
    /// MAA.
    Maa(MultimediaAuthAnswer),
    /// RTR.
    Rtr(RegistrationTerminationRequest),
    /// RTA.
    Rta(RegistrationTerminationAnswer),
    /// PPR.
    Ppr(PushProfileRequest),
    /// PPA.
    Ppa(PushProfileAnswer),
}

impl AnyCx {
    /// Reads whichever Cx command `msg` is (DIAMETER_COMMAND_UNSUPPORTED for a non-Cx command).
    pub fn from_message(msg: &Message) -> Result<Self, CxError> {
        use crate::dictionary::command as c;
        Ok(match (msg.command_code(), msg.is_request()) {
            (c::USER_AUTHORIZATION, true) => {
                Self::Uar(UserAuthorizationRequest::from_message(msg)?)
            }
            (c::USER_AUTHORIZATION, false) => {
                Self::Uaa(UserAuthorizationAnswer::from_message(msg)?)
            }
            (c::SERVER_ASSIGNMENT, true) => Self::Sar(ServerAssignmentRequest::from_message(msg)?),
            (c::SERVER_ASSIGNMENT, false) => Self::Saa(ServerAssignmentAnswer::from_message(msg)?),
            (c::LOCATION_INFO, true) => Self::Lir(LocationInfoRequest::from_message(msg)?),
            (c::LOCATION_INFO, false) => Self::Lia(LocationInfoAnswer::from_message(msg)?),
            (c::MULTIMEDIA_AUTH, true) => Self::Mar(MultimediaAuthRequest::from_message(msg)?),
            (c::MULTIMEDIA_AUTH, false) => Self::Maa(MultimediaAuthAnswer::from_message(msg)?),
            (c::REGISTRATION_TERMINATION, true) => {
                Self::Rtr(RegistrationTerminationRequest::from_message(msg)?)
            }
            (c::REGISTRATION_TERMINATION, false) => {
                Self::Rta(RegistrationTerminationAnswer::from_message(msg)?)
            }
            (c::PUSH_PROFILE, true) => Self::Ppr(PushProfileRequest::from_message(msg)?),
            (c::PUSH_PROFILE, false) => Self::Ppa(PushProfileAnswer::from_message(msg)?),
            (other, _) => {
                return Err(CxError::Diameter(diameter::Error::CommandUnsupported(
                    other,
                )))
            }
        })
    }

    /// Decodes bytes (one whole Diameter message) into whichever Cx command they hold. This is one
    /// of the two functions the `cx_decode` fuzz target exercises (the other is
    /// `diameter::Message::decode` followed by [`AnyCx::from_message`]; both must agree).
    pub fn decode(bytes: &[u8]) -> Result<Self, CxError> {
        let (header, _) = crate::wire::parse_message(bytes)?;
        use crate::dictionary::command as c;
        let request = header.flags & diameter::message::FLAG_REQUEST != 0;
        Ok(match (header.command_code, request) {
            (c::USER_AUTHORIZATION, true) => Self::Uar(UserAuthorizationRequest::decode(bytes)?),
            (c::USER_AUTHORIZATION, false) => Self::Uaa(UserAuthorizationAnswer::decode(bytes)?),
            (c::SERVER_ASSIGNMENT, true) => Self::Sar(ServerAssignmentRequest::decode(bytes)?),
            (c::SERVER_ASSIGNMENT, false) => Self::Saa(ServerAssignmentAnswer::decode(bytes)?),
            (c::LOCATION_INFO, true) => Self::Lir(LocationInfoRequest::decode(bytes)?),
            (c::LOCATION_INFO, false) => Self::Lia(LocationInfoAnswer::decode(bytes)?),
            (c::MULTIMEDIA_AUTH, true) => Self::Mar(MultimediaAuthRequest::decode(bytes)?),
            (c::MULTIMEDIA_AUTH, false) => Self::Maa(MultimediaAuthAnswer::decode(bytes)?),
            (c::REGISTRATION_TERMINATION, true) => {
                Self::Rtr(RegistrationTerminationRequest::decode(bytes)?)
            }
            (c::REGISTRATION_TERMINATION, false) => {
                Self::Rta(RegistrationTerminationAnswer::decode(bytes)?)
            }
            (c::PUSH_PROFILE, true) => Self::Ppr(PushProfileRequest::decode(bytes)?),
            (c::PUSH_PROFILE, false) => Self::Ppa(PushProfileAnswer::decode(bytes)?),
            (other, _) => {
                return Err(CxError::Diameter(diameter::Error::CommandUnsupported(
                    other,
                )))
            }
        })
    }

    /// Appends the encoded message to `buf`.
    pub fn encode(&self, buf: &mut BytesMut) {
        match self {
            Self::Uar(m) => m.encode(buf),
            Self::Uaa(m) => m.encode(buf),
            Self::Sar(m) => m.encode(buf),
            Self::Saa(m) => m.encode(buf),
            Self::Lir(m) => m.encode(buf),
            Self::Lia(m) => m.encode(buf),
            Self::Mar(m) => m.encode(buf),
            Self::Maa(m) => m.encode(buf),
            Self::Rtr(m) => m.encode(buf),
            Self::Rta(m) => m.encode(buf),
            Self::Ppr(m) => m.encode(buf),
            Self::Ppa(m) => m.encode(buf),
        }
    }

    /// Builds the Diameter message.
    pub fn to_message(&self) -> Message {
        match self {
            Self::Uar(m) => m.to_message(),
            Self::Uaa(m) => m.to_message(),
            Self::Sar(m) => m.to_message(),
            Self::Saa(m) => m.to_message(),
            Self::Lir(m) => m.to_message(),
            Self::Lia(m) => m.to_message(),
            Self::Mar(m) => m.to_message(),
            Self::Maa(m) => m.to_message(),
            Self::Rtr(m) => m.to_message(),
            Self::Rta(m) => m.to_message(),
            Self::Ppr(m) => m.to_message(),
            Self::Ppa(m) => m.to_message(),
        }
    }
}
