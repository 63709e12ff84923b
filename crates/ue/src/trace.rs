//! The `--trace` ladder: one readable line per SIP message sent or received.
//!
//! ```text
//! --> REGISTER sip:ims.test  CSeq:1  Expires:600000  Sec-Client:ipsec-3gpp(hmac-sha-1-96/null)x6,tls  Auth:nonce=""
//! <-- 401 Unauthorized  CSeq:1  Sec-Server:ipsec-3gpp(hmac-md5-96/null,q=0.1)  Challenge:AKAv1-MD5 nonce=26ohPzgY…
//! ```
//! Secrets never appear: only the first 8 characters of a nonce and of AUTS are shown, never the
//! response (only whether it is empty).

use std::fmt::Write;

use sip::{Message, SecurityMechanism};

/// Direction of a message relative to the UE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Sent by the UE.
    Out,
    /// Received by the UE.
    In,
}

fn short(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut o: String = s.chars().take(n).collect();
        o.push('…');
        o
    }
}

fn mechs(list: &[SecurityMechanism]) -> String {
    // collapse identical mechanism summaries ("ipsec-3gpp(hmac-sha-1-96/null)x2")
    let mut parts: Vec<(String, usize)> = Vec::new();
    for m in list {
        let mut s = m.mechanism.to_string();
        if let Some(alg) = m.alg() {
            let _ = write!(s, "({alg}/{}", m.ealg().unwrap_or("null"));
            if let Some(q) = m.q() {
                let _ = write!(s, ",q={q}");
            }
            s.push(')');
        } else if let Some(q) = m.q() {
            let _ = write!(s, "(q={q})");
        }
        match parts.last_mut() {
            Some((p, n)) if *p == s => *n += 1,
            _ => parts.push((s, 1)),
        }
    }
    parts
        .into_iter()
        .map(|(s, n)| if n > 1 { format!("{s}x{n}") } else { s })
        .collect::<Vec<_>>()
        .join(",")
}

/// Renders one message as one line (no trailing newline).
pub fn line(dir: Direction, msg: &Message) -> String {
    let mut out = String::with_capacity(160);
    out.push_str(match dir {
        Direction::Out => "--> ",
        Direction::In => "<-- ",
    });
    if msg.is_request() {
        let m = msg.method().map(|m| m.to_string()).unwrap_or_default();
        let _ = write!(out, "{m} {}", msg.request_uri_raw().unwrap_or_default());
    } else {
        let _ = write!(
            out,
            "{} {}",
            msg.status().unwrap_or(0),
            msg.reason().map(|r| r.to_string()).unwrap_or_default()
        );
    }
    if let Ok(c) = msg.cseq() {
        let _ = write!(out, "  CSeq:{} {}", c.seq, c.method);
    }
    if let Ok(Some(e)) = msg.expires() {
        let _ = write!(out, "  Expires:{e}");
    }
    if let Ok(cs) = msg.contacts() {
        for c in cs {
            if let sip::Contact::Addr(a) = c {
                if let Some(e) = a.expires() {
                    let _ = write!(out, "  Contact-expires:{e}");
                }
            }
        }
    }
    if let Ok(Some(ev)) = msg.event() {
        let _ = write!(out, "  Event:{}", ev.package);
    }
    if let Ok(Some(ss)) = msg.subscription_state() {
        let _ = write!(out, "  Sub-State:{}", ss.state);
    }
    for (label, list) in [
        ("Sec-Client", msg.security_client()),
        ("Sec-Server", msg.security_server()),
        ("Sec-Verify", msg.security_verify()),
    ] {
        if let Ok(l) = list {
            if !l.is_empty() {
                let _ = write!(out, "  {label}:{}", mechs(&l));
            }
        }
    }
    if let Ok(Some(a)) = msg.authorization() {
        let _ = write!(
            out,
            "  Auth:nonce=\"{}\"",
            short(a.nonce().unwrap_or(""), 8)
        );
        if let Some(auts) = a.auts() {
            let _ = write!(out, " auts={}", short(auts, 8));
        }
        match a.response() {
            Some("") | None => out.push_str(" response=\"\""),
            Some(_) => out.push_str(" response=<set>"),
        }
    }
    if let Ok(Some(c)) = msg.www_authenticate() {
        let _ = write!(
            out,
            "  Challenge:{} nonce={}",
            c.algorithm().unwrap_or("MD5"),
            short(c.nonce().unwrap_or(""), 8)
        );
    }
    if let Some(s) = msg.server() {
        let _ = write!(out, "  Server:{}", short(&s, 24));
    }
    if let Ok(Some(ct)) = msg.content_type() {
        let _ = write!(
            out,
            "  Body:{}/{} {}B",
            ct.mtype,
            ct.subtype,
            msg.body().len()
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn register_and_challenge_lines() {
        let reg = Message::parse(
            &b"REGISTER sip:ims.test SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1\r\n\
From: <sip:a@ims.test>;tag=1\r\nTo: <sip:a@ims.test>\r\nCall-ID: x\r\nCSeq: 2 REGISTER\r\n\
Expires: 600000\r\nSecurity-Client: ipsec-3gpp;alg=hmac-sha-1-96;spi-c=1;spi-s=2;port-c=3;port-s=4, ipsec-3gpp;alg=hmac-sha-1-96;spi-c=1;spi-s=2;port-c=3;port-s=4, tls\r\n\
Authorization: Digest username=\"a\", realm=\"r\", nonce=\"ABCDEFGHIJKL\", uri=\"sip:ims.test\", response=\"00112233445566778899aabbccddeeff\", auts=\"QUJDREVGR0hJSktMTU4=\"\r\n\
Content-Length: 0\r\n\r\n"[..],
        )
        .unwrap();
        let l = line(Direction::Out, &reg);
        assert!(
            l.starts_with("--> REGISTER sip:ims.test  CSeq:2 REGISTER  Expires:600000"),
            "{l}"
        );
        assert!(
            l.contains("Sec-Client:ipsec-3gpp(hmac-sha-1-96/null)x2,tls"),
            "{l}"
        );
        assert!(
            l.contains("nonce=\"ABCDEFGH…\" auts=QUJDREVG… response=<set>"),
            "{l}"
        );
        assert!(!l.contains("00112233"), "response leaked: {l}");
        let resp = Message::parse(
            &b"SIP/2.0 403 Authentication Failed\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1\r\n\
From: <sip:a@ims.test>;tag=1\r\nTo: <sip:a@ims.test>;tag=2\r\nCall-ID: x\r\nCSeq: 2 REGISTER\r\nServer: S-CSCF\r\n\
Content-Length: 0\r\n\r\n"[..],
        )
        .unwrap();
        assert_eq!(
            line(Direction::In, &resp),
            "<-- 403 Authentication Failed  CSeq:2 REGISTER  Server:S-CSCF"
        );
    }
}
