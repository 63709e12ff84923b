//! Result codes of Cx answers: the base Result-Code values (RFC 6733 §7.1) and the 3GPP
//! Experimental-Result-Code values of TS 29.229 §6.2, and the answer's outcome as one type.

use crate::dictionary::VENDOR_3GPP;

/// Base protocol Result-Code values (RFC 6733 §7.1) that Cx nodes send or must understand.
pub mod base {
    /// DIAMETER_MULTI_ROUND_AUTH (RFC 6733 §7.1.1).
    pub const DIAMETER_MULTI_ROUND_AUTH: u32 = 1001;
    /// DIAMETER_SUCCESS (RFC 6733 §7.1.2).
    pub const DIAMETER_SUCCESS: u32 = 2001;
    /// DIAMETER_LIMITED_SUCCESS (RFC 6733 §7.1.2).
    pub const DIAMETER_LIMITED_SUCCESS: u32 = 2002;
    /// DIAMETER_COMMAND_UNSUPPORTED (RFC 6733 §7.1.3).
    pub const DIAMETER_COMMAND_UNSUPPORTED: u32 = 3001;
    /// DIAMETER_UNABLE_TO_DELIVER (RFC 6733 §7.1.3).
    pub const DIAMETER_UNABLE_TO_DELIVER: u32 = 3002;
    /// DIAMETER_REALM_NOT_SERVED (RFC 6733 §7.1.3).
    pub const DIAMETER_REALM_NOT_SERVED: u32 = 3003;
    /// DIAMETER_TOO_BUSY (RFC 6733 §7.1.3).
    pub const DIAMETER_TOO_BUSY: u32 = 3004;
    /// DIAMETER_LOOP_DETECTED (RFC 6733 §7.1.3).
    pub const DIAMETER_LOOP_DETECTED: u32 = 3005;
    /// DIAMETER_REDIRECT_INDICATION (RFC 6733 §7.1.3).
    pub const DIAMETER_REDIRECT_INDICATION: u32 = 3006;
    /// DIAMETER_APPLICATION_UNSUPPORTED (RFC 6733 §7.1.3).
    pub const DIAMETER_APPLICATION_UNSUPPORTED: u32 = 3007;
    /// DIAMETER_INVALID_HDR_BITS (RFC 6733 §7.1.3).
    pub const DIAMETER_INVALID_HDR_BITS: u32 = 3008;
    /// DIAMETER_INVALID_AVP_BITS (RFC 6733 §7.1.3).
    pub const DIAMETER_INVALID_AVP_BITS: u32 = 3009;
    /// DIAMETER_UNKNOWN_PEER (RFC 6733 §7.1.3).
    pub const DIAMETER_UNKNOWN_PEER: u32 = 3010;
    /// DIAMETER_AUTHENTICATION_REJECTED (RFC 6733 §7.1.4).
    pub const DIAMETER_AUTHENTICATION_REJECTED: u32 = 4001;
    /// DIAMETER_OUT_OF_SPACE (RFC 6733 §7.1.4).
    pub const DIAMETER_OUT_OF_SPACE: u32 = 4002;
    /// ELECTION_LOST (RFC 6733 §7.1.4).
    pub const ELECTION_LOST: u32 = 4003;
    /// DIAMETER_AVP_UNSUPPORTED (RFC 6733 §7.1.5).
    pub const DIAMETER_AVP_UNSUPPORTED: u32 = 5001;
    /// DIAMETER_UNKNOWN_SESSION_ID (RFC 6733 §7.1.5).
    pub const DIAMETER_UNKNOWN_SESSION_ID: u32 = 5002;
    /// DIAMETER_AUTHORIZATION_REJECTED (RFC 6733 §7.1.5).
    pub const DIAMETER_AUTHORIZATION_REJECTED: u32 = 5003;
    /// DIAMETER_INVALID_AVP_VALUE (RFC 6733 §7.1.5).
    pub const DIAMETER_INVALID_AVP_VALUE: u32 = 5004;
    /// DIAMETER_MISSING_AVP (RFC 6733 §7.1.5).
    pub const DIAMETER_MISSING_AVP: u32 = 5005;
    /// DIAMETER_RESOURCES_EXCEEDED (RFC 6733 §7.1.5).
    pub const DIAMETER_RESOURCES_EXCEEDED: u32 = 5006;
    /// DIAMETER_CONTRADICTING_AVPS (RFC 6733 §7.1.5).
    pub const DIAMETER_CONTRADICTING_AVPS: u32 = 5007;
    /// DIAMETER_AVP_NOT_ALLOWED (RFC 6733 §7.1.5).
    pub const DIAMETER_AVP_NOT_ALLOWED: u32 = 5008;
    /// DIAMETER_AVP_OCCURS_TOO_MANY_TIMES (RFC 6733 §7.1.5).
    pub const DIAMETER_AVP_OCCURS_TOO_MANY_TIMES: u32 = 5009;
    /// DIAMETER_NO_COMMON_APPLICATION (RFC 6733 §7.1.5).
    pub const DIAMETER_NO_COMMON_APPLICATION: u32 = 5010;
    /// DIAMETER_UNSUPPORTED_VERSION (RFC 6733 §7.1.5).
    pub const DIAMETER_UNSUPPORTED_VERSION: u32 = 5011;
    /// DIAMETER_UNABLE_TO_COMPLY (RFC 6733 §7.1.5).
    pub const DIAMETER_UNABLE_TO_COMPLY: u32 = 5012;
    /// DIAMETER_INVALID_BIT_IN_HEADER (RFC 6733 §7.1.5).
    pub const DIAMETER_INVALID_BIT_IN_HEADER: u32 = 5013;
    /// DIAMETER_INVALID_AVP_LENGTH (RFC 6733 §7.1.5).
    pub const DIAMETER_INVALID_AVP_LENGTH: u32 = 5014;
    /// DIAMETER_INVALID_MESSAGE_LENGTH (RFC 6733 §7.1.5).
    pub const DIAMETER_INVALID_MESSAGE_LENGTH: u32 = 5015;
    /// DIAMETER_INVALID_AVP_BIT_COMBO (RFC 6733 §7.1.5).
    pub const DIAMETER_INVALID_AVP_BIT_COMBO: u32 = 5016;
    /// DIAMETER_NO_COMMON_SECURITY (RFC 6733 §7.1.5).
    pub const DIAMETER_NO_COMMON_SECURITY: u32 = 5017;
}

/// The Experimental-Result-Code values of Cx (TS 29.229 §6.2), sent with Vendor-Id 10415.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExperimentalResultCode {
    /// DIAMETER_FIRST_REGISTRATION (2001).
    FirstRegistration,
    /// DIAMETER_SUBSEQUENT_REGISTRATION (2002).
    SubsequentRegistration,
    /// DIAMETER_UNREGISTERED_SERVICE (2003).
    UnregisteredService,
    /// DIAMETER_SUCCESS_SERVER_NAME_NOT_STORED (2004).
    SuccessServerNameNotStored,
    /// DIAMETER_ERROR_USER_UNKNOWN (5001).
    ErrorUserUnknown,
    /// DIAMETER_ERROR_IDENTITIES_DONT_MATCH (5002).
    ErrorIdentitiesDontMatch,
    /// DIAMETER_ERROR_IDENTITY_NOT_REGISTERED (5003).
    ErrorIdentityNotRegistered,
    /// DIAMETER_ERROR_ROAMING_NOT_ALLOWED (5004).
    ErrorRoamingNotAllowed,
    /// DIAMETER_ERROR_IDENTITY_ALREADY_REGISTERED (5005).
    ErrorIdentityAlreadyRegistered,
    /// DIAMETER_ERROR_AUTH_SCHEME_NOT_SUPPORTED (5006).
    ErrorAuthSchemeNotSupported,
    /// DIAMETER_ERROR_IN_ASSIGNMENT_TYPE (5007).
    ErrorInAssignmentType,
    /// DIAMETER_ERROR_TOO_MUCH_DATA (5008).
    ErrorTooMuchData,
    /// DIAMETER_ERROR_NOT_SUPPORTED_USER_DATA (5009).
    ErrorNotSupportedUserData,
    /// DIAMETER_ERROR_FEATURE_UNSUPPORTED (5011).
    ErrorFeatureUnsupported,
    /// DIAMETER_ERROR_SERVING_NODE_FEATURE_UNSUPPORTED (5012).
    ErrorServingNodeFeatureUnsupported,
}

impl ExperimentalResultCode {
    /// Every code, in numeric order.
    pub const ALL: [Self; 15] = [
        Self::FirstRegistration,
        Self::SubsequentRegistration,
        Self::UnregisteredService,
        Self::SuccessServerNameNotStored,
        Self::ErrorUserUnknown,
        Self::ErrorIdentitiesDontMatch,
        Self::ErrorIdentityNotRegistered,
        Self::ErrorRoamingNotAllowed,
        Self::ErrorIdentityAlreadyRegistered,
        Self::ErrorAuthSchemeNotSupported,
        Self::ErrorInAssignmentType,
        Self::ErrorTooMuchData,
        Self::ErrorNotSupportedUserData,
        Self::ErrorFeatureUnsupported,
        Self::ErrorServingNodeFeatureUnsupported,
    ];

    /// The numeric Experimental-Result-Code.
    pub const fn code(self) -> u32 {
        match self {
            Self::FirstRegistration => 2001,
            Self::SubsequentRegistration => 2002,
            Self::UnregisteredService => 2003,
            Self::SuccessServerNameNotStored => 2004,
            Self::ErrorUserUnknown => 5001,
            Self::ErrorIdentitiesDontMatch => 5002,
            Self::ErrorIdentityNotRegistered => 5003,
            Self::ErrorRoamingNotAllowed => 5004,
            Self::ErrorIdentityAlreadyRegistered => 5005,
            Self::ErrorAuthSchemeNotSupported => 5006,
            Self::ErrorInAssignmentType => 5007,
            Self::ErrorTooMuchData => 5008,
            Self::ErrorNotSupportedUserData => 5009,
            Self::ErrorFeatureUnsupported => 5011,
            Self::ErrorServingNodeFeatureUnsupported => 5012,
        }
    }

    /// The code for a numeric value, if Cx defines it.
    pub fn from_code(code: u32) -> Option<Self> {
        Self::ALL.iter().copied().find(|c| c.code() == code)
    }

    /// The name used in TS 29.229.
    pub const fn name(self) -> &'static str {
        match self {
            Self::FirstRegistration => "DIAMETER_FIRST_REGISTRATION",
            Self::SubsequentRegistration => "DIAMETER_SUBSEQUENT_REGISTRATION",
            Self::UnregisteredService => "DIAMETER_UNREGISTERED_SERVICE",
            Self::SuccessServerNameNotStored => "DIAMETER_SUCCESS_SERVER_NAME_NOT_STORED",
            Self::ErrorUserUnknown => "DIAMETER_ERROR_USER_UNKNOWN",
            Self::ErrorIdentitiesDontMatch => "DIAMETER_ERROR_IDENTITIES_DONT_MATCH",
            Self::ErrorIdentityNotRegistered => "DIAMETER_ERROR_IDENTITY_NOT_REGISTERED",
            Self::ErrorRoamingNotAllowed => "DIAMETER_ERROR_ROAMING_NOT_ALLOWED",
            Self::ErrorIdentityAlreadyRegistered => "DIAMETER_ERROR_IDENTITY_ALREADY_REGISTERED",
            Self::ErrorAuthSchemeNotSupported => "DIAMETER_ERROR_AUTH_SCHEME_NOT_SUPPORTED",
            Self::ErrorInAssignmentType => "DIAMETER_ERROR_IN_ASSIGNMENT_TYPE",
            Self::ErrorTooMuchData => "DIAMETER_ERROR_TOO_MUCH_DATA",
            Self::ErrorNotSupportedUserData => "DIAMETER_ERROR_NOT_SUPPORTED_USER_DATA",
            Self::ErrorFeatureUnsupported => "DIAMETER_ERROR_FEATURE_UNSUPPORTED",
            Self::ErrorServingNodeFeatureUnsupported => {
                "DIAMETER_ERROR_SERVING_NODE_FEATURE_UNSUPPORTED"
            }
        }
    }
}

/// The outcome of a Cx answer: exactly one of Result-Code or Experimental-Result (TS 29.229 §6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CxResult {
    /// A Result-Code AVP (RFC 6733 §7.1).
    ResultCode(u32),
    /// An Experimental-Result AVP (RFC 6733 §7.6): Vendor-Id and Experimental-Result-Code.
    Experimental {
        /// Vendor-Id (10415 for the Cx codes).
        vendor_id: u32,
        /// Experimental-Result-Code.
        code: u32,
    },
}

impl CxResult {
    /// DIAMETER_SUCCESS (2001) as a Result-Code.
    pub const SUCCESS: Self = Self::ResultCode(base::DIAMETER_SUCCESS);

    /// A 3GPP Experimental-Result.
    pub const fn experimental(code: ExperimentalResultCode) -> Self {
        Self::Experimental {
            vendor_id: VENDOR_3GPP,
            code: code.code(),
        }
    }

    /// The numeric code, whichever AVP carries it.
    pub const fn code(&self) -> u32 {
        match *self {
            Self::ResultCode(c) => c,
            Self::Experimental { code, .. } => code,
        }
    }

    /// Whether the answer reports success (a 2xxx code, RFC 6733 §7.1.2, TS 29.229 §6.2).
    pub const fn is_success(&self) -> bool {
        let c = self.code();
        c >= 2000 && c < 3000
    }

    /// The Cx experimental code, if this is a 3GPP Experimental-Result Cx defines.
    pub fn cx_code(&self) -> Option<ExperimentalResultCode> {
        match *self {
            Self::Experimental {
                vendor_id: VENDOR_3GPP,
                code,
            } => ExperimentalResultCode::from_code(code),
            _ => None,
        }
    }
}

impl From<ExperimentalResultCode> for CxResult {
    fn from(c: ExperimentalResultCode) -> Self {
        Self::experimental(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn experimental_codes_have_the_ts_29_229_numbers() {
        let expected = [
            ("DIAMETER_FIRST_REGISTRATION", 2001),
            ("DIAMETER_SUBSEQUENT_REGISTRATION", 2002),
            ("DIAMETER_UNREGISTERED_SERVICE", 2003),
            ("DIAMETER_SUCCESS_SERVER_NAME_NOT_STORED", 2004),
            ("DIAMETER_ERROR_USER_UNKNOWN", 5001),
            ("DIAMETER_ERROR_IDENTITIES_DONT_MATCH", 5002),
            ("DIAMETER_ERROR_IDENTITY_NOT_REGISTERED", 5003),
            ("DIAMETER_ERROR_ROAMING_NOT_ALLOWED", 5004),
            ("DIAMETER_ERROR_IDENTITY_ALREADY_REGISTERED", 5005),
            ("DIAMETER_ERROR_AUTH_SCHEME_NOT_SUPPORTED", 5006),
            ("DIAMETER_ERROR_IN_ASSIGNMENT_TYPE", 5007),
            ("DIAMETER_ERROR_TOO_MUCH_DATA", 5008),
            ("DIAMETER_ERROR_NOT_SUPPORTED_USER_DATA", 5009),
            ("DIAMETER_ERROR_FEATURE_UNSUPPORTED", 5011),
            ("DIAMETER_ERROR_SERVING_NODE_FEATURE_UNSUPPORTED", 5012),
        ];
        assert_eq!(ExperimentalResultCode::ALL.len(), expected.len());
        for (c, (name, num)) in ExperimentalResultCode::ALL.iter().zip(expected) {
            assert_eq!(c.name(), name);
            assert_eq!(c.code(), num);
            assert_eq!(ExperimentalResultCode::from_code(num), Some(*c));
        }
        assert_eq!(ExperimentalResultCode::from_code(5010), None);
    }

    #[test]
    fn result_success_and_cx_code() {
        assert!(CxResult::SUCCESS.is_success());
        let first = CxResult::from(ExperimentalResultCode::FirstRegistration);
        assert!(first.is_success());
        assert_eq!(
            first.cx_code(),
            Some(ExperimentalResultCode::FirstRegistration)
        );
        let unknown = CxResult::experimental(ExperimentalResultCode::ErrorUserUnknown);
        assert!(!unknown.is_success());
        assert_eq!(unknown.code(), 5001);
        // A 5001 Result-Code is DIAMETER_AVP_UNSUPPORTED, not a Cx code.
        assert_eq!(CxResult::ResultCode(5001).cx_code(), None);
        // Another vendor's 2001 is not a Cx code.
        assert_eq!(
            CxResult::Experimental {
                vendor_id: 1,
                code: 2001
            }
            .cx_code(),
            None
        );
    }
}
