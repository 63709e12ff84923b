//! `imscore subscriber …`: provisioning commands on the embedded database (`--data-dir`) or on
//! PostgreSQL (`--db URL`). The binary flattens [`SubscriberCmd`] and calls [`run`].
//!
//! `deregister` asks a running HSS (its REST API, `--api URL --token T`) to de-register the user
//! with an RTR to the S-CSCF (TS 29.228 §6.1.3). When no HSS answers there (or `--api` is not
//! given) it de-registers administratively in the database — identities NOT_REGISTERED, S-CSCF
//! name cleared — and says that no RTR was sent.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::model::{Impi, Impu};
use crate::provision::demo::provision_demo;
use crate::provision::import::{self, ImportFormat};
use crate::provision::{ImpiPatch, ImpuInput, ImpuPatch, SubscriberInput, SubscriptionView};
use crate::store::{SqlStore, StoreConfig, SubscriberStore};
use crate::HssError;

/// Default `--data-dir`.
pub const DEFAULT_DATA_DIR: &str = "imscore-data";

/// Where the subscriber database is.
#[derive(Debug, Clone, Args)]
pub struct DbArgs {
    /// Directory of the embedded database (file hss.sqlite inside; created if missing).
    #[arg(long, value_name = "DIR", env = "IMSCORE_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// PostgreSQL URL (postgres://user@host:port/db) instead of the embedded database.
    #[arg(
        long,
        value_name = "URL",
        env = "IMSCORE_HSS_DB",
        global = true,
        conflicts_with = "data_dir"
    )]
    pub db: Option<String>,
}

impl DbArgs {
    /// The store configuration these flags select.
    pub fn config(&self) -> Result<StoreConfig, HssError> {
        match (&self.db, &self.data_dir) {
            (Some(url), _) => StoreConfig::from_url(url),
            (None, Some(dir)) => Ok(StoreConfig::data_dir(dir)),
            (None, None) => Ok(StoreConfig::data_dir(DEFAULT_DATA_DIR)),
        }
    }
}

/// Provision HSS subscribers.
#[derive(Debug, Parser)]
#[command(name = "subscriber")]
pub struct SubscriberCmd {
    /// Database selection.
    #[command(flatten)]
    pub db: DbArgs,
    /// What to do.
    #[command(subcommand)]
    pub action: SubscriberAction,
}

/// The subscriber commands.
#[derive(Debug, Subcommand)]
pub enum SubscriberAction {
    /// Add one subscriber (one IMPI with its IMPUs).
    Add(AddArgs),
    /// Import subscribers from a CSV or JSON file ("-" = stdin).
    Import(ImportArgs),
    /// List subscriptions.
    List(ListArgs),
    /// Show a subscription (by id, IMPI or IMPU) as JSON, without secrets.
    Show(KeyArg),
    /// Change an IMPI (keys, AMF, schemes, SQN) or an IMPU (barring, implicit set, profile).
    Set(SetArgs),
    /// Delete a subscription (by id, IMPI or IMPU) with all its identities.
    Delete(KeyArg),
    /// Provision the demo subscribers (IMSI 00101000000000N) in one transaction.
    Demo(DemoArgs),
    /// De-register a subscription (by id, IMPI or IMPU): an RTR through a running HSS's REST API
    /// if one is reachable, else an administrative de-registration in the database (no RTR).
    Deregister(DeregisterArgs),
}

/// `deregister` options.
#[derive(Debug, Args)]
pub struct DeregisterArgs {
    /// Subscription id, IMPI or IMPU.
    pub key: String,
    /// Reason text sent in the RTR's Deregistration-Reason (Reason-Info).
    #[arg(long, default_value = "")]
    pub reason: String,
    /// Reason-Code of the RTR (TS 29.229 §6.3.17): permanent-termination keeps the user off (its
    /// UE gets `rejected`), new-server-assigned, server-change and remove-s-cscf let the UE
    /// register again (`deactivated`). Only with a running HSS (--api).
    #[arg(long, default_value = "permanent-termination", value_parser = parse_reason_code)]
    pub code: cx::enums::ReasonCode,
    /// Base URL of a running HSS's REST API (http://host:port); tried first.
    #[arg(long, value_name = "URL", env = "IMSCORE_HSS_API")]
    pub api: Option<String>,
    /// Bearer token of that REST API.
    #[arg(long, env = "IMSCORE_HSS_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

/// `add` options.
#[derive(Debug, Args)]
pub struct AddArgs {
    /// Subscription id (default: the IMPI).
    #[arg(long)]
    pub id: Option<String>,
    /// Private identity user@realm.
    #[arg(long)]
    pub impi: String,
    /// Public identity (sip: or tel: URI); repeat for several (all in one implicit set).
    #[arg(long = "impu", required = true)]
    pub impus: Vec<String>,
    /// K, 32 hex digits.
    #[arg(long)]
    pub k: String,
    /// OP, 32 hex digits.
    #[arg(long, required_unless_present = "opc", conflicts_with = "opc")]
    pub op: Option<String>,
    /// OPc, 32 hex digits.
    #[arg(long)]
    pub opc: Option<String>,
    /// AMF, 4 hex digits (default 8000).
    #[arg(long)]
    pub amf: Option<String>,
    /// Highest SQN the USIM has accepted (default 0).
    #[arg(long)]
    pub sqn: Option<u64>,
    /// Allowed schemes, comma separated (default AKAv1-MD5).
    #[arg(long, value_delimiter = ',')]
    pub auth_schemes: Option<Vec<String>>,
    /// Default scheme (default: the first allowed).
    #[arg(long)]
    pub default_scheme: Option<String>,
    /// Digest realm (for Digest-MD5).
    #[arg(long)]
    pub digest_realm: Option<String>,
    /// Digest HA1 = MD5(user:realm:password), 32 hex digits.
    #[arg(long)]
    pub digest_ha1: Option<String>,
}

impl AddArgs {
    fn to_input(&self) -> SubscriberInput {
        let mut i = SubscriberInput::default();
        i.id = self.id.clone();
        i.impi = self.impi.clone();
        i.impus = self.impus.iter().cloned().map(ImpuInput::Uri).collect();
        i.k = self.k.clone();
        i.op = self.op.clone();
        i.opc = self.opc.clone();
        i.amf = self.amf.clone();
        i.sqn = self.sqn;
        i.auth_schemes = self.auth_schemes.clone();
        i.default_scheme = self.default_scheme.clone();
        i.digest_realm = self.digest_realm.clone();
        i.digest_ha1 = self.digest_ha1.clone();
        i
    }
}

/// `import` options.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// File to import, or "-" for stdin.
    pub file: PathBuf,
    /// Format (default: from the file extension).
    #[arg(long, value_enum)]
    pub format: Option<ImportFormat>,
    /// Never show a progress bar.
    #[arg(long)]
    pub no_progress: bool,
}

/// `list` options.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Skip this many subscriptions.
    #[arg(long, default_value_t = 0)]
    pub offset: u64,
    /// Show at most this many.
    #[arg(long, default_value_t = 100)]
    pub limit: u64,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// A subscription id, IMPI or IMPU.
#[derive(Debug, Args)]
pub struct KeyArg {
    /// Subscription id, IMPI or IMPU.
    pub key: String,
}

/// `set` options: give an IMPI with IMPI options, or an IMPU (sip:/tel:) with IMPU options.
#[derive(Debug, Args)]
pub struct SetArgs {
    /// The IMPI or IMPU to change.
    pub identity: String,
    /// IMPI changes.
    #[command(flatten)]
    pub impi: ImpiPatch,
    /// IMPU changes.
    #[command(flatten)]
    pub impu: ImpuPatch,
}

/// `demo` options.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// How many demo subscribers.
    #[arg(long, default_value_t = 10)]
    pub count: u64,
    /// Number of the first one (IMSI 00101 followed by it on 10 digits).
    #[arg(long, default_value_t = 1)]
    pub first: u64,
}

/// Runs a command, printing to stdout.
pub async fn run(cmd: SubscriberCmd) -> Result<(), HssError> {
    let mut out = std::io::stdout();
    run_with_output(cmd, &mut out).await
}

/// Runs a command, printing to `out` (tests capture it).
pub async fn run_with_output(
    cmd: SubscriberCmd,
    out: &mut (dyn Write + Send),
) -> Result<(), HssError> {
    // Validate what can be validated before touching the database.
    if let SubscriberAction::Add(a) = &cmd.action {
        a.to_input().to_subscription()?;
    }
    if let SubscriberAction::Deregister(d) = &cmd.action {
        if let Some(api) = &d.api {
            match deregister_via_api(api, d, out).await? {
                ApiOutcome::Done => return Ok(()),
                ApiOutcome::Unreachable(why) => writeln!(
                    out,
                    "no HSS REST API reachable at {api} ({why}): de-registering in the database"
                )?,
            }
        }
    }
    let store = SqlStore::open(&cmd.db.config()?).await?;
    let result = execute(&store, cmd.action, out).await;
    store.close().await;
    result
}

async fn execute(
    store: &SqlStore,
    action: SubscriberAction,
    out: &mut (dyn Write + Send),
) -> Result<(), HssError> {
    match action {
        SubscriberAction::Add(a) => {
            let sub = a.to_input().to_subscription()?;
            store.create_subscription(&sub).await?;
            writeln!(out, "added subscription {}", sub.id)?;
        }
        SubscriberAction::Import(a) => {
            let format = match a.format.or_else(|| ImportFormat::from_path(&a.file)) {
                Some(f) => f,
                None => {
                    return Err(HssError::Format(format!(
                        "cannot tell the format of {:?}: use --format csv|json",
                        a.file
                    )))
                }
            };
            let text = if a.file.as_os_str() == "-" {
                std::io::read_to_string(std::io::stdin())?
            } else {
                std::fs::read_to_string(&a.file)?
            };
            let rows = import::parse(&text, format)?;
            let summary = import::import_rows(store, rows, !a.no_progress).await;
            write!(out, "{summary}")?;
            if !summary.failed.is_empty() {
                return Err(HssError::ImportFailed(summary.failed.len()));
            }
        }
        SubscriberAction::List(a) => {
            let list = store.list(a.offset, a.limit).await?;
            if a.json {
                writeln!(
                    out,
                    "{}",
                    serde_json::to_string_pretty(&list).unwrap_or_default()
                )?;
            } else {
                writeln!(out, "{:<24} {:<48} {:<48} S-CSCF", "ID", "IMPI", "IMPU")?;
                for s in &list {
                    writeln!(
                        out,
                        "{:<24} {:<48} {:<48} {}",
                        s.id,
                        s.impis.join(","),
                        s.impus.join(","),
                        s.scscf.as_deref().unwrap_or("-")
                    )?;
                }
                writeln!(
                    out,
                    "({} of {} subscriptions)",
                    list.len(),
                    store.count().await?
                )?;
            }
        }
        SubscriberAction::Show(k) => {
            let id = store.resolve(&k.key).await?;
            let sub = store.subscription(&id).await?;
            let view = SubscriptionView::from(&sub);
            writeln!(
                out,
                "{}",
                serde_json::to_string_pretty(&view).unwrap_or_default()
            )?;
        }
        SubscriberAction::Set(a) => {
            let lower = a.identity.to_ascii_lowercase();
            if lower.starts_with("sip:") || lower.starts_with("tel:") {
                if !a.impi.is_empty() {
                    return Err(HssError::invalid(
                        "identity",
                        "IMPI options given for a public identity",
                    ));
                }
                if a.impu.is_empty() {
                    return Err(HssError::invalid("identity", "nothing to change"));
                }
                let impu = Impu::parse(&a.identity)?;
                store
                    .update_public_identity(&impu, &a.impu.to_update())
                    .await?;
                writeln!(out, "updated {impu}")?;
            } else {
                if !a.impu.is_empty() {
                    return Err(HssError::invalid(
                        "identity",
                        "IMPU options given for a private identity",
                    ));
                }
                if a.impi.is_empty() {
                    return Err(HssError::invalid("identity", "nothing to change"));
                }
                let impi = Impi::parse(&a.identity)?;
                store
                    .update_private_identity(&impi, &a.impi.to_update()?)
                    .await?;
                writeln!(out, "updated {impi}")?;
            }
        }
        SubscriberAction::Delete(k) => {
            let id = store.resolve(&k.key).await?;
            store.delete_subscription(&id).await?;
            writeln!(out, "deleted subscription {id}")?;
        }
        SubscriberAction::Demo(d) => {
            let n = provision_demo(store, d.first, d.count).await?;
            writeln!(out, "provisioned {n} demo subscribers")?;
        }
        SubscriberAction::Deregister(d) => {
            administrative_deregistration(store, &d.key, out).await?;
        }
    }
    Ok(())
}

enum ApiOutcome {
    Done,
    Unreachable(String),
}

/// How long the CLI waits for the HSS to answer (it waits for the S-CSCF's RTA itself).
const API_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// `--code`: a Reason-Code by name.
fn parse_reason_code(s: &str) -> Result<cx::enums::ReasonCode, String> {
    cx::enums::ReasonCode::from_name(s)
        .ok_or_else(|| format!("one of {}", cx::enums::ReasonCode::names()))
}

/// `POST /api/v1/subscribers/{key}/deregister` on a running HSS: the HSS sends the RTR.
async fn deregister_via_api(
    api: &str,
    d: &DeregisterArgs,
    out: &mut (dyn Write + Send),
) -> Result<ApiOutcome, HssError> {
    use crate::api_client::{encode_segment, post_json, CallError};
    let path = format!("/api/v1/subscribers/{}/deregister", encode_segment(&d.key));
    let body = serde_json::json!({ "reason": d.reason, "code": d.code.name() }).to_string();
    let resp = match post_json(api, &path, d.token.as_deref(), body.as_bytes(), API_TIMEOUT).await {
        Ok(r) => r,
        Err(CallError::Unreachable(why)) => return Ok(ApiOutcome::Unreachable(why)),
        Err(CallError::Failed(why)) => return Err(HssError::Api(why)),
    };
    let json: serde_json::Value = serde_json::from_slice(&resp.body).unwrap_or_default();
    if resp.status != 200 {
        let msg = json
            .get("error")
            .and_then(|e| e.as_str())
            .map(str::to_string)
            .unwrap_or_else(|| String::from_utf8_lossy(&resp.body).into_owned());
        return Err(HssError::Api(format!("HTTP {}: {msg}", resp.status)));
    }
    let field = |k: &str| json.get(k).cloned().unwrap_or_default();
    let code = field("result_code").as_u64().unwrap_or(0);
    let scscf = field("scscf");
    let ids: Vec<String> = field("public_identities")
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let scscf = scscf.as_str().unwrap_or("?");
    if (2000..3000).contains(&code) {
        writeln!(
            out,
            "RTR sent to {scscf} for {} (result {code}): de-registered",
            ids.join(", ")
        )?;
        Ok(ApiOutcome::Done)
    } else {
        Err(HssError::Api(format!(
            "RTR sent to {scscf} was refused with result {code}; nothing changed"
        )))
    }
}

/// De-registration without an HSS running: every identity of the subscription NOT_REGISTERED and
/// the S-CSCF name cleared in the database. No RTR reaches the S-CSCF, which keeps serving its
/// registrations until they expire.
async fn administrative_deregistration(
    store: &SqlStore,
    key: &str,
    out: &mut (dyn Write + Send),
) -> Result<(), HssError> {
    use crate::model::RegistrationState;
    let id = store.resolve(key).await?;
    let sub = store.subscription(&id).await?;
    let served: Vec<Impu> = sub
        .public_identities
        .iter()
        .filter(|u| u.state != RegistrationState::NotRegistered)
        .map(|u| u.impu.clone())
        .collect();
    if served.is_empty() && sub.scscf.is_none() {
        writeln!(out, "subscription {id} is not registered: nothing to do")?;
        return Ok(());
    }
    store
        .set_registration_state(&served, RegistrationState::NotRegistered)
        .await?;
    store.set_scscf(&id, None).await?;
    let names: Vec<String> = served.iter().map(|u| u.to_string()).collect();
    writeln!(
        out,
        "administrative de-registration of subscription {id} in the database: {} set NOT_REGISTERED, S-CSCF {} cleared",
        if names.is_empty() { "no identity".to_string() } else { names.join(", ") },
        sub.scscf.as_ref().map(|a| a.server_name.as_str()).unwrap_or("-")
    )?;
    writeln!(
        out,
        "NO RTR was sent (no running HSS was reached): the S-CSCF still serves the user until its registration expires"
    )?;
    Ok(())
}
