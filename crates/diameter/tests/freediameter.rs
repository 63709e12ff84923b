//! Interoperability with freeDiameter (Debian `freediameterd`, installed by scripts/test; these tests
//! fail if it is missing): our client completes CER/CEA and DWR/DWA with it, our server accepts its
//! connection, and a Cx-shaped MAR/MAA crosses a freeDiameter relay that routes by realm.
//!
//! freeDiameter 1.2 insists on TLS credentials even with TLS unused, so each test makes a throw-away
//! self-signed certificate with `openssl`.

mod common;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;
use diameter::{
    command, result_code as rc, Dictionary, Node, PeerConfig, PeerState, Route, Timers, VENDOR_3GPP,
};

const T: Duration = Duration::from_secs(20);

fn free_port() -> u16 {
    testkit::scratch::free_tcp_port()
}

/// A freeDiameterd process in a temp dir, killed on drop.
struct FreeDiameter {
    child: Child,
    dir: PathBuf,
    port: u16,
}

impl FreeDiameter {
    /// Start with `identity`/`realm` on a free port; `extra` is appended to the config.
    fn start(identity: &str, realm: &str, extra: &str) -> FreeDiameter {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("diameter-fd-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        let ok = Command::new("openssl")
            .args([
                "req", "-new", "-batch", "-x509", "-days", "2", "-nodes", "-newkey", "rsa:2048",
            ])
            .arg("-out")
            .arg(&cert)
            .arg("-keyout")
            .arg(&key)
            .args(["-subj", &format!("/CN={identity}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("openssl is needed to make freeDiameter's certificate");
        assert!(ok.success());
        let conf = format!(
            "Identity = \"{identity}\";\nRealm = \"{realm}\";\nPort = {port};\nSecPort = 0;\n\
             ListenOn = \"127.0.0.1\";\nNo_SCTP;\nNo_IPv6;\nTcTimer = 1;\nTwTimer = 6;\n\
             TLS_Cred = \"{}\", \"{}\";\nTLS_CA = \"{}\";\n{extra}\n",
            cert.display(),
            key.display(),
            cert.display()
        );
        let conf_path = dir.join("fd.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let log = std::fs::File::create(dir.join("fd.log")).unwrap();
        let child = Command::new("freeDiameterd")
            .arg("-c")
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("freeDiameterd must be installed (scripts/test installs freediameterd)");
        FreeDiameter { child, dir, port }
    }

    fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("fd.log")).unwrap_or_default()
    }
}

impl Drop for FreeDiameter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::env::var_os("KEEP_FD").is_none() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn fast_timers() -> Timers {
    Timers {
        watchdog: Duration::from_secs(1),
        watchdog_jitter: Duration::ZERO,
        reconnect_min: Duration::from_millis(200),
        reconnect_max: Duration::from_secs(1),
        ..Timers::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_client_cer_cea_and_watchdog_with_freediameter() {
    // freeDiameter rejects CERs from unconfigured hosts (DIAMETER_UNKNOWN_PEER) unless an ACL
    // extension is loaded, so it knows us; its own attempts go to a closed port.
    let fd = FreeDiameter::start(
        "fd.example",
        "example",
        &format!(
            "ConnectPeer = \"client.example\" {{ ConnectTo = \"127.0.0.1\"; Port = {}; No_TLS; }};",
            free_port()
        ),
    );
    let peers = vec![PeerConfig {
        host: "fd.example".into(),
        addr: Some(fd.addr()),
        connect: true,
    }];
    let mut cfg = node_cfg("client.example", "example", false, peers);
    cfg.engine.timers = fast_timers();
    let c = Node::start(cfg, echo_handler).await.unwrap();
    let open = c.wait_open("fd.example", T).await;
    assert!(
        open.is_ok(),
        "no CER/CEA with freeDiameter: {open:?}\n{}",
        fd.log()
    );
    let info = c.peer_info("fd.example").unwrap();
    let caps = info.capabilities.expect("CEA capabilities");
    assert_eq!(caps.origin_host, "fd.example");
    assert_eq!(caps.origin_realm, "example");
    assert!(caps.product_name.contains("freeDiameter"), "{caps:?}");
    assert!(
        caps.applications.contains(&command::APP_RELAY),
        "freeDiameter advertises the relay app: {caps:?}"
    );
    // Our DWRs (Tw = 1 s) are answered. (Our traffic keeps freeDiameter's own watchdog quiet:
    // RFC 3539 resets Tw on any received message; the server test covers its DWRs.)
    tokio::time::timeout(T, async {
        loop {
            let s = c.peer_info("fd.example").unwrap().stats;
            if s.dwa_received >= 3 {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .unwrap_or_else(|_| {
        panic!(
            "watchdog exchange incomplete: {:?}\n{}",
            c.peer_info("fd.example"),
            fd.log()
        )
    });
    let info = c.peer_info("fd.example").unwrap();
    assert_eq!(info.state, PeerState::IOpen);
    assert!(info.usable);
    assert_eq!(info.stats.opened, 1, "never dropped");
    // DPR/DPA with freeDiameter.
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn freediameter_connects_to_our_server() {
    let mut cfg = node_cfg("server.example", "example", true, vec![]);
    // Our Tw (30 s) is longer than freeDiameter's (6 s), so it is freeDiameter that probes.
    cfg.engine.timers = Timers {
        watchdog: Duration::from_secs(30),
        ..fast_timers()
    };
    let s = Node::start(cfg, echo_handler).await.unwrap();
    let port = s.local_addr().unwrap().port();
    let fd = FreeDiameter::start(
        "fd.example",
        "example",
        &format!("ConnectPeer = \"server.example\" {{ ConnectTo = \"127.0.0.1\"; Port = {port}; No_TLS; }};"),
    );
    let open = s.wait_open("fd.example", T).await;
    assert!(
        open.is_ok(),
        "freeDiameter did not complete CER/CEA with us: {open:?}\n{}",
        fd.log()
    );
    assert_eq!(s.peer_state("fd.example"), Some(PeerState::ROpen));
    // freeDiameter probes with DWR every Tw = 6 s; it sends a second DWR only if our DWA to the
    // first arrived (RFC 3539: an unanswered DWR moves it to SUSPECT instead).
    tokio::time::timeout(Duration::from_secs(25), async {
        while s.peer_info("fd.example").unwrap().stats.dwr_received < 2 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .unwrap_or_else(|_| {
        panic!(
            "freeDiameter's watchdog: {:?}\n{}",
            s.peer_info("fd.example"),
            fd.log()
        )
    });
    let info = s.peer_info("fd.example").unwrap();
    assert_eq!(info.state, PeerState::ROpen);
    assert_eq!(info.stats.opened, 1, "never dropped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mar_maa_through_freediameter_relay() {
    // Our HSS-like server (realm hss.example) and S-CSCF-like client (realm scscf.example) both listen;
    // freeDiameter (realm relay.example) connects to both and routes by Destination-Realm.
    let mut scfg = node_cfg("hss.hss.example", "hss.example", true, vec![]);
    scfg.engine.timers = fast_timers();
    scfg.engine.dictionary = Dictionary::base().with(CX_TEST_AVPS);
    let server = Node::start(scfg, echo_handler).await.unwrap();
    let mut ccfg = node_cfg("scscf.scscf.example", "scscf.example", true, vec![]);
    ccfg.engine.timers = fast_timers();
    ccfg.engine.routes = vec![Route {
        realm: "hss.example".into(),
        peers: vec!["relay.relay.example".into()],
    }];
    let client = Node::start(ccfg, echo_handler).await.unwrap();
    let fd = FreeDiameter::start(
        "relay.relay.example",
        "relay.example",
        &format!(
            "ConnectPeer = \"hss.hss.example\" {{ ConnectTo = \"127.0.0.1\"; Port = {}; No_TLS; }};\n\
             ConnectPeer = \"scscf.scscf.example\" {{ ConnectTo = \"127.0.0.1\"; Port = {}; No_TLS; }};",
            server.local_addr().unwrap().port(),
            client.local_addr().unwrap().port()
        ),
    );
    for n in [&server, &client] {
        let open = n.wait_open("relay.relay.example", T).await;
        assert!(
            open.is_ok(),
            "relay did not connect: {open:?}\n{}",
            fd.log()
        );
    }
    // Our side sees the relay's connection as open when it has sent its CEA; the relay marks the
    // peer usable only once it has processed that CEA. Until then it rightly answers 3002
    // (DIAMETER_UNABLE_TO_DELIVER) itself, so retry that one answer, within a bound.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let maa = loop {
        let mar = raw_mar("scscf.scscf.example", "scscf.example", "hss.example");
        let maa = client.request(mar).await;
        let maa = maa.unwrap_or_else(|e| panic!("no MAA through the relay: {e}\n{}", fd.log()));
        let from_relay_unable = maa.result_code() == Some(rc::UNABLE_TO_DELIVER)
            && maa.origin_host() == Some("relay.relay.example");
        if !from_relay_unable || tokio::time::Instant::now() > deadline {
            break maa;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(maa.result_code(), Some(rc::SUCCESS), "{maa:?}");
    assert_eq!(
        maa.origin_host(),
        Some("hss.hss.example"),
        "answered by our server, relayed back"
    );
    assert_eq!(maa.command_code(), 303);
    assert_eq!(maa.session_id(), Some("scscf.scscf.example;1;42"));
    assert_eq!(
        maa.find(601, VENDOR_3GPP).unwrap().as_utf8().unwrap(),
        "sip:alice@ims.example"
    );
}
