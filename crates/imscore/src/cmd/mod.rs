//! Subcommand implementations, one module per subcommand group.

pub mod aka;
pub mod subscriber;
