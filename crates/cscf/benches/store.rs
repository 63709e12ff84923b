//! Cost of the store operations one IMS-AKA registration performs at the S-CSCF:
//! put challenge, take challenge, CAS-write the registration.

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use cscf::store::{
    AuthChallenge, CasOutcome, MemoryStore, RedisStore, RegContact, Registration,
    RegistrationStore, SqliteStore, Xres,
};

fn registration(aor: &str) -> Registration {
    Registration {
        aor: aor.into(),
        impi: "001010000000001@ims.mnc001.mcc001.3gppnetwork.org".into(),
        implicit_set: vec![aor.into()],
        contacts: vec![RegContact {
            uri: "sip:ue@192.0.2.10:5060".into(),
            expires_at: 1_800_000_000,
            q: None,
            instance: Some("\"<urn:uuid:00000000-0000-0000-0000-000000000001>\"".into()),
            reg_id: Some(1),
            path: vec!["<sip:term@pcscf;lr>".into()],
            call_id: "call".into(),
            cseq: 2,
            received: None,
        }],
    }
}

async fn one_registration(s: &dyn RegistrationStore, i: u64) {
    let impi = format!("{i}@ims");
    let ch = AuthChallenge {
        impi: impi.clone(),
        impu: format!("sip:{i}@ims"),
        nonce: format!("nonce-{i}"),
        rand: [1; 16],
        xres: Xres::from_slice(&[2; 8]).unwrap(),
        algorithm: "AKAv1-MD5".into(),
        nc_last: 0,
        created_at: 0,
        expires_at: 1_800_000_000,
        single_use: true,
    };
    s.put_challenge(&ch).await.unwrap();
    assert!(s.take_challenge(&impi, &ch.nonce).await.unwrap().is_some());
    let r = registration(&format!("sip:{}@ims", i % 1000));
    let v = s
        .get_registration(&r.aor)
        .await
        .unwrap()
        .map_or(0, |v| v.version);
    assert!(matches!(
        s.update_registration_if_version(&r, v).await.unwrap(),
        CasOutcome::Applied(_)
    ));
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = std::env::temp_dir().join(format!("cscf-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let sqlite: Arc<dyn RegistrationStore> =
        Arc::new(rt.block_on(SqliteStore::open_in_dir(&dir)).unwrap());
    let memory: Arc<dyn RegistrationStore> = Arc::new(MemoryStore::new());
    let prefix = format!("cscf-bench:{}:", std::process::id());
    let redis = Arc::new(
        rt.block_on(RedisStore::connect("redis://127.0.0.1:6379", &prefix))
            .expect("the redis benchmark needs Redis at 127.0.0.1:6379"),
    );
    let redis_dyn: Arc<dyn RegistrationStore> = redis.clone();
    let mut g = c.benchmark_group("registration_store_ops");
    for (name, s) in [("memory", memory), ("sqlite", sqlite), ("redis", redis_dyn)] {
        let mut i = 0u64;
        g.bench_function(name, |b| {
            b.iter(|| {
                i += 1;
                rt.block_on(one_registration(s.as_ref(), i))
            })
        });
    }
    g.finish();
    rt.block_on(redis.clear()).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, bench);
criterion_main!(benches);
