//! Wireshark's ESP SA table (`esp_sa` UAT file in a Wireshark profile directory), written for
//! `--esp-keylog FILE` so a capture of the protected Gm traffic can be decrypted and authenticated.
//!
//! One record per line, eight quoted, comma-separated fields in the order of Wireshark's
//! `packet-ipsec.c` UAT (Wireshark 4.0):
//!
//! ```text
//! "IPv4","<src>","<dst>","<spi>","<encryption algorithm>","<encryption key>","<authentication algorithm>","<authentication key>"
//! ```
//!
//! * protocol `IPv4` / `IPv6`; addresses as text; SPI as `0x` + 8 hex digits;
//! * algorithm names are Wireshark's value strings: `NULL`, `TripleDES-CBC [RFC2451]`,
//!   `AES-CBC [RFC3602]`; `HMAC-SHA-1-96 [RFC2404]`, `HMAC-MD5-96 [RFC2403]`;
//! * keys as `0x` + hex (an empty key for `NULL` encryption).
//!
//! The file holds live keys: it is created with mode 0600 and must never be enabled in production.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Mutex;

use aka::ipsec::{EncryptionAlg, EspKey, IntegrityAlg};

use crate::error::{IpsecError, Result};

/// Wireshark's name of an encryption algorithm (`esp_encryption_type_vals`).
pub fn wireshark_encryption_name(alg: EncryptionAlg) -> &'static str {
    match alg {
        EncryptionAlg::Null => "NULL",
        EncryptionAlg::DesEde3Cbc => "TripleDES-CBC [RFC2451]",
        EncryptionAlg::AesCbc => "AES-CBC [RFC3602]",
    }
}

/// Wireshark's name of an authentication algorithm (`esp_authentication_type_vals`).
pub fn wireshark_authentication_name(alg: IntegrityAlg) -> &'static str {
    match alg {
        IntegrityAlg::HmacSha1_96 => "HMAC-SHA-1-96 [RFC2404]",
        IntegrityAlg::HmacMd5_96 => "HMAC-MD5-96 [RFC2403]",
    }
}

/// One SA as Wireshark wants it (`src` → `dst` is the direction of the packets carrying `spi`).
#[derive(Debug, Clone, Copy)]
pub struct EspSaRecord<'a> {
    /// Source address of the packets.
    pub src: IpAddr,
    /// Destination address of the packets.
    pub dst: IpAddr,
    /// SPI in the packets.
    pub spi: u32,
    /// Encryption algorithm.
    pub encr: EncryptionAlg,
    /// Encryption key (empty for null).
    pub encr_key: &'a EspKey,
    /// Integrity algorithm.
    pub integ: IntegrityAlg,
    /// Integrity key.
    pub integ_key: &'a EspKey,
}

impl EspSaRecord<'_> {
    /// The UAT line (without the newline). Contains key material.
    pub fn to_line(&self) -> String {
        let proto = match self.src {
            IpAddr::V4(_) => "IPv4",
            IpAddr::V6(_) => "IPv6",
        };
        let key = |k: &EspKey| {
            if k.is_empty() {
                String::new()
            } else {
                format!("0x{}", k.expose_hex())
            }
        };
        format!(
            "\"{proto}\",\"{}\",\"{}\",\"0x{:08x}\",\"{}\",\"{}\",\"{}\",\"{}\"",
            self.src,
            self.dst,
            self.spi,
            wireshark_encryption_name(self.encr),
            key(self.encr_key),
            wireshark_authentication_name(self.integ),
            key(self.integ_key),
        )
    }
}

/// An append-only `esp_sa` file shared by the tasks that install SAs.
#[derive(Debug)]
pub struct Keylog {
    file: Mutex<File>,
}

impl Keylog {
    /// Opens (creating with mode 0600) `path` for appending.
    pub fn open(path: &Path) -> Result<Self> {
        let mut opts = OpenOptions::new();
        opts.create(true).append(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let file = opts
            .open(path)
            .map_err(|e| IpsecError::Keylog(format!("{}: {e}", path.display())))?;
        Ok(Self {
            file: Mutex::new(file),
        })
    }

    /// Appends one SA and flushes it to the file.
    pub fn write(&self, rec: &EspSaRecord<'_>) -> Result<()> {
        let mut line = rec.to_line();
        line.push('\n');
        let mut f = self
            .file
            .lock()
            .map_err(|_| IpsecError::Keylog("lock poisoned".into()))?;
        f.write_all(line.as_bytes())
            .and_then(|()| f.flush())
            .map_err(|e| IpsecError::Keylog(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aka::ipsec::{encryption_key, integrity_key};
    use aka::{Ck, Ik};

    #[test]
    fn line_format() {
        let ik = Ik::from_hex("000102030405060708090a0b0c0d0e0f").unwrap();
        let ck = Ck::from_hex("101112131415161718191a1b1c1d1e1f").unwrap();
        let ikey = integrity_key(IntegrityAlg::HmacSha1_96, &ik);
        let ekey = encryption_key(EncryptionAlg::AesCbc, &ck);
        let rec = EspSaRecord {
            src: "10.0.0.1".parse().unwrap(),
            dst: "10.0.0.2".parse().unwrap(),
            spi: 0x1234,
            encr: EncryptionAlg::AesCbc,
            encr_key: &ekey,
            integ: IntegrityAlg::HmacSha1_96,
            integ_key: &ikey,
        };
        assert_eq!(
            rec.to_line(),
            "\"IPv4\",\"10.0.0.1\",\"10.0.0.2\",\"0x00001234\",\"AES-CBC [RFC3602]\",\
             \"0x101112131415161718191a1b1c1d1e1f\",\"HMAC-SHA-1-96 [RFC2404]\",\
             \"0x000102030405060708090a0b0c0d0e0f00000000\""
        );
        let null = encryption_key(EncryptionAlg::Null, &ck);
        let md5 = integrity_key(IntegrityAlg::HmacMd5_96, &ik);
        let v6 = EspSaRecord {
            src: "2001:db8::1".parse().unwrap(),
            dst: "2001:db8::2".parse().unwrap(),
            encr: EncryptionAlg::Null,
            encr_key: &null,
            integ: IntegrityAlg::HmacMd5_96,
            integ_key: &md5,
            ..rec
        };
        assert_eq!(
            v6.to_line(),
            "\"IPv6\",\"2001:db8::1\",\"2001:db8::2\",\"0x00001234\",\"NULL\",\"\",\
             \"HMAC-MD5-96 [RFC2403]\",\"0x000102030405060708090a0b0c0d0e0f\""
        );
    }
}
