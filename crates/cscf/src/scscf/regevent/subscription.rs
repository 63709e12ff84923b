//! The SUBSCRIBE side of the reg event package at the S-CSCF (RFC 3680 §3, RFC 6665 §4.2.1,
//! TS 24.229 §5.4.2.1.1): who may subscribe, how long for, the dialog the NOTIFYs go in, and the
//! NOTIFY request itself (RFC 6665 §4.2.2, RFC 3261 §12.2.1.1). No I/O.

use sip::{HeaderName, Message, MessageBuilder, Method, NameAddr, Uri};

use crate::identity::{bare_uri, uri_in};
use crate::store::{RegSubscriber, RegSubscription, Registration, UnixSecs};

/// The MIME type of reginfo documents (RFC 3680 §5).
pub const REGINFO_TYPE: &str = "application/reginfo+xml";

/// Subscription durations (RFC 6665 §4.2.1.1, RFC 3680 §3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpiresPolicy {
    /// Shorter non-zero requests get 423 with Min-Expires.
    pub min: u32,
    /// Longer requests are shortened to this.
    pub max: u32,
    /// Used when the SUBSCRIBE has no Expires (RFC 3680 §3.2: 3761 s).
    pub default: u32,
}

impl Default for ExpiresPolicy {
    fn default() -> Self {
        ExpiresPolicy {
            min: 60,
            max: 600_000,
            default: 3761,
        }
    }
}

/// The duration granted for `req`, or `Err(min)` when it is too brief (423). `Ok(0)` is a fetch
/// or an unsubscribe (RFC 6665 §4.2.1.1, §4.2.1.4).
pub fn granted_expires(req: &Message, p: &ExpiresPolicy) -> Result<u32, u32> {
    let asked = req.expires().ok().flatten().unwrap_or(p.default);
    if asked == 0 {
        return Ok(0);
    }
    if asked < p.min {
        return Err(p.min);
    }
    Ok(asked.min(p.max))
}

/// RFC 3680 §3.1 / RFC 6665 §4.2.1: an Accept header, if present, must allow reginfo.
pub fn accepts_reginfo(req: &Message) -> bool {
    let values: Vec<String> = req
        .headers_named("Accept")
        .filter_map(|h| h.value_str().map(str::to_string))
        .collect();
    if values.is_empty() {
        return true;
    }
    values.iter().flat_map(|v| v.split(',')).any(|t| {
        let t = t.split(';').next().unwrap_or("").trim();
        t.eq_ignore_ascii_case(REGINFO_TYPE)
            || t.eq_ignore_ascii_case("application/*")
            || t == "*/*"
    })
}

fn same_host_port(a: &Uri, b: &Uri) -> bool {
    match (a.as_sip(), b.as_sip()) {
        (Some(x), Some(y)) => x.host.matches(&y.host) && x.port == y.port,
        _ => false,
    }
}

/// TS 24.229 §5.4.2.1.1: a SUBSCRIBE to the reg event of `reg` is allowed from the user itself
/// (`P-Asserted-Identity`, set by the P-CSCF, is one of the implicit registration set) or from
/// a P-CSCF on the registration's Path (its asserted URI names the Path's host and port).
/// `None`: 403.
pub fn authorize(req: &Message, reg: &Registration) -> Option<RegSubscriber> {
    let asserted = req.p_asserted_identity().ok()?;
    for pai in &asserted {
        let id = bare_uri(&pai.uri);
        if reg
            .implicit_set
            .iter()
            .any(|i| Uri::parse(i).is_ok_and(|u| bare_uri(&u).eq_ignore_ascii_case(&id)))
        {
            return Some(RegSubscriber::Ue);
        }
    }
    for pai in &asserted {
        let on_path = reg
            .contacts
            .iter()
            .flat_map(|c| &c.path)
            .filter_map(|p| uri_in(p))
            .any(|p| same_host_port(&p, &pai.uri));
        if on_path {
            return Some(RegSubscriber::Pcscf);
        }
    }
    None
}

/// The notifier's dialog for an accepted initial SUBSCRIBE (RFC 3261 §12.1.1, RFC 6665
/// §4.2.1): our tag `local_tag`, Request-URI of NOTIFYs = the subscriber's Contact, route set =
/// its Record-Route; a UE's SUBSCRIBE that was not record-routed gets the Path its contact
/// registered with (TS 24.229 §5.4.2.1.2: the NOTIFY reaches the UE through the P-CSCF).
pub fn new_subscription(
    req: &Message,
    reg: &Registration,
    subscriber: RegSubscriber,
    local_tag: &str,
    expires_at: UnixSecs,
) -> sip::Result<RegSubscription> {
    let dialog = sip_stack::ua::Dialog::as_uas(req, local_tag)?;
    let mut route_set: Vec<String> = dialog.route_set.iter().map(|r| r.to_string()).collect();
    if route_set.is_empty() && subscriber == RegSubscriber::Ue {
        let target = &dialog.remote_target;
        let contact = reg
            .contacts
            .iter()
            .find(|c| Uri::parse(&c.uri).is_ok_and(|u| u.equivalent(target)))
            .or_else(|| reg.contacts.first());
        if let Some(c) = contact {
            route_set = c.path.clone();
        }
    }
    let resource = req
        .request_uri()
        .map(|u| bare_uri(&u))
        .unwrap_or_else(|_| reg.aor.clone());
    Ok(RegSubscription {
        id: RegSubscription::key(&dialog.id.call_id, local_tag),
        aor: reg.aor.clone(),
        resource,
        subscriber,
        call_id: dialog.id.call_id.clone(),
        local_tag: local_tag.to_string(),
        remote_tag: dialog.id.remote_tag.clone(),
        local_uri: dialog.local_uri.to_string(),
        remote_uri: dialog.remote_uri.to_string(),
        remote_target: dialog.remote_target.to_string(),
        route_set,
        local_cseq: 0,
        remote_cseq: dialog.remote_cseq.unwrap_or(0),
        version: None,
        expires_at,
    })
}

/// `Subscription-State` of a NOTIFY (RFC 6665 §4.1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubState {
    /// `active;expires=N`.
    Active(u64),
    /// `terminated;reason=…`.
    Terminated(TerminationReason),
}

/// Why a subscription ended (RFC 6665 §4.1.3 reason codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TerminationReason {
    /// The subscriber may subscribe again at once (network de-registration, UE may re-register).
    Deactivated,
    /// Must not subscribe again (network de-registration, UE may not re-register).
    Rejected,
    /// The subscription expired or was ended by the subscriber (Expires: 0).
    Timeout,
    /// The registration no longer exists (de-registered by the UE, expired).
    NoResource,
}

impl TerminationReason {
    /// The reason token.
    pub fn as_str(self) -> &'static str {
        match self {
            TerminationReason::Deactivated => "deactivated",
            TerminationReason::Rejected => "rejected",
            TerminationReason::Timeout => "timeout",
            TerminationReason::NoResource => "noresource",
        }
    }
}

/// The next NOTIFY of `sub` (its CSeq incremented; RFC 3261 §12.2.1.1): From = our URI with our
/// tag, To = the subscriber's with its tag, Request-URI = its Contact, Route = the route set,
/// Event `reg`, Subscription-State, Contact = `contact`, the reginfo body if any. Returns the
/// message and the next hop (first route, or the target).
pub fn notify_message(
    sub: &mut RegSubscription,
    state: SubState,
    body: Option<String>,
    contact: &str,
) -> sip::Result<(Message, Uri)> {
    let target = Uri::parse(&sub.remote_target)?;
    let routes: Vec<NameAddr> = sub
        .route_set
        .iter()
        .map(|r| <NameAddr as sip::Header>::parse_str(r))
        .collect::<sip::Result<_>>()?;
    sub.local_cseq = sub.local_cseq.wrapping_add(1);
    let ss = match state {
        SubState::Active(left) => format!("active;expires={left}"),
        SubState::Terminated(r) => format!("terminated;reason={}", r.as_str()),
    };
    let mut b = MessageBuilder::request(Method::Notify, &target)
        .header(HeaderName::MaxForwards, 70)
        .header(HeaderName::From, &sub.local_uri)
        .header(HeaderName::To, &sub.remote_uri)
        .header(HeaderName::CallId, &sub.call_id)
        .header(HeaderName::CSeq, format_args!("{} NOTIFY", sub.local_cseq));
    for r in &routes {
        b = b.header(HeaderName::Route, r);
    }
    b = b
        .header(HeaderName::Contact, format_args!("<{contact}>"))
        .header(HeaderName::Event, "reg")
        .header(HeaderName::SubscriptionState, ss);
    b = match body {
        Some(x) => b.body(REGINFO_TYPE, x.into_bytes()),
        None => b,
    };
    let next_hop = routes.first().map(|r| r.uri.clone()).unwrap_or(target);
    Ok((b.build()?, next_hop))
}
