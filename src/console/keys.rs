//! API keys (admin): create (the secret shown once, with a copy button), optionally bound
//! to a client (README "Client-bound keys"), list with their bindings, revoke.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::{json, Value};

use super::api::Failure;
use super::ctx::Ctx;
use super::form::{guard, present, Form};
use super::i18n::Tr;
use super::layout::{self, shell, Nav};
use super::page::respond;
use super::Console;
use crate::domain::Role;

/// The form to make a key; after a refused attempt it keeps what was sent.
fn create_form(ctx: &Ctx, sent: Option<&CreateForm>) -> Markup {
    let tr = ctx.tr();
    let value = |field: fn(&CreateForm) -> &Option<String>| sent.and_then(|f| field(f).as_deref());
    let role = value(|f| &f.role).unwrap_or(Role::Agent.as_str());
    html! {
        form.filters method="post" action="/keys" {
            (layout::csrf(ctx))
            div.field {
                label for="name" { (tr.name) }
                input #name type="text" name="name" value=[value(|f| &f.name)] required maxlength="200" autocomplete="off";
            }
            div.field {
                label for="role" { (tr.role) }
                select #role name="role" {
                    @for r in Role::ALL { option value=(r.as_str()) selected[r.as_str() == role] { (r.as_str()) } }
                }
            }
            div.field {
                label for="client" { (tr.keys.bind_client) }
                input #client type="text" name="client" value=[value(|f| &f.client)] maxlength="200" autocomplete="off";
            }
            div.field.wide {
                label for="campaigns" { (tr.keys.bind_campaigns) }
                textarea #campaigns name="campaigns" rows="2" { (value(|f| &f.campaigns).unwrap_or("")) }
            }
            div.check.wide {
                input #may_block_global type="checkbox" name="may_block_global" value="yes" checked[sent.is_some_and(|f| f.may_block_global.is_some())];
                label for="may_block_global" { (tr.keys.bind_global) }
            }
            p.hint.wide { (tr.keys.roles_hint) " " (tr.keys.bind_hint) }
            div.actions { button type="submit" { (tr.keys.create_key) } }
        }
    }
}

/// What a key is bound to, as the list shows it: "every client" for an unbound key.
fn binding(tr: &Tr, k: &Value) -> Markup {
    let campaigns: Vec<&str> = k["campaigns"]
        .as_array()
        .map(|c| c.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    html! {
        @match k["client"].as_str() {
            None => span.meta { (tr.keys.every_client) },
            Some(client) => {
                strong { (client) }
                @if !campaigns.is_empty() {
                    " " span.meta { (tr.keys.campaigns_word) ": " (campaigns.join(", ")) }
                }
                @if k["may_block_global"].as_bool() == Some(true) {
                    " " span.badge.muted { (tr.keys.global_too) }
                }
            }
        }
    }
}

async fn key_list(console: &Console, ctx: &Ctx) -> Markup {
    let tr = ctx.tr();
    let keys = match ctx.api(console).get("/v1/keys").await {
        Ok(v) => v["keys"].as_array().cloned().unwrap_or_default(),
        Err(f) => return layout::failure(tr, &f),
    };
    html! {
        table.cards {
            thead { tr {
                th scope="col" { "#" } th scope="col" { (tr.name) } th scope="col" { (tr.role) }
                th scope="col" { (tr.keys.bound_to) }
                th scope="col" { (tr.keys.created) } th scope="col" { (tr.state) }
                th scope="col" { span.sr-only { (tr.actions) } }
            } }
            tbody {
                @for k in &keys {
                    @let id = k["id"].as_i64().unwrap_or(0);
                    @let live = k["revoked_at"].is_null();
                    tr {
                        td data-label="#" { (id) }
                        td data-label=(tr.name) { (layout::text(&k["name"])) @if id == ctx.principal.id { " " span.badge.muted { (tr.keys.this_key) } } }
                        td data-label=(tr.role) { (layout::text(&k["role"])) }
                        td data-label=(tr.keys.bound_to) { (binding(tr, k)) }
                        td data-label=(tr.keys.created) { (layout::time(&k["created_at"])) }
                        td data-label=(tr.state) {
                            @if live { span.badge.ok { (tr.keys.key_live) } } @else { span.badge.muted { (tr.keys.key_revoked) } " " span.meta { (layout::time(&k["revoked_at"])) } }
                        }
                        td data-label=(tr.actions) {
                            @if live {
                                form.inline method="post" action={ "/keys/" (id) "/revoke" } hx-confirm=(tr.revoke_confirm(layout::text(&k["name"]))) {
                                    (layout::csrf(ctx))
                                    button.danger.small type="submit" { (tr.keys.revoke) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

async fn render(
    console: &Console,
    ctx: &Ctx,
    status: StatusCode,
    top: Markup,
    sent: Option<&CreateForm>,
) -> Response {
    let tr = ctx.tr();
    if !ctx.can(Role::Admin) {
        return layout::not_allowed(ctx, Nav::Keys, tr.nav_keys, Role::Admin);
    }
    let body = html! {
        (top)
        h2 { (tr.keys.create_key) }
        (create_form(ctx, sent))
        h2 { (tr.keys.all_keys) }
        (key_list(console, ctx).await)
    };
    respond(status, shell(ctx, Nav::Keys, tr.nav_keys, body))
}

pub async fn page(State(console): State<Console>, ctx: Ctx) -> Response {
    render(&console, &ctx, StatusCode::OK, html! {}, None).await
}

#[derive(Deserialize)]
pub struct CreateForm {
    csrf: Option<String>,
    name: Option<String>,
    role: Option<String>,
    /// Blank: an unbound key.
    client: Option<String>,
    /// One campaign of `client` per line.
    campaigns: Option<String>,
    /// Present (`yes`) when ticked.
    may_block_global: Option<String>,
}

/// The API's body for a key to make: the binding's fields only when given, so the API
/// judges them (an ops key with a client, campaigns without one: `invalid_binding`).
fn create_request(f: &CreateForm) -> Value {
    let mut req = json!({
        "name": f.name.as_deref().unwrap_or_default(),
        "role": f.role.as_deref().unwrap_or_default(),
    });
    if let Some(client) = present(&f.client) {
        req["client"] = json!(client);
    }
    let campaigns: Vec<&str> = f
        .campaigns
        .as_deref()
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    if !campaigns.is_empty() {
        req["campaigns"] = json!(campaigns);
    }
    if f.may_block_global.is_some() {
        req["may_block_global"] = json!(true);
    }
    req
}

pub async fn create(
    State(console): State<Console>,
    ctx: Ctx,
    headers: HeaderMap,
    Form(f): Form<CreateForm>,
) -> Response {
    if let Some(refused) = guard(&ctx, &headers, f.csrf.as_deref()) {
        return refused;
    }
    let tr = ctx.tr();
    let req = create_request(&f);
    let answer: Result<(StatusCode, Value), Failure> = ctx
        .api(&console)
        .call(Method::POST, "/v1/keys", Some(&req))
        .await;
    let (status, top, sent) = match answer {
        Err(e) => (layout::status_of(&e), layout::failure(tr, &e), Some(&f)),
        Ok((status, key)) => (
            status,
            html! {
                div.alert.ok.secret role="status" {
                    p { (tr.key_created(layout::text(&key["name"]), layout::text(&key["role"]), key["client"].as_str())) }
                    p.secret-line {
                        code #new-key { (layout::text(&key["key"])) }
                        " "
                        button.small type="button" data-copy="new-key" data-copied=(tr.keys.copied) { (tr.keys.copy) }
                    }
                    p.hint { (tr.keys.key_shown_once) }
                }
            },
            None,
        ),
    };
    render(&console, &ctx, status, top, sent).await
}

#[derive(Deserialize)]
pub struct RevokeForm {
    csrf: Option<String>,
}

pub async fn revoke(
    State(console): State<Console>,
    ctx: Ctx,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(f): Form<RevokeForm>,
) -> Response {
    if let Some(refused) = guard(&ctx, &headers, f.csrf.as_deref()) {
        return refused;
    }
    let tr = ctx.tr();
    let answer = ctx
        .api(&console)
        .call(Method::DELETE, &format!("/v1/keys/{id}"), None)
        .await;
    let (status, top) = match answer {
        Err(f) => (layout::status_of(&f), layout::failure(tr, &f)),
        Ok((_, key)) => {
            if id == ctx.principal.id {
                // The session's own key: the session has ended with it.
                return super::ctx::redirect(ctx.htmx, "/login?ended=revoked");
            }
            (
                StatusCode::OK,
                layout::success(&tr.key_revoked_msg(layout::text(&key["name"]))),
            )
        }
    };
    render(&console, &ctx, status, top, None).await
}
