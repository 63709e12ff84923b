//! `imscore up`: the whole IMS core in one process on loopback — HSS, I-CSCF, S-CSCF, P-CSCF —
//! with the embedded SQLite databases in one data directory and demo subscribers on first start.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::config::{Config, LogFormat};
use crate::system::{self, Role};

/// Arguments of `imscore up`.
#[derive(Debug, Args)]
pub struct UpArgs {
    /// Directory of the embedded databases (created if missing).
    #[arg(long, default_value = hss::cli::DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,
    /// Demo subscribers to provision on first start (when the HSS is empty).
    #[arg(long, default_value_t = 1000)]
    pub demo_subscribers: u64,
    /// Log format.
    #[arg(long, value_enum)]
    pub log_format: Option<LogFormat>,
    /// Use this configuration instead of the built-in example (`imscore config example`).
    #[arg(long)]
    pub config: Option<PathBuf>,
}

/// Runs `imscore up` until Ctrl-C.
pub fn run(args: UpArgs) -> ExitCode {
    let cfg = match &args.config {
        Some(p) => Config::load(p).map(|mut c| {
            c.set_data_dir(&args.data_dir);
            c
        }),
        None => Config::example_in(&args.data_dir),
    };
    let cfg = match cfg {
        Ok(c) => c,
        Err(e) => {
            eprintln!("imscore up: {e:#}");
            return ExitCode::from(2);
        }
    };
    system::init_logging(args.log_format.unwrap_or(cfg.log.format), &cfg.log.filter);
    let roles = [Role::Hss, Role::Scscf, Role::Icscf, Role::Pcscf];
    if let Err(e) = system::check_ports_free(&cfg, &roles) {
        eprintln!("imscore up: {e:#}");
        return ExitCode::from(1);
    }
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("imscore up: {e}");
            return ExitCode::FAILURE;
        }
    };
    rt.block_on(async move {
        let running = match system::start(&cfg, &roles, args.demo_subscribers).await {
            Ok(r) => r,
            Err(e) => {
                eprintln!("imscore up: {e:#}");
                return ExitCode::FAILURE;
            }
        };
        println!(
            "imscore up: IMS core running, data in {}",
            cfg.data_dir.display()
        );
        system::print_endpoints(&cfg, &running);
        if args.demo_subscribers > 0 {
            print_demo(args.demo_subscribers);
        }
        println!("Ctrl-C stops.");
        let _ = tokio::signal::ctrl_c().await;
        println!("imscore up: stopping");
        running.shutdown().await;
        ExitCode::SUCCESS
    })
}

fn print_demo(n: u64) {
    use hss::provision::demo;
    println!(
        "  demo subscribers: {n}, IMSI {} … {}",
        demo::demo_imsi(1),
        demo::demo_imsi(n)
    );
    println!(
        "    IMPI <imsi>@{r}  IMPU sip:<imsi>@{r}",
        r = demo::DEMO_REALM
    );
    println!(
        "    K {} (\"{}\")  OP {} (\"{}\")  AMF {}",
        hex::encode(demo::DEMO_K),
        String::from_utf8_lossy(&demo::DEMO_K),
        hex::encode(demo::DEMO_OP),
        String::from_utf8_lossy(&demo::DEMO_OP),
        hex::encode(demo::DEMO_AMF)
    );
}
