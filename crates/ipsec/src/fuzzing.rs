//! Entry points for the fuzz targets (`crates/ipsec/fuzz`) and the corpus test
//! (`tests/fuzz_corpus.rs`). They must never panic on any input; they do panic (on purpose) when a
//! round-trip property of the engine is violated.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use hmac::{Hmac, Mac};
use sha1::Sha1;

use aka::ipsec::{EncryptionAlg, IntegrityAlg};
use aka::{Ck, Ik};

use crate::esp::{InboundSa, OutboundSa, SaKeys, ESP_HEADER_LEN, ICV_LEN};
use crate::packet::{open_ip_packet, parse_ip, ports, seal_ip_packet};
use crate::sa_set::{Endpoint, ImsSaSet};
use crate::table::SaTable;

const PAIRS: [(IntegrityAlg, EncryptionAlg); 6] = [
    (IntegrityAlg::HmacMd5_96, EncryptionAlg::Null),
    (IntegrityAlg::HmacMd5_96, EncryptionAlg::AesCbc),
    (IntegrityAlg::HmacMd5_96, EncryptionAlg::DesEde3Cbc),
    (IntegrityAlg::HmacSha1_96, EncryptionAlg::Null),
    (IntegrityAlg::HmacSha1_96, EncryptionAlg::AesCbc),
    (IntegrityAlg::HmacSha1_96, EncryptionAlg::DesEde3Cbc),
];

/// SPI of the fuzzing SAs.
pub const FUZZ_SPI: u32 = 0x0000_1000;

/// The keys of alg pair `pair % 6` (md5/sha1 × null/aes/3des) used by the fuzz entry points.
pub fn keys(pair: usize) -> SaKeys {
    let (integ, encr) = PAIRS[pair % PAIRS.len()];
    let ik = Ik::from_bytes(*b"fuzz-integrity!!");
    let ck = Ck::from_bytes(*b"fuzz-encryption!");
    SaKeys::from_aka(integ, &ik, encr, &ck)
}

/// `data[0]` picks the alg pair, the rest is:
/// 1. opened as an ESP packet (arbitrary bytes: must be rejected cleanly or accepted);
/// 2. sealed as a payload and opened again (must round-trip exactly; any single-byte change must
///    be rejected);
/// 3. with `hmac-sha-1-96` + `null`, given a *valid* ICV (computed here) so the padding and
///    trailer parsing behind the ICV check is reached by arbitrary bytes.
pub fn esp_open(data: &[u8]) {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let k = keys(usize::from(sel));
    let mut out = Vec::new();

    // 1. arbitrary packet
    let mut rx = InboundSa::new(FUZZ_SPI, &k).expect("valid fuzz SA");
    if rx.open(rest, &mut out).is_ok() {
        assert!(out.len() < rest.len());
    }

    // 2. round trip and tamper detection
    let payload = &rest[..rest.len().min(4096)];
    let mut tx = OutboundSa::new(FUZZ_SPI, &k).expect("valid fuzz SA");
    let mut rx = InboundSa::new(FUZZ_SPI, &k).expect("valid fuzz SA");
    let mut pkt = Vec::new();
    tx.seal(sel, payload, &mut pkt)
        .expect("seal of a small payload");
    let mut bad = pkt.clone();
    let pos = usize::from(sel) * 7 % bad.len();
    if let Some(b) = bad.get_mut(pos) {
        *b ^= 0x20;
    }
    assert!(rx.open(&bad, &mut out).is_err(), "tampered packet accepted");
    let o = rx.open(&pkt, &mut out).expect("own packet must open");
    assert_eq!((o.next_header, o.seq, out.as_slice()), (sel, 1, payload));
    assert!(rx.open(&pkt, &mut out).is_err(), "replay accepted");

    // 3. valid ICV over arbitrary SPI/seq/body (null encryption): exercises the trailer checks.
    let k = keys(3);
    let mut rx = InboundSa::new(FUZZ_SPI, &k).expect("valid fuzz SA");
    let mut p = Vec::with_capacity(ESP_HEADER_LEN + rest.len() + ICV_LEN);
    p.extend_from_slice(&FUZZ_SPI.to_be_bytes());
    p.extend_from_slice(rest);
    let Ok(mut mac) = <Hmac<Sha1> as Mac>::new_from_slice(k.integ_key.expose()) else {
        return;
    };
    mac.update(&p);
    let tag = mac.finalize().into_bytes();
    p.extend_from_slice(&tag[..ICV_LEN]);
    if let Ok(o) = rx.open(&p, &mut out) {
        // payload ‖ padding ‖ pad len ‖ next header = everything after SPI+seq
        assert!(out.len() + 2 <= rest.len().saturating_sub(4));
        assert!(
            rest.len() >= 4 && o.seq == u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]])
        );
    }
}

/// The UE and P-CSCF SA tables [`ip_packet`] uses (hmac-sha-1-96 + aes-cbc, UE 10.0.0.1 ports
/// 6000/6001 SPIs 0x1000/0x1001, P-CSCF 10.0.0.2 ports 5062/5064 SPIs 0x2000/0x2001).
pub fn fuzz_tables() -> (SaTable, SaTable) {
    let ue = Endpoint {
        addr: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
        port_c: 6000,
        port_s: 6001,
        spi_c: 0x1000,
        spi_s: 0x1001,
    };
    let pc = Endpoint {
        addr: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
        port_c: 5062,
        port_s: 5064,
        spi_c: 0x2000,
        spi_s: 0x2001,
    };
    let (mut ut, mut pt) = (SaTable::new(), SaTable::new());
    let k = keys(4);
    ImsSaSet {
        local: ue,
        remote: pc,
        keys: k.clone(),
    }
    .install(&mut ut)
    .expect("fresh table");
    ImsSaSet {
        local: pc,
        remote: ue,
        keys: k,
    }
    .install(&mut pt)
    .expect("fresh table");
    (ut, pt)
}

/// Treats `data` as an IP packet: parses it, opens it as an inbound ESP packet, and seals it as an
/// outbound TUN packet; a packet that seals must open on the peer to the same addresses, protocol
/// and transport segment.
pub fn ip_packet(data: &[u8]) {
    if let Ok((h, payload)) = parse_ip(data) {
        assert!(payload.len() <= data.len() - h.header_len);
        let _ = ports(h.protocol, payload);
    }
    let (mut ut, mut pt) = fuzz_tables();
    let (mut scratch, mut out) = (Vec::new(), Vec::new());
    if open_ip_packet(&mut pt, data, &mut scratch, &mut out).is_ok() {
        let _ = parse_ip(&out).expect("rebuilt packet parses");
    }
    let mut esp = Vec::new();
    if let Ok(h) = seal_ip_packet(&mut ut, data, &mut esp) {
        let (orig, segment) = parse_ip(data).expect("sealed packet parsed");
        assert_eq!(orig.src, h.src);
        let mut outer = Vec::new();
        let outer_h = crate::packet::IpHeader {
            protocol: crate::esp::IPPROTO_ESP,
            ..h
        };
        crate::packet::write_ip_header(&outer_h, esp.len(), &mut outer).expect("fits");
        outer.extend_from_slice(&esp);
        open_ip_packet(&mut pt, &outer, &mut scratch, &mut out).expect("peer opens our packet");
        let (back, back_seg) = parse_ip(&out).expect("inner parses");
        assert_eq!(
            (back.src, back.dst, back.protocol),
            (h.src, h.dst, h.protocol)
        );
        assert_eq!(back_seg, segment);
        let (sp, dp) = ports(h.protocol, segment).expect("sealed => has ports");
        let _ = (SocketAddr::new(h.src, sp), SocketAddr::new(h.dst, dp));
    }
}
