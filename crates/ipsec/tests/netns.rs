//! The userspace datapath on real sockets: two network namespaces (UE, P-CSCF) created by the test,
//! joined by a veth pair, each running a [`Datapath`] (TUN + raw ESP socket) with its half of a
//! TS 33.203 SA set. SIP over UDP and over TCP between the protected ports must flow, and only
//! through ESP (the counters prove every packet was sealed and opened). Needs root (CAP_NET_ADMIN);
//! it fails, never skips, without it. Addresses exist only inside the namespaces; both are deleted
//! at the end (also on failure).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::Duration;

use aka::{Ck, Ik};
use ipsec::datapath::{Datapath, DatapathStats, EspSocket, Routing, Tun};
use ipsec::{EncryptionAlg, Endpoint, ImsSaSet, IntegrityAlg, Keylog, SaKeys, SaTable};
use testkit::netns::{enter, in_ns, tshark_fields, Capture, VethPair};

struct Side {
    ns: String,
    table: Arc<Mutex<SaTable>>,
    stop: Arc<AtomicBool>,
    handle: Option<thread::JoinHandle<DatapathStats>>,
}

/// Starts a datapath thread in `ns` with `set` installed; configures the TUN and policy routing
/// so packets from the local protected ports to the peer go through it.
fn start(ns: &str, set: ImsSaSet) -> Side {
    let mut t = SaTable::new();
    set.install(&mut t).unwrap();
    let table = Arc::new(Mutex::new(t));
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel();
    let handle = {
        let (ns, table, stop) = (ns.to_owned(), Arc::clone(&table), Arc::clone(&stop));
        thread::spawn(move || {
            enter(&ns);
            let tun = Tun::open("esptun").unwrap();
            let esp = EspSocket::open_v4().unwrap();
            let esp6 = EspSocket::open_v6().unwrap();
            let mut dp = Datapath::new(tun, esp, table).with_ipv6(esp6);
            tx.send(()).unwrap();
            dp.run(&stop).unwrap();
            dp.stats()
        })
    };
    rx.recv_timeout(Duration::from_secs(10))
        .expect("datapath started");
    let l = set.local;
    let routing = Routing {
        tun: "esptun".into(),
        table: 100,
        ports: vec![(l.port_c, l.port_s)],
        ipv4: set.remote.addr.is_ipv4(),
        ipv6: set.remote.addr.is_ipv6(),
    };
    in_ns(ns, move || routing.apply().unwrap());
    Side {
        ns: ns.to_owned(),
        table,
        stop,
        handle: Some(handle),
    }
}

impl Side {
    fn stop(&mut self) -> DatapathStats {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.take().unwrap().join().expect("datapath thread")
    }
}

fn decode(pcap: &Path, config: &Path) -> Vec<Vec<String>> {
    tshark_fields(
        Some(config),
        pcap,
        &[],
        "esp",
        &[
            "esp.spi",
            "esp.icv_good",
            "esp.icv_bad",
            "sip.Method",
            "sip.Status-Code",
            "_ws.malformed",
        ],
    )
}

#[test]
fn sip_over_udp_and_tcp_through_userspace_esp_between_namespaces_ipv4() {
    scenario(false);
}

#[test]
fn sip_over_udp_and_tcp_through_userspace_esp_between_namespaces_ipv6() {
    scenario(true);
}

fn scenario(v6: bool) {
    let pid = std::process::id();
    let fam = if v6 { 6 } else { 4 };
    let (ue_ip, p_ip) = if v6 {
        ("fd00:77::1", "fd00:77::2")
    } else {
        ("10.77.0.1", "10.77.0.2")
    };
    let pair = VethPair::new("ipsec-", &fam.to_string(), ue_ip, p_ip);
    let (ue_ns, p_ns) = (pair.a.clone(), pair.b.clone());

    let keys = SaKeys::from_aka(
        IntegrityAlg::HmacSha1_96,
        &Ik::from_hex("00112233445566778899aabbccddeeff").unwrap(),
        EncryptionAlg::AesCbc,
        &Ck::from_hex("0f1e2d3c4b5a69788796a5b4c3d2e1f0").unwrap(),
    );
    let ue = Endpoint {
        addr: ue_ip.parse().unwrap(),
        port_c: 50600,
        port_s: 50601,
        spi_c: 0x1000,
        spi_s: 0x1001,
    };
    let pc = Endpoint {
        addr: p_ip.parse().unwrap(),
        port_c: 5062,
        port_s: 5064,
        spi_c: 0x2000,
        spi_s: 0x2001,
    };
    let mut ue_side = start(
        &ue_ns,
        ImsSaSet {
            local: ue,
            remote: pc,
            keys: keys.clone(),
        },
    );
    let mut p_side = start(
        &p_ns,
        ImsSaSet {
            local: pc,
            remote: ue,
            keys: keys.clone(),
        },
    );

    // Capture the wire (veth on the P-CSCF side) and give Wireshark the SAs via our keylog.
    let dir = std::env::temp_dir().join(format!("ipsec-netns{fam}-{pid}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let keylog = Keylog::open(&dir.join("esp_sa")).unwrap();
    for rec in (ImsSaSet {
        local: ue,
        remote: pc,
        keys: keys.clone(),
    })
    .keylog_records()
    {
        keylog.write(&rec).unwrap();
    }
    let pcap = dir.join("wire.pcap");
    let cap = Capture::start(Some(&p_ns), &["veth1"], None, &pcap);

    let ue_c = SocketAddr::new(ue.addr, ue.port_c);
    let ue_s = SocketAddr::new(ue.addr, ue.port_s);
    let p_c = SocketAddr::new(pc.addr, pc.port_c);
    let p_s = SocketAddr::new(pc.addr, pc.port_s);

    // P-CSCF: UDP and TCP servers on port-s; after the exchange it sends a NOTIFY from port-c to
    // the UE's port-s.
    let (ready_tx, ready_rx) = mpsc::channel();
    let p_ns2 = p_ns.clone();
    let server = thread::spawn(move || {
        enter(&p_ns2);
        let udp = UdpSocket::bind(p_s).unwrap();
        udp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let tcp = TcpListener::bind(p_s).unwrap();
        ready_tx.send(()).unwrap();
        let mut buf = [0u8; 2048];
        let (n, from) = udp
            .recv_from(&mut buf)
            .expect("SUBSCRIBE over UDP through ESP");
        assert_eq!(from, ue_c);
        assert!(buf[..n].starts_with(b"SUBSCRIBE sip:"));
        udp.send_to(b"SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n", from)
            .unwrap();
        let (mut conn, peer) = tcp.accept().expect("TCP connection through ESP");
        assert_eq!(peer, ue_c);
        conn.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut req = Vec::new();
        while !req.ends_with(b"\r\n\r\n") {
            let n = conn.read(&mut buf).unwrap();
            assert!(n > 0, "connection closed early");
            req.extend_from_slice(&buf[..n]);
        }
        assert!(req.starts_with(b"REGISTER sip:"));
        conn.write_all(b"SIP/2.0 200 OK\r\nCSeq: 2 REGISTER\r\nContent-Length: 0\r\n\r\n")
            .unwrap();
        let notify = UdpSocket::bind(p_c).unwrap();
        notify
            .send_to(b"NOTIFY sip:ue SIP/2.0\r\nContent-Length: 0\r\n\r\n", ue_s)
            .unwrap();
        let _ = conn.read(&mut buf); // wait for the UE to close
    });
    ready_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("server ready");

    in_ns(&ue_ns, move || {
        let notify_rx = UdpSocket::bind(ue_s).unwrap();
        notify_rx
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let udp = UdpSocket::bind(ue_c).unwrap();
        udp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        udp.send_to(
            b"SUBSCRIBE sip:ue SIP/2.0\r\nContent-Length: 0\r\n\r\n",
            p_s,
        )
        .unwrap();
        let mut buf = [0u8; 2048];
        let (n, from) = udp
            .recv_from(&mut buf)
            .expect("200 OK over UDP through ESP");
        assert_eq!(from, p_s);
        assert!(buf[..n].starts_with(b"SIP/2.0 200 OK"));

        let sock = socket2::Socket::new(
            socket2::Domain::for_address(ue_c),
            socket2::Type::STREAM,
            None,
        )
        .unwrap();
        sock.set_reuse_address(true).unwrap();
        sock.bind(&ue_c.into()).unwrap();
        sock.connect_timeout(&p_s.into(), Duration::from_secs(10))
            .expect("TCP handshake through ESP");
        let mut conn: TcpStream = sock.into();
        conn.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        conn.write_all(
            b"REGISTER sip:ims SIP/2.0\r\nCSeq: 2 REGISTER\r\nContent-Length: 0\r\n\r\n",
        )
        .unwrap();
        let mut rsp = Vec::new();
        while !rsp.ends_with(b"\r\n\r\n") {
            let n = conn.read(&mut buf).unwrap();
            assert!(n > 0, "connection closed early");
            rsp.extend_from_slice(&buf[..n]);
        }
        assert!(rsp.starts_with(b"SIP/2.0 200 OK\r\nCSeq: 2 REGISTER"));
        let (n, from) = notify_rx
            .recv_from(&mut buf)
            .expect("NOTIFY to port-s through ESP");
        assert_eq!(from, p_c);
        assert!(buf[..n].starts_with(b"NOTIFY sip:ue"));
        drop(conn);
    });
    server.join().expect("P-CSCF side");
    // libpcap's TPACKET_V3 ring hands over a block only when it fills or its timeout expires, and
    // dumpcap does not drain a partial block on SIGINT: give it time before stopping.
    thread::sleep(Duration::from_millis(1000));
    cap.stop();

    let ue_stats = ue_side.stop();
    let p_stats = p_side.stop();
    let ue_c = ue_side.table.lock().unwrap().counters().clone();
    let p_c = p_side.table.lock().unwrap().counters().clone();
    // UDP: 1 request + 1 response + NOTIFY; TCP: handshake, data, ACKs — at least 3 each way.
    assert!(
        ue_c.sealed >= 5 && p_c.opened >= 5,
        "UE sealed {ue_c:?} / P opened {p_c:?}"
    );
    assert!(
        p_c.sealed >= 5 && ue_c.opened >= 5,
        "P sealed {p_c:?} / UE opened {ue_c:?}"
    );
    for c in [&ue_c, &p_c] {
        assert_eq!(
            (c.auth_failed, c.replay, c.bad_padding, c.policy_mismatch),
            (0, 0, 0, 0)
        );
    }
    assert_eq!(ue_stats.esp_out, ue_c.sealed, "{ue_stats:?}");
    assert_eq!(p_stats.tun_out, p_c.opened, "{p_stats:?}");
    assert_eq!(ue_stats.io_errors + p_stats.io_errors, 0);
    let _ = (&ue_side.ns, &p_side.ns);

    // On the wire: only ESP between the protected ports, every packet authenticated and decrypted
    // by Wireshark from our esp_sa file, and the SIP requests inside.
    let rows = decode(&pcap, &dir);
    assert_eq!(rows.len() as u64, ue_c.sealed + p_c.sealed, "{rows:?}");
    for r in &rows {
        assert_eq!(
            (r[1].as_str(), r[2].as_str(), r[5].as_str()),
            ("1", "0", ""),
            "{r:?}"
        );
    }
    let methods: Vec<&str> = rows
        .iter()
        .map(|r| r[3].as_str())
        .filter(|m| !m.is_empty())
        .collect();
    assert_eq!(methods, ["SUBSCRIBE", "REGISTER", "NOTIFY"], "{rows:?}");
    assert_eq!(rows.iter().filter(|r| r[4] == "200").count(), 2, "{rows:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}
