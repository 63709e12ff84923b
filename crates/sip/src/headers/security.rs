//! Security-Client, Security-Server, Security-Verify (RFC 3329 §2.2) with the `ipsec-3gpp`
//! parameters of TS 33.203 Annex H (alg, ealg, prot, mod, spi-c, spi-s, port-c, port-s).

use super::Header;
use crate::params::{Param, Params, DEFAULT_MAX_PARAMS};
use crate::scan::Cursor;
use crate::text::Text;
use std::fmt;

/// One security mechanism with its parameters, unknown ones preserved in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityMechanism {
    /// `ipsec-3gpp`, `tls`, `digest`, `ipsec-ike`, `ipsec-man` or any token.
    pub mechanism: Text,
    /// Parameters in received order.
    pub params: Params,
}

impl SecurityMechanism {
    /// A mechanism without parameters.
    pub fn new(mechanism: impl Into<Text>) -> Self {
        SecurityMechanism {
            mechanism: mechanism.into(),
            params: Params::new(),
        }
    }

    /// Adds or replaces a parameter.
    pub fn with(mut self, name: &str, value: impl Into<Text>) -> Self {
        self.params.set(Param::token(name, value));
        self
    }

    /// Preference `q` (RFC 3329 §2.2).
    pub fn q(&self) -> Option<f32> {
        self.params.value("q").and_then(|v| v.parse().ok())
    }
    /// Integrity algorithm `alg` (e.g. `hmac-sha-1-96`).
    pub fn alg(&self) -> Option<&str> {
        self.params.value("alg")
    }
    /// Encryption algorithm `ealg` (e.g. `aes-cbc`, `null`).
    pub fn ealg(&self) -> Option<&str> {
        self.params.value("ealg")
    }
    /// `prot` (`esp` or `ah`).
    pub fn prot(&self) -> Option<&str> {
        self.params.value("prot")
    }
    /// `mod` (`trans` or `tun`).
    pub fn mode(&self) -> Option<&str> {
        self.params.value("mod")
    }
    /// `spi-c`.
    pub fn spi_c(&self) -> Option<u32> {
        self.params.value("spi-c").and_then(|v| v.parse().ok())
    }
    /// `spi-s`.
    pub fn spi_s(&self) -> Option<u32> {
        self.params.value("spi-s").and_then(|v| v.parse().ok())
    }
    /// `port-c`.
    pub fn port_c(&self) -> Option<u16> {
        self.params.value("port-c").and_then(|v| v.parse().ok())
    }
    /// `port-s`.
    pub fn port_s(&self) -> Option<u16> {
        self.params.value("port-s").and_then(|v| v.parse().ok())
    }
}

impl Header for SecurityMechanism {
    fn parse(v: &Text) -> Result<Self, &'static str> {
        let s = v.as_bytes();
        let mut c = Cursor::new(s);
        c.skip_ws();
        let m = c.token().ok_or("missing mechanism name")?;
        let params = Params::parse(v, &mut c, DEFAULT_MAX_PARAMS)?;
        c.skip_ws();
        if !c.at_end() {
            return Err("unexpected characters after mechanism parameters");
        }
        // one pass over the parameters: numeric ones must be in range (TS 33.203 Annex H)
        for p in &params {
            let n = p.name.as_bytes();
            let max = match n.len() {
                5 if n.eq_ignore_ascii_case(b"spi-c") || n.eq_ignore_ascii_case(b"spi-s") => {
                    u64::from(u32::MAX)
                }
                6 if n.eq_ignore_ascii_case(b"port-c") || n.eq_ignore_ascii_case(b"port-s") => {
                    65535
                }
                1 if n.eq_ignore_ascii_case(b"q") => {
                    // RFC 3261 `qvalue` syntax is checked without a float parse; any other
                    // spelling of a number between 0 and 1 is accepted as before.
                    let ok = p.value.as_ref().is_some_and(|x| {
                        is_qvalue(x.as_bytes())
                            || x.parse::<f32>().is_ok_and(|f| (0.0..=1.0).contains(&f))
                    });
                    if !ok {
                        return Err("q is not a number between 0 and 1");
                    }
                    continue;
                }
                _ => continue,
            };
            if p.value
                .as_ref()
                .and_then(|x| crate::scan::parse_u64(x.as_bytes(), max))
                .is_none()
            {
                return Err(if n.len() == 5 {
                    "spi is not a 32-bit number"
                } else {
                    "port is not a 16-bit number"
                });
            }
        }
        Ok(SecurityMechanism {
            mechanism: v.slice(m.0, m.1),
            params,
        })
    }
}

/// RFC 3261 §25.1 `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )`.
fn is_qvalue(v: &[u8]) -> bool {
    let (int, frac) = match v.split_first() {
        Some((&i, rest)) => (i, rest),
        None => return false,
    };
    let digits = match frac.split_first() {
        None => &[][..],
        Some((b'.', d)) if d.len() <= 3 => d,
        Some(_) => return false,
    };
    match int {
        b'0' => digits.iter().all(u8::is_ascii_digit),
        b'1' => digits.iter().all(|&d| d == b'0'),
        _ => false,
    }
}

impl fmt::Display for SecurityMechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.mechanism, self.params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qvalue_syntax() {
        for ok in ["0", "1", "0.", "0.1", "0.123", "1.0", "1.000", "1."] {
            assert!(is_qvalue(ok.as_bytes()), "{ok}");
        }
        for bad in [
            "", ".5", "0.1234", "1.001", "2", "01", "0,1", "1.5", "-0", "0.a",
        ] {
            assert!(!is_qvalue(bad.as_bytes()), "{bad}");
        }
        // other spellings in range still parse (as before); out of range is rejected
        let m = SecurityMechanism::parse(&Text::from("ipsec-3gpp;q=0.5e0")).expect("in range");
        assert_eq!(m.q(), Some(0.5));
        assert!(SecurityMechanism::parse(&Text::from("ipsec-3gpp;q=1.5")).is_err());
    }
}
