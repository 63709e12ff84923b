//! In-memory backend: one mutex over plain maps. Nothing survives the process.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;

use super::model::*;
use super::RegistrationStore;
use crate::CscfError;

#[derive(Default)]
struct Inner {
    regs: HashMap<String, (Version, Registration)>,
    ues: HashMap<(String, String), UeRegistration>,
    challenges: HashMap<(String, String), AuthChallenge>,
    subs: HashMap<String, RegSubscription>,
}

/// In-memory [`RegistrationStore`] for tests and single-node use.
#[derive(Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the maps half-updated (each operation is
        // a single map call), so a poisoned lock is still consistent.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn key(a: &str, b: &str) -> (String, String) {
    (a.to_owned(), b.to_owned())
}

#[async_trait]
impl RegistrationStore for MemoryStore {
    async fn get_registration(
        &self,
        aor: &str,
    ) -> Result<Option<Versioned<Registration>>, CscfError> {
        Ok(self.lock().regs.get(aor).map(|(v, r)| Versioned {
            version: *v,
            value: r.clone(),
        }))
    }

    async fn put_registration(&self, reg: &Registration) -> Result<Version, CscfError> {
        let mut g = self.lock();
        let v = g.regs.get(&reg.aor).map_or(ABSENT, |(v, _)| *v) + 1;
        g.regs.insert(reg.aor.clone(), (v, reg.clone()));
        Ok(v)
    }

    async fn update_registration_if_version(
        &self,
        reg: &Registration,
        expected: Version,
    ) -> Result<CasOutcome, CscfError> {
        let mut g = self.lock();
        let current = g.regs.get(&reg.aor).map_or(ABSENT, |(v, _)| *v);
        if current != expected {
            return Ok(CasOutcome::Stale);
        }
        let v = current + 1;
        g.regs.insert(reg.aor.clone(), (v, reg.clone()));
        Ok(CasOutcome::Applied(v))
    }

    async fn remove_registration(&self, aor: &str) -> Result<bool, CscfError> {
        Ok(self.lock().regs.remove(aor).is_some())
    }

    async fn remove_registration_if_version(
        &self,
        aor: &str,
        expected: Version,
    ) -> Result<CasOutcome, CscfError> {
        let mut g = self.lock();
        match g.regs.get(aor) {
            Some((v, _)) if *v == expected => {
                g.regs.remove(aor);
                Ok(CasOutcome::Applied(ABSENT))
            }
            _ => Ok(CasOutcome::Stale),
        }
    }

    async fn registrations_expiring_before(
        &self,
        before: UnixSecs,
    ) -> Result<Vec<Expiring>, CscfError> {
        let g = self.lock();
        let mut out: Vec<Expiring> = g
            .regs
            .iter()
            .filter_map(|(aor, (v, r))| {
                r.next_expiry().filter(|t| *t < before).map(|t| Expiring {
                    aor: aor.clone(),
                    version: *v,
                    next_expiry: t,
                })
            })
            .collect();
        out.sort_by(|a, b| (a.next_expiry, &a.aor).cmp(&(b.next_expiry, &b.aor)));
        Ok(out)
    }

    async fn put_ue_registration(&self, ue: &UeRegistration) -> Result<(), CscfError> {
        self.lock()
            .ues
            .insert(key(&ue.impu, &ue.contact), ue.clone());
        Ok(())
    }

    async fn get_ue_registration(
        &self,
        impu: &str,
        contact: &str,
    ) -> Result<Option<UeRegistration>, CscfError> {
        Ok(self.lock().ues.get(&key(impu, contact)).cloned())
    }

    async fn remove_ue_registration(&self, impu: &str, contact: &str) -> Result<bool, CscfError> {
        Ok(self.lock().ues.remove(&key(impu, contact)).is_some())
    }

    async fn ue_registrations_expiring_before(
        &self,
        before: UnixSecs,
    ) -> Result<Vec<UeRegistration>, CscfError> {
        let g = self.lock();
        let mut out: Vec<UeRegistration> = g
            .ues
            .values()
            .filter(|u| u.expires_at < before)
            .cloned()
            .collect();
        out.sort_by(|a, b| {
            (a.expires_at, &a.impu, &a.contact).cmp(&(b.expires_at, &b.impu, &b.contact))
        });
        Ok(out)
    }

    async fn put_challenge(&self, ch: &AuthChallenge) -> Result<(), CscfError> {
        self.lock()
            .challenges
            .insert(key(&ch.impi, &ch.nonce), ch.clone());
        Ok(())
    }

    async fn take_challenge(
        &self,
        impi: &str,
        nonce: &str,
    ) -> Result<Option<AuthChallenge>, CscfError> {
        Ok(self.lock().challenges.remove(&key(impi, nonce)))
    }

    async fn advance_nonce_count(
        &self,
        impi: &str,
        nonce: &str,
        nc: u32,
    ) -> Result<NcCheck, CscfError> {
        let mut g = self.lock();
        Ok(match g.challenges.get_mut(&key(impi, nonce)) {
            None => NcCheck::Unknown,
            Some(ch) if nc <= ch.nc_last => NcCheck::Replayed,
            Some(ch) => {
                ch.nc_last = nc;
                NcCheck::Accepted(ch.clone())
            }
        })
    }

    async fn purge_expired_challenges(
        &self,
        now: UnixSecs,
    ) -> Result<Vec<ExpiredChallenge>, CscfError> {
        let mut g = self.lock();
        let mut out = Vec::new();
        g.challenges.retain(|_, ch| {
            if ch.is_expired(now) {
                out.push(ExpiredChallenge {
                    impi: ch.impi.clone(),
                    impu: ch.impu.clone(),
                    nonce: ch.nonce.clone(),
                });
                false
            } else {
                true
            }
        });
        out.sort_by(|a, b| (&a.impi, &a.nonce).cmp(&(&b.impi, &b.nonce)));
        Ok(out)
    }

    async fn put_reg_subscription(&self, sub: &RegSubscription) -> Result<(), CscfError> {
        self.lock().subs.insert(sub.id.clone(), sub.clone());
        Ok(())
    }

    async fn get_reg_subscription(&self, id: &str) -> Result<Option<RegSubscription>, CscfError> {
        Ok(self.lock().subs.get(id).cloned())
    }

    async fn reg_subscriptions_of(&self, aor: &str) -> Result<Vec<RegSubscription>, CscfError> {
        let mut out: Vec<RegSubscription> = self
            .lock()
            .subs
            .values()
            .filter(|s| s.aor == aor)
            .cloned()
            .collect();
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    async fn remove_reg_subscription(&self, id: &str) -> Result<bool, CscfError> {
        Ok(self.lock().subs.remove(id).is_some())
    }

    async fn reg_subscriptions_expiring_before(
        &self,
        before: UnixSecs,
    ) -> Result<Vec<RegSubscription>, CscfError> {
        let mut out: Vec<RegSubscription> = self
            .lock()
            .subs
            .values()
            .filter(|s| s.expires_at < before)
            .cloned()
            .collect();
        out.sort_by(|a, b| (a.expires_at, &a.id).cmp(&(b.expires_at, &b.id)));
        Ok(out)
    }
}
