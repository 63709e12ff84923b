//! The crate's error type. Every error knows the Diameter outcome it maps to (TS 29.229 §6.2,
//! RFC 6733 §7.1) and, where one AVP is at fault, the AVP to report in Failed-AVP (RFC 6733 §7.5).

use diameter::{Avp, Message};

use crate::dictionary::CX_APPLICATION_ID;
use crate::result::{base, CxResult, ExperimentalResultCode};
use crate::wire::TreeSink;

/// Errors of the Cx layer.
#[derive(Debug, thiserror::Error)]
pub enum CxError {
    /// The Diameter layer rejected the bytes or an AVP (bad length, bad value, missing AVP, …).
    #[error(transparent)]
    Diameter(#[from] diameter::Error),
    /// The message is not the command this type decodes.
    #[error("expected command {expected} ({kind}), got command {got} with R bit {request}")]
    UnexpectedCommand {
        /// Expected command code.
        expected: u32,
        /// "request" or "answer".
        kind: &'static str,
        /// Command code received.
        got: u32,
        /// R bit received.
        request: bool,
    },
    /// The message's Application-Id is not Cx.
    #[error("application id {0} is not Cx ({CX_APPLICATION_ID})")]
    ApplicationUnsupported(u32),
    /// An answer carries neither Result-Code nor Experimental-Result.
    #[error("answer carries neither Result-Code nor Experimental-Result")]
    MissingResult,
    /// The User-Data document is malformed or breaks the schema.
    #[error("invalid User-Data: {0}")]
    UserData(String),
    /// A User-Data field cannot be written as XML (our misuse).
    #[error("User-Data cannot be serialised: {0}")]
    UserDataUnrepresentable(String),
}

impl CxError {
    /// The outcome to report to the peer.
    ///
    /// Codec errors keep their base Result-Code (5014, 5004, 5005, 5009, …); a wrong command is
    /// DIAMETER_COMMAND_UNSUPPORTED (3001), a wrong application DIAMETER_APPLICATION_UNSUPPORTED
    /// (3007), a missing result DIAMETER_MISSING_AVP (5005); bad User-Data is the Cx
    /// DIAMETER_ERROR_NOT_SUPPORTED_USER_DATA (5009, Experimental-Result, TS 29.229 §6.2).
    pub fn result(&self) -> CxResult {
        match self {
            Self::Diameter(e) => CxResult::ResultCode(e.result_code()),
            Self::UnexpectedCommand { .. } => {
                CxResult::ResultCode(base::DIAMETER_COMMAND_UNSUPPORTED)
            }
            Self::ApplicationUnsupported(_) => {
                CxResult::ResultCode(base::DIAMETER_APPLICATION_UNSUPPORTED)
            }
            Self::MissingResult => CxResult::ResultCode(base::DIAMETER_MISSING_AVP),
            Self::UserData(_) => {
                CxResult::experimental(ExperimentalResultCode::ErrorNotSupportedUserData)
            }
            Self::UserDataUnrepresentable(_) => {
                CxResult::ResultCode(base::DIAMETER_UNABLE_TO_COMPLY)
            }
        }
    }

    /// The AVP to put in Failed-AVP, if one AVP is at fault.
    pub fn failed_avp(&self) -> Option<&Avp> {
        match self {
            Self::Diameter(e) => e.failed_avp(),
            _ => None,
        }
    }

    /// Builds the error answer to `request` (RFC 6733 §7.2): same command, application and
    /// identifiers, Session-Id and Proxy-Info copied, Result-Code or Experimental-Result, the E bit
    /// for protocol errors (3xxx), Error-Message and Failed-AVP.
    pub fn to_answer(&self, request: &Message, origin_host: &str, origin_realm: &str) -> Message {
        let mut ans = match self {
            Self::Diameter(e) => request.error_answer(e, origin_host, origin_realm),
            _ => {
                let mut ans = request.answer();
                if let CxResult::ResultCode(c) = self.result() {
                    if diameter::result_code::is_protocol_error(c) {
                        ans.header.flags |= diameter::message::FLAG_ERROR;
                    }
                }
                let mut t = TreeSink::new();
                crate::messages::common::write_result(&mut t, self.result());
                ans.avps.extend(t.finish(0, 0, 0).avps);
                ans.push(Avp::new(diameter::avp_code::ORIGIN_HOST, origin_host));
                ans.push(Avp::new(diameter::avp_code::ORIGIN_REALM, origin_realm));
                ans.push(
                    Avp::new(diameter::avp_code::ERROR_MESSAGE, self.to_string().as_str())
                        .mandatory(false),
                );
                ans
            }
        };
        // A Cx answer (not a protocol error) keeps the command's required AVPs (TS 29.229 §6.1):
        // Vendor-Specific-Application-Id and Auth-Session-State, after Session-Id.
        if !ans.is_error() {
            let mut t = TreeSink::new();
            crate::messages::common::write_vsai_and_state(&mut t);
            let at = usize::from(
                ans.avps
                    .first()
                    .is_some_and(|a| a.code == diameter::avp_code::SESSION_ID),
            );
            let extra = t.finish(0, 0, 0).avps;
            ans.avps.splice(at..at, extra);
        }
        ans
    }
}
