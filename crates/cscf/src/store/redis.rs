//! Redis backend, for nodes sharing registrations and challenges (standalone Redis ≥ 6.2; the
//! scripts build keys from the prefix, so Redis Cluster is not supported).
//!
//! Layout under the prefix `P`:
//! * `P reg:{aor}`: hash `v` (version), `body` (JSON); `P reg-exp`: ZSET aor → next expiry.
//! * `P ue:{json [impu, contact]}`: JSON string; `P ue-exp`: ZSET of those suffixes → expiry.
//! * `P ch:{json [impi, nonce]}`: hash `body` (JSON), `nc` (last nonce count);
//!   `P ch-exp`: ZSET of those suffixes → expiry. No key TTL: expired challenges must reach
//!   `purge_expired_challenges` so that exactly one node sends SAR AUTHENTICATION_TIMEOUT.

use async_trait::async_trait;
use redis::aio::MultiplexedConnection;
use redis::Script;
use zeroize::Zeroizing;

use super::model::*;
use super::RegistrationStore;
use crate::CscfError;

const WRITE_REG: &str = r"
local v = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
if ARGV[4] ~= '' and v ~= tonumber(ARGV[4]) then return -1 end
v = v + 1
redis.call('HSET', KEYS[1], 'v', v, 'body', ARGV[2])
if ARGV[3] == '' then redis.call('ZREM', KEYS[2], ARGV[1])
else redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1]) end
return v
";

const REMOVE_REG: &str = r"
local v = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
if v == 0 then return 0 end
if ARGV[2] ~= '' and v ~= tonumber(ARGV[2]) then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
";

const ADVANCE_NC: &str = r"
local nc = redis.call('HGET', KEYS[1], 'nc')
if not nc then return 0 end
if tonumber(ARGV[1]) <= tonumber(nc) then return 1 end
redis.call('HSET', KEYS[1], 'nc', ARGV[1])
return 2
";

const PURGE: &str = r"
local ms = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local out = {}
for _, m in ipairs(ms) do
  local k = ARGV[2] .. m
  local b = redis.call('HGET', k, 'body')
  redis.call('DEL', k)
  redis.call('ZREM', KEYS[1], m)
  if b then table.insert(out, b) end
end
return out
";

/// Redis-backed [`RegistrationStore`]: state shared by every node using the same server and
/// key prefix.
#[derive(Clone)]
pub struct RedisStore {
    conn: MultiplexedConnection,
    prefix: String,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

fn pair(a: &str, b: &str) -> Result<String, CscfError> {
    Ok(serde_json::to_string(&(a, b))?)
}

impl RedisStore {
    /// Connects to `url` (`redis://host:port/db`); every key starts with `prefix`.
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, CscfError> {
        let client = redis::Client::open(url)?;
        let conn = client.get_multiplexed_async_connection().await?;
        Ok(Self {
            conn,
            prefix: prefix.to_owned(),
        })
    }

    /// Deletes every key under the prefix (tests, decommissioning).
    pub async fn clear(&self) -> Result<u64, CscfError> {
        let mut c = self.conn.clone();
        let pattern = format!("{}*", escape_glob(&self.prefix));
        let mut cursor: u64 = 0;
        let mut n = 0;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(500)
                .query_async(&mut c)
                .await?;
            if !keys.is_empty() {
                let d: u64 = redis::cmd("DEL").arg(&keys).query_async(&mut c).await?;
                n += d;
            }
            if next == 0 {
                return Ok(n);
            }
            cursor = next;
        }
    }

    fn k(&self, kind: &str, rest: &str) -> String {
        format!("{}{kind}:{rest}", self.prefix)
    }

    fn z(&self, kind: &str) -> String {
        format!("{}{kind}-exp", self.prefix)
    }

    /// Members of the `kind` expiry index whose expiry is strictly before `before`.
    async fn expiring(&self, kind: &str, before: UnixSecs) -> Result<Vec<String>, CscfError> {
        Ok(redis::cmd("ZRANGEBYSCORE")
            .arg(self.z(kind))
            .arg("-inf")
            .arg(format!("({before}"))
            .query_async(&mut self.conn.clone())
            .await?)
    }

    async fn write_reg(
        &self,
        reg: &Registration,
        expected: Option<Version>,
    ) -> Result<i64, CscfError> {
        let body = serde_json::to_string(reg)?;
        let next = reg.next_expiry().map(|t| t.to_string()).unwrap_or_default();
        let exp = expected.map(|v| v.to_string()).unwrap_or_default();
        Ok(Script::new(WRITE_REG)
            .key(self.k("reg", &reg.aor))
            .key(self.z("reg"))
            .arg(&reg.aor)
            .arg(body)
            .arg(next)
            .arg(exp)
            .invoke_async(&mut self.conn.clone())
            .await?)
    }

    async fn remove_reg(&self, aor: &str, expected: Option<Version>) -> Result<bool, CscfError> {
        let exp = expected.map(|v| v.to_string()).unwrap_or_default();
        let n: i64 = Script::new(REMOVE_REG)
            .key(self.k("reg", aor))
            .key(self.z("reg"))
            .arg(aor)
            .arg(exp)
            .invoke_async(&mut self.conn.clone())
            .await?;
        Ok(n == 1)
    }
}

fn escape_glob(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        if matches!(ch, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

fn version(v: i64) -> Result<Version, CscfError> {
    u64::try_from(v).map_err(|_| CscfError::Corrupt(format!("negative version {v}")))
}

fn challenge(body: &str, nc: Option<u32>) -> Result<AuthChallenge, CscfError> {
    let mut ch: AuthChallenge = serde_json::from_str(body)?;
    if let Some(nc) = nc {
        ch.nc_last = nc;
    }
    Ok(ch)
}

#[async_trait]
impl RegistrationStore for RedisStore {
    async fn get_registration(
        &self,
        aor: &str,
    ) -> Result<Option<Versioned<Registration>>, CscfError> {
        let (v, body): (Option<i64>, Option<String>) = redis::cmd("HMGET")
            .arg(self.k("reg", aor))
            .arg("v")
            .arg("body")
            .query_async(&mut self.conn.clone())
            .await?;
        match (v, body) {
            (Some(v), Some(b)) => Ok(Some(Versioned {
                version: version(v)?,
                value: serde_json::from_str(&b)?,
            })),
            _ => Ok(None),
        }
    }

    async fn put_registration(&self, reg: &Registration) -> Result<Version, CscfError> {
        version(self.write_reg(reg, None).await?)
    }

    async fn update_registration_if_version(
        &self,
        reg: &Registration,
        expected: Version,
    ) -> Result<CasOutcome, CscfError> {
        let v = self.write_reg(reg, Some(expected)).await?;
        Ok(if v < 0 {
            CasOutcome::Stale
        } else {
            CasOutcome::Applied(version(v)?)
        })
    }

    async fn remove_registration(&self, aor: &str) -> Result<bool, CscfError> {
        self.remove_reg(aor, None).await
    }

    async fn remove_registration_if_version(
        &self,
        aor: &str,
        expected: Version,
    ) -> Result<CasOutcome, CscfError> {
        if expected == ABSENT {
            return Ok(CasOutcome::Stale);
        }
        Ok(if self.remove_reg(aor, Some(expected)).await? {
            CasOutcome::Applied(ABSENT)
        } else {
            CasOutcome::Stale
        })
    }

    async fn registrations_expiring_before(
        &self,
        before: UnixSecs,
    ) -> Result<Vec<Expiring>, CscfError> {
        let aors = self.expiring("reg", before).await?;
        let mut out = Vec::with_capacity(aors.len());
        for aor in aors {
            // Re-read: a concurrent write may have moved or removed it since.
            if let Some(r) = self.get_registration(&aor).await? {
                if let Some(t) = r.value.next_expiry().filter(|t| *t < before) {
                    out.push(Expiring {
                        aor,
                        version: r.version,
                        next_expiry: t,
                    });
                }
            }
        }
        out.sort_by(|a, b| (a.next_expiry, &a.aor).cmp(&(b.next_expiry, &b.aor)));
        Ok(out)
    }

    async fn put_ue_registration(&self, ue: &UeRegistration) -> Result<(), CscfError> {
        let id = pair(&ue.impu, &ue.contact)?;
        redis::pipe()
            .atomic()
            .cmd("SET")
            .arg(self.k("ue", &id))
            .arg(serde_json::to_string(ue)?)
            .ignore()
            .cmd("ZADD")
            .arg(self.z("ue"))
            .arg(ue.expires_at)
            .arg(&id)
            .ignore()
            .query_async::<()>(&mut self.conn.clone())
            .await?;
        Ok(())
    }

    async fn get_ue_registration(
        &self,
        impu: &str,
        contact: &str,
    ) -> Result<Option<UeRegistration>, CscfError> {
        let body: Option<String> = redis::cmd("GET")
            .arg(self.k("ue", &pair(impu, contact)?))
            .query_async(&mut self.conn.clone())
            .await?;
        Ok(body.map(|b| serde_json::from_str(&b)).transpose()?)
    }

    async fn remove_ue_registration(&self, impu: &str, contact: &str) -> Result<bool, CscfError> {
        let id = pair(impu, contact)?;
        let (n, _): (i64, i64) = redis::pipe()
            .atomic()
            .cmd("DEL")
            .arg(self.k("ue", &id))
            .cmd("ZREM")
            .arg(self.z("ue"))
            .arg(&id)
            .query_async(&mut self.conn.clone())
            .await?;
        Ok(n > 0)
    }

    async fn ue_registrations_expiring_before(
        &self,
        before: UnixSecs,
    ) -> Result<Vec<UeRegistration>, CscfError> {
        let ids = self.expiring("ue", before).await?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let body: Option<String> = redis::cmd("GET")
                .arg(self.k("ue", &id))
                .query_async(&mut self.conn.clone())
                .await?;
            if let Some(b) = body {
                let u: UeRegistration = serde_json::from_str(&b)?;
                if u.expires_at < before {
                    out.push(u);
                }
            }
        }
        out.sort_by(|a, b| {
            (a.expires_at, &a.impu, &a.contact).cmp(&(b.expires_at, &b.impu, &b.contact))
        });
        Ok(out)
    }

    async fn put_challenge(&self, ch: &AuthChallenge) -> Result<(), CscfError> {
        let id = pair(&ch.impi, &ch.nonce)?;
        let key = self.k("ch", &id);
        let body = Zeroizing::new(serde_json::to_string(ch)?);
        redis::pipe()
            .atomic()
            .cmd("DEL")
            .arg(&key)
            .ignore()
            .cmd("HSET")
            .arg(&key)
            .arg("body")
            .arg(body.as_str())
            .arg("nc")
            .arg(ch.nc_last)
            .ignore()
            .cmd("ZADD")
            .arg(self.z("ch"))
            .arg(ch.expires_at)
            .arg(&id)
            .ignore()
            .query_async::<()>(&mut self.conn.clone())
            .await?;
        Ok(())
    }

    async fn take_challenge(
        &self,
        impi: &str,
        nonce: &str,
    ) -> Result<Option<AuthChallenge>, CscfError> {
        let id = pair(impi, nonce)?;
        let key = self.k("ch", &id);
        // MULTI/EXEC: read and delete in one isolated step; only the caller whose DEL removed
        // the key owns the challenge.
        let (body, nc, deleted, _): (Option<String>, Option<u32>, i64, i64) = redis::pipe()
            .atomic()
            .cmd("HGET")
            .arg(&key)
            .arg("body")
            .cmd("HGET")
            .arg(&key)
            .arg("nc")
            .cmd("DEL")
            .arg(&key)
            .cmd("ZREM")
            .arg(self.z("ch"))
            .arg(&id)
            .query_async(&mut self.conn.clone())
            .await?;
        let body = body.map(Zeroizing::new);
        match body {
            Some(b) if deleted == 1 => Ok(Some(challenge(&b, nc)?)),
            _ => Ok(None),
        }
    }

    async fn advance_nonce_count(
        &self,
        impi: &str,
        nonce: &str,
        nc: u32,
    ) -> Result<NcCheck, CscfError> {
        let key = self.k("ch", &pair(impi, nonce)?);
        let r: i64 = Script::new(ADVANCE_NC)
            .key(&key)
            .arg(nc)
            .invoke_async(&mut self.conn.clone())
            .await?;
        match r {
            0 => Ok(NcCheck::Unknown),
            1 => Ok(NcCheck::Replayed),
            _ => {
                let body: Option<String> = redis::cmd("HGET")
                    .arg(&key)
                    .arg("body")
                    .query_async(&mut self.conn.clone())
                    .await?;
                match body.map(Zeroizing::new) {
                    Some(b) => Ok(NcCheck::Accepted(challenge(&b, Some(nc))?)),
                    // Taken between the check and the read: the nc was still accepted once.
                    None => Ok(NcCheck::Unknown),
                }
            }
        }
    }

    async fn purge_expired_challenges(
        &self,
        now: UnixSecs,
    ) -> Result<Vec<ExpiredChallenge>, CscfError> {
        let bodies: Vec<String> = Script::new(PURGE)
            .key(self.z("ch"))
            .arg(now)
            .arg(self.k("ch", ""))
            .invoke_async(&mut self.conn.clone())
            .await?;
        let mut out = Vec::with_capacity(bodies.len());
        for b in bodies {
            let b = Zeroizing::new(b);
            let ch = challenge(&b, None)?;
            out.push(ExpiredChallenge {
                impi: ch.impi.clone(),
                impu: ch.impu.clone(),
                nonce: ch.nonce.clone(),
            });
        }
        out.sort_by(|a, b| (&a.impi, &a.nonce).cmp(&(&b.impi, &b.nonce)));
        Ok(out)
    }

    async fn put_reg_subscription(&self, sub: &RegSubscription) -> Result<(), CscfError> {
        redis::pipe()
            .atomic()
            .cmd("SET")
            .arg(self.k("sub", &sub.id))
            .arg(serde_json::to_string(sub)?)
            .ignore()
            .cmd("SADD")
            .arg(self.k("sub-of", &sub.aor))
            .arg(&sub.id)
            .ignore()
            .cmd("ZADD")
            .arg(self.z("sub"))
            .arg(sub.expires_at)
            .arg(&sub.id)
            .ignore()
            .query_async::<()>(&mut self.conn.clone())
            .await?;
        Ok(())
    }

    async fn get_reg_subscription(&self, id: &str) -> Result<Option<RegSubscription>, CscfError> {
        let body: Option<String> = redis::cmd("GET")
            .arg(self.k("sub", id))
            .query_async(&mut self.conn.clone())
            .await?;
        Ok(body.map(|b| serde_json::from_str(&b)).transpose()?)
    }

    async fn reg_subscriptions_of(&self, aor: &str) -> Result<Vec<RegSubscription>, CscfError> {
        let ids: Vec<String> = redis::cmd("SMEMBERS")
            .arg(self.k("sub-of", aor))
            .query_async(&mut self.conn.clone())
            .await?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(s) = self.get_reg_subscription(&id).await? {
                if s.aor == aor {
                    out.push(s);
                }
            }
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    async fn remove_reg_subscription(&self, id: &str) -> Result<bool, CscfError> {
        let Some(sub) = self.get_reg_subscription(id).await? else {
            return Ok(false);
        };
        let (n, _, _): (i64, i64, i64) = redis::pipe()
            .atomic()
            .cmd("DEL")
            .arg(self.k("sub", id))
            .cmd("SREM")
            .arg(self.k("sub-of", &sub.aor))
            .arg(id)
            .cmd("ZREM")
            .arg(self.z("sub"))
            .arg(id)
            .query_async(&mut self.conn.clone())
            .await?;
        Ok(n > 0)
    }

    async fn reg_subscriptions_expiring_before(
        &self,
        before: UnixSecs,
    ) -> Result<Vec<RegSubscription>, CscfError> {
        let ids = self.expiring("sub", before).await?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(s) = self.get_reg_subscription(&id).await? {
                if s.expires_at < before {
                    out.push(s);
                }
            }
        }
        out.sort_by(|a, b| (a.expires_at, &a.id).cmp(&(b.expires_at, &b.id)));
        Ok(out)
    }
}
