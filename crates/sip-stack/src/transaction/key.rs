//! Transaction keys: client matching (RFC 3261 §17.1.3) and server matching (§17.2.3, with the
//! RFC 2543 fallback when the branch lacks the magic cookie).

use sip::{Message, Method};

/// The method as it takes part in matching: ACK matches the INVITE transaction (§17.1.3,
/// §17.2.3), CANCEL has its own transaction (§9.2).
fn match_method(m: &Method) -> String {
    match m {
        Method::Ack => "INVITE".to_string(),
        m => m.as_str().to_string(),
    }
}

/// Client transaction key: the top Via branch and the CSeq method (§17.1.3).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientKey {
    /// Branch of the Via we inserted.
    pub branch: String,
    /// CSeq method (ACK folded into INVITE).
    pub method: String,
}

impl ClientKey {
    /// The key of a request we send or of a response we receive (top Via branch + CSeq method).
    pub fn from_message(msg: &Message) -> sip::Result<ClientKey> {
        let via = msg.top_via()?;
        let branch = via
            .branch()
            .ok_or(sip::Error::MissingHeader { name: "Via branch" })?
            .to_string();
        let method = msg.cseq()?.method;
        Ok(ClientKey {
            branch,
            method: match_method(&method),
        })
    }
}

/// Server transaction key (§17.2.3).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ServerKey {
    /// RFC 3261 branch (magic cookie): branch + sent-by + method.
    Rfc3261 {
        /// Branch of the top Via.
        branch: String,
        /// sent-by of the top Via, lower-cased, with the default port made explicit.
        sent_by: String,
        /// Method (ACK folded into INVITE).
        method: String,
    },
    /// RFC 2543 fallback: Request-URI, From tag, Call-ID, CSeq number, top Via, method. The To tag
    /// is checked separately (request To tag for retransmissions, the sent To tag for ACK).
    Rfc2543 {
        /// Request-URI as received.
        request_uri: String,
        /// From tag.
        from_tag: String,
        /// Call-ID.
        call_id: String,
        /// CSeq number.
        cseq: u32,
        /// Top Via as written.
        top_via: String,
        /// Method (ACK folded into INVITE).
        method: String,
    },
}

impl ServerKey {
    /// The key of a received request.
    pub fn from_request(msg: &Message) -> sip::Result<ServerKey> {
        let via = msg.top_via()?;
        let method = msg
            .method()
            .ok_or(sip::Error::Usage("server key of a response"))?;
        if via.branch_is_rfc3261() {
            let port = via
                .port
                .unwrap_or(if via.transport.eq_ignore_ascii_case("TLS") {
                    5061
                } else {
                    5060
                });
            return Ok(ServerKey::Rfc3261 {
                branch: via.branch().unwrap_or_default().to_string(),
                sent_by: format!("{}:{port}", via.host).to_ascii_lowercase(),
                method: match_method(&method),
            });
        }
        let from_tag = msg.from()?.tag().unwrap_or_default().to_string();
        Ok(ServerKey::Rfc2543 {
            request_uri: msg
                .request_uri_raw()
                .map(|t| t.to_string())
                .unwrap_or_default(),
            from_tag,
            call_id: msg.call_id()?.to_string(),
            cseq: msg.cseq()?.seq,
            top_via: via.to_string(),
            method: match_method(&method),
        })
    }

    /// The key of the INVITE transaction a CANCEL refers to (§9.2: same branch, method INVITE).
    pub fn invite_for_cancel(&self) -> ServerKey {
        let mut k = self.clone();
        match &mut k {
            ServerKey::Rfc3261 { method, .. } | ServerKey::Rfc2543 { method, .. } => {
                *method = "INVITE".to_string();
            }
        }
        k
    }
}
