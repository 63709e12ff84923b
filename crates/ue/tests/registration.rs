//! Drives the UE machine against an in-test scripted registrar (P-CSCF + S-CSCF + HSS in one)
//! built on the `aka` crate's home side: Milenage vectors, `SqnConfig::next_sqn`,
//! `resync::home_resync`, and `digest::verify_response` on every credential the UE sends.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aka::digest::{self, Algorithm, DigestInput, Qop, QopParams};
use aka::sqn::{HomeSqn, IndPolicy, SqnConfig, UeSqnState};
use aka::{Amf, AuthVector, Auts, Milenage, Opc, Rand, Sqn, K};
use sip::{HeaderName, Message, MessageBuilder, Method, SecurityMechanism};
use ue::reginfo;
use ue::trace::{self, Direction};
use ue::{
    isim, Action, Credentials, Event, Flow, IpsecOffer, Isim, Negotiated, OperatorKey, Password,
    Phase, SecurityOffer, TimerId, Ue, UeConfig,
};

const K_HEX: &str = "465b5ce8b199b49faa5f0a2ee238a6bc";
const OPC_HEX: &str = "cd63cb71954a9f4e48a5994e37a02baf";
const IMPI: &str = "001010123456789@ims.test";
const IMPU: &str = "sip:001010123456789@ims.test";
const REALM: &str = "ims.test";

fn milenage(k: &str) -> Milenage {
    Milenage::new(&K::from_hex(k).unwrap(), &Opc::from_hex(OPC_HEX).unwrap())
}

fn isim_with(k: &str) -> Isim {
    Isim::new(
        &K::from_hex(k).unwrap(),
        &OperatorKey::Opc(Opc::from_hex(OPC_HEX).unwrap()),
        Amf([0x80, 0]),
    )
    .unwrap()
}

/// What the registrar last challenged with.
struct Challenge {
    av: AuthVector,
    nonce: String,
}

struct Registrar {
    m: Milenage,
    cfg: SqnConfig,
    home: HomeSqn,
    algorithm: Algorithm,
    password: Option<Vec<u8>>,
    forced_rand: Option<Rand>,
    challenge: Option<Challenge>,
    server_list: Vec<SecurityMechanism>,
    grant_max: u32,
    min_expires: Option<u32>,
    rechallenge_refresh: bool,
    registered: bool,
    resyncs: u32,
    verified: u32,
    to_tag_seq: u32,
    /// (method, flow, request) of everything received
    log: Vec<(Method, Flow, Message)>,
    sub: Option<(String, String, String)>, // call-id, ue tag, our tag
    notify_cseq: u32,
}

impl Registrar {
    fn new(k: &str) -> Self {
        Registrar {
            m: milenage(k),
            cfg: SqnConfig::default(),
            home: HomeSqn::default(),
            algorithm: Algorithm::AkaV1Md5,
            password: None,
            forced_rand: None,
            challenge: None,
            server_list: vec![SecurityMechanism::parse_str_ok(
                "ipsec-3gpp;q=0.1;alg=hmac-sha-1-96;ealg=null;prot=esp;mod=trans;spi-c=3458785863;spi-s=2821032177;port-c=50717;port-s=50718",
            )],
            grant_max: 600_000,
            min_expires: None,
            rechallenge_refresh: false,
            registered: false,
            resyncs: 0,
            verified: 0,
            to_tag_seq: 0,
            log: Vec::new(),
            sub: None,
            notify_cseq: 0,
        }
    }

    fn reply(&mut self, req: &Message, code: u16, reason: &str) -> MessageBuilder {
        self.to_tag_seq += 1;
        MessageBuilder::response_to(req, code, reason, Some(&format!("reg{}", self.to_tag_seq)))
    }

    fn forbidden(&mut self, req: &Message) -> Message {
        self.reply(req, 403, "Authentication Failed")
            .header(HeaderName::Server, "S-CSCF")
            .build()
            .unwrap()
    }

    fn challenge(&mut self, req: &Message) -> Message {
        let ha_realm = REALM;
        let (nonce, alg) = if let Some(_pw) = &self.password {
            ("plain-md5-nonce-1234".to_string(), "MD5")
        } else {
            let sqn = self.cfg.next_sqn(self.home, IndPolicy::Cycle).unwrap();
            self.home = HomeSqn(sqn);
            let rand = self.forced_rand.unwrap_or_else(Rand::random);
            let av = AuthVector::generate(&self.m, rand, sqn, Amf([0x80, 0]));
            let nonce = av.sip_nonce();
            self.challenge = Some(Challenge {
                av,
                nonce: nonce.clone(),
            });
            (nonce, self.algorithm.name())
        };
        if self.password.is_some() {
            // a dummy vector slot keeps the nonce for verification
            self.challenge = Some(Challenge {
                av: AuthVector::generate(&self.m, Rand([0; 16]), Sqn::new(1).unwrap(), Amf([0, 0])),
                nonce: nonce.clone(),
            });
        }
        let www = sip::AuthHeader::digest()
            .with_quoted("realm", ha_realm)
            .with_quoted("nonce", nonce)
            .with_quoted("qop", "auth")
            .with_quoted("opaque", "4669e9192b2042d4")
            .with_token("algorithm", alg);
        let mut b = self
            .reply(req, 401, "Unauthorized")
            .header(HeaderName::WwwAuthenticate, www);
        if !req.security_client().unwrap().is_empty() {
            for m in &self.server_list {
                b = b.header(HeaderName::SecurityServer, m);
            }
        }
        b.build().unwrap()
    }

    fn ha1(&self, user: &str, realm: &str) -> aka::Ha1 {
        let c = self.challenge.as_ref().unwrap();
        match (&self.password, self.algorithm) {
            (Some(pw), _) => digest::ha1(user, realm, pw),
            (None, Algorithm::AkaV2Md5) => {
                digest::ha1_akav2(user, realm, &c.av.xres, &c.av.ik, &c.av.ck)
            }
            (None, _) => digest::ha1_akav1(user, realm, &c.av.xres),
        }
    }

    fn handle(&mut self, req: &Message, flow: Flow) -> Message {
        let method = req.method().unwrap();
        self.log.push((method.clone(), flow, req.clone()));
        req.validate().expect("UE sent an invalid request");
        match method {
            Method::Register => self.register(req, flow),
            Method::Subscribe => {
                let call_id = req.call_id().unwrap().to_string();
                let ue_tag = req.from().unwrap().tag().unwrap().to_string();
                let r = self
                    .reply(req, 200, "OK")
                    .header(HeaderName::Expires, 600_000);
                let m = r.build().unwrap();
                let our_tag = m.to().unwrap().tag().unwrap().to_string();
                self.sub = Some((call_id, ue_tag, our_tag));
                m
            }
            other => panic!("unexpected {other}"),
        }
    }

    fn register(&mut self, req: &Message, flow: Flow) -> Message {
        let auth = req
            .authorization()
            .unwrap()
            .expect("REGISTER without Authorization");
        assert_eq!(auth.username(), Some(IMPI));
        let nonce = auth.nonce().unwrap_or("").to_string();
        let current = self.challenge.as_ref().map(|c| c.nonce.clone());
        if nonce.is_empty() || Some(&nonce) != current.as_ref() {
            return self.challenge(req);
        }
        let input_parts = (
            auth.uri().unwrap().to_string(),
            auth.nc().map(|s| s.to_string()),
            auth.cnonce().map(|s| s.to_string()),
            auth.realm().unwrap().to_string(),
        );
        let (uri, nc, cnonce, realm) = input_parts;
        let qop = match (&nc, &cnonce) {
            (Some(nc), Some(cn)) => Some(QopParams {
                qop: Qop::Auth,
                nc,
                cnonce: cn,
            }),
            _ => None,
        };
        let input = DigestInput {
            nonce: &nonce,
            method: "REGISTER",
            uri: &uri,
            qop,
            body: b"",
        };
        if let Some(auts) = auth.auts() {
            // RFC 3310 §3.4: response computed with an empty password
            let ha1 = digest::ha1(IMPI, &realm, b"");
            assert!(
                digest::verify_response(&ha1, &input, auth.response().unwrap()).unwrap(),
                "AUTS response not computed with the empty password"
            );
            let auts = Auts::from_base64(auts).unwrap();
            let rand = self.challenge.as_ref().unwrap().av.rand;
            match aka::resync::home_resync(&self.m, &self.cfg, self.home, &rand, &auts) {
                Ok(h) => {
                    self.home = h;
                    self.resyncs += 1;
                    return self.challenge(req);
                }
                Err(_) => return self.forbidden(req),
            }
        }
        let response = auth.response().unwrap_or("");
        if response.is_empty() {
            return self.forbidden(req); // the UE refused the challenge
        }
        let ha1 = self.ha1(IMPI, &realm);
        if !digest::verify_response(&ha1, &input, response).unwrap() {
            return self.forbidden(req);
        }
        self.verified += 1;
        // P-CSCF checks (TS 33.203 §7.2): Security-Verify == what we sent, on the protected flow
        if !req.security_client().unwrap().is_empty() {
            assert_eq!(
                req.security_verify().unwrap(),
                self.server_list,
                "Security-Verify differs"
            );
            assert_eq!(
                flow,
                Flow::Protected,
                "authenticated REGISTER on the unprotected flow"
            );
        }
        let asked = req.expires().unwrap().unwrap();
        if asked == 0 {
            self.registered = false;
            return self
                .reply(req, 200, "OK")
                .header(HeaderName::Expires, 0)
                .build()
                .unwrap();
        }
        if self.registered && self.rechallenge_refresh && nc.as_deref() != Some("00000001") {
            return self.challenge(req);
        }
        if let Some(min) = self.min_expires {
            if asked < min {
                return self
                    .reply(req, 423, "Interval Too Brief")
                    .header(HeaderName::MinExpires, min)
                    .build()
                    .unwrap();
            }
        }
        let granted = asked.min(self.grant_max);
        self.registered = true;
        let contact = req.contacts().unwrap().remove(0);
        let sip::Contact::Addr(c) = contact else {
            panic!()
        };
        let c = c.with_param(sip::Param::token("expires", granted.to_string()));
        self.reply(req, 200, "OK")
            .header(HeaderName::Contact, c)
            .header(
                HeaderName::ServiceRoute,
                "<sip:orig@scscf.ims.test:6060;lr>",
            )
            .header(HeaderName::PAssociatedUri, format!("<{IMPU}>"))
            .header(HeaderName::PAssociatedUri, "<tel:+15551234>")
            .build()
            .unwrap()
    }

    fn notify(&mut self, contact_uri: &str, body: &str, content_type: &str) -> Message {
        let (call_id, ue_tag, our_tag) = self.sub.clone().expect("no subscription");
        self.notify_cseq += 1;
        MessageBuilder::request(Method::Notify, contact_uri)
            .header(
                HeaderName::Via,
                "SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bKnotify",
            )
            .header(HeaderName::MaxForwards, 70)
            .header(HeaderName::From, format!("<{IMPU}>;tag={our_tag}"))
            .header(HeaderName::To, format!("<{IMPU}>;tag={ue_tag}"))
            .header(HeaderName::CallId, call_id)
            .header(HeaderName::CSeq, format!("{} NOTIFY", self.notify_cseq))
            .header(HeaderName::Event, "reg")
            .header(HeaderName::SubscriptionState, "active;expires=600000")
            .body(content_type, body.to_string())
            .build()
            .unwrap()
    }
}

trait ParseOk {
    fn parse_str_ok(s: &str) -> SecurityMechanism;
}
impl ParseOk for SecurityMechanism {
    fn parse_str_ok(s: &str) -> SecurityMechanism {
        <SecurityMechanism as sip::Header>::parse_str(s).unwrap()
    }
}

struct Harness {
    ue: Ue,
    reg: Registrar,
    t0: Instant,
    now: Instant,
    timers: HashMap<TimerId, Instant>,
    outcomes: Vec<Action>,
    /// responses the UE sent (to NOTIFYs)
    ue_responses: Vec<Message>,
    ladder: Vec<String>,
    saved: Option<UeSqnState>,
}

fn config(sec: bool) -> UeConfig {
    let mut c = UeConfig::new(IMPI, IMPU, "ims.test", "10.0.0.1", 5060);
    c.pcscf = Some(("10.0.0.9".into(), 5060));
    c.instance_id = Some("<urn:gsma:imei:35910506-000422-0>".into());
    c.reg_id = Some(1);
    if sec {
        c.security = SecurityOffer {
            ipsec: Some(IpsecOffer::all_algorithms(565817, 565818, 38003, 39003)),
            tls: false,
        };
    }
    c
}

impl Harness {
    fn new(ue_k: &str, net_k: &str, sec: bool, expires: u32) -> Self {
        let mut cfg = config(sec);
        cfg.expires = expires;
        Self::with(
            cfg,
            Credentials::Aka(Box::new(isim_with(ue_k))),
            Registrar::new(net_k),
        )
    }

    fn with(cfg: UeConfig, creds: Credentials, reg: Registrar) -> Self {
        let t0 = Instant::now();
        Harness {
            ue: Ue::new(cfg, creds).unwrap(),
            reg,
            t0,
            now: t0,
            timers: HashMap::new(),
            outcomes: Vec::new(),
            ue_responses: Vec::new(),
            ladder: Vec::new(),
            saved: None,
        }
    }

    fn feed(&mut self, ev: Event) {
        let mut queue = vec![ev];
        while let Some(ev) = queue.pop() {
            if let Event::Response(m) | Event::Request(m) = &ev {
                self.ladder.push(trace::line(Direction::In, m));
            }
            for a in self.ue.handle(ev, self.now) {
                match a {
                    Action::Send { msg, flow } => {
                        self.ladder.push(trace::line(Direction::Out, &msg));
                        if msg.is_request() {
                            let resp = self.reg.handle(&msg, flow);
                            queue.insert(0, Event::Response(resp));
                        } else {
                            self.ue_responses.push(msg);
                        }
                    }
                    Action::ArmTimer { id, at } => {
                        self.timers.insert(id, at);
                    }
                    Action::CancelTimer(id) => {
                        self.timers.remove(&id);
                    }
                    Action::SaveSqnState(s) => {
                        self.saved = Some(s.clone());
                        self.outcomes.push(Action::SaveSqnState(s));
                    }
                    other => self.outcomes.push(other),
                }
            }
        }
    }

    fn fire(&mut self, id: TimerId) -> Duration {
        let at = *self.timers.get(&id).expect("timer not armed");
        self.timers.remove(&id);
        self.now = at;
        self.feed(Event::TimerFired(id));
        at - self.t0
    }

    fn registered_count(&self) -> usize {
        self.outcomes
            .iter()
            .filter(|a| matches!(a, Action::Registered { .. }))
            .count()
    }

    fn failed(&self) -> Option<&str> {
        self.outcomes.iter().find_map(|a| match a {
            Action::Failed { reason } => Some(reason.as_str()),
            _ => None,
        })
    }

    fn registers(&self) -> Vec<&(Method, Flow, Message)> {
        self.reg
            .log
            .iter()
            .filter(|(m, _, _)| *m == Method::Register)
            .collect()
    }

    fn contact_uri(&self) -> String {
        let (_, _, m) = self.registers().last().copied().unwrap();
        match m.contacts().unwrap().remove(0) {
            sip::Contact::Addr(a) => a.uri.to_string(),
            _ => panic!(),
        }
    }
}

#[test]
fn initial_registration_with_ipsec_sec_agree() {
    let mut h = Harness::new(K_HEX, K_HEX, true, 600_000);
    h.feed(Event::Start);
    assert_eq!(
        h.ue.phase(),
        Phase::Registered,
        "ladder:\n{}",
        h.ladder.join("\n")
    );
    assert_eq!(h.registered_count(), 1);
    assert_eq!(h.reg.verified, 1);

    let regs = h.registers();
    assert_eq!(regs.len(), 2);
    // first REGISTER (TS 24.229 §5.1.1.2.1)
    let (_, flow1, r1) = regs[0];
    assert_eq!(*flow1, Flow::Unprotected);
    assert_eq!(r1.request_uri_raw().unwrap().as_str(), "sip:ims.test");
    assert_eq!(r1.from().unwrap().uri.to_string(), IMPU);
    assert_eq!(r1.to().unwrap().uri.to_string(), IMPU);
    let a = r1.authorization().unwrap().unwrap();
    assert_eq!(a.username(), Some(IMPI));
    assert_eq!(a.realm(), Some("ims.test"));
    assert_eq!(a.uri(), Some("sip:ims.test"));
    assert_eq!(a.nonce(), Some(""));
    assert_eq!(a.response(), Some(""));
    let req: Vec<String> = r1
        .require()
        .unwrap()
        .iter()
        .map(|t| t.to_string())
        .collect();
    assert_eq!(req, ["sec-agree"]);
    let preq: Vec<String> = r1
        .proxy_require()
        .unwrap()
        .iter()
        .map(|t| t.to_string())
        .collect();
    assert_eq!(preq, ["sec-agree"]);
    let sup: Vec<String> = r1
        .supported()
        .unwrap()
        .iter()
        .map(|t| t.to_string())
        .collect();
    assert!(sup.contains(&"path".to_string()) && sup.contains(&"sec-agree".to_string()));
    let sc = r1.security_client().unwrap();
    assert_eq!(sc.len(), 6);
    assert!(sc
        .iter()
        .all(|m| m.spi_c() == Some(565817) && m.port_s() == Some(39003)));
    assert_eq!(r1.expires().unwrap(), Some(600_000));
    assert!(r1.security_verify().unwrap().is_empty());
    match r1.contacts().unwrap().remove(0) {
        sip::Contact::Addr(c) => {
            assert_eq!(c.sip_instance(), Some("<urn:gsma:imei:35910506-000422-0>"));
            assert_eq!(c.reg_id(), Some(1));
            assert_eq!(c.uri.to_string(), "sip:001010123456789@10.0.0.1:39003");
        }
        _ => panic!("wildcard contact"),
    }

    // second REGISTER: protected flow, Security-Verify = Security-Server, same Call-ID, CSeq+1
    let (_, flow2, r2) = regs[1];
    assert_eq!(*flow2, Flow::Protected);
    assert_eq!(r2.call_id().unwrap(), r1.call_id().unwrap());
    assert_eq!(r2.cseq().unwrap().seq, r1.cseq().unwrap().seq + 1);
    assert_eq!(r2.security_verify().unwrap(), h.reg.server_list);
    assert_eq!(r2.security_client().unwrap(), sc);
    assert_eq!(r2.top_via().unwrap().port, Some(39003));
    let route = r2.route().unwrap();
    assert_eq!(route[0].uri.to_string(), "sip:10.0.0.9:50718;lr");
    let a2 = r2.authorization().unwrap().unwrap();
    assert_eq!(a2.qop(), Some("auth"));
    assert_eq!(a2.nc(), Some("00000001"));
    assert_eq!(a2.algorithm(), Some("AKAv1-MD5"));
    assert_eq!(a2.opaque(), Some("4669e9192b2042d4"));
    assert!(a2.cnonce().is_some_and(|c| !c.is_empty()));

    // SetupSecurity with the server's SPIs/ports and the ISIM's CK/IK
    let setup = h
        .outcomes
        .iter()
        .find_map(|a| match a {
            Action::SetupSecurity(s) => Some(s.clone()),
            _ => None,
        })
        .expect("no SetupSecurity");
    let c = h.reg.challenge.as_ref().unwrap();
    assert!(setup.ck == c.av.ck && setup.ik == c.av.ik);
    match &setup.negotiated {
        Negotiated::Ipsec {
            alg,
            ealg,
            local,
            server,
        } => {
            assert_eq!(alg, "hmac-sha-1-96");
            assert_eq!(ealg, "null");
            assert_eq!((local.spi_c, local.port_s), (565817, 39003));
            assert_eq!((server.spi_c, server.spi_s), (3458785863, 2821032177));
            assert_eq!((server.port_c, server.port_s), (50717, 50718));
        }
        Negotiated::Tls => panic!("expected ipsec"),
    }
    // SetupSecurity comes before the protected REGISTER is sent: check order of outcomes
    assert!(matches!(
        h.outcomes
            .iter()
            .find(|a| !matches!(a, Action::SaveSqnState(_))),
        Some(Action::SetupSecurity(_))
    ));

    // Registered with the 200's data; the SQN state was handed out for persistence
    match h
        .outcomes
        .iter()
        .find(|a| matches!(a, Action::Registered { .. }))
        .unwrap()
    {
        Action::Registered {
            expires,
            service_route,
            associated_uris,
        } => {
            assert_eq!(*expires, 600_000);
            assert_eq!(
                service_route[0].uri.to_string(),
                "sip:orig@scscf.ims.test:6060;lr"
            );
            assert_eq!(associated_uris.len(), 2);
            assert_eq!(associated_uris[1].uri.to_string(), "tel:+15551234");
        }
        _ => unreachable!(),
    }
    let saved = h.saved.as_ref().expect("SQN state not saved");
    assert_eq!(saved.seq_ms(), h.reg.home.0.seq(5));

    // SUBSCRIBE to reg (TS 24.229 §5.1.1.3), protected, routed via the Service-Route
    let (_, sflow, s) = h
        .reg
        .log
        .iter()
        .find(|(m, _, _)| *m == Method::Subscribe)
        .unwrap();
    assert_eq!(*sflow, Flow::Protected);
    assert_eq!(s.request_uri_raw().unwrap().as_str(), IMPU);
    assert_eq!(s.event().unwrap().unwrap().package.as_str(), "reg");
    assert_eq!(
        s.header_value("Accept").unwrap().as_str(),
        "application/reginfo+xml"
    );
    assert_eq!(s.expires().unwrap(), Some(600_000));
    assert_eq!(s.security_verify().unwrap(), h.reg.server_list);
    let routes: Vec<String> = s
        .route()
        .unwrap()
        .iter()
        .map(|r| r.uri.to_string())
        .collect();
    assert_eq!(
        routes,
        ["sip:10.0.0.9:50718;lr", "sip:orig@scscf.ims.test:6060;lr"]
    );
    assert!(h.ue.subscribed());

    // the ladder has one line per message and shows the flow
    assert_eq!(h.ladder.len(), 6, "{}", h.ladder.join("\n"));
    assert!(h.ladder[0].starts_with("--> REGISTER sip:ims.test  CSeq:1 REGISTER"));
    assert!(h.ladder[1].starts_with("<-- 401 Unauthorized"));
    assert!(h.ladder[1].contains("Sec-Server:ipsec-3gpp(hmac-sha-1-96/null,q=0.1)"));
    assert!(h.ladder[2].contains("Sec-Verify:"));
    assert!(h.ladder[3].starts_with("<-- 200 OK  CSeq:2 REGISTER"));
    assert!(h.ladder[4].starts_with("--> SUBSCRIBE"));
}

#[test]
fn reregistration_timer_values_and_same_call_id() {
    for (expires, at) in [(3600u32, 3000u64), (600, 300)] {
        let mut h = Harness::new(K_HEX, K_HEX, true, expires);
        h.feed(Event::Start);
        assert_eq!(h.ue.expires(), expires);
        let before = h.registers().len();
        let t = h.fire(TimerId::Reregister);
        assert_eq!(t, Duration::from_secs(at), "expires {expires}");
        assert_eq!(h.ue.phase(), Phase::Registered);
        assert_eq!(h.registered_count(), 2);
        let regs = h.registers();
        assert_eq!(
            regs.len(),
            before + 1,
            "re-REGISTER was not accepted without a challenge"
        );
        let (_, flow, rr) = regs[before];
        let (_, _, prev) = regs[before - 1];
        assert_eq!(*flow, Flow::Protected);
        assert_eq!(rr.call_id().unwrap(), prev.call_id().unwrap());
        assert_eq!(rr.cseq().unwrap().seq, prev.cseq().unwrap().seq + 1);
        assert_eq!(rr.authorization().unwrap().unwrap().nc(), Some("00000002"));
        // next refresh armed from the new 200
        assert_eq!(
            h.timers[&TimerId::Reregister] - h.now,
            Duration::from_secs(at)
        );
    }
}

#[test]
fn granted_expiry_from_contact_param_drives_the_timer() {
    let mut h = Harness::new(K_HEX, K_HEX, false, 600_000);
    h.reg.grant_max = 3600;
    h.feed(Event::Start);
    assert_eq!(h.ue.expires(), 3600);
    assert_eq!(
        h.timers[&TimerId::Reregister] - h.t0,
        Duration::from_secs(3000)
    );
}

#[test]
fn reregistration_rechallenged_runs_aka_again() {
    let mut h = Harness::new(K_HEX, K_HEX, true, 3600);
    h.reg.rechallenge_refresh = true;
    h.feed(Event::Start);
    h.fire(TimerId::Reregister);
    assert_eq!(h.ue.phase(), Phase::Registered, "{}", h.ladder.join("\n"));
    assert_eq!(h.reg.verified, 3); // initial, refresh with nc=2 (challenged), answer to new nonce
    let setups = h
        .outcomes
        .iter()
        .filter(|a| matches!(a, Action::SetupSecurity(_)))
        .count();
    assert_eq!(setups, 2);
}

#[test]
fn deregistration_on_stop() {
    let mut h = Harness::new(K_HEX, K_HEX, true, 600_000);
    h.feed(Event::Start);
    let n = h.registers().len();
    h.feed(Event::Stop);
    assert_eq!(h.ue.phase(), Phase::Off);
    assert!(matches!(h.outcomes.last(), Some(Action::Deregistered)));
    assert!(h
        .outcomes
        .iter()
        .any(|a| matches!(a, Action::ReleaseSecurity)));
    assert!(!h.timers.contains_key(&TimerId::Reregister));
    let regs = h.registers();
    assert_eq!(regs.len(), n + 1);
    let (_, flow, d) = regs[n];
    assert_eq!(*flow, Flow::Protected);
    assert_eq!(d.expires().unwrap(), Some(0));
    match d.contacts().unwrap().remove(0) {
        sip::Contact::Addr(c) => assert_eq!(c.expires(), Some(0)),
        _ => panic!(),
    }
    assert!(!h.reg.registered);
    // Stop before Start: nothing to de-register
    let mut h2 = Harness::new(K_HEX, K_HEX, false, 600);
    h2.feed(Event::Stop);
    assert!(h2.reg.log.is_empty());
    assert!(matches!(h2.outcomes.last(), Some(Action::Deregistered)));
}

/// The one REGISTER among `acts`, with its flow.
fn sent_register(acts: &[Action]) -> Option<(Message, Flow)> {
    acts.iter().find_map(|a| match a {
        Action::Send { msg, flow } if msg.method() == Some(Method::Register) => {
            Some((msg.clone(), *flow))
        }
        _ => None,
    })
}

#[test]
fn stop_during_a_refresh_waits_for_its_answer_then_deregisters() {
    // RFC 3261 §10.2: no new REGISTER before the final response to the previous one
    let mut h = Harness::new(K_HEX, K_HEX, true, 3600);
    h.feed(Event::Start);
    assert_eq!(h.ue.phase(), Phase::Registered);
    h.timers.remove(&TimerId::Reregister);
    let acts = h.ue.handle(Event::TimerFired(TimerId::Reregister), h.now);
    let (refresh, flow) = sent_register(&acts).expect("the refresh REGISTER");
    let acts = h.ue.handle(Event::Stop, h.now);
    assert!(
        sent_register(&acts).is_none(),
        "a de-REGISTER overtook the refresh"
    );
    assert_eq!(h.ue.phase(), Phase::Registering);
    // the refresh's 200 arrives: it counts, then the de-registration goes out
    let answer = h.reg.handle(&refresh, flow);
    assert_eq!(answer.status(), Some(200));
    h.feed(Event::Response(answer));
    assert_eq!(h.registered_count(), 2);
    assert!(matches!(h.outcomes.last(), Some(Action::Deregistered)));
    assert_eq!(h.ue.phase(), Phase::Off);
    assert!(!h.timers.contains_key(&TimerId::Reregister));
    let regs = h.registers();
    let (_, _, dereg) = regs[regs.len() - 1];
    let (_, _, prev) = regs[regs.len() - 2];
    assert_eq!(prev.cseq().unwrap().seq, refresh.cseq().unwrap().seq);
    assert_eq!(dereg.cseq().unwrap().seq, refresh.cseq().unwrap().seq + 1);
    assert_eq!(dereg.expires().unwrap(), Some(0));
    assert!(!h.reg.registered);
}

#[test]
fn stop_during_the_initial_registration_registers_then_deregisters() {
    let mut h = Harness::new(K_HEX, K_HEX, false, 600);
    let acts = h.ue.handle(Event::Start, h.now);
    let (initial, flow) = sent_register(&acts).expect("the initial REGISTER");
    assert!(sent_register(&h.ue.handle(Event::Stop, h.now)).is_none());
    // 401 → authenticated REGISTER → 200 → de-REGISTER → 200
    let challenge = h.reg.handle(&initial, flow);
    assert_eq!(challenge.status(), Some(401));
    h.feed(Event::Response(challenge));
    assert_eq!(h.registered_count(), 1);
    assert!(matches!(h.outcomes.last(), Some(Action::Deregistered)));
    assert_eq!(h.registers().len(), 3);
    assert!(!h.reg.registered);
}

#[test]
fn stop_during_a_refresh_that_times_out_ends_with_the_timeout() {
    let mut h = Harness::new(K_HEX, K_HEX, false, 3600);
    h.feed(Event::Start);
    h.timers.remove(&TimerId::Reregister);
    let acts = h.ue.handle(Event::TimerFired(TimerId::Reregister), h.now);
    assert!(sent_register(&acts).is_some());
    assert!(sent_register(&h.ue.handle(Event::Stop, h.now)).is_none());
    let acts = h.ue.handle(Event::Timeout(Method::Register), h.now);
    assert!(sent_register(&acts).is_none());
    assert!(matches!(acts.last(), Some(Action::Failed { reason }) if reason.contains("timeout")));
    assert!(!acts.iter().any(|a| matches!(a, Action::Deregistered)));
    assert_eq!(h.ue.phase(), Phase::Off);
}

fn advanced_state(seq: u64) -> UeSqnState {
    let cfg = SqnConfig::default();
    let mut s = UeSqnState::new(&cfg).unwrap();
    for ind in 0..32 {
        s.accept(Sqn::from_parts(seq, ind, 5).unwrap());
    }
    s
}

fn temp_file(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("ue-test-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("sqn.json")
}

#[test]
fn stale_state_file_forces_auts_resync_then_success() {
    // the UE's ISIM has seen SEQ 1000 (state file from an earlier run against another network)
    let path = temp_file("auts");
    isim::save_state(&path, &advanced_state(1000)).unwrap();
    let mut isim = isim_with(K_HEX);
    isim.set_state(isim::load_state(&path).unwrap().unwrap())
        .unwrap();
    let reg = Registrar::new(K_HEX);
    let mut h = Harness::with(config(true), Credentials::Aka(Box::new(isim)), reg);
    h.feed(Event::Start);
    assert_eq!(h.ue.phase(), Phase::Registered, "{}", h.ladder.join("\n"));
    assert_eq!(h.reg.resyncs, 1);
    let regs = h.registers();
    assert_eq!(regs.len(), 3);
    let (_, f2, auts_req) = regs[1];
    assert_eq!(
        *f2,
        Flow::Unprotected,
        "AUTS REGISTER must not use SAs keyed by a refused vector"
    );
    let a = auts_req.authorization().unwrap().unwrap();
    assert!(a.auts().is_some());
    assert!(auts_req.security_verify().unwrap().is_empty());
    assert!(h.ladder.iter().any(|l| l.contains(" auts=")));
    // the accepted SQN is above the old SEQ_MS, and was handed out for persistence
    let saved = h.saved.clone().unwrap();
    assert!(saved.seq_ms() > 1000, "seq_ms {}", saved.seq_ms());
    isim::save_state(&path, &saved).unwrap();
    assert_eq!(isim::load_state(&path).unwrap().unwrap(), saved);
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

#[test]
fn wrong_k_fails_with_the_403_and_the_local_cause() {
    let mut h = Harness::new("00112233445566778899aabbccddeeff", K_HEX, true, 600_000);
    h.feed(Event::Start);
    assert_eq!(h.ue.phase(), Phase::Off);
    let reason = h.failed().expect("no Failed").to_string();
    assert!(
        reason.starts_with("403 from S-CSCF: Authentication Failed"),
        "{reason}"
    );
    assert!(reason.contains("MAC mismatch"), "{reason}");
    // TS 24.229 §5.1.1.5.1: the UE answered the bad challenge with an empty response, no AUTS,
    // unprotected (no SAs from a network that failed authentication)
    let regs = h.registers();
    assert_eq!(regs.len(), 2);
    let (_, flow, r) = regs[1];
    assert_eq!(*flow, Flow::Unprotected);
    let a = r.authorization().unwrap().unwrap();
    assert_eq!(a.response(), Some(""));
    assert!(a.auts().is_none());
    assert_eq!(
        a.nonce(),
        Some(h.reg.challenge.as_ref().unwrap().nonce.as_str())
    );
    assert!(!h.outcomes.iter().any(|x| matches!(
        x,
        Action::SetupSecurity(_) | Action::Registered { .. } | Action::SaveSqnState(_)
    )));
}

#[test]
fn wrong_password_md5_fails_with_403_reason() {
    let mut reg = Registrar::new(K_HEX);
    reg.password = Some(b"right".to_vec());
    reg.algorithm = Algorithm::Md5;
    let mut h = Harness::with(
        config(false),
        Credentials::Password(Password::new("wrong")),
        reg,
    );
    h.feed(Event::Start);
    assert_eq!(h.failed(), Some("403 from S-CSCF: Authentication Failed"));

    let mut reg = Registrar::new(K_HEX);
    reg.password = Some(b"right".to_vec());
    reg.algorithm = Algorithm::Md5;
    let mut h = Harness::with(
        config(false),
        Credentials::Password(Password::new("right")),
        reg,
    );
    h.feed(Event::Start);
    assert_eq!(h.ue.phase(), Phase::Registered, "{}", h.ladder.join("\n"));
    assert_eq!(h.reg.verified, 1);
}

#[test]
fn akav2_digest_verifies() {
    let mut reg = Registrar::new(K_HEX);
    reg.algorithm = Algorithm::AkaV2Md5;
    let mut h = Harness::with(
        config(false),
        Credentials::Aka(Box::new(isim_with(K_HEX))),
        reg,
    );
    h.feed(Event::Start);
    assert_eq!(h.ue.phase(), Phase::Registered, "{}", h.ladder.join("\n"));
    let regs = h.registers();
    assert_eq!(
        regs[1].2.authorization().unwrap().unwrap().algorithm(),
        Some("AKAv2-MD5")
    );
}

#[test]
fn res_containing_zero_byte_gives_the_right_digest() {
    let m = milenage(K_HEX);
    let rand = (0u32..100_000)
        .map(|i| {
            let mut r = [0x5au8; 16];
            r[..4].copy_from_slice(&i.to_be_bytes());
            Rand(r)
        })
        .find(|r| m.f2345(r).0.expose().contains(&0))
        .expect("no RAND gives a RES with 0x00");
    let (res, ..) = m.f2345(&rand);
    assert!(res.expose().contains(&0));
    let mut reg = Registrar::new(K_HEX);
    reg.forced_rand = Some(rand);
    let mut h = Harness::with(
        config(true),
        Credentials::Aka(Box::new(isim_with(K_HEX))),
        reg,
    );
    h.feed(Event::Start);
    assert_eq!(h.ue.phase(), Phase::Registered, "{}", h.ladder.join("\n"));
    assert_eq!(h.reg.verified, 1);
    assert_eq!(h.reg.challenge.as_ref().unwrap().av.rand, rand);
}

#[test]
fn interval_too_brief_retries_with_min_expires() {
    let mut h = Harness::new(K_HEX, K_HEX, false, 60);
    h.reg.min_expires = Some(1800);
    h.feed(Event::Start);
    assert_eq!(h.ue.phase(), Phase::Registered, "{}", h.ladder.join("\n"));
    assert_eq!(h.ue.expires(), 1800);
    let regs = h.registers();
    assert_eq!(regs.last().unwrap().2.expires().unwrap(), Some(1800));
    assert_eq!(
        h.timers[&TimerId::Reregister] - h.t0,
        Duration::from_secs(1200)
    );
}

fn reginfo_body(version: u32, contact: &str, state: &str, event: &str, extra: &str) -> String {
    format!(
        r#"<?xml version="1.0"?>
<reginfo xmlns="urn:ietf:params:xml:ns:reginfo" version="{version}" state="full">
 <registration aor="{IMPU}" id="a7" state="{}">
  <contact id="c1" state="{state}" event="{event}"{extra}><uri>{contact}</uri></contact>
 </registration>
</reginfo>"#,
        if state == "active" {
            "active"
        } else {
            "terminated"
        }
    )
}

fn registered_with_sub(expires: u32) -> (Harness, String) {
    let mut h = Harness::new(K_HEX, K_HEX, true, expires);
    h.feed(Event::Start);
    assert!(h.ue.subscribed());
    let contact = h.contact_uri();
    (h, contact)
}

#[test]
fn notify_active_is_acknowledged() {
    let (mut h, contact) = registered_with_sub(600_000);
    let n = h.reg.notify(
        &contact,
        &reginfo_body(0, &contact, "active", "registered", ""),
        "application/reginfo+xml",
    );
    h.feed(Event::Request(n));
    assert_eq!(h.ue_responses.len(), 1);
    assert_eq!(h.ue_responses[0].status(), Some(200));
    assert_eq!(h.ue.phase(), Phase::Registered);
    assert_eq!(h.registered_count(), 1);
}

#[test]
fn notify_deactivated_reregisters_from_scratch() {
    let (mut h, contact) = registered_with_sub(600_000);
    let old_call_id = h.ue.call_id().to_string();
    let n_before = h.registers().len();
    let n = h.reg.notify(
        &contact,
        &reginfo_body(1, &contact, "terminated", "deactivated", ""),
        "application/reginfo+xml",
    );
    h.feed(Event::Request(n));
    assert_eq!(h.ue_responses[0].status(), Some(200));
    assert_eq!(h.ue.phase(), Phase::Registered, "{}", h.ladder.join("\n"));
    assert_eq!(h.registered_count(), 2);
    let regs = h.registers();
    let (_, flow, first) = regs[n_before];
    assert_eq!(*flow, Flow::Unprotected);
    assert_eq!(first.authorization().unwrap().unwrap().nonce(), Some(""));
    assert_ne!(first.call_id().unwrap().as_str(), old_call_id);
    assert_eq!(first.cseq().unwrap().seq, 1);
    assert!(h
        .outcomes
        .iter()
        .any(|a| matches!(a, Action::ReleaseSecurity)));
    // and subscribed again
    assert_eq!(
        h.reg
            .log
            .iter()
            .filter(|(m, _, _)| *m == Method::Subscribe)
            .count(),
        2
    );
}

#[test]
fn notify_rejected_stays_off() {
    let (mut h, contact) = registered_with_sub(600_000);
    let n_before = h.reg.log.len();
    let n = h.reg.notify(
        &contact,
        &reginfo_body(1, &contact, "terminated", "rejected", ""),
        "application/reginfo+xml",
    );
    h.feed(Event::Request(n));
    assert_eq!(h.ue_responses[0].status(), Some(200));
    assert_eq!(h.ue.phase(), Phase::Off);
    assert!(h.failed().unwrap().contains("rejected"));
    assert_eq!(
        h.reg.log.len(),
        n_before,
        "the UE sent something after rejected"
    );
    assert!(h.timers.is_empty(), "timers left: {:?}", h.timers.keys());
    // a timer from before cannot bring it back
    h.feed(Event::TimerFired(TimerId::Reregister));
    assert_eq!(h.reg.log.len(), n_before);
}

#[test]
fn notify_shortened_rearms_refresh() {
    let (mut h, contact) = registered_with_sub(600_000);
    h.now += Duration::from_secs(10);
    let n = h.reg.notify(
        &contact,
        &reginfo_body(1, &contact, "active", "shortened", r#" expires="400""#),
        "application/reginfo+xml",
    );
    h.feed(Event::Request(n));
    assert_eq!(h.ue_responses[0].status(), Some(200));
    assert_eq!(
        h.timers[&TimerId::Reregister] - h.now,
        Duration::from_secs(200)
    );
    assert_eq!(h.ue.expires(), 400);
    // a stale partial NOTIFY (version not newer) is ignored
    let stale = reginfo_body(1, &contact, "terminated", "rejected", "")
        .replace("state=\"full\"", "state=\"partial\"");
    let n = h.reg.notify(&contact, &stale, "application/reginfo+xml");
    h.feed(Event::Request(n));
    assert_eq!(h.ue_responses[1].status(), Some(200));
    assert_eq!(h.ue.phase(), Phase::Registered);
}

#[test]
fn notify_for_another_contact_is_ignored() {
    let (mut h, _contact) = registered_with_sub(600_000);
    let other = "sip:someone@10.9.9.9:5060";
    let n = h.reg.notify(
        other,
        &reginfo_body(1, other, "terminated", "rejected", ""),
        "application/reginfo+xml",
    );
    h.feed(Event::Request(n));
    assert_eq!(h.ue_responses[0].status(), Some(200));
    assert_eq!(h.ue.phase(), Phase::Registered);
}

#[test]
fn malformed_notify_gets_400_and_no_state_change() {
    let (mut h, contact) = registered_with_sub(600_000);
    let bodies = [
        "<reginfo",
        "<reginfo version=\"1\" state=\"full\"><registration aor=\"x\"></reginfo>",
        "<reginfo version=\"one\" state=\"full\"/>",
        "\u{0}\u{1}garbage",
    ];
    for (i, b) in bodies.iter().enumerate() {
        let n = h.reg.notify(&contact, b, "application/reginfo+xml");
        h.feed(Event::Request(n));
        assert_eq!(h.ue_responses[i].status(), Some(400), "body {b:?}");
    }
    let n = h.reg.notify(&contact, "<x/>", "text/plain");
    h.feed(Event::Request(n));
    assert_eq!(h.ue_responses.last().unwrap().status(), Some(415));
    assert_eq!(h.ue.phase(), Phase::Registered);
    // a NOTIFY outside the subscription dialog
    let mut n = h.reg.notify(&contact, "", "application/reginfo+xml");
    n = sip::Message::parse(
        String::from_utf8_lossy(n.as_bytes())
            .replace(h.reg.sub.as_ref().unwrap().0.as_str(), "other-call-id")
            .into_bytes(),
    )
    .unwrap();
    h.feed(Event::Request(n));
    assert_eq!(h.ue_responses.last().unwrap().status(), Some(481));
}

#[test]
fn reginfo_parse_never_panics_on_mutations() {
    let base = reginfo_body(3, "sip:a@b", "active", "registered", r#" expires="5""#).into_bytes();
    for i in 0..base.len() {
        let mut v = base.clone();
        v.truncate(i);
        let _ = reginfo::parse(&v);
        let mut w = base.clone();
        w[i] ^= 0xff;
        let _ = reginfo::parse(&w);
        let mut x = base.clone();
        x.remove(i);
        let _ = reginfo::parse(&x);
    }
    assert!(reginfo::parse(&base).is_ok());
}

#[test]
fn timeout_fails_registration_with_reason() {
    let mut cfg = config(false);
    cfg.reg_event_expires = None;
    let mut ue = Ue::new(cfg, Credentials::Aka(Box::new(isim_with(K_HEX)))).unwrap();
    let now = Instant::now();
    let a = ue.handle(Event::Start, now);
    assert!(matches!(
        a.as_slice(),
        [Action::Send {
            flow: Flow::Unprotected,
            ..
        }]
    ));
    let a = ue.handle(Event::Timeout(Method::Register), now);
    let reason = a
        .iter()
        .find_map(|x| match x {
            Action::Failed { reason } => Some(reason.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(reason, "timeout: no response to REGISTER");
    assert_eq!(ue.phase(), Phase::Off);
}

#[test]
fn server_failures_name_code_and_sender() {
    for (code, phrase, extra, expect) in [
        (
            404,
            "Not Found",
            "Server: I-CSCF",
            "404 from I-CSCF: Not Found",
        ),
        (
            503,
            "Service Unavailable",
            "Warning: 399 hss.ims.test \"HSS down\"",
            "503 from hss.ims.test: Service Unavailable (HSS down)",
        ),
        (
            500,
            "Server Internal Error",
            "",
            "500 from registrar: Server Internal Error",
        ),
    ] {
        let mut ue = Ue::new(config(false), Credentials::Aka(Box::new(isim_with(K_HEX)))).unwrap();
        let now = Instant::now();
        let a = ue.handle(Event::Start, now);
        let Action::Send { msg, .. } = &a[0] else {
            panic!()
        };
        let mut b = MessageBuilder::response_to(msg, code, phrase, Some("x"));
        if let Some((n, v)) = extra.split_once(": ") {
            b = b.header(n, v);
        }
        let out = ue.handle(Event::Response(b.build().unwrap()), now);
        let reason = out.iter().find_map(|x| match x {
            Action::Failed { reason } => Some(reason.clone()),
            _ => None,
        });
        assert_eq!(reason.as_deref(), Some(expect));
    }
}

#[test]
fn state_file_round_trip_create_and_corruption() {
    let path = temp_file("state");
    let _ = std::fs::remove_file(&path);
    assert!(isim::load_state(&path).unwrap().is_none());
    let fresh = UeSqnState::new(&SqnConfig::default()).unwrap();
    let s = isim::load_or_create_state(&path, &fresh).unwrap();
    assert_eq!(s, fresh);
    assert!(path.exists(), "state file not created");
    let adv = advanced_state(77);
    isim::save_state(&path, &adv).unwrap();
    assert_eq!(isim::load_state(&path).unwrap().unwrap(), adv);
    // no temporary file left behind
    let left: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().collect();
    assert_eq!(left.len(), 1);
    for bad in [
        &b"{not json"[..],
        b"{\"ind_bits\":5,\"seq_ms\":[1,2,3]}",
        b"",
    ] {
        std::fs::write(&path, bad).unwrap();
        let e = isim::load_state(&path).unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, ue::UeError::StateCorrupt { .. }), "{msg}");
        assert!(msg.contains("sqn.json") && msg.contains("corrupt"), "{msg}");
        assert!(
            isim::load_or_create_state(&path, &fresh).is_err(),
            "corrupt file silently reset"
        );
    }
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

#[test]
fn isim_from_hex_checks_inputs() {
    assert!(Isim::from_hex(K_HEX, None, Some(OPC_HEX), None).is_ok());
    assert!(Isim::from_hex(K_HEX, Some(OPC_HEX), None, Some("8000")).is_ok());
    assert!(Isim::from_hex("zz", None, Some(OPC_HEX), None)
        .unwrap_err()
        .to_string()
        .contains("K"));
    assert!(Isim::from_hex(K_HEX, None, None, None).is_err());
    assert!(Isim::from_hex(K_HEX, Some(OPC_HEX), Some(OPC_HEX), None).is_err());
    assert!(Isim::from_hex(K_HEX, None, Some(OPC_HEX), Some("80")).is_err());
    // password + sec-agree is refused at construction
    assert!(Ue::new(config(true), Credentials::Password(Password::new("x"))).is_err());
}

#[test]
fn notify_probation_retries_after_delay_and_unregistered_stops() {
    let (mut h, contact) = registered_with_sub(600_000);
    let body = reginfo_body(
        1,
        &contact,
        "terminated",
        "probation",
        r#" retry-after="90""#,
    );
    let n = h.reg.notify(&contact, &body, "application/reginfo+xml");
    h.feed(Event::Request(n));
    assert_eq!(h.ue.phase(), Phase::Idle);
    assert!(!h.timers.contains_key(&TimerId::Reregister));
    let t = h.fire(TimerId::RetryRegister);
    assert_eq!(t, Duration::from_secs(90));
    assert_eq!(h.ue.phase(), Phase::Registered, "{}", h.ladder.join("\n"));
    assert_eq!(h.registered_count(), 2);

    let (mut h, contact) = registered_with_sub(600_000);
    let n_before = h.reg.log.len();
    let body = reginfo_body(1, &contact, "terminated", "unregistered", "");
    let n = h.reg.notify(&contact, &body, "application/reginfo+xml");
    h.feed(Event::Request(n));
    assert_eq!(h.ue.phase(), Phase::Off);
    assert!(matches!(h.outcomes.last(), Some(Action::Deregistered)));
    assert_eq!(h.reg.log.len(), n_before);
}

#[test]
fn tls_mechanism_is_chosen_and_verified() {
    let mut cfg = config(false);
    cfg.security = SecurityOffer {
        ipsec: Some(IpsecOffer::all_algorithms(1, 2, 3, 4)),
        tls: true,
    };
    let mut reg = Registrar::new(K_HEX);
    reg.server_list = vec![
        SecurityMechanism::parse_str_ok("tls;q=0.2"),
        SecurityMechanism::parse_str_ok(
            "ipsec-3gpp;q=0.1;alg=hmac-md5-96;ealg=aes-cbc;prot=esp;mod=trans;spi-c=7;spi-s=8;port-c=5062;port-s=5064",
        ),
    ];
    let mut h = Harness::with(cfg, Credentials::Aka(Box::new(isim_with(K_HEX))), reg);
    h.feed(Event::Start);
    assert_eq!(h.ue.phase(), Phase::Registered, "{}", h.ladder.join("\n"));
    let setup = h
        .outcomes
        .iter()
        .find_map(|a| match a {
            Action::SetupSecurity(s) => Some(s.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(setup.negotiated, Negotiated::Tls);
    assert_eq!(setup.mechanism.mechanism.as_str(), "tls");
    let regs = h.registers();
    let (_, flow, r2) = regs[1];
    assert_eq!(*flow, Flow::Protected);
    // Security-Verify is the whole Security-Server list, not just the chosen entry
    assert_eq!(r2.security_verify().unwrap().len(), 2);
    // no IPsec port rewriting for TLS
    assert_eq!(
        r2.route().unwrap()[0].uri.to_string(),
        "sip:10.0.0.9:5060;lr"
    );
}

#[test]
fn no_acceptable_security_server_fails() {
    let mut reg = Registrar::new(K_HEX);
    reg.server_list = vec![SecurityMechanism::parse_str_ok("ipsec-ike;q=0.5")];
    let mut h = Harness::with(
        config(true),
        Credentials::Aka(Box::new(isim_with(K_HEX))),
        reg,
    );
    h.feed(Event::Start);
    assert_eq!(h.ue.phase(), Phase::Off);
    assert!(
        h.failed().unwrap().contains("Security-Server"),
        "{:?}",
        h.failed()
    );
    assert_eq!(h.registers().len(), 1);
}

/// TS 33.203 §7.4: a re-registration offers new spi-c/spi-s/port-c (port-s unchanged) over the
/// SAs in use; unchallenged, the 200 keeps the old SAs and the offer in use; challenged, the new
/// SAs are set up from the new offer.
#[test]
fn reregistration_offers_new_spis_and_port_c() {
    let setups = |h: &Harness| -> Vec<ue::SecuritySetup> {
        h.outcomes
            .iter()
            .filter_map(|a| match a {
                Action::SetupSecurity(s) => Some((**s).clone()),
                _ => None,
            })
            .collect()
    };
    for rechallenge in [false, true] {
        let mut h = Harness::new(K_HEX, K_HEX, true, 3600);
        h.reg.rechallenge_refresh = rechallenge;
        h.feed(Event::Start);
        assert!(h.ue.ipsec_in_use());
        let old = h.ue.security_offer().ipsec.clone().unwrap();
        assert_eq!(h.ue.renew_ipsec_offer(1111, 2222, 38100), Some(old.clone()));
        let before = h.registers().len();
        h.fire(TimerId::Reregister);
        assert_eq!(h.ue.phase(), Phase::Registered, "{}", h.ladder.join("\n"));
        let regs = h.registers();
        // the refresh: over the old SAs, new offer, the old association's Security-Verify
        let (_, flow, rr) = regs[before];
        assert_eq!(*flow, Flow::Protected);
        let sc = rr.security_client().unwrap();
        assert_eq!(sc.len(), 6);
        assert!(sc.iter().all(|m| m.spi_c() == Some(1111)
            && m.spi_s() == Some(2222)
            && m.port_c() == Some(38100)
            && m.port_s() == Some(39003)));
        assert_eq!(rr.security_verify().unwrap(), h.reg.server_list);
        assert_eq!(rr.top_via().unwrap().port, Some(39003), "port-s unchanged");
        let s = setups(&h);
        if rechallenge {
            // new SAs from the new offer; the REGISTER after the challenge carries it too
            assert_eq!(s.len(), 2);
            match &s[1].negotiated {
                Negotiated::Ipsec { local, .. } => {
                    assert_eq!(
                        (local.spi_c, local.spi_s, local.port_c, local.port_s),
                        (1111, 2222, 38100, 39003)
                    );
                }
                Negotiated::Tls => panic!("expected ipsec"),
            }
            let (_, flow, last) = regs.last().copied().unwrap();
            assert_eq!(*flow, Flow::Protected);
            assert_eq!(last.security_client().unwrap(), sc);
            assert_eq!(
                h.ue.security_offer().ipsec.as_ref().map(|o| o.spi_c),
                Some(1111)
            );
        } else {
            // not challenged: the SAs in use stay, and so does their offer
            assert_eq!(s.len(), 1);
            assert_eq!(regs.len(), before + 1);
            assert_eq!(h.ue.security_offer().ipsec.as_ref(), Some(&old));
        }
    }
}
