//! The audit log (admin): filters by number, action, actor and time; newest first; paged.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::Value;

use super::api::query;
use super::ctx::Ctx;
use super::i18n::Tr;
use super::layout::{self, shell, Nav};
use super::page::respond;
use super::Console;
use crate::domain::Role;

#[derive(Deserialize, Default)]
pub struct AuditQuery {
    number: Option<String>,
    action: Option<String>,
    actor: Option<String>,
    /// `datetime-local` values, read as UTC.
    from: Option<String>,
    to: Option<String>,
    before: Option<String>,
}

fn utc(v: Option<&str>) -> Result<Option<String>, ()> {
    let Some(v) = v.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"]
        .iter()
        .find_map(|f| {
            chrono::NaiveDateTime::parse_from_str(v, f)
                .ok()
                .or_else(|| {
                    chrono::NaiveDate::parse_from_str(v, f)
                        .ok()
                        .and_then(|d| d.and_hms_opt(0, 0, 0))
                })
        })
        .map(|t| Some(t.and_utc().to_rfc3339()))
        .ok_or(())
}

const ACTIONS: [&str; 9] = [
    "dnc.*",
    "dnc.add",
    "dnc.extend",
    "dnc.remove",
    "dnc.merge",
    "import.*",
    "key.*",
    "console.*",
    "",
];

fn filters(tr: &Tr, q: &AuditQuery) -> Markup {
    html! {
        form.filters method="get" action="/audit" role="search" {
            div.field {
                label for="number" { (tr.number) }
                input #number type="text" name="number" value=[q.number.as_deref()] autocomplete="off";
            }
            div.field {
                label for="action" { (tr.audit.action) }
                select #action name="action" {
                    option value="" { (tr.any) }
                    @for a in ACTIONS.iter().filter(|a| !a.is_empty()) {
                        option value=(a) selected[q.action.as_deref() == Some(*a)] { (tr.action_label(a)) }
                    }
                }
            }
            div.field {
                label for="actor" { (tr.audit.actor) }
                input #actor type="text" name="actor" value=[q.actor.as_deref()] autocomplete="off" aria-describedby="actor_hint";
                p.hint #actor_hint { (tr.audit.actor_hint) }
            }
            div.field {
                label for="from" { (tr.audit.from_utc) }
                input #from type="datetime-local" name="from" value=[q.from.as_deref()];
            }
            div.field {
                label for="to" { (tr.audit.to_utc) }
                input #to type="datetime-local" name="to" value=[q.to.as_deref()];
            }
            div.actions { button type="submit" { (tr.filter) } a href="/audit" { (tr.clear) } }
        }
    }
}

pub async fn page(
    State(console): State<Console>,
    ctx: Ctx,
    Query(q): Query<AuditQuery>,
) -> Response {
    let tr = ctx.tr();
    if !ctx.can(Role::Admin) {
        return layout::not_allowed(&ctx, Nav::Audit, tr.nav_audit, Role::Admin);
    }
    let (Ok(from), Ok(to)) = (utc(q.from.as_deref()), utc(q.to.as_deref())) else {
        let body =
            html! { (filters(tr, &q)) div.alert.error role="alert" { p { (tr.err_date_format) } } };
        return respond(
            StatusCode::UNPROCESSABLE_ENTITY,
            shell(&ctx, Nav::Audit, tr.nav_audit, body),
        );
    };
    let api_query = query(&[
        ("number", q.number.as_deref()),
        ("action", q.action.as_deref()),
        ("actor", q.actor.as_deref()),
        ("from", from.as_deref()),
        ("to", to.as_deref()),
        ("before_id", q.before.as_deref()),
        ("limit", Some("50")),
    ]);
    let (status, content) = match ctx
        .api(&console)
        .get(&format!("/v1/audit?{api_query}"))
        .await
    {
        Err(f) => (layout::status_of(&f), layout::failure(tr, &f)),
        Ok(v) => {
            let empty = Vec::new();
            let events = v["events"].as_array().unwrap_or(&empty);
            let next = v["next_before_id"].as_i64().map(|n| n.to_string());
            let link = |before: Option<&str>| {
                query(&[
                    ("number", q.number.as_deref()),
                    ("action", q.action.as_deref()),
                    ("actor", q.actor.as_deref()),
                    ("from", q.from.as_deref()),
                    ("to", q.to.as_deref()),
                    ("before", before),
                ])
            };
            (
                StatusCode::OK,
                html! {
                    @if events.is_empty() { p.empty { (tr.no_events) } } @else { (events_table(&ctx, events, true)) }
                    nav.pager aria-label=(tr.pages) {
                        @if q.before.is_some() { a href={ "/audit?" (link(None)) } { (tr.newest) } }
                        @if let Some(n) = &next { a rel="next" href={ "/audit?" (link(Some(n))) } { (tr.older) } }
                    }
                },
            )
        }
    };
    let body = html! { (filters(tr, &q)) (content) };
    respond(status, shell(&ctx, Nav::Audit, tr.nav_audit, body))
}

/// What an event changed, in a line.
fn summary(tr: &Tr, e: &Value) -> String {
    let d = &e["details"];
    let mut parts: Vec<String> = Vec::new();
    let mut add = |label: &str, v: &Value| {
        if let Some(s) = v.as_str().filter(|s| !s.is_empty()) {
            parts.push(format!("{label}: {s}"));
        } else if v.is_number() {
            parts.push(format!("{label}: {v}"));
        }
    };
    match layout::text(&e["action"]) {
        "dnc.add" => {
            add(tr.scope, &d["after"]["scope"]);
            add(tr.client, &d["after"]["client"]);
            add(tr.campaign, &d["after"]["campaign"]);
            add(tr.reason, &d["after"]["reason"]);
            add(tr.source, &d["after"]["source"]);
            add(tr.expires_col, &d["after"]["expires_at"]);
        }
        "dnc.extend" => add(tr.expires_col, &d["after"]["expires_at"]),
        a if a.starts_with("import.") => {
            add(tr.registry, &d["registry"]);
            add(tr.rows, &d["rows_total"]);
            add(tr.rejected, &d["rows_rejected"]);
            add(tr.entries, &d["entries_after"]);
            add(tr.audit.error, &d["error"]);
        }
        "key.create" => {
            add(tr.name, &d["after"]["name"]);
            add(tr.role, &d["after"]["role"]);
        }
        _ => {
            add(tr.reason, &d["reason"]);
            add(tr.name, &d["name"]);
        }
    }
    parts.join(" · ")
}

pub fn events_table(ctx: &Ctx, events: &[Value], show_number: bool) -> Markup {
    let tr = ctx.tr();
    html! {
        table.cards.events {
            thead {
                tr {
                    th scope="col" { (tr.when) }
                    th scope="col" { (tr.audit.action) }
                    th scope="col" { (tr.audit.actor) }
                    @if show_number { th scope="col" { (tr.number) } }
                    th scope="col" { (tr.audit.details) }
                }
            }
            tbody {
                @for e in events {
                    tr {
                        td data-label=(tr.when) { (layout::time(&e["at"])) }
                        td data-label=(tr.audit.action) { (tr.action_label(layout::text(&e["action"]))) br; code.meta { (layout::text(&e["action"])) } }
                        td data-label=(tr.audit.actor) {
                            @if e["actor"].is_null() { (tr.audit.system) } @else {
                                (layout::text(&e["actor"]["name"])) " " span.meta { "(" (layout::text(&e["actor"]["role"])) ")" }
                            }
                        }
                        @if show_number {
                            td data-label=(tr.number) {
                                @if let Some(n) = e["number"].as_str() {
                                    a href={ "/lookup?" (query(&[("number", Some(n))])) } { (n) }
                                } @else { "—" }
                            }
                        }
                        td data-label=(tr.audit.details) { (summary(tr, e)) }
                    }
                }
            }
        }
    }
}
