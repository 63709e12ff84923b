//! `imscore`: the one binary of the IMS core. Subcommands are added as the roles they run become real;
//! each lives in its own module under `cmd/`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mimalloc rather than glibc's malloc: the SIP paths allocate and free small buffers per message
/// from several threads, where glibc's per-thread arenas grow by `mprotect` and page faults (a
/// sixth of the load generator's CPU time in `perf`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod cmd;
mod config;
mod system;

/// imscore: an IMS core (P-CSCF, I-CSCF, S-CSCF, HSS) and UE simulator.
#[derive(Debug, Parser)]
#[command(name = "imscore", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Starts the whole IMS core on loopback: HSS, I-CSCF, S-CSCF, P-CSCF (demo subscribers on
    /// first start).
    Up(cmd::up::UpArgs),
    /// Runs one role from a configuration file.
    Run(cmd::run::RunArgs),
    /// Configuration: print the commented example, check a file.
    #[command(subcommand)]
    Config(cmd::config::ConfigCmd),
    /// IMS-AKA tools: Milenage, authentication vectors, AUTS, Digest responses.
    #[command(subcommand)]
    Aka(cmd::aka::AkaCommand),
    /// HSS provisioning: add, import, list, show, set, delete subscribers, or the demo set.
    Subscriber(cmd::subscriber::SubscriberCmd),
    /// UE simulator: register one simulated UE/ISIM through a P-CSCF.
    #[command(subcommand)]
    Ue(cmd::ue::UeCmd),
    /// Registration load generator: many simulated UEs at an open-loop arrival rate.
    Bench(cmd::bench::BenchArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Up(a) => cmd::up::run(a),
        Command::Run(a) => cmd::run::run(a),
        Command::Config(c) => cmd::config::run(c),
        Command::Aka(c) => cmd::aka::run(c),
        Command::Subscriber(c) => cmd::subscriber::run(c),
        Command::Ue(c) => cmd::ue::run(c),
        Command::Bench(a) => cmd::bench::run(a),
    }
}
