//! Service profiles and initial filter criteria, shaped like the IMS subscription XML of TS 29.228
//! Annex B (`ServiceProfile`, `InitialFilterCriteria`, `TriggerPoint`, `SPT`, `ApplicationServer`).
//!
//! Stored as JSON inside the service profile row; the Cx server renders them into User-Data XML.

use serde::{Deserialize, Serialize};

use crate::HssError;

/// A service profile (TS 29.228 Annex B.2.2 `ServiceProfile`): the filter criteria shared by the
/// public identities that point at it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ServiceProfile {
    /// Identifier of the profile within its subscription.
    pub id: String,
    /// Initial filter criteria, evaluated in ascending `priority`.
    #[serde(default)]
    pub ifcs: Vec<InitialFilterCriteria>,
}

/// `InitialFilterCriteria` (TS 29.228 Annex B.2.2, TS 23.218 §6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InitialFilterCriteria {
    /// Lower value = evaluated first; unique within a profile, not negative (an XML unsigned int).
    pub priority: i32,
    /// Absent = the criterion always matches (unconditional).
    #[serde(default)]
    pub trigger_point: Option<TriggerPoint>,
    /// The application server to involve.
    pub application_server: ApplicationServer,
    /// `ProfilePartIndicator`: registered (0) or unregistered (1) part; absent = both.
    #[serde(default)]
    pub profile_part_indicator: Option<ProfilePartIndicator>,
}

/// `TriggerPoint`: service point triggers combined in conjunctive (CNF) or disjunctive (DNF) normal
/// form, grouped by `group`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TriggerPoint {
    /// `ConditionTypeCNF`: true = CNF (AND of ORed groups), false = DNF (OR of ANDed groups).
    pub condition_type_cnf: bool,
    /// The service point triggers.
    pub spts: Vec<ServicePointTrigger>,
}

/// `SPT`: one condition on the SIP request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServicePointTrigger {
    /// `ConditionNegated`.
    #[serde(default)]
    pub condition_negated: bool,
    /// `Group` numbers this SPT belongs to.
    #[serde(default)]
    pub group: Vec<u32>,
    /// The condition itself.
    pub condition: SptCondition,
    /// `RegistrationType` (only with Method REGISTER): 0 initial, 1 re-registration, 2 de-registration.
    #[serde(default)]
    pub registration_type: Vec<u8>,
}

/// The choice inside an SPT.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum SptCondition {
    /// `RequestURI` (regular expression).
    RequestUri(String),
    /// `Method`, e.g. `INVITE`.
    Method(String),
    /// `SIPHeader`: header name and optional content regex.
    SipHeader {
        /// Header name.
        header: String,
        /// Content regex; absent = header present.
        #[serde(default)]
        content: Option<String>,
    },
    /// `SessionCase`.
    SessionCase(SessionCase),
    /// `SessionDescription`: SDP line type and optional content regex.
    SessionDescription {
        /// SDP line, e.g. `m`.
        line: String,
        /// Content regex.
        #[serde(default)]
        content: Option<String>,
    },
}

/// `SessionCase` values (TS 29.228 Annex B, 0..=4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SessionCase {
    /// 0
    OriginatingRegistered = 0,
    /// 1
    TerminatingRegistered = 1,
    /// 2
    TerminatingUnregistered = 2,
    /// 3
    OriginatingUnregistered = 3,
    /// 4
    OriginatingCdiv = 4,
}

/// `ProfilePartIndicator`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ProfilePartIndicator {
    /// 0
    Registered = 0,
    /// 1
    Unregistered = 1,
}

/// `ApplicationServer`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplicationServer {
    /// `ServerName`: SIP URI of the AS.
    pub server_name: String,
    /// `DefaultHandling` when the AS cannot be reached.
    #[serde(default)]
    pub default_handling: DefaultHandling,
    /// `ServiceInfo`: opaque data for the AS.
    #[serde(default)]
    pub service_info: Option<String>,
    /// `IncludeRegisterRequest`.
    #[serde(default)]
    pub include_register_request: bool,
    /// `IncludeRegisterResponse`.
    #[serde(default)]
    pub include_register_response: bool,
}

/// `DefaultHandling` (TS 29.228 Annex B): what the S-CSCF does if the AS does not answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DefaultHandling {
    /// 0: continue the session without the AS.
    #[default]
    SessionContinued = 0,
    /// 1: terminate the session.
    SessionTerminated = 1,
}

impl ServiceProfile {
    /// Checks the profile: non-empty id, unique iFC priorities, AS names that are SIP URIs, SPT
    /// groups present and registration types in 0..=2.
    pub fn validate(&self) -> Result<(), HssError> {
        if self.id.trim().is_empty() || self.id.len() > 128 {
            return Err(HssError::invalid(
                "service_profile",
                "id must be 1..128 characters",
            ));
        }
        if let Some(i) = self.ifcs.iter().find(|i| i.priority < 0) {
            return Err(HssError::invalid(
                "service_profile",
                format!(
                    "profile {:?}: iFC priority {} is negative",
                    self.id, i.priority
                ),
            ));
        }
        let mut prios: Vec<i32> = self.ifcs.iter().map(|i| i.priority).collect();
        prios.sort_unstable();
        if let Some(w) = prios.windows(2).find(|w| w[0] == w[1]) {
            return Err(HssError::invalid(
                "service_profile",
                format!("profile {:?}: two iFCs with priority {}", self.id, w[0]),
            ));
        }
        for ifc in &self.ifcs {
            let name = &ifc.application_server.server_name;
            let lower = name.to_ascii_lowercase();
            if !(lower.starts_with("sip:") || lower.starts_with("sips:")) || name.len() > 255 {
                return Err(HssError::invalid(
                    "service_profile",
                    format!("application server {name:?} is not a SIP URI"),
                ));
            }
            if let Some(tp) = &ifc.trigger_point {
                if tp.spts.is_empty() {
                    return Err(HssError::invalid(
                        "service_profile",
                        format!("iFC priority {}: trigger point without SPTs", ifc.priority),
                    ));
                }
                for spt in &tp.spts {
                    if spt.registration_type.iter().any(|r| *r > 2) {
                        return Err(HssError::invalid(
                            "service_profile",
                            format!(
                                "iFC priority {}: RegistrationType must be 0, 1 or 2",
                                ifc.priority
                            ),
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ServiceProfile {
        serde_json::from_str(
            r#"{"id":"voice","ifcs":[{"priority":0,
                "trigger_point":{"condition_type_cnf":true,"spts":[
                    {"group":[0],"condition":{"method":"INVITE"}},
                    {"group":[1],"condition":{"session_case":"ORIGINATING_REGISTERED"}}]},
                "application_server":{"server_name":"sip:mmtel.ims.example","default_handling":"SESSION_TERMINATED"}}]}"#,
        )
        .unwrap()
    }

    #[test]
    fn json_round_trip_and_validation() {
        let p = sample();
        p.validate().unwrap();
        assert_eq!(
            p.ifcs[0].application_server.default_handling,
            DefaultHandling::SessionTerminated
        );
        let back: ServiceProfile =
            serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
        assert_eq!(back, p);
    }

    #[test]
    fn invalid_profiles_are_rejected() {
        let mut p = sample();
        p.ifcs.push(p.ifcs[0].clone());
        assert!(p.validate().unwrap_err().to_string().contains("priority 0"));
        let mut p = sample();
        p.ifcs[0].priority = -1;
        assert!(p.validate().unwrap_err().to_string().contains("negative"));
        let mut p = sample();
        p.ifcs[0].application_server.server_name = "http://x".into();
        assert!(p.validate().is_err());
        assert!(serde_json::from_str::<ServiceProfile>(r#"{"id":"x","bogus":1}"#).is_err());
    }
}
