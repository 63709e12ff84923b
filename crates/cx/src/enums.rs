//! Enumerated AVP values of TS 29.229 §6.3.
//!
//! Every enumeration keeps values it does not know (`Other(n)`) instead of failing, so a newer peer
//! does not break an older one (RFC 6733 §4.3.1, Enumerated); the decoder still rejects values a
//! message cannot use where the specification says so.

macro_rules! cx_enum {
    (
        $(#[$meta:meta])*
        $name:ident { $( $(#[$vmeta:meta])* $variant:ident = $value:expr ),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
            /// A value this implementation does not know.
            Other(i32),
        }

        impl $name {
            /// The value carried on the wire.
            pub const fn value(self) -> i32 {
                match self {
                    $( Self::$variant => $value, )+
                    Self::Other(v) => v,
                }
            }

            /// Maps a wire value to the enumeration.
            pub const fn from_value(v: i32) -> Self {
                match v {
                    $( $value => Self::$variant, )+
                    other => Self::Other(other),
                }
            }

            /// Whether the value is one this implementation knows.
            pub const fn is_known(self) -> bool {
                !matches!(self, Self::Other(_))
            }
        }

        impl From<i32> for $name {
            fn from(v: i32) -> Self {
                Self::from_value(v)
            }
        }

        impl From<$name> for i32 {
            fn from(v: $name) -> i32 {
                v.value()
            }
        }
    };
}

cx_enum! {
    /// Auth-Session-State (RFC 6733 §8.11). Cx always uses `NoStateMaintained` (TS 29.229 §6.1).
    AuthSessionState {
        /// STATE_MAINTAINED (0).
        StateMaintained = 0,
        /// NO_STATE_MAINTAINED (1).
        NoStateMaintained = 1,
    }
}

cx_enum! {
    /// User-Authorization-Type (TS 29.229 §6.3, AVP 623).
    UserAuthorizationType {
        /// REGISTRATION (0): initial or re-registration.
        Registration = 0,
        /// DE_REGISTRATION (1).
        DeRegistration = 1,
        /// REGISTRATION_AND_CAPABILITIES (2): the I-CSCF asks for S-CSCF capabilities.
        RegistrationAndCapabilities = 2,
    }
}

cx_enum! {
    /// Server-Assignment-Type (TS 29.229 §6.3, AVP 614).
    ServerAssignmentType {
        /// NO_ASSIGNMENT (0): the S-CSCF only asks for the user profile.
        NoAssignment = 0,
        /// REGISTRATION (1).
        Registration = 1,
        /// RE_REGISTRATION (2).
        ReRegistration = 2,
        /// UNREGISTERED_USER (3).
        UnregisteredUser = 3,
        /// TIMEOUT_DEREGISTRATION (4).
        TimeoutDeregistration = 4,
        /// USER_DEREGISTRATION (5).
        UserDeregistration = 5,
        /// TIMEOUT_DEREGISTRATION_STORE_SERVER_NAME (6).
        TimeoutDeregistrationStoreServerName = 6,
        /// USER_DEREGISTRATION_STORE_SERVER_NAME (7).
        UserDeregistrationStoreServerName = 7,
        /// ADMINISTRATIVE_DEREGISTRATION (8).
        AdministrativeDeregistration = 8,
        /// AUTHENTICATION_FAILURE (9).
        AuthenticationFailure = 9,
        /// AUTHENTICATION_TIMEOUT (10).
        AuthenticationTimeout = 10,
        /// DEREGISTRATION_TOO_MUCH_DATA (11).
        DeregistrationTooMuchData = 11,
        /// AAA_USER_DATA_REQUEST (12).
        AaaUserDataRequest = 12,
        /// PGW_UPDATE (13).
        PgwUpdate = 13,
        /// RESTORATION (14).
        Restoration = 14,
    }
}

cx_enum! {
    /// User-Data-Already-Available (TS 29.229 §6.3, AVP 624).
    UserDataAlreadyAvailable {
        /// USER_DATA_NOT_AVAILABLE (0).
        UserDataNotAvailable = 0,
        /// USER_DATA_ALREADY_AVAILABLE (1).
        UserDataAlreadyAvailable = 1,
    }
}

cx_enum! {
    /// Reason-Code inside Deregistration-Reason (TS 29.229 §6.3, AVP 616).
    ReasonCode {
        /// PERMANENT_TERMINATION (0).
        PermanentTermination = 0,
        /// NEW_SERVER_ASSIGNED (1).
        NewServerAssigned = 1,
        /// SERVER_CHANGE (2).
        ServerChange = 2,
        /// REMOVE_S-CSCF (3).
        RemoveScscf = 3,
    }
}

impl ReasonCode {
    /// The known codes with their operator-facing names (the TS 29.229 §6.3.17 names in lower
    /// case, `-` for `_`), as the REST API and the CLI take them.
    pub const NAMED: [(&'static str, ReasonCode); 4] = [
        ("permanent-termination", ReasonCode::PermanentTermination),
        ("new-server-assigned", ReasonCode::NewServerAssigned),
        ("server-change", ReasonCode::ServerChange),
        ("remove-s-cscf", ReasonCode::RemoveScscf),
    ];

    /// The code named `name` (ASCII case-insensitive, `_` taken as `-`; see [`Self::NAMED`]).
    pub fn from_name(name: &str) -> Option<Self> {
        let n = name.trim().to_ascii_lowercase().replace('_', "-");
        Self::NAMED.iter().find(|(k, _)| *k == n).map(|(_, c)| *c)
    }

    /// The names of [`Self::NAMED`], comma-separated (for error messages).
    pub fn names() -> String {
        let names: Vec<&str> = Self::NAMED.iter().map(|(n, _)| *n).collect();
        names.join(", ")
    }

    /// Its name in [`Self::NAMED`]; `None` for an unknown value.
    pub fn name(self) -> Option<&'static str> {
        Self::NAMED
            .iter()
            .find(|(_, c)| *c == self)
            .map(|(k, _)| *k)
    }
}

cx_enum! {
    /// Originating-Request (TS 29.229 §6.3, AVP 633).
    OriginatingRequest {
        /// ORIGINATING (0).
        Originating = 0,
    }
}

cx_enum! {
    /// Loose-Route-Indication (TS 29.229 §6.3, AVP 638).
    LooseRouteIndication {
        /// LOOSE_ROUTE_NOT_REQUIRED (0).
        LooseRouteNotRequired = 0,
        /// LOOSE_ROUTE_REQUIRED (1).
        LooseRouteRequired = 1,
    }
}

cx_enum! {
    /// Multiple-Registration-Indication (TS 29.229 §6.3, AVP 648).
    MultipleRegistrationIndication {
        /// NOT_MULTIPLE_REGISTRATION (0).
        NotMultipleRegistration = 0,
        /// MULTIPLE_REGISTRATION (1).
        MultipleRegistration = 1,
    }
}

cx_enum! {
    /// Session-Priority (TS 29.229 §6.3, AVP 650).
    SessionPriority {
        /// PRIORITY-0 (0), the highest.
        Priority0 = 0,
        /// PRIORITY-1 (1).
        Priority1 = 1,
        /// PRIORITY-2 (2).
        Priority2 = 2,
        /// PRIORITY-3 (3).
        Priority3 = 3,
        /// PRIORITY-4 (4), the lowest.
        Priority4 = 4,
    }
}

cx_enum! {
    /// Priviledged-Sender-Indication (TS 29.229 §6.3, AVP 652; the spelling is the specification's).
    PriviledgedSenderIndication {
        /// NOT_PRIVILEDGED_SENDER (0).
        NotPriviledgedSender = 0,
        /// PRIVILEDGED_SENDER (1).
        PriviledgedSender = 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_assignment_type_values_match_ts_29_229() {
        let all = [
            (ServerAssignmentType::NoAssignment, 0),
            (ServerAssignmentType::Registration, 1),
            (ServerAssignmentType::ReRegistration, 2),
            (ServerAssignmentType::UnregisteredUser, 3),
            (ServerAssignmentType::TimeoutDeregistration, 4),
            (ServerAssignmentType::UserDeregistration, 5),
            (
                ServerAssignmentType::TimeoutDeregistrationStoreServerName,
                6,
            ),
            (ServerAssignmentType::UserDeregistrationStoreServerName, 7),
            (ServerAssignmentType::AdministrativeDeregistration, 8),
            (ServerAssignmentType::AuthenticationFailure, 9),
            (ServerAssignmentType::AuthenticationTimeout, 10),
            (ServerAssignmentType::DeregistrationTooMuchData, 11),
            (ServerAssignmentType::AaaUserDataRequest, 12),
            (ServerAssignmentType::PgwUpdate, 13),
            (ServerAssignmentType::Restoration, 14),
        ];
        for (v, n) in all {
            assert_eq!(v.value(), n);
            assert_eq!(ServerAssignmentType::from_value(n), v);
            assert!(v.is_known());
        }
        assert_eq!(
            ServerAssignmentType::from_value(15),
            ServerAssignmentType::Other(15)
        );
        assert!(!ServerAssignmentType::Other(15).is_known());
    }

    #[test]
    fn other_enumerations_match_ts_29_229() {
        assert_eq!(UserAuthorizationType::Registration.value(), 0);
        assert_eq!(UserAuthorizationType::DeRegistration.value(), 1);
        assert_eq!(
            UserAuthorizationType::RegistrationAndCapabilities.value(),
            2
        );
        assert_eq!(UserDataAlreadyAvailable::UserDataNotAvailable.value(), 0);
        assert_eq!(
            UserDataAlreadyAvailable::UserDataAlreadyAvailable.value(),
            1
        );
        assert_eq!(ReasonCode::PermanentTermination.value(), 0);
        assert_eq!(ReasonCode::NewServerAssigned.value(), 1);
        assert_eq!(ReasonCode::ServerChange.value(), 2);
        assert_eq!(ReasonCode::RemoveScscf.value(), 3);
        for (name, code) in ReasonCode::NAMED {
            assert_eq!(ReasonCode::from_name(name), Some(code));
            assert_eq!(code.name(), Some(name));
        }
        assert_eq!(
            ReasonCode::from_name("REMOVE_S-CSCF"),
            Some(ReasonCode::RemoveScscf)
        );
        assert_eq!(
            ReasonCode::from_name(" Server_Change "),
            Some(ReasonCode::ServerChange)
        );
        assert_eq!(ReasonCode::from_name("permanent"), None);
        assert_eq!(ReasonCode::from_name(""), None);
        assert_eq!(ReasonCode::Other(9).name(), None);
        assert_eq!(
            ReasonCode::names(),
            "permanent-termination, new-server-assigned, server-change, remove-s-cscf"
        );
        assert_eq!(OriginatingRequest::Originating.value(), 0);
        assert_eq!(AuthSessionState::NoStateMaintained.value(), 1);
        assert_eq!(
            MultipleRegistrationIndication::MultipleRegistration.value(),
            1
        );
        assert_eq!(LooseRouteIndication::LooseRouteRequired.value(), 1);
        assert_eq!(SessionPriority::from_value(4), SessionPriority::Priority4);
        assert_eq!(
            PriviledgedSenderIndication::from_value(-1),
            PriviledgedSenderIndication::Other(-1)
        );
    }
}
