//! A real [`Dns`] backend over `hickory-resolver` (tokio): NAPTR (RFC 3403), SRV (RFC 2782) and
//! A/AAAA queries for RFC 3263, using the system resolver configuration (`/etc/resolv.conf`) or
//! explicit name servers. "No such name" and "no records" answers are empty lists, as the
//! [`Dns`] trait wants; other failures (timeouts, SERVFAIL) are [`Error::Unresolvable`].

use super::{Dns, Naptr, Srv};
use crate::{Error, Result};
use hickory_resolver::config::{
    LookupIpStrategy, NameServerConfig, NameServerConfigGroup, ResolverConfig, ResolverOpts,
};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{RData, RecordType};
use hickory_resolver::proto::xfer::Protocol;
use hickory_resolver::proto::ProtoErrorKind;
use hickory_resolver::{ResolveError, TokioResolver};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// [`Dns`] over a hickory tokio resolver.
#[derive(Clone)]
pub struct HickoryDns {
    resolver: TokioResolver,
}

impl std::fmt::Debug for HickoryDns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HickoryDns").finish_non_exhaustive()
    }
}

fn dns_error(what: &str, name: &str, e: ResolveError) -> Error {
    Error::Unresolvable(format!("{what} {name}: {e}"))
}

/// NXDOMAIN and NODATA (NOERROR without records) are empty answers, from which RFC 3263 falls
/// back to the next step; any other response code (SERVFAIL, REFUSED…) or a timeout is an error.
fn empty_or<T>(what: &str, name: &str, e: ResolveError) -> Result<Vec<T>> {
    let empty = matches!(
        e.proto().map(|p| p.kind()),
        Some(ProtoErrorKind::NoRecordsFound {
            response_code: ResponseCode::NXDomain | ResponseCode::NoError,
            ..
        })
    );
    if empty {
        Ok(Vec::new())
    } else {
        Err(dns_error(what, name, e))
    }
}

/// A fully qualified form of `name` (no search-list expansion for the names RFC 3263 queries).
fn fqdn(name: &str) -> String {
    if name.ends_with('.') {
        name.to_string()
    } else {
        format!("{name}.")
    }
}

impl HickoryDns {
    /// The system configuration (`/etc/resolv.conf` on Unix), asking for A and AAAA.
    pub fn from_system_conf() -> Result<Self> {
        let mut b = TokioResolver::builder_tokio()
            .map_err(|e| Error::Unresolvable(format!("system resolver configuration: {e}")))?;
        b.options_mut().ip_strategy = LookupIpStrategy::Ipv4AndIpv6;
        Ok(HickoryDns {
            resolver: b.build(),
        })
    }

    /// Explicit name servers over UDP (e.g. the IMS core's own DNS), with `timeout` per
    /// attempt and `attempts` tries.
    pub fn with_servers(servers: &[SocketAddr], timeout: Duration, attempts: usize) -> Self {
        let group: NameServerConfigGroup = servers
            .iter()
            .map(|a| {
                let mut c = NameServerConfig::new(*a, Protocol::Udp);
                c.trust_negative_responses = true;
                c
            })
            .collect::<Vec<_>>()
            .into();
        let cfg = ResolverConfig::from_parts(None, Vec::new(), group);
        let mut opts = ResolverOpts::default();
        opts.ip_strategy = LookupIpStrategy::Ipv4AndIpv6;
        opts.timeout = timeout;
        opts.attempts = attempts;
        let resolver = TokioResolver::builder_with_config(cfg, TokioConnectionProvider::default())
            .with_options(opts)
            .build();
        HickoryDns { resolver }
    }

    /// The underlying resolver.
    pub fn resolver(&self) -> &TokioResolver {
        &self.resolver
    }
}

impl Dns for HickoryDns {
    async fn naptr(&self, domain: &str) -> Result<Vec<Naptr>> {
        let lookup = match self.resolver.lookup(fqdn(domain), RecordType::NAPTR).await {
            Ok(l) => l,
            Err(e) => return empty_or("NAPTR", domain, e),
        };
        Ok(lookup
            .iter()
            .filter_map(|r| match r {
                RData::NAPTR(n) => Some(Naptr {
                    order: n.order(),
                    preference: n.preference(),
                    flags: String::from_utf8_lossy(n.flags()).into_owned(),
                    service: String::from_utf8_lossy(n.services()).into_owned(),
                    replacement: n.replacement().to_utf8(),
                }),
                _ => None,
            })
            .collect())
    }

    async fn srv(&self, name: &str) -> Result<Vec<Srv>> {
        let lookup = match self.resolver.srv_lookup(fqdn(name)).await {
            Ok(l) => l,
            Err(e) => return empty_or("SRV", name, e),
        };
        Ok(lookup
            .iter()
            .map(|s| Srv {
                priority: s.priority(),
                weight: s.weight(),
                port: s.port(),
                target: s.target().to_utf8(),
            })
            .collect())
    }

    async fn ip(&self, host: &str) -> Result<Vec<IpAddr>> {
        match self.resolver.lookup_ip(fqdn(host)).await {
            Ok(l) => Ok(l.iter().collect()),
            Err(e) => empty_or("A/AAAA", host, e),
        }
    }
}
