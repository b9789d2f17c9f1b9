//! A small client of the HTTP API: the base URL, the key, and what an answer means for
//! the exit status.

use std::time::Duration;

use reqwest::{Method, RequestBuilder, Response, StatusCode, Url};
use serde_json::Value;

use super::Exit;
use crate::config::ServerArgs;

pub struct Client {
    http: reqwest::Client,
    base: Url,
    key: String,
}

/// Why a request got no usable answer.
#[derive(Debug)]
pub enum Failure {
    /// The server answered with an error of the request (4xx): its code and message.
    Refused {
        status: StatusCode,
        code: String,
        message: String,
    },
    /// No answer, or one saying the server cannot answer now (5xx, 503, 408, 429).
    Unavailable(String),
}

impl Failure {
    pub fn exit(&self) -> Exit {
        match self {
            Failure::Refused { .. } => Exit::Refused,
            Failure::Unavailable(_) => Exit::Unavailable,
        }
    }

    /// Says what went wrong on standard error and gives the exit status.
    pub fn report(&self) -> Exit {
        match self {
            Failure::Refused {
                status,
                code,
                message,
            } => eprintln!(
                "tarcza: the server refused: {} {code}: {message}",
                status.as_u16()
            ),
            Failure::Unavailable(why) => eprintln!("tarcza: {why}"),
        }
        self.exit()
    }
}

impl Client {
    pub fn new(server: &ServerArgs) -> Result<Client, Failure> {
        let mut base = Url::parse(server.url.trim()).map_err(|e| {
            Failure::Unavailable(format!("--url {:?} is not a URL: {e}", server.url))
        })?;
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        let http = reqwest::Client::builder()
            .user_agent(concat!("tarcza-cli/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| Failure::Unavailable(format!("setting up the HTTP client: {e}")))?;
        Ok(Client {
            http,
            base,
            key: server.key.trim().to_string(),
        })
    }

    /// `path` (relative to the base URL, no leading slash) with `query`.
    pub fn url(&self, path: &str, query: &[(&str, String)]) -> Url {
        let mut url = self.base.join(path).unwrap_or_else(|_| self.base.clone());
        if !query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        url
    }

    pub fn request(&self, method: Method, url: Url) -> RequestBuilder {
        self.http.request(method, url).bearer_auth(&self.key)
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Result<Value, Failure> {
        let req = self
            .request(Method::POST, self.url(path, &[]))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string());
        answer(req.send().await).await
    }

    /// Where the server is, for messages.
    pub fn base(&self) -> &Url {
        &self.base
    }
}

/// The JSON body of a successful answer, or why there is none.
pub async fn answer(sent: reqwest::Result<Response>) -> Result<Value, Failure> {
    let response = sent.map_err(|e| Failure::Unavailable(transport(&e)))?;
    let status = response.status();
    let bytes = response
        .bytes()
        .await
        .map_err(|e| Failure::Unavailable(format!("reading the answer: {}", transport(&e))))?;
    let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    if status.is_success() {
        return Ok(body);
    }
    let code = body["error"]["code"].as_str().unwrap_or("").to_string();
    let message = body["error"]["message"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| String::from_utf8_lossy(&bytes).into_owned());
    let unavailable = status.is_server_error()
        || status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS;
    if unavailable {
        return Err(Failure::Unavailable(format!(
            "the server cannot answer: {} {code}: {message}",
            status.as_u16()
        )));
    }
    Err(Failure::Refused {
        status,
        code,
        message,
    })
}

/// A transport error with its causes, e.g. "error sending request: connection refused".
fn transport(e: &reqwest::Error) -> String {
    let mut out = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}
