//! Bytes → typed Cx message, by both decoders: `AnyCx::decode` (borrowed walker) and
//! `diameter::Message::decode` + `AnyCx::from_message`. They must agree, and whatever decodes must
//! re-encode to bytes that decode to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let direct = cx::AnyCx::decode(data);
    let via_message = diameter::Message::decode(bytes::Bytes::copy_from_slice(data))
        .map_err(cx::CxError::from)
        .and_then(|m| cx::AnyCx::from_message(&m));
    match (&direct, &via_message) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "the two decoders disagree"),
        (Err(_), Err(_)) => {}
        _ => panic!("one decoder accepted what the other refused: {direct:?} / {via_message:?}"),
    }
    if let Ok(v) = direct {
        let mut buf = bytes::BytesMut::new();
        v.encode(&mut buf);
        assert_eq!(cx::AnyCx::decode(&buf).expect("re-encoded message decodes"), v);
    }
});
