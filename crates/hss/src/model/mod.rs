//! The HSS data model (TS 29.228 Annex B user profile shapes), free of storage concerns.

pub mod auth;
pub mod identity;
pub mod ifc;
pub mod sqn;
pub mod subscription;

pub use auth::{AuthScheme, DigestCredentials};
pub use identity::{Impi, Impu};
pub use ifc::{
    ApplicationServer, DefaultHandling, InitialFilterCriteria, ProfilePartIndicator,
    ServicePointTrigger, ServiceProfile, SessionCase, SptCondition, TriggerPoint,
};
pub use sqn::SqnState;
pub use subscription::{
    CapabilitySet, OperatorKey, PrivateIdentity, PublicIdentity, RegistrationState,
    ScscfAssignment, ScscfCapabilities, Subscription, DEFAULT_CAPABILITY_SET,
};
