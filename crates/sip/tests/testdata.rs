//! Every file of `shared/testdata/sip/` parses and its typed headers read back right; the `bad-*`
//! files are rejected naming the offending line.

mod common;
use common::{read, testdata_dir};
use sip::{Contact, HeaderName, Host, Message, Method, Uri};
use std::net::Ipv6Addr;

fn parse(name: &str) -> Message {
    Message::parse(read(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn every_good_file_parses_and_serializes_back_identically() {
    let mut n = 0;
    for entry in std::fs::read_dir(testdata_dir()).expect("dir") {
        let path = entry.expect("entry").path();
        let name = path
            .file_name()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        if !name.ends_with(".sip") || name.starts_with("bad-") {
            continue;
        }
        let bytes = std::fs::read(&path).expect("read");
        let m = Message::parse(bytes.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(&m.wire()[..], &bytes[..], "{name}: wire bytes differ");
        // every known header that this crate types parses
        m.via().unwrap_or_else(|e| panic!("{name}: {e}"));
        m.contacts().unwrap_or_else(|e| panic!("{name}: {e}"));
        m.security_client()
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        m.security_verify()
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        m.security_server()
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        m.authorization().unwrap_or_else(|e| panic!("{name}: {e}"));
        m.www_authenticate()
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        m.path().unwrap_or_else(|e| panic!("{name}: {e}"));
        m.service_route().unwrap_or_else(|e| panic!("{name}: {e}"));
        m.p_associated_uri()
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        m.p_access_network_info()
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        m.require().unwrap_or_else(|e| panic!("{name}: {e}"));
        m.supported().unwrap_or_else(|e| panic!("{name}: {e}"));
        m.allow().unwrap_or_else(|e| panic!("{name}: {e}"));
        n += 1;
    }
    assert_eq!(n, 11, "expected 8 trace files and 3 TS 24.228 examples");
}

#[test]
fn trace_register_initial() {
    let m = parse("01-register-initial.sip");
    m.validate().expect("valid");
    assert_eq!(m.method(), Some(Method::Register));
    let Uri::Sip(ruri) = m.request_uri().expect("ruri") else {
        panic!("not sip")
    };
    assert_eq!(ruri.host, Host::Domain("ims.sharetechnote.com".into()));
    let via = m.top_via().expect("via");
    assert_eq!(&*via.transport, "TCP");
    assert_eq!(
        via.host,
        Host::V6(
            "2001::1:d1ae:bb37:d9c9:81d0"
                .parse::<Ipv6Addr>()
                .expect("v6")
        )
    );
    assert_eq!(via.port, Some(5060));
    assert_eq!(via.branch(), Some("z9hG4bK370690ecb-643c9869"));
    let route = m.route().expect("route");
    assert_eq!(route.len(), 1);
    let Uri::Sip(r) = &route[0].uri else { panic!() };
    assert_eq!(r.host, Host::V6("2001:0:0:1::2".parse().expect("v6")));
    assert_eq!(r.port, Some(5060));
    assert!(r.is_loose_route());
    assert_eq!(
        m.from().expect("from").tag(),
        Some("54467370690e30-327b23c6")
    );
    assert_eq!(m.to().expect("to").tag(), None);
    assert_eq!(
        &*m.call_id().expect("cid"),
        "37067dd33-6b8b4567@2001::1:d1ae:bb37:d9c9:81d0"
    );
    let cseq = m.cseq().expect("cseq");
    assert_eq!((cseq.seq, cseq.method), (1, Method::Register));
    assert_eq!(m.max_forwards().expect("mf"), Some(70));
    let sup: Vec<String> = m
        .supported()
        .expect("sup")
        .iter()
        .map(|t| t.to_string())
        .collect();
    assert_eq!(sup, ["path", "eventlist", "sec-agree", "gruu", "outbound"]);
    assert_eq!(m.require().expect("req").len(), 1);
    assert_eq!(&*m.proxy_require().expect("preq")[0], "sec-agree");
    assert_eq!(m.allow().expect("allow").len(), 10);
    let auth = m.authorization().expect("auth").expect("present");
    assert!(auth.is_digest());
    assert_eq!(
        auth.username(),
        Some("001010123456789@ims.sharetechnote.com")
    );
    assert_eq!(auth.realm(), Some("ims.sharetechnote.com"));
    assert_eq!(auth.nonce(), Some(""));
    assert_eq!(auth.response(), Some(""));
    assert_eq!(auth.uri(), Some("sip:ims.sharetechnote.com"));
    assert_eq!(auth.algorithm(), Some("AKAv1-MD5"));
    // the IPsec trace's Security-Client has two mechanisms
    let sc = m.security_client().expect("sc");
    assert_eq!(sc.len(), 2);
    assert_eq!(&*sc[0].mechanism, "ipsec-3gpp");
    assert_eq!(sc[0].alg(), Some("hmac-md5-96"));
    assert_eq!(sc[1].alg(), Some("hmac-sha-1-96"));
    for mech in &sc {
        assert_eq!(mech.prot(), Some("esp"));
        assert_eq!(mech.mode(), Some("trans"));
        assert_eq!(mech.ealg(), Some("null"));
        assert_eq!(mech.spi_c(), Some(565817));
        assert_eq!(mech.spi_s(), Some(565818));
        assert_eq!(mech.port_c(), Some(38003));
        assert_eq!(mech.port_s(), Some(39003));
    }
    // parameters keep their received order
    let names: Vec<&str> = sc[0].params.iter().map(|p| &*p.name).collect();
    assert_eq!(
        names,
        ["alg", "prot", "mod", "ealg", "spi-c", "spi-s", "port-c", "port-s"]
    );
    let contacts = m.contacts().expect("contacts");
    assert_eq!(contacts.len(), 1);
    let Contact::Addr(c) = &contacts[0] else {
        panic!("wildcard")
    };
    assert_eq!(c.expires(), Some(600000));
    assert_eq!(c.sip_instance(), Some("<urn:gsma:imei:35910506-000422-0>"));
    assert_eq!(c.reg_id(), Some(1));
    assert_eq!(
        c.param("+g.3gpp.icsi-ref"),
        Some("urn%3Aurn-7%3A3gpp-service.ims.icsi.mmtel")
    );
    assert!(c.params.has("+g.3gpp.smsip") && c.params.has("video"));
    assert_eq!(c.params.get("video").expect("video").value, None);
    assert_eq!(
        m.user_agent().as_deref(),
        Some("IMS TestClient/4.0.0 H81110t")
    );
    assert_eq!(m.content_length().expect("cl"), Some(0));
    assert!(m.body().is_empty());
}

#[test]
fn trace_401_and_protected_register() {
    let m = parse("02-401-unauthorized.sip");
    m.validate().expect("valid");
    assert_eq!(m.status(), Some(401));
    assert_eq!(m.reason().as_deref(), Some("Unauthorized"));
    assert_eq!(m.to().expect("to").tag(), Some("987654321"));
    let ch = m.www_authenticate().expect("wa").expect("present");
    assert_eq!(ch.realm(), Some("ims.mnc01.mcc001.3gppnetwork.org"));
    assert_eq!(
        ch.nonce(),
        Some("26ohPzgYyy3VFVa4VnXhKgx8Ta1aXYAA27sDDHxNLVo=")
    );
    assert_eq!(ch.qop(), Some("auth"));
    assert_eq!(ch.opaque(), Some("4669e9192b2042d499606fe3e0fa839a"));
    assert_eq!(ch.algorithm(), Some("AKAv1-MD5"));
    assert_eq!(ch.ck(), None);
    let ss = m.security_server().expect("ss");
    assert_eq!(ss.len(), 1);
    assert_eq!(ss[0].spi_c(), Some(3458785863));
    assert_eq!(ss[0].spi_s(), Some(2821032177));
    assert_eq!(ss[0].port_c(), Some(50717));
    assert_eq!(ss[0].port_s(), Some(50718));
    assert_eq!(ss[0].q(), Some(0.1));

    let r = parse("03-register-protected.sip");
    r.validate().expect("valid");
    let sv = r.security_verify().expect("sv");
    assert_eq!(sv.len(), 1);
    // Security-Verify carries the same mechanism and values as the 401's Security-Server
    assert_eq!(sv[0].mechanism, ss[0].mechanism);
    for p in [
        "q", "alg", "prot", "mod", "ealg", "spi-c", "spi-s", "port-c", "port-s",
    ] {
        assert_eq!(sv[0].params.value(p), ss[0].params.value(p), "{p}");
    }
    let a = r.authorization().expect("auth").expect("present");
    assert_eq!(a.response(), Some("e089b68060162b5c6a328e5dd2d43133"));
    assert_eq!(a.cnonce(), Some("NGNhMTgzMw=="));
    assert_eq!(a.nc(), Some("00000001"));
    assert_eq!(a.qop(), Some("auth"));
    assert!(!a.params.iter().find(|p| p.is("qop")).expect("qop").quoted);
    assert!(
        a.params
            .iter()
            .find(|p| p.is("cnonce"))
            .expect("cnonce")
            .quoted
    );
    let pani = r.p_access_network_info().expect("pani").expect("present");
    assert_eq!(&*pani.access_type, "3GPP-E-UTRAN-FDD");
    assert_eq!(
        pani.params.value("utran-cell-id-3gpp"),
        Some("0010100000000000")
    );
    assert_eq!(r.top_via().expect("via").port, Some(39003));
}

#[test]
fn trace_200_subscribe_notify() {
    let ok = parse("04-200-ok-register.sip");
    ok.validate().expect("valid");
    let pau = ok.p_associated_uri().expect("pau");
    assert_eq!(pau.len(), 1);
    assert_eq!(
        pau[0].uri.to_string(),
        "sip:001010123456789@ims.mnc01.mcc001.3gppnetwork.org"
    );
    let path = ok.path().expect("path");
    assert_eq!(path.len(), 1);
    assert!(path[0].uri.as_sip().expect("sip").is_loose_route());
    assert_eq!(
        ok.header_value("Date").as_deref(),
        Some("Thu, 25 Aug 2016 11:37:08 GMT")
    );

    let sub = parse("05-subscribe-reg.sip");
    sub.validate().expect("valid");
    assert_eq!(sub.method(), Some(Method::Subscribe));
    assert_eq!(&*sub.event().expect("ev").expect("present").package, "reg");
    assert_eq!(sub.expires().expect("exp"), Some(600000));
    let c = sub.contacts().expect("c");
    let a = c[0].addr().expect("addr");
    assert!(a.uri.as_sip().expect("sip").params.has("ob"));
    assert_eq!(a.sip_instance(), Some("<urn:gsma:imei:35910506-000422-0>"));
    assert_eq!(&*sub.via().expect("via")[0].transport, "UDP");

    let ok2 = parse("06-200-ok-subscribe.sip");
    let rr = ok2.record_route().expect("rr");
    assert_eq!(rr.len(), 1);
    assert_eq!(rr[0].uri.as_sip().expect("sip").port, Some(50718));

    let n = parse("07-notify-reginfo.sip");
    n.validate().expect("valid");
    assert_eq!(n.method(), Some(Method::Notify));
    let ss = n.subscription_state().expect("ss").expect("present");
    assert_eq!(&*ss.state, "active");
    assert_eq!(ss.expires(), Some(600000));
    let ct = n.content_type().expect("ct").expect("present");
    assert!(ct.is("application", "reginfo+xml"));
    assert_eq!(n.body().len(), 688);
    assert!(n.body().starts_with(b"<?xml"));
    assert!(n.body().ends_with(b"</reginfo>\r\n"));
    let v = n.top_via().expect("via");
    assert_eq!(v.params.value("transport"), Some("udp"));
    assert_eq!(n.max_forwards().expect("mf"), Some(69));
    let Uri::Sip(ruri) = n.request_uri().expect("ruri") else {
        panic!()
    };
    assert_eq!(ruri.port, Some(39003));
    assert!(ruri.params.has("ob"));

    let ok3 = parse("08-200-ok-notify.sip");
    ok3.validate().expect("valid");
    assert_eq!(
        ok3.server().as_deref(),
        Some("IMS TestClient/4.0.0 H81110t")
    );
}

#[test]
fn ts24228_examples_with_folded_lines() {
    let m = parse("ts24228-p01-register-ue-to-pcscf.sip");
    m.validate().expect("valid");
    let v = m.top_via().expect("via");
    assert_eq!(
        v.host,
        Host::V6("5555::aaa:bbb:ccc:ddd".parse().expect("v6"))
    );
    assert_eq!(v.port, None);
    assert_eq!(v.params.value("comp"), Some("sigcomp"));
    // folded Authorization: continuation line joins the value
    let a = m.authorization().expect("auth").expect("present");
    assert_eq!(a.username(), Some("user1_private@home1.net"));
    assert_eq!(a.realm(), Some("registrar.home1.net"));
    assert_eq!(a.uri(), Some("sip:registrar.home1.net"));
    assert_eq!(a.response(), Some(""));
    // folded Security-Client: port-c/port-s are on the continuation line
    let sc = m.security_client().expect("sc");
    assert_eq!(sc.len(), 1);
    assert_eq!(sc[0].spi_c(), Some(23456789));
    assert_eq!(sc[0].spi_s(), Some(12345678));
    assert_eq!(sc[0].port_c(), Some(2468));
    assert_eq!(sc[0].port_s(), Some(1357));
    let pani = m.p_access_network_info().expect("pani").expect("present");
    assert_eq!(
        pani.params.value("utran-cell-id-3gpp"),
        Some("234151D0FCE11")
    );
    let c = m.contacts().expect("c");
    assert_eq!(c[0].addr().expect("addr").expires(), Some(600000));
    // the folded header is one index entry spanning two lines
    let h = m.headers_named("Authorization").next().expect("auth line");
    assert_eq!(h.line, 9);
    assert!(h.raw_line.ends_with(b"response=\"\"\r\n"));

    let p4 = parse("ts24228-p04-401-scscf-to-icscf.sip");
    let vias = p4.via().expect("via");
    assert_eq!(vias.len(), 3);
    assert_eq!(vias[0].host, Host::Domain("icscf1_p.home1.net".into()));
    assert_eq!(vias[1].host, Host::Domain("pcscf1.visited1.net".into()));
    assert_eq!(vias[1].branch(), Some("z9hG4bK240f34.1"));
    assert_eq!(
        vias[2].host,
        Host::V6("5555::aaa:bbb:ccc:ddd".parse().expect("v6"))
    );
    assert_eq!(p4.to().expect("to").tag(), Some("5ef4"));
    let ch = p4.www_authenticate().expect("wa").expect("present");
    // placeholders stay opaque text; the fold becomes one space
    assert_eq!(
        ch.nonce(),
        Some("base64(RAND + AUTN + server specific data)")
    );
    assert_eq!(ch.ik(), Some("00112233445566778899aabbccddeeff"));
    assert_eq!(ch.ck(), Some("ffeeddccbaa11223344556677889900"));
    assert_eq!(ch.algorithm(), Some("AKAv1-MD5"));

    let p11 = parse("ts24228-p11-200-ok-scscf-to-icscf.sip");
    assert_eq!(p11.via().expect("via").len(), 3);
    assert_eq!(
        p11.path().expect("path")[0].uri.to_string(),
        "sip:term@pcscf1.visited1.net;lr"
    );
    assert_eq!(
        p11.service_route().expect("sr")[0].uri.to_string(),
        "sip:orig@scscf1.home1.net;lr"
    );
    let pau = p11.p_associated_uri().expect("pau");
    assert_eq!(pau.len(), 3);
    assert_eq!(
        pau[2].uri.as_sip().expect("sip").params.value("user"),
        Some("phone")
    );
    assert_eq!(
        pau[2].uri.as_sip().and_then(|u| u.user.as_deref()),
        Some("+1-212-555-1111")
    );
    // the specification elides values ("From:"): typed access says so, naming the line
    let e = p11.from().expect_err("empty From");
    assert_eq!(e.line(), Some(7));
    assert_eq!(e.status(), 400);
    assert_eq!(e.reason_phrase(), "Bad From Header");
    assert!(p11.validate().is_err());
}

#[test]
fn bad_files_are_rejected_naming_the_line() {
    let e = Message::parse(read("bad-ts24228-p07-401-pcscf-to-ue.sip")).expect_err("p07");
    assert_eq!(e.line(), Some(7), "{e}");
    assert_eq!(e.status(), 400);
    let e = Message::parse(read("bad-ts24228-p08-register-protected.sip")).expect_err("p08");
    assert_eq!(e.line(), Some(10), "{e}");
    assert!(e.to_string().contains("line 10"), "{e}");
    assert_eq!(HeaderName::from_str("v"), Some(HeaderName::Via));
}
