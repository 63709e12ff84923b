//! The Wireshark judge of the interoperability tests (issue #11) can fail: on a capture where
//! "we" (the Diameter peer whose CEA names our HSS) send a message with a broken AVP, tshark's
//! verdict lists it; on the same capture without it, the verdict is clean. The Diameter bytes
//! are written here by hand (RFC 6733 §3, §4.1) so that no encoder of ours is involved.
//!
//! Fails (does not skip) when tshark is missing.

mod common;
mod interop;

use interop::*;
use testkit::pcap::Pcap;
use testkit::scratch::TempDir;

const PORT: u16 = 3868;

fn avp(code: u32, data: &[u8]) -> Vec<u8> {
    let len = 8 + data.len();
    let mut a = code.to_be_bytes().to_vec();
    a.push(0x40); // M
    a.extend_from_slice(&(len as u32).to_be_bytes()[1..]);
    a.extend_from_slice(data);
    a.resize(len.div_ceil(4) * 4, 0);
    a
}

fn message(request: bool, code: u32, hbh: u32, avps: &[Vec<u8>]) -> Vec<u8> {
    let body: Vec<u8> = avps.concat();
    let mut m = vec![1];
    m.extend_from_slice(&((20 + body.len()) as u32).to_be_bytes()[1..]);
    m.push(if request { 0x80 } else { 0 });
    m.extend_from_slice(&code.to_be_bytes()[1..]);
    m.extend_from_slice(&0u32.to_be_bytes());
    m.extend_from_slice(&hbh.to_be_bytes());
    m.extend_from_slice(&hbh.to_be_bytes());
    m.extend(body);
    m
}

fn capture(broken: bool) -> Vec<u8> {
    let mut p = Pcap::new(PORT);
    let ip = [0, 1, 127, 0, 0, 1];
    // CER from the peer, CEA from us (RFC 6733 §5.3)
    p.send(
        true,
        &message(
            true,
            257,
            1,
            &[
                avp(264, b"peer.example"),
                avp(296, b"example"),
                avp(257, &ip),
                avp(266, &0u32.to_be_bytes()),
                avp(269, b"peer"),
            ],
        ),
    );
    p.send(
        false,
        &message(
            false,
            257,
            1,
            &[
                avp(268, &2001u32.to_be_bytes()),
                avp(264, HSS_HOST.as_bytes()),
                avp(296, b"ims.mnc001.mcc001.3gppnetwork.org"),
                avp(257, &ip),
                avp(266, &0u32.to_be_bytes()),
                avp(269, b"imscore"),
            ],
        ),
    );
    // DWR from the peer, DWA from us
    p.send(
        true,
        &message(
            true,
            280,
            2,
            &[avp(264, b"peer.example"), avp(296, b"example")],
        ),
    );
    let mut dwa = message(
        false,
        280,
        2,
        &[
            avp(268, &2001u32.to_be_bytes()),
            avp(264, HSS_HOST.as_bytes()),
            avp(296, b"ims.mnc001.mcc001.3gppnetwork.org"),
        ],
    );
    if broken {
        // Result-Code's AVP length says 9: its Unsigned32 value is then 1 byte long
        dwa[20 + 7] = 9;
    }
    p.send(false, &dwa);
    p.finish()
}

#[test]
fn the_judge_flags_a_broken_message_we_sent_and_passes_a_clean_one() {
    let tmp = TempDir::new("interop-judge");
    for broken in [false, true] {
        let f = tmp.path().join(format!("judge-{broken}.pcap"));
        std::fs::write(&f, capture(broken)).expect("pcap");
        let v = judge(&f, &[], &[PORT], &[], &[HSS_HOST]);
        eprintln!("broken: {broken}: {v:?}");
        assert_eq!(v.our_diameter, 2, "CEA and DWA are ours: {v:?}");
        assert_eq!(v.their_messages, 2, "CER and DWR are the peer's: {v:?}");
        if broken {
            assert!(
                !v.problems.is_empty(),
                "tshark missed the broken AVP: {v:?}"
            );
        } else {
            assert!(v.problems.is_empty(), "{v:?}");
        }
    }
}
