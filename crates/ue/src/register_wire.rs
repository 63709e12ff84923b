//! A pre-serialised REGISTER (TS 24.229 §5.1.1.2 / §5.1.1.4 / §5.1.1.6, RFC 3261 §10.2): the
//! parts of the UE's REGISTER that do not change between requests are rendered once through the
//! same `sip` header types the [`sip::MessageBuilder`] path uses; each request then only writes
//! the varying parts (Via branch, From tag, Call-ID, CSeq, Contact `expires=0` on
//! de-registration, Expires, Authorization) between them. The bytes are identical to what the
//! builder path produces (unit tests in `register.rs` compare them), at a fraction of the cost:
//! the load generator builds one such REGISTER per request.
//!
//! Only the unprotected flow without security agreement takes this path; everything else (and
//! any value the builder would reject) goes through the builder.

use std::fmt::Write;

use sip::{is_token_str, write_quoted, HeaderName};

/// True when a rendered piece can be written as is: the builder rejects header values with a
/// bare CR or LF, so anything containing one goes through the builder (which reports it).
fn plain(s: &str) -> bool {
    !s.contains(['\r', '\n'])
}

/// The fixed parts of a UE's REGISTER, in wire order.
#[derive(Debug)]
pub(crate) struct RegisterTemplate {
    /// `REGISTER <uri> SIP/2.0\r\nVia: SIP/2.0/UDP host:port;branch=` (the branch follows).
    head: Box<str>,
    /// `\r\nMax-Forwards: 70\r\n[Route: ...\r\n]From: <impu>;tag=` (the tag follows).
    from: Box<str>,
    /// `\r\nTo: <impu>\r\nCall-ID: ` (the Call-ID follows).
    to: Box<str>,
    /// `\r\nContact: ...\r\nExpires: ` for a registration.
    contact: Box<str>,
    /// `\r\nContact: ...;expires=0\r\nExpires: ` for a de-registration.
    contact_dereg: Box<str>,
    /// `\r\nSupported: ...\r\nAuthorization: ` (the credentials follow).
    auth: Box<str>,
    /// The initial (empty) Authorization value (TS 24.229 §5.1.1.2.1).
    initial_auth: Box<str>,
    /// `\r\nAllow: ...\r\nUser-Agent: ...\r\nContent-Length: 0\r\n\r\n`.
    tail: Box<str>,
}

/// The header lines of a REGISTER in the order `Ue::build_register` gives them, as rendered
/// values (`None` = header absent).
pub(crate) struct RegisterParts<'a> {
    pub request_uri: &'a str,
    /// The rendered Via up to and including `;branch=`.
    pub via_head: &'a str,
    pub route: Option<&'a str>,
    pub impu: &'a str,
    pub contact: &'a str,
    pub contact_dereg: &'a str,
    pub initial_auth: &'a str,
    pub allow: &'a str,
    pub user_agent: &'a str,
}

fn line(out: &mut String, name: &str, value: &str) {
    out.push_str(name);
    out.push_str(": ");
    out.push_str(value);
    out.push_str("\r\n");
}

impl RegisterTemplate {
    /// Renders the fixed parts; `None` if any of them could not be written verbatim.
    pub(crate) fn new(p: &RegisterParts<'_>) -> Option<Self> {
        let all = [
            p.request_uri,
            p.via_head,
            p.route.unwrap_or(""),
            p.impu,
            p.contact,
            p.contact_dereg,
            p.initial_auth,
            p.allow,
            p.user_agent,
        ];
        if !all.iter().all(|s| plain(s)) || p.request_uri.is_empty() {
            return None;
        }
        let mut head = format!("REGISTER {} SIP/2.0\r\n", p.request_uri);
        head.push_str(HeaderName::Via.as_str());
        head.push_str(": ");
        head.push_str(p.via_head);
        let mut from = String::from("\r\n");
        line(&mut from, HeaderName::MaxForwards.as_str(), "70");
        if let Some(r) = p.route {
            line(&mut from, HeaderName::Route.as_str(), r);
        }
        from.push_str(HeaderName::From.as_str());
        from.push_str(": <");
        from.push_str(p.impu);
        from.push_str(">;tag=");
        let mut to = String::from("\r\n");
        to.push_str(HeaderName::To.as_str());
        to.push_str(": <");
        to.push_str(p.impu);
        to.push_str(">\r\n");
        to.push_str(HeaderName::CallId.as_str());
        to.push_str(": ");
        let contact = |c: &str| {
            let mut s = format!(" REGISTER\r\n{}: {c}\r\n", HeaderName::Contact.as_str());
            s.push_str(HeaderName::Expires.as_str());
            s.push_str(": ");
            s
        };
        let mut auth = String::from("\r\n");
        line(&mut auth, HeaderName::Supported.as_str(), "path, sec-agree");
        auth.push_str(HeaderName::Authorization.as_str());
        auth.push_str(": ");
        let mut tail = String::from("\r\n");
        line(&mut tail, "Allow", p.allow);
        line(&mut tail, HeaderName::UserAgent.as_str(), p.user_agent);
        tail.push_str("Content-Length: 0\r\n\r\n");
        Some(RegisterTemplate {
            head: head.into(),
            from: from.into(),
            to: to.into(),
            contact: contact(p.contact).into(),
            contact_dereg: contact(p.contact_dereg).into(),
            auth: auth.into(),
            initial_auth: p.initial_auth.into(),
            tail: tail.into(),
        })
    }

    /// Writes one REGISTER into `out` (cleared first). `cseq_line` writes between `CSeq: ` and
    /// ` REGISTER` the sequence number; `auth` writes the Authorization value (`None` = the
    /// initial one).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn write(
        &self,
        out: &mut String,
        branch: &str,
        from_tag: &str,
        call_id: &str,
        seq: u32,
        expires: u32,
        auth: Option<&dyn Fn(&mut String)>,
    ) {
        out.clear();
        out.push_str(&self.head);
        out.push_str(branch);
        out.push_str(&self.from);
        out.push_str(from_tag);
        out.push_str(&self.to);
        out.push_str(call_id);
        out.push_str("\r\n");
        out.push_str(HeaderName::CSeq.as_str());
        out.push_str(": ");
        let _ = write!(out, "{seq}");
        out.push_str(if expires == 0 {
            &self.contact_dereg
        } else {
            &self.contact
        });
        let _ = write!(out, "{expires}");
        out.push_str(&self.auth);
        match auth {
            Some(f) => f(out),
            None => out.push_str(&self.initial_auth),
        }
        out.push_str(&self.tail);
    }

    /// A size that holds a REGISTER with credentials.
    pub(crate) fn capacity(&self) -> usize {
        self.head.len()
            + self.from.len()
            + self.to.len()
            + self.contact_dereg.len()
            + self.auth.len()
            + self.tail.len()
            + 512
    }
}

/// The parts of a computed Authorization value (RFC 3261 §22.4, RFC 3310 §3.2) that stay the
/// same for one challenge: everything before the response digest, and what follows it up to the
/// qop parameters.
#[derive(Debug, Clone)]
pub(crate) struct AuthWire {
    /// `Digest username="..", realm="..", nonce="..", uri="..", response="`.
    before_response: Box<str>,
    /// `", algorithm=..[, opaque=".."]`.
    after_response: Box<str>,
}

impl AuthWire {
    /// Splits the rendering of `Digest username, realm, nonce, uri, response=""` and of
    /// `Digest algorithm[, opaque]` (the header the builder path renders, in the same order);
    /// `None` if a value cannot be written verbatim.
    pub(crate) fn new(
        username: &str,
        realm: &str,
        nonce: &str,
        uri: &str,
        algorithm: &str,
        opaque: Option<&str>,
    ) -> Option<Self> {
        // written directly, as `AuthHeader`'s Display writes a Digest header (scheme, then the
        // parameters joined by ", "): the unit tests compare the bytes with the builder path's
        let mut before = String::with_capacity(64 + username.len() + realm.len() + nonce.len());
        for (i, (name, value)) in [
            ("username", username),
            ("realm", realm),
            ("nonce", nonce),
            ("uri", uri),
        ]
        .into_iter()
        .enumerate()
        {
            before.push_str(if i == 0 { "Digest " } else { ", " });
            before.push_str(name);
            before.push('=');
            write_quoted(&mut before, value);
        }
        before.push_str(", response=\"");
        if !is_token_str(algorithm.as_bytes()) {
            return None;
        }
        let mut after = format!("\", algorithm={algorithm}");
        if let Some(o) = opaque {
            after.push_str(", opaque=");
            write_quoted(&mut after, o);
        }
        (plain(&before) && plain(&after)).then(|| AuthWire {
            before_response: before.into(),
            after_response: after.into(),
        })
    }

    /// Writes the Authorization value with this response digest and, with qop=auth, cnonce and
    /// nonce count.
    pub(crate) fn write(&self, out: &mut String, response: &str, qop: Option<(&str, u32)>) {
        out.push_str(&self.before_response);
        out.push_str(response);
        out.push_str(&self.after_response);
        if let Some((cnonce, nc)) = qop {
            out.push_str(", cnonce=\"");
            out.push_str(cnonce);
            let _ = write!(out, "\", qop=auth, nc={nc:08x}");
        }
    }
}
