//! Entry points of the fuzz targets (`crates/ue/fuzz`), also run over the seed corpus by
//! `tests/fuzz_corpus.rs`. Each must return normally for every input.

use std::time::Instant;

use crate::isim::{Isim, OperatorKey};
use crate::register::{Credentials, Event, Ue, UeConfig};
use crate::security::{IpsecOffer, SecurityOffer};

/// Parses a reginfo body (RFC 3680); errors are fine, panics are not.
pub fn reginfo(data: &[u8]) {
    let _ = crate::reginfo::parse(data);
}

fn fuzz_ue() -> Option<Ue> {
    let k = aka::K::from_bytes([0x46; 16]);
    let opc = aka::Opc::from_bytes([0xcd; 16]);
    let isim = Isim::new(&k, &OperatorKey::Opc(opc), aka::Amf([0x80, 0])).ok()?;
    let mut cfg = UeConfig::new("u@ims.test", "sip:u@ims.test", "ims.test", "10.0.0.1", 5060);
    cfg.security = SecurityOffer {
        ipsec: Some(IpsecOffer::all_algorithms(1, 2, 3, 4)),
        tls: true,
    };
    Ue::new(cfg, Credentials::Aka(Box::new(isim))).ok()
}

/// Parses `data` as a SIP message and feeds it to a UE that just sent its first REGISTER, as a
/// response and as a request; also renders it as a trace line. Must never panic.
pub fn ue_input(data: &[u8]) {
    let Ok(msg) = sip::Message::parse(data.to_vec()) else {
        return;
    };
    let _ = crate::trace::line(crate::trace::Direction::In, &msg);
    let Some(mut ue) = fuzz_ue() else { return };
    let now = Instant::now();
    let _ = ue.handle(Event::Start, now);
    let _ = ue.handle(Event::Response(msg.clone()), now);
    let _ = ue.handle(Event::Request(msg), now);
    let _ = ue.handle(Event::Stop, now);
}
