//! Acceptance test of issue #7: a registration answered 200 OK survives a restart of
//! `imscore up` on the same data directory (the SQLite registration store, TS 24.229 §5.4.1.2
//! registrar state and §5.2.2 P-CSCF state).
//!
//! Shown three ways: the S-CSCF's and P-CSCF's records in `registrations.sqlite` (through the
//! cscf store API), `imscore_registered_contacts` after the restart, and over the network — an
//! OPTIONS from a registered UE's flow is routed, while one from an unregistered flow gets the
//! P-CSCF's 403 (TS 24.229 §5.2.6.3.1).

mod common;

use std::collections::BTreeSet;

use common::*;
use cscf::store::{RegistrationStore, SqliteStore};

const NOT_REGISTERED: &str = "not registered";

/// OPTIONS requests the S-CSCF received so far.
fn scscf_options(core: &Core) -> f64 {
    core.metric_with(
        "imscore_sip_requests_total",
        &["role=\"scscf\"", "method=\"OPTIONS\""],
    )
}

/// Whether the P-CSCF refused a request as coming from an unregistered UE.
fn refused_unregistered(resp: &str) -> bool {
    status(resp) == Some(403)
        && resp
            .lines()
            .next()
            .is_some_and(|l| l.contains(NOT_REGISTERED))
}

fn store_check(data_dir: &std::path::Path, registered: &BTreeSet<String>, absent: &str, port: u16) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let store = SqliteStore::open_in_dir(data_dir)
            .await
            .expect("open store");
        for id in registered {
            let aor = impu(id);
            let reg = store
                .get_registration(&aor)
                .await
                .expect("read")
                .unwrap_or_else(|| panic!("S-CSCF lost the registration of {aor}"));
            assert_eq!(reg.value.impi, impi(id));
            let c = reg
                .value
                .contacts
                .iter()
                .find(|c| c.uri.contains(&format!(":{port}")))
                .unwrap_or_else(|| {
                    panic!("{aor}: SIPp's contact missing: {:?}", reg.value.contacts)
                });
            assert!(
                c.path.iter().any(|p| p.contains("pcscf.")),
                "{aor}: Path {:?}",
                c.path
            );
            let ue = store
                .get_ue_registration(&aor, &c.uri)
                .await
                .expect("read")
                .unwrap_or_else(|| panic!("P-CSCF lost the UE registration of {aor} {}", c.uri));
            assert_eq!(ue.flow.remote.port(), port);
            assert!(
                !ue.service_route.is_empty(),
                "{aor}: no Service-Route stored"
            );
        }
        let none = store.get_registration(&impu(absent)).await.expect("read");
        assert!(none.is_none(), "{absent} never registered");
    });
}

#[test]
fn registrations_survive_a_restart_of_imscore_up() {
    const N: u64 = 20;
    let dir = scratch("up-restart");
    let ports = pick_ports();
    let core = Core::start(&dir, ports, 50, "first");
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
            rate: 20,
            local_port: sipp_port,
            deadline_secs: 30,
        },
    );
    assert!(run.status.is_some(), "SIPp did not finish:\n{}", run.output);
    let all = outcomes(&run.trace);
    assert_eq!(
        all.len() as u64,
        N,
        "one Call-ID per registration; SIPp said:\n{}",
        run.output
    );
    let mut registered = BTreeSet::new();
    for (cid, o) in all {
        let zero = o.nonce.as_deref().is_some_and(res_has_zero);
        match o.final_status {
            Some(200) => {
                registered.insert(o.imsi.clone().expect("IMSI of the call"));
            }
            s => assert!(zero, "{cid}: {s:?} though RES has no 0x00 byte"),
        }
    }
    assert!(
        !registered.is_empty(),
        "nothing registered:\n{}",
        run.output
    );
    let n = registered.len();
    assert_eq!(core.wait_registered_contacts(n, 10), Some(n as f64));

    // over the network, before: the registered flow is let through, another is refused
    let probe = registered.iter().next().cloned().expect("one registered");
    let mut ue = Ue::bind(sipp_port, core.pcscf());
    let before = ue.options(&probe).expect("answer to OPTIONS");
    assert!(!refused_unregistered(&before), "before restart: {before}");
    // the P-CSCF sent it along the stored Service-Route, to the S-CSCF (which routes it on towards
    // the home domain's I-CSCF, and it may come back for terminating handling: count per OPTIONS)
    let per = scscf_options(&core);
    assert!(per >= 1.0, "OPTIONS at the S-CSCF: {per}");
    eprintln!(
        "OPTIONS from a registered flow: {}",
        before.lines().next().unwrap_or("")
    );
    drop(ue);
    let mut stranger = Ue::bind(0, core.pcscf());
    let refused = stranger.options(&imsi(N + 5)).expect("answer to OPTIONS");
    assert!(
        refused_unregistered(&refused),
        "unregistered flow: {refused}"
    );
    assert_eq!(scscf_options(&core), per, "a refused OPTIONS went on");
    eprintln!(
        "OPTIONS from an unregistered flow: {}",
        refused.lines().next().unwrap_or("")
    );
    drop(stranger);

    let st = core.stop();
    assert!(st.success(), "imscore up exit status after SIGINT: {st}");
    let data_dir = dir.join("data");
    store_check(&data_dir, &registered, &imsi(N + 5), sipp_port);

    // second start, same data directory
    let core = Core::start(&dir, ports, 50, "second");
    assert_eq!(
        core.wait_registered_contacts(n, 10),
        Some(n as f64),
        "registered contacts after restart"
    );
    let mut ue = Ue::bind(sipp_port, core.pcscf());
    for id in &registered {
        let after = ue.options(id).expect("answer to OPTIONS");
        assert!(
            !refused_unregistered(&after),
            "after restart, {id}: {after}"
        );
    }
    assert_eq!(
        scscf_options(&core),
        n as f64 * per,
        "OPTIONS along the Service-Route"
    );
    let mut stranger = Ue::bind(0, core.pcscf());
    let refused = stranger.options(&imsi(N + 5)).expect("answer to OPTIONS");
    assert!(
        refused_unregistered(&refused),
        "unregistered flow after restart: {refused}"
    );
    assert_eq!(
        scscf_options(&core),
        n as f64 * per,
        "a refused OPTIONS went on"
    );
    store_check(&data_dir, &registered, &imsi(N + 5), sipp_port);
    let st = core.stop();
    assert!(st.success(), "second exit status: {st}");
}
