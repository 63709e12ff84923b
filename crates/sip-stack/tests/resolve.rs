//! Next-hop resolution: static host table, then RFC 3263 NAPTR → SRV → A/AAAA with a fake DNS.

use rand::rngs::StdRng;
use rand::SeedableRng;
use sip::Uri;
use sip_stack::resolve::{order_srv, Dns, HostTable, Naptr, NoDns, Resolver, Srv, Target};
use sip_stack::Transport;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

#[derive(Default)]
struct FakeDns {
    naptr: HashMap<String, Vec<Naptr>>,
    srv: HashMap<String, Vec<Srv>>,
    ip: HashMap<String, Vec<IpAddr>>,
    queries: Mutex<Vec<String>>,
}

impl Dns for FakeDns {
    async fn naptr(&self, d: &str) -> sip_stack::Result<Vec<Naptr>> {
        self.queries.lock().unwrap().push(format!("NAPTR {d}"));
        Ok(self.naptr.get(d).cloned().unwrap_or_default())
    }
    async fn srv(&self, n: &str) -> sip_stack::Result<Vec<Srv>> {
        self.queries.lock().unwrap().push(format!("SRV {n}"));
        Ok(self.srv.get(n).cloned().unwrap_or_default())
    }
    async fn ip(&self, h: &str) -> sip_stack::Result<Vec<IpAddr>> {
        self.queries.lock().unwrap().push(format!("A {h}"));
        Ok(self.ip.get(h).cloned().unwrap_or_default())
    }
}

fn naptr(order: u16, pref: u16, service: &str, repl: &str) -> Naptr {
    Naptr {
        order,
        preference: pref,
        flags: "s".into(),
        service: service.into(),
        replacement: repl.into(),
    }
}

fn srv(priority: u16, weight: u16, port: u16, target: &str) -> Srv {
    Srv {
        priority,
        weight,
        port,
        target: target.into(),
    }
}

fn t(tr: Transport, a: &str) -> Target {
    Target {
        transport: tr,
        addr: a.parse().unwrap(),
    }
}

fn dns() -> FakeDns {
    let mut d = FakeDns::default();
    d.naptr.insert(
        "ims.example.net".into(),
        vec![
            naptr(50, 50, "SIP+D2U", "_sip._udp.ims.example.net."),
            naptr(10, 20, "SIP+D2T", "_sip._tcp.ims.example.net."),
            naptr(10, 10, "SIPS+D2T", "_sips._tcp.ims.example.net."),
            naptr(5, 5, "SIP+D2S", "_sip._sctp.ims.example.net."),
        ],
    );
    d.srv.insert(
        "_sips._tcp.ims.example.net".into(),
        vec![
            srv(20, 0, 5061, "b.ims.example.net."),
            srv(10, 0, 5061, "a.ims.example.net."),
        ],
    );
    d.srv.insert(
        "_sip._tcp.ims.example.net".into(),
        vec![
            srv(10, 10, 5060, "a.ims.example.net"),
            srv(10, 90, 5070, "b.ims.example.net"),
        ],
    );
    d.srv.insert(
        "_sip._udp.ims.example.net".into(),
        vec![srv(10, 0, 5060, "a.ims.example.net")],
    );
    d.ip.insert(
        "a.ims.example.net".into(),
        vec!["192.0.2.1".parse().unwrap()],
    );
    d.ip.insert(
        "b.ims.example.net".into(),
        vec!["2001:db8::2".parse().unwrap()],
    );
    d.ip.insert(
        "plain.example.net".into(),
        vec!["192.0.2.9".parse().unwrap()],
    );
    d
}

fn uri(s: &str) -> Uri {
    Uri::parse(s).unwrap()
}

#[tokio::test]
async fn naptr_order_then_preference_then_srv_priority_and_weight() {
    let r = Resolver::new(HostTable::new(), dns());
    let got = r.resolve(&uri("sip:ims.example.net")).await.unwrap();
    // SCTP (order 5) unsupported: skipped. Then SIPS+D2T (10/10), SIP+D2T (10/20), SIP+D2U (50).
    assert_eq!(got.len(), 5);
    assert_eq!(got[0], t(Transport::Tls, "192.0.2.1:5061")); // priority 10
    assert_eq!(got[1], t(Transport::Tls, "[2001:db8::2]:5061")); // priority 20
                                                                 // one SRV priority, weights 90/10: RFC 2782 weighted random order of the two
    let mut tcp = got[2..4].to_vec();
    tcp.sort_by_key(|t| t.addr);
    assert_eq!(
        tcp,
        vec![
            t(Transport::Tcp, "192.0.2.1:5060"),
            t(Transport::Tcp, "[2001:db8::2]:5070"),
        ]
    );
    assert_eq!(got[4], t(Transport::Udp, "192.0.2.1:5060"));
}

#[tokio::test]
async fn srv_weighted_selection_follows_the_weights_with_an_injected_rng() {
    let mut heavy_first = 0;
    let r = Resolver::new(HostTable::new(), dns()).with_rng(StdRng::seed_from_u64(7));
    for _ in 0..2000 {
        let got = r
            .resolve(&uri("sip:ims.example.net;transport=tcp"))
            .await
            .unwrap();
        assert_eq!(got.len(), 2);
        if got[0] == t(Transport::Tcp, "[2001:db8::2]:5070") {
            heavy_first += 1;
        }
    }
    // weight 90 of 100 is first ~90% of the time (fixed seed: reproducible)
    assert!((1700..1900).contains(&heavy_first), "{heavy_first}");
    // the same seed gives the same order
    let a = Resolver::new(HostTable::new(), dns()).with_rng(StdRng::seed_from_u64(1));
    let b = Resolver::new(HostTable::new(), dns()).with_rng(StdRng::seed_from_u64(1));
    for _ in 0..20 {
        let u = uri("sip:ims.example.net;transport=tcp");
        assert_eq!(a.resolve(&u).await.unwrap(), b.resolve(&u).await.unwrap());
    }
}

#[test]
fn order_srv_priorities_strict_weights_proportional_zero_weight_rare() {
    let mut rng = StdRng::seed_from_u64(42);
    let recs = vec![
        srv(20, 50, 1, "late"),
        srv(10, 0, 2, "zero"),
        srv(10, 30, 3, "w30"),
        srv(10, 70, 4, "w70"),
    ];
    let mut first = HashMap::<String, u32>::new();
    for _ in 0..10_000 {
        let o = order_srv(recs.clone(), &mut rng);
        assert_eq!(o.len(), 4);
        // the priority-20 record is always last
        assert_eq!(o[3].target, "late");
        *first.entry(o[0].target.clone()).or_default() += 1;
    }
    let w70 = first.get("w70").copied().unwrap_or(0);
    let w30 = first.get("w30").copied().unwrap_or(0);
    let zero = first.get("zero").copied().unwrap_or(0);
    assert!((6700..7300).contains(&w70), "{first:?}");
    assert!((2700..3300).contains(&w30), "{first:?}");
    // weight 0 is picked first only when the draw is exactly 0 (1 in 101)
    assert!(zero < 300, "{first:?}");
    // all weights 0: every record still comes out
    let zeros = vec![srv(1, 0, 1, "a"), srv(1, 0, 2, "b")];
    assert_eq!(order_srv(zeros, &mut rng).len(), 2);
}

#[tokio::test]
async fn sips_uses_tls_only_and_transport_param_skips_naptr() {
    let r = Resolver::new(HostTable::new(), dns());
    let got = r.resolve(&uri("sips:ims.example.net")).await.unwrap();
    assert!(got.iter().all(|x| x.transport == Transport::Tls));
    assert_eq!(got.len(), 2);
    let r = Resolver::new(HostTable::new(), dns());
    let got = r
        .resolve(&uri("sip:ims.example.net;transport=udp"))
        .await
        .unwrap();
    assert_eq!(got, vec![t(Transport::Udp, "192.0.2.1:5060")]);
    let q = r.dns_queries();
    assert!(!q.iter().any(|x| x.starts_with("NAPTR")), "{q:?}");
}

#[tokio::test]
async fn explicit_port_or_ip_skip_srv() {
    let r = Resolver::new(HostTable::new(), dns());
    assert_eq!(
        r.resolve(&uri("sip:a.ims.example.net:5080")).await.unwrap(),
        vec![t(Transport::Udp, "192.0.2.1:5080")]
    );
    assert!(!r
        .dns_queries()
        .iter()
        .any(|x| x.starts_with("SRV") || x.starts_with("NAPTR")));
    assert_eq!(
        r.resolve(&uri("sip:[2001:db8::7]")).await.unwrap(),
        vec![t(Transport::Udp, "[2001:db8::7]:5060")]
    );
    assert_eq!(
        r.resolve(&uri("sips:192.0.2.7")).await.unwrap(),
        vec![t(Transport::Tls, "192.0.2.7:5061")]
    );
}

#[tokio::test]
async fn no_naptr_no_srv_falls_back_to_a_records() {
    let r = Resolver::new(HostTable::new(), dns());
    let got = r.resolve(&uri("sip:plain.example.net")).await.unwrap();
    assert_eq!(got, vec![t(Transport::Udp, "192.0.2.9:5060")]);
    let q = r.dns_queries();
    assert_eq!(
        q,
        vec![
            "NAPTR plain.example.net",
            "SRV _sip._udp.plain.example.net",
            "SRV _sip._tcp.plain.example.net",
            "SRV _sips._tcp.plain.example.net",
            "A plain.example.net",
        ]
    );
    let e = r
        .resolve(&uri("sip:nowhere.example.net"))
        .await
        .unwrap_err();
    assert_eq!(e.status(), 503);
}

#[tokio::test]
async fn the_static_table_wins_over_dns() {
    let mut table = HostTable::new();
    table.insert("ims.example.net", t(Transport::Tcp, "127.0.0.1:6060"));
    table.insert("ims.example.net", t(Transport::Udp, "127.0.0.1:6061"));
    let r = Resolver::new(table, dns());
    assert_eq!(
        r.resolve(&uri("sip:ims.example.net")).await.unwrap(),
        vec![
            t(Transport::Tcp, "127.0.0.1:6060"),
            t(Transport::Udp, "127.0.0.1:6061")
        ]
    );
    assert!(r.dns_queries().is_empty());
    assert_eq!(
        r.resolve(&uri("sip:ims.example.net:7000;transport=udp"))
            .await
            .unwrap(),
        vec![t(Transport::Udp, "127.0.0.1:7000")]
    );
    // NoDns: only the table and literals
    let r = Resolver::new(HostTable::new(), NoDns);
    assert!(r.resolve(&uri("sip:ims.example.net")).await.is_err());
    assert_eq!(
        r.resolve(&uri("sip:10.0.0.1:5062")).await.unwrap(),
        vec![t(Transport::Udp, "10.0.0.1:5062")]
    );
}

trait Queries {
    fn dns_queries(&self) -> Vec<String>;
}

impl Queries for Resolver<FakeDns> {
    fn dns_queries(&self) -> Vec<String> {
        self.dns().queries.lock().unwrap().clone()
    }
}
