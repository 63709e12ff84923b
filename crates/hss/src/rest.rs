//! The provisioning REST API (JSON over HTTP, axum): the same operations as [`crate::cli`], behind
//! a bearer token (RFC 6750 §2.1), with its OpenAPI 3.0 description at `GET /openapi.json`.
//!
//! | method | path | does |
//! |---|---|---|
//! | GET | `/api/v1/subscribers?offset=&limit=` | list |
//! | POST | `/api/v1/subscribers` | add ([`SubscriberInput`]) |
//! | GET | `/api/v1/subscribers/{key}` | show (id, IMPI or IMPU; no secrets) |
//! | DELETE | `/api/v1/subscribers/{key}` | delete |
//! | PATCH | `/api/v1/impis/{impi}` | change an IMPI ([`ImpiPatch`]) |
//! | PATCH | `/api/v1/impus/{impu}` | change an IMPU ([`ImpuPatch`]) |
//! | POST | `/api/v1/import` | bulk import, `text/csv` or `application/json` body |
//! | POST | `/api/v1/subscribers/{key}/deregister` | network-initiated de-registration (RTR); body `{"reason": text, "code": "permanent-termination" \| "new-server-assigned" \| "server-change" \| "remove-s-cscf"}`, both optional |
//! | POST | `/api/v1/subscribers/{key}/push-profile` | push the profile to the S-CSCF (PPR) |
//!
//! With a [`CxNotifier`], a successful `PATCH /api/v1/impus/…` also pushes the changed profile
//! (PPR, TS 29.228 §6.2.2) to the serving S-CSCF; a failed push is logged, the change stays.
//!
//! Errors are `{"error": "..."}` with 400 (invalid input), 401 (token), 404, 409 (duplicate) or
//! 500 (store failure; details are logged, not returned).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::cx_server::{CxNotifier, DeregistrationReport, ProfilePushReport};
use crate::model::{Impi, Impu};
use crate::provision::import::{self, ImportFormat, ImportSummary};
use crate::provision::{ImpiPatch, ImpuPatch, SubscriberInput, SubscriptionView};
use crate::store::{SubscriberStore, SubscriptionSummary};
use crate::HssError;

/// Largest request body accepted by the import endpoint.
pub const MAX_IMPORT_BODY: usize = 64 * 1024 * 1024;

#[derive(Clone)]
struct AppState {
    store: Arc<dyn SubscriberStore>,
    token: Arc<[u8]>,
    dereg: Option<Arc<dyn CxNotifier>>,
}

/// Builds the API router. `token` is the bearer token clients must present; it must be at least 16
/// characters. Without a [`CxNotifier`] the de-registration endpoint answers 503.
pub fn router(store: Arc<dyn SubscriberStore>, token: &str) -> Result<Router, HssError> {
    build(store, token, None)
}

/// [`router`] with network-initiated de-registration through `dereg` (the process running the
/// Cx server passes a [`crate::cx_server::CxNodeNotifier`]).
pub fn router_with_cx(
    store: Arc<dyn SubscriberStore>,
    token: &str,
    dereg: Arc<dyn CxNotifier>,
) -> Result<Router, HssError> {
    build(store, token, Some(dereg))
}

fn build(
    store: Arc<dyn SubscriberStore>,
    token: &str,
    dereg: Option<Arc<dyn CxNotifier>>,
) -> Result<Router, HssError> {
    if token.len() < 16 {
        return Err(HssError::Config(
            "REST API token must be at least 16 characters".into(),
        ));
    }
    let state = AppState {
        store,
        token: Arc::from(token.as_bytes()),
        dereg,
    };
    let api = Router::new()
        .route("/api/v1/subscribers", get(list).post(add))
        .route("/api/v1/subscribers/{key}", get(show).delete(remove))
        .route("/api/v1/subscribers/{key}/deregister", post(deregister))
        .route("/api/v1/subscribers/{key}/push-profile", post(push_profile))
        .route("/api/v1/impis/{impi}", patch(patch_impi))
        .route("/api/v1/impus/{impu}", patch(patch_impu))
        .route(
            "/api/v1/import",
            post(import_body).layer(DefaultBodyLimit::max(MAX_IMPORT_BODY)),
        )
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token))
        .with_state(state);
    Ok(Router::new()
        .route("/openapi.json", get(openapi))
        .merge(api))
}

/// Serves `router` on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), HssError> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await?;
    Ok(())
}

async fn require_token(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let ok = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, cred) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then_some(cred.trim())
        })
        .map(|cred| bool::from(cred.as_bytes().ct_eq(&st.token)))
        .unwrap_or(false);
    if ok {
        next.run(req).await
    } else {
        let mut r = ApiError(
            StatusCode::UNAUTHORIZED,
            "missing or wrong bearer token".into(),
        )
        .into_response();
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer realm=\"imscore-hss\""),
        );
        r
    }
}

struct ApiError(StatusCode, String);

#[derive(Serialize)]
struct ErrorBody {
    error: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(ErrorBody { error: self.1 })).into_response()
    }
}

impl From<HssError> for ApiError {
    fn from(e: HssError) -> Self {
        let status = match &e {
            HssError::Invalid { .. } | HssError::Format(_) => StatusCode::BAD_REQUEST,
            HssError::Duplicate { .. } => StatusCode::CONFLICT,
            HssError::Cx(_) => StatusCode::BAD_GATEWAY,
            HssError::NotFound { .. } => StatusCode::NOT_FOUND,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(error = %e, "REST API: store failure");
            ApiError(status, "internal error (see HSS log)".into())
        } else {
            ApiError(status, e.to_string())
        }
    }
}

/// JSON body parsing with our error shape (axum's rejection is plain text).
fn parse_json<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError(StatusCode::BAD_REQUEST, format!("invalid JSON body: {e}")))
}

#[derive(Deserialize)]
struct Page {
    #[serde(default)]
    offset: u64,
    #[serde(default = "default_limit")]
    limit: u64,
}

fn default_limit() -> u64 {
    100
}

#[derive(Serialize)]
struct ListBody {
    total: u64,
    items: Vec<SubscriptionSummary>,
}

async fn list(
    State(st): State<AppState>,
    Query(p): Query<Page>,
) -> Result<Json<ListBody>, ApiError> {
    Ok(Json(ListBody {
        total: st.store.count().await?,
        items: st.store.list(p.offset, p.limit.min(10_000)).await?,
    }))
}

async fn add(
    State(st): State<AppState>,
    body: Bytes,
) -> Result<(StatusCode, Json<SubscriptionView>), ApiError> {
    let input: SubscriberInput = parse_json(&body)?;
    let sub = input.to_subscription()?;
    st.store.create_subscription(&sub).await?;
    Ok((StatusCode::CREATED, Json(SubscriptionView::from(&sub))))
}

async fn show(
    State(st): State<AppState>,
    Path(key): Path<String>,
) -> Result<Json<SubscriptionView>, ApiError> {
    let id = st.store.resolve(&key).await?;
    Ok(Json(SubscriptionView::from(
        &st.store.subscription(&id).await?,
    )))
}

async fn remove(
    State(st): State<AppState>,
    Path(key): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = st.store.resolve(&key).await?;
    st.store.delete_subscription(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct DeregisterBody {
    /// Reason-Info of the Deregistration-Reason.
    #[serde(default)]
    reason: String,
    /// Reason-Code by name (`cx::enums::ReasonCode::NAMED`); default PERMANENT_TERMINATION, which
    /// keeps the user off (TS 24.229 §5.4.1.5: `rejected`), the others let the UE register again.
    #[serde(default)]
    code: Option<String>,
}

async fn deregister(
    State(st): State<AppState>,
    Path(key): Path<String>,
    body: Bytes,
) -> Result<Json<DeregistrationReport>, ApiError> {
    let b: DeregisterBody = if body.is_empty() {
        DeregisterBody::default()
    } else {
        parse_json(&body)?
    };
    let code = match b.code.as_deref() {
        None => cx::enums::ReasonCode::PermanentTermination,
        Some(name) => cx::enums::ReasonCode::from_name(name).ok_or_else(|| {
            ApiError(
                StatusCode::BAD_REQUEST,
                format!(
                    "code {name:?} is none of {}",
                    cx::enums::ReasonCode::names()
                ),
            )
        })?,
    };
    let Some(d) = &st.dereg else {
        return Err(ApiError(
            StatusCode::SERVICE_UNAVAILABLE,
            "no Cx server runs in this process".into(),
        ));
    };
    Ok(Json(d.deregister(&key, &b.reason, code).await?))
}

#[derive(Serialize)]
struct PushBody {
    pushed: Option<ProfilePushReport>,
}

async fn push_profile(
    State(st): State<AppState>,
    Path(key): Path<String>,
) -> Result<Json<PushBody>, ApiError> {
    let Some(d) = &st.dereg else {
        return Err(ApiError(
            StatusCode::SERVICE_UNAVAILABLE,
            "no Cx server runs in this process".into(),
        ));
    };
    Ok(Json(PushBody {
        pushed: d.push_profile(&key).await?,
    }))
}

async fn patch_impi(
    State(st): State<AppState>,
    Path(impi): Path<String>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let p: ImpiPatch = parse_json(&body)?;
    let impi = Impi::parse(&impi)?;
    st.store
        .update_private_identity(&impi, &p.to_update()?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn patch_impu(
    State(st): State<AppState>,
    Path(impu): Path<String>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let p: ImpuPatch = parse_json(&body)?;
    let impu = Impu::parse(&impu)?;
    st.store
        .update_public_identity(&impu, &p.to_update())
        .await?;
    if let Some(d) = &st.dereg {
        match d.push_profile(impu.as_str()).await {
            Ok(Some(r)) if r.result_code != 2001 => {
                tracing::warn!(impu = %impu, code = r.result_code, "profile push refused")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(impu = %impu, error = %e, "profile push failed"),
        }
    }
    Ok(StatusCode::NO_CONTENT)
}

async fn import_body(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<ImportSummary>, ApiError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let format = if ct.starts_with("text/csv") {
        ImportFormat::Csv
    } else if ct.starts_with("application/json") || ct.starts_with("application/x-ndjson") {
        ImportFormat::Json
    } else {
        return Err(ApiError(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type must be text/csv or application/json".into(),
        ));
    };
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError(StatusCode::BAD_REQUEST, "body is not UTF-8".into()))?;
    let rows = import::parse(text, format)?;
    Ok(Json(
        import::import_rows(st.store.as_ref(), rows, false).await,
    ))
}

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI_JSON)
}

/// The OpenAPI 3.0 document served at `/openapi.json`.
pub const OPENAPI_JSON: &str = include_str!("rest/openapi.json");
