//! Network namespaces for multi-host tests (UE host, P-CSCF host) joined by a veth pair, and packet
//! captures inside them judged by tshark. Everything a test creates here is deleted when its guard
//! drops, also when the test fails. Needs root (CAP_NET_ADMIN); without it the helpers panic with
//! the failing command, so a test using them fails, never skips.

use std::io::{BufRead, Read};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::Duration;

/// Deletes its namespaces on drop (their veth ends and TUN devices go with them).
#[derive(Debug)]
pub struct Namespaces(pub Vec<String>);

impl Namespaces {
    /// Creates one bare namespace `name` (`ip netns add`), deleted when the guard drops.
    pub fn add(name: &str) -> Namespaces {
        ip(&["netns", "add", name]);
        Namespaces(vec![name.to_owned()])
    }
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        for n in &self.0 {
            let _ = Command::new("ip").args(["netns", "del", n]).status();
        }
    }
}

/// Runs `ip ARGS`, panicking with its stderr on failure; returns its stdout.
pub fn ip(args: &[&str]) -> String {
    let out = Command::new("ip")
        .args(args)
        .output()
        .expect("ip (iproute2) must be installed (scripts/test installs it)");
    assert!(
        out.status.success(),
        "ip {} (needs root): {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Sets a sysctl inside namespace `ns`.
pub fn sysctl(ns: &str, kv: &str) {
    ip(&["netns", "exec", ns, "sysctl", "-qw", kv]);
}

/// Moves the calling thread into network namespace `ns` (setns(2) affects only this thread; the
/// processes and sockets it creates afterwards live in `ns`).
pub fn enter(ns: &str) {
    let f = std::fs::File::open(format!("/var/run/netns/{ns}"))
        .unwrap_or_else(|e| panic!("namespace {ns}: {e}"));
    // SAFETY: setns on a valid namespace fd; affects only the calling thread.
    let rc = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
    assert_eq!(rc, 0, "setns {ns}: {}", std::io::Error::last_os_error());
}

/// Runs `f` on a new thread inside `ns` and returns its result.
pub fn in_ns<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let ns = ns.to_owned();
    thread::spawn(move || {
        enter(&ns);
        f()
    })
    .join()
    .expect("namespace thread")
}

/// Spawns `cmd` inside `ns` (a child inherits the namespace of the thread that forks it).
pub fn spawn_in(ns: &str, mut cmd: Command) -> std::io::Result<Child> {
    let ns = ns.to_owned();
    thread::spawn(move || {
        enter(&ns);
        cmd.spawn()
    })
    .join()
    .expect("namespace thread")
}

/// Two hosts: namespaces `a` and `b`, joined by `veth0` (in `a`, address `a_ip`) and `veth1` (in
/// `b`, `b_ip`), loopback up, reverse-path filtering off (the userspace ESP datapath injects
/// decrypted packets through a TUN device, which strict rp_filter would drop). IPv4 addresses get
/// a /24 and IPv6 is switched off (no neighbour-discovery noise in captures); IPv6 addresses get a
/// /64 without duplicate address detection (usable at once).
#[derive(Debug)]
pub struct VethPair {
    /// Namespace of the first host (e.g. the UE).
    pub a: String,
    /// Namespace of the second host (e.g. the P-CSCF).
    pub b: String,
    /// Deletes both on drop.
    pub guard: Namespaces,
}

impl VethPair {
    /// Creates the pair; names are `{prefix}a-{tag}-{pid}` and `{prefix}b-{tag}-{pid}`.
    pub fn new(prefix: &str, tag: &str, a_ip: &str, b_ip: &str) -> VethPair {
        let pid = std::process::id();
        let (a, b) = (
            format!("{prefix}a-{tag}-{pid}"),
            format!("{prefix}b-{tag}-{pid}"),
        );
        ip(&["netns", "add", &a]);
        let mut guard = Namespaces(vec![a.clone()]);
        ip(&["netns", "add", &b]);
        guard.0.push(b.clone());
        ip(&[
            "-n", &a, "link", "add", "veth0", "type", "veth", "peer", "name", "veth1", "netns", &b,
        ]);
        for (ns, addr, dev) in [(&a, a_ip, "veth0"), (&b, b_ip, "veth1")] {
            let v6 = addr.contains(':');
            sysctl(ns, "net.ipv4.conf.all.rp_filter=0");
            sysctl(ns, "net.ipv4.conf.default.rp_filter=0");
            let off = if v6 { 0 } else { 1 };
            sysctl(ns, &format!("net.ipv6.conf.all.disable_ipv6={off}"));
            sysctl(ns, &format!("net.ipv6.conf.default.disable_ipv6={off}"));
            if v6 {
                let cidr = format!("{addr}/64");
                ip(&["-n", ns, "addr", "add", &cidr, "dev", dev, "nodad"]);
            } else {
                let cidr = format!("{addr}/24");
                ip(&["-n", ns, "addr", "add", &cidr, "dev", dev]);
            }
            ip(&["-n", ns, "link", "set", dev, "up"]);
            ip(&["-n", ns, "link", "set", "lo", "up"]);
        }
        VethPair { a, b, guard }
    }
}

/// A running dumpcap (part of tshark) writing a pcap file.
#[derive(Debug)]
pub struct Capture {
    child: Child,
    /// The capture file.
    pub pcap: PathBuf,
}

impl Capture {
    /// Starts dumpcap on `devs` inside `ns` (`None`: the current namespace) into `pcap`, with an
    /// optional capture filter (applied to every device); returns once it is capturing (dumpcap writes the file header only
    /// once the interfaces are open).
    pub fn start(ns: Option<&str>, devs: &[&str], filter: Option<&str>, pcap: &Path) -> Capture {
        let mut c = Command::new("dumpcap");
        c.arg("-q");
        if devs.len() == 1 {
            // pcap format: its file header is written only once the interface is capturing
            c.arg("-P");
        }
        if let Some(f) = filter {
            // before the first -i: the default filter of every interface
            c.args(["-f", f]);
        }
        for d in devs {
            c.args(["-i", d]);
        }
        c.arg("-w")
            .arg(pcap)
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let spawned = match ns {
            Some(ns) => spawn_in(ns, c),
            None => c.spawn(),
        };
        let mut child =
            spawned.expect("dumpcap (tshark) must be installed (scripts/test installs it)");
        let mut waited = 0;
        while std::fs::metadata(pcap).map(|m| m.len()).unwrap_or(0) < 24 {
            if child.try_wait().ok().flatten().is_some() {
                let mut e = String::new();
                let _ = child.stderr.take().map(|mut s| s.read_to_string(&mut e));
                panic!("dumpcap exited: {e}");
            }
            assert!(waited < 200, "dumpcap did not start capturing in 10 s");
            thread::sleep(Duration::from_millis(50));
            waited += 1;
        }
        // keep draining stderr so dumpcap never blocks on a full pipe
        if let Some(stderr) = child.stderr.take() {
            thread::spawn(move || {
                for l in std::io::BufReader::new(stderr)
                    .lines()
                    .map_while(Result::ok)
                {
                    eprintln!("dumpcap: {l}");
                }
            });
        }
        Capture {
            child,
            pcap: pcap.to_owned(),
        }
    }

    /// Stops the capture cleanly: waits a moment for the last TPACKET_V3 block to be handed over,
    /// then SIGINT lets dumpcap flush the file.
    pub fn stop(mut self) -> PathBuf {
        thread::sleep(Duration::from_millis(1000));
        // SAFETY: kill(2) on the pid of a child we spawned and have not reaped yet.
        let rc = unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGINT) };
        assert_eq!(rc, 0, "SIGINT to dumpcap");
        let status = self.child.wait().expect("dumpcap wait");
        assert!(
            status.success() || status.code().is_none(),
            "dumpcap: {status}"
        );
        self.pcap.clone()
    }
}

impl Drop for Capture {
    /// A capture not stopped (the test failed first) is killed, not left running.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs `tshark -r pcap` with ESP decryption and authentication checking on (SAs from the
/// `esp_sa` file in the personal configuration directory `config`, if given), `extra` arguments
/// (e.g. `-d udp.port==4060,sip`), the display filter and the fields; one row per frame, fields
/// split on `|`, all occurrences of a field joined by `,`.
pub fn tshark_fields(
    config: Option<&Path>,
    pcap: &Path,
    extra: &[&str],
    filter: &str,
    fields: &[&str],
) -> Vec<Vec<String>> {
    let mut c = Command::new("tshark");
    if let Some(dir) = config {
        c.env("WIRESHARK_CONFIG_DIR", dir);
    }
    c.args(["-n", "-r"])
        .arg(pcap)
        .args(["-o", "esp.enable_encryption_decode:TRUE"])
        .args(["-o", "esp.enable_authentication_check:TRUE"])
        .args(extra)
        .args(["-Y", filter, "-T", "fields", "-E", "separator=|"])
        .args(["-E", "occurrence=a"]);
    for f in fields {
        c.args(["-e", f]);
    }
    let out = c
        .output()
        .expect("tshark must be installed (scripts/test installs it)");
    assert!(
        out.status.success(),
        "tshark: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.split('|').map(str::to_owned).collect())
        .collect()
}
