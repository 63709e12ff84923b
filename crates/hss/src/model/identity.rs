//! IMS identities: the private user identity (IMPI, a NAI `user@realm`, TS 23.003 §13.3, RFC 4282)
//! and public user identities (IMPU, a SIP URI or a tel URI, TS 23.003 §13.4, RFC 3261 §19.1,
//! RFC 3966).
//!
//! Validation is deliberately strict and explains what is wrong; it runs on every provisioning path
//! before anything is written.

use serde::{Deserialize, Serialize};

use crate::HssError;

/// Longest identity accepted (characters); TS 29.228 puts no limit, Diameter UTF8String AVPs should
/// stay well under a message size, and real identities are < 100 characters.
pub const MAX_IDENTITY_LEN: usize = 255;

/// A validated private user identity (IMPI), `user@realm`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Impi(String);

impl Impi {
    /// Validates `user@realm` (RFC 4282 §2.1 NAI: a non-empty user part without `@`, whitespace or
    /// control characters, and a realm that is a DNS name).
    pub fn parse(s: &str) -> Result<Self, HssError> {
        let s = s.trim();
        check_len("impi", s)?;
        let (user, realm) = s.rsplit_once('@').ok_or_else(|| {
            HssError::invalid("impi", format!("{s:?} is not of the form user@realm"))
        })?;
        if user.is_empty() {
            return Err(HssError::invalid(
                "impi",
                format!("{s:?} has an empty user part"),
            ));
        }
        if let Some(c) = user
            .chars()
            .find(|c| c.is_whitespace() || c.is_control() || *c == '@' || *c == '"')
        {
            return Err(HssError::invalid(
                "impi",
                format!("{s:?}: character {c:?} not allowed in the user part"),
            ));
        }
        check_domain("impi", realm)?;
        Ok(Self(s.to_string()))
    }

    /// The identity as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The realm (the part after the last `@`).
    pub fn realm(&self) -> &str {
        self.0.rsplit_once('@').map(|(_, r)| r).unwrap_or("")
    }
}

impl TryFrom<String> for Impi {
    type Error = HssError;
    fn try_from(s: String) -> Result<Self, HssError> {
        Self::parse(&s)
    }
}

impl From<Impi> for String {
    fn from(i: Impi) -> String {
        i.0
    }
}

impl std::fmt::Display for Impi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A validated public user identity (IMPU): `sip:user@domain` / `sip:domain` or `tel:+digits`
/// (a global number, RFC 3966 §5.1.4) / `tel:digits;phone-context=…` (a local number).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Impu(String);

impl Impu {
    /// Validates a SIP or tel URI public identity.
    pub fn parse(s: &str) -> Result<Self, HssError> {
        let s = s.trim();
        check_len("impu", s)?;
        if let Some(c) = s.chars().find(|c| c.is_whitespace() || c.is_control()) {
            return Err(HssError::invalid(
                "impu",
                format!("{s:?}: character {c:?} not allowed in a URI"),
            ));
        }
        let lower = s.to_ascii_lowercase();
        if lower.starts_with("sip:") {
            let rest = s.get(4..).unwrap_or("");
            // Drop URI parameters/headers: they are not part of the identity's address.
            let addr = rest.split([';', '?']).next().unwrap_or("");
            let host = match addr.rsplit_once('@') {
                Some((user, host)) => {
                    if user.is_empty() {
                        return Err(HssError::invalid(
                            "impu",
                            format!("{s:?} has an empty user part"),
                        ));
                    }
                    host
                }
                None => addr,
            };
            // Strip an optional :port.
            let host = match host.rsplit_once(':') {
                Some((h, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => {
                    h
                }
                _ => host,
            };
            check_domain("impu", host)?;
            Ok(Self(s.to_string()))
        } else if lower.starts_with("tel:") {
            let rest = s.get(4..).unwrap_or("");
            let mut parts = rest.split(';');
            let number = parts.next().unwrap_or("");
            let has_context = parts.any(|p| p.to_ascii_lowercase().starts_with("phone-context="));
            let digits = number.strip_prefix('+');
            let body = digits.unwrap_or(number);
            let is_visual = |c: char| matches!(c, '-' | '.' | '(' | ')');
            if body.is_empty()
                || !body.chars().all(|c| c.is_ascii_digit() || is_visual(c))
                || !body.chars().any(|c| c.is_ascii_digit())
            {
                return Err(HssError::invalid(
                    "impu",
                    format!(
                        "{s:?}: a tel URI needs digits (optionally '+' and - . ( ) separators)"
                    ),
                ));
            }
            if digits.is_none() && !has_context {
                return Err(HssError::invalid(
                    "impu",
                    format!("{s:?}: a local tel number needs ;phone-context= (RFC 3966 §5.1.5)"),
                ));
            }
            Ok(Self(s.to_string()))
        } else {
            Err(HssError::invalid(
                "impu",
                format!("{s:?} is neither a sip: nor a tel: URI"),
            ))
        }
    }

    /// The identity as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True for a tel URI (a tel URI is registered implicitly with a SIP URI of its implicit
    /// registration set, never on its own).
    pub fn is_tel(&self) -> bool {
        self.0
            .get(..4)
            .is_some_and(|p| p.eq_ignore_ascii_case("tel:"))
    }
}

impl TryFrom<String> for Impu {
    type Error = HssError;
    fn try_from(s: String) -> Result<Self, HssError> {
        Self::parse(&s)
    }
}

impl From<Impu> for String {
    fn from(i: Impu) -> String {
        i.0
    }
}

impl std::fmt::Display for Impu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn check_len(field: &'static str, s: &str) -> Result<(), HssError> {
    if s.is_empty() {
        return Err(HssError::invalid(field, "empty"));
    }
    if s.len() > MAX_IDENTITY_LEN {
        return Err(HssError::invalid(
            field,
            format!("{} characters, at most {MAX_IDENTITY_LEN} allowed", s.len()),
        ));
    }
    Ok(())
}

/// A DNS name (RFC 1035 §2.3.1 labels of letters, digits and hyphens), or an IPv4 address.
fn check_domain(field: &'static str, d: &str) -> Result<(), HssError> {
    if d.is_empty() {
        return Err(HssError::invalid(field, "empty domain/realm"));
    }
    for label in d.trim_end_matches('.').split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err(HssError::invalid(
                field,
                format!("domain {d:?} has an empty or over-long label"),
            ));
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            || label.starts_with('-')
            || label.ends_with('-')
        {
            return Err(HssError::invalid(
                field,
                format!("domain {d:?}: label {label:?} is not letters, digits and inner hyphens"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn impi_accepts_nai_and_rejects_garbage() {
        let i = Impi::parse("001010000000001@ims.mnc001.mcc001.3gppnetwork.org").unwrap();
        assert_eq!(i.realm(), "ims.mnc001.mcc001.3gppnetwork.org");
        for bad in [
            "",
            "alice",
            "@ims.example",
            "alice@",
            "al ice@ims.example",
            "alice@ims..example",
            "alice@-x.example",
        ] {
            assert!(Impi::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn impu_sip_and_tel() {
        for good in [
            "sip:alice@ims.example",
            "sip:ims.example",
            "sip:alice@ims.example:5060",
            "sip:+4930123@ims.example;user=phone",
            "tel:+49-30-123",
            "tel:1234;phone-context=ims.example",
            "SIP:Alice@IMS.example",
        ] {
            Impu::parse(good).unwrap_or_else(|e| panic!("{good:?}: {e}"));
        }
        for bad in [
            "alice@ims.example",
            "sips",
            "sip:",
            "sip:@ims.example",
            "sip:alice@ims_example",
            "tel:",
            "tel:+",
            "tel:abc",
            "tel:1234",
            "mailto:a@b.c",
            "sip:al ice@ims.example",
        ] {
            assert!(Impu::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(Impu::parse("tel:+1").unwrap().is_tel());
        assert!(!Impu::parse("sip:a@b.c").unwrap().is_tel());
    }

    #[test]
    fn too_long_is_rejected_with_reason() {
        let long = format!("sip:{}@ims.example", "a".repeat(300));
        let e = Impu::parse(&long).unwrap_err().to_string();
        assert!(e.contains("at most 255"), "{e}");
    }
}
