//! Registration store: the S-CSCF registrar's bindings, the P-CSCF's registered UEs and the
//! S-CSCF's IMS-AKA challenge state (TS 24.229 §5.2.2, §5.4.1), behind one async trait.
//!
//! The state lives here rather than in a process-local map so that a registration answered with
//! 200 OK survives a restart ([`SqliteStore`]) and so that the second REGISTER of an IMS-AKA
//! exchange verifies on any S-CSCF node sharing the store.
//!
//! # Concurrency contract
//!
//! * Registrations carry a [`Version`]; every write increments it. A re-REGISTER racing the
//!   expiry timer is resolved by compare-and-set: the timer reads `(version, next_expiry)`, and
//!   removes with [`RegistrationStore::remove_registration_if_version`]; if the re-REGISTER
//!   wrote in between, the removal is [`CasOutcome::Stale`] and the user stays registered.
//!   The registrar writes with [`RegistrationStore::update_registration_if_version`] (expected
//!   [`ABSENT`] to create) and retries on `Stale`.
//! * [`RegistrationStore::take_challenge`] is atomic: of concurrent takers of one IMPI+nonce,
//!   exactly one gets the challenge (nonce single use).
//! * [`RegistrationStore::advance_nonce_count`] accepts an `nc` only if it is greater than every
//!   `nc` accepted before, atomically.
//! * [`RegistrationStore::purge_expired_challenges`] returns each purged challenge to exactly one
//!   caller, so exactly one node sends SAR AUTHENTICATION_TIMEOUT for it.
//!
//! # Backends
//!
//! * [`MemoryStore`]: a mutex-protected map, for tests and single-node use without persistence.
//! * [`SqliteStore`]: a file in the data directory, WAL mode, schema migrations; every operation
//!   is one SQL statement (or one transaction), so the atomicity above holds across processes
//!   sharing the file.
//!
//! * [`RedisStore`]: shared by every node using the same server and key prefix (below).
//!
//! # Mapping to Redis ([`RedisStore`])
//!
//! With a key prefix `P` chosen per deployment (standalone Redis ≥ 6.2):
//!
//! | operation | Redis |
//! |---|---|
//! | registration record | hash `P reg:{aor}` = `v` (version), `body` (JSON); ZSET `P reg-exp` aor → earliest contact expiry |
//! | `get_registration` | `HMGET P reg:{aor} v body` |
//! | `put_registration` | Lua: `HGET v`, `HSET v+1 body`, `ZADD P reg-exp` (`ZREM` when no contact) |
//! | `update_registration_if_version` | the same Lua script, returning -1 unless `v` equals the expected version |
//! | `remove_registration[_if_version]` | Lua: compare `v`, `DEL`, `ZREM P reg-exp` |
//! | `registrations_expiring_before` | `ZRANGEBYSCORE P reg-exp -inf (T`, then `HMGET` each (re-checked) |
//! | UE registration | `SET P ue:{[impu,contact]}` + `ZADD P ue-exp` in `MULTI`; `GET`; `DEL`+`ZREM`; `ZRANGEBYSCORE` |
//! | `put_challenge` | `MULTI` `DEL`, `HSET P ch:{[impi,nonce]} body <json> nc <n>`, `ZADD P ch-exp` `EXEC` (no TTL, see purge) |
//! | `take_challenge` | `MULTI` `HGET body`, `HGET nc`, `DEL`, `ZREM` `EXEC`: the caller whose `DEL` returned 1 owns it (a `GETDEL` equivalent) |
//! | `advance_nonce_count` | Lua: `HGET nc`, compare, `HSET nc` |
//! | `purge_expired_challenges` | Lua: `ZRANGEBYSCORE P ch-exp -inf now`, then `HGET body`, `DEL`, `ZREM` each, returning the bodies |
//! | reg-event subscription | `SET P sub:{id}` JSON, `SADD P sub-of:{aor} id`, `ZADD P sub-exp id expiry` in `MULTI`; removal `DEL`/`SREM`/`ZREM` |

mod memory;
mod model;
mod redis;
mod sqlite;

pub use self::redis::RedisStore;
pub use memory::MemoryStore;
pub use model::{
    AuthChallenge, CasOutcome, ExpiredChallenge, Expiring, Flow, NcCheck, RegContact,
    RegSubscriber, RegSubscription, Registration, UeRegistration, UnixSecs, Version, Versioned,
    Xres, ABSENT,
};
pub use sqlite::{SqliteStore, SQLITE_FILE_NAME};

use async_trait::async_trait;

use crate::CscfError;

/// Storage for registrations and authentication state. Object safe: roles hold an
/// `Arc<dyn RegistrationStore>`.
#[async_trait]
pub trait RegistrationStore: Send + Sync {
    // ---- S-CSCF registrations (keyed by `Registration::aor`) ----

    /// Reads the registration of `aor` with its version.
    async fn get_registration(
        &self,
        aor: &str,
    ) -> Result<Option<Versioned<Registration>>, CscfError>;

    /// Writes `reg` unconditionally (create or replace); returns the new version.
    async fn put_registration(&self, reg: &Registration) -> Result<Version, CscfError>;

    /// Writes `reg` only if the stored version of `reg.aor` is `expected` ([`ABSENT`]: only if
    /// there is none).
    async fn update_registration_if_version(
        &self,
        reg: &Registration,
        expected: Version,
    ) -> Result<CasOutcome, CscfError>;

    /// Removes the registration of `aor`; returns whether there was one.
    async fn remove_registration(&self, aor: &str) -> Result<bool, CscfError>;

    /// Removes the registration of `aor` only if its version is still `expected`.
    /// `Applied(ABSENT)` when removed.
    async fn remove_registration_if_version(
        &self,
        aor: &str,
        expected: Version,
    ) -> Result<CasOutcome, CscfError>;

    /// Registrations whose earliest contact expires strictly before `before`, earliest first.
    async fn registrations_expiring_before(
        &self,
        before: UnixSecs,
    ) -> Result<Vec<Expiring>, CscfError>;

    // ---- P-CSCF UE registrations (keyed by IMPU + contact) ----

    /// Stores (create or replace) the record of a UE the P-CSCF registered.
    async fn put_ue_registration(&self, ue: &UeRegistration) -> Result<(), CscfError>;

    /// Reads the record of `contact` registered for `impu`.
    async fn get_ue_registration(
        &self,
        impu: &str,
        contact: &str,
    ) -> Result<Option<UeRegistration>, CscfError>;

    /// Removes it; returns whether there was one.
    async fn remove_ue_registration(&self, impu: &str, contact: &str) -> Result<bool, CscfError>;

    /// UE registrations expiring strictly before `before`, earliest first.
    async fn ue_registrations_expiring_before(
        &self,
        before: UnixSecs,
    ) -> Result<Vec<UeRegistration>, CscfError>;

    // ---- S-CSCF authentication challenges (keyed by IMPI + nonce) ----

    /// Stores a challenge (replacing one with the same IMPI and nonce).
    async fn put_challenge(&self, ch: &AuthChallenge) -> Result<(), CscfError>;

    /// Removes and returns the challenge, atomically: of concurrent callers exactly one gets it.
    /// Expired challenges are returned too (the caller answers 401 stale=true).
    async fn take_challenge(
        &self,
        impi: &str,
        nonce: &str,
    ) -> Result<Option<AuthChallenge>, CscfError>;

    /// For a reusable nonce: accepts `nc` if greater than the last accepted one, atomically.
    async fn advance_nonce_count(
        &self,
        impi: &str,
        nonce: &str,
        nc: u32,
    ) -> Result<NcCheck, CscfError>;

    /// Removes every challenge with `expires_at <= now` and returns them (each to one caller).
    async fn purge_expired_challenges(
        &self,
        now: UnixSecs,
    ) -> Result<Vec<ExpiredChallenge>, CscfError>;

    // ---- S-CSCF reg-event subscriptions (RFC 3680; keyed by `RegSubscription::id`) ----

    /// Stores (create or replace) a subscription.
    async fn put_reg_subscription(&self, sub: &RegSubscription) -> Result<(), CscfError>;

    /// Reads the subscription with store key `id`.
    async fn get_reg_subscription(&self, id: &str) -> Result<Option<RegSubscription>, CscfError>;

    /// Every subscription watching the registration `aor`, ordered by id.
    async fn reg_subscriptions_of(&self, aor: &str) -> Result<Vec<RegSubscription>, CscfError>;

    /// Removes it; returns whether there was one.
    async fn remove_reg_subscription(&self, id: &str) -> Result<bool, CscfError>;

    /// Subscriptions expiring strictly before `before`, earliest first (durable timers: listed
    /// again after a restart).
    async fn reg_subscriptions_expiring_before(
        &self,
        before: UnixSecs,
    ) -> Result<Vec<RegSubscription>, CscfError>;
}
