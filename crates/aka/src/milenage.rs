//! Milenage, the 3GPP example algorithm set f1, f1*, f2, f3, f4, f5, f5* (TS 35.206 §4.1), on AES-128.
//!
//! ```text
//! OPc  = OP ⊕ E_K(OP)
//! TEMP = E_K(RAND ⊕ OPc)
//! IN1  = SQN ‖ AMF ‖ SQN ‖ AMF
//! OUT1 = E_K(TEMP ⊕ rot(IN1 ⊕ OPc, r1) ⊕ c1) ⊕ OPc      f1 = OUT1[0..64], f1* = OUT1[64..128]
//! OUT2 = E_K(rot(TEMP ⊕ OPc, r2) ⊕ c2) ⊕ OPc             f5 = OUT2[0..48], f2 = OUT2[64..128]
//! OUT3 = E_K(rot(TEMP ⊕ OPc, r3) ⊕ c3) ⊕ OPc             f3 = OUT3
//! OUT4 = E_K(rot(TEMP ⊕ OPc, r4) ⊕ c4) ⊕ OPc             f4 = OUT4
//! OUT5 = E_K(rot(TEMP ⊕ OPc, r5) ⊕ c5) ⊕ OPc             f5* = OUT5[0..48]
//! ```
//! with r1..r5 = 64, 0, 32, 64, 96 bits (cyclic left rotation) and c1..c5 = 0, 1, 2, 4, 8 (in the last
//! byte), TS 35.206 §4.1.
//!
//! A [`Milenage`] holds the expanded AES key schedule of K and OPc, so it is built once per subscriber (or
//! per vector) and then every function costs one or two AES block encryptions. The key schedule is
//! zeroized on drop (`aes` crate `zeroize` feature), and so are the intermediate blocks (TEMP, OUT2..OUT4)
//! of every computation.

use aes::cipher::{generic_array::GenericArray, BlockEncrypt, KeyInit};
use aes::Aes128Enc;
use zeroize::Zeroize;

use crate::secret::{Ck, Ik, Op, Opc, Res, K};
use crate::types::{Ak, Amf, Mac, Rand, Sqn};

/// All Milenage outputs for one (RAND, SQN, AMF), as printed by `imscore aka milenage`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MilenageOutput {
    /// f1: MAC-A.
    pub mac_a: Mac,
    /// f1*: MAC-S.
    pub mac_s: Mac,
    /// f2: RES.
    pub res: Res,
    /// f3: CK.
    pub ck: Ck,
    /// f4: IK.
    pub ik: Ik,
    /// f5: AK.
    pub ak: Ak,
    /// f5*: AK* (resynchronisation anonymity key).
    pub ak_star: Ak,
}

/// Milenage keyed with K and OPc (the AES key schedule of K is expanded once, here).
#[derive(Clone)]
pub struct Milenage {
    cipher: Aes128Enc,
    opc: Opc,
}

impl core::fmt::Debug for Milenage {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Milenage(<redacted>)")
    }
}

/// rot(x, r) for r a multiple of 8 bits: cyclic left rotation by `bytes` bytes.
#[inline(always)]
fn rot(x: &[u8; 16], bytes: usize) -> [u8; 16] {
    let mut o = [0u8; 16];
    for (i, v) in o.iter_mut().enumerate() {
        *v = x[(i + bytes) % 16];
    }
    o
}

/// Overwrites a 16-byte block with zeros using one volatile store, so the compiler cannot elide it
/// (a faster equivalent of `Zeroize` for the hot path).
#[inline(always)]
fn wipe(block: &mut [u8; 16]) {
    // SAFETY: `block` is a valid, exclusive reference to a `[u8; 16]`; writing a `[u8; 16]` through it
    // is in bounds and correctly aligned (alignment 1).
    unsafe { core::ptr::write_volatile(block, [0u8; 16]) };
}

#[inline(always)]
fn xor16(a: &[u8; 16], b: &[u8; 16]) -> [u8; 16] {
    let mut o = [0u8; 16];
    for i in 0..16 {
        o[i] = a[i] ^ b[i];
    }
    o
}

#[inline(always)]
fn first<const N: usize>(x: &[u8; 16], from: usize) -> [u8; N] {
    let mut o = [0u8; N];
    o.copy_from_slice(&x[from..from + N]);
    o
}

impl Milenage {
    /// Milenage with a stored OPc.
    pub fn new(k: &K, opc: &Opc) -> Self {
        Self {
            cipher: Aes128Enc::new(GenericArray::from_slice(k.expose())),
            opc: opc.clone(),
        }
    }

    /// Milenage with OP: computes OPc = OP ⊕ E_K(OP) (TS 35.206 §4.1).
    pub fn with_op(k: &K, op: &Op) -> Self {
        let cipher = Aes128Enc::new(GenericArray::from_slice(k.expose()));
        let mut block = *op.expose();
        Self::enc(&cipher, &mut block);
        let mut opc = xor16(&block, op.expose());
        block.zeroize();
        let opc_s = Opc::from_bytes(opc);
        opc.zeroize();
        Self { cipher, opc: opc_s }
    }

    /// OPc = OP ⊕ E_K(OP) (TS 35.206 §4.1), for provisioning an HSS with OPc only.
    pub fn compute_opc(k: &K, op: &Op) -> Opc {
        Self::with_op(k, op).opc
    }

    /// The OPc this instance uses.
    pub fn opc(&self) -> &Opc {
        &self.opc
    }

    #[inline(always)]
    fn enc(cipher: &Aes128Enc, block: &mut [u8; 16]) {
        cipher.encrypt_block(GenericArray::from_mut_slice(block));
    }

    /// TEMP = E_K(RAND ⊕ OPc).
    #[inline(always)]
    fn temp(&self, rand: &Rand) -> [u8; 16] {
        let mut t = xor16(&rand.0, self.opc.expose());
        Self::enc(&self.cipher, &mut t);
        t
    }

    /// The f1 input block TEMP ⊕ rot(IN1 ⊕ OPc, r1 = 64) ⊕ c1 (c1 = 0).
    #[inline(always)]
    fn in1_block(&self, temp: &[u8; 16], sqn: Sqn, amf: Amf) -> [u8; 16] {
        let s = sqn.to_bytes();
        let mut in1 = [0u8; 16];
        in1[..6].copy_from_slice(&s);
        in1[6..8].copy_from_slice(&amf.0);
        in1[8..14].copy_from_slice(&s);
        in1[14..].copy_from_slice(&amf.0);
        let x = rot(&xor16(&in1, self.opc.expose()), 8);
        xor16(temp, &x)
    }

    /// The input block rot(TEMP ⊕ OPc, r) ⊕ c for OUT2..OUT5.
    #[inline(always)]
    fn out_block(&self, temp: &[u8; 16], rot_bytes: usize, c: u8) -> [u8; 16] {
        let mut b = rot(&xor16(temp, self.opc.expose()), rot_bytes);
        b[15] ^= c;
        b
    }

    #[inline(always)]
    fn finish(&self, mut block: [u8; 16]) -> [u8; 16] {
        Self::enc(&self.cipher, &mut block);
        xor16(&block, self.opc.expose())
    }

    /// OUT1 = f1 ‖ f1*.
    fn out1(&self, rand: &Rand, sqn: Sqn, amf: Amf) -> [u8; 16] {
        let mut temp = self.temp(rand);
        let out = self.finish(self.in1_block(&temp, sqn, amf));
        wipe(&mut temp);
        out
    }

    /// f1: the network authentication code MAC-A.
    pub fn f1(&self, rand: &Rand, sqn: Sqn, amf: Amf) -> Mac {
        Mac(first::<8>(&self.out1(rand, sqn, amf), 0))
    }

    /// f1*: the resynchronisation authentication code MAC-S.
    pub fn f1_star(&self, rand: &Rand, sqn: Sqn, amf: Amf) -> Mac {
        Mac(first::<8>(&self.out1(rand, sqn, amf), 8))
    }

    /// f2, f3, f4, f5: (RES, CK, IK, AK) — what a UE computes from RAND before it checks AUTN.
    pub fn f2345(&self, rand: &Rand) -> (Res, Ck, Ik, Ak) {
        let mut temp = self.temp(rand);
        let mut blocks = [
            GenericArray::from(self.out_block(&temp, 0, 1)),
            GenericArray::from(self.out_block(&temp, 4, 2)),
            GenericArray::from(self.out_block(&temp, 8, 4)),
        ];
        wipe(&mut temp);
        self.cipher.encrypt_blocks(&mut blocks);
        let mut o2 = xor16(&blocks[0].into(), self.opc.expose());
        let mut o3 = xor16(&blocks[1].into(), self.opc.expose());
        let mut o4 = xor16(&blocks[2].into(), self.opc.expose());
        for b in blocks.iter_mut() {
            let b: &mut [u8; 16] = b.as_mut();
            wipe(b);
        }
        let out = (
            Res::from_bytes(first::<8>(&o2, 8)),
            Ck::from_bytes(o3),
            Ik::from_bytes(o4),
            Ak(first::<6>(&o2, 0)),
        );
        wipe(&mut o2);
        wipe(&mut o3);
        wipe(&mut o4);
        out
    }

    /// f5: the anonymity key AK.
    pub fn f5(&self, rand: &Rand) -> Ak {
        let mut temp = self.temp(rand);
        let mut out = self.finish(self.out_block(&temp, 0, 1));
        let ak = Ak(first::<6>(&out, 0));
        wipe(&mut temp);
        wipe(&mut out);
        ak
    }

    /// f5*: the resynchronisation anonymity key AK*.
    pub fn f5_star(&self, rand: &Rand) -> Ak {
        let mut temp = self.temp(rand);
        let mut out = self.finish(self.out_block(&temp, 12, 8));
        let ak = Ak(first::<6>(&out, 0));
        wipe(&mut temp);
        wipe(&mut out);
        ak
    }

    /// Everything a home network needs for one vector, in 5 AES blocks (TEMP, then OUT1..OUT4 in parallel):
    /// (MAC-A, RES, CK, IK, AK).
    pub(crate) fn vector_parts(&self, rand: &Rand, sqn: Sqn, amf: Amf) -> (Mac, Res, Ck, Ik, Ak) {
        let mut temp = self.temp(rand);
        let mut blocks = [
            GenericArray::from(self.in1_block(&temp, sqn, amf)),
            GenericArray::from(self.out_block(&temp, 0, 1)),
            GenericArray::from(self.out_block(&temp, 4, 2)),
            GenericArray::from(self.out_block(&temp, 8, 4)),
        ];
        wipe(&mut temp);
        self.cipher.encrypt_blocks(&mut blocks);
        let o1 = xor16(&blocks[0].into(), self.opc.expose());
        let mut o2 = xor16(&blocks[1].into(), self.opc.expose());
        let mut o3 = xor16(&blocks[2].into(), self.opc.expose());
        let mut o4 = xor16(&blocks[3].into(), self.opc.expose());
        for b in blocks.iter_mut() {
            let b: &mut [u8; 16] = b.as_mut();
            wipe(b);
        }
        let out = (
            Mac(first::<8>(&o1, 0)),
            Res::from_bytes(first::<8>(&o2, 8)),
            Ck::from_bytes(o3),
            Ik::from_bytes(o4),
            Ak(first::<6>(&o2, 0)),
        );
        wipe(&mut o2);
        wipe(&mut o3);
        wipe(&mut o4);
        out
    }

    /// All of f1, f1*, f2, f3, f4, f5, f5* for one (RAND, SQN, AMF).
    pub fn compute_all(&self, rand: &Rand, sqn: Sqn, amf: Amf) -> MilenageOutput {
        let out1 = self.out1(rand, sqn, amf);
        let (res, ck, ik, ak) = self.f2345(rand);
        MilenageOutput {
            mac_a: Mac(first::<8>(&out1, 0)),
            mac_s: Mac(first::<8>(&out1, 8)),
            res,
            ck,
            ik,
            ak,
            ak_star: self.f5_star(rand),
        }
    }
}
