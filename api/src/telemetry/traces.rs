//! OpenTelemetry traces, configured by the standard `OTEL_*` variables.
//!
//! Spans always get W3C trace and span ids — logs and exemplars carry them — but they are
//! exported over OTLP/HTTP (protobuf) only when `OTEL_EXPORTER_OTLP_ENDPOINT` or
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set (and `OTEL_SDK_DISABLED` is not `true`).

use opentelemetry::{
    Context,
    propagation::{Extractor, TextMapPropagator},
};
use opentelemetry_sdk::{
    Resource,
    propagation::TraceContextPropagator,
    trace::{Sampler, SdkTracerProvider},
};

use crate::config::ConfigError;

/// The tracer provider and whether it exports.
pub struct Traces {
    pub provider: SdkTracerProvider,
    pub exporting: bool,
}

/// Builds the provider from the process environment.
pub fn from_env() -> Result<Traces, ConfigError> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let sampler = sampler(
        var("OTEL_TRACES_SAMPLER").as_deref(),
        var("OTEL_TRACES_SAMPLER_ARG").as_deref(),
    )?;
    let disabled = var("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true"))
        || var("OTEL_TRACES_EXPORTER").is_some_and(|v| v == "none");
    let endpoint_set = var("OTEL_EXPORTER_OTLP_ENDPOINT").is_some()
        || var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").is_some();
    let mut resource = Resource::builder();
    if var("OTEL_SERVICE_NAME").is_none() {
        resource = resource.with_service_name("task-api");
    }
    let mut builder = SdkTracerProvider::builder()
        .with_sampler(sampler)
        .with_resource(resource.build());
    let exporting = endpoint_set && !disabled;
    if exporting {
        // The exporter reads the endpoint, headers, timeout and compression from OTEL_EXPORTER_OTLP_*.
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .build()
            .map_err(|e| {
                ConfigError::new(
                    "OTEL_EXPORTER_OTLP_ENDPOINT",
                    &var("OTEL_EXPORTER_OTLP_ENDPOINT").unwrap_or_default(),
                    e.to_string(),
                )
            })?;
        builder = builder.with_batch_exporter(exporter);
    }
    Ok(Traces {
        provider: builder.build(),
        exporting,
    })
}

/// The sampler named by `OTEL_TRACES_SAMPLER` (default `parentbased_always_on`).
fn sampler(name: Option<&str>, arg: Option<&str>) -> Result<Sampler, ConfigError> {
    let ratio = || -> Result<f64, ConfigError> {
        match arg {
            None => Ok(1.0),
            Some(text) => text
                .parse::<f64>()
                .ok()
                .filter(|r| (0.0..=1.0).contains(r))
                .ok_or_else(|| {
                    ConfigError::new(
                        "OTEL_TRACES_SAMPLER_ARG",
                        text,
                        "expected a ratio from 0 to 1",
                    )
                }),
        }
    };
    Ok(match name.unwrap_or("parentbased_always_on") {
        "always_on" => Sampler::AlwaysOn,
        "always_off" => Sampler::AlwaysOff,
        "traceidratio" => Sampler::TraceIdRatioBased(ratio()?),
        "parentbased_always_on" => Sampler::ParentBased(Box::new(Sampler::AlwaysOn)),
        "parentbased_always_off" => Sampler::ParentBased(Box::new(Sampler::AlwaysOff)),
        "parentbased_traceidratio" => {
            Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(ratio()?)))
        }
        other => {
            return Err(ConfigError::new(
                "OTEL_TRACES_SAMPLER",
                other,
                "expected always_on, always_off, traceidratio or parentbased_{always_on,always_off,traceidratio}",
            ));
        }
    })
}

struct HeaderExtractor<'a>(&'a axum::http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

/// The caller's trace context from `traceparent`/`tracestate`, so its trace continues here.
/// Without a `traceparent` header there is nothing to continue (and nothing to parse).
pub fn extract_parent(headers: &axum::http::HeaderMap) -> Context {
    // A static name: a `&str` key would be parsed and validated on every request.
    static TRACEPARENT: axum::http::HeaderName = axum::http::HeaderName::from_static("traceparent");
    if !headers.contains_key(&TRACEPARENT) {
        return Context::new();
    }
    TraceContextPropagator::new().extract(&HeaderExtractor(headers))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samplers_follow_the_environment_spec() {
        assert!(matches!(sampler(None, None), Ok(Sampler::ParentBased(_))));
        assert!(
            matches!(sampler(Some("traceidratio"), Some("0.25")), Ok(Sampler::TraceIdRatioBased(r)) if r == 0.25)
        );
        assert_eq!(
            sampler(Some("traceidratio"), Some("2"))
                .unwrap_err()
                .variable,
            "OTEL_TRACES_SAMPLER_ARG"
        );
        assert_eq!(
            sampler(Some("sometimes"), None).unwrap_err().variable,
            "OTEL_TRACES_SAMPLER"
        );
    }
}
