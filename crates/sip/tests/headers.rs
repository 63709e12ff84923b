//! Typed headers not covered by the shared test data, parsed from values as RFCs and TS 24.229
//! write them, plus error cases.

use sip::{
    AuthHeader, AuthenticationInfo, CSeq, Contact, ContentType, Event, Header, HeaderName, Host,
    Message, Method, NameAddr, PChargingVector, PVisitedNetworkId, RetryAfter, SecurityMechanism,
    SubscriptionState, Uri, Via,
};

#[test]
fn via_received_rport_and_errors() {
    let v = Via::parse_str(
        "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK77;received=[2001:db8::9];rport=5062",
    )
    .expect("via");
    assert_eq!(v.received(), Some("2001:db8::9".parse().expect("ip")));
    assert_eq!(v.rport(), Some(Some(5062)));
    assert_eq!(v.sent_by(), "192.0.2.1:5060");
    let v = Via::parse_str("SIP/2.0/TCP client.example.com;rport;branch=z9hG4bKx").expect("via");
    assert_eq!(v.rport(), Some(None));
    assert_eq!(v.received(), None);
    assert!(v.branch_is_rfc3261());
    for bad in [
        "SIP/3.0/UDP h",
        "HTTP/2.0/UDP h",
        "SIP/2.0/UDP",
        "SIP/2.0/UDPh",
        "SIP/2.0/UDP h:99999",
        "SIP/2.0/UDP h;branch",
        "SIP/2.0/UDP h;;x",
        "SIP/2.0/UDP [::1",
        "SIP/2.0/UDP h extra",
    ] {
        let e = Via::parse_str(bad).expect_err(bad);
        assert_eq!(e.status(), 400, "{bad}");
        assert_eq!(e.reason_phrase(), "Bad Via Header", "{bad}");
    }
}

#[test]
fn name_addr_forms() {
    let n = NameAddr::parse_str("\"A \\\"quoted\\\" name\" <sips:bob@[2001:db8::1]:5061;transport=tls>;tag=x;+sip.instance=\"<urn:uuid:1>\"").expect("na");
    assert_eq!(n.display.as_deref(), Some("A \"quoted\" name"));
    assert_eq!(n.tag(), Some("x"));
    assert_eq!(n.sip_instance(), Some("<urn:uuid:1>"));
    let Uri::Sip(u) = &n.uri else { panic!("sip") };
    assert!(u.secure);
    assert_eq!(u.host, Host::V6("2001:db8::1".parse().expect("v6")));
    // display form round trip
    assert_eq!(NameAddr::parse_str(&n.to_string()).expect("again"), n);
    let t = NameAddr::parse_str("<tel:+1-212-555-0101;phone-context=example.com>").expect("tel");
    assert!(matches!(t.uri, Uri::Tel(_)));
    for bad in [
        "",
        "<sip:a@b",
        "\"unterminated <sip:a@b>",
        "Bell, Alexander <sip:a@b>",
        "< sip:a@b>",
        "sip:a@b?x=y",
        "<sip:a@b> junk",
    ] {
        assert!(NameAddr::parse_str(bad).is_err(), "{bad:?}");
    }
    assert_eq!(Contact::parse_str(" * ").expect("star"), Contact::Wildcard);
}

#[test]
fn auth_headers() {
    let ch = AuthHeader::parse_str("Digest realm=\"ims.example.net\", nonce=\"abc\", algorithm=AKAv1-MD5, qop=\"auth,auth-int\", stale=TRUE, opaque=\"o\"").expect("ch");
    assert!(ch.stale());
    assert_eq!(
        ch.qop(),
        Some("auth,auth-int"),
        "a comma inside quotes does not split"
    );
    let cr = AuthHeader::parse_str("Digest username=\"u@ims\", realm=\"r\", nonce=\"n\", uri=\"sip:r\", response=\"\", auts=\"AAAAAAAAAAAAAAAAAAAA\", integrity-protected=\"tls-pending\"").expect("cr");
    assert_eq!(cr.auts(), Some("AAAAAAAAAAAAAAAAAAAA"));
    assert_eq!(cr.integrity_protected(), Some("tls-pending"));
    let ai = AuthenticationInfo::parse_str(
        "nextnonce=\"47364c23432d2e131a5fb210812c\", qop=auth, rspauth=\"6629fae4\"",
    )
    .expect("ai");
    assert_eq!(ai.get("nextnonce"), Some("47364c23432d2e131a5fb210812c"));
    assert_eq!(ai.get("qop"), Some("auth"));
    for bad in [
        "",
        "Digest realm",
        "Digest realm=",
        "Digest realm=\"x",
        "Digest realm=\"a\" b",
        "Digest a=b,,c=d",
        "Digest a=b,",
    ] {
        assert!(AuthHeader::parse_str(bad).is_err(), "{bad:?}");
    }
    // several Proxy-Authenticate / Authorization headers are all read
    let m = Message::parse(
        &b"SIP/2.0 407 Proxy Authentication Required\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\nProxy-Authenticate: Digest realm=\"a\", nonce=\"1\"\r\nProxy-Authenticate: Digest realm=\"b\", nonce=\"2\"\r\nContent-Length: 0\r\n\r\n"[..],
    )
    .expect("407");
    let all: Vec<AuthHeader> = m.parse_all(HeaderName::ProxyAuthenticate).expect("all");
    assert_eq!(all.len(), 2);
    assert_eq!(all[1].realm(), Some("b"));
    assert_eq!(
        m.proxy_authenticate()
            .expect("pa")
            .expect("present")
            .realm(),
        Some("a")
    );
}

#[test]
fn security_mechanisms() {
    let m = SecurityMechanism::parse_str("ipsec-3gpp; q=0.1; alg=hmac-sha-1-96; ealg=aes-cbc; spi-c=4294967295; spi-s=0; port-c=65535; port-s=1; x-new=1; flag").expect("sm");
    assert_eq!(m.spi_c(), Some(u32::MAX));
    assert_eq!(m.spi_s(), Some(0));
    assert_eq!(m.port_c(), Some(65535));
    assert_eq!(m.ealg(), Some("aes-cbc"));
    let names: Vec<&str> = m.params.iter().map(|p| &*p.name).collect();
    assert_eq!(
        names,
        ["q", "alg", "ealg", "spi-c", "spi-s", "port-c", "port-s", "x-new", "flag"]
    );
    assert_eq!(
        SecurityMechanism::parse_str("tls;q=0.2").expect("tls").q(),
        Some(0.2)
    );
    for bad in [
        "ipsec-3gpp;spi-c=4294967296",
        "ipsec-3gpp;port-s=70000",
        "ipsec-3gpp;port-c=",
        "ipsec-3gpp;q=2",
        "ipsec-3gpp;spi-s=-1",
        ";alg=x",
    ] {
        assert!(SecurityMechanism::parse_str(bad).is_err(), "{bad}");
    }
}

#[test]
fn misc_headers() {
    let c = CSeq::parse_str("4711 SUBSCRIBE").expect("cseq");
    assert_eq!((c.seq, c.method), (4711, Method::Subscribe));
    assert!(CSeq::parse_str("4294967296 INVITE").is_err());
    assert!(CSeq::parse_str("1INVITE").is_err());
    let ct = ContentType::parse_str("multipart/mixed;boundary=\"7a9c\"").expect("ct");
    assert!(ct.is("MULTIPART", "Mixed"));
    assert_eq!(ct.params.value("boundary"), Some("7a9c"));
    let e = Event::parse_str("reg;id=17").expect("event");
    assert_eq!((&*e.package, e.params.value("id")), ("reg", Some("17")));
    let s = SubscriptionState::parse_str("terminated;reason=timeout;retry-after=30").expect("ss");
    assert_eq!(
        (&*s.state, s.reason(), s.retry_after(), s.expires()),
        ("terminated", Some("timeout"), Some(30), None)
    );
    let r = RetryAfter::parse_str("18000 (in (nested) maintenance);duration=3600").expect("ra");
    assert_eq!(
        (r.seconds, r.comment.as_deref(), r.params.value("duration")),
        (18000, Some("in (nested) maintenance"), Some("3600"))
    );
    assert!(RetryAfter::parse_str("949302838503028349304023988").is_err());
    let pcv = PChargingVector::parse_str("icid-value=\"AyretyU0dm+6O2IrT5tAFrbHLso=023551024\";icid-generated-at=192.0.6.8;orig-ioi=home1.net;term-ioi=home2.net").expect("pcv");
    assert_eq!(
        pcv.icid_value(),
        Some("AyretyU0dm+6O2IrT5tAFrbHLso=023551024")
    );
    assert_eq!(pcv.orig_ioi(), Some("home1.net"));
    assert_eq!(pcv.term_ioi(), Some("home2.net"));
    assert_eq!(pcv.icid_generated_at(), Some("192.0.6.8"));
    assert_eq!(
        PChargingVector::parse_str(&pcv.to_string()).expect("again"),
        pcv
    );
    assert!(PChargingVector::parse_str("orig-ioi=x").is_err());
    let m = Message::parse(
        &b"REGISTER sip:r SIP/2.0\r\nP-Visited-Network-ID: \"Visited network number 1\", other.net;x=1\r\nMin-Expires: 3600\r\nRetry-After: 120\r\nUnsupported: foo, bar\r\nContent-Length: 0\r\n\r\n"[..],
    )
    .expect("msg");
    let v = m.p_visited_network_id().expect("pvni");
    assert_eq!(v.len(), 2);
    assert_eq!(
        v[0],
        PVisitedNetworkId {
            network: "Visited network number 1".into(),
            quoted: true,
            params: Default::default()
        }
    );
    assert_eq!(
        (&*v[1].network, v[1].params.value("x")),
        ("other.net", Some("1"))
    );
    assert_eq!(m.min_expires().expect("me"), Some(3600));
    assert_eq!(m.retry_after().expect("ra").expect("present").seconds, 120);
    assert_eq!(m.unsupported().expect("u").len(), 2);
    let e = m.validate().expect_err("no Via/From/To");
    assert_eq!(e.status(), 400);
}

#[test]
fn errors_name_header_and_line() {
    let m = Message::parse(
        &b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: x y\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 256\r\nContent-Length: 0\r\n\r\n"[..],
    )
    .expect("parses");
    let e = m.call_id().expect_err("space in Call-ID");
    assert_eq!(
        (e.line(), e.reason_phrase().as_str()),
        (Some(5), "Bad Call-ID Header")
    );
    let e = m.max_forwards().expect_err("256");
    assert_eq!(
        (e.line(), e.reason_phrase().as_str()),
        (Some(7), "Bad Max-Forwards Header")
    );
    assert!(m.validate().is_err());
    // header-line errors
    for (raw, line) in [
        (
            &b"OPTIONS sip:a@b SIP/2.0\r\n bad continuation\r\n\r\n"[..],
            2,
        ),
        (
            &b"OPTIONS sip:a@b SIP/2.0\r\nVia: x\r\nNo colon here\r\n\r\n"[..],
            3,
        ),
        (
            &b"OPTIONS sip:a@b SIP/2.0\r\nVia: x\nFrom: y\r\n\r\n"[..],
            2,
        ),
        (&b"OPTIONS sip:a@b SIP/2.0\r\nVia: a\rb\r\n\r\n"[..], 2),
        (&b"OPTIONS sip:a@b SIP/2.0\r\n: empty name\r\n\r\n"[..], 2),
    ] {
        let e = Message::parse(raw).expect_err("bad line");
        assert_eq!(e.line(), Some(line), "{e}");
        assert_eq!(e.status(), 400);
    }
    for raw in [
        &b"OPTIONS sip:a@b SIP/2.0"[..],
        b"",
        b"\r\n",
        b"OPTIONS  sip:a@b SIP/2.0\r\n\r\n",
        b"SIP/2.0 20 OK\r\n\r\n",
        b"SIP/2.0 2000 OK\r\n\r\n",
        b"OPTIONS sip:a@b SIP/2.0 \r\n\r\n",
    ] {
        assert!(
            Message::parse(raw).is_err(),
            "{:?}",
            String::from_utf8_lossy(raw)
        );
    }
    let e = Message::parse(&b"OPTIONS sip:a@b SIP/3.0\r\n\r\n"[..]).expect_err("version");
    assert_eq!(
        (e.status(), e.reason_phrase().as_str()),
        (505, "Version Not Supported")
    );
    let e = Message::parse(&b"SIP/2.1 200 OK\r\n\r\n"[..]).expect_err("version");
    assert_eq!(e.status(), 505);
}

/// `Message::top_via_branch` (the transaction key read without a Via parse) returns what the
/// Via parser returns, for the Via forms RFC 3261 §20.42 and §7.3.1 allow.
#[test]
fn top_via_branch_matches_the_via_parser() {
    let msg = |vias: &str| {
        let wire = format!(
            "SIP/2.0 200 OK\r\n{vias}From: <sip:a@h>;tag=1\r\nTo: <sip:a@h>\r\nCall-ID: c\r\nCSeq: 1 REGISTER\r\nContent-Length: 0\r\n\r\n"
        );
        Message::parse(bytes::Bytes::from(wire)).expect("message")
    };
    for (vias, want) in [
        (
            "Via: SIP/2.0/UDP h:5060;branch=z9hG4bKa1\r\n",
            Some("z9hG4bKa1"),
        ),
        (
            "Via: SIP/2.0/UDP h;rport;BRANCH = z9hG4bKcase ;x=1\r\n",
            Some("z9hG4bKcase"),
        ),
        // a quoted generic parameter hiding a fake branch comes first
        (
            "Via: SIP/2.0/UDP h;x=\"a;branch=fake\\\";\";branch=z9hG4bKreal\r\n",
            Some("z9hG4bKreal"),
        ),
        // the top element of a comma-separated list, then of the first of two headers
        (
            "v: SIP/2.0/TCP h1;branch=z9hG4bKtop, SIP/2.0/UDP h2;branch=z9hG4bK2\r\n",
            Some("z9hG4bKtop"),
        ),
        (
            "Via: SIP/2.0/UDP h1;received=192.0.2.1\r\nVia: SIP/2.0/UDP h2;branch=z9hG4bK2\r\n",
            None,
        ),
        ("Via: SIP/2.0/UDP h;branches=z9hG4bKno\r\n", None),
        ("", None),
    ] {
        let m = msg(vias);
        assert_eq!(
            m.top_via_branch().as_ref().map(|b| b.as_str()),
            want,
            "{vias:?}"
        );
        if let Ok(v) = m.top_via() {
            assert_eq!(v.branch(), want, "parser on {vias:?}");
        }
    }
}
