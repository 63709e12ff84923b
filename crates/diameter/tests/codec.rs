//! Codec round trips and bad-input handling (RFC 6733 §3, §4, §7.5).

use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};
use diameter::avp::{FLAG_MANDATORY, FLAG_VENDOR};
use diameter::message::{FLAG_ERROR, FLAG_PROXIABLE, FLAG_REQUEST};
use diameter::{
    avp_code as c, command, result_code as rc, Address, Avp, AvpSlice, Dictionary, Error, Message,
    Time, Value,
};

fn sample() -> Message {
    let mut m = Message::request(command::CAPABILITIES_EXCHANGE, 0);
    m.header.hop_by_hop = 0x1122_3344;
    m.header.end_to_end = 0x5566_7788;
    m.push(Avp::identity(c::ORIGIN_HOST, "a.example"))
        .push(Avp::identity(c::ORIGIN_REALM, "example"))
        .push(Avp::address(
            c::HOST_IP_ADDRESS,
            "127.0.0.1".parse().unwrap(),
        ))
        .push(Avp::address(c::HOST_IP_ADDRESS, "::1".parse().unwrap()))
        .push(Avp::u32(c::VENDOR_ID, 0))
        .push(Avp::utf8(c::PRODUCT_NAME, "imscore").mandatory(false))
        .push(Avp::grouped(
            c::VENDOR_SPECIFIC_APPLICATION_ID,
            vec![
                Avp::u32(c::VENDOR_ID, 10415),
                Avp::u32(c::AUTH_APPLICATION_ID, 16777216),
            ],
        ))
        .push(Avp::u64(c::ACCOUNTING_SUB_SESSION_ID, u64::MAX - 1))
        .push(Avp::i32(9999, -5).mandatory(false))
        .push(Avp::i64(9998, i64::MIN).mandatory(false))
        .push(Avp::f32(9997, 1.5).mandatory(false))
        .push(Avp::f64(9996, -2.25).mandatory(false))
        .push(Avp::enumerated(c::DISCONNECT_CAUSE, 2))
        .push(Avp::time(
            c::EVENT_TIMESTAMP,
            UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        ))
        .push(Avp::utf8(601, "sip:alice@ims.example").vendor(10415));
    m
}

#[test]
fn round_trip_every_type() {
    let m = sample();
    let wire = m.to_bytes();
    assert_eq!(wire.len(), m.encoded_len());
    assert_eq!(wire.len() % 4, 0);
    let d = Message::decode(wire.clone()).unwrap();
    assert_eq!(d.header, m.header);
    assert_eq!(d.avps.len(), m.avps.len());
    assert_eq!(d.origin_host(), Some("a.example"));
    let ips: Vec<IpAddr> = d
        .find_all(c::HOST_IP_ADDRESS, 0)
        .map(|a| a.as_ip().unwrap())
        .collect();
    assert_eq!(
        ips,
        vec![
            "127.0.0.1".parse::<IpAddr>().unwrap(),
            "::1".parse().unwrap()
        ]
    );
    let vsai = d
        .require(c::VENDOR_SPECIFIC_APPLICATION_ID, 0)
        .unwrap()
        .as_grouped()
        .unwrap();
    assert_eq!(
        vsai.require(c::VENDOR_ID, 0).unwrap().as_u32().unwrap(),
        10415
    );
    assert_eq!(
        vsai.require(c::AUTH_APPLICATION_ID, 0)
            .unwrap()
            .as_u32()
            .unwrap(),
        16777216
    );
    assert_eq!(
        d.find(c::ACCOUNTING_SUB_SESSION_ID, 0)
            .unwrap()
            .as_u64()
            .unwrap(),
        u64::MAX - 1
    );
    assert_eq!(d.find(9999, 0).unwrap().as_i32().unwrap(), -5);
    assert_eq!(d.find(9998, 0).unwrap().as_i64().unwrap(), i64::MIN);
    assert_eq!(d.find(9997, 0).unwrap().as_f32().unwrap(), 1.5);
    assert_eq!(d.find(9996, 0).unwrap().as_f64().unwrap(), -2.25);
    assert_eq!(
        d.find(c::DISCONNECT_CAUSE, 0)
            .unwrap()
            .as_enumerated()
            .unwrap(),
        2
    );
    let t = d.find(c::EVENT_TIMESTAMP, 0).unwrap().as_time().unwrap();
    assert_eq!(
        t.to_system(),
        UNIX_EPOCH + Duration::from_secs(1_700_000_000)
    );
    let pi = d.find(601, 10415).unwrap();
    assert_eq!(pi.flags, FLAG_VENDOR | FLAG_MANDATORY);
    assert_eq!(pi.as_utf8().unwrap(), "sip:alice@ims.example");
    assert!(d.find(601, 0).is_none(), "vendor id is part of the key");
    // Re-encoding the decoded message reproduces the same bytes.
    assert_eq!(d.to_bytes(), wire);
    // The base dictionary rejects only the unknown vendor AVP with the M bit (999x have no M bit).
    let e = Dictionary::base().validate(&d).unwrap_err();
    assert_eq!(e.result_code(), rc::AVP_UNSUPPORTED);
    assert!(e.failed_avp().unwrap().is(601, 10415));
}

#[test]
fn golden_header_and_avp_layout() {
    let mut m = Message::request(command::DEVICE_WATCHDOG, 0);
    m.header.hop_by_hop = 1;
    m.header.end_to_end = 2;
    m.push(Avp::identity(c::ORIGIN_HOST, "abc"));
    let w = m.to_bytes();
    #[rustfmt::skip]
    let expect: &[u8] = &[
        1, 0, 0, 32, // version, length 32
        FLAG_REQUEST | FLAG_PROXIABLE, 0, 1, 24, // flags, command 280
        0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2,
        0, 0, 1, 8, 0x40, 0, 0, 11, b'a', b'b', b'c', 0, // Origin-Host, len 11, 1 byte padding
    ];
    assert_eq!(&w[..], expect);
}

#[test]
fn time_is_ntp_seconds() {
    // 1970-01-01 is NTP 2208988800 (RFC 5905 / RFC 6733 §4.3.1).
    assert_eq!(Time::from_system(UNIX_EPOCH).0, 2_208_988_800);
    // After 2036 the MSB is clear (RFC 4330 §3 era rule).
    let later = UNIX_EPOCH + Duration::from_secs((1u64 << 32) - 2_208_988_800 + 1_000_000); // 2036 + 11 days
    assert_eq!(Time::from_system(later).0, 1_000_000);
    assert_eq!(Time::from_system(later).to_system(), later);
    let now = SystemTime::now();
    let secs = now.duration_since(UNIX_EPOCH).unwrap().as_secs();
    assert_eq!(
        Time::from_system(now).to_system(),
        UNIX_EPOCH + Duration::from_secs(secs)
    );
}

#[test]
fn address_other_family_round_trips() {
    let a = Avp::new(
        c::HOST_IP_ADDRESS,
        Value::Address(Address::Other {
            family: 8,
            bytes: Bytes::from_static(b"E164"),
        }),
    );
    let m = Message::request(1, 0).with(a);
    let d = Message::decode(m.to_bytes()).unwrap();
    assert_eq!(
        d.avps[0].as_address().unwrap(),
        Address::Other {
            family: 8,
            bytes: Bytes::from_static(b"E164")
        }
    );
    assert_eq!(
        d.avps[0].as_ip().unwrap_err().result_code(),
        rc::INVALID_AVP_VALUE
    );
}

#[test]
fn encode_appends_to_reusable_buffer() {
    let m = sample();
    let mut buf = BytesMut::new();
    m.encode(&mut buf);
    m.encode(&mut buf);
    let one = m.to_bytes();
    assert_eq!(buf.len(), 2 * one.len());
    assert_eq!(&buf[..one.len()], &one[..]);
    assert_eq!(&buf[one.len()..], &one[..]);
}

fn raw_msg(avp_bytes: &[u8]) -> Bytes {
    let len = 20 + avp_bytes.len();
    let mut v = vec![
        1,
        (len >> 16) as u8,
        (len >> 8) as u8,
        len as u8,
        0x80,
        0,
        1,
        1,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        1,
        0,
        0,
        0,
        2,
    ];
    v.extend_from_slice(avp_bytes);
    Bytes::from(v)
}

#[test]
fn avp_length_overrun_is_5014_with_failed_avp() {
    // Origin-Host claiming 40 bytes but only 12 present.
    let b = raw_msg(&[0, 0, 1, 8, 0x40, 0, 0, 40, b'a', b'b', b'c', b'd']);
    let e = Message::decode(b).unwrap_err();
    assert_eq!(e.result_code(), rc::INVALID_AVP_LENGTH);
    let f = e.failed_avp().unwrap();
    assert_eq!(f.code, c::ORIGIN_HOST);
    assert_eq!(f.as_bytes().unwrap(), b"abcd");
}

#[test]
fn avp_length_below_header_is_5014() {
    let b = raw_msg(&[0, 0, 1, 8, 0x40, 0, 0, 4]);
    let e = Message::decode(b).unwrap_err();
    assert_eq!(e.result_code(), rc::INVALID_AVP_LENGTH);
    assert_eq!(e.failed_avp().unwrap().code, c::ORIGIN_HOST);
    // Vendor AVP with length 8 < 12.
    let b = raw_msg(&[0, 0, 2, 0x59, 0xc0, 0, 0, 8, 0, 0, 0x28, 0xaf]);
    let e = Message::decode(b).unwrap_err();
    assert_eq!(e.result_code(), rc::INVALID_AVP_LENGTH);
    assert_eq!(e.failed_avp().unwrap().vendor_id, Some(10415));
}

#[test]
fn wrong_fixed_size_is_5014_and_bad_utf8_is_5004() {
    // Result-Code with 3 data bytes (+1 pad).
    let b = raw_msg(&[0, 0, 1, 12, 0x40, 0, 0, 11, 0, 7, 0xd1, 0]);
    let m = Message::decode(b).unwrap();
    let e = m.find(c::RESULT_CODE, 0).unwrap().as_u32().unwrap_err();
    assert_eq!(e.result_code(), rc::INVALID_AVP_LENGTH);
    assert_eq!(
        Dictionary::base().validate(&m).unwrap_err().result_code(),
        rc::INVALID_AVP_LENGTH
    );
    // Session-Id with invalid UTF-8.
    let b = raw_msg(&[0, 0, 1, 7, 0x40, 0, 0, 10, 0xff, 0xfe, 0, 0]);
    let m = Message::decode(b).unwrap();
    let e = Dictionary::base().validate(&m).unwrap_err();
    assert_eq!(e.result_code(), rc::INVALID_AVP_VALUE);
    assert_eq!(e.failed_avp().unwrap().code, c::SESSION_ID);
}

#[test]
fn unknown_mandatory_avp_is_5001_but_optional_is_ignored() {
    let m = Message::request(1, 0).with(Avp::u32(4242, 1).vendor(77));
    let d = Message::decode(m.to_bytes()).unwrap();
    let e = Dictionary::base().validate(&d).unwrap_err();
    assert_eq!(e.result_code(), rc::AVP_UNSUPPORTED);
    assert!(e.failed_avp().unwrap().is(4242, 77));
    let m = Message::request(1, 0).with(Avp::u32(4242, 1).vendor(77).mandatory(false));
    Dictionary::base()
        .validate(&Message::decode(m.to_bytes()).unwrap())
        .unwrap();
}

#[test]
fn missing_avp_is_5005() {
    let m = Message::request(1, 0);
    let e = m.require(c::SESSION_ID, 0).unwrap_err();
    assert_eq!(e.result_code(), rc::MISSING_AVP);
    assert_eq!(e.failed_avp().unwrap().code, c::SESSION_ID);
    // Zero-filled payload of the type's minimum length (RFC 6733 §7.5).
    let e = diameter::Error::missing(c::AUTH_SESSION_STATE, 0);
    assert_eq!(e.failed_avp().unwrap().as_bytes().unwrap(), &[0, 0, 0, 0]);
    assert_eq!(
        diameter::Error::missing(c::ACCOUNTING_SUB_SESSION_ID, 0)
            .failed_avp()
            .unwrap()
            .as_bytes()
            .unwrap()
            .len(),
        8
    );
}

#[test]
fn grouped_depth_is_limited() {
    let mut a = Avp::u32(c::VENDOR_ID, 1);
    for _ in 0..40 {
        a = Avp::grouped(c::PROXY_INFO, vec![a]);
    }
    let d = Message::decode(Message::request(1, 0).with(a).to_bytes()).unwrap();
    let e = Dictionary::base().validate(&d).unwrap_err();
    assert_eq!(e.result_code(), rc::INVALID_AVP_VALUE);
    // A malformed child inside a grouped AVP is found during validation.
    let bad = Avp::octets(
        c::PROXY_INFO,
        Bytes::from_static(&[0, 0, 1, 8, 0x40, 0, 0, 99]),
    );
    let d = Message::decode(Message::request(1, 0).with(bad).to_bytes()).unwrap();
    assert_eq!(
        Dictionary::base().validate(&d).unwrap_err().result_code(),
        rc::INVALID_AVP_LENGTH
    );
}

#[test]
fn header_errors() {
    let good = sample().to_bytes();
    let mut v = good.to_vec();
    v[0] = 2;
    assert_eq!(
        Message::decode(Bytes::from(v)).unwrap_err().result_code(),
        rc::UNSUPPORTED_VERSION
    );
    let mut v = good.to_vec();
    v[3] = v[3].wrapping_add(4);
    assert_eq!(
        Message::decode(Bytes::from(v)).unwrap_err().result_code(),
        rc::INVALID_MESSAGE_LENGTH
    );
    let mut v = good.to_vec();
    v[4] |= FLAG_ERROR;
    assert_eq!(
        Message::decode(Bytes::from(v)).unwrap_err().result_code(),
        rc::INVALID_HDR_BITS
    );
    assert!(Message::decode(Bytes::from_static(&[1, 0, 0])).is_err());
    let big = diameter::Limits {
        max_message_len: 64,
        max_depth: 4,
    };
    assert_eq!(
        Message::decode_with(good, &big).unwrap_err().result_code(),
        rc::INVALID_MESSAGE_LENGTH
    );
}

#[test]
fn answer_copies_ids_session_and_proxy_info() {
    let mut req = Message::request(303, 16777216)
        .with(Avp::utf8(c::SESSION_ID, "s;1"))
        .with(Avp::identity(c::ORIGIN_HOST, "a"))
        .with(Avp::grouped(
            c::PROXY_INFO,
            vec![
                Avp::identity(c::PROXY_HOST, "p"),
                Avp::octets(c::PROXY_STATE, &b"x"[..]),
            ],
        ));
    req.header.hop_by_hop = 7;
    req.header.end_to_end = 9;
    let a = req.answer();
    assert!(!a.is_request());
    assert!(a.is_proxiable());
    assert_eq!(
        (
            a.header.hop_by_hop,
            a.header.end_to_end,
            a.command_code(),
            a.application_id()
        ),
        (7, 9, 303, 16777216)
    );
    assert_eq!(a.avps[0].code, c::SESSION_ID);
    assert!(a.find(c::PROXY_INFO, 0).is_some());
    assert!(a.find(c::ORIGIN_HOST, 0).is_none());
}

#[test]
fn error_answer_sets_e_bit_only_for_protocol_errors() {
    let req = Message::request(303, 16777216).with(Avp::utf8(c::SESSION_ID, "s;1"));
    let bad = Avp::u32(4242, 1);
    let e = Error::AvpUnsupported {
        avp: Box::new(bad.clone()),
    };
    let a = Message::decode(req.error_answer(&e, "h", "r").to_bytes()).unwrap();
    assert!(!a.is_error());
    assert_eq!(a.result_code(), Some(rc::AVP_UNSUPPORTED));
    let f = a.require(c::FAILED_AVP, 0).unwrap().as_grouped().unwrap();
    assert_eq!(f.require(4242, 0).unwrap().as_u32().unwrap(), 1);
    assert_eq!(a.origin_host(), Some("h"));
    let a = req.error_answer(&Error::ApplicationUnsupported(5), "h", "r");
    assert!(a.is_error());
    assert_eq!(a.result_code(), Some(rc::APPLICATION_UNSUPPORTED));
    assert!(a.find(c::FAILED_AVP, 0).is_none());
}

#[test]
fn experimental_result_is_read_by_result_code() {
    let m = Message::request(1, 0).with(Avp::grouped(
        c::EXPERIMENTAL_RESULT,
        vec![
            Avp::u32(c::VENDOR_ID, 10415),
            Avp::u32(c::EXPERIMENTAL_RESULT_CODE, 2001),
        ],
    ));
    assert_eq!(
        Message::decode(m.to_bytes()).unwrap().result_code(),
        Some(2001)
    );
}

#[test]
fn dictionary_is_extensible_and_describes() {
    static EXTRA: &[diameter::AvpDef] = &[diameter::AvpDef::new(
        601,
        10415,
        "Public-Identity",
        diameter::AvpType::Utf8String,
        true,
    )];
    let d = Dictionary::base().with(EXTRA);
    let avp = EXTRA[0].avp("sip:bob@x");
    assert_eq!(avp.vendor_id, Some(10415));
    assert!(avp.is_mandatory());
    let m = Message::decode(sample().with(avp).to_bytes()).unwrap();
    d.validate(&m).unwrap();
    let text = d.describe(&m);
    assert!(text.contains("Public-Identity(601/10415)"), "{text}");
    assert!(text.contains("\"sip:bob@x\""), "{text}");
    assert!(
        text.contains("Vendor-Specific-Application-Id(260)"),
        "{text}"
    );
    assert!(
        Dictionary::base().validate(&m).is_err(),
        "base alone does not know 601/10415"
    );
}

#[test]
fn borrowed_walk_matches_owned_decode() {
    let m = sample();
    let wire = m.to_bytes();
    let (h, it) = Message::parse_borrowed(&wire, &diameter::Limits::default()).unwrap();
    assert_eq!(h, m.header);
    let refs: Vec<diameter::AvpRef<'_>> = it.map(Result::unwrap).collect();
    let owned = Message::decode(wire.clone()).unwrap();
    assert_eq!(refs.len(), owned.avps.len());
    for (r, a) in refs.iter().zip(&owned.avps) {
        assert_eq!(r.to_avp(), *a);
    }
    let vsai = refs
        .iter()
        .find(|r| r.is(c::VENDOR_SPECIFIC_APPLICATION_ID, 0))
        .unwrap();
    let kids: Vec<_> = vsai.grouped().map(Result::unwrap).collect();
    assert_eq!(kids[1].as_u32().unwrap(), 16777216);
    let pi = refs.iter().find(|r| r.is(601, 10415)).unwrap();
    assert_eq!(pi.as_utf8().unwrap(), "sip:alice@ims.example");
    assert_eq!(
        refs.iter()
            .find(|r| r.is(9998, 0))
            .unwrap()
            .as_i64()
            .unwrap(),
        i64::MIN
    );
    // Errors are the same as the owned decoder's, with the Failed-AVP copy.
    let bad = raw_msg(&[0, 0, 1, 8, 0x40, 0, 0, 40, b'a', b'b', b'c', b'd']);
    let (_, mut it) = Message::parse_borrowed(&bad, &diameter::Limits::default()).unwrap();
    let e = it.next().unwrap().unwrap_err();
    assert_eq!(e, Message::decode(bad.clone()).unwrap_err());
    assert!(it.next().is_none());
    let short = Avp::octets(c::ORIGIN_STATE_ID, vec![1u8, 2]);
    let w = Message::request(1, 0).with(short).to_bytes();
    let (_, mut it) = Message::parse_borrowed(&w, &diameter::Limits::default()).unwrap();
    assert_eq!(
        it.next()
            .unwrap()
            .unwrap()
            .as_u32()
            .unwrap_err()
            .result_code(),
        rc::INVALID_AVP_LENGTH
    );
}

#[test]
fn end_to_end_ids_are_unique_with_time_in_high_bits() {
    let now = SystemTime::now();
    let secs = now.duration_since(UNIX_EPOCH).unwrap().as_secs() as u32;
    let mut ids = diameter::ids::Ids::new(42, now);
    let mut seen = std::collections::HashSet::new();
    let mut hops = std::collections::HashSet::new();
    for _ in 0..100_000 {
        let e = ids.next_end_to_end();
        assert_eq!(
            e >> 20,
            secs & 0xfff,
            "high 12 bits from the time (RFC 6733 §3)"
        );
        assert!(seen.insert(e), "End-to-End id repeated");
        assert!(hops.insert(ids.next_hop_by_hop()));
    }
    // Two generators with different seeds start at different counters.
    let mut other = diameter::ids::Ids::new(43, now);
    assert_ne!(
        other.next_hop_by_hop(),
        diameter::ids::Ids::new(42, now).next_hop_by_hop()
    );
}
