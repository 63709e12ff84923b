//! Test support: an in-process IMS core — HSS with demo subscribers, S-, I- and P-CSCF started as
//! `imscore up` starts them (`cscf::node::start_*`, TS 23.228 §4.6 roles), one SQLite registration
//! store, host names `{role}.{domain}` resolved through a static host table and the home realm
//! routed to the I-CSCF (in place of RFC 3263 DNS). Included by path from the cscf and ue test
//! crates (`#[path = "…/harness/ims_core.rs"] mod ims_core;`); callers add their own settings
//! (security agreement, IPsec, TLS listeners, relays) through the builder's fields.

#![allow(dead_code)] // each test binary uses a part of it

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;

use cscf::icscf::{IcscfConfig, ScscfEntry};
use cscf::node::{
    host_table, start_icscf, start_pcscf, start_scscf, CxPeerConfig, IcscfNodeConfig, NextHop,
    PcscfNodeConfig, RoleHandle, ScscfNodeConfig, SipConfig,
};
use cscf::pcscf::PcscfConfig;
use cscf::scscf::ScscfConfig;
use cscf::store::{RegistrationStore, SqliteStore};
use hss::provision::demo;
use hss::server::{Hss, HssConfig};

/// The home realm (of the demo subscribers).
pub const REALM: &str = demo::DEMO_REALM;

/// How to start the core; [`CoreBuilder::start`] may be called again (a restart on the same
/// ports).
#[derive(Debug, Clone)]
pub struct CoreBuilder {
    /// Domain of the host names: `hss.{domain}`, `pcscf.{domain}`, ….
    pub domain: String,
    /// The address every role listens on.
    pub ip: IpAddr,
    /// The HSS's Diameter port (0: any free one).
    pub hss_port: u16,
    /// The P-CSCF's SIP port (UDP).
    pub pcscf_port: u16,
    /// The I-CSCF's SIP port.
    pub icscf_port: u16,
    /// The S-CSCF's SIP port.
    pub scscf_port: u16,
    /// The S- and I-CSCF listen on TCP too, on the same port.
    pub tcp: bool,
    /// P-CSCF listeners besides UDP (`tcp:…`, `tls:…`).
    pub pcscf_listen: Vec<String>,
    /// More host names `{name}.{domain}` → UDP `port` on `ip` (a relay, a dead S-CSCF).
    pub hosts: Vec<(String, u16)>,
    /// S-CSCF names the I-CSCF tries before ours.
    pub scscfs_before: Vec<String>,
    /// The I-CSCF's SIP T1 (shortened timers), if not the default.
    pub icscf_t1_ms: Option<u64>,
    /// The S-CSCF's registrar settings; `server_name` and `realm` are set by `start`.
    pub scscf: ScscfConfig,
    /// The P-CSCF's settings; `visited_network_id` is set by `start`, `icscf` too (to
    /// [`CoreBuilder::pcscf_next_hop`] or the I-CSCF).
    pub pcscf: PcscfConfig,
    /// Where the P-CSCF sends to instead of the I-CSCF (e.g. a recording relay).
    pub pcscf_next_hop: Option<String>,
}

impl CoreBuilder {
    /// On loopback, every role on a port free for UDP and TCP, UDP only.
    pub fn loopback(domain: &str) -> CoreBuilder {
        CoreBuilder::on(
            domain,
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            0,
            (free_port(), free_port(), free_port()),
        )
    }

    /// On `ip`, with fixed ports: HSS `hss_port`, P-, I-, S-CSCF `(pcscf, icscf, scscf)`.
    pub fn on(domain: &str, ip: IpAddr, hss_port: u16, ports: (u16, u16, u16)) -> CoreBuilder {
        CoreBuilder {
            domain: domain.into(),
            ip,
            hss_port,
            pcscf_port: ports.0,
            icscf_port: ports.1,
            scscf_port: ports.2,
            tcp: false,
            pcscf_listen: vec![],
            hosts: vec![],
            scscfs_before: vec![],
            icscf_t1_ms: None,
            scscf: ScscfConfig::default(),
            pcscf: PcscfConfig::default(),
            pcscf_next_hop: None,
        }
    }

    /// A TLS listener for the P-CSCF on a free loopback port.
    pub fn pcscf_tls_listener(&mut self) {
        let port = testkit::scratch::free_tcp_port();
        self.pcscf_listen
            .push(format!("tls:{}", SocketAddr::new(self.ip, port)));
    }

    /// Generates a self-signed P-CSCF certificate for `ip` and `pcscf.{domain}`, writes it and
    /// its key as PEM files into `dir` and makes them the P-CSCF's; returns the certificate (PEM).
    pub fn pcscf_cert_files(&mut self, dir: &Path) -> String {
        let names = [self.ip.to_string(), format!("pcscf.{}", self.domain)];
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let (cert, key) = sip_stack::generate_self_signed(&names).expect("certificate");
        let (cp, kp) = (dir.join("pcscf.crt"), dir.join("pcscf.key"));
        std::fs::write(&cp, &cert).expect("certificate file");
        std::fs::write(&kp, key).expect("key file");
        self.pcscf.tls_cert = Some(cp);
        self.pcscf.tls_key = Some(kp);
        cert
    }

    /// The S-CSCF's SIP URI (its Server-Name).
    pub fn scscf_name(&self) -> String {
        format!("sip:scscf.{}:{}", self.domain, self.scscf_port)
    }

    fn sip(&self, role: &str, port: u16, tcp: bool, more: &[String]) -> SipConfig {
        let mut listen = vec![format!("udp:{}", SocketAddr::new(self.ip, port))];
        if tcp {
            listen.push(format!("tcp:{}", SocketAddr::new(self.ip, port)));
        }
        listen.extend_from_slice(more);
        SipConfig {
            listen,
            host: format!("{role}.{}", self.domain),
            aliases: vec![],
            t1_ms: if role == "icscf" {
                self.icscf_t1_ms
            } else {
                None
            },
        }
    }

    fn cx(&self, role: &str, hss_addr: SocketAddr) -> CxPeerConfig {
        CxPeerConfig {
            origin_host: format!("{role}.{}", self.domain),
            origin_realm: REALM.into(),
            hss_host: format!("hss.{}", self.domain),
            hss_addr,
            hss_realm: REALM.into(),
            timeout_ms: 2000,
            relay_host: None,
        }
    }

    /// Starts HSS (demo subscribers 1..=`subscribers`, data in `dir`), S-, I- and P-CSCF.
    pub async fn start(&self, dir: &Path, subscribers: u64) -> Core {
        let hss = Hss::start(HssConfig {
            origin_host: format!("hss.{}", self.domain),
            origin_realm: REALM.into(),
            diameter_listen: SocketAddr::new(self.ip, self.hss_port),
            data_dir: dir.to_path_buf(),
            ..HssConfig::default()
        })
        .await
        .expect("HSS starts");
        hss.provision_demo(subscribers)
            .await
            .expect("demo subscribers");
        let hss_addr = hss.local_addrs().diameter;
        let udp = |p: u16| vec![format!("udp:{}", SocketAddr::new(self.ip, p))];
        let mut hosts = BTreeMap::new();
        for (n, p) in [
            ("pcscf", self.pcscf_port),
            ("icscf", self.icscf_port),
            ("scscf", self.scscf_port),
        ] {
            hosts.insert(format!("{n}.{}", self.domain), udp(p));
        }
        for (n, p) in &self.hosts {
            hosts.insert(format!("{n}.{}", self.domain), udp(*p));
        }
        hosts.insert(REALM.to_string(), udp(self.icscf_port));
        let table = host_table(&hosts).expect("host table");
        let store: Arc<dyn RegistrationStore> = Arc::new(
            SqliteStore::open_in_dir(dir)
                .await
                .expect("registration store"),
        );
        let s = start_scscf(
            &ScscfNodeConfig {
                sip: self.sip("scscf", self.scscf_port, self.tcp, &[]),
                cx: self.cx("scscf", hss_addr),
                registrar: ScscfConfig {
                    server_name: self.scscf_name(),
                    realm: REALM.into(),
                    ..self.scscf.clone()
                },
            },
            store.clone(),
            NextHop::new(table.clone()),
        )
        .await
        .expect("S-CSCF starts");
        let mut scscfs: Vec<ScscfEntry> = self
            .scscfs_before
            .iter()
            .map(|name| ScscfEntry {
                name: name.clone(),
                capabilities: vec![],
            })
            .collect();
        scscfs.push(ScscfEntry {
            name: self.scscf_name(),
            capabilities: vec![],
        });
        let i = start_icscf(
            &IcscfNodeConfig {
                sip: self.sip("icscf", self.icscf_port, self.tcp, &[]),
                cx: self.cx("icscf", hss_addr),
                icscf: IcscfConfig {
                    scscfs,
                    max_attempts: 3,
                },
            },
            NextHop::new(table.clone()),
        )
        .await
        .expect("I-CSCF starts");
        let next_hop = self
            .pcscf_next_hop
            .clone()
            .unwrap_or_else(|| format!("sip:icscf.{}:{}", self.domain, self.icscf_port));
        let p = start_pcscf(
            &PcscfNodeConfig {
                sip: self.sip("pcscf", self.pcscf_port, false, &self.pcscf_listen),
                pcscf: PcscfConfig {
                    icscf: next_hop,
                    visited_network_id: REALM.into(),
                    ..self.pcscf.clone()
                },
            },
            store.clone(),
            NextHop::new(table),
        )
        .await
        .expect("P-CSCF starts");
        let pcscf = p.sip[0].1;
        Core {
            hss: Some(hss),
            roles: vec![s, i, p],
            store,
            pcscf,
        }
    }
}

/// A loopback port free for UDP and for TCP a moment ago (roles may listen on both), outside the
/// kernel's ephemeral range.
fn free_port() -> u16 {
    testkit::scratch::free_port()
}

/// A running core.
pub struct Core {
    /// The HSS (taken by [`Core::stop`]).
    pub hss: Option<Hss>,
    /// S-, I- and P-CSCF, in this order.
    pub roles: Vec<RoleHandle>,
    /// The registration store the CSCFs share.
    pub store: Arc<dyn RegistrationStore>,
    /// The P-CSCF's UDP listener.
    pub pcscf: SocketAddr,
}

impl Core {
    /// The P-CSCF's handle.
    pub fn pcscf_role(&self) -> &RoleHandle {
        &self.roles[2]
    }

    /// The P-CSCF's TLS listener.
    pub fn pcscf_tls(&self) -> SocketAddr {
        self.pcscf_role()
            .sip
            .iter()
            .find(|(t, _)| *t == sip_stack::Transport::Tls)
            .expect("a P-CSCF TLS listener")
            .1
    }

    /// Shuts the roles down (P-, I-, S-CSCF), then the HSS.
    pub async fn stop(mut self) {
        for r in self.roles.drain(..).rev() {
            r.shutdown().await;
        }
        if let Some(h) = self.hss.take() {
            h.shutdown().await;
        }
    }
}
