//! A trivial IMS-AKA registrar for measuring load generators (`imscore bench`, SIPp) alone. A
//! REGISTER without credentials gets a 401 with a fresh AKA challenge (RFC 3310 §3.1: nonce =
//! base64(RAND ‖ AUTN), Milenage per TS 35.206); a REGISTER with a Digest-AKAv1-MD5 response is
//! checked statelessly (RES recomputed from the RAND of its nonce, RFC 3310 §3.3) and answered 200
//! (or 403); a de-registration likewise. Anything else gets 200.
//!
//! So that the responder is not what a comparison measures, THREADS threads (default: the number
//! of CPUs) share one UDP socket (every client, whatever its number of sockets, is served by all
//! threads) and move datagrams in batches of 64 with `recvmmsg(2)` / `sendmmsg(2)`. Answers are
//! rendered with `MessageBuilder::to_bytes` (not `build`, which would parse each answer again).
//!
//! ```text
//! cargo run --release -p ue --example aka_responder -- 127.0.0.1:5070 K OP AMF [THREADS]
//! ```
//! RANDs whose RES holds a zero byte are not used (SIPp takes RES for a C string).
//! K and OP are 32 hex digits, AMF 4 hex digits (SIPp 3.6 takes `aka_AMF=80` as the raw bytes
//! 0x38 0x30, so answer SIPp with AMF 3830). Prints the counts every second.

use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aka::digest::{self, DigestInput, Qop, QopParams};
use aka::{AkaNonce, Amf, AuthVector, Milenage, Op, Rand, Sqn, K};
use sip::{MessageBuilder, Method};

/// The allocator `imscore` itself uses (so that both sides of a comparison pay the same).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The socket, with 4 MB buffers so bursts are queued rather than dropped.
fn bind(addr: &str) -> std::io::Result<UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let addr: std::net::SocketAddr = addr
        .parse()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let s = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    let _ = s.set_recv_buffer_size(4 << 20);
    let _ = s.set_send_buffer_size(4 << 20);
    s.bind(&addr.into())?;
    Ok(s.into())
}

/// Counters shared by the threads.
#[derive(Default)]
struct Counts {
    challenged: AtomicU64,
    ok: AtomicU64,
    bad: AtomicU64,
}

const BATCH: usize = 64;
const BUF: usize = 16 * 1024;

/// Reads up to BATCH datagrams (blocking for the first); returns (length, source) of each.
fn recv_batch(sock: &UdpSocket, bufs: &mut [u8], out: &mut Vec<(usize, SocketAddr)>) {
    out.clear();
    let mut iov: [libc::iovec; BATCH] = [libc::iovec {
        iov_base: std::ptr::null_mut(),
        iov_len: 0,
    }; BATCH];
    // SAFETY: all-zero mmsghdr / sockaddr_storage are valid
    let mut hdrs: [libc::mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
    let mut addrs: [libc::sockaddr_storage; BATCH] = unsafe { std::mem::zeroed() };
    for i in 0..BATCH {
        iov[i].iov_base = bufs[i * BUF..].as_mut_ptr().cast();
        iov[i].iov_len = BUF;
        hdrs[i].msg_hdr.msg_iov = &mut iov[i];
        hdrs[i].msg_hdr.msg_iovlen = 1;
        hdrs[i].msg_hdr.msg_name = (&mut addrs[i] as *mut libc::sockaddr_storage).cast();
        hdrs[i].msg_hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as u32;
    }
    // SAFETY: the arrays outlive the call and point into `bufs` (BATCH * BUF bytes)
    let n = unsafe {
        libc::recvmmsg(
            sock.as_raw_fd(),
            hdrs.as_mut_ptr(),
            BATCH as u32,
            libc::MSG_WAITFORONE,
            std::ptr::null_mut(),
        )
    };
    for i in 0..n.max(0) as usize {
        let a = &addrs[i];
        let from = match a.ss_family as i32 {
            libc::AF_INET => {
                // SAFETY: the kernel wrote a sockaddr_in for AF_INET
                let v4: &libc::sockaddr_in =
                    unsafe { &*(a as *const _ as *const libc::sockaddr_in) };
                SocketAddr::from((
                    u32::from_be(v4.sin_addr.s_addr).to_be_bytes(),
                    u16::from_be(v4.sin_port),
                ))
            }
            libc::AF_INET6 => {
                // SAFETY: the kernel wrote a sockaddr_in6 for AF_INET6
                let v6: &libc::sockaddr_in6 =
                    unsafe { &*(a as *const _ as *const libc::sockaddr_in6) };
                SocketAddr::from((v6.sin6_addr.s6_addr, u16::from_be(v6.sin6_port)))
            }
            _ => continue,
        };
        out.push(((hdrs[i].msg_len as usize).min(BUF), from));
    }
}

/// Sends each (bytes, destination) with sendmmsg, BATCH per call.
fn send_batch(sock: &UdpSocket, msgs: &[(bytes::Bytes, SocketAddr)]) {
    for chunk in msgs.chunks(BATCH) {
        let mut iov: [libc::iovec; BATCH] = [libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 0,
        }; BATCH];
        // SAFETY: all-zero structures are valid
        let mut hdrs: [libc::mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
        let mut addrs: Vec<socket2::SockAddr> = chunk.iter().map(|(_, a)| (*a).into()).collect();
        for (i, (b, _)) in chunk.iter().enumerate() {
            iov[i].iov_base = b.as_ptr() as *mut libc::c_void;
            iov[i].iov_len = b.len();
            hdrs[i].msg_hdr.msg_iov = &mut iov[i];
            hdrs[i].msg_hdr.msg_iovlen = 1;
            hdrs[i].msg_hdr.msg_name = addrs[i].as_ptr() as *mut libc::c_void;
            hdrs[i].msg_hdr.msg_namelen = addrs[i].len();
        }
        let mut off = 0;
        while off < chunk.len() {
            // SAFETY: hdrs[off..] point at live iovecs, buffers and addresses
            let r = unsafe {
                libc::sendmmsg(
                    sock.as_raw_fd(),
                    hdrs.as_mut_ptr().add(off),
                    (chunk.len() - off) as u32,
                    0,
                )
            };
            if r <= 0 {
                break;
            }
            off += r as usize;
        }
        addrs.clear();
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() != 4 && args.len() != 5 {
        eprintln!("usage: aka_responder ADDR K_HEX OP_HEX AMF_HEX [THREADS]");
        std::process::exit(2);
    }
    let threads = args
        .get(4)
        .and_then(|t| t.parse::<usize>().ok())
        .or_else(|| std::thread::available_parallelism().ok().map(|n| n.get()))
        .unwrap_or(1)
        .max(1);
    let parsed = (|| {
        Some((
            K::from_hex(&args[1]).ok()?,
            Op::from_hex(&args[2]).ok()?,
            Amf::from_hex(&args[3]).ok()?,
        ))
    })();
    let Some((k, op, amf)) = parsed else {
        eprintln!("aka_responder: bad K, OP or AMF");
        std::process::exit(2);
    };
    let m = Milenage::with_op(&k, &op);
    let sock = match bind(&args[0]) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("aka_responder: bind {}: {e}", args[0]);
            std::process::exit(1);
        }
    };
    println!("aka_responder on {} ({threads} threads)", args[0]);
    let counts = Counts::default();
    std::thread::scope(|scope| {
        for t in 0..threads {
            let (sock, m, counts) = (&sock, &m, &counts);
            scope.spawn(move || serve(sock, m, amf, counts, t as u64, threads as u64));
        }
        let mut last = (0, 0, 0);
        loop {
            std::thread::sleep(Duration::from_secs(1));
            let now = (
                counts.challenged.load(Ordering::Relaxed),
                counts.ok.load(Ordering::Relaxed),
                counts.bad.load(Ordering::Relaxed),
            );
            if now != last {
                println!("401 {}  200 {}  403 {}", now.0, now.1, now.2);
                last = now;
            }
        }
    });
}

/// One thread: answers batches of requests from the shared socket.
fn serve(sock: &UdpSocket, m: &Milenage, amf: Amf, counts: &Counts, t: u64, threads: u64) {
    let mut bufs = vec![0u8; BATCH * BUF];
    let mut got = Vec::with_capacity(BATCH);
    let mut out = Vec::with_capacity(BATCH);
    // SEQ counts up per thread (thread t uses t, t + threads, …) with IND cycling over 5 bits
    // (TS 33.102 Annex C.1.1)
    let mut seq: u64 = t;
    loop {
        recv_batch(sock, &mut bufs, &mut got);
        out.clear();
        for (i, &(n, from)) in got.iter().enumerate() {
            let data = &bufs[i * BUF..i * BUF + n];
            if let Some(r) = answer(data, m, amf, counts, &mut seq, threads) {
                out.push((r, from));
            }
        }
        send_batch(sock, &out);
    }
}

/// The answer to one datagram, if any.
fn answer(
    data: &[u8],
    m: &Milenage,
    amf: Amf,
    counts: &Counts,
    seq: &mut u64,
    threads: u64,
) -> Option<bytes::Bytes> {
    let req = sip::Message::parse(bytes::Bytes::copy_from_slice(data)).ok()?;
    if !req.is_request() || req.method() == Some(Method::Ack) {
        return None;
    }
    let auth = req.authorization().ok().flatten();
    let given = auth
        .as_ref()
        .and_then(|a| Some((a.nonce()?, a.response()?)))
        .filter(|(n, _)| !n.is_empty());
    let resp = if req.method() != Some(Method::Register) {
        MessageBuilder::response_to(&req, 200, "OK", Some("resp")).to_bytes()
    } else if let (Some((nonce, response)), Some(a)) = (given, auth.as_ref()) {
        let good = AkaNonce::decode(nonce).ok().is_some_and(|n| {
            let (res, _, _, _) = m.f2345(&n.rand);
            let ha1 = digest::ha1_akav1(a.username().unwrap_or(""), a.realm().unwrap_or(""), &res);
            let qop = match (a.qop(), a.nc(), a.cnonce()) {
                (Some(_), Some(nc), Some(cnonce)) => Some(QopParams {
                    qop: Qop::Auth,
                    nc,
                    cnonce,
                }),
                _ => None,
            };
            let input = DigestInput {
                nonce,
                method: "REGISTER",
                uri: a.uri().unwrap_or(""),
                qop,
                body: b"",
            };
            digest::verify_response(&ha1, &input, response).unwrap_or(false)
        });
        if good {
            counts.ok.fetch_add(1, Ordering::Relaxed);
            let exp = req.expires().ok().flatten().unwrap_or(3600);
            let mut b =
                MessageBuilder::response_to(&req, 200, "OK", Some("resp")).header("Expires", exp);
            if let Some(c) = req.header_value("Contact") {
                b = b.header("Contact", format!("{c};expires={exp}"));
            }
            b.to_bytes()
        } else {
            counts.bad.fetch_add(1, Ordering::Relaxed);
            MessageBuilder::response_to(&req, 403, "Forbidden", Some("resp")).to_bytes()
        }
    } else {
        counts.challenged.fetch_add(1, Ordering::Relaxed);
        *seq += threads;
        let s = *seq;
        let sqn = Sqn::new((s << 5) | (s % 32)).unwrap_or_default();
        // SIPp 3.6 handles RES as a C string, so a RES with a zero byte (1 vector in ~32) makes
        // its digest wrong: such RANDs are skipped, for SIPp's sake (any RAND is valid)
        let mut av = AuthVector::generate(m, Rand::random(), sqn, amf);
        for _ in 0..16 {
            if !av.xres.expose().contains(&0) {
                break;
            }
            av = AuthVector::generate(m, Rand::random(), sqn, amf);
        }
        let realm = auth
            .as_ref()
            .and_then(|a| a.realm().map(|r| r.to_string()))
            .unwrap_or_else(|| "ims.test".into());
        MessageBuilder::response_to(&req, 401, "Unauthorized", Some("resp"))
            .header(
                "WWW-Authenticate",
                format!(
                    "Digest realm=\"{realm}\", nonce=\"{}\", algorithm=AKAv1-MD5, qop=\"auth\"",
                    av.sip_nonce()
                ),
            )
            .to_bytes()
    };
    resp.ok()
}
