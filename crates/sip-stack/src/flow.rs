//! Flows: which transport, local socket, remote socket and connection a message used
//! (RFC 3261 §18, RFC 5626 §3 "flow"). Every received message carries one; every send names one.

use std::fmt;
use std::net::SocketAddr;

/// A SIP transport (RFC 3261 §18).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Transport {
    /// UDP (unreliable: the transaction layer retransmits).
    Udp,
    /// TCP.
    Tcp,
    /// TLS over TCP.
    Tls,
}

impl Transport {
    /// True for connection-oriented (reliable) transports, where Timers A, E, G are not used and
    /// D, I, J, K are zero (RFC 3261 §17).
    pub fn is_reliable(self) -> bool {
        !matches!(self, Transport::Udp)
    }

    /// The token used in Via and in the `transport` URI parameter.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
        }
    }

    /// Parses a Via / URI transport token (case-insensitive).
    pub fn from_token(s: &str) -> Option<Transport> {
        if s.eq_ignore_ascii_case("udp") {
            Some(Transport::Udp)
        } else if s.eq_ignore_ascii_case("tcp") {
            Some(Transport::Tcp)
        } else if s.eq_ignore_ascii_case("tls") {
            Some(Transport::Tls)
        } else {
            None
        }
    }

    /// The default port (RFC 3261 §19.1.2: 5060, 5061 for TLS).
    pub fn default_port(self) -> u16 {
        match self {
            Transport::Tls => 5061,
            _ => 5060,
        }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Identifier of one TCP/TLS connection inside an [`crate::Endpoint`].
pub type ConnId = u64;

/// The path a message took or should take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Flow {
    /// Transport.
    pub transport: Transport,
    /// Local socket address (the listening socket for UDP and accepted connections). When sending,
    /// an unspecified IP or port 0 lets the endpoint choose.
    pub local: SocketAddr,
    /// Remote socket address.
    pub remote: SocketAddr,
    /// The connection for TCP/TLS, when known. `None` when sending means "reuse a connection to
    /// `remote` or open one".
    pub conn: Option<ConnId>,
}

impl Flow {
    /// A flow to `remote` with the local side left to the endpoint.
    pub fn to(transport: Transport, remote: SocketAddr) -> Flow {
        let local = if remote.is_ipv4() {
            SocketAddr::from(([0, 0, 0, 0], 0))
        } else {
            SocketAddr::from(([0u16; 8], 0))
        };
        Flow {
            transport,
            local,
            remote,
            conn: None,
        }
    }

    /// The same flow sent from a given local socket (e.g. a protected port, TS 33.203 §7).
    pub fn from_local(mut self, local: SocketAddr) -> Flow {
        self.local = local;
        self
    }
}

impl fmt::Display for Flow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} -> {}", self.transport, self.local, self.remote)?;
        if let Some(c) = self.conn {
            write!(f, " (conn {c})")?;
        }
        Ok(())
    }
}

/// Where responses to `request` (received on `flow`) go (RFC 3261 §18.2.2, RFC 3581 §4):
/// on TCP/TLS the same connection; on UDP the source IP (what `received` records), and the source
/// port when the client asked for `rport`, otherwise the sent-by port (default 5060). The reply
/// leaves from the socket the request arrived on.
pub fn response_flow(request: &sip::Message, flow: &Flow) -> sip::Result<Flow> {
    if flow.transport.is_reliable() {
        return Ok(*flow);
    }
    let via = request.top_via()?;
    let port = match via.rport() {
        Some(_) => flow.remote.port(),
        None => via.port.unwrap_or(5060),
    };
    Ok(Flow {
        remote: SocketAddr::new(flow.remote.ip(), port),
        ..*flow
    })
}

/// The ipsec-3gpp protected port pairs of a P-CSCF (TS 33.203 §7.1): `(port_c + i, port_s + i)`
/// for `i < count`. Over UDP, a response to a request that arrived on port-s and goes to a port
/// other than the request's source (the UE's port-s named in its Via, as the reference
/// registration trace does) can only be carried by the SA from our port-c to the UE's port-s: it
/// leaves from the paired port-c ([`ProtectedPorts::reply_local`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProtectedPorts {
    /// First protected client port.
    pub port_c: u16,
    /// First protected server port.
    pub port_s: u16,
    /// Number of pairs.
    pub count: u16,
}

impl ProtectedPorts {
    /// The local address `reply` (computed by [`response_flow`] for a request received on
    /// `arrival`) must leave from instead, if any.
    pub fn reply_local(&self, arrival: &Flow, reply: &Flow) -> Option<SocketAddr> {
        if reply.transport != Transport::Udp || reply.remote.port() == arrival.remote.port() {
            return None;
        }
        let i = arrival.local.port().checked_sub(self.port_s)?;
        if i >= self.count {
            return None;
        }
        Some(SocketAddr::new(
            arrival.local.ip(),
            self.port_c.checked_add(i)?,
        ))
    }
}

/// Where responses go when the TCP/TLS connection a request arrived on is gone (RFC 3261
/// §18.2.2): a new connection to the source IP of the request (what `received` records) and the
/// port in the top Via's sent-by, or the transport's default port (5060 TCP, 5061 TLS). `None`
/// for UDP or a request without a usable Via.
pub fn connection_fallback(request: &sip::Message, flow: &Flow) -> Option<Flow> {
    if !flow.transport.is_reliable() {
        return None;
    }
    let via = request.top_via().ok()?;
    let port = via.port.unwrap_or(flow.transport.default_port());
    Some(Flow::to(
        flow.transport,
        SocketAddr::new(flow.remote.ip(), port),
    ))
}

/// Where a response goes when forwarded statelessly by its (new) top Via (RFC 3261 §18.2.2,
/// RFC 3581 §4): `received` (or the sent-by IP) and `rport` (or the sent-by port). `None` when
/// the sent-by is a host name without `received` (needs RFC 3263 §5 resolution).
pub fn via_destination(via: &sip::Via) -> Option<(Transport, SocketAddr)> {
    let transport = Transport::from_token(&via.transport)?;
    let ip = via.received().or_else(|| via.host.ip())?;
    let port = via
        .rport()
        .flatten()
        .or(via.port)
        .unwrap_or(transport.default_port());
    Some((transport, SocketAddr::new(ip, port)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protected_reply_leaves_from_paired_port_c() {
        let pp = ProtectedPorts {
            port_c: 5100,
            port_s: 5200,
            count: 2,
        };
        let f = |local: &str, remote: &str| Flow {
            transport: Transport::Udp,
            local: local.parse().unwrap(),
            remote: remote.parse().unwrap(),
            conn: None,
        };
        let arrival = f("10.0.0.2:5201", "10.0.0.1:38003");
        // to the UE's port-s (Via, no rport): from our port-c of the same pair
        let via = f("10.0.0.2:5201", "10.0.0.1:39003");
        assert_eq!(
            pp.reply_local(&arrival, &via),
            Some("10.0.0.2:5101".parse().unwrap())
        );
        // back to the source port (rport): unchanged
        assert_eq!(pp.reply_local(&arrival, &arrival), None);
        // not a protected port-s, or TCP: unchanged
        let other = f("10.0.0.2:5060", "10.0.0.1:38003");
        assert_eq!(pp.reply_local(&other, &via), None);
        let tcp = Flow {
            transport: Transport::Tcp,
            ..via
        };
        assert_eq!(pp.reply_local(&arrival, &tcp), None);
    }
}
