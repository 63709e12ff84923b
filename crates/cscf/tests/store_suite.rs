//! One test suite run against every `RegistrationStore` backend.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use cscf::store::{
    AuthChallenge, CasOutcome, Flow, MemoryStore, NcCheck, RedisStore, RegContact, RegSubscriber,
    RegSubscription, Registration, RegistrationStore, SqliteStore, UeRegistration, Xres, ABSENT,
    SQLITE_FILE_NAME,
};

const XRES: [u8; 8] = [0xa7, 0x00, 0x5c, 0x3e, 0x00, 0x91, 0xf2, 0x6b];

fn flow() -> Flow {
    Flow {
        transport: "UDP".into(),
        remote: "192.0.2.10:5060".parse::<SocketAddr>().unwrap(),
        local: "[2001:db8::1]:5060".parse::<SocketAddr>().unwrap(),
    }
}

fn registration(aor: &str, expiries: &[u64]) -> Registration {
    Registration {
        aor: aor.into(),
        impi: format!("{}@ims.example", aor.trim_start_matches("sip:")),
        implicit_set: vec![aor.into(), "tel:+15550001".into()],
        contacts: expiries
            .iter()
            .enumerate()
            .map(|(i, t)| RegContact {
                uri: format!("sip:ue{i}@192.0.2.10:5060;transport=udp"),
                expires_at: *t,
                q: Some(500 + i as u16),
                instance: Some(format!(
                    "\"<urn:uuid:00000000-0000-0000-0000-00000000000{i}>\""
                )),
                reg_id: Some(i as u32 + 1),
                path: vec!["<sip:term@pcscf.ims.example;lr>".into()],
                call_id: format!("call-{i}"),
                cseq: 7 + i as u32,
                received: Some(flow()),
            })
            .collect(),
    }
}

fn ue(impu: &str, contact: &str, expires_at: u64) -> UeRegistration {
    UeRegistration {
        impu: impu.into(),
        contact: contact.into(),
        flow: flow(),
        expires_at,
        service_route: vec!["<sip:orig@scscf.ims.example;lr>".into()],
        associated_uris: vec![impu.into(), "tel:+15550001".into()],
        security_association: Some("sa-42".into()),
    }
}

fn challenge(impi: &str, nonce: &str, expires_at: u64) -> AuthChallenge {
    AuthChallenge {
        impi: impi.into(),
        impu: format!("sip:{impi}"),
        nonce: nonce.into(),
        rand: [0x11; 16],
        xres: Xres::from_slice(&XRES).unwrap(),
        algorithm: "AKAv1-MD5".into(),
        nc_last: 0,
        created_at: 1_000,
        expires_at,
        single_use: true,
    }
}

fn subscription(aor: &str, call_id: &str, expires_at: u64) -> RegSubscription {
    RegSubscription {
        id: RegSubscription::key(call_id, "lt1"),
        aor: aor.into(),
        resource: aor.into(),
        subscriber: RegSubscriber::Ue,
        call_id: call_id.into(),
        local_tag: "lt1".into(),
        remote_tag: "rt1".into(),
        local_uri: format!("<{aor}>;tag=lt1"),
        remote_uri: format!("<{aor}>;tag=rt1"),
        remote_target: "sip:ue@192.0.2.10:5060".into(),
        route_set: vec!["<sip:term@pcscf.ims.example;lr>".into()],
        local_cseq: 3,
        remote_cseq: 1,
        version: Some(2),
        expires_at,
    }
}

/// Reg-event subscriptions (RFC 3680): round trip, listing by registration and by expiry, removal.
async fn reg_subscription_round_trip(s: Arc<dyn RegistrationStore>) {
    let a = subscription("sip:sa@ims.example", "c-a", 5_000);
    let b = subscription("sip:sa@ims.example", "c-b", 4_000);
    let c = subscription("sip:sc@ims.example", "c-c", 9_000);
    for x in [&a, &b, &c] {
        s.put_reg_subscription(x).await.unwrap();
    }
    assert_eq!(
        s.get_reg_subscription(&a.id).await.unwrap(),
        Some(a.clone())
    );
    assert_eq!(
        s.reg_subscriptions_of("sip:sa@ims.example").await.unwrap(),
        vec![a.clone(), b.clone()]
    );
    let due = s.reg_subscriptions_expiring_before(5_001).await.unwrap();
    assert_eq!(due, vec![b.clone(), a.clone()]);
    assert!(s
        .reg_subscriptions_expiring_before(4_000)
        .await
        .unwrap()
        .is_empty());
    // an update (next NOTIFY: CSeq and version up, refreshed expiry) replaces the record
    let mut a2 = a.clone();
    a2.local_cseq = 4;
    a2.version = Some(3);
    a2.expires_at = 20_000;
    s.put_reg_subscription(&a2).await.unwrap();
    assert_eq!(
        s.get_reg_subscription(&a.id).await.unwrap(),
        Some(a2.clone())
    );
    assert_eq!(
        s.reg_subscriptions_expiring_before(10_000).await.unwrap(),
        vec![b.clone(), c.clone()]
    );
    assert!(s.remove_reg_subscription(&b.id).await.unwrap());
    assert!(!s.remove_reg_subscription(&b.id).await.unwrap());
    assert_eq!(
        s.reg_subscriptions_of("sip:sa@ims.example").await.unwrap(),
        vec![a2]
    );
    assert!(s
        .reg_subscriptions_of("sip:nobody@ims.example")
        .await
        .unwrap()
        .is_empty());
}

async fn registration_round_trip(s: Arc<dyn RegistrationStore>) {
    let r = registration("sip:alice@ims.example", &[2_000, 1_500]);
    assert_eq!(s.get_registration(&r.aor).await.unwrap(), None);
    let v1 = s.put_registration(&r).await.unwrap();
    assert_eq!(v1, 1);
    let got = s.get_registration(&r.aor).await.unwrap().unwrap();
    assert_eq!(got.version, v1);
    assert_eq!(got.value, r);
    let mut r2 = r.clone();
    r2.contacts.pop();
    let v2 = s.put_registration(&r2).await.unwrap();
    assert!(v2 > v1);
    assert_eq!(s.get_registration(&r.aor).await.unwrap().unwrap().value, r2);
    assert!(s.remove_registration(&r.aor).await.unwrap());
    assert!(!s.remove_registration(&r.aor).await.unwrap());
    assert_eq!(s.get_registration(&r.aor).await.unwrap(), None);
}

async fn cas_rejects_stale_writer(s: Arc<dyn RegistrationStore>) {
    let r = registration("sip:bob@ims.example", &[3_000]);
    // Create only if absent.
    let v1 = match s.update_registration_if_version(&r, ABSENT).await.unwrap() {
        CasOutcome::Applied(v) => v,
        CasOutcome::Stale => panic!("create on absent record must apply"),
    };
    assert_eq!(
        s.update_registration_if_version(&r, ABSENT).await.unwrap(),
        CasOutcome::Stale,
        "create must not overwrite an existing record"
    );
    // Two writers read v1; the first wins, the second is stale.
    let mut refreshed = r.clone();
    refreshed.contacts[0].expires_at = 9_000;
    let v2 = match s
        .update_registration_if_version(&refreshed, v1)
        .await
        .unwrap()
    {
        CasOutcome::Applied(v) => v,
        CasOutcome::Stale => panic!("first writer must win"),
    };
    assert!(v2 > v1);
    let mut shortened = r.clone();
    shortened.contacts[0].expires_at = 10;
    assert_eq!(
        s.update_registration_if_version(&shortened, v1)
            .await
            .unwrap(),
        CasOutcome::Stale
    );
    assert_eq!(
        s.get_registration(&r.aor).await.unwrap().unwrap().value,
        refreshed
    );
    // The expiry timer read v1 before the re-REGISTER: its removal must not apply.
    assert_eq!(
        s.remove_registration_if_version(&r.aor, v1).await.unwrap(),
        CasOutcome::Stale
    );
    assert!(s.get_registration(&r.aor).await.unwrap().is_some());
    // With the current version it does.
    assert_eq!(
        s.remove_registration_if_version(&r.aor, v2).await.unwrap(),
        CasOutcome::Applied(ABSENT)
    );
    assert_eq!(s.get_registration(&r.aor).await.unwrap(), None);
    // Updating a removed record with an old version is stale, not a resurrection.
    assert_eq!(
        s.update_registration_if_version(&refreshed, v2)
            .await
            .unwrap(),
        CasOutcome::Stale
    );
    assert_eq!(s.get_registration(&r.aor).await.unwrap(), None);
}

async fn concurrent_cas_has_one_winner(s: Arc<dyn RegistrationStore>) {
    let r = registration("sip:race@ims.example", &[100]);
    let v = s.put_registration(&r).await.unwrap();
    let tasks: Vec<_> = (0..16u64)
        .map(|i| {
            let s = s.clone();
            let mut r = r.clone();
            r.contacts[0].expires_at = 1_000 + i;
            tokio::spawn(async move { s.update_registration_if_version(&r, v).await.unwrap() })
        })
        .collect();
    let outcomes = futures::future::join_all(tasks).await;
    let applied = outcomes
        .into_iter()
        .map(|o| o.unwrap())
        .filter(|o| matches!(o, CasOutcome::Applied(_)))
        .count();
    assert_eq!(applied, 1);
    assert_eq!(
        s.get_registration(&r.aor).await.unwrap().unwrap().version,
        v + 1
    );
}

async fn expiry_listing(s: Arc<dyn RegistrationStore>) {
    s.put_registration(&registration("sip:c@x", &[500, 300]))
        .await
        .unwrap();
    s.put_registration(&registration("sip:a@x", &[100]))
        .await
        .unwrap();
    s.put_registration(&registration("sip:b@x", &[400]))
        .await
        .unwrap();
    s.put_registration(&registration("sip:none@x", &[]))
        .await
        .unwrap();
    let list = s.registrations_expiring_before(400).await.unwrap();
    let got: Vec<(&str, u64)> = list
        .iter()
        .map(|e| (e.aor.as_str(), e.next_expiry))
        .collect();
    assert_eq!(got, vec![("sip:a@x", 100), ("sip:c@x", 300)]);
    let a = s.get_registration("sip:a@x").await.unwrap().unwrap();
    assert_eq!(list[0].version, a.version);
    assert!(s
        .registrations_expiring_before(100)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        s.registrations_expiring_before(u64::MAX >> 2)
            .await
            .unwrap()
            .len(),
        3
    );
    // A refresh moves the registration out of the window.
    s.put_registration(&registration("sip:a@x", &[900]))
        .await
        .unwrap();
    let got: Vec<String> = s
        .registrations_expiring_before(400)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.aor)
        .collect();
    assert_eq!(got, vec!["sip:c@x".to_string()]);
}

async fn ue_registration_round_trip(s: Arc<dyn RegistrationStore>) {
    let a = ue("sip:alice@ims.example", "sip:alice@192.0.2.10:5060", 700);
    let b = ue("sip:alice@ims.example", "sip:alice@192.0.2.11:5060", 200);
    let c = ue("sip:bob@ims.example", "sip:bob@192.0.2.12:5060", 900);
    for u in [&a, &b, &c] {
        s.put_ue_registration(u).await.unwrap();
    }
    assert_eq!(
        s.get_ue_registration(&a.impu, &a.contact).await.unwrap(),
        Some(a.clone())
    );
    assert_eq!(
        s.get_ue_registration(&b.impu, &b.contact).await.unwrap(),
        Some(b.clone())
    );
    assert_eq!(
        s.get_ue_registration(&c.impu, &a.contact).await.unwrap(),
        None
    );
    let exp: Vec<UeRegistration> = s.ue_registrations_expiring_before(800).await.unwrap();
    assert_eq!(exp, vec![b.clone(), a.clone()]);
    let mut a2 = a.clone();
    a2.security_association = None;
    a2.expires_at = 1_000;
    s.put_ue_registration(&a2).await.unwrap();
    assert_eq!(
        s.get_ue_registration(&a.impu, &a.contact).await.unwrap(),
        Some(a2)
    );
    assert!(s.remove_ue_registration(&b.impu, &b.contact).await.unwrap());
    assert!(!s.remove_ue_registration(&b.impu, &b.contact).await.unwrap());
    assert!(s
        .ue_registrations_expiring_before(800)
        .await
        .unwrap()
        .is_empty());
}

async fn challenge_take_is_single_use(s: Arc<dyn RegistrationStore>) {
    let ch = challenge("alice@ims.example", "bm9uY2Ux", 2_000);
    s.put_challenge(&ch).await.unwrap();
    assert_eq!(
        s.take_challenge("alice@ims.example", "other")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        s.take_challenge("bob@ims.example", "bm9uY2Ux")
            .await
            .unwrap(),
        None
    );
    let got = s
        .take_challenge(&ch.impi, &ch.nonce)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got, ch);
    assert_eq!(got.xres.expose(), &XRES);
    assert_eq!(s.take_challenge(&ch.impi, &ch.nonce).await.unwrap(), None);
}

async fn concurrent_take_has_one_winner(s: Arc<dyn RegistrationStore>) {
    for round in 0..5 {
        let nonce = format!("race-{round}");
        s.put_challenge(&challenge("carol@ims.example", &nonce, 2_000))
            .await
            .unwrap();
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let s = s.clone();
                let nonce = nonce.clone();
                tokio::spawn(
                    async move { s.take_challenge("carol@ims.example", &nonce).await.unwrap() },
                )
            })
            .collect();
        let winners = futures::future::join_all(tasks)
            .await
            .into_iter()
            .map(|r| r.unwrap())
            .filter(Option::is_some)
            .count();
        assert_eq!(winners, 1, "round {round}");
    }
}

async fn nonce_count_advances(s: Arc<dyn RegistrationStore>) {
    let mut ch = challenge("dave@ims.example", "reusable", 2_000);
    ch.single_use = false;
    s.put_challenge(&ch).await.unwrap();
    assert_eq!(
        s.advance_nonce_count("dave@ims.example", "nope", 1)
            .await
            .unwrap(),
        NcCheck::Unknown
    );
    match s.advance_nonce_count(&ch.impi, &ch.nonce, 1).await.unwrap() {
        NcCheck::Accepted(c) => {
            assert_eq!(c.nc_last, 1);
            assert_eq!(c.xres, ch.xres);
        }
        other => panic!("nc 1 must be accepted, got {other:?}"),
    }
    assert_eq!(
        s.advance_nonce_count(&ch.impi, &ch.nonce, 1).await.unwrap(),
        NcCheck::Replayed
    );
    assert!(matches!(
        s.advance_nonce_count(&ch.impi, &ch.nonce, 3).await.unwrap(),
        NcCheck::Accepted(c) if c.nc_last == 3
    ));
    assert_eq!(
        s.advance_nonce_count(&ch.impi, &ch.nonce, 2).await.unwrap(),
        NcCheck::Replayed
    );
    // Concurrent uses of the same nc: exactly one accepted.
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move {
                s.advance_nonce_count("dave@ims.example", "reusable", 4)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let accepted = futures::future::join_all(tasks)
        .await
        .into_iter()
        .filter(|r| matches!(r, Ok(NcCheck::Accepted(_))))
        .count();
    assert_eq!(accepted, 1);
    assert_eq!(
        s.take_challenge(&ch.impi, &ch.nonce)
            .await
            .unwrap()
            .unwrap()
            .nc_last,
        4
    );
}

async fn purge_expired(s: Arc<dyn RegistrationStore>) {
    s.put_challenge(&challenge("e@x", "n1", 100)).await.unwrap();
    s.put_challenge(&challenge("e@x", "n2", 200)).await.unwrap();
    s.put_challenge(&challenge("f@x", "n3", 300)).await.unwrap();
    let purged = s.purge_expired_challenges(200).await.unwrap();
    let got: Vec<(&str, &str, &str)> = purged
        .iter()
        .map(|e| (e.impi.as_str(), e.impu.as_str(), e.nonce.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![("e@x", "sip:e@x", "n1"), ("e@x", "sip:e@x", "n2")]
    );
    assert!(s.purge_expired_challenges(200).await.unwrap().is_empty());
    assert_eq!(s.take_challenge("e@x", "n1").await.unwrap(), None);
    assert!(s.take_challenge("f@x", "n3").await.unwrap().is_some());
}

fn secrets_redacted_in_debug() {
    let ch = challenge("g@x", "n", 1);
    let dbg = format!("{ch:?}");
    assert!(dbg.contains("Xres(<redacted>)"), "{dbg}");
    // Neither the decimal nor the hex rendering of XRES may appear.
    assert!(!dbg.contains("167, 0, 92"), "{dbg}");
    assert!(!dbg.contains("a7005c"), "{dbg}");
    assert!(!dbg.to_lowercase().contains("0xa7"), "{dbg}");
}

macro_rules! suite {
    ($modname:ident, $make:expr, $cleanup:expr) => {
        mod $modname {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn registration_round_trip() {
                let s = $make;
                super::registration_round_trip(s.clone()).await;
                ($cleanup)(s).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn cas_rejects_stale_writer() {
                let s = $make;
                super::cas_rejects_stale_writer(s.clone()).await;
                ($cleanup)(s).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn concurrent_cas_has_one_winner() {
                let s = $make;
                super::concurrent_cas_has_one_winner(s.clone()).await;
                ($cleanup)(s).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn expiry_listing() {
                let s = $make;
                super::expiry_listing(s.clone()).await;
                ($cleanup)(s).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn ue_registration_round_trip() {
                let s = $make;
                super::ue_registration_round_trip(s.clone()).await;
                ($cleanup)(s).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn challenge_take_is_single_use() {
                let s = $make;
                super::challenge_take_is_single_use(s.clone()).await;
                ($cleanup)(s).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn concurrent_take_has_one_winner() {
                let s = $make;
                super::concurrent_take_has_one_winner(s.clone()).await;
                ($cleanup)(s).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn nonce_count_advances() {
                let s = $make;
                super::nonce_count_advances(s.clone()).await;
                ($cleanup)(s).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn reg_subscription_round_trip() {
                let s = $make;
                super::reg_subscription_round_trip(s.clone()).await;
                ($cleanup)(s).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn purge_expired() {
                let s = $make;
                super::purge_expired(s.clone()).await;
                ($cleanup)(s).await;
            }
        }
    };
}

fn fresh_dir(tag: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "cscf-store-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

async fn sqlite() -> Arc<SqliteStore> {
    Arc::new(SqliteStore::open_in_dir(&fresh_dir("suite")).await.unwrap())
}

async fn sqlite_cleanup(s: Arc<SqliteStore>) {
    s.close().await;
    std::fs::remove_dir_all(s.path().parent().unwrap()).unwrap();
}

/// Redis at `IMSCORE_TEST_REDIS_URL` (default `redis://127.0.0.1:6379`); a unique key prefix per
/// test. Fails (does not skip) when no server answers.
async fn redis() -> Arc<RedisStore> {
    static N: AtomicU32 = AtomicU32::new(0);
    let url =
        std::env::var("IMSCORE_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let prefix = format!(
        "cscf-test:{}:{}:",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    );
    let s = RedisStore::connect(&url, &prefix)
        .await
        .unwrap_or_else(|e| panic!("Redis at {url} is required for this test: {e}"));
    assert_eq!(s.clear().await.unwrap(), 0, "prefix {prefix} not fresh");
    Arc::new(s)
}

async fn redis_cleanup(s: Arc<RedisStore>) {
    s.clear().await.unwrap();
    assert_eq!(s.clear().await.unwrap(), 0, "keys left behind");
}

suite!(memory, Arc::new(MemoryStore::new()), |_s| async {});
suite!(sqlite_backend, sqlite().await, sqlite_cleanup);
suite!(redis_backend, redis().await, redis_cleanup);

#[test]
fn debug_redacts_secrets() {
    secrets_redacted_in_debug();
}

/// A registration answered 200 OK survives a restart: write, drop the store, reopen the file.
#[tokio::test]
async fn sqlite_survives_restart() {
    let dir = fresh_dir("restart");
    let r = registration("sip:persist@ims.example", &[5_000, 6_000]);
    let u = ue(
        "sip:persist@ims.example",
        "sip:persist@192.0.2.10:5060",
        5_000,
    );
    let ch = challenge("persist@ims.example", "cGVyc2lzdA==", 7_000);
    let v = {
        let s = SqliteStore::open_in_dir(&dir).await.unwrap();
        assert_eq!(s.path(), dir.join(SQLITE_FILE_NAME));
        let v1 = s.put_registration(&r).await.unwrap();
        let v = s.put_registration(&r).await.unwrap();
        assert!(v > v1);
        s.put_ue_registration(&u).await.unwrap();
        s.put_challenge(&ch).await.unwrap();
        v
        // Dropped without close(): like a process that stops.
    };
    let s = SqliteStore::open_in_dir(&dir).await.unwrap();
    let got = s.get_registration(&r.aor).await.unwrap().unwrap();
    assert_eq!(got.value, r);
    assert_eq!(got.version, v);
    let exp = s.registrations_expiring_before(10_000).await.unwrap();
    assert_eq!(exp.len(), 1);
    assert_eq!((exp[0].version, exp[0].next_expiry), (v, 5_000));
    assert_eq!(
        s.get_ue_registration(&u.impu, &u.contact).await.unwrap(),
        Some(u)
    );
    assert_eq!(
        s.take_challenge(&ch.impi, &ch.nonce).await.unwrap(),
        Some(ch)
    );
    s.close().await;
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Two stores on one file (two processes or nodes sharing it): take is single use across them,
/// and CAS sees the other's writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_two_handles_share_state() {
    let dir = fresh_dir("shared");
    let a = SqliteStore::open_in_dir(&dir).await.unwrap();
    let b = SqliteStore::open_in_dir(&dir).await.unwrap();
    let ch = challenge("shared@x", "n", 9_000);
    a.put_challenge(&ch).await.unwrap();
    let (ta, tb) = tokio::join!(
        a.take_challenge("shared@x", "n"),
        b.take_challenge("shared@x", "n")
    );
    assert_eq!(
        [ta.unwrap(), tb.unwrap()]
            .iter()
            .filter(|t| t.is_some())
            .count(),
        1
    );
    let r = registration("sip:shared@x", &[100]);
    let v = a.put_registration(&r).await.unwrap();
    assert!(matches!(
        b.update_registration_if_version(&r, v).await.unwrap(),
        CasOutcome::Applied(_)
    ));
    assert_eq!(
        a.update_registration_if_version(&r, v).await.unwrap(),
        CasOutcome::Stale
    );
    a.close().await;
    b.close().await;
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn sqlite_rejects_times_beyond_i64() {
    let s = SqliteStore::open_in_dir(&fresh_dir("range")).await.unwrap();
    let r = registration("sip:far@x", &[u64::MAX]);
    assert!(matches!(
        s.put_registration(&r).await,
        Err(cscf::CscfError::OutOfRange { .. })
    ));
    let st = s.clone();
    std::fs::remove_dir_all(st.path().parent().unwrap()).ok();
}
