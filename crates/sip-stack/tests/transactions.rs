//! RFC 3261 §17 transaction state machines on a simulated clock: every time below is an offset
//! from one `Instant`, and the tests step the clock to each armed timer.

use sip::Message;
use sip_stack::transaction::{
    ClientState, ClientTransaction, ServerState, ServerTransaction, Timer, TimerConfig, TxOutput,
};
use sip_stack::{
    Failure, Flow, LayerConfig, ServerKey, TransactionLayer, Transport, TxEvent, TxKey,
};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

fn req(method: &str, branch: &str) -> Message {
    let raw = format!(
        "{method} sip:bob@example.net SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.1:5060;branch={branch};rport\r\n\
Max-Forwards: 70\r\n\
From: <sip:alice@example.net>;tag=f1\r\n\
To: <sip:bob@example.net>\r\n\
Call-ID: call-{branch}\r\n\
CSeq: 7 {method}\r\n\
Route: <sip:p1.example.net;lr>\r\n\
Content-Length: 0\r\n\r\n"
    );
    Message::parse(raw.into_bytes()).unwrap()
}

fn resp_to(r: &Message, code: u16, tag: Option<&str>) -> Message {
    sip::MessageBuilder::response_to(r, code, "X", tag)
        .build()
        .unwrap()
}

fn ms(t0: Instant, t: Instant) -> u64 {
    (t - t0).as_millis() as u64
}

fn transmits(outs: &[TxOutput]) -> usize {
    outs.iter()
        .filter(|o| matches!(o, TxOutput::Transmit(_)))
        .count()
}

/// Runs a client transaction on its timers only; returns (send times, failure time, failure).
fn run_client(mut tx: ClientTransaction, t0: Instant) -> (Vec<u64>, u64, Option<Failure>) {
    let mut sends = vec![0];
    let mut failure = None;
    let mut end = 0;
    while let Some(at) = tx.next_timeout() {
        for o in tx.on_timer(at) {
            match o {
                TxOutput::Transmit(_) => sends.push(ms(t0, at)),
                TxOutput::Failed(f) => failure = Some(f),
                TxOutput::Terminated => end = ms(t0, at),
                TxOutput::Response(_) => panic!("no response was fed"),
            }
        }
    }
    assert!(tx.is_terminated());
    (sends, end, failure)
}

#[test]
fn non_invite_client_timer_e_doubles_to_t2_then_timer_f() {
    let t0 = Instant::now();
    let (tx, out) = ClientTransaction::new(
        req("OPTIONS", "z9hG4bKe1"),
        false,
        TimerConfig::default(),
        t0,
    );
    assert_eq!(transmits(&out), 1);
    assert_eq!(tx.state(), ClientState::Trying);
    let (sends, end, failure) = run_client(tx, t0);
    // E: 500, 1000, 2000, 4000 (capped at T2), 4000...; F at 64*T1 = 32 s.
    assert_eq!(
        sends,
        vec![0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]
    );
    assert_eq!(end, 32000);
    assert_eq!(failure, Some(Failure::Timeout));
    assert_eq!(Failure::Timeout.status(), 408);
}

#[test]
fn invite_client_timer_a_doubles_without_cap_then_timer_b() {
    let t0 = Instant::now();
    let (tx, _) = ClientTransaction::new(
        req("INVITE", "z9hG4bKa1"),
        false,
        TimerConfig::default(),
        t0,
    );
    assert_eq!(tx.state(), ClientState::Calling);
    let (sends, end, failure) = run_client(tx, t0);
    assert_eq!(sends, vec![0, 500, 1500, 3500, 7500, 15500, 31500]);
    assert_eq!(end, 32000);
    assert_eq!(failure, Some(Failure::Timeout));
}

#[test]
fn configurable_t1_t2_scale_the_schedule() {
    let t0 = Instant::now();
    let cfg = TimerConfig {
        t1: Duration::from_millis(100),
        t2: Duration::from_millis(400),
        ..TimerConfig::default()
    };
    let (tx, _) = ClientTransaction::new(req("REGISTER", "z9hG4bKc1"), false, cfg, t0);
    let (sends, end, _) = run_client(tx, t0);
    assert_eq!(&sends[..6], &[0, 100, 300, 700, 1100, 1500]);
    assert_eq!(end, 6400);
}

#[test]
fn reliable_client_does_not_retransmit_and_times_out() {
    let t0 = Instant::now();
    let (tx, _) =
        ClientTransaction::new(req("INVITE", "z9hG4bKr1"), true, TimerConfig::default(), t0);
    assert_eq!(tx.timers().len(), 1);
    assert_eq!(tx.timers()[0].0, Timer::B);
    let (sends, end, failure) = run_client(tx, t0);
    assert_eq!(sends, vec![0]);
    assert_eq!(end, 32000);
    assert_eq!(failure, Some(Failure::Timeout));
}

#[test]
fn invite_client_provisional_final_ack_and_timer_d() {
    let t0 = Instant::now();
    let invite = req("INVITE", "z9hG4bKinv");
    let (mut tx, _) = ClientTransaction::new(invite.clone(), false, TimerConfig::default(), t0);
    let out = tx.on_response(
        resp_to(&invite, 180, Some("uas")),
        t0 + Duration::from_millis(100),
    );
    assert!(matches!(&out[..], [TxOutput::Response(r)] if r.status() == Some(180)));
    assert_eq!(tx.state(), ClientState::Proceeding);
    // Timers A and B are off in Proceeding.
    assert!(tx.timers().is_empty());
    let t1 = t0 + Duration::from_secs(2);
    let out = tx.on_response(resp_to(&invite, 486, Some("uas")), t1);
    assert_eq!(tx.state(), ClientState::Completed);
    let ack = match &out[0] {
        TxOutput::Transmit(b) => Message::parse(b.clone()).unwrap(),
        o => panic!("expected ACK first, got {o:?}"),
    };
    assert!(matches!(&out[1], TxOutput::Response(r) if r.status() == Some(486)));
    // §17.1.1.3: same Request-URI, top Via branch, From, Call-ID, CSeq number; To of the response.
    assert_eq!(ack.method(), Some(sip::Method::Ack));
    assert_eq!(
        ack.request_uri_raw().unwrap().as_str(),
        "sip:bob@example.net"
    );
    assert_eq!(ack.top_via().unwrap().branch(), Some("z9hG4bKinv"));
    assert_eq!(ack.cseq().unwrap().seq, 7);
    assert_eq!(ack.cseq().unwrap().method, sip::Method::Ack);
    assert_eq!(ack.to().unwrap().tag(), Some("uas"));
    assert_eq!(ack.from().unwrap().tag(), Some("f1"));
    assert_eq!(ack.route().unwrap().len(), 1);
    ack.validate().unwrap();
    // A retransmitted final response is answered with the same ACK and not passed up.
    let out = tx.on_response(
        resp_to(&invite, 486, Some("uas")),
        t1 + Duration::from_secs(1),
    );
    assert_eq!(out.len(), 1);
    assert!(
        matches!(&out[0], TxOutput::Transmit(b) if Message::parse(b.clone()).unwrap().method() == Some(sip::Method::Ack))
    );
    // Timer D = 32 s.
    assert_eq!(tx.timers(), vec![(Timer::D, t1 + Duration::from_secs(32))]);
    assert!(tx.on_timer(t1 + Duration::from_secs(31)).is_empty());
    let out = tx.on_timer(t1 + Duration::from_secs(32));
    assert!(matches!(&out[..], [TxOutput::Terminated]));
}

#[test]
fn invite_client_2xx_accepted_until_timer_m() {
    let t0 = Instant::now();
    let invite = req("INVITE", "z9hG4bK2xx");
    let (mut tx, _) = ClientTransaction::new(invite.clone(), false, TimerConfig::default(), t0);
    let out = tx.on_response(resp_to(&invite, 200, Some("t")), t0);
    assert!(matches!(&out[..], [TxOutput::Response(r)] if r.status() == Some(200)));
    // RFC 6026: Accepted; no ACK from the transaction, A and B off, Timer M = 64*T1
    assert_eq!(tx.state(), ClientState::Accepted);
    assert_eq!(tx.timers(), vec![(Timer::M, t0 + Duration::from_secs(32))]);
    // a 2xx retransmission (or another fork's 2xx) still reaches the TU; a 4xx does not
    let out = tx.on_response(
        resp_to(&invite, 200, Some("t")),
        t0 + Duration::from_secs(1),
    );
    assert!(matches!(&out[..], [TxOutput::Response(_)]));
    assert!(tx
        .on_response(resp_to(&invite, 486, Some("t")), t0)
        .is_empty());
    let out = tx.on_timer(t0 + Duration::from_secs(32));
    assert!(matches!(&out[..], [TxOutput::Terminated]));
}

#[test]
fn non_invite_client_proceeding_retransmits_at_t2_and_timer_k() {
    let t0 = Instant::now();
    let r = req("REGISTER", "z9hG4bKreg");
    let (mut tx, _) = ClientTransaction::new(r.clone(), false, TimerConfig::default(), t0);
    let out = tx.on_response(resp_to(&r, 100, None), t0 + Duration::from_millis(100));
    assert_eq!(tx.state(), ClientState::Proceeding);
    assert_eq!(out.len(), 1);
    // E still armed at 500 ms; after it fires, the next is T2 later (§17.1.2.2).
    let e1 = t0 + Duration::from_millis(500);
    assert_eq!(transmits(&tx.on_timer(e1)), 1);
    assert_eq!(tx.timers()[0], (Timer::E, e1 + Duration::from_secs(4)));
    let tf = t0 + Duration::from_secs(3);
    let out = tx.on_response(resp_to(&r, 200, Some("x")), tf);
    assert!(matches!(&out[..], [TxOutput::Response(r)] if r.status() == Some(200)));
    assert_eq!(tx.state(), ClientState::Completed);
    assert_eq!(tx.timers(), vec![(Timer::K, tf + Duration::from_secs(5))]);
    // Retransmitted final responses are absorbed.
    assert!(tx.on_response(resp_to(&r, 200, Some("x")), tf).is_empty());
    assert!(matches!(
        &tx.on_timer(tf + Duration::from_secs(5))[..],
        [TxOutput::Terminated]
    ));
}

#[test]
fn reliable_non_invite_client_terminates_on_final() {
    let t0 = Instant::now();
    let r = req("MESSAGE", "z9hG4bKm");
    let (mut tx, _) = ClientTransaction::new(r.clone(), true, TimerConfig::default(), t0);
    let out = tx.on_response(resp_to(&r, 202, Some("x")), t0);
    assert!(matches!(
        &out[..],
        [TxOutput::Response(_), TxOutput::Terminated]
    ));
}

#[test]
fn client_transport_error_is_a_503_to_the_user() {
    let t0 = Instant::now();
    let r = req("INVITE", "z9hG4bKte");
    let (mut tx, _) = ClientTransaction::new(r.clone(), true, TimerConfig::default(), t0);
    let out = tx.on_transport_error();
    assert!(matches!(
        &out[..],
        [TxOutput::Failed(Failure::Transport), TxOutput::Terminated]
    ));
    let synthetic = Failure::Transport.response_to(&r).unwrap();
    assert_eq!(synthetic.status(), Some(503));
    assert_eq!(synthetic.call_id().unwrap().as_str(), "call-z9hG4bKte");
}

#[test]
fn invite_server_trying_retransmit_timer_g_and_h() {
    let t0 = Instant::now();
    let invite = req("INVITE", "z9hG4bKsi");
    let (mut tx, out) = ServerTransaction::new(invite.clone(), false, TimerConfig::default(), t0);
    assert_eq!(tx.state(), ServerState::Proceeding);
    let trying = match &out[..] {
        [TxOutput::Transmit(b)] => Message::parse(b.clone()).unwrap(),
        o => panic!("{o:?}"),
    };
    assert_eq!(trying.status(), Some(100));
    assert_eq!(trying.to().unwrap().tag(), None);
    // A retransmitted INVITE gets the last provisional again.
    assert_eq!(
        transmits(&tx.on_request(&invite, t0 + Duration::from_millis(500))),
        1
    );
    let out = tx.send_response(&resp_to(&invite, 486, Some("s1")), t0);
    assert_eq!(transmits(&out), 1);
    assert_eq!(tx.state(), ServerState::Completed);
    assert_eq!(tx.response_to_tag(), Some("s1"));
    // G: 500, 1000, 2000, 4000, 4000 ... until H at 32 s.
    let mut sends = Vec::new();
    let mut failed = None;
    while let Some(at) = tx.next_timeout() {
        for o in tx.on_timer(at) {
            match o {
                TxOutput::Transmit(_) => sends.push(ms(t0, at)),
                TxOutput::Failed(f) => failed = Some((ms(t0, at), f)),
                _ => {}
            }
        }
    }
    assert_eq!(
        sends,
        vec![500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]
    );
    assert_eq!(failed, Some((32000, Failure::Timeout)));
}

#[test]
fn invite_server_ack_confirms_and_timer_i_ends_it() {
    let t0 = Instant::now();
    let invite = req("INVITE", "z9hG4bKsa");
    let (mut tx, _) = ServerTransaction::new(invite.clone(), false, TimerConfig::default(), t0);
    tx.send_response(&resp_to(&invite, 404, Some("s")), t0);
    let ta = t0 + Duration::from_millis(700);
    assert!(tx.on_request(&req("ACK", "z9hG4bKsa"), ta).is_empty());
    assert_eq!(tx.state(), ServerState::Confirmed);
    assert_eq!(tx.timers(), vec![(Timer::I, ta + Duration::from_secs(5))]);
    // ACK retransmissions absorbed, INVITE retransmissions too.
    assert!(tx.on_request(&req("ACK", "z9hG4bKsa"), ta).is_empty());
    assert!(tx.on_request(&invite, ta).is_empty());
    assert!(matches!(
        &tx.on_timer(ta + Duration::from_secs(5))[..],
        [TxOutput::Terminated]
    ));
}

#[test]
fn invite_server_2xx_accepted_timer_l_and_reliable_has_no_timer_g() {
    let t0 = Instant::now();
    let invite = req("INVITE", "z9hG4bKs2");
    let (mut tx, _) = ServerTransaction::new(invite.clone(), false, TimerConfig::default(), t0);
    tx.send_response(&resp_to(&invite, 180, Some("a")), t0);
    assert_eq!(tx.state(), ServerState::Proceeding);
    let out = tx.send_response(&resp_to(&invite, 200, Some("a")), t0);
    assert!(matches!(&out[..], [TxOutput::Transmit(_)]));
    // RFC 6026 Accepted: INVITE retransmissions absorbed, the TU's 2xx retransmissions sent,
    // Timer L = 64*T1 ends it
    assert_eq!(tx.state(), ServerState::Accepted);
    assert_eq!(tx.timers(), vec![(Timer::L, t0 + Duration::from_secs(32))]);
    assert!(tx.on_request(&invite, t0).is_empty());
    assert_eq!(
        transmits(&tx.send_response(&resp_to(&invite, 200, Some("a")), t0)),
        1
    );
    assert!(tx
        .send_response(&resp_to(&invite, 500, Some("a")), t0)
        .is_empty());
    assert!(matches!(
        &tx.on_timer(t0 + Duration::from_secs(32))[..],
        [TxOutput::Terminated]
    ));

    let (mut tx, _) = ServerTransaction::new(invite.clone(), true, TimerConfig::default(), t0);
    tx.send_response(&resp_to(&invite, 500, Some("a")), t0);
    assert_eq!(tx.timers(), vec![(Timer::H, t0 + Duration::from_secs(32))]);
    let out = tx.on_request(&req("ACK", "z9hG4bKs2"), t0);
    assert!(matches!(&out[..], [TxOutput::Terminated]));
}

#[test]
fn non_invite_server_absorbs_retransmissions_and_timer_j() {
    let t0 = Instant::now();
    let r = req("REGISTER", "z9hG4bKsn");
    let (mut tx, out) = ServerTransaction::new(r.clone(), false, TimerConfig::default(), t0);
    assert!(out.is_empty());
    assert_eq!(tx.state(), ServerState::Trying);
    assert!(tx.on_request(&r, t0).is_empty());
    tx.send_response(&resp_to(&r, 100, None), t0);
    assert_eq!(tx.state(), ServerState::Proceeding);
    assert_eq!(transmits(&tx.on_request(&r, t0)), 1);
    let tf = t0 + Duration::from_secs(1);
    tx.send_response(&resp_to(&r, 200, Some("z")), tf);
    assert_eq!(tx.state(), ServerState::Completed);
    assert_eq!(tx.timers(), vec![(Timer::J, tf + Duration::from_secs(32))]);
    let out = tx.on_request(&r, tf);
    assert!(
        matches!(&out[..], [TxOutput::Transmit(b)] if Message::parse(b.clone()).unwrap().status() == Some(200))
    );
    // A second final response from the TU is not sent.
    assert!(tx
        .send_response(&resp_to(&r, 500, Some("z")), tf)
        .is_empty());
    assert!(matches!(
        &tx.on_timer(tf + Duration::from_secs(32))[..],
        [TxOutput::Terminated]
    ));

    let (mut tx, _) = ServerTransaction::new(r.clone(), true, TimerConfig::default(), t0);
    let out = tx.send_response(&resp_to(&r, 200, Some("z")), tf);
    assert!(matches!(
        &out[..],
        [TxOutput::Transmit(_), TxOutput::Terminated]
    ));
}

#[test]
fn server_transport_error_ends_the_transaction() {
    let t0 = Instant::now();
    let r = req("INVITE", "z9hG4bKst");
    let (mut tx, _) = ServerTransaction::new(r, false, TimerConfig::default(), t0);
    let out = tx.on_transport_error();
    assert!(matches!(
        &out[..],
        [TxOutput::Failed(Failure::Transport), TxOutput::Terminated]
    ));
    assert!(tx.on_transport_error().is_empty());
}

// ---------------------------------------------------------------- the layer

fn udp_flow(port: u16) -> Flow {
    Flow {
        transport: Transport::Udp,
        local: "127.0.0.1:5060".parse().unwrap(),
        remote: SocketAddr::from(([192, 0, 2, 1], port)),
        conn: None,
    }
}

fn drain(l: &mut TransactionLayer) -> Vec<TxEvent> {
    std::iter::from_fn(|| l.poll_event()).collect()
}

#[test]
fn layer_absorbs_request_retransmissions_and_replies_to_rport() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(LayerConfig::default());
    let r = req("REGISTER", "z9hG4bKl1");
    l.on_message(r.clone(), udp_flow(40000), t0).unwrap();
    let ev = drain(&mut l);
    let key = match &ev[..] {
        [TxEvent::Request { key, .. }] => key.clone(),
        e => panic!("{e:?}"),
    };
    // Retransmission: no new Request event, nothing to send yet (Trying).
    l.on_message(r.clone(), udp_flow(40000), t0).unwrap();
    assert!(drain(&mut l).is_empty());
    l.send_response(&key, &resp_to(&r, 200, Some("t")), t0)
        .unwrap();
    let ev = drain(&mut l);
    match &ev[..] {
        // rport present: reply to the source port, not the Via port 5060 (RFC 3581 §4).
        [TxEvent::Transmit { flow, .. }] => assert_eq!(flow.remote.port(), 40000),
        e => panic!("{e:?}"),
    }
    l.on_message(r, udp_flow(40000), t0).unwrap();
    assert!(matches!(&drain(&mut l)[..], [TxEvent::Transmit { .. }]));
    // Timer J ends it.
    assert_eq!(l.next_timeout(), Some(t0 + Duration::from_secs(32)));
    l.on_timeout(t0 + Duration::from_secs(32));
    assert!(matches!(
        &drain(&mut l)[..],
        [TxEvent::Terminated {
            key: TxKey::Server(_)
        }]
    ));
    assert_eq!(l.len(), (0, 0));
}

#[test]
fn layer_keys_cancel_apart_from_invite_and_acks_2xx_to_user() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(LayerConfig::default());
    let invite = req("INVITE", "z9hG4bKc");
    l.on_message(invite.clone(), udp_flow(5060), t0).unwrap();
    let ev = drain(&mut l);
    assert_eq!(ev.len(), 2, "Request + 100 Trying: {ev:?}");
    let inv_key = match &ev[0] {
        TxEvent::Request { key, .. } => key.clone(),
        e => panic!("{e:?}"),
    };
    l.on_message(req("CANCEL", "z9hG4bKc"), udp_flow(5060), t0)
        .unwrap();
    let ev = drain(&mut l);
    let cancel_key = match &ev[..] {
        [TxEvent::Request { key, .. }] => key.clone(),
        e => panic!("{e:?}"),
    };
    assert_ne!(cancel_key, inv_key);
    assert_eq!(cancel_key.invite_for_cancel(), inv_key);
    // 200 to the INVITE ends its transaction; the ACK (new branch) goes to the user.
    l.send_response(&inv_key, &resp_to(&invite, 200, Some("b")), t0)
        .unwrap();
    drain(&mut l);
    l.on_message(req("ACK", "z9hG4bKack2"), udp_flow(5060), t0)
        .unwrap();
    assert!(matches!(&drain(&mut l)[..], [TxEvent::Ack { .. }]));
}

#[test]
fn layer_rfc2543_fallback_matches_without_magic_cookie() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(LayerConfig::default());
    let invite = req("INVITE", "oldstyle1");
    l.on_message(invite.clone(), udp_flow(5060), t0).unwrap();
    let key = match &drain(&mut l)[0] {
        TxEvent::Request { key, .. } => key.clone(),
        e => panic!("{e:?}"),
    };
    assert!(matches!(key, ServerKey::Rfc2543 { .. }));
    // Retransmission matched by Request-URI/From tag/Call-ID/CSeq/top Via: 100 resent.
    l.on_message(invite.clone(), udp_flow(5060), t0).unwrap();
    assert!(matches!(&drain(&mut l)[..], [TxEvent::Transmit { .. }]));
    l.send_response(&key, &resp_to(&invite, 603, Some("tt")), t0)
        .unwrap();
    drain(&mut l);
    // ACK with a different To tag is not ours: it goes to the user.
    let mut ack = String::from_utf8(req("ACK", "oldstyle1").as_bytes().to_vec()).unwrap();
    ack = ack.replace(
        "To: <sip:bob@example.net>",
        "To: <sip:bob@example.net>;tag=other",
    );
    l.on_message(
        Message::parse(ack.clone().into_bytes()).unwrap(),
        udp_flow(5060),
        t0,
    )
    .unwrap();
    assert!(matches!(&drain(&mut l)[..], [TxEvent::Ack { .. }]));
    // ACK with our To tag confirms the transaction: Timer G stops, Timer I starts.
    let ack = ack.replace("tag=other", "tag=tt");
    l.on_message(
        Message::parse(ack.into_bytes()).unwrap(),
        udp_flow(5060),
        t0,
    )
    .unwrap();
    assert!(drain(&mut l).is_empty());
    assert_eq!(l.server(&key).unwrap().state(), ServerState::Confirmed);
}

#[test]
fn layer_matches_responses_by_branch_and_method_and_reports_strays() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(LayerConfig::default());
    let r = req("OPTIONS", "z9hG4bKcli");
    let key = l.send_request(r.clone(), udp_flow(5060), t0).unwrap();
    assert!(matches!(&drain(&mut l)[..], [TxEvent::Transmit { .. }]));
    // Same branch, other method: not ours.
    let mut other = String::from_utf8(resp_to(&r, 200, Some("x")).as_bytes().to_vec()).unwrap();
    other = other.replace("CSeq: 7 OPTIONS", "CSeq: 7 INFO");
    l.on_message(
        Message::parse(other.into_bytes()).unwrap(),
        udp_flow(5060),
        t0,
    )
    .unwrap();
    assert!(matches!(
        &drain(&mut l)[..],
        [TxEvent::StrayResponse { .. }]
    ));
    l.on_message(resp_to(&r, 200, Some("x")), udp_flow(5060), t0)
        .unwrap();
    match &drain(&mut l)[..] {
        [TxEvent::Response { key: k, msg, .. }] => {
            assert_eq!(k, &key);
            assert_eq!(msg.status(), Some(200));
        }
        e => panic!("{e:?}"),
    }
    // Timer K (T4) then gone.
    l.on_timeout(t0 + Duration::from_secs(5));
    assert!(matches!(&drain(&mut l)[..], [TxEvent::Terminated { .. }]));
}

#[test]
fn layer_timer_f_and_transport_error_reach_the_user() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(LayerConfig::default());
    let k1 = l
        .send_request(req("OPTIONS", "z9hG4bKf"), udp_flow(5060), t0)
        .unwrap();
    let k2 = l
        .send_request(req("OPTIONS", "z9hG4bKg"), udp_flow(5060), t0)
        .unwrap();
    drain(&mut l);
    l.on_transport_error(&TxKey::Client(k2.clone()));
    let ev = drain(&mut l);
    assert!(
        matches!(&ev[0], TxEvent::Failed { key: TxKey::Client(k), failure: Failure::Transport } if *k == k2)
    );
    let mut retrans = 0;
    let mut failed_at = None;
    while let Some(at) = l.next_timeout() {
        l.on_timeout(at);
        for e in drain(&mut l) {
            match e {
                TxEvent::Transmit { .. } => retrans += 1,
                TxEvent::Failed { key, failure } => {
                    assert_eq!(key, TxKey::Client(k1.clone()));
                    assert_eq!(failure, Failure::Timeout);
                    failed_at = Some(ms(t0, at));
                }
                _ => {}
            }
        }
    }
    assert_eq!(retrans, 10);
    assert_eq!(failed_at, Some(32000));
}

#[test]
fn layer_switches_large_udp_requests_to_tcp() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(LayerConfig::default());
    let big = format!(
        "MESSAGE sip:bob@example.net SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKbig\r\nMax-Forwards: 70\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:bob@example.net>\r\nCall-ID: big\r\nCSeq: 1 MESSAGE\r\nContent-Type: text/plain\r\nContent-Length: 1400\r\n\r\n{}",
        "x".repeat(1400)
    );
    l.send_request(
        Message::parse(big.into_bytes()).unwrap(),
        udp_flow(5060),
        t0,
    )
    .unwrap();
    match &drain(&mut l)[..] {
        [TxEvent::Transmit { flow, data, .. }] => {
            assert_eq!(flow.transport, Transport::Tcp);
            let m = Message::parse(data.clone()).unwrap();
            assert_eq!(m.top_via().unwrap().transport.as_str(), "TCP");
        }
        e => panic!("{e:?}"),
    }
    // No retransmission timer on TCP: only F.
    assert_eq!(l.next_timeout(), Some(t0 + Duration::from_secs(32)));
    // A small request stays on UDP.
    l.send_request(req("OPTIONS", "z9hG4bKsmall"), udp_flow(5060), t0)
        .unwrap();
    assert!(
        matches!(&drain(&mut l)[..], [TxEvent::Transmit { flow, .. }] if flow.transport == Transport::Udp)
    );
}
