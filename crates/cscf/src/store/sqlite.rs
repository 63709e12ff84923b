//! SQLite backend: a file in the data directory, WAL journal, schema migrations
//! (`migrations/sqlite`). Each operation is one statement, so it is atomic against other
//! connections and other processes using the same file.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::Row;
use zeroize::Zeroizing;

use super::model::*;
use super::RegistrationStore;
use crate::CscfError;

static MIGRATOR: Migrator = sqlx::migrate!("migrations/sqlite");

/// File name of the store inside a data directory.
pub const SQLITE_FILE_NAME: &str = "registrations.sqlite";

const CHALLENGE_COLS: &str =
    "impi, nonce, impu, rand, xres, algorithm, nc_last, created_at, expires_at, single_use";

/// SQLite-backed [`RegistrationStore`]. Survives a restart of the process: with WAL and
/// `synchronous = NORMAL` a committed write survives a process crash (not necessarily a power
/// loss; <https://sqlite.org/pragma.html#pragma_synchronous>).
#[derive(Clone, Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
    path: PathBuf,
}

fn to_db(what: &'static str, v: u64) -> Result<i64, CscfError> {
    i64::try_from(v).map_err(|_| CscfError::OutOfRange { what, value: v })
}

fn from_db(what: &str, v: i64) -> Result<u64, CscfError> {
    u64::try_from(v).map_err(|_| CscfError::Corrupt(format!("{what} is negative: {v}")))
}

impl SqliteStore {
    /// Opens (creating if needed) `dir/registrations.sqlite`, creating `dir` too.
    pub async fn open_in_dir(dir: &Path) -> Result<Self, CscfError> {
        std::fs::create_dir_all(dir)?;
        Self::open(&dir.join(SQLITE_FILE_NAME)).await
    }

    /// Opens (creating if needed) the database file at `path` and migrates its schema.
    pub async fn open(path: &Path) -> Result<Self, CscfError> {
        if path.as_os_str().is_empty() {
            return Err(CscfError::Path("empty database path".into()));
        }
        let opts = SqliteConnectOptions::from_str("sqlite://")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(opts)
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(Self {
            pool,
            path: path.to_owned(),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Closes the connections (waits for them to finish).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

fn reg_row(row: &SqliteRow) -> Result<Versioned<Registration>, CscfError> {
    let version = from_db("version", row.try_get("version")?)?;
    let body: String = row.try_get("body")?;
    Ok(Versioned {
        version,
        value: serde_json::from_str(&body)?,
    })
}

fn challenge_row(row: &SqliteRow) -> Result<AuthChallenge, CscfError> {
    let rand: Vec<u8> = row.try_get("rand")?;
    let rand: [u8; 16] = rand
        .as_slice()
        .try_into()
        .map_err(|_| CscfError::Corrupt(format!("RAND has {} bytes, not 16", rand.len())))?;
    let xres = Zeroizing::new(row.try_get::<Vec<u8>, _>("xres")?);
    let nc: i64 = row.try_get("nc_last")?;
    Ok(AuthChallenge {
        impi: row.try_get("impi")?,
        impu: row.try_get("impu")?,
        nonce: row.try_get("nonce")?,
        rand,
        xres: Xres::from_slice(&xres)?,
        algorithm: row.try_get("algorithm")?,
        nc_last: u32::try_from(nc)
            .map_err(|_| CscfError::Corrupt(format!("nc_last out of range: {nc}")))?,
        created_at: from_db("created_at", row.try_get("created_at")?)?,
        expires_at: from_db("expires_at", row.try_get("expires_at")?)?,
        single_use: row.try_get("single_use")?,
    })
}

fn next_expiry_db(reg: &Registration) -> Result<Option<i64>, CscfError> {
    reg.next_expiry()
        .map(|t| to_db("contact expiry", t))
        .transpose()
}

#[async_trait]
impl RegistrationStore for SqliteStore {
    async fn get_registration(
        &self,
        aor: &str,
    ) -> Result<Option<Versioned<Registration>>, CscfError> {
        sqlx::query("SELECT version, body FROM registration WHERE aor = ?")
            .bind(aor)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(reg_row)
            .transpose()
    }

    async fn put_registration(&self, reg: &Registration) -> Result<Version, CscfError> {
        let body = serde_json::to_string(reg)?;
        let v: i64 = sqlx::query_scalar(
            "INSERT INTO registration (aor, version, next_expiry, body) VALUES (?, 1, ?, ?) \
             ON CONFLICT (aor) DO UPDATE SET version = version + 1, \
             next_expiry = excluded.next_expiry, body = excluded.body RETURNING version",
        )
        .bind(&reg.aor)
        .bind(next_expiry_db(reg)?)
        .bind(body)
        .fetch_one(&self.pool)
        .await?;
        from_db("version", v)
    }

    async fn update_registration_if_version(
        &self,
        reg: &Registration,
        expected: Version,
    ) -> Result<CasOutcome, CscfError> {
        let body = serde_json::to_string(reg)?;
        let next = next_expiry_db(reg)?;
        let v: Option<i64> = if expected == ABSENT {
            sqlx::query_scalar(
                "INSERT INTO registration (aor, version, next_expiry, body) VALUES (?, 1, ?, ?) \
                 ON CONFLICT (aor) DO NOTHING RETURNING version",
            )
            .bind(&reg.aor)
            .bind(next)
            .bind(body)
            .fetch_optional(&self.pool)
            .await?
        } else {
            sqlx::query_scalar(
                "UPDATE registration SET version = version + 1, next_expiry = ?, body = ? \
                 WHERE aor = ? AND version = ? RETURNING version",
            )
            .bind(next)
            .bind(body)
            .bind(&reg.aor)
            .bind(to_db("version", expected)?)
            .fetch_optional(&self.pool)
            .await?
        };
        match v {
            Some(v) => Ok(CasOutcome::Applied(from_db("version", v)?)),
            None => Ok(CasOutcome::Stale),
        }
    }

    async fn remove_registration(&self, aor: &str) -> Result<bool, CscfError> {
        let r = sqlx::query("DELETE FROM registration WHERE aor = ?")
            .bind(aor)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() > 0)
    }

    async fn remove_registration_if_version(
        &self,
        aor: &str,
        expected: Version,
    ) -> Result<CasOutcome, CscfError> {
        let r = sqlx::query("DELETE FROM registration WHERE aor = ? AND version = ?")
            .bind(aor)
            .bind(to_db("version", expected)?)
            .execute(&self.pool)
            .await?;
        Ok(if r.rows_affected() > 0 {
            CasOutcome::Applied(ABSENT)
        } else {
            CasOutcome::Stale
        })
    }

    async fn registrations_expiring_before(
        &self,
        before: UnixSecs,
    ) -> Result<Vec<Expiring>, CscfError> {
        let rows = sqlx::query(
            "SELECT aor, version, next_expiry FROM registration \
             WHERE next_expiry IS NOT NULL AND next_expiry < ? ORDER BY next_expiry, aor",
        )
        .bind(to_db("time", before)?)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(Expiring {
                    aor: row.try_get("aor")?,
                    version: from_db("version", row.try_get("version")?)?,
                    next_expiry: from_db("next_expiry", row.try_get("next_expiry")?)?,
                })
            })
            .collect()
    }

    async fn put_ue_registration(&self, ue: &UeRegistration) -> Result<(), CscfError> {
        sqlx::query(
            "INSERT OR REPLACE INTO ue_registration (impu, contact, expires_at, body) \
             VALUES (?, ?, ?, ?)",
        )
        .bind(&ue.impu)
        .bind(&ue.contact)
        .bind(to_db("expiry", ue.expires_at)?)
        .bind(serde_json::to_string(ue)?)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn get_ue_registration(
        &self,
        impu: &str,
        contact: &str,
    ) -> Result<Option<UeRegistration>, CscfError> {
        let body: Option<String> =
            sqlx::query_scalar("SELECT body FROM ue_registration WHERE impu = ? AND contact = ?")
                .bind(impu)
                .bind(contact)
                .fetch_optional(&self.pool)
                .await?;
        Ok(body.map(|b| serde_json::from_str(&b)).transpose()?)
    }

    async fn remove_ue_registration(&self, impu: &str, contact: &str) -> Result<bool, CscfError> {
        let r = sqlx::query("DELETE FROM ue_registration WHERE impu = ? AND contact = ?")
            .bind(impu)
            .bind(contact)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() > 0)
    }

    async fn ue_registrations_expiring_before(
        &self,
        before: UnixSecs,
    ) -> Result<Vec<UeRegistration>, CscfError> {
        let bodies: Vec<String> = sqlx::query_scalar(
            "SELECT body FROM ue_registration WHERE expires_at < ? \
             ORDER BY expires_at, impu, contact",
        )
        .bind(to_db("time", before)?)
        .fetch_all(&self.pool)
        .await?;
        bodies
            .iter()
            .map(|b| serde_json::from_str(b).map_err(CscfError::from))
            .collect()
    }

    async fn put_challenge(&self, ch: &AuthChallenge) -> Result<(), CscfError> {
        sqlx::query(&format!(
            "INSERT OR REPLACE INTO auth_challenge ({CHALLENGE_COLS}) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(&ch.impi)
        .bind(&ch.nonce)
        .bind(&ch.impu)
        .bind(&ch.rand[..])
        .bind(ch.xres.expose())
        .bind(&ch.algorithm)
        .bind(i64::from(ch.nc_last))
        .bind(to_db("created_at", ch.created_at)?)
        .bind(to_db("expires_at", ch.expires_at)?)
        .bind(ch.single_use)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn take_challenge(
        &self,
        impi: &str,
        nonce: &str,
    ) -> Result<Option<AuthChallenge>, CscfError> {
        sqlx::query(&format!(
            "DELETE FROM auth_challenge WHERE impi = ? AND nonce = ? RETURNING {CHALLENGE_COLS}"
        ))
        .bind(impi)
        .bind(nonce)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(challenge_row)
        .transpose()
    }

    async fn advance_nonce_count(
        &self,
        impi: &str,
        nonce: &str,
        nc: u32,
    ) -> Result<NcCheck, CscfError> {
        let row = sqlx::query(&format!(
            "UPDATE auth_challenge SET nc_last = ? \
             WHERE impi = ? AND nonce = ? AND nc_last < ? RETURNING {CHALLENGE_COLS}"
        ))
        .bind(i64::from(nc))
        .bind(impi)
        .bind(nonce)
        .bind(i64::from(nc))
        .fetch_optional(&self.pool)
        .await?;
        if let Some(row) = row {
            return Ok(NcCheck::Accepted(challenge_row(&row)?));
        }
        let exists: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM auth_challenge WHERE impi = ? AND nonce = ?")
                .bind(impi)
                .bind(nonce)
                .fetch_optional(&self.pool)
                .await?;
        Ok(if exists.is_some() {
            NcCheck::Replayed
        } else {
            NcCheck::Unknown
        })
    }

    async fn purge_expired_challenges(
        &self,
        now: UnixSecs,
    ) -> Result<Vec<ExpiredChallenge>, CscfError> {
        let rows = sqlx::query(
            "DELETE FROM auth_challenge WHERE expires_at <= ? RETURNING impi, impu, nonce",
        )
        .bind(to_db("time", now)?)
        .fetch_all(&self.pool)
        .await?;
        let mut out = rows
            .iter()
            .map(|row| {
                Ok(ExpiredChallenge {
                    impi: row.try_get("impi")?,
                    impu: row.try_get("impu")?,
                    nonce: row.try_get("nonce")?,
                })
            })
            .collect::<Result<Vec<_>, CscfError>>()?;
        out.sort_by(|a, b| (&a.impi, &a.nonce).cmp(&(&b.impi, &b.nonce)));
        Ok(out)
    }

    async fn put_reg_subscription(&self, sub: &RegSubscription) -> Result<(), CscfError> {
        sqlx::query(
            "INSERT OR REPLACE INTO reg_subscription (id, aor, expires_at, body) \
             VALUES (?, ?, ?, ?)",
        )
        .bind(&sub.id)
        .bind(&sub.aor)
        .bind(to_db("expiry", sub.expires_at)?)
        .bind(serde_json::to_string(sub)?)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn get_reg_subscription(&self, id: &str) -> Result<Option<RegSubscription>, CscfError> {
        let body: Option<String> =
            sqlx::query_scalar("SELECT body FROM reg_subscription WHERE id = ?")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(body.map(|b| serde_json::from_str(&b)).transpose()?)
    }

    async fn reg_subscriptions_of(&self, aor: &str) -> Result<Vec<RegSubscription>, CscfError> {
        let bodies: Vec<String> =
            sqlx::query_scalar("SELECT body FROM reg_subscription WHERE aor = ? ORDER BY id")
                .bind(aor)
                .fetch_all(&self.pool)
                .await?;
        bodies
            .iter()
            .map(|b| serde_json::from_str(b).map_err(CscfError::from))
            .collect()
    }

    async fn remove_reg_subscription(&self, id: &str) -> Result<bool, CscfError> {
        let r = sqlx::query("DELETE FROM reg_subscription WHERE id = ?")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() > 0)
    }

    async fn reg_subscriptions_expiring_before(
        &self,
        before: UnixSecs,
    ) -> Result<Vec<RegSubscription>, CscfError> {
        let bodies: Vec<String> = sqlx::query_scalar(
            "SELECT body FROM reg_subscription WHERE expires_at < ? ORDER BY expires_at, id",
        )
        .bind(to_db("time", before)?)
        .fetch_all(&self.pool)
        .await?;
        bodies
            .iter()
            .map(|b| serde_json::from_str(b).map_err(CscfError::from))
            .collect()
    }
}
