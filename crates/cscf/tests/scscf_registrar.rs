//! The S-CSCF registrar (`cscf::scscf::Registrar`, TS 24.229 §5.4.1) against the real HSS over
//! Diameter on loopback, with a UE computed here from the `aka` crate (Milenage USIM, RFC 3310
//! digest). Registration stores are SQLite files in temporary directories.

mod harness;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aka::digest::{self, DigestInput, Qop, QopParams};
use aka::sqn::{SqnConfig, UeSqnState};
use aka::usim::{authenticate, UsimOutcome};
use aka::{AkaNonce, Milenage};
use cscf::scscf::{Registrar, ScscfConfig};
use std::sync::atomic::{AtomicBool, Ordering};

use cscf::store::{
    AuthChallenge, CasOutcome, ExpiredChallenge, Expiring, NcCheck, RegSubscription, Registration,
    RegistrationStore, SqliteStore, UeRegistration, UnixSecs, Version, Versioned,
};
use cscf::CscfError;
use harness::*;
use hss::model::RegistrationState;
use sip::Message;
use sip_stack::{Flow, Transport};

const PATH: &str = "<sip:term@pcscf.ims.example;lr>";

fn cfg() -> ScscfConfig {
    ScscfConfig {
        server_name: SCSCF_NAME.into(),
        realm: REALM.into(),
        min_expires: 60,
        max_expires: 600_000,
        default_expires: 600_000,
        challenge_lifetime_secs: 30,
        ..ScscfConfig::default()
    }
}

fn flow() -> Flow {
    Flow {
        transport: Transport::Udp,
        local: SocketAddr::from(([127, 0, 0, 1], 6060)),
        remote: SocketAddr::from(([127, 0, 0, 1], 5070)),
        conn: None,
    }
}

async fn sqlite(dir: &TempDir) -> Arc<SqliteStore> {
    Arc::new(SqliteStore::open_in_dir(dir.path()).await.unwrap())
}

/// The UE: a USIM with alice's K/OP and its SQN state, and the REGISTER dialog state.
struct Ue {
    m: Milenage,
    sqn_cfg: SqnConfig,
    usim: UeSqnState,
    call_id: String,
    cseq: u32,
    contact: String,
    /// CK and IK of the last successful AKA run (hex), to compare with the 401's ck/ik.
    keys: Option<(String, String)>,
}

/// The answer the UE computed for a challenge.
enum Answer {
    /// Authorization value with the response.
    Response(String),
    /// Authorization value with `auts` (SQN resynchronisation).
    Auts(String),
}

impl Ue {
    fn new(call_id: &str) -> Self {
        let sqn_cfg = SqnConfig::default();
        Ue {
            m: Milenage::with_op(
                &aka::K::from_hex(K).unwrap(),
                &aka::Op::from_hex(OP).unwrap(),
            ),
            usim: UeSqnState::new(&sqn_cfg).unwrap(),
            sqn_cfg,
            call_id: call_id.into(),
            cseq: 0,
            contact: "<sip:alice@127.0.0.1:5070>;+sip.instance=\"<urn:gsma:imei:35-1-1>\";reg-id=1"
                .into(),
            keys: None,
        }
    }

    /// A REGISTER with `expires`, optional Authorization and extra header lines.
    fn register(&mut self, expires: u32, authz: Option<&str>, extra: &str) -> Message {
        self.cseq += 1;
        let authz = authz
            .map(|a| format!("Authorization: {a}\r\n"))
            .unwrap_or_default();
        let raw = format!(
            "REGISTER sip:{REALM} SIP/2.0\r\n\
             Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK{}{}\r\n\
             Max-Forwards: 70\r\n\
             From: <{IMPU}>;tag=ue{}\r\n\
             To: <{IMPU}>\r\n\
             Call-ID: {}\r\n\
             CSeq: {} REGISTER\r\n\
             Contact: {}\r\n\
             Path: {PATH}\r\n\
             Expires: {expires}\r\n\
             {authz}{extra}\
             Content-Length: 0\r\n\r\n",
            self.call_id, self.cseq, self.cseq, self.call_id, self.cseq, self.contact
        );
        Message::parse(raw.into_bytes()).unwrap()
    }

    /// The Authorization of an initial REGISTER (TS 24.229 §5.1.1.2.1: empty nonce/response).
    fn initial_authz() -> String {
        format!(
            "Digest username=\"{IMPI}\", realm=\"{REALM}\", nonce=\"\", uri=\"sip:{REALM}\", response=\"\""
        )
    }

    /// Runs the USIM on the 401's nonce and builds the answering Authorization.
    fn answer(&mut self, resp: &Message, protected: &str) -> Answer {
        let ch = resp.www_authenticate().unwrap().expect("WWW-Authenticate");
        let nonce = ch.nonce().unwrap().to_string();
        let n = AkaNonce::decode(&nonce).unwrap();
        match authenticate(
            &self.m,
            &self.sqn_cfg,
            &mut self.usim,
            &n.rand,
            &n.autn,
            None,
        )
        .unwrap()
        {
            UsimOutcome::Success { res, ck, ik, .. } => {
                self.keys = Some((ck.expose_hex(), ik.expose_hex()));
                Answer::Response(authz_with(&nonce, res.expose(), protected))
            }
            UsimOutcome::SyncFailure { auts, .. } => Answer::Auts(format!(
                "Digest username=\"{IMPI}\", realm=\"{REALM}\", nonce=\"{nonce}\", \
                 uri=\"sip:{REALM}\", response=\"\", algorithm=AKAv1-MD5, auts=\"{}\", \
                 integrity-protected=\"{protected}\"",
                auts.to_base64()
            )),
            UsimOutcome::MacFailure => panic!("network authentication failed"),
        }
    }
}

/// Authorization with the digest response computed from `res` (RFC 3310 §3.3, qop=auth, nc 1).
fn authz_with(nonce: &str, res: &[u8], protected: &str) -> String {
    authz_with_ha1(
        nonce,
        &digest::ha1(IMPI, REALM, res),
        "AKAv1-MD5",
        protected,
    )
}

/// Authorization with the digest response for `ha1` (RFC 2617 §3.2.2, qop=auth, nc 1).
fn authz_with_ha1(nonce: &str, ha1: &aka::Ha1, algorithm: &str, protected: &str) -> String {
    let uri = format!("sip:{REALM}");
    let input = DigestInput {
        nonce,
        method: "REGISTER",
        uri: &uri,
        qop: Some(QopParams {
            qop: Qop::Auth,
            nc: "00000001",
            cnonce: "0a4f113b",
        }),
        body: b"",
    };
    let response = digest::response(ha1, &input).unwrap();
    format!(
        "Digest username=\"{IMPI}\", realm=\"{REALM}\", nonce=\"{nonce}\", uri=\"{uri}\", \
         response=\"{response}\", algorithm={algorithm}, qop=auth, nc=00000001, \
         cnonce=\"0a4f113b\", integrity-protected=\"{protected}\""
    )
}

fn response_authz(a: Answer) -> String {
    match a {
        Answer::Response(s) => s,
        Answer::Auts(_) => panic!("USIM asked for resynchronisation"),
    }
}

fn status(m: &Message) -> u16 {
    m.status().unwrap()
}

fn headers(m: &Message, name: &str) -> Vec<String> {
    m.headers_named(name)
        .filter_map(|h| h.value_str().map(str::to_string))
        .collect()
}

/// Initial registration: 401, answer, 200. Returns the 200.
async fn register_fully(r: &Registrar, ue: &mut Ue, expires: u32) -> Message {
    let req = ue.register(expires, Some(&Ue::initial_authz()), "");
    let c = r.handle_register(&req, &flow()).await;
    assert_eq!(status(&c), 401, "{c}");
    let a = response_authz(ue.answer(&c, "no"));
    let ok = r
        .handle_register(&ue.register(expires, Some(&a), ""), &flow())
        .await;
    assert_eq!(status(&ok), 200, "{ok}");
    ok
}

struct Fixture {
    net: Net,
    dir: TempDir,
    store: Arc<SqliteStore>,
    reg: Registrar,
}

async fn fixture(c: ScscfConfig) -> Fixture {
    let net = Net::start().await;
    let dir = TempDir::new("cscf_reg");
    let store = sqlite(&dir).await;
    let reg = Registrar::new(c, net.cx.clone(), store.clone());
    Fixture {
        net,
        dir,
        store,
        reg,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_registration_with_all_headers() {
    let f = fixture(cfg()).await;
    let mut ue = Ue::new("full-1");
    let req = ue.register(600_000, Some(&Ue::initial_authz()), "");
    let c = f.reg.handle_register(&req, &flow()).await;
    assert_eq!(status(&c), 401);
    let ch = c.www_authenticate().unwrap().unwrap();
    assert_eq!(ch.realm(), Some(REALM));
    assert_eq!(ch.algorithm(), Some("AKAv1-MD5"));
    assert_eq!(ch.qop(), Some("auth"));
    assert!(!ch.stale());
    let nonce = AkaNonce::decode(ch.nonce().unwrap()).unwrap();
    assert!(nonce.server_data.is_empty());
    // The HSS holds the S-CSCF name as pending after MAR.
    assert_eq!(
        f.net.state(IMPU).await.scscf.map(|s| s.server_name),
        Some(SCSCF_NAME.to_string())
    );
    let a = response_authz(ue.answer(&c, "no"));
    // ck/ik are the USIM's CK/IK (for the P-CSCF's security association).
    let (ck, ik) = ue.keys.clone().unwrap();
    assert_eq!(ch.ck(), Some(ck.as_str()));
    assert_eq!(ch.ik(), Some(ik.as_str()));

    let ok = f
        .reg
        .handle_register(&ue.register(600_000, Some(&a), ""), &flow())
        .await;
    assert_eq!(status(&ok), 200, "{ok}");
    let contacts = ok.contacts().unwrap();
    assert_eq!(contacts.len(), 1);
    let c0 = contacts[0].addr().unwrap();
    assert_eq!(c0.uri.to_string(), "sip:alice@127.0.0.1:5070");
    let exp = c0.expires().unwrap();
    assert!((599_990..=600_000).contains(&exp), "{exp}");
    assert_eq!(c0.sip_instance(), Some("<urn:gsma:imei:35-1-1>"));
    assert_eq!(c0.reg_id(), Some(1));
    assert_eq!(
        headers(&ok, "Service-Route"),
        ["<sip:orig@scscf.ims.example:6060;lr>"]
    );
    let assoc: Vec<String> = ok
        .p_associated_uri()
        .unwrap()
        .iter()
        .map(|a| a.uri.to_string())
        .collect();
    assert_eq!(assoc[0], IMPU);
    assert!(assoc.contains(&TEL.to_string()), "{assoc:?}");
    assert!(!assoc.contains(&BARRED.to_string()));
    assert_eq!(headers(&ok, "Path"), [PATH]);
    let date = headers(&ok, "Date");
    assert_eq!(date.len(), 1);
    assert!(date[0].ends_with(" GMT"), "{date:?}");

    // Stored before the 200: the registration, with the implicit set, Path and flow.
    let reg = f.reg.lookup(IMPU).await.unwrap().expect("registered");
    assert_eq!(reg.impi, IMPI);
    assert_eq!(reg.contacts.len(), 1);
    assert_eq!(reg.contacts[0].path, [PATH]);
    assert_eq!(
        reg.contacts[0].received.as_ref().map(|f| f.remote),
        Some(flow().remote)
    );
    assert_eq!(reg.implicit_set, assoc);
    assert_eq!(
        f.net.state(IMPU).await.identity.state,
        RegistrationState::Registered
    );
    assert_eq!(
        f.net.state(TEL).await.identity.state,
        RegistrationState::Registered
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_response_is_403_and_sar_authentication_failure() {
    let f = fixture(cfg()).await;
    let mut ue = Ue::new("wrong-1");
    let c = f
        .reg
        .handle_register(&ue.register(3600, None, ""), &flow())
        .await;
    // No Authorization at all: challenged too (IMPI derived from the IMPU).
    assert_eq!(status(&c), 401);
    assert!(f.net.state(IMPU).await.scscf.is_some());
    let nonce = c
        .www_authenticate()
        .unwrap()
        .unwrap()
        .nonce()
        .unwrap()
        .to_string();
    let a = authz_with(&nonce, &[9, 9, 9, 9, 9, 9, 9, 9], "no");
    let r = f
        .reg
        .handle_register(&ue.register(3600, Some(&a), ""), &flow())
        .await;
    assert_eq!(status(&r), 403);
    // SAR AUTHENTICATION_FAILURE withdrew the pending S-CSCF name at the HSS.
    let st = f.net.state(IMPU).await;
    assert_eq!(st.scscf, None);
    assert_eq!(st.identity.state, RegistrationState::NotRegistered);
    assert!(f.reg.lookup(IMPU).await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resynchronisation_via_auts() {
    let f = fixture(cfg()).await;
    let mut ue = Ue::new("resync-1");
    // The USIM has seen SEQ 5000 in every IND slot: the HSS's next vector is too old.
    for ind in 0..32 {
        ue.usim.accept(aka::Sqn::from_parts(5000, ind, 5).unwrap());
    }
    let c = f
        .reg
        .handle_register(&ue.register(3600, Some(&Ue::initial_authz()), ""), &flow())
        .await;
    assert_eq!(status(&c), 401);
    let first_nonce = c
        .www_authenticate()
        .unwrap()
        .unwrap()
        .nonce()
        .unwrap()
        .to_string();
    let Answer::Auts(a) = ue.answer(&c, "no") else {
        panic!("expected a synchronisation failure")
    };
    let c2 = f
        .reg
        .handle_register(&ue.register(3600, Some(&a), ""), &flow())
        .await;
    assert_eq!(status(&c2), 401, "{c2}");
    let ch2 = c2.www_authenticate().unwrap().unwrap();
    assert!(!ch2.stale());
    assert_ne!(ch2.nonce().unwrap(), first_nonce);
    // The new vector is fresh for the USIM.
    let a = response_authz(ue.answer(&c2, "no"));
    let ok = f
        .reg
        .handle_register(&ue.register(3600, Some(&a), ""), &flow())
        .await;
    assert_eq!(status(&ok), 200, "{ok}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_and_reused_nonces() {
    let f = fixture(cfg()).await;
    let mut ue = Ue::new("stale-1");
    // A nonce we never issued: 401 stale=true with a fresh challenge.
    let a = authz_with(&"A".repeat(44), &[1; 8], "no");
    let c = f
        .reg
        .handle_register(&ue.register(3600, Some(&a), ""), &flow())
        .await;
    assert_eq!(status(&c), 401);
    let ch = c.www_authenticate().unwrap().unwrap();
    assert!(ch.stale());
    // The fresh challenge works.
    let a = response_authz(ue.answer(&c, "no"));
    let second = ue.register(3600, Some(&a), "");
    let ok = f.reg.handle_register(&second, &flow()).await;
    assert_eq!(status(&ok), 200);
    // Replaying the same answer (single-use nonce): not accepted, re-challenged as stale.
    let replay = ue.register(3600, Some(&a), "");
    let r = f.reg.handle_register(&replay, &flow()).await;
    assert_eq!(status(&r), 401);
    assert!(r.www_authenticate().unwrap().unwrap().stale());

    // An expired challenge: lifetime 0 makes every nonce stale on arrival.
    let dir = TempDir::new("cscf_reg_stale");
    let short = Registrar::new(
        ScscfConfig {
            challenge_lifetime_secs: 0,
            ..cfg()
        },
        f.net.cx.clone(),
        sqlite(&dir).await,
    );
    let mut ue2 = Ue::new("stale-2");
    let c = short
        .handle_register(&ue2.register(3600, None, ""), &flow())
        .await;
    assert_eq!(status(&c), 401);
    let a = response_authz(ue2.answer(&c, "no"));
    let r = short
        .handle_register(&ue2.register(3600, Some(&a), ""), &flow())
        .await;
    assert_eq!(status(&r), 401);
    assert!(r.www_authenticate().unwrap().unwrap().stale());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interval_too_brief_and_bad_identities() {
    let f = fixture(cfg()).await;
    let mut ue = Ue::new("brief-1");
    let r = f
        .reg
        .handle_register(&ue.register(10, None, ""), &flow())
        .await;
    assert_eq!(status(&r), 423);
    assert_eq!(r.min_expires().unwrap(), Some(60));
    // A username that is not an NAI.
    let bad = "Digest username=\"alice\", realm=\"ims.example\", nonce=\"\", uri=\"sip:ims.example\", response=\"\"";
    let r = f
        .reg
        .handle_register(&ue.register(3600, Some(bad), ""), &flow())
        .await;
    assert_eq!(status(&r), 403);
    // An IMPI the HSS does not know: MAR DIAMETER_ERROR_USER_UNKNOWN → 403.
    let unknown = "Digest username=\"mallory@ims.example\", realm=\"ims.example\", nonce=\"\", uri=\"sip:ims.example\", response=\"\"";
    let r = f
        .reg
        .handle_register(&ue.register(3600, Some(unknown), ""), &flow())
        .await;
    assert_eq!(status(&r), 403);
    // Malformed Contact wildcard use: 400.
    let mut raw = String::from_utf8(ue.register(3600, None, "").as_bytes().to_vec()).unwrap();
    raw = raw.replace(&format!("Contact: {}", ue.contact), "Contact: *");
    let r = f
        .reg
        .handle_register(&Message::parse(raw.into_bytes()).unwrap(), &flow())
        .await;
    assert_eq!(status(&r), 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reregistration_protected_and_unprotected() {
    let f = fixture(cfg()).await;
    let mut ue = Ue::new("rereg-1");
    register_fully(&f.reg, &mut ue, 3600).await;
    // Integrity-protected re-REGISTER from the registered UE: no challenge.
    let prot = format!(
        "Digest username=\"{IMPI}\", realm=\"{REALM}\", nonce=\"\", uri=\"sip:{REALM}\", response=\"\", integrity-protected=\"yes\""
    );
    let ok = f
        .reg
        .handle_register(&ue.register(7200, Some(&prot), ""), &flow())
        .await;
    assert_eq!(status(&ok), 200, "{ok}");
    let exp = ok.contacts().unwrap()[0].addr().unwrap().expires().unwrap();
    assert!(exp > 3600, "refreshed to 7200: {exp}");
    // Unprotected: challenged again, then RE_REGISTRATION.
    let unprot = prot.replace("\"yes\"", "\"no\"");
    let c = f
        .reg
        .handle_register(&ue.register(3600, Some(&unprot), ""), &flow())
        .await;
    assert_eq!(status(&c), 401);
    let a = response_authz(ue.answer(&c, "no"));
    let ok = f
        .reg
        .handle_register(&ue.register(3600, Some(&a), ""), &flow())
        .await;
    assert_eq!(status(&ok), 200);
    assert_eq!(
        f.net.state(IMPU).await.identity.state,
        RegistrationState::Registered
    );
    // A registrar configured to re-challenge protected re-REGISTERs.
    let strict = Registrar::new(
        ScscfConfig {
            rechallenge_protected_reregister: true,
            ..cfg()
        },
        f.net.cx.clone(),
        f.store.clone(),
    );
    let c = strict
        .handle_register(&ue.register(3600, Some(&prot), ""), &flow())
        .await;
    assert_eq!(status(&c), 401);
    // A protected REGISTER from an UNregistered identity is challenged regardless.
    let mut other = Ue::new("rereg-2");
    f.store.remove_registration(IMPU).await.unwrap();
    let c = f
        .reg
        .handle_register(&other.register(3600, Some(&prot), ""), &flow())
        .await;
    assert_eq!(status(&c), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deregistration_with_expires_zero() {
    let f = fixture(cfg()).await;
    let mut ue = Ue::new("dereg-1");
    register_fully(&f.reg, &mut ue, 3600).await;
    let prot = format!(
        "Digest username=\"{IMPI}\", realm=\"{REALM}\", nonce=\"\", uri=\"sip:{REALM}\", response=\"\", integrity-protected=\"yes\""
    );
    let ok = f
        .reg
        .handle_register(&ue.register(0, Some(&prot), ""), &flow())
        .await;
    assert_eq!(status(&ok), 200, "{ok}");
    assert!(ok.contacts().unwrap().is_empty());
    assert!(f.reg.lookup(IMPU).await.unwrap().is_none());
    assert!(f.store.get_registration(IMPU).await.unwrap().is_none());
    assert_eq!(
        f.net.state(IMPU).await.identity.state,
        RegistrationState::NotRegistered
    );

    // Again with `Contact: *` and two bindings (RFC 3261 §10.2.2): all removed.
    register_fully(&f.reg, &mut ue, 3600).await;
    ue.contact = "<sip:alice@127.0.0.2:5070>".into();
    let ok = f
        .reg
        .handle_register(&ue.register(3600, Some(&prot), ""), &flow())
        .await;
    assert_eq!(status(&ok), 200);
    assert_eq!(ok.contacts().unwrap().len(), 2);
    ue.contact = "*".into();
    let ok = f
        .reg
        .handle_register(&ue.register(0, Some(&prot), ""), &flow())
        .await;
    assert_eq!(status(&ok), 200, "{ok}");
    assert!(ok.contacts().unwrap().is_empty());
    assert!(f.reg.lookup(IMPU).await.unwrap().is_none());
    assert_eq!(
        f.net.state(IMPU).await.identity.state,
        RegistrationState::NotRegistered
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiry_by_tick_sends_timeout_deregistration() {
    let f = fixture(cfg()).await;
    let mut ue = Ue::new("expiry-1");
    register_fully(&f.reg, &mut ue, 60).await;
    // Nothing is due yet.
    let r = f.reg.tick(SystemTime::now()).await;
    assert!(r.deregistered.is_empty(), "{r:?}");
    assert!(f.reg.lookup(IMPU).await.unwrap().is_some());
    let r = f
        .reg
        .tick(SystemTime::now() + Duration::from_secs(61))
        .await;
    assert_eq!(r.deregistered, [IMPU]);
    assert_eq!(r.expired_contacts, 1);
    assert_eq!(r.sar_failures, 0);
    assert!(f.store.get_registration(IMPU).await.unwrap().is_none());
    let st = f.net.state(IMPU).await;
    assert_eq!(st.identity.state, RegistrationState::NotRegistered);
    // Idempotent: nothing more to do.
    let r = f
        .reg
        .tick(SystemTime::now() + Duration::from_secs(62))
        .await;
    assert!(r.deregistered.is_empty());
}

/// A store that, once armed, lets a "re-REGISTER" refresh every listed registration right after
/// the expiry timer listed it: the race of TS 24.229 §5.4.1.5 expiry against a refresh.
struct RacingStore {
    inner: Arc<SqliteStore>,
    armed: AtomicBool,
}

#[async_trait::async_trait]
impl RegistrationStore for RacingStore {
    async fn get_registration(
        &self,
        aor: &str,
    ) -> Result<Option<Versioned<Registration>>, CscfError> {
        self.inner.get_registration(aor).await
    }
    async fn put_registration(&self, reg: &Registration) -> Result<Version, CscfError> {
        self.inner.put_registration(reg).await
    }
    async fn update_registration_if_version(
        &self,
        reg: &Registration,
        expected: Version,
    ) -> Result<CasOutcome, CscfError> {
        self.inner
            .update_registration_if_version(reg, expected)
            .await
    }
    async fn remove_registration(&self, aor: &str) -> Result<bool, CscfError> {
        self.inner.remove_registration(aor).await
    }
    async fn remove_registration_if_version(
        &self,
        aor: &str,
        expected: Version,
    ) -> Result<CasOutcome, CscfError> {
        self.inner
            .remove_registration_if_version(aor, expected)
            .await
    }
    async fn registrations_expiring_before(
        &self,
        before: UnixSecs,
    ) -> Result<Vec<Expiring>, CscfError> {
        let due = self.inner.registrations_expiring_before(before).await?;
        if self.armed.swap(false, Ordering::SeqCst) {
            for e in &due {
                if let Some(v) = self.inner.get_registration(&e.aor).await? {
                    let mut r = v.value;
                    for c in &mut r.contacts {
                        c.expires_at += 3600;
                    }
                    self.inner.put_registration(&r).await?;
                }
            }
        }
        Ok(due)
    }
    async fn put_ue_registration(&self, ue: &UeRegistration) -> Result<(), CscfError> {
        self.inner.put_ue_registration(ue).await
    }
    async fn get_ue_registration(
        &self,
        impu: &str,
        contact: &str,
    ) -> Result<Option<UeRegistration>, CscfError> {
        self.inner.get_ue_registration(impu, contact).await
    }
    async fn remove_ue_registration(&self, impu: &str, contact: &str) -> Result<bool, CscfError> {
        self.inner.remove_ue_registration(impu, contact).await
    }
    async fn ue_registrations_expiring_before(
        &self,
        before: UnixSecs,
    ) -> Result<Vec<UeRegistration>, CscfError> {
        self.inner.ue_registrations_expiring_before(before).await
    }
    async fn put_challenge(&self, ch: &AuthChallenge) -> Result<(), CscfError> {
        self.inner.put_challenge(ch).await
    }
    async fn take_challenge(
        &self,
        impi: &str,
        nonce: &str,
    ) -> Result<Option<AuthChallenge>, CscfError> {
        self.inner.take_challenge(impi, nonce).await
    }
    async fn advance_nonce_count(
        &self,
        impi: &str,
        nonce: &str,
        nc: u32,
    ) -> Result<NcCheck, CscfError> {
        self.inner.advance_nonce_count(impi, nonce, nc).await
    }
    async fn purge_expired_challenges(
        &self,
        now: UnixSecs,
    ) -> Result<Vec<ExpiredChallenge>, CscfError> {
        self.inner.purge_expired_challenges(now).await
    }
    async fn put_reg_subscription(&self, sub: &RegSubscription) -> Result<(), CscfError> {
        self.inner.put_reg_subscription(sub).await
    }
    async fn get_reg_subscription(&self, id: &str) -> Result<Option<RegSubscription>, CscfError> {
        self.inner.get_reg_subscription(id).await
    }
    async fn reg_subscriptions_of(&self, aor: &str) -> Result<Vec<RegSubscription>, CscfError> {
        self.inner.reg_subscriptions_of(aor).await
    }
    async fn remove_reg_subscription(&self, id: &str) -> Result<bool, CscfError> {
        self.inner.remove_reg_subscription(id).await
    }
    async fn reg_subscriptions_expiring_before(
        &self,
        before: UnixSecs,
    ) -> Result<Vec<RegSubscription>, CscfError> {
        self.inner.reg_subscriptions_expiring_before(before).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiry_loses_against_a_racing_reregister() {
    let net = Net::start().await;
    let dir = TempDir::new("cscf_race");
    let racing = Arc::new(RacingStore {
        inner: sqlite(&dir).await,
        armed: AtomicBool::new(false),
    });
    let r = Registrar::new(cfg(), net.cx.clone(), racing.clone());
    let mut ue = Ue::new("race-1");
    register_fully(&r, &mut ue, 60).await;
    racing.armed.store(true, Ordering::SeqCst);
    // The timer lists the registration as due; the refresh lands before it removes.
    let report = r.tick(SystemTime::now() + Duration::from_secs(61)).await;
    assert!(report.deregistered.is_empty(), "{report:?}");
    assert_eq!(report.raced, 1, "{report:?}");
    assert_eq!(report.expired_contacts, 0);
    // Still registered here and at the HSS (no SAR TIMEOUT_DEREGISTRATION was sent).
    assert!(r.lookup(IMPU).await.unwrap().is_some());
    assert_eq!(
        net.state(IMPU).await.identity.state,
        RegistrationState::Registered
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unanswered_challenge_times_out_by_tick() {
    let f = fixture(cfg()).await;
    let mut ue = Ue::new("timeout-1");
    let c = f
        .reg
        .handle_register(&ue.register(3600, Some(&Ue::initial_authz()), ""), &flow())
        .await;
    assert_eq!(status(&c), 401);
    assert!(f.net.state(IMPU).await.scscf.is_some());
    let r = f.reg.tick(SystemTime::now() + Duration::from_secs(5)).await;
    assert!(r.auth_timeouts.is_empty(), "not yet: {r:?}");
    let r = f
        .reg
        .tick(SystemTime::now() + Duration::from_secs(31))
        .await;
    assert_eq!(r.auth_timeouts, [IMPI]);
    assert_eq!(r.sar_failures, 0);
    // SAR AUTHENTICATION_TIMEOUT withdrew the pending name.
    assert_eq!(f.net.state(IMPU).await.scscf, None);
    // The late answer finds no challenge: stale.
    let a = response_authz(ue.answer(&c, "no"));
    let r = f
        .reg
        .handle_register(&ue.register(3600, Some(&a), ""), &flow())
        .await;
    assert_eq!(status(&r), 401);
    assert!(r.www_authenticate().unwrap().unwrap().stale());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_registrars_share_one_store() {
    let f = fixture(cfg()).await;
    // A second S-CSCF node: its own Diameter client and its own pool on the same SQLite file.
    let (_node_b, cx_b) = client_to(f.net.hss.local_addr(), "scscf-b.ims.example").await;
    let store_b = sqlite(&f.dir).await;
    let b = Registrar::new(cfg(), cx_b, store_b);
    let mut ue = Ue::new("two-1");
    let c = f
        .reg
        .handle_register(&ue.register(3600, Some(&Ue::initial_authz()), ""), &flow())
        .await;
    assert_eq!(status(&c), 401);
    let a = response_authz(ue.answer(&c, "no"));
    // The answer reaches the other node, which verifies it from the shared challenge state.
    let ok = b
        .handle_register(&ue.register(3600, Some(&a), ""), &flow())
        .await;
    assert_eq!(status(&ok), 200, "{ok}");
    // And the first node sees the registration.
    assert_eq!(f.reg.lookup(IMPU).await.unwrap().unwrap().impi, IMPI);
    // Replaying at the first node: the nonce was used.
    let r = f
        .reg
        .handle_register(&ue.register(3600, Some(&a), ""), &flow())
        .await;
    assert_eq!(status(&r), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_survives_a_restart() {
    let net = Net::start().await;
    let dir = TempDir::new("cscf_restart");
    {
        let store = sqlite(&dir).await;
        let r = Registrar::new(cfg(), net.cx.clone(), store.clone());
        let mut ue = Ue::new("restart-1");
        register_fully(&r, &mut ue, 3600).await;
        drop(r);
        store.close().await;
    }
    let store = sqlite(&dir).await;
    let r = Registrar::new(cfg(), net.cx.clone(), store);
    let reg = r.lookup(IMPU).await.unwrap().expect("still registered");
    assert_eq!(reg.contacts[0].uri, "sip:alice@127.0.0.1:5070");
    assert!(reg.implicit_set.contains(&TEL.to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rtr_removes_the_registration() {
    let f = fixture(cfg()).await;
    let mut ue = Ue::new("rtr-1");
    register_fully(&f.reg, &mut ue, 3600).await;
    let rtr = cx::RegistrationTerminationRequest {
        common: cx::RequestCommon::new("hss.ims.example;1;1", HSS_HOST, REALM, REALM),
        user_name: IMPI.into(),
        associated_identities: None,
        public_identities: vec![IMPU.into(), TEL.into()],
        deregistration_reason: cx::DeregistrationReason {
            reason_code: cx::enums::ReasonCode::PermanentTermination,
            reason_info: None,
        },
    };
    let rta = f.reg.handle_rtr(rtr).await;
    assert_eq!(rta.common.result, cx::CxResult::SUCCESS);
    assert_eq!(rta.common.session_id, "hss.ims.example;1;1");
    assert_eq!(rta.associated_identities, Some(vec![IMPI.to_string()]));
    assert!(f.reg.lookup(IMPU).await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn akav2_and_sip_digest_schemes() {
    // AKAv2-MD5 (RFC 4169): the password is derived from RES, IK and CK.
    let f = fixture(ScscfConfig {
        auth_scheme: "Digest-AKAv2-MD5".into(),
        ..cfg()
    })
    .await;
    let mut ue = Ue::new("akav2-1");
    let c = f
        .reg
        .handle_register(&ue.register(3600, None, ""), &flow())
        .await;
    assert_eq!(status(&c), 401);
    let ch = c.www_authenticate().unwrap().unwrap();
    assert_eq!(ch.algorithm(), Some("AKAv2-MD5"));
    let nonce = ch.nonce().unwrap().to_string();
    let n = AkaNonce::decode(&nonce).unwrap();
    let UsimOutcome::Success { res, ck, ik, .. } =
        authenticate(&ue.m, &ue.sqn_cfg, &mut ue.usim, &n.rand, &n.autn, None).unwrap()
    else {
        panic!("USIM refused the vector")
    };
    // An AKAv1-style answer (password = RES) is wrong for AKAv2.
    let v1 = authz_with(&nonce, res.expose(), "no");
    let ha1 = digest::ha1_akav2(IMPI, REALM, &res, &ik, &ck);
    let v2 = authz_with_ha1(&nonce, &ha1, "AKAv2-MD5", "no");
    let ok = f
        .reg
        .handle_register(&ue.register(3600, Some(&v2), ""), &flow())
        .await;
    assert_eq!(status(&ok), 200, "{ok}");
    // (and the v1-style answer, on a fresh challenge, is refused)
    let c = f
        .reg
        .handle_register(&ue.register(3600, None, ""), &flow())
        .await;
    assert_eq!(status(&c), 401);
    let nonce2 = c
        .www_authenticate()
        .unwrap()
        .unwrap()
        .nonce()
        .unwrap()
        .to_string();
    let v1 = v1.replace(&nonce, &nonce2);
    let r = f
        .reg
        .handle_register(&ue.register(3600, Some(&v1), ""), &flow())
        .await;
    assert_eq!(status(&r), 403);

    // SIP Digest (MD5): HA1 from the HSS, our own nonce, no ck/ik.
    let dir = TempDir::new("cscf_reg_md5");
    let md5 = Registrar::new(
        ScscfConfig {
            auth_scheme: "SIP Digest".into(),
            ..cfg()
        },
        f.net.cx.clone(),
        sqlite(&dir).await,
    );
    let mut ue = Ue::new("md5-1");
    let c = md5
        .handle_register(&ue.register(3600, None, ""), &flow())
        .await;
    assert_eq!(status(&c), 401);
    let ch = c.www_authenticate().unwrap().unwrap();
    assert_eq!(ch.algorithm(), Some("MD5"));
    assert_eq!(ch.ck(), None);
    let nonce = ch.nonce().unwrap().to_string();
    let wrong = authz_with_ha1(&nonce, &digest::ha1(IMPI, REALM, b"guess"), "MD5", "no");
    let right = authz_with_ha1(&nonce, &digest::ha1(IMPI, REALM, b"secret"), "MD5", "no");
    // Wrong password first: 403, and the nonce is gone.
    let r = md5
        .handle_register(&ue.register(3600, Some(&wrong), ""), &flow())
        .await;
    assert_eq!(status(&r), 403);
    let r = md5
        .handle_register(&ue.register(3600, Some(&right), ""), &flow())
        .await;
    assert_eq!(status(&r), 401);
    let nonce = r
        .www_authenticate()
        .unwrap()
        .unwrap()
        .nonce()
        .unwrap()
        .to_string();
    let right = authz_with_ha1(&nonce, &digest::ha1(IMPI, REALM, b"secret"), "MD5", "no");
    let ok = md5
        .handle_register(&ue.register(3600, Some(&right), ""), &flow())
        .await;
    assert_eq!(status(&ok), 200, "{ok}");
}

// ---------------------------------------------------------------------------------------------
// The reg event package (RFC 3680, TS 24.229 §5.4.2.1): SUBSCRIBE, full then partial NOTIFYs
// through a registration's whole life. NOTIFYs are taken from the registrar's outbox; every body
// is checked against RFC 3680's schema with xmllint and parsed by the UE's reader.

use cscf::scscf::regevent::OutgoingNotify;
use cscf::store::RegSubscriber;
use harness::reginfo_check::reginfo_of;
use tokio::sync::mpsc::UnboundedReceiver;
use ue::reginfo::{ContactEvent, ContactState, DocState, RegState};

const UE_CONTACT: &str = "sip:alice@127.0.0.1:5070";

fn protected_authz() -> String {
    format!(
        "Digest username=\"{IMPI}\", realm=\"{REALM}\", nonce=\"\", uri=\"sip:{REALM}\", response=\"\", integrity-protected=\"yes\""
    )
}

/// A reg SUBSCRIBE as it reaches the S-CSCF from the P-CSCF: asserted identity `pai`, optional
/// To tag (refresh), Expires, extra header lines.
fn subscribe(
    call_id: &str,
    cseq: u32,
    expires: u32,
    to_tag: Option<&str>,
    pai: Option<&str>,
    extra: &str,
) -> Message {
    let to_tag = to_tag.map(|t| format!(";tag={t}")).unwrap_or_default();
    let pai = pai
        .map(|p| format!("P-Asserted-Identity: <{p}>\r\n"))
        .unwrap_or_default();
    let raw = format!(
        "SUBSCRIBE {IMPU} SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKs{call_id}{cseq}\r\n\
         Max-Forwards: 70\r\n\
         From: <{IMPU}>;tag=uesub\r\n\
         To: <{IMPU}>{to_tag}\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: {cseq} SUBSCRIBE\r\n\
         Contact: <{UE_CONTACT}>\r\n\
         Event: reg\r\n\
         Expires: {expires}\r\n\
         {pai}{extra}\
         Content-Length: 0\r\n\r\n"
    );
    Message::parse(raw.into_bytes()).unwrap()
}

fn drain(rx: &mut UnboundedReceiver<Vec<OutgoingNotify>>) -> Vec<OutgoingNotify> {
    let mut out = Vec::new();
    while let Ok(b) = rx.try_recv() {
        out.extend(b);
    }
    out
}

fn one(rx: &mut UnboundedReceiver<Vec<OutgoingNotify>>) -> OutgoingNotify {
    let mut v = drain(rx);
    assert_eq!(v.len(), 1, "expected one NOTIFY: {v:?}");
    v.remove(0)
}

fn header(m: &Message, name: &str) -> String {
    m.header_value(name)
        .map(|v| v.to_string())
        .unwrap_or_default()
}

fn cseq_of(m: &Message) -> u32 {
    m.cseq().unwrap().seq
}

/// The event and state of our contact in every registration of the document (all IMPUs of the
/// implicit set must agree).
fn our_contact(d: &ue::reginfo::Reginfo) -> (ContactState, ContactEvent) {
    let mut seen = Vec::new();
    for r in &d.registrations {
        let c = r
            .contacts
            .iter()
            .find(|c| c.uri == UE_CONTACT)
            .unwrap_or_else(|| panic!("our contact missing in {r:?}"));
        seen.push((c.state, c.event));
    }
    assert!(seen.windows(2).all(|w| w[0] == w[1]), "{seen:?}");
    seen[0]
}

fn aors(d: &ue::reginfo::Reginfo) -> Vec<String> {
    d.registrations.iter().map(|r| r.aor.clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reg_event_full_then_partial_through_register_refresh_shorten_deregister() {
    let f = fixture(cfg()).await;
    let mut outbox = f.reg.reg_event().take_outbox().expect("outbox");
    let mut ue = Ue::new("regev-1");
    register_fully(&f.reg, &mut ue, 3600).await;
    assert!(drain(&mut outbox).is_empty(), "no subscription yet");

    // SUBSCRIBE from the UE: 200 with our tag, Contact and the granted Expires
    let sub = subscribe(
        "sub-1",
        1,
        600_000,
        None,
        Some(IMPU),
        "Accept: application/reginfo+xml\r\n",
    );
    let ok = f.reg.handle_subscribe(&sub).await;
    assert_eq!(status(&ok), 200, "{ok}");
    let our_tag = ok.to().unwrap().tag().expect("To tag").to_string();
    assert_eq!(header(&ok, "Contact"), format!("<{SCSCF_NAME}>"));
    assert_eq!(ok.expires().unwrap(), Some(600_000));
    let stored = f
        .store
        .get_reg_subscription(&format!("sub-1;{our_tag}"))
        .await
        .unwrap()
        .expect("subscription stored");
    assert_eq!(stored.subscriber, RegSubscriber::Ue);

    // the immediate NOTIFY: full state, version 0, dialog from the SUBSCRIBE (RFC 3261 §12)
    let n = one(&mut outbox);
    let m = &n.message;
    assert_eq!(m.method(), Some(sip::Method::Notify));
    assert_eq!(m.request_uri().unwrap().to_string(), UE_CONTACT);
    assert_eq!(header(m, "Route"), PATH, "Path as route set: {m}");
    assert_eq!(n.next_hop.to_string(), "sip:term@pcscf.ims.example;lr");
    assert_eq!(m.from().unwrap().tag(), Some(our_tag.as_str()));
    assert_eq!(m.to().unwrap().tag(), Some("uesub"));
    assert_eq!(m.call_id().unwrap().to_string(), "sub-1");
    assert_eq!(cseq_of(m), 1);
    assert_eq!(header(m, "Event"), "reg");
    assert!(
        header(m, "Subscription-State").starts_with("active;expires="),
        "{m}"
    );
    let d = reginfo_of(m);
    assert_eq!((d.version, d.state), (0, DocState::Full));
    assert_eq!(aors(&d), [IMPU, TEL], "the implicit set");
    assert!(d.registrations.iter().all(|r| r.state == RegState::Active));
    assert_eq!(
        our_contact(&d),
        (ContactState::Active, ContactEvent::Registered)
    );

    // re-registration (protected, longer): refreshed, version 1, CSeq 2
    let ok = f
        .reg
        .handle_register(&ue.register(7200, Some(&protected_authz()), ""), &flow())
        .await;
    assert_eq!(status(&ok), 200);
    let n = one(&mut outbox);
    let d = reginfo_of(&n.message);
    assert_eq!((d.version, d.state), (1, DocState::Partial));
    assert_eq!(cseq_of(&n.message), 2);
    assert_eq!(
        our_contact(&d),
        (ContactState::Active, ContactEvent::Refreshed)
    );
    assert!(header(&n.message, "Subscription-State").starts_with("active"));

    // re-registration with a shorter interval: shortened, version 2
    let ok = f
        .reg
        .handle_register(&ue.register(600, Some(&protected_authz()), ""), &flow())
        .await;
    assert_eq!(status(&ok), 200);
    let n = one(&mut outbox);
    let d = reginfo_of(&n.message);
    assert_eq!((d.version, cseq_of(&n.message)), (2, 3));
    assert_eq!(
        our_contact(&d),
        (ContactState::Active, ContactEvent::Shortened)
    );
    let c = &d.registrations[0].contacts[0];
    assert!(c.expires.is_some_and(|e| e <= 600 && e > 500), "{c:?}");

    // de-registration by the UE: unregistered, registration terminated, subscription ended
    let ok = f
        .reg
        .handle_register(&ue.register(0, Some(&protected_authz()), ""), &flow())
        .await;
    assert_eq!(status(&ok), 200);
    let n = one(&mut outbox);
    let d = reginfo_of(&n.message);
    assert_eq!((d.version, cseq_of(&n.message)), (3, 4));
    assert_eq!(
        our_contact(&d),
        (ContactState::Terminated, ContactEvent::Unregistered)
    );
    assert!(d
        .registrations
        .iter()
        .all(|r| r.state == RegState::Terminated));
    assert_eq!(
        header(&n.message, "Subscription-State"),
        "terminated;reason=noresource"
    );
    assert!(f.store.reg_subscriptions_of(IMPU).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reg_subscribe_is_refused_to_strangers_and_checked() {
    let f = fixture(cfg()).await;
    let mut outbox = f.reg.reg_event().take_outbox().expect("outbox");
    // not registered: 403
    let r = f
        .reg
        .handle_subscribe(&subscribe("s-0", 1, 600_000, None, Some(IMPU), ""))
        .await;
    assert_eq!(status(&r), 403, "{r}");
    let mut ue = Ue::new("regev-2");
    register_fully(&f.reg, &mut ue, 3600).await;
    // another user's asserted identity, or none: 403 (TS 24.229 §5.4.2.1.1)
    for pai in [Some("sip:mallory@ims.example"), None] {
        let r = f
            .reg
            .handle_subscribe(&subscribe("s-1", 1, 600_000, None, pai, ""))
            .await;
        assert_eq!(status(&r), 403, "{pai:?}: {r}");
    }
    // a P-CSCF that is not on the Path: 403
    let r = f
        .reg
        .handle_subscribe(&subscribe(
            "s-2",
            1,
            600_000,
            None,
            Some("sip:pcscf.elsewhere.example"),
            "",
        ))
        .await;
    assert_eq!(status(&r), 403, "{r}");
    assert!(drain(&mut outbox).is_empty(), "no NOTIFY to strangers");
    // too brief: 423 with Min-Expires; unacceptable Accept: 406
    let r = f
        .reg
        .handle_subscribe(&subscribe("s-3", 1, 10, None, Some(IMPU), ""))
        .await;
    assert_eq!(status(&r), 423, "{r}");
    assert_eq!(header(&r, "Min-Expires"), "60");
    let r = f
        .reg
        .handle_subscribe(&subscribe(
            "s-4",
            1,
            600,
            None,
            Some(IMPU),
            "Accept: text/plain\r\n",
        ))
        .await;
    assert_eq!(status(&r), 406, "{r}");
    // too long: shortened to the maximum
    let r = f
        .reg
        .handle_subscribe(&subscribe("s-5", 1, 900_000, None, Some(IMPU), ""))
        .await;
    assert_eq!(status(&r), 200, "{r}");
    assert_eq!(r.expires().unwrap(), Some(600_000));
    // the P-CSCF on the Path (its URI asserted, TS 24.229 §5.2.3) may subscribe
    let r = f
        .reg
        .handle_subscribe(&subscribe(
            "s-6",
            1,
            600_000,
            None,
            Some("sip:pcscf.ims.example"),
            "",
        ))
        .await;
    assert_eq!(status(&r), 200, "{r}");
    let subs = f.store.reg_subscriptions_of(IMPU).await.unwrap();
    let kinds: Vec<_> = subs
        .iter()
        .map(|s| (s.call_id.as_str(), s.subscriber))
        .collect();
    assert_eq!(
        kinds,
        [("s-5", RegSubscriber::Ue), ("s-6", RegSubscriber::Pcscf)]
    );
    // the P-CSCF has no Record-Route: its NOTIFYs go straight to its Contact
    let n = drain(&mut outbox);
    assert_eq!(n.len(), 2);
    // a refresh in an unknown dialog: 481
    let r = f
        .reg
        .handle_subscribe(&subscribe("s-7", 2, 600, Some("nosuchtag"), Some(IMPU), ""))
        .await;
    assert_eq!(status(&r), 481, "{r}");
    // a fetch (Expires: 0): one full NOTIFY, terminated, nothing kept
    let r = f
        .reg
        .handle_subscribe(&subscribe("s-8", 1, 0, None, Some(IMPU), ""))
        .await;
    assert_eq!(status(&r), 200, "{r}");
    let n = one(&mut outbox);
    assert_eq!(
        header(&n.message, "Subscription-State"),
        "terminated;reason=timeout"
    );
    assert_eq!(reginfo_of(&n.message).state, DocState::Full);
    assert_eq!(f.store.reg_subscriptions_of(IMPU).await.unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reg_subscription_refresh_unsubscribe_and_expiry() {
    let f = fixture(cfg()).await;
    let mut outbox = f.reg.reg_event().take_outbox().expect("outbox");
    let mut ue = Ue::new("regev-3");
    register_fully(&f.reg, &mut ue, 3600).await;
    let ok = f
        .reg
        .handle_subscribe(&subscribe("r-1", 1, 600, None, Some(IMPU), ""))
        .await;
    let tag = ok.to().unwrap().tag().unwrap().to_string();
    assert_eq!(reginfo_of(&one(&mut outbox).message).version, 0);
    // refresh: 200, a full NOTIFY with the next version and CSeq
    let ok = f
        .reg
        .handle_subscribe(&subscribe("r-1", 2, 1200, Some(&tag), Some(IMPU), ""))
        .await;
    assert_eq!(status(&ok), 200, "{ok}");
    assert_eq!(ok.to().unwrap().tag(), Some(tag.as_str()));
    assert_eq!(ok.expires().unwrap(), Some(1200));
    let n = one(&mut outbox);
    let d = reginfo_of(&n.message);
    assert_eq!(
        (d.version, d.state, cseq_of(&n.message)),
        (1, DocState::Full, 2)
    );
    // an old CSeq in the dialog: 500 (RFC 3261 §12.2.2)
    let r = f
        .reg
        .handle_subscribe(&subscribe("r-1", 2, 1200, Some(&tag), Some(IMPU), ""))
        .await;
    assert_eq!(status(&r), 500);
    // unsubscribe: terminated;reason=timeout, removed
    let ok = f
        .reg
        .handle_subscribe(&subscribe("r-1", 3, 0, Some(&tag), Some(IMPU), ""))
        .await;
    assert_eq!(status(&ok), 200);
    let n = one(&mut outbox);
    assert_eq!(
        header(&n.message, "Subscription-State"),
        "terminated;reason=timeout"
    );
    assert_eq!(reginfo_of(&n.message).version, 2);
    assert!(f.store.reg_subscriptions_of(IMPU).await.unwrap().is_empty());

    // a subscription left to expire: the tick (simulated clock) ends it with reason=timeout
    let t0 = SystemTime::now();
    let ok = f
        .reg
        .handle_subscribe_at(&subscribe("r-2", 1, 120, None, Some(IMPU), ""), t0)
        .await;
    assert_eq!(status(&ok), 200);
    drain(&mut outbox);
    let r = f.reg.tick(t0 + Duration::from_secs(60)).await;
    assert_eq!(r.subscriptions_expired, 0);
    assert!(drain(&mut outbox).is_empty());
    let r = f.reg.tick(t0 + Duration::from_secs(121)).await;
    assert_eq!(r.subscriptions_expired, 1, "{r:?}");
    let n = one(&mut outbox);
    assert_eq!(
        header(&n.message, "Subscription-State"),
        "terminated;reason=timeout"
    );
    let d = reginfo_of(&n.message);
    assert_eq!((d.version, cseq_of(&n.message)), (1, 2));
    assert!(f.store.reg_subscriptions_of(IMPU).await.unwrap().is_empty());
    // still registered: only the subscription ended
    assert!(f.reg.lookup(IMPU).await.unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reg_event_on_expiry_and_rtr_deactivated_or_rejected() {
    let f = fixture(cfg()).await;
    let mut outbox = f.reg.reg_event().take_outbox().expect("outbox");
    let mut ue = Ue::new("regev-4");

    // expiry (simulated clock): expired, terminated;reason=noresource, SAR TIMEOUT_DEREGISTRATION
    register_fully(&f.reg, &mut ue, 60).await;
    let ok = f
        .reg
        .handle_subscribe(&subscribe("e-1", 1, 600_000, None, Some(IMPU), ""))
        .await;
    assert_eq!(status(&ok), 200);
    drain(&mut outbox);
    let r = f
        .reg
        .tick(SystemTime::now() + Duration::from_secs(61))
        .await;
    assert_eq!(r.deregistered, [IMPU]);
    let n = one(&mut outbox);
    let d = reginfo_of(&n.message);
    assert_eq!((d.version, d.state), (1, DocState::Partial));
    assert_eq!(
        our_contact(&d),
        (ContactState::Terminated, ContactEvent::Expired)
    );
    assert_eq!(
        header(&n.message, "Subscription-State"),
        "terminated;reason=noresource"
    );
    assert_eq!(
        f.net.state(IMPU).await.identity.state,
        RegistrationState::NotRegistered
    );

    // RTR: deactivated unless PERMANENT_TERMINATION, which is rejected (TS 24.229 §5.4.1.5)
    for (code, event, reason) in [
        (
            cx::enums::ReasonCode::NewServerAssigned,
            ContactEvent::Deactivated,
            "deactivated",
        ),
        (
            cx::enums::ReasonCode::PermanentTermination,
            ContactEvent::Rejected,
            "rejected",
        ),
    ] {
        register_fully(&f.reg, &mut ue, 3600).await;
        let call_id = format!("rtr-{reason}");
        let ok = f
            .reg
            .handle_subscribe(&subscribe(&call_id, 1, 600_000, None, Some(IMPU), ""))
            .await;
        assert_eq!(status(&ok), 200);
        // and the P-CSCF's subscription: it gets its NOTIFY after the UE's
        let ok = f
            .reg
            .handle_subscribe(&subscribe(
                &format!("{call_id}-p"),
                1,
                600_000,
                None,
                Some("sip:pcscf.ims.example"),
                "",
            ))
            .await;
        assert_eq!(status(&ok), 200);
        drain(&mut outbox);
        let rtr = cx::RegistrationTerminationRequest {
            common: cx::RequestCommon::new("hss.ims.example;9;9", HSS_HOST, REALM, REALM),
            user_name: IMPI.into(),
            associated_identities: None,
            public_identities: vec![IMPU.into()],
            deregistration_reason: cx::DeregistrationReason {
                reason_code: code,
                reason_info: None,
            },
        };
        let rta = f.reg.handle_rtr(rtr).await;
        assert_eq!(rta.common.result, cx::CxResult::SUCCESS);
        let ns = drain(&mut outbox);
        assert_eq!(ns.len(), 2, "{ns:?}");
        assert_eq!(
            ns.iter().map(|n| n.subscriber).collect::<Vec<_>>(),
            [RegSubscriber::Ue, RegSubscriber::Pcscf]
        );
        for n in &ns {
            let d = reginfo_of(&n.message);
            assert_eq!(d.version, 1);
            assert_eq!(our_contact(&d), (ContactState::Terminated, event));
            assert_eq!(
                header(&n.message, "Subscription-State"),
                format!("terminated;reason={reason}")
            );
        }
        assert!(f.reg.lookup(IMPU).await.unwrap().is_none());
        assert!(f.store.reg_subscriptions_of(IMPU).await.unwrap().is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identities_with_xml_special_characters_give_valid_bodies() {
    use cscf::scscf::regevent::notifier::{full_doc, partial_doc, Cause};
    let nasty = "sip:a&b<c>\"d'@ims.example";
    let reg = Registration {
        aor: nasty.into(),
        impi: "a@ims.example".into(),
        implicit_set: vec![nasty.into(), "tel:+1555&1".into()],
        contacts: vec![cscf::store::RegContact {
            uri: "sip:u@h;x=\"<&>\"".into(),
            expires_at: 2_000,
            q: Some(1000),
            instance: Some("\"<urn:uuid:&'>\"".into()),
            reg_id: Some(1),
            path: vec![],
            call_id: "c<&>\"'".into(),
            cseq: 1,
            received: None,
        }],
    };
    let full = full_doc(Some(&reg), nasty, 0, 1_000).to_xml();
    harness::reginfo_check::assert_schema_valid(full.as_bytes());
    let d = ue::reginfo::parse(full.as_bytes()).unwrap();
    assert_eq!(d.registrations[0].aor, nasty);
    assert_eq!(d.registrations[0].contacts[0].uri, "sip:u@h;x=\"<&>\"");
    let gone = partial_doc(
        Some(&reg),
        None,
        Cause::Network { reregister: false },
        1,
        1_000,
    )
    .unwrap()
    .to_xml();
    harness::reginfo_check::assert_schema_valid(gone.as_bytes());
    // and the validator does reject an invalid body (the check can fail)
    let bad = full.replace("state=\"full\"", "state=\"complete\"");
    assert!(
        std::panic::catch_unwind(|| harness::reginfo_check::assert_schema_valid(bad.as_bytes()))
            .is_err()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reg_event_timers_survive_a_restart() {
    let net = Net::start().await;
    let dir = TempDir::new("regev_restart");
    let t0 = SystemTime::now();
    let (short_tag, long_tag) = {
        let store = sqlite(&dir).await;
        let r = Registrar::new(cfg(), net.cx.clone(), store.clone());
        let mut outbox = r.reg_event().take_outbox().unwrap();
        let mut ue = Ue::new("regev-restart");
        register_fully(&r, &mut ue, 3600).await;
        let a = r
            .handle_subscribe_at(&subscribe("short", 1, 120, None, Some(IMPU), ""), t0)
            .await;
        let b = r
            .handle_subscribe_at(&subscribe("long", 1, 600_000, None, Some(IMPU), ""), t0)
            .await;
        assert_eq!((status(&a), status(&b)), (200, 200));
        assert_eq!(drain(&mut outbox).len(), 2);
        let tags = (
            a.to().unwrap().tag().unwrap().to_string(),
            b.to().unwrap().tag().unwrap().to_string(),
        );
        drop(r);
        store.close().await;
        tags
    };
    // a new S-CSCF process on the same store: the timers are armed from the store
    let store = sqlite(&dir).await;
    let r = Registrar::new(cfg(), net.cx.clone(), store.clone());
    let mut outbox = r.reg_event().take_outbox().unwrap();
    assert_eq!(store.reg_subscriptions_of(IMPU).await.unwrap().len(), 2);
    let rep = r.tick(t0 + Duration::from_secs(121)).await;
    assert_eq!(rep.subscriptions_expired, 1, "{rep:?}");
    let n = one(&mut outbox);
    assert_eq!(n.message.from().unwrap().tag(), Some(short_tag.as_str()));
    assert_eq!(
        header(&n.message, "Subscription-State"),
        "terminated;reason=timeout"
    );
    // the dialog goes on where it was: version 1, CSeq 2
    assert_eq!(
        (reginfo_of(&n.message).version, cseq_of(&n.message)),
        (1, 2)
    );
    // registration expiry after the restart: SAR TIMEOUT_DEREGISTRATION and the NOTIFY
    let rep = r.tick(t0 + Duration::from_secs(3601)).await;
    assert_eq!(rep.deregistered, [IMPU], "{rep:?}");
    let n = one(&mut outbox);
    assert_eq!(n.message.from().unwrap().tag(), Some(long_tag.as_str()));
    let d = reginfo_of(&n.message);
    assert_eq!((d.version, cseq_of(&n.message)), (1, 2));
    assert_eq!(
        our_contact(&d),
        (ContactState::Terminated, ContactEvent::Expired)
    );
    assert_eq!(
        net.state(IMPU).await.identity.state,
        RegistrationState::NotRegistered
    );
    assert!(store.reg_subscriptions_of(IMPU).await.unwrap().is_empty());
}

/// A store that stops the expiry timer between its read of a registration and its
/// compare-and-set removal, until the test lets it go: the interleaving of TS 24.229 §5.4.1.5
/// expiry with a re-REGISTER, made explicit.
struct GateStore {
    inner: Arc<SqliteStore>,
    armed: AtomicBool,
    reached: tokio::sync::Notify,
    release: tokio::sync::Notify,
}

#[async_trait::async_trait]
impl RegistrationStore for GateStore {
    async fn get_registration(
        &self,
        aor: &str,
    ) -> Result<Option<Versioned<Registration>>, CscfError> {
        self.inner.get_registration(aor).await
    }
    async fn put_registration(&self, reg: &Registration) -> Result<Version, CscfError> {
        self.inner.put_registration(reg).await
    }
    async fn update_registration_if_version(
        &self,
        reg: &Registration,
        expected: Version,
    ) -> Result<CasOutcome, CscfError> {
        self.inner
            .update_registration_if_version(reg, expected)
            .await
    }
    async fn remove_registration(&self, aor: &str) -> Result<bool, CscfError> {
        self.inner.remove_registration(aor).await
    }
    async fn remove_registration_if_version(
        &self,
        aor: &str,
        expected: Version,
    ) -> Result<CasOutcome, CscfError> {
        if self.armed.swap(false, Ordering::SeqCst) {
            self.reached.notify_one();
            self.release.notified().await;
        }
        self.inner
            .remove_registration_if_version(aor, expected)
            .await
    }
    async fn registrations_expiring_before(
        &self,
        before: UnixSecs,
    ) -> Result<Vec<Expiring>, CscfError> {
        self.inner.registrations_expiring_before(before).await
    }
    async fn put_ue_registration(&self, ue: &UeRegistration) -> Result<(), CscfError> {
        self.inner.put_ue_registration(ue).await
    }
    async fn get_ue_registration(
        &self,
        impu: &str,
        contact: &str,
    ) -> Result<Option<UeRegistration>, CscfError> {
        self.inner.get_ue_registration(impu, contact).await
    }
    async fn remove_ue_registration(&self, impu: &str, contact: &str) -> Result<bool, CscfError> {
        self.inner.remove_ue_registration(impu, contact).await
    }
    async fn ue_registrations_expiring_before(
        &self,
        before: UnixSecs,
    ) -> Result<Vec<UeRegistration>, CscfError> {
        self.inner.ue_registrations_expiring_before(before).await
    }
    async fn put_challenge(&self, ch: &AuthChallenge) -> Result<(), CscfError> {
        self.inner.put_challenge(ch).await
    }
    async fn take_challenge(
        &self,
        impi: &str,
        nonce: &str,
    ) -> Result<Option<AuthChallenge>, CscfError> {
        self.inner.take_challenge(impi, nonce).await
    }
    async fn advance_nonce_count(
        &self,
        impi: &str,
        nonce: &str,
        nc: u32,
    ) -> Result<NcCheck, CscfError> {
        self.inner.advance_nonce_count(impi, nonce, nc).await
    }
    async fn purge_expired_challenges(
        &self,
        now: UnixSecs,
    ) -> Result<Vec<ExpiredChallenge>, CscfError> {
        self.inner.purge_expired_challenges(now).await
    }
    async fn put_reg_subscription(&self, sub: &RegSubscription) -> Result<(), CscfError> {
        self.inner.put_reg_subscription(sub).await
    }
    async fn get_reg_subscription(&self, id: &str) -> Result<Option<RegSubscription>, CscfError> {
        self.inner.get_reg_subscription(id).await
    }
    async fn reg_subscriptions_of(&self, aor: &str) -> Result<Vec<RegSubscription>, CscfError> {
        self.inner.reg_subscriptions_of(aor).await
    }
    async fn remove_reg_subscription(&self, id: &str) -> Result<bool, CscfError> {
        self.inner.remove_reg_subscription(id).await
    }
    async fn reg_subscriptions_expiring_before(
        &self,
        before: UnixSecs,
    ) -> Result<Vec<RegSubscription>, CscfError> {
        self.inner.reg_subscriptions_expiring_before(before).await
    }
}

/// The race, step by step on a simulated clock: the expiry timer fires at T+61 and has read the
/// registration (version v); the UE's re-REGISTER lands; then the timer's removal runs. The
/// removal loses (compare-and-set), the user stays registered here and at the HSS, and the
/// subscribers hear `refreshed`, never `expired`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reregister_racing_the_expiry_never_deregisters() {
    let net = Net::start().await;
    let dir = TempDir::new("regev_race");
    let gate = Arc::new(GateStore {
        inner: sqlite(&dir).await,
        armed: AtomicBool::new(false),
        reached: tokio::sync::Notify::new(),
        release: tokio::sync::Notify::new(),
    });
    let r = Arc::new(Registrar::new(cfg(), net.cx.clone(), gate.clone()));
    let mut outbox = r.reg_event().take_outbox().unwrap();
    let mut ue = Ue::new("regev-race");
    register_fully(&r, &mut ue, 60).await;
    let ok = r
        .handle_subscribe(&subscribe("race", 1, 600_000, None, Some(IMPU), ""))
        .await;
    assert_eq!(status(&ok), 200);
    drain(&mut outbox);

    // 1. the expiry fires (simulated T+61) and stops just before its removal
    gate.armed.store(true, Ordering::SeqCst);
    let fire = SystemTime::now() + Duration::from_secs(61);
    let timer = tokio::spawn({
        let r = r.clone();
        async move { r.tick(fire).await }
    });
    tokio::time::timeout(T10, gate.reached.notified())
        .await
        .expect("the expiry timer reaches its removal");
    // 2. the re-REGISTER arrives and is answered
    let ok = r
        .handle_register(&ue.register(3600, Some(&protected_authz()), ""), &flow())
        .await;
    assert_eq!(status(&ok), 200, "{ok}");
    // 3. the timer goes on: its removal is stale
    gate.release.notify_one();
    let report = tokio::time::timeout(T10, timer).await.unwrap().unwrap();
    assert!(report.deregistered.is_empty(), "{report:?}");
    assert_eq!(report.raced, 1, "{report:?}");
    assert!(r.lookup(IMPU).await.unwrap().is_some());
    assert_eq!(
        net.state(IMPU).await.identity.state,
        RegistrationState::Registered
    );
    let ns = drain(&mut outbox);
    assert_eq!(ns.len(), 1, "{ns:?}");
    let d = reginfo_of(&ns[0].message);
    assert_eq!(
        our_contact(&d),
        (ContactState::Active, ContactEvent::Refreshed)
    );
    assert!(header(&ns[0].message, "Subscription-State").starts_with("active"));
    // and the next tick finds nothing due
    let report = r.tick(fire + Duration::from_secs(1)).await;
    assert!(report.deregistered.is_empty(), "{report:?}");
    assert!(drain(&mut outbox).is_empty());
}

/// PPR (TS 29.228 §6.2.2): the S-CSCF's copy of the profile follows the HSS; a User-Data it
/// cannot read gets DIAMETER_ERROR_NOT_SUPPORTED_USER_DATA.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ppr_updates_the_implicit_set() {
    let f = fixture(cfg()).await;
    let mut outbox = f.reg.reg_event().take_outbox().unwrap();
    let mut ue = Ue::new("ppr-1");
    register_fully(&f.reg, &mut ue, 3600).await;
    let ok = f
        .reg
        .handle_subscribe(&subscribe("ppr-sub", 1, 600_000, None, Some(IMPU), ""))
        .await;
    assert_eq!(status(&ok), 200);
    drain(&mut outbox);
    assert!(f
        .reg
        .lookup(IMPU)
        .await
        .unwrap()
        .unwrap()
        .implicit_set
        .contains(&TEL.to_string()));
    // the current profile, as the HSS gives it, without the tel URI
    let saa = f
        .net
        .cx
        .sar(
            Some(IMPI),
            &[IMPU.to_string()],
            SCSCF_NAME,
            cx::enums::ServerAssignmentType::NoAssignment,
            cx::enums::UserDataAlreadyAvailable::UserDataNotAvailable,
        )
        .await
        .unwrap();
    let mut profile = saa.user_data().unwrap().expect("User-Data");
    for sp in &mut profile.service_profiles {
        sp.public_identities.retain(|i| i.identity != TEL);
    }
    let ppr = |data: Option<bytes::Bytes>| cx::PushProfileRequest {
        common: cx::RequestCommon::new("hss.ims.example;7;7", HSS_HOST, REALM, REALM),
        user_name: IMPI.into(),
        user_data: data,
        charging_information: None,
        sip_auth_data_item: None,
    };
    let ppa = f
        .reg
        .handle_ppr(ppr(Some(bytes::Bytes::from(profile.to_xml().unwrap()))))
        .await;
    assert_eq!(ppa.common.result, cx::CxResult::SUCCESS);
    assert_eq!(ppa.common.session_id, "hss.ims.example;7;7");
    let reg = f.reg.lookup(IMPU).await.unwrap().unwrap();
    assert_eq!(reg.implicit_set, [IMPU]);
    // the subscriber hears that the tel URI left the set
    let n = one(&mut outbox);
    let d = reginfo_of(&n.message);
    assert_eq!((d.version, d.state), (1, DocState::Partial));
    assert_eq!(aors(&d), [TEL]);
    assert_eq!(d.registrations[0].state, RegState::Terminated);
    assert_eq!(
        (
            d.registrations[0].contacts[0].state,
            d.registrations[0].contacts[0].event
        ),
        (ContactState::Terminated, ContactEvent::Deactivated)
    );
    assert!(header(&n.message, "Subscription-State").starts_with("active"));
    let ppa = f
        .reg
        .handle_ppr(ppr(Some(bytes::Bytes::from_static(b"<not-a-profile"))))
        .await;
    assert_eq!(
        ppa.common.result,
        cx::CxResult::Experimental {
            vendor_id: 10415,
            code: 5009
        }
    );
    let ppa = f.reg.handle_ppr(ppr(None)).await;
    assert_eq!(ppa.common.result, cx::CxResult::SUCCESS);
}
