//! Application state, the router, and serving it until shutdown.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::MatchedPath;
use axum::http::{HeaderName, Request};
use axum::Router;
use sqlx::PgPool;
use tokio::net::TcpListener;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::TraceLayer;

use crate::config::{Config, RegistryConfig};
use crate::domain::Region;
use crate::http;
use crate::index::Index;

/// Settings the request handlers need, fixed at start-up.
#[derive(Clone, Debug)]
pub struct Settings {
    pub region: Region,
    pub log_numbers: bool,
    pub max_upload_bytes: u64,
    pub max_shrink: f64,
    pub max_reject_rate: f64,
    /// Registries with settings of their own (the others use the defaults).
    pub registries: Vec<RegistryConfig>,
    pub sync_retry_delay: Duration,
}

impl Settings {
    /// The settings of registry `name`: configured, or the defaults.
    pub fn registry(&self, name: &str) -> RegistryConfig {
        self.registries
            .iter()
            .find(|r| r.name == name)
            .cloned()
            .unwrap_or_else(|| RegistryConfig::unconfigured(name))
    }
}

impl From<&Config> for Settings {
    fn from(c: &Config) -> Self {
        Settings {
            region: c.default_region,
            log_numbers: c.log_numbers,
            max_upload_bytes: c.max_upload_bytes,
            max_shrink: c.max_shrink,
            max_reject_rate: c.max_reject_rate,
            registries: c.registries.clone(),
            sync_retry_delay: c.sync_retry_delay,
        }
    }
}

/// Cheap to clone: everything inside is shared.
#[derive(Clone)]
pub struct AppState {
    pub db: PgPool,
    pub index: Arc<Index>,
    pub settings: Arc<Settings>,
}

impl AppState {
    pub fn new(db: PgPool, settings: Settings) -> AppState {
        AppState {
            db,
            index: Arc::new(Index::new()),
            settings: Arc::new(settings),
        }
    }

    /// Brings this process's snapshot up to date after a committed write, so the write is
    /// visible to `/check` before its response is sent. The write stands even if this
    /// fails (the database vanished in between); reconciliation then catches up.
    pub async fn sync_after_write(&self) {
        if let Err(e) = self.index.refresh(&self.db).await {
            tracing::warn!(error = %e, "refresh after a write failed; reconciliation will retry");
        }
    }

    /// Masks a number for logs unless TARCZA_LOG_NUMBERS is on.
    pub fn loggable(&self, number: crate::domain::PhoneNumber) -> String {
        if self.settings.log_numbers {
            number.e164()
        } else {
            number.masked()
        }
    }
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The whole HTTP API. Pure: binds nothing and reads no environment.
pub fn router(state: AppState) -> Router {
    http::router(state)
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(
            // Spans carry the matched route, never the raw URI (it holds phone numbers).
            // Failures are logged where they happen (ApiError logs 5xx causes once), so the
            // layer's own failure line would only repeat them, or flag an expected 503.
            TraceLayer::new_for_http()
                .on_failure(tower_http::trace::DefaultOnFailure::new().level(tracing::Level::DEBUG))
                .make_span_with(|req: &Request<_>| {
                    let route = req
                        .extensions()
                        .get::<MatchedPath>()
                        .map_or("unmatched", MatchedPath::as_str);
                    let id = req
                        .headers()
                        .get(REQUEST_ID)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-");
                    tracing::info_span!("request", method = %req.method(), route, request_id = id)
                }),
        )
        .layer(SetRequestIdLayer::new(REQUEST_ID, SequentialIds::new()))
}

/// Request ids `<process tag>-<sequence>`: unique per process and cheap (a UUID per
/// request costs a trip to the OS random source on the hot path).
#[derive(Clone)]
struct SequentialIds {
    tag: u32,
    next: Arc<std::sync::atomic::AtomicU64>,
}

impl SequentialIds {
    fn new() -> Self {
        let mut tag = [0u8; 4];
        getrandom::fill(&mut tag).unwrap_or_default();
        SequentialIds {
            tag: u32::from_le_bytes(tag),
            next: Arc::default(),
        }
    }
}

impl MakeRequestId for SequentialIds {
    fn make_request_id<B>(&mut self, _: &Request<B>) -> Option<RequestId> {
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let id = format!("{:08x}-{n}", self.tag);
        axum::http::HeaderValue::from_str(&id)
            .ok()
            .map(RequestId::new)
    }
}

/// Serves `router` on `listener` until `shutdown` resolves, then drains open requests.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}

/// How long a request may take before it is answered 408; uploads are exempt.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
