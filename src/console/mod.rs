//! The web console (issue 12): server-rendered pages for agents and ops at `/`.
//!
//! The console is a client of the JSON API, in-process: each page builds a request to
//! the API router carrying the session's principal (`api.rs`) and renders the answer, so
//! roles, validation, audit and errors are exactly the API's. Sessions are in Postgres
//! (`ctx.rs` checks one at every request, `session.rs` signs in and out; the SQL is
//! `store/sessions.rs`). Every asset is inside the binary (`assets.rs`).
//!
//! The files import one way: `cookies`, `i18n` and `page` (pages without a session)
//! at the bottom, then `ctx` (who the request is), `form` and `layout` (the signed-in
//! page shell), then the pages and `session`.

mod api;
mod assets;
mod audit;
mod chart;
mod cookies;
mod ctx;
mod form;
mod i18n;
mod keys;
mod layout;
mod list;
mod lookup;
mod overview;
mod page;
mod registries;
mod session;
mod write;

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;

use crate::http::AppState;

/// What console handlers share: the application and the API router they call.
#[derive(Clone)]
pub struct Console {
    pub app: AppState,
    /// The JSON API with its own limits (request timeout, body limit), called in-process.
    pub api: Router,
}

/// The console's routes. `api` is the API router its pages call.
pub fn router(app: AppState, api: Router) -> Router {
    let console = Console { app, api };
    Router::new()
        .route("/", get(session::home))
        .route("/login", get(session::login_page).post(session::sign_in))
        .route("/logout", post(session::sign_out))
        .route("/lang/{lang}", get(session::set_language))
        .route("/lookup", get(lookup::page))
        .route("/block", get(write::block_page).post(write::block))
        .route(
            "/unblock/{id}",
            get(write::unblock_page).post(write::unblock),
        )
        .route("/dnc", get(list::page))
        .route("/dnc/export", get(list::export))
        .route("/registries", get(registries::page))
        .route("/registries/{name}/upload", post(registries::upload))
        .route("/registries/{name}/progress", get(registries::progress))
        .route("/audit", get(audit::page))
        .route("/keys", get(keys::page).post(keys::create))
        .route("/keys/{id}/revoke", post(keys::revoke))
        .route("/overview", get(overview::page))
        .merge(assets::router())
        .layer(middleware::from_fn_with_state(console.clone(), limits))
        .with_state(console)
}

/// Headers every console answer carries, and a time limit. Pages hold personal data, so
/// nothing is cached; scripts and styles come only from this server (no inline script,
/// so an injected one would not run); no other site may frame the console or receive the
/// address of a page. The time limit leaves the API's own (TARCZA_REQUEST_TIMEOUT) room
/// to answer first, so a write that ran out of time is reported as the API reports it;
/// an upload is limited by the pauses in its body instead (as in the API).
async fn limits(State(console): State<Console>, req: Request, next: Next) -> Response {
    let is_upload = req.uri().path().ends_with("/upload");
    let is_asset = req.uri().path().starts_with("/assets/");
    let limit = console.app.settings.request_timeout + Duration::from_secs(2);
    let lang = i18n::Lang::of(req.headers());
    let mut res = if is_upload {
        next.run(req).await
    } else {
        match tokio::time::timeout(limit, next.run(req)).await {
            Ok(res) => res,
            Err(_) => page::bare_error(
                lang.tr(),
                axum::http::StatusCode::GATEWAY_TIMEOUT,
                lang.tr().err_timeout,
            ),
        }
    };
    let headers = res.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; \
             object-src 'none'",
        ),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if !is_asset {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}
