//! The HTTP server's telemetry middleware: one server span per request (continuing the
//! caller's W3C trace), RED metrics with the trace as exemplar, the trace id in the response,
//! and one access-log line.

use std::{sync::Arc, time::Instant};

use axum::{
    extract::{MatchedPath, Request, State},
    http::{HeaderMap, HeaderName, HeaderValue, Method, header},
    middleware::Next,
    response::Response,
};
use http_body::Body as _;
use opentelemetry::trace::{SpanContext, TraceContextExt as _, TraceFlags, TraceState};
use opentelemetry_sdk::trace::{IdGenerator as _, RandomIdGenerator};
use tracing::{Instrument as _, field::Empty};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use super::{
    metrics::{HttpLabels, MethodLabels, Metrics, TraceExemplar, UNMATCHED_ROUTE},
    traces,
};
use crate::request_id::{self, TraceIds};

/// Every route template the router knows; anything else is [`UNMATCHED_ROUTE`].
const ROUTES: [&str; 3] = [
    "/api/v1/tasks",
    "/api/v1/tasks/{id}",
    "/api/v1/openapi.json",
];
pub static X_TRACE_ID: HeaderName = HeaderName::from_static("x-trace-id");
static TRACERESPONSE: HeaderName = HeaderName::from_static("traceresponse");
const MAX_LOGGED_PATH: usize = 200;

/// The `http.request.method` value: known methods as they are, others as `_OTHER`
/// (semantic conventions), so arbitrary methods cannot mint series.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::PUT => "PUT",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        Method::CONNECT => "CONNECT",
        _ => "_OTHER",
    }
}

fn route_label(matched: Option<&MatchedPath>) -> &'static str {
    matched
        .and_then(|m| ROUTES.iter().copied().find(|r| *r == m.as_str()))
        .unwrap_or(UNMATCHED_ROUTE)
}

/// The W3C context of this request's server span. When traces are exported the span is a
/// real OpenTelemetry span continuing the caller's trace. Otherwise no span exists (the
/// `span` is disabled and free) and the ids are made here the same way: the caller's trace
/// id when a valid `traceparent` came in, a new random one otherwise, and a new span id —
/// so logs, exemplars and response headers still correlate at almost no cost.
fn server_span_context(span: &tracing::Span, headers: &HeaderMap) -> SpanContext {
    let parent = traces::extract_parent(headers);
    if !span.is_disabled() {
        let _ = span.set_parent(parent);
        return span.context().span().span_context().clone();
    }
    let ids = RandomIdGenerator::default();
    let remote = parent.span().span_context().clone();
    let (trace_id, flags) = if remote.is_valid() {
        (remote.trace_id(), remote.trace_flags())
    } else {
        (ids.new_trace_id(), TraceFlags::SAMPLED)
    };
    SpanContext::new(
        trace_id,
        ids.new_span_id(),
        flags,
        false,
        TraceState::default(),
    )
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// Middleware around every public route.
pub async fn observe(
    State(metrics): State<Arc<Metrics>>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = method_label(request.method());
    let route = route_label(request.extensions().get::<MatchedPath>());
    let path: String = request.uri().path().chars().take(MAX_LOGGED_PATH).collect();
    let request_bytes = content_length(request.headers()).unwrap_or(0);
    let span = tracing::info_span!(
        target: "task_api::http",
        "HTTP request",
        otel.name = %format_args!("{method} {route}"),
        otel.kind = "server",
        otel.status_code = Empty,
        http.request.method = method,
        http.route = route,
        url.path = %path,
        url.scheme = "http",
        http.response.status_code = Empty,
        request_id = Empty,
    );
    let span_context = server_span_context(&span, request.headers());
    let (trace_id, span_id) = (
        span_context.trace_id().to_string(),
        span_context.span_id().to_string(),
    );
    if span_context.is_valid() {
        if let Some(id) = request_id::current() {
            span.record("request_id", id);
        }
        request_id::set_trace(TraceIds {
            trace_id: trace_id.clone(),
            span_id: span_id.clone(),
        });
    }

    let active = metrics
        .http_active
        .get_or_create(&MethodLabels {
            http_request_method: method,
        })
        .clone();
    active.inc();
    let mut response = next.run(request).instrument(span.clone()).await;
    active.dec();

    let elapsed = started.elapsed().as_secs_f64();
    let status = response.status().as_u16();
    let response_bytes = response
        .body()
        .size_hint()
        .exact()
        .or_else(|| content_length(response.headers()))
        .unwrap_or(0);
    // i64: tracing-opentelemetry exports unsigned fields as strings.
    span.record("http.response.status_code", i64::from(status));
    if status >= 500 {
        span.record("otel.status_code", "ERROR");
    }
    let labels = HttpLabels {
        http_request_method: method,
        http_route: route,
        http_response_status_code: status,
    };
    let exemplar = span_context.is_sampled().then(|| TraceExemplar {
        trace_id: trace_id.clone(),
        span_id: span_id.clone(),
    });
    metrics
        .http_duration
        .get_or_create(&labels)
        .observe(elapsed, exemplar, None);
    metrics
        .http_request_body_size
        .get_or_create(&labels)
        .observe(request_bytes as f64);
    metrics
        .http_response_body_size
        .get_or_create(&labels)
        .observe(response_bytes as f64);

    if span_context.is_valid() {
        let flags = if span_context.is_sampled() {
            "01"
        } else {
            "00"
        };
        if let Ok(value) = HeaderValue::from_str(&format!("00-{trace_id}-{span_id}-{flags}")) {
            response.headers_mut().insert(TRACERESPONSE.clone(), value);
        }
        if let Ok(value) = HeaderValue::from_str(&trace_id) {
            response.headers_mut().insert(X_TRACE_ID.clone(), value);
        }
    }
    span.in_scope(|| {
        tracing::event!(
            target: "task_api::access",
            tracing::Level::INFO,
            http.request.method = method,
            http.route = route,
            url.path = %path,
            http.response.status_code = status,
            duration_seconds = elapsed,
            http.request.body.size = request_bytes,
            http.response.body.size = response_bytes,
            "request completed"
        );
    });
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_methods_and_routes_collapse_to_fixed_labels() {
        assert_eq!(
            method_label(&Method::from_bytes(b"BREW").unwrap()),
            "_OTHER"
        );
        assert_eq!(method_label(&Method::PATCH), "PATCH");
        assert_eq!(route_label(None), UNMATCHED_ROUTE);
    }
}
