//! The four SAs of one IMS security association set (TS 33.203 §7.1), seen from one host.
//!
//! The UE picks spi-c/spi-s and port-c/port-s for itself, the P-CSCF picks its own; then:
//!
//! * UE port-c → P-CSCF port-s, SPI = P-CSCF spi-s (requests from the UE, responses from the P-CSCF
//!   come back P-CSCF port-s → UE port-c with SPI = UE spi-c);
//! * P-CSCF port-c → UE port-s, SPI = UE spi-s (requests to the UE, responses back
//!   UE port-s → P-CSCF port-c with SPI = P-CSCF spi-c).
//!
//! So from either side: outbound `local.port_c → remote.port_s` uses `remote.spi_s`, outbound
//! `local.port_s → remote.port_c` uses `remote.spi_c`, and inbound SPIs are `local.spi_c`
//! (from `remote.port_s` to `local.port_c`) and `local.spi_s` (from `remote.port_c` to
//! `local.port_s`). Each SA carries both UDP and TCP.

use std::net::{IpAddr, SocketAddr};

use crate::error::{IpsecError, Result};
use crate::esp::{InboundSa, OutboundSa, SaKeys};
use crate::keylog::EspSaRecord;
use crate::table::{SaTable, Selector};

/// One side's SPIs and protected ports (the `spi-c`, `spi-s`, `port-c`, `port-s` parameters of
/// RFC 3329 / TS 33.203 `ipsec-3gpp`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint {
    /// Address.
    pub addr: IpAddr,
    /// Protected client port.
    pub port_c: u16,
    /// Protected server port.
    pub port_s: u16,
    /// SPI of the inbound SA on port-c.
    pub spi_c: u32,
    /// SPI of the inbound SA on port-s.
    pub spi_s: u32,
}

/// A set of four SAs between `local` and `remote`, with shared keys (TS 33.203 §7.1: all four
/// use IK_ESP / CK_ESP from the same AKA run).
#[derive(Debug, Clone)]
pub struct ImsSaSet {
    /// This host.
    pub local: Endpoint,
    /// The peer.
    pub remote: Endpoint,
    /// Algorithms and keys.
    pub keys: SaKeys,
}

impl ImsSaSet {
    fn outbound(&self) -> [(Selector, u32); 2] {
        let (l, r) = (&self.local, &self.remote);
        [
            (
                Selector::new(
                    SocketAddr::new(l.addr, l.port_c),
                    SocketAddr::new(r.addr, r.port_s),
                    None,
                ),
                r.spi_s,
            ),
            (
                Selector::new(
                    SocketAddr::new(l.addr, l.port_s),
                    SocketAddr::new(r.addr, r.port_c),
                    None,
                ),
                r.spi_c,
            ),
        ]
    }

    fn inbound(&self) -> [(Selector, u32); 2] {
        let (l, r) = (&self.local, &self.remote);
        [
            (
                Selector::new(
                    SocketAddr::new(l.addr, l.port_c),
                    SocketAddr::new(r.addr, r.port_s),
                    None,
                ),
                l.spi_c,
            ),
            (
                Selector::new(
                    SocketAddr::new(l.addr, l.port_s),
                    SocketAddr::new(r.addr, r.port_c),
                    None,
                ),
                l.spi_s,
            ),
        ]
    }

    /// Installs the two inbound and two outbound SAs. All or nothing: fails with
    /// [`IpsecError::SpiInUse`] (nothing installed) if an inbound SPI is taken. Outbound SAs for
    /// the same selectors are replaced (TS 33.203 §7.4: the new set takes over outbound traffic).
    pub fn install(&self, table: &mut SaTable) -> Result<()> {
        if self.local.spi_c == self.local.spi_s {
            return Err(IpsecError::SpiInUse(self.local.spi_c));
        }
        for (_, spi) in self.inbound() {
            if table.inbound(spi).is_some() {
                return Err(IpsecError::SpiInUse(spi));
            }
        }
        let mut inbound = Vec::with_capacity(2);
        for (sel, spi) in self.inbound() {
            inbound.push((InboundSa::new(spi, &self.keys)?, sel));
        }
        let mut outbound = Vec::with_capacity(2);
        for (sel, spi) in self.outbound() {
            outbound.push((sel, OutboundSa::new(spi, &self.keys)?));
        }
        for (sa, sel) in inbound {
            table.insert_inbound(sa, Some(sel))?;
        }
        for (sel, sa) in outbound {
            table.insert_outbound(sel, sa);
        }
        Ok(())
    }

    /// Removes the inbound SAs and the outbound SAs still carrying this set's SPIs (a newer set
    /// that replaced the outbound selectors is left alone). Returns how many SAs were removed.
    pub fn remove(&self, table: &mut SaTable) -> usize {
        let mut n = 0;
        for (_, spi) in self.inbound() {
            n += usize::from(table.remove_inbound(spi).is_some());
        }
        for (sel, spi) in self.outbound() {
            if table.outbound_spi(&sel) == Some(spi) {
                n += usize::from(table.remove_outbound(&sel).is_some());
            }
        }
        n
    }

    /// The four SAs as Wireshark ESP SA records (for `--esp-keylog`).
    pub fn keylog_records(&self) -> [EspSaRecord<'_>; 4] {
        let rec = |src, dst, spi| EspSaRecord {
            src,
            dst,
            spi,
            encr: self.keys.encr,
            encr_key: &self.keys.encr_key,
            integ: self.keys.integ,
            integ_key: &self.keys.integ_key,
        };
        let (l, r) = (self.local.addr, self.remote.addr);
        [
            rec(l, r, self.remote.spi_s),
            rec(l, r, self.remote.spi_c),
            rec(r, l, self.local.spi_c),
            rec(r, l, self.local.spi_s),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aka::ipsec::{EncryptionAlg, IntegrityAlg};
    use aka::{Ck, Ik};

    fn set(ue_spis: (u32, u32), p_spis: (u32, u32)) -> (ImsSaSet, ImsSaSet) {
        let keys = SaKeys::from_aka(
            IntegrityAlg::HmacMd5_96,
            &Ik::from_hex("00112233445566778899aabbccddeeff").unwrap(),
            EncryptionAlg::DesEde3Cbc,
            &Ck::from_hex("ffeeddccbbaa99887766554433221100").unwrap(),
        );
        let ue = Endpoint {
            addr: "192.0.2.1".parse().unwrap(),
            port_c: 6000,
            port_s: 6001,
            spi_c: ue_spis.0,
            spi_s: ue_spis.1,
        };
        let p = Endpoint {
            addr: "192.0.2.2".parse().unwrap(),
            port_c: 5062,
            port_s: 5064,
            spi_c: p_spis.0,
            spi_s: p_spis.1,
        };
        (
            ImsSaSet {
                local: ue,
                remote: p,
                keys: keys.clone(),
            },
            ImsSaSet {
                local: p,
                remote: ue,
                keys,
            },
        )
    }

    #[test]
    fn four_sas_carry_traffic_both_ways_on_both_port_pairs() {
        let (u, p) = set((1000, 1001), (2000, 2001));
        let (mut ut, mut pt) = (SaTable::new(), SaTable::new());
        u.install(&mut ut).unwrap();
        p.install(&mut pt).unwrap();
        assert_eq!((ut.len(), pt.len()), ((2, 2), (2, 2)));
        let a = |ip: IpAddr, port| SocketAddr::new(ip, port);
        let (ua, pa) = (u.local.addr, p.local.addr);
        let (mut esp, mut out) = (Vec::new(), Vec::new());
        // UE port-c -> P port-s uses P's spi-s; P answers port-s -> UE port-c with UE's spi-c.
        assert_eq!(
            ut.seal(a(ua, 6000), a(pa, 5064), 17, b"req", &mut esp)
                .unwrap(),
            2001
        );
        assert_eq!(pt.open(&esp, &mut out).unwrap().0, 2001);
        assert_eq!(
            pt.seal(a(pa, 5064), a(ua, 6000), 17, b"rsp", &mut esp)
                .unwrap(),
            1000
        );
        assert_eq!(ut.open(&esp, &mut out).unwrap().0, 1000);
        // P port-c -> UE port-s uses UE's spi-s; UE answers with P's spi-c.
        assert_eq!(
            pt.seal(a(pa, 5062), a(ua, 6001), 6, b"req", &mut esp)
                .unwrap(),
            1001
        );
        assert_eq!(ut.open(&esp, &mut out).unwrap().0, 1001);
        assert_eq!(
            ut.seal(a(ua, 6001), a(pa, 5062), 6, b"rsp", &mut esp)
                .unwrap(),
            2000
        );
        assert_eq!(pt.open(&esp, &mut out).unwrap().0, 2000);
        // Keylog records: the two directions, all four SPIs.
        let mut spis: Vec<u32> = u.keylog_records().iter().map(|r| r.spi).collect();
        spis.sort();
        assert_eq!(spis, vec![1000, 1001, 2000, 2001]);
    }

    #[test]
    fn install_is_all_or_nothing_and_remove_spares_newer_set() {
        let (old, _) = set((1000, 1001), (2000, 2001));
        let mut t = SaTable::new();
        old.install(&mut t).unwrap();
        // A set reusing an inbound SPI fails without installing anything.
        let (clash, _) = set((3000, 1001), (4000, 4001));
        assert_eq!(clash.install(&mut t), Err(IpsecError::SpiInUse(1001)));
        assert_eq!(t.len(), (2, 2));
        let (same, _) = set((5000, 5000), (4000, 4001));
        assert!(same.install(&mut t).is_err());
        // Re-registration: the new set takes over the outbound selectors…
        let (new, _) = set((3000, 3001), (4000, 4001));
        new.install(&mut t).unwrap();
        assert_eq!(t.len(), (4, 2));
        // …and retiring the old set removes only its inbound SAs.
        assert_eq!(old.remove(&mut t), 2);
        assert_eq!(t.len(), (2, 2));
        assert_eq!(new.remove(&mut t), 4);
        assert!(t.is_empty());
    }
}
