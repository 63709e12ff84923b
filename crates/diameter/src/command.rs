//! Base protocol command codes (RFC 6733 §3.1) and application ids (§2.4).

/// Capabilities-Exchange-Request/Answer (CER/CEA), RFC 6733 §5.3.
pub const CAPABILITIES_EXCHANGE: u32 = 257;
/// Re-Auth-Request/Answer, RFC 6733 §8.3.
pub const RE_AUTH: u32 = 258;
/// Accounting-Request/Answer, RFC 6733 §9.7.
pub const ACCOUNTING: u32 = 271;
/// Abort-Session-Request/Answer, RFC 6733 §8.5.
pub const ABORT_SESSION: u32 = 274;
/// Session-Termination-Request/Answer, RFC 6733 §8.4.
pub const SESSION_TERMINATION: u32 = 275;
/// Device-Watchdog-Request/Answer (DWR/DWA), RFC 6733 §5.5.
pub const DEVICE_WATCHDOG: u32 = 280;
/// Disconnect-Peer-Request/Answer (DPR/DPA), RFC 6733 §5.4.
pub const DISCONNECT_PEER: u32 = 282;

/// Diameter common messages application id (RFC 6733 §2.4).
pub const APP_COMMON: u32 = 0;
/// Relay application id (RFC 6733 §2.4).
pub const APP_RELAY: u32 = 0xffff_ffff;

/// Whether `code` is one of the base-protocol peer-level commands handled by the peer state machine.
pub fn is_peer_command(code: u32) -> bool {
    matches!(
        code,
        CAPABILITIES_EXCHANGE | DEVICE_WATCHDOG | DISCONNECT_PEER
    )
}
