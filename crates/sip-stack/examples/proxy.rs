//! A minimal stateful proxy: listens on UDP (and TCP) at `--listen`, sends every request to
//! `--to` (or to its resolved next hop if that is not us). Used for SIPp load runs:
//!
//! ```text
//! cargo run --release -p sip-stack --example proxy -- 127.0.0.1:5060 127.0.0.1:5070
//! ```

use sip_stack::driver::{run_proxy, Router};
use sip_stack::proxy::{Prepared, ProxyConfig, ProxyRequest, Rejection, StatefulProxy};
use sip_stack::{Endpoint, EndpointConfig, Flow, LayerConfig, Transport};
use std::net::SocketAddr;

struct Fixed(SocketAddr);

impl Router for Fixed {
    async fn route(&mut self, _r: &ProxyRequest, _p: &mut Prepared) -> Result<Flow, Rejection> {
        Ok(Flow::to(Transport::Udp, self.0))
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let listen: SocketAddr = args.next().ok_or("usage: proxy LISTEN TO")?.parse()?;
    let to: SocketAddr = args.next().ok_or("usage: proxy LISTEN TO")?.parse()?;
    let (ep, rx) = Endpoint::new(EndpointConfig::default());
    ep.add_listener(Transport::Udp, listen).await?;
    ep.add_listener(Transport::Tcp, listen).await?;
    let proxy = StatefulProxy::new(
        ProxyConfig::new(listen.ip().to_string(), listen.port()),
        LayerConfig::default(),
    );
    eprintln!("proxy on {listen} -> {to}");
    run_proxy(ep, rx, proxy, Fixed(to)).await;
    Ok(())
}
