//! Contact bindings of a REGISTER (RFC 3261 §10.3 steps 6–8, RFC 5626 §6, TS 24.229 §5.4.1.2.2):
//! the requested expiry of each Contact, the de-registration forms, matching against stored
//! bindings by `+sip.instance`/`reg-id` or by URI, and applying the request to a registration.

use sip::{Contact, Message, Uri};

use crate::store::{Flow, RegContact, Registration, UnixSecs};

use super::ScscfConfig;

/// One Contact of the REGISTER with the interval it asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Requested {
    /// The Contact URI as sent.
    pub uri: String,
    /// Requested interval in seconds (0: remove).
    pub expires: u32,
    /// `q` in thousandths.
    pub q: Option<u16>,
    /// `+sip.instance`.
    pub instance: Option<String>,
    /// `reg-id`.
    pub reg_id: Option<u32>,
}

/// What the REGISTER asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Request {
    /// No Contact: a query of the current bindings (RFC 3261 §10.2.4).
    Query,
    /// `Contact: *` with `Expires: 0`: remove every binding (RFC 3261 §10.2.2).
    RemoveAll,
    /// Add, refresh or remove (expires 0) these bindings.
    Update(Vec<Requested>),
}

/// Why the Contacts cannot be accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Rejected {
    /// 400: malformed Contact or `*` misused.
    Bad(String),
    /// 423 Interval Too Brief (RFC 3261 §10.3 step 7).
    TooBrief,
}

/// Reads the Contacts and their intervals: the `expires` parameter, else the Expires header,
/// else `default_expires`; intervals above `max_expires` are shortened, non-zero ones below
/// `min_expires` rejected (RFC 3261 §10.2.1.1, §10.3 step 7).
pub(crate) fn requested(req: &Message, cfg: &ScscfConfig) -> Result<Request, Rejected> {
    let contacts = req
        .contacts()
        .map_err(|e| Rejected::Bad(format!("Contact: {e}")))?;
    let header_expires = req
        .expires()
        .map_err(|e| Rejected::Bad(format!("Expires: {e}")))?;
    if contacts.is_empty() {
        return Ok(Request::Query);
    }
    if contacts.iter().any(|c| matches!(c, Contact::Wildcard)) {
        // RFC 3261 §10.3 step 6: `*` only alone and with Expires: 0.
        if contacts.len() != 1 || header_expires != Some(0) {
            return Err(Rejected::Bad(
                "Contact: * needs Expires: 0 and no other Contact".into(),
            ));
        }
        return Ok(Request::RemoveAll);
    }
    let mut out = Vec::with_capacity(contacts.len());
    for c in contacts.iter().filter_map(Contact::addr) {
        if c.param("expires").is_some() && c.expires().is_none() {
            return Err(Rejected::Bad("Contact expires is not a number".into()));
        }
        let asked = c
            .expires()
            .or(header_expires)
            .unwrap_or(cfg.default_expires);
        if asked != 0 && asked < cfg.min_expires {
            return Err(Rejected::TooBrief);
        }
        let q = c
            .q()
            .filter(|q| (0.0..=1.0).contains(q))
            .map(|q| (q * 1000.0).round() as u16);
        out.push(Requested {
            uri: c.uri.to_string(),
            expires: asked.min(cfg.max_expires),
            q,
            instance: c.sip_instance().map(str::to_string),
            reg_id: c.reg_id(),
        });
    }
    Ok(Request::Update(out))
}

/// Whether a stored binding is the one a requested Contact refers to: same `+sip.instance` and
/// `reg-id` (RFC 5626 §6), same instance when neither has a reg-id, otherwise the same URI
/// (RFC 3261 §10.3 step 8, URI comparison of §19.1.4).
fn same_binding(stored: &RegContact, c: &Requested) -> bool {
    match (&stored.instance, &c.instance) {
        (Some(a), Some(b)) => a == b && stored.reg_id == c.reg_id,
        _ => uri_equivalent(&stored.uri, &c.uri),
    }
}

fn uri_equivalent(a: &str, b: &str) -> bool {
    match (Uri::parse(a), Uri::parse(b)) {
        (Ok(x), Ok(y)) => x.equivalent(&y),
        _ => a == b,
    }
}

/// Context of the REGISTER stored with every binding it writes.
pub(crate) struct Refresh<'a> {
    pub call_id: &'a str,
    pub cseq: u32,
    pub path: &'a [String],
    pub flow: Option<Flow>,
    pub now: UnixSecs,
}

/// Applies `request` to `reg` (RFC 3261 §10.3 step 8): removes, refreshes or adds bindings and
/// drops those already expired. Returns `Err` when a binding was last written by the same
/// Call-ID with a higher or equal CSeq (an out-of-order REGISTER, step 8: 500).
pub(crate) fn apply(reg: &mut Registration, request: &Request, r: &Refresh<'_>) -> Result<(), ()> {
    reg.contacts.retain(|c| c.expires_at > r.now);
    match request {
        Request::Query => {}
        Request::RemoveAll => reg.contacts.clear(),
        Request::Update(cs) => {
            for c in cs {
                let existing = reg.contacts.iter().position(|s| same_binding(s, c));
                if let Some(i) = existing {
                    let s = &reg.contacts[i];
                    if s.call_id == r.call_id && s.cseq >= r.cseq {
                        return Err(());
                    }
                }
                match (existing, c.expires) {
                    (Some(i), 0) => {
                        reg.contacts.remove(i);
                    }
                    (None, 0) => {}
                    (slot, secs) => {
                        let binding = RegContact {
                            uri: c.uri.clone(),
                            expires_at: r.now.saturating_add(u64::from(secs)),
                            q: c.q,
                            instance: c.instance.clone(),
                            reg_id: c.reg_id,
                            path: r.path.to_vec(),
                            call_id: r.call_id.to_string(),
                            cseq: r.cseq,
                            received: r.flow.clone(),
                        };
                        match slot {
                            Some(i) => reg.contacts[i] = binding,
                            None => reg.contacts.push(binding),
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> ScscfConfig {
        ScscfConfig {
            min_expires: 60,
            max_expires: 7200,
            default_expires: 3600,
            ..ScscfConfig::default()
        }
    }

    fn register(extra: &str) -> Message {
        let raw = format!(
            "REGISTER sip:ims.example SIP/2.0\r\n\
             Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK1\r\n\
             From: <sip:alice@ims.example>;tag=1\r\n\
             To: <sip:alice@ims.example>\r\n\
             Call-ID: c1\r\n\
             CSeq: 1 REGISTER\r\n\
             {extra}\
             Content-Length: 0\r\n\r\n"
        );
        Message::parse(raw.into_bytes()).unwrap()
    }

    #[test]
    fn intervals() {
        let r = requested(&register("Contact: <sip:a@1.2.3.4>\r\n"), &cfg()).unwrap();
        let Request::Update(cs) = r else { panic!() };
        assert_eq!(cs[0].expires, 3600);
        let r = requested(
            &register("Contact: <sip:a@1.2.3.4>;expires=99999\r\nExpires: 100\r\n"),
            &cfg(),
        )
        .unwrap();
        let Request::Update(cs) = r else { panic!() };
        assert_eq!(cs[0].expires, 7200);
        let r = requested(
            &register("Contact: <sip:a@1.2.3.4>\r\nExpires: 100\r\n"),
            &cfg(),
        );
        let Ok(Request::Update(cs)) = r else { panic!() };
        assert_eq!(cs[0].expires, 100);
        assert_eq!(
            requested(&register("Contact: <sip:a@1.2.3.4>;expires=10\r\n"), &cfg()),
            Err(Rejected::TooBrief)
        );
        let r = requested(&register("Contact: <sip:a@1.2.3.4>;expires=0\r\n"), &cfg());
        let Ok(Request::Update(cs)) = r else { panic!() };
        assert_eq!(cs[0].expires, 0);
        assert_eq!(
            requested(&register("Contact: *\r\nExpires: 0\r\n"), &cfg()),
            Ok(Request::RemoveAll)
        );
        assert!(matches!(
            requested(&register("Contact: *\r\n"), &cfg()),
            Err(Rejected::Bad(_))
        ));
        assert_eq!(requested(&register(""), &cfg()), Ok(Request::Query));
    }

    #[test]
    fn matching_by_instance_then_uri() {
        let mut reg = Registration {
            aor: "sip:alice@ims.example".into(),
            impi: "alice@ims.example".into(),
            implicit_set: vec![],
            contacts: vec![],
        };
        let refresh = |cseq| Refresh {
            call_id: "c1",
            cseq,
            path: &[],
            flow: None,
            now: 1000,
        };
        let c = |uri: &str, inst: Option<&str>, exp| Requested {
            uri: uri.into(),
            expires: exp,
            q: None,
            instance: inst.map(String::from),
            reg_id: inst.map(|_| 1),
        };
        let req = Request::Update(vec![c("sip:a@1.1.1.1:5060", Some("<urn:uuid:1>"), 600)]);
        apply(&mut reg, &req, &refresh(1)).unwrap();
        // Same instance, new address (e.g. after a NAT rebinding): replaces the binding.
        let req = Request::Update(vec![c("sip:a@2.2.2.2:5060", Some("<urn:uuid:1>"), 600)]);
        apply(&mut reg, &req, &refresh(2)).unwrap();
        assert_eq!(reg.contacts.len(), 1);
        assert_eq!(reg.contacts[0].uri, "sip:a@2.2.2.2:5060");
        // No instance: matched by URI (case-insensitive host).
        let req = Request::Update(vec![c("sip:b@3.3.3.3", None, 600)]);
        apply(&mut reg, &req, &refresh(3)).unwrap();
        let req = Request::Update(vec![c("sip:b@3.3.3.3:5060", None, 600)]);
        apply(&mut reg, &req, &refresh(4)).unwrap();
        assert_eq!(reg.contacts.len(), 3);
        let req = Request::Update(vec![c("sip:b@3.3.3.3", None, 0)]);
        apply(&mut reg, &req, &refresh(5)).unwrap();
        assert_eq!(reg.contacts.len(), 2);
        // Out of order CSeq on the same Call-ID.
        let req = Request::Update(vec![c("sip:a@2.2.2.2:5060", Some("<urn:uuid:1>"), 600)]);
        assert!(apply(&mut reg, &req, &refresh(2)).is_err());
        // Expired bindings are dropped.
        let mut later = refresh(9);
        later.now = 1000 + 601;
        apply(&mut reg, &Request::Query, &later).unwrap();
        assert!(reg.contacts.is_empty());
    }
}
