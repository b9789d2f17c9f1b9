//! Form input and the protection of state-changing requests: each must come from the
//! console's own origin (Origin, else Referer) and carry the session's CSRF token.

use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use serde::de::DeserializeOwned;

use super::ctx::Ctx;
use super::i18n::Lang;
use super::page;
use crate::config::Settings;

/// Largest form body (forms here hold a few short fields).
const MAX_FORM: usize = 64 << 10;

/// A URL-encoded form body deserialized into `T`; a bad one is a page saying so.
pub struct Form<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Form<T> {
    type Rejection = Response;

    async fn from_request(req: Request, _: &S) -> Result<Self, Response> {
        let tr = Lang::of(req.headers()).tr();
        let bad = || page::bare_error(tr, StatusCode::BAD_REQUEST, tr.err_form);
        let is_form = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if !is_form {
            return Err(bad());
        }
        let bytes = axum::body::to_bytes(req.into_body(), MAX_FORM)
            .await
            .map_err(|_| bad())?;
        serde_urlencoded::from_bytes(&bytes)
            .map(Form)
            .map_err(|_| bad())
    }
}

/// A form field's text, trimmed; `None` when it was left blank.
pub fn present(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// Whether a state-changing request comes from the console's own pages: its Origin (or,
/// without one, its Referer) must be `TARCZA_PUBLIC_URL`, or when that is unset, the host
/// the request was sent to. A request with neither header is refused (fail closed).
pub fn same_origin(headers: &HeaderMap, settings: &Settings) -> bool {
    let text = |name| headers.get(name).and_then(|v| v.to_str().ok());
    let origin = match text(header::ORIGIN).filter(|o| *o != "null") {
        Some(o) => o.to_ascii_lowercase(),
        None => match text(header::REFERER).and_then(origin_of) {
            Some(o) => o,
            None => return false,
        },
    };
    match &settings.public_origin {
        Some(expected) => origin == *expected,
        None => {
            let Some(host) = text(header::HOST) else {
                return false;
            };
            let authority = origin.split_once("://").map(|(_, a)| a);
            authority == Some(host.to_ascii_lowercase().as_str())
        }
    }
}

/// `scheme://authority` of an absolute URL, lower case.
fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    (!authority.is_empty()).then(|| format!("{scheme}://{authority}").to_ascii_lowercase())
}

/// The refusal of a state-changing request that does not come from the console's own
/// page (see [`same_origin`]) or lacks this session's CSRF token; `None` lets it through.
pub fn guard(ctx: &Ctx, headers: &HeaderMap, token: Option<&str>) -> Option<Response> {
    let tr = ctx.tr();
    if !same_origin(headers, &ctx.settings) {
        return Some(page::bare_error(
            tr,
            StatusCode::FORBIDDEN,
            tr.err_cross_site,
        ));
    }
    if !token.is_some_and(|t| ctx.csrf_matches(t)) {
        return Some(page::bare_error(tr, StatusCode::FORBIDDEN, tr.err_csrf));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn settings(public: Option<&str>) -> Settings {
        let mut s = Settings::from(&crate::config::Config::defaults());
        s.public_origin = public.map(str::to_string);
        s
    }

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(k.clone(), HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn a_form_must_come_from_the_host_it_was_sent_to() {
        let s = settings(None);
        let host = (header::HOST, "127.0.0.1:8080");
        assert!(same_origin(
            &headers(&[host.clone(), (header::ORIGIN, "http://127.0.0.1:8080")]),
            &s
        ));
        assert!(!same_origin(
            &headers(&[host.clone(), (header::ORIGIN, "http://evil.example")]),
            &s
        ));
        assert!(!same_origin(
            &headers(&[host.clone(), (header::ORIGIN, "http://127.0.0.1:8081")]),
            &s
        ));
        // Without Origin, the Referer's origin counts; with neither, refused.
        assert!(same_origin(
            &headers(&[
                host.clone(),
                (header::REFERER, "http://127.0.0.1:8080/block?x=1")
            ]),
            &s
        ));
        assert!(!same_origin(
            &headers(&[
                host.clone(),
                (header::REFERER, "http://127.0.0.1:8080.evil.example/")
            ]),
            &s
        ));
        assert!(!same_origin(&headers(std::slice::from_ref(&host)), &s));
        assert!(!same_origin(
            &headers(&[host, (header::ORIGIN, "null")]),
            &s
        ));
    }

    #[test]
    fn with_a_public_url_the_origin_must_be_exactly_it() {
        let s = settings(Some("https://dnc.example.com"));
        let ok = headers(&[
            (header::HOST, "10.0.0.5:8080"),
            (header::ORIGIN, "https://dnc.example.com"),
        ]);
        assert!(same_origin(&ok, &s));
        let http = headers(&[
            (header::HOST, "dnc.example.com"),
            (header::ORIGIN, "http://dnc.example.com"),
        ]);
        assert!(!same_origin(&http, &s));
    }
}
