//! The roles on the network: each CSCF is a SIP endpoint (UDP/TCP/TLS listeners) driven by
//! [`sip_stack::service`], plus, for the I-CSCF and S-CSCF, a Diameter client node towards the
//! HSS. The decisions stay in [`crate::pcscf`], [`crate::icscf`] and [`crate::scscf`]; this
//! module only wires them to sockets, resolves next hops and counts what passes (metrics).

mod icscf;
mod pcscf;
mod scscf;

pub use icscf::{start_icscf, IcscfNodeConfig};
pub use pcscf::{start_pcscf, PcscfNodeConfig};
pub use scscf::{start_scscf, ScscfNodeConfig};

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use sip::Uri;
use sip_stack::proxy::{ProxyConfig, Rejection};
use sip_stack::resolve::{HickoryDns, HostTable, NoDns, Resolver, Target};
use sip_stack::{Endpoint, EndpointConfig, Flow, Inbound, LayerConfig, Transport};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::cx_client::{CxClient, CxClientConfig};
use crate::CscfError;

/// The SIP side of a role.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SipConfig {
    /// Listening sockets as `transport:ip:port` (`udp:127.0.0.1:5060`, `tcp:[::1]:5060`).
    pub listen: Vec<String>,
    /// The host name this role puts in Via, Path, Record-Route and Service-Route, and answers to
    /// in Route and Request-URI.
    pub host: String,
    /// Further host names (or IPs) that designate this role.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// RFC 3261 T1 in milliseconds (default 500); non-INVITE transactions time out after 64·T1.
    #[serde(default)]
    pub t1_ms: Option<u64>,
}

/// The Diameter (Cx) client side of the I-CSCF and S-CSCF.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CxPeerConfig {
    /// Our Origin-Host.
    pub origin_host: String,
    /// Our Origin-Realm.
    pub origin_realm: String,
    /// The HSS's Origin-Host.
    pub hss_host: String,
    /// Where the HSS listens (`ip:port`).
    pub hss_addr: SocketAddr,
    /// The HSS's realm (Destination-Realm).
    pub hss_realm: String,
    /// Answer timeout in milliseconds.
    #[serde(default = "default_cx_timeout")]
    pub timeout_ms: u64,
    /// The Diameter identity of a relay or routing agent (RFC 6733 §2.8) listening at
    /// `hss_addr` in place of the HSS. With it, we connect to the agent, and requests carry
    /// Destination-Realm `hss_realm` but no Destination-Host (RFC 6733 §6.1.3, TS 29.229 §6.3):
    /// the agent routes them by realm.
    #[serde(default)]
    pub relay_host: Option<String>,
}

impl CxPeerConfig {
    /// The peer we connect to: the relay if there is one, else the HSS.
    pub fn peer_host(&self) -> &str {
        self.relay_host.as_deref().unwrap_or(&self.hss_host)
    }

    /// Destination-Host of our requests: the HSS, unless a relay routes them by realm.
    pub fn destination_host(&self) -> Option<String> {
        match self.relay_host {
            Some(_) => None,
            None => Some(self.hss_host.clone()),
        }
    }
}

fn default_cx_timeout() -> u64 {
    3000
}

/// What a started role exposes.
pub struct RoleHandle {
    /// The role's name (`pcscf`, `icscf`, `scscf`).
    pub role: &'static str,
    /// Its SIP listeners.
    pub sip: Vec<(Transport, SocketAddr)>,
    endpoint: Endpoint,
    tasks: Vec<JoinHandle<()>>,
    diameter: Option<Arc<diameter::Node>>,
    ipsec: Option<Arc<crate::pcscf::ipsec_setup::IpsecSetup>>,
}

impl RoleHandle {
    /// The P-CSCF's ipsec-3gpp setup (SA sets, SPIs, datapath counters), when configured.
    pub fn ipsec(&self) -> Option<&Arc<crate::pcscf::ipsec_setup::IpsecSetup>> {
        self.ipsec.as_ref()
    }

    /// Stops the role: closes its listeners and its Diameter connections.
    pub async fn shutdown(self) {
        for (t, a) in &self.sip {
            self.endpoint.remove_listener(*t, *a);
        }
        for t in &self.tasks {
            t.abort();
        }
        if let Some(i) = &self.ipsec {
            i.shutdown();
        }
        if let Some(d) = self.diameter {
            if let Ok(node) = Arc::try_unwrap(d) {
                node.shutdown().await;
            }
        }
    }
}

/// Parses `transport:ip:port`.
pub fn parse_listen(s: &str) -> Result<(Transport, SocketAddr), CscfError> {
    let (t, a) = s
        .split_once(':')
        .ok_or_else(|| CscfError::Config(format!("listen `{s}`: expected transport:ip:port")))?;
    let transport = Transport::from_token(t)
        .ok_or_else(|| CscfError::Config(format!("listen `{s}`: unknown transport `{t}`")))?;
    let addr = a
        .parse()
        .map_err(|_| CscfError::Config(format!("listen `{s}`: `{a}` is not ip:port")))?;
    Ok((transport, addr))
}

/// The static host table from configuration: name → `transport:ip:port` targets.
pub fn host_table(hosts: &BTreeMap<String, Vec<String>>) -> Result<HostTable, CscfError> {
    let mut table = HostTable::new();
    for (name, targets) in hosts {
        for t in targets {
            let (transport, addr) =
                parse_listen(t).map_err(|e| CscfError::Config(format!("hosts.\"{name}\": {e}")))?;
            table.insert(name, Target { transport, addr });
        }
    }
    Ok(table)
}

/// Next-hop resolution: the host table, then the system's DNS (RFC 3263) if it has one.
pub enum NextHop {
    /// Host table and DNS.
    Dns(Box<Resolver<HickoryDns>>),
    /// Host table only.
    Table(Box<Resolver<NoDns>>),
}

impl NextHop {
    /// A resolver over `table`, with the system DNS when it is configured.
    pub fn new(table: HostTable) -> Self {
        match HickoryDns::from_system_conf() {
            Ok(dns) => NextHop::Dns(Box::new(Resolver::new(table, dns))),
            Err(_) => NextHop::Table(Box::new(Resolver::new(table, NoDns))),
        }
    }

    /// Where to send a request whose next hop is `uri` (RFC 3263 §4), or 503/404.
    pub async fn flow(&self, uri: &Uri) -> Result<Flow, Rejection> {
        let r = match self {
            NextHop::Dns(r) => r.resolve(uri).await,
            NextHop::Table(r) => r.resolve(uri).await,
        };
        match r {
            Ok(v) => match v.first() {
                Some(t) => Ok(Flow::to(t.transport, t.addr)),
                None => Err(Rejection::new(404, "Not Found - no route")),
            },
            Err(e) => {
                tracing::debug!(%uri, error = %e, "next hop resolution failed");
                Err(Rejection::new(503, "Service Unavailable - no route"))
            }
        }
    }
}

/// Opens the listeners of `sip` on a new endpoint; returns the endpoint, its inbound channel,
/// the bound listeners and the proxy identity (host and the first listener's port).
pub(crate) async fn open_sip(
    sip: &SipConfig,
    supported: &[&str],
) -> Result<
    (
        Endpoint,
        mpsc::Receiver<Inbound>,
        Vec<(Transport, SocketAddr)>,
        ProxyConfig,
    ),
    CscfError,
> {
    open_sip_with(sip, supported, EndpointConfig::default()).await
}

/// [`open_sip`] with endpoint settings (e.g. the TLS certificate for `tls:` listeners).
pub(crate) async fn open_sip_with(
    sip: &SipConfig,
    supported: &[&str],
    endpoint_cfg: EndpointConfig,
) -> Result<
    (
        Endpoint,
        mpsc::Receiver<Inbound>,
        Vec<(Transport, SocketAddr)>,
        ProxyConfig,
    ),
    CscfError,
> {
    if sip.listen.is_empty() {
        return Err(CscfError::Config(
            "sip.listen: at least one listener is needed".into(),
        ));
    }
    let (endpoint, inbound) = Endpoint::new(endpoint_cfg);
    let mut bound = Vec::new();
    for l in &sip.listen {
        let (t, a) = parse_listen(l)?;
        let got = endpoint
            .add_listener(t, a)
            .await
            .map_err(|e| CscfError::Config(format!("sip.listen `{l}`: {e}")))?;
        bound.push((t, got));
    }
    let port = bound[0].1.port();
    let mut pc = ProxyConfig::new(sip.host.clone(), port);
    pc.record_route = false;
    pc.supported = supported.iter().map(|s| s.to_string()).collect();
    for (_, a) in &bound {
        pc.aliases.push((a.ip().to_string(), Some(a.port())));
    }
    for a in &sip.aliases {
        pc.aliases.push((a.clone(), Some(port)));
    }
    Ok((endpoint, inbound, bound, pc))
}

/// A Diameter client node connected to the HSS, and the Cx client over it.
pub(crate) async fn open_cx(
    cfg: &CxPeerConfig,
    handler: impl diameter::Handler,
) -> Result<(Arc<diameter::Node>, Arc<CxClient>), CscfError> {
    use diameter::{AppId, EngineConfig, LocalIdentity, NodeConfig, PeerConfig};
    let node_cfg = NodeConfig {
        listen: None,
        engine: EngineConfig {
            local: LocalIdentity {
                origin_host: cfg.origin_host.clone(),
                origin_realm: cfg.origin_realm.clone(),
                host_ip_addresses: vec![cfg.hss_addr.ip()],
                applications: vec![AppId::vendor_auth(10415, cx::dictionary::CX_APPLICATION_ID)],
                supported_vendor_ids: vec![10415],
                product_name: "imscore".into(),
                ..LocalIdentity::default()
            },
            peers: vec![PeerConfig {
                host: cfg.peer_host().to_string(),
                addr: Some(cfg.hss_addr),
                connect: true,
            }],
            default_route: vec![cfg.peer_host().to_string()],
            dictionary: cx::dictionary::dictionary(),
            request_timeout: Duration::from_millis(cfg.timeout_ms),
            ..EngineConfig::default()
        },
        ..NodeConfig::default()
    };
    let node = diameter::Node::start(node_cfg, handler)
        .await
        .map_err(|e| CscfError::Config(format!("diameter: {e}")))?;
    // RFC 6733 §5.6: requests can only go once the peer is Open; wait briefly for it so that a
    // role started next to its HSS answers its first REGISTER, but start anyway if the HSS is not
    // up yet (the node keeps reconnecting; until then Cx requests fail and SIP gets 480)
    if let Err(e) = node
        .wait_open(
            cfg.peer_host(),
            Duration::from_millis(cfg.timeout_ms.max(1000) * 2),
        )
        .await
    {
        tracing::warn!(peer = %cfg.peer_host(), error = %e, "HSS not reachable yet; continuing");
    }
    let node = Arc::new(node);
    let client = CxClient::new(
        node.clone(),
        CxClientConfig {
            origin_host: cfg.origin_host.clone(),
            origin_realm: cfg.origin_realm.clone(),
            destination_realm: cfg.hss_realm.clone(),
            destination_host: cfg.destination_host(),
            timeout: Duration::from_millis(cfg.timeout_ms),
        },
    );
    Ok((node, Arc::new(client)))
}

/// Transaction settings for a role (RFC 3261 §17.1.1.1 defaults unless T1 is configured).
pub(crate) fn layer_config(sip: &SipConfig) -> LayerConfig {
    let mut l = LayerConfig::default();
    if let Some(ms) = sip.t1_ms.filter(|ms| *ms > 0) {
        l.timers.t1 = Duration::from_millis(ms);
        l.timers.t2 = l.timers.t2.max(l.timers.t1);
    }
    l
}

/// Counts a request received by `role`.
pub(crate) fn count_request(role: &'static str, msg: &sip::Message) {
    let method = msg
        .method()
        .map(|m| m.as_str().to_string())
        .unwrap_or_default();
    metrics::counter!("imscore_sip_requests_total", "role" => role, "method" => method)
        .increment(1);
}

/// Counts a final response sent by `role`.
pub(crate) fn count_response(role: &'static str, status: u16) {
    metrics::counter!("imscore_sip_responses_total", "role" => role, "code" => status.to_string())
        .increment(1);
}

#[cfg(test)]
mod tests {
    use super::CxPeerConfig;

    fn cx(relay: Option<&str>) -> CxPeerConfig {
        serde_json::from_value(serde_json::json!({
            "origin_host": "scscf.ims.test",
            "origin_realm": "cscf.test",
            "hss_host": "hss.ims.test",
            "hss_addr": "127.0.0.1:3868",
            "hss_realm": "ims.test",
            "relay_host": relay,
        }))
        .expect("CxPeerConfig")
    }

    #[test]
    fn without_a_relay_requests_name_the_hss() {
        let c = cx(None);
        assert_eq!(c.peer_host(), "hss.ims.test");
        assert_eq!(c.destination_host().as_deref(), Some("hss.ims.test"));
    }

    #[test]
    fn through_a_relay_requests_are_routed_by_realm() {
        // RFC 6733 §6.1.3: no Destination-Host, so the relay routes on Destination-Realm
        let c = cx(Some("dra.test"));
        assert_eq!(c.peer_host(), "dra.test");
        assert_eq!(c.destination_host(), None);
        assert_eq!(c.hss_realm, "ims.test");
    }
}
