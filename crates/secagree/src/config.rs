//! P-CSCF / UE security agreement configuration: `sec_agree` mode, mechanism preference with q
//! values (RFC 3329 §2.2), and the ipsec-3gpp algorithms allowed, in preference order
//! (TS 33.203 §7.1, Annex H).

use std::fmt;

use ipsec::{EncryptionAlg, IntegrityAlg};

use crate::error::{Result, SecAgreeError};

/// `sec_agree = required | optional | off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SecAgreeMode {
    /// Every UE must agree on a mechanism: a REGISTER without sec-agree gets 494, and only
    /// REGISTER and emergency requests are accepted on the unprotected port.
    #[default]
    Required,
    /// Negotiate when the UE asks; otherwise proceed without protection.
    Optional,
    /// Ignore sec-agree: strip the headers and never negotiate.
    Off,
}

/// A mechanism this implementation can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mechanism {
    /// `ipsec-3gpp` (TS 33.203 §7, Annex H).
    Ipsec3gpp,
    /// `tls` (RFC 3329 §2.2, TS 33.203 Annex O / TS 24.229 §5.2.3).
    Tls,
}

impl Mechanism {
    /// The mechanism-name token.
    pub fn name(self) -> &'static str {
        match self {
            Self::Ipsec3gpp => "ipsec-3gpp",
            Self::Tls => "tls",
        }
    }

    /// Case-insensitive lookup of a mechanism-name; `None` for mechanisms we do not run.
    pub fn from_name(s: &str) -> Option<Self> {
        if s.eq_ignore_ascii_case("ipsec-3gpp") {
            Some(Self::Ipsec3gpp)
        } else if s.eq_ignore_ascii_case("tls") {
            Some(Self::Tls)
        } else {
            None
        }
    }
}

/// A `qvalue` (RFC 3329 §2.2: `"0" ["." 0*3DIGIT] / "1" ["." 0*3("0")]`) held exactly, in
/// thousandths (0..=1000).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Qvalue(u16);

impl Qvalue {
    /// `q=0`.
    pub const ZERO: Self = Self(0);

    /// From thousandths; `None` above 1000.
    pub fn from_millis(m: u16) -> Option<Self> {
        (m <= 1000).then_some(Self(m))
    }

    /// Thousandths.
    pub fn millis(self) -> u16 {
        self.0
    }

    /// Parses the RFC 3329 grammar exactly (no exponent, at most three decimals).
    pub fn parse(s: &str) -> Option<Self> {
        let (int, frac) = match s.split_once('.') {
            Some((i, f)) => (i, f),
            None => (s, ""),
        };
        if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let mut m: u16 = 0;
        for (i, b) in frac.bytes().enumerate() {
            let w = [100u16, 10, 1].get(i).copied()?;
            m += u16::from(b - b'0') * w;
        }
        match int {
            "0" => Some(Self(m)),
            "1" if m == 0 => Some(Self(1000)),
            _ => None,
        }
    }
}

impl fmt::Display for Qvalue {
    /// Shortest form: `1`, `0`, `0.1`, `0.25`, `0.125`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            1000 => f.write_str("1"),
            0 => f.write_str("0"),
            m => {
                let s = format!("{m:03}");
                write!(f, "0.{}", s.trim_end_matches('0'))
            }
        }
    }
}

/// One mechanism we accept, with the q value we advertise for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MechanismPref {
    /// The mechanism.
    pub mechanism: Mechanism,
    /// Our preference (RFC 3329 §2.2 `q`); higher wins, ties go to the earlier entry.
    pub q: Qvalue,
}

/// Security agreement configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `sec_agree = required | optional | off`.
    pub mode: SecAgreeMode,
    /// Mechanisms we accept, with our q values.
    pub mechanisms: Vec<MechanismPref>,
    /// ipsec-3gpp integrity algorithms allowed, most preferred first.
    pub integrity: Vec<IntegrityAlg>,
    /// ipsec-3gpp encryption algorithms allowed, most preferred first.
    pub encryption: Vec<EncryptionAlg>,
}

impl Default for Config {
    /// Required; ipsec-3gpp (q=0.1, as in the reference trace) before tls (q=0.05);
    /// hmac-sha-1-96 before hmac-md5-96; aes-cbc, des-ede3-cbc, null.
    fn default() -> Self {
        Self {
            mode: SecAgreeMode::Required,
            mechanisms: vec![
                MechanismPref {
                    mechanism: Mechanism::Ipsec3gpp,
                    q: Qvalue(100),
                },
                MechanismPref {
                    mechanism: Mechanism::Tls,
                    q: Qvalue(50),
                },
            ],
            integrity: vec![IntegrityAlg::HmacSha1_96, IntegrityAlg::HmacMd5_96],
            encryption: vec![
                EncryptionAlg::AesCbc,
                EncryptionAlg::DesEde3Cbc,
                EncryptionAlg::Null,
            ],
        }
    }
}

impl Config {
    /// Checks the configuration is usable: at least one mechanism unless `off`, no duplicates,
    /// and algorithms configured when ipsec-3gpp is enabled.
    pub fn validate(&self) -> Result<()> {
        if self.mode != SecAgreeMode::Off && self.mechanisms.is_empty() {
            return Err(SecAgreeError::Config("no security mechanism configured"));
        }
        for (i, m) in self.mechanisms.iter().enumerate() {
            if self.mechanisms[..i]
                .iter()
                .any(|o| o.mechanism == m.mechanism)
            {
                return Err(SecAgreeError::Config("mechanism listed twice"));
            }
        }
        if self.pref(Mechanism::Ipsec3gpp).is_some()
            && (self.integrity.is_empty() || self.encryption.is_empty())
        {
            return Err(SecAgreeError::Config(
                "ipsec-3gpp enabled without integrity or encryption algorithms",
            ));
        }
        Ok(())
    }

    /// Our entry for a mechanism, with its rank (position) in the list.
    pub fn pref(&self, m: Mechanism) -> Option<(usize, MechanismPref)> {
        self.mechanisms
            .iter()
            .enumerate()
            .find(|(_, p)| p.mechanism == m)
            .map(|(i, p)| (i, *p))
    }

    /// Parses a `sec_agree` configuration value.
    pub fn parse_mode(s: &str) -> Result<SecAgreeMode> {
        match s.trim().to_ascii_lowercase().as_str() {
            "required" => Ok(SecAgreeMode::Required),
            "optional" => Ok(SecAgreeMode::Optional),
            "off" => Ok(SecAgreeMode::Off),
            _ => Err(SecAgreeError::Config(
                "sec_agree must be required, optional or off",
            )),
        }
    }
}
