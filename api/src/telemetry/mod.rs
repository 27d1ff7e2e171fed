//! Telemetry: JSON logs with correlation ids, OpenTelemetry traces, Prometheus metrics.
//! docs/telemetry.md describes every signal for the on-call engineer.

pub mod exposition;
pub mod http;
pub mod http_series;
pub mod log_file;
pub mod log_writer;
pub mod logging;
pub mod metrics;
pub mod process;
pub mod traces;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::{
    EnvFilter, Layer as _,
    filter::{FilterExt as _, Targets},
    layer::SubscriberExt as _,
    layer::{Context, Filter},
    registry::LookupSpan,
    util::SubscriberInitExt as _,
};

use crate::config::{ConfigError, LogFormat, LogSettings};
use log_writer::{LogWriter, LogWriterGuard};

/// The git revision this binary was built from (set by build.rs; `unknown` outside git).
pub const GIT_REVISION: &str = env!("WATCHPOST_GIT_REVISION");

/// Keeps the tracer provider and the log writer alive; `shutdown` flushes both.
pub struct TelemetryGuard {
    provider: SdkTracerProvider,
    log_writer: LogWriterGuard,
}

impl TelemetryGuard {
    pub fn shutdown(self) {
        if let Err(error) = self.provider.shutdown() {
            tracing::warn!(error = %error, "flushing spans at shutdown failed");
        }
        drop(self.log_writer);
    }
}

/// Installs the global subscriber.
///
/// Logs: events filtered by `RUST_LOG`, written to stdout (and LOG_FILE, [`log_file`]) in
/// batches by a background thread ([`log_writer`]), so a request never waits on a
/// `write(2)`; loggers wait rather than drop when its buffer is full — a log line is
/// evidence. Spans exist only when traces are exported: then this
/// crate's request and database spans go to OpenTelemetry whatever the log level (a quiet
/// log must not blind the traces). Without export no span is created at all; correlation
/// ids come from the request's task-local instead.
pub fn init(settings: &LogSettings, enabled: bool) -> Result<TelemetryGuard, ConfigError> {
    let filter = EnvFilter::try_new(&settings.filter).map_err(|e| {
        ConfigError::new(
            "RUST_LOG",
            &settings.filter,
            format!("expected a log filter: {e}"),
        )
    })?;
    let traces = traces::from_env()?;
    let file = match &settings.file {
        Some(file) => Some(log_file::RotatingFile::open(file.clone()).map_err(|e| {
            ConfigError::new(
                "LOG_FILE",
                &file.path.display().to_string(),
                format!("cannot open the file for appending: {e}"),
            )
        })?),
        None => None,
    };
    // Only fails when the process cannot start a thread at all: nothing could run then.
    let (writer, log_writer) =
        log_writer::spawn(std::io::stdout(), file).expect("cannot start the log writer thread");
    // Two stacks rather than an `Option` layer: an absent layer would still enable spans.
    if enabled && traces.exporting {
        let span_filter = Targets::new()
            .with_target("task_api::http", tracing::Level::INFO)
            .with_target("task_api::db", tracing::Level::INFO);
        let otel = tracing_opentelemetry::layer()
            .with_tracer(traces.provider.tracer("task-api"))
            .with_filter(span_filter);
        tracing_subscriber::registry()
            .with(otel)
            .with(log_layer(settings.format, writer.clone(), filter))
            .init();
    } else {
        tracing_subscriber::registry()
            .with(log_layer(settings.format, writer.clone(), filter))
            .init();
    }
    // The filter is fixed for the process, so whether access lines pass it is asked once
    // here rather than per request.
    if settings.format == LogFormat::Json
        && tracing::enabled!(target: logging::ACCESS_TARGET, tracing::Level::INFO)
    {
        logging::write_access_lines_to(writer);
    }
    if traces.exporting {
        tracing::info!("exporting traces over OTLP/HTTP");
    }
    Ok(TelemetryGuard {
        provider: traces.provider,
        log_writer,
    })
}

/// The log layer: events only — it has no use for spans, and enabling them would build one
/// per request even when nothing exports it.
fn log_layer<S>(
    format: LogFormat,
    writer: LogWriter,
    filter: EnvFilter,
) -> Box<dyn tracing_subscriber::Layer<S> + Send + Sync>
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    let fmt = tracing_subscriber::fmt::layer().with_writer(writer);
    let events = filter.and(EventsOnly);
    match format {
        LogFormat::Json => fmt
            .event_format(logging::JsonLines)
            .with_filter(events)
            .boxed(),
        LogFormat::Pretty => fmt.with_filter(events).boxed(),
    }
}

/// Lets events (and `enabled!` hints) through and no span. Unlike a `filter_fn`, it says
/// so per call site, once: a span macro then finds its call site disabled and returns at
/// once, instead of asking every layer's filter on each request.
struct EventsOnly;

impl<S> Filter<S> for EventsOnly {
    fn enabled(&self, metadata: &tracing::Metadata<'_>, _: &Context<'_, S>) -> bool {
        !metadata.is_span()
    }

    fn callsite_enabled(
        &self,
        metadata: &'static tracing::Metadata<'static>,
    ) -> tracing::subscriber::Interest {
        // Not `is_event`: `tracing::enabled!` asks with a hint call site, neither kind.
        if !metadata.is_span() {
            tracing::subscriber::Interest::always()
        } else {
            tracing::subscriber::Interest::never()
        }
    }
}
