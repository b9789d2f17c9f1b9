//! The console's client of the JSON API, in-process: a request to the API router (with
//! its timeout and body limit) carrying the session's principal as a request extension,
//! which `Authed` accepts in place of a key. Roles, validation, audit and errors are the
//! API's own; the console only renders the answers.

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::response::Response;
use serde_json::Value;
use tower::ServiceExt;

use super::Console;
use crate::http::extract::SessionPrincipal;
use crate::index::Principal;

/// An API answer that was not a success: its status and error body.
#[derive(Clone, Debug)]
pub struct Failure {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
}

impl Failure {
    fn from_body(status: StatusCode, body: &Value) -> Failure {
        Failure {
            status,
            code: body["error"]["code"]
                .as_str()
                .unwrap_or("internal_error")
                .to_string(),
            message: body["error"]["message"].as_str().unwrap_or("").to_string(),
        }
    }

    pub fn internal(message: impl Into<String>) -> Failure {
        Failure {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "internal_error".into(),
            message: message.into(),
        }
    }
}

pub struct Api<'a> {
    console: &'a Console,
    principal: &'a Principal,
}

/// Largest JSON answer the console reads (a page of 1000 audit events is far less).
const MAX_ANSWER: usize = 16 << 20;

impl<'a> Api<'a> {
    pub fn new(console: &'a Console, principal: &'a Principal) -> Api<'a> {
        Api { console, principal }
    }

    /// Sends a request to the API as the session's principal; the raw answer.
    pub async fn send(
        &self,
        method: Method,
        uri: &str,
        content_type: Option<&str>,
        body: Body,
    ) -> Response {
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(ct) = content_type {
            req = req.header(header::CONTENT_TYPE, ct);
        }
        let mut req = match req.body(body) {
            Ok(req) => req,
            Err(e) => {
                tracing::error!(error = %e, "console built an invalid API request");
                return Response::builder()
                    .status(StatusCode::INTERNAL_SERVER_ERROR)
                    .body(Body::empty())
                    .unwrap_or_default();
            }
        };
        req.extensions_mut()
            .insert(SessionPrincipal(self.principal.clone()));
        match self.console.api.clone().oneshot(req).await {
            Ok(res) => res,
            Err(never) => match never {},
        }
    }

    /// A JSON call: the status and body of a success, or the failure.
    pub async fn call(
        &self,
        method: Method,
        uri: &str,
        body: Option<&Value>,
    ) -> Result<(StatusCode, Value), Failure> {
        let res = match body {
            Some(b) => {
                self.send(
                    method,
                    uri,
                    Some("application/json"),
                    Body::from(b.to_string()),
                )
                .await
            }
            None => self.send(method, uri, None, Body::empty()).await,
        };
        read(res).await
    }

    pub async fn get(&self, uri: &str) -> Result<Value, Failure> {
        self.call(Method::GET, uri, None).await.map(|(_, v)| v)
    }
}

/// Reads an API answer as JSON.
pub async fn read(res: Response) -> Result<(StatusCode, Value), Failure> {
    let status = res.status();
    let bytes = axum::body::to_bytes(res.into_body(), MAX_ANSWER)
        .await
        .map_err(|e| Failure::internal(format!("reading the API's answer: {e}")))?;
    let body: Value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .map_err(|e| Failure::internal(format!("the API's answer is not JSON: {e}")))?
    };
    if status.is_success() {
        Ok((status, body))
    } else {
        Err(Failure::from_body(status, &body))
    }
}

/// A query string from the parameters that are set (empty text counts as unset).
pub fn query(params: &[(&str, Option<&str>)]) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (name, value) in params {
        if let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) {
            q.append_pair(name, v);
        }
    }
    q.finish()
}
