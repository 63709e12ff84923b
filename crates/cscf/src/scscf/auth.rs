//! IMS-AKA and SIP Digest challenges of the S-CSCF (TS 24.229 §5.4.1.2.1, TS 33.203 §6.1;
//! RFC 3310 AKAv1-MD5, RFC 4169 AKAv2-MD5, RFC 2617 MD5): turning an MAA vector into the stored
//! [`AuthChallenge`] and the WWW-Authenticate header, and checking the answering Authorization.
//!
//! What is stored as the challenge's secret (`AuthChallenge::xres`) depends on the algorithm:
//! XRES itself for AKAv1-MD5 (HA1 = MD5(IMPI:realm:XRES) is computed when verifying), and HA1
//! for AKAv2-MD5 (which needs CK and IK, not kept in the store) and for MD5 (the HSS sends HA1,
//! TS 29.228 §6.3.1). Either way it is 4 to 16 bytes, zeroized and compared in constant time.

use aka::digest::{self, Algorithm, DigestInput, Qop, QopParams};
use aka::Ha1;
use base64::Engine as _;
use cx::SipAuthDataItem;
use sip::AuthHeader;

use crate::store::{AuthChallenge, UnixSecs, Xres};

/// A challenge ready to be stored and sent.
pub(crate) struct NewChallenge {
    /// What to store (keyed by IMPI and nonce).
    pub stored: AuthChallenge,
    /// The WWW-Authenticate value (with `ck`/`ik` for AKA, for the P-CSCF, TS 33.203 §7.1).
    pub header: AuthHeader,
}

/// Builds the challenge for the first usable vector of an MAA (TS 29.229 §6.3.13 SIP-Auth-Data-
/// Item). Errors are the HSS sending something unusable (answered with 500 by the caller).
pub(crate) fn challenge_from_item(
    item: &SipAuthDataItem,
    impi: &str,
    impu: &str,
    realm: &str,
    now: UnixSecs,
    lifetime: u64,
) -> Result<NewChallenge, String> {
    let scheme = item.authentication_scheme.as_deref().unwrap_or_default();
    let (algorithm, aka_v2) = if scheme.eq_ignore_ascii_case(cx::scheme::DIGEST_AKAV1_MD5) {
        (Algorithm::AkaV1Md5, false)
    } else if scheme.eq_ignore_ascii_case("Digest-AKAv2-MD5") {
        (Algorithm::AkaV2Md5, true)
    } else if scheme.eq_ignore_ascii_case(cx::scheme::SIP_DIGEST) {
        return digest_challenge(item, impi, impu, realm, now, lifetime);
    } else {
        return Err(format!("unsupported authentication scheme {scheme:?}"));
    };
    let authenticate = item
        .authenticate
        .as_ref()
        .ok_or("SIP-Authenticate missing")?;
    if authenticate.len() < 32 {
        return Err(format!(
            "SIP-Authenticate is {} bytes, RAND‖AUTN needs 32",
            authenticate.len()
        ));
    }
    let mut rand = [0u8; 16];
    rand.copy_from_slice(&authenticate[..16]);
    let xres = item
        .authorization
        .as_ref()
        .ok_or("SIP-Authorization (XRES) missing")?;
    let ck = item
        .confidentiality_key
        .as_ref()
        .ok_or("Confidentiality-Key missing")?;
    let ik = item.integrity_key.as_ref().ok_or("Integrity-Key missing")?;
    let ck_key = aka::Ck::from_slice(ck.expose()).map_err(|e| e.to_string())?;
    let ik_key = aka::Ik::from_slice(ik.expose()).map_err(|e| e.to_string())?;
    let secret = if aka_v2 {
        let res = aka::Res::from_slice(xres.expose()).map_err(|e| e.to_string())?;
        let ha1 = digest::ha1_akav2(impi, realm, &res, &ik_key, &ck_key);
        Xres::from_slice(ha1.expose()).map_err(|e| e.to_string())?
    } else {
        Xres::from_slice(xres.expose()).map_err(|e| e.to_string())?
    };
    let nonce = base64::engine::general_purpose::STANDARD.encode(&authenticate[..]);
    let header = AuthHeader::digest()
        .with_quoted("realm", realm)
        .with_quoted("nonce", nonce.as_str())
        .with_token("algorithm", algorithm.name())
        .with_quoted("qop", "auth")
        .with_quoted("ck", ck_key.expose_hex())
        .with_quoted("ik", ik_key.expose_hex());
    Ok(NewChallenge {
        stored: AuthChallenge {
            impi: impi.to_string(),
            impu: impu.to_string(),
            nonce,
            rand,
            xres: secret,
            algorithm: algorithm.name().to_string(),
            nc_last: 0,
            created_at: now,
            expires_at: now.saturating_add(lifetime),
            single_use: true,
        },
        header,
    })
}

/// SIP Digest (TS 24.229 §5.4.1.2.1B / TS 29.228 §6.3.1): the HSS gives HA1 (hex); the nonce is
/// ours, 16 random bytes (kept as `rand`) in base64.
fn digest_challenge(
    item: &SipAuthDataItem,
    impi: &str,
    impu: &str,
    realm: &str,
    now: UnixSecs,
    lifetime: u64,
) -> Result<NewChallenge, String> {
    let d = item
        .digest_authenticate
        .as_ref()
        .ok_or("SIP-Digest-Authenticate missing")?;
    let ha1_hex = std::str::from_utf8(d.ha1.expose()).map_err(|_| "Digest-HA1 is not text")?;
    let ha1 = Ha1::from_hex(ha1_hex).map_err(|e| e.to_string())?;
    let rand: [u8; 16] = rand::random();
    let nonce = base64::engine::general_purpose::STANDARD.encode(rand);
    // The HA1 is computed over the HSS's realm; the challenge must name it.
    let realm = if d.realm.is_empty() { realm } else { &d.realm };
    let header = AuthHeader::digest()
        .with_quoted("realm", realm)
        .with_quoted("nonce", nonce.as_str())
        .with_token("algorithm", Algorithm::Md5.name())
        .with_quoted("qop", "auth");
    Ok(NewChallenge {
        stored: AuthChallenge {
            impi: impi.to_string(),
            impu: impu.to_string(),
            nonce,
            rand,
            xres: Xres::from_slice(ha1.expose()).map_err(|e| e.to_string())?,
            algorithm: Algorithm::Md5.name().to_string(),
            nc_last: 0,
            created_at: now,
            expires_at: now.saturating_add(lifetime),
            single_use: true,
        },
        header,
    })
}

/// The outcome of checking an Authorization against its challenge.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// The response is right.
    Authenticated,
    /// The response is wrong (403 and SAR AUTHENTICATION_FAILURE).
    Wrong,
    /// `nc` not greater than the last accepted one: a replay (RFC 2617 §3.2.2).
    Replayed,
    /// The parameters are malformed (400).
    Malformed(String),
}

/// Parses `nc` (8 hex digits, RFC 2617 §3.2.2).
pub(crate) fn parse_nc(nc: &str) -> Option<u32> {
    if nc.len() != 8 || !nc.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(nc, 16).ok()
}

/// Checks `creds` (the Authorization of a REGISTER) against the stored challenge `ch`, computing
/// the expected response from XRES (or the stored HA1) and comparing in constant time
/// (RFC 3310 §3.3, RFC 2617 §3.2.2).
pub(crate) fn verify(ch: &AuthChallenge, creds: &AuthHeader, realm: &str) -> Verdict {
    let Some(received) = creds.response() else {
        return Verdict::Malformed("Authorization without response".into());
    };
    let Some(uri) = creds.uri() else {
        return Verdict::Malformed("Authorization without uri".into());
    };
    let qop = match creds.qop() {
        None => None,
        Some(q) => {
            let Some(qop) = Qop::from_name(q) else {
                return Verdict::Malformed(format!("unsupported qop {q:?}"));
            };
            let (Some(nc), Some(cnonce)) = (creds.nc(), creds.cnonce()) else {
                return Verdict::Malformed("qop without nc or cnonce".into());
            };
            let Some(n) = parse_nc(nc) else {
                return Verdict::Malformed(format!("nc {nc:?} is not 8 hex digits"));
            };
            if n <= ch.nc_last {
                return Verdict::Replayed;
            }
            Some(QopParams { qop, nc, cnonce })
        }
    };
    let ha1 = match Algorithm::from_name(&ch.algorithm) {
        Some(Algorithm::AkaV1Md5) => digest::ha1(&ch.impi, realm, ch.xres.expose()),
        Some(Algorithm::AkaV2Md5 | Algorithm::Md5) => match Ha1::from_slice(ch.xres.expose()) {
            Ok(h) => h,
            Err(_) => return Verdict::Wrong,
        },
        None => return Verdict::Wrong,
    };
    // The realm must be the one challenged: HA1 covers it (checked by the digest itself).
    let input = DigestInput {
        nonce: &ch.nonce,
        method: "REGISTER",
        uri,
        qop,
        body: b"",
    };
    match digest::verify_response(&ha1, &input, received) {
        Ok(true) => Verdict::Authenticated,
        Ok(false) => Verdict::Wrong,
        Err(e) => Verdict::Malformed(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nc_parsing() {
        assert_eq!(parse_nc("00000001"), Some(1));
        assert_eq!(parse_nc("0000000a"), Some(10));
        assert_eq!(parse_nc("1"), None);
        assert_eq!(parse_nc("0000000g"), None);
        assert_eq!(parse_nc("+0000001"), None);
    }

    fn challenge() -> AuthChallenge {
        AuthChallenge {
            impi: "alice@ims.example".into(),
            impu: "sip:alice@ims.example".into(),
            nonce: "bm9uY2U=".into(),
            rand: [0; 16],
            xres: Xres::from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]).unwrap(),
            algorithm: "AKAv1-MD5".into(),
            nc_last: 0,
            created_at: 0,
            expires_at: 30,
            single_use: true,
        }
    }

    fn creds(res: &[u8], nc: &str) -> AuthHeader {
        let ha1 = digest::ha1("alice@ims.example", "ims.example", res);
        let input = DigestInput {
            nonce: "bm9uY2U=",
            method: "REGISTER",
            uri: "sip:ims.example",
            qop: Some(QopParams {
                qop: Qop::Auth,
                nc,
                cnonce: "abc",
            }),
            body: b"",
        };
        let r = digest::response(&ha1, &input).unwrap();
        AuthHeader::digest()
            .with_quoted("username", "alice@ims.example")
            .with_quoted("realm", "ims.example")
            .with_quoted("nonce", "bm9uY2U=")
            .with_quoted("uri", "sip:ims.example")
            .with_quoted("response", r)
            .with_token("qop", "auth")
            .with_token("nc", nc)
            .with_quoted("cnonce", "abc")
    }

    #[test]
    fn akav1_response_checked_against_xres() {
        let ch = challenge();
        assert_eq!(
            verify(
                &ch,
                &creds(&[1, 2, 3, 4, 5, 6, 7, 8], "00000001"),
                "ims.example"
            ),
            Verdict::Authenticated
        );
        assert_eq!(
            verify(
                &ch,
                &creds(&[1, 2, 3, 4, 5, 6, 7, 9], "00000001"),
                "ims.example"
            ),
            Verdict::Wrong
        );
        // Another realm changes HA1.
        assert_eq!(
            verify(&ch, &creds(&[1, 2, 3, 4, 5, 6, 7, 8], "00000001"), "other"),
            Verdict::Wrong
        );
        let mut used = ch.clone();
        used.nc_last = 1;
        assert_eq!(
            verify(
                &used,
                &creds(&[1, 2, 3, 4, 5, 6, 7, 8], "00000001"),
                "ims.example"
            ),
            Verdict::Replayed
        );
        let bad = creds(&[1, 2, 3, 4, 5, 6, 7, 8], "00000001").with_token("nc", "1");
        assert!(matches!(
            verify(&ch, &bad, "ims.example"),
            Verdict::Malformed(_)
        ));
        let mut no_resp = creds(&[1; 8], "00000001");
        no_resp.remove("response");
        assert!(matches!(
            verify(&ch, &no_resp, "ims.example"),
            Verdict::Malformed(_)
        ));
    }
}
