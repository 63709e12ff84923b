//! The S-CSCF registrar (TS 24.229 §5.4.1; Cx procedures of TS 29.228 §6.1.2, §6.3), as an
//! async API independent of the SIP transport: [`Registrar::handle_register`] takes a REGISTER
//! and returns the response to send.
//!
//! - Initial REGISTER (or one without usable credentials): MAR, then 401 with
//!   `WWW-Authenticate: Digest realm, nonce=base64(RAND‖AUTN), algorithm, qop="auth", ck, ik`
//!   (§5.4.1.2.1). The challenge (IMPI, nonce, XRES, expiry, single use) goes to the
//!   [`RegistrationStore`], so the answering REGISTER verifies on any registrar sharing it.
//! - Answer to a challenge: the nonce is taken from the store atomically (single use); `nc` must
//!   be new; `auts` triggers a resynchronisation MAR (RAND‖AUTS) and a new 401; the response is
//!   checked in constant time against the one computed from XRES; a wrong one gets 403 and
//!   SAR AUTHENTICATION_FAILURE; an unknown or expired nonce 401 `stale=true` with a new challenge.
//! - Authenticated: SAR REGISTRATION (RE_REGISTRATION when already registered), the bindings
//!   written to the store, then 200 OK with the Contacts and their expiry, Service-Route,
//!   P-Associated-URI (the implicit registration set without barred identities), Path, Date
//!   (§5.4.1.2.2). Intervals outside the configured bounds are shortened or rejected with 423.
//! - Re-REGISTER with `integrity-protected="yes"` (or `tls-yes`, `ip-assoc-yes`) from a
//!   registered UE: accepted without a challenge unless
//!   [`ScscfConfig::rechallenge_protected_reregister`] (§5.4.1.2.1).
//! - De-registration (`Expires: 0`, `Contact: *`): bindings removed, SAR USER_DEREGISTRATION
//!   when none is left (§5.4.1.4). Expiry ([`Registrar::tick`]): SAR TIMEOUT_DEREGISTRATION
//!   (§5.4.1.5); unanswered challenges: SAR AUTHENTICATION_TIMEOUT (§5.4.1.2.1).
//! - Network-initiated de-registration by the HSS ([`Registrar::handle_rtr`], TS 29.228 §6.1.3).
//! - The reg event package ([`regevent`], RFC 3680, TS 24.229 §5.4.2): SUBSCRIBE through
//!   [`Registrar::handle_subscribe`]; every change above (registered, refreshed, shortened,
//!   unregistered, expired, deactivated, rejected) NOTIFYs the subscriptions of the
//!   registration, through the outbox of [`Registrar::reg_event`].
//!
//! Registrations are keyed by the IMPU of the REGISTER's To header (its URI without
//! parameters). Metrics: counter `imscore_registrations_total{outcome}`.

mod auth;
mod bindings;
mod config;
pub mod regevent;
mod reply;

pub use config::ScscfConfig;

use std::sync::Arc;
use std::time::SystemTime;

use base64::Engine as _;
use bytes::{Bytes, BytesMut};
use cx::enums::{ServerAssignmentType, UserDataAlreadyAvailable};
use cx::{
    AnswerCommon, CxResult, PushProfileAnswer, PushProfileRequest, RegistrationTerminationAnswer,
    RegistrationTerminationRequest,
};
use sip::{AuthHeader, HeaderName, Message, Uri};

use crate::cx_client::CxClient;
use crate::store::{
    AuthChallenge, CasOutcome, Flow, Registration, RegistrationStore, UnixSecs, Version, ABSENT,
};
use crate::CscfError;

use bindings::{Refresh, Rejected, Request};
use reply::{finish, simple, status_for_cx, unavailable, unix};

/// How often a compare-and-set write is retried after losing a race before giving up (500).
const CAS_ATTEMPTS: usize = 8;

/// What one [`Registrar::tick`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TickReport {
    /// Bindings removed because they expired.
    pub expired_contacts: usize,
    /// Registrations (AoRs) removed with SAR TIMEOUT_DEREGISTRATION.
    pub deregistered: Vec<String>,
    /// Registrations whose expiry lost a race against a re-REGISTER (left alone).
    pub raced: usize,
    /// IMPIs whose challenge expired unanswered (SAR AUTHENTICATION_TIMEOUT sent unless the user
    /// was registered).
    pub auth_timeouts: Vec<String>,
    /// SARs that failed (transport or non-success answer).
    pub sar_failures: usize,
    /// Store errors met (the work is retried at the next tick).
    pub store_errors: usize,
    /// Reg-event subscriptions that expired (final NOTIFY with `terminated;reason=timeout`).
    pub subscriptions_expired: usize,
}

/// The S-CSCF registrar. Cheap to share behind an `Arc`; all state is in the store.
pub struct Registrar {
    cfg: ScscfConfig,
    cx: Arc<CxClient>,
    store: Arc<dyn RegistrationStore>,
    /// `<sip:orig@host:port;lr>`.
    service_route: String,
    /// The reg-event notifier.
    reg_event: regevent::RegEvent,
}

impl std::fmt::Debug for Registrar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registrar")
            .field("server_name", &self.cfg.server_name)
            .finish()
    }
}

/// How a REGISTER ended, for the metrics.
#[derive(Clone, Copy)]
enum Outcome {
    Challenged,
    Stale,
    Registered,
    Reregistered,
    Deregistered,
    AuthFailed,
    Rejected,
    Error,
}

impl Outcome {
    fn label(self) -> &'static str {
        match self {
            Outcome::Challenged => "challenged",
            Outcome::Stale => "stale",
            Outcome::Registered => "registered",
            Outcome::Reregistered => "reregistered",
            Outcome::Deregistered => "deregistered",
            Outcome::AuthFailed => "auth_failed",
            Outcome::Rejected => "rejected",
            Outcome::Error => "error",
        }
    }
}

/// Why a SAR for a registration did not give a profile.
enum SarRefused {
    /// No answer (timeout, no peer).
    Unavailable(CscfError),
    /// An answer we turn into this SIP status.
    Status(u16, &'static str),
}

/// The integrity-protected values meaning "this UE is protected" (TS 24.229 §7.2A.2).
fn is_protected(creds: Option<&AuthHeader>) -> bool {
    creds
        .and_then(AuthHeader::integrity_protected)
        .is_some_and(|v| {
            ["yes", "tls-yes", "ip-assoc-yes"]
                .iter()
                .any(|p| v.eq_ignore_ascii_case(p))
        })
}

/// The implicit registration set of `aor` in a user profile (TS 29.228 Annex B): `aor` first,
/// then every identity that is neither barred nor a wildcarded PSI; `None` when `aor` is barred.
fn implicit_set_of(profile: &cx::ImsSubscription, aor: &str) -> Option<Vec<String>> {
    let ids = || {
        profile
            .service_profiles
            .iter()
            .flat_map(|p| &p.public_identities)
    };
    if ids().any(|i| i.barring_indication && i.identity == aor) {
        return None;
    }
    let mut set = vec![aor.to_string()];
    for id in ids().filter(|i| !i.barring_indication && i.wildcarded_psi.is_none()) {
        if !set.contains(&id.identity) {
            set.push(id.identity.clone());
        }
    }
    Some(set)
}

/// The IMPU a URI stands for: a SIP URI without parameters or headers, a tel URI as is
/// (TS 23.003 §13.4).
fn aor_of(uri: &Uri) -> Option<String> {
    match uri {
        Uri::Sip(s) => {
            let mut bare = sip::SipUri::new(s.host.clone());
            bare.secure = s.secure;
            bare.user = s.user.clone();
            bare.port = s.port;
            Some(bare.to_string())
        }
        Uri::Tel(_) => Some(uri.to_string()),
        Uri::Other(_) => None,
    }
}

/// The IMPI derived from a SIP IMPU when the REGISTER carries no Authorization
/// (TS 33.203 §6.1: the UE's identities; TS 23.003 §13.3 form `user@realm`).
fn impi_from_impu(aor: &str) -> Option<String> {
    let rest = aor
        .strip_prefix("sip:")
        .or_else(|| aor.strip_prefix("sips:"))?;
    let impi = rest.split([';', '?']).next()?;
    valid_impi(impi).then(|| impi.to_string())
}

/// A private identity is an NAI `username@realm` (TS 23.003 §13.3, RFC 7542 §2.2).
fn valid_impi(s: &str) -> bool {
    let Some((user, realm)) = s.split_once('@') else {
        return false;
    };
    !user.is_empty()
        && !realm.is_empty()
        && s.len() <= 253
        && !realm.contains('@')
        && s.bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'<' | b'>' | b'"' | b'\\' | b','))
}

impl Registrar {
    /// A registrar asking the HSS through `cx` and keeping its state in `store`.
    pub fn new(cfg: ScscfConfig, cx: Arc<CxClient>, store: Arc<dyn RegistrationStore>) -> Self {
        let host_port = Uri::parse(&cfg.server_name)
            .ok()
            .and_then(|u| {
                u.as_sip().map(|s| match s.port {
                    Some(p) => format!("{}:{p}", s.host),
                    None => s.host.to_string(),
                })
            })
            .unwrap_or_else(|| {
                cfg.server_name
                    .trim_start_matches("sip:")
                    .trim_start_matches("sips:")
                    .to_string()
            });
        let service_route = format!("<sip:{}@{host_port};lr>", cfg.service_route_user);
        let reg_event = regevent::RegEvent::new(
            store.clone(),
            regevent::subscription::ExpiresPolicy {
                min: cfg.subscription_min_expires,
                max: cfg
                    .subscription_max_expires
                    .max(cfg.subscription_min_expires),
                default: cfg.subscription_default_expires,
            },
            cfg.server_name.clone(),
        );
        Self {
            cfg,
            cx,
            store,
            service_route,
            reg_event,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ScscfConfig {
        &self.cfg
    }

    /// The reg-event notifier (its outbox carries the NOTIFYs to send).
    pub fn reg_event(&self) -> &regevent::RegEvent {
        &self.reg_event
    }

    /// A SUBSCRIBE to the reg event (RFC 3680, TS 24.229 §5.4.2.1.1); returns the response, the
    /// NOTIFY goes to the outbox.
    pub async fn handle_subscribe(&self, req: &Message) -> Message {
        self.handle_subscribe_at(req, SystemTime::now()).await
    }

    /// [`Self::handle_subscribe`] at the time `now` (simulated clocks in tests).
    pub async fn handle_subscribe_at(&self, req: &Message, now: SystemTime) -> Message {
        let now = unix(now);
        let reg = match regevent::RegEvent::resource_of(req) {
            Some(aor) => match self.store.get_registration(&aor).await {
                Ok(r) => r.map(|v| v.value).and_then(|mut r| {
                    r.contacts.retain(|c| c.expires_at > now);
                    (!r.contacts.is_empty()).then_some(r)
                }),
                Err(e) => {
                    tracing::warn!(error = %e, "reading a registration for SUBSCRIBE failed");
                    None
                }
            },
            None => None,
        };
        self.reg_event.subscribe(req, reg, now).await
    }

    /// Tells the reg-event subscribers of `aor` about a change (errors logged).
    async fn announce(
        &self,
        aor: &str,
        before: Option<&Registration>,
        after: Option<&Registration>,
        cause: regevent::Cause,
        now: UnixSecs,
    ) {
        if let Err(e) = self.reg_event.changed(aor, before, after, cause, now).await {
            tracing::warn!(aor, error = %e, "reg-event NOTIFYs failed");
        }
    }

    /// Handles a REGISTER (already passed the transaction layer); returns the full response.
    pub async fn handle_register(&self, req: &Message, flow: &sip_stack::Flow) -> Message {
        let now = unix(SystemTime::now());
        let (outcome, resp) = self.register(req, flow, now).await;
        metrics::counter!("imscore_registrations_total", "outcome" => outcome.label()).increment(1);
        resp
    }

    async fn register(
        &self,
        req: &Message,
        flow: &sip_stack::Flow,
        now: UnixSecs,
    ) -> (Outcome, Message) {
        let bad = |why: &str| {
            tracing::debug!(why, "REGISTER rejected with 400");
            (Outcome::Rejected, simple(req, 400, "Bad Request"))
        };
        let Ok(to) = req.to() else {
            return bad("To");
        };
        let Some(aor) = aor_of(&to.uri) else {
            return bad("To URI scheme");
        };
        let (Ok(call_id), Ok(cseq)) = (req.call_id(), req.cseq()) else {
            return bad("Call-ID/CSeq");
        };
        let Ok(path) = req.path() else {
            return bad("Path");
        };
        let path: Vec<String> = path.iter().map(ToString::to_string).collect();
        let request = match bindings::requested(req, &self.cfg) {
            Ok(r) => r,
            Err(Rejected::Bad(why)) => return bad(&why),
            Err(Rejected::TooBrief) => {
                let b = sip_stack::ua::response(req, 423, "Interval Too Brief", None)
                    .header(HeaderName::MinExpires, self.cfg.min_expires);
                return (Outcome::Rejected, finish(b, req));
            }
        };
        let Ok(all_creds) = req.authorizations() else {
            return bad("Authorization");
        };
        // Several Authorization headers: ours is the one for our realm (RFC 3261 §22.4).
        let creds = all_creds
            .iter()
            .filter(|a| a.is_digest())
            .find(|a| {
                a.realm()
                    .is_some_and(|r| r.eq_ignore_ascii_case(&self.cfg.realm))
            })
            .or_else(|| all_creds.iter().find(|a| a.is_digest()));
        let impi = match creds.and_then(AuthHeader::username) {
            Some(u) if valid_impi(u) => u.to_string(),
            Some(_) => return (Outcome::Rejected, simple(req, 403, "Forbidden")),
            None => match impi_from_impu(&aor) {
                Some(i) => i,
                None => return (Outcome::Rejected, simple(req, 403, "Forbidden")),
            },
        };
        let existing = match self.store.get_registration(&aor).await {
            Ok(r) => r,
            Err(e) => return (Outcome::Error, unavailable(req, &e)),
        };
        let registered = existing.as_ref().is_some_and(|r| {
            r.value.impi == impi && r.value.contacts.iter().any(|c| c.expires_at > now)
        });

        // ---- authentication (TS 24.229 §5.4.1.2.1) ----
        let skip_auth =
            registered && is_protected(creds) && !self.cfg.rechallenge_protected_reregister;
        if !skip_auth {
            let nonce = creds.and_then(AuthHeader::nonce).filter(|n| !n.is_empty());
            let (Some(creds), Some(nonce)) = (creds, nonce) else {
                return self.challenge(req, &impi, &aor, false, None, now).await;
            };
            let ch = match self.store.take_challenge(&impi, nonce).await {
                Ok(c) => c,
                Err(e) => return (Outcome::Error, unavailable(req, &e)),
            };
            let ch = match ch {
                Some(c) if !c.is_expired(now) && c.impu == aor => c,
                _ => return self.challenge(req, &impi, &aor, true, None, now).await,
            };
            if let Some(auts) = creds.auts() {
                return self.resync(req, &ch, auts, now).await;
            }
            if creds.response() == Some("") {
                // TS 24.229 §5.4.1.2.3: the nonce echoed with an empty response and no auts is the
                // UE refusing the network (MAC failure): 403, as for a wrong response
                return self.auth_failure(req, &ch, registered).await;
            }
            match auth::verify(&ch, creds, &self.cfg.realm) {
                auth::Verdict::Authenticated => {}
                auth::Verdict::Wrong => return self.auth_failure(req, &ch, registered).await,
                auth::Verdict::Replayed => {
                    return self.challenge(req, &impi, &aor, true, None, now).await
                }
                auth::Verdict::Malformed(why) => return bad(&why),
            }
        }

        // ---- bindings (RFC 3261 §10.3 steps 6-8, TS 24.229 §5.4.1.2.2, §5.4.1.4) ----
        let refresh = Refresh {
            call_id: call_id.as_ref(),
            cseq: cseq.seq,
            path: &path,
            flow: Some(Flow {
                transport: flow.transport.as_str().to_string(),
                remote: flow.remote,
                local: flow.local,
            }),
            now,
        };
        self.bind(req, &aor, &impi, &request, &refresh, existing, registered)
            .await
    }

    /// Writes the bindings (with SAR as needed) and builds the final response.
    #[allow(clippy::too_many_arguments)]
    async fn bind(
        &self,
        req: &Message,
        aor: &str,
        impi: &str,
        request: &Request,
        refresh: &Refresh<'_>,
        mut existing: Option<crate::store::Versioned<Registration>>,
        was_registered: bool,
    ) -> (Outcome, Message) {
        let mut implicit: Option<Vec<String>> = None;
        for _ in 0..CAS_ATTEMPTS {
            let version = existing.as_ref().map_or(ABSENT, |v| v.version);
            let before = existing.as_ref().map(|v| v.value.clone());
            let mut reg = existing.take().map(|v| v.value).unwrap_or(Registration {
                aor: aor.to_string(),
                impi: impi.to_string(),
                implicit_set: vec![aor.to_string()],
                contacts: Vec::new(),
            });
            reg.impi = impi.to_string();
            if bindings::apply(&mut reg, request, refresh).is_err() {
                return (Outcome::Rejected, simple(req, 500, "Out of Order CSeq"));
            }
            let written = if reg.contacts.is_empty() {
                if version == ABSENT {
                    return (Outcome::Deregistered, self.ok(req, &reg, refresh.now));
                }
                self.store
                    .remove_registration_if_version(aor, version)
                    .await
            } else {
                if implicit.is_none() {
                    let t = if was_registered {
                        ServerAssignmentType::ReRegistration
                    } else {
                        ServerAssignmentType::Registration
                    };
                    match self.sar_for_registration(impi, aor, t).await {
                        Ok(set) => implicit = Some(set),
                        Err(SarRefused::Unavailable(e)) => {
                            return (Outcome::Error, unavailable(req, &e))
                        }
                        Err(SarRefused::Status(code, reason)) => {
                            return (Outcome::Rejected, simple(req, code, reason))
                        }
                    }
                }
                if let Some(set) = &implicit {
                    reg.implicit_set = set.clone();
                }
                self.store
                    .update_registration_if_version(&reg, version)
                    .await
            };
            match written {
                Ok(CasOutcome::Applied(_)) => {
                    self.announce(
                        aor,
                        before.as_ref(),
                        Some(&reg),
                        regevent::Cause::Register,
                        refresh.now,
                    )
                    .await;
                    if reg.contacts.is_empty() {
                        self.sar_quiet(
                            impi,
                            &reg.implicit_set,
                            ServerAssignmentType::UserDeregistration,
                        )
                        .await;
                        return (Outcome::Deregistered, self.ok(req, &reg, refresh.now));
                    }
                    let o = if was_registered {
                        Outcome::Reregistered
                    } else {
                        Outcome::Registered
                    };
                    return (o, self.ok(req, &reg, refresh.now));
                }
                Ok(CasOutcome::Stale) => match self.store.get_registration(aor).await {
                    Ok(r) => existing = r,
                    Err(e) => return (Outcome::Error, unavailable(req, &e)),
                },
                Err(e) => return (Outcome::Error, unavailable(req, &e)),
            }
        }
        (Outcome::Error, simple(req, 500, "Server Internal Error"))
    }

    /// SAR REGISTRATION / RE_REGISTRATION; returns the implicit registration set from the
    /// User-Data (barred identities left out, the registered IMPU first), or the response to send.
    async fn sar_for_registration(
        &self,
        impi: &str,
        aor: &str,
        t: ServerAssignmentType,
    ) -> Result<Vec<String>, SarRefused> {
        let data = if t == ServerAssignmentType::ReRegistration {
            UserDataAlreadyAvailable::UserDataAlreadyAvailable
        } else {
            UserDataAlreadyAvailable::UserDataNotAvailable
        };
        let saa = match self
            .cx
            .sar(
                Some(impi),
                &[aor.to_string()],
                &self.cfg.server_name,
                t,
                data,
            )
            .await
        {
            Ok(a) => a,
            Err(e) => return Err(SarRefused::Unavailable(e)),
        };
        if !saa.common.result.is_success() {
            let (code, reason) = status_for_cx(&saa.common.result);
            return Err(SarRefused::Status(code, reason));
        }
        match saa.user_data() {
            Ok(Some(profile)) => implicit_set_of(&profile, aor)
                // TS 24.229 §5.4.1.2.1: a barred IMPU cannot be registered.
                .ok_or(SarRefused::Status(403, "Forbidden")),
            Ok(None) => Ok(vec![aor.to_string()]),
            Err(e) => {
                tracing::warn!(error = %e, "SAA User-Data unreadable; implicit set = IMPU");
                Ok(vec![aor.to_string()])
            }
        }
    }

    /// A SAR whose outcome does not change our answer; failures are logged and counted.
    async fn sar_quiet(&self, impi: &str, impus: &[String], t: ServerAssignmentType) -> bool {
        match self
            .cx
            .sar(
                Some(impi),
                impus,
                &self.cfg.server_name,
                t,
                UserDataAlreadyAvailable::UserDataAlreadyAvailable,
            )
            .await
        {
            Ok(a) if a.common.result.is_success() => true,
            Ok(a) => {
                tracing::warn!(impi, result = a.common.result.code(), sar = ?t, "SAR refused");
                false
            }
            Err(e) => {
                tracing::warn!(impi, error = %e, sar = ?t, "SAR failed");
                false
            }
        }
    }

    /// The 200 OK (RFC 3261 §10.3 step 8; TS 24.229 §5.4.1.2.2).
    fn ok(&self, req: &Message, reg: &Registration, now: UnixSecs) -> Message {
        let mut b = sip_stack::ua::response(req, 200, "OK", None);
        for c in &reg.contacts {
            let mut v = format!("<{}>", c.uri);
            if let Some(i) = &c.instance {
                v.push_str(&format!(";+sip.instance=\"{}\"", i.replace('"', "")));
            }
            if let Some(r) = c.reg_id {
                v.push_str(&format!(";reg-id={r}"));
            }
            v.push_str(&format!(";expires={}", c.expires_at.saturating_sub(now)));
            b = b.header(HeaderName::Contact, v);
        }
        if let Ok(path) = req.path() {
            b = b.headers(HeaderName::Path, path.iter());
        }
        if !reg.contacts.is_empty() {
            b = b.header(HeaderName::ServiceRoute, &self.service_route);
            for id in &reg.implicit_set {
                b = b.header(HeaderName::PAssociatedUri, format!("<{id}>"));
            }
        }
        b = b.header(HeaderName::Date, reply::http_date(now));
        finish(b, req)
    }

    /// MAR, then 401 with a new challenge stored (TS 24.229 §5.4.1.2.1). `auts_data` is
    /// RAND‖AUTS for a resynchronisation.
    async fn challenge(
        &self,
        req: &Message,
        impi: &str,
        aor: &str,
        stale: bool,
        auts_data: Option<(Bytes, &str)>,
        now: UnixSecs,
    ) -> (Outcome, Message) {
        let scheme = match &auts_data {
            Some((_, alg)) => format!("Digest-{alg}"),
            None => self.cfg.auth_scheme.clone(),
        };
        let maa = match self
            .cx
            .mar(
                impi,
                aor,
                &scheme,
                auts_data.map(|(b, _)| b),
                self.cfg.auth_items.max(1),
                &self.cfg.server_name,
            )
            .await
        {
            Ok(a) => a,
            Err(e) => return (Outcome::Error, unavailable(req, &e)),
        };
        if !maa.common.result.is_success() {
            let (code, reason) = status_for_cx(&maa.common.result);
            tracing::info!(impi, aor, result = maa.common.result.code(), "MAR refused");
            return (Outcome::Rejected, simple(req, code, reason));
        }
        let Some(item) = maa.sip_auth_data_items.first() else {
            tracing::warn!(impi, "MAA without SIP-Auth-Data-Item");
            return (Outcome::Error, simple(req, 500, "Server Internal Error"));
        };
        let new = match auth::challenge_from_item(
            item,
            impi,
            aor,
            &self.cfg.realm,
            now,
            self.cfg.challenge_lifetime_secs,
        ) {
            Ok(c) => c,
            Err(why) => {
                tracing::warn!(impi, why, "unusable authentication vector");
                return (Outcome::Error, simple(req, 500, "Server Internal Error"));
            }
        };
        if let Err(e) = self.store.put_challenge(&new.stored).await {
            return (Outcome::Error, unavailable(req, &e));
        }
        let mut header = new.header;
        if stale {
            header = header.with_token("stale", "TRUE");
        }
        let b = sip_stack::ua::response(req, 401, "Unauthorized", None)
            .header(HeaderName::WwwAuthenticate, header);
        let o = if stale {
            Outcome::Stale
        } else {
            Outcome::Challenged
        };
        (o, finish(b, req))
    }

    /// `auts` in the answer to an AKA challenge: the UE's SQN is out of range; MAR with
    /// RAND‖AUTS (TS 33.203 §6.1.2, TS 29.228 §6.3.1) and a new challenge.
    async fn resync(
        &self,
        req: &Message,
        ch: &AuthChallenge,
        auts: &str,
        now: UnixSecs,
    ) -> (Outcome, Message) {
        let Ok(auts) = base64::engine::general_purpose::STANDARD.decode(auts.as_bytes()) else {
            return (Outcome::Rejected, simple(req, 400, "Bad Request"));
        };
        if auts.len() != 14 || ch.algorithm.eq_ignore_ascii_case("MD5") {
            return (Outcome::Rejected, simple(req, 400, "Bad Request"));
        }
        let mut data = BytesMut::with_capacity(30);
        data.extend_from_slice(&ch.rand);
        data.extend_from_slice(&auts);
        self.challenge(
            req,
            &ch.impi,
            &ch.impu,
            false,
            Some((data.freeze(), &ch.algorithm)),
            now,
        )
        .await
    }

    /// Wrong response: 403 and, unless the user is registered, SAR AUTHENTICATION_FAILURE
    /// (TS 24.229 §5.4.1.2.1, TS 29.228 §6.1.2).
    async fn auth_failure(
        &self,
        req: &Message,
        ch: &AuthChallenge,
        registered: bool,
    ) -> (Outcome, Message) {
        tracing::info!(impi = %ch.impi, impu = %ch.impu, "authentication failed");
        if !registered {
            self.sar_quiet(
                &ch.impi,
                std::slice::from_ref(&ch.impu),
                ServerAssignmentType::AuthenticationFailure,
            )
            .await;
        }
        (Outcome::AuthFailed, simple(req, 403, "Forbidden"))
    }

    /// Housekeeping, to be called about every second: expired bindings are removed (SAR
    /// TIMEOUT_DEREGISTRATION when none is left, TS 24.229 §5.4.1.5), compare-and-set so a racing
    /// re-REGISTER wins; challenges unanswered past their lifetime get SAR AUTHENTICATION_TIMEOUT
    /// (TS 24.229 §5.4.1.2.1) unless the user is registered.
    pub async fn tick(&self, now: SystemTime) -> TickReport {
        let now = unix(now);
        let mut report = TickReport::default();
        match self.store.registrations_expiring_before(now + 1).await {
            Ok(due) => {
                for e in due {
                    self.expire(&e.aor, e.version, now, &mut report).await;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "listing expiring registrations failed");
                report.store_errors += 1;
            }
        }
        match self.reg_event.expire(now).await {
            Ok(n) => report.subscriptions_expired += n,
            Err(e) => {
                tracing::warn!(error = %e, "expiring reg subscriptions failed");
                report.store_errors += 1;
            }
        }
        match self.store.purge_expired_challenges(now).await {
            Ok(expired) => {
                for ch in expired {
                    let registered = match self.store.get_registration(&ch.impu).await {
                        Ok(r) => r.is_some_and(|r| {
                            r.value.impi == ch.impi
                                && r.value.contacts.iter().any(|c| c.expires_at > now)
                        }),
                        Err(_) => {
                            report.store_errors += 1;
                            false
                        }
                    };
                    if !registered
                        && !self
                            .sar_quiet(
                                &ch.impi,
                                std::slice::from_ref(&ch.impu),
                                ServerAssignmentType::AuthenticationTimeout,
                            )
                            .await
                    {
                        report.sar_failures += 1;
                    }
                    report.auth_timeouts.push(ch.impi);
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "purging expired challenges failed");
                report.store_errors += 1;
            }
        }
        report
    }

    /// Removes the expired bindings of `aor` if it is still at `version`.
    async fn expire(&self, aor: &str, version: Version, now: UnixSecs, report: &mut TickReport) {
        let reg = match self.store.get_registration(aor).await {
            Ok(Some(r)) if r.version == version => r.value,
            Ok(_) => {
                report.raced += 1;
                return;
            }
            Err(_) => {
                report.store_errors += 1;
                return;
            }
        };
        let mut left = reg.clone();
        left.contacts.retain(|c| c.expires_at > now);
        let removed = reg.contacts.len() - left.contacts.len();
        let outcome = if left.contacts.is_empty() {
            self.store
                .remove_registration_if_version(aor, version)
                .await
        } else {
            self.store
                .update_registration_if_version(&left, version)
                .await
        };
        match outcome {
            Ok(CasOutcome::Applied(_)) => {
                report.expired_contacts += removed;
                self.announce(aor, Some(&reg), Some(&left), regevent::Cause::Expiry, now)
                    .await;
                if left.contacts.is_empty() {
                    if !self
                        .sar_quiet(
                            &reg.impi,
                            &reg.implicit_set,
                            ServerAssignmentType::TimeoutDeregistration,
                        )
                        .await
                    {
                        report.sar_failures += 1;
                    }
                    metrics::counter!("imscore_registrations_total", "outcome" => "expired")
                        .increment(1);
                    report.deregistered.push(aor.to_string());
                }
            }
            Ok(CasOutcome::Stale) => report.raced += 1,
            Err(_) => report.store_errors += 1,
        }
    }

    /// The registration of `impu` (its bindings not yet expired), for routing terminating
    /// requests and for the reg event package.
    pub async fn lookup(&self, impu: &str) -> Result<Option<Registration>, CscfError> {
        let key = Uri::parse(impu)
            .ok()
            .and_then(|u| aor_of(&u))
            .unwrap_or_else(|| impu.to_string());
        let now = unix(SystemTime::now());
        Ok(self.store.get_registration(&key).await?.and_then(|v| {
            let mut r = v.value;
            r.contacts.retain(|c| c.expires_at > now);
            (!r.contacts.is_empty()).then_some(r)
        }))
    }

    /// Answers an RTR (network-initiated de-registration, TS 29.228 §6.1.3, TS 24.229
    /// §5.4.1.5): removes the registrations of the listed public identities of the IMPI.
    /// Answers DIAMETER_SUCCESS with the IMPI in Associated-Identities.
    pub async fn handle_rtr(
        &self,
        rtr: RegistrationTerminationRequest,
    ) -> RegistrationTerminationAnswer {
        let cxc = self.cx.config();
        let mut result = CxResult::SUCCESS;
        let now = unix(SystemTime::now());
        // TS 24.229 §5.4.1.5: PERMANENT_TERMINATION → `rejected` (no re-registration), any other
        // reason → `deactivated` (the UE registers again)
        let cause = regevent::Cause::Network {
            reregister: rtr.deregistration_reason.reason_code
                != cx::enums::ReasonCode::PermanentTermination,
        };
        for impu in &rtr.public_identities {
            let key = Uri::parse(impu)
                .ok()
                .and_then(|u| aor_of(&u))
                .unwrap_or_else(|| impu.clone());
            match self.store.get_registration(&key).await {
                Ok(Some(r)) if r.value.impi == rtr.user_name => {
                    if let Err(e) = self.store.remove_registration(&key).await {
                        tracing::warn!(error = %e, impu, "RTR: removing the registration failed");
                        result = CxResult::ResultCode(cx::result::base::DIAMETER_UNABLE_TO_COMPLY);
                    } else {
                        self.announce(&key, Some(&r.value), None, cause, now).await;
                        metrics::counter!("imscore_registrations_total", "outcome" => "network_deregistered")
                            .increment(1);
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, impu, "RTR: reading the registration failed");
                    result = CxResult::ResultCode(cx::result::base::DIAMETER_UNABLE_TO_COMPLY);
                }
            }
        }
        RegistrationTerminationAnswer {
            common: AnswerCommon::answering(
                &rtr.common,
                cxc.origin_host.clone(),
                cxc.origin_realm.clone(),
                result,
            ),
            associated_identities: Some(vec![rtr.user_name.clone()]),
        }
    }

    /// Answers a PPR (HSS-initiated profile update, TS 29.228 §6.2.2, TS 24.229 §5.4.1.7): the
    /// implicit registration set of each registration of the IMPI is re-read from the new
    /// User-Data and stored, and reg-event subscribers hear of the identities added or removed. An unreadable User-Data gets
    /// DIAMETER_ERROR_NOT_SUPPORTED_USER_DATA; a PPR without one (charging or auth data only)
    /// changes nothing here and gets DIAMETER_SUCCESS.
    pub async fn handle_ppr(&self, ppr: PushProfileRequest) -> PushProfileAnswer {
        let cxc = self.cx.config();
        let answer = |result| PushProfileAnswer {
            common: AnswerCommon::answering(
                &ppr.common,
                cxc.origin_host.clone(),
                cxc.origin_realm.clone(),
                result,
            ),
        };
        let profile = match ppr.user_data() {
            Ok(Some(p)) => p,
            Ok(None) => return answer(CxResult::SUCCESS),
            Err(e) => {
                tracing::warn!(impi = %ppr.user_name, error = %e, "PPR User-Data unreadable");
                return answer(CxResult::Experimental {
                    vendor_id: 10415,
                    code: 5009,
                });
            }
        };
        let impus: Vec<String> = profile
            .service_profiles
            .iter()
            .flat_map(|p| &p.public_identities)
            .map(|i| i.identity.clone())
            .collect();
        let mut result = CxResult::SUCCESS;
        for impu in &impus {
            for _ in 0..CAS_ATTEMPTS {
                let cur = match self.store.get_registration(impu).await {
                    Ok(Some(r)) if r.value.impi == ppr.user_name => r,
                    Ok(_) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, impu, "PPR: reading the registration failed");
                        result = CxResult::ResultCode(cx::result::base::DIAMETER_UNABLE_TO_COMPLY);
                        break;
                    }
                };
                let Some(set) = implicit_set_of(&profile, impu) else {
                    break; // now barred: left to the HSS's de-registration
                };
                if set == cur.value.implicit_set {
                    break;
                }
                let mut next = cur.value.clone();
                next.implicit_set = set;
                match self
                    .store
                    .update_registration_if_version(&next, cur.version)
                    .await
                {
                    Ok(CasOutcome::Applied(_)) => {
                        tracing::info!(impu, "profile updated by PPR");
                        let now = unix(SystemTime::now());
                        if let Err(e) = self.reg_event.set_changed(&cur.value, &next, now).await {
                            tracing::warn!(impu, error = %e, "reg-event NOTIFYs after PPR failed");
                        }
                        break;
                    }
                    Ok(CasOutcome::Stale) => continue,
                    Err(e) => {
                        tracing::warn!(error = %e, impu, "PPR: writing the registration failed");
                        result = CxResult::ResultCode(cx::result::base::DIAMETER_UNABLE_TO_COMPLY);
                        break;
                    }
                }
            }
        }
        answer(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn impi_rules() {
        assert!(valid_impi("alice@ims.example"));
        assert!(!valid_impi("alice"));
        assert!(!valid_impi("@ims.example"));
        assert!(!valid_impi("alice@"));
        assert!(!valid_impi("a b@ims.example"));
        assert!(!valid_impi("a@b@c"));
        assert_eq!(
            impi_from_impu("sip:alice@ims.example").as_deref(),
            Some("alice@ims.example")
        );
        assert_eq!(impi_from_impu("tel:+1555"), None);
    }

    #[test]
    fn aor_drops_parameters() {
        let u = Uri::parse("sip:alice@ims.example;transport=tcp").unwrap();
        assert_eq!(aor_of(&u).unwrap(), "sip:alice@ims.example");
        let u = Uri::parse("tel:+15550001").unwrap();
        assert_eq!(aor_of(&u).unwrap(), "tel:+15550001");
    }

    #[test]
    fn protected_values() {
        let a = AuthHeader::digest().with_quoted("integrity-protected", "yes");
        assert!(is_protected(Some(&a)));
        let a = AuthHeader::digest().with_quoted("integrity-protected", "ip-assoc-yes");
        assert!(is_protected(Some(&a)));
        let a = AuthHeader::digest().with_quoted("integrity-protected", "no");
        assert!(!is_protected(Some(&a)));
        assert!(!is_protected(None));
    }
}
