//! The imscore configuration file (TOML): one file describes every role; `imscore up` runs the
//! commented example ([`EXAMPLE`]) with its data directory and demo subscribers applied.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use cscf::node::{IcscfNodeConfig, PcscfNodeConfig, ScscfNodeConfig};
use hss::server::HssConfig;
use serde::Deserialize;

/// The fully commented example configuration (`imscore config example`).
pub const EXAMPLE: &str = include_str!("example.toml");

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Directory of the embedded databases.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// Logging.
    #[serde(default)]
    pub log: LogConfig,
    /// Prometheus metrics.
    #[serde(default)]
    pub metrics: MetricsConfig,
    /// The CSCFs' registration store.
    #[serde(default)]
    pub registrations: RegistrationsConfig,
    /// Static host table: name → `transport:ip:port` targets.
    #[serde(default)]
    pub hosts: BTreeMap<String, Vec<String>>,
    /// The HSS.
    pub hss: Option<HssConfig>,
    /// The I-CSCF.
    pub icscf: Option<IcscfNodeConfig>,
    /// The S-CSCF.
    pub scscf: Option<ScscfNodeConfig>,
    /// The P-CSCF.
    pub pcscf: Option<PcscfNodeConfig>,
}

fn default_data_dir() -> PathBuf {
    PathBuf::from(hss::cli::DEFAULT_DATA_DIR)
}

/// Log output.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `text` or `json`.
    pub format: LogFormat,
    /// A `tracing` filter (RUST_LOG syntax).
    pub filter: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: LogFormat::Text,
            filter: "info".into(),
        }
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Prometheus metrics endpoint.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Where `/metrics` is served; none = off.
    pub listen: Option<SocketAddr>,
}

/// Which registration store the CSCFs use.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegistrationsConfig {
    /// `sqlite`, `memory` or `redis`.
    pub backend: RegistrationsBackend,
    /// Redis URL (backend `redis`).
    pub redis_url: Option<String>,
    /// Key prefix in Redis.
    pub redis_prefix: String,
}

impl Default for RegistrationsConfig {
    fn default() -> Self {
        RegistrationsConfig {
            backend: RegistrationsBackend::Sqlite,
            redis_url: None,
            redis_prefix: "imscore:".into(),
        }
    }
}

/// Registration store backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RegistrationsBackend {
    /// SQLite file in the data directory.
    Sqlite,
    /// In memory (lost on exit).
    Memory,
    /// Redis, shared between nodes.
    Redis,
}

impl Config {
    /// Parses a configuration; errors name the key (and line) and the reason. An HSS without its
    /// own `data_dir` keeps its database in the top-level `data_dir`.
    pub fn parse(text: &str) -> anyhow::Result<Config> {
        let mut cfg: Config = toml::from_str(text).map_err(|e| anyhow::anyhow!("{e}"))?;
        let top = cfg.data_dir.clone();
        if let Some(h) = &mut cfg.hss {
            if h.data_dir == Path::new(hss::cli::DEFAULT_DATA_DIR) {
                h.data_dir = top;
            }
        }
        cfg.validate()?;
        Ok(cfg)
    }

    /// Reads and parses a configuration file.
    pub fn load(path: &Path) -> anyhow::Result<Config> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
    }

    /// The example with `data_dir` replaced (what `imscore up` runs).
    pub fn example_in(data_dir: &Path) -> anyhow::Result<Config> {
        let mut cfg = Self::parse(EXAMPLE)?;
        cfg.set_data_dir(data_dir);
        Ok(cfg)
    }

    /// Points every embedded database at `dir`.
    pub fn set_data_dir(&mut self, dir: &Path) {
        self.data_dir = dir.to_path_buf();
        if let Some(h) = &mut self.hss {
            h.data_dir = dir.to_path_buf();
        }
    }

    /// Checks what serde cannot: listener syntax, host table targets, URIs.
    pub fn validate(&self) -> anyhow::Result<()> {
        cscf::node::host_table(&self.hosts).map_err(|e| anyhow::anyhow!("{e}"))?;
        let sips = [
            ("icscf.sip.listen", self.icscf.as_ref().map(|c| &c.sip)),
            ("scscf.sip.listen", self.scscf.as_ref().map(|c| &c.sip)),
            ("pcscf.sip.listen", self.pcscf.as_ref().map(|c| &c.sip)),
        ];
        for (key, sip) in sips {
            if let Some(sip) = sip {
                if sip.listen.is_empty() {
                    anyhow::bail!("{key}: at least one listener is needed");
                }
                for l in &sip.listen {
                    cscf::node::parse_listen(l).map_err(|e| anyhow::anyhow!("{key}: {e}"))?;
                }
            }
        }
        if let Some(p) = &self.pcscf {
            sip::Uri::parse(&p.pcscf.icscf).map_err(|e| {
                anyhow::anyhow!(
                    "pcscf.pcscf.icscf: `{}` is not a SIP URI: {e}",
                    p.pcscf.icscf
                )
            })?;
            if let Some(ip) = &p.pcscf.ipsec {
                ip.pairs()
                    .map_err(|e| anyhow::anyhow!("pcscf.pcscf.ipsec: {e}"))?;
                ip.algorithms()
                    .map_err(|e| anyhow::anyhow!("pcscf.pcscf.ipsec: {e}"))?;
            }
        }
        if let Some(s) = &self.scscf {
            sip::Uri::parse(&s.registrar.server_name).map_err(|e| {
                anyhow::anyhow!(
                    "scscf.registrar.server_name: `{}` is not a SIP URI: {e}",
                    s.registrar.server_name
                )
            })?;
        }
        if self.registrations.backend == RegistrationsBackend::Redis
            && self.registrations.redis_url.is_none()
        {
            anyhow::bail!("registrations.redis_url: needed with backend = \"redis\"");
        }
        if let Some(h) = &self.hss {
            h.validate().map_err(|e| anyhow::anyhow!("hss: {e}"))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_parses_with_every_role() {
        let c = Config::parse(EXAMPLE).expect("example parses");
        assert!(c.hss.is_some() && c.icscf.is_some() && c.scscf.is_some() && c.pcscf.is_some());
        assert_eq!(c.pcscf.unwrap().sip.listen[0], "udp:127.0.0.1:5060");
        assert_eq!(c.icscf.unwrap().sip.listen[0], "udp:127.0.0.1:4060");
        assert_eq!(c.scscf.unwrap().sip.listen[0], "udp:127.0.0.1:6060");
        assert_eq!(c.hss.unwrap().diameter_listen.port(), 3868);
    }

    #[test]
    fn hss_database_follows_the_top_level_data_dir() {
        let c = Config::parse(
            &EXAMPLE.replace("data_dir = \"./imscore-data\"", "data_dir = \"/tmp/x\""),
        )
        .unwrap();
        assert_eq!(c.hss.unwrap().data_dir, Path::new("/tmp/x"));
        let c =
            Config::parse(&EXAMPLE.replace("[hss]\n", "[hss]\ndata_dir = \"/tmp/own\"\n")).unwrap();
        assert_eq!(c.hss.unwrap().data_dir, Path::new("/tmp/own"));
    }

    /// The example's commented `[pcscf.pcscf.ipsec]` block, uncommented, is a valid
    /// configuration; bad values are named.
    #[test]
    fn ipsec_section_parses_when_enabled() {
        let on = EXAMPLE
            .lines()
            .map(|l| l.strip_prefix("#ipsec# ").unwrap_or(l))
            .collect::<Vec<_>>()
            .join("\n");
        assert_ne!(on, EXAMPLE, "the example documents [pcscf.pcscf.ipsec]");
        let c = Config::parse(&on).expect("ipsec example parses");
        let ip = c.pcscf.unwrap().pcscf.ipsec.expect("ipsec section");
        assert_eq!(ip.pairs().unwrap(), vec![(5100, 5200)]);
        assert_eq!(ip.tun, "imsesp0");
        let c = Config::parse(EXAMPLE).unwrap();
        assert!(c.pcscf.unwrap().pcscf.ipsec.is_none(), "ipsec is opt-in");
        let bad = on.replace("port_pairs = 1", "port_pairs = 0");
        let e = Config::parse(&bad).unwrap_err().to_string();
        assert!(e.contains("port_pairs"), "{e}");
        let bad = on.replace("\"des-ede3-cbc\", \"null\"]", "\"rot13\"]");
        let e = Config::parse(&bad).unwrap_err().to_string();
        assert!(e.contains("rot13"), "{e}");
    }

    #[test]
    fn errors_name_the_key() {
        let bad = EXAMPLE.replace("max_attempts = 3", "max_attempts = \"three\"");
        let e = Config::parse(&bad).unwrap_err().to_string();
        assert!(e.contains("max_attempts"), "{e}");
        let bad = EXAMPLE.replace("[pcscf.pcscf]", "[pcscf.pcscf]\nbogus = 1");
        let e = Config::parse(&bad).unwrap_err().to_string();
        assert!(e.contains("bogus"), "{e}");
        let bad = EXAMPLE.replace(
            "\"udp:127.0.0.1:6060\", \"tcp:127.0.0.1:6060\"]\nhost",
            "\"sctp:127.0.0.1:6060\"]\nhost",
        );
        let e = Config::parse(&bad).unwrap_err().to_string();
        assert!(e.contains("scscf.sip.listen") && e.contains("sctp"), "{e}");
        let bad = EXAMPLE.replace("backend = \"sqlite\"", "backend = \"redis\"");
        let e = Config::parse(&bad).unwrap_err().to_string();
        assert!(e.contains("registrations.redis_url"), "{e}");
    }
}
