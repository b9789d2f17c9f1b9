//! Registries (ops): one card each with freshness and the last imports; the upload form
//! with byte progress (assets/console.js), the running import, and the result.

use axum::body::Body;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use maud::{html, Markup};
use serde_json::Value;

use super::api::{self, query};
use super::ctx::Ctx;
use super::form::same_origin;
use super::i18n::Tr;
use super::layout::{self, shell, Nav};
use super::page::respond;
use super::Console;
use crate::domain::Role;

/// Rejected rows shown with a result (the API returns up to 1000; all are counted).
const REJECTS_SHOWN: usize = 20;

pub fn freshness_badge(tr: &Tr, r: &Value) -> Markup {
    if r["status"] == "empty" {
        html! { span.badge.muted { (tr.registries.no_data) } }
    } else if r["stale"] == true {
        html! { span.badge.bad { (tr.registries.stale) } }
    } else {
        html! { span.badge.ok { (tr.registries.fresh) } }
    }
}

fn card(tr: &Tr, r: &Value, imports: Result<Vec<Value>, api::Failure>) -> Markup {
    let name = layout::text(&r["name"]);
    html! {
        article.card {
            header {
                h2 { (name) }
                (freshness_badge(tr, r))
            }
            @if r["stale"] == true {
                div.alert.error role="alert" { p { (tr.stale_explained(r["stale_policy"] == "warn")) } }
            }
            dl.facts {
                dt { (tr.entries) } dd { (layout::count(&r["entries"])) }
                dt { (tr.source) } dd { (r["source"].as_str().unwrap_or(tr.registries.uploads_only)) }
                dt { (tr.source_time) } dd { (layout::or_dash(layout::time(&r["source_time"]))) }
                dt { (tr.registries.loaded_at) } dd { (layout::or_dash(layout::time(&r["loaded_at"]))) }
                dt { (tr.fresh_until) } dd { (layout::or_dash(layout::time(&r["fresh_until"]))) }
                dt { (tr.registries.when_stale) } dd { @if r["stale_policy"] == "warn" { (tr.registries.policy_warn) } @else { (tr.registries.policy_block) } }
            }
            h3 { (tr.registries.last_imports) }
            @match imports {
                Err(f) => (layout::failure(tr, &f)),
                Ok(list) if list.is_empty() => p.empty { (tr.no_imports) },
                Ok(list) => (imports_table(tr, &list)),
            }
        }
    }
}

fn status_badge(tr: &Tr, status: &str) -> Markup {
    let class = match status {
        "succeeded" => "badge ok",
        "running" | "pending" => "badge muted",
        _ => "badge bad",
    };
    html! { span class=(class) { (tr.import_status(status)) } }
}

fn imports_table(tr: &Tr, list: &[Value]) -> Markup {
    html! {
        table.cards {
            thead { tr {
                th scope="col" { "#" } th scope="col" { (tr.when) } th scope="col" { (tr.registries.status) }
                th scope="col" { (tr.rows) } th scope="col" { (tr.rejected) } th scope="col" { (tr.entries) }
            } }
            tbody {
                @for i in list {
                    tr {
                        td data-label="#" { (i["id"]) }
                        td data-label=(tr.when) { (layout::time(&i["created_at"])) br; span.meta { (layout::text(&i["source"])) " · " (layout::text(&i["mode"])) } }
                        td data-label=(tr.registries.status) { (status_badge(tr, layout::text(&i["status"]))) }
                        td data-label=(tr.rows) { (layout::count(&i["rows_total"])) }
                        td data-label=(tr.rejected) { (layout::count(&i["rows_rejected"])) }
                        td data-label=(tr.entries) {
                            @if i["entries_after"].is_null() { "—" } @else {
                                (layout::count(&i["entries_before"])) " → " (layout::count(&i["entries_after"]))
                            }
                        }
                    }
                }
            }
        }
    }
}

fn upload_form(ctx: &Ctx, names: &[String]) -> Markup {
    let tr = ctx.tr();
    let choice = |id: &str, label: &str, options: &[(&str, &str)]| {
        html! {
            div.field {
                label for=(id) { (label) }
                select id=(id) name=(id) {
                    @for (v, t) in options { option value=(v) { (t) } }
                }
            }
        }
    };
    html! {
        section.upload aria-labelledby="upload-title" {
            h2 #upload-title { (tr.registries.upload) }
            form #upload.stack method="post" action="#" data-upload hx-boost="false" {
                (layout::csrf(ctx))
                div.field {
                    label for="file" { (tr.registries.file) }
                    input #file type="file" name="file" required;
                }
                div.row {
                    div.field {
                        label for="registry" { (tr.registry) }
                        select #registry name="registry" {
                            @for n in names { option value=(n) { (n) } }
                        }
                    }
                    (choice("mode", tr.registries.mode, &[("snapshot", tr.registries.mode_snapshot), ("delta", tr.registries.mode_delta)]))
                    (choice("format", tr.registries.format, &[("csv", "CSV"), ("sha256", tr.registries.format_sha256)]))
                    (choice("encoding", tr.registries.encoding, &[("utf-8", "UTF-8"), ("windows-1250", "Windows-1250"), ("iso-8859-2", "ISO-8859-2")]))
                }
                p.hint { (tr.registries.mode_hint) }
                div.actions { button type="submit" { (tr.registries.upload_button) } }
                noscript { p.alert.warn { (tr.registries.upload_needs_js) } }
            }
            div #upload-status hidden aria-live="polite" {
                label for="upload-bytes" #upload-phase { (tr.registries.sending) }
                progress #upload-bytes max="1" value="0" {}
                p #upload-bytes-text .meta {}
                div #upload-server {}
            }
            div #upload-result aria-live="polite" {}
            template #upload-texts data-sent=(tr.registries.file_sent) data-sending=(tr.registries.sending) data-of=(tr.registries.of) data-failed=(tr.registries.upload_failed) {}
        }
    }
}

pub async fn page(State(console): State<Console>, ctx: Ctx) -> Response {
    let tr = ctx.tr();
    if !ctx.can(Role::Ops) {
        return layout::not_allowed(&ctx, Nav::Registries, tr.nav_registries, Role::Ops);
    }
    let api = ctx.api(&console);
    let list = match api.get("/v1/registries").await {
        Ok(v) => v["registries"].as_array().cloned().unwrap_or_default(),
        Err(f) => {
            let body = layout::failure(tr, &f);
            return respond(
                layout::status_of(&f),
                shell(&ctx, Nav::Registries, tr.nav_registries, body),
            );
        }
    };
    let mut cards = Vec::new();
    for r in &list {
        let name = layout::text(&r["name"]);
        let imports = api
            .get(&format!("/v1/registries/{}/imports?limit=5", segment(name)))
            .await
            .map(|v| v["imports"].as_array().cloned().unwrap_or_default());
        cards.push(card(tr, r, imports));
    }
    let names: Vec<String> = list
        .iter()
        .map(|r| layout::text(&r["name"]).to_string())
        .collect();
    let body = html! {
        div.cards-grid { @for c in &cards { (c) } }
        (upload_form(&ctx, &names))
    };
    respond(
        StatusCode::OK,
        shell(&ctx, Nav::Registries, tr.nav_registries, body),
    )
}

/// A path segment, percent-encoded.
pub fn segment(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn fragment(status: StatusCode, markup: Markup) -> Response {
    respond(status, markup)
}

/// `POST /registries/{name}/upload?mode=&format=&encoding=&force=`: the file as the body
/// (sent by console.js), streamed to the API's import untouched. The page's own origin
/// and the CSRF token (header `X-CSRF-Token`) are required as for every form.
pub async fn upload(
    State(console): State<Console>,
    ctx: Ctx,
    headers: HeaderMap,
    Path(name): Path<String>,
    RawQuery(raw): RawQuery,
    body: Body,
) -> Response {
    let tr = ctx.tr();
    let token = headers.get("x-csrf-token").and_then(|v| v.to_str().ok());
    if !same_origin(&headers, &ctx.settings) {
        return fragment(
            StatusCode::FORBIDDEN,
            html! { div.alert.error role="alert" { p { (tr.err_cross_site) } } },
        );
    }
    if !token.is_some_and(|t| ctx.csrf_matches(t)) {
        return fragment(
            StatusCode::FORBIDDEN,
            html! { div.alert.error role="alert" { p { (tr.err_csrf) } } },
        );
    }
    // Only the parameters the form sets are passed on.
    let params: Vec<(String, String)> =
        form_urlencoded::parse(raw.as_deref().unwrap_or("").as_bytes())
            .into_owned()
            .filter(|(k, _)| matches!(k.as_str(), "mode" | "format" | "encoding" | "force"))
            .collect();
    let pairs: Vec<(&str, Option<&str>)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), Some(v.as_str())))
        .collect();
    let uri = format!(
        "/v1/registries/{}/imports?{}",
        segment(&name),
        query(&pairs)
    );
    let res = ctx
        .api(&console)
        .send(Method::POST, &uri, Some("application/octet-stream"), body)
        .await;
    match api::read(res).await {
        Ok((status, import)) => fragment(status, import_result(&ctx, &import)),
        Err(f) => fragment(layout::status_of(&f), layout::failure(tr, &f)),
    }
}

/// The outcome of an import: counts, the first rejects and, for a snapshot refused
/// because it would remove too much, a button to send it again with force.
fn import_result(ctx: &Ctx, i: &Value) -> Markup {
    let tr = ctx.tr();
    let status = layout::text(&i["status"]);
    let empty = Vec::new();
    let rejects = i["rejects"].as_array().unwrap_or(&empty);
    let shrink_refused = status == "refused"
        && i["entries_before"]
            .as_i64()
            .zip(i["entries_after"].as_i64())
            .is_some_and(|(b, a)| a < b)
        && i["forced"] != true;
    html! {
        div.result #import-result data-status=(status) {
            h3 { (tr.registries.import_word) " #" (i["id"]) ": " (status_badge(tr, status)) }
            @if i["unchanged"] == true { p { (tr.registries.unchanged) } }
            @if status == "succeeded" && i["unchanged"] != true { p { (tr.registries.import_live) } }
            dl.facts {
                dt { (tr.rows) } dd #rows-total { (layout::count(&i["rows_total"])) }
                dt { (tr.registries.accepted) } dd #rows-accepted { (layout::count(&i["rows_accepted"])) }
                dt { (tr.rejected) } dd #rows-rejected { (layout::count(&i["rows_rejected"])) }
                dt { (tr.registries.duplicates) } dd { (layout::count(&i["rows_duplicate"])) }
                @if !i["entries_after"].is_null() {
                    dt { (tr.entries) } dd { (layout::count(&i["entries_before"])) " → " (layout::count(&i["entries_after"])) }
                }
            }
            @if let Some(e) = i["error"].as_str() {
                div.alert.error role="alert" { p { (tr.import_refused_why(status)) } p.detail { (e) } }
            }
            @if shrink_refused {
                p { button.danger type="button" data-force { (tr.registries.upload_force) } }
                p.hint { (tr.registries.force_hint) }
            }
            @if !rejects.is_empty() {
                h4 { (tr.registries.first_rejects) }
                table.cards.rejects {
                    thead { tr { th scope="col" { (tr.registries.line) } th scope="col" { (tr.registries.content) } th scope="col" { (tr.reason) } } }
                    tbody {
                        @for r in rejects.iter().take(REJECTS_SHOWN) {
                            tr {
                                td data-label=(tr.registries.line) { (r["line"]) }
                                td data-label=(tr.registries.content) { code { (layout::text(&r["raw"])) } }
                                td data-label=(tr.reason) { (layout::text(&r["message"])) " " span.meta { "(" (layout::text(&r["reason"])) ")" } }
                            }
                        }
                    }
                }
                @if (i["rows_rejected"].as_u64().unwrap_or(0) as usize) > REJECTS_SHOWN.min(rejects.len()) {
                    p.meta { (tr.more_rejects(i["rows_rejected"].as_u64().unwrap_or(0))) }
                }
            }
        }
    }
}

#[derive(serde::Deserialize)]
pub struct ProgressQuery {
    since: Option<i64>,
}

/// `GET /registries/{name}/progress?since=ID`: the import running on the server, polled
/// by console.js while an upload is under way: its id, start time and `progress` (rows
/// and bytes read, rows rejected so far) as they grow.
pub async fn progress(
    State(console): State<Console>,
    ctx: Ctx,
    Path(name): Path<String>,
    Query(q): Query<ProgressQuery>,
) -> Response {
    let tr = ctx.tr();
    let uri = format!("/v1/registries/{}/imports?limit=1", segment(&name));
    let latest = match ctx.api(&console).get(&uri).await {
        Ok(v) => v["imports"][0].clone(),
        Err(f) => return fragment(layout::status_of(&f), layout::failure(tr, &f)),
    };
    let id = latest["id"].as_i64();
    let running = matches!(latest["status"].as_str(), Some("running" | "pending"));
    if !running || id.is_none() || id <= q.since {
        return fragment(
            StatusCode::OK,
            html! { p.meta { (tr.registries.waiting_for_server) } },
        );
    }
    let read = |k: &str| {
        latest[k]
            .as_u64()
            .or_else(|| latest["progress"][k].as_u64())
    };
    let rows = read("rows_read").or_else(|| read("rows_total").filter(|n| *n > 0));
    let bytes = read("bytes_read").or_else(|| read("bytes").filter(|n| *n > 0));
    fragment(
        StatusCode::OK,
        html! {
            p #server-progress data-import=(id.unwrap_or(0)) {
                (tr.import_running(id.unwrap_or(0), &layout::time(&latest["created_at"])))
                @if let Some(r) = rows { " · " (tr.registries.rows_so_far) ": " (r) }
                @if let Some(b) = bytes { " · " (tr.registries.bytes_so_far) ": " (b) }
                @if let Some(r) = read("rows_rejected").filter(|n| *n > 0) { " · " (tr.rejected) ": " (r) }
            }
        },
    )
}
