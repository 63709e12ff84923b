//! Acceptance tests of issue #7 against the real `imscore up` binary, on private loopback ports:
//!
//! * SIPp (3.6, Debian sip-tester) registers 1000 demo subscribers with IMS-AKA through the
//!   P-CSCF (TS 24.229 §5.1.1.2 / §5.2.2 / §5.3.1 / §5.4.1, TS 33.203 §6.1, RFC 3310). SIPp 3.6
//!   handles RES as a C string, so a RES holding a 0x00 byte gives a wrong response (403). The
//!   test recomputes RES = f2(K, RAND) for every challenge and requires: every registration
//!   whose RES has no 0x00 byte succeeds, and every failure is one whose RES has one.
//! * A wrong K never registers: SIPp refuses the challenge (its AUTN check fails) and a UE that
//!   skips the AUTN check and answers with RES = f2(wrong K, RAND) gets 403 every time.
//!
//! Fails (does not skip) when `sipp` is not installed.

mod common;

use common::*;

#[test]
fn sipp_registers_1000_demo_subscribers_with_ims_aka() {
    const N: u64 = 1000;
    let dir = scratch("up-sipp-1000");
    let core = Core::start(&dir, pick_ports(), N, "core");
    assert!(
        core.banner.contains("demo subscribers: 1000"),
        "{}",
        core.banner
    );
    let csv = dir.join("demo.csv");
    write_csv(&csv, 1, N, &DEMO_K);
    let sipp_port = free_udp_port();
    let run = run_sipp(
        &dir,
        core.pcscf(),
        SippJob {
            tag: "sipp",
            csv: &csv,
            count: N as usize,
            rate: 100,
            local_port: sipp_port,
            deadline_secs: 90,
        },
    );
    assert!(
        run.status.is_some(),
        "SIPp did not finish in time:\n{}",
        run.output
    );
    assert!(
        !run.output.contains("MAC != eXpectedMAC"),
        "SIPp rejected our AUTN:\n{}",
        run.output
    );

    let outcomes = outcomes(&run.trace);
    assert_eq!(
        outcomes.len(),
        N as usize,
        "one Call-ID per registration; SIPp exited with {:?}:\n{}",
        run.status,
        run.output
    );
    let (mut ok, mut zero_failed, mut zero_ok) = (0usize, 0usize, 0usize);
    let mut wrong = Vec::new();
    for (cid, o) in &outcomes {
        let nonce = o
            .nonce
            .as_deref()
            .unwrap_or_else(|| panic!("{cid}: no 401 challenge: {o:?}"));
        assert!(!o.keys_leaked, "{cid}: ck/ik reached the UE");
        assert!(o.answered, "{cid}: SIPp did not answer the challenge");
        let zero = res_has_zero(nonce);
        match (o.final_status, zero) {
            (Some(200), false) => ok += 1,
            (Some(200), true) => {
                ok += 1;
                zero_ok += 1;
            }
            // SIPp's defect: a wrong response, which must be refused (never accepted)
            (Some(403), true) => zero_failed += 1,
            _ => wrong.push(format!(
                "{cid}: {:?} (RES has 0x00: {zero})",
                o.final_status
            )),
        }
    }
    eprintln!(
        "{N} registrations: {ok} OK, {zero_failed} refused with 403 whose RES has a 0x00 byte \
         (SIPp 3.6 defect), {zero_ok} OK despite a 0x00 in RES"
    );
    assert!(
        wrong.is_empty(),
        "{} registrations failed that must not have:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    assert_eq!(ok + zero_failed, N as usize);
    // the P-CSCF holds one contact per registered subscriber
    let seen = core.wait_registered_contacts(ok, 10);
    assert_eq!(seen, Some(ok as f64), "imscore_registered_contacts");
}

#[test]
fn wrong_k_never_registers() {
    const N: u64 = 20;
    let dir = scratch("up-sipp-wrong-k");
    let core = Core::start(&dir, pick_ports(), 50, "core");
    let mut wrong_k = DEMO_K;
    wrong_k[15] ^= 0x01; // "imscore-demo-kex"

    // SIPp checks AUTN (MAC) with the K it was given: with a wrong K it refuses the challenge
    // and stops the run; it never sends a response, so nothing registers.
    let csv = dir.join("wrong-k.csv");
    write_csv(&csv, 1, N, &wrong_k);
    let run = run_sipp(
        &dir,
        core.pcscf(),
        SippJob {
            tag: "sipp",
            csv: &csv,
            count: N as usize,
            rate: 20,
            local_port: free_udp_port(),
            deadline_secs: 30,
        },
    );
    assert!(
        run.status.is_some(),
        "SIPp did not finish in time:\n{}",
        run.output
    );
    assert!(
        !run.status.is_some_and(|s| s.success()),
        "SIPp succeeded with a wrong K"
    );
    assert!(run.output.contains("MAC != eXpectedMAC"), "{}", run.output);
    for (cid, o) in outcomes(&run.trace) {
        assert_ne!(o.final_status, Some(200), "{cid} registered with a wrong K");
    }

    // A UE that ignores AUTN and answers with RES = f2(wrong K, RAND): 403 every time.
    let mut ue = Ue::bind(0, core.pcscf());
    for i in 1..=N {
        let (st, nonce) = ue.register(&imsi(i), &wrong_k);
        assert!(nonce.is_some(), "subscriber {i}: no challenge");
        assert_eq!(st, Some(403), "subscriber {i} with a wrong K");
    }
    // the same UE with the right K registers (so the 403s above are about K)
    let (st, _) = ue.register(&imsi(N + 1), &DEMO_K);
    assert_eq!(st, Some(200), "control registration with the right K");
    assert_eq!(core.wait_registered_contacts(1, 10), Some(1.0));
}
