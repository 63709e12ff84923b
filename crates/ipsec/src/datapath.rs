//! The userspace IPsec datapath (Linux), for machines whose kernel has no ESP (ARCHITECTURE.md,
//! "IPsec on machines without kernel ESP"), in the style of strongSwan's libipsec:
//!
//! ```text
//!  CSCF/UE UDP+TCP sockets on protected ports
//!        │ ▲
//!        ▼ │   policy routing: `ip rule add ipproto udp|tcp sport <port-c>-<port-s> table T`,
//!   TUN device   `ip route add <peer>/32 dev <tun> table T` sends them into the TUN
//!        │ ▲
//!  seal_ip_packet / open_ip_packet  (SaTable: outbound by selector, inbound by SPI)
//!        │ ▲
//!        ▼ │
//!  raw socket AF_INET/SOCK_RAW/IPPROTO_ESP  ⇄  the wire (ESP transport mode, RFC 4303)
//! ```
//!
//! * Outbound: a packet read from the TUN is sealed with the SA matching its selector and the ESP
//!   bytes are sent with `sendto(peer)` on the raw socket; the kernel adds the outer IPv4 header
//!   (protocol 50, same addresses) and fragments it if needed.
//! * Inbound: the raw socket receives every IPv4 ESP packet (header included); it is opened with
//!   the SA its SPI names (ICV, replay window, inbound selector check) and the rebuilt inner
//!   packet is written to the TUN, so the kernel's UDP/TCP delivers it to the protected-port
//!   socket. The SIP code cannot tell it from kernel IPsec.
//! * [`Routing`] installs the policy routing (rules on source port ranges, a default route into
//!   the TUN in a dedicated table) and the TUN's `rp_filter`.
//!
//! * IPv6 ([`Datapath::with_ipv6`]): an `AF_INET6` raw socket delivers the ESP packet without the
//!   IPv6 header; the source comes from `recvmsg`, the destination from `IPV6_PKTINFO`
//!   (RFC 3542 §6), and the inner IPv6 header is rebuilt ([`crate::packet::open_esp`]).
//!
//! Drops are counted in the [`SaTable`] counters; [`DatapathStats`] counts I/O.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use crate::error::{IpsecError, Result};
use crate::esp::IPPROTO_ESP;
use crate::packet::{
    open_esp, open_ip_packet, seal_ip_packet, write_ip_header, IpHeader, DEFAULT_TTL,
};
use crate::table::SaTable;

/// `_IOW('T', 202, int)`.
const TUNSETIFF: libc::c_ulong = 0x4004_54ca;
const IFF_TUN: libc::c_short = 0x0001;
const IFF_NO_PI: libc::c_short = 0x1000;
/// Largest packet read from either side.
const MAX_PACKET: usize = 65_535;

fn io_err(op: &'static str) -> impl FnOnce(std::io::Error) -> IpsecError {
    move |e| IpsecError::Io {
        op,
        reason: e.to_string(),
    }
}

/// The MTU given to the TUN device: large, so the kernel never fragments a protected port's
/// datagram before it is sealed (the datapath handles only whole packets, [`crate::packet`]);
/// the sealed ESP packet is fragmented by the kernel on the way out if the path needs it
/// (RFC 4303 §3.3.5: fragmentation after ESP processing), and reassembled before the receiver's
/// raw socket sees it. A SIP request with a full Security-Client offer exceeds 1500 bytes.
pub const TUN_MTU: u32 = 65000;

/// A TUN device (`IFF_TUN | IFF_NO_PI`: each read/write is one bare IP packet).
#[derive(Debug)]
pub struct Tun {
    file: File,
    name: String,
}

impl Tun {
    /// Creates (or attaches to) the TUN interface `name` in the calling thread's network namespace
    /// (needs CAP_NET_ADMIN). Bring it up and route into it with `ip`.
    pub fn open(name: &str) -> Result<Self> {
        let bytes = name.as_bytes();
        if bytes.is_empty() || bytes.len() >= libc::IFNAMSIZ || bytes.contains(&0) {
            return Err(IpsecError::Io {
                op: "TUN name",
                reason: format!("{name:?} is not a valid interface name"),
            });
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/net/tun")
            .map_err(io_err("open /dev/net/tun"))?;
        // struct ifreq: ifr_name[IFNAMSIZ] then the union, whose ifr_flags (short) we set.
        let mut ifr = [0u8; 40];
        ifr[..bytes.len()].copy_from_slice(bytes);
        ifr[16..18].copy_from_slice(&(IFF_TUN | IFF_NO_PI).to_ne_bytes());
        // SAFETY: TUNSETIFF reads and writes a struct ifreq (40 bytes on Linux); `ifr` is that
        // large and lives across the call; the fd is open.
        let rc = unsafe { libc::ioctl(file.as_raw_fd(), TUNSETIFF as _, ifr.as_mut_ptr()) };
        if rc < 0 {
            return Err(io_err("ioctl TUNSETIFF")(std::io::Error::last_os_error()));
        }
        let end = ifr[..16].iter().position(|b| *b == 0).unwrap_or(16);
        let name = String::from_utf8_lossy(&ifr[..end]).into_owned();
        Ok(Self { file, name })
    }

    /// The interface name the kernel gave.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// A raw IPv4 socket for protocol 50.
#[derive(Debug)]
pub struct EspSocket {
    sock: Socket,
}

impl EspSocket {
    /// `socket(AF_INET, SOCK_RAW, IPPROTO_ESP)` in the calling thread's namespace (CAP_NET_RAW).
    pub fn open_v4() -> Result<Self> {
        let sock = Socket::new(
            Domain::IPV4,
            Type::RAW,
            Some(Protocol::from(i32::from(IPPROTO_ESP))),
        )
        .map_err(io_err("raw ESP socket"))?;
        Ok(Self { sock })
    }

    /// `socket(AF_INET6, SOCK_RAW, IPPROTO_ESP)` with `IPV6_RECVPKTINFO` (an IPv6 raw socket hands
    /// over the ESP packet without the IPv6 header; the destination address comes as ancillary
    /// data, RFC 3542 §6).
    pub fn open_v6() -> Result<Self> {
        let sock = Socket::new(
            Domain::IPV6,
            Type::RAW,
            Some(Protocol::from(i32::from(IPPROTO_ESP))),
        )
        .map_err(io_err("raw ESP socket (IPv6)"))?;
        let on: libc::c_int = 1;
        // SAFETY: setsockopt with a valid fd and a pointer to an int of the given size.
        let rc = unsafe {
            libc::setsockopt(
                sock.as_raw_fd(),
                libc::IPPROTO_IPV6,
                libc::IPV6_RECVPKTINFO,
                (&on as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(io_err("IPV6_RECVPKTINFO")(std::io::Error::last_os_error()));
        }
        Ok(Self { sock })
    }

    /// Receives one ESP packet on an IPv6 socket: (length, source, destination).
    fn recv_v6(&self, buf: &mut [u8]) -> Result<(usize, Ipv6Addr, Ipv6Addr)> {
        // SAFETY: zeroed sockaddr_in6 / msghdr / iovec are valid initial values.
        let mut from: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        let mut control = [0u64; 16]; // 128 bytes, aligned for cmsghdr
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_name = (&mut from as *mut libc::sockaddr_in6).cast();
        msg.msg_namelen = std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t;
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&control) as _;
        // SAFETY: every pointer in `msg` refers to live, correctly sized buffers above.
        let n = unsafe { libc::recvmsg(self.sock.as_raw_fd(), &mut msg, 0) };
        if n < 0 {
            return Err(io_err("recvmsg ESP (IPv6)")(std::io::Error::last_os_error()));
        }
        let mut dst = None;
        // SAFETY: CMSG_* walk the control buffer the kernel filled, within msg_controllen.
        unsafe {
            let mut c = libc::CMSG_FIRSTHDR(&msg);
            while !c.is_null() {
                if (*c).cmsg_level == libc::IPPROTO_IPV6 && (*c).cmsg_type == libc::IPV6_PKTINFO {
                    // struct in6_pktinfo { struct in6_addr ipi6_addr; unsigned ipi6_ifindex; }
                    let data = libc::CMSG_DATA(c);
                    let mut a = [0u8; 16];
                    std::ptr::copy_nonoverlapping(data, a.as_mut_ptr(), 16);
                    dst = Some(Ipv6Addr::from(a));
                }
                c = libc::CMSG_NXTHDR(&msg, c);
            }
        }
        let dst = dst.ok_or(IpsecError::Io {
            op: "recvmsg ESP (IPv6)",
            reason: "no IPV6_PKTINFO".into(),
        })?;
        let src = Ipv6Addr::from(from.sin6_addr.s6_addr);
        Ok((n as usize, src, dst))
    }

    /// Sends an ESP packet (SPI onwards) to `dst`; the kernel builds the IP header.
    pub fn send_to(&self, dst: IpAddr, esp: &[u8]) -> Result<usize> {
        self.sock
            .send_to(esp, &SockAddr::from(SocketAddr::new(dst, 0)))
            .map_err(io_err("sendto ESP"))
    }
}

/// Policy routing that sends everything leaving the protected ports into the TUN
/// (ARCHITECTURE.md: "policy routing on source port"): for each family and transport protocol
/// `ip rule add ipproto <udp|tcp> sport <lo>-<hi> table <table>`, plus
/// `ip route add default dev <tun> table <table>`. Traffic from a protected port to a peer
/// without an SA is then dropped by the datapath (counted as `no_outbound_sa`), never sent in clear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routing {
    /// TUN interface name.
    pub tun: String,
    /// Routing table number (unused by anything else).
    pub table: u32,
    /// Protected port ranges (inclusive), e.g. the P-CSCF's port-c..=port-s.
    pub ports: Vec<(u16, u16)>,
    /// Route IPv4.
    pub ipv4: bool,
    /// Route IPv6.
    pub ipv6: bool,
}

impl Routing {
    /// The `ip` command lines (without the leading `ip`) that install the routing.
    pub fn commands(&self) -> Vec<Vec<String>> {
        let mut cmds = Vec::new();
        let families = [("-4", self.ipv4), ("-6", self.ipv6)];
        for (fam, _) in families.iter().filter(|(_, on)| *on) {
            let table = self.table.to_string();
            cmds.push(
                [
                    *fam, "route", "replace", "default", "dev", &self.tun, "table", &table,
                ]
                .map(str::to_owned)
                .to_vec(),
            );
            for (lo, hi) in &self.ports {
                let range = format!("{}-{}", lo.min(hi), lo.max(hi));
                for proto in ["udp", "tcp"] {
                    cmds.push(
                        [
                            *fam, "rule", "add", "ipproto", proto, "sport", &range, "table", &table,
                        ]
                        .map(str::to_owned)
                        .to_vec(),
                    );
                }
            }
        }
        cmds
    }

    /// Brings the TUN up with [`TUN_MTU`], sets its IPv4 `rp_filter` to 0 (inbound packets arrive on it from the
    /// peer's address) and runs [`commands`](Self::commands) with `ip` (iproute2, CAP_NET_ADMIN),
    /// all in the calling thread's network namespace.
    pub fn apply(&self) -> Result<()> {
        let mtu = TUN_MTU.to_string();
        run_ip(&["link", "set", &self.tun, "mtu", &mtu, "up"])?;
        if self.ipv4 {
            let path = format!("/proc/sys/net/ipv4/conf/{}/rp_filter", self.tun);
            std::fs::write(&path, "0").map_err(io_err("rp_filter"))?;
        }
        for c in self.commands() {
            let args: Vec<&str> = c.iter().map(String::as_str).collect();
            run_ip(&args)?;
        }
        Ok(())
    }

    /// Undoes [`apply`](Self::apply): deletes the rules (`ip rule del …`, the same selectors) and
    /// flushes the table. Best effort — every command runs, the first failure is returned.
    pub fn remove(&self) -> Result<()> {
        let mut first = Ok(());
        for c in self.commands() {
            let mut args: Vec<&str> = c.iter().map(String::as_str).collect();
            let del = match args.get(1) {
                Some(&"rule") => {
                    args[2] = "del";
                    args
                }
                // `route replace default dev <tun> table T` → `route flush table T`
                _ => vec![args[0], "route", "flush", "table", c[c.len() - 1].as_str()],
            };
            if let Err(e) = run_ip(&del) {
                if first.is_ok() {
                    first = Err(e);
                }
            }
        }
        first
    }
}

fn run_ip(args: &[&str]) -> Result<()> {
    let out = std::process::Command::new("ip")
        .args(args)
        .output()
        .map_err(io_err("run ip (iproute2)"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(IpsecError::Io {
            op: "ip",
            reason: format!(
                "ip {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        })
    }
}

/// I/O counters of a [`Datapath`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DatapathStats {
    /// Packets read from the TUN.
    pub tun_in: u64,
    /// ESP packets sent.
    pub esp_out: u64,
    /// ESP packets received on the raw socket.
    pub esp_in: u64,
    /// Inner packets written to the TUN.
    pub tun_out: u64,
    /// Send/write failures (packet dropped).
    pub io_errors: u64,
}

/// TUN + raw ESP socket + shared SA table, driven by [`poll_once`](Self::poll_once) /
/// [`run`](Self::run) on one thread (blocking `poll(2)`). The control plane installs and removes
/// SAs through the shared table while it runs.
#[derive(Debug)]
pub struct Datapath {
    tun: Tun,
    esp: EspSocket,
    esp6: Option<EspSocket>,
    table: Arc<Mutex<SaTable>>,
    stats: DatapathStats,
    rx: Vec<u8>,
    scratch: Vec<u8>,
    tx: Vec<u8>,
}

impl Datapath {
    /// Wires a TUN device and a raw ESP socket to `table`.
    pub fn new(tun: Tun, esp: EspSocket, table: Arc<Mutex<SaTable>>) -> Self {
        Self {
            tun,
            esp,
            esp6: None,
            table,
            stats: DatapathStats::default(),
            rx: vec![0; MAX_PACKET],
            scratch: Vec::with_capacity(MAX_PACKET),
            tx: Vec::with_capacity(MAX_PACKET),
        }
    }

    /// Adds an IPv6 raw ESP socket ([`EspSocket::open_v6`]) so IPv6 SAs work too.
    pub fn with_ipv6(mut self, esp6: EspSocket) -> Self {
        self.esp6 = Some(esp6);
        self
    }

    /// I/O counters.
    pub fn stats(&self) -> DatapathStats {
        self.stats
    }

    /// The TUN device.
    pub fn tun(&self) -> &Tun {
        &self.tun
    }

    /// Waits up to `timeout_ms` for a packet on either side and forwards what is ready.
    /// Returns the number of packets handled. Bad packets are dropped and counted, never fatal.
    pub fn poll_once(&mut self, timeout_ms: i32) -> Result<usize> {
        let mut fds = [
            libc::pollfd {
                fd: self.tun.file.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: self.esp.sock.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: self.esp6.as_ref().map_or(-1, |s| s.sock.as_raw_fd()),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: `fds` is a valid array of 3 pollfd for the duration of the call (a negative fd
        // is ignored by poll).
        let rc = unsafe { libc::poll(fds.as_mut_ptr(), 3, timeout_ms) };
        if rc < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                return Ok(0);
            }
            return Err(io_err("poll")(e));
        }
        let mut handled = 0;
        if fds[0].revents & libc::POLLIN != 0 {
            self.outbound()?;
            handled += 1;
        }
        if fds[1].revents & libc::POLLIN != 0 {
            self.inbound()?;
            handled += 1;
        }
        if fds[2].revents & libc::POLLIN != 0 {
            self.inbound_v6()?;
            handled += 1;
        }
        Ok(handled)
    }

    /// Runs until `stop` is set (checked at least every 50 ms).
    pub fn run(&mut self, stop: &AtomicBool) -> Result<()> {
        while !stop.load(Ordering::Relaxed) {
            self.poll_once(50)?;
        }
        Ok(())
    }

    fn lock(table: &Mutex<SaTable>) -> Result<std::sync::MutexGuard<'_, SaTable>> {
        table.lock().map_err(|_| IpsecError::Io {
            op: "SA table",
            reason: "lock poisoned".into(),
        })
    }

    /// TUN → seal → raw socket.
    fn outbound(&mut self) -> Result<()> {
        let n = (&self.tun.file)
            .read(&mut self.rx)
            .map_err(io_err("read TUN"))?;
        self.stats.tun_in += 1;
        let sealed = {
            let mut t = Self::lock(&self.table)?;
            seal_ip_packet(&mut t, &self.rx[..n], &mut self.tx)
        };
        // Not ours to protect (no SA) or malformed: already counted by the table; drop.
        if let Ok(h) = sealed {
            let sock = match h.dst {
                IpAddr::V4(_) => Some(&self.esp),
                IpAddr::V6(_) => self.esp6.as_ref(),
            };
            match sock.map(|s| s.send_to(h.dst, &self.tx)) {
                Some(Ok(w)) if w == self.tx.len() => self.stats.esp_out += 1,
                _ => self.stats.io_errors += 1,
            }
        }
        Ok(())
    }

    /// Raw socket → open → TUN.
    fn inbound(&mut self) -> Result<()> {
        let n = (&self.esp.sock)
            .read(&mut self.rx)
            .map_err(io_err("recv ESP"))?;
        self.stats.esp_in += 1;
        let opened = {
            let mut t = Self::lock(&self.table)?;
            open_ip_packet(&mut t, &self.rx[..n], &mut self.scratch, &mut self.tx)
        };
        if opened.is_ok() {
            // A TUN write takes the whole packet or fails; a short count is an error too.
            match (&self.tun.file).write(&self.tx) {
                Ok(w) if w == self.tx.len() => self.stats.tun_out += 1,
                _ => self.stats.io_errors += 1,
            }
        }
        Ok(())
    }

    /// IPv6 raw socket → open → TUN (the IPv6 header is rebuilt from the addresses).
    fn inbound_v6(&mut self) -> Result<()> {
        let Some(sock) = self.esp6.as_ref() else {
            return Ok(());
        };
        let (n, src, dst) = sock.recv_v6(&mut self.rx)?;
        self.stats.esp_in += 1;
        let opened = {
            let mut t = Self::lock(&self.table)?;
            open_esp(
                &mut t,
                IpAddr::V6(src),
                IpAddr::V6(dst),
                &self.rx[..n],
                &mut self.scratch,
            )
        };
        let Ok((_, o)) = opened else {
            return Ok(());
        };
        self.tx.clear();
        let h = IpHeader {
            src: IpAddr::V6(src),
            dst: IpAddr::V6(dst),
            protocol: o.next_header,
            ttl: DEFAULT_TTL,
            tos: 0,
            id: 0,
            header_len: 40,
        };
        if write_ip_header(&h, self.scratch.len(), &mut self.tx).is_err() {
            self.stats.io_errors += 1;
            return Ok(());
        }
        self.tx.extend_from_slice(&self.scratch);
        match (&self.tun.file).write(&self.tx) {
            Ok(w) if w == self.tx.len() => self.stats.tun_out += 1,
            _ => self.stats.io_errors += 1,
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routing_commands() {
        let r = Routing {
            tun: "esptun".into(),
            table: 100,
            ports: vec![(5064, 5062)],
            ipv4: true,
            ipv6: false,
        };
        let c: Vec<String> = r.commands().iter().map(|c| c.join(" ")).collect();
        assert_eq!(
            c,
            [
                "-4 route replace default dev esptun table 100",
                "-4 rule add ipproto udp sport 5062-5064 table 100",
                "-4 rule add ipproto tcp sport 5062-5064 table 100",
            ]
        );
        let both = Routing { ipv6: true, ..r };
        assert_eq!(both.commands().len(), 6);
        assert_eq!(both.commands()[3][0], "-6");
    }
}
