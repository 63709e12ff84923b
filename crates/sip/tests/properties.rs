//! Property tests: generated messages survive build → bytes → parse with every typed value equal
//! (`parse(serialize(m)) == m`); an unmodified message serializes to the same bytes; editing one
//! header leaves every other byte equal; folding and compact forms do not change typed values.

mod common;
use proptest::prelude::*;
use sip::{
    AuthHeader, Editor, Header, HeaderName, Host, Message, MessageBuilder, Method, NameAddr, Param,
    Params, SecurityMechanism, SipUri, Uri, Via,
};

fn token() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9][a-zA-Z0-9.!%*_+`'~-]{0,10}"
}

fn host() -> impl Strategy<Value = Host> {
    prop_oneof![
        "[a-z][a-z0-9-]{0,8}(\\.[a-z][a-z0-9-]{0,8}){0,2}".prop_map(|d| Host::Domain(d.into())),
        any::<u32>().prop_map(|v| Host::V4(v.into())),
        any::<u128>().prop_map(|v| Host::V6(v.into())),
    ]
}

/// Printable text for quoted strings: any ASCII printable, quotes and backslashes included.
fn qtext() -> impl Strategy<Value = String> {
    "[ -~]{0,20}"
}

fn param() -> impl Strategy<Value = Param> {
    prop_oneof![
        token().prop_map(Param::flag),
        (token(), token()).prop_map(|(n, v)| Param::token(n, v)),
        (token(), qtext()).prop_map(|(n, v)| Param::quoted(n, v)),
    ]
}

/// Parameters with distinct names (lookups are by name).
fn params(max: usize) -> impl Strategy<Value = Params> {
    prop::collection::vec(param(), 0..max).prop_map(|v| {
        let mut p = Params::new();
        for x in v {
            if !p.has(&x.name) {
                p.0.push(x);
            }
        }
        p
    })
}

fn via() -> impl Strategy<Value = Via> {
    (
        prop_oneof![
            Just("UDP".to_string()),
            Just("TCP".to_string()),
            Just("TLS".to_string()),
            token()
        ],
        host(),
        prop::option::of(any::<u16>()),
        "z9hG4bK[a-zA-Z0-9.-]{1,12}",
        params(4),
    )
        .prop_map(|(t, h, port, branch, extra)| {
            let mut v = Via::new(t, h, port, branch);
            for p in extra.0 {
                if !v.params.has(&p.name) {
                    v.params.0.push(p);
                }
            }
            v
        })
}

fn uri_param() -> impl Strategy<Value = Param> {
    prop_oneof![
        "[a-z][a-z0-9-]{0,8}".prop_map(Param::flag),
        ("[a-z][a-z0-9-]{0,8}", "[a-zA-Z0-9.-]{1,10}").prop_map(|(n, v)| Param::token(n, v)),
    ]
}

fn sip_uri() -> impl Strategy<Value = SipUri> {
    (
        any::<bool>(),
        prop::option::of("[a-zA-Z0-9+._-]{1,12}"),
        host(),
        prop::option::of(any::<u16>()),
        prop::collection::vec(uri_param(), 0..3),
    )
        .prop_map(|(secure, user, h, port, ps)| {
            let mut u = SipUri::new(h);
            u.secure = secure;
            u.user = user.map(Into::into);
            u.port = port;
            for p in ps {
                if !u.params.has(&p.name) {
                    u.params.0.push(p);
                }
            }
            u
        })
}

fn name_addr() -> impl Strategy<Value = NameAddr> {
    (prop::option::of(qtext()), sip_uri(), params(4)).prop_map(|(d, u, p)| NameAddr {
        display: d.map(Into::into),
        uri: Uri::Sip(u),
        params: p,
    })
}

fn mechanism() -> impl Strategy<Value = SecurityMechanism> {
    (
        prop_oneof![
            Just("ipsec-3gpp".to_string()),
            Just("tls".to_string()),
            token()
        ],
        any::<u32>(),
        any::<u32>(),
        any::<u16>(),
        any::<u16>(),
        prop::option::of("hmac-(sha-1|md5)-96"),
    )
        .prop_map(|(m, c, s, pc, ps, alg)| {
            let mut x = SecurityMechanism::new(m);
            if let Some(a) = alg {
                x = x.with("alg", a);
            }
            x.with("spi-c", c.to_string())
                .with("spi-s", s.to_string())
                .with("port-c", pc.to_string())
                .with("port-s", ps.to_string())
        })
}

fn auth() -> impl Strategy<Value = AuthHeader> {
    (
        prop_oneof![Just("Digest".to_string()), token()],
        prop::collection::vec(
            (
                token(),
                prop_oneof![
                    qtext().prop_map(|v| (v, true)),
                    token().prop_map(|v| (v, false))
                ],
            ),
            1..8,
        ),
    )
        .prop_map(|(scheme, ps)| {
            let mut a = AuthHeader {
                scheme: scheme.into(),
                params: Vec::new(),
            };
            for (n, (v, quoted)) in ps {
                if a.get(&n).is_none() && !a.params.iter().any(|p| p.is(&n)) {
                    a.params.push(if quoted {
                        Param::quoted(n, v)
                    } else {
                        Param::token(n, v)
                    });
                }
            }
            a
        })
}

/// A generated request and the typed values it was built from.
#[derive(Debug, Clone)]
struct Model {
    vias: Vec<Via>,
    from: NameAddr,
    to: NameAddr,
    call_id: String,
    seq: u32,
    contacts: Vec<NameAddr>,
    sec: Vec<SecurityMechanism>,
    auth: AuthHeader,
    extra: Vec<(String, String)>,
    body: Vec<u8>,
}

fn model() -> impl Strategy<Value = Model> {
    (
        prop::collection::vec(via(), 1..4),
        name_addr(),
        name_addr(),
        "[a-zA-Z0-9.!%*_+`'~()<>:\\\\\"/?{}-]{1,20}(@[a-z0-9.]{1,10})?",
        any::<u32>(),
        prop::collection::vec(name_addr(), 0..3),
        prop::collection::vec(mechanism(), 0..3),
        auth(),
        prop::collection::vec(("X-[A-Za-z0-9-]{1,10}", "[!-~]([ -~]{0,30}[!-~])?"), 0..4),
        prop::collection::vec(any::<u8>(), 0..64),
    )
        .prop_map(
            |(vias, from, to, call_id, seq, contacts, sec, auth, mut extra, body)| {
                // header names are case-insensitive: keep one header per name
                let mut seen = std::collections::HashSet::new();
                extra.retain(|(n, _): &(String, String)| seen.insert(n.to_ascii_lowercase()));
                Model {
                    vias,
                    from,
                    to,
                    call_id,
                    seq,
                    contacts,
                    sec,
                    auth,
                    extra,
                    body,
                }
            },
        )
}

fn build(m: &Model) -> MessageBuilder {
    let mut b = MessageBuilder::request(Method::Register, "sip:registrar.example.net")
        .headers(HeaderName::Via, &m.vias)
        .header(HeaderName::MaxForwards, 70)
        .header(HeaderName::From, &m.from)
        .header(HeaderName::To, &m.to)
        .header(HeaderName::CallId, &m.call_id)
        .header(HeaderName::CSeq, format!("{} REGISTER", m.seq))
        .headers(HeaderName::Contact, &m.contacts)
        .header(HeaderName::Authorization, &m.auth);
    if !m.sec.is_empty() {
        let list: Vec<String> = m.sec.iter().map(ToString::to_string).collect();
        b = b.header(HeaderName::SecurityClient, list.join(", "));
    }
    for (n, v) in &m.extra {
        b = b.header(n, v);
    }
    b.body("application/octet-stream", m.body.clone())
}

fn check_typed(msg: &Message, m: &Model) -> Result<(), TestCaseError> {
    prop_assert_eq!(&msg.via().expect("via"), &m.vias);
    prop_assert_eq!(&msg.from().expect("from"), &m.from);
    prop_assert_eq!(&msg.to().expect("to"), &m.to);
    let cid = msg.call_id().expect("call-id");
    prop_assert_eq!(cid.as_str(), m.call_id.as_str());
    prop_assert_eq!(msg.cseq().expect("cseq").seq, m.seq);
    let contacts: Vec<NameAddr> = msg
        .contacts()
        .expect("contacts")
        .into_iter()
        .filter_map(|c| c.addr().cloned())
        .collect();
    prop_assert_eq!(&contacts, &m.contacts);
    prop_assert_eq!(&msg.security_client().expect("sc"), &m.sec);
    prop_assert_eq!(
        &msg.authorization().expect("auth").expect("present"),
        &m.auth
    );
    for (n, v) in &m.extra {
        let got = msg.header_value(n);
        prop_assert_eq!(got.as_deref(), Some(v.as_str()));
    }
    prop_assert_eq!(&msg.body()[..], &m.body[..]);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// parse(serialize(m)) == m, for the message and every typed value in it.
    #[test]
    fn build_parse_roundtrip(m in model()) {
        let bytes = build(&m).to_bytes().expect("bytes");
        let msg = Message::parse(bytes.clone()).expect("parse");
        msg.validate().expect("valid");
        check_typed(&msg, &m)?;
        // and again: serializing the parsed message gives the same bytes and values
        let again = Message::parse(msg.wire()).expect("reparse");
        prop_assert_eq!(&again.wire(), &bytes);
        check_typed(&again, &m)?;
        // each typed value's text form parses back to itself
        for v in &m.vias {
            prop_assert_eq!(&Via::parse_str(&v.to_string()).expect("via"), v);
        }
        prop_assert_eq!(&AuthHeader::parse_str(&m.auth.to_string()).expect("auth"), &m.auth);
    }

    /// An unmodified message serializes back to the same bytes.
    #[test]
    fn unmodified_message_is_byte_identical(m in model()) {
        let msg = build(&m).build().expect("build");
        prop_assert_eq!(Editor::new(&msg).to_bytes().expect("bytes"), msg.wire());
    }

    /// Replacing one header's value changes that line only; every other byte is equal.
    #[test]
    fn editing_one_header_leaves_other_bytes_equal(m in model(), pick in any::<prop::sample::Index>(), value in "[!-~]([ -~]{0,30}[!-~])?") {
        let msg = build(&m).build().expect("build");
        let n = msg.header_count();
        let i = pick.index(n);
        let h = msg.header_at(i).expect("header");
        if h.is("Content-Length") {
            return Ok(());
        }
        let start = h.raw_line.as_ptr() as usize - msg.as_bytes().as_ptr() as usize;
        let end = start + h.raw_line.len();
        let name = String::from_utf8_lossy(h.name).into_owned();
        // make the edited header unique so `replace` touches exactly this line
        let mut ed = Editor::new(&msg);
        let same: Vec<usize> = msg.headers().filter(|x| x.is(&name)).map(|x| x.index).collect();
        if same.len() != 1 {
            return Ok(());
        }
        ed.replace(&name, &value).expect("replace");
        let out = ed.to_bytes().expect("bytes");
        let src = msg.wire();
        prop_assert_eq!(&out[..start], &src[..start]);
        let new_line = format!("{name}: {value}\r\n");
        prop_assert_eq!(&out[start..start + new_line.len()], new_line.as_bytes());
        prop_assert_eq!(&out[start + new_line.len()..], &src[end..]);
    }
}

/// Folds a header value at `n`-th space (SP → CRLF SP) where that space is inside a value.
fn fold_at(msg: &[u8], n: usize) -> Option<Vec<u8>> {
    let head_end = msg.windows(4).position(|w| w == b"\r\n\r\n")?;
    let first_line = msg.windows(2).position(|w| w == b"\r\n")?;
    let spaces: Vec<usize> = (first_line + 2..head_end)
        .filter(|&i| {
            msg[i] == b' ' && msg[i - 1] != b':' && msg[i - 1] != b'\n' && msg[i + 1] != b'\r'
        })
        .collect();
    if spaces.is_empty() {
        return None;
    }
    let at = spaces[n % spaces.len()];
    let mut out = msg[..at].to_vec();
    out.extend_from_slice(b"\r\n ");
    out.extend_from_slice(&msg[at + 1..]);
    Some(out)
}

fn typed_snapshot(m: &Message) -> String {
    format!(
        "{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}",
        m.via().ok(),
        m.from().ok(),
        m.to().ok(),
        m.cseq().ok(),
        m.contacts().ok(),
        m.authorization().ok(),
        m.www_authenticate().ok(),
        m.security_client().ok(),
        m.security_server().ok(),
        m.security_verify().ok(),
        m.route().ok(),
        m.path().ok(),
        m.p_associated_uri().ok(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Folding a header line at a space, and lower-casing or compacting names, does not change
    /// any typed value; the editor still copies the folded bytes unchanged.
    #[test]
    fn folding_and_names_do_not_change_typed_values(file in 0usize..8, n in any::<usize>(), lower in any::<bool>()) {
        let files = ["01-register-initial.sip", "02-401-unauthorized.sip", "03-register-protected.sip", "04-200-ok-register.sip", "05-subscribe-reg.sip", "06-200-ok-subscribe.sip", "07-notify-reginfo.sip", "08-200-ok-notify.sip"];
        let orig = common::read(files[file]);
        let base = Message::parse(orig.clone()).expect("parse");
        let mut folded = fold_at(&orig, n).expect("a space to fold");
        if lower {
            folded = String::from_utf8(folded).expect("utf8")
                .replace("\nVia:", "\nv:").replace("\nFrom:", "\nf:").replace("\nTo:", "\nt:")
                .replace("\nContact:", "\nm:").replace("\nSecurity-Client:", "\nsecurity-CLIENT:")
                .replace("\nContent-Length:", "\nl:").into_bytes();
        }
        let m = Message::parse(folded.clone()).expect("folded parses");
        prop_assert_eq!(typed_snapshot(&m), typed_snapshot(&base));
        prop_assert_eq!(m.body(), base.body());
        prop_assert_eq!(&Editor::new(&m).to_bytes().expect("bytes")[..], &folded[..]);
    }
}
