//! Answers for requests that do not parse (RFC 3261 §21.4.1 400, §21.4.11 513, §21.5.6 505):
//! a message that fails [`sip::Message::parse`] cannot go through the transaction layer, but if
//! it looks like a request (a method token on the first line) and carries the headers a response
//! needs (RFC 3261 §8.2.6.2: Via, From, To, Call-ID, CSeq copied), the sender gets the status
//! the error maps to, with a reason phrase naming what was wrong, instead of silence.
//! Everything here works on raw bytes and never panics.

use bytes::Bytes;

/// Header names (full and compact, RFC 3261 §7.3.3) copied into the response.
const COPIED: [(&str, Option<&str>); 5] = [
    ("via", Some("v")),
    ("from", Some("f")),
    ("to", Some("t")),
    ("call-id", Some("i")),
    ("cseq", None),
];

fn is_token(b: &[u8]) -> bool {
    !b.is_empty()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(c))
}

/// The response to send for an unparsable `data`, or `None` when it is not a request we can
/// answer (a response, an ACK, no Via…).
pub fn reject_unparsable(data: &[u8], err: &sip::Error) -> Option<Bytes> {
    let head_end = data
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(data.len());
    let head = data.get(..head_end)?;
    let mut lines = head
        .split(|b| *b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let first = lines.next()?;
    let method = first.split(|b| *b == b' ').next()?;
    if !is_token(method) || first.starts_with(b"SIP/") || method.eq_ignore_ascii_case(b"ACK") {
        return None;
    }
    let mut copied: Vec<&[u8]> = Vec::new();
    let mut seen = [false; 5];
    let mut to_has_tag = false;
    for line in lines {
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            continue;
        };
        let name = line[..colon].trim_ascii();
        let Some(i) = COPIED.iter().position(|(full, compact)| {
            name.eq_ignore_ascii_case(full.as_bytes())
                || compact.is_some_and(|c| name.eq_ignore_ascii_case(c.as_bytes()))
        }) else {
            continue;
        };
        // only printable lines are echoed; a CR/LF/NUL inside would corrupt the response
        if line.iter().any(|b| b.is_ascii_control() && *b != b'\t') || line.len() > 1024 {
            return None;
        }
        if i == 2 {
            let v = &line[colon + 1..];
            to_has_tag = v.windows(4).any(|w| w.eq_ignore_ascii_case(b"tag="));
        }
        seen[i] = true;
        copied.push(line);
    }
    if !seen.iter().all(|s| *s) {
        return None;
    }
    let status = err.status();
    let mut reason = err.reason_phrase();
    reason.retain(|c| c.is_ascii_graphic() || c == ' ');
    let mut out = Vec::with_capacity(head_end + 64);
    out.extend_from_slice(format!("SIP/2.0 {status} {reason}\r\n").as_bytes());
    for (idx, line) in copied.iter().enumerate() {
        out.extend_from_slice(line);
        let is_to = {
            let colon = line.iter().position(|b| *b == b':').unwrap_or(0);
            let n = line[..colon].trim_ascii();
            n.eq_ignore_ascii_case(b"to") || n.eq_ignore_ascii_case(b"t")
        };
        if is_to && !to_has_tag {
            out.extend_from_slice(format!(";tag={:x}", rand::random::<u64>()).as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        let _ = idx;
    }
    out.extend_from_slice(b"Content-Length: 0\r\n\r\n");
    Some(Bytes::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err_of(raw: &[u8]) -> sip::Error {
        sip::Message::parse(Bytes::copy_from_slice(raw)).expect_err("must not parse")
    }

    #[test]
    fn a_bad_header_line_gets_400_naming_it_and_parses() {
        let raw = b"REGISTER sip:ims.example.org SIP/2.0\r\n\
            Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK77;rport\r\n\
            From: <sip:a@ims.example.org>;tag=1\r\nTo: <sip:a@ims.example.org>\r\n\
            Call-ID: c1\r\nCSeq: 2 REGISTER\r\nthis line has no colon\r\nContent-Length: 0\r\n\r\n";
        let e = err_of(raw);
        let resp = reject_unparsable(raw, &e).expect("answered");
        let m = sip::Message::parse(resp).expect("our 400 parses");
        assert_eq!(m.status(), Some(400));
        assert!(m.reason().is_some_and(|r| !r.as_str().is_empty()));
        assert_eq!(m.call_id().unwrap().as_str(), "c1");
        assert_eq!(m.cseq().unwrap().seq, 2);
        assert!(m.to().unwrap().tag().is_some());
        assert!(m
            .top_via()
            .unwrap()
            .branch()
            .is_some_and(|b| b == "z9hG4bK77"));
    }

    #[test]
    fn responses_acks_and_headless_garbage_are_not_answered() {
        for raw in [
            &b"SIP/2.0 200 OK\r\nVia: x\r\nbad\r\n\r\n"[..],
            b"ACK sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c\r\nCSeq: 1 ACK\r\nbad line\r\n\r\n",
            b"\x00\x01\x02garbage",
            b"INVITE sip:a@b SIP/2.0\r\nbad line\r\n\r\n",
            b"",
        ] {
            let e = sip::Error::Usage("test");
            assert!(reject_unparsable(raw, &e).is_none(), "{:?}", String::from_utf8_lossy(raw));
        }
    }

    #[test]
    fn never_panics_on_truncations() {
        let raw = b"OPTIONS sip:a@b SIP/2.0\r\nv: SIP/2.0/UDP h;branch=z9hG4bK1\r\nf: <sip:a@b>;tag=1\r\nt: <sip:a@b>\r\ni: c\r\nCSeq: 1 OPTIONS\r\nbad\r\n\r\n";
        let e = sip::Error::Usage("test");
        for n in 0..raw.len() {
            let _ = reject_unparsable(&raw[..n], &e);
        }
        let m = sip::Message::parse(reject_unparsable(raw, &e).unwrap()).unwrap();
        assert_eq!(m.status(), Some(400));
    }
}
