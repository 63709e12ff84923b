//! The Cx client of the I-CSCF and the S-CSCF (TS 29.228 §6, TS 29.229 §6.1): typed UAR, MAR,
//! SAR and LIR over a [`diameter::Node`].
//!
//! Every request gets a fresh Session-Id (RFC 6733 §8.8: `<Origin-Host>;<high 32>;<low 32>`, the
//! high part the client's start time, the low part a counter), NO_STATE_MAINTAINED (Cx is
//! stateless, TS 29.229 §6.1) and the configured Destination-Realm/Host. The answer is returned
//! whatever its result code: interpreting DIAMETER_ERROR_USER_UNKNOWN and friends is the
//! caller's business (TS 24.229 §5.3.1.2, §5.4.1.2). Only a request that got no usable answer is
//! an error: [`CscfError::DiameterTimeout`], [`CscfError::DiameterUnavailable`] (transport) or
//! [`CscfError::DiameterBadAnswer`] (an answer we cannot decode).
//!
//! Metrics (the `metrics` facade): histogram `imscore_diameter_round_trip_seconds{command}` and
//! counter `imscore_diameter_answers_total{command, result}`, where `result` is the numeric
//! Result-Code / Experimental-Result-Code, or `timeout`, `unavailable`, `bad_answer`.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use cx::enums::{ServerAssignmentType, UserAuthorizationType, UserDataAlreadyAvailable};
use cx::{
    CxMessage, LocationInfoAnswer, LocationInfoRequest, MultimediaAuthAnswer,
    MultimediaAuthRequest, RequestCommon, SecretBytes, ServerAssignmentAnswer,
    ServerAssignmentRequest, SipAuthDataItem, UserAuthorizationAnswer, UserAuthorizationRequest,
};

use crate::CscfError;

/// Configuration of a [`CxClient`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CxClientConfig {
    /// Our Diameter identity (Origin-Host), also the first part of every Session-Id.
    pub origin_host: String,
    /// Our realm (Origin-Realm).
    pub origin_realm: String,
    /// The HSS realm (Destination-Realm, used for routing).
    pub destination_realm: String,
    /// A specific HSS (Destination-Host), when there is one to pin.
    pub destination_host: Option<String>,
    /// How long to wait for each answer.
    pub timeout: Duration,
}

/// Typed Cx requests over a Diameter node. Cheap to share (`Arc`); requests run concurrently.
#[derive(Debug)]
pub struct CxClient {
    node: Arc<diameter::Node>,
    cfg: CxClientConfig,
    /// High 32 bits of our Session-Ids (RFC 6733 §8.8 suggests the start time).
    session_high: u32,
    /// Low 32 bits: incremented per request.
    session_low: AtomicU32,
}

impl CxClient {
    /// A client sending through `node` (which must have a route or default route to the HSS).
    pub fn new(node: Arc<diameter::Node>, cfg: CxClientConfig) -> Self {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        Self {
            node,
            cfg,
            session_high: secs as u32,
            session_low: AtomicU32::new(rand::random()),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &CxClientConfig {
        &self.cfg
    }

    /// A new globally unique Session-Id (RFC 6733 §8.8).
    pub fn new_session_id(&self) -> String {
        let low = self.session_low.fetch_add(1, Ordering::Relaxed);
        format!("{};{};{}", self.cfg.origin_host, self.session_high, low)
    }

    fn common(&self) -> RequestCommon {
        let mut c = RequestCommon::new(
            self.new_session_id(),
            self.cfg.origin_host.clone(),
            self.cfg.origin_realm.clone(),
            self.cfg.destination_realm.clone(),
        );
        c.destination_host = self.cfg.destination_host.clone();
        c
    }

    /// User-Authorization-Request (TS 29.228 §6.1.1, TS 29.229 §6.1.1), sent by the I-CSCF for a
    /// REGISTER.
    pub async fn uar(
        &self,
        impi: &str,
        impu: &str,
        visited_network: &str,
        auth_type: UserAuthorizationType,
    ) -> Result<UserAuthorizationAnswer, CscfError> {
        let req = UserAuthorizationRequest {
            common: self.common(),
            user_name: impi.to_string(),
            public_identity: impu.to_string(),
            visited_network_identifier: Bytes::from(visited_network.to_string()),
            user_authorization_type: Some(auth_type),
            uar_flags: None,
        };
        self.round_trip("UAR", req.to_message(), |a: &UserAuthorizationAnswer| {
            a.common.result.code()
        })
        .await
    }

    /// Multimedia-Auth-Request (TS 29.228 §6.3.1, TS 29.229 §6.1.7): `items` vectors of `scheme`
    /// (e.g. `Digest-AKAv1-MD5`, `Unknown`), or a resynchronisation when `sip_authorization`
    /// carries RAND‖AUTS (TS 33.203 §6.1.2).
    pub async fn mar(
        &self,
        impi: &str,
        impu: &str,
        scheme: &str,
        sip_authorization: Option<Bytes>,
        items: u32,
        server_name: &str,
    ) -> Result<MultimediaAuthAnswer, CscfError> {
        let req = MultimediaAuthRequest {
            common: self.common(),
            user_name: impi.to_string(),
            public_identity: impu.to_string(),
            sip_auth_data_item: SipAuthDataItem {
                authentication_scheme: Some(scheme.to_string()),
                authorization: sip_authorization.map(|b| SecretBytes::new(b.to_vec())),
                ..Default::default()
            },
            sip_number_auth_items: items,
            server_name: server_name.to_string(),
        };
        self.round_trip("MAR", req.to_message(), |a: &MultimediaAuthAnswer| {
            a.common.result.code()
        })
        .await
    }

    /// Server-Assignment-Request (TS 29.228 §6.1.2, TS 29.229 §6.1.3).
    pub async fn sar(
        &self,
        impi: Option<&str>,
        impus: &[String],
        server_name: &str,
        t: ServerAssignmentType,
        data: UserDataAlreadyAvailable,
    ) -> Result<ServerAssignmentAnswer, CscfError> {
        let req = ServerAssignmentRequest {
            common: self.common(),
            user_name: impi.map(str::to_string),
            public_identities: impus.to_vec(),
            wildcarded_public_identity: None,
            wildcarded_impu: None,
            server_name: server_name.to_string(),
            server_assignment_type: t,
            user_data_already_available: data,
            multiple_registration_indication: None,
            session_priority: None,
            sar_flags: None,
        };
        self.round_trip("SAR", req.to_message(), |a: &ServerAssignmentAnswer| {
            a.common.result.code()
        })
        .await
    }

    /// Location-Info-Request (TS 29.228 §6.1.4, TS 29.229 §6.1.5): which S-CSCF serves `impu`.
    pub async fn lir(&self, impu: &str) -> Result<LocationInfoAnswer, CscfError> {
        let req = LocationInfoRequest {
            common: self.common(),
            originating_request: None,
            public_identity: impu.to_string(),
            user_authorization_type: None,
            session_priority: None,
        };
        self.round_trip("LIR", req.to_message(), |a: &LocationInfoAnswer| {
            a.common.result.code()
        })
        .await
    }

    /// Sends `msg`, waits for the answer, decodes it and records the metrics.
    async fn round_trip<A: CxMessage>(
        &self,
        command: &'static str,
        msg: diameter::Message,
        code: impl Fn(&A) -> u32,
    ) -> Result<A, CscfError> {
        let started = Instant::now();
        let outcome = self.node.request_with_timeout(msg, self.cfg.timeout).await;
        metrics::histogram!("imscore_diameter_round_trip_seconds", "command" => command)
            .record(started.elapsed().as_secs_f64());
        let (result, label) = match outcome {
            Ok(answer) => match A::from_message(&answer) {
                Ok(a) => {
                    let c = code(&a);
                    (Ok(a), c.to_string())
                }
                Err(source) => (
                    Err(CscfError::DiameterBadAnswer { command, source }),
                    "bad_answer".to_string(),
                ),
            },
            Err(diameter::Error::Timeout) => (
                Err(CscfError::DiameterTimeout { command }),
                "timeout".to_string(),
            ),
            Err(source) => (
                Err(CscfError::DiameterUnavailable { command, source }),
                "unavailable".to_string(),
            ),
        };
        metrics::counter!("imscore_diameter_answers_total", "command" => command, "result" => label)
            .increment(1);
        if let Err(e) = &result {
            tracing::warn!(command, error = %e, "Cx request failed");
        }
        result
    }
}
