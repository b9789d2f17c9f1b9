//! The console's cookies: the session's id and the chosen language.

use axum::http::{header, HeaderMap};

/// The session's id: 256 random bits, hex (see `ctx.rs`).
pub const SESSION: &str = "tarcza_session";
/// The language of the pages, `en` or `pl`.
pub const LANG: &str = "tarcza_lang";

/// The value of the cookie `name` the request carries.
pub fn get<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}
