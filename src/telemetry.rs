//! Logging set-up: one subscriber, an EnvFilter with a sane default, text or JSON.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the global subscriber. `filter` uses EnvFilter syntax ("info",
/// "tarcza=debug,sqlx=warn"); sqlx statement logs stay at warn unless asked for.
pub fn init(filter: &str, format: LogFormat) -> anyhow::Result<()> {
    let filter = EnvFilter::try_new(format!("sqlx=warn,{filter}"))
        .map_err(|e| anyhow::anyhow!("TARCZA_LOG={filter:?} is not a valid log filter: {e}"))?;
    // Colour codes only on a terminal: log files and collectors get plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stdout().is_terminal())
        .with_target(true);
    let result = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    result.map_err(|e| anyhow::anyhow!("installing the log subscriber: {e}"))
}
