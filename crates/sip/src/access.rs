//! Typed accessors on [`Message`] for the headers an IMS core reads. Each parses on demand;
//! errors name the header and its line. Accessors for list headers return every element of
//! every line in order; for single headers, the first occurrence ([`Message::validate`] rejects
//! duplicates of From, To, Call-ID, CSeq and Max-Forwards).

use crate::error::{Error, Result};
use crate::headers::{
    AuthHeader, AuthenticationInfo, CSeq, Contact, ContentType, Event, NameAddr,
    PAccessNetworkInfo, PChargingVector, PVisitedNetworkId, RetryAfter, SecurityMechanism,
    SubscriptionState, Token, Via,
};
use crate::message::Message;
use crate::name::HeaderName;
use crate::text::Text;

impl Message {
    fn number(&self, id: HeaderName, max: u64) -> Result<Option<u64>> {
        let Some(h) = self.headers().find(|h| h.id == Some(id)) else {
            return Ok(None);
        };
        let (a, b) = crate::scan::trim(h.value, 0, h.value.len());
        crate::scan::parse_u64(h.value.get(a..b).unwrap_or(&[]), max)
            .map(Some)
            .ok_or_else(|| Error::BadHeader {
                line: h.line,
                name: id.as_str().into(),
                reason: "not a decimal number in range".into(),
            })
    }

    fn tokens(&self, id: HeaderName) -> Result<Vec<Text>> {
        Ok(self
            .parse_all::<Token>(id)?
            .into_iter()
            .map(|t| t.0)
            .collect())
    }

    /// All Via elements, top first (RFC 3261 §20.42).
    pub fn via(&self) -> Result<Vec<Via>> {
        self.parse_all(HeaderName::Via)
    }

    /// The topmost Via element only (cheap: other elements are not parsed).
    pub fn top_via(&self) -> Result<Via> {
        self.parse_required(HeaderName::Via)
    }

    /// From (RFC 3261 §20.20).
    pub fn from(&self) -> Result<NameAddr> {
        self.parse_required(HeaderName::From)
    }

    /// To (RFC 3261 §20.39).
    pub fn to(&self) -> Result<NameAddr> {
        self.parse_required(HeaderName::To)
    }

    /// Call-ID (RFC 3261 §20.8): `word [@ word]`.
    pub fn call_id(&self) -> Result<Text> {
        let t: Text = self.parse_required(HeaderName::CallId)?;
        let ok = t.bytes().filter(|&b| b == b'@').count() <= 1
            && t.split('@')
                .all(|w| !w.is_empty() && w.bytes().all(crate::headers::is_word_char_pub));
        if ok {
            Ok(t)
        } else {
            let line = self
                .headers()
                .find(|h| h.id == Some(HeaderName::CallId))
                .map_or(0, |h| h.line);
            Err(Error::BadHeader {
                line,
                name: "Call-ID".into(),
                reason: "not word[@word]".into(),
            })
        }
    }

    /// CSeq (RFC 3261 §20.16).
    pub fn cseq(&self) -> Result<CSeq> {
        self.parse_required(HeaderName::CSeq)
    }

    /// Max-Forwards (RFC 3261 §20.22, 0-255); `None` if absent.
    pub fn max_forwards(&self) -> Result<Option<u8>> {
        Ok(self.number(HeaderName::MaxForwards, 255)?.map(|n| n as u8))
    }

    /// Expires (RFC 3261 §20.19); `None` if absent.
    pub fn expires(&self) -> Result<Option<u32>> {
        Ok(self
            .number(HeaderName::Expires, u64::from(u32::MAX))?
            .map(|n| n as u32))
    }

    /// Min-Expires (RFC 3261 §20.23).
    pub fn min_expires(&self) -> Result<Option<u32>> {
        Ok(self
            .number(HeaderName::MinExpires, u64::from(u32::MAX))?
            .map(|n| n as u32))
    }

    /// Content-Length as declared (framing already checked it).
    pub fn content_length(&self) -> Result<Option<u32>> {
        Ok(self
            .number(HeaderName::ContentLength, u64::from(u32::MAX))?
            .map(|n| n as u32))
    }

    /// Contact elements (RFC 3261 §20.10); empty if absent.
    pub fn contacts(&self) -> Result<Vec<Contact>> {
        self.parse_all(HeaderName::Contact)
    }

    /// Route (RFC 3261 §20.34).
    pub fn route(&self) -> Result<Vec<NameAddr>> {
        self.parse_all(HeaderName::Route)
    }

    /// Record-Route (RFC 3261 §20.30).
    pub fn record_route(&self) -> Result<Vec<NameAddr>> {
        self.parse_all(HeaderName::RecordRoute)
    }

    /// Path (RFC 3327).
    pub fn path(&self) -> Result<Vec<NameAddr>> {
        self.parse_all(HeaderName::Path)
    }

    /// Service-Route (RFC 3608).
    pub fn service_route(&self) -> Result<Vec<NameAddr>> {
        self.parse_all(HeaderName::ServiceRoute)
    }

    /// P-Associated-URI (RFC 7315 §4.1).
    pub fn p_associated_uri(&self) -> Result<Vec<NameAddr>> {
        self.parse_all(HeaderName::PAssociatedUri)
    }

    /// P-Asserted-Identity (RFC 3325).
    pub fn p_asserted_identity(&self) -> Result<Vec<NameAddr>> {
        self.parse_all(HeaderName::PAssertedIdentity)
    }

    /// The first Authorization header (RFC 3261 §20.7).
    pub fn authorization(&self) -> Result<Option<AuthHeader>> {
        self.parse_first(HeaderName::Authorization)
    }

    /// Every Authorization header (one per realm).
    pub fn authorizations(&self) -> Result<Vec<AuthHeader>> {
        self.parse_all(HeaderName::Authorization)
    }

    /// The first Proxy-Authorization header.
    pub fn proxy_authorization(&self) -> Result<Option<AuthHeader>> {
        self.parse_first(HeaderName::ProxyAuthorization)
    }

    /// The first WWW-Authenticate header (RFC 3261 §20.44).
    pub fn www_authenticate(&self) -> Result<Option<AuthHeader>> {
        self.parse_first(HeaderName::WwwAuthenticate)
    }

    /// The first Proxy-Authenticate header.
    pub fn proxy_authenticate(&self) -> Result<Option<AuthHeader>> {
        self.parse_first(HeaderName::ProxyAuthenticate)
    }

    /// Authentication-Info (RFC 3261 §20.6).
    pub fn authentication_info(&self) -> Result<Option<AuthenticationInfo>> {
        self.parse_first(HeaderName::AuthenticationInfo)
    }

    /// Security-Client mechanisms (RFC 3329 §2.2), in order.
    pub fn security_client(&self) -> Result<Vec<SecurityMechanism>> {
        self.parse_all(HeaderName::SecurityClient)
    }

    /// Security-Server mechanisms.
    pub fn security_server(&self) -> Result<Vec<SecurityMechanism>> {
        self.parse_all(HeaderName::SecurityServer)
    }

    /// Security-Verify mechanisms.
    pub fn security_verify(&self) -> Result<Vec<SecurityMechanism>> {
        self.parse_all(HeaderName::SecurityVerify)
    }

    /// Require option tags.
    pub fn require(&self) -> Result<Vec<Text>> {
        self.tokens(HeaderName::Require)
    }

    /// Proxy-Require option tags.
    pub fn proxy_require(&self) -> Result<Vec<Text>> {
        self.tokens(HeaderName::ProxyRequire)
    }

    /// Supported option tags.
    pub fn supported(&self) -> Result<Vec<Text>> {
        self.tokens(HeaderName::Supported)
    }

    /// Unsupported option tags.
    pub fn unsupported(&self) -> Result<Vec<Text>> {
        self.tokens(HeaderName::Unsupported)
    }

    /// Allow methods.
    pub fn allow(&self) -> Result<Vec<Text>> {
        self.tokens(HeaderName::Allow)
    }

    /// Event (RFC 6665 §8.2.1).
    pub fn event(&self) -> Result<Option<Event>> {
        self.parse_first(HeaderName::Event)
    }

    /// Subscription-State (RFC 6665 §8.2.3).
    pub fn subscription_state(&self) -> Result<Option<SubscriptionState>> {
        self.parse_first(HeaderName::SubscriptionState)
    }

    /// Content-Type (RFC 3261 §20.15).
    pub fn content_type(&self) -> Result<Option<ContentType>> {
        self.parse_first(HeaderName::ContentType)
    }

    /// P-Access-Network-Info (RFC 7315 §4.4).
    pub fn p_access_network_info(&self) -> Result<Option<PAccessNetworkInfo>> {
        self.parse_first(HeaderName::PAccessNetworkInfo)
    }

    /// P-Visited-Network-ID elements (RFC 7315 §4.3).
    pub fn p_visited_network_id(&self) -> Result<Vec<PVisitedNetworkId>> {
        self.parse_all(HeaderName::PVisitedNetworkId)
    }

    /// P-Charging-Vector (RFC 7315 §4.6).
    pub fn p_charging_vector(&self) -> Result<Option<PChargingVector>> {
        self.parse_first(HeaderName::PChargingVector)
    }

    /// Retry-After (RFC 3261 §20.33).
    pub fn retry_after(&self) -> Result<Option<RetryAfter>> {
        self.parse_first(HeaderName::RetryAfter)
    }

    /// User-Agent text as received.
    pub fn user_agent(&self) -> Option<Text> {
        self.header_value(HeaderName::UserAgent)
    }

    /// Server text as received.
    pub fn server(&self) -> Option<Text> {
        self.header_value(HeaderName::Server)
    }
}
