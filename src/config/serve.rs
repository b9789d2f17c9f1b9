//! The settings of the service, from flags and `TARCZA_*` variables, and the checks of
//! those that depend on each other.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, ValueEnum};

use super::parse::{
    parse_duration, parse_interval, parse_public_url, parse_region, parse_retention, parse_share,
};
use super::{registries, Cli, RegistryConfig};
use crate::domain::{Region, Retention};

#[derive(Args, Debug, Clone)]
pub struct Config {
    /// PostgreSQL URL. Unset: a private PostgreSQL is started in TARCZA_DATA_DIR.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, global = true)]
    pub database_url: Option<String>,

    /// PostgreSQL URL of the role that owns the schema, for migrations; DATABASE_URL is then
    /// the role the service runs as, which owns no table (README: "Database roles").
    #[arg(
        long,
        env = "TARCZA_MIGRATION_DATABASE_URL",
        hide_env_values = true,
        global = true
    )]
    pub migration_database_url: Option<String>,

    /// Address to listen on.
    #[arg(
        long,
        env = "TARCZA_BIND",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    pub bind: SocketAddr,

    /// Address to serve GET /metrics on instead of TARCZA_BIND (then it is not served on
    /// TARCZA_BIND). Unset: /metrics is served with the API, without a key.
    #[arg(long, env = "TARCZA_METRICS_BIND", global = true)]
    pub metrics_bind: Option<SocketAddr>,

    /// Count metrics and serve GET /metrics. `false`: nothing is counted and /metrics is
    /// not served (404), e.g. to measure what counting costs (bench/run does).
    #[arg(long, env = "TARCZA_METRICS", default_value_t = true, action = clap::ArgAction::Set,
          value_parser = clap::builder::BoolishValueParser::new(), global = true)]
    pub metrics: bool,

    /// Directory of the embedded PostgreSQL (used when DATABASE_URL is unset).
    #[arg(
        long,
        env = "TARCZA_DATA_DIR",
        default_value = "./tarcza-data",
        global = true
    )]
    pub data_dir: PathBuf,

    /// Region for numbers written without a country code (ISO 3166 code).
    #[arg(long, env = "TARCZA_DEFAULT_REGION", default_value = "PL", value_parser = parse_region, global = true)]
    pub default_region: Region,

    /// An admin key to create (or refresh) at start-up, so a new install can be driven.
    #[arg(
        long,
        env = "TARCZA_BOOTSTRAP_ADMIN_KEY",
        hide_env_values = true,
        global = true
    )]
    pub bootstrap_admin_key: Option<String>,

    /// Log filter (tracing EnvFilter syntax), e.g. "info" or "tarcza=debug,info".
    #[arg(long, env = "TARCZA_LOG", default_value = "info", global = true)]
    pub log: String,

    /// Log output format.
    #[arg(long, env = "TARCZA_LOG_FORMAT", default_value = "text", global = true)]
    pub log_format: LogFormat,

    /// Write phone numbers to logs unmasked (for debugging only; they are personal data).
    #[arg(
        long,
        env = "TARCZA_LOG_NUMBERS",
        default_value_t = false,
        global = true
    )]
    pub log_numbers: bool,

    /// Largest registry upload accepted, in bytes (compressed size as sent).
    #[arg(long, env = "TARCZA_MAX_UPLOAD_BYTES", default_value_t = 8 << 30, global = true)]
    pub max_upload_bytes: u64,

    /// Largest registry file once unzipped and gunzipped, in bytes; a compressed upload
    /// may also expand at most 1000 times (past its first 16 MiB).
    #[arg(long, env = "TARCZA_MAX_DECOMPRESSED_BYTES", default_value_t = 64 << 30, global = true)]
    pub max_decompressed_bytes: u64,

    /// Most lines a registry file may have (the header and blank lines count).
    #[arg(
        long,
        env = "TARCZA_MAX_IMPORT_LINES",
        default_value_t = 600_000_000,
        global = true
    )]
    pub max_import_lines: u64,

    /// How often each process re-reads the database version as a backstop to
    /// LISTEN/NOTIFY (e.g. "1s", "500ms"; more than zero).
    #[arg(long, env = "TARCZA_RECONCILE_INTERVAL", default_value = "1s", value_parser = parse_interval, global = true)]
    pub reconcile_interval: Duration,

    /// Longest time the snapshot may go without being confirmed current against a
    /// reachable database before /check and /readyz answer 503 stale_snapshot (longer
    /// than TARCZA_RECONCILE_INTERVAL).
    #[arg(long, env = "TARCZA_MAX_SNAPSHOT_LAG", default_value = "10s", value_parser = parse_interval, global = true)]
    pub max_snapshot_lag: Duration,

    /// Largest share of the current entries an import (snapshot or delta) may remove
    /// without force=true.
    #[arg(long, env = "TARCZA_MAX_SHRINK", default_value_t = 0.05, value_parser = parse_share, global = true)]
    pub max_shrink: f64,

    /// How long a request may take before it is answered 408; for registry uploads, the
    /// longest pause allowed between two pieces of the body.
    #[arg(long, env = "TARCZA_REQUEST_TIMEOUT", default_value = "30s", value_parser = parse_interval, global = true)]
    pub request_timeout: Duration,

    /// Time a client has to send the request line and headers before its connection is
    /// closed (slow-loris protection).
    #[arg(long, env = "TARCZA_HEADER_TIMEOUT", default_value = "10s", value_parser = parse_interval, global = true)]
    pub header_timeout: Duration,

    /// Largest share of rejected rows an import may have before it is refused.
    #[arg(long, env = "TARCZA_MAX_REJECT_RATE", default_value_t = 0.01, value_parser = parse_share, global = true)]
    pub max_reject_rate: f64,

    /// First delay between attempts to fetch a registry source over HTTP (it doubles).
    #[arg(long, env = "TARCZA_SYNC_RETRY_DELAY", default_value = "2s", value_parser = parse_duration, global = true)]
    pub sync_retry_delay: Duration,

    /// The URL people reach the web console at, e.g. https://dnc.example.com (scheme,
    /// host and port only). When set, the console's forms must come from that origin and,
    /// when it is https, its cookie is Secure. Unset: forms must come from the Host the
    /// request was sent to.
    #[arg(long, env = "TARCZA_PUBLIC_URL", value_parser = parse_public_url, global = true)]
    pub public_url: Option<String>,

    /// How long a console session may go unused before it ends (e.g. 30m, 8h).
    #[arg(long, env = "TARCZA_CONSOLE_IDLE_TIMEOUT", default_value = "30m", value_parser = parse_interval, global = true)]
    pub console_idle_timeout: Duration,

    /// How long the change feed (GET /v1/changes) is kept (at least 7d).
    #[arg(long, env = "TARCZA_CHANGES_RETENTION", default_value = "30d", value_parser = parse_interval, global = true)]
    pub changes_retention: Duration,

    /// Let webhooks reach loopback, private, link-local and other non-public addresses,
    /// and plain http URLs (for tests and receivers on a private network).
    #[arg(long, env = "TARCZA_WEBHOOK_ALLOW_PRIVATE", default_value_t = false, action = clap::ArgAction::Set,
          value_parser = clap::builder::BoolishValueParser::new(), global = true)]
    pub webhook_allow_private: bool,

    /// Longest time one webhook delivery may take, connecting included (then it failed).
    #[arg(long, env = "TARCZA_WEBHOOK_TIMEOUT", default_value = "10s", value_parser = parse_interval, global = true)]
    pub webhook_timeout: Duration,

    /// Longest time to connect to a webhook's receiver.
    #[arg(long, env = "TARCZA_WEBHOOK_CONNECT_TIMEOUT", default_value = "5s", value_parser = parse_interval, global = true)]
    pub webhook_connect_timeout: Duration,

    /// First wait before a failed webhook delivery is tried again; it doubles (with
    /// jitter) up to TARCZA_WEBHOOK_BACKOFF_MAX.
    #[arg(long, env = "TARCZA_WEBHOOK_BACKOFF", default_value = "1s", value_parser = parse_interval, global = true)]
    pub webhook_backoff: Duration,

    /// Longest wait between two attempts at a webhook delivery.
    #[arg(long, env = "TARCZA_WEBHOOK_BACKOFF_MAX", default_value = "1h", value_parser = parse_interval, global = true)]
    pub webhook_backoff_max: Duration,

    /// How long a webhook's deliveries may keep failing before the subscription is
    /// marked failing (it keeps retrying, every TARCZA_WEBHOOK_BACKOFF_MAX).
    #[arg(long, env = "TARCZA_WEBHOOK_RETRY_FOR", default_value = "24h", value_parser = parse_interval, global = true)]
    pub webhook_retry_for: Duration,

    /// How long history and the audit log keep personal data before the daily job erases
    /// it: years (`6y`) or a duration (`30d`); more than zero.
    #[arg(long, env = "TARCZA_EVIDENCE_RETENTION", default_value = "6y", value_parser = parse_retention, global = true)]
    pub evidence_retention: Retention,

    /// Sign every /check answer with a decision receipt (README "Decision receipts").
    #[arg(long, env = "TARCZA_RECEIPTS", default_value_t = true, action = clap::ArgAction::Set,
          value_parser = clap::builder::BoolishValueParser::new(), global = true)]
    pub receipts: bool,

    /// File holding the receipt signing key (Ed25519, PKCS#8 PEM, mode 0600, as
    /// `openssl genpkey -algorithm ed25519` makes). Unset: receipt-key.pem in
    /// TARCZA_DATA_DIR, made on first start.
    #[arg(long, env = "TARCZA_RECEIPT_KEY_FILE", global = true)]
    pub receipt_key_file: Option<PathBuf>,

    /// The receipt signing key itself (its PEM text), instead of a file.
    #[arg(
        long,
        env = "TARCZA_RECEIPT_KEY",
        hide_env_values = true,
        global = true
    )]
    pub receipt_key: Option<String>,

    /// Per-registry settings, from `TARCZA_REGISTRY_<NAME>_<SETTING>` variables (see
    /// README); filled by [`Config::load_registries`].
    #[arg(skip)]
    pub registries: Vec<RegistryConfig>,
}

/// The shortest retention of the change feed (the database's pruning refuses less too).
pub const MIN_CHANGES_RETENTION: Duration = Duration::from_secs(7 * 86_400);

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

impl Config {
    /// Defaults, as `tarcza` with an empty environment would have them.
    pub fn defaults() -> Config {
        Cli::parse_from(["tarcza"]).config
    }

    /// Checks the settings that depend on each other; the error names the variables.
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.max_snapshot_lag <= self.reconcile_interval {
            anyhow::bail!(
                "TARCZA_MAX_SNAPSHOT_LAG ({:?}) must be longer than TARCZA_RECONCILE_INTERVAL \
                 ({:?}): a healthy process confirms its snapshot once per interval",
                self.max_snapshot_lag,
                self.reconcile_interval
            );
        }
        if !self.metrics && self.metrics_bind.is_some() {
            anyhow::bail!(
                "TARCZA_METRICS_BIND is set but TARCZA_METRICS=false: no /metrics to serve there"
            );
        }
        if self.changes_retention < MIN_CHANGES_RETENTION {
            anyhow::bail!(
                "TARCZA_CHANGES_RETENTION ({:?}) must be at least 7d: a feed reader needs \
                 time to come back",
                self.changes_retention
            );
        }
        if self.webhook_backoff > self.webhook_backoff_max {
            anyhow::bail!(
                "TARCZA_WEBHOOK_BACKOFF ({:?}) must not be longer than TARCZA_WEBHOOK_BACKOFF_MAX ({:?})",
                self.webhook_backoff,
                self.webhook_backoff_max
            );
        }
        if self.webhook_retry_for >= self.changes_retention {
            anyhow::bail!(
                "TARCZA_WEBHOOK_RETRY_FOR ({:?}) must be shorter than TARCZA_CHANGES_RETENTION \
                 ({:?}): the changes a webhook retries are kept that long",
                self.webhook_retry_for,
                self.changes_retention
            );
        }
        Ok(())
    }

    /// Reads the per-registry variables from the environment; the error names the bad one.
    pub fn load_registries(&mut self) -> anyhow::Result<()> {
        self.registries = registries::from_vars(std::env::vars()).map_err(anyhow::Error::msg)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_snapshot_lag_must_exceed_the_reconcile_interval() {
        let mut c = Config::defaults();
        assert!(c.validate().is_ok());
        c.max_snapshot_lag = c.reconcile_interval;
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("TARCZA_MAX_SNAPSHOT_LAG"), "{e}");
    }

    #[test]
    fn the_change_feed_is_kept_at_least_a_week() {
        let mut c = Config::defaults();
        assert_eq!(c.changes_retention, Duration::from_secs(30 * 86_400));
        c.changes_retention = Duration::from_secs(86_400);
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("TARCZA_CHANGES_RETENTION"), "{e}");
    }

    #[test]
    fn metrics_are_on_unless_switched_off() {
        assert!(Config::defaults().metrics);
        let c = Cli::try_parse_from(["tarcza", "--metrics", "false"])
            .unwrap()
            .config;
        assert!(!c.metrics);
        assert!(Cli::try_parse_from(["tarcza", "--metrics", "maybe"]).is_err());
    }

    #[test]
    fn receipts_are_on_unless_switched_off() {
        assert!(Config::defaults().receipts);
        for off in ["false", "off", "no", "0"] {
            let c = Cli::try_parse_from(["tarcza", "--receipts", off])
                .unwrap()
                .config;
            assert!(!c.receipts, "{off}");
        }
        assert!(Cli::try_parse_from(["tarcza", "--receipts", "maybe"]).is_err());
    }

    #[test]
    fn defaults_match_the_documentation() {
        let c = Config::defaults();
        assert_eq!(c.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(c.default_region, Region::PL);
        assert_eq!(c.max_shrink, 0.05);
        assert_eq!(c.max_snapshot_lag, Duration::from_secs(10));
    }
}
