//! `GET /v1/check` and `POST /v1/check`: may these numbers be called? Answered from the
//! in-memory snapshot; nothing here touches Postgres. Each answer is counted in the
//! metrics (by result, and the reasons of blocks) with its latency.
//!
//! Here the routes and what both answers share (the caller, the reasons of blocks for the
//! metrics, the count for the console's chart, the JSON body); `check/one.rs` the `GET`
//! for one number; `check/batch.rs` the `POST` for a batch.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderValue};
use axum::response::Response;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::ScopedDialer;
use super::AppState;
use crate::activity::Counts;
use crate::domain::Scope;
use crate::error::ApiError;
use crate::index::Reason;
use crate::metrics::{CheckMode, CheckResult, Metrics};

mod batch;
mod one;

/// Most numbers one batch request may carry.
pub const MAX_BATCH: usize = 10_000;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(one::check_one, batch::check_batch))
}

/// The caller of a check ([`ScopedDialer`]: a client-bound key checks for its client;
/// `BATCH` for `POST`). Before the data is loaded even a key cannot be checked: that
/// refusal (`not_ready`) counts as a check.
struct Checker<const BATCH: bool>(ScopedDialer);

impl<const BATCH: bool> FromRequestParts<AppState> for Checker<BATCH> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match ScopedDialer::from_request_parts(parts, state).await {
            Ok(caller) => Ok(Checker(caller)),
            Err(e) => {
                if e.code() == "not_ready" {
                    let mode = if BATCH {
                        CheckMode::Batch
                    } else {
                        CheckMode::Single
                    };
                    state.metrics.checked(mode, CheckResult::NotReady, 1);
                }
                Err(e)
            }
        }
    }
}

impl<const BATCH: bool> Checker<BATCH> {
    /// The client and campaign a call is checked for. Built with the same rules as entry
    /// scopes (trimmed, bounded) so that a lookup compares like with like; a client-bound
    /// key's check is for its client whatever was asked (another client: `403`). The
    /// receipt's claims name this scope, the one evaluated.
    fn scope_of(&self, client: Option<&str>, campaign: Option<&str>) -> Result<Scope, ApiError> {
        let asked = Scope::from_parts(client, campaign)
            .map_err(|e| ApiError::unprocessable("invalid_scope", e.0))?;
        self.0.check_scope(asked)
    }
}

/// The reasons of blocks among the answers of one request, for the metrics.
#[derive(Default)]
struct Blocks<'a> {
    dnc: u64,
    consent: u64,
    registries: Vec<(&'a str, u64)>,
}

impl<'a> Blocks<'a> {
    fn add(&mut self, reasons: &[Reason<'a>]) {
        if reasons.iter().any(|r| matches!(r, Reason::Dnc { .. })) {
            self.dnc += 1;
        }
        if reasons.iter().any(|r| matches!(r, Reason::Consent { .. })) {
            self.consent += 1;
        }
        for r in reasons {
            if let Reason::Registry { registry } = r {
                match self.registries.iter_mut().find(|(n, _)| n == registry) {
                    Some((_, count)) => *count += 1,
                    None => self.registries.push((registry, 1)),
                }
            }
        }
    }

    fn count(&self, metrics: &Metrics) {
        metrics.dnc_blocks(self.dnc);
        metrics.consent_blocks(self.consent);
        for (registry, count) in &self.registries {
            metrics.registry_blocks(registry, *count);
        }
    }
}

/// Counts a verdict for the console's chart of recent checks.
fn count(counts: &mut Counts, reasons: &[Reason]) {
    let dnc = reasons.iter().any(|r| matches!(r, Reason::Dnc { .. }));
    let registry = reasons.iter().any(|r| matches!(r, Reason::Registry { .. }));
    // A missing consent blocks too: counted as blocked, under neither source.
    counts.add(!reasons.is_empty(), dnc, registry);
}

/// An answer written straight to bytes: it borrows from the snapshot, so it cannot be
/// handed to `Json` (which needs an owned value) without a copy, and its receipt signs
/// those bytes.
fn json_body(bytes: Vec<u8>) -> Response {
    // As a boxed slice the bytes become the body without a shared header of their own
    // (`Bytes::from(Vec)` allocates one when the capacity is not all used); shrinking
    // the buffer in place costs no copy while the answer fills more than half of it.
    let body = axum::body::Body::from(bytes::Bytes::from(bytes.into_boxed_slice()));
    let mut response = Response::new(body);
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, JSON_CONTENT_TYPE);
    response
}

const JSON_CONTENT_TYPE: HeaderValue = HeaderValue::from_static("application/json");
