//! Proxy core (RFC 3261 §16, RFC 3327 Path, RFC 3608 Service-Route): the stateless editing
//! functions in [`core`](self) and the transaction-stateful [`StatefulProxy`].

mod core;
mod stateful;

pub use self::core::{
    branch_for, check_request, is_loop, loop_hash, path_value, preloaded_route, prepare_forward,
    stamp_via, strip_own_via, validate_for_proxy, Prepared, ProxyConfig, Rejection,
};
pub use stateful::{build_cancel, BranchResponse, ProxyRequest, StatefulProxy};
