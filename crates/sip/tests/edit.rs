//! Builder and proxy editor: new messages read back right; edits rewrite only the touched
//! header lines and copy every other byte.

mod common;
use common::read;
use sip::{
    AuthHeader, Editor, Error, HeaderName, Host, Message, MessageBuilder, Method, NameAddr,
    PChargingVector, Param, SecurityMechanism, SipUri, Uri, Via,
};

fn parse(name: &str) -> Message {
    Message::parse(read(name)).expect(name)
}

/// Raw header lines of `m` except those of `skip` names.
fn lines_except(m: &Message, skip: &[&str]) -> Vec<String> {
    m.headers()
        .filter(|h| !skip.iter().any(|s| h.is(s)))
        .map(|h| String::from_utf8_lossy(h.raw_line).into_owned())
        .collect()
}

#[test]
fn pcscf_forwards_initial_register() {
    let m = parse("01-register-initial.sip");
    let mut ed = Editor::new(&m);
    let via = Via::new(
        "UDP",
        Host::Domain("pcscf.visited.net".into()),
        Some(5060),
        "z9hG4bKpcscf1",
    );
    ed.push_via(&via).expect("via");
    ed.prepend(HeaderName::Path, "<sip:term@pcscf.visited.net;lr>")
        .expect("path");
    ed.append(HeaderName::PVisitedNetworkId, "\"Visited Network\"")
        .expect("pvni");
    ed.append(HeaderName::PChargingVector, PChargingVector::new("abc123"))
        .expect("pcv");
    let n = ed
        .set_auth_param(
            HeaderName::Authorization,
            Param::quoted("integrity-protected", "no"),
        )
        .expect("auth");
    assert_eq!(n, 1);
    let out = ed.finish().expect("finish");
    out.validate().expect("valid");
    // new values read back
    let vias = out.via().expect("via");
    assert_eq!(vias.len(), 2);
    assert_eq!(vias[0], via);
    assert_eq!(
        out.path().expect("path")[0].uri.to_string(),
        "sip:term@pcscf.visited.net;lr"
    );
    let pvni = out.p_visited_network_id().expect("pvni");
    assert_eq!(
        (&*pvni[0].network, pvni[0].quoted),
        ("Visited Network", true)
    );
    assert_eq!(
        out.p_charging_vector()
            .expect("pcv")
            .expect("present")
            .icid_value(),
        Some("abc123")
    );
    let a = out.authorization().expect("auth").expect("present");
    assert_eq!(a.integrity_protected(), Some("no"));
    let before = m.authorization().expect("auth").expect("present");
    assert_eq!(
        &a.params[..before.params.len()],
        &before.params[..],
        "existing params unchanged, in order"
    );
    // every untouched line is byte-identical and in the same order
    let pushed = format!("Via: {via}\r\n");
    let kept: Vec<String> = lines_except(
        &out,
        &[
            "Path",
            "P-Visited-Network-ID",
            "P-Charging-Vector",
            "Authorization",
        ],
    )
    .into_iter()
    .filter(|l| *l != pushed)
    .collect();
    assert_eq!(kept, lines_except(&m, &["Authorization"]));
    assert_eq!(
        out.header_at(0).expect("first").raw_line,
        m.header_at(0).expect("first").raw_line,
        "Max-Forwards stays first"
    );
    assert_eq!(out.start_line(), m.start_line());
    assert_eq!(
        out.headers_named("Content-Length")
            .next()
            .expect("cl")
            .raw_line,
        b"Content-Length: 0\r\n"
    );
}

#[test]
fn pcscf_strips_ck_ik_from_401() {
    let m = parse("ts24228-p04-401-scscf-to-icscf.sip");
    let mut ed = Editor::new(&m);
    assert_eq!(
        ed.strip_auth_params(HeaderName::WwwAuthenticate, &["ck", "ik"])
            .expect("strip"),
        1
    );
    let out = ed.to_bytes().expect("bytes");
    let out = Message::parse(out).expect("parse");
    let ch = out.www_authenticate().expect("wa").expect("present");
    assert_eq!((ch.ck(), ch.ik()), (None, None));
    assert_eq!(ch.realm(), Some("registrar.home1.net"));
    assert_eq!(
        ch.nonce(),
        Some("base64(RAND + AUTN + server specific data)")
    );
    assert_eq!(ch.algorithm(), Some("AKAv1-MD5"));
    assert_eq!(
        lines_except(&out, &["WWW-Authenticate"]),
        lines_except(&m, &["WWW-Authenticate"])
    );
    // a second strip finds nothing to change and rewrites nothing
    let mut ed = Editor::new(&out);
    assert_eq!(
        ed.strip_auth_params(HeaderName::WwwAuthenticate, &["ck", "ik"])
            .expect("strip"),
        0
    );
    assert_eq!(ed.to_bytes().expect("bytes"), out.wire());
}

#[test]
fn pop_via_rewrites_only_the_top_line() {
    let m = parse("ts24228-p04-401-scscf-to-icscf.sip");
    let mut ed = Editor::new(&m);
    let top = ed.pop_via().expect("pop");
    assert_eq!(top.host, Host::Domain("icscf1_p.home1.net".into()));
    let out = ed.finish().expect("finish");
    let vias = out.via().expect("via");
    assert_eq!(vias.len(), 2);
    assert_eq!(vias[0].host, Host::Domain("pcscf1.visited1.net".into()));
    assert_eq!(lines_except(&out, &["Via"]), lines_except(&m, &["Via"]));
    // pop the remaining two, then there is none
    let mut ed = Editor::new(&out);
    ed.pop_via().expect("2");
    ed.pop_via().expect("3");
    assert!(matches!(
        ed.pop_via(),
        Err(Error::MissingHeader { name: "Via" })
    ));
    let last = ed.finish().expect("finish");
    assert!(last.via().expect("via").is_empty());

    // separate Via lines: popping removes the first line only
    let t = parse("rfc4475/transports.dat");
    let mut ed = Editor::new(&t);
    assert_eq!(&*ed.pop_via().expect("pop").transport, "UDP");
    let out = ed.to_bytes().expect("bytes");
    let top_line = t.headers_named("Via").next().expect("via").raw_line;
    let mut expected = t.wire().to_vec();
    let pos = expected
        .windows(top_line.len())
        .position(|w| w == top_line)
        .expect("found");
    expected.drain(pos..pos + top_line.len());
    assert_eq!(&out[..], &expected[..]);
}

#[test]
fn remove_replace_and_body() {
    let m = parse("07-notify-reginfo.sip");
    let mut ed = Editor::new(&m);
    assert_eq!(ed.remove("record-route"), 1);
    ed.replace(HeaderName::MaxForwards, 68).expect("mf");
    let out = ed.finish().expect("finish");
    assert!(out.record_route().expect("rr").is_empty());
    assert_eq!(out.max_forwards().expect("mf"), Some(68));
    assert_eq!(out.body(), m.body());
    assert_eq!(
        out.content_length().expect("cl"),
        Some(688),
        "Content-Length untouched when the body is"
    );

    let mut ed = Editor::new(&m);
    ed.set_body(Some("application/reginfo+xml"), &b"<reginfo/>"[..])
        .expect("body");
    let out = ed.finish().expect("finish");
    assert_eq!(&out.body()[..], b"<reginfo/>");
    assert_eq!(out.content_length().expect("cl"), Some(10));
    assert_eq!(
        lines_except(&out, &["Content-Length"]),
        lines_except(&m, &["Content-Length"])
    );

    let mut ed = Editor::new(&m);
    ed.set_request_uri("sip:other@example.net").expect("ruri");
    let out = ed.finish().expect("finish");
    assert_eq!(
        out.request_uri().expect("ruri").to_string(),
        "sip:other@example.net"
    );
    assert_eq!(lines_except(&out, &[]), lines_except(&m, &[]));

    // bad input from the caller is refused, not written
    let mut ed = Editor::new(&m);
    assert!(matches!(ed.append("Bad Name", "x"), Err(Error::Usage(_))));
    assert!(matches!(
        ed.append("X-Ok", "a\r\nInjected: yes"),
        Err(Error::Usage(_))
    ));
    assert_eq!(ed.to_bytes().expect("bytes"), m.wire());
}

#[test]
fn edit_security_verify_typed() {
    let m = parse("03-register-protected.sip");
    let mut ed = Editor::new(&m);
    let n = ed
        .edit::<SecurityMechanism>(HeaderName::SecurityVerify, |s| {
            s.params.remove("q");
        })
        .expect("edit");
    assert_eq!(n, 1);
    let out = ed.finish().expect("finish");
    let sv = out.security_verify().expect("sv");
    assert_eq!(sv[0].q(), None);
    assert_eq!(sv[0].spi_c(), Some(3458785863));
    assert_eq!(
        lines_except(&out, &["Security-Verify"]),
        lines_except(&m, &["Security-Verify"])
    );
}

#[test]
fn builder_register_and_401() {
    let from = NameAddr::new(Uri::Sip(
        SipUri::new(Host::Domain("home1.net".into())).with_user("user1_public1"),
    ))
    .with_param(Param::token("tag", "4fa3"));
    let to = NameAddr::new(from.uri.clone());
    let sc = SecurityMechanism::new("ipsec-3gpp")
        .with("alg", "hmac-sha-1-96")
        .with("spi-c", "23456789")
        .with("spi-s", "12345678")
        .with("port-c", "2468")
        .with("port-s", "1357");
    let auth = AuthHeader::digest()
        .with_quoted("username", "user1_private@home1.net")
        .with_quoted("realm", "registrar.home1.net")
        .with_quoted("nonce", "")
        .with_quoted("uri", "sip:registrar.home1.net")
        .with_quoted("response", "");
    let via = Via::new(
        "UDP",
        Host::V6("5555::aaa:bbb:ccc:ddd".parse().expect("v6")),
        Some(1357),
        "z9hG4bKnashds7",
    );
    let req = MessageBuilder::request(Method::Register, "sip:registrar.home1.net")
        .header(HeaderName::Via, &via)
        .header(HeaderName::MaxForwards, 70)
        .header(HeaderName::From, &from)
        .header(HeaderName::To, &to)
        .header(HeaderName::CallId, "apb03a0s09dkjdfglkj49111")
        .header(HeaderName::CSeq, "1 REGISTER")
        .header(HeaderName::Authorization, &auth)
        .header(HeaderName::SecurityClient, &sc)
        .header(HeaderName::Require, "sec-agree")
        .build()
        .expect("build");
    req.validate().expect("valid");
    assert_eq!(req.top_via().expect("via"), via);
    assert_eq!(req.from().expect("from"), from);
    assert_eq!(req.authorization().expect("a").expect("present"), auth);
    assert_eq!(req.security_client().expect("sc"), vec![sc]);
    assert_eq!(req.content_length().expect("cl"), Some(0));
    assert!(req.as_bytes().ends_with(b"Content-Length: 0\r\n\r\n"));

    let challenge = AuthHeader::digest()
        .with_quoted("realm", "registrar.home1.net")
        .with_quoted("nonce", "CjPk9mRqNuT25eRkajM09uTl9nM09uTl9nMz5OX25PZz==")
        .with_token("algorithm", "AKAv1-MD5")
        .with_quoted("ck", "ffeeddccbbaa11223344556677889900")
        .with_quoted("ik", "00112233445566778899aabbccddeeff");
    let resp = MessageBuilder::response_to(&req, 401, "Unauthorized", Some("5ef4"))
        .header(HeaderName::WwwAuthenticate, &challenge)
        .build()
        .expect("401");
    resp.validate().expect("valid");
    assert_eq!(resp.status(), Some(401));
    assert_eq!(resp.to().expect("to").tag(), Some("5ef4"));
    assert_eq!(
        resp.www_authenticate().expect("wa").expect("present"),
        challenge
    );
    for name in ["Via", "From", "Call-ID", "CSeq"] {
        assert_eq!(
            resp.headers_named(name).next().expect(name).raw_line,
            req.headers_named(name).next().expect(name).raw_line,
            "{name} copied byte for byte"
        );
    }
    assert!(!resp.has("Security-Client"));

    // a response to a request whose To already has a tag keeps it
    let ok = parse("04-200-ok-register.sip");
    let notify = parse("07-notify-reginfo.sip");
    let r = MessageBuilder::response_to(&notify, 200, "OK", Some("zzz"))
        .build()
        .expect("200");
    assert_eq!(r.to().expect("to").tag(), Some("544673707d1e7d-3d740161"));
    assert_eq!(ok.status(), Some(200));

    // a body sets Content-Type and Content-Length
    let n = MessageBuilder::request(Method::Notify, "sip:ue@[2001:db8::1]:5060")
        .body("application/reginfo+xml", "<reginfo/>")
        .build()
        .expect("notify");
    assert_eq!(n.content_length().expect("cl"), Some(10));
    assert!(n
        .content_type()
        .expect("ct")
        .expect("present")
        .is("application", "reginfo+xml"));
    assert_eq!(&n.body()[..], b"<reginfo/>");
}

#[test]
fn builder_refuses_bad_input() {
    assert!(matches!(
        MessageBuilder::request(Method::Options, "sip:a b").build(),
        Err(Error::Usage(_))
    ));
    assert!(matches!(
        MessageBuilder::response(999, "x").build(),
        Err(Error::Usage(_))
    ));
    assert!(matches!(
        MessageBuilder::response(200, "OK")
            .header("X", "a\nb")
            .build(),
        Err(Error::Usage(_))
    ));
    assert!(matches!(
        MessageBuilder::response(200, "OK")
            .header("X:", "a")
            .build(),
        Err(Error::Usage(_))
    ));
    // an explicit Content-Length is ignored: the builder writes the right one
    let m = MessageBuilder::response(200, "OK")
        .header(HeaderName::ContentLength, 99)
        .build()
        .expect("ok");
    assert_eq!(m.content_length().expect("cl"), Some(0));
    assert_eq!(m.headers_named("l").count(), 1);
}

/// A request with three Route lines (the first holding two elements), an unknown header spelled
/// two ways, and a compact-form header.
const ROUTED: &[u8] = b"INVITE sip:bob@home2.net SIP/2.0\r\n\
Via: SIP/2.0/UDP ue.home1.net;branch=z9hG4bK1\r\n\
Route: <sip:pcscf.home1.net;lr>,  <sip:orig@scscf.home1.net;lr>\r\n\
route:<sip:icscf.home2.net;lr>\r\n\
X-Foo: one\r\n\
Max-Forwards: 70\r\n\
ROUTE: <sip:last.home2.net;lr>\r\n\
x-foo: two\r\n\
v: SIP/2.0/TCP p.home1.net;branch=z9hG4bK2\r\n\
Subject: a, b\r\n\
Content-Length: 0\r\n\r\n";

#[test]
fn pop_first_removes_only_the_first_element_of_the_first_line() {
    let m = Message::parse(ROUTED).expect("parse");
    let mut ed = Editor::new(&m);
    let first = ed.pop_first(HeaderName::Route).expect("pop").expect("some");
    assert_eq!(&*first, "<sip:pcscf.home1.net;lr>");
    let out = ed.to_bytes().expect("bytes");
    // exactly the first Route line changed: its first element and the comma are gone
    let expected = std::str::from_utf8(ROUTED).expect("utf8").replace(
        "Route: <sip:pcscf.home1.net;lr>,  <sip:orig@scscf.home1.net;lr>\r\n",
        "Route: <sip:orig@scscf.home1.net;lr>\r\n",
    );
    assert_eq!(std::str::from_utf8(&out).expect("utf8"), expected);

    // next pops empty the first line (removed whole), then the others in order
    let second = ed.pop_first(HeaderName::Route).expect("pop").expect("some");
    assert_eq!(&*second, "<sip:orig@scscf.home1.net;lr>");
    let out = ed.to_bytes().expect("bytes");
    let expected = std::str::from_utf8(ROUTED).expect("utf8").replace(
        "Route: <sip:pcscf.home1.net;lr>,  <sip:orig@scscf.home1.net;lr>\r\n",
        "",
    );
    assert_eq!(std::str::from_utf8(&out).expect("utf8"), expected);
    let third = ed.pop_first(HeaderName::Route).expect("pop").expect("some");
    assert_eq!(&*third, "<sip:icscf.home2.net;lr>");
    let fourth = ed.pop_first(HeaderName::Route).expect("pop").expect("some");
    assert_eq!(&*fourth, "<sip:last.home2.net;lr>");
    assert!(ed.pop_first(HeaderName::Route).expect("pop").is_none());
    let done = ed.finish().expect("finish");
    assert!(done.route().expect("route").is_empty());
    assert_eq!(lines_except(&done, &[]), lines_except(&m, &["Route"]));

    // a header that is not a list is removed whole (its commas are not separators)
    let mut ed = Editor::new(&m);
    let subj = ed
        .pop_first(HeaderName::Subject)
        .expect("pop")
        .expect("some");
    assert_eq!(&*subj, "a, b");
    assert!(!ed.finish().expect("finish").has_id(HeaderName::Subject));

    // a list that does not split (unterminated quoted string) is an error naming the header and
    // line; nothing changes
    let bad = Message::parse(
        &b"INVITE sip:b@h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nRoute: \"Bob <sip:a;lr>\r\nContent-Length: 0\r\n\r\n"[..],
    )
    .expect("parse");
    let mut ed = Editor::new(&bad);
    match ed.pop_first(HeaderName::Route) {
        Err(Error::BadHeader { line, name, .. }) => {
            assert_eq!(line, 3);
            assert_eq!(&*name, "Route");
        }
        other => panic!("expected BadHeader, got {other:?}"),
    }
    assert_eq!(&ed.to_bytes().expect("bytes")[..], bad.as_bytes());
}

#[test]
fn name_lookups_by_string_and_by_id_agree() {
    let m = Message::parse(ROUTED).expect("parse");
    // by string: any spelling / compact form; unknown names case-insensitively
    let lines = |it: &mut dyn Iterator<Item = sip::HeaderRef<'_>>| -> Vec<usize> {
        it.map(|h| h.line).collect()
    };
    assert_eq!(lines(&mut m.headers_named("route")), vec![3, 4, 7]);
    assert_eq!(lines(&mut m.headers_named("ROUTE")), vec![3, 4, 7]);
    assert_eq!(lines(&mut m.headers_id(HeaderName::Route)), vec![3, 4, 7]);
    assert_eq!(lines(&mut m.headers_named("Via")), vec![2, 9]);
    assert_eq!(lines(&mut m.headers_named("v")), vec![2, 9]);
    assert_eq!(lines(&mut m.headers_id(HeaderName::Via)), vec![2, 9]);
    assert_eq!(lines(&mut m.headers_named("X-FOO")), vec![5, 8]);
    assert_eq!(lines(&mut m.headers_named("X-Fo")).len(), 0);
    assert!(m.has("x-foo") && m.has("v") && m.has("max-forwards"));
    assert!(!m.has("X-Bar") && !m.has("Contact") && !m.has("m"));
    assert!(m.has_id(HeaderName::MaxForwards) && m.has_id(HeaderName::Via));
    assert!(!m.has_id(HeaderName::Contact));
    assert_eq!(m.header_value("x-foo").as_deref(), Some("one"));
    assert_eq!(
        m.header_value("Route").as_deref(),
        Some("<sip:pcscf.home1.net;lr>,  <sip:orig@scscf.home1.net;lr>")
    );
    assert_eq!(m.header_value("Contact"), None);
    // an unknown name never matches a known header, and vice versa
    assert!(!m.headers().any(|h| h.id.is_some() && h.is("X-Foo")));
    assert!(!m.headers().any(|h| h.id.is_none() && h.is("Route")));
    // the editor resolves names the same way
    let mut ed = Editor::new(&m);
    assert_eq!(ed.remove("x-FOO"), 2);
    assert_eq!(ed.remove("v"), 2);
    ed.prepend("ROUTE", "<sip:new.home1.net;lr>")
        .expect("prepend");
    ed.append("x-new", "1").expect("append");
    ed.append("X-NEW", "2").expect("append");
    ed.prepend("X-New", "0").expect("prepend");
    let out = ed.finish().expect("finish");
    let names: Vec<String> = out.headers().map(|h| h.name_str().into_owned()).collect();
    assert_eq!(
        names,
        [
            "Route",
            "Route",
            "Route",
            "Max-Forwards",
            "Route",
            "Subject",
            "Content-Length",
            "X-New",
            "x-new",
            "X-NEW"
        ]
    );
    assert_eq!(
        out.headers_named("x-new")
            .map(|h| h.value)
            .collect::<Vec<_>>(),
        [&b"0"[..], b"1", b"2"]
    );
}

#[test]
fn magic_cookie_is_public() {
    assert_eq!(sip::MAGIC_COOKIE, "z9hG4bK");
    assert_eq!(sip::headers::MAGIC_COOKIE, sip::MAGIC_COOKIE);
    let v =
        <Via as sip::Header>::parse_str(&format!("SIP/2.0/UDP h;branch={}x", sip::MAGIC_COOKIE))
            .expect("via");
    assert!(v.branch_is_rfc3261());
}

#[test]
fn push_via_value_goes_on_top_and_matches_the_typed_push() {
    let m = parse("07-notify-reginfo.sip");
    let via = Via::new(
        "UDP",
        Host::parse("[2001:db8::7]").expect("host"),
        Some(5060),
        "z9hG4bKabc",
    );
    let mut typed = Editor::new(&m);
    typed.push_via(&via).expect("typed");
    let mut raw = Editor::new(&m);
    raw.push_via_value(via.to_string()).expect("raw");
    let out = raw.to_bytes().expect("bytes");
    assert_eq!(out, typed.to_bytes().expect("bytes"));
    let out = Message::parse(out).expect("parses");
    assert_eq!(out.top_via().expect("via"), via);
    assert_eq!(
        out.via().expect("vias").len(),
        m.via().expect("vias").len() + 1
    );
    // CR or LF in the value is refused, and nothing is written
    let mut ed = Editor::new(&m);
    assert!(matches!(
        ed.push_via_value("SIP/2.0/UDP a\r\nX: y"),
        Err(Error::Usage(_))
    ));
    assert_eq!(ed.to_bytes().expect("bytes"), m.wire());
    // a message without Via gets the line first
    let bare = Message::parse(&b"SIP/2.0 200 OK\r\nCall-ID: c\r\nContent-Length: 0\r\n\r\n"[..])
        .expect("parses");
    let mut ed = Editor::new(&bare);
    ed.push_via_value("SIP/2.0/UDP a;branch=z9hG4bK1")
        .expect("via");
    let out = ed.finish().expect("finish");
    assert_eq!(out.header_at(0).expect("first").id, Some(HeaderName::Via));
}

#[test]
fn replace_keeps_the_first_line_and_drops_later_ones() {
    let m = Message::parse(
        &b"MESSAGE sip:b@example.net SIP/2.0\r\nMax-Forwards: 10\r\nX-A: 1\r\nmax-forwards: 9\r\nX-B: 2\r\nContent-Length: 0\r\n\r\n"[..],
    )
    .expect("parses");
    let mut ed = Editor::new(&m);
    ed.replace("Max-Forwards", 5).expect("replace");
    assert_eq!(
        ed.to_bytes().expect("bytes"),
        &b"MESSAGE sip:b@example.net SIP/2.0\r\nMax-Forwards: 5\r\nX-A: 1\r\nX-B: 2\r\nContent-Length: 0\r\n\r\n"[..]
    );
    // absent: appended, spelled as given
    let mut ed = Editor::new(&m);
    ed.replace("x-c", "3").expect("replace");
    ed.prepend("x-a", "0").expect("prepend");
    ed.set_body(None, &b"hello"[..]).expect("body");
    assert_eq!(
        ed.to_bytes().expect("bytes"),
        &b"MESSAGE sip:b@example.net SIP/2.0\r\nMax-Forwards: 10\r\nx-a: 0\r\nX-A: 1\r\nmax-forwards: 9\r\nX-B: 2\r\nContent-Length: 5\r\nx-c: 3\r\n\r\nhello"[..]
    );
}
