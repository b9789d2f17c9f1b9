//! The OpenAPI 3.1 document of the API, made from the handlers themselves, and the viewer
//! that shows it (`/docs`, served from the binary: no CDN).
//!
//! # Documenting a route
//!
//! Every route is registered through `utoipa_axum::routes!`, which takes the handler's
//! `#[utoipa::path(...)]`: a route cannot exist without its operation in the document.
//! In the attribute, give the method and path, a `tag` (the resource), the request body
//! and the query parameters (`params(TheQuery)`, a struct deriving `IntoParams`; path
//! parameters as tuples), and every response the handler itself gives, each with a
//! `description` and its body type (`ErrorBody` for errors). Say who may call it with
//! `extensions(("x-required-role" = json!("agent")))`, or `security(())` for a route
//! without a key. [`Conventions`] then adds what every operation shares: the bearer
//! security and the role in the description, `401`/`403`/`503` for keyed routes, and
//! `400` (query parameters are read strictly) and `408` (request timeout) everywhere.
//! Body and response types derive `ToSchema`; say in the schema (`pattern`,
//! `max_length`, `minimum`, a description) what the handler refuses.
//!
//! After a change, regenerate the committed document: `tarcza openapi > openapi.json`
//! (a test compares it with what is served, and CI fuzzes a live server against it).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use axum::extract::State;
use axum::http::header;
use axum::response::{Html, IntoResponse, Redirect};
use serde_json::Value;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{Content, OpenApi as Document, Ref, RefOr, Response, ResponseBuilder};
use utoipa::OpenApi;

use super::AppState;
use crate::error::ErrorBody;

/// The name of the bearer-key security scheme.
const BEARER: &str = "bearer";
/// The extension naming the least role an operation needs.
pub const REQUIRED_ROLE: &str = "x-required-role";
/// The extension saying what a client-bound key may do here (README "Client-bound
/// keys"): `own client` on routes written for them (declared with the role), `refused`
/// on every other keyed route (added by [`Conventions`], as the `Authed` extractor
/// refuses them).
pub const BOUND_KEYS: &str = "x-client-bound-keys";
/// [`BOUND_KEYS`] of a route that takes client-bound keys and keeps them to their client.
pub const OWN_CLIENT: &str = "own client";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "tarcza",
        description = "May this number be dialled? A do-not-call suppression service for \
            contact centres: the dialer asks `/v1/check` before every call and is answered from \
            memory, out of the company's own do-not-call list and national opt-out registries \
            (Lista Robinsonów and others).\n\nEvery call but the health, metrics and \
            documentation routes needs `Authorization: Bearer <key>`; roles nest (`dialer` < \
            `agent` < `ops` < `admin`), and each operation names the least role it needs \
            (also as `x-required-role`). Errors are `{\"error\": {\"code\", \"message\"}}`. \
            Query parameters are read strictly: an unknown or repeated one is `400`. Anything \
            but a `200` from `/v1/check` means: do not call."
    ),
    components(schemas(ErrorBody)),
    tags(
        (name = "check", description = "May these numbers be called? (dialer)"),
        (name = "dnc", description = "The company's own do-not-call list (agent; removal admin)"),
        (name = "registries", description = "National opt-out registries: state (dialer), imports (ops)"),
        (name = "consents", description = "Consents to be called, with their evidence (agent)"),
        (name = "policies", description = "Which clients and campaigns call only with a consent (admin)"),
        (name = "keys", description = "API keys (admin)"),
        (name = "audit", description = "The append-only audit log (admin)"),
        (name = "changes", description = "The change feed: what changed, in commit order (dialer)"),
        (name = "webhooks", description = "Signed deliveries of the change feed to a URL (admin)"),
        (name = "stats", description = "What this process's /v1/check answered lately (dialer)"),
        (name = "history", description = "What /v1/check would have answered at an instant (ops)"),
        (name = "receipts", description = "Signed decision receipts: keys (no key) and verification (dialer)"),
        (name = "health", description = "Liveness, readiness and metrics (no key)"),
        (name = "docs", description = "This document and its viewer (no key)"),
    )
)]
struct ApiDoc;

/// The document's start: title, description, tags, shared schemas.
pub(super) fn base() -> Document {
    ApiDoc::openapi()
}

/// What every operation shares, added from what each declares (see the module docs):
/// the bearer scheme, and per operation its security, the role in its description, and
/// the answers that any request may get.
pub(super) struct Conventions;

impl Conventions {
    /// Applies the conventions to `doc`. Panics on an operation that neither names a
    /// role nor says it needs no key (a route must say who may call it).
    pub(super) fn apply(doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API key: `Authorization: Bearer <key>`. Keys are made with \
                         `POST /v1/keys` or `tarcza keys create`; roles nest dialer < agent < \
                         ops < admin.",
                    ))
                    .build(),
            ),
        );
        for (path, item) in doc.paths.paths.iter_mut() {
            let operations = [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.delete,
                &mut item.patch,
            ];
            for op in operations.into_iter().flatten() {
                let role = op
                    .extensions
                    .as_ref()
                    .and_then(|e| e.get(REQUIRED_ROLE))
                    .and_then(Value::as_str)
                    .map(str::to_string);
                let responses = &mut op.responses.responses;
                match role {
                    Some(role) => {
                        op.security =
                            Some(vec![SecurityRequirement::new(BEARER, Vec::<String>::new())]);
                        let needs = format!(
                            "Needs a key with the `{role}` role or higher (roles nest: dialer < \
                             agent < ops < admin)."
                        );
                        op.description = Some(match op.description.take() {
                            Some(d) if !d.is_empty() => format!("{d}\n\n{needs}"),
                            _ => needs,
                        });
                        add(responses, "401", "No key, a malformed `Authorization` header, or an unknown or revoked key (`unauthorized`)");
                        let extensions = op.extensions.get_or_insert_with(Default::default);
                        let bound = extensions
                            .get(BOUND_KEYS)
                            .and_then(Value::as_str)
                            .map(str::to_string);
                        let (forbidden, bound_rule) = match bound.as_deref() {
                            Some(OWN_CLIENT) => (
                                format!(
                                    "The key's role is below `{role}` (`forbidden`), or a \
                                     client-bound key asked for what lies outside its client \
                                     (`scope_forbidden`)"
                                ),
                                "A client-bound key may call it, kept to its client (README \
                                 \"Client-bound keys\").",
                            ),
                            Some(other) => panic!("{path}: {BOUND_KEYS} {other:?} is not known"),
                            None => {
                                extensions.merge(
                                    utoipa::openapi::extensions::ExtensionsBuilder::new()
                                        .add(BOUND_KEYS, "refused")
                                        .build(),
                                );
                                (
                                    format!(
                                        "The key's role is below `{role}` (`forbidden`), or \
                                         the key is bound to a client (`bound_key_forbidden`)"
                                    ),
                                    "A client-bound key may not call it.",
                                )
                            }
                        };
                        if let Some(d) = op.description.as_mut() {
                            d.push(' ');
                            d.push_str(bound_rule);
                        }
                        add(responses, "403", &forbidden);
                        add(responses, "503", "The data is not loaded yet (`not_ready`), or the database is unavailable for a call that needs it (`database_unavailable`)");
                    }
                    None => {
                        let public =
                            op.security.as_deref() == Some(&[SecurityRequirement::default()]);
                        assert!(
                            public,
                            "{path}: say who may call it: extensions((\"{REQUIRED_ROLE}\" = \
                             json!(\"<role>\"))), or security(()) for a route without a key"
                        );
                    }
                }
                add(responses, "400", "An unknown or repeated query parameter (`unknown_parameter`, `duplicate_parameter`), or one that cannot be read (`invalid_query`)");
                add(responses, "408", "The request took longer than `TARCZA_REQUEST_TIMEOUT` (`request_timeout`: nothing was changed; `outcome_unknown`: a change was being written, look it up before repeating it)");
            }
        }
    }
}

/// Adds an error answer `status` with `description`, or, when the operation already
/// documents `status`, adds the description to its own.
fn add(responses: &mut BTreeMap<String, RefOr<Response>>, status: &str, description: &str) {
    match responses.get_mut(status) {
        Some(RefOr::T(existing)) => {
            let mut also = description.chars();
            let also: String = also
                .next()
                .map(|c| c.to_lowercase().chain(also).collect())
                .unwrap_or_default();
            existing.description = format!("{}; also {also}", existing.description);
        }
        Some(RefOr::Ref(_)) => {}
        None => {
            let body = Content::new(Some(Ref::from_schema_name("ErrorBody")));
            let response = ResponseBuilder::new()
                .description(description)
                .content("application/json", body)
                .build();
            responses.insert(status.to_string(), RefOr::T(response));
        }
    }
}

/// The document as JSON text, pretty and with every object's keys sorted, so that the
/// same code always gives the same bytes (the committed `openapi.json`).
pub fn to_json(doc: &Document) -> String {
    let value = serde_json::to_value(doc).expect("the OpenAPI document is JSON");
    let mut text = serde_json::to_string_pretty(&sorted(value)).expect("JSON serializes");
    text.push('\n');
    text
}

fn sorted(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let entries: BTreeMap<String, Value> =
                map.into_iter().map(|(k, v)| (k, sorted(v))).collect();
            Value::Object(entries.into_iter().collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

/// The served document: with or without `/metrics` (which has an address of its own
/// under TARCZA_METRICS_BIND). Built once.
pub(super) fn served(with_metrics: bool) -> &'static str {
    static DOCS: [OnceLock<String>; 2] = [OnceLock::new(), OnceLock::new()];
    DOCS[usize::from(with_metrics)].get_or_init(|| to_json(&super::document(with_metrics)))
}

/// The OpenAPI 3.1 document of this API.
#[utoipa::path(
    get,
    operation_id = "openapi",
    path = "/openapi.json",
    tag = "docs",
    security(()),
    responses((status = 200, description = "This document (OpenAPI 3.1)", content_type = "application/json", body = Object)),
)]
pub(super) async fn openapi_json(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        served(state.settings.metrics_with_api()),
    )
}

// The viewer: swagger-ui-dist 5.35.0 (Apache-2.0, vendor/swagger-ui/), two files and a
// page of our own. Its initializer is a file too, so a Content-Security-Policy without
// 'unsafe-inline' still works; validatorUrl is off, so nothing leaves this server.
static BUNDLE: &[u8] = include_bytes!("../../vendor/swagger-ui/swagger-ui-bundle.js");
static CSS: &[u8] = include_bytes!("../../vendor/swagger-ui/swagger-ui.css");
const INIT: &str = "window.ui = SwaggerUIBundle({url: \"/openapi.json\", dom_id: \
    \"#swagger-ui\", validatorUrl: null, deepLinking: true});\n";
const PAGE: &str = "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
    <title>tarcza API</title><link rel=\"icon\" href=\"data:,\">\
    <link rel=\"stylesheet\" href=\"/docs/swagger-ui.css\"></head>\
    <body><div id=\"swagger-ui\"></div><script src=\"/docs/swagger-ui-bundle.js\"></script>\
    <script src=\"/docs/init.js\"></script></body></html>\n";

/// An interactive viewer of this document, served from the binary (no CDN).
#[utoipa::path(
    get,
    operation_id = "docs",
    path = "/docs",
    tag = "docs",
    security(()),
    responses((status = 200, description = "The viewer's page (Swagger UI, served from the binary)", content_type = "text/html", body = String)),
)]
pub(super) async fn docs() -> Html<&'static str> {
    Html(PAGE)
}

/// `/docs/` (a trailing slash) is the viewer too.
pub(super) async fn docs_slash() -> Redirect {
    Redirect::permanent("/docs")
}

/// The viewer's files. Static parts of the viewer, not of the API: routed beside the
/// documented operations, not among them.
pub(super) async fn docs_file(
    axum::extract::Path(file): axum::extract::Path<String>,
) -> axum::response::Response {
    let (content_type, body): (&str, &'static [u8]) = match file.as_str() {
        "swagger-ui-bundle.js" => ("text/javascript; charset=utf-8", BUNDLE),
        "swagger-ui.css" => ("text/css; charset=utf-8", CSS),
        "init.js" => ("text/javascript; charset=utf-8", INIT.as_bytes()),
        _ => {
            return crate::error::ApiError::not_found("no such file of the viewer").into_response()
        }
    };
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        body,
    )
        .into_response()
}
