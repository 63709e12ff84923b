//! Capabilities exchange (RFC 6733 §5.3): the local node's identity and applications, building
//! CER/CEA/DWR/DWA/DPR/DPA, reading a peer's capabilities and finding common applications (§5.3.5).

use std::net::IpAddr;

use crate::avp::{Avp, AvpSlice};
use crate::avp_code as c;
use crate::command;
use crate::error::{Error, Result};
use crate::message::{Message, FLAG_PROXIABLE};
use crate::result_code as rc;

/// An application advertised in CER/CEA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AppId {
    /// Auth-Application-Id.
    Auth(u32),
    /// Acct-Application-Id.
    Acct(u32),
    /// Vendor-Specific-Application-Id { Vendor-Id, Auth-Application-Id }.
    VendorAuth {
        /// Vendor-Id.
        vendor_id: u32,
        /// Auth-Application-Id.
        app_id: u32,
    },
    /// Vendor-Specific-Application-Id { Vendor-Id, Acct-Application-Id }.
    VendorAcct {
        /// Vendor-Id.
        vendor_id: u32,
        /// Acct-Application-Id.
        app_id: u32,
    },
}

impl AppId {
    /// The application id number.
    pub fn id(&self) -> u32 {
        match *self {
            AppId::Auth(a) | AppId::Acct(a) => a,
            AppId::VendorAuth { app_id, .. } | AppId::VendorAcct { app_id, .. } => app_id,
        }
    }
    /// A vendor-specific auth application (e.g. Cx: `vendor_auth(10415, 16777216)`).
    pub fn vendor_auth(vendor_id: u32, app_id: u32) -> AppId {
        AppId::VendorAuth { vendor_id, app_id }
    }
    fn avp(&self) -> Avp {
        match *self {
            AppId::Auth(a) => Avp::u32(c::AUTH_APPLICATION_ID, a),
            AppId::Acct(a) => Avp::u32(c::ACCT_APPLICATION_ID, a),
            AppId::VendorAuth { vendor_id, app_id } => Avp::grouped(
                c::VENDOR_SPECIFIC_APPLICATION_ID,
                vec![
                    Avp::u32(c::VENDOR_ID, vendor_id),
                    Avp::u32(c::AUTH_APPLICATION_ID, app_id),
                ],
            ),
            AppId::VendorAcct { vendor_id, app_id } => Avp::grouped(
                c::VENDOR_SPECIFIC_APPLICATION_ID,
                vec![
                    Avp::u32(c::VENDOR_ID, vendor_id),
                    Avp::u32(c::ACCT_APPLICATION_ID, app_id),
                ],
            ),
        }
    }
}

/// What this node says about itself in CER/CEA (RFC 6733 §5.3.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalIdentity {
    /// Origin-Host (our DiameterIdentity).
    pub origin_host: String,
    /// Origin-Realm.
    pub origin_realm: String,
    /// Host-IP-Address values (at least one is required; 127.0.0.1 is used when empty).
    pub host_ip_addresses: Vec<IpAddr>,
    /// Vendor-Id (0 = none registered).
    pub vendor_id: u32,
    /// Product-Name.
    pub product_name: String,
    /// Firmware-Revision.
    pub firmware_revision: Option<u32>,
    /// Origin-State-Id (incremented on each restart; RFC 6733 §8.16).
    pub origin_state_id: u32,
    /// Applications we support.
    pub applications: Vec<AppId>,
    /// Supported-Vendor-Id values.
    pub supported_vendor_ids: Vec<u32>,
}

impl Default for LocalIdentity {
    fn default() -> Self {
        LocalIdentity {
            origin_host: "localhost".into(),
            origin_realm: "localdomain".into(),
            host_ip_addresses: vec![],
            vendor_id: 0,
            product_name: "imscore".into(),
            firmware_revision: None,
            origin_state_id: 1,
            applications: vec![],
            supported_vendor_ids: vec![],
        }
    }
}

impl LocalIdentity {
    fn push_origin(&self, m: &mut Message) {
        m.push(Avp::identity(c::ORIGIN_HOST, &self.origin_host));
        m.push(Avp::identity(c::ORIGIN_REALM, &self.origin_realm));
    }

    fn push_caps(&self, m: &mut Message) {
        self.push_origin(m);
        if self.host_ip_addresses.is_empty() {
            m.push(Avp::address(
                c::HOST_IP_ADDRESS,
                IpAddr::from([127, 0, 0, 1]),
            ));
        }
        for ip in &self.host_ip_addresses {
            m.push(Avp::address(c::HOST_IP_ADDRESS, *ip));
        }
        m.push(Avp::u32(c::VENDOR_ID, self.vendor_id));
        m.push(Avp::utf8(c::PRODUCT_NAME, &self.product_name).mandatory(false));
        m.push(Avp::u32(c::ORIGIN_STATE_ID, self.origin_state_id));
        for v in &self.supported_vendor_ids {
            m.push(Avp::u32(c::SUPPORTED_VENDOR_ID, *v));
        }
        for a in &self.applications {
            m.push(a.avp());
        }
        if let Some(f) = self.firmware_revision {
            m.push(Avp::u32(c::FIRMWARE_REVISION, f).mandatory(false));
        }
    }

    /// Capabilities-Exchange-Request (RFC 6733 §5.3.1). Not proxiable.
    pub fn cer(&self) -> Message {
        let mut m = Message::request(command::CAPABILITIES_EXCHANGE, 0);
        m.header.flags &= !FLAG_PROXIABLE;
        self.push_caps(&mut m);
        m
    }

    /// Capabilities-Exchange-Answer (RFC 6733 §5.3.2) with `result`.
    pub fn cea(&self, cer: &Message, result: u32) -> Message {
        let mut m = cer.answer();
        m.push(Avp::u32(c::RESULT_CODE, result));
        self.push_caps(&mut m);
        m
    }

    /// Device-Watchdog-Request (RFC 6733 §5.5.1).
    pub fn dwr(&self) -> Message {
        let mut m = Message::request(command::DEVICE_WATCHDOG, 0);
        m.header.flags &= !FLAG_PROXIABLE;
        self.push_origin(&mut m);
        m.push(Avp::u32(c::ORIGIN_STATE_ID, self.origin_state_id));
        m
    }

    /// Device-Watchdog-Answer (RFC 6733 §5.5.2).
    pub fn dwa(&self, dwr: &Message) -> Message {
        let mut m = dwr.answer();
        m.push(Avp::u32(c::RESULT_CODE, rc::SUCCESS));
        self.push_origin(&mut m);
        m.push(Avp::u32(c::ORIGIN_STATE_ID, self.origin_state_id));
        m
    }

    /// Disconnect-Peer-Request (RFC 6733 §5.4.1) with Disconnect-Cause (0 REBOOTING, 1 BUSY,
    /// 2 DO_NOT_WANT_TO_TALK_TO_YOU).
    pub fn dpr(&self, cause: i32) -> Message {
        let mut m = Message::request(command::DISCONNECT_PEER, 0);
        m.header.flags &= !FLAG_PROXIABLE;
        self.push_origin(&mut m);
        m.push(Avp::enumerated(c::DISCONNECT_CAUSE, cause));
        m
    }

    /// Disconnect-Peer-Answer (RFC 6733 §5.4.2).
    pub fn dpa(&self, dpr: &Message) -> Message {
        let mut m = dpr.answer();
        m.push(Avp::u32(c::RESULT_CODE, rc::SUCCESS));
        self.push_origin(&mut m);
        m
    }

    /// Whether we support application `app` (or are a relay).
    pub fn supports(&self, app: u32) -> bool {
        self.applications
            .iter()
            .any(|a| a.id() == app || a.id() == crate::command::APP_RELAY)
    }
}

/// What a peer advertised in its CER or CEA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerCapabilities {
    /// Origin-Host.
    pub origin_host: String,
    /// Origin-Realm.
    pub origin_realm: String,
    /// Host-IP-Address values.
    pub host_ip_addresses: Vec<IpAddr>,
    /// Vendor-Id.
    pub vendor_id: u32,
    /// Product-Name.
    pub product_name: String,
    /// Application ids (auth, acct, and those inside Vendor-Specific-Application-Id).
    pub applications: Vec<u32>,
}

impl PeerCapabilities {
    /// Read a CER or CEA; missing required AVPs → 5005, malformed → 5014/5004.
    pub fn parse(m: &Message) -> Result<PeerCapabilities> {
        let origin_host = m.require(c::ORIGIN_HOST, 0)?.as_identity()?.to_owned();
        let origin_realm = m.require(c::ORIGIN_REALM, 0)?.as_identity()?.to_owned();
        m.require(c::HOST_IP_ADDRESS, 0)?;
        let mut host_ip_addresses = Vec::new();
        for a in m.find_all(c::HOST_IP_ADDRESS, 0) {
            if let crate::avp::Address::Ip(ip) = a.as_address()? {
                host_ip_addresses.push(ip);
            }
        }
        let vendor_id = m.require(c::VENDOR_ID, 0)?.as_u32()?;
        let product_name = m.require(c::PRODUCT_NAME, 0)?.as_utf8()?.to_owned();
        let mut applications = Vec::new();
        for a in &m.avps {
            match (a.code, a.vendor_id) {
                (c::AUTH_APPLICATION_ID | c::ACCT_APPLICATION_ID, None) => {
                    applications.push(a.as_u32()?)
                }
                (c::VENDOR_SPECIFIC_APPLICATION_ID, None) => {
                    let g = a.as_grouped()?;
                    for id in g
                        .find_all(c::AUTH_APPLICATION_ID, 0)
                        .chain(g.find_all(c::ACCT_APPLICATION_ID, 0))
                    {
                        applications.push(id.as_u32()?);
                    }
                }
                _ => {}
            }
        }
        Ok(PeerCapabilities {
            origin_host,
            origin_realm,
            host_ip_addresses,
            vendor_id,
            product_name,
            applications,
        })
    }

    /// The applications both sides support (RFC 6733 §5.3.5; the relay id 0xffffffff matches all).
    pub fn common_applications(&self, local: &LocalIdentity) -> Vec<u32> {
        let peer_relay = self.applications.contains(&command::APP_RELAY);
        let mut out: Vec<u32> = local
            .applications
            .iter()
            .map(AppId::id)
            .filter(|id| peer_relay || self.applications.contains(id) || *id == command::APP_RELAY)
            .collect();
        if local
            .applications
            .iter()
            .any(|a| a.id() == command::APP_RELAY)
        {
            out.extend(self.applications.iter().copied());
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Err(5010) unless there is a common application.
    pub fn check_common(&self, local: &LocalIdentity) -> Result<Vec<u32>> {
        let common = self.common_applications(local);
        if common.is_empty() {
            Err(Error::NoCommonApplication)
        } else {
            Ok(common)
        }
    }
}
