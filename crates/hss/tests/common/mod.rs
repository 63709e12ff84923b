//! Test databases for the shared store suite: a fresh SQLite file in a temporary directory, or a
//! fresh schema in the PostgreSQL database `test` at 127.0.0.1:5432 (user `postgres`, trust auth;
//! override with `HSS_TEST_PG_URL`). Both are removed when the [`TestDb`] is dropped, also when the
//! test panics. PostgreSQL being unreachable FAILS the test (it is installed by `scripts/test`).

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use hss::store::{SqlStore, SqliteSync, StoreConfig};
use sqlx::{AnyConnection, Connection, Executor};

pub const DEFAULT_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestDb {
    pub backend: Backend,
    pub config: StoreConfig,
    dir: Option<PathBuf>,
    schema: Option<(String, String)>,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}_{}_{}_{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

pub fn pg_url() -> String {
    std::env::var("HSS_TEST_PG_URL").unwrap_or_else(|_| DEFAULT_PG_URL.to_string())
}

impl TestDb {
    pub fn new(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => {
                let dir = std::env::temp_dir().join(unique("hss_test"));
                std::fs::create_dir_all(&dir).expect("create temp dir");
                TestDb {
                    backend,
                    config: StoreConfig::data_dir(&dir),
                    dir: Some(dir),
                    schema: None,
                }
            }
            Backend::Postgres => {
                let schema = unique("hss_test");
                let url = pg_url();
                TestDb {
                    backend,
                    config: StoreConfig::Postgres {
                        url: url.clone(),
                        schema: Some(schema.clone()),
                        max_connections: 8,
                    },
                    dir: None,
                    schema: Some((url, schema)),
                }
            }
        }
    }

    /// Same database with SQLite `synchronous = NORMAL` (no change for PostgreSQL).
    pub fn relaxed(mut self) -> Self {
        if let StoreConfig::Sqlite { synchronous, .. } = &mut self.config {
            *synchronous = SqliteSync::Normal;
        }
        self
    }

    /// Opens a new, independent store instance (its own pool) on this database.
    pub async fn open(&self) -> SqlStore {
        match SqlStore::open(&self.config).await {
            Ok(s) => s,
            Err(e) => panic!(
                "cannot open {:?} store (PostgreSQL must run at {}): {e}",
                self.backend,
                pg_url()
            ),
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
        if let Some((url, schema)) = self.schema.take() {
            // Runs on its own thread and runtime: Drop may be called inside (or outside) a runtime,
            // and during a panic.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                rt.block_on(async move {
                    sqlx::any::install_default_drivers();
                    if let Ok(mut c) = AnyConnection::connect(&url).await {
                        let _ = c
                            .execute(format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE").as_str())
                            .await;
                        let _ = c.close().await;
                    }
                });
            })
            .join();
        }
    }
}

/// Runs each listed `async fn name(db: &TestDb)` against SQLite and PostgreSQL, as
/// `sqlite::name` and `postgres::name`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let db = $crate::common::TestDb::new($crate::common::Backend::Sqlite);
                    super::$name(&db).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let db = $crate::common::TestDb::new($crate::common::Backend::Postgres);
                    super::$name(&db).await;
                }
            )*
        }
    };
}
