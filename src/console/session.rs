//! Signing in with an API key (which opens a session, see `ctx.rs`), signing out, and
//! the language switch.

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::ctx::{ended, redirect, Ctx};
use super::form::{same_origin, Form};
use super::i18n::Lang;
use super::{cookies, page, Console};
use crate::domain::hash::hex;
use crate::domain::Role;
use crate::store::is_unavailable;
use crate::store::keys::hash_key;
use crate::store::sessions::{self, Ended};

/// `/`: the sign-in page, or the first page the key's role may see.
pub async fn home(ctx: Result<Ctx, Response>) -> Response {
    match ctx {
        Err(_) => redirect(false, "/login"),
        Ok(ctx) => redirect(ctx.htmx, landing(ctx.principal.role)),
    }
}

pub fn landing(role: Role) -> &'static str {
    if role.allows(Role::Ops) {
        "/overview"
    } else {
        "/lookup"
    }
}

#[derive(Deserialize)]
pub struct LoginQuery {
    ended: Option<String>,
}

pub async fn login_page(headers: HeaderMap, Query(q): Query<LoginQuery>) -> Response {
    let tr = Lang::of(&headers).tr();
    let notice = match q.ended.as_deref() {
        Some("idle") => Some(tr.ended_idle),
        Some("revoked") => Some(tr.ended_revoked),
        Some("signed_out") => Some(tr.ended_signed_out),
        _ => None,
    };
    page::login(Lang::of(&headers), StatusCode::OK, notice, None)
}

#[derive(Deserialize)]
pub struct SignIn {
    key: String,
}

/// `POST /login`: an API key becomes a session. The form must come from the console's
/// own origin; there is no session yet to hold a CSRF token.
pub async fn sign_in(
    State(console): State<Console>,
    headers: HeaderMap,
    Form(form): Form<SignIn>,
) -> Response {
    let lang = Lang::of(&headers);
    let tr = lang.tr();
    let settings = &console.app.settings;
    if !same_origin(&headers, settings) {
        return page::bare_error(tr, StatusCode::FORBIDDEN, tr.err_cross_site);
    }
    let key = form.key.trim();
    let Some(snapshot) = console.app.index.current() else {
        return page::login(
            lang,
            StatusCode::SERVICE_UNAVAILABLE,
            None,
            Some(tr.err_not_ready),
        );
    };
    let key_hash = hash_key(key);
    let Some(principal) = snapshot
        .principal(&key_hash)
        .cloned()
        .filter(|_| !key.is_empty())
    else {
        return page::login(lang, StatusCode::UNAUTHORIZED, None, Some(tr.err_bad_key));
    };
    let mut id = [0u8; 32];
    if getrandom::fill(&mut id).is_err() {
        return page::login(
            lang,
            StatusCode::INTERNAL_SERVER_ERROR,
            None,
            Some(tr.err_internal),
        );
    }
    let id_hash: [u8; 32] = Sha256::digest(id).into();
    let opened = sessions::open(&console.app.db, &id_hash, principal.id, &key_hash).await;
    if let Err(e) = opened {
        tracing::warn!(error = %e, "console: opening a session failed");
        let message = if is_unavailable(&e) {
            tr.err_db_session
        } else {
            tr.err_internal
        };
        return page::login(lang, StatusCode::SERVICE_UNAVAILABLE, None, Some(message));
    }
    tracing::info!(key_id = principal.id, "console: signed in");
    let secure = settings
        .public_origin
        .as_deref()
        .is_some_and(|o| o.starts_with("https://"))
        || headers
            .get("x-forwarded-proto")
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"));
    let cookie = format!(
        "{}={}; Path=/; HttpOnly; SameSite=Strict{}",
        cookies::SESSION,
        hex(&id),
        if secure { "; Secure" } else { "" }
    );
    let mut res = redirect(headers.contains_key("hx-request"), landing(principal.role));
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

#[derive(Deserialize)]
pub struct SignOut {
    csrf: Option<String>,
}

/// `POST /logout`: ends the session here and in the database.
pub async fn sign_out(
    State(console): State<Console>,
    ctx: Ctx,
    headers: HeaderMap,
    Form(form): Form<SignOut>,
) -> Response {
    if let Some(refused) = super::form::guard(&ctx, &headers, form.csrf.as_deref()) {
        return refused;
    }
    if let Err(e) = sessions::close(&console.app.db, &ctx.id_hash, ctx.principal.id).await {
        tracing::warn!(error = %e, "console: signing out failed");
        let tr = ctx.tr();
        return page::bare_error(tr, StatusCode::SERVICE_UNAVAILABLE, tr.err_db_session);
    }
    ended(ctx.htmx, Ended::SignedOut)
}

#[derive(Deserialize)]
pub struct Back {
    back: Option<String>,
}

/// `GET /lang/{en|pl}?back=/path`: remembers the language in a cookie and goes back.
pub async fn set_language(Path(lang): Path<String>, Query(q): Query<Back>) -> Response {
    let lang = match lang.as_str() {
        "pl" => "pl",
        _ => "en",
    };
    // Only a path on this site (not `//host`, which a browser reads as another site).
    let back = q
        .back
        .filter(|b| b.starts_with('/') && !b.starts_with("//") && !b.contains('\\'))
        .unwrap_or_else(|| "/".into());
    let mut res = redirect(false, &back);
    let cookie = format!(
        "{}={lang}; Path=/; SameSite=Lax; Max-Age=31536000",
        cookies::LANG
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}
