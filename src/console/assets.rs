//! The console's static files, inside the binary: no CDN, nothing fetched at run time.

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::Console;

/// htmx 2.0.11 (0BSD; assets/vendor/htmx.LICENSE), as published on npm.
pub const HTMX_PATH: &str = "/assets/htmx-2.0.11.min.js";
static HTMX: &[u8] = include_bytes!("../../assets/vendor/htmx-2.0.11.min.js");
pub const CSS_PATH: &str = "/assets/console.css";
static CSS: &[u8] = include_bytes!("../../assets/console.css");
pub const JS_PATH: &str = "/assets/console.js";
static JS: &[u8] = include_bytes!("../../assets/console.js");

pub fn router() -> Router<Console> {
    Router::new()
        .route(
            HTMX_PATH,
            get(|| async { file(HTMX, "text/javascript", true) }),
        )
        .route(
            CSS_PATH,
            get(|| async { file(CSS, "text/css; charset=utf-8", false) }),
        )
        .route(
            JS_PATH,
            get(|| async { file(JS, "text/javascript", false) }),
        )
}

fn file(bytes: &'static [u8], content_type: &'static str, versioned: bool) -> Response {
    let cache = if versioned {
        "public, max-age=31536000, immutable"
    } else {
        // Our own files change with the binary: always revalidated.
        "no-cache"
    };
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
        ],
        bytes,
    )
        .into_response()
}
