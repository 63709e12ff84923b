//! The flow token the P-CSCF puts in the user part of its Path URI (TS 24.229 §5.2.2.1, RFC 3327
//! §5.1, in the manner of RFC 5626 §5.2): requests the S-CSCF sends towards the UE come back with
//! that URI in Route, and the token says which flow (transport, UE address, our address) leads to
//! the UE — so a UE behind a NAT or on a TCP connection is reached the way it registered.
//!
//! Layout before base64url (no padding): transport (1 byte: 0 UDP, 1 TCP, 2 TLS), then the remote
//! and the local address, each as family (4 or 6), address bytes and a big-endian port. The token
//! is prefixed with `term.` (the P-CSCF's terminating Path entry, as `term@` in TS 24.228
//! examples). A token only names a flow; the P-CSCF still requires that a UE registered over it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use sip_stack::{Flow, Transport};

/// The user-part prefix of a Path URI carrying a flow token.
pub const PREFIX: &str = "term.";

fn push_addr(out: &mut Vec<u8>, a: SocketAddr) {
    match a.ip() {
        IpAddr::V4(ip) => {
            out.push(4);
            out.extend_from_slice(&ip.octets());
        }
        IpAddr::V6(ip) => {
            out.push(6);
            out.extend_from_slice(&ip.octets());
        }
    }
    out.extend_from_slice(&a.port().to_be_bytes());
}

fn take_addr(b: &[u8]) -> Option<(SocketAddr, &[u8])> {
    let (&fam, rest) = b.split_first()?;
    let (ip, rest) = match fam {
        4 => {
            let o: [u8; 4] = rest.get(..4)?.try_into().ok()?;
            (IpAddr::V4(Ipv4Addr::from(o)), &rest[4..])
        }
        6 => {
            let o: [u8; 16] = rest.get(..16)?.try_into().ok()?;
            (IpAddr::V6(Ipv6Addr::from(o)), &rest[16..])
        }
        _ => return None,
    };
    let p: [u8; 2] = rest.get(..2)?.try_into().ok()?;
    Some((SocketAddr::new(ip, u16::from_be_bytes(p)), &rest[2..]))
}

/// The Path user part for `flow`.
pub fn encode(flow: &Flow) -> String {
    let mut raw = Vec::with_capacity(40);
    raw.push(match flow.transport {
        Transport::Udp => 0,
        Transport::Tcp => 1,
        Transport::Tls => 2,
    });
    push_addr(&mut raw, flow.remote);
    push_addr(&mut raw, flow.local);
    format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(raw))
}

/// The flow named by a Path user part, or `None` if it is not one of ours (never panics).
pub fn decode(user: &str) -> Option<Flow> {
    let tok = user.strip_prefix(PREFIX)?;
    if tok.len() > 64 {
        return None;
    }
    let raw = URL_SAFE_NO_PAD.decode(tok).ok()?;
    let (&t, rest) = raw.split_first()?;
    let transport = match t {
        0 => Transport::Udp,
        1 => Transport::Tcp,
        2 => Transport::Tls,
        _ => return None,
    };
    let (remote, rest) = take_addr(rest)?;
    let (local, rest) = take_addr(rest)?;
    if !rest.is_empty() {
        return None;
    }
    Some(Flow {
        transport,
        local,
        remote,
        conn: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_v4_and_v6() {
        for (t, r, l) in [
            (Transport::Udp, "10.1.2.3:5080", "127.0.0.1:5060"),
            (Transport::Tcp, "[2001:db8::1]:40000", "[::1]:5060"),
            (Transport::Tls, "192.0.2.1:1", "[2001:db8::2]:5061"),
        ] {
            let f = Flow {
                transport: t,
                remote: r.parse().unwrap(),
                local: l.parse().unwrap(),
                conn: None,
            };
            let tok = encode(&f);
            assert!(tok.starts_with(PREFIX));
            assert!(tok
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)));
            assert_eq!(decode(&tok), Some(f));
        }
    }

    #[test]
    fn garbage_is_rejected_without_panicking() {
        for bad in [
            "",
            "term",
            "term.",
            "term.!!!",
            "alice",
            "term.AAAA",
            "term.AwQKAQID",
            &format!("term.{}", "A".repeat(200)),
        ] {
            assert_eq!(decode(bad), None, "{bad}");
        }
        // every truncation of a valid token is rejected
        let f = Flow {
            transport: Transport::Udp,
            remote: "10.1.2.3:5080".parse().unwrap(),
            local: "127.0.0.1:5060".parse().unwrap(),
            conn: None,
        };
        let raw = URL_SAFE_NO_PAD.decode(&encode(&f)[PREFIX.len()..]).unwrap();
        for n in 0..raw.len() {
            assert_eq!(
                decode(&format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(&raw[..n]))),
                None
            );
        }
    }
}
