//! # sip: the SIP message layer of imscore (no I/O)
//!
//! Parses SIP requests and responses (RFC 3261 §7, §25) from datagrams ([`Message::parse`]) and
//! streams ([`parse_stream`], [`decode_stream`]), keeping the received [`bytes::Bytes`] and
//! indexing header lines as byte ranges. Headers are parsed into types only when asked
//! ([`Message::via`], [`Message::authorization`], [`Message::security_verify`],
//! [`Message::parse_all`]…). New messages are made with [`MessageBuilder`]; received ones are
//! changed with [`Editor`], which copies every untouched byte.
//!
//! Every parse error is an [`Error`] naming the line and header, with [`Error::status`] and
//! [`Error::reason_phrase`] giving the response a server should send. Nothing panics on input.
//!
//! ```
//! let raw = b"REGISTER sip:ims.example.net SIP/2.0\r\n\
//! Via: SIP/2.0/UDP [2001:db8::1]:5060;branch=z9hG4bK776\r\n\
//! Max-Forwards: 70\r\n\
//! From: <sip:alice@ims.example.net>;tag=a1\r\n\
//! To: <sip:alice@ims.example.net>\r\n\
//! Call-ID: c1@2001:db8::1\r\n\
//! CSeq: 1 REGISTER\r\n\
//! Security-Client: ipsec-3gpp;alg=hmac-sha-1-96;spi-c=1;spi-s=2;port-c=5062;port-s=5064\r\n\
//! Content-Length: 0\r\n\r\n";
//! let msg = sip::Message::parse(&raw[..]).unwrap();
//! msg.validate().unwrap();
//! assert_eq!(msg.top_via().unwrap().branch(), Some("z9hG4bK776"));
//! assert_eq!(msg.security_client().unwrap()[0].port_s(), Some(5064));
//! ```

#![deny(unsafe_code)]
#![warn(missing_docs)]

mod access;
mod builder;
mod editor;
mod error;
pub mod fuzz;
pub mod headers;
mod message;
mod name;
mod params;
mod scan;
mod stream;
mod text;
mod uri;

pub use builder::MessageBuilder;
pub use editor::Editor;
pub use error::{Error, Result};
pub use headers::{
    AuthHeader, AuthenticationInfo, CSeq, Challenge, Contact, ContentType, Credentials, Event,
    Header, NameAddr, PAccessNetworkInfo, PChargingVector, PVisitedNetworkId, RetryAfter,
    SecurityMechanism, SubscriptionState, Token, Via, MAGIC_COOKIE,
};
pub use message::{HeaderRef, Limits, Message, Method};
pub use name::{same_name, HeaderName};
pub use params::{Param, Params};
pub use scan::{is_token_str, write_quoted};
pub use stream::{decode_stream, parse_stream, take_pong, StreamItem};
pub use text::Text;
pub use uri::{unescape, Host, SipUri, TelUri, Uri};
