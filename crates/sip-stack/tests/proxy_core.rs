//! Proxy core (RFC 3261 §16, RFC 3327, RFC 3608): checks, forwarding edits, response routing,
//! and the stateful proxy on a simulated clock.

use sip::{Message, Method};
use sip_stack::proxy::{
    check_request, path_value, preloaded_route, prepare_forward, strip_own_via, ProxyConfig,
    ProxyRequest, StatefulProxy,
};
use sip_stack::{via_destination, Flow, LayerConfig, Transport, TxKey};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const REGISTER: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/testdata/sip/01-register-initial.sip"
));

fn pcscf() -> ProxyConfig {
    let mut c = ProxyConfig::new("2001:0:0:1::2", 5060);
    c.supported.push("sec-agree".into());
    c
}

fn ue_flow() -> Flow {
    Flow {
        transport: Transport::Tcp,
        local: "[2001:0:0:1::2]:5060".parse().unwrap(),
        remote: "[2001::1:d1ae:bb37:d9c9:81d0]:50001".parse().unwrap(),
        conn: Some(7),
    }
}

fn msg(s: &str) -> Message {
    Message::parse(s.replace('\n', "\r\n").into_bytes()).unwrap()
}

fn invite(extra: &str, mf: u8) -> Message {
    msg(&format!(
        "INVITE sip:bob@192.0.2.20 SIP/2.0\n\
Via: SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bKuac1;rport\n\
Max-Forwards: {mf}\n\
From: <sip:alice@example.net>;tag=a1\n\
To: <sip:bob@example.net>\n\
Call-ID: inv1\n\
CSeq: 1 INVITE\n\
Contact: <sip:alice@192.0.2.1:5070>\n\
{extra}Content-Length: 0\n\n"
    ))
}

fn udp_from(port: u16) -> Flow {
    Flow {
        transport: Transport::Udp,
        local: "192.0.2.10:5060".parse().unwrap(),
        remote: SocketAddr::from(([192, 0, 2, 1], port)),
        conn: None,
    }
}

fn proxy_cfg() -> ProxyConfig {
    ProxyConfig::new("192.0.2.10", 5060)
}

#[test]
fn register_through_the_pcscf_route_removed_via_pushed_path_added() {
    let m = Message::parse(REGISTER).unwrap();
    let cfg = pcscf();
    check_request(&m, &cfg).unwrap();
    let mut p = prepare_forward(&m, &ue_flow(), &cfg).unwrap();
    // Route was ours (with lr): removed; next hop = Request-URI
    assert_eq!(p.next_hop.to_string(), "sip:ims.sharetechnote.com");
    p.editor
        .prepend(sip::HeaderName::Path, path_value(&cfg, Transport::Udp))
        .unwrap();
    let out = p.finish_message(Transport::Udp).unwrap();
    out.validate().unwrap();
    assert!(!out.has("Route"));
    assert_eq!(out.max_forwards().unwrap(), Some(69));
    let vias = out.via().unwrap();
    assert_eq!(vias.len(), 2);
    assert_eq!(vias[0].transport.as_str(), "UDP");
    assert!(vias[0].branch_is_rfc3261());
    assert_eq!(vias[0].sent_by(), "[2001:0:0:1::2]:5060");
    assert!(vias[0].rport().is_some());
    // the UE's Via got received (source differs from sent-by only in port: no received needed)
    assert_eq!(vias[1].branch(), Some("z9hG4bK370690ecb-643c9869"));
    assert_eq!(
        out.path().unwrap()[0].uri.to_string(),
        "sip:[2001:0:0:1::2]:5060;lr"
    );
    // REGISTER is not dialog-creating: no Record-Route
    assert!(!out.has("Record-Route"));
    // untouched headers are byte-identical
    assert_eq!(
        out.header_value("Security-Client"),
        m.header_value("Security-Client")
    );
}

#[test]
fn bad_requests_get_the_right_status() {
    let cfg = proxy_cfg();
    // Max-Forwards 0 → 483
    let r = check_request(&invite("", 0), &cfg).unwrap_err();
    assert_eq!((r.status, r.reason.as_str()), (483, "Too Many Hops"));
    // unsupported Proxy-Require → 420 with Unsupported naming it
    let m = invite("Proxy-Require: foo, sec-agree\n", 70);
    let r = check_request(&m, &cfg).unwrap_err();
    assert_eq!(r.status, 420);
    assert_eq!(r.unsupported, vec!["foo", "sec-agree"]);
    let resp = r.response_to(&m).unwrap();
    assert_eq!(resp.status(), Some(420));
    assert_eq!(resp.unsupported().unwrap().len(), 2);
    assert!(resp.to().unwrap().tag().is_some());
    // supported option tags pass
    let mut c2 = cfg.clone();
    c2.supported = vec!["foo".into(), "SEC-AGREE".into()];
    check_request(&m, &c2).unwrap();
    // malformed → 400 with a reason naming the header
    let bad = msg("OPTIONS sip:x@example.net SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKq\nMax-Forwards: 70\nFrom: <sip:a@x>;tag=1\nTo: <sip:x@example.net>\nCSeq: 1 OPTIONS\nContent-Length: 0\n\n");
    let r = check_request(&bad, &cfg).unwrap_err();
    assert_eq!(r.status, 400);
    assert_eq!(r.reason, "Missing Call-ID Header");
    // too large → 513
    let mut small = cfg.clone();
    small.max_message_size = 200;
    assert_eq!(
        check_request(&invite("", 70), &small).unwrap_err().status,
        513
    );
}

#[test]
fn loops_are_482_and_spirals_pass() {
    let cfg = proxy_cfg();
    let m = invite("", 70);
    let p = prepare_forward(&m, &udp_from(5070), &cfg).unwrap();
    let once = p.finish_message(Transport::Udp).unwrap();
    // the same request comes back to us unchanged: loop
    let r = check_request(&once, &cfg).unwrap_err();
    assert_eq!((r.status, r.reason.as_str()), (482, "Loop Detected"));
    // it comes back with another Request-URI (retargeted downstream): spiral, forwarded
    let mut ed = sip::Editor::new(&once);
    ed.set_request_uri("sip:bob@192.0.2.30").unwrap();
    let spiral = ed.finish().unwrap();
    check_request(&spiral, &cfg).unwrap();
}

#[test]
fn invite_gets_record_route_and_received_rport() {
    let cfg = proxy_cfg();
    let m = invite("", 70);
    // the UAC's packet came from port 40000 at another address than its sent-by
    let flow = Flow {
        remote: "198.51.100.7:40000".parse().unwrap(),
        ..udp_from(0)
    };
    let out = prepare_forward(&m, &flow, &cfg)
        .unwrap()
        .finish_message(Transport::Tcp)
        .unwrap();
    let rr = out.record_route().unwrap();
    assert_eq!(rr[0].uri.to_string(), "sip:192.0.2.10:5060;lr");
    let vias = out.via().unwrap();
    assert_eq!(vias[0].transport.as_str(), "TCP");
    assert_eq!(vias[1].received(), Some("198.51.100.7".parse().unwrap()));
    assert_eq!(vias[1].rport(), Some(Some(40000)));
    // responses go back by that Via: received + rport
    assert_eq!(
        via_destination(&vias[1]),
        Some((Transport::Udp, "198.51.100.7:40000".parse().unwrap()))
    );
}

#[test]
fn loose_and_strict_routing() {
    let cfg = proxy_cfg();
    // top Route is us (lr): popped; next hop is the next loose route
    let m = invite(
        "Route: <sip:192.0.2.10;lr>, <sip:next.example.net;lr>\n",
        70,
    );
    let p = prepare_forward(&m, &udp_from(5070), &cfg).unwrap();
    assert_eq!(p.next_hop.to_string(), "sip:next.example.net;lr");
    let out = p.finish_message(Transport::Udp).unwrap();
    let routes = out.route().unwrap();
    assert_eq!(routes.len(), 1);
    assert_eq!(
        out.request_uri_raw().unwrap().as_str(),
        "sip:bob@192.0.2.20"
    );

    // next hop is a strict router: it becomes the Request-URI, the old one goes last (§16.6 6)
    let m = invite(
        "Route: <sip:strict.example.net>, <sip:far.example.net;lr>\n",
        70,
    );
    let p = prepare_forward(&m, &udp_from(5070), &cfg).unwrap();
    assert_eq!(p.next_hop.to_string(), "sip:strict.example.net");
    let out = p.finish_message(Transport::Udp).unwrap();
    assert_eq!(
        out.request_uri_raw().unwrap().as_str(),
        "sip:strict.example.net"
    );
    let routes: Vec<String> = out
        .route()
        .unwrap()
        .iter()
        .map(|r| r.uri.to_string())
        .collect();
    assert_eq!(routes, vec!["sip:far.example.net;lr", "sip:bob@192.0.2.20"]);

    // a strict router upstream put our URI in the Request-URI: restore it from the last Route
    let m = msg("BYE sip:192.0.2.10:5060;lr SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bKb\nMax-Forwards: 70\nFrom: <sip:a@x>;tag=1\nTo: <sip:b@x>;tag=2\nCall-ID: c\nCSeq: 2 BYE\nRoute: <sip:bob@192.0.2.20>\nContent-Length: 0\n\n");
    let p = prepare_forward(&m, &udp_from(5070), &cfg).unwrap();
    assert_eq!(p.next_hop.to_string(), "sip:bob@192.0.2.20");
    let out = p.finish_message(Transport::Udp).unwrap();
    assert_eq!(
        out.request_uri_raw().unwrap().as_str(),
        "sip:bob@192.0.2.20"
    );
    assert!(!out.has("Route"));
}

#[test]
fn responses_are_routed_by_via() {
    let cfg = proxy_cfg();
    let m = invite("", 70);
    let fwd = prepare_forward(&m, &udp_from(5070), &cfg)
        .unwrap()
        .finish_message(Transport::Udp)
        .unwrap();
    let resp = sip::MessageBuilder::response_to(&fwd, 180, "Ringing", Some("b1"))
        .build()
        .unwrap();
    let (out, next) = strip_own_via(&resp, &cfg).unwrap().unwrap();
    assert_eq!(out.via().unwrap().len(), 1);
    assert_eq!(next.branch(), Some("z9hG4bKuac1"));
    assert_eq!(
        via_destination(&next),
        Some((Transport::Udp, "192.0.2.1:5070".parse().unwrap()))
    );
    // a response whose top Via is not ours is not for us to route
    assert!(strip_own_via(&out, &cfg).unwrap().is_none());
}

#[test]
fn service_route_preloads_the_route_set() {
    let sr = msg("SIP/2.0 200 OK\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\nFrom: <sip:a@x>;tag=1\nTo: <sip:a@x>;tag=2\nCall-ID: c\nCSeq: 1 REGISTER\nService-Route: <sip:orig@scscf.example.net;lr>\nContent-Length: 0\n\n")
        .service_route()
        .unwrap();
    let pcscf = sip::Uri::parse("sip:pcscf.example.net:5060;lr").unwrap();
    assert_eq!(
        preloaded_route(Some(&pcscf), &sr),
        vec![
            "<sip:pcscf.example.net:5060;lr>".to_string(),
            "<sip:orig@scscf.example.net;lr>".to_string()
        ]
    );
}

// ------------------------------------------------------------ stateful proxy, simulated clock

fn drain_tx(p: &mut StatefulProxy) -> Vec<(Option<TxKey>, Flow, Message)> {
    std::iter::from_fn(|| p.poll_transmit())
        .map(|(k, f, b)| (k, f, Message::parse(b).unwrap()))
        .collect()
}

fn uas() -> Flow {
    Flow::to(Transport::Udp, "192.0.2.20:5060".parse().unwrap())
}

fn route_one(p: &mut StatefulProxy, now: Instant) -> ProxyRequest {
    let req = p.poll_request().expect("a request to route");
    let prepared = p.prepare(&req).unwrap();
    p.forward(&req, prepared, uas(), now).unwrap();
    req
}

#[test]
fn stateful_invite_relay_absorbs_retransmissions_and_relays_responses() {
    let t0 = Instant::now();
    let mut p = StatefulProxy::new(proxy_cfg(), LayerConfig::default());
    let inv = invite("", 70);
    p.on_message(inv.clone(), udp_from(5070), t0);
    // 100 Trying upstream at once
    let out = drain_tx(&mut p);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].2.status(), Some(100));
    assert_eq!(
        out[0].1.remote,
        "192.0.2.1:5070".parse::<SocketAddr>().unwrap()
    );
    route_one(&mut p, t0);
    let out = drain_tx(&mut p);
    assert_eq!(out.len(), 1);
    let fwd = out[0].2.clone();
    assert_eq!(out[0].1, uas());
    assert_eq!(fwd.method(), Some(Method::Invite));
    assert_eq!(fwd.via().unwrap().len(), 2);
    // UAC retransmits: absorbed, 100 resent, no new request to route
    p.on_message(inv.clone(), udp_from(5070), t0 + Duration::from_millis(500));
    assert!(p.poll_request().is_none());
    let out = drain_tx(&mut p);
    // the 100 again, plus our own Timer A retransmission is not due before 500 ms exactly
    assert!(out
        .iter()
        .any(|(_, f, m)| m.status() == Some(100) && f.remote.port() == 5070));
    // downstream 100 is hop-by-hop (not relayed); 180 and 200 are relayed with our Via removed
    for code in [100u16, 180, 200] {
        let r = sip::MessageBuilder::response_to(&fwd, code, "X", Some("uas"))
            .build()
            .unwrap();
        p.on_message(r, uas(), t0 + Duration::from_millis(600));
        let out = drain_tx(&mut p);
        if code == 100 {
            assert!(out.is_empty());
            continue;
        }
        assert_eq!(out.len(), 1, "{code}");
        let (_, f, m) = &out[0];
        assert_eq!(m.status(), Some(code));
        assert_eq!(m.via().unwrap().len(), 1);
        assert_eq!(f.remote, "192.0.2.1:5070".parse::<SocketAddr>().unwrap());
    }
    // a 2xx retransmission: relayed through the Accepted transactions (RFC 6026)
    let r = sip::MessageBuilder::response_to(&fwd, 200, "OK", Some("uas"))
        .build()
        .unwrap();
    p.on_message(r, uas(), t0 + Duration::from_secs(1));
    let out = drain_tx(&mut p);
    assert_eq!(out.len(), 1);
    assert_eq!(
        out[0].1.remote,
        "192.0.2.1:5070".parse::<SocketAddr>().unwrap()
    );
    // the ACK for the 2xx goes to the application for stateless forwarding
    let ack = msg("ACK sip:bob@192.0.2.20 SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bKack;rport\nMax-Forwards: 70\nFrom: <sip:alice@example.net>;tag=a1\nTo: <sip:bob@example.net>;tag=uas\nCall-ID: inv1\nCSeq: 1 ACK\nContent-Length: 0\n\n");
    p.on_message(ack, udp_from(5070), t0 + Duration::from_secs(1));
    let req = p.poll_request().unwrap();
    assert!(req.key.is_none());
    let prepared = p.prepare(&req).unwrap();
    p.forward(&req, prepared, uas(), t0).unwrap();
    let out = drain_tx(&mut p);
    assert_eq!(out[0].2.method(), Some(Method::Ack));
    assert_eq!(out[0].2.via().unwrap().len(), 2);
}

#[test]
fn stateful_timeout_becomes_408_and_transport_error_503() {
    let t0 = Instant::now();
    let mut p = StatefulProxy::new(proxy_cfg(), LayerConfig::default());
    let opts = msg("OPTIONS sip:bob@192.0.2.20 SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bKo1\nMax-Forwards: 70\nFrom: <sip:a@x>;tag=1\nTo: <sip:bob@x>\nCall-ID: o1\nCSeq: 1 OPTIONS\nContent-Length: 0\n\n");
    p.on_message(opts.clone(), udp_from(5070), t0);
    route_one(&mut p, t0);
    drain_tx(&mut p);
    // nobody answers: Timer E retransmissions downstream, then F → 408 upstream
    let mut upstream = Vec::new();
    let mut downstream = 0;
    while let Some(at) = p.next_timeout() {
        p.on_timeout(at);
        for (_, f, m) in drain_tx(&mut p) {
            if f == uas() {
                downstream += 1;
            } else {
                upstream.push((at - t0, m.status()));
            }
        }
        if !upstream.is_empty() {
            break;
        }
    }
    assert_eq!(downstream, 10);
    assert_eq!(upstream, vec![(Duration::from_secs(32), Some(408))]);

    let opts2 = msg("OPTIONS sip:bob@192.0.2.20 SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bKo2\nMax-Forwards: 70\nFrom: <sip:a@x>;tag=1\nTo: <sip:bob@x>\nCall-ID: o2\nCSeq: 1 OPTIONS\nContent-Length: 0\n\n");
    p.on_message(opts2, udp_from(5070), t0);
    route_one(&mut p, t0);
    let out: Vec<_> = std::iter::from_fn(|| p.poll_transmit()).collect();
    let key = out[0].0.clone().unwrap();
    p.on_transport_error(&key, t0);
    let out = drain_tx(&mut p);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].2.status(), Some(503));
}

#[test]
fn stateful_cancel_is_answered_and_propagated() {
    let t0 = Instant::now();
    let mut p = StatefulProxy::new(proxy_cfg(), LayerConfig::default());
    p.on_message(invite("", 70), udp_from(5070), t0);
    route_one(&mut p, t0);
    let fwd = drain_tx(&mut p).pop().unwrap().2;
    let ringing = sip::MessageBuilder::response_to(&fwd, 180, "Ringing", Some("u"))
        .build()
        .unwrap();
    p.on_message(ringing, uas(), t0);
    drain_tx(&mut p);
    let cancel = msg("CANCEL sip:bob@192.0.2.20 SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bKuac1;rport\nMax-Forwards: 70\nFrom: <sip:alice@example.net>;tag=a1\nTo: <sip:bob@example.net>\nCall-ID: inv1\nCSeq: 1 CANCEL\nContent-Length: 0\n\n");
    p.on_message(cancel, udp_from(5070), t0);
    assert!(p.poll_request().is_none(), "CANCEL is handled by the proxy");
    let out = drain_tx(&mut p);
    let ok = out
        .iter()
        .find(|(_, _, m)| m.status() == Some(200))
        .unwrap();
    assert_eq!(ok.2.cseq().unwrap().method, Method::Cancel);
    let down = out.iter().find(|(_, f, _)| *f == uas()).unwrap();
    assert_eq!(down.2.method(), Some(Method::Cancel));
    // same branch as the INVITE we sent (§9.1)
    assert_eq!(
        down.2.top_via().unwrap().branch(),
        fwd.top_via().unwrap().branch()
    );
    // an unknown CANCEL gets 481
    let stray = msg("CANCEL sip:bob@192.0.2.20 SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bKnone\nMax-Forwards: 70\nFrom: <sip:a@x>;tag=1\nTo: <sip:b@x>\nCall-ID: zz\nCSeq: 1 CANCEL\nContent-Length: 0\n\n");
    p.on_message(stray, udp_from(5070), t0);
    assert_eq!(drain_tx(&mut p)[0].2.status(), Some(481));
}

#[test]
fn stateful_rejects_malformed_with_reason_phrase() {
    let t0 = Instant::now();
    let mut p = StatefulProxy::new(proxy_cfg(), LayerConfig::default());
    let bad = msg("MESSAGE sip:x@example.net SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bKbad\nMax-Forwards: 70\nFrom: <sip:a@x>;tag=1\nTo: <sip:x@example.net>\nCall-ID: bad\nCSeq: 1 INVITE\nContent-Length: 0\n\n");
    p.on_message(bad, udp_from(5070), t0);
    assert!(p.poll_request().is_none());
    let out = drain_tx(&mut p);
    assert_eq!(out[0].2.status(), Some(400));
    assert_eq!(out[0].2.reason().unwrap().as_str(), "CSeq Method Mismatch");
}

#[test]
fn response_flow_follows_18_2_2_and_rfc3581() {
    let no_rport = msg("OPTIONS sip:b@x SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bKr\nMax-Forwards: 70\nFrom: <sip:a@x>;tag=1\nTo: <sip:b@x>\nCall-ID: r\nCSeq: 1 OPTIONS\nContent-Length: 0\n\n");
    let from = Flow {
        remote: "198.51.100.9:40001".parse().unwrap(),
        ..udp_from(0)
    };
    // no rport: source IP (the `received` address), sent-by port
    let f = sip_stack::response_flow(&no_rport, &from).unwrap();
    assert_eq!(f.remote, "198.51.100.9:5070".parse::<SocketAddr>().unwrap());
    assert_eq!(f.local, from.local);
    // rport: source IP and port
    let f = sip_stack::response_flow(&invite("", 70), &from).unwrap();
    assert_eq!(
        f.remote,
        "198.51.100.9:40001".parse::<SocketAddr>().unwrap()
    );
    // TCP: the very same flow (connection)
    let f = sip_stack::response_flow(&no_rport, &ue_flow()).unwrap();
    assert_eq!(f, ue_flow());
}

#[test]
fn popping_our_route_keeps_the_other_route_lines_byte_exact() {
    let cfg = proxy_cfg();
    let m = invite(
        "Route: <sip:192.0.2.10:5060;lr>,<sip:next.example.net;lr;x=1>\nRoute:   <sip:third.example.net;lr>  ;p=\"q\"\n",
        70,
    );
    let out = prepare_forward(&m, &udp_from(5070), &cfg)
        .unwrap()
        .finish_message(Transport::Udp)
        .unwrap();
    let wire = String::from_utf8(out.wire().to_vec()).unwrap();
    // the first line loses only our element; the second line is untouched
    assert!(
        wire.contains("\r\nRoute: <sip:next.example.net;lr;x=1>\r\n"),
        "{wire}"
    );
    assert!(
        wire.contains("\r\nRoute:   <sip:third.example.net;lr>  ;p=\"q\"\r\n"),
        "{wire}"
    );
    assert!(!wire.contains("\r\nRoute: <sip:192.0.2.10"), "{wire}");
    assert_eq!(out.route().unwrap().len(), 2);
}

#[test]
fn forwarded_via_is_the_typed_via_written_out() {
    let m = Message::parse(REGISTER).unwrap();
    for (cfg, transport) in [
        (pcscf(), Transport::Udp),
        (proxy_cfg(), Transport::Tcp),
        (ProxyConfig::new("pcscf.example.net", 5070), Transport::Tls),
    ] {
        let p = prepare_forward(&m, &ue_flow(), &cfg).unwrap();
        let branch = p.branch.clone();
        let out = p.finish_message(transport).unwrap();
        let host = match cfg.host.parse::<std::net::IpAddr>() {
            Ok(ip) => sip::Host::from(ip),
            Err(_) => sip::Host::Domain(cfg.host.as_str().into()),
        };
        let mut via = sip::Via::new(transport.as_str(), host, Some(cfg.port), branch.as_str());
        via.params.set(sip::Param::flag("rport"));
        let top = out.headers_id(sip::HeaderName::Via).next().unwrap();
        assert_eq!(top.value_str().unwrap(), via.to_string());
        assert_eq!(out.top_via().unwrap(), via);
    }
}

#[test]
fn config_changes_are_seen_at_once() {
    // two configurations used alternately on one thread, and one changed in place: every
    // answer is the one for the configuration passed
    let mut a = pcscf();
    let mut b = proxy_cfg();
    b.supported.push("sec-agree".into());
    for _ in 0..2 {
        assert_eq!(
            path_value(&a, Transport::Udp),
            "<sip:[2001:0:0:1::2]:5060;lr>"
        );
        assert_eq!(
            path_value(&b, Transport::Tcp),
            "<sip:192.0.2.10:5060;transport=tcp;lr>"
        );
        assert!(a.is_local(&"sip:[2001:0:0:1::2]".parse().unwrap()));
        assert!(!b.is_local(&"sip:[2001:0:0:1::2]".parse().unwrap()));
        assert!(b.is_local(&"sip:192.0.2.10;lr".parse().unwrap()));
    }
    a.port = 5062;
    assert_eq!(
        path_value(&a, Transport::Udp),
        "<sip:[2001:0:0:1::2]:5062;lr>"
    );
    assert!(!a.is_local(&"sip:[2001:0:0:1::2]".parse().unwrap()));
    a.host = "pcscf.example.net".into();
    assert_eq!(
        path_value(&a, Transport::Tls),
        "<sip:pcscf.example.net:5062;transport=tls;lr>"
    );
    assert!(a.is_local(&"sip:PCSCF.example.net:5062".parse().unwrap()));
    // a request forwarded by `a` and sent back to it is a loop for `a` only
    let m = Message::parse(REGISTER).unwrap();
    let out = prepare_forward(&m, &ue_flow(), &a)
        .unwrap()
        .finish_message(Transport::Udp)
        .unwrap();
    let back = {
        let mut ed = sip::Editor::new(&out);
        ed.replace(sip::HeaderName::MaxForwards, 70).unwrap();
        ed.finish().unwrap()
    };
    assert_eq!(check_request(&back, &a).unwrap_err().status, 482);
    assert_eq!(check_request(&back, &b), Ok(()));
}
