//! Non-blocking sends for the tokio drivers ([`crate::driver::run_proxy`],
//! [`crate::service::spawn_service`]): UDP datagrams go out at once; TCP/TLS messages are queued
//! per flow to a sender task (in order within a flow), so a slow connect or handshake delays only
//! that flow. Send failures come back on a channel as the transaction to blame (RFC 3261
//! §17.1.1.2 / §18.2.2).

use crate::transaction::TxKey;
use crate::transport::Endpoint;
use crate::{Flow, Transport};
use bytes::Bytes;
use std::collections::HashMap;
use std::time::Duration;
use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};

/// A flow's sender task exits after this long without anything to send.
const FLOW_SENDER_IDLE: Duration = Duration::from_secs(30);

type Outgoing = (Option<TxKey>, Bytes);

/// Per-flow send queues for connection-oriented transports.
pub(crate) struct Senders {
    endpoint: Endpoint,
    queues: HashMap<Flow, UnboundedSender<Outgoing>>,
    failed: UnboundedSender<TxKey>,
}

impl Senders {
    /// Senders on `endpoint`; failed sends of transactions are reported on `failed`.
    pub(crate) fn new(endpoint: Endpoint, failed: UnboundedSender<TxKey>) -> Self {
        Senders {
            endpoint,
            queues: HashMap::new(),
            failed,
        }
    }

    /// Sends (UDP) or queues (TCP/TLS) without waiting for a connection.
    pub(crate) async fn send(
        &mut self,
        key: Option<TxKey>,
        flow: Flow,
        data: Bytes,
    ) -> Option<TxKey> {
        if flow.transport == Transport::Udp {
            return match self.endpoint.send(&flow, data).await {
                Ok(_) => None,
                Err(e) => {
                    tracing::debug!(%flow, error = %e, "send failed");
                    key
                }
            };
        }
        let mut item = (key, data);
        if let Some(q) = self.queues.get(&flow) {
            match q.send(item) {
                Ok(()) => return None,
                // its task ended (idle): start another
                Err(mpsc::error::SendError(back)) => item = back,
            }
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let _ = tx.send(item);
        self.queues.retain(|_, q| !q.is_closed());
        self.queues.insert(flow, tx);
        tokio::spawn(flow_sender(
            self.endpoint.clone(),
            flow,
            rx,
            self.failed.clone(),
        ));
        None
    }
}

async fn flow_sender(
    endpoint: Endpoint,
    flow: Flow,
    mut rx: UnboundedReceiver<Outgoing>,
    failed: UnboundedSender<TxKey>,
) {
    let send = |key: Option<TxKey>, data: Bytes| {
        let endpoint = endpoint.clone();
        let failed = failed.clone();
        async move {
            if let Err(e) = endpoint.send(&flow, data).await {
                tracing::debug!(%flow, error = %e, "send failed");
                if let Some(k) = key {
                    let _ = failed.send(k);
                }
            }
        }
    };
    loop {
        match tokio::time::timeout(FLOW_SENDER_IDLE, rx.recv()).await {
            Ok(Some((key, data))) => send(key, data).await,
            Ok(None) => return,
            Err(_) => {
                // idle: stop taking new work, finish what raced in
                rx.close();
                while let Ok((key, data)) = rx.try_recv() {
                    send(key, data).await;
                }
                return;
            }
        }
    }
}
