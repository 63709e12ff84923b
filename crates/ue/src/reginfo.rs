//! The `application/reginfo+xml` body of reg-event NOTIFYs (RFC 3680 §5.3), parsed with a small,
//! bounded, non-panicking reader on top of `quick-xml`.
//!
//! Only what a UE acts on is kept: the document version and state, each registration (aor, id,
//! state) and each contact (id, state, event, expires, retry-after, uri). Unknown elements and
//! attributes are skipped. Any XML error, a missing required attribute or an unknown enumerated
//! value is a [`UeError::BadReginfo`] (the UE answers the NOTIFY with 400).

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use crate::error::{Result, UeError};

/// Largest body accepted.
pub const MAX_BODY: usize = 64 * 1024;
/// Most `<registration>` elements accepted.
pub const MAX_REGISTRATIONS: usize = 64;
/// Most `<contact>` elements accepted per registration.
pub const MAX_CONTACTS: usize = 64;
/// Deepest element nesting accepted.
pub const MAX_DEPTH: usize = 32;
/// Longest `<uri>` text accepted.
pub const MAX_URI: usize = 2048;

/// `state` of the document (RFC 3680 §5.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocState {
    /// The complete registration state.
    Full,
    /// Only what changed.
    Partial,
}

/// `state` of a registration (RFC 3680 §5.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegState {
    /// No active contacts yet.
    Init,
    /// At least one active contact.
    Active,
    /// No contacts left.
    Terminated,
}

/// `state` of a contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContactState {
    /// Registered.
    Active,
    /// Gone.
    Terminated,
}

/// `event` of a contact (RFC 3680 §5.3; what caused the state change).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContactEvent {
    /// New registration.
    Registered,
    /// Created administratively.
    Created,
    /// Refreshed by a re-registration.
    Refreshed,
    /// Expiry shortened by the network: re-register before the new `expires`.
    Shortened,
    /// Expired.
    Expired,
    /// Deactivated by the network: the UE should register again from scratch.
    Deactivated,
    /// Deactivated, re-registration allowed after `retry-after`.
    Probation,
    /// Removed by a de-registration.
    Unregistered,
    /// Removed and must not re-register (stay off).
    Rejected,
}

impl DocState {
    /// The schema's token.
    pub fn as_str(self) -> &'static str {
        match self {
            DocState::Full => "full",
            DocState::Partial => "partial",
        }
    }
}

impl RegState {
    /// The schema's token.
    pub fn as_str(self) -> &'static str {
        match self {
            RegState::Init => "init",
            RegState::Active => "active",
            RegState::Terminated => "terminated",
        }
    }
}

impl ContactState {
    /// The schema's token.
    pub fn as_str(self) -> &'static str {
        match self {
            ContactState::Active => "active",
            ContactState::Terminated => "terminated",
        }
    }
}

impl ContactEvent {
    /// The schema's token.
    pub fn as_str(self) -> &'static str {
        match self {
            ContactEvent::Registered => "registered",
            ContactEvent::Created => "created",
            ContactEvent::Refreshed => "refreshed",
            ContactEvent::Shortened => "shortened",
            ContactEvent::Expired => "expired",
            ContactEvent::Deactivated => "deactivated",
            ContactEvent::Probation => "probation",
            ContactEvent::Unregistered => "unregistered",
            ContactEvent::Rejected => "rejected",
        }
    }

    /// Whether a contact with this event is terminated (RFC 3680 §5.3 state machine).
    pub fn terminates(self) -> bool {
        matches!(
            self,
            ContactEvent::Expired
                | ContactEvent::Deactivated
                | ContactEvent::Probation
                | ContactEvent::Unregistered
                | ContactEvent::Rejected
        )
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "registered" => Self::Registered,
            "created" => Self::Created,
            "refreshed" => Self::Refreshed,
            "shortened" => Self::Shortened,
            "expired" => Self::Expired,
            "deactivated" => Self::Deactivated,
            "probation" => Self::Probation,
            "unregistered" => Self::Unregistered,
            "rejected" => Self::Rejected,
            _ => return None,
        })
    }
}

/// One contact of a registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactInfo {
    /// `id`.
    pub id: String,
    /// `state`.
    pub state: ContactState,
    /// `event`.
    pub event: ContactEvent,
    /// `expires` (seconds left), if given.
    pub expires: Option<u32>,
    /// `retry-after` (probation), if given.
    pub retry_after: Option<u32>,
    /// The contact's `<uri>`.
    pub uri: String,
}

/// One registration (address of record).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    /// `aor`.
    pub aor: String,
    /// `id`.
    pub id: String,
    /// `state`.
    pub state: RegState,
    /// Contacts.
    pub contacts: Vec<ContactInfo>,
}

/// A parsed reginfo document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reginfo {
    /// `version` (RFC 3680 §5.3: increases by one per NOTIFY of this subscription).
    pub version: u32,
    /// `state`: full or partial.
    pub state: DocState,
    /// Registrations.
    pub registrations: Vec<Registration>,
}

fn bad(msg: impl Into<String>) -> UeError {
    UeError::BadReginfo(msg.into())
}

fn attrs(e: &BytesStart<'_>, wanted: &[&str]) -> Result<Vec<Option<String>>> {
    let mut out = vec![None; wanted.len()];
    for a in e.attributes() {
        let a = a.map_err(|err| bad(format!("bad attribute: {err}")))?;
        let key = a.key.local_name();
        let key = std::str::from_utf8(key.as_ref()).map_err(|_| bad("attribute name not UTF-8"))?;
        if let Some(i) = wanted.iter().position(|w| *w == key) {
            let v = a
                .unescape_value()
                .map_err(|err| bad(format!("bad value of attribute {key}: {err}")))?;
            if let Some(slot) = out.get_mut(i) {
                *slot = Some(v.into_owned());
            }
        }
    }
    Ok(out)
}

fn required(v: Option<String>, elem: &str, attr: &str) -> Result<String> {
    v.ok_or_else(|| bad(format!("<{elem}> without {attr}")))
}

fn number(v: Option<String>, elem: &str, attr: &str) -> Result<Option<u32>> {
    v.map(|s| {
        s.trim()
            .parse::<u32>()
            .map_err(|_| bad(format!("<{elem}> {attr}=\"{s}\" is not a number")))
    })
    .transpose()
}

fn local(e: &BytesStart<'_>) -> Vec<u8> {
    e.local_name().as_ref().to_vec()
}

fn predefined_entity(name: &str) -> Option<char> {
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        _ => return None,
    })
}

#[derive(Default)]
struct Builder {
    doc: Option<Reginfo>,
    in_registration: bool,
    in_contact: bool,
    in_uri: bool,
    uri_buf: String,
}

impl Builder {
    fn current_registration(&mut self) -> Result<&mut Registration> {
        self.doc
            .as_mut()
            .and_then(|d| d.registrations.last_mut())
            .ok_or_else(|| bad("element outside <registration>"))
    }

    fn open(&mut self, e: &BytesStart<'_>, empty: bool, depth: usize) -> Result<()> {
        match local(e).as_slice() {
            b"reginfo" => {
                if self.doc.is_some() || depth > 1 {
                    return Err(bad("<reginfo> is not the single root element"));
                }
                let mut a = attrs(e, &["version", "state"])?.into_iter();
                let version = number(a.next().flatten(), "reginfo", "version")?
                    .ok_or_else(|| bad("<reginfo> without version"))?;
                let state = match required(a.next().flatten(), "reginfo", "state")?.as_str() {
                    "full" => DocState::Full,
                    "partial" => DocState::Partial,
                    other => return Err(bad(format!("<reginfo> state=\"{other}\" is unknown"))),
                };
                self.doc = Some(Reginfo {
                    version,
                    state,
                    registrations: Vec::new(),
                });
            }
            b"registration" => {
                let doc = self
                    .doc
                    .as_mut()
                    .ok_or_else(|| bad("<registration> outside <reginfo>"))?;
                if self.in_registration {
                    return Err(bad("nested <registration>"));
                }
                if doc.registrations.len() >= MAX_REGISTRATIONS {
                    return Err(bad(format!("more than {MAX_REGISTRATIONS} registrations")));
                }
                let mut a = attrs(e, &["aor", "id", "state"])?.into_iter();
                let aor = required(a.next().flatten(), "registration", "aor")?;
                let id = required(a.next().flatten(), "registration", "id")?;
                let state = match required(a.next().flatten(), "registration", "state")?.as_str() {
                    "init" => RegState::Init,
                    "active" => RegState::Active,
                    "terminated" => RegState::Terminated,
                    other => {
                        return Err(bad(format!("<registration> state=\"{other}\" is unknown")))
                    }
                };
                doc.registrations.push(Registration {
                    aor,
                    id,
                    state,
                    contacts: Vec::new(),
                });
                self.in_registration = !empty;
            }
            b"contact" => {
                if !self.in_registration || self.in_contact {
                    return Err(bad("<contact> outside <registration>"));
                }
                let mut a =
                    attrs(e, &["id", "state", "event", "expires", "retry-after"])?.into_iter();
                let id = required(a.next().flatten(), "contact", "id")?;
                let state = match required(a.next().flatten(), "contact", "state")?.as_str() {
                    "active" => ContactState::Active,
                    "terminated" => ContactState::Terminated,
                    other => return Err(bad(format!("<contact> state=\"{other}\" is unknown"))),
                };
                let ev = required(a.next().flatten(), "contact", "event")?;
                let event = ContactEvent::parse(&ev)
                    .ok_or_else(|| bad(format!("<contact> event=\"{ev}\" is unknown")))?;
                let expires = number(a.next().flatten(), "contact", "expires")?;
                let retry_after = number(a.next().flatten(), "contact", "retry-after")?;
                if empty {
                    return Err(bad("<contact> without <uri>"));
                }
                let reg = self.current_registration()?;
                if reg.contacts.len() >= MAX_CONTACTS {
                    return Err(bad(format!("more than {MAX_CONTACTS} contacts")));
                }
                reg.contacts.push(ContactInfo {
                    id,
                    state,
                    event,
                    expires,
                    retry_after,
                    uri: String::new(),
                });
                self.in_contact = true;
            }
            b"uri" if self.in_contact && !empty => {
                self.in_uri = true;
                self.uri_buf.clear();
            }
            _ => {}
        }
        Ok(())
    }

    fn close(&mut self, name: &[u8]) -> Result<()> {
        match name {
            b"uri" if self.in_uri => {
                self.in_uri = false;
                let uri = self.uri_buf.trim().to_string();
                let c = self
                    .current_registration()?
                    .contacts
                    .last_mut()
                    .ok_or_else(|| bad("<uri> outside <contact>"))?;
                c.uri = uri;
            }
            b"contact" if self.in_contact => {
                self.in_contact = false;
                let empty_uri = self
                    .current_registration()?
                    .contacts
                    .last()
                    .is_none_or(|c| c.uri.is_empty());
                if empty_uri {
                    return Err(bad("<contact> without <uri>"));
                }
            }
            b"registration" => self.in_registration = false,
            _ => {}
        }
        Ok(())
    }

    fn text(&mut self, s: &str) -> Result<()> {
        if self.in_uri {
            if self.uri_buf.len() + s.len() > MAX_URI {
                return Err(bad(format!("<uri> longer than {MAX_URI} bytes")));
            }
            self.uri_buf.push_str(s);
        }
        Ok(())
    }
}

/// Parses a reginfo body. Never panics; every error names what was wrong.
pub fn parse(body: &[u8]) -> Result<Reginfo> {
    if body.len() > MAX_BODY {
        return Err(bad(format!(
            "body of {} bytes exceeds {MAX_BODY}",
            body.len()
        )));
    }
    let text = std::str::from_utf8(body).map_err(|_| bad("body is not UTF-8"))?;
    let mut reader = Reader::from_str(text);
    let mut b = Builder::default();
    let mut depth = 0usize;
    loop {
        let ev = reader.read_event().map_err(|e| {
            bad(format!(
                "XML error at byte {}: {e}",
                reader.buffer_position()
            ))
        })?;
        match ev {
            Event::Start(e) => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(bad(format!("elements nested deeper than {MAX_DEPTH}")));
                }
                b.open(&e, false, depth)?;
            }
            Event::Empty(e) => b.open(&e, true, depth + 1)?,
            Event::End(e) => {
                depth = depth
                    .checked_sub(1)
                    .ok_or_else(|| bad("end tag without start tag"))?;
                b.close(e.local_name().as_ref())?;
            }
            Event::Text(t) => {
                let s = t.decode().map_err(|e| bad(format!("bad text: {e}")))?;
                if depth == 0 && !s.trim().is_empty() {
                    return Err(bad("text outside the root element"));
                }
                b.text(&s)?;
            }
            Event::CData(t) => {
                let s = t.decode().map_err(|e| bad(format!("bad CDATA: {e}")))?;
                b.text(&s)?;
            }
            Event::GeneralRef(r) => {
                let c = if r.is_char_ref() {
                    r.resolve_char_ref()
                        .map_err(|e| bad(format!("bad character reference: {e}")))?
                } else {
                    let name = r.decode().map_err(|e| bad(format!("bad entity: {e}")))?;
                    Some(
                        predefined_entity(&name)
                            .ok_or_else(|| bad(format!("unknown entity &{name};")))?,
                    )
                };
                if let Some(c) = c {
                    b.text(c.encode_utf8(&mut [0u8; 4]))?;
                }
            }
            Event::DocType(_) => return Err(bad("DOCTYPE is not allowed")),
            Event::Eof => break,
            _ => {}
        }
    }
    if depth != 0 {
        return Err(bad("document ends inside an element"));
    }
    b.doc.ok_or_else(|| bad("no <reginfo> root element"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRACE: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<reginfo version="0" state="full" xmlns="urn:ietf:params:xml:ns:reginfo">
<registration aor="sip:001010123456789@ims.mnc01.mcc001.3gppnetwork.org" id="12345" state="active">
<contact id="100" state="active" event="registered">
<uri>sip:001010123456789@[2001::1:d1ae:bb37:d9c9:81d0]:39003</uri>
<unknown-param name="+g.3gpp.smsip" />
<unknown-param name="+sip.instance">"&lt;urn:gsma:imei:35910506-000422-0&gt;"</unknown-param>
<unknown-param name="reg-id">1</unknown-param>
</contact>
</registration>
</reginfo>"#;

    #[test]
    fn parses_the_reference_trace_notify() {
        let r = parse(TRACE.as_bytes()).unwrap();
        assert_eq!(r.version, 0);
        assert_eq!(r.state, DocState::Full);
        assert_eq!(r.registrations.len(), 1);
        let reg = &r.registrations[0];
        assert_eq!(
            reg.aor,
            "sip:001010123456789@ims.mnc01.mcc001.3gppnetwork.org"
        );
        assert_eq!(reg.state, RegState::Active);
        assert_eq!(reg.contacts.len(), 1);
        let c = &reg.contacts[0];
        assert_eq!(c.event, ContactEvent::Registered);
        assert_eq!(c.state, ContactState::Active);
        assert_eq!(
            c.uri,
            "sip:001010123456789@[2001::1:d1ae:bb37:d9c9:81d0]:39003"
        );
    }

    #[test]
    fn every_contact_event_and_entities() {
        for ev in [
            "registered",
            "created",
            "refreshed",
            "shortened",
            "expired",
            "deactivated",
            "probation",
            "unregistered",
            "rejected",
        ] {
            let x = format!(
                r#"<reginfo version="7" state="partial"><registration aor="sip:a@b" id="1" state="terminated"><contact id="c" state="terminated" event="{ev}" expires="30" retry-after="5"><uri>sip:a@h;x=&amp;&#65;</uri></contact></registration></reginfo>"#
            );
            let r = parse(x.as_bytes()).unwrap();
            let c = &r.registrations[0].contacts[0];
            assert_eq!(ContactEvent::parse(ev), Some(c.event));
            assert_eq!(c.expires, Some(30));
            assert_eq!(c.retry_after, Some(5));
            assert_eq!(c.uri, "sip:a@h;x=&A");
            assert_eq!(r.version, 7);
            assert_eq!(r.state, DocState::Partial);
        }
    }

    #[test]
    fn malformed_bodies_are_errors_not_panics() {
        let bad_docs: &[&[u8]] = &[
            b"",
            b"not xml",
            b"<reginfo>",
            b"<reginfo version=\"x\" state=\"full\"/>",
            b"<reginfo version=\"1\" state=\"weird\"/>",
            b"<reginfo version=\"1\" state=\"full\"><registration aor=\"a\" id=\"1\" state=\"active\"><contact id=\"1\" state=\"active\" event=\"bogus\"><uri>u</uri></contact></registration></reginfo>",
            b"<reginfo version=\"1\" state=\"full\"><registration aor=\"a\" id=\"1\" state=\"active\"><contact id=\"1\" state=\"active\" event=\"registered\"></contact></registration></reginfo>",
            b"<reginfo version=\"1\" state=\"full\"></registration></reginfo>",
            b"<reginfo version=\"1\" state=\"full\"><registration aor=\"a\" id=\"1\" state=\"active\"></reginfo>",
            b"<!DOCTYPE x [<!ENTITY a \"b\">]><reginfo version=\"1\" state=\"full\"/>",
            b"<reginfo version=\"1\" state=\"full\"><x>&unknown;</x></reginfo>",
            b"\xff\xfe",
            b"<reginfo version=\"1\" state=\"full\"/><reginfo version=\"2\" state=\"full\"/>",
        ];
        for d in bad_docs {
            assert!(
                matches!(parse(d), Err(UeError::BadReginfo(_))),
                "accepted {:?}",
                String::from_utf8_lossy(d)
            );
        }
        let deep = "<a>".repeat(100);
        assert!(parse(deep.as_bytes()).is_err());
        let mut many = String::from(r#"<reginfo version="1" state="full">"#);
        for i in 0..=MAX_REGISTRATIONS {
            many.push_str(&format!(r#"<registration aor="a" id="{i}" state="init"/>"#));
        }
        many.push_str("</reginfo>");
        assert!(parse(many.as_bytes()).is_err());
    }
}
