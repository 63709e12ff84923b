//! HTTP Digest authentication as SIP uses it.
//!
//! * RFC 2617 §3.2.2 (MD5, the same computation as RFC 7616 with algorithm MD5):
//!   `HA1 = MD5(username ":" realm ":" password)`;
//!   `HA2 = MD5(method ":" uri)` (qop `auth` or no qop) or `MD5(method ":" uri ":" MD5(body))` (`auth-int`);
//!   `response = MD5(HA1 ":" nonce ":" nc ":" cnonce ":" qop ":" HA2)` with qop, or
//!   `MD5(HA1 ":" nonce ":" HA2)` without (RFC 2069 compatibility), where HA1 and HA2 enter as 32 lowercase
//!   hex digits.
//! * `rspauth` (RFC 2617 §3.2.3, Authentication-Info): the same with an empty method in HA2.
//! * AKAv1-MD5 (RFC 3310 §3.3): the password is RES as raw bytes (it may contain 0x00, so it is never
//!   handled as a C string).
//! * AKAv2-MD5 (RFC 4169 §3): the password is base64(PRF(RES ‖ IK ‖ CK, "http-digest-akav2-password"))
//!   with PRF = HMAC-MD5 (key RES ‖ IK ‖ CK, message the ASCII string); its 24 base64 characters are the
//!   password.
//! * Plain Digest-MD5 subscribers: the HSS stores HA1 ([`Ha1`]), never the clear password.
//!
//! Verification ([`verify_response`]) decodes the received 32 hex digits and compares the 16 bytes in
//! constant time.

use hmac::{Hmac, Mac as _};
use md5::{Digest, Md5};
use subtle::ConstantTimeEq;
use zeroize::Zeroize;

use crate::secret::{Ck, Ha1, Ik, Res};
use crate::AkaError;

/// The Digest `algorithm` values this crate computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// `MD5` (RFC 2617), also the default when `algorithm` is absent.
    Md5,
    /// `AKAv1-MD5` (RFC 3310).
    AkaV1Md5,
    /// `AKAv2-MD5` (RFC 4169).
    AkaV2Md5,
}

impl Algorithm {
    /// Parses the `algorithm` parameter (case-insensitive, RFC 2617 §3.2.1 token).
    pub fn from_name(s: &str) -> Option<Self> {
        if s.eq_ignore_ascii_case("MD5") {
            Some(Self::Md5)
        } else if s.eq_ignore_ascii_case("AKAv1-MD5") {
            Some(Self::AkaV1Md5)
        } else if s.eq_ignore_ascii_case("AKAv2-MD5") {
            Some(Self::AkaV2Md5)
        } else {
            None
        }
    }

    /// The canonical spelling.
    pub fn name(self) -> &'static str {
        match self {
            Self::Md5 => "MD5",
            Self::AkaV1Md5 => "AKAv1-MD5",
            Self::AkaV2Md5 => "AKAv2-MD5",
        }
    }
}

/// The quality of protection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Qop {
    /// `auth`.
    Auth,
    /// `auth-int` (HA2 covers the message body).
    AuthInt,
}

impl Qop {
    /// The token.
    pub fn name(self) -> &'static str {
        match self {
            Self::Auth => "auth",
            Self::AuthInt => "auth-int",
        }
    }

    /// Parses `auth` / `auth-int` (case-insensitive).
    pub fn from_name(s: &str) -> Option<Self> {
        if s.eq_ignore_ascii_case("auth") {
            Some(Self::Auth)
        } else if s.eq_ignore_ascii_case("auth-int") {
            Some(Self::AuthInt)
        } else {
            None
        }
    }
}

/// The qop-related parameters of a request (RFC 2617 §3.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QopParams<'a> {
    /// `qop`.
    pub qop: Qop,
    /// `nc`: exactly 8 hex digits, used as sent.
    pub nc: &'a str,
    /// `cnonce`, used as sent (without quotes).
    pub cnonce: &'a str,
}

/// What the response covers, besides HA1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DigestInput<'a> {
    /// `nonce` as sent (without quotes).
    pub nonce: &'a str,
    /// The request method (e.g. `REGISTER`).
    pub method: &'a str,
    /// `uri` as sent (digest-uri, without quotes).
    pub uri: &'a str,
    /// The qop parameters; `None` = the RFC 2069 form.
    pub qop: Option<QopParams<'a>>,
    /// The message body (only used with `auth-int`).
    pub body: &'a [u8],
}

fn hex32(d: &[u8; 16]) -> [u8; 32] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut o = [0u8; 32];
    for (i, b) in d.iter().enumerate() {
        o[2 * i] = HEX[usize::from(b >> 4)];
        o[2 * i + 1] = HEX[usize::from(b & 0x0f)];
    }
    o
}

fn md5_finish(h: Md5) -> [u8; 16] {
    h.finalize().into()
}

/// MD5 of the concatenation of `parts`. Short inputs (the usual case) are gathered in a stack buffer and
/// hashed in one call; the buffer is zeroized afterwards because it may hold HA1 or a password.
fn md5_concat(parts: &[&[u8]]) -> [u8; 16] {
    const CAP: usize = 512;
    let total: usize = parts.iter().map(|p| p.len()).sum();
    if total > CAP {
        let mut h = Md5::new();
        for p in parts {
            h.update(p);
        }
        return md5_finish(h);
    }
    let mut buf = [0u8; CAP];
    let mut n = 0;
    for p in parts {
        buf[n..n + p.len()].copy_from_slice(p);
        n += p.len();
    }
    let d: [u8; 16] = Md5::digest(&buf[..n]).into();
    buf[..n].zeroize();
    d
}

/// HA1 = MD5(username ":" realm ":" password) for any password bytes (RFC 2617 §3.2.2.2).
pub fn ha1(username: &str, realm: &str, password: &[u8]) -> Ha1 {
    Ha1::from_bytes(md5_concat(&[
        username.as_bytes(),
        b":",
        realm.as_bytes(),
        b":",
        password,
    ]))
}

/// HA1 for AKAv1-MD5: the password is RES as raw bytes (RFC 3310 §3.3).
pub fn ha1_akav1(username: &str, realm: &str, res: &Res) -> Ha1 {
    ha1(username, realm, res.expose())
}

/// The AKAv2-MD5 password: base64(HMAC-MD5(key = RES ‖ IK ‖ CK, "http-digest-akav2-password"))
/// (RFC 4169 §3). Returned as bytes so it can be zeroized by the caller.
pub fn akav2_password(res: &Res, ik: &Ik, ck: &Ck) -> zeroize::Zeroizing<Vec<u8>> {
    use base64::Engine;
    let mut key = [0u8; 40];
    key[..8].copy_from_slice(res.expose());
    key[8..24].copy_from_slice(ik.expose());
    key[24..].copy_from_slice(ck.expose());
    let mut mac = <Hmac<Md5> as hmac::Mac>::new_from_slice(&key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    key.zeroize();
    mac.update(b"http-digest-akav2-password");
    let mut prf: [u8; 16] = mac.finalize().into_bytes().into();
    let pw = base64::engine::general_purpose::STANDARD.encode(prf);
    prf.zeroize();
    zeroize::Zeroizing::new(pw.into_bytes())
}

/// HA1 for AKAv2-MD5 (RFC 4169 §3).
pub fn ha1_akav2(username: &str, realm: &str, res: &Res, ik: &Ik, ck: &Ck) -> Ha1 {
    ha1(username, realm, &akav2_password(res, ik, ck))
}

fn check_qop(q: &QopParams<'_>) -> Result<(), AkaError> {
    if q.nc.len() != 8 || !q.nc.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(AkaError::Digest(format!(
            "nc must be 8 hex digits, got {:?}",
            q.nc
        )));
    }
    if q.cnonce.is_empty() {
        return Err(AkaError::Digest("cnonce must not be empty with qop".into()));
    }
    Ok(())
}

fn ha2(method: &str, input: &DigestInput<'_>) -> [u8; 32] {
    if let Some(QopParams {
        qop: Qop::AuthInt, ..
    }) = input.qop
    {
        let body = hex32(&md5_finish(Md5::new_with_prefix(input.body)));
        hex32(&md5_concat(&[
            method.as_bytes(),
            b":",
            input.uri.as_bytes(),
            b":",
            &body,
        ]))
    } else {
        hex32(&md5_concat(&[
            method.as_bytes(),
            b":",
            input.uri.as_bytes(),
        ]))
    }
}

fn compute(ha1: &Ha1, method: &str, input: &DigestInput<'_>) -> Result<[u8; 16], AkaError> {
    if let Some(q) = &input.qop {
        check_qop(q)?;
    }
    let ha2 = ha2(method, input);
    let mut ha1_hex = hex32(ha1.expose());
    let d = match &input.qop {
        Some(q) => md5_concat(&[
            &ha1_hex,
            b":",
            input.nonce.as_bytes(),
            b":",
            q.nc.as_bytes(),
            b":",
            q.cnonce.as_bytes(),
            b":",
            q.qop.name().as_bytes(),
            b":",
            &ha2,
        ]),
        None => md5_concat(&[&ha1_hex, b":", input.nonce.as_bytes(), b":", &ha2]),
    };
    ha1_hex.zeroize();
    Ok(d)
}

/// The `response` parameter (32 lowercase hex digits) for a request (RFC 2617 §3.2.2.1).
pub fn response(ha1: &Ha1, input: &DigestInput<'_>) -> Result<String, AkaError> {
    let d = compute(ha1, input.method, input)?;
    Ok(String::from_utf8_lossy(&hex32(&d)).into_owned())
}

/// The `rspauth` parameter of Authentication-Info: the response computed with an empty method
/// (RFC 2617 §3.2.3). `input.method` is ignored.
pub fn rspauth(ha1: &Ha1, input: &DigestInput<'_>) -> Result<String, AkaError> {
    let d = compute(ha1, "", input)?;
    Ok(String::from_utf8_lossy(&hex32(&d)).into_owned())
}

/// Checks a received `response` (32 hex digits, either case) in constant time. `Ok(false)` = wrong
/// credentials (SIP 403 / new challenge); `Err` = malformed parameters (SIP 400).
pub fn verify_response(
    ha1: &Ha1,
    input: &DigestInput<'_>,
    received: &str,
) -> Result<bool, AkaError> {
    let mut got = [0u8; 16];
    if received.len() != 32 || hex::decode_to_slice(received, &mut got).is_err() {
        return Err(AkaError::Digest(format!(
            "response must be 32 hex digits, got {} characters",
            received.len()
        )));
    }
    let expected = compute(ha1, input.method, input)?;
    Ok(bool::from(expected.ct_eq(&got)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 2617 §3.5: user Mufasa, password "Circle Of Life", realm testrealm@host.com.
    fn rfc2617_input() -> DigestInput<'static> {
        DigestInput {
            nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093",
            method: "GET",
            uri: "/dir/index.html",
            qop: Some(QopParams {
                qop: Qop::Auth,
                nc: "00000001",
                cnonce: "0a4f113b",
            }),
            body: b"",
        }
    }

    #[test]
    fn rfc2617_section_3_5_example() {
        let h = ha1("Mufasa", "testrealm@host.com", b"Circle Of Life");
        let input = rfc2617_input();
        assert_eq!(
            response(&h, &input).unwrap(),
            "6629fae49393a05397450978507c4ef1"
        );
        assert!(verify_response(&h, &input, "6629fae49393a05397450978507c4ef1").unwrap());
        assert!(verify_response(&h, &input, "6629FAE49393A05397450978507C4EF1").unwrap());
        assert!(!verify_response(&h, &input, "6629fae49393a05397450978507c4ef0").unwrap());
        assert!(verify_response(&h, &input, "6629fae4").is_err());
        assert!(verify_response(&h, &input, "zz29fae49393a05397450978507c4ef1").is_err());
    }

    #[test]
    fn qop_parameters_are_validated() {
        let h = ha1("u", "r", b"p");
        let mut input = rfc2617_input();
        input.qop = Some(QopParams {
            qop: Qop::Auth,
            nc: "1",
            cnonce: "x",
        });
        assert!(matches!(response(&h, &input), Err(AkaError::Digest(_))));
        input.qop = Some(QopParams {
            qop: Qop::Auth,
            nc: "00000001",
            cnonce: "",
        });
        assert!(matches!(response(&h, &input), Err(AkaError::Digest(_))));
    }

    #[test]
    fn algorithm_names() {
        for a in [Algorithm::Md5, Algorithm::AkaV1Md5, Algorithm::AkaV2Md5] {
            assert_eq!(Algorithm::from_name(a.name()), Some(a));
        }
        assert_eq!(Algorithm::from_name("akav1-md5"), Some(Algorithm::AkaV1Md5));
        assert_eq!(Algorithm::from_name("SHA-256"), None);
        assert_eq!(Qop::from_name("AUTH-INT"), Some(Qop::AuthInt));
    }
}
