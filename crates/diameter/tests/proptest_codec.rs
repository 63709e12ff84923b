//! Property tests: arbitrary AVP trees round-trip through encode/decode; arbitrary bytes never panic.

use bytes::Bytes;
use diameter::{Avp, Message, Value};
use proptest::prelude::*;

fn leaf() -> impl Strategy<Value = Avp> {
    let value = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(|v| Value::Bytes(Bytes::from(v))),
        any::<u32>().prop_map(Value::Unsigned32),
        any::<u64>().prop_map(Value::Unsigned64),
        any::<i32>().prop_map(Value::Integer32),
        any::<i64>().prop_map(Value::Integer64),
    ];
    (
        1u32..5000,
        proptest::option::of(1u32..100_000),
        any::<bool>(),
        value,
    )
        .prop_map(|(code, vendor, m, v)| {
            let a = Avp::new(code, v).mandatory(m);
            match vendor {
                Some(id) => a.vendor(id),
                None => a,
            }
        })
}

fn tree() -> impl Strategy<Value = Avp> {
    leaf().prop_recursive(4, 32, 6, |inner| {
        (1u32..5000, proptest::collection::vec(inner, 0..6))
            .prop_map(|(code, kids)| Avp::grouped(code, kids))
    })
}

/// Encode a constructed AVP, then compare with the decoded form (typed values become bytes).
fn same(built: &Avp, decoded: &Avp) -> bool {
    if built.code != decoded.code
        || built.vendor_id != decoded.vendor_id
        || built.flags != decoded.flags
    {
        return false;
    }
    match &built.value {
        Value::Grouped(kids) => {
            let Ok(dk) = decoded.as_grouped() else {
                return false;
            };
            kids.len() == dk.len() && kids.iter().zip(dk.iter()).all(|(a, b)| same(a, b))
        }
        Value::Bytes(b) => decoded.as_bytes().ok() == Some(&b[..]),
        Value::Unsigned32(v) => decoded.as_u32().ok() == Some(*v),
        Value::Unsigned64(v) => decoded.as_u64().ok() == Some(*v),
        Value::Integer32(v) => decoded.as_i32().ok() == Some(*v),
        Value::Integer64(v) => decoded.as_i64().ok() == Some(*v),
        _ => false,
    }
}

proptest! {
    #[test]
    fn avp_trees_round_trip(avps in proptest::collection::vec(tree(), 0..8), cmd in 0u32..0xff_ffff, app: u32, hbh: u32, e2e: u32) {
        let mut m = Message::request(cmd, app);
        m.header.hop_by_hop = hbh;
        m.header.end_to_end = e2e;
        m.avps = avps;
        let wire = m.to_bytes();
        prop_assert_eq!(wire.len(), m.encoded_len());
        let d = Message::decode(wire).unwrap();
        prop_assert_eq!(d.header, m.header);
        prop_assert_eq!(d.avps.len(), m.avps.len());
        for (a, b) in m.avps.iter().zip(&d.avps) {
            prop_assert!(same(a, b), "{:?} vs {:?}", a, b);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..400)) {
        diameter::fuzzing::decode_everything(&data);
    }

    #[test]
    fn valid_header_random_body_never_panics(body in proptest::collection::vec(any::<u8>(), 0..200)) {
        let len = 20 + body.len();
        let mut v = vec![1, (len >> 16) as u8, (len >> 8) as u8, len as u8, 0x80, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2];
        v.extend_from_slice(&body);
        diameter::fuzzing::decode_everything(&v);
    }
}
