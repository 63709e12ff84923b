//! Harness of the interoperability tests (issue #11): runs implementations no one here wrote —
//! Kamailio 5.6 with its IMS modules (configs in `interop/kamailio/`), freeDiameter
//! (`interop/freediameter/`), SIPp, and tshark as the judge — next to `imscore run <role>`
//! processes, each on free loopback ports in a temporary directory.
//!
//! Every child runs in its own process group and the whole group is killed when its guard drops
//! (also when a test panics). Kamailio resolves the home network's host names (the HSS for cdp,
//! S-CSCF URIs for SIP) through a hosts file of the test: it runs in a private mount namespace
//! (`unshare -m`) where that file is bind-mounted on `/etc/hosts`.

#![allow(dead_code)] // each test binary uses a part of the harness

use std::fs::File;
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;
use testkit::netns::{self, ip};

/// The repository's `interop/` directory.
pub const INTEROP_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../interop");
const BIN: &str = env!("CARGO_BIN_EXE_imscore");

/// Host names of the home network (as in `imscore config example`).
pub const HSS_HOST: &str = "hss.ims.mnc001.mcc001.3gppnetwork.org";
/// The I-CSCF's host name.
pub const ICSCF_HOST: &str = "icscf.ims.mnc001.mcc001.3gppnetwork.org";
/// The S-CSCF's host name.
pub const SCSCF_HOST: &str = "scscf.ims.mnc001.mcc001.3gppnetwork.org";
/// The P-CSCF's host name.
pub const PCSCF_HOST: &str = "pcscf.ims.mnc001.mcc001.3gppnetwork.org";

/// A child process in its own process group, writing stdout and stderr to a log file; the
/// whole group is stopped (SIGTERM, then SIGKILL) when it drops.
pub struct Proc {
    name: String,
    child: Child,
    log: PathBuf,
}

impl Proc {
    /// Starts `cmd` as `name`, logging to `log`.
    pub fn spawn(name: &str, mut cmd: Command, log: PathBuf) -> Proc {
        let f = File::create(&log).expect("log file");
        cmd.stdin(Stdio::null())
            .stdout(f.try_clone().expect("log file"))
            .stderr(f)
            .process_group(0);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("{name}: cannot start {:?}: {e}", cmd.get_program()));
        Proc {
            name: name.into(),
            child,
            log,
        }
    }

    /// Its log so far.
    pub fn log(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(&self.log).unwrap_or_default()).into_owned()
    }

    /// The last `n` lines of its log.
    pub fn tail(&self, n: usize) -> String {
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// Waits (≤ `secs`) until its log contains `needle`; panics with the log if it exits or
    /// the time runs out.
    pub fn wait_for(&mut self, needle: &str, secs: u64) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if self.log().contains(needle) {
                return;
            }
            if let Ok(Some(st)) = self.child.try_wait() {
                panic!(
                    "{} exited ({st}) before logging {needle:?}:\n{}",
                    self.name,
                    self.tail(60)
                );
            }
            assert!(
                Instant::now() < deadline,
                "{} did not log {needle:?} within {secs} s:\n{}",
                self.name,
                self.tail(60)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Panics with its log if it is no longer running (e.g. a crashed Kamailio).
    pub fn assert_running(&mut self) {
        if let Ok(Some(st)) = self.child.try_wait() {
            panic!("{} exited ({st}):\n{}", self.name, self.tail(80));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-TERM", "--", &group])
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // Kamailio's and freeDiameter's helper processes go with the group
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Fills `@@NAME@@` placeholders of a template; panics if one is left.
pub fn fill(template: &str, vars: &[(&str, String)]) -> String {
    let mut s = template.to_string();
    for (k, v) in vars {
        s = s.replace(&format!("@@{k}@@"), v);
    }
    assert!(!s.contains("@@"), "unfilled placeholder in:\n{s}");
    s
}

fn read_template(rel: &str) -> String {
    let p = Path::new(INTEROP_DIR).join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn sqlite(db: &Path, sql: &str) {
    let mut c = Command::new("sqlite3")
        .arg(db)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("sqlite3 must be installed (Debian package sqlite3)");
    use std::io::Write;
    c.stdin
        .take()
        .expect("stdin")
        .write_all(sql.as_bytes())
        .expect("sqlite3 input");
    let out = c.wait_with_output().expect("sqlite3");
    assert!(
        out.status.success(),
        "sqlite3 {}: {}",
        db.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The hosts file Kamailio resolves with: every home-network name is loopback.
pub fn write_hosts(dir: &Path) -> PathBuf {
    let p = dir.join("hosts");
    std::fs::write(
        &p,
        format!(
            "127.0.0.1 localhost\n127.0.0.1 {HSS_HOST} {ICSCF_HOST} {SCSCF_HOST} {PCSCF_HOST} {REALM}\n"
        ),
    )
    .expect("hosts");
    p
}

/// Kamailio 5.6 playing one IMS role.
pub enum KamailioRole {
    /// I-CSCF (ims_icscf) whose S-CSCF list holds `scscf_uri`.
    Icscf {
        /// The S-CSCF it may choose.
        scscf_uri: String,
    },
    /// S-CSCF (ims_registrar_scscf, ims_auth, ims_usrloc_scscf).
    Scscf,
    /// P-CSCF (ims_registrar_pcscf, ims_usrloc_pcscf; sec-agree off) in network namespace
    /// `netns`, listening on `addr`, sending REGISTER to `icscf` (`host:port`); no Diameter.
    Pcscf {
        /// Its namespace.
        netns: String,
        /// Its SIP address there.
        addr: String,
        /// The I-CSCF (`host:port`, the host from the hosts file).
        icscf: String,
        /// Where the hosts file points the home network's names (the namespace's peer address).
        peer_ip: String,
    },
}

/// A network namespace joined to ours by a veth pair (10.231.x.1 here, 10.231.x.2 there);
/// deleted on drop.
pub struct Netns {
    /// Its name.
    pub name: String,
    /// Our end's interface.
    pub host_if: String,
    /// Our end's address.
    pub host_ip: String,
    /// Its end's address.
    pub ns_ip: String,
}

impl Netns {
    /// Creates it (names and subnet from the process id).
    pub fn create() -> Netns {
        let pid = std::process::id();
        let name = format!("imsint{pid}");
        let host_if = format!("vi{pid}h");
        let ns_if = format!("vi{pid}n");
        let x = pid % 250;
        let (host_ip, ns_ip) = (format!("10.231.{x}.1"), format!("10.231.{x}.2"));
        let _ = Command::new("ip").args(["netns", "del", &name]).output();
        let _ = Command::new("ip").args(["link", "del", &host_if]).output();
        ip(&["netns", "add", &name]);
        let n = Netns {
            name: name.clone(),
            host_if: host_if.clone(),
            host_ip: host_ip.clone(),
            ns_ip: ns_ip.clone(),
        };
        ip(&[
            "link", "add", &host_if, "type", "veth", "peer", "name", &ns_if,
        ]);
        ip(&["link", "set", &ns_if, "netns", &name]);
        ip(&["addr", "add", &format!("{host_ip}/30"), "dev", &host_if]);
        ip(&["link", "set", &host_if, "up"]);
        let inside = |a: &[&str]| {
            let mut v = vec!["netns", "exec", &name, "ip"];
            v.extend_from_slice(a);
            ip(&v);
        };
        inside(&["addr", "add", &format!("{ns_ip}/30"), "dev", &ns_if]);
        inside(&["link", "set", &ns_if, "up"]);
        inside(&["link", "set", "lo", "up"]);
        n
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["link", "del", &self.host_if])
            .output();
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

/// Starts Kamailio as `role` on `sip_port` (UDP and TCP), with Cx (cdp) to the HSS at
/// `hss_port`; waits until its SIP listener and Diameter acceptor are up.
pub fn kamailio(dir: &Path, role: KamailioRole, sip_port: u16, hss_port: u16) -> Proc {
    let (name, host) = match role {
        KamailioRole::Icscf { .. } => ("icscf", ICSCF_HOST),
        KamailioRole::Scscf => ("scscf", SCSCF_HOST),
        KamailioRole::Pcscf { .. } => ("pcscf", PCSCF_HOST),
    };
    let kdir = dir.join(format!("kamailio-{name}"));
    std::fs::create_dir_all(kdir.join("run")).expect("kamailio dir");
    let hosts = write_hosts(&kdir);
    let mut vars = vec![
        ("DIR", kdir.display().to_string()),
        ("DEBUG", "2".into()),
        ("CHILDREN", "4".into()),
        ("REALM", REALM.into()),
        ("SIP_PORT", sip_port.to_string()),
        ("SIP_HOST", host.into()),
        ("ORIGIN_HOST", host.into()),
        ("ORIGIN_REALM", REALM.into()),
        ("PEER_HOST", HSS_HOST.into()),
        ("PEER_REALM", REALM.into()),
        ("PEER_PORT", hss_port.to_string()),
        ("ACCEPT_PORT", testkit::scratch::free_tcp_port().to_string()),
    ];
    let mut netns = None;
    if let KamailioRole::Pcscf {
        netns: ns,
        addr,
        icscf,
        peer_ip,
    } = &role
    {
        vars.push(("SIP_ADDR", addr.clone()));
        vars.push(("ICSCF", icscf.clone()));
        vars.push(("IPSEC_CLIENT_PORT", "5100".into()));
        vars.push(("IPSEC_SERVER_PORT", "5200".into()));
        // in the namespace, the home network's names are our end of the veth pair
        let text = std::fs::read_to_string(&hosts).expect("hosts");
        std::fs::write(
            &hosts,
            text.replace("127.0.0.1 hss", &format!("{peer_ip} hss")),
        )
        .expect("hosts");
        netns = Some(ns.clone());
    }
    let cfg = kdir.join(format!("{name}.cfg"));
    std::fs::write(
        &cfg,
        fill(&read_template(&format!("kamailio/{name}.cfg")), &vars),
    )
    .expect("kamailio cfg");
    if netns.is_none() {
        std::fs::write(
            kdir.join(format!("{name}.xml")),
            fill(&read_template("kamailio/cdp.xml"), &vars),
        )
        .expect("cdp xml");
    }
    match &role {
        KamailioRole::Pcscf { .. } => {}
        KamailioRole::Icscf { scscf_uri } => {
            let db = kdir.join("icscf.sqlite");
            sqlite(&db, &read_template("kamailio/icscf.sql"));
            sqlite(
                &db,
                &format!("INSERT INTO s_cscf VALUES (1, 'S-CSCF', '{scscf_uri}');"),
            );
        }
        KamailioRole::Scscf => {
            // the presence module (needed by ims_usrloc_scscf) checks its tables' versions
            let db = kdir.join("scscf.sqlite");
            for f in ["standard-create.sql", "presence-create.sql"] {
                let p = Path::new("/usr/share/kamailio/db_sqlite").join(f);
                let sql = std::fs::read_to_string(&p).unwrap_or_else(|e| {
                    panic!(
                        "{}: {e} (Debian package kamailio-sqlite-modules)",
                        p.display()
                    )
                });
                sqlite(&db, &sql);
            }
        }
    }
    let mut cmd = match &netns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns, "unshare"]);
            c
        }
        None => Command::new("unshare"),
    };
    cmd.args(["-m", "sh", "-c"]).arg(format!(
        "mount --bind {hosts} /etc/hosts && exec kamailio -DD -E -f {cfg} -Y {run} -P {run}/kamailio.pid",
        hosts = hosts.display(),
        cfg = cfg.display(),
        run = kdir.join("run").display(),
    ));
    let mut p = Proc::spawn(
        &format!("kamailio {name}"),
        cmd,
        dir.join(format!("kamailio-{name}.log")),
    );
    if netns.is_some() {
        p.wait_for("ims_ipsec_pcscf", 20);
        std::thread::sleep(Duration::from_millis(1500));
    } else {
        p.wait_for("Acceptor opened sockets", 20);
    }
    p
}

/// `imscore config example` on `ports`, with its data directory in `dir`, then `edit`ed.
pub fn our_config(dir: &Path, ports: &Ports, edit: impl FnOnce(String) -> String) -> PathBuf {
    let text = config_text(ports).replace(
        "data_dir = \"./imscore-data\"",
        &format!("data_dir = {:?}", dir.join("data").display().to_string()),
    );
    let p = dir.join("imscore.toml");
    std::fs::write(&p, edit(text)).expect("config");
    p
}

/// `imscore run <role> --config cfg` (the HSS with `demo` demo subscribers); waits until it runs.
pub fn imscore_run(dir: &Path, cfg: &Path, role: &str, demo: u64) -> Proc {
    let mut cmd = Command::new(BIN);
    cmd.args(["run", role, "--config"])
        .arg(cfg)
        .args(["--metrics-listen", "off"])
        .args(["--demo-subscribers", &demo.to_string()]);
    let mut p = Proc::spawn(
        &format!("imscore {role}"),
        cmd,
        dir.join(format!("imscore-{role}.log")),
    );
    p.wait_for("running", 60);
    p
}

/// How long SIPp waits before it answers a challenge of Kamailio's S-CSCF. Kamailio 5.6's
/// ims_auth sends the 401 from its MAA callback and only then stores the authentication vector
/// as sent (cxdx_mar.c: `stateful_request_reply_async(..., 401, ...)` before
/// `add_auth_vector(...)`): a response arriving in between finds no vector,
/// `ims_www_authenticate` returns -1 and the UE is challenged again. SIPp on loopback answers
/// within a millisecond; a real UE takes longer than this to run AKA on its ISIM.
pub const KAMAILIO_UE_THINK_MS: u32 = 50;

/// The repository's SIPp scenario, with `P-Visited-Network-ID` added when `pvni` (SIPp sending
/// straight to an I-CSCF plays the UE and the P-CSCF; Kamailio's I-CSCF answers 400 without
/// it) and a pause of `think_ms` before the response to the challenge.
pub fn scenario_variant(dir: &Path, pvni: bool, think_ms: u32) -> PathBuf {
    let mut text = std::fs::read_to_string(SCENARIO).expect("scenario");
    if pvni {
        let line = "      Supported: path\n";
        assert_eq!(text.matches(line).count(), 2, "scenario changed");
        text = text.replace(
            line,
            &format!("{line}      P-Visited-Network-ID: {REALM}\n"),
        );
    }
    if think_ms > 0 {
        let end = "  </recv>\n";
        let at = text.find(end).expect("scenario changed") + end.len();
        text.insert_str(at, &format!("\n  <pause milliseconds=\"{think_ms}\"/>\n"));
    }
    let p = dir.join(format!("ims_aka_register_{pvni}_{think_ms}.xml"));
    std::fs::write(&p, text).expect("scenario");
    p
}

/// How SIPp reaches the core: its scenario, its address, the first hop.
pub struct Sipp<'a> {
    /// The scenario file.
    pub scenario: &'a Path,
    /// SIPp's IP address.
    pub local_ip: &'a str,
    /// The P-CSCF (or I-CSCF) it sends to.
    pub target: SocketAddr,
}

/// Registrations of one SIPp run, judged per Call-ID (see `up_sipp.rs`).
#[derive(Debug, Default)]
pub struct Tally {
    /// Registered (200).
    pub ok: usize,
    /// Refused because SIPp's response was wrong: RES holds a 0x00 byte (SIPp 3.6 defect).
    pub zero_failed: usize,
    /// Registered although RES holds a 0x00 byte.
    pub zero_ok: usize,
    /// Everything else: failures that must not happen.
    pub wrong: Vec<String>,
    /// Challenges that reached SIPp with ck or ik (a P-CSCF must remove them, TS 33.203 §7.1).
    pub keys_leaked: usize,
}

/// Judges every registration of a SIPp trace: a registration whose RES has no 0x00 byte must
/// end in 200; one whose RES has one may end in 403 (SIPp answered wrongly).
pub fn tally(run: &SippRun) -> Tally {
    let mut t = Tally::default();
    for (cid, o) in outcomes(&run.trace) {
        t.keys_leaked += usize::from(o.keys_leaked);
        let Some(nonce) = o.nonce.as_deref() else {
            t.wrong.push(format!("{cid}: no 401 challenge: {o:?}"));
            continue;
        };
        let zero = res_has_zero(nonce);
        match (o.final_status, zero) {
            (Some(200), false) => t.ok += 1,
            (Some(200), true) => {
                t.ok += 1;
                t.zero_ok += 1;
            }
            (Some(403), true) => t.zero_failed += 1,
            _ => t.wrong.push(format!(
                "{cid}: {:?} (RES has 0x00: {zero})",
                o.final_status
            )),
        }
    }
    t
}

/// Runs SIPp (`n` registrations of demo subscribers `from..from+n` at `rate`/s) against `target`
/// and asserts that every registration whose RES has no 0x00 byte succeeded.
pub fn register_all(
    dir: &Path,
    tag: &str,
    ue: &Sipp<'_>,
    from: u64,
    n: u64,
    rate: u32,
    procs: &[&Proc],
) -> Tally {
    let csv = dir.join(format!("{tag}.csv"));
    write_csv(&csv, from, n, &DEMO_K);
    let run = run_sipp_from(
        dir,
        ue.scenario,
        ue.local_ip,
        ue.target,
        SippJob {
            tag,
            csv: &csv,
            count: n as usize,
            rate,
            local_port: free_udp_port(),
            deadline_secs: 60,
        },
    );
    assert!(
        run.status.is_some(),
        "{tag}: SIPp did not finish:\n{}",
        run.output
    );
    assert!(
        !run.output.contains("MAC != eXpectedMAC"),
        "{tag}: SIPp rejected the AUTN:\n{}",
        run.output
    );
    let t = tally(&run);
    eprintln!(
        "{tag}: {n} registrations: {} OK, {} refused with 403 whose RES has a 0x00 byte (SIPp 3.6 \
         defect), {} OK despite a 0x00 in RES, {} wrong",
        t.ok,
        t.zero_failed,
        t.zero_ok,
        t.wrong.len()
    );
    if !t.wrong.is_empty() {
        // what the servers logged about them
        let mut logs = String::new();
        for p in procs {
            let log = p.log();
            logs.push_str(&format!("--- {}:\n", p.name));
            for w in &t.wrong {
                let cid = w.split(": ").next().unwrap_or(w);
                for l in log.lines().filter(|l| l.contains(cid)) {
                    logs.push_str(l);
                    logs.push('\n');
                }
            }
            for l in log
                .lines()
                .filter(|l| l.contains("ERROR") || l.contains("WARN"))
                .take(20)
            {
                logs.push_str(l);
                logs.push('\n');
            }
        }
        panic!(
            "{tag}: {} registrations failed that must not have:\n{}\nSIPp:\n{}\nlogs:\n{logs}",
            t.wrong.len(),
            t.wrong.join("\n"),
            run.output
        );
    }
    assert_eq!(
        t.ok + t.zero_failed,
        n as usize,
        "{tag}: one outcome per registration"
    );
    t
}

/// Waits (≤ 20 s) until a single registration (demo subscriber `imsi_n`) through `target` gets
/// a final answer from the S-CSCF (200, or 403 for a RES with 0x00): the Diameter peers are open.
pub fn warm_up(dir: &Path, ue: &Sipp<'_>, imsi_n: u64, procs: &mut [&mut Proc]) {
    let csv = dir.join("warm-up.csv");
    write_csv(&csv, imsi_n, 1, &DEMO_K);
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut last = String::new();
    while Instant::now() < deadline {
        for p in procs.iter_mut() {
            p.assert_running();
        }
        let run = run_sipp_from(
            dir,
            ue.scenario,
            ue.local_ip,
            ue.target,
            SippJob {
                tag: "warm-up",
                csv: &csv,
                count: 1,
                rate: 1,
                local_port: free_udp_port(),
                deadline_secs: 8,
            },
        );
        let t = tally(&run);
        if t.ok + t.zero_failed == 1 {
            return;
        }
        last = format!("{:?}\n{}", t.wrong, run.trace);
        std::thread::sleep(Duration::from_millis(500));
    }
    let logs: Vec<String> = procs
        .iter()
        .map(|p| format!("{}:\n{}", p.name, p.tail(30)))
        .collect();
    panic!(
        "no registration got through in 20 s:\n{last}\n{}",
        logs.join("\n\n")
    );
}

/// A dumpcap capture on `lo` of some ports; stopped (and the file complete) with [`Capture::stop`].
pub struct Capture {
    dumpcap: netns::Capture,
    /// The pcapng file.
    pub file: PathBuf,
}

impl Capture {
    /// Starts capturing `ports` (UDP and TCP) into `dir/name.pcapng`.
    pub fn start(dir: &Path, name: &str, ports: &[u16]) -> Capture {
        Capture::start_on(dir, name, &["lo"], ports)
    }

    /// Starts capturing `ports` (UDP and TCP) on `interfaces` into `dir/name.pcapng`.
    pub fn start_on(dir: &Path, name: &str, interfaces: &[&str], ports: &[u16]) -> Capture {
        let filter = ports
            .iter()
            .map(|p| format!("port {p}"))
            .collect::<Vec<_>>()
            .join(" or ");
        let file = dir.join(format!("{name}.pcapng"));
        let dumpcap = netns::Capture::start(None, interfaces, Some(&filter), &file);
        Capture { dumpcap, file }
    }

    /// Stops the capture and returns the file.
    pub fn stop(self) -> PathBuf {
        self.dumpcap.stop()
    }
}

/// What tshark says about the packets one side sent.
#[derive(Debug, Default)]
pub struct Verdict {
    /// SIP messages we sent.
    pub our_sip: usize,
    /// Diameter messages we sent.
    pub our_diameter: usize,
    /// SIP or Diameter messages the others sent.
    pub their_messages: usize,
    /// Malformed packets or expert items of warning level or above in what we sent.
    pub problems: Vec<String>,
}

fn tshark(file: &Path, decode: &[String], filter: &str, fields: &[&str]) -> Vec<Vec<String>> {
    let decode: Vec<&str> = decode.iter().map(String::as_str).collect();
    netns::tshark_fields(None, file, &decode, filter, fields)
}

/// Has tshark judge a capture: `sip_ports` (UDP) are decoded as SIP and `diameter_ports` (TCP) as
/// Diameter. What we sent is every SIP datagram from one of `our_sip_ports` and every TCP
/// segment from the end of a Diameter connection whose CER/CEA names one of `our_hosts` as
/// Origin-Host. Reports malformed packets and expert items of warning level or above in it.
pub fn judge(
    file: &Path,
    sip_ports: &[u16],
    diameter_ports: &[u16],
    our_sip_ports: &[u16],
    our_hosts: &[&str],
) -> Verdict {
    let mut decode = Vec::new();
    for p in sip_ports {
        decode.extend(["-d".to_string(), format!("udp.port=={p},sip")]);
    }
    for p in diameter_ports {
        decode.extend(["-d".to_string(), format!("tcp.port=={p},diameter")]);
    }
    // our ends of the Diameter connections: the source ports of our CER/CEA
    let mut our_tcp: Vec<String> = tshark(
        file,
        &decode,
        "diameter.cmd.code == 257",
        &["tcp.srcport", "diameter.Origin-Host"],
    )
    .into_iter()
    .filter(|r| r.len() == 2 && our_hosts.iter().any(|h| r[1].split(',').any(|o| o == *h)))
    .map(|r| r[0].clone())
    .collect();
    our_tcp.sort();
    our_tcp.dedup();
    let set = |v: Vec<String>| {
        if v.is_empty() {
            "0".to_string()
        } else {
            v.join(", ")
        }
    };
    let ours = format!(
        "(udp.srcport in {{{}}} || tcp.srcport in {{{}}})",
        set(our_sip_ports.iter().map(|p| p.to_string()).collect()),
        set(our_tcp),
    );
    // messages, not frames: one TCP segment may carry several Diameter messages
    let count = |f: &str, field: &str| -> usize {
        tshark(file, &decode, f, &[field])
            .iter()
            .map(|r| r[0].split(',').filter(|x| !x.is_empty()).count())
            .sum()
    };
    let mut v = Verdict {
        our_sip: count(&format!("sip && {ours}"), "frame.number"),
        our_diameter: count(&format!("diameter && {ours}"), "diameter.cmd.code"),
        their_messages: count(&format!("(sip || diameter) && !{ours}"), "frame.number"),
        problems: Vec::new(),
    };
    // _ws.expert.severity: Warning = 0x00600000, Error = 0x00800000. Items of the group
    // Sequence (0x02000000, TCP sequence analysis: D-SACK, retransmission, …) judge the kernel's
    // TCP on a busy loopback, not the messages we encode, and are left out.
    const SEP: char = '\u{1f}';
    let num = |x: &str| {
        x.strip_prefix("0x")
            .map(|h| u32::from_str_radix(h, 16).ok())
            .unwrap_or_else(|| x.parse().ok())
    };
    let mut cmd = Command::new("tshark");
    cmd.arg("-r").arg(file).args(&decode);
    cmd.args([
        "-Y",
        &format!("{ours} && (_ws.malformed || _ws.expert.severity >= 0x00600000)"),
        "-T",
        "fields",
        "-E",
        "separator=|",
        "-E",
        "occurrence=a",
        "-E",
        &format!("aggregator={SEP}"),
    ]);
    for f in [
        "frame.number",
        "_ws.col.Protocol",
        "_ws.expert.severity",
        "_ws.expert.group",
        "_ws.expert.message",
        "_ws.col.Info",
    ] {
        cmd.args(["-e", f]);
    }
    let out = cmd.output().expect("tshark must be installed");
    assert!(
        out.status.success(),
        "tshark: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let f: Vec<&str> = line.splitn(6, '|').collect();
        if f.len() < 6 {
            v.problems.push(line.to_string());
            continue;
        }
        let sev: Vec<&str> = f[2].split(SEP).collect();
        let grp: Vec<&str> = f[3].split(SEP).collect();
        let msg: Vec<&str> = f[4].split(SEP).collect();
        for (i, m) in msg.iter().enumerate() {
            let severity = sev.get(i).and_then(|x| num(x)).unwrap_or(u32::MAX);
            let group = grp.get(i).and_then(|x| num(x)).unwrap_or(0);
            if severity >= 0x0060_0000 && group != 0x0200_0000 {
                v.problems
                    .push(format!("frame {} {}: {m} | {}", f[0], f[1], f[5]));
            }
        }
    }
    v
}

/// Asserts a verdict: tshark saw our SIP (≥ `min_sip`) and Diameter (≥ `min_diameter`) messages
/// and the others', and found no malformed packet and no warning in ours.
pub fn assert_clean(tag: &str, v: &Verdict, min_sip: usize, min_diameter: usize) {
    eprintln!(
        "{tag}: tshark judged {} SIP and {} Diameter messages we sent ({} from the others): {} problems",
        v.our_sip,
        v.our_diameter,
        v.their_messages,
        v.problems.len()
    );
    assert!(
        v.our_sip >= min_sip,
        "{tag}: tshark saw only {} SIP messages of ours",
        v.our_sip
    );
    assert!(
        v.our_diameter >= min_diameter,
        "{tag}: tshark saw only {} Diameter messages of ours",
        v.our_diameter
    );
    assert!(
        v.their_messages > 0,
        "{tag}: tshark saw nothing from the other side"
    );
    assert!(
        v.problems.is_empty(),
        "{tag}: tshark found problems in what we sent:\n{}",
        v.problems.join("\n")
    );
}

/// The Diameter identity of the freeDiameter relay.
pub const DRA_HOST: &str = "dra.mnc001.mcc001.3gppnetwork.org";
/// Its realm.
pub const DRA_REALM: &str = "mnc001.mcc001.3gppnetwork.org";

/// Starts freeDiameter (`interop/freediameter/relay.conf`) as a relay on `port`: it connects to
/// the HSS at `hss_port` and accepts the Diameter clients `clients`; waits until the HSS
/// connection is open. Its TLS identity (which freeDiameter needs even for plain TCP peers) is
/// a self-signed certificate made with openssl.
pub fn freediameter(dir: &Path, port: u16, hss_port: u16, clients: &[&str]) -> Proc {
    let fdir = dir.join("freediameter");
    std::fs::create_dir_all(&fdir).expect("freediameter dir");
    let out = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args(["-subj", &format!("/CN={DRA_HOST}"), "-keyout"])
        .arg(fdir.join("dra.key"))
        .arg("-out")
        .arg(fdir.join("dra.crt"))
        .output()
        .expect("openssl must be installed");
    assert!(
        out.status.success(),
        "openssl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // the clients connect to the relay; ConnectPeer makes them known (their ConnectTo port is
    // closed, so the relay never reaches them first)
    let closed = testkit::scratch::free_tcp_port();
    let peers = clients
        .iter()
        .map(|c| {
            format!(
                "ConnectPeer = \"{c}\" {{ ConnectTo = \"127.0.0.1\"; Port = {closed}; No_TLS; }};"
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    let vars = vec![
        ("DIR", fdir.display().to_string()),
        ("IDENTITY", DRA_HOST.into()),
        ("REALM", DRA_REALM.into()),
        ("PORT", port.to_string()),
        ("HSS_HOST", HSS_HOST.into()),
        ("HSS_PORT", hss_port.to_string()),
        ("CSCF_PEERS", peers),
    ];
    let conf = fdir.join("relay.conf");
    std::fs::write(
        &conf,
        fill(&read_template("freediameter/relay.conf"), &vars),
    )
    .expect("relay.conf");
    let mut cmd = Command::new("freeDiameterd");
    cmd.arg("-c").arg(&conf);
    let mut p = Proc::spawn("freeDiameterd", cmd, dir.join("freediameter.log"));
    p.wait_for("STATE_OPEN", 20);
    p
}
