//! UE side (TS 24.229 §5.1.1.2, TS 33.203 §7.2, RFC 3329 §2.3.1 client): build the
//! Security-Client offer, pick the Security-Server entry, build Security-Verify.

use std::net::IpAddr;

use sip::SecurityMechanism;

use crate::config::{Config, Mechanism, Qvalue};
use crate::error::{Result, SecAgreeError};
use crate::negotiate::{ipsec_ids, Choice, IpsecIds, MAX_MECHANISMS};
use crate::sa::SaParams;
use ipsec::{EncryptionAlg, IntegrityAlg};

/// The Security-Client list: for ipsec-3gpp one entry per alg × ealg pair in preference order
/// (as the reference trace does), all with the UE's `ids`; `tls` as `tls`. Mechanisms follow the
/// config's order.
pub fn build_offer(config: &Config, ids: Option<IpsecIds>) -> Result<Vec<SecurityMechanism>> {
    let mut out = Vec::new();
    for p in &config.mechanisms {
        match p.mechanism {
            Mechanism::Tls => out.push(SecurityMechanism::new("tls")),
            Mechanism::Ipsec3gpp => {
                let ids = ids
                    .ok_or(SecAgreeError::Config("ipsec-3gpp offer without SPIs/ports"))?
                    .check()?;
                for a in &config.integrity {
                    for e in &config.encryption {
                        out.push(
                            SecurityMechanism::new("ipsec-3gpp")
                                .with("alg", a.name())
                                .with("ealg", e.name())
                                .with("prot", "esp")
                                .with("mod", "trans")
                                .with("spi-c", ids.spi_c.to_string())
                                .with("spi-s", ids.spi_s.to_string())
                                .with("port-c", ids.port_c.to_string())
                                .with("port-s", ids.port_s.to_string()),
                        );
                    }
                }
            }
        }
    }
    if out.len() > MAX_MECHANISMS {
        return Err(SecAgreeError::Config("offer has too many entries"));
    }
    Ok(out)
}

fn algs(m: &SecurityMechanism) -> Option<(IntegrityAlg, EncryptionAlg)> {
    let a = IntegrityAlg::from_name(&m.alg()?.to_ascii_lowercase())?;
    let e = EncryptionAlg::from_name(&m.ealg().unwrap_or("null").to_ascii_lowercase())?;
    Some((a, e))
}

/// The UE's pick from Security-Server (RFC 3329 §2.3.1: the highest-q mechanism the client
/// supports; ties go to the earlier entry): only entries matching something we offered (same
/// mechanism; for ipsec-3gpp the same alg/ealg, `prot=esp`, `mod=trans`) count. For ipsec-3gpp the
/// returned ids are the P-CSCF's (checked like an offer: 400 if invalid).
pub fn choose_server(
    offered: &[SecurityMechanism],
    server: &[SecurityMechanism],
) -> Result<Choice> {
    if server.len() > MAX_MECHANISMS {
        return Err(SecAgreeError::TooManyMechanisms(server.len()));
    }
    let mut best: Option<(Qvalue, Choice)> = None;
    for s in server {
        let Some(mech) = Mechanism::from_name(&s.mechanism) else {
            continue;
        };
        let q = match s.params.value("q") {
            None => Qvalue::ZERO,
            Some(v) => Qvalue::parse(v).ok_or(SecAgreeError::BadHeader {
                header: "Security-Server",
                detail: "q is not a qvalue".into(),
            })?,
        };
        let choice = match mech {
            Mechanism::Tls => {
                if !offered
                    .iter()
                    .any(|o| o.mechanism.eq_ignore_ascii_case("tls"))
                {
                    continue;
                }
                Choice::Tls
            }
            Mechanism::Ipsec3gpp => {
                let prot_ok = s.prot().is_none_or(|p| p.eq_ignore_ascii_case("esp"));
                let mod_ok = s.mode().is_none_or(|p| p.eq_ignore_ascii_case("trans"));
                let Some((integrity, encryption)) = algs(s) else {
                    continue;
                };
                let we_offered = offered.iter().any(|o| {
                    o.mechanism.eq_ignore_ascii_case("ipsec-3gpp")
                        && algs(o) == Some((integrity, encryption))
                });
                if !prot_ok || !mod_ok || !we_offered {
                    continue;
                }
                Choice::Ipsec {
                    integrity,
                    encryption,
                    ids: ipsec_ids(s)?,
                }
            }
        };
        if best.as_ref().is_none_or(|(bq, _)| q > *bq) {
            best = Some((q, choice));
        }
    }
    best.map(|(_, c)| c)
        .ok_or(SecAgreeError::NoAcceptableMechanism)
}

/// Security-Verify: an exact copy of the Security-Server list received (RFC 3329 §2.3.1).
pub fn security_verify(server: &[SecurityMechanism]) -> Vec<SecurityMechanism> {
    server.to_vec()
}

/// The UE's view of the SAs for an ipsec-3gpp pick: `own` ids from the offer, the P-CSCF's from
/// the chosen Security-Server entry. `None` for tls.
pub fn sa_params(
    choice: &Choice,
    own: IpsecIds,
    ue_addr: IpAddr,
    pcscf_addr: IpAddr,
) -> Option<SaParams> {
    match *choice {
        Choice::Ipsec {
            integrity,
            encryption,
            ids,
        } => Some(SaParams {
            integrity,
            encryption,
            ue: own.endpoint(ue_addr),
            pcscf: ids.endpoint(pcscf_addr),
        }),
        Choice::Tls => None,
    }
}
