//! `imscore run <role> --config FILE`: one role of a configuration file.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::config::{Config, LogFormat};
use crate::system::{self, Role};

/// Arguments of `imscore run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The role to run.
    #[arg(value_enum)]
    pub role: Role,
    /// The configuration file (see `imscore config example`).
    #[arg(long)]
    pub config: PathBuf,
    /// Demo subscribers to provision in an empty HSS (role `hss` only).
    #[arg(long, default_value_t = 0)]
    pub demo_subscribers: u64,
    /// Log format (overrides the file).
    #[arg(long, value_enum)]
    pub log_format: Option<LogFormat>,
    /// Where this role serves `/metrics` (overrides `[metrics] listen`, so that several roles of one
    /// file can run on one host); `off` disables them.
    #[arg(long)]
    pub metrics_listen: Option<String>,
}

/// Runs one role until Ctrl-C.
pub fn run(args: RunArgs) -> ExitCode {
    let cfg = match Config::load(&args.config).and_then(|mut c| {
        match args.metrics_listen.as_deref() {
            None => {}
            Some("off") => c.metrics.listen = None,
            Some(a) => {
                c.metrics.listen = Some(a.parse().map_err(|_| {
                    anyhow::anyhow!("--metrics-listen: `{a}` is not ip:port or `off`")
                })?)
            }
        }
        Ok(c)
    }) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("imscore run: {e:#}");
            return ExitCode::from(2);
        }
    };
    system::init_logging(args.log_format.unwrap_or(cfg.log.format), &cfg.log.filter);
    let roles = [args.role];
    if let Err(e) = system::check_ports_free(&cfg, &roles) {
        eprintln!("imscore run: {e:#}");
        return ExitCode::from(1);
    }
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("imscore run: {e}");
            return ExitCode::FAILURE;
        }
    };
    rt.block_on(async move {
        let running = match system::start(&cfg, &roles, args.demo_subscribers).await {
            Ok(r) => r,
            Err(e) => {
                eprintln!("imscore run: {e:#}");
                return ExitCode::FAILURE;
            }
        };
        println!("imscore run {:?}: running", args.role);
        system::print_endpoints(&cfg, &running);
        let _ = tokio::signal::ctrl_c().await;
        running.shutdown().await;
        ExitCode::SUCCESS
    })
}
