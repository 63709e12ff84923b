//! Test harness shared by the Cx client and S-CSCF tests: a real HSS ([`hss::cx_server::CxServer`]
//! on a Diameter node, SQLite in a temporary directory) on loopback, a provisioned subscriber and
//! a client node with a [`cscf::cx_client::CxClient`].

#![allow(dead_code)]

pub mod reginfo_check;

use std::sync::Arc;
use std::time::Duration;

use cscf::cx_client::{CxClient, CxClientConfig};
use diameter::{AppId, EngineConfig, LocalIdentity, Message, Node, NodeConfig, PeerConfig, Timers};
use hss::cx_server::{CxServer, CxServerConfig};
use hss::model::Impu;
use hss::provision::{ImpuInput, SubscriberInput};
use hss::store::PublicIdentityRecord;
use hss::store::StoreConfig;
use hss::{SqlStore, SubscriberStore};

pub const REALM: &str = "ims.example";
pub const HSS_HOST: &str = "hss.ims.example";
pub const K: &str = "465b5ce8b199b49faa5f0a2ee238a6bc";
pub const OP: &str = "cdc202d5123e20f62b6d676ac72cb318";
pub const IMPI: &str = "alice@ims.example";
pub const IMPU: &str = "sip:alice@ims.example";
pub const TEL: &str = "tel:+15550001";
pub const BARRED: &str = "sip:alice-barred@ims.example";
pub const SCSCF_NAME: &str = "sip:scscf.ims.example:6060";
pub const T10: Duration = Duration::from_secs(10);

pub use testkit::scratch::TempDir;

pub fn node_cfg(host: &str, listen: bool, peers: Vec<PeerConfig>) -> NodeConfig {
    NodeConfig {
        listen: listen.then(|| std::net::SocketAddr::from(([127, 0, 0, 1], 0))),
        engine: EngineConfig {
            local: LocalIdentity {
                origin_host: host.into(),
                origin_realm: REALM.into(),
                host_ip_addresses: vec!["127.0.0.1".parse().unwrap()],
                applications: vec![AppId::vendor_auth(10415, cx::dictionary::CX_APPLICATION_ID)],
                supported_vendor_ids: vec![10415],
                ..LocalIdentity::default()
            },
            peers,
            dictionary: cx::dictionary::dictionary(),
            timers: Timers {
                reconnect_min: Duration::from_millis(100),
                ..Timers::default()
            },
            request_timeout: Duration::from_secs(5),
            ..EngineConfig::default()
        },
        ..NodeConfig::default()
    }
}

/// alice: AKAv1-MD5 (default), AKAv2-MD5 and Digest-MD5; IMPUs sip + tel in the default implicit
/// set, and a barred IMPU in a set of its own.
pub async fn provision(store: &SqlStore) {
    let mut a = SubscriberInput::default();
    a.impi = IMPI.into();
    a.impus = vec![
        ImpuInput::Uri(IMPU.into()),
        ImpuInput::Uri(TEL.into()),
        ImpuInput::Full {
            uri: BARRED.into(),
            barred: true,
            irs: Some("barred".into()),
            can_register: None,
            service_profile: None,
        },
    ];
    a.k = K.into();
    a.op = Some(OP.into());
    a.auth_schemes = Some(vec![
        "AKAv1-MD5".into(),
        "AKAv2-MD5".into(),
        "Digest-MD5".into(),
    ]);
    a.digest_realm = Some(REALM.into());
    a.digest_ha1 = Some(hex_ha1());
    store
        .create_subscription(&a.to_subscription().unwrap())
        .await
        .unwrap();
}

/// HA1 of alice's SIP Digest password "secret".
pub fn hex_ha1() -> String {
    let ha1 = aka::digest::ha1(IMPI, REALM, b"secret");
    ha1.expose_hex()
}

/// The HSS (Cx server on loopback) and one client node.
pub struct Net {
    pub dir: TempDir,
    pub store: SqlStore,
    pub hss: Node,
    pub client_node: Arc<Node>,
    pub cx: Arc<CxClient>,
}

impl Net {
    pub async fn start() -> Net {
        let dir = TempDir::new("cscf_hss");
        let store = SqlStore::open(&StoreConfig::data_dir(dir.path()))
            .await
            .unwrap();
        provision(&store).await;
        let server = Arc::new(CxServer::new(
            Arc::new(store.clone()),
            CxServerConfig {
                origin_host: HSS_HOST.into(),
                origin_realm: REALM.into(),
                home_networks: vec![REALM.into()],
            },
        ));
        let hss = server
            .start(node_cfg(HSS_HOST, true, vec![]))
            .await
            .unwrap();
        let (client_node, cx) = client_to(hss.local_addr(), "scscf.ims.example").await;
        Net {
            dir,
            store,
            hss,
            client_node,
            cx,
        }
    }

    /// The HSS's view of `impu`.
    pub async fn state(&self, impu: &str) -> PublicIdentityRecord {
        self.store
            .public_identity(&Impu::parse(impu).unwrap())
            .await
            .unwrap()
    }
}

/// A client node connected to the server at `addr` (host [`HSS_HOST`]) and its Cx client.
pub async fn client_to(
    addr: Option<std::net::SocketAddr>,
    origin_host: &str,
) -> (Arc<Node>, Arc<CxClient>) {
    let peers = vec![PeerConfig {
        host: HSS_HOST.into(),
        addr,
        connect: true,
    }];
    let mut cfg = node_cfg(origin_host, false, peers);
    cfg.engine.default_route = vec![HSS_HOST.into()];
    let node = Arc::new(
        Node::start(cfg, |req: Message| async move { req.answer() })
            .await
            .unwrap(),
    );
    node.wait_open(HSS_HOST, T10).await.unwrap();
    let cx = Arc::new(CxClient::new(
        node.clone(),
        CxClientConfig {
            origin_host: origin_host.into(),
            origin_realm: REALM.into(),
            destination_realm: REALM.into(),
            destination_host: None,
            timeout: Duration::from_secs(5),
        },
    ));
    (node, cx)
}
