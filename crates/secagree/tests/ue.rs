//! UE half: offer, pick from Security-Server, Security-Verify — against the reference trace.

mod common;
use common::*;

use ipsec::{EncryptionAlg, IntegrityAlg};
use secagree::ue::{build_offer, choose_server, sa_params, security_verify};
use secagree::{lists_eq, negotiate, Choice, Config, IpsecIds, SecAgreeError};

fn ue_ids() -> IpsecIds {
    IpsecIds {
        spi_c: 565817,
        spi_s: 565818,
        port_c: 38003,
        port_s: 39003,
    }
}

fn ue_config() -> Config {
    Config {
        mechanisms: vec![trace_config().mechanisms[0]],
        encryption: vec![EncryptionAlg::Null],
        ..trace_config()
    }
}

#[test]
fn offer_equals_the_reference_security_client() {
    let offer = build_offer(&ue_config(), Some(ue_ids())).unwrap();
    let r1 = msg(&raw("01-register-initial.sip"));
    assert!(
        lists_eq(&r1.security_client().unwrap(), &offer),
        "{offer:?}"
    );
    // Full default offer: 2 algs × 3 ealgs + tls, one entry per combination.
    let full = build_offer(&Config::default(), Some(ue_ids())).unwrap();
    assert_eq!(full.len(), 7);
    assert_eq!(full[0].to_string(), "ipsec-3gpp;alg=hmac-sha-1-96;ealg=aes-cbc;prot=esp;mod=trans;spi-c=565817;spi-s=565818;port-c=38003;port-s=39003");
    assert_eq!(full[6].to_string(), "tls");
    // ipsec without ids, or with reserved SPIs, is our misuse / invalid.
    assert!(build_offer(&Config::default(), None).is_err());
    let bad = IpsecIds {
        spi_c: 1,
        ..ue_ids()
    };
    assert_eq!(
        build_offer(&Config::default(), Some(bad))
            .unwrap_err()
            .status(),
        400
    );
}

#[test]
fn ue_picks_the_reference_401_and_verify_matches_trace() {
    let offer = msg(&raw("01-register-initial.sip"))
        .security_client()
        .unwrap();
    let server = msg(&raw("02-401-unauthorized.sip"))
        .security_server()
        .unwrap();
    let c = choose_server(&offer, &server).unwrap();
    let Choice::Ipsec {
        integrity,
        encryption,
        ids,
    } = c
    else {
        panic!("{c:?}")
    };
    assert_eq!(
        (integrity, encryption),
        (IntegrityAlg::HmacMd5_96, EncryptionAlg::Null)
    );
    assert_eq!(ids, trace_local());
    let verify = security_verify(&server);
    assert_eq!(verify, server);
    let r3 = msg(&raw("03-register-protected.sip"));
    assert!(lists_eq(&verify, &r3.security_verify().unwrap()));
    // Both sides derive the same SA parameters.
    let ue_sa = sa_params(&c, ue_ids(), ue_ip(), pcscf_ip()).unwrap();
    let n = negotiate(
        &trace_config(),
        &offer,
        ue_ip(),
        pcscf_ip(),
        Some(trace_local()),
    )
    .unwrap();
    assert_eq!(Some(ue_sa), n.sa);
}

#[test]
fn ue_takes_highest_q_among_what_it_offered() {
    let offer = build_offer(&ue_config(), Some(ue_ids())).unwrap(); // md5/sha1 with null only
    let srv = |s: &str| {
        msg(&set_header(
            &raw("02-401-unauthorized.sip"),
            "Security-Server",
            Some(s),
        ))
        .security_server()
        .unwrap()
    };
    let p = "prot=esp;mod=trans;spi-c=3458785863;spi-s=2821032177;port-c=50717;port-s=50718";
    let list = srv(&format!(
        "ipsec-3gpp;alg=hmac-md5-96;ealg=null;{p};q=0.2, ipsec-3gpp;alg=hmac-sha-1-96;ealg=null;{p};q=0.7, ipsec-3gpp;alg=hmac-sha-1-96;ealg=aes-cbc;{p};q=0.9, tls;q=1"
    ));
    let Choice::Ipsec {
        integrity,
        encryption,
        ..
    } = choose_server(&offer, &list).unwrap()
    else {
        panic!()
    };
    // aes-cbc (q=0.9) and tls (q=1) were not offered.
    assert_eq!(
        (integrity, encryption),
        (IntegrityAlg::HmacSha1_96, EncryptionAlg::Null)
    );
    assert_eq!(
        choose_server(&offer, &srv("tls;q=1")).unwrap_err(),
        SecAgreeError::NoAcceptableMechanism
    );
    // A P-CSCF entry with a reserved SPI is refused.
    let bad = srv("ipsec-3gpp;alg=hmac-md5-96;ealg=null;prot=esp;mod=trans;spi-c=7;spi-s=2821032177;port-c=50717;port-s=50718");
    assert_eq!(choose_server(&offer, &bad).unwrap_err().status(), 400);
    // tls offered and picked.
    let tls_offer = vec![sip::SecurityMechanism::new("tls")];
    assert_eq!(choose_server(&tls_offer, &list).unwrap(), Choice::Tls);
    assert!(sa_params(&Choice::Tls, ue_ids(), ue_ip(), pcscf_ip()).is_none());
}
