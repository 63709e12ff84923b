//! [`SqlStore`]: the [`SubscriberStore`] over SQLite or PostgreSQL through sqlx's `Any` driver, so
//! one set of statements serves both (numbered `$n` parameters work in both dialects). Each backend
//! has its own migration directory with the same tables (`migrations/sqlite`, `migrations/postgres`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Once};

use async_trait::async_trait;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::migrate::Migrator;
use sqlx::{AnyConnection, AnyPool, Connection, Executor, Row};
use zeroize::Zeroizing;

use super::sqn_blocks::{SqnBlockConfig, SqnBlocks};
use super::{
    AuthContext, AuthData, ImpiUpdate, ImpuUpdate, PublicIdentityRecord, SubscriberStore,
    SubscriptionSummary,
};
use crate::model::sqn::{SQN_BITS, SQN_MAX};
use crate::model::{
    AuthScheme, CapabilitySet, DigestCredentials, Impi, Impu, OperatorKey, PrivateIdentity,
    PublicIdentity, RegistrationState, ScscfAssignment, ScscfCapabilities, ServiceProfile,
    SqnState, Subscription, DEFAULT_CAPABILITY_SET,
};
use crate::secret::{Ha1, K};
use crate::HssError;

static SQLITE_MIGRATOR: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATOR: Migrator = sqlx::migrate!("migrations/postgres");

/// Largest number of SQNs one [`SubscriberStore::allocate_sqns`] call may reserve.
pub const MAX_SQN_BATCH: u32 = 1024;

/// SQLite `synchronous` setting in WAL mode (<https://sqlite.org/pragma.html#pragma_synchronous>).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SqliteSync {
    /// Every commit is fsynced: survives power loss (default).
    #[default]
    Full,
    /// WAL is fsynced at checkpoints only: survives a process crash, may lose the last commits on
    /// power loss (then a UE answers with AUTS and resynchronises; SQNs never go backwards in the
    /// USIM).
    Normal,
}

/// Where the store lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreConfig {
    /// An SQLite file (created with its directory if missing).
    Sqlite {
        /// Database file.
        path: PathBuf,
        /// Durability setting.
        synchronous: SqliteSync,
    },
    /// A PostgreSQL database.
    Postgres {
        /// `postgres://user@host:port/db` URL.
        url: String,
        /// Schema to use (created if missing); `None` = the server's default search path.
        schema: Option<String>,
        /// Pool size.
        max_connections: u32,
    },
}

impl StoreConfig {
    /// File name of the SQLite database inside a data directory.
    pub const SQLITE_FILE: &'static str = "hss.sqlite";

    /// The embedded default: `<dir>/hss.sqlite`, fully synchronous.
    pub fn data_dir(dir: impl AsRef<Path>) -> Self {
        Self::Sqlite {
            path: dir.as_ref().join(Self::SQLITE_FILE),
            synchronous: SqliteSync::Full,
        }
    }

    /// A `postgres://` / `postgresql://` URL, or `sqlite:PATH` / `sqlite://PATH`.
    pub fn from_url(url: &str) -> Result<Self, HssError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres {
                url: url.to_string(),
                schema: None,
                max_connections: 8,
            })
        } else if let Some(path) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            if path.is_empty() {
                return Err(HssError::Config("sqlite URL without a file path".into()));
            }
            Ok(Self::Sqlite {
                path: PathBuf::from(path),
                synchronous: SqliteSync::Full,
            })
        } else {
            Err(HssError::Config(format!(
                "unsupported database URL {:?}: use postgres://… or sqlite:PATH",
                redact_url(url)
            )))
        }
    }
}

/// The URL without a password, for error messages.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}{}:***{}", &url[..s + 3], &creds[..c], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

/// The SQL subscriber store. Cheap to clone (a pool handle).
#[derive(Debug, Clone)]
pub struct SqlStore {
    pool: AnyPool,
    backend: Backend,
    /// SQLite only: queue of the group-commit task for SQN allocations.
    batcher: Option<tokio::sync::mpsc::UnboundedSender<Job>>,
    /// SQN block reservation, when enabled ([`SqlStore::with_sqn_blocks`]).
    blocks: Option<Arc<SqnBlocks>>,
}

static DRIVERS: Once = Once::new();

const IMPI_COLS: &str =
    "impi, subscription_id, k, op_kind, op, amf, sqn_seq, sqn_ind_bits, sqn_next_ind, \
     auth_schemes, default_scheme, digest_realm, digest_ha1";

impl SqlStore {
    /// Opens (creating if needed) the store and brings its schema up to date.
    pub async fn open(config: &StoreConfig) -> Result<Self, HssError> {
        DRIVERS.call_once(sqlx::any::install_default_drivers);
        match config {
            StoreConfig::Sqlite { path, synchronous } => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir)?;
                }
                let p = path
                    .to_str()
                    .ok_or_else(|| HssError::Config(format!("path {path:?} is not UTF-8")))?;
                if p.contains(['?', '#', '%']) {
                    return Err(HssError::Config(format!(
                        "path {p:?}: '?', '#' and '%' are not supported in the database path"
                    )));
                }
                let url = format!("sqlite://{p}?mode=rwc");
                let sync = match synchronous {
                    SqliteSync::Full => "PRAGMA synchronous = FULL",
                    SqliteSync::Normal => "PRAGMA synchronous = NORMAL",
                };
                let pool = AnyPoolOptions::new()
                    .max_connections(8)
                    .after_connect(move |conn, _meta| {
                        Box::pin(async move {
                            conn.execute("PRAGMA journal_mode = WAL").await?;
                            conn.execute(sync).await?;
                            conn.execute("PRAGMA busy_timeout = 10000").await?;
                            conn.execute("PRAGMA foreign_keys = ON").await?;
                            Ok(())
                        })
                    })
                    .connect(&url)
                    .await?;
                SQLITE_MIGRATOR.run(&pool).await?;
                let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
                tokio::spawn(group_commit_task(pool.clone(), rx));
                Ok(Self {
                    pool,
                    backend: Backend::Sqlite,
                    batcher: Some(tx),
                    blocks: None,
                })
            }
            StoreConfig::Postgres {
                url,
                schema,
                max_connections,
            } => {
                if let Some(s) = schema {
                    check_schema_name(s)?;
                    let mut c = AnyConnection::connect(url).await?;
                    c.execute(format!("CREATE SCHEMA IF NOT EXISTS \"{s}\"").as_str())
                        .await?;
                    c.close().await?;
                }
                let search_path = schema
                    .as_ref()
                    .map(|s| format!("SET search_path TO \"{s}\""));
                let pool = AnyPoolOptions::new()
                    .max_connections((*max_connections).max(1))
                    .after_connect(move |conn, _meta| {
                        let sp = search_path.clone();
                        Box::pin(async move {
                            if let Some(sp) = sp {
                                conn.execute(sp.as_str()).await?;
                            }
                            Ok(())
                        })
                    })
                    .connect(url)
                    .await?;
                POSTGRES_MIGRATOR.run(&pool).await?;
                Ok(Self {
                    pool,
                    backend: Backend::Postgres,
                    batcher: None,
                    blocks: None,
                })
            }
        }
    }

    /// Turns on SQN block reservation ([`super::sqn_blocks`]): each database commit reserves
    /// `config.block` SQNs for an IMPI and MARs are served from memory. SQNs are never reused
    /// (across restarts and between processes on one database) but may be skipped, and
    /// [`AuthData::sqn`] returned by [`SubscriberStore::allocate_sqns`] is then the reserved
    /// high-water state. Without it every allocation is one commit and SEQ has no gaps.
    pub fn with_sqn_blocks(mut self, config: SqnBlockConfig) -> Result<Self, HssError> {
        if config.block == 0 || config.block > MAX_SQN_BATCH {
            return Err(HssError::Config(format!(
                "SQN block size {}: must be 1..={MAX_SQN_BATCH}",
                config.block
            )));
        }
        self.blocks = Some(Arc::new(SqnBlocks::new(config)));
        Ok(self)
    }

    /// One allocation committed in the database (group commit on SQLite).
    async fn allocate_in_db(&self, impi: &Impi, n: u32) -> Result<(AuthData, Vec<u64>), HssError> {
        match &self.batcher {
            // SQLite: group commit (many allocations, one transaction, one fsync).
            Some(tx) => {
                let (reply, rx) = tokio::sync::oneshot::channel();
                tx.send(Job::Sqn(SqnJob {
                    impi: impi.clone(),
                    n,
                    reply,
                }))
                .map_err(|_| HssError::Database(sqlx::Error::PoolClosed))?;
                rx.await
                    .map_err(|_| HssError::Database(sqlx::Error::PoolClosed))?
            }
            None => {
                let mut conn = self.pool.acquire().await?;
                allocate_on(&mut conn, impi, n).await
            }
        }
    }

    /// Allocation from a reserved block, reserving a new one (committed before use) when the
    /// current one is used up, too small or expired.
    async fn allocate_from_block(
        &self,
        blocks: &SqnBlocks,
        impi: &Impi,
        n: u32,
    ) -> Result<(AuthData, Vec<u64>), HssError> {
        let entry = blocks.entry(impi);
        let mut r = entry.lock().await;
        if let Some(hit) = r.take(n, blocks.config.ttl) {
            return Ok(hit);
        }
        r.clear();
        let size = blocks.config.block.max(n);
        let (auth, sqns) = match self.allocate_in_db(impi, size).await {
            // Near the end of the SEQ space: a block no longer fits, the request may.
            Err(HssError::SqnExhausted { .. }) if size > n => {
                return self.allocate_in_db(impi, n).await;
            }
            other => other?,
        };
        // The block is durable (committed) here; hand out its first `n`, keep the rest.
        if sqns.len() < n as usize {
            return Err(HssError::corrupt(
                impi.as_str(),
                "reserved SQN block smaller than requested",
            ));
        }
        let mut sqns: std::collections::VecDeque<u64> = sqns.into();
        let mine: Vec<u64> = sqns.drain(..n as usize).collect();
        r.auth = Some(auth.clone());
        r.sqns = sqns;
        r.reserved_at = Some(std::time::Instant::now());
        Ok((auth, mine))
    }

    /// [`SubscriberStore::auth_context`] read from the database (one query).
    async fn auth_context_in_db(&self, impi: &Impi, impu: &Impu) -> Result<AuthContext, HssError> {
        static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        let sql = SQL.get_or_init(|| {
            let impi_cols = IMPI_COLS
                .split(", ")
                .map(|c| format!("i.{c}"))
                .collect::<Vec<_>>()
                .join(", ");
            format!(
                "SELECT u.impu AS u_impu, u.subscription_id AS u_subscription_id, u.barred AS u_barred, \
                 u.irs_id AS u_irs_id, u.can_register AS u_can_register, u.profile_id AS u_profile_id, \
                 u.reg_state AS u_reg_state, s.scscf_name, s.scscf_origin_host, {impi_cols}, \
                 (SELECT COUNT(*) FROM impi_impu a WHERE a.impi = $1 AND a.impu = $2) AS assoc \
                 FROM (SELECT 1 AS one) d \
                 LEFT JOIN impu u ON u.impu = $2 \
                 LEFT JOIN subscription s ON s.id = u.subscription_id \
                 LEFT JOIN impi i ON i.impi = $1"
            )
        });
        let row = sqlx::query(sql)
            .bind(impi.as_str())
            .bind(impu.as_str())
            .fetch_one(&self.pool)
            .await?;
        let public = match row.try_get::<Option<String>, _>("u_impu")? {
            None => None,
            Some(_) => Some(PublicIdentityRecord {
                subscription_id: row.try_get("u_subscription_id")?,
                identity: public_identity_from_prefixed(&row, "u_")?,
                scscf: scscf_from_row(&row)?,
            }),
        };
        let auth = match row.try_get::<Option<String>, _>("impi")? {
            None => None,
            Some(_) => Some(auth_data_from_row(&row)?),
        };
        Ok(AuthContext {
            public,
            auth,
            associated: row.try_get::<i64, _>("assoc")? > 0,
        })
    }

    /// After a write: cached MAR/UAR contexts are no longer trusted.
    fn written(&self) {
        if let Some(b) = &self.blocks {
            b.invalidate_contexts();
        }
    }

    /// True when backed by PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        self.backend == Backend::Postgres
    }

    /// Closes the pool (waits for connections to be returned).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Finds which key of a failed insert already exists, for a clear duplicate error.
    async fn find_duplicate(&self, subs: &[Subscription]) -> Result<Option<HssError>, HssError> {
        for sub in subs {
            if self
                .exists("SELECT 1 FROM subscription WHERE id = $1", &sub.id)
                .await?
            {
                return Ok(Some(HssError::Duplicate {
                    what: "subscription",
                    key: sub.id.clone(),
                }));
            }
            for p in &sub.private_identities {
                if self
                    .exists("SELECT 1 FROM impi WHERE impi = $1", p.impi.as_str())
                    .await?
                {
                    return Ok(Some(HssError::Duplicate {
                        what: "impi",
                        key: p.impi.to_string(),
                    }));
                }
            }
            for u in &sub.public_identities {
                if self
                    .exists("SELECT 1 FROM impu WHERE impu = $1", u.impu.as_str())
                    .await?
                {
                    return Ok(Some(HssError::Duplicate {
                        what: "impu",
                        key: u.impu.to_string(),
                    }));
                }
            }
        }
        // Duplicates across the batch itself.
        let mut ids = std::collections::HashSet::new();
        let mut impis = std::collections::HashSet::new();
        let mut impus = std::collections::HashSet::new();
        for sub in subs {
            if !ids.insert(sub.id.as_str()) {
                return Ok(Some(HssError::Duplicate {
                    what: "subscription",
                    key: sub.id.clone(),
                }));
            }
            for p in &sub.private_identities {
                if !impis.insert(p.impi.as_str()) {
                    return Ok(Some(HssError::Duplicate {
                        what: "impi",
                        key: p.impi.to_string(),
                    }));
                }
            }
            for u in &sub.public_identities {
                if !impus.insert(u.impu.as_str()) {
                    return Ok(Some(HssError::Duplicate {
                        what: "impu",
                        key: u.impu.to_string(),
                    }));
                }
            }
        }
        Ok(None)
    }

    async fn exists(&self, sql: &str, key: &str) -> Result<bool, HssError> {
        Ok(sqlx::query(sql)
            .bind(key)
            .fetch_optional(&self.pool)
            .await?
            .is_some())
    }

    async fn create_many(&self, subs: &[Subscription]) -> Result<(), HssError> {
        for s in subs {
            s.validate()?;
        }
        let result = async {
            let mut tx = self.pool.begin().await?;
            for s in subs {
                insert_subscription(&mut tx, s).await?;
            }
            tx.commit().await?;
            Ok::<(), sqlx::Error>(())
        }
        .await;
        match result {
            Ok(()) => Ok(()),
            Err(e) if is_constraint_violation(&e) => match self.find_duplicate(subs).await? {
                Some(dup) => Err(dup),
                None => Err(e.into()),
            },
            Err(e) => Err(e.into()),
        }
    }
}

fn is_constraint_violation(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(d) => matches!(
            d.kind(),
            sqlx::error::ErrorKind::UniqueViolation | sqlx::error::ErrorKind::ForeignKeyViolation
        ),
        _ => false,
    }
}

fn check_schema_name(s: &str) -> Result<(), HssError> {
    let ok = !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !s.as_bytes()[0].is_ascii_digit();
    if ok {
        Ok(())
    } else {
        Err(HssError::Config(format!(
            "schema name {s:?}: use 1..63 characters a-z, 0-9, _ (not starting with a digit)"
        )))
    }
}

fn b(v: bool) -> i64 {
    i64::from(v)
}

async fn insert_subscription(tx: &mut AnyConnection, s: &Subscription) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO subscription (id, scscf_name, scscf_origin_host, scscf_reassignment_pending, \
         capability_set) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(s.id.as_str())
    .bind(s.scscf.as_ref().map(|a| a.server_name.clone()))
    .bind(s.scscf.as_ref().map(|a| a.origin_host.clone()))
    .bind(b(s.scscf_reassignment_pending))
    .bind(s.capability_set.clone())
    .execute(&mut *tx)
    .await?;
    for p in &s.service_profiles {
        let json = serde_json::to_string(&p.ifcs).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
        sqlx::query(
            "INSERT INTO service_profile (subscription_id, profile_id, ifc_json) VALUES ($1, $2, $3)",
        )
        .bind(s.id.as_str())
        .bind(p.id.as_str())
        .bind(json)
        .execute(&mut *tx)
        .await?;
    }
    for (pos, u) in s.public_identities.iter().enumerate() {
        sqlx::query(
            "INSERT INTO impu (impu, subscription_id, position, barred, irs_id, can_register, profile_id, reg_state) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(u.impu.as_str())
        .bind(s.id.as_str())
        .bind(pos as i64)
        .bind(b(u.barred))
        .bind(u.irs.clone())
        .bind(b(u.can_register))
        .bind(u.service_profile.as_str())
        .bind(u.state.as_str())
        .execute(&mut *tx)
        .await?;
    }
    for (pos, p) in s.private_identities.iter().enumerate() {
        sqlx::query(
            "INSERT INTO impi (impi, subscription_id, position, k, op_kind, op, amf, sqn_seq, sqn_ind_bits, \
             sqn_next_ind, auth_schemes, default_scheme, digest_realm, digest_ha1) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        )
        .bind(p.impi.as_str())
        .bind(s.id.as_str())
        .bind(pos as i64)
        .bind(&p.k.expose()[..])
        .bind(p.operator_key.kind())
        .bind(&p.operator_key.expose()[..])
        .bind(&p.amf[..])
        .bind(p.sqn.seq as i64)
        .bind(i64::from(p.sqn.ind_bits))
        .bind(i64::from(p.sqn.next_ind))
        .bind(AuthScheme::format_list(&p.auth_schemes))
        .bind(p.default_scheme.as_str())
        .bind(p.digest.as_ref().map(|d| d.realm.clone()))
        .bind(p.digest.as_ref().map(|d| &d.ha1.expose()[..]))
        .execute(&mut *tx)
        .await?;
        for u in &p.impus {
            sqlx::query("INSERT INTO impi_impu (impi, impu) VALUES ($1, $2)")
                .bind(p.impi.as_str())
                .bind(u.as_str())
                .execute(&mut *tx)
                .await?;
        }
    }
    Ok(())
}

/// SQL of one allocation: one statement, so the row lock (PostgreSQL) / the database write lock
/// (SQLite) makes read-increment-write atomic across connections and processes. SET expressions
/// see the old row values.
fn allocate_sql() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| {
        format!(
            "UPDATE impi SET sqn_seq = sqn_seq + $2, \
             sqn_next_ind = (sqn_next_ind + $2) % (CAST(1 AS BIGINT) << CAST(sqn_ind_bits AS INTEGER)) \
             WHERE impi = $1 AND sqn_seq + $2 <= (CAST(1 AS BIGINT) << CAST({SQN_BITS} - sqn_ind_bits AS INTEGER)) - 1 \
             RETURNING {IMPI_COLS}"
        )
    })
}

/// Runs one allocation on `conn` (inside or outside a transaction).
async fn allocate_on(
    conn: &mut AnyConnection,
    impi: &Impi,
    n: u32,
) -> Result<(AuthData, Vec<u64>), HssError> {
    let row = sqlx::query(allocate_sql())
        .bind(impi.as_str())
        .bind(i64::from(n))
        .fetch_optional(&mut *conn)
        .await?;
    let Some(row) = row else {
        let exists = sqlx::query("SELECT 1 FROM impi WHERE impi = $1")
            .bind(impi.as_str())
            .fetch_optional(&mut *conn)
            .await?
            .is_some();
        return if exists {
            Err(HssError::SqnExhausted {
                impi: impi.to_string(),
            })
        } else {
            Err(not_found("impi", impi.as_str()))
        };
    };
    let data = auth_data_from_row(&row)?;
    let after = data.sqn;
    let m = after.ind_modulus();
    let before = SqnState {
        seq: after.seq - u64::from(n),
        ind_bits: after.ind_bits,
        next_ind: ((u64::from(after.next_ind) + m - u64::from(n) % m) % m) as u32,
    };
    match before.allocate(n) {
        Some((sqns, check)) if check == after => Ok((data, sqns)),
        _ => Err(HssError::corrupt(
            impi.as_str(),
            "SQN state inconsistent after allocation",
        )),
    }
}

/// Result of one SQN allocation.
type Allocation = Result<(AuthData, Vec<u64>), HssError>;
type SqnReply = tokio::sync::oneshot::Sender<Allocation>;

/// One pending write for the SQLite group-commit task.
struct SqnJob {
    impi: Impi,
    n: u32,
    reply: SqnReply,
}

/// A pending S-CSCF assignment (MAR stores the name of the authenticating S-CSCF).
struct ScscfJob {
    subscription_id: String,
    scscf: Option<ScscfAssignment>,
    reply: tokio::sync::oneshot::Sender<Result<(), HssError>>,
}

/// What the group-commit task commits.
enum Job {
    Sqn(SqnJob),
    Scscf(ScscfJob),
}

/// Most allocations committed together.
const GROUP_COMMIT_MAX: usize = 512;

/// SQLite group commit: takes every write queued while the previous transaction was being
/// committed (SQN allocations and S-CSCF assignments) and runs them in ONE transaction (one fsync
/// with `synchronous = FULL`). Each caller gets its answer only after the commit, so nothing is
/// handed out before it is durable.
async fn group_commit_task(pool: AnyPool, mut rx: tokio::sync::mpsc::UnboundedReceiver<Job>) {
    while let Some(first) = rx.recv().await {
        let mut jobs = vec![first];
        while jobs.len() < GROUP_COMMIT_MAX {
            match rx.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => break,
            }
        }
        enum Done {
            Sqn(Allocation),
            Scscf(Result<(), HssError>),
        }
        let outcome: Result<Vec<Done>, sqlx::Error> = async {
            let mut tx = pool.begin().await?;
            let mut results = Vec::with_capacity(jobs.len());
            for j in &jobs {
                results.push(match j {
                    Job::Sqn(j) => Done::Sqn(allocate_on(&mut tx, &j.impi, j.n).await),
                    Job::Scscf(j) => Done::Scscf(
                        update_scscf(&mut tx, &j.subscription_id, j.scscf.as_ref()).await,
                    ),
                });
            }
            tx.commit().await?;
            Ok(results)
        }
        .await;
        match outcome {
            Ok(results) => {
                for (j, r) in jobs.into_iter().zip(results) {
                    match (j, r) {
                        (Job::Sqn(j), Done::Sqn(r)) => {
                            let _ = j.reply.send(r);
                        }
                        (Job::Scscf(j), Done::Scscf(r)) => {
                            let _ = j.reply.send(r);
                        }
                        // Results are pushed in job order, one per job.
                        _ => {}
                    }
                }
            }
            Err(e) => {
                let msg = e.to_string();
                let err = || {
                    HssError::Database(sqlx::Error::Protocol(format!("group commit failed: {msg}")))
                };
                for j in jobs {
                    match j {
                        Job::Sqn(j) => {
                            let _ = j.reply.send(Err(err()));
                        }
                        Job::Scscf(j) => {
                            let _ = j.reply.send(Err(err()));
                        }
                    }
                }
            }
        }
    }
}

/// Sets or clears the S-CSCF of a subscription on `conn` (clears the reassignment pending flag).
async fn update_scscf(
    conn: &mut AnyConnection,
    id: &str,
    scscf: Option<&ScscfAssignment>,
) -> Result<(), HssError> {
    let r = sqlx::query(
        "UPDATE subscription SET scscf_name = $2, scscf_origin_host = $3, \
         scscf_reassignment_pending = 0 WHERE id = $1",
    )
    .bind(id)
    .bind(scscf.map(|a| a.server_name.clone()))
    .bind(scscf.map(|a| a.origin_host.clone()))
    .execute(&mut *conn)
    .await?;
    if r.rows_affected() == 0 {
        return Err(not_found("subscription", id));
    }
    Ok(())
}

fn json_text<T: serde::Serialize>(v: &T) -> Result<String, HssError> {
    serde_json::to_string(v).map_err(|e| HssError::invalid("capability_set", e.to_string()))
}

fn capability_set_from_row(row: &AnyRow) -> Result<CapabilitySet, HssError> {
    let name: String = row.try_get("name")?;
    fn col<T: serde::de::DeserializeOwned>(
        row: &AnyRow,
        c: &str,
        name: &str,
    ) -> Result<T, HssError> {
        let text: String = row.try_get(c)?;
        serde_json::from_str(&text).map_err(|e| HssError::corrupt(name, format!("{c}: {e}")))
    }
    Ok(CapabilitySet {
        mandatory: col(row, "mandatory", &name)?,
        optional: col(row, "optional", &name)?,
        server_names: col(row, "server_names", &name)?,
        name,
    })
}

fn u64_col(row: &AnyRow, col: &str, key: &str) -> Result<u64, HssError> {
    let v: i64 = row.try_get(col)?;
    u64::try_from(v).map_err(|_| HssError::corrupt(key, format!("{col} is negative")))
}

fn auth_data_from_row(row: &AnyRow) -> Result<AuthData, HssError> {
    let impi_s: String = row.try_get("impi")?;
    let key = impi_s.as_str();
    let impi = Impi::parse(key).map_err(|e| HssError::corrupt(key, e.to_string()))?;
    let k_bytes: Zeroizing<Vec<u8>> = Zeroizing::new(row.try_get("k")?);
    let k = K::from_slice(&k_bytes).map_err(|e| HssError::corrupt(key, e.to_string()))?;
    let op_kind: String = row.try_get("op_kind")?;
    let op_bytes: Zeroizing<Vec<u8>> = Zeroizing::new(row.try_get("op")?);
    let operator_key = OperatorKey::from_stored(&op_kind, &op_bytes)
        .map_err(|e| HssError::corrupt(key, e.to_string()))?;
    let amf_v: Vec<u8> = row.try_get("amf")?;
    let amf: [u8; 2] = amf_v
        .as_slice()
        .try_into()
        .map_err(|_| HssError::corrupt(key, "AMF is not 2 bytes"))?;
    let seq = u64_col(row, "sqn_seq", key)?;
    let bits = u8::try_from(u64_col(row, "sqn_ind_bits", key)?)
        .map_err(|_| HssError::corrupt(key, "IND bits out of range"))?;
    let next_ind = u32::try_from(u64_col(row, "sqn_next_ind", key)?)
        .map_err(|_| HssError::corrupt(key, "IND out of range"))?;
    let sqn =
        SqnState::new(seq, bits, next_ind).map_err(|e| HssError::corrupt(key, e.to_string()))?;
    let schemes: String = row.try_get("auth_schemes")?;
    let auth_schemes =
        AuthScheme::parse_list(&schemes).map_err(|e| HssError::corrupt(key, e.to_string()))?;
    let default: String = row.try_get("default_scheme")?;
    let default_scheme =
        AuthScheme::parse(&default).map_err(|e| HssError::corrupt(key, e.to_string()))?;
    let realm: Option<String> = row.try_get("digest_realm")?;
    let ha1: Option<Vec<u8>> = row.try_get("digest_ha1")?;
    let ha1 = ha1.map(Zeroizing::new);
    let digest = match (realm, ha1) {
        (Some(realm), Some(h)) => Some(DigestCredentials {
            realm,
            ha1: Ha1::from_slice(&h).map_err(|e| HssError::corrupt(key, e.to_string()))?,
        }),
        (None, None) => None,
        _ => {
            return Err(HssError::corrupt(
                key,
                "digest realm without HA1 or vice versa",
            ))
        }
    };
    Ok(AuthData {
        impi,
        subscription_id: row.try_get("subscription_id")?,
        k,
        operator_key,
        amf,
        auth_schemes,
        default_scheme,
        digest,
        sqn,
    })
}

fn public_identity_from_row(row: &AnyRow) -> Result<PublicIdentity, HssError> {
    public_identity_from_prefixed(row, "")
}

/// Reads the impu columns, named `{prefix}impu`, `{prefix}barred`, ….
fn public_identity_from_prefixed(row: &AnyRow, prefix: &str) -> Result<PublicIdentity, HssError> {
    let col = |c: &str| format!("{prefix}{c}");
    let s: String = row.try_get(col("impu").as_str())?;
    let impu = Impu::parse(&s).map_err(|e| HssError::corrupt(&s, e.to_string()))?;
    let state: String = row.try_get(col("reg_state").as_str())?;
    Ok(PublicIdentity {
        impu,
        barred: row.try_get::<i64, _>(col("barred").as_str())? != 0,
        irs: row.try_get(col("irs_id").as_str())?,
        can_register: row.try_get::<i64, _>(col("can_register").as_str())? != 0,
        service_profile: row.try_get(col("profile_id").as_str())?,
        state: RegistrationState::parse(&state)
            .map_err(|e| HssError::corrupt(&s, e.to_string()))?,
    })
}

fn scscf_from_row(row: &AnyRow) -> Result<Option<ScscfAssignment>, HssError> {
    let name: Option<String> = row.try_get("scscf_name")?;
    let host: Option<String> = row.try_get("scscf_origin_host")?;
    Ok(name.map(|server_name| ScscfAssignment {
        server_name,
        origin_host: host.unwrap_or_default(),
    }))
}

fn not_found(what: &'static str, key: impl Into<String>) -> HssError {
    HssError::NotFound {
        what,
        key: key.into(),
    }
}

#[async_trait]
impl SubscriberStore for SqlStore {
    async fn create_subscription(&self, sub: &Subscription) -> Result<(), HssError> {
        let r = self.create_many(std::slice::from_ref(sub)).await;
        self.written();
        r
    }

    async fn create_subscriptions(&self, subs: &[Subscription]) -> Result<(), HssError> {
        let r = self.create_many(subs).await;
        self.written();
        r
    }

    async fn subscription(&self, id: &str) -> Result<Subscription, HssError> {
        let mut conn = self.pool.acquire().await?;
        let row = sqlx::query(
            "SELECT scscf_name, scscf_origin_host, scscf_reassignment_pending, capability_set \
                 FROM subscription WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| not_found("subscription", id))?;
        let scscf = scscf_from_row(&row)?;
        let scscf_reassignment_pending = row.try_get::<i64, _>("scscf_reassignment_pending")? != 0;
        let capability_set: Option<String> = row.try_get("capability_set")?;
        let mut service_profiles = Vec::new();
        for row in sqlx::query(
            "SELECT profile_id, ifc_json FROM service_profile WHERE subscription_id = $1 ORDER BY profile_id",
        )
        .bind(id)
        .fetch_all(&mut *conn)
        .await?
        {
            let pid: String = row.try_get("profile_id")?;
            let json: String = row.try_get("ifc_json")?;
            let ifcs = serde_json::from_str(&json)
                .map_err(|e| HssError::corrupt(format!("{id}/{pid}"), e.to_string()))?;
            service_profiles.push(ServiceProfile { id: pid, ifcs });
        }
        let public_identities = sqlx::query(
            "SELECT impu, barred, irs_id, can_register, profile_id, reg_state FROM impu \
             WHERE subscription_id = $1 ORDER BY position",
        )
        .bind(id)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(public_identity_from_row)
        .collect::<Result<Vec<_>, _>>()?;
        let mut assoc: HashMap<String, Vec<Impu>> = HashMap::new();
        for row in sqlx::query(
            "SELECT a.impi, a.impu FROM impi_impu a JOIN impu u ON u.impu = a.impu \
             WHERE u.subscription_id = $1 ORDER BY u.position",
        )
        .bind(id)
        .fetch_all(&mut *conn)
        .await?
        {
            let impi: String = row.try_get("impi")?;
            let impu: String = row.try_get("impu")?;
            let impu = Impu::parse(&impu).map_err(|e| HssError::corrupt(&impu, e.to_string()))?;
            assoc.entry(impi).or_default().push(impu);
        }
        let mut private_identities = Vec::new();
        for row in sqlx::query(&format!(
            "SELECT {IMPI_COLS} FROM impi WHERE subscription_id = $1 ORDER BY position"
        ))
        .bind(id)
        .fetch_all(&mut *conn)
        .await?
        {
            let a = auth_data_from_row(&row)?;
            let impus = assoc.remove(a.impi.as_str()).unwrap_or_default();
            private_identities.push(PrivateIdentity {
                impi: a.impi.clone(),
                k: a.k.clone(),
                operator_key: a.operator_key.clone(),
                amf: a.amf,
                sqn: a.sqn,
                auth_schemes: a.auth_schemes.clone(),
                default_scheme: a.default_scheme,
                digest: a.digest.clone(),
                impus,
            });
        }
        Ok(Subscription {
            id: id.to_string(),
            private_identities,
            public_identities,
            service_profiles,
            scscf,
            scscf_reassignment_pending,
            capability_set,
        })
    }

    async fn resolve(&self, key: &str) -> Result<String, HssError> {
        let row = sqlx::query(
            "SELECT id FROM subscription WHERE id = $1 \
             UNION ALL SELECT subscription_id AS id FROM impi WHERE impi = $1 \
             UNION ALL SELECT subscription_id AS id FROM impu WHERE impu = $1",
        )
        .bind(key)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| not_found("subscription, IMPI or IMPU", key))?;
        Ok(row.try_get("id")?)
    }

    async fn list(&self, offset: u64, limit: u64) -> Result<Vec<SubscriptionSummary>, HssError> {
        let limit = i64::try_from(limit.min(100_000)).unwrap_or(100_000);
        let offset = i64::try_from(offset).unwrap_or(i64::MAX);
        let mut conn = self.pool.acquire().await?;
        let mut out: Vec<SubscriptionSummary> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        for row in
            sqlx::query("SELECT id, scscf_name FROM subscription ORDER BY id LIMIT $1 OFFSET $2")
                .bind(limit)
                .bind(offset)
                .fetch_all(&mut *conn)
                .await?
        {
            let id: String = row.try_get("id")?;
            index.insert(id.clone(), out.len());
            out.push(SubscriptionSummary {
                id,
                impis: Vec::new(),
                impus: Vec::new(),
                scscf: row.try_get("scscf_name")?,
            });
        }
        if out.is_empty() {
            return Ok(out);
        }
        let page = "SELECT id FROM subscription ORDER BY id LIMIT $1 OFFSET $2";
        for row in sqlx::query(&format!(
            "SELECT subscription_id, impi FROM impi WHERE subscription_id IN ({page}) ORDER BY position"
        ))
        .bind(limit)
        .bind(offset)
        .fetch_all(&mut *conn)
        .await?
        {
            let sid: String = row.try_get("subscription_id")?;
            if let Some(i) = index.get(&sid) {
                out[*i].impis.push(row.try_get("impi")?);
            }
        }
        for row in sqlx::query(&format!(
            "SELECT subscription_id, impu FROM impu WHERE subscription_id IN ({page}) ORDER BY position"
        ))
        .bind(limit)
        .bind(offset)
        .fetch_all(&mut *conn)
        .await?
        {
            let sid: String = row.try_get("subscription_id")?;
            if let Some(i) = index.get(&sid) {
                out[*i].impus.push(row.try_get("impu")?);
            }
        }
        Ok(out)
    }

    async fn count(&self) -> Result<u64, HssError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM subscription")
            .fetch_one(&self.pool)
            .await?;
        u64_col(&row, "n", "subscription count")
    }

    async fn delete_subscription(&self, id: &str) -> Result<(), HssError> {
        let mut tx = self.pool.begin().await?;
        // Explicit order so the result does not depend on cascade ordering.
        sqlx::query(
            "DELETE FROM impi_impu WHERE impi IN (SELECT impi FROM impi WHERE subscription_id = $1) \
             OR impu IN (SELECT impu FROM impu WHERE subscription_id = $1)",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM impi WHERE subscription_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM impu WHERE subscription_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM service_profile WHERE subscription_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let r = sqlx::query("DELETE FROM subscription WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if r.rows_affected() == 0 {
            return Err(not_found("subscription", id));
        }
        tx.commit().await?;
        if let Some(b) = &self.blocks {
            b.clear_all();
        }
        Ok(())
    }

    async fn update_private_identity(&self, impi: &Impi, u: &ImpiUpdate) -> Result<(), HssError> {
        // New credentials or SQN state: drop this IMPI's block and cached credentials, holding its
        // lock so no MAR in this process uses the old ones after the change.
        let entry = self.blocks.as_ref().map(|b| b.entry(impi));
        let mut held = match &entry {
            Some(e) => Some(e.lock().await),
            None => None,
        };
        if let Some(r) = held.as_mut() {
            r.clear();
        }
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(&format!("SELECT {IMPI_COLS} FROM impi WHERE impi = $1"))
            .bind(impi.as_str())
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| not_found("impi", impi.as_str()))?;
        let cur = auth_data_from_row(&row)?;
        let impus: Vec<Impu> = sqlx::query("SELECT impu FROM impi_impu WHERE impi = $1")
            .bind(impi.as_str())
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| {
                let s: String = r.try_get("impu")?;
                Impu::parse(&s).map_err(|e| HssError::corrupt(&s, e.to_string()))
            })
            .collect::<Result<_, HssError>>()?;
        if let Some(new) = &u.sqn {
            if new.seq < cur.sqn.seq && !u.allow_sqn_rewind {
                return Err(HssError::invalid(
                    "sqn",
                    format!(
                        "would move SEQ back from {} to {} (re-issuing SQNs); only allowed for a new USIM",
                        cur.sqn.seq, new.seq
                    ),
                ));
            }
        }
        let next = PrivateIdentity {
            impi: cur.impi.clone(),
            k: u.k.clone().unwrap_or(cur.k.clone()),
            operator_key: u.operator_key.clone().unwrap_or(cur.operator_key.clone()),
            amf: u.amf.unwrap_or(cur.amf),
            sqn: u.sqn.unwrap_or(cur.sqn),
            auth_schemes: u.auth_schemes.clone().unwrap_or(cur.auth_schemes.clone()),
            default_scheme: u.default_scheme.unwrap_or(cur.default_scheme),
            digest: u.digest.clone().unwrap_or(cur.digest.clone()),
            impus,
        };
        next.validate()?;
        sqlx::query(
            "UPDATE impi SET k = $2, op_kind = $3, op = $4, amf = $5, sqn_seq = $6, sqn_ind_bits = $7, \
             sqn_next_ind = $8, auth_schemes = $9, default_scheme = $10, digest_realm = $11, digest_ha1 = $12 \
             WHERE impi = $1",
        )
        .bind(impi.as_str())
        .bind(&next.k.expose()[..])
        .bind(next.operator_key.kind())
        .bind(&next.operator_key.expose()[..])
        .bind(&next.amf[..])
        .bind(next.sqn.seq as i64)
        .bind(i64::from(next.sqn.ind_bits))
        .bind(i64::from(next.sqn.next_ind))
        .bind(AuthScheme::format_list(&next.auth_schemes))
        .bind(next.default_scheme.as_str())
        .bind(next.digest.as_ref().map(|d| d.realm.clone()))
        .bind(next.digest.as_ref().map(|d| &d.ha1.expose()[..]))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.written();
        Ok(())
    }

    async fn update_public_identity(&self, impu: &Impu, u: &ImpuUpdate) -> Result<(), HssError> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "SELECT impu, subscription_id, barred, irs_id, can_register, profile_id, reg_state FROM impu WHERE impu = $1",
        )
        .bind(impu.as_str())
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| not_found("impu", impu.as_str()))?;
        let sid: String = row.try_get("subscription_id")?;
        let cur = public_identity_from_row(&row)?;
        let profile = u.service_profile.clone().unwrap_or(cur.service_profile);
        if sqlx::query(
            "SELECT 1 FROM service_profile WHERE subscription_id = $1 AND profile_id = $2",
        )
        .bind(sid.as_str())
        .bind(profile.as_str())
        .fetch_optional(&mut *tx)
        .await?
        .is_none()
        {
            return Err(HssError::invalid(
                "service_profile",
                format!("subscription {sid:?} has no profile {profile:?}"),
            ));
        }
        let irs = u.irs.clone().unwrap_or(cur.irs);
        if let Some(i) = &irs {
            if i.trim().is_empty() || i.len() > 128 {
                return Err(HssError::invalid("irs", "set id must be 1..128 characters"));
            }
        }
        sqlx::query(
            "UPDATE impu SET barred = $2, irs_id = $3, can_register = $4, profile_id = $5 WHERE impu = $1",
        )
        .bind(impu.as_str())
        .bind(b(u.barred.unwrap_or(cur.barred)))
        .bind(irs)
        .bind(b(u.can_register.unwrap_or(cur.can_register)))
        .bind(profile)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.written();
        Ok(())
    }

    async fn put_service_profile(
        &self,
        subscription_id: &str,
        p: &ServiceProfile,
    ) -> Result<(), HssError> {
        p.validate()?;
        let json = serde_json::to_string(&p.ifcs)
            .map_err(|e| HssError::invalid("service_profile", e.to_string()))?;
        let mut tx = self.pool.begin().await?;
        if sqlx::query("SELECT 1 FROM subscription WHERE id = $1")
            .bind(subscription_id)
            .fetch_optional(&mut *tx)
            .await?
            .is_none()
        {
            return Err(not_found("subscription", subscription_id));
        }
        sqlx::query(
            "INSERT INTO service_profile (subscription_id, profile_id, ifc_json) VALUES ($1, $2, $3) \
             ON CONFLICT (subscription_id, profile_id) DO UPDATE SET ifc_json = excluded.ifc_json",
        )
        .bind(subscription_id)
        .bind(p.id.as_str())
        .bind(json)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn auth_data(&self, impi: &Impi) -> Result<AuthData, HssError> {
        let row = sqlx::query(&format!("SELECT {IMPI_COLS} FROM impi WHERE impi = $1"))
            .bind(impi.as_str())
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| not_found("impi", impi.as_str()))?;
        auth_data_from_row(&row)
    }

    async fn allocate_sqns(&self, impi: &Impi, n: u32) -> Result<(AuthData, Vec<u64>), HssError> {
        if n == 0 || n > MAX_SQN_BATCH {
            return Err(HssError::invalid(
                "number_of_vectors",
                format!("{n}: must be 1..={MAX_SQN_BATCH}"),
            ));
        }
        match &self.blocks {
            Some(blocks) => self.allocate_from_block(blocks, impi, n).await,
            None => self.allocate_in_db(impi, n).await,
        }
    }

    async fn resync_sqn(&self, impi: &Impi, sqn_ms: u64) -> Result<SqnState, HssError> {
        if sqn_ms > SQN_MAX {
            return Err(HssError::invalid(
                "sqn_ms",
                format!("{sqn_ms} exceeds 48 bits"),
            ));
        }
        // Hold the IMPI's block lock while SEQ moves and drop the block: the next allocation in
        // this process reserves a new block above SEQ_MS.
        let entry = self.blocks.as_ref().map(|b| b.entry(impi));
        let mut held = match &entry {
            Some(e) => Some(e.lock().await),
            None => None,
        };
        if let Some(r) = held.as_mut() {
            r.clear();
        }
        let row = sqlx::query(
            "UPDATE impi SET sqn_seq = CASE WHEN sqn_seq < ($2 >> CAST(sqn_ind_bits AS INTEGER)) \
             THEN ($2 >> CAST(sqn_ind_bits AS INTEGER)) ELSE sqn_seq END \
             WHERE impi = $1 RETURNING sqn_seq, sqn_ind_bits, sqn_next_ind",
        )
        .bind(impi.as_str())
        .bind(sqn_ms as i64)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| not_found("impi", impi.as_str()))?;
        let key = impi.as_str();
        SqnState::new(
            u64_col(&row, "sqn_seq", key)?,
            u8::try_from(u64_col(&row, "sqn_ind_bits", key)?)
                .map_err(|_| HssError::corrupt(key, "IND bits out of range"))?,
            u32::try_from(u64_col(&row, "sqn_next_ind", key)?)
                .map_err(|_| HssError::corrupt(key, "IND out of range"))?,
        )
        .map_err(|e| HssError::corrupt(key, e.to_string()))
    }

    async fn public_identity(&self, impu: &Impu) -> Result<PublicIdentityRecord, HssError> {
        let row = sqlx::query(
            "SELECT u.impu, u.subscription_id, u.barred, u.irs_id, u.can_register, u.profile_id, u.reg_state, \
             s.scscf_name, s.scscf_origin_host FROM impu u JOIN subscription s ON s.id = u.subscription_id \
             WHERE u.impu = $1",
        )
        .bind(impu.as_str())
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| not_found("impu", impu.as_str()))?;
        Ok(PublicIdentityRecord {
            subscription_id: row.try_get("subscription_id")?,
            identity: public_identity_from_row(&row)?,
            scscf: scscf_from_row(&row)?,
        })
    }

    async fn auth_context(&self, impi: &Impi, impu: &Impu) -> Result<AuthContext, HssError> {
        // With SQN blocks, associated pairs are served from memory for at most the block TTL.
        let generation = match &self.blocks {
            Some(b) => match b.context(impi.as_str(), impu.as_str()) {
                (Some(hit), _) => return Ok(hit),
                (None, g) => Some(g),
            },
            None => None,
        };
        let ctx = self.auth_context_in_db(impi, impu).await?;
        if let (Some(b), Some(g)) = (&self.blocks, generation) {
            if ctx.associated && ctx.public.is_some() && ctx.auth.is_some() {
                b.put_context(g, impi.as_str(), impu.as_str(), &ctx);
            }
        }
        Ok(ctx)
    }

    async fn is_associated(&self, impi: &Impi, impu: &Impu) -> Result<bool, HssError> {
        Ok(
            sqlx::query("SELECT 1 FROM impi_impu WHERE impi = $1 AND impu = $2")
                .bind(impi.as_str())
                .bind(impu.as_str())
                .fetch_optional(&self.pool)
                .await?
                .is_some(),
        )
    }

    async fn set_scscf(&self, id: &str, scscf: Option<&ScscfAssignment>) -> Result<(), HssError> {
        let r = match &self.batcher {
            // SQLite: committed with the SQN allocations of the same moment (MARs of many users).
            Some(tx) => {
                let (reply, rx) = tokio::sync::oneshot::channel();
                tx.send(Job::Scscf(ScscfJob {
                    subscription_id: id.to_string(),
                    scscf: scscf.cloned(),
                    reply,
                }))
                .map_err(|_| HssError::Database(sqlx::Error::PoolClosed))?;
                rx.await
                    .map_err(|_| HssError::Database(sqlx::Error::PoolClosed))?
            }
            None => {
                let mut conn = self.pool.acquire().await?;
                update_scscf(&mut conn, id, scscf).await
            }
        };
        self.written();
        r
    }

    async fn set_registration_state(
        &self,
        impus: &[Impu],
        state: RegistrationState,
    ) -> Result<(), HssError> {
        let mut tx = self.pool.begin().await?;
        for u in impus {
            let r = sqlx::query("UPDATE impu SET reg_state = $2 WHERE impu = $1")
                .bind(u.as_str())
                .bind(state.as_str())
                .execute(&mut *tx)
                .await?;
            if r.rows_affected() == 0 {
                return Err(not_found("impu", u.as_str()));
            }
        }
        tx.commit().await?;
        self.written();
        Ok(())
    }

    async fn put_scscf_capabilities(&self, caps: &ScscfCapabilities) -> Result<(), HssError> {
        let name = caps.server_name.trim();
        if name.is_empty() || name.len() > 255 {
            return Err(HssError::invalid(
                "server_name",
                "must be 1..255 characters",
            ));
        }
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM scscf_capability WHERE scscf_name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        let mut seen = std::collections::HashSet::new();
        for (caps, mandatory) in [(&caps.mandatory, 1i64), (&caps.optional, 0i64)] {
            for c in caps {
                if !seen.insert((*c, mandatory)) {
                    continue;
                }
                sqlx::query(
                    "INSERT INTO scscf_capability (scscf_name, capability, mandatory) VALUES ($1, $2, $3)",
                )
                .bind(name)
                .bind(i64::from(*c))
                .bind(mandatory)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    async fn scscf_capabilities(&self) -> Result<Vec<ScscfCapabilities>, HssError> {
        let mut out: Vec<ScscfCapabilities> = Vec::new();
        for row in sqlx::query(
            "SELECT scscf_name, capability, mandatory FROM scscf_capability ORDER BY scscf_name, capability",
        )
        .fetch_all(&self.pool)
        .await?
        {
            let name: String = row.try_get("scscf_name")?;
            let cap = u32::try_from(u64_col(&row, "capability", &name)?)
                .map_err(|_| HssError::corrupt(&name, "capability out of range"))?;
            let mandatory = row.try_get::<i64, _>("mandatory")? != 0;
            if out.last().map(|c| c.server_name != name).unwrap_or(true) {
                out.push(ScscfCapabilities {
                    server_name: name.clone(),
                    mandatory: Vec::new(),
                    optional: Vec::new(),
                });
            }
            if let Some(last) = out.last_mut() {
                if mandatory {
                    last.mandatory.push(cap);
                } else {
                    last.optional.push(cap);
                }
            }
        }
        Ok(out)
    }

    async fn delete_scscf_capabilities(&self, server_name: &str) -> Result<(), HssError> {
        let r = sqlx::query("DELETE FROM scscf_capability WHERE scscf_name = $1")
            .bind(server_name)
            .execute(&self.pool)
            .await?;
        if r.rows_affected() == 0 {
            return Err(not_found("S-CSCF capabilities", server_name));
        }
        Ok(())
    }

    async fn set_scscf_reassignment_pending(
        &self,
        id: &str,
        pending: bool,
    ) -> Result<(), HssError> {
        let r =
            sqlx::query("UPDATE subscription SET scscf_reassignment_pending = $2 WHERE id = $1")
                .bind(id)
                .bind(b(pending))
                .execute(&self.pool)
                .await?;
        if r.rows_affected() == 0 {
            return Err(not_found("subscription", id));
        }
        Ok(())
    }

    async fn put_capability_set(&self, set: &CapabilitySet) -> Result<(), HssError> {
        set.validate()?;
        sqlx::query(
            "INSERT INTO capability_set (name, mandatory, optional, server_names) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO UPDATE SET \
             mandatory = excluded.mandatory, optional = excluded.optional, \
             server_names = excluded.server_names",
        )
        .bind(set.name.as_str())
        .bind(json_text(&set.mandatory)?)
        .bind(json_text(&set.optional)?)
        .bind(json_text(&set.server_names)?)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn capability_sets(&self) -> Result<Vec<CapabilitySet>, HssError> {
        sqlx::query(
            "SELECT name, mandatory, optional, server_names FROM capability_set ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(capability_set_from_row)
        .collect()
    }

    async fn delete_capability_set(&self, name: &str) -> Result<(), HssError> {
        let r = sqlx::query("DELETE FROM capability_set WHERE name = $1")
            .bind(name)
            .execute(&self.pool)
            .await?;
        if r.rows_affected() == 0 {
            return Err(not_found("capability set", name));
        }
        Ok(())
    }

    async fn set_capability_set(&self, id: &str, name: Option<&str>) -> Result<(), HssError> {
        if let Some(n) = name {
            let exists = sqlx::query("SELECT 1 FROM capability_set WHERE name = $1")
                .bind(n)
                .fetch_optional(&self.pool)
                .await?
                .is_some();
            if !exists {
                return Err(HssError::invalid(
                    "capability_set",
                    format!("no capability set named {n:?}"),
                ));
            }
        }
        let r = sqlx::query("UPDATE subscription SET capability_set = $2 WHERE id = $1")
            .bind(id)
            .bind(name)
            .execute(&self.pool)
            .await?;
        if r.rows_affected() == 0 {
            return Err(not_found("subscription", id));
        }
        Ok(())
    }

    async fn capabilities_for(&self, id: &str) -> Result<Option<CapabilitySet>, HssError> {
        let row = sqlx::query(
            "SELECT c.name, c.mandatory, c.optional, c.server_names FROM capability_set c \
             WHERE c.name = COALESCE((SELECT s.capability_set FROM subscription s WHERE s.id = $1), $2)",
        )
        .bind(id)
        .bind(DEFAULT_CAPABILITY_SET)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(capability_set_from_row).transpose()
    }

    async fn add_roaming_agreement(&self, network: &str) -> Result<(), HssError> {
        let n = network.trim();
        if n.is_empty() || n.len() > 255 || n.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(HssError::invalid(
                "visited_network",
                format!("{n:?} is not a network identifier"),
            ));
        }
        sqlx::query("INSERT INTO roaming_agreement (network_id) VALUES ($1) ON CONFLICT (network_id) DO NOTHING")
            .bind(n)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn remove_roaming_agreement(&self, network: &str) -> Result<(), HssError> {
        let r = sqlx::query("DELETE FROM roaming_agreement WHERE network_id = $1")
            .bind(network.trim())
            .execute(&self.pool)
            .await?;
        if r.rows_affected() == 0 {
            return Err(not_found("roaming agreement", network));
        }
        Ok(())
    }

    async fn roaming_agreements(&self) -> Result<Vec<String>, HssError> {
        sqlx::query("SELECT network_id FROM roaming_agreement ORDER BY network_id")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| r.try_get("network_id").map_err(HssError::from))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_from_url() {
        assert!(matches!(
            StoreConfig::from_url("postgres://u@h/db").unwrap(),
            StoreConfig::Postgres { .. }
        ));
        match StoreConfig::from_url("sqlite:/tmp/x.db").unwrap() {
            StoreConfig::Sqlite { path, .. } => assert_eq!(path, PathBuf::from("/tmp/x.db")),
            other => panic!("{other:?}"),
        }
        let e = StoreConfig::from_url("mysql://u:secret@h/db")
            .unwrap_err()
            .to_string();
        assert!(e.contains("unsupported") && !e.contains("secret"), "{e}");
        assert!(check_schema_name("hss_test_1").is_ok());
        assert!(check_schema_name("x\"; drop").is_err());
        assert!(check_schema_name("1abc").is_err());
    }
}
