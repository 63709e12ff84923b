//! The P-CSCF's security agreement settings (RFC 3329 §2.2, TS 24.229 §5.2.2.1, TS 33.203 §7):
//! `sec_agree = off | optional | required` and the mechanism preferences, turned into a
//! [`secagree::Config`] restricted to the mechanisms a [`super::sa_setup::SaSetup`] backend exists
//! for.

use serde::Deserialize;

use secagree::{Config, Mechanism, MechanismPref, Qvalue, SecAgreeMode};

use crate::CscfError;

/// `sec_agree` in the P-CSCF configuration.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SecAgreeSetting {
    /// Never negotiate; Security-* headers and the `sec-agree` option tag are stripped.
    Off,
    /// Negotiate when the UE sends Security-Client; otherwise proceed unprotected (the
    /// behaviour before security agreement existed).
    #[default]
    Optional,
    /// A REGISTER without Security-Client gets 494 (RFC 3329 §2.3.1), and only REGISTER and
    /// emergency requests are accepted outside a protected flow (reference TLS call flows).
    Required,
}

impl SecAgreeSetting {
    /// The `secagree` mode.
    pub fn mode(self) -> SecAgreeMode {
        match self {
            Self::Off => SecAgreeMode::Off,
            Self::Optional => SecAgreeMode::Optional,
            Self::Required => SecAgreeMode::Required,
        }
    }
}

/// Default `sec_mechanisms`: ipsec-3gpp (q=0.1, as in the reference trace) before tls (q=0.05).
pub fn default_mechanisms() -> Vec<String> {
    vec!["ipsec-3gpp;q=0.1".into(), "tls;q=0.05".into()]
}

/// Parses one `sec_mechanisms` entry: `name` or `name;q=<qvalue>` (RFC 3329 §2.2 qvalue;
/// q defaults to 1).
pub fn parse_mechanism(s: &str) -> Result<MechanismPref, CscfError> {
    let bad = |why: &str| CscfError::Config(format!("pcscf.sec_mechanisms `{s}`: {why}"));
    let mut parts = s.split(';').map(str::trim);
    let name = parts.next().unwrap_or_default();
    let mechanism = Mechanism::from_name(name).ok_or_else(|| bad("unknown mechanism"))?;
    let mut q = Qvalue::from_millis(1000).ok_or_else(|| bad("q"))?;
    for p in parts {
        match p.split_once('=') {
            Some((k, v)) if k.trim().eq_ignore_ascii_case("q") => {
                q = Qvalue::parse(v.trim()).ok_or_else(|| bad("q is not a qvalue"))?;
            }
            _ => return Err(bad("only a q parameter is allowed")),
        }
    }
    Ok(MechanismPref { mechanism, q })
}

/// The effective negotiation settings: the configured mode and preferences, keeping only the
/// mechanisms in `available` (those with a security association backend). A configured
/// mechanism without a backend is left out with a warning: offering it in Security-Server would
/// promise protection we cannot give. Unless `off`, at least one mechanism must remain.
pub fn effective(
    setting: SecAgreeSetting,
    mechanisms: &[String],
    available: &[Mechanism],
) -> Result<Config, CscfError> {
    let mut prefs = Vec::new();
    for m in mechanisms {
        let p = parse_mechanism(m)?;
        if available.contains(&p.mechanism) {
            prefs.push(p);
        } else {
            tracing::warn!(
                mechanism = p.mechanism.name(),
                "security mechanism configured but not offered: no datapath for it (ipsec-3gpp needs [pcscf.ipsec])"
            );
        }
    }
    let cfg = Config {
        mode: setting.mode(),
        mechanisms: prefs,
        ..Config::default()
    };
    cfg.validate()
        .map_err(|e| CscfError::Config(format!("pcscf.sec_mechanisms: {e}")))?;
    Ok(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_mechanisms_with_and_without_q() {
        let p = parse_mechanism("tls;q=0.5").unwrap();
        assert_eq!(p.mechanism, Mechanism::Tls);
        assert_eq!(p.q.millis(), 500);
        let p = parse_mechanism("IPSEC-3GPP").unwrap();
        assert_eq!(p.mechanism, Mechanism::Ipsec3gpp);
        assert_eq!(p.q.millis(), 1000);
        assert!(parse_mechanism("digest").is_err());
        assert!(parse_mechanism("tls;q=2").is_err());
        assert!(parse_mechanism("tls;alg=x").is_err());
    }

    #[test]
    fn pcscf_config_fields_deserialize() {
        let c: crate::pcscf::PcscfConfig = serde_json::from_str(
            r#"{"sec_agree":"required","sec_mechanisms":["tls;q=0.5"],
                "tls_cert":"/a.crt","tls_key":"/a.key"}"#,
        )
        .unwrap();
        assert_eq!(c.sec_agree, SecAgreeSetting::Required);
        assert_eq!(c.sec_mechanisms, vec!["tls;q=0.5".to_string()]);
        assert_eq!(c.tls_key.as_deref(), Some(std::path::Path::new("/a.key")));
        let d: crate::pcscf::PcscfConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(d.sec_agree, SecAgreeSetting::Optional);
        assert_eq!(d.sec_mechanisms, default_mechanisms());
        assert!(
            serde_json::from_str::<crate::pcscf::PcscfConfig>(r#"{"sec_agree":"maybe"}"#).is_err()
        );
    }

    #[test]
    fn effective_drops_mechanisms_without_backend() {
        let c = effective(
            SecAgreeSetting::Required,
            &default_mechanisms(),
            &[Mechanism::Tls],
        )
        .unwrap();
        assert_eq!(c.mode, SecAgreeMode::Required);
        assert_eq!(c.mechanisms.len(), 1);
        assert_eq!(c.mechanisms[0].mechanism, Mechanism::Tls);
        assert_eq!(c.mechanisms[0].q.millis(), 50);
        // only ipsec-3gpp configured, no backend: nothing left to offer
        let e = effective(
            SecAgreeSetting::Optional,
            &["ipsec-3gpp;q=0.1".into()],
            &[Mechanism::Tls],
        );
        assert!(e.is_err());
        // off needs no mechanism
        assert!(effective(SecAgreeSetting::Off, &[], &[Mechanism::Tls]).is_ok());
    }
}
