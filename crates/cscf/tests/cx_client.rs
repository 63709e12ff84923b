//! `cscf::cx_client::CxClient` against the real HSS Cx server over Diameter/TCP on loopback:
//! every command, answers with error results returned as answers, unique Session-Ids, and
//! transport failures (no peer, no answer in time) reported as distinct errors. The metrics are
//! checked through a small recorder installed for this test binary.

mod harness;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use cscf::cx_client::{CxClient, CxClientConfig};
use cscf::CscfError;
use cx::enums::{ServerAssignmentType as T, UserAuthorizationType as U, UserDataAlreadyAvailable};
use cx::result::ExperimentalResultCode as X;
use cx::CxResult;
use diameter::{Message, Node};
use harness::*;
use hss::model::RegistrationState;
use metrics::{
    Counter, CounterFn, Gauge, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder,
    SharedString, Unit,
};

// ---- a minimal recorder: counter values and histogram sample counts by rendered key ----

#[derive(Default)]
struct Store {
    counters: Mutex<HashMap<String, u64>>,
    samples: Mutex<HashMap<String, u64>>,
}

struct Handle(Arc<Store>, String);

impl CounterFn for Handle {
    fn increment(&self, v: u64) {
        *self
            .0
            .counters
            .lock()
            .unwrap()
            .entry(self.1.clone())
            .or_default() += v;
    }
    fn absolute(&self, v: u64) {
        self.0.counters.lock().unwrap().insert(self.1.clone(), v);
    }
}

impl HistogramFn for Handle {
    fn record(&self, _v: f64) {
        *self
            .0
            .samples
            .lock()
            .unwrap()
            .entry(self.1.clone())
            .or_default() += 1;
    }
}

struct TestRecorder(Arc<Store>);

fn render(key: &Key) -> String {
    let mut labels: Vec<String> = key
        .labels()
        .map(|l| format!("{}={}", l.key(), l.value()))
        .collect();
    labels.sort();
    format!("{}{{{}}}", key.name(), labels.join(","))
}

impl Recorder for TestRecorder {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(Arc::new(Handle(self.0.clone(), render(key))))
    }
    fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::noop()
    }
    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::from_arc(Arc::new(Handle(self.0.clone(), render(key))))
    }
}

fn metrics_store() -> Arc<Store> {
    static S: OnceLock<Arc<Store>> = OnceLock::new();
    S.get_or_init(|| {
        let s = Arc::new(Store::default());
        metrics::set_global_recorder(TestRecorder(s.clone())).expect("recorder");
        s
    })
    .clone()
}

fn counter(s: &Store, key: &str) -> u64 {
    s.counters.lock().unwrap().get(key).copied().unwrap_or(0)
}

fn samples(s: &Store, key: &str) -> u64 {
    s.samples.lock().unwrap().get(key).copied().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uar_mar_sar_lir_against_hss() {
    let m = metrics_store();
    let mar_before = samples(&m, "imscore_diameter_round_trip_seconds{command=MAR}");
    let unknown_before = counter(
        &m,
        "imscore_diameter_answers_total{command=UAR,result=5001}",
    );
    let net = Net::start().await;
    let cx = &net.cx;

    // UAR: unknown user is an answer (Experimental-Result 5001), not an error.
    let a = cx
        .uar("nobody@ims.example", IMPU, REALM, U::Registration)
        .await
        .unwrap();
    assert_eq!(a.common.result, CxResult::experimental(X::ErrorUserUnknown));
    let a = cx.uar(IMPI, IMPU, REALM, U::Registration).await.unwrap();
    assert_eq!(
        a.common.result,
        CxResult::experimental(X::FirstRegistration)
    );

    // MAR: one AKAv1 vector with RAND‖AUTN, XRES, CK, IK.
    let a = cx
        .mar(
            IMPI,
            IMPU,
            cx::scheme::DIGEST_AKAV1_MD5,
            None,
            1,
            SCSCF_NAME,
        )
        .await
        .unwrap();
    assert_eq!(a.common.result, CxResult::SUCCESS);
    assert_eq!(a.sip_auth_data_items.len(), 1);
    let item = &a.sip_auth_data_items[0];
    assert_eq!(item.authenticate.as_ref().map(|b| b.len()), Some(32));
    assert!(item.authorization.is_some());
    assert_eq!(
        item.confidentiality_key.as_ref().map(|k| k.expose().len()),
        Some(16)
    );
    // Three vectors when asked for three.
    let a = cx
        .mar(
            IMPI,
            IMPU,
            cx::scheme::DIGEST_AKAV1_MD5,
            None,
            3,
            SCSCF_NAME,
        )
        .await
        .unwrap();
    assert_eq!(a.sip_auth_data_items.len(), 3);
    // A resynchronisation with garbage AUTS is rejected by the HSS: still an answer.
    let a = cx
        .mar(
            IMPI,
            IMPU,
            cx::scheme::DIGEST_AKAV1_MD5,
            Some(Bytes::from(vec![7u8; 30])),
            1,
            SCSCF_NAME,
        )
        .await
        .unwrap();
    assert!(!a.common.result.is_success());

    // SAR REGISTRATION: User-Data, HSS state registered with our server name.
    let a = cx
        .sar(
            Some(IMPI),
            &[IMPU.to_string()],
            SCSCF_NAME,
            T::Registration,
            UserDataAlreadyAvailable::UserDataNotAvailable,
        )
        .await
        .unwrap();
    assert_eq!(a.common.result, CxResult::SUCCESS);
    let profile = a.user_data().unwrap().expect("User-Data");
    assert_eq!(profile.private_id, IMPI);
    assert_eq!(
        net.state(IMPU).await.identity.state,
        RegistrationState::Registered
    );

    // LIR: the S-CSCF name.
    let a = cx.lir(TEL).await.unwrap();
    assert_eq!(a.common.result, CxResult::SUCCESS);
    assert_eq!(a.server_name.as_deref(), Some(SCSCF_NAME));

    // SAR USER_DEREGISTRATION.
    let a = cx
        .sar(
            Some(IMPI),
            &[IMPU.to_string()],
            SCSCF_NAME,
            T::UserDeregistration,
            UserDataAlreadyAvailable::UserDataAlreadyAvailable,
        )
        .await
        .unwrap();
    assert_eq!(a.common.result, CxResult::SUCCESS);
    assert_eq!(
        net.state(IMPU).await.identity.state,
        RegistrationState::NotRegistered
    );

    assert!(samples(&m, "imscore_diameter_round_trip_seconds{command=MAR}") >= mar_before + 3);
    assert!(
        counter(
            &m,
            "imscore_diameter_answers_total{command=UAR,result=5001}"
        ) > unknown_before
    );
    assert!(
        counter(
            &m,
            "imscore_diameter_answers_total{command=SAR,result=2001}"
        ) >= 2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_ids_are_unique_and_well_formed() {
    let net = Net::start().await;
    let mut seen = std::collections::HashSet::new();
    for _ in 0..50 {
        let id = net.cx.new_session_id();
        // RFC 6733 §8.8: <DiameterIdentity>;<high 32 bits>;<low 32 bits>
        let parts: Vec<&str> = id.split(';').collect();
        assert_eq!(parts.len(), 3, "{id}");
        assert_eq!(parts[0], "scscf.ims.example");
        assert!(
            parts[1].parse::<u32>().is_ok() && parts[2].parse::<u32>().is_ok(),
            "{id}"
        );
        assert!(seen.insert(id));
    }
    // The answer echoes the Session-Id of its own request.
    let a = net.cx.lir(IMPU).await.unwrap();
    assert!(a.common.session_id.starts_with("scscf.ims.example;"));
    assert!(!seen.contains(&a.common.session_id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transport_failures_are_errors_not_answers() {
    let m = metrics_store();
    // No peer at all: not delivered.
    let node = Arc::new(
        Node::start(
            node_cfg("lonely.ims.example", false, vec![]),
            |r: Message| async move { r.answer() },
        )
        .await
        .unwrap(),
    );
    let cfg = CxClientConfig {
        origin_host: "lonely.ims.example".into(),
        origin_realm: REALM.into(),
        destination_realm: REALM.into(),
        destination_host: None,
        timeout: Duration::from_millis(300),
    };
    let cx = CxClient::new(node, cfg.clone());
    let e = cx.lir(IMPU).await.unwrap_err();
    assert!(
        matches!(e, CscfError::DiameterUnavailable { command: "LIR", .. }),
        "{e:?}"
    );
    assert!(e.is_diameter_transport());
    assert!(
        counter(
            &m,
            "imscore_diameter_answers_total{command=LIR,result=unavailable}"
        ) >= 1
    );

    // A peer that never answers: timeout.
    let silent = Node::start(node_cfg(HSS_HOST, true, vec![]), |r: Message| async move {
        tokio::time::sleep(Duration::from_secs(30)).await;
        r.answer()
    })
    .await
    .unwrap();
    let (node, _) = client_to(silent.local_addr(), "waiting.ims.example").await;
    let cx = CxClient::new(
        node,
        CxClientConfig {
            origin_host: "waiting.ims.example".into(),
            ..cfg
        },
    );
    let e = cx
        .mar(
            IMPI,
            IMPU,
            cx::scheme::DIGEST_AKAV1_MD5,
            None,
            1,
            SCSCF_NAME,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(e, CscfError::DiameterTimeout { command: "MAR" }),
        "{e:?}"
    );
    assert!(e.is_diameter_transport());
    assert!(
        counter(
            &m,
            "imscore_diameter_answers_total{command=MAR,result=timeout}"
        ) >= 1
    );

    // A peer answering something that is not a Cx answer: a bad answer, not transport.
    let odd = Node::start(node_cfg(HSS_HOST, true, vec![]), |r: Message| async move {
        let mut a = r.answer();
        a.avps.clear();
        a
    })
    .await
    .unwrap();
    let (node, _) = client_to(odd.local_addr(), "odd.ims.example").await;
    let cx = CxClient::new(
        node,
        CxClientConfig {
            origin_host: "odd.ims.example".into(),
            ..cx.config().clone()
        },
    );
    let e = cx.lir(IMPU).await.unwrap_err();
    assert!(
        matches!(e, CscfError::DiameterBadAnswer { command: "LIR", .. }),
        "{e:?}"
    );
    assert!(!e.is_diameter_transport());
}
