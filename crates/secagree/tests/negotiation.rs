//! Mechanism/algorithm selection and every rejection of a bad Security-Client, on crafted
//! variants of the reference initial REGISTER.

mod common;
use common::*;

use ipsec::{EncryptionAlg, IntegrityAlg};
use secagree::{
    check_request, negotiate, select, Action, Choice, Config, Mechanism, MechanismPref, Qvalue,
    SecAgreeError,
};

const IDS: &str = "prot=esp;mod=trans;spi-c=0000565817;spi-s=0000565818;port-c=38003;port-s=39003";

fn with_client(client: &str) -> sip::Message {
    msg(&set_header(
        &raw("01-register-initial.sip"),
        "Security-Client",
        Some(client),
    ))
}

fn pick(cfg: &Config, client: &str) -> Result<Choice, SecAgreeError> {
    let m = with_client(client);
    match check_request(cfg, &m, &unprotected(), None) {
        Ok(v) => match v.action {
            Action::Negotiate(c) => Ok(c),
            other => panic!("unexpected {other:?}"),
        },
        Err(r) => {
            assert_eq!(
                r.status() == 494,
                !r.security_server.is_empty(),
                "494 lists ours"
            );
            Err(r.error)
        }
    }
}

fn algs(c: Choice) -> (IntegrityAlg, EncryptionAlg) {
    match c {
        Choice::Ipsec {
            integrity,
            encryption,
            ..
        } => (integrity, encryption),
        Choice::Tls => panic!("tls chosen"),
    }
}

#[test]
fn our_integrity_preference_decides_among_separate_alg_entries() {
    let r1 = msg(&raw("01-register-initial.sip"));
    let offer = r1.security_client().unwrap();
    // Default config prefers hmac-sha-1-96: the second entry of the real offer.
    let c = select(&Config::default(), &offer).unwrap();
    assert_eq!(
        algs(c.choice),
        (IntegrityAlg::HmacSha1_96, EncryptionAlg::Null)
    );
    assert_eq!(c.index, 1);
    // md5 first in our list: the first entry (as in the reference 401).
    assert_eq!(select(&trace_config(), &offer).unwrap().index, 0);
}

#[test]
fn encryption_choice_and_absent_ealg_means_null() {
    let cfg = Config::default(); // aes-cbc > des-ede3-cbc > null
    let c = pick(
        &cfg,
        &format!(
            "ipsec-3gpp;alg=hmac-md5-96;ealg=null;{IDS}, ipsec-3gpp;alg=hmac-md5-96;ealg=des-ede3-cbc;{IDS}, ipsec-3gpp;alg=hmac-md5-96;ealg=aes-cbc;{IDS}"
        ),
    )
    .unwrap();
    assert_eq!(algs(c), (IntegrityAlg::HmacMd5_96, EncryptionAlg::AesCbc));
    let c = pick(&cfg, &format!("ipsec-3gpp;alg=HMAC-SHA-1-96;{IDS}")).unwrap();
    assert_eq!(algs(c), (IntegrityAlg::HmacSha1_96, EncryptionAlg::Null));
    // Null not allowed by us: an offer with only null is unacceptable.
    let strict = Config {
        encryption: vec![EncryptionAlg::AesCbc],
        ..Config::default()
    };
    assert_eq!(
        pick(
            &strict,
            &format!("ipsec-3gpp;alg=hmac-md5-96;ealg=null;{IDS}")
        ),
        Err(SecAgreeError::NoAcceptableMechanism)
    );
}

#[test]
fn mechanism_preference_by_our_q_then_ue_q() {
    let both = format!("ipsec-3gpp;alg=hmac-md5-96;{IDS}, tls");
    assert!(matches!(
        pick(&Config::default(), &both).unwrap(),
        Choice::Ipsec { .. }
    ));
    let tls_first = Config {
        mechanisms: vec![
            MechanismPref {
                mechanism: Mechanism::Ipsec3gpp,
                q: Qvalue::parse("0.1").unwrap(),
            },
            MechanismPref {
                mechanism: Mechanism::Tls,
                q: Qvalue::parse("0.5").unwrap(),
            },
        ],
        ..Config::default()
    };
    assert_eq!(pick(&tls_first, &both).unwrap(), Choice::Tls);
    // Our preferences tie: the UE's q decides.
    let tie = format!(
        "ipsec-3gpp;alg=hmac-md5-96;ealg=null;q=0.2;{IDS}, ipsec-3gpp;alg=hmac-md5-96;ealg=null;q=0.9;{IDS}"
    );
    let c = select(
        &Config::default(),
        &with_client(&tie).security_client().unwrap(),
    )
    .unwrap();
    assert_eq!(c.index, 1);
    // tls not configured: a tls-only offer is unacceptable.
    let ipsec_only = Config {
        mechanisms: vec![MechanismPref {
            mechanism: Mechanism::Ipsec3gpp,
            q: Qvalue::parse("1").unwrap(),
        }],
        ..Config::default()
    };
    assert_eq!(
        pick(&ipsec_only, "tls"),
        Err(SecAgreeError::NoAcceptableMechanism)
    );
}

#[test]
fn malformed_ipsec_offers_are_400() {
    let cfg = Config::default();
    let cases = [
        ("reserved spi-c", "ipsec-3gpp;alg=hmac-md5-96;spi-c=255;spi-s=1000;port-c=1;port-s=2"),
        ("reserved spi-s", "ipsec-3gpp;alg=hmac-md5-96;spi-c=1000;spi-s=0;port-c=1;port-s=2"),
        ("missing spi-c", "ipsec-3gpp;alg=hmac-md5-96;spi-s=1000;port-c=1;port-s=2"),
        ("missing port-s", "ipsec-3gpp;alg=hmac-md5-96;spi-c=1000;spi-s=1001;port-c=1"),
        ("port 0", "ipsec-3gpp;alg=hmac-md5-96;spi-c=1000;spi-s=1001;port-c=0;port-s=2"),
        ("equal spis", "ipsec-3gpp;alg=hmac-md5-96;spi-c=1000;spi-s=1000;port-c=1;port-s=2"),
        ("equal ports", "ipsec-3gpp;alg=hmac-md5-96;spi-c=1000;spi-s=1001;port-c=7;port-s=7"),
        ("missing alg", "ipsec-3gpp;ealg=null;spi-c=1000;spi-s=1001;port-c=1;port-s=2"),
        (
            "entries disagree",
            "ipsec-3gpp;alg=hmac-md5-96;spi-c=1000;spi-s=1001;port-c=1;port-s=2, ipsec-3gpp;alg=hmac-sha-1-96;spi-c=1000;spi-s=1002;port-c=1;port-s=2",
        ),
        ("spi over 32 bits", "ipsec-3gpp;alg=hmac-md5-96;spi-c=4294967296;spi-s=1001;port-c=1;port-s=2"),
        ("port over 16 bits", "ipsec-3gpp;alg=hmac-md5-96;spi-c=1000;spi-s=1001;port-c=65536;port-s=2"),
        ("spi not a number", "ipsec-3gpp;alg=hmac-md5-96;spi-c=12ab;spi-s=1001;port-c=1;port-s=2"),
        ("bad q", "tls;q=1.5"),
        ("syntax", "ipsec-3gpp;;alg=x"),
    ];
    for (what, client) in cases {
        let m = with_client(client);
        let r = check_request(&cfg, &m, &unprotected(), None).expect_err(what);
        assert_eq!(r.status(), 400, "{what}: {:?}", r.error);
        assert_eq!(r.reason_phrase(), "Bad Security-Client Header", "{what}");
        assert!(r.security_server.is_empty());
    }
    // Boundary values that are valid.
    let ok = "ipsec-3gpp;alg=hmac-md5-96;spi-c=256;spi-s=4294967295;port-c=1;port-s=65535";
    let Choice::Ipsec { ids, .. } = pick(&cfg, ok).unwrap() else {
        panic!()
    };
    assert_eq!(
        (ids.spi_c, ids.spi_s, ids.port_c, ids.port_s),
        (256, u32::MAX, 1, 65535)
    );
}

#[test]
fn unsupported_offers_are_494_with_our_list() {
    let cfg = Config::default();
    for client in [
        format!("ipsec-3gpp;alg=hmac-sha-256-128;{IDS}"),
        "ipsec-3gpp;alg=hmac-md5-96;prot=ah;mod=trans;spi-c=1000;spi-s=1001;port-c=1;port-s=2"
            .to_string(),
        "ipsec-3gpp;alg=hmac-md5-96;prot=esp;mod=tun;spi-c=1000;spi-s=1001;port-c=1;port-s=2"
            .to_string(),
        format!("ipsec-3gpp;alg=hmac-md5-96;ealg=blowfish;{IDS}"),
        "digest;d-alg=md5".to_string(),
        "ipsec-ike;q=0.1".to_string(),
    ] {
        let m = with_client(&client);
        let r = check_request(&cfg, &m, &unprotected(), None).expect_err(&client);
        assert_eq!(r.error, SecAgreeError::NoAcceptableMechanism, "{client}");
        assert_eq!(
            (r.status(), r.reason_phrase()),
            (494, "Security Agreement Required")
        );
        let names: Vec<&str> = r.security_server.iter().map(|m| &*m.mechanism).collect();
        assert_eq!(names, vec!["ipsec-3gpp", "tls"]);
        assert_eq!(r.security_server[0].alg(), Some("hmac-sha-1-96"));
    }
}

#[test]
fn too_many_mechanisms_is_400() {
    let one = format!("ipsec-3gpp;alg=hmac-md5-96;{IDS}");
    let many = vec![one.as_str(); 33].join(", ");
    let r = check_request(
        &Config::default(),
        &with_client(&many),
        &unprotected(),
        None,
    )
    .unwrap_err();
    assert_eq!(r.error, SecAgreeError::TooManyMechanisms(33));
    assert_eq!(r.status(), 400);
    let ok = vec![one.as_str(); 32].join(", ");
    assert!(check_request(&Config::default(), &with_client(&ok), &unprotected(), None).is_ok());
}

#[test]
fn tls_selected_from_the_reference_tls_offer() {
    // Security-Client of the reference "TLS session setup during registration" (note `alg= `).
    let client = "ipsec-3gpp;alg=hmac-md5-96;ealg=aes-cbc;prot=esp;mod=trans;spi-c=8765423;port-c=7524;spi-s=1234563;port-s=1358, ipsec-3gpp;alg= hmac-sha-1-96;ealg=aes-cbc;prot=esp;mod=trans;spi-c=8765423;port-c=7524;spi-s=1234563;port-s=1358, tls";
    let cfg = Config {
        mechanisms: vec![MechanismPref {
            mechanism: Mechanism::Tls,
            q: Qvalue::parse("0.3").unwrap(),
        }],
        ..Config::default()
    };
    let m = with_client(client);
    let v = check_request(&cfg, &m, &unprotected(), None).unwrap();
    assert_eq!(v.action, Action::Negotiate(Choice::Tls));
    assert_eq!(
        v.integrity_protected, None,
        "no integrity-protected when TLS is selected"
    );
    let n = negotiate(
        &cfg,
        &m.security_client().unwrap(),
        ue_ip(),
        pcscf_ip(),
        None,
    )
    .unwrap();
    assert_eq!(n.security_server.len(), 1);
    assert_eq!(n.security_server[0].to_string(), "tls;q=0.3");
    assert!(n.sa.is_none());
    // Same offer, ipsec preferred: sha1 + aes-cbc from the second entry despite the space.
    let c = pick(&Config::default(), client).unwrap();
    assert_eq!(algs(c), (IntegrityAlg::HmacSha1_96, EncryptionAlg::AesCbc));
    // ipsec chosen but no local ids given: our misuse.
    assert_eq!(
        negotiate(
            &Config::default(),
            &m.security_client().unwrap(),
            ue_ip(),
            pcscf_ip(),
            None
        )
        .unwrap_err()
        .status(),
        500
    );
}
