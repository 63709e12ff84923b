//! The tokio driver and the load generator against an in-test IMS-AKA registrar on loopback UDP
//! (RFC 3310 challenge from the `aka` crate, response checked with `digest::verify_response`).
//! The registrar can drop the first copy of every REGISTER, which the driver must retransmit
//! (RFC 3261 §17.1.2.2 Timer E).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aka::digest::{self, DigestInput, Qop, QopParams};
use aka::{AkaNonce, Amf, AuthVector, Milenage, Op, Rand, Sqn, K};
use sip::{Message, MessageBuilder, Method};
use tokio::net::UdpSocket;
use tokio::sync::watch;
use ue::driver::{self, Outcome, Report, RunOptions, TimerConfig, Wire};
use ue::load::{self, LoadConfig, Progress, Subscriber};
use ue::{Credentials, Isim, Ue, UeConfig};

const K_HEX: &str = "465b5ce8b199b49faa5f0a2ee238a6bc";
const OP_HEX: &str = "cdc202d5123e20f62b6d676ac72cb318";

#[derive(Default)]
struct Counts {
    challenged: AtomicU64,
    accepted: AtomicU64,
    rejected: AtomicU64,
    dropped: AtomicU64,
}

/// Spawns the registrar; `drop_first` drops the first copy of each REGISTER (by branch).
async fn registrar(drop_first: bool) -> (SocketAddr, Arc<Counts>) {
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = sock.local_addr().unwrap();
    let counts = Arc::new(Counts::default());
    let c = counts.clone();
    let m = Milenage::with_op(&K::from_hex(K_HEX).unwrap(), &Op::from_hex(OP_HEX).unwrap());
    tokio::spawn(async move {
        let mut seen = std::collections::HashSet::new();
        // transactions answered so far: a retransmission (the UE's Timer E fired before our
        // answer arrived, e.g. on a loaded machine) is answered again but counted once
        let mut answered = std::collections::HashSet::new();
        let mut buf = vec![0u8; 65535];
        let mut seq = 0u64;
        loop {
            let Ok((n, from)) = sock.recv_from(&mut buf).await else {
                return;
            };
            let Ok(req) = Message::parse(bytes::Bytes::copy_from_slice(&buf[..n])) else {
                continue;
            };
            if req.method() != Some(Method::Register) {
                continue;
            }
            let branch = req.top_via().unwrap().branch().unwrap().to_string();
            if drop_first && seen.insert(branch.clone()) {
                c.dropped.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            let first_copy = answered.insert(branch);
            let count = |n: &AtomicU64| {
                if first_copy {
                    n.fetch_add(1, Ordering::Relaxed);
                }
            };
            let auth = req.authorization().unwrap().unwrap();
            let nonce = auth.nonce().unwrap_or("");
            let resp = if nonce.is_empty() {
                count(&c.challenged);
                seq += 1;
                let av = AuthVector::generate(
                    &m,
                    Rand::random(),
                    Sqn::new(seq << 5).unwrap(),
                    Amf([0x80, 0]),
                );
                MessageBuilder::response_to(&req, 401, "Unauthorized", Some("r"))
                    .header(
                        "WWW-Authenticate",
                        format!(
                            "Digest realm=\"ims.test\", nonce=\"{}\", algorithm=AKAv1-MD5, qop=\"auth\"",
                            av.sip_nonce()
                        ),
                    )
                    .build()
                    .unwrap()
            } else {
                let n = AkaNonce::decode(nonce).unwrap();
                let (res, _, _, _) = m.f2345(&n.rand);
                let ha1 = digest::ha1_akav1(auth.username().unwrap(), "ims.test", &res);
                let good = match (auth.nc(), auth.cnonce(), auth.response()) {
                    (Some(nc), Some(cnonce), Some(r)) if !r.is_empty() => {
                        let input = DigestInput {
                            nonce,
                            method: "REGISTER",
                            uri: auth.uri().unwrap(),
                            qop: Some(QopParams {
                                qop: Qop::Auth,
                                nc,
                                cnonce,
                            }),
                            body: b"",
                        };
                        digest::verify_response(&ha1, &input, r).unwrap()
                    }
                    // empty response: the UE refused the challenge (TS 24.229 §5.1.1.5.1)
                    _ => false,
                };
                if good {
                    count(&c.accepted);
                    let exp = req.expires().unwrap().unwrap_or(3600);
                    MessageBuilder::response_to(&req, 200, "OK", Some("r"))
                        .header("Expires", exp)
                        .build()
                        .unwrap()
                } else {
                    count(&c.rejected);
                    MessageBuilder::response_to(&req, 403, "Forbidden", Some("r"))
                        .header("Server", "test-registrar")
                        .build()
                        .unwrap()
                }
            };
            let _ = sock.send_to(&resp.wire(), from).await;
        }
    });
    (addr, counts)
}

fn fast_timers() -> TimerConfig {
    TimerConfig {
        t1: Duration::from_millis(50),
        t2: Duration::from_millis(400),
    }
}

fn ue_on(wire: &Wire, pcscf: SocketAddr, k: &str, expires: u32) -> Ue {
    let local = wire.local_addr();
    let mut cfg = UeConfig::new(
        "001@ims.test",
        "sip:001@ims.test",
        "ims.test",
        local.ip().to_string(),
        local.port(),
    );
    cfg.pcscf = Some((pcscf.ip().to_string(), pcscf.port()));
    cfg.expires = expires;
    cfg.reg_event_expires = None;
    let isim = Isim::from_hex(k, Some(OP_HEX), None, None).unwrap();
    Ue::new(cfg, Credentials::Aka(Box::new(isim))).unwrap()
}

#[tokio::test]
async fn retransmits_lost_requests_and_registers() {
    let (addr, counts) = registrar(true).await;
    let wire = Wire::udp(addr).await.unwrap();
    let ue = ue_on(&wire, addr, K_HEX, 3600);
    let dir = std::env::temp_dir().join(format!("ue-driver-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let state = dir.join("state.json");
    let _ = std::fs::remove_file(&state);
    let opts = RunOptions {
        state_file: Some(state.clone()),
        timers: fast_timers(),
        once: true,
        trace: true,
    };
    let (_stop_tx, stop) = watch::channel(false);
    let mut reports = Vec::new();
    let out = tokio::time::timeout(
        Duration::from_secs(10),
        driver::run(ue, wire, &opts, stop, |r| reports.push(r)),
    )
    .await
    .expect("bounded");
    assert_eq!(out, Outcome::Registered);
    let retx = reports
        .iter()
        .filter(|r| matches!(r, Report::Retransmission))
        .count();
    assert_eq!(retx, 2, "one retransmission per dropped REGISTER");
    assert_eq!(counts.dropped.load(Ordering::Relaxed), 2);
    assert_eq!(counts.accepted.load(Ordering::Relaxed), 1);
    let traced: Vec<&String> = reports
        .iter()
        .filter_map(|r| match r {
            Report::Trace(l) => Some(l),
            _ => None,
        })
        .collect();
    assert!(traced.iter().any(|l| l.ends_with("(retransmission)")));
    assert!(traced.iter().any(|l| l.starts_with("<-- 200 OK")));
    let st = ue::isim::load_state(&state)
        .unwrap()
        .expect("state written");
    assert_eq!(
        st,
        ue::isim::load_state(&state).unwrap().unwrap(),
        "state readable"
    );
    assert!(serde_json::to_string(&st)
        .unwrap()
        .contains("\"seq_ms\":[1,"));
}

#[tokio::test]
async fn gives_up_after_timer_f_and_reports_wrong_credentials() {
    // nobody listens: Timer F (64·T1) ends the attempt
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap();
    let wire = Wire::udp(addr).await.unwrap();
    let ue = ue_on(&wire, addr, K_HEX, 3600);
    let opts = RunOptions {
        timers: TimerConfig {
            t1: Duration::from_millis(10),
            t2: Duration::from_millis(80),
        },
        once: true,
        ..RunOptions::default()
    };
    let (_tx, stop) = watch::channel(false);
    let mut retx = 0;
    let out = tokio::time::timeout(
        Duration::from_secs(10),
        driver::run(ue, wire, &opts, stop, |r| {
            retx += usize::from(matches!(r, Report::Retransmission))
        }),
    )
    .await
    .expect("bounded");
    assert_eq!(
        out,
        Outcome::Failed("timeout: no response to REGISTER".into())
    );
    // E doubles 10, 20, 40, 80, 80 … within F = 640 ms
    assert!((8..=11).contains(&retx), "{retx} retransmissions");

    // a UE with another K than the registrar's: the AUTN MAC check fails on the UE
    let (addr, counts) = registrar(false).await;
    let wire = Wire::udp(addr).await.unwrap();
    let ue = ue_on(&wire, addr, "00112233445566778899aabbccddeeff", 3600);
    let (_tx, stop) = watch::channel(false);
    let out = driver::run(ue, wire, &opts, stop, |_| {}).await;
    let Outcome::Failed(reason) = out else {
        panic!("{out:?}")
    };
    assert!(
        reason.starts_with("403 from test-registrar: Forbidden") && reason.contains("AUTN MAC"),
        "{reason}"
    );
    assert_eq!(counts.rejected.load(Ordering::Relaxed), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_registers_reregisters_and_deregisters_every_ue() {
    let (addr, counts) = registrar(false).await;
    let subs: Vec<Subscriber> = (0..10)
        .map(|i| Subscriber {
            impi: format!("00{i}@ims.test"),
            impu: format!("sip:00{i}@ims.test"),
            k: K_HEX.into(),
            op: Some(OP_HEX.into()),
            opc: None,
            amf: None,
        })
        .collect();
    let cfg = LoadConfig {
        pcscf: addr,
        ues: 50,
        rate: 100.0,
        duration: Duration::from_millis(2500),
        expires: 2,
        reg_event: false,
        sockets: 2,
        timers: fast_timers(),
        security: Default::default(),
    };
    let progress = Arc::new(Progress::default());
    let s = tokio::time::timeout(
        Duration::from_secs(20),
        load::run(&cfg, &subs, progress.clone()),
    )
    .await
    .expect("bounded")
    .unwrap();
    assert_eq!(s.ues_started, 50);
    assert_eq!(s.registered, 50, "{s:?}");
    assert_eq!(s.failed, 0, "{:?}", s.failures);
    assert_eq!(s.deregistered, 50);
    // expires 2 → refresh after 1 s: every UE re-registers at least once in 2.5 s
    assert!(s.reregistered >= 50, "{s:?}");
    assert_eq!(s.latency.count, 50);
    assert!(s.latency.p50_ms > 0.0 && s.latency.p50_ms <= s.latency.max_ms);
    // 50 initial + re-registrations + 50 de-registrations, each accepted by the registrar
    assert_eq!(
        counts.accepted.load(Ordering::Relaxed),
        50 + s.reregistered + 50
    );
    assert_eq!(progress.finished.load(Ordering::Relaxed), 50);
    let per_sec: u64 = s.timeline.iter().map(|x| x.registered).sum();
    assert_eq!(per_sec, 50 + s.reregistered);
}
