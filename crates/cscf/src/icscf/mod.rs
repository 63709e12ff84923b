//! I-CSCF (TS 24.229 §5.3): asks the HSS where a REGISTER or a request for a public identity must
//! go (UAR, LIR over Cx) and chooses the S-CSCF: the one the HSS names (Server-Name), or one with
//! the capabilities it lists, from the configured table ([`select`]). On a failed S-CSCF the next
//! candidate is tried (§5.3.1.3). This module decides; [`crate::node`] puts it on the network.

pub mod select;

use std::sync::Arc;

use cx::enums::UserAuthorizationType;
use cx::{CxResult, ExperimentalResultCode as Exp, ServerCapabilities};
use serde::Deserialize;
use sip::Message;
use sip_stack::proxy::Rejection;

use crate::cx_client::CxClient;
use crate::identity::{impi_of, impu_of, is_deregistration};
pub use select::ScscfEntry;

/// I-CSCF settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IcscfConfig {
    /// The S-CSCFs to choose from when the HSS sends capabilities rather than a name.
    pub scscfs: Vec<ScscfEntry>,
    /// How many S-CSCFs to try for one REGISTER before giving up (TS 24.229 §5.3.1.3).
    pub max_attempts: usize,
}

impl Default for IcscfConfig {
    fn default() -> Self {
        IcscfConfig {
            scscfs: Vec::new(),
            max_attempts: 3,
        }
    }
}

/// The I-CSCF's decisions.
pub struct Icscf {
    cfg: IcscfConfig,
    cx: Arc<CxClient>,
}

/// TS 24.229 §5.3.1.2: a failed Cx query → 480 (the HSS cannot be reached, is busy or could not
/// comply).
fn hss_unavailable() -> Rejection {
    Rejection::new(480, "Temporarily Unavailable")
}

impl Icscf {
    /// An I-CSCF using `cx` to reach the HSS.
    pub fn new(cfg: IcscfConfig, cx: Arc<CxClient>) -> Self {
        Icscf { cfg, cx }
    }

    /// The configuration.
    pub fn config(&self) -> &IcscfConfig {
        &self.cfg
    }

    /// TS 24.229 §5.3.1.2: UAR for a REGISTER, and the S-CSCFs to try, in order. `failed` are
    /// S-CSCFs that already failed for this request: then the UAR asks for capabilities
    /// (REGISTRATION_AND_CAPABILITIES, §5.3.1.3) and those S-CSCFs are left out.
    pub async fn register_targets(
        &self,
        req: &Message,
        failed: &[String],
    ) -> Result<Vec<String>, Rejection> {
        let impu = impu_of(req).ok_or_else(|| Rejection::new(400, "Bad Request - To"))?;
        let impi =
            impi_of(req).ok_or_else(|| Rejection::new(403, "Forbidden - no private identity"))?;
        let visited = req
            .p_visited_network_id()
            .ok()
            .and_then(|v| v.into_iter().next())
            .map(|v| v.network.to_string())
            .unwrap_or_default();
        let kind = if !failed.is_empty() {
            UserAuthorizationType::RegistrationAndCapabilities
        } else if is_deregistration(req) {
            UserAuthorizationType::DeRegistration
        } else {
            UserAuthorizationType::Registration
        };
        let uaa = self
            .cx
            .uar(&impi, &impu, &visited, kind)
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "UAR failed");
                hss_unavailable()
            })?;
        let result = uaa.common.result;
        match result.cx_code() {
            Some(Exp::FirstRegistration | Exp::SubsequentRegistration) => {}
            Some(Exp::ErrorUserUnknown) => {
                return Err(Rejection::new(403, "Forbidden - user unknown"))
            }
            Some(Exp::ErrorIdentitiesDontMatch) => {
                return Err(Rejection::new(403, "Forbidden - identities don't match"))
            }
            Some(Exp::ErrorRoamingNotAllowed) => {
                return Err(Rejection::new(403, "Forbidden - roaming not allowed"))
            }
            Some(_) => return Err(Rejection::new(500, "Server Internal Error")),
            None => base_result(result)?,
        }
        let targets = self.choose(
            uaa.server_name.as_deref(),
            uaa.server_capabilities.as_ref(),
            failed,
        );
        if targets.is_empty() {
            // no S-CSCF can serve the user (any more)
            return Err(Rejection::new(600, "Busy Everywhere"));
        }
        Ok(targets)
    }

    /// TS 24.229 §5.3.2.1: LIR for a request addressed to a public identity, and the S-CSCFs to
    /// send it to.
    pub async fn terminating_targets(
        &self,
        impu: &str,
        failed: &[String],
    ) -> Result<Vec<String>, Rejection> {
        let lia = self.cx.lir(impu).await.map_err(|e| {
            tracing::warn!(error = %e, "LIR failed");
            hss_unavailable()
        })?;
        let result = lia.common.result;
        match result.cx_code() {
            Some(Exp::UnregisteredService) => {}
            Some(Exp::ErrorUserUnknown) => return Err(Rejection::new(404, "Not Found")),
            Some(Exp::ErrorIdentityNotRegistered) => {
                return Err(Rejection::new(480, "Temporarily Unavailable"))
            }
            Some(_) => return Err(Rejection::new(500, "Server Internal Error")),
            None => base_result(result)?,
        }
        let targets = self.choose(
            lia.server_name.as_deref(),
            lia.server_capabilities.as_ref(),
            failed,
        );
        if targets.is_empty() {
            return Err(Rejection::new(480, "Temporarily Unavailable"));
        }
        Ok(targets)
    }

    fn choose(
        &self,
        server_name: Option<&str>,
        caps: Option<&ServerCapabilities>,
        failed: &[String],
    ) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(n) = server_name.filter(|n| !n.is_empty()) {
            if !failed.iter().any(|f| f.eq_ignore_ascii_case(n)) {
                out.push(n.to_string());
            }
        }
        let empty = ServerCapabilities::default();
        let caps = caps.unwrap_or(&empty);
        if out.is_empty() || !failed.is_empty() {
            for c in select::candidates(
                &caps.mandatory_capabilities,
                &caps.optional_capabilities,
                &caps.server_names,
                &self.cfg.scscfs,
                failed,
            ) {
                if !out.iter().any(|o: &String| o.eq_ignore_ascii_case(&c)) {
                    out.push(c);
                }
            }
        }
        let budget = self.cfg.max_attempts.saturating_sub(failed.len()).max(1);
        out.truncate(budget);
        out
    }
}

/// A base-protocol Result-Code: success passes; busy / unable to comply → 480; an authorization
/// rejection → 403; anything else → 500.
fn base_result(result: CxResult) -> Result<(), Rejection> {
    use diameter::result_code as rc;
    match result.code() {
        c if result.is_success() && c != 0 => Ok(()),
        rc::TOO_BUSY | rc::UNABLE_TO_COMPLY | rc::UNABLE_TO_DELIVER => Err(hss_unavailable()),
        rc::AUTHORIZATION_REJECTED => Err(Rejection::new(403, "Forbidden")),
        _ => Err(Rejection::new(500, "Server Internal Error")),
    }
}
