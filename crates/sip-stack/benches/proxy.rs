//! The proxy hot path: receive (bytes) → parse → check (§16.3) → edit (§16.4/§16.6: Via stamp,
//! Max-Forwards, Route pop, Path, our Via) → serialize, for the initial REGISTER at the P-CSCF.
//! Target: ≤ 3 µs per message. Also the same plus a stateful pass through the transaction layer.
//!
//! The `proxy/` group reports wall-clock time. The `cpu/` group measures the same target and its
//! parts with the thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`, [`benchkit::ThreadCpuTime`]),
//! which does not count time the thread spends descheduled: on a shared, loaded host that is the
//! figure to compare.

use bytes::Bytes;
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use sip::{HeaderName, Message};
use sip_stack::proxy::{check_request, path_value, prepare_forward, ProxyConfig};
use sip_stack::{Flow, LayerConfig, TransactionLayer, Transport};
use std::time::Instant;

const REGISTER: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/testdata/sip/01-register-initial.sip"
));

fn cfg() -> ProxyConfig {
    let mut c = ProxyConfig::new("2001:0:0:1::2", 5060);
    c.supported.push("sec-agree".into());
    c
}

fn flow() -> Flow {
    Flow {
        transport: Transport::Udp,
        local: "[2001:0:0:1::2]:5060".parse().unwrap(),
        remote: "[2001::1:d1ae:bb37:d9c9:81d0]:5060".parse().unwrap(),
        conn: None,
    }
}

fn forward(raw: &Bytes, cfg: &ProxyConfig, flow: &Flow) -> Bytes {
    let msg = Message::parse(raw.clone()).expect("parse");
    check_request(&msg, cfg).expect("check");
    let mut p = prepare_forward(&msg, flow, cfg).expect("prepare");
    p.editor
        .prepend(HeaderName::Path, path_value(cfg, Transport::Udp))
        .expect("path");
    p.finish(Transport::Udp).expect("finish")
}

fn bench(c: &mut Criterion) {
    let raw = Bytes::from_static(REGISTER);
    let cfg = cfg();
    let flow = flow();
    let mut g = c.benchmark_group("proxy");
    g.throughput(Throughput::Elements(1));
    g.bench_function("parts_parse", |b| {
        b.iter(|| Message::parse(black_box(raw.clone())).unwrap())
    });
    let m = Message::parse(raw.clone()).unwrap();
    g.bench_function("parts_validate", |b| {
        b.iter(|| black_box(&m).validate().unwrap())
    });
    g.bench_function("parts_check", |b| {
        b.iter(|| check_request(black_box(&m), &cfg).unwrap())
    });
    g.bench_function("parts_prepare", |b| {
        b.iter(|| prepare_forward(black_box(&m), &flow, &cfg).unwrap())
    });
    g.bench_function("parts_loop_hash", |b| {
        b.iter(|| sip_stack::proxy::loop_hash(black_box(&m)))
    });
    g.bench_function("parts_finish", |b| {
        b.iter(|| {
            let p = prepare_forward(black_box(&m), &flow, &cfg).unwrap();
            p.finish(Transport::Udp).unwrap()
        })
    });
    g.bench_function("register_parse_check_edit_serialize", |b| {
        b.iter(|| forward(black_box(&raw), &cfg, &flow))
    });
    // stateful: plus server transaction creation, client transaction (re-parse of the forwarded
    // request), and the 200 OK relayed back through both
    g.bench_function("register_stateful_round_trip", |b| {
        let mut layer = TransactionLayer::new(LayerConfig::default());
        let mut n: u64 = 0;
        b.iter(|| {
            n += 1;
            let now = Instant::now();
            // a distinct branch per iteration so each is a new transaction
            let text = String::from_utf8_lossy(REGISTER)
                .replace("z9hG4bK370690ecb-643c9869", &format!("z9hG4bK{n:016x}"));
            let msg = Message::parse(text.into_bytes()).expect("parse");
            layer.on_message(msg.clone(), flow, now).expect("server tx");
            let mut skey = None;
            while let Some(ev) = layer.poll_event() {
                if let sip_stack::TxEvent::Request { key, .. } = ev {
                    skey = Some(key);
                }
            }
            let out = forward(&msg.wire(), &cfg, &flow);
            let fwd = Message::parse(out).expect("fwd");
            layer
                .send_request(fwd.clone(), flow, now)
                .expect("client tx");
            let ok = sip::MessageBuilder::response_to(&fwd, 200, "OK", Some("t"))
                .build()
                .expect("200");
            layer.on_message(ok.clone(), flow, now).expect("resp");
            let skey = skey.expect("request event");
            layer
                .send_response(&skey, &msg_ok(&msg), now)
                .expect("send");
            while layer.poll_event().is_some() {}
            black_box(&ok);
        });
    });
    g.finish();
}

fn bench_cpu(c: &mut Criterion<ThreadCpuTime>) {
    let raw = Bytes::from_static(REGISTER);
    let cfg = cfg();
    let flow = flow();
    let m = Message::parse(raw.clone()).unwrap();
    c.bench_function("cpu/parts_parse", |b| {
        b.iter(|| Message::parse(black_box(raw.clone())).unwrap())
    });
    c.bench_function("cpu/parts_check", |b| {
        b.iter(|| check_request(black_box(&m), &cfg).unwrap())
    });
    c.bench_function("cpu/parts_prepare", |b| {
        b.iter(|| prepare_forward(black_box(&m), &flow, &cfg).unwrap())
    });
    c.bench_function("cpu/parts_loop_hash", |b| {
        b.iter(|| sip_stack::proxy::loop_hash(black_box(&m)))
    });
    c.bench_function("cpu/parts_finish", |b| {
        b.iter(|| {
            let p = prepare_forward(black_box(&m), &flow, &cfg).unwrap();
            p.finish(Transport::Udp).unwrap()
        })
    });
    c.bench_function("cpu/register_parse_check_edit_serialize", |b| {
        b.iter(|| forward(black_box(&raw), &cfg, &flow))
    });
}

fn msg_ok(req: &Message) -> Message {
    sip::MessageBuilder::response_to(req, 200, "OK", Some("t"))
        .build()
        .expect("200")
}

use benchkit::ThreadCpuTime;

criterion_group!(benches, bench);
criterion_group! {
    name = cpu;
    config = Criterion::default().with_measurement(ThreadCpuTime);
    targets = bench_cpu
}
criterion_main!(benches, cpu);
