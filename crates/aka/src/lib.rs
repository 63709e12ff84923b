//! IMS-AKA cryptography, pure functions without I/O.
//!
//! * [`milenage`]: Milenage f1, f1*, f2..f5, f5* (TS 35.206) on AES-128.
//! * [`vector`]: authentication vectors RAND, XRES, CK, IK, AUTN (TS 33.102 §6.3.2).
//! * [`sqn`]: sequence number management, home side and UE side (TS 33.102 Annex C).
//! * [`usim`]: the UE/USIM side of AKA: AUTN check, RES or AUTS (TS 33.102 §6.3.3).
//! * [`resync`]: AUTS building and the home side's recovery of SQN_MS (TS 33.102 §6.3.3, §6.3.5).
//! * [`nonce`]: the SIP Digest AKA nonce, base64(RAND ‖ AUTN ‖ server data) (RFC 3310 §3.2).
//! * [`digest`]: HTTP Digest MD5 (RFC 2617), AKAv1-MD5 (RFC 3310), AKAv2-MD5 (RFC 4169).
//! * [`ipsec`]: IPsec SA keys from IK/CK (TS 33.203 Annex I).
//! * [`fuzzing`]: entry points of the fuzz targets.
//! * [`secret`]: zeroizing, constant-time-compared, redacted secret types.
//!
//! # Example: one registration, home side and UE side
//! ```
//! use aka::digest::{self, DigestInput, Qop, QopParams};
//! use aka::sqn::{HomeSqn, IndPolicy, SqnConfig, UeSqnState};
//! use aka::usim::{authenticate, UsimOutcome};
//! use aka::{Amf, AkaNonce, AuthVector, Milenage, Opc, K};
//!
//! let k = K::from_hex("465b5ce8b199b49faa5f0a2ee238a6bc")?;
//! let opc = Opc::from_hex("cd63cb71954a9f4e48a5994e37a02baf")?;
//! let m = Milenage::new(&k, &opc);
//! let cfg = SqnConfig::default();
//!
//! // HSS: next SQN from the stored state, then the vector; persist HomeSqn(sqn).
//! let sqn = cfg.next_sqn(HomeSqn::default(), IndPolicy::Cycle)?;
//! let av = AuthVector::generate_random(&m, sqn, Amf::from_hex("8000")?);
//! let nonce = av.sip_nonce();
//!
//! // UE: decode the nonce, run the USIM, answer with RES as the Digest password.
//! let challenge = AkaNonce::decode(&nonce)?;
//! let mut ue = UeSqnState::new(&cfg)?;
//! let UsimOutcome::Success { res, .. } =
//!     authenticate(&m, &cfg, &mut ue, &challenge.rand, &challenge.autn, None)?
//! else {
//!     panic!("fresh vector refused")
//! };
//! let input = DigestInput {
//!     nonce: &nonce,
//!     method: "REGISTER",
//!     uri: "sip:ims.test",
//!     qop: Some(QopParams { qop: Qop::Auth, nc: "00000001", cnonce: "c0ffee" }),
//!     body: b"",
//! };
//! let response = digest::response(&digest::ha1_akav1("alice@ims.test", "ims.test", &res), &input)?;
//!
//! // S-CSCF: HA1 from XRES, constant-time check.
//! let ha1 = digest::ha1_akav1("alice@ims.test", "ims.test", &av.xres);
//! assert!(digest::verify_response(&ha1, &input, &response)?);
//! # Ok::<(), aka::AkaError>(())
//! ```

pub mod digest;
mod error;
pub mod fuzzing;
pub mod hexparse;
pub mod ipsec;
pub mod milenage;
pub mod nonce;
pub mod resync;
pub mod secret;
pub mod sqn;
pub mod types;
pub mod usim;
pub mod vector;

pub use error::AkaError;
pub use milenage::{Milenage, MilenageOutput};
pub use nonce::AkaNonce;
pub use secret::{Ck, Ha1, Ik, Op, Opc, Res, K};
pub use types::{Ak, Amf, Autn, Auts, Mac, Rand, Sqn};
pub use vector::AuthVector;
