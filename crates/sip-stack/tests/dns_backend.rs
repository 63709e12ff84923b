//! The hickory-resolver [`Dns`] backend against a tiny authoritative DNS server run inside the
//! test on 127.0.0.1 (UDP; answers built with hickory-proto), then RFC 3263 resolution through it.
//! No external network.

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, NAPTR, SRV};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use sip::Uri;
use sip_stack::resolve::{Dns, HickoryDns, HostTable, Naptr, Resolver, Srv, Target};
use sip_stack::Transport;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::UdpSocket;

type Zone = HashMap<(String, RecordType), Vec<RData>>;

fn name(s: &str) -> Name {
    Name::from_ascii(s).unwrap()
}

fn zone() -> Zone {
    let mut z = Zone::new();
    let naptr = |order, pref, svc: &str, repl: &str| {
        RData::NAPTR(NAPTR::new(
            order,
            pref,
            b"s".to_vec().into_boxed_slice(),
            svc.as_bytes().to_vec().into_boxed_slice(),
            Vec::new().into_boxed_slice(),
            name(repl),
        ))
    };
    z.insert(
        ("ims.test.".into(), RecordType::NAPTR),
        vec![
            naptr(20, 10, "SIP+D2U", "_sip._udp.ims.test."),
            naptr(10, 10, "SIP+D2T", "_sip._tcp.ims.test."),
        ],
    );
    z.insert(
        ("_sip._tcp.ims.test.".into(), RecordType::SRV),
        vec![
            RData::SRV(SRV::new(20, 0, 5070, name("b.ims.test."))),
            RData::SRV(SRV::new(10, 5, 5060, name("a.ims.test."))),
        ],
    );
    z.insert(
        ("_sip._udp.ims.test.".into(), RecordType::SRV),
        vec![RData::SRV(SRV::new(10, 0, 5062, name("a.ims.test.")))],
    );
    z.insert(
        ("a.ims.test.".into(), RecordType::A),
        vec![RData::A(A("192.0.2.1".parse().unwrap()))],
    );
    z.insert(
        ("a.ims.test.".into(), RecordType::AAAA),
        vec![RData::AAAA(AAAA("2001:db8::1".parse().unwrap()))],
    );
    z.insert(
        ("b.ims.test.".into(), RecordType::A),
        vec![RData::A(A("192.0.2.2".parse().unwrap()))],
    );
    z.insert(
        ("plain.test.".into(), RecordType::A),
        vec![RData::A(A("192.0.2.9".parse().unwrap()))],
    );
    z
}

/// Answers one query: the zone's records, NODATA for a known name without that type,
/// NXDOMAIN for unknown names, SERVFAIL for `broken.test.`.
fn answer(zone: &Zone, query: &Message) -> Message {
    let mut resp = Message::new();
    resp.set_id(query.id())
        .set_message_type(MessageType::Response)
        .set_op_code(OpCode::Query)
        .set_recursion_desired(query.recursion_desired())
        .set_recursion_available(true)
        .set_authoritative(true);
    let Some(q) = query.queries().first() else {
        resp.set_response_code(ResponseCode::FormErr);
        return resp;
    };
    resp.add_query(q.clone());
    let qname = q.name().to_ascii().to_ascii_lowercase();
    if qname == "broken.test." {
        resp.set_response_code(ResponseCode::ServFail);
        return resp;
    }
    match zone.get(&(qname.clone(), q.query_type())) {
        Some(rdatas) => {
            for r in rdatas {
                resp.add_answer(Record::from_rdata(q.name().clone(), 60, r.clone()));
            }
        }
        None if zone.keys().any(|(n, _)| *n == qname) => {} // NODATA
        None => {
            resp.set_response_code(ResponseCode::NXDomain);
        }
    }
    resp
}

/// Starts the server; returns its address and the log of queries ("TYPE name").
async fn dns_server() -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = sock.local_addr().unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let log2 = log.clone();
    let zone = zone();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        loop {
            let Ok((n, from)) = sock.recv_from(&mut buf).await else {
                return;
            };
            let Ok(q) = Message::from_vec(&buf[..n]) else {
                continue;
            };
            if let Some(first) = q.queries().first() {
                log2.lock()
                    .unwrap()
                    .push(format!("{} {}", first.query_type(), first.name()));
            }
            let resp = answer(&zone, &q);
            let _ = sock.send_to(&resp.to_vec().unwrap(), from).await;
        }
    });
    (addr, log)
}

fn backend(addr: SocketAddr) -> HickoryDns {
    HickoryDns::with_servers(&[addr], Duration::from_secs(2), 1)
}

#[tokio::test]
async fn naptr_srv_and_addresses_come_from_the_server() {
    let (addr, log) = dns_server().await;
    let dns = backend(addr);
    let mut naptrs = dns.naptr("ims.test").await.unwrap();
    naptrs.sort_by_key(|n| n.order);
    assert_eq!(
        naptrs,
        vec![
            Naptr {
                order: 10,
                preference: 10,
                flags: "s".into(),
                service: "SIP+D2T".into(),
                replacement: "_sip._tcp.ims.test.".into(),
            },
            Naptr {
                order: 20,
                preference: 10,
                flags: "s".into(),
                service: "SIP+D2U".into(),
                replacement: "_sip._udp.ims.test.".into(),
            },
        ]
    );
    let mut srvs = dns.srv("_sip._tcp.ims.test").await.unwrap();
    srvs.sort_by_key(|s| s.priority);
    assert_eq!(
        srvs,
        vec![
            Srv {
                priority: 10,
                weight: 5,
                port: 5060,
                target: "a.ims.test.".into(),
            },
            Srv {
                priority: 20,
                weight: 0,
                port: 5070,
                target: "b.ims.test.".into(),
            },
        ]
    );
    let mut ips = dns.ip("a.ims.test").await.unwrap();
    ips.sort();
    let want: Vec<IpAddr> = vec!["192.0.2.1".parse().unwrap(), "2001:db8::1".parse().unwrap()];
    assert_eq!(ips, want);
    let q = log.lock().unwrap().clone();
    assert!(q.contains(&"NAPTR ims.test.".to_string()), "{q:?}");
    assert!(q.contains(&"SRV _sip._tcp.ims.test.".to_string()), "{q:?}");
    assert!(q.contains(&"AAAA a.ims.test.".to_string()), "{q:?}");
}

#[tokio::test]
async fn missing_names_are_empty_and_server_failure_is_an_error() {
    let (addr, _) = dns_server().await;
    let dns = backend(addr);
    // NXDOMAIN and NODATA are "no records", which RFC 3263 falls back from
    assert!(dns.naptr("nowhere.test").await.unwrap().is_empty());
    assert!(dns.srv("_sip._udp.nowhere.test").await.unwrap().is_empty());
    assert!(dns.naptr("plain.test").await.unwrap().is_empty());
    assert!(dns.ip("nowhere.test").await.unwrap().is_empty());
    let err = dns.naptr("broken.test").await.unwrap_err();
    assert_eq!(err.status(), 503, "{err}");
}

#[tokio::test]
async fn rfc3263_resolution_through_the_real_backend() {
    let (addr, _) = dns_server().await;
    let r = Resolver::new(HostTable::new(), backend(addr));
    let got = r
        .resolve(&Uri::parse("sip:ims.test").unwrap())
        .await
        .unwrap();
    let t = |tr, a: &str| Target {
        transport: tr,
        addr: a.parse().unwrap(),
    };
    let (tcp_a, rest) = got.split_at(2);
    let mut tcp_a = tcp_a.to_vec();
    tcp_a.sort_by_key(|t| t.addr);
    // NAPTR order 10 (TCP): SRV priority 10 (a: A + AAAA), then priority 20 (b); then UDP
    assert_eq!(
        tcp_a,
        vec![
            t(Transport::Tcp, "192.0.2.1:5060"),
            t(Transport::Tcp, "[2001:db8::1]:5060")
        ]
    );
    assert_eq!(rest[0], t(Transport::Tcp, "192.0.2.2:5070"));
    let mut udp = rest[1..].to_vec();
    udp.sort_by_key(|t| t.addr);
    assert_eq!(
        udp,
        vec![
            t(Transport::Udp, "192.0.2.1:5062"),
            t(Transport::Udp, "[2001:db8::1]:5062")
        ]
    );
    // no NAPTR/SRV: A records on the default port (§4.2)
    let got = r
        .resolve(&Uri::parse("sip:plain.test").unwrap())
        .await
        .unwrap();
    assert_eq!(got, vec![t(Transport::Udp, "192.0.2.9:5060")]);
}

#[tokio::test]
async fn the_system_configuration_is_read() {
    // /etc/resolv.conf exists on the build machines; construction must not fail
    HickoryDns::from_system_conf().unwrap();
}
