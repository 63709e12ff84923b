//! The P-CSCF on the network (TS 24.229 §5.2).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ipsec::backend::SaBackend;

use serde::Deserialize;
use sip::Method;
use sip_stack::proxy::StatefulProxy;
use sip_stack::service::{
    spawn_service, ProxyResponse, RequestAction, ResponseAction, Service, ServiceConfig,
    ServiceContext,
};

use sip_stack::{EndpointConfig, TlsConfig, Transport};

use super::{
    count_request, count_response, layer_config, open_sip_with, parse_listen, NextHop, RoleHandle,
    SipConfig,
};
use crate::pcscf::ipsec_setup::{self, BackendKind, IpsecConfig};
use crate::pcscf::reg_subscriber::{OutgoingSubscribe, RegWatcher, RegistrationEnded};
use crate::pcscf::sa_setup::SaSetup;
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
    next: Arc<NextHop>,
    /// Reg-event subscriptions to the registered UEs (TS 24.229 §5.2.3).
    watch: Arc<RegWatcher>,
}

/// Sends a reg-event SUBSCRIBE of the P-CSCF and feeds the answer back (TS 24.229 §5.2.3).
fn send_subscribe(
    watch: Arc<RegWatcher>,
    next: Arc<NextHop>,
    ctx: ServiceContext,
    s: OutgoingSubscribe,
) {
    tokio::spawn(async move {
        let answer = match next.flow(&s.next_hop).await {
            Ok(flow) => ctx.send_request(s.message, flow).await.ok(),
            Err(_) => None,
        };
        watch.on_subscribe_answer(&s.impu, answer.as_ref(), Instant::now());
    });
}

impl Service for PcscfService {
    async fn on_request(
        &self,
        req: sip_stack::proxy::ProxyRequest,
        ctx: ServiceContext,
    ) -> RequestAction {
        count_request(ROLE, &req.msg);
        if let Some(resp) = self.watch.on_notify(&req.msg, ctx.config(), Instant::now()) {
            return RequestAction::Respond(resp);
        }
        let mut p = match ctx.prepare(&req) {
            Ok(p) => p,
            Err(r) => return RequestAction::Reject(r),
        };
        let method = req.msg.method();
        if method != Some(Method::Register) {
            if let Some(flow) = self.pcscf.terminating_flow(&req.msg, ctx.config()) {
                // towards the UE, over the flow it registered on (TS 24.229 §5.2.6.4)
                return RequestAction::Forward {
                    prepared: p,
                    flow,
                    cookie: 0,
                };
            }
        }
        // from a UE: security agreement first (RFC 3329 §2.3.1, TS 24.229 §5.2.2.1)
        let accepted = match self.pcscf.check_security(&req) {
            Ok(a) => a,
            Err(Some(resp)) => {
                count_response(ROLE, resp.status().unwrap_or(0));
                return RequestAction::Respond(resp);
            }
            Err(None) => return RequestAction::Drop,
        };
        let edited = if method == Some(Method::Register) {
            self.pcscf.edit_register_headers(&req, &mut p, ctx.config())
        } else if req.key.is_some() && crate::pcscf::needs_registration(&req.msg) {
            self.pcscf.edit_originating(&req, &mut p, ctx.config())
        } else {
            Ok(())
        }
        .and_then(|_| self.pcscf.apply_security(&req, &mut p, &accepted));
        if let Err(r) = edited {
            count_response(ROLE, r.status);
            return RequestAction::Reject(r);
        }
        match self.next.flow(&p.next_hop).await {
            Ok(flow) => RequestAction::Forward {
                prepared: p,
                flow,
                cookie: accepted.cookie,
            },
            Err(r) => RequestAction::Reject(r),
        }
    }

    async fn on_response(&self, resp: ProxyResponse, ctx: ServiceContext) -> ResponseAction {
        count_response(ROLE, resp.response.status().unwrap_or(0));
        if resp.request.msg.method() == Some(Method::Register) {
            let out = self
                .pcscf
                .on_register_response(&resp.request, resp.response, resp.cookie)
                .await;
            if out.status().is_some_and(|s| (200..300).contains(&s)) {
                if let Some(s) = self
                    .watch
                    .on_registered(&resp.request.msg, &out, ctx.config())
                {
                    send_subscribe(self.watch.clone(), self.next.clone(), ctx, s);
                }
            }
            return ResponseAction::Relay(out);
        }
        ResponseAction::Relay(resp.response)
    }
}

/// The TLS settings when a `tls:` listener is configured (RFC 3261 §26.3.1; TS 24.229 §5.2.3 for
/// sec-agree `tls`): the configured PEM certificate and key, or a self-signed pair for the host
/// name and the TLS listeners' addresses when neither is given.
fn tls_config(cfg: &PcscfNodeConfig) -> Result<Option<TlsConfig>, CscfError> {
    let mut names = vec![cfg.sip.host.clone()];
    for l in &cfg.sip.listen {
        let (t, a) = parse_listen(l)?;
        if t == Transport::Tls {
            names.push(a.ip().to_string());
        }
    }
    if names.len() == 1 {
        return Ok(None);
    }
    let tls = match (&cfg.pcscf.tls_cert, &cfg.pcscf.tls_key) {
        (Some(c), Some(k)) => TlsConfig::from_pem_files(c, k, None)
            .map_err(|e| CscfError::Config(format!("pcscf.tls_cert/tls_key: {e}")))?,
        (None, None) => {
            let n: Vec<&str> = names.iter().map(String::as_str).collect();
            tracing::warn!("P-CSCF TLS: no certificate configured, using a self-signed one");
            TlsConfig::self_signed(&n)
                .map_err(|e| CscfError::Config(format!("pcscf TLS self-signed: {e}")))?
        }
        _ => {
            return Err(CscfError::Config(
                "pcscf.tls_cert and pcscf.tls_key go together".into(),
            ))
        }
    };
    Ok(Some(tls))
}

/// The IP addresses of the UDP/TCP listeners (where the protected ports are opened too).
fn protected_ips(cfg: &PcscfNodeConfig) -> Result<Vec<IpAddr>, CscfError> {
    let mut ips = Vec::new();
    for l in &cfg.sip.listen {
        let (t, a) = parse_listen(l)?;
        if t == Transport::Tls {
            continue;
        }
        if a.ip().is_unspecified() {
            return Err(CscfError::Config(format!(
                "pcscf.ipsec: listener `{l}` has no specific address; the SAs need one (TS 33.203 §7.1 selectors)"
            )));
        }
        if !ips.contains(&a.ip()) {
            ips.push(a.ip());
        }
    }
    if ips.is_empty() {
        return Err(CscfError::Config(
            "pcscf.ipsec: needs a udp: or tcp: listener".into(),
        ));
    }
    Ok(ips)
}

/// The IPsec datapath of `[pcscf.ipsec]`, or a clear error (the P-CSCF does not start without
/// it: offering ipsec-3gpp would promise protection we cannot give).
fn ipsec_setup(
    ic: &IpsecConfig,
    ips: &[IpAddr],
) -> Result<Arc<ipsec_setup::IpsecSetup>, CscfError> {
    let pairs = ic.pairs()?;
    ic.algorithms()?;
    let backend: Arc<dyn SaBackend> = match ic.backend {
        BackendKind::Userspace => {
            let ucfg = ipsec::backend::UserspaceConfig {
                tun: ic.tun.clone(),
                table: ic.route_table,
                ports: pairs
                    .iter()
                    .flat_map(|(c, s)| [(*c, *c), (*s, *s)])
                    .collect(),
                ipv4: ips.iter().any(IpAddr::is_ipv4),
                ipv6: ips.iter().any(IpAddr::is_ipv6),
                keylog: ic.esp_keylog.clone(),
            };
            Arc::new(ipsec::backend::UserspaceBackend::start(&ucfg).map_err(|e| {
                CscfError::Config(format!(
                    "pcscf.ipsec: cannot open the userspace ESP datapath ({e}); it needs root (CAP_NET_ADMIN, CAP_NET_RAW), /dev/net/tun and iproute2 — remove [pcscf.ipsec] to run without ipsec-3gpp"
                ))
            })?)
        }
        BackendKind::Xfrm => Arc::new(
            ipsec::xfrm::XfrmBackend::open(ic.xfrm_mark, ic.esp_keylog.as_deref()).map_err(
                |e| CscfError::Config(format!("pcscf.ipsec: cannot open NETLINK_XFRM ({e})")),
            )?,
        ),
    };
    tracing::info!(
        backend = backend.name(),
        ?pairs,
        "P-CSCF offers ipsec-3gpp (protected ports port-c/port-s)"
    );
    Ok(Arc::new(ipsec_setup::IpsecSetup::new(
        backend,
        pairs,
        Duration::from_millis(ic.linger_ms),
    )))
}

/// Starts a P-CSCF: loads the registered UEs from `store`, opens the listeners, serves.
pub async fn start_pcscf(
    cfg: &PcscfNodeConfig,
    store: Arc<dyn RegistrationStore>,
    next: NextHop,
) -> Result<RoleHandle, CscfError> {
    let (ipsec, ips) = match &cfg.pcscf.ipsec {
        Some(ic) => {
            let ips = protected_ips(cfg)?;
            (Some(ipsec_setup(ic, &ips)?), ips)
        }
        None => (None, Vec::new()),
    };
    let extra: Vec<Arc<dyn SaSetup>> = ipsec
        .iter()
        .map(|i| i.clone() as Arc<dyn SaSetup>)
        .collect();
    let pcscf = Arc::new(Pcscf::with_setups(cfg.pcscf.clone(), store, extra)?);
    let loaded = pcscf.load().await?;
    tracing::info!(registered = loaded, "P-CSCF loaded its registered UEs");
    let endpoint_cfg = EndpointConfig {
        tls: tls_config(cfg)?,
        ..EndpointConfig::default()
    };
    let (endpoint, inbound, mut bound, mut pc) =
        open_sip_with(&cfg.sip, &["path", "sec-agree"], endpoint_cfg).await?;
    // the protected ports (TS 33.203 §7.1): UDP and TCP on every port-c and port-s; with the
    // userspace datapath bound to its TUN, so that only what came through ESP reaches them
    // (plaintext from the wire to a protected port is refused by the kernel)
    let device = cfg
        .pcscf
        .ipsec
        .as_ref()
        .filter(|c| c.backend == BackendKind::Userspace)
        .map(|c| c.tun.as_str());
    if let Some(i) = &ipsec {
        for ip in &ips {
            for (c, s) in i.pairs() {
                for port in [*c, *s] {
                    for t in [Transport::Udp, Transport::Tcp] {
                        let a = endpoint
                            .add_listener_on_device(t, SocketAddr::new(*ip, port), device)
                            .await
                            .map_err(|e| {
                                CscfError::Config(format!(
                                    "pcscf.ipsec: protected port {t} {ip}:{port}: {e}"
                                ))
                            })?;
                        bound.push((t, a));
                        pc.aliases.push((ip.to_string(), Some(port)));
                    }
                }
            }
        }
    }
    let mut layer = layer_config(&cfg.sip);
    if let (Some(ic), Some(i)) = (&cfg.pcscf.ipsec, &ipsec) {
        // UDP responses to the UE's port-s leave from our port-c (reference trace)
        layer.protected_ports = Some(sip_stack::ProtectedPorts {
            port_c: ic.port_c,
            port_s: ic.port_s,
            count: i.pairs().len() as u16,
        });
    }
    let proxy = StatefulProxy::new(pc, layer);
    let next = Arc::new(next);
    let watch = Arc::new(RegWatcher::default());
    let svc = Arc::new(PcscfService {
        pcscf: pcscf.clone(),
        next: next.clone(),
        watch: watch.clone(),
    });
    let (ctx, task) = spawn_service(
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
            let (refresh, ended) = watch.due(Instant::now(), ctx.config());
            for s in refresh {
                send_subscribe(watch.clone(), next.clone(), ctx.clone(), s);
            }
            for (impu, contact) in ended {
                pcscf.registration_ended(&impu, &contact).await;
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
        ipsec,
    })
}
