//! The crate's one error type.

use std::net::IpAddr;

/// Everything that can go wrong in the ESP engine, the SA table, the allocators and the packet
/// helpers. Variants that a peer can cause ("the packet was bad") are separate from the ones that
/// mean we were misused (bad key length, SPI already installed); [`IpsecError::counter`] gives a
/// stable name for per-reason drop counters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IpsecError {
    // ---- peer-supplied packets -------------------------------------------------------------
    /// A packet or header is shorter than its structure requires.
    #[error("truncated {what}: {len} bytes, need at least {need}")]
    Truncated {
        /// What was being parsed.
        what: &'static str,
        /// Bytes available.
        len: usize,
        /// Bytes required.
        need: usize,
    },
    /// A packet is longer than we accept.
    #[error("{what} too large: {len} bytes, limit {limit}")]
    TooLarge {
        /// What was too large.
        what: &'static str,
        /// Its length.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// No inbound SA for this SPI (RFC 4303 §3.4.2: discard, auditable event).
    #[error("no inbound SA for SPI {spi:#010x}")]
    UnknownSpi {
        /// The SPI of the packet.
        spi: u32,
    },
    /// The ICV did not verify (RFC 4303 §3.4.4).
    #[error("ICV verification failed on SPI {spi:#010x}")]
    AuthFailed {
        /// The SPI of the packet.
        spi: u32,
    },
    /// The sequence number is a duplicate or left of the window (RFC 4303 §3.4.3).
    #[error("replayed or too old sequence number {seq} on SPI {spi:#010x}")]
    Replay {
        /// The SPI of the packet.
        spi: u32,
        /// The rejected sequence number.
        seq: u32,
    },
    /// The ciphertext is not a whole number of cipher blocks (RFC 4303 §2.4).
    #[error("ciphertext of {len} bytes is not a multiple of the {block}-byte block")]
    BadCipherLength {
        /// Ciphertext length.
        len: usize,
        /// Cipher block size.
        block: usize,
    },
    /// Pad Length exceeds the plaintext or the padding bytes are not 1, 2, 3, … (RFC 4303 §2.4).
    #[error("bad ESP padding")]
    BadPadding,
    /// The decrypted payload's selector does not match the SA it came through (RFC 4301 §5.2).
    #[error("inbound packet does not match the selector of SA {spi:#010x}")]
    PolicyMismatch {
        /// The SPI of the packet.
        spi: u32,
    },
    /// An IP header is malformed.
    #[error("malformed IP header: {0}")]
    BadIpHeader(&'static str),
    /// The IP packet carries a protocol we do not handle here.
    #[error("unsupported IP protocol {0}")]
    UnsupportedProtocol(u8),

    // ---- local state / misuse -------------------------------------------------------------
    /// The outbound sequence number would wrap (RFC 4303 §3.3.3): the SA must be replaced.
    #[error("sequence number exhausted on SPI {spi:#010x}")]
    SeqOverflow {
        /// The SPI of the SA.
        spi: u32,
    },
    /// No outbound SA matches the packet's selector.
    #[error("no outbound SA for {local}:{local_port} -> {remote}:{remote_port} proto {protocol}")]
    NoOutboundSa {
        /// Source address.
        local: IpAddr,
        /// Destination address.
        remote: IpAddr,
        /// Source port.
        local_port: u16,
        /// Destination port.
        remote_port: u16,
        /// IP protocol.
        protocol: u8,
    },
    /// A key does not have the algorithm's length.
    #[error("{alg} key must be {need} bytes, got {len}")]
    BadKeyLength {
        /// Algorithm name.
        alg: &'static str,
        /// Given length.
        len: usize,
        /// Required length.
        need: usize,
    },
    /// SPIs 0–255 are reserved (RFC 4303 §2.1).
    #[error("SPI {0} is reserved (0-255)")]
    ReservedSpi(u32),
    /// The SPI is already installed / allocated.
    #[error("SPI {0:#010x} already in use")]
    SpiInUse(u32),
    /// The port is already allocated.
    #[error("port {0} already in use")]
    PortInUse(u16),
    /// An allocator has nothing left to hand out.
    #[error("{0} pool exhausted")]
    Exhausted(&'static str),
    /// An allocator range is empty or invalid.
    #[error("invalid allocator range: {0}")]
    BadRange(&'static str),
    /// A system call of the userspace datapath failed.
    #[error("{op}: {reason}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The OS error.
        reason: String,
    },
    /// Writing the Wireshark ESP SA file failed.
    #[error("ESP SA file: {0}")]
    Keylog(String),
}

impl IpsecError {
    /// A stable, low-cardinality name for drop counters / metrics labels.
    pub fn counter(&self) -> &'static str {
        match self {
            Self::Truncated { .. } => "truncated",
            Self::TooLarge { .. } => "too_large",
            Self::UnknownSpi { .. } => "unknown_spi",
            Self::AuthFailed { .. } => "auth_failed",
            Self::Replay { .. } => "replay",
            Self::BadCipherLength { .. } => "bad_cipher_length",
            Self::BadPadding => "bad_padding",
            Self::PolicyMismatch { .. } => "policy_mismatch",
            Self::BadIpHeader(_) => "bad_ip_header",
            Self::UnsupportedProtocol(_) => "unsupported_protocol",
            Self::SeqOverflow { .. } => "seq_overflow",
            Self::NoOutboundSa { .. } => "no_outbound_sa",
            Self::BadKeyLength { .. } => "bad_key_length",
            Self::ReservedSpi(_) => "reserved_spi",
            Self::SpiInUse(_) => "spi_in_use",
            Self::PortInUse(_) => "port_in_use",
            Self::Exhausted(_) => "exhausted",
            Self::BadRange(_) => "bad_range",
            Self::Keylog(_) => "keylog",
            Self::Io { .. } => "io",
        }
    }

    /// True when the error was caused by a received packet (drop and count it), false when it is
    /// local state or misuse.
    pub fn is_peer_error(&self) -> bool {
        matches!(
            self,
            Self::Truncated { .. }
                | Self::TooLarge { .. }
                | Self::UnknownSpi { .. }
                | Self::AuthFailed { .. }
                | Self::Replay { .. }
                | Self::BadCipherLength { .. }
                | Self::BadPadding
                | Self::PolicyMismatch { .. }
                | Self::BadIpHeader(_)
                | Self::UnsupportedProtocol(_)
        )
    }
}

/// Result alias.
pub type Result<T, E = IpsecError> = std::result::Result<T, E>;
