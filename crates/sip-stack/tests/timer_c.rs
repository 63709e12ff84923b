//! Timer C of the stateful proxy (RFC 3261 §16.6 step 11, §16.7 step 2, §16.8) and the bound on
//! server transactions whose user never answers, on a simulated clock.

use sip::{Message, Method};
use sip_stack::proxy::{ProxyConfig, StatefulProxy};
use sip_stack::transaction::{ServerState, Timer};
use sip_stack::{Flow, LayerConfig, TimerConfig, TransactionLayer, Transport, TxEvent};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

fn msg(s: &str) -> Message {
    Message::parse(s.replace('\n', "\r\n").into_bytes()).unwrap()
}

fn invite() -> Message {
    msg("INVITE sip:bob@192.0.2.20 SIP/2.0\n\
Via: SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bKtc1;rport\n\
Max-Forwards: 70\n\
From: <sip:alice@example.net>;tag=a1\n\
To: <sip:bob@example.net>\n\
Call-ID: tc1\n\
CSeq: 1 INVITE\n\
Contact: <sip:alice@192.0.2.1:5070>\n\
Content-Length: 0\n\n")
}

fn options() -> Message {
    msg("OPTIONS sip:bob@192.0.2.20 SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bKto1\nMax-Forwards: 70\nFrom: <sip:a@x>;tag=1\nTo: <sip:bob@x>\nCall-ID: to1\nCSeq: 1 OPTIONS\nContent-Length: 0\n\n")
}

fn uac() -> Flow {
    Flow {
        transport: Transport::Udp,
        local: "192.0.2.10:5060".parse().unwrap(),
        remote: SocketAddr::from(([192, 0, 2, 1], 5070)),
        conn: None,
    }
}

fn uas() -> Flow {
    Flow::to(Transport::Udp, "192.0.2.20:5060".parse().unwrap())
}

/// Everything sent: (time since t0, to the UAS?, message).
type Sent = Vec<(Duration, bool, Message)>;

fn drain(p: &mut StatefulProxy, t0: Instant, now: Instant, out: &mut Sent) {
    while let Some((_, f, b)) = p.poll_transmit() {
        out.push((now - t0, f == uas(), Message::parse(b).unwrap()));
    }
}

/// Runs the simulated clock up to `until`.
fn run_until(p: &mut StatefulProxy, t0: Instant, until: Instant, out: &mut Sent) {
    while let Some(at) = p.next_timeout() {
        if at > until {
            break;
        }
        p.on_timeout(at);
        drain(p, t0, at, out);
    }
}

/// INVITE forwarded to the UAS; returns the forwarded INVITE.
fn start(p: &mut StatefulProxy, t0: Instant, out: &mut Sent) -> Message {
    p.on_message(invite(), uac(), t0);
    let req = p.poll_request().unwrap();
    let prepared = p.prepare(&req).unwrap();
    p.forward(&req, prepared, uas(), t0).unwrap();
    drain(p, t0, t0, out);
    out.iter().rev().find(|(_, d, _)| *d).unwrap().2.clone()
}

fn respond(p: &mut StatefulProxy, fwd: &Message, code: u16, at: Instant) {
    let r = sip::MessageBuilder::response_to(fwd, code, "X", Some("uas"))
        .build()
        .unwrap();
    p.on_message(r, uas(), at);
}

fn upstream_finals(out: &Sent) -> Vec<(Duration, u16)> {
    out.iter()
        .filter(|(_, d, m)| !d && m.status().is_some_and(|s| s >= 200))
        .map(|(t, _, m)| (*t, m.status().unwrap()))
        .collect()
}

fn cancels(out: &Sent) -> Vec<Duration> {
    out.iter()
        .filter(|(_, d, m)| *d && m.method() == Some(Method::Cancel))
        .map(|(t, _, _)| *t)
        .collect()
}

#[test]
fn timer_c_default_exceeds_three_minutes() {
    assert!(TimerConfig::default().timer_c > Duration::from_secs(180));
}

#[test]
fn timer_c_reset_by_provisional_then_cancel_then_408() {
    let t0 = Instant::now();
    let s = Duration::from_secs;
    let mut p = StatefulProxy::new(ProxyConfig::new("192.0.2.10", 5060), LayerConfig::default());
    let mut out = Sent::new();
    let fwd = start(&mut p, t0, &mut out);
    let branch = sip_stack::ClientKey::from_message(&fwd).unwrap();
    assert_eq!(p.timer_c(&branch), Some(t0 + s(181)));
    // a 180 at 10 s resets Timer C (§16.7 step 2); a 100 would not
    respond(&mut p, &fwd, 180, t0 + s(10));
    assert_eq!(p.timer_c(&branch), Some(t0 + s(191)));
    respond(&mut p, &fwd, 100, t0 + s(20));
    assert_eq!(p.timer_c(&branch), Some(t0 + s(191)));
    drain(&mut p, t0, t0 + s(20), &mut out);
    // nothing happens before 191 s
    run_until(&mut p, t0, t0 + s(190), &mut out);
    assert!(cancels(&out).is_empty());
    assert!(upstream_finals(&out).is_empty());
    // Timer C fires: CANCEL downstream (same branch), no response upstream yet
    run_until(&mut p, t0, t0 + s(191), &mut out);
    assert_eq!(cancels(&out), vec![s(191)]);
    let cancel = &out
        .iter()
        .find(|(_, d, m)| *d && m.method() == Some(Method::Cancel))
        .unwrap()
        .2;
    assert_eq!(
        cancel.top_via().unwrap().branch(),
        fwd.top_via().unwrap().branch()
    );
    assert!(upstream_finals(&out).is_empty());
    // the UAS never answers the INVITE: 64·T1 later the proxy answers 408 upstream
    run_until(&mut p, t0, t0 + s(400), &mut out);
    let finals = upstream_finals(&out);
    assert_eq!(finals.first(), Some(&(s(191 + 32), 408)));
}

#[test]
fn timer_c_cancel_answered_with_487_is_relayed_not_408() {
    let t0 = Instant::now();
    let s = Duration::from_secs;
    let mut p = StatefulProxy::new(ProxyConfig::new("192.0.2.10", 5060), LayerConfig::default());
    let mut out = Sent::new();
    let fwd = start(&mut p, t0, &mut out);
    respond(&mut p, &fwd, 183, t0);
    run_until(&mut p, t0, t0 + s(181), &mut out);
    assert_eq!(cancels(&out), vec![s(181)]);
    respond(&mut p, &fwd, 487, t0 + s(182));
    drain(&mut p, t0, t0 + s(182), &mut out);
    run_until(&mut p, t0, t0 + s(600), &mut out);
    let finals = upstream_finals(&out);
    // the 487 at 182 s (then its Timer G retransmissions, no ACK here), never a 408
    assert_eq!(finals.first(), Some(&(s(182), 487)));
    assert!(finals.iter().all(|f| f.1 == 487), "{finals:?}");
}

#[test]
fn timer_c_without_provisional_is_408_without_cancel() {
    let t0 = Instant::now();
    let s = Duration::from_secs;
    // Timer C shorter than Timer B so that it, not B, fires first
    let layer = LayerConfig {
        timers: TimerConfig {
            timer_c: s(10),
            ..TimerConfig::default()
        },
        ..LayerConfig::default()
    };
    let mut p = StatefulProxy::new(ProxyConfig::new("192.0.2.10", 5060), layer);
    let mut out = Sent::new();
    start(&mut p, t0, &mut out);
    run_until(&mut p, t0, t0 + s(20), &mut out);
    assert!(
        cancels(&out).is_empty(),
        "no CANCEL before a provisional (§9.1)"
    );
    assert_eq!(upstream_finals(&out).first(), Some(&(s(10), 408)));
}

#[test]
fn timer_c_cleared_by_final_response() {
    let t0 = Instant::now();
    let mut p = StatefulProxy::new(ProxyConfig::new("192.0.2.10", 5060), LayerConfig::default());
    let mut out = Sent::new();
    let fwd = start(&mut p, t0, &mut out);
    let branch = sip_stack::ClientKey::from_message(&fwd).unwrap();
    respond(&mut p, &fwd, 486, t0 + Duration::from_secs(1));
    assert_eq!(p.timer_c(&branch), None);
    run_until(&mut p, t0, t0 + Duration::from_secs(600), &mut out);
    assert!(cancels(&out).is_empty());
    assert_eq!(p.layer.len(), (0, 0));
}

fn layer_requests(l: &mut TransactionLayer) -> Vec<TxEvent> {
    std::iter::from_fn(|| l.poll_event()).collect()
}

#[test]
fn unanswered_invite_server_transaction_answers_408_and_ends() {
    let t0 = Instant::now();
    let s = Duration::from_secs;
    let mut l = TransactionLayer::new(LayerConfig::default());
    l.on_message(invite(), uac(), t0).unwrap();
    let evs = layer_requests(&mut l);
    let key = evs
        .iter()
        .find_map(|e| match e {
            TxEvent::Request { key, .. } => Some(key.clone()),
            _ => None,
        })
        .unwrap();
    assert!(l
        .server(&key)
        .unwrap()
        .timers()
        .contains(&(Timer::Unanswered, t0 + s(240))));
    // a provisional from the user restarts the bound
    let ringing = sip::MessageBuilder::response_to(&invite(), 180, "Ringing", Some("t"))
        .build()
        .unwrap();
    l.send_response(&key, &ringing, t0 + s(100)).unwrap();
    layer_requests(&mut l);
    let mut sent = Vec::new();
    let mut failed = false;
    while let Some(at) = l.next_timeout() {
        l.on_timeout(at);
        for e in layer_requests(&mut l) {
            match e {
                TxEvent::Transmit { data, .. } => {
                    let m = Message::parse(data).unwrap();
                    sent.push((at - t0, m.status().unwrap()));
                }
                TxEvent::Failed { .. } => failed = true,
                _ => {}
            }
        }
        if at > t0 + s(1000) {
            break;
        }
    }
    assert!(failed, "the user learns its transaction timed out");
    // 408 at 340 s, then Timer G retransmissions until Timer H (no ACK) ends it
    assert_eq!(sent.first(), Some(&(s(340), 408)));
    assert!(sent.len() > 1 && sent.iter().all(|(_, c)| *c == 408));
    assert_eq!(l.len(), (0, 0), "the transaction is gone");
}

#[test]
fn unanswered_non_invite_server_transaction_is_dropped_silently() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(LayerConfig::default());
    l.on_message(options(), uac(), t0).unwrap();
    let key = layer_requests(&mut l)
        .into_iter()
        .find_map(|e| match e {
            TxEvent::Request { key, .. } => Some(key),
            _ => None,
        })
        .unwrap();
    assert_eq!(l.server(&key).unwrap().state(), ServerState::Trying);
    // 64·T1 + T4 = 37 s
    assert_eq!(l.next_timeout(), Some(t0 + Duration::from_secs(37)));
    l.on_timeout(t0 + Duration::from_secs(37));
    let evs = layer_requests(&mut l);
    assert!(
        !evs.iter().any(|e| matches!(e, TxEvent::Transmit { .. })),
        "RFC 4320: no 408"
    );
    assert!(evs.iter().any(|e| matches!(e, TxEvent::Terminated { .. })));
    assert_eq!(l.len(), (0, 0));
}
