//! The thin tokio driver of a [`StatefulProxy`]: receives from an [`Endpoint`], runs the
//! sans-IO proxy with the wall clock, asks a [`Router`] where each request goes, and sends.
//!
//! Sends never block the loop: UDP datagrams go out at once; TCP/TLS messages are queued per
//! flow to a sender task (in order within a flow), so a slow connect or handshake delays only
//! that flow. Send failures come back to the loop and reach the transaction as transport
//! errors (RFC 3261 §17.1.1.2 / §18.2.2).

use crate::proxy::{Prepared, ProxyRequest, Rejection, StatefulProxy};
use crate::send::Senders;
use crate::transport::{Endpoint, Inbound};
use crate::Flow;
use std::future::Future;
use std::time::Instant;
use tokio::sync::mpsc::{self, Receiver};

/// The routing decision of a proxy application (P-/I-/S-CSCF logic): given a checked request and
/// its prepared forward (edits may be added to `prepared.editor`, the target changed with
/// [`Prepared::retarget`]), return the flow to send it on, or a rejection.
pub trait Router: Send {
    /// Routes one request.
    fn route(
        &mut self,
        req: &ProxyRequest,
        prepared: &mut Prepared,
    ) -> impl Future<Output = Result<Flow, Rejection>> + Send;
}

/// Runs the proxy until the endpoint's inbound channel closes.
pub async fn run_proxy<R: Router>(
    endpoint: Endpoint,
    mut inbound: Receiver<Inbound>,
    mut proxy: StatefulProxy,
    mut router: R,
) {
    let (failed_tx, mut failed_rx) = mpsc::unbounded_channel();
    let mut senders = Senders::new(endpoint, failed_tx);
    loop {
        let deadline = proxy.next_timeout();
        let sleep = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            m = inbound.recv() => {
                let Some(m) = m else { return };
                let now = Instant::now();
                proxy.on_message(m.msg, m.flow, now);
                // drain what is already queued before sending (batching)
                for _ in 0..256 {
                    match inbound.try_recv() {
                        Ok(m) => proxy.on_message(m.msg, m.flow, now),
                        Err(_) => break,
                    }
                }
            }
            _ = sleep => proxy.on_timeout(Instant::now()),
            Some(key) = failed_rx.recv() => proxy.on_transport_error(&key, Instant::now()),
        }
        loop {
            let mut progressed = false;
            while let Some(req) = proxy.poll_request() {
                progressed = true;
                let now = Instant::now();
                let result = match proxy.prepare(&req) {
                    Ok(mut p) => match router.route(&req, &mut p).await {
                        Ok(flow) => proxy
                            .forward(&req, p, flow, now)
                            .map_err(|e| Rejection::new(e.status(), "Service Unavailable")),
                        Err(r) => Err(r),
                    },
                    Err(r) => Err(r),
                };
                if let Err(rej) = result {
                    let _ = proxy.reject(&req, &rej, now);
                }
            }
            while let Some((key, flow, data)) = proxy.poll_transmit() {
                progressed = true;
                if let Some(k) = senders.send(key, flow, data).await {
                    proxy.on_transport_error(&k, Instant::now());
                }
            }
            if !progressed {
                break;
            }
        }
    }
}

/// A [`Router`] for simple deployments and tests: resolves the next hop with a
/// [`crate::resolve::Resolver`] and sends from any local socket of the transport; if resolution
/// fails and a default next hop is set, sends there.
pub struct ResolvingRouter<D: crate::resolve::Dns> {
    /// The resolver.
    pub resolver: crate::resolve::Resolver<D>,
    /// Fallback next hop.
    pub default: Option<crate::resolve::Target>,
}

impl<D: crate::resolve::Dns> Router for ResolvingRouter<D> {
    async fn route(
        &mut self,
        _req: &ProxyRequest,
        prepared: &mut Prepared,
    ) -> Result<Flow, Rejection> {
        let targets = self.resolver.resolve(&prepared.next_hop).await;
        let t = match (targets, self.default) {
            (Ok(v), _) if !v.is_empty() => v[0],
            (_, Some(d)) => d,
            (Err(e), None) => return Err(Rejection::new(e.status(), "Service Unavailable")),
            (Ok(_), None) => return Err(Rejection::new(404, "Not Found")),
        };
        Ok(Flow::to(t.transport, t.addr))
    }
}
