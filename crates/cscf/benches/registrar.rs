//! CPU cost of one full IMS-AKA registration at the S-CSCF registrar: REGISTER → MAR → 401,
//! REGISTER → digest check → SAR → 200 OK, with the HSS's Cx server, both Diameter nodes
//! (TCP on loopback) and the UE's Milenage all on the benchmark thread (a current-thread tokio
//! runtime). Not included: SQLite work, which sqlx runs on its own threads (the HSS store and the
//! registration store). Each measured registration is followed, unmeasured, by a
//! de-registration so that every iteration is an initial registration.
//!
//! Run: `cargo bench -p cscf --bench registrar -- --warm-up-time 1 --measurement-time 5`
//!
//! Measured with the benchmark thread's CPU time (`benchkit::ThreadCpuTime`) and wall time.

#[path = "../tests/harness/mod.rs"]
mod harness;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use aka::digest::{self, DigestInput, Qop, QopParams};
use aka::sqn::{SqnConfig, UeSqnState};
use aka::usim::{authenticate, UsimOutcome};
use aka::{AkaNonce, Milenage};
use benchkit::{thread_cpu_time, ThreadCpuTime};
use criterion::measurement::Measurement;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use cscf::scscf::{Registrar, ScscfConfig};
use cscf::store::SqliteStore;
use harness::*;
use sip::Message;
use sip_stack::{Flow, Transport};

struct Ue {
    m: Milenage,
    sqn_cfg: SqnConfig,
    usim: UeSqnState,
    cseq: u32,
}

impl Ue {
    fn register(&mut self, expires: u32, authz: &str) -> Message {
        self.cseq += 1;
        let raw = format!(
            "REGISTER sip:{REALM} SIP/2.0\r\n\
             Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKb{}\r\n\
             Max-Forwards: 70\r\n\
             From: <{IMPU}>;tag=b{}\r\n\
             To: <{IMPU}>\r\n\
             Call-ID: bench\r\n\
             CSeq: {} REGISTER\r\n\
             Contact: <sip:alice@127.0.0.1:5070>\r\n\
             Path: <sip:term@pcscf.ims.example;lr>\r\n\
             Expires: {expires}\r\n\
             Authorization: {authz}\r\n\
             Content-Length: 0\r\n\r\n",
            self.cseq, self.cseq, self.cseq
        );
        Message::parse(raw.into_bytes()).expect("REGISTER parses")
    }

    fn answer(&mut self, resp: &Message) -> String {
        let ch = resp.www_authenticate().unwrap().expect("WWW-Authenticate");
        let nonce = ch.nonce().unwrap().to_string();
        let n = AkaNonce::decode(&nonce).unwrap();
        let UsimOutcome::Success { res, .. } = authenticate(
            &self.m,
            &self.sqn_cfg,
            &mut self.usim,
            &n.rand,
            &n.autn,
            None,
        )
        .unwrap() else {
            panic!("USIM refused the vector")
        };
        let uri = format!("sip:{REALM}");
        let input = DigestInput {
            nonce: &nonce,
            method: "REGISTER",
            uri: &uri,
            qop: Some(QopParams {
                qop: Qop::Auth,
                nc: "00000001",
                cnonce: "0a4f113b",
            }),
            body: b"",
        };
        let response = digest::response(&digest::ha1(IMPI, REALM, res.expose()), &input).unwrap();
        format!(
            "Digest username=\"{IMPI}\", realm=\"{REALM}\", nonce=\"{nonce}\", uri=\"{uri}\", \
             response=\"{response}\", algorithm=AKAv1-MD5, qop=auth, nc=00000001, \
             cnonce=\"0a4f113b\", integrity-protected=\"yes\""
        )
    }
}

fn flow() -> Flow {
    Flow {
        transport: Transport::Udp,
        local: SocketAddr::from(([127, 0, 0, 1], 6060)),
        remote: SocketAddr::from(([127, 0, 0, 1], 5070)),
        conn: None,
    }
}

async fn register_once(r: &Registrar, ue: &mut Ue) {
    let initial = format!(
        "Digest username=\"{IMPI}\", realm=\"{REALM}\", nonce=\"\", uri=\"sip:{REALM}\", response=\"\""
    );
    let c = r
        .handle_register(&ue.register(3600, &initial), &flow())
        .await;
    assert_eq!(c.status(), Some(401));
    let a = ue.answer(&c);
    let ok = r.handle_register(&ue.register(3600, &a), &flow()).await;
    assert_eq!(ok.status(), Some(200));
}

async fn deregister(r: &Registrar, ue: &mut Ue) {
    let prot = format!(
        "Digest username=\"{IMPI}\", realm=\"{REALM}\", nonce=\"\", uri=\"sip:{REALM}\", response=\"\", integrity-protected=\"yes\""
    );
    let ok = r.handle_register(&ue.register(0, &prot), &flow()).await;
    assert_eq!(ok.status(), Some(200));
}

fn registration<M: Measurement<Value = Duration>>(c: &mut Criterion<M>, prefix: &str, cpu: bool) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (net, registrar, dir) = rt.block_on(async {
        let net = Net::start().await;
        let dir = TempDir::new("cscf_bench_reg");
        let store = Arc::new(SqliteStore::open_in_dir(dir.path()).await.unwrap());
        let cfg = ScscfConfig {
            server_name: SCSCF_NAME.into(),
            realm: REALM.into(),
            ..ScscfConfig::default()
        };
        let r = Registrar::new(cfg, net.cx.clone(), store);
        (net, r, dir)
    });
    let sqn_cfg = SqnConfig::default();
    let mut ue = Ue {
        m: Milenage::with_op(
            &aka::K::from_hex(K).unwrap(),
            &aka::Op::from_hex(OP).unwrap(),
        ),
        usim: UeSqnState::new(&sqn_cfg).unwrap(),
        sqn_cfg,
        cseq: 0,
    };
    let mut g = c.benchmark_group(format!("{prefix}/scscf"));
    g.throughput(Throughput::Elements(1));
    g.sample_size(20);
    g.bench_function("full_aka_registration", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let (c0, w0) = (thread_cpu_time(), std::time::Instant::now());
                rt.block_on(register_once(&registrar, &mut ue));
                total += if cpu {
                    thread_cpu_time().saturating_sub(c0)
                } else {
                    w0.elapsed()
                };
                rt.block_on(deregister(&registrar, &mut ue));
            }
            total
        })
    });
    g.finish();
    drop(registrar);
    drop(net);
    drop(dir);
}

fn wall(c: &mut Criterion) {
    registration(c, "wall", false);
}

fn cpu(c: &mut Criterion<ThreadCpuTime>) {
    registration(c, "cpu", true);
}

criterion_group!(wall_time, wall);
criterion_group! {
    name = cpu_time;
    config = Criterion::default().with_measurement(ThreadCpuTime);
    targets = cpu
}
criterion_main!(wall_time, cpu_time);
