//! Deterministic tests of the peer state machine and the sans-IO node on a simulated clock and a
//! simulated network: CER/CEA, no common application, watchdog (RFC 3539), failover, election
//! (RFC 6733 §5.6.4), DPR/DPA, reconnect backoff, routing, request timeouts and bad input.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use diameter::avp_code as c;
use diameter::engine::{Action, Engine, EngineConfig, PeerConfig};
use diameter::framing::Frame;
use diameter::message::FLAG_RETRANSMIT;
use diameter::peer::{PeerState, Timers};
use diameter::{
    command, result_code as rc, AppId, Avp, AvpSlice, Error, LocalIdentity, Message, Route, APP_CX,
    VENDOR_3GPP,
};

const TW: Duration = Duration::from_secs(30);

fn addr(i: usize) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 4000 + i as u16))
}

fn timers() -> Timers {
    Timers {
        watchdog: TW,
        watchdog_jitter: Duration::from_secs(2),
        ..Timers::default()
    }
}

fn local(host: &str, realm: &str, apps: Vec<AppId>) -> LocalIdentity {
    LocalIdentity {
        origin_host: host.into(),
        origin_realm: realm.into(),
        applications: apps,
        supported_vendor_ids: vec![VENDOR_3GPP],
        ..LocalIdentity::default()
    }
}

fn cx() -> Vec<AppId> {
    vec![AppId::vendor_auth(VENDOR_3GPP, APP_CX)]
}

struct Net {
    nodes: Vec<Engine>,
    hosts: Vec<String>,
    now: Instant,
    links: HashMap<(usize, u64), (usize, u64)>,
    next_conn: u64,
    completed: Vec<(u64, Result<Message, Error>)>,
    /// (from node, to node, message) of everything delivered.
    log: Vec<(usize, usize, Message)>,
    /// Messages sent by these nodes vanish.
    mute: Vec<usize>,
    /// Nodes that refuse connections.
    down: Vec<usize>,
    /// Nodes whose handler never answers.
    silent: Vec<usize>,
}

impl Net {
    fn new(cfgs: Vec<EngineConfig>) -> Net {
        let hosts = cfgs.iter().map(|c| c.local.origin_host.clone()).collect();
        Net {
            nodes: cfgs.into_iter().map(Engine::new).collect(),
            hosts,
            now: Instant::now(),
            links: HashMap::new(),
            next_conn: 100,
            completed: vec![],
            log: vec![],
            mute: vec![],
            down: vec![],
            silent: vec![],
        }
    }

    fn start(&mut self) {
        for n in &mut self.nodes {
            n.start(self.now);
        }
        self.pump();
    }

    fn pump(&mut self) {
        loop {
            let mut any = false;
            for i in 0..self.nodes.len() {
                while let Some(a) = self.nodes[i].poll_action() {
                    any = true;
                    self.apply(i, a);
                }
            }
            if !any {
                return;
            }
        }
    }

    fn apply(&mut self, i: usize, a: Action) {
        let now = self.now;
        match a {
            Action::Connect { peer, addr: to } => {
                let j = (0..self.nodes.len())
                    .find(|j| addr(*j) == to)
                    .expect("known address");
                if self.down.contains(&j) {
                    self.nodes[i].connect_failed(&peer, now);
                    return;
                }
                let (ci, cj) = (self.next_conn, self.next_conn + 1);
                self.next_conn += 2;
                self.links.insert((i, ci), (j, cj));
                self.links.insert((j, cj), (i, ci));
                self.nodes[j].accepted(cj, now);
                self.nodes[i].connected(&peer, ci, now);
            }
            Action::Send { conn, msg } => {
                let Some(&(j, cj)) = self.links.get(&(i, conn)) else {
                    return;
                };
                if self.mute.contains(&i) {
                    return;
                }
                // Through the wire format, so the codec is exercised too.
                let decoded = Message::decode(msg.to_bytes()).expect("we encode valid messages");
                self.log.push((i, j, decoded.clone()));
                self.nodes[j].frame(cj, Frame::Message(decoded), now);
            }
            Action::Close { conn } => {
                if let Some((j, cj)) = self.links.remove(&(i, conn)) {
                    self.links.remove(&(j, cj));
                    self.nodes[j].disconnected(cj, now);
                    self.nodes[i].disconnected(conn, now);
                }
            }
            Action::Request { conn, request, .. } => {
                if self.silent.contains(&i) {
                    return;
                }
                let mut ans = request.answer();
                ans.push(Avp::u32(c::RESULT_CODE, rc::SUCCESS));
                ans.push(Avp::utf8(c::ERROR_MESSAGE, &self.hosts[i]).mandatory(false));
                self.nodes[i].answer(conn, ans);
            }
            Action::Complete { id, result } => self.completed.push((id, result)),
            Action::PeerUp { .. } | Action::PeerDown { .. } => {}
        }
    }

    /// Advance the simulated clock by `d`, firing every timer due on the way in order.
    fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        loop {
            let next = self.nodes.iter().filter_map(Engine::poll_timeout).min();
            match next {
                Some(t) if t <= end => {
                    self.now = self.now.max(t);
                    for n in &mut self.nodes {
                        n.handle_timeout(self.now);
                    }
                    self.pump();
                }
                _ => break,
            }
        }
        self.now = end;
    }

    fn state(&self, i: usize, peer: &str) -> Option<PeerState> {
        self.nodes[i].peer_state(peer)
    }

    fn count(&self, from: usize, cmd: u32, request: bool) -> usize {
        self.log
            .iter()
            .filter(|(f, _, m)| *f == from && m.command_code() == cmd && m.is_request() == request)
            .count()
    }

    fn request(&mut self, i: usize, id: u64, m: Message) {
        self.nodes[i].request(id, m, self.now);
        self.pump();
    }

    fn result(&self, id: u64) -> Option<&Result<Message, Error>> {
        self.completed
            .iter()
            .find(|(i, _)| *i == id)
            .map(|(_, r)| r)
    }
}

fn client_cfg(host: &str, servers: &[(usize, &str)], routes: Vec<Route>) -> EngineConfig {
    EngineConfig {
        local: local(host, "ims.example", cx()),
        peers: servers
            .iter()
            .map(|(i, h)| PeerConfig {
                host: (*h).into(),
                addr: Some(addr(*i)),
                connect: true,
            })
            .collect(),
        routes,
        timers: timers(),
        request_timeout: Duration::from_secs(4),
        ..EngineConfig::default()
    }
}

fn server_cfg(host: &str, apps: Vec<AppId>) -> EngineConfig {
    EngineConfig {
        local: local(host, "ims.example", apps),
        timers: timers(),
        ..EngineConfig::default()
    }
}

fn mar(realm: &str) -> Message {
    Message::request(303, APP_CX)
        .with(Avp::utf8(c::SESSION_ID, "scscf;1;2"))
        .with(Avp::grouped(
            c::VENDOR_SPECIFIC_APPLICATION_ID,
            vec![
                Avp::u32(c::VENDOR_ID, VENDOR_3GPP),
                Avp::u32(c::AUTH_APPLICATION_ID, APP_CX),
            ],
        ))
        .with(Avp::enumerated(c::AUTH_SESSION_STATE, 1))
        .with(Avp::identity(c::DESTINATION_REALM, realm))
}

#[test]
fn cer_cea_opens_both_sides() {
    let mut n = Net::new(vec![
        client_cfg("scscf.ims.example", &[(1, "hss.ims.example")], vec![]),
        server_cfg("hss.ims.example", cx()),
    ]);
    n.start();
    assert_eq!(n.state(0, "hss.ims.example"), Some(PeerState::IOpen));
    assert_eq!(n.state(1, "scscf.ims.example"), Some(PeerState::ROpen));
    let cer = n
        .log
        .iter()
        .find(|(f, _, m)| *f == 0 && m.command_code() == command::CAPABILITIES_EXCHANGE)
        .unwrap();
    assert!(cer.2.is_request());
    assert!(!cer.2.is_proxiable(), "CER is not proxiable");
    let vsai = cer
        .2
        .require(c::VENDOR_SPECIFIC_APPLICATION_ID, 0)
        .unwrap()
        .as_grouped()
        .unwrap();
    assert_eq!(
        vsai.require(c::AUTH_APPLICATION_ID, 0)
            .unwrap()
            .as_u32()
            .unwrap(),
        APP_CX
    );
    for code in [
        c::ORIGIN_HOST,
        c::ORIGIN_REALM,
        c::HOST_IP_ADDRESS,
        c::VENDOR_ID,
        c::PRODUCT_NAME,
        c::SUPPORTED_VENDOR_ID,
    ] {
        assert!(cer.2.find(code, 0).is_some(), "CER lacks AVP {code}");
    }
    let cea = n
        .log
        .iter()
        .find(|(f, _, m)| *f == 1 && m.command_code() == command::CAPABILITIES_EXCHANGE)
        .unwrap();
    assert_eq!(cea.2.result_code(), Some(rc::SUCCESS));
    assert_eq!(cea.2.header.hop_by_hop, cer.2.header.hop_by_hop);
}

#[test]
fn no_common_application_is_5010_and_backs_off() {
    let mut n = Net::new(vec![
        client_cfg("scscf.ims.example", &[(1, "hss.ims.example")], vec![]),
        server_cfg("hss.ims.example", vec![AppId::Auth(4)]),
    ]);
    n.start();
    let cea = n
        .log
        .iter()
        .find(|(f, _, m)| *f == 1 && m.command_code() == command::CAPABILITIES_EXCHANGE)
        .unwrap();
    assert_eq!(cea.2.result_code(), Some(rc::NO_COMMON_APPLICATION));
    assert_eq!(n.state(0, "hss.ims.example"), Some(PeerState::Closed));
    assert!(n.links.is_empty(), "connection closed");
    // Reconnect attempts back off exponentially: 1 s, 2 s, 4 s.
    n.advance(Duration::from_millis(999));
    assert_eq!(n.count(0, command::CAPABILITIES_EXCHANGE, true), 1);
    n.advance(Duration::from_millis(1));
    assert_eq!(n.count(0, command::CAPABILITIES_EXCHANGE, true), 2);
    n.advance(Duration::from_millis(1999));
    assert_eq!(n.count(0, command::CAPABILITIES_EXCHANGE, true), 2);
    n.advance(Duration::from_millis(1));
    assert_eq!(n.count(0, command::CAPABILITIES_EXCHANGE, true), 3);
    n.advance(Duration::from_millis(4000));
    assert_eq!(n.count(0, command::CAPABILITIES_EXCHANGE, true), 4);
}

#[test]
fn watchdog_keeps_open_then_suspects_and_drops() {
    let mut n = Net::new(vec![
        client_cfg("scscf.ims.example", &[(1, "hss.ims.example")], vec![]),
        server_cfg("hss.ims.example", cx()),
    ]);
    n.start();
    // No DWR before Tw - jitter.
    n.advance(TW - Duration::from_secs(2) - Duration::from_millis(1));
    assert_eq!(n.count(0, command::DEVICE_WATCHDOG, true), 0);
    n.advance(Duration::from_secs(4) + Duration::from_millis(2));
    assert!(
        n.count(0, command::DEVICE_WATCHDOG, true) >= 1,
        "DWR within Tw ± 2 s"
    );
    assert!(
        n.count(1, command::DEVICE_WATCHDOG, false) >= 1,
        "DWA answered"
    );
    n.advance(TW * 4);
    assert_eq!(n.state(0, "hss.ims.example"), Some(PeerState::IOpen));
    assert!(n.nodes[0].peer("hss.ims.example").unwrap().is_usable());
    // The server goes silent: after one unanswered DWR the peer is suspect, after another Tw it is closed.
    n.mute.push(1);
    let dwrs = n.count(0, command::DEVICE_WATCHDOG, true);
    n.advance(TW + Duration::from_secs(2));
    assert_eq!(n.count(0, command::DEVICE_WATCHDOG, true), dwrs + 1);
    assert!(n.nodes[0].peer("hss.ims.example").unwrap().is_open());
    n.advance(TW + Duration::from_secs(2));
    assert!(
        !n.nodes[0].peer("hss.ims.example").unwrap().is_usable(),
        "suspect after an unanswered DWR"
    );
    n.advance(TW + Duration::from_secs(2));
    assert_ne!(
        n.state(0, "hss.ims.example"),
        Some(PeerState::IOpen),
        "closed after Tw more in SUSPECT"
    );
    // And it reconnects once the server speaks again, but after a failure the peer is used only
    // after three DWAs (RFC 3539 REOPEN).
    n.mute.clear();
    let cers = n.count(0, command::CAPABILITIES_EXCHANGE, true);
    let dwas = n.count(1, command::DEVICE_WATCHDOG, false);
    let mut t = Duration::ZERO;
    while n.count(0, command::CAPABILITIES_EXCHANGE, true) == cers {
        n.advance(Duration::from_millis(100));
        t += Duration::from_millis(100);
        assert!(t < Duration::from_secs(60), "no reconnect");
    }
    assert_eq!(n.state(0, "hss.ims.example"), Some(PeerState::IOpen));
    let peer = n.nodes[0].peer("hss.ims.example").unwrap();
    assert_eq!(peer.watchdog(), diameter::peer::Watchdog::Reopen);
    assert!(!peer.is_usable());
    assert!(n.count(1, command::DEVICE_WATCHDOG, false) < dwas + 3);
    n.request(0, 1, mar("ims.example"));
    assert_eq!(
        n.result(1).unwrap().as_ref().unwrap_err().result_code(),
        rc::UNABLE_TO_DELIVER,
        "not used in REOPEN"
    );
    n.advance(TW * 3);
    assert!(n.count(1, command::DEVICE_WATCHDOG, false) >= dwas + 3);
    assert!(
        n.nodes[0].peer("hss.ims.example").unwrap().is_usable(),
        "usable after three DWAs"
    );
    n.request(0, 2, mar("ims.example"));
    assert_eq!(
        n.result(2).unwrap().as_ref().unwrap().result_code(),
        Some(rc::SUCCESS)
    );
}

#[test]
fn graceful_dpr_reconnect_is_not_reopen() {
    let mut n = Net::new(vec![
        client_cfg("scscf.ims.example", &[(1, "hss.ims.example")], vec![]),
        server_cfg("hss.ims.example", cx()),
    ]);
    n.start();
    // The server sends DPR (e.g. it is rebooting): the client answers, closes, reconnects later and
    // may use the peer at once.
    let now = n.now;
    n.nodes[1].stop(now);
    n.pump();
    assert_eq!(n.count(0, command::DISCONNECT_PEER, false), 1, "DPA sent");
    assert_eq!(n.state(0, "hss.ims.example"), Some(PeerState::Closed));
    // The stopped server still accepts connections (only its own peers stopped).
    n.advance(Duration::from_secs(2));
    assert_eq!(n.state(0, "hss.ims.example"), Some(PeerState::IOpen));
    assert!(n.nodes[0].peer("hss.ims.example").unwrap().is_usable());
}

#[test]
fn requests_match_answers_and_route_by_realm() {
    let routes = vec![Route {
        realm: "ims.example".into(),
        peers: vec!["hss1.ims.example".into(), "hss2.ims.example".into()],
    }];
    let mut n = Net::new(vec![
        client_cfg(
            "scscf.ims.example",
            &[(1, "hss1.ims.example"), (2, "hss2.ims.example")],
            routes,
        ),
        server_cfg("hss1.ims.example", cx()),
        server_cfg("hss2.ims.example", cx()),
    ]);
    n.start();
    n.request(0, 1, mar("ims.example"));
    n.request(0, 2, mar("ims.example"));
    for id in [1, 2] {
        let a = n.result(id).unwrap().as_ref().unwrap();
        assert_eq!(a.result_code(), Some(rc::SUCCESS));
        assert_eq!(
            a.find(c::ERROR_MESSAGE, 0).unwrap().as_utf8().unwrap(),
            "hss1.ims.example",
            "first route entry preferred"
        );
        assert_eq!(
            a.origin_host(),
            Some("hss1.ims.example"),
            "engine fills Origin-Host of answers"
        );
    }
    let reqs: Vec<&Message> = n
        .log
        .iter()
        .filter(|(f, _, m)| *f == 0 && m.command_code() == 303)
        .map(|(_, _, m)| m)
        .collect();
    assert_eq!(reqs.len(), 2);
    assert_ne!(reqs[0].header.hop_by_hop, reqs[1].header.hop_by_hop);
    assert_ne!(reqs[0].header.end_to_end, reqs[1].header.end_to_end);
    assert_eq!(reqs[0].origin_host(), Some("scscf.ims.example"));
    // Unknown realm and no default route: 3002 at once.
    n.request(0, 3, mar("other.example"));
    assert_eq!(
        n.result(3).unwrap().as_ref().unwrap_err().result_code(),
        rc::UNABLE_TO_DELIVER
    );
    // Destination-Host picks that peer.
    n.request(
        0,
        4,
        mar("ims.example").with(Avp::identity(c::DESTINATION_HOST, "hss2.ims.example")),
    );
    let a = n.result(4).unwrap().as_ref().unwrap();
    assert_eq!(
        a.find(c::ERROR_MESSAGE, 0).unwrap().as_utf8().unwrap(),
        "hss2.ims.example"
    );
    assert_eq!(n.nodes[0].pending_requests(), 0);
}

#[test]
fn request_timeout() {
    let mut n = Net::new(vec![
        client_cfg("scscf.ims.example", &[(1, "hss.ims.example")], vec![]),
        server_cfg("hss.ims.example", cx()),
    ]);
    n.silent.push(1);
    n.start();
    n.request(0, 9, mar("ims.example"));
    assert!(n.result(9).is_none());
    n.advance(Duration::from_millis(3999));
    assert!(n.result(9).is_none());
    n.advance(Duration::from_millis(1));
    assert_eq!(n.result(9).unwrap().as_ref().unwrap_err(), &Error::Timeout);
    assert_eq!(n.nodes[0].pending_requests(), 0);
}

#[test]
fn failover_to_alternate_peer_sets_t_bit() {
    let routes = vec![Route {
        realm: "ims.example".into(),
        peers: vec!["hss1.ims.example".into(), "hss2.ims.example".into()],
    }];
    let mut cfg = client_cfg(
        "scscf.ims.example",
        &[(1, "hss1.ims.example"), (2, "hss2.ims.example")],
        routes,
    );
    cfg.request_timeout = Duration::from_secs(600);
    let mut n = Net::new(vec![
        cfg,
        server_cfg("hss1.ims.example", cx()),
        server_cfg("hss2.ims.example", cx()),
    ]);
    n.start();
    // hss1 dies silently (no FIN): nothing it sends arrives any more.
    n.mute.push(1);
    n.request(0, 7, mar("ims.example"));
    assert!(n.result(7).is_none());
    let first = n
        .log
        .iter()
        .find(|(f, t, m)| *f == 0 && *t == 1 && m.command_code() == 303)
        .unwrap()
        .2
        .clone();
    assert!(!first.is_retransmit());
    // Watchdog: DWR unanswered → suspect → the request fails over to hss2 with the T bit.
    n.advance(TW * 3);
    let a = n
        .result(7)
        .expect("answered after failover")
        .as_ref()
        .unwrap();
    assert_eq!(
        a.find(c::ERROR_MESSAGE, 0).unwrap().as_utf8().unwrap(),
        "hss2.ims.example"
    );
    let resent = n
        .log
        .iter()
        .find(|(f, t, m)| *f == 0 && *t == 2 && m.command_code() == 303)
        .unwrap()
        .2
        .clone();
    assert!(
        resent.header.flags & FLAG_RETRANSMIT != 0,
        "T bit on the retransmission"
    );
    assert_eq!(
        resent.header.end_to_end, first.header.end_to_end,
        "same End-to-End id"
    );
    // New requests go to hss2 while hss1 is not usable.
    n.request(0, 8, mar("ims.example"));
    let a = n.result(8).unwrap().as_ref().unwrap();
    assert_eq!(
        a.find(c::ERROR_MESSAGE, 0).unwrap().as_utf8().unwrap(),
        "hss2.ims.example"
    );
}

#[test]
fn peer_down_without_alternate_fails_pending_with_3002() {
    let mut cfg = client_cfg("scscf.ims.example", &[(1, "hss.ims.example")], vec![]);
    cfg.request_timeout = Duration::from_secs(600);
    let mut n = Net::new(vec![cfg, server_cfg("hss.ims.example", cx())]);
    n.silent.push(1);
    n.start();
    n.request(0, 5, mar("ims.example"));
    // The server closes the connection.
    let conn = *n
        .links
        .keys()
        .find(|(i, _)| *i == 1)
        .map(|(_, c)| c)
        .unwrap();
    n.apply(1, Action::Close { conn });
    n.pump();
    assert_eq!(
        n.result(5).unwrap().as_ref().unwrap_err().result_code(),
        rc::UNABLE_TO_DELIVER
    );
}

#[test]
fn election_keeps_exactly_one_connection() {
    for (a_host, b_host) in [
        ("aaa.example", "zzz.example"),
        ("zzz.example", "aaa.example"),
    ] {
        let a = EngineConfig {
            local: local(a_host, "example", cx()),
            peers: vec![PeerConfig {
                host: b_host.into(),
                addr: Some(addr(1)),
                connect: true,
            }],
            timers: timers(),
            ..EngineConfig::default()
        };
        let b = EngineConfig {
            local: local(b_host, "example", cx()),
            peers: vec![PeerConfig {
                host: a_host.into(),
                addr: Some(addr(0)),
                connect: true,
            }],
            timers: timers(),
            ..EngineConfig::default()
        };
        let mut n = Net::new(vec![a, b]);
        // Both connect at the same moment: both TCP connections are established before any CER
        // is processed (the CERs cross).
        let now = n.now;
        n.nodes[0].start(now);
        n.nodes[1].start(now);
        let a0: Vec<Action> = std::iter::from_fn(|| n.nodes[0].poll_action()).collect();
        let a1: Vec<Action> = std::iter::from_fn(|| n.nodes[1].poll_action()).collect();
        assert!(matches!(a0[..], [Action::Connect { .. }]));
        assert!(matches!(a1[..], [Action::Connect { .. }]));
        // Establish both TCP connections, queueing CERs.
        n.apply(0, a0[0].clone());
        n.apply(1, a1[0].clone());
        n.pump();
        let open = |s: Option<PeerState>| matches!(s, Some(PeerState::IOpen | PeerState::ROpen));
        assert!(
            open(n.state(0, b_host)),
            "{a_host}: {:?}",
            n.state(0, b_host)
        );
        assert!(
            open(n.state(1, a_host)),
            "{b_host}: {:?}",
            n.state(1, a_host)
        );
        assert_eq!(n.links.len(), 2, "one connection (two ends) survives");
        // The winner (higher Origin-Host) is R-Open, i.e. it kept the connection the other initiated.
        let (winner, loser) = if a_host > b_host { (0, 1) } else { (1, 0) };
        let (wh, lh) = (n.hosts[loser].clone(), n.hosts[winner].clone());
        assert_eq!(n.state(winner, &wh), Some(PeerState::ROpen));
        assert_eq!(n.state(loser, &lh), Some(PeerState::IOpen));
        // And the survivor carries traffic.
        n.advance(TW * 2);
        assert!(open(n.state(0, b_host)));
    }
}

#[test]
fn dpr_closes_gracefully_without_reconnect() {
    let mut n = Net::new(vec![
        client_cfg("scscf.ims.example", &[(1, "hss.ims.example")], vec![]),
        server_cfg("hss.ims.example", cx()),
    ]);
    n.start();
    let now = n.now;
    n.nodes[0].stop(now);
    n.pump();
    assert_eq!(n.count(0, command::DISCONNECT_PEER, true), 1);
    let dpa = n
        .log
        .iter()
        .find(|(f, _, m)| *f == 1 && m.command_code() == command::DISCONNECT_PEER)
        .unwrap();
    assert_eq!(dpa.2.result_code(), Some(rc::SUCCESS));
    assert_eq!(n.state(0, "hss.ims.example"), Some(PeerState::Closed));
    assert_eq!(n.state(1, "scscf.ims.example"), Some(PeerState::Closed));
    assert!(n.nodes[0].all_closed());
    assert!(n.links.is_empty());
    n.advance(Duration::from_secs(120));
    assert_eq!(
        n.count(0, command::CAPABILITIES_EXCHANGE, true),
        1,
        "no reconnect after stop"
    );
}

#[test]
fn bad_requests_are_answered_with_errors() {
    let mut n = Net::new(vec![
        client_cfg("scscf.ims.example", &[(1, "hss.ims.example")], vec![]),
        server_cfg("hss.ims.example", cx()),
    ]);
    n.start();
    // Unknown mandatory AVP → 5001 with Failed-AVP, not delivered to the handler.
    n.request(0, 1, mar("ims.example").with(Avp::u32(7777, 1).vendor(99)));
    let a = n.result(1).unwrap().as_ref().unwrap();
    assert_eq!(a.result_code(), Some(rc::AVP_UNSUPPORTED));
    assert!(!a.is_error());
    let f = a.require(c::FAILED_AVP, 0).unwrap().as_grouped().unwrap();
    assert!(f.find(7777, 99).is_some());
    // Wrong-length Result-Code → 5014.
    n.request(
        0,
        2,
        mar("ims.example").with(Avp::octets(c::ORIGIN_STATE_ID, vec![1u8, 2, 3])),
    );
    let a = n.result(2).unwrap().as_ref().unwrap();
    assert_eq!(a.result_code(), Some(rc::INVALID_AVP_LENGTH));
    assert!(a
        .require(c::FAILED_AVP, 0)
        .unwrap()
        .as_grouped()
        .unwrap()
        .find(c::ORIGIN_STATE_ID, 0)
        .is_some());
    // A malformed frame (AVP overruns) on an open connection → 5014 answer, connection kept.
    let conn = *n
        .links
        .keys()
        .find(|(i, _)| *i == 1)
        .map(|(_, c)| c)
        .unwrap();
    let mut raw = mar("ims.example").to_bytes().to_vec();
    raw[20 + 7] = 0xff; // first AVP's length low byte
    let header = diameter::Header::parse(&raw).unwrap().0;
    let error = Message::decode(bytes::Bytes::from(raw)).unwrap_err();
    assert_eq!(error.result_code(), rc::INVALID_AVP_LENGTH);
    let now = n.now;
    n.nodes[1].frame(conn, Frame::Malformed { header, error }, now);
    n.pump();
    let last = &n.log.last().unwrap().2;
    assert_eq!(last.result_code(), Some(rc::INVALID_AVP_LENGTH));
    assert_eq!(n.state(1, "scscf.ims.example"), Some(PeerState::ROpen));
}

#[test]
fn unsupported_application_is_3007_with_e_bit() {
    // The client advertises two apps; the server only Cx. A request for app 4 at the server → 3007.
    let mut cfg = client_cfg("scscf.ims.example", &[(1, "hss.ims.example")], vec![]);
    cfg.local.applications.push(AppId::Auth(4));
    let mut n = Net::new(vec![cfg, server_cfg("hss.ims.example", cx())]);
    n.start();
    // Our router refuses to send app 4 to a peer that did not advertise it...
    let mut req = Message::request(272, 4).with(Avp::identity(c::DESTINATION_REALM, "ims.example"));
    n.request(0, 1, req.clone());
    assert_eq!(
        n.result(1).unwrap().as_ref().unwrap_err().result_code(),
        rc::UNABLE_TO_DELIVER
    );
    // ...so inject it at the server directly as if a peer had sent it.
    req.header.hop_by_hop = 42;
    let conn = *n
        .links
        .keys()
        .find(|(i, _)| *i == 1)
        .map(|(_, c)| c)
        .unwrap();
    let now = n.now;
    n.nodes[1].frame(conn, Frame::Message(req), now);
    n.pump();
    let last = &n.log.last().unwrap().2;
    assert_eq!(last.result_code(), Some(rc::APPLICATION_UNSUPPORTED));
    assert!(last.is_error());
    assert_eq!(last.header.hop_by_hop, 42);
}

#[test]
fn inbound_connection_must_start_with_cer() {
    let mut n = Net::new(vec![server_cfg("hss.ims.example", cx())]);
    let now = n.now;
    n.nodes[0].accepted(1, now);
    n.nodes[0].frame(1, Frame::Message(mar("ims.example")), now);
    assert_eq!(n.nodes[0].poll_action(), Some(Action::Close { conn: 1 }));
    // And a silent inbound connection is closed after the CEA timeout.
    n.nodes[0].accepted(2, now);
    n.nodes[0].handle_timeout(now + Timers::default().cea_timeout);
    assert_eq!(n.nodes[0].poll_action(), Some(Action::Close { conn: 2 }));
}

#[test]
fn unknown_peer_rejected_when_configured() {
    let mut cfg = server_cfg("hss.ims.example", cx());
    cfg.accept_unknown_peers = false;
    let mut n = Net::new(vec![
        client_cfg("scscf.ims.example", &[(1, "hss.ims.example")], vec![]),
        cfg,
    ]);
    n.start();
    let cea = n
        .log
        .iter()
        .find(|(f, _, m)| *f == 1 && m.command_code() == command::CAPABILITIES_EXCHANGE)
        .unwrap();
    assert_eq!(cea.2.result_code(), Some(rc::UNKNOWN_PEER));
    assert_eq!(n.state(0, "hss.ims.example"), Some(PeerState::Closed));
}

#[test]
fn non_cea_before_capabilities_exchange_drops_connection() {
    let mut e = Engine::new(client_cfg(
        "scscf.ims.example",
        &[(1, "hss.ims.example")],
        vec![],
    ));
    let now = Instant::now();
    e.start(now);
    assert!(matches!(e.poll_action(), Some(Action::Connect { .. })));
    e.connected("hss.ims.example", 1, now);
    let Some(Action::Send { conn: 1, msg: cer }) = e.poll_action() else {
        panic!("CER expected")
    };
    assert_eq!(cer.command_code(), command::CAPABILITIES_EXCHANGE);
    // The peer sends a DWR instead of a CEA.
    let dwr = local("hss.ims.example", "ims.example", cx()).dwr();
    e.frame(1, Frame::Message(dwr), now);
    assert_eq!(e.poll_action(), Some(Action::Close { conn: 1 }));
    assert_eq!(e.peer_state("hss.ims.example"), Some(PeerState::Closed));
    // A reconnect is scheduled (backoff 1 s).
    e.handle_timeout(now + Duration::from_secs(1));
    assert!(matches!(e.poll_action(), Some(Action::Connect { .. })));
}
