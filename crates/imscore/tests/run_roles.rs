//! `imscore run <role>`: the four roles of one configuration file as four processes, talking SIP
//! and Diameter to each other; a UE registers through them; each serves its own metrics.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use testkit::ims_ue::TestUe;
use testkit::scratch::TempDir;

const REALM: &str = "ims.mnc001.mcc001.3gppnetwork.org";
const K: [u8; 16] = *b"imscore-demo-key";
const OP: [u8; 16] = *b"imscore-demo-op.";

/// A role's process; its stderr (the log) goes to `log`, printed when the test fails.
struct Proc(Child, std::path::PathBuf);
impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        if std::thread::panicking() {
            let log = std::fs::read_to_string(&self.1).unwrap_or_default();
            eprintln!("---- {} ----\n{log}", self.1.display());
        }
    }
}

/// A port free for both UDP and TCP, outside the kernel's ephemeral range.
fn free_port() -> u16 {
    testkit::scratch::free_port()
}

fn example() -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_imscore"))
        .args(["config", "example"])
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

fn wait_tcp(addr: SocketAddr) {
    let t0 = Instant::now();
    while TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_err() {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "{addr} never came up"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn run(cfg: &Path, role: &str, metrics: u16, extra: &[&str]) -> Proc {
    let mut c = Command::new(env!("CARGO_BIN_EXE_imscore"));
    c.args(["run", role, "--config"])
        .arg(cfg)
        .args(["--metrics-listen", &format!("127.0.0.1:{metrics}")])
        .args(extra)
        .env("RUST_LOG", "debug")
        .stdout(Stdio::null());
    let log = cfg.with_file_name(format!("{role}.log"));
    c.stderr(std::fs::File::create(&log).unwrap());
    let p = Proc(c.spawn().expect("imscore run"), log);
    wait_tcp(SocketAddr::from(([127, 0, 0, 1], metrics)));
    p
}

fn metrics(port: u16) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(s, "GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n").unwrap();
    let mut body = String::new();
    let _ = s.read_to_string(&mut body);
    body
}

#[test]
fn four_roles_as_four_processes_register_a_ue() {
    let scratch = TempDir::new("imscore-run-roles");
    let dir = scratch.path();
    let (p, i, s, h) = (free_port(), free_port(), free_port(), free_port());
    let cfg_text = example()
        .replace("127.0.0.1:5060", &format!("127.0.0.1:{p}"))
        .replace("127.0.0.1:4060", &format!("127.0.0.1:{i}"))
        .replace("127.0.0.1:6060", &format!("127.0.0.1:{s}"))
        .replace("3gppnetwork.org:4060", &format!("3gppnetwork.org:{i}"))
        .replace("3gppnetwork.org:6060", &format!("3gppnetwork.org:{s}"))
        .replace("127.0.0.1:3868", &format!("127.0.0.1:{h}"))
        .replace(
            "data_dir = \"./imscore-data\"",
            &format!("data_dir = {:?}", dir.display().to_string()),
        );
    let cfg = dir.join("imscore.toml");
    std::fs::write(&cfg, &cfg_text).unwrap();
    let check = Command::new(env!("CARGO_BIN_EXE_imscore"))
        .args(["config", "check"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );

    let (mh, ms, mi, mp) = (free_port(), free_port(), free_port(), free_port());
    let _hss = run(&cfg, "hss", mh, &["--demo-subscribers", "2"]);
    wait_tcp(SocketAddr::from(([127, 0, 0, 1], h)));
    let _scscf = run(&cfg, "scscf", ms, &[]);
    let _icscf = run(&cfg, "icscf", mi, &[]);
    let _pcscf = run(&cfg, "pcscf", mp, &[]);

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let pcscf = SocketAddr::from(([127, 0, 0, 1], p));
        let mut ue = TestUe::new(pcscf, REALM, "001010000000001", K, OP).await;
        // the Diameter peers may still be connecting: retry the first challenge briefly
        let t0 = Instant::now();
        let (chal, ok) = loop {
            let (c, r) = ue.register(600).await;
            if r.status() == Some(200) || t0.elapsed() > Duration::from_secs(10) {
                break (c, r);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        assert_eq!(chal.status(), Some(401));
        assert_eq!(ok.status(), Some(200), "{ok}");
    });

    // each process counts its own part (TS 24.229 roles, Prometheus text format)
    let m = metrics(mp);
    assert!(
        m.contains("imscore_sip_requests_total{role=\"pcscf\",method=\"REGISTER\"}"),
        "{m}"
    );
    let m = metrics(mi);
    assert!(m.contains("role=\"icscf\""), "{m}");
    assert!(m.contains("imscore_diameter_round_trip_seconds"), "{m}");
    let m = metrics(ms);
    assert!(
        m.contains("imscore_sip_responses_total{role=\"scscf\",code=\"401\"}"),
        "{m}"
    );
    assert!(m.contains("command=\"MAR\""), "{m}");

    // a config error names the key
    let bad = cfg_text.replace("max_attempts = 3", "max_attempts = -1");
    std::fs::write(&cfg, bad).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_imscore"))
        .args(["config", "check"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("max_attempts"));
}
