//! Telemetry: JSON logs with correlation ids, OpenTelemetry traces, Prometheus metrics.
//! docs/telemetry.md describes every signal for the on-call engineer.

pub mod exposition;
pub mod http;
pub mod logging;
pub mod metrics;
pub mod process;
pub mod traces;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::{
    EnvFilter, Layer as _, filter::Targets, layer::SubscriberExt as _, util::SubscriberInitExt as _,
};

use crate::config::{ConfigError, LogFormat, LogSettings};

/// The git revision this binary was built from (set by build.rs; `unknown` outside git).
pub const GIT_REVISION: &str = env!("WATCHPOST_GIT_REVISION");

/// Keeps the tracer provider alive; `shutdown` flushes spans still queued.
pub struct TelemetryGuard {
    provider: SdkTracerProvider,
}

impl TelemetryGuard {
    pub fn shutdown(self) {
        if let Err(error) = self.provider.shutdown() {
            tracing::warn!(error = %error, "flushing spans at shutdown failed");
        }
    }
}

/// Installs the global subscriber: logs filtered by `RUST_LOG`, and spans of this crate
/// to OpenTelemetry whatever the log level (a quiet log must not blind the traces).
pub fn init(settings: &LogSettings, enabled: bool) -> Result<TelemetryGuard, ConfigError> {
    let filter = EnvFilter::try_new(&settings.filter).map_err(|e| {
        ConfigError::new(
            "RUST_LOG",
            &settings.filter,
            format!("expected a log filter: {e}"),
        )
    })?;
    let traces = traces::from_env()?;
    let tracer = traces.provider.tracer("task-api");
    let span_filter = Targets::new()
        .with_target("task_api::http", tracing::Level::INFO)
        .with_target("task_api::db", tracing::Level::INFO);
    let otel = enabled.then(|| {
        tracing_opentelemetry::layer()
            .with_tracer(tracer)
            .with_filter(span_filter)
    });
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stdout);
    let fmt = match settings.format {
        LogFormat::Json => fmt.event_format(logging::JsonLines).boxed(),
        LogFormat::Pretty => fmt.boxed(),
    };
    tracing_subscriber::registry()
        .with(otel)
        .with(logging::CorrelationLayer)
        .with(fmt.with_filter(filter))
        .init();
    if traces.exporting {
        tracing::info!("exporting traces over OTLP/HTTP");
    }
    Ok(TelemetryGuard {
        provider: traces.provider,
    })
}
