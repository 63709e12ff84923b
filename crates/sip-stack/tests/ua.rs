//! UA parts: To tags, Require checks (420), dialogs and RFC 6665 subscriptions with CSeq rules.

use sip::{Message, Method};
use sip_stack::ua::{check_require, new_branch, new_tag, response, Dialog, DialogId, Subscription};
use std::time::{Duration, Instant};

const SUBSCRIBE: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/testdata/sip/05-subscribe-reg.sip"
));
const REGISTER: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/testdata/sip/01-register-initial.sip"
));

#[test]
fn tags_and_branches_are_fresh() {
    let a = new_tag();
    assert_eq!(a.len(), 16);
    assert_ne!(a, new_tag());
    let b = new_branch();
    assert!(b.starts_with("z9hG4bK") && b.len() > 7 + 8);
    assert_ne!(b, new_branch());
}

#[test]
fn responses_carry_a_to_tag_except_100() {
    let req = Message::parse(REGISTER).unwrap();
    let r = response(&req, 401, "Unauthorized", None).build().unwrap();
    assert!(r.to().unwrap().tag().is_some_and(|t| t.len() == 16));
    let r = response(&req, 200, "OK", Some("mine")).build().unwrap();
    assert_eq!(r.to().unwrap().tag(), Some("mine"));
    let r = response(&req, 100, "Trying", None).build().unwrap();
    assert_eq!(r.to().unwrap().tag(), None);
}

#[test]
fn require_must_be_supported() {
    let req = Message::parse(REGISTER).unwrap(); // Require: sec-agree
    check_require(&req, &["path", "sec-agree"]).unwrap();
    let rej = check_require(&req, &["path"]).unwrap_err();
    assert_eq!(rej.status, 420);
    assert_eq!(rej.unsupported, vec!["sec-agree"]);
    let resp = rej.response_to(&req).unwrap();
    assert_eq!(resp.status(), Some(420));
    assert_eq!(resp.unsupported().unwrap()[0].as_str(), "sec-agree");
}

#[test]
fn subscribe_creates_a_notifier_dialog_with_cseq_rules() {
    let sub = Message::parse(SUBSCRIBE).unwrap();
    let t0 = Instant::now();
    let mut s = Subscription::accept(&sub, "notifier1", 600, t0).unwrap();
    assert_eq!(s.event, "reg");
    let d = &s.dialog;
    assert_eq!(d.id.local_tag, "notifier1");
    assert_eq!(d.id.remote_tag, sub.from().unwrap().tag().unwrap());
    assert_eq!(d.id.call_id, sub.call_id().unwrap().as_str());
    assert_eq!(d.remote_cseq, Some(sub.cseq().unwrap().seq));
    // the first NOTIFY: CSeq 1, Subscription-State active with the time left, in-dialog headers
    let n1 = s
        .notify(t0 + Duration::from_secs(100), None)
        .header(
            "Via",
            format!("SIP/2.0/UDP 192.0.2.9;branch={}", new_branch()),
        )
        .build()
        .unwrap();
    n1.validate().unwrap();
    assert_eq!(n1.method(), Some(Method::Notify));
    assert_eq!(n1.cseq().unwrap().seq, 1);
    assert_eq!(
        n1.subscription_state().unwrap().unwrap().expires(),
        Some(500)
    );
    assert_eq!(n1.to().unwrap().tag(), sub.from().unwrap().tag());
    assert_eq!(n1.from().unwrap().tag(), Some("notifier1"));
    assert_eq!(n1.event().unwrap().unwrap().package.as_str(), "reg");
    // the Request-URI is the subscriber's Contact, routes are its Record-Route in order
    let contact = match &sub.contacts().unwrap()[0] {
        sip::Contact::Addr(a) => a.uri.to_string(),
        _ => panic!(),
    };
    assert_eq!(n1.request_uri_raw().unwrap().as_str(), contact);
    assert_eq!(n1.route().unwrap(), sub.record_route().unwrap());
    let n2 = s.notify(t0, None).build().unwrap();
    assert_eq!(n2.cseq().unwrap().seq, 2);
    // a refresh with a CSeq not above the last is refused (§12.2.2 → 500)
    let err = s.refresh(&sub, 600, t0).unwrap_err();
    assert_eq!(err.last, sub.cseq().unwrap().seq);
    // after expiry the NOTIFY says terminated
    let n3 = s
        .notify(t0 + Duration::from_secs(601), None)
        .build()
        .unwrap();
    let st = n3.subscription_state().unwrap().unwrap();
    assert_eq!(st.state.as_str(), "terminated");
    assert_eq!(st.reason(), Some("timeout"));
    assert!(s.terminated);
}

#[test]
fn dialog_ids_and_remote_cseq_must_increase() {
    let sub = Message::parse(SUBSCRIBE).unwrap();
    let mut d = Dialog::as_uas(&sub, "x").unwrap();
    let first = sub.cseq().unwrap().seq;
    d.accept_remote_cseq(first + 1).unwrap();
    assert!(d.accept_remote_cseq(first + 1).is_err());
    assert!(d.accept_remote_cseq(first).is_err());
    d.accept_remote_cseq(first + 5).unwrap();
    assert_eq!(d.next_cseq(), 1);
    assert_eq!(d.next_cseq(), 2);
    // the subscriber's view of a NOTIFY from this dialog has the mirrored id
    let mut nd = d.clone();
    let notify = nd
        .request(Method::Notify)
        .header("Via", "SIP/2.0/UDP 192.0.2.9;branch=z9hG4bKn1")
        .header("Contact", "<sip:scscf.example.net>")
        .header("Event", "reg")
        .header("Subscription-State", "active;expires=60")
        .build()
        .unwrap();
    let incoming = DialogId::of_incoming(&notify).unwrap();
    assert_eq!(incoming.local_tag, d.id.remote_tag);
    assert_eq!(incoming.remote_tag, "x");
    // UAC dialog created by the NOTIFY (RFC 6665 §4.1.2.4)
    let uac = Dialog::as_uac(&sub, &notify).unwrap();
    assert_eq!(uac.id, incoming);
    assert_eq!(uac.remote_cseq, Some(3));
    assert_eq!(uac.remote_target.to_string(), "sip:scscf.example.net");
}
