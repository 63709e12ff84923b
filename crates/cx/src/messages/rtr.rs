//! Registration-Termination-Request/Answer (TS 29.229 §6.1.9, §6.1.10): the HSS de-registers
//! identities at the S-CSCF (network-initiated de-registration).

use diameter::Error;

use super::common::*;
use super::grouped::*;
use crate::dictionary::{code, command, def};
use crate::error::CxError;
use crate::wire::{RawAvp, RawExt, Sink};

/// RTR (command 304, R bit). Destination-Host is required (the S-CSCF).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationTerminationRequest {
    /// Common request AVPs (`destination_host` must be set).
    pub common: RequestCommon,
    /// User-Name: the IMPI.
    pub user_name: String,
    /// Associated-Identities: further IMPIs to de-register.
    pub associated_identities: Option<Vec<String>>,
    /// Public-Identity (zero or more; none means all of the IMPI's).
    pub public_identities: Vec<String>,
    /// Deregistration-Reason.
    pub deregistration_reason: DeregistrationReason,
}

super::cx_message!(
    RegistrationTerminationRequest,
    command::REGISTRATION_TERMINATION,
    true
);

impl RegistrationTerminationRequest {
    fn header_flags(&self) -> u8 {
        REQUEST_FLAGS
    }

    pub(crate) fn write<S: Sink>(&self, o: &mut S) {
        request_head(o, &self.common);
        o.str(&b::USER_NAME, &self.user_name);
        if let Some(ids) = &self.associated_identities {
            write_identities(o, &def::ASSOCIATED_IDENTITIES, ids);
        }
        for p in &self.public_identities {
            o.str(&def::PUBLIC_IDENTITY, p);
        }
        self.deregistration_reason.write(o);
        request_tail(o, &self.common);
    }

    #[inline(always)]
    pub(crate) fn read<'a>(
        avps: &mut dyn Iterator<Item = Result<RawAvp<'a>, Error>>,
    ) -> Result<Self, CxError> {
        let mut common = RequestCommonDecoder::default();
        let (mut user_name, mut assoc, mut reason) = (None, None, None);
        let mut public_identities = Vec::new();
        for a in avps {
            let a = a?;
            if common.take(&a)? {
                continue;
            }
            match (a.vendor(), a.code) {
                (0, diameter::avp_code::USER_NAME) => once(&mut user_name, &a, a.text()?)?,
                (V, code::ASSOCIATED_IDENTITIES) => once(&mut assoc, &a, identities_from_raw(&a)?)?,
                (V, code::PUBLIC_IDENTITY) => public_identities.push(a.text()?),
                (V, code::DEREGISTRATION_REASON) => {
                    once(&mut reason, &a, DeregistrationReason::from_raw(&a)?)?
                }
                _ => {}
            }
        }
        let common = common.finish()?;
        if common.destination_host.is_none() {
            return Err(missing(&b::DESTINATION_HOST).into());
        }
        Ok(Self {
            common,
            user_name: need(user_name, &b::USER_NAME)?,
            associated_identities: assoc,
            public_identities,
            deregistration_reason: need(reason, &def::DEREGISTRATION_REASON)?,
        })
    }
}

/// RTA (command 304, answer).
#[derive(Debug, Clone, PartialEq)]
pub struct RegistrationTerminationAnswer {
    /// Common answer AVPs.
    pub common: AnswerCommon,
    /// Associated-Identities: the IMPIs actually de-registered.
    pub associated_identities: Option<Vec<String>>,
}

super::cx_message!(
    RegistrationTerminationAnswer,
    command::REGISTRATION_TERMINATION,
    false
);

impl RegistrationTerminationAnswer {
    fn header_flags(&self) -> u8 {
        answer_flags(self.common.result)
    }

    pub(crate) fn write<S: Sink>(&self, o: &mut S) {
        answer_head(o, &self.common);
        if let Some(ids) = &self.associated_identities {
            write_identities(o, &def::ASSOCIATED_IDENTITIES, ids);
        }
        answer_tail(o, &self.common);
    }

    #[inline(always)]
    pub(crate) fn read<'a>(
        avps: &mut dyn Iterator<Item = Result<RawAvp<'a>, Error>>,
    ) -> Result<Self, CxError> {
        let mut common = AnswerCommonDecoder::default();
        let mut assoc = None;
        for a in avps {
            let a = a?;
            if common.take(&a)? {
                continue;
            }
            if (a.vendor(), a.code) == (V, code::ASSOCIATED_IDENTITIES) {
                once(&mut assoc, &a, identities_from_raw(&a)?)?;
            }
        }
        Ok(Self {
            common: common.finish()?,
            associated_identities: assoc,
        })
    }
}
