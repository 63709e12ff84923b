//! Property tests of the home side / UE side interplay (TS 33.102 §6.3, Annex C) and of Digest.

use aka::digest::{self, DigestInput, Qop, QopParams};
use aka::resync::home_resync;
use aka::sqn::{HomeSqn, IndPolicy, SqnConfig, SqnReject, UeSqnState};
use aka::usim::{authenticate, UsimOutcome};
use aka::{AkaError, Amf, AuthVector, Milenage, Opc, Rand, Res, Sqn, K};
use md5::{Digest, Md5};
use proptest::prelude::*;

fn milenage(k: [u8; 16], opc: [u8; 16]) -> Milenage {
    Milenage::new(&K::from_bytes(k), &Opc::from_bytes(opc))
}

/// The HSS: issues vectors and persists only `HomeSqn`.
struct Home {
    cfg: SqnConfig,
    last: HomeSqn,
}

impl Home {
    fn vector(&mut self, m: &Milenage, rand: [u8; 16], amf: Amf) -> AuthVector {
        let sqn = self.cfg.next_sqn(self.last, IndPolicy::Cycle).unwrap();
        self.last = HomeSqn(sqn);
        AuthVector::generate(m, Rand(rand), sqn, amf)
    }
}

fn expect_success(out: UsimOutcome, av: &AuthVector) {
    match out {
        UsimOutcome::Success { res, ck, ik, .. } => {
            assert_eq!(res, av.xres);
            assert_eq!(ck, av.ck);
            assert_eq!(ik, av.ik);
        }
        other => panic!("expected success, got {other:?}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// The UE accepts every vector its home side makes, in order, and the AUTN of each is then
    /// rejected as a replay.
    #[test]
    fn ue_accepts_every_home_vector_and_rejects_replays(
        k in any::<[u8; 16]>(), opc in any::<[u8; 16]>(), amf in any::<[u8; 2]>(),
        start_seq in 0u64..1 << 40, ind_bits in 0u8..=8, n in 1usize..40, seed in any::<[u8; 16]>(),
    ) {
        let m = milenage(k, opc);
        let cfg = SqnConfig { ind_bits, ..SqnConfig::default() };
        let mut home = Home { cfg, last: HomeSqn(Sqn::from_parts(start_seq, 0, ind_bits).unwrap()) };
        let mut ue = UeSqnState::new(&cfg).unwrap();
        // the UE has seen the home side's last SQN before
        ue.accept(home.last.0);
        for i in 0..n {
            let mut rand = seed;
            rand[0] ^= i as u8;
            rand[1] ^= (i >> 8) as u8;
            let av = home.vector(&m, rand, Amf(amf));
            let out = authenticate(&m, &cfg, &mut ue, &av.rand, &av.autn, None).unwrap();
            expect_success(out, &av);
            // replay of the same challenge: synchronisation failure, never success
            let again = authenticate(&m, &cfg, &mut ue, &av.rand, &av.autn, None).unwrap();
            match again {
                UsimOutcome::SyncFailure { reason: SqnReject::Replay { .. }, .. } => {}
                other => prop_assert!(false, "replay accepted or misclassified: {other:?}"),
            }
        }
    }

    /// A batch of up to 2^IND vectors (distinct IND entries) is accepted in any delivery order.
    #[test]
    fn batch_accepted_in_any_order(
        k in any::<[u8; 16]>(), opc in any::<[u8; 16]>(),
        order in Just((0..32usize).collect::<Vec<_>>()).prop_shuffle(),
    ) {
        let m = milenage(k, opc);
        let cfg = SqnConfig::default();
        let mut home = Home { cfg, last: HomeSqn::default() };
        let mut ue = UeSqnState::new(&cfg).unwrap();
        let avs: Vec<AuthVector> = (0..32u8).map(|i| home.vector(&m, [i; 16], Amf([0x80, 0]))).collect();
        for i in order {
            let out = authenticate(&m, &cfg, &mut ue, &avs[i].rand, &avs[i].autn, None).unwrap();
            expect_success(out, &avs[i]);
        }
    }

    /// When the home side is out of step (behind the UE, or too far ahead), the UE answers with AUTS,
    /// the home side accepts it, and the next vector is fresh for the UE.
    #[test]
    fn auts_accepted_and_next_vector_fresh(
        k in any::<[u8; 16]>(), opc in any::<[u8; 16]>(), amf in any::<[u8; 2]>(),
        ue_seq in 1u64..1 << 42, home_seq in 0u64..1 << 42, ue_ind in 0u32..32, rand in any::<[u8; 16]>(),
        use_l in any::<bool>(),
    ) {
        let m = milenage(k, opc);
        let cfg = SqnConfig { l: use_l.then_some(16), ..SqnConfig::default() };
        let mut ue = UeSqnState::new(&cfg).unwrap();
        ue.accept(Sqn::from_parts(ue_seq, ue_ind, 5).unwrap());
        let mut home = Home { cfg, last: HomeSqn(Sqn::from_parts(home_seq, 0, 5).unwrap()) };
        let av = home.vector(&m, rand, Amf(amf));
        let out = authenticate(&m, &cfg, &mut ue, &av.rand, &av.autn, None).unwrap();
        // model of Annex C.2: the new vector has SEQ = home_seq + 1 and IND = 1
        let seq = home_seq + 1;
        let entry = if ue_ind == 1 { ue_seq } else { 0 };
        let delta_exceeded = seq > ue_seq && seq - ue_seq > cfg.delta;
        let l_exceeded = use_l && seq < ue_seq && ue_seq - seq >= 16;
        let fresh = !delta_exceeded && !l_exceeded && seq > entry;
        match out {
            UsimOutcome::Success { .. } => prop_assert!(fresh, "accepted a stale SQN"),
            UsimOutcome::SyncFailure { auts, .. } => {
                prop_assert!(!fresh, "rejected a fresh SQN");
                let before = ue.clone();
                home.last = home_resync(&m, &cfg, home.last, &av.rand, &auts).unwrap();
                prop_assert_eq!(&ue, &before);
                let mut rand2 = rand;
                rand2[15] ^= 0xff;
                let av2 = home.vector(&m, rand2, Amf(amf));
                let out2 = authenticate(&m, &cfg, &mut ue, &av2.rand, &av2.autn, None).unwrap();
                expect_success(out2, &av2);
            }
            UsimOutcome::MacFailure => prop_assert!(false, "MAC failure on a genuine AUTN"),
        }
    }

    /// An AUTS under a different RAND, or with any bit changed, is refused and never resets the counter.
    #[test]
    fn forged_auts_rejected(
        k in any::<[u8; 16]>(), opc in any::<[u8; 16]>(), rand in any::<[u8; 16]>(),
        sqn_ms in 0u64..1 << 48, bit in 0usize..112,
    ) {
        let m = milenage(k, opc);
        let cfg = SqnConfig::default();
        let auts = aka::resync::build_auts(&m, &Rand(rand), Sqn::new(sqn_ms).unwrap());
        let mut b = auts.0;
        b[bit / 8] ^= 1 << (bit % 8);
        let last = HomeSqn(Sqn::new(12345).unwrap());
        prop_assert_eq!(
            home_resync(&m, &cfg, last, &Rand(rand), &aka::Auts(b)),
            Err(AkaError::MacSMismatch)
        );
    }

    /// Any modified AUTN bit in the SQN/AMF/MAC fields is a MAC failure and leaves the UE state alone.
    #[test]
    fn tampered_autn_is_mac_failure(
        k in any::<[u8; 16]>(), opc in any::<[u8; 16]>(), rand in any::<[u8; 16]>(), bit in 0usize..128,
    ) {
        let m = milenage(k, opc);
        let cfg = SqnConfig::default();
        let mut home = Home { cfg, last: HomeSqn::default() };
        let av = home.vector(&m, rand, Amf([0x80, 0]));
        let mut autn = av.autn;
        autn.0[bit / 8] ^= 1 << (bit % 8);
        let mut ue = UeSqnState::new(&cfg).unwrap();
        let before = ue.clone();
        let out = authenticate(&m, &cfg, &mut ue, &av.rand, &autn, None).unwrap();
        prop_assert_eq!(out, UsimOutcome::MacFailure);
        prop_assert_eq!(ue, before);
    }

    /// AKAv1-MD5 with RES bytes that include 0x00: the response equals a straightforward computation
    /// over the raw bytes, for every qop form.
    #[test]
    fn akav1_response_with_zero_bytes(
        mut res in any::<[u8; 8]>(), zeros in proptest::collection::vec(0usize..8, 1..4),
        user in "[a-z]{1,12}@[a-z]{1,8}\\.test", cnonce in "[0-9a-f]{8,16}", nc in 1u32..1000,
        body in proptest::collection::vec(any::<u8>(), 0..64), qop_kind in 0u8..3,
    ) {
        for z in zeros { res[z] = 0; }
        let realm = "ims.test";
        let nonce = "bm9uY2U=";
        let uri = "sip:ims.test";
        let nc = format!("{nc:08x}");
        let qop = match qop_kind {
            0 => None,
            1 => Some(QopParams { qop: Qop::Auth, nc: &nc, cnonce: &cnonce }),
            _ => Some(QopParams { qop: Qop::AuthInt, nc: &nc, cnonce: &cnonce }),
        };
        let input = DigestInput { nonce, method: "REGISTER", uri, qop, body: &body };
        let ha1 = digest::ha1_akav1(&user, realm, &Res::from_bytes(res));
        let got = digest::response(&ha1, &input).unwrap();

        // independent computation
        let h = |d: &[u8]| hex::encode(Md5::digest(d));
        let mut a1 = format!("{user}:{realm}:").into_bytes();
        a1.extend_from_slice(&res);
        let ha1_hex = h(&a1);
        let a2 = match qop_kind {
            2 => format!("REGISTER:{uri}:{}", h(&body)),
            _ => format!("REGISTER:{uri}"),
        };
        let ha2_hex = h(a2.as_bytes());
        let expected = match qop_kind {
            0 => h(format!("{ha1_hex}:{nonce}:{ha2_hex}").as_bytes()),
            1 => h(format!("{ha1_hex}:{nonce}:{nc}:{cnonce}:auth:{ha2_hex}").as_bytes()),
            _ => h(format!("{ha1_hex}:{nonce}:{nc}:{cnonce}:auth-int:{ha2_hex}").as_bytes()),
        };
        prop_assert_eq!(&got, &expected);
        prop_assert!(digest::verify_response(&ha1, &input, &expected).unwrap());
        // rspauth = the same with an empty method
        let a2r = match qop_kind { 2 => format!(":{uri}:{}", h(&body)), _ => format!(":{uri}") };
        let ha2r = h(a2r.as_bytes());
        let rsp = match qop_kind {
            0 => h(format!("{ha1_hex}:{nonce}:{ha2r}").as_bytes()),
            1 => h(format!("{ha1_hex}:{nonce}:{nc}:{cnonce}:auth:{ha2r}").as_bytes()),
            _ => h(format!("{ha1_hex}:{nonce}:{nc}:{cnonce}:auth-int:{ha2r}").as_bytes()),
        };
        prop_assert_eq!(digest::rspauth(&ha1, &input).unwrap(), rsp);
        // a RES differing in one byte gives a different response that does not verify
        let mut other = res;
        other[0] ^= 1;
        let ha1b = digest::ha1_akav1(&user, realm, &Res::from_bytes(other));
        prop_assert!(!digest::verify_response(&ha1b, &input, &expected).unwrap());
    }
}

/// HMAC-MD5 written out from RFC 2104, independent of the `hmac` crate.
fn hmac_md5(key: &[u8], msg: &[u8]) -> [u8; 16] {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..16].copy_from_slice(&Md5::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let ipad: Vec<u8> = k.iter().map(|b| b ^ 0x36).collect();
    let opad: Vec<u8> = k.iter().map(|b| b ^ 0x5c).collect();
    let inner = Md5::digest([ipad.as_slice(), msg].concat());
    Md5::digest([opad.as_slice(), inner.as_slice()].concat()).into()
}

proptest! {
    /// AKAv2-MD5 (RFC 4169 §3): password = base64(HMAC-MD5(RES‖IK‖CK, "http-digest-akav2-password")).
    #[test]
    fn akav2_password_and_ha1(res in any::<[u8; 8]>(), ik in any::<[u8; 16]>(), ck in any::<[u8; 16]>()) {
        use base64::Engine;
        let key = [res.as_slice(), &ik, &ck].concat();
        let pw = base64::engine::general_purpose::STANDARD
            .encode(hmac_md5(&key, b"http-digest-akav2-password"));
        let (r, i, c) = (Res::from_bytes(res), aka::Ik::from_bytes(ik), aka::Ck::from_bytes(ck));
        let got = digest::akav2_password(&r, &i, &c);
        prop_assert_eq!(got.as_slice(), pw.as_bytes());
        let expected = hex::encode(Md5::digest(format!("bob@ims.test:ims.test:{pw}").as_bytes()));
        prop_assert_eq!(digest::ha1_akav2("bob@ims.test", "ims.test", &r, &i, &c).expose_hex(), expected);
    }
}
