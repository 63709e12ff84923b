//! Next-hop resolution: a static host table from configuration first, then DNS per RFC 3263
//! §4 (NAPTR → SRV → A/AAAA). DNS is behind the [`Dns`] trait so that the selection logic is
//! testable with a fake; [`HickoryDns`] is the real backend (hickory-resolver). Targets of one
//! SRV priority are ordered by RFC 2782 weighted random selection ([`order_srv`]).

mod hickory;
mod srv_order;

pub use hickory::HickoryDns;
pub use srv_order::order_srv;

use crate::flow::Transport;
use crate::{Error, Result};
use sip::{Host, Uri};
use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;

use rand::rngs::StdRng;
use rand::SeedableRng;

/// One place to send to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Target {
    /// Transport.
    pub transport: Transport,
    /// Address.
    pub addr: SocketAddr,
}

/// A NAPTR record (RFC 3403) as RFC 3263 §4.1 uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Naptr {
    /// Order (lower first).
    pub order: u16,
    /// Preference within an order (lower first).
    pub preference: u16,
    /// Flags (`s` for SRV).
    pub flags: String,
    /// Service (`SIP+D2U`, `SIP+D2T`, `SIPS+D2T`).
    pub service: String,
    /// Replacement (the SRV name).
    pub replacement: String,
}

/// An SRV record (RFC 2782).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Srv {
    /// Priority (lower first).
    pub priority: u16,
    /// Weight within a priority.
    pub weight: u16,
    /// Port.
    pub port: u16,
    /// Target host.
    pub target: String,
}

/// The DNS queries RFC 3263 needs. An empty answer is `Ok(vec![])`.
pub trait Dns: Send + Sync {
    /// NAPTR records of `domain`.
    fn naptr(&self, domain: &str) -> impl Future<Output = Result<Vec<Naptr>>> + Send;
    /// SRV records of `name` (e.g. `_sip._udp.example.net`).
    fn srv(&self, name: &str) -> impl Future<Output = Result<Vec<Srv>>> + Send;
    /// A and AAAA records of `host`.
    fn ip(&self, host: &str) -> impl Future<Output = Result<Vec<IpAddr>>> + Send;
}

/// No DNS at all: only the host table and IP literals resolve.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoDns;

impl Dns for NoDns {
    async fn naptr(&self, _: &str) -> Result<Vec<Naptr>> {
        Ok(Vec::new())
    }
    async fn srv(&self, _: &str) -> Result<Vec<Srv>> {
        Ok(Vec::new())
    }
    async fn ip(&self, _: &str) -> Result<Vec<IpAddr>> {
        Ok(Vec::new())
    }
}

/// Static host table: lower-cased host name → targets, consulted before DNS.
#[derive(Debug, Clone, Default)]
pub struct HostTable {
    map: HashMap<String, Vec<Target>>,
}

impl HostTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a target for `host`.
    pub fn insert(&mut self, host: &str, target: Target) -> &mut Self {
        self.map
            .entry(host.to_ascii_lowercase())
            .or_default()
            .push(target);
        self
    }

    /// Targets for `host`, optionally restricted to a transport and port.
    pub fn lookup(
        &self,
        host: &str,
        transport: Option<Transport>,
        port: Option<u16>,
    ) -> Vec<Target> {
        self.map
            .get(&host.to_ascii_lowercase())
            .map(|v| {
                v.iter()
                    .filter(|t| transport.is_none_or(|x| x == t.transport))
                    .map(|t| match port {
                        Some(p) => Target {
                            addr: SocketAddr::new(t.addr.ip(), p),
                            ..*t
                        },
                        None => *t,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// RFC 3263 resolver over a host table and a [`Dns`].
pub struct Resolver<D: Dns> {
    /// The static table.
    pub table: HostTable,
    dns: D,
    /// Transports we can use, in our order of preference.
    pub transports: Vec<Transport>,
    /// RFC 2782 weighted selection.
    rng: Mutex<StdRng>,
}

fn naptr_service(t: Transport) -> &'static str {
    match t {
        Transport::Udp => "SIP+D2U",
        Transport::Tcp => "SIP+D2T",
        Transport::Tls => "SIPS+D2T",
    }
}

fn srv_prefix(t: Transport) -> &'static str {
    match t {
        Transport::Udp => "_sip._udp.",
        Transport::Tcp => "_sip._tcp.",
        Transport::Tls => "_sips._tcp.",
    }
}

impl<D: Dns> Resolver<D> {
    /// A resolver supporting UDP, TCP and TLS.
    pub fn new(table: HostTable, dns: D) -> Self {
        Resolver {
            table,
            dns,
            transports: vec![Transport::Udp, Transport::Tcp, Transport::Tls],
            rng: Mutex::new(StdRng::from_entropy()),
        }
    }

    /// Replaces the RNG of the RFC 2782 weighted selection (a seeded one makes the order
    /// reproducible).
    pub fn with_rng(mut self, rng: StdRng) -> Self {
        self.rng = Mutex::new(rng);
        self
    }

    /// The DNS backend.
    pub fn dns(&self) -> &D {
        &self.dns
    }

    /// Ordered targets for `uri` (RFC 3263 §4.1 transport, §4.2 port and address). A `sips:` URI
    /// only yields TLS. The host table answers first; then an IP literal; then DNS.
    pub async fn resolve(&self, uri: &Uri) -> Result<Vec<Target>> {
        let u = uri
            .as_sip()
            .ok_or_else(|| Error::Unresolvable(format!("{uri}: not a SIP URI")))?;
        let host = match &u.host {
            Host::Domain(d) => d.to_string(),
            Host::V4(a) => a.to_string(),
            Host::V6(a) => a.to_string(),
        };
        let allowed: Vec<Transport> = self
            .transports
            .iter()
            .copied()
            .filter(|t| !u.secure || *t == Transport::Tls)
            .collect();
        let explicit = match u.param("transport") {
            Some(t) => Some(
                Transport::from_token(t)
                    .filter(|t| allowed.contains(t))
                    .ok_or_else(|| {
                        Error::Unresolvable(format!("{uri}: transport {t} not usable"))
                    })?,
            ),
            None => None,
        };
        let mut out = self.table.lookup(&host, explicit, u.port);
        out.retain(|t| allowed.contains(&t.transport));
        if !out.is_empty() {
            return Ok(out);
        }
        let default_transport = explicit.unwrap_or(if u.secure {
            Transport::Tls
        } else {
            Transport::Udp
        });
        // §4.1/§4.2: numeric IP, or an explicit port → no NAPTR/SRV
        if let Some(ip) = u.host.ip() {
            let port = u.port.unwrap_or(default_transport.default_port());
            return Ok(vec![Target {
                transport: default_transport,
                addr: SocketAddr::new(ip, port),
            }]);
        }
        if let Some(port) = u.port {
            return self.a_records(&host, default_transport, port).await;
        }
        // (transport, SRV name) candidates in order
        let mut srv_names: Vec<(Transport, String)> = Vec::new();
        if let Some(t) = explicit {
            srv_names.push((t, format!("{}{host}", srv_prefix(t))));
        } else {
            let mut naptrs: Vec<Naptr> = self
                .dns
                .naptr(&host)
                .await?
                .into_iter()
                .filter(|n| n.flags.eq_ignore_ascii_case("s"))
                .collect();
            naptrs.sort_by_key(|n| (n.order, n.preference));
            for n in &naptrs {
                if let Some(t) = allowed
                    .iter()
                    .find(|t| n.service.eq_ignore_ascii_case(naptr_service(**t)))
                {
                    srv_names.push((*t, n.replacement.trim_end_matches('.').to_string()));
                }
            }
            if naptrs.is_empty() {
                // §4.1: no NAPTR → SRV for each supported transport, our preference order
                for t in &allowed {
                    srv_names.push((*t, format!("{}{host}", srv_prefix(*t))));
                }
            }
        }
        let mut found_srv = false;
        for (t, name) in &srv_names {
            let srvs = self.dns.srv(name).await?;
            if srvs.is_empty() {
                continue;
            }
            found_srv = true;
            // RFC 2782: lower priority first; within a priority, weighted random selection
            let srvs = {
                let mut rng = self.rng.lock().unwrap_or_else(|p| p.into_inner());
                order_srv(srvs, &mut *rng)
            };
            for s in srvs {
                let target = s.target.trim_end_matches('.');
                out.extend(self.a_records(target, *t, s.port).await?);
            }
        }
        if !found_srv && out.is_empty() {
            // §4.2: no SRV → A/AAAA on the default port of the chosen transport
            out = self
                .a_records(&host, default_transport, default_transport.default_port())
                .await?;
        }
        if out.is_empty() {
            return Err(Error::Unresolvable(uri.to_string()));
        }
        Ok(out)
    }

    async fn a_records(&self, host: &str, t: Transport, port: u16) -> Result<Vec<Target>> {
        let from_table = self.table.lookup(host, Some(t), Some(port));
        if !from_table.is_empty() {
            return Ok(from_table);
        }
        Ok(self
            .dns
            .ip(host)
            .await?
            .into_iter()
            .map(|ip| Target {
                transport: t,
                addr: SocketAddr::new(ip, port),
            })
            .collect())
    }
}
