//! The P-CSCF's subscription to the reg event of each UE it registered (TS 24.229 §5.2.3,
//! RFC 3680): after the 200 OK to a UE's initial REGISTER the P-CSCF sends a SUBSCRIBE for the
//! registered IMPU (From and P-Asserted-Identity: its own URI, the one it put in Path; Route: the
//! Service-Route the UE got), refreshes it before it expires, answers the S-CSCF's NOTIFYs, and
//! when a NOTIFY says the UE's contact (or the whole registration) ended, removes the UE's
//! registration and its security association — on the next housekeeping pass after a short
//! grace, so that a response or NOTIFY to the UE still in flight goes out first (the S-CSCF
//! sends the UE's own NOTIFY before the P-CSCF's).
//!
//! Decisions only: the node sends what [`RegWatcher::on_registered`] and [`RegWatcher::due`]
//! return and feeds back the answers. The removal itself is the hook
//! [`RegistrationEnded::registration_ended`] (the P-CSCF implements it by forgetting the
//! registration and releasing its association).
//!
//! Subscriptions are kept in memory: after a P-CSCF restart they are re-created at the UEs'
//! next re-registration.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sip::{HeaderName, Message, MessageBuilder, Method, Params, Uri};
use sip_stack::proxy::ProxyConfig;
use sip_stack::Transport;

use crate::identity::{impu_of, is_deregistration, uri_in};

/// The reg-event subscription duration the P-CSCF asks for (TS 24.229 §5.2.3: 600 000 s).
pub const SUBSCRIBE_EXPIRES: u32 = 600_000;

/// What the P-CSCF does when the network ends a UE's registration: forget it and release its
/// security association (e.g. `SaSetup::release` for IPsec, the TLS binding for TLS).
#[async_trait::async_trait]
pub trait RegistrationEnded: Send + Sync {
    /// The registration of `contact` for `impu` ended (reg-event NOTIFY). Returns whether the
    /// P-CSCF knew it.
    async fn registration_ended(&self, impu: &str, contact: &str) -> bool;
}

struct Watch {
    call_id: String,
    from_tag: String,
    to_tag: Option<String>,
    cseq: u32,
    route: Vec<String>,
    contacts: Vec<Uri>,
    refresh_at: Option<Instant>,
    /// A SUBSCRIBE is out.
    pending: bool,
}

/// A SUBSCRIBE to send.
#[derive(Debug, Clone)]
pub struct OutgoingSubscribe {
    /// The IMPU watched (feed the answer back with it).
    pub impu: String,
    /// The request (no Via yet).
    pub message: Message,
    /// Where to send it: the first Service-Route hop.
    pub next_hop: Uri,
}

/// The P-CSCF's reg-event subscriptions.
pub struct RegWatcher {
    grace: Duration,
    watches: Mutex<HashMap<String, Watch>>,
    removals: Mutex<Vec<(String, String, Instant)>>,
}

fn our_uri(me: &ProxyConfig) -> String {
    let mut u = me.uri(Transport::Udp);
    u.params = Params::new();
    u.to_string()
}

/// RFC 6665 §4.1.2.1: refresh well before expiry (at half the granted time).
fn refresh_delay(granted: u32) -> Duration {
    Duration::from_secs((u64::from(granted) / 2).max(1))
}

impl Default for RegWatcher {
    fn default() -> Self {
        Self::new(Duration::from_millis(500))
    }
}

impl RegWatcher {
    /// A watcher removing ended registrations `grace` after the NOTIFY.
    pub fn new(grace: Duration) -> Self {
        RegWatcher {
            grace,
            watches: Mutex::new(HashMap::new()),
            removals: Mutex::new(Vec::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Watch>> {
        self.watches.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Number of IMPUs watched.
    pub fn watched(&self) -> usize {
        self.lock().len()
    }

    fn build(
        &self,
        impu: &str,
        w: &mut Watch,
        me: &ProxyConfig,
        expires: u32,
    ) -> Option<OutgoingSubscribe> {
        let next_hop = w.route.first().and_then(|r| uri_in(r))?;
        w.cseq = w.cseq.wrapping_add(1);
        w.pending = true;
        let ours = our_uri(me);
        let to = match &w.to_tag {
            Some(t) => format!("<{impu}>;tag={t}"),
            None => format!("<{impu}>"),
        };
        let msg = MessageBuilder::request(Method::Subscribe, impu)
            .header(HeaderName::MaxForwards, 70)
            .headers(HeaderName::Route, w.route.iter())
            .header(
                HeaderName::From,
                format_args!("<{ours}>;tag={}", w.from_tag),
            )
            .header(HeaderName::To, to)
            .header(HeaderName::CallId, &w.call_id)
            .header(HeaderName::CSeq, format_args!("{} SUBSCRIBE", w.cseq))
            .header(HeaderName::Event, "reg")
            .header("Accept", "application/reginfo+xml")
            .header(HeaderName::Expires, expires)
            .header(HeaderName::Contact, format_args!("<{ours}>"))
            .header("P-Asserted-Identity", format_args!("<{ours}>"))
            .build()
            .ok()?;
        Some(OutgoingSubscribe {
            impu: impu.to_string(),
            message: msg,
            next_hop,
        })
    }

    /// TS 24.229 §5.2.3: the 2xx to a UE's REGISTER went out; returns the SUBSCRIBE to send if
    /// the IMPU is not watched yet. A de-registration ends the watch (the S-CSCF terminates it).
    pub fn on_registered(
        &self,
        register: &Message,
        ok: &Message,
        me: &ProxyConfig,
    ) -> Option<OutgoingSubscribe> {
        let impu = impu_of(register)?;
        let mut map = self.lock();
        if is_deregistration(register) {
            map.remove(&impu);
            return None;
        }
        let contacts: Vec<Uri> = ok
            .contacts()
            .ok()?
            .iter()
            .filter_map(|c| c.addr().map(|a| a.uri.clone()))
            .collect();
        if let Some(w) = map.get_mut(&impu) {
            for c in contacts {
                if !w.contacts.iter().any(|k| k.equivalent(&c)) {
                    w.contacts.push(c);
                }
            }
            return None;
        }
        let route: Vec<String> = ok
            .service_route()
            .ok()?
            .iter()
            .map(|r| r.to_string())
            .collect();
        let mut w = Watch {
            call_id: sip_stack::ua::new_call_id(&me.host),
            from_tag: sip_stack::ua::new_tag(),
            to_tag: None,
            cseq: 0,
            route,
            contacts,
            refresh_at: None,
            pending: false,
        };
        let out = self.build(&impu, &mut w, me, SUBSCRIBE_EXPIRES)?;
        map.insert(impu, w);
        Some(out)
    }

    /// The final answer to a SUBSCRIBE for `impu` (`None`: no answer): 2xx arms the refresh; a
    /// failure drops the watch (the registration stands; TS 24.229 §5.2.3 leaves it there).
    pub fn on_subscribe_answer(&self, impu: &str, answer: Option<&Message>, now: Instant) {
        let mut map = self.lock();
        let Some(w) = map.get_mut(impu) else { return };
        w.pending = false;
        match answer.and_then(|a| a.status().map(|s| (a, s))) {
            Some((a, s)) if (200..300).contains(&s) => {
                if w.to_tag.is_none() {
                    w.to_tag = a.to().ok().and_then(|t| t.tag().map(str::to_string));
                }
                let granted = a.expires().ok().flatten().unwrap_or(SUBSCRIBE_EXPIRES);
                w.refresh_at = Some(now + refresh_delay(granted));
            }
            _ => {
                tracing::info!(impu, "P-CSCF reg subscription refused or unanswered");
                map.remove(impu);
            }
        }
    }

    /// A request addressed to the P-CSCF itself: a reg-event NOTIFY in one of our dialogs gets
    /// its response here (200, or 481 for an unknown dialog, 400 for a bad body); anything else
    /// `None` (not ours). Ended contacts are queued for removal.
    pub fn on_notify(&self, req: &Message, me: &ProxyConfig, now: Instant) -> Option<Message> {
        if req.method() != Some(Method::Notify) {
            return None;
        }
        let for_us = req.request_uri().is_ok_and(|u| me.is_local(&u))
            && req.route().map(|r| r.is_empty()).unwrap_or(true);
        let is_reg = req
            .event()
            .ok()
            .flatten()
            .is_some_and(|e| e.package.as_str().eq_ignore_ascii_case("reg"));
        if !for_us || !is_reg {
            return None;
        }
        let respond = |code: u16, reason: &str| {
            sip_stack::ua::response(req, code, reason, None)
                .build()
                .ok()
        };
        let call_id = req.call_id().ok()?.to_string();
        let mut map = self.lock();
        let Some((impu, w)) = map.iter_mut().find(|(_, w)| w.call_id == call_id) else {
            return respond(481, "Subscription Does Not Exist");
        };
        let impu = impu.clone();
        if w.to_tag.is_none() {
            w.to_tag = req.from().ok().and_then(|f| f.tag().map(str::to_string));
        }
        let terminated = req
            .subscription_state()
            .ok()
            .flatten()
            .is_some_and(|s| s.state.eq_ignore_ascii_case("terminated"));
        let body = req.body();
        let mut ended: Vec<Uri> = Vec::new();
        if !body.is_empty() {
            let Ok(doc) = ue::reginfo::parse(&body) else {
                return respond(400, "Bad Request");
            };
            for r in &doc.registrations {
                for c in &r.contacts {
                    if c.state == ue::reginfo::ContactState::Terminated {
                        if let Ok(u) = Uri::parse(&c.uri) {
                            ended.push(u);
                        }
                    }
                }
                if r.state == ue::reginfo::RegState::Terminated {
                    ended.extend(w.contacts.iter().cloned());
                }
            }
        }
        let due = now + self.grace;
        let mut removals = self.removals.lock().unwrap_or_else(|p| p.into_inner());
        for c in &ended {
            if let Some(k) = w.contacts.iter().find(|k| k.equivalent(c)) {
                let k = k.to_string();
                if !removals.iter().any(|(i, kk, _)| *i == impu && *kk == k) {
                    removals.push((impu.clone(), k, due));
                }
            }
        }
        w.contacts
            .retain(|k| !ended.iter().any(|c| c.equivalent(k)));
        if terminated || w.contacts.is_empty() {
            map.remove(&impu);
        }
        respond(200, "OK")
    }

    /// Housekeeping at `now`: refresh SUBSCRIBEs to send, and the (IMPU, contact) registrations to
    /// remove now (their grace is over).
    pub fn due(
        &self,
        now: Instant,
        me: &ProxyConfig,
    ) -> (Vec<OutgoingSubscribe>, Vec<(String, String)>) {
        let mut subs = Vec::new();
        {
            let mut map = self.lock();
            let impus: Vec<String> = map
                .iter()
                .filter(|(_, w)| !w.pending && w.refresh_at.is_some_and(|t| t <= now))
                .map(|(i, _)| i.clone())
                .collect();
            for impu in impus {
                if let Some(w) = map.get_mut(&impu) {
                    w.refresh_at = None;
                    subs.extend(self.build(&impu, w, me, SUBSCRIBE_EXPIRES));
                }
            }
        }
        let mut removals = self.removals.lock().unwrap_or_else(|p| p.into_inner());
        let (now_due, later): (Vec<_>, Vec<_>) =
            removals.drain(..).partition(|(_, _, t)| *t <= now);
        *removals = later;
        (subs, now_due.into_iter().map(|(i, c, _)| (i, c)).collect())
    }
}

#[async_trait::async_trait]
impl RegistrationEnded for super::Pcscf {
    async fn registration_ended(&self, impu: &str, contact: &str) -> bool {
        let ue = match self.store.get_ue_registration(impu, contact).await {
            Ok(Some(u)) => u,
            Ok(None) => return false,
            Err(e) => {
                tracing::warn!(impu, error = %e, "reading a UE registration failed");
                return false;
            }
        };
        if let Err(e) = self.end_registration(&ue).await {
            tracing::warn!(impu, error = %e, "forgetting a UE registration failed");
        }
        tracing::info!(
            impu,
            contact,
            "registration ended by the network (reg event)"
        );
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn me() -> ProxyConfig {
        ProxyConfig::new("pcscf.test", 5060)
    }

    fn msg(s: &str) -> Message {
        Message::parse(s.replace('\n', "\r\n").into_bytes()).unwrap()
    }

    const REGISTER: &str = "REGISTER sip:ims.test SIP/2.0
Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKr1
From: <sip:alice@ims.test>;tag=a
To: <sip:alice@ims.test>
Call-ID: reg-1
CSeq: 2 REGISTER
Contact: <sip:alice@10.0.0.1:5060>
Expires: 3600
Content-Length: 0

";

    const OK: &str = "SIP/2.0 200 OK
Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKr1
From: <sip:alice@ims.test>;tag=a
To: <sip:alice@ims.test>;tag=s
Call-ID: reg-1
CSeq: 2 REGISTER
Contact: <sip:alice@10.0.0.1:5060>;expires=3600
Service-Route: <sip:orig@scscf.test:6060;lr>
Content-Length: 0

";

    fn notify(call_id: &str, state: &str, body: &str) -> Message {
        msg(&format!(
            "NOTIFY sip:pcscf.test:5060 SIP/2.0
Via: SIP/2.0/UDP scscf.test:6060;branch=z9hG4bKn1
From: <sip:alice@ims.test>;tag=s1
To: <sip:pcscf.test:5060>;tag=p1
Call-ID: {call_id}
CSeq: 1 NOTIFY
Event: reg
Subscription-State: {state}
Content-Type: application/reginfo+xml
Content-Length: {}

{body}",
            body.len()
        ))
    }

    fn doc(reg_state: &str, contact_state: &str, event: &str) -> String {
        format!(
            "<?xml version=\"1.0\"?><reginfo xmlns=\"urn:ietf:params:xml:ns:reginfo\" version=\"1\" state=\"partial\"><registration aor=\"sip:alice@ims.test\" id=\"r\" state=\"{reg_state}\"><contact id=\"c\" state=\"{contact_state}\" event=\"{event}\"><uri>sip:alice@10.0.0.1:5060</uri></contact></registration></reginfo>"
        )
    }

    #[test]
    fn subscribes_refreshes_and_removes_after_the_grace() {
        let w = RegWatcher::new(Duration::from_secs(1));
        let me = me();
        let t0 = Instant::now();
        let s = w
            .on_registered(&msg(REGISTER), &msg(OK), &me)
            .expect("a SUBSCRIBE after the first 200");
        // TS 24.229 §5.2.3: to the IMPU, along the Service-Route, as the P-CSCF
        let m = &s.message;
        assert_eq!(m.method(), Some(Method::Subscribe));
        assert_eq!(m.request_uri().unwrap().to_string(), "sip:alice@ims.test");
        assert_eq!(s.next_hop.to_string(), "sip:orig@scscf.test:6060;lr");
        assert_eq!(
            m.header_value("P-Asserted-Identity").unwrap().to_string(),
            "<sip:pcscf.test:5060>"
        );
        assert_eq!(m.expires().unwrap(), Some(SUBSCRIBE_EXPIRES));
        // a re-registration does not subscribe again
        assert!(w.on_registered(&msg(REGISTER), &msg(OK), &me).is_none());
        let call_id = m.call_id().unwrap().to_string();
        let ok = sip_stack::ua::response(m, 200, "OK", Some("s1"))
            .header(HeaderName::Expires, 100)
            .build()
            .unwrap();
        w.on_subscribe_answer("sip:alice@ims.test", Some(&ok), t0);
        let (subs, gone) = w.due(t0 + Duration::from_secs(49), &me);
        assert!(subs.is_empty() && gone.is_empty());
        // refreshed at half the granted time, in the dialog
        let (subs, _) = w.due(t0 + Duration::from_secs(50), &me);
        assert_eq!(subs.len(), 1);
        assert_eq!(subs[0].message.to().unwrap().tag(), Some("s1"));
        assert_eq!(subs[0].message.cseq().unwrap().seq, 2);
        w.on_subscribe_answer("sip:alice@ims.test", Some(&ok), t0);

        // NOTIFYs: an unknown dialog 481; a refresh changes nothing; a rejected contact is
        // removed only after the grace
        let r = w.on_notify(
            &notify("other", "active", &doc("active", "active", "registered")),
            &me,
            t0,
        );
        assert_eq!(r.unwrap().status(), Some(481));
        let r = w.on_notify(
            &notify(
                &call_id,
                "active;expires=50",
                &doc("active", "active", "refreshed"),
            ),
            &me,
            t0,
        );
        assert_eq!(r.unwrap().status(), Some(200));
        assert!(w.due(t0 + Duration::from_secs(2), &me).1.is_empty());
        let bad = notify(&call_id, "active", "<reginfo");
        assert_eq!(w.on_notify(&bad, &me, t0).unwrap().status(), Some(400));
        let r = w.on_notify(
            &notify(
                &call_id,
                "terminated;reason=rejected",
                &doc("terminated", "terminated", "rejected"),
            ),
            &me,
            t0,
        );
        assert_eq!(r.unwrap().status(), Some(200));
        assert_eq!(w.watched(), 0);
        assert!(
            w.due(t0 + Duration::from_millis(500), &me).1.is_empty(),
            "grace"
        );
        let (_, gone) = w.due(t0 + Duration::from_secs(1), &me);
        assert_eq!(
            gone,
            [(
                "sip:alice@ims.test".to_string(),
                "sip:alice@10.0.0.1:5060".to_string()
            )]
        );
        // the dialog is over: 481; a NOTIFY for a UE (routed through us): not ours
        let late = notify(&call_id, "active", "");
        assert_eq!(w.on_notify(&late, &me, t0).unwrap().status(), Some(481));
        let routed = notify(&call_id, "active", "").to_string().replace(
            "NOTIFY sip:pcscf.test:5060",
            "NOTIFY sip:alice@10.0.0.1:5060",
        );
        let routed = Message::parse(routed.into_bytes()).unwrap();
        assert!(w.on_notify(&routed, &me, t0).is_none());
    }
}
