//! Authentication vectors (TS 33.102 §6.3.2): AV = RAND ‖ XRES ‖ CK ‖ IK ‖ AUTN with
//! AUTN = (SQN ⊕ AK) ‖ AMF ‖ MAC-A.

use crate::milenage::Milenage;
use crate::nonce::AkaNonce;
use crate::secret::{Ck, Ik, Res};
use crate::types::{Amf, Autn, Rand, Sqn};

/// One authentication vector, as the HSS hands it to the S-CSCF (Cx MAA SIP-Auth-Data-Item).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthVector {
    /// The challenge.
    pub rand: Rand,
    /// The expected response XRES = f2(K, RAND).
    pub xres: Res,
    /// CK = f3(K, RAND).
    pub ck: Ck,
    /// IK = f4(K, RAND).
    pub ik: Ik,
    /// AUTN = (SQN ⊕ AK) ‖ AMF ‖ MAC-A.
    pub autn: Autn,
}

impl AuthVector {
    /// Computes the vector for a given RAND (use [`Rand::random`] in production), SQN and AMF.
    pub fn generate(m: &Milenage, rand: Rand, sqn: Sqn, amf: Amf) -> Self {
        let (mac_a, xres, ck, ik, ak) = m.vector_parts(&rand, sqn, amf);
        Self {
            autn: Autn::new(sqn, &ak, amf, &mac_a),
            rand,
            xres,
            ck,
            ik,
        }
    }

    /// The vector with a fresh random RAND.
    pub fn generate_random(m: &Milenage, sqn: Sqn, amf: Amf) -> Self {
        Self::generate(m, Rand::random(), sqn, amf)
    }

    /// The Cx SIP-Authenticate AVP value, RAND ‖ AUTN (TS 29.229 §6.3.13).
    pub fn sip_authenticate(&self) -> [u8; 32] {
        let mut b = [0u8; 32];
        b[..16].copy_from_slice(&self.rand.0);
        b[16..].copy_from_slice(&self.autn.0);
        b
    }

    /// The SIP Digest nonce: base64(RAND ‖ AUTN) (RFC 3310 §3.2, TS 33.203 §6.1), no server data.
    pub fn sip_nonce(&self) -> String {
        AkaNonce {
            rand: self.rand,
            autn: self.autn,
            server_data: Vec::new(),
        }
        .encode()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::{Opc, K};

    #[test]
    fn debug_does_not_leak_keys_and_cx_layout() {
        let m = Milenage::new(
            &K::from_hex("465b5ce8b199b49faa5f0a2ee238a6bc").unwrap(),
            &Opc::from_hex("cd63cb71954a9f4e48a5994e37a02baf").unwrap(),
        );
        let av = AuthVector::generate(
            &m,
            Rand::from_hex("23553cbe9637a89d218ae64dae47bf35").unwrap(),
            Sqn::from_hex("ff9bb4d0b607").unwrap(),
            Amf::from_hex("b9b9").unwrap(),
        );
        let dbg = format!("{av:?} {m:?}");
        for secret in [av.xres.expose_hex(), av.ck.expose_hex(), av.ik.expose_hex()] {
            assert!(!dbg.contains(&secret), "{dbg}");
        }
        assert!(!dbg.contains("465b5ce8"));
        assert!(!dbg.contains("cd63cb71"));
        let sa = av.sip_authenticate();
        assert_eq!(&sa[..16], &av.rand.0);
        assert_eq!(&sa[16..], &av.autn.0);
    }
}
