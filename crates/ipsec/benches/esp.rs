//! ESP seal + open of a 1 kB packet for every alg/ealg pair (target: aes-cbc + hmac-sha-1-96
//! ≤ 3 µs), measured twice: wall clock, and CPU time of the benchmark thread (the build machine
//! is shared, so wall clock can be inflated by other processes).
//!
//! `cargo bench -p ipsec --bench esp -- --warm-up-time 1 --measurement-time 3`

use aka::{Ck, Ik};
use criterion::measurement::Measurement;
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use ipsec::packet::{build_ip_packet, build_udp, open_ip_packet, seal_ip_packet_full};
use ipsec::{
    EncryptionAlg, Endpoint, ImsSaSet, InboundSa, IntegrityAlg, OutboundSa, SaKeys, SaTable,
};

use benchkit::ThreadCpuTime as ThreadCpu;

const PAIRS: [(IntegrityAlg, EncryptionAlg); 6] = [
    (IntegrityAlg::HmacSha1_96, EncryptionAlg::AesCbc),
    (IntegrityAlg::HmacSha1_96, EncryptionAlg::Null),
    (IntegrityAlg::HmacSha1_96, EncryptionAlg::DesEde3Cbc),
    (IntegrityAlg::HmacMd5_96, EncryptionAlg::AesCbc),
    (IntegrityAlg::HmacMd5_96, EncryptionAlg::Null),
    (IntegrityAlg::HmacMd5_96, EncryptionAlg::DesEde3Cbc),
];

fn keys(integ: IntegrityAlg, encr: EncryptionAlg) -> SaKeys {
    SaKeys::from_aka(
        integ,
        &Ik::from_hex("00112233445566778899aabbccddeeff").unwrap(),
        encr,
        &Ck::from_hex("0f1e2d3c4b5a69788796a5b4c3d2e1f0").unwrap(),
    )
}

fn esp<M: Measurement>(c: &mut Criterion<M>, clock: &str) {
    let payload = vec![0x5au8; 1024];
    let mut g = c.benchmark_group(format!("esp_seal_open_1k/{clock}"));
    g.throughput(Throughput::Bytes(payload.len() as u64));
    for (integ, encr) in PAIRS {
        let k = keys(integ, encr);
        // The receiver's window is far larger than one run, but sequence numbers only grow, so
        // every iteration is a fresh, in-order packet.
        let mut tx = OutboundSa::new(0x1000, &k).unwrap();
        let mut rx = InboundSa::new(0x1000, &k).unwrap();
        let (mut pkt, mut out) = (Vec::with_capacity(1200), Vec::with_capacity(1200));
        g.bench_function(format!("{}+{}", integ.name(), encr.name()), |b| {
            b.iter(|| {
                tx.seal(17, black_box(&payload), &mut pkt).unwrap();
                rx.open(black_box(&pkt), &mut out).unwrap();
                black_box(out.len())
            })
        });
    }
    g.finish();

    // The whole datapath transform: IP packet from TUN -> outer ESP packet -> inner IP packet,
    // through the SA tables (selector lookup, header parse/build, policy check).
    let mut g = c.benchmark_group(format!("ip_transform_1k/{clock}"));
    let k = keys(IntegrityAlg::HmacSha1_96, EncryptionAlg::AesCbc);
    let ue = Endpoint {
        addr: "10.0.0.1".parse().unwrap(),
        port_c: 6000,
        port_s: 6001,
        spi_c: 1000,
        spi_s: 1001,
    };
    let pc = Endpoint {
        addr: "10.0.0.2".parse().unwrap(),
        port_c: 5062,
        port_s: 5064,
        spi_c: 2000,
        spi_s: 2001,
    };
    let (mut ut, mut pt) = (SaTable::new(), SaTable::new());
    ImsSaSet {
        local: ue,
        remote: pc,
        keys: k.clone(),
    }
    .install(&mut ut)
    .unwrap();
    ImsSaSet {
        local: pc,
        remote: ue,
        keys: k,
    }
    .install(&mut pt)
    .unwrap();
    let s = std::net::SocketAddr::new(ue.addr, ue.port_c);
    let d = std::net::SocketAddr::new(pc.addr, pc.port_s);
    let inner = build_ip_packet(s.ip(), d.ip(), 17, &build_udp(s, d, &payload).unwrap()).unwrap();
    let (mut scratch, mut outer, mut back) = (Vec::new(), Vec::new(), Vec::new());
    g.bench_function("hmac-sha-1-96+aes-cbc", |b| {
        b.iter(|| {
            seal_ip_packet_full(&mut ut, black_box(&inner), &mut scratch, &mut outer).unwrap();
            open_ip_packet(&mut pt, black_box(&outer), &mut scratch, &mut back).unwrap();
            black_box(back.len())
        })
    });
    g.finish();
}

fn wall(c: &mut Criterion) {
    esp(c, "wall");
}

fn cpu(c: &mut Criterion<ThreadCpu>) {
    esp(c, "cpu");
}

criterion_group!(wall_time, wall);
criterion_group! {
    name = cpu_time;
    config = Criterion::default().with_measurement(ThreadCpu);
    targets = cpu
}
criterion_main!(wall_time, cpu_time);
