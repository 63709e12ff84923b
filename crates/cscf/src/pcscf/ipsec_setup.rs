//! `ipsec-3gpp` security association setup at the P-CSCF (TS 33.203 §7.1–§7.4, TS 24.229
//! §5.2.2.1, RFC 3329), behind [`super::sa_setup::SaSetup`].
//!
//! Design:
//!
//! * **When SAs are installed**: at the 401 to a REGISTER whose Security-Client offers
//!   ipsec-3gpp (TS 33.203 §7.1 step 2, TS 24.229 §5.2.2.1: "set up the temporary set of SAs"),
//!   keyed from the challenge's IK/CK (TS 33.203 Annex I expansion, `SaParams::pcscf_sa_set`).
//!   The UE's protected REGISTER arrives on them (UE port-c → our port-s).
//! * **Our ids**: spi-c/spi-s from an [`ipsec::SpiAllocator`] (never colliding, back in the pool
//!   only once the SAs are removed); port-c/port-s from a small configured pool of port pairs
//!   (`port_c + i`, `port_s + i`, `i < port_pairs`), shared by all UEs — the SA selectors include
//!   the UE's address and ports, so UEs never collide on them. The protected sockets (UDP + TCP on
//!   each port-c and port-s) are listeners of the P-CSCF's SIP endpoint opened at start. A
//!   re-registering UE gets a pair different from the one its current set uses when the pool has
//!   more than one (its new set must not take over the outbound selectors of the set that still
//!   carries the 401, TS 33.203 §7.4).
//! * **When SAs go** ([`SaSetup::release`] schedules, [`SaSetup::tick`] removes): never at once —
//!   after `linger_ms`, so that the response that ended them (200 to a de-REGISTER, 200 to the
//!   re-registration whose new set replaces them) has left through them first (TS 33.203 §7.4;
//!   the known defect of deleting the SAs before the final response is sent). A set whose UE never
//!   completes registration is released by the pending timer (`pending_secs`,
//!   `SecurityAgreement::expire_pending`). SPIs and ports return to the pools only when the SAs
//!   are removed.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ipsec::backend::{BackendStats, SaBackend};
use ipsec::{EncryptionAlg, ImsSaSet, IntegrityAlg, SpiAllocator};
use secagree::{
    negotiate::local_ids, select, Association, Binding, Choice, Config, Mechanism, Negotiated,
    SecAgreeError,
};
use serde::Deserialize;
use sip::SecurityMechanism;

use super::sa_setup::SaSetup;
use super::ChallengeKeys;
use crate::CscfError;

/// Which datapath carries the SAs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// Userspace ESP (TUN + raw sockets), for kernels without ESP.
    #[default]
    Userspace,
    /// Kernel IPsec through NETLINK_XFRM.
    Xfrm,
}

/// `[pcscf.pcscf.ipsec]`: present = ipsec-3gpp is offered (opt-in).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct IpsecConfig {
    /// `userspace` (default) or `xfrm`.
    pub backend: BackendKind,
    /// First protected client port (port-c).
    pub port_c: u16,
    /// First protected server port (port-s).
    pub port_s: u16,
    /// Number of (port-c, port-s) pairs: `port_c..port_c+n`, `port_s..port_s+n`.
    pub port_pairs: u16,
    /// Integrity algorithms, most preferred first (TS 33.203 §6.1).
    pub integrity: Vec<String>,
    /// Encryption algorithms, most preferred first (TS 33.203 §6.2).
    pub encryption: Vec<String>,
    /// Wireshark `esp_sa` file every installed SA is appended to (debugging; holds keys).
    pub esp_keylog: Option<PathBuf>,
    /// Seconds a set may stay unused before its UE completes registration.
    pub pending_secs: u64,
    /// Milliseconds a released set is kept so the last response goes out through it.
    pub linger_ms: u64,
    /// TUN device name (userspace backend).
    pub tun: String,
    /// Policy routing table number for the protected ports (userspace backend).
    pub route_table: u32,
    /// XFRM mark put on our states and policies so nothing else is touched (xfrm backend).
    pub xfrm_mark: u32,
}

impl Default for IpsecConfig {
    fn default() -> Self {
        IpsecConfig {
            backend: BackendKind::Userspace,
            port_c: 5100,
            port_s: 5200,
            port_pairs: 1,
            integrity: vec!["hmac-sha-1-96".into(), "hmac-md5-96".into()],
            encryption: vec!["aes-cbc".into(), "des-ede3-cbc".into(), "null".into()],
            esp_keylog: None,
            pending_secs: 30,
            linger_ms: 1000,
            tun: "imsesp0".into(),
            route_table: 5100,
            xfrm_mark: 0x1d5c_0000,
        }
    }
}

impl IpsecConfig {
    /// The configured (port-c, port-s) pairs; checks they are valid and do not overlap.
    pub fn pairs(&self) -> Result<Vec<(u16, u16)>, CscfError> {
        let bad = |w: &str| CscfError::Config(format!("pcscf.ipsec: {w}"));
        if self.port_pairs == 0 {
            return Err(bad("port_pairs must be at least 1"));
        }
        let n = self.port_pairs;
        let end = |p: u16| p.checked_add(n - 1).filter(|_| p > 0);
        let (ce, se) = (
            end(self.port_c).ok_or_else(|| bad("port_c range"))?,
            end(self.port_s).ok_or_else(|| bad("port_s range"))?,
        );
        if self.port_c <= se && self.port_s <= ce {
            return Err(bad("port_c and port_s ranges overlap"));
        }
        Ok((0..n).map(|i| (self.port_c + i, self.port_s + i)).collect())
    }

    /// The integrity / encryption preferences as algorithms.
    pub fn algorithms(&self) -> Result<(Vec<IntegrityAlg>, Vec<EncryptionAlg>), CscfError> {
        let i = self
            .integrity
            .iter()
            .map(|a| {
                IntegrityAlg::from_name(a).ok_or_else(|| {
                    CscfError::Config(format!("pcscf.ipsec.integrity: unknown `{a}`"))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let e = self
            .encryption
            .iter()
            .map(|a| {
                EncryptionAlg::from_name(a).ok_or_else(|| {
                    CscfError::Config(format!("pcscf.ipsec.encryption: unknown `{a}`"))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if i.is_empty() || e.is_empty() {
            return Err(CscfError::Config(
                "pcscf.ipsec: integrity and encryption need at least one algorithm".into(),
            ));
        }
        Ok((i, e))
    }
}

struct Retiring {
    set: ImsSaSet,
    pair: (u16, u16),
    at: Instant,
}

#[derive(Default)]
struct State {
    spis: SpiAllocator,
    /// Sets installed, by our spi-c.
    sets: HashMap<u32, (ImsSaSet, (u16, u16))>,
    /// Sets released, removed at `at`.
    retiring: Vec<Retiring>,
    /// How many installed sets use each pair.
    pair_use: HashMap<(u16, u16), usize>,
}

/// The ipsec-3gpp [`SaSetup`]: allocates ids, installs the four SAs in a [`SaBackend`].
pub struct IpsecSetup {
    backend: Arc<dyn SaBackend>,
    pairs: Vec<(u16, u16)>,
    linger: Duration,
    state: Mutex<State>,
}

impl IpsecSetup {
    /// Over `backend`, with our port `pairs` and the release `linger`.
    pub fn new(backend: Arc<dyn SaBackend>, pairs: Vec<(u16, u16)>, linger: Duration) -> Self {
        IpsecSetup {
            backend,
            pairs,
            linger,
            state: Mutex::new(State::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The backend.
    pub fn backend(&self) -> &Arc<dyn SaBackend> {
        &self.backend
    }

    /// The protected port pairs.
    pub fn pairs(&self) -> &[(u16, u16)] {
        &self.pairs
    }

    /// Backend counters.
    pub fn stats(&self) -> BackendStats {
        self.backend.stats()
    }

    /// Installed sets (including those released but still lingering).
    pub fn sets(&self) -> usize {
        self.lock().sets.len()
    }

    /// SPIs allocated.
    pub fn spis_in_use(&self) -> usize {
        self.lock().spis.len()
    }

    /// Sets released and waiting for their linger to end.
    pub fn retiring(&self) -> usize {
        self.lock().retiring.len()
    }

    /// The least used pair, avoiding those already used by sets towards `ue` (a re-registration
    /// gets a different pair when there is one).
    fn pick_pair(&self, st: &State, ue: std::net::IpAddr) -> (u16, u16) {
        let busy: Vec<(u16, u16)> = st
            .sets
            .values()
            .filter(|(s, _)| s.remote.addr == ue)
            .map(|(_, p)| *p)
            .collect();
        let uses = |p: &(u16, u16)| st.pair_use.get(p).copied().unwrap_or(0);
        self.pairs
            .iter()
            .filter(|p| !busy.contains(p))
            .min_by_key(|p| uses(p))
            .or_else(|| self.pairs.iter().min_by_key(|p| uses(p)))
            .copied()
            .unwrap_or((0, 0))
    }

    fn remove_now(&self, st: &mut State, set: &ImsSaSet, pair: (u16, u16)) {
        if let Err(e) = self.backend.remove(set) {
            tracing::warn!(error = %e, spi_c = set.local.spi_c, "removing an SA set failed");
        }
        st.sets.remove(&set.local.spi_c);
        st.spis.release(set.local.spi_c);
        st.spis.release(set.local.spi_s);
        if let Some(n) = st.pair_use.get_mut(&pair) {
            *n = n.saturating_sub(1);
        }
        tracing::debug!(
            spi_c = set.local.spi_c,
            spi_s = set.local.spi_s,
            "ipsec-3gpp SA set removed"
        );
    }
}

impl SaSetup for IpsecSetup {
    fn mechanism(&self) -> Mechanism {
        Mechanism::Ipsec3gpp
    }

    fn establish(
        &self,
        cfg: &Config,
        security_client: &[SecurityMechanism],
        ue: SocketAddr,
        local: SocketAddr,
        keys: Option<&ChallengeKeys>,
    ) -> Result<(Negotiated, Association), SecAgreeError> {
        let keys = keys.ok_or(SecAgreeError::Config(
            "ipsec-3gpp needs the challenge's CK/IK (none in the 401)",
        ))?;
        let chosen = select(cfg, security_client)?;
        if !matches!(chosen.choice, Choice::Ipsec { .. }) {
            return Err(SecAgreeError::Config(
                "ipsec-3gpp backend asked to set up another mechanism",
            ));
        }
        let mut st = self.lock();
        let pair = self.pick_pair(&st, ue.ip());
        let spis = st
            .spis
            .allocate_pair()
            .map_err(|_| SecAgreeError::Config("SPI pool exhausted"))?;
        let result = local_ids(spis, pair).and_then(|ids| {
            let n = secagree::negotiate(cfg, security_client, ue.ip(), local.ip(), Some(ids))?;
            let sa = n.sa.ok_or(SecAgreeError::Config("no SA parameters"))?;
            let set = sa.pcscf_sa_set(&keys.ik, &keys.ck);
            self.backend.install(&set).map_err(|e| {
                tracing::warn!(error = %e, backend = self.backend.name(), "SA install failed");
                SecAgreeError::Config("the IPsec datapath refused the SAs")
            })?;
            let a = Association::from_negotiated(&n, ue.ip())?;
            Ok((n, a, set))
        });
        match result {
            Ok((n, a, set)) => {
                tracing::debug!(
                    spi_c = spis.0,
                    spi_s = spis.1,
                    port_c = pair.0,
                    port_s = pair.1,
                    "ipsec-3gpp SA set installed"
                );
                st.sets.insert(spis.0, (set, pair));
                *st.pair_use.entry(pair).or_default() += 1;
                Ok((n, a))
            }
            Err(e) => {
                st.spis.release(spis.0);
                st.spis.release(spis.1);
                Err(e)
            }
        }
    }

    fn release(&self, assoc: &Association) {
        let Binding::Ipsec(sa) = assoc.binding else {
            return;
        };
        let mut st = self.lock();
        let Some((set, pair)) = st.sets.get(&sa.pcscf.spi_c).cloned() else {
            return;
        };
        if st
            .retiring
            .iter()
            .any(|r| r.set.local.spi_c == sa.pcscf.spi_c)
        {
            return;
        }
        st.retiring.push(Retiring {
            set,
            pair,
            at: Instant::now() + self.linger,
        });
    }

    fn tick(&self) {
        let mut st = self.lock();
        let now = Instant::now();
        let (due, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut st.retiring)
            .into_iter()
            .partition(|r| r.at <= now);
        st.retiring = keep;
        for r in due {
            self.remove_now(&mut st, &r.set, r.pair);
        }
    }
}

impl IpsecSetup {
    /// Removes every set and stops the backend (the P-CSCF is stopping).
    pub fn shutdown(&self) {
        {
            let mut st = self.lock();
            let all: Vec<_> = st.sets.values().cloned().collect();
            for (set, pair) in all {
                self.remove_now(&mut st, &set, pair);
            }
            st.retiring.clear();
        }
        self.backend.shutdown();
    }
}

impl Drop for IpsecSetup {
    fn drop(&mut self) {
        self.shutdown();
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use ipsec::SaTable;

    /// A backend that keeps the SAs in a plain table (no datapath).
    #[derive(Default)]
    pub(crate) struct TableBackend(pub(crate) Mutex<SaTable>);

    impl SaBackend for TableBackend {
        fn name(&self) -> &'static str {
            "table"
        }
        fn install(&self, set: &ImsSaSet) -> ipsec::Result<()> {
            set.install(&mut self.0.lock().unwrap())
        }
        fn remove(&self, set: &ImsSaSet) -> ipsec::Result<()> {
            set.remove(&mut self.0.lock().unwrap());
            Ok(())
        }
        fn stats(&self) -> BackendStats {
            let t = self.0.lock().unwrap();
            BackendStats {
                inbound_sas: t.len().0,
                outbound_sas: t.len().1,
                ..BackendStats::default()
            }
        }
    }

    fn offer(port_c: u16, spi: u32) -> Vec<SecurityMechanism> {
        vec![SecurityMechanism::new("ipsec-3gpp")
            .with("alg", "hmac-sha-1-96")
            .with("ealg", "aes-cbc")
            .with("spi-c", spi.to_string())
            .with("spi-s", (spi + 1).to_string())
            .with("port-c", port_c.to_string())
            .with("port-s", (port_c + 1).to_string())]
    }

    pub(crate) fn keys() -> ChallengeKeys {
        ChallengeKeys {
            nonce: "n".into(),
            ck: aka::Ck::from_hex("0f1e2d3c4b5a69788796a5b4c3d2e1f0").unwrap(),
            ik: aka::Ik::from_hex("00112233445566778899aabbccddeeff").unwrap(),
            received: Instant::now(),
        }
    }

    #[test]
    fn pairs_rotate_for_a_reregistering_ue_and_release_waits_for_tick() {
        let backend = Arc::new(TableBackend::default());
        let setup = IpsecSetup::new(
            backend.clone(),
            vec![(5100, 5200), (5101, 5201)],
            Duration::ZERO,
        );
        let cfg = Config {
            mode: secagree::SecAgreeMode::Optional,
            ..Config::default()
        };
        let (ue, local): (SocketAddr, SocketAddr) = (
            "192.0.2.1:5060".parse().unwrap(),
            "192.0.2.2:5060".parse().unwrap(),
        );
        let k = keys();
        let (n1, a1) = setup
            .establish(&cfg, &offer(40000, 1000), ue, local, Some(&k))
            .unwrap();
        assert_eq!(n1.security_server.len(), 1);
        let Binding::Ipsec(sa1) = a1.binding else {
            panic!("ipsec binding")
        };
        // the re-registration of the same UE gets the other pair
        let (_, a2) = setup
            .establish(&cfg, &offer(40010, 2000), ue, local, Some(&k))
            .unwrap();
        let Binding::Ipsec(sa2) = a2.binding else {
            panic!("ipsec binding")
        };
        assert_ne!(
            (sa1.pcscf.port_c, sa1.pcscf.port_s),
            (sa2.pcscf.port_c, sa2.pcscf.port_s)
        );
        assert_eq!((setup.sets(), setup.spis_in_use()), (2, 4));
        assert_eq!(backend.stats().inbound_sas, 4);
        // no keys: refused, nothing allocated
        assert!(setup
            .establish(&cfg, &offer(40020, 3000), ue, local, None)
            .is_err());
        assert_eq!(setup.spis_in_use(), 4);
        // release is deferred to the next tick; SPIs come back only then
        setup.release(&a1);
        setup.release(&a1);
        assert_eq!((setup.sets(), setup.retiring()), (2, 1));
        assert_eq!(backend.stats().inbound_sas, 4);
        setup.tick();
        assert_eq!(
            (setup.sets(), setup.spis_in_use(), setup.retiring()),
            (1, 2, 0)
        );
        assert_eq!(backend.stats().inbound_sas, 2);
        setup.shutdown();
        assert!(backend.0.lock().unwrap().is_empty());
        assert_eq!(setup.spis_in_use(), 0);
    }

    #[test]
    fn pairs_and_algorithms() {
        let c = IpsecConfig::default();
        assert_eq!(c.pairs().unwrap(), vec![(5100, 5200)]);
        let c2 = IpsecConfig {
            port_pairs: 3,
            ..IpsecConfig::default()
        };
        assert_eq!(
            c2.pairs().unwrap(),
            vec![(5100, 5200), (5101, 5201), (5102, 5202)]
        );
        let overlap = IpsecConfig {
            port_c: 5100,
            port_s: 5101,
            port_pairs: 2,
            ..IpsecConfig::default()
        };
        assert!(overlap.pairs().is_err());
        assert!(IpsecConfig {
            port_pairs: 0,
            ..IpsecConfig::default()
        }
        .pairs()
        .is_err());
        let (i, e) = c.algorithms().unwrap();
        assert_eq!(i[0], IntegrityAlg::HmacSha1_96);
        assert_eq!(e.len(), 3);
        let bad = IpsecConfig {
            encryption: vec!["rot13".into()],
            ..IpsecConfig::default()
        };
        assert!(bad.algorithms().is_err());
    }
}
