//! The S-CSCF on the network (TS 24.229 §5.4): the registrar, RTR from the HSS, and routing of
//! requests to and from registered users.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use cx::{AnyCx, CxMessage};
use serde::Deserialize;
use sip::{HeaderName, Method, Uri};
use sip_stack::proxy::{ProxyRequest, Rejection, StatefulProxy};
use sip_stack::service::{
    spawn_service, ProxyResponse, RequestAction, ResponseAction, Service, ServiceConfig,
    ServiceContext,
};

use super::{
    count_request, count_response, layer_config, open_cx, open_sip, CxPeerConfig, NextHop,
    RoleHandle, SipConfig,
};
use crate::identity::bare_uri;
use crate::scscf::regevent::NotifyBatch;
use crate::scscf::{Registrar, ScscfConfig};
use crate::store::RegistrationStore;
use crate::CscfError;

const ROLE: &str = "scscf";

/// Everything the S-CSCF needs to run.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScscfNodeConfig {
    /// SIP listeners and identity.
    pub sip: SipConfig,
    /// The Cx connection to the HSS.
    pub cx: CxPeerConfig,
    /// Registrar behaviour.
    #[serde(default)]
    pub registrar: ScscfConfig,
}

struct ScscfService {
    registrar: Arc<Registrar>,
    next: NextHop,
}

fn reject(r: Rejection) -> RequestAction {
    count_response(ROLE, r.status);
    RequestAction::Reject(r)
}

impl ScscfService {
    /// TS 24.229 §5.4.3.3: a request for a registered user goes to its contact, along the Path
    /// it registered with.
    async fn terminating(
        &self,
        req: &ProxyRequest,
        ctx: &ServiceContext,
    ) -> Result<RequestAction, Rejection> {
        let ruri = req
            .msg
            .request_uri()
            .map_err(|_| Rejection::new(400, "Bad Request-URI"))?;
        let reg = self
            .registrar
            .lookup(&bare_uri(&ruri))
            .await
            .map_err(|_| Rejection::new(500, "Server Internal Error"))?;
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let Some(contact) = reg.as_ref().and_then(|r| {
            r.contacts
                .iter()
                .filter(|c| c.expires_at > now)
                .max_by_key(|c| (c.q.unwrap_or(1000), c.expires_at))
        }) else {
            return Err(Rejection::new(480, "Temporarily Unavailable"));
        };
        let target = Uri::parse(&contact.uri).map_err(|_| Rejection::new(500, "Bad contact"))?;
        let mut p = ctx.prepare(req)?;
        p.retarget(target, !contact.path.is_empty())
            .map_err(|_| Rejection::new(500, "Server Internal Error"))?;
        for (i, hop) in contact.path.iter().enumerate() {
            p.editor
                .append(HeaderName::Route, hop)
                .map_err(|_| Rejection::new(500, "Server Internal Error"))?;
            if i == 0 {
                if let Some(uri) = crate::identity::uri_in(hop) {
                    p.next_hop = uri;
                }
            }
        }
        let flow = self.next.flow(&p.next_hop).await?;
        Ok(RequestAction::Forward {
            prepared: p,
            flow,
            cookie: 0,
        })
    }
}

impl Service for ScscfService {
    async fn on_request(&self, req: ProxyRequest, ctx: ServiceContext) -> RequestAction {
        count_request(ROLE, &req.msg);
        match req.msg.method() {
            Some(Method::Register) if req.key.is_some() => {
                let resp = self.registrar.handle_register(&req.msg, &req.flow).await;
                count_response(ROLE, resp.status().unwrap_or(0));
                RequestAction::Respond(resp)
            }
            Some(Method::Subscribe)
                if req
                    .msg
                    .event()
                    .ok()
                    .flatten()
                    .is_some_and(|e| e.package.as_str().eq_ignore_ascii_case("reg")) =>
            {
                // the reg event package (RFC 3680, TS 24.229 §5.4.2.1)
                let resp = self.registrar.handle_subscribe(&req.msg).await;
                count_response(ROLE, resp.status().unwrap_or(0));
                RequestAction::Respond(resp)
            }
            _ => {
                // originating when the P-CSCF sent it along our Service-Route (RFC 3608: the user part we
                // put there, `service_route_user`)
                let originating = req
                    .msg
                    .route()
                    .ok()
                    .and_then(|r| r.into_iter().next())
                    .is_some_and(|r| {
                        ctx.config().is_local(&r.uri)
                            && r.uri
                                .as_sip()
                                .and_then(|s| s.user.as_ref())
                                .is_some_and(|u| {
                                    u.as_str() == self.registrar.config().service_route_user
                                })
                    });
                if originating || req.key.is_none() {
                    let p = match ctx.prepare(&req) {
                        Ok(p) => p,
                        Err(r) => return reject(r),
                    };
                    return match self.next.flow(&p.next_hop).await {
                        Ok(flow) => RequestAction::Forward {
                            prepared: p,
                            flow,
                            cookie: 0,
                        },
                        Err(r) if req.key.is_some() => reject(r),
                        Err(_) => RequestAction::Drop,
                    };
                }
                match self.terminating(&req, &ctx).await {
                    Ok(a) => a,
                    Err(r) => reject(r),
                }
            }
        }
    }

    async fn on_response(&self, resp: ProxyResponse, _ctx: ServiceContext) -> ResponseAction {
        count_response(ROLE, resp.response.status().unwrap_or(0));
        ResponseAction::Relay(resp.response)
    }
}

/// Sends the reg-event NOTIFYs (RFC 3680, RFC 6665 §4.2.2): each batch in order (the UE's
/// before the P-CSCF's), batches side by side. A NOTIFY answered with an error or not at all
/// ends its subscription.
async fn send_notifies(
    mut outbox: tokio::sync::mpsc::UnboundedReceiver<NotifyBatch>,
    registrar: Arc<Registrar>,
    svc: Arc<ScscfService>,
    ctx: ServiceContext,
) {
    while let Some(batch) = outbox.recv().await {
        let (registrar, svc, ctx) = (registrar.clone(), svc.clone(), ctx.clone());
        tokio::spawn(async move {
            if batch.iter().any(|n| n.follows_response) {
                // the SUBSCRIBE's 200 is queued on the same loop as soon as the request task ends
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            for n in batch {
                let sent = match svc.next.flow(&n.next_hop).await {
                    Ok(flow) => ctx.send_request(n.message, flow).await.ok(),
                    Err(_) => None,
                };
                let ok = sent
                    .as_ref()
                    .and_then(|r| r.status())
                    .is_some_and(|s| (200..300).contains(&s));
                if !ok {
                    tracing::info!(
                        sub = %n.subscription,
                        status = sent.as_ref().and_then(|r| r.status()),
                        "reg-event NOTIFY failed; subscription ended"
                    );
                    registrar.reg_event().notify_failed(&n.subscription).await;
                }
            }
        });
    }
}

/// Starts an S-CSCF: connects to the HSS (and answers its RTRs), opens the listeners, serves,
/// and runs the registrar's expiry timers every second.
pub async fn start_scscf(
    cfg: &ScscfNodeConfig,
    store: Arc<dyn RegistrationStore>,
    next: NextHop,
) -> Result<RoleHandle, CscfError> {
    let slot: Arc<OnceLock<Arc<Registrar>>> = Arc::new(OnceLock::new());
    let for_handler = slot.clone();
    let (node, cx) = open_cx(&cfg.cx, move |req: diameter::Message| {
        let slot = for_handler.clone();
        async move {
            let unable = |req: &diameter::Message| {
                req.answer().with(diameter::Avp::u32(
                    diameter::avp_code::RESULT_CODE,
                    diameter::result_code::UNABLE_TO_COMPLY,
                ))
            };
            match (AnyCx::from_message(&req), slot.get()) {
                (Ok(AnyCx::Rtr(rtr)), Some(reg)) => reg.handle_rtr(rtr).await.to_answer_for(&req),
                (Ok(AnyCx::Rtr(_)), None) => unable(&req),
                (Ok(AnyCx::Ppr(ppr)), Some(reg)) => reg.handle_ppr(ppr).await.to_answer_for(&req),
                (Ok(AnyCx::Ppr(_)), None) => unable(&req),
                (Ok(_), _) => req.answer().with(diameter::Avp::u32(
                    diameter::avp_code::RESULT_CODE,
                    diameter::result_code::COMMAND_UNSUPPORTED,
                )),
                (Err(_), _) => unable(&req),
            }
        }
    })
    .await?;
    let registrar = Arc::new(Registrar::new(cfg.registrar.clone(), cx, store));
    let _ = slot.set(registrar.clone());
    let (endpoint, inbound, bound, pc) = open_sip(&cfg.sip, &["path", "sec-agree"]).await?;
    let proxy = StatefulProxy::new(pc, layer_config(&cfg.sip));
    let svc = Arc::new(ScscfService {
        registrar: registrar.clone(),
        next,
    });
    let (ctx, task) = spawn_service(
        endpoint.clone(),
        inbound,
        proxy,
        svc.clone(),
        ServiceConfig::default(),
    );
    let notifier = match registrar.reg_event().take_outbox() {
        Some(outbox) => tokio::spawn(send_notifies(outbox, registrar.clone(), svc, ctx)),
        None => tokio::spawn(async {}),
    };
    let house = tokio::spawn(async move {
        let mut t = tokio::time::interval(Duration::from_secs(1));
        loop {
            t.tick().await;
            registrar.tick(SystemTime::now()).await;
        }
    });
    Ok(RoleHandle {
        role: ROLE,
        sip: bound,
        endpoint,
        tasks: vec![task, house, notifier],
        diameter: Some(node),
        ipsec: None,
    })
}
