//! Smaller headers: CSeq (RFC 3261 §20.16), Content-Type (§20.15), Event (RFC 6665 §8.2.1),
//! Subscription-State (RFC 6665 §8.2.3), Retry-After (RFC 3261 §20.33), token lists (Require,
//! Proxy-Require, Supported, Unsupported, Allow), P-Access-Network-Info, P-Visited-Network-ID,
//! P-Charging-Vector (RFC 7315 §4.1, §4.3, §4.6).

use super::Header;
use crate::message::Method;
use crate::params::{Params, DEFAULT_MAX_PARAMS};
use crate::scan::{is_token, parse_u64, unquote, write_quoted, Cursor};
use crate::text::Text;
use std::fmt;

fn end(c: &mut Cursor<'_>) -> Result<(), &'static str> {
    c.skip_ws();
    if c.at_end() {
        Ok(())
    } else {
        Err("unexpected characters at the end of the value")
    }
}

/// `CSeq: <number> <method>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CSeq {
    /// Sequence number (at most 2^32-1, RFC 4475 §3.1.2.4).
    pub seq: u32,
    /// Method.
    pub method: Method,
}

impl Header for CSeq {
    fn parse(v: &Text) -> Result<Self, &'static str> {
        let s = v.as_bytes();
        let mut c = Cursor::new(s);
        c.skip_ws();
        let n = c.take_while(|b| b.is_ascii_digit());
        let seq = parse_u64(s.get(n.0..n.1).unwrap_or(&[]), u64::from(u32::MAX))
            .ok_or("sequence number is not a 32-bit number")? as u32;
        let before = c.pos;
        c.skip_ws();
        if c.pos == before {
            return Err("missing white space before the method");
        }
        let m = c.token().ok_or("missing method")?;
        end(&mut c)?;
        Ok(CSeq {
            seq,
            method: Method::from_text(v.slice(m.0, m.1)),
        })
    }
}

impl fmt::Display for CSeq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.seq, self.method)
    }
}

/// A single token (elements of Require, Proxy-Require, Supported, Unsupported, Allow, Privacy…).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Token(pub Text);

impl Header for Token {
    fn parse(v: &Text) -> Result<Self, &'static str> {
        let s = v.as_bytes();
        let mut c = Cursor::new(s);
        c.skip_ws();
        let t = c.token().ok_or("expected a token")?;
        end(&mut c)?;
        Ok(Token(v.slice(t.0, t.1)))
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `type/subtype;params`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentType {
    /// Type, e.g. `application`.
    pub mtype: Text,
    /// Subtype, e.g. `reginfo+xml`.
    pub subtype: Text,
    /// Parameters.
    pub params: Params,
}

impl ContentType {
    /// `type/subtype` without parameters.
    pub fn new(mtype: impl Into<Text>, subtype: impl Into<Text>) -> Self {
        ContentType {
            mtype: mtype.into(),
            subtype: subtype.into(),
            params: Params::new(),
        }
    }

    /// Case-insensitive match on `type/subtype`.
    pub fn is(&self, mtype: &str, subtype: &str) -> bool {
        self.mtype.eq_ignore_ascii_case(mtype) && self.subtype.eq_ignore_ascii_case(subtype)
    }
}

impl Header for ContentType {
    fn parse(v: &Text) -> Result<Self, &'static str> {
        let s = v.as_bytes();
        let mut c = Cursor::new(s);
        c.skip_ws();
        let t = c.token().ok_or("missing media type")?;
        if !c.eat_ws(b'/') {
            return Err("missing '/' in media type");
        }
        c.skip_ws();
        let st = c.token().ok_or("missing media subtype")?;
        let params = Params::parse(v, &mut c, DEFAULT_MAX_PARAMS)?;
        end(&mut c)?;
        Ok(ContentType {
            mtype: v.slice(t.0, t.1),
            subtype: v.slice(st.0, st.1),
            params,
        })
    }
}

impl fmt::Display for ContentType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}{}", self.mtype, self.subtype, self.params)
    }
}

/// A token (or quoted string) followed by parameters: the shape of Event, Subscription-State,
/// P-Access-Network-Info and P-Visited-Network-ID.
fn token_and_params(v: &Text, allow_quoted: bool) -> Result<(Text, bool, Params), &'static str> {
    let s = v.as_bytes();
    let mut c = Cursor::new(s);
    c.skip_ws();
    let (t, quoted) = if allow_quoted && c.peek() == Some(b'"') {
        let (r, esc) = c.quoted()?;
        (unquote(v, r, esc), true)
    } else {
        let r = c.token().ok_or("expected a token")?;
        (v.slice(r.0, r.1), false)
    };
    let params = Params::parse(v, &mut c, DEFAULT_MAX_PARAMS)?;
    end(&mut c)?;
    Ok((t, quoted, params))
}

/// `Event: reg;id=…` (RFC 6665 §8.2.1, RFC 3680 `reg`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Event package, e.g. `reg`, `presence`.
    pub package: Text,
    /// Parameters (`id`…).
    pub params: Params,
}

impl Event {
    /// An event without parameters.
    pub fn new(package: impl Into<Text>) -> Self {
        Event {
            package: package.into(),
            params: Params::new(),
        }
    }
}

impl Header for Event {
    fn parse(v: &Text) -> Result<Self, &'static str> {
        let (package, _, params) = token_and_params(v, false)?;
        Ok(Event { package, params })
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.package, self.params)
    }
}

/// `Subscription-State: active;expires=600` (RFC 6665 §8.2.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionState {
    /// `active`, `pending`, `terminated` or an extension.
    pub state: Text,
    /// Parameters (`expires`, `reason`, `retry-after`…).
    pub params: Params,
}

impl SubscriptionState {
    /// A state without parameters.
    pub fn new(state: impl Into<Text>) -> Self {
        SubscriptionState {
            state: state.into(),
            params: Params::new(),
        }
    }
    /// `expires`.
    pub fn expires(&self) -> Option<u32> {
        self.params.value("expires").and_then(|v| v.parse().ok())
    }
    /// `reason`.
    pub fn reason(&self) -> Option<&str> {
        self.params.value("reason")
    }
    /// `retry-after`.
    pub fn retry_after(&self) -> Option<u32> {
        self.params
            .value("retry-after")
            .and_then(|v| v.parse().ok())
    }
}

impl Header for SubscriptionState {
    fn parse(v: &Text) -> Result<Self, &'static str> {
        let (state, _, params) = token_and_params(v, false)?;
        Ok(SubscriptionState { state, params })
    }
}

impl fmt::Display for SubscriptionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.state, self.params)
    }
}

/// `P-Access-Network-Info: 3GPP-E-UTRAN-FDD;utran-cell-id-3gpp=…` (RFC 7315 §4.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PAccessNetworkInfo {
    /// Access type, e.g. `3GPP-E-UTRAN-FDD`, `IEEE-802.11`.
    pub access_type: Text,
    /// Access info parameters (`utran-cell-id-3gpp`, `network-provided`…).
    pub params: Params,
}

impl Header for PAccessNetworkInfo {
    fn parse(v: &Text) -> Result<Self, &'static str> {
        let (access_type, _, params) = token_and_params(v, false)?;
        Ok(PAccessNetworkInfo {
            access_type,
            params,
        })
    }
}

impl fmt::Display for PAccessNetworkInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.access_type, self.params)
    }
}

/// One P-Visited-Network-ID element (RFC 7315 §4.3): a token or quoted string plus parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PVisitedNetworkId {
    /// The network name (unquoted).
    pub network: Text,
    /// Whether it is written as a quoted string.
    pub quoted: bool,
    /// Parameters.
    pub params: Params,
}

impl PVisitedNetworkId {
    /// A token network id, e.g. `visited1.net`.
    pub fn new(network: impl Into<Text>) -> Self {
        PVisitedNetworkId {
            network: network.into(),
            quoted: false,
            params: Params::new(),
        }
    }
}

impl Header for PVisitedNetworkId {
    fn parse(v: &Text) -> Result<Self, &'static str> {
        let (network, quoted, params) = token_and_params(v, true)?;
        Ok(PVisitedNetworkId {
            network,
            quoted,
            params,
        })
    }
}

impl fmt::Display for PVisitedNetworkId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.quoted {
            let mut s = String::new();
            write_quoted(&mut s, &self.network);
            f.write_str(&s)?;
        } else {
            f.write_str(&self.network)?;
        }
        write!(f, "{}", self.params)
    }
}

/// `P-Charging-Vector: icid-value=…;orig-ioi=…;term-ioi=…` (RFC 7315 §4.6).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PChargingVector {
    /// All parameters in order, `icid-value` first.
    pub params: Params,
}

impl PChargingVector {
    /// A vector with just `icid-value`.
    pub fn new(icid: impl Into<Text>) -> Self {
        let mut params = Params::new();
        params.set(crate::params::Param::token("icid-value", icid));
        PChargingVector { params }
    }
    /// `icid-value`.
    pub fn icid_value(&self) -> Option<&str> {
        self.params.value("icid-value")
    }
    /// `orig-ioi`.
    pub fn orig_ioi(&self) -> Option<&str> {
        self.params.value("orig-ioi")
    }
    /// `term-ioi`.
    pub fn term_ioi(&self) -> Option<&str> {
        self.params.value("term-ioi")
    }
    /// `icid-generated-at`.
    pub fn icid_generated_at(&self) -> Option<&str> {
        self.params.value("icid-generated-at")
    }
}

impl Header for PChargingVector {
    fn parse(v: &Text) -> Result<Self, &'static str> {
        // The grammar has no leading ';': parse as if there were one.
        let mut s = String::with_capacity(v.len() + 1);
        s.push(';');
        s.push_str(v.trim_start_matches(|c: char| c.is_ascii_whitespace()));
        let t = Text::from(s);
        let mut c = Cursor::new(t.as_bytes());
        let params = Params::parse(&t, &mut c, DEFAULT_MAX_PARAMS)?;
        end(&mut c)?;
        if params
            .get("icid-value")
            .and_then(|p| p.value.as_ref())
            .is_none()
        {
            return Err("missing icid-value");
        }
        Ok(PChargingVector { params })
    }
}

impl fmt::Display for PChargingVector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.params.to_string();
        f.write_str(s.strip_prefix(';').unwrap_or(&s))
    }
}

/// `Retry-After: 120 (comment);duration=60` (RFC 3261 §20.33).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryAfter {
    /// Seconds.
    pub seconds: u32,
    /// The comment without parentheses.
    pub comment: Option<Text>,
    /// Parameters.
    pub params: Params,
}

impl Header for RetryAfter {
    fn parse(v: &Text) -> Result<Self, &'static str> {
        let s = v.as_bytes();
        let mut c = Cursor::new(s);
        c.skip_ws();
        let n = c.take_while(|b| b.is_ascii_digit());
        let seconds = parse_u64(s.get(n.0..n.1).unwrap_or(&[]), u64::from(u32::MAX))
            .ok_or("delta-seconds is not a 32-bit number")? as u32;
        c.skip_ws();
        let mut comment = None;
        if c.eat(b'(') {
            let mut depth = 1usize;
            let start = c.pos;
            loop {
                match c.peek() {
                    None => return Err("unterminated comment"),
                    Some(b'\\') => c.pos += 2,
                    Some(b'(') => {
                        depth += 1;
                        c.pos += 1
                    }
                    Some(b')') => {
                        depth -= 1;
                        if depth == 0 {
                            comment = Some(v.slice(start, c.pos));
                            c.pos += 1;
                            break;
                        }
                        c.pos += 1
                    }
                    Some(_) => c.pos += 1,
                }
            }
        }
        let params = Params::parse(v, &mut c, DEFAULT_MAX_PARAMS)?;
        end(&mut c)?;
        Ok(RetryAfter {
            seconds,
            comment,
            params,
        })
    }
}

impl fmt::Display for RetryAfter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.seconds)?;
        if let Some(c) = &self.comment {
            write!(f, " ({c})")?;
        }
        write!(f, "{}", self.params)
    }
}

/// RFC 3261 `word` characters (Call-ID): token characters plus `( ) < > : \ " / [ ] ? { }`.
pub(crate) fn is_word_char(b: u8) -> bool {
    is_token(b)
        || matches!(
            b,
            b'(' | b')'
                | b'<'
                | b'>'
                | b':'
                | b'\\'
                | b'"'
                | b'/'
                | b'['
                | b']'
                | b'?'
                | b'{'
                | b'}'
        )
}
