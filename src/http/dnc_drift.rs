//! `POST /v1/dnc/drift` (agent and up): the drift report. A CRM's contact export (number,
//! its do-not-call flag, optionally the client) is compared, row by row, with what
//! `/check` would answer from the in-memory snapshot for a call for that client, and the
//! answer names per client the contacts tarcza blocks that the CRM does not flag (the
//! `forgotten` flags, with `/check`'s reasons) and those the CRM flags that tarcza does
//! not block (`candidates`). `apply=true` adds the candidates as the bulk sync would.
//!
//! Streamed: a row is read, checked and forgotten; only the findings and the first
//! rejects are kept, never the export. JSON, or CSV (one row per finding) for
//! `Accept: text/csv`.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::dnc_imports::{
    self, export_query, open_export, run_apart, too_many_rejects, unreadable, ExportParams,
    FlagsFile,
};
use super::extract::{scope_forbidden, ApiQuery, ScopedAgent};
use super::AppState;
use crate::domain::{Binding, Refusal};
use crate::error::{ApiError, ErrorBody, ErrorDetail};
use crate::import::contacts::{ContactReader, ContactsRead};
use crate::import::flags::DEFAULT_SOURCE;
use crate::index::freshness::{self, Warning};
use crate::index::Snapshot;
use crate::store::dnc_sync;
use crate::store::imports::Reject;

mod csv;
mod findings;

use csv::csv_answer;
use findings::{ClientReport, Counts, Findings};

pub fn router() -> OpenApiRouter<AppState> {
    let (schemas, paths, drift) = routes!(drift);
    // Streamed and bounded by TARCZA_MAX_UPLOAD_BYTES instead.
    OpenApiRouter::new().routes((schemas, paths, drift.layer(DefaultBodyLimit::disable())))
}

export_query! {
    struct DriftQuery {
        max_reject_rate: "With `apply=true`: more rejects than this share (0 to 1; default TARCZA_MAX_REJECT_RATE) and nothing is applied.",
        /// Add the candidates (flags the CRM has and tarcza lacks) as the bulk sync would.
        #[serde(default)]
        #[param(default = false)]
        apply: bool,
    }
}

struct DriftRequest {
    actor: i64,
    /// A client-bound caller's binding: every contact is compared for its client.
    binding: Option<Arc<Binding>>,
    export: ExportParams,
    apply: bool,
    csv: bool,
    snapshot: Arc<Snapshot>,
    now: DateTime<Utc>,
    warnings: Vec<Warning>,
}

/// Drift report: a CRM's contact export compared with what `/v1/check` answers.
///
/// The body is the export (number, its do-not-call flag, optionally the client), CSV or
/// JSON Lines. The answer names per client the contacts tarcza blocks that the CRM does
/// not flag (`forgotten`, with `/check`'s reasons) and those the CRM flags that tarcza
/// does not block (`candidates`), with counts and line-numbered rejects; CSV (one row per
/// finding) for `Accept: text/csv`. `apply=true` adds the candidates.
#[utoipa::path(
    post,
    operation_id = "dnc_drift_report",
    path = "/v1/dnc/drift",
    tag = "dnc",
    params(DriftQuery),
    request_body(
        description = "The contact export: CSV with a number column and a flag column (`dnc`, `nie_dzwonic`, `do_not_call`…; true/false/1/0/yes/no/tak/nie), optionally `client`; or JSON Lines of such objects; plain, gzip or zip",
        content(
            (FlagsFile = "text/csv"),
            (FlagsFile = "application/x-ndjson"),
            (FlagsFile = "application/octet-stream"),
        ),
    ),
    extensions(("x-required-role" = json!("agent")), ("x-client-bound-keys" = json!("own client"))),
    responses(
        (status = 200, description = "The report (JSON: per client `forgotten` and `candidates`, counts, rejects, and with `apply` what was `applied`), or as CSV for `Accept: text/csv`", content(
            (Answer = "application/json"),
            (String = "text/csv"),
        )),
        (status = 400, description = "The export could not be read (`unreadable_file`); nothing was changed", body = ErrorBody),
        (status = 422, description = "With `apply`, more rejected rows than `max_reject_rate` (`too_many_rejects`: the body is then the report with `error`, nothing applied), no data rows (`no_rows`), a file refused by its limits (`upload_refused`), an unknown `format` (`unsupported_format`) or `encoding` (`unsupported_encoding`), or a parameter that cannot be used (`invalid_parameter`)", body = ErrorBody),
        (status = 503, description = "The data `/v1/check` answers from is not loaded or stale (`not_ready`, `stale_registry`, `stale_snapshot`): no report from it", body = ErrorBody),
    )
)]
async fn drift(
    caller: ScopedAgent,
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<DriftQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let export = q.params(&headers, &state)?;
    let csv = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("text/csv"));
    // The snapshot /check answers from, under /check's rules of freshness: a report from
    // stale data could call a blocked contact unblocked.
    let snapshot = state.index.current().ok_or_else(ApiError::not_ready)?;
    freshness::snapshot_gate(&state.index, &state.settings)?;
    let now = Utc::now();
    let warnings = freshness::gate(&snapshot, &state.settings, now)?;
    let req = DriftRequest {
        actor: caller.0.id,
        binding: caller.0.binding.clone(),
        export,
        apply: q.apply,
        csv,
        snapshot,
        now,
        warnings,
    };
    run_apart("drift", report(state, req, body)).await
}

/// What `apply=true` wrote, as the bulk sync counts it.
#[derive(Serialize, ToSchema)]
#[schema(as = DriftApplied)]
struct Applied {
    /// Entries added.
    created: i64,
    /// Entries whose expiry was lengthened.
    extended: i64,
    /// Candidates already blocked by an entry (nothing written).
    unchanged: i64,
    /// The data version the write made (`null` when nothing changed).
    snapshot_version: Option<i64>,
}

/// A caveat on the report: a registry's data past its age under the `warn` policy, or
/// applied candidates this process's `/check` does not show yet.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
#[schema(as = DriftWarning)]
enum DriftWarning {
    Stale(Warning),
    Unseen(Unseen),
}

/// `not_yet_visible`: the candidates are stored, but this process's `/check` does not
/// show them yet. (It has no other fields, which tells it from a `stale_registry`.)
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = DriftNotYetVisible)]
struct Unseen {
    #[schema(example = "not_yet_visible")]
    code: &'static str,
    message: &'static str,
}

/// The drift report.
#[derive(Serialize, ToSchema)]
#[schema(as = DriftReport)]
struct Answer<'a, 's> {
    /// The snapshot the export was compared with.
    snapshot_version: i64,
    /// The instant `/check` was asked about.
    checked_at: DateTime<Utc>,
    /// Data rows of the export.
    rows_total: u64,
    /// Rows read as contacts.
    rows_accepted: u64,
    /// Rows refused (see `rejects`).
    rows_rejected: u64,
    /// The export's size as sent.
    bytes: u64,
    /// SHA-256 of the export as sent (hex).
    checksum: &'a str,
    /// The counts of every client together.
    totals: Counts,
    /// Per client (by client key; the rows without a client first).
    #[schema(value_type = Vec<ClientReport>)]
    clients: Vec<&'a ClientReport<'s>>,
    /// The first rejected rows, with their lines and reasons.
    #[schema(value_type = Vec<Reject>)]
    rejects: &'a [Reject],
    /// What `apply=true` wrote (`null` without it).
    applied: Option<Applied>,
    /// With `apply`, the report of a refused apply (`too_many_rejects`, status 422).
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ErrorDetail>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<DriftWarning>,
}

async fn report(state: AppState, mut req: DriftRequest, body: Body) -> Result<Response, ApiError> {
    let mut reader: ContactReader = open_export(&state, &req.export, body, req.now).await?;
    let snapshot = req.snapshot.clone();
    let mut findings = Findings::default();
    loop {
        match reader.next().await {
            Ok(Some(mut contact)) => {
                // For a client-bound key every contact is its client's, as its checks are
                // (one naming another client refuses the report); so is what it applies.
                if let Some(b) = &req.binding {
                    contact.scope = b.check_scope(&contact.scope).map_err(|refused| {
                        scope_forbidden(Refusal(format!("line {}: {refused}", contact.line)))
                    })?;
                }
                findings.add(&snapshot, contact, req.now)
            }
            Ok(None) => break,
            Err(e) => return Err(unreadable(e)),
        }
    }
    let read = reader.finish().await.map_err(unreadable)?;
    if read.rows_total == 0 {
        return Err(ApiError::unprocessable(
            "no_rows",
            "the export has no data rows; nothing was compared",
        ));
    }
    let mut warnings: Vec<DriftWarning> = std::mem::take(&mut req.warnings)
        .into_iter()
        .map(DriftWarning::Stale)
        .collect();
    let mut applied = None;
    let mut error = None;
    let mut status = StatusCode::OK;
    if req.apply {
        error = too_many_rejects(&read, req.export.max_reject_rate, "applied");
        if error.is_some() {
            status = StatusCode::UNPROCESSABLE_ENTITY;
        } else {
            let written = apply(&state, &req, &read, &findings).await?;
            if !written.visible {
                warnings.push(DriftWarning::Unseen(Unseen {
                    code: "not_yet_visible",
                    message: "stored; this process's /check shows it within \
                              TARCZA_MAX_SNAPSHOT_LAG",
                }));
            }
            applied = Some(Applied {
                created: written.planned.created,
                extended: written.planned.extended,
                unchanged: written.planned.unchanged,
                snapshot_version: written.version,
            });
        }
    }
    if req.csv && status == StatusCode::OK {
        return Ok(csv_answer(&findings));
    }
    let answer = Answer {
        snapshot_version: snapshot.version,
        checked_at: req.now,
        rows_total: read.rows_total,
        rows_accepted: read.rows_accepted,
        rows_rejected: read.rows_rejected,
        bytes: read.bytes,
        checksum: &read.checksum,
        totals: findings.totals(),
        clients: findings.clients.values().collect(),
        rejects: &read.rejects,
        applied,
        error,
        warnings,
    };
    let bytes = serde_json::to_vec(&answer).map_err(anyhow::Error::from)?;
    Ok((status, [(header::CONTENT_TYPE, "application/json")], bytes).into_response())
}

/// Adds the candidates as the bulk sync adds flags: the same temporary table, plan and
/// write (additive, audited, in the change feed), labelled `crm-drift:`.
async fn apply(
    state: &AppState,
    req: &DriftRequest,
    read: &ContactsRead,
    findings: &Findings<'_>,
) -> Result<dnc_imports::Written, ApiError> {
    let mut tx = state.db.begin().await?;
    dnc_sync::begin(&mut tx).await?;
    let mut copy = dnc_sync::start_copy(&mut tx).await?;
    for r in findings.clients.values() {
        for f in &r.candidates {
            dnc_sync::row(
                &mut copy,
                f.line,
                f.number,
                &r.scope,
                None,
                DEFAULT_SOURCE,
                None,
                None,
            );
            copy.end_row().await?;
        }
    }
    copy.finish().await?;
    let label = format!(
        "crm-drift:{}",
        &read.checksum[..16.min(read.checksum.len())]
    );
    let totals = findings.totals();
    dnc_imports::write(state, tx, req.actor, label, |planned, version| {
        json!({
            "drift": true,
            "rows_total": read.rows_total,
            "rows_rejected": read.rows_rejected,
            "candidates": totals.candidates,
            "created": planned.created,
            "extended": planned.extended,
            "unchanged": planned.unchanged,
            "snapshot_version": version,
            "bytes": read.bytes,
            "checksum": read.checksum,
        })
    })
    .await
}
