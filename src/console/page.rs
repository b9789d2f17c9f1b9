//! Whole pages without a session's shell: their head, an error page for answers given
//! before (or instead of) a session, and the sign-in page.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{html, Markup, DOCTYPE};

use super::assets::{CSS_PATH, HTMX_PATH, JS_PATH};
use super::i18n::{Lang, Tr};

/// htmx settings: answers of any status are swapped in (our error pages are pages),
/// no inline indicator style (the CSP allows none), and no copies of pages in the
/// browser's storage (they hold phone numbers).
const HTMX_CONFIG: &str = r#"{"includeIndicatorStyles":false,"historyCacheSize":0,"refreshOnHistoryMiss":true,"responseHandling":[{"code":"204","swap":false},{"code":"...","swap":true}]}"#;

pub fn head(tr: &Tr, title: &str) -> Markup {
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
