//! tshark decodes every base message we encode, with no malformed packet and no expert info at
//! warning level or above. Requires tshark (installed by scripts/test); fails if it is missing.

mod common;

use std::net::IpAddr;
use std::process::Command;
use std::time::{Duration, UNIX_EPOCH};

use common::*;
use diameter::avp_code as c;
use diameter::{result_code as rc, Avp, Error, LocalIdentity, Message, VENDOR_3GPP};
use testkit::pcap::Pcap;

fn tshark(args: &[&str]) -> String {
    let out = Command::new("tshark")
        .args(args)
        .output()
        .expect("tshark must be installed (scripts/test installs it)");
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Every message kind the diameter crate produces, in conversation order, with who sends it.
fn conversation() -> Vec<(bool, Message)> {
    let client = LocalIdentity {
        origin_host: "scscf.ims.example".into(),
        origin_realm: "ims.example".into(),
        host_ip_addresses: vec![
            "127.0.0.1".parse().unwrap(),
            "::1".parse::<IpAddr>().unwrap(),
        ],
        applications: cx_apps(),
        supported_vendor_ids: vec![VENDOR_3GPP],
        firmware_revision: Some(3),
        ..LocalIdentity::default()
    };
    let server = LocalIdentity {
        origin_host: "hss.ims.example".into(),
        ..client.clone()
    };
    let mut hbh = 0x100;
    let mut stamp = |mut m: Message| {
        hbh += 1;
        m.header.hop_by_hop = hbh;
        m.header.end_to_end = 0x0abc_0000 | hbh;
        m
    };
    let cer = stamp(client.cer());
    let cea = server.cea(&cer, rc::SUCCESS);
    let dwr = stamp(client.dwr());
    let dwa = server.dwa(&dwr);
    let mar = stamp(raw_mar("scscf.ims.example", "ims.example", "ims.example"));
    let mut maa = mar.answer();
    maa.push(Avp::u32(c::RESULT_CODE, rc::SUCCESS))
        .push(Avp::identity(c::ORIGIN_HOST, "hss.ims.example"))
        .push(Avp::identity(c::ORIGIN_REALM, "ims.example"))
        .push(Avp::u32(c::AUTH_SESSION_STATE, 1))
        .push(Avp::time(
            c::EVENT_TIMESTAMP,
            UNIX_EPOCH + Duration::from_secs(1_800_000_000),
        ));
    let mar2 = stamp(raw_mar("scscf.ims.example", "ims.example", "ims.example"));
    let err = mar2.error_answer(
        &Error::missing(c::AUTH_SESSION_STATE, 0),
        "hss.ims.example",
        "ims.example",
    );
    let mar3 = stamp(raw_mar("scscf.ims.example", "ims.example", "ims.example"));
    let err3 = mar3.error_answer(
        &Error::ApplicationUnsupported(16777216),
        "hss.ims.example",
        "ims.example",
    );
    let mar4 = stamp(raw_mar("scscf.ims.example", "ims.example", "ims.example"));
    let mut er = mar4.answer();
    er.push(Avp::grouped(
        c::EXPERIMENTAL_RESULT,
        vec![
            Avp::u32(c::VENDOR_ID, VENDOR_3GPP),
            Avp::u32(c::EXPERIMENTAL_RESULT_CODE, 5001),
        ],
    ))
    .push(Avp::identity(c::ORIGIN_HOST, "hss.ims.example"))
    .push(Avp::identity(c::ORIGIN_REALM, "ims.example"))
    .push(Avp::u32(c::AUTH_SESSION_STATE, 1));
    let dpr = stamp(client.dpr(0));
    let dpa = server.dpa(&dpr);
    vec![
        (true, cer),
        (false, cea),
        (true, dwr),
        (false, dwa),
        (true, mar),
        (false, maa),
        (true, mar2),
        (false, err),
        (true, mar3),
        (false, err3),
        (true, mar4),
        (false, er),
        (true, dpr),
        (false, dpa),
    ]
}

#[test]
fn tshark_decodes_base_messages_cleanly() {
    let conv = conversation();
    let mut p = Pcap::new(3868);
    for (from_client, m) in &conv {
        // Round-trip through our decoder first: what we send we can read.
        let bytes = m.to_bytes();
        assert_eq!(
            &Message::decode(bytes.clone()).unwrap(),
            &Message::decode(Message::decode(bytes.clone()).unwrap().to_bytes()).unwrap()
        );
        p.send(*from_client, &bytes);
    }
    let dir = std::env::temp_dir().join(format!("diameter-tshark-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("base.pcap");
    std::fs::write(&file, p.finish()).unwrap();
    let f = file.to_str().unwrap();

    let bad = tshark(&[
        "-r",
        f,
        "-Y",
        "_ws.malformed || _ws.expert.severity >= 0x00600000",
        "-T",
        "fields",
        "-e",
        "frame.number",
        "-e",
        "_ws.expert.message",
    ]);
    assert!(
        bad.trim().is_empty(),
        "tshark found malformed/expert warnings:\n{bad}\n{}",
        tshark(&["-r", f, "-V"])
    );

    let fields = tshark(&[
        "-r",
        f,
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
        "diameter.flags.error",
        "-e",
        "diameter.hopbyhopid",
        "-e",
        "diameter.Origin-Host",
        "-e",
        "diameter.Result-Code",
    ]);
    let lines: Vec<&str> = fields.lines().collect();
    assert_eq!(
        lines.len(),
        conv.len(),
        "one Diameter frame per message:\n{fields}"
    );
    for (line, (_, m)) in lines.iter().zip(&conv) {
        let cols: Vec<&str> = line.split('|').collect();
        assert_eq!(cols[0], m.command_code().to_string(), "{line}");
        let truthy = |s: &str| s == "1" || s == "True";
        assert_eq!(truthy(cols[1]), m.is_request(), "{line}");
        assert_eq!(truthy(cols[2]), m.is_error(), "{line}");
        let hbh = cols[3].trim_start_matches("0x");
        assert_eq!(
            u32::from_str_radix(hbh, 16)
                .or_else(|_| hbh.parse())
                .unwrap(),
            m.header.hop_by_hop,
            "{line}"
        );
        assert_eq!(cols[4], m.origin_host().unwrap(), "{line}");
        let rc_expected = m
            .find(c::RESULT_CODE, 0)
            .map(|a| a.as_u32().unwrap().to_string())
            .unwrap_or_default();
        assert_eq!(cols[5], rc_expected, "{line}");
    }
    // Specific decodings: the Cx application inside Vendor-Specific-Application-Id, the Failed-AVP,
    // the Experimental-Result-Code, Host-IP-Address in both families.
    let v = tshark(&["-r", f, "-V"]);
    assert!(v.contains("Vendor-Specific-Application-Id"), "VSAI decoded");
    assert!(v.contains("16777216"), "Cx app id decoded");
    assert!(v.contains("Failed-AVP"), "Failed-AVP decoded");
    assert!(
        v.contains("Experimental-Result-Code: 5001")
            || v.contains("Experimental-Result-Code: DIAMETER_ERROR_USER_UNKNOWN (5001)"),
        "{}",
        v.lines()
            .filter(|l| l.contains("Experimental-Result-Code"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        v.contains("Host-IP-Address: ::1") || v.contains("::1"),
        "IPv6 Host-IP-Address decoded"
    );
    assert!(
        v.contains("Public-Identity: sip:alice@ims.example"),
        "3GPP vendor AVP decoded"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
