//! Header names: canonical spelling, case-insensitive lookup and the compact forms of
//! RFC 3261 §7.3.3 (i m e l c f s k t v) and later RFCs (o u: RFC 6665, r: RFC 3515, b: RFC 3892,
//! x: RFC 4028, y: RFC 8224, n: RFC 4474, a j d: RFC 3841).

use std::fmt;

/// A header name known to this crate. Unknown names are kept verbatim by the message index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HeaderName {
    /// `Accept`
    Accept,
    /// `Accept-Contact` (compact `a`)
    AcceptContact,
    /// `Accept-Encoding`
    AcceptEncoding,
    /// `Accept-Language`
    AcceptLanguage,
    /// `Alert-Info`
    AlertInfo,
    /// `Allow`
    Allow,
    /// `Allow-Events` (compact `u`)
    AllowEvents,
    /// `Authentication-Info`
    AuthenticationInfo,
    /// `Authorization`
    Authorization,
    /// `Call-ID` (compact `i`)
    CallId,
    /// `Call-Info`
    CallInfo,
    /// `Contact` (compact `m`)
    Contact,
    /// `Content-Disposition`
    ContentDisposition,
    /// `Content-Encoding` (compact `e`)
    ContentEncoding,
    /// `Content-Language`
    ContentLanguage,
    /// `Content-Length` (compact `l`)
    ContentLength,
    /// `Content-Type` (compact `c`)
    ContentType,
    /// `CSeq`
    CSeq,
    /// `Date`
    Date,
    /// `Error-Info`
    ErrorInfo,
    /// `Event` (compact `o`)
    Event,
    /// `Expires`
    Expires,
    /// `From` (compact `f`)
    From,
    /// `Identity` (compact `y`)
    Identity,
    /// `Identity-Info` (compact `n`)
    IdentityInfo,
    /// `In-Reply-To`
    InReplyTo,
    /// `Max-Forwards`
    MaxForwards,
    /// `Min-Expires`
    MinExpires,
    /// `Min-SE`
    MinSe,
    /// `MIME-Version`
    MimeVersion,
    /// `Organization`
    Organization,
    /// `P-Access-Network-Info`
    PAccessNetworkInfo,
    /// `P-Asserted-Identity`
    PAssertedIdentity,
    /// `P-Associated-URI`
    PAssociatedUri,
    /// `P-Called-Party-ID`
    PCalledPartyId,
    /// `P-Charging-Function-Addresses`
    PChargingFunctionAddresses,
    /// `P-Charging-Vector`
    PChargingVector,
    /// `P-Preferred-Identity`
    PPreferredIdentity,
    /// `P-Visited-Network-ID`
    PVisitedNetworkId,
    /// `Path`
    Path,
    /// `Priority`
    Priority,
    /// `Privacy`
    Privacy,
    /// `Proxy-Authenticate`
    ProxyAuthenticate,
    /// `Proxy-Authorization`
    ProxyAuthorization,
    /// `Proxy-Require`
    ProxyRequire,
    /// `RAck`
    RAck,
    /// `Reason`
    Reason,
    /// `Record-Route`
    RecordRoute,
    /// `Refer-To` (compact `r`)
    ReferTo,
    /// `Referred-By` (compact `b`)
    ReferredBy,
    /// `Reject-Contact` (compact `j`)
    RejectContact,
    /// `Reply-To`
    ReplyTo,
    /// `Request-Disposition` (compact `d`)
    RequestDisposition,
    /// `Require`
    Require,
    /// `Retry-After`
    RetryAfter,
    /// `Route`
    Route,
    /// `RSeq`
    RSeq,
    /// `Security-Client`
    SecurityClient,
    /// `Security-Server`
    SecurityServer,
    /// `Security-Verify`
    SecurityVerify,
    /// `Server`
    Server,
    /// `Service-Route`
    ServiceRoute,
    /// `Session-Expires` (compact `x`)
    SessionExpires,
    /// `Subject` (compact `s`)
    Subject,
    /// `Subscription-State`
    SubscriptionState,
    /// `Supported` (compact `k`)
    Supported,
    /// `Timestamp`
    Timestamp,
    /// `To` (compact `t`)
    To,
    /// `Unsupported`
    Unsupported,
    /// `User-Agent`
    UserAgent,
    /// `Via` (compact `v`)
    Via,
    /// `Warning`
    Warning,
    /// `WWW-Authenticate`
    WwwAuthenticate,
}

/// Little-endian word of `s[at..at + w]` (`w` ≤ 8), zero-extended.
const fn load(s: &[u8], at: usize, w: usize) -> u64 {
    let mut v = 0u64;
    let mut i = 0;
    while i < w {
        if at + i < s.len() {
            v |= (s[at + i] as u64) << (8 * i);
        }
        i += 1;
    }
    v
}

/// Words covering a name of 1 to 32 bytes: bytes 0..8 (zero-padded when shorter), then 8..16
/// and 16..24 where the name reaches that far, and always its last 8 bytes (offsets clamped to
/// `n - 8`, so words may overlap). Equal words mean equal names of the same length.
const fn offsets(n: usize) -> [usize; 3] {
    let last = n.saturating_sub(8);
    [
        if 8 < last { 8 } else { last },
        if 16 < last { 16 } else { last },
        last,
    ]
}

/// The four words of a name (kept in registers: an array would be compared with wide loads
/// right after narrow stores, which stalls).
#[derive(Clone, Copy, PartialEq, Eq)]
struct Words(u64, u64, u64, u64);

/// [`offsets`] words of a lower-case literal, evaluated at compile time.
const fn lit_words(lit: &[u8]) -> Words {
    let n = lit.len();
    if n <= 8 {
        return Words(load(lit, 0, n), 0, 0, 0);
    }
    let o = offsets(n);
    Words(
        load(lit, 0, 8),
        load(lit, o[0], 8),
        load(lit, o[1], 8),
        load(lit, o[2], 8),
    )
}

/// [`offsets`] words of a received name (1 to 32 bytes) with 0x20 OR-ed into every byte, loaded
/// with fixed-size reads (overlapping ones for names shorter than 8 bytes).
#[inline(always)]
fn name_words(name: &[u8]) -> Words {
    const LOWER: u64 = 0x2020_2020_2020_2020;
    let n = name.len();
    let word = |at: usize| {
        name.get(at..)
            .and_then(|s| s.first_chunk::<8>())
            .map_or(0, |w| u64::from_le_bytes(*w) | LOWER)
    };
    if n > 8 {
        let o = offsets(n);
        return Words(word(0), word(o[0]), word(o[1]), word(o[2]));
    }
    // 1..=8 bytes: two overlapping reads of 4 (or 2, or 1) bytes, merged
    let part = |at: usize, w: usize| -> u64 {
        match w {
            4 => name
                .get(at..)
                .and_then(|s| s.first_chunk::<4>())
                .map_or(0, |b| u64::from(u32::from_le_bytes(*b))),
            2 => name
                .get(at..)
                .and_then(|s| s.first_chunk::<2>())
                .map_or(0, |b| u64::from(u16::from_le_bytes(*b))),
            _ => name.get(at).map_or(0, |&b| u64::from(b)),
        }
    };
    let w = match n {
        8 => return Words(word(0), 0, 0, 0),
        4..=7 => part(0, 4) | (part(n - 4, 4) << (8 * (n - 4))),
        2..=3 => part(0, 2) | (part(n - 2, 2) << (8 * (n - 2))),
        _ => part(0, 1),
    };
    let mask = if n >= 8 {
        u64::MAX
    } else {
        (1u64 << (8 * n)) - 1
    };
    Words((w | LOWER) & mask, 0, 0, 0)
}

impl HeaderName {
    /// Every known name.
    pub const ALL: &'static [HeaderName] = &[
        HeaderName::Accept,
        HeaderName::AcceptContact,
        HeaderName::AcceptEncoding,
        HeaderName::AcceptLanguage,
        HeaderName::AlertInfo,
        HeaderName::Allow,
        HeaderName::AllowEvents,
        HeaderName::AuthenticationInfo,
        HeaderName::Authorization,
        HeaderName::CallId,
        HeaderName::CallInfo,
        HeaderName::Contact,
        HeaderName::ContentDisposition,
        HeaderName::ContentEncoding,
        HeaderName::ContentLanguage,
        HeaderName::ContentLength,
        HeaderName::ContentType,
        HeaderName::CSeq,
        HeaderName::Date,
        HeaderName::ErrorInfo,
        HeaderName::Event,
        HeaderName::Expires,
        HeaderName::From,
        HeaderName::Identity,
        HeaderName::IdentityInfo,
        HeaderName::InReplyTo,
        HeaderName::MaxForwards,
        HeaderName::MinExpires,
        HeaderName::MinSe,
        HeaderName::MimeVersion,
        HeaderName::Organization,
        HeaderName::PAccessNetworkInfo,
        HeaderName::PAssertedIdentity,
        HeaderName::PAssociatedUri,
        HeaderName::PCalledPartyId,
        HeaderName::PChargingFunctionAddresses,
        HeaderName::PChargingVector,
        HeaderName::PPreferredIdentity,
        HeaderName::PVisitedNetworkId,
        HeaderName::Path,
        HeaderName::Priority,
        HeaderName::Privacy,
        HeaderName::ProxyAuthenticate,
        HeaderName::ProxyAuthorization,
        HeaderName::ProxyRequire,
        HeaderName::RAck,
        HeaderName::Reason,
        HeaderName::RecordRoute,
        HeaderName::ReferTo,
        HeaderName::ReferredBy,
        HeaderName::RejectContact,
        HeaderName::ReplyTo,
        HeaderName::RequestDisposition,
        HeaderName::Require,
        HeaderName::RetryAfter,
        HeaderName::Route,
        HeaderName::RSeq,
        HeaderName::SecurityClient,
        HeaderName::SecurityServer,
        HeaderName::SecurityVerify,
        HeaderName::Server,
        HeaderName::ServiceRoute,
        HeaderName::SessionExpires,
        HeaderName::Subject,
        HeaderName::SubscriptionState,
        HeaderName::Supported,
        HeaderName::Timestamp,
        HeaderName::To,
        HeaderName::Unsupported,
        HeaderName::UserAgent,
        HeaderName::Via,
        HeaderName::Warning,
        HeaderName::WwwAuthenticate,
    ];

    /// The canonical spelling, e.g. `Call-ID`, `WWW-Authenticate`.
    pub const fn as_str(self) -> &'static str {
        match self {
            HeaderName::Accept => "Accept",
            HeaderName::AcceptContact => "Accept-Contact",
            HeaderName::AcceptEncoding => "Accept-Encoding",
            HeaderName::AcceptLanguage => "Accept-Language",
            HeaderName::AlertInfo => "Alert-Info",
            HeaderName::Allow => "Allow",
            HeaderName::AllowEvents => "Allow-Events",
            HeaderName::AuthenticationInfo => "Authentication-Info",
            HeaderName::Authorization => "Authorization",
            HeaderName::CallId => "Call-ID",
            HeaderName::CallInfo => "Call-Info",
            HeaderName::Contact => "Contact",
            HeaderName::ContentDisposition => "Content-Disposition",
            HeaderName::ContentEncoding => "Content-Encoding",
            HeaderName::ContentLanguage => "Content-Language",
            HeaderName::ContentLength => "Content-Length",
            HeaderName::ContentType => "Content-Type",
            HeaderName::CSeq => "CSeq",
            HeaderName::Date => "Date",
            HeaderName::ErrorInfo => "Error-Info",
            HeaderName::Event => "Event",
            HeaderName::Expires => "Expires",
            HeaderName::From => "From",
            HeaderName::Identity => "Identity",
            HeaderName::IdentityInfo => "Identity-Info",
            HeaderName::InReplyTo => "In-Reply-To",
            HeaderName::MaxForwards => "Max-Forwards",
            HeaderName::MinExpires => "Min-Expires",
            HeaderName::MinSe => "Min-SE",
            HeaderName::MimeVersion => "MIME-Version",
            HeaderName::Organization => "Organization",
            HeaderName::PAccessNetworkInfo => "P-Access-Network-Info",
            HeaderName::PAssertedIdentity => "P-Asserted-Identity",
            HeaderName::PAssociatedUri => "P-Associated-URI",
            HeaderName::PCalledPartyId => "P-Called-Party-ID",
            HeaderName::PChargingFunctionAddresses => "P-Charging-Function-Addresses",
            HeaderName::PChargingVector => "P-Charging-Vector",
            HeaderName::PPreferredIdentity => "P-Preferred-Identity",
            HeaderName::PVisitedNetworkId => "P-Visited-Network-ID",
            HeaderName::Path => "Path",
            HeaderName::Priority => "Priority",
            HeaderName::Privacy => "Privacy",
            HeaderName::ProxyAuthenticate => "Proxy-Authenticate",
            HeaderName::ProxyAuthorization => "Proxy-Authorization",
            HeaderName::ProxyRequire => "Proxy-Require",
            HeaderName::RAck => "RAck",
            HeaderName::Reason => "Reason",
            HeaderName::RecordRoute => "Record-Route",
            HeaderName::ReferTo => "Refer-To",
            HeaderName::ReferredBy => "Referred-By",
            HeaderName::RejectContact => "Reject-Contact",
            HeaderName::ReplyTo => "Reply-To",
            HeaderName::RequestDisposition => "Request-Disposition",
            HeaderName::Require => "Require",
            HeaderName::RetryAfter => "Retry-After",
            HeaderName::Route => "Route",
            HeaderName::RSeq => "RSeq",
            HeaderName::SecurityClient => "Security-Client",
            HeaderName::SecurityServer => "Security-Server",
            HeaderName::SecurityVerify => "Security-Verify",
            HeaderName::Server => "Server",
            HeaderName::ServiceRoute => "Service-Route",
            HeaderName::SessionExpires => "Session-Expires",
            HeaderName::Subject => "Subject",
            HeaderName::SubscriptionState => "Subscription-State",
            HeaderName::Supported => "Supported",
            HeaderName::Timestamp => "Timestamp",
            HeaderName::To => "To",
            HeaderName::Unsupported => "Unsupported",
            HeaderName::UserAgent => "User-Agent",
            HeaderName::Via => "Via",
            HeaderName::Warning => "Warning",
            HeaderName::WwwAuthenticate => "WWW-Authenticate",
        }
    }

    /// The compact form, if the header has one.
    pub const fn compact(self) -> Option<char> {
        match self {
            HeaderName::AcceptContact => Some('a'),
            HeaderName::AllowEvents => Some('u'),
            HeaderName::CallId => Some('i'),
            HeaderName::Contact => Some('m'),
            HeaderName::ContentEncoding => Some('e'),
            HeaderName::ContentLength => Some('l'),
            HeaderName::ContentType => Some('c'),
            HeaderName::Event => Some('o'),
            HeaderName::From => Some('f'),
            HeaderName::Identity => Some('y'),
            HeaderName::IdentityInfo => Some('n'),
            HeaderName::ReferTo => Some('r'),
            HeaderName::ReferredBy => Some('b'),
            HeaderName::RejectContact => Some('j'),
            HeaderName::RequestDisposition => Some('d'),
            HeaderName::SessionExpires => Some('x'),
            HeaderName::Subject => Some('s'),
            HeaderName::Supported => Some('k'),
            HeaderName::To => Some('t'),
            HeaderName::Via => Some('v'),
            _ => None,
        }
    }

    /// Looks a name up case-insensitively, accepting compact forms. `None` for unknown names.
    pub fn from_bytes(name: &[u8]) -> Option<HeaderName> {
        let n = name.len();
        if n == 1 {
            return Some(match name.first()?.to_ascii_lowercase() {
                b'a' => HeaderName::AcceptContact,
                b'u' => HeaderName::AllowEvents,
                b'i' => HeaderName::CallId,
                b'm' => HeaderName::Contact,
                b'e' => HeaderName::ContentEncoding,
                b'l' => HeaderName::ContentLength,
                b'c' => HeaderName::ContentType,
                b'o' => HeaderName::Event,
                b'f' => HeaderName::From,
                b'y' => HeaderName::Identity,
                b'n' => HeaderName::IdentityInfo,
                b'r' => HeaderName::ReferTo,
                b'b' => HeaderName::ReferredBy,
                b'j' => HeaderName::RejectContact,
                b'd' => HeaderName::RequestDisposition,
                b'x' => HeaderName::SessionExpires,
                b's' => HeaderName::Subject,
                b'k' => HeaderName::Supported,
                b't' => HeaderName::To,
                b'v' => HeaderName::Via,
                _ => return None,
            });
        }
        if n > 32 {
            return None;
        }
        // OR-ing 0x20 lower-cases letters and leaves every other token character distinct
        // ('_' becomes DEL, which no token or known name holds). The name is compared as four
        // 64-bit words loaded straight from the input against words computed at compile time:
        // no per-byte work and no buffer stores (which would stall the wider loads after them).
        let l = name_words(name);
        let first = name.first()? | 0x20;
        let found = match (n, first) {
            (2, b't') if l == const { lit_words(b"to") } => HeaderName::To,
            (3, b'v') if l == const { lit_words(b"via") } => HeaderName::Via,
            (4, b'c') if l == const { lit_words(b"cseq") } => HeaderName::CSeq,
            (4, b'd') if l == const { lit_words(b"date") } => HeaderName::Date,
            (4, b'f') if l == const { lit_words(b"from") } => HeaderName::From,
            (4, b'p') if l == const { lit_words(b"path") } => HeaderName::Path,
            (4, b'r') => {
                if l == const { lit_words(b"rack") } {
                    HeaderName::RAck
                } else if l == const { lit_words(b"rseq") } {
                    HeaderName::RSeq
                } else {
                    return None;
                }
            }
            (5, b'a') if l == const { lit_words(b"allow") } => HeaderName::Allow,
            (5, b'e') if l == const { lit_words(b"event") } => HeaderName::Event,
            (5, b'r') if l == const { lit_words(b"route") } => HeaderName::Route,
            (6, b'a') if l == const { lit_words(b"accept") } => HeaderName::Accept,
            (6, b'm') if l == const { lit_words(b"min-se") } => HeaderName::MinSe,
            (6, b'r') if l == const { lit_words(b"reason") } => HeaderName::Reason,
            (6, b's') if l == const { lit_words(b"server") } => HeaderName::Server,
            (7, b'c') => {
                if l == const { lit_words(b"call-id") } {
                    HeaderName::CallId
                } else if l == const { lit_words(b"contact") } {
                    HeaderName::Contact
                } else {
                    return None;
                }
            }
            (7, b'e') if l == const { lit_words(b"expires") } => HeaderName::Expires,
            (7, b'p') if l == const { lit_words(b"privacy") } => HeaderName::Privacy,
            (7, b'r') if l == const { lit_words(b"require") } => HeaderName::Require,
            (7, b's') if l == const { lit_words(b"subject") } => HeaderName::Subject,
            (7, b'w') if l == const { lit_words(b"warning") } => HeaderName::Warning,
            (8, b'i') if l == const { lit_words(b"identity") } => HeaderName::Identity,
            (8, b'p') if l == const { lit_words(b"priority") } => HeaderName::Priority,
            (8, b'r') => {
                if l == const { lit_words(b"refer-to") } {
                    HeaderName::ReferTo
                } else if l == const { lit_words(b"reply-to") } {
                    HeaderName::ReplyTo
                } else {
                    return None;
                }
            }
            (9, b'c') if l == const { lit_words(b"call-info") } => HeaderName::CallInfo,
            (9, b's') if l == const { lit_words(b"supported") } => HeaderName::Supported,
            (9, b't') if l == const { lit_words(b"timestamp") } => HeaderName::Timestamp,
            (10, b'a') if l == const { lit_words(b"alert-info") } => HeaderName::AlertInfo,
            (10, b'e') if l == const { lit_words(b"error-info") } => HeaderName::ErrorInfo,
            (10, b'u') if l == const { lit_words(b"user-agent") } => HeaderName::UserAgent,
            (11, b'i') if l == const { lit_words(b"in-reply-to") } => HeaderName::InReplyTo,
            (11, b'm') if l == const { lit_words(b"min-expires") } => HeaderName::MinExpires,
            (11, b'r') => {
                if l == const { lit_words(b"referred-by") } {
                    HeaderName::ReferredBy
                } else if l == const { lit_words(b"retry-after") } {
                    HeaderName::RetryAfter
                } else {
                    return None;
                }
            }
            (11, b'u') if l == const { lit_words(b"unsupported") } => HeaderName::Unsupported,
            (12, b'a') if l == const { lit_words(b"allow-events") } => HeaderName::AllowEvents,
            (12, b'c') if l == const { lit_words(b"content-type") } => HeaderName::ContentType,
            (12, b'm') => {
                if l == const { lit_words(b"max-forwards") } {
                    HeaderName::MaxForwards
                } else if l == const { lit_words(b"mime-version") } {
                    HeaderName::MimeVersion
                } else {
                    return None;
                }
            }
            (12, b'o') if l == const { lit_words(b"organization") } => HeaderName::Organization,
            (12, b'r') if l == const { lit_words(b"record-route") } => HeaderName::RecordRoute,
            (13, b'a') if l == const { lit_words(b"authorization") } => HeaderName::Authorization,
            (13, b'i') if l == const { lit_words(b"identity-info") } => HeaderName::IdentityInfo,
            (13, b'p') if l == const { lit_words(b"proxy-require") } => HeaderName::ProxyRequire,
            (13, b's') if l == const { lit_words(b"service-route") } => HeaderName::ServiceRoute,
            (14, b'a') if l == const { lit_words(b"accept-contact") } => HeaderName::AcceptContact,
            (14, b'c') if l == const { lit_words(b"content-length") } => HeaderName::ContentLength,
            (14, b'r') if l == const { lit_words(b"reject-contact") } => HeaderName::RejectContact,
            (15, b'a') => {
                if l == const { lit_words(b"accept-encoding") } {
                    HeaderName::AcceptEncoding
                } else if l == const { lit_words(b"accept-language") } {
                    HeaderName::AcceptLanguage
                } else {
                    return None;
                }
            }
            (15, b's') => {
                if l == const { lit_words(b"security-client") } {
                    HeaderName::SecurityClient
                } else if l == const { lit_words(b"security-server") } {
                    HeaderName::SecurityServer
                } else if l == const { lit_words(b"security-verify") } {
                    HeaderName::SecurityVerify
                } else if l == const { lit_words(b"session-expires") } {
                    HeaderName::SessionExpires
                } else {
                    return None;
                }
            }
            (16, b'c') => {
                if l == const { lit_words(b"content-encoding") } {
                    HeaderName::ContentEncoding
                } else if l == const { lit_words(b"content-language") } {
                    HeaderName::ContentLanguage
                } else {
                    return None;
                }
            }
            (16, b'p') if l == const { lit_words(b"p-associated-uri") } => {
                HeaderName::PAssociatedUri
            }
            (16, b'w') if l == const { lit_words(b"www-authenticate") } => {
                HeaderName::WwwAuthenticate
            }
            (17, b'p') => {
                if l == const { lit_words(b"p-called-party-id") } {
                    HeaderName::PCalledPartyId
                } else if l == const { lit_words(b"p-charging-vector") } {
                    HeaderName::PChargingVector
                } else {
                    return None;
                }
            }
            (18, b'p') if l == const { lit_words(b"proxy-authenticate") } => {
                HeaderName::ProxyAuthenticate
            }
            (18, b's') if l == const { lit_words(b"subscription-state") } => {
                HeaderName::SubscriptionState
            }
            (19, b'a') if l == const { lit_words(b"authentication-info") } => {
                HeaderName::AuthenticationInfo
            }
            (19, b'c') if l == const { lit_words(b"content-disposition") } => {
                HeaderName::ContentDisposition
            }
            (19, b'p') => {
                if l == const { lit_words(b"p-asserted-identity") } {
                    HeaderName::PAssertedIdentity
                } else if l == const { lit_words(b"proxy-authorization") } {
                    HeaderName::ProxyAuthorization
                } else {
                    return None;
                }
            }
            (19, b'r') if l == const { lit_words(b"request-disposition") } => {
                HeaderName::RequestDisposition
            }
            (20, b'p') => {
                if l == const { lit_words(b"p-preferred-identity") } {
                    HeaderName::PPreferredIdentity
                } else if l == const { lit_words(b"p-visited-network-id") } {
                    HeaderName::PVisitedNetworkId
                } else {
                    return None;
                }
            }
            (21, b'p') if l == const { lit_words(b"p-access-network-info") } => {
                HeaderName::PAccessNetworkInfo
            }
            (29, b'p') if l == const { lit_words(b"p-charging-function-addresses") } => {
                HeaderName::PChargingFunctionAddresses
            }
            _ => return None,
        };
        Some(found)
    }

    /// Looks a name up from a string (see [`HeaderName::from_bytes`]).
    #[allow(clippy::should_implement_trait)]
    pub fn from_str(name: &str) -> Option<HeaderName> {
        Self::from_bytes(name.as_bytes())
    }

    /// Whether the header's value is a comma-separated list (RFC 3261 §7.3.1) that this crate
    /// splits into elements. Headers whose values contain unquoted commas that are not separators
    /// (Date, the challenge/credential headers, User-Agent, Server...) are not lists.
    pub const fn is_list(self) -> bool {
        matches!(
            self,
            HeaderName::Accept
                | HeaderName::AcceptContact
                | HeaderName::AcceptEncoding
                | HeaderName::AcceptLanguage
                | HeaderName::AlertInfo
                | HeaderName::Allow
                | HeaderName::AllowEvents
                | HeaderName::CallInfo
                | HeaderName::Contact
                | HeaderName::ContentEncoding
                | HeaderName::ContentLanguage
                | HeaderName::ErrorInfo
                | HeaderName::InReplyTo
                | HeaderName::PAssertedIdentity
                | HeaderName::PAssociatedUri
                | HeaderName::PPreferredIdentity
                | HeaderName::PVisitedNetworkId
                | HeaderName::Path
                | HeaderName::Privacy
                | HeaderName::ProxyRequire
                | HeaderName::Reason
                | HeaderName::RecordRoute
                | HeaderName::RejectContact
                | HeaderName::RequestDisposition
                | HeaderName::Require
                | HeaderName::Route
                | HeaderName::SecurityClient
                | HeaderName::SecurityServer
                | HeaderName::SecurityVerify
                | HeaderName::ServiceRoute
                | HeaderName::Supported
                | HeaderName::Unsupported
                | HeaderName::Via
                | HeaderName::Warning
        )
    }
}

impl AsRef<str> for HeaderName {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Display for HeaderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// True if `a` and `b` name the same header (case-insensitive, compact forms equal long forms).
pub fn same_name(a: &str, b: &str) -> bool {
    match (HeaderName::from_str(a), HeaderName::from_str(b)) {
        (Some(x), Some(y)) => x == y,
        (None, None) => a.eq_ignore_ascii_case(b),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_compare_rejects_every_single_byte_change() {
        // The lookup compares names as overlapping 64-bit words: changing any one byte of any
        // known name (to another letter, '_' or '-', in either case) must stop it matching.
        for &h in HeaderName::ALL {
            let canon = h.as_str().as_bytes();
            for i in 0..canon.len() {
                for repl in [b'x', b'q', b'_', b'-', b'0'] {
                    if canon[i].eq_ignore_ascii_case(&repl) {
                        continue;
                    }
                    let mut m = canon.to_vec();
                    m[i] = repl;
                    assert_ne!(HeaderName::from_bytes(&m), Some(h), "{:?}", m);
                    m.make_ascii_uppercase();
                    assert_ne!(HeaderName::from_bytes(&m), Some(h), "{:?}", m);
                }
            }
            // a known name is not recognised inside a longer one
            let mut longer = canon.to_vec();
            longer.push(b'x');
            assert_ne!(HeaderName::from_bytes(&longer), Some(h));
            assert_ne!(HeaderName::from_bytes(&canon[1..]), Some(h));
        }
        // mixed case in every position
        assert_eq!(
            HeaderName::from_bytes(b"sEcUrItY-vErIfY"),
            Some(HeaderName::SecurityVerify)
        );
        assert_eq!(
            HeaderName::from_bytes(b"p-CHARGING-function-ADDRESSES"),
            Some(HeaderName::PChargingFunctionAddresses)
        );
    }

    #[test]
    fn every_name_and_compact_form_looks_up() {
        for &h in HeaderName::ALL {
            assert_eq!(HeaderName::from_str(h.as_str()), Some(h));
            assert_eq!(
                HeaderName::from_str(&h.as_str().to_ascii_uppercase()),
                Some(h)
            );
            assert_eq!(
                HeaderName::from_str(&h.as_str().to_ascii_lowercase()),
                Some(h)
            );
            if let Some(c) = h.compact() {
                assert_eq!(HeaderName::from_str(&c.to_string()), Some(h));
                assert_eq!(
                    HeaderName::from_str(&c.to_ascii_uppercase().to_string()),
                    Some(h)
                );
            }
        }
        for unknown in [
            "",
            "q",
            "Vias",
            "Vi",
            "X-Via",
            "Contac",
            "Contactx",
            "C%6Fntact",
            "Call_ID",
        ] {
            assert_eq!(HeaderName::from_str(unknown), None, "{unknown}");
        }
        assert!(same_name("v", "VIA"));
        assert!(same_name("X-Foo", "x-foo"));
        assert!(!same_name("X-Foo", "Via"));
    }
}
