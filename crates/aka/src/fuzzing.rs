//! Entry points for the fuzz targets (`crates/aka/fuzz/`) and the corpus test (`tests/fuzz_corpus.rs`).
//!
//! Each function feeds arbitrary bytes to a parser of peer- or user-supplied data and checks invariants
//! that hold for correct code; it panics only if such an invariant is broken (a bug), never because the
//! input is bad.

use crate::digest::{self, DigestInput, Qop, QopParams};
use crate::nonce::{AkaNonce, MAX_DECODED};
use crate::secret::{Ck, Ha1, Ik, Op, Opc, Res, K};
use crate::types::{Amf, Autn, Auts, Rand, Sqn};

/// The base64 decoders of SIP parameters (the AKA `nonce`, the `auts` parameter): must not panic; a
/// decoded value has the allowed length and re-encodes to exactly the input (decoding is strict).
pub fn nonce_decode(data: &[u8]) {
    let Ok(s) = core::str::from_utf8(data) else {
        return;
    };
    if let Ok(n) = AkaNonce::decode(s) {
        assert!(32 + n.server_data.len() <= MAX_DECODED);
        assert_eq!(n.encode(), s, "strict decoding must round-trip");
    }
    if let Ok(a) = Auts::from_base64(s) {
        assert_eq!(a.to_base64(), s, "strict decoding must round-trip");
    }
}

fn canonical_hex(s: &str) -> String {
    let t = s.trim();
    let t = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .unwrap_or(t);
    t.to_ascii_lowercase()
}

/// The hexadecimal parsers of every fixed-size value (secrets and public values): must not panic; a
/// value that parses prints back as the lowercase input.
pub fn hex_parsers(data: &[u8]) {
    let Ok(s) = core::str::from_utf8(data) else {
        return;
    };
    let c = canonical_hex(s);
    macro_rules! check {
        ($($t:ty => $hex:ident),*) => {$(
            if let Ok(v) = <$t>::from_hex(s) {
                assert_eq!(v.$hex(), c);
            }
        )*};
    }
    check!(K => expose_hex, Op => expose_hex, Opc => expose_hex, Res => expose_hex, Ck => expose_hex,
        Ik => expose_hex, Ha1 => expose_hex, Rand => to_hex, Amf => to_hex, Autn => to_hex,
        Auts => to_hex);
    if let Ok(v) = Sqn::from_hex(s) {
        assert_eq!(v.to_hex(), c);
    }
}

/// The Digest response check with attacker-controlled parameters: the input is split at NUL bytes into
/// nonce, uri, nc, cnonce and the received response; must not panic, and a response computed by
/// [`digest::response`] for the same input must verify.
pub fn digest_verify(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.split('\0');
    let nonce = parts.next().unwrap_or("");
    let uri = parts.next().unwrap_or("");
    let nc = parts.next().unwrap_or("");
    let cnonce = parts.next().unwrap_or("");
    let received = parts.next().unwrap_or("");
    let ha1 = digest::ha1_akav1(
        "user@ims.test",
        "ims.test",
        &Res::from_bytes([0, 1, 0, 2, 0, 3, 0, 4]),
    );
    for qop in [None, Some(Qop::Auth), Some(Qop::AuthInt)] {
        let input = DigestInput {
            nonce,
            method: "REGISTER",
            uri,
            qop: qop.map(|qop| QopParams { qop, nc, cnonce }),
            body: data,
        };
        let _ = digest::verify_response(&ha1, &input, received);
        if let Ok(r) = digest::response(&ha1, &input) {
            assert_eq!(r.len(), 32);
            assert_eq!(digest::verify_response(&ha1, &input, &r), Ok(true));
        }
    }
}
