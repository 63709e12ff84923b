//! User-Authorization-Request/Answer (TS 29.229 §6.1.1, §6.1.2): the I-CSCF asks the HSS whether
//! the user may register and which S-CSCF serves (or can serve) them.

use bytes::Bytes;
use diameter::Error;

use super::common::*;
use super::grouped::*;
use crate::dictionary::{code, command, def};
use crate::enums::UserAuthorizationType;
use crate::error::CxError;
use crate::wire::{RawAvp, RawExt, Sink};

/// UAR (command 300, R bit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserAuthorizationRequest {
    /// Common request AVPs.
    pub common: RequestCommon,
    /// User-Name: the IMPI.
    pub user_name: String,
    /// Public-Identity: the IMPU being registered.
    pub public_identity: String,
    /// Visited-Network-Identifier (from P-Visited-Network-ID).
    pub visited_network_identifier: Bytes,
    /// User-Authorization-Type (absent means REGISTRATION).
    pub user_authorization_type: Option<UserAuthorizationType>,
    /// UAR-Flags (bit 0: IMS emergency registration).
    pub uar_flags: Option<u32>,
}

super::cx_message!(UserAuthorizationRequest, command::USER_AUTHORIZATION, true);

impl UserAuthorizationRequest {
    fn header_flags(&self) -> u8 {
        REQUEST_FLAGS
    }

    pub(crate) fn write<S: Sink>(&self, o: &mut S) {
        request_head(o, &self.common);
        o.str(&b::USER_NAME, &self.user_name);
        o.str(&def::PUBLIC_IDENTITY, &self.public_identity);
        o.bytes(
            &def::VISITED_NETWORK_IDENTIFIER,
            &self.visited_network_identifier,
        );
        if let Some(t) = self.user_authorization_type {
            o.i32(&def::USER_AUTHORIZATION_TYPE, t.value());
        }
        if let Some(f) = self.uar_flags {
            o.u32(&def::UAR_FLAGS, f);
        }
        request_tail(o, &self.common);
    }

    #[inline(always)]
    pub(crate) fn read<'a>(
        avps: &mut dyn Iterator<Item = Result<RawAvp<'a>, Error>>,
    ) -> Result<Self, CxError> {
        let mut common = RequestCommonDecoder::default();
        let (mut user_name, mut public_identity, mut vni, mut uat, mut flags) =
            (None, None, None, None, None);
        for a in avps {
            let a = a?;
            if common.take(&a)? {
                continue;
            }
            match (a.vendor(), a.code) {
                (0, diameter::avp_code::USER_NAME) => once(&mut user_name, &a, a.text()?)?,
                (V, code::PUBLIC_IDENTITY) => once(&mut public_identity, &a, a.text()?)?,
                (V, code::VISITED_NETWORK_IDENTIFIER) => once(&mut vni, &a, a.octets())?,
                (V, code::USER_AUTHORIZATION_TYPE) => once(&mut uat, &a, a.enumerated()?)?,
                (V, code::UAR_FLAGS) => once(&mut flags, &a, a.u32()?)?,
                _ => {}
            }
        }
        Ok(Self {
            common: common.finish()?,
            user_name: need(user_name, &b::USER_NAME)?,
            public_identity: need(public_identity, &def::PUBLIC_IDENTITY)?,
            visited_network_identifier: need(vni, &def::VISITED_NETWORK_IDENTIFIER)?,
            user_authorization_type: uat,
            uar_flags: flags,
        })
    }
}

/// UAA (command 300, answer).
#[derive(Debug, Clone, PartialEq)]
pub struct UserAuthorizationAnswer {
    /// Common answer AVPs (result: DIAMETER_FIRST_REGISTRATION, DIAMETER_SUBSEQUENT_REGISTRATION,
    /// DIAMETER_ERROR_USER_UNKNOWN, …).
    pub common: AnswerCommon,
    /// Server-Name: the S-CSCF already assigned.
    pub server_name: Option<String>,
    /// Server-Capabilities: what the I-CSCF needs to pick an S-CSCF.
    pub server_capabilities: Option<ServerCapabilities>,
}

super::cx_message!(UserAuthorizationAnswer, command::USER_AUTHORIZATION, false);

impl UserAuthorizationAnswer {
    fn header_flags(&self) -> u8 {
        answer_flags(self.common.result)
    }

    pub(crate) fn write<S: Sink>(&self, o: &mut S) {
        answer_head(o, &self.common);
        if let Some(s) = &self.server_name {
            o.str(&def::SERVER_NAME, s);
        }
        if let Some(c) = &self.server_capabilities {
            c.write(o);
        }
        answer_tail(o, &self.common);
    }

    #[inline(always)]
    pub(crate) fn read<'a>(
        avps: &mut dyn Iterator<Item = Result<RawAvp<'a>, Error>>,
    ) -> Result<Self, CxError> {
        let mut common = AnswerCommonDecoder::default();
        let (mut server_name, mut caps) = (None, None);
        for a in avps {
            let a = a?;
            if common.take(&a)? {
                continue;
            }
            match (a.vendor(), a.code) {
                (V, code::SERVER_NAME) => once(&mut server_name, &a, a.text()?)?,
                (V, code::SERVER_CAPABILITIES) => {
                    once(&mut caps, &a, ServerCapabilities::from_raw(&a)?)?
                }
                _ => {}
            }
        }
        Ok(Self {
            common: common.finish()?,
            server_name,
            // an empty one says no more than an absent one, and is never written (see
            // `ServerCapabilities::write`): decoded as absent, so decode ∘ encode is the identity
            server_capabilities: caps.filter(|c: &ServerCapabilities| !c.is_empty()),
        })
    }
}
