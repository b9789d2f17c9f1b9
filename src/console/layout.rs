//! The page shell of a signed-in user (navigation, who is signed in, language,
//! sign-out), error boxes and small formatting helpers.

use axum::http::StatusCode;
use axum::response::Response;
use maud::{html, Markup, DOCTYPE};
use serde_json::Value;

use super::api::Failure;
use super::ctx::Ctx;
use super::i18n::Tr;
use super::page::{head, respond};
use crate::domain::Role;

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Overview,
    Lookup,
    Block,
    List,
    Registries,
    Audit,
    Keys,
    None,
}

/// The pages in the navigation and the least role each needs (the API's role for the
/// calls the page makes).
fn entries(tr: &Tr) -> [(Nav, &'static str, &'static str, Role); 7] {
    [
        (Nav::Overview, "/overview", tr.nav_overview, Role::Ops),
        (Nav::Lookup, "/lookup", tr.nav_lookup, Role::Dialer),
        (Nav::Block, "/block", tr.nav_block, Role::Agent),
        (Nav::List, "/dnc", tr.nav_list, Role::Agent),
        (Nav::Registries, "/registries", tr.nav_registries, Role::Ops),
        (Nav::Audit, "/audit", tr.nav_audit, Role::Admin),
        (Nav::Keys, "/keys", tr.nav_keys, Role::Admin),
    ]
}

/// A whole page for a signed-in user.
pub fn shell(ctx: &Ctx, active: Nav, title: &str, content: Markup) -> Markup {
    let tr = ctx.tr();
    let other = ctx.lang.other();
    let back = super::api::query(&[("back", Some(&ctx.path))]);
    html! {
        (DOCTYPE)
        html lang=(ctx.lang.code()) {
            (head(tr, title))
            body hx-boost="true" {
                a.skip href="#main" { (tr.skip_to_content) }
                header.top {
                    a.brand href="/" { "tarcza" }
                    nav aria-label=(tr.nav_label) {
                        ul {
                            @for (nav, href, label, role) in entries(tr) {
                                @if ctx.can(role) {
                                    li {
                                        a href=(href) aria-current=[(nav == active).then_some("page")] { (label) }
                                    }
                                }
                            }
                        }
                    }
                    div.who {
                        span.name { (ctx.principal.name) " " span.role { "(" (ctx.principal.role) ")" } }
                        a.lang href={ "/lang/" (other.code()) "?" (back) } hx-boost="false" lang=(other.code()) { (other.name()) }
                        form.logout method="post" action="/logout" {
                            input type="hidden" name="csrf" value=(ctx.csrf);
                            button.link type="submit" { (tr.sign_out) }
                        }
                    }
                }
                main #main tabindex="-1" {
                    h1 { (title) }
                    (content)
                }
            }
        }
    }
}

/// What went wrong, in a sentence, with the API's own detail below it.
pub fn failure(tr: &Tr, f: &Failure) -> Markup {
    let sentence = tr.failure(&f.code);
    html! {
        div.alert.error role="alert" {
            p { (sentence) }
            @if !f.message.is_empty() && f.code != "internal_error" {
                p.detail { (tr.detail) ": " (f.message) }
            }
        }
    }
}

/// The status a page showing `f` answers with.
pub fn status_of(f: &Failure) -> StatusCode {
    f.status
}

pub fn success(message: &str) -> Markup {
    html! { div.alert.ok role="status" { p { (message) } } }
}

/// `2026-11-28 10:00 UTC` from an RFC 3339 time in a JSON value; empty for null.
pub fn time(v: &Value) -> String {
    v.as_str()
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
        .map(|t| {
            t.with_timezone(&chrono::Utc)
                .format("%Y-%m-%d %H:%M UTC")
                .to_string()
        })
        .unwrap_or_default()
}

/// A dash for an empty value (a time or text not known).
pub fn or_dash(s: String) -> String {
    if s.is_empty() {
        "—".into()
    } else {
        s
    }
}

/// Text of a JSON string value (empty for null).
pub fn text(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

/// A number with thin groups: 1 234 567.
pub fn count(v: &Value) -> String {
    let n = v.as_i64().unwrap_or(0);
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('\u{202f}');
        }
        out.push(c);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

/// A hidden field with the session's CSRF token, for every state-changing form.
pub fn csrf(ctx: &Ctx) -> Markup {
    html! { input type="hidden" name="csrf" value=(ctx.csrf); }
}

/// "Your key's role cannot …": the page a role may not use, as the API would refuse it.
pub fn not_allowed(ctx: &Ctx, active: Nav, title: &str, needed: Role) -> Response {
    let tr = ctx.tr();
    let body = html! {
        div.alert.error role="alert" {
            p { (tr.role_cannot(ctx.principal.role, needed)) }
        }
    };
    respond(StatusCode::FORBIDDEN, shell(ctx, active, title, body))
}
