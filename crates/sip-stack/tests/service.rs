//! `spawn_service` on loopback sockets: forwarding and relaying (UDP and TCP), responses edited by
//! the service, serial fail-over after a 503 and after a timeout (RFC 3261 §16.7 step 6,
//! TS 24.229 §5.3.1.3), local answers and rejections, originated requests (RFC 3261 §8.1),
//! concurrency of decisions, overload 503 with Retry-After, and retransmissions absorbed while a
//! decision is pending (§17.2).

use bytes::Bytes;
use sip::{Editor, Message, MessageBuilder};
use sip_stack::proxy::{ProxyConfig, ProxyRequest, Rejection, StatefulProxy};
use sip_stack::{
    spawn_service, Endpoint, EndpointConfig, Failure, Flow, LayerConfig, ProxyResponse,
    RequestAction, ResponseAction, Service, ServiceConfig, ServiceContext, TimerConfig, Transport,
};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{Barrier, Semaphore};

const WAIT: Duration = Duration::from_secs(10);

/// The test application: the Request-URI user selects the behaviour.
struct TestService {
    /// Next hops in fail-over order.
    hops: Vec<SocketAddr>,
    transport: Transport,
    /// on_request calls per user.
    calls: AtomicUsize,
    barrier: Barrier,
    gate: Semaphore,
}

impl TestService {
    fn new(hops: Vec<SocketAddr>, transport: Transport, barrier: usize) -> Arc<Self> {
        Arc::new(TestService {
            hops,
            transport,
            calls: AtomicUsize::new(0),
            barrier: Barrier::new(barrier),
            gate: Semaphore::new(0),
        })
    }
}

fn user(req: &ProxyRequest) -> String {
    let uri = req.msg.request_uri_raw().unwrap().to_string();
    uri.trim_start_matches("sip:")
        .split('@')
        .next()
        .unwrap()
        .to_string()
}

fn forward(
    ctx: &ServiceContext,
    req: &ProxyRequest,
    to: SocketAddr,
    t: Transport,
    cookie: u64,
) -> RequestAction {
    match ctx.prepare(req) {
        Ok(mut prepared) => {
            prepared.editor.append("X-Hop", cookie).unwrap();
            RequestAction::Forward {
                prepared,
                flow: Flow::to(t, to),
                cookie,
            }
        }
        Err(r) => RequestAction::Reject(r),
    }
}

impl Service for TestService {
    async fn on_request(&self, req: ProxyRequest, ctx: ServiceContext) -> RequestAction {
        self.calls.fetch_add(1, Ordering::SeqCst);
        match user(&req).as_str() {
            "local" => RequestAction::Respond(
                MessageBuilder::response_to(&req.msg, 200, "OK", Some("loc"))
                    .header("X-Local", "yes")
                    .build()
                    .unwrap(),
            ),
            "reject" => RequestAction::Reject(Rejection::new(404, "Nobody Here")),
            "barrier" => {
                self.barrier.wait().await;
                RequestAction::Respond(
                    MessageBuilder::response_to(&req.msg, 200, "OK", Some("b"))
                        .build()
                        .unwrap(),
                )
            }
            "hold" => {
                self.gate.acquire().await.unwrap().forget();
                RequestAction::Reject(Rejection::new(480, "Held"))
            }
            "slow" => {
                tokio::time::sleep(Duration::from_millis(600)).await;
                forward(&ctx, &req, self.hops[0], self.transport, 0)
            }
            _ => forward(&ctx, &req, self.hops[0], self.transport, 0),
        }
    }

    async fn on_response(&self, resp: ProxyResponse, ctx: ServiceContext) -> ResponseAction {
        let status = resp.response.status().unwrap();
        let next = resp.cookie as usize + 1;
        if matches!(status, 408 | 503) && next < self.hops.len() {
            // serial fail-over to the next hop
            let mut prepared = ctx.prepare(&resp.request).unwrap();
            prepared.editor.append("X-Hop", next).unwrap();
            return ResponseAction::Forward {
                prepared,
                flow: Flow::to(self.transport, self.hops[next]),
                cookie: next as u64,
            };
        }
        let mut ed = Editor::new(&resp.response);
        ed.append(
            "X-Seen",
            format_args!("{status};local={};hop={}", resp.local, resp.cookie),
        )
        .unwrap();
        ResponseAction::Relay(ed.finish().unwrap())
    }
}

struct Proxy {
    ctx: ServiceContext,
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

async fn start(service: Arc<TestService>, layer: LayerConfig, cfg: ServiceConfig) -> Proxy {
    let (ep, rx) = Endpoint::new(EndpointConfig::default());
    let addr = ep
        .add_listener(Transport::Udp, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    ep.add_listener(Transport::Tcp, addr).await.unwrap();
    let proxy = StatefulProxy::new(ProxyConfig::new("127.0.0.1", addr.port()), layer);
    let (ctx, task) = spawn_service(ep, rx, proxy, service, cfg);
    Proxy { ctx, addr, task }
}

fn short_timers() -> LayerConfig {
    LayerConfig {
        timers: TimerConfig {
            t1: Duration::from_millis(10),
            t2: Duration::from_millis(40),
            t4: Duration::from_millis(50),
            ..TimerConfig::default()
        },
        ..LayerConfig::default()
    }
}

fn request(method: &str, user: &str, id: &str, transport: &str, port: u16) -> Bytes {
    Bytes::from(format!(
        "{method} sip:{user}@example.net SIP/2.0\r\n\
Via: SIP/2.0/{transport} 127.0.0.1:{port};branch=z9hG4bK{id};rport\r\n\
Max-Forwards: 70\r\n\
From: <sip:a@example.net>;tag=1\r\n\
To: <sip:{user}@example.net>\r\n\
Call-ID: {id}\r\n\
CSeq: 1 {method}\r\n\
Content-Length: 0\r\n\r\n"
    ))
}

async fn recv(s: &UdpSocket) -> (Message, SocketAddr) {
    let mut b = vec![0u8; 65536];
    let (n, from) = tokio::time::timeout(WAIT, s.recv_from(&mut b))
        .await
        .expect("timed out")
        .unwrap();
    (
        Message::parse(Bytes::copy_from_slice(&b[..n])).unwrap(),
        from,
    )
}

/// A UDP UAS answering every request with `status`; returns its address.
async fn uas(status: u16) -> (SocketAddr, tokio::task::JoinHandle<Vec<Message>>) {
    let s = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = s.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let mut seen = Vec::new();
        let mut b = vec![0u8; 65536];
        while let Ok(Ok((n, from))) =
            tokio::time::timeout(Duration::from_secs(3), s.recv_from(&mut b)).await
        {
            let req = Message::parse(Bytes::copy_from_slice(&b[..n])).unwrap();
            if status > 0 && req.method() != Some(sip::Method::Ack) {
                let resp = MessageBuilder::response_to(&req, status, "Answer", Some("uas"))
                    .build()
                    .unwrap();
                s.send_to(&resp.wire(), from).await.unwrap();
            }
            seen.push(req);
        }
        seen
    });
    (addr, task)
}

async fn uac() -> (UdpSocket, u16) {
    let s = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let port = s.local_addr().unwrap().port();
    (s, port)
}

fn header(m: &Message, name: &str) -> Option<String> {
    m.header_value(name).map(|v| v.to_string())
}

#[tokio::test]
async fn udp_forward_relay_and_edited_response() {
    let (to, uas_task) = uas(200).await;
    let svc = TestService::new(vec![to], Transport::Udp, 1);
    let p = start(
        svc.clone(),
        LayerConfig::default(),
        ServiceConfig::default(),
    )
    .await;
    let (c, port) = uac().await;
    c.send_to(&request("OPTIONS", "bob", "fwd1", "UDP", port), p.addr)
        .await
        .unwrap();
    let (r, _) = recv(&c).await;
    assert_eq!(r.status(), Some(200));
    assert_eq!(r.call_id().unwrap().as_str(), "fwd1");
    // edited by on_response, after our Via was removed (only the UAC's remains)
    assert_eq!(
        header(&r, "X-Seen").as_deref(),
        Some("200;local=false;hop=0")
    );
    assert_eq!(r.headers_named("Via").count(), 1);
    let seen = uas_task.await.unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(header(&seen[0], "X-Hop").as_deref(), Some("0"));
    assert_eq!(seen[0].headers_named("Via").count(), 2);
    assert_eq!(p.ctx.in_flight(), 0);
    p.task.abort();
}

async fn read_tcp(s: &mut TcpStream) -> Message {
    let mut buf = Vec::new();
    let mut b = [0u8; 4096];
    loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            // our test messages have no body
            let m = Message::parse(Bytes::copy_from_slice(&buf[..i + 4])).unwrap();
            buf.drain(..i + 4);
            return m;
        }
        let n = tokio::time::timeout(WAIT, s.read(&mut b))
            .await
            .expect("timed out")
            .unwrap();
        assert!(n > 0, "connection closed");
        buf.extend_from_slice(&b[..n]);
    }
}

#[tokio::test]
async fn tcp_forward_relay_and_edited_response() {
    let uas_l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let to = uas_l.local_addr().unwrap();
    let uas_task = tokio::spawn(async move {
        let (mut s, _) = uas_l.accept().await.unwrap();
        let req = read_tcp(&mut s).await;
        let resp = MessageBuilder::response_to(&req, 202, "Accepted", Some("t"))
            .build()
            .unwrap();
        s.write_all(&resp.wire()).await.unwrap();
        // keep the connection until the test ends
        tokio::time::sleep(Duration::from_secs(2)).await;
        req
    });
    let svc = TestService::new(vec![to], Transport::Tcp, 1);
    let p = start(svc, LayerConfig::default(), ServiceConfig::default()).await;
    let mut c = TcpStream::connect(p.addr).await.unwrap();
    let port = c.local_addr().unwrap().port();
    c.write_all(&request("MESSAGE", "bob", "tcp1", "TCP", port))
        .await
        .unwrap();
    let r = read_tcp(&mut c).await;
    assert_eq!(r.status(), Some(202));
    assert_eq!(
        header(&r, "X-Seen").as_deref(),
        Some("202;local=false;hop=0")
    );
    let seen = uas_task.await.unwrap();
    assert!(seen
        .top_via()
        .unwrap()
        .transport
        .eq_ignore_ascii_case("TCP"));
    assert_eq!(header(&seen, "X-Hop").as_deref(), Some("0"));
    p.task.abort();
}

#[tokio::test]
async fn fail_over_after_503() {
    let (first, t1) = uas(503).await;
    let (second, t2) = uas(200).await;
    let svc = TestService::new(vec![first, second], Transport::Udp, 1);
    let p = start(svc, LayerConfig::default(), ServiceConfig::default()).await;
    let (c, port) = uac().await;
    c.send_to(&request("OPTIONS", "bob", "fo503", "UDP", port), p.addr)
        .await
        .unwrap();
    let (r, _) = recv(&c).await;
    // the 503 was not relayed: the second UAS's 200 was
    assert_eq!(r.status(), Some(200));
    assert_eq!(
        header(&r, "X-Seen").as_deref(),
        Some("200;local=false;hop=1")
    );
    let (a, b) = (t1.await.unwrap(), t2.await.unwrap());
    assert_eq!((a.len(), b.len()), (1, 1));
    assert_eq!(header(&b[0], "X-Hop").as_deref(), Some("1"));
    let branch = |m: &Message| m.top_via().unwrap().branch().unwrap().to_string();
    assert_ne!(
        branch(&a[0]),
        branch(&b[0]),
        "each branch has its own branch id"
    );
    let mut buf = [0u8; 2048];
    assert!(
        c.try_recv_from(&mut buf).is_err(),
        "one final response only"
    );
    assert_eq!(p.ctx.in_flight(), 0);
    p.task.abort();
}

#[tokio::test]
async fn fail_over_after_timeout() {
    let (silent, t1) = uas(0).await;
    let (second, t2) = uas(200).await;
    let svc = TestService::new(vec![silent, second], Transport::Udp, 1);
    let p = start(svc, short_timers(), ServiceConfig::default()).await;
    let (c, port) = uac().await;
    c.send_to(&request("OPTIONS", "bob", "foto", "UDP", port), p.addr)
        .await
        .unwrap();
    let (r, _) = recv(&c).await;
    assert_eq!(r.status(), Some(200));
    assert_eq!(
        header(&r, "X-Seen").as_deref(),
        Some("200;local=false;hop=1")
    );
    // the silent one got the request and its retransmissions (Timer E) before Timer F
    assert!(t1.await.unwrap().len() > 1);
    assert_eq!(t2.await.unwrap().len(), 1);
    p.task.abort();
}

#[tokio::test]
async fn timeout_without_alternative_is_a_local_408() {
    let (silent, _t) = uas(0).await;
    let svc = TestService::new(vec![silent], Transport::Udp, 1);
    let p = start(svc, short_timers(), ServiceConfig::default()).await;
    let (c, port) = uac().await;
    c.send_to(&request("OPTIONS", "bob", "to408", "UDP", port), p.addr)
        .await
        .unwrap();
    let (r, _) = recv(&c).await;
    assert_eq!(r.status(), Some(408));
    assert_eq!(
        header(&r, "X-Seen").as_deref(),
        Some("408;local=true;hop=0")
    );
    p.task.abort();
}

#[tokio::test]
async fn local_respond_and_reject() {
    let svc = TestService::new(vec!["127.0.0.1:9".parse().unwrap()], Transport::Udp, 1);
    let p = start(svc, LayerConfig::default(), ServiceConfig::default()).await;
    let (c, port) = uac().await;
    c.send_to(&request("REGISTER", "local", "loc1", "UDP", port), p.addr)
        .await
        .unwrap();
    let (r, _) = recv(&c).await;
    assert_eq!(r.status(), Some(200));
    assert_eq!(header(&r, "X-Local").as_deref(), Some("yes"));
    c.send_to(&request("MESSAGE", "reject", "rej1", "UDP", port), p.addr)
        .await
        .unwrap();
    let (r, _) = recv(&c).await;
    assert_eq!(r.status(), Some(404));
    assert_eq!(
        r.reason().map(|s| s.to_string()).as_deref(),
        Some("Nobody Here")
    );
    assert_eq!(p.ctx.in_flight(), 0);
    p.task.abort();
}

fn notify_to(to: SocketAddr) -> Message {
    Message::parse(Bytes::from(format!(
        "NOTIFY sip:ue@{to} SIP/2.0\r\n\
Max-Forwards: 70\r\n\
From: <sip:scscf@example.net>;tag=n1\r\n\
To: <sip:ue@example.net>;tag=u1\r\n\
Call-ID: notify-{}\r\n\
CSeq: 1 NOTIFY\r\n\
Event: reg\r\n\
Subscription-State: active;expires=600\r\n\
Content-Length: 0\r\n\r\n",
        to.port()
    )))
    .unwrap()
}

#[tokio::test]
async fn originated_request_answered_and_timed_out() {
    let (ue, ue_task) = uas(200).await;
    let (silent, _t) = uas(0).await;
    let svc = TestService::new(vec![ue], Transport::Udp, 1);
    let p = start(svc, short_timers(), ServiceConfig::default()).await;
    let ok = tokio::time::timeout(
        WAIT,
        p.ctx
            .send_request(notify_to(ue), Flow::to(Transport::Udp, ue)),
    )
    .await
    .unwrap()
    .expect("answered");
    assert_eq!(ok.status(), Some(200));
    assert_eq!(
        ok.call_id().unwrap().to_string(),
        format!("notify-{}", ue.port())
    );
    let seen = ue_task.await.unwrap();
    assert_eq!(seen.len(), 1);
    let via = seen[0].top_via().unwrap();
    assert_eq!(via.port, Some(p.addr.port()), "our Via was added");
    let lost = tokio::time::timeout(
        WAIT,
        p.ctx
            .send_request(notify_to(silent), Flow::to(Transport::Udp, silent)),
    )
    .await
    .unwrap();
    assert_eq!(lost.unwrap_err(), Failure::Timeout);
    p.task.abort();
}

#[tokio::test]
async fn decisions_run_concurrently() {
    const N: usize = 8;
    // the barrier opens only when N on_request calls wait at once
    let svc = TestService::new(vec!["127.0.0.1:9".parse().unwrap()], Transport::Udp, N);
    let p = start(svc, LayerConfig::default(), ServiceConfig::default()).await;
    let (c, port) = uac().await;
    for i in 0..N {
        c.send_to(
            &request("MESSAGE", "barrier", &format!("bar{i}"), "UDP", port),
            p.addr,
        )
        .await
        .unwrap();
    }
    let mut ids = Vec::new();
    for _ in 0..N {
        let (r, _) = recv(&c).await;
        assert_eq!(r.status(), Some(200));
        ids.push(r.call_id().unwrap().to_string());
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), N);
    p.task.abort();
}

#[tokio::test]
async fn overload_is_answered_503_with_retry_after() {
    let svc = TestService::new(vec!["127.0.0.1:9".parse().unwrap()], Transport::Udp, 1);
    let cfg = ServiceConfig {
        max_in_flight: 2,
        retry_after: 7,
    };
    let p = start(svc.clone(), LayerConfig::default(), cfg).await;
    let (c, port) = uac().await;
    for i in 0..2 {
        c.send_to(
            &request("MESSAGE", "hold", &format!("hold{i}"), "UDP", port),
            p.addr,
        )
        .await
        .unwrap();
    }
    for _ in 0..200 {
        if p.ctx.in_flight() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(p.ctx.in_flight(), 2);
    c.send_to(
        &request("MESSAGE", "hold", "hold-over", "UDP", port),
        p.addr,
    )
    .await
    .unwrap();
    let (r, _) = recv(&c).await;
    assert_eq!(r.status(), Some(503));
    assert_eq!(r.call_id().unwrap().as_str(), "hold-over");
    assert_eq!(header(&r, "Retry-After").as_deref(), Some("7"));
    assert_eq!(
        svc.calls.load(Ordering::SeqCst),
        2,
        "the service never saw it"
    );
    svc.gate.add_permits(2);
    for _ in 0..2 {
        let (r, _) = recv(&c).await;
        assert_eq!(r.status(), Some(480));
    }
    for _ in 0..200 {
        if p.ctx.in_flight() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(p.ctx.in_flight(), 0);
    p.task.abort();
}

#[tokio::test]
async fn retransmissions_during_a_decision_are_absorbed() {
    let (to, uas_task) = uas(200).await;
    let svc = TestService::new(vec![to], Transport::Udp, 1);
    let p = start(
        svc.clone(),
        LayerConfig::default(),
        ServiceConfig::default(),
    )
    .await;
    let (c, port) = uac().await;
    let req = request("OPTIONS", "slow", "rtx1", "UDP", port);
    for _ in 0..4 {
        c.send_to(&req, p.addr).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (r, _) = recv(&c).await;
    assert_eq!(r.status(), Some(200));
    assert_eq!(
        svc.calls.load(Ordering::SeqCst),
        1,
        "the service was called once"
    );
    assert_eq!(uas_task.await.unwrap().len(), 1, "forwarded once");
    p.task.abort();
}

#[tokio::test]
async fn invite_relayed_and_its_ack_forwarded_statelessly() {
    let (to, uas_task) = uas(200).await;
    let svc = TestService::new(vec![to], Transport::Udp, 1);
    let p = start(
        svc.clone(),
        LayerConfig::default(),
        ServiceConfig::default(),
    )
    .await;
    let (c, port) = uac().await;
    c.send_to(&request("INVITE", "bob", "inv1", "UDP", port), p.addr)
        .await
        .unwrap();
    let r = loop {
        let (r, _) = recv(&c).await;
        if r.status() != Some(100) {
            break r;
        }
    };
    assert_eq!(r.status(), Some(200));
    assert_eq!(
        header(&r, "X-Seen").as_deref(),
        Some("200;local=false;hop=0")
    );
    // the ACK for the 2xx: a new transaction-less request, routed by the service (§16.11)
    let ack = String::from_utf8(request("ACK", "bob", "inv1ack", "UDP", port).to_vec())
        .unwrap()
        .replace("Call-ID: inv1ack", "Call-ID: inv1")
        .replace(
            "To: <sip:bob@example.net>",
            "To: <sip:bob@example.net>;tag=uas",
        );
    c.send_to(ack.as_bytes(), p.addr).await.unwrap();
    let seen = uas_task.await.unwrap();
    let methods: Vec<_> = seen.iter().map(|m| m.method().unwrap()).collect();
    assert_eq!(methods, [sip::Method::Invite, sip::Method::Ack]);
    assert_eq!(svc.calls.load(Ordering::SeqCst), 2);
    assert_eq!(p.ctx.in_flight(), 0);
    p.task.abort();
}
