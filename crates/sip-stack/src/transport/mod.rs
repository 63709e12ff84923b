//! UDP, TCP and TLS transports (RFC 3261 §18) and the tokio [`Endpoint`] that owns the sockets.

mod conn;
mod endpoint;
mod reject;
mod tls;

pub use endpoint::{Endpoint, EndpointConfig, Inbound};
pub use reject::reject_unparsable;
pub use tls::{generate_self_signed, TlsConfig};
