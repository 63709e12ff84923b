//! Interoperability with freeDiameter as a Diameter relay agent (RFC 6733 §2.8.2) between our
//! CSCFs and our HSS (issue #11): our I-CSCF and S-CSCF (Diameter realm
//! `cscf.mnc001.mcc001.3gppnetwork.org`) connect only to freeDiameter and send their Cx
//! requests without Destination-Host; freeDiameter forwards each to the HSS because the HSS is
//! the peer of the request's Destination-Realm. SIPp registers demo subscribers through our
//! P-CSCF; tshark checks on the capture that the requests reached the HSS relayed
//! (Route-Record of the relay, no Destination-Host) and that nothing we sent is malformed or
//! carries an expert warning.
//!
//! Fails (does not skip) when freeDiameterd, openssl, sipp or tshark is missing.

mod common;
mod interop;

use std::net::SocketAddr;

use common::*;
use interop::*;
use testkit::netns::tshark_fields;
use testkit::scratch::{free_tcp_port, TempDir};

const N: u64 = 60;
const RATE: u32 = 30;
const LOCAL_IP: &str = "127.0.0.1";
const CSCF_REALM: &str = "cscf.mnc001.mcc001.3gppnetwork.org";

#[test]
fn registrations_go_through_a_freediameter_relay_routing_by_realm() {
    let tmp = TempDir::new("interop-freediameter");
    let dir = tmp.path();
    let ports = pick_ports();
    let relay = free_tcp_port();
    let cfg = our_config(dir, &ports, |t| {
        let mut t = t;
        for host in [ICSCF_HOST, SCSCF_HOST] {
            let from = format!("origin_host = \"{host}\"\norigin_realm = \"{REALM}\"");
            assert!(t.contains(&from), "config example changed");
            t = t.replace(
                &from,
                &format!("origin_host = \"{host}\"\norigin_realm = \"{CSCF_REALM}\""),
            );
        }
        let from = format!("hss_addr = \"127.0.0.1:{}\"", ports.hss);
        assert_eq!(t.matches(&from).count(), 2, "config example changed");
        t.replace(
            &from,
            &format!("hss_addr = \"127.0.0.1:{relay}\"\nrelay_host = \"{DRA_HOST}\""),
        )
    });
    let capture = Capture::start(
        dir,
        "freediameter",
        &[ports.pcscf, ports.icscf, ports.scscf, ports.hss, relay],
    );
    let mut hss = imscore_run(dir, &cfg, "hss", N + 1);
    let mut dra = freediameter(dir, relay, ports.hss, &[ICSCF_HOST, SCSCF_HOST]);
    let mut scscf = imscore_run(dir, &cfg, "scscf", 0);
    let mut icscf = imscore_run(dir, &cfg, "icscf", 0);
    let mut pcscf = imscore_run(dir, &cfg, "pcscf", 0);
    let scenario = std::path::PathBuf::from(SCENARIO);
    let target = SocketAddr::from(([127, 0, 0, 1], ports.pcscf));
    let ue = Sipp {
        scenario: &scenario,
        local_ip: LOCAL_IP,
        target,
    };
    warm_up(
        dir,
        &ue,
        N + 1,
        &mut [&mut hss, &mut dra, &mut scscf, &mut icscf, &mut pcscf],
    );

    let t = register_all(
        dir,
        "freediameter",
        &ue,
        1,
        N,
        RATE,
        &[&hss, &dra, &scscf, &icscf, &pcscf],
    );
    assert_eq!(t.keys_leaked, 0, "the P-CSCF let CK/IK through to the UE");
    for p in [&mut hss, &mut dra, &mut scscf, &mut icscf, &mut pcscf] {
        p.assert_running();
    }
    let pcap = capture.stop();
    drop((pcscf, icscf, scscf, dra, hss));

    // Every Cx request the HSS received came from the relay (Route-Record), addressed by realm
    let (hss_dec, relay_dec) = (
        format!("tcp.port=={},diameter", ports.hss),
        format!("tcp.port=={relay},diameter"),
    );
    let rows = tshark_fields(
        None,
        &pcap,
        &["-d", &hss_dec, "-d", &relay_dec],
        &format!(
            "tcp.dstport == {} && diameter.flags.request == 1 && diameter.cmd.code in {{300, 301, 303}}",
            ports.hss
        ),
        &[
            "diameter.cmd.code",
            "diameter.Destination-Realm",
            "diameter.Destination-Host",
            "diameter.Route-Record",
            "diameter.Origin-Realm",
        ],
    );
    // one row per frame; a frame may hold several messages (values joined with ',')
    let mut requests = 0usize;
    for line in &rows {
        let f: Vec<Vec<&str>> = line
            .iter()
            .map(|v| v.split(',').filter(|x| !x.is_empty()).collect())
            .collect();
        assert_eq!(f.len(), 5, "{line:?}");
        let n = f[0].len();
        requests += n;
        assert!(
            f[1].iter().all(|r| *r == REALM) && f[1].len() == n,
            "Destination-Realm: {line:?}"
        );
        assert!(
            f[2].is_empty(),
            "a Destination-Host reached the HSS: {line:?}"
        );
        // RFC 6733 §6.1.9: a relay records the peer it received the request from
        assert!(
            f[3].len() == n && f[3].iter().all(|r| *r == ICSCF_HOST || *r == SCSCF_HOST),
            "not relayed (Route-Record): {line:?}"
        );
        assert!(
            f[4].iter().all(|r| *r == CSCF_REALM),
            "Origin-Realm: {line:?}"
        );
    }
    // per registration at least UAR, MAR, SAR
    assert!(
        requests >= 3 * N as usize,
        "the HSS received only {requests} Cx requests:\n{rows:?}"
    );

    // ...and the relay was the HSS's only Diameter peer (CER, RFC 6733 §5.3)
    let cers = tshark_fields(
        None,
        &pcap,
        &["-d", &hss_dec],
        &format!("tcp.dstport == {} && diameter.cmd.code == 257", ports.hss),
        &["diameter.Origin-Host"],
    );
    assert!(!cers.is_empty(), "no CER reached the HSS");
    assert!(
        cers.iter().all(|l| l.len() == 1 && l[0] == DRA_HOST),
        "peers of the HSS: {cers:?}"
    );

    let v = judge(
        &pcap,
        &[ports.pcscf, ports.icscf, ports.scscf],
        &[ports.hss, relay],
        &[ports.pcscf, ports.icscf, ports.scscf],
        &[HSS_HOST, ICSCF_HOST, SCSCF_HOST],
    );
    assert_clean("freediameter", &v, 8 * N as usize, 6 * N as usize);
}
