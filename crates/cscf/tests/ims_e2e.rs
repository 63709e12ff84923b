//! IMS registration end to end over real sockets: a test UE (IMS-AKA computed here with the `aka`
//! crate) → P-CSCF → I-CSCF → S-CSCF, with a real HSS over Diameter (TS 24.229 §5.2–§5.4,
//! TS 29.228). Every role runs as it does in `imscore up`, on free loopback ports.

use std::net::SocketAddr;
use std::time::Duration;

use aka::AkaNonce;
use cscf::pcscf::PcscfConfig;
use cscf::scscf::ScscfConfig;
use cscf::store::{RegistrationStore, SqliteStore};
use hss::model::RegistrationState;
use hss::provision::demo;
use hss::SubscriberStore;
use sip::Message;
use testkit::ims_ue::TestUe;
use testkit::scratch::{free_udp_port, TempDir};

#[path = "harness/reginfo_check.rs"]
mod reginfo_check;

#[path = "harness/ims_core.rs"]
mod ims_core;

use ims_core::{Core, CoreBuilder, REALM};

/// Ports and names of one deployment: every role on UDP and TCP (requests above 1300 bytes go
/// over TCP, RFC 3261 §18.1.1); only the I-CSCF's timers are shortened (upstream must outlast
/// its fail-over).
type Plan = CoreBuilder;

fn plan() -> Plan {
    let mut p = CoreBuilder::loopback("e2e.test");
    p.tcp = true;
    p.pcscf_listen = vec![format!("tcp:127.0.0.1:{}", p.pcscf_port)];
    p.icscf_t1_ms = Some(50);
    p.scscf = ScscfConfig {
        challenge_lifetime_secs: 2,
        ..ScscfConfig::default()
    };
    p.pcscf = PcscfConfig {
        orig_ioi: Some(REALM.into()),
        key_lifetime_secs: 60,
        ..PcscfConfig::default()
    };
    p
}

/// An S-CSCF name that resolves to a port where nothing answers, tried first by the I-CSCF.
fn with_dead_scscf(plan: &mut Plan, port: u16) {
    plan.hosts.push(("dead".into(), port));
    plan.scscfs_before
        .push(format!("sip:dead.{}:{port}", plan.domain));
}

impl Core {
    async fn hss_state(&self, n: u64) -> (RegistrationState, Option<String>) {
        let store = self.hss.as_ref().unwrap().store();
        let sub = store
            .subscription(&store.resolve(&impi(n)).await.unwrap())
            .await
            .unwrap();
        (
            sub.public_identities[0].state,
            sub.scscf.map(|s| s.server_name),
        )
    }
}

fn imsi(n: u64) -> String {
    demo::demo_imsi(n)
}
fn impi(n: u64) -> String {
    format!("{}@{REALM}", imsi(n))
}
fn impu(n: u64) -> String {
    format!("sip:{}@{REALM}", imsi(n))
}

/// The test UE of demo subscriber `n`.
async fn test_ue(n: u64, pcscf: SocketAddr) -> TestUe {
    TestUe::new(pcscf, REALM, &imsi(n), demo::DEMO_K, demo::DEMO_OP).await
}

fn header(m: &Message, name: &str) -> String {
    m.header_value(name)
        .map(|v| v.to_string())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_reregister_deregister_end_to_end() {
    let dir = TempDir::new("reg");
    let plan = plan();
    let ims = plan.start(dir.path(), 3).await;
    let mut ue = test_ue(1, ims.pcscf).await;

    let (chal, ok) = ue.register(3600).await;
    // the 401 the UE sees: AKA nonce, no CK/IK (TS 24.229 §5.2.2.1)
    let www = chal.www_authenticate().unwrap().unwrap();
    assert_eq!(www.algorithm(), Some("AKAv1-MD5"));
    assert!(
        www.ck().is_none() && www.ik().is_none(),
        "CK/IK leaked to the UE: {chal}"
    );
    assert!(AkaNonce::decode(www.nonce().unwrap()).is_ok());
    // the 200: contact with its expiry, Path with the P-CSCF's flow token, Service-Route to the
    // S-CSCF, P-Associated-URI (TS 24.229 §5.4.1.2.2)
    assert_eq!(ok.status(), Some(200), "{ok}");
    let contacts = ok.contacts().unwrap();
    let c = contacts
        .iter()
        .find_map(|c| c.addr().cloned())
        .expect("contact");
    assert_eq!(c.uri.to_string(), ue.contact());
    assert_eq!(c.expires(), Some(3600));
    let path = header(&ok, "Path");
    assert!(
        path.contains("@pcscf.e2e.test") && path.contains("sip:term."),
        "{path}"
    );
    let sr = ok.service_route().unwrap();
    assert_eq!(sr.len(), 1);
    assert!(sr[0]
        .uri
        .to_string()
        .contains(&format!("scscf.e2e.test:{}", plan.scscf_port)));
    let pau = ok.p_associated_uri().unwrap();
    assert_eq!(pau[0].uri.to_string(), impu(1));

    // the HSS knows the S-CSCF; the stores know the UE
    let (state, server) = ims.hss_state(1).await;
    assert_eq!(state, RegistrationState::Registered);
    assert_eq!(server.as_deref(), Some(plan.scscf_name().as_str()));
    let store = SqliteStore::open_in_dir(dir.path()).await.unwrap();
    let reg = store
        .get_registration(&impu(1))
        .await
        .unwrap()
        .expect("S-CSCF registration");
    assert_eq!(reg.value.contacts.len(), 1);
    let ue_reg = store
        .get_ue_registration(&impu(1), &ue.contact())
        .await
        .unwrap()
        .expect("P-CSCF registration");
    assert_eq!(ue_reg.flow.remote, ue.local());
    assert_eq!(ue_reg.service_route.len(), 1);

    // re-registration (not integrity protected: challenged again, TS 24.229 §5.4.1.2.1)
    let (_, ok2) = ue.register(3600).await;
    assert_eq!(ok2.status(), Some(200), "{ok2}");

    // de-registration
    let (_, bye) = ue.register(0).await;
    assert_eq!(bye.status(), Some(200), "{bye}");
    assert!(store
        .get_registration(&impu(1))
        .await
        .unwrap()
        .is_none_or(|r| r.value.contacts.is_empty()));
    assert!(store
        .get_ue_registration(&impu(1), &ue.contact())
        .await
        .unwrap()
        .is_none());
    let (state, _) = ims.hss_state(1).await;
    assert_ne!(state, RegistrationState::Registered);
    store.close().await;
    ims.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_key_unknown_user_and_unregistered_requests_are_refused() {
    let dir = TempDir::new("refuse");
    let plan = plan();
    let ims = plan.start(dir.path(), 2).await;

    // wrong K: RES does not match → 403 (TS 24.229 §5.4.1.2.2)
    let mut ue = test_ue(2, ims.pcscf).await;
    ue.k = *b"not-the-demo-key";
    let (_, r) = ue.register(600).await;
    assert_eq!(r.status(), Some(403), "{r}");
    let (state, _) = ims.hss_state(2).await;
    assert_ne!(state, RegistrationState::Registered);

    // the UE refuses the network (AUTN MAC failure): nonce echoed, empty response → 403
    // (TS 24.229 §5.1.1.5.1, §5.4.1.2.3)
    let mut refusing = test_ue(1, ims.pcscf).await;
    let chal = refusing.challenge(600).await;
    let nonce = chal
        .www_authenticate()
        .unwrap()
        .unwrap()
        .nonce()
        .unwrap()
        .to_string();
    let auth = format!(
        "Authorization: Digest username=\"{}\", realm=\"{REALM}\", nonce=\"{nonce}\", uri=\"sip:{REALM}\", response=\"\", algorithm=AKAv1-MD5\r\n",
        impi(1)
    );
    let t = refusing.register_text(600, &auth);
    let r = refusing.request(&t).await;
    assert_eq!(r.status(), Some(403), "{r}");

    // unknown user: UAR DIAMETER_ERROR_USER_UNKNOWN → 403 from the I-CSCF (§5.3.1.2)
    let mut stranger = test_ue(999, ims.pcscf).await;
    let r = stranger.challenge(600).await;
    assert_eq!(r.status(), Some(403), "{r}");

    // a MESSAGE from a UE that is not registered → 403 from the P-CSCF (§5.2.6.3.1)
    let msg = format!(
        "MESSAGE sip:{t}@{REALM} SIP/2.0\r\nVia: SIP/2.0/UDP {l};branch=z9hG4bKm1;rport\r\n\
         Max-Forwards: 70\r\nFrom: <{f}>;tag=m1\r\nTo: <sip:{t}@{REALM}>\r\nCall-ID: m1\r\n\
         CSeq: 1 MESSAGE\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi",
        t = imsi(1),
        l = ue.local(),
        f = impu(2),
    );
    let r = ue.request(&msg).await;
    assert_eq!(r.status(), Some(403), "{r}");

    // a REGISTER that does not parse (SIPp's unsubstituted keyword line) → 400 with a reason
    let bad = ue.register_text(600, "[authentication username= aka_K=x]\r\n");
    let r = ue.request(&bad).await;
    assert_eq!(r.status(), Some(400), "{r}");
    assert!(r.reason().is_some_and(|p| !p.as_str().is_empty()));
    ims.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn icscf_tries_the_next_scscf_when_one_does_not_answer() {
    let dir = TempDir::new("failover");
    let mut plan = plan();
    with_dead_scscf(&mut plan, free_udp_port());
    plan.icscf_t1_ms = Some(60); // Timer F = 64·T1 = 3.84 s: long enough for a loaded machine
    let ims = plan.start(dir.path(), 1).await;
    let mut ue = test_ue(1, ims.pcscf).await;
    // the HSS has no S-CSCF for the user: UAA with capabilities, the I-CSCF tries the dead one
    // first (configuration order), then the live one (TS 24.229 §5.3.1.3)
    let (_, ok) = ue.register(600).await;
    assert_eq!(ok.status(), Some(200), "{ok}");
    let (_, server) = ims.hss_state(1).await;
    assert_eq!(server.as_deref(), Some(plan.scscf_name().as_str()));
    ims.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registrations_survive_a_restart_and_route_requests() {
    let dir = TempDir::new("restart");
    let plan = plan();
    let ims = plan.start(dir.path(), 2).await;
    let mut a = test_ue(1, ims.pcscf).await;
    let mut b = test_ue(2, ims.pcscf).await;
    assert_eq!(a.register(3600).await.1.status(), Some(200));
    assert_eq!(b.register(3600).await.1.status(), Some(200));
    ims.stop().await;

    // same data directory, new processes' worth of state
    let ims = plan.start(dir.path(), 2).await;
    let (state, _) = ims.hss_state(1).await;
    assert_eq!(state, RegistrationState::Registered);
    // A sends a MESSAGE to B: P-CSCF (Service-Route) → S-CSCF (orig) → I-CSCF (LIR) → S-CSCF
    // (term, B's contact along its Path) → P-CSCF (flow token) → B
    let msg = format!(
        "MESSAGE {to} SIP/2.0\r\nVia: SIP/2.0/UDP {l};branch=z9hG4bKmsg1;rport\r\n\
         Max-Forwards: 70\r\nRoute: <sip:pcscf.e2e.test:{p};lr>\r\nFrom: <{from}>;tag=a1\r\n\
         To: <{to}>\r\nCall-ID: msg-after-restart\r\nCSeq: 1 MESSAGE\r\n\
         Content-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello",
        to = impu(2),
        from = impu(1),
        l = a.local(),
        p = plan.pcscf_port,
    );
    a.send(&msg).await;
    // B receives it and answers 200
    let mut buf = vec![0u8; 65535];
    let (n, from) = tokio::time::timeout(Duration::from_secs(10), b.sock.recv_from(&mut buf))
        .await
        .expect("B receives the MESSAGE")
        .unwrap();
    let got = Message::parse(bytes::Bytes::copy_from_slice(&buf[..n])).unwrap();
    assert_eq!(got.method(), Some(sip::Method::Message), "{got}");
    assert_eq!(&got.body()[..], b"hello");
    assert_eq!(
        header(&got, "P-Asserted-Identity"),
        format!("<{}>", impu(1))
    );
    assert_eq!(got.request_uri().unwrap().to_string(), b.contact());
    let ok = sip_stack::ua::response(&got, 200, "OK", Some("b1"))
        .build()
        .unwrap();
    b.sock.send_to(&ok.wire(), from).await.unwrap();
    let r = a.recv_final().await;
    assert_eq!(r.status(), Some(200), "{r}");
    ims.stop().await;
    let _ = &mut a;
    let _ = &mut b;
}

/// The next SIP message the UE receives (10 s at most) and where from.
async fn next_message(ue: &TestUe) -> (Message, SocketAddr) {
    let mut buf = vec![0u8; 65535];
    let (n, from) = tokio::time::timeout(Duration::from_secs(10), ue.sock.recv_from(&mut buf))
        .await
        .expect("the UE receives a message")
        .unwrap();
    (
        Message::parse(bytes::Bytes::copy_from_slice(&buf[..n])).unwrap(),
        from,
    )
}

/// Receives until a NOTIFY arrives (answered 200) and, if `want_response`, the final response
/// to our request; returns (NOTIFY, response).
async fn notify_and_response(ue: &TestUe, want_response: bool) -> (Message, Option<Message>) {
    let (mut notify, mut resp) = (None, None);
    while notify.is_none() || (want_response && resp.is_none()) {
        let (m, from) = next_message(ue).await;
        if m.method() == Some(sip::Method::Notify) {
            let ok = sip_stack::ua::response(&m, 200, "OK", None)
                .build()
                .unwrap();
            ue.sock.send_to(&ok.wire(), from).await.unwrap();
            assert!(notify.is_none(), "one NOTIFY expected: {m}");
            notify = Some(m);
        } else if m.status().is_some_and(|s| s >= 200) {
            resp = Some(m);
        }
    }
    (notify.unwrap(), resp)
}

fn reg_subscribe(ue: &TestUe, pcscf_port: u16, target: &str, call_id: &str) -> String {
    format!(
        "SUBSCRIBE {target} SIP/2.0\r\nVia: SIP/2.0/UDP {l};branch=z9hG4bK{call_id};rport\r\n\
         Max-Forwards: 70\r\nRoute: <sip:pcscf.e2e.test:{pcscf_port};lr>\r\n\
         From: <{from}>;tag={call_id}\r\nTo: <{target}>\r\nCall-ID: {call_id}\r\n\
         CSeq: 1 SUBSCRIBE\r\nContact: <{contact}>\r\nEvent: reg\r\n\
         Accept: application/reginfo+xml\r\nExpires: 600000\r\nContent-Length: 0\r\n\r\n",
        l = ue.local(),
        from = ue.impu,
        contact = ue.contact(),
    )
}

/// Polls `f` every 50 ms for at most 10 s.
async fn eventually<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..200 {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for: {what}");
}

/// The reg event on the network (TS 24.229 §5.2.3, §5.4.2): the P-CSCF subscribes after the
/// 200; the UE subscribes through the P-CSCF and gets the full state; a stranger gets 403; the
/// operator de-registers the user at the HSS (RTR): the UE hears `rejected` through the P-CSCF,
/// then the P-CSCF, told by its own NOTIFY, removes the UE's registration.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reg_event_end_to_end_with_network_deregistration_and_pcscf_cleanup() {
    use cscf::store::RegSubscriber;
    use ue::reginfo::{ContactEvent, ContactState, DocState, RegState};
    let dir = TempDir::new("regev");
    let plan = plan();
    let ims = plan.start(dir.path(), 2).await;
    let store = SqliteStore::open_in_dir(dir.path()).await.unwrap();
    let mut a = test_ue(1, ims.pcscf).await;
    let mut b = test_ue(2, ims.pcscf).await;
    assert_eq!(a.register(3600).await.1.status(), Some(200));
    assert_eq!(b.register(3600).await.1.status(), Some(200));

    // the P-CSCF subscribed to A's registration (TS 24.229 §5.2.3)
    eventually("the P-CSCF's reg subscription", || async {
        store
            .reg_subscriptions_of(&impu(1))
            .await
            .unwrap()
            .iter()
            .any(|s| s.subscriber == RegSubscriber::Pcscf)
    })
    .await;

    // A subscribes through the P-CSCF: 200, then the full state
    a.send(&reg_subscribe(&a, plan.pcscf_port, &impu(1), "regev-a"))
        .await;
    let (notify, ok) = notify_and_response(&a, true).await;
    let ok = ok.unwrap();
    assert_eq!(ok.status(), Some(200), "{ok}");
    let tag = ok.to().unwrap().tag().unwrap().to_string();
    assert_eq!(notify.from().unwrap().tag(), Some(tag.as_str()));
    assert_eq!(notify.to().unwrap().tag(), Some("regev-a"));
    assert_eq!(notify.request_uri().unwrap().to_string(), a.contact());
    assert!(header(&notify, "Subscription-State").starts_with("active;expires="));
    let d = reginfo_check::reginfo_of(&notify);
    assert_eq!((d.version, d.state), (0, DocState::Full));
    assert_eq!(d.registrations[0].aor, impu(1));
    assert_eq!(d.registrations[0].state, RegState::Active);
    assert_eq!(d.registrations[0].contacts[0].uri, a.contact());
    assert_eq!(
        d.registrations[0].contacts[0].event,
        ContactEvent::Registered
    );

    // B (registered) asks for A's registration: 403
    let r = b
        .request(&reg_subscribe(&b, plan.pcscf_port, &impu(1), "regev-b"))
        .await;
    assert_eq!(r.status(), Some(403), "{r}");

    // network-initiated de-registration: HSS → RTR → S-CSCF → NOTIFY (rejected) to A
    let rep = ims
        .hss
        .as_ref()
        .unwrap()
        .deregister(&impi(1), "operator")
        .await
        .expect("RTR");
    assert_eq!(rep.result_code, 2001);
    let (notify, _) = notify_and_response(&a, false).await;
    let d = reginfo_check::reginfo_of(&notify);
    assert_eq!((d.version, d.state), (1, DocState::Partial));
    let c = &d.registrations[0].contacts[0];
    assert_eq!(
        (c.state, c.event),
        (ContactState::Terminated, ContactEvent::Rejected)
    );
    assert_eq!(d.registrations[0].state, RegState::Terminated);
    assert_eq!(
        header(&notify, "Subscription-State"),
        "terminated;reason=rejected"
    );
    assert_eq!(notify.cseq().unwrap().seq, 2);
    // the P-CSCF's own NOTIFY makes it forget A (after A's NOTIFY went through it)
    eventually("the P-CSCF forgets A", || async {
        store
            .get_ue_registration(&impu(1), &a.contact())
            .await
            .unwrap()
            .is_none()
    })
    .await;
    assert!(store.get_registration(&impu(1)).await.unwrap().is_none());
    assert!(store
        .reg_subscriptions_of(&impu(1))
        .await
        .unwrap()
        .is_empty());
    // B is untouched
    assert!(store
        .get_ue_registration(&impu(2), &b.contact())
        .await
        .unwrap()
        .is_some());
    // A's requests are now refused by the P-CSCF (not registered)
    let msg = format!(
        "MESSAGE {to} SIP/2.0\r\nVia: SIP/2.0/UDP {l};branch=z9hG4bKafter;rport\r\n\
         Max-Forwards: 70\r\nFrom: <{from}>;tag=m2\r\nTo: <{to}>\r\nCall-ID: after-rtr\r\n\
         CSeq: 1 MESSAGE\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi",
        to = impu(2),
        from = impu(1),
        l = a.local(),
    );
    let r = a.request(&msg).await;
    assert_eq!(r.status(), Some(403), "{r}");
    store.close().await;
    ims.stop().await;
    let _ = (&mut a, &mut b);
}

/// A UE simulator (`ue` crate) of demo subscriber `n`, running until stopped; its reports come
/// through the channel.
async fn sim_ue(
    n: u64,
    pcscf: SocketAddr,
) -> (
    tokio::task::JoinHandle<ue::driver::Outcome>,
    tokio::sync::mpsc::UnboundedReceiver<ue::driver::Report>,
    tokio::sync::watch::Sender<bool>,
) {
    use ue::driver::{RunOptions, TransportKind, Wire};
    let isim = ue::Isim::from_hex(
        &hex::encode(demo::DEMO_K),
        Some(&hex::encode(demo::DEMO_OP)),
        None,
        None,
    )
    .unwrap();
    let wire = Wire::udp(pcscf).await.unwrap();
    let local = wire.local_addr();
    let mut cfg = ue::UeConfig::new(
        impi(n),
        impu(n),
        REALM,
        local.ip().to_string(),
        local.port(),
    );
    cfg.transport = TransportKind::Udp.via_token().into();
    cfg.pcscf = Some((pcscf.ip().to_string(), pcscf.port()));
    cfg.expires = 3600;
    cfg.reg_event_expires = Some(600_000);
    let ue = ue::Ue::new(cfg, ue::Credentials::Aka(Box::new(isim))).unwrap();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(async move {
        let opts = RunOptions {
            trace: true,
            ..RunOptions::default()
        };
        ue::driver::run(ue, wire, &opts, stop_rx, move |r| {
            let _ = tx.send(r);
        })
        .await
    });
    (task, rx, stop_tx)
}

/// Waits (10 s at most) for a report matching `want`.
async fn report(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<ue::driver::Report>,
    what: &str,
    want: impl Fn(&ue::driver::Report) -> bool,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut seen = Vec::new();
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(r)) if want(&r) => return,
            Ok(Some(r)) => seen.push(r),
            Ok(None) => panic!("the UE ended before: {what}; it reported {seen:#?}"),
            Err(_) => panic!("timed out waiting for: {what}; the UE reported {seen:#?}"),
        }
    }
}

/// TS 24.229 §5.1.1.3 / §5.4.1.5 with the UE simulator: an RTR that lets the user back
/// (NEW_SERVER_ASSIGNED) gives `deactivated` and the UE registers again at once; an RTR with
/// PERMANENT_TERMINATION gives `rejected` and the UE stays off.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ue_simulator_reregisters_after_deactivated_and_stays_off_after_rejected() {
    use ue::driver::{Outcome, Report};
    let dir = TempDir::new("regev-sim");
    let plan = plan();
    let ims = plan.start(dir.path(), 2).await;
    let store = SqliteStore::open_in_dir(dir.path()).await.unwrap();
    let hss = ims.hss.as_ref().unwrap();

    let (ue1, mut rx1, stop1) = sim_ue(1, ims.pcscf).await;
    report(&mut rx1, "UE 1 subscribed", |r| {
        matches!(r, Report::SubscribeAnswered(200))
    })
    .await;
    let rep = hss
        .deregister_with_code(&impi(1), "", cx::enums::ReasonCode::NewServerAssigned)
        .await
        .unwrap();
    assert_eq!(rep.result_code, 2001);
    // deactivated: a new initial registration and a new subscription
    report(&mut rx1, "UE 1 registers again", |r| {
        matches!(r, Report::Registered { initial: true, .. })
    })
    .await;
    report(&mut rx1, "UE 1 subscribes again", |r| {
        matches!(r, Report::SubscribeAnswered(200))
    })
    .await;
    assert!(store.get_registration(&impu(1)).await.unwrap().is_some());
    assert_eq!(ims.hss_state(1).await.0, RegistrationState::Registered);

    let (ue2, mut rx2, _stop2) = sim_ue(2, ims.pcscf).await;
    report(&mut rx2, "UE 2 subscribed", |r| {
        matches!(r, Report::SubscribeAnswered(200))
    })
    .await;
    hss.deregister(&impi(2), "operator").await.unwrap();
    // rejected: the UE gives up and does not register again
    let out = tokio::time::timeout(Duration::from_secs(10), ue2)
        .await
        .expect("UE 2 ends")
        .unwrap();
    match out {
        Outcome::Failed(why) => assert!(why.contains("rejected"), "{why}"),
        other => panic!("UE 2 should have given up: {other:?}"),
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(store.get_registration(&impu(2)).await.unwrap().is_none());
    assert_ne!(ims.hss_state(2).await.0, RegistrationState::Registered);

    // UE 1 is still fine and de-registers when told to
    stop1.send(true).unwrap();
    let out = tokio::time::timeout(Duration::from_secs(40), ue1)
        .await
        .expect("UE 1 ends")
        .unwrap();
    assert_eq!(out, Outcome::Deregistered);
    store.close().await;
    ims.stop().await;
}
