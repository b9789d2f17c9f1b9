//! The do-not-call list: filters, paging, CSV export of the filtered list.

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::Value;

use super::api::{self, query};
use super::ctx::Ctx;
use super::i18n::Tr;
use super::layout::{self, shell, Nav};
use super::page::respond;
use super::Console;
use crate::domain::Role;

const PAGE: &str = "50";

#[derive(Deserialize, Default, Clone)]
pub struct ListQuery {
    number: Option<String>,
    /// `number` or `prefix` entries only.
    kind: Option<String>,
    scope: Option<String>,
    client: Option<String>,
    campaign: Option<String>,
    state: Option<String>,
    source: Option<String>,
    /// First day (UTC) of the entries' creation, inclusive.
    from: Option<String>,
    /// Last day (UTC), inclusive.
    to: Option<String>,
    before: Option<String>,
}

/// A `YYYY-MM-DD` day as the RFC 3339 time it starts at (UTC), `days` later.
fn day_start(day: Option<&str>, days: i64) -> Result<Option<String>, ()> {
    let Some(d) = day.map(str::trim).filter(|d| !d.is_empty()) else {
        return Ok(None);
    };
    let date = chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| ())?;
    let date = date
        .checked_add_signed(chrono::Duration::days(days))
        .ok_or(())?;
    Ok(Some(format!("{date}T00:00:00Z")))
}

impl ListQuery {
    /// The API's query string for these filters (without paging).
    fn api_query(&self, extra: &[(&str, Option<&str>)]) -> Result<String, ()> {
        let from = day_start(self.from.as_deref(), 0)?;
        let to = day_start(self.to.as_deref(), 1)?;
        let mut params = vec![
            ("number", self.number.as_deref()),
            ("kind", self.kind.as_deref()),
            ("scope", self.scope.as_deref()),
            ("client", self.client.as_deref()),
            ("campaign", self.campaign.as_deref()),
            ("state", self.state.as_deref()),
            ("source", self.source.as_deref()),
            ("from", from.as_deref()),
            ("to", to.as_deref()),
        ];
        params.extend_from_slice(extra);
        Ok(query(&params))
    }

    /// This page's own query string, for links (export, next page).
    fn console_query(&self, before: Option<&str>) -> String {
        query(&[
            ("number", self.number.as_deref()),
            ("kind", self.kind.as_deref()),
            ("scope", self.scope.as_deref()),
            ("client", self.client.as_deref()),
            ("campaign", self.campaign.as_deref()),
            ("state", self.state.as_deref()),
            ("source", self.source.as_deref()),
            ("from", self.from.as_deref()),
            ("to", self.to.as_deref()),
            ("before", before),
        ])
    }
}

fn select(id: &str, label: &str, current: Option<&str>, options: &[(&str, &str)]) -> Markup {
    html! {
        div.field {
            label for=(id) { (label) }
            select id=(id) name=(id) {
                @for (value, text) in options {
                    option value=(value) selected[current.unwrap_or("") == *value] { (text) }
                }
            }
        }
    }
}

fn filters(tr: &Tr, q: &ListQuery) -> Markup {
    let text = |id: &str, label: &str, value: &Option<String>| {
        html! {
            div.field {
                label for=(id) { (label) }
                input id=(id) type="text" name=(id) value=[value.as_deref()] autocomplete="off";
            }
        }
    };
    html! {
        form.filters method="get" action="/dnc" role="search" {
            (text("number", tr.number, &q.number))
            (select("kind", tr.list.kind, q.kind.as_deref(), &[("", tr.any), ("number", tr.list.kind_number), ("prefix", tr.list.kind_prefix)]))
            (select("scope", tr.scope, q.scope.as_deref(), &[("", tr.any), ("global", tr.list.scope_global), ("client", tr.list.scope_client), ("campaign", tr.list.scope_campaign)]))
            (text("client", tr.client, &q.client))
            (text("campaign", tr.campaign, &q.campaign))
            (select("state", tr.state, q.state.as_deref(), &[("", tr.any), ("active", tr.list.state_active), ("expired", tr.list.state_expired), ("removed", tr.list.state_removed)]))
            (text("source", tr.source, &q.source))
            div.field {
                label for="from" { (tr.list.added_from) }
                input #from type="date" name="from" value=[q.from.as_deref()];
            }
            div.field {
                label for="to" { (tr.list.added_to) }
                input #to type="date" name="to" value=[q.to.as_deref()];
            }
            div.actions { button type="submit" { (tr.filter) } a href="/dnc" { (tr.clear) } }
        }
    }
}

async fn content(console: &Console, ctx: &Ctx, q: &ListQuery) -> (StatusCode, Markup) {
    let tr = ctx.tr();
    let Ok(api_query) = q.api_query(&[("limit", Some(PAGE)), ("before_id", q.before.as_deref())])
    else {
        let body =
            html! { (filters(tr, q)) div.alert.error role="alert" { p { (tr.err_date_format) } } };
        return (StatusCode::UNPROCESSABLE_ENTITY, body);
    };
    let answer = ctx.api(console).get(&format!("/v1/dnc?{api_query}")).await;
    let body = match answer {
        Err(f) => {
            return (
                layout::status_of(&f),
                html! { (filters(tr, q)) (layout::failure(tr, &f)) },
            )
        }
        Ok(v) => {
            let empty = Vec::new();
            let entries = v["entries"].as_array().unwrap_or(&empty);
            let next = v["next_before_id"].as_i64().map(|n| n.to_string());
            html! {
                (filters(tr, q))
                p.actions {
                    a.button.secondary href={ "/dnc/export?" (q.console_query(None)) } hx-boost="false" download { (tr.list.export_csv) }
                }
                @if entries.is_empty() {
                    p.empty { (tr.list.no_matching_entries) }
                } @else {
                    (entries_table(ctx, entries, true))
                }
                nav.pager aria-label=(tr.pages) {
                    @if q.before.is_some() { a href={ "/dnc?" (q.console_query(None)) } { (tr.newest) } }
                    @if let Some(n) = &next { a rel="next" href={ "/dnc?" (q.console_query(Some(n))) } { (tr.older) } }
                }
            }
        }
    };
    (StatusCode::OK, body)
}

pub async fn page(
    State(console): State<Console>,
    ctx: Ctx,
    Query(q): Query<ListQuery>,
) -> Response {
    let tr = ctx.tr();
    if !ctx.can(Role::Agent) {
        return layout::not_allowed(&ctx, Nav::List, tr.nav_list, Role::Agent);
    }
    let (status, body) = content(&console, &ctx, &q).await;
    respond(status, shell(&ctx, Nav::List, tr.nav_list, body))
}

/// `GET /dnc/export`: the filtered list as the API's CSV, streamed through.
pub async fn export(
    State(console): State<Console>,
    ctx: Ctx,
    Query(q): Query<ListQuery>,
) -> Response {
    let tr = ctx.tr();
    let Ok(api_query) = q.api_query(&[("format", Some("csv"))]) else {
        return super::page::bare_error(tr, StatusCode::UNPROCESSABLE_ENTITY, tr.err_date_format);
    };
    let res = ctx
        .api(&console)
        .send(
            Method::GET,
            &format!("/v1/dnc?{api_query}"),
            None,
            Body::empty(),
        )
        .await;
    if res.status().is_success() {
        let (parts, body) = res.into_parts();
        let mut out = Response::new(body);
        for name in [header::CONTENT_TYPE, header::CONTENT_DISPOSITION] {
            if let Some(v) = parts.headers.get(&name) {
                out.headers_mut().insert(name, v.clone());
            }
        }
        return out.into_response();
    }
    match api::read(res).await {
        Err(f) => {
            let body = html! { (filters(tr, &q)) (layout::failure(tr, &f)) };
            respond(
                layout::status_of(&f),
                shell(&ctx, Nav::List, tr.nav_list, body),
            )
        }
        Ok(_) => super::page::bare_error(tr, StatusCode::INTERNAL_SERVER_ERROR, tr.err_internal),
    }
}

/// "global", "client ACME", "campaign Lato (client ACME)" from an entry or a reason.
pub fn scope_text(tr: &Tr, v: &Value) -> String {
    match (v["client"].as_str(), v["campaign"].as_str()) {
        (None, None) => tr.list.scope_global_long.to_string(),
        (Some(c), None) => format!("{} {c}", tr.client_word),
        (None, Some(k)) => format!("{} {k}", tr.campaign_word),
        (Some(c), Some(k)) => format!("{} {k} ({} {c})", tr.campaign_word, tr.client_word),
    }
}

fn state_badge(tr: &Tr, state: &str) -> Markup {
    let (class, text) = match state {
        "active" => ("badge bad", tr.list.state_active),
        "expired" => ("badge muted", tr.list.state_expired),
        _ => ("badge muted", tr.list.state_removed),
    };
    html! { span class=(class) { (text) } }
}

/// Entries as a table (cards on a phone), with "Unblock" for an admin on active ones.
pub fn entries_table(ctx: &Ctx, entries: &[Value], show_number: bool) -> Markup {
    let tr = ctx.tr();
    let admin = ctx.can(Role::Admin);
    html! {
        table.cards {
            thead {
                tr {
                    th scope="col" { "#" }
                    @if show_number { th scope="col" { (tr.number) } }
                    th scope="col" { (tr.scope) }
                    th scope="col" { (tr.state) }
                    th scope="col" { (tr.reason) }
                    th scope="col" { (tr.list.added) }
                    th scope="col" { (tr.expires_col) }
                    th scope="col" { (tr.list.removed) }
                    @if admin { th scope="col" { span.sr-only { (tr.actions) } } }
                }
            }
            tbody {
                @for e in entries {
                    @let id = e["id"].as_i64().unwrap_or(0);
                    tr {
                        td data-label="#" { (id) }
                        @if show_number {
                            td.nowrap data-label=(tr.number) {
                                @if let Some(prefix) = e["prefix"].as_str() {
                                    (prefix) "… " span.badge.muted { (tr.list.prefix) }
                                } @else {
                                    a href={ "/lookup?" (query(&[("number", e["number"].as_str())])) } { (layout::text(&e["number"])) }
                                }
                            }
                        }
                        td data-label=(tr.scope) {
                            (scope_text(tr, e))
                            @if let (false, Some(prefix)) = (show_number, e["prefix"].as_str()) {
                                br; span.meta { (tr.list.prefix) " " (prefix) "…" }
                            }
                        }
                        td data-label=(tr.state) { (state_badge(tr, layout::text(&e["state"]))) }
                        td data-label=(tr.reason) {
                            (layout::text(&e["reason"]))
                            @if let Some(s) = e["source"].as_str() { br; span.meta { (tr.source) ": " (s) } }
                        }
                        td data-label=(tr.list.added) {
                            (layout::text(&e["created_by_name"])) br; span.meta { (layout::time(&e["created_at"])) }
                        }
                        td data-label=(tr.expires_col) { (layout::or_dash(layout::time(&e["expires_at"]))) }
                        td data-label=(tr.list.removed) {
                            @if e["deactivated_at"].is_null() { "—" } @else {
                                (layout::text(&e["deactivated_by_name"])) br;
                                span.meta { (layout::time(&e["deactivated_at"])) } br;
                                q { (layout::text(&e["deactivation_reason"])) }
                            }
                        }
                        @if admin {
                            td.nowrap data-label=(tr.actions) {
                                @if e["active"] == true {
                                    a href={ "/unblock/" (id) } { (tr.unblock) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
