//! The subscriber store: an async trait ([`SubscriberStore`]) and its SQL implementation
//! ([`SqlStore`]) over SQLite (embedded default) or PostgreSQL (shared deployments), one schema kept
//! by migrations for both.

mod sql;
pub mod sqn_blocks;

pub use sql::{SqlStore, SqliteSync, StoreConfig, MAX_SQN_BATCH};
pub use sqn_blocks::SqnBlockConfig;

use async_trait::async_trait;
use serde::Serialize;

use crate::model::{
    AuthScheme, CapabilitySet, DigestCredentials, Impi, Impu, OperatorKey, PublicIdentity,
    RegistrationState, ScscfAssignment, ScscfCapabilities, ServiceProfile, SqnState, Subscription,
};
use crate::secret::K;
use crate::HssError;

/// What the AuC needs to build vectors for one IMPI (TS 29.228 §6.3 MAR).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthData {
    /// The IMPI.
    pub impi: Impi,
    /// Subscription it belongs to.
    pub subscription_id: String,
    /// K.
    pub k: K,
    /// OP or OPc.
    pub operator_key: OperatorKey,
    /// AMF for new vectors.
    pub amf: [u8; 2],
    /// Allowed schemes.
    pub auth_schemes: Vec<AuthScheme>,
    /// Default scheme.
    pub default_scheme: AuthScheme,
    /// Digest realm and HA1, if Digest-MD5 is allowed.
    pub digest: Option<DigestCredentials>,
    /// The SQN state as read (after the allocation, for [`SubscriberStore::allocate_sqns`]).
    pub sqn: SqnState,
}

/// A public identity with the subscription context the Cx procedures need (UAR/LIR/SAR).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicIdentityRecord {
    /// Subscription owning the identity.
    pub subscription_id: String,
    /// The identity.
    pub identity: PublicIdentity,
    /// S-CSCF assigned to the subscription.
    pub scscf: Option<ScscfAssignment>,
}

/// What UAR and MAR check before answering, read in one round trip
/// ([`SubscriberStore::auth_context`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthContext {
    /// The public identity, if it exists.
    pub public: Option<PublicIdentityRecord>,
    /// The private identity's data, if it exists.
    pub auth: Option<AuthData>,
    /// Whether the two are associated.
    pub associated: bool,
}

/// One line of a subscriber listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubscriptionSummary {
    /// Subscription id.
    pub id: String,
    /// Its private identities.
    pub impis: Vec<String>,
    /// Its public identities.
    pub impus: Vec<String>,
    /// Assigned S-CSCF name.
    pub scscf: Option<String>,
}

/// Changes to a private identity; `None` leaves a field as it is. The result is validated as a
/// whole (e.g. the default scheme must stay allowed) before anything is written.
#[derive(Debug, Clone, Default)]
pub struct ImpiUpdate {
    /// New K.
    pub k: Option<K>,
    /// New OP or OPc (replaces whichever was stored).
    pub operator_key: Option<OperatorKey>,
    /// New AMF.
    pub amf: Option<[u8; 2]>,
    /// New allowed schemes.
    pub auth_schemes: Option<Vec<AuthScheme>>,
    /// New default scheme.
    pub default_scheme: Option<AuthScheme>,
    /// `Some(None)` removes the digest credentials.
    pub digest: Option<Option<DigestCredentials>>,
    /// Replace the SQN state (operator action, e.g. after a USIM swap). Never moves SEQ backwards
    /// unless `allow_sqn_rewind` is set.
    pub sqn: Option<SqnState>,
    /// Allow `sqn` to lower SEQ (may re-issue SQNs: only for a new USIM).
    pub allow_sqn_rewind: bool,
}

/// Changes to a public identity; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ImpuUpdate {
    /// Barring indication.
    pub barred: Option<bool>,
    /// `Some(None)` puts the identity in a set of its own.
    pub irs: Option<Option<String>>,
    /// Whether it may register explicitly.
    pub can_register: Option<bool>,
    /// Service profile id (must exist in the subscription).
    pub service_profile: Option<String>,
}

/// The HSS subscriber store. Every method is one transaction; a failure leaves the store unchanged.
#[async_trait]
pub trait SubscriberStore: Send + Sync {
    /// Creates a subscription (validated first). Duplicate id, IMPI or IMPU → [`HssError::Duplicate`].
    async fn create_subscription(&self, sub: &Subscription) -> Result<(), HssError>;

    /// Creates many subscriptions in ONE transaction: all or nothing.
    async fn create_subscriptions(&self, subs: &[Subscription]) -> Result<(), HssError>;

    /// Reads a whole subscription.
    async fn subscription(&self, id: &str) -> Result<Subscription, HssError>;

    /// Finds the subscription id for a subscription id, an IMPI or an IMPU.
    async fn resolve(&self, key: &str) -> Result<String, HssError>;

    /// Lists subscriptions ordered by id.
    async fn list(&self, offset: u64, limit: u64) -> Result<Vec<SubscriptionSummary>, HssError>;

    /// Number of subscriptions.
    async fn count(&self) -> Result<u64, HssError>;

    /// Deletes a subscription and everything under it.
    async fn delete_subscription(&self, id: &str) -> Result<(), HssError>;

    /// Updates a private identity.
    async fn update_private_identity(
        &self,
        impi: &Impi,
        update: &ImpiUpdate,
    ) -> Result<(), HssError>;

    /// Updates a public identity.
    async fn update_public_identity(
        &self,
        impu: &Impu,
        update: &ImpuUpdate,
    ) -> Result<(), HssError>;

    /// Inserts or replaces a service profile of a subscription.
    async fn put_service_profile(
        &self,
        subscription_id: &str,
        profile: &ServiceProfile,
    ) -> Result<(), HssError>;

    /// Authentication data of an IMPI, without touching its SQN.
    async fn auth_data(&self, impi: &Impi) -> Result<AuthData, HssError>;

    /// Atomically reserves `n` (≥ 1) consecutive SEQ values and the next `n` IND values for `impi`
    /// in ONE statement inside the database (`UPDATE … RETURNING`), so concurrent callers — in this
    /// process or another process on the same database — never get the same SQN. Returns the auth
    /// data (SQN state after the allocation) and the `n` SQNs in allocation order.
    /// With SQN block reservation ([`SqlStore::with_sqn_blocks`]) the database allocation reserves
    /// a whole block, committed before any of it is handed out, and calls are served from it.
    async fn allocate_sqns(&self, impi: &Impi, n: u32) -> Result<(AuthData, Vec<u64>), HssError>;

    /// Resynchronisation (TS 33.102 §6.3.5): the HE's SEQ becomes at least SEQ_MS of the SQN_MS the
    /// AuC recovered from a verified AUTS, so the next allocated vector is accepted by the USIM.
    /// Never lowers SEQ (that could re-issue SQNs). Returns the new state.
    /// Call it only after MAC-S was verified (the `aka` crate does that).
    async fn resync_sqn(&self, impi: &Impi, sqn_ms: u64) -> Result<SqnState, HssError>;

    /// A public identity with its subscription id and S-CSCF.
    async fn public_identity(&self, impu: &Impu) -> Result<PublicIdentityRecord, HssError>;

    /// The public identity, the private identity's auth data and their association, in one query
    /// (the hot path of UAR and MAR).
    async fn auth_context(&self, impi: &Impi, impu: &Impu) -> Result<AuthContext, HssError>;

    /// Whether `impi` and `impu` are associated (TS 29.228 §6.1.1 UAR check).
    async fn is_associated(&self, impi: &Impi, impu: &Impu) -> Result<bool, HssError>;

    /// Sets or clears the S-CSCF of a subscription.
    async fn set_scscf(
        &self,
        subscription_id: &str,
        scscf: Option<&ScscfAssignment>,
    ) -> Result<(), HssError>;

    /// Sets the registration state of the given identities (one transaction). Unknown identities →
    /// [`HssError::NotFound`] and nothing changes.
    async fn set_registration_state(
        &self,
        impus: &[Impu],
        state: RegistrationState,
    ) -> Result<(), HssError>;

    /// Inserts or replaces the capabilities of an S-CSCF.
    async fn put_scscf_capabilities(&self, caps: &ScscfCapabilities) -> Result<(), HssError>;

    /// Every S-CSCF's capabilities, ordered by name.
    async fn scscf_capabilities(&self) -> Result<Vec<ScscfCapabilities>, HssError>;

    /// Removes an S-CSCF's capabilities.
    async fn delete_scscf_capabilities(&self, server_name: &str) -> Result<(), HssError>;

    /// Sets or clears the S-CSCF reassignment pending flag of a subscription (TS 29.228 §6.1.1.1).
    /// [`SubscriberStore::set_scscf`] clears it.
    async fn set_scscf_reassignment_pending(
        &self,
        subscription_id: &str,
        pending: bool,
    ) -> Result<(), HssError>;

    /// Inserts or replaces a capability set (validated first).
    async fn put_capability_set(&self, set: &CapabilitySet) -> Result<(), HssError>;

    /// Every capability set, ordered by name.
    async fn capability_sets(&self) -> Result<Vec<CapabilitySet>, HssError>;

    /// Removes a capability set; subscriptions naming it fall back to the default set.
    async fn delete_capability_set(&self, name: &str) -> Result<(), HssError>;

    /// Gives a subscription a capability set (its capability profile), or `None` for the default.
    /// An unknown set name → [`HssError::Invalid`].
    async fn set_capability_set(
        &self,
        subscription_id: &str,
        name: Option<&str>,
    ) -> Result<(), HssError>;

    /// The capability set that applies to a subscription: its own, else the one named
    /// [`crate::model::DEFAULT_CAPABILITY_SET`]; `None` when neither exists.
    async fn capabilities_for(
        &self,
        subscription_id: &str,
    ) -> Result<Option<CapabilitySet>, HssError>;

    /// Allows users to roam into a visited network (P-Visited-Network-ID / Visited-Network-Identifier).
    async fn add_roaming_agreement(&self, network: &str) -> Result<(), HssError>;

    /// Removes a roaming agreement.
    async fn remove_roaming_agreement(&self, network: &str) -> Result<(), HssError>;

    /// All visited networks with an agreement.
    async fn roaming_agreements(&self) -> Result<Vec<String>, HssError>;
}
