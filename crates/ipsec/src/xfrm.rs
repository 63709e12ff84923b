//! Kernel IPsec through NETLINK_XFRM (Linux `include/uapi/linux/xfrm.h`): the four ESP transport
//! SAs of a TS 33.203 §7.1 set as XFRM states (`XFRM_MSG_NEWSA` / `DELSA`) and the four policies
//! that send the protected port pairs through them (`XFRM_MSG_NEWPOLICY` / `DELPOLICY`), over a
//! raw netlink socket with hand-built messages (no netlink crate).
//!
//! Every state and policy carries our `mark` (XFRMA_MARK, mask 0xffffffff), so states and
//! policies of anything else on the host — even with equal selectors — are never matched,
//! replaced or deleted. Whatever this backend installed is deleted when it is dropped.
//!
//! A kernel without ESP (no `esp4`/`esp6`, CONFIG_INET_ESP) refuses the states: the error says so
//! plainly ([`IpsecError::Io`] naming "no kernel ESP support"); policies are still accepted by
//! such kernels.

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

use crate::backend::{log_set, BackendStats, SaBackend};
use crate::error::{IpsecError, Result};
use crate::esp::IPPROTO_ESP;
use crate::keylog::Keylog;
use crate::sa_set::ImsSaSet;
use crate::{EncryptionAlg, IntegrityAlg};

const NETLINK_XFRM: libc::c_int = 6;
const XFRM_MSG_NEWSA: u16 = 0x10;
const XFRM_MSG_DELSA: u16 = 0x11;
const XFRM_MSG_DELPOLICY: u16 = 0x14;
/// Creates or replaces (a newer set of the same UE may reuse a selector, TS 33.203 §7.4).
const XFRM_MSG_UPDPOLICY: u16 = 0x19;
const NLMSG_ERROR: u16 = 2;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_ACK: u16 = 4;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;
const XFRMA_ALG_CRYPT: u16 = 2;
const XFRMA_TMPL: u16 = 5;
const XFRMA_ALG_AUTH_TRUNC: u16 = 20;
const XFRMA_MARK: u16 = 21;
const XFRM_POLICY_IN: u8 = 0;
const XFRM_POLICY_OUT: u8 = 1;
const XFRM_MODE_TRANSPORT: u8 = 0;
const XFRM_INF: u64 = u64::MAX;
/// Priority of our policies (lower wins; chosen to sit in front of generic policies).
pub const POLICY_PRIORITY: u32 = 1000;

/// `sizeof(struct xfrm_selector)`.
const SEL_LEN: usize = 56;
/// `sizeof(struct xfrm_usersa_info)`.
const USERSA_INFO_LEN: usize = 224;
/// `sizeof(struct xfrm_usersa_id)`.
const USERSA_ID_LEN: usize = 24;
/// `sizeof(struct xfrm_userpolicy_info)`.
const USERPOLICY_INFO_LEN: usize = 168;
/// `sizeof(struct xfrm_userpolicy_id)`.
const USERPOLICY_ID_LEN: usize = 64;
/// `sizeof(struct xfrm_user_tmpl)`.
const USER_TMPL_LEN: usize = 64;

fn family(a: IpAddr) -> u16 {
    match a {
        IpAddr::V4(_) => libc::AF_INET as u16,
        IpAddr::V6(_) => libc::AF_INET6 as u16,
    }
}

/// `xfrm_address_t` (16 bytes, IPv4 in the first 4).
fn put_addr(buf: &mut [u8], a: IpAddr) {
    match a {
        IpAddr::V4(v) => buf[..4].copy_from_slice(&v.octets()),
        IpAddr::V6(v) => buf[..16].copy_from_slice(&v.octets()),
    }
}

/// `struct xfrm_selector` for packets `src` → `dst` (any transport protocol: UDP and TCP).
fn put_selector(buf: &mut [u8], src: SocketAddr, dst: SocketAddr) {
    put_addr(&mut buf[0..16], dst.ip());
    put_addr(&mut buf[16..32], src.ip());
    buf[32..34].copy_from_slice(&dst.port().to_be_bytes());
    buf[34..36].copy_from_slice(&0xffffu16.to_be_bytes());
    buf[36..38].copy_from_slice(&src.port().to_be_bytes());
    buf[38..40].copy_from_slice(&0xffffu16.to_be_bytes());
    buf[40..42].copy_from_slice(&family(dst.ip()).to_ne_bytes());
    let plen = if dst.is_ipv4() { 32 } else { 128 };
    buf[42] = plen;
    buf[43] = plen;
}

/// `struct xfrm_lifetime_cfg` with no limits.
fn put_infinite_lifetime(buf: &mut [u8]) {
    for i in 0..4 {
        buf[i * 8..i * 8 + 8].copy_from_slice(&XFRM_INF.to_ne_bytes());
    }
}

fn attr(out: &mut Vec<u8>, ty: u16, payload: &[u8]) {
    let len = 4 + payload.len();
    out.extend_from_slice(&(len as u16).to_ne_bytes());
    out.extend_from_slice(&ty.to_ne_bytes());
    out.extend_from_slice(payload);
    while out.len() % 4 != 0 {
        out.push(0);
    }
}

fn mark_attr(out: &mut Vec<u8>, mark: u32) {
    let mut m = [0u8; 8];
    m[..4].copy_from_slice(&mark.to_ne_bytes());
    m[4..].copy_from_slice(&u32::MAX.to_ne_bytes());
    attr(out, XFRMA_MARK, &m);
}

fn kernel_integ(a: IntegrityAlg) -> &'static str {
    match a {
        IntegrityAlg::HmacMd5_96 => "hmac(md5)",
        IntegrityAlg::HmacSha1_96 => "hmac(sha1)",
    }
}

fn kernel_encr(e: EncryptionAlg) -> &'static str {
    match e {
        EncryptionAlg::Null => "ecb(cipher_null)",
        EncryptionAlg::AesCbc => "cbc(aes)",
        EncryptionAlg::DesEde3Cbc => "cbc(des3_ede)",
    }
}

/// `struct xfrm_algo` / `xfrm_algo_auth` payload: name[64], key length in bits, (trunc bits), key.
fn algo(name: &str, key: &[u8], trunc_bits: Option<u32>) -> Vec<u8> {
    let mut v = vec![0u8; 64];
    v[..name.len()].copy_from_slice(name.as_bytes());
    v.extend_from_slice(&((key.len() * 8) as u32).to_ne_bytes());
    if let Some(t) = trunc_bits {
        v.extend_from_slice(&t.to_ne_bytes());
    }
    v.extend_from_slice(key);
    v
}

/// One unidirectional SA of a set: `src` → `dst` with `spi`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Dir {
    src: SocketAddr,
    dst: SocketAddr,
    spi: u32,
    out: bool,
}

fn directions(set: &ImsSaSet) -> [Dir; 4] {
    let (l, r) = (&set.local, &set.remote);
    let a = |ip, port| SocketAddr::new(ip, port);
    [
        Dir {
            src: a(l.addr, l.port_c),
            dst: a(r.addr, r.port_s),
            spi: r.spi_s,
            out: true,
        },
        Dir {
            src: a(l.addr, l.port_s),
            dst: a(r.addr, r.port_c),
            spi: r.spi_c,
            out: true,
        },
        Dir {
            src: a(r.addr, r.port_s),
            dst: a(l.addr, l.port_c),
            spi: l.spi_c,
            out: false,
        },
        Dir {
            src: a(r.addr, r.port_c),
            dst: a(l.addr, l.port_s),
            spi: l.spi_s,
            out: false,
        },
    ]
}

/// A NETLINK_XFRM socket and what we installed through it.
pub struct XfrmBackend {
    fd: OwnedFd,
    seq: AtomicU32,
    mark: u32,
    keylog: Option<Keylog>,
    installed: Mutex<Installed>,
}

#[derive(Default)]
struct Installed {
    states: HashSet<(IpAddr, u32)>,
    policies: HashSet<(SocketAddr, SocketAddr, bool)>,
}

impl std::fmt::Debug for XfrmBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XfrmBackend")
            .field("mark", &self.mark)
            .finish_non_exhaustive()
    }
}

impl XfrmBackend {
    /// Opens the netlink socket (CAP_NET_ADMIN for the requests). `mark` tags every state and
    /// policy; `keylog` receives each installed set.
    pub fn open(mark: u32, keylog: Option<&Path>) -> Result<Self> {
        // SAFETY: plain socket(2) call; the fd is owned below.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                NETLINK_XFRM,
            )
        };
        if fd < 0 {
            return Err(IpsecError::Io {
                op: "socket(NETLINK_XFRM)",
                reason: std::io::Error::last_os_error().to_string(),
            });
        }
        // SAFETY: fd is a fresh, valid descriptor nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let tv = libc::timeval {
            tv_sec: 5,
            tv_usec: 0,
        };
        // SAFETY: setsockopt with a valid fd and a timeval of the given size.
        unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&tv as *const libc::timeval).cast(),
                std::mem::size_of::<libc::timeval>() as libc::socklen_t,
            );
        }
        Ok(Self {
            fd,
            seq: AtomicU32::new(1),
            mark,
            keylog: keylog.map(Keylog::open).transpose()?,
            installed: Mutex::new(Installed::default()),
        })
    }

    /// The mark on our states and policies.
    pub fn mark(&self) -> u32 {
        self.mark
    }

    /// Sends one request and waits for its acknowledgement; `Err(errno)` if the kernel refused.
    fn request(&self, ty: u16, flags: u16, body: &[u8]) -> std::result::Result<(), i32> {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let mut msg = Vec::with_capacity(16 + body.len());
        msg.extend_from_slice(&((16 + body.len()) as u32).to_ne_bytes());
        msg.extend_from_slice(&ty.to_ne_bytes());
        msg.extend_from_slice(&(flags | NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
        msg.extend_from_slice(&seq.to_ne_bytes());
        msg.extend_from_slice(&0u32.to_ne_bytes());
        msg.extend_from_slice(body);
        // SAFETY: sockaddr_nl zeroed = the kernel (pid 0); buffers valid for the call.
        let rc = unsafe {
            let mut to: libc::sockaddr_nl = std::mem::zeroed();
            to.nl_family = libc::AF_NETLINK as u16;
            libc::sendto(
                self.fd.as_raw_fd(),
                msg.as_ptr().cast(),
                msg.len(),
                0,
                (&to as *const libc::sockaddr_nl).cast(),
                std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(-1));
        }
        let mut buf = vec![0u8; 8192];
        for _ in 0..16 {
            // SAFETY: recv into a buffer of the given length.
            let n =
                unsafe { libc::recv(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
            if n < 0 {
                return Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(-1));
            }
            let mut off = 0usize;
            let n = n as usize;
            while off + 16 <= n {
                let u32at =
                    |i: usize| u32::from_ne_bytes([buf[i], buf[i + 1], buf[i + 2], buf[i + 3]]);
                let len = u32at(off) as usize;
                let mty = u16::from_ne_bytes([buf[off + 4], buf[off + 5]]);
                let mseq = u32at(off + 8);
                if len < 16 || off + len > n {
                    break;
                }
                if mty == NLMSG_ERROR && mseq == seq && len >= 20 {
                    let err = i32::from_ne_bytes([
                        buf[off + 16],
                        buf[off + 17],
                        buf[off + 18],
                        buf[off + 19],
                    ]);
                    return if err == 0 { Ok(()) } else { Err(-err) };
                }
                off += (len + 3) & !3;
            }
        }
        Err(libc::EIO)
    }

    fn new_state(&self, set: &ImsSaSet, d: &Dir) -> std::result::Result<(), i32> {
        let mut b = vec![0u8; USERSA_INFO_LEN];
        put_selector(&mut b[..SEL_LEN], d.src, d.dst);
        // xfrm_id at 56: daddr, spi (be), proto
        put_addr(&mut b[56..72], d.dst.ip());
        b[72..76].copy_from_slice(&d.spi.to_be_bytes());
        b[76] = IPPROTO_ESP;
        put_addr(&mut b[80..96], d.src.ip());
        put_infinite_lifetime(&mut b[96..160]);
        // stats 192..204; seq 204; reqid 208
        b[208..212].copy_from_slice(&d.spi.to_ne_bytes());
        b[212..214].copy_from_slice(&family(d.dst.ip()).to_ne_bytes());
        b[214] = XFRM_MODE_TRANSPORT;
        b[215] = 32; // replay window (RFC 4303 §3.4.3)
        let k = &set.keys;
        attr(
            &mut b,
            XFRMA_ALG_AUTH_TRUNC,
            &algo(kernel_integ(k.integ), k.integ_key.expose(), Some(96)),
        );
        attr(
            &mut b,
            XFRMA_ALG_CRYPT,
            &algo(kernel_encr(k.encr), k.encr_key.expose(), None),
        );
        mark_attr(&mut b, self.mark);
        self.request(XFRM_MSG_NEWSA, NLM_F_CREATE | NLM_F_EXCL, &b)
    }

    fn del_state(&self, dst: IpAddr, spi: u32) -> std::result::Result<(), i32> {
        let mut b = vec![0u8; USERSA_ID_LEN];
        put_addr(&mut b[0..16], dst);
        b[16..20].copy_from_slice(&spi.to_be_bytes());
        b[20..22].copy_from_slice(&family(dst).to_ne_bytes());
        b[22] = IPPROTO_ESP;
        mark_attr(&mut b, self.mark);
        self.request(XFRM_MSG_DELSA, 0, &b)
    }

    fn new_policy(&self, d: &Dir) -> std::result::Result<(), i32> {
        let mut b = vec![0u8; USERPOLICY_INFO_LEN];
        put_selector(&mut b[..SEL_LEN], d.src, d.dst);
        put_infinite_lifetime(&mut b[56..120]);
        b[152..156].copy_from_slice(&POLICY_PRIORITY.to_ne_bytes());
        b[160] = if d.out {
            XFRM_POLICY_OUT
        } else {
            XFRM_POLICY_IN
        };
        // action 0 = allow
        let mut t = vec![0u8; USER_TMPL_LEN];
        // xfrm_id: daddr, spi, proto
        put_addr(&mut t[0..16], d.dst.ip());
        t[16..20].copy_from_slice(&d.spi.to_be_bytes());
        t[20] = IPPROTO_ESP;
        t[24..26].copy_from_slice(&family(d.dst.ip()).to_ne_bytes());
        put_addr(&mut t[28..44], d.src.ip());
        t[44..48].copy_from_slice(&d.spi.to_ne_bytes());
        t[48] = XFRM_MODE_TRANSPORT;
        t[52..56].copy_from_slice(&u32::MAX.to_ne_bytes()); // aalgos
        t[56..60].copy_from_slice(&u32::MAX.to_ne_bytes()); // ealgos
        t[60..64].copy_from_slice(&u32::MAX.to_ne_bytes()); // calgos
        attr(&mut b, XFRMA_TMPL, &t);
        mark_attr(&mut b, self.mark);
        self.request(XFRM_MSG_UPDPOLICY, NLM_F_CREATE, &b)
    }

    fn del_policy(
        &self,
        src: SocketAddr,
        dst: SocketAddr,
        out: bool,
    ) -> std::result::Result<(), i32> {
        let mut b = vec![0u8; USERPOLICY_ID_LEN];
        put_selector(&mut b[..SEL_LEN], src, dst);
        b[60] = if out { XFRM_POLICY_OUT } else { XFRM_POLICY_IN };
        mark_attr(&mut b, self.mark);
        self.request(XFRM_MSG_DELPOLICY, 0, &b)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Installed> {
        self.installed.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Installs the set's four XFRM states. On a kernel without ESP this fails with an error
    /// that says so; nothing stays installed.
    pub fn install_states(&self, set: &ImsSaSet) -> Result<()> {
        let mut done = Vec::new();
        for d in directions(set) {
            if let Err(errno) = self.new_state(set, &d) {
                for (dst, spi) in done {
                    let _ = self.del_state(dst, spi);
                }
                let os = std::io::Error::from_raw_os_error(errno);
                let reason = if matches!(
                    errno,
                    libc::EPROTONOSUPPORT | libc::ENOPROTOOPT | libc::ENOSYS | libc::ENOENT
                ) {
                    format!(
                        "the kernel refused the ESP state ({os}): no kernel ESP support \
                         (CONFIG_INET_ESP / esp4, esp6 modules, or the algorithm); use the \
                         userspace backend"
                    )
                } else {
                    format!("the kernel refused the ESP state: {os}")
                };
                return Err(IpsecError::Io {
                    op: "XFRM_MSG_NEWSA",
                    reason,
                });
            }
            done.push((d.dst.ip(), d.spi));
        }
        let mut i = self.lock();
        i.states.extend(done);
        Ok(())
    }

    /// Installs the set's four policies (two out, two in; any transport protocol). All or
    /// nothing.
    pub fn install_policies(&self, set: &ImsSaSet) -> Result<()> {
        let mut done = Vec::new();
        for d in directions(set) {
            if let Err(errno) = self.new_policy(&d) {
                for (s, t, o) in done {
                    let _ = self.del_policy(s, t, o);
                }
                return Err(IpsecError::Io {
                    op: "XFRM_MSG_UPDPOLICY",
                    reason: std::io::Error::from_raw_os_error(errno).to_string(),
                });
            }
            done.push((d.src, d.dst, d.out));
        }
        self.lock().policies.extend(done);
        Ok(())
    }

    /// Deletes the set's policies; returns how many were deleted.
    pub fn remove_policies(&self, set: &ImsSaSet) -> usize {
        let mut n = 0;
        for d in directions(set) {
            if self.del_policy(d.src, d.dst, d.out).is_ok() {
                n += 1;
            }
            self.lock().policies.remove(&(d.src, d.dst, d.out));
        }
        n
    }

    /// Deletes the set's states; returns how many were deleted.
    pub fn remove_states(&self, set: &ImsSaSet) -> usize {
        let mut n = 0;
        for d in directions(set) {
            if self.del_state(d.dst.ip(), d.spi).is_ok() {
                n += 1;
            }
            self.lock().states.remove(&(d.dst.ip(), d.spi));
        }
        n
    }

    fn cleanup(&self) {
        let (states, policies) = {
            let mut i = self.lock();
            (
                std::mem::take(&mut i.states),
                std::mem::take(&mut i.policies),
            )
        };
        for (s, d, o) in policies {
            let _ = self.del_policy(s, d, o);
        }
        for (dst, spi) in states {
            let _ = self.del_state(dst, spi);
        }
    }
}

impl Drop for XfrmBackend {
    fn drop(&mut self) {
        self.cleanup();
    }
}

impl SaBackend for XfrmBackend {
    fn name(&self) -> &'static str {
        "xfrm"
    }

    fn install(&self, set: &ImsSaSet) -> Result<()> {
        self.install_states(set)?;
        if let Err(e) = self.install_policies(set) {
            self.remove_states(set);
            return Err(e);
        }
        log_set(self.keylog.as_ref(), set)
    }

    fn remove(&self, set: &ImsSaSet) -> Result<()> {
        self.remove_policies(set);
        self.remove_states(set);
        Ok(())
    }

    fn stats(&self) -> BackendStats {
        let i = self.lock();
        BackendStats {
            inbound_sas: i.states.len() / 2,
            outbound_sas: i.states.len() - i.states.len() / 2,
            ..BackendStats::default()
        }
    }

    fn shutdown(&self) {
        self.cleanup();
    }
}
