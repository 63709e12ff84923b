//! Location-Info-Request/Answer (TS 29.229 §6.1.5, §6.1.6): the I-CSCF asks which S-CSCF serves a
//! public identity (terminating requests).

use diameter::Error;

use super::common::*;
use super::grouped::*;
use crate::dictionary::{code, command, def};
use crate::enums::{OriginatingRequest, SessionPriority, UserAuthorizationType};
use crate::error::CxError;
use crate::wire::{RawAvp, RawExt, Sink};

/// LIR (command 302, R bit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocationInfoRequest {
    /// Common request AVPs.
    pub common: RequestCommon,
    /// Originating-Request: the I-CSCF acts for an originating request.
    pub originating_request: Option<OriginatingRequest>,
    /// Public-Identity.
    pub public_identity: String,
    /// User-Authorization-Type (REGISTRATION_AND_CAPABILITIES asks for capabilities).
    pub user_authorization_type: Option<UserAuthorizationType>,
    /// Session-Priority.
    pub session_priority: Option<SessionPriority>,
}

super::cx_message!(LocationInfoRequest, command::LOCATION_INFO, true);

impl LocationInfoRequest {
    fn header_flags(&self) -> u8 {
        REQUEST_FLAGS
    }

    pub(crate) fn write<S: Sink>(&self, o: &mut S) {
        request_head(o, &self.common);
        if let Some(v) = self.originating_request {
            o.i32(&def::ORIGINATING_REQUEST, v.value());
        }
        o.str(&def::PUBLIC_IDENTITY, &self.public_identity);
        if let Some(t) = self.user_authorization_type {
            o.i32(&def::USER_AUTHORIZATION_TYPE, t.value());
        }
        if let Some(p) = self.session_priority {
            o.i32(&def::SESSION_PRIORITY, p.value());
        }
        request_tail(o, &self.common);
    }

    #[inline(always)]
    pub(crate) fn read<'a>(
        avps: &mut dyn Iterator<Item = Result<RawAvp<'a>, Error>>,
    ) -> Result<Self, CxError> {
        let mut common = RequestCommonDecoder::default();
        let (mut orig, mut public_identity, mut uat, mut prio) = (None, None, None, None);
        for a in avps {
            let a = a?;
            if common.take(&a)? {
                continue;
            }
            match (a.vendor(), a.code) {
                (V, code::ORIGINATING_REQUEST) => once(&mut orig, &a, a.enumerated()?)?,
                (V, code::PUBLIC_IDENTITY) => once(&mut public_identity, &a, a.text()?)?,
                (V, code::USER_AUTHORIZATION_TYPE) => once(&mut uat, &a, a.enumerated()?)?,
                (V, code::SESSION_PRIORITY) => once(&mut prio, &a, a.enumerated()?)?,
                _ => {}
            }
        }
        Ok(Self {
            common: common.finish()?,
            originating_request: orig,
            public_identity: need(public_identity, &def::PUBLIC_IDENTITY)?,
            user_authorization_type: uat,
            session_priority: prio,
        })
    }
}

/// LIA (command 302, answer).
#[derive(Debug, Clone, PartialEq)]
pub struct LocationInfoAnswer {
    /// Common answer AVPs.
    pub common: AnswerCommon,
    /// Server-Name: the serving S-CSCF.
    pub server_name: Option<String>,
    /// Server-Capabilities (no S-CSCF assigned yet).
    pub server_capabilities: Option<ServerCapabilities>,
    /// Wildcarded-Public-Identity.
    pub wildcarded_public_identity: Option<String>,
    /// Wildcarded-IMPU.
    pub wildcarded_impu: Option<String>,
    /// LIA-Flags.
    pub lia_flags: Option<u32>,
}

super::cx_message!(LocationInfoAnswer, command::LOCATION_INFO, false);

impl LocationInfoAnswer {
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
        if let Some(w) = &self.wildcarded_public_identity {
            o.str(&def::WILDCARDED_PUBLIC_IDENTITY, w);
        }
        if let Some(w) = &self.wildcarded_impu {
            o.str(&def::WILDCARDED_IMPU, w);
        }
        if let Some(f) = self.lia_flags {
            o.u32(&def::LIA_FLAGS, f);
        }
        answer_tail(o, &self.common);
    }

    #[inline(always)]
    pub(crate) fn read<'a>(
        avps: &mut dyn Iterator<Item = Result<RawAvp<'a>, Error>>,
    ) -> Result<Self, CxError> {
        let mut common = AnswerCommonDecoder::default();
        let (mut server_name, mut caps, mut wpi, mut wimpu, mut flags) =
            (None, None, None, None, None);
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
                (V, code::WILDCARDED_PUBLIC_IDENTITY) => once(&mut wpi, &a, a.text()?)?,
                (V, code::WILDCARDED_IMPU) => once(&mut wimpu, &a, a.text()?)?,
                (V, code::LIA_FLAGS) => once(&mut flags, &a, a.u32()?)?,
                _ => {}
            }
        }
        Ok(Self {
            common: common.finish()?,
            server_name,
            // an empty one says no more than an absent one, and is never written (see
            // `ServerCapabilities::write`): decoded as absent, so decode ∘ encode is the identity
            server_capabilities: caps.filter(|c: &ServerCapabilities| !c.is_empty()),
            wildcarded_public_identity: wpi,
            wildcarded_impu: wimpu,
            lia_flags: flags,
        })
    }
}
