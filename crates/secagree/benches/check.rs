//! P-CSCF sec-agree cost per REGISTER: negotiation on the initial REGISTER, and the full check of
//! the protected REGISTER (Security-Verify/Client comparison) plus header stripping.

use criterion::{criterion_group, criterion_main, Criterion};
use secagree::{
    check_request, negotiate, prepare_forward, Arrival, Association, Config, IpsecIds, Mechanism,
    MechanismPref, Qvalue, Transport,
};

fn read(name: &str) -> sip::Message {
    let p = format!(
        "{}/../../../shared/testdata/sip/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    sip::Message::parse(std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}"))).expect("parses")
}

fn bench(c: &mut Criterion) {
    let r1 = read("01-register-initial.sip");
    let r3 = read("03-register-protected.sip");
    let cfg = Config {
        mechanisms: vec![MechanismPref {
            mechanism: Mechanism::Ipsec3gpp,
            q: Qvalue::parse("0.1").expect("q"),
        }],
        integrity: vec![ipsec::IntegrityAlg::HmacMd5_96],
        encryption: vec![ipsec::EncryptionAlg::Null],
        ..Config::default()
    };
    let ue = "2001::1:d1ae:bb37:d9c9:81d0".parse().expect("ip");
    let pc = "2001:0:0:1::2".parse().expect("ip");
    let local = IpsecIds {
        spi_c: 3458785863,
        spi_s: 2821032177,
        port_c: 50717,
        port_s: 50718,
    };
    let offer = r1.security_client().expect("client");
    c.bench_function("negotiate_initial_register", |b| {
        b.iter(|| {
            negotiate(
                &cfg,
                &r1.security_client().expect("client"),
                ue,
                pc,
                Some(local),
            )
            .expect("ok")
        })
    });
    let n = negotiate(&cfg, &offer, ue, pc, Some(local)).expect("ok");
    let mut assoc = Association::from_negotiated(&n, ue).expect("assoc");
    let arr = Arrival {
        transport: Transport::Tcp,
        src: std::net::SocketAddr::new(ue, 38003),
        dst: std::net::SocketAddr::new(pc, 50718),
        tls_connection: None,
    };
    c.bench_function("check_protected_register", |b| {
        b.iter(|| check_request(&cfg, &r3, &arr, Some(&mut assoc)).expect("accepted"))
    });
    c.bench_function("check_and_prepare_forward", |b| {
        b.iter(|| {
            let v = check_request(&cfg, &r3, &arr, Some(&mut assoc)).expect("accepted");
            prepare_forward(&r3, v.integrity_protected).expect("forward")
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
