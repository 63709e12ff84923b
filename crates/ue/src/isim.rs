//! The simulated ISIM: K, OP/OPc, AMF and the SQN_MS array of TS 33.102 Annex C.2, with the array
//! persisted between runs in a JSON state file (`--state FILE`).
//!
//! The file holds exactly the serde JSON of [`aka::sqn::UeSqnState`]
//! (`{"ind_bits":5,"seq_ms":[...]}`); it is written atomically (temporary file in the same
//! directory, `fsync`, `rename`) so a crash never leaves a half-written state.

use std::io::Write;
use std::path::{Path, PathBuf};

use aka::sqn::{SqnConfig, UeSqnState};
use aka::usim::{self, UsimOutcome};
use aka::{Amf, Autn, Milenage, Op, Opc, Rand, K};

use crate::error::{Result, UeError};

/// Largest state file accepted (a 16-bit IND array of u64 in JSON stays far below this).
pub const MAX_STATE_FILE: u64 = 4 * 1024 * 1024;

/// The operator key variant given to the ISIM.
#[derive(Debug, Clone)]
pub enum OperatorKey {
    /// OP (OPc is derived, TS 35.206 §4.1).
    Op(Op),
    /// OPc directly.
    Opc(Opc),
}

/// The simulated ISIM (USIM application keys + SQN state). A clone is an independent card with
/// the same keys and a copy of the SQN state.
#[derive(Debug, Clone)]
pub struct Isim {
    milenage: Milenage,
    amf: Amf,
    cfg: SqnConfig,
    state: UeSqnState,
}

impl Isim {
    /// An ISIM with a fresh SQN array (every SEQ_MS(i) = 0).
    pub fn new(k: &K, op: &OperatorKey, amf: Amf) -> Result<Self> {
        let cfg = SqnConfig::default();
        let state = UeSqnState::new(&cfg)?;
        Ok(Self::with_state(k, op, amf, cfg, state))
    }

    /// An ISIM with a given SQN configuration and state.
    pub fn with_state(
        k: &K,
        op: &OperatorKey,
        amf: Amf,
        cfg: SqnConfig,
        state: UeSqnState,
    ) -> Self {
        let milenage = match op {
            OperatorKey::Op(op) => Milenage::with_op(k, op),
            OperatorKey::Opc(opc) => Milenage::new(k, opc),
        };
        Isim {
            milenage,
            amf,
            cfg,
            state,
        }
    }

    /// Builds an ISIM from hex strings as given on the command line (`--k`, `--op`/`--opc`, `--amf`).
    pub fn from_hex(
        k: &str,
        op: Option<&str>,
        opc: Option<&str>,
        amf: Option<&str>,
    ) -> Result<Self> {
        let k = K::from_hex(k).map_err(|source| UeError::BadIsimParam { what: "K", source })?;
        let opk = match (op, opc) {
            (Some(op), None) => OperatorKey::Op(
                Op::from_hex(op).map_err(|source| UeError::BadIsimParam { what: "OP", source })?,
            ),
            (None, Some(opc)) => {
                OperatorKey::Opc(Opc::from_hex(opc).map_err(|source| UeError::BadIsimParam {
                    what: "OPc",
                    source,
                })?)
            }
            _ => return Err(UeError::Config("give exactly one of OP and OPc".into())),
        };
        let amf = match amf {
            Some(a) => Amf::from_hex(a).map_err(|source| UeError::BadIsimParam {
                what: "AMF",
                source,
            })?,
            None => Amf([0x80, 0x00]),
        };
        Isim::new(&k, &opk, amf)
    }

    /// Replaces the SQN state (e.g. after [`load_state`]); it must match the SQN configuration.
    pub fn set_state(&mut self, state: UeSqnState) -> Result<()> {
        if state.ind_bits() != self.cfg.ind_bits {
            return Err(UeError::Config(format!(
                "state has ind_bits {}, ISIM is configured for {}",
                state.ind_bits(),
                self.cfg.ind_bits
            )));
        }
        self.state = state;
        Ok(())
    }

    /// The current SQN state (to persist).
    pub fn state(&self) -> &UeSqnState {
        &self.state
    }

    /// The SQN configuration.
    pub fn sqn_config(&self) -> &SqnConfig {
        &self.cfg
    }

    /// The AMF this ISIM was given (informational; the AUTN carries the AMF used).
    pub fn amf(&self) -> Amf {
        self.amf
    }

    /// Runs the USIM algorithm (TS 33.102 §6.3.3): MAC check, SQN freshness, RES/CK/IK or AUTS.
    /// The SQN state changes only on success.
    pub fn authenticate(&mut self, rand: &Rand, autn: &Autn) -> Result<UsimOutcome> {
        Ok(usim::authenticate(
            &self.milenage,
            &self.cfg,
            &mut self.state,
            rand,
            autn,
            None,
        )?)
    }
}

/// Loads the SQN state file; `Ok(None)` when it does not exist. A file that exists but is not a
/// valid state is an error naming the file and the problem (never silently reset: a reset SQN
/// array would accept replayed vectors).
pub fn load_state(path: &Path) -> Result<Option<UeSqnState>> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(UeError::StateIo {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    if meta.len() > MAX_STATE_FILE {
        return Err(UeError::StateCorrupt {
            path: path.to_path_buf(),
            reason: format!("{} bytes, larger than {MAX_STATE_FILE}", meta.len()),
        });
    }
    let bytes = std::fs::read(path).map_err(|source| UeError::StateIo {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_slice::<UeSqnState>(&bytes)
        .map(Some)
        .map_err(|e| UeError::StateCorrupt {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })
}

/// Loads the state file, or creates it with `fresh` when missing; returns the state in use.
pub fn load_or_create_state(path: &Path, fresh: &UeSqnState) -> Result<UeSqnState> {
    match load_state(path)? {
        Some(s) => Ok(s),
        None => {
            save_state(path, fresh)?;
            Ok(fresh.clone())
        }
    }
}

fn temp_path(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_else(|| "sqn-state".into());
    name.push(format!(".tmp.{}", std::process::id()));
    path.with_file_name(name)
}

/// Writes the state atomically: a temporary file beside `path`, flushed to disk, then renamed.
pub fn save_state(path: &Path, state: &UeSqnState) -> Result<()> {
    let io = |source| UeError::StateIo {
        path: path.to_path_buf(),
        source,
    };
    let json = serde_json::to_vec(state).map_err(|e| UeError::StateCorrupt {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let tmp = temp_path(path);
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&json)?;
        f.write_all(b"\n")?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io(e)
    })
}
