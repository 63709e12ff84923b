//! The shared store test suite: every test runs against SQLite AND PostgreSQL
//! (`sqlite::<name>`, `postgres::<name>`), each on a fresh database/schema.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use common::TestDb;
use hss::model::sqn::{split, DEFAULT_IND_BITS};
use hss::model::{
    ApplicationServer, AuthScheme, DefaultHandling, Impi, Impu, InitialFilterCriteria, OperatorKey,
    RegistrationState, ScscfAssignment, ScscfCapabilities, ServicePointTrigger, ServiceProfile,
    SessionCase, SptCondition, SqnState, Subscription, TriggerPoint,
};
use hss::provision::demo::{demo_subscription, provision_demo};
use hss::provision::{ImpuInput, SubscriberInput};
use hss::secret::{Opc, K};
use hss::store::{ImpiUpdate, ImpuUpdate, SqlStore, SqnBlockConfig};
use hss::{HssError, SubscriberStore};

on_both_backends!(
    create_and_read_back_full_tree,
    duplicates_are_rejected_and_nothing_is_written,
    resolve_list_count_delete,
    sqn_allocation_sequence,
    sqn_exhaustion_leaves_state_unchanged,
    resync_moves_seq_forward_only,
    concurrent_allocation_from_two_instances_never_repeats_an_sqn,
    registration_state_and_scscf_assignment,
    update_private_identity_validates_whole_result,
    update_public_identity_and_profiles,
    capabilities_and_roaming,
    restart_keeps_sqn_and_scscf,
    demo_provisioning_is_one_transaction,
    auth_context_in_one_query,
    sqn_blocks_never_repeat_across_restart_and_two_instances,
    sqn_blocks_resync_drops_the_block,
    sqn_blocks_credentials_follow_updates_and_ttl,
    sqn_blocks_context_cache_follows_writes_and_ttl,
);

fn input(n: u32) -> SubscriberInput {
    let mut i = SubscriberInput::default();
    i.id = Some(format!("sub{n}"));
    i.impi = format!("user{n}@ims.example");
    i.impus = vec![
        ImpuInput::Uri(format!("sip:user{n}@ims.example")),
        ImpuInput::Uri(format!("tel:+1555000{n:04}")),
    ];
    i.k = format!(
        "{:032x}",
        0x0011_2233_4455_6677_8899_aabb_ccdd_ee00u128 + u128::from(n)
    );
    i.opc = Some("000102030405060708090a0b0c0d0e0f".into());
    i
}

fn sub(n: u32) -> Subscription {
    input(n).to_subscription().unwrap()
}

fn impi(n: u32) -> Impi {
    Impi::parse(&format!("user{n}@ims.example")).unwrap()
}

fn impu(n: u32) -> Impu {
    Impu::parse(&format!("sip:user{n}@ims.example")).unwrap()
}

/// A subscription exercising every part of the model: two IMPIs (one with Digest), shared and
/// separate IMPUs, two implicit registration sets, a barred identity, iFCs.
fn rich() -> Subscription {
    let mut i = input(900);
    i.auth_schemes = Some(vec![
        "AKAv1-MD5".into(),
        "AKAv2-MD5".into(),
        "Digest-MD5".into(),
    ]);
    i.default_scheme = Some("AKAv2-MD5".into());
    i.digest_realm = Some("ims.example".into());
    i.digest_ha1 = Some("00ff00ff00ff00ff00ff00ff00ff00ff".into());
    i.amf = Some("0000".into());
    i.sqn = Some(0x1234);
    i.impus.push(ImpuInput::Full {
        uri: "sip:office900@ims.example".into(),
        barred: true,
        irs: Some("office".into()),
        can_register: Some(true),
        service_profile: Some("voice".into()),
    });
    i.service_profiles = vec![
        ServiceProfile {
            id: "basic".into(),
            ifcs: vec![],
        },
        ServiceProfile {
            id: "voice".into(),
            ifcs: vec![InitialFilterCriteria {
                priority: 1,
                trigger_point: Some(TriggerPoint {
                    condition_type_cnf: false,
                    spts: vec![
                        ServicePointTrigger {
                            condition_negated: false,
                            group: vec![0],
                            condition: SptCondition::Method("INVITE".into()),
                            registration_type: vec![],
                        },
                        ServicePointTrigger {
                            condition_negated: true,
                            group: vec![0],
                            condition: SptCondition::SessionCase(
                                SessionCase::TerminatingUnregistered,
                            ),
                            registration_type: vec![],
                        },
                    ],
                }),
                application_server: ApplicationServer {
                    server_name: "sip:mmtel.ims.example".into(),
                    default_handling: DefaultHandling::SessionTerminated,
                    service_info: Some("<x/>".into()),
                    include_register_request: true,
                    include_register_response: false,
                },
                profile_part_indicator: None,
            }],
        },
    ];
    let mut s = i.to_subscription().unwrap();
    // A second IMPI sharing the office identity only, with OP instead of OPc.
    let mut p2 = s.private_identities[0].clone();
    p2.impi = Impi::parse("user900-fax@ims.example").unwrap();
    p2.k = K::from_bytes([0; 16]);
    p2.operator_key = OperatorKey::Opc(Opc::from_bytes([0xff; 16]));
    p2.auth_schemes = vec![AuthScheme::AkaV1Md5];
    p2.default_scheme = AuthScheme::AkaV1Md5;
    p2.digest = None;
    p2.sqn = SqnState::new(7, 3, 2).unwrap();
    p2.impus = vec![Impu::parse("sip:office900@ims.example").unwrap()];
    s.private_identities.push(p2);
    s.scscf = Some(ScscfAssignment {
        server_name: "sip:scscf.ims.example:6060".into(),
        origin_host: "scscf.ims.example".into(),
    });
    s.validate().unwrap();
    s
}

async fn create_and_read_back_full_tree(db: &TestDb) {
    let store = db.open().await;
    let s = rich();
    store.create_subscription(&s).await.unwrap();
    let back = store.subscription(&s.id).await.unwrap();
    assert_eq!(back, s, "read-back differs");
    // The stored kind of operator key is kept: OP stays OP is tested in update_*; here OPc stays OPc.
    assert!(matches!(
        back.private_identities[1].operator_key,
        OperatorKey::Opc(_)
    ));
    assert_eq!(
        back.private_identities[0].sqn.seq,
        0x1234 >> DEFAULT_IND_BITS
    );
    let office = Impu::parse("sip:office900@ims.example").unwrap();
    assert_eq!(back.implicit_set(&office).len(), 1);
    assert_eq!(back.implicit_set(&impu(900)).len(), 2);
    let a = store.auth_data(&impi(900)).await.unwrap();
    assert_eq!(a.default_scheme, AuthScheme::AkaV2Md5);
    assert_eq!(
        a.digest.as_ref().unwrap().ha1.expose(),
        &[0x00, 0xff].repeat(8)[..]
    );
}

async fn duplicates_are_rejected_and_nothing_is_written(db: &TestDb) {
    let store = db.open().await;
    store.create_subscription(&sub(1)).await.unwrap();

    let mut same_impi = sub(2);
    same_impi.private_identities[0].impi = impi(1);
    match store.create_subscription(&same_impi).await {
        Err(HssError::Duplicate { what: "impi", key }) => assert_eq!(key, "user1@ims.example"),
        other => panic!("expected duplicate impi, got {other:?}"),
    }
    let mut same_impu = input(3);
    same_impu
        .impus
        .push(ImpuInput::Uri("sip:user1@ims.example".into()));
    match store
        .create_subscription(&same_impu.to_subscription().unwrap())
        .await
    {
        Err(HssError::Duplicate { what: "impu", key }) => assert_eq!(key, "sip:user1@ims.example"),
        other => panic!("expected duplicate impu, got {other:?}"),
    }
    let mut same_id = sub(4);
    same_id.id = "sub1".into();
    assert!(matches!(
        store.create_subscription(&same_id).await,
        Err(HssError::Duplicate {
            what: "subscription",
            ..
        })
    ));
    // A batch with one duplicate writes nothing at all.
    let batch = vec![sub(5), sub(6), sub(1)];
    assert!(matches!(
        store.create_subscriptions(&batch).await,
        Err(HssError::Duplicate { .. })
    ));
    assert_eq!(store.count().await.unwrap(), 1);
    for n in [2, 3, 4, 5, 6] {
        assert!(
            matches!(
                store.public_identity(&impu(n)).await,
                Err(HssError::NotFound { .. })
            ),
            "user{n}"
        );
        assert!(matches!(
            store.auth_data(&impi(n)).await,
            Err(HssError::NotFound { .. })
        ));
    }
    // Invalid input writes nothing either.
    let mut bad = sub(7);
    bad.public_identities[0].service_profile = "nope".into();
    assert!(matches!(
        store.create_subscription(&bad).await,
        Err(HssError::Invalid { .. })
    ));
    assert_eq!(store.count().await.unwrap(), 1);
}

async fn resolve_list_count_delete(db: &TestDb) {
    let store = db.open().await;
    for n in 1..=5 {
        store.create_subscription(&sub(n)).await.unwrap();
    }
    assert_eq!(store.resolve("sub3").await.unwrap(), "sub3");
    assert_eq!(store.resolve("user3@ims.example").await.unwrap(), "sub3");
    assert_eq!(store.resolve("tel:+15550000003").await.unwrap(), "sub3");
    assert!(matches!(
        store.resolve("nobody").await,
        Err(HssError::NotFound { .. })
    ));
    let page = store.list(1, 2).await.unwrap();
    assert_eq!(
        page.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
        ["sub2", "sub3"]
    );
    assert_eq!(page[0].impis, ["user2@ims.example"]);
    assert_eq!(page[0].impus, ["sip:user2@ims.example", "tel:+15550000002"]);
    assert_eq!(store.count().await.unwrap(), 5);
    store.delete_subscription("sub3").await.unwrap();
    assert!(matches!(
        store.delete_subscription("sub3").await,
        Err(HssError::NotFound { .. })
    ));
    assert_eq!(store.count().await.unwrap(), 4);
    assert!(matches!(
        store.public_identity(&impu(3)).await,
        Err(HssError::NotFound { .. })
    ));
    assert!(matches!(
        store.auth_data(&impi(3)).await,
        Err(HssError::NotFound { .. })
    ));
    assert!(!store.is_associated(&impi(3), &impu(3)).await.unwrap());
    // The identities are free again.
    store.create_subscription(&sub(3)).await.unwrap();
    assert_eq!(store.subscription("sub3").await.unwrap(), sub(3));
}

async fn sqn_allocation_sequence(db: &TestDb) {
    let store = db.open().await;
    store.create_subscription(&sub(1)).await.unwrap();
    let (a, sqns) = store.allocate_sqns(&impi(1), 3).await.unwrap();
    let expected: Vec<u64> = (0..3).map(|i| ((i + 1) << 5) | i).collect();
    assert_eq!(sqns, expected);
    assert_eq!(a.sqn, SqnState::new(3, 5, 3).unwrap());
    assert_eq!(a.k, sub(1).private_identities[0].k);
    let (_, more) = store.allocate_sqns(&impi(1), 31).await.unwrap();
    // Vector 32 wraps IND to 0 with a newer SEQ.
    assert_eq!(split(*more.last().unwrap(), 5), (34, 1));
    assert_eq!(split(more[28], 5), (32, 31));
    assert_eq!(split(more[29], 5), (33, 0));
    assert!(more[29] > sqns[0], "same IND, newer SQN");
    assert_eq!(
        store.auth_data(&impi(1)).await.unwrap().sqn,
        SqnState::new(34, 5, 2).unwrap()
    );
    assert!(matches!(
        store.allocate_sqns(&impi(1), 0).await,
        Err(HssError::Invalid { .. })
    ));
    assert!(matches!(
        store.allocate_sqns(&impi(99), 1).await,
        Err(HssError::NotFound { .. })
    ));
}

async fn sqn_exhaustion_leaves_state_unchanged(db: &TestDb) {
    let store = db.open().await;
    let mut s = sub(1);
    s.private_identities[0].sqn = SqnState::new((1 << 43) - 3, 5, 4).unwrap();
    store.create_subscription(&s).await.unwrap();
    assert!(matches!(
        store.allocate_sqns(&impi(1), 3).await,
        Err(HssError::SqnExhausted { .. })
    ));
    assert_eq!(
        store.auth_data(&impi(1)).await.unwrap().sqn,
        s.private_identities[0].sqn
    );
    let (_, last) = store.allocate_sqns(&impi(1), 2).await.unwrap();
    assert_eq!(split(last[1], 5), ((1 << 43) - 1, 5));
    assert!(matches!(
        store.allocate_sqns(&impi(1), 1).await,
        Err(HssError::SqnExhausted { .. })
    ));
}

async fn resync_moves_seq_forward_only(db: &TestDb) {
    let store = db.open().await;
    store.create_subscription(&sub(1)).await.unwrap();
    store.allocate_sqns(&impi(1), 2).await.unwrap();
    // The USIM reports SQN_MS with SEQ 1000, IND 7.
    let sqn_ms = (1000 << 5) | 7;
    let st = store.resync_sqn(&impi(1), sqn_ms).await.unwrap();
    assert_eq!(st.seq, 1000);
    let (_, next) = store.allocate_sqns(&impi(1), 1).await.unwrap();
    assert!(
        next[0] > sqn_ms,
        "next SQN {} not newer than SQN_MS {sqn_ms}",
        next[0]
    );
    assert_eq!(split(next[0], 5).0, 1001);
    // An older SQN_MS does not rewind the counter.
    let st = store.resync_sqn(&impi(1), 5 << 5).await.unwrap();
    assert_eq!(st.seq, 1001);
    assert!(matches!(
        store.resync_sqn(&impi(1), 1 << 48).await,
        Err(HssError::Invalid { .. })
    ));
    assert!(matches!(
        store.resync_sqn(&impi(2), 1).await,
        Err(HssError::NotFound { .. })
    ));
}

async fn concurrent_allocation_from_two_instances_never_repeats_an_sqn(db: &TestDb) {
    let a = Arc::new(db.open().await);
    let b = Arc::new(db.open().await);
    a.create_subscription(&sub(1)).await.unwrap();
    const TASKS_PER_INSTANCE: usize = 4;
    const ROUNDS: u64 = 40;
    let mut handles = Vec::new();
    for (inst, store) in [a.clone(), b.clone()].into_iter().enumerate() {
        for t in 0..TASKS_PER_INSTANCE {
            let store = store.clone();
            handles.push(tokio::spawn(async move {
                let mut got = Vec::new();
                for r in 0..ROUNDS {
                    let n = 1 + ((r + t as u64 + inst as u64) % 3) as u32;
                    let (_, sqns) = store.allocate_sqns(&impi(1), n).await.unwrap();
                    assert_eq!(sqns.len(), n as usize);
                    got.push(sqns);
                }
                got
            }));
        }
    }
    let mut all = Vec::new();
    let mut total = 0u64;
    for h in handles {
        let batches = h.await.unwrap();
        // Within one caller, everything it receives is newer than what it received before, and
        // per IND strictly increasing.
        let flat: Vec<u64> = batches.iter().flatten().copied().collect();
        assert!(
            flat.windows(2).all(|w| w[0] < w[1]),
            "not increasing for one caller"
        );
        let mut per_ind: BTreeMap<u64, u64> = BTreeMap::new();
        for q in &flat {
            let (_, ind) = split(*q, 5);
            if let Some(prev) = per_ind.insert(ind, *q) {
                assert!(prev < *q, "IND {ind}: {q} after {prev}");
            }
        }
        total += flat.len() as u64;
        all.extend(flat);
    }
    let unique: HashSet<u64> = all.iter().copied().collect();
    assert_eq!(unique.len(), all.len(), "an SQN was handed out twice");
    // No gaps either: SEQ 1..=total each used once, with IND (SEQ-1) mod 32 (cyclic allocation).
    let mut seqs: Vec<(u64, u64)> = all.iter().map(|q| split(*q, 5)).collect();
    seqs.sort_unstable();
    for (i, (seq, ind)) in seqs.iter().enumerate() {
        assert_eq!(*seq, i as u64 + 1);
        assert_eq!(*ind, i as u64 % 32);
    }
    assert_eq!(a.auth_data(&impi(1)).await.unwrap().sqn.seq, total);
}

async fn registration_state_and_scscf_assignment(db: &TestDb) {
    let store = db.open().await;
    store.create_subscription(&sub(1)).await.unwrap();
    let r = store.public_identity(&impu(1)).await.unwrap();
    assert_eq!(r.subscription_id, "sub1");
    assert_eq!(r.identity.state, RegistrationState::NotRegistered);
    assert_eq!(r.scscf, None);
    assert!(store.is_associated(&impi(1), &impu(1)).await.unwrap());
    store.create_subscription(&sub(2)).await.unwrap();
    assert!(!store.is_associated(&impi(1), &impu(2)).await.unwrap());

    let a = ScscfAssignment {
        server_name: "sip:scscf.ims.example".into(),
        origin_host: "scscf.ims.example".into(),
    };
    store.set_scscf("sub1", Some(&a)).await.unwrap();
    let tel = Impu::parse("tel:+15550000001").unwrap();
    store
        .set_registration_state(&[impu(1), tel.clone()], RegistrationState::Registered)
        .await
        .unwrap();
    let r = store.public_identity(&tel).await.unwrap();
    assert_eq!(r.identity.state, RegistrationState::Registered);
    assert_eq!(r.scscf, Some(a));
    // One unknown identity: nothing changes.
    let ghost = Impu::parse("sip:ghost@ims.example").unwrap();
    assert!(matches!(
        store
            .set_registration_state(&[impu(1), ghost], RegistrationState::NotRegistered)
            .await,
        Err(HssError::NotFound { .. })
    ));
    assert_eq!(
        store
            .public_identity(&impu(1))
            .await
            .unwrap()
            .identity
            .state,
        RegistrationState::Registered
    );
    store
        .set_registration_state(&[impu(1)], RegistrationState::Unregistered)
        .await
        .unwrap();
    assert_eq!(
        store
            .public_identity(&impu(1))
            .await
            .unwrap()
            .identity
            .state,
        RegistrationState::Unregistered
    );
    store.set_scscf("sub1", None).await.unwrap();
    assert_eq!(store.public_identity(&impu(1)).await.unwrap().scscf, None);
    assert!(matches!(
        store.set_scscf("nope", None).await,
        Err(HssError::NotFound { .. })
    ));
}

async fn update_private_identity_validates_whole_result(db: &TestDb) {
    let store = db.open().await;
    store.create_subscription(&sub(1)).await.unwrap();
    let before = store.auth_data(&impi(1)).await.unwrap();
    // Default scheme not among allowed ones: rejected, nothing changed (not even the AMF).
    let bad = ImpiUpdate {
        amf: Some([0, 0]),
        default_scheme: Some(AuthScheme::DigestMd5),
        ..Default::default()
    };
    assert!(matches!(
        store.update_private_identity(&impi(1), &bad).await,
        Err(HssError::Invalid { .. })
    ));
    assert_eq!(store.auth_data(&impi(1)).await.unwrap(), before);
    // Switch OPc → OP and change K and AMF.
    let up = ImpiUpdate {
        k: Some(K::from_bytes([7; 16])),
        operator_key: Some(OperatorKey::Op(hss::secret::Op::from_bytes([9; 16]))),
        amf: Some([0, 1]),
        auth_schemes: Some(vec![AuthScheme::AkaV2Md5]),
        default_scheme: Some(AuthScheme::AkaV2Md5),
        ..Default::default()
    };
    store.update_private_identity(&impi(1), &up).await.unwrap();
    let after = store.auth_data(&impi(1)).await.unwrap();
    assert_eq!(after.k, K::from_bytes([7; 16]));
    assert!(matches!(&after.operator_key, OperatorKey::Op(op) if op.expose() == &[9; 16]));
    assert_eq!(after.amf, [0, 1]);
    assert_eq!(after.auth_schemes, [AuthScheme::AkaV2Md5]);
    // SQN rewind only when explicitly allowed.
    store.allocate_sqns(&impi(1), 10).await.unwrap();
    let rewind = ImpiUpdate {
        sqn: Some(SqnState::default()),
        ..Default::default()
    };
    assert!(matches!(
        store.update_private_identity(&impi(1), &rewind).await,
        Err(HssError::Invalid { .. })
    ));
    assert_eq!(store.auth_data(&impi(1)).await.unwrap().sqn.seq, 10);
    let rewind = ImpiUpdate {
        allow_sqn_rewind: true,
        ..rewind
    };
    store
        .update_private_identity(&impi(1), &rewind)
        .await
        .unwrap();
    assert_eq!(store.auth_data(&impi(1)).await.unwrap().sqn.seq, 0);
    assert!(matches!(
        store
            .update_private_identity(&impi(5), &ImpiUpdate::default())
            .await,
        Err(HssError::NotFound { .. })
    ));
}

async fn update_public_identity_and_profiles(db: &TestDb) {
    let store = db.open().await;
    store.create_subscription(&sub(1)).await.unwrap();
    let up = ImpuUpdate {
        barred: Some(true),
        irs: Some(Some("solo".into())),
        ..Default::default()
    };
    store.update_public_identity(&impu(1), &up).await.unwrap();
    let r = store.public_identity(&impu(1)).await.unwrap().identity;
    assert!(r.barred);
    assert_eq!(r.irs.as_deref(), Some("solo"));
    let to_missing = ImpuUpdate {
        service_profile: Some("gold".into()),
        ..Default::default()
    };
    assert!(matches!(
        store.update_public_identity(&impu(1), &to_missing).await,
        Err(HssError::Invalid { .. })
    ));
    let gold = ServiceProfile {
        id: "gold".into(),
        ifcs: vec![InitialFilterCriteria {
            priority: 0,
            trigger_point: None,
            application_server: ApplicationServer {
                server_name: "sip:as.ims.example".into(),
                default_handling: DefaultHandling::SessionContinued,
                service_info: None,
                include_register_request: false,
                include_register_response: false,
            },
            profile_part_indicator: None,
        }],
    };
    store.put_service_profile("sub1", &gold).await.unwrap();
    store
        .update_public_identity(&impu(1), &to_missing)
        .await
        .unwrap();
    let s = store.subscription("sub1").await.unwrap();
    assert_eq!(
        s.service_profiles.iter().find(|p| p.id == "gold"),
        Some(&gold)
    );
    assert_eq!(s.public_identities[0].service_profile, "gold");
    // Upsert replaces.
    let empty_gold = ServiceProfile {
        id: "gold".into(),
        ifcs: vec![],
    };
    store
        .put_service_profile("sub1", &empty_gold)
        .await
        .unwrap();
    let s = store.subscription("sub1").await.unwrap();
    assert_eq!(
        s.service_profiles.iter().find(|p| p.id == "gold"),
        Some(&empty_gold)
    );
    assert!(matches!(
        store.put_service_profile("nope", &gold).await,
        Err(HssError::NotFound { .. })
    ));
}

async fn capabilities_and_roaming(db: &TestDb) {
    let store = db.open().await;
    let c1 = ScscfCapabilities {
        server_name: "sip:scscf1.ims.example".into(),
        mandatory: vec![1, 2],
        optional: vec![10],
    };
    let c2 = ScscfCapabilities {
        server_name: "sip:scscf2.ims.example".into(),
        mandatory: vec![],
        optional: vec![3],
    };
    store.put_scscf_capabilities(&c2).await.unwrap();
    store.put_scscf_capabilities(&c1).await.unwrap();
    assert_eq!(
        store.scscf_capabilities().await.unwrap(),
        vec![c1.clone(), c2.clone()]
    );
    let c1b = ScscfCapabilities {
        mandatory: vec![5],
        optional: vec![],
        ..c1.clone()
    };
    store.put_scscf_capabilities(&c1b).await.unwrap();
    assert_eq!(
        store.scscf_capabilities().await.unwrap(),
        vec![c1b, c2.clone()]
    );
    store
        .delete_scscf_capabilities("sip:scscf1.ims.example")
        .await
        .unwrap();
    assert_eq!(store.scscf_capabilities().await.unwrap(), vec![c2]);

    store
        .add_roaming_agreement("ims.mnc002.mcc001.3gppnetwork.org")
        .await
        .unwrap();
    store
        .add_roaming_agreement("ims.mnc002.mcc001.3gppnetwork.org")
        .await
        .unwrap();
    store
        .add_roaming_agreement("visited.example")
        .await
        .unwrap();
    assert_eq!(
        store.roaming_agreements().await.unwrap(),
        ["ims.mnc002.mcc001.3gppnetwork.org", "visited.example"]
    );
    store
        .remove_roaming_agreement("visited.example")
        .await
        .unwrap();
    assert!(store
        .remove_roaming_agreement("visited.example")
        .await
        .is_err());
    assert!(store.add_roaming_agreement("bad network").await.is_err());
    assert_eq!(
        store.roaming_agreements().await.unwrap(),
        ["ims.mnc002.mcc001.3gppnetwork.org"]
    );
}

async fn restart_keeps_sqn_and_scscf(db: &TestDb) {
    let a = ScscfAssignment {
        server_name: "sip:scscf.ims.example".into(),
        origin_host: "scscf.ims.example".into(),
    };
    let before = {
        let store = db.open().await;
        store.create_subscription(&sub(1)).await.unwrap();
        let (_, sqns) = store.allocate_sqns(&impi(1), 5).await.unwrap();
        store.set_scscf("sub1", Some(&a)).await.unwrap();
        store
            .set_registration_state(&[impu(1)], RegistrationState::Registered)
            .await
            .unwrap();
        store.close().await;
        sqns
    };
    let store = db.open().await;
    let (_, next) = store.allocate_sqns(&impi(1), 1).await.unwrap();
    assert!(
        before.iter().all(|q| split(next[0], 5).0 > split(*q, 5).0),
        "{next:?} vs {before:?}"
    );
    let r = store.public_identity(&impu(1)).await.unwrap();
    assert_eq!(r.scscf, Some(a));
    assert_eq!(r.identity.state, RegistrationState::Registered);
}

async fn demo_provisioning_is_one_transaction(db: &TestDb) {
    let store = db.open().await;
    assert_eq!(provision_demo(&store, 1, 200).await.unwrap(), 200);
    assert_eq!(store.count().await.unwrap(), 200);
    let s = store.subscription("001010000000200").await.unwrap();
    assert_eq!(s, demo_subscription(200).unwrap());
    // Overlapping range: rejected as a whole.
    assert!(matches!(
        provision_demo(&store, 150, 100).await,
        Err(HssError::Duplicate { .. })
    ));
    assert_eq!(store.count().await.unwrap(), 200);
    assert!(store
        .resolve("001010000000201@ims.mnc001.mcc001.3gppnetwork.org")
        .await
        .is_err());
}

async fn auth_context_in_one_query(db: &TestDb) {
    let store = db.open().await;
    store.create_subscription(&sub(1)).await.unwrap();
    store.create_subscription(&sub(2)).await.unwrap();
    let a = ScscfAssignment {
        server_name: "sip:s.ims.example".into(),
        origin_host: "s.ims.example".into(),
    };
    store.set_scscf("sub1", Some(&a)).await.unwrap();
    let c = store.auth_context(&impi(1), &impu(1)).await.unwrap();
    assert!(c.associated);
    assert_eq!(c.auth.unwrap(), store.auth_data(&impi(1)).await.unwrap());
    assert_eq!(
        c.public.unwrap(),
        store.public_identity(&impu(1)).await.unwrap()
    );
    let c = store.auth_context(&impi(1), &impu(2)).await.unwrap();
    assert!(!c.associated);
    assert!(c.auth.is_some() && c.public.as_ref().map(|p| p.scscf.is_none()) == Some(true));
    let c = store.auth_context(&impi(9), &impu(1)).await.unwrap();
    assert!(c.auth.is_none() && c.public.is_some() && !c.associated);
    let c = store.auth_context(&impi(1), &impu(9)).await.unwrap();
    assert!(c.auth.is_some() && c.public.is_none() && !c.associated);
}

/// A store instance with SQN block reservation of `block` SQNs.
async fn open_blocks(db: &TestDb, block: u32, ttl: std::time::Duration) -> SqlStore {
    db.open()
        .await
        .with_sqn_blocks(SqnBlockConfig { block, ttl })
        .unwrap()
}

const LONG: std::time::Duration = std::time::Duration::from_secs(3600);

async fn sqn_blocks_never_repeat_across_restart_and_two_instances(db: &TestDb) {
    assert!(db
        .open()
        .await
        .with_sqn_blocks(SqnBlockConfig {
            block: 0,
            ttl: LONG
        })
        .is_err());
    let a = Arc::new(open_blocks(db, 8, LONG).await);
    let b = Arc::new(open_blocks(db, 8, LONG).await);
    a.create_subscription(&sub(1)).await.unwrap();
    // The first allocation reserves a whole block: the persisted SEQ is the block's high-water mark.
    let (_, first) = a.allocate_sqns(&impi(1), 3).await.unwrap();
    assert_eq!(
        first.iter().map(|q| split(*q, 5).0).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert_eq!(
        db.open().await.auth_data(&impi(1)).await.unwrap().sqn.seq,
        8
    );
    // The second instance reserves the next, disjoint block.
    let (_, second) = b.allocate_sqns(&impi(1), 2).await.unwrap();
    assert_eq!(
        second.iter().map(|q| split(*q, 5).0).collect::<Vec<_>>(),
        [9, 10]
    );
    // A serves from memory (no database change).
    let (_, more) = a.allocate_sqns(&impi(1), 2).await.unwrap();
    assert_eq!(
        more.iter().map(|q| split(*q, 5).0).collect::<Vec<_>>(),
        [4, 5]
    );
    assert_eq!(
        db.open().await.auth_data(&impi(1)).await.unwrap().sqn.seq,
        16
    );
    // Concurrent MARs on both instances: every SQN unique, each caller's increasing.
    let mut handles = Vec::new();
    for (inst, store) in [a.clone(), b.clone()].into_iter().enumerate() {
        for t in 0..4u64 {
            let store = store.clone();
            handles.push(tokio::spawn(async move {
                let mut got = Vec::new();
                for r in 0..30u64 {
                    let n = 1 + ((r + t + inst as u64) % 3) as u32;
                    let (_, sqns) = store.allocate_sqns(&impi(1), n).await.unwrap();
                    assert_eq!(sqns.len(), n as usize);
                    got.extend(sqns);
                }
                got
            }));
        }
    }
    let mut all: Vec<u64> = first.iter().chain(&second).chain(&more).copied().collect();
    for h in handles {
        let got = h.await.unwrap();
        assert!(
            got.windows(2).all(|w| w[0] < w[1]),
            "not increasing for one caller"
        );
        all.extend(got);
    }
    let unique: HashSet<u64> = all.iter().copied().collect();
    assert_eq!(unique.len(), all.len(), "an SQN was handed out twice");
    // Restart both instances: the next SQN is above everything handed out, although the rest of
    // their blocks was never used (skipped, not reused).
    let max_seq = all.iter().map(|q| split(*q, 5).0).max().unwrap();
    a.close().await;
    b.close().await;
    drop((a, b));
    let a2 = open_blocks(db, 8, LONG).await;
    let b2 = open_blocks(db, 8, LONG).await;
    let (_, x) = a2.allocate_sqns(&impi(1), 1).await.unwrap();
    let (_, y) = b2.allocate_sqns(&impi(1), 1).await.unwrap();
    for q in [x[0], y[0]] {
        assert!(
            split(q, 5).0 > max_seq,
            "{q} not above SEQ {max_seq} after restart"
        );
        assert!(!unique.contains(&q));
    }
    assert_ne!(x[0], y[0]);
    // A request larger than the block gets its own reservation of that size.
    let (_, big) = a2.allocate_sqns(&impi(1), 20).await.unwrap();
    assert_eq!(big.len(), 20);
    assert!(big
        .windows(2)
        .all(|w| split(w[0], 5).0 + 1 == split(w[1], 5).0));
    assert!(split(big[0], 5).0 > split(y[0], 5).0.max(split(x[0], 5).0));
}

async fn sqn_blocks_resync_drops_the_block(db: &TestDb) {
    let store = open_blocks(db, 32, LONG).await;
    store.create_subscription(&sub(1)).await.unwrap();
    let (_, first) = store.allocate_sqns(&impi(1), 1).await.unwrap();
    assert_eq!(split(first[0], 5).0, 1);
    // The USIM has seen SEQ 5 (inside the reserved block 1..=32, so the database SEQ does not
    // move): the next vector must still be newer than SQN_MS, i.e. not SEQ 2 from the block.
    let sqn_ms = (5 << 5) | 3;
    let st = store.resync_sqn(&impi(1), sqn_ms).await.unwrap();
    assert_eq!(st.seq, 32);
    let (_, next) = store.allocate_sqns(&impi(1), 1).await.unwrap();
    assert!(
        next[0] > sqn_ms,
        "next SQN {} not newer than SQN_MS {sqn_ms}",
        next[0]
    );
    assert_eq!(split(next[0], 5).0, 33);
    // SQN_MS beyond the reserved mark: SEQ moves there and the next vector is above it.
    let sqn_ms = (1000 << 5) | 7;
    store.resync_sqn(&impi(1), sqn_ms).await.unwrap();
    let (_, next) = store.allocate_sqns(&impi(1), 2).await.unwrap();
    assert!(next.iter().all(|q| *q > sqn_ms), "{next:?} vs {sqn_ms}");
    assert_eq!(split(next[0], 5).0, 1001);
}

async fn sqn_blocks_credentials_follow_updates_and_ttl(db: &TestDb) {
    let store = open_blocks(db, 16, LONG).await;
    store.create_subscription(&sub(1)).await.unwrap();
    let (a0, _) = store.allocate_sqns(&impi(1), 1).await.unwrap();
    assert_eq!(a0.k, sub(1).private_identities[0].k);
    // A change through this instance is seen at once (block and credentials dropped).
    let up = ImpiUpdate {
        k: Some(K::from_bytes([7; 16])),
        ..Default::default()
    };
    store.update_private_identity(&impi(1), &up).await.unwrap();
    let (a1, s1) = store.allocate_sqns(&impi(1), 1).await.unwrap();
    assert_eq!(a1.k, K::from_bytes([7; 16]));
    assert_eq!(split(s1[0], 5).0, 17, "new block after the update");
    // A change by another writer is seen once the block expires (TTL 0: every call reserves).
    let other = db.open().await;
    let short = open_blocks(db, 4, std::time::Duration::ZERO).await;
    let (_, p) = short.allocate_sqns(&impi(1), 1).await.unwrap();
    let up = ImpiUpdate {
        k: Some(K::from_bytes([8; 16])),
        ..Default::default()
    };
    other.update_private_identity(&impi(1), &up).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    let (a2, q) = short.allocate_sqns(&impi(1), 1).await.unwrap();
    assert_eq!(a2.k, K::from_bytes([8; 16]));
    assert_eq!(
        split(q[0], 5).0,
        split(p[0], 5).0 + 4,
        "expired block skipped"
    );
    // The long-lived instance still serves its block (bounded by its TTL) with unique SQNs.
    let (_, r) = store.allocate_sqns(&impi(1), 1).await.unwrap();
    assert!(![s1[0], p[0], q[0]].contains(&r[0]));
}

/// With SQN blocks the MAR/UAR context is served from memory: every write through the same store
/// is seen at once, a write by another instance once the TTL has passed.
async fn sqn_blocks_context_cache_follows_writes_and_ttl(db: &TestDb) {
    let store = open_blocks(db, 16, LONG).await;
    store.create_subscription(&sub(1)).await.unwrap();
    let u = Impu::parse("sip:user1@ims.example").unwrap();
    let ctx = || {
        let store = store.clone();
        let u = u.clone();
        async move {
            let c = store.auth_context(&impi(1), &u).await.unwrap();
            assert!(c.associated);
            let p = c.public.unwrap();
            (
                p.identity.state,
                p.scscf.map(|s| s.server_name),
                c.auth.unwrap().amf,
            )
        }
    };
    assert_eq!(
        ctx().await,
        (RegistrationState::NotRegistered, None, [0x80, 0])
    );
    store
        .set_registration_state(std::slice::from_ref(&u), RegistrationState::Registered)
        .await
        .unwrap();
    assert_eq!(ctx().await.0, RegistrationState::Registered);
    let a = ScscfAssignment {
        server_name: "sip:s.ims.example".into(),
        origin_host: "s.ims.example".into(),
    };
    store.set_scscf("sub1", Some(&a)).await.unwrap();
    assert_eq!(ctx().await.1.as_deref(), Some("sip:s.ims.example"));
    let up = ImpiUpdate {
        amf: Some([0x12, 0x34]),
        ..Default::default()
    };
    store.update_private_identity(&impi(1), &up).await.unwrap();
    assert_eq!(ctx().await.2, [0x12, 0x34]);
    // Deleted: no stale context.
    store.delete_subscription("sub1").await.unwrap();
    let c = store.auth_context(&impi(1), &u).await.unwrap();
    assert!(c.public.is_none() && c.auth.is_none());

    // Another instance's write: seen after the TTL.
    store.create_subscription(&sub(1)).await.unwrap();
    let ttl = std::time::Duration::from_millis(300);
    let cached = open_blocks(db, 16, ttl).await;
    let other = db.open().await;
    let state = || {
        let cached = cached.clone();
        let u = u.clone();
        async move {
            cached
                .auth_context(&impi(1), &u)
                .await
                .unwrap()
                .public
                .unwrap()
                .identity
                .state
        }
    };
    assert_eq!(state().await, RegistrationState::NotRegistered);
    other
        .set_registration_state(std::slice::from_ref(&u), RegistrationState::Registered)
        .await
        .unwrap();
    assert_eq!(state().await, RegistrationState::NotRegistered, "cached");
    tokio::time::sleep(ttl + std::time::Duration::from_millis(50)).await;
    assert_eq!(
        state().await,
        RegistrationState::Registered,
        "after the TTL"
    );
}
