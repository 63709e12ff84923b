//! Parser of the `IMSSubscription` document (TS 29.228 Annex E).
//!
//! The bytes are first read into a small element tree under strict [`Limits`] (size, depth, element
//! count; no DOCTYPE, so no entity expansion), then mapped onto the model. Unknown elements are
//! skipped; missing required elements and malformed values are errors naming the element.

use quick_xml::events::Event;
use quick_xml::Reader;

use super::write::is_xml_char;
use super::{
    ApplicationServer, CoreNetworkServicesAuthorization, DefaultHandling, IdentityType,
    ImsSubscription, InitialFilterCriteria, ProfilePartIndicator, PublicIdentity, RegistrationType,
    ServiceProfile, SessionCase, Spt, SptKind, TriggerPoint,
};
use crate::error::CxError;

/// Bounds on a User-Data document read from a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Maximum document size in bytes.
    pub max_len: usize,
    /// Maximum element nesting depth.
    pub max_depth: usize,
    /// Maximum number of elements.
    pub max_elements: usize,
}

/// Default limits: 256 KiB, depth 16, 10 000 elements — far above any real profile (the deepest
/// path in the schema is 8 levels).
pub const DEFAULT_LIMITS: Limits = Limits {
    max_len: 256 * 1024,
    max_depth: 16,
    max_elements: 10_000,
};

#[derive(Debug, Default)]
struct Element {
    name: String,
    text: String,
    children: Vec<Element>,
}

fn err(msg: impl Into<String>) -> CxError {
    CxError::UserData(msg.into())
}

impl ImsSubscription {
    /// Reads a document with the [`DEFAULT_LIMITS`].
    pub fn from_xml(bytes: &[u8]) -> Result<Self, CxError> {
        Self::from_xml_with(bytes, &DEFAULT_LIMITS)
    }

    /// Reads a document under the given limits.
    pub fn from_xml_with(bytes: &[u8], limits: &Limits) -> Result<Self, CxError> {
        if bytes.len() > limits.max_len {
            return Err(err(format!(
                "document is {} bytes, limit {}",
                bytes.len(),
                limits.max_len
            )));
        }
        let text = std::str::from_utf8(bytes).map_err(|e| err(format!("not UTF-8: {e}")))?;
        let root = parse_tree(text, limits)?;
        if root.name != "IMSSubscription" {
            return Err(err(format!(
                "root element is <{}>, expected <IMSSubscription>",
                root.name
            )));
        }
        subscription(&root)
    }
}

fn parse_tree(text: &str, limits: &Limits) -> Result<Element, CxError> {
    let mut reader = Reader::from_str(text);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut count = 0usize;
    loop {
        let ev = reader.read_event().map_err(|e| {
            err(format!(
                "malformed XML at byte {}: {e}",
                reader.error_position()
            ))
        })?;
        match ev {
            Event::Start(ref e) | Event::Empty(ref e) => {
                if root.is_some() {
                    return Err(err("content after the root element"));
                }
                count += 1;
                if count > limits.max_elements {
                    return Err(err(format!("more than {} elements", limits.max_elements)));
                }
                if stack.len() >= limits.max_depth {
                    return Err(err(format!(
                        "elements nested deeper than {}",
                        limits.max_depth
                    )));
                }
                let name = std::str::from_utf8(e.local_name().into_inner())
                    .map_err(|_| err("element name is not UTF-8"))?
                    .to_owned();
                stack.push(Element {
                    name,
                    ..Element::default()
                });
                if matches!(ev, Event::Empty(_)) {
                    close(&mut stack, &mut root)?;
                }
            }
            Event::End(_) => close(&mut stack, &mut root)?,
            Event::Text(t) => {
                let s = t
                    .xml10_content()
                    .map_err(|e| err(format!("bad text: {e}")))?;
                append_text(&mut stack, &s)?;
            }
            Event::CData(c) => {
                let s = c.decode().map_err(|e| err(format!("bad CDATA: {e}")))?;
                append_text(&mut stack, &s)?;
            }
            Event::GeneralRef(r) => {
                let c = if r.is_char_ref() {
                    r.resolve_char_ref()
                        .map_err(|e| err(format!("bad character reference: {e}")))?
                        .ok_or_else(|| err("bad character reference"))?
                        .to_string()
                } else {
                    let name = r.decode().map_err(|e| err(format!("bad entity: {e}")))?;
                    quick_xml::escape::resolve_predefined_entity(&name)
                        .ok_or_else(|| err(format!("undefined entity &{name};")))?
                        .to_owned()
                };
                append_text(&mut stack, &c)?;
            }
            Event::DocType(_) => return Err(err("DOCTYPE is not allowed in User-Data")),
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(err(format!(
            "unclosed element <{}>",
            stack.last().map_or("", |e| e.name.as_str())
        )));
    }
    root.ok_or_else(|| err("no root element"))
}

fn close(stack: &mut Vec<Element>, root: &mut Option<Element>) -> Result<(), CxError> {
    let el = stack
        .pop()
        .ok_or_else(|| err("end tag without start tag"))?;
    match stack.last_mut() {
        Some(parent) => parent.children.push(el),
        None => *root = Some(el),
    }
    Ok(())
}

fn append_text(stack: &mut [Element], s: &str) -> Result<(), CxError> {
    if let Some(bad) = s.chars().find(|c| !is_xml_char(*c)) {
        return Err(err(format!(
            "character U+{:04X} is not allowed in XML",
            u32::from(bad)
        )));
    }
    match stack.last_mut() {
        Some(top) => {
            top.text.push_str(s);
            Ok(())
        }
        None if s.trim().is_empty() => Ok(()),
        None => Err(err("text outside the root element")),
    }
}

impl Element {
    fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    fn required(&self, name: &str) -> Result<&Element, CxError> {
        self.child(name)
            .ok_or_else(|| err(format!("<{}> lacks required <{name}>", self.name)))
    }

    /// Text with XML whitespace collapsed at both ends (for anyURI, numbers, booleans).
    fn token(&self) -> &str {
        self.text
            .trim_matches(|c| matches!(c, ' ' | '\t' | '\n' | '\r'))
    }

    fn non_empty_token(&self) -> Result<String, CxError> {
        let t = self.token();
        if t.is_empty() {
            return Err(err(format!("<{}> is empty", self.name)));
        }
        Ok(t.to_owned())
    }

    fn number<T: std::str::FromStr>(&self) -> Result<T, CxError> {
        self.token().parse().map_err(|_| {
            err(format!(
                "<{}> is not a valid number: {:?}",
                self.name,
                self.token()
            ))
        })
    }

    /// `xs:boolean`: 0, 1, false, true.
    fn boolean(&self) -> Result<bool, CxError> {
        match self.token() {
            "1" | "true" => Ok(true),
            "0" | "false" => Ok(false),
            other => Err(err(format!("<{}> is not a boolean: {other:?}", self.name))),
        }
    }
}

fn opt_bool(parent: &Element, name: &str) -> Result<bool, CxError> {
    parent.child(name).map_or(Ok(false), Element::boolean)
}

fn subscription(root: &Element) -> Result<ImsSubscription, CxError> {
    let private_id = root.required("PrivateID")?.non_empty_token()?;
    let service_profiles = root
        .all("ServiceProfile")
        .map(service_profile)
        .collect::<Result<Vec<_>, _>>()?;
    if service_profiles.is_empty() {
        return Err(err("<IMSSubscription> lacks required <ServiceProfile>"));
    }
    Ok(ImsSubscription {
        private_id,
        service_profiles,
    })
}

fn service_profile(sp: &Element) -> Result<ServiceProfile, CxError> {
    let public_identities = sp
        .all("PublicIdentity")
        .map(public_identity)
        .collect::<Result<Vec<_>, _>>()?;
    if public_identities.is_empty() {
        return Err(err("<ServiceProfile> lacks required <PublicIdentity>"));
    }
    let core_network_services_authorization = match sp.child("CoreNetworkServicesAuthorization") {
        None => None,
        Some(c) => Some(CoreNetworkServicesAuthorization {
            subscribed_media_profile_id: c
                .child("SubscribedMediaProfileId")
                .map(Element::number)
                .transpose()?,
        }),
    };
    let initial_filter_criteria = sp
        .all("InitialFilterCriteria")
        .map(ifc)
        .collect::<Result<Vec<_>, _>>()?;
    let shared_ifc_set_ids = match sp.child("Extension") {
        None => Vec::new(),
        Some(ext) => ext
            .all("SharedIFCSetID")
            .map(Element::number)
            .collect::<Result<Vec<_>, _>>()?,
    };
    Ok(ServiceProfile {
        public_identities,
        core_network_services_authorization,
        initial_filter_criteria,
        shared_ifc_set_ids,
    })
}

fn public_identity(pi: &Element) -> Result<PublicIdentity, CxError> {
    let mut out = PublicIdentity {
        barring_indication: opt_bool(pi, "BarringIndication")?,
        identity: pi.required("Identity")?.non_empty_token()?,
        ..PublicIdentity::default()
    };
    if let Some(ext) = pi.child("Extension") {
        out.identity_type = ext
            .child("IdentityType")
            .map(|t| t.number().map(IdentityType::from_value))
            .transpose()?;
        out.wildcarded_psi = ext
            .child("WildcardedPSI")
            .map(Element::non_empty_token)
            .transpose()?;
        out.display_name = ext
            .child("Extension")
            .and_then(|e2| e2.child("DisplayName"))
            .map(|d| d.text.clone());
    }
    Ok(out)
}

fn ifc(el: &Element) -> Result<InitialFilterCriteria, CxError> {
    let priority = el.required("Priority")?.number()?;
    let trigger_point = el.child("TriggerPoint").map(trigger_point).transpose()?;
    let application_server = application_server(el.required("ApplicationServer")?)?;
    let profile_part_indicator = el
        .child("ProfilePartIndicator")
        .map(|p| {
            ProfilePartIndicator::from_value(p.number()?).ok_or_else(|| {
                err(format!(
                    "<ProfilePartIndicator> out of range: {}",
                    p.token()
                ))
            })
        })
        .transpose()?;
    Ok(InitialFilterCriteria {
        priority,
        trigger_point,
        application_server,
        profile_part_indicator,
    })
}

fn trigger_point(tp: &Element) -> Result<TriggerPoint, CxError> {
    let condition_type_cnf = tp.required("ConditionTypeCNF")?.boolean()?;
    let spts = tp.all("SPT").map(spt).collect::<Result<Vec<_>, _>>()?;
    if spts.is_empty() {
        return Err(err("<TriggerPoint> lacks required <SPT>"));
    }
    Ok(TriggerPoint {
        condition_type_cnf,
        spts,
    })
}

fn spt(el: &Element) -> Result<Spt, CxError> {
    let condition_negated = opt_bool(el, "ConditionNegated")?;
    let groups = el
        .all("Group")
        .map(Element::number)
        .collect::<Result<Vec<u32>, _>>()?;
    if groups.is_empty() {
        return Err(err("<SPT> lacks required <Group>"));
    }
    let kind = el
        .children
        .iter()
        .find_map(|c| match c.name.as_str() {
            "RequestURI" => Some(Ok(SptKind::RequestUri(c.text.clone()))),
            "Method" => Some(Ok(SptKind::Method(c.token().to_owned()))),
            "SIPHeader" => Some(c.required("Header").map(|h| SptKind::SipHeader {
                header: h.token().to_owned(),
                content: c.child("Content").map(|x| x.text.clone()),
            })),
            "SessionCase" => Some(
                c.number()
                    .map(|v| SptKind::SessionCase(SessionCase::from_value(v))),
            ),
            "SessionDescription" => Some(c.required("Line").map(|l| SptKind::SessionDescription {
                line: l.token().to_owned(),
                content: c.child("Content").map(|x| x.text.clone()),
            })),
            _ => None,
        })
        .ok_or_else(|| {
            err("<SPT> has none of RequestURI, Method, SIPHeader, SessionCase, SessionDescription")
        })??;
    let registration_types = match el.child("Extension") {
        None => Vec::new(),
        Some(ext) => ext
            .all("RegistrationType")
            .map(|r| {
                RegistrationType::from_value(r.number()?)
                    .ok_or_else(|| err(format!("<RegistrationType> out of range: {}", r.token())))
            })
            .collect::<Result<Vec<_>, _>>()?,
    };
    Ok(Spt {
        condition_negated,
        groups,
        kind,
        registration_types,
    })
}

fn application_server(el: &Element) -> Result<ApplicationServer, CxError> {
    Ok(ApplicationServer {
        server_name: el.required("ServerName")?.non_empty_token()?,
        default_handling: el
            .child("DefaultHandling")
            .map(|d| {
                DefaultHandling::from_value(d.number()?)
                    .ok_or_else(|| err(format!("<DefaultHandling> out of range: {}", d.token())))
            })
            .transpose()?,
        service_info: el.child("ServiceInfo").map(|s| s.text.clone()),
    })
}
