//! `imscore ue …`: the UE simulator on the command line.
//!
//! `imscore ue register` runs one simulated UE/ISIM against a P-CSCF: the TS 24.229 §5.1.1
//! registration with IMS-AKA (AUTN check and SQN freshness per TS 33.102 §6.3.3 and Annex C, AUTS
//! resynchronisation, RFC 3310 Digest), the reg-event subscription (RFC 3680; a refusal such as
//! 489 leaves the UE registered without it), re-registration on the TS 24.229 §5.1.1.4.1 schedule
//! and de-registration on Ctrl-C. Exit status 0 only when registered (or cleanly de-registered
//! after Ctrl-C); otherwise the reason is printed and the status is 1 (2 for bad arguments, or
//! when `--sec ipsec` lacks the privileges for its datapath).
//!
//! Security agreement (RFC 3329, TS 33.203 §7 and Annex O): `--transport tls` is "TLS prior to
//! registration" (TLS to `--pcscf`, no sec-agree headers); `--sec tls` is "TLS during
//! registration" (Security-Client: tls over UDP/TCP, then TLS to `--pcscf-tls`); `--sec ipsec`
//! sets up the four ipsec-3gpp SAs on the userspace ESP datapath of the `ue` crate.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use tokio::sync::watch;
use ue::driver::{self, Outcome, Report, RunOptions, Security, TransportKind, Wire};
use ue::ipsec::{IpsecSettings, IpsecUe, UeDatapath};
use ue::tls::TlsClient;
use ue::{isim, Credentials, Isim, Ue, UeConfig, UeError};

/// `imscore ue` subcommands.
#[derive(Debug, Subcommand)]
pub enum UeCmd {
    /// Registers one simulated UE through a P-CSCF and keeps it registered until Ctrl-C.
    Register(RegisterArgs),
}

/// Transport to the P-CSCF.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TransportArg {
    /// UDP (with RFC 3261 retransmissions).
    Udp,
    /// TCP.
    Tcp,
    /// TLS to --pcscf (its TLS listener): "TLS prior to registration", no sec-agree headers.
    Tls,
}

/// Security agreement (RFC 3329, TS 33.203).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SecArg {
    /// No security agreement.
    None,
    /// ipsec-3gpp SAs (TS 33.203 §7) on a userspace ESP datapath: needs root (TUN device, raw
    /// ESP socket, policy routing).
    Ipsec,
    /// "TLS during registration": offer tls, then open TLS to --pcscf-tls after the 401.
    Tls,
}

/// TLS and IPsec options shared by `imscore ue register` and `imscore bench`.
#[derive(Debug, Clone, Args)]
pub struct SecArgs {
    /// The P-CSCF's TLS listener for --sec tls, HOST:PORT [default: the --pcscf host, port + 1].
    #[arg(long, value_name = "HOST:PORT")]
    pub pcscf_tls: Option<String>,
    /// Verify the P-CSCF's TLS certificate against the CA certificates in this PEM file
    /// [default: the system bundle /etc/ssl/certs/ca-certificates.crt].
    #[arg(long, value_name = "FILE", conflicts_with = "tls_insecure")]
    pub tls_ca: Option<PathBuf>,
    /// Accept any TLS certificate from the P-CSCF. Lab use only: it gives no protection against
    /// a man in the middle.
    #[arg(long)]
    pub tls_insecure: bool,
    /// Name checked in the P-CSCF's certificate [default: the host of the TLS address].
    #[arg(long, value_name = "NAME")]
    pub tls_server_name: Option<String>,
    /// Integrity algorithms offered with --sec ipsec (comma-separated; hmac-sha-1-96,
    /// hmac-md5-96) [default: both].
    #[arg(long, value_delimiter = ',', value_name = "ALG")]
    pub ipsec_alg: Vec<String>,
    /// Encryption algorithms offered with --sec ipsec (comma-separated; null, aes-cbc,
    /// des-ede3-cbc) [default: all].
    #[arg(long, value_delimiter = ',', value_name = "EALG")]
    pub ipsec_ealg: Vec<String>,
    /// Protected ports (port-c, port-s) for --sec ipsec are taken from LO-HI; everything sent
    /// from them to the P-CSCF is routed into the ESP datapath.
    #[arg(long, value_name = "LO-HI", default_value = "30000-32767", value_parser = parse_range)]
    pub ipsec_ports: (u16, u16),
    /// Append the UE's SAs (with keys) to FILE in Wireshark's esp_sa format, for decrypting
    /// captures. Debugging only.
    #[arg(long, value_name = "FILE")]
    pub esp_keylog: Option<PathBuf>,
}

/// Parses `LO-HI`.
fn parse_range(s: &str) -> Result<(u16, u16), String> {
    let (a, b) = s
        .split_once('-')
        .ok_or_else(|| format!("{s:?}: expected LO-HI"))?;
    let lo: u16 = a.trim().parse().map_err(|_| format!("{s:?}: bad port"))?;
    let hi: u16 = b.trim().parse().map_err(|_| format!("{s:?}: bad port"))?;
    if lo == 0 || lo >= hi {
        return Err(format!("{s:?}: need 0 < LO < HI"));
    }
    Ok((lo, hi))
}

/// The Debian/Ubuntu system CA bundle.
const SYSTEM_CA: &str = "/etc/ssl/certs/ca-certificates.crt";

impl SecArgs {
    /// The TLS client settings for a TLS address written `addr` (host checked unless
    /// `--tls-server-name`).
    pub fn tls_client(&self, addr: &str) -> Result<TlsClient, String> {
        let host = addr
            .rsplit_once(':')
            .map(|(h, _)| h)
            .unwrap_or(addr)
            .trim_start_matches('[')
            .trim_end_matches(']');
        let name = self.tls_server_name.as_deref().unwrap_or(host);
        let r = if self.tls_insecure {
            TlsClient::insecure(name)
        } else if let Some(ca) = &self.tls_ca {
            TlsClient::with_ca_file(ca, name)
        } else if Path::new(SYSTEM_CA).exists() {
            TlsClient::with_ca_file(Path::new(SYSTEM_CA), name)
        } else {
            return Err(format!(
                "no CA to verify the P-CSCF's TLS certificate: give --tls-ca FILE \
                 (or --tls-insecure in a lab); {SYSTEM_CA} does not exist"
            ));
        };
        r.map_err(|e| e.to_string())
    }

    /// The TLS listener for --sec tls: `--pcscf-tls`, else the P-CSCF's host with port + 1.
    pub fn tls_address(&self, pcscf_arg: &str, pcscf: SocketAddr) -> String {
        match &self.pcscf_tls {
            Some(a) => a.clone(),
            None => {
                let host = pcscf_arg
                    .rsplit_once(':')
                    .map(|(h, _)| h.to_string())
                    .unwrap_or_else(|| pcscf.ip().to_string());
                format!("{host}:{}", pcscf.port().saturating_add(1))
            }
        }
    }

    /// Starts the process's ESP datapath towards `pcscf`. A loopback P-CSCF is refused: the
    /// kernel delivers loopback traffic before any policy rule, so it would never pass the ESP
    /// datapath (run the P-CSCF in another network namespace or host).
    pub fn datapath(&self, pcscf: SocketAddr) -> Result<UeDatapath, UeError> {
        if pcscf.ip().is_loopback() {
            return Err(UeError::Config(format!(
                "--sec ipsec: the P-CSCF {pcscf} is on loopback, which never passes the ESP \
                 datapath; run it on another host or network namespace"
            )));
        }
        // the policy rule routes the protected port range into the ESP datapath: the kernel's
        // ephemeral ports, where the unprotected sockets are bound, must stay outside it
        let (a, b) = self.ipsec_ports;
        if let Some((lo, hi)) = ephemeral_port_range() {
            if a <= hi && lo <= b {
                return Err(UeError::Config(format!(
                    "--ipsec-ports {a}-{b} overlaps the kernel's ephemeral port range {lo}-{hi} \
                     (net.ipv4.ip_local_port_range), where the unprotected sockets are bound: \
                     their traffic would be routed into the ESP datapath; choose ports outside it"
                )));
            }
        }
        let local = driver::local_ip_for(pcscf);
        let mut s = IpsecSettings::new(pcscf.ip(), local);
        s.ports = self.ipsec_ports;
        s.keylog = self.esp_keylog.clone();
        UeDatapath::start(s)
    }
}

/// The kernel's ephemeral port range in this network namespace (`ip_local_port_range`).
fn ephemeral_port_range() -> Option<(u16, u16)> {
    let t = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").ok()?;
    let mut it = t.split_whitespace().map(|v| v.parse::<u16>().ok());
    Some((it.next()??, it.next()??))
}

/// Resolves HOST:PORT.
pub async fn resolve(what: &str, a: &str) -> Result<SocketAddr, String> {
    match tokio::net::lookup_host(a).await {
        Ok(mut it) => it.next().ok_or_else(|| format!("{what} {a}: no address")),
        Err(e) => Err(format!("{what} {a}: {e}")),
    }
}

/// Arguments of `imscore ue register`.
#[derive(Debug, Args)]
pub struct RegisterArgs {
    /// The P-CSCF, HOST:PORT.
    #[arg(long)]
    pub pcscf: String,
    /// Private user identity (e.g. 001010000000001@ims.mnc001.mcc001.3gppnetwork.org).
    #[arg(long)]
    pub impi: String,
    /// Public user identity (e.g. sip:001010000000001@ims.mnc001.mcc001.3gppnetwork.org).
    #[arg(long)]
    pub impu: String,
    /// Subscriber key K (32 hex digits).
    #[arg(long)]
    pub k: String,
    /// Operator variant OP (32 hex digits).
    #[arg(long, conflicts_with = "opc", required_unless_present = "opc")]
    pub op: Option<String>,
    /// Derived operator variant OPc (32 hex digits).
    #[arg(long)]
    pub opc: Option<String>,
    /// AMF (4 hex digits), informational.
    #[arg(long)]
    pub amf: Option<String>,
    /// Transport to the P-CSCF.
    #[arg(long, value_enum, default_value_t = TransportArg::Udp)]
    pub transport: TransportArg,
    /// Security agreement.
    #[arg(long, value_enum, default_value_t = SecArg::None)]
    pub sec: SecArg,
    /// Registration expiry asked for (seconds).
    #[arg(long, default_value_t = 600_000)]
    pub expires: u32,
    /// The simulated ISIM's SQN state (JSON), read at start and written after every accepted
    /// AUTN.
    #[arg(long)]
    pub state: Option<PathBuf>,
    /// Print a ladder of every message exchanged.
    #[arg(long)]
    pub trace: bool,
    /// Exit as soon as registered (after the reg-event SUBSCRIBE is answered).
    #[arg(long)]
    pub once: bool,
    /// Do not subscribe to the reg event.
    #[arg(long)]
    pub no_reg_event: bool,
    /// TLS and IPsec settings.
    #[command(flatten)]
    pub secopts: SecArgs,
}

/// Runs `imscore ue …`.
pub fn run(cmd: UeCmd) -> ExitCode {
    match cmd {
        UeCmd::Register(a) => register(a),
    }
}

fn fail(code: u8, msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("imscore ue register: {msg}");
    ExitCode::from(code)
}

fn build_isim(a: &RegisterArgs) -> Result<Isim, String> {
    let mut isim = Isim::from_hex(&a.k, a.op.as_deref(), a.opc.as_deref(), a.amf.as_deref())
        .map_err(|e| e.to_string())?;
    if let Some(p) = &a.state {
        if let Some(state) = isim::load_state(p).map_err(|e| e.to_string())? {
            isim.set_state(state).map_err(|e| e.to_string())?;
        }
    }
    Ok(isim)
}

fn register(a: RegisterArgs) -> ExitCode {
    if a.transport == TransportArg::Tls && a.sec != SecArg::None {
        return fail(
            2,
            "--transport tls is \"TLS prior to registration\" (no sec-agree): use it with --sec none",
        );
    }
    let kind = match a.transport {
        TransportArg::Udp => TransportKind::Udp,
        TransportArg::Tcp => TransportKind::Tcp,
        TransportArg::Tls => TransportKind::Tls,
    };
    let isim = match build_isim(&a) {
        Ok(i) => i,
        Err(e) => return fail(2, e),
    };
    let Some((_, home)) = a.impi.rsplit_once('@') else {
        return fail(2, "--impi must be user@realm (TS 23.003 §13.3)");
    };
    let home = home.to_string();
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(1, e),
    };
    rt.block_on(async move {
        let pcscf = match resolve("--pcscf", &a.pcscf).await {
            Ok(p) => p,
            Err(e) => return fail(2, e),
        };
        let wire = match kind {
            TransportKind::Udp => Wire::udp(pcscf).await,
            TransportKind::Tcp => Wire::tcp(pcscf).await,
            TransportKind::Tls => match a.secopts.tls_client(&a.pcscf) {
                Ok(c) => Wire::tls(pcscf, &c).await,
                Err(e) => return fail(2, e),
            },
        };
        let wire = match wire {
            Ok(w) => w,
            Err(e) => return fail(1, e),
        };
        let local = wire.local_addr();
        let mut cfg = UeConfig::new(
            a.impi.clone(),
            a.impu.clone(),
            home,
            local.ip().to_string(),
            local.port(),
        );
        let mut _datapath = None;
        let security = match a.sec {
            SecArg::None => Security::None,
            SecArg::Tls => {
                let addr = a.secopts.tls_address(&a.pcscf, pcscf);
                let client = match a.secopts.tls_client(&addr) {
                    Ok(c) => c,
                    Err(e) => return fail(2, e),
                };
                let tls = match resolve("--pcscf-tls", &addr).await {
                    Ok(t) => t,
                    Err(e) => return fail(2, e),
                };
                cfg.security.tls = true;
                Security::Tls { pcscf: tls, client }
            }
            SecArg::Ipsec => {
                let dp = match a.secopts.datapath(pcscf) {
                    Ok(d) => d,
                    Err(e @ (UeError::Privilege(_) | UeError::Config(_))) => return fail(2, e),
                    Err(e) => return fail(1, e),
                };
                let sec = IpsecUe::allocate(
                    &dp,
                    kind,
                    a.secopts.ipsec_alg.clone(),
                    a.secopts.ipsec_ealg.clone(),
                )
                .await;
                let sec = match sec {
                    Ok(s) => s,
                    Err(e @ UeError::Config(_)) => return fail(2, e),
                    Err(e) => return fail(1, e),
                };
                cfg.security.ipsec = Some(sec.offer());
                _datapath = Some(dp);
                Security::Ipsec(sec)
            }
        };
        cfg.transport = kind.via_token().into();
        cfg.pcscf = Some((pcscf.ip().to_string(), pcscf.port()));
        cfg.expires = a.expires;
        // TS 24.229 §5.1.1.3: the UE subscribes to its reg event for 600 000 s, whatever the
        // registration's own interval
        cfg.reg_event_expires = (!a.no_reg_event).then_some(600_000);
        let ue = match Ue::new(cfg, Credentials::Aka(Box::new(isim))) {
            Ok(u) => u,
            Err(e) => return fail(2, e),
        };
        let opts = RunOptions {
            state_file: a.state.clone(),
            once: a.once,
            trace: a.trace,
            ..RunOptions::default()
        };
        let (stop_tx, stop_rx) = watch::channel(false);
        let stopped = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stopped.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                flag.store(true, std::sync::atomic::Ordering::SeqCst);
                let _ = stop_tx.send(true);
                // keep the sender alive so the UE sees exactly one stop
                std::future::pending::<()>().await;
            }
        });
        let impu = a.impu.clone();
        let ever = std::cell::Cell::new(false);
        let outcome = driver::run_with(ue, wire, security, &opts, stop_rx, |r| match r {
            Report::Trace(l) => println!("{l}"),
            Report::Registered { expires, initial } => {
                ever.set(true);
                if initial {
                    println!("registered: {impu} for {expires} s (local {local}, P-CSCF {pcscf})");
                } else {
                    println!("re-registered: {impu} for {expires} s");
                }
            }
            Report::SubscribeAnswered(code) if (200..300).contains(&code) => {
                println!("reg event: subscribed ({code})");
            }
            Report::SubscribeAnswered(code) => {
                println!("reg event: subscription refused ({code}); staying registered without it");
            }
            Report::Deregistering => println!("de-registering"),
            Report::Registering { .. } | Report::Retransmission => {}
        })
        .await;
        match outcome {
            Outcome::Registered => ExitCode::SUCCESS,
            Outcome::Deregistered
                if ever.get() && stopped.load(std::sync::atomic::Ordering::SeqCst) =>
            {
                println!("de-registered");
                ExitCode::SUCCESS
            }
            Outcome::Deregistered if stopped.load(std::sync::atomic::Ordering::SeqCst) => {
                fail(1, "interrupted before the registration completed")
            }
            Outcome::Deregistered => fail(1, "de-registered by the network"),
            Outcome::Failed(reason) => fail(1, reason),
        }
    })
}
