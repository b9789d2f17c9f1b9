//! Who a console request is: the session behind its cookie, checked at every request.
//!
//! The cookie `tarcza_session` holds 256 random bits (hex); Postgres holds their SHA-256
//! (`store::sessions`). Each request looks the session up (restarting its idle clock)
//! and then the session's key in the in-memory snapshot of live keys: a revoked key's
//! sessions end at once. The CSRF token of a session is derived from its id, so it is
//! unguessable without the cookie and needs no storage.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use super::api::Api;
use super::i18n::{Lang, Tr};
use super::{cookies, page, Console};
use crate::config::Settings;
use crate::domain::hash::hex;
use crate::domain::Role;
use crate::index::Principal;
use crate::store::is_unavailable;
use crate::store::sessions::{self, Ended, Lookup};

/// A signed-in request: who it is, in which language, and the session's CSRF token.
pub struct Ctx {
    pub principal: Principal,
    pub lang: Lang,
    pub csrf: String,
    pub settings: Arc<Settings>,
    pub(super) id_hash: [u8; 32],
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
pub(super) fn ended(htmx: bool, why: Ended) -> Response {
    clear_cookie(redirect(htmx, &format!("/login?ended={}", why.as_str())))
}

pub(super) fn clear_cookie(mut res: Response) -> Response {
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
        let Some(id) = cookies::get(&parts.headers, cookies::SESSION).and_then(unhex) else {
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
                    return Err(page::bare_error(
                        tr,
                        StatusCode::SERVICE_UNAVAILABLE,
                        tr.err_db_session,
                    ));
                }
            };
        let Some(snapshot) = console.app.index.current() else {
            return Err(page::bare_error(
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
