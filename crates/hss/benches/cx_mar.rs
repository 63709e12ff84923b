//! MAR → MAA round trips over Diameter/TCP on loopback (the benchmark): a client
//! `diameter::Node` sends batches of 256 concurrent MARs (one vector each, 100 demo subscribers)
//! to the HSS `CxServer` on SQLite. Throughput = MAA per second.
//!
//! `cargo bench -p hss --bench cx_mar -- --warm-up-time 1 --measurement-time 3`

use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use cx::{CxMessage, MultimediaAuthRequest, RequestCommon, SipAuthDataItem};
use diameter::{AppId, EngineConfig, LocalIdentity, Message, Node, NodeConfig, PeerConfig};
use hss::cx_server::{CxServer, CxServerConfig};
use hss::provision::demo::{demo_imsi, provision_demo, DEMO_REALM};
use hss::store::{SqlStore, SqliteSync, StoreConfig};

const BATCH: usize = 256;
const SUBSCRIBERS: u64 = 100;

fn node_cfg(host: &str, listen: bool, peers: Vec<PeerConfig>) -> NodeConfig {
    NodeConfig {
        listen: listen.then(|| std::net::SocketAddr::from(([127, 0, 0, 1], 0))),
        engine: EngineConfig {
            local: LocalIdentity {
                origin_host: host.into(),
                origin_realm: "ims.example".into(),
                host_ip_addresses: vec![[127, 0, 0, 1].into()],
                applications: vec![AppId::vendor_auth(10415, cx::dictionary::CX_APPLICATION_ID)],
                supported_vendor_ids: vec![10415],
                ..LocalIdentity::default()
            },
            peers,
            dictionary: cx::dictionary::dictionary(),
            request_timeout: Duration::from_secs(30),
            ..EngineConfig::default()
        },
        ..NodeConfig::default()
    }
}

fn mar(i: u64) -> Message {
    let imsi = demo_imsi(1 + i % SUBSCRIBERS);
    MultimediaAuthRequest {
        common: RequestCommon::new(
            format!("scscf;1;{i}"),
            "scscf.ims.example",
            "ims.example",
            "ims.example",
        ),
        user_name: format!("{imsi}@{DEMO_REALM}"),
        public_identity: format!("sip:{imsi}@{DEMO_REALM}"),
        sip_auth_data_item: SipAuthDataItem {
            authentication_scheme: Some("Unknown".into()),
            ..Default::default()
        },
        sip_number_auth_items: 1,
        server_name: "sip:scscf.ims.example".into(),
    }
    .to_message()
}

fn bench_mar(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let mut g = c.benchmark_group("mar_round_trip");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.sample_size(10);
    for (name, sync) in [
        ("sqlite_full", SqliteSync::Full),
        ("sqlite_normal", SqliteSync::Normal),
    ] {
        let dir = std::env::temp_dir().join(format!("hss_bench_mar_{name}_{}", std::process::id()));
        let (hss, client) = rt.block_on(async {
            let store = SqlStore::open(&StoreConfig::Sqlite {
                path: dir.join("hss.sqlite"),
                synchronous: sync,
            })
            .await
            .expect("store");
            provision_demo(&store, 1, SUBSCRIBERS)
                .await
                .expect("provision");
            let server = Arc::new(CxServer::new(
                Arc::new(store),
                CxServerConfig {
                    origin_host: "hss.ims.example".into(),
                    origin_realm: "ims.example".into(),
                    home_networks: vec!["ims.example".into()],
                },
            ));
            let hss = server
                .start(node_cfg("hss.ims.example", true, vec![]))
                .await
                .expect("hss node");
            let peers = vec![PeerConfig {
                host: "hss.ims.example".into(),
                addr: hss.local_addr(),
                connect: true,
            }];
            let client = Node::start(
                node_cfg("scscf.ims.example", false, peers),
                |r: Message| async move { r.answer() },
            )
            .await
            .expect("client");
            client
                .wait_open("hss.ims.example", Duration::from_secs(10))
                .await
                .expect("open");
            (hss, client)
        });
        let mut i = 0u64;
        g.bench_function(format!("{name}/batch{BATCH}"), |b| {
            b.iter(|| {
                rt.block_on(async {
                    let futs = (0..BATCH).map(|_| {
                        i += 1;
                        client.request(mar(i))
                    });
                    for a in futures::future::join_all(futs).await {
                        assert_eq!(a.expect("answer").result_code(), Some(2001));
                    }
                })
            })
        });
        rt.block_on(async {
            client.shutdown().await;
            hss.shutdown().await;
        });
        let _ = std::fs::remove_dir_all(&dir);
    }
    g.finish();
}

criterion_group!(benches, bench_mar);
criterion_main!(benches);
