//! Security agreement over TLS with the real UE driver against the in-process IMS core (HSS, S-,
//! I- and P-CSCF; the P-CSCF with a TLS listener): "TLS during registration" (TS 33.203 Annex O:
//! Security-Client: tls, 401 with Security-Server: tls, protected REGISTER with Security-Verify
//! over TLS) and "TLS prior to registration" (the reference TLS call flows), each through
//! registration, re-registration and de-registration. A relay between the P-CSCF and the I-CSCF
//! records the REGISTERs the core receives, so the `integrity-protected` values the S-CSCF sees
//! (TS 24.229 §5.2.2: absent/`no`, then `tls-pending`, then `tls-yes`) are checked directly.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cscf::pcscf::sec_config::SecAgreeSetting;
use hss::provision::demo;
use sip::{Message, Method};
use testkit::scratch::TempDir;
use tokio::net::UdpSocket;
use tokio::sync::watch;
use ue::driver::{self, Outcome, Report, RunOptions, Security, TimerConfig, Wire};
use ue::tls::TlsClient;
use ue::{Credentials, Isim, Ue, UeConfig};

#[path = "../../cscf/tests/harness/ims_core.rs"]
mod ims_core;

use ims_core::{Core, CoreBuilder, REALM};

/// A UDP relay in front of the I-CSCF: requests from the P-CSCF are recorded and forwarded,
/// whatever comes back from the I-CSCF goes to the P-CSCF.
struct Relay {
    port: u16,
    seen: Arc<Mutex<Vec<Message>>>,
}

impl Relay {
    /// Binds the relay; `start_forwarding` gives it the two ends.
    async fn bind() -> (Relay, UdpSocket) {
        let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let port = sock.local_addr().unwrap().port();
        (
            Relay {
                port,
                seen: Arc::new(Mutex::new(Vec::new())),
            },
            sock,
        )
    }

    /// Requests (from the P-CSCF) are recorded and go to the I-CSCF; responses go to the P-CSCF.
    fn forward(&self, sock: UdpSocket, pcscf: u16, icscf: u16) {
        let s = self.seen.clone();
        let icscf: SocketAddr = format!("127.0.0.1:{icscf}").parse().unwrap();
        let pcscf: SocketAddr = format!("127.0.0.1:{pcscf}").parse().unwrap();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 65_535];
            loop {
                let Ok((n, _)) = sock.recv_from(&mut buf).await else {
                    return;
                };
                let Ok(m) = Message::parse(bytes::Bytes::copy_from_slice(&buf[..n])) else {
                    continue;
                };
                let to = if m.is_request() {
                    s.lock().unwrap().push(m);
                    icscf
                } else {
                    pcscf
                };
                let _ = sock.send_to(&buf[..n], to).await;
            }
        });
    }

    /// `integrity-protected` of every distinct REGISTER (by branch) the core received, in order
    /// ("-" when absent).
    fn integrity_protected(&self) -> Vec<String> {
        let mut branches = Vec::new();
        let mut out = Vec::new();
        for m in self.seen.lock().unwrap().iter() {
            if m.method() != Some(Method::Register) {
                continue;
            }
            let b = m
                .top_via()
                .ok()
                .and_then(|v| v.branch().map(|b| b.to_string()));
            if branches.contains(&b) {
                continue; // a retransmission
            }
            branches.push(b);
            let ip = m
                .authorization()
                .ok()
                .flatten()
                .and_then(|a| a.get("integrity-protected").map(|v| v.to_string()))
                .unwrap_or_else(|| "-".into());
            out.push(ip);
        }
        out
    }
}

struct Ims {
    core: Core,
    /// The P-CSCF's UDP listener.
    udp: SocketAddr,
    /// The P-CSCF's TLS listener.
    tls: SocketAddr,
    /// What the P-CSCF sent towards the I-CSCF.
    relay: Relay,
    /// The P-CSCF's certificate (PEM).
    cert: String,
}

impl Ims {
    /// HSS + S/I/P-CSCF; the P-CSCF with `sec_agree` and a TLS listener with a generated
    /// certificate for 127.0.0.1 and pcscf.sa.test (written as PEM files).
    async fn start(dir: &Path, sec_agree: SecAgreeSetting) -> Ims {
        let mut b = CoreBuilder::loopback("sa.test");
        b.tcp = true;
        b.pcscf_tls_listener();
        // the P-CSCF reaches the I-CSCF through a relay that records what it forwards
        let (relay, relay_sock) = Relay::bind().await;
        relay.forward(relay_sock, b.pcscf_port, b.icscf_port);
        b.hosts.push(("relay".into(), relay.port));
        b.pcscf_next_hop = Some(format!("sip:relay.sa.test:{}", relay.port));
        b.scscf.min_expires = 2;
        b.pcscf.sec_agree = sec_agree;
        let cert = b.pcscf_cert_files(dir);
        let core = b.start(dir, 4).await;
        let tls = core.pcscf_tls();
        Ims {
            udp: core.pcscf,
            tls,
            core,
            relay,
            cert,
        }
    }

    async fn stop(self) {
        self.core.stop().await
    }
}

fn fast_timers() -> TimerConfig {
    TimerConfig {
        t1: Duration::from_millis(100),
        t2: Duration::from_millis(800),
    }
}

/// A UE for demo subscriber `n` whose first flow is `wire`.
fn demo_ue(n: u64, wire: &Wire, pcscf: SocketAddr, transport: &str, tls_offer: bool) -> Ue {
    let imsi = demo::demo_imsi(n);
    let local = wire.local_addr();
    let mut cfg = UeConfig::new(
        format!("{imsi}@{REALM}"),
        format!("sip:{imsi}@{REALM}"),
        REALM,
        local.ip().to_string(),
        local.port(),
    );
    cfg.transport = transport.into();
    cfg.pcscf = Some((pcscf.ip().to_string(), pcscf.port()));
    cfg.expires = 4;
    cfg.reg_event_expires = None;
    cfg.security.tls = tls_offer;
    let isim = Isim::from_hex(
        &hex(&demo::DEMO_K),
        Some(&hex(&demo::DEMO_OP)),
        None,
        Some("8000"),
    )
    .unwrap();
    Ue::new(cfg, Credentials::Aka(Box::new(isim))).unwrap()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Runs `ue` until it has re-registered once, then stops it (de-registration); returns the
/// outcome and the reports. Bounded by 30 s.
async fn register_refresh_deregister(
    ue: Ue,
    wire: Wire,
    security: Security,
) -> (Outcome, Vec<Report>) {
    let opts = RunOptions {
        timers: fast_timers(),
        trace: true,
        ..RunOptions::default()
    };
    let (stop_tx, stop) = watch::channel(false);
    let mut reports = Vec::new();
    let out = tokio::time::timeout(
        Duration::from_secs(30),
        driver::run_with(ue, wire, security, &opts, stop, |r| {
            if matches!(r, Report::Registered { initial: false, .. }) {
                let _ = stop_tx.send(true);
            }
            reports.push(r);
        }),
    )
    .await
    .expect("registration, refresh and de-registration within 30 s");
    (out, reports)
}

fn ladder(reports: &[Report]) -> String {
    reports
        .iter()
        .filter_map(|r| match r {
            Report::Trace(l) => Some(l.as_str()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_during_registration_register_refresh_deregister() {
    let dir = TempDir::new("ue-tls-during");
    let ims = Ims::start(dir.path(), SecAgreeSetting::Required).await;
    let wire = Wire::udp(ims.udp).await.unwrap();
    let ue = demo_ue(1, &wire, ims.udp, "UDP", true);
    // the P-CSCF's certificate is verified (CA = the self-signed certificate, name 127.0.0.1)
    let client = TlsClient::with_ca_pem(ims.cert.as_bytes(), "127.0.0.1").unwrap();
    let (out, reports) = register_refresh_deregister(
        ue,
        wire,
        Security::Tls {
            pcscf: ims.tls,
            client,
        },
    )
    .await;
    let l = ladder(&reports);
    assert_eq!(out, Outcome::Deregistered, "{l}");
    // initial REGISTER over UDP: no integrity-protected (tls chosen, reference flow step 2);
    // the protected REGISTER over TLS: tls-pending; the refresh and the de-registration on the
    // same connection: tls-yes
    assert_eq!(
        ims.relay.integrity_protected(),
        ["-", "tls-pending", "tls-yes", "tls-yes"],
        "{l}"
    );
    // the ladder: 401 over UDP, then everything over TLS
    assert!(l.contains("<-- 401"), "{l}");
    assert!(
        reports
            .iter()
            .any(|r| matches!(r, Report::Registered { initial: true, .. })),
        "{l}"
    );
    ims.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_during_registration_refuses_an_untrusted_certificate() {
    let dir = TempDir::new("ue-tls-untrusted");
    let ims = Ims::start(dir.path(), SecAgreeSetting::Required).await;
    let wire = Wire::udp(ims.udp).await.unwrap();
    let ue = demo_ue(2, &wire, ims.udp, "UDP", true);
    // a CA that did not sign the P-CSCF's certificate
    let (other, _) = sip_stack::generate_self_signed(&["127.0.0.1"]).unwrap();
    let client = TlsClient::with_ca_pem(other.as_bytes(), "127.0.0.1").unwrap();
    let opts = RunOptions {
        timers: fast_timers(),
        once: true,
        ..RunOptions::default()
    };
    let (_tx, stop) = watch::channel(false);
    let out = tokio::time::timeout(
        Duration::from_secs(20),
        driver::run_with(
            ue,
            wire,
            Security::Tls {
                pcscf: ims.tls,
                client,
            },
            &opts,
            stop,
            |_| {},
        ),
    )
    .await
    .expect("bounded");
    let Outcome::Failed(reason) = out else {
        panic!("{out:?}")
    };
    assert!(reason.contains("TLS handshake"), "{reason}");
    // the core never saw a protected REGISTER
    assert_eq!(ims.relay.integrity_protected(), ["-"]);
    ims.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_prior_to_registration_register_refresh_deregister() {
    let dir = TempDir::new("ue-tls-prior");
    let ims = Ims::start(dir.path(), SecAgreeSetting::Optional).await;
    let client = TlsClient::insecure("pcscf.sa.test").unwrap();
    let wire = Wire::tls(ims.tls, &client).await.unwrap();
    let ue = demo_ue(3, &wire, ims.tls, "TLS", false);
    let (out, reports) = register_refresh_deregister(ue, wire, Security::None).await;
    let l = ladder(&reports);
    assert_eq!(out, Outcome::Deregistered, "{l}");
    // no sec-agree headers at all (reference flow), then tls-pending, then tls-yes
    assert!(!l.contains("Security-"), "{l}");
    assert_eq!(
        ims.relay.integrity_protected(),
        ["-", "tls-pending", "tls-yes", "tls-yes"],
        "{l}"
    );
    ims.stop().await;
}
