//! Stream framing (RFC 6733 §3 Message Length over TCP): partial input, several messages per read,
//! garbage, size limits, malformed bodies.

use bytes::BytesMut;
use diameter::avp_code as c;
use diameter::framing::{DiameterCodec, Frame};
use diameter::{result_code as rc, Avp, Limits, Message};
use tokio_util::codec::{Decoder, Encoder};

fn msg(i: u32) -> Message {
    let mut m = Message::request(280, 0).with(Avp::identity(c::ORIGIN_HOST, "a.example"));
    m.header.hop_by_hop = i;
    m
}

#[test]
fn byte_by_byte_and_back_to_back() {
    let mut codec = DiameterCodec::default();
    let mut wire = BytesMut::new();
    for i in 0..3 {
        codec.encode(&msg(i), &mut wire).unwrap();
    }
    let total = wire.len();
    let mut buf = BytesMut::new();
    let mut got = vec![];
    for (n, b) in wire.iter().enumerate() {
        buf.extend_from_slice(&[*b]);
        while let Some(f) = codec.decode(&mut buf).unwrap() {
            let Frame::Message(m) = f else {
                panic!("malformed")
            };
            got.push((n, m.header.hop_by_hop));
        }
    }
    let one = total / 3;
    assert_eq!(
        got,
        vec![(one - 1, 0), (2 * one - 1, 1), (3 * one - 1, 2)],
        "a frame completes exactly at its last byte"
    );
    // All at once.
    let mut buf = wire.clone();
    let ids: Vec<u32> = std::iter::from_fn(|| codec.decode(&mut buf).unwrap())
        .map(|f| match f {
            Frame::Message(m) => m.header.hop_by_hop,
            Frame::Malformed { .. } => u32::MAX,
        })
        .collect();
    assert_eq!(ids, vec![0, 1, 2]);
    assert!(buf.is_empty());
}

#[test]
fn garbage_is_a_framing_error() {
    let mut codec = DiameterCodec::default();
    let mut buf = BytesMut::from(&b"GET / HTTP/1.1\r\n"[..]);
    assert_eq!(
        codec.decode(&mut buf).unwrap_err().result_code(),
        rc::UNSUPPORTED_VERSION
    );
    for hdr in [[1u8, 0, 0, 8], [1, 0, 0, 22], [1, 0xff, 0xff, 0xfc]] {
        let mut buf = BytesMut::from(&hdr[..]);
        let e = codec.decode(&mut buf).unwrap_err();
        assert_eq!(e.result_code(), rc::INVALID_MESSAGE_LENGTH, "{hdr:?}");
    }
    // Rejected from the first 4 bytes, without waiting for the claimed length.
    let mut small = DiameterCodec::new(Limits {
        max_message_len: 1024,
        max_depth: 8,
    });
    let mut buf = BytesMut::from(&[1u8, 0, 8, 0][..]);
    assert!(small.decode(&mut buf).is_err());
    // Stream ending inside a message.
    let mut buf = BytesMut::from(&msg(1).to_bytes()[..30]);
    assert!(codec.decode(&mut buf).unwrap().is_none());
    assert!(codec.decode_eof(&mut buf).is_err());
}

#[test]
fn malformed_body_keeps_the_stream_in_sync() {
    let mut codec = DiameterCodec::default();
    let mut bad = msg(7).to_bytes().to_vec();
    bad[20 + 7] = 200; // Origin-Host AVP length beyond the message
    let mut buf = BytesMut::from(&bad[..]);
    codec.encode(&msg(8), &mut buf).unwrap();
    match codec.decode(&mut buf).unwrap().unwrap() {
        Frame::Malformed { header, error } => {
            assert_eq!(header.hop_by_hop, 7);
            assert_eq!(error.result_code(), rc::INVALID_AVP_LENGTH);
            assert_eq!(error.failed_avp().unwrap().code, c::ORIGIN_HOST);
        }
        f => panic!("{f:?}"),
    }
    match codec.decode(&mut buf).unwrap().unwrap() {
        Frame::Message(m) => assert_eq!(m.header.hop_by_hop, 8),
        f => panic!("{f:?}"),
    }
}
