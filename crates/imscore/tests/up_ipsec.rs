//! Issue #9 end to end with both real halves: `imscore up` with ipsec-3gpp at its P-CSCF (userspace
//! ESP datapath) in one network namespace, the UE simulator (`imscore ue register --sec ipsec`,
//! then `imscore bench --sec ipsec`) in another, joined by a veth pair the test creates.
//!
//! - The UE registers over ESP (TS 33.203 §7: Security-Client → 401 with Security-Server → SAs
//!   from IK/CK → protected REGISTER with Security-Verify), subscribes to its reg event,
//!   re-registers over the SAs, and de-registers on SIGINT.
//! - tshark, given the UE's `--esp-keylog` file, authenticates and decrypts every ESP packet on the
//!   wire and finds the protected REGISTER, its 200, the SUBSCRIBE and the NOTIFY inside; no SIP
//!   travels in clear after the 401.
//! - `imscore bench --sec ipsec`: 20 UEs sharing one datapath register and de-register.
//!
//! Needs root (namespaces, TUN, raw ESP sockets) and tshark; fails, never skips, without them.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::*;
use testkit::netns::{spawn_in, tshark_fields, Capture, VethPair};

const BIN: &str = env!("CARGO_BIN_EXE_imscore");
const UE_IP: &str = "10.79.0.1";
const CORE_IP: &str = "10.79.0.2";

/// `imscore config example` for the core namespace: the P-CSCF listens on the veth address (and
/// the host table sends the core's requests for it there) and runs ipsec-3gpp with the userspace
/// datapath.
fn core_config(ports: &Ports) -> String {
    let cfg = config_text(ports);
    let local = format!("127.0.0.1:{}", ports.pcscf);
    let veth = format!("{CORE_IP}:{}", ports.pcscf);
    let cfg = cfg
        .replace(&local, &veth)
        .replace("#ipsec# ", "")
        .replace("\nmin_expires = 60", "\nmin_expires = 2");
    assert!(cfg.contains("\nmin_expires = 2"), "config example changed");
    assert!(
        cfg.contains(&format!("listen = [\"udp:{veth}\", \"tcp:{veth}\"]")),
        "P-CSCF listener not moved"
    );
    assert!(cfg.contains("[pcscf.pcscf.ipsec]"), "no ipsec section");
    cfg
}

/// `imscore up` inside namespace `ns`; killed on drop.
struct NsCore {
    child: Child,
    stderr: std::path::PathBuf,
}

impl NsCore {
    fn start(ns: &str, dir: &Path, ports: &Ports, demo: u64) -> NsCore {
        let cfg = dir.join("core.toml");
        std::fs::write(&cfg, core_config(ports)).expect("config");
        let stderr = dir.join("core.stderr");
        let mut cmd = Command::new(BIN);
        cmd.arg("up")
            .arg("--config")
            .arg(&cfg)
            .arg("--data-dir")
            .arg(dir.join("data"))
            .args(["--demo-subscribers", &demo.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(
                std::fs::File::create(&stderr).expect("stderr file"),
            ));
        let mut child = spawn_in(ns, cmd).expect("spawn imscore up");
        let lines = lines_of(child.stdout.take().expect("stdout"));
        let mut core = NsCore { child, stderr };
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut banner = String::new();
        while !banner.contains("Ctrl-C stops.") {
            if let Ok(l) = lines.recv_timeout(Duration::from_millis(200)) {
                banner.push_str(&l);
                banner.push('\n');
            }
            if let Some(s) = core.child.try_wait().expect("try_wait") {
                panic!("imscore up exited ({s}):\n{banner}\n{}", core.log());
            }
            assert!(
                Instant::now() < deadline,
                "imscore up not ready in 60 s:\n{banner}\n{}",
                core.log()
            );
        }
        core
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }
}

impl Drop for NsCore {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The lines a child writes, on a channel (drained on a thread so the child never blocks).
fn lines_of(out: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });
    rx
}

/// Collects lines until `pred` holds on one of them, or panics after `secs` seconds.
fn wait_line(
    rx: &mpsc::Receiver<String>,
    seen: &mut String,
    secs: u64,
    pred: impl Fn(&str) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Ok(l) = rx.recv_timeout(Duration::from_millis(200)) {
            seen.push_str(&l);
            seen.push('\n');
            if pred(&l) {
                return;
            }
        }
        assert!(Instant::now() < deadline, "not seen in {secs} s:\n{seen}");
    }
}

fn wait_exit(child: &mut Child, secs: u64) -> ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(s) = child.try_wait().expect("try_wait") {
            return s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("no exit in {secs} s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn ue_registers_over_esp_with_imscore_up_and_bench_runs_with_ipsec() {
    let dir = scratch("up-ipsec");
    let pair = VethPair::new("upip-", "t", UE_IP, CORE_IP);
    let ports = pick_ports();
    let core = NsCore::start(&pair.b, &dir, &ports, 40);
    let pcscf = format!("{CORE_IP}:{}", ports.pcscf);
    let pcap = dir.join("wire.pcap");
    let cap = Capture::start(Some(&pair.b), &["veth1"], None, &pcap);

    // one UE: register over ESP, reg event, de-register on SIGINT
    let keylog = dir.join("esp_sa");
    let id = imsi(1);
    let mut cmd = Command::new(BIN);
    cmd.args(["ue", "register", "--pcscf", &pcscf])
        .args(["--impi", &format!("{id}@{REALM}")])
        .args(["--impu", &format!("sip:{id}@{REALM}")])
        .args(["--k", &hex::encode(DEMO_K), "--op", &hex::encode(DEMO_OP)])
        .args(["--amf", "8000"])
        .args([
            "--sec",
            "ipsec",
            "--expires",
            "6",
            "--trace",
            "--esp-keylog",
        ])
        .arg(&keylog)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut ue = spawn_in(&pair.a, cmd).expect("spawn imscore ue");
    let out = lines_of(ue.stdout.take().expect("stdout"));
    let err = lines_of(ue.stderr.take().expect("stderr"));
    let mut seen = String::new();
    wait_line(&out, &mut seen, 30, |l| l.starts_with("registered:"));
    wait_line(&out, &mut seen, 15, |l| l.contains("NOTIFY"));
    // a 6 s registration is refreshed after half its time, over the SAs (TS 24.229 §5.1.1.4)
    wait_line(&out, &mut seen, 20, |l| l.starts_with("re-registered:"));
    // SIGINT: de-registration over the SAs, then the UE removes them and exits 0
    // SAFETY: kill(2) on the pid of a child we spawned and have not reaped yet.
    assert_eq!(
        unsafe { libc::kill(ue.id() as libc::pid_t, libc::SIGINT) },
        0
    );
    let status = wait_exit(&mut ue, 40);
    std::thread::sleep(Duration::from_millis(200));
    while let Ok(l) = out.try_recv() {
        seen.push_str(&l);
        seen.push('\n');
    }
    while let Ok(l) = err.try_recv() {
        seen.push_str(&l);
        seen.push('\n');
    }
    assert!(
        status.success(),
        "ue exit {status:?}:\n{seen}\n{}",
        core.log()
    );
    assert!(seen.contains("Sec-Verify:ipsec-3gpp"), "{seen}");
    assert!(seen.contains("Expires:0"), "no de-registration:\n{seen}");
    assert!(seen.lines().any(|l| l == "de-registered"), "{seen}");

    // the wire: every ESP packet authenticates and decrypts with the UE's SAs; SIP inside
    let cap = cap.stop();
    let log = std::fs::read_to_string(&keylog).expect("keylog");
    // 4 SAs per set: one set, or more if the S-CSCF re-challenged the refresh (TS 33.203 §7.4)
    let n = log.lines().count();
    assert!(n >= 4 && n % 4 == 0, "whole SA sets of 4 SAs:\n{log}");
    let cfg_dir = dir.join("wireshark");
    std::fs::create_dir_all(&cfg_dir).expect("wireshark dir");
    std::fs::write(cfg_dir.join("esp_sa"), &log).expect("esp_sa");
    let heur = [
        "-o",
        "udp.try_heuristic_first:TRUE",
        "-o",
        "tcp.try_heuristic_first:TRUE",
    ];
    let esp = tshark_fields(
        Some(&cfg_dir),
        &cap,
        &heur,
        // (not the ESP quoted in ICMP errors: after the UE has gone, a late NOTIFY is answered by
        // its kernel with "protocol unreachable", which quotes only part of the packet)
        "esp && !icmp",
        &[
            "esp.icv_good",
            "sip.Method",
            "sip.CSeq.method",
            "sip.Status-Code",
        ],
    );
    assert!(!esp.is_empty(), "no ESP on the wire");
    for r in &esp {
        assert_eq!(r[0], "1", "ESP packet not authenticated: {esp:?}");
    }
    let inside = |method: &str, status: &str| {
        esp.iter()
            .any(|r| r[1] == method || (r[2] == method && r[3] == status))
    };
    for (m, s) in [("REGISTER", "200"), ("SUBSCRIBE", "200"), ("NOTIFY", "200")] {
        assert!(inside(m, ""), "{m} not inside ESP: {esp:?}");
        assert!(
            esp.iter().any(|r| r[2].contains(m) && r[3] == s),
            "{s} to {m} not inside ESP: {esp:?}"
        );
    }
    // in clear: only the initial REGISTER and its 401 (and nothing after the 401)
    let clear = tshark_fields(
        None,
        &cap,
        &[],
        "sip && !esp",
        &["sip.Method", "sip.Status-Code"],
    );
    assert_eq!(clear.len(), 2, "SIP in clear: {clear:?}");
    assert_eq!(clear[0][0], "REGISTER", "{clear:?}");
    assert_eq!(clear[1][1], "401", "{clear:?}");

    // the load generator with ipsec: 20 UEs over one datapath
    let json = dir.join("bench.json");
    let mut cmd = Command::new(BIN);
    cmd.args(["bench", "--pcscf", &pcscf])
        .args(["--ues", "20", "--rate", "10", "--duration", "8s", "--demo"])
        .args(["--sec", "ipsec", "--json"])
        .arg(&json)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut bench = spawn_in(&pair.a, cmd).expect("spawn imscore bench");
    let bout = lines_of(bench.stdout.take().expect("stdout"));
    let berr = lines_of(bench.stderr.take().expect("stderr"));
    let status = wait_exit(&mut bench, 90);
    let mut text = String::new();
    for l in bout.try_iter().chain(berr.try_iter()) {
        text.push_str(&l);
        text.push('\n');
    }
    assert!(
        status.success(),
        "bench {status:?}:\n{text}\n{}",
        core.log()
    );
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("json")).expect("json");
    assert_eq!(s["registered"], 20, "{s}\n{text}");
    assert_eq!(s["deregistered"], 20, "{s}\n{text}");
    assert_eq!(s["failed"], 0, "{s}\n{text}");
    drop(core);
    drop(pair);
}
