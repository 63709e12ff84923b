//! Batched UDP I/O for the load engine: `recvmmsg(2)` / `sendmmsg(2)` on a connected,
//! non-blocking socket, so that one system call moves up to [`BATCH`] datagrams, and `ppoll(2)`
//! to sleep until a socket is readable or a deadline passes.
//!
//! The only `unsafe` of the crate lives here: each call hands the kernel pointers into buffers
//! owned by [`RecvBatch`] or borrowed for the duration of the call, with lengths taken from those
//! buffers.

#![allow(unsafe_code)]

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::Duration;

use bytes::Bytes;

/// Datagrams moved per system call.
pub const BATCH: usize = 64;

/// Size of each receive buffer: larger datagrams are truncated (and then fail to parse, which the
/// engine counts as stray).
pub const RECV_BUF: usize = 16 * 1024;

/// A non-blocking UDP socket connected to `peer` (so the kernel only delivers the peer's
/// datagrams and sends need no address), with `buffer`-byte kernel buffers.
pub fn connected_socket(
    local: SocketAddr,
    peer: SocketAddr,
    buffer: usize,
) -> io::Result<UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let s = Socket::new(Domain::for_address(local), Type::DGRAM, Some(Protocol::UDP))?;
    let _ = s.set_recv_buffer_size(buffer);
    let _ = s.set_send_buffer_size(buffer);
    s.set_nonblocking(true)?;
    s.bind(&local.into())?;
    s.connect(&peer.into())?;
    Ok(s.into())
}

/// Receive buffers for one `recvmmsg` call.
pub struct RecvBatch {
    bufs: Vec<u8>,
    lens: [usize; BATCH],
    n: usize,
}

impl Default for RecvBatch {
    fn default() -> Self {
        RecvBatch {
            bufs: vec![0; BATCH * RECV_BUF],
            lens: [0; BATCH],
            n: 0,
        }
    }
}

impl RecvBatch {
    /// Reads up to [`BATCH`] datagrams without blocking; returns how many (0 when none is
    /// queued). ICMP errors reported on the connected socket (ECONNREFUSED) read as 0.
    pub fn recv(&mut self, sock: &UdpSocket) -> io::Result<usize> {
        self.n = 0;
        let mut iov: [libc::iovec; BATCH] = [libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 0,
        }; BATCH];
        // SAFETY: an all-zero mmsghdr is valid (null pointers, zero lengths)
        let mut hdrs: [libc::mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
        let base = self.bufs.as_mut_ptr();
        for (i, (v, h)) in iov.iter_mut().zip(hdrs.iter_mut()).enumerate() {
            // SAFETY: i * RECV_BUF + RECV_BUF <= bufs.len(), so the pointer stays in the buffer
            v.iov_base = unsafe { base.add(i * RECV_BUF) }.cast();
            v.iov_len = RECV_BUF;
            h.msg_hdr.msg_iov = v;
            h.msg_hdr.msg_iovlen = 1;
        }
        // SAFETY: hdrs and iov live across the call and point into self.bufs, sized as declared
        let r = unsafe {
            libc::recvmmsg(
                sock.as_raw_fd(),
                hdrs.as_mut_ptr(),
                BATCH as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if r < 0 {
            let e = io::Error::last_os_error();
            return match e.kind() {
                io::ErrorKind::WouldBlock
                | io::ErrorKind::Interrupted
                | io::ErrorKind::ConnectionRefused => Ok(0),
                _ => Err(e),
            };
        }
        let n = r as usize;
        for (len, h) in self.lens.iter_mut().zip(hdrs.iter()).take(n) {
            *len = (h.msg_len as usize).min(RECV_BUF);
        }
        self.n = n;
        Ok(n)
    }

    /// Datagram `i` of the last [`RecvBatch::recv`].
    pub fn get(&self, i: usize) -> &[u8] {
        if i >= self.n {
            return &[];
        }
        let start = i * RECV_BUF;
        self.bufs.get(start..start + self.lens[i]).unwrap_or(&[])
    }
}

/// Sends `msgs` on the connected socket, [`BATCH`] per call; returns how many the kernel took.
/// A full socket buffer (EAGAIN) or an ICMP error ends the attempt early: the rest are dropped,
/// as a router would drop them, and the retransmission timers recover.
pub fn send_batch(sock: &UdpSocket, msgs: &[Bytes]) -> usize {
    let mut sent = 0;
    for chunk in msgs.chunks(BATCH) {
        let mut iov: [libc::iovec; BATCH] = [libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 0,
        }; BATCH];
        // SAFETY: an all-zero mmsghdr is valid
        let mut hdrs: [libc::mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
        for ((v, h), m) in iov.iter_mut().zip(hdrs.iter_mut()).zip(chunk) {
            // the kernel only reads through iov_base for a send
            v.iov_base = m.as_ptr() as *mut libc::c_void;
            v.iov_len = m.len();
            h.msg_hdr.msg_iov = v;
            h.msg_hdr.msg_iovlen = 1;
        }
        let mut off = 0;
        while off < chunk.len() {
            // SAFETY: hdrs[off..chunk.len()] point at iovecs that point at live Bytes of `chunk`
            let r = unsafe {
                libc::sendmmsg(
                    sock.as_raw_fd(),
                    hdrs.as_mut_ptr().add(off),
                    (chunk.len() - off) as libc::c_uint,
                    libc::MSG_DONTWAIT,
                )
            };
            if r <= 0 {
                let e = io::Error::last_os_error();
                if r < 0 && e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return sent;
            }
            off += r as usize;
            sent += r as usize;
        }
    }
    sent
}

/// Waits until one of `socks` is readable or `timeout` passes (`None`: no timeout).
pub fn wait_readable(socks: &[UdpSocket], timeout: Option<Duration>) {
    let mut fds: Vec<libc::pollfd> = socks
        .iter()
        .map(|s| libc::pollfd {
            fd: s.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    let ts = timeout.map(|d| libc::timespec {
        tv_sec: d.as_secs().min(i32::MAX as u64) as libc::time_t,
        tv_nsec: d.subsec_nanos() as libc::c_long,
    });
    let tsp = ts
        .as_ref()
        .map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: fds is a live array of fds.len() pollfd; tsp is null or points at `ts`
    unsafe {
        libc::ppoll(
            fds.as_mut_ptr(),
            fds.len() as libc::nfds_t,
            tsp,
            std::ptr::null(),
        );
    }
}
