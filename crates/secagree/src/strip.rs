//! Header edits the P-CSCF makes before forwarding a request towards the core (TS 24.229
//! §5.2.2.1, §5.2.2.4): remove Security-Client/Server/Verify and the `sec-agree` option tag from
//! Require/Proxy-Require, set `integrity-protected` in Authorization.

use sip::{Editor, HeaderName, Message, Param};

use crate::error::SecAgreeError;
use crate::policy::IntegrityProtected;

/// Headers removed entirely.
pub const STRIPPED_HEADERS: [HeaderName; 3] = [
    HeaderName::SecurityClient,
    HeaderName::SecurityServer,
    HeaderName::SecurityVerify,
];

/// Headers from which the `sec-agree` option tag is removed (the header goes if nothing is left).
pub const OPTION_TAG_HEADERS: [HeaderName; 2] = [HeaderName::Require, HeaderName::ProxyRequire];

/// The option tag.
pub const SEC_AGREE: &str = "sec-agree";

fn sip_err(e: sip::Error) -> SecAgreeError {
    SecAgreeError::BadHeader {
        header: "Require",
        detail: e.to_string(),
    }
}

/// Removes the Security-* headers and the `sec-agree` option tag. Returns the number of header
/// lines removed or rewritten.
pub fn strip_sec_agree(ed: &mut Editor, msg: &Message) -> Result<usize, SecAgreeError> {
    let mut n = 0;
    for h in STRIPPED_HEADERS {
        n += ed.remove(h);
    }
    for h in OPTION_TAG_HEADERS {
        let tags = match h {
            HeaderName::Require => msg.require(),
            _ => msg.proxy_require(),
        }
        .map_err(sip_err)?;
        if !tags.iter().any(|t| t.eq_ignore_ascii_case(SEC_AGREE)) {
            continue;
        }
        let rest: Vec<&str> = tags
            .iter()
            .filter(|t| !t.eq_ignore_ascii_case(SEC_AGREE))
            .map(|t| &**t)
            .collect();
        n += ed.remove(h);
        if !rest.is_empty() {
            ed.append(h, rest.join(", ")).map_err(sip_err)?;
        }
    }
    Ok(n)
}

/// Sets `integrity-protected="<v>"` in the Authorization header(s). Returns how many were set.
pub fn set_integrity_protected(
    ed: &mut Editor,
    v: IntegrityProtected,
) -> Result<usize, SecAgreeError> {
    ed.set_auth_param(
        HeaderName::Authorization,
        Param::quoted("integrity-protected", v.as_str()),
    )
    .map_err(|e| SecAgreeError::BadHeader {
        header: "Authorization",
        detail: e.to_string(),
    })
}

/// Both edits for a request accepted with `integrity_protected`: the message to forward.
pub fn prepare_forward(
    msg: &Message,
    integrity_protected: Option<IntegrityProtected>,
) -> Result<Message, SecAgreeError> {
    let mut ed = Editor::new(msg);
    strip_sec_agree(&mut ed, msg)?;
    if let Some(v) = integrity_protected {
        set_integrity_protected(&mut ed, v)?;
    }
    ed.finish().map_err(|e| SecAgreeError::BadHeader {
        header: "message",
        detail: e.to_string(),
    })
}
