//! Subcommand implementations, one module per subcommand group.

pub mod aka;
pub mod bench;
pub mod config;
pub mod run;
pub mod subscriber;
pub mod ue;
pub mod up;
