//! Cost of the UE core per registration (what bounds the load generator's CPU per UE):
//! Start → 401 (AKA: Milenage, SQN check, digest) → 200 OK, plus the reginfo parser and the trace
//! formatter.

use std::time::Instant;

use aka::sqn::{HomeSqn, IndPolicy, SqnConfig};
use aka::{Amf, AuthVector, Milenage, Opc, Rand, K};
use criterion::{criterion_group, criterion_main, Criterion};
use sip::{HeaderName, MessageBuilder};
use ue::{Action, Credentials, Event, Isim, OperatorKey, Ue, UeConfig};

const K_HEX: &str = "465b5ce8b199b49faa5f0a2ee238a6bc";
const OPC_HEX: &str = "cd63cb71954a9f4e48a5994e37a02baf";

fn sent(actions: &[Action]) -> sip::Message {
    actions
        .iter()
        .find_map(|a| match a {
            Action::Send { msg, .. } => Some(msg.clone()),
            _ => None,
        })
        .expect("nothing sent")
}

fn bench(c: &mut Criterion) {
    let k = K::from_hex(K_HEX).unwrap();
    let opc = Opc::from_hex(OPC_HEX).unwrap();
    let m = Milenage::new(&k, &opc);
    let sqn = SqnConfig::default()
        .next_sqn(HomeSqn::default(), IndPolicy::Cycle)
        .unwrap();
    let av = AuthVector::generate(&m, Rand([7; 16]), sqn, Amf([0x80, 0]));
    let www = sip::AuthHeader::digest()
        .with_quoted("realm", "ims.test")
        .with_quoted("nonce", av.sip_nonce())
        .with_quoted("qop", "auth")
        .with_token("algorithm", "AKAv1-MD5");
    let mut cfg = UeConfig::new("u@ims.test", "sip:u@ims.test", "ims.test", "10.0.0.1", 5060);
    cfg.reg_event_expires = None;

    c.bench_function("register_handshake_ue_side", |b| {
        b.iter(|| {
            let isim = Isim::new(&k, &OperatorKey::Opc(opc.clone()), Amf([0x80, 0])).unwrap();
            let mut ue = Ue::new(cfg.clone(), Credentials::Aka(Box::new(isim))).unwrap();
            let now = Instant::now();
            let r1 = sent(&ue.handle(Event::Start, now));
            let c401 = MessageBuilder::response_to(&r1, 401, "Unauthorized", Some("t"))
                .header(HeaderName::WwwAuthenticate, &www)
                .build()
                .unwrap();
            let r2 = sent(&ue.handle(Event::Response(c401), now));
            let ok = MessageBuilder::response_to(&r2, 200, "OK", Some("t"))
                .header(HeaderName::Expires, 3600)
                .build()
                .unwrap();
            let out = ue.handle(Event::Response(ok), now);
            assert!(out.iter().any(|a| matches!(a, Action::Registered { .. })));
        })
    });

    let body = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fuzz/corpus/reginfo/trace-full.xml"
    ))
    .unwrap();
    c.bench_function("reginfo_parse_trace_notify", |b| {
        b.iter(|| ue::reginfo::parse(&body).unwrap())
    });

    let msg = sip::Message::parse(
        std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fuzz/corpus/ue_input/401-aka.sip"
        ))
        .unwrap(),
    )
    .unwrap();
    c.bench_function("trace_line_401", |b| {
        b.iter(|| ue::trace::line(ue::trace::Direction::In, &msg))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
