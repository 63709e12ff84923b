//! sec_agree modes, the unprotected-port rule, Security-Verify checks, refresh rules and the
//! integrity-protected values, for IPsec and both reference TLS flows.

mod common;
use common::*;

use secagree::{
    check_request, negotiate, prepare_forward, Action, Association, Choice, Config,
    IntegrityProtected, Mechanism, MechanismPref, Qvalue, SecAgreeError, SecAgreeMode,
};

fn mode(m: SecAgreeMode) -> Config {
    Config {
        mode: m,
        ..trace_config()
    }
}

/// The association the reference 401 created.
fn trace_assoc() -> Association {
    let r1 = msg(&raw("01-register-initial.sip"));
    let n = negotiate(
        &trace_config(),
        &r1.security_client().unwrap(),
        ue_ip(),
        pcscf_ip(),
        Some(trace_local()),
    )
    .unwrap();
    Association::from_negotiated(&n, ue_ip()).unwrap()
}

fn no_sec_agree_register() -> String {
    let t = set_header(&raw("01-register-initial.sip"), "Security-Client", None);
    let t = set_header(&t, "Require", None);
    set_header(&t, "Proxy-Require", None)
}

#[test]
fn required_register_without_sec_agree_gets_494_with_security_server() {
    for text in [
        no_sec_agree_register(),
        set_header(&raw("01-register-initial.sip"), "Security-Client", None),
    ] {
        let r = check_request(
            &mode(SecAgreeMode::Required),
            &msg(&text),
            &unprotected(),
            None,
        )
        .unwrap_err();
        assert_eq!(r.error, SecAgreeError::SecAgreeRequired);
        assert_eq!(
            (r.status(), r.reason_phrase()),
            (494, "Security Agreement Required")
        );
        assert_eq!(r.security_server.len(), 2);
        assert_eq!(r.security_server[0].mechanism.as_str(), "ipsec-3gpp");
        assert_eq!(r.security_server[0].q(), Some(0.1));
    }
}

#[test]
fn optional_proceeds_without_protection_and_off_strips() {
    let m = msg(&no_sec_agree_register());
    let v = check_request(&mode(SecAgreeMode::Optional), &m, &unprotected(), None).unwrap();
    assert_eq!(
        (v.action, v.integrity_protected),
        (Action::Forward, Some(IntegrityProtected::No))
    );
    // Optional with an offer still negotiates.
    let r1 = msg(&raw("01-register-initial.sip"));
    let v = check_request(&mode(SecAgreeMode::Optional), &r1, &unprotected(), None).unwrap();
    assert!(matches!(v.action, Action::Negotiate(Choice::Ipsec { .. })));
    // Off: the offer is ignored, forwarded with no Security-* and no sec-agree tag.
    let v = check_request(&mode(SecAgreeMode::Off), &r1, &unprotected(), None).unwrap();
    assert_eq!(
        (v.action.clone(), v.integrity_protected),
        (Action::Forward, Some(IntegrityProtected::No))
    );
    let fwd = prepare_forward(&r1, v.integrity_protected).unwrap();
    assert!(!fwd.has("Security-Client") && !fwd.has("Proxy-Require") && !fwd.has("Require"));
    assert_eq!(
        fwd.authorization().unwrap().unwrap().integrity_protected(),
        Some("no")
    );
    // Off: a SUBSCRIBE on the unprotected port passes.
    let s = msg(&raw("05-subscribe-reg.sip"));
    assert!(check_request(&mode(SecAgreeMode::Off), &s, &unprotected(), None).is_ok());
}

#[test]
fn unprotected_port_accepts_only_register_and_emergency_when_required() {
    let sub = raw("05-subscribe-reg.sip");
    let r = check_request(
        &mode(SecAgreeMode::Required),
        &msg(&sub),
        &unprotected(),
        None,
    )
    .unwrap_err();
    assert_eq!(r.error, SecAgreeError::UnprotectedNotAllowed);
    assert_eq!((r.status(), r.reason_phrase()), (403, "Forbidden"));
    assert!(r.security_server.is_empty());
    // With an association too, as long as it is not on the protected flow.
    let mut a = trace_assoc();
    assert_eq!(
        check_request(
            &mode(SecAgreeMode::Required),
            &msg(&sub),
            &unprotected(),
            Some(&mut a)
        )
        .unwrap_err()
        .status(),
        403
    );
    assert!(check_request(
        &mode(SecAgreeMode::Optional),
        &msg(&sub),
        &unprotected(),
        None
    )
    .is_ok());
    // Emergency: urn:service:sos and its sub-services pass; look-alikes do not.
    let invite = |uri: &str| {
        let t = set_request_line(&sub, &format!("INVITE {uri} SIP/2.0"));
        msg(&set_header(&t, "CSeq", Some("1 INVITE")))
    };
    for (uri, ok) in [
        ("urn:service:sos", true),
        ("URN:Service:SOS.fire", true),
        ("urn:service:sos.ambulance", true),
        ("urn:service:sosx", false),
        ("urn:service:counseling", false),
        ("sip:sos@ims.example.net", false),
    ] {
        let res = check_request(
            &mode(SecAgreeMode::Required),
            &invite(uri),
            &unprotected(),
            None,
        );
        assert_eq!(res.is_ok(), ok, "{uri}");
        if let Ok(v) = res {
            assert_eq!((v.integrity_protected, v.protected), (None, false));
        }
    }
}

#[test]
fn protected_requests_check_security_verify() {
    let mut a = trace_assoc();
    let cfg = mode(SecAgreeMode::Required);
    // Real SUBSCRIBE of the trace (carries Security-Verify) on the protected flow.
    let sub = raw("05-subscribe-reg.sip");
    let v = check_request(&cfg, &msg(&sub), &protected(), Some(&mut a)).unwrap();
    assert!(v.protected && v.action == Action::Forward && v.integrity_protected.is_none());
    let bad = sub.replace("spi-s=2821032177", "spi-s=2821032178");
    assert_ne!(bad, sub);
    let r = check_request(&cfg, &msg(&bad), &protected(), Some(&mut a)).unwrap_err();
    assert_eq!(r.error, SecAgreeError::VerifyMismatch);
}

#[test]
fn security_verify_mismatch_on_protected_register_is_494_with_sent_list() {
    let r3 = raw("03-register-protected.sip");
    let cfg = mode(SecAgreeMode::Required);
    let variants = [
        ("missing", set_header(&r3, "Security-Verify", None), SecAgreeError::VerifyMissing),
        ("spi-s", r3.replace("spi-s=2821032177", "spi-s=2821032176"), SecAgreeError::VerifyMismatch),
        (
            "alg",
            set_header(&r3, "Security-Verify", Some("ipsec-3gpp;q=0.1;alg=hmac-sha-1-96;prot=esp;mod=trans;ealg=null;spi-c=3458785863;spi-s=2821032177;port-c=50717;port-s=50718")),
            SecAgreeError::VerifyMismatch,
        ),
        ("q", r3.replace("Verify: ipsec-3gpp;q=0.1", "Verify: ipsec-3gpp;q=0.5"), SecAgreeError::VerifyMismatch),
        ("q dropped", r3.replace("Verify: ipsec-3gpp;q=0.1;", "Verify: ipsec-3gpp;"), SecAgreeError::VerifyMismatch),
        (
            "extra mechanism",
            r3.replace("port-s=50718\r\nP-Access", "port-s=50718, tls\r\nP-Access"),
            SecAgreeError::VerifyMismatch,
        ),
        ("tls instead", set_header(&r3, "Security-Verify", Some("tls;q=0.1")), SecAgreeError::VerifyMismatch),
    ];
    for (what, text, want) in variants {
        assert_ne!(text, r3, "{what}: variant must differ");
        let mut a = trace_assoc();
        let r = check_request(&cfg, &msg(&text), &protected(), Some(&mut a)).unwrap_err();
        assert_eq!(r.error, want, "{what}");
        assert_eq!(r.status(), 494, "{what}");
        assert_eq!(
            r.security_server, a.security_server,
            "{what}: 494 carries what we sent"
        );
    }
    // Equivalent spellings are accepted: leading zeros, upper-case tokens, other param order.
    let same = set_header(
        &r3,
        "Security-Verify",
        Some("IPSEC-3GPP;port-s=050718;port-c=50717;spi-s=2821032177;spi-c=3458785863;ealg=NULL;mod=trans;prot=ESP;alg=hmac-md5-96;q=0.100"),
    );
    let mut a = trace_assoc();
    assert!(check_request(&cfg, &msg(&same), &protected(), Some(&mut a)).is_ok());
}

#[test]
fn protected_register_must_arrive_on_the_protected_flow() {
    let r3 = msg(&raw("03-register-protected.sip"));
    let cfg = mode(SecAgreeMode::Required);
    let mut wrong_port = protected();
    wrong_port.src.set_port(39003); // UE port-s instead of port-c
    let mut wrong_dst = protected();
    wrong_dst.dst.set_port(50717); // P-CSCF port-c instead of port-s
    let mut other_ue = protected();
    other_ue.src.set_ip("2001::99".parse().unwrap());
    let mut over_tls = protected();
    over_tls.transport = secagree::Transport::Tls;
    over_tls.tls_connection = Some(1);
    for arr in [unprotected(), wrong_port, wrong_dst, other_ue, over_tls] {
        let mut a = trace_assoc();
        let r = check_request(&cfg, &r3, &arr, Some(&mut a)).unwrap_err();
        assert_eq!(r.error, SecAgreeError::NotOnProtectedFlow, "{arr:?}");
        assert_eq!(r.status(), 403);
    }
}

fn refresh(text: &str) -> String {
    text.replace("CSeq: 2 REGISTER", "CSeq: 3 REGISTER")
}

#[test]
fn ipsec_refresh_rules() {
    let r3 = raw("03-register-protected.sip");
    let cfg = mode(SecAgreeMode::Required);
    let mut a = trace_assoc();
    check_request(&cfg, &msg(&r3), &protected(), Some(&mut a)).unwrap();
    // Before registration completes, Authorization fields are not yet bound.
    let other_user =
        refresh(&r3).replace("username=\"001010123456789@", "username=\"001010999999999@");
    assert!(check_request(&cfg, &msg(&other_user), &protected(), Some(&mut a)).is_ok());
    a.registered(&msg(&r3)).unwrap();
    assert!(a.is_registered());

    let ok = refresh(&r3);
    let v = check_request(&cfg, &msg(&ok), &protected(), Some(&mut a)).unwrap();
    assert_eq!(
        (v.action.clone(), v.integrity_protected),
        (Action::Forward, Some(IntegrityProtected::Yes))
    );
    let fwd = prepare_forward(&msg(&ok), v.integrity_protected).unwrap();
    assert_eq!(
        fwd.authorization().unwrap().unwrap().integrity_protected(),
        Some("yes")
    );

    let r = check_request(
        &cfg,
        &msg(&set_header(&ok, "Security-Client", None)),
        &protected(),
        Some(&mut a),
    )
    .unwrap_err();
    assert_eq!(
        (r.error.clone(), r.status()),
        (SecAgreeError::ClientMissing, 494)
    );
    let r = check_request(
        &cfg,
        &msg(&set_header(&ok, "Security-Verify", None)),
        &protected(),
        Some(&mut a),
    )
    .unwrap_err();
    assert_eq!(
        (r.error.clone(), r.status()),
        (SecAgreeError::VerifyMissing, 494)
    );
    // Dropping the sha1 entry is a change, not a renegotiation.
    let fewer = set_header(
        &ok,
        "Security-Client",
        Some("ipsec-3gpp;alg=hmac-md5-96;prot=esp;mod=trans;ealg=null;spi-c=0000565817;spi-s=0000565818;port-c=38003;port-s=39003"),
    );
    let r = check_request(&cfg, &msg(&fewer), &protected(), Some(&mut a)).unwrap_err();
    assert_eq!(
        (r.error.clone(), r.status()),
        (SecAgreeError::ClientChanged, 494)
    );
    // New SPIs/ports, same offer otherwise: a new SA set (TS 33.203 §7.4).
    let renew = ok.replace(
        "spi-c=0000565817;spi-s=0000565818;port-c=38003;port-s=39003",
        "spi-c=777001;spi-s=777002;port-c=38005;port-s=39005",
    );
    let v = check_request(&cfg, &msg(&renew), &protected(), Some(&mut a)).unwrap();
    let Action::Renegotiate(Choice::Ipsec { ids, .. }) = v.action else {
        panic!("{v:?}")
    };
    assert_eq!((ids.spi_c, ids.port_s), (777001, 39005));
    assert_eq!(v.integrity_protected, Some(IntegrityProtected::Yes));

    for (field, from, to) in [
        (
            "username",
            "username=\"001010123456789@",
            "username=\"001010123456780@",
        ),
        (
            "realm",
            "realm=\"ims.mnc01.mcc001.3gppnetwork.org\", nonce",
            "realm=\"other.net\", nonce",
        ),
        (
            "uri",
            "uri=\"sip:ims.sharetechnote.com\"",
            "uri=\"sip:other.net\"",
        ),
    ] {
        let t = ok.replace(from, to);
        assert_ne!(t, ok, "{field}");
        let r = check_request(&cfg, &msg(&t), &protected(), Some(&mut a)).unwrap_err();
        assert_eq!(r.error, SecAgreeError::AuthorizationChanged(field));
        assert_eq!((r.status(), r.reason_phrase()), (403, "Forbidden"));
    }
    let r = check_request(
        &cfg,
        &msg(&set_header(&ok, "Authorization", None)),
        &protected(),
        Some(&mut a),
    )
    .unwrap_err();
    assert_eq!(r.status(), 403);
    // A new nonce/response (re-authentication) is not a difference.
    let reauth = ok.replace("nc=00000001", "nc=00000002").replace(
        "e089b68060162b5c6a328e5dd2d43133",
        "00000000000000000000000000000000",
    );
    assert!(check_request(&cfg, &msg(&reauth), &protected(), Some(&mut a)).is_ok());
}

fn tls_config() -> Config {
    Config {
        mechanisms: vec![MechanismPref {
            mechanism: Mechanism::Tls,
            q: Qvalue::parse("0.1").unwrap(),
        }],
        ..Config::default()
    }
}

const TLS_OFFER: &str = "ipsec-3gpp;alg=hmac-md5-96;ealg=aes-cbc;prot=esp;mod=trans;spi-c=8765423;port-c=7524;spi-s=1234563;port-s=1358, tls";

#[test]
fn tls_during_registration_flow() {
    let cfg = tls_config();
    // (1)-(3): unprotected REGISTER with tls offered; 401 with Security-Server: tls.
    let r1 = set_header(
        &raw("01-register-initial.sip"),
        "Security-Client",
        Some(TLS_OFFER),
    );
    let v = check_request(&cfg, &msg(&r1), &unprotected(), None).unwrap();
    assert_eq!(
        (v.action, v.integrity_protected),
        (Action::Negotiate(Choice::Tls), None)
    );
    let n = negotiate(
        &cfg,
        &msg(&r1).security_client().unwrap(),
        ue_ip(),
        pcscf_ip(),
        None,
    )
    .unwrap();
    let mut a = Association::from_negotiated(&n, ue_ip()).unwrap();
    // (4)-(5): the UE opens TLS (connection 7), REGISTER with Security-Verify: tls → tls-pending.
    let r3 = set_header(
        &raw("03-register-protected.sip"),
        "Security-Client",
        Some(TLS_OFFER),
    );
    let r3 = set_header(&r3, "Security-Verify", Some("tls;q=0.1"));
    let v = check_request(&cfg, &msg(&r3), &tls(7), Some(&mut a)).unwrap();
    assert_eq!(v.integrity_protected, Some(IntegrityProtected::TlsPending));
    let fwd = prepare_forward(&msg(&r3), v.integrity_protected).unwrap();
    assert_eq!(
        fwd.authorization().unwrap().unwrap().integrity_protected(),
        Some("tls-pending")
    );
    assert!(!fwd.has("Security-Verify") && !fwd.has("Proxy-Require"));
    a.registered(&msg(&r3)).unwrap();
    // Refresh on the same connection → tls-yes.
    let rr = refresh(&r3);
    let v = check_request(&cfg, &msg(&rr), &tls(7), Some(&mut a)).unwrap();
    assert_eq!(v.integrity_protected, Some(IntegrityProtected::TlsYes));
    // Another connection: refused.
    let r = check_request(&cfg, &msg(&rr), &tls(8), Some(&mut a)).unwrap_err();
    assert_eq!(
        (r.error.clone(), r.status()),
        (SecAgreeError::NotOnProtectedFlow, 403)
    );
    let sub = msg(&raw("05-subscribe-reg.sip"));
    assert_eq!(
        check_request(&cfg, &sub, &tls(8), Some(&mut a))
            .unwrap_err()
            .status(),
        403
    );
    // The trace's SUBSCRIBE carries the IPsec Security-Verify: wrong for this TLS association.
    let r = check_request(&cfg, &sub, &tls(7), Some(&mut a)).unwrap_err();
    assert_eq!(r.error, SecAgreeError::VerifyMismatch);
    let sub_tls = set_header(
        &raw("05-subscribe-reg.sip"),
        "Security-Verify",
        Some("tls;q=0.1"),
    );
    assert!(
        check_request(&cfg, &msg(&sub_tls), &tls(7), Some(&mut a))
            .unwrap()
            .protected
    );
    // Refresh rules: Security-Client/Verify missing or changed → 494; Authorization → 403.
    for (t, want) in [
        (
            set_header(&rr, "Security-Client", None),
            SecAgreeError::ClientMissing,
        ),
        (
            set_header(&rr, "Security-Client", Some("tls")),
            SecAgreeError::ClientChanged,
        ),
        (
            rr.replace("spi-c=8765423", "spi-c=8765424"),
            SecAgreeError::ClientChanged,
        ),
        (
            set_header(&rr, "Security-Verify", None),
            SecAgreeError::VerifyMissing,
        ),
        (
            set_header(&rr, "Security-Verify", Some("tls;q=0.2")),
            SecAgreeError::VerifyMismatch,
        ),
        (
            rr.replace("realm=\"ims.mnc01", "realm=\"imsx.mnc01"),
            SecAgreeError::AuthorizationChanged("realm"),
        ),
    ] {
        let r = check_request(&cfg, &msg(&t), &tls(7), Some(&mut a)).unwrap_err();
        assert_eq!(
            r.status(),
            if matches!(want, SecAgreeError::AuthorizationChanged(_)) {
                403
            } else {
                494
            }
        );
        assert_eq!(r.error, want);
    }
}

#[test]
fn tls_prior_to_registration_flow() {
    let cfg = tls_config();
    // (1)-(2): no sec-agree headers over TLS; the initial (empty response) REGISTER has no
    // integrity-protected.
    let r1 = no_sec_agree_register();
    let v = check_request(&cfg, &msg(&r1), &tls(3), None).unwrap();
    assert_eq!(
        (v.action, v.integrity_protected),
        (Action::BindTlsPrior(3), None)
    );
    let mut a = Association::tls_prior(ue_ip(), 3);
    assert!(!a.sec_agree());
    // (4)-(5): second REGISTER, no Security-* headers, with credentials → tls-pending.
    let r3 = set_header(&raw("03-register-protected.sip"), "Security-Client", None);
    let r3 = set_header(
        &set_header(&r3, "Security-Verify", None),
        "Proxy-Require",
        None,
    );
    let r3 = set_header(&r3, "Require", None);
    let v = check_request(&cfg, &msg(&r3), &tls(3), Some(&mut a)).unwrap();
    assert_eq!(
        (v.action, v.integrity_protected),
        (Action::Forward, Some(IntegrityProtected::TlsPending))
    );
    a.registered(&msg(&r3)).unwrap();
    let v = check_request(&cfg, &msg(&refresh(&r3)), &tls(3), Some(&mut a)).unwrap();
    assert_eq!(v.integrity_protected, Some(IntegrityProtected::TlsYes));
    let changed = refresh(&r3).replace("username=\"001010123456789@", "username=\"1@");
    assert_eq!(
        check_request(&cfg, &msg(&changed), &tls(3), Some(&mut a))
            .unwrap_err()
            .status(),
        403
    );
    // Without TLS and without sec-agree, `required` still answers 494.
    assert_eq!(
        check_request(&cfg, &msg(&r1), &unprotected(), None)
            .unwrap_err()
            .status(),
        494
    );
}

#[test]
fn responses_are_forwarded_and_flagged_by_flow() {
    let cfg = mode(SecAgreeMode::Required);
    let ok = msg(&raw("08-200-ok-notify.sip"));
    let mut a = trace_assoc();
    // As in the trace: 200 OK to NOTIFY from UE port-c 38003 to P-CSCF port-s 50718.
    let v = check_request(&cfg, &ok, &protected(), Some(&mut a)).unwrap();
    assert_eq!(
        (v.action.clone(), v.protected, v.integrity_protected),
        (Action::Forward, true, None)
    );
    // UE port-s → P-CSCF port-c is the other inbound SA.
    let mut other_pair = protected();
    other_pair.src.set_port(39003);
    other_pair.dst.set_port(50717);
    assert!(
        check_request(&cfg, &ok, &other_pair, Some(&mut a))
            .unwrap()
            .protected
    );
    // Unprotected port: forwarded, flagged unprotected; never a 403 for a response.
    let v = check_request(&cfg, &ok, &unprotected(), Some(&mut a)).unwrap();
    assert!(!v.protected);
    assert!(
        !check_request(&cfg, &ok, &unprotected(), None)
            .unwrap()
            .protected
    );
}
