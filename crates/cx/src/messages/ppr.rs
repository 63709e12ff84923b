//! Push-Profile-Request/Answer (TS 29.229 §6.1.11, §6.1.12): the HSS pushes a changed user profile,
//! charging information or digest data to the S-CSCF.

use bytes::Bytes;
use diameter::Error;

use super::common::*;
use super::grouped::*;
use crate::dictionary::{code, command, def};
use crate::error::CxError;
use crate::user_data::ImsSubscription;
use crate::wire::{RawAvp, RawExt, Sink};

/// PPR (command 305, R bit). Destination-Host is required (the S-CSCF).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushProfileRequest {
    /// Common request AVPs (`destination_host` must be set).
    pub common: RequestCommon,
    /// User-Name: the IMPI.
    pub user_name: String,
    /// User-Data: the new `IMSSubscription` document.
    pub user_data: Option<Bytes>,
    /// Charging-Information.
    pub charging_information: Option<ChargingInformation>,
    /// SIP-Auth-Data-Item (SIP Digest data changed).
    pub sip_auth_data_item: Option<SipAuthDataItem>,
}

impl PushProfileRequest {
    /// Parses the User-Data document, if present (malformed → DIAMETER_ERROR_NOT_SUPPORTED_USER_DATA,
    /// which the S-CSCF answers with in the PPA).
    pub fn user_data(&self) -> Result<Option<ImsSubscription>, CxError> {
        self.user_data
            .as_deref()
            .map(ImsSubscription::from_xml)
            .transpose()
    }
}

super::cx_message!(PushProfileRequest, command::PUSH_PROFILE, true);

impl PushProfileRequest {
    fn header_flags(&self) -> u8 {
        REQUEST_FLAGS
    }

    pub(crate) fn write<S: Sink>(&self, o: &mut S) {
        request_head(o, &self.common);
        o.str(&b::USER_NAME, &self.user_name);
        if let Some(d) = &self.user_data {
            o.bytes(&def::USER_DATA, d);
        }
        if let Some(c) = &self.charging_information {
            c.write(o);
        }
        if let Some(i) = &self.sip_auth_data_item {
            i.write(o);
        }
        request_tail(o, &self.common);
    }

    #[inline(always)]
    pub(crate) fn read<'a>(
        avps: &mut dyn Iterator<Item = Result<RawAvp<'a>, Error>>,
    ) -> Result<Self, CxError> {
        let mut common = RequestCommonDecoder::default();
        let (mut user_name, mut user_data, mut charging, mut item) = (None, None, None, None);
        for a in avps {
            let a = a?;
            if common.take(&a)? {
                continue;
            }
            match (a.vendor(), a.code) {
                (0, diameter::avp_code::USER_NAME) => once(&mut user_name, &a, a.text()?)?,
                (V, code::USER_DATA) => once(&mut user_data, &a, a.octets())?,
                (V, code::CHARGING_INFORMATION) => {
                    once(&mut charging, &a, ChargingInformation::from_raw(&a)?)?
                }
                (V, code::SIP_AUTH_DATA_ITEM) => {
                    once(&mut item, &a, SipAuthDataItem::from_raw(&a)?)?
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
            user_data,
            charging_information: charging,
            sip_auth_data_item: item,
        })
    }
}

/// PPA (command 305, answer).
#[derive(Debug, Clone, PartialEq)]
pub struct PushProfileAnswer {
    /// Common answer AVPs.
    pub common: AnswerCommon,
}

super::cx_message!(PushProfileAnswer, command::PUSH_PROFILE, false);

impl PushProfileAnswer {
    fn header_flags(&self) -> u8 {
        answer_flags(self.common.result)
    }

    pub(crate) fn write<S: Sink>(&self, o: &mut S) {
        answer_head(o, &self.common);
        answer_tail(o, &self.common);
    }

    #[inline(always)]
    pub(crate) fn read<'a>(
        avps: &mut dyn Iterator<Item = Result<RawAvp<'a>, Error>>,
    ) -> Result<Self, CxError> {
        let mut common = AnswerCommonDecoder::default();
        for a in avps {
            let a = a?;
            common.take(&a)?;
        }
        Ok(Self {
            common: common.finish()?,
        })
    }
}
