//! Serializer of the `IMSSubscription` document (TS 29.228 Annex E): elements in schema order,
//! text escaped so that any identity (even one containing `<&>"'`) yields a well-formed document.

use super::{
    ApplicationServer, ImsSubscription, InitialFilterCriteria, PublicIdentity, ServiceProfile, Spt,
    SptKind, TriggerPoint,
};
use crate::error::CxError;

impl ImsSubscription {
    /// Writes the document as UTF-8 XML 1.0.
    ///
    /// Fails only when a text field holds a character XML 1.0 cannot carry at all (C0 controls other
    /// than TAB/LF/CR, U+FFFE, U+FFFF).
    pub fn to_xml(&self) -> Result<String, CxError> {
        let mut w = Writer {
            out: String::with_capacity(512),
        };
        w.out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
        w.open("IMSSubscription");
        w.leaf("PrivateID", &self.private_id)?;
        for sp in &self.service_profiles {
            w.service_profile(sp)?;
        }
        w.close("IMSSubscription");
        Ok(w.out)
    }
}

struct Writer {
    out: String,
}

impl Writer {
    fn open(&mut self, name: &str) {
        self.out.push('<');
        self.out.push_str(name);
        self.out.push('>');
    }

    fn close(&mut self, name: &str) {
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
    }

    fn leaf(&mut self, name: &str, text: &str) -> Result<(), CxError> {
        self.open(name);
        escape_into(&mut self.out, name, text)?;
        self.close(name);
        Ok(())
    }

    fn leaf_num(&mut self, name: &str, v: impl std::fmt::Display) {
        self.open(name);
        self.out.push_str(&v.to_string());
        self.close(name);
    }

    fn service_profile(&mut self, sp: &ServiceProfile) -> Result<(), CxError> {
        self.open("ServiceProfile");
        for pi in &sp.public_identities {
            self.public_identity(pi)?;
        }
        if let Some(cnsa) = &sp.core_network_services_authorization {
            self.open("CoreNetworkServicesAuthorization");
            if let Some(id) = cnsa.subscribed_media_profile_id {
                self.leaf_num("SubscribedMediaProfileId", id);
            }
            self.close("CoreNetworkServicesAuthorization");
        }
        for ifc in &sp.initial_filter_criteria {
            self.ifc(ifc)?;
        }
        if !sp.shared_ifc_set_ids.is_empty() {
            self.open("Extension");
            for id in &sp.shared_ifc_set_ids {
                self.leaf_num("SharedIFCSetID", id);
            }
            self.close("Extension");
        }
        self.close("ServiceProfile");
        Ok(())
    }

    fn public_identity(&mut self, pi: &PublicIdentity) -> Result<(), CxError> {
        self.open("PublicIdentity");
        if pi.barring_indication {
            self.leaf_num("BarringIndication", 1);
        }
        self.leaf("Identity", &pi.identity)?;
        if pi.identity_type.is_some() || pi.wildcarded_psi.is_some() || pi.display_name.is_some() {
            self.open("Extension");
            if let Some(t) = pi.identity_type {
                self.leaf_num("IdentityType", t.value());
            }
            if let Some(w) = &pi.wildcarded_psi {
                self.leaf("WildcardedPSI", w)?;
            }
            if let Some(d) = &pi.display_name {
                self.open("Extension");
                self.leaf("DisplayName", d)?;
                self.close("Extension");
            }
            self.close("Extension");
        }
        self.close("PublicIdentity");
        Ok(())
    }

    fn ifc(&mut self, ifc: &InitialFilterCriteria) -> Result<(), CxError> {
        self.open("InitialFilterCriteria");
        self.leaf_num("Priority", ifc.priority);
        if let Some(tp) = &ifc.trigger_point {
            self.trigger_point(tp)?;
        }
        self.application_server(&ifc.application_server)?;
        if let Some(p) = ifc.profile_part_indicator {
            self.leaf_num("ProfilePartIndicator", p.value());
        }
        self.close("InitialFilterCriteria");
        Ok(())
    }

    fn trigger_point(&mut self, tp: &TriggerPoint) -> Result<(), CxError> {
        self.open("TriggerPoint");
        self.leaf_num("ConditionTypeCNF", u8::from(tp.condition_type_cnf));
        for spt in &tp.spts {
            self.spt(spt)?;
        }
        self.close("TriggerPoint");
        Ok(())
    }

    fn spt(&mut self, spt: &Spt) -> Result<(), CxError> {
        self.open("SPT");
        if spt.condition_negated {
            self.leaf_num("ConditionNegated", 1);
        }
        for g in &spt.groups {
            self.leaf_num("Group", g);
        }
        match &spt.kind {
            SptKind::RequestUri(u) => self.leaf("RequestURI", u)?,
            SptKind::Method(m) => self.leaf("Method", m)?,
            SptKind::SipHeader { header, content } => {
                self.open("SIPHeader");
                self.leaf("Header", header)?;
                if let Some(c) = content {
                    self.leaf("Content", c)?;
                }
                self.close("SIPHeader");
            }
            SptKind::SessionCase(c) => self.leaf_num("SessionCase", c.value()),
            SptKind::SessionDescription { line, content } => {
                self.open("SessionDescription");
                self.leaf("Line", line)?;
                if let Some(c) = content {
                    self.leaf("Content", c)?;
                }
                self.close("SessionDescription");
            }
        }
        if !spt.registration_types.is_empty() {
            self.open("Extension");
            for r in &spt.registration_types {
                self.leaf_num("RegistrationType", r.value());
            }
            self.close("Extension");
        }
        self.close("SPT");
        Ok(())
    }

    fn application_server(&mut self, a: &ApplicationServer) -> Result<(), CxError> {
        self.open("ApplicationServer");
        self.leaf("ServerName", &a.server_name)?;
        if let Some(d) = a.default_handling {
            self.leaf_num("DefaultHandling", d.value());
        }
        if let Some(s) = &a.service_info {
            self.leaf("ServiceInfo", s)?;
        }
        self.close("ApplicationServer");
        Ok(())
    }
}

/// Whether XML 1.0 can carry the character (production `Char`, XML 1.0 §2.2).
pub(crate) fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Appends `text` with the five XML special characters escaped and CR as a character reference
/// (a literal CR would be normalised away by the reader, XML 1.0 §2.11).
fn escape_into(out: &mut String, element: &str, text: &str) -> Result<(), CxError> {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\r' => out.push_str("&#13;"),
            c if is_xml_char(c) => out.push(c),
            c => {
                return Err(CxError::UserDataUnrepresentable(format!(
                    "{element} contains U+{:04X}, which XML 1.0 cannot carry",
                    u32::from(c)
                )))
            }
        }
    }
    Ok(())
}
