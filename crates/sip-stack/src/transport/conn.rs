//! One TCP/TLS connection: a task that frames the byte stream into messages with
//! `sip::decode_stream` (RFC 3261 §18.3: Content-Length framing), answers CRLFCRLF keep-alive pings
//! (RFC 5626 §3.5.1), enforces the idle timeout and the per-connection buffer cap, and writes
//! queued messages. A peer sending garbage only ever closes its own connection.

use super::endpoint::{Inbound, Inner};
use crate::flow::Flow;
use crate::{Error, Result};
use bytes::{Bytes, BytesMut};
use sip::StreamItem;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};
use tokio::task::AbortHandle;

/// Queues bytes for a connection, refusing beyond the configured buffer cap.
#[derive(Clone)]
pub(crate) struct ConnSender {
    tx: mpsc::UnboundedSender<Bytes>,
    queued: Arc<AtomicUsize>,
    cap: usize,
    id: u64,
}

impl ConnSender {
    pub(crate) fn send(&self, data: Bytes) -> Result<()> {
        let n = data.len();
        let before = self.queued.fetch_add(n, Ordering::Relaxed);
        if before + n > self.cap {
            self.queued.fetch_sub(n, Ordering::Relaxed);
            return Err(Error::Io(std::io::Error::new(
                std::io::ErrorKind::WouldBlock,
                "connection send buffer full",
            )));
        }
        self.tx
            .send(data)
            .map_err(|_| Error::ConnectionClosed(self.id))
    }
}

pub(crate) struct ConnEntry {
    pub(crate) flow: Flow,
    sender: ConnSender,
    pub(crate) abort: AbortHandle,
}

impl ConnEntry {
    pub(crate) fn sender(&self) -> ConnSender {
        self.sender.clone()
    }
}

/// Registers the connection and starts its task; returns its sender.
pub(crate) fn spawn_conn<S>(inner: Arc<Inner>, stream: S, flow: Flow) -> ConnSender
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let id = flow.conn.unwrap_or_default();
    let (tx, rx) = mpsc::unbounded_channel();
    let sender = ConnSender {
        tx,
        queued: Arc::new(AtomicUsize::new(0)),
        cap: inner.cfg.max_connection_buffer,
        id,
    };
    let (go_tx, go_rx) = oneshot::channel::<()>();
    let task = tokio::spawn(run(inner.clone(), stream, flow, rx, sender.clone(), go_rx));
    {
        let mut c = inner.conns.lock().unwrap_or_else(|p| p.into_inner());
        c.by_id.insert(
            id,
            ConnEntry {
                flow,
                sender: sender.clone(),
                abort: task.abort_handle(),
            },
        );
        c.by_remote.insert((flow.transport, flow.remote), id);
    }
    inner.conn_count.fetch_add(1, Ordering::Relaxed);
    let _ = go_tx.send(());
    sender
}

async fn run<S>(
    inner: Arc<Inner>,
    stream: S,
    flow: Flow,
    mut rx: mpsc::UnboundedReceiver<Bytes>,
    pong: ConnSender,
    go: oneshot::Receiver<()>,
) where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let _ = go.await;
    let (mut rd, mut wr) = tokio::io::split(stream);
    let queued = pong.queued.clone();
    let writer = async move {
        while let Some(b) = rx.recv().await {
            let n = b.len();
            let ok = wr.write_all(&b).await.is_ok();
            queued.fetch_sub(n, Ordering::Relaxed);
            if !ok {
                break;
            }
        }
        let _ = wr.shutdown().await;
    };
    let cfg = &inner.cfg;
    let reader = async {
        let mut buf = BytesMut::with_capacity(8192);
        loop {
            buf.reserve(8192);
            match tokio::time::timeout(cfg.idle_timeout, rd.read_buf(&mut buf)).await {
                Ok(Ok(n)) if n > 0 => {}
                _ => return,
            }
            if buf.len() > cfg.max_connection_buffer {
                tracing::debug!(%flow, "connection buffer cap exceeded, closing");
                return;
            }
            loop {
                match sip::decode_stream(&mut buf, &cfg.limits) {
                    Ok(Some(StreamItem::Message(msg))) => {
                        if inner.inbound.send(Inbound { msg, flow }).await.is_err() {
                            return;
                        }
                    }
                    Ok(Some(StreamItem::Ping)) => {
                        let _ = pong.send(Bytes::from_static(b"\r\n"));
                    }
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    Err(e) => {
                        tracing::debug!(%flow, error = %e, "bad stream data, closing");
                        // a request that does not parse still gets its 400 before the close
                        if let Some(resp) = super::reject::reject_unparsable(&buf, &e) {
                            let _ = pong.send(resp);
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                        return;
                    }
                }
            }
        }
    };
    tokio::select! {
        _ = writer => {}
        _ = reader => {}
    }
    inner.remove_conn(flow.conn.unwrap_or_default());
}
