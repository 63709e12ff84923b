//! Store hot paths: the MAR-time SQN allocation (one `UPDATE … RETURNING` with the auth data) on
//! SQLite (durable `synchronous=FULL` and `NORMAL`) and PostgreSQL, the auth-data read, and bulk
//! demo provisioning.
//!
//! `cargo bench -p hss --bench store -- --warm-up-time 1 --measurement-time 3`
//! PostgreSQL benches need the server at 127.0.0.1:5432 (database `test`); they use a throwaway schema.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use hss::model::Impi;
use hss::provision::demo::{demo_imsi, provision_demo, DEMO_REALM};
use hss::store::{SqlStore, SqliteSync, StoreConfig};
use hss::SubscriberStore;
use sqlx::{AnyConnection, Connection, Executor};

fn tmp_dir(tag: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("hss_bench_{tag}_{}", std::process::id()))
}

fn bench_store(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let impi = Impi::parse(&format!("{}@{DEMO_REALM}", demo_imsi(1))).expect("impi");
    let schema = format!("hss_bench_{}", std::process::id());
    let pg_url = std::env::var("HSS_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let configs = vec![
        (
            "sqlite_full",
            StoreConfig::Sqlite {
                path: tmp_dir("full").join("hss.sqlite"),
                synchronous: SqliteSync::Full,
            },
        ),
        (
            "sqlite_normal",
            StoreConfig::Sqlite {
                path: tmp_dir("normal").join("hss.sqlite"),
                synchronous: SqliteSync::Normal,
            },
        ),
        (
            "postgres",
            StoreConfig::Postgres {
                url: pg_url.clone(),
                schema: Some(schema.clone()),
                max_connections: 4,
            },
        ),
    ];
    let mut g = c.benchmark_group("allocate_sqns");
    g.throughput(Throughput::Elements(1));
    for (name, cfg) in &configs {
        let store = rt.block_on(SqlStore::open(cfg)).expect("open store");
        rt.block_on(provision_demo(&store, 1, 100))
            .expect("provision");
        g.bench_function(format!("{name}/n1"), |b| {
            b.iter(|| {
                rt.block_on(store.allocate_sqns(&impi, 1))
                    .expect("allocate")
            })
        });
        g.bench_function(format!("{name}/auth_data"), |b| {
            b.iter(|| rt.block_on(store.auth_data(&impi)).expect("read"))
        });
        rt.block_on(store.close());
    }
    g.finish();

    let mut g = c.benchmark_group("provision_demo");
    g.sample_size(10);
    g.throughput(Throughput::Elements(1000));
    let dir = tmp_dir("demo");
    let mut round = 0u64;
    let store = rt
        .block_on(SqlStore::open(&StoreConfig::data_dir(&dir)))
        .expect("open");
    g.bench_function("sqlite_full/1000_subscribers_one_tx", |b| {
        b.iter(|| {
            round += 1;
            rt.block_on(provision_demo(&store, round * 1000, 1000))
                .expect("provision")
        })
    });
    g.finish();
    rt.block_on(store.close());

    for (_, cfg) in &configs {
        if let StoreConfig::Sqlite { path, .. } = cfg {
            if let Some(d) = path.parent() {
                let _ = std::fs::remove_dir_all(d);
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    rt.block_on(async {
        if let Ok(mut conn) = AnyConnection::connect(&pg_url).await {
            let _ = conn
                .execute(format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE").as_str())
                .await;
        }
    });
}

criterion_group!(benches, bench_store);
criterion_main!(benches);
