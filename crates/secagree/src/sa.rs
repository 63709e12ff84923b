//! The negotiated ipsec-3gpp security association set (TS 33.203 §7.1): two pairs of SAs between
//! the UE and the P-CSCF, which SPI each direction uses, and conversion to `ipsec::ImsSaSet`.

use std::net::SocketAddr;

use aka::{Ck, Ik};
use ipsec::{EncryptionAlg, Endpoint, ImsSaSet, IntegrityAlg, SaKeys};

/// The parameters of the four SAs agreed for one registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SaParams {
    /// Integrity algorithm (`alg`).
    pub integrity: IntegrityAlg,
    /// Encryption algorithm (`ealg`).
    pub encryption: EncryptionAlg,
    /// The UE's address, ports and inbound SPIs (from Security-Client).
    pub ue: Endpoint,
    /// The P-CSCF's address, ports and inbound SPIs (in Security-Server).
    pub pcscf: Endpoint,
}

/// One unidirectional SA: packets from `src` to `dst` carry `spi` (the receiver's inbound SPI).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SaDirection {
    /// Sender address and protected port.
    pub src: SocketAddr,
    /// Receiver address and protected port.
    pub dst: SocketAddr,
    /// SPI in the ESP header (chosen by the receiver).
    pub spi: u32,
}

impl SaParams {
    /// The four SAs of TS 33.203 §7.1, in this order:
    /// 1. UE port-c → P-CSCF port-s, SPI = P-CSCF spi-s (UE requests, e.g. REGISTER);
    /// 2. P-CSCF port-s → UE port-c, SPI = UE spi-c (responses to them);
    /// 3. P-CSCF port-c → UE port-s, SPI = UE spi-s (P-CSCF requests, e.g. NOTIFY);
    /// 4. UE port-s → P-CSCF port-c, SPI = P-CSCF spi-c (responses to them).
    pub fn directions(&self) -> [SaDirection; 4] {
        let (u, p) = (&self.ue, &self.pcscf);
        let a = |e: &Endpoint, port| SocketAddr::new(e.addr, port);
        [
            SaDirection {
                src: a(u, u.port_c),
                dst: a(p, p.port_s),
                spi: p.spi_s,
            },
            SaDirection {
                src: a(p, p.port_s),
                dst: a(u, u.port_c),
                spi: u.spi_c,
            },
            SaDirection {
                src: a(p, p.port_c),
                dst: a(u, u.port_s),
                spi: u.spi_s,
            },
            SaDirection {
                src: a(u, u.port_s),
                dst: a(p, p.port_c),
                spi: p.spi_c,
            },
        ]
    }

    /// Keys for all four SAs from the AKA run's IK/CK (TS 33.203 §7.1, Annex I expansion).
    pub fn keys(&self, ik: &Ik, ck: &Ck) -> SaKeys {
        SaKeys::from_aka(self.integrity, ik, self.encryption, ck)
    }

    /// The set as seen from the P-CSCF (local = P-CSCF), ready for `ImsSaSet::install`.
    pub fn pcscf_sa_set(&self, ik: &Ik, ck: &Ck) -> ImsSaSet {
        ImsSaSet {
            local: self.pcscf,
            remote: self.ue,
            keys: self.keys(ik, ck),
        }
    }

    /// The set as seen from the UE.
    pub fn ue_sa_set(&self, ik: &Ik, ck: &Ck) -> ImsSaSet {
        ImsSaSet {
            local: self.ue,
            remote: self.pcscf,
            keys: self.keys(ik, ck),
        }
    }

    /// True if a request from the UE arrived on the protected flow: from the UE's port-c to the
    /// P-CSCF's port-s (TS 33.203 §7.1, TS 24.229 §5.2.2.4 / §5.2.6.3.1).
    pub fn is_ue_request_flow(&self, src: SocketAddr, dst: SocketAddr) -> bool {
        src == SocketAddr::new(self.ue.addr, self.ue.port_c)
            && dst == SocketAddr::new(self.pcscf.addr, self.pcscf.port_s)
    }
}
