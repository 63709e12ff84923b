//! The whole HSS from its configuration ([`hss::server::Hss`]): start it, run MARs over
//! Diameter/TCP from a client node, stop it, start it again on the same database (the next SQN is
//! newer); and `imscore subscriber deregister` against a running HSS (RTR through its REST API)
//! and without one (administrative de-registration in the database, no RTR).

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aka::{Autn, Milenage, Rand};
use clap::Parser;
use common::TestDb;
use cx::enums::{ReasonCode, ServerAssignmentType, UserDataAlreadyAvailable};
use cx::{
    AnswerCommon, CxMessage, CxResult, MultimediaAuthAnswer, MultimediaAuthRequest,
    RegistrationTerminationAnswer, RegistrationTerminationRequest, RequestCommon,
    ServerAssignmentAnswer, ServerAssignmentRequest, SipAuthDataItem,
};
use diameter::{AppId, EngineConfig, LocalIdentity, Message, Node, NodeConfig, PeerConfig, Timers};
use hss::cli::{run_with_output, SubscriberCmd};
use hss::model::{Impi, Impu, RegistrationState};
use hss::provision::demo::{demo_imsi, DEMO_K, DEMO_OP, DEMO_REALM};
use hss::server::{Hss, HssConfig, RestConfig};
use hss::{HssError, StoreConfig, SubscriberStore};

const TOKEN: &str = "hss-server-test-token-0123";
const HSS_HOST: &str = "hss.ims.example";
const SCSCF_HOST: &str = "scscf.ims.example";
const SCSCF: &str = "sip:scscf.ims.example";
const T10: Duration = Duration::from_secs(10);

on_both_backends!(
    start_mar_restart_next_sqn_newer,
    cli_deregister_through_running_hss,
    cli_deregister_without_hss,
);

#[test]
fn config_is_toml_friendly() {
    // Every field has a default; unknown fields are refused.
    let cfg: HssConfig = serde_json::from_str("{}").unwrap();
    assert_eq!(cfg, HssConfig::default());
    assert!(cfg.sqn_blocks.enabled, "SQN blocks are on by default");
    assert!(serde_json::from_str::<HssConfig>(r#"{"origin_hots": "x"}"#).is_err());
    let cfg: HssConfig = serde_json::from_str(
        r#"{"origin_host": "hss.a.example", "sqn_blocks": {"block": 32},
            "rest": {"listen": "127.0.0.1:0", "token": "0123456789abcdef"},
            "capability_sets": [{"name": "default", "mandatory": [1], "server_names": ["sip:s.a.example"]}]}"#,
    )
    .unwrap();
    assert_eq!(cfg.capability_sets[0].mandatory, [1]);
    assert!(cfg.capability_sets[0].optional.is_empty());
    assert_eq!(cfg.origin_host, "hss.a.example");
    assert_eq!(cfg.sqn_blocks.block, 32);
    assert!(cfg.sqn_blocks.enabled);
    assert!(cfg.validate().is_ok());
    let mut bad = cfg.clone();
    bad.rest.token = Some("short".into());
    assert!(bad.validate().is_err());
    let mut bad = cfg.clone();
    bad.sqn_blocks.block = 0;
    assert!(bad.validate().is_err());
    let mut bad = cfg;
    bad.capability_sets[0].server_names = vec!["not a uri".into()];
    assert!(bad.validate().is_err());
}

/// An HSS configuration on loopback ports chosen by the OS, on `db`.
fn config(db: &TestDb, rest: bool) -> HssConfig {
    let mut cfg = HssConfig {
        origin_host: HSS_HOST.into(),
        origin_realm: "ims.example".into(),
        home_networks: vec!["ims.example".into(), DEMO_REALM.into()],
        diameter_listen: "127.0.0.1:0".parse().unwrap(),
        ..HssConfig::default()
    };
    match &db.config {
        StoreConfig::Sqlite { path, .. } => {
            cfg.data_dir = path.parent().unwrap().to_path_buf();
        }
        StoreConfig::Postgres { url, schema, .. } => {
            cfg.database_url = Some(format!(
                "{url}?options[search_path]={}",
                schema.as_deref().unwrap()
            ));
        }
    }
    if rest {
        cfg.rest = RestConfig {
            listen: Some("127.0.0.1:0".parse().unwrap()),
            token: Some(TOKEN.into()),
        };
    }
    cfg
}

fn node_cfg(host: &str, peers: Vec<PeerConfig>) -> NodeConfig {
    NodeConfig {
        listen: None,
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

/// An S-CSCF connected to `hss` that accepts every RTR and counts them.
/// A scripted S-CSCF that accepts every RTR and records its Reason-Code in `rtrs`.
async fn scscf(hss: &Hss, rtrs: Arc<Mutex<Vec<ReasonCode>>>) -> Node {
    let peers = vec![PeerConfig {
        host: HSS_HOST.into(),
        addr: Some(hss.local_addrs().diameter),
        connect: true,
    }];
    let node = Node::start(node_cfg(SCSCF_HOST, peers), move |req: Message| {
        let rtrs = rtrs.clone();
        async move {
            match RegistrationTerminationRequest::from_message(&req) {
                Ok(r) => {
                    rtrs.lock()
                        .unwrap()
                        .push(r.deregistration_reason.reason_code);
                    RegistrationTerminationAnswer {
                        common: AnswerCommon::answering(
                            &r.common,
                            SCSCF_HOST,
                            "ims.example",
                            CxResult::SUCCESS,
                        ),
                        associated_identities: None,
                    }
                    .to_answer_for(&req)
                }
                Err(e) => e.to_answer(&req, SCSCF_HOST, "ims.example"),
            }
        }
    })
    .await
    .unwrap();
    node.wait_open(HSS_HOST, T10).await.unwrap();
    hss.wait_peer_open(SCSCF_HOST, T10).await.unwrap();
    node
}

fn session(tag: &str) -> RequestCommon {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    RequestCommon::new(
        format!("{SCSCF_HOST};{tag};{n}"),
        SCSCF_HOST,
        "ims.example",
        "ims.example",
    )
}

/// The SQN of the one vector of a MAA for demo subscriber 1.
async fn mar_sqn(client: &Node) -> u64 {
    let imsi = demo_imsi(1);
    let r = MultimediaAuthRequest {
        common: session("mar"),
        user_name: format!("{imsi}@{DEMO_REALM}"),
        public_identity: format!("sip:{imsi}@{DEMO_REALM}"),
        sip_auth_data_item: SipAuthDataItem {
            authentication_scheme: Some("Unknown".into()),
            ..Default::default()
        },
        sip_number_auth_items: 1,
        server_name: SCSCF.into(),
    };
    let a =
        MultimediaAuthAnswer::from_message(&client.request(r.to_message()).await.unwrap()).unwrap();
    assert_eq!(a.common.result, CxResult::SUCCESS);
    assert_eq!(a.sip_auth_data_items.len(), 1);
    let auth = a.sip_auth_data_items[0].authenticate.as_ref().unwrap();
    assert_eq!(auth.len(), 32);
    let rand = Rand::from_slice(&auth[..16]).unwrap();
    let autn = Autn::from_slice(&auth[16..]).unwrap();
    let m = Milenage::with_op(&aka::K::from_bytes(DEMO_K), &aka::Op::from_bytes(DEMO_OP));
    let (_, _, _, ak) = m.f2345(&rand);
    let c = autn.sqn_xor_ak();
    let mut b = [0u8; 8];
    for i in 0..6 {
        b[i + 2] = c[i] ^ ak.0[i];
    }
    u64::from_be_bytes(b)
}

async fn start_mar_restart_next_sqn_newer(db: &TestDb) {
    let _ = db.open().await; // creates the PostgreSQL schema
    let cfg = config(db, false);
    let impi = Impi::parse(&format!("{}@{DEMO_REALM}", demo_imsi(1))).unwrap();

    let mut cfg = cfg;
    cfg.capability_sets = vec![hss::model::CapabilitySet {
        name: "default".into(),
        mandatory: vec![7],
        optional: vec![8, 9],
        server_names: vec![SCSCF.into()],
    }];
    let hss = Hss::start(cfg.clone()).await.unwrap();
    assert_eq!(
        hss.store().capability_sets().await.unwrap(),
        cfg.capability_sets
    );
    assert_eq!(hss.provision_demo(3).await.unwrap(), 3);
    assert_eq!(hss.store().count().await.unwrap(), 3);
    let client = scscf(&hss, Arc::default()).await;
    let mut before = Vec::new();
    for _ in 0..3 {
        before.push(mar_sqn(&client).await);
    }
    assert!(before.windows(2).all(|w| w[0] < w[1]), "{before:?}");
    // SQN blocks are on: the database already holds a reservation beyond what was handed out.
    let stored = hss.store().auth_data(&impi).await.unwrap().sqn;
    let last_seq = before[2] >> stored.ind_bits;
    assert!(
        stored.seq >= last_seq + 32,
        "stored SEQ {} vs handed out {last_seq}: no block reserved",
        stored.seq
    );
    client.shutdown().await;
    hss.shutdown().await;

    // Same database: the demo subscribers are not provisioned again, the next SQN is newer.
    let hss = Hss::start(cfg).await.unwrap();
    assert_eq!(hss.provision_demo(3).await.unwrap(), 0);
    let client = scscf(&hss, Arc::default()).await;
    let after = mar_sqn(&client).await;
    let max_before = before.iter().copied().max().unwrap();
    assert!(
        after >> stored.ind_bits > max_before >> stored.ind_bits,
        "SEQ after restart {after:#x} not newer than {max_before:#x}"
    );
    client.shutdown().await;
    hss.shutdown().await;
}

async fn register(client: &Node, impi: &str, impu: &str) {
    let sar = ServerAssignmentRequest {
        common: session("sar"),
        user_name: Some(impi.into()),
        public_identities: vec![impu.into()],
        wildcarded_public_identity: None,
        wildcarded_impu: None,
        server_name: SCSCF.into(),
        server_assignment_type: ServerAssignmentType::Registration,
        user_data_already_available: UserDataAlreadyAvailable::UserDataNotAvailable,
        multiple_registration_indication: None,
        session_priority: None,
        sar_flags: None,
    };
    let a = ServerAssignmentAnswer::from_message(&client.request(sar.to_message()).await.unwrap())
        .unwrap();
    assert_eq!(a.common.result, CxResult::SUCCESS);
}

async fn cli(db: &TestDb, args: &[&str]) -> (Result<(), HssError>, String) {
    let mut argv: Vec<String> = vec!["subscriber".into()];
    match &db.config {
        StoreConfig::Sqlite { path, .. } => {
            argv.push("--data-dir".into());
            argv.push(path.parent().unwrap().to_str().unwrap().into());
        }
        StoreConfig::Postgres { url, schema, .. } => {
            argv.push("--db".into());
            argv.push(format!(
                "{url}?options[search_path]={}",
                schema.as_deref().unwrap()
            ));
        }
    }
    argv.extend(args.iter().map(|s| s.to_string()));
    let cmd = SubscriberCmd::try_parse_from(&argv).unwrap_or_else(|e| panic!("{argv:?}: {e}"));
    let mut out = Vec::new();
    let r = run_with_output(cmd, &mut out).await;
    (r, String::from_utf8(out).unwrap())
}

async fn state(store: &dyn SubscriberStore, impu: &str) -> (RegistrationState, Option<String>) {
    let r = store
        .public_identity(&Impu::parse(impu).unwrap())
        .await
        .unwrap();
    (r.identity.state, r.scscf.map(|s| s.server_name))
}

async fn cli_deregister_through_running_hss(db: &TestDb) {
    let _ = db.open().await;
    let hss = Hss::start(config(db, true)).await.unwrap();
    hss.provision_demo(2).await.unwrap();
    let api = format!("http://{}", hss.local_addrs().rest.unwrap());
    let rtrs: Arc<Mutex<Vec<ReasonCode>>> = Arc::default();
    let client = scscf(&hss, rtrs.clone()).await;
    let imsi = demo_imsi(1);
    let (impi, impu) = (
        format!("{imsi}@{DEMO_REALM}"),
        format!("sip:{imsi}@{DEMO_REALM}"),
    );
    register(&client, &impi, &impu).await;
    assert_eq!(
        state(hss.store(), &impu).await,
        (RegistrationState::Registered, Some(SCSCF.to_string()))
    );

    // A wrong token is an error and changes nothing (no fallback to the database).
    let (r, _) = cli(
        db,
        &[
            "deregister",
            &impu,
            "--api",
            &api,
            "--token",
            "wrong-token-0123456789",
        ],
    )
    .await;
    assert!(
        matches!(&r, Err(HssError::Api(m)) if m.contains("401")),
        "{r:?}"
    );
    assert!(rtrs.lock().unwrap().is_empty());
    assert_eq!(
        state(hss.store(), &impu).await.0,
        RegistrationState::Registered
    );

    let (r, out) = cli(
        db,
        &[
            "deregister",
            &impu,
            "--api",
            &api,
            "--token",
            TOKEN,
            "--reason",
            "operator test",
            "--code",
            "server-change",
        ],
    )
    .await;
    r.unwrap();
    assert!(out.contains("RTR sent to sip:scscf.ims.example"), "{out}");
    assert!(!out.contains("NO RTR"), "{out}");
    assert_eq!(*rtrs.lock().unwrap(), [ReasonCode::ServerChange]);
    assert_eq!(
        state(hss.store(), &impu).await,
        (RegistrationState::NotRegistered, None)
    );

    // Not registered any more: the HSS refuses (no S-CSCF to tell) and the CLI reports it.
    let (r, _) = cli(db, &["deregister", &impu, "--api", &api, "--token", TOKEN]).await;
    assert!(
        matches!(&r, Err(HssError::Api(m)) if m.contains("404")),
        "{r:?}"
    );
    assert_eq!(rtrs.lock().unwrap().len(), 1);
    client.shutdown().await;
    hss.shutdown().await;
}

async fn cli_deregister_without_hss(db: &TestDb) {
    let store = db.open().await;
    hss::provision::demo::provision_demo(&store, 1, 2)
        .await
        .unwrap();
    let imsi = demo_imsi(2);
    let impu = format!("sip:{imsi}@{DEMO_REALM}");
    let assign = |store: hss::SqlStore| {
        let impu = impu.clone();
        let imsi = imsi.clone();
        async move {
            store
                .set_scscf(
                    &imsi,
                    Some(&hss::model::ScscfAssignment {
                        server_name: SCSCF.into(),
                        origin_host: SCSCF_HOST.into(),
                    }),
                )
                .await
                .unwrap();
            store
                .set_registration_state(
                    &[Impu::parse(&impu).unwrap()],
                    RegistrationState::Registered,
                )
                .await
                .unwrap();
        }
    };
    assign(store.clone()).await;

    // Nothing listens at --api: administrative de-registration, said plainly.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let api = format!("http://{closed}");
    let (r, out) = cli(db, &["deregister", &imsi, "--api", &api, "--token", TOKEN]).await;
    r.unwrap();
    assert!(out.contains("no HSS REST API reachable"), "{out}");
    assert!(out.contains("NO RTR was sent"), "{out}");
    assert!(out.contains(&impu), "{out}");
    assert_eq!(
        state(&store, &impu).await,
        (RegistrationState::NotRegistered, None)
    );

    // Without --api: straight to the database.
    assign(store.clone()).await;
    let (r, out) = cli(db, &["deregister", &impu]).await;
    r.unwrap();
    assert!(out.contains("NO RTR was sent"), "{out}");
    assert_eq!(
        state(&store, &impu).await,
        (RegistrationState::NotRegistered, None)
    );
    // Again: nothing to do, nothing claimed.
    let (r, out) = cli(db, &["deregister", &impu]).await;
    r.unwrap();
    assert!(out.contains("not registered: nothing to do"), "{out}");
    // Unknown key: an error.
    let (r, _) = cli(db, &["deregister", "sip:nobody@ims.example"]).await;
    assert!(matches!(r, Err(HssError::NotFound { .. })), "{r:?}");
    store.close().await;
}
