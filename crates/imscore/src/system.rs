//! Starting and stopping roles from a [`Config`]: the HSS first, then the S-CSCF, I-CSCF and
//! P-CSCF, sharing one registration store when they run in one process.

use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::sync::Arc;

use anyhow::Context as _;
use cscf::node::{self, NextHop, RoleHandle};
use cscf::store::{MemoryStore, RedisStore, RegistrationStore, SqliteStore};
use hss::server::Hss;

use crate::config::{Config, LogFormat, RegistrationsBackend};

/// A role `imscore run` can start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Role {
    /// The HSS (Cx server and subscriber database).
    Hss,
    /// The I-CSCF.
    Icscf,
    /// The S-CSCF.
    Scscf,
    /// The P-CSCF.
    Pcscf,
}

/// Running roles.
pub struct Running {
    /// The HSS, if started.
    pub hss: Option<Hss>,
    /// The CSCFs started.
    pub roles: Vec<RoleHandle>,
    metrics: Option<tokio::task::JoinHandle<()>>,
}

impl Running {
    /// Stops everything (CSCFs first, the HSS last).
    pub async fn shutdown(self) {
        for r in self.roles.into_iter().rev() {
            r.shutdown().await;
        }
        if let Some(h) = self.hss {
            h.shutdown().await;
        }
        if let Some(m) = self.metrics {
            m.abort();
        }
    }
}

/// Installs the `tracing` subscriber (RUST_LOG overrides the configured filter).
pub fn init_logging(format: LogFormat, filter: &str) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(filter));
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => b.json().try_init(),
        LogFormat::Text => b.try_init(),
    };
}

/// SO_REUSEPORT lets a second process bind our UDP ports silently and steal half the traffic, so
/// before starting, every port is bound once without it: if anything holds the port, this fails.
pub fn check_ports_free(cfg: &Config, roles: &[Role]) -> anyhow::Result<()> {
    let mut addrs: Vec<(String, sip_stack::Transport, SocketAddr)> = Vec::new();
    let sips = [
        (Role::Icscf, "icscf", cfg.icscf.as_ref().map(|c| &c.sip)),
        (Role::Scscf, "scscf", cfg.scscf.as_ref().map(|c| &c.sip)),
        (Role::Pcscf, "pcscf", cfg.pcscf.as_ref().map(|c| &c.sip)),
    ];
    for (role, name, sip) in sips {
        if let (true, Some(sip)) = (roles.contains(&role), sip) {
            for l in &sip.listen {
                let (t, a) = node::parse_listen(l)?;
                addrs.push((format!("{name}.sip.listen `{l}`"), t, a));
            }
        }
    }
    if roles.contains(&Role::Hss) {
        if let Some(h) = &cfg.hss {
            addrs.push((
                "hss.diameter_listen".into(),
                sip_stack::Transport::Tcp,
                h.diameter_listen,
            ));
        }
    }
    if let Some(m) = cfg.metrics.listen {
        addrs.push(("metrics.listen".into(), sip_stack::Transport::Tcp, m));
    }
    for (what, t, a) in addrs {
        if a.port() == 0 {
            continue;
        }
        let r = match t {
            sip_stack::Transport::Udp => UdpSocket::bind(a).map(drop),
            _ => TcpListener::bind(a).map(drop),
        };
        r.with_context(|| format!("{what}: {a} is already in use (is another imscore running?)"))?;
    }
    Ok(())
}

async fn open_store(cfg: &Config) -> anyhow::Result<Arc<dyn RegistrationStore>> {
    Ok(match cfg.registrations.backend {
        RegistrationsBackend::Sqlite => Arc::new(
            SqliteStore::open_in_dir(&cfg.data_dir)
                .await
                .with_context(|| format!("registration store in {}", cfg.data_dir.display()))?,
        ),
        RegistrationsBackend::Memory => Arc::new(MemoryStore::new()),
        RegistrationsBackend::Redis => {
            let url = cfg.registrations.redis_url.as_deref().unwrap_or_default();
            Arc::new(
                RedisStore::connect(url, &cfg.registrations.redis_prefix)
                    .await
                    .with_context(|| format!("registrations.redis_url {url}"))?,
            )
        }
    })
}

/// Installs the Prometheus recorder: before the roles start, so that every metric they register
/// is recorded.
fn install_metrics() -> anyhow::Result<metrics_exporter_prometheus::PrometheusHandle> {
    metrics_exporter_prometheus::PrometheusBuilder::new()
        .set_buckets(&[
            0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0,
        ])
        .context("metrics buckets")?
        .install_recorder()
        .context("installing the metrics recorder")
}

/// Serves `/metrics` on `addr`. Called once every role listens, so that the endpoint answering
/// means the node is ready (what a readiness probe or a test waits for).
async fn serve_metrics(
    addr: SocketAddr,
    handle: metrics_exporter_prometheus::PrometheusHandle,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let h = handle.clone();
            async move { h.render() }
        }),
    );
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("metrics.listen {addr}"))?;
    Ok(tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    }))
}

/// Starts `roles` of `cfg`; provisions `demo` subscribers in an empty HSS.
pub async fn start(cfg: &Config, roles: &[Role], demo: u64) -> anyhow::Result<Running> {
    let mut running = Running {
        hss: None,
        roles: Vec::new(),
        metrics: None,
    };
    let recorder = match cfg.metrics.listen {
        Some(m) => Some((m, install_metrics()?)),
        None => None,
    };
    let table = node::host_table(&cfg.hosts)?;
    if roles.contains(&Role::Hss) {
        let h = cfg
            .hss
            .clone()
            .context("[hss] is missing from the configuration")?;
        let hss = Hss::start(h).await.context("starting the HSS")?;
        if demo > 0 {
            let n = hss.provision_demo(demo).await.context("demo subscribers")?;
            if n > 0 {
                tracing::info!(created = n, "provisioned demo subscribers");
            }
        }
        running.hss = Some(hss);
    }
    let needs_store = roles.iter().any(|r| matches!(r, Role::Scscf | Role::Pcscf));
    let store = if needs_store {
        Some(open_store(cfg).await?)
    } else {
        None
    };
    let result: anyhow::Result<()> = async {
        if roles.contains(&Role::Scscf) {
            let c = cfg
                .scscf
                .as_ref()
                .context("[scscf] is missing from the configuration")?;
            let s = store.clone().context("store")?;
            running.roles.push(
                node::start_scscf(c, s, NextHop::new(table.clone()))
                    .await
                    .context("starting the S-CSCF")?,
            );
        }
        if roles.contains(&Role::Icscf) {
            let c = cfg
                .icscf
                .as_ref()
                .context("[icscf] is missing from the configuration")?;
            running.roles.push(
                node::start_icscf(c, NextHop::new(table.clone()))
                    .await
                    .context("starting the I-CSCF")?,
            );
        }
        if roles.contains(&Role::Pcscf) {
            let c = cfg
                .pcscf
                .as_ref()
                .context("[pcscf] is missing from the configuration")?;
            let s = store.clone().context("store")?;
            running.roles.push(
                node::start_pcscf(c, s, NextHop::new(table.clone()))
                    .await
                    .context("starting the P-CSCF")?,
            );
        }
        if let Some((m, handle)) = recorder {
            running.metrics = Some(serve_metrics(m, handle).await?);
        }
        Ok(())
    }
    .await;
    if let Err(e) = result {
        running.shutdown().await;
        return Err(e);
    }
    Ok(running)
}

/// Prints where everything listens.
pub fn print_endpoints(cfg: &Config, running: &Running) {
    for r in &running.roles {
        let host = match r.role {
            "pcscf" => cfg.pcscf.as_ref().map(|c| c.sip.host.clone()),
            "icscf" => cfg.icscf.as_ref().map(|c| c.sip.host.clone()),
            "scscf" => cfg.scscf.as_ref().map(|c| c.sip.host.clone()),
            _ => None,
        }
        .unwrap_or_default();
        let socks: Vec<String> = r
            .sip
            .iter()
            .map(|(t, a)| format!("{} {a}", t.as_str().to_ascii_lowercase()))
            .collect();
        println!(
            "  {:<6}  SIP       {:<45} {}",
            r.role.to_ascii_uppercase(),
            host,
            socks.join(", ")
        );
    }
    if let (Some(h), Some(c)) = (&running.hss, &cfg.hss) {
        let a = h.local_addrs();
        println!(
            "  {:<6}  Diameter  {:<45} tcp {}",
            "HSS", c.origin_host, a.diameter
        );
        if let Some(rest) = a.rest {
            println!(
                "  {:<6}  REST      http://{rest}/api/v1 (OpenAPI: /openapi.json)",
                "HSS"
            );
        }
    }
    if let Some(m) = cfg.metrics.listen {
        println!("  metrics http://{m}/metrics");
    }
}
