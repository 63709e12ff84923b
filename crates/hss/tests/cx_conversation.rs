//! Cx conversations (TS 29.228 §6) with the HSS over real Diameter/TCP on loopback: our
//! `diameter::Node` as the I-CSCF/S-CSCF client, [`hss::cx_server::CxServer`] on a `Node` as the
//! HSS, the SQLite and the PostgreSQL store behind it. Every answer code of UAR, MAR, SAR and LIR
//! that the server produces is asserted here; AKA vectors are checked with the `aka` crate's USIM.

mod common;

use std::sync::Arc;
use std::time::Duration;

use aka::sqn::{SqnConfig, UeSqnState};
use aka::usim::{authenticate, UsimOutcome};
use aka::{Autn, Milenage, Rand};
use bytes::Bytes;
use common::TestDb;
use cx::enums::{ServerAssignmentType as T, UserAuthorizationType as U, UserDataAlreadyAvailable};
use cx::result::{base, ExperimentalResultCode as X};
use cx::{
    CxMessage, CxResult, ImsSubscription, LocationInfoAnswer, LocationInfoRequest,
    MultimediaAuthAnswer, MultimediaAuthRequest, RequestCommon, SecretBytes,
    ServerAssignmentAnswer, ServerAssignmentRequest, SipAuthDataItem, UserAuthorizationAnswer,
    UserAuthorizationRequest,
};
use diameter::{AppId, EngineConfig, LocalIdentity, Message, Node, NodeConfig, PeerConfig, Timers};
use hss::cx_server::{CxServer, CxServerConfig};
use hss::model::{
    ApplicationServer, CapabilitySet, DefaultHandling, Impi, InitialFilterCriteria,
    RegistrationState, ScscfCapabilities, ServiceProfile,
};
use hss::provision::{ImpuInput, SubscriberInput};
use hss::{SqlStore, SubscriberStore};

const K: &str = "465b5ce8b199b49faa5f0a2ee238a6bc";
const OP: &str = "cdc202d5123e20f62b6d676ac72cb318";
const HA1: &str = "0123456789abcdef0123456789abcdef";
const SCSCF: &str = "sip:scscf.ims.example:6060";
const T10: Duration = Duration::from_secs(10);

on_both_backends!(
    uar_result_codes,
    mar_vectors_schemes_and_resync,
    sar_and_lir_state_machine,
    store_failure_answers_unable_to_comply,
    two_hss_instances_concurrent_mars_unique_sqns,
    restart_next_sqn_newer_and_assignment_kept,
    mar_resync_with_sqn_blocks,
    uar_server_capabilities_from_capability_sets,
    sar_each_assignment_type,
);

fn node_cfg(host: &str, listen: bool, peers: Vec<PeerConfig>) -> NodeConfig {
    NodeConfig {
        listen: listen.then(|| std::net::SocketAddr::from(([127, 0, 0, 1], 0))),
        engine: EngineConfig {
            local: LocalIdentity {
                origin_host: host.into(),
                origin_realm: "ims.example".into(),
                host_ip_addresses: vec!["127.0.0.1".parse().unwrap()],
                applications: vec![AppId::vendor_auth(10415, cx::dictionary::CX_APPLICATION_ID)],
                supported_vendor_ids: vec![10415],
                ..LocalIdentity::default()
            },
            peers,
            dictionary: cx::dictionary::dictionary(),
            timers: Timers {
                reconnect_min: Duration::from_millis(100),
                ..Timers::default()
            },
            request_timeout: Duration::from_secs(5),
            ..EngineConfig::default()
        },
        ..NodeConfig::default()
    }
}

struct Net {
    hss: Node,
    client: Node,
}

impl Net {
    async fn start(store: Arc<dyn SubscriberStore>, hss_host: &str) -> Net {
        let server = Arc::new(CxServer::new(
            store,
            CxServerConfig {
                origin_host: hss_host.into(),
                origin_realm: "ims.example".into(),
                home_networks: vec!["ims.example".into()],
            },
        ));
        let hss = server
            .start(node_cfg(hss_host, true, vec![]))
            .await
            .unwrap();
        let peers = vec![PeerConfig {
            host: hss_host.into(),
            addr: hss.local_addr(),
            connect: true,
        }];
        let client = Node::start(
            node_cfg("scscf.ims.example", false, peers),
            |req: Message| async move { req.answer() },
        )
        .await
        .unwrap();
        client.wait_open(hss_host, T10).await.unwrap();
        Net { hss, client }
    }

    async fn ask(&self, m: Message) -> Message {
        self.client.request(m).await.unwrap()
    }

    async fn stop(self) {
        self.client.shutdown().await;
        self.hss.shutdown().await;
    }
}

fn common() -> RequestCommon {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    RequestCommon::new(
        format!("scscf.ims.example;1;{n}"),
        "scscf.ims.example",
        "ims.example",
        "ims.example",
    )
}

async fn uar(net: &Net, impi: &str, impu: &str, visited: &str, t: U) -> UserAuthorizationAnswer {
    let r = UserAuthorizationRequest {
        common: common(),
        user_name: impi.into(),
        public_identity: impu.into(),
        visited_network_identifier: Bytes::from(visited.to_string()),
        user_authorization_type: Some(t),
        uar_flags: None,
    };
    UserAuthorizationAnswer::from_message(&net.ask(r.to_message()).await).unwrap()
}

async fn mar(
    net: &Net,
    impi: &str,
    impu: &str,
    scheme: &str,
    n: u32,
    authz: Option<Vec<u8>>,
) -> MultimediaAuthAnswer {
    let r = MultimediaAuthRequest {
        common: common(),
        user_name: impi.into(),
        public_identity: impu.into(),
        sip_auth_data_item: SipAuthDataItem {
            authentication_scheme: Some(scheme.into()),
            authorization: authz.map(SecretBytes::new),
            ..Default::default()
        },
        sip_number_auth_items: n,
        server_name: SCSCF.into(),
    };
    MultimediaAuthAnswer::from_message(&net.ask(r.to_message()).await).unwrap()
}

async fn sar(
    net: &Net,
    impi: Option<&str>,
    impus: &[&str],
    server: &str,
    t: T,
) -> ServerAssignmentAnswer {
    let r = ServerAssignmentRequest {
        common: common(),
        user_name: impi.map(String::from),
        public_identities: impus.iter().map(|s| s.to_string()).collect(),
        wildcarded_public_identity: None,
        wildcarded_impu: None,
        server_name: server.into(),
        server_assignment_type: t,
        user_data_already_available: UserDataAlreadyAvailable::UserDataNotAvailable,
        multiple_registration_indication: None,
        session_priority: None,
        sar_flags: None,
    };
    ServerAssignmentAnswer::from_message(&net.ask(r.to_message()).await).unwrap()
}

async fn lir(net: &Net, impu: &str) -> LocationInfoAnswer {
    let r = LocationInfoRequest {
        common: common(),
        originating_request: None,
        public_identity: impu.into(),
        user_authorization_type: None,
        session_priority: None,
    };
    LocationInfoAnswer::from_message(&net.ask(r.to_message()).await).unwrap()
}

fn x(c: X) -> CxResult {
    CxResult::experimental(c)
}

fn rc(c: u32) -> CxResult {
    CxResult::ResultCode(c)
}

/// alice: AKAv1 + Digest, IMPUs sip+tel in one implicit set and a barred one alone;
/// bob: AKAv1 only; carol: a profile with an iFC for the unregistered case.
async fn provision(store: &SqlStore) {
    let mut a = SubscriberInput::default();
    a.impi = "alice@ims.example".into();
    a.impus = vec![
        ImpuInput::Uri("sip:alice@ims.example".into()),
        ImpuInput::Uri("tel:+15550001".into()),
        ImpuInput::Full {
            uri: "sip:alice-barred@ims.example".into(),
            barred: true,
            irs: Some("barred".into()),
            can_register: None,
            service_profile: None,
        },
    ];
    a.k = K.into();
    a.op = Some(OP.into());
    a.auth_schemes = Some(vec!["AKAv1-MD5".into(), "Digest-MD5".into()]);
    a.digest_realm = Some("ims.example".into());
    a.digest_ha1 = Some(HA1.into());
    store
        .create_subscription(&a.to_subscription().unwrap())
        .await
        .unwrap();
    for (name, unreg) in [("bob", false), ("carol", true)] {
        let mut b = SubscriberInput::default();
        b.impi = format!("{name}@ims.example");
        b.impus = vec![ImpuInput::Uri(format!("sip:{name}@ims.example"))];
        b.k = K.into();
        b.opc = Some(OP.into());
        if unreg {
            b.service_profiles = vec![ServiceProfile {
                id: "vm".into(),
                ifcs: vec![InitialFilterCriteria {
                    priority: 0,
                    trigger_point: None,
                    application_server: ApplicationServer {
                        server_name: "sip:voicemail.ims.example".into(),
                        default_handling: DefaultHandling::SessionContinued,
                        service_info: None,
                        include_register_request: false,
                        include_register_response: false,
                    },
                    profile_part_indicator: None,
                }],
            }];
        }
        store
            .create_subscription(&b.to_subscription().unwrap())
            .await
            .unwrap();
    }
    store
        .put_scscf_capabilities(&ScscfCapabilities {
            server_name: SCSCF.into(),
            mandatory: vec![1],
            optional: vec![2],
        })
        .await
        .unwrap();
    store
        .add_roaming_agreement("visited.example")
        .await
        .unwrap();
}

fn alice_milenage() -> Milenage {
    Milenage::with_op(
        &aka::K::from_hex(K).unwrap(),
        &aka::Op::from_hex(OP).unwrap(),
    )
}

fn split_authenticate(item: &SipAuthDataItem) -> (Rand, Autn) {
    let a = item.authenticate.as_ref().expect("SIP-Authenticate");
    assert_eq!(a.len(), 32);
    (
        Rand::from_slice(&a[..16]).unwrap(),
        Autn::from_slice(&a[16..]).unwrap(),
    )
}

/// SQN carried in a vector: AUTN's SQN⊕AK with AK from f5.
fn sqn_of(m: &Milenage, item: &SipAuthDataItem) -> u64 {
    let (rand, autn) = split_authenticate(item);
    let (_, _, _, ak) = m.f2345(&rand);
    let c = autn.sqn_xor_ak();
    let mut b = [0u8; 8];
    for i in 0..6 {
        b[i + 2] = c[i] ^ ak.0[i];
    }
    u64::from_be_bytes(b)
}

async fn uar_result_codes(db: &TestDb) {
    let store = db.open().await;
    provision(&store).await;
    let net = Net::start(Arc::new(store.clone()), "hss.ims.example").await;
    let alice = "alice@ims.example";
    let home = "ims.example";

    assert_eq!(
        uar(&net, alice, "sip:nobody@ims.example", home, U::Registration)
            .await
            .common
            .result,
        x(X::ErrorUserUnknown)
    );
    assert_eq!(
        uar(
            &net,
            "nobody@ims.example",
            "sip:alice@ims.example",
            home,
            U::Registration
        )
        .await
        .common
        .result,
        x(X::ErrorUserUnknown)
    );
    assert_eq!(
        uar(&net, alice, "sip:bob@ims.example", home, U::Registration)
            .await
            .common
            .result,
        x(X::ErrorIdentitiesDontMatch)
    );
    assert_eq!(
        uar(
            &net,
            alice,
            "sip:alice@ims.example",
            "other.example",
            U::Registration
        )
        .await
        .common
        .result,
        x(X::ErrorRoamingNotAllowed)
    );
    assert_eq!(
        uar(
            &net,
            alice,
            "sip:alice-barred@ims.example",
            home,
            U::Registration
        )
        .await
        .common
        .result,
        rc(base::DIAMETER_AUTHORIZATION_REJECTED)
    );

    let a = uar(
        &net,
        alice,
        "sip:alice@ims.example",
        "visited.example",
        U::Registration,
    )
    .await;
    assert_eq!(a.common.result, x(X::FirstRegistration));
    assert_eq!(a.server_name, None);
    let caps = a.server_capabilities.expect("Server-Capabilities");
    assert_eq!(caps.mandatory_capabilities, [1]);
    assert_eq!(caps.optional_capabilities, [2]);
    assert_eq!(caps.server_names, [SCSCF]);

    let a = uar(
        &net,
        alice,
        "tel:+15550001",
        home,
        U::RegistrationAndCapabilities,
    )
    .await;
    assert_eq!(a.common.result, CxResult::SUCCESS);
    assert!(a.server_capabilities.is_some());
    assert_eq!(
        uar(
            &net,
            alice,
            "sip:alice@ims.example",
            home,
            U::DeRegistration
        )
        .await
        .common
        .result,
        x(X::ErrorIdentityNotRegistered)
    );

    // After MAR (S-CSCF stored, authentication pending): FIRST_REGISTRATION with Server-Name.
    assert_eq!(
        mar(&net, alice, "sip:alice@ims.example", "Unknown", 1, None)
            .await
            .common
            .result,
        CxResult::SUCCESS
    );
    let a = uar(&net, alice, "sip:alice@ims.example", home, U::Registration).await;
    assert_eq!(
        (a.common.result, a.server_name.as_deref()),
        (x(X::FirstRegistration), Some(SCSCF))
    );
    // After SAR: SUBSEQUENT_REGISTRATION; de-registration query returns the name.
    assert_eq!(
        sar(
            &net,
            Some(alice),
            &["sip:alice@ims.example"],
            SCSCF,
            T::Registration
        )
        .await
        .common
        .result,
        CxResult::SUCCESS
    );
    let a = uar(&net, alice, "sip:alice@ims.example", home, U::Registration).await;
    assert_eq!(
        (a.common.result, a.server_name.as_deref()),
        (x(X::SubsequentRegistration), Some(SCSCF))
    );
    let a = uar(
        &net,
        alice,
        "sip:alice@ims.example",
        "other.example",
        U::DeRegistration,
    )
    .await;
    assert_eq!(
        (a.common.result, a.server_name.as_deref()),
        (CxResult::SUCCESS, Some(SCSCF)),
        "de-registration skips the roaming check"
    );
    // Answers carry our identity and the request's session.
    let raw = net
        .ask(
            UserAuthorizationRequest {
                common: RequestCommon::new(
                    "s;9;9",
                    "scscf.ims.example",
                    "ims.example",
                    "ims.example",
                ),
                user_name: alice.into(),
                public_identity: "sip:alice@ims.example".into(),
                visited_network_identifier: Bytes::from_static(b"ims.example"),
                user_authorization_type: None,
                uar_flags: None,
            }
            .to_message(),
        )
        .await;
    assert_eq!(raw.origin_host(), Some("hss.ims.example"));
    assert_eq!(raw.session_id(), Some("s;9;9"));
    net.stop().await;
}

async fn mar_vectors_schemes_and_resync(db: &TestDb) {
    let store = db.open().await;
    provision(&store).await;
    let net = Net::start(Arc::new(store.clone()), "hss.ims.example").await;
    let (alice, alice_u) = ("alice@ims.example", "sip:alice@ims.example");
    let m = alice_milenage();
    let cfg = SqnConfig::default();
    let mut usim = UeSqnState::new(&cfg).unwrap();

    assert_eq!(
        mar(&net, "x@ims.example", alice_u, "Unknown", 1, None)
            .await
            .common
            .result,
        x(X::ErrorUserUnknown)
    );
    assert_eq!(
        mar(&net, alice, "sip:bob@ims.example", "Unknown", 1, None)
            .await
            .common
            .result,
        x(X::ErrorIdentitiesDontMatch)
    );
    assert_eq!(
        mar(
            &net,
            "bob@ims.example",
            "sip:bob@ims.example",
            "SIP Digest",
            1,
            None
        )
        .await
        .common
        .result,
        x(X::ErrorAuthSchemeNotSupported)
    );
    assert_eq!(
        mar(&net, alice, alice_u, "Digest-AKAv2-MD5", 1, None)
            .await
            .common
            .result,
        x(X::ErrorAuthSchemeNotSupported)
    );
    assert_eq!(
        mar(&net, alice, alice_u, "NASS-Bundled", 1, None)
            .await
            .common
            .result,
        x(X::ErrorAuthSchemeNotSupported)
    );

    // Three vectors, each with its own SQN, all accepted by the USIM, RES = XRES.
    let a = mar(&net, alice, alice_u, "Unknown", 3, None).await;
    assert_eq!(a.common.result, CxResult::SUCCESS);
    assert_eq!(a.sip_number_auth_items, Some(3));
    assert_eq!(a.sip_auth_data_items.len(), 3);
    let mut sqns = Vec::new();
    for (i, item) in a.sip_auth_data_items.iter().enumerate() {
        assert_eq!(item.item_number, Some(i as u32 + 1));
        assert_eq!(
            item.authentication_scheme.as_deref(),
            Some("Digest-AKAv1-MD5")
        );
        let (rand, autn) = split_authenticate(item);
        assert_eq!(autn.amf().0, [0x80, 0x00]);
        match authenticate(&m, &cfg, &mut usim, &rand, &autn, None).unwrap() {
            UsimOutcome::Success { res, ck, ik, sqn } => {
                assert_eq!(item.authorization.as_ref().unwrap().expose(), res.expose());
                assert_eq!(
                    item.confidentiality_key.as_ref().unwrap().expose(),
                    ck.expose()
                );
                assert_eq!(item.integrity_key.as_ref().unwrap().expose(), ik.expose());
                sqns.push(sqn.value());
            }
            other => panic!("vector {i} rejected: {other:?}"),
        }
    }
    assert!(sqns.windows(2).all(|w| w[0] < w[1]), "{sqns:?}");
    // A huge SIP-Number-Auth-Items is capped.
    assert_eq!(
        mar(&net, alice, alice_u, "Digest-AKAv1-MD5", 1000, None)
            .await
            .sip_auth_data_items
            .len(),
        16
    );

    // SIP Digest: HA1 from the store, nothing else.
    let a = mar(&net, alice, alice_u, "SIP Digest", 1, None).await;
    assert_eq!(a.common.result, CxResult::SUCCESS);
    let d = a.sip_auth_data_items[0]
        .digest_authenticate
        .as_ref()
        .expect("SIP-Digest-Authenticate");
    assert_eq!(d.realm, "ims.example");
    assert_eq!(d.ha1.expose(), HA1.as_bytes());
    assert!(a.sip_auth_data_items[0].authenticate.is_none());

    // Resynchronisation: a USIM that has seen SEQ 5000 in every IND slot (e.g. served by another
    // HSS) rejects the next vector with AUTS.
    let mut usim2 = UeSqnState::new(&cfg).unwrap();
    for ind in 0..32 {
        usim2.accept(aka::Sqn::from_parts(5000, ind, 5).unwrap());
    }
    let a = mar(&net, alice, alice_u, "Unknown", 1, None).await;
    let (rand, autn) = split_authenticate(&a.sip_auth_data_items[0]);
    let auts = match authenticate(&m, &cfg, &mut usim2, &rand, &autn, None).unwrap() {
        UsimOutcome::SyncFailure { auts, .. } => auts,
        other => panic!("expected a sync failure, got {other:?}"),
    };
    let impi = Impi::parse(alice).unwrap();
    // A forged AUTS (MAC-S wrong) is rejected and changes nothing.
    let before = store.auth_data(&impi).await.unwrap().sqn;
    let mut forged = [rand.0.as_slice(), auts.0.as_slice()].concat();
    forged[29] ^= 1;
    let bad = mar(&net, alice, alice_u, "Unknown", 1, Some(forged)).await;
    assert_eq!(
        bad.common.result,
        rc(base::DIAMETER_AUTHENTICATION_REJECTED)
    );
    assert!(bad.sip_auth_data_items.is_empty());
    assert_eq!(store.auth_data(&impi).await.unwrap().sqn, before);
    let short = mar(&net, alice, alice_u, "Unknown", 1, Some(vec![0; 29])).await;
    assert_eq!(
        short.common.result,
        rc(base::DIAMETER_AUTHENTICATION_REJECTED)
    );
    // The genuine AUTS resynchronises: the fresh vector is accepted by that USIM.
    let good = mar(
        &net,
        alice,
        alice_u,
        "Unknown",
        2,
        Some([rand.0.as_slice(), auts.0.as_slice()].concat()),
    )
    .await;
    assert_eq!(good.common.result, CxResult::SUCCESS);
    for item in &good.sip_auth_data_items {
        let (rand, autn) = split_authenticate(item);
        assert!(
            matches!(
                authenticate(&m, &cfg, &mut usim2, &rand, &autn, None).unwrap(),
                UsimOutcome::Success { .. }
            ),
            "vector after resync rejected"
        );
        assert!(sqn_of(&m, item) >> 5 > 5000);
    }
    net.stop().await;
}

async fn sar_and_lir_state_machine(db: &TestDb) {
    let store = db.open().await;
    provision(&store).await;
    let net = Net::start(Arc::new(store.clone()), "hss.ims.example").await;
    let (alice, alice_u) = ("alice@ims.example", "sip:alice@ims.example");
    let state = |u: &'static str| {
        let store = store.clone();
        async move {
            store
                .public_identity(&hss::model::Impu::parse(u).unwrap())
                .await
                .unwrap()
        }
    };

    assert_eq!(
        sar(
            &net,
            Some(alice),
            &["sip:ghost@ims.example"],
            SCSCF,
            T::Registration
        )
        .await
        .common
        .result,
        x(X::ErrorUserUnknown)
    );
    assert_eq!(
        sar(
            &net,
            Some(alice),
            &["sip:bob@ims.example"],
            SCSCF,
            T::Registration
        )
        .await
        .common
        .result,
        x(X::ErrorIdentitiesDontMatch)
    );
    assert_eq!(
        sar(&net, Some(alice), &[alice_u], SCSCF, T::Restoration)
            .await
            .common
            .result,
        x(X::ErrorInAssignmentType)
    );
    assert_eq!(
        lir(&net, "sip:ghost@ims.example").await.common.result,
        x(X::ErrorUserUnknown)
    );
    assert_eq!(
        lir(&net, alice_u).await.common.result,
        x(X::ErrorIdentityNotRegistered)
    );

    // REGISTRATION: the implicit set is registered, User-Data lists it (not the barred identity).
    let a = sar(&net, Some(alice), &[alice_u], SCSCF, T::Registration).await;
    assert_eq!(a.common.result, CxResult::SUCCESS);
    assert_eq!(a.user_name.as_deref(), Some(alice));
    let doc: ImsSubscription = a.user_data().unwrap().expect("User-Data");
    assert_eq!(doc.private_id, alice);
    let ids: Vec<&str> = doc
        .service_profiles
        .iter()
        .flat_map(|p| p.public_identities.iter().map(|i| i.identity.as_str()))
        .collect();
    assert_eq!(ids, [alice_u, "tel:+15550001"]);
    // Well-formed: it parses back and round-trips.
    assert_eq!(
        ImsSubscription::from_xml(doc.to_xml().unwrap().as_bytes()).unwrap(),
        doc
    );
    assert_eq!(
        state("tel:+15550001").await.identity.state,
        RegistrationState::Registered
    );
    assert_eq!(
        state("sip:alice-barred@ims.example").await.identity.state,
        RegistrationState::NotRegistered
    );
    let r = state(alice_u).await;
    assert_eq!(
        r.scscf.as_ref().map(|s| s.origin_host.as_str()),
        Some("scscf.ims.example")
    );

    let a = lir(&net, "tel:+15550001").await;
    assert_eq!(
        (a.common.result, a.server_name.as_deref()),
        (CxResult::SUCCESS, Some(SCSCF))
    );

    // RE_REGISTRATION keeps it; NO_ASSIGNMENT only for the assigned S-CSCF.
    assert_eq!(
        sar(&net, Some(alice), &[alice_u], SCSCF, T::ReRegistration)
            .await
            .common
            .result,
        CxResult::SUCCESS
    );
    let a = sar(&net, Some(alice), &[alice_u], SCSCF, T::NoAssignment).await;
    assert_eq!(a.common.result, CxResult::SUCCESS);
    assert!(a.user_data().unwrap().is_some());
    assert_eq!(
        sar(
            &net,
            Some(alice),
            &[alice_u],
            "sip:other-scscf.ims.example",
            T::NoAssignment
        )
        .await
        .common
        .result,
        rc(base::DIAMETER_UNABLE_TO_COMPLY)
    );

    // USER_DEREGISTRATION: not registered, name cleared → LIR says not registered.
    assert_eq!(
        sar(&net, Some(alice), &[alice_u], SCSCF, T::UserDeregistration)
            .await
            .common
            .result,
        CxResult::SUCCESS
    );
    let r = state("tel:+15550001").await;
    assert_eq!(
        (r.identity.state, r.scscf),
        (RegistrationState::NotRegistered, None)
    );
    assert_eq!(
        lir(&net, alice_u).await.common.result,
        x(X::ErrorIdentityNotRegistered)
    );

    // TIMEOUT_DEREGISTRATION_STORE_SERVER_NAME keeps the name.
    sar(&net, Some(alice), &[alice_u], SCSCF, T::Registration).await;
    assert_eq!(
        sar(
            &net,
            None,
            &[alice_u],
            SCSCF,
            T::TimeoutDeregistrationStoreServerName
        )
        .await
        .common
        .result,
        CxResult::SUCCESS
    );
    let r = state(alice_u).await;
    assert_eq!(r.identity.state, RegistrationState::Unregistered);
    assert_eq!(r.scscf.map(|s| s.server_name), Some(SCSCF.to_string()));
    // …and ADMINISTRATIVE_DEREGISTRATION by User-Name only clears everything.
    sar(&net, Some(alice), &[alice_u], SCSCF, T::Registration).await;
    assert_eq!(
        sar(
            &net,
            Some(alice),
            &[],
            SCSCF,
            T::AdministrativeDeregistration
        )
        .await
        .common
        .result,
        CxResult::SUCCESS
    );
    assert_eq!(state(alice_u).await.scscf, None);
    for t in [T::TimeoutDeregistration, T::DeregistrationTooMuchData] {
        sar(&net, Some(alice), &[alice_u], SCSCF, T::Registration).await;
        assert_eq!(
            sar(&net, Some(alice), &[alice_u], SCSCF, t)
                .await
                .common
                .result,
            CxResult::SUCCESS
        );
        assert_eq!(
            state(alice_u).await.identity.state,
            RegistrationState::NotRegistered,
            "{t:?}"
        );
    }

    // AUTHENTICATION_FAILURE after a MAR withdraws the pending assignment.
    mar(&net, alice, alice_u, "Unknown", 1, None).await;
    assert!(state(alice_u).await.scscf.is_some());
    assert_eq!(
        sar(
            &net,
            Some(alice),
            &[alice_u],
            SCSCF,
            T::AuthenticationFailure
        )
        .await
        .common
        .result,
        CxResult::SUCCESS
    );
    assert_eq!(state(alice_u).await.scscf, None);
    mar(&net, alice, alice_u, "Unknown", 1, None).await;
    sar(
        &net,
        Some(alice),
        &[alice_u],
        SCSCF,
        T::AuthenticationTimeout,
    )
    .await;
    assert_eq!(state(alice_u).await.scscf, None);

    // carol has services for the unregistered case.
    let a = lir(&net, "sip:carol@ims.example").await;
    assert_eq!(a.common.result, x(X::UnregisteredService));
    assert_eq!(
        a.server_capabilities.map(|c| c.server_names),
        Some(vec![SCSCF.to_string()])
    );
    let a = sar(
        &net,
        None,
        &["sip:carol@ims.example"],
        SCSCF,
        T::UnregisteredUser,
    )
    .await;
    assert_eq!(a.common.result, CxResult::SUCCESS);
    let doc = a.user_data().unwrap().unwrap();
    assert_eq!(
        doc.service_profiles[0].initial_filter_criteria[0]
            .application_server
            .server_name,
        "sip:voicemail.ims.example"
    );
    assert_eq!(
        state("sip:carol@ims.example").await.identity.state,
        RegistrationState::Unregistered
    );
    let a = lir(&net, "sip:carol@ims.example").await;
    assert_eq!(
        (a.common.result, a.server_name.as_deref()),
        (CxResult::SUCCESS, Some(SCSCF))
    );
    net.stop().await;
}

async fn store_failure_answers_unable_to_comply(db: &TestDb) {
    let store = db.open().await;
    provision(&store).await;
    let net = Net::start(Arc::new(store.clone()), "hss.ims.example").await;
    store.close().await; // every store call now fails
    let a = uar(
        &net,
        "alice@ims.example",
        "sip:alice@ims.example",
        "ims.example",
        U::Registration,
    )
    .await;
    assert_eq!(a.common.result, rc(base::DIAMETER_UNABLE_TO_COMPLY));
    let a = mar(
        &net,
        "alice@ims.example",
        "sip:alice@ims.example",
        "Unknown",
        1,
        None,
    )
    .await;
    assert_eq!(a.common.result, rc(base::DIAMETER_UNABLE_TO_COMPLY));
    assert!(a.sip_auth_data_items.is_empty());
    let a = sar(
        &net,
        None,
        &["sip:alice@ims.example"],
        SCSCF,
        T::Registration,
    )
    .await;
    assert_eq!(a.common.result, rc(base::DIAMETER_UNABLE_TO_COMPLY));
    assert_eq!(
        lir(&net, "sip:alice@ims.example").await.common.result,
        rc(base::DIAMETER_UNABLE_TO_COMPLY)
    );
    // A malformed request (MAR without User-Name) gets the decoder's 5005, not silence.
    let mut m = MultimediaAuthRequest {
        common: common(),
        user_name: "alice@ims.example".into(),
        public_identity: "sip:alice@ims.example".into(),
        sip_auth_data_item: SipAuthDataItem::default(),
        sip_number_auth_items: 1,
        server_name: SCSCF.into(),
    }
    .to_message();
    m.avps.retain(|a| a.code != diameter::avp_code::USER_NAME);
    assert_eq!(
        net.ask(m).await.result_code(),
        Some(base::DIAMETER_MISSING_AVP)
    );
    net.stop().await;
}

async fn two_hss_instances_concurrent_mars_unique_sqns(db: &TestDb) {
    let s1 = db.open().await;
    provision(&s1).await;
    let s2 = db.open().await;
    let n1 = Arc::new(Net::start(Arc::new(s1), "hss1.ims.example").await);
    let n2 = Arc::new(Net::start(Arc::new(s2), "hss2.ims.example").await);
    let mut tasks = Vec::new();
    for net in [n1.clone(), n2.clone()] {
        for _ in 0..3 {
            let net = net.clone();
            tasks.push(tokio::spawn(async move {
                let m = alice_milenage();
                let mut got = Vec::new();
                for _ in 0..15 {
                    let a = mar(
                        &net,
                        "alice@ims.example",
                        "sip:alice@ims.example",
                        "Unknown",
                        2,
                        None,
                    )
                    .await;
                    assert_eq!(a.common.result, CxResult::SUCCESS);
                    got.extend(a.sip_auth_data_items.iter().map(|i| sqn_of(&m, i)));
                }
                got
            }));
        }
    }
    let mut all = Vec::new();
    for t in tasks {
        let got = t.await.unwrap();
        assert!(
            got.windows(2).all(|w| (w[0] >> 5) < (w[1] >> 5)),
            "not increasing for one S-CSCF"
        );
        all.extend(got);
    }
    let unique: std::collections::HashSet<u64> = all.iter().copied().collect();
    assert_eq!(
        unique.len(),
        all.len(),
        "two HSS instances handed out the same SQN"
    );
    assert_eq!(all.len(), 2 * 3 * 15 * 2);
    for n in [n1, n2] {
        if let Ok(n) = Arc::try_unwrap(n) {
            n.stop().await;
        }
    }
}

async fn restart_next_sqn_newer_and_assignment_kept(db: &TestDb) {
    let m = alice_milenage();
    let (alice, alice_u) = ("alice@ims.example", "sip:alice@ims.example");
    let before = {
        let store = db.open().await;
        provision(&store).await;
        let net = Net::start(Arc::new(store.clone()), "hss.ims.example").await;
        let a = mar(&net, alice, alice_u, "Unknown", 4, None).await;
        sar(&net, Some(alice), &[alice_u], SCSCF, T::Registration).await;
        net.stop().await;
        store.close().await;
        a.sip_auth_data_items
            .iter()
            .map(|i| sqn_of(&m, i))
            .max()
            .unwrap()
    };
    let store = db.open().await;
    let net = Net::start(Arc::new(store), "hss.ims.example").await;
    let a = mar(&net, alice, alice_u, "Unknown", 1, None).await;
    assert!(
        sqn_of(&m, &a.sip_auth_data_items[0]) >> 5 > before >> 5,
        "SQN not newer after restart"
    );
    let u = uar(&net, alice, alice_u, "ims.example", U::Registration).await;
    assert_eq!(
        (u.common.result, u.server_name.as_deref()),
        (x(X::SubsequentRegistration), Some(SCSCF))
    );
    net.stop().await;
}

/// With SQN block reservation, a resynchronisation to an SQN_MS INSIDE the block already reserved
/// (so the database SEQ does not move) must still drop the block: the next vectors are fresh for
/// the USIM (SEQ > SEQ_MS), not the rest of the stale block.
async fn mar_resync_with_sqn_blocks(db: &TestDb) {
    let store = db
        .open()
        .await
        .with_sqn_blocks(hss::store::SqnBlockConfig {
            block: 64,
            ttl: Duration::from_secs(3600),
        })
        .unwrap();
    provision(&store).await;
    let net = Net::start(Arc::new(store.clone()), "hss.ims.example").await;
    let (alice, alice_u) = ("alice@ims.example", "sip:alice@ims.example");
    let m = alice_milenage();
    let cfg = SqnConfig::default();
    let first = mar(&net, alice, alice_u, "Unknown", 1, None).await;
    assert_eq!(first.common.result, CxResult::SUCCESS);
    let impi = Impi::parse(alice).unwrap();
    let reserved = store.auth_data(&impi).await.unwrap().sqn.seq;
    let first_seq = sqn_of(&m, &first.sip_auth_data_items[0]) >> 5;
    assert!(
        reserved >= first_seq + 20,
        "block of 64 reserved: {reserved}"
    );
    // The USIM has seen SEQ first+10 in every IND slot: inside the reserved block.
    let seen = first_seq + 10;
    let mut usim = UeSqnState::new(&cfg).unwrap();
    for ind in 0..32 {
        usim.accept(aka::Sqn::from_parts(seen, ind, 5).unwrap());
    }
    let a = mar(&net, alice, alice_u, "Unknown", 1, None).await;
    let (rand, autn) = split_authenticate(&a.sip_auth_data_items[0]);
    let auts = match authenticate(&m, &cfg, &mut usim, &rand, &autn, None).unwrap() {
        UsimOutcome::SyncFailure { auts, .. } => auts,
        other => panic!("expected a sync failure, got {other:?}"),
    };
    let good = mar(
        &net,
        alice,
        alice_u,
        "Unknown",
        3,
        Some([rand.0.as_slice(), auts.0.as_slice()].concat()),
    )
    .await;
    assert_eq!(good.common.result, CxResult::SUCCESS);
    assert_eq!(good.sip_auth_data_items.len(), 3);
    for item in &good.sip_auth_data_items {
        let (rand, autn) = split_authenticate(item);
        assert!(
            matches!(
                authenticate(&m, &cfg, &mut usim, &rand, &autn, None).unwrap(),
                UsimOutcome::Success { .. }
            ),
            "vector after resync rejected (stale block reused?)"
        );
        assert!(sqn_of(&m, item) >> 5 > seen);
    }
    net.stop().await;
}

const OTHER: &str = "sip:other-scscf.ims.example:6060";

fn caps(m: &[u32], o: &[u32], names: &[&str]) -> cx::ServerCapabilities {
    cx::ServerCapabilities {
        mandatory_capabilities: m.to_vec(),
        optional_capabilities: o.to_vec(),
        server_names: names.iter().map(|n| n.to_string()).collect(),
    }
}

/// UAA Server-Capabilities (TS 29.228 §6.1.1.1, §6.7): built from the store's capability sets — the
/// subscription's own (capability profile) or the default one — for FIRST_REGISTRATION without an
/// assigned S-CSCF, and for REGISTRATION_AND_CAPABILITIES even when one is assigned.
async fn uar_server_capabilities_from_capability_sets(db: &TestDb) {
    let store = db.open().await;
    provision(&store).await;
    let net = Net::start(Arc::new(store.clone()), "hss.ims.example").await;
    let home = "ims.example";
    let (bob, bob_u) = ("bob@ims.example", "sip:bob@ims.example");
    let (carol, carol_u) = ("carol@ims.example", "sip:carol@ims.example");

    // No capability set yet: the per-S-CSCF capabilities (one S-CSCF configured).
    let a = uar(&net, bob, bob_u, home, U::Registration).await;
    assert_eq!(a.common.result, x(X::FirstRegistration));
    assert_eq!(a.server_name, None);
    assert_eq!(a.server_capabilities, Some(caps(&[1], &[2], &[SCSCF])));

    // A default set and a "gold" profile for carol.
    let default = CapabilitySet {
        name: "default".into(),
        mandatory: vec![10, 11],
        optional: vec![20],
        server_names: vec!["sip:s1.ims.example".into(), "sip:s2.ims.example".into()],
    };
    store.put_capability_set(&default).await.unwrap();
    let gold = CapabilitySet {
        name: "gold".into(),
        mandatory: vec![99],
        optional: vec![],
        server_names: vec!["sip:gold.ims.example".into()],
    };
    store.put_capability_set(&gold).await.unwrap();
    assert!(matches!(
        store.set_capability_set(carol, Some("platinum")).await,
        Err(hss::HssError::Invalid { .. })
    ));
    assert!(store
        .put_capability_set(&CapabilitySet {
            name: "bad".into(),
            mandatory: vec![],
            optional: vec![],
            server_names: vec!["not a uri".into()],
        })
        .await
        .is_err());
    store.set_capability_set(carol, Some("gold")).await.unwrap();
    assert_eq!(
        store.capability_sets().await.unwrap(),
        vec![default.clone(), gold.clone()]
    );

    let a = uar(&net, bob, bob_u, home, U::Registration).await;
    assert_eq!(a.common.result, x(X::FirstRegistration));
    assert_eq!(
        a.server_capabilities,
        Some(caps(
            &[10, 11],
            &[20],
            &["sip:s1.ims.example", "sip:s2.ims.example"]
        ))
    );
    let a = uar(&net, carol, carol_u, home, U::Registration).await;
    assert_eq!(a.common.result, x(X::FirstRegistration));
    assert_eq!(
        a.server_capabilities,
        Some(caps(&[99], &[], &["sip:gold.ims.example"]))
    );
    // LIR for carol (services for the unregistered case, nothing assigned): the same set.
    let l = lir(&net, carol_u).await;
    assert_eq!(l.common.result, x(X::UnregisteredService));
    assert_eq!(
        l.server_capabilities,
        Some(caps(&[99], &[], &["sip:gold.ims.example"]))
    );

    // Assigned and registered: SUBSEQUENT_REGISTRATION with the name, no capabilities …
    assert_eq!(
        sar(&net, Some(bob), &[bob_u], SCSCF, T::Registration)
            .await
            .common
            .result,
        CxResult::SUCCESS
    );
    let a = uar(&net, bob, bob_u, home, U::Registration).await;
    assert_eq!(
        (
            a.common.result,
            a.server_name.as_deref(),
            a.server_capabilities
        ),
        (x(X::SubsequentRegistration), Some(SCSCF), None)
    );
    // … but REGISTRATION_AND_CAPABILITIES returns the capabilities anyway (S-CSCF re-selection).
    let a = uar(&net, bob, bob_u, home, U::RegistrationAndCapabilities).await;
    assert_eq!(a.common.result, CxResult::SUCCESS);
    assert_eq!(a.server_name, None);
    assert_eq!(
        a.server_capabilities,
        Some(caps(
            &[10, 11],
            &[20],
            &["sip:s1.ims.example", "sip:s2.ims.example"]
        ))
    );
    // The re-selected S-CSCF may now take the assignment over (reassignment pending) …
    let a = sar(&net, Some(bob), &[bob_u], OTHER, T::Registration).await;
    assert_eq!(a.common.result, CxResult::SUCCESS);
    let r = store
        .public_identity(&hss::model::Impu::parse(bob_u).unwrap())
        .await
        .unwrap();
    assert_eq!(r.scscf.map(|s| s.server_name), Some(OTHER.to_string()));
    // … once: the old one cannot take it back.
    let a = sar(&net, Some(bob), &[bob_u], SCSCF, T::Registration).await;
    assert_eq!(a.common.result, x(X::ErrorIdentityAlreadyRegistered));
    assert_eq!(a.server_name.as_deref(), Some(OTHER));

    // Deleting carol's set: she falls back to the default one.
    store.delete_capability_set("gold").await.unwrap();
    let a = uar(&net, carol, carol_u, home, U::Registration).await;
    assert_eq!(
        a.server_capabilities,
        Some(caps(
            &[10, 11],
            &[20],
            &["sip:s1.ims.example", "sip:s2.ims.example"]
        ))
    );
    net.stop().await;
}

/// Every Server-Assignment-Type of TS 29.228 §6.1.2.1 with its state change, and the answers to an
/// S-CSCF that is not the assigned one (§8.1).
async fn sar_each_assignment_type(db: &TestDb) {
    let store = db.open().await;
    provision(&store).await;
    let net = Net::start(Arc::new(store.clone()), "hss.ims.example").await;
    let (alice, alice_u, alice_tel) = (
        "alice@ims.example",
        "sip:alice@ims.example",
        "tel:+15550001",
    );
    let (bob, bob_u) = ("bob@ims.example", "sip:bob@ims.example");
    let st = |u: &'static str| {
        let store = store.clone();
        async move {
            let r = store
                .public_identity(&hss::model::Impu::parse(u).unwrap())
                .await
                .unwrap();
            (r.identity.state, r.scscf.map(|s| s.server_name))
        }
    };
    use RegistrationState::{NotRegistered as NR, Registered as R, Unregistered as UR};
    let mine = || Some(SCSCF.to_string());
    let ok = CxResult::SUCCESS;

    // REGISTRATION: the implicit set REGISTERED with this S-CSCF, profile returned.
    let a = sar(&net, Some(alice), &[alice_u], SCSCF, T::Registration).await;
    assert_eq!(a.common.result, ok);
    assert!(a.user_data().unwrap().is_some());
    assert_eq!(
        (st(alice_u).await, st(alice_tel).await),
        ((R, mine()), (R, mine()))
    );
    // REGISTRATION / RE_REGISTRATION / UNREGISTERED_USER from another S-CSCF: refused, with the
    // assigned name; nothing changes.
    for t in [T::Registration, T::ReRegistration, T::UnregisteredUser] {
        let a = sar(&net, Some(alice), &[alice_u], OTHER, t).await;
        assert_eq!(
            a.common.result,
            x(X::ErrorIdentityAlreadyRegistered),
            "{t:?}"
        );
        assert_eq!(a.server_name.as_deref(), Some(SCSCF), "{t:?}");
        assert_eq!(st(alice_u).await, (R, mine()), "{t:?}");
    }
    // RE_REGISTRATION: stays REGISTERED.
    assert_eq!(
        sar(&net, Some(alice), &[alice_u], SCSCF, T::ReRegistration)
            .await
            .common
            .result,
        ok
    );
    assert_eq!(st(alice_u).await, (R, mine()));
    // UNREGISTERED_USER for a registered identity: stays REGISTERED.
    assert_eq!(
        sar(&net, None, &[alice_u], SCSCF, T::UnregisteredUser)
            .await
            .common
            .result,
        ok
    );
    assert_eq!(st(alice_u).await, (R, mine()));
    // NO_ASSIGNMENT: the profile, no change; refused to another S-CSCF.
    let a = sar(&net, Some(alice), &[alice_u], SCSCF, T::NoAssignment).await;
    assert_eq!(a.common.result, ok);
    assert!(a.user_data().unwrap().is_some());
    assert_eq!(st(alice_u).await, (R, mine()));
    assert_eq!(
        sar(&net, Some(alice), &[alice_u], OTHER, T::NoAssignment)
            .await
            .common
            .result,
        rc(base::DIAMETER_UNABLE_TO_COMPLY)
    );
    // AUTHENTICATION_FAILURE / _TIMEOUT while registered: state and name unchanged.
    for t in [T::AuthenticationFailure, T::AuthenticationTimeout] {
        assert_eq!(
            sar(&net, Some(alice), &[alice_u], SCSCF, t)
                .await
                .common
                .result,
            ok
        );
        assert_eq!(st(alice_u).await, (R, mine()), "{t:?}");
    }

    // The de-registrations: each from REGISTERED.
    for t in [
        T::TimeoutDeregistration,
        T::UserDeregistration,
        T::AdministrativeDeregistration,
        T::DeregistrationTooMuchData,
    ] {
        assert_eq!(
            sar(&net, Some(alice), &[alice_u], SCSCF, T::Registration)
                .await
                .common
                .result,
            ok
        );
        // From another S-CSCF: refused, nothing changes.
        assert_eq!(
            sar(&net, Some(alice), &[alice_u], OTHER, t)
                .await
                .common
                .result,
            rc(base::DIAMETER_UNABLE_TO_COMPLY),
            "{t:?}"
        );
        assert_eq!(st(alice_u).await, (R, mine()), "{t:?}");
        let a = sar(&net, Some(alice), &[alice_u], SCSCF, t).await;
        assert_eq!(a.common.result, ok, "{t:?}");
        assert!(a.user_data.is_none(), "{t:?}");
        // NOT_REGISTERED, the whole implicit set, S-CSCF name cleared.
        assert_eq!(
            (st(alice_u).await, st(alice_tel).await),
            ((NR, None), (NR, None)),
            "{t:?}"
        );
    }
    for t in [
        T::TimeoutDeregistrationStoreServerName,
        T::UserDeregistrationStoreServerName,
    ] {
        assert_eq!(
            sar(&net, Some(alice), &[alice_u], SCSCF, T::Registration)
                .await
                .common
                .result,
            ok
        );
        assert_eq!(
            sar(&net, Some(alice), &[alice_u], OTHER, t)
                .await
                .common
                .result,
            rc(base::DIAMETER_UNABLE_TO_COMPLY),
            "{t:?}"
        );
        assert_eq!(
            sar(&net, Some(alice), &[alice_u], SCSCF, t)
                .await
                .common
                .result,
            ok,
            "{t:?}"
        );
        // UNREGISTERED, name kept: terminating requests still reach that S-CSCF.
        assert_eq!(
            (st(alice_u).await, st(alice_tel).await),
            ((UR, mine()), (UR, mine())),
            "{t:?}"
        );
        let l = lir(&net, alice_tel).await;
        assert_eq!(
            (l.common.result, l.server_name.as_deref()),
            (ok, Some(SCSCF)),
            "{t:?}"
        );
        // The kept name is not overwritten by another S-CSCF's REGISTRATION …
        let a = sar(&net, Some(alice), &[alice_u], OTHER, T::Registration).await;
        assert_eq!(
            a.common.result,
            x(X::ErrorIdentityAlreadyRegistered),
            "{t:?}"
        );
        // … and the user registers again with it.
        assert_eq!(
            sar(&net, Some(alice), &[alice_u], SCSCF, T::Registration)
                .await
                .common
                .result,
            ok
        );
        assert_eq!(st(alice_u).await, (R, mine()), "{t:?}");
        assert_eq!(
            sar(&net, Some(alice), &[], SCSCF, T::UserDeregistration)
                .await
                .common
                .result,
            ok
        );
        assert_eq!(st(alice_u).await, (NR, None), "{t:?}");
    }

    // UNREGISTERED_USER for an identity nobody serves: UNREGISTERED with this S-CSCF.
    let a = sar(&net, None, &[bob_u], SCSCF, T::UnregisteredUser).await;
    assert_eq!(a.common.result, ok);
    assert!(a.user_data().unwrap().is_some());
    assert_eq!(st(bob_u).await, (UR, mine()));
    // REGISTRATION from the same S-CSCF: REGISTERED.
    assert_eq!(
        sar(&net, Some(bob), &[bob_u], SCSCF, T::Registration)
            .await
            .common
            .result,
        ok
    );
    assert_eq!(st(bob_u).await, (R, mine()));
    assert_eq!(
        sar(&net, Some(bob), &[bob_u], SCSCF, T::TimeoutDeregistration)
            .await
            .common
            .result,
        ok
    );
    assert_eq!(st(bob_u).await, (NR, None));

    // AUTHENTICATION_FAILURE / _TIMEOUT after a MAR: the pending name is withdrawn, the state
    // stays NOT_REGISTERED.
    for t in [T::AuthenticationFailure, T::AuthenticationTimeout] {
        assert_eq!(
            mar(&net, bob, bob_u, "Unknown", 1, None)
                .await
                .common
                .result,
            ok
        );
        assert_eq!(st(bob_u).await, (NR, mine()), "{t:?}");
        // Another S-CSCF's failure report does not withdraw our pending assignment.
        assert_eq!(
            sar(&net, Some(bob), &[bob_u], OTHER, t).await.common.result,
            rc(base::DIAMETER_UNABLE_TO_COMPLY)
        );
        assert_eq!(
            sar(&net, Some(bob), &[bob_u], SCSCF, t).await.common.result,
            ok,
            "{t:?}"
        );
        assert_eq!(st(bob_u).await, (NR, None), "{t:?}");
    }
    net.stop().await;
}
