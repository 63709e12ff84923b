//! RFC 4475 torture messages (shared/testdata/sip/rfc4475, byte-exact from the RFC's archive):
//! the valid ones parse and validate, the invalid ones are rejected with the status the RFC
//! expects. "Rejected" means [`Message::parse`] or [`Message::validate`] fails.

mod common;
use common::read;
use sip::{Contact, Host, Message, Method, Uri};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Verdict {
    /// Parses and validates.
    Valid,
    /// `parse` fails with this status.
    ParseError(u16),
    /// `parse` succeeds, `validate` fails with this status.
    Invalid(u16),
}
use Verdict::*;

/// The verdict for every one of the 49 messages (README table; choices noted where the RFC
/// allows either).
const TABLE: &[(&str, Verdict)] = &[
    ("wsinv", Valid),
    ("intmeth", Valid),
    ("esc01", Valid),
    ("escnull", Valid),
    ("esc02", Valid),
    ("lwsdisp", Valid),
    ("longreq", Valid),
    ("dblreq", Valid),
    ("semiuri", Valid),
    ("transports", Valid),
    ("mpart01", Valid),
    ("unreason", Valid),
    ("noreason", Valid),
    ("badinv01", Invalid(400)),
    ("clerr", ParseError(400)),
    ("ncl", ParseError(400)),
    ("scalar02", Invalid(400)),
    ("scalarlg", Invalid(400)),
    ("quotbal", Invalid(400)),
    ("ltgtruri", ParseError(400)),
    ("lwsruri", ParseError(400)),
    // "may reject": we are strict about the Request-Line
    ("lwsstart", ParseError(400)),
    ("trws", ParseError(400)),
    // "400 is acceptable"
    ("escruri", Invalid(400)),
    // "may reject, but better to ignore unless the Date is used": ignored (Date is not typed)
    ("baddate", Valid),
    ("regbadct", Invalid(400)),
    ("badaspec", Invalid(400)),
    // also lacks the empty line ending the header section
    ("baddn", ParseError(400)),
    ("badvers", ParseError(505)),
    ("mismatch01", Invalid(400)),
    // "501 preferred, 400 acceptable": the method is unknown to the UAS, not to the parser
    ("mismatch02", Invalid(400)),
    ("bigcode", ParseError(400)),
    // syntactically valid; the transaction layer sees branch_is_rfc3261() == false
    ("badbranch", Valid),
    ("insuf", Invalid(400)),
    ("unkscm", Valid),
    ("novelsc", Valid),
    ("unksm2", Valid),
    ("bext01", Valid),
    ("invut", Valid),
    ("regaut01", Valid),
    ("multi01", Invalid(400)),
    ("mcl01", ParseError(400)),
    ("bcast", Valid),
    ("zeromf", Valid),
    ("cparam01", Valid),
    ("cparam02", Valid),
    ("regescrt", Valid),
    ("sdp01", Valid),
    ("inv2543", Valid),
];

fn load(name: &str) -> Message {
    Message::parse(read(&format!("rfc4475/{name}.dat"))).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn table_covers_all_49_messages() {
    let dir = common::testdata_dir().join("rfc4475");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .expect("dir")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(".dat").map(str::to_string))
        .collect();
    files.sort();
    let mut names: Vec<String> = TABLE.iter().map(|(n, _)| n.to_string()).collect();
    names.sort();
    assert_eq!(files.len(), 49);
    assert_eq!(files, names);
}

#[test]
fn every_message_gets_its_verdict() {
    for &(name, verdict) in TABLE {
        let bytes = read(&format!("rfc4475/{name}.dat"));
        let got = match Message::parse(bytes) {
            Err(e) => {
                assert!(!e.to_string().is_empty());
                ParseError(e.status())
            }
            Ok(m) => match m.validate() {
                Ok(()) => Valid,
                Err(e) => Invalid(e.status()),
            },
        };
        assert_eq!(got, verdict, "{name}");
    }
}

#[test]
fn wsinv_whitespace_folding_and_compact_forms() {
    let m = load("wsinv");
    let to = m.to().expect("to");
    assert_eq!(to.tag(), Some("1918181833n"));
    assert_eq!(to.uri.to_string(), "sip:vivekg@chair-dnrc.example.com");
    let from = m.from().expect("from");
    assert_eq!(from.display.as_deref(), Some("J Rosenberg \\\""));
    assert_eq!(from.tag(), Some("98asjd8"));
    assert_eq!(m.max_forwards().expect("mf"), Some(68));
    let cseq = m.cseq().expect("cseq");
    assert_eq!((cseq.seq, cseq.method), (9, Method::Invite));
    let vias = m.via().expect("via");
    assert_eq!(vias.len(), 3);
    assert_eq!(&*vias[0].transport, "UDP");
    assert_eq!(vias[0].host, Host::V4([192, 0, 2, 2].into()));
    assert_eq!(vias[0].branch(), Some("390skdjuw"));
    assert_eq!(&*vias[1].transport, "TCP");
    assert_eq!(vias[1].branch(), Some("z9hG4bK9ikj8"));
    assert_eq!(vias[2].branch(), Some("z9hG4bK30239"));
    let c = m.contacts().expect("contacts");
    let a = c[0].addr().expect("addr");
    assert_eq!(a.display.as_deref(), Some("Quoted string \"\""));
    assert_eq!(a.param("newparam"), Some("newvalue"));
    assert!(a.params.has("secondparam"));
    assert_eq!(a.q(), Some(0.33));
    assert_eq!(m.header_value("Subject").as_deref(), Some(""));
    assert_eq!(m.header_value("s").as_deref(), Some(""));
    let nf = m
        .header_value("NewFangledHeader")
        .expect("unknown header kept");
    assert_eq!(&*nf, "newfangled value\r\n continued newfangled value");
    assert_eq!(
        m.header_value("UnknownHeaderWithUnusualValue").as_deref(),
        Some(";;,,;;,;")
    );
    let route = m.route().expect("route");
    assert_eq!(route[0].uri.as_sip().expect("sip").params.len(), 3);
    assert_eq!(m.body().len(), 150);
}

#[test]
fn intmeth_esc_semiuri_and_friends() {
    let m = load("intmeth");
    let Some(Method::Other(t)) = m.method() else {
        panic!("method")
    };
    assert_eq!(&*t, "!interesting-Method0123456789_*+`.%indeed'~");
    let to = m.to().expect("to");
    assert_eq!(
        to.display.as_deref(),
        Some("BEL:\u{7} NUL:\u{0} DEL:\u{7f}")
    );
    let from = m.from().expect("from");
    assert_eq!(
        from.display.as_deref(),
        Some("token1~` token2'+_ token3*%!.-")
    );
    assert_eq!(from.param("fromParam''~+*_!.-%"), Some("работающий"));
    let Uri::Sip(ruri) = m.request_uri().expect("ruri") else {
        panic!()
    };
    assert_eq!(
        ruri.user.as_deref(),
        Some("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*")
    );
    assert_eq!(
        ruri.password.as_deref(),
        Some("&it+has=1,weird!*pas$wo~d_too.(doesn't-it)")
    );
    assert_eq!(
        m.call_id().expect("cid").as_str(),
        "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{"
    );

    let m = load("esc01");
    let to = m.to().expect("to");
    assert_eq!(
        to.uri.as_sip().and_then(|u| u.user_unescaped()).as_deref(),
        Some("user")
    );
    assert!(to
        .uri
        .equivalent(&Uri::parse("sip:user@example.com").expect("uri")));
    let Uri::Sip(ruri) = m.request_uri().expect("ruri") else {
        panic!()
    };
    assert_eq!(
        ruri.user_unescaped().as_deref(),
        Some("sips:user@example.com")
    );

    let m = load("escnull");
    let c = m.contacts().expect("c");
    assert_eq!(c.len(), 2);
    let (a, b) = (&c[0].addr().expect("a").uri, &c[1].addr().expect("b").uri);
    assert!(!a.equivalent(b), "%00 and %00%00 are different users");
    assert_eq!(
        a.as_sip().and_then(|u| u.user_unescaped()).as_deref(),
        Some("\0")
    );

    let m = load("esc02");
    assert_eq!(
        m.contacts().expect("c").len(),
        2,
        "C%6Fntact is an unknown header"
    );
    assert_eq!(m.headers_named("C%6Fntact").count(), 1);

    let m = load("semiuri");
    let Uri::Sip(ruri) = m.request_uri().expect("ruri") else {
        panic!()
    };
    assert_eq!(ruri.user.as_deref(), Some("user;par=u%40example.net"));
    assert_eq!(ruri.host, Host::Domain("example.com".into()));
    assert!(ruri.params.is_empty());

    let m = load("lwsdisp");
    assert_eq!(m.from().expect("from").display.as_deref(), Some("caller"));

    let m = load("longreq");
    assert_eq!(m.via().expect("via").len(), 34);
    assert!(m.to().expect("to").display.expect("display").len() > 90);
}

#[test]
fn framing_cases() {
    let m = load("dblreq");
    assert_eq!(m.method(), Some(Method::Register));
    assert!(m.body().is_empty());
    assert!(
        m.wire().len() < m.as_bytes().len(),
        "the trailing INVITE is not part of the message"
    );
    assert!(m.wire().ends_with(b"Content-Length: 0\r\n\r\n"));

    let m = load("mpart01");
    assert_eq!(m.body().len(), 553);
    assert!(m.body().contains(&0), "binary body with NUL kept");

    let m = load("inv2543");
    assert_eq!(m.content_length().expect("cl"), None);
    assert!(m.body().starts_with(b"v=0"));
    assert_eq!(m.top_via().expect("via").branch(), None);
    assert_eq!(m.max_forwards().expect("mf"), None);

    let e = Message::parse(read("rfc4475/clerr.dat")).expect_err("clerr");
    assert!(
        matches!(e, sip::Error::BodyTruncated { declared: 9999, .. }),
        "{e}"
    );
    let e = Message::parse(read("rfc4475/mcl01.dat")).expect_err("mcl01");
    assert_eq!(e.reason_phrase(), "Duplicate Content-Length Header");
    let e = Message::parse(read("rfc4475/ncl.dat")).expect_err("ncl");
    assert_eq!(e.reason_phrase(), "Bad Content-Length Header");
}

#[test]
fn responses_and_odd_but_valid_requests() {
    let m = load("unreason");
    assert_eq!(m.status(), Some(200));
    assert!(m.reason().expect("reason").contains("простое"));
    let m = load("noreason");
    assert_eq!(m.status(), Some(100));
    assert_eq!(m.reason().as_deref(), Some(""));
    let m = load("transports");
    let t: Vec<String> = m
        .via()
        .expect("via")
        .iter()
        .map(|v| v.transport.to_string())
        .collect();
    assert_eq!(t, ["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"]);
    let m = load("badbranch");
    assert!(!m.top_via().expect("via").branch_is_rfc3261());
    assert!(load("transports")
        .top_via()
        .expect("via")
        .branch_is_rfc3261());
    let m = load("unkscm");
    assert!(matches!(m.request_uri().expect("ruri"), Uri::Other(_)));
    assert_eq!(
        m.request_uri().expect("ruri").scheme(),
        "nobodyknowsthisscheme"
    );
    let m = load("unksm2");
    assert!(matches!(m.to().expect("to").uri, Uri::Other(_)));
    let m = load("bcast");
    assert_eq!(
        m.via().expect("via")[1].host,
        Host::V4([255, 255, 255, 255].into())
    );
    assert_eq!(load("zeromf").max_forwards().expect("mf"), Some(0));
    let m = load("regaut01");
    let a = m.authorization().expect("auth").expect("present");
    assert!(!a.is_digest());
    assert_eq!(a.get("opaque-data"), Some("here"));
    let m = load("bext01");
    let req: Vec<String> = m
        .require()
        .expect("req")
        .iter()
        .map(|t| t.to_string())
        .collect();
    assert_eq!(req, ["nothingSupportsThis", "nothingSupportsThisEither"]);
    assert_eq!(m.proxy_require().expect("preq").len(), 2);
}

#[test]
fn contact_params_versus_uri_params() {
    let Contact::Addr(c) = load("cparam01").contacts().expect("c").remove(0) else {
        panic!()
    };
    assert!(c.params.has("unknownparam"));
    assert!(!c.uri.as_sip().expect("sip").params.has("unknownparam"));
    let Contact::Addr(c) = load("cparam02").contacts().expect("c").remove(0) else {
        panic!()
    };
    assert!(!c.params.has("unknownparam"));
    assert!(c.uri.as_sip().expect("sip").params.has("unknownparam"));
    let Contact::Addr(c) = load("regescrt").contacts().expect("c").remove(0) else {
        panic!()
    };
    let u = c.uri.as_sip().expect("sip");
    assert_eq!(u.headers.len(), 1);
    assert_eq!(&*u.headers[0].0, "Route");
    assert_eq!(&*u.headers[0].1, "%3Csip:sip.example.com%3E");
}

#[test]
fn rejections_name_the_line_and_header() {
    let e = load("badinv01").validate().expect_err("badinv01");
    assert_eq!(
        (e.line(), e.reason_phrase().as_str()),
        (Some(7), "Bad Via Header")
    );
    let e = load("quotbal").validate().expect_err("quotbal");
    assert_eq!(
        (e.line(), e.reason_phrase().as_str()),
        (Some(2), "Bad To Header")
    );
    let e = load("scalar02").validate().expect_err("scalar02");
    assert_eq!(e.reason_phrase(), "Bad CSeq Header");
    let e = load("insuf").validate().expect_err("insuf");
    assert!(e.reason_phrase().starts_with("Missing "), "{e}");
    let e = load("multi01").validate().expect_err("multi01");
    assert!(e.reason_phrase().starts_with("Duplicate "), "{e}");
    let e = Message::parse(read("rfc4475/badvers.dat")).expect_err("badvers");
    assert_eq!((e.status(), e.line()), (505, Some(1)));
    let e = load("mismatch01").validate().expect_err("mismatch01");
    assert_eq!(e.reason_phrase(), "CSeq Method Mismatch");
    let e = Message::parse(read("rfc4475/baddn.dat")).expect_err("baddn");
    assert!(matches!(e, sip::Error::Unterminated { line: 10 }), "{e}");
    // the invalid response "must be discarded": parse fails, so a client drops it
    assert!(Message::parse(read("rfc4475/bigcode.dat")).is_err());
}
