//! tshark as the judge: SIP over UDP and TCP inside our ESP, for every alg/ealg pair, must be
//! decrypted and authenticated by Wireshark from the `esp_sa` file our [`Keylog`] writes.
//! Fails (does not skip) when tshark is missing: `scripts/test` installs it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use aka::{Ck, Ik};
use ipsec::packet::{
    build_ip_packet, build_tcp, build_udp, open_ip_packet, parse_ip, seal_ip_packet_full,
    tcp_flags, IPPROTO_TCP, IPPROTO_UDP,
};
use ipsec::{EncryptionAlg, Endpoint, ImsSaSet, IntegrityAlg, IpsecError, Keylog, SaKeys, SaTable};

const PAIRS: [(IntegrityAlg, EncryptionAlg); 6] = [
    (IntegrityAlg::HmacMd5_96, EncryptionAlg::Null),
    (IntegrityAlg::HmacMd5_96, EncryptionAlg::AesCbc),
    (IntegrityAlg::HmacMd5_96, EncryptionAlg::DesEde3Cbc),
    (IntegrityAlg::HmacSha1_96, EncryptionAlg::Null),
    (IntegrityAlg::HmacSha1_96, EncryptionAlg::AesCbc),
    (IntegrityAlg::HmacSha1_96, EncryptionAlg::DesEde3Cbc),
];

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ipsec-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// pcap (microsecond) with LINKTYPE_RAW (101): each record is a bare IPv4/IPv6 packet.
fn write_pcap(path: &Path, packets: &[Vec<u8>]) {
    let mut f = Vec::new();
    f.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    f.extend_from_slice(&2u16.to_le_bytes());
    f.extend_from_slice(&4u16.to_le_bytes());
    f.extend_from_slice(&0i32.to_le_bytes());
    f.extend_from_slice(&0u32.to_le_bytes());
    f.extend_from_slice(&65_535u32.to_le_bytes());
    f.extend_from_slice(&101u32.to_le_bytes());
    for (i, p) in packets.iter().enumerate() {
        f.extend_from_slice(&(1_700_000_000u32 + i as u32).to_le_bytes());
        f.extend_from_slice(&0u32.to_le_bytes());
        f.extend_from_slice(&(p.len() as u32).to_le_bytes());
        f.extend_from_slice(&(p.len() as u32).to_le_bytes());
        f.extend_from_slice(p);
    }
    std::fs::write(path, f).unwrap();
}

/// Runs tshark on `pcap` with the ESP decoding preferences on and `config` as the personal
/// configuration directory (holding the `esp_sa` UAT file); returns one line per frame.
fn tshark(pcap: &Path, config: &Path, fields: &[&str]) -> Vec<Vec<String>> {
    let mut cmd = Command::new("tshark");
    cmd.env("WIRESHARK_CONFIG_DIR", config)
        .arg("-n")
        .arg("-r")
        .arg(pcap)
        .args(["-o", "esp.enable_encryption_decode:TRUE"])
        .args(["-o", "esp.enable_authentication_check:TRUE"])
        .args(["-T", "fields", "-E", "separator=|", "-E", "occurrence=a"]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let out = cmd
        .output()
        .expect("tshark must be installed (scripts/test installs it)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "tshark failed: {stderr}");
    let unexpected: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.contains("Running as user \"root\""))
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert!(unexpected.is_empty(), "tshark complained: {unexpected:?}");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.split('|').map(str::to_owned).collect())
        .collect()
}

struct Host {
    table: SaTable,
    set: ImsSaSet,
}

/// UE and P-CSCF SA sets for one alg pair; SPIs distinct per pair so one esp_sa file serves all.
/// `v6` selects IPv6 addresses (2001:db8::1 / ::2) instead of IPv4 (10.99.0.1 / .2).
fn hosts(idx: u32, integ: IntegrityAlg, encr: EncryptionAlg, v6: bool) -> (Host, Host) {
    let (ue_addr, p_addr) = if v6 {
        ("2001:db8::1", "2001:db8::2")
    } else {
        ("10.99.0.1", "10.99.0.2")
    };
    let ik = Ik::from_hex("00112233445566778899aabbccddeeff").unwrap();
    let ck = Ck::from_hex("0f1e2d3c4b5a69788796a5b4c3d2e1f0").unwrap();
    let keys = SaKeys::from_aka(integ, &ik, encr, &ck);
    let ue = Endpoint {
        addr: ue_addr.parse().unwrap(),
        port_c: 50_000 + idx as u16 * 10,
        port_s: 50_001 + idx as u16 * 10,
        spi_c: 0x1000 + idx * 16,
        spi_s: 0x1001 + idx * 16,
    };
    let pcscf = Endpoint {
        addr: p_addr.parse().unwrap(),
        port_c: 5062,
        port_s: 5064,
        spi_c: 0x2000 + idx * 16,
        spi_s: 0x2001 + idx * 16,
    };
    let mk = |local, remote| {
        let set = ImsSaSet {
            local,
            remote,
            keys: keys.clone(),
        };
        let mut table = SaTable::new();
        set.install(&mut table).unwrap();
        Host { table, set }
    };
    (mk(ue, pcscf), mk(pcscf, ue))
}

fn sip(method: &str, from: SocketAddr, to: SocketAddr, transport: &str) -> Vec<u8> {
    format!(
        "{method} sip:{to} SIP/2.0\r\n\
         Via: SIP/2.0/{transport} {from};branch=z9hG4bK{method}{port}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:alice@ims.example.net>;tag=1\r\n\
         To: <sip:alice@ims.example.net>\r\n\
         Call-ID: {port}@{ip}\r\n\
         CSeq: 1 {method}\r\n\
         Contact: <sip:alice@{from}>\r\n\
         Content-Length: 0\r\n\r\n",
        port = from.port(),
        ip = from.ip(),
    )
    .into_bytes()
}

/// Seals `inner` (an IP packet) on `tx`, opens it on `rx`, checks the round trip is exact, and
/// returns the outer ESP packet.
fn transfer(tx: &mut Host, rx: &mut Host, inner: &[u8]) -> Vec<u8> {
    let (mut scratch, mut outer, mut back) = (Vec::new(), Vec::new(), Vec::new());
    seal_ip_packet_full(&mut tx.table, inner, &mut scratch, &mut outer).unwrap();
    assert_eq!(
        parse_ip(&outer).unwrap().0.protocol,
        50,
        "outer protocol is ESP"
    );
    open_ip_packet(&mut rx.table, &outer, &mut scratch, &mut back).unwrap();
    assert_eq!(back, inner, "opened packet equals what was sealed");
    outer
}

struct Capture {
    packets: Vec<Vec<u8>>,
    /// (frame index, expected SIP method) for every packet carrying SIP.
    sip: Vec<(usize, &'static str)>,
}

fn traffic(ue: &mut Host, p: &mut Host) -> Capture {
    let (u, pc) = (ue.set.local, p.set.local);
    let ue_c = SocketAddr::new(u.addr, u.port_c);
    let ue_s = SocketAddr::new(u.addr, u.port_s);
    let p_c = SocketAddr::new(pc.addr, pc.port_c);
    let p_s = SocketAddr::new(pc.addr, pc.port_s);
    let mut cap = Capture {
        packets: Vec::new(),
        sip: Vec::new(),
    };
    let ip = |s: SocketAddr, d: SocketAddr, proto, seg: &[u8]| {
        build_ip_packet(s.ip(), d.ip(), proto, seg).unwrap()
    };
    // TCP: handshake, REGISTER, 200 OK (as text SIP response), all on UE port-c <-> P-CSCF port-s.
    let (isn_u, isn_p) = (1000u32, 5000u32);
    let reg = sip("REGISTER", ue_c, p_s, "TCP");
    let ok = b"SIP/2.0 200 OK\r\nVia: SIP/2.0/TCP x\r\nContent-Length: 0\r\n\r\n".to_vec();
    let segs: Vec<(bool, Vec<u8>, Option<&'static str>)> = vec![
        (
            true,
            build_tcp(ue_c, p_s, isn_u, 0, tcp_flags::SYN, 65_535, b""),
            None,
        ),
        (
            false,
            build_tcp(
                p_s,
                ue_c,
                isn_p,
                isn_u + 1,
                tcp_flags::SYN | tcp_flags::ACK,
                65_535,
                b"",
            ),
            None,
        ),
        (
            true,
            build_tcp(ue_c, p_s, isn_u + 1, isn_p + 1, tcp_flags::ACK, 65_535, b""),
            None,
        ),
        (
            true,
            build_tcp(
                ue_c,
                p_s,
                isn_u + 1,
                isn_p + 1,
                tcp_flags::ACK | tcp_flags::PSH,
                65_535,
                &reg,
            ),
            Some("REGISTER"),
        ),
        (
            false,
            build_tcp(
                p_s,
                ue_c,
                isn_p + 1,
                isn_u + 1 + reg.len() as u32,
                tcp_flags::ACK | tcp_flags::PSH,
                65_535,
                &ok,
            ),
            Some(""),
        ),
    ];
    for (from_ue, seg, method) in segs {
        let (s, d) = if from_ue { (ue_c, p_s) } else { (p_s, ue_c) };
        let inner = ip(s, d, IPPROTO_TCP, &seg);
        let outer = if from_ue {
            transfer(ue, p, &inner)
        } else {
            transfer(p, ue, &inner)
        };
        if let Some(m) = method {
            cap.sip.push((cap.packets.len(), m));
        }
        cap.packets.push(outer);
    }
    // UDP: SUBSCRIBE UE port-c -> P port-s; NOTIFY P port-c -> UE port-s.
    let sub = build_udp(ue_c, p_s, &sip("SUBSCRIBE", ue_c, p_s, "UDP")).unwrap();
    cap.sip.push((cap.packets.len(), "SUBSCRIBE"));
    cap.packets
        .push(transfer(ue, p, &ip(ue_c, p_s, IPPROTO_UDP, &sub)));
    let notify = build_udp(p_c, ue_s, &sip("NOTIFY", p_c, ue_s, "UDP")).unwrap();
    cap.sip.push((cap.packets.len(), "NOTIFY"));
    cap.packets
        .push(transfer(p, ue, &ip(p_c, ue_s, IPPROTO_UDP, &notify)));
    cap
}

#[test]
fn tshark_decrypts_and_authenticates_every_pair_ipv4_and_ipv6() {
    let dir = tmpdir("tshark-all");
    let keylog = Keylog::open(&dir.join("esp_sa")).unwrap();
    let mut packets = Vec::new();
    let mut expect = Vec::new();
    let both_families = PAIRS
        .into_iter()
        .enumerate()
        .flat_map(|(i, pair)| [(i, pair, false), (i + 8, pair, true)]);
    for (idx, (integ, encr), v6) in both_families {
        let (mut ue, mut p) = hosts(idx as u32, integ, encr, v6);
        for rec in ue.set.keylog_records() {
            keylog.write(&rec).unwrap();
        }
        let cap = traffic(&mut ue, &mut p);
        for (i, m) in cap.sip {
            expect.push((packets.len() + i, m, integ, encr));
        }
        packets.extend(cap.packets);
    }
    let pcap = dir.join("esp.pcap");
    write_pcap(&pcap, &packets);
    let rows = tshark(
        &pcap,
        &dir,
        &[
            "frame.number",
            "esp.spi",
            "esp.icv_good",
            "esp.icv_bad",
            "esp.pad_len",
            "esp.protocol",
            "sip.Method",
            "sip.Status-Code",
            "_ws.malformed",
            "_ws.expert.severity",
            "_ws.expert.message",
        ],
    );
    assert_eq!(rows.len(), packets.len());
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row[2], "1", "frame {}: ICV good ({row:?})", i + 1);
        assert_eq!(row[3], "0", "frame {}: ICV not bad ({row:?})", i + 1);
        assert!(
            row[5] == "0x06" || row[5] == "0x11",
            "decrypted next header: {row:?}"
        );
        assert_eq!(row[8], "", "frame {} malformed: {row:?}", i + 1);
        // The only expert items allowed are TCP's chat-level "Connection establish" notes on
        // SYN and SYN+ACK (severity PI_CHAT = 0x00200000); no note, warning or error.
        if !row[9].is_empty() {
            assert_eq!(row[9], "2097152", "frame {} expert info: {row:?}", i + 1);
            assert!(row[10].starts_with("Connection establish"), "{row:?}");
        }
    }
    for (i, m, integ, encr) in &expect {
        let row = &rows[*i];
        if m.is_empty() {
            assert_eq!(row[7], "200", "{integ:?}/{encr:?}: {row:?}");
        } else {
            assert_eq!(row[6], *m, "{integ:?}/{encr:?}: {row:?}");
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn tampered_and_replayed_packets_rejected_by_us_and_flagged_by_tshark() {
    let dir = tmpdir("tshark-bad");
    let keylog = Keylog::open(&dir.join("esp_sa")).unwrap();
    let (mut ue, mut p) = hosts(7, IntegrityAlg::HmacSha1_96, EncryptionAlg::AesCbc, false);
    for rec in ue.set.keylog_records() {
        keylog.write(&rec).unwrap();
    }
    let ue_c = SocketAddr::new(ue.set.local.addr, ue.set.local.port_c);
    let p_s = SocketAddr::new(p.set.local.addr, p.set.local.port_s);
    let dg = |m| {
        let udp = build_udp(ue_c, p_s, &sip(m, ue_c, p_s, "UDP")).unwrap();
        build_ip_packet(ue_c.ip(), p_s.ip(), IPPROTO_UDP, &udp).unwrap()
    };
    let (mut scratch, mut out) = (Vec::new(), Vec::new());
    let mut seal = |inner: &[u8]| {
        let mut outer = Vec::new();
        seal_ip_packet_full(&mut ue.table, inner, &mut Vec::new(), &mut outer).unwrap();
        outer
    };
    let first = seal(&dg("SUBSCRIBE"));
    let second = seal(&dg("MESSAGE"));
    let mut tampered = second.clone();
    // Flip a bit of the CBC IV (outer IPv4 header 20 + ESP header 8): the plaintext's first block
    // changes in that bit (the UDP source port), the rest still decrypts, so tshark can show the
    // ICV verdict instead of failing on garbage padding.
    tampered[28] ^= 0x04;

    // Our receiver: tampered dropped (auth), genuine accepted, replay dropped.
    assert!(matches!(
        open_ip_packet(&mut p.table, &tampered, &mut scratch, &mut out),
        Err(IpsecError::AuthFailed { .. })
    ));
    open_ip_packet(&mut p.table, &first, &mut scratch, &mut out).unwrap();
    open_ip_packet(&mut p.table, &second, &mut scratch, &mut out).unwrap();
    assert!(matches!(
        open_ip_packet(&mut p.table, &first, &mut scratch, &mut out),
        Err(IpsecError::Replay { seq: 1, .. })
    ));
    let c = p.table.counters();
    assert_eq!((c.opened, c.auth_failed, c.replay), (2, 1, 1));

    // tshark: frame 2 (tampered) has a bad ICV; frame 4 (replay of frame 1) is flagged by ESP
    // sequence analysis; the genuine frames authenticate.
    let pcap = dir.join("bad.pcap");
    write_pcap(&pcap, &[first.clone(), tampered, second, first]);
    let rows = tshark(
        &pcap,
        &dir,
        &[
            "frame.number",
            "esp.icv_good",
            "esp.icv_bad",
            "_ws.expert.message",
        ],
    );
    assert_eq!(rows.len(), 4);
    assert_eq!(
        (rows[0][1].as_str(), rows[0][2].as_str()),
        ("1", "0"),
        "{rows:?}"
    );
    assert_eq!(
        (rows[1][1].as_str(), rows[1][2].as_str()),
        ("0", "1"),
        "{rows:?}"
    );
    assert_eq!(
        (rows[2][1].as_str(), rows[2][2].as_str()),
        ("1", "0"),
        "{rows:?}"
    );
    assert_eq!(rows[0][3], "", "{rows:?}");
    assert!(
        rows[3][3].contains("Wrong Sequence Number") && rows[3][3].contains("less than expected"),
        "{rows:?}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
