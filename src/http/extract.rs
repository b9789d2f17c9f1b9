//! Cross-cutting request facts as extractors: the caller's key and role, and JSON,
//! query (see `query.rs`) and path input whose rejections speak our error format.

use std::marker::PhantomData;

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use serde::de::DeserializeOwned;

use super::AppState;
use crate::domain::Role;
use crate::error::ApiError;
use crate::index::Principal;
use crate::metrics::AuthFailure;
use crate::store::keys::hash_key;

pub use super::query::{ApiQuery, NoQuery};

/// The least role a route needs, as a type.
pub trait MinRole {
    const ROLE: Role;
}
pub struct DialerRole;
pub struct AgentRole;
pub struct OpsRole;
pub struct AdminRole;
impl MinRole for DialerRole {
    const ROLE: Role = Role::Dialer;
}
impl MinRole for AgentRole {
    const ROLE: Role = Role::Agent;
}
impl MinRole for OpsRole {
    const ROLE: Role = Role::Ops;
}
impl MinRole for AdminRole {
    const ROLE: Role = Role::Admin;
}

/// A caller whose key is valid and whose role is at least `R`. Checked before the body
/// is read, so a caller without the right gets 401/403, never a body error.
pub struct Authed<R>(pub Principal, PhantomData<R>);

/// The principal of a web console session, put on the request the console makes to this
/// API in-process (see `console/api.rs`) in place of an `Authorization` header. It is a
/// request extension, which no outside client can set; the console has checked that the
/// session's key is live in the snapshot. The role check below applies to it as to a key.
#[derive(Clone, Debug)]
pub struct SessionPrincipal(pub Principal);

pub type AsDialer = Authed<DialerRole>;
pub type AsAgent = Authed<AgentRole>;
pub type AsOps = Authed<OpsRole>;
pub type AsAdmin = Authed<AdminRole>;

impl<R: MinRole> FromRequestParts<AppState> for Authed<R> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let principal = match parts.extensions.get::<SessionPrincipal>() {
            Some(session) => session.0.clone(),
            None => key_principal(parts, state)?,
        };
        if !principal.role.allows(R::ROLE) {
            state.metrics.auth_failed(AuthFailure::Forbidden);
            return Err(ApiError::client(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!(
                    "this call needs the {} role; the key has the {} role",
                    R::ROLE,
                    principal.role
                ),
            ));
        }
        Ok(Authed(principal, PhantomData))
    }
}

/// The principal of the API key in the `Authorization` header.
fn key_principal(parts: &Parts, state: &AppState) -> Result<Principal, ApiError> {
    let unauthorized = |why: AuthFailure, m: &str| {
        state.metrics.auth_failed(why);
        ApiError::client(StatusCode::UNAUTHORIZED, "unauthorized", m)
    };
    let header = parts.headers.get(header::AUTHORIZATION).ok_or_else(|| {
        unauthorized(
            AuthFailure::Missing,
            "missing API key: send Authorization: Bearer <key>",
        )
    })?;
    let key = header
        .to_str()
        .ok()
        .and_then(|h| {
            h.strip_prefix("Bearer ")
                .or_else(|| h.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .ok_or_else(|| {
            unauthorized(
                AuthFailure::Malformed,
                "malformed Authorization header: expected Bearer <key>",
            )
        })?;
    let snapshot = state.index.current().ok_or_else(ApiError::not_ready)?;
    // The key is looked up by its SHA-256, so no comparison of secrets happens here.
    let principal = snapshot
        .principal(&hash_key(key))
        .ok_or_else(|| unauthorized(AuthFailure::Unknown, "unknown or revoked API key"))?;
    Ok(principal.clone())
}

/// `axum::Json` with our error body on rejection.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(rejection) => Err(json_error(rejection)),
        }
    }
}

fn json_error(rejection: JsonRejection) -> ApiError {
    let detail = rejection.body_text();
    match rejection {
        JsonRejection::JsonDataError(_) => ApiError::unprocessable("invalid_body", detail),
        JsonRejection::JsonSyntaxError(_) => ApiError::bad_request("invalid_json", detail),
        JsonRejection::MissingJsonContentType(_) => ApiError::client(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body as JSON with Content-Type: application/json",
        ),
        JsonRejection::BytesRejection(_) => ApiError::client(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("the body could not be read: {detail}"),
        ),
        _ => ApiError::bad_request("invalid_body", detail),
    }
}

/// `axum::extract::Path` with our error body on rejection.
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| ApiPath(p.0))
            .map_err(|e: PathRejection| {
                ApiError::not_found(format!("no such resource: {}", e.body_text()))
            })
    }
}

/// The raw bytes of a JSON body (content type checked), for handlers that deserialize
/// with borrowing (a 10 000-number batch without 10 000 string copies): see [`from_json`].
pub struct JsonBytes(pub axum::body::Bytes);

impl<S: Send + Sync> FromRequest<S> for JsonBytes {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(str::trim)
            .is_some_and(|ct| ct == "application/json" || ct.ends_with("+json"));
        if !is_json {
            return Err(ApiError::client(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as JSON with Content-Type: application/json",
            ));
        }
        axum::body::Bytes::from_request(req, state)
            .await
            .map(JsonBytes)
            .map_err(|e| {
                ApiError::client(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "body_too_large",
                    format!("the body could not be read: {}", e.body_text()),
                )
            })
    }
}

/// Deserializes a JSON body, with the same error codes as [`ApiJson`].
pub fn from_json<'a, T: serde::Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => {
            ApiError::unprocessable("invalid_body", format!("invalid request body: {e}"))
        }
        _ => ApiError::bad_request("invalid_json", format!("the body is not valid JSON: {e}")),
    })
}
