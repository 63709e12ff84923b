//! The stateful proxy's response-interception mode and originated requests on a simulated clock:
//! final responses held for the application (RFC 3261 §16.7), serial fail-over branches
//! (§16.7 step 6), CANCEL of an undecided INVITE (§16.10), UAC requests (§8.1) — and that every
//! map is empty once all transactions ended.

use sip::{Message, MessageBuilder};
use sip_stack::proxy::{ProxyConfig, StatefulProxy};
use sip_stack::{Failure, Flow, LayerConfig, Transport};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

fn msg(s: &str) -> Message {
    Message::parse(s.replace('\n', "\r\n").into_bytes()).unwrap()
}

fn request(method: &str, id: &str) -> Message {
    msg(&format!(
        "{method} sip:bob@192.0.2.20 SIP/2.0\n\
Via: SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bK{id};rport\n\
Max-Forwards: 70\n\
From: <sip:alice@example.net>;tag=a1\n\
To: <sip:bob@example.net>\n\
Call-ID: {id}\n\
CSeq: 1 {method}\n\
Content-Length: 0\n\n"
    ))
}

fn uac() -> Flow {
    Flow {
        transport: Transport::Udp,
        local: "192.0.2.10:5060".parse().unwrap(),
        remote: SocketAddr::from(([192, 0, 2, 1], 5070)),
        conn: None,
    }
}

fn uas(n: u8) -> Flow {
    Flow::to(
        Transport::Udp,
        SocketAddr::from(([192, 0, 2, 20 + n], 5060)),
    )
}

/// Sends queued: (to the UAC?, message).
fn drain(p: &mut StatefulProxy) -> Vec<(bool, Message)> {
    let mut out = Vec::new();
    while let Some((_, f, b)) = p.poll_transmit() {
        out.push((f.remote == uac().remote, Message::parse(b).unwrap()));
    }
    out
}

fn answer(p: &mut StatefulProxy, fwd: &Message, code: u16, from: Flow, at: Instant) {
    let r = MessageBuilder::response_to(fwd, code, "X", Some("uas"))
        .build()
        .unwrap();
    p.on_message(r, from, at);
}

fn proxy() -> StatefulProxy {
    let mut p = StatefulProxy::new(ProxyConfig::new("192.0.2.10", 5060), LayerConfig::default());
    p.set_intercept_responses(true);
    p
}

/// Forwards `req` as branch `attempt` to `to`; returns the request sent.
fn branch(
    p: &mut StatefulProxy,
    req: &sip_stack::proxy::ProxyRequest,
    attempt: u32,
    to: Flow,
    now: Instant,
) -> Message {
    let mut prepared = p.prepare(req).unwrap();
    if attempt > 0 {
        prepared.branch = format!("{}.{attempt}", prepared.branch);
    }
    let m = prepared.finish_message(Transport::Udp).unwrap();
    p.forward_branch(req.key.as_ref().unwrap(), m, to, attempt as u64, now)
        .unwrap();
    // downstream: the request; upstream at most a 100 Trying (INVITE)
    let sent = drain(p);
    let down: Vec<_> = sent.iter().filter(|(up, _)| !up).collect();
    assert_eq!(down.len(), 1);
    assert!(sent.iter().all(|(up, m)| !up || m.status() == Some(100)));
    down[0].1.clone()
}

#[test]
fn intercepted_responses_fail_over_and_nothing_leaks() {
    let mut p = proxy();
    let t0 = Instant::now();
    const N: usize = 20;
    for i in 0..N {
        p.on_message(request("OPTIONS", &format!("n{i}")), uac(), t0);
        let req = p.poll_request().unwrap();
        let skey = req.key.clone().unwrap();
        let fwd = branch(&mut p, &req, 0, uas(0), t0);
        if i % 2 == 0 {
            // 503 from the first hop: held for the application, not relayed
            answer(&mut p, &fwd, 503, uas(0), t0);
            assert!(drain(&mut p).is_empty(), "a held response is not relayed");
            let br = p.poll_response().expect("held 503");
            assert_eq!(
                (br.response.status(), br.local, br.cookie),
                (Some(503), false, 0)
            );
            assert_eq!(br.server, skey);
            assert_eq!(
                br.response.headers_named("Via").count(),
                1,
                "our Via removed"
            );
            let fwd2 = branch(&mut p, &req, 1, uas(1), t0);
            assert_ne!(
                fwd.top_via().unwrap().branch().unwrap(),
                fwd2.top_via().unwrap().branch().unwrap()
            );
            answer(&mut p, &fwd2, 200, uas(1), t0);
        } else {
            answer(&mut p, &fwd, 200, uas(0), t0);
        }
        let br = p.poll_response().expect("held 200");
        assert_eq!(br.response.status(), Some(200));
        assert_eq!(br.cookie, if i % 2 == 0 { 1 } else { 0 });
        p.respond(&br.server, &br.response, t0).unwrap();
        let sent = drain(&mut p);
        assert_eq!(sent.len(), 1);
        assert!(sent[0].0 && sent[0].1.status() == Some(200));
        // a second final for an answered transaction is ignored, not a crash
        let _ = p.respond(&br.server, &br.response, t0);
        assert!(p.poll_response().is_none());
        assert!(drain(&mut p).iter().all(|(_, m)| m.status() == Some(200)));
        // a forward after the final response is refused
        let late = p
            .prepare(&req)
            .unwrap()
            .finish_message(Transport::Udp)
            .unwrap();
        assert!(p.forward_branch(&skey, late, uas(2), 9, t0).is_err());
    }

    // an INVITE CANCELled while the application decides: 200 to the CANCEL, 487 to the INVITE
    p.on_message(request("INVITE", "inv1"), uac(), t0);
    let req = p.poll_request().unwrap();
    p.on_message(request("CANCEL", "inv1"), uac(), t0);
    let sent = drain(&mut p);
    let mut codes: Vec<_> = sent
        .iter()
        .filter(|s| s.0)
        .filter_map(|s| s.1.status())
        .collect();
    codes.sort();
    assert!(codes.ends_with(&[200, 487]), "{codes:?}");
    let late = p
        .prepare(&req)
        .unwrap()
        .finish_message(Transport::Udp)
        .unwrap();
    assert!(p
        .forward_branch(req.key.as_ref().unwrap(), late, uas(0), 0, t0)
        .is_err());

    // originated requests: one answered, one never
    let notify = |id: &str| {
        msg(&format!(
            "NOTIFY sip:ue@192.0.2.30 SIP/2.0\n\
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKo{id}\n\
Max-Forwards: 70\n\
From: <sip:scscf@example.net>;tag=s\n\
To: <sip:ue@example.net>;tag=u\n\
Call-ID: o{id}\n\
CSeq: 1 NOTIFY\n\
Content-Length: 0\n\n"
        ))
    };
    let k1 = p.originate(notify("1"), uas(10), t0).unwrap();
    let k2 = p.originate(notify("2"), uas(10), t0).unwrap();
    let sent = drain(&mut p);
    assert_eq!(sent.len(), 2);
    answer(&mut p, &sent[0].1, 202, uas(10), t0);
    let (k, r) = p.poll_originated().unwrap();
    assert_eq!(k, k1);
    assert_eq!(r.unwrap().status(), Some(202));
    assert!(p.poll_response().is_none(), "not a proxied response");
    assert!(drain(&mut p).is_empty(), "not relayed");

    // the simulated clock runs out every timer (Timer F, J, K, H, I)
    let end = t0 + Duration::from_secs(3600);
    let mut timed_out = None;
    while let Some(at) = p.next_timeout() {
        assert!(at <= end, "a timer beyond an hour");
        p.on_timeout(at);
        drain(&mut p);
        if let Some(o) = p.poll_originated() {
            timed_out = Some(o);
        }
    }
    let (k, r) = timed_out.expect("the unanswered NOTIFY failed");
    assert_eq!(k, k2);
    assert_eq!(r.unwrap_err(), Failure::Timeout);
    assert_eq!(p.layer.len(), (0, 0), "transactions left");
    assert_eq!(p.tracked(), 0, "proxy entries left");
}

#[test]
fn branch_timeout_is_a_held_local_408() {
    let mut p = proxy();
    let t0 = Instant::now();
    p.on_message(request("OPTIONS", "lt1"), uac(), t0);
    let req = p.poll_request().unwrap();
    branch(&mut p, &req, 0, uas(0), t0);
    let mut held = None;
    while let Some(at) = p.next_timeout() {
        p.on_timeout(at);
        assert!(drain(&mut p).iter().all(|(up, _)| !up), "nothing relayed");
        if let Some(br) = p.poll_response() {
            held = Some(br);
            break;
        }
    }
    let br = held.expect("Timer F gives a local 408");
    assert_eq!((br.response.status(), br.local), (Some(408), true));
    p.respond(&br.server, &br.response, t0 + Duration::from_secs(40))
        .unwrap();
    assert_eq!(drain(&mut p)[0].1.status(), Some(408));
}

#[test]
fn default_mode_still_relays() {
    let mut p = StatefulProxy::new(ProxyConfig::new("192.0.2.10", 5060), LayerConfig::default());
    let t0 = Instant::now();
    p.on_message(request("OPTIONS", "d1"), uac(), t0);
    let req = p.poll_request().unwrap();
    let prepared = p.prepare(&req).unwrap();
    p.forward(&req, prepared, uas(0), t0).unwrap();
    let fwd = drain(&mut p).pop().unwrap().1;
    answer(&mut p, &fwd, 503, uas(0), t0);
    assert!(p.poll_response().is_none());
    let sent = drain(&mut p);
    assert!(sent[0].0 && sent[0].1.status() == Some(503));
}

#[test]
fn no_new_branch_after_upstream_cancel() {
    let mut p = proxy();
    let t0 = Instant::now();
    p.on_message(request("INVITE", "c1"), uac(), t0);
    let req = p.poll_request().unwrap();
    let skey = req.key.clone().unwrap();
    let fwd = branch(&mut p, &req, 0, uas(0), t0);
    answer(&mut p, &fwd, 180, uas(0), t0);
    // provisional responses are relayed without asking
    assert_eq!(drain(&mut p)[0].1.status(), Some(180));
    p.on_message(request("CANCEL", "c1"), uac(), t0);
    assert!(p.is_cancelled(&skey));
    let sent = drain(&mut p);
    assert!(sent.iter().any(|(up, m)| *up && m.status() == Some(200)));
    let cancel = &sent
        .iter()
        .find(|(up, _)| !*up)
        .expect("CANCEL downstream")
        .1;
    assert_eq!(cancel.method(), Some(sip::Method::Cancel));
    answer(&mut p, &fwd, 487, uas(0), t0);
    let br = p.poll_response().expect("held 487");
    assert_eq!(br.response.status(), Some(487));
    // §16.10: no new branch after a CANCEL
    let again = p
        .prepare(&req)
        .unwrap()
        .finish_message(Transport::Udp)
        .unwrap();
    assert!(p.forward_branch(&skey, again, uas(1), 1, t0).is_err());
    p.respond(&skey, &br.response, t0).unwrap();
    assert!(drain(&mut p)
        .iter()
        .any(|(up, m)| *up && m.status() == Some(487)));
}

#[test]
fn late_final_from_an_abandoned_branch_is_dropped() {
    let mut p = StatefulProxy::new(
        ProxyConfig::new("192.0.2.10", 5060),
        LayerConfig {
            timers: sip_stack::TimerConfig {
                timer_c: Duration::from_secs(1),
                ..Default::default()
            },
            ..LayerConfig::default()
        },
    );
    p.set_intercept_responses(true);
    let t0 = Instant::now();
    p.on_message(request("INVITE", "ab1"), uac(), t0);
    let req = p.poll_request().unwrap();
    let fwd0 = branch(&mut p, &req, 0, uas(0), t0);
    // Timer C without a provisional: a held local 408 (§16.8)
    let t1 = t0 + Duration::from_secs(1);
    p.on_timeout(t1);
    assert!(drain(&mut p).iter().all(|(up, _)| !up));
    let br = p.poll_response().expect("held 408");
    assert_eq!((br.response.status(), br.local), (Some(408), true));
    let fwd1 = branch(&mut p, &req, 1, uas(1), t1);
    // the first branch answers after all: neither held nor relayed
    answer(&mut p, &fwd0, 486, uas(0), t1);
    assert!(p.poll_response().is_none());
    assert!(drain(&mut p).iter().all(|(up, _)| !up), "nothing upstream");
    answer(&mut p, &fwd1, 486, uas(1), t1);
    let br = p.poll_response().expect("held 486 of the current branch");
    assert_eq!((br.response.status(), br.cookie), (Some(486), 1));
}
