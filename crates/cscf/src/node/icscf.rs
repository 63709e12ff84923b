//! The I-CSCF on the network (TS 24.229 §5.3): UAR/LIR, S-CSCF choice, serial fail-over.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::Deserialize;
use sip::{Method, Uri};
use sip_stack::proxy::{ProxyRequest, Rejection, StatefulProxy};
use sip_stack::service::{
    spawn_service, ProxyResponse, RequestAction, ResponseAction, Service, ServiceConfig,
    ServiceContext,
};

use super::{
    count_request, count_response, layer_config, open_cx, open_sip, CxPeerConfig, NextHop,
    RoleHandle, SipConfig,
};
use crate::icscf::{Icscf, IcscfConfig};
use crate::identity::bare_uri;
use crate::CscfError;

const ROLE: &str = "icscf";

/// Everything the I-CSCF needs to run.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IcscfNodeConfig {
    /// SIP listeners and identity.
    pub sip: SipConfig,
    /// The Cx connection to the HSS.
    pub cx: CxPeerConfig,
    /// S-CSCF selection.
    #[serde(default)]
    pub icscf: IcscfConfig,
}

/// S-CSCFs tried so far for one request (keyed by the cookie of its branches).
struct Attempt {
    tried: Vec<String>,
    rest: Vec<String>,
}

struct IcscfService {
    icscf: Arc<Icscf>,
    next: NextHop,
    attempts: Mutex<HashMap<u64, Attempt>>,
    cookies: AtomicU64,
}

impl IcscfService {
    async fn targets(
        &self,
        req: &ProxyRequest,
        failed: &[String],
    ) -> Result<Vec<String>, Rejection> {
        if req.msg.method() == Some(Method::Register) {
            self.icscf.register_targets(&req.msg, failed).await
        } else {
            let ruri = req
                .msg
                .request_uri()
                .map_err(|_| Rejection::new(400, "Bad Request-URI"))?;
            self.icscf
                .terminating_targets(&bare_uri(&ruri), failed)
                .await
        }
    }

    /// Sends to the first target that resolves; records the attempt under `cookie`.
    async fn send(
        &self,
        req: &ProxyRequest,
        ctx: &ServiceContext,
        mut tried: Vec<String>,
        targets: Vec<String>,
        cookie: u64,
    ) -> Result<(sip_stack::proxy::Prepared, sip_stack::Flow), Rejection> {
        let mut rest = targets.into_iter();
        while let Some(t) = rest.next() {
            tried.push(t.clone());
            let Ok(uri) = Uri::parse(&t) else {
                tracing::warn!(scscf = %t, "S-CSCF name is not a SIP URI");
                continue;
            };
            let Ok(flow) = self.next.flow(&uri).await else {
                tracing::warn!(scscf = %t, "S-CSCF does not resolve");
                continue;
            };
            let p = ctx.prepare(req)?;
            self.attempts
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(
                    cookie,
                    Attempt {
                        tried,
                        rest: rest.collect(),
                    },
                );
            return Ok((p, flow));
        }
        Err(Rejection::new(600, "Busy Everywhere"))
    }
}

/// TS 24.229 §5.3.1.3: the S-CSCF failed — no answer, or a 408/480/5xx — so another is tried.
fn is_scscf_failure(resp: &ProxyResponse) -> bool {
    let s = resp.response.status().unwrap_or(0);
    resp.local || s == 408 || s == 480 || (500..600).contains(&s)
}

impl Service for IcscfService {
    async fn on_request(&self, req: ProxyRequest, ctx: ServiceContext) -> RequestAction {
        count_request(ROLE, &req.msg);
        if req.key.is_none() {
            // ACK for a 2xx: stateless along its route
            return match ctx.prepare(&req) {
                Ok(p) => match self.next.flow(&p.next_hop).await {
                    Ok(flow) => RequestAction::Forward {
                        prepared: p,
                        flow,
                        cookie: 0,
                    },
                    Err(_) => RequestAction::Drop,
                },
                Err(_) => RequestAction::Drop,
            };
        }
        let targets = match self.targets(&req, &[]).await {
            Ok(t) => t,
            Err(r) => {
                count_response(ROLE, r.status);
                return RequestAction::Reject(r);
            }
        };
        let cookie = self.cookies.fetch_add(1, Ordering::Relaxed) + 1;
        match self.send(&req, &ctx, Vec::new(), targets, cookie).await {
            Ok((prepared, flow)) => RequestAction::Forward {
                prepared,
                flow,
                cookie,
            },
            Err(r) => {
                count_response(ROLE, r.status);
                RequestAction::Reject(r)
            }
        }
    }

    async fn on_response(&self, resp: ProxyResponse, ctx: ServiceContext) -> ResponseAction {
        let attempt = self
            .attempts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&resp.cookie);
        if let (Some(a), true) = (attempt, is_scscf_failure(&resp)) {
            if a.tried.len() < self.icscf.config().max_attempts {
                tracing::info!(failed = ?a.tried.last(), status = resp.response.status(), "S-CSCF failed; trying another");
                // the remaining candidates, else ask the HSS again (REGISTRATION_AND_CAPABILITIES)
                let next = if a.rest.is_empty() {
                    self.targets(&resp.request, &a.tried)
                        .await
                        .unwrap_or_default()
                } else {
                    a.rest
                };
                if !next.is_empty() {
                    if let Ok((prepared, flow)) = self
                        .send(&resp.request, &ctx, a.tried, next, resp.cookie)
                        .await
                    {
                        return ResponseAction::Forward {
                            prepared,
                            flow,
                            cookie: resp.cookie,
                        };
                    }
                }
            }
            if resp.local {
                // nobody answered: TS 24.229 §5.3.1.3
                let out = sip_stack::ua::response(&resp.request.msg, 504, "Server Time-out", None)
                    .build();
                if let Ok(m) = out {
                    count_response(ROLE, 504);
                    return ResponseAction::Relay(m);
                }
            }
        }
        count_response(ROLE, resp.response.status().unwrap_or(0));
        ResponseAction::Relay(resp.response)
    }
}

/// Starts an I-CSCF: connects to the HSS, opens the listeners, serves.
pub async fn start_icscf(cfg: &IcscfNodeConfig, next: NextHop) -> Result<RoleHandle, CscfError> {
    let (node, cx) = open_cx(&cfg.cx, |req: diameter::Message| async move {
        // the I-CSCF serves no Cx requests
        req.answer().with(diameter::Avp::u32(
            diameter::avp_code::RESULT_CODE,
            diameter::result_code::COMMAND_UNSUPPORTED,
        ))
    })
    .await?;
    let icscf = Arc::new(Icscf::new(cfg.icscf.clone(), cx));
    let (endpoint, inbound, bound, pc) = open_sip(&cfg.sip, &["path", "sec-agree"]).await?;
    let proxy = StatefulProxy::new(pc, layer_config(&cfg.sip));
    let svc = Arc::new(IcscfService {
        icscf,
        next,
        attempts: Mutex::new(HashMap::new()),
        cookies: AtomicU64::new(0),
    });
    let (_ctx, task) = spawn_service(
        endpoint.clone(),
        inbound,
        proxy,
        svc,
        ServiceConfig::default(),
    );
    Ok(RoleHandle {
        role: ROLE,
        sip: bound,
        endpoint,
        tasks: vec![task],
        diameter: Some(node),
        ipsec: None,
    })
}
