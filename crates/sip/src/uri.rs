//! SIP, SIPS and tel URIs (RFC 3261 §19.1, RFC 3966) with RFC 3261 §19.1.4 comparison.
//! Components are stored as received (escapes kept); comparison unescapes.

use crate::error::{Error, Result};
use crate::params::{Param, Params};
use crate::scan::{is_token, Cursor};
use crate::text::Text;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A host: domain name, IPv4 address or IPv6 reference (RFC 3261 §25.1 `host`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    /// A domain name, as received.
    Domain(Text),
    /// An IPv4 address.
    V4(Ipv4Addr),
    /// An IPv6 address (written `[…]`).
    V6(Ipv6Addr),
}

impl Host {
    /// Parses a host (`example.com`, `192.0.2.1`, `[2001:db8::1]`).
    pub fn parse(s: &str) -> Result<Host> {
        Host::parse_text(&Text::from(s), 0, s.len()).map_err(|reason| Error::BadUri { reason })
    }

    pub(crate) fn parse_text(
        src: &Text,
        a: usize,
        b: usize,
    ) -> std::result::Result<Host, &'static str> {
        let s = src.get(a..b).ok_or("bad host")?;
        if let Some(inner) = s.strip_prefix('[') {
            let inner = inner
                .strip_suffix(']')
                .ok_or("unterminated IPv6 reference")?;
            return parse_ipv6(inner.as_bytes())
                .map(Host::V6)
                .ok_or("bad IPv6 address");
        }
        if s.is_empty() {
            return Err("empty host");
        }
        if s.bytes().all(|c| c.is_ascii_digit() || c == b'.') {
            if let Ok(v4) = s.parse::<Ipv4Addr>() {
                return Ok(Host::V4(v4));
            }
        }
        if s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'.' || c == b'_')
        {
            Ok(Host::Domain(src.slice(a, b)))
        } else {
            Err("bad character in host")
        }
    }

    /// The IP address, if the host is one.
    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            Host::V4(a) => Some(IpAddr::V4(*a)),
            Host::V6(a) => Some(IpAddr::V6(*a)),
            Host::Domain(_) => None,
        }
    }

    /// Case-insensitive host equality (RFC 3261 §19.1.4).
    pub fn matches(&self, other: &Host) -> bool {
        match (self, other) {
            (Host::Domain(a), Host::Domain(b)) => a.eq_ignore_ascii_case(b),
            _ => self == other,
        }
    }
}

impl From<IpAddr> for Host {
    fn from(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(a) => Host::V4(a),
            IpAddr::V6(a) => Host::V6(a),
        }
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Domain(d) => f.write_str(d),
            Host::V4(a) => write!(f, "{a}"),
            Host::V6(a) => write!(f, "[{a}]"),
        }
    }
}

/// Parses an IPv6 address (RFC 4291 §2.2 text forms, including `::` and a dotted IPv4 tail).
/// Faster than `str::parse` for the short forms SIP carries.
/// The value of a hexadecimal digit (`0-9`, `a-f`, `A-F`).
#[inline]
fn hex_digit(c: u8) -> Option<u32> {
    match c {
        b'0'..=b'9' => Some(u32::from(c - b'0')),
        b'a'..=b'f' => Some(u32::from(c - b'a' + 10)),
        b'A'..=b'F' => Some(u32::from(c - b'A' + 10)),
        _ => None,
    }
}

pub(crate) fn parse_ipv6(s: &[u8]) -> Option<Ipv6Addr> {
    let mut head = [0u16; 8];
    let mut tail = [0u16; 8];
    let (mut hn, mut tn) = (0usize, 0usize);
    let mut gap = false;
    let mut i = 0;
    if s.starts_with(b"::") {
        gap = true;
        i = 2;
        if s.len() == 2 {
            return Some(Ipv6Addr::UNSPECIFIED);
        }
    }
    loop {
        let start = i;
        let mut v: u32 = 0;
        while let Some(d) = s.get(i).and_then(|&c| hex_digit(c)) {
            v = v * 16 + d;
            i += 1;
            if i - start > 4 {
                return None;
            }
        }
        if i == start {
            return None;
        }
        let mut groups = [v as u16, 0];
        let mut n = 1;
        let mut last = false;
        if s.get(i) == Some(&b'.') {
            let v4: Ipv4Addr = std::str::from_utf8(s.get(start..)?).ok()?.parse().ok()?;
            let o = v4.octets();
            groups = [
                u16::from_be_bytes([o[0], o[1]]),
                u16::from_be_bytes([o[2], o[3]]),
            ];
            n = 2;
            i = s.len();
            last = true;
        }
        for g in groups.iter().take(n) {
            let (arr, cnt) = if gap {
                (&mut tail, &mut tn)
            } else {
                (&mut head, &mut hn)
            };
            *arr.get_mut(*cnt)? = *g;
            *cnt += 1;
        }
        match s.get(i) {
            None => break,
            Some(b':') if !last => {
                i += 1;
                if s.get(i) == Some(&b':') {
                    if gap {
                        return None;
                    }
                    gap = true;
                    i += 1;
                    if i == s.len() {
                        break;
                    }
                }
            }
            _ => return None,
        }
    }
    let total = hn + tn;
    if (gap && total > 7) || (!gap && total != 8) {
        return None;
    }
    let mut out = [0u16; 8];
    for (d, s) in out.iter_mut().zip(head.iter().take(hn)) {
        *d = *s;
    }
    for (d, s) in out.iter_mut().skip(8 - tn).zip(tail.iter().take(tn)) {
        *d = *s;
    }
    Some(Ipv6Addr::from(out))
}

/// A `sip:` or `sips:` URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipUri {
    /// `sips:` rather than `sip:`.
    pub secure: bool,
    /// User part as received (may hold escapes such as `%40`).
    pub user: Option<Text>,
    /// Password as received.
    pub password: Option<Text>,
    /// Host.
    pub host: Host,
    /// Port, if explicit.
    pub port: Option<u16>,
    /// URI parameters (`;lr`, `;transport=tcp`…), values as received.
    pub params: Params,
    /// URI headers (`?name=value&…`), as received.
    pub headers: Vec<(Text, Text)>,
}

/// A `tel:` URI (RFC 3966).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelUri {
    /// The number, e.g. `+1-212-555-1111`.
    pub number: Text,
    /// Parameters such as `phone-context`.
    pub params: Params,
}

/// Any URI that may appear in a SIP message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Uri {
    /// `sip:` / `sips:`.
    Sip(SipUri),
    /// `tel:`.
    Tel(TelUri),
    /// Any other absolute URI (`urn:`, `http:`, `isbn:`…), kept verbatim.
    Other(Text),
}

const fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')'
        )
}

const fn is_user_char(b: u8) -> bool {
    is_unreserved(b)
        || matches!(
            b,
            b'&' | b'=' | b'+' | b'$' | b',' | b';' | b'?' | b'/' | b'%'
        )
}

const fn is_password_char(b: u8) -> bool {
    is_unreserved(b) || matches!(b, b'&' | b'=' | b'+' | b'$' | b',' | b'%')
}

const fn is_param_char(b: u8) -> bool {
    is_unreserved(b) || matches!(b, b'[' | b']' | b'/' | b':' | b'&' | b'+' | b'$' | b'%')
}

const fn is_header_char(b: u8) -> bool {
    is_unreserved(b) || matches!(b, b'[' | b']' | b'/' | b'?' | b':' | b'+' | b'$' | b'%')
}

/// Checks that every `%` is followed by two hex digits.
fn check_escapes(s: &[u8]) -> std::result::Result<(), &'static str> {
    let mut i = 0;
    while let Some(&b) = s.get(i) {
        if b == b'%' {
            let ok = s.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && s.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
            if !ok {
                return Err("bad %-escape");
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    Ok(())
}

/// Decodes `%HH` escapes (RFC 3261 §19.1.4 compares URIs unescaped).
pub fn unescape(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == b'%' {
            let hex = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            if let Some(v) = hex {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
    out
}

impl Uri {
    /// Parses a URI from a string.
    pub fn parse(s: &str) -> Result<Uri> {
        let t = Text::from(s);
        Uri::parse_text(&t, 0, t.len()).map_err(|reason| Error::BadUri { reason })
    }

    /// Parses `src[a..b]` as a URI.
    pub(crate) fn parse_text(
        src: &Text,
        a: usize,
        b: usize,
    ) -> std::result::Result<Uri, &'static str> {
        let s = src.as_bytes().get(a..b).ok_or("bad URI range")?;
        let colon = memchr::memchr(b':', s).ok_or("URI has no scheme")?;
        let scheme = s.get(..colon).unwrap_or(&[]);
        let scheme_ok = scheme.first().is_some_and(u8::is_ascii_alphabetic)
            && scheme
                .iter()
                .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'));
        if !scheme_ok {
            return Err("bad URI scheme");
        }
        let rest = a + colon + 1;
        if scheme.eq_ignore_ascii_case(b"sip") || scheme.eq_ignore_ascii_case(b"sips") {
            SipUri::parse_rest(src, scheme.len() == 4, rest, b).map(Uri::Sip)
        } else if scheme.eq_ignore_ascii_case(b"tel") {
            TelUri::parse_rest(src, rest, b).map(Uri::Tel)
        } else {
            let body = s.get(colon + 1..).unwrap_or(&[]);
            if body.is_empty() {
                return Err("empty URI");
            }
            if body
                .iter()
                .any(|&c| c <= b' ' || matches!(c, b'<' | b'>' | b'"') || c >= 0x7f)
            {
                return Err("bad character in URI");
            }
            Ok(Uri::Other(src.slice(a, b)))
        }
    }

    /// The SIP URI, if this is one.
    pub fn as_sip(&self) -> Option<&SipUri> {
        match self {
            Uri::Sip(u) => Some(u),
            _ => None,
        }
    }

    /// The scheme in lower case (`sip`, `sips`, `tel`, or the other URI's scheme).
    pub fn scheme(&self) -> String {
        match self {
            Uri::Sip(u) if u.secure => "sips".into(),
            Uri::Sip(_) => "sip".into(),
            Uri::Tel(_) => "tel".into(),
            Uri::Other(t) => t.split(':').next().unwrap_or("").to_ascii_lowercase(),
        }
    }

    /// RFC 3261 §19.1.4 equivalence for SIP URIs, RFC 3966 §4 for tel URIs, exact
    /// case-insensitive text for others.
    pub fn equivalent(&self, other: &Uri) -> bool {
        match (self, other) {
            (Uri::Sip(a), Uri::Sip(b)) => a.equivalent(b),
            (Uri::Tel(a), Uri::Tel(b)) => a.equivalent(b),
            (Uri::Other(a), Uri::Other(b)) => a.eq_ignore_ascii_case(b),
            _ => false,
        }
    }
}

impl SipUri {
    /// A URI `sip:host` with nothing else.
    pub fn new(host: Host) -> Self {
        SipUri {
            secure: false,
            user: None,
            password: None,
            host,
            port: None,
            params: Params::new(),
            headers: Vec::new(),
        }
    }

    /// Sets the user part (as it will be written: escape it yourself if needed).
    pub fn with_user(mut self, user: impl Into<Text>) -> Self {
        self.user = Some(user.into());
        self
    }

    /// Sets the port.
    pub fn with_port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// Adds a parameter.
    pub fn with_param(mut self, p: Param) -> Self {
        self.params.set(p);
        self
    }

    /// Parses a `sip:`/`sips:` URI from a string.
    pub fn parse(s: &str) -> Result<SipUri> {
        match Uri::parse(s)? {
            Uri::Sip(u) => Ok(u),
            _ => Err(Error::BadUri {
                reason: "not a sip: or sips: URI",
            }),
        }
    }

    fn parse_rest(
        src: &Text,
        secure: bool,
        a: usize,
        b: usize,
    ) -> std::result::Result<SipUri, &'static str> {
        let s = src.as_bytes().get(a..b).ok_or("bad URI range")?;
        let mut user = None;
        let mut password = None;
        let mut hp_start = 0;
        if let Some(at) = memchr::memchr(b'@', s) {
            let ui = s.get(..at).unwrap_or(&[]);
            let (u_end, pw) = match memchr::memchr(b':', ui) {
                Some(c) => (c, Some(c + 1)),
                None => (at, None),
            };
            let u = ui.get(..u_end).unwrap_or(&[]);
            if u.is_empty() || !u.iter().all(|&c| is_user_char(c)) {
                return Err("bad user part");
            }
            check_escapes(u)?;
            user = Some(src.slice(a, a + u_end));
            if let Some(p) = pw {
                let pwd = ui.get(p..).unwrap_or(&[]);
                if !pwd.iter().all(|&c| is_password_char(c)) {
                    return Err("bad password");
                }
                check_escapes(pwd)?;
                password = Some(src.slice(a + p, a + at));
            }
            hp_start = at + 1;
        }
        let mut c = Cursor::new(s);
        c.pos = hp_start;
        let (h0, h1) = if c.peek() == Some(b'[') {
            let r = c.take_while(|x| x != b']');
            if !c.eat(b']') {
                return Err("unterminated IPv6 reference");
            }
            (r.0, r.1 + 1)
        } else {
            c.take_while(|x| x.is_ascii_alphanumeric() || x == b'-' || x == b'.' || x == b'_')
        };
        let host = Host::parse_text(src, a + h0, a + h1)?;
        let mut port = None;
        if c.eat(b':') {
            let (p0, p1) = c.take_while(|x| x.is_ascii_digit());
            let digits = s.get(p0..p1).unwrap_or(&[]);
            port = Some(crate::scan::parse_u64(digits, 65535).ok_or("bad port")? as u16);
        }
        let mut params = Vec::new();
        while c.eat(b';') {
            if params.len() >= crate::params::DEFAULT_MAX_PARAMS {
                return Err("too many URI parameters");
            }
            let n = c.take_while(|x| is_param_char(x) && x != b'=');
            if n.0 == n.1 {
                return Err("empty URI parameter");
            }
            check_escapes(s.get(n.0..n.1).unwrap_or(&[]))?;
            let value = if c.eat(b'=') {
                let v = c.take_while(is_param_char);
                if v.0 == v.1 {
                    return Err("empty URI parameter value");
                }
                check_escapes(s.get(v.0..v.1).unwrap_or(&[]))?;
                Some(src.slice(a + v.0, a + v.1))
            } else {
                None
            };
            params.push(Param {
                name: src.slice(a + n.0, a + n.1),
                value,
                quoted: false,
            });
        }
        let mut headers = Vec::new();
        if c.eat(b'?') {
            loop {
                let n = c.take_while(is_header_char);
                if n.0 == n.1 || !c.eat(b'=') {
                    return Err("bad URI header");
                }
                let v = c.take_while(is_header_char);
                check_escapes(s.get(n.0..v.1).unwrap_or(&[]))?;
                headers.push((src.slice(a + n.0, a + n.1), src.slice(a + v.0, a + v.1)));
                if !c.eat(b'&') {
                    break;
                }
            }
        }
        if !c.at_end() {
            return Err("unexpected character in SIP URI");
        }
        Ok(SipUri {
            secure,
            user,
            password,
            host,
            port,
            params: Params(params),
            headers,
        })
    }

    /// The value of a URI parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.value(name)
    }

    /// True if the URI carries `;lr` (RFC 3261 §19.1.1 loose routing).
    pub fn is_loose_route(&self) -> bool {
        self.params.has("lr")
    }

    /// The user part with `%HH` escapes decoded (lossy for non-UTF-8).
    pub fn user_unescaped(&self) -> Option<String> {
        self.user
            .as_ref()
            .map(|u| String::from_utf8_lossy(&unescape(u)).into_owned())
    }

    /// RFC 3261 §19.1.4 URI comparison.
    pub fn equivalent(&self, o: &SipUri) -> bool {
        let opt_eq = |a: &Option<Text>, b: &Option<Text>| match (a, b) {
            (None, None) => true,
            (Some(x), Some(y)) => unescape(x) == unescape(y),
            _ => false,
        };
        if self.secure != o.secure
            || !opt_eq(&self.user, &o.user)
            || !opt_eq(&self.password, &o.password)
            || !self.host.matches(&o.host)
            || self.port != o.port
        {
            return false;
        }
        let val = |p: &Param| p.value.as_ref().map(|v| unescape(v).to_ascii_lowercase());
        for p in &self.params {
            let name = p.name.as_str();
            match o.params.get(name) {
                Some(q) => {
                    if val(p) != val(q) {
                        return false;
                    }
                }
                None => {
                    if ["user", "ttl", "method", "maddr", "transport"]
                        .iter()
                        .any(|n| name.eq_ignore_ascii_case(n))
                    {
                        return false;
                    }
                }
            }
        }
        for q in &o.params {
            let name = q.name.as_str();
            if !self.params.has(name)
                && ["user", "ttl", "method", "maddr", "transport"]
                    .iter()
                    .any(|n| name.eq_ignore_ascii_case(n))
            {
                return false;
            }
        }
        if self.headers.len() != o.headers.len() {
            return false;
        }
        self.headers.iter().all(|(n, v)| {
            o.headers.iter().any(|(n2, v2)| {
                unescape(n).eq_ignore_ascii_case(&unescape(n2)) && unescape(v) == unescape(v2)
            })
        })
    }
}

impl TelUri {
    fn parse_rest(src: &Text, a: usize, b: usize) -> std::result::Result<TelUri, &'static str> {
        let s = src.as_bytes().get(a..b).ok_or("bad URI range")?;
        let mut c = Cursor::new(s);
        let n = c.take_while(|x| {
            x.is_ascii_hexdigit() || matches!(x, b'+' | b'-' | b'.' | b'(' | b')' | b'*' | b'#')
        });
        if n.0 == n.1 {
            return Err("empty telephone number");
        }
        let mut params = Vec::new();
        while c.eat(b';') {
            if params.len() >= crate::params::DEFAULT_MAX_PARAMS {
                return Err("too many URI parameters");
            }
            let pn = c.take_while(|x| is_token(x) && x != b'=');
            if pn.0 == pn.1 {
                return Err("empty tel parameter");
            }
            let value = if c.eat(b'=') {
                let v = c.take_while(is_param_char);
                Some(src.slice(a + v.0, a + v.1))
            } else {
                None
            };
            params.push(Param {
                name: src.slice(a + pn.0, a + pn.1),
                value,
                quoted: false,
            });
        }
        if !c.at_end() {
            return Err("unexpected character in tel URI");
        }
        Ok(TelUri {
            number: src.slice(a + n.0, a + n.1),
            params: Params(params),
        })
    }

    /// The number without visual separators (`-`, `.`, `(`, `)`).
    pub fn digits(&self) -> String {
        self.number
            .chars()
            .filter(|c| !matches!(c, '-' | '.' | '(' | ')'))
            .collect()
    }

    /// RFC 3966 §4: numbers equal ignoring visual separators, same parameters (any order).
    pub fn equivalent(&self, o: &TelUri) -> bool {
        self.digits().eq_ignore_ascii_case(&o.digits())
            && self.params.len() == o.params.len()
            && self.params.iter().all(|p| {
                o.params.get(&p.name).is_some_and(|q| {
                    p.value.as_deref().map(str::to_ascii_lowercase)
                        == q.value.as_deref().map(str::to_ascii_lowercase)
                })
            })
    }
}

impl fmt::Display for SipUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.secure { "sips:" } else { "sip:" })?;
        if let Some(u) = &self.user {
            f.write_str(u)?;
            if let Some(p) = &self.password {
                write!(f, ":{p}")?;
            }
            f.write_str("@")?;
        }
        write!(f, "{}", self.host)?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        write!(f, "{}", self.params)?;
        for (i, (n, v)) in self.headers.iter().enumerate() {
            write!(f, "{}{n}={v}", if i == 0 { '?' } else { '&' })?;
        }
        Ok(())
    }
}

impl fmt::Display for TelUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tel:{}{}", self.number, self.params)
    }
}

impl fmt::Display for Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Uri::Sip(u) => u.fmt(f),
            Uri::Tel(u) => u.fmt(f),
            Uri::Other(t) => f.write_str(t),
        }
    }
}

impl std::str::FromStr for Uri {
    type Err = Error;
    fn from_str(s: &str) -> Result<Uri> {
        Uri::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_parser_agrees_with_std() {
        for s in [
            "::",
            "::1",
            "1::",
            "2001:db8::1",
            "2001:0:0:1::2",
            "2001::1:d1ae:bb37:d9c9:81d0",
            "1:2:3:4:5:6:7:8",
            "::ffff:192.0.2.1",
            "64:ff9b::192.0.2.33",
            "5555::aaa:bbb:ccc:ddd",
            "fe80::",
            "1:2:3:4:5:6:7::",
            "::2:3:4:5:6:7:8",
            ":",
            ":::",
            "1:::2",
            "1::2::3",
            "12345::",
            "1:2:3:4:5:6:7:8:9",
            "1:2:3:4:5:6:7",
            "1::2:",
            ":1::2",
            "g::",
            "::1.2.3",
            "::1.2.3.4.5",
            "1.2.3.4::",
            "::ffff:1.2.3.4:5",
            "",
            "1:2:3:4:5:6:1.2.3.4",
            "1:2:3:4:5:6:7:1.2.3.4",
            "::00001",
            "0:0:0:0:0:0:0:0",
        ] {
            assert_eq!(
                parse_ipv6(s.as_bytes()),
                s.parse::<Ipv6Addr>().ok(),
                "{s:?}"
            );
        }
    }

    #[test]
    fn sip_uri_parts_and_display() {
        let u = SipUri::parse(
            "sips:alice:secret@[2001:db8::1]:5061;transport=tcp;lr?Subject=hi&Priority=urgent",
        )
        .expect("uri");
        assert!(u.secure);
        assert_eq!(u.user.as_deref(), Some("alice"));
        assert_eq!(u.password.as_deref(), Some("secret"));
        assert_eq!(u.host, Host::V6("2001:db8::1".parse().expect("v6")));
        assert_eq!(u.port, Some(5061));
        assert_eq!(u.param("transport"), Some("tcp"));
        assert!(u.is_loose_route());
        assert_eq!(u.headers.len(), 2);
        assert_eq!(
            u.to_string(),
            "sips:alice:secret@[2001:db8::1]:5061;transport=tcp;lr?Subject=hi&Priority=urgent"
        );
        for bad in [
            "sip:",
            "sip:@host",
            "sip:host:99999",
            "sip:host;;lr",
            "sip:ho st",
            "sip:[::1",
            "sip:a@b%2",
            "1sip:x",
            "sip:host?x",
        ] {
            assert!(Uri::parse(bad).is_err(), "{bad}");
        }
        let t = Uri::parse("tel:+1-212-555-1111;phone-context=example.com").expect("tel");
        let Uri::Tel(t) = t else { panic!("tel") };
        assert_eq!(t.digits(), "+12125551111");
        assert_eq!(t.params.value("phone-context"), Some("example.com"));
    }

    fn eq(a: &str, b: &str) -> bool {
        let (x, y) = (Uri::parse(a).expect(a), Uri::parse(b).expect(b));
        assert_eq!(x.equivalent(&y), y.equivalent(&x), "symmetric: {a} {b}");
        x.equivalent(&y)
    }

    /// RFC 3261 §19.1.4 examples.
    #[test]
    fn rfc3261_comparison_examples() {
        assert!(eq(
            "sip:%61lice@atlanta.com;transport=TCP",
            "sip:alice@AtLanTa.CoM;Transport=tcp"
        ));
        assert!(eq(
            "sip:carol@chicago.com",
            "sip:carol@chicago.com;newparam=5"
        ));
        assert!(eq(
            "sip:carol@chicago.com",
            "sip:carol@chicago.com;security=on"
        ));
        assert!(eq(
            "sip:carol@chicago.com;newparam=5",
            "sip:carol@chicago.com;security=on"
        ));
        assert!(eq("sips:bob@biloxi.com", "sips:bob@biloxi.com"));
        assert!(eq(
            "sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
            "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com"
        ));
        assert!(eq(
            "sip:alice@atlanta.com?subject=project%20x&priority=urgent",
            "sip:alice@atlanta.com?priority=urgent&subject=project%20x"
        ));
        assert!(!eq(
            "SIP:ALICE@AtLanTa.CoM;Transport=udp",
            "sip:alice@AtLanTa.CoM;Transport=UDP"
        ));
        assert!(!eq("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060"));
        assert!(!eq(
            "sip:bob@biloxi.com",
            "sip:bob@biloxi.com;transport=udp"
        ));
        assert!(!eq(
            "sip:bob@biloxi.com",
            "sip:bob@biloxi.com:6000;transport=tcp"
        ));
        assert!(!eq(
            "sip:carol@chicago.com",
            "sip:carol@chicago.com?Subject=next%20meeting"
        ));
        assert!(!eq("sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4"));
        assert!(!eq(
            "sip:carol@chicago.com;security=on",
            "sip:carol@chicago.com;security=off"
        ));
        assert!(!eq("sip:bob@biloxi.com", "sips:bob@biloxi.com"));
        assert!(eq("tel:+1-212-555-1111", "tel:+12125551111"));
        assert!(!eq("tel:+1-212-555-1111", "sip:+12125551111@example.com"));
    }
}
