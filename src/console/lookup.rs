//! Lookup: may this number be called, and why not; its entries and its history.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::Value;

use super::api::{query, Failure};
use super::ctx::Ctx;
use super::layout::{self, shell, Nav};
use super::page::respond;
use super::{audit, list, registries, Console};
use crate::domain::Role;

#[derive(Deserialize, Default)]
pub struct LookupQuery {
    pub number: Option<String>,
    pub client: Option<String>,
    pub campaign: Option<String>,
}

fn form(ctx: &Ctx, q: &LookupQuery) -> Markup {
    let tr = ctx.tr();
    html! {
        form.filters method="get" action="/lookup" role="search" {
            div.field {
                label for="number" { (tr.number) }
                input #number type="text" name="number" value=[q.number.as_deref()] required inputmode="tel" autocomplete="off" autofocus[q.number.is_none()];
            }
            div.field {
                label for="client" { (tr.client) }
                input #client type="text" name="client" value=[q.client.as_deref()] autocomplete="off";
            }
            div.field {
                label for="campaign" { (tr.campaign) }
                input #campaign type="text" name="campaign" value=[q.campaign.as_deref()] autocomplete="off";
            }
            div.actions { button type="submit" { (tr.lookup.check) } }
        }
    }
}

pub async fn page(
    State(console): State<Console>,
    ctx: Ctx,
    Query(q): Query<LookupQuery>,
) -> Response {
    let tr = ctx.tr();
    let form = form(&ctx, &q);
    let Some(number) = q.number.as_deref().map(str::trim).filter(|n| !n.is_empty()) else {
        return respond(
            StatusCode::OK,
            shell(&ctx, Nav::Lookup, tr.nav_lookup, form),
        );
    };
    let (status, result) = verdict_section(
        &console,
        &ctx,
        number,
        q.client.as_deref(),
        q.campaign.as_deref(),
    )
    .await;
    let body = html! { (form) (result) };
    respond(status, shell(&ctx, Nav::Lookup, tr.nav_lookup, body))
}

/// The verdict on `number` for a call for `client` / `campaign`, with every reason, the
/// number's entries (agent) and its history (admin).
pub async fn verdict_section(
    console: &Console,
    ctx: &Ctx,
    number: &str,
    client: Option<&str>,
    campaign: Option<&str>,
) -> (StatusCode, Markup) {
    let tr = ctx.tr();
    let api = ctx.api(console);
    let uri = format!(
        "/v1/check?{}",
        query(&[
            ("number", Some(number)),
            ("client", client),
            ("campaign", campaign)
        ])
    );
    let check = match api.get(&uri).await {
        Ok(v) => v,
        Err(f) => return (layout::status_of(&f), no_answer(ctx, &f)),
    };
    let canonical = layout::text(&check["number"]).to_string();
    let registries = api
        .get("/v1/registries")
        .await
        .map(|v| v["registries"].as_array().cloned().unwrap_or_default())
        .unwrap_or_default();
    let entries: Result<Vec<Value>, Failure> = if ctx.can(Role::Agent) {
        api.get(&format!(
            "/v1/dnc?{}",
            query(&[("number", Some(&canonical))])
        ))
        .await
        .map(|v| v["entries"].as_array().cloned().unwrap_or_default())
    } else {
        Ok(Vec::new())
    };
    let history: Option<Result<Value, Failure>> = if ctx.can(Role::Admin) {
        Some(
            api.get(&format!(
                "/v1/audit?{}",
                query(&[("number", Some(&canonical)), ("limit", Some("20"))])
            ))
            .await,
        )
    } else {
        None
    };
    let allowed = check["allowed"].as_bool() == Some(true);
    let empty = Vec::new();
    let reasons = check["reasons"].as_array().unwrap_or(&empty);
    let entry_list = entries.as_deref().unwrap_or(&[]);
    let markup = html! {
        section #result aria-live="polite" {
            div.verdict.allowed[allowed].blocked[!allowed] {
                p.number { (canonical) }
                p.word { @if allowed { (tr.lookup.allowed) } @else { (tr.lookup.blocked) } }
                p.scope-note { (tr.lookup.checked_for) " " (call_scope(tr, client, campaign)) }
            }
            @if let Some(ws) = check["warnings"].as_array() {
                @for w in ws {
                    div.alert.warn role="alert" { p { (tr.lookup.warning) ": " (layout::text(&w["message"])) } }
                }
            }
            @if !reasons.is_empty() {
                h2 { (tr.lookup.why_blocked) }
                ul.reasons {
                    @for r in reasons { li { (reason(ctx, r, entry_list, &registries)) } }
                }
            }
            @if let Some(c) = check.get("consent").filter(|c| c.is_object()) {
                p.meta { (consent_text(tr, c)) }
            }
            @if let Some(exemptions) = check["exemptions"].as_array().filter(|x| !x.is_empty()) {
                h2 { (tr.lookup.exempted) }
                ul.reasons {
                    @for x in exemptions {
                        li { strong { (tr.registry) " " (layout::text(&x["registry"])) } " — " (consent_text(tr, &x["exempted_by"])) }
                    }
                }
            }
            @if ctx.can(Role::Agent) {
                p.actions {
                    a.button href={ "/block?" (query(&[("number", Some(&canonical)), ("client", client), ("campaign", campaign)])) } { (tr.lookup.block_this_number) }
                }
                h2 { (tr.lookup.entries_of_number) }
                @match &entries {
                    Ok(list) if list.is_empty() => p.empty { (tr.lookup.no_entries) },
                    Ok(list) => (list::entries_table(ctx, list, false)),
                    Err(f) => (layout::failure(tr, f)),
                }
            }
            @if let Some(history) = &history {
                h2 { (tr.lookup.history) }
                @match history {
                    Ok(h) if h["events"].as_array().is_none_or(Vec::is_empty) => p.empty { (tr.no_events) },
                    Ok(h) => (audit::events_table(ctx, h["events"].as_array().unwrap_or(&Vec::new()), false)),
                    Err(f) => (layout::failure(tr, f)),
                }
            }
        }
    };
    (StatusCode::OK, markup)
}

/// When `/v1/check` would not answer: a stale or unloaded registry means "do not call",
/// and the page says so as plainly as a verdict.
fn no_answer(ctx: &Ctx, f: &Failure) -> Markup {
    let tr = ctx.tr();
    let fail_closed = matches!(
        f.code.as_str(),
        "stale_registry" | "not_ready" | "stale_snapshot"
    );
    html! {
        section #result aria-live="polite" {
            @if fail_closed {
                div.verdict.blocked {
                    p.word { (tr.lookup.do_not_call) }
                    p.scope-note { (tr.lookup.no_verdict) }
                }
            }
            (layout::failure(tr, f))
        }
    }
}

fn call_scope(tr: &super::i18n::Tr, client: Option<&str>, campaign: Option<&str>) -> String {
    let client = client.map(str::trim).filter(|c| !c.is_empty());
    let campaign = campaign.map(str::trim).filter(|c| !c.is_empty());
    match (client, campaign) {
        (None, None) => tr.lookup.any_client.to_string(),
        (Some(c), None) => format!("{} {c}", tr.client_word),
        (None, Some(k)) => format!("{} {k}", tr.campaign_word),
        (Some(c), Some(k)) => format!("{} {c}, {} {k}", tr.client_word, tr.campaign_word),
    }
}

fn reason(ctx: &Ctx, r: &Value, entries: &[Value], registries: &[Value]) -> Markup {
    let tr = ctx.tr();
    match r["source"].as_str() {
        Some("dnc") => {
            let id = r["entry_id"].as_i64().unwrap_or(0);
            let entry = entries.iter().find(|e| e["id"].as_i64() == Some(id));
            html! {
                strong { (tr.lookup.dnc_entry) " #" (id) }
                @if let Some(prefix) = r["prefix"].as_str() { " — " (tr.lookup.starting_with) " " (prefix) }
                " — " (list::scope_text(tr, r))
                @if let Some(text) = r["reason"].as_str() { " — " (tr.reason) ": " q { (text) } }
                @if let Some(e) = entry {
                    br;
                    span.meta {
                        (tr.lookup.added_by) " " (layout::text(&e["created_by_name"])) " · " (layout::time(&e["created_at"]))
                        @if !e["expires_at"].is_null() { " · " (tr.lookup.expires) " " (layout::time(&e["expires_at"])) }
                        @if let Some(s) = e["source"].as_str() { " · " (tr.source) ": " (s) }
                    }
                }
            }
        }
        Some("registry") => {
            let name = layout::text(&r["registry"]);
            let reg = registries.iter().find(|g| g["name"].as_str() == Some(name));
            html! {
                strong { (tr.registry) " " (name) }
                @if let Some(g) = reg {
                    " " (registries::freshness_badge(tr, g))
                    br;
                    span.meta {
                        (tr.source_time) ": " (layout::or_dash(layout::time(&g["source_time"])))
                        " · " (tr.fresh_until) ": " (layout::or_dash(layout::time(&g["fresh_until"])))
                    }
                }
            }
        }
        Some("consent") => html! {
            strong { (tr.lookup.no_consent) } " — " (list::scope_text(tr, r))
            ", " (tr.lookup.purpose) ": " (layout::text(&r["purpose"]))
        },
        _ => html! { (r.to_string()) },
    }
}

/// The consent a call relies on (`consent`, or an exemption's `exempted_by`).
fn consent_text(tr: &super::i18n::Tr, c: &Value) -> Markup {
    html! {
        (tr.lookup.consent) " #" (c["consent_id"].as_i64().unwrap_or(0))
        " (" (tr.lookup.purpose) ": " (layout::text(&c["purpose"]))
        @if !c["expires_at"].is_null() { ", " (tr.lookup.until) " " (layout::time(&c["expires_at"])) }
        ")"
    }
}
