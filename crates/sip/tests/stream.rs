//! Stream framing (RFC 3261 §18.3, RFC 5626 §3.5.1 keep-alives).

mod common;
use bytes::BytesMut;
use common::read;
use sip::{decode_stream, parse_stream, take_pong, Error, Limits, Message, StreamItem};

const TRACE: [&str; 8] = [
    "01-register-initial.sip",
    "02-401-unauthorized.sip",
    "03-register-protected.sip",
    "04-200-ok-register.sip",
    "05-subscribe-reg.sip",
    "06-200-ok-subscribe.sip",
    "07-notify-reginfo.sip",
    "08-200-ok-notify.sip",
];

#[test]
fn frames_a_stream_fed_in_small_chunks() {
    let mut wire = Vec::new();
    for (i, f) in TRACE.iter().enumerate() {
        if i % 2 == 1 {
            wire.extend_from_slice(b"\r\n\r\n"); // keep-alive ping between messages
        }
        wire.extend_from_slice(&read(f));
    }
    for chunk in [1usize, 7, 100, 5000] {
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        let mut pings = 0;
        for piece in wire.chunks(chunk) {
            buf.extend_from_slice(piece);
            while let Some(item) = decode_stream(&mut buf, &Limits::default()).expect("frame") {
                match item {
                    StreamItem::Message(m) => got.push(m),
                    StreamItem::Ping => pings += 1,
                    StreamItem::Pong => panic!("no pong in this stream"),
                }
            }
        }
        assert!(buf.is_empty(), "chunk {chunk}: leftover");
        assert_eq!(pings, 4, "chunk {chunk}");
        assert_eq!(got.len(), 8, "chunk {chunk}");
        for (m, f) in got.iter().zip(TRACE) {
            assert_eq!(&m.as_bytes()[..], &read(f)[..], "chunk {chunk}: {f}");
        }
        assert_eq!(got[6].body().len(), 688);
    }
}

#[test]
fn parse_stream_reports_consumed_bytes() {
    let a = read("07-notify-reginfo.sip");
    let b = read("08-200-ok-notify.sip");
    let mut wire = b"\r\n\r\n".to_vec();
    wire.extend_from_slice(&a);
    wire.extend_from_slice(&b);
    let (m, used) = parse_stream(&wire, &Limits::default())
        .expect("ok")
        .expect("complete");
    assert_eq!(used, 4 + a.len());
    assert_eq!(m, Message::parse(a.clone()).expect("parse"));
    let (m2, used2) = parse_stream(&wire[used..], &Limits::default())
        .expect("ok")
        .expect("complete");
    assert_eq!(used2, b.len());
    assert_eq!(m2.status(), Some(200));
    // every strict prefix needs more bytes
    for cut in [0, 1, 4, 10, a.len() - 1, a.len() + 3] {
        assert!(
            parse_stream(&wire[..cut], &Limits::default())
                .expect("ok")
                .is_none(),
            "cut {cut}"
        );
    }
}

#[test]
fn stream_errors() {
    let lim = Limits::default();
    // missing Content-Length is an error on a stream
    let no_cl = b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\n\r\n";
    assert_eq!(parse_stream(no_cl, &lim), Err(Error::MissingContentLength));
    // the TS 24.228 example's empty Content-Length is accepted on a datagram only
    let p11 = read("ts24228-p11-200-ok-scscf-to-icscf.sip");
    assert!(Message::parse(p11.clone()).is_ok());
    let e = parse_stream(&p11, &lim).expect_err("empty CL on a stream");
    assert_eq!(e.reason_phrase(), "Bad Content-Length Header");
    // garbage
    assert!(matches!(
        parse_stream(b"\x16\x03\x01\x02\x00", &lim),
        Err(Error::Garbage { .. })
    ));
    // a header section that never ends is too large
    let small = Limits {
        max_message_size: 200,
        ..Limits::default()
    };
    let mut big = b"OPTIONS sip:a@b SIP/2.0\r\n".to_vec();
    while big.len() < 300 {
        big.extend_from_slice(b"X-Filler: 0123456789\r\n");
    }
    assert!(matches!(
        parse_stream(&big, &small),
        Err(Error::TooLarge { .. })
    ));
    assert_eq!(parse_stream(&big, &small).expect_err("large").status(), 513);
    // a declared body beyond the limit is refused before it arrives
    let huge = b"MESSAGE sip:a@b SIP/2.0\r\nContent-Length: 190\r\n\r\n";
    assert!(matches!(
        parse_stream(huge, &small),
        Err(Error::TooLarge { .. })
    ));
    let fits = b"MESSAGE sip:a@b SIP/2.0\r\nContent-Length: 150\r\n\r\n";
    assert_eq!(parse_stream(fits, &small), Ok(None), "needs the body");
    let e = parse_stream(b"MESSAGE sip:a@b SIP/2.0\r\nl: 99999999999\r\n\r\n", &lim)
        .expect_err("absurd");
    assert_eq!(e.status(), 400);
    // a line longer than the limit without a newline
    let long = vec![b'A'; lim.max_line_len + 1];
    assert!(matches!(
        parse_stream(&long, &lim),
        Err(Error::LineTooLong { .. })
    ));
}

#[test]
fn keepalive_ping_and_pong() {
    let lim = Limits::default();
    let mut buf = BytesMut::from(&b"\r\n\r\n"[..]);
    assert_eq!(
        decode_stream(&mut buf, &lim).expect("ok"),
        Some(StreamItem::Ping)
    );
    assert!(buf.is_empty());
    // a lone CRLF may be half a ping: left for the caller, `take_pong` takes it
    let mut buf = BytesMut::from(&b"\r\n"[..]);
    assert_eq!(decode_stream(&mut buf, &lim).expect("ok"), None);
    assert!(take_pong(&mut buf));
    assert!(buf.is_empty());
    assert!(!take_pong(&mut buf));
    // a pong followed by a message
    let mut buf = BytesMut::from(&b"\r\n"[..]);
    buf.extend_from_slice(&read("08-200-ok-notify.sip"));
    assert_eq!(
        decode_stream(&mut buf, &lim).expect("ok"),
        Some(StreamItem::Pong)
    );
    assert!(matches!(
        decode_stream(&mut buf, &lim).expect("ok"),
        Some(StreamItem::Message(_))
    ));
    let mut buf = BytesMut::from(&b"\r\n\r"[..]);
    assert_eq!(decode_stream(&mut buf, &lim).expect("ok"), None);
    assert_eq!(buf.len(), 3, "nothing consumed while waiting");
}

#[test]
fn datagram_limits() {
    let lim = Limits {
        max_message_size: 100,
        ..Limits::default()
    };
    let m = read("01-register-initial.sip");
    let e = Message::parse_with(m.clone().into(), &lim).expect_err("too large");
    assert_eq!(
        (e.status(), e.reason_phrase().as_str()),
        (513, "Message Too Large")
    );
    let lim = Limits {
        max_headers: 5,
        ..Limits::default()
    };
    let e = Message::parse_with(m.clone().into(), &lim).expect_err("too many");
    assert!(
        matches!(e, Error::TooManyHeaders { line: 7, limit: 5 }),
        "{e}"
    );
    let lim = Limits {
        max_line_len: 100,
        ..Limits::default()
    };
    let e = Message::parse_with(m.into(), &lim).expect_err("long line");
    assert!(matches!(e, Error::LineTooLong { .. }), "{e}");
    assert!(e.line().is_some());
}
