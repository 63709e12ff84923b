//! Multimedia-Auth-Request/Answer (TS 29.229 §6.1.7, §6.1.8): the S-CSCF asks the HSS for
//! authentication vectors, or for resynchronisation (RAND‖AUTS in SIP-Authorization).

use diameter::Error;

use super::common::*;
use super::grouped::*;
use crate::dictionary::{code, command, def};
use crate::error::CxError;
use crate::wire::{RawAvp, RawExt, Sink};

/// MAR (command 303, R bit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultimediaAuthRequest {
    /// Common request AVPs.
    pub common: RequestCommon,
    /// User-Name: the IMPI.
    pub user_name: String,
    /// Public-Identity: the IMPU.
    pub public_identity: String,
    /// SIP-Auth-Data-Item: the scheme wanted, and RAND‖AUTS for resynchronisation.
    pub sip_auth_data_item: SipAuthDataItem,
    /// SIP-Number-Auth-Items: how many vectors are wanted.
    pub sip_number_auth_items: u32,
    /// Server-Name: the requesting S-CSCF's SIP URI.
    pub server_name: String,
}

super::cx_message!(MultimediaAuthRequest, command::MULTIMEDIA_AUTH, true);

impl MultimediaAuthRequest {
    fn header_flags(&self) -> u8 {
        REQUEST_FLAGS
    }

    pub(crate) fn write<S: Sink>(&self, o: &mut S) {
        request_head(o, &self.common);
        o.str(&b::USER_NAME, &self.user_name);
        o.str(&def::PUBLIC_IDENTITY, &self.public_identity);
        self.sip_auth_data_item.write(o);
        o.u32(&def::SIP_NUMBER_AUTH_ITEMS, self.sip_number_auth_items);
        o.str(&def::SERVER_NAME, &self.server_name);
        request_tail(o, &self.common);
    }

    #[inline(always)]
    pub(crate) fn read<'a>(
        avps: &mut dyn Iterator<Item = Result<RawAvp<'a>, Error>>,
    ) -> Result<Self, CxError> {
        let mut common = RequestCommonDecoder::default();
        let (mut user_name, mut public_identity, mut item, mut number, mut server_name) =
            (None, None, None, None, None);
        for a in avps {
            let a = a?;
            if common.take(&a)? {
                continue;
            }
            match (a.vendor(), a.code) {
                (0, diameter::avp_code::USER_NAME) => once(&mut user_name, &a, a.text()?)?,
                (V, code::PUBLIC_IDENTITY) => once(&mut public_identity, &a, a.text()?)?,
                (V, code::SIP_AUTH_DATA_ITEM) => {
                    once(&mut item, &a, SipAuthDataItem::from_raw(&a)?)?
                }
                (V, code::SIP_NUMBER_AUTH_ITEMS) => once(&mut number, &a, a.u32()?)?,
                (V, code::SERVER_NAME) => once(&mut server_name, &a, a.text()?)?,
                _ => {}
            }
        }
        Ok(Self {
            common: common.finish()?,
            user_name: need(user_name, &b::USER_NAME)?,
            public_identity: need(public_identity, &def::PUBLIC_IDENTITY)?,
            sip_auth_data_item: need(item, &def::SIP_AUTH_DATA_ITEM)?,
            sip_number_auth_items: need(number, &def::SIP_NUMBER_AUTH_ITEMS)?,
            server_name: need(server_name, &def::SERVER_NAME)?,
        })
    }
}

/// MAA (command 303, answer).
#[derive(Debug, Clone, PartialEq)]
pub struct MultimediaAuthAnswer {
    /// Common answer AVPs.
    pub common: AnswerCommon,
    /// User-Name.
    pub user_name: Option<String>,
    /// Public-Identity.
    pub public_identity: Option<String>,
    /// SIP-Number-Auth-Items: how many vectors follow.
    pub sip_number_auth_items: Option<u32>,
    /// SIP-Auth-Data-Item (zero or more): the vectors.
    pub sip_auth_data_items: Vec<SipAuthDataItem>,
}

super::cx_message!(MultimediaAuthAnswer, command::MULTIMEDIA_AUTH, false);

impl MultimediaAuthAnswer {
    fn header_flags(&self) -> u8 {
        answer_flags(self.common.result)
    }

    pub(crate) fn write<S: Sink>(&self, o: &mut S) {
        answer_head(o, &self.common);
        if let Some(u) = &self.user_name {
            o.str(&b::USER_NAME, u);
        }
        if let Some(p) = &self.public_identity {
            o.str(&def::PUBLIC_IDENTITY, p);
        }
        if let Some(n) = self.sip_number_auth_items {
            o.u32(&def::SIP_NUMBER_AUTH_ITEMS, n);
        }
        for item in &self.sip_auth_data_items {
            item.write(o);
        }
        answer_tail(o, &self.common);
    }

    #[inline(always)]
    pub(crate) fn read<'a>(
        avps: &mut dyn Iterator<Item = Result<RawAvp<'a>, Error>>,
    ) -> Result<Self, CxError> {
        let mut common = AnswerCommonDecoder::default();
        let (mut user_name, mut public_identity, mut number) = (None, None, None);
        let mut items = Vec::new();
        for a in avps {
            let a = a?;
            if common.take(&a)? {
                continue;
            }
            match (a.vendor(), a.code) {
                (0, diameter::avp_code::USER_NAME) => once(&mut user_name, &a, a.text()?)?,
                (V, code::PUBLIC_IDENTITY) => once(&mut public_identity, &a, a.text()?)?,
                (V, code::SIP_NUMBER_AUTH_ITEMS) => once(&mut number, &a, a.u32()?)?,
                (V, code::SIP_AUTH_DATA_ITEM) => items.push(SipAuthDataItem::from_raw(&a)?),
                _ => {}
            }
        }
        Ok(Self {
            common: common.finish()?,
            user_name,
            public_identity,
            sip_number_auth_items: number,
            sip_auth_data_items: items,
        })
    }
}
