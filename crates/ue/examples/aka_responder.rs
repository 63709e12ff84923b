//! A trivial IMS-AKA registrar for measuring load generators (`imscore bench`, SIPp) alone: one
//! UDP socket, one thread. A REGISTER without credentials gets a 401 with a fresh AKA challenge
//! (RFC 3310 §3.1: nonce = base64(RAND ‖ AUTN), Milenage per TS 35.206); a REGISTER with a
//! Digest-AKAv1-MD5 response is checked statelessly (RES recomputed from the RAND of its nonce,
//! RFC 3310 §3.3) and answered 200 (or 403); a de-registration likewise. Anything else gets 200.
//!
//! ```text
//! cargo run --release -p ue --example aka_responder -- 127.0.0.1:5070 K OP AMF
//! ```
//! K and OP are 32 hex digits, AMF 4 hex digits (SIPp 3.6 takes `aka_AMF=80` as the raw bytes
//! 0x38 0x30, so answer SIPp with AMF 3830). Prints the counts every second.

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use aka::digest::{self, DigestInput, Qop, QopParams};
use aka::{AkaNonce, Amf, AuthVector, Milenage, Op, Rand, Sqn, K};
use sip::{MessageBuilder, Method};

/// The socket, with 4 MB buffers so bursts are queued rather than dropped.
fn bind(addr: &str) -> std::io::Result<UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let addr: std::net::SocketAddr = addr
        .parse()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let s = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    let _ = s.set_recv_buffer_size(4 << 20);
    let _ = s.set_send_buffer_size(4 << 20);
    s.bind(&addr.into())?;
    Ok(s.into())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() != 4 {
        eprintln!("usage: aka_responder ADDR K_HEX OP_HEX AMF_HEX");
        std::process::exit(2);
    }
    let parsed = (|| {
        Some((
            K::from_hex(&args[1]).ok()?,
            Op::from_hex(&args[2]).ok()?,
            Amf::from_hex(&args[3]).ok()?,
        ))
    })();
    let Some((k, op, amf)) = parsed else {
        eprintln!("aka_responder: bad K, OP or AMF");
        std::process::exit(2);
    };
    let m = Milenage::with_op(&k, &op);
    let sock = match bind(&args[0]) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("aka_responder: bind {}: {e}", args[0]);
            std::process::exit(1);
        }
    };
    let _ = sock.set_read_timeout(Some(Duration::from_millis(200)));
    println!("aka_responder on {}", args[0]);
    let mut buf = vec![0u8; 65535];
    // SEQ counts up from 1 with IND cycling over 5 bits (TS 33.102 Annex C.1.1)
    let mut seq: u64 = 0;
    let (mut challenged, mut ok, mut bad) = (0u64, 0u64, 0u64);
    let mut last = Instant::now();
    loop {
        if last.elapsed() >= Duration::from_secs(1) {
            println!("401 {challenged}  200 {ok}  403 {bad}");
            last = Instant::now();
        }
        let Ok((n, from)) = sock.recv_from(&mut buf) else {
            continue;
        };
        let Ok(req) = sip::Message::parse(bytes::Bytes::copy_from_slice(&buf[..n])) else {
            continue;
        };
        if !req.is_request() || req.method() == Some(Method::Ack) {
            continue;
        }
        let auth = req.authorization().ok().flatten();
        let given = auth
            .as_ref()
            .and_then(|a| Some((a.nonce()?, a.response()?)))
            .filter(|(n, _)| !n.is_empty());
        let resp = if req.method() != Some(Method::Register) {
            MessageBuilder::response_to(&req, 200, "OK", Some("resp")).build()
        } else if let (Some((nonce, response)), Some(a)) = (given, auth.as_ref()) {
            let good = AkaNonce::decode(nonce).ok().is_some_and(|n| {
                let (res, _, _, _) = m.f2345(&n.rand);
                let ha1 =
                    digest::ha1_akav1(a.username().unwrap_or(""), a.realm().unwrap_or(""), &res);
                let qop = match (a.qop(), a.nc(), a.cnonce()) {
                    (Some(_), Some(nc), Some(cnonce)) => Some(QopParams {
                        qop: Qop::Auth,
                        nc,
                        cnonce,
                    }),
                    _ => None,
                };
                let input = DigestInput {
                    nonce,
                    method: "REGISTER",
                    uri: a.uri().unwrap_or(""),
                    qop,
                    body: b"",
                };
                digest::verify_response(&ha1, &input, response).unwrap_or(false)
            });
            if good {
                ok += 1;
                let exp = req.expires().ok().flatten().unwrap_or(3600);
                let mut b = MessageBuilder::response_to(&req, 200, "OK", Some("resp"))
                    .header("Expires", exp);
                if let Some(c) = req.header_value("Contact") {
                    b = b.header("Contact", format!("{c};expires={exp}"));
                }
                b.build()
            } else {
                bad += 1;
                MessageBuilder::response_to(&req, 403, "Forbidden", Some("resp")).build()
            }
        } else {
            challenged += 1;
            seq += 1;
            let sqn = Sqn::new((seq << 5) | (seq % 32)).unwrap_or_default();
            let av = AuthVector::generate(&m, Rand::random(), sqn, amf);
            let realm = auth
                .as_ref()
                .and_then(|a| a.realm().map(|r| r.to_string()))
                .unwrap_or_else(|| "ims.test".into());
            MessageBuilder::response_to(&req, 401, "Unauthorized", Some("resp"))
                .header(
                    "WWW-Authenticate",
                    format!(
                        "Digest realm=\"{realm}\", nonce=\"{}\", algorithm=AKAv1-MD5, qop=\"auth\"",
                        av.sip_nonce()
                    ),
                )
                .build()
        };
        if let Ok(r) = resp {
            let _ = sock.send_to(&r.wire(), from);
        }
    }
}
