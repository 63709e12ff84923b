//! The P-CSCF on the network (TS 24.229 §5.2).

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use sip::Method;
use sip_stack::proxy::StatefulProxy;
use sip_stack::service::{
    spawn_service, ProxyResponse, RequestAction, ResponseAction, Service, ServiceConfig,
    ServiceContext,
};

use super::{
    count_request, count_response, layer_config, open_sip, NextHop, RoleHandle, SipConfig,
};
use crate::pcscf::{Pcscf, PcscfConfig};
use crate::store::RegistrationStore;
use crate::CscfError;

const ROLE: &str = "pcscf";

/// Everything the P-CSCF needs to run.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PcscfNodeConfig {
    /// SIP listeners and identity.
    pub sip: SipConfig,
    /// P-CSCF behaviour.
    #[serde(default)]
    pub pcscf: PcscfConfig,
}

struct PcscfService {
    pcscf: Arc<Pcscf>,
    next: NextHop,
}

impl Service for PcscfService {
    async fn on_request(
        &self,
        req: sip_stack::proxy::ProxyRequest,
        ctx: ServiceContext,
    ) -> RequestAction {
        count_request(ROLE, &req.msg);
        let mut p = match ctx.prepare(&req) {
            Ok(p) => p,
            Err(r) => return RequestAction::Reject(r),
        };
        let method = req.msg.method();
        let edited = if method == Some(Method::Register) {
            self.pcscf.edit_register(&req, &mut p, ctx.config())
        } else if let Some(flow) = self.pcscf.terminating_flow(&req.msg, ctx.config()) {
            // towards the UE, over the flow it registered on (TS 24.229 §5.2.6.4)
            return RequestAction::Forward {
                prepared: p,
                flow,
                cookie: 0,
            };
        } else if req.key.is_some() && crate::pcscf::needs_registration(&req.msg) {
            self.pcscf.edit_originating(&req, &mut p, ctx.config())
        } else {
            Ok(())
        };
        if let Err(r) = edited {
            count_response(ROLE, r.status);
            return RequestAction::Reject(r);
        }
        match self.next.flow(&p.next_hop).await {
            Ok(flow) => RequestAction::Forward {
                prepared: p,
                flow,
                cookie: 0,
            },
            Err(r) => RequestAction::Reject(r),
        }
    }

    async fn on_response(&self, resp: ProxyResponse, _ctx: ServiceContext) -> ResponseAction {
        count_response(ROLE, resp.response.status().unwrap_or(0));
        if resp.request.msg.method() == Some(Method::Register) {
            let out = self
                .pcscf
                .on_register_response(&resp.request, resp.response)
                .await;
            return ResponseAction::Relay(out);
        }
        ResponseAction::Relay(resp.response)
    }
}

/// Starts a P-CSCF: loads the registered UEs from `store`, opens the listeners, serves.
pub async fn start_pcscf(
    cfg: &PcscfNodeConfig,
    store: Arc<dyn RegistrationStore>,
    next: NextHop,
) -> Result<RoleHandle, CscfError> {
    let pcscf = Arc::new(Pcscf::new(cfg.pcscf.clone(), store)?);
    let loaded = pcscf.load().await?;
    tracing::info!(registered = loaded, "P-CSCF loaded its registered UEs");
    let (endpoint, inbound, bound, pc) = open_sip(&cfg.sip, &["path", "sec-agree"]).await?;
    let proxy = StatefulProxy::new(pc, layer_config(&cfg.sip));
    let svc = Arc::new(PcscfService {
        pcscf: pcscf.clone(),
        next,
    });
    let (_ctx, task) = spawn_service(
        endpoint.clone(),
        inbound,
        proxy,
        svc,
        ServiceConfig::default(),
    );
    let house = tokio::spawn(async move {
        let mut t = tokio::time::interval(Duration::from_secs(1));
        loop {
            t.tick().await;
            if let Err(e) = pcscf.tick().await {
                tracing::warn!(error = %e, "P-CSCF housekeeping failed");
            }
            metrics::gauge!("imscore_registered_contacts", "role" => ROLE)
                .set(pcscf.registered_contacts() as f64);
        }
    });
    Ok(RoleHandle {
        role: ROLE,
        sip: bound,
        endpoint,
        tasks: vec![task, house],
        diameter: None,
    })
}
