//! `imscore ue …`: the UE simulator on the command line.
//!
//! `imscore ue register` runs one simulated UE/ISIM against a P-CSCF: the TS 24.229 §5.1.1
//! registration with IMS-AKA (AUTN check and SQN freshness per TS 33.102 §6.3.3 and Annex C, AUTS
//! resynchronisation, RFC 3310 Digest), the reg-event subscription (RFC 3680; a refusal such as
//! 489 leaves the UE registered without it), re-registration on the TS 24.229 §5.1.1.4.1 schedule
//! and de-registration on Ctrl-C. Exit status 0 only when registered (or cleanly de-registered
//! after Ctrl-C); otherwise the reason is printed and the status is 1 (2 for bad arguments).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use tokio::sync::watch;
use ue::driver::{self, Outcome, Report, RunOptions, TransportKind, Wire};
use ue::{isim, Credentials, Isim, Ue, UeConfig};

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
    /// TLS (not supported yet).
    Tls,
}

/// Security agreement (RFC 3329, TS 33.203).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SecArg {
    /// No security agreement.
    None,
    /// IPsec SAs (not supported yet).
    Ipsec,
    /// TLS (not supported yet).
    Tls,
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
    match a.sec {
        SecArg::None => {}
        SecArg::Ipsec | SecArg::Tls => {
            return fail(
                2,
                format!(
                    "--sec {}: security agreement is not supported yet (only --sec none)",
                    if a.sec == SecArg::Ipsec {
                        "ipsec"
                    } else {
                        "tls"
                    }
                ),
            )
        }
    }
    let kind = match a.transport {
        TransportArg::Udp => TransportKind::Udp,
        TransportArg::Tcp => TransportKind::Tcp,
        TransportArg::Tls => return fail(2, "--transport tls: not supported yet (use udp or tcp)"),
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
        let pcscf: SocketAddr = match tokio::net::lookup_host(&a.pcscf).await {
            Ok(mut it) => match it.next() {
                Some(addr) => addr,
                None => return fail(2, format!("--pcscf {}: no address", a.pcscf)),
            },
            Err(e) => return fail(2, format!("--pcscf {}: {e}", a.pcscf)),
        };
        let wire = match kind {
            TransportKind::Udp => Wire::udp(pcscf).await,
            TransportKind::Tcp => Wire::tcp(pcscf).await,
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
        let outcome = driver::run(ue, wire, &opts, stop_rx, |r| match r {
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
