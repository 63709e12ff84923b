//! name-addr / addr-spec headers: From, To (RFC 3261 §20.20, §20.39), Contact (§20.10),
//! Route, Record-Route (§20.34, §20.30), Path (RFC 3327), Service-Route (RFC 3608),
//! P-Associated-URI (RFC 7315), P-Asserted-Identity (RFC 3325).

use super::Header;
use crate::params::{Param, Params, DEFAULT_MAX_PARAMS};
use crate::scan::{is_lws, is_token, unquote, write_quoted, Cursor};
use crate::text::Text;
use crate::uri::Uri;
use std::fmt;

/// `[display-name] <URI> *(;param)` or `URI *(;param)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameAddr {
    /// Display name, unquoted.
    pub display: Option<Text>,
    /// The URI.
    pub uri: Uri,
    /// Header parameters (tag, expires, q, +sip.instance, reg-id, feature tags…), in order.
    pub params: Params,
}

impl NameAddr {
    /// A name-addr with just a URI.
    pub fn new(uri: Uri) -> Self {
        NameAddr {
            display: None,
            uri,
            params: Params::new(),
        }
    }

    /// Adds or replaces a parameter.
    pub fn with_param(mut self, p: Param) -> Self {
        self.params.set(p);
        self
    }

    /// The `tag` parameter (RFC 3261 §19.3).
    pub fn tag(&self) -> Option<&str> {
        self.params.value("tag")
    }

    /// A parameter value.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.value(name)
    }

    /// Contact `expires` parameter (RFC 3261 §20.10); `None` if absent or not a number.
    pub fn expires(&self) -> Option<u32> {
        self.params.value("expires").and_then(|v| v.parse().ok())
    }

    /// Contact `q` parameter.
    pub fn q(&self) -> Option<f32> {
        self.params.value("q").and_then(|v| v.parse().ok())
    }

    /// `+sip.instance` (RFC 5626 §4.1), unquoted, e.g. `<urn:gsma:imei:…>`.
    pub fn sip_instance(&self) -> Option<&str> {
        self.params.value("+sip.instance")
    }

    /// `reg-id` (RFC 5626 §4.2).
    pub fn reg_id(&self) -> Option<u32> {
        self.params.value("reg-id").and_then(|v| v.parse().ok())
    }
}

fn is_uri_char(b: u8) -> bool {
    b > b' ' && b < 0x7f && !matches!(b, b'<' | b'>' | b'"' | b';' | b',')
}

impl Header for NameAddr {
    fn parse(v: &Text) -> Result<Self, &'static str> {
        let s = v.as_bytes();
        let mut c = Cursor::new(s);
        c.skip_ws();
        let mut display = None;
        let first = c.peek().ok_or("empty value")?;
        let has_angle = memchr::memchr(b'<', s).is_some();
        if first == b'"' || (has_angle && first != b'<' && looks_like_display(s, c.pos)) {
            if first == b'"' {
                let (r, esc) = c.quoted()?;
                display = Some(unquote(v, r, esc));
            } else {
                let start = c.pos;
                c.take_while(|b| is_token(b) || is_lws(b));
                let (a, b) = crate::scan::trim(s, start, c.pos);
                display = Some(v.slice(a, b));
            }
            c.skip_ws();
            if c.peek() != Some(b'<') {
                return Err("expected '<' after the display name");
            }
        }
        let uri = if c.eat(b'<') {
            let start = c.pos;
            let r = c.take_while(|b| b != b'>');
            if !c.eat(b'>') {
                return Err("missing '>'");
            }
            if s.get(start).is_some_and(|&b| is_lws(b))
                || r.1 > r.0 && s.get(r.1 - 1).is_some_and(|&b| is_lws(b))
            {
                return Err("white space inside <>");
            }
            Uri::parse_text(v, r.0, r.1)?
        } else {
            let r = c.take_while(is_uri_char);
            if r.0 == r.1 {
                return Err("missing URI");
            }
            if s.get(r.0..r.1).is_some_and(|u| u.contains(&b'?')) {
                return Err("a URI with headers must be enclosed in <>");
            }
            Uri::parse_text(v, r.0, r.1)?
        };
        let params = Params::parse(v, &mut c, DEFAULT_MAX_PARAMS)?;
        c.skip_ws();
        if !c.at_end() {
            return Err("unexpected characters after the address");
        }
        Ok(NameAddr {
            display,
            uri,
            params,
        })
    }
}

/// True if the bytes from `pos` up to `<` are `*(token LWS)` (an unquoted display name).
fn looks_like_display(s: &[u8], pos: usize) -> bool {
    let Some(lt) = s.get(pos..).and_then(|t| memchr::memchr(b'<', t)) else {
        return false;
    };
    let head = s.get(pos..pos + lt).unwrap_or(&[]);
    // a bare URI such as `sip:a@b;x=<…>` has ':' before '<' and is not a display name
    head.iter().all(|&b| is_token(b) || is_lws(b)) || !head.contains(&b':')
}

impl fmt::Display for NameAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(d) = &self.display {
            let mut s = String::new();
            write_quoted(&mut s, d);
            write!(f, "{s} ")?;
        }
        write!(f, "<{}>{}", self.uri, self.params)
    }
}

/// One Contact element: `*` or an address (RFC 3261 §20.10).
#[allow(clippy::large_enum_variant)] // boxing would only add an allocation per contact
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Contact {
    /// `Contact: *` (remove all bindings, with `Expires: 0`).
    Wildcard,
    /// An address with contact parameters.
    Addr(NameAddr),
}

impl Contact {
    /// The address, unless this is `*`.
    pub fn addr(&self) -> Option<&NameAddr> {
        match self {
            Contact::Addr(a) => Some(a),
            Contact::Wildcard => None,
        }
    }
}

impl Header for Contact {
    fn parse(v: &Text) -> Result<Self, &'static str> {
        if v.trim_matches(|c: char| c.is_ascii_whitespace()) == "*" {
            Ok(Contact::Wildcard)
        } else {
            NameAddr::parse(v).map(Contact::Addr)
        }
    }
}

impl fmt::Display for Contact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Contact::Wildcard => f.write_str("*"),
            Contact::Addr(a) => a.fmt(f),
        }
    }
}
