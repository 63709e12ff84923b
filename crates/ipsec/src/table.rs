//! The SA database (RFC 4301 §4.4.2): inbound SAs keyed by SPI, outbound SAs keyed by selector
//! (local/remote address, ports, protocol), with per-reason drop counters.
//!
//! In IMS (TS 33.203 §7.1) one SA covers both UDP and TCP between a port pair, so a selector's
//! protocol may be `None` (any); an exact-protocol SA wins over a wildcard one.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use crate::error::{IpsecError, Result};
use crate::esp::{peek_spi, InboundSa, Opened, OutboundSa};

/// Traffic selector, always written from *our* point of view (local = this host).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Selector {
    /// Our address.
    pub local: IpAddr,
    /// The peer's address.
    pub remote: IpAddr,
    /// Our port (port-s or port-c).
    pub local_port: u16,
    /// The peer's port.
    pub remote_port: u16,
    /// IP protocol (6 TCP, 17 UDP) or `None` for both.
    pub protocol: Option<u8>,
}

impl Selector {
    /// From socket addresses.
    pub fn new(local: SocketAddr, remote: SocketAddr, protocol: Option<u8>) -> Self {
        Self {
            local: local.ip(),
            remote: remote.ip(),
            local_port: local.port(),
            remote_port: remote.port(),
            protocol,
        }
    }

    /// Does a packet with these fields (our view) fall under this selector?
    pub fn matches(
        &self,
        local: IpAddr,
        remote: IpAddr,
        local_port: u16,
        remote_port: u16,
        protocol: u8,
    ) -> bool {
        self.local == local
            && self.remote == remote
            && self.local_port == local_port
            && self.remote_port == remote_port
            && self.protocol.is_none_or(|p| p == protocol)
    }
}

/// Packet counters (sealed/opened and drops by reason, see [`IpsecError::counter`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    /// Packets sealed.
    pub sealed: u64,
    /// Packets opened and accepted.
    pub opened: u64,
    /// Dropped: unknown SPI.
    pub unknown_spi: u64,
    /// Dropped: ICV mismatch (tampered / wrong key).
    pub auth_failed: u64,
    /// Dropped: replayed or too old.
    pub replay: u64,
    /// Dropped: bad padding or bad ciphertext length.
    pub bad_padding: u64,
    /// Dropped: truncated / oversized / malformed headers.
    pub malformed: u64,
    /// Dropped: inner packet not matching the SA's selector.
    pub policy_mismatch: u64,
    /// Not sent: no outbound SA for the selector.
    pub no_outbound_sa: u64,
    /// Not sent: sequence number exhausted.
    pub seq_overflow: u64,
}

impl Counters {
    /// Counts one failure.
    pub fn count(&mut self, e: &IpsecError) {
        let c = match e {
            IpsecError::UnknownSpi { .. } => &mut self.unknown_spi,
            IpsecError::AuthFailed { .. } => &mut self.auth_failed,
            IpsecError::Replay { .. } => &mut self.replay,
            IpsecError::BadPadding | IpsecError::BadCipherLength { .. } => &mut self.bad_padding,
            IpsecError::PolicyMismatch { .. } => &mut self.policy_mismatch,
            IpsecError::NoOutboundSa { .. } => &mut self.no_outbound_sa,
            IpsecError::SeqOverflow { .. } => &mut self.seq_overflow,
            _ => &mut self.malformed,
        };
        *c += 1;
    }
}

#[derive(Debug)]
struct InboundEntry {
    sa: InboundSa,
    selector: Option<Selector>,
}

/// SA database of one host.
#[derive(Debug, Default)]
pub struct SaTable {
    inbound: HashMap<u32, InboundEntry>,
    outbound: HashMap<Selector, OutboundSa>,
    counters: Counters,
}

impl SaTable {
    /// Empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Installs an inbound SA. With a selector, decrypted packets must match it (RFC 4301 §5.2
    /// inbound policy check) or are dropped with [`IpsecError::PolicyMismatch`].
    pub fn insert_inbound(&mut self, sa: InboundSa, selector: Option<Selector>) -> Result<()> {
        let spi = sa.spi();
        if self.inbound.contains_key(&spi) {
            return Err(IpsecError::SpiInUse(spi));
        }
        self.inbound.insert(spi, InboundEntry { sa, selector });
        Ok(())
    }

    /// Removes an inbound SA (release its SPI to the allocator afterwards).
    pub fn remove_inbound(&mut self, spi: u32) -> Option<InboundSa> {
        self.inbound.remove(&spi).map(|e| e.sa)
    }

    /// The inbound SA for an SPI.
    pub fn inbound(&self, spi: u32) -> Option<&InboundSa> {
        self.inbound.get(&spi).map(|e| &e.sa)
    }

    /// Installs (or replaces, returning the old one) the outbound SA for a selector.
    pub fn insert_outbound(&mut self, selector: Selector, sa: OutboundSa) -> Option<OutboundSa> {
        self.outbound.insert(selector, sa)
    }

    /// Removes the outbound SA of a selector.
    pub fn remove_outbound(&mut self, selector: &Selector) -> Option<OutboundSa> {
        self.outbound.remove(selector)
    }

    /// The SPI of the outbound SA installed for exactly this selector.
    pub fn outbound_spi(&self, selector: &Selector) -> Option<u32> {
        self.outbound.get(selector).map(OutboundSa::spi)
    }

    /// Number of inbound and outbound SAs.
    pub fn len(&self) -> (usize, usize) {
        (self.inbound.len(), self.outbound.len())
    }

    /// True when no SA is installed.
    pub fn is_empty(&self) -> bool {
        self.inbound.is_empty() && self.outbound.is_empty()
    }

    /// The counters.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// The outbound SA for a packet: exact protocol first, then a protocol wildcard.
    pub fn outbound_for(
        &mut self,
        local: SocketAddr,
        remote: SocketAddr,
        protocol: u8,
    ) -> Option<&mut OutboundSa> {
        let mut sel = Selector::new(local, remote, Some(protocol));
        if !self.outbound.contains_key(&sel) {
            sel.protocol = None;
        }
        self.outbound.get_mut(&sel)
    }

    /// Seals a transport segment from `local` to `remote` into ESP (`out`); returns the SPI used.
    /// Failures are counted.
    pub fn seal(
        &mut self,
        local: SocketAddr,
        remote: SocketAddr,
        protocol: u8,
        segment: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<u32> {
        let r = match self.outbound_for(local, remote, protocol) {
            Some(sa) => sa.seal(protocol, segment, out).map(|()| sa.spi()),
            None => Err(IpsecError::NoOutboundSa {
                local: local.ip(),
                remote: remote.ip(),
                local_port: local.port(),
                remote_port: remote.port(),
                protocol,
            }),
        };
        match &r {
            Ok(_) => self.counters.sealed += 1,
            Err(e) => self.counters.count(e),
        }
        r
    }

    /// Opens an ESP packet (from the SPI on) with the SA its SPI names; the payload goes to `out`.
    /// `check` receives the SA's selector (if any) and the opened payload and decides whether it
    /// conforms (inbound policy). Failures are counted.
    pub fn open_with(
        &mut self,
        esp: &[u8],
        out: &mut Vec<u8>,
        check: impl FnOnce(Option<&Selector>, &Opened, &[u8]) -> bool,
    ) -> Result<(u32, Opened)> {
        let r = self.open_inner(esp, out, check);
        match &r {
            Ok(_) => self.counters.opened += 1,
            Err(e) => {
                out.clear();
                self.counters.count(e)
            }
        }
        r
    }

    /// [`open_with`](Self::open_with) without a policy check.
    pub fn open(&mut self, esp: &[u8], out: &mut Vec<u8>) -> Result<(u32, Opened)> {
        self.open_with(esp, out, |_, _, _| true)
    }

    /// Counts a failure detected outside the table (e.g. a malformed outer IP header).
    pub fn count_error(&mut self, e: &IpsecError) {
        self.counters.count(e);
    }

    fn open_inner(
        &mut self,
        esp: &[u8],
        out: &mut Vec<u8>,
        check: impl FnOnce(Option<&Selector>, &Opened, &[u8]) -> bool,
    ) -> Result<(u32, Opened)> {
        let spi = peek_spi(esp)?;
        let entry = self
            .inbound
            .get_mut(&spi)
            .ok_or(IpsecError::UnknownSpi { spi })?;
        let selector = entry.selector;
        let opened = entry
            .sa
            .open_with(esp, out, |o, payload| check(selector.as_ref(), o, payload))?;
        Ok((spi, opened))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::esp::SaKeys;
    use aka::ipsec::{EncryptionAlg, IntegrityAlg};
    use aka::{Ck, Ik};

    fn keys() -> SaKeys {
        SaKeys::from_aka(
            IntegrityAlg::HmacSha1_96,
            &Ik::from_hex("00112233445566778899aabbccddeeff").unwrap(),
            EncryptionAlg::AesCbc,
            &Ck::from_hex("ffeeddccbbaa99887766554433221100").unwrap(),
        )
    }

    #[test]
    fn seal_open_counters_and_selectors() {
        let ue: SocketAddr = "10.0.0.1:5080".parse().unwrap();
        let pcscf: SocketAddr = "10.0.0.2:5064".parse().unwrap();
        let mut ue_tab = SaTable::new();
        let mut p_tab = SaTable::new();
        ue_tab.insert_outbound(
            Selector::new(ue, pcscf, None),
            OutboundSa::new(0x1111, &keys()).unwrap(),
        );
        p_tab
            .insert_inbound(
                InboundSa::new(0x1111, &keys()).unwrap(),
                Some(Selector::new(pcscf, ue, None)),
            )
            .unwrap();
        assert_eq!(
            p_tab.insert_inbound(InboundSa::new(0x1111, &keys()).unwrap(), None),
            Err(IpsecError::SpiInUse(0x1111))
        );
        let (mut esp, mut out) = (Vec::new(), Vec::new());
        assert_eq!(
            ue_tab.seal(ue, pcscf, 17, b"udp", &mut esp).unwrap(),
            0x1111
        );
        assert_eq!(ue_tab.seal(ue, pcscf, 6, b"tcp", &mut esp).unwrap(), 0x1111);
        let other: SocketAddr = "10.0.0.2:5060".parse().unwrap();
        assert!(matches!(
            ue_tab.seal(ue, other, 17, b"x", &mut esp),
            Err(IpsecError::NoOutboundSa {
                remote_port: 5060,
                ..
            })
        ));
        assert_eq!(ue_tab.counters().sealed, 2);
        assert_eq!(ue_tab.counters().no_outbound_sa, 1);

        let (spi, o) = p_tab.open(&esp, &mut out).unwrap();
        assert_eq!(
            (spi, o.next_header, out.as_slice()),
            (0x1111, 6, &b"tcp"[..])
        );
        assert!(p_tab.open(&esp, &mut out).is_err());
        ue_tab.seal(ue, pcscf, 17, b"fresh", &mut esp).unwrap(); // seq 3, not yet seen
        let mut bad = esp.clone();
        bad[20] ^= 0x80;
        assert!(p_tab.open(&bad, &mut out).is_err());
        bad[0] ^= 0x80;
        assert!(p_tab.open(&bad, &mut out).is_err());
        assert!(p_tab.open(&[1, 2], &mut out).is_err());
        let c = p_tab.counters();
        assert_eq!(
            (
                c.opened,
                c.replay,
                c.auth_failed,
                c.unknown_spi,
                c.malformed
            ),
            (1, 1, 1, 1, 1)
        );

        // Policy check failure leaves the window untouched, so the genuine packet still opens.
        ue_tab.seal(ue, pcscf, 17, b"again", &mut esp).unwrap();
        assert!(matches!(
            p_tab.open_with(&esp, &mut out, |_, _, _| false),
            Err(IpsecError::PolicyMismatch { spi: 0x1111 })
        ));
        assert!(out.is_empty());
        assert_eq!(p_tab.open(&esp, &mut out).unwrap().1.seq, 4);
        assert_eq!(p_tab.counters().policy_mismatch, 1);

        // Exact-protocol SA wins over the wildcard.
        ue_tab.insert_outbound(
            Selector::new(ue, pcscf, Some(6)),
            OutboundSa::new(0x2222, &keys()).unwrap(),
        );
        assert_eq!(ue_tab.seal(ue, pcscf, 6, b"t", &mut esp).unwrap(), 0x2222);
        assert_eq!(ue_tab.seal(ue, pcscf, 17, b"u", &mut esp).unwrap(), 0x1111);
        assert!(ue_tab
            .remove_outbound(&Selector::new(ue, pcscf, Some(6)))
            .is_some());
        assert!(p_tab.remove_inbound(0x1111).is_some());
        assert!(p_tab.is_empty());
        assert_eq!(ue_tab.len(), (0, 1));
    }
}
