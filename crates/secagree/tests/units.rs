//! Config, qvalue, list comparison and header stripping.

mod common;
use common::*;

use secagree::compare::{lists_eq, mechanism_eq};
use secagree::strip::{prepare_forward, STRIPPED_HEADERS};
use secagree::{Config, Mechanism, MechanismPref, Qvalue, SecAgreeError, SecAgreeMode};
use sip::{Header, SecurityMechanism};

fn m(s: &str) -> SecurityMechanism {
    SecurityMechanism::parse_str(s).unwrap()
}

#[test]
fn qvalue_grammar_and_display() {
    for (s, ms, shown) in [
        ("0", 0, "0"),
        ("1", 1000, "1"),
        ("1.000", 1000, "1"),
        ("0.1", 100, "0.1"),
        ("0.25", 250, "0.25"),
        ("0.125", 125, "0.125"),
        ("0.", 0, "0"),
    ] {
        let q = Qvalue::parse(s).unwrap_or_else(|| panic!("{s}"));
        assert_eq!((q.millis(), q.to_string().as_str()), (ms, shown), "{s}");
    }
    for bad in ["1.001", "2", "0.1234", "-0.1", "", ".5", "0.1e1", "0x1"] {
        assert_eq!(Qvalue::parse(bad), None, "{bad}");
    }
    assert_eq!(Qvalue::from_millis(1001), None);
}

#[test]
fn config_validation_and_mode() {
    assert!(Config::default().validate().is_ok());
    let none = Config {
        mechanisms: vec![],
        ..Config::default()
    };
    assert_eq!(
        none.validate(),
        Err(SecAgreeError::Config("no security mechanism configured"))
    );
    assert!(Config {
        mode: SecAgreeMode::Off,
        ..none
    }
    .validate()
    .is_ok());
    let dup = MechanismPref {
        mechanism: Mechanism::Tls,
        q: Qvalue::ZERO,
    };
    assert!(Config {
        mechanisms: vec![dup, dup],
        ..Config::default()
    }
    .validate()
    .is_err());
    assert!(Config {
        integrity: vec![],
        ..Config::default()
    }
    .validate()
    .is_err());
    assert_eq!(Config::parse_mode(" Required "), Ok(SecAgreeMode::Required));
    assert_eq!(Config::parse_mode("optional"), Ok(SecAgreeMode::Optional));
    assert_eq!(Config::parse_mode("off"), Ok(SecAgreeMode::Off));
    assert!(Config::parse_mode("yes").is_err());
    assert_eq!(
        Mechanism::from_name("IPSEC-3GPP"),
        Some(Mechanism::Ipsec3gpp)
    );
    assert_eq!(Mechanism::from_name("digest"), None);
}

#[test]
fn comparison_rules() {
    let a = m("ipsec-3gpp;alg=hmac-md5-96;spi-c=0000565817;q=0.1;x=Y");
    assert!(mechanism_eq(
        &a,
        &m("Ipsec-3gpp;X=Y;Q=0.100;spi-c=565817;ALG=HMAC-MD5-96")
    ));
    assert!(
        !mechanism_eq(&a, &m("ipsec-3gpp;alg=hmac-md5-96;spi-c=565817;q=0.1;x=y")),
        "unknown values exact"
    );
    assert!(
        !mechanism_eq(&a, &m("ipsec-3gpp;alg=hmac-md5-96;spi-c=565817;q=0.1")),
        "param missing"
    );
    assert!(
        !mechanism_eq(
            &a,
            &m("ipsec-3gpp;alg=hmac-md5-96;spi-c=565817;q=0.1;x=Y;z")
        ),
        "param extra"
    );
    assert!(!mechanism_eq(
        &a,
        &m("ipsec-3gpp;alg=hmac-md5-96;spi-c=565818;q=0.1;x=Y")
    ));
    assert!(
        !mechanism_eq(&m("tls;q=0.1;q=0.1"), &m("tls;q=0.1;q=0.1")),
        "duplicates never match"
    );
    assert!(!mechanism_eq(&m("tls;a"), &m("tls;a=1")), "flag vs value");
    let (t, i) = (m("tls;q=0.2"), m("ipsec-3gpp;q=0.1"));
    assert!(
        lists_eq(&[t.clone(), i.clone()], &[i.clone(), t.clone()]),
        "order-insensitive"
    );
    assert!(
        !lists_eq(&[t.clone(), i.clone()], &[t.clone(), t.clone()]),
        "multiset"
    );
    assert!(!lists_eq(std::slice::from_ref(&t), &[t.clone(), t.clone()]));
    assert!(lists_eq(&[], &[]));
}

#[test]
fn strip_keeps_other_option_tags() {
    let t = set_header(
        &raw("03-register-protected.sip"),
        "Require",
        Some("precondition, Sec-Agree"),
    );
    let t = set_header(&t, "Proxy-Require", Some("sec-agree, foo"));
    let out = prepare_forward(&msg(&t), None).unwrap();
    assert_eq!(
        out.require()
            .unwrap()
            .iter()
            .map(|x| x.to_string())
            .collect::<Vec<_>>(),
        vec!["precondition"]
    );
    assert_eq!(
        out.proxy_require()
            .unwrap()
            .iter()
            .map(|x| x.to_string())
            .collect::<Vec<_>>(),
        vec!["foo"]
    );
    for h in STRIPPED_HEADERS {
        assert!(!out.has(h.as_str()));
    }
    // No integrity-protected requested: Authorization untouched.
    assert_eq!(
        out.authorization().unwrap().unwrap().integrity_protected(),
        None
    );
    // Message without sec-agree headers passes through with its bytes intact.
    let plain = set_header(
        &set_header(&t, "Security-Client", None),
        "Security-Verify",
        None,
    );
    let plain = set_header(&set_header(&plain, "Require", None), "Proxy-Require", None);
    let out = prepare_forward(&msg(&plain), None).unwrap();
    assert_eq!(out.as_bytes(), msg(&plain).as_bytes());
}
