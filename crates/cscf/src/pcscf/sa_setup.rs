//! Security association setup behind one trait (TS 33.203 §7, TS 24.229 §5.2.2.1): once the
//! P-CSCF has chosen a mechanism from the UE's Security-Client, a backend builds what protects
//! the UE's traffic and the Security-Server list announcing it.
//!
//! [`TlsSetup`]: for `tls` nothing is installed at the 401; the registration is bound to the TLS
//! connection on which the protected REGISTER arrives (TS 24.229 §5.2.2.1, reference TLS call
//! flows). [`super::ipsec_setup::IpsecSetup`]: for `ipsec-3gpp`, SPI/port allocation and the four
//! ESP SAs of TS 33.203 §7.1 keyed from IK/CK, installed at the 401; offered only when the P-CSCF
//! is configured with an IPsec datapath (see [`super::sec_config::effective`]).

use std::net::SocketAddr;

use secagree::{negotiate, Association, Config, Mechanism, Negotiated, SecAgreeError};
use sip::SecurityMechanism;

use super::ChallengeKeys;

/// One security mechanism's association setup.
pub trait SaSetup: Send + Sync {
    /// The mechanism this backend runs.
    fn mechanism(&self) -> Mechanism;

    /// At the 401 to an initial REGISTER that asked for sec-agree (RFC 3329 §2.3.1, TS 24.229
    /// §5.2.2.1): builds Security-Server and the UE's new association. `ue` is where the REGISTER
    /// came from, `local` where it arrived; `keys` are the challenge's CK/IK (TS 33.203 §7.1: the
    /// ipsec-3gpp SA keys; unused for TLS).
    fn establish(
        &self,
        cfg: &Config,
        security_client: &[SecurityMechanism],
        ue: SocketAddr,
        local: SocketAddr,
        keys: Option<&ChallengeKeys>,
    ) -> Result<(Negotiated, Association), SecAgreeError>;

    /// The association is gone (replaced, de-registered, expired): free what it holds (a backend
    /// may defer the actual removal to [`tick`](Self::tick) so the last response still goes out
    /// through it, TS 33.203 §7.4).
    fn release(&self, assoc: &Association);

    /// Housekeeping (called about once a second): completes deferred releases.
    fn tick(&self) {}
}

/// `tls` (TS 33.203 Annex O, RFC 3329 §2.2): the association is the TLS connection itself.
#[derive(Debug, Default, Clone, Copy)]
pub struct TlsSetup;

impl SaSetup for TlsSetup {
    fn mechanism(&self) -> Mechanism {
        Mechanism::Tls
    }

    fn establish(
        &self,
        cfg: &Config,
        security_client: &[SecurityMechanism],
        ue: SocketAddr,
        local: SocketAddr,
        _keys: Option<&ChallengeKeys>,
    ) -> Result<(Negotiated, Association), SecAgreeError> {
        let n = negotiate(cfg, security_client, ue.ip(), local.ip(), None)?;
        if n.choice.mechanism() != Mechanism::Tls {
            return Err(SecAgreeError::Config(
                "TLS backend asked to set up another mechanism",
            ));
        }
        let a = Association::from_negotiated(&n, ue.ip())?;
        Ok((n, a))
    }

    fn release(&self, _assoc: &Association) {
        // the connection belongs to the transport; the binding simply ends
    }
}
