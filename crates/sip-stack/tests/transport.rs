//! Loopback integration tests of the tokio transports: UDP, TCP, TLS over IPv4 and IPv6.

use bytes::Bytes;
use sip::Message;
use sip_stack::{response_flow, Endpoint, EndpointConfig, Flow, Inbound, TlsConfig, Transport};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc::Receiver;

fn options(branch: &str, transport: &str, body_pad: usize) -> Bytes {
    let body = "x".repeat(body_pad);
    Bytes::from(format!(
        "OPTIONS sip:b@example.net SIP/2.0\r\n\
Via: SIP/2.0/{transport} 127.0.0.1:5999;branch={branch};rport\r\n\
Max-Forwards: 70\r\n\
From: <sip:a@example.net>;tag=1\r\n\
To: <sip:b@example.net>\r\n\
Call-ID: {branch}\r\n\
CSeq: 1 OPTIONS\r\n\
Content-Length: {}\r\n\r\n{body}",
        body.len()
    ))
}

async fn recv(rx: &mut Receiver<Inbound>) -> Inbound {
    tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("timed out waiting for a message")
        .expect("endpoint closed")
}

fn tls_cfg() -> EndpointConfig {
    EndpointConfig {
        tls: Some(TlsConfig::self_signed(&["127.0.0.1", "::1", "localhost"]).unwrap()),
        ..EndpointConfig::default()
    }
}

/// A sends an OPTIONS to B, B answers on the flow §18.2.2 gives, A receives the answer.
async fn round_trip(transport: Transport, ip: &str) {
    // both sides share one self-signed certificate (each trusts it)
    let cfg = tls_cfg();
    let (a, mut arx) = Endpoint::new(cfg.clone());
    let (b, mut brx) = Endpoint::new(cfg);
    let any: SocketAddr = format!("{ip}:0").parse().unwrap();
    let a_addr = a.add_listener(transport, any).await.unwrap();
    let b_addr = b.add_listener(transport, any).await.unwrap();
    let sent = a
        .send(
            &Flow::to(transport, b_addr).from_local(a_addr),
            options("z9hG4bKrt1", transport.as_str(), 0),
        )
        .await
        .unwrap();
    let got = recv(&mut brx).await;
    assert_eq!(got.flow.transport, transport);
    assert_eq!(got.flow.local, b_addr);
    assert_eq!(got.msg.call_id().unwrap().as_str(), "z9hG4bKrt1");
    if transport == Transport::Udp {
        assert_eq!(
            got.flow.remote, a_addr,
            "UDP leaves from the listening socket"
        );
        assert_eq!(sent.local, a_addr);
    } else {
        assert!(got.flow.conn.is_some());
        assert_eq!(got.flow.remote, sent.local);
        assert_eq!(a.connection_count(), 1);
        assert_eq!(b.connection_count(), 1);
    }
    let resp = sip::MessageBuilder::response_to(&got.msg, 200, "OK", Some("bt"))
        .build()
        .unwrap();
    let reply = response_flow(&got.msg, &got.flow).unwrap();
    b.send(&reply, resp.wire()).await.unwrap();
    let back = recv(&mut arx).await;
    assert_eq!(back.msg.status(), Some(200));
    assert_eq!(back.msg.to().unwrap().tag(), Some("bt"));
    if transport.is_reliable() {
        // same connection both ways, and a second request reuses it
        assert_eq!(back.flow.conn, sent.conn);
        let again = a
            .send(
                &Flow::to(transport, b_addr),
                options("z9hG4bKrt2", transport.as_str(), 0),
            )
            .await
            .unwrap();
        assert_eq!(again.conn, sent.conn);
        let got2 = recv(&mut brx).await;
        assert_eq!(got2.flow.conn, got.flow.conn);
        assert_eq!(a.connection_count(), 1);
    } else {
        assert_eq!(back.flow.remote, b_addr);
    }
}

#[tokio::test]
async fn udp_ipv4_round_trip() {
    round_trip(Transport::Udp, "127.0.0.1").await;
}

#[tokio::test]
async fn udp_ipv6_round_trip() {
    round_trip(Transport::Udp, "[::1]").await;
}

#[tokio::test]
async fn tcp_ipv4_round_trip() {
    round_trip(Transport::Tcp, "127.0.0.1").await;
}

#[tokio::test]
async fn tcp_ipv6_round_trip() {
    round_trip(Transport::Tcp, "[::1]").await;
}

#[tokio::test]
async fn tls_ipv4_round_trip() {
    round_trip(Transport::Tls, "127.0.0.1").await;
}

#[tokio::test]
async fn tls_ipv6_round_trip() {
    round_trip(Transport::Tls, "[::1]").await;
}

#[tokio::test]
async fn tls_rejects_an_untrusted_server() {
    let (a, _arx) = Endpoint::new(tls_cfg());
    let (b, _brx) = Endpoint::new(tls_cfg()); // another self-signed certificate
    let b_addr = b
        .add_listener(Transport::Tls, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let err = a
        .send(
            &Flow::to(Transport::Tls, b_addr),
            options("z9hG4bKx", "TLS", 0),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, sip_stack::Error::Tls(_)), "{err}");
    assert_eq!(err.status(), 503);
}

#[tokio::test]
async fn tls_config_loads_pem_files() {
    let (cert, key) = sip_stack::generate_self_signed(&["127.0.0.1"]).unwrap();
    let dir = std::env::temp_dir().join(format!("sipstack-pem-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("c.pem"), &cert).unwrap();
    std::fs::write(dir.join("k.pem"), &key).unwrap();
    TlsConfig::from_pem_files(&dir.join("c.pem"), &dir.join("k.pem"), None).unwrap();
    // a key file that is not a key fails with a named error
    let e = TlsConfig::from_pem_files(&dir.join("c.pem"), &dir.join("c.pem"), None).unwrap_err();
    assert!(matches!(e, sip_stack::Error::Tls(_)));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn udp_port_has_several_reuseport_sockets_and_all_deliver() {
    let (b, mut brx) = Endpoint::new(EndpointConfig {
        udp_sockets_per_port: 4,
        ..EndpointConfig::default()
    });
    let b_addr = b
        .add_listener(Transport::Udp, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    assert_eq!(b.listeners(), vec![(Transport::Udp, b_addr)]);
    // 40 clients from 40 source ports: the kernel hashes them over the 4 sockets.
    for i in 0..40 {
        let s = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        s.send_to(&options(&format!("z9hG4bKm{i}"), "UDP", 0), b_addr)
            .await
            .unwrap();
    }
    let mut ids = std::collections::HashSet::new();
    for _ in 0..40 {
        ids.insert(recv(&mut brx).await.msg.call_id().unwrap().to_string());
    }
    assert_eq!(ids.len(), 40);
}

#[tokio::test]
async fn listeners_are_added_and_removed_at_run_time() {
    let (b, mut brx) = Endpoint::new(EndpointConfig::default());
    let tcp = b
        .add_listener(Transport::Tcp, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let mut c = tokio::net::TcpStream::connect(tcp).await.unwrap();
    c.write_all(&options("z9hG4bKdyn", "TCP", 0)).await.unwrap();
    assert_eq!(recv(&mut brx).await.flow.local, tcp);
    assert!(b.remove_listener(Transport::Tcp, tcp));
    assert!(!b.remove_listener(Transport::Tcp, tcp));
    let mut refused = false;
    for _ in 0..50 {
        if tokio::net::TcpStream::connect(tcp).await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(refused, "listener still accepting after removal");
    // the connection accepted before removal still works
    c.write_all(&options("z9hG4bKdyn2", "TCP", 0))
        .await
        .unwrap();
    assert_eq!(
        recv(&mut brx).await.msg.call_id().unwrap().as_str(),
        "z9hG4bKdyn2"
    );
}

#[tokio::test]
async fn crlf_ping_is_answered_with_pong() {
    let (b, _brx) = Endpoint::new(EndpointConfig::default());
    let addr = b
        .add_listener(Transport::Tcp, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
    c.write_all(b"\r\n\r\n").await.unwrap();
    let mut buf = [0u8; 2];
    tokio::time::timeout(Duration::from_secs(5), c.read_exact(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&buf, b"\r\n");
}

async fn expect_closed(c: &mut tokio::net::TcpStream) {
    let mut buf = [0u8; 64];
    loop {
        match tokio::time::timeout(Duration::from_secs(5), c.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return,
            Ok(Ok(_)) => continue,
            Err(_) => panic!("connection not closed"),
        }
    }
}

#[tokio::test]
async fn garbage_flood_closes_only_that_connection() {
    let (b, mut brx) = Endpoint::new(EndpointConfig::default());
    let addr = b
        .add_listener(Transport::Tcp, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let mut good = tokio::net::TcpStream::connect(addr).await.unwrap();
    // several attackers writing garbage as fast as they can
    let mut floods = Vec::new();
    for _ in 0..4 {
        floods.push(tokio::spawn(async move {
            let mut bad = tokio::net::TcpStream::connect(addr).await.unwrap();
            let junk = vec![0xffu8; 16 * 1024];
            let mut sent = 0usize;
            while bad.write_all(&junk).await.is_ok() {
                sent += junk.len();
                if sent > 64 << 20 {
                    break;
                }
            }
            sent
        }));
    }
    for i in 0..50 {
        good.write_all(&options(&format!("z9hG4bKg{i}"), "TCP", 0))
            .await
            .unwrap();
        let m = recv(&mut brx).await;
        assert_eq!(m.msg.call_id().unwrap().to_string(), format!("z9hG4bKg{i}"));
    }
    for f in floods {
        // each flood ended because its connection was closed, long before 64 MiB
        let sent = tokio::time::timeout(Duration::from_secs(10), f)
            .await
            .unwrap()
            .unwrap();
        assert!(
            sent < 64 << 20,
            "garbage connection not closed ({sent} bytes)"
        );
    }
}

#[tokio::test]
async fn connection_buffer_cap_and_connection_cap() {
    let (b, mut brx) = Endpoint::new(EndpointConfig {
        max_connections: 1,
        max_connection_buffer: 4096,
        ..EndpointConfig::default()
    });
    let addr = b
        .add_listener(Transport::Tcp, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let mut first = tokio::net::TcpStream::connect(addr).await.unwrap();
    first
        .write_all(&options("z9hG4bKc1", "TCP", 0))
        .await
        .unwrap();
    recv(&mut brx).await;
    assert_eq!(b.connection_count(), 1);
    // a second connection is over the cap: closed at once
    let mut second = tokio::net::TcpStream::connect(addr).await.unwrap();
    let _ = second.write_all(&options("z9hG4bKc2", "TCP", 0)).await;
    expect_closed(&mut second).await;
    // a header section that never ends grows past the 4 KiB buffer cap: closed
    let _ = first.write_all(b"OPTIONS sip:x SIP/2.0\r\n").await;
    for _ in 0..100 {
        if first.write_all(&[b'X'; 100]).await.is_err() {
            break;
        }
        let _ = first.write_all(b": y\r\n").await;
    }
    expect_closed(&mut first).await;
    for _ in 0..100 {
        if b.connection_count() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(b.connection_count(), 0);
}

#[tokio::test]
async fn idle_connections_are_closed() {
    let (b, _brx) = Endpoint::new(EndpointConfig {
        idle_timeout: Duration::from_millis(200),
        ..EndpointConfig::default()
    });
    let addr = b
        .add_listener(Transport::Tcp, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
    expect_closed(&mut c).await;
}

#[tokio::test]
async fn stream_messages_split_across_writes_are_reassembled() {
    let (b, mut brx) = Endpoint::new(EndpointConfig::default());
    let addr = b
        .add_listener(Transport::Tcp, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut both = options("z9hG4bKs1", "TCP", 10).to_vec();
    both.extend_from_slice(&options("z9hG4bKs2", "TCP", 3));
    for chunk in both.chunks(7) {
        c.write_all(chunk).await.unwrap();
        c.flush().await.unwrap();
    }
    let m1 = recv(&mut brx).await;
    let m2 = recv(&mut brx).await;
    assert_eq!(m1.msg.body().as_ref(), b"xxxxxxxxxx");
    assert_eq!(m2.msg.call_id().unwrap().as_str(), "z9hG4bKs2");
    let _ = Message::parse(m2.msg.wire()).unwrap();
}

/// A stateful proxy driven by `run_proxy`: request in over TCP, out over UDP to a UAS; the
/// response comes back over the same TCP connection (RFC 3261 §18.2.2).
#[tokio::test]
async fn stateful_proxy_tcp_in_udp_out_response_on_same_connection() {
    use sip_stack::driver::{run_proxy, Router};
    use sip_stack::proxy::{Prepared, ProxyConfig, ProxyRequest, Rejection, StatefulProxy};

    struct To(SocketAddr);
    impl Router for To {
        async fn route(&mut self, _: &ProxyRequest, _: &mut Prepared) -> Result<Flow, Rejection> {
            Ok(Flow::to(Transport::Udp, self.0))
        }
    }
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
        sip_stack::LayerConfig::default(),
    );
    let task = tokio::spawn(run_proxy(px.clone(), px_rx, proxy, To(uas_addr)));

    let mut c = tokio::net::TcpStream::connect(p_tcp).await.unwrap();
    c.write_all(&options("z9hG4bKtcp1", "TCP", 0))
        .await
        .unwrap();
    let got = recv(&mut uas_rx).await;
    assert_eq!(got.flow.transport, Transport::Udp);
    assert_eq!(
        got.flow.remote, p_udp,
        "forwarded from the proxy's UDP socket"
    );
    let vias = got.msg.via().unwrap();
    assert_eq!(vias.len(), 2);
    assert_eq!(vias[0].transport.as_str(), "UDP");
    assert_eq!(vias[1].received(), Some("127.0.0.1".parse().unwrap()));
    let resp = sip::MessageBuilder::response_to(&got.msg, 200, "OK", Some("u"))
        .build()
        .unwrap();
    uas.send(&response_flow(&got.msg, &got.flow).unwrap(), resp.wire())
        .await
        .unwrap();
    // the 200 arrives on our TCP connection, with the proxy's Via removed
    let mut buf = bytes::BytesMut::new();
    let m = loop {
        tokio::time::timeout(Duration::from_secs(5), c.read_buf(&mut buf))
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
    assert_eq!(m.via().unwrap().len(), 1);
    assert_eq!(m.top_via().unwrap().branch(), Some("z9hG4bKtcp1"));
    // garbage on a UDP socket does not stop the proxy: a bad request gets a 400 with a reason
    let s = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    s.send_to(b"\x00\x01garbage", p_udp).await.unwrap();
    let bad = options("z9hG4bKbad", "UDP", 0);
    let bad = String::from_utf8(bad.to_vec())
        .unwrap()
        .replace("CSeq: 1 OPTIONS", "CSeq: 1 INVITE");
    s.send_to(bad.as_bytes(), p_udp).await.unwrap();
    let mut b = vec![0u8; 4096];
    let (n, _) = tokio::time::timeout(Duration::from_secs(5), s.recv_from(&mut b))
        .await
        .unwrap()
        .unwrap();
    let r = Message::parse(bytes::Bytes::copy_from_slice(&b[..n])).unwrap();
    assert_eq!(r.status(), Some(400));
    assert_eq!(r.reason().unwrap().as_str(), "CSeq Method Mismatch");
    task.abort();
}

#[tokio::test]
async fn send_on_connection_never_opens_another() {
    let (a, _arx) = Endpoint::new(EndpointConfig::default());
    let (b, mut brx) = Endpoint::new(EndpointConfig::default());
    let b_addr = b
        .add_listener(Transport::Tcp, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let used = a
        .send(
            &Flow::to(Transport::Tcp, b_addr),
            options("z9hG4bKsoc1", "TCP", 0),
        )
        .await
        .unwrap();
    let id = used.conn.unwrap();
    assert_eq!(a.connection_flow(id), Some(used));
    let got = recv(&mut brx).await;
    // the server answers on exactly the connection the request came on
    let f = b
        .send_on_connection(got.flow.conn.unwrap(), options("z9hG4bKsoc2", "TCP", 0))
        .unwrap();
    assert_eq!(f, got.flow);
    a.close_connection(id);
    assert_eq!(a.connection_count(), 0);
    let e = a
        .send_on_connection(id, options("z9hG4bKsoc3", "TCP", 0))
        .unwrap_err();
    assert!(matches!(e, sip_stack::Error::ConnectionClosed(x) if x == id));
    assert_eq!(a.connection_count(), 0);
}
