//! The HSS side of the Cx interface (TS 29.228 §6.1–6.3, TS 29.229): UAR, MAR, SAR and LIR
//! answered from the [`SubscriberStore`].
//!
//! [`CxServer::handle`] takes a request [`Message`] and always returns its answer: a request that
//! does not decode is answered with the decoder's Result-Code and Failed-AVP, and a store failure
//! with DIAMETER_UNABLE_TO_COMPLY (5012), logged. [`CxServer::start`] runs it on a `diameter::Node`.
//!
//! HSS-initiated procedures: de-registration (RTR, TS 29.228 §6.1.3) is [`CxServer::deregister`],
//! profile push (PPR, §6.2.2) [`CxServer::push_profile`]; the REST API reaches them through the
//! [`CxNotifier`] trait.
//!
//! Not here yet: wildcarded identities, Restoration/PGW types of SAR, PPR for Digest/charging data.

use std::sync::Arc;

use aka::{Amf, AuthVector, Milenage, Rand};
use cx::enums::{ServerAssignmentType, UserAuthorizationType, UserDataAlreadyAvailable};
use cx::result::{base, ExperimentalResultCode as X};
use cx::user_data as ud;
use cx::{
    AnswerCommon, CxMessage, CxResult, LocationInfoAnswer, LocationInfoRequest,
    MultimediaAuthAnswer, MultimediaAuthRequest, SecretBytes, ServerAssignmentAnswer,
    ServerAssignmentRequest, ServerCapabilities, SipAuthDataItem, SipDigestAuthenticate,
    UserAuthorizationAnswer, UserAuthorizationRequest,
};
use diameter::Message;

use crate::model::{
    AuthScheme, Impi, Impu, OperatorKey, ProfilePartIndicator, PublicIdentity, RegistrationState,
    ScscfAssignment, Subscription,
};
use crate::store::{AuthData, SubscriberStore};
use crate::HssError;

/// Most vectors one MAA carries, whatever SIP-Number-Auth-Items asks for.
pub const MAX_VECTORS_PER_MAR: u32 = 16;

/// Cx command codes (TS 29.229 Table 6.1.1).
const UAR: u32 = 300;
const SAR: u32 = 301;
const LIR: u32 = 302;
const MAR: u32 = 303;

/// What an HSS-initiated de-registration did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DeregistrationReport {
    /// Subscription de-registered.
    pub subscription_id: String,
    /// S-CSCF (Server-Name) that was told.
    pub scscf: String,
    /// Public identities the RTR named.
    pub public_identities: Vec<String>,
    /// Result-Code (or Experimental-Result-Code) of the RTA.
    pub result_code: u32,
}

/// HSS-initiated Cx procedures as a service (for the REST API): implemented by [`CxNodeNotifier`]
/// over a running Diameter node.
#[async_trait::async_trait]
pub trait CxNotifier: Send + Sync {
    /// De-registers the subscription found by `key` (id, IMPI or IMPU) with an RTR whose
    /// Deregistration-Reason carries `code` and the text `reason` (TS 29.228 §6.1.3).
    async fn deregister(
        &self,
        key: &str,
        reason: &str,
        code: cx::enums::ReasonCode,
    ) -> Result<DeregistrationReport, HssError>;
    /// Pushes the subscription's current profile to its S-CSCF with a PPR; `None` when no S-CSCF
    /// serves it.
    async fn push_profile(&self, key: &str) -> Result<Option<ProfilePushReport>, HssError>;
}

/// What a profile push did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ProfilePushReport {
    /// S-CSCF (Server-Name) that was sent the profile.
    pub scscf: String,
    /// Result-Code (or Experimental-Result-Code) of the PPA.
    pub result_code: u32,
}

/// [`CxNotifier`] sending RTRs through `node` (the node the [`CxServer`] runs on).
pub struct CxNodeNotifier {
    /// The Cx server.
    pub server: Arc<CxServer>,
    /// Its Diameter node.
    pub node: Arc<diameter::Node>,
}

#[async_trait::async_trait]
impl CxNotifier for CxNodeNotifier {
    async fn deregister(
        &self,
        key: &str,
        reason: &str,
        code: cx::enums::ReasonCode,
    ) -> Result<DeregistrationReport, HssError> {
        self.server
            .deregister_with_code(&self.node, key, reason, code)
            .await
    }

    async fn push_profile(&self, key: &str) -> Result<Option<ProfilePushReport>, HssError> {
        self.server.push_profile(&self.node, key).await
    }
}

/// Identity of the HSS on Cx.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CxServerConfig {
    /// Origin-Host of the answers.
    pub origin_host: String,
    /// Origin-Realm of the answers.
    pub origin_realm: String,
    /// Home network domain(s): a Visited-Network-Identifier equal to one of these is not roaming.
    pub home_networks: Vec<String>,
}

/// The Cx server.
pub struct CxServer {
    store: Arc<dyn SubscriberStore>,
    cfg: CxServerConfig,
}

type Outcome<T> = Result<T, HssError>;

fn exp(code: X) -> CxResult {
    CxResult::experimental(code)
}

impl CxServer {
    /// A server answering from `store`.
    pub fn new(store: Arc<dyn SubscriberStore>, cfg: CxServerConfig) -> Self {
        Self { store, cfg }
    }

    /// Answers one Cx request. Never fails and never panics on peer input.
    pub async fn handle(&self, req: Message) -> Message {
        let host = self.cfg.origin_host.as_str();
        let realm = self.cfg.origin_realm.as_str();
        macro_rules! run {
            ($ty:ty, $f:ident) => {
                match <$ty>::from_message(&req) {
                    Err(e) => e.to_answer(&req, host, realm),
                    Ok(r) => match self.$f(&r).await {
                        Ok(ans) => ans.to_answer_for(&req),
                        Err(e) => {
                            tracing::error!(command = req.header.command_code, error = %e, "Cx: store failure");
                            self.unable_to_comply(&req, &r.common)
                        }
                    },
                }
            };
        }
        match req.header.command_code {
            UAR => run!(UserAuthorizationRequest, uar),
            MAR => run!(MultimediaAuthRequest, mar),
            SAR => run!(ServerAssignmentRequest, sar),
            LIR => run!(LocationInfoRequest, lir),
            other => req.error_answer(&diameter::Error::CommandUnsupported(other), host, realm),
        }
    }

    fn unable_to_comply(&self, req: &Message, common: &cx::RequestCommon) -> Message {
        let mut c = self.answer_common(
            common,
            CxResult::ResultCode(base::DIAMETER_UNABLE_TO_COMPLY),
        );
        c.error_message = Some("HSS store failure".into());
        // Any of the answer types carries just the common part; use the one of the request.
        match req.header.command_code {
            UAR => UserAuthorizationAnswer {
                common: c,
                server_name: None,
                server_capabilities: None,
            }
            .to_answer_for(req),
            MAR => MultimediaAuthAnswer {
                common: c,
                user_name: None,
                public_identity: None,
                sip_number_auth_items: None,
                sip_auth_data_items: Vec::new(),
            }
            .to_answer_for(req),
            SAR => ServerAssignmentAnswer::new(c).to_answer_for(req),
            _ => LocationInfoAnswer {
                common: c,
                server_name: None,
                server_capabilities: None,
                wildcarded_public_identity: None,
                wildcarded_impu: None,
                lia_flags: None,
            }
            .to_answer_for(req),
        }
    }

    fn answer_common(&self, req: &cx::RequestCommon, result: CxResult) -> AnswerCommon {
        AnswerCommon::answering(
            req,
            self.cfg.origin_host.as_str(),
            self.cfg.origin_realm.as_str(),
            result,
        )
    }

    /// Runs the server on a Diameter node (TCP), returning the node.
    pub async fn start(
        self: Arc<Self>,
        node_cfg: diameter::NodeConfig,
    ) -> Result<diameter::Node, diameter::Error> {
        diameter::Node::start(node_cfg, move |req: Message| {
            let me = self.clone();
            async move { me.handle(req).await }
        })
        .await
    }

    /// HSS-initiated de-registration (TS 29.228 §6.1.3): sends an RTR (Deregistration-Reason
    /// PERMANENT_TERMINATION) for every served identity of the subscription to its S-CSCF and, when
    /// the RTA reports success, marks them NOT_REGISTERED and clears the S-CSCF name. A failed RTA
    /// changes nothing and its code is reported.
    pub async fn deregister(
        &self,
        node: &diameter::Node,
        key: &str,
        reason: &str,
    ) -> Result<DeregistrationReport, HssError> {
        self.deregister_with_code(
            node,
            key,
            reason,
            cx::enums::ReasonCode::PermanentTermination,
        )
        .await
    }

    /// [`Self::deregister`] with a chosen Reason-Code (TS 29.228 §6.1.3: PERMANENT_TERMINATION
    /// keeps the user off; NEW_SERVER_ASSIGNED, SERVER_CHANGE, REMOVE_S-CSCF let it register
    /// again).
    pub async fn deregister_with_code(
        &self,
        node: &diameter::Node,
        key: &str,
        reason: &str,
        code: cx::enums::ReasonCode,
    ) -> Result<DeregistrationReport, HssError> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static SESSION: AtomicU64 = AtomicU64::new(0);
        let id = self.store.resolve(key).await?;
        let sub = self.store.subscription(&id).await?;
        let Some(scscf) = sub.scscf.clone() else {
            return Err(HssError::NotFound {
                what: "S-CSCF assignment",
                key: id,
            });
        };
        let served: Vec<Impu> = sub
            .public_identities
            .iter()
            .filter(|u| u.state != RegistrationState::NotRegistered)
            .map(|u| u.impu.clone())
            .collect();
        let Some(first) = sub.private_identities.first() else {
            return Err(HssError::corrupt(
                id,
                "subscription without a private identity",
            ));
        };
        let epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let mut common = cx::RequestCommon::new(
            format!(
                "{};{epoch};{}",
                self.cfg.origin_host,
                SESSION.fetch_add(1, Ordering::Relaxed)
            ),
            self.cfg.origin_host.as_str(),
            self.cfg.origin_realm.as_str(),
            self.cfg.origin_realm.as_str(),
        );
        common.destination_host = Some(scscf.origin_host.clone());
        let rtr = cx::RegistrationTerminationRequest {
            common,
            user_name: first.impi.to_string(),
            associated_identities: (sub.private_identities.len() > 1).then(|| {
                sub.private_identities
                    .iter()
                    .skip(1)
                    .map(|p| p.impi.to_string())
                    .collect()
            }),
            public_identities: served.iter().map(|u| u.to_string()).collect(),
            deregistration_reason: cx::DeregistrationReason {
                reason_code: code,
                reason_info: (!reason.is_empty()).then(|| reason.to_string()),
            },
        };
        let answer = node
            .request(rtr.to_message())
            .await
            .map_err(|e| HssError::Cx(format!("RTR to {} failed: {e}", scscf.origin_host)))?;
        let rta = cx::RegistrationTerminationAnswer::from_message(&answer)
            .map_err(|e| HssError::Cx(format!("bad RTA from {}: {e}", scscf.origin_host)))?;
        if rta.common.result.is_success() {
            let all: Vec<Impu> = sub
                .public_identities
                .iter()
                .map(|u| u.impu.clone())
                .collect();
            self.store
                .set_registration_state(&all, RegistrationState::NotRegistered)
                .await?;
            self.store.set_scscf(&sub.id, None).await?;
        } else {
            tracing::warn!(subscription = %sub.id, code = rta.common.result.code(), "RTR refused by the S-CSCF");
        }
        Ok(DeregistrationReport {
            subscription_id: sub.id,
            scscf: scscf.server_name,
            public_identities: served.iter().map(|u| u.to_string()).collect(),
            result_code: rta.common.result.code(),
        })
    }

    fn request_common(&self, destination_host: &str) -> cx::RequestCommon {
        use std::sync::atomic::{AtomicU64, Ordering};
        static SESSION: AtomicU64 = AtomicU64::new(0);
        let epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let mut c = cx::RequestCommon::new(
            format!(
                "{};{epoch};{}",
                self.cfg.origin_host,
                SESSION.fetch_add(1, Ordering::Relaxed)
            ),
            self.cfg.origin_host.as_str(),
            self.cfg.origin_realm.as_str(),
            self.cfg.origin_realm.as_str(),
        );
        c.destination_host = Some(destination_host.to_string());
        c
    }

    /// HSS-initiated update of the user profile (PPR, TS 29.228 §6.2.2): sends the User-Data of the
    /// identities the S-CSCF serves. Returns `None` (and sends nothing) when no S-CSCF serves the
    /// subscription.
    pub async fn push_profile(
        &self,
        node: &diameter::Node,
        key: &str,
    ) -> Result<Option<ProfilePushReport>, HssError> {
        let id = self.store.resolve(key).await?;
        let sub = self.store.subscription(&id).await?;
        let Some(scscf) = sub.scscf.clone() else {
            return Ok(None);
        };
        let served: Vec<Impu> = sub
            .public_identities
            .iter()
            .filter(|u| u.state != RegistrationState::NotRegistered)
            .map(|u| u.impu.clone())
            .collect();
        let Some(first) = sub.private_identities.first() else {
            return Err(HssError::corrupt(
                id,
                "subscription without a private identity",
            ));
        };
        if served.is_empty() {
            return Ok(None);
        }
        let doc = user_data(&sub, Some(&first.impi), &served);
        let xml = doc
            .to_xml()
            .map_err(|e| HssError::corrupt(sub.id.as_str(), e.to_string()))?;
        let ppr = cx::PushProfileRequest {
            common: self.request_common(&scscf.origin_host),
            user_name: first.impi.to_string(),
            user_data: Some(bytes::Bytes::from(xml)),
            charging_information: None,
            sip_auth_data_item: None,
        };
        let answer = node
            .request(ppr.to_message())
            .await
            .map_err(|e| HssError::Cx(format!("PPR to {} failed: {e}", scscf.origin_host)))?;
        let ppa = cx::PushProfileAnswer::from_message(&answer)
            .map_err(|e| HssError::Cx(format!("bad PPA from {}: {e}", scscf.origin_host)))?;
        if !ppa.common.result.is_success() {
            tracing::warn!(subscription = %sub.id, code = ppa.common.result.code(), "PPR refused by the S-CSCF");
        }
        Ok(Some(ProfilePushReport {
            scscf: scscf.server_name,
            result_code: ppa.common.result.code(),
        }))
    }

    /// Looks an IMPU up; `None` when unknown.
    async fn find_impu(&self, impu: &str) -> Outcome<Option<crate::store::PublicIdentityRecord>> {
        let Ok(impu) = Impu::parse(impu) else {
            return Ok(None);
        };
        match self.store.public_identity(&impu).await {
            Ok(r) => Ok(Some(r)),
            Err(HssError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Server-Capabilities for a subscription (TS 29.228 §6.7, TS 29.229 §6.3.3): its capability
    /// set (capability profile) or the default set from the store. Without any capability set, the
    /// per-S-CSCF capabilities: with one configured S-CSCF its capabilities, with several only
    /// their names (the I-CSCF prefers them in order).
    async fn server_capabilities(&self, subscription_id: &str) -> Outcome<ServerCapabilities> {
        if let Some(set) = self.store.capabilities_for(subscription_id).await? {
            return Ok(ServerCapabilities {
                mandatory_capabilities: set.mandatory,
                optional_capabilities: set.optional,
                server_names: set.server_names,
            });
        }
        let caps = self.store.scscf_capabilities().await?;
        let mut mandatory: Vec<u32> = Vec::new();
        let mut optional: Vec<u32> = Vec::new();
        if let [only] = caps.as_slice() {
            mandatory.clone_from(&only.mandatory);
            optional.clone_from(&only.optional);
        }
        Ok(ServerCapabilities {
            mandatory_capabilities: mandatory,
            optional_capabilities: optional,
            server_names: caps.into_iter().map(|c| c.server_name).collect(),
        })
    }

    async fn roaming_allowed(&self, visited: &[u8]) -> Outcome<bool> {
        let Ok(v) = std::str::from_utf8(visited) else {
            return Ok(false);
        };
        if self
            .cfg
            .home_networks
            .iter()
            .any(|h| h.eq_ignore_ascii_case(v))
        {
            return Ok(true);
        }
        Ok(self
            .store
            .roaming_agreements()
            .await?
            .iter()
            .any(|n| n.eq_ignore_ascii_case(v)))
    }

    /// UAR, TS 29.228 §6.1.1.1.
    async fn uar(&self, r: &UserAuthorizationRequest) -> Outcome<UserAuthorizationAnswer> {
        let answer = |res: CxResult, name: Option<String>, caps: Option<ServerCapabilities>| {
            UserAuthorizationAnswer {
                common: self.answer_common(&r.common, res),
                server_name: name,
                server_capabilities: caps,
            }
        };
        let (Ok(impi), Ok(impu)) = (Impi::parse(&r.user_name), Impu::parse(&r.public_identity))
        else {
            return Ok(answer(exp(X::ErrorUserUnknown), None, None));
        };
        let ctx = self.store.auth_context(&impi, &impu).await?;
        let (Some(rec), Some(_)) = (ctx.public, ctx.auth) else {
            return Ok(answer(exp(X::ErrorUserUnknown), None, None));
        };
        if !ctx.associated {
            return Ok(answer(exp(X::ErrorIdentitiesDontMatch), None, None));
        }
        let uat = r
            .user_authorization_type
            .unwrap_or(UserAuthorizationType::Registration);
        let dereg = uat == UserAuthorizationType::DeRegistration;
        if !dereg {
            // Barred identity: allowed only if its implicit set has a non-barred identity.
            if rec.identity.barred {
                let sub = self.store.subscription(&rec.subscription_id).await?;
                if sub
                    .implicit_set(&rec.identity.impu)
                    .iter()
                    .all(|u| u.barred)
                {
                    return Ok(answer(
                        CxResult::ResultCode(base::DIAMETER_AUTHORIZATION_REJECTED),
                        None,
                        None,
                    ));
                }
            }
            if !self.roaming_allowed(&r.visited_network_identifier).await? {
                return Ok(answer(exp(X::ErrorRoamingNotAllowed), None, None));
            }
        }
        let assigned = rec.scscf.as_ref().map(|a| a.server_name.clone());
        let state = rec.identity.state;
        Ok(match uat {
            UserAuthorizationType::DeRegistration => match (state, assigned) {
                (RegistrationState::NotRegistered, _) | (_, None) => {
                    answer(exp(X::ErrorIdentityNotRegistered), None, None)
                }
                (_, Some(name)) => answer(CxResult::SUCCESS, Some(name), None),
            },
            // S-CSCF re-selection by the I-CSCF (TS 29.228 §6.1.1.1): capabilities whatever is
            // assigned, and a new S-CSCF may take the assignment over at its SAR.
            UserAuthorizationType::RegistrationAndCapabilities => {
                if rec.scscf.is_some() {
                    self.store
                        .set_scscf_reassignment_pending(&rec.subscription_id, true)
                        .await?;
                }
                answer(
                    CxResult::SUCCESS,
                    None,
                    Some(self.server_capabilities(&rec.subscription_id).await?),
                )
            }
            _ => match (state, assigned) {
                (RegistrationState::Registered | RegistrationState::Unregistered, Some(name)) => {
                    answer(exp(X::SubsequentRegistration), Some(name), None)
                }
                (_, Some(name)) => answer(exp(X::FirstRegistration), Some(name), None),
                (_, None) => answer(
                    exp(X::FirstRegistration),
                    None,
                    Some(self.server_capabilities(&rec.subscription_id).await?),
                ),
            },
        })
    }

    /// MAR, TS 29.228 §6.3.1.
    async fn mar(&self, r: &MultimediaAuthRequest) -> Outcome<MultimediaAuthAnswer> {
        let answer = |res: CxResult, items: Vec<SipAuthDataItem>| MultimediaAuthAnswer {
            common: self.answer_common(&r.common, res),
            user_name: Some(r.user_name.clone()),
            public_identity: Some(r.public_identity.clone()),
            sip_number_auth_items: (!items.is_empty()).then_some(items.len() as u32),
            sip_auth_data_items: items,
        };
        let (Ok(impi), Ok(impu)) = (Impi::parse(&r.user_name), Impu::parse(&r.public_identity))
        else {
            return Ok(answer(exp(X::ErrorUserUnknown), vec![]));
        };
        let ctx = self.store.auth_context(&impi, &impu).await?;
        let (Some(rec), Some(auth)) = (ctx.public, ctx.auth) else {
            return Ok(answer(exp(X::ErrorUserUnknown), vec![]));
        };
        if !ctx.associated {
            return Ok(answer(exp(X::ErrorIdentitiesDontMatch), vec![]));
        }
        let requested = r
            .sip_auth_data_item
            .authentication_scheme
            .as_deref()
            .unwrap_or(cx::scheme::UNKNOWN);
        let scheme = if requested.eq_ignore_ascii_case(cx::scheme::UNKNOWN) {
            auth.default_scheme
        } else {
            match AuthScheme::parse(requested) {
                Ok(s) => s,
                Err(_) => return Ok(answer(exp(X::ErrorAuthSchemeNotSupported), vec![])),
            }
        };
        if !auth.auth_schemes.contains(&scheme) {
            return Ok(answer(exp(X::ErrorAuthSchemeNotSupported), vec![]));
        }
        // Store the S-CSCF name as "authentication pending" unless one is already assigned
        // (TS 29.228 §6.3.1, step on Server-Name).
        if rec.scscf.is_none() || rec.identity.state == RegistrationState::NotRegistered {
            let a = ScscfAssignment {
                server_name: r.server_name.clone(),
                origin_host: r.common.origin_host.clone(),
            };
            if rec.scscf.as_ref() != Some(&a) {
                self.store.set_scscf(&rec.subscription_id, Some(&a)).await?;
            }
        }
        if scheme == AuthScheme::DigestMd5 {
            let Some(d) = &auth.digest else {
                return Ok(answer(exp(X::ErrorAuthSchemeNotSupported), vec![]));
            };
            let item = SipAuthDataItem {
                item_number: Some(1),
                authentication_scheme: Some(cx::scheme::SIP_DIGEST.to_string()),
                digest_authenticate: Some(SipDigestAuthenticate {
                    realm: d.realm.clone(),
                    algorithm: Some("MD5".into()),
                    qop: Some("auth".into()),
                    ha1: SecretBytes::new(hex::encode(d.ha1.expose()).into_bytes()),
                }),
                ..Default::default()
            };
            return Ok(answer(CxResult::SUCCESS, vec![item]));
        }
        let m = milenage(&auth);
        // Resynchronisation: SIP-Authorization = RAND ‖ AUTS, MAC-S checked by aka with AMF 0000.
        if let Some(authz) = &r.sip_auth_data_item.authorization {
            let sqn_ms = match aka::resync::split_sip_authorization(authz.expose())
                .and_then(|(rand, auts)| aka::resync::recover_sqn_ms(&m, &rand, &auts))
            {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(impi = %impi, error = %e, "MAR resynchronisation rejected");
                    let mut a = answer(
                        CxResult::ResultCode(base::DIAMETER_AUTHENTICATION_REJECTED),
                        vec![],
                    );
                    a.common.error_message = Some(format!("resynchronisation failed: {e}"));
                    return Ok(a);
                }
            };
            self.store.resync_sqn(&impi, sqn_ms.value()).await?;
        }
        let n = r.sip_number_auth_items.clamp(1, MAX_VECTORS_PER_MAR);
        let (auth, sqns) = self.store.allocate_sqns(&impi, n).await?;
        let amf = Amf(auth.amf);
        let scheme_name = match scheme {
            AuthScheme::AkaV2Md5 => "Digest-AKAv2-MD5",
            _ => cx::scheme::DIGEST_AKAV1_MD5,
        };
        let mut items = Vec::with_capacity(sqns.len());
        for (i, sqn) in sqns.iter().enumerate() {
            let sqn =
                aka::Sqn::new(*sqn).map_err(|e| HssError::corrupt(impi.as_str(), e.to_string()))?;
            let av = AuthVector::generate(&m, Rand::random(), sqn, amf);
            items.push(SipAuthDataItem {
                item_number: Some(i as u32 + 1),
                authentication_scheme: Some(scheme_name.to_string()),
                authenticate: Some(bytes::Bytes::copy_from_slice(&av.sip_authenticate())),
                authorization: Some(SecretBytes::from_slice(av.xres.expose())),
                confidentiality_key: Some(SecretBytes::from_slice(av.ck.expose())),
                integrity_key: Some(SecretBytes::from_slice(av.ik.expose())),
                ..Default::default()
            });
        }
        Ok(answer(CxResult::SUCCESS, items))
    }

    /// SAR, TS 29.228 §6.1.2.1.
    async fn sar(&self, r: &ServerAssignmentRequest) -> Outcome<ServerAssignmentAnswer> {
        let answer =
            |res: CxResult| ServerAssignmentAnswer::new(self.answer_common(&r.common, res));
        // Identify the subscription from the first Public-Identity, else from User-Name.
        let impi = r.user_name.as_deref().and_then(|u| Impi::parse(u).ok());
        let (sub_id, impu) = match r.public_identities.first() {
            Some(p) => match self.find_impu(p).await? {
                Some(rec) => (rec.subscription_id, Some(rec.identity.impu)),
                None => return Ok(answer(exp(X::ErrorUserUnknown))),
            },
            None => match &impi {
                Some(i) => match self.store.auth_data(i).await {
                    Ok(a) => (a.subscription_id, None),
                    Err(HssError::NotFound { .. }) => return Ok(answer(exp(X::ErrorUserUnknown))),
                    Err(e) => return Err(e),
                },
                None => return Ok(answer(exp(X::ErrorUserUnknown))),
            },
        };
        let sub = self.store.subscription(&sub_id).await?;
        if let Some(i) = &impi {
            let Some(p) = sub.private_identities.iter().find(|p| p.impi == *i) else {
                return Ok(answer(exp(X::ErrorIdentitiesDontMatch)));
            };
            if let Some(u) = &impu {
                if !p.impus.contains(u) {
                    return Ok(answer(exp(X::ErrorIdentitiesDontMatch)));
                }
            }
        }
        // The identities the request acts on: the implicit set(s) of the given IMPUs, or all.
        let mut targets: Vec<Impu> = Vec::new();
        if r.public_identities.is_empty() {
            targets.extend(sub.public_identities.iter().map(|u| u.impu.clone()));
        } else {
            for p in &r.public_identities {
                let Ok(u) = Impu::parse(p) else {
                    return Ok(answer(exp(X::ErrorUserUnknown)));
                };
                let set = sub.implicit_set(&u);
                if set.is_empty() {
                    return Ok(answer(exp(X::ErrorIdentitiesDontMatch)));
                }
                for s in set {
                    if !targets.contains(&s.impu) {
                        targets.push(s.impu.clone());
                    }
                }
            }
        }
        let me = ScscfAssignment {
            server_name: r.server_name.clone(),
            origin_host: r.common.origin_host.clone(),
        };
        let want_data =
            r.user_data_already_available != UserDataAlreadyAvailable::UserDataAlreadyAvailable;
        let sat = r.server_assignment_type;
        // Another S-CSCF holds the assignment (TS 29.228 §8.1: only MAR overwrites it, or a SAR
        // while the S-CSCF reassignment pending flag is set).
        let other = sub
            .scscf
            .as_ref()
            .filter(|a| a.server_name != r.server_name);
        let refused_by_other = |name: &str| {
            let mut a = answer(exp(X::ErrorIdentityAlreadyRegistered));
            a.server_name = Some(name.to_string());
            a
        };
        let not_assigned = || {
            let mut a = answer(CxResult::ResultCode(base::DIAMETER_UNABLE_TO_COMPLY));
            a.common.error_message = Some("requesting S-CSCF is not the assigned one".into());
            a
        };
        use ServerAssignmentType as T;
        let (result, data) = match sat {
            // §6.1.2.1: REGISTRATION / RE_REGISTRATION → REGISTERED with this S-CSCF.
            T::Registration | T::ReRegistration => {
                if let Some(o) = other {
                    if !sub.scscf_reassignment_pending {
                        return Ok(refused_by_other(&o.server_name));
                    }
                }
                if sub.scscf.as_ref() != Some(&me) || sub.scscf_reassignment_pending {
                    self.store.set_scscf(&sub.id, Some(&me)).await?;
                }
                self.store
                    .set_registration_state(&targets, RegistrationState::Registered)
                    .await?;
                (CxResult::SUCCESS, want_data)
            }
            // §6.1.2.1: UNREGISTERED_USER → this S-CSCF serves the identities for unregistered
            // services (state UNREGISTERED); identities already registered stay registered.
            T::UnregisteredUser => {
                if let Some(o) = other {
                    if !sub.scscf_reassignment_pending {
                        return Ok(refused_by_other(&o.server_name));
                    }
                }
                if sub.scscf.as_ref() != Some(&me) || sub.scscf_reassignment_pending {
                    self.store.set_scscf(&sub.id, Some(&me)).await?;
                }
                let idle: Vec<Impu> = sub
                    .public_identities
                    .iter()
                    .filter(|u| {
                        targets.contains(&u.impu) && u.state != RegistrationState::Registered
                    })
                    .map(|u| u.impu.clone())
                    .collect();
                self.store
                    .set_registration_state(&idle, RegistrationState::Unregistered)
                    .await?;
                (CxResult::SUCCESS, want_data)
            }
            // §6.1.2.1: the S-CSCF keeps the user data and asks the HSS to keep its name: the
            // identities become UNREGISTERED (TS 24.228 network-initiated de-registration flow),
            // the assignment stays.
            T::TimeoutDeregistrationStoreServerName | T::UserDeregistrationStoreServerName => {
                if other.is_some() {
                    return Ok(not_assigned());
                }
                if sub.scscf.is_none() {
                    self.store.set_scscf(&sub.id, Some(&me)).await?;
                }
                self.store
                    .set_registration_state(&targets, RegistrationState::Unregistered)
                    .await?;
                (CxResult::SUCCESS, false)
            }
            // §6.1.2.1: de-registration → NOT_REGISTERED; the S-CSCF name is cleared once no
            // identity of the subscription is served any more.
            T::TimeoutDeregistration
            | T::UserDeregistration
            | T::DeregistrationTooMuchData
            | T::AdministrativeDeregistration => {
                if other.is_some() {
                    return Ok(not_assigned());
                }
                self.store
                    .set_registration_state(&targets, RegistrationState::NotRegistered)
                    .await?;
                let others_served = sub.public_identities.iter().any(|u| {
                    !targets.contains(&u.impu) && u.state != RegistrationState::NotRegistered
                });
                if !others_served && sub.scscf.is_some() {
                    self.store.set_scscf(&sub.id, None).await?;
                }
                (CxResult::SUCCESS, false)
            }
            // §6.1.2.1: authentication failed or timed out → registration state unchanged; the
            // name stored by the MAR is withdrawn when nothing is registered.
            T::AuthenticationFailure | T::AuthenticationTimeout => {
                if other.is_some() {
                    return Ok(not_assigned());
                }
                let any_served = sub
                    .public_identities
                    .iter()
                    .any(|u| u.state != RegistrationState::NotRegistered);
                if !any_served && sub.scscf.is_some() {
                    self.store.set_scscf(&sub.id, None).await?;
                }
                (CxResult::SUCCESS, false)
            }
            // §6.1.2.1: NO_ASSIGNMENT → the profile, for the assigned S-CSCF only; no change.
            T::NoAssignment => {
                if sub.scscf.as_ref().map(|a| a.server_name.as_str())
                    != Some(r.server_name.as_str())
                {
                    return Ok(not_assigned());
                }
                (CxResult::SUCCESS, true)
            }
            _ => return Ok(answer(exp(X::ErrorInAssignmentType))),
        };
        let mut a = answer(result);
        let private = impi
            .clone()
            .or_else(|| sub.private_identities.first().map(|p| p.impi.clone()));
        a.user_name = private.as_ref().map(|p| p.to_string());
        if data {
            // Re-read: the states just changed.
            let sub = self.store.subscription(&sub.id).await?;
            let doc = user_data(&sub, private.as_ref(), &targets);
            if let Err(e) = a.set_user_data(&doc) {
                return Err(HssError::corrupt(sub.id.as_str(), e.to_string()));
            }
            if sub.private_identities.len() > 1 {
                a.associated_identities = Some(
                    sub.private_identities
                        .iter()
                        .map(|p| p.impi.to_string())
                        .collect(),
                );
            }
        }
        Ok(a)
    }

    /// LIR, TS 29.228 §6.1.4.1.
    async fn lir(&self, r: &LocationInfoRequest) -> Outcome<LocationInfoAnswer> {
        let answer = |res: CxResult, name: Option<String>, caps: Option<ServerCapabilities>| {
            LocationInfoAnswer {
                common: self.answer_common(&r.common, res),
                server_name: name,
                server_capabilities: caps,
                wildcarded_public_identity: None,
                wildcarded_impu: None,
                lia_flags: None,
            }
        };
        let Some(rec) = self.find_impu(&r.public_identity).await? else {
            return Ok(answer(exp(X::ErrorUserUnknown), None, None));
        };
        let assigned = rec.scscf.as_ref().map(|a| a.server_name.clone());
        Ok(match (rec.identity.state, assigned) {
            (RegistrationState::Registered | RegistrationState::Unregistered, Some(name)) => {
                answer(CxResult::SUCCESS, Some(name), None)
            }
            (_, assigned) => {
                let sub = self.store.subscription(&rec.subscription_id).await?;
                if has_unregistered_services(&sub, &rec.identity) {
                    match assigned {
                        Some(name) => answer(exp(X::UnregisteredService), Some(name), None),
                        None => answer(
                            exp(X::UnregisteredService),
                            None,
                            Some(self.server_capabilities(&rec.subscription_id).await?),
                        ),
                    }
                } else {
                    answer(exp(X::ErrorIdentityNotRegistered), None, None)
                }
            }
        })
    }
}

fn milenage(a: &AuthData) -> Milenage {
    match &a.operator_key {
        OperatorKey::Op(op) => Milenage::with_op(&a.k, op),
        OperatorKey::Opc(opc) => Milenage::new(&a.k, opc),
    }
}

/// True if the identity's service profile has filter criteria for the unregistered case.
fn has_unregistered_services(sub: &Subscription, u: &PublicIdentity) -> bool {
    sub.service_profiles
        .iter()
        .find(|p| p.id == u.service_profile)
        .is_some_and(|p| {
            p.ifcs
                .iter()
                .any(|i| i.profile_part_indicator != Some(ProfilePartIndicator::Registered))
        })
}

/// The User-Data document (TS 29.228 Annex E `IMSSubscription`) for `targets`: one
/// `ServiceProfile` per profile they use, listing those identities.
pub fn user_data(sub: &Subscription, impi: Option<&Impi>, targets: &[Impu]) -> ud::ImsSubscription {
    let mut profiles: Vec<ud::ServiceProfile> = Vec::new();
    for sp in &sub.service_profiles {
        let ids: Vec<ud::PublicIdentity> = sub
            .public_identities
            .iter()
            .filter(|u| u.service_profile == sp.id && targets.contains(&u.impu))
            .map(|u| ud::PublicIdentity {
                barring_indication: u.barred,
                identity: u.impu.to_string(),
                identity_type: Some(ud::IdentityType::PublicUserIdentity),
                ..Default::default()
            })
            .collect();
        if ids.is_empty() {
            continue;
        }
        profiles.push(ud::ServiceProfile {
            public_identities: ids,
            initial_filter_criteria: sp.ifcs.iter().map(convert_ifc).collect(),
            ..Default::default()
        });
    }
    ud::ImsSubscription {
        private_id: impi
            .map(|i| i.to_string())
            .or_else(|| sub.private_identities.first().map(|p| p.impi.to_string()))
            .unwrap_or_default(),
        service_profiles: profiles,
    }
}

fn convert_ifc(i: &crate::model::InitialFilterCriteria) -> ud::InitialFilterCriteria {
    use crate::model::{DefaultHandling, SessionCase, SptCondition};
    ud::InitialFilterCriteria {
        priority: u32::try_from(i.priority).unwrap_or(0),
        trigger_point: i.trigger_point.as_ref().map(|tp| ud::TriggerPoint {
            condition_type_cnf: tp.condition_type_cnf,
            spts: tp
                .spts
                .iter()
                .map(|s| ud::Spt {
                    condition_negated: s.condition_negated,
                    groups: s.group.clone(),
                    kind: match &s.condition {
                        SptCondition::RequestUri(u) => ud::SptKind::RequestUri(u.clone()),
                        SptCondition::Method(m) => ud::SptKind::Method(m.clone()),
                        SptCondition::SipHeader { header, content } => ud::SptKind::SipHeader {
                            header: header.clone(),
                            content: content.clone(),
                        },
                        SptCondition::SessionCase(c) => {
                            ud::SptKind::SessionCase(ud::SessionCase::from_value(match c {
                                SessionCase::OriginatingRegistered => 0,
                                SessionCase::TerminatingRegistered => 1,
                                SessionCase::TerminatingUnregistered => 2,
                                SessionCase::OriginatingUnregistered => 3,
                                SessionCase::OriginatingCdiv => 4,
                            }))
                        }
                        SptCondition::SessionDescription { line, content } => {
                            ud::SptKind::SessionDescription {
                                line: line.clone(),
                                content: content.clone(),
                            }
                        }
                    },
                    registration_types: s
                        .registration_type
                        .iter()
                        .filter_map(|r| ud::RegistrationType::from_value(*r))
                        .collect(),
                })
                .collect(),
        }),
        application_server: ud::ApplicationServer {
            server_name: i.application_server.server_name.clone(),
            default_handling: Some(match i.application_server.default_handling {
                DefaultHandling::SessionContinued => ud::DefaultHandling::SessionContinued,
                DefaultHandling::SessionTerminated => ud::DefaultHandling::SessionTerminated,
            }),
            service_info: i.application_server.service_info.clone(),
        },
        profile_part_indicator: i.profile_part_indicator.map(|p| match p {
            ProfilePartIndicator::Registered => ud::ProfilePartIndicator::Registered,
            ProfilePartIndicator::Unregistered => ud::ProfilePartIndicator::Unregistered,
        }),
    }
}
