//! The UE registration state machine (sans-IO): TS 24.229 §5.1.1 registration, re-registration
//! and de-registration with IMS-AKA (RFC 3310 / RFC 4169) or plain Digest MD5, RFC 3329 security
//! agreement hooks, and the `reg` event subscription (RFC 3680, TS 24.229 §5.1.1.3).
//!
//! The driver feeds [`Event`]s with the current time into [`Ue::handle`] and executes the returned
//! [`Action`]s: send a message on a flow, arm a timer, set up the protected flow, persist the SQN
//! state, report the outcome. Retransmissions belong to the transaction layer below; a
//! transaction that timed out is reported back as [`Event::Timeout`].

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aka::digest::{self, Algorithm, DigestInput, Qop, QopParams};
use aka::sqn::UeSqnState;
use aka::usim::UsimOutcome;
use aka::{AkaNonce, Ha1};
use sip::{
    AuthHeader, Contact, HeaderName, Host, Message, MessageBuilder, Method, NameAddr, Param,
    SecurityMechanism, SipUri, Uri, Via,
};
use zeroize::Zeroizing;

use crate::error::{Result, UeError};
use crate::isim::Isim;
use crate::reginfo::{self, ContactEvent, ContactState, DocState, RegState};
use crate::register_wire::{AuthWire, RegisterParts, RegisterTemplate};
use crate::security::{SecurityOffer, SecuritySetup};

/// Most 401 challenges answered in one registration attempt before giving up.
pub const MAX_CHALLENGES: u32 = 3;
/// Most AUTS resynchronisations in one registration attempt.
pub const MAX_RESYNCS: u32 = 1;
/// Most 423 retries in one registration attempt.
pub const MAX_INTERVAL_RETRIES: u32 = 2;

/// Local cause reported after a MAC failure (TS 33.102 §6.3.3).
const MAC_FAILURE: &str =
    "network authentication failed on the UE: AUTN MAC mismatch (wrong K/OP, or not the home network)";

/// When to refresh a registration or subscription that lasts `expires` seconds (TS 24.229
/// §5.1.1.4.1 / §5.1.1.3): 600 s before expiry if it lasts more than 1200 s, otherwise when half
/// the time has elapsed.
pub fn refresh_delay(expires: u32) -> Duration {
    let secs = if expires > 1200 {
        expires - 600
    } else {
        expires / 2
    };
    Duration::from_secs(u64::from(secs))
}

/// `now + d`, saturating at about a year from now instead of overflowing.
fn later(now: Instant, d: Duration) -> Instant {
    now.checked_add(d)
        .or_else(|| now.checked_add(Duration::from_secs(365 * 86_400)))
        .unwrap_or(now)
}

/// A Digest password (plain MD5), zeroized on drop, redacted in `Debug`.
#[derive(Clone)]
pub struct Password(Zeroizing<Vec<u8>>);

impl Password {
    /// Wraps password bytes.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Password(Zeroizing::new(bytes.into()))
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// How the UE answers challenges.
#[derive(Debug, Clone)]
pub enum Credentials {
    /// IMS-AKA with the simulated ISIM (AKAv1-MD5 / AKAv2-MD5).
    Aka(Box<Isim>),
    /// Plain Digest MD5 with a password (no sec-agree keys).
    Password(Password),
}

/// Configuration of one UE.
#[derive(Debug, Clone)]
pub struct UeConfig {
    /// Private user identity (Digest `username`).
    pub impi: String,
    /// Public user identity, a SIP URI (From/To, SUBSCRIBE Request-URI).
    pub impu: String,
    /// Home network domain (REGISTER Request-URI `sip:<domain>`, initial `realm`).
    pub home_domain: String,
    /// Local address put in Via/Contact (IP literal or host name).
    pub local_host: String,
    /// Local (unprotected) port.
    pub local_port: u16,
    /// Via transport token: `UDP`, `TCP` or `TLS`.
    pub transport: String,
    /// P-CSCF host and port, added as a loose Route when set (the protected port replaces the
    /// port once IPsec is in use).
    pub pcscf: Option<(String, u16)>,
    /// Registration expiry asked for (seconds).
    pub expires: u32,
    /// `+sip.instance` value (e.g. `<urn:gsma:imei:35910506-000422-0>`), if any.
    pub instance_id: Option<String>,
    /// `reg-id` (RFC 5626), if any.
    pub reg_id: Option<u32>,
    /// Security mechanisms offered in Security-Client (empty = no sec-agree).
    pub security: SecurityOffer,
    /// Subscribe to the reg event after registering, with this Expires; `None` = don't.
    pub reg_event_expires: Option<u32>,
    /// User-Agent header value.
    pub user_agent: String,
}

impl UeConfig {
    /// A configuration with the defaults of the reference flow: UDP, Expires 600000, reg event
    /// subscription with Expires 600000, no sec-agree.
    pub fn new(
        impi: impl Into<String>,
        impu: impl Into<String>,
        home_domain: impl Into<String>,
        local_host: impl Into<String>,
        local_port: u16,
    ) -> Self {
        UeConfig {
            impi: impi.into(),
            impu: impu.into(),
            home_domain: home_domain.into(),
            local_host: local_host.into(),
            local_port,
            transport: "UDP".into(),
            pcscf: None,
            expires: 600_000,
            instance_id: None,
            reg_id: None,
            security: SecurityOffer::default(),
            reg_event_expires: Some(600_000),
            user_agent: concat!("imscore-ue/", env!("CARGO_PKG_VERSION")).into(),
        }
    }
}

/// Timers the machine arms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimerId {
    /// Refresh the registration (TS 24.229 §5.1.1.4).
    Reregister,
    /// Refresh the reg-event subscription.
    Resubscribe,
    /// Register again from scratch (after `probation` / `retry-after`).
    RetryRegister,
}

/// Inputs of the machine.
#[derive(Debug, Clone)]
pub enum Event {
    /// Begin the initial registration.
    Start,
    /// A response to one of the UE's requests.
    Response(Message),
    /// A request from the network (NOTIFY).
    Request(Message),
    /// A timer armed with [`Action::ArmTimer`] expired.
    TimerFired(TimerId),
    /// The transaction layer gave up on the UE's last request of this method (no response).
    Timeout(Method),
    /// De-register and stop (Ctrl-C).
    Stop,
}

/// Which flow a message goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Plain transport to the P-CSCF's unprotected port.
    Unprotected,
    /// The negotiated IPsec SAs / TLS connection (after [`Action::SetupSecurity`]).
    Protected,
}

/// Outputs of the machine, to execute in order.
#[derive(Debug, Clone)]
pub enum Action {
    /// Send a message.
    Send {
        /// The message.
        msg: Message,
        /// The flow to send it on.
        flow: Flow,
    },
    /// Arm (or re-arm) a timer.
    ArmTimer {
        /// Which timer.
        id: TimerId,
        /// When it fires.
        at: Instant,
    },
    /// Cancel a timer.
    CancelTimer(TimerId),
    /// Set up the protected flow (IPsec SAs or TLS) before sending the next [`Flow::Protected`]
    /// message.
    SetupSecurity(Box<SecuritySetup>),
    /// Tear the protected flow down.
    ReleaseSecurity,
    /// The ISIM's SQN state changed: persist it (see [`crate::isim::save_state`]).
    SaveSqnState(UeSqnState),
    /// Registration (or re-registration) succeeded.
    Registered {
        /// Seconds granted.
        expires: u32,
        /// Service-Route of the 200 OK.
        service_route: Vec<NameAddr>,
        /// P-Associated-URI of the 200 OK.
        associated_uris: Vec<NameAddr>,
    },
    /// The UE gave up; it stays off.
    Failed {
        /// Why, e.g. `403 from S-CSCF: Authentication Failed`.
        reason: String,
    },
    /// De-registered (after Stop, or by the network).
    Deregistered,
}

/// Where the machine is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Not started.
    Idle,
    /// A REGISTER is outstanding (initial or after a challenge).
    Registering,
    /// Registered.
    Registered,
    /// De-registration sent.
    Deregistering,
    /// Done (failed, rejected, or de-registered).
    Off,
}

#[derive(Clone)]
struct AuthCtx {
    username: String,
    realm: String,
    nonce: String,
    uri: String,
    algorithm: Algorithm,
    opaque: Option<String>,
    qop: bool,
    ha1: Ha1,
    nc: u32,
    /// The fixed parts of the Authorization value for the pre-serialised REGISTER.
    wire: Option<AuthWire>,
}

/// What kind of Authorization header a REGISTER carries.
enum AuthLine {
    /// `nonce="", response=""` (TS 24.229 §5.1.1.2.1).
    Initial,
    /// A computed response from the cached context.
    Computed,
    /// Resynchronisation: AUTS, response with an empty password (RFC 3310 §3.4).
    Auts { ctx: AuthCtx, auts: String },
    /// Challenge refused (MAC failure): nonce echoed, empty response (TS 24.229 §5.1.1.5.1).
    Refused { ctx: AuthCtx },
}

#[derive(Clone)]
struct Subscription {
    call_id: String,
    from_tag: String,
    to_tag: Option<String>,
    cseq: u32,
    pending: Option<u32>,
    last_version: Option<u32>,
}

/// The UE registration machine. A clone continues independently with the same state (the load
/// generator clones a validated, not yet started UE instead of building each one: the next
/// [`Event::Start`] draws a fresh Call-ID and From tag).
#[derive(Clone)]
pub struct Ue {
    cfg: UeConfig,
    /// The user part of the IMPU (Contact user), parsed once.
    impu_user: Option<sip::Text>,
    creds: Credentials,
    phase: Phase,
    call_id: String,
    from_tag: String,
    cseq: u32,
    pending: Option<(u32, u32)>,
    /// A stop arrived while a REGISTER was in flight: the de-REGISTER waits for its final
    /// response (RFC 3261 §10.2: no new REGISTER before the previous one is answered or timed out).
    stop_deferred: bool,
    expires_asked: u32,
    auth: Option<AuthCtx>,
    challenges: u32,
    resyncs: u32,
    interval_retries: u32,
    server_list: Vec<SecurityMechanism>,
    chosen: Option<SecurityMechanism>,
    protected: bool,
    /// The IPsec offer whose SAs carry the protected flow (TS 33.203 §7.4: a re-registration
    /// offers new SPIs/port-c; they replace these only if the network challenges it).
    in_use: Option<crate::security::IpsecOffer>,
    expires: u32,
    service_route: Vec<NameAddr>,
    associated_uris: Vec<NameAddr>,
    sub: Option<Subscription>,
    refused: bool,
    /// The pre-serialised REGISTER (unprotected flow without sec-agree), shared by clones.
    wire: Option<Arc<RegisterTemplate>>,
}

impl fmt::Debug for Ue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ue")
            .field("impi", &self.cfg.impi)
            .field("phase", &self.phase)
            .field("call_id", &self.call_id)
            .field("cseq", &self.cseq)
            .finish_non_exhaustive()
    }
}

/// The `Allow` value of the UE's REGISTER.
const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, NOTIFY, UPDATE, PRACK, MESSAGE, OPTIONS";

/// Eight random bytes in lower-case hex, without allocating (Via branch, cnonce).
#[derive(Clone, Copy)]
struct Hex16([u8; 16]);

impl Hex16 {
    fn random() -> Self {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let r = rand::random::<u64>().to_le_bytes();
        let mut h = [0u8; 16];
        for (i, b) in r.iter().enumerate() {
            h[2 * i] = HEX[usize::from(b >> 4)];
            h[2 * i + 1] = HEX[usize::from(b & 15)];
        }
        Hex16(h)
    }
    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("0000000000000000")
    }
}

/// `bytes` random bytes in lower-case hex (at most 16 bytes: one random u128, one allocation).
fn rand_hex(bytes: usize) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let r = rand::random::<u128>().to_le_bytes();
    let mut s = String::with_capacity(bytes * 2);
    for b in r.iter().take(bytes.min(16)) {
        s.push(HEX[usize::from(b >> 4)] as char);
        s.push(HEX[usize::from(b & 15)] as char);
    }
    s
}

fn host_of(s: &str) -> Host {
    Host::parse(s).unwrap_or_else(|_| Host::Domain(s.into()))
}

fn failure_reason(msg: &Message) -> String {
    let code = msg.status().unwrap_or(0);
    let phrase = msg.reason().map(|r| r.to_string()).unwrap_or_default();
    let who = msg
        .server()
        .map(|s| s.to_string())
        .or_else(|| {
            // Warning: 399 scscf.example.net "text" (RFC 3261 §20.43): the agent
            msg.header_value("Warning")
                .and_then(|w| w.split_whitespace().nth(1).map(|a| a.to_string()))
        })
        .unwrap_or_else(|| "registrar".into());
    let mut r = format!("{code} from {who}: {phrase}");
    if let Some(w) = msg.header_value("Warning") {
        if let (Some(a), Some(b)) = (w.find('"'), w.rfind('"')) {
            if b > a + 1 {
                if let Some(t) = w.get(a + 1..b) {
                    r.push_str(&format!(" ({t})"));
                }
            }
        }
    }
    r
}

impl Ue {
    /// A UE. Fails if the configuration cannot produce valid SIP (checked by building the initial
    /// REGISTER once) or if a password is combined with sec-agree (no CK/IK to key the SAs).
    pub fn new(cfg: UeConfig, creds: Credentials) -> Result<Self> {
        if matches!(creds, Credentials::Password(_)) && !cfg.security.is_empty() {
            return Err(UeError::Config(
                "security agreement needs IMS-AKA keys; a password cannot key IPsec/TLS binding"
                    .into(),
            ));
        }
        let impu_user = match Uri::parse(&cfg.impu).map_err(UeError::Sip)? {
            Uri::Sip(u) => u.user,
            _ => None,
        };
        let mut ue = Ue {
            impu_user,
            expires_asked: cfg.expires,
            cfg,
            creds,
            phase: Phase::Idle,
            call_id: String::new(),
            from_tag: String::new(),
            cseq: 0,
            pending: None,
            stop_deferred: false,
            auth: None,
            challenges: 0,
            resyncs: 0,
            interval_retries: 0,
            server_list: Vec::new(),
            chosen: None,
            protected: false,
            in_use: None,
            expires: 0,
            service_route: Vec::new(),
            associated_uris: Vec::new(),
            sub: None,
            refused: false,
            wire: None,
        };
        ue.new_registration();
        ue.build_register(AuthLine::Initial, ue.cfg.expires, Flow::Unprotected)?;
        ue.cseq = 0;
        ue.pending = None;
        ue.wire = ue.register_template().map(Arc::new);
        Ok(ue)
    }

    /// The fixed parts of this UE's REGISTER on the unprotected flow, rendered with the same
    /// header types as [`Ue::build_register`]; `None` with security agreement (the offer and
    /// the flow change during the registration) or if a part cannot be written verbatim.
    fn register_template(&self) -> Option<RegisterTemplate> {
        if !self.cfg.security.is_empty() || self.protected {
            return None;
        }
        let via = self
            .via_with_branch(Flow::Unprotected, "z9hG4bK")
            .to_string();
        if !via.ends_with(";branch=z9hG4bK") {
            return None;
        }
        let route = self.pcscf_route(Flow::Unprotected);
        RegisterTemplate::new(&RegisterParts {
            request_uri: &format!("sip:{}", self.cfg.home_domain),
            via_head: &via,
            route: route.as_deref(),
            impu: &self.cfg.impu,
            contact: &self.contact(None).to_string(),
            contact_dereg: &self.contact(Some(0)).to_string(),
            initial_auth: &self.initial_authorization().to_string(),
            allow: ALLOW,
            user_agent: &self.cfg.user_agent,
        })
    }

    /// Current phase.
    pub fn phase(&self) -> Phase {
        self.phase
    }
    /// Registration Call-ID.
    pub fn call_id(&self) -> &str {
        &self.call_id
    }
    /// Seconds granted by the last 200 OK.
    pub fn expires(&self) -> u32 {
        self.expires
    }
    /// Service-Route of the last 200 OK.
    pub fn service_route(&self) -> &[NameAddr] {
        &self.service_route
    }
    /// P-Associated-URI of the last 200 OK.
    pub fn associated_uris(&self) -> &[NameAddr] {
        &self.associated_uris
    }
    /// The Security-Server list received (sent back as Security-Verify).
    pub fn security_verify(&self) -> &[SecurityMechanism] {
        &self.server_list
    }
    /// What the UE offers in Security-Client now.
    pub fn security_offer(&self) -> &SecurityOffer {
        &self.cfg.security
    }

    /// True when the protected flow is IPsec (ipsec-3gpp was negotiated).
    pub fn ipsec_in_use(&self) -> bool {
        self.protected && self.in_use.is_some()
    }

    /// Replaces the offered SPIs and protected client port before a re-registration
    /// (TS 33.203 §7.4: new spi-c, spi-s and port-c; port-s stays). The next REGISTER carries the
    /// new offer in Security-Client over the SAs in use; if the network challenges it, the new
    /// SAs are set up from it ([`Action::SetupSecurity`]), otherwise the 2xx puts the offer in
    /// use back ([`Ue::security_offer`] tells which). Returns the replaced offer; `None` (nothing
    /// changed) when no IPsec is offered.
    pub fn renew_ipsec_offer(
        &mut self,
        spi_c: u32,
        spi_s: u32,
        port_c: u16,
    ) -> Option<crate::security::IpsecOffer> {
        let o = self.cfg.security.ipsec.as_mut()?;
        let old = o.clone();
        o.spi_c = spi_c;
        o.spi_s = spi_s;
        o.port_c = port_c;
        Some(old)
    }

    /// The ISIM, when AKA is used.
    pub fn isim(&self) -> Option<&Isim> {
        match &self.creds {
            Credentials::Aka(i) => Some(i),
            Credentials::Password(_) => None,
        }
    }
    /// True while a reg-event subscription is established.
    pub fn subscribed(&self) -> bool {
        self.sub.as_ref().is_some_and(|s| s.to_tag.is_some())
    }

    fn new_registration(&mut self) {
        self.call_id = format!("{}@{}", rand_hex(8), self.cfg.local_host);
        self.from_tag = rand_hex(6);
        self.cseq = 0;
        self.pending = None;
        self.auth = None;
        self.challenges = 0;
        self.resyncs = 0;
        self.interval_retries = 0;
        self.server_list.clear();
        self.chosen = None;
        self.protected = false;
        self.in_use = None;
        self.expires_asked = self.cfg.expires;
        self.refused = false;
    }

    fn contact_uri(&self, protected: bool) -> Uri {
        let port = match (
            &self.cfg.security.ipsec,
            protected || self.cfg.security.ipsec.is_some(),
        ) {
            (Some(o), true) => o.port_s,
            _ => self.cfg.local_port,
        };
        let mut u = SipUri::new(host_of(&self.cfg.local_host)).with_port(port);
        if let Some(user) = &self.impu_user {
            u = u.with_user(user.clone());
        }
        Uri::Sip(u)
    }

    fn contact(&self, expires: Option<u32>) -> NameAddr {
        let mut c = NameAddr::new(self.contact_uri(self.protected));
        if let Some(i) = &self.cfg.instance_id {
            c = c.with_param(Param::quoted("+sip.instance", i.as_str()));
        }
        if let Some(r) = self.cfg.reg_id {
            c = c.with_param(Param::token("reg-id", r.to_string()));
        }
        if let Some(e) = expires {
            c = c.with_param(Param::token("expires", e.to_string()));
        }
        c
    }

    fn flow(&self) -> Flow {
        if self.protected {
            Flow::Protected
        } else {
            Flow::Unprotected
        }
    }

    fn via(&self, flow: Flow, branch: &str) -> Via {
        self.via_with_branch(flow, &format!("z9hG4bK{branch}"))
    }

    fn via_with_branch(&self, flow: Flow, branch: &str) -> Via {
        let port = match (flow, &self.cfg.security.ipsec, &self.chosen) {
            (Flow::Protected, Some(o), Some(m))
                if m.mechanism.eq_ignore_ascii_case("ipsec-3gpp") =>
            {
                o.port_s
            }
            _ => self.cfg.local_port,
        };
        // TLS during registration (TS 33.203 Annex O): the protected flow is a TLS connection
        let tls = flow == Flow::Protected
            && self
                .chosen
                .as_ref()
                .is_some_and(|m| m.mechanism.eq_ignore_ascii_case("tls"));
        Via::new(
            if tls {
                "TLS"
            } else {
                self.cfg.transport.as_str()
            },
            host_of(&self.cfg.local_host),
            Some(port),
            branch,
        )
    }

    fn pcscf_route(&self, flow: Flow) -> Option<String> {
        let (host, port) = self.cfg.pcscf.as_ref()?;
        let port = match (flow, &self.chosen) {
            (Flow::Protected, Some(m)) if m.mechanism.eq_ignore_ascii_case("ipsec-3gpp") => {
                m.port_s().unwrap_or(*port)
            }
            _ => *port,
        };
        let u = SipUri::new(host_of(host))
            .with_port(port)
            .with_param(Param::flag("lr"));
        Some(format!("<{u}>"))
    }

    fn sec_agree_headers(&self, mut b: MessageBuilder, flow: Flow, client: bool) -> MessageBuilder {
        if self.cfg.security.is_empty() {
            return b;
        }
        b = b
            .header(HeaderName::Require, "sec-agree")
            .header(HeaderName::ProxyRequire, "sec-agree");
        if client {
            let list = self.cfg.security.mechanisms();
            b = b.header(HeaderName::SecurityClient, join(&list));
        }
        if flow == Flow::Protected && !self.server_list.is_empty() {
            b = b.header(HeaderName::SecurityVerify, join(&self.server_list));
        }
        b
    }

    fn digest_response(ctx: &AuthCtx, ha1: &Ha1, cnonce: &str) -> Result<String> {
        let nc = format!("{:08x}", ctx.nc);
        let input = DigestInput {
            nonce: &ctx.nonce,
            method: "REGISTER",
            uri: &ctx.uri,
            qop: ctx.qop.then_some(QopParams {
                qop: Qop::Auth,
                nc: &nc,
                cnonce,
            }),
            body: b"",
        };
        Ok(digest::response(ha1, &input)?)
    }

    /// `nonce="", response=""` (TS 24.229 §5.1.1.2.1).
    fn initial_authorization(&self) -> AuthHeader {
        AuthHeader::digest()
            .with_quoted("username", self.cfg.impi.as_str())
            .with_quoted("realm", self.cfg.home_domain.as_str())
            .with_quoted("uri", format!("sip:{}", self.cfg.home_domain))
            .with_quoted("nonce", "")
            .with_quoted("response", "")
    }

    fn authorization(&mut self, line: AuthLine, cnonce: &str) -> Result<AuthHeader> {
        let full = |ctx: &AuthCtx, response: String, cnonce: &str| {
            let mut h = AuthHeader::digest()
                .with_quoted("username", ctx.username.as_str())
                .with_quoted("realm", ctx.realm.as_str())
                .with_quoted("nonce", ctx.nonce.as_str())
                .with_quoted("uri", ctx.uri.as_str())
                .with_quoted("response", response)
                .with_token("algorithm", ctx.algorithm.name());
            if let Some(o) = &ctx.opaque {
                h = h.with_quoted("opaque", o.as_str());
            }
            if ctx.qop {
                h = h
                    .with_quoted("cnonce", cnonce)
                    .with_token("qop", "auth")
                    .with_token("nc", format!("{:08x}", ctx.nc));
            }
            h
        };
        Ok(match line {
            AuthLine::Initial => self.initial_authorization(),
            AuthLine::Computed => {
                let Some(ctx) = self.auth.as_mut() else {
                    return Ok(self.initial_authorization());
                };
                ctx.nc = ctx.nc.wrapping_add(1);
                let ctx = ctx.clone();
                let resp = Self::digest_response(&ctx, &ctx.ha1, cnonce)?;
                full(&ctx, resp, cnonce)
            }
            AuthLine::Auts { ctx, auts } => {
                // RFC 3310 §3.4: the response is computed with an empty password
                let ha1 = digest::ha1(&ctx.username, &ctx.realm, b"");
                let resp = Self::digest_response(&ctx, &ha1, cnonce)?;
                full(&ctx, resp, cnonce).with_quoted("auts", auts)
            }
            AuthLine::Refused { ctx } => AuthHeader::digest()
                .with_quoted("username", ctx.username.as_str())
                .with_quoted("realm", ctx.realm.as_str())
                .with_quoted("nonce", ctx.nonce.as_str())
                .with_quoted("uri", ctx.uri.as_str())
                .with_quoted("response", "")
                .with_token("algorithm", ctx.algorithm.name()),
        })
    }

    fn build_register(&mut self, line: AuthLine, expires: u32, flow: Flow) -> Result<Message> {
        let (branch, cnonce) = (Hex16::random(), Hex16::random());
        let fast = flow == Flow::Unprotected
            && !self.protected
            && match &line {
                AuthLine::Initial => true,
                AuthLine::Computed => self.auth.as_ref().is_none_or(|c| c.wire.is_some()),
                _ => false,
            };
        match self.wire.clone() {
            Some(t) if fast => {
                self.fast_register(&t, line, expires, branch.as_str(), cnonce.as_str())
            }
            _ => self.built_register(line, expires, flow, branch.as_str(), cnonce.as_str()),
        }
    }

    /// The REGISTER from the pre-serialised template: the same bytes as
    /// [`Ue::built_register`] with the same branch and cnonce (only for the unprotected flow
    /// without sec-agree, and an initial or computed Authorization).
    fn fast_register(
        &mut self,
        t: &RegisterTemplate,
        line: AuthLine,
        expires: u32,
        branch: &str,
        cnonce: &str,
    ) -> Result<Message> {
        let seq = self.cseq.wrapping_add(1);
        let mut out = String::with_capacity(t.capacity());
        match (line, self.auth.as_mut()) {
            (AuthLine::Computed, Some(ctx)) => {
                ctx.nc = ctx.nc.wrapping_add(1);
                let resp = Self::digest_response(ctx, &ctx.ha1, cnonce)?;
                let Some(aw) = ctx.wire.as_ref() else {
                    return Err(UeError::Config("no pre-serialised Authorization".into()));
                };
                let qop = ctx.qop.then_some((cnonce, ctx.nc));
                let write = |o: &mut String| aw.write(o, &resp, qop);
                t.write(
                    &mut out,
                    branch,
                    &self.from_tag,
                    &self.call_id,
                    seq,
                    expires,
                    Some(&write),
                );
            }
            _ => t.write(
                &mut out,
                branch,
                &self.from_tag,
                &self.call_id,
                seq,
                expires,
                None,
            ),
        }
        let msg = Message::parse(bytes::Bytes::from(out.into_bytes()))?;
        self.cseq = seq;
        self.pending = Some((seq, expires));
        Ok(msg)
    }

    /// The REGISTER through the [`MessageBuilder`].
    fn built_register(
        &mut self,
        line: AuthLine,
        expires: u32,
        flow: Flow,
        branch: &str,
        cnonce: &str,
    ) -> Result<Message> {
        let seq = self.cseq.wrapping_add(1);
        let auth = self.authorization(line, cnonce)?;
        let mut b =
            MessageBuilder::request(Method::Register, format!("sip:{}", self.cfg.home_domain))
                .header(HeaderName::Via, self.via(flow, branch))
                .header(HeaderName::MaxForwards, 70);
        if let Some(r) = self.pcscf_route(flow) {
            b = b.header(HeaderName::Route, r);
        }
        b = b
            .header(
                HeaderName::From,
                format!("<{}>;tag={}", self.cfg.impu, self.from_tag),
            )
            .header(HeaderName::To, format!("<{}>", self.cfg.impu))
            .header(HeaderName::CallId, &self.call_id)
            .header(HeaderName::CSeq, format!("{seq} REGISTER"))
            .header(
                HeaderName::Contact,
                self.contact((expires == 0).then_some(0)),
            )
            .header(HeaderName::Expires, expires)
            .header(HeaderName::Supported, "path, sec-agree");
        b = self.sec_agree_headers(b, flow, true);
        let msg = b
            .header(HeaderName::Authorization, auth)
            .header("Allow", ALLOW)
            .header(HeaderName::UserAgent, &self.cfg.user_agent)
            .build()?;
        self.cseq = seq;
        self.pending = Some((seq, expires));
        Ok(msg)
    }

    fn send_register(&mut self, line: AuthLine, expires: u32, out: &mut Vec<Action>) -> bool {
        let flow = self.flow();
        match self.build_register(line, expires, flow) {
            Ok(msg) => {
                out.push(Action::Send { msg, flow });
                true
            }
            Err(e) => {
                self.fail(format!("cannot build REGISTER: {e}"), out);
                false
            }
        }
    }

    fn fail(&mut self, reason: String, out: &mut Vec<Action>) {
        self.phase = Phase::Off;
        self.pending = None;
        out.push(Action::CancelTimer(TimerId::Reregister));
        out.push(Action::CancelTimer(TimerId::Resubscribe));
        if self.protected {
            self.protected = false;
            out.push(Action::ReleaseSecurity);
        }
        self.sub = None;
        out.push(Action::Failed { reason });
    }

    /// Feeds one event; returns the actions to execute in order.
    pub fn handle(&mut self, event: Event, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        match event {
            Event::Start => {
                if matches!(self.phase, Phase::Idle | Phase::Off) {
                    self.initial_register(&mut out);
                }
            }
            Event::Stop => self.stop(&mut out),
            Event::Response(msg) => self.on_response(&msg, now, &mut out),
            Event::Request(msg) => self.on_request(&msg, now, &mut out),
            Event::TimerFired(id) => self.on_timer(id, now, &mut out),
            Event::Timeout(method) => match method {
                Method::Register if self.pending.is_some() => {
                    if self.phase == Phase::Deregistering {
                        self.phase = Phase::Off;
                        self.pending = None;
                        out.push(Action::Deregistered);
                    } else if self.refused {
                        self.fail(
                            format!("timeout: no response to REGISTER; {MAC_FAILURE}"),
                            &mut out,
                        );
                    } else {
                        self.fail("timeout: no response to REGISTER".into(), &mut out);
                    }
                }
                Method::Subscribe => {
                    if let Some(s) = &mut self.sub {
                        s.pending = None;
                    }
                }
                _ => {}
            },
        }
        if self.stop_deferred && self.pending.is_none() {
            self.stop_deferred = false;
            // a REGISTER that ended in failure has already ended the UE (Action::Failed)
            if self.phase != Phase::Off {
                self.stop(&mut out);
            }
        }
        out
    }

    fn initial_register(&mut self, out: &mut Vec<Action>) {
        if self.protected {
            out.push(Action::ReleaseSecurity);
        }
        self.new_registration();
        self.sub = None;
        self.phase = Phase::Registering;
        self.send_register(AuthLine::Initial, self.cfg.expires, out);
    }

    fn stop(&mut self, out: &mut Vec<Action>) {
        out.push(Action::CancelTimer(TimerId::Reregister));
        out.push(Action::CancelTimer(TimerId::Resubscribe));
        out.push(Action::CancelTimer(TimerId::RetryRegister));
        match self.phase {
            // a registration or refresh is in flight: de-register once it is answered
            Phase::Registering if self.pending.is_some() => self.stop_deferred = true,
            Phase::Registered | Phase::Registering => {
                self.phase = Phase::Deregistering;
                let line = if self.auth.is_some() {
                    AuthLine::Computed
                } else {
                    AuthLine::Initial
                };
                self.send_register(line, 0, out);
            }
            Phase::Deregistering => {}
            Phase::Idle | Phase::Off => {
                self.phase = Phase::Off;
                out.push(Action::Deregistered);
            }
        }
    }

    fn on_timer(&mut self, id: TimerId, now: Instant, out: &mut Vec<Action>) {
        match id {
            TimerId::Reregister if self.phase == Phase::Registered => {
                self.phase = Phase::Registering;
                self.challenges = 0;
                self.resyncs = 0;
                self.interval_retries = 0;
                self.send_register(AuthLine::Computed, self.expires_asked, out);
            }
            TimerId::Resubscribe if self.phase == Phase::Registered => {
                self.send_subscribe(now, out);
            }
            TimerId::RetryRegister if matches!(self.phase, Phase::Idle | Phase::Off) => {
                self.initial_register(out);
            }
            _ => {}
        }
    }

    fn on_response(&mut self, msg: &Message, now: Instant, out: &mut Vec<Action>) {
        let (Ok(cseq), Ok(call_id)) = (msg.cseq(), msg.call_id()) else {
            return;
        };
        let Some(code) = msg.status() else { return };
        if code < 200 {
            return;
        }
        match cseq.method {
            Method::Register if *call_id == *self.call_id => {
                if self.pending.map(|p| p.0) != Some(cseq.seq) {
                    return; // stale or duplicate
                }
                self.on_register_response(msg, code, now, out);
            }
            Method::Subscribe => {
                self.on_subscribe_response(msg, &call_id, cseq.seq, code, now, out)
            }
            _ => {}
        }
    }

    fn on_register_response(
        &mut self,
        msg: &Message,
        code: u16,
        now: Instant,
        out: &mut Vec<Action>,
    ) {
        let Some((_, asked)) = self.pending.take() else {
            return;
        };
        if self.phase == Phase::Deregistering {
            if code == 401 && self.challenges < MAX_CHALLENGES {
                // the de-registration itself was challenged (TS 24.229 §5.1.1.6)
                self.pending = Some((self.cseq, asked));
                self.on_challenge(msg, 0, out);
                return;
            }
            self.phase = Phase::Off;
            out.push(Action::CancelTimer(TimerId::Reregister));
            out.push(Action::CancelTimer(TimerId::Resubscribe));
            if self.protected {
                self.protected = false;
                out.push(Action::ReleaseSecurity);
            }
            self.sub = None;
            out.push(Action::Deregistered);
            return;
        }
        if self.refused {
            let reason = format!("{}; {MAC_FAILURE}", failure_reason(msg));
            return self.fail(reason, out);
        }
        match code {
            200..=299 => self.on_registered(msg, asked, now, out),
            401 => self.on_challenge(msg, asked, out),
            423 => {
                let min = msg.min_expires().ok().flatten();
                match min {
                    Some(m) if m > asked && self.interval_retries < MAX_INTERVAL_RETRIES => {
                        self.interval_retries += 1;
                        self.expires_asked = m;
                        let line = if self.auth.is_some() {
                            AuthLine::Computed
                        } else {
                            AuthLine::Initial
                        };
                        self.send_register(line, m, out);
                    }
                    _ => self.fail(failure_reason(msg), out),
                }
            }
            _ => self.fail(failure_reason(msg), out),
        }
    }

    fn on_registered(&mut self, msg: &Message, asked: u32, now: Instant, out: &mut Vec<Action>) {
        let mine = self.contact_uri(self.protected);
        let from_contact = msg.contacts().ok().and_then(|cs| {
            cs.iter().find_map(|c| match c {
                Contact::Addr(a) if a.uri.equivalent(&mine) => a.expires(),
                _ => None,
            })
        });
        let expires = from_contact
            .or_else(|| msg.expires().ok().flatten())
            .unwrap_or(asked);
        if expires == 0 {
            self.fail(
                format!(
                    "{} from registrar: registration granted for 0 seconds",
                    msg.status().unwrap_or(200)
                ),
                out,
            );
            return;
        }
        self.expires = expires;
        // a re-registration that was not challenged keeps the SAs in use (TS 33.203 §7.4): the
        // new offer is dropped
        if self.in_use.is_some() && self.in_use != self.cfg.security.ipsec {
            self.cfg.security.ipsec = self.in_use.clone();
        }
        self.service_route = msg.service_route().unwrap_or_default();
        self.associated_uris = msg.p_associated_uri().unwrap_or_default();
        self.challenges = 0;
        self.resyncs = 0;
        self.interval_retries = 0;
        self.phase = Phase::Registered;
        out.push(Action::ArmTimer {
            id: TimerId::Reregister,
            at: later(now, refresh_delay(expires)),
        });
        out.push(Action::Registered {
            expires,
            service_route: self.service_route.clone(),
            associated_uris: self.associated_uris.clone(),
        });
        if self.cfg.reg_event_expires.is_some() && self.sub.is_none() {
            self.send_subscribe(now, out);
        }
    }

    fn on_challenge(&mut self, msg: &Message, asked: u32, out: &mut Vec<Action>) {
        self.challenges += 1;
        if self.challenges > MAX_CHALLENGES {
            self.fail(
                format!(
                    "{} (credentials rejected {MAX_CHALLENGES} times)",
                    failure_reason(msg)
                ),
                out,
            );
            return;
        }
        let ch = match msg.www_authenticate() {
            Ok(Some(c)) if c.scheme.eq_ignore_ascii_case("Digest") => c,
            Ok(_) => return self.fail("401 without a Digest WWW-Authenticate".into(), out),
            Err(e) => return self.fail(format!("401 with a malformed WWW-Authenticate: {e}"), out),
        };
        let alg_name = ch.algorithm().unwrap_or("MD5");
        let Some(algorithm) = Algorithm::from_name(alg_name) else {
            return self.fail(
                format!("401 asks for unsupported algorithm {alg_name}"),
                out,
            );
        };
        let (Some(realm), Some(nonce)) = (ch.realm(), ch.nonce()) else {
            return self.fail("401 challenge without realm or nonce".into(), out);
        };
        let qop = match ch.qop() {
            None => false,
            Some(q) if q.split(',').any(|x| x.trim().eq_ignore_ascii_case("auth")) => true,
            Some(q) => return self.fail(format!("401 offers only qop {q}; auth is required"), out),
        };
        let server_list = match msg.security_server() {
            Ok(l) => l,
            Err(e) => return self.fail(format!("401 with a malformed Security-Server: {e}"), out),
        };
        let mut ctx = AuthCtx {
            username: self.cfg.impi.clone(),
            realm: realm.to_string(),
            nonce: nonce.to_string(),
            uri: format!("sip:{}", self.cfg.home_domain),
            algorithm,
            opaque: ch.opaque().map(|s| s.to_string()),
            qop,
            ha1: Ha1::from_bytes([0; 16]),
            nc: 0,
            wire: None,
        };
        if self.wire.is_some() {
            ctx.wire = AuthWire::new(
                &ctx.username,
                &ctx.realm,
                &ctx.nonce,
                &ctx.uri,
                ctx.algorithm.name(),
                ctx.opaque.as_deref(),
            );
        }
        let mut keys = None;
        match (&mut self.creds, algorithm) {
            (Credentials::Password(pw), Algorithm::Md5) => {
                ctx.ha1 = digest::ha1(&ctx.username, &ctx.realm, &pw.0);
            }
            (Credentials::Password(_), _) => {
                return self.fail(
                    format!("401 asks for {alg_name} but only a password is configured"),
                    out,
                )
            }
            (Credentials::Aka(_), Algorithm::Md5) => {
                return self.fail(
                    "401 asks for MD5 but only ISIM keys are configured".into(),
                    out,
                )
            }
            (Credentials::Aka(isim), _) => {
                let n = match AkaNonce::decode(nonce) {
                    Ok(n) => n,
                    Err(e) => return self.fail(format!("401 with a bad AKA nonce: {e}"), out),
                };
                match isim.authenticate(&n.rand, &n.autn) {
                    Err(e) => return self.fail(format!("ISIM error: {e}"), out),
                    Ok(UsimOutcome::MacFailure) => {
                        // TS 24.229 §5.1.1.5.1: tell the S-CSCF the challenge was invalid, then stop
                        // and report the S-CSCF's answer (or the timeout) with the local cause
                        self.refused = true;
                        self.send_register(AuthLine::Refused { ctx }, asked, out);
                        return;
                    }
                    Ok(UsimOutcome::SyncFailure { auts, .. }) => {
                        self.resyncs += 1;
                        if self.resyncs > MAX_RESYNCS {
                            return self.fail(
                                "SQN resynchronisation failed: still out of range after AUTS"
                                    .into(),
                                out,
                            );
                        }
                        // one challenge allowed for the fresh vector that follows
                        self.challenges = self.challenges.saturating_sub(1);
                        self.send_register(
                            AuthLine::Auts {
                                ctx,
                                auts: auts.to_base64(),
                            },
                            asked,
                            out,
                        );
                        return;
                    }
                    Ok(UsimOutcome::Success { res, ck, ik, .. }) => {
                        out.push(Action::SaveSqnState(isim.state().clone()));
                        ctx.ha1 = match algorithm {
                            Algorithm::AkaV2Md5 => {
                                digest::ha1_akav2(&ctx.username, &ctx.realm, &res, &ik, &ck)
                            }
                            _ => digest::ha1_akav1(&ctx.username, &ctx.realm, &res),
                        };
                        keys = Some((ck, ik));
                    }
                }
            }
        }
        // RFC 3329 §2.3.1 / TS 33.203 §7.2: pick from Security-Server, set up, verify
        if !self.cfg.security.is_empty() && !server_list.is_empty() {
            let Some(chosen) = self.cfg.security.choose(&server_list).cloned() else {
                return self.fail(
                    "401 Security-Server offers no mechanism this UE supports".into(),
                    out,
                );
            };
            let Some((ck, ik)) = keys else {
                return self.fail("security agreement needs AKA keys".into(), out);
            };
            let Some(setup) = SecuritySetup::new(&self.cfg.security, &chosen, ck, ik) else {
                return self.fail(
                    "chosen Security-Server entry lacks SPIs or ports".into(),
                    out,
                );
            };
            self.in_use = match setup.negotiated {
                crate::security::Negotiated::Ipsec { .. } => self.cfg.security.ipsec.clone(),
                crate::security::Negotiated::Tls => None,
            };
            out.push(Action::SetupSecurity(Box::new(setup)));
            self.server_list = server_list;
            self.chosen = Some(chosen);
            self.protected = true;
        }
        self.auth = Some(ctx);
        self.send_register(AuthLine::Computed, asked, out);
        if self.phase == Phase::Deregistering {
            return;
        }
        self.phase = Phase::Registering;
    }

    fn sub_route(&self, flow: Flow) -> Vec<String> {
        let mut r: Vec<String> = self.pcscf_route(flow).into_iter().collect();
        r.extend(self.service_route.iter().map(|n| n.to_string()));
        r
    }

    fn send_subscribe(&mut self, _now: Instant, out: &mut Vec<Action>) {
        let Some(expires) = self.cfg.reg_event_expires else {
            return;
        };
        let flow = self.flow();
        let sub = self.sub.get_or_insert_with(|| Subscription {
            call_id: format!("{}@{}", rand_hex(8), self.cfg.local_host),
            from_tag: rand_hex(6),
            to_tag: None,
            cseq: 0,
            pending: None,
            last_version: None,
        });
        sub.cseq = sub.cseq.wrapping_add(1);
        sub.pending = Some(sub.cseq);
        let (call_id, from_tag, to_tag, seq) = (
            sub.call_id.clone(),
            sub.from_tag.clone(),
            sub.to_tag.clone(),
            sub.cseq,
        );
        let to = match to_tag {
            Some(t) => format!("<{}>;tag={t}", self.cfg.impu),
            None => format!("<{}>", self.cfg.impu),
        };
        let mut b = MessageBuilder::request(Method::Subscribe, &self.cfg.impu)
            .header(HeaderName::Via, self.via(flow, &rand_hex(8)))
            .header(HeaderName::MaxForwards, 70)
            .headers(HeaderName::Route, self.sub_route(flow))
            .header(
                HeaderName::From,
                format!("<{}>;tag={from_tag}", self.cfg.impu),
            )
            .header(HeaderName::To, to)
            .header(HeaderName::CallId, call_id)
            .header(HeaderName::CSeq, format!("{seq} SUBSCRIBE"))
            .header(HeaderName::Event, "reg")
            .header("Accept", "application/reginfo+xml")
            .header(HeaderName::Expires, expires)
            .header(HeaderName::Contact, self.contact(None));
        b = self.sec_agree_headers(b, flow, false);
        match b
            .header(HeaderName::UserAgent, &self.cfg.user_agent)
            .build()
        {
            Ok(msg) => out.push(Action::Send { msg, flow }),
            Err(e) => self.fail(format!("cannot build SUBSCRIBE: {e}"), out),
        }
    }

    fn on_subscribe_response(
        &mut self,
        msg: &Message,
        call_id: &str,
        seq: u32,
        code: u16,
        now: Instant,
        out: &mut Vec<Action>,
    ) {
        let Some(sub) = self.sub.as_mut() else { return };
        if sub.call_id != call_id || sub.pending != Some(seq) {
            return;
        }
        sub.pending = None;
        if (200..300).contains(&code) {
            if sub.to_tag.is_none() {
                sub.to_tag = msg.to().ok().and_then(|t| t.tag().map(|s| s.to_string()));
            }
            let granted = msg
                .expires()
                .ok()
                .flatten()
                .or(self.cfg.reg_event_expires)
                .unwrap_or(0);
            if granted > 0 {
                out.push(Action::ArmTimer {
                    id: TimerId::Resubscribe,
                    at: later(now, refresh_delay(granted)),
                });
            }
        } else {
            // subscription refused: registration stands, no reg event
            self.sub = None;
        }
    }

    fn respond(&self, req: &Message, code: u16, reason: &str, out: &mut Vec<Action>) {
        if let Ok(msg) = MessageBuilder::response_to(req, code, reason, None).build() {
            out.push(Action::Send {
                msg,
                flow: self.flow(),
            });
        }
    }

    fn on_request(&mut self, req: &Message, now: Instant, out: &mut Vec<Action>) {
        if req.method() != Some(Method::Notify) {
            if req.method() != Some(Method::Ack) {
                self.respond(req, 405, "Method Not Allowed", out);
            }
            return;
        }
        let ours = match (&self.sub, req.call_id()) {
            (Some(s), Ok(cid)) => *cid == *s.call_id,
            _ => false,
        };
        let is_reg = req
            .event()
            .ok()
            .flatten()
            .is_some_and(|e| e.package.eq_ignore_ascii_case("reg"));
        if !ours || !is_reg {
            self.respond(req, 481, "Subscription Does Not Exist", out);
            return;
        }
        let terminated = req
            .subscription_state()
            .ok()
            .flatten()
            .is_some_and(|s| s.state.eq_ignore_ascii_case("terminated"));
        let body = req.body();
        let info = if body.is_empty() {
            None
        } else {
            let ct_ok = req.content_type().ok().flatten().is_some_and(|ct| {
                ct.mtype.eq_ignore_ascii_case("application")
                    && ct.subtype.eq_ignore_ascii_case("reginfo+xml")
            });
            if !ct_ok {
                self.respond(req, 415, "Unsupported Media Type", out);
                return;
            }
            match reginfo::parse(&body) {
                Ok(i) => Some(i),
                Err(_) => {
                    self.respond(req, 400, "Bad Request", out);
                    return;
                }
            }
        };
        if let (Some(s), Ok(to)) = (self.sub.as_mut(), req.from()) {
            // the NOTIFY's From tag is the dialog's remote tag
            if s.to_tag.is_none() {
                s.to_tag = to.tag().map(|t| t.to_string());
            }
        }
        self.respond(req, 200, "OK", out);
        if terminated {
            self.sub = None;
            out.push(Action::CancelTimer(TimerId::Resubscribe));
        }
        let Some(info) = info else { return };
        if let Some(s) = self.sub.as_mut() {
            if info.state == DocState::Partial && s.last_version.is_some_and(|v| info.version <= v)
            {
                return; // RFC 3680 §5.3: stale partial document
            }
            s.last_version = Some(info.version);
        }
        self.react(&info, now, out);
    }

    /// TS 24.229 §5.1.1.3 / RFC 3680: act on our contact's state in a reginfo document.
    fn react(&mut self, info: &reginfo::Reginfo, now: Instant, out: &mut Vec<Action>) {
        let impu = Uri::parse(&self.cfg.impu).ok();
        let mine = self.contact_uri(self.protected);
        let mut worst: Option<(ContactEvent, Option<u32>, Option<u32>)> = None;
        let rank = |e: ContactEvent| match e {
            ContactEvent::Rejected => 5,
            ContactEvent::Deactivated | ContactEvent::Expired => 4,
            ContactEvent::Probation => 3,
            ContactEvent::Unregistered => 2,
            ContactEvent::Shortened => 1,
            _ => 0,
        };
        for reg in &info.registrations {
            let aor_match = match (&impu, Uri::parse(&reg.aor)) {
                (Some(a), Ok(b)) => a.equivalent(&b),
                _ => reg.aor == self.cfg.impu,
            };
            if !aor_match {
                continue;
            }
            let mut found = false;
            for c in &reg.contacts {
                let is_mine = Uri::parse(&c.uri).is_ok_and(|u| u.equivalent(&mine));
                if !is_mine {
                    continue;
                }
                found = true;
                let relevant = match c.state {
                    ContactState::Terminated => true,
                    ContactState::Active => c.event == ContactEvent::Shortened,
                };
                if relevant && worst.is_none_or(|w| rank(c.event) > rank(w.0)) {
                    worst = Some((c.event, c.expires, c.retry_after));
                }
            }
            if !found && reg.state == RegState::Terminated && info.state == DocState::Full {
                // our contact is gone from a full document: treat as deactivated
                if worst.is_none_or(|w| rank(ContactEvent::Deactivated) > rank(w.0)) {
                    worst = Some((ContactEvent::Deactivated, None, None));
                }
            }
        }
        let Some((event, expires, retry_after)) = worst else {
            return;
        };
        match event {
            ContactEvent::Rejected => self.fail(
                "registration rejected by the network (reg event: rejected)".into(),
                out,
            ),
            ContactEvent::Deactivated | ContactEvent::Expired => {
                out.push(Action::CancelTimer(TimerId::Reregister));
                out.push(Action::CancelTimer(TimerId::Resubscribe));
                self.initial_register(out);
            }
            ContactEvent::Probation => {
                out.push(Action::CancelTimer(TimerId::Reregister));
                out.push(Action::CancelTimer(TimerId::Resubscribe));
                if self.protected {
                    self.protected = false;
                    out.push(Action::ReleaseSecurity);
                }
                self.sub = None;
                self.phase = Phase::Idle;
                out.push(Action::ArmTimer {
                    id: TimerId::RetryRegister,
                    at: later(
                        now,
                        Duration::from_secs(u64::from(retry_after.unwrap_or(0))),
                    ),
                });
            }
            ContactEvent::Unregistered => {
                out.push(Action::CancelTimer(TimerId::Reregister));
                out.push(Action::CancelTimer(TimerId::Resubscribe));
                if self.protected {
                    self.protected = false;
                    out.push(Action::ReleaseSecurity);
                }
                self.sub = None;
                self.phase = Phase::Off;
                out.push(Action::Deregistered);
            }
            ContactEvent::Shortened => {
                if let Some(e) = expires.filter(|e| *e > 0 && self.phase == Phase::Registered) {
                    self.expires = e;
                    out.push(Action::ArmTimer {
                        id: TimerId::Reregister,
                        at: later(now, refresh_delay(e)),
                    });
                }
            }
            _ => {}
        }
    }
}

fn join(list: &[SecurityMechanism]) -> String {
    list.iter()
        .map(|m| m.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_delay_follows_ts_24_229() {
        assert_eq!(refresh_delay(3600), Duration::from_secs(3000));
        assert_eq!(refresh_delay(600_000), Duration::from_secs(599_400));
        assert_eq!(refresh_delay(1201), Duration::from_secs(601));
        assert_eq!(refresh_delay(1200), Duration::from_secs(600));
        assert_eq!(refresh_delay(600), Duration::from_secs(300));
        assert_eq!(refresh_delay(1), Duration::from_secs(0));
    }

    fn wire_ue() -> Ue {
        let mut cfg = UeConfig::new(
            "alice@ims.test",
            "sip:alice@ims.test",
            "ims.test",
            "192.0.2.7",
            5062,
        );
        cfg.pcscf = Some(("192.0.2.1".into(), 5060));
        cfg.instance_id = Some("<urn:gsma:imei:35910506-000422-0>".into());
        cfg.reg_id = Some(1);
        cfg.reg_event_expires = None;
        let ue = Ue::new(cfg, Credentials::Password(Password::new("secret"))).unwrap();
        assert!(
            ue.wire.is_some(),
            "no pre-serialised REGISTER for a plain UDP UE"
        );
        ue
    }

    fn sent(actions: &[Action]) -> Message {
        actions
            .iter()
            .find_map(|a| match a {
                Action::Send { msg, flow } => {
                    assert_eq!(*flow, Flow::Unprotected);
                    Some(msg.clone())
                }
                _ => None,
            })
            .expect("a REGISTER was sent")
    }

    /// The random parts of a REGISTER the machine sent: Via branch (hex) and cnonce.
    fn randoms(msg: &Message) -> (String, String) {
        let branch = msg.top_via().unwrap().branch().unwrap().to_string();
        let branch = branch.strip_prefix("z9hG4bK").unwrap().to_string();
        let auth = msg.header_value("Authorization").unwrap().to_string();
        let cnonce = auth
            .split("cnonce=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap_or("0000000000000000")
            .to_string();
        (branch, cnonce)
    }

    /// What the MessageBuilder path gives for the REGISTER the machine `after` just sent: the
    /// counters the request advanced (CSeq, nonce count) are rewound, then the builder builds
    /// it again with the same branch and cnonce.
    fn rebuilt(after: &Ue, msg: &Message, line: AuthLine) -> Message {
        let mut b = after.clone();
        b.cseq -= 1;
        if let (AuthLine::Computed, Some(ctx)) = (&line, b.auth.as_mut()) {
            ctx.nc -= 1;
        }
        let (branch, cnonce) = randoms(msg);
        let expires = msg.expires().unwrap().unwrap();
        let again = b
            .built_register(line, expires, Flow::Unprotected, &branch, &cnonce)
            .unwrap();
        assert_eq!(b.cseq, after.cseq);
        assert_eq!(b.pending, after.pending);
        assert_eq!(
            b.auth.as_ref().map(|c| c.nc),
            after.auth.as_ref().map(|c| c.nc)
        );
        again
    }

    fn same_bytes(fast: &Message, built: &Message) {
        assert_eq!(
            String::from_utf8_lossy(fast.as_bytes()),
            String::from_utf8_lossy(built.as_bytes())
        );
    }

    /// Initial, authenticated, re- and de-REGISTER from the pre-serialised template are byte for
    /// byte what the MessageBuilder path produces, with and without qop / opaque.
    #[test]
    fn pre_serialised_register_matches_the_builder() {
        for www in [
            r#"Digest realm="ims.test", nonce="bm9uY2UtMQ==", algorithm=MD5, qop="auth", opaque="op\"aque""#,
            r#"Digest realm="ims.test", nonce="n2", algorithm=MD5"#,
        ] {
            let now = Instant::now();
            let mut ue = wire_ue();
            let reg1 = sent(&ue.handle(Event::Start, now));
            same_bytes(&reg1, &rebuilt(&ue, &reg1, AuthLine::Initial));
            assert!(reg1
                .as_bytes()
                .starts_with(b"REGISTER sip:ims.test SIP/2.0\r\n"));
            assert_eq!(reg1.cseq().unwrap().seq, 1);

            let c401 = MessageBuilder::response_to(&reg1, 401, "Unauthorized", Some("s1"))
                .header(HeaderName::WwwAuthenticate, www)
                .build()
                .unwrap();
            let reg2 = sent(&ue.handle(Event::Response(c401), now));
            assert!(ue.auth.as_ref().unwrap().wire.is_some());
            same_bytes(&reg2, &rebuilt(&ue, &reg2, AuthLine::Computed));
            // the computed response verifies against the password
            let auth = reg2.header_value("Authorization").unwrap().to_string();
            let ctx = ue.auth.clone().unwrap();
            let (_, cnonce) = randoms(&reg2);
            let want = Ue::digest_response(
                &ctx,
                &digest::ha1("alice@ims.test", "ims.test", b"secret"),
                &cnonce,
            )
            .unwrap();
            assert!(auth.contains(&format!("response=\"{want}\"")), "{auth}");
            assert_eq!(reg2.cseq().unwrap().seq, 2);
            assert_eq!(reg2.call_id().unwrap(), reg1.call_id().unwrap());

            let ok = MessageBuilder::response_to(&reg2, 200, "OK", Some("s1"))
                .build()
                .unwrap();
            ue.handle(Event::Response(ok), now);
            assert_eq!(ue.phase(), Phase::Registered);

            let reg3 = sent(&ue.handle(Event::TimerFired(TimerId::Reregister), now));
            same_bytes(&reg3, &rebuilt(&ue, &reg3, AuthLine::Computed));
            assert_eq!(reg3.cseq().unwrap().seq, 3);
            assert_eq!(reg3.expires().unwrap(), Some(600_000));

            let ok = MessageBuilder::response_to(&reg3, 200, "OK", Some("s1"))
                .build()
                .unwrap();
            ue.handle(Event::Response(ok), now);
            let reg4 = sent(&ue.handle(Event::Stop, now));
            same_bytes(&reg4, &rebuilt(&ue, &reg4, AuthLine::Computed));
            assert_eq!(reg4.expires().unwrap(), Some(0));
            assert!(String::from_utf8_lossy(reg4.as_bytes()).contains(";expires=0\r\n"));
        }
    }

    /// A de-registration of a UE its registrar never challenged carries the initial
    /// Authorization.
    #[test]
    fn pre_serialised_deregister_without_challenge_matches_the_builder() {
        let now = Instant::now();
        let mut ue = wire_ue();
        let reg1 = sent(&ue.handle(Event::Start, now));
        let ok = MessageBuilder::response_to(&reg1, 200, "OK", Some("s1"))
            .build()
            .unwrap();
        ue.handle(Event::Response(ok), now);
        assert_eq!(ue.phase(), Phase::Registered);
        assert!(ue.auth.is_none());
        let dereg = sent(&ue.handle(Event::Stop, now));
        assert_eq!(dereg.cseq().unwrap().seq, 2);
        same_bytes(&dereg, &rebuilt(&ue, &dereg, AuthLine::Initial));
        assert_eq!(dereg.expires().unwrap(), Some(0));
    }

    /// Sec-agree UEs keep the builder path (the offer and the flow change).
    #[test]
    fn sec_agree_ue_has_no_template() {
        let mut cfg = UeConfig::new(
            "a@ims.test",
            "sip:a@ims.test",
            "ims.test",
            "192.0.2.7",
            5062,
        );
        cfg.security.tls = true;
        let isim = Isim::new(
            &aka::K::from_hex("465b5ce8b199b49faa5f0a2ee238a6bc").unwrap(),
            &crate::isim::OperatorKey::Opc(
                aka::Opc::from_hex("cd63cb71954a9f4e48a5994e37a02baf").unwrap(),
            ),
            aka::Amf([0x80, 0]),
        )
        .unwrap();
        let ue = Ue::new(cfg, Credentials::Aka(Box::new(isim))).unwrap();
        assert!(ue.wire.is_none());
    }

    #[test]
    fn password_debug_is_redacted() {
        assert_eq!(
            format!("{:?}", Password::new("secret")),
            "Password(<redacted>)"
        );
    }
}
