//! P-CSCF (TS 24.229 §5.2), the UE's first hop. This module decides and edits; [`crate::node`]
//! puts it on the network.
//!
//! - REGISTER from a UE (§5.2.2.1): forwarded to the I-CSCF of the home network with `Path` (our
//!   URI with a [`flow_token`] naming the UE's flow), `Require: path` unless the UE supports it,
//!   `P-Visited-Network-ID`, a new `P-Charging-Vector` ([`charging`]) and
//!   `integrity-protected="no"` in `Authorization` (security agreement adds its own values later);
//!   whatever the UE put in those P-headers is removed first (they are trusted only between
//!   network nodes).
//! - Security agreement with the UE (§5.2.2.1, §5.2.3, RFC 3329; [`sec_agree`]): `sec_agree =
//!   off | optional | required` ([`sec_config`]); the mechanism is chosen on the initial REGISTER,
//!   the 401 carries Security-Server, the protected REGISTER's Security-Verify is checked, the
//!   registration is bound to its TLS connection and `integrity-protected` is set to `no`,
//!   `tls-pending` or `tls-yes`; the setup of the association is a [`sa_setup::SaSetup`] (TLS;
//!   ipsec-3gpp with [`ipsec_setup`] when `[pcscf.ipsec]` configures a datapath, then
//!   `integrity-protected="yes"` and requests to the UE leave from our port-c to its port-s).
//! - The 401 (§5.2.2.1): `ck` and `ik` are removed from `WWW-Authenticate` and kept for the
//!   security association ([`Pcscf::take_keys`]).
//! - The 200 (§5.2.2.3): each of the UE's contacts is stored with its flow, expiry, Service-Route
//!   and P-Associated-URI in the registration store, so it survives a restart; a
//!   de-registration removes them.
//! - Requests from a registered UE (§5.2.6.3): the asserted identity is checked against its
//!   P-Associated-URI set (`P-Asserted-Identity` set, `P-Preferred-Identity` removed), and the
//!   route is the stored Service-Route. Requests other than REGISTER from a UE that is not
//!   registered are answered 403 (§5.2.6.3.1).
//! - Requests from the core for a UE (§5.2.6.4): the top Route is our Path URI; its flow token
//!   says where the UE is.

pub mod charging;
pub mod flow_token;
pub mod ipsec_setup;
pub mod reg_subscriber;
pub mod sa_setup;
pub mod sec_agree;
pub mod sec_config;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use sip::{HeaderName, Message, Method, NameAddr, Param, Uri};
use sip_stack::proxy::{Prepared, ProxyConfig, ProxyRequest, Rejection};
use sip_stack::Flow;

use crate::identity::{bare_uri, impi_of, impu_of, is_deregistration, uri_in};
use crate::store::{self, RegistrationStore, UeRegistration};
use crate::CscfError;

/// P-CSCF settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PcscfConfig {
    /// SIP URI of the I-CSCF of the home network, where REGISTER requests go
    /// (TS 24.229 §5.2.2.1).
    pub icscf: String,
    /// The P-Visited-Network-ID value: the name of the network this P-CSCF is in
    /// (TS 24.229 §5.2.2.1, RFC 7315 §4.3).
    pub visited_network_id: String,
    /// The type 1 `orig-ioi` put in P-Charging-Vector (TS 24.229 §5.2.2.1), if any.
    pub orig_ioi: Option<String>,
    /// How long the CK/IK of a 401 are kept for the security association (seconds); also how
    /// long a negotiated association may stay pending before the UE completes registration.
    pub key_lifetime_secs: u64,
    /// `sec_agree = off | optional | required` (RFC 3329, TS 24.229 §5.2.2.1; default
    /// `optional`).
    pub sec_agree: sec_config::SecAgreeSetting,
    /// Security mechanisms with our q (RFC 3329 §2.2), e.g. `["tls;q=0.5", "ipsec-3gpp;q=0.1"]`.
    /// Only mechanisms with a security association backend are offered: `tls` always,
    /// `ipsec-3gpp` only with [`PcscfConfig::ipsec`].
    pub sec_mechanisms: Vec<String>,
    /// PEM certificate (chain) for the `tls:` listeners; with `tls_key`. Without both, a
    /// self-signed pair is generated at start.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for the `tls:` listeners.
    pub tls_key: Option<PathBuf>,
    /// ipsec-3gpp (TS 33.203 §7): absent = not offered (no TUN/root needed); present = the
    /// datapath must open or the P-CSCF does not start.
    pub ipsec: Option<ipsec_setup::IpsecConfig>,
}

impl Default for PcscfConfig {
    fn default() -> Self {
        PcscfConfig {
            icscf: "sip:icscf.ims.mnc001.mcc001.3gppnetwork.org:4060".into(),
            visited_network_id: "ims.mnc001.mcc001.3gppnetwork.org".into(),
            orig_ioi: None,
            key_lifetime_secs: 60,
            sec_agree: sec_config::SecAgreeSetting::default(),
            sec_mechanisms: sec_config::default_mechanisms(),
            tls_cert: None,
            tls_key: None,
            ipsec: None,
        }
    }
}

/// CK and IK the S-CSCF sent in a 401 (TS 33.203 §7.1), kept for the security association.
pub struct ChallengeKeys {
    /// The nonce of the challenge.
    pub nonce: String,
    /// The cipher key.
    pub ck: aka::Ck,
    /// The integrity key.
    pub ik: aka::Ik,
    received: Instant,
}

/// The P-CSCF's state: registered UEs (persisted) indexed by the address they registered from.
pub struct Pcscf {
    cfg: PcscfConfig,
    icscf: Uri,
    store: Arc<dyn RegistrationStore>,
    icid: charging::IcidGenerator,
    by_flow: RwLock<HashMap<SocketAddr, Vec<UeRegistration>>>,
    keys: Mutex<HashMap<String, ChallengeKeys>>,
    security: sec_agree::SecurityAgreement,
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn store_flow(f: &Flow) -> store::Flow {
    store::Flow {
        transport: f.transport.as_str().to_string(),
        remote: f.remote,
        local: f.local,
    }
}

fn internal(e: sip::Error) -> Rejection {
    tracing::warn!(error = %e, "P-CSCF edit failed");
    Rejection::new(500, "Server Internal Error")
}

fn same_identity(a: &str, b: &str) -> bool {
    match (Uri::parse(a), Uri::parse(b)) {
        (Ok(x), Ok(y)) => bare_uri(&x).eq_ignore_ascii_case(&bare_uri(&y)),
        _ => a.eq_ignore_ascii_case(b),
    }
}

impl Pcscf {
    /// A P-CSCF storing its UEs in `store`.
    pub fn new(cfg: PcscfConfig, store: Arc<dyn RegistrationStore>) -> Result<Self, CscfError> {
        Self::with_setups(cfg, store, Vec::new())
    }

    /// A P-CSCF with further security association backends (e.g. an
    /// [`ipsec_setup::IpsecSetup`]) besides TLS.
    pub fn with_setups(
        cfg: PcscfConfig,
        store: Arc<dyn RegistrationStore>,
        extra: Vec<Arc<dyn sa_setup::SaSetup>>,
    ) -> Result<Self, CscfError> {
        let icscf =
            Uri::parse(&cfg.icscf).map_err(|e| CscfError::Config(format!("pcscf.icscf: {e}")))?;
        let mut backends: Vec<Arc<dyn sa_setup::SaSetup>> = vec![Arc::new(sa_setup::TlsSetup)];
        backends.extend(extra);
        let available: Vec<_> = backends.iter().map(|b| b.mechanism()).collect();
        let mut sec_cfg = sec_config::effective(cfg.sec_agree, &cfg.sec_mechanisms, &available)?;
        if let Some(ip) = &cfg.ipsec {
            (sec_cfg.integrity, sec_cfg.encryption) = ip.algorithms()?;
        }
        Ok(Pcscf {
            security: sec_agree::SecurityAgreement::new(sec_cfg, backends),
            cfg,
            icscf,
            store,
            icid: charging::IcidGenerator::new(),
            by_flow: RwLock::new(HashMap::new()),
            keys: Mutex::new(HashMap::new()),
        })
    }

    /// Loads the stored registrations (after a restart); returns how many are live.
    pub async fn load(&self) -> Result<usize, CscfError> {
        let all = self
            .store
            .ue_registrations_expiring_before(i64::MAX as u64)
            .await?;
        let now = unix_now();
        let mut map = self.by_flow.write().unwrap_or_else(|p| p.into_inner());
        map.clear();
        let mut n = 0;
        for ue in all.into_iter().filter(|u| u.expires_at > now) {
            map.entry(ue.flow.remote).or_default().push(ue);
            n += 1;
        }
        Ok(n)
    }

    /// The configuration.
    pub fn config(&self) -> &PcscfConfig {
        &self.cfg
    }

    /// Registered contacts currently known.
    pub fn registered_contacts(&self) -> usize {
        let now = unix_now();
        self.by_flow
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .flatten()
            .filter(|u| u.expires_at > now)
            .count()
    }

    /// The live registrations made from `remote`.
    pub fn registrations_from(&self, remote: SocketAddr) -> Vec<UeRegistration> {
        let now = unix_now();
        self.by_flow
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&remote)
            .map(|v| v.iter().filter(|u| u.expires_at > now).cloned().collect())
            .unwrap_or_default()
    }

    /// The security agreement state.
    pub fn security(&self) -> &sec_agree::SecurityAgreement {
        &self.security
    }

    /// Security agreement check of a request from a UE (see [`sec_agree`]); on refusal, the
    /// response to send (494 with Security-Server, 403, 400), or `None` for an ACK (dropped).
    pub fn check_security(
        &self,
        req: &ProxyRequest,
    ) -> Result<sec_agree::Accepted, Option<Message>> {
        self.security.check(req).map_err(|r| {
            tracing::debug!(status = r.status(), error = %r.error, "sec-agree refused a request");
            if req.msg.method() == Some(Method::Ack) {
                return None;
            }
            Some(
                sec_agree::rejection_response(&req.msg, &r).unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "cannot build the sec-agree rejection");
                    sip_stack::ua::response(&req.msg, r.status(), r.reason_phrase(), None)
                        .build()
                        .unwrap_or_else(|_| req.msg.clone())
                }),
            )
        })
    }

    /// Removes the sec-agree headers of an accepted request and sets its `integrity-protected`
    /// (TS 24.229 §5.2.2.1).
    pub fn apply_security(
        &self,
        req: &ProxyRequest,
        p: &mut Prepared,
        accepted: &sec_agree::Accepted,
    ) -> Result<(), Rejection> {
        sec_agree::apply(&mut p.editor, &req.msg, accepted).map_err(|e| {
            tracing::debug!(error = %e, "sec-agree edit failed");
            Rejection::new(e.status(), e.reason_phrase())
        })
    }

    /// TS 24.229 §5.2.2.1: edits a REGISTER from a UE and points it at the I-CSCF, with
    /// `integrity-protected="no"` (without security agreement; see [`Self::apply_security`]).
    pub fn edit_register(
        &self,
        req: &ProxyRequest,
        p: &mut Prepared,
        me: &ProxyConfig,
    ) -> Result<(), Rejection> {
        self.edit_register_headers(req, p, me)?;
        if req.msg.has_id(HeaderName::Authorization) {
            p.editor
                .set_auth_param(
                    HeaderName::Authorization,
                    Param::quoted("integrity-protected", "no"),
                )
                .map_err(internal)?;
        }
        Ok(())
    }

    /// TS 24.229 §5.2.2.1: the REGISTER edits other than `integrity-protected` (Path, Require,
    /// P-Visited-Network-ID, P-Charging-Vector, next hop).
    pub fn edit_register_headers(
        &self,
        req: &ProxyRequest,
        p: &mut Prepared,
        me: &ProxyConfig,
    ) -> Result<(), Rejection> {
        let ed = &mut p.editor;
        // only network nodes may assert these (TS 24.229 §5.2.2.1, RFC 7315 §4)
        ed.remove("P-Charging-Vector");
        ed.remove("P-Visited-Network-ID");
        ed.remove("P-Asserted-Identity");
        let mut path = me.uri(req.flow.transport);
        path.user = Some(flow_token::encode(&req.flow).into());
        ed.prepend(HeaderName::Path, format_args!("<{path}>"))
            .map_err(internal)?;
        let supports_path = req
            .msg
            .supported()
            .map(|s| s.iter().any(|t| t.eq_ignore_ascii_case("path")))
            .unwrap_or(false);
        if !supports_path {
            // RFC 3327 §5.1: the registrar must honour the Path we added
            ed.append(HeaderName::Require, "path").map_err(internal)?;
        }
        ed.append(
            "P-Visited-Network-ID",
            format_args!("\"{}\"", self.cfg.visited_network_id.replace('"', "")),
        )
        .map_err(internal)?;
        ed.append(
            "P-Charging-Vector",
            self.icid.vector(&me.host, self.cfg.orig_ioi.as_deref()),
        )
        .map_err(internal)?;
        p.next_hop = self.icscf.clone();
        Ok(())
    }

    /// TS 24.229 §5.2.2.1 and §5.2.2.3: a final response to a REGISTER the UE sent on `flow`.
    /// Removes ck/ik from a 401 (keeping them), records the UE's contacts on a 200. `cookie` is
    /// what [`Self::check_security`] gave the request: a negotiating REGISTER's 401 gets
    /// Security-Server, a protected REGISTER's 200 completes its association.
    pub async fn on_register_response(
        &self,
        req: &ProxyRequest,
        resp: Message,
        cookie: u64,
    ) -> Message {
        let status = resp.status().unwrap_or(0);
        if status == 401 {
            let out = self.strip_keys(&req.msg, resp);
            if cookie == sec_agree::COOKIE_NEGOTIATE && out.status() == Some(401) {
                let impi = impi_of(&req.msg).unwrap_or_default();
                let keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
                return self.security.on_challenge(req, out, keys.get(&impi));
            }
            return out;
        }
        if (200..300).contains(&status) {
            let sa = if cookie == sec_agree::COOKIE_PROTECTED {
                self.security
                    .on_registered(req, is_deregistration(&req.msg))
            } else {
                None
            };
            if let Err(e) = self.record(&req.msg, &req.flow, &resp, sa).await {
                // the UE is registered at the S-CSCF; we could not remember it: the next request
                // from it gets 403 and it re-registers
                tracing::error!(error = %e, "P-CSCF could not store a registration");
            }
        }
        resp
    }

    fn strip_keys(&self, req: &Message, resp: Message) -> Message {
        let Ok(Some(chal)) = resp.www_authenticate() else {
            return resp;
        };
        if chal.ck().is_none() && chal.ik().is_none() {
            return resp;
        }
        let keys = (
            chal.ck().and_then(|c| aka::Ck::from_hex(c).ok()),
            chal.ik().and_then(|i| aka::Ik::from_hex(i).ok()),
            chal.nonce(),
            impi_of(req),
        );
        if let (Some(ck), Some(ik), Some(nonce), Some(impi)) = keys {
            let mut map = self.keys.lock().unwrap_or_else(|p| p.into_inner());
            map.insert(
                impi,
                ChallengeKeys {
                    nonce: nonce.to_string(),
                    ck,
                    ik,
                    received: Instant::now(),
                },
            );
        }
        let mut ed = sip::Editor::new(&resp);
        match ed
            .strip_auth_params(HeaderName::WwwAuthenticate, &["ck", "ik"])
            .and_then(|_| ed.finish())
        {
            Ok(m) => m,
            Err(e) => {
                // never leak the keys to the UE: answer 500 rather than relay them
                tracing::error!(error = %e, "cannot strip ck/ik from 401");
                sip_stack::ua::response(req, 500, "Server Internal Error", None)
                    .build()
                    .unwrap_or(resp)
            }
        }
    }

    /// The CK/IK of the latest challenge for `impi`, removed from the P-CSCF (for the security
    /// association, TS 33.203 §7.1).
    pub fn take_keys(&self, impi: &str) -> Option<ChallengeKeys> {
        self.keys
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(impi)
    }

    async fn record(
        &self,
        req: &Message,
        flow: &Flow,
        resp: &Message,
        sa: Option<String>,
    ) -> Result<(), CscfError> {
        let Some(impu) = impu_of(req) else {
            return Ok(());
        };
        let req_contacts: Vec<NameAddr> = req
            .contacts()
            .unwrap_or_default()
            .iter()
            .filter_map(|c| c.addr().cloned())
            .collect();
        let resp_contacts: Vec<NameAddr> = resp
            .contacts()
            .unwrap_or_default()
            .iter()
            .filter_map(|c| c.addr().cloned())
            .collect();
        let service_route: Vec<String> = resp
            .service_route()
            .unwrap_or_default()
            .iter()
            .map(|r| r.to_string())
            .collect();
        let associated: Vec<String> = resp
            .p_associated_uri()
            .unwrap_or_default()
            .iter()
            .map(|a| a.uri.to_string())
            .collect();
        let now = unix_now();
        let dereg = is_deregistration(req);
        for c in &req_contacts {
            let contact = c.uri.to_string();
            let granted = resp_contacts
                .iter()
                .find(|r| r.uri.equivalent(&c.uri))
                .and_then(|r| r.expires())
                .or_else(|| resp.expires().ok().flatten());
            match granted {
                Some(secs) if secs > 0 && !dereg => {
                    let ue = UeRegistration {
                        impu: impu.clone(),
                        contact: contact.clone(),
                        flow: store_flow(flow),
                        expires_at: now + u64::from(secs),
                        service_route: service_route.clone(),
                        associated_uris: associated.clone(),
                        security_association: sa.clone(),
                    };
                    self.store.put_ue_registration(&ue).await?;
                    let mut map = self.by_flow.write().unwrap_or_else(|p| p.into_inner());
                    let v = map.entry(flow.remote).or_default();
                    v.retain(|u| !(u.impu == ue.impu && u.contact == ue.contact));
                    v.push(ue);
                }
                _ => self.forget(&impu, &contact, flow.remote).await?,
            }
        }
        Ok(())
    }

    async fn forget(&self, impu: &str, contact: &str, remote: SocketAddr) -> Result<(), CscfError> {
        self.store.remove_ue_registration(impu, contact).await?;
        let mut map = self.by_flow.write().unwrap_or_else(|p| p.into_inner());
        if let Some(v) = map.get_mut(&remote) {
            v.retain(|u| !(u.impu == impu && u.contact == contact));
            if v.is_empty() {
                map.remove(&remote);
            }
        }
        Ok(())
    }

    /// A UE's registration is over (expired, or ended by the network's reg-event NOTIFY, TS 24.229
    /// §5.2.3): its security association goes — a TLS binding at once; ipsec-3gpp SAs through
    /// the deferred release, after the last response to the UE has left through them (TS 33.203
    /// §7.4) — and the registration is removed from the store.
    pub(crate) async fn end_registration(&self, ue: &UeRegistration) -> Result<(), CscfError> {
        let sa = ue.security_association.as_deref();
        if let Some(Some(conn)) = sa.and_then(sec_agree::bound_connection) {
            self.security.forget_connection(conn);
        } else if let Some(sa) = sa.filter(|s| sec_agree::bound_ipsec(s).is_some()) {
            self.security.forget_binding(sa);
        }
        self.forget(&ue.impu, &ue.contact, ue.flow.remote).await
    }

    /// TS 24.229 §5.2.6.3: a request (not REGISTER) from a UE: checks that the UE registered from
    /// this address, asserts its identity and routes it along its Service-Route.
    pub fn edit_originating(
        &self,
        req: &ProxyRequest,
        p: &mut Prepared,
        me: &ProxyConfig,
    ) -> Result<(), Rejection> {
        let mut regs = self.registrations_from(req.flow.remote);
        // a registration bound to a TLS connection is used only over that connection
        // (TS 24.229 §5.2.6.3.1, reference TLS call flows)
        // and one protected by IPsec only over its SAs: from the UE's port-c to our port-s
        // (TS 33.203 §7.1, TS 24.229 §5.2.6.3.1)
        regs.retain(|r| {
            let sa = r.security_association.as_deref();
            if let Some(p) = sa.and_then(sec_agree::bound_ipsec) {
                return req.flow.transport != sip_stack::Transport::Tls
                    && req.flow.local.port() == p.port_s
                    && req.flow.remote.port() == p.ue_port_c
                    && req.flow.local.ip() == r.flow.local.ip();
            }
            match sa.and_then(sec_agree::bound_connection) {
                Some(conn) => conn.is_some() && conn == req.flow.conn,
                None => true,
            }
        });
        if regs.is_empty() {
            return Err(Rejection::new(403, "Forbidden - not registered"));
        }
        let preferred = req
            .msg
            .header_value("P-Preferred-Identity")
            .and_then(|v| uri_in(&v))
            .map(|u| bare_uri(&u));
        let from = req.msg.from().ok().map(|f| bare_uri(&f.uri));
        let allowed = |id: &str| {
            regs.iter()
                .find(|r| r.associated_uris.iter().any(|a| same_identity(a, id)))
        };
        let (reg, asserted) = match preferred
            .as_deref()
            .or(from.as_deref())
            .and_then(|id| allowed(id).map(|r| (r, id.to_string())))
        {
            Some(x) => x,
            None => {
                // the default public identity: first of the implicit set (TS 24.229 §5.2.6.3.1)
                let r = &regs[0];
                let d = r.associated_uris.first().cloned().unwrap_or(r.impu.clone());
                (r, d)
            }
        };
        let ed = &mut p.editor;
        ed.remove("P-Preferred-Identity");
        ed.remove("P-Asserted-Identity");
        ed.remove("P-Charging-Vector");
        ed.append("P-Asserted-Identity", format_args!("<{asserted}>"))
            .map_err(internal)?;
        if matches!(
            req.msg.method(),
            Some(Method::Invite | Method::Message | Method::Subscribe | Method::Options)
        ) {
            ed.append(
                "P-Charging-Vector",
                self.icid.vector(&me.host, self.cfg.orig_ioi.as_deref()),
            )
            .map_err(internal)?;
        }
        // the route is the Service-Route the UE registered with (TS 24.229 §5.2.6.3.1)
        let in_dialog = req.msg.to().map(|t| t.tag().is_some()).unwrap_or(false);
        if !in_dialog && !reg.service_route.is_empty() {
            ed.remove(HeaderName::Route);
            for r in &reg.service_route {
                ed.append(HeaderName::Route, r).map_err(internal)?;
            }
            if let Some(first) = reg.service_route.first().and_then(|r| uri_in(r)) {
                p.next_hop = first;
            }
        }
        Ok(())
    }

    /// TS 24.229 §5.2.6.4: the flow to the UE for a request from the core whose top Route is our
    /// Path URI — only if a UE registered over that flow.
    pub fn terminating_flow(&self, req: &Message, me: &ProxyConfig) -> Option<Flow> {
        let routes = req.route().ok()?;
        let top = routes.first()?;
        if !me.is_local(&top.uri) {
            return None;
        }
        let user = top.uri.as_sip()?.user.as_ref()?.to_string();
        let flow = flow_token::decode(&user)?;
        let regs = self.registrations_from(flow.remote);
        let first = regs.first()?;
        // IPsec: from our port-c to the UE's port-s (TS 33.203 §7.1, the reference trace's NOTIFY)
        if let Some(p) = first
            .security_association
            .as_deref()
            .and_then(sec_agree::bound_ipsec)
        {
            return Some(Flow {
                transport: flow.transport,
                local: SocketAddr::new(flow.local.ip(), p.port_c),
                remote: SocketAddr::new(flow.remote.ip(), p.ue_port_s),
                conn: None,
            });
        }
        Some(flow)
    }

    /// Housekeeping: forgets registrations past their expiry and keys nobody took.
    pub async fn tick(&self) -> Result<usize, CscfError> {
        let now = unix_now();
        let expired = self.store.ue_registrations_expiring_before(now + 1).await?;
        let n = expired.len();
        for ue in expired {
            self.end_registration(&ue).await?;
        }
        let ttl = Duration::from_secs(self.cfg.key_lifetime_secs);
        // security associations whose UE never completed registration (TS 33.203 §7.4 pending)
        let pending = self
            .cfg
            .ipsec
            .as_ref()
            .map_or(ttl, |i| Duration::from_secs(i.pending_secs));
        self.security.expire_pending(pending);
        // deferred SA removals (after the last response went out through them)
        self.security.tick();
        self.keys
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|_, k| k.received.elapsed() < ttl);
        Ok(n)
    }
}

/// Whether a request from a UE is REGISTER (its own procedure) or needs a registration.
pub fn needs_registration(req: &Message) -> bool {
    !matches!(
        req.method(),
        Some(Method::Register | Method::Ack | Method::Cancel)
    )
}
