//! MAR → MAA round trips over Diameter/TCP on loopback (the benchmark): a client
//! `diameter::Node` sends batches of 256 concurrent MARs (one vector each, 100 demo subscribers)
//! to the HSS `CxServer` on SQLite. Throughput = MAA per second.
//!
//! Variants: `sqlite_full` (one SQN commit per MAR, group commit, `synchronous = FULL`) and
//! `hss_default` (the HSS as [`hss::server::Hss::start`] runs it with the default configuration:
//! SQLite `synchronous = FULL`, SQN block reservation of 64 on, so a repeated subscriber's MAR is
//! served from memory), and `hss_default_distinct` (same HSS, 60,000 subscribers asked in turn:
//! every MAR reads the database, reserves a block and stores the S-CSCF name). After each
//! variant the process CPU time (user + system, `/proc/self/stat`) per MAR over all timed
//! iterations is printed; client and server share this process, so it covers both ends.
//!
//! `cargo bench -p hss --bench cx_mar -- --warm-up-time 1 --measurement-time 3`

use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use cx::{CxMessage, MultimediaAuthRequest, RequestCommon, SipAuthDataItem};
use diameter::{AppId, EngineConfig, LocalIdentity, Message, Node, NodeConfig, PeerConfig};
use hss::cx_server::{CxServer, CxServerConfig};
use hss::provision::demo::{demo_imsi, provision_demo, DEMO_REALM};
use hss::server::{Hss, HssConfig};
use hss::store::{SqlStore, SqliteSync, StoreConfig};

const BATCH: usize = 256;
/// Subscribers of the `sqlite_full` and `hss_default` variants: each is asked again and again.
const SUBSCRIBERS: u64 = 100;
/// Subscribers of `hss_default_distinct`: every MAR in a run is for a subscriber not seen within
/// the SQN block TTL (no block, no cached context: the cold path of a first registration).
const DISTINCT_SUBSCRIBERS: u64 = 60_000;

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

fn mar(i: u64, subscribers: u64) -> Message {
    let imsi = demo_imsi(1 + i % subscribers);
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

/// The HSS under test: the whole [`Hss`] or a bare `CxServer` node.
enum Server {
    Hss(Hss),
    Node(Node),
}

fn bench_mar(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let mut g = c.benchmark_group("mar_round_trip");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.sample_size(10);
    for name in ["sqlite_full", "hss_default", "hss_default_distinct"] {
        let subscribers = if name == "hss_default_distinct" {
            DISTINCT_SUBSCRIBERS
        } else {
            SUBSCRIBERS
        };
        let dir = std::env::temp_dir().join(format!("hss_bench_mar_{name}_{}", std::process::id()));
        let (server, client) = rt.block_on(async {
            let server = if name.starts_with("hss_default") {
                let hss = Hss::start(HssConfig {
                    origin_host: "hss.ims.example".into(),
                    origin_realm: "ims.example".into(),
                    diameter_listen: "127.0.0.1:0".parse().expect("addr"),
                    data_dir: dir.clone(),
                    ..HssConfig::default()
                })
                .await
                .expect("hss");
                hss.provision_demo(subscribers).await.expect("provision");
                Server::Hss(hss)
            } else {
                let store = SqlStore::open(&StoreConfig::Sqlite {
                    path: dir.join("hss.sqlite"),
                    synchronous: SqliteSync::Full,
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
                Server::Node(
                    server
                        .start(node_cfg("hss.ims.example", true, vec![]))
                        .await
                        .expect("hss node"),
                )
            };
            let addr = match &server {
                Server::Hss(h) => h.local_addrs().diameter,
                Server::Node(n) => n.local_addr().expect("listening"),
            };
            let peers = vec![PeerConfig {
                host: "hss.ims.example".into(),
                addr: Some(addr),
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
            (server, client)
        });
        let mut i = 0u64;
        let mut cpu = Duration::ZERO;
        let mut wall = Duration::ZERO;
        let mut mars = 0u64;
        g.bench_function(format!("{name}/batch{BATCH}"), |b| {
            b.iter(|| {
                let (c0, t0) = (cpu_time(), std::time::Instant::now());
                rt.block_on(async {
                    let futs = (0..BATCH).map(|_| {
                        i += 1;
                        client.request(mar(i, subscribers))
                    });
                    for a in futures::future::join_all(futs).await {
                        assert_eq!(a.expect("answer").result_code(), Some(2001));
                    }
                });
                cpu += cpu_time().saturating_sub(c0);
                wall += t0.elapsed();
                mars += BATCH as u64;
            })
        });
        if mars > 0 {
            println!(
                "{name}: {mars} MARs, {:.0} MAR/s, CPU {:.1} µs/MAR ({:.2} cores)",
                mars as f64 / wall.as_secs_f64(),
                cpu.as_secs_f64() * 1e6 / mars as f64,
                cpu.as_secs_f64() / wall.as_secs_f64()
            );
        }
        rt.block_on(async {
            client.shutdown().await;
            match server {
                Server::Hss(h) => h.shutdown().await,
                Server::Node(n) => n.shutdown().await,
            }
        });
        let _ = std::fs::remove_dir_all(&dir);
    }
    g.finish();
}

/// User + system CPU time of this process so far (`/proc/self/stat` fields 14 and 15, in clock
/// ticks of 1/100 s on Linux); zero where unavailable.
fn cpu_time() -> Duration {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return Duration::ZERO;
    };
    // The command name (field 2) may contain spaces: count fields after its closing ')'.
    let Some(rest) = stat.rfind(')').map(|p| &stat[p + 1..]) else {
        return Duration::ZERO;
    };
    let f: Vec<u64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    let ticks = f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

criterion_group!(benches, bench_mar);
criterion_main!(benches);
