//! Where a registry's file comes from: an `http(s)` URL fetched with a conditional GET
//! (retried, redirects only within the source's host, credentials never shown), or a
//! local file or directory (its newest file). A fetch yields the file's bytes as a
//! stream, or says the source has nothing new.

use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::{Stream, TryStreamExt};
use reqwest::header::{ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED};
use reqwest::StatusCode;
use sha2::{Digest, Sha256};
use tokio_util::io::ReaderStream;

use crate::config::registries::redact_url;
use crate::config::Source;
use crate::domain::hash;
use crate::store::registries::Registry;

const HTTP_ATTEMPTS: u32 = 3;

/// Most redirects followed (each within the source's scheme, host and port).
const MAX_REDIRECTS: usize = 5;

/// A file's bytes as they are fetched.
pub type Body = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>;

/// What fetching a source came to.
pub enum Fetched {
    /// Nothing new: 304 Not Modified, or a file whose checksum was imported before.
    Unchanged { checksum: Option<String> },
    /// New data to import.
    Data {
        body: Body,
        /// The file's size in bytes, when the source says it (Content-Length, the file's
        /// size).
        size: Option<u64>,
        source_time: Option<DateTime<Utc>>,
        etag: Option<String>,
        last_modified: Option<String>,
    },
}

/// Fetches `source` for `registry`. `same_file` is the checksum of the file behind the
/// live data when it was read the way the registry is read now: a source that still
/// serves that file (a 304, or the same checksum) has nothing new. HTTP attempts are
/// retried after `retry_delay`, doubling.
pub async fn fetch(
    source: &Source,
    registry: &Registry,
    same_file: Option<&str>,
    retry_delay: Duration,
) -> Result<Fetched, String> {
    match source {
        Source::Http(url) => fetch_http(url, registry, same_file.is_some(), retry_delay).await,
        Source::Path(path) => fetch_file(path, same_file).await,
    }
}

fn client() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .user_agent(concat!("tarcza/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            // Between reads: a stalled download fails, a long one does not.
            .read_timeout(Duration::from_secs(60))
            .redirect(reqwest::redirect::Policy::custom(|attempt| {
                let from = attempt.previous().first().cloned();
                match from {
                    _ if attempt.previous().len() > MAX_REDIRECTS => {
                        attempt.error(format!("more than {MAX_REDIRECTS} redirects"))
                    }
                    Some(from) if !redirect_allowed(&from, attempt.url()) => {
                        let to = redact_url(attempt.url());
                        attempt.error(format!(
                            "the source redirected to {to}; redirects are followed only \
                             within the source's own scheme, host and port"
                        ))
                    }
                    _ => attempt.follow(),
                }
            }))
            .build()
            .expect("the HTTP client's configuration is static")
    })
}

/// Whether a redirect from `from` to `to` is followed: only to the same scheme, host and
/// port. A registry host cannot send tarcza to an internal address, nor an `https`
/// source to plain `http`.
pub fn redirect_allowed(from: &reqwest::Url, to: &reqwest::Url) -> bool {
    from.scheme() == to.scheme()
        && from.host_str() == to.host_str()
        && from.port_or_known_default() == to.port_or_known_default()
}

/// A GET, conditional (`If-None-Match`/`If-Modified-Since`) when `conditional`, tried up
/// to [`HTTP_ATTEMPTS`] times with doubling delays when the server cannot be reached or
/// answers 5xx/429. Other answers are final. Errors never show the URL's credentials or
/// query.
async fn fetch_http(
    url: &reqwest::Url,
    registry: &Registry,
    conditional: bool,
    retry_delay: Duration,
) -> Result<Fetched, String> {
    let mut delay = retry_delay;
    let mut last_error = String::new();
    for attempt in 1..=HTTP_ATTEMPTS {
        let mut req = client().get(url.clone());
        if conditional {
            if let Some(etag) = &registry.sync_etag {
                req = req.header(IF_NONE_MATCH, etag);
            }
            if let Some(lm) = &registry.sync_last_modified {
                req = req.header(IF_MODIFIED_SINCE, lm);
            }
        }
        match req.send().await {
            Ok(resp) if resp.status() == StatusCode::NOT_MODIFIED && conditional => {
                return Ok(Fetched::Unchanged { checksum: None })
            }
            Ok(resp) if resp.status().is_success() => {
                let header = |name| {
                    resp.headers()
                        .get(name)
                        .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
                        .map(str::to_string)
                };
                let etag = header(ETAG);
                let last_modified = header(LAST_MODIFIED);
                let source_time = last_modified
                    .as_deref()
                    .and_then(|lm| DateTime::parse_from_rfc2822(lm).ok())
                    .map(|t| t.with_timezone(&Utc).min(Utc::now()));
                return Ok(Fetched::Data {
                    size: resp.content_length(),
                    body: Box::pin(resp.bytes_stream().map_err(io::Error::other)),
                    source_time,
                    etag,
                    last_modified,
                });
            }
            Ok(resp)
                if resp.status().is_server_error()
                    || resp.status() == StatusCode::TOO_MANY_REQUESTS =>
            {
                last_error = format!("the server answered {}", resp.status());
            }
            Ok(resp) => return Err(format!("the server answered {}", resp.status())),
            Err(e) => last_error = scrub(&error_chain(&e.without_url()), url),
        }
        if attempt < HTTP_ATTEMPTS {
            tracing::debug!(attempt, error = %last_error, "sync: fetch failed; retrying");
            tokio::time::sleep(delay).await;
            delay *= 2;
        }
    }
    Err(format!("{last_error} (after {HTTP_ATTEMPTS} attempts)"))
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// `text` with anything secret of `url` (its credentials, its query) taken out, should
/// an error have quoted it.
fn scrub(text: &str, url: &reqwest::Url) -> String {
    let mut out = text.replace(url.as_str(), &redact_url(url));
    let secrets = [url.query(), url.password(), Some(url.username())];
    for secret in secrets.into_iter().flatten().filter(|s| s.len() >= 3) {
        out = out.replace(secret, "…");
    }
    out
}

/// A local file, or the newest file in a directory. `Unchanged` when its checksum is
/// `unchanged_if` (that of the file behind the live data, read the same way).
async fn fetch_file(path: &Path, unchanged_if: Option<&str>) -> Result<Fetched, String> {
    let path = path.to_path_buf();
    let (file, modified, checksum) = tokio::task::spawn_blocking(move || {
        let (file, modified) = newest_file(&path)?;
        let mut hasher = Sha256::new();
        io::copy(&mut std::fs::File::open(&file)?, &mut hasher)?;
        Ok::<_, io::Error>((file, modified, hash::checksum(hasher)))
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| e.to_string())?;
    if unchanged_if == Some(checksum.as_str()) {
        return Ok(Fetched::Unchanged {
            checksum: Some(checksum),
        });
    }
    let opened = tokio::fs::File::open(&file)
        .await
        .map_err(|e| format!("{}: {e}", file.display()))?;
    let size = opened.metadata().await.ok().map(|m| m.len());
    Ok(Fetched::Data {
        size,
        body: Box::pin(ReaderStream::with_capacity(opened, 1 << 16)),
        source_time: Some(DateTime::<Utc>::from(modified).min(Utc::now())),
        etag: None,
        last_modified: None,
    })
}

/// `path` itself, or the most recently modified regular file in it (hidden files, such
/// as a download in progress named `.robinson.csv.part`, are skipped).
fn newest_file(path: &Path) -> io::Result<(PathBuf, SystemTime)> {
    let meta = std::fs::metadata(path)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    if !meta.is_dir() {
        return Ok((path.to_path_buf(), meta.modified()?));
    }
    let mut newest: Option<(SystemTime, PathBuf)> = None;
    for entry in std::fs::read_dir(path)? {
        let entry = entry?;
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let meta = entry.metadata()?;
        if !meta.is_file() {
            continue;
        }
        let candidate = (meta.modified()?, entry.path());
        if newest.as_ref().is_none_or(|n| candidate > *n) {
            newest = Some(candidate);
        }
    }
    newest.map(|(t, p)| (p, t)).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotFound,
            format!("{} holds no file", path.display()),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_stay_on_the_sources_scheme_host_and_port() {
        let url = |s: &str| reqwest::Url::parse(s).unwrap();
        let from = url("https://data.example.pl/robinson/latest.csv?token=t");
        assert!(redirect_allowed(
            &from,
            &url("https://data.example.pl/robinson/2026-11.csv")
        ));
        assert!(redirect_allowed(
            &from,
            &url("https://data.example.pl:443/x")
        ));
        assert!(!redirect_allowed(
            &from,
            &url("http://data.example.pl/robinson/latest.csv")
        ));
        assert!(!redirect_allowed(
            &from,
            &url("https://169.254.169.254/latest/meta-data")
        ));
        assert!(!redirect_allowed(
            &from,
            &url("https://data.example.pl:8443/x")
        ));
    }

    #[test]
    fn errors_lose_what_is_secret_in_the_url() {
        let url =
            reqwest::Url::parse("http://ops:pa55word@host.example/l.csv?token=s3cr3t").unwrap();
        let said = format!("error sending request for url ({url}): connection refused");
        let scrubbed = scrub(&said, &url);
        assert_eq!(
            scrubbed,
            "error sending request for url (http://host.example/l.csv): connection refused"
        );
        assert_eq!(scrub("pa55word and token=s3cr3t", &url), "… and …");
    }
}
