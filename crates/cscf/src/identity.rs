//! The identities a CSCF reads from a REGISTER (TS 24.229 §5.3.1.2, §5.4.1.2.1).

use sip::{Message, Uri};

/// The public user identity being registered: the To URI (TS 24.229 §5.4.1.2.1), without
/// parameters (TS 23.003 §13.4).
pub fn impu_of(req: &Message) -> Option<String> {
    let to = req.to().ok()?;
    Some(bare_uri(&to.uri))
}

/// The private user identity: the `username` of the Digest Authorization header; without one,
/// derived from the public identity by removing the scheme and any port, parameters and
/// headers (TS 24.229 §5.4.1.2.1, TS 33.203 §7.2A).
pub fn impi_of(req: &Message) -> Option<String> {
    if let Ok(Some(auth)) = req.authorization() {
        if let Some(u) = auth.username() {
            if !u.is_empty() {
                return Some(u.to_string());
            }
        }
    }
    let to = req.to().ok()?;
    derive_impi(&to.uri)
}

/// TS 24.229 §5.4.1.2.1: the private identity a network derives from a public one (`sip:user@host`
/// → `user@host`); `None` for a URI without a user part (tel: URIs cannot be converted).
pub fn derive_impi(uri: &Uri) -> Option<String> {
    let s = uri.as_sip()?;
    let user = s.user.as_ref()?;
    Some(format!("{}@{}", user, s.host))
}

/// A URI as an identity: scheme, user and host only (`sip:user@host`, `tel:+123`), as the HSS
/// stores public identities.
pub fn bare_uri(uri: &Uri) -> String {
    match uri.as_sip() {
        Some(s) => {
            let scheme = if s.secure { "sips" } else { "sip" };
            match &s.user {
                Some(u) => format!("{scheme}:{u}@{}", s.host),
                None => format!("{scheme}:{}", s.host),
            }
        }
        None => match uri {
            Uri::Tel(t) => format!("tel:{}", t.number),
            other => other.to_string(),
        },
    }
}

/// The URI inside a header value such as `<sip:a@b;lr>;p=1` (or a bare URI).
pub fn uri_in(v: &str) -> Option<Uri> {
    let v = v.trim();
    let inner = match (v.find('<'), v.rfind('>')) {
        (Some(a), Some(b)) if a < b => &v[a + 1..b],
        _ => v,
    };
    Uri::parse(inner).ok()
}

/// Whether a REGISTER asks to remove bindings only: `Expires: 0` with no contact asking for a
/// non-zero expiry, or `Contact: *` (RFC 3261 §10.2.2).
pub fn is_deregistration(req: &Message) -> bool {
    let header_expires = req.expires().ok().flatten();
    let Ok(contacts) = req.contacts() else {
        return false;
    };
    if contacts.is_empty() {
        return false;
    }
    contacts.iter().all(|c| match c.addr() {
        None => true, // `*`
        Some(a) => a.expires().or(header_expires) == Some(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reg(extra: &str) -> Message {
        let raw = format!(
            "REGISTER sip:ims.example.org SIP/2.0\r\n\
             Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1\r\n\
             From: <sip:alice@ims.example.org>;tag=1\r\n\
             To: <sip:alice@ims.example.org;foo=bar>\r\n\
             Call-ID: c1\r\nCSeq: 1 REGISTER\r\nMax-Forwards: 70\r\n{extra}Content-Length: 0\r\n\r\n"
        );
        Message::parse(bytes::Bytes::from(raw)).expect("parse")
    }

    #[test]
    fn impi_from_authorization_or_derived_from_to() {
        let m = reg("Contact: <sip:a@10.0.0.1>\r\nAuthorization: Digest username=\"alice.priv@ims.example.org\", realm=\"ims.example.org\", nonce=\"\", uri=\"sip:ims.example.org\", response=\"\"\r\n");
        assert_eq!(impi_of(&m).as_deref(), Some("alice.priv@ims.example.org"));
        let m = reg("Contact: <sip:a@10.0.0.1>\r\n");
        assert_eq!(impi_of(&m).as_deref(), Some("alice@ims.example.org"));
        assert_eq!(impu_of(&m).as_deref(), Some("sip:alice@ims.example.org"));
    }

    #[test]
    fn deregistration_detection() {
        assert!(is_deregistration(&reg(
            "Contact: <sip:a@10.0.0.1>\r\nExpires: 0\r\n"
        )));
        assert!(is_deregistration(&reg(
            "Contact: <sip:a@10.0.0.1>;expires=0\r\nExpires: 600\r\n"
        )));
        assert!(is_deregistration(&reg("Contact: *\r\nExpires: 0\r\n")));
        assert!(!is_deregistration(&reg(
            "Contact: <sip:a@10.0.0.1>\r\nExpires: 600\r\n"
        )));
        assert!(!is_deregistration(&reg(
            "Contact: <sip:a@10.0.0.1>;expires=0, <sip:b@10.0.0.1>\r\nExpires: 600\r\n"
        )));
        // a query (no Contact) removes nothing
        assert!(!is_deregistration(&reg("Expires: 0\r\n")));
    }
}
