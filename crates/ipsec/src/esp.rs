//! ESP in transport mode (RFC 4303) with the algorithms of TS 33.203 §6.3 / §7.2.
//!
//! Packet layout (RFC 4303 §2, CBC ciphers carry their IV at the start of the payload, RFC 3602
//! §3 / RFC 2451 §3):
//!
//! ```text
//! SPI (4) | Sequence Number (4) | IV (0/8/16) | E( payload | padding | pad len | next hdr ) | ICV (12)
//! ```
//!
//! * Integrity: `hmac-md5-96` (RFC 2403), `hmac-sha-1-96` (RFC 2404) — HMAC over SPI … end of
//!   ciphertext, truncated to 96 bits (RFC 4303 §2.8).
//! * Encryption: `null` (RFC 2410), `aes-cbc` (RFC 3602, 128-bit key, 16-byte IV),
//!   `des-ede3-cbc` (RFC 2451, 192-bit key, 8-byte IV); random IV per packet.
//! * Padding (RFC 4303 §2.4): the plaintext ends on the cipher block (4 bytes for null); padding
//!   bytes are 1, 2, 3, … and are checked on receipt.
//! * Sequence numbers (RFC 4303 §3.3.3): the first packet carries 1; the counter never wraps — after
//!   2^32−1 the SA returns [`IpsecError::SeqOverflow`] and must be replaced.
//! * Inbound (RFC 4303 §3.4): SPI, replay check, ICV in constant time **before** decryption, then
//!   decryption and padding check; the replay window moves only after all of that succeeded.

use aes::Aes128;
use cbc::cipher::block_padding::NoPadding;
use cbc::cipher::{BlockDecryptMut, BlockEncryptMut, InnerIvInit, KeyInit};
use des::TdesEde3;
use hmac::{Hmac, Mac};
use md5::Md5;
use rand::RngCore;
use sha1::Sha1;
use subtle::ConstantTimeEq;

use aka::ipsec::{encryption_key, integrity_key, EncryptionAlg, EspKey, IntegrityAlg};
use aka::{Ck, Ik};

use crate::error::{IpsecError, Result};
use crate::replay::ReplayWindow;

/// IP protocol number of ESP.
pub const IPPROTO_ESP: u8 = 50;
/// SPI + sequence number.
pub const ESP_HEADER_LEN: usize = 8;
/// Truncated HMAC length (96 bits) for both integrity algorithms.
pub const ICV_LEN: usize = 12;
/// Largest plaintext payload accepted by [`OutboundSa::seal`] (fits an IPv4/IPv6 packet).
pub const MAX_PAYLOAD: usize = 65_535 - 60 - ESP_HEADER_LEN - 16 - 16 - 2 - ICV_LEN;
/// Largest ESP packet accepted by [`InboundSa::open`].
pub const MAX_ESP_PACKET: usize = 65_535;

/// The algorithms and keys of one SA. Keys are `aka::ipsec::EspKey` (zeroized, redacted `Debug`).
#[derive(Debug, Clone)]
pub struct SaKeys {
    /// Integrity algorithm (`alg`).
    pub integ: IntegrityAlg,
    /// IK_ESP.
    pub integ_key: EspKey,
    /// Encryption algorithm (`ealg`).
    pub encr: EncryptionAlg,
    /// CK_ESP (empty for null).
    pub encr_key: EspKey,
}

impl SaKeys {
    /// Derives both keys from the AKA IK/CK (TS 33.203 Annex I, via `aka::ipsec`).
    pub fn from_aka(integ: IntegrityAlg, ik: &Ik, encr: EncryptionAlg, ck: &Ck) -> Self {
        Self {
            integ,
            integ_key: integrity_key(integ, ik),
            encr,
            encr_key: encryption_key(encr, ck),
        }
    }
}

/// Keyed block cipher (key schedule computed once per SA; zeroized on drop by the RustCrypto crates).
enum Cipher {
    Null,
    Aes(Box<Aes128>),
    Tdes(Box<TdesEde3>),
}

impl Cipher {
    fn new(alg: EncryptionAlg, key: &EspKey) -> Result<Self> {
        let k = key.expose();
        let need = alg.key_len();
        if k.len() != need {
            return Err(IpsecError::BadKeyLength {
                alg: alg.name(),
                len: k.len(),
                need,
            });
        }
        let bad = |_| IpsecError::BadKeyLength {
            alg: alg.name(),
            len: k.len(),
            need,
        };
        Ok(match alg {
            EncryptionAlg::Null => Self::Null,
            EncryptionAlg::AesCbc => Self::Aes(Box::new(Aes128::new_from_slice(k).map_err(bad)?)),
            EncryptionAlg::DesEde3Cbc => {
                Self::Tdes(Box::new(TdesEde3::new_from_slice(k).map_err(bad)?))
            }
        })
    }

    /// IV length = block length for the CBC ciphers (RFC 3602 §3, RFC 2451 §3).
    fn iv_len(&self) -> usize {
        match self {
            Self::Null => 0,
            Self::Aes(_) => 16,
            Self::Tdes(_) => 8,
        }
    }

    /// The plaintext (payload ‖ padding ‖ pad len ‖ next header) must be a multiple of this
    /// (RFC 4303 §2.4: the cipher block, and at least 4-byte alignment).
    fn align(&self) -> usize {
        match self {
            Self::Null => 4,
            Self::Aes(_) => 16,
            Self::Tdes(_) => 8,
        }
    }

    fn encrypt(&self, iv: &[u8], buf: &mut [u8]) -> Result<()> {
        let len = buf.len();
        let bad = |_| IpsecError::BadCipherLength {
            len,
            block: self.align(),
        };
        match self {
            Self::Null => Ok(()),
            Self::Aes(c) => cbc::Encryptor::<&Aes128>::inner_iv_slice_init(c, iv)
                .map_err(bad)?
                .encrypt_padded_mut::<NoPadding>(buf, len)
                .map(|_| ())
                .map_err(|_| bad(cbc::cipher::InvalidLength)),
            Self::Tdes(c) => cbc::Encryptor::<&TdesEde3>::inner_iv_slice_init(c, iv)
                .map_err(bad)?
                .encrypt_padded_mut::<NoPadding>(buf, len)
                .map(|_| ())
                .map_err(|_| bad(cbc::cipher::InvalidLength)),
        }
    }

    fn decrypt(&self, iv: &[u8], buf: &mut [u8]) -> Result<()> {
        let len = buf.len();
        let bad = |_| IpsecError::BadCipherLength {
            len,
            block: self.align(),
        };
        match self {
            Self::Null => Ok(()),
            Self::Aes(c) => cbc::Decryptor::<&Aes128>::inner_iv_slice_init(c, iv)
                .map_err(bad)?
                .decrypt_padded_mut::<NoPadding>(buf)
                .map(|_| ())
                .map_err(|_| bad(cbc::cipher::InvalidLength)),
            Self::Tdes(c) => cbc::Decryptor::<&TdesEde3>::inner_iv_slice_init(c, iv)
                .map_err(bad)?
                .decrypt_padded_mut::<NoPadding>(buf)
                .map(|_| ())
                .map_err(|_| bad(cbc::cipher::InvalidLength)),
        }
    }
}

/// Keyed HMAC (inner/outer pads precomputed once per SA).
#[derive(Clone)]
enum Integrity {
    Md5(Hmac<Md5>),
    Sha1(Hmac<Sha1>),
}

impl Integrity {
    fn new(alg: IntegrityAlg, key: &EspKey) -> Result<Self> {
        let k = key.expose();
        let need = alg.key_len();
        if k.len() != need {
            return Err(IpsecError::BadKeyLength {
                alg: alg.name(),
                len: k.len(),
                need,
            });
        }
        let bad = |_| IpsecError::BadKeyLength {
            alg: alg.name(),
            len: k.len(),
            need,
        };
        Ok(match alg {
            IntegrityAlg::HmacMd5_96 => {
                Self::Md5(<Hmac<Md5> as KeyInitMac>::new_from_slice(k).map_err(bad)?)
            }
            IntegrityAlg::HmacSha1_96 => {
                Self::Sha1(<Hmac<Sha1> as KeyInitMac>::new_from_slice(k).map_err(bad)?)
            }
        })
    }

    /// HMAC over `data`, truncated to 96 bits (RFC 2403 §3 / RFC 2404 §3).
    fn icv(&self, data: &[u8]) -> [u8; ICV_LEN] {
        let mut out = [0u8; ICV_LEN];
        match self {
            Self::Md5(m) => {
                let mut m = m.clone();
                m.update(data);
                out.copy_from_slice(&m.finalize().into_bytes()[..ICV_LEN]);
            }
            Self::Sha1(m) => {
                let mut m = m.clone();
                m.update(data);
                out.copy_from_slice(&m.finalize().into_bytes()[..ICV_LEN]);
            }
        }
        out
    }
}

use hmac::digest::KeyInit as KeyInitMac;

/// Outbound SA: seals transport-layer segments into ESP packets. Not `Clone`: two copies would
/// send the same sequence numbers.
pub struct OutboundSa {
    spi: u32,
    /// Last sequence number sent (0 = none yet).
    seq: u32,
    integ: IntegrityAlg,
    encr: EncryptionAlg,
    cipher: Cipher,
    mac: Integrity,
}

impl core::fmt::Debug for OutboundSa {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("OutboundSa")
            .field("spi", &format_args!("{:#010x}", self.spi))
            .field("seq", &self.seq)
            .field("integ", &self.integ)
            .field("encr", &self.encr)
            .finish_non_exhaustive()
    }
}

impl OutboundSa {
    /// A new SA; the first sealed packet carries sequence number 1.
    pub fn new(spi: u32, keys: &SaKeys) -> Result<Self> {
        check_spi(spi)?;
        Ok(Self {
            spi,
            seq: 0,
            integ: keys.integ,
            encr: keys.encr,
            cipher: Cipher::new(keys.encr, &keys.encr_key)?,
            mac: Integrity::new(keys.integ, &keys.integ_key)?,
        })
    }

    /// The SPI written in every packet (the peer's inbound SPI).
    pub fn spi(&self) -> u32 {
        self.spi
    }

    /// Last sequence number sent (0 before the first packet).
    pub fn last_seq(&self) -> u32 {
        self.seq
    }

    /// Integrity algorithm.
    pub fn integ(&self) -> IntegrityAlg {
        self.integ
    }

    /// Encryption algorithm.
    pub fn encr(&self) -> EncryptionAlg {
        self.encr
    }

    /// Exact length of the ESP packet [`seal`](Self::seal) produces for a payload of `len` bytes.
    pub fn sealed_len(&self, len: usize) -> usize {
        let align = self.cipher.align();
        ESP_HEADER_LEN + self.cipher.iv_len() + (len + 2).div_ceil(align) * align + ICV_LEN
    }

    /// Seals `payload` (a UDP/TCP segment; `next_header` = its IP protocol number, RFC 4303 §2.6)
    /// into an ESP packet written to `out` (cleared first). Uses a fresh random IV.
    pub fn seal(&mut self, next_header: u8, payload: &[u8], out: &mut Vec<u8>) -> Result<()> {
        let mut iv = [0u8; 16];
        let iv_len = self.cipher.iv_len();
        rand::thread_rng().fill_bytes(&mut iv[..iv_len]);
        self.seal_with_iv(next_header, payload, &iv[..iv_len], out)
    }

    /// [`seal`](Self::seal) with a caller-chosen IV (known-answer tests). `iv` must have the
    /// cipher's IV length; a CBC IV must be unpredictable (RFC 3602 §3), so use `seal` in production.
    pub fn seal_with_iv(
        &mut self,
        next_header: u8,
        payload: &[u8],
        iv: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<()> {
        if payload.len() > MAX_PAYLOAD {
            return Err(IpsecError::TooLarge {
                what: "ESP payload",
                len: payload.len(),
                limit: MAX_PAYLOAD,
            });
        }
        let iv_len = self.cipher.iv_len();
        if iv.len() != iv_len {
            return Err(IpsecError::BadKeyLength {
                alg: "IV",
                len: iv.len(),
                need: iv_len,
            });
        }
        let seq = self
            .seq
            .checked_add(1)
            .ok_or(IpsecError::SeqOverflow { spi: self.spi })?;
        let align = self.cipher.align();
        let plain_len = (payload.len() + 2).div_ceil(align) * align;
        let pad_len = plain_len - payload.len() - 2; // < align ≤ 16

        out.clear();
        out.reserve(ESP_HEADER_LEN + iv_len + plain_len + ICV_LEN);
        out.extend_from_slice(&self.spi.to_be_bytes());
        out.extend_from_slice(&seq.to_be_bytes());
        out.extend_from_slice(iv);
        let start = out.len();
        out.extend_from_slice(payload);
        // Default padding 1, 2, 3, … (RFC 4303 §2.4).
        out.extend((1..=pad_len).map(|i| i as u8));
        out.push(pad_len as u8);
        out.push(next_header);
        self.cipher.encrypt(iv, &mut out[start..])?;
        let icv = self.mac.icv(out);
        out.extend_from_slice(&icv);
        self.seq = seq;
        Ok(())
    }
}

/// What [`InboundSa::open`] found besides the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Opened {
    /// Next Header (IP protocol of the payload; 59 = dummy packet, RFC 4303 §2.6 — discard it).
    pub next_header: u8,
    /// The packet's sequence number.
    pub seq: u32,
}

/// Inbound SA: authenticates, replay-checks and decrypts ESP packets. Not `Clone`: two windows
/// would each accept the same packet once.
pub struct InboundSa {
    spi: u32,
    integ: IntegrityAlg,
    encr: EncryptionAlg,
    cipher: Cipher,
    mac: Integrity,
    replay: ReplayWindow,
}

impl core::fmt::Debug for InboundSa {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("InboundSa")
            .field("spi", &format_args!("{:#010x}", self.spi))
            .field("integ", &self.integ)
            .field("encr", &self.encr)
            .field("replay_top", &self.replay.top())
            .finish_non_exhaustive()
    }
}

impl InboundSa {
    /// A new SA for packets carrying `spi` (our own, allocated SPI).
    pub fn new(spi: u32, keys: &SaKeys) -> Result<Self> {
        check_spi(spi)?;
        Ok(Self {
            spi,
            integ: keys.integ,
            encr: keys.encr,
            cipher: Cipher::new(keys.encr, &keys.encr_key)?,
            mac: Integrity::new(keys.integ, &keys.integ_key)?,
            replay: ReplayWindow::new(),
        })
    }

    /// The SPI this SA receives.
    pub fn spi(&self) -> u32 {
        self.spi
    }

    /// Integrity algorithm.
    pub fn integ(&self) -> IntegrityAlg {
        self.integ
    }

    /// Encryption algorithm.
    pub fn encr(&self) -> EncryptionAlg {
        self.encr
    }

    /// Highest sequence number accepted so far.
    pub fn highest_seq(&self) -> u32 {
        self.replay.top()
    }

    /// Opens the ESP packet `packet` (from the SPI field on) and writes the payload (the inner
    /// UDP/TCP segment) to `out` (cleared first). On any error `out` holds nothing meaningful and
    /// the SA state (replay window) is unchanged.
    pub fn open(&mut self, packet: &[u8], out: &mut Vec<u8>) -> Result<Opened> {
        self.open_with(packet, out, |_, _| true)
    }

    /// [`open`](Self::open) with an inbound policy check (RFC 4301 §5.2): `accept` sees the
    /// authenticated, decrypted payload; if it returns false the packet is dropped with
    /// [`IpsecError::PolicyMismatch`] and the replay window does not move.
    pub fn open_with(
        &mut self,
        packet: &[u8],
        out: &mut Vec<u8>,
        accept: impl FnOnce(&Opened, &[u8]) -> bool,
    ) -> Result<Opened> {
        out.clear();
        if packet.len() > MAX_ESP_PACKET {
            return Err(IpsecError::TooLarge {
                what: "ESP packet",
                len: packet.len(),
                limit: MAX_ESP_PACKET,
            });
        }
        let iv_len = self.cipher.iv_len();
        let align = self.cipher.align();
        // The smallest packet: header, IV, one aligned block holding pad len + next header, ICV.
        let min = ESP_HEADER_LEN + iv_len + align + ICV_LEN;
        let (header, rest) = split(packet, ESP_HEADER_LEN, "ESP packet", min)?;
        let spi = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
        if spi != self.spi {
            return Err(IpsecError::UnknownSpi { spi });
        }
        let seq = u32::from_be_bytes([header[4], header[5], header[6], header[7]]);
        if rest.len() < iv_len + align + ICV_LEN {
            return Err(IpsecError::Truncated {
                what: "ESP packet",
                len: packet.len(),
                need: min,
            });
        }
        // Cheap duplicate rejection first (RFC 4303 §3.4.3), window not yet updated.
        self.replay.check(spi, seq)?;

        // ICV over everything but the ICV, compared in constant time, before decrypting (§3.4.4).
        let icv_at = packet.len() - ICV_LEN;
        let (authenticated, icv) = packet.split_at(icv_at);
        let expected = self.mac.icv(authenticated);
        if !bool::from(expected.ct_eq(icv)) {
            return Err(IpsecError::AuthFailed { spi });
        }

        let (iv, ciphertext) = rest[..rest.len() - ICV_LEN].split_at(iv_len);
        if ciphertext.len() % align != 0 && !matches!(self.cipher, Cipher::Null) {
            return Err(IpsecError::BadCipherLength {
                len: ciphertext.len(),
                block: align,
            });
        }
        out.extend_from_slice(ciphertext);
        self.cipher.decrypt(iv, out)?;

        let n = out.len();
        let (next_header, pad_len) = match out.get(n.wrapping_sub(2)..) {
            Some([p, nh]) => (*nh, usize::from(*p)),
            _ => return Err(IpsecError::BadPadding),
        };
        let payload_len = n.checked_sub(2 + pad_len).ok_or(IpsecError::BadPadding)?;
        let padding = &out[payload_len..n - 2];
        if !padding
            .iter()
            .enumerate()
            .all(|(i, b)| usize::from(*b) == i + 1)
        {
            out.clear();
            return Err(IpsecError::BadPadding);
        }
        out.truncate(payload_len);
        let opened = Opened { next_header, seq };
        if !accept(&opened, out) {
            out.clear();
            return Err(IpsecError::PolicyMismatch { spi });
        }
        self.replay.update(spi, seq)?;
        Ok(opened)
    }
}

/// Reads the SPI of an ESP packet without any other check (to find the inbound SA).
pub fn peek_spi(packet: &[u8]) -> Result<u32> {
    match packet.get(..4) {
        Some(&[a, b, c, d]) => Ok(u32::from_be_bytes([a, b, c, d])),
        _ => Err(IpsecError::Truncated {
            what: "ESP header",
            len: packet.len(),
            need: ESP_HEADER_LEN,
        }),
    }
}

/// SPIs 0–255 are reserved by IANA (RFC 4303 §2.1).
pub(crate) fn check_spi(spi: u32) -> Result<()> {
    if spi < 256 {
        Err(IpsecError::ReservedSpi(spi))
    } else {
        Ok(())
    }
}

fn split<'a>(
    b: &'a [u8],
    at: usize,
    what: &'static str,
    need: usize,
) -> Result<(&'a [u8], &'a [u8])> {
    if b.len() < at {
        return Err(IpsecError::Truncated {
            what,
            len: b.len(),
            need,
        });
    }
    Ok(b.split_at(at))
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn keys(integ: IntegrityAlg, encr: EncryptionAlg) -> SaKeys {
        let ik = Ik::from_hex("0102030405060708090a0b0c0d0e0f10").unwrap();
        let ck = Ck::from_hex("f0e0d0c0b0a090807060504030201000").unwrap();
        SaKeys::from_aka(integ, &ik, encr, &ck)
    }

    const ALL: [(IntegrityAlg, EncryptionAlg); 6] = [
        (IntegrityAlg::HmacMd5_96, EncryptionAlg::Null),
        (IntegrityAlg::HmacMd5_96, EncryptionAlg::AesCbc),
        (IntegrityAlg::HmacMd5_96, EncryptionAlg::DesEde3Cbc),
        (IntegrityAlg::HmacSha1_96, EncryptionAlg::Null),
        (IntegrityAlg::HmacSha1_96, EncryptionAlg::AesCbc),
        (IntegrityAlg::HmacSha1_96, EncryptionAlg::DesEde3Cbc),
    ];

    #[test]
    fn roundtrip_all_pairs_all_lengths() {
        for (i, e) in ALL {
            let k = keys(i, e);
            let mut tx = OutboundSa::new(0x1000, &k).unwrap();
            let mut rx = InboundSa::new(0x1000, &k).unwrap();
            let (mut pkt, mut out) = (Vec::new(), Vec::new());
            for len in 0..70usize {
                let payload: Vec<u8> = (0..len).map(|x| (x * 7) as u8).collect();
                tx.seal(17, &payload, &mut pkt).unwrap();
                assert_eq!(pkt.len(), tx.sealed_len(len));
                assert_eq!(&pkt[..4], &0x1000u32.to_be_bytes());
                assert_eq!(
                    &pkt[4..8],
                    &(len as u32 + 1).to_be_bytes(),
                    "seq starts at 1"
                );
                let body = pkt.len() - ESP_HEADER_LEN - ICV_LEN - tx.cipher.iv_len();
                assert_eq!(body % tx.cipher.align(), 0);
                if e != EncryptionAlg::Null && len >= 16 {
                    let at = ESP_HEADER_LEN + tx.cipher.iv_len();
                    assert_ne!(
                        &pkt[at..at + 16],
                        &payload[..16],
                        "payload must be encrypted"
                    );
                }
                let o = rx.open(&pkt, &mut out).unwrap();
                assert_eq!(
                    o,
                    Opened {
                        next_header: 17,
                        seq: len as u32 + 1
                    }
                );
                assert_eq!(out, payload, "{i:?}/{e:?} len {len}");
            }
        }
    }

    #[test]
    fn random_iv_differs() {
        let k = keys(IntegrityAlg::HmacSha1_96, EncryptionAlg::AesCbc);
        let mut tx = OutboundSa::new(0x1000, &k).unwrap();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        tx.seal(6, b"same", &mut a).unwrap();
        tx.seal(6, b"same", &mut b).unwrap();
        assert_ne!(a[8..24], b[8..24]);
    }

    #[test]
    fn tamper_every_byte_is_rejected_and_window_unchanged() {
        for (i, e) in ALL {
            let k = keys(i, e);
            let mut tx = OutboundSa::new(0x2000, &k).unwrap();
            let mut rx = InboundSa::new(0x2000, &k).unwrap();
            let (mut pkt, mut out) = (Vec::new(), Vec::new());
            tx.seal(17, b"INVITE sip:bob@example.com SIP/2.0\r\n", &mut pkt)
                .unwrap();
            for pos in 0..pkt.len() {
                let mut bad = pkt.clone();
                bad[pos] ^= 0x01;
                let err = rx.open(&bad, &mut out).unwrap_err();
                if pos < 4 {
                    assert!(matches!(err, IpsecError::UnknownSpi { .. }), "{err}");
                } else if pos < 8 && bad[4..8] == [0, 0, 0, 0] {
                    // seq 1 -> 0: rejected by the replay check before the ICV.
                    assert_eq!(
                        err,
                        IpsecError::Replay {
                            spi: 0x2000,
                            seq: 0
                        }
                    );
                } else {
                    assert_eq!(err, IpsecError::AuthFailed { spi: 0x2000 }, "byte {pos}");
                }
            }
            assert_eq!(rx.highest_seq(), 0, "forgeries must not move the window");
            rx.open(&pkt, &mut out).unwrap();
            assert_eq!(
                rx.open(&pkt, &mut out),
                Err(IpsecError::Replay {
                    spi: 0x2000,
                    seq: 1
                })
            );
        }
    }

    #[test]
    fn wrong_key_fails_auth() {
        let k = keys(IntegrityAlg::HmacSha1_96, EncryptionAlg::AesCbc);
        let mut other = k.clone();
        other.integ_key = integrity_key(
            IntegrityAlg::HmacSha1_96,
            &Ik::from_hex("ff02030405060708090a0b0c0d0e0f10").unwrap(),
        );
        let mut tx = OutboundSa::new(0x3000, &k).unwrap();
        let mut rx = InboundSa::new(0x3000, &other).unwrap();
        let (mut pkt, mut out) = (Vec::new(), Vec::new());
        tx.seal(17, b"x", &mut pkt).unwrap();
        assert_eq!(
            rx.open(&pkt, &mut out),
            Err(IpsecError::AuthFailed { spi: 0x3000 })
        );
    }

    #[test]
    fn bad_padding_detected_after_valid_icv() {
        // Build a packet whose ICV is right but whose padding is wrong (as a buggy peer would).
        let k = keys(IntegrityAlg::HmacMd5_96, EncryptionAlg::Null);
        let mac = Integrity::new(k.integ, &k.integ_key).unwrap();
        let mut rx = InboundSa::new(0x4000, &k).unwrap();
        let mut out = Vec::new();
        let mk = |body: &[u8]| {
            let mut p = Vec::new();
            p.extend_from_slice(&0x4000u32.to_be_bytes());
            p.extend_from_slice(&1u32.to_be_bytes());
            p.extend_from_slice(body);
            let icv = mac.icv(&p);
            p.extend_from_slice(&icv);
            p
        };
        // pad bytes 1,2,4 instead of 1,2,3
        assert_eq!(
            rx.open(&mk(b"abc\x01\x02\x04\x03\x11"), &mut out),
            Err(IpsecError::BadPadding)
        );
        // pad length larger than the plaintext
        assert_eq!(
            rx.open(&mk(b"ab\x09\x11"), &mut out),
            Err(IpsecError::BadPadding)
        );
        assert_eq!(rx.highest_seq(), 0);
        let o = rx.open(&mk(b"abc\x01\x02\x03\x03\x11"), &mut out).unwrap();
        assert_eq!((o.next_header, out.as_slice()), (0x11, &b"abc"[..]));
    }

    #[test]
    fn truncated_and_misaligned() {
        let k = keys(IntegrityAlg::HmacSha1_96, EncryptionAlg::AesCbc);
        let mut tx = OutboundSa::new(0x5000, &k).unwrap();
        let mut rx = InboundSa::new(0x5000, &k).unwrap();
        let (mut pkt, mut out) = (Vec::new(), Vec::new());
        tx.seal(17, b"hello, this is twenty", &mut pkt).unwrap();
        for n in 0..pkt.len() {
            let err = rx.open(&pkt[..n], &mut out).unwrap_err();
            assert!(
                matches!(
                    err,
                    IpsecError::Truncated { .. } | IpsecError::AuthFailed { .. }
                ),
                "{n}: {err}"
            );
        }
        // Valid ICV over a ciphertext that is not whole blocks.
        let mac = Integrity::new(k.integ, &k.integ_key).unwrap();
        let mut p = pkt[..pkt.len() - ICV_LEN - 1].to_vec();
        let icv = mac.icv(&p);
        p.extend_from_slice(&icv);
        assert!(matches!(
            rx.open(&p, &mut out),
            Err(IpsecError::BadCipherLength { .. })
        ));
    }

    #[test]
    fn sequence_number_never_wraps() {
        let k = keys(IntegrityAlg::HmacMd5_96, EncryptionAlg::Null);
        let mut tx = OutboundSa::new(0x6000, &k).unwrap();
        tx.seq = u32::MAX - 1;
        let mut pkt = Vec::new();
        tx.seal(17, b"last", &mut pkt).unwrap();
        assert_eq!(&pkt[4..8], &u32::MAX.to_be_bytes());
        assert_eq!(
            tx.seal(17, b"x", &mut pkt),
            Err(IpsecError::SeqOverflow { spi: 0x6000 })
        );
        assert_eq!(tx.last_seq(), u32::MAX);
    }

    #[test]
    fn misuse_errors() {
        let mut k = keys(IntegrityAlg::HmacSha1_96, EncryptionAlg::AesCbc);
        assert_eq!(
            OutboundSa::new(255, &k).unwrap_err(),
            IpsecError::ReservedSpi(255)
        );
        assert_eq!(
            InboundSa::new(0, &k).unwrap_err(),
            IpsecError::ReservedSpi(0)
        );
        k.integ = IntegrityAlg::HmacMd5_96; // 20-byte key for a 16-byte algorithm
        assert!(matches!(
            OutboundSa::new(256, &k).unwrap_err(),
            IpsecError::BadKeyLength {
                need: 16,
                len: 20,
                ..
            }
        ));
        let dbg = format!(
            "{:?}",
            InboundSa::new(
                0x1234,
                &keys(IntegrityAlg::HmacSha1_96, EncryptionAlg::AesCbc)
            )
            .unwrap()
        );
        assert!(dbg.contains("0x00001234") && !dbg.contains("f0e0"), "{dbg}");
    }

    #[test]
    fn window_out_of_order_delivery() {
        let k = keys(IntegrityAlg::HmacSha1_96, EncryptionAlg::DesEde3Cbc);
        let mut tx = OutboundSa::new(0x7000, &k).unwrap();
        let mut rx = InboundSa::new(0x7000, &k).unwrap();
        let pkts: Vec<Vec<u8>> = (0..10)
            .map(|_| {
                let mut p = Vec::new();
                tx.seal(6, b"seg", &mut p).unwrap();
                p
            })
            .collect();
        let mut out = Vec::new();
        for idx in [9usize, 0, 5, 3, 8, 1, 2, 4, 6, 7] {
            assert_eq!(rx.open(&pkts[idx], &mut out).unwrap().seq, idx as u32 + 1);
        }
        for p in &pkts {
            assert!(matches!(
                rx.open(p, &mut out),
                Err(IpsecError::Replay { .. })
            ));
        }
    }
}
