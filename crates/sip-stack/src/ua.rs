//! The user-agent parts the S-CSCF (registrar, reg-event notifier) and the UE need:
//! tags and branches, responses with a To tag (RFC 3261 §8.2.6.2), Require/Supported checks
//! (§8.2.2.3, 420 with Unsupported), and SUBSCRIBE/NOTIFY dialogs (RFC 6665) with CSeq
//! tracking (§12.2.1.1 local CSeq increments, §12.2.2 remote CSeq must increase).

use crate::proxy::Rejection;
use rand::Rng;
use sip::{HeaderName, Message, MessageBuilder, Method, NameAddr, Uri};
use std::fmt::Write as _;

/// A random token of `n` hex digits.
fn random_hex(n: usize) -> String {
    let mut rng = rand::thread_rng();
    let mut s = String::with_capacity(n);
    for _ in 0..n.div_ceil(16) {
        let _ = write!(s, "{:016x}", rng.gen::<u64>());
    }
    s.truncate(n);
    s
}

/// A fresh From/To tag (RFC 3261 §19.3: at least 32 bits of randomness; we use 64).
pub fn new_tag() -> String {
    random_hex(16)
}

/// A fresh RFC 3261 branch (`z9hG4bK` + 64 random bits, §8.1.1.7).
pub fn new_branch() -> String {
    format!("{}{}", crate::MAGIC_COOKIE, random_hex(16))
}

/// A fresh Call-ID (`random@host`).
pub fn new_call_id(host: &str) -> String {
    format!("{}@{host}", random_hex(20))
}

/// A response to `req` carrying a To tag (an existing one is kept; otherwise `to_tag`, or a new
/// random tag), §8.2.6.2. 100 Trying gets no tag.
pub fn response(req: &Message, status: u16, reason: &str, to_tag: Option<&str>) -> MessageBuilder {
    if status == 100 {
        return MessageBuilder::response_to(req, status, reason, None);
    }
    let tag = to_tag.map(str::to_string).unwrap_or_else(new_tag);
    MessageBuilder::response_to(req, status, reason, Some(&tag))
}

/// §8.2.2.3: every option tag in Require must be in `supported`; otherwise a 420 naming the
/// missing ones in Unsupported. (Not applied to ACK and CANCEL, which cannot be rejected.)
pub fn check_require(req: &Message, supported: &[&str]) -> Result<(), Rejection> {
    if matches!(req.method(), Some(Method::Ack | Method::Cancel)) {
        return Ok(());
    }
    let missing: Vec<String> = req
        .require()?
        .iter()
        .filter(|t| !supported.iter().any(|s| s.eq_ignore_ascii_case(t)))
        .map(|t| t.to_string())
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(Rejection {
            status: 420,
            reason: "Bad Extension".into(),
            unsupported: missing,
        })
    }
}

/// A dialog identifier (RFC 3261 §12): Call-ID, local tag, remote tag.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DialogId {
    /// Call-ID.
    pub call_id: String,
    /// Our tag.
    pub local_tag: String,
    /// The peer's tag.
    pub remote_tag: String,
}

impl DialogId {
    /// The id of the dialog a received in-dialog request belongs to (our tag is its To tag).
    pub fn of_incoming(req: &Message) -> sip::Result<DialogId> {
        Ok(DialogId {
            call_id: req.call_id()?.to_string(),
            local_tag: req.to()?.tag().unwrap_or_default().to_string(),
            remote_tag: req.from()?.tag().unwrap_or_default().to_string(),
        })
    }

    /// The id for a received response to a request we sent (our tag is its From tag).
    pub fn of_response(resp: &Message) -> sip::Result<DialogId> {
        Ok(DialogId {
            call_id: resp.call_id()?.to_string(),
            local_tag: resp.from()?.tag().unwrap_or_default().to_string(),
            remote_tag: resp.to()?.tag().unwrap_or_default().to_string(),
        })
    }
}

/// A dialog's state (§12.1): ids, CSeqs, route set, remote target, and the identities.
#[derive(Debug, Clone)]
pub struct Dialog {
    /// Identifier.
    pub id: DialogId,
    /// Our last CSeq (the next request uses `local_cseq + 1`).
    pub local_cseq: u32,
    /// The peer's last CSeq (`None` until the first request from it).
    pub remote_cseq: Option<u32>,
    /// Route set (§12.1.1 UAS: Record-Route in order; §12.1.2 UAC: reversed).
    pub route_set: Vec<NameAddr>,
    /// Remote target (the peer's Contact).
    pub remote_target: Uri,
    /// Our URI (From of our requests).
    pub local_uri: NameAddr,
    /// The peer's URI (To of our requests).
    pub remote_uri: NameAddr,
}

/// A CSeq from the peer that is not larger than the last one (§12.2.2): answer 500.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("remote CSeq {got} is not above {last}")]
pub struct CSeqOutOfOrder {
    /// Last accepted.
    pub last: u32,
    /// Received.
    pub got: u32,
}

impl Dialog {
    /// The UAS side (§12.1.1): created when we answer `req` (e.g. a SUBSCRIBE) with a 2xx
    /// carrying `local_tag`.
    pub fn as_uas(req: &Message, local_tag: &str) -> sip::Result<Dialog> {
        let contact = first_contact(req)?;
        let from = req.from()?;
        let mut to = req.to()?;
        if to.tag().is_none() {
            to.params
                .set(sip::Param::token("tag", local_tag.to_string()));
        }
        Ok(Dialog {
            id: DialogId {
                call_id: req.call_id()?.to_string(),
                local_tag: local_tag.to_string(),
                remote_tag: from.tag().unwrap_or_default().to_string(),
            },
            local_cseq: 0,
            remote_cseq: Some(req.cseq()?.seq),
            route_set: req.record_route()?,
            remote_target: contact,
            local_uri: to,
            remote_uri: from,
        })
    }

    /// The UAC side (§12.1.2): created from our request and the 2xx (or, RFC 6665 §4.1.2.4, a
    /// NOTIFY) that established it. For a NOTIFY, pass it as `resp`: its From tag is the
    /// remote tag and its Contact the remote target.
    pub fn as_uac(req: &Message, resp: &Message) -> sip::Result<Dialog> {
        let from = req.from()?;
        let remote_is_request = resp.is_request();
        let remote = if remote_is_request {
            resp.from()?
        } else {
            resp.to()?
        };
        let mut route_set = resp.record_route()?;
        // a 2xx's Record-Route is reversed (§12.1.2); a NOTIFY's is taken in order, as a UAS
        // does (§12.1.1, RFC 6665 §4.1.2.4)
        if !remote_is_request {
            route_set.reverse();
        }
        Ok(Dialog {
            id: DialogId {
                call_id: req.call_id()?.to_string(),
                local_tag: from.tag().unwrap_or_default().to_string(),
                remote_tag: remote.tag().unwrap_or_default().to_string(),
            },
            local_cseq: req.cseq()?.seq,
            remote_cseq: remote_is_request
                .then(|| resp.cseq().map(|c| c.seq))
                .transpose()?,
            route_set,
            remote_target: first_contact(resp)?,
            local_uri: from,
            remote_uri: remote,
        })
    }

    /// The next local CSeq (incremented, §12.2.1.1).
    pub fn next_cseq(&mut self) -> u32 {
        self.local_cseq = self.local_cseq.wrapping_add(1);
        self.local_cseq
    }

    /// Checks and records the CSeq of an in-dialog request from the peer (§12.2.2): it must be
    /// larger than the last one (a retransmission is absorbed by the transaction layer before).
    pub fn accept_remote_cseq(&mut self, seq: u32) -> Result<(), CSeqOutOfOrder> {
        if let Some(last) = self.remote_cseq {
            if seq <= last {
                return Err(CSeqOutOfOrder { last, got: seq });
            }
        }
        self.remote_cseq = Some(seq);
        Ok(())
    }

    /// Starts an in-dialog request (§12.2.1.1): Request-URI = remote target (loose routing),
    /// Route = route set, From/To with tags, Call-ID, the next CSeq, Max-Forwards. The caller
    /// adds Via (with [`new_branch`]), Contact, Event/Subscription-State, body.
    pub fn request(&mut self, method: Method) -> MessageBuilder {
        let cseq = self.next_cseq();
        let mut b = MessageBuilder::request(method.clone(), &self.remote_target)
            .header(HeaderName::MaxForwards, 70)
            .header(HeaderName::From, &self.local_uri)
            .header(HeaderName::To, &self.remote_uri)
            .header(HeaderName::CallId, &self.id.call_id)
            .header(HeaderName::CSeq, format_args!("{cseq} {}", method.as_str()));
        for r in &self.route_set {
            b = b.header(HeaderName::Route, r);
        }
        b
    }
}

fn first_contact(msg: &Message) -> sip::Result<Uri> {
    msg.contacts()?
        .into_iter()
        .find_map(|c| match c {
            sip::Contact::Addr(na) => Some(na.uri),
            _ => None,
        })
        .ok_or(sip::Error::MissingHeader { name: "Contact" })
}

/// RFC 6665 subscription state on the notifier side: dialog + expiry, so that every NOTIFY
/// carries the right Subscription-State (§4.2.2) and CSeq.
#[derive(Debug, Clone)]
pub struct Subscription {
    /// The dialog.
    pub dialog: Dialog,
    /// Event package (e.g. `reg`, RFC 3680).
    pub event: String,
    /// When it expires.
    pub expires_at: std::time::Instant,
    /// True once terminated.
    pub terminated: bool,
}

impl Subscription {
    /// Accepts a SUBSCRIBE (we answer 200 with `local_tag`) for `expires` seconds.
    pub fn accept(
        req: &Message,
        local_tag: &str,
        expires: u32,
        now: std::time::Instant,
    ) -> sip::Result<Subscription> {
        let event = req
            .event()?
            .ok_or(sip::Error::MissingHeader { name: "Event" })?;
        Ok(Subscription {
            dialog: Dialog::as_uas(req, local_tag)?,
            event: event.package.to_string(),
            expires_at: now + std::time::Duration::from_secs(u64::from(expires)),
            terminated: false,
        })
    }

    /// Refreshes from an in-dialog SUBSCRIBE (CSeq checked); `expires` 0 ends it (§4.2.1.4).
    pub fn refresh(
        &mut self,
        req: &Message,
        expires: u32,
        now: std::time::Instant,
    ) -> Result<(), CSeqOutOfOrder> {
        let seq = req.cseq().map(|c| c.seq).unwrap_or(0);
        self.dialog.accept_remote_cseq(seq)?;
        self.expires_at = now + std::time::Duration::from_secs(u64::from(expires));
        if expires == 0 {
            self.terminated = true;
        }
        Ok(())
    }

    /// A NOTIFY with Event and Subscription-State (`active;expires=N` or
    /// `terminated;reason=…`) and the next CSeq.
    pub fn notify(&mut self, now: std::time::Instant, reason: Option<&str>) -> MessageBuilder {
        let state = if self.terminated || now >= self.expires_at {
            self.terminated = true;
            format!("terminated;reason={}", reason.unwrap_or("timeout"))
        } else {
            let left = self.expires_at.saturating_duration_since(now).as_secs();
            format!("active;expires={left}")
        };
        self.dialog
            .request(Method::Notify)
            .header(HeaderName::Event, &self.event)
            .header(HeaderName::SubscriptionState, state)
    }
}
