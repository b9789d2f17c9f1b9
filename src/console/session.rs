//! Signing in with an API key, the session behind the cookie, and signing out.
//!
//! The cookie `tarcza_session` holds 256 random bits (hex); Postgres holds their SHA-256
//! (`store::sessions`). Each request looks the session up (restarting its idle clock)
//! and then the session's key in the in-memory snapshot of live keys: a revoked key's
//! sessions end at once. The CSRF token of a session is derived from its id, so it is
//! unguessable without the cookie and needs no storage.

use std::sync::Arc;

use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::api::Api;
use super::form::{same_origin, Form};
use super::i18n::{Lang, Tr};
use super::layout;
use super::Console;
use crate::config::Settings;
use crate::domain::Role;
use crate::index::Principal;
use crate::store::is_unavailable;
use crate::store::keys::hash_key;
use crate::store::sessions::{self, Ended, Lookup};

const COOKIE: &str = "tarcza_session";
pub const LANG_COOKIE: &str = "tarcza_lang";

/// A signed-in request: who it is, in which language, and the session's CSRF token.
pub struct Ctx {
    pub principal: Principal,
    pub lang: Lang,
    pub csrf: String,
    pub settings: Arc<Settings>,
    id_hash: [u8; 32],
    /// The request came from htmx (a redirect must be an `HX-Redirect`).
    pub htmx: bool,
    /// The path and query of the page, for the language switch to come back to.
    pub path: String,
}

impl Ctx {
    pub fn tr(&self) -> &'static Tr {
        self.lang.tr()
    }

    /// Whether the session's key has `role` or a higher one.
    pub fn can(&self, role: Role) -> bool {
        self.principal.role.allows(role)
    }

    pub fn api<'a>(&'a self, console: &'a Console) -> Api<'a> {
        Api::new(console, &self.principal)
    }

    /// Compares in constant time.
    pub fn csrf_matches(&self, token: &str) -> bool {
        let (a, b) = (self.csrf.as_bytes(), token.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

pub fn lang_cookie(headers: &HeaderMap) -> Option<&str> {
    cookie(headers, LANG_COOKIE)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, chunk) in s.as_bytes().chunks(2).enumerate() {
        let pair = std::str::from_utf8(chunk).ok()?;
        out[i] = u8::from_str_radix(pair, 16).ok()?;
    }
    Some(out)
}

fn csrf_of(id: &[u8; 32]) -> String {
    let mut h = Sha256::new();
    h.update(b"tarcza console csrf\0");
    h.update(id);
    hex(&h.finalize())
}

/// A redirect that htmx follows with a full page load.
pub fn redirect(htmx: bool, to: &str) -> Response {
    let to = HeaderValue::from_str(to).unwrap_or(HeaderValue::from_static("/"));
    if htmx {
        let mut res = StatusCode::OK.into_response();
        res.headers_mut().insert("hx-redirect", to);
        res
    } else {
        let mut res = StatusCode::SEE_OTHER.into_response();
        res.headers_mut().insert(header::LOCATION, to);
        res
    }
}

/// To the sign-in page, saying why the session ended, with the cookie cleared.
fn ended(htmx: bool, why: Ended) -> Response {
    clear_cookie(redirect(htmx, &format!("/login?ended={}", why.as_str())))
}

fn clear_cookie(mut res: Response) -> Response {
    res.headers_mut().append(
        header::SET_COOKIE,
        HeaderValue::from_static("tarcza_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    res
}

impl FromRequestParts<Console> for Ctx {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, console: &Console) -> Result<Ctx, Response> {
        let lang = Lang::of(&parts.headers);
        let tr = lang.tr();
        let htmx = parts.headers.contains_key("hx-request");
        let Some(id) = cookie(&parts.headers, COOKIE).and_then(unhex) else {
            return Err(redirect(htmx, "/login"));
        };
        let id_hash: [u8; 32] = Sha256::digest(id).into();
        let settings = &console.app.settings;
        let session =
            match sessions::touch(&console.app.db, &id_hash, settings.console_idle_timeout).await {
                Ok(Lookup::Live(s)) => s,
                Ok(Lookup::Ended(why)) => return Err(ended(htmx, why)),
                Err(e) => {
                    if is_unavailable(&e) {
                        tracing::warn!(error = %e, "console: database unavailable for the session");
                    } else {
                        tracing::error!(error = %e, "console: reading the session failed");
                    }
                    return Err(layout::bare_error(
                        tr,
                        StatusCode::SERVICE_UNAVAILABLE,
                        tr.err_db_session,
                    ));
                }
            };
        let Some(snapshot) = console.app.index.current() else {
            return Err(layout::bare_error(
                tr,
                StatusCode::SERVICE_UNAVAILABLE,
                tr.err_not_ready,
            ));
        };
        let principal = session
            .key_hash
            .as_slice()
            .try_into()
            .ok()
            .and_then(|h: [u8; 32]| snapshot.principal(&h).cloned())
            .filter(|p| p.id == session.key_id);
        let Some(principal) = principal else {
            // The key was revoked (or given a new secret): the session ends now.
            if let Err(e) = sessions::end(&console.app.db, &id_hash, Ended::Revoked).await {
                tracing::warn!(error = %e, "console: ending a revoked key's session");
            }
            return Err(ended(htmx, Ended::Revoked));
        };
        let path = parts
            .uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_string();
        Ok(Ctx {
            principal,
            lang,
            csrf: csrf_of(&id),
            settings: settings.clone(),
            id_hash,
            htmx,
            path,
        })
    }
}

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
    layout::login(Lang::of(&headers), StatusCode::OK, notice, None)
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
        return layout::bare_error(tr, StatusCode::FORBIDDEN, tr.err_cross_site);
    }
    let key = form.key.trim();
    let Some(snapshot) = console.app.index.current() else {
        return layout::login(
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
        return layout::login(lang, StatusCode::UNAUTHORIZED, None, Some(tr.err_bad_key));
    };
    let mut id = [0u8; 32];
    if getrandom::fill(&mut id).is_err() {
        return layout::login(
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
        return layout::login(lang, StatusCode::SERVICE_UNAVAILABLE, None, Some(message));
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
        "{COOKIE}={}; Path=/; HttpOnly; SameSite=Strict{}",
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
        return layout::bare_error(tr, StatusCode::SERVICE_UNAVAILABLE, tr.err_db_session);
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
    let cookie = format!("{LANG_COOKIE}={lang}; Path=/; SameSite=Lax; Max-Age=31536000");
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}
