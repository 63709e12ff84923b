//! Shared harness of the `imscore up` acceptance tests (issue #7): starts the real `imscore`
//! binary on private loopback ports with a data directory of its own, drives SIPp
//! (`tests/sipp/ims_aka_register.xml`) and a minimal IMS-AKA UE over UDP, and recomputes each
//! challenge's RES with the `aka` crate (TS 35.206 f2) to judge SIPp 3.6's RES defect.
//!
//! Every child process is killed when its guard drops; every wait is bounded.

#![allow(dead_code)] // each test binary uses a part of the harness

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The home domain of `imscore up` (and the Digest realm of its challenges).
pub const REALM: &str = "ims.mnc001.mcc001.3gppnetwork.org";
/// Demo subscriber key K: the ASCII string "imscore-demo-key".
pub const DEMO_K: [u8; 16] = *b"imscore-demo-key";
/// Demo operator variant OP: the ASCII string "imscore-demo-op.".
pub const DEMO_OP: [u8; 16] = *b"imscore-demo-op.";
/// The SIPp scenario of the repository.
pub const SCENARIO: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/sipp/ims_aka_register.xml"
);
const BIN: &str = env!("CARGO_BIN_EXE_imscore");

/// Demo IMSI number `n` (1-based): 001010000000001, …
pub fn imsi(n: u64) -> String {
    format!("00101{n:010}")
}

/// IMPI of a demo IMSI.
pub fn impi(imsi: &str) -> String {
    format!("{imsi}@{REALM}")
}

/// IMPU (and AOR) of a demo IMSI.
pub fn impu(imsi: &str) -> String {
    format!("sip:{imsi}@{REALM}")
}

/// A fresh, empty scratch directory for one test.
pub fn scratch(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("scratch dir");
    d
}

/// The ports one `imscore up` listens on.
#[derive(Debug, Clone, Copy)]
pub struct Ports {
    /// P-CSCF (UDP and TCP).
    pub pcscf: u16,
    /// I-CSCF (UDP and TCP).
    pub icscf: u16,
    /// S-CSCF (UDP and TCP).
    pub scscf: u16,
    /// HSS Diameter (TCP).
    pub hss: u16,
    /// Prometheus metrics (TCP).
    pub metrics: u16,
}

/// Five consecutive free ports (UDP and TCP), outside the kernel's ephemeral range, so that tests
/// running in parallel (and a developer's `imscore up` on the default ports) do not collide.
pub fn pick_ports() -> Ports {
    let base = testkit::scratch::free_ports(5);
    Ports {
        pcscf: base,
        icscf: base + 1,
        scscf: base + 2,
        hss: base + 3,
        metrics: base + 4,
    }
}

/// A free UDP port on 127.0.0.1 (for SIPp or the UE).
pub fn free_udp_port() -> u16 {
    testkit::scratch::free_udp_port()
}

/// `imscore config example` with every default port replaced by `ports`.
pub fn config_text(ports: &Ports) -> String {
    let out = Command::new(BIN)
        .args(["config", "example"])
        .output()
        .expect("imscore config example");
    assert!(out.status.success(), "imscore config example failed");
    let ex = String::from_utf8(out.stdout).expect("utf-8 config");
    let cfg = ex
        .replace(":5060", &format!(":{}", ports.pcscf))
        .replace(":4060", &format!(":{}", ports.icscf))
        .replace(":6060", &format!(":{}", ports.scscf))
        .replace(":3868", &format!(":{}", ports.hss))
        .replace(":9090", &format!(":{}", ports.metrics));
    for p in [":5060", ":4060", ":6060", ":3868", ":9090"] {
        assert!(!cfg.contains(p), "default port {p} left in the test config");
    }
    cfg
}

/// A running `imscore up`; killed on drop.
pub struct Core {
    child: Option<Child>,
    /// Its ports.
    pub ports: Ports,
    /// Its data directory.
    pub data_dir: PathBuf,
    /// What it printed on stdout up to "Ctrl-C stops.".
    pub banner: String,
    stderr_path: PathBuf,
}

impl Core {
    /// Starts `imscore up --config <ports> --data-dir dir --demo-subscribers demo` and waits
    /// (≤ 60 s) until it printed its endpoints.
    pub fn start(dir: &Path, ports: Ports, demo: u64, tag: &str) -> Core {
        let cfg_path = dir.join(format!("{tag}.toml"));
        std::fs::write(&cfg_path, config_text(&ports)).expect("write config");
        let data_dir = dir.join("data");
        let stderr_path = dir.join(format!("{tag}.stderr"));
        let stderr = std::fs::File::create(&stderr_path).expect("stderr file");
        let mut child = Command::new(BIN)
            .arg("up")
            .arg("--config")
            .arg(&cfg_path)
            .arg("--data-dir")
            .arg(&data_dir)
            .args(["--demo-subscribers", &demo.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .spawn()
            .expect("spawn imscore up");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    // nobody listens any more: keep draining so the child never blocks
                    continue;
                }
            }
        });
        let mut core = Core {
            child: Some(child),
            ports,
            data_dir,
            banner: String::new(),
            stderr_path,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match rx.recv_timeout(Duration::from_millis(200)) {
                Ok(line) => {
                    core.banner.push_str(&line);
                    core.banner.push('\n');
                    if line.contains("Ctrl-C stops.") {
                        break;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    std::thread::sleep(Duration::from_millis(200));
                    panic!(
                        "imscore up exited before it was ready:\n{}\n{}",
                        core.banner,
                        core.stderr()
                    );
                }
            }
            if Instant::now() > deadline {
                panic!(
                    "imscore up not ready in 60 s:\n{}\n{}",
                    core.banner,
                    core.stderr()
                );
            }
        }
        core
    }

    /// Its log so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// The P-CSCF's UDP address.
    pub fn pcscf(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.ports.pcscf))
    }

    /// Stops it with SIGINT (Ctrl-C) and waits ≤ 20 s for it to exit.
    pub fn stop(mut self) -> ExitStatus {
        let mut child = self.child.take().expect("running");
        let st = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .expect("kill -INT");
        assert!(st.success(), "kill -INT failed");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(s) = child.try_wait().expect("try_wait") {
                return s;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "imscore up did not stop within 20 s of SIGINT:\n{}",
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// GET /metrics.
    pub fn metrics(&self) -> String {
        let mut s = TcpStream::connect(("127.0.0.1", self.ports.metrics)).expect("metrics connect");
        s.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        write!(s, "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").expect("metrics request");
        let mut body = String::new();
        s.read_to_string(&mut body).expect("metrics response");
        body
    }

    /// The value of a metric line `name{labels} value` whose name and labels start with `prefix`.
    pub fn metric(&self, prefix: &str) -> Option<f64> {
        self.metrics()
            .lines()
            .filter(|l| !l.starts_with('#') && l.starts_with(prefix))
            .find_map(|l| l.rsplit(' ').next().and_then(|v| v.parse().ok()))
    }

    /// The value of metric `name` on the line that carries every label of `labels`
    /// (e.g. `role="scscf"`); 0 when no such line exists yet.
    pub fn metric_with(&self, name: &str, labels: &[&str]) -> f64 {
        self.metrics()
            .lines()
            .filter(|l| {
                l.strip_prefix(name)
                    .is_some_and(|r| r.starts_with('{') || r.starts_with(' '))
            })
            .filter(|l| labels.iter().all(|lab| l.contains(lab)))
            .find_map(|l| l.rsplit(' ').next().and_then(|v| v.parse().ok()))
            .unwrap_or(0.0)
    }

    /// Polls `imscore_registered_contacts` (updated every second) until it equals `want`,
    /// for at most `secs` seconds; returns the last value seen.
    pub fn wait_registered_contacts(&self, want: usize, secs: u64) -> Option<f64> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let v = self.metric("imscore_registered_contacts");
            if v == Some(want as f64) || Instant::now() > deadline {
                return v;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

impl Drop for Core {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Writes a SIPp injection file: one line per subscriber `from..from+n`, field 0 the IMSI and
/// field 1 the whole `[authentication …]` keyword. SIPp 3.6 does not expand keywords nested in
/// `[authentication]` of a scenario, but it parses an injected field that holds the keyword.
///
/// Found by experiment with SIPp 3.6: `aka_K` and `aka_OP` are taken as raw bytes of the text
/// (`imscore-demo-key`), or as hex when written `0x…`; `aka_AMF` likewise, so AMF 8000 must be
/// written `0x8000` (the text `8000` is the bytes 0x38 0x30: MAC check fails, and SIPp then
/// aborts the whole run with "MAC != eXpectedMAC"). Odd lines use the ASCII form of K and OP,
/// even lines the hex form, so both stay covered.
pub fn write_csv(path: &Path, from: u64, n: u64, k: &[u8; 16]) {
    let mut s = String::from("SEQUENTIAL\n");
    for i in from..from + n {
        let id = imsi(i);
        let (k_txt, op_txt) = if i % 2 == 1 && k.iter().all(|b| b.is_ascii_graphic()) {
            (
                String::from_utf8_lossy(k).into_owned(),
                String::from_utf8_lossy(&DEMO_OP).into_owned(),
            )
        } else {
            // SIPp 3.6.1 decodes a 0x… value into a buffer without ending it: the bytes after
            // the key are whatever the stack held, and the runtime parse of that text aborts
            // the whole run now and then ("Syntax error or invalid [keyword] in scenario while
            // parsing ''"). A trailing 00 byte ends the decoded string.
            (
                format!("0x{}00", hex::encode(k)),
                format!("0x{}00", hex::encode(DEMO_OP)),
            )
        };
        s.push_str(&format!(
            "{id};[authentication username={} aka_K={k_txt} aka_OP={op_txt} aka_AMF=0x8000]\n",
            impi(&id)
        ));
    }
    std::fs::write(path, s).expect("write csv");
}

/// One SIPp run.
pub struct SippRun {
    /// Exit status (None: killed at the deadline).
    pub status: Option<ExitStatus>,
    /// stdout + stderr + error log.
    pub output: String,
    /// The `-trace_msg` log.
    pub trace: String,
}

/// What one SIPp run does: `count` registrations from `csv` at `rate`/s, from local port
/// `local_port`, bounded by `deadline_secs`.
pub struct SippJob<'a> {
    /// Names its logs in the scratch directory.
    pub tag: &'a str,
    /// The injection file.
    pub csv: &'a Path,
    /// Registrations.
    pub count: usize,
    /// Per second.
    pub rate: u32,
    /// SIPp's UDP port.
    pub local_port: u16,
    /// SIPp's global timeout (it is killed 15 s later).
    pub deadline_secs: u64,
}

/// Runs the scenario against the P-CSCF (UDP).
pub fn run_sipp(dir: &Path, pcscf: SocketAddr, job: SippJob<'_>) -> SippRun {
    run_sipp_scenario(dir, Path::new(SCENARIO), pcscf, job)
}

/// Runs `scenario` against `target` (UDP).
pub fn run_sipp_scenario(
    dir: &Path,
    scenario: &Path,
    target: SocketAddr,
    job: SippJob<'_>,
) -> SippRun {
    run_sipp_from(dir, scenario, "127.0.0.1", target, job)
}

/// Runs `scenario` from `local_ip` against `target` (UDP).
pub fn run_sipp_from(
    dir: &Path,
    scenario: &Path,
    local_ip: &str,
    target: SocketAddr,
    job: SippJob<'_>,
) -> SippRun {
    let pcscf = target;
    let SippJob {
        tag,
        csv,
        count,
        rate,
        local_port,
        deadline_secs,
    } = job;
    let msg = dir.join(format!("{tag}-messages.log"));
    let err = dir.join(format!("{tag}-errors.log"));
    let mut child = Command::new("sipp")
        .arg(pcscf.to_string())
        .arg("-sf")
        .arg(scenario)
        .arg("-inf")
        .arg(csv)
        .args([
            "-m",
            &count.to_string(),
            "-r",
            &rate.to_string(),
            "-l",
            "400",
        ])
        .args(["-i", local_ip, "-p", &local_port.to_string()])
        .args(["-nostdin", "-trace_msg", "-trace_err"])
        .arg("-message_file")
        .arg(&msg)
        .arg("-error_file")
        .arg(&err)
        .args([
            "-recv_timeout",
            "10000",
            "-timeout",
            &format!("{deadline_secs}s"),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sipp must be installed (Debian package sip-tester)");
    let mut out_pipe = child.stdout.take().expect("stdout");
    let mut err_pipe = child.stderr.take().expect("stderr");
    let t1 = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out_pipe.read_to_string(&mut s);
        s
    });
    let t2 = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err_pipe.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + Duration::from_secs(deadline_secs + 15);
    let status = loop {
        if let Some(s) = child.try_wait().expect("try_wait") {
            break Some(s);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let output = format!(
        "{}\n{}\n{}",
        t1.join().unwrap_or_default(),
        t2.join().unwrap_or_default(),
        std::fs::read_to_string(&err).unwrap_or_default()
    );
    SippRun {
        status,
        output,
        trace: std::fs::read_to_string(&msg).unwrap_or_default(),
    }
}

/// One message of a SIPp `-trace_msg` log.
pub struct Traced {
    /// Received by SIPp (else sent).
    pub received: bool,
    /// The SIP message.
    pub text: String,
}

/// Splits a SIPp message trace into messages.
pub fn parse_trace(trace: &str) -> Vec<Traced> {
    let mut out = Vec::new();
    for chunk in trace.split("----------------------------------------------- ") {
        let mut lines = chunk.splitn(3, '\n');
        let _timestamp = lines.next();
        let Some(kind) = lines.next() else { continue };
        let text = lines.next().unwrap_or("").trim().to_string();
        if text.is_empty() {
            continue;
        }
        out.push(Traced {
            received: kind.contains("received"),
            text,
        });
    }
    out
}

/// The value of the first header `name` (case-insensitive) of a message.
pub fn header<'a>(msg: &'a str, name: &str) -> Option<&'a str> {
    msg.lines().skip(1).find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// The status code of a response.
pub fn status(msg: &str) -> Option<u16> {
    msg.strip_prefix("SIP/2.0 ")?.get(..3)?.parse().ok()
}

/// A quoted or token parameter `name=` of a header value.
pub fn param(value: &str, name: &str) -> Option<String> {
    let key = format!("{name}=");
    let mut from = 0;
    while let Some(i) = value[from..].find(&key) {
        let at = from + i;
        let before = value[..at].chars().last();
        if matches!(before, None | Some(' ') | Some(',') | Some('\t')) {
            let v = &value[at + key.len()..];
            return Some(if let Some(q) = v.strip_prefix('"') {
                q.split('"').next().unwrap_or("").to_string()
            } else {
                v.split([',', ' ', ';']).next().unwrap_or("").to_string()
            });
        }
        from = at + key.len();
    }
    None
}

/// What happened to one registration (one Call-ID) in a SIPp run.
#[derive(Debug, Default, Clone)]
pub struct Outcome {
    /// The nonce of the 401 to the first REGISTER.
    pub nonce: Option<String>,
    /// Whether that 401 carried ck or ik (it must not: the P-CSCF keeps them).
    pub keys_leaked: bool,
    /// The final response to the second REGISTER.
    pub final_status: Option<u16>,
    /// Whether SIPp sent a second REGISTER.
    pub answered: bool,
    /// The IMSI registered (user part of To).
    pub imsi: Option<String>,
}

/// Outcomes per Call-ID, from the UE's side (SIPp's trace).
pub fn outcomes(trace: &str) -> BTreeMap<String, Outcome> {
    let mut m: BTreeMap<String, Outcome> = BTreeMap::new();
    for t in parse_trace(trace) {
        let Some(cid) = header(&t.text, "Call-ID") else {
            continue;
        };
        let cseq = header(&t.text, "CSeq")
            .and_then(|c| c.split_whitespace().next())
            .and_then(|n| n.parse::<u32>().ok())
            .unwrap_or(0);
        let o = m.entry(cid.to_string()).or_default();
        if !t.received {
            if o.imsi.is_none() {
                o.imsi = header(&t.text, "To")
                    .and_then(|to| to.split("sip:").nth(1))
                    .and_then(|u| u.split('@').next())
                    .map(String::from);
            }
            if cseq == 2 {
                o.answered = true;
            }
            continue;
        }
        let Some(st) = status(&t.text) else { continue };
        if st == 401 && cseq == 1 {
            if let Some(w) = header(&t.text, "WWW-Authenticate") {
                o.nonce = param(w, "nonce");
                o.keys_leaked |= param(w, "ck").is_some() || param(w, "ik").is_some();
            }
        }
        if cseq == 2 && st >= 200 {
            o.final_status = Some(st);
        }
    }
    m
}

/// RES = f2(K, RAND) for the RAND of an AKA nonce `base64(RAND ‖ AUTN)` (RFC 3310 §3.2,
/// TS 35.206 §4.1), with the demo OP.
pub fn res_for(nonce: &str, k: &[u8; 16]) -> aka::Res {
    let n = aka::AkaNonce::decode(nonce).expect("nonce = base64(RAND ‖ AUTN)");
    let m = aka::Milenage::with_op(&aka::K::from_bytes(*k), &aka::Op::from_bytes(DEMO_OP));
    let (res, _ck, _ik, _ak) = m.f2345(&n.rand);
    res
}

/// Whether the RES of this challenge (for the demo K) holds a 0x00 byte — the case SIPp 3.6
/// answers wrongly because it handles RES as a C string.
pub fn res_has_zero(nonce: &str) -> bool {
    res_for(nonce, &DEMO_K).expose().contains(&0)
}

/// A minimal UE over UDP: sends REGISTERs and other requests written here and reads responses
/// (retransmitting at most 4 times, 1 s apart).
pub struct Ue {
    sock: UdpSocket,
    to: SocketAddr,
    branch: u64,
}

impl Ue {
    /// A UE bound to 127.0.0.1:`port` (0: any) that talks to `pcscf`.
    pub fn bind(port: u16, pcscf: SocketAddr) -> Ue {
        let sock = UdpSocket::bind(("127.0.0.1", port)).expect("UE bind");
        sock.set_read_timeout(Some(Duration::from_millis(1000)))
            .expect("timeout");
        Ue {
            sock,
            to: pcscf,
            branch: 0,
        }
    }

    /// Local address.
    pub fn local(&self) -> SocketAddr {
        self.sock.local_addr().expect("addr")
    }

    fn next_branch(&mut self) -> String {
        self.branch += 1;
        format!("z9hG4bK-ue-{}-{}", self.local().port(), self.branch)
    }

    /// Sends `req` and returns the first final response with its Call-ID and CSeq.
    pub fn transact(&mut self, req: &str) -> Option<String> {
        let cid = header(req, "Call-ID")?.to_string();
        let cseq = header(req, "CSeq")?.to_string();
        let mut buf = vec![0u8; 65536];
        for _ in 0..5 {
            self.sock.send_to(req.as_bytes(), self.to).expect("send");
            let until = Instant::now() + Duration::from_millis(1000);
            while Instant::now() < until {
                let Ok((n, _)) = self.sock.recv_from(&mut buf) else {
                    break;
                };
                let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                let same = header(&text, "Call-ID") == Some(cid.as_str())
                    && header(&text, "CSeq") == Some(cseq.as_str());
                if same && status(&text).is_some_and(|s| s >= 200) {
                    return Some(text);
                }
            }
        }
        None
    }

    /// The REGISTER this UE sends for `imsi`.
    pub fn register_request(&mut self, imsi: &str, call_id: &str, cseq: u32, auth: &str) -> String {
        let local = self.local();
        let branch = self.next_branch();
        format!(
            "REGISTER sip:{REALM} SIP/2.0\r\n\
             Via: SIP/2.0/UDP {local};branch={branch};rport\r\n\
             Max-Forwards: 70\r\n\
             From: <{impu}>;tag=ue{cseq}{port}\r\n\
             To: <{impu}>\r\n\
             Call-ID: {call_id}\r\n\
             CSeq: {cseq} REGISTER\r\n\
             Contact: <sip:{imsi}@{local}>\r\n\
             Expires: 600000\r\n\
             Supported: path\r\n\
             Authorization: {auth}\r\n\
             Content-Length: 0\r\n\r\n",
            impu = impu(imsi),
            port = local.port(),
        )
    }

    /// IMS-AKA registration of `imsi` with key `k`: REGISTER → 401 → REGISTER with the
    /// AKAv1-MD5 response (RFC 3310 §3.3) computed from RES = f2(k, RAND), without checking
    /// AUTN (so a wrong k yields a wrong response instead of a refusal). Returns the status of
    /// the 401 step (if not 401) or of the second REGISTER, and the nonce.
    pub fn register(&mut self, imsi: &str, k: &[u8; 16]) -> (Option<u16>, Option<String>) {
        let call_id = format!("ue-{imsi}-{}@127.0.0.1", self.local().port());
        let username = impi(imsi);
        let first_auth = format!(
            "Digest username=\"{username}\", realm=\"{REALM}\", uri=\"sip:{REALM}\", nonce=\"\", response=\"\""
        );
        let req = self.register_request(imsi, &call_id, 1, &first_auth);
        let Some(r) = self.transact(&req) else {
            return (None, None);
        };
        if status(&r) != Some(401) {
            return (status(&r), None);
        }
        let Some(nonce) = header(&r, "WWW-Authenticate").and_then(|w| param(w, "nonce")) else {
            return (Some(401), None);
        };
        let res = res_for(&nonce, k);
        let ha1 = aka::digest::ha1_akav1(&username, REALM, &res);
        let uri = format!("sip:{REALM}");
        let input = aka::digest::DigestInput {
            nonce: &nonce,
            method: "REGISTER",
            uri: &uri,
            qop: Some(aka::digest::QopParams {
                qop: aka::digest::Qop::Auth,
                nc: "00000001",
                cnonce: "0a4f113b",
            }),
            body: b"",
        };
        let response = aka::digest::response(&ha1, &input).expect("digest");
        let auth = format!(
            "Digest username=\"{username}\", realm=\"{REALM}\", uri=\"{uri}\", nonce=\"{nonce}\", \
             response=\"{response}\", algorithm=AKAv1-MD5, qop=auth, nc=00000001, cnonce=\"0a4f113b\""
        );
        let req = self.register_request(imsi, &call_id, 2, &auth);
        (self.transact(&req).and_then(|r| status(&r)), Some(nonce))
    }

    /// An out-of-dialog OPTIONS from `imsi` to itself; returns the final response.
    pub fn options(&mut self, imsi: &str) -> Option<String> {
        let local = self.local();
        let branch = self.next_branch();
        let req = format!(
            "OPTIONS {impu} SIP/2.0\r\n\
             Via: SIP/2.0/UDP {local};branch={branch};rport\r\n\
             Max-Forwards: 70\r\n\
             From: <{impu}>;tag=opt{port}\r\n\
             To: <{impu}>\r\n\
             Call-ID: options-{branch}@127.0.0.1\r\n\
             CSeq: 1 OPTIONS\r\n\
             Contact: <sip:{imsi}@{local}>\r\n\
             Content-Length: 0\r\n\r\n",
            impu = impu(imsi),
            port = local.port(),
        );
        self.transact(&req)
    }
}
