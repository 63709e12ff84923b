//! The reference trace end to end (shared/testdata/sip/01–03): the real Security-Client is
//! negotiated into exactly the real Security-Server, the real protected REGISTER (whose
//! Security-Verify reorders the parameters) is accepted on the protected flow, and the SAs carry
//! the SPIs the trace shows.

mod common;
use common::*;

use std::net::SocketAddr;

use aka::{Ck, Ik};
use ipsec::{PortAllocator, SaTable, SpiAllocator};
use secagree::{
    check_request, lists_eq, negotiate, prepare_forward, Action, Association, Choice,
    IntegrityProtected,
};

#[test]
fn initial_register_negotiates_the_reference_security_server() {
    let r1 = msg(&raw("01-register-initial.sip"));
    let r401 = msg(&raw("02-401-unauthorized.sip"));
    let cfg = trace_config();
    let v = check_request(&cfg, &r1, &unprotected(), None).expect("initial REGISTER accepted");
    assert_eq!(v.integrity_protected, Some(IntegrityProtected::No));
    assert!(!v.protected);
    let Action::Negotiate(Choice::Ipsec {
        integrity,
        encryption,
        ids,
    }) = v.action
    else {
        panic!("expected ipsec negotiation, got {:?}", v.action);
    };
    assert_eq!(integrity, ipsec::IntegrityAlg::HmacMd5_96);
    assert_eq!(encryption, ipsec::EncryptionAlg::Null);
    assert_eq!(
        (ids.spi_c, ids.spi_s, ids.port_c, ids.port_s),
        (565817, 565818, 38003, 39003)
    );

    let n = negotiate(
        &cfg,
        &r1.security_client().unwrap(),
        ue_ip(),
        pcscf_ip(),
        Some(trace_local()),
    )
    .unwrap();
    let want = r401.security_server().unwrap();
    assert_eq!(
        n.security_server, want,
        "structurally identical, same param order"
    );
    assert_eq!(
        n.security_server[0].to_string(),
        "ipsec-3gpp;alg=hmac-md5-96;ealg=null;prot=esp;mod=trans;spi-c=3458785863;\
         spi-s=2821032177;port-c=50717;port-s=50718;q=0.1"
    );
}

#[test]
fn protected_register_from_trace_is_accepted_and_forwarded_with_yes() {
    let r1 = msg(&raw("01-register-initial.sip"));
    let r3 = msg(&raw("03-register-protected.sip"));
    let cfg = trace_config();
    let n = negotiate(
        &cfg,
        &r1.security_client().unwrap(),
        ue_ip(),
        pcscf_ip(),
        Some(trace_local()),
    )
    .unwrap();
    // The UE's Security-Verify lists the parameters in another order than our Security-Server.
    assert_ne!(r3.security_verify().unwrap(), n.security_server);
    assert!(lists_eq(&n.security_server, &r3.security_verify().unwrap()));
    let mut assoc = Association::from_negotiated(&n, ue_ip()).unwrap();
    let v = check_request(&cfg, &r3, &protected(), Some(&mut assoc)).expect("accepted");
    assert_eq!(v.action, Action::Forward);
    assert!(v.protected);
    assert_eq!(v.integrity_protected, Some(IntegrityProtected::Yes));

    let fwd = prepare_forward(&r3, v.integrity_protected).unwrap();
    for h in ["Security-Client", "Security-Server", "Security-Verify"] {
        assert!(!fwd.has(h), "{h} must be stripped");
    }
    assert!(
        fwd.require().unwrap().is_empty(),
        "Require had only sec-agree"
    );
    assert!(!fwd.has("Proxy-Require"));
    assert!(
        fwd.supported().unwrap().iter().any(|t| &**t == "sec-agree"),
        "Supported kept"
    );
    let auth = fwd.authorization().unwrap().unwrap();
    assert_eq!(auth.integrity_protected(), Some("yes"));
    assert_eq!(
        auth.username(),
        Some("001010123456789@ims.sharetechnote.com")
    );
    // The same REGISTER on the unprotected port is refused (Security-Verify outside the SAs).
    let e = check_request(&cfg, &r3, &unprotected(), Some(&mut assoc)).unwrap_err();
    assert_eq!(e.status(), 403);
}

#[test]
fn sa_directions_match_the_trace_and_carry_traffic() {
    let r1 = msg(&raw("01-register-initial.sip"));
    let n = negotiate(
        &trace_config(),
        &r1.security_client().unwrap(),
        ue_ip(),
        pcscf_ip(),
        Some(trace_local()),
    )
    .unwrap();
    let sa = n.sa.expect("ipsec SA params");
    let d = sa.directions();
    let a = |ip, p| SocketAddr::new(ip, p);
    // Step 3 REGISTER: 38003 -> 50718 with the P-CSCF's spi-s.
    assert_eq!(
        (d[0].src, d[0].dst, d[0].spi),
        (a(ue_ip(), 38003), a(pcscf_ip(), 50718), 2821032177)
    );
    assert_eq!(
        (d[1].src, d[1].dst, d[1].spi),
        (a(pcscf_ip(), 50718), a(ue_ip(), 38003), 565817)
    );
    // Step 7 NOTIFY: 50717 -> 39003 with the UE's spi-s.
    assert_eq!(
        (d[2].src, d[2].dst, d[2].spi),
        (a(pcscf_ip(), 50717), a(ue_ip(), 39003), 565818)
    );
    assert_eq!(
        (d[3].src, d[3].dst, d[3].spi),
        (a(ue_ip(), 39003), a(pcscf_ip(), 50717), 3458785863)
    );

    // The sets install into ipsec SA tables and each direction uses the SPI above.
    let ik = Ik::from_hex("00112233445566778899aabbccddeeff").unwrap();
    let ck = Ck::from_hex("ffeeddccbbaa99887766554433221100").unwrap();
    let (mut pt, mut ut) = (SaTable::new(), SaTable::new());
    sa.pcscf_sa_set(&ik, &ck).install(&mut pt).unwrap();
    sa.ue_sa_set(&ik, &ck).install(&mut ut).unwrap();
    let (mut esp, mut out) = (Vec::new(), Vec::new());
    for (i, dir) in d.iter().enumerate() {
        let (tx, rx) = if matches!(i, 0 | 3) {
            (&mut ut, &mut pt)
        } else {
            (&mut pt, &mut ut)
        };
        let spi = tx.seal(dir.src, dir.dst, 6, b"SIP", &mut esp).unwrap();
        assert_eq!(spi, dir.spi, "direction {i}");
        assert_eq!(rx.open(&esp, &mut out).unwrap().0, dir.spi);
    }
}

#[test]
fn works_with_ids_from_the_ipsec_allocators() {
    let r1 = msg(&raw("01-register-initial.sip"));
    let mut spis = SpiAllocator::new();
    let mut ports = PortAllocator::new(50000, 50100).unwrap();
    let local = secagree::negotiate::local_ids(
        spis.allocate_pair().unwrap(),
        ports.allocate_pair().unwrap(),
    )
    .unwrap();
    let n = negotiate(
        &trace_config(),
        &r1.security_client().unwrap(),
        ue_ip(),
        pcscf_ip(),
        Some(local),
    )
    .unwrap();
    let s = &n.security_server[0];
    assert_eq!(s.spi_c(), Some(local.spi_c));
    assert_eq!(s.port_s(), Some(local.port_s));
    assert!(spis.in_use(s.spi_s().unwrap()) && ports.in_use(s.port_c().unwrap()));
    // Invalid allocator output (reserved SPI) is refused as our error.
    assert_eq!(
        secagree::negotiate::local_ids((5, 6), (1, 2))
            .unwrap_err()
            .status(),
        500
    );
}
