//! Golden bytes checked against Wireshark: every Cx message type we encode is written into a pcap
//! (Ethernet/IPv4/TCP port 3868, a proper TCP handshake, requests and answers paired by hop-by-hop
//! id) and dissected by `tshark`, which must report no malformed packet and no expert item of
//! warning level or above, and must read back the command names and AVP values we put in.
//!
//! tshark is required: the test fails (it does not skip) when it is missing; `scripts/test`
//! installs it.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use cx::{AnyCx, CxMessage};
use testkit::pcap::Pcap;

/// Wireshark's PI_WARN severity (epan/proto.h): expert items at or above it fail the test.
const PI_WARN: u32 = 0x0060_0000;
const DIAMETER_PORT: u16 = 3868;

fn tshark(args: &[&str]) -> String {
    let out = Command::new("tshark")
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("tshark is required for this test (apt-get install tshark): {e}")
        });
    assert!(
        out.status.success(),
        "tshark {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("tshark prints UTF-8")
}

/// Writes a pcap of one TCP connection to the Diameter port: handshake, then each
/// (from_client, payload) as a segment.
fn write_pcap(path: &Path, messages: &[(bool, Vec<u8>)]) {
    let mut p = Pcap::new(DIAMETER_PORT);
    for (from_client, payload) in messages {
        p.send(*from_client, payload);
    }
    std::fs::write(path, p.finish()).expect("write pcap");
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cx-tshark-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join(name)
}

/// Every sample as (from_client, bytes): each request then its answer with the same ids.
fn conversation() -> Vec<(bool, Vec<u8>)> {
    let all = common::all();
    let mut out = Vec::new();
    for (i, pair) in all.chunks(2).enumerate() {
        let mut req = pair[0].to_message();
        req.header.hop_by_hop = 0x100 + i as u32;
        req.header.end_to_end = 0x7000_0000 + i as u32;
        let ans = match &pair[1] {
            AnyCx::Uaa(m) => m.to_answer_for(&req),
            AnyCx::Saa(m) => m.to_answer_for(&req),
            AnyCx::Lia(m) => m.to_answer_for(&req),
            AnyCx::Maa(m) => m.to_answer_for(&req),
            AnyCx::Rta(m) => m.to_answer_for(&req),
            AnyCx::Ppa(m) => m.to_answer_for(&req),
            other => panic!("not an answer: {other:?}"),
        };
        // HSS-initiated commands (RTR, PPR) go from the "server" side of the connection; it does not
        // matter to Diameter, but keeps the sample realistic.
        let hss_initiated = matches!(pair[0], AnyCx::Rtr(_) | AnyCx::Ppr(_));
        out.push((!hss_initiated, req.to_bytes().to_vec()));
        out.push((hss_initiated, ans.to_bytes().to_vec()));
    }
    // Error answers as the HSS sends them: an MAR without Server-Name gets DIAMETER_MISSING_AVP with
    // a Failed-AVP naming it; a UAR for another application gets the E bit and 3007.
    let mut bad = common::mar().to_message();
    bad.avps
        .retain(|a| a.code != cx::dictionary::code::SERVER_NAME);
    bad.header.hop_by_hop = 0x200;
    let e = cx::MultimediaAuthRequest::from_message(&bad).expect_err("Server-Name is required");
    let ans = e.to_answer(&bad, "hss.ims.example", "ims.example");
    out.push((true, bad.to_bytes().to_vec()));
    out.push((false, ans.to_bytes().to_vec()));
    let mut bad = common::mar().to_message();
    bad.avps
        .retain(|a| a.code != cx::dictionary::code::SIP_AUTH_DATA_ITEM);
    bad.header.hop_by_hop = 0x201;
    let e =
        cx::MultimediaAuthRequest::from_message(&bad).expect_err("SIP-Auth-Data-Item is required");
    let ans = e.to_answer(&bad, "hss.ims.example", "ims.example");
    out.push((true, bad.to_bytes().to_vec()));
    out.push((false, ans.to_bytes().to_vec()));
    out
}

fn problems(pcap: &Path) -> String {
    let filter = format!("_ws.malformed || _ws.expert.severity >= {PI_WARN:#x}");
    tshark(&["-r", pcap.to_str().expect("utf-8 path"), "-Y", &filter])
}

#[test]
fn tshark_decodes_every_cx_message_without_warnings() {
    let pcap = tmp("cx-all.pcap");
    let conv = conversation();
    write_pcap(&pcap, &conv);
    let p = pcap.to_str().expect("utf-8 path");

    let bad = problems(&pcap);
    assert!(
        bad.trim().is_empty(),
        "tshark reports problems:\n{bad}\n{}",
        tshark(&["-r", p, "-V"])
    );

    // One Diameter message per data frame, in order, with the command and R bit we wrote.
    let fields = tshark(&[
        "-r",
        p,
        "-Y",
        "diameter",
        "-T",
        "fields",
        "-E",
        "separator=|",
        "-e",
        "diameter.cmd.code",
        "-e",
        "diameter.flags.request",
        "-e",
        "diameter.applicationId",
        "-e",
        "diameter.hopbyhopid",
    ]);
    let rows: Vec<Vec<&str>> = fields.lines().map(|l| l.split('|').collect()).collect();
    assert_eq!(rows.len(), 16, "{fields}");
    for (i, row) in rows.iter().take(12).enumerate() {
        assert_eq!(row[0], (300 + i / 2).to_string(), "row {i}: {row:?}");
        assert_eq!(
            row[1] == "1" || row[1] == "True",
            i % 2 == 0,
            "R bit row {i}: {row:?}"
        );
        assert_eq!(row[2], "16777216");
        assert_eq!(
            row[3],
            format!("0x{:08x}", 0x100 + i / 2),
            "hop-by-hop row {i}"
        );
    }

    // The command names as Wireshark's 3GPP dictionary knows them, in the summary lines.
    let summary = tshark(&["-r", p]);
    for name in [
        "User-Authorization Request",
        "User-Authorization Answer",
        "Server-Assignment Request",
        "Server-Assignment Answer",
        "Location-Info Request",
        "Location-Info Answer",
        "Multimedia-Auth Request",
        "Multimedia-Auth Answer",
        "Registration-Termination Request",
        "Registration-Termination Answer",
        "Push-Profile Request",
        "Push-Profile Answer",
    ] {
        assert!(
            summary.contains(&format!("cmd={name}")),
            "tshark lacks {name:?}:\n{summary}"
        );
    }
    assert_eq!(
        summary.matches("appl=3GPP Cx(16777216)").count(),
        16,
        "{summary}"
    );
    // The User-Data documents are handed to Wireshark's XML dissector (and did not trip it above).
    assert_eq!(summary.matches("DIAMETER/XML").count(), 2, "{summary}");
    let _ = std::fs::remove_file(&pcap);
}

#[test]
fn tshark_reads_back_the_values_we_encoded() {
    let pcap = tmp("cx-values.pcap");
    write_pcap(&pcap, &conversation());
    let p = pcap.to_str().expect("utf-8 path");
    let get = |filter: &str, field: &str| -> String {
        tshark(&[
            "-r",
            p,
            "-Y",
            filter,
            "-T",
            "fields",
            "-E",
            "occurrence=a",
            "-E",
            "aggregator=|",
            "-e",
            field,
        ])
        .trim()
        .to_owned()
    };
    let mar = "diameter.hopbyhopid == 0x103 && diameter.flags.request == 1";
    let maa = "diameter.hopbyhopid == 0x103 && diameter.flags.request == 0";
    assert_eq!(get(mar, "diameter.Public-Identity"), common::IMPU);
    assert_eq!(get(mar, "diameter.User-Name"), common::IMPI);
    assert_eq!(get(mar, "diameter.Server-Name"), common::SCSCF);
    assert_eq!(get(mar, "diameter.3GPP-SIP-Number-Auth-Items"), "1");
    assert_eq!(
        get(mar, "diameter.3GPP-SIP-Authentication-Scheme"),
        "Digest-AKAv1-MD5"
    );
    let rand_auts: String = (0u8..30).map(|b| format!("{b:02x}")).collect();
    assert_eq!(get(mar, "diameter.3GPP-SIP-Authorization"), rand_auts);

    let v = common::aka_vector(1);
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    assert_eq!(
        get(maa, "diameter.3GPP-SIP-Authenticate"),
        hex(v.authenticate.as_deref().unwrap_or_default())
    );
    assert_eq!(
        get(maa, "diameter.Confidentiality-Key"),
        hex(v
            .confidentiality_key
            .as_ref()
            .map(|k| k.expose())
            .unwrap_or_default())
    );
    assert_eq!(get(maa, "diameter.3GPP-SIP-Item-Number"), "1|2");
    assert_eq!(get(maa, "diameter.Digest-Realm"), "ims.example");
    assert_eq!(get(maa, "diameter.Result-Code"), "2001");

    let uaa = "diameter.cmd.code == 300 && diameter.flags.request == 0";
    assert_eq!(get(uaa, "diameter.Experimental-Result-Code"), "2001");
    assert_eq!(get(uaa, "diameter.Mandatory-Capability"), "1|2");
    let sar = "diameter.cmd.code == 301 && diameter.flags.request == 1";
    assert_eq!(get(sar, "diameter.Server-Assignment-Type"), "1");
    assert_eq!(
        get(sar, "diameter.Public-Identity"),
        format!("{}|tel:+15551230001", common::IMPU)
    );
    assert_eq!(
        get(sar, "diameter.Wildcarded-PSI"),
        "sip:psi!.*!@ims.example"
    );
    let rtr = "diameter.cmd.code == 304 && diameter.flags.request == 1";
    assert_eq!(get(rtr, "diameter.Reason-Code"), "0");
    assert_eq!(get(rtr, "diameter.Reason-Info"), "subscription cancelled");
    let uar = "diameter.cmd.code == 300 && diameter.flags.request == 1";
    assert_eq!(get(uar, "diameter.User-Authorization-Type"), "2");
    let ppa = "diameter.cmd.code == 305 && diameter.flags.request == 0";
    assert_eq!(get(ppa, "diameter.Experimental-Result-Code"), "5009");
    // The error answer names the missing AVP in Failed-AVP.
    let err = "diameter.hopbyhopid == 0x200 && diameter.flags.request == 0";
    assert_eq!(get(err, "diameter.Result-Code"), "5005");
    // Session-Id, VSAI (Vendor-Id, Auth-Application-Id), Auth-Session-State, Proxy-Info (Proxy-Host,
    // Proxy-State) echoed, Result-Code, Origin-Host, Origin-Realm, Error-Message, Failed-AVP{Server-Name}.
    assert_eq!(
        get(err, "diameter.avp.code"),
        "263|260|266|258|277|284|280|33|268|264|296|281|279|602"
    );
    let _ = std::fs::remove_file(&pcap);
}

#[test]
fn the_problem_filter_catches_a_malformed_message() {
    // Guard against a filter that can never match: a UAR whose last AVP claims more bytes than the
    // message holds must be reported.
    let mut bytes = common::uar().to_message().to_bytes().to_vec();
    let n = bytes.len();
    // Route-Record is last (no vendor): its length field is bytes 5..8 of its header. Point the
    // length past the end of the message.
    let rr = common::uar().common.route_record[0].len();
    let avp_start = n - (8 + rr).next_multiple_of(4);
    bytes[avp_start + 7] = bytes[avp_start + 7].wrapping_add(40);
    let pcap = tmp("cx-bad.pcap");
    write_pcap(&pcap, &[(true, bytes)]);
    assert!(
        !problems(&pcap).trim().is_empty(),
        "a malformed Diameter message went unnoticed"
    );
    let _ = std::fs::remove_file(&pcap);
}
