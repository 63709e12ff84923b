//! Server-Assignment-Request/Answer (TS 29.229 §6.1.3, §6.1.4): the S-CSCF tells the HSS it serves
//! (or stops serving) the user; the HSS answers with the user profile (User-Data).

use bytes::Bytes;
use diameter::Error;

use super::common::*;
use super::grouped::*;
use crate::dictionary::{code, command, def};
use crate::enums::{
    LooseRouteIndication, MultipleRegistrationIndication, PriviledgedSenderIndication,
    ServerAssignmentType, SessionPriority, UserDataAlreadyAvailable,
};
use crate::error::CxError;
use crate::user_data::ImsSubscription;
use crate::wire::{RawAvp, RawExt, Sink};

/// SAR (command 301, R bit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerAssignmentRequest {
    /// Common request AVPs.
    pub common: RequestCommon,
    /// User-Name: the IMPI (absent for an unregistered user's terminating request).
    pub user_name: Option<String>,
    /// Public-Identity (zero or more).
    pub public_identities: Vec<String>,
    /// Wildcarded-Public-Identity.
    pub wildcarded_public_identity: Option<String>,
    /// Wildcarded-IMPU.
    pub wildcarded_impu: Option<String>,
    /// Server-Name: the S-CSCF's SIP URI.
    pub server_name: String,
    /// Server-Assignment-Type.
    pub server_assignment_type: ServerAssignmentType,
    /// User-Data-Already-Available.
    pub user_data_already_available: UserDataAlreadyAvailable,
    /// Multiple-Registration-Indication.
    pub multiple_registration_indication: Option<MultipleRegistrationIndication>,
    /// Session-Priority.
    pub session_priority: Option<SessionPriority>,
    /// SAR-Flags.
    pub sar_flags: Option<u32>,
}

super::cx_message!(ServerAssignmentRequest, command::SERVER_ASSIGNMENT, true);

impl ServerAssignmentRequest {
    fn header_flags(&self) -> u8 {
        REQUEST_FLAGS
    }

    pub(crate) fn write<S: Sink>(&self, o: &mut S) {
        request_head(o, &self.common);
        if let Some(u) = &self.user_name {
            o.str(&b::USER_NAME, u);
        }
        for p in &self.public_identities {
            o.str(&def::PUBLIC_IDENTITY, p);
        }
        if let Some(w) = &self.wildcarded_public_identity {
            o.str(&def::WILDCARDED_PUBLIC_IDENTITY, w);
        }
        if let Some(w) = &self.wildcarded_impu {
            o.str(&def::WILDCARDED_IMPU, w);
        }
        o.str(&def::SERVER_NAME, &self.server_name);
        o.i32(
            &def::SERVER_ASSIGNMENT_TYPE,
            self.server_assignment_type.value(),
        );
        o.i32(
            &def::USER_DATA_ALREADY_AVAILABLE,
            self.user_data_already_available.value(),
        );
        if let Some(v) = self.multiple_registration_indication {
            o.i32(&def::MULTIPLE_REGISTRATION_INDICATION, v.value());
        }
        if let Some(v) = self.session_priority {
            o.i32(&def::SESSION_PRIORITY, v.value());
        }
        if let Some(v) = self.sar_flags {
            o.u32(&def::SAR_FLAGS, v);
        }
        request_tail(o, &self.common);
    }

    #[inline(always)]
    pub(crate) fn read<'a>(
        avps: &mut dyn Iterator<Item = Result<RawAvp<'a>, Error>>,
    ) -> Result<Self, CxError> {
        let mut common = RequestCommonDecoder::default();
        let mut public_identities = Vec::new();
        let (
            mut user_name,
            mut wpi,
            mut wimpu,
            mut server_name,
            mut sat,
            mut udaa,
            mut mri,
            mut prio,
            mut flags,
        ) = (None, None, None, None, None, None, None, None, None);
        for a in avps {
            let a = a?;
            if common.take(&a)? {
                continue;
            }
            match (a.vendor(), a.code) {
                (0, diameter::avp_code::USER_NAME) => once(&mut user_name, &a, a.text()?)?,
                (V, code::PUBLIC_IDENTITY) => public_identities.push(a.text()?),
                (V, code::WILDCARDED_PUBLIC_IDENTITY) => once(&mut wpi, &a, a.text()?)?,
                (V, code::WILDCARDED_IMPU) => once(&mut wimpu, &a, a.text()?)?,
                (V, code::SERVER_NAME) => once(&mut server_name, &a, a.text()?)?,
                (V, code::SERVER_ASSIGNMENT_TYPE) => once(&mut sat, &a, a.enumerated()?)?,
                (V, code::USER_DATA_ALREADY_AVAILABLE) => once(&mut udaa, &a, a.enumerated()?)?,
                (V, code::MULTIPLE_REGISTRATION_INDICATION) => once(&mut mri, &a, a.enumerated()?)?,
                (V, code::SESSION_PRIORITY) => once(&mut prio, &a, a.enumerated()?)?,
                (V, code::SAR_FLAGS) => once(&mut flags, &a, a.u32()?)?,
                _ => {}
            }
        }
        Ok(Self {
            common: common.finish()?,
            user_name,
            public_identities,
            wildcarded_public_identity: wpi,
            wildcarded_impu: wimpu,
            server_name: need(server_name, &def::SERVER_NAME)?,
            server_assignment_type: need(sat, &def::SERVER_ASSIGNMENT_TYPE)?,
            user_data_already_available: need(udaa, &def::USER_DATA_ALREADY_AVAILABLE)?,
            multiple_registration_indication: mri,
            session_priority: prio,
            sar_flags: flags,
        })
    }
}

/// SAA (command 301, answer).
#[derive(Debug, Clone, PartialEq)]
pub struct ServerAssignmentAnswer {
    /// Common answer AVPs.
    pub common: AnswerCommon,
    /// User-Name.
    pub user_name: Option<String>,
    /// User-Data: the `IMSSubscription` XML document (see [`ServerAssignmentAnswer::user_data`]).
    pub user_data: Option<Bytes>,
    /// Charging-Information.
    pub charging_information: Option<ChargingInformation>,
    /// Associated-Identities: the IMPIs sharing the IMS subscription.
    pub associated_identities: Option<Vec<String>>,
    /// Loose-Route-Indication.
    pub loose_route_indication: Option<LooseRouteIndication>,
    /// Associated-Registered-Identities: IMPIs registered with the same IMPU.
    pub associated_registered_identities: Option<Vec<String>>,
    /// Server-Name (when the HSS refuses because another S-CSCF is assigned).
    pub server_name: Option<String>,
    /// Wildcarded-Public-Identity.
    pub wildcarded_public_identity: Option<String>,
    /// Wildcarded-IMPU.
    pub wildcarded_impu: Option<String>,
    /// Priviledged-Sender-Indication.
    pub priviledged_sender_indication: Option<PriviledgedSenderIndication>,
}

impl ServerAssignmentAnswer {
    /// An answer with only the common part filled.
    pub fn new(common: AnswerCommon) -> Self {
        Self {
            common,
            user_name: None,
            user_data: None,
            charging_information: None,
            associated_identities: None,
            loose_route_indication: None,
            associated_registered_identities: None,
            server_name: None,
            wildcarded_public_identity: None,
            wildcarded_impu: None,
            priviledged_sender_indication: None,
        }
    }

    /// Parses the User-Data document, if present (malformed → DIAMETER_ERROR_NOT_SUPPORTED_USER_DATA).
    pub fn user_data(&self) -> Result<Option<ImsSubscription>, CxError> {
        self.user_data
            .as_deref()
            .map(ImsSubscription::from_xml)
            .transpose()
    }

    /// Serialises `profile` into the User-Data AVP.
    pub fn set_user_data(&mut self, profile: &ImsSubscription) -> Result<(), CxError> {
        self.user_data = Some(Bytes::from(profile.to_xml()?));
        Ok(())
    }
}

super::cx_message!(ServerAssignmentAnswer, command::SERVER_ASSIGNMENT, false);

impl ServerAssignmentAnswer {
    fn header_flags(&self) -> u8 {
        answer_flags(self.common.result)
    }

    pub(crate) fn write<S: Sink>(&self, o: &mut S) {
        answer_head(o, &self.common);
        if let Some(u) = &self.user_name {
            o.str(&b::USER_NAME, u);
        }
        if let Some(d) = &self.user_data {
            o.bytes(&def::USER_DATA, d);
        }
        if let Some(c) = &self.charging_information {
            c.write(o);
        }
        if let Some(ids) = &self.associated_identities {
            write_identities(o, &def::ASSOCIATED_IDENTITIES, ids);
        }
        if let Some(v) = self.loose_route_indication {
            o.i32(&def::LOOSE_ROUTE_INDICATION, v.value());
        }
        if let Some(ids) = &self.associated_registered_identities {
            write_identities(o, &def::ASSOCIATED_REGISTERED_IDENTITIES, ids);
        }
        if let Some(s) = &self.server_name {
            o.str(&def::SERVER_NAME, s);
        }
        if let Some(w) = &self.wildcarded_public_identity {
            o.str(&def::WILDCARDED_PUBLIC_IDENTITY, w);
        }
        if let Some(w) = &self.wildcarded_impu {
            o.str(&def::WILDCARDED_IMPU, w);
        }
        if let Some(v) = self.priviledged_sender_indication {
            o.i32(&def::PRIVILEDGED_SENDER_INDICATION, v.value());
        }
        answer_tail(o, &self.common);
    }

    #[inline(always)]
    pub(crate) fn read<'a>(
        avps: &mut dyn Iterator<Item = Result<RawAvp<'a>, Error>>,
    ) -> Result<Self, CxError> {
        let mut common = AnswerCommonDecoder::default();
        let mut out = Self::new(crate::messages::common::AnswerCommon::new(
            String::default(),
            String::default(),
            String::default(),
            crate::result::CxResult::SUCCESS,
        ));
        for a in avps {
            let a = a?;
            if common.take(&a)? {
                continue;
            }
            match (a.vendor(), a.code) {
                (0, diameter::avp_code::USER_NAME) => once(&mut out.user_name, &a, a.text()?)?,
                (V, code::USER_DATA) => once(&mut out.user_data, &a, a.octets())?,
                (V, code::CHARGING_INFORMATION) => once(
                    &mut out.charging_information,
                    &a,
                    ChargingInformation::from_raw(&a)?,
                )?,
                (V, code::ASSOCIATED_IDENTITIES) => {
                    once(&mut out.associated_identities, &a, identities_from_raw(&a)?)?
                }
                (V, code::LOOSE_ROUTE_INDICATION) => {
                    once(&mut out.loose_route_indication, &a, a.enumerated()?)?
                }
                (V, code::ASSOCIATED_REGISTERED_IDENTITIES) => once(
                    &mut out.associated_registered_identities,
                    &a,
                    identities_from_raw(&a)?,
                )?,
                (V, code::SERVER_NAME) => once(&mut out.server_name, &a, a.text()?)?,
                (V, code::WILDCARDED_PUBLIC_IDENTITY) => {
                    once(&mut out.wildcarded_public_identity, &a, a.text()?)?
                }
                (V, code::WILDCARDED_IMPU) => once(&mut out.wildcarded_impu, &a, a.text()?)?,
                (V, code::PRIVILEDGED_SENDER_INDICATION) => {
                    once(&mut out.priviledged_sender_indication, &a, a.enumerated()?)?
                }
                _ => {}
            }
        }
        out.common = common.finish()?;
        Ok(out)
    }
}
