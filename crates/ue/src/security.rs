//! Security agreement hooks (RFC 3329, TS 33.203 §7 and Annex H): what the UE offers in
//! Security-Client, how it picks the mechanism from Security-Server, and the parameters handed
//! to the IPsec/TLS layer through [`crate::Action::SetupSecurity`].

use aka::{Ck, Ik};
use sip::SecurityMechanism;

/// Integrity algorithms of TS 33.203 §6.1 (in Security-Client `alg=`).
pub const INTEGRITY_ALGS: [&str; 2] = ["hmac-sha-1-96", "hmac-md5-96"];
/// Encryption algorithms of TS 33.203 §6.2 (in Security-Client `ealg=`).
pub const ENCRYPTION_ALGS: [&str; 3] = ["null", "aes-cbc", "des-ede3-cbc"];

/// The UE's IPsec offer: one Security-Client entry per (alg, ealg) pair, all sharing the UE's
/// SPIs and protected ports (TS 33.203 §7.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpsecOffer {
    /// Integrity algorithms in preference order (`hmac-sha-1-96`, `hmac-md5-96`).
    pub algs: Vec<String>,
    /// Encryption algorithms in preference order (`null`, `aes-cbc`, `des-ede3-cbc`).
    pub ealgs: Vec<String>,
    /// spi-c: SPI of the SA the UE receives on at its protected client port.
    pub spi_c: u32,
    /// spi-s: SPI of the SA the UE receives on at its protected server port.
    pub spi_s: u32,
    /// port-c: the UE's protected client port.
    pub port_c: u16,
    /// port-s: the UE's protected server port.
    pub port_s: u16,
}

impl IpsecOffer {
    /// All algorithms, with the given SPIs and ports.
    pub fn all_algorithms(spi_c: u32, spi_s: u32, port_c: u16, port_s: u16) -> Self {
        IpsecOffer {
            algs: INTEGRITY_ALGS.iter().map(|s| s.to_string()).collect(),
            ealgs: ENCRYPTION_ALGS.iter().map(|s| s.to_string()).collect(),
            spi_c,
            spi_s,
            port_c,
            port_s,
        }
    }
}

/// What the UE offers in Security-Client.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SecurityOffer {
    /// `ipsec-3gpp` entries, if offered.
    pub ipsec: Option<IpsecOffer>,
    /// `tls` offered (RFC 3329 §2.2; TS 33.203 Annex O).
    pub tls: bool,
}

impl SecurityOffer {
    /// True when nothing is offered (no sec-agree at all).
    pub fn is_empty(&self) -> bool {
        self.ipsec.is_none() && !self.tls
    }

    /// The Security-Client entries, in the UE's preference order.
    pub fn mechanisms(&self) -> Vec<SecurityMechanism> {
        let mut out = Vec::new();
        if let Some(o) = &self.ipsec {
            for ealg in &o.ealgs {
                for alg in &o.algs {
                    out.push(
                        SecurityMechanism::new("ipsec-3gpp")
                            .with("alg", alg.as_str())
                            .with("ealg", ealg.as_str())
                            .with("prot", "esp")
                            .with("mod", "trans")
                            .with("spi-c", o.spi_c.to_string())
                            .with("spi-s", o.spi_s.to_string())
                            .with("port-c", o.port_c.to_string())
                            .with("port-s", o.port_s.to_string()),
                    );
                }
            }
        }
        if self.tls {
            out.push(SecurityMechanism::new("tls"));
        }
        out
    }

    fn accepts(&self, m: &SecurityMechanism) -> bool {
        if m.mechanism.eq_ignore_ascii_case("tls") {
            return self.tls;
        }
        if !m.mechanism.eq_ignore_ascii_case("ipsec-3gpp") {
            return false;
        }
        let Some(o) = &self.ipsec else { return false };
        let alg_ok = m
            .alg()
            .is_some_and(|a| o.algs.iter().any(|x| x.eq_ignore_ascii_case(a)));
        // ealg absent = null (TS 33.203 Annex H)
        let ealg = m.ealg().unwrap_or("null");
        let ealg_ok = o.ealgs.iter().any(|x| x.eq_ignore_ascii_case(ealg));
        let prot_ok = m.prot().is_none_or(|p| p.eq_ignore_ascii_case("esp"));
        let mode_ok = m.mode().is_none_or(|p| p.eq_ignore_ascii_case("trans"));
        let params_ok = m.spi_c().is_some()
            && m.spi_s().is_some()
            && m.port_c().is_some()
            && m.port_s().is_some();
        alg_ok && ealg_ok && prot_ok && mode_ok && params_ok
    }

    /// Picks the mechanism from a received Security-Server list (RFC 3329 §2.3.1 step 4): the
    /// highest `q` among those this UE offered (ties: first listed). `None` = nothing acceptable.
    pub fn choose<'a>(&self, server: &'a [SecurityMechanism]) -> Option<&'a SecurityMechanism> {
        let mut best: Option<(&SecurityMechanism, f32)> = None;
        for m in server.iter().filter(|m| self.accepts(m)) {
            let q = m.q().unwrap_or(0.0);
            if best.is_none_or(|(_, bq)| q > bq) {
                best = Some((m, q));
            }
        }
        best.map(|(m, _)| m)
    }
}

/// The negotiated mechanism and its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Negotiated {
    /// Two pairs of IPsec SAs (TS 33.203 §7.1): the UE's and the P-CSCF's SPIs and ports.
    Ipsec {
        /// Integrity algorithm (`hmac-sha-1-96` / `hmac-md5-96`).
        alg: String,
        /// Encryption algorithm (`null`, `aes-cbc`, `des-ede3-cbc`).
        ealg: String,
        /// The UE's SPIs and ports (what it offered).
        local: SaEndpoint,
        /// The P-CSCF's SPIs and ports (from Security-Server).
        server: SaEndpoint,
    },
    /// TLS (the UE opens a TLS connection to the P-CSCF, TS 33.203 Annex O).
    Tls,
}

/// One side's SPIs and protected ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SaEndpoint {
    /// spi-c.
    pub spi_c: u32,
    /// spi-s.
    pub spi_s: u32,
    /// port-c.
    pub port_c: u16,
    /// port-s.
    pub port_s: u16,
}

/// What the IPsec/TLS layer needs to set up the protected flow (emitted on the 401).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecuritySetup {
    /// The Security-Server entry chosen (exactly as received).
    pub mechanism: SecurityMechanism,
    /// The negotiated parameters.
    pub negotiated: Negotiated,
    /// CK from the ISIM (encryption key source, TS 33.203 Annex I).
    pub ck: Ck,
    /// IK from the ISIM (integrity key source).
    pub ik: Ik,
}

impl SecuritySetup {
    /// Builds the setup from the chosen server entry and the offer; `None` if the entry lacks a
    /// parameter (cannot happen for entries accepted by [`SecurityOffer::choose`]).
    pub fn new(offer: &SecurityOffer, chosen: &SecurityMechanism, ck: Ck, ik: Ik) -> Option<Self> {
        let negotiated = if chosen.mechanism.eq_ignore_ascii_case("tls") {
            Negotiated::Tls
        } else {
            let o = offer.ipsec.as_ref()?;
            Negotiated::Ipsec {
                alg: chosen.alg()?.to_ascii_lowercase(),
                ealg: chosen.ealg().unwrap_or("null").to_ascii_lowercase(),
                local: SaEndpoint {
                    spi_c: o.spi_c,
                    spi_s: o.spi_s,
                    port_c: o.port_c,
                    port_s: o.port_s,
                },
                server: SaEndpoint {
                    spi_c: chosen.spi_c()?,
                    spi_s: chosen.spi_s()?,
                    port_c: chosen.port_c()?,
                    port_s: chosen.port_s()?,
                },
            }
        };
        Some(SecuritySetup {
            mechanism: chosen.clone(),
            negotiated,
            ck,
            ik,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sip::Header;

    fn offer() -> SecurityOffer {
        SecurityOffer {
            ipsec: Some(IpsecOffer::all_algorithms(565817, 565818, 38003, 39003)),
            tls: true,
        }
    }

    #[test]
    fn offer_lists_every_pair_then_tls() {
        let m = offer().mechanisms();
        assert_eq!(m.len(), 7);
        assert_eq!(m[0].alg(), Some("hmac-sha-1-96"));
        assert_eq!(m[1].alg(), Some("hmac-md5-96"));
        assert_eq!(m[2].ealg(), Some("aes-cbc"));
        assert_eq!(m[0].spi_s(), Some(565818));
        assert_eq!(m[0].port_c(), Some(38003));
        assert_eq!(&*m[6].mechanism, "tls");
    }

    #[test]
    fn chooses_highest_q_among_offered() {
        let list: Vec<SecurityMechanism> = [
            "ipsec-3gpp;q=0.1;alg=hmac-md5-96;ealg=null;prot=esp;mod=trans;spi-c=1;spi-s=2;port-c=3;port-s=4",
            "ipsec-3gpp;q=0.9;alg=hmac-sha-256-128;ealg=null;spi-c=1;spi-s=2;port-c=3;port-s=4",
            "tls;q=0.5",
        ]
        .iter()
        .map(|s| SecurityMechanism::parse_str(s).unwrap())
        .collect();
        // the q=0.9 entry has an algorithm we never offered
        assert_eq!(&*offer().choose(&list).unwrap().mechanism, "tls");
        let no_tls = SecurityOffer {
            tls: false,
            ..offer()
        };
        let c = no_tls.choose(&list).unwrap();
        assert_eq!(c.alg(), Some("hmac-md5-96"));
        let ck = Ck::from_bytes([1; 16]);
        let ik = Ik::from_bytes([2; 16]);
        let s = SecuritySetup::new(&no_tls, c, ck, ik).unwrap();
        match s.negotiated {
            Negotiated::Ipsec { local, server, .. } => {
                assert_eq!(local.port_s, 39003);
                assert_eq!(
                    server,
                    SaEndpoint {
                        spi_c: 1,
                        spi_s: 2,
                        port_c: 3,
                        port_s: 4
                    }
                );
            }
            Negotiated::Tls => panic!("expected ipsec"),
        }
        assert!(SecurityOffer::default().choose(&list).is_none());
    }
}
