//! The entry point shared by the cargo-fuzz target (`fuzz/fuzz_targets/parse.rs`) and the corpus
//! test (`tests/fuzz_corpus.rs`). It drives every parser on arbitrary bytes and checks the
//! invariants that must hold for any input; a violated invariant panics, which is what the fuzzer
//! reports. Parsing itself must never panic.

use crate::{Editor, HeaderName, Limits, Message};
use bytes::BytesMut;

/// Parses `data` as a datagram and as a stream, runs validation and every typed accessor, and
/// checks: an unedited message serializes to its wire bytes, and an edited one parses again with
/// the edit visible.
pub fn exercise(data: &[u8]) {
    let limits = Limits::default();
    // stream framing: consumed never exceeds the input, and the framed message re-frames alone
    if let Ok(Some((m, used))) = crate::parse_stream(data, &limits) {
        assert!(used <= data.len());
        assert!(m.as_bytes().len() <= used);
        let again = crate::parse_stream(m.as_bytes(), &limits);
        assert!(
            matches!(again, Ok(Some((_, n))) if n == m.as_bytes().len()),
            "stream message re-frames"
        );
    }
    let mut buf = BytesMut::from(data);
    for _ in 0..8 {
        match crate::decode_stream(&mut buf, &limits) {
            Ok(Some(_)) => {}
            _ => break,
        }
    }
    let Ok(m) = Message::parse(bytes::Bytes::copy_from_slice(data)) else {
        return;
    };
    let _ = m.validate();
    // the branch scanner agrees with the Via parser wherever the parser accepts the top Via
    if let Ok(v) = m.top_via() {
        assert_eq!(
            m.top_via_branch().as_ref().map(|b| b.as_str()),
            v.branch(),
            "top_via_branch == top_via().branch()"
        );
    }
    let _ = (
        m.method(),
        m.status(),
        m.reason(),
        m.request_uri(),
        m.body(),
    );
    let _ = (
        m.via(),
        m.top_via(),
        m.from(),
        m.to(),
        m.call_id(),
        m.cseq(),
        m.max_forwards(),
    );
    let _ = (
        m.contacts(),
        m.route(),
        m.record_route(),
        m.path(),
        m.service_route(),
        m.p_associated_uri(),
    );
    let _ = (
        m.authorization(),
        m.www_authenticate(),
        m.proxy_authorization(),
        m.proxy_authenticate(),
    );
    let _ = (
        m.authentication_info(),
        m.security_client(),
        m.security_server(),
        m.security_verify(),
    );
    let _ = (
        m.expires(),
        m.min_expires(),
        m.content_length(),
        m.content_type(),
        m.event(),
    );
    let _ = (
        m.subscription_state(),
        m.require(),
        m.proxy_require(),
        m.supported(),
        m.unsupported(),
    );
    let _ = (
        m.allow(),
        m.p_access_network_info(),
        m.p_visited_network_id(),
        m.p_charging_vector(),
    );
    let _ = (
        m.retry_after(),
        m.user_agent(),
        m.server(),
        m.p_asserted_identity(),
    );
    for h in m.headers() {
        let _ = (h.name_str(), h.value_str());
    }
    // typed values print in a form that parses back to an equal value
    if let Ok(vias) = m.via() {
        for v in vias {
            let s = v.to_string();
            let back = <crate::Via as crate::Header>::parse_str(&s);
            assert_eq!(back.as_ref().ok(), Some(&v), "Via round trip: {s}");
        }
    }
    if let Ok(Some(a)) = m.authorization() {
        let s = a.to_string();
        assert_eq!(
            <crate::AuthHeader as crate::Header>::parse_str(&s)
                .ok()
                .as_ref(),
            Some(&a),
            "auth round trip: {s}"
        );
    }
    // the editor copies an untouched message exactly
    let ed = Editor::new(&m);
    assert_eq!(
        ed.to_bytes().ok(),
        Some(m.wire()),
        "no-op edit changes bytes"
    );
    // edits produce a message that parses and shows the edit
    let mut ed = Editor::new(&m);
    let _ = ed.pop_via();
    ed.remove(HeaderName::Route);
    if ed
        .prepend(HeaderName::Path, "<sip:fuzz@example.net;lr>")
        .is_ok()
    {
        if let Ok(out) = ed.finish() {
            assert!(out.has(HeaderName::Path), "prepended Path present");
            assert!(!out.has(HeaderName::Route), "Route removed");
        }
    }
    let mut ed = Editor::new(&m);
    let _ = ed.strip_auth_params(HeaderName::WwwAuthenticate, &["ck", "ik"]);
    if let Ok(b) = ed.to_bytes() {
        if let Ok(out) = Message::parse(b) {
            if let Ok(Some(c)) = out.www_authenticate() {
                assert!(c.ck().is_none() && c.ik().is_none(), "ck/ik stripped");
            }
        }
    }
}
