//! Acceptance test of issue #7, judged by tshark's dissectors on a loopback capture of
//! `imscore up` while SIPp registers a few demo subscribers:
//!
//! * Cx (TS 29.228 §6.1, TS 29.229 §6.1): per registration UAR, MAR, UAR, SAR, each answered
//!   with a success result.
//! * SIP (TS 24.229 §5.2.2, §5.4.1.2): the P-CSCF adds Path (its own URI),
//!   P-Visited-Network-ID, P-Charging-Vector with an icid-value unique per registration, and
//!   `integrity-protected` in Authorization; the S-CSCF's 401 carries ck and ik, the 401 the UE
//!   gets does not; the 200 carries Service-Route, P-Associated-URI and the Path.
//!
//! Fails (does not skip) when `tshark` or `sipp` is missing.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::*;
use serde_json::Value;
use testkit::netns::Capture;

/// A dumpcap capture on `lo` of the core's ports; killed on drop.
fn capture(file: &Path, ports: &Ports) -> Capture {
    let filter = [ports.pcscf, ports.icscf, ports.scscf, ports.hss]
        .iter()
        .map(|p| format!("port {p}"))
        .collect::<Vec<_>>()
        .join(" or ");
    Capture::start(None, &["lo"], Some(&filter), file)
}

/// The capture decoded as JSON (`--no-duplicate-keys`: repeated PDUs become arrays).
fn decode(file: &Path, ports: &Ports, display_filter: &str) -> Vec<Value> {
    let mut args: Vec<String> = vec!["-r".into(), file.display().to_string()];
    for p in [ports.pcscf, ports.icscf, ports.scscf] {
        args.extend(["-d".into(), format!("udp.port=={p},sip")]);
        args.extend(["-d".into(), format!("tcp.port=={p},sip")]);
    }
    args.extend(["-d".into(), format!("tcp.port=={},diameter", ports.hss)]);
    args.extend([
        "-Y".into(),
        display_filter.into(),
        "-T".into(),
        "json".into(),
    ]);
    args.push("--no-duplicate-keys".into());
    let out = Command::new("tshark")
        .args(&args)
        .output()
        .expect("tshark -r");
    assert!(
        out.status.success(),
        "tshark -r failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("tshark JSON")
}

/// The layer `name` of a packet: one object per PDU.
fn pdus<'a>(pkt: &'a Value, name: &str) -> Vec<&'a Value> {
    match pkt.pointer(&format!("/_source/layers/{name}")) {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(v @ Value::Object(_)) => vec![v],
        _ => Vec::new(),
    }
}

/// Every value of field `key` anywhere under `v` (AVPs and headers nest).
fn all(v: &Value, key: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                if k == key {
                    match x {
                        Value::String(s) => out.push(s.clone()),
                        Value::Array(a) => {
                            out.extend(a.iter().filter_map(|s| s.as_str().map(String::from)))
                        }
                        _ => {}
                    }
                }
                all(x, key, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| all(x, key, out)),
        _ => {}
    }
}

fn first(v: &Value, key: &str) -> Option<String> {
    let mut o = Vec::new();
    all(v, key, &mut o);
    o.into_iter().next()
}

fn port_of(pkt: &Value, which: &str) -> Option<u16> {
    ["udp", "tcp"].iter().find_map(|t| {
        pkt.pointer(&format!("/_source/layers/{t}/{t}.{which}"))
            .and_then(|v| v.as_str())
            .and_then(|s| s.parse().ok())
    })
}

#[test]
fn tshark_sees_uar_mar_uar_sar_and_the_registration_headers() {
    const N: u64 = 10;
    let dir = scratch("up-tshark");
    let ports = pick_ports();
    let core = Core::start(&dir, ports, 20, "core");
    let pcap = dir.join("register.pcapng");
    let cap = capture(&pcap, &ports);
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
            rate: 10,
            local_port: sipp_port,
            deadline_secs: 30,
        },
    );
    std::thread::sleep(Duration::from_millis(500));
    cap.stop();
    assert!(run.status.is_some(), "SIPp did not finish:\n{}", run.output);
    let all_calls = outcomes(&run.trace);
    let registered: BTreeSet<String> = all_calls
        .iter()
        .filter(|(_, o)| o.final_status == Some(200))
        .map(|(cid, _)| cid.clone())
        .collect();
    let imsi_of = |cid: &str| -> String {
        all_calls
            .get(cid)
            .and_then(|o| o.imsi.clone())
            .unwrap_or_else(|| panic!("no REGISTER for {cid}"))
    };
    // only a RES with a 0x00 byte (SIPp 3.6's defect) may fail
    for (cid, o) in &all_calls {
        let zero = o.nonce.as_deref().is_some_and(res_has_zero);
        assert!(
            o.final_status == Some(200) || zero,
            "{cid}: {:?} though RES has no 0x00 byte\n{}",
            o.final_status,
            run.output
        );
    }
    assert_eq!(all_calls.len() as u64, N, "one Call-ID per registration");
    assert!(!registered.is_empty());

    // ---- Cx: per IMPI, requests in order UAR MAR UAR SAR, each answered with success
    let dia = decode(&pcap, &ports, "diameter");
    let mut requests: BTreeMap<String, Vec<(u32, String)>> = BTreeMap::new(); // impi → (cmd, hbh)
    let mut answers: BTreeMap<String, (u32, bool)> = BTreeMap::new(); // hbh → (cmd, success)
    for pkt in &dia {
        let stream = first(pkt, "tcp.stream").unwrap_or_default();
        for pdu in pdus(pkt, "diameter") {
            let cmd: u32 = first(pdu, "diameter.cmd.code")
                .and_then(|c| c.parse().ok())
                .unwrap_or(0);
            let hbh = format!(
                "{stream}/{}",
                first(pdu, "diameter.hopbyhopid").unwrap_or_default()
            );
            let is_request = first(pdu, "diameter.flags.request")
                .is_some_and(|r| r == "1" || r == "True" || r == "true");
            if !(300..=303).contains(&cmd) {
                continue; // CER/DWR
            }
            if is_request {
                let user = first(pdu, "diameter.User-Name").unwrap_or_default();
                requests.entry(user).or_default().push((cmd, hbh));
            } else {
                let rc = first(pdu, "diameter.Result-Code");
                let erc = first(pdu, "diameter.Experimental-Result-Code");
                let ok = rc.as_deref() == Some("2001")
                    || erc.is_some_and(|e| ["2001", "2002", "2003"].contains(&e.as_str()));
                answers.insert(hbh, (cmd, ok));
            }
        }
    }
    let mut checked = 0;
    for cid in &registered {
        let impi = impi(&imsi_of(cid));
        let seq = requests
            .get(&impi)
            .unwrap_or_else(|| panic!("no Cx request for {impi}"));
        let cmds: Vec<u32> = seq.iter().map(|(c, _)| *c).collect();
        assert_eq!(cmds, vec![300, 303, 300, 301], "{impi}: UAR MAR UAR SAR");
        for (cmd, hbh) in seq {
            let a = answers
                .get(hbh)
                .unwrap_or_else(|| panic!("{impi}: no answer to {cmd}"));
            assert_eq!(a, &(*cmd, true), "{impi}: answer to {cmd} is a success");
        }
        checked += 1;
    }
    assert_eq!(checked, registered.len());

    // ---- SIP headers on each hop
    let sip = decode(&pcap, &ports, "sip");
    #[derive(Default, Debug)]
    struct Seen {
        at_icscf: Vec<(u32, Value)>, // REGISTERs the P-CSCF sent to the I-CSCF (CSeq, msg)
        from_scscf_401: Vec<Value>,
        to_ue_401: Vec<Value>,
        to_ue_200: Vec<Value>,
    }
    let mut per_call: BTreeMap<String, Seen> = BTreeMap::new();
    for pkt in &sip {
        let (Some(src), Some(dst)) = (port_of(pkt, "srcport"), port_of(pkt, "dstport")) else {
            continue;
        };
        for m in pdus(pkt, "sip") {
            let Some(cid) = first(m, "sip.Call-ID") else {
                continue;
            };
            let seen = per_call.entry(cid).or_default();
            let method = first(m, "sip.Method");
            let code = first(m, "sip.Status-Code");
            let cseq: u32 = first(m, "sip.CSeq.seq")
                .and_then(|c| c.parse().ok())
                .unwrap_or(0);
            match (method.as_deref(), code.as_deref()) {
                (Some("REGISTER"), _) if dst == ports.icscf => {
                    seen.at_icscf.push((cseq, m.clone()))
                }
                (_, Some("401")) if src == ports.scscf => seen.from_scscf_401.push(m.clone()),
                (_, Some("401")) if src == ports.pcscf && dst == sipp_port => {
                    seen.to_ue_401.push(m.clone())
                }
                (_, Some("200")) if src == ports.pcscf && dst == sipp_port => {
                    seen.to_ue_200.push(m.clone())
                }
                _ => {}
            }
        }
    }
    let pcscf_host = "pcscf.ims.mnc001.mcc001.3gppnetwork.org";
    let mut icids = BTreeSet::new();
    for cid in &registered {
        let s = per_call
            .get(cid)
            .unwrap_or_else(|| panic!("{cid} not captured"));
        assert!(s.at_icscf.iter().any(|(c, _)| *c == 1) && s.at_icscf.iter().any(|(c, _)| *c == 2));
        for (cseq, m) in &s.at_icscf {
            let path = first(m, "sip.Path").unwrap_or_default();
            assert!(path.contains(pcscf_host), "{cid}: Path {path:?}");
            let pvni = first(m, "sip.P-Visited-Network-ID").unwrap_or_default();
            assert!(pvni.contains(REALM), "{cid}: P-Visited-Network-ID {pvni:?}");
            let icid = first(m, "sip.icid_value").unwrap_or_default();
            assert!(
                !icid.is_empty(),
                "{cid}: no icid-value in P-Charging-Vector"
            );
            if *cseq == 1 {
                assert!(
                    icids.insert(icid.clone()),
                    "{cid}: icid-value {icid} reused"
                );
            }
            let auth = first(m, "sip.Authorization").unwrap_or_default();
            assert!(
                auth.contains("integrity-protected="),
                "{cid} CSeq {cseq}: Authorization without integrity-protected: {auth:?}"
            );
        }
        let s401 = s
            .from_scscf_401
            .first()
            .unwrap_or_else(|| panic!("{cid}: no 401 from S-CSCF"));
        assert!(
            first(s401, "sip.auth.ck").is_some(),
            "{cid}: S-CSCF 401 without ck"
        );
        assert!(
            first(s401, "sip.auth.ik").is_some(),
            "{cid}: S-CSCF 401 without ik"
        );
        let u401 = s
            .to_ue_401
            .first()
            .unwrap_or_else(|| panic!("{cid}: no 401 to the UE"));
        let www = first(u401, "sip.WWW-Authenticate").unwrap_or_default();
        assert!(
            first(u401, "sip.auth.nonce").is_some() || www.contains("nonce="),
            "{www}"
        );
        assert!(
            first(u401, "sip.auth.ck").is_none(),
            "{cid}: ck reached the UE: {www}"
        );
        assert!(
            first(u401, "sip.auth.ik").is_none(),
            "{cid}: ik reached the UE: {www}"
        );
        let ok = s
            .to_ue_200
            .first()
            .unwrap_or_else(|| panic!("{cid}: no 200 to the UE"));
        let sr = first(ok, "sip.Service-Route").unwrap_or_default();
        assert!(sr.contains("scscf."), "{cid}: Service-Route {sr:?}");
        let pau = first(ok, "sip.P-Associated-URI").unwrap_or_default();
        let id = imsi_of(cid);
        assert!(pau.contains(&impu(&id)), "{cid}: P-Associated-URI {pau:?}");
        let path = first(ok, "sip.Path").unwrap_or_default();
        assert!(
            path.contains(pcscf_host),
            "{cid}: Path not echoed in 200: {path:?}"
        );
    }
    drop(core);
}
