//! `imscore subscriber …`: HSS provisioning on the embedded SQLite store (`--data-dir`) or on
//! PostgreSQL (`--db URL`). The commands themselves live in [`hss::cli`]; this module only runs them.
//!
//! `imscore subscriber deregister KEY [--reason TEXT] [--code NAME] [--api URL --token T]` asks a
//! running HSS's REST API to send the RTR (TS 29.228 §6.1.3) with that Reason-Code; with no HSS
//! reachable it de-registers in the database only and says that no RTR was sent.

use std::process::ExitCode;

pub use hss::cli::SubscriberCmd;

/// Runs one provisioning command on a single-threaded tokio runtime.
pub fn run(cmd: SubscriberCmd) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("imscore subscriber: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(hss::cli::run(cmd)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("imscore subscriber: {e}");
            ExitCode::FAILURE
        }
    }
}
