//! Interoperability with Kamailio 5.6's IMS modules (issue #11), SIPp as the UE, tshark as the
//! judge:
//!
//! * our HSS behind Kamailio's I-CSCF (ims_icscf) and S-CSCF (ims_registrar_scscf, ims_auth,
//!   ims_usrloc_scscf) over Diameter Cx (TS 29.228/29.229): SIPp registers demo subscribers
//!   with IMS-AKA (TS 33.203 §6.1, RFC 3310) through them;
//! * our P-CSCF and I-CSCF in front of Kamailio's S-CSCF (with our HSS).
//!
//! Every registration whose RES has no 0x00 byte must succeed (SIPp 3.6 answers the others
//! wrongly, see `up_sipp.rs`), and tshark must find no malformed packet and no expert item of
//! warning level or above in the SIP and Diameter messages we sent.
//!
//! Fails (does not skip) when kamailio, sipp, tshark, sqlite3 or unshare is missing.

mod common;
mod interop;

use std::net::SocketAddr;

use common::*;
use interop::*;
use testkit::scratch::TempDir;

const N: u64 = 60;
const RATE: u32 = 30;
const LOCAL_IP: &str = "127.0.0.1";

#[test]
fn sipp_registers_through_kamailio_icscf_and_scscf_with_our_hss() {
    let tmp = TempDir::new("interop-kamailio-is");
    let dir = tmp.path();
    let ports = pick_ports();
    let cfg = our_config(dir, &ports, |t| t);
    let capture = Capture::start(dir, "kamailio-is", &[ports.icscf, ports.scscf, ports.hss]);
    let mut hss = imscore_run(dir, &cfg, "hss", N + 1);
    let mut scscf = kamailio(dir, KamailioRole::Scscf, ports.scscf, ports.hss);
    let mut icscf = kamailio(
        dir,
        KamailioRole::Icscf {
            scscf_uri: format!("sip:{SCSCF_HOST}:{}", ports.scscf),
        },
        ports.icscf,
        ports.hss,
    );
    let scenario = scenario_variant(dir, true, KAMAILIO_UE_THINK_MS);
    let target = SocketAddr::from(([127, 0, 0, 1], ports.icscf));
    let ue = Sipp {
        scenario: &scenario,
        local_ip: LOCAL_IP,
        target,
    };
    warm_up(dir, &ue, N + 1, &mut [&mut hss, &mut scscf, &mut icscf]);

    register_all(dir, "kamailio-is", &ue, 1, N, RATE, &[&hss, &scscf, &icscf]);
    for p in [&mut hss, &mut scscf, &mut icscf] {
        p.assert_running();
    }
    let pcap = capture.stop();
    drop((icscf, scscf, hss));
    // what we sent: the HSS's Diameter (UAA, MAA, SAA, CEA, DWA/DWR)
    let v = judge(
        &pcap,
        &[ports.icscf, ports.scscf],
        &[ports.hss],
        &[],
        &[HSS_HOST],
    );
    // per registration at least UAA, MAA, SAA
    assert_clean("kamailio-is", &v, 0, 3 * N as usize);
}

#[test]
fn sipp_registers_through_our_pcscf_and_icscf_in_front_of_kamailio_scscf() {
    let tmp = TempDir::new("interop-kamailio-s");
    let dir = tmp.path();
    let ports = pick_ports();
    // our I-CSCF's S-CSCF (sip:scscf...:<ports.scscf>, in its host table) is Kamailio's
    let cfg = our_config(dir, &ports, |t| t);
    let capture = Capture::start(
        dir,
        "kamailio-s",
        &[ports.pcscf, ports.icscf, ports.scscf, ports.hss],
    );
    let mut hss = imscore_run(dir, &cfg, "hss", N + 1);
    let mut scscf = kamailio(dir, KamailioRole::Scscf, ports.scscf, ports.hss);
    let mut icscf = imscore_run(dir, &cfg, "icscf", 0);
    let mut pcscf = imscore_run(dir, &cfg, "pcscf", 0);
    let scenario = scenario_variant(dir, false, KAMAILIO_UE_THINK_MS);
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
        &mut [&mut hss, &mut scscf, &mut icscf, &mut pcscf],
    );

    let t = register_all(
        dir,
        "kamailio-s",
        &ue,
        1,
        N,
        RATE,
        &[&hss, &scscf, &icscf, &pcscf],
    );
    assert_eq!(t.keys_leaked, 0, "the P-CSCF let CK/IK through to the UE");
    for p in [&mut hss, &mut scscf, &mut icscf, &mut pcscf] {
        p.assert_running();
    }
    let pcap = capture.stop();
    drop((pcscf, icscf, scscf, hss));
    // what we sent: SIP from our P-CSCF and I-CSCF, Diameter from the HSS and the I-CSCF
    let v = judge(
        &pcap,
        &[ports.pcscf, ports.icscf, ports.scscf],
        &[ports.hss],
        &[ports.pcscf, ports.icscf],
        &[HSS_HOST, ICSCF_HOST],
    );
    // per registration: REGISTERs and responses at each of our two proxies
    assert_clean("kamailio-s", &v, 6 * N as usize, 3 * N as usize);
}

#[test]
fn sipp_registers_through_kamailio_pcscf_in_front_of_our_icscf_and_scscf() {
    let tmp = TempDir::new("interop-kamailio-p");
    let dir = tmp.path();
    // ims_ipsec_pcscf flushes the XFRM state of its network namespace: give it its own
    let ns = Netns::create();
    let ports = pick_ports();
    let kam_port = testkit::scratch::free_udp_port();
    // our I-CSCF also listens on our end of the veth pair
    let cfg = our_config(dir, &ports, |t| {
        let from = format!(
            "listen = [\"udp:127.0.0.1:{p}\", \"tcp:127.0.0.1:{p}\"]",
            p = ports.icscf
        );
        assert!(t.contains(&from), "config example changed");
        t.replace(
            &from,
            &format!(
                "listen = [\"udp:127.0.0.1:{p}\", \"tcp:127.0.0.1:{p}\", \"udp:{ip}:{p}\"]",
                p = ports.icscf,
                ip = ns.host_ip
            ),
        )
    });
    let capture = Capture::start_on(
        dir,
        "kamailio-p",
        &["lo", &ns.host_if],
        &[kam_port, ports.icscf, ports.scscf, ports.hss],
    );
    let mut hss = imscore_run(dir, &cfg, "hss", N + 1);
    let mut scscf = imscore_run(dir, &cfg, "scscf", 0);
    let mut icscf = imscore_run(dir, &cfg, "icscf", 0);
    let mut pcscf = kamailio(
        dir,
        KamailioRole::Pcscf {
            netns: ns.name.clone(),
            addr: ns.ns_ip.clone(),
            icscf: format!("{ICSCF_HOST}:{}", ports.icscf),
            peer_ip: ns.host_ip.clone(),
        },
        kam_port,
        0,
    );
    let scenario = std::path::PathBuf::from(SCENARIO);
    let target: SocketAddr = format!("{}:{kam_port}", ns.ns_ip).parse().expect("addr");
    let ue = Sipp {
        scenario: &scenario,
        local_ip: &ns.host_ip,
        target,
    };
    warm_up(
        dir,
        &ue,
        N + 1,
        &mut [&mut hss, &mut scscf, &mut icscf, &mut pcscf],
    );

    let t = register_all(
        dir,
        "kamailio-p",
        &ue,
        1,
        N,
        RATE,
        &[&hss, &scscf, &icscf, &pcscf],
    );
    assert_eq!(t.keys_leaked, 0, "the P-CSCF let CK/IK through to the UE");
    for p in [&mut hss, &mut scscf, &mut icscf, &mut pcscf] {
        p.assert_running();
    }
    let pcap = capture.stop();
    drop((pcscf, icscf, scscf, hss));
    // what we sent: SIP from our I-CSCF and S-CSCF, Diameter from all three of ours
    let v = judge(
        &pcap,
        &[kam_port, ports.icscf, ports.scscf],
        &[ports.hss],
        &[ports.icscf, ports.scscf],
        &[HSS_HOST, ICSCF_HOST, SCSCF_HOST],
    );
    assert_clean("kamailio-p", &v, 6 * N as usize, 6 * N as usize);
}
