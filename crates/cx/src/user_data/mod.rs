//! The Cx User-Data document: the `IMSSubscription` XML of TS 29.228 Annex E (schema
//! `CxDataType.xsd`), carried in the User-Data AVP of SAA and PPR (TS 29.229 §6.3).
//!
//! [`ImsSubscription`] is the typed model; [`ImsSubscription::to_xml`] writes a well-formed document
//! in the schema's element order, and [`ImsSubscription::from_xml`] reads one (the S-CSCF reads it
//! from the SAA). Unknown elements (the schema's `Extension` and `##other` extension points) are
//! skipped, so a newer HSS does not break us.

mod read;
mod write;

pub use read::{Limits, DEFAULT_LIMITS};

/// `IMSSubscription` (TS 29.228 Annex E, `tIMSSubscription`): one private identity and its
/// service profiles.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ImsSubscription {
    /// `PrivateID`: the IMS private user identity (IMPI, TS 23.003).
    pub private_id: String,
    /// `ServiceProfile` (one or more).
    pub service_profiles: Vec<ServiceProfile>,
}

/// `ServiceProfile` (`tServiceProfile`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServiceProfile {
    /// `PublicIdentity` (one or more): the identities sharing this profile (an implicit
    /// registration set draws from them).
    pub public_identities: Vec<PublicIdentity>,
    /// `CoreNetworkServicesAuthorization`.
    pub core_network_services_authorization: Option<CoreNetworkServicesAuthorization>,
    /// `InitialFilterCriteria` (zero or more).
    pub initial_filter_criteria: Vec<InitialFilterCriteria>,
    /// `Extension/SharedIFCSetID` (zero or more).
    pub shared_ifc_set_ids: Vec<u32>,
}

/// `PublicIdentity` (`tPublicIdentity`) with the fields of its extension chain.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PublicIdentity {
    /// `BarringIndication` (default false): a barred identity may not be used for sessions.
    pub barring_indication: bool,
    /// `Identity`: a SIP URI or tel URI (TS 23.003).
    pub identity: String,
    /// `Extension/IdentityType`.
    pub identity_type: Option<IdentityType>,
    /// `Extension/WildcardedPSI`.
    pub wildcarded_psi: Option<String>,
    /// `Extension/Extension/DisplayName`.
    pub display_name: Option<String>,
}

/// `IdentityType` (`tIdentityType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdentityType {
    /// 0: PUBLIC_USER_IDENTITY.
    PublicUserIdentity,
    /// 1: DISTINCT_PSI.
    DistinctPsi,
    /// 2: WILDCARDED_PSI.
    WildcardedPsi,
    /// Any other value (later releases add more).
    Other(u8),
}

impl IdentityType {
    /// The value written in the document.
    pub const fn value(self) -> u8 {
        match self {
            Self::PublicUserIdentity => 0,
            Self::DistinctPsi => 1,
            Self::WildcardedPsi => 2,
            Self::Other(v) => v,
        }
    }

    /// The type for a value read from a document.
    pub const fn from_value(v: u8) -> Self {
        match v {
            0 => Self::PublicUserIdentity,
            1 => Self::DistinctPsi,
            2 => Self::WildcardedPsi,
            v => Self::Other(v),
        }
    }
}

/// `CoreNetworkServicesAuthorization` (`tCoreNetworkServicesAuthorization`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CoreNetworkServicesAuthorization {
    /// `SubscribedMediaProfileId`.
    pub subscribed_media_profile_id: Option<u32>,
}

/// `InitialFilterCriteria` (`tInitialFilterCriteria`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InitialFilterCriteria {
    /// `Priority`: lower values are evaluated first.
    pub priority: u32,
    /// `TriggerPoint`; absent means the filter always matches.
    pub trigger_point: Option<TriggerPoint>,
    /// `ApplicationServer`.
    pub application_server: ApplicationServer,
    /// `ProfilePartIndicator`: whether the filter applies to the registered or unregistered state.
    pub profile_part_indicator: Option<ProfilePartIndicator>,
}

/// `TriggerPoint` (`tTrigger`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TriggerPoint {
    /// `ConditionTypeCNF`: true = conjunctive normal form (AND of ORed groups), false = disjunctive
    /// normal form (OR of ANDed groups). SPTs sharing a `Group` value form one group.
    pub condition_type_cnf: bool,
    /// `SPT` (one or more).
    pub spts: Vec<Spt>,
}

/// `SPT`, a service point trigger (`tSePoTri`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spt {
    /// `ConditionNegated` (default false).
    pub condition_negated: bool,
    /// `Group` (one or more).
    pub groups: Vec<u32>,
    /// What the trigger matches.
    pub kind: SptKind,
    /// `Extension/RegistrationType` (zero to two), only meaningful for `Method` = REGISTER.
    pub registration_types: Vec<RegistrationType>,
}

/// The choice inside an `SPT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SptKind {
    /// `RequestURI`.
    RequestUri(String),
    /// `Method`.
    Method(String),
    /// `SIPHeader`: `Header` and optional `Content` (a regular expression).
    SipHeader {
        /// `Header`.
        header: String,
        /// `Content`.
        content: Option<String>,
    },
    /// `SessionCase`.
    SessionCase(SessionCase),
    /// `SessionDescription`: `Line` and optional `Content`.
    SessionDescription {
        /// `Line`.
        line: String,
        /// `Content`.
        content: Option<String>,
    },
}

/// `SessionCase` (`tDirectionOfRequest`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SessionCase {
    /// 0: ORIGINATING_SESSION.
    OriginatingSession,
    /// 1: TERMINATING_REGISTERED.
    TerminatingRegistered,
    /// 2: TERMINATING_UNREGISTERED.
    TerminatingUnregistered,
    /// 3: ORIGINATING_UNREGISTERED.
    OriginatingUnregistered,
    /// Any other value (later releases add more).
    Other(u8),
}

impl SessionCase {
    /// The value written in the document.
    pub const fn value(self) -> u8 {
        match self {
            Self::OriginatingSession => 0,
            Self::TerminatingRegistered => 1,
            Self::TerminatingUnregistered => 2,
            Self::OriginatingUnregistered => 3,
            Self::Other(v) => v,
        }
    }

    /// The case for a value read from a document.
    pub const fn from_value(v: u8) -> Self {
        match v {
            0 => Self::OriginatingSession,
            1 => Self::TerminatingRegistered,
            2 => Self::TerminatingUnregistered,
            3 => Self::OriginatingUnregistered,
            v => Self::Other(v),
        }
    }
}

/// `RegistrationType` (`tRegistrationType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RegistrationType {
    /// 0: INITIAL_REGISTRATION.
    InitialRegistration,
    /// 1: RE-REGISTRATION.
    ReRegistration,
    /// 2: DE-REGISTRATION.
    DeRegistration,
}

impl RegistrationType {
    /// The value written in the document.
    pub const fn value(self) -> u8 {
        match self {
            Self::InitialRegistration => 0,
            Self::ReRegistration => 1,
            Self::DeRegistration => 2,
        }
    }

    /// The type for a value read from a document (the schema allows 0–2 only).
    pub const fn from_value(v: u8) -> Option<Self> {
        match v {
            0 => Some(Self::InitialRegistration),
            1 => Some(Self::ReRegistration),
            2 => Some(Self::DeRegistration),
            _ => None,
        }
    }
}

/// `ApplicationServer` (`tApplicationServer`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ApplicationServer {
    /// `ServerName`: the AS SIP URI.
    pub server_name: String,
    /// `DefaultHandling`: what to do when the AS does not answer.
    pub default_handling: Option<DefaultHandling>,
    /// `ServiceInfo`: opaque text passed to the AS.
    pub service_info: Option<String>,
}

/// `DefaultHandling` (`tDefaultHandling`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DefaultHandling {
    /// 0: SESSION_CONTINUED.
    SessionContinued,
    /// 1: SESSION_TERMINATED.
    SessionTerminated,
}

impl DefaultHandling {
    /// The value written in the document.
    pub const fn value(self) -> u8 {
        match self {
            Self::SessionContinued => 0,
            Self::SessionTerminated => 1,
        }
    }

    /// The handling for a value read from a document (the schema allows 0–1 only).
    pub const fn from_value(v: u8) -> Option<Self> {
        match v {
            0 => Some(Self::SessionContinued),
            1 => Some(Self::SessionTerminated),
            _ => None,
        }
    }
}

/// `ProfilePartIndicator` (`tProfilePartIndicator`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProfilePartIndicator {
    /// 0: REGISTERED.
    Registered,
    /// 1: UNREGISTERED.
    Unregistered,
}

impl ProfilePartIndicator {
    /// The value written in the document.
    pub const fn value(self) -> u8 {
        match self {
            Self::Registered => 0,
            Self::Unregistered => 1,
        }
    }

    /// The indicator for a value read from a document (the schema allows 0–1 only).
    pub const fn from_value(v: u8) -> Option<Self> {
        match v {
            0 => Some(Self::Registered),
            1 => Some(Self::Unregistered),
            _ => None,
        }
    }
}
