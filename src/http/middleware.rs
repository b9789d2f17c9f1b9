//! What every request passes through on its way to a handler: a request id, a trace
//! span keyed on the matched route, the JSON body limit, the request timeout, which
//! answers truthfully from how far a write got ([`WriteProgress`]), and the count and
//! latency of requests by route and status (metrics).

use std::convert::Infallible;
use std::io;
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
use tower::ServiceBuilder;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::TraceLayer;

use super::AppState;
use crate::error::ApiError;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Largest JSON request body. A full batch of 10 000 numbers is well under this; anything
/// bigger is answered 413 before it is parsed. Registry uploads have their own limit.
pub const JSON_BODY_LIMIT: usize = 1 << 20;

/// The routes exempt from the request timeout and the JSON body limit: an upload (a
/// registry file, a CRM's flags) may take minutes and is bounded by TARCZA_MAX_UPLOAD_BYTES instead.
const UPLOAD_ROUTES: &[&str] = &[
    "/v1/registries/{name}/imports",
    "/v1/dnc/imports",
    "/v1/dnc/drift",
];
/// A long poll: its own wait comes on top of the request timeout.
const LONG_POLL_ROUTE: &str = "/v1/changes";

/// API `routes` inside the limits of every API request: the JSON body limit and the
/// request timeout; counted in the metrics unless they are off (TARCZA_METRICS=false).
/// The timeout and the count are one layer: each `from_fn` layer costs every request a
/// boxed future and a clone of the routes' service.
pub fn limited(routes: Router, state: AppState) -> Router {
    // One `layer` call for both: each call wraps every route in a boxed service of its
    // own, which every request clones (an allocation and a free a layer).
    routes.layer(
        ServiceBuilder::new()
            .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
            .layer(middleware::from_fn_with_state(state, limit_and_count)),
    )
}

/// `router` inside the layers every request passes: request id and trace span (outermost
/// first; in one `layer` call, as in [`limited`]).
pub fn observed(router: Router) -> Router {
    router.layer(
        ServiceBuilder::new()
            .layer(SetRequestIdLayer::new(REQUEST_ID, SequentialIds::new()))
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
            .layer(PropagateRequestIdLayer::new(REQUEST_ID)),
    )
}

/// The request within its time limit ([`request_timeout`]), then counted with its
/// latency by matched route, method and status (metrics; the 408 of a timeout too).
async fn limit_and_count(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    let route = req.extensions().get::<MatchedPath>().cloned();
    let method = req.method().clone();
    let response = request_timeout(&state, route.as_ref(), req, next).await;
    state.metrics.http_request(
        route.as_ref().map_or("unmatched", MatchedPath::as_str),
        method.as_str(),
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

/// Request ids `<process tag>-<sequence>`: unique per process and cheap (a UUID per
/// request costs a trip to the OS random source on the hot path), written without a
/// formatter: the tag (8 hex digits and `-`) once, the sequence's digits per request.
#[derive(Clone)]
struct SequentialIds {
    tag: [u8; TAG_LEN],
    next: Arc<std::sync::atomic::AtomicU64>,
}

/// `xxxxxxxx-`
const TAG_LEN: usize = 9;
/// The tag and the 20 digits of the largest `u64`.
const ID_LEN: usize = TAG_LEN + 20;

impl SequentialIds {
    fn new() -> Self {
        let mut tag = [0u8; 4];
        getrandom::fill(&mut tag).unwrap_or_default();
        SequentialIds::tagged(u32::from_le_bytes(tag))
    }

    fn tagged(tag: u32) -> Self {
        let mut text = [b'-'; TAG_LEN];
        for (i, digit) in text[..8].iter_mut().enumerate() {
            *digit = b"0123456789abcdef"[(tag >> (28 - 4 * i)) as usize & 0xf];
        }
        SequentialIds {
            tag: text,
            next: Arc::default(),
        }
    }

    /// The id of request `n` into `out`, and its length.
    fn write(&self, n: u64, out: &mut [u8; ID_LEN]) -> usize {
        out[..TAG_LEN].copy_from_slice(&self.tag);
        let digits = n.checked_ilog10().unwrap_or(0) as usize + 1;
        let mut rest = n;
        for digit in out[TAG_LEN..TAG_LEN + digits].iter_mut().rev() {
            *digit = b'0' + (rest % 10) as u8;
            rest /= 10;
        }
        TAG_LEN + digits
    }
}

impl MakeRequestId for SequentialIds {
    fn make_request_id<B>(&mut self, _: &Request<B>) -> Option<RequestId> {
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut id = [0; ID_LEN];
        let len = self.write(n, &mut id);
        axum::http::HeaderValue::from_bytes(&id[..len])
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
async fn request_timeout(
    state: &AppState,
    route: Option<&MatchedPath>,
    mut req: Request,
    next: Next,
) -> Response {
    let mut limit = state.settings.request_timeout;
    let route = route.map(MatchedPath::as_str);
    let is_upload =
        req.method() == Method::POST && route.is_some_and(|r| UPLOAD_ROUTES.contains(&r));
    if req.method() == Method::GET && route == Some(LONG_POLL_ROUTE) {
        limit += super::changes::MAX_WAIT;
    }
    if is_upload {
        let (parts, body) = req.into_parts();
        let body = with_idle_timeout(body, limit);
        return next.run(Request::from_parts(parts, body)).await;
    }
    let deadline = tokio::time::Instant::now() + limit;
    // A read changes nothing: no handler of a GET takes a WriteProgress (it would get one
    // without a limit), and its timeout answers that nothing was changed. That spares the
    // hot `GET /v1/check` an allocation and a request extension.
    let progress = (req.method() != Method::GET).then(|| {
        let progress =
            WriteProgress::new(Some(deadline - (limit / 10).min(Duration::from_secs(1))));
        req.extensions_mut().insert(progress.clone());
        progress
    });
    match tokio::time::timeout_at(deadline, next.run(req)).await {
        Ok(response) => response,
        Err(_) => progress
            .unwrap_or_else(|| WriteProgress::new(None))
            .timed_out(limit),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_the_tag_in_hex_and_the_sequence_in_decimal() {
        for tag in [0, 1, 0xdead_beef, u32::MAX, 0x0a0b_0c0d] {
            let ids = SequentialIds::tagged(tag);
            for n in [
                0,
                1,
                9,
                10,
                99,
                100,
                12_345,
                999_999_999_999,
                u64::MAX - 1,
                u64::MAX,
            ] {
                let mut out = [0; ID_LEN];
                let len = ids.write(n, &mut out);
                assert_eq!(&out[..len], format!("{tag:08x}-{n}").as_bytes());
            }
        }
    }
}
