//! Shared helpers: the reference trace messages and header surgery for crafted variants.
#![allow(dead_code)]

use std::net::{IpAddr, SocketAddr};

use secagree::{Arrival, Config, IpsecIds, Mechanism, MechanismPref, Qvalue, Transport};

pub const TESTDATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/testdata/sip/");

/// The raw text of a shared test message; fails loudly if `shared/` is missing.
pub fn raw(name: &str) -> String {
    let p = format!("{TESTDATA}{name}");
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("shared test data {p} missing: {e}"))
}

pub fn msg(text: &str) -> sip::Message {
    sip::Message::parse(text.as_bytes().to_vec()).expect("test message parses")
}

/// Replaces the value of header `name` (first line starting with `name:`), or removes the line
/// (`None`). Panics if absent, so a test cannot silently test nothing.
pub fn set_header(text: &str, name: &str, value: Option<&str>) -> String {
    let prefix = format!("{name}:");
    let mut found = false;
    let mut out = String::new();
    for line in text.split_inclusive('\n') {
        if !found
            && line
                .to_ascii_lowercase()
                .starts_with(&prefix.to_ascii_lowercase())
        {
            found = true;
            if let Some(v) = value {
                out.push_str(&format!("{name}: {v}\r\n"));
            }
        } else {
            out.push_str(line);
        }
    }
    assert!(found, "header {name} not in message");
    out
}

/// Adds a header line after the start line.
pub fn add_header(text: &str, name: &str, value: &str) -> String {
    let (first, rest) = text.split_once("\r\n").expect("start line");
    format!("{first}\r\n{name}: {value}\r\n{rest}")
}

/// Replaces the Request-Line.
pub fn set_request_line(text: &str, line: &str) -> String {
    let (_, rest) = text.split_once("\r\n").expect("start line");
    format!("{line}\r\n{rest}")
}

pub fn ue_ip() -> IpAddr {
    "2001::1:d1ae:bb37:d9c9:81d0".parse().unwrap()
}
pub fn pcscf_ip() -> IpAddr {
    "2001:0:0:1::2".parse().unwrap()
}

/// The P-CSCF ids of the reference 401.
pub fn trace_local() -> IpsecIds {
    IpsecIds {
        spi_c: 3458785863,
        spi_s: 2821032177,
        port_c: 50717,
        port_s: 50718,
    }
}

/// A configuration that reproduces the reference 401: ipsec-3gpp q=0.1, md5 preferred, null
/// encryption allowed.
pub fn trace_config() -> Config {
    Config {
        mechanisms: vec![
            MechanismPref {
                mechanism: Mechanism::Ipsec3gpp,
                q: Qvalue::parse("0.1").unwrap(),
            },
            MechanismPref {
                mechanism: Mechanism::Tls,
                q: Qvalue::parse("0.05").unwrap(),
            },
        ],
        integrity: vec![
            ipsec::IntegrityAlg::HmacMd5_96,
            ipsec::IntegrityAlg::HmacSha1_96,
        ],
        encryption: vec![
            ipsec::EncryptionAlg::Null,
            ipsec::EncryptionAlg::AesCbc,
            ipsec::EncryptionAlg::DesEde3Cbc,
        ],
        ..Config::default()
    }
}

/// Step 1 arrival: TCP from the UE's ephemeral port to 5060.
pub fn unprotected() -> Arrival {
    Arrival {
        transport: Transport::Tcp,
        src: SocketAddr::new(ue_ip(), 42368),
        dst: SocketAddr::new(pcscf_ip(), 5060),
        tls_connection: None,
    }
}

/// Step 3 arrival: UE port-c 38003 → P-CSCF port-s 50718.
pub fn protected() -> Arrival {
    Arrival {
        transport: Transport::Tcp,
        src: SocketAddr::new(ue_ip(), 38003),
        dst: SocketAddr::new(pcscf_ip(), 50718),
        tls_connection: None,
    }
}

pub fn tls(conn: u64) -> Arrival {
    Arrival {
        transport: Transport::Tls,
        src: SocketAddr::new(ue_ip(), 40000 + conn as u16),
        dst: SocketAddr::new(pcscf_ip(), 5061),
        tls_connection: Some(conn),
    }
}
