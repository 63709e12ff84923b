//! The tokio driver around [`Engine`]: listens, connects, frames streams with [`DiameterCodec`],
//! runs the timers, hands incoming requests to a [`Handler`] and returns answers to callers of
//! [`Node::request`]. All protocol decisions are the engine's.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use futures::future::BoxFuture;
use futures::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinSet;
use tokio_util::codec::FramedRead;

use crate::engine::{Action, Engine, EngineConfig, PeerInfo};
use crate::error::{Error, Result};
use crate::framing::{DiameterCodec, Frame};
use crate::message::{Limits, Message};
use crate::peer::{ConnId, PeerState};
use crate::transport::{BoxStream, Listener, TcpTransport, Transport};

/// Handles requests that peers send us. Closures `Fn(Message) -> impl Future<Output = Message>`
/// implement it. Build the answer with [`Message::answer`]; Origin-Host/Realm are added if absent.
pub trait Handler: Send + Sync + 'static {
    /// Answer one request.
    fn handle(&self, request: Message) -> BoxFuture<'static, Message>;
}

impl<F, Fut> Handler for F
where
    F: Fn(Message) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Message> + Send + 'static,
{
    fn handle(&self, request: Message) -> BoxFuture<'static, Message> {
        Box::pin(self(request))
    }
}

/// Node configuration.
#[derive(Debug, Clone, Default)]
pub struct NodeConfig {
    /// The engine's configuration (identity, peers, routes, timers, dictionary).
    pub engine: EngineConfig,
    /// Where to listen (None: client only).
    pub listen: Option<SocketAddr>,
    /// Framing limits.
    pub limits: Limits,
}

/// Messages queued per connection before a peer that does not read is disconnected.
const WRITE_QUEUE: usize = 4096;

enum Cmd {
    Request(Message, Option<Duration>, oneshot::Sender<Result<Message>>),
    Answer(ConnId, Message),
    Accepted(BoxStream),
    Connected(String, BoxStream),
    ConnectFailed(String),
    Frame(ConnId, Frame),
    Closed(ConnId),
    Stop(oneshot::Sender<()>),
}

/// A running Diameter node.
pub struct Node {
    tx: mpsc::UnboundedSender<Cmd>,
    local_addr: Option<SocketAddr>,
    states: watch::Receiver<HashMap<String, PeerInfo>>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("local_addr", &self.local_addr)
            .finish()
    }
}

impl Node {
    /// Start over TCP.
    pub async fn start(cfg: NodeConfig, handler: impl Handler) -> Result<Node> {
        Self::start_with(cfg, handler, Arc::new(TcpTransport)).await
    }

    /// Start over any transport.
    pub async fn start_with(
        cfg: NodeConfig,
        handler: impl Handler,
        transport: Arc<dyn Transport>,
    ) -> Result<Node> {
        let listener = match cfg.listen {
            Some(a) => Some(transport.bind(a).await?),
            None => None,
        };
        let local_addr = match &listener {
            Some(l) => Some(l.local_addr()?),
            None => None,
        };
        let (tx, rx) = mpsc::unbounded_channel();
        let (states_tx, states) = watch::channel(HashMap::new());
        let driver = Driver {
            engine: Engine::new(cfg.engine),
            limits: cfg.limits,
            transport,
            handler: Arc::new(handler),
            tx: tx.clone(),
            writers: HashMap::new(),
            waiters: HashMap::new(),
            next_req: 1,
            next_conn: 1,
            tasks: JoinSet::new(),
            states: states_tx,
            stop_waiters: Vec::new(),
            published: u64::MAX,
        };
        let task = tokio::spawn(driver.run(rx, listener));
        Ok(Node {
            tx,
            local_addr,
            states,
            task,
        })
    }

    /// The listening address.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.local_addr
    }

    /// Send a request and wait for its answer (routing, ids, Origin-Host/Realm filled in).
    pub async fn request(&self, msg: Message) -> Result<Message> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Cmd::Request(msg, None, tx))
            .map_err(|_| Error::Closed)?;
        rx.await.map_err(|_| Error::Closed)?
    }

    /// [`Node::request`] with its own answer timeout instead of the configured one.
    pub async fn request_with_timeout(&self, msg: Message, timeout: Duration) -> Result<Message> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Cmd::Request(msg, Some(timeout), tx))
            .map_err(|_| Error::Closed)?;
        rx.await.map_err(|_| Error::Closed)?
    }

    /// State of the peer `host`, if known.
    pub fn peer_state(&self, host: &str) -> Option<PeerState> {
        self.states.borrow().get(host).map(|i| i.state)
    }

    /// Snapshot of the peer `host` (state, counters, advertised capabilities).
    pub fn peer_info(&self, host: &str) -> Option<PeerInfo> {
        self.states.borrow().get(host).cloned()
    }

    /// Wait until the peer `host` is open (R-Open or I-Open).
    pub async fn wait_open(&self, host: &str, timeout: Duration) -> Result<()> {
        self.wait_state(host, timeout, |s| {
            matches!(s, Some(PeerState::ROpen | PeerState::IOpen))
        })
        .await
    }

    /// Wait until the peer's state satisfies `f`.
    pub async fn wait_state(
        &self,
        host: &str,
        timeout: Duration,
        f: impl Fn(Option<PeerState>) -> bool,
    ) -> Result<()> {
        let mut rx = self.states.clone();
        let fut = async {
            loop {
                if f(rx.borrow_and_update().get(host).map(|i| i.state)) {
                    return Ok(());
                }
                rx.changed().await.map_err(|_| Error::Closed)?;
            }
        };
        tokio::time::timeout(timeout, fut)
            .await
            .map_err(|_| Error::Timeout)?
    }

    /// Graceful shutdown: DPR to every open peer, wait (bounded) for the DPAs, stop.
    pub async fn shutdown(self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Cmd::Stop(tx)).is_ok() {
            let _ = tokio::time::timeout(Duration::from_secs(6), rx).await;
        }
        self.task.abort();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Driver {
    engine: Engine,
    limits: Limits,
    transport: Arc<dyn Transport>,
    handler: Arc<dyn Handler>,
    tx: mpsc::UnboundedSender<Cmd>,
    writers: HashMap<ConnId, mpsc::Sender<Message>>,
    waiters: HashMap<u64, oneshot::Sender<Result<Message>>>,
    next_req: u64,
    next_conn: ConnId,
    tasks: JoinSet<()>,
    states: watch::Sender<HashMap<String, PeerInfo>>,
    stop_waiters: Vec<oneshot::Sender<()>>,
    published: u64,
}

impl Driver {
    async fn run(
        mut self,
        mut rx: mpsc::UnboundedReceiver<Cmd>,
        listener: Option<Box<dyn Listener>>,
    ) {
        if let Some(l) = listener {
            let tx = self.tx.clone();
            self.tasks.spawn(accept_loop(l, tx));
        }
        self.engine.start(Instant::now());
        loop {
            self.drain();
            if !self.stop_waiters.is_empty() && self.engine.all_closed() {
                for w in self.stop_waiters.drain(..) {
                    let _ = w.send(());
                }
            }
            let deadline = self.engine.poll_timeout();
            let sleep = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(tokio::time::Instant::from_std(d)).await,
                    None => futures::future::pending::<()>().await,
                }
            };
            tokio::select! {
                cmd = rx.recv() => match cmd {
                    Some(c) => self.command(c),
                    None => return,
                },
                _ = sleep => self.engine.handle_timeout(Instant::now()),
                Some(_) = self.tasks.join_next(), if !self.tasks.is_empty() => {}
            }
        }
    }

    fn command(&mut self, c: Cmd) {
        let now = Instant::now();
        match c {
            Cmd::Request(m, timeout, reply) => {
                let id = self.next_req;
                self.next_req += 1;
                self.waiters.insert(id, reply);
                match timeout {
                    Some(t) => self.engine.request_with_timeout(id, m, t, now),
                    None => self.engine.request(id, m, now),
                }
            }
            Cmd::Answer(conn, m) => self.engine.answer(conn, m),
            Cmd::Accepted(s) => {
                let conn = self.spawn_conn(s);
                self.engine.accepted(conn, now);
            }
            Cmd::Connected(peer, s) => {
                let conn = self.spawn_conn(s);
                self.engine.connected(&peer, conn, now);
            }
            Cmd::ConnectFailed(peer) => self.engine.connect_failed(&peer, now),
            Cmd::Frame(conn, f) => {
                if self.writers.contains_key(&conn) {
                    self.engine.frame(conn, f, now)
                }
            }
            Cmd::Closed(conn) => {
                self.writers.remove(&conn);
                self.engine.disconnected(conn, now);
            }
            Cmd::Stop(w) => {
                self.stop_waiters.push(w);
                self.engine.stop(now);
            }
        }
    }

    fn spawn_conn(&mut self, s: BoxStream) -> ConnId {
        let conn = self.next_conn;
        self.next_conn += 1;
        let (r, mut w) = tokio::io::split(s);
        let (wtx, mut wrx) = mpsc::channel::<Message>(WRITE_QUEUE);
        self.writers.insert(conn, wtx);
        let tx = self.tx.clone();
        let limits = self.limits;
        let reader = self.tasks.spawn(async move {
            let mut framed = FramedRead::new(r, DiameterCodec::new(limits));
            while let Some(item) = framed.next().await {
                match item {
                    Ok(f) => {
                        if tx.send(Cmd::Frame(conn, f)).is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        tracing::info!(conn, %e, "unframeable input; disconnecting");
                        break;
                    }
                }
            }
            let _ = tx.send(Cmd::Closed(conn));
        });
        let tx = self.tx.clone();
        self.tasks.spawn(async move {
            let mut buf = BytesMut::with_capacity(4096);
            while let Some(m) = wrx.recv().await {
                buf.clear();
                m.encode(&mut buf);
                while let Ok(m) = wrx.try_recv() {
                    m.encode(&mut buf);
                }
                if w.write_all(&buf).await.is_err() {
                    break;
                }
            }
            let _ = w.shutdown().await;
            reader.abort();
            let _ = tx.send(Cmd::Closed(conn));
        });
        conn
    }

    fn drain(&mut self) {
        while let Some(a) = self.engine.poll_action() {
            match a {
                Action::Connect { peer, addr } => {
                    let t = self.transport.clone();
                    let tx = self.tx.clone();
                    self.tasks.spawn(async move {
                        let r =
                            tokio::time::timeout(Duration::from_secs(10), t.connect(addr)).await;
                        let _ = match r {
                            Ok(Ok(s)) => tx.send(Cmd::Connected(peer, s)),
                            _ => tx.send(Cmd::ConnectFailed(peer)),
                        };
                    });
                }
                Action::Send { conn, msg } => {
                    let full = match self.writers.get(&conn) {
                        Some(w) => w.try_send(msg).is_err(),
                        None => false,
                    };
                    if full {
                        // The peer does not read (or the writer died): drop the connection rather
                        // than queue without bound.
                        tracing::warn!(conn, "write queue full; disconnecting");
                        self.writers.remove(&conn);
                        self.engine.disconnected(conn, Instant::now());
                    }
                }
                Action::Close { conn } => {
                    self.writers.remove(&conn);
                }
                Action::Request { conn, request, .. } => {
                    let h = self.handler.clone();
                    let tx = self.tx.clone();
                    self.tasks.spawn(async move {
                        let ans = h.handle(request).await;
                        let _ = tx.send(Cmd::Answer(conn, ans));
                    });
                }
                Action::Complete { id, result } => {
                    if let Some(w) = self.waiters.remove(&id) {
                        let _ = w.send(result);
                    }
                }
                Action::PeerUp { peer } => tracing::info!(%peer, "peer up"),
                Action::PeerDown { peer } => tracing::info!(%peer, "peer down"),
            }
        }
        // Publish peer states when they may have changed.
        if self.engine.generation() == self.published {
            return;
        }
        self.published = self.engine.generation();
        let snapshot = self.engine.peer_infos();
        self.states.send_if_modified(|s| {
            if *s != snapshot {
                *s = snapshot;
                true
            } else {
                false
            }
        });
    }
}

async fn accept_loop(mut l: Box<dyn Listener>, tx: mpsc::UnboundedSender<Cmd>) {
    loop {
        match l.accept().await {
            Ok((s, _)) => {
                if tx.send(Cmd::Accepted(s)).is_err() {
                    return;
                }
            }
            Err(e) => {
                tracing::warn!(%e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}
