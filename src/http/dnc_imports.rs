//! `POST /v1/dnc/imports` (agent and up): a CRM's bulk sync of its do-not-call flags, CSV
//! (read as registry files are) or JSON Lines. Additive only: a number missing from the
//! file is never deactivated, so a CRM that forgot a flag cannot unblock anyone. All rows
//! or none, with line-numbered rejects and a reject-rate guard; `dry_run=true` says what
//! would change and changes nothing.

use std::future::Future;
use std::io;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{scope_forbidden, ApiQuery, ScopedAgent};
use super::{written, AppState, Notice};
use crate::domain::{Binding, Encoding, Refusal};
use crate::error::{ApiError, ErrorBody, ErrorDetail};
use crate::import::flags::{FlagFormat, FlagReader, FlagsRead};
use crate::import::limits::UploadError;
use crate::import::rows::{Export, LineParser, RowReader, RowsRead};
use crate::import::Options;
use crate::store::audit::{self, AuditEvent};
use crate::store::copy::CopyRows;
use crate::store::dnc_sync::{self, Planned};
use crate::store::imports::Reject;

pub fn router() -> OpenApiRouter<AppState> {
    let (schemas, paths, import) = routes!(import);
    // Streamed and bounded by TARCZA_MAX_UPLOAD_BYTES instead.
    OpenApiRouter::new().routes((schemas, paths, import.layer(DefaultBodyLimit::disable())))
}

/// Declares the query of a route that reads a CRM's export (the bulk loads, the drift
/// report): `format`, `encoding` and `max_reject_rate` (its doc given as a string), then
/// the route's own fields; and `params`, the three checked. The three are written out
/// here rather than a `#[serde(flatten)]`ed struct: a flattened query would no longer
/// refuse a parameter the route does not know.
macro_rules! export_query {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            max_reject_rate: $rate:literal,
            $($fields:tt)*
        }
    ) => {
        $(#[$meta])*
        #[derive(serde::Deserialize, utoipa::IntoParams)]
        #[into_params(parameter_in = Query)]
        #[serde(deny_unknown_fields)]
        $vis struct $name {
            /// `csv` (the default) or `jsonl` (also chosen by `Content-Type: application/x-ndjson`).
            #[param(pattern = "^(csv|jsonl)$")]
            format: Option<String>,
            /// The file's text encoding: `utf-8` (default), `windows-1250` (also `cp1250`) or
            /// `iso-8859-2` (also `latin2`), in any case.
            #[param(
                pattern = "^[\\t\\n\\u000B\\f\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]*([uU][tT][fF]-?8|[wW][iI][nN][dD][oO][wW][sS]-1250|[cC][pP]1250|[iI][sS][oO]-8859-2|[lL][aA][tT][iI][nN]2)[\\t\\n\\u000B\\f\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]*$",
                example = "windows-1250"
            )]
            encoding: Option<String>,
            #[doc = $rate]
            #[param(minimum = 0.0, maximum = 1.0)]
            max_reject_rate: Option<f64>,
            $($fields)*
        }

        impl $name {
            /// The export's parameters, checked (`headers` may choose the format).
            fn params(
                &self,
                headers: &axum::http::HeaderMap,
                state: &super::AppState,
            ) -> Result<super::dnc_imports::ExportParams, crate::error::ApiError> {
                use super::dnc_imports::{encoding_of, format_of, reject_rate_of};
                Ok(super::dnc_imports::ExportParams {
                    format: format_of(self.format.as_deref(), headers)?,
                    encoding: encoding_of(self.encoding.as_deref())?,
                    max_reject_rate: reject_rate_of(self.max_reject_rate, state)?,
                })
            }
        }
    };
}
pub(super) use export_query;

export_query! {
    /// The parameters of a bulk load of a CRM's export (flags here, consents in
    /// `consent_imports`).
    pub(super) struct SyncQuery {
        max_reject_rate: "Largest share (0 to 1) of rejected rows before the sync is refused (default TARCZA_MAX_REJECT_RATE).",
        /// Say what would change and change nothing.
        #[serde(default)]
        #[param(default = false)]
        dry_run: bool,
    }
}

/// How an export is to be read, and how many of its rows may be rejected.
pub(super) struct ExportParams {
    pub(super) format: FlagFormat,
    pub(super) encoding: Option<Encoding>,
    pub(super) max_reject_rate: f64,
}

/// A CRM's flags: the body of a bulk sync (a type for its schema only; the handler
/// streams the body).
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)]
pub(super) struct FlagsFile(Vec<u8>);

/// What a bulk sync came to (or, with `dry_run`, would come to).
#[derive(Serialize, ToSchema)]
struct SyncSummary {
    dry_run: bool,
    /// Data rows: accepted and rejected (the header and blank lines are not rows).
    rows_total: u64,
    rows_accepted: u64,
    rows_rejected: u64,
    /// Rows repeating a number and scope of an earlier row (the longest block counts).
    rows_duplicate: i64,
    /// Entries made.
    created: i64,
    /// Active entries whose block now lasts longer.
    extended: i64,
    /// Rows whose number was already blocked in that scope for as long or longer.
    unchanged: i64,
    /// The data version the sync wrote; null when nothing was written.
    snapshot_version: Option<i64>,
    /// The file's size as sent, and its SHA-256.
    bytes: u64,
    checksum: String,
    /// The first 1000 rejected rows (all are counted).
    rejects: Vec<Reject>,
    /// With `too_many_rejects` (a `422`): why nothing was changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ErrorDetail>,
    /// `not_yet_visible` when this process's `/v1/check` may not show the entries yet.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<Notice>,
}

/// A bulk load's request, its parameters checked.
pub(super) struct SyncRequest {
    pub(super) actor: i64,
    /// A client-bound caller's binding: every row must be in its scope.
    pub(super) binding: Option<Arc<Binding>>,
    pub(super) export: ExportParams,
    pub(super) dry_run: bool,
}

impl SyncRequest {
    /// The request of `actor` with query `q` and `headers`, or why it cannot be served.
    pub(super) fn of(
        actor: i64,
        binding: Option<Arc<Binding>>,
        q: &SyncQuery,
        headers: &HeaderMap,
        state: &AppState,
    ) -> Result<SyncRequest, ApiError> {
        Ok(SyncRequest {
            actor,
            binding,
            export: q.params(headers, state)?,
            dry_run: q.dry_run,
        })
    }
}

/// Bulk sync of a CRM's do-not-call flags (the request body), additive only.
///
/// CSV (read as registry files are: gzip, zip, delimiters, encodings, header names read
/// loosely) or JSON Lines; each row an entry by the rules of `POST /v1/dnc` (source
/// `crm`). A number missing from the file is never deactivated. All rows or none, with
/// line-numbered rejects and the reject-rate guard; `dry_run=true` changes nothing.
#[utoipa::path(
    post,
    operation_id = "sync_dnc_flags",
    path = "/v1/dnc/imports",
    tag = "dnc",
    params(SyncQuery),
    request_body(
        description = "The flags: CSV with a number column (and reason, source, client, campaign, expires_at, external_id) or JSON Lines of such objects; plain, gzip or zip",
        content(
            (FlagsFile = "text/csv"),
            (FlagsFile = "application/x-ndjson"),
            (FlagsFile = "application/octet-stream"),
        ),
    ),
    extensions(("x-required-role" = json!("agent")), ("x-client-bound-keys" = json!("own client"))),
    responses(
        (status = 200, description = "The sync is committed (or, with `dry_run`, what it would do)", body = SyncSummary),
        (status = 400, description = "The file could not be read (`unreadable_file`); nothing was changed", body = ErrorBody),
        (status = 422, description = "More rejected rows than `max_reject_rate` (`too_many_rejects`: the body is then the summary with `error`, and its rejects), no data rows (`no_rows`), a file refused by its limits (`upload_refused`), an unknown `format` (`unsupported_format`) or `encoding` (`unsupported_encoding`), or a parameter that cannot be used (`invalid_parameter`); nothing was changed", body = ErrorBody),
    )
)]
async fn import(
    caller: ScopedAgent,
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<SyncQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let req = SyncRequest::of(caller.0.id, caller.0.binding.clone(), &q, &headers, &state)?;
    run_apart("sync", sync(state, req, body)).await
}

/// Runs a handler's work on `body` in its own task: a client that hangs up must not
/// cancel a load half-way. `what` names the work in the error if the task fails.
pub(super) async fn run_apart(
    what: &str,
    work: impl Future<Output = Result<Response, ApiError>> + Send + 'static,
) -> Result<Response, ApiError> {
    tokio::spawn(work)
        .await
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("{what} task failed: {e}")))?
}

/// Starts reading `body`, an export as `export` says, its rows judged at `now`; a file
/// that cannot be opened is `unreadable_file` or `upload_refused`.
pub(super) async fn open_export<L>(
    state: &AppState,
    export: &ExportParams,
    body: Body,
    now: DateTime<Utc>,
) -> Result<RowReader<Export<L>>, ApiError>
where
    Export<L>: LineParser,
{
    let options = Options::of(&state.settings);
    let body = body.into_data_stream().map_err(io::Error::other);
    RowReader::open(
        body,
        export.format,
        options.region,
        export.encoding,
        options.limits,
        now,
    )
    .await
    .map_err(unreadable)
}

async fn sync(state: AppState, req: SyncRequest, body: Body) -> Result<Response, ApiError> {
    let reader: FlagReader = open_export(&state, &req.export, body, Utc::now()).await?;
    let mut tx = state.db.begin().await?;
    dnc_sync::begin(&mut tx).await?;
    let copy = dnc_sync::start_copy(&mut tx).await?;
    let read = copy_rows(reader, copy, |copy, f| {
        // A client-bound key's file holds its client's rows only: one that does not
        // refuses the whole sync, and nothing is changed.
        if let Some(refused) = req
            .binding
            .as_ref()
            .and_then(|b| b.may_write(&f.scope).err())
        {
            return Err(scope_forbidden(Refusal(format!(
                "line {}: {refused}",
                f.line
            ))));
        }
        dnc_sync::row(
            copy,
            f.line,
            f.number,
            &f.scope,
            f.reason.as_deref(),
            &f.source,
            f.external_id.as_deref(),
            f.expires_at,
        );
        Ok(())
    })
    .await?;
    if let Some(error) = too_many_rejects(&read, req.export.max_reject_rate, "changed") {
        let mut body = answer(&read, &Planned::default(), req.dry_run, None);
        body.error = Some(error);
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response());
    }

    if req.dry_run {
        // What it would come to now; a later sync may find other entries.
        let planned = dnc_sync::plan(&mut tx).await?;
        tx.rollback().await?;
        return Ok(Json(answer(&read, &planned, true, None)).into_response());
    }
    let label = format!("crm-sync:{}", &read.checksum[..16.min(read.checksum.len())]);
    let done = write(&state, tx, req.actor, label, |planned, version| {
        // A summary of plain numbers and strings: it always serializes.
        let mut summary =
            serde_json::to_value(answer(&read, planned, false, version)).unwrap_or_default();
        if let Some(o) = summary.as_object_mut() {
            o.remove("rejects");
        }
        summary
    })
    .await?;
    let mut body = answer(&read, &done.planned, false, done.version);
    body.warnings = written(done.visible, &state.settings);
    Ok(Json(body).into_response())
}

/// What [`write`] did.
pub(super) struct Written {
    pub planned: Planned,
    /// The data version it made, `None` when nothing changed.
    pub version: Option<i64>,
    /// Whether this process's `/check` already answers from it.
    pub visible: bool,
}

/// Writes the rows copied into `tx` (a [`dnc_sync::begin`]) as entries, with their
/// audit events and changes and one `dnc.import` event labelled `label` whose details
/// `summary` gives; commits, and waits (within the lag) for `/check` to see them. The
/// bulk sync and the drift report's `apply=true` both write this way.
pub(super) async fn write(
    state: &AppState,
    mut tx: sqlx::Transaction<'static, sqlx::Postgres>,
    actor: i64,
    label: String,
    summary: impl FnOnce(&Planned, Option<i64>) -> serde_json::Value,
) -> Result<Written, ApiError> {
    // From here no other write comes in between: the plan is what gets written.
    dnc_sync::lock(&mut tx).await?;
    let planned = dnc_sync::plan(&mut tx).await?;
    let version = dnc_sync::write(&mut tx, actor, &planned, &label).await?;
    audit::record(
        &mut tx,
        AuditEvent {
            actor: Some(actor),
            action: "dnc.import",
            number: None,
            subject: Some(label),
            details: summary(&planned, version),
        },
    )
    .await?;
    tx.commit().await?;
    // The answer goes out once this process's /check sees the entries.
    let visible = version.is_none() || state.index.refresh_after_write(&state.db, None).await;
    Ok(Written {
        planned,
        version,
        visible,
    })
}

/// The format of an upload of flags or contacts: `format=` or its `Content-Type`.
pub(super) fn format_of(format: Option<&str>, headers: &HeaderMap) -> Result<FlagFormat, ApiError> {
    let ndjson = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            let v = v.to_ascii_lowercase();
            v.starts_with("application/x-ndjson") || v.starts_with("application/jsonl")
        });
    match (format, ndjson) {
        (None, false) | (Some("csv"), false) => Ok(FlagFormat::Csv),
        (None, true) | (Some("jsonl"), _) => Ok(FlagFormat::JsonLines),
        (Some("csv"), true) => Err(ApiError::unprocessable(
            "invalid_parameter",
            "format=csv with Content-Type application/x-ndjson: say one thing",
        )),
        (Some(other), _) => Err(ApiError::unprocessable(
            "unsupported_format",
            format!("format={other:?} is not supported; use csv or jsonl"),
        )),
    }
}

pub(super) fn encoding_of(encoding: Option<&str>) -> Result<Option<Encoding>, ApiError> {
    encoding
        .map(str::parse::<Encoding>)
        .transpose()
        .map_err(|e| ApiError::unprocessable("unsupported_encoding", e))
}

/// `max_reject_rate=`, else `TARCZA_MAX_REJECT_RATE`.
pub(super) fn reject_rate_of(rate: Option<f64>, state: &AppState) -> Result<f64, ApiError> {
    match rate {
        None => Ok(state.settings.max_reject_rate),
        Some(v) if (0.0..=1.0).contains(&v) => Ok(v),
        Some(v) => Err(ApiError::unprocessable(
            "invalid_parameter",
            format!("max_reject_rate={v} is not a share between 0 and 1"),
        )),
    }
}

/// Reads every row of `reader` into `copy` (`write` writes a row's fields) and ends
/// both: what the file came to; `unreadable_file` (the copy abandoned) or `no_rows`,
/// and nothing changed, otherwise. The bulk loads (flags, consents) read this way.
pub(super) async fn copy_rows<P: LineParser>(
    mut reader: RowReader<P>,
    mut copy: CopyRows<'_>,
    mut write: impl FnMut(&mut CopyRows<'_>, &P::Item) -> Result<(), ApiError>,
) -> Result<RowsRead, ApiError> {
    let read = loop {
        match reader.next().await {
            Ok(Some(row)) => {
                if let Err(refused) = write(&mut copy, &row) {
                    copy.abort().await;
                    return Err(refused);
                }
                copy.end_row().await?;
            }
            Ok(None) => break reader.finish().await,
            Err(e) => break Err(e),
        }
    };
    let read = match read {
        Ok(read) => read,
        Err(e) => {
            copy.abort().await;
            return Err(unreadable(e));
        }
    };
    copy.finish().await?;
    if read.rows_total == 0 {
        return Err(ApiError::unprocessable(
            "no_rows",
            "the file has no data rows; nothing was changed",
        ));
    }
    Ok(read)
}

/// `too_many_rejects` when more of `read`'s rows were rejected than `max_reject_rate`
/// allows (a bulk load then changes nothing).
/// More rejected rows than `max_reject_rate`: the error, saying nothing was `done`.
pub(super) fn too_many_rejects(
    read: &RowsRead,
    max_reject_rate: f64,
    done: &str,
) -> Option<ErrorDetail> {
    let rate = read.rows_rejected as f64 / read.rows_total as f64;
    (rate > max_reject_rate).then(|| ErrorDetail {
        code: "too_many_rejects".into(),
        message: format!(
            "{} of {} rows ({:.1}%) were rejected, more than max_reject_rate ({:.1}%); nothing \
             was {done}. See rejects for the reasons",
            read.rows_rejected,
            read.rows_total,
            100.0 * rate,
            100.0 * max_reject_rate
        ),
    })
}

/// A file that could not be read: nothing was changed.
pub(super) fn unreadable(e: UploadError) -> ApiError {
    match e {
        UploadError::Refused(m) => ApiError::unprocessable("upload_refused", m),
        UploadError::Failed(m) => ApiError::client(
            StatusCode::BAD_REQUEST,
            "unreadable_file",
            format!("{m}; nothing was changed"),
        ),
    }
}

fn answer(read: &FlagsRead, planned: &Planned, dry_run: bool, version: Option<i64>) -> SyncSummary {
    SyncSummary {
        dry_run,
        rows_total: read.rows_total,
        rows_accepted: read.rows_accepted,
        rows_rejected: read.rows_rejected,
        rows_duplicate: planned.duplicates,
        created: planned.created,
        extended: planned.extended,
        unchanged: planned.unchanged,
        snapshot_version: version,
        bytes: read.bytes,
        checksum: read.checksum.clone(),
        rejects: read.rejects.clone(),
        error: None,
        warnings: Vec::new(),
    }
}
