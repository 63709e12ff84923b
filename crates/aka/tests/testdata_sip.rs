//! Nonce and key values taken from the shared SIP test messages.

use aka::{AkaError, AkaNonce, Ck, Ik};

fn read(name: &str) -> String {
    let path = format!(
        "{}/../../../shared/testdata/sip/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("test data {path} missing: {e}"));
    String::from_utf8(bytes).expect("UTF-8 SIP message")
}

/// Unfolds header continuation lines (RFC 3261 §7.3.1) and returns the WWW-Authenticate value.
fn www_authenticate(msg: &str) -> String {
    let unfolded = msg.replace("\r\n ", " ").replace("\r\n\t", " ");
    let line = unfolded
        .split("\r\n")
        .find(|l| l.starts_with("WWW-Authenticate:"))
        .expect("WWW-Authenticate header");
    line["WWW-Authenticate:".len()..].trim().to_owned()
}

/// The value of `name=` up to the next `, <param>=` (quotes removed).
fn param(value: &str, name: &str) -> String {
    let start = value.find(&format!("{name}=")).expect("parameter") + name.len() + 1;
    let rest = &value[start..];
    let v = if let Some(r) = rest.strip_prefix('"') {
        &r[..r.find('"').expect("closing quote")]
    } else {
        // unquoted: up to ", <token>=" (the TS 24.228 placeholder contains ", " itself? no: it ends at "),")
        let end = rest
            .find("), ")
            .map(|i| i + 1)
            .or_else(|| rest.find(','))
            .unwrap_or(rest.len());
        &rest[..end]
    };
    v.to_owned()
}

#[test]
fn ts24228_placeholder_nonce_is_rejected_with_a_clear_error() {
    let v = www_authenticate(&read("ts24228-p04-401-scscf-to-icscf.sip"));
    let nonce = param(&v, "nonce");
    assert!(nonce.starts_with("base64(RAND"), "{nonce}");
    let err = AkaNonce::decode(&nonce).unwrap_err();
    assert!(matches!(err, AkaError::NonceBase64(_)), "{err:?}");
    assert!(err.to_string().starts_with("nonce: not valid base64"));
    // its ck is 31 hex digits and must not be taken as a key
    let ck = param(&v, "ck");
    assert_eq!(ck.len(), 31);
    assert!(matches!(
        Ck::from_hex(&ck),
        Err(AkaError::BadHex { what: "CK", .. })
    ));
    assert!(Ik::from_hex(&param(&v, "ik")).is_ok());
}

#[test]
fn captured_nonce_decodes_to_rand_and_autn() {
    let v = www_authenticate(&read("02-401-unauthorized.sip"));
    let nonce = param(&v, "nonce");
    let n = AkaNonce::decode(&nonce).unwrap();
    assert!(n.server_data.is_empty());
    assert_eq!(n.encode(), nonce);
    // RAND is the first 16 decoded bytes, AUTN the next 16
    use base64::Engine;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(&nonce)
        .unwrap();
    assert_eq!(&n.rand.0[..], &raw[..16]);
    assert_eq!(&n.autn.0[..], &raw[16..32]);
}
