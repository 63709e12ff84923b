//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use diameter::avp_code as c;
use diameter::{
    result_code as rc, AppId, Avp, EngineConfig, LocalIdentity, Message, NodeConfig, PeerConfig,
    Timers, APP_CX, VENDOR_3GPP,
};

pub fn cx_apps() -> Vec<AppId> {
    vec![AppId::vendor_auth(VENDOR_3GPP, APP_CX)]
}

pub fn node_cfg(host: &str, realm: &str, listen: bool, peers: Vec<PeerConfig>) -> NodeConfig {
    NodeConfig {
        listen: listen.then(|| SocketAddr::from(([127, 0, 0, 1], 0))),
        engine: EngineConfig {
            local: LocalIdentity {
                origin_host: host.into(),
                origin_realm: realm.into(),
                host_ip_addresses: vec!["127.0.0.1".parse().unwrap()],
                applications: cx_apps(),
                supported_vendor_ids: vec![VENDOR_3GPP],
                ..LocalIdentity::default()
            },
            peers,
            timers: Timers {
                reconnect_min: Duration::from_millis(100),
                ..Timers::default()
            },
            request_timeout: Duration::from_secs(5),
            ..EngineConfig::default()
        },
        ..NodeConfig::default()
    }
}

/// A Cx-shaped Multimedia-Auth-Request built from raw AVPs (TS 29.229 §6.1.7; codes from TS 29.229 §6.3).
pub fn raw_mar(origin: &str, realm: &str, dest_realm: &str) -> Message {
    Message::request(303, APP_CX)
        .with(Avp::utf8(c::SESSION_ID, &format!("{origin};1;42")))
        .with(Avp::grouped(
            c::VENDOR_SPECIFIC_APPLICATION_ID,
            vec![
                Avp::u32(c::VENDOR_ID, VENDOR_3GPP),
                Avp::u32(c::AUTH_APPLICATION_ID, APP_CX),
            ],
        ))
        .with(Avp::enumerated(c::AUTH_SESSION_STATE, 1))
        .with(Avp::identity(c::ORIGIN_HOST, origin))
        .with(Avp::identity(c::ORIGIN_REALM, realm))
        .with(Avp::identity(c::DESTINATION_REALM, dest_realm))
        .with(Avp::utf8(c::USER_NAME, "alice@ims.example"))
        .with(Avp::utf8(601, "sip:alice@ims.example").vendor(VENDOR_3GPP)) // Public-Identity
        .with(Avp::u32(607, 1).vendor(VENDOR_3GPP)) // SIP-Number-Auth-Items
        .with(
            Avp::grouped(
                612,                                                          // SIP-Auth-Data-Item
                vec![Avp::utf8(608, "Digest-AKAv1-MD5").vendor(VENDOR_3GPP)], // SIP-Authentication-Scheme
            )
            .vendor(VENDOR_3GPP),
        )
        .with(Avp::utf8(602, "sip:scscf.ims.example").vendor(VENDOR_3GPP)) // Server-Name
}

/// The Cx AVPs used by `raw_mar`, so the test servers' dictionaries accept them.
pub static CX_TEST_AVPS: &[diameter::AvpDef] = &[
    diameter::AvpDef::new(
        601,
        VENDOR_3GPP,
        "Public-Identity",
        diameter::AvpType::Utf8String,
        true,
    ),
    diameter::AvpDef::new(
        602,
        VENDOR_3GPP,
        "Server-Name",
        diameter::AvpType::Utf8String,
        true,
    ),
    diameter::AvpDef::new(
        607,
        VENDOR_3GPP,
        "SIP-Number-Auth-Items",
        diameter::AvpType::Unsigned32,
        true,
    ),
    diameter::AvpDef::new(
        608,
        VENDOR_3GPP,
        "SIP-Authentication-Scheme",
        diameter::AvpType::Utf8String,
        true,
    ),
    diameter::AvpDef::new(
        612,
        VENDOR_3GPP,
        "SIP-Auth-Data-Item",
        diameter::AvpType::Grouped,
        true,
    ),
];

/// A handler answering success and echoing the Public-Identity.
pub async fn echo_handler(req: Message) -> Message {
    let mut a = req.answer();
    a.push(Avp::u32(c::RESULT_CODE, rc::SUCCESS));
    if let Some(p) = req.find(601, VENDOR_3GPP) {
        a.push(p.clone());
    }
    a
}
