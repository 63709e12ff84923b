//! `run_proxy` never waits for a TCP/TLS connect: a request routed to a TLS peer that never
//! completes its handshake must not delay the forwarding of other traffic, and the stuck send's
//! failure still reaches its transaction (503 upstream, RFC 3261 §16.7 step 5 / §8.1.3.1).

use bytes::Bytes;
use sip::Message;
use sip_stack::driver::{run_proxy, Router};
use sip_stack::proxy::{Prepared, ProxyConfig, ProxyRequest, Rejection, StatefulProxy};
use sip_stack::{Endpoint, EndpointConfig, Flow, LayerConfig, TlsConfig, Transport};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::UdpSocket;

fn options(to_user: &str, branch: &str, port: u16) -> Bytes {
    Bytes::from(format!(
        "OPTIONS sip:{to_user}@example.net SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:{port};branch={branch};rport\r\n\
Max-Forwards: 70\r\n\
From: <sip:a@example.net>;tag=1\r\n\
To: <sip:{to_user}@example.net>\r\n\
Call-ID: {branch}\r\n\
CSeq: 1 OPTIONS\r\n\
Content-Length: 0\r\n\r\n"
    ))
}

/// `slow@…` goes over TLS to a peer that accepts TCP but never speaks TLS; the rest over UDP.
struct Split {
    slow: SocketAddr,
    fast: SocketAddr,
}

impl Router for Split {
    async fn route(&mut self, req: &ProxyRequest, _: &mut Prepared) -> Result<Flow, Rejection> {
        let uri = req.msg.request_uri_raw().unwrap().to_string();
        Ok(if uri.contains("slow@") {
            Flow::to(Transport::Tls, self.slow)
        } else {
            Flow::to(Transport::Udp, self.fast)
        })
    }
}

async fn recv(s: &UdpSocket) -> Message {
    let mut b = vec![0u8; 65536];
    let (n, _) = tokio::time::timeout(Duration::from_secs(10), s.recv_from(&mut b))
        .await
        .expect("timed out")
        .unwrap();
    Message::parse(Bytes::copy_from_slice(&b[..n])).unwrap()
}

#[tokio::test]
async fn a_stuck_tls_connect_does_not_delay_other_forwarding() {
    // the silent peer: accepts the TCP connection, then says nothing (handshake never ends)
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let slow = silent.local_addr().unwrap();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            held.push(s);
        }
    });
    let uas = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let uac = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let uac_port = uac.local_addr().unwrap().port();

    let (px, px_rx) = Endpoint::new(EndpointConfig {
        tls: Some(TlsConfig::self_signed(&["127.0.0.1"]).unwrap()),
        connect_timeout: Duration::from_secs(3),
        ..EndpointConfig::default()
    });
    let p_udp = px
        .add_listener(Transport::Udp, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let proxy = StatefulProxy::new(
        ProxyConfig::new("127.0.0.1", p_udp.port()),
        LayerConfig::default(),
    );
    let router = Split {
        slow,
        fast: uas.local_addr().unwrap(),
    };
    let task = tokio::spawn(run_proxy(px.clone(), px_rx, proxy, router));

    // A to the stuck peer first, then B and C to the UAS
    uac.send_to(&options("slow", "z9hG4bKnbA", uac_port), p_udp)
        .await
        .unwrap();
    // give the loop time to start A's connect before B arrives
    tokio::time::sleep(Duration::from_millis(200)).await;
    uac.send_to(&options("fast", "z9hG4bKnbB", uac_port), p_udp)
        .await
        .unwrap();
    uac.send_to(&options("fast2", "z9hG4bKnbC", uac_port), p_udp)
        .await
        .unwrap();
    let b = recv(&uas).await;
    let c = recv(&uas).await;
    let mut got = [
        b.call_id().unwrap().to_string(),
        c.call_id().unwrap().to_string(),
    ];
    got.sort();
    assert_eq!(got, ["z9hG4bKnbB".to_string(), "z9hG4bKnbC".to_string()]);
    // B and C went through while A's connect was still pending: nothing came back for A yet
    // (a blocking loop would have sent A's 503 before even forwarding B)
    let mut b = vec![0u8; 65536];
    assert!(
        uac.try_recv_from(&mut b).is_err(),
        "no response for A before B/C were forwarded"
    );
    // A's connect gives up (connect_timeout): its transaction answers 503 upstream
    let r = recv(&uac).await;
    assert_eq!(r.status(), Some(503));
    assert_eq!(r.call_id().unwrap().as_str(), "z9hG4bKnbA");
    task.abort();
    hold.abort();
}
