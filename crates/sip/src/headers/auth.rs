//! Authorization, Proxy-Authorization, WWW-Authenticate, Proxy-Authenticate (RFC 3261 §20.7,
//! §20.27, §20.28, §20.44; RFC 2617 §3.2), with the IMS parameters of RFC 3310 (AKA: `auts`),
//! TS 24.229 §7.2A (`integrity-protected`) and TS 33.203 / TS 29.228 (`ck`, `ik` between CSCFs),
//! and Authentication-Info (RFC 3261 §20.6).

use super::Header;
use crate::params::Param;
use crate::scan::{is_lws, is_token, trim, unquote, Cursor};
use crate::text::Text;
use std::fmt;

/// A challenge or credentials: `scheme param=value, param="value", …`.
///
/// Values are stored unquoted; [`Param::quoted`] says how each is written back. Unquoted values
/// are taken up to the next comma, so placeholders such as `nonce=base64(RAND + AUTN)` in
/// specification examples stay opaque text (an authenticator must reject them, not the parser).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthHeader {
    /// `Digest`, or any other scheme.
    pub scheme: Text,
    /// Parameters in order.
    pub params: Vec<Param>,
}

/// Authorization / Proxy-Authorization value.
pub type Credentials = AuthHeader;
/// WWW-Authenticate / Proxy-Authenticate value.
pub type Challenge = AuthHeader;

impl AuthHeader {
    /// An empty `Digest` header; add parameters with [`AuthHeader::with_quoted`] /
    /// [`AuthHeader::with_token`].
    pub fn digest() -> Self {
        AuthHeader {
            scheme: Text::from_static("Digest"),
            params: Vec::new(),
        }
    }

    /// Adds (or replaces) a quoted parameter.
    pub fn with_quoted(mut self, name: &str, value: impl Into<Text>) -> Self {
        self.set(Param::quoted(name, value));
        self
    }

    /// Adds (or replaces) a token parameter.
    pub fn with_token(mut self, name: &str, value: impl Into<Text>) -> Self {
        self.set(Param::token(name, value));
        self
    }

    /// Replaces the parameter of the same name in place, or appends it.
    pub fn set(&mut self, p: Param) {
        if let Some(slot) = self.params.iter_mut().find(|q| q.is(&p.name)) {
            *slot = p;
        } else {
            self.params.push(p);
        }
    }

    /// Removes a parameter; true if it was there.
    pub fn remove(&mut self, name: &str) -> bool {
        let n = self.params.len();
        self.params.retain(|p| !p.is(name));
        n != self.params.len()
    }

    /// A parameter's (unquoted) value.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|p| p.is(name))
            .and_then(|p| p.value.as_deref())
    }

    /// True for the Digest scheme (case-insensitive).
    pub fn is_digest(&self) -> bool {
        self.scheme.eq_ignore_ascii_case("Digest")
    }

    /// `username`.
    pub fn username(&self) -> Option<&str> {
        self.get("username")
    }
    /// `realm`.
    pub fn realm(&self) -> Option<&str> {
        self.get("realm")
    }
    /// `nonce`.
    pub fn nonce(&self) -> Option<&str> {
        self.get("nonce")
    }
    /// `uri` (digest-uri).
    pub fn uri(&self) -> Option<&str> {
        self.get("uri")
    }
    /// `response`.
    pub fn response(&self) -> Option<&str> {
        self.get("response")
    }
    /// `algorithm` (e.g. `AKAv1-MD5`, `MD5`).
    pub fn algorithm(&self) -> Option<&str> {
        self.get("algorithm")
    }
    /// `qop` (a token in credentials, a quoted list in challenges).
    pub fn qop(&self) -> Option<&str> {
        self.get("qop")
    }
    /// `nc` (nonce count, 8 hex digits).
    pub fn nc(&self) -> Option<&str> {
        self.get("nc")
    }
    /// `cnonce`.
    pub fn cnonce(&self) -> Option<&str> {
        self.get("cnonce")
    }
    /// `opaque`.
    pub fn opaque(&self) -> Option<&str> {
        self.get("opaque")
    }
    /// `auts` (RFC 3310 §3.4 resynchronisation).
    pub fn auts(&self) -> Option<&str> {
        self.get("auts")
    }
    /// `ck` (S-CSCF → P-CSCF only, TS 24.229 §5.4.1.2.1; the P-CSCF strips it).
    pub fn ck(&self) -> Option<&str> {
        self.get("ck")
    }
    /// `ik` (as `ck`).
    pub fn ik(&self) -> Option<&str> {
        self.get("ik")
    }
    /// `integrity-protected` (TS 24.229 §7.2A.2: `yes`, `no`, `tls-pending`, `tls-yes`, `ip-assoc-…`).
    pub fn integrity_protected(&self) -> Option<&str> {
        self.get("integrity-protected")
    }
    /// `stale` as a boolean (RFC 2617 §3.2.1, case-insensitive `true`).
    pub fn stale(&self) -> bool {
        self.get("stale")
            .is_some_and(|s| s.eq_ignore_ascii_case("true"))
    }
}

/// Parses `name=value` auth-params separated by commas, starting at byte `from`.
fn parse_params(v: &Text, from: usize) -> Result<Vec<Param>, &'static str> {
    let s = v.as_bytes();
    let mut out = Vec::with_capacity(12);
    let mut c = Cursor::new(s);
    c.pos = from;
    c.skip_ws();
    if c.at_end() {
        return Ok(out);
    }
    // One pass: name LWS "=" LWS (quoted-string / opaque text up to the next comma), then a
    // comma or the end (RFC 2617 §3.2.1 auth-param lists).
    loop {
        if out.len() >= crate::params::DEFAULT_MAX_PARAMS {
            return Err("too many parameters");
        }
        c.skip_ws();
        if c.peek() == Some(b',') {
            return Err("empty list element");
        }
        let name = c.token().ok_or("bad parameter name")?;
        if !c.eat_ws(b'=') {
            return Err("parameter without '='");
        }
        c.skip_ws();
        // Ranges first; the `Param` is then pushed as a constant placeholder and filled in place
        // (a `Param` assembled on the stack and moved stalls on store forwarding).
        enum V {
            Quoted((usize, usize), bool),
            Plain(usize, usize),
            Folded(Text),
        }
        let val = if c.peek() == Some(b'"') {
            let (r, esc) = c.quoted()?;
            V::Quoted(r, esc)
        } else {
            let start = c.pos;
            let rest = s.get(start..).unwrap_or(&[]);
            let end = start + rest.iter().position(|&b| b == b',').unwrap_or(rest.len());
            c.pos = end;
            let (x, y) = trim(s, start, end);
            if x == y {
                return Err("empty parameter value");
            }
            let raw = s.get(x..y).unwrap_or(&[]);
            // opaque text; folds inside it become one space
            let mut folded = false;
            for &b in raw {
                if b == b'"' {
                    return Err("stray quote in parameter value");
                }
                folded |= b == b'\r' || b == b'\n';
            }
            if folded {
                V::Folded(unfold(raw))
            } else {
                V::Plain(x, y)
            }
        };
        out.push(Param::EMPTY);
        if let Some(p) = out.last_mut() {
            p.name = v.slice(name.0, name.1);
            let value = p.value.insert(Text::EMPTY);
            match val {
                V::Quoted(r, false) => {
                    *value = v.slice(r.0, r.1);
                    p.quoted = true;
                }
                V::Quoted(r, true) => {
                    *value = unquote(v, r, true);
                    p.quoted = true;
                }
                V::Plain(x, y) => *value = v.slice(x, y),
                V::Folded(t) => *value = t,
            }
        }
        c.skip_ws();
        if c.at_end() {
            return Ok(out);
        }
        if !c.eat(b',') {
            return Err("characters after a parameter value");
        }
        c.skip_ws();
        if c.at_end() {
            return Err("empty list element");
        }
    }
}

fn unfold(raw: &[u8]) -> Text {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while let Some(&b) = raw.get(i) {
        if b == b'\r' || b == b'\n' {
            while raw.get(i).is_some_and(|&c| is_lws(c)) {
                i += 1;
            }
            if out.last() != Some(&b' ') {
                out.push(b' ');
            }
        } else {
            out.push(b);
            i += 1;
        }
    }
    Text::from(String::from_utf8_lossy(&out).into_owned())
}

impl Header for AuthHeader {
    fn parse(v: &Text) -> Result<Self, &'static str> {
        let s = v.as_bytes();
        let mut c = Cursor::new(s);
        c.skip_ws();
        let scheme = c.token().ok_or("missing auth scheme")?;
        let after = c.pos;
        c.skip_ws();
        if c.pos == after && !c.at_end() {
            return Err("missing white space after the auth scheme");
        }
        let params = parse_params(v, c.pos)?;
        if params.is_empty() && !c.at_end() {
            return Err("malformed auth parameters");
        }
        Ok(AuthHeader {
            scheme: v.slice(scheme.0, scheme.1),
            params,
        })
    }
}

fn write_params(f: &mut fmt::Formatter<'_>, params: &[Param]) -> fmt::Result {
    let mut s = String::new();
    for (i, p) in params.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        s.push_str(&p.name);
        p.write_value(&mut s);
    }
    f.write_str(&s)
}

impl fmt::Display for AuthHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.scheme)?;
        if !self.params.is_empty() {
            f.write_str(" ")?;
        }
        write_params(f, &self.params)
    }
}

/// Authentication-Info (RFC 3261 §20.6): auth-params without a scheme.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuthenticationInfo {
    /// Parameters in order (`nextnonce`, `qop`, `rspauth`, `cnonce`, `nc`).
    pub params: Vec<Param>,
}

impl AuthenticationInfo {
    /// A parameter's value.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|p| p.is(name))
            .and_then(|p| p.value.as_deref())
    }
}

impl Header for AuthenticationInfo {
    fn parse(v: &Text) -> Result<Self, &'static str> {
        let first = v.as_bytes().iter().position(|&b| !is_lws(b)).unwrap_or(0);
        if !v.as_bytes().get(first).is_some_and(|&b| is_token(b)) {
            return Err("expected a parameter");
        }
        Ok(AuthenticationInfo {
            params: parse_params(v, 0)?,
        })
    }
}

impl fmt::Display for AuthenticationInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_params(f, &self.params)
    }
}
