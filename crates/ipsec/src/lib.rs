//! IPsec for IMS security agreement (TS 33.203 §7, RFC 3329 `ipsec-3gpp`).
//!
//! This crate holds the sans-IO parts of the userspace IPsec datapath:
//!
//! * [`esp`]: ESP transport mode (RFC 4303) outbound/inbound SAs — sequence numbers, padding, CBC
//!   encryption (null / aes-cbc / des-ede3-cbc), HMAC-96 integrity (hmac-md5-96 / hmac-sha-1-96),
//!   constant-time ICV check before decryption, anti-replay ([`replay`]).
//! * [`sa_set`]: the four SAs of a TS 33.203 §7.1 set (spi-c/spi-s, port-c/port-s) from one side.
//! * [`table`]: the SA database — inbound SAs by SPI, outbound SAs by selector — with drop counters.
//! * [`alloc`]: SPI and protected-port allocators (never colliding, recycled only after release).
//! * [`packet`]: IPv4/IPv6 header build/parse and the TUN ⇄ raw-socket transforms
//!   ([`packet::seal_ip_packet`], [`packet::open_ip_packet`]).
//! * [`keylog`]: Wireshark's `esp_sa` UAT file (`--esp-keylog FILE`).
//! * [`backend`] (Linux): [`backend::SaBackend`] — where SA sets are installed: userspace
//!   datapath or kernel XFRM.
//! * [`datapath`] (Linux): the userspace datapath — TUN device + raw ESP socket + SA table.
//! * [`fuzzing`]: entry points for the fuzz targets and the corpus test.
//!
//! Keys come from `aka::ipsec` (TS 33.203 Annex I key expansion); the algorithm and key types are
//! re-exported here.

pub mod alloc;
#[cfg(target_os = "linux")]
pub mod backend;
#[cfg(target_os = "linux")]
pub mod datapath;
pub mod error;
pub mod esp;
pub mod fuzzing;
pub mod keylog;
pub mod packet;
pub mod replay;
pub mod sa_set;
pub mod table;
#[cfg(target_os = "linux")]
pub mod xfrm;

pub use aka::ipsec::{encryption_key, integrity_key, EncryptionAlg, EspKey, IntegrityAlg};
pub use alloc::{PortAllocator, SpiAllocator};
pub use error::{IpsecError, Result};
pub use esp::{InboundSa, Opened, OutboundSa, SaKeys, ESP_HEADER_LEN, ICV_LEN, IPPROTO_ESP};
pub use keylog::{EspSaRecord, Keylog};
pub use replay::ReplayWindow;
pub use sa_set::{Endpoint, ImsSaSet};

pub use table::{Counters, SaTable, Selector};
