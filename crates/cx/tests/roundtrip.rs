//! Round trips of every typed Cx message through the Diameter codec, wire facts (flags, vendor ids,
//! command codes) and the error mapping of malformed input.

mod common;

use bytes::Bytes;
use cx::dictionary::{code, command, def, CX_APPLICATION_ID, VENDOR_3GPP};
use cx::*;
use diameter::avp::{FLAG_MANDATORY, FLAG_VENDOR};
use diameter::{avp_code as ac, Avp, AvpSlice, Message, Value};

fn wire(m: &AnyCx) -> Bytes {
    m.to_message().to_bytes()
}

#[test]
fn every_message_round_trips_through_bytes() {
    for sample in common::all() {
        // The direct writer and the Message tree produce the same bytes.
        let mut buf = bytes::BytesMut::new();
        sample.encode(&mut buf);
        let bytes = wire(&sample);
        assert_eq!(&buf[..], &bytes[..], "{sample:?}");
        // The borrowed decoder gets the sample back...
        let decoded = AnyCx::decode(&bytes).unwrap_or_else(|e| panic!("{sample:?}: {e}"));
        assert_eq!(decoded, sample);
        // ...and so does the path through the diameter crate's decoder.
        let msg = Message::decode(bytes.clone()).unwrap();
        assert_eq!(AnyCx::from_message(&msg).unwrap(), sample);
        // ...and reading a locally built Message (no received bytes) too.
        assert_eq!(AnyCx::from_message(&sample.to_message()).unwrap(), sample);
        // Encoding the decoded value gives the same bytes.
        assert_eq!(wire(&decoded), bytes);
    }
}

#[test]
fn typed_decode_matches_each_type() {
    let b = common::mar().to_message().to_bytes();
    assert_eq!(MultimediaAuthRequest::decode(&b).unwrap(), common::mar());
    // The same bytes are not an MAA, a UAR, or any request of another command.
    let e = MultimediaAuthAnswer::decode(&b).unwrap_err();
    assert_eq!(e.result(), CxResult::ResultCode(3001));
    let e = UserAuthorizationRequest::decode(&b).unwrap_err();
    assert!(
        matches!(
            e,
            CxError::UnexpectedCommand {
                expected: 300,
                got: 303,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn headers_carry_command_flags_and_application() {
    let expect = [
        (command::USER_AUTHORIZATION, true),
        (command::USER_AUTHORIZATION, false),
        (command::SERVER_ASSIGNMENT, true),
        (command::SERVER_ASSIGNMENT, false),
        (command::LOCATION_INFO, true),
        (command::LOCATION_INFO, false),
        (command::MULTIMEDIA_AUTH, true),
        (command::MULTIMEDIA_AUTH, false),
        (command::REGISTRATION_TERMINATION, true),
        (command::REGISTRATION_TERMINATION, false),
        (command::PUSH_PROFILE, true),
        (command::PUSH_PROFILE, false),
    ];
    assert_eq!(
        (300, 301, 302, 303, 304, 305),
        (
            command::USER_AUTHORIZATION,
            command::SERVER_ASSIGNMENT,
            command::LOCATION_INFO,
            command::MULTIMEDIA_AUTH,
            command::REGISTRATION_TERMINATION,
            command::PUSH_PROFILE
        )
    );
    for (sample, (cmd, req)) in common::all().iter().zip(expect) {
        let bytes = wire(sample);
        // RFC 6733 §3: version 1, length, flags, command code (24 bit), application id.
        assert_eq!(bytes[0], 1);
        assert_eq!(
            u32::from_be_bytes([0, bytes[1], bytes[2], bytes[3]]) as usize,
            bytes.len()
        );
        assert_eq!(bytes[4] & 0x80 != 0, req, "R bit of {cmd}");
        assert_ne!(bytes[4] & 0x40, 0, "P bit of {cmd}");
        assert_eq!(u32::from_be_bytes([0, bytes[5], bytes[6], bytes[7]]), cmd);
        assert_eq!(
            u32::from_be_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]),
            CX_APPLICATION_ID
        );
        let m = Message::decode(bytes).unwrap();
        // Session-Id first (RFC 6733 §8.8).
        assert_eq!(m.avps[0].code, ac::SESSION_ID);
        let vsai = m
            .require(ac::VENDOR_SPECIFIC_APPLICATION_ID, 0)
            .unwrap()
            .as_grouped()
            .unwrap()
            .into_owned();
        assert_eq!(
            vsai.require(ac::VENDOR_ID, 0).unwrap().as_u32().unwrap(),
            10415
        );
        assert_eq!(
            vsai.require(ac::AUTH_APPLICATION_ID, 0)
                .unwrap()
                .as_u32()
                .unwrap(),
            16_777_216
        );
        assert_eq!(
            m.require(ac::AUTH_SESSION_STATE, 0)
                .unwrap()
                .as_enumerated()
                .unwrap(),
            1
        );
    }
}

#[test]
fn cx_avps_carry_vendor_3gpp_and_the_dictionary_m_bit() {
    let m = common::maa().to_message();
    let bytes = m.to_bytes();
    let m = Message::decode(bytes).unwrap();
    let pi = m.require(code::PUBLIC_IDENTITY, VENDOR_3GPP).unwrap();
    assert_eq!(pi.vendor_id, Some(10415));
    assert_eq!(
        pi.flags & (FLAG_VENDOR | FLAG_MANDATORY),
        FLAG_VENDOR | FLAG_MANDATORY
    );
    let items: Vec<&Avp> = m.find_all(code::SIP_AUTH_DATA_ITEM, VENDOR_3GPP).collect();
    assert_eq!(items.len(), 2);
    let digest_item = items[1].as_grouped().unwrap().into_owned();
    let digest = digest_item
        .require(code::SIP_DIGEST_AUTHENTICATE, VENDOR_3GPP)
        .unwrap();
    // SIP-Digest-Authenticate (635) is V only.
    assert_eq!(digest.flags & (FLAG_VENDOR | FLAG_MANDATORY), FLAG_VENDOR);
    let inner = digest.as_grouped().unwrap().into_owned();
    assert_eq!(
        inner.require(104, 0).unwrap().as_utf8().unwrap(),
        "ims.example"
    );
    // The AKA vector: RAND‖AUTN 32 bytes, XRES with 0x00 bytes kept, CK/IK 16 bytes.
    let aka = items[0].as_grouped().unwrap().into_owned();
    assert_eq!(
        aka.require(code::SIP_AUTHENTICATE, VENDOR_3GPP)
            .unwrap()
            .as_bytes()
            .unwrap()
            .len(),
        32
    );
    assert_eq!(
        aka.require(code::SIP_AUTHORIZATION, VENDOR_3GPP)
            .unwrap()
            .as_bytes()
            .unwrap(),
        &[0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x00]
    );
    assert_eq!(
        aka.require(code::CONFIDENTIALITY_KEY, VENDOR_3GPP)
            .unwrap()
            .as_bytes()
            .unwrap()
            .len(),
        16
    );
    assert_eq!(
        aka.require(code::INTEGRITY_KEY, VENDOR_3GPP)
            .unwrap()
            .as_bytes()
            .unwrap()
            .len(),
        16
    );
}

#[test]
fn experimental_result_is_encoded_as_grouped_with_vendor_3gpp() {
    let m = common::uaa().to_message();
    assert!(m.find(ac::RESULT_CODE, 0).is_none());
    let er = m
        .require(ac::EXPERIMENTAL_RESULT, 0)
        .unwrap()
        .as_grouped()
        .unwrap()
        .into_owned();
    assert_eq!(
        er.require(ac::VENDOR_ID, 0).unwrap().as_u32().unwrap(),
        10415
    );
    assert_eq!(
        er.require(ac::EXPERIMENTAL_RESULT_CODE, 0)
            .unwrap()
            .as_u32()
            .unwrap(),
        2001
    );
    let d = UserAuthorizationAnswer::from_message(&Message::decode(m.to_bytes()).unwrap()).unwrap();
    assert_eq!(
        d.common.result.cx_code(),
        Some(ExperimentalResultCode::FirstRegistration)
    );
    // A base Result-Code stays a Result-Code.
    let m = common::maa().to_message();
    assert_eq!(
        m.require(ac::RESULT_CODE, 0).unwrap().as_u32().unwrap(),
        2001
    );
    assert!(m.find(ac::EXPERIMENTAL_RESULT, 0).is_none());
}

#[test]
fn user_data_in_saa_parses_back_to_the_profile() {
    let saa = ServerAssignmentAnswer::decode(&common::saa().to_message().to_bytes()).unwrap();
    assert_eq!(saa.user_data().unwrap(), Some(common::profile()));
    let ppr = PushProfileRequest::decode(&common::ppr().to_message().to_bytes()).unwrap();
    assert_eq!(ppr.user_data().unwrap(), Some(common::profile()));
    // Garbage User-Data maps to DIAMETER_ERROR_NOT_SUPPORTED_USER_DATA (5009, experimental).
    let mut bad = common::ppr();
    bad.user_data = Some(Bytes::from_static(b"<IMSSubscription><PrivateID>x"));
    let e = bad.user_data().unwrap_err();
    assert_eq!(
        e.result(),
        CxResult::experimental(ExperimentalResultCode::ErrorNotSupportedUserData)
    );
}

#[test]
fn answer_for_request_copies_identifiers() {
    let mut req = common::mar().to_message();
    req.header.hop_by_hop = 0x1122_3344;
    req.header.end_to_end = 0x5566_7788;
    let ans = common::maa().to_answer_for(&req);
    assert_eq!(ans.header.hop_by_hop, 0x1122_3344);
    assert_eq!(ans.header.end_to_end, 0x5566_7788);
    assert!(!ans.is_request());
    assert!(ans.is_proxiable());
}

/// Re-encodes `m` with AVPs changed by `f` and decodes it as an MAR.
fn mar_with(f: impl FnOnce(&mut Vec<Avp>)) -> Result<MultimediaAuthRequest, CxError> {
    let mut m = common::mar().to_message();
    f(&mut m.avps);
    MultimediaAuthRequest::decode(&m.to_bytes())
}

fn failed(e: &CxError) -> (u32, Option<(u32, u32)>) {
    (
        e.result().code(),
        e.failed_avp().map(|a| (a.code, a.vendor_or_zero())),
    )
}

#[test]
fn missing_mandatory_avp_is_5005_with_failed_avp() {
    for (code, vendor) in [
        (code::PUBLIC_IDENTITY, VENDOR_3GPP),
        (code::SERVER_NAME, VENDOR_3GPP),
        (code::SIP_AUTH_DATA_ITEM, VENDOR_3GPP),
        (code::SIP_NUMBER_AUTH_ITEMS, VENDOR_3GPP),
        (ac::USER_NAME, 0),
        (ac::SESSION_ID, 0),
        (ac::ORIGIN_HOST, 0),
        (ac::DESTINATION_REALM, 0),
        (ac::AUTH_SESSION_STATE, 0),
        (ac::VENDOR_SPECIFIC_APPLICATION_ID, 0),
    ] {
        let e = mar_with(|avps| avps.retain(|a| !a.is(code, vendor))).unwrap_err();
        assert_eq!(failed(&e), (5005, Some((code, vendor))), "{code}: {e}");
    }
    // RTR without Destination-Host.
    let mut m = common::rtr().to_message();
    m.avps.retain(|a| a.code != ac::DESTINATION_HOST);
    let e = RegistrationTerminationRequest::decode(&m.to_bytes()).unwrap_err();
    assert_eq!(failed(&e), (5005, Some((ac::DESTINATION_HOST, 0))));
    // An answer with no result at all.
    let mut m = common::maa().to_message();
    m.avps.retain(|a| a.code != ac::RESULT_CODE);
    let e = MultimediaAuthAnswer::decode(&m.to_bytes()).unwrap_err();
    assert!(matches!(e, CxError::MissingResult));
    assert_eq!(e.result().code(), 5005);
}

#[test]
fn wrong_size_value_is_5014_and_bad_utf8_is_5004() {
    let e = mar_with(|avps| {
        for a in avps
            .iter_mut()
            .filter(|a| a.code == code::SIP_NUMBER_AUTH_ITEMS)
        {
            a.value = Value::Bytes(Bytes::from_static(&[0, 1, 2]));
        }
    })
    .unwrap_err();
    assert_eq!(
        failed(&e),
        (5014, Some((code::SIP_NUMBER_AUTH_ITEMS, VENDOR_3GPP))),
        "{e}"
    );
    let e = mar_with(|avps| {
        for a in avps.iter_mut().filter(|a| a.code == code::PUBLIC_IDENTITY) {
            a.value = Value::Bytes(Bytes::from_static(&[b's', 0xff, 0xfe]));
        }
    })
    .unwrap_err();
    assert_eq!(
        failed(&e),
        (5004, Some((code::PUBLIC_IDENTITY, VENDOR_3GPP))),
        "{e}"
    );
    // A Grouped AVP whose content is not AVPs.
    let e = mar_with(|avps| {
        for a in avps
            .iter_mut()
            .filter(|a| a.code == code::SIP_AUTH_DATA_ITEM)
        {
            a.value = Value::Bytes(Bytes::from_static(&[0, 0, 2, 0x5d, 0xc0, 0, 0, 99]));
        }
    })
    .unwrap_err();
    assert_eq!(e.result().code(), 5014, "{e}");
}

#[test]
fn repeated_single_avp_is_5009() {
    let e = mar_with(|avps| avps.push(def::SERVER_NAME.avp("sip:other"))).unwrap_err();
    assert_eq!(
        failed(&e),
        (5009, Some((code::SERVER_NAME, VENDOR_3GPP))),
        "{e}"
    );
}

#[test]
fn wrong_application_is_3007_and_wrong_vsai_is_5004() {
    let mut m = common::mar().to_message();
    m.header.application_id = 4;
    let e = MultimediaAuthRequest::decode(&m.to_bytes()).unwrap_err();
    assert_eq!(e.result(), CxResult::ResultCode(3007));
    let e = mar_with(|avps| {
        for a in avps
            .iter_mut()
            .filter(|a| a.code == ac::VENDOR_SPECIFIC_APPLICATION_ID)
        {
            *a = Avp::grouped(
                a.code,
                vec![
                    Avp::u32(ac::VENDOR_ID, 10415),
                    Avp::u32(ac::AUTH_APPLICATION_ID, 16_777_217),
                ],
            );
        }
    })
    .unwrap_err();
    assert_eq!(
        failed(&e),
        (5004, Some((ac::VENDOR_SPECIFIC_APPLICATION_ID, 0)))
    );
}

#[test]
fn unknown_avps_without_m_bit_are_ignored() {
    let d =
        mar_with(|avps| avps.push(Avp::utf8(9999, "x").vendor(10415).mandatory(false))).unwrap();
    assert_eq!(d, common::mar());
}

#[test]
fn error_answer_carries_result_and_failed_avp() {
    let mut req = common::mar().to_message();
    req.avps.retain(|a| a.code != code::SERVER_NAME);
    req.header.hop_by_hop = 77;
    let e = MultimediaAuthRequest::from_message(&req).unwrap_err();
    let ans = e.to_answer(&req, "hss.ims.example", "ims.example");
    assert!(!ans.is_request());
    assert_eq!(ans.header.hop_by_hop, 77);
    assert_eq!(ans.session_id(), req.session_id());
    assert_eq!(ans.result_code(), Some(5005));
    let failed = ans
        .require(ac::FAILED_AVP, 0)
        .unwrap()
        .as_grouped()
        .unwrap()
        .into_owned();
    assert!(failed.find(code::SERVER_NAME, VENDOR_3GPP).is_some());
    // The S-CSCF can read the error answer as a typed MAA.
    let maa = MultimediaAuthAnswer::from_message(&ans).unwrap();
    assert_eq!(maa.common.result, CxResult::ResultCode(5005));
    assert_eq!(maa.common.failed_avp.len(), 1);
    assert_eq!(maa.common.failed_avp[0].code, code::SERVER_NAME);
    assert!(maa.sip_auth_data_items.is_empty());
    // A relay's protocol error (E bit, no Vendor-Specific-Application-Id, no Auth-Session-State)
    // reads too.
    let relay = req.error_answer(
        &diameter::Error::UnableToDeliver("no route".into()),
        "dra.example",
        "example",
    );
    assert!(relay.is_error() && relay.find(ac::VENDOR_SPECIFIC_APPLICATION_ID, 0).is_none());
    let maa = MultimediaAuthAnswer::decode(&relay.to_bytes()).unwrap();
    assert_eq!(maa.common.result, CxResult::ResultCode(3002));
    // A non-codec error: bad User-Data becomes an Experimental-Result 5009.
    let ans = CxError::UserData("x".into()).to_answer(&req, "hss.ims.example", "ims.example");
    let er = ans
        .require(ac::EXPERIMENTAL_RESULT, 0)
        .unwrap()
        .as_grouped()
        .unwrap()
        .into_owned();
    assert_eq!(
        er.require(ac::EXPERIMENTAL_RESULT_CODE, 0)
            .unwrap()
            .as_u32()
            .unwrap(),
        5009
    );
    assert!(!ans.is_error());
    // A wrong command is a protocol error: E bit.
    let ans = CxError::ApplicationUnsupported(4).to_answer(&req, "hss.ims.example", "ims.example");
    assert!(ans.is_error());
    assert_eq!(ans.result_code(), Some(3007));
}

#[test]
fn dictionary_knows_cx_avps_and_rejects_unknown_mandatory_ones() {
    let dict = cx::dictionary::dictionary();
    for sample in common::all() {
        let m = Message::decode(wire(&sample)).unwrap();
        dict.validate(&m)
            .unwrap_or_else(|e| panic!("{sample:?}: {e}"));
    }
    let looked = dict
        .lookup(code::SERVER_ASSIGNMENT_TYPE, VENDOR_3GPP)
        .unwrap();
    assert_eq!(looked.name, "Server-Assignment-Type");
    // Unknown vendor AVP with M bit → DIAMETER_AVP_UNSUPPORTED (5001).
    let mut m = common::mar().to_message();
    m.push(Avp::utf8(9999, "x").vendor(10415));
    let m = Message::decode(m.to_bytes()).unwrap();
    let e = dict.validate(&m).unwrap_err();
    assert_eq!(e.result_code(), 5001);
    assert_eq!(e.failed_avp().map(|a| a.code), Some(9999));
    // The base dictionary alone does not know Public-Identity: with its M bit that is 5001, which is
    // what registering CX_AVPS prevents.
    let m = Message::decode(common::mar().to_message().to_bytes()).unwrap();
    assert_eq!(
        diameter::Dictionary::base()
            .validate(&m)
            .unwrap_err()
            .result_code(),
        5001
    );
}

#[test]
fn avp_table_has_ts_29_229_codes() {
    let expect = [
        ("Visited-Network-Identifier", 600),
        ("Public-Identity", 601),
        ("Server-Name", 602),
        ("Server-Capabilities", 603),
        ("Mandatory-Capability", 604),
        ("Optional-Capability", 605),
        ("User-Data", 606),
        ("SIP-Number-Auth-Items", 607),
        ("SIP-Authentication-Scheme", 608),
        ("SIP-Authenticate", 609),
        ("SIP-Authorization", 610),
        ("SIP-Authentication-Context", 611),
        ("SIP-Auth-Data-Item", 612),
        ("SIP-Item-Number", 613),
        ("Server-Assignment-Type", 614),
        ("Deregistration-Reason", 615),
        ("Reason-Code", 616),
        ("Reason-Info", 617),
        ("Charging-Information", 618),
        ("User-Authorization-Type", 623),
        ("User-Data-Already-Available", 624),
        ("Confidentiality-Key", 625),
        ("Integrity-Key", 626),
        ("Supported-Features", 628),
        ("Feature-List-ID", 629),
        ("Feature-List", 630),
        ("Associated-Identities", 632),
        ("Originating-Request", 633),
        ("Wildcarded-Public-Identity", 634),
        ("SIP-Digest-Authenticate", 635),
        ("Wildcarded-IMPU", 636),
        ("UAR-Flags", 637),
    ];
    for (name, c) in expect {
        let d = cx::dictionary::lookup_name(name).unwrap_or_else(|| panic!("{name} missing"));
        assert_eq!((d.code, d.vendor_id), (c, 10415), "{name}");
        assert_eq!(cx::dictionary::lookup(10415, c).map(|d| d.name), Some(name));
    }
    assert_eq!(
        cx::dictionary::lookup_name("Digest-HA1").map(|d| (d.code, d.vendor_id)),
        Some((121, 0))
    );
    // No duplicate (vendor, code) in the table.
    let mut seen = std::collections::HashSet::new();
    for d in cx::dictionary::CX_AVPS
        .iter()
        .chain(cx::dictionary::REUSED_AVPS)
    {
        assert!(seen.insert((d.vendor_id, d.code)), "duplicate {}", d.name);
    }
}

#[test]
fn secrets_are_not_in_debug_output() {
    let s = format!("{:?}", common::maa());
    assert!(s.contains("redacted"));
    assert!(!s.contains("0123456789abcdef"), "HA1 leaked: {s}");
    assert!(!s.contains("100, 101, 102"), "CK leaked: {s}");
}

#[test]
fn an_empty_server_capabilities_is_left_out() {
    // Kamailio's cdp drops a message holding an AVP with no data (a member-less grouped AVP)
    let mut uaa = common::uaa();
    uaa.server_capabilities = Some(ServerCapabilities::default());
    let bytes = uaa.to_message().to_bytes();
    let msg = Message::decode(bytes.clone()).unwrap();
    assert!(msg.find(code::SERVER_CAPABILITIES, VENDOR_3GPP).is_none());
    let back = UserAuthorizationAnswer::decode(&bytes).unwrap();
    assert_eq!(back.server_capabilities, None);
    assert_eq!(back.server_name, uaa.server_name);
    // a non-empty one is kept
    let full = common::uaa();
    let back = UserAuthorizationAnswer::decode(&full.to_message().to_bytes()).unwrap();
    assert_eq!(back.server_capabilities, full.server_capabilities);
}
