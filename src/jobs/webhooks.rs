//! Webhook deliveries, done by one replica among many (the one holding the webhooks'
//! advisory lock, like the scheduler's). Each subscription is a cursor into the change
//! feed: its next change of the subscribed types is POSTed, signed, and the cursor moves
//! past it only once the receiver answered 2xx. So deliveries are in order per
//! subscription and at least once: a process killed after the receiver's 2xx and before
//! the cursor moved sends that change again (the receiver keeps `X-Tarcza-Event-Id`).
//! A failed attempt is tried again after an exponential backoff with jitter.
//!
//! Outbound requests have a connect and a total timeout, follow no redirect, use no
//! proxy, and (unless TARCZA_WEBHOOK_ALLOW_PRIVATE) connect only to public addresses:
//! every address a host name resolves to is checked when the connection is made, so a
//! DNS answer that changes after the subscription was made cannot reach inside.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use sqlx::PgPool;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::Context;
use crate::config::WebhookSettings;
use crate::domain::webhook::{is_private, private_message, sign};
use crate::domain::{WebhookState, WebhookUrl};
use crate::metrics::Metrics;
use crate::store::changes::{self, ChangeRow};
use crate::store::locks::{LockKey, SessionLock};
use crate::store::webhooks::{self, Attempt, Due};

/// Changes read at once for one subscription.
const BATCH: i64 = 100;
/// Most changes one subscription gets per pass (then the next pass goes on).
const PER_PASS: usize = 1000;
/// Longest sleep between passes when nothing wakes the deliverer.
const TICK: Duration = Duration::from_secs(1);
/// Least time between two passes.
const MIN_PASS: Duration = Duration::from_millis(20);
/// How often a replica that does not deliver asks whether it may.
const LEADER_POLL: Duration = Duration::from_secs(2);

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pass {
    pub delivered: u64,
    pub failed: u64,
}

/// Sends the changes of due subscriptions. Cheap to clone.
#[derive(Clone)]
pub struct Deliverer {
    db: PgPool,
    client: reqwest::Client,
    settings: WebhookSettings,
    metrics: Arc<Metrics>,
}

impl Deliverer {
    pub fn new(db: PgPool, settings: &WebhookSettings, metrics: Arc<Metrics>) -> Deliverer {
        let mut client = reqwest::Client::builder()
            .connect_timeout(settings.connect_timeout)
            .timeout(settings.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(concat!("tarcza-webhooks/", env!("CARGO_PKG_VERSION")));
        if !settings.allow_private {
            client = client.dns_resolver(Arc::new(PublicOnly));
        }
        Deliverer {
            db,
            client: client.build().expect("the webhook HTTP client"),
            settings: settings.clone(),
            metrics,
        }
    }

    /// One pass: every due subscription (at once, each in its own order) gets its next
    /// changes until one fails or none is left.
    pub async fn run_once(&self) -> Result<Pass, sqlx::Error> {
        let due = webhooks::due(&self.db).await?;
        let passes = futures_util::future::join_all(due.into_iter().map(|d| self.deliver(d))).await;
        let mut total = Pass::default();
        for pass in passes {
            let pass = pass?;
            total.delivered += pass.delivered;
            total.failed += pass.failed;
        }
        self.metrics
            .webhooks_failing(webhooks::failing(&self.db).await?);
        Ok(total)
    }

    async fn deliver(&self, due: Due) -> Result<Pass, sqlx::Error> {
        let hook = &due.webhook;
        let mut pass = Pass::default();
        let mut cursor = hook.delivered_through();
        let mut attempts = hook.attempts;
        let mut conn = self.db.acquire().await?;
        if cursor < changes::pruned_through(&mut conn).await? {
            tracing::warn!(
                webhook = hook.id,
                "webhook expired: the change feed's retention removed changes it had not delivered"
            );
            webhooks::expire(&self.db, hook.id, cursor).await?;
            return Ok(pass);
        }
        drop(conn);
        let mut sent = 0;
        while sent < PER_PASS {
            let mut conn = self.db.acquire().await?;
            // Every change up to `head` is committed, so none of them can appear later.
            let head = changes::head(&mut conn).await?;
            let rows = changes::after(&mut conn, cursor, BATCH, Some(&hook.events)).await?;
            drop(conn);
            if rows.is_empty() {
                if head > cursor {
                    webhooks::pass_over(&self.db, hook.id, cursor, head).await?;
                }
                return Ok(pass);
            }
            for row in &rows {
                let attempt = self.attempt(&due, row, attempts + 1).await;
                self.metrics.webhook_attempt(attempt.error.is_none());
                if attempt.error.is_none() {
                    pass.delivered += 1;
                    if !webhooks::delivered(&self.db, hook.id, cursor, &attempt).await? {
                        // Moved on by another deliverer, or deleted: leave it.
                        return Ok(pass);
                    }
                    cursor = row.cursor();
                    attempts = 0;
                    sent += 1;
                    continue;
                }
                pass.failed += 1;
                let next = Utc::now() + backoff(&self.settings, attempt.attempt);
                let state = webhooks::failed(
                    &self.db,
                    hook.id,
                    cursor,
                    &attempt,
                    next,
                    self.settings.retry_for,
                )
                .await?;
                tracing::info!(
                    webhook = hook.id,
                    event = %row.cursor(),
                    attempt = attempt.attempt,
                    error = attempt.error.as_deref().unwrap_or(""),
                    "webhook delivery failed; trying again later"
                );
                if state == Some(WebhookState::Failing) && hook.state == WebhookState::Active {
                    tracing::warn!(
                        webhook = hook.id,
                        "webhook failing: deliveries have failed for longer than \
                         TARCZA_WEBHOOK_RETRY_FOR (still retrying)"
                    );
                }
                return Ok(pass);
            }
        }
        Ok(pass)
    }

    /// Sends `row` to the subscription once.
    async fn attempt(&self, due: &Due, row: &ChangeRow, attempt: i32) -> Attempt {
        let started = Instant::now();
        let (status_code, error) = match self.send(due, row, attempt).await {
            Ok(status) if status.is_success() => (Some(status.as_u16()), None),
            Ok(status) if status.is_redirection() => (
                Some(status.as_u16()),
                Some(format!("answered {status}; redirects are not followed")),
            ),
            Ok(status) => (Some(status.as_u16()), Some(format!("answered {status}"))),
            Err(e) => (None, Some(e)),
        };
        Attempt {
            event: row.cursor(),
            attempt,
            status_code,
            error,
            duration_ms: i32::try_from(started.elapsed().as_millis()).unwrap_or(i32::MAX),
        }
    }

    async fn send(
        &self,
        due: &Due,
        row: &ChangeRow,
        attempt: i32,
    ) -> Result<reqwest::StatusCode, String> {
        // Checked again at every attempt: the setting may have changed since, and an IP
        // literal is never resolved (so the resolver below does not see it).
        let url = WebhookUrl::parse(&due.webhook.url, self.settings.allow_private)
            .map_err(|e| format!("refused: {e}"))?;
        let body = serde_json::to_vec(&row.view()).map_err(|e| e.to_string())?;
        let timestamp = Utc::now().timestamp();
        let signature = sign(&due.secret, timestamp, &body);
        let response = self
            .client
            .post(url.url().clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("X-Tarcza-Event-Id", row.cursor().to_string())
            .header("X-Tarcza-Event", row.action.as_str())
            .header("X-Tarcza-Webhook-Id", due.webhook.id.to_string())
            .header("X-Tarcza-Attempt", attempt.to_string())
            .header("X-Tarcza-Timestamp", timestamp.to_string())
            .header("X-Tarcza-Signature", signature)
            .body(body)
            .send()
            .await
            .map_err(|e| describe(&e, &self.settings))?;
        Ok(response.status())
    }
}

/// The wait after failed attempt `attempt` (1 for the first): the backoff doubled
/// `attempt - 1` times, at most the longest, of which a random half is taken off
/// (so that receivers coming back are not hit by every retry at once).
fn backoff(settings: &WebhookSettings, attempt: i32) -> Duration {
    let doublings = u32::try_from(attempt.saturating_sub(1))
        .unwrap_or(0)
        .min(30);
    let full = settings
        .backoff
        .saturating_mul(1 << doublings)
        .min(settings.backoff_max);
    let mut random = [0u8; 8];
    getrandom::fill(&mut random).expect("the operating system's random source failed");
    let share = u64::from_le_bytes(random) as f64 / u64::MAX as f64;
    full / 2 + full.mul_f64(share / 2.0)
}

/// A failed request in words: the timeout, or the error and its causes (the resolver's
/// refusal among them).
fn describe(e: &reqwest::Error, settings: &WebhookSettings) -> String {
    if e.is_timeout() {
        return format!(
            "no answer within TARCZA_WEBHOOK_TIMEOUT ({:?}) or TARCZA_WEBHOOK_CONNECT_TIMEOUT ({:?})",
            settings.timeout, settings.connect_timeout
        );
    }
    let mut text = String::from(if e.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    });
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Resolves host names with the system's resolver, and refuses a name if any address
/// it resolves to is not public. reqwest connects only to the addresses given here.
struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if let Some(bad) = addrs.iter().find(|a| is_private(a.ip())) {
                let refusal = format!(
                    "{host} resolves to {}: {}",
                    bad.ip(),
                    private_message(&host)
                );
                return Err(refusal.into());
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// Delivers webhooks until `shutdown`, while this replica holds the lead.
pub async fn run(ctx: Context, shutdown: CancellationToken) {
    let deliverer = Deliverer::new(ctx.db.clone(), &ctx.settings.webhooks, ctx.metrics.clone());
    let mut leadership: Option<SessionLock> = None;
    let mut versions = ctx.index.versions();
    loop {
        let leading = super::lead(
            &ctx.db,
            &mut leadership,
            LockKey::WEBHOOKS,
            "webhook deliveries",
        )
        .await;
        let mut wait = LEADER_POLL;
        if leading {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                pass = deliverer.run_once() => {
                    if let Err(e) = pass {
                        tracing::warn!(error = %e, "webhook deliveries failed; trying again");
                    }
                }
            }
            wait = match webhooks::next_due(&ctx.db).await {
                Ok(Some(at)) => (at - Utc::now()).to_std().unwrap_or_default().min(TICK),
                _ => TICK,
            };
        }
        if !super::pause(&shutdown, &mut versions, leading, wait, MIN_PASS).await {
            break;
        }
    }
    if let Some(l) = leadership {
        l.release().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_resolver_refuses_a_name_with_any_private_address() {
        use std::str::FromStr;
        let refused = PublicOnly
            .resolve(Name::from_str("localhost").unwrap())
            .await
            .err()
            .expect("localhost is refused");
        assert!(refused.to_string().contains("resolves to"), "{refused}");
        assert!(refused.to_string().contains("TARCZA_WEBHOOK_ALLOW_PRIVATE"));
    }

    #[test]
    fn backoff_doubles_with_jitter_up_to_the_longest() {
        let settings = WebhookSettings {
            allow_private: true,
            timeout: Duration::from_secs(1),
            connect_timeout: Duration::from_secs(1),
            backoff: Duration::from_secs(1),
            backoff_max: Duration::from_secs(3600),
            retry_for: Duration::from_secs(86_400),
        };
        for (attempt, full) in [(1, 1), (2, 2), (3, 4), (12, 2048), (13, 3600), (500, 3600)] {
            let full = Duration::from_secs(full);
            for _ in 0..20 {
                let wait = backoff(&settings, attempt);
                assert!(wait >= full / 2 && wait <= full, "{attempt}: {wait:?}");
            }
        }
        // 24 hours of retries take this many attempts at the defaults.
        let mut total = Duration::ZERO;
        let mut n = 0;
        while total < Duration::from_secs(86_400) {
            n += 1;
            total += Duration::from_secs(1)
                .saturating_mul(1 << (n - 1).min(30))
                .min(Duration::from_secs(3600));
        }
        assert!((30..40).contains(&n), "{n}");
    }
}
