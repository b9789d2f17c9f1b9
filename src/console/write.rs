//! Block a number (agent) and unblock an entry (admin, with a reason and a confirmation);
//! each shows the result and the number's new verdict at once.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::{json, Value};

use super::api::Failure;
use super::ctx::Ctx;
use super::form::{guard, present, Form};
use super::layout::{self, shell, Nav};
use super::lookup::{self, LookupQuery};
use super::page::respond;
use super::{list, Console};
use crate::domain::Role;

#[derive(Deserialize, Default)]
pub struct BlockForm {
    csrf: Option<String>,
    #[serde(default)]
    number: String,
    reason: Option<String>,
    client: Option<String>,
    campaign: Option<String>,
    expires_at: Option<String>,
}

fn block_form(ctx: &Ctx, f: &BlockForm) -> Markup {
    let tr = ctx.tr();
    html! {
        form.stack method="post" action="/block" {
            (layout::csrf(ctx))
            div.field {
                label for="number" { (tr.number) }
                input #number type="text" name="number" value=(f.number) required inputmode="tel" autocomplete="off";
            }
            div.field {
                label for="reason" { (tr.reason) }
                input #reason type="text" name="reason" value=[f.reason.as_deref()] maxlength="2000" autocomplete="off";
            }
            div.row {
                div.field {
                    label for="client" { (tr.client) }
                    input #client type="text" name="client" value=[f.client.as_deref()] autocomplete="off";
                }
                div.field {
                    label for="campaign" { (tr.campaign) }
                    input #campaign type="text" name="campaign" value=[f.campaign.as_deref()] autocomplete="off";
                }
            }
            div.field {
                label for="expires_at" { (tr.write.expires_at) }
                input #expires_at type="datetime-local" name="expires_at" value=[f.expires_at.as_deref()] aria-describedby="expires_hint";
                p.hint #expires_hint { (tr.write.expires_hint) }
            }
            p.hint { (tr.write.scope_hint) }
            div.actions { button type="submit" { (tr.write.block) } }
        }
    }
}

pub async fn block_page(ctx: Ctx, Query(q): Query<LookupQuery>) -> Response {
    let tr = ctx.tr();
    if !ctx.can(Role::Agent) {
        return layout::not_allowed(&ctx, Nav::Block, tr.nav_block, Role::Agent);
    }
    let f = BlockForm {
        number: q.number.unwrap_or_default(),
        client: q.client,
        campaign: q.campaign,
        ..BlockForm::default()
    };
    respond(
        StatusCode::OK,
        shell(&ctx, Nav::Block, tr.nav_block, block_form(&ctx, &f)),
    )
}

/// A `datetime-local` value (`2026-12-01T10:00`, read as UTC as the label says) as RFC 3339.
fn expiry(value: Option<&str>) -> Result<Option<String>, ()> {
    let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|f| chrono::NaiveDateTime::parse_from_str(v, f).ok())
        .map(|t| Some(t.and_utc().to_rfc3339()))
        .ok_or(())
}

pub async fn block(
    State(console): State<Console>,
    ctx: Ctx,
    headers: HeaderMap,
    Form(f): Form<BlockForm>,
) -> Response {
    if let Some(refused) = guard(&ctx, &headers, f.csrf.as_deref()) {
        return refused;
    }
    let tr = ctx.tr();
    let Ok(expires_at) = expiry(f.expires_at.as_deref()) else {
        let body = html! {
            div.alert.error role="alert" { p { (tr.write.err_expires_format) } }
            (block_form(&ctx, &f))
        };
        return respond(
            StatusCode::UNPROCESSABLE_ENTITY,
            shell(&ctx, Nav::Block, tr.nav_block, body),
        );
    };
    let mut req = json!({"number": f.number, "source": "console"});
    for (k, v) in [
        ("reason", present(&f.reason)),
        ("client", present(&f.client)),
        ("campaign", present(&f.campaign)),
    ] {
        if let Some(v) = v {
            req[k] = json!(v);
        }
    }
    if let Some(t) = expires_at {
        req["expires_at"] = json!(t);
    }
    let answer = ctx
        .api(&console)
        .call(Method::POST, "/v1/dnc", Some(&req))
        .await;
    let (status, entry) = match answer {
        Ok(ok) => ok,
        Err(failure) => {
            let body = html! { (layout::failure(tr, &failure)) (block_form(&ctx, &f)) };
            return respond(
                layout::status_of(&failure),
                shell(&ctx, Nav::Block, tr.nav_block, body),
            );
        }
    };
    let number = layout::text(&entry["number"]).to_string();
    let id = entry["id"].as_i64().unwrap_or(0);
    let message = if status == StatusCode::CREATED {
        tr.blocked_new(&number, id)
    } else {
        tr.blocked_existing(&number, id)
    };
    let (_, verdict) = lookup::verdict_section(
        &console,
        &ctx,
        &number,
        entry["client"].as_str(),
        entry["campaign"].as_str(),
    )
    .await;
    let body = html! {
        (layout::success(&message))
        (warnings(&ctx, &entry))
        (verdict)
        h2 { (tr.write.block_another) }
        (block_form(&ctx, &BlockForm::default()))
    };
    respond(status, shell(&ctx, Nav::Block, tr.nav_block, body))
}

fn warnings(ctx: &Ctx, body: &Value) -> Markup {
    let tr = ctx.tr();
    html! {
        @if let Some(ws) = body["warnings"].as_array() {
            @for w in ws {
                @if w["code"] == "not_yet_visible" {
                    div.alert.warn role="status" { p { (tr.write.not_yet_visible) } }
                }
            }
        }
    }
}

#[derive(Deserialize)]
pub struct UnblockForm {
    csrf: Option<String>,
    reason: Option<String>,
    confirm: Option<String>,
}

fn unblock_form(ctx: &Ctx, id: i64, reason: &str) -> Markup {
    let tr = ctx.tr();
    html! {
        form.stack method="post" action={ "/unblock/" (id) } {
            (layout::csrf(ctx))
            div.field {
                label for="reason" { (tr.write.unblock_reason) }
                textarea #reason name="reason" required maxlength="2000" rows="3" { (reason) }
            }
            div.check {
                input #confirm type="checkbox" name="confirm" value="yes" required;
                label for="confirm" { (tr.write.unblock_confirm) }
            }
            div.actions { button.danger type="submit" { (tr.unblock) } }
        }
    }
}

async fn entry_or_failure(console: &Console, ctx: &Ctx, id: i64) -> Result<Value, Failure> {
    ctx.api(console).get(&format!("/v1/dnc/{id}")).await
}

pub async fn unblock_page(
    State(console): State<Console>,
    ctx: Ctx,
    Path(id): Path<i64>,
) -> Response {
    let tr = ctx.tr();
    if !ctx.can(Role::Admin) {
        return layout::not_allowed(&ctx, Nav::None, tr.unblock, Role::Admin);
    }
    let entry = match entry_or_failure(&console, &ctx, id).await {
        Ok(e) => e,
        Err(f) => {
            return respond(
                layout::status_of(&f),
                shell(&ctx, Nav::None, tr.unblock, layout::failure(tr, &f)),
            )
        }
    };
    let body = html! {
        (list::entries_table(&ctx, std::slice::from_ref(&entry), true))
        @if entry["active"] == true {
            (unblock_form(&ctx, id, ""))
        } @else {
            div.alert.info role="status" { p { (tr.write.already_removed) } }
        }
    };
    respond(StatusCode::OK, shell(&ctx, Nav::None, tr.unblock, body))
}

pub async fn unblock(
    State(console): State<Console>,
    ctx: Ctx,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(f): Form<UnblockForm>,
) -> Response {
    if let Some(refused) = guard(&ctx, &headers, f.csrf.as_deref()) {
        return refused;
    }
    let tr = ctx.tr();
    let reason = f.reason.as_deref().unwrap_or("").trim().to_string();
    if f.confirm.as_deref() != Some("yes") || reason.is_empty() {
        let message = if reason.is_empty() {
            tr.write.err_unblock_reason
        } else {
            tr.write.err_unblock_confirm
        };
        let body = html! {
            div.alert.error role="alert" { p { (message) } }
            (unblock_form(&ctx, id, &reason))
        };
        return respond(
            StatusCode::UNPROCESSABLE_ENTITY,
            shell(&ctx, Nav::None, tr.unblock, body),
        );
    }
    let answer = ctx
        .api(&console)
        .call(
            Method::DELETE,
            &format!("/v1/dnc/{id}"),
            Some(&json!({"reason": reason})),
        )
        .await;
    let entry = match answer {
        Ok((_, e)) => e,
        Err(failure) => {
            let body = html! { (layout::failure(tr, &failure)) (unblock_form(&ctx, id, &reason)) };
            return respond(
                layout::status_of(&failure),
                shell(&ctx, Nav::None, tr.unblock, body),
            );
        }
    };
    // A prefix entry blocks many numbers: there is no one verdict to show after it.
    let (number, verdict) = match entry["prefix"].as_str() {
        Some(prefix) => (format!("{prefix}…"), html! {}),
        None => {
            let number = layout::text(&entry["number"]).to_string();
            let (_, verdict) = lookup::verdict_section(
                &console,
                &ctx,
                &number,
                entry["client"].as_str(),
                entry["campaign"].as_str(),
            )
            .await;
            (number, verdict)
        }
    };
    let body = html! {
        (layout::success(&tr.unblocked(&number, id)))
        (warnings(&ctx, &entry))
        (verdict)
    };
    respond(StatusCode::OK, shell(&ctx, Nav::None, tr.unblock, body))
}

#[cfg(test)]
mod tests {
    use super::expiry;

    #[test]
    fn a_local_date_time_is_read_as_utc() {
        assert_eq!(
            expiry(Some("2030-01-02T03:04")),
            Ok(Some("2030-01-02T03:04:00+00:00".into()))
        );
        assert_eq!(expiry(Some("")), Ok(None));
        assert_eq!(expiry(None), Ok(None));
        assert_eq!(expiry(Some("tomorrow")), Err(()));
    }
}
