//! The page shell (head, navigation, who is signed in, language, sign-out), the sign-in
//! page, error boxes and small formatting helpers.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{html, Markup, DOCTYPE};
use serde_json::Value;

use super::api::Failure;
use super::assets::{CSS_PATH, HTMX_PATH, JS_PATH};
use super::i18n::{Lang, Tr};
use super::session::Ctx;
use crate::domain::Role;

/// htmx settings: answers of any status are swapped in (our error pages are pages),
/// no inline indicator style (the CSP allows none), and no copies of pages in the
/// browser's storage (they hold phone numbers).
const HTMX_CONFIG: &str = r#"{"includeIndicatorStyles":false,"historyCacheSize":0,"refreshOnHistoryMiss":true,"responseHandling":[{"code":"204","swap":false},{"code":"...","swap":true}]}"#;

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

fn head(tr: &Tr, title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            meta name="htmx-config" content=(HTMX_CONFIG);
            title { (title) " · tarcza" }
            link rel="stylesheet" href=(CSS_PATH);
            // No icon: this keeps the browser from asking the API for /favicon.ico.
            link rel="icon" href="data:,";
            script src=(HTMX_PATH) defer {}
            script src=(JS_PATH) defer {}
            meta name="description" content=(tr.tagline);
        }
    }
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

pub fn respond(status: StatusCode, markup: Markup) -> Response {
    (status, markup).into_response()
}

/// A page without navigation, for answers given before (or instead of) a session.
pub fn bare_error(tr: &Tr, status: StatusCode, message: &str) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang=(tr.code) {
            (head(tr, tr.problem))
            body {
                main #main .narrow {
                    h1 { "tarcza" }
                    div.alert.error role="alert" { p { (message) } }
                    p { a href="/" { (tr.back_to_console) } }
                }
            }
        }
    };
    respond(status, markup)
}

/// The sign-in page.
pub fn login(
    lang: Lang,
    status: StatusCode,
    notice: Option<&str>,
    error: Option<&str>,
) -> Response {
    let tr = lang.tr();
    let other = lang.other();
    let markup = html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            (head(tr, tr.sign_in))
            body {
                main #main .narrow {
                    p.brand-big { "tarcza" }
                    p.tagline { (tr.tagline) }
                    h1 { (tr.sign_in) }
                    @if let Some(n) = notice { div.alert.info role="status" { p { (n) } } }
                    @if let Some(e) = error { div.alert.error role="alert" { p { (e) } } }
                    form.stack method="post" action="/login" {
                        div.field {
                            label for="key" { (tr.api_key) }
                            input #key type="password" name="key" required autocomplete="off" autofocus spellcheck="false";
                        }
                        button type="submit" { (tr.sign_in) }
                    }
                    p.hint { (tr.sign_in_hint) }
                    p { a.lang href={ "/lang/" (other.code()) "?back=/login" } lang=(other.code()) { (other.name()) } }
                }
            }
        }
    };
    respond(status, markup)
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
