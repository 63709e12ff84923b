//! The UE's ipsec-3gpp half (TS 33.203 §7, TS 24.229 §5.1.1) on real packets: two network
//! namespaces created by the test (UE host, P-CSCF host) joined by a veth pair. In the UE
//! namespace the real driver ([`ue::driver::run_with`] with [`Security::Ipsec`] on its own
//! userspace ESP datapath) registers against a scripted P-CSCF in the other namespace, built from
//! the `ipsec` datapath, `sip` parsing and `aka`:
//!
//! 1. the unprotected REGISTER's Security-Client offers exactly the asked alg/ealg; the script
//!    answers 401 with a real AKA challenge for the UE's K/OP (no ck/ik) and a Security-Server of
//!    its own SPIs/ports, and installs its four SAs;
//! 2. the protected REGISTER must arrive through ESP on port-s, from the UE's port-c, with
//!    Security-Verify equal to that Security-Server and a digest response made from RES; 200;
//! 3. SUBSCRIBE over the SAs, 200; a NOTIFY from the P-CSCF's port-c to the UE's port-s, whose
//!    200 must come back through ESP;
//! 4. re-registration (TS 33.203 §7.4): the re-REGISTER over the old SAs offers new SPIs and a new
//!    port-c; it is challenged, new SAs on both sides, the REGISTER over the new ones gets its
//!    200, after which the UE holds only the new set;
//! 5. de-registration over the new SAs; after the final response the UE's SAs are gone, and when
//!    the run ends its policy rules and TUN too.
//!
//! Datapath counters on both sides prove the traffic went through ESP; the `--esp-keylog` file
//! holds the UE's SAs (4 per set). Needs root: fails (never skips) without it.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::Duration;

use aka::digest::{self, DigestInput, Qop, QopParams};
use aka::{Amf, AuthVector, Milenage, Op, Rand, Sqn, K};
use bytes::Bytes;
use ipsec::datapath::{Datapath, EspSocket, Routing, Tun};
use ipsec::{Counters, EncryptionAlg, IntegrityAlg, SaTable};
use secagree::negotiate::{ipsec_ids, IpsecIds};
use secagree::{lists_eq, SaParams};
use sip::{Header, Message, MessageBuilder, Method, SecurityMechanism};
use testkit::netns::{enter, ip, tshark_fields, Capture, VethPair};
use tokio::sync::watch;
use ue::driver::{self, Outcome, Report, RunOptions, Security, TimerConfig, TransportKind, Wire};
use ue::ipsec::{IpsecSettings, IpsecUe, UeDatapath};
use ue::load::{self, LoadConfig, LoadSecurity, Progress, Subscriber};
use ue::{Credentials, Isim, Ue, UeConfig};

const K_HEX: &str = "465b5ce8b199b49faa5f0a2ee238a6bc";
const OP_HEX: &str = "cdc202d5123e20f62b6d676ac72cb318";
const REALM: &str = "ims.test";
const P_PORT_C: u16 = 5062;
const P_PORT_S: u16 = 5064;

/// Two namespaces joined by a veth pair; (guard, UE ns, P-CSCF ns, UE address, P-CSCF address).
fn namespaces(tag: &str) -> (VethPair, String, String, IpAddr, IpAddr) {
    let pair = VethPair::new("ueip-", tag, "10.78.0.1", "10.78.0.2");
    let (a, b) = (pair.a.clone(), pair.b.clone());
    (
        pair,
        a,
        b,
        "10.78.0.1".parse().unwrap(),
        "10.78.0.2".parse().unwrap(),
    )
}

/// Reads `pcap` with the ESP SA file in `config`; one row per ESP frame.
fn decode(pcap: &Path, config: &Path) -> Vec<Vec<String>> {
    // the UE's ports are random (30000-32767): tshark registers some of them for other protocols
    // (30030 is Juniper's packet mirror), so the SIP heuristics must come first
    tshark_fields(
        Some(config),
        pcap,
        &[
            "-o",
            "udp.try_heuristic_first:TRUE",
            "-o",
            "tcp.try_heuristic_first:TRUE",
        ],
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

/// Reads one SIP message from a stream (Content-Length framing), 10 s bound.
fn read_stream(conn: &mut TcpStream, buf: &mut Vec<u8>) -> Message {
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                let raw: Vec<u8> = buf.drain(..end + 4 + len).collect();
                return Message::parse(Bytes::from(raw)).expect("SIP message parses");
            }
        }
        let mut chunk = [0u8; 8192];
        let n = conn.read(&mut chunk).expect("read within 10 s");
        assert!(n > 0, "connection closed");
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// The script's side of one transport: where requests come from and answers go.
enum Link {
    Udp(UdpSocket, Option<SocketAddr>),
    Tcp(TcpStream, Vec<u8>),
}

impl Link {
    /// The next request (a retransmission of an answered one is skipped), and its source.
    fn request(&mut self, answered: &mut Vec<String>) -> (Message, SocketAddr) {
        loop {
            let (m, from) = match self {
                Link::Udp(s, last) => {
                    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                    let mut buf = vec![0u8; 65_535];
                    let (n, from) = s.recv_from(&mut buf).expect("request within 10 s");
                    *last = Some(from);
                    (
                        Message::parse(Bytes::copy_from_slice(&buf[..n])).expect("parses"),
                        from,
                    )
                }
                Link::Tcp(c, buf) => {
                    let from = c.peer_addr().unwrap();
                    (read_stream(c, buf), from)
                }
            };
            if !m.is_request() {
                continue;
            }
            let b = m.top_via().unwrap().branch().unwrap().to_string();
            if answered.contains(&b) {
                continue;
            }
            answered.push(b);
            return (m, from);
        }
    }

    fn send(&mut self, m: &Message) {
        match self {
            Link::Udp(s, Some(to)) => {
                s.send_to(&m.wire(), *to).unwrap();
            }
            Link::Udp(_, None) => panic!("nothing to answer"),
            Link::Tcp(c, _) => c.write_all(&m.wire()).unwrap(),
        }
    }
}

fn header(m: &Message, name: &str) -> String {
    m.header_value(name)
        .map(|v| v.to_string())
        .unwrap_or_default()
}

/// What the script saw, for the final checks.
#[derive(Debug, Default)]
struct Seen {
    registers: usize,
    notify_answered: bool,
    port_cs: Vec<u16>,
    counters: Counters,
}

struct Script {
    milenage: Milenage,
    sqn: u64,
    alg: &'static str,
    ealg: &'static str,
    p_ip: IpAddr,
    ue_ip: IpAddr,
    table: Arc<Mutex<SaTable>>,
    answered: Vec<String>,
}

struct Challenge {
    server: Vec<SecurityMechanism>,
    xres: aka::Res,
    nonce: String,
    params: SaParams,
    ue_ids: IpsecIds,
}

impl Script {
    /// Checks the UE's Security-Client, makes a vector, installs our SAs, answers 401.
    fn challenge(&mut self, req: &Message, link: &mut Link, spi_base: u32) -> Challenge {
        let client = req.security_client().unwrap();
        assert!(!client.is_empty(), "no Security-Client: {req}");
        // restricted to the one pair asked for with --ipsec-alg/--ipsec-ealg
        assert_eq!(client.len(), 1, "{req}");
        let entry = &client[0];
        assert_eq!(entry.alg(), Some(self.alg), "{req}");
        assert_eq!(entry.ealg(), Some(self.ealg), "{req}");
        let ue_ids = ipsec_ids(entry).expect("UE ids");
        self.sqn += 1;
        let av = AuthVector::generate(
            &self.milenage,
            Rand::random(),
            Sqn::new(self.sqn << 5).unwrap(),
            Amf([0x80, 0]),
        );
        let p_ids = IpsecIds {
            spi_c: spi_base,
            spi_s: spi_base + 1,
            port_c: P_PORT_C,
            port_s: P_PORT_S,
        };
        let params = SaParams {
            integrity: IntegrityAlg::from_name(self.alg).unwrap(),
            encryption: EncryptionAlg::from_name(self.ealg).unwrap(),
            ue: ue_ids.endpoint(self.ue_ip),
            pcscf: p_ids.endpoint(self.p_ip),
        };
        params
            .pcscf_sa_set(&av.ik, &av.ck)
            .install(&mut self.table.lock().unwrap())
            .expect("P-CSCF SAs install");
        let server_text = format!(
            "ipsec-3gpp;q=0.1;alg={};ealg={};prot=esp;mod=trans;spi-c={};spi-s={};port-c={P_PORT_C};port-s={P_PORT_S}",
            self.alg, self.ealg, p_ids.spi_c, p_ids.spi_s
        );
        let nonce = av.sip_nonce();
        let resp = MessageBuilder::response_to(req, 401, "Unauthorized", Some("p401"))
            .header(
                "WWW-Authenticate",
                format!(
                    "Digest realm=\"{REALM}\", nonce=\"{nonce}\", algorithm=AKAv1-MD5, qop=\"auth\""
                ),
            )
            .header("Security-Server", &server_text)
            .build()
            .unwrap();
        assert!(!resp.to_string().contains("ck="), "no ck/ik towards the UE");
        link.send(&resp);
        Challenge {
            server: vec![SecurityMechanism::parse_str(&server_text).unwrap()],
            xres: av.xres,
            nonce,
            params,
            ue_ids,
        }
    }

    /// Checks a protected REGISTER (source, Security-Verify, digest) and answers 200.
    fn accept(&mut self, req: &Message, from: SocketAddr, ch: &Challenge, link: &mut Link) {
        assert_eq!(req.method(), Some(Method::Register), "{req}");
        assert_eq!(
            from,
            SocketAddr::new(self.ue_ip, ch.ue_ids.port_c),
            "the protected REGISTER comes from the UE's port-c"
        );
        let verify = req.security_verify().unwrap();
        assert!(lists_eq(&verify, &ch.server), "Security-Verify: {req}");
        let auth = req.authorization().unwrap().expect("Authorization");
        assert_eq!(auth.nonce(), Some(ch.nonce.as_str()));
        let ha1 = digest::ha1_akav1(auth.username().unwrap(), REALM, &ch.xres);
        let input = DigestInput {
            nonce: &ch.nonce,
            method: "REGISTER",
            uri: auth.uri().unwrap(),
            qop: Some(QopParams {
                qop: Qop::Auth,
                nc: auth.nc().unwrap(),
                cnonce: auth.cnonce().unwrap(),
            }),
            body: b"",
        };
        assert!(
            digest::verify_response(&ha1, &input, auth.response().unwrap()).unwrap(),
            "digest response from RES"
        );
        self.ok(req, link);
    }

    fn ok(&mut self, req: &Message, link: &mut Link) {
        let exp = req.expires().unwrap().unwrap_or(600);
        let contact = header(req, "Contact");
        let contact = contact.split(';').next().unwrap_or("").to_string();
        let resp = MessageBuilder::response_to(req, 200, "OK", Some("p200"))
            .header("Contact", format!("{contact};expires={exp}"))
            .header("Expires", exp)
            .build()
            .unwrap();
        link.send(&resp);
    }
}

/// The scripted P-CSCF (see the module doc); runs in `ns`. `done` is told once the UE may stop.
#[allow(clippy::too_many_arguments)]
fn pcscf(
    ns: String,
    p_ip: IpAddr,
    ue_ip: IpAddr,
    tcp: bool,
    alg: &'static str,
    ealg: &'static str,
    ready: mpsc::Sender<()>,
    done: tokio::sync::oneshot::Sender<()>,
) -> Seen {
    enter(&ns);
    let table = Arc::new(Mutex::new(SaTable::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let dp_thread = {
        let (table, stop) = (table.clone(), stop.clone());
        let (tx, rx) = mpsc::channel();
        let ns = ns.clone();
        let h = thread::spawn(move || {
            enter(&ns);
            let tun = Tun::open("pesptun").unwrap();
            let esp = EspSocket::open_v4().unwrap();
            let mut dp = Datapath::new(tun, esp, table);
            tx.send(()).unwrap();
            dp.run(&stop).unwrap();
            dp.stats()
        });
        rx.recv_timeout(Duration::from_secs(10)).unwrap();
        h
    };
    Routing {
        tun: "pesptun".into(),
        table: 100,
        ports: vec![(P_PORT_C, P_PORT_S)],
        ipv4: true,
        ipv6: false,
    }
    .apply()
    .unwrap();
    let unprot = SocketAddr::new(p_ip, 5060);
    let s_addr = SocketAddr::new(p_ip, P_PORT_S);
    let udp_5060 = UdpSocket::bind(unprot).unwrap();
    let tcp_5060 = TcpListener::bind(unprot).unwrap();
    let udp_s = UdpSocket::bind(s_addr).unwrap();
    let tcp_s = TcpListener::bind(s_addr).unwrap();
    let udp_c = UdpSocket::bind(SocketAddr::new(p_ip, P_PORT_C)).unwrap();
    ready.send(()).unwrap();
    let mut sc = Script {
        milenage: Milenage::with_op(&K::from_hex(K_HEX).unwrap(), &Op::from_hex(OP_HEX).unwrap()),
        sqn: 0,
        alg,
        ealg,
        p_ip,
        ue_ip,
        table: table.clone(),
        answered: Vec::new(),
    };
    let mut seen = Seen::default();
    let accept = |l: &TcpListener| {
        // bounded: 10 s for the UE to connect
        l.set_nonblocking(true).unwrap();
        for _ in 0..500 {
            match l.accept() {
                Ok((c, _)) => {
                    c.set_nonblocking(false).unwrap();
                    return Link::Tcp(c, Vec::new());
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    thread::sleep(Duration::from_millis(20))
                }
                Err(e) => panic!("accept: {e}"),
            }
        }
        panic!("no TCP connection from the UE within 10 s");
    };
    // 1. unprotected REGISTER → 401
    let mut link = if tcp {
        accept(&tcp_5060)
    } else {
        Link::Udp(udp_5060.try_clone().unwrap(), None)
    };
    let (r1, _) = link.request(&mut sc.answered);
    assert_eq!(r1.method(), Some(Method::Register), "{r1}");
    assert_eq!(header(&r1, "Require"), "sec-agree", "{r1}");
    let ch1 = sc.challenge(&r1, &mut link, 0x7000);
    seen.port_cs.push(ch1.ue_ids.port_c);
    // 2. protected REGISTER through ESP on port-s
    let mut plink = if tcp {
        accept(&tcp_s)
    } else {
        Link::Udp(udp_s.try_clone().unwrap(), None)
    };
    let (r2, from) = plink.request(&mut sc.answered);
    sc.accept(&r2, from, &ch1, &mut plink);
    seen.registers += 2;
    // 3. SUBSCRIBE → 200; NOTIFY port-c → UE port-s; its 200 comes back through ESP
    let (sub, from) = plink.request(&mut sc.answered);
    assert_eq!(sub.method(), Some(Method::Subscribe), "{sub}");
    assert_eq!(from.port(), ch1.ue_ids.port_c);
    assert!(
        lists_eq(&sub.security_verify().unwrap(), &ch1.server),
        "{sub}"
    );
    let sub_ok = MessageBuilder::response_to(&sub, 200, "OK", Some("pnotify"))
        .header("Expires", 600)
        .build()
        .unwrap();
    plink.send(&sub_ok);
    let impu = format!("sip:001@{REALM}");
    let contact = header(&sub, "Contact");
    let contact_uri = contact
        .trim_start_matches('<')
        .split('>')
        .next()
        .unwrap()
        .to_string();
    let body = format!(
        "<?xml version=\"1.0\"?>\n<reginfo xmlns=\"urn:ietf:params:xml:ns:reginfo\" version=\"0\" state=\"full\">\
         <registration aor=\"{impu}\" id=\"a1\" state=\"active\"><contact id=\"c1\" state=\"active\" \
         event=\"registered\"><uri>{contact_uri}</uri></contact></registration></reginfo>"
    );
    let notify = format!(
        "NOTIFY {contact_uri} SIP/2.0\r\nVia: SIP/2.0/UDP {p_ip}:{P_PORT_C};branch=z9hG4bKnotify1\r\n\
         Max-Forwards: 70\r\nFrom: <{impu}>;tag=pnotify\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: 1 NOTIFY\r\n\
         Event: reg\r\nSubscription-State: active;expires=600\r\n\
         Content-Type: application/reginfo+xml\r\nContent-Length: {}\r\n\r\n{body}",
        header(&sub, "From"),
        header(&sub, "Call-ID"),
        body.len()
    );
    let ue_s = SocketAddr::new(ue_ip, ch1.ue_ids.port_s);
    udp_c.send_to(notify.as_bytes(), ue_s).unwrap();
    udp_c
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut buf = vec![0u8; 65_535];
    let (n, from) = udp_c
        .recv_from(&mut buf)
        .expect("the UE's answer to the NOTIFY");
    let ans = Message::parse(Bytes::copy_from_slice(&buf[..n])).unwrap();
    assert_eq!(from, ue_s, "answered from the UE's port-s");
    assert_eq!(ans.status(), Some(200), "{ans}");
    seen.notify_answered = true;
    // 4. re-registration: new offer over the old SAs, challenged, new SAs
    let (r3, from) = plink.request(&mut sc.answered);
    assert_eq!(r3.method(), Some(Method::Register), "{r3}");
    assert_eq!(
        from.port(),
        ch1.ue_ids.port_c,
        "re-REGISTER over the old SAs"
    );
    assert!(
        lists_eq(&r3.security_verify().unwrap(), &ch1.server),
        "{r3}"
    );
    let ch2 = sc.challenge(&r3, &mut plink, 0x7100);
    assert_ne!(ch2.ue_ids.spi_c, ch1.ue_ids.spi_c, "new SPIs (§7.4)");
    assert_ne!(ch2.ue_ids.port_c, ch1.ue_ids.port_c, "new port-c (§7.4)");
    assert_eq!(ch2.ue_ids.port_s, ch1.ue_ids.port_s, "same port-s (§7.4)");
    seen.port_cs.push(ch2.ue_ids.port_c);
    let mut nlink = if tcp {
        accept(&tcp_s)
    } else {
        Link::Udp(udp_s.try_clone().unwrap(), None)
    };
    let (r4, from) = nlink.request(&mut sc.answered);
    sc.accept(&r4, from, &ch2, &mut nlink);
    seen.registers += 2;
    // the old set goes after the 200 (TS 33.203 §7.4)
    ch1.params
        .pcscf_sa_set(&aka::Ik::from_bytes([0; 16]), &aka::Ck::from_bytes([0; 16]))
        .remove(&mut table.lock().unwrap());
    let _ = done.send(());
    // 5. de-registration over the new SAs
    let (r5, from) = nlink.request(&mut sc.answered);
    assert_eq!(r5.method(), Some(Method::Register), "{r5}");
    assert_eq!(from.port(), ch2.ue_ids.port_c);
    assert_eq!(r5.expires().unwrap(), Some(0), "{r5}");
    assert!(
        lists_eq(&r5.security_verify().unwrap(), &ch2.server),
        "{r5}"
    );
    sc.ok(&r5, &mut nlink);
    seen.registers += 1;
    thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    let stats = dp_thread.join().unwrap();
    seen.counters = table.lock().unwrap().counters().clone();
    assert_eq!(stats.io_errors, 0, "{stats:?}");
    seen
}

/// Drives the UE with `ue::driver::run_with` (`load` false) or as the one UE of a load run
/// (`imscore bench --sec ipsec`: shared datapath, shared UDP sockets).
fn scenario(tag: &str, tcp: bool, alg: &'static str, ealg: &'static str, load: bool) {
    let (_guard, ue_ns, p_ns, ue_ip, p_ip) = namespaces(tag);
    let dir = std::env::temp_dir().join(format!("ue-ipsec-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let keylog = dir.join("esp_sa");

    // the wire, for Wireshark with the UE's --esp-keylog file
    let pcap = dir.join("wire.pcap");
    let cap = Capture::start(Some(&p_ns), &["veth1"], None, &pcap);
    let (ready_tx, ready_rx) = mpsc::channel();
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    let p = {
        let p_ns = p_ns.clone();
        thread::spawn(move || pcscf(p_ns, p_ip, ue_ip, tcp, alg, ealg, ready_tx, done_tx))
    };
    ready_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("scripted P-CSCF ready");

    let ue_ns2 = ue_ns.clone();
    let keylog2 = keylog.clone();
    let ue_side = thread::spawn(move || {
        enter(&ue_ns2);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let pcscf = SocketAddr::new(p_ip, 5060);
            let mut settings = IpsecSettings::new(p_ip, ue_ip);
            settings.tun = "uesptun".into();
            settings.table = 100;
            settings.ports = (30000, 30099); // below the ephemeral range
            settings.keylog = Some(keylog2);
            let dp = UeDatapath::start(settings).expect("UE datapath");
            if load {
                return run_load(dp, p_ip, alg, ealg, done_rx).await;
            }
            let kind = if tcp {
                TransportKind::Tcp
            } else {
                TransportKind::Udp
            };
            let sec = IpsecUe::allocate(&dp, kind, vec![alg.into()], vec![ealg.into()])
                .await
                .unwrap();
            let wire = if tcp {
                Wire::tcp(pcscf).await.unwrap()
            } else {
                Wire::udp(pcscf).await.unwrap()
            };
            let local = wire.local_addr();
            let mut cfg = UeConfig::new(
                format!("001@{REALM}"),
                format!("sip:001@{REALM}"),
                REALM,
                local.ip().to_string(),
                local.port(),
            );
            cfg.transport = kind.via_token().into();
            cfg.pcscf = Some((p_ip.to_string(), 5060));
            cfg.expires = 4; // re-registration after 2 s
            cfg.reg_event_expires = Some(600);
            cfg.security.ipsec = Some(sec.offer());
            let isim = Isim::from_hex(K_HEX, Some(OP_HEX), None, None).unwrap();
            let ue = Ue::new(cfg, Credentials::Aka(Box::new(isim))).unwrap();
            let opts = RunOptions {
                timers: TimerConfig {
                    t1: Duration::from_secs(1),
                    t2: Duration::from_secs(4),
                },
                trace: true,
                ..RunOptions::default()
            };
            let (stop_tx, stop) = watch::channel(false);
            tokio::spawn(async move {
                if done_rx.await.is_ok() {
                    // let the UE take the 200 of the re-registration first
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    let _ = stop_tx.send(true);
                }
            });
            let mut ladder = Vec::new();
            let mut after_rereg = None;
            let dp2 = dp.clone();
            let out = tokio::time::timeout(
                Duration::from_secs(40),
                driver::run_with(ue, wire, Security::Ipsec(sec), &opts, stop, |r| match r {
                    Report::Trace(l) => ladder.push(l),
                    Report::Registered { initial: false, .. } => {
                        after_rereg = Some(dp2.sa_count());
                    }
                    _ => {}
                }),
            )
            .await
            .expect("the UE run ends within 40 s");
            let left = dp.sa_count();
            // stop the datapath first: TCP's closing segments may still be in flight, and the
            // counters and I/O stats are only consistent with each other once its thread is done
            dp.shutdown();
            let (counters, stats) = (dp.counters(), dp.stats());
            (out, ladder, after_rereg, left, counters, stats)
        })
    });
    let (out, ladder, after_rereg, left, ue_c, ue_stats) = ue_side.join().expect("UE side");
    let seen = p.join().expect("scripted P-CSCF");
    let ladder = ladder.join("\n");
    assert_eq!(out, Outcome::Deregistered, "{ladder}");
    // after the 200 of the re-registration only the new set remains; none after de-registration
    if !load {
        assert_eq!(after_rereg, Some((2, 2)), "{ladder}");
    }
    assert_eq!(left, (0, 0), "{ladder}");
    assert_eq!(seen.registers, 5);
    assert!(seen.notify_answered);
    // ESP carried everything: REGISTER×3, SUBSCRIBE, NOTIFY answer from the UE (+ TCP segments)
    assert!(
        ue_c.sealed >= 5 && seen.counters.opened >= 5,
        "{ue_c:?} {:?}",
        seen.counters
    );
    assert!(
        ue_c.opened >= 5 && seen.counters.sealed >= 5,
        "{ue_c:?} {:?}",
        seen.counters
    );
    for c in [&ue_c, &seen.counters] {
        assert_eq!(
            (c.auth_failed, c.replay, c.bad_padding, c.policy_mismatch),
            (0, 0, 0, 0),
            "{c:?}"
        );
    }
    assert_eq!(ue_stats.esp_out, ue_c.sealed, "{ue_stats:?}");
    assert_eq!(ue_stats.io_errors, 0);
    // keylog: 4 SAs per set, two sets
    let log = std::fs::read_to_string(&keylog).unwrap();
    assert_eq!(log.lines().count(), 8, "{log}");
    // the two sets' SPIs: the UE's inbound ones (towards it) appear in the log
    assert_eq!(seen.port_cs.len(), 2);
    assert!(log.lines().all(|l| l.starts_with("\"IPv4\",")), "{log}");
    // the UE's datapath is gone: no rule for its table, no TUN
    // tshark authenticates (and decrypts) every ESP packet of the run with the UE's keylog and
    // finds the SIP inside
    thread::sleep(Duration::from_millis(1000)); // let dumpcap hand over its last block
    cap.stop();
    let rows = decode(&pcap, &dir);
    // (at least: TCP's closing segments may be sealed after the counters were read)
    assert!(
        rows.len() as u64 >= ue_c.sealed + seen.counters.sealed,
        "every ESP packet captured: {rows:?}"
    );
    for r in &rows {
        assert_eq!(
            (r[1].as_str(), r[2].as_str(), r[5].as_str()),
            ("1", "0", ""),
            "{r:?}"
        );
    }
    let methods: Vec<&str> = rows
        .iter()
        .flat_map(|r| r[3].split(','))
        .filter(|m| !m.is_empty())
        .collect();
    for m in ["REGISTER", "SUBSCRIBE", "NOTIFY"] {
        assert!(methods.contains(&m), "{m} not seen in ESP: {rows:?}");
    }
    assert_eq!(
        methods.iter().filter(|m| **m == "REGISTER").count(),
        4,
        "protected REGISTERs: initial, refresh (old SAs), after the new challenge, de-registration: {rows:?}"
    );
    let rules = ip(&["-n", &ue_ns, "rule", "show"]);
    assert!(!rules.contains("lookup 100"), "{rules}");
    let links = ip(&["-n", &ue_ns, "link", "show"]);
    assert!(!links.contains("uesptun"), "{links}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The load generator's path: one UE from `ue::load::run` with [`LoadSecurity::Ipsec`], stopped
/// by the end of the run once the script has seen the re-registration.
async fn run_load(
    dp: UeDatapath,
    p_ip: IpAddr,
    alg: &'static str,
    ealg: &'static str,
    done: tokio::sync::oneshot::Receiver<()>,
) -> (
    Outcome,
    Vec<String>,
    Option<(usize, usize)>,
    (usize, usize),
    Counters,
    ipsec::datapath::DatapathStats,
) {
    let cfg = LoadConfig {
        pcscf: SocketAddr::new(p_ip, 5060),
        ues: 1,
        rate: 10.0,
        duration: Duration::from_millis(3500), // re-registration at ~2 s, then de-registration
        expires: 4,
        reg_event: true,
        sockets: 1,
        timers: TimerConfig {
            t1: Duration::from_secs(1),
            t2: Duration::from_secs(4),
        },
        security: LoadSecurity::Ipsec {
            datapath: dp.clone(),
            algs: vec![alg.into()],
            ealgs: vec![ealg.into()],
        },
    };
    let subs = [Subscriber {
        impi: format!("001@{REALM}"),
        impu: format!("sip:001@{REALM}"),
        k: K_HEX.into(),
        op: Some(OP_HEX.into()),
        opc: None,
        amf: None,
    }];
    let s = tokio::time::timeout(
        Duration::from_secs(40),
        load::run(&cfg, &subs, Arc::new(Progress::default())),
    )
    .await
    .expect("load run within 40 s")
    .expect("load run");
    assert!(done.await.is_ok(), "the script saw the re-registration");
    let out = if s.registered == 1 && s.reregistered >= 1 && s.deregistered == 1 && s.failed == 0 {
        Outcome::Deregistered
    } else {
        Outcome::Failed(format!("{s:?}"))
    };
    let left = dp.sa_count();
    let (counters, stats) = (dp.counters(), dp.stats());
    assert_eq!(dp.allocated(), (0, 0), "SPIs and ports back in the pool");
    dp.shutdown();
    (out, Vec::new(), None, left, counters, stats)
}

#[test]
fn ipsec_registration_over_udp_sha1_aes_cbc() {
    scenario("udp", false, "hmac-sha-1-96", "aes-cbc", false);
}

#[test]
fn ipsec_load_run_over_udp_md5_des() {
    scenario("load", false, "hmac-md5-96", "des-ede3-cbc", true);
}

#[test]
fn ipsec_registration_over_tcp_md5_null() {
    scenario("tcp", true, "hmac-md5-96", "null", false);
}

/// One datapath shared by many UEs (`imscore bench --sec ipsec`): every UE gets its own SPIs and
/// ports from the allocators, a re-registration offer new ones, and everything returns to the
/// pool when the UEs end (TS 33.203 §7.1: SPIs and ports must not collide while in use).
#[test]
fn shared_datapath_allocates_distinct_spis_and_ports() {
    let (_guard, ue_ns, _p_ns, ue_ip, p_ip) = namespaces("alloc");
    let t = thread::spawn(move || {
        enter(&ue_ns);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let mut settings = IpsecSettings::new(p_ip, ue_ip);
            settings.tun = "uealloc".into();
            settings.table = 101;
            settings.ports = (30100, 30199); // room for 100 ports: 50 UEs × (port-s + port-c)
            let dp = UeDatapath::start(settings).expect("UE datapath");
            let mut ues = Vec::new();
            for _ in 0..40 {
                ues.push(
                    IpsecUe::allocate(&dp, TransportKind::Udp, vec![], vec![])
                        .await
                        .unwrap(),
                );
            }
            assert_eq!(dp.allocated(), (80, 80));
            let mut spis = std::collections::HashSet::new();
            let mut ports = std::collections::HashSet::new();
            for u in &ues {
                let o = u.offer();
                assert_eq!(o.algs.len() * o.ealgs.len(), 6, "all pairs by default");
                assert!(spis.insert(o.spi_c) && spis.insert(o.spi_s), "SPI reused");
                assert!(
                    ports.insert(o.port_c) && ports.insert(o.port_s),
                    "port reused"
                );
                assert!((30100..=30199).contains(&o.port_c));
            }
            // a re-registration's offer: new SPIs and port-c, same port-s
            let before = ues[0].offer();
            let renewed = ues[0].new_offer().await.unwrap();
            assert_eq!(renewed.port_s, before.port_s);
            assert!(!spis.contains(&renewed.spi_c) && !spis.contains(&renewed.spi_s));
            assert!(!ports.contains(&renewed.port_c));
            assert_eq!(dp.allocated(), (82, 81));
            // not challenged: the unused new offer is dropped, the one in use kept
            ues[0].release_all(Some(&before));
            // the freed offer's reader task lets go of its socket when it next runs
            tokio::task::yield_now().await;
            assert_eq!(ues[0].offer(), before);
            assert_eq!(dp.allocated(), (80, 80));
            // the pool is finite (100 ports): allocation ends with a clear error, not a reuse
            let mut more = 0;
            let e = loop {
                match IpsecUe::allocate(&dp, TransportKind::Udp, vec![], vec![]).await {
                    Ok(u) => {
                        more += 1;
                        ues.push(u);
                        assert!(more <= 10, "more ports handed out than the range holds");
                    }
                    Err(e) => break e,
                }
            };
            assert!(more >= 9, "{more} more UEs ({:?})", dp.allocated());
            assert!(e.to_string().contains("port"), "{e}");
            let mut all = std::collections::HashSet::new();
            for u in &ues {
                let o = u.offer();
                assert!(all.insert(o.port_c) && all.insert(o.port_s), "port reused");
            }
            ues.truncate(0);
            tokio::task::yield_now().await;
            assert_eq!(dp.allocated(), (0, 0), "everything back in the pool");
            let bad =
                IpsecUe::allocate(&dp, TransportKind::Udp, vec!["hmac-sha-256".into()], vec![])
                    .await
                    .unwrap_err();
            assert!(
                bad.to_string().contains("unknown integrity algorithm"),
                "{bad}"
            );
            let one = IpsecUe::allocate(
                &dp,
                TransportKind::Udp,
                vec!["hmac-md5-96".into()],
                vec!["null".into()],
            )
            .await
            .unwrap();
            assert_eq!((one.offer().algs.len(), one.offer().ealgs.len()), (1, 1));
            drop(one);
            dp.shutdown();
        });
    });
    t.join().expect("allocation test");
}
