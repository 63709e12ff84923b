//! HSS-initiated de-registration (RTR, TS 29.228 §6.1.3) and profile push (PPR, §6.2.2) through
//! the REST API; RTR via the endpoint
//! `POST /api/v1/subscribers/{key}/deregister`: the HSS sends an RTR over Diameter/TCP to the
//! S-CSCF that registered the user (a scripted peer that records it), and updates the store only
//! when the RTA reports success.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::TestDb;
use cx::enums::{ReasonCode, ServerAssignmentType, UserDataAlreadyAvailable};
use cx::{
    AnswerCommon, CxMessage, CxResult, PushProfileAnswer, PushProfileRequest,
    RegistrationTerminationAnswer, RegistrationTerminationRequest, RequestCommon,
    ServerAssignmentAnswer, ServerAssignmentRequest,
};
use diameter::{AppId, EngineConfig, LocalIdentity, Message, Node, NodeConfig, PeerConfig, Timers};
use hss::cx_server::{CxNodeNotifier, CxServer, CxServerConfig};
use hss::model::{Impu, RegistrationState};
use hss::provision::{ImpuInput, SubscriberInput};
use hss::SubscriberStore;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TOKEN: &str = "rtr-test-token-0123456789";
const SCSCF: &str = "sip:scscf.ims.example";

on_both_backends!(rtr_via_rest);

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

async fn post(addr: std::net::SocketAddr, path: &str, body: &str) -> (u16, serde_json::Value) {
    send(addr, "POST", path, body).await
}

async fn send(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    body: &str,
) -> (u16, serde_json::Value) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).await.unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (
        status,
        serde_json::from_str(body).unwrap_or(serde_json::Value::Null),
    )
}

async fn rtr_via_rest(db: &TestDb) {
    let store = db.open().await;
    for name in ["alice", "bob"] {
        let mut i = SubscriberInput::default();
        i.impi = format!("{name}@ims.example");
        i.impus = vec![
            ImpuInput::Uri(format!("sip:{name}@ims.example")),
            ImpuInput::Uri(format!("tel:+1555{}", name.len())),
        ];
        i.k = "000102030405060708090a0b0c0d0e0f".into();
        i.opc = Some("000102030405060708090a0b0c0d0e0f".into());
        store
            .create_subscription(&i.to_subscription().unwrap())
            .await
            .unwrap();
    }
    let server = Arc::new(CxServer::new(
        Arc::new(store.clone()),
        CxServerConfig {
            origin_host: "hss.ims.example".into(),
            origin_realm: "ims.example".into(),
            home_networks: vec!["ims.example".into()],
        },
    ));
    let hss = Arc::new(
        server
            .clone()
            .start(node_cfg("hss.ims.example", true, vec![]))
            .await
            .unwrap(),
    );

    // The S-CSCF: records RTRs, accepts them except for bob.
    let seen: Arc<Mutex<Vec<RegistrationTerminationRequest>>> = Arc::default();
    let log = seen.clone();
    let peers = vec![PeerConfig {
        host: "hss.ims.example".into(),
        addr: hss.local_addr(),
        connect: true,
    }];
    let pprs: Arc<Mutex<Vec<PushProfileRequest>>> = Arc::default();
    let ppr_log = pprs.clone();
    let scscf = Node::start(
        node_cfg("scscf.ims.example", false, peers),
        move |req: Message| {
            let log = log.clone();
            let ppr_log = ppr_log.clone();
            async move {
                if let Ok(p) = PushProfileRequest::from_message(&req) {
                    ppr_log.lock().unwrap().push(p.clone());
                    return PushProfileAnswer {
                        common: AnswerCommon::answering(
                            &p.common,
                            "scscf.ims.example",
                            "ims.example",
                            CxResult::SUCCESS,
                        ),
                    }
                    .to_answer_for(&req);
                }
                match RegistrationTerminationRequest::from_message(&req) {
                    Ok(r) => {
                        let result = if r.user_name.starts_with("bob") {
                            CxResult::ResultCode(cx::result::base::DIAMETER_UNABLE_TO_COMPLY)
                        } else {
                            CxResult::SUCCESS
                        };
                        log.lock().unwrap().push(r.clone());
                        RegistrationTerminationAnswer {
                            common: AnswerCommon::answering(
                                &r.common,
                                "scscf.ims.example",
                                "ims.example",
                                result,
                            ),
                            associated_identities: None,
                        }
                        .to_answer_for(&req)
                    }
                    Err(e) => e.to_answer(&req, "scscf.ims.example", "ims.example"),
                }
            }
        },
    )
    .await
    .unwrap();
    scscf
        .wait_open("hss.ims.example", Duration::from_secs(10))
        .await
        .unwrap();
    hss.wait_open("scscf.ims.example", Duration::from_secs(10))
        .await
        .unwrap();

    // Register both through SAR.
    for name in ["alice", "bob"] {
        let sar = ServerAssignmentRequest {
            common: RequestCommon::new(
                format!("s;{name}"),
                "scscf.ims.example",
                "ims.example",
                "ims.example",
            ),
            user_name: Some(format!("{name}@ims.example")),
            public_identities: vec![format!("sip:{name}@ims.example")],
            wildcarded_public_identity: None,
            wildcarded_impu: None,
            server_name: SCSCF.into(),
            server_assignment_type: ServerAssignmentType::Registration,
            user_data_already_available: UserDataAlreadyAvailable::UserDataNotAvailable,
            multiple_registration_indication: None,
            session_priority: None,
            sar_flags: None,
        };
        let a =
            ServerAssignmentAnswer::from_message(&scscf.request(sar.to_message()).await.unwrap())
                .unwrap();
        assert_eq!(a.common.result, CxResult::SUCCESS);
    }

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let dereg = Arc::new(CxNodeNotifier {
        server: server.clone(),
        node: hss.clone(),
    });
    let router = hss::rest::router_with_cx(Arc::new(store.clone()), TOKEN, dereg).unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let http = tokio::spawn(hss::rest::serve(listener, router, async {
        let _ = stopped.await;
    }));

    // Barring alice's IMPU through the API pushes the new profile (PPR) to her S-CSCF.
    let (status, _) = send(
        addr,
        "PATCH",
        "/api/v1/impus/sip:alice@ims.example",
        r#"{"barred": true}"#,
    )
    .await;
    assert_eq!(status, 204);
    {
        let pprs = pprs.lock().unwrap();
        assert_eq!(pprs.len(), 1, "no PPR after the profile change");
        assert_eq!(pprs[0].user_name, "alice@ims.example");
        assert_eq!(
            pprs[0].common.destination_host.as_deref(),
            Some("scscf.ims.example")
        );
        let doc = pprs[0].user_data().unwrap().expect("User-Data");
        let alice = doc
            .service_profiles
            .iter()
            .flat_map(|p| p.public_identities.iter())
            .find(|i| i.identity == "sip:alice@ims.example")
            .expect("alice in PPR User-Data");
        assert!(alice.barring_indication);
    }
    let (status, v) = post(addr, "/api/v1/subscribers/bob@ims.example/push-profile", "").await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["pushed"]["result_code"], 2001);
    assert_eq!(v["pushed"]["scscf"], SCSCF);
    assert_eq!(pprs.lock().unwrap().len(), 2);

    let (status, report) = post(
        addr,
        "/api/v1/subscribers/tel:+15555/deregister",
        r#"{"reason":"operator"}"#,
    )
    .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["result_code"], 2001);
    assert_eq!(report["scscf"], SCSCF);
    assert_eq!(
        report["public_identities"],
        serde_json::json!(["sip:alice@ims.example", "tel:+15555"])
    );
    {
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].user_name, "alice@ims.example");
        assert_eq!(
            seen[0].public_identities,
            ["sip:alice@ims.example", "tel:+15555"]
        );
        assert_eq!(
            seen[0].deregistration_reason.reason_code,
            ReasonCode::PermanentTermination
        );
        assert_eq!(
            seen[0].deregistration_reason.reason_info.as_deref(),
            Some("operator")
        );
        assert_eq!(
            seen[0].common.destination_host.as_deref(),
            Some("scscf.ims.example")
        );
    }
    let r = store
        .public_identity(&Impu::parse("tel:+15555").unwrap())
        .await
        .unwrap();
    assert_eq!(
        (r.identity.state, r.scscf),
        (RegistrationState::NotRegistered, None)
    );
    // Not served any more: nothing to push, nothing sent.
    let (status, v) = post(
        addr,
        "/api/v1/subscribers/alice@ims.example/push-profile",
        "",
    )
    .await;
    assert_eq!(status, 200);
    assert!(v["pushed"].is_null());
    assert_eq!(pprs.lock().unwrap().len(), 2);
    // Nothing left to de-register.
    let (status, _) = post(addr, "/api/v1/subscribers/alice@ims.example/deregister", "").await;
    assert_eq!(status, 404);

    // An unknown Reason-Code name is refused before any RTR, naming the valid ones.
    let (status, v) = post(
        addr,
        "/api/v1/subscribers/bob@ims.example/deregister",
        r#"{"code":"permanent"}"#,
    )
    .await;
    assert_eq!(status, 400, "{v}");
    assert!(v.to_string().contains("server-change"), "{v}");
    assert_eq!(seen.lock().unwrap().len(), 1);

    // The S-CSCF refuses bob's RTR (sent with the Reason-Code asked for): reported, and bob
    // stays registered.
    let (status, report) = post(
        addr,
        "/api/v1/subscribers/bob@ims.example/deregister",
        r#"{"reason":"move","code":"server-change"}"#,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(report["result_code"], 5012);
    {
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 2);
        assert_eq!(
            seen[1].deregistration_reason.reason_code,
            ReasonCode::ServerChange
        );
        assert_eq!(
            seen[1].deregistration_reason.reason_info.as_deref(),
            Some("move")
        );
    }
    let r = store
        .public_identity(&Impu::parse("sip:bob@ims.example").unwrap())
        .await
        .unwrap();
    assert_eq!(r.identity.state, RegistrationState::Registered);
    assert!(r.scscf.is_some());

    let _ = stop.send(());
    http.await.unwrap().unwrap();
    scscf.shutdown().await;
    if let Ok(h) = Arc::try_unwrap(hss) {
        h.shutdown().await;
    }
}
