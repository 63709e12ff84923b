//! A complete HSS process from one configuration ([`HssConfig`]): the subscriber store (SQLite in a
//! data directory, or PostgreSQL), the Cx Diameter server (TS 29.228/29.229) on TCP, the optional
//! provisioning REST API with network-initiated de-registration (RTR, TS 29.228 §6.1.3), and SQN
//! block reservation (TS 33.102 Annex C.3) on by default. `imscore up` and `imscore run hss`
//! start it with [`Hss::start`] and stop it with [`Hss::shutdown`].

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::cx_server::{CxNodeNotifier, CxServer, CxServerConfig, DeregistrationReport};
use crate::model::CapabilitySet;
use crate::store::{SqlStore, SqliteSync, SqnBlockConfig, StoreConfig, SubscriberStore};
use crate::HssError;

/// Default Diameter listen address (loopback: expose it deliberately).
pub const DEFAULT_DIAMETER_LISTEN: SocketAddr =
    SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 3868);

/// Configuration of one HSS (a table in the imscore configuration file). Every field has a
/// default, so an empty table runs an HSS on `127.0.0.1:3868` with SQLite in `imscore-data`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HssConfig {
    /// Diameter identity (Origin-Host) of the HSS.
    pub origin_host: String,
    /// Diameter realm (Origin-Realm) of the HSS.
    pub origin_realm: String,
    /// Home network domains: a Visited-Network-Identifier equal to one of them is not roaming
    /// (UAR, TS 29.228 §6.1.1.1). Empty = `origin_realm` only.
    pub home_networks: Vec<String>,
    /// Where the Cx Diameter server listens (TCP).
    pub diameter_listen: SocketAddr,
    /// Diameter peers known in advance (S-CSCFs/I-CSCFs, or a DRA to connect to).
    pub peers: Vec<HssPeer>,
    /// Accept Capabilities-Exchange from hosts not listed in `peers` (CSCFs that connect to us).
    pub accept_unknown_peers: bool,
    /// Seconds to wait for an answer to an HSS-initiated request (RTR, PPR).
    pub request_timeout_secs: u64,
    /// Directory of the embedded SQLite database (`hss.sqlite` inside; created if missing). Ignored
    /// when `database_url` is set.
    pub data_dir: PathBuf,
    /// PostgreSQL URL (`postgres://user:password@host:port/db`) for a shared store; `None` = SQLite
    /// in `data_dir`.
    pub database_url: Option<String>,
    /// SQLite durability: `full` (fsync every commit, survives power loss) or `normal`.
    pub sqlite_sync: SyncMode,
    /// SQN block reservation (on by default).
    pub sqn_blocks: SqnBlocksConfig,
    /// The provisioning REST API; off when `listen` is not set.
    pub rest: RestConfig,
    /// S-CSCF capability sets written to the store at start (inserted or replaced by name): what
    /// UAA/LIA Server-Capabilities carry (TS 29.228 §6.7). The set named `default` serves every
    /// subscription without a capability profile of its own.
    pub capability_sets: Vec<CapabilitySet>,
}

impl Default for HssConfig {
    fn default() -> Self {
        Self {
            origin_host: "hss.ims.mnc001.mcc001.3gppnetwork.org".into(),
            origin_realm: crate::provision::demo::DEMO_REALM.into(),
            home_networks: Vec::new(),
            diameter_listen: DEFAULT_DIAMETER_LISTEN,
            peers: Vec::new(),
            accept_unknown_peers: true,
            request_timeout_secs: 5,
            data_dir: PathBuf::from(crate::cli::DEFAULT_DATA_DIR),
            database_url: None,
            sqlite_sync: SyncMode::Full,
            sqn_blocks: SqnBlocksConfig::default(),
            rest: RestConfig::default(),
            capability_sets: Vec::new(),
        }
    }
}

/// A Diameter peer of the HSS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HssPeer {
    /// The peer's Origin-Host.
    pub host: String,
    /// Its address, if the HSS connects to it.
    #[serde(default)]
    pub addr: Option<SocketAddr>,
    /// Whether the HSS initiates the connection (needs `addr`).
    #[serde(default)]
    pub connect: bool,
}

/// SQLite `synchronous` mode ([`SqliteSync`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SyncMode {
    /// Every commit fsynced.
    #[default]
    Full,
    /// WAL fsynced at checkpoints.
    Normal,
}

/// SQN block reservation ([`crate::store::sqn_blocks`]): one durable commit reserves `block` SQNs
/// of an IMPI, MARs are served from memory. SQNs are never reused (across restarts and between
/// HSS processes on one database); at most `block` are skipped per restart, far inside the
/// USIM's accepted range (TS 33.102 Annex C.2.2: SEQ may jump ahead by up to Δ).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SqnBlocksConfig {
    /// On unless set to false (then every MAR is one commit).
    pub enabled: bool,
    /// SQNs per reservation (1..=1024).
    pub block: u32,
    /// Milliseconds a reserved block, the credentials read with it and a cached MAR/UAR context
    /// (registration state, S-CSCF, association) are used before the database is read again:
    /// bounds how long a change made by ANOTHER process on the same database goes unseen (changes
    /// made through this HSS are seen at once).
    pub ttl_ms: u64,
}

impl Default for SqnBlocksConfig {
    fn default() -> Self {
        let d = SqnBlockConfig::default();
        Self {
            enabled: true,
            block: d.block,
            ttl_ms: u64::try_from(d.ttl.as_millis()).unwrap_or(5000),
        }
    }
}

/// The provisioning REST API ([`crate::rest`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct RestConfig {
    /// Where it listens (HTTP); `None` = no REST API.
    pub listen: Option<SocketAddr>,
    /// Bearer token clients must present (at least 16 characters; required with `listen`).
    pub token: Option<String>,
}

/// Addresses a running [`Hss`] listens on (ports resolved when configured as 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HssAddrs {
    /// Cx Diameter server (TCP).
    pub diameter: SocketAddr,
    /// REST API, if enabled.
    pub rest: Option<SocketAddr>,
}

/// A running HSS.
pub struct Hss {
    store: SqlStore,
    server: Arc<CxServer>,
    node: Arc<diameter::Node>,
    addrs: HssAddrs,
    rest: Option<RestTask>,
}

/// The running REST API: its stop signal and its task.
type RestTask = (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<Result<(), HssError>>,
);

impl HssConfig {
    fn store_config(&self) -> Result<StoreConfig, HssError> {
        match &self.database_url {
            Some(url) => StoreConfig::from_url(url),
            None => Ok(StoreConfig::Sqlite {
                path: self.data_dir.join(StoreConfig::SQLITE_FILE),
                synchronous: match self.sqlite_sync {
                    SyncMode::Full => SqliteSync::Full,
                    SyncMode::Normal => SqliteSync::Normal,
                },
            }),
        }
    }

    fn node_config(&self) -> diameter::NodeConfig {
        let ip = match self.diameter_listen.ip() {
            ip if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            ip => ip,
        };
        // Origin-State-Id changes on every start (RFC 6733 §8.16).
        let state_id = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as u32)
            .unwrap_or(1);
        diameter::NodeConfig {
            listen: Some(self.diameter_listen),
            engine: diameter::EngineConfig {
                local: diameter::LocalIdentity {
                    origin_host: self.origin_host.clone(),
                    origin_realm: self.origin_realm.clone(),
                    host_ip_addresses: vec![ip],
                    product_name: "imscore-hss".into(),
                    origin_state_id: state_id,
                    applications: vec![diameter::AppId::vendor_auth(
                        cx::dictionary::VENDOR_3GPP,
                        cx::dictionary::CX_APPLICATION_ID,
                    )],
                    supported_vendor_ids: vec![cx::dictionary::VENDOR_3GPP],
                    ..diameter::LocalIdentity::default()
                },
                peers: self
                    .peers
                    .iter()
                    .map(|p| diameter::PeerConfig {
                        host: p.host.clone(),
                        addr: p.addr,
                        connect: p.connect && p.addr.is_some(),
                    })
                    .collect(),
                dictionary: cx::dictionary::dictionary(),
                request_timeout: Duration::from_secs(self.request_timeout_secs.max(1)),
                accept_unknown_peers: self.accept_unknown_peers,
                ..diameter::EngineConfig::default()
            },
            ..diameter::NodeConfig::default()
        }
    }

    /// Checks what can be checked before anything starts.
    pub fn validate(&self) -> Result<(), HssError> {
        if self.origin_host.trim().is_empty() || self.origin_realm.trim().is_empty() {
            return Err(HssError::Config(
                "origin_host and origin_realm must not be empty".into(),
            ));
        }
        if self.sqn_blocks.enabled
            && (self.sqn_blocks.block == 0
                || self.sqn_blocks.block > crate::store::MAX_SQN_BATCH
                || self.sqn_blocks.ttl_ms == 0)
        {
            return Err(HssError::Config(format!(
                "sqn_blocks: block must be 1..={} and ttl_ms > 0",
                crate::store::MAX_SQN_BATCH
            )));
        }
        for set in &self.capability_sets {
            set.validate()?;
        }
        if self.rest.listen.is_some() {
            match &self.rest.token {
                Some(t) if t.len() >= 16 => {}
                _ => {
                    return Err(HssError::Config(
                        "rest.token of at least 16 characters is required with rest.listen".into(),
                    ))
                }
            }
        }
        Ok(())
    }
}

impl Hss {
    /// Opens the store (migrating its schema), starts the Cx Diameter server and, if configured,
    /// the REST API. On error nothing keeps running.
    pub async fn start(cfg: HssConfig) -> Result<Hss, HssError> {
        cfg.validate()?;
        let mut store = SqlStore::open(&cfg.store_config()?).await?;
        if cfg.sqn_blocks.enabled {
            store = store.with_sqn_blocks(SqnBlockConfig {
                block: cfg.sqn_blocks.block,
                ttl: Duration::from_millis(cfg.sqn_blocks.ttl_ms),
            })?;
        }
        for set in &cfg.capability_sets {
            if let Err(e) = store.put_capability_set(set).await {
                store.close().await;
                return Err(e);
            }
        }
        let home_networks = if cfg.home_networks.is_empty() {
            vec![cfg.origin_realm.clone()]
        } else {
            cfg.home_networks.clone()
        };
        let server = Arc::new(CxServer::new(
            Arc::new(store.clone()),
            CxServerConfig {
                origin_host: cfg.origin_host.clone(),
                origin_realm: cfg.origin_realm.clone(),
                home_networks,
            },
        ));
        let node = match server.clone().start(cfg.node_config()).await {
            Ok(n) => Arc::new(n),
            Err(e) => {
                store.close().await;
                return Err(HssError::Cx(format!(
                    "cannot start the Diameter node on {}: {e}",
                    cfg.diameter_listen
                )));
            }
        };
        let diameter_addr = node.local_addr().unwrap_or(cfg.diameter_listen);
        let mut hss = Hss {
            store,
            server,
            node,
            addrs: HssAddrs {
                diameter: diameter_addr,
                rest: None,
            },
            rest: None,
        };
        if let (Some(listen), Some(token)) = (cfg.rest.listen, cfg.rest.token.as_deref()) {
            let started = async {
                let notifier = Arc::new(CxNodeNotifier {
                    server: hss.server.clone(),
                    node: hss.node.clone(),
                });
                let router =
                    crate::rest::router_with_cx(Arc::new(hss.store.clone()), token, notifier)?;
                let listener = tokio::net::TcpListener::bind(listen).await?;
                let addr = listener.local_addr()?;
                let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
                let task = tokio::spawn(crate::rest::serve(listener, router, async move {
                    let _ = stopped.await;
                }));
                Ok::<_, HssError>((addr, stop, task))
            }
            .await;
            match started {
                Ok((addr, stop, task)) => {
                    hss.addrs.rest = Some(addr);
                    hss.rest = Some((stop, task));
                }
                Err(e) => {
                    hss.shutdown().await;
                    return Err(e);
                }
            }
        }
        tracing::info!(diameter = %hss.addrs.diameter, rest = ?hss.addrs.rest, origin_host = %cfg.origin_host, "HSS started");
        Ok(hss)
    }

    /// Where it listens.
    pub fn local_addrs(&self) -> HssAddrs {
        self.addrs
    }

    /// Waits until the Diameter peer `host` (e.g. an S-CSCF) is connected and open.
    pub async fn wait_peer_open(&self, host: &str, timeout: Duration) -> Result<(), HssError> {
        self.node
            .wait_open(host, timeout)
            .await
            .map_err(|e| HssError::Cx(format!("peer {host} not open: {e}")))
    }

    /// The subscriber store.
    pub fn store(&self) -> &SqlStore {
        &self.store
    }

    /// Provisions demo subscribers 1..=`n` ([`crate::provision::demo`]) if the store has no
    /// subscription yet (first start); returns how many were created (0 when it was not empty).
    pub async fn provision_demo(&self, n: u64) -> Result<u64, HssError> {
        if n == 0 || self.store.count().await? > 0 {
            return Ok(0);
        }
        crate::provision::demo::provision_demo(&self.store, 1, n).await
    }

    /// Network-initiated de-registration (RTR to the serving S-CSCF, TS 29.228 §6.1.3).
    pub async fn deregister(
        &self,
        key: &str,
        reason: &str,
    ) -> Result<DeregistrationReport, HssError> {
        self.server.deregister(&self.node, key, reason).await
    }

    /// [`Self::deregister`] with a chosen RTR Reason-Code (TS 29.228 §6.1.3).
    pub async fn deregister_with_code(
        &self,
        key: &str,
        reason: &str,
        code: cx::enums::ReasonCode,
    ) -> Result<DeregistrationReport, HssError> {
        self.server
            .deregister_with_code(&self.node, key, reason, code)
            .await
    }

    /// Stops the REST API, the Diameter node (DPR to its peers) and closes the store.
    pub async fn shutdown(mut self) {
        if let Some((stop, task)) = self.rest.take() {
            let _ = stop.send(());
            match tokio::time::timeout(Duration::from_secs(5), task).await {
                Ok(Ok(Err(e))) => tracing::warn!(error = %e, "HSS REST API stopped with an error"),
                Ok(_) => {}
                Err(_) => tracing::warn!("HSS REST API did not stop within 5 s"),
            }
        }
        match Arc::try_unwrap(self.node) {
            Ok(node) => node.shutdown().await,
            // An in-flight RTR still holds the node: dropping our handle stops it when done.
            Err(shared) => drop(shared),
        }
        self.store.close().await;
    }
}
