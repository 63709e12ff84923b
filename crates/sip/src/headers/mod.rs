//! Typed headers, parsed on demand from a [`crate::Message`] (RFC 3261 §20 and the IMS
//! extensions of TS 24.229 §7.2). Every type implements [`Header`] (parse one element) and
//! `Display` (write the value back, as the builder and editor do).

mod auth;
mod misc;
mod name_addr;
mod security;
mod via;

pub use auth::{AuthHeader, AuthenticationInfo, Challenge, Credentials};
pub use misc::{
    CSeq, ContentType, Event, PAccessNetworkInfo, PChargingVector, PVisitedNetworkId, RetryAfter,
    SubscriptionState, Token,
};
pub use name_addr::{Contact, NameAddr};
pub use security::SecurityMechanism;
pub use via::{Via, MAGIC_COOKIE};

use crate::error::{Error, Result};
use crate::text::Text;

/// A header value type.
pub trait Header: Sized {
    /// Parses one element: for list headers (see [`crate::HeaderName::is_list`]) one
    /// comma-separated element, otherwise the whole value. The text may contain folds.
    fn parse(value: &Text) -> std::result::Result<Self, &'static str>;

    /// Parses from a string outside a message (errors carry line 0).
    fn parse_str(s: &str) -> Result<Self> {
        Self::parse(&Text::from(s)).map_err(|reason| {
            Error::header(
                std::any::type_name::<Self>()
                    .rsplit("::")
                    .next()
                    .unwrap_or("header"),
                reason,
            )
        })
    }
}

impl Header for Text {
    /// The whole value as text (non-empty).
    fn parse(value: &Text) -> std::result::Result<Self, &'static str> {
        if value.is_empty() {
            Err("empty value")
        } else {
            Ok(value.clone())
        }
    }
}

/// RFC 3261 `word` character test (Call-ID).
pub(crate) fn is_word_char_pub(b: u8) -> bool {
    misc::is_word_char(b)
}
