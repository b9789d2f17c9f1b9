//! `GET /v1/dnc`: the do-not-call list, filtered and paged, as JSON or as a CSV export
//! of everything that matches (agent); with `number` (or `prefix`), every entry that
//! blocks that number (or of that prefix).

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Json;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::stream;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::dnc::{name_actors, EntryView};
use super::extract::{ApiQuery, ScopedAgent};
use super::AppState;
use crate::domain::{scope_key, PhoneNumber, Prefix};
use crate::error::{ApiError, ErrorBody};
use crate::store::dnc::{self, DncFilter, EntryState};

pub fn router() -> OpenApiRouter<AppState> {
    // POST /v1/dnc (adding an entry) is in dnc.rs.
    OpenApiRouter::new().routes(routes!(list))
}

const DEFAULT_LIMIT: i64 = 100;
const MAX_LIMIT: i64 = 1000;
/// Rows read per query while a CSV export streams.
const EXPORT_PAGE: i64 = 1000;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    /// Every entry of this number and every prefix entry covering it, in one answer (any
    /// spelling `GET /v1/check` takes, format `phone-number`; not a valid number is `422
    /// invalid_number`). Not together with `prefix` (`400 missing_number`).
    #[param(format = "phone-number", example = "601234567")]
    number: Option<String>,
    /// The entries of exactly this prefix, in one answer (format `phone-prefix`: `+48
    /// 70`; not a valid prefix is `422 invalid_prefix`).
    #[param(format = "phone-prefix")]
    prefix: Option<String>,
    /// `number` (number entries only) or `prefix` (prefix entries only).
    #[param(pattern = "^(number|prefix)$")]
    kind: Option<String>,
    /// `global`, `client` or `campaign`.
    #[param(pattern = "^(global|client|campaign)$")]
    scope: Option<String>,
    /// Entries of this client, compared as scopes are (`ACME` is `acme`). Names here and
    /// in `campaign` and `source`: not blank, at most 2000 characters, no NUL (`422
    /// invalid_parameter`).
    #[param(max_length = 2000, pattern = "^[^\\u0000]*[^\\u0000\\s][^\\u0000]*$")]
    client: Option<String>,
    /// Entries of this campaign.
    #[param(max_length = 2000, pattern = "^[^\\u0000]*[^\\u0000\\s][^\\u0000]*$")]
    campaign: Option<String>,
    /// `active` (blocking now), `expired` (past `expires_at`) or `removed` (deactivated).
    #[param(pattern = "^(active|expired|removed)$")]
    state: Option<String>,
    /// Entries of this source, case-insensitively.
    #[param(max_length = 2000, pattern = "^[^\\u0000]*[^\\u0000\\s][^\\u0000]*$")]
    source: Option<String>,
    /// Entries created at or after this time (RFC 3339; URL-encode the `+` of an offset).
    #[serde(default, deserialize_with = "super::time::optional")]
    from: Option<DateTime<Utc>>,
    /// Entries created before this time; not before `from` (`422 invalid_range`).
    #[serde(default, deserialize_with = "super::time::optional")]
    to: Option<DateTime<Utc>>,
    /// Entries older than this one: the `next_before_id` of the previous page.
    before_id: Option<i64>,
    /// Entries per page, 1 to 1000 (`422 invalid_limit`); not with `format=csv`, which
    /// holds every match (`422 invalid_parameter`).
    #[param(minimum = 1, maximum = 1000, default = 100)]
    limit: Option<i64>,
    /// `json` (the default) or `csv` (also chosen by `Accept: text/csv`): every matching
    /// entry as CSV.
    #[param(pattern = "^(json|csv)$")]
    format: Option<String>,
}

/// Entries of the do-not-call list.
#[derive(Serialize, ToSchema)]
struct EntryList {
    /// The number asked for, in E.164 form (`?number=`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "+48601234567")]
    number: Option<String>,
    /// The prefix asked for (`?prefix=`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "+4870")]
    prefix: Option<String>,
    /// With `number` or `prefix`: all their entries, active ones first. Without: a page,
    /// newest first.
    entries: Vec<EntryView>,
    /// Pass as `before_id` for the next page; null on the last page (and with `number`
    /// or `prefix`, whose answer is whole).
    next_before_id: Option<i64>,
}

/// `GET /v1/dnc?number=&prefix=&kind=&scope=&client=&campaign=&state=&source=&from=&to=&before_id=&limit=&format=`.
/// With `number`: every entry of that number and every prefix entry that covers it;
/// with `prefix`: the entries of exactly that prefix (the other filters apply to both),
/// active ones first, as before the filters existed. Without: newest first, `limit` at
/// a time, with `next_before_id` to page back; `kind=number` or `kind=prefix` keeps one
/// kind of entry. `format=csv` (or `Accept: text/csv`): every matching entry as CSV.
/// The do-not-call list, filtered and paged, as JSON or CSV; or a number's entries.
///
/// With `number`: every entry of that number and every prefix entry that covers it;
/// with `prefix`: the entries of exactly that prefix (the other filters apply to both),
/// active ones first. Without: newest first, `limit` at a time, with `next_before_id` to
/// page back. `format=csv` (or `Accept: text/csv`): every matching entry as CSV with a
/// header row (text a spreadsheet would run as a formula gets a leading `'`).
#[utoipa::path(
    get,
    operation_id = "list_dnc_entries",
    path = "/v1/dnc",
    tag = "dnc",
    params(ListQuery),
    extensions(("x-required-role" = json!("agent")), ("x-client-bound-keys" = json!("own client"))),
    responses(
        (status = 200, description = "The entries (JSON), or every matching entry as CSV", content(
            (EntryList = "application/json"),
            (String = "text/csv"),
        )),
        (status = 400, description = "Both `number` and `prefix` (`missing_number`)", body = ErrorBody),
        (status = 422, description = "Not a valid number (`invalid_number`) or prefix (`invalid_prefix`), an unknown `kind` (`invalid_kind`), `scope` (`invalid_scope`), `state` (`invalid_state`) or `format` (`unsupported_format`), `from` after `to` (`invalid_range`), a `limit` out of range (`invalid_limit`), a blank or overlong name or `limit` with CSV (`invalid_parameter`)", body = ErrorBody),
    )
)]
async fn list(
    caller: ScopedAgent,
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Response, ApiError> {
    let csv = match q.format.as_deref() {
        None => headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("text/csv")),
        Some("csv") => true,
        Some("json") => false,
        Some(other) => {
            return Err(ApiError::unprocessable(
                "unsupported_format",
                format!("format={other:?} is not supported; use json or csv"),
            ))
        }
    };
    let mut filter = filter(&state, &q)?;
    // A client-bound key lists and exports global entries and its client's only.
    filter.visible_to = caller.binding().map(|b| b.client().key().to_string());
    if csv {
        if q.limit.is_some() {
            return Err(ApiError::unprocessable(
                "invalid_parameter",
                "limit pages JSON answers; the CSV export holds every matching entry",
            ));
        }
        return Ok(export(state, filter));
    }
    let asked = match (filter.number, filter.prefix) {
        (Some(number), None) => Some(("number", number.e164())),
        (None, Some(prefix)) => Some(("prefix", prefix.to_string())),
        _ => None,
    };
    if let Some((key, value)) = asked {
        let mut entries = dnc::search(&state.db, &filter, None).await?;
        // Active entries first, then newest first (the sort is stable).
        entries.sort_by_key(|e| !e.active);
        let mut views: Vec<EntryView> = entries.into_iter().map(EntryView::from).collect();
        name_actors(&state, &mut views).await?;
        let (number, prefix) = match key {
            "number" => (Some(value), None),
            _ => (None, Some(value)),
        };
        return Ok(Json(EntryList {
            number,
            prefix,
            entries: views,
            next_before_id: None,
        })
        .into_response());
    }
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::unprocessable(
            "invalid_limit",
            format!("limit must be between 1 and {MAX_LIMIT}"),
        ));
    }
    let entries = dnc::search(&state.db, &filter, Some(limit)).await?;
    let next_before_id = if entries.len() as i64 == limit {
        entries.last().map(|e| e.id)
    } else {
        None
    };
    let mut views: Vec<EntryView> = entries.into_iter().map(EntryView::from).collect();
    name_actors(&state, &mut views).await?;
    Ok(Json(EntryList {
        number: None,
        prefix: None,
        entries: views,
        next_before_id,
    })
    .into_response())
}

fn filter(state: &AppState, q: &ListQuery) -> Result<DncFilter, ApiError> {
    if q.number.is_some() && q.prefix.is_some() {
        return Err(ApiError::bad_request(
            "missing_number",
            "give the number parameter (or prefix, for the entries of a prefix), not both",
        ));
    }
    let number = match q.number.as_deref() {
        Some(raw) => Some(PhoneNumber::parse(raw, state.settings.region)?),
        None => None,
    };
    let prefix = match q.prefix.as_deref() {
        Some(raw) => Some(Prefix::parse(raw)?),
        None => None,
    };
    let prefix_entries = match q.kind.as_deref() {
        None => None,
        Some("number") => Some(false),
        Some("prefix") => Some(true),
        Some(other) => {
            return Err(ApiError::unprocessable(
                "invalid_kind",
                format!("kind={other:?} is not known; use number or prefix"),
            ))
        }
    };
    let scope = match q.scope.as_deref() {
        None => None,
        Some("global") => Some("global"),
        Some("client") => Some("client"),
        Some("campaign") => Some("campaign"),
        Some(other) => {
            return Err(ApiError::unprocessable(
                "invalid_scope",
                format!("scope={other:?} is not known; use global, client or campaign"),
            ))
        }
    };
    let entry_state = q
        .state
        .as_deref()
        .map(str::parse::<EntryState>)
        .transpose()
        .map_err(|e| ApiError::unprocessable("invalid_state", e))?;
    if let (Some(from), Some(to)) = (q.from, q.to) {
        if from > to {
            return Err(ApiError::unprocessable(
                "invalid_range",
                format!("from ({from}) is after to ({to})"),
            ));
        }
    }
    let name = |field: &str, v: &Option<String>| -> Result<Option<String>, ApiError> {
        match v.as_deref().map(str::trim) {
            None => Ok(None),
            Some("") => Err(ApiError::unprocessable(
                "invalid_parameter",
                format!("{field} is empty; leave it out to list every {field}"),
            )),
            Some(v) if v.contains('\0') || v.chars().count() > 2000 => {
                Err(ApiError::unprocessable(
                    "invalid_parameter",
                    format!("{field} is not a name tarcza stores"),
                ))
            }
            Some(v) => Ok(Some(v.to_string())),
        }
    };
    Ok(DncFilter {
        number,
        prefix,
        prefix_entries,
        scope,
        client_key: name("client", &q.client)?.map(|c| scope_key(&c)),
        campaign_key: name("campaign", &q.campaign)?.map(|c| scope_key(&c)),
        state: entry_state,
        source: name("source", &q.source)?,
        from: q.from,
        to: q.to,
        before_id: q.before_id,
        visible_to: None,
    })
}

const CSV_HEADER: &str =
    "id,number,prefix,state,scope,client,campaign,reason,source,note,expires_at,\
created_at,created_by,created_by_name,deactivated_at,deactivated_by,deactivated_by_name,\
deactivation_reason\r\n";

/// Every entry matching `filter` as CSV (RFC 4180, CRLF), read a page at a time so a
/// long list is never held whole. A database error mid-way aborts the response, so a
/// download is never silently short.
fn export(state: AppState, filter: DncFilter) -> Response {
    let pages = stream::unfold(Some(filter), move |filter| {
        let state = state.clone();
        async move {
            let mut filter = filter?;
            let result = async {
                let entries = dnc::search(&state.db, &filter, Some(EXPORT_PAGE)).await?;
                let last = (entries.len() as i64 == EXPORT_PAGE)
                    .then(|| entries.last().map(|e| e.id))
                    .flatten();
                let mut views: Vec<EntryView> = entries.into_iter().map(EntryView::from).collect();
                name_actors(&state, &mut views).await?;
                Ok::<_, ApiError>((views, last))
            }
            .await;
            match result {
                Ok((views, last)) => {
                    let mut out = String::new();
                    for v in &views {
                        csv_row(&mut out, v);
                    }
                    let next = last.map(|id| {
                        filter.before_id = Some(id);
                        filter
                    });
                    Some((Ok::<_, std::io::Error>(Bytes::from(out)), next))
                }
                Err(e) => {
                    tracing::warn!(error = %e, "CSV export of the do-not-call list failed");
                    Some((Err(std::io::Error::other(e.to_string())), None))
                }
            }
        }
    });
    let body = stream::once(async { Ok(Bytes::from_static(CSV_HEADER.as_bytes())) });
    let name = format!(
        "attachment; filename=\"dnc-{}.csv\"",
        Utc::now().format("%Y%m%dT%H%M%SZ")
    );
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, name),
        ],
        Body::from_stream(futures_util::StreamExt::chain(body, pages)),
    )
        .into_response()
}

fn csv_row(out: &mut String, v: &EntryView) {
    let time = |t: Option<DateTime<Utc>>| {
        t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .unwrap_or_default()
    };
    let id = |i: Option<i64>| i.map(|i| i.to_string()).unwrap_or_default();
    let fields: [(String, bool); 18] = [
        (v.id.to_string(), false),
        (v.number.clone().unwrap_or_default(), false),
        (v.prefix.clone().unwrap_or_default(), false),
        (v.state.to_string(), false),
        (v.scope.to_string(), false),
        (v.client.clone().unwrap_or_default(), true),
        (v.campaign.clone().unwrap_or_default(), true),
        (v.reason.clone().unwrap_or_default(), true),
        (v.source.clone().unwrap_or_default(), true),
        (v.note.clone().unwrap_or_default(), true),
        (time(v.expires_at), false),
        (time(Some(v.created_at)), false),
        (id(v.created_by), false),
        (v.created_by_name.clone().unwrap_or_default(), true),
        (time(v.deactivated_at), false),
        (id(v.deactivated_by), false),
        (v.deactivated_by_name.clone().unwrap_or_default(), true),
        (v.deactivation_reason.clone().unwrap_or_default(), true),
    ];
    for (i, (value, text)) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        csv_field(out, value, *text);
    }
    out.push_str("\r\n");
}

/// One CSV field, quoted when it must be. Free text that a spreadsheet would run as a
/// formula (`=`, `+`, `-`, `@`, tab, CR first) gets a leading `'` (OWASP's advice against
/// CSV injection); numbers, times and ids are written as they are.
pub(super) fn csv_field(out: &mut String, value: &str, text: bool) {
    let formula = text && value.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let quote = formula || value.contains([',', '"', '\r', '\n']);
    if quote {
        out.push('"');
    }
    if formula {
        out.push('\'');
    }
    for c in value.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    if quote {
        out.push('"');
    }
}

#[cfg(test)]
mod tests {
    use super::csv_field;

    fn field(v: &str, text: bool) -> String {
        let mut out = String::new();
        csv_field(&mut out, v, text);
        out
    }

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        assert_eq!(field("said stop", true), "said stop");
        assert_eq!(field("a,b", true), "\"a,b\"");
        assert_eq!(field("say \"no\"", true), "\"say \"\"no\"\"\"");
        assert_eq!(field("two\nlines", true), "\"two\nlines\"");
        assert_eq!(field("=HYPERLINK(1)", true), "\"'=HYPERLINK(1)\"");
        assert_eq!(field("+48601234567", false), "+48601234567");
    }
}
