//! `POST /v1/consents/imports` (agent and up): a CRM's export of consents, CSV or JSON
//! Lines, read by the bulk sync's reader. Each row is a consent by the rules of `POST
//! /v1/consents`; all rows or none, with line-numbered rejects (conflicting evidence
//! among them) and the reject-rate guard; `dry_run=true` says what would change and
//! changes nothing.

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::Utc;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::dnc_imports::{
    copy_rows, open_export, run_apart, too_many_rejects, SyncQuery, SyncRequest,
};
use super::extract::{ApiQuery, AsAgent};
use super::{written, AppState, Notice};
use crate::error::{ApiError, ErrorBody, ErrorDetail};
use crate::import::consents::ConsentReader;
use crate::import::rows::RowsRead;
use crate::import::upload::MAX_STORED_REJECTS;
use crate::store::audit::{self, AuditEvent};
use crate::store::consent_imports::{self, Planned};
use crate::store::dnc_sync;
use crate::store::imports::Reject;

pub fn router() -> OpenApiRouter<AppState> {
    let (schemas, paths, import) = routes!(import);
    // Streamed and bounded by TARCZA_MAX_UPLOAD_BYTES instead.
    OpenApiRouter::new().routes((schemas, paths, import.layer(DefaultBodyLimit::disable())))
}

/// A CRM's consents: the body of a bulk load (a type for its schema only; the handler
/// streams the body).
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)]
struct ConsentsFile(Vec<u8>);

/// What a bulk load of consents came to (or, with `dry_run`, would come to).
#[derive(Serialize, ToSchema)]
struct ConsentImportSummary {
    dry_run: bool,
    /// Data rows: accepted and rejected (the header and blank lines are not rows).
    rows_total: u64,
    rows_accepted: u64,
    /// Rows that are not a consent, or whose evidence is recorded with other dates or
    /// source (`consent_conflict`).
    rows_rejected: u64,
    /// Rows repeating an earlier row's consent with the same dates and source.
    rows_duplicate: i64,
    /// Consents recorded.
    created: i64,
    /// Rows whose consent was already recorded with the same dates and source.
    unchanged: i64,
    /// The data version the load wrote; null when nothing was written.
    snapshot_version: Option<i64>,
    /// The file's size as sent, and its SHA-256.
    bytes: u64,
    checksum: String,
    /// The first 1000 rejected rows, by line (all are counted).
    rejects: Vec<Reject>,
    /// With `too_many_rejects` (a `422`): why nothing was changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ErrorDetail>,
    /// `not_yet_visible` when this process's `/v1/check` may not use the consents yet.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<Notice>,
}

/// Bulk load of a CRM's consents (the request body).
///
/// CSV with a header (read as registry files are: gzip, zip, delimiters, encodings,
/// header names read loosely) or JSON Lines; each row a consent by the rules of `POST
/// /v1/consents` (a row without a source is from `crm`). A consent already recorded with
/// the same evidence, dates and source is left as it is; the same evidence with other
/// dates or source is a rejected row (`consent_conflict`). All rows or none, with
/// line-numbered rejects and the reject-rate guard; `dry_run=true` changes nothing.
#[utoipa::path(
    post,
    operation_id = "import_consents",
    path = "/v1/consents/imports",
    tag = "consents",
    params(SyncQuery),
    request_body(
        description = "The consents: CSV with a header naming number, client, purpose, evidence and given_at columns (and source, expires_at, note), or JSON Lines of such objects; plain, gzip or zip",
        content(
            (ConsentsFile = "text/csv"),
            (ConsentsFile = "application/x-ndjson"),
            (ConsentsFile = "application/octet-stream"),
        ),
    ),
    extensions(("x-required-role" = json!("agent"))),
    responses(
        (status = 200, description = "The load is committed (or, with `dry_run`, what it would do)", body = ConsentImportSummary),
        (status = 400, description = "The file could not be read, or its CSV header lacks a required column (`unreadable_file`); nothing was changed", body = ErrorBody),
        (status = 422, description = "More rejected rows than `max_reject_rate` (`too_many_rejects`: the body is then the summary with `error`, and its rejects), no data rows (`no_rows`), a file refused by its limits (`upload_refused`), an unknown `format` (`unsupported_format`) or `encoding` (`unsupported_encoding`), or a parameter that cannot be used (`invalid_parameter`); nothing was changed", body = ErrorBody),
    )
)]
async fn import(
    caller: AsAgent,
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<SyncQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let req = SyncRequest::of(caller.0.id, caller.0.binding.clone(), &q, &headers, &state)?;
    run_apart("consent load", load(state, req, body)).await
}

async fn load(state: AppState, req: SyncRequest, body: Body) -> Result<Response, ApiError> {
    let reader: ConsentReader = open_export(&state, &req.export, body, Utc::now()).await?;
    let mut tx = state.db.begin().await?;
    consent_imports::begin(&mut tx).await?;
    let copy = consent_imports::start_copy(&mut tx).await?;
    let mut read = copy_rows(reader, copy, |copy, row| {
        consent_imports::row(copy, row.line, &row.consent);
        Ok(())
    })
    .await?;

    if !req.dry_run {
        // From here no other write comes in between: the plan is what gets written.
        dnc_sync::lock(&mut tx).await?;
    }
    let planned = consent_imports::plan(&mut tx).await?;
    if planned.conflicts > 0 {
        let conflicts = consent_imports::conflicts(&mut tx, MAX_STORED_REJECTS as i64).await?;
        merge_rejects(&mut read, conflicts, planned.conflicts as u64);
    }
    if let Some(error) = too_many_rejects(&read, req.export.max_reject_rate, "changed") {
        let mut body = answer(&read, &planned, req.dry_run, None);
        body.error = Some(error);
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response());
    }
    if req.dry_run {
        tx.rollback().await?;
        return Ok(Json(answer(&read, &planned, true, None)).into_response());
    }

    let label = format!(
        "crm-consents:{}",
        &read.checksum[..16.min(read.checksum.len())]
    );
    let version = consent_imports::write(&mut tx, req.actor, &planned, &label).await?;
    let mut summary =
        serde_json::to_value(answer(&read, &planned, false, version)).unwrap_or_default();
    if let Some(o) = summary.as_object_mut() {
        o.remove("rejects");
    }
    audit::record(
        &mut tx,
        AuditEvent {
            actor: Some(req.actor),
            action: "consent.import",
            number: None,
            subject: Some(label),
            details: summary,
        },
    )
    .await?;
    tx.commit().await?;
    // The answer goes out once this process's /check uses the consents.
    let visible = version.is_none() || state.index.refresh_after_write(&state.db, None).await;
    tracing::info!(created = planned.created, "consents loaded");
    let mut body = answer(&read, &planned, false, version);
    body.warnings = written(visible, &state.settings);
    Ok(Json(body).into_response())
}

/// Counts the rows the plan found conflicting as rejected, and keeps the first rejects
/// of both kinds by line.
fn merge_rejects(read: &mut RowsRead, conflicts: Vec<Reject>, count: u64) {
    read.rows_accepted -= count;
    read.rows_rejected += count;
    read.rejects.extend(conflicts);
    read.rejects.sort_by_key(|r| r.line);
    read.rejects.truncate(MAX_STORED_REJECTS);
}

fn answer(
    read: &RowsRead,
    planned: &Planned,
    dry_run: bool,
    version: Option<i64>,
) -> ConsentImportSummary {
    ConsentImportSummary {
        dry_run,
        rows_total: read.rows_total,
        rows_accepted: read.rows_accepted,
        rows_rejected: read.rows_rejected,
        rows_duplicate: planned.duplicates,
        created: planned.created,
        unchanged: planned.unchanged,
        snapshot_version: version,
        bytes: read.bytes,
        checksum: read.checksum.clone(),
        rejects: read.rejects.clone(),
        error: None,
        warnings: Vec::new(),
    }
}
