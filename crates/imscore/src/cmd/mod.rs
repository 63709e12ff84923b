//! Subcommand implementations, one module per subcommand group.

pub mod aka;
pub mod config;
pub mod run;
pub mod subscriber;
pub mod up;
