//! The `application/reginfo+xml` document (RFC 3680 §5.3, schema §5.4) the S-CSCF sends in
//! reg-event NOTIFYs (TS 24.229 §5.4.2.1.2): a small writer, no XML library. Every attribute
//! value and text node is escaped ([`escape`]), so any identity gives a well-formed document.

use std::fmt::Write as _;

// The document's enumerations (RFC 3680 §5.3) are the ones the UE parses.
pub use ue::reginfo::{ContactEvent, ContactState, DocState, RegState};

/// One `<contact>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactInfo {
    /// `id`: stable for the binding across documents.
    pub id: String,
    /// `state`.
    pub state: ContactState,
    /// `event`.
    pub event: ContactEvent,
    /// `expires`: seconds left (active contacts).
    pub expires: Option<u64>,
    /// `retry-after` (probation).
    pub retry_after: Option<u64>,
    /// `callid` of the REGISTER that last refreshed it.
    pub callid: Option<String>,
    /// `cseq` of that REGISTER.
    pub cseq: Option<u32>,
    /// `q` (e.g. `0.5`).
    pub q: Option<String>,
    /// `<uri>`.
    pub uri: String,
    /// `<unknown-param name=…>`: Contact header parameters (e.g. `+sip.instance`), RFC 3680 §5.3.
    pub unknown_params: Vec<(String, String)>,
}

/// One `<registration>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationInfo {
    /// `aor`.
    pub aor: String,
    /// `id`.
    pub id: String,
    /// `state`.
    pub state: RegState,
    /// The contacts.
    pub contacts: Vec<ContactInfo>,
}

/// A whole document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reginfo {
    /// `version`: 0 for the first NOTIFY of a subscription, +1 for each next one (RFC 3680 §5.3).
    pub version: u32,
    /// `state`.
    pub state: DocState,
    /// The registrations.
    pub registrations: Vec<RegistrationInfo>,
}

/// Escapes `s` for an attribute value or text node (XML 1.0 §2.4, §3.3.3): `& < > " '`; control
/// characters other than tab/newline/CR (not allowed in XML 1.0) are dropped.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

/// A stable short id for `s` (FNV-1a 64, hex): the `id` of a registration or contact, the same
/// across NOTIFYs and restarts.
pub fn stable_id(prefix: &str, s: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{prefix}{h:016x}")
}

impl Reginfo {
    /// The XML text (UTF-8).
    pub fn to_xml(&self) -> String {
        let mut x = String::with_capacity(256 + 256 * self.registrations.len());
        x.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let _ = writeln!(
            x,
            "<reginfo xmlns=\"urn:ietf:params:xml:ns:reginfo\" version=\"{}\" state=\"{}\">",
            self.version,
            self.state.as_str()
        );
        for r in &self.registrations {
            let _ = writeln!(
                x,
                "  <registration aor=\"{}\" id=\"{}\" state=\"{}\">",
                escape(&r.aor),
                escape(&r.id),
                r.state.as_str()
            );
            for c in &r.contacts {
                let _ = write!(
                    x,
                    "    <contact id=\"{}\" state=\"{}\" event=\"{}\"",
                    escape(&c.id),
                    c.state.as_str(),
                    c.event.as_str()
                );
                if let Some(e) = c.expires {
                    let _ = write!(x, " expires=\"{e}\"");
                }
                if let Some(r) = c.retry_after {
                    let _ = write!(x, " retry-after=\"{r}\"");
                }
                if let Some(q) = &c.q {
                    let _ = write!(x, " q=\"{}\"", escape(q));
                }
                if let Some(id) = &c.callid {
                    let _ = write!(x, " callid=\"{}\"", escape(id));
                }
                if let Some(s) = c.cseq {
                    let _ = write!(x, " cseq=\"{s}\"");
                }
                let _ = writeln!(x, ">");
                let _ = writeln!(x, "      <uri>{}</uri>", escape(&c.uri));
                for (name, value) in &c.unknown_params {
                    let _ = writeln!(
                        x,
                        "      <unknown-param name=\"{}\">{}</unknown-param>",
                        escape(name),
                        escape(value)
                    );
                }
                x.push_str("    </contact>\n");
            }
            x.push_str("  </registration>\n");
        }
        x.push_str("</reginfo>\n");
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_drops_controls() {
        assert_eq!(
            escape("a&b<c>\"d'\u{1}e\n"),
            "a&amp;b&lt;c&gt;&quot;d&apos;e&#10;"
        );
    }

    #[test]
    fn stable_ids_are_stable_and_distinct() {
        assert_eq!(stable_id("c", "sip:a@h"), stable_id("c", "sip:a@h"));
        assert_ne!(stable_id("c", "sip:a@h"), stable_id("c", "sip:b@h"));
        assert!(stable_id("r", "x").starts_with('r'));
    }

    #[test]
    fn document_shape() {
        let d = Reginfo {
            version: 3,
            state: DocState::Partial,
            registrations: vec![RegistrationInfo {
                aor: "sip:a&b@x".into(),
                id: "r1".into(),
                state: RegState::Terminated,
                contacts: vec![ContactInfo {
                    id: "c1".into(),
                    state: ContactState::Terminated,
                    event: ContactEvent::Rejected,
                    expires: Some(0),
                    retry_after: None,
                    callid: Some("x\"y".into()),
                    cseq: Some(2),
                    q: None,
                    uri: "sip:u@h".into(),
                    unknown_params: vec![("+sip.instance".into(), "<urn:x>".into())],
                }],
            }],
        };
        let x = d.to_xml();
        assert!(x.contains("version=\"3\" state=\"partial\""), "{x}");
        assert!(x.contains("aor=\"sip:a&amp;b@x\""), "{x}");
        assert!(x.contains("state=\"terminated\" event=\"rejected\""), "{x}");
        assert!(x.contains("callid=\"x&quot;y\""), "{x}");
        assert!(x.contains(">&lt;urn:x&gt;</unknown-param>"), "{x}");
        assert!(ContactEvent::Rejected.terminates());
        assert!(!ContactEvent::Shortened.terminates());
    }
}
