//! A minimal pcap writer: Ethernet/IPv4/TCP frames carrying one TCP conversation (e.g. Diameter on 3868), so
//! tshark can decode what we encode.

use std::net::Ipv4Addr;

fn csum(data: &[u8], mut sum: u32) -> u16 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        sum += u32::from(*last) << 8;
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// One TCP conversation between a client and a Diameter server, written as a pcap file.
pub struct Pcap {
    out: Vec<u8>,
    client: (Ipv4Addr, u16),
    server: (Ipv4Addr, u16),
    seq_c: u32,
    seq_s: u32,
    ts: u32,
}

const SYN: u8 = 0x02;
const ACK: u8 = 0x10;
const PSH: u8 = 0x08;
const FIN: u8 = 0x01;

impl Pcap {
    /// Start a capture with a completed TCP handshake.
    pub fn new(server_port: u16) -> Pcap {
        let mut out = Vec::new();
        out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        out.extend_from_slice(&2u16.to_le_bytes());
        out.extend_from_slice(&4u16.to_le_bytes());
        out.extend_from_slice(&0i32.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&65535u32.to_le_bytes());
        out.extend_from_slice(&1u32.to_le_bytes()); // LINKTYPE_ETHERNET
        let mut p = Pcap {
            out,
            client: (Ipv4Addr::new(127, 0, 0, 1), 40000),
            server: (Ipv4Addr::new(127, 0, 0, 2), server_port),
            seq_c: 1000,
            seq_s: 5000,
            ts: 1_700_000_000,
        };
        p.segment(true, SYN, &[]);
        p.seq_c += 1;
        p.segment(false, SYN | ACK, &[]);
        p.seq_s += 1;
        p.segment(true, ACK, &[]);
        p
    }

    /// A data segment from the client (`from_client`) or the server.
    pub fn send(&mut self, from_client: bool, payload: &[u8]) {
        self.segment(from_client, PSH | ACK, payload);
        if from_client {
            self.seq_c = self.seq_c.wrapping_add(payload.len() as u32);
        } else {
            self.seq_s = self.seq_s.wrapping_add(payload.len() as u32);
        }
        self.segment(!from_client, ACK, &[]);
    }

    /// Close the conversation and return the file bytes.
    pub fn finish(mut self) -> Vec<u8> {
        self.segment(true, FIN | ACK, &[]);
        self.seq_c += 1;
        self.segment(false, FIN | ACK, &[]);
        self.seq_s += 1;
        self.segment(true, ACK, &[]);
        self.out
    }

    fn segment(&mut self, from_client: bool, flags: u8, payload: &[u8]) {
        let (src, dst) = if from_client {
            (self.client, self.server)
        } else {
            (self.server, self.client)
        };
        let (seq, ack) = if from_client {
            (self.seq_c, self.seq_s)
        } else {
            (self.seq_s, self.seq_c)
        };
        let ack = if flags & ACK != 0 { ack } else { 0 };
        let mut tcp = Vec::with_capacity(20 + payload.len());
        tcp.extend_from_slice(&src.1.to_be_bytes());
        tcp.extend_from_slice(&dst.1.to_be_bytes());
        tcp.extend_from_slice(&seq.to_be_bytes());
        tcp.extend_from_slice(&ack.to_be_bytes());
        tcp.push(5 << 4);
        tcp.push(flags);
        tcp.extend_from_slice(&65535u16.to_be_bytes());
        tcp.extend_from_slice(&[0, 0, 0, 0]);
        tcp.extend_from_slice(payload);
        let mut pseudo = Vec::new();
        pseudo.extend_from_slice(&src.0.octets());
        pseudo.extend_from_slice(&dst.0.octets());
        pseudo.extend_from_slice(&[0, 6]);
        pseudo.extend_from_slice(&(tcp.len() as u16).to_be_bytes());
        pseudo.extend_from_slice(&tcp);
        let c = csum(&pseudo, 0);
        tcp[16..18].copy_from_slice(&c.to_be_bytes());

        let mut ip = Vec::with_capacity(20 + tcp.len());
        ip.push(0x45);
        ip.push(0);
        ip.extend_from_slice(&((20 + tcp.len()) as u16).to_be_bytes());
        ip.extend_from_slice(&[0, 0, 0x40, 0, 64, 6, 0, 0]);
        ip.extend_from_slice(&src.0.octets());
        ip.extend_from_slice(&dst.0.octets());
        let c = csum(&ip, 0);
        ip[10..12].copy_from_slice(&c.to_be_bytes());
        ip.extend_from_slice(&tcp);

        let mut frame = Vec::with_capacity(14 + ip.len());
        frame.extend_from_slice(&[0x02, 0, 0, 0, 0, if from_client { 2 } else { 1 }]);
        frame.extend_from_slice(&[0x02, 0, 0, 0, 0, if from_client { 1 } else { 2 }]);
        frame.extend_from_slice(&[0x08, 0x00]);
        frame.extend_from_slice(&ip);

        self.ts += 1;
        self.out.extend_from_slice(&self.ts.to_le_bytes());
        self.out.extend_from_slice(&0u32.to_le_bytes());
        self.out
            .extend_from_slice(&(frame.len() as u32).to_le_bytes());
        self.out
            .extend_from_slice(&(frame.len() as u32).to_le_bytes());
        self.out.extend_from_slice(&frame);
    }
}
