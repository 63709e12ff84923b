//! Loopback tests of the tokio driver over real TCP: client ↔ server, garbage peers, bad AVPs,
//! graceful shutdown.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::*;
use diameter::avp_code as c;
use diameter::framing::{DiameterCodec, Frame};
use diameter::{
    command, result_code as rc, AvpSlice, Dictionary, LocalIdentity, Message, Node, PeerConfig,
    PeerState, VENDOR_3GPP,
};
use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::codec::Framed;

const T: Duration = Duration::from_secs(10);

async fn server() -> Node {
    let mut cfg = node_cfg("hss.ims.example", "ims.example", true, vec![]);
    cfg.engine.dictionary = Dictionary::base().with(CX_TEST_AVPS);
    Node::start(cfg, echo_handler).await.unwrap()
}

async fn client(server: &Node, host: &str) -> Node {
    let peers = vec![PeerConfig {
        host: "hss.ims.example".into(),
        addr: server.local_addr(),
        connect: true,
    }];
    let c = Node::start(node_cfg(host, "ims.example", false, peers), echo_handler)
        .await
        .unwrap();
    c.wait_open("hss.ims.example", T).await.unwrap();
    c
}

#[tokio::test]
async fn client_server_request_answer_over_tcp() {
    let s = server().await;
    let c = client(&s, "scscf.ims.example").await;
    s.wait_open("scscf.ims.example", T).await.unwrap();
    for i in 0..20 {
        let a = c
            .request(raw_mar("scscf.ims.example", "ims.example", "ims.example"))
            .await
            .unwrap();
        assert_eq!(a.result_code(), Some(rc::SUCCESS), "request {i}");
        assert_eq!(a.origin_host(), Some("hss.ims.example"));
        assert_eq!(
            a.find(601, VENDOR_3GPP).unwrap().as_utf8().unwrap(),
            "sip:alice@ims.example"
        );
        assert_eq!(a.session_id(), Some("scscf.ims.example;1;42"));
    }
    // Concurrent requests are matched by Hop-by-Hop id.
    let futs =
        (0..50).map(|_| c.request(raw_mar("scscf.ims.example", "ims.example", "ims.example")));
    let all = futures::future::join_all(futs).await;
    assert!(all
        .iter()
        .all(|r| r.as_ref().unwrap().result_code() == Some(rc::SUCCESS)));
    // No route → 3002 without touching the network.
    let e = c
        .request(raw_mar(
            "scscf.ims.example",
            "ims.example",
            "nowhere.example",
        ))
        .await
        .unwrap_err();
    assert_eq!(e.result_code(), rc::UNABLE_TO_DELIVER);
    // Graceful close: DPR/DPA, the server sees the peer closed.
    c.shutdown().await;
    s.wait_state("scscf.ims.example", T, |st| st == Some(PeerState::Closed))
        .await
        .unwrap();
}

#[tokio::test]
async fn garbage_peer_is_disconnected_others_unaffected() {
    let s = server().await;
    let c = client(&s, "scscf.ims.example").await;
    let addr = s.local_addr().unwrap();
    // 1. Not Diameter at all.
    let mut g = TcpStream::connect(addr).await.unwrap();
    g.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(T, g.read(&mut buf))
        .await
        .expect("server closes")
        .unwrap_or(0);
    assert_eq!(n, 0, "connection closed without a reply");
    // 2. A Diameter header with an absurd length.
    let mut g = TcpStream::connect(addr).await.unwrap();
    g.write_all(&[
        1, 0xff, 0xff, 0xfc, 0x80, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ])
    .await
    .unwrap();
    let n = tokio::time::timeout(T, g.read(&mut buf))
        .await
        .expect("server closes")
        .unwrap_or(0);
    assert_eq!(n, 0);
    // 3. A non-CER first message.
    let mut g = TcpStream::connect(addr).await.unwrap();
    g.write_all(&raw_mar("x", "y", "ims.example").to_bytes())
        .await
        .unwrap();
    let n = tokio::time::timeout(T, g.read(&mut buf))
        .await
        .expect("server closes")
        .unwrap_or(0);
    assert_eq!(n, 0);
    // The well-behaved client still works.
    let a = c
        .request(raw_mar("scscf.ims.example", "ims.example", "ims.example"))
        .await
        .unwrap();
    assert_eq!(a.result_code(), Some(rc::SUCCESS));
    assert_eq!(s.peer_state("scscf.ims.example"), Some(PeerState::ROpen));
}

/// A hand-driven peer: CER/CEA by hand, then malformed requests.
#[tokio::test]
async fn malformed_avps_answered_with_failed_avp() {
    let s = server().await;
    let tcp = TcpStream::connect(s.local_addr().unwrap()).await.unwrap();
    let mut f = Framed::new(tcp, DiameterCodec::default());
    let me = LocalIdentity {
        origin_host: "raw.ims.example".into(),
        origin_realm: "ims.example".into(),
        applications: cx_apps(),
        ..LocalIdentity::default()
    };
    let mut cer = me.cer();
    cer.header.hop_by_hop = 1;
    cer.header.end_to_end = 1;
    f.send(&cer).await.unwrap();
    let Some(Ok(Frame::Message(cea))) = tokio::time::timeout(T, f.next()).await.unwrap() else {
        panic!("no CEA")
    };
    assert_eq!(cea.command_code(), command::CAPABILITIES_EXCHANGE);
    assert_eq!(cea.result_code(), Some(rc::SUCCESS));

    // An AVP whose length overruns the message: 5014 with Failed-AVP, connection kept.
    let mut raw = raw_mar("raw.ims.example", "ims.example", "ims.example");
    raw.header.hop_by_hop = 2;
    let mut bytes = raw.to_bytes().to_vec();
    bytes[20 + 5..20 + 8].copy_from_slice(&[0, 0x10, 0]); // Session-Id length 4096
    let tcp = f.get_mut();
    tcp.write_all(&bytes).await.unwrap();
    let Some(Ok(Frame::Message(a))) = tokio::time::timeout(T, f.next()).await.unwrap() else {
        panic!("no answer")
    };
    assert_eq!(a.header.hop_by_hop, 2);
    assert_eq!(a.result_code(), Some(rc::INVALID_AVP_LENGTH));
    assert!(a
        .require(c::FAILED_AVP, 0)
        .unwrap()
        .as_grouped()
        .unwrap()
        .find(c::SESSION_ID, 0)
        .is_some());

    // Unknown mandatory vendor AVP: 5001.
    let mut m = raw_mar("raw.ims.example", "ims.example", "ims.example")
        .with(diameter::Avp::octets(9999, Bytes::from_static(b"?")).vendor(VENDOR_3GPP));
    m.header.hop_by_hop = 3;
    f.send(&m).await.unwrap();
    let Some(Ok(Frame::Message(a))) = tokio::time::timeout(T, f.next()).await.unwrap() else {
        panic!("no answer")
    };
    assert_eq!(
        (a.header.hop_by_hop, a.result_code()),
        (3, Some(rc::AVP_UNSUPPORTED))
    );

    // Unknown application: 3007 with the E bit.
    let mut m = Message::request(300, 16777217)
        .with(diameter::Avp::identity(c::DESTINATION_REALM, "ims.example"));
    m.header.hop_by_hop = 4;
    f.send(&m).await.unwrap();
    let Some(Ok(Frame::Message(a))) = tokio::time::timeout(T, f.next()).await.unwrap() else {
        panic!("no answer")
    };
    assert_eq!(
        (a.header.hop_by_hop, a.result_code(), a.is_error()),
        (4, Some(rc::APPLICATION_UNSUPPORTED), true)
    );

    // DWR is answered.
    let mut dwr = me.dwr();
    dwr.header.hop_by_hop = 5;
    f.send(&dwr).await.unwrap();
    let Some(Ok(Frame::Message(a))) = tokio::time::timeout(T, f.next()).await.unwrap() else {
        panic!("no DWA")
    };
    assert_eq!(
        (a.command_code(), a.header.hop_by_hop, a.result_code()),
        (command::DEVICE_WATCHDOG, 5, Some(rc::SUCCESS))
    );

    // Then a valid request still works on the same connection.
    let mut m = raw_mar("raw.ims.example", "ims.example", "ims.example");
    m.header.hop_by_hop = 6;
    f.send(&m).await.unwrap();
    let Some(Ok(Frame::Message(a))) = tokio::time::timeout(T, f.next()).await.unwrap() else {
        panic!("no answer")
    };
    assert_eq!(
        (a.header.hop_by_hop, a.result_code()),
        (6, Some(rc::SUCCESS))
    );

    // DPR → DPA and the server closes.
    let mut dpr = me.dpr(0);
    dpr.header.hop_by_hop = 7;
    f.send(&dpr).await.unwrap();
    let Some(Ok(Frame::Message(a))) = tokio::time::timeout(T, f.next()).await.unwrap() else {
        panic!("no DPA")
    };
    assert_eq!(
        (a.command_code(), a.result_code()),
        (command::DISCONNECT_PEER, Some(rc::SUCCESS))
    );
    assert!(
        tokio::time::timeout(T, f.next()).await.unwrap().is_none(),
        "server closes after DPA"
    );
}

#[tokio::test]
async fn client_reconnects_after_server_restart() {
    let s = server().await;
    let addr = s.local_addr().unwrap();
    let peers = vec![PeerConfig {
        host: "hss.ims.example".into(),
        addr: Some(addr),
        connect: true,
    }];
    let mut ccfg = node_cfg("scscf.ims.example", "ims.example", false, peers);
    ccfg.engine.timers.watchdog = Duration::from_millis(100);
    ccfg.engine.timers.watchdog_jitter = Duration::ZERO;
    let c = Node::start(ccfg, echo_handler).await.unwrap();
    c.wait_open("hss.ims.example", T).await.unwrap();
    drop(s); // abrupt: no DPR
    c.wait_state("hss.ims.example", T, |st| st != Some(PeerState::IOpen))
        .await
        .unwrap();
    let e = c
        .request(raw_mar("scscf.ims.example", "ims.example", "ims.example"))
        .await
        .unwrap_err();
    assert_eq!(e.result_code(), rc::UNABLE_TO_DELIVER);
    // A new server on the same port: the client reconnects with backoff.
    let mut cfg = node_cfg("hss.ims.example", "ims.example", true, vec![]);
    cfg.listen = Some(addr);
    cfg.engine.dictionary = Dictionary::base().with(CX_TEST_AVPS);
    let s2 = Node::start(cfg, echo_handler).await.unwrap();
    c.wait_open("hss.ims.example", T).await.unwrap();
    // After a failure the peer is used only after three DWAs (RFC 3539 REOPEN; Tw = 100 ms here).
    tokio::time::timeout(T, async {
        while !c.peer_info("hss.ims.example").unwrap().usable {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap();
    assert!(c.peer_info("hss.ims.example").unwrap().stats.dwa_received >= 3);
    let a = c
        .request(raw_mar("scscf.ims.example", "ims.example", "ims.example"))
        .await
        .unwrap();
    assert_eq!(a.result_code(), Some(rc::SUCCESS));
    drop(s2);
}

#[tokio::test]
async fn per_request_timeout() {
    let mut cfg = node_cfg("hss.ims.example", "ims.example", true, vec![]);
    cfg.engine.dictionary = Dictionary::base().with(CX_TEST_AVPS);
    // A server whose handler takes 2 s.
    let s = Node::start(cfg, |req: Message| async move {
        tokio::time::sleep(Duration::from_secs(2)).await;
        echo_handler(req).await
    })
    .await
    .unwrap();
    let c = client(&s, "scscf.ims.example").await;
    let mar = || raw_mar("scscf.ims.example", "ims.example", "ims.example");
    let e = c
        .request_with_timeout(mar(), Duration::from_millis(200))
        .await
        .unwrap_err();
    assert_eq!(e, diameter::Error::Timeout);
    // The late answer to the timed-out request is dropped; a patient request succeeds.
    let a = c
        .request_with_timeout(mar(), Duration::from_secs(8))
        .await
        .unwrap();
    assert_eq!(a.result_code(), Some(rc::SUCCESS));
}

#[tokio::test]
async fn pending_request_fails_over_when_its_server_dies() {
    // Two HSSs in one realm; hss1 (preferred) holds requests for 30 s, then dies.
    let mut cfg1 = node_cfg("hss1.ims.example", "ims.example", true, vec![]);
    cfg1.engine.dictionary = Dictionary::base().with(CX_TEST_AVPS);
    let s1 = Node::start(cfg1, |req: Message| async move {
        tokio::time::sleep(Duration::from_secs(30)).await;
        echo_handler(req).await
    })
    .await
    .unwrap();
    let mut cfg2 = node_cfg("hss2.ims.example", "ims.example", true, vec![]);
    cfg2.engine.dictionary = Dictionary::base().with(CX_TEST_AVPS);
    let seen_t = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = seen_t.clone();
    let s2 = Node::start(cfg2, move |req: Message| {
        flag.store(req.is_retransmit(), std::sync::atomic::Ordering::SeqCst);
        echo_handler(req)
    })
    .await
    .unwrap();
    let peers = vec![
        PeerConfig {
            host: "hss1.ims.example".into(),
            addr: s1.local_addr(),
            connect: true,
        },
        PeerConfig {
            host: "hss2.ims.example".into(),
            addr: s2.local_addr(),
            connect: true,
        },
    ];
    let mut ccfg = node_cfg("scscf.ims.example", "ims.example", false, peers);
    ccfg.engine.routes = vec![diameter::Route {
        realm: "ims.example".into(),
        peers: vec!["hss1.ims.example".into(), "hss2.ims.example".into()],
    }];
    ccfg.engine.request_timeout = Duration::from_secs(20);
    let c = Node::start(ccfg, echo_handler).await.unwrap();
    c.wait_open("hss1.ims.example", T).await.unwrap();
    c.wait_open("hss2.ims.example", T).await.unwrap();
    let req = tokio::spawn({
        let mar = raw_mar("scscf.ims.example", "ims.example", "ims.example");
        async move { (c.request(mar).await, c) }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(s1); // the connection closes: the peer is down, its pending request moves to hss2
    let (ans, _c) = tokio::time::timeout(T, req)
        .await
        .expect("answered in time")
        .unwrap();
    let ans = ans.unwrap();
    assert_eq!(ans.result_code(), Some(rc::SUCCESS));
    assert_eq!(ans.origin_host(), Some("hss2.ims.example"));
    assert!(
        seen_t.load(std::sync::atomic::Ordering::SeqCst),
        "T bit on the failed-over request"
    );
}
