//! `imscore`: the one binary of the IMS core. Subcommands are added as the roles they run become real.

use clap::Parser;

/// imscore: an IMS core (P-CSCF, I-CSCF, S-CSCF, HSS) and UE simulator.
#[derive(Debug, Parser)]
#[command(name = "imscore", version, about)]
struct Cli {}

fn main() {
    let _cli = Cli::parse();
}
