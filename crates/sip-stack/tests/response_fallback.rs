//! RFC 3261 §18.2.2: when the TCP/TLS connection a request came on is gone, the response goes
//! on a new connection to the request's source IP and top-Via sent-by port.

use bytes::Bytes;
use sip::Message;
use sip_stack::driver::{run_proxy, Router};
use sip_stack::proxy::{Prepared, ProxyConfig, ProxyRequest, Rejection, StatefulProxy};
use sip_stack::{
    connection_fallback, Endpoint, EndpointConfig, Flow, LayerConfig, TransactionLayer, Transport,
    TxEvent,
};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn request(transport: &str, sent_by: &str, branch: &str) -> Bytes {
    Bytes::from(format!(
        "OPTIONS sip:b@example.net SIP/2.0\r\n\
Via: SIP/2.0/{transport} {sent_by};branch={branch};rport\r\n\
Max-Forwards: 70\r\n\
From: <sip:a@example.net>;tag=1\r\n\
To: <sip:b@example.net>\r\n\
Call-ID: {branch}\r\n\
CSeq: 1 OPTIONS\r\n\
Content-Length: 0\r\n\r\n"
    ))
}

fn conn_flow(t: Transport) -> Flow {
    Flow {
        transport: t,
        local: "192.0.2.10:5060".parse().unwrap(),
        remote: "192.0.2.1:40123".parse().unwrap(),
        conn: Some(3),
    }
}

#[test]
fn fallback_address_is_source_ip_and_sent_by_port() {
    let m = Message::parse(request("TCP", "client.example.net:5077", "z9hG4bKf0")).unwrap();
    let f = connection_fallback(&m, &conn_flow(Transport::Tcp)).unwrap();
    assert_eq!(f.remote, "192.0.2.1:5077".parse::<SocketAddr>().unwrap());
    assert_eq!((f.transport, f.conn), (Transport::Tcp, None));
    // no port in sent-by: the transport's default (5061 for TLS)
    let m = Message::parse(request("TLS", "client.example.net", "z9hG4bKf1")).unwrap();
    let f = connection_fallback(&m, &conn_flow(Transport::Tls)).unwrap();
    assert_eq!(f.remote, "192.0.2.1:5061".parse::<SocketAddr>().unwrap());
    // UDP has no connection to lose
    let udp = Flow {
        transport: Transport::Udp,
        conn: None,
        ..conn_flow(Transport::Tcp)
    };
    assert!(connection_fallback(&m, &udp).is_none());
}

#[test]
fn layer_resends_the_response_on_a_new_connection_then_gives_up() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(LayerConfig::default());
    let m = Message::parse(request("TCP", "192.0.2.1:5077", "z9hG4bKf2")).unwrap();
    l.on_message(m.clone(), conn_flow(Transport::Tcp), t0)
        .unwrap();
    let key = std::iter::from_fn(|| l.poll_event())
        .find_map(|e| match e {
            TxEvent::Request { key, .. } => Some(key),
            _ => None,
        })
        .unwrap();
    let resp = sip::MessageBuilder::response_to(&m, 200, "OK", Some("x"))
        .build()
        .unwrap();
    // a reliable non-INVITE server tx ends on its final response: respond while still alive
    // with a provisional first, so the transaction outlives the failure
    let trying = sip::MessageBuilder::response_to(&m, 183, "Progress", Some("x"))
        .build()
        .unwrap();
    l.send_response(&key, &trying, t0).unwrap();
    let first: Vec<_> = std::iter::from_fn(|| l.poll_event()).collect();
    assert!(matches!(&first[..], [TxEvent::Transmit { flow, .. }] if flow.conn == Some(3)));
    // the connection is gone: same bytes, new connection to 192.0.2.1:5077
    l.on_transport_error(&sip_stack::TxKey::Server(key.clone()));
    let ev: Vec<_> = std::iter::from_fn(|| l.poll_event()).collect();
    match &ev[..] {
        [TxEvent::Transmit { flow, data, .. }] => {
            assert_eq!(flow.remote, "192.0.2.1:5077".parse::<SocketAddr>().unwrap());
            assert_eq!(flow.conn, None);
            assert_eq!(Message::parse(data.clone()).unwrap().status(), Some(183));
        }
        other => panic!("{other:?}"),
    }
    // later responses follow the new flow
    l.send_response(&key, &resp, t0).unwrap();
    let ev: Vec<_> = std::iter::from_fn(|| l.poll_event()).collect();
    assert!(ev.iter().any(|e| matches!(e, TxEvent::Transmit { flow, .. }
        if flow.remote.port() == 5077 && flow.conn.is_none())));
    // a failure on the fallback connection is final (503-equivalent to the user)
    let m2 = Message::parse(request("TCP", "192.0.2.1:5077", "z9hG4bKf3")).unwrap();
    l.on_message(m2.clone(), conn_flow(Transport::Tcp), t0)
        .unwrap();
    let key2 = std::iter::from_fn(|| l.poll_event())
        .find_map(|e| match e {
            TxEvent::Request { key, .. } => Some(key),
            _ => None,
        })
        .unwrap();
    let prov = sip::MessageBuilder::response_to(&m2, 180, "X", Some("x"))
        .build()
        .unwrap();
    l.send_response(&key2, &prov, t0).unwrap();
    while l.poll_event().is_some() {}
    let k2 = sip_stack::TxKey::Server(key2);
    l.on_transport_error(&k2);
    while l.poll_event().is_some() {}
    l.on_transport_error(&k2);
    let ev: Vec<_> = std::iter::from_fn(|| l.poll_event()).collect();
    assert!(ev.iter().any(|e| matches!(e, TxEvent::Failed { .. })));
    assert!(ev.iter().any(|e| matches!(e, TxEvent::Terminated { .. })));
}

struct To(SocketAddr);
impl Router for To {
    async fn route(&mut self, _: &ProxyRequest, _: &mut Prepared) -> Result<Flow, Rejection> {
        Ok(Flow::to(Transport::Udp, self.0))
    }
}

/// Through `run_proxy`: the UAC's TCP connection closes before the UAS answers; the proxy
/// opens a new connection to the UAC's Via sent-by port and delivers the 200 there.
#[tokio::test]
async fn proxy_response_reaches_the_via_sent_by_after_the_connection_closed() {
    let (uas, mut uas_rx) = Endpoint::new(EndpointConfig::default());
    let uas_addr = uas
        .add_listener(Transport::Udp, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let (px, px_rx) = Endpoint::new(EndpointConfig::default());
    let p_udp = px
        .add_listener(Transport::Udp, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let p_tcp = px
        .add_listener(Transport::Tcp, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let proxy = StatefulProxy::new(
        ProxyConfig::new("127.0.0.1", p_udp.port()),
        LayerConfig::default(),
    );
    let task = tokio::spawn(run_proxy(px.clone(), px_rx, proxy, To(uas_addr)));

    // the UAC's own listening port, advertised in its Via sent-by
    let uac_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sent_by = uac_listener.local_addr().unwrap();
    let mut c = tokio::net::TcpStream::connect(p_tcp).await.unwrap();
    c.write_all(&request("TCP", &sent_by.to_string(), "z9hG4bKfb1"))
        .await
        .unwrap();
    let got = tokio::time::timeout(Duration::from_secs(5), uas_rx.recv())
        .await
        .unwrap()
        .unwrap();
    // the UAC closes its connection; wait until the proxy has noticed
    drop(c);
    for _ in 0..500 {
        if px.connection_count() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(px.connection_count(), 0);
    let resp = sip::MessageBuilder::response_to(&got.msg, 200, "OK", Some("u"))
        .build()
        .unwrap();
    uas.send(
        &sip_stack::response_flow(&got.msg, &got.flow).unwrap(),
        resp.wire(),
    )
    .await
    .unwrap();
    let (mut s, _) = tokio::time::timeout(Duration::from_secs(10), uac_listener.accept())
        .await
        .expect("the proxy connects to the Via sent-by")
        .unwrap();
    let mut buf = bytes::BytesMut::new();
    let m = loop {
        tokio::time::timeout(Duration::from_secs(5), s.read_buf(&mut buf))
            .await
            .unwrap()
            .unwrap();
        if let Some(sip::StreamItem::Message(m)) =
            sip::decode_stream(&mut buf, &sip::Limits::default()).unwrap()
        {
            break m;
        }
    };
    assert_eq!(m.status(), Some(200));
    assert_eq!(m.top_via().unwrap().branch(), Some("z9hG4bKfb1"));
    assert_eq!(m.via().unwrap().len(), 1);
    task.abort();
}
