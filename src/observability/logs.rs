//! Logging: `tracing` with an `EnvFilter` (`RUST_LOG`), JSON or pretty.

use std::io::IsTerminal;

use tracing_subscriber::{EnvFilter, fmt, prelude::*};

use crate::config::LogFormat;

/// Installs the global subscriber; `pretty` on a terminal and JSON elsewhere unless
/// `format` says otherwise. Logs go to standard error. A second call installs
/// nothing. Answers the format chosen, so that nothing else writes plain text where
/// a log shipper expects JSON.
pub fn init(format: Option<LogFormat>) -> LogFormat {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn"));
    let format = format.unwrap_or(if std::io::stderr().is_terminal() { LogFormat::Pretty } else { LogFormat::Json });
    let registry = tracing_subscriber::registry().with(filter);
    let result = match format {
        LogFormat::Json => registry
            .with(fmt::layer().json().flatten_event(true).with_current_span(false).with_writer(std::io::stderr))
            .try_init(),
        LogFormat::Pretty => registry.with(fmt::layer().with_writer(std::io::stderr)).try_init(),
    };
    // Already installed (a test harness, a second Application): keep the first.
    drop(result);
    format
}
