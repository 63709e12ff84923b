//! The P-CSCF's per-request security agreement checks (TS 24.229 §5.2.2, §5.2.3, §5.2.10;
//! RFC 3329 §2.3.1; the reference TLS call flows): `sec_agree` mode, the unprotected-port rule,
//! Security-Verify on the protected REGISTER, refresh rules, and the `integrity-protected` value.

use std::net::{IpAddr, SocketAddr};

use sip::{Message, Method, SecurityMechanism, Text};

use crate::compare::lists_eq;
use crate::config::{Config, Mechanism, SecAgreeMode};
use crate::error::SecAgreeError;
use crate::negotiate::{advertised, select, Choice, Negotiated};
use crate::sa::SaParams;

/// Transport a request arrived on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// UDP.
    Udp,
    /// TCP.
    Tcp,
    /// TLS over TCP.
    Tls,
}

/// Where a request arrived: transport, addresses, and the TLS connection id (driver-assigned).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arrival {
    /// Transport.
    pub transport: Transport,
    /// Sender (the UE).
    pub src: SocketAddr,
    /// Our local address/port it arrived on.
    pub dst: SocketAddr,
    /// For TLS: the connection's id.
    pub tls_connection: Option<u64>,
}

/// The `integrity-protected` Authorization parameter (TS 24.229 §5.2.2, §7.2A.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntegrityProtected {
    /// `no`: the REGISTER was not protected (initial REGISTER).
    No,
    /// `yes`: received over the IPsec SAs.
    Yes,
    /// `tls-pending`: received over TLS, the binding to the registration is not confirmed yet.
    TlsPending,
    /// `tls-yes`: received over the TLS connection bound to this registration.
    TlsYes,
}

impl IntegrityProtected {
    /// The parameter value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::No => "no",
            Self::Yes => "yes",
            Self::TlsPending => "tls-pending",
            Self::TlsYes => "tls-yes",
        }
    }
}

/// How an association protects the UE's traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binding {
    /// ipsec-3gpp SAs.
    Ipsec(SaParams),
    /// TLS from `ue_addr`; `connection` is bound by the first protected REGISTER.
    Tls {
        /// The UE's address.
        ue_addr: IpAddr,
        /// The TLS connection the registration is bound to.
        connection: Option<u64>,
    },
}

/// The Authorization fields that must not change between REGISTERs of one association.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthFields {
    /// `username` (the IMPI).
    pub username: Option<Text>,
    /// `realm`.
    pub realm: Option<Text>,
    /// `uri`.
    pub uri: Option<Text>,
}

impl AuthFields {
    /// Reads them from the request's Authorization header (400 if it does not parse; `None` if
    /// absent).
    pub fn of(msg: &Message) -> Result<Option<Self>, SecAgreeError> {
        let a = msg.authorization().map_err(|e| SecAgreeError::BadHeader {
            header: "Authorization",
            detail: e.to_string(),
        })?;
        Ok(a.map(|a| Self {
            username: a.username().map(Text::from),
            realm: a.realm().map(Text::from),
            uri: a.uri().map(Text::from),
        }))
    }

    /// The first field that differs, named.
    fn first_difference(&self, other: &Self) -> Option<&'static str> {
        if self.username != other.username {
            Some("username")
        } else if self.realm != other.realm {
            Some("realm")
        } else if self.uri != other.uri {
            Some("uri")
        } else {
            None
        }
    }
}

/// The security association of one UE as the P-CSCF keeps it between requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Association {
    /// IPsec SAs or TLS connection.
    pub binding: Binding,
    /// The Security-Client of the REGISTER that negotiated it (empty: TLS prior to registration).
    pub security_client: Vec<SecurityMechanism>,
    /// The Security-Server we sent (empty: TLS prior to registration).
    pub security_server: Vec<SecurityMechanism>,
    /// Authorization fields of the REGISTER that completed registration.
    pub credentials: Option<AuthFields>,
}

impl Association {
    /// From a negotiation (ipsec-3gpp needs its [`SaParams`]; TLS binds `ue_addr`'s next TLS
    /// connection).
    pub fn from_negotiated(n: &Negotiated, ue_addr: IpAddr) -> Result<Self, SecAgreeError> {
        let binding = match (n.choice, n.sa) {
            (Choice::Ipsec { .. }, Some(sa)) => Binding::Ipsec(sa),
            (Choice::Tls, _) => Binding::Tls {
                ue_addr,
                connection: None,
            },
            (Choice::Ipsec { .. }, None) => {
                return Err(SecAgreeError::Config(
                    "ipsec-3gpp negotiated without SA parameters",
                ))
            }
        };
        Ok(Self {
            binding,
            security_client: n.security_client.clone(),
            security_server: n.security_server.clone(),
            credentials: None,
        })
    }

    /// "TLS session setup prior to registration": no sec-agree headers, bound to `connection`.
    pub fn tls_prior(ue_addr: IpAddr, connection: u64) -> Self {
        Self {
            binding: Binding::Tls {
                ue_addr,
                connection: Some(connection),
            },
            security_client: Vec::new(),
            security_server: Vec::new(),
            credentials: None,
        }
    }

    /// True if RFC 3329 sec-agree took place for this association.
    pub fn sec_agree(&self) -> bool {
        !self.security_server.is_empty()
    }

    /// Call when the protected REGISTER got its 2xx: records the Authorization fields the refresh
    /// REGISTERs must repeat, and from then on TLS REGISTERs on the bound connection are `tls-yes`.
    pub fn registered(&mut self, protected_register: &Message) -> Result<(), SecAgreeError> {
        self.credentials = Some(AuthFields::of(protected_register)?.unwrap_or(AuthFields {
            username: None,
            realm: None,
            uri: None,
        }));
        Ok(())
    }

    /// True once [`registered`](Self::registered) was called.
    pub fn is_registered(&self) -> bool {
        self.credentials.is_some()
    }

    /// Did `arrival` (a response from the UE) come over one of the association's inbound SAs?
    /// Responses may use either pair: the reference trace's UE answers a NOTIFY (sent from the
    /// P-CSCF's port-c, Via naming port-s) from its port-c to the P-CSCF's port-s over UDP.
    pub fn is_protected_response(&self, arrival: &Arrival) -> bool {
        match self.binding {
            Binding::Ipsec(sa) => {
                let (u, p) = (&sa.ue, &sa.pcscf);
                arrival.transport != Transport::Tls
                    && (sa.is_ue_request_flow(arrival.src, arrival.dst)
                        || (arrival.src == SocketAddr::new(u.addr, u.port_s)
                            && arrival.dst == SocketAddr::new(p.addr, p.port_c)))
            }
            Binding::Tls { .. } => self.is_protected(arrival),
        }
    }

    /// Did `arrival` come over this association's protected flow? (IPsec: UE port-c → P-CSCF
    /// port-s; TLS: the bound connection, or — before binding — any TLS connection from the UE.)
    pub fn is_protected(&self, arrival: &Arrival) -> bool {
        match self.binding {
            Binding::Ipsec(sa) => {
                arrival.transport != Transport::Tls
                    && sa.is_ue_request_flow(arrival.src, arrival.dst)
            }
            Binding::Tls {
                ue_addr,
                connection,
            } => {
                arrival.transport == Transport::Tls
                    && match (connection, arrival.tls_connection) {
                        (Some(c), Some(a)) => c == a,
                        (None, Some(_)) => arrival.src.ip() == ue_addr,
                        _ => false,
                    }
            }
        }
    }
}

/// What the P-CSCF does with an accepted request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Forward (after [`crate::strip::prepare_forward`]).
    Forward,
    /// Initial REGISTER asking for sec-agree: `choice` was selected from its Security-Client;
    /// forward it, and on the 401 allocate ids (ipsec-3gpp) and call
    /// [`crate::negotiate::negotiate`] to build Security-Server and the new association.
    Negotiate(Choice),
    /// Protected REGISTER with a new ipsec-3gpp Security-Client (new SPIs/ports, TS 33.203 §7.4):
    /// forward; on the 401 negotiate a new SA set, keeping the old one until the new is in use.
    Renegotiate(Choice),
    /// REGISTER over TLS without sec-agree ("TLS prior to registration"): forward, and bind a new
    /// [`Association::tls_prior`] to this connection.
    BindTlsPrior(u64),
}

/// An accepted request: the action and the `integrity-protected` value to set (None: none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// What to do.
    pub action: Action,
    /// `integrity-protected` for the Authorization header (REGISTER only).
    pub integrity_protected: Option<IntegrityProtected>,
    /// True if it came over the association's protected flow.
    pub protected: bool,
}

/// A refused request: the error (status, reason) and the Security-Server list to include (for a
/// 494, RFC 3329 §2.3.1; empty otherwise).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// Why.
    pub error: SecAgreeError,
    /// Security-Server header content for the response.
    pub security_server: Vec<SecurityMechanism>,
}

impl Rejection {
    /// Status code.
    pub fn status(&self) -> u16 {
        self.error.status()
    }
    /// Reason phrase.
    pub fn reason_phrase(&self) -> &'static str {
        self.error.reason_phrase()
    }
}

/// True if the Request-URI is an emergency service URN (`urn:service:sos` or a sub-service
/// `urn:service:sos.*`, RFC 5031; TS 24.229 §5.2.10).
pub fn is_emergency(msg: &Message) -> bool {
    let Some(uri) = msg.request_uri_raw() else {
        return false;
    };
    let b = uri.as_bytes();
    let p = b"urn:service:sos";
    b.len() >= p.len()
        && b[..p.len()].eq_ignore_ascii_case(p)
        && matches!(b.get(p.len()), None | Some(b'.'))
}

/// True if `Require` or `Proxy-Require` carries the `sec-agree` option tag (RFC 3329 §2.3.1).
pub fn requests_sec_agree(msg: &Message) -> Result<bool, SecAgreeError> {
    let bad = |h: &'static str| {
        move |e: sip::Error| SecAgreeError::BadHeader {
            header: h,
            detail: e.to_string(),
        }
    };
    let r = msg.require().map_err(bad("Require"))?;
    let pr = msg.proxy_require().map_err(bad("Proxy-Require"))?;
    Ok(r.iter()
        .chain(pr.iter())
        .any(|t| t.eq_ignore_ascii_case("sec-agree")))
}

fn security_list(
    msg: &Message,
    header: &'static str,
) -> Result<Vec<SecurityMechanism>, SecAgreeError> {
    let r = match header {
        "Security-Client" => msg.security_client(),
        _ => msg.security_verify(),
    };
    let v = r.map_err(|e| SecAgreeError::BadHeader {
        header,
        detail: e.to_string(),
    })?;
    if v.len() > crate::negotiate::MAX_MECHANISMS {
        return Err(SecAgreeError::TooManyMechanisms(v.len()));
    }
    Ok(v)
}

fn has_credentials_response(msg: &Message) -> bool {
    matches!(msg.authorization(), Ok(Some(a)) if a.response().is_some_and(|r| !r.is_empty()))
}

/// Checks one request from a UE and decides what to do (RFC 3329 §2.3.1, TS 24.229 §5.2.2,
/// §5.2.3, the reference TLS call flows). `assoc` is the UE's association if any; it is updated
/// only to bind a TLS connection on the first protected REGISTER over TLS.
///
/// * `off`: everything is forwarded; REGISTER gets `integrity-protected="no"`.
/// * Unprotected request (not on the association's flow): REGISTER with Security-Client → select
///   ([`Action::Negotiate`], 400/494 on a bad offer), `no` (none if TLS was selected, as the
///   reference shows); REGISTER carrying Security-Verify while an association exists → 403;
///   REGISTER without sec-agree → over TLS "TLS prior" ([`Action::BindTlsPrior`]), otherwise 494
///   (`required`) or forward with `no` (`optional`); other requests → 403 under `required` unless
///   emergency.
/// * Protected REGISTER: Security-Verify must equal what we sent (494); Security-Client must be
///   present and unchanged (494), except a new ipsec-3gpp offer of the same shape, which is a
///   re-negotiation (TS 33.203 §7.4); after registration, Authorization username/realm/uri must
///   be unchanged (403). `yes` (IPsec), `tls-pending` / `tls-yes` (TLS).
/// * Protected other requests: a Security-Verify, if present, must match (494).
/// * Responses from the UE: always [`Action::Forward`]; `protected` says whether they came over an
///   inbound SA / the bound TLS connection ([`Association::is_protected_response`]).
///
/// A rejected ACK cannot be answered: the caller drops it.
pub fn check_request(
    config: &Config,
    msg: &Message,
    arrival: &Arrival,
    assoc: Option<&mut Association>,
) -> Result<Verdict, Rejection> {
    let method = msg.method();
    let is_register = matches!(method, Some(Method::Register));
    let reject = |error: SecAgreeError, server: &[SecurityMechanism]| Rejection {
        security_server: if error.needs_security_server() {
            if server.is_empty() {
                advertised(config)
            } else {
                server.to_vec()
            }
        } else {
            Vec::new()
        },
        error,
    };
    let forward = |ip: Option<IntegrityProtected>, protected| Verdict {
        action: Action::Forward,
        integrity_protected: ip,
        protected,
    };
    if config.mode == SecAgreeMode::Off {
        return Ok(forward(
            is_register.then_some(IntegrityProtected::No),
            false,
        ));
    }
    if !msg.is_request() {
        // Responses are never refused here (they are matched to our transactions); the caller
        // learns whether one came over the SAs.
        let protected = assoc.is_some_and(|a| a.is_protected_response(arrival));
        return Ok(forward(None, protected));
    }
    let has_assoc = assoc.is_some();
    let protected = assoc.as_ref().is_some_and(|a| a.is_protected(arrival));
    let Some(assoc) = assoc.filter(|_| protected) else {
        let ctx = Unprotected {
            config,
            msg,
            arrival,
            is_register,
            has_assoc,
        };
        return ctx.check(reject, forward);
    };
    let sent = assoc.security_server.clone();
    let err = |e: SecAgreeError| reject(e, &sent);
    if !is_register {
        if assoc.sec_agree() {
            let verify = security_list(msg, "Security-Verify").map_err(err)?;
            if !verify.is_empty() && !lists_eq(&sent, &verify) {
                return Err(err(SecAgreeError::VerifyMismatch));
            }
        }
        return Ok(forward(None, true));
    }
    let mut action = Action::Forward;
    if assoc.sec_agree() {
        let verify = security_list(msg, "Security-Verify").map_err(err)?;
        if verify.is_empty() {
            return Err(err(SecAgreeError::VerifyMissing));
        }
        if !lists_eq(&sent, &verify) {
            return Err(err(SecAgreeError::VerifyMismatch));
        }
        let client = security_list(msg, "Security-Client").map_err(err)?;
        if client.is_empty() {
            return Err(err(SecAgreeError::ClientMissing));
        }
        if !lists_eq(&assoc.security_client, &client) {
            let renegotiable = matches!(assoc.binding, Binding::Ipsec(_))
                && same_shape(&assoc.security_client, &client);
            if !renegotiable {
                return Err(err(SecAgreeError::ClientChanged));
            }
            let chosen = select(config, &client).map_err(err)?;
            action = Action::Renegotiate(chosen.choice);
        }
    }
    if let Some(prev) = &assoc.credentials {
        let now = AuthFields::of(msg).map_err(err)?;
        let Some(now) = now else {
            return Err(err(SecAgreeError::AuthorizationChanged("header")));
        };
        if let Some(field) = prev.first_difference(&now) {
            return Err(err(SecAgreeError::AuthorizationChanged(field)));
        }
    }
    let ip = match &mut assoc.binding {
        Binding::Ipsec(_) => IntegrityProtected::Yes,
        Binding::Tls { connection, .. } => {
            let was_bound = connection.is_some();
            if connection.is_none() {
                *connection = arrival.tls_connection;
            }
            if was_bound && assoc.credentials.is_some() {
                IntegrityProtected::TlsYes
            } else {
                IntegrityProtected::TlsPending
            }
        }
    };
    Ok(Verdict {
        action,
        integrity_protected: Some(ip),
        protected: true,
    })
}

/// A request outside any protected flow.
struct Unprotected<'a> {
    config: &'a Config,
    msg: &'a Message,
    arrival: &'a Arrival,
    is_register: bool,
    has_assoc: bool,
}

impl Unprotected<'_> {
    fn check(
        &self,
        reject: impl Fn(SecAgreeError, &[SecurityMechanism]) -> Rejection,
        forward: impl Fn(Option<IntegrityProtected>, bool) -> Verdict,
    ) -> Result<Verdict, Rejection> {
        let (config, msg, arrival) = (self.config, self.msg, self.arrival);
        let is_register = self.is_register;
        let required = config.mode == SecAgreeMode::Required;
        if !is_register {
            if required && !is_emergency(msg) {
                return Err(reject(SecAgreeError::UnprotectedNotAllowed, &[]));
            }
            return Ok(forward(None, false));
        }
        let err = |e| reject(e, &[]);
        let verify = security_list(msg, "Security-Verify").map_err(err)?;
        let client = security_list(msg, "Security-Client").map_err(err)?;
        if !verify.is_empty() && self.has_assoc {
            return Err(err(SecAgreeError::NotOnProtectedFlow));
        }
        if !client.is_empty() {
            let chosen = select(config, &client).map_err(err)?;
            let ip = match chosen.choice.mechanism() {
                Mechanism::Tls => None,
                Mechanism::Ipsec3gpp => Some(IntegrityProtected::No),
            };
            return Ok(Verdict {
                action: Action::Negotiate(chosen.choice),
                integrity_protected: ip,
                protected: false,
            });
        }
        if arrival.transport == Transport::Tls {
            if let Some(conn) = arrival.tls_connection {
                let ip = has_credentials_response(msg).then_some(IntegrityProtected::TlsPending);
                return Ok(Verdict {
                    action: Action::BindTlsPrior(conn),
                    integrity_protected: ip,
                    protected: false,
                });
            }
        }
        if required {
            return Err(reject(SecAgreeError::SecAgreeRequired, &[]));
        }
        Ok(forward(Some(IntegrityProtected::No), false))
    }
}

/// True if two Security-Client lists offer the same mechanisms and parameters apart from the
/// ipsec-3gpp SPIs and ports (a re-registration's new SA offer, TS 33.203 §7.4).
pub fn same_shape(a: &[SecurityMechanism], b: &[SecurityMechanism]) -> bool {
    let strip = |l: &[SecurityMechanism]| -> Vec<SecurityMechanism> {
        l.iter()
            .map(|m| {
                let mut m = m.clone();
                for p in ["spi-c", "spi-s", "port-c", "port-s"] {
                    m.params.remove(p);
                }
                m
            })
            .collect()
    };
    lists_eq(&strip(a), &strip(b))
}
