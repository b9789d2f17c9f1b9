//! Application state, the router, and serving it until shutdown.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderName, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use futures_util::{stream, StreamExt};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use sqlx::PgPool;
use tokio::net::TcpListener;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::TraceLayer;

use crate::config::Settings;
use crate::connection::ClientSocket;
use crate::error::ApiError;
use crate::http;
use crate::index::Index;

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
    /// visible to `/check` before its response is sent, waiting until `answer_by` at most
    /// (see [`WriteProgress`]): the refresh (a large registry reload can take long) goes on
    /// in its own task and lands later. Returns whether this process's `/check` shows the
    /// write now. The write stands either way; if the refresh fails (the database vanished
    /// in between), reconciliation catches up.
    pub async fn sync_after_write(&self, answer_by: Option<tokio::time::Instant>) -> bool {
        let (index, db) = (self.index.clone(), self.db.clone());
        let refresh = tokio::spawn(async move {
            let result = index.refresh(&db).await;
            if let Err(e) = &result {
                tracing::warn!(error = %e, "refresh after a write failed; reconciliation will retry");
            }
            result.is_ok()
        });
        let Some(answer_by) = answer_by else {
            return refresh.await.unwrap_or(false);
        };
        match tokio::time::timeout_at(answer_by, refresh).await {
            Ok(done) => done.unwrap_or(false),
            Err(_) => {
                tracing::warn!("refresh after a write is slow; answering that it is stored");
                false
            }
        }
    }

    /// Masks a number for logs unless TARCZA_LOG_NUMBERS is on.
    pub fn loggable(&self, number: crate::domain::PhoneNumber) -> String {
        self.settings.loggable(number)
    }

    /// What the background jobs work with.
    pub fn jobs(&self) -> crate::jobs::Context {
        crate::jobs::Context {
            db: self.db.clone(),
            index: self.index.clone(),
            settings: self.settings.clone(),
        }
    }
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Largest JSON request body. A full batch of 10 000 numbers is well under this; anything
/// bigger is answered 413 before it is parsed. Registry uploads have their own limit.
pub const JSON_BODY_LIMIT: usize = 1 << 20;

/// The one route exempt from the request timeout and the JSON body limit: a registry
/// upload may take minutes and is bounded by TARCZA_MAX_UPLOAD_BYTES instead.
const UPLOAD_ROUTE: &str = "/v1/registries/{name}/imports";

/// The whole HTTP API. Pure: binds nothing and reads no environment.
pub fn router(state: AppState) -> Router {
    http::router(state.clone())
        .layer(middleware::from_fn_with_state(state, request_timeout))
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
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
                    // `/v1/check` is the hot path and logs nothing of its own at info:
                    // building its span there costs about a tenth of its throughput
                    // (measured with bench/run), so it is a debug span.
                    if route == "/v1/check" {
                        tracing::debug_span!("request", method = %req.method(), route, request_id = id)
                    } else {
                        tracing::info_span!("request", method = %req.method(), route, request_id = id)
                    }
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

/// How far a request's write has got, shared by a write handler (which reports it) and
/// the request-timeout middleware (which answers a timeout truthfully from it): before
/// the write, dropping the handler rolls it back and "nothing was changed" is true; once
/// a transaction that may commit is under way it is not. It also tells the handler when
/// to answer by, so that a committed write is answered with its result, never timed out.
#[derive(Clone, Debug)]
pub struct WriteProgress {
    answer_by: Option<tokio::time::Instant>,
    stage: Arc<AtomicU8>,
}

const NOT_WRITING: u8 = 0;
const WRITING: u8 = 1;
const COMMITTED: u8 = 2;

impl WriteProgress {
    fn new(answer_by: Option<tokio::time::Instant>) -> Self {
        WriteProgress {
            answer_by,
            stage: Arc::new(AtomicU8::new(NOT_WRITING)),
        }
    }

    /// A transaction that may commit is about to start (or work that will write goes on
    /// in a task of its own).
    pub fn writing(&self) {
        self.stage.fetch_max(WRITING, Ordering::SeqCst);
    }

    /// The change is committed: from now on the answer must say it was made.
    pub fn committed(&self) {
        self.stage.store(COMMITTED, Ordering::SeqCst);
    }

    /// When the handler must answer by to beat the request timeout (`None`: no limit).
    pub fn answer_by(&self) -> Option<tokio::time::Instant> {
        self.answer_by
    }

    /// The answer to a request that ran out of time at this stage.
    fn timed_out(&self, limit: Duration) -> Response {
        match self.stage.load(Ordering::SeqCst) {
            NOT_WRITING => ApiError::client(
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                format!("the request took longer than {limit:?}; nothing was changed"),
            )
            .into_response(),
            WRITING => ApiError::client(
                StatusCode::REQUEST_TIMEOUT,
                "outcome_unknown",
                format!(
                    "the request took longer than {limit:?} while its change was being \
                     written: it may have been made. Look it up before repeating it (adding a \
                     do-not-call entry again is safe: it returns the existing one)"
                ),
            )
            .into_response(),
            _ => (
                StatusCode::ACCEPTED,
                axum::Json(serde_json::json!({
                    "status": "stored",
                    "message": format!(
                        "the change was stored, but answering took longer than {limit:?}: \
                         look it up for the result. This process's /v1/check shows it within \
                         TARCZA_MAX_SNAPSHOT_LAG"
                    ),
                })),
            )
                .into_response(),
        }
    }
}

/// Handlers take it as an argument; outside the request-timeout middleware (uploads),
/// there is no time limit.
impl<S: Send + Sync> FromRequestParts<S> for WriteProgress {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        Ok(parts
            .extensions
            .get::<WriteProgress>()
            .cloned()
            .unwrap_or_else(|| WriteProgress::new(None)))
    }
}

/// Answers 408 with our error body when a request (a slow client sending its body, or a
/// handler stuck on the database) takes longer than TARCZA_REQUEST_TIMEOUT. Dropping the
/// handler's future rolls back any transaction it had open, so nothing is half-written;
/// whether "nothing was changed" can be promised depends on how far a write got
/// ([`WriteProgress`]). Write handlers answer a little before the limit (a tenth of it,
/// at most 1 s) once their change is committed, so that it is answered as made.
/// An upload may take as long as it needs, but not stall: a pause longer than the same
/// limit between two pieces of its body fails the import (and frees the registry).
async fn request_timeout(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let limit = state.settings.request_timeout;
    let is_upload = req.method() == Method::POST
        && req
            .extensions()
            .get::<MatchedPath>()
            .is_some_and(|p| p.as_str() == UPLOAD_ROUTE);
    if is_upload {
        let (parts, body) = req.into_parts();
        let body = with_idle_timeout(body, limit);
        return next.run(Request::from_parts(parts, body)).await;
    }
    let deadline = tokio::time::Instant::now() + limit;
    let progress = WriteProgress::new(Some(deadline - (limit / 10).min(Duration::from_secs(1))));
    req.extensions_mut().insert(progress.clone());
    match tokio::time::timeout_at(deadline, next.run(req)).await {
        Ok(response) => response,
        Err(_) => progress.timed_out(limit),
    }
}

/// `body`, failing with a read error when no data arrives for `idle`.
fn with_idle_timeout(body: Body, idle: Duration) -> Body {
    let chunks = body.into_data_stream();
    Body::from_stream(stream::unfold(Some(chunks), move |state| async move {
        let mut chunks = state?;
        match tokio::time::timeout(idle, chunks.next()).await {
            Ok(Some(Ok(chunk))) => Some((Ok(chunk), Some(chunks))),
            Ok(Some(Err(e))) => Some((Err(io::Error::other(e)), None)),
            Ok(None) => None,
            Err(_) => Some((
                Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("the client sent nothing for {idle:?}"),
                )),
                None,
            )),
        }
    }))
}

/// Connection-level limits, enforced by hyper before a request reaches the router.
#[derive(Clone, Copy, Debug)]
pub struct ServeOptions {
    /// Time a client has to send a request's complete head (request line and headers);
    /// a slow-loris connection is closed after it. hyper starts the clock as soon as it
    /// waits for a head, so it is also the idle timeout of a keep-alive connection.
    pub header_read_timeout: Duration,
    /// Largest request head (request line, query string and headers) in bytes; a bigger
    /// one is answered 431 (with our error body) and the connection closed.
    pub max_head_bytes: usize,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            header_read_timeout: Duration::from_secs(10),
            max_head_bytes: 64 << 10,
        }
    }
}

/// Serves `router` on `listener` until `shutdown` resolves, then drains open requests.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, router, shutdown, ServeOptions::default()).await
}

/// [`serve`] with explicit connection limits. `axum::serve` offers no header-read
/// timeout, so connections are driven by hyper directly.
pub async fn serve_with(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    options: ServeOptions,
) -> std::io::Result<()> {
    let graceful = GracefulShutdown::new();
    let mut shutdown = pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors and the like: pass, and try again shortly.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        // Closes gently (the client reads a 413 it answered before we read its body) and
        // gives hyper's own 400/414/431 our JSON body: see `connection`.
        let socket = ClientSocket::new(stream, options.max_head_bytes.max(8192));
        let connection = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(options.header_read_timeout)
            .max_buf_size(options.max_head_bytes.max(8192))
            .serve_connection(
                TokioIo::new(socket),
                TowerToHyperService::new(router.clone()),
            );
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection closed with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}
