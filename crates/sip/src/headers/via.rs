//! Via (RFC 3261 §20.42, §18.2.1 received, RFC 3581 rport).

use super::Header;
use crate::params::{Param, Params, DEFAULT_MAX_PARAMS};
use crate::scan::{is_token, Cursor};
use crate::text::Text;
use crate::uri::Host;
use std::fmt;
use std::net::IpAddr;

/// The RFC 3261 §8.1.1.7 branch magic cookie.
pub const MAGIC_COOKIE: &str = "z9hG4bK";

/// One Via element: `SIP/2.0/<transport> <host>[:<port>];params`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Via {
    /// Transport as received (`UDP`, `TCP`, `TLS`, `SCTP`, or any token).
    pub transport: Text,
    /// sent-by host.
    pub host: Host,
    /// sent-by port.
    pub port: Option<u16>,
    /// Parameters in order (branch, received, rport, comp, unknown ones).
    pub params: Params,
}

impl Via {
    /// A Via with a branch parameter.
    pub fn new(
        transport: impl Into<Text>,
        host: Host,
        port: Option<u16>,
        branch: impl Into<Text>,
    ) -> Self {
        let mut params = Params::new();
        params.set(Param::token("branch", branch));
        Via {
            transport: transport.into(),
            host,
            port,
            params,
        }
    }

    /// The branch parameter.
    pub fn branch(&self) -> Option<&str> {
        self.params.value("branch")
    }

    /// True if the branch starts with the RFC 3261 magic cookie and has something after it
    /// (RFC 4475 §3.2.1: a bare `z9hG4bK` is not a usable RFC 3261 branch).
    pub fn branch_is_rfc3261(&self) -> bool {
        self.branch()
            .is_some_and(|b| b.len() > MAGIC_COOKIE.len() && b.starts_with(MAGIC_COOKIE))
    }

    /// The `received` parameter as an address (RFC 3261 §18.2.1).
    pub fn received(&self) -> Option<IpAddr> {
        let v = self.params.value("received")?;
        v.trim_start_matches('[').trim_end_matches(']').parse().ok()
    }

    /// `rport` (RFC 3581): `None` absent, `Some(None)` present without value, `Some(Some(p))`.
    pub fn rport(&self) -> Option<Option<u16>> {
        let p = self.params.get("rport")?;
        Some(p.value.as_ref().and_then(|v| v.parse().ok()))
    }

    /// `host[:port]` as written.
    pub fn sent_by(&self) -> String {
        match self.port {
            Some(p) => format!("{}:{p}", self.host),
            None => self.host.to_string(),
        }
    }
}

impl Header for Via {
    fn parse(v: &Text) -> Result<Self, &'static str> {
        let s = v.as_bytes();
        let mut c = Cursor::new(s);
        c.skip_ws();
        let name = c.token().ok_or("missing protocol name")?;
        if !s
            .get(name.0..name.1)
            .is_some_and(|n| n.eq_ignore_ascii_case(b"SIP"))
        {
            return Err("protocol is not SIP");
        }
        if !c.eat_ws(b'/') {
            return Err("missing '/' in sent-protocol");
        }
        c.skip_ws();
        let ver = c.token().ok_or("missing protocol version")?;
        if s.get(ver.0..ver.1) != Some(b"2.0") {
            return Err("protocol version is not 2.0");
        }
        if !c.eat_ws(b'/') {
            return Err("missing '/' before transport");
        }
        c.skip_ws();
        let tr = c.token().ok_or("missing transport")?;
        let before = c.pos;
        c.skip_ws();
        if c.pos == before {
            return Err("missing white space before sent-by");
        }
        let h = if c.peek() == Some(b'[') {
            let r = c.take_while(|b| b != b']');
            if !c.eat(b']') {
                return Err("unterminated IPv6 reference");
            }
            (r.0, r.1 + 1)
        } else {
            c.take_while(|b| is_token(b) && b != b'!' && b != b'%')
        };
        let host = Host::parse_text(v, h.0, h.1)?;
        let mut port = None;
        if c.eat_ws(b':') {
            c.skip_ws();
            let p = c.take_while(|b| b.is_ascii_digit());
            port = Some(
                crate::scan::parse_u64(s.get(p.0..p.1).unwrap_or(&[]), 65535).ok_or("bad port")?
                    as u16,
            );
        }
        let params = Params::parse(v, &mut c, DEFAULT_MAX_PARAMS)?;
        c.skip_ws();
        if !c.at_end() {
            return Err("unexpected characters after Via parameters");
        }
        if params.get("branch").is_some_and(|p| p.value.is_none()) {
            return Err("branch without value");
        }
        Ok(Via {
            transport: v.slice(tr.0, tr.1),
            host,
            port,
            params,
        })
    }
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SIP/2.0/{} {}", self.transport, self.host)?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        write!(f, "{}", self.params)
    }
}
