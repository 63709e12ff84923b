//! The entry point of the decoder fuzz target (`fuzz/fuzz_targets/decode.rs`), public so the
//! corpus also runs under `cargo test` (`tests/fuzz_corpus.rs`).

use bytes::{Bytes, BytesMut};
use tokio_util::codec::Decoder;

use crate::dictionary::Dictionary;
use crate::framing::{DiameterCodec, Frame};
use crate::message::Message;

/// Feed arbitrary bytes through every decoding path: the message decoder, dictionary validation
/// (recursing into Grouped AVPs), the printer, error answers, and the stream framer. Panics only if
/// an invariant breaks: a decoded message must re-encode to something that decodes to the same
/// message.
pub fn decode_everything(data: &[u8]) {
    let dict = Dictionary::base();
    if let Ok(m) = Message::decode(Bytes::copy_from_slice(data)) {
        let _ = dict.validate(&m);
        let _ = dict.describe(&m);
        let _ = m.result_code();
        for a in &m.avps {
            let _ = (
                a.as_u32(),
                a.as_u64(),
                a.as_utf8(),
                a.as_address(),
                a.as_time(),
                a.as_f64(),
            );
            if let Ok(g) = a.as_grouped() {
                let _ = g.len();
            }
        }
        let again = Message::decode(m.to_bytes()).expect("re-encoded message must decode");
        assert_eq!(again, m, "decode(encode(m)) != m");
        if let Err(e) = dict.validate(&m) {
            let ans = m.error_answer(&e, "fuzz.example", "example");
            let _ = Message::decode(ans.to_bytes()).expect("error answers must decode");
        }
    }
    // The borrowed walker must agree with the owning decoder.
    let owned = Message::decode(Bytes::copy_from_slice(data));
    match Message::parse_borrowed(data, &crate::message::Limits::default()) {
        Ok((header, iter)) => {
            let refs: Vec<_> = iter.collect();
            match &owned {
                Ok(m) => {
                    assert_eq!(header, m.header);
                    assert_eq!(refs.len(), m.avps.len());
                    for (r, a) in refs.iter().zip(&m.avps) {
                        let r = r.as_ref().expect("owned decode succeeded");
                        assert_eq!(r.to_avp(), *a);
                        let _ = r.grouped().count();
                    }
                }
                Err(e) => assert!(
                    refs.iter().any(|r| r.as_ref().err() == Some(e)),
                    "same error"
                ),
            }
        }
        Err(e) => assert_eq!(owned.err(), Some(e)),
    }
    let mut codec = DiameterCodec::default();
    let mut buf = BytesMut::from(data);
    for _ in 0..64 {
        match codec.decode(&mut buf) {
            Ok(Some(Frame::Message(m))) => {
                let _ = dict.validate(&m);
            }
            Ok(Some(Frame::Malformed { error, .. })) => {
                let _ = error.result_code();
            }
            Ok(None) | Err(_) => break,
        }
    }
}
