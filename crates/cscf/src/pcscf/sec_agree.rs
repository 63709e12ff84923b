//! The P-CSCF half of RFC 3329 security agreement with the UE (TS 24.229 §5.2.2.1, §5.2.2.4,
//! §5.2.3; TS 33.203 §7; the reference TLS call flows), on top of the `secagree` crate:
//!
//! - every request from a UE is checked against the UE's association ([`SecurityAgreement::check`]
//!   → [`secagree::check_request`]): negotiation on the initial REGISTER, Security-Verify on the
//!   protected REGISTER, refresh rules, the unprotected-port rule under `required`;
//! - before forwarding, Security-* and the `sec-agree` option tag are removed and
//!   `integrity-protected` is set (or removed, so a UE cannot assert it) ([`apply`]);
//! - the 401 to a negotiating REGISTER gets `Security-Server` ([`SecurityAgreement::on_challenge`]);
//! - the 200 to a protected REGISTER completes the association ([`SecurityAgreement::on_registered`]),
//!   whose binding is stored with the registration (`security_association`).
//!
//! Associations are kept per IMPI (at most the established one and a newer pending one, so an
//! unauthenticated attempt cannot unbind a registered UE) and indexed by the TLS connection they
//! are bound to or, for ipsec-3gpp, by their protected flow (UE port-c → our port-s, TS 33.203
//! §7.1), so requests other than REGISTER find their association too.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use secagree::{
    check_request, select, Action, Arrival, Association, Binding, Config, IntegrityProtected,
    Rejection, SecAgreeError, SecAgreeMode, Transport,
};
use sip::{Editor, HeaderName, Message, Method, SecurityMechanism};
use sip_stack::proxy::ProxyRequest;
use sip_stack::Flow;

use super::sa_setup::SaSetup;
use super::ChallengeKeys;
use crate::identity::impi_of;

/// [`sip_stack::RequestAction::Forward`] cookie: the REGISTER negotiates (its 401 gets
/// Security-Server).
pub const COOKIE_NEGOTIATE: u64 = 1;
/// Cookie: the REGISTER came over the association's protected flow (its 200 completes it).
pub const COOKIE_PROTECTED: u64 = 2;

/// What to do with an accepted request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted {
    /// `integrity-protected` for the forwarded REGISTER (`None`: the parameter is removed).
    pub integrity_protected: Option<IntegrityProtected>,
    /// The forward cookie ([`COOKIE_NEGOTIATE`], [`COOKIE_PROTECTED`] or 0).
    pub cookie: u64,
}

#[derive(Default)]
struct Table {
    by_impi: HashMap<String, Vec<Association>>,
    by_conn: HashMap<u64, String>,
    /// IPsec: the protected flow (UE port-c, our port-s) → IMPI.
    by_flow: HashMap<(SocketAddr, SocketAddr), String>,
    /// When the newest pending (not yet registered) association of an IMPI was set up.
    pending_since: HashMap<String, Instant>,
}

/// The protected flow of an IPsec binding: (UE port-c, P-CSCF port-s) (TS 33.203 §7.1).
fn ipsec_flow(sa: &secagree::SaParams) -> (SocketAddr, SocketAddr) {
    (
        SocketAddr::new(sa.ue.addr, sa.ue.port_c),
        SocketAddr::new(sa.pcscf.addr, sa.pcscf.port_s),
    )
}

impl Table {
    fn index(&mut self, impi: &str, a: &Association) {
        match a.binding {
            Binding::Tls {
                connection: Some(c),
                ..
            } => {
                self.by_conn.insert(c, impi.to_string());
            }
            Binding::Ipsec(sa) => {
                self.by_flow.insert(ipsec_flow(&sa), impi.to_string());
            }
            _ => {}
        }
    }

    fn unindex(&mut self, a: &Association) {
        match a.binding {
            Binding::Tls {
                connection: Some(c),
                ..
            } => {
                self.by_conn.remove(&c);
            }
            Binding::Ipsec(sa) => {
                self.by_flow.remove(&ipsec_flow(&sa));
            }
            _ => {}
        }
    }
}

/// The transport of a flow as `secagree` sees it.
fn transport(t: sip_stack::Transport) -> Transport {
    match t {
        sip_stack::Transport::Tls => Transport::Tls,
        sip_stack::Transport::Tcp => Transport::Tcp,
        _ => Transport::Udp,
    }
}

/// Where a request arrived.
pub fn arrival(flow: &Flow) -> Arrival {
    let t = transport(flow.transport);
    Arrival {
        transport: t,
        src: flow.remote,
        dst: flow.local,
        tls_connection: if t == Transport::Tls { flow.conn } else { None },
    }
}

/// A short description of an association's binding, stored as the registration's
/// `security_association`: `tls;conn=<id>`, or `ipsec-3gpp;spi-c=..;spi-s=..;port-c=..;port-s=..`
/// (ours) `;ue-port-c=..;ue-port-s=..` (see [`bound_ipsec`]).
pub fn describe(a: &Association) -> String {
    match a.binding {
        Binding::Tls { connection, .. } => match connection {
            Some(c) => format!("tls;conn={c}"),
            None => "tls".into(),
        },
        Binding::Ipsec(sa) => format!(
            "ipsec-3gpp;spi-c={};spi-s={};port-c={};port-s={};ue-port-c={};ue-port-s={}",
            sa.pcscf.spi_c,
            sa.pcscf.spi_s,
            sa.pcscf.port_c,
            sa.pcscf.port_s,
            sa.ue.port_c,
            sa.ue.port_s
        ),
    }
}

/// The protected ports of a stored ipsec-3gpp `security_association` ([`describe`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpsecPorts {
    /// Our port-c (requests to the UE leave from it).
    pub port_c: u16,
    /// Our port-s (the UE's requests arrive on it).
    pub port_s: u16,
    /// The UE's port-c.
    pub ue_port_c: u16,
    /// The UE's port-s (requests to the UE go to it).
    pub ue_port_s: u16,
}

/// Parses the ports of a stored ipsec-3gpp binding; `None` for anything else.
pub fn bound_ipsec(security_association: &str) -> Option<IpsecPorts> {
    let rest = security_association.strip_prefix("ipsec-3gpp;")?;
    let get = |name: &str| {
        rest.split(';')
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
            .and_then(|v| v.parse::<u16>().ok())
    };
    Some(IpsecPorts {
        port_c: get("port-c")?,
        port_s: get("port-s")?,
        ue_port_c: get("ue-port-c")?,
        ue_port_s: get("ue-port-s")?,
    })
}

/// The TLS connection a stored `security_association` binds to, if it is a TLS binding.
pub fn bound_connection(security_association: &str) -> Option<Option<u64>> {
    let rest = security_association.strip_prefix("tls")?;
    Some(rest.strip_prefix(";conn=").and_then(|c| c.parse().ok()))
}

fn join(list: &[SecurityMechanism]) -> String {
    list.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The response for a refused request: status and reason of the `secagree` error, with
/// Security-Server for a 494 (RFC 3329 §2.3.1).
pub fn rejection_response(req: &Message, r: &Rejection) -> sip::Result<Message> {
    let base = sip_stack::proxy::Rejection::new(r.status(), r.reason_phrase()).response_to(req)?;
    if r.security_server.is_empty() {
        return Ok(base);
    }
    let mut ed = Editor::new(&base);
    ed.append(HeaderName::SecurityServer, join(&r.security_server))?;
    ed.finish()
}

/// Edits a request accepted from a UE before it is forwarded (TS 24.229 §5.2.2.1): removes
/// Security-Client/Server/Verify and the `sec-agree` option tag; on a REGISTER with
/// Authorization, sets `integrity-protected` to `accepted`'s value, or removes any the UE put
/// there when there is none (only the P-CSCF may assert it, TS 24.229 §5.2.2.1).
pub fn apply(ed: &mut Editor, msg: &Message, accepted: &Accepted) -> Result<(), SecAgreeError> {
    secagree::strip_sec_agree(ed, msg)?;
    if msg.method() != Some(Method::Register) || !msg.has_id(HeaderName::Authorization) {
        return Ok(());
    }
    let bad = |e: sip::Error| SecAgreeError::BadHeader {
        header: "Authorization",
        detail: e.to_string(),
    };
    match accepted.integrity_protected {
        Some(v) => {
            secagree::strip::set_integrity_protected(ed, v)?;
        }
        None => {
            ed.strip_auth_params(HeaderName::Authorization, &["integrity-protected"])
                .map_err(bad)?;
        }
    }
    Ok(())
}

/// Security agreement state of one P-CSCF.
pub struct SecurityAgreement {
    cfg: Config,
    backends: Vec<Arc<dyn SaSetup>>,
    table: Mutex<Table>,
}

impl SecurityAgreement {
    /// With the negotiation settings `cfg` (mechanisms restricted to `backends`).
    pub fn new(cfg: Config, backends: Vec<Arc<dyn SaSetup>>) -> Self {
        SecurityAgreement {
            cfg,
            backends,
            table: Mutex::new(Table::default()),
        }
    }

    /// The negotiation settings.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    fn backend(&self, m: secagree::Mechanism) -> Option<&Arc<dyn SaSetup>> {
        self.backends.iter().find(|b| b.mechanism() == m)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The number of associations held (established and pending).
    pub fn associations(&self) -> usize {
        self.lock().by_impi.values().map(Vec::len).sum()
    }

    /// Checks a request from a UE (see the module doc). REGISTERs find the UE's association by
    /// the TLS connection they arrive on, then by the Authorization username (IMPI); other
    /// requests by the TLS connection.
    pub fn check(&self, req: &ProxyRequest) -> Result<Accepted, Rejection> {
        let msg = &req.msg;
        let arr = arrival(&req.flow);
        let is_register = msg.method() == Some(Method::Register);
        if self.cfg.mode == SecAgreeMode::Off {
            let v = check_request(&self.cfg, msg, &arr, None)?;
            return Ok(Accepted {
                integrity_protected: v.integrity_protected,
                cookie: 0,
            });
        }
        let impi = if is_register { impi_of(msg) } else { None };
        let mut table = self.lock();
        let key = arr
            .tls_connection
            .and_then(|c| table.by_conn.get(&c).cloned())
            .or_else(|| table.by_flow.get(&(arr.src, arr.dst)).cloned())
            .or(impi.clone());
        let (verdict, key) = {
            let list = key.as_ref().and_then(|k| table.by_impi.get_mut(k));
            match list {
                Some(list) if !list.is_empty() => {
                    let pos = list
                        .iter()
                        .position(|a| a.is_protected(&arr))
                        .or_else(|| list.iter().position(Association::is_registered))
                        .unwrap_or(0);
                    let v = check_request(&self.cfg, msg, &arr, list.get_mut(pos))?;
                    (v, key)
                }
                _ => (check_request(&self.cfg, msg, &arr, None)?, impi.clone()),
            }
        };
        // a TLS connection bound by this request is indexed
        if let Some(k) = &key {
            let bound: Vec<Association> = table.by_impi.get(k).cloned().unwrap_or_default();
            for a in &bound {
                table.index(k, a);
            }
        }
        let mut cookie = 0;
        match verdict.action {
            Action::Negotiate(_) | Action::Renegotiate(_) => cookie = COOKIE_NEGOTIATE,
            Action::BindTlsPrior(conn) => {
                if let Some(impi) = &impi {
                    let a = Association::tls_prior(arr.src.ip(), conn);
                    self.add(&mut table, impi, a);
                }
            }
            Action::Forward => {
                if verdict.protected && is_register {
                    cookie = COOKIE_PROTECTED;
                }
            }
        }
        Ok(Accepted {
            integrity_protected: verdict.integrity_protected,
            cookie,
        })
    }

    /// Adds a new (pending) association for `impi`: older pending ones are released, a
    /// registered one stays until the new one completes registration.
    fn add(&self, table: &mut Table, impi: &str, a: Association) {
        let old = table.by_impi.remove(impi).unwrap_or_default();
        let mut keep = Vec::new();
        for o in old {
            if o.is_registered() {
                keep.push(o);
            } else {
                table.unindex(&o);
                self.release(&o);
            }
        }
        table.index(impi, &a);
        keep.push(a);
        table.by_impi.insert(impi.to_string(), keep);
        table.pending_since.insert(impi.to_string(), Instant::now());
    }

    fn release(&self, a: &Association) {
        let m = match a.binding {
            Binding::Ipsec(_) => secagree::Mechanism::Ipsec3gpp,
            Binding::Tls { .. } => secagree::Mechanism::Tls,
        };
        if let Some(b) = self.backend(m) {
            b.release(a);
        }
    }

    /// The 401 to a negotiating REGISTER (TS 24.229 §5.2.2.1, RFC 3329 §2.3.1): sets up the
    /// association with the chosen mechanism's backend and adds `Security-Server` to the 401.
    /// A failure is answered 500 rather than relaying a challenge without Security-Server.
    pub fn on_challenge(
        &self,
        req: &ProxyRequest,
        resp: Message,
        keys: Option<&ChallengeKeys>,
    ) -> Message {
        let fail = |e: &dyn std::fmt::Display| {
            tracing::warn!(error = %e, "security agreement setup failed");
            sip_stack::ua::response(&req.msg, 500, "Server Internal Error", None)
                .build()
                .ok()
        };
        let Some(impi) = impi_of(&req.msg) else {
            return resp;
        };
        let client = match req.msg.security_client() {
            Ok(c) => c,
            Err(e) => return fail(&e).unwrap_or(resp),
        };
        let setup = select(&self.cfg, &client).and_then(|c| {
            let b = self
                .backend(c.choice.mechanism())
                .ok_or(SecAgreeError::NoAcceptableMechanism)?;
            b.establish(&self.cfg, &client, req.flow.remote, req.flow.local, keys)
        });
        let (n, a) = match setup {
            Ok(x) => x,
            Err(e) => return fail(&e).unwrap_or(resp),
        };
        let mut ed = Editor::new(&resp);
        let out = ed
            .append(HeaderName::SecurityServer, join(&n.security_server))
            .map(|_| ())
            .and_then(|_| ed.finish());
        match out {
            Ok(m) => {
                let mut table = self.lock();
                self.add(&mut table, &impi, a);
                m
            }
            Err(e) => fail(&e).unwrap_or(resp),
        }
    }

    /// The 2xx to a protected REGISTER (TS 24.229 §5.2.2.3): the association is complete — its
    /// Authorization fields are recorded for the refresh checks and older associations of the
    /// IMPI are released; a de-registration releases them all. Returns the binding to store with
    /// the registration.
    pub fn on_registered(&self, req: &ProxyRequest, dereg: bool) -> Option<String> {
        let impi = impi_of(&req.msg)?;
        let arr = arrival(&req.flow);
        let mut table = self.lock();
        let key = arr
            .tls_connection
            .and_then(|c| table.by_conn.get(&c).cloned())
            .or_else(|| table.by_flow.get(&(arr.src, arr.dst)).cloned())
            .unwrap_or(impi);
        table.pending_since.remove(&key);
        let list = table.by_impi.remove(&key)?;
        let (mut mine, others): (Vec<_>, Vec<_>) =
            list.into_iter().partition(|a| a.is_protected(&arr));
        for o in &others {
            table.unindex(o);
            self.release(o);
        }
        let mut a = mine.pop()?;
        if dereg {
            table.unindex(&a);
            self.release(&a);
            return None;
        }
        if let Err(e) = a.registered(&req.msg) {
            tracing::warn!(error = %e, "cannot record the association's credentials");
            table.unindex(&a);
            self.release(&a);
            return None;
        }
        let d = describe(&a);
        table.index(&key, &a);
        table.by_impi.insert(key, vec![a]);
        Some(d)
    }

    /// Forgets the associations of `impi` (its registration expired).
    pub fn forget(&self, impi: &str) {
        let mut table = self.lock();
        table.pending_since.remove(impi);
        if let Some(list) = table.by_impi.remove(impi) {
            for a in &list {
                table.unindex(a);
                self.release(a);
            }
        }
    }

    /// Drops associations that did not complete registration within `ttl` of their setup (a UE
    /// that never answers the challenge leaves nothing behind); registered ones stay. Returns how
    /// many were dropped.
    pub fn expire_pending(&self, ttl: Duration) -> usize {
        let mut table = self.lock();
        let stale: Vec<String> = table
            .pending_since
            .iter()
            .filter(|(_, t)| t.elapsed() >= ttl)
            .map(|(k, _)| k.clone())
            .collect();
        let mut n = 0;
        for impi in stale {
            table.pending_since.remove(&impi);
            let list = table.by_impi.remove(&impi).unwrap_or_default();
            let (keep, drop): (Vec<_>, Vec<_>) =
                list.into_iter().partition(Association::is_registered);
            for a in &drop {
                table.unindex(a);
                self.release(a);
            }
            n += drop.len();
            if !keep.is_empty() {
                table.by_impi.insert(impi, keep);
            }
        }
        n
    }

    /// Forgets the associations of the IMPI whose association is bound to TLS connection `conn`
    /// (its registration expired).
    pub fn forget_connection(&self, conn: u64) {
        let impi = self.lock().by_conn.get(&conn).cloned();
        if let Some(i) = impi {
            self.forget(&i);
        }
    }

    /// Forgets the associations of the IMPI whose registered association is stored as
    /// `security_association` ([`describe`]) (its registration expired).
    pub fn forget_binding(&self, security_association: &str) {
        let impi = self.lock().by_impi.iter().find_map(|(k, list)| {
            list.iter()
                .any(|a| a.is_registered() && describe(a) == security_association)
                .then(|| k.clone())
        });
        if let Some(i) = impi {
            self.forget(&i);
        }
    }

    /// Housekeeping of the backends (deferred SA removals).
    pub fn tick(&self) {
        for b in &self.backends {
            b.tick();
        }
    }

    /// The association bound to the TLS connection `conn`, if any (a copy).
    pub fn by_connection(&self, conn: u64) -> Option<Association> {
        let table = self.lock();
        let impi = table.by_conn.get(&conn)?;
        table
            .by_impi
            .get(impi)?
            .iter()
            .find_map(|a| match a.binding {
                Binding::Tls {
                    connection: Some(c),
                    ..
                } if c == conn => Some(a.clone()),
                _ => None,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pcscf::sa_setup::TlsSetup;
    use crate::pcscf::sec_config::{default_mechanisms, effective, SecAgreeSetting};

    const UE: &str = "127.0.0.1:40000";
    const IMPI: &str = "001010000000001@ims.test";

    fn agreement(setting: SecAgreeSetting) -> SecurityAgreement {
        let cfg = effective(setting, &default_mechanisms(), &[secagree::Mechanism::Tls]).unwrap();
        SecurityAgreement::new(cfg, vec![Arc::new(TlsSetup)])
    }

    fn register(extra: &str, response: &str) -> Message {
        let text = format!(
            "REGISTER sip:ims.test SIP/2.0\r\nVia: SIP/2.0/UDP {UE};branch=z9hG4bK1\r\n\
             Max-Forwards: 70\r\nFrom: <sip:001010000000001@ims.test>;tag=a\r\n\
             To: <sip:001010000000001@ims.test>\r\nCall-ID: c1\r\nCSeq: 1 REGISTER\r\n\
             Contact: <sip:u@{UE}>\r\n{extra}\
             Authorization: Digest username=\"{IMPI}\", realm=\"ims.test\", nonce=\"n\", \
             uri=\"sip:ims.test\", response=\"{response}\"\r\nContent-Length: 0\r\n\r\n"
        );
        Message::parse(bytes::Bytes::from(text)).unwrap()
    }

    fn request(msg: Message, transport: sip_stack::Transport, conn: Option<u64>) -> ProxyRequest {
        ProxyRequest {
            key: None,
            msg,
            flow: Flow {
                transport,
                local: "127.0.0.1:5061".parse().unwrap(),
                remote: UE.parse().unwrap(),
                conn,
            },
        }
    }

    fn forwarded(req: &ProxyRequest, a: &Accepted) -> Message {
        let mut ed = Editor::new(&req.msg);
        apply(&mut ed, &req.msg, a).unwrap();
        ed.finish().unwrap()
    }

    fn integrity(m: &Message) -> Option<String> {
        m.authorization()
            .unwrap()
            .and_then(|a| a.integrity_protected().map(str::to_string))
    }

    #[test]
    fn tls_during_registration_sets_pending_then_yes() {
        let sa = agreement(SecAgreeSetting::Required);
        let tags = "Security-Client: tls\r\nProxy-Require: sec-agree\r\nRequire: sec-agree\r\n";
        // (1)/(2): initial REGISTER, unprotected, TLS selected: no integrity-protected
        let init = request(register(tags, ""), sip_stack::Transport::Udp, None);
        let a = sa.check(&init).unwrap();
        assert_eq!(a.cookie, COOKIE_NEGOTIATE);
        assert_eq!(a.integrity_protected, None);
        let out = forwarded(&init, &a);
        assert!(out.security_client().unwrap().is_empty());
        assert!(out.require().unwrap().is_empty());
        assert!(out.proxy_require().unwrap().is_empty());
        assert_eq!(integrity(&out), None);
        // (3): the 401 gets Security-Server
        let chal = sip_stack::ua::response(&init.msg, 401, "Unauthorized", None)
            .build()
            .unwrap();
        let chal = sa.on_challenge(&init, chal, None);
        let server = chal.security_server().unwrap();
        assert_eq!(server.len(), 1);
        assert_eq!(server[0].to_string(), "tls;q=0.05");
        // (4)/(5): protected REGISTER over TLS with Security-Verify: tls-pending
        let verify = format!("{tags}Security-Verify: tls;q=0.05\r\n");
        let prot = request(register(&verify, "abc"), sip_stack::Transport::Tls, Some(7));
        let a = sa.check(&prot).unwrap();
        assert_eq!(a.cookie, COOKIE_PROTECTED);
        let out = forwarded(&prot, &a);
        assert_eq!(integrity(&out).as_deref(), Some("tls-pending"));
        assert!(out.security_verify().unwrap().is_empty());
        assert_eq!(
            sa.on_registered(&prot, false).as_deref(),
            Some("tls;conn=7")
        );
        // refresh on the same connection: tls-yes
        let a = sa.check(&prot).unwrap();
        assert_eq!(integrity(&forwarded(&prot, &a)).as_deref(), Some("tls-yes"));
        // the same REGISTER on another connection: 403
        let other = request(prot.msg.clone(), sip_stack::Transport::Tls, Some(8));
        assert_eq!(sa.check(&other).unwrap_err().status(), 403);
        // a non-REGISTER on the bound connection passes, on UDP it does not (required)
        let mut opts = register("", "x");
        let text = String::from_utf8_lossy(opts.as_bytes())
            .replace("REGISTER sip:", "OPTIONS sip:")
            .replace("1 REGISTER", "1 OPTIONS");
        opts = Message::parse(bytes::Bytes::from(text)).unwrap();
        assert!(sa
            .check(&request(opts.clone(), sip_stack::Transport::Tls, Some(7)))
            .is_ok());
        let r = sa
            .check(&request(opts, sip_stack::Transport::Udp, None))
            .unwrap_err();
        assert_eq!(r.status(), 403);
        // de-registration releases the association
        assert_eq!(sa.on_registered(&prot, true), None);
        assert_eq!(sa.associations(), 0);
    }

    #[test]
    fn tls_prior_to_registration_and_forged_integrity_protected() {
        let sa = agreement(SecAgreeSetting::Optional);
        // the UE tries to assert protection itself: removed on the initial TLS REGISTER
        let forged = "integrity-protected=\"tls-yes\", ";
        let first = register("", "");
        let text = String::from_utf8_lossy(first.as_bytes())
            .replace("Digest username", &format!("Digest {forged}username"));
        let first = request(
            Message::parse(bytes::Bytes::from(text)).unwrap(),
            sip_stack::Transport::Tls,
            Some(9),
        );
        let a = sa.check(&first).unwrap();
        assert_eq!(integrity(&forwarded(&first, &a)), None);
        let second = request(register("", "abc"), sip_stack::Transport::Tls, Some(9));
        let a = sa.check(&second).unwrap();
        assert_eq!(a.cookie, COOKIE_PROTECTED);
        assert_eq!(
            integrity(&forwarded(&second, &a)).as_deref(),
            Some("tls-pending")
        );
        assert_eq!(
            sa.on_registered(&second, false).as_deref(),
            Some("tls;conn=9")
        );
        let a = sa.check(&second).unwrap();
        assert_eq!(
            integrity(&forwarded(&second, &a)).as_deref(),
            Some("tls-yes")
        );
        // over UDP without sec-agree (optional): "no", whatever the UE wrote
        let udp = request(register("", "abc"), sip_stack::Transport::Udp, None);
        let a = sa.check(&udp).unwrap();
        assert_eq!(integrity(&forwarded(&udp, &a)).as_deref(), Some("no"));
    }

    #[test]
    fn required_without_security_client_is_494_with_tls_only() {
        let sa = agreement(SecAgreeSetting::Required);
        let req = request(register("", ""), sip_stack::Transport::Udp, None);
        let r = sa.check(&req).unwrap_err();
        assert_eq!(r.status(), 494);
        let resp = rejection_response(&req.msg, &r).unwrap();
        assert_eq!(resp.status(), Some(494));
        let server = resp.security_server().unwrap();
        assert_eq!(server.len(), 1);
        assert_eq!(server[0].mechanism.as_ref(), "tls");
    }

    #[test]
    fn pending_associations_expire_registered_ones_stay() {
        let sa = agreement(SecAgreeSetting::Optional);
        let tags = "Security-Client: tls\r\nRequire: sec-agree\r\n";
        let init = request(register(tags, ""), sip_stack::Transport::Udp, None);
        sa.check(&init).unwrap();
        let chal = sip_stack::ua::response(&init.msg, 401, "Unauthorized", None)
            .build()
            .unwrap();
        sa.on_challenge(&init, chal, None);
        assert_eq!(sa.associations(), 1);
        assert_eq!(sa.expire_pending(Duration::from_secs(3600)), 0);
        assert_eq!(sa.expire_pending(Duration::ZERO), 1);
        assert_eq!(sa.associations(), 0);
        // a registered one (TLS prior) survives
        let first = request(register("", ""), sip_stack::Transport::Tls, Some(3));
        sa.check(&first).unwrap();
        let second = request(register("", "abc"), sip_stack::Transport::Tls, Some(3));
        sa.check(&second).unwrap();
        assert!(sa.on_registered(&second, false).is_some());
        assert_eq!(sa.expire_pending(Duration::ZERO), 0);
        assert_eq!(sa.associations(), 1);
    }

    /// ipsec-3gpp under `required`: the protected REGISTER on the new SAs (UE port-c → our
    /// port-s) with the right Security-Verify is `integrity-protected="yes"`; later requests are
    /// found by their protected flow; the same request elsewhere is refused; the release at
    /// de-registration is deferred to the backend's tick.
    #[test]
    fn ipsec_protected_flow_rules() {
        use crate::pcscf::ipsec_setup::tests::{keys, TableBackend};
        use crate::pcscf::ipsec_setup::IpsecSetup;
        let backend = Arc::new(TableBackend::default());
        let ipsec = Arc::new(IpsecSetup::new(
            backend.clone(),
            vec![(5100, 5200)],
            Duration::ZERO,
        ));
        let cfg = effective(
            SecAgreeSetting::Required,
            &default_mechanisms(),
            &[secagree::Mechanism::Tls, secagree::Mechanism::Ipsec3gpp],
        )
        .unwrap();
        let sa = SecurityAgreement::new(cfg, vec![Arc::new(TlsSetup), ipsec.clone()]);
        let client = "Security-Client: ipsec-3gpp;alg=hmac-sha-1-96;ealg=aes-cbc;prot=esp;\
                      mod=trans;spi-c=1111;spi-s=2222;port-c=40001;port-s=40002\r\n\
                      Require: sec-agree\r\nProxy-Require: sec-agree\r\n";
        let init = request(register(client, ""), sip_stack::Transport::Udp, None);
        let a = sa.check(&init).unwrap();
        assert_eq!(a.cookie, COOKIE_NEGOTIATE);
        assert_eq!(integrity(&forwarded(&init, &a)).as_deref(), Some("no"));
        let chal = sip_stack::ua::response(&init.msg, 401, "Unauthorized", None)
            .build()
            .unwrap();
        let chal = sa.on_challenge(&init, chal, Some(&keys()));
        let server = chal.security_server().unwrap();
        assert_eq!(server.len(), 1, "{chal}");
        assert_eq!(server[0].port_s(), Some(5200));
        assert_eq!(ipsec.sets(), 1, "SAs installed at the 401");
        let verify = format!("{client}Security-Verify: {}\r\n", server[0]);
        let on_sas = |msg: Message| ProxyRequest {
            key: None,
            msg,
            flow: Flow {
                transport: sip_stack::Transport::Udp,
                local: "127.0.0.1:5200".parse().unwrap(),
                remote: "127.0.0.1:40001".parse().unwrap(),
                conn: None,
            },
        };
        // a Security-Verify that differs: 494
        let wrong = verify.replace("port-c=5100", "port-c=5101");
        assert_eq!(
            sa.check(&on_sas(register(&wrong, "abc")))
                .unwrap_err()
                .status(),
            494
        );
        // the protected REGISTER: yes
        let prot = on_sas(register(&verify, "abc"));
        let a = sa.check(&prot).unwrap();
        assert_eq!(a.cookie, COOKIE_PROTECTED);
        assert_eq!(integrity(&forwarded(&prot, &a)).as_deref(), Some("yes"));
        let d = sa.on_registered(&prot, false).unwrap();
        assert_eq!(
            bound_ipsec(&d).map(|p| (p.port_c, p.port_s, p.ue_port_c, p.ue_port_s)),
            Some((5100, 5200, 40001, 40002))
        );
        // a non-REGISTER over the SAs is found by its flow; from anywhere else: 403
        let text = String::from_utf8_lossy(register("", "x").as_bytes())
            .replace("REGISTER sip:", "OPTIONS sip:")
            .replace("1 REGISTER", "1 OPTIONS");
        let opts = Message::parse(bytes::Bytes::from(text)).unwrap();
        assert!(sa.check(&on_sas(opts.clone())).is_ok());
        let elsewhere = request(opts, sip_stack::Transport::Udp, None);
        assert_eq!(sa.check(&elsewhere).unwrap_err().status(), 403);
        // the same REGISTER on the unprotected port with Security-Verify: 403
        let off = request(register(&verify, "abc"), sip_stack::Transport::Udp, None);
        assert_eq!(sa.check(&off).unwrap_err().status(), 403);
        // de-registration: released, removed at the backend's next tick (after the 200 left)
        assert_eq!(sa.on_registered(&prot, true), None);
        assert_eq!((ipsec.sets(), ipsec.retiring()), (1, 1));
        sa.tick();
        assert_eq!((ipsec.sets(), ipsec.spis_in_use()), (0, 0));
        assert!(backend.0.lock().unwrap().is_empty());
    }

    #[test]
    fn stored_binding_round_trips() {
        assert_eq!(bound_connection("tls;conn=42"), Some(Some(42)));
        assert_eq!(bound_connection("tls"), Some(None));
        assert_eq!(bound_connection("ipsec-3gpp;spi-c=1"), None);
        let d = "ipsec-3gpp;spi-c=300;spi-s=301;port-c=5100;port-s=5200;ue-port-c=7;ue-port-s=8";
        assert_eq!(
            bound_ipsec(d),
            Some(IpsecPorts {
                port_c: 5100,
                port_s: 5200,
                ue_port_c: 7,
                ue_port_s: 8
            })
        );
        assert_eq!(bound_ipsec("tls;conn=1"), None);
        assert_eq!(bound_ipsec("ipsec-3gpp;spi-c=1"), None);
    }
}
