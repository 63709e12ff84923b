//! The batched UDP engine of the load generator (`ue::load::engine`) against an in-test IMS-AKA
//! registrar on loopback UDP (RFC 3310 challenge from the `aka` crate, response checked with
//! `digest::verify_response`). The registrar misbehaves on demand: it drops the first copy of some
//! REGISTERs (RFC 3261 §17.1.2.2 Timer E must resend them), signs challenges with a wrong K for
//! some UEs (TS 33.102 §6.3.3 MAC failure), answers whole batches in reverse order, adds stray
//! datagrams, or never answers some UEs (Timer F).

use std::collections::HashSet;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aka::digest::{self, DigestInput, Qop, QopParams};
use aka::{AkaNonce, Amf, AuthVector, Milenage, Op, Rand, Sqn, K};
use sip::{Message, MessageBuilder, Method};
use ue::driver::TimerConfig;
use ue::load::engine::{self, EngineConfig};
use ue::load::{LoadConfig, LoadSecurity, Progress, Subscriber, Summary};

const K_HEX: &str = "465b5ce8b199b49faa5f0a2ee238a6bc";
const WRONG_K_HEX: &str = "00112233445566778899aabbccddeeff";
const OP_HEX: &str = "cdc202d5123e20f62b6d676ac72cb318";

/// How the registrar misbehaves. Subscribers are `u<N>@ims.test`; "UE n" below means user n.
#[derive(Default, Clone)]
struct Mode {
    /// Drop the first copy of the initial REGISTER (CSeq 1) of UEs with n % drop_every == 0.
    drop_every: Option<u64>,
    /// Challenge UEs with n % bad_mac_every == 0 with a vector made with another K.
    bad_mac_every: Option<u64>,
    /// Never answer UEs with n % silent_every == 0.
    silent_every: Option<u64>,
    /// Collect this many requests, then answer them in reverse order.
    reverse_batches: Option<usize>,
    /// Before each answer, send a response with an unknown Call-ID and a non-SIP datagram.
    strays: bool,
}

#[derive(Default)]
struct Counts {
    challenged: AtomicU64,
    accepted: AtomicU64,
    rejected: AtomicU64,
    dropped: AtomicU64,
    strays_sent: AtomicU64,
}

struct Registrar {
    addr: SocketAddr,
    counts: Arc<Counts>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Registrar {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn user_number(req: &Message) -> u64 {
    let from = req.from().expect("From").to_string();
    let start = from.find("sip:u").expect("sip:u<N>") + 5;
    from[start..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect::<String>()
        .parse()
        .expect("user number")
}

fn hits(every: Option<u64>, n: u64) -> bool {
    every.is_some_and(|e| n % e == 0)
}

fn answer(
    req: &Message,
    m: &Milenage,
    wrong: &Milenage,
    mode: &Mode,
    c: &Counts,
    seq: &mut u64,
) -> Option<bytes::Bytes> {
    if req.method() != Some(Method::Register) {
        return None;
    }
    let user = user_number(req);
    let auth = req
        .authorization()
        .expect("Authorization")
        .expect("Authorization");
    let nonce = auth.nonce().unwrap_or("");
    let msg = if nonce.is_empty() {
        c.challenged.fetch_add(1, Ordering::Relaxed);
        *seq += 1;
        let signer = if hits(mode.bad_mac_every, user) {
            wrong
        } else {
            m
        };
        let av = AuthVector::generate(
            signer,
            Rand::random(),
            Sqn::new(*seq << 5).unwrap(),
            Amf([0x80, 0]),
        );
        MessageBuilder::response_to(req, 401, "Unauthorized", Some("r"))
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
        let ha1 = digest::ha1_akav1(auth.username().unwrap(), auth.realm().unwrap(), &res);
        let input = DigestInput {
            nonce,
            method: "REGISTER",
            uri: auth.uri().unwrap(),
            qop: Some(QopParams {
                qop: Qop::Auth,
                nc: auth.nc().unwrap_or(""),
                cnonce: auth.cnonce().unwrap_or(""),
            }),
            body: b"",
        };
        let good = !auth.response().unwrap_or("").is_empty()
            && digest::verify_response(&ha1, &input, auth.response().unwrap()).unwrap_or(false);
        if good {
            c.accepted.fetch_add(1, Ordering::Relaxed);
            let exp = req.expires().ok().flatten().unwrap_or(3600);
            MessageBuilder::response_to(req, 200, "OK", Some("r"))
                .header("Expires", exp)
                .build()
                .unwrap()
        } else {
            c.rejected.fetch_add(1, Ordering::Relaxed);
            MessageBuilder::response_to(req, 403, "Forbidden", Some("r"))
                .build()
                .unwrap()
        }
    };
    Some(msg.wire())
}

fn registrar(mode: Mode) -> Registrar {
    // large buffers: the de-registrations of all UEs arrive in one burst
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None).unwrap();
    sock.set_recv_buffer_size(4 << 20).unwrap();
    sock.set_send_buffer_size(4 << 20).unwrap();
    sock.bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
        .unwrap();
    let sock: UdpSocket = sock.into();
    sock.set_read_timeout(Some(Duration::from_millis(20)))
        .unwrap();
    let addr = sock.local_addr().unwrap();
    let counts = Arc::new(Counts::default());
    let stop = Arc::new(AtomicBool::new(false));
    let (c, st) = (counts.clone(), stop.clone());
    let thread = std::thread::spawn(move || {
        let m = Milenage::with_op(&K::from_hex(K_HEX).unwrap(), &Op::from_hex(OP_HEX).unwrap());
        let wrong = Milenage::with_op(
            &K::from_hex(WRONG_K_HEX).unwrap(),
            &Op::from_hex(OP_HEX).unwrap(),
        );
        let mut dropped_for = HashSet::new();
        let mut buf = vec![0u8; 65535];
        let mut seq = 0u64;
        let mut held: Vec<(bytes::Bytes, SocketAddr)> = Vec::new();
        while !st.load(Ordering::Relaxed) {
            let got = sock.recv_from(&mut buf);
            let Ok((n, from)) = got else {
                // idle: release a partial reversed batch
                for (b, to) in held.drain(..).rev() {
                    let _ = sock.send_to(&b, to);
                }
                continue;
            };
            let Ok(req) = Message::parse(bytes::Bytes::copy_from_slice(&buf[..n])) else {
                continue;
            };
            if req.method() == Some(Method::Register) {
                let user = user_number(&req);
                if hits(mode.silent_every, user) {
                    continue;
                }
                let initial = req.cseq().map(|c| c.seq).unwrap_or(0) == 1;
                if initial && hits(mode.drop_every, user) && dropped_for.insert(user) {
                    c.dropped.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
            }
            let Some(resp) = answer(&req, &m, &wrong, &mode, &c, &mut seq) else {
                continue;
            };
            if mode.strays {
                let stray = MessageBuilder::response_to(&req, 200, "OK", Some("x"))
                    .build()
                    .unwrap()
                    .wire();
                let text = String::from_utf8_lossy(&stray).into_owned();
                let cid = req.call_id().unwrap().to_string();
                let stray = text.replace(&cid, "no-such-call@nowhere");
                let _ = sock.send_to(stray.as_bytes(), from);
                let _ = sock.send_to(b"\x00\x01not SIP at all", from);
                c.strays_sent.fetch_add(2, Ordering::Relaxed);
            }
            match mode.reverse_batches {
                Some(k) => {
                    held.push((resp, from));
                    if held.len() >= k {
                        for (b, to) in held.drain(..).rev() {
                            let _ = sock.send_to(&b, to);
                        }
                    }
                }
                None => {
                    let _ = sock.send_to(&resp, from);
                }
            }
        }
    });
    Registrar {
        addr,
        counts,
        stop,
        thread: Some(thread),
    }
}

fn subscribers(n: usize) -> Vec<Subscriber> {
    (0..n)
        .map(|i| Subscriber {
            impi: format!("u{i}@ims.test"),
            impu: format!("sip:u{i}@ims.test"),
            k: K_HEX.into(),
            op: Some(OP_HEX.into()),
            opc: None,
            amf: Some("8000".into()),
        })
        .collect()
}

/// RFC 3261 default timers (T1 500 ms) for runs that expect no loss.
const DEFAULT_TIMERS: TimerConfig = TimerConfig {
    t1: Duration::from_millis(500),
    t2: Duration::from_secs(4),
};
/// Faster timers for runs with loss: T1 50 ms, T2 400 ms, Timer F 3.2 s (not so fast that a
/// debug-build registrar on a busy machine sees a retransmission storm).
const FAST_TIMERS: TimerConfig = TimerConfig {
    t1: Duration::from_millis(50),
    t2: Duration::from_millis(400),
};

/// `ues` UEs at 500/s on `workers` threads and 3 sockets, one subscriber each.
fn run(
    reg: &Registrar,
    ues: usize,
    workers: usize,
    duration: Duration,
    timers: TimerConfig,
) -> (Summary, Arc<Progress>) {
    run_with(reg, ues, ues, workers, duration, timers)
}

/// `ues` UEs at 500/s on `workers` threads and 3 sockets, `subs` subscribers reused round-robin.
fn run_with(
    reg: &Registrar,
    subs: usize,
    ues: usize,
    workers: usize,
    duration: Duration,
    timers: TimerConfig,
) -> (Summary, Arc<Progress>) {
    let cfg = LoadConfig {
        pcscf: reg.addr,
        ues,
        rate: 500.0,
        duration,
        expires: 3600,
        reg_event: false,
        sockets: 3,
        timers,
        security: LoadSecurity::None,
    };
    let progress = Arc::new(Progress::default());
    let s = engine::run(
        &cfg,
        &subscribers(subs),
        progress.clone(),
        EngineConfig { workers },
    )
    .unwrap();
    (s, progress)
}

#[test]
fn all_ues_register_and_deregister() {
    let reg = registrar(Mode::default());
    // 7 subscribers for 300 UEs: UEs are clones of per-subscriber templates, each with its own
    // Call-ID and SQN state
    let (s, p) = run_with(&reg, 7, 300, 2, Duration::from_secs(1), DEFAULT_TIMERS);
    assert_eq!(s.ues_started, 300, "{s:?}");
    assert_eq!(s.registered, 300, "{s:?}");
    assert_eq!(s.deregistered, 300, "{s:?}");
    assert_eq!(s.failed, 0, "{s:?}");
    assert_eq!(s.latency.count, 300);
    assert!(s.latency.p50_ms > 0.0 && s.latency.p50_ms <= s.latency.max_ms);
    assert_eq!(s.retransmissions, 0, "{s:?}");
    assert_eq!(s.stray_messages, 0, "{s:?}");
    // each UE: one challenge; its registration and its de-registration accepted
    assert_eq!(reg.counts.challenged.load(Ordering::Relaxed), 300);
    assert_eq!(reg.counts.accepted.load(Ordering::Relaxed), 600);
    assert_eq!(p.registered.load(Ordering::Relaxed), 300);
    assert_eq!(p.finished.load(Ordering::Relaxed), 300);
    let per_second: u64 = s.timeline.iter().map(|t| t.registered).sum();
    assert_eq!(per_second, 300);
}

#[test]
fn lost_requests_are_retransmitted_and_counted() {
    let reg = registrar(Mode {
        drop_every: Some(4),
        ..Mode::default()
    });
    let (s, p) = run(&reg, 200, 1, Duration::from_secs(2), FAST_TIMERS);
    let dropped = reg.counts.dropped.load(Ordering::Relaxed);
    assert_eq!(dropped, 50);
    assert_eq!(s.registered, 200, "{s:?}");
    assert_eq!(s.failed, 0, "{s:?}");
    assert!(s.retransmissions >= dropped, "{s:?}");
    assert_eq!(p.retransmissions.load(Ordering::Relaxed), s.retransmissions);
    // a retransmission that crossed the late answer gives one stray (answer for a finished
    // transaction) at most per retransmission
    assert!(s.stray_messages <= s.retransmissions, "{s:?}");
}

#[test]
fn bad_mac_is_a_failure_cause() {
    let reg = registrar(Mode {
        bad_mac_every: Some(5),
        ..Mode::default()
    });
    let (s, _) = run(&reg, 100, 2, Duration::from_secs(1), DEFAULT_TIMERS);
    assert_eq!(s.registered, 80, "{s:?}");
    assert_eq!(s.deregistered, 80, "{s:?}");
    assert_eq!(s.failed, 20, "{s:?}");
    let (cause, n) = s.failures.iter().next().expect("a cause");
    assert_eq!(s.failures.len(), 1, "{s:?}");
    assert_eq!(*n, 20);
    assert!(
        cause.contains("AUTN MAC mismatch") && cause.starts_with("403"),
        "{cause}"
    );
    // the refused challenges were answered with an empty response (TS 24.229 §5.1.1.5.1)
    assert_eq!(reg.counts.rejected.load(Ordering::Relaxed), 20);
}

#[test]
fn out_of_order_answers_lose_no_ue() {
    let reg = registrar(Mode {
        reverse_batches: Some(7),
        ..Mode::default()
    });
    let (s, _) = run(&reg, 250, 2, Duration::from_secs(1), DEFAULT_TIMERS);
    assert_eq!(s.registered, 250, "{s:?}");
    assert_eq!(s.deregistered, 250, "{s:?}");
    assert_eq!(s.failed, 0, "{s:?}");
}

#[test]
fn stray_datagrams_are_counted_not_fatal() {
    let reg = registrar(Mode {
        strays: true,
        ..Mode::default()
    });
    let (s, _) = run(&reg, 100, 1, Duration::from_secs(1), DEFAULT_TIMERS);
    assert_eq!(s.registered, 100, "{s:?}");
    assert_eq!(s.failed, 0, "{s:?}");
    // 3 answers per UE (401, 200, 200 to the de-registration), 2 strays before each
    let sent = reg.counts.strays_sent.load(Ordering::Relaxed);
    assert!(sent >= 600, "{sent}");
    // every stray is counted; a retransmitted request adds its strays and a duplicate answer
    assert_eq!(sent, 600 + 2 * s.retransmissions, "{s:?}");
    assert!(
        s.stray_messages >= sent && s.stray_messages <= sent + s.retransmissions,
        "{s:?}"
    );
}

#[test]
fn silent_registrar_times_out_by_timer_f() {
    let reg = registrar(Mode {
        silent_every: Some(10),
        ..Mode::default()
    });
    let (s, _) = run(&reg, 100, 2, Duration::from_secs(4), FAST_TIMERS);
    assert_eq!(s.registered, 90, "{s:?}");
    assert_eq!(s.failed, 10, "{s:?}");
    assert_eq!(
        s.failures.get("timeout: no response to REGISTER"),
        Some(&10),
        "{s:?}"
    );
    // Timer E: 50, 100, 200, 400, 400, ... ms until Timer F (3.2 s): 10 resends per UE
    assert!(s.retransmissions >= 10 * 8, "{s:?}");
}
