//! SIPp (Debian package sip-tester) on both sides of our stateful proxy over UDP on 127.0.0.1:
//! a UAC scenario through the proxy to a UAS scenario. SIPp exits 0 only if every call
//! completed with every expected message, so a message the proxy failed to relay, or relayed
//! wrongly, fails the test. This test fails (does not skip) when `sipp` is not installed.

use sip_stack::driver::{run_proxy, Router};
use sip_stack::proxy::{Prepared, ProxyConfig, ProxyRequest, Rejection, StatefulProxy};
use sip_stack::{Endpoint, EndpointConfig, Flow, Inbound, LayerConfig, Transport};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Routes every request to the UAS and counts what it routed per method.
struct ToUas {
    uas: SocketAddr,
    routed: Arc<Mutex<HashMap<String, usize>>>,
}

impl Router for ToUas {
    async fn route(&mut self, req: &ProxyRequest, _p: &mut Prepared) -> Result<Flow, Rejection> {
        let m = req
            .msg
            .method()
            .map(|m| m.as_str().to_string())
            .unwrap_or_default();
        *self.routed.lock().unwrap().entry(m).or_default() += 1;
        Ok(Flow::to(Transport::Udp, self.uas))
    }
}

fn free_udp_port() -> u16 {
    let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    s.local_addr().unwrap().port()
}

struct Run {
    uac_ok: bool,
    uas_ok: bool,
    routed: HashMap<String, usize>,
    received: HashMap<String, usize>,
    uac_out: String,
}

async fn run(calls: usize, uas_scenario: &[&str]) -> Run {
    let (ep, mut rx) = Endpoint::new(EndpointConfig::default());
    let paddr = ep
        .add_listener(Transport::Udp, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let uas_port = free_udp_port();
    let uas_addr: SocketAddr = format!("127.0.0.1:{uas_port}").parse().unwrap();
    // count what reaches the proxy (requests per method) before the proxy sees it
    let received = Arc::new(Mutex::new(HashMap::<String, usize>::new()));
    let (tx, prx) = tokio::sync::mpsc::channel::<Inbound>(1024);
    let rc = received.clone();
    tokio::spawn(async move {
        while let Some(m) = rx.recv().await {
            if let Some(method) = m.msg.method() {
                *rc.lock()
                    .unwrap()
                    .entry(method.as_str().to_string())
                    .or_default() += 1;
            }
            if tx.send(m).await.is_err() {
                break;
            }
        }
    });
    let routed = Arc::new(Mutex::new(HashMap::new()));
    let proxy = StatefulProxy::new(
        ProxyConfig::new("127.0.0.1", paddr.port()),
        LayerConfig::default(),
    );
    let router = ToUas {
        uas: uas_addr,
        routed: routed.clone(),
    };
    let task = tokio::spawn(run_proxy(ep, prx, proxy, router));

    let n = calls.to_string();
    let uas_port_s = uas_port.to_string();
    let mut uas_args = vec!["-i", "127.0.0.1", "-p", &uas_port_s, "-m", &n, "-nostdin"];
    uas_args.extend_from_slice(&["-timeout", "60s", "-timeout_error"]);
    uas_args.extend_from_slice(uas_scenario);
    let uas = Command::new("sipp")
        .args(&uas_args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sipp must be installed (scripts/test installs the sip-tester package)");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let target = format!("127.0.0.1:{}", paddr.port());
    let uac_port = free_udp_port().to_string();
    let uac = Command::new("sipp")
        .args([
            "-sn",
            "uac",
            &target,
            "-i",
            "127.0.0.1",
            "-p",
            &uac_port,
            "-m",
            &n,
            "-r",
            "20",
            "-nostdin",
            "-timeout",
            "60s",
            "-timeout_error",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sipp must be installed");
    let (uac_out, uas_out) = tokio::task::spawn_blocking(move || {
        (
            uac.wait_with_output().unwrap(),
            uas.wait_with_output().unwrap(),
        )
    })
    .await
    .unwrap();
    task.abort();
    let routed = routed.lock().unwrap().clone();
    let received = received.lock().unwrap().clone();
    Run {
        uac_ok: uac_out.status.success(),
        uas_ok: uas_out.status.success(),
        routed,
        received,
        uac_out: format!(
            "{}\n{}\nUAS: {}",
            String::from_utf8_lossy(&uac_out.stdout),
            String::from_utf8_lossy(&uac_out.stderr),
            String::from_utf8_lossy(&uas_out.stderr)
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sipp_uac_through_proxy_to_sipp_uas() {
    let r = run(30, &["-sn", "uas"]).await;
    assert!(
        r.uac_ok && r.uas_ok,
        "SIPp reported failed calls:\n{}",
        r.uac_out
    );
    // one routing decision per request: INVITE, ACK (for the 2xx, stateless), BYE
    assert_eq!(r.routed.get("INVITE"), Some(&30), "{:?}", r.routed);
    assert_eq!(r.routed.get("ACK"), Some(&30), "{:?}", r.routed);
    assert_eq!(r.routed.get("BYE"), Some(&30), "{:?}", r.routed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sipp_retransmissions_are_absorbed() {
    let scenario = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sipp/uas_slow_bye.xml");
    let r = run(5, &["-sf", scenario]).await;
    assert!(
        r.uac_ok && r.uas_ok,
        "SIPp reported failed calls:\n{}",
        r.uac_out
    );
    let bye_in = r.received.get("BYE").copied().unwrap_or(0);
    // the UAS answers BYE after 1.2 s: the UAC retransmitted each BYE (at 0.5 s and 1.5 s)...
    assert!(
        bye_in >= 10,
        "expected BYE retransmissions, proxy received {bye_in}"
    );
    // ...and the proxy's server transactions absorbed them: 5 BYEs routed, not more
    assert_eq!(r.routed.get("BYE"), Some(&5), "{:?}", r.routed);
    assert_eq!(r.routed.get("INVITE"), Some(&5), "{:?}", r.routed);
}
