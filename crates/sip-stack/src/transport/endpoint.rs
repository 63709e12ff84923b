//! The tokio driver's socket owner: listening sockets added and removed at run time (UDP with
//! several SO_REUSEPORT sockets per port, TCP, TLS), outgoing TCP/TLS connections reused per
//! flow, and every received message delivered with its [`Flow`].

use super::conn::{spawn_conn, ConnEntry};
use super::tls::TlsConfig;
use crate::flow::{ConnId, Flow, Transport};
use crate::{Error, Result};
use bytes::Bytes;
use sip::{Limits, Message};
use socket2::{Domain, Protocol, Socket, Type};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Endpoint settings.
#[derive(Debug, Clone)]
pub struct EndpointConfig {
    /// UDP sockets bound to each UDP port with SO_REUSEPORT, each with its own receive task, so
    /// that the kernel spreads datagrams over cores.
    pub udp_sockets_per_port: usize,
    /// Maximum number of TCP/TLS connections (accepted and opened); more are refused.
    pub max_connections: usize,
    /// Maximum bytes buffered per connection, in either direction; beyond it the connection is
    /// closed (inbound) or the send fails (outbound).
    pub max_connection_buffer: usize,
    /// A connection with nothing received for this long is closed.
    pub idle_timeout: Duration,
    /// Time allowed for a TCP connect plus TLS handshake.
    pub connect_timeout: Duration,
    /// Parser limits (maximum message size etc.).
    pub limits: Limits,
    /// TLS settings; without them TLS listeners and connections fail.
    pub tls: Option<TlsConfig>,
    /// Capacity of the inbound message channel.
    pub inbound_capacity: usize,
}

impl Default for EndpointConfig {
    fn default() -> Self {
        EndpointConfig {
            udp_sockets_per_port: 2,
            max_connections: 10_000,
            max_connection_buffer: 256 * 1024,
            idle_timeout: Duration::from_secs(600),
            connect_timeout: Duration::from_secs(5),
            limits: Limits::default(),
            tls: None,
            inbound_capacity: 65_536,
        }
    }
}

/// A received message and the flow it came on.
#[derive(Debug, Clone)]
pub struct Inbound {
    /// The parsed message (framing, start line and header-line syntax checked; call
    /// `msg.validate()` before acting on a request).
    pub msg: Message,
    /// Transport, local and remote socket, connection.
    pub flow: Flow,
}

struct UdpGroup {
    local: SocketAddr,
    sockets: Vec<Arc<UdpSocket>>,
    tasks: Vec<JoinHandle<()>>,
}

struct Listener {
    transport: Transport,
    local: SocketAddr,
    task: JoinHandle<()>,
}

pub(crate) struct Inner {
    pub(crate) cfg: EndpointConfig,
    pub(crate) inbound: mpsc::Sender<Inbound>,
    udp: Mutex<Vec<UdpGroup>>,
    listeners: Mutex<Vec<Listener>>,
    pub(crate) conns: Mutex<Conns>,
    next_id: AtomicU64,
    pub(crate) conn_count: AtomicUsize,
}

#[derive(Default)]
pub(crate) struct Conns {
    pub(crate) by_id: HashMap<ConnId, ConnEntry>,
    pub(crate) by_remote: HashMap<(Transport, SocketAddr), ConnId>,
}

impl Inner {
    pub(crate) fn remove_conn(&self, id: ConnId) {
        if let Ok(mut c) = self.conns.lock() {
            if let Some(e) = c.by_id.remove(&id) {
                let k = (e.flow.transport, e.flow.remote);
                if c.by_remote.get(&k) == Some(&id) {
                    c.by_remote.remove(&k);
                }
                self.conn_count.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }
}

/// Owns the sockets; cheap to clone (all clones share them). Must be used inside a tokio runtime.
#[derive(Clone)]
pub struct Endpoint {
    inner: Arc<Inner>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn new_socket(addr: SocketAddr, ty: Type, proto: Protocol) -> Result<Socket> {
    let s = Socket::new(Domain::for_address(addr), ty, Some(proto))?;
    s.set_reuse_address(true)?;
    #[cfg(unix)]
    s.set_reuse_port(true)?;
    if addr.is_ipv6() {
        s.set_only_v6(true)?;
    }
    s.set_nonblocking(true)?;
    Ok(s)
}

/// `SO_BINDTODEVICE` when a device is given (Linux only; elsewhere an error).
fn bind_device(s: &Socket, device: Option<&str>) -> Result<()> {
    let Some(dev) = device else { return Ok(()) };
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        s.bind_device(Some(dev.as_bytes()))?;
        Ok(())
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        let _ = (s, dev);
        Err(std::io::Error::from(std::io::ErrorKind::Unsupported).into())
    }
}

impl Endpoint {
    /// A new endpoint with no sockets, and the receiver of every inbound message.
    pub fn new(cfg: EndpointConfig) -> (Endpoint, mpsc::Receiver<Inbound>) {
        let (tx, rx) = mpsc::channel(cfg.inbound_capacity.max(1));
        let inner = Inner {
            cfg,
            inbound: tx,
            udp: Mutex::new(Vec::new()),
            listeners: Mutex::new(Vec::new()),
            conns: Mutex::new(Conns::default()),
            next_id: AtomicU64::new(1),
            conn_count: AtomicUsize::new(0),
        };
        (
            Endpoint {
                inner: Arc::new(inner),
            },
            rx,
        )
    }

    /// The configuration.
    pub fn config(&self) -> &EndpointConfig {
        &self.inner.cfg
    }

    /// Starts listening on `addr` (port 0 picks a free port); returns the bound address. Can be
    /// called at any time (e.g. for the protected ports of a security association, TS 33.203
    /// §7.1). UDP binds [`EndpointConfig::udp_sockets_per_port`] sockets.
    pub async fn add_listener(&self, transport: Transport, addr: SocketAddr) -> Result<SocketAddr> {
        self.add_listener_on_device(transport, addr, None).await
    }

    /// [`add_listener`](Self::add_listener) with the sockets bound to a network interface
    /// (`SO_BINDTODEVICE`, Linux): they only receive what arrives on that interface — e.g. the
    /// protected ports of a userspace IPsec datapath bound to its TUN device, so plaintext sent to
    /// them from the wire is refused by the kernel (TS 33.203 §7.1: only ESP-protected traffic on
    /// the protected ports).
    pub async fn add_listener_on_device(
        &self,
        transport: Transport,
        addr: SocketAddr,
        device: Option<&str>,
    ) -> Result<SocketAddr> {
        match transport {
            Transport::Udp => self.add_udp(addr, device),
            Transport::Tcp | Transport::Tls => {
                if transport == Transport::Tls && self.inner.cfg.tls.is_none() {
                    return Err(Error::Tls("no TLS configuration".into()));
                }
                let s = new_socket(addr, Type::STREAM, Protocol::TCP)?;
                bind_device(&s, device)?;
                s.bind(&addr.into())?;
                s.listen(1024)?;
                let listener = TcpListener::from_std(std::net::TcpListener::from(s))?;
                let local = listener.local_addr()?;
                let inner = self.inner.clone();
                let task = tokio::spawn(accept_loop(inner, listener, transport, local));
                lock(&self.inner.listeners).push(Listener {
                    transport,
                    local,
                    task,
                });
                Ok(local)
            }
        }
    }

    fn add_udp(&self, addr: SocketAddr, device: Option<&str>) -> Result<SocketAddr> {
        let n = self.inner.cfg.udp_sockets_per_port.max(1);
        let mut sockets = Vec::with_capacity(n);
        let mut bound = addr;
        for _ in 0..n {
            let s = new_socket(bound, Type::DGRAM, Protocol::UDP)?;
            bind_device(&s, device)?;
            let _ = s.set_recv_buffer_size(4 << 20);
            s.bind(&bound.into())?;
            let u = UdpSocket::from_std(std::net::UdpSocket::from(s))?;
            bound = u.local_addr()?;
            sockets.push(Arc::new(u));
        }
        let tasks = sockets
            .iter()
            .map(|s| tokio::spawn(udp_loop(self.inner.clone(), s.clone(), bound)))
            .collect();
        lock(&self.inner.udp).push(UdpGroup {
            local: bound,
            sockets,
            tasks,
        });
        Ok(bound)
    }

    /// Stops listening on `local` (connections already accepted stay open until closed).
    /// Returns false if there was no such listener.
    pub fn remove_listener(&self, transport: Transport, local: SocketAddr) -> bool {
        if transport == Transport::Udp {
            let mut g = lock(&self.inner.udp);
            let before = g.len();
            g.retain(|u| {
                let keep = u.local != local;
                if !keep {
                    u.tasks.iter().for_each(JoinHandle::abort);
                }
                keep
            });
            return g.len() != before;
        }
        let mut l = lock(&self.inner.listeners);
        let before = l.len();
        l.retain(|x| {
            let keep = !(x.transport == transport && x.local == local);
            if !keep {
                x.task.abort();
            }
            keep
        });
        l.len() != before
    }

    /// The bound addresses of every listener.
    pub fn listeners(&self) -> Vec<(Transport, SocketAddr)> {
        let mut v: Vec<_> = lock(&self.inner.udp)
            .iter()
            .map(|u| (Transport::Udp, u.local))
            .collect();
        v.extend(
            lock(&self.inner.listeners)
                .iter()
                .map(|l| (l.transport, l.local)),
        );
        v
    }

    /// Number of open TCP/TLS connections.
    pub fn connection_count(&self) -> usize {
        self.inner.conn_count.load(Ordering::Relaxed)
    }

    /// Closes a connection.
    pub fn close_connection(&self, id: ConnId) {
        let e = lock(&self.inner.conns)
            .by_id
            .get(&id)
            .map(|e| e.abort.clone());
        if let Some(a) = e {
            a.abort();
        }
        self.inner.remove_conn(id);
    }

    /// Sends `data` on `flow` and returns the flow actually used (with the connection id for
    /// TCP/TLS). UDP leaves from the socket bound at `flow.local` (or any socket of the family
    /// when `flow.local` is unspecified). TCP/TLS use `flow.conn` if it is open, else a
    /// connection to `flow.remote`, else open one (bound to `flow.local` if its port is set).
    pub async fn send(&self, flow: &Flow, data: Bytes) -> Result<Flow> {
        match flow.transport {
            Transport::Udp => {
                let (sock, local) = self.udp_socket(flow)?;
                sock.send_to(&data, flow.remote).await?;
                Ok(Flow {
                    local,
                    conn: None,
                    ..*flow
                })
            }
            Transport::Tcp | Transport::Tls => {
                let existing = {
                    let c = lock(&self.inner.conns);
                    flow.conn
                        .filter(|id| c.by_id.contains_key(id))
                        .or_else(|| c.by_remote.get(&(flow.transport, flow.remote)).copied())
                        .and_then(|id| c.by_id.get(&id).map(|e| (e.sender(), e.flow)))
                };
                let (sender, used) = match existing {
                    Some(x) => x,
                    None => self.connect(flow).await?,
                };
                sender.send(data)?;
                Ok(used)
            }
        }
    }

    /// Sends on one existing TCP/TLS connection only (e.g. the TLS connection a registration is
    /// bound to, TS 24.229 §5.2.2 / TS 33.203 Annex H); fails with
    /// [`Error::ConnectionClosed`] rather than opening another one.
    pub fn send_on_connection(&self, id: ConnId, data: Bytes) -> Result<Flow> {
        let (sender, flow) = {
            let c = lock(&self.inner.conns);
            let e = c.by_id.get(&id).ok_or(Error::ConnectionClosed(id))?;
            (e.sender(), e.flow)
        };
        sender.send(data)?;
        Ok(flow)
    }

    /// The flow of an open connection.
    pub fn connection_flow(&self, id: ConnId) -> Option<Flow> {
        lock(&self.inner.conns).by_id.get(&id).map(|e| e.flow)
    }

    fn udp_socket(&self, flow: &Flow) -> Result<(Arc<UdpSocket>, SocketAddr)> {
        let g = lock(&self.inner.udp);
        let exact = g.iter().find(|u| u.local == flow.local);
        let pick = exact
            .or_else(|| {
                g.iter().find(|u| {
                    u.local.is_ipv4() == flow.remote.is_ipv4()
                        && (flow.local.port() == 0 || u.local.port() == flow.local.port())
                        && (flow.local.ip().is_unspecified() || u.local.ip() == flow.local.ip())
                })
            })
            .or_else(|| {
                g.iter()
                    .find(|u| u.local.is_ipv4() == flow.remote.is_ipv4())
            });
        let u = pick.ok_or(Error::NoSocket {
            transport: Transport::Udp,
            remote: flow.remote,
        })?;
        // spread sends over the port's sockets by remote port
        let i = flow.remote.port() as usize % u.sockets.len().max(1);
        let s = u
            .sockets
            .get(i)
            .or_else(|| u.sockets.first())
            .cloned()
            .ok_or(Error::NoSocket {
                transport: Transport::Udp,
                remote: flow.remote,
            })?;
        Ok((s, u.local))
    }

    async fn connect(&self, flow: &Flow) -> Result<(super::conn::ConnSender, Flow)> {
        let cfg = &self.inner.cfg;
        if self.inner.conn_count.load(Ordering::Relaxed) >= cfg.max_connections {
            return Err(Error::TooManyConnections);
        }
        let sock = if flow.remote.is_ipv4() {
            tokio::net::TcpSocket::new_v4()?
        } else {
            tokio::net::TcpSocket::new_v6()?
        };
        if flow.local.port() != 0 {
            sock.set_reuseaddr(true)?;
            #[cfg(unix)]
            sock.set_reuseport(true)?;
            sock.bind(flow.local)?;
        }
        let fut = async {
            let stream: TcpStream = sock.connect(flow.remote).await?;
            let _ = stream.set_nodelay(true);
            Ok::<_, Error>(stream)
        };
        let stream = tokio::time::timeout(cfg.connect_timeout, fut)
            .await
            .map_err(|_| Error::Io(std::io::ErrorKind::TimedOut.into()))??;
        let local = stream.local_addr()?;
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let used = Flow {
            transport: flow.transport,
            local,
            remote: flow.remote,
            conn: Some(id),
        };
        let sender = match flow.transport {
            Transport::Tls => {
                let tls = cfg
                    .tls
                    .as_ref()
                    .ok_or(Error::Tls("no TLS configuration".into()))?;
                let connector = tokio_rustls::TlsConnector::from(tls.client.clone());
                let name = rustls::pki_types::ServerName::IpAddress(flow.remote.ip().into());
                let s = tokio::time::timeout(cfg.connect_timeout, connector.connect(name, stream))
                    .await
                    .map_err(|_| Error::Io(std::io::ErrorKind::TimedOut.into()))?
                    .map_err(|e| Error::Tls(e.to_string()))?;
                spawn_conn(self.inner.clone(), s, used)
            }
            _ => spawn_conn(self.inner.clone(), stream, used),
        };
        Ok((sender, used))
    }
}

async fn udp_loop(inner: Arc<Inner>, sock: Arc<UdpSocket>, local: SocketAddr) {
    let mut buf = vec![0u8; 65_535];
    loop {
        let (n, remote) = match sock.recv_from(&mut buf).await {
            Ok(x) => x,
            // ICMP errors surface here on Linux; keep receiving
            Err(_) => continue,
        };
        let Some(data) = buf.get(..n) else { continue };
        // RFC 5626 §4.4.1 / §3.5.1: keep-alives (CRLF, or nothing) are not messages
        if data.iter().all(|b| matches!(b, b'\r' | b'\n' | b' ' | 0)) {
            continue;
        }
        let flow = Flow {
            transport: Transport::Udp,
            local,
            remote,
            conn: None,
        };
        match Message::parse_with(Bytes::copy_from_slice(data), &inner.cfg.limits) {
            Ok(msg) => {
                if inner.inbound.send(Inbound { msg, flow }).await.is_err() {
                    return;
                }
            }
            Err(e) => {
                tracing::debug!(%flow, error = %e, "unparsable datagram");
                // RFC 3261 §21.4.1: a request that does not parse still gets a 400 (513/505)
                if let Some(resp) = super::reject::reject_unparsable(data, &e) {
                    let _ = sock.send_to(&resp, remote).await;
                }
            }
        }
    }
}

async fn accept_loop(
    inner: Arc<Inner>,
    listener: TcpListener,
    transport: Transport,
    local: SocketAddr,
) {
    let acceptor = inner
        .cfg
        .tls
        .as_ref()
        .map(|t| tokio_rustls::TlsAcceptor::from(t.server.clone()));
    loop {
        let (stream, remote) = match listener.accept().await {
            Ok(x) => x,
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        if inner.conn_count.load(Ordering::Relaxed) >= inner.cfg.max_connections {
            tracing::warn!(%remote, "connection limit reached, refusing");
            drop(stream);
            continue;
        }
        let _ = stream.set_nodelay(true);
        let id = inner.next_id.fetch_add(1, Ordering::Relaxed);
        let flow = Flow {
            transport,
            local,
            remote,
            conn: Some(id),
        };
        match (transport, &acceptor) {
            (Transport::Tls, Some(acc)) => {
                let acc = acc.clone();
                let inner = inner.clone();
                // handshake off the accept loop so a slow peer stalls no one
                tokio::spawn(async move {
                    let hs = tokio::time::timeout(inner.cfg.connect_timeout, acc.accept(stream));
                    if let Ok(Ok(s)) = hs.await {
                        spawn_conn(inner, s, flow);
                    }
                });
            }
            (Transport::Tls, None) => {}
            _ => {
                spawn_conn(inner.clone(), stream, flow);
            }
        }
    }
}
