//! `imscore ue register` and `imscore bench` against a real `imscore up` (HSS, I-CSCF, S-CSCF,
//! P-CSCF) started by each test on private loopback ports with its own data directory, and
//! killed when the test ends. Every wait is bounded.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_imscore");
const REALM: &str = "ims.mnc001.mcc001.3gppnetwork.org";
const K: &str = "696d73636f72652d64656d6f2d6b6579";
const OP: &str = "696d73636f72652d64656d6f2d6f702e";

fn scratch(name: &str) -> PathBuf {
    let d =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("ue-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("scratch dir");
    d
}

/// Five consecutive free ports, outside the kernel's ephemeral range.
fn pick_base() -> u16 {
    testkit::scratch::free_ports(5)
}

fn imsi(n: u64) -> String {
    format!("00101{n:010}")
}

/// A running `imscore up`; killed on drop.
struct Core {
    child: Child,
    base: u16,
    log: PathBuf,
}

impl Core {
    /// Starts `imscore up` with the example configuration on ports base..base+4 and
    /// `min_expires = 2` (so a test can re-register within seconds).
    fn start(dir: &Path, demo: u64) -> Core {
        Self::start_opts(dir, demo, false)
    }

    /// [`Core::start`]; with `tls` the P-CSCF also listens for TLS on base+5 (self-signed
    /// certificate generated at start).
    fn start_opts(dir: &Path, demo: u64, tls: bool) -> Core {
        let base = if tls {
            testkit::scratch::free_ports(6)
        } else {
            pick_base()
        };
        let ex = Command::new(BIN)
            .args(["config", "example"])
            .output()
            .expect("imscore config example");
        assert!(ex.status.success());
        let cfg = String::from_utf8(ex.stdout)
            .expect("utf-8")
            .replace(":5060", &format!(":{base}"))
            .replace(":4060", &format!(":{}", base + 1))
            .replace(":6060", &format!(":{}", base + 2))
            .replace(":3868", &format!(":{}", base + 3))
            .replace(":9090", &format!(":{}", base + 4))
            .replace("min_expires = 60", "min_expires = 2");
        assert!(cfg.contains("min_expires = 2"), "config example changed");
        let cfg = if tls {
            let pl = format!(
                "[pcscf.sip]\nlisten = [\"udp:127.0.0.1:{base}\", \"tcp:127.0.0.1:{base}\"]"
            );
            assert!(cfg.contains(&pl), "config example changed");
            cfg.replace(
                &pl,
                &format!(
                    "[pcscf.sip]\nlisten = [\"udp:127.0.0.1:{base}\", \"tcp:127.0.0.1:{base}\", \"tls:127.0.0.1:{}\"]",
                    base + 5
                ),
            )
        } else {
            cfg
        };
        let cfg_path = dir.join("core.toml");
        std::fs::write(&cfg_path, cfg).expect("config");
        let log = dir.join("core.log");
        let child = Command::new(BIN)
            .arg("up")
            .arg("--config")
            .arg(&cfg_path)
            .arg("--data-dir")
            .arg(dir.join("data"))
            .args(["--demo-subscribers", &demo.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::from(std::fs::File::create(&log).expect("log")))
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn imscore up");
        let core = Core { child, base, log };
        let deadline = Instant::now() + Duration::from_secs(60);
        while !std::fs::read_to_string(&core.log)
            .unwrap_or_default()
            .contains("Ctrl-C stops.")
        {
            assert!(Instant::now() < deadline, "imscore up not ready in 60 s");
            std::thread::sleep(Duration::from_millis(100));
        }
        core
    }

    fn pcscf(&self) -> String {
        format!("127.0.0.1:{}", self.base)
    }

    /// `imscore_registered_contacts` from the metrics endpoint.
    fn registered_contacts(&self) -> Option<f64> {
        use std::io::{Read, Write};
        let mut s = TcpStream::connect(("127.0.0.1", self.base + 4)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        write!(s, "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
        let mut body = String::new();
        s.read_to_string(&mut body).ok()?;
        body.lines()
            .filter(|l| l.starts_with("imscore_registered_contacts"))
            .find_map(|l| l.rsplit(' ').next()?.parse().ok())
    }

    /// Polls the registered-contacts gauge until it equals `want` (≤ `secs` s).
    fn wait_contacts(&self, want: f64, secs: u64) -> Option<f64> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let v = self.registered_contacts();
            if v == Some(want) || Instant::now() > deadline {
                return v;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Core {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn ue_args(core: &Core, n: u64, k: &str) -> Vec<String> {
    let id = imsi(n);
    [
        "ue",
        "register",
        "--pcscf",
        &core.pcscf(),
        "--impi",
        &format!("{id}@{REALM}"),
        "--impu",
        &format!("sip:{id}@{REALM}"),
        "--k",
        k,
        "--op",
        OP,
        "--amf",
        "8000",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// Runs to completion, killed after `secs` seconds.
fn run_bounded(args: &[String], secs: u64) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn imscore");
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if child.try_wait().expect("try_wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "imscore {args:?} did not finish in {secs} s:\n{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Register over UDP, re-register twice on a 4 s registration (TS 24.229: after half the
/// time), de-register on SIGINT; the core's contact gauge follows; the reg-event SUBSCRIBE is
/// accepted and the S-CSCF's NOTIFYs are answered (RFC 3680).
#[test]
fn register_reregister_deregister() {
    let dir = scratch("rereg");
    let core = Core::start(&dir, 5);
    let mut args = ue_args(&core, 1, K);
    args.extend(["--expires", "4", "--trace"].map(String::from));
    let mut child = Command::new(BIN)
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ue");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut seen = String::new();
    let mut rereg = 0;
    let deadline = Instant::now() + Duration::from_secs(30);
    while rereg < 2 {
        if let Ok(l) = rx.recv_timeout(Duration::from_millis(200)) {
            rereg += usize::from(l.starts_with("re-registered:"));
            seen.push_str(&l);
            seen.push('\n');
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("no two re-registrations in 30 s:\n{seen}");
        }
    }
    assert!(seen.contains("registered: sip:001010000000001@"), "{seen}");
    assert!(seen.contains("reg event: subscribed (200)"), "{seen}");
    assert!(seen.contains("NOTIFY"), "no reg-event NOTIFY:\n{seen}");
    assert_eq!(core.wait_contacts(1.0, 10), Some(1.0), "{seen}");
    let st = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill -INT");
    assert!(st.success());
    let deadline = Instant::now() + Duration::from_secs(40);
    let status: ExitStatus = loop {
        while let Ok(l) = rx.try_recv() {
            seen.push_str(&l);
            seen.push('\n');
        }
        if let Some(s) = child.try_wait().expect("try_wait") {
            break s;
        }
        assert!(Instant::now() < deadline, "no exit after SIGINT:\n{seen}");
        std::thread::sleep(Duration::from_millis(50));
    };
    std::thread::sleep(Duration::from_millis(100));
    while let Ok(l) = rx.try_recv() {
        seen.push_str(&l);
        seen.push('\n');
    }
    assert!(status.success(), "exit {status:?}:\n{seen}");
    assert!(
        seen.contains("Expires:0"),
        "no de-registering REGISTER:\n{seen}"
    );
    assert!(seen.trim_end().ends_with("de-registered"), "{seen}");
    assert_eq!(core.wait_contacts(0.0, 10), Some(0.0), "{seen}");
}

/// TCP, `--once`: exit 0 right after the registration, with the SQN state written.
#[test]
fn register_once_over_tcp_writes_state() {
    let dir = scratch("tcp");
    let core = Core::start(&dir, 5);
    let state = dir.join("isim.json");
    let mut args = ue_args(&core, 2, K);
    args.extend(["--transport", "tcp", "--once", "--trace", "--state"].map(String::from));
    args.push(state.display().to_string());
    let out = run_bounded(&args, 40);
    let so = text(&out.stdout);
    assert!(out.status.success(), "{so}\n{}", text(&out.stderr));
    assert!(so.contains("<-- 200 OK  CSeq:2 REGISTER"), "{so}");
    let st: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state).expect("state file")).expect("json");
    let seq: Vec<u64> = st["seq_ms"]
        .as_array()
        .expect("seq_ms")
        .iter()
        .filter_map(|v| v.as_u64())
        .collect();
    assert_eq!(seq.len(), 32);
    assert!(seq.iter().any(|&s| s > 0), "SQN_MS not advanced: {st}");
}

/// An ISIM whose SQN_MS is far ahead of the HSS rejects the first AUTN, sends AUTS, and the
/// registration with the resynchronised vector succeeds; the state file moves past the old
/// value.
#[test]
fn stale_state_forces_resync() {
    let dir = scratch("resync");
    let core = Core::start(&dir, 5);
    let state = dir.join("stale.json");
    let mut seq = vec![0u64; 32];
    seq[0] = 50_000;
    seq[1] = 50_000;
    std::fs::write(
        &state,
        serde_json::json!({"ind_bits": 5, "seq_ms": seq}).to_string(),
    )
    .expect("state");
    let mut args = ue_args(&core, 3, K);
    args.extend(["--once", "--trace", "--state"].map(String::from));
    args.push(state.display().to_string());
    let out = run_bounded(&args, 40);
    let so = text(&out.stdout);
    assert!(out.status.success(), "{so}\n{}", text(&out.stderr));
    assert!(so.contains(" auts="), "no AUTS sent:\n{so}");
    assert!(so.contains("<-- 200 OK  CSeq:3 REGISTER"), "{so}");
    let st: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state).expect("state")).expect("json");
    let max = st["seq_ms"]
        .as_array()
        .expect("seq_ms")
        .iter()
        .filter_map(|v| v.as_u64())
        .max()
        .unwrap_or(0);
    assert!(
        max > 50_000,
        "state not advanced past the stale SQN_MS: {st}"
    );
}

/// A wrong K: the ISIM finds the AUTN MAC wrong, the UE says so and exits non-zero.
#[test]
fn wrong_key_fails_with_reason() {
    let dir = scratch("wrongk");
    let core = Core::start(&dir, 5);
    let mut args = ue_args(&core, 4, "00112233445566778899aabbccddeeff");
    args.push("--once".into());
    let out = run_bounded(&args, 60);
    let se = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{se}");
    assert!(se.contains("AUTN MAC mismatch"), "{se}");
    assert!(!text(&out.stdout).contains("registered:"));
    // IPsec to a P-CSCF on loopback is refused up front (loopback never passes the ESP
    // datapath; the IPsec tests run in network namespaces)
    let mut args = ue_args(&core, 4, K);
    args.extend(["--sec", "ipsec"].map(String::from));
    let out = run_bounded(&args, 10);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("loopback"),
        "{}",
        text(&out.stderr)
    );
    // protected ports inside the ephemeral range would capture the unprotected sockets' traffic
    let mut args = ue_args(&core, 4, K);
    let i = args.iter().position(|a| a == "--pcscf").expect("--pcscf") + 1;
    args[i] = "192.0.2.1:5060".into();
    args.extend(["--sec", "ipsec", "--ipsec-ports", "40000-41000"].map(String::from));
    let out = run_bounded(&args, 10);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("overlaps the kernel's ephemeral port range"),
        "{}",
        text(&out.stderr)
    );
}

/// `imscore bench`: 200 demo UEs register, then de-register; JSON summary and SVG plot.
#[test]
fn bench_smoke_200_ues() {
    let dir = scratch("bench");
    let core = Core::start(&dir, 200);
    let json = dir.join("bench.json");
    let svg = dir.join("bench.svg");
    let args: Vec<String> = [
        "bench",
        "--pcscf",
        &core.pcscf(),
        "--ues",
        "200",
        "--rate",
        "25",
        "--duration",
        "20s",
        "--demo",
        "--json",
        &json.display().to_string(),
        "--plot",
        &svg.display().to_string(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let out = run_bounded(&args, 120);
    let so = text(&out.stdout);
    assert!(out.status.success(), "{so}\n{}", text(&out.stderr));
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("json")).expect("json");
    assert_eq!(s["ues_started"], 200, "{s}");
    assert_eq!(s["registered"], 200, "{s}");
    assert_eq!(s["deregistered"], 200, "{s}");
    assert_eq!(s["failed"], 0, "{s}");
    assert_eq!(s["latency"]["count"], 200, "{s}");
    let p50 = s["latency"]["p50_ms"].as_f64().expect("p50");
    let max = s["latency"]["max_ms"].as_f64().expect("max");
    assert!(p50 > 0.0 && p50 <= max, "{s}");
    let plot = std::fs::read_to_string(&svg).expect("svg");
    assert!(
        plot.starts_with("<svg") && plot.contains("<polyline"),
        "{plot}"
    );
    assert_eq!(core.wait_contacts(0.0, 10), Some(0.0));
}

/// `--transport tls` ("TLS prior to registration") and `--sec tls` ("TLS during registration")
/// against `imscore up` with a TLS listener on its P-CSCF: both register; without a CA that
/// signed the P-CSCF's (self-signed) certificate the TLS handshake is refused.
#[test]
fn register_over_tls_prior_and_during() {
    let dir = scratch("tls");
    let core = Core::start_opts(&dir, 3, true);
    let tls = format!("127.0.0.1:{}", core.base + 5);
    let with = |n: u64, extra: &[&str]| {
        let mut a = ue_args(&core, n, K);
        a.extend(["--once", "--no-reg-event"].iter().map(|s| s.to_string()));
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    // TLS prior to registration: --pcscf is the TLS listener
    let mut prior = with(1, &["--transport", "tls", "--tls-insecure"]);
    let i = prior.iter().position(|a| a == "--pcscf").unwrap();
    prior[i + 1] = tls.clone();
    let out = run_bounded(&prior, 60);
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout).contains("registered: sip:"),
        "{}",
        text(&out.stdout)
    );

    // TLS during registration, the certificate accepted in lab mode
    let out = run_bounded(
        &with(2, &["--sec", "tls", "--pcscf-tls", &tls, "--tls-insecure"]),
        60,
    );
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout).contains("registered: sip:"),
        "{}",
        text(&out.stdout)
    );

    // verified against a CA that did not sign it: refused
    let other = other_ca(&dir);
    let out = run_bounded(
        &with(
            3,
            &["--sec", "tls", "--pcscf-tls", &tls, "--tls-ca", &other],
        ),
        60,
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(
        text(&out.stderr).contains("TLS handshake"),
        "{}",
        text(&out.stderr)
    );

    // --transport tls is not combined with sec-agree
    let out = run_bounded(&with(3, &["--transport", "tls", "--sec", "tls"]), 20);
    assert_eq!(out.status.code(), Some(2));

    // bench --sec tls: every UE with its own TLS connection, registered and de-registered
    let json = dir.join("bench-tls.json");
    let args: Vec<String> = [
        "bench",
        "--pcscf",
        &core.pcscf(),
        "--ues",
        "3",
        "--rate",
        "10",
        "--duration",
        "3s",
        "--demo",
        "--sec",
        "tls",
        "--pcscf-tls",
        &tls,
        "--tls-insecure",
        "--json",
        &json.display().to_string(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let out = run_bounded(&args, 60);
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("json")).expect("json");
    assert_eq!(s["registered"], 3, "{s}");
    assert_eq!(s["deregistered"], 3, "{s}");
    assert_eq!(s["failed"], 0, "{s}");
}

/// A self-signed CA certificate (made with openssl) that signed nothing the core uses.
fn other_ca(dir: &Path) -> String {
    let path = dir.join("other-ca.pem");
    let out = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=other",
        ])
        .arg("-keyout")
        .arg(dir.join("other-ca.key"))
        .arg("-out")
        .arg(&path)
        .output()
        .expect("openssl");
    assert!(out.status.success(), "{}", text(&out.stderr));
    path.display().to_string()
}

/// The help documents the security options.
#[test]
fn register_help_lists_security_options() {
    let out = Command::new(BIN)
        .args(["ue", "register", "--help"])
        .output()
        .expect("imscore");
    let h = text(&out.stdout);
    for opt in [
        "--sec",
        "--pcscf-tls",
        "--tls-ca",
        "--tls-insecure",
        "--ipsec-alg",
        "--ipsec-ealg",
        "--esp-keylog",
        "Lab use only",
    ] {
        assert!(h.contains(opt), "{opt} missing from:\n{h}");
    }
    let out = Command::new(BIN)
        .args(["bench", "--help"])
        .output()
        .expect("imscore");
    assert!(
        text(&out.stdout).contains("--pcscf-tls"),
        "{}",
        text(&out.stdout)
    );
}

/// `--sec ipsec` without the privileges for its datapath (run as `nobody`): exit 2 and the
/// reason, before any packet is sent.
#[test]
fn ipsec_without_privileges_exits_2() {
    let out = Command::new("runuser")
        .args(["-u", "nobody", "--", BIN, "ue", "register"])
        // TEST-NET-1: never reached, the datapath check comes first
        .args([
            "--pcscf",
            "192.0.2.1:5060",
            "--impi",
            &format!("001@{REALM}"),
        ])
        .args(["--impu", &format!("sip:001@{REALM}"), "--k", K, "--op", OP])
        .args(["--sec", "ipsec", "--once"])
        .output()
        .expect("runuser (util-linux) must be installed; the test runs as root");
    let se = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{se}");
    assert!(se.contains("--sec ipsec needs root"), "{se}");
}
