//! What the S-CSCF tells reg-event subscribers (RFC 3680 §5.3, TS 24.229 §5.4.2.1.2): the full
//! state of a registration, and the partial document describing a change between two states of
//! it. Pure functions of the stored registrations and the time; no I/O.

use crate::store::{RegContact, Registration, UnixSecs};

use super::reginfo::{
    stable_id, ContactEvent, ContactInfo, ContactState, DocState, RegState, Reginfo,
    RegistrationInfo,
};
use super::subscription::TerminationReason;

/// What changed a registration (decides the `event` of removed contacts, RFC 3680 §5.3, and the
/// Subscription-State reason when it ends, RFC 6665 §4.1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// A REGISTER from the UE (registered / refreshed / shortened / unregistered).
    Register,
    /// The registrar's expiry timer (expired; TS 24.229 §5.4.1.5 SAR TIMEOUT_DEREGISTRATION).
    Expiry,
    /// Network-initiated de-registration (RTR, TS 24.229 §5.4.1.5): `deactivated` when the UE
    /// may register again, `rejected` when not (reason PERMANENT_TERMINATION).
    Network {
        /// Whether the UE may re-register.
        reregister: bool,
    },
}

impl Cause {
    /// The `event` of a contact removed for this cause.
    pub fn removal_event(self) -> ContactEvent {
        match self {
            Cause::Register => ContactEvent::Unregistered,
            Cause::Expiry => ContactEvent::Expired,
            Cause::Network { reregister: true } => ContactEvent::Deactivated,
            Cause::Network { reregister: false } => ContactEvent::Rejected,
        }
    }

    /// The Subscription-State reason when the registration ends for this cause.
    pub fn termination_reason(self) -> TerminationReason {
        match self {
            Cause::Register | Cause::Expiry => TerminationReason::NoResource,
            Cause::Network { reregister: true } => TerminationReason::Deactivated,
            Cause::Network { reregister: false } => TerminationReason::Rejected,
        }
    }
}

fn q_text(q: u16) -> String {
    format!("{}.{:03}", q / 1000, q % 1000)
}

fn contact_info(
    impu: &str,
    c: &RegContact,
    state: ContactState,
    event: ContactEvent,
    now: UnixSecs,
) -> ContactInfo {
    let mut unknown_params = Vec::new();
    if let Some(i) = &c.instance {
        unknown_params.push(("+sip.instance".to_string(), i.replace('"', "")));
    }
    if let Some(r) = c.reg_id {
        unknown_params.push(("reg-id".to_string(), r.to_string()));
    }
    ContactInfo {
        id: stable_id("c", &format!("{impu} {}", c.uri)),
        state,
        event,
        expires: Some(if state == ContactState::Active {
            c.expires_at.saturating_sub(now)
        } else {
            0
        }),
        retry_after: None,
        callid: Some(c.call_id.clone()),
        cseq: Some(c.cseq),
        q: c.q.map(q_text),
        uri: c.uri.clone(),
        unknown_params,
    }
}

/// The identities a document about `reg` lists: the implicit registration set (TS 24.229
/// §5.4.2.1.2), or the registered IMPU alone.
fn identities(reg: &Registration) -> Vec<String> {
    if reg.implicit_set.is_empty() {
        vec![reg.aor.clone()]
    } else {
        reg.implicit_set.clone()
    }
}

fn registration(impu: &str, state: RegState, contacts: Vec<ContactInfo>) -> RegistrationInfo {
    RegistrationInfo {
        aor: impu.to_string(),
        id: stable_id("r", impu),
        state,
        contacts,
    }
}

/// The full state (RFC 3680 §5.3 `state="full"`): every IMPU of the set with its live contacts
/// (event `registered`), or `terminated` with none when `reg` is gone. `aor` names the resource
/// when there is no registration.
pub fn full_doc(reg: Option<&Registration>, aor: &str, version: u32, now: UnixSecs) -> Reginfo {
    let registrations = match reg {
        Some(r) => {
            let live: Vec<&RegContact> = r.contacts.iter().filter(|c| c.expires_at > now).collect();
            identities(r)
                .iter()
                .map(|impu| {
                    let state = if live.is_empty() {
                        RegState::Terminated
                    } else {
                        RegState::Active
                    };
                    let contacts = live
                        .iter()
                        .map(|c| {
                            contact_info(
                                impu,
                                c,
                                ContactState::Active,
                                ContactEvent::Registered,
                                now,
                            )
                        })
                        .collect();
                    registration(impu, state, contacts)
                })
                .collect()
        }
        None => vec![registration(aor, RegState::Terminated, Vec::new())],
    };
    Reginfo {
        version,
        state: DocState::Full,
        registrations,
    }
}

/// The change from `before` to `after` (`None`: no registration) as a partial document
/// (RFC 3680 §5.3 `state="partial"`), or `None` when no contact changed. New contacts are
/// `registered`; refreshed ones `refreshed`, or `shortened` when their expiry moved earlier;
/// removed ones get `cause`'s event (`expired` if they had expired anyway).
pub fn partial_doc(
    before: Option<&Registration>,
    after: Option<&Registration>,
    cause: Cause,
    version: u32,
    now: UnixSecs,
) -> Option<Reginfo> {
    let empty: Vec<RegContact> = Vec::new();
    let old = before.map_or(&empty, |r| &r.contacts);
    let new = after.map_or(&empty, |r| &r.contacts);
    let mut changes: Vec<(&RegContact, ContactState, ContactEvent)> = Vec::new();
    for c in new {
        match old.iter().find(|o| o.uri == c.uri) {
            None => changes.push((c, ContactState::Active, ContactEvent::Registered)),
            Some(o) if o.expires_at > now && c.expires_at < o.expires_at => {
                changes.push((c, ContactState::Active, ContactEvent::Shortened))
            }
            Some(o) if o.expires_at != c.expires_at || o.cseq != c.cseq => {
                changes.push((c, ContactState::Active, ContactEvent::Refreshed))
            }
            Some(_) => {}
        }
    }
    for o in old {
        if !new.iter().any(|c| c.uri == o.uri) {
            let event = if o.expires_at <= now && cause == Cause::Register {
                ContactEvent::Expired
            } else {
                cause.removal_event()
            };
            changes.push((o, ContactState::Terminated, event));
        }
    }
    if changes.is_empty() {
        return None;
    }
    let ids = after.or(before).map(identities).unwrap_or_default();
    let active = new.iter().any(|c| c.expires_at > now);
    let state = if active {
        RegState::Active
    } else {
        RegState::Terminated
    };
    let registrations = ids
        .iter()
        .map(|impu| {
            let contacts = changes
                .iter()
                .map(|(c, s, e)| contact_info(impu, c, *s, *e, now))
                .collect();
            registration(impu, state, contacts)
        })
        .collect();
    Some(Reginfo {
        version,
        state: DocState::Partial,
        registrations,
    })
}

/// A change of the implicit registration set (PPR, TS 24.229 §5.4.2.1.2) as a partial document:
/// each identity added is `active` with its contacts `created`; each identity removed is
/// `terminated` with its contacts `deactivated`. `None` when the set did not change.
pub fn set_change_doc(
    before: &Registration,
    after: &Registration,
    version: u32,
    now: UnixSecs,
) -> Option<Reginfo> {
    let old = identities(before);
    let new = identities(after);
    let live: Vec<&RegContact> = after
        .contacts
        .iter()
        .filter(|c| c.expires_at > now)
        .collect();
    let mut registrations = Vec::new();
    for impu in new.iter().filter(|i| !old.contains(i)) {
        let contacts = live
            .iter()
            .map(|c| contact_info(impu, c, ContactState::Active, ContactEvent::Created, now))
            .collect();
        registrations.push(registration(impu, RegState::Active, contacts));
    }
    for impu in old.iter().filter(|i| !new.contains(i)) {
        let contacts = live
            .iter()
            .map(|c| {
                contact_info(
                    impu,
                    c,
                    ContactState::Terminated,
                    ContactEvent::Deactivated,
                    now,
                )
            })
            .collect();
        registrations.push(registration(impu, RegState::Terminated, contacts));
    }
    (!registrations.is_empty()).then_some(Reginfo {
        version,
        state: DocState::Partial,
        registrations,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contact(uri: &str, expires_at: u64, cseq: u32) -> RegContact {
        RegContact {
            uri: uri.into(),
            expires_at,
            q: Some(500),
            instance: Some("\"<urn:uuid:1>\"".into()),
            reg_id: Some(1),
            path: vec![],
            call_id: "c1".into(),
            cseq,
            received: None,
        }
    }

    fn reg(contacts: Vec<RegContact>) -> Registration {
        Registration {
            aor: "sip:a@x".into(),
            impi: "a@x".into(),
            implicit_set: vec!["sip:a@x".into(), "tel:+1555".into()],
            contacts,
        }
    }

    fn events(d: &Reginfo) -> Vec<(String, ContactState, ContactEvent)> {
        d.registrations[0]
            .contacts
            .iter()
            .map(|c| (c.uri.clone(), c.state, c.event))
            .collect()
    }

    #[test]
    fn full_lists_the_implicit_set() {
        let r = reg(vec![contact("sip:u@h", 1600, 1)]);
        let d = full_doc(Some(&r), "sip:a@x", 0, 1000);
        assert_eq!(d.state, DocState::Full);
        assert_eq!(d.registrations.len(), 2);
        assert_eq!(d.registrations[1].aor, "tel:+1555");
        assert_eq!(d.registrations[0].state, RegState::Active);
        assert_eq!(d.registrations[0].contacts[0].expires, Some(600));
        assert_eq!(d.registrations[0].contacts[0].q.as_deref(), Some("0.500"));
        let gone = full_doc(None, "sip:a@x", 4, 1000);
        assert_eq!(gone.registrations[0].state, RegState::Terminated);
        assert!(gone.registrations[0].contacts.is_empty());
    }

    #[test]
    fn partial_events() {
        let a = reg(vec![contact("sip:u@h", 1600, 1)]);
        let created = partial_doc(None, Some(&a), Cause::Register, 1, 1000).unwrap();
        assert_eq!(
            events(&created),
            [(
                "sip:u@h".into(),
                ContactState::Active,
                ContactEvent::Registered
            )]
        );
        let b = reg(vec![contact("sip:u@h", 1700, 2)]);
        let d = partial_doc(Some(&a), Some(&b), Cause::Register, 2, 1000).unwrap();
        assert_eq!(events(&d)[0].2, ContactEvent::Refreshed);
        let c = reg(vec![contact("sip:u@h", 1100, 3)]);
        let d = partial_doc(Some(&b), Some(&c), Cause::Register, 3, 1000).unwrap();
        assert_eq!(events(&d)[0].2, ContactEvent::Shortened);
        assert!(partial_doc(Some(&c), Some(&c), Cause::Register, 4, 1000).is_none());
        for (cause, ev) in [
            (Cause::Register, ContactEvent::Unregistered),
            (Cause::Expiry, ContactEvent::Expired),
            (
                Cause::Network { reregister: true },
                ContactEvent::Deactivated,
            ),
            (Cause::Network { reregister: false }, ContactEvent::Rejected),
        ] {
            let d = partial_doc(Some(&c), None, cause, 5, 1000).unwrap();
            assert_eq!(
                events(&d)[0],
                ("sip:u@h".into(), ContactState::Terminated, ev)
            );
            assert_eq!(d.registrations[0].state, RegState::Terminated);
            assert_eq!(d.registrations.len(), 2);
        }
    }
}
