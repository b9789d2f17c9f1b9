//! Scheduled re-sync: each registry with a configured source fetches it every interval
//! and imports it through the ordinary import pipeline. Among many replicas, only the
//! one holding the scheduler's advisory lock runs the schedule; the others pick up the
//! result through LISTEN/NOTIFY like any other change.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use reqwest::header::{ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED};
use reqwest::StatusCode;
use sha2::{Digest, Sha256};
use tokio::sync::oneshot;
use tokio::time::Instant;
use tokio_util::io::ReaderStream;
use tokio_util::sync::CancellationToken;

use super::Context;
use crate::config::registries::redact_url;
use crate::config::{RegistryConfig, Source};
use crate::domain::ImportStatus;
use crate::import::{self, ImportError, ImportRequest};
use crate::store::imports::{self, Import};
use crate::store::locks::SessionLock;
use crate::store::registries::{self, Registry};

/// How often a replica that does not run the schedule asks whether it may.
const LEADER_POLL: Duration = Duration::from_secs(10);
/// A failed sync is tried again after this long, or after the interval if shorter.
const RETRY_FAILED: Duration = Duration::from_secs(300);
const HTTP_ATTEMPTS: u32 = 3;

/// Most redirects followed (each within the source's scheme, host and port).
const MAX_REDIRECTS: usize = 5;

/// Why a sync could not be run or recorded. (A source that cannot be fetched is not an
/// error: the sync's import ends `failed`, and its record says why.)
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("registry {0:?} has no source configured (TARCZA_REGISTRY_<NAME>_SOURCE)")]
    NoSource(String),
    #[error("no registry named {0:?}")]
    UnknownRegistry(String),
    #[error(transparent)]
    Import(#[from] ImportError),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// A file's bytes as they are fetched.
type Body = std::pin::Pin<Box<dyn futures_util::Stream<Item = io::Result<bytes::Bytes>> + Send>>;

/// What fetching a source came to.
enum Fetched {
    /// Nothing new: 304 Not Modified, or a file whose checksum was imported before.
    Unchanged { checksum: Option<String> },
    /// New data to import.
    Data {
        body: Body,
        source_time: Option<DateTime<Utc>>,
        etag: Option<String>,
        last_modified: Option<String>,
    },
}

/// Syncs registry `name` from its source once, now, and returns the import recorded for
/// the run (`unchanged: true` when the source had nothing new, `failed` when it could not
/// be fetched: the current data keeps serving). `actor` is the key that asked for it
/// (`None` for the schedule).
pub async fn run_once(ctx: &Context, name: &str, actor: Option<i64>) -> Result<Import, SyncError> {
    run_once_reporting(ctx, name, actor, None).await
}

/// [`run_once`], telling `started` the import's record as soon as it exists (before the
/// source is fetched), so that a caller who cannot wait can say where to follow it.
pub async fn run_once_reporting(
    ctx: &Context,
    name: &str,
    actor: Option<i64>,
    started: Option<oneshot::Sender<Import>>,
) -> Result<Import, SyncError> {
    let config = ctx.settings.registry(name);
    let Some(source) = config.source.clone() else {
        return Err(SyncError::NoSource(name.to_string()));
    };
    let registry = registries::by_name(&ctx.db, name)
        .await?
        .ok_or_else(|| SyncError::UnknownRegistry(name.to_string()))?;
    let described = source.describe();
    let req = request(ctx, &config, registry.clone(), described.clone(), actor);
    let reading = import::reading(&req, ctx.settings.region);
    // The registry is locked from here on: nothing else changes its data meanwhile.
    let options = import::Options::of(&ctx.settings);
    let mut run = import::start(ctx.db.clone(), ctx.index.clone(), options, req).await?;
    if let Some(started) = started {
        let _ = started.send(run.import().clone());
    }
    // A 304 or an unchanged checksum speaks of the bytes only. It means "nothing to do"
    // only while the live data came from those bytes read the way these settings read
    // them; after a change of settings (encoding, format, mode…) the file is read again.
    // Not knowing (the database hiccuped) means reading the source again.
    let live = imports::live_file(&ctx.db, registry.id)
        .await
        .ok()
        .flatten();
    let same_file = live
        .filter(|l| l.reading.as_deref() == Some(reading.as_str()))
        .and_then(|l| l.checksum)
        .filter(|c| registry.sync_checksum.as_deref() == Some(c.as_str()));
    let fetched = match &source {
        Source::Http(url) => fetch_http(ctx, url, &registry, same_file.is_some()).await,
        Source::Path(path) => fetch_file(path, same_file.as_deref()).await,
    };
    match fetched {
        Err(e) => {
            tracing::warn!(registry = name, source = %described, error = %e, "sync: fetching the source failed; the current data keeps serving");
            Ok(run
                .end_without_data(None, Some(format!("fetching {described} failed: {e}")))
                .await?)
        }
        Ok(Fetched::Unchanged { checksum }) => {
            tracing::info!(registry = name, source = %described, "sync: source unchanged");
            Ok(run.end_without_data(checksum.or(same_file), None).await?)
        }
        Ok(Fetched::Data {
            body,
            source_time,
            etag,
            last_modified,
        }) => {
            run.set_source_time(source_time);
            let import = run.load(body).await?;
            if import.status == ImportStatus::Succeeded {
                registries::save_sync_state(
                    &ctx.db,
                    registry.id,
                    etag.as_deref(),
                    last_modified.as_deref(),
                    import.checksum.as_deref(),
                )
                .await?;
            }
            tracing::info!(registry = name, import_id = import.id, status = %import.status, unchanged = import.unchanged, "sync: import done");
            Ok(import)
        }
    }
}

fn request(
    ctx: &Context,
    config: &RegistryConfig,
    registry: Registry,
    source: String,
    actor: Option<i64>,
) -> ImportRequest {
    ImportRequest {
        registry,
        mode: config.mode,
        format: config.format,
        encoding: config.encoding,
        force: false,
        max_shrink: ctx.settings.max_shrink,
        max_reject_rate: ctx.settings.max_reject_rate,
        actor,
        expected_sha256: None,
        expected_rows: None,
        source: Some(source),
        source_time: None,
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
    ctx: &Context,
    url: &reqwest::Url,
    registry: &Registry,
    conditional: bool,
) -> Result<Fetched, String> {
    let mut delay = ctx.settings.sync_retry_delay;
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
        let checksum: String = hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Ok::<_, io::Error>((file, modified, checksum))
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
    Ok(Fetched::Data {
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

/// Runs the schedule until `shutdown`: every registry with a source is synced when this
/// replica becomes the scheduler, then every interval.
pub async fn schedule(ctx: Context, shutdown: CancellationToken) {
    let configured: Vec<RegistryConfig> = ctx
        .settings
        .registries
        .iter()
        .filter(|r| r.source.is_some())
        .cloned()
        .collect();
    if configured.is_empty() {
        return;
    }
    let mut leadership: Option<SessionLock> = None;
    let mut due: HashMap<String, Instant> = HashMap::new();
    loop {
        let held = match leadership.as_mut() {
            Some(l) => Some(l.held().await),
            None => None,
        };
        let leading = match held {
            Some(true) => true,
            Some(false) => {
                tracing::warn!(
                    "sync: lost the scheduler connection; another replica may take over"
                );
                leadership = None;
                false
            }
            None => match SessionLock::try_leadership(&ctx.db).await {
                Ok(Some(l)) => {
                    tracing::info!("sync: this replica runs the scheduled re-sync");
                    leadership = Some(l);
                    due.clear();
                    true
                }
                Ok(None) => false,
                Err(e) => {
                    tracing::warn!(error = %e, "sync: cannot reach the database");
                    false
                }
            },
        };
        let mut wait = LEADER_POLL;
        if leading {
            for r in &configured {
                let now = Instant::now();
                if due.get(&r.name).is_none_or(|t| *t <= now) {
                    // Shutdown does not wait for a long download: the import is dropped
                    // before its commit (nothing changes) and marked failed later.
                    let run = tokio::select! {
                        _ = shutdown.cancelled() => break,
                        run = run_once(&ctx, &r.name, None) => run,
                    };
                    let next = match run {
                        Ok(i) if i.status == ImportStatus::Succeeded => r.interval,
                        Ok(_) => r.interval.min(RETRY_FAILED),
                        Err(e) => {
                            tracing::warn!(registry = %r.name, error = %e, "sync: run failed");
                            r.interval.min(RETRY_FAILED)
                        }
                    };
                    due.insert(r.name.clone(), Instant::now() + next);
                }
                wait = wait.min(due[&r.name].saturating_duration_since(Instant::now()));
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(wait) => {}
        }
    }
    if let Some(l) = leadership {
        l.release().await;
    }
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
