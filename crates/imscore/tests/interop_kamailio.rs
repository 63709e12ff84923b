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

#[test]
fn sipp_registers_through_kamailio_icscf_and_scscf_with_our_hss() {
    let tmp = TempDir::new("interop-kamailio-is");
    let dir = tmp.path();
    let ports = pick_ports(11);
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
    let scenario = icscf_scenario(dir);
    let target = SocketAddr::from(([127, 0, 0, 1], ports.icscf));
    warm_up(
        dir,
        &scenario,
        target,
        N + 1,
        &mut [&mut hss, &mut scscf, &mut icscf],
    );

    register_all(
        dir,
        "kamailio-is",
        &scenario,
        target,
        1,
        N,
        RATE,
        &[&hss, &scscf, &icscf],
    );
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
