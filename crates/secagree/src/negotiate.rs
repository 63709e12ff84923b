//! P-CSCF side of the negotiation: validate the UE's `Security-Client` (RFC 3329 §2.3.1,
//! TS 33.203 §7.1 and Annex H), choose the mechanism and, for `ipsec-3gpp`, the `alg`/`ealg`
//! pair, and build the `Security-Server` list for the 401 (TS 24.229 §5.2.2.1).

use std::cmp::Reverse;
use std::net::IpAddr;

use ipsec::{EncryptionAlg, Endpoint, IntegrityAlg};
use sip::SecurityMechanism;

use crate::config::{Config, Mechanism, Qvalue};
use crate::error::{Result, SecAgreeError};
use crate::sa::SaParams;

/// At most this many mechanisms are looked at in one Security-* header (a UE offering every
/// alg × ealg combination for ipsec-3gpp plus tls needs 2 × 3 + 1).
pub const MAX_MECHANISMS: usize = 32;

/// The UE's ipsec-3gpp SPIs and ports (TS 33.203 §7.1: one set for all offered entries).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpsecIds {
    /// `spi-c`: the UE's inbound SPI on its protected client port.
    pub spi_c: u32,
    /// `spi-s`: the UE's inbound SPI on its protected server port.
    pub spi_s: u32,
    /// `port-c`: protected client port.
    pub port_c: u16,
    /// `port-s`: protected server port.
    pub port_s: u16,
}

impl IpsecIds {
    /// The endpoint at `addr` with these SPIs and ports.
    pub fn endpoint(self, addr: IpAddr) -> Endpoint {
        Endpoint {
            addr,
            port_c: self.port_c,
            port_s: self.port_s,
            spi_c: self.spi_c,
            spi_s: self.spi_s,
        }
    }

    /// The ids of an endpoint.
    pub fn of(ep: &Endpoint) -> Self {
        Self {
            spi_c: ep.spi_c,
            spi_s: ep.spi_s,
            port_c: ep.port_c,
            port_s: ep.port_s,
        }
    }

    /// Checks TS 33.203 / RFC 4303 §2.1 constraints: SPIs are not 0–255 and differ, ports are
    /// 1..=65535 and differ.
    pub fn check(self) -> Result<Self> {
        if self.spi_c < 256 || self.spi_s < 256 {
            return Err(SecAgreeError::BadIpsecOffer(
                "spi-c/spi-s in the reserved range 0-255",
            ));
        }
        if self.spi_c == self.spi_s {
            return Err(SecAgreeError::BadIpsecOffer("spi-c equals spi-s"));
        }
        if self.port_c == 0 || self.port_s == 0 {
            return Err(SecAgreeError::BadIpsecOffer("port-c/port-s is 0"));
        }
        if self.port_c == self.port_s {
            return Err(SecAgreeError::BadIpsecOffer("port-c equals port-s"));
        }
        Ok(self)
    }
}

/// One acceptable entry of a Security-Client / Security-Server list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    /// `ipsec-3gpp` with the peer's ids and one alg/ealg pair.
    Ipsec {
        /// Integrity algorithm (`alg`).
        integrity: IntegrityAlg,
        /// Encryption algorithm (`ealg`; absent means `null`, TS 33.203 Annex H).
        encryption: EncryptionAlg,
        /// The peer's SPIs and ports.
        ids: IpsecIds,
    },
    /// `tls`.
    Tls,
}

impl Choice {
    /// The mechanism.
    pub fn mechanism(&self) -> Mechanism {
        match self {
            Self::Ipsec { .. } => Mechanism::Ipsec3gpp,
            Self::Tls => Mechanism::Tls,
        }
    }
}

/// The numeric parameter `name`, present and in range, or a 400.
fn num_param(m: &SecurityMechanism, name: &'static str, max: u64) -> Result<u64> {
    let v = m
        .params
        .value(name)
        .ok_or(SecAgreeError::BadIpsecOffer(match name {
            "spi-c" => "spi-c missing",
            "spi-s" => "spi-s missing",
            "port-c" => "port-c missing",
            _ => "port-s missing",
        }))?;
    if v.is_empty() || v.len() > 20 || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SecAgreeError::BadIpsecOffer("spi/port is not a number"));
    }
    match v.parse::<u64>() {
        Ok(n) if n <= max => Ok(n),
        _ => Err(SecAgreeError::BadIpsecOffer("spi/port out of range")),
    }
}

/// Reads the ids of an `ipsec-3gpp` entry (TS 33.203 Annex H). Missing or out-of-range values are
/// 400; range constraints per [`IpsecIds::check`].
pub fn ipsec_ids(m: &SecurityMechanism) -> Result<IpsecIds> {
    let spi_c = num_param(m, "spi-c", u64::from(u32::MAX))?;
    let spi_s = num_param(m, "spi-s", u64::from(u32::MAX))?;
    let port_c = num_param(m, "port-c", 65535)?;
    let port_s = num_param(m, "port-s", 65535)?;
    // Ranges checked above.
    IpsecIds {
        spi_c: spi_c as u32,
        spi_s: spi_s as u32,
        port_c: port_c as u16,
        port_s: port_s as u16,
    }
    .check()
}

/// The peer's q, if present and well formed (a malformed q is a 400).
fn q_of(m: &SecurityMechanism) -> Result<Option<Qvalue>> {
    match m.params.value("q") {
        None => Ok(None),
        Some(v) => Qvalue::parse(v).map(Some).ok_or(SecAgreeError::BadHeader {
            header: "Security-Client",
            detail: "q is not a qvalue".into(),
        }),
    }
}

/// One acceptable offer entry with its position and the UE's q.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Offered {
    /// The entry.
    pub choice: Choice,
    /// The UE's q (absent = none given).
    pub q: Option<Qvalue>,
    /// Position in the Security-Client list.
    pub index: usize,
}

/// Evaluates a Security-Client list against `config`: returns every acceptable entry (in offer
/// order). Errors (400) for malformed ipsec-3gpp entries: missing/invalid spi/port, reserved
/// SPIs, missing `alg`, or entries that disagree on spi/port (TS 33.203 §7.1). Entries with a
/// mechanism, `alg`, `ealg`, `prot` (≠ esp) or `mod` (≠ trans) we do not support are skipped.
pub fn acceptable(config: &Config, offer: &[SecurityMechanism]) -> Result<Vec<Offered>> {
    if offer.len() > MAX_MECHANISMS {
        return Err(SecAgreeError::TooManyMechanisms(offer.len()));
    }
    let mut out = Vec::new();
    let mut first_ids: Option<IpsecIds> = None;
    for (index, m) in offer.iter().enumerate() {
        let Some(mech) = Mechanism::from_name(&m.mechanism) else {
            continue;
        };
        let q = q_of(m)?;
        match mech {
            Mechanism::Tls => {
                if config.pref(Mechanism::Tls).is_some() {
                    out.push(Offered {
                        choice: Choice::Tls,
                        q,
                        index,
                    });
                }
            }
            Mechanism::Ipsec3gpp => {
                let ids = ipsec_ids(m)?;
                match first_ids {
                    None => first_ids = Some(ids),
                    Some(f) if f != ids => {
                        return Err(SecAgreeError::BadIpsecOffer(
                            "ipsec-3gpp entries disagree on spi/port",
                        ))
                    }
                    Some(_) => {}
                }
                let alg = m.alg().ok_or(SecAgreeError::BadIpsecOffer("alg missing"))?;
                if config.pref(Mechanism::Ipsec3gpp).is_none() {
                    continue;
                }
                let prot_ok = m.prot().is_none_or(|p| p.eq_ignore_ascii_case("esp"));
                let mod_ok = m.mode().is_none_or(|p| p.eq_ignore_ascii_case("trans"));
                if !prot_ok || !mod_ok {
                    continue;
                }
                let Some(integrity) = IntegrityAlg::from_name(&alg.to_ascii_lowercase()) else {
                    continue;
                };
                let ealg = m.ealg().unwrap_or("null").to_ascii_lowercase();
                let Some(encryption) = EncryptionAlg::from_name(&ealg) else {
                    continue;
                };
                if !config.integrity.contains(&integrity)
                    || !config.encryption.contains(&encryption)
                {
                    continue;
                }
                out.push(Offered {
                    choice: Choice::Ipsec {
                        integrity,
                        encryption,
                        ids,
                    },
                    q,
                    index,
                });
            }
        }
    }
    Ok(out)
}

/// Chooses among acceptable entries: our mechanism preference (higher q, then list order), then
/// for ipsec-3gpp our integrity and encryption preference order, then the UE's q (higher first),
/// then the UE's order. `NoAcceptableMechanism` (494) if nothing is acceptable.
pub fn select(config: &Config, offer: &[SecurityMechanism]) -> Result<Offered> {
    let list = acceptable(config, offer)?;
    let rank = |o: &Offered| {
        let (mech_pos, our_q) = config
            .pref(o.choice.mechanism())
            .map_or((usize::MAX, Qvalue::ZERO), |(i, p)| (i, p.q));
        let (ia, ea) = match o.choice {
            Choice::Ipsec {
                integrity,
                encryption,
                ..
            } => (
                config
                    .integrity
                    .iter()
                    .position(|a| *a == integrity)
                    .unwrap_or(usize::MAX),
                config
                    .encryption
                    .iter()
                    .position(|a| *a == encryption)
                    .unwrap_or(usize::MAX),
            ),
            Choice::Tls => (0, 0),
        };
        (
            Reverse(our_q),
            mech_pos,
            ia,
            ea,
            Reverse(o.q.map_or(0, |q| q.millis() + 1)),
            o.index,
        )
    };
    list.into_iter()
        .min_by_key(rank)
        .ok_or(SecAgreeError::NoAcceptableMechanism)
}

/// The P-CSCF's own ipsec-3gpp ids, normally from `ipsec::SpiAllocator::allocate_pair` (spi-c,
/// spi-s) and `ipsec::PortAllocator::allocate_pair` (port-c, port-s).
pub fn local_ids(spis: (u32, u32), ports: (u16, u16)) -> Result<IpsecIds> {
    IpsecIds {
        spi_c: spis.0,
        spi_s: spis.1,
        port_c: ports.0,
        port_s: ports.1,
    }
    .check()
    .map_err(|_| SecAgreeError::Config("allocated SPIs/ports are invalid"))
}

/// Writes one Security-Server entry for `choice` with our ids, in the parameter order of the
/// reference trace (`alg;ealg;prot;mod;spi-c;spi-s;port-c;port-s;q`).
pub fn server_entry(
    choice: &Choice,
    local: Option<IpsecIds>,
    q: Qvalue,
) -> Result<SecurityMechanism> {
    Ok(match choice {
        Choice::Tls => SecurityMechanism::new("tls").with("q", q.to_string()),
        Choice::Ipsec {
            integrity,
            encryption,
            ..
        } => {
            let l = local.ok_or(SecAgreeError::Config(
                "ipsec-3gpp selected but no local SPIs/ports given",
            ))?;
            SecurityMechanism::new("ipsec-3gpp")
                .with("alg", integrity.name())
                .with("ealg", encryption.name())
                .with("prot", "esp")
                .with("mod", "trans")
                .with("spi-c", l.spi_c.to_string())
                .with("spi-s", l.spi_s.to_string())
                .with("port-c", l.port_c.to_string())
                .with("port-s", l.port_s.to_string())
                .with("q", q.to_string())
        }
    })
}

/// The outcome of a successful negotiation: what goes in the 401 and what the SAs are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    /// The chosen entry (for ipsec-3gpp: the UE's ids and the alg/ealg pair).
    pub choice: Choice,
    /// The Security-Server list to put in the 401 (and to compare Security-Verify against).
    pub security_server: Vec<SecurityMechanism>,
    /// The Security-Client list the UE sent (kept for the refresh checks).
    pub security_client: Vec<SecurityMechanism>,
    /// For ipsec-3gpp: the four SAs' parameters.
    pub sa: Option<SaParams>,
}

/// Full P-CSCF negotiation for one initial REGISTER: select, then build Security-Server with our
/// q and — for ipsec-3gpp — the allocated `local` ids and the SA parameters between `ue_addr` and
/// `pcscf_addr`. Call [`select`] first if the allocation should depend on the choice.
pub fn negotiate(
    config: &Config,
    security_client: &[SecurityMechanism],
    ue_addr: IpAddr,
    pcscf_addr: IpAddr,
    local: Option<IpsecIds>,
) -> Result<Negotiated> {
    let chosen = select(config, security_client)?;
    let (_, pref) = config
        .pref(chosen.choice.mechanism())
        .ok_or(SecAgreeError::NoAcceptableMechanism)?;
    let entry = server_entry(&chosen.choice, local, pref.q)?;
    let sa = match (chosen.choice, local) {
        (
            Choice::Ipsec {
                integrity,
                encryption,
                ids,
            },
            Some(l),
        ) => Some(SaParams {
            integrity,
            encryption,
            ue: ids.endpoint(ue_addr),
            pcscf: l.endpoint(pcscf_addr),
        }),
        _ => None,
    };
    Ok(Negotiated {
        choice: chosen.choice,
        security_server: vec![entry],
        security_client: security_client.to_vec(),
        sa,
    })
}

/// Our mechanisms as a Security-Server list for a 494 sent before any offer was seen (RFC 3329
/// §2.3.1): `ipsec-3gpp` with our preferred alg/ealg and `tls`, each with our q.
pub fn advertised(config: &Config) -> Vec<SecurityMechanism> {
    config
        .mechanisms
        .iter()
        .map(|p| match p.mechanism {
            Mechanism::Tls => SecurityMechanism::new("tls").with("q", p.q.to_string()),
            Mechanism::Ipsec3gpp => {
                let mut m = SecurityMechanism::new("ipsec-3gpp");
                if let Some(a) = config.integrity.first() {
                    m = m.with("alg", a.name());
                }
                if let Some(e) = config.encryption.first() {
                    m = m.with("ealg", e.name());
                }
                m.with("prot", "esp")
                    .with("mod", "trans")
                    .with("q", p.q.to_string())
            }
        })
        .collect()
}
