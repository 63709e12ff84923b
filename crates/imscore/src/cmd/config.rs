//! `imscore config example | check FILE`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use crate::config::{Config, EXAMPLE};

/// Configuration tools.
#[derive(Debug, Subcommand)]
pub enum ConfigCmd {
    /// Prints a fully commented configuration (what `imscore up` runs).
    Example,
    /// Checks a configuration file; errors name the key and the reason.
    Check {
        /// The file.
        file: PathBuf,
    },
}

/// Runs a `config` subcommand.
pub fn run(cmd: ConfigCmd) -> ExitCode {
    match cmd {
        ConfigCmd::Example => {
            print!("{EXAMPLE}");
            ExitCode::SUCCESS
        }
        ConfigCmd::Check { file } => match Config::load(&file) {
            Ok(_) => {
                println!("{}: ok", file.display());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e:#}");
                ExitCode::from(2)
            }
        },
    }
}
