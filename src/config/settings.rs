//! What the running service keeps of its configuration: the settings that requests,
//! imports and background jobs read, cheap to share.

use std::net::SocketAddr;
use std::time::Duration;

use super::{Config, RegistryConfig};
use crate::domain::{PhoneNumber, Region};

/// The settings the running service needs (request handlers, imports, jobs), fixed at
/// start-up.
#[derive(Clone, Debug)]
pub struct Settings {
    pub region: Region,
    pub log_numbers: bool,
    pub max_upload_bytes: u64,
    pub max_decompressed_bytes: u64,
    pub max_import_lines: u64,
    pub max_shrink: f64,
    pub max_reject_rate: f64,
    /// Registries with settings of their own (the others use the defaults).
    pub registries: Vec<RegistryConfig>,
    pub sync_retry_delay: Duration,
    /// How long a request may take (then 408); for uploads, the longest pause in the body.
    pub request_timeout: Duration,
    /// How long the snapshot may go unconfirmed before `/check` answers 503 stale_snapshot.
    pub max_snapshot_lag: Duration,
    /// Where `/metrics` is served instead of with the API (`None`: with the API).
    pub metrics_bind: Option<SocketAddr>,
    /// Whether metrics are counted and `/metrics` served (TARCZA_METRICS).
    pub metrics: bool,
    /// The console's origin (`TARCZA_PUBLIC_URL`), if set.
    pub public_origin: Option<String>,
    /// How long a console session may go unused.
    pub console_idle_timeout: Duration,
    /// How long the change feed is kept.
    pub changes_retention: Duration,
    /// Whether `/check` answers carry receipts.
    pub receipts: bool,
    /// How webhooks are delivered.
    pub webhooks: WebhookSettings,
}

/// How webhooks are delivered (`TARCZA_WEBHOOK_*`).
#[derive(Clone, Debug)]
pub struct WebhookSettings {
    pub allow_private: bool,
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub backoff: Duration,
    pub backoff_max: Duration,
    pub retry_for: Duration,
}

impl Settings {
    /// Masks a number for logs unless TARCZA_LOG_NUMBERS is on.
    pub fn loggable(&self, number: PhoneNumber) -> String {
        if self.log_numbers {
            number.e164()
        } else {
            number.masked()
        }
    }

    /// Whether `/metrics` is served with the API (metrics on, no address of its own).
    pub fn metrics_with_api(&self) -> bool {
        self.metrics && self.metrics_bind.is_none()
    }

    /// The registries whose block a valid consent of the call's client lifts.
    pub fn consent_exempt_registries(&self) -> Vec<String> {
        self.registries
            .iter()
            .filter(|r| r.consent_exempts)
            .map(|r| r.name.clone())
            .collect()
    }

    /// The settings of registry `name`: configured, or the defaults.
    pub fn registry(&self, name: &str) -> RegistryConfig {
        self.registries
            .iter()
            .find(|r| r.name == name)
            .cloned()
            .unwrap_or_else(|| RegistryConfig::unconfigured(name))
    }
}

impl From<&Config> for Settings {
    fn from(c: &Config) -> Self {
        Settings {
            region: c.default_region,
            log_numbers: c.log_numbers,
            max_upload_bytes: c.max_upload_bytes,
            max_decompressed_bytes: c.max_decompressed_bytes,
            max_import_lines: c.max_import_lines,
            max_shrink: c.max_shrink,
            max_reject_rate: c.max_reject_rate,
            registries: c.registries.clone(),
            sync_retry_delay: c.sync_retry_delay,
            request_timeout: c.request_timeout,
            max_snapshot_lag: c.max_snapshot_lag,
            metrics_bind: c.metrics_bind,
            metrics: c.metrics,
            public_origin: c.public_url.clone(),
            console_idle_timeout: c.console_idle_timeout,
            changes_retention: c.changes_retention,
            receipts: c.receipts,
            webhooks: WebhookSettings {
                allow_private: c.webhook_allow_private,
                timeout: c.webhook_timeout,
                connect_timeout: c.webhook_connect_timeout,
                backoff: c.webhook_backoff,
                backoff_max: c.webhook_backoff_max,
                retry_for: c.webhook_retry_for,
            },
        }
    }
}
