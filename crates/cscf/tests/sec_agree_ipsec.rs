//! ipsec-3gpp security agreement between a UE and the P-CSCF (TS 33.203 §7, TS 24.229 §5.2.2,
//! RFC 3329) with real ESP packets: two network namespaces created by the test (UE host, IMS
//! host) joined by a veth pair; HSS, S-, I- and P-CSCF run in the IMS namespace (their tokio
//! runtime's threads entered it first), the P-CSCF with the userspace ESP datapath
//! (`[pcscf.ipsec] backend = "userspace"`); the test UE runs in the UE namespace with its own
//! userspace datapath ([`ipsec::backend::UserspaceBackend`]) and the UE half of the SA set.
//!
//! Needs root (CAP_NET_ADMIN: netns, TUN, raw sockets) and tshark/dumpcap; it fails, never skips,
//! without them. The namespaces are deleted at the end, also on failure.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, UdpSocket};
use std::path::Path;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use aka::{AkaNonce, Milenage, Op, K};
use cscf::node::{host_table, start_pcscf, NextHop, PcscfNodeConfig, SipConfig};
use cscf::pcscf::ipsec_setup::{IpsecConfig, IpsecSetup};
use cscf::pcscf::PcscfConfig;
use cscf::scscf::ScscfConfig;
use cscf::store::{RegistrationStore, SqliteStore};
use hss::provision::demo;
use ipsec::backend::{SaBackend, UserspaceBackend, UserspaceConfig};
use ipsec::{EncryptionAlg, Endpoint, IntegrityAlg};
use secagree::SaParams;
use sip::Message;
use testkit::ims_ue::TestUe;
use testkit::netns::{enter, in_ns, ip, tshark_fields, Capture, Namespaces, VethPair};

#[path = "harness/ims_core.rs"]
mod ims_core;

use ims_core::{CoreBuilder, REALM};
const SEC_AGREE_TAGS: &str = "Require: sec-agree\r\nProxy-Require: sec-agree\r\n";
const PENDING_SECS: u64 = 4;
const LINGER_MS: u64 = 300;

// ---- namespaces ---------------------------------------------------------------------------

/// Two namespaces `ue`, `ims` with `veth0` (UE, `ue_ip`) and `veth1` (IMS, `ims_ip`), /24.
fn namespaces(tag: &str, ue_ip: &str, ims_ip: &str) -> (String, String, Namespaces) {
    let pair = VethPair::new("sa-", tag, ue_ip, ims_ip);
    (pair.a, pair.b, pair.guard)
}

/// `ip -n <ns> <args>`'s output.
fn ip_out(ns: &str, args: &[&str]) -> String {
    ip(&[&["-n", ns], args].concat())
}

// ---- the IMS core in its namespace ----------------------------------------------------------

struct Core {
    rt: tokio::runtime::Runtime,
    core: Option<ims_core::Core>,
    ipsec: Arc<IpsecSetup>,
    /// P-CSCF's unprotected SIP address.
    pcscf: SocketAddr,
}

/// HSS + S/I/P-CSCF on `ims_ip` inside `ns`; the P-CSCF with ipsec-3gpp (userspace datapath,
/// keylog `keylog`), sec_agree optional.
/// `rechallenge`: the S-CSCF challenges integrity-protected re-REGISTERs too (so a
/// re-registration sets up new SAs, TS 33.203 §7.4); `linger_ms`: how long released sets stay.
fn start_core(
    ns: &str,
    ims_ip: IpAddr,
    dir: &Path,
    keylog: &Path,
    rechallenge: bool,
    linger_ms: u64,
) -> Core {
    let ns2 = ns.to_owned();
    let rt = thread::spawn(move || {
        enter(&ns2);
        // worker threads are created by this thread and so live in the namespace too
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    })
    .join()
    .unwrap();
    let mut b = CoreBuilder::on("ip.test", ims_ip, 3868, (5060, 4060, 6060));
    b.pcscf_listen = vec![format!("tcp:{}", SocketAddr::new(ims_ip, 5060))];
    b.scscf = ScscfConfig {
        min_expires: 1,
        rechallenge_protected_reregister: rechallenge,
        ..ScscfConfig::default()
    };
    b.pcscf = PcscfConfig {
        ipsec: Some(IpsecConfig {
            esp_keylog: Some(keylog.to_path_buf()),
            pending_secs: PENDING_SECS,
            linger_ms,
            integrity: vec!["hmac-sha-1-96".into(), "hmac-md5-96".into()],
            encryption: vec!["aes-cbc".into(), "des-ede3-cbc".into(), "null".into()],
            ..IpsecConfig::default()
        }),
        ..PcscfConfig::default()
    };
    let dir = dir.to_path_buf();
    let core = rt.block_on(async move {
        tokio::spawn(async move { b.start(&dir, 16).await })
            .await
            .expect("core task")
    });
    let ipsec = core
        .pcscf_role()
        .ipsec()
        .expect("P-CSCF with the userspace ESP datapath")
        .clone();
    Core {
        rt,
        pcscf: core.pcscf,
        core: Some(core),
        ipsec,
    }
}

impl Core {
    fn stop(mut self) {
        let core = self.core.take();
        self.rt.block_on(async move {
            tokio::spawn(async move {
                if let Some(c) = core {
                    c.stop().await;
                }
            })
            .await
            .unwrap()
        });
        self.rt.shutdown_timeout(Duration::from_secs(5));
    }
}

// ---- capture ---------------------------------------------------------------------------------

/// tshark over `pcap` with the ESP SAs of `config/esp_sa`; ports 4060 and 6060 are SIP too.
fn tshark(config: &Path, pcap: &Path, filter: &str, fields: &[&str]) -> Vec<Vec<String>> {
    tshark_fields(
        Some(config),
        pcap,
        &["-d", "udp.port==4060,sip", "-d", "udp.port==6060,sip"],
        filter,
        fields,
    )
}

// ---- the UE ----------------------------------------------------------------------------------

fn parse(buf: &[u8]) -> Message {
    Message::parse(bytes::Bytes::copy_from_slice(buf)).expect("SIP parses")
}

fn recv_final(sock: &UdpSocket) -> (Message, SocketAddr) {
    let mut buf = vec![0u8; 65535];
    loop {
        let (n, from) = sock
            .recv_from(&mut buf)
            .expect("a SIP response within 10 s");
        let m = parse(&buf[..n]);
        if m.status().is_some_and(|s| s >= 200) {
            return (m, from);
        }
    }
}

fn read_sip_tcp(conn: &mut TcpStream) -> Message {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&data[..end]).to_ascii_lowercase();
            let clen = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if data.len() >= end + 4 + clen {
                let m = parse(&data[..end + 4 + clen]);
                data.drain(..end + 4 + clen);
                if m.status().is_some_and(|s| s < 200) {
                    continue;
                }
                return m;
            }
        }
        let n = conn.read(&mut buf).expect("SIP over TCP within 10 s");
        assert!(n > 0, "P-CSCF closed the protected TCP connection");
        data.extend_from_slice(&buf[..n]);
    }
}

/// One UE registration attempt's state.
struct Ue {
    t: TestUe,
    ip: IpAddr,
    own: Endpoint,
    alg: IntegrityAlg,
    ealg: EncryptionAlg,
    plain: UdpSocket,
    /// After the 401: the SA parameters and the Security-Server received.
    sa: Option<SaParams>,
    ue_set: Option<ipsec::ImsSaSet>,
    server: String,
    chal: Option<Message>,
}

fn security_client(u: &Ue) -> String {
    format!(
        "Security-Client: ipsec-3gpp;alg={};ealg={};prot=esp;mod=trans;spi-c={};spi-s={};port-c={};port-s={}\r\n",
        u.alg.name(),
        u.ealg.name(),
        u.own.spi_c,
        u.own.spi_s,
        u.own.port_c,
        u.own.port_s
    )
}

impl Ue {
    fn new(
        rt: &tokio::runtime::Runtime,
        n: u64,
        ip: IpAddr,
        pcscf: SocketAddr,
        k: u16,
        alg: IntegrityAlg,
        ealg: EncryptionAlg,
    ) -> Ue {
        let t = rt.block_on(TestUe::new(
            pcscf,
            REALM,
            &demo::demo_imsi(n),
            demo::DEMO_K,
            demo::DEMO_OP,
        ));
        // an unprotected port outside the UE's protected ranges
        let plain = UdpSocket::bind(SocketAddr::new(ip, 20000 + k)).unwrap();
        plain
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        Ue {
            t,
            ip,
            own: Endpoint {
                addr: ip,
                port_c: 38000 + k,
                port_s: 39000 + k,
                spi_c: 0x0010_0000 + u32::from(k) * 2,
                spi_s: 0x0010_0001 + u32::from(k) * 2,
            },
            alg,
            ealg,
            plain,
            sa: None,
            ue_set: None,
            server: String::new(),
            chal: None,
        }
    }

    /// Initial REGISTER (unprotected, UDP) with Security-Client → the 401; installs the UE's
    /// half of the SA set into `ue_dp` (TS 33.203 §7.1 step 3).
    fn challenge(&mut self, ue_dp: &dyn SaBackend) -> Message {
        let extra = format!(
            "{}{}{SEC_AGREE_TAGS}",
            self.t.initial_authorization(),
            security_client(self)
        );
        let local = self.plain.local_addr().unwrap();
        let text = self.t.register_text_over("UDP", local, 600, &extra);
        self.plain
            .send_to(text.as_bytes(), self.t.pcscf)
            .expect("send");
        let (chal, _) = recv_final(&self.plain);
        if chal.status() == Some(401) {
            self.install_from_challenge(&chal, ue_dp);
        }
        chal
    }

    /// From a 401 with Security-Server: the SA parameters, keys (CK/IK from the UE's own AKA
    /// run) and the UE's half of the set installed in `ue_dp` (TS 33.203 §7.1 step 3).
    fn install_from_challenge(&mut self, chal: &Message, ue_dp: &dyn SaBackend) {
        let server = chal.security_server().expect("Security-Server parses");
        assert_eq!(server.len(), 1, "{chal}");
        let s = &server[0];
        assert_eq!(s.alg(), Some(self.alg.name()), "{chal}");
        assert_eq!(s.ealg(), Some(self.ealg.name()), "{chal}");
        let www = chal.www_authenticate().unwrap().expect("WWW-Authenticate");
        assert!(
            www.ck().is_none() && www.ik().is_none(),
            "CK/IK leaked: {chal}"
        );
        let sa = SaParams {
            integrity: self.alg,
            encryption: self.ealg,
            ue: self.own,
            pcscf: Endpoint {
                addr: self.t.pcscf.ip(),
                port_c: s.port_c().unwrap(),
                port_s: s.port_s().unwrap(),
                spi_c: s.spi_c().unwrap(),
                spi_s: s.spi_s().unwrap(),
            },
        };
        let nonce = AkaNonce::decode(www.nonce().unwrap()).unwrap();
        let m = Milenage::with_op(&K::from_bytes(demo::DEMO_K), &Op::from_bytes(demo::DEMO_OP));
        let (_, ck, ik, _) = m.f2345(&nonce.rand);
        let set = sa.ue_sa_set(&ik, &ck);
        ue_dp.install(&set).expect("UE SAs install");
        self.ue_set = Some(set);
        self.server = server
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        self.sa = Some(sa);
        self.chal = Some(chal.clone());
    }

    fn pcscf_s(&self) -> SocketAddr {
        let p = self.sa.unwrap().pcscf;
        SocketAddr::new(p.addr, p.port_s)
    }

    fn port_c(&self) -> SocketAddr {
        SocketAddr::new(self.ip, self.own.port_c)
    }

    /// The protected REGISTER text (from port-c), with `verify` as Security-Verify.
    /// Re-registration over the current SAs (TS 33.203 §7.4): a REGISTER from port-c to the
    /// P-CSCF's port-s with a new Security-Client (new SPIs and ports `k`), the current
    /// Security-Verify and credentials; on its 401 the new half-set is installed and `self`
    /// switches to it. Returns the 401.
    fn reregister(&mut self, sock: &UdpSocket, k: u16, ue_dp: &dyn SaBackend) -> Message {
        let auth = self.t.answer(self.chal.as_ref().unwrap());
        let old_verify = self.server.clone();
        let (old_local, old_dst) = (self.port_c(), self.pcscf_s());
        self.own = Endpoint {
            addr: self.ip,
            port_c: 38000 + k,
            port_s: 39000 + k,
            spi_c: 0x0010_0000 + u32::from(k) * 2,
            spi_s: 0x0010_0001 + u32::from(k) * 2,
        };
        let extra = format!(
            "{auth}{}Security-Verify: {old_verify}\r\n{SEC_AGREE_TAGS}",
            security_client(self)
        );
        let text = self.t.register_text_over("UDP", old_local, 600, &extra);
        sock.send_to(text.as_bytes(), old_dst).unwrap();
        let (chal, from) = recv_final(sock);
        assert_eq!(from, old_dst, "the 401 comes over the old SAs");
        if chal.status() == Some(401) {
            self.install_from_challenge(&chal, ue_dp);
        }
        chal
    }

    fn protected_text(&mut self, transport: &str, expires: u32, verify: &str) -> String {
        let auth = self.t.answer(self.chal.as_ref().unwrap());
        let extra = format!(
            "{auth}{}Security-Verify: {verify}\r\n{SEC_AGREE_TAGS}",
            security_client(self)
        );
        let local = self.port_c();
        self.t.register_text_over(transport, local, expires, &extra)
    }

    /// A UDP socket on port-c (reused for the whole registration).
    fn udp_c(&self) -> UdpSocket {
        let s = socket2::Socket::new(
            socket2::Domain::IPV4,
            socket2::Type::DGRAM,
            Some(socket2::Protocol::UDP),
        )
        .unwrap();
        s.set_reuse_address(true).unwrap();
        s.bind(&self.port_c().into()).unwrap();
        let u: UdpSocket = s.into();
        u.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        u
    }

    /// Sends the protected REGISTER over UDP from port-c to the P-CSCF's port-s; the final response.
    fn protected_udp(&mut self, sock: &UdpSocket, expires: u32, verify: &str) -> Message {
        let text = self.protected_text("UDP", expires, verify);
        sock.send_to(text.as_bytes(), self.pcscf_s()).unwrap();
        let (m, from) = recv_final(sock);
        assert_eq!(from, self.pcscf_s(), "response from the P-CSCF's port-s");
        m
    }

    /// The protected REGISTER over UDP as the reference trace sends it: from port-c, with the
    /// UE's port-s in Via and no `rport`, so the response comes to port-s — from the P-CSCF's
    /// port-c, the only SA towards the UE's port-s (TS 33.203 §7.1).
    fn protected_udp_trace_via(&mut self, sock: &UdpSocket, expires: u32) -> Message {
        let verify = self.server.clone();
        let text = self.protected_text("UDP", expires, &verify);
        let (c, sp) = (self.port_c(), SocketAddr::new(self.ip, self.own.port_s));
        let via_old = format!("Via: SIP/2.0/UDP {c};");
        assert!(text.contains(&via_old), "{text}");
        let text = text
            .replace(&via_old, &format!("Via: SIP/2.0/UDP {sp};"))
            .replacen(";rport\r\n", "\r\n", 1);
        let at_s = UdpSocket::bind(sp).unwrap();
        at_s.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        sock.send_to(text.as_bytes(), self.pcscf_s()).unwrap();
        let (m, from) = recv_final(&at_s);
        let p = self.sa.unwrap().pcscf;
        assert_eq!(
            from,
            SocketAddr::new(p.addr, p.port_c),
            "from the P-CSCF's port-c"
        );
        m
    }

    /// The protected REGISTER over TCP (connection from port-c to port-s).
    fn protected_tcp(&mut self, expires: u32) -> (Message, TcpStream) {
        let verify = self.server.clone();
        let text = self.protected_text("TCP", expires, &verify);
        let s = socket2::Socket::new(
            socket2::Domain::IPV4,
            socket2::Type::STREAM,
            Some(socket2::Protocol::TCP),
        )
        .unwrap();
        s.set_reuse_address(true).unwrap();
        s.bind(&self.port_c().into()).unwrap();
        s.connect_timeout(&self.pcscf_s().into(), Duration::from_secs(10))
            .expect("TCP handshake through ESP");
        let mut conn: TcpStream = s.into();
        conn.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        conn.write_all(text.as_bytes()).unwrap();
        (read_sip_tcp(&mut conn), conn)
    }
}

/// A request from the UE (not REGISTER) as text.
fn message_text(ue: &Ue, local: SocketAddr, n: u32, to: &str) -> String {
    format!(
        "MESSAGE {to} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bKm{n}x{:x};rport\r\n\
         Max-Forwards: 70\r\nFrom: <{}>;tag=m{n}\r\nTo: <{to}>\r\nCall-ID: msg-{n}-{}\r\n\
         CSeq: 1 MESSAGE\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi",
        rand::random::<u32>(),
        ue.t.impu,
        rand::random::<u32>()
    )
}

fn wait_for(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(50));
    }
}

const ALGS: [IntegrityAlg; 2] = [IntegrityAlg::HmacMd5_96, IntegrityAlg::HmacSha1_96];
const EALGS: [EncryptionAlg; 3] = [
    EncryptionAlg::Null,
    EncryptionAlg::AesCbc,
    EncryptionAlg::DesEde3Cbc,
];

#[test]
fn ipsec_registration_over_real_esp_between_namespaces() {
    let (ue_ip, ims_ip): (IpAddr, IpAddr) =
        ("10.79.0.1".parse().unwrap(), "10.79.0.2".parse().unwrap());
    let (ue_ns, ims_ns, _guard) = namespaces("reg", "10.79.0.1", "10.79.0.2");
    let dir = std::env::temp_dir().join(format!("sa-ipsec-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let keylog = dir.join("esp_sa");
    let pcap = dir.join("wire.pcapng");
    let cap = Capture::start(Some(&ims_ns), &["veth1", "lo"], None, &pcap);
    let core = start_core(&ims_ns, ims_ip, &dir, &keylog, false, LINGER_MS);
    let ipsec = core.ipsec.clone();
    assert_eq!(ipsec.pairs(), &[(5100, 5200)]);
    let pcscf = core.pcscf;

    // the UE's datapath in its namespace
    let ue_dp: Arc<UserspaceBackend> = {
        let ports: Vec<(u16, u16)> = vec![(38000, 38100), (39000, 39100)];
        Arc::new(in_ns(&ue_ns, move || {
            UserspaceBackend::start(&UserspaceConfig {
                tun: "uesp0".into(),
                table: 100,
                ports,
                ipv4: true,
                ipv6: false,
                keylog: None,
            })
            .expect("UE datapath")
        }))
    };

    let ue_ns2 = ue_ns.clone();
    let ipsec2 = ipsec.clone();
    let ue_dp2 = ue_dp.clone();
    // everything the UE does runs on a thread in the UE namespace
    thread::spawn(move || {
        enter(&ue_ns2);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let dp: &dyn SaBackend = &*ue_dp2;
        let mut k = 0u16;
        let next = |k: &mut u16| {
            *k += 1;
            *k
        };

        // (1) a UE that stops after the 401 leaves nothing after the pending timer
        // (TS 33.203 §7.4): the SAs exist from the 401 on, and go with the SPIs.
        let mut quitter = Ue::new(
            &rt,
            1,
            ue_ip,
            pcscf,
            next(&mut k),
            IntegrityAlg::HmacSha1_96,
            EncryptionAlg::AesCbc,
        );
        assert_eq!(quitter.challenge(dp).status(), Some(401));
        assert_eq!(ipsec2.sets(), 1, "SAs installed at the 401");
        assert_eq!(ipsec2.stats().inbound_sas, 2);
        assert_eq!(ipsec2.spis_in_use(), 2);
        wait_for("the pending SA set to go", PENDING_SECS + 5, || {
            ipsec2.sets() == 0
        });
        let st = ipsec2.stats();
        assert_eq!((st.inbound_sas, st.outbound_sas), (0, 0), "SaTable empty");
        assert_eq!(ipsec2.spis_in_use(), 0, "SPIs released");
        dp.remove(quitter.ue_set.as_ref().unwrap()).unwrap();

        // (2) every alg × ealg, protected REGISTER over UDP
        let mut registered = Vec::new();
        let mut imsi = 2u64;
        for alg in ALGS {
            for ealg in EALGS {
                let before = ipsec2.stats().counters;
                let mut ue = Ue::new(&rt, imsi, ue_ip, pcscf, next(&mut k), alg, ealg);
                imsi += 1;
                assert_eq!(ue.challenge(dp).status(), Some(401));
                let sock = ue.udp_c();
                let verify = ue.server.clone();
                let ok = if (alg, ealg) == (IntegrityAlg::HmacMd5_96, EncryptionAlg::Null) {
                    // the reference trace's pair, with its Via (port-s, no rport)
                    ue.protected_udp_trace_via(&sock, 600)
                } else {
                    ue.protected_udp(&sock, 600, &verify)
                };
                assert_eq!(
                    ok.status(),
                    Some(200),
                    "{} + {}: {ok}",
                    alg.name(),
                    ealg.name()
                );
                let after = ipsec2.stats().counters;
                assert!(
                    after.opened > before.opened && after.sealed > before.sealed,
                    "{} + {}: SIP through ESP both ways: {before:?} -> {after:?}",
                    alg.name(),
                    ealg.name()
                );
                println!(
                    "registered over UDP/ESP with {} + {}",
                    alg.name(),
                    ealg.name()
                );
                registered.push((ue, sock));
            }
        }

        // (3) protected REGISTER over TCP
        for (alg, ealg) in [
            (IntegrityAlg::HmacSha1_96, EncryptionAlg::AesCbc),
            (IntegrityAlg::HmacMd5_96, EncryptionAlg::DesEde3Cbc),
        ] {
            let mut ue = Ue::new(&rt, imsi, ue_ip, pcscf, next(&mut k), alg, ealg);
            imsi += 1;
            assert_eq!(ue.challenge(dp).status(), Some(401));
            let (ok, conn) = ue.protected_tcp(600);
            assert_eq!(ok.status(), Some(200), "TCP {}: {ok}", alg.name());
            println!(
                "registered over TCP/ESP with {} + {}",
                alg.name(),
                ealg.name()
            );
            drop(conn);
        }

        // (4) integrity-protected="yes" took effect: a refresh over the SAs is accepted by the
        // S-CSCF without a new challenge (TS 24.229 §5.4.1.2.1)
        let (ue, sock) = &mut registered[0];
        let verify = ue.server.clone();
        let refresh = ue.protected_udp(sock, 600, &verify);
        assert_eq!(refresh.status(), Some(200), "refresh over SAs: {refresh}");

        // (5) Security-Verify mismatch on the protected port: rejected
        let mut bad = Ue::new(
            &rt,
            imsi,
            ue_ip,
            pcscf,
            next(&mut k),
            IntegrityAlg::HmacSha1_96,
            EncryptionAlg::Null,
        );
        assert_eq!(bad.challenge(dp).status(), Some(401));
        let sock_bad = bad.udp_c();
        // a well-formed Security-Verify that is not the Security-Server we sent: 494
        // (RFC 3329 §2.3.1 step 6, TS 24.229 §5.2.2.1)
        let wrong = bad.server.replace("port-c=5100", "port-c=5101");
        assert_ne!(wrong, bad.server);
        let r = bad.protected_udp(&sock_bad, 600, &wrong);
        assert_eq!(r.status(), Some(494), "mismatch must be refused: {r}");

        // the refused UE's pending set goes with the pending timer; the registered ones stay
        wait_for(
            "the refused UE's pending SAs to go",
            PENDING_SECS + 5,
            || ipsec2.sets() == 8,
        );

        // (6) a request from a registered UE outside its SAs (unprotected port) is refused
        let (a, _) = &registered[1];
        let plain_local = a.plain.local_addr().unwrap();
        a.plain
            .send_to(
                message_text(a, plain_local, 1, &registered[2].0.t.impu).as_bytes(),
                pcscf,
            )
            .unwrap();
        let (r, _) = recv_final(&a.plain);
        assert_eq!(r.status(), Some(403), "unprotected request: {r}");

        // (6b) plaintext straight to the P-CSCF's protected port-s (not through ESP) is refused
        // by the kernel: the protected sockets only receive from the datapath's TUN
        let plain_c = UdpSocket::bind(SocketAddr::new(ue_ip, 21000)).unwrap();
        plain_c.connect(a.pcscf_s()).unwrap();
        plain_c
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        plain_c
            .send(
                message_text(a, plain_c.local_addr().unwrap(), 3, &registered[2].0.t.impu)
                    .as_bytes(),
            )
            .unwrap();
        let mut tmp = [0u8; 2048];
        let e = plain_c
            .recv(&mut tmp)
            .expect_err("no SIP answer to plaintext on port-s");
        assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused, "{e}");
        let tcp = socket2::Socket::new(
            socket2::Domain::IPV4,
            socket2::Type::STREAM,
            Some(socket2::Protocol::TCP),
        )
        .unwrap();
        tcp.bind(&SocketAddr::new(ue_ip, 21001).into()).unwrap();
        // no listener takes the SYN; the kernel's RST leaves from port-s, so it is routed into
        // the TUN and dropped for want of an SA: the handshake never completes
        let e = tcp
            .connect_timeout(&a.pcscf_s().into(), Duration::from_secs(2))
            .expect_err("plaintext TCP to port-s refused");
        assert!(
            matches!(
                e.kind(),
                std::io::ErrorKind::TimedOut | std::io::ErrorKind::ConnectionRefused
            ),
            "{e}"
        );

        // (7) over its SAs the same request goes through: A → P-CSCF → S-CSCF → I-CSCF →
        // S-CSCF → P-CSCF → B, which gets it from the P-CSCF's port-c at its port-s, through
        // ESP (TS 33.203 §7.1); B's 200 comes back the same way and reaches A over A's SAs
        let (b, _) = &registered[2];
        let b_s = SocketAddr::new(b.ip, b.own.port_s);
        let listen_s = UdpSocket::bind(b_s).unwrap();
        listen_s
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let (a, sock_a) = &registered[1];
        let b_impu = registered[2].0.t.impu.clone();
        let b_opened = dp.stats().counters.opened;
        sock_a
            .send_to(
                message_text(a, a.port_c(), 2, &b_impu).as_bytes(),
                a.pcscf_s(),
            )
            .unwrap();
        let mut buf = vec![0u8; 65535];
        let (n, from) = listen_s.recv_from(&mut buf).expect("MESSAGE at B's port-s");
        let req = parse(&buf[..n]);
        assert_eq!(req.method(), Some(sip::Method::Message), "{req}");
        let pc = registered[2].0.sa.unwrap().pcscf;
        assert_eq!(
            from,
            SocketAddr::new(pc.addr, pc.port_c),
            "from the P-CSCF's port-c"
        );
        assert!(dp.stats().counters.opened > b_opened, "through ESP");
        let ok = sip_stack::ua::response(&req, 200, "OK", None)
            .build()
            .unwrap();
        listen_s.send_to(ok.as_bytes(), from).unwrap();
        let (r, _) = recv_final(sock_a);
        assert_eq!(r.status(), Some(200), "B's 200 relayed to A: {r}");

        // (8) de-registration: the 200 reaches the UE through ESP, then the set goes
        let (ue, sock) = &mut registered[3];
        let sets = ipsec2.sets();
        let spis = ipsec2.spis_in_use();
        let opened = dp.stats().counters.opened;
        let verify = ue.server.clone();
        let r = ue.protected_udp(sock, 0, &verify);
        assert_eq!(r.status(), Some(200), "de-REGISTER: {r}");
        assert!(
            dp.stats().counters.opened > opened,
            "the 200 came through ESP"
        );
        wait_for("the de-registered UE's SAs to go", 5, || {
            ipsec2.sets() == sets - 1
        });
        assert_eq!(ipsec2.spis_in_use(), spis - 2, "its SPIs released");
        assert_eq!(ipsec2.stats().inbound_sas, 2 * (sets - 1));
        let _ = sock_bad;

        // (9) expiry: a registration that runs out takes its SAs with it (after the linger)
        let (sets, spis) = (ipsec2.sets(), ipsec2.spis_in_use());
        let mut short = Ue::new(
            &rt,
            imsi + 1,
            ue_ip,
            pcscf,
            next(&mut k),
            IntegrityAlg::HmacSha1_96,
            EncryptionAlg::AesCbc,
        );
        assert_eq!(short.challenge(dp).status(), Some(401));
        let sock_short = short.udp_c();
        let verify = short.server.clone();
        let ok = short.protected_udp(&sock_short, 2, &verify);
        assert_eq!(ok.status(), Some(200), "{ok}");
        assert_eq!(ipsec2.sets(), sets + 1);
        wait_for("the expired registration's SAs to go", 8, || {
            ipsec2.sets() == sets
        });
        assert_eq!(ipsec2.spis_in_use(), spis);
    })
    .join()
    .expect("UE scenario");

    let st = ipsec.stats();
    println!("P-CSCF datapath: {st:?}");
    assert_eq!(st.datapath.io_errors, 0);
    assert!(st.datapath.esp_in > 0 && st.datapath.esp_out > 0);
    assert_eq!(
        (st.counters.auth_failed, st.counters.replay),
        (0, 0),
        "nothing bad so far"
    );
    cap.stop();

    // (9) a tampered and a replayed ESP packet: dropped and counted
    let sealed = {
        let mut t = ue_dp.table().lock().unwrap();
        // any SA of the UE towards the P-CSCF's port-s
        let dst = SocketAddr::new(ims_ip, 5200);
        let src = (1..=40u16)
            .map(|k| SocketAddr::new(ue_ip, 38000 + k))
            .find(|s| t.outbound_for(*s, dst, 17).is_some())
            .expect("a UE SA towards port-s");
        let seg = ipsec::packet::build_udp(src, dst, b"\r\n\r\n").unwrap();
        let (mut p1, mut p2) = (Vec::new(), Vec::new());
        t.seal(src, dst, 17, &seg, &mut p1).unwrap();
        t.seal(src, dst, 17, &seg, &mut p2).unwrap();
        (p1, p2)
    };
    let before = ipsec.stats().counters;
    in_ns(&ue_ns, move || {
        let s = ipsec::datapath::EspSocket::open_v4().unwrap();
        let (p1, mut p2) = sealed;
        s.send_to(ims_ip, &p1).unwrap();
        s.send_to(ims_ip, &p1).unwrap(); // replayed
        let last = p2.len() - 1;
        p2[last] ^= 0x55; // tampered ICV, fresh sequence number
        s.send_to(ims_ip, &p2).unwrap();
    });
    wait_for("tampered/replayed packets counted", 5, || {
        let c = ipsec.stats().counters;
        c.replay > before.replay && c.auth_failed > before.auth_failed
    });
    let after = ipsec.stats().counters;
    assert_eq!(after.opened, before.opened + 1, "only the original opened");
    assert_eq!(after.replay, before.replay + 1);
    assert_eq!(after.auth_failed, before.auth_failed + 1);

    // while running: the policy routing and the TUN are there
    let rules = ip_out(&ims_ns, &["rule"]);
    assert!(rules.contains("sport 5200"), "{rules}");
    core.stop();
    drop(ue_dp);
    // stopped: rules, routes and TUN removed
    let rules = ip_out(&ims_ns, &["rule"]);
    assert!(
        !rules.contains("sport 5100") && !rules.contains("sport 5200"),
        "{rules}"
    );
    let links = ip_out(&ims_ns, &["link"]);
    assert!(!links.contains("imsesp0"), "{links}");
    let routes = ip_out(&ims_ns, &["route", "show", "table", "5100"]);
    assert!(routes.trim().is_empty(), "{routes}");

    // (10) Wireshark decrypts and authenticates every ESP packet with the P-CSCF's keylog and
    // finds the SIP inside; the forwarded REGISTERs say integrity-protected="yes"
    std::fs::copy(&keylog, dir.join("esp_sa_copy")).unwrap();
    let rows = tshark(
        &dir,
        &pcap,
        "esp",
        &[
            "esp.spi",
            "esp.icv_good",
            "esp.icv_bad",
            "sip.Method",
            "sip.Status-Code",
        ],
    );
    assert!(rows.len() > 20, "{rows:?}");
    for r in &rows {
        assert_eq!((r[1].as_str(), r[2].as_str()), ("1", "0"), "{r:?}");
    }
    let methods: Vec<&str> = rows
        .iter()
        .map(|r| r[3].as_str())
        .filter(|m| !m.is_empty())
        .collect();
    assert!(
        methods.iter().filter(|m| **m == "REGISTER").count() >= 10,
        "{methods:?}"
    );
    assert!(methods.contains(&"MESSAGE"), "{methods:?}");
    assert!(rows.iter().any(|r| r[4] == "200"), "{rows:?}");
    let fwd = tshark(
        &dir,
        &pcap,
        "sip.Method == \"REGISTER\" && udp.dstport == 4060",
        &["sip.Authorization"],
    );
    let yes = fwd
        .iter()
        .filter(|r| r[0].contains("integrity-protected=\"yes\""))
        .count();
    assert!(
        yes >= 9,
        "forwarded with integrity-protected=\"yes\": {fwd:?}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn ipsec_reregistration_sets_up_a_new_set_and_retires_the_old_one_after_it_is_used() {
    let (ue_ip, ims_ip): (IpAddr, IpAddr) =
        ("10.80.0.1".parse().unwrap(), "10.80.0.2".parse().unwrap());
    let (ue_ns, ims_ns, _guard) = namespaces("rereg", "10.80.0.1", "10.80.0.2");
    let dir = std::env::temp_dir().join(format!("sa-ipsec-rereg-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let core = start_core(&ims_ns, ims_ip, &dir, &dir.join("esp_sa"), true, 2000);
    let ipsec = core.ipsec.clone();
    let pcscf = core.pcscf;
    let ue_dp: Arc<UserspaceBackend> = Arc::new(in_ns(&ue_ns, move || {
        UserspaceBackend::start(&UserspaceConfig {
            tun: "uesp0".into(),
            table: 100,
            ports: vec![(38000, 38100), (39000, 39100)],
            ipv4: true,
            ipv6: false,
            keylog: None,
        })
        .expect("UE datapath")
    }));
    let ue_dp2 = ue_dp.clone();
    let ue_ns2 = ue_ns.clone();
    thread::spawn(move || {
        enter(&ue_ns2);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let dp: &dyn SaBackend = &*ue_dp2;
        let mut ue = Ue::new(
            &rt,
            1,
            ue_ip,
            pcscf,
            1,
            IntegrityAlg::HmacSha1_96,
            EncryptionAlg::AesCbc,
        );
        assert_eq!(ue.challenge(dp).status(), Some(401));
        let old_sock = ue.udp_c();
        let verify = ue.server.clone();
        let ok = ue.protected_udp(&old_sock, 600, &verify);
        assert_eq!(ok.status(), Some(200), "{ok}");
        assert_eq!(ipsec.sets(), 1);
        let old_set = ue.ue_set.clone().unwrap();
        let old_p = ue.sa.unwrap().pcscf;

        // re-registration over the old SAs: its 401 sets up a second set
        let opened = dp.stats().counters.opened;
        let chal = ue.reregister(&old_sock, 2, dp);
        assert_eq!(chal.status(), Some(401), "{chal}");
        assert!(
            dp.stats().counters.opened > opened,
            "401 through the old SAs"
        );
        assert_eq!(ipsec.sets(), 2, "new set at the 401, old one kept");
        let new_p = ue.sa.unwrap().pcscf;
        assert!(new_p.spi_c != old_p.spi_c && new_p.spi_s != old_p.spi_s);

        // the protected REGISTER over the new SAs; the old set stays until then, and a little
        // longer (linger), then goes with its SPIs
        let new_sock = ue.udp_c();
        let verify = ue.server.clone();
        let ok = ue.protected_udp(&new_sock, 600, &verify);
        assert_eq!(ok.status(), Some(200), "{ok}");
        assert_eq!(ipsec.sets(), 2, "old set lingers briefly after the 200");
        wait_for("the old set to be retired", 6, || ipsec.sets() == 1);
        assert_eq!(ipsec.spis_in_use(), 2, "old SPIs released");
        assert_eq!(ipsec.stats().inbound_sas, 2);

        // the old SAs are gone: a packet on them is an unknown SPI; the new ones carry SIP
        let before = ipsec.stats().counters;
        let sealed = {
            let mut t = ipsec::SaTable::new();
            old_set.install(&mut t).unwrap();
            let (src, dst) = (
                SocketAddr::new(ue_ip, old_set.local.port_c),
                SocketAddr::new(ims_ip, old_set.remote.port_s),
            );
            let seg = ipsec::packet::build_udp(src, dst, b"\r\n\r\n").unwrap();
            let mut esp = Vec::new();
            t.seal(src, dst, 17, &seg, &mut esp).unwrap();
            esp
        };
        ipsec::datapath::EspSocket::open_v4()
            .unwrap()
            .send_to(ims_ip, &sealed)
            .unwrap();
        wait_for("the old SPI to be unknown", 5, || {
            ipsec.stats().counters.unknown_spi > before.unknown_spi
        });
    })
    .join()
    .expect("UE scenario");
    core.stop();
    drop(ue_dp);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A P-CSCF configured for ipsec-3gpp whose datapath cannot open does not start, and says why
/// (here: a TUN name the kernel refuses; without root it is the TUN/raw socket itself).
#[test]
fn pcscf_with_ipsec_but_no_datapath_refuses_to_start_with_a_clear_message() {
    let dir = testkit::scratch::TempDir::new("sa-ipsec-nodp");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let err = rt.block_on(async {
        let store: Arc<dyn RegistrationStore> =
            Arc::new(SqliteStore::open_in_dir(dir.path()).await.unwrap());
        let port = testkit::scratch::free_udp_port();
        start_pcscf(
            &PcscfNodeConfig {
                sip: SipConfig {
                    listen: vec![format!("udp:127.0.0.1:{port}")],
                    host: "pcscf.ip.test".into(),
                    aliases: vec![],
                    t1_ms: None,
                },
                pcscf: PcscfConfig {
                    ipsec: Some(IpsecConfig {
                        tun: "a-name-longer-than-ifnamsiz".into(),
                        ..IpsecConfig::default()
                    }),
                    ..PcscfConfig::default()
                },
            },
            store,
            NextHop::new(host_table(&BTreeMap::new()).unwrap()),
        )
        .await
        .err()
        .expect("must not start")
        .to_string()
    });
    assert!(
        err.contains("pcscf.ipsec") && err.contains("userspace ESP datapath"),
        "{err}"
    );
    assert!(err.contains("remove [pcscf.ipsec]"), "{err}");
}
