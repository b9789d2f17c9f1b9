//! Cross-cutting request facts as extractors: the caller's key and role, and JSON,
//! query (see `query.rs`) and path input whose rejections speak our error format.

use std::marker::PhantomData;

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use serde::de::DeserializeOwned;

use super::AppState;
use crate::domain::{Binding, Refusal, Role, Scope, ScopeName};
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

/// A caller whose key is valid, whose role is at least `R` and which is not bound to a
/// client. Checked before the body is read, so a caller without the right gets 401/403,
/// never a body error. Every route takes this unless it was written for client-bound
/// keys ([`Scoped`]): a route that made no decision refuses them (`bound_key_forbidden`).
pub struct Authed<R>(pub Principal, PhantomData<R>);

/// A caller whose key is valid and whose role is at least `R`, bound to a client or not
/// (README "Client-bound keys"). A route that takes it keeps a bound caller in its
/// client through [`Scoped::check_scope`], [`Scoped::may_write`] and
/// [`Scoped::binding`] (what it may see).
pub struct Scoped<R>(pub Principal, PhantomData<R>);

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
pub type ScopedDialer = Scoped<DialerRole>;
pub type ScopedAgent = Scoped<AgentRole>;

/// The caller's principal, if its role is at least `R`.
fn authorize<R: MinRole>(parts: &Parts, state: &AppState) -> Result<Principal, ApiError> {
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
    Ok(principal)
}

impl<R: MinRole> FromRequestParts<AppState> for Authed<R> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let principal = authorize::<R>(parts, state)?;
        if principal.binding.is_some() {
            state.metrics.auth_failed(AuthFailure::Forbidden);
            return Err(ApiError::client(
                StatusCode::FORBIDDEN,
                "bound_key_forbidden",
                "this key is bound to a client; this call is not open to client-bound keys",
            ));
        }
        Ok(Authed(principal, PhantomData))
    }
}

impl<R: MinRole> FromRequestParts<AppState> for Scoped<R> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        authorize::<R>(parts, state).map(|p| Scoped(p, PhantomData))
    }
}

impl<R> Scoped<R> {
    /// The client the caller is bound to, if it is.
    pub fn binding(&self) -> Option<&Binding> {
        self.0.binding.as_deref()
    }

    /// The scope a check asked for `asked` is evaluated for: `asked` itself for an
    /// unbound caller, the caller's client for a bound one (or `403 scope_forbidden`).
    pub fn check_scope(&self, asked: Scope) -> Result<Scope, ApiError> {
        match self.binding() {
            None => Ok(asked),
            Some(b) => b.check_scope(&asked).map_err(scope_forbidden),
        }
    }

    /// `403 scope_forbidden` unless the caller may write in `scope`.
    pub fn may_write(&self, scope: &Scope) -> Result<(), ApiError> {
        match self.binding() {
            None => Ok(()),
            Some(b) => b.may_write(scope).map_err(scope_forbidden),
        }
    }

    /// Whether the caller may see data of `scope`.
    pub fn sees(&self, scope: &Scope) -> bool {
        self.binding().is_none_or(|b| b.sees(scope))
    }

    /// Whether the caller may see data of this client (a consent's).
    pub fn sees_client(&self, client: &str) -> bool {
        self.binding().is_none_or(|b| b.sees_client(client))
    }

    /// The client a list is kept to: the one asked for (`None`: every client) for an
    /// unbound caller; a bound caller's own (asking for another is `403`).
    pub fn client_filter(&self, asked: Option<ScopeName>) -> Result<Option<ScopeName>, ApiError> {
        match (self.binding(), asked) {
            (None, asked) => Ok(asked),
            (Some(b), Some(asked)) if asked != *b.client() => {
                Err(scope_forbidden(b.other_client()))
            }
            (Some(b), _) => Ok(Some(b.client().clone())),
        }
    }
}

/// A bound caller asked for what lies outside its client.
pub fn scope_forbidden(refusal: Refusal) -> ApiError {
    ApiError::client(StatusCode::FORBIDDEN, "scope_forbidden", refusal.0)
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
