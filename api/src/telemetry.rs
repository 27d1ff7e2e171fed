//! Logging set-up: JSON lines on stdout (or human-readable), filtered like `RUST_LOG`.

use tracing_subscriber::{EnvFilter, fmt};

use crate::config::{LogFormat, LogSettings};

/// Installs the global subscriber; an invalid filter falls back to `info` with a warning.
pub fn init_logging(settings: &LogSettings) {
    let (filter, bad_filter) = match EnvFilter::try_new(&settings.filter) {
        Ok(filter) => (filter, None),
        Err(error) => (EnvFilter::new("info"), Some(error)),
    };
    let builder = fmt().with_env_filter(filter).with_writer(std::io::stdout);
    match settings.format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .init(),
        LogFormat::Pretty => builder.init(),
    }
    if let Some(error) = bad_filter {
        tracing::warn!(error = %error, "RUST_LOG is invalid; logging at info");
    }
}
