//! Entry points for the fuzz targets (`fuzz/fuzz_targets/`), also run over the seed corpus by
//! `tests/fuzz_corpus.rs`. They must never panic, whatever the input.

use crate::proxy::{check_request, prepare_forward, strip_own_via, ProxyConfig, StatefulProxy};
use crate::{Flow, LayerConfig, Transport};
use bytes::Bytes;
use sip::Message;
use std::time::{Duration, Instant};

/// The whole proxy path on one datagram: parse, §16.3 checks, forwarding edits, serialization,
/// response Via stripping, and a stateful proxy fed the message (forwarding whatever it accepts,
/// then running every timer to the end).
pub fn proxy_path(data: &[u8]) {
    let mut cfg = ProxyConfig::new("192.0.2.10", 5060);
    cfg.supported.push("sec-agree".into());
    let flow = Flow {
        transport: Transport::Udp,
        local: std::net::SocketAddr::from(([192, 0, 2, 10], 5060)),
        remote: std::net::SocketAddr::from(([192, 0, 2, 1], 5070)),
        conn: None,
    };
    let Ok(msg) = Message::parse(Bytes::copy_from_slice(data)) else {
        return;
    };
    if msg.is_request() {
        let _ = check_request(&msg, &cfg);
        if let Ok(p) = prepare_forward(&msg, &flow, &cfg) {
            let _ = p.finish(Transport::Tcp);
        }
    } else {
        let _ = strip_own_via(&msg, &cfg);
    }
    let now = Instant::now();
    let mut proxy = StatefulProxy::new(cfg, LayerConfig::default());
    proxy.on_message(msg, flow, now);
    while let Some(req) = proxy.poll_request() {
        if let Ok(p) = proxy.prepare(&req) {
            let _ = proxy.forward(&req, p, Flow::to(Transport::Udp, flow.remote), now);
        }
    }
    while proxy.poll_transmit().is_some() {}
    let mut t = now;
    for _ in 0..64 {
        match proxy.next_timeout() {
            Some(at) => {
                t = at.max(t);
                proxy.on_timeout(t);
            }
            None => break,
        }
        while proxy.poll_transmit().is_some() {}
    }
    let _ = t + Duration::from_secs(0);
}
