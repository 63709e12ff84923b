//! IP packet helpers for ESP transport mode (RFC 4303 §3.1.1) and the userspace datapath.
//!
//! * Outbound: the kernel routes a UDP/TCP packet from a protected port into the TUN device; we
//!   read the whole IP packet, find the outbound SA by selector, and seal the transport segment
//!   (ESP Next Header = the original protocol). The outer header keeps the same addresses, so the
//!   UDP/TCP checksum over the pseudo-header stays valid (transport mode) — [`seal_ip_packet`].
//! * Inbound: an ESP packet from the raw protocol-50 socket is opened, and the IP header is rebuilt
//!   with the inner protocol and length (IPv4 header checksum recomputed, RFC 791 §3.1) so the
//!   packet can be written to the TUN device — [`open_ip_packet`].
//!
//! Only unfragmented packets without IPv6 extension headers are handled: the TUN device's MTU is
//! set large enough that the kernel never fragments before sealing, and outer packets are sent on
//! a raw socket *without* `IP_HDRINCL`, so the kernel fragments the ESP packet itself if needed.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::error::{IpsecError, Result};
use crate::esp::{Opened, IPPROTO_ESP};
use crate::table::SaTable;

/// IP protocol number of TCP.
pub const IPPROTO_TCP: u8 = 6;
/// IP protocol number of UDP.
pub const IPPROTO_UDP: u8 = 17;
/// Default TTL / hop limit of the packets we build.
pub const DEFAULT_TTL: u8 = 64;

/// The fields of an IPv4 or IPv6 header that transport mode needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpHeader {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// IPv4 Protocol / IPv6 Next Header.
    pub protocol: u8,
    /// TTL / Hop Limit.
    pub ttl: u8,
    /// IPv4 TOS / IPv6 Traffic Class.
    pub tos: u8,
    /// IPv4 Identification (0 for IPv6).
    pub id: u16,
    /// Header length in bytes (IPv4 with options: up to 60; IPv6: 40).
    pub header_len: usize,
}

/// Parses an IPv4 or IPv6 packet; returns the header and the payload (trailing bytes beyond the
/// header's length field, e.g. link padding, are not part of the payload).
pub fn parse_ip(packet: &[u8]) -> Result<(IpHeader, &[u8])> {
    match packet.first().map(|b| b >> 4) {
        Some(4) => parse_ipv4(packet),
        Some(6) => parse_ipv6(packet),
        Some(_) => Err(IpsecError::BadIpHeader("IP version is neither 4 nor 6")),
        None => Err(IpsecError::Truncated {
            what: "IP header",
            len: 0,
            need: 20,
        }),
    }
}

fn parse_ipv4(p: &[u8]) -> Result<(IpHeader, &[u8])> {
    let h: &[u8; 20] =
        p.get(..20)
            .and_then(|s| s.try_into().ok())
            .ok_or(IpsecError::Truncated {
                what: "IPv4 header",
                len: p.len(),
                need: 20,
            })?;
    let ihl = usize::from(h[0] & 0x0f) * 4;
    if ihl < 20 {
        return Err(IpsecError::BadIpHeader("IPv4 IHL below 5"));
    }
    let total = usize::from(u16::from_be_bytes([h[2], h[3]]));
    if total < ihl {
        return Err(IpsecError::BadIpHeader(
            "IPv4 total length below header length",
        ));
    }
    if p.len() < total {
        return Err(IpsecError::Truncated {
            what: "IPv4 packet",
            len: p.len(),
            need: total,
        });
    }
    let header = &p[..ihl];
    if checksum(&[header]) != 0 {
        return Err(IpsecError::BadIpHeader("IPv4 header checksum"));
    }
    let frag = u16::from_be_bytes([h[6], h[7]]);
    if frag & 0x3fff != 0 {
        return Err(IpsecError::BadIpHeader("IPv4 fragment"));
    }
    Ok((
        IpHeader {
            src: IpAddr::V4(Ipv4Addr::new(h[12], h[13], h[14], h[15])),
            dst: IpAddr::V4(Ipv4Addr::new(h[16], h[17], h[18], h[19])),
            protocol: h[9],
            ttl: h[8],
            tos: h[1],
            id: u16::from_be_bytes([h[4], h[5]]),
            header_len: ihl,
        },
        &p[ihl..total],
    ))
}

fn parse_ipv6(p: &[u8]) -> Result<(IpHeader, &[u8])> {
    let h: &[u8; 40] =
        p.get(..40)
            .and_then(|s| s.try_into().ok())
            .ok_or(IpsecError::Truncated {
                what: "IPv6 header",
                len: p.len(),
                need: 40,
            })?;
    let plen = usize::from(u16::from_be_bytes([h[4], h[5]]));
    if p.len() < 40 + plen {
        return Err(IpsecError::Truncated {
            what: "IPv6 packet",
            len: p.len(),
            need: 40 + plen,
        });
    }
    let mut src = [0u8; 16];
    let mut dst = [0u8; 16];
    src.copy_from_slice(&h[8..24]);
    dst.copy_from_slice(&h[24..40]);
    Ok((
        IpHeader {
            src: IpAddr::V6(Ipv6Addr::from(src)),
            dst: IpAddr::V6(Ipv6Addr::from(dst)),
            protocol: h[6],
            ttl: h[7],
            tos: ((h[0] & 0x0f) << 4) | (h[1] >> 4),
            id: 0,
            header_len: 40,
        },
        &p[40..40 + plen],
    ))
}

/// Appends an IP header for `payload_len` bytes of `protocol` to `out` (IPv4: no options, DF clear,
/// checksum computed; IPv6: flow label 0). `src` and `dst` must be of the same family.
pub fn write_ip_header(h: &IpHeader, payload_len: usize, out: &mut Vec<u8>) -> Result<()> {
    match (h.src, h.dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let total = 20 + payload_len;
            let total = u16::try_from(total).map_err(|_| IpsecError::TooLarge {
                what: "IPv4 packet",
                len: total,
                limit: 65_535,
            })?;
            let start = out.len();
            out.extend_from_slice(&[0x45, h.tos]);
            out.extend_from_slice(&total.to_be_bytes());
            out.extend_from_slice(&h.id.to_be_bytes());
            out.extend_from_slice(&[0, 0, h.ttl, h.protocol, 0, 0]);
            out.extend_from_slice(&s.octets());
            out.extend_from_slice(&d.octets());
            let c = checksum(&[&out[start..start + 20]]);
            out[start + 10..start + 12].copy_from_slice(&c.to_be_bytes());
            Ok(())
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let plen = u16::try_from(payload_len).map_err(|_| IpsecError::TooLarge {
                what: "IPv6 payload",
                len: payload_len,
                limit: 65_535,
            })?;
            out.extend_from_slice(&[0x60 | (h.tos >> 4), (h.tos & 0x0f) << 4, 0, 0]);
            out.extend_from_slice(&plen.to_be_bytes());
            out.extend_from_slice(&[h.protocol, h.ttl]);
            out.extend_from_slice(&s.octets());
            out.extend_from_slice(&d.octets());
            Ok(())
        }
        _ => Err(IpsecError::BadIpHeader(
            "source and destination of different families",
        )),
    }
}

/// Internet checksum (RFC 1071) over the concatenation of `parts` (each part but the last must have
/// even length).
pub fn checksum(parts: &[&[u8]]) -> u16 {
    let mut sum: u32 = 0;
    for part in parts {
        let mut chunks = part.chunks_exact(2);
        for c in &mut chunks {
            sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
        }
        if let [last] = chunks.remainder() {
            sum += u32::from(*last) << 8;
        }
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// UDP/TCP checksum over the pseudo-header (RFC 768, RFC 793 §3.1, RFC 8200 §8.1) and `segment`
/// (whose checksum field must be zero, or the result is 0 when verifying a correct segment).
pub fn transport_checksum(src: IpAddr, dst: IpAddr, protocol: u8, segment: &[u8]) -> u16 {
    let len = segment.len() as u32;
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let (s, d) = (s.octets(), d.octets());
            let l = (len as u16).to_be_bytes();
            let pseudo = [
                s[0], s[1], s[2], s[3], d[0], d[1], d[2], d[3], 0, protocol, l[0], l[1],
            ];
            checksum(&[&pseudo, segment])
        }
        _ => {
            let (s, d) = (ip6(src), ip6(dst));
            let l = len.to_be_bytes();
            let tail = [l[0], l[1], l[2], l[3], 0, 0, 0, protocol];
            checksum(&[&s, &d, &tail, segment])
        }
    }
}

fn ip6(a: IpAddr) -> [u8; 16] {
    match a {
        IpAddr::V6(a) => a.octets(),
        IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
    }
}

/// Source and destination ports of a UDP or TCP segment.
pub fn ports(protocol: u8, segment: &[u8]) -> Result<(u16, u16)> {
    let need = match protocol {
        IPPROTO_UDP => 8,
        IPPROTO_TCP => 20,
        p => return Err(IpsecError::UnsupportedProtocol(p)),
    };
    match segment.get(..4) {
        Some(&[a, b, c, d]) if segment.len() >= need => {
            Ok((u16::from_be_bytes([a, b]), u16::from_be_bytes([c, d])))
        }
        _ => Err(IpsecError::Truncated {
            what: if protocol == IPPROTO_UDP {
                "UDP header"
            } else {
                "TCP header"
            },
            len: segment.len(),
            need,
        }),
    }
}

/// Builds a UDP segment with its checksum (RFC 768).
pub fn build_udp(src: SocketAddr, dst: SocketAddr, payload: &[u8]) -> Result<Vec<u8>> {
    let len = 8 + payload.len();
    let l = u16::try_from(len).map_err(|_| IpsecError::TooLarge {
        what: "UDP datagram",
        len,
        limit: 65_535,
    })?;
    let mut s = Vec::with_capacity(len);
    s.extend_from_slice(&src.port().to_be_bytes());
    s.extend_from_slice(&dst.port().to_be_bytes());
    s.extend_from_slice(&l.to_be_bytes());
    s.extend_from_slice(&[0, 0]);
    s.extend_from_slice(payload);
    let c = match transport_checksum(src.ip(), dst.ip(), IPPROTO_UDP, &s) {
        0 => 0xffff, // RFC 768: a computed 0 is sent as all ones
        c => c,
    };
    s[6..8].copy_from_slice(&c.to_be_bytes());
    Ok(s)
}

/// TCP flags for [`build_tcp`].
pub mod tcp_flags {
    /// FIN.
    pub const FIN: u8 = 0x01;
    /// SYN.
    pub const SYN: u8 = 0x02;
    /// PSH.
    pub const PSH: u8 = 0x08;
    /// ACK.
    pub const ACK: u8 = 0x10;
}

/// Builds a TCP segment without options, with its checksum (RFC 793 §3.1).
pub fn build_tcp(
    src: SocketAddr,
    dst: SocketAddr,
    seq: u32,
    ack: u32,
    flags: u8,
    window: u16,
    payload: &[u8],
) -> Vec<u8> {
    let mut s = Vec::with_capacity(20 + payload.len());
    s.extend_from_slice(&src.port().to_be_bytes());
    s.extend_from_slice(&dst.port().to_be_bytes());
    s.extend_from_slice(&seq.to_be_bytes());
    s.extend_from_slice(&ack.to_be_bytes());
    s.extend_from_slice(&[5 << 4, flags]);
    s.extend_from_slice(&window.to_be_bytes());
    s.extend_from_slice(&[0, 0, 0, 0]);
    s.extend_from_slice(payload);
    let c = transport_checksum(src.ip(), dst.ip(), IPPROTO_TCP, &s);
    s[16..18].copy_from_slice(&c.to_be_bytes());
    s
}

/// Builds a whole IP packet (header + `payload`).
pub fn build_ip_packet(src: IpAddr, dst: IpAddr, protocol: u8, payload: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(40 + payload.len());
    let h = IpHeader {
        src,
        dst,
        protocol,
        ttl: DEFAULT_TTL,
        tos: 0,
        id: 0,
        header_len: 0,
    };
    write_ip_header(&h, payload.len(), &mut out)?;
    out.extend_from_slice(payload);
    Ok(out)
}

/// Outbound transform: a UDP/TCP IP packet read from the TUN device → the ESP packet to send to
/// `header.dst` on a raw protocol-50 socket (`esp_out`, from the SPI on; cleared first). Returns
/// the original header (addresses for `sendto`, TTL/TOS to copy). Failures are counted in `table`.
pub fn seal_ip_packet(table: &mut SaTable, ip: &[u8], esp_out: &mut Vec<u8>) -> Result<IpHeader> {
    let parsed = parse_ip(ip).and_then(|(h, seg)| ports(h.protocol, seg).map(|p| (h, seg, p)));
    let (h, segment, (sport, dport)) = match parsed {
        Ok(x) => x,
        Err(e) => {
            table.count_error(&e);
            return Err(e);
        }
    };
    table.seal(
        SocketAddr::new(h.src, sport),
        SocketAddr::new(h.dst, dport),
        h.protocol,
        segment,
        esp_out,
    )?;
    Ok(h)
}

/// [`seal_ip_packet`] producing the whole outer IP packet (protocol 50, same addresses, TTL, TOS
/// and Identification) in `out` — for captures or an `IP_HDRINCL` socket.
pub fn seal_ip_packet_full(
    table: &mut SaTable,
    ip: &[u8],
    scratch: &mut Vec<u8>,
    out: &mut Vec<u8>,
) -> Result<IpHeader> {
    let h = seal_ip_packet(table, ip, scratch)?;
    out.clear();
    let outer = IpHeader {
        protocol: IPPROTO_ESP,
        ..h
    };
    write_ip_header(&outer, scratch.len(), out)?;
    out.extend_from_slice(scratch);
    Ok(h)
}

/// Inbound transform: an ESP payload received from `src` to `dst` (what an IPv6 raw socket hands
/// over; IPv4 raw sockets include the header — use [`open_ip_packet`]) → the inner UDP/TCP segment
/// in `segment_out`. Enforces the inbound policy: the inner protocol must be UDP or TCP and, when
/// the SA has a selector, addresses, ports and protocol must match it.
pub fn open_esp(
    table: &mut SaTable,
    src: IpAddr,
    dst: IpAddr,
    esp: &[u8],
    segment_out: &mut Vec<u8>,
) -> Result<(u32, Opened)> {
    table.open_with(esp, segment_out, |sel, opened, seg| {
        let Ok((sport, dport)) = ports(opened.next_header, seg) else {
            return false;
        };
        sel.is_none_or(|s| s.matches(dst, src, dport, sport, opened.next_header))
    })
}

/// Inbound transform: an IP packet carrying ESP (from a raw IPv4 socket, or a capture) → the inner
/// IP packet to write to the TUN device (`out`, cleared first): same addresses, TTL, TOS and
/// Identification, protocol = ESP Next Header, length and IPv4 checksum recomputed.
pub fn open_ip_packet(
    table: &mut SaTable,
    ip: &[u8],
    scratch: &mut Vec<u8>,
    out: &mut Vec<u8>,
) -> Result<(u32, Opened)> {
    out.clear();
    let (h, esp) = match parse_ip(ip) {
        Ok((h, _)) if h.protocol != IPPROTO_ESP => {
            let e = IpsecError::UnsupportedProtocol(h.protocol);
            table.count_error(&e);
            return Err(e);
        }
        Ok(x) => x,
        Err(e) => {
            table.count_error(&e);
            return Err(e);
        }
    };
    let r = open_esp(table, h.src, h.dst, esp, scratch)?;
    let inner = IpHeader {
        protocol: r.1.next_header,
        ..h
    };
    write_ip_header(&inner, scratch.len(), out)?;
    out.extend_from_slice(scratch);
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_header_checksum_known_answer() {
        // Classic example header (checksum field zeroed): expected checksum 0xb861.
        let h = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(checksum(&[&h]), 0xb861);
    }

    #[test]
    fn build_parse_roundtrip_v4_v6() {
        for (s, d) in [
            ("192.0.2.1:5060", "192.0.2.2:5064"),
            ("[2001:db8::1]:5060", "[2001:db8::2]:5064"),
        ] {
            let (s, d): (SocketAddr, SocketAddr) = (s.parse().unwrap(), d.parse().unwrap());
            let udp = build_udp(s, d, b"OPTIONS sip:x SIP/2.0\r\n\r\n").unwrap();
            assert_eq!(
                transport_checksum(s.ip(), d.ip(), IPPROTO_UDP, &udp),
                0,
                "verifies"
            );
            let tcp = build_tcp(s, d, 1, 2, tcp_flags::ACK | tcp_flags::PSH, 1000, b"abc");
            assert_eq!(transport_checksum(s.ip(), d.ip(), IPPROTO_TCP, &tcp), 0);
            let mut pkt = build_ip_packet(s.ip(), d.ip(), IPPROTO_UDP, &udp).unwrap();
            pkt.extend_from_slice(&[0, 0]); // link padding is ignored
            let (h, payload) = parse_ip(&pkt).unwrap();
            assert_eq!((h.src, h.dst, h.protocol, h.ttl), (s.ip(), d.ip(), 17, 64));
            assert_eq!(payload, &udp[..]);
            assert_eq!(ports(17, payload).unwrap(), (5060, 5064));
            assert!(ports(6, &udp[..8]).is_err(), "TCP header needs 20 bytes");
            assert!(ports(1, &udp).is_err());
        }
        let mixed = build_ip_packet("1.2.3.4".parse().unwrap(), "::1".parse().unwrap(), 17, b"");
        assert!(mixed.is_err());
    }

    #[test]
    fn ipv4_parse_rejects() {
        let s: SocketAddr = "192.0.2.1:1".parse().unwrap();
        let d: SocketAddr = "192.0.2.2:2".parse().unwrap();
        let pkt = build_ip_packet(s.ip(), d.ip(), 17, &build_udp(s, d, b"x").unwrap()).unwrap();
        for n in 0..pkt.len() {
            assert!(parse_ip(&pkt[..n]).is_err(), "{n}");
        }
        let mut bad = pkt.clone();
        bad[8] ^= 1; // TTL change breaks the header checksum
        assert_eq!(
            parse_ip(&bad).unwrap_err(),
            IpsecError::BadIpHeader("IPv4 header checksum")
        );
        let mut frag = pkt.clone();
        frag[6] = 0x20; // MF
        frag[10] = 0;
        frag[11] = 0;
        let c = checksum(&[&frag[..20]]);
        frag[10..12].copy_from_slice(&c.to_be_bytes());
        assert_eq!(
            parse_ip(&frag).unwrap_err(),
            IpsecError::BadIpHeader("IPv4 fragment")
        );
        let mut v5 = pkt.clone();
        v5[0] = 0x55;
        assert!(parse_ip(&v5).is_err());
        let mut ihl = pkt;
        ihl[0] = 0x44;
        assert_eq!(
            parse_ip(&ihl).unwrap_err(),
            IpsecError::BadIpHeader("IPv4 IHL below 5")
        );
    }
}
