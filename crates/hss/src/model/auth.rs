//! Authentication schemes an IMPI may use (TS 33.203 §6.1 IMS AKA, RFC 3310 AKAv1-MD5, RFC 4169
//! AKAv2-MD5, RFC 2617 Digest) and their credentials.

use serde::{Deserialize, Serialize};

use crate::secret::Ha1;
use crate::HssError;

/// An authentication scheme of a private identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum AuthScheme {
    /// IMS AKA with Digest AKAv1-MD5 (RFC 3310, TS 33.203 §6.1).
    #[serde(rename = "AKAv1-MD5")]
    AkaV1Md5,
    /// Digest AKAv2-MD5 (RFC 4169).
    #[serde(rename = "AKAv2-MD5")]
    AkaV2Md5,
    /// Plain SIP Digest MD5 (RFC 2617 / RFC 3261 §22); the HSS holds only HA1.
    #[serde(rename = "Digest-MD5")]
    DigestMd5,
}

impl AuthScheme {
    /// All schemes, in preference order.
    pub const ALL: [AuthScheme; 3] = [Self::AkaV1Md5, Self::AkaV2Md5, Self::DigestMd5];

    /// Canonical name used in the store, the CLI and the REST API.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::AkaV1Md5 => "AKAv1-MD5",
            Self::AkaV2Md5 => "AKAv2-MD5",
            Self::DigestMd5 => "Digest-MD5",
        }
    }

    /// True for the AKA schemes (which consume SQNs).
    pub const fn is_aka(self) -> bool {
        matches!(self, Self::AkaV1Md5 | Self::AkaV2Md5)
    }

    /// Parses a name case-insensitively; also accepts the Cx SIP-Authentication-Scheme spellings
    /// `Digest-AKAv1-MD5`, `Digest-AKAv2-MD5` and `SIP Digest` (TS 29.229 §6.3.2).
    pub fn parse(s: &str) -> Result<Self, HssError> {
        let t = s.trim();
        let eq = |a: &str| t.eq_ignore_ascii_case(a);
        if eq("AKAv1-MD5") || eq("Digest-AKAv1-MD5") {
            Ok(Self::AkaV1Md5)
        } else if eq("AKAv2-MD5") || eq("Digest-AKAv2-MD5") {
            Ok(Self::AkaV2Md5)
        } else if eq("Digest-MD5") || eq("SIP Digest") || eq("MD5") || eq("Digest") {
            Ok(Self::DigestMd5)
        } else {
            Err(HssError::invalid(
                "auth_scheme",
                format!("{t:?} is not one of AKAv1-MD5, AKAv2-MD5, Digest-MD5"),
            ))
        }
    }

    /// Parses a comma/semicolon/space separated list, rejecting duplicates and empty lists.
    pub fn parse_list(s: &str) -> Result<Vec<Self>, HssError> {
        let mut out = Vec::new();
        for part in s.split([',', ';', ' ']).filter(|p| !p.trim().is_empty()) {
            let a = Self::parse(part)?;
            if out.contains(&a) {
                return Err(HssError::invalid(
                    "auth_schemes",
                    format!("{} listed twice", a.as_str()),
                ));
            }
            out.push(a);
        }
        if out.is_empty() {
            return Err(HssError::invalid("auth_schemes", "empty list"));
        }
        Ok(out)
    }

    /// Formats a list the way [`AuthScheme::parse_list`] reads it.
    pub fn format_list(list: &[Self]) -> String {
        list.iter()
            .map(|a| a.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }
}

impl std::fmt::Display for AuthScheme {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// SIP Digest credentials as the HSS keeps them: the realm and HA1, never the password
/// (RFC 2617 §3.2.2.2; TS 29.228 §6.3 "SIP Digest" MAA returns HA1 in Digest-HA1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestCredentials {
    /// Digest realm the HA1 was computed for.
    pub realm: String,
    /// MD5(username ":" realm ":" password).
    pub ha1: Ha1,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_names_and_lists() {
        assert_eq!(
            AuthScheme::parse("digest-akav1-md5").unwrap(),
            AuthScheme::AkaV1Md5
        );
        assert_eq!(
            AuthScheme::parse("SIP Digest").unwrap(),
            AuthScheme::DigestMd5
        );
        assert_eq!(
            AuthScheme::parse_list("AKAv1-MD5, Digest-MD5").unwrap(),
            vec![AuthScheme::AkaV1Md5, AuthScheme::DigestMd5]
        );
        assert!(AuthScheme::parse_list("AKAv1-MD5,akav1-md5").is_err());
        assert!(AuthScheme::parse_list(" , ").is_err());
        assert!(AuthScheme::parse("CAVE").is_err());
        let l = [AuthScheme::AkaV2Md5, AuthScheme::AkaV1Md5];
        assert_eq!(
            AuthScheme::parse_list(&AuthScheme::format_list(&l)).unwrap(),
            l
        );
    }
}
