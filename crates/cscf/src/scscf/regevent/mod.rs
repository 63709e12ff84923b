//! The reg event package at the S-CSCF (RFC 3680; RFC 6665; TS 24.229 §5.4.2.1).
//!
//! - SUBSCRIBE to `reg` ([`RegEvent::subscribe`]): from the UE for an identity of its own
//!   implicit set (asserted by the P-CSCF in P-Asserted-Identity) or from a P-CSCF on the
//!   registration's Path; anyone else 403. Accept must allow `application/reginfo+xml` (406);
//!   Expires below the minimum 423, above the maximum shortened, 0 a fetch. 200 OK with our To
//!   tag, Contact and Expires, then a NOTIFY with the full state.
//! - Every change of a registration ([`RegEvent::changed`]) gives each of its subscriptions a
//!   partial NOTIFY (`version` +1); when no contact is left the NOTIFY says
//!   `Subscription-State: terminated;reason=…` and the subscription is removed.
//! - Refresh and unsubscribe in the dialog; expiry of subscriptions ([`RegEvent::expire`]) with
//!   `terminated;reason=timeout`.
//!
//! Subscriptions (dialog, CSeq, last version, expiry) are kept in the [`RegistrationStore`], so
//! they survive a restart; expiry is a durable timer (the store is scanned at every tick).
//! NOTIFYs are not sent here: each change produces a [`NotifyBatch`] on the outbox
//! ([`RegEvent::take_outbox`]) for the node to send in order (the UE's NOTIFYs before the
//! P-CSCF's, so that the P-CSCF still routes them), and failed ones come back through
//! [`RegEvent::notify_failed`] (RFC 6665 §4.2.2: a 481 or a timeout ends the subscription).

pub mod notifier;
pub mod reginfo;
pub mod subscription;

use std::sync::{Arc, Mutex};

use sip::{HeaderName, Message, Uri};
use tokio::sync::mpsc;

use crate::identity::bare_uri;
use crate::store::{RegSubscriber, RegSubscription, Registration, RegistrationStore, UnixSecs};
use crate::CscfError;

pub use notifier::Cause;
use subscription::{ExpiresPolicy, SubState, TerminationReason};

/// One NOTIFY to send.
#[derive(Debug, Clone)]
pub struct OutgoingNotify {
    /// Store key of the subscription (for [`RegEvent::notify_failed`]).
    pub subscription: String,
    /// Who it goes to.
    pub subscriber: RegSubscriber,
    /// The request (no Via yet).
    pub message: Message,
    /// Where to send it (first Route, or the Request-URI).
    pub next_hop: Uri,
    /// It answers a SUBSCRIBE whose 200 is being sent: send it just after (RFC 6665 §4.2.1
    /// allows either order; subscribers such as SIPp expect the 200 first).
    pub follows_response: bool,
}

/// The NOTIFYs caused by one event, to be sent in this order.
pub type NotifyBatch = Vec<OutgoingNotify>;

/// The S-CSCF's reg-event notifier.
pub struct RegEvent {
    store: Arc<dyn RegistrationStore>,
    policy: ExpiresPolicy,
    /// Our URI for Contact.
    contact: String,
    /// Serialises the read-modify-write of subscriptions (CSeq, version) in this process.
    lock: tokio::sync::Mutex<()>,
    tx: mpsc::UnboundedSender<NotifyBatch>,
    rx: Mutex<Option<mpsc::UnboundedReceiver<NotifyBatch>>>,
}

fn simple(req: &Message, code: u16, reason: &str) -> Message {
    sip_stack::ua::response(req, code, reason, None)
        .build()
        .unwrap_or_else(|_| req.clone())
}

fn next_version(sub: &mut RegSubscription) -> u32 {
    let v = sub.version.map_or(0, |v| v.wrapping_add(1));
    sub.version = Some(v);
    v
}

impl RegEvent {
    /// A notifier keeping its subscriptions in `store`; `contact` is our SIP URI.
    pub fn new(store: Arc<dyn RegistrationStore>, policy: ExpiresPolicy, contact: String) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        RegEvent {
            store,
            policy,
            contact,
            lock: tokio::sync::Mutex::new(()),
            tx,
            rx: Mutex::new(Some(rx)),
        }
    }

    /// The receiving end of the outbox (once).
    pub fn take_outbox(&self) -> Option<mpsc::UnboundedReceiver<NotifyBatch>> {
        self.rx.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    fn emit(&self, batch: NotifyBatch) {
        if !batch.is_empty() {
            // no receiver (nobody sends NOTIFYs, e.g. a registrar used alone): dropped
            let _ = self.tx.send(batch);
        }
    }

    /// Builds the next NOTIFY of `sub` (CSeq and version advanced in `sub`).
    fn notify(
        &self,
        sub: &mut RegSubscription,
        state: SubState,
        doc: Option<reginfo::Reginfo>,
    ) -> Option<OutgoingNotify> {
        let body = doc.map(|d| d.to_xml());
        match subscription::notify_message(sub, state, body, &self.contact) {
            Ok((message, next_hop)) => Some(OutgoingNotify {
                subscription: sub.id.clone(),
                subscriber: sub.subscriber,
                message,
                next_hop,
                follows_response: false,
            }),
            Err(e) => {
                tracing::warn!(sub = %sub.id, error = %e, "cannot build a reg-event NOTIFY");
                None
            }
        }
    }

    fn full(
        &self,
        sub: &mut RegSubscription,
        reg: Option<&Registration>,
        now: UnixSecs,
    ) -> reginfo::Reginfo {
        let v = next_version(sub);
        notifier::full_doc(reg, &sub.resource, v, now)
    }

    /// A SUBSCRIBE with `Event: reg` (RFC 3680 §3, RFC 6665 §4.2.1, TS 24.229 §5.4.2.1.1);
    /// `reg` is the live registration of its Request-URI, if any. Returns the response; the
    /// NOTIFY goes to the outbox.
    pub async fn subscribe(
        &self,
        req: &Message,
        reg: Option<Registration>,
        now: UnixSecs,
    ) -> Message {
        let _g = self.lock.lock().await;
        let to_tag = req.to().ok().and_then(|t| t.tag().map(|s| s.to_string()));
        match to_tag {
            Some(tag) => self.refresh(req, &tag, now).await,
            None => self.initial(req, reg, now).await,
        }
    }

    fn ok(&self, req: &Message, tag: &str, expires: u32) -> Message {
        sip_stack::ua::response(req, 200, "OK", Some(tag))
            .header(HeaderName::Contact, format_args!("<{}>", self.contact))
            .header(HeaderName::Expires, expires)
            .build()
            .unwrap_or_else(|_| simple(req, 500, "Server Internal Error"))
    }

    async fn initial(&self, req: &Message, reg: Option<Registration>, now: UnixSecs) -> Message {
        if !subscription::accepts_reginfo(req) {
            return simple(req, 406, "Not Acceptable");
        }
        let granted = match subscription::granted_expires(req, &self.policy) {
            Ok(g) => g,
            Err(min) => {
                return sip_stack::ua::response(req, 423, "Interval Too Brief", None)
                    .header(HeaderName::MinExpires, min)
                    .build()
                    .unwrap_or_else(|_| simple(req, 500, "Server Internal Error"));
            }
        };
        let Some(reg) = reg else {
            tracing::debug!("reg SUBSCRIBE for an identity not registered here: 403");
            return simple(req, 403, "Forbidden");
        };
        let Some(who) = subscription::authorize(req, &reg) else {
            tracing::info!(aor = %reg.aor, "reg SUBSCRIBE from a stranger: 403");
            return simple(req, 403, "Forbidden");
        };
        let tag = sip_stack::ua::new_tag();
        let mut sub =
            match subscription::new_subscription(req, &reg, who, &tag, now + u64::from(granted)) {
                Ok(s) => s,
                Err(e) => {
                    tracing::debug!(error = %e, "unusable reg SUBSCRIBE");
                    return simple(req, 400, "Bad Request");
                }
            };
        let doc = self.full(&mut sub, Some(&reg), now);
        let state = if granted == 0 {
            // a fetch: one NOTIFY, nothing kept (RFC 6665 §4.4.3)
            SubState::Terminated(TerminationReason::Timeout)
        } else {
            if let Err(e) = self.store.put_reg_subscription(&sub).await {
                tracing::warn!(error = %e, "storing a reg subscription failed");
                return simple(req, 500, "Server Internal Error");
            }
            SubState::Active(u64::from(granted))
        };
        let n = self.notify(&mut sub, state, Some(doc));
        if granted > 0 {
            if let Err(e) = self.store.put_reg_subscription(&sub).await {
                tracing::warn!(error = %e, "storing a reg subscription failed");
            }
        }
        let resp = self.ok(req, &tag, granted);
        self.emit(Self::after_response(n));
        resp
    }

    async fn refresh(&self, req: &Message, tag: &str, now: UnixSecs) -> Message {
        let call_id = req.call_id().map(|c| c.to_string()).unwrap_or_default();
        let id = RegSubscription::key(&call_id, tag);
        let mut sub = match self.store.get_reg_subscription(&id).await {
            Ok(Some(s)) => s,
            Ok(None) => return simple(req, 481, "Subscription Does Not Exist"),
            Err(_) => return simple(req, 500, "Server Internal Error"),
        };
        let seq = req.cseq().map(|c| c.seq).unwrap_or(0);
        if seq <= sub.remote_cseq {
            return simple(req, 500, "Server Internal Error");
        }
        sub.remote_cseq = seq;
        let granted = match subscription::granted_expires(req, &self.policy) {
            Ok(g) => g,
            Err(min) => {
                return sip_stack::ua::response(req, 423, "Interval Too Brief", None)
                    .header(HeaderName::MinExpires, min)
                    .build()
                    .unwrap_or_else(|_| simple(req, 500, "Server Internal Error"));
            }
        };
        let reg = self.live_registration(&sub.aor, now).await;
        let doc = self.full(&mut sub, reg.as_ref(), now);
        let n = if granted == 0 {
            let n = self.notify(
                &mut sub,
                SubState::Terminated(TerminationReason::Timeout),
                Some(doc),
            );
            if let Err(e) = self.store.remove_reg_subscription(&id).await {
                tracing::warn!(error = %e, "removing a reg subscription failed");
            }
            n
        } else {
            sub.expires_at = now + u64::from(granted);
            let n = self.notify(&mut sub, SubState::Active(u64::from(granted)), Some(doc));
            if let Err(e) = self.store.put_reg_subscription(&sub).await {
                tracing::warn!(error = %e, "storing a reg subscription failed");
                return simple(req, 500, "Server Internal Error");
            }
            n
        };
        let resp = self.ok(req, tag, granted);
        self.emit(Self::after_response(n));
        resp
    }

    fn after_response(n: Option<OutgoingNotify>) -> NotifyBatch {
        n.into_iter()
            .map(|mut n| {
                n.follows_response = true;
                n
            })
            .collect()
    }

    async fn live_registration(&self, aor: &str, now: UnixSecs) -> Option<Registration> {
        let mut r = self.store.get_registration(aor).await.ok().flatten()?.value;
        r.contacts.retain(|c| c.expires_at > now);
        Some(r)
    }

    /// The registration `aor` went from `before` to `after` (`None` or no contacts: ended) because
    /// of `cause`: a partial NOTIFY to each subscription; when it ended, with
    /// `Subscription-State: terminated` and the subscription removed (TS 24.229 §5.4.2.1.2).
    pub async fn changed(
        &self,
        aor: &str,
        before: Option<&Registration>,
        after: Option<&Registration>,
        cause: Cause,
        now: UnixSecs,
    ) -> Result<usize, CscfError> {
        let _g = self.lock.lock().await;
        let mut subs = self.store.reg_subscriptions_of(aor).await?;
        if subs.is_empty() {
            return Ok(0);
        }
        // the UE's NOTIFY first: the P-CSCF's own tells it to drop the UE (TS 24.229 §5.2.3)
        subs.sort_by_key(|s| s.subscriber == RegSubscriber::Pcscf);
        let ended = after.is_none_or(|r| r.contacts.iter().all(|c| c.expires_at <= now));
        let mut batch = Vec::new();
        for mut sub in subs {
            let version = sub.version.map_or(0, |v| v.wrapping_add(1));
            let Some(doc) = notifier::partial_doc(before, after, cause, version, now) else {
                continue;
            };
            sub.version = Some(version);
            if ended {
                let n = self.notify(
                    &mut sub,
                    SubState::Terminated(cause.termination_reason()),
                    Some(doc),
                );
                self.store.remove_reg_subscription(&sub.id).await?;
                batch.extend(n);
            } else {
                let left = sub.expires_at.saturating_sub(now);
                let n = self.notify(&mut sub, SubState::Active(left), Some(doc));
                self.store.put_reg_subscription(&sub).await?;
                batch.extend(n);
            }
        }
        let n = batch.len();
        self.emit(batch);
        Ok(n)
    }

    /// The implicit registration set of `aor` changed (PPR): a partial NOTIFY to each
    /// subscription naming the identities added (`created`) and removed (`deactivated`).
    pub async fn set_changed(
        &self,
        before: &Registration,
        after: &Registration,
        now: UnixSecs,
    ) -> Result<usize, CscfError> {
        let _g = self.lock.lock().await;
        let mut subs = self.store.reg_subscriptions_of(&after.aor).await?;
        subs.sort_by_key(|s| s.subscriber == RegSubscriber::Pcscf);
        let mut batch = Vec::new();
        for mut sub in subs {
            let version = sub.version.map_or(0, |v| v.wrapping_add(1));
            let Some(doc) = notifier::set_change_doc(before, after, version, now) else {
                continue;
            };
            sub.version = Some(version);
            let left = sub.expires_at.saturating_sub(now);
            batch.extend(self.notify(&mut sub, SubState::Active(left), Some(doc)));
            self.store.put_reg_subscription(&sub).await?;
        }
        let n = batch.len();
        self.emit(batch);
        Ok(n)
    }

    /// Durable expiry of subscriptions (RFC 6665 §4.2.2): each one past its expiry at `now` gets
    /// a final NOTIFY (`terminated;reason=timeout`, full state) and is removed. Returns how many.
    pub async fn expire(&self, now: UnixSecs) -> Result<usize, CscfError> {
        let _g = self.lock.lock().await;
        let due = self
            .store
            .reg_subscriptions_expiring_before(now + 1)
            .await?;
        let mut batch = Vec::new();
        for mut sub in due {
            let reg = self.live_registration(&sub.aor, now).await;
            let doc = self.full(&mut sub, reg.as_ref(), now);
            batch.extend(self.notify(
                &mut sub,
                SubState::Terminated(TerminationReason::Timeout),
                Some(doc),
            ));
            self.store.remove_reg_subscription(&sub.id).await?;
        }
        let n = batch.len();
        self.emit(batch);
        Ok(n)
    }

    /// A NOTIFY got 481 (or another failure, or no answer): the subscription is gone
    /// (RFC 6665 §4.2.2).
    pub async fn notify_failed(&self, subscription: &str) {
        let _g = self.lock.lock().await;
        if let Err(e) = self.store.remove_reg_subscription(subscription).await {
            tracing::warn!(error = %e, "removing a failed reg subscription failed");
        }
    }

    /// The store key of the registration a reg SUBSCRIBE's Request-URI names.
    pub fn resource_of(req: &Message) -> Option<String> {
        req.request_uri().ok().map(|u| bare_uri(&u))
    }
}
