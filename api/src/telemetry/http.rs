//! The HTTP server's telemetry middleware: one server span per request (continuing the
//! caller's W3C trace), RED metrics with the trace as exemplar, the trace id in the response,
//! and one access-log line. It also gives the request its id (as [`RequestIdLayer`] does
//! when telemetry is off), so the ids of the logs are known before the handler runs and a
//! request passes one layer rather than two.
//!
//! [`RequestIdLayer`]: crate::request_id::RequestIdLayer
//!
//! It wraps the whole router rather than each route (`Router::layer`), because a per-route
//! layer re-boxes and clones the route's service on every request, which cost more than
//! the telemetry itself. The route template (`http.route`) is therefore matched here from
//! the path, against the router's templates ([`route_templates::ALL`]); a test checks the
//! match equals axum's `MatchedPath` for every template.

use std::{sync::Arc, time::Instant};

use std::{
    convert::Infallible,
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};

use axum::{
    extract::Request,
    http::{HeaderMap, HeaderName, HeaderValue, Method, Uri, header},
    response::Response,
};
use http_body::Body as _;
use opentelemetry::trace::{SpanId, TraceContextExt as _, TraceId};
use opentelemetry_sdk::trace::{IdGenerator as _, RandomIdGenerator};
use pin_project_lite::pin_project;
use tower::{Layer, Service};
use tracing::{Instrument as _, field::Empty, instrument::Instrumented};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use super::{
    http_series::Measurements,
    logging,
    metrics::{HttpLabels, Metrics, UNMATCHED_ROUTE},
    traces,
};
use crate::{
    request_id::{self, Correlation, Scoped, TraceIds},
    route_templates,
};

/// Every route template the router knows; anything else is [`UNMATCHED_ROUTE`].
const ROUTES: [&str; route_templates::ALL.len()] = route_templates::ALL;
/// How each of [`ROUTES`] matches a path, worked out at compile time: this runs per request.
const ROUTE_MATCHERS: [RouteMatcher; ROUTES.len()] = {
    let mut matchers = [RouteMatcher::EXACT_EMPTY; ROUTES.len()];
    let mut index = 0;
    while index < ROUTES.len() {
        matchers[index] = RouteMatcher::of(ROUTES[index]);
        index += 1;
    }
    matchers
};

/// A template as a matcher: the whole path, or a prefix and then one `{param}` segment
/// (the only kinds the router has; `of` refuses others at compile time).
#[derive(Clone, Copy)]
enum RouteMatcher {
    Exact(&'static str),
    PrefixAndSegment(&'static str),
}

impl RouteMatcher {
    const EXACT_EMPTY: RouteMatcher = RouteMatcher::Exact("");

    const fn of(template: &'static str) -> RouteMatcher {
        let bytes = template.as_bytes();
        let mut at = 0;
        while at < bytes.len() {
            if bytes[at] == b'{' {
                assert!(
                    bytes[bytes.len() - 1] == b'}',
                    "a route parameter must be the last segment"
                );
                let (prefix, _) = template.split_at(at);
                return RouteMatcher::PrefixAndSegment(prefix);
            }
            at += 1;
        }
        RouteMatcher::Exact(template)
    }

    /// `{id}` matches one non-empty segment, as in axum.
    fn matches(self, path: &str) -> bool {
        match self {
            RouteMatcher::Exact(template) => path == template,
            RouteMatcher::PrefixAndSegment(prefix) => {
                path.strip_prefix(prefix).is_some_and(|segment| {
                    !segment.is_empty() && !segment.bytes().any(|byte| byte == b'/')
                })
            }
        }
    }
}

pub static X_TRACE_ID: HeaderName = HeaderName::from_static("x-trace-id");
static TRACERESPONSE: HeaderName = HeaderName::from_static("traceresponse");
const MAX_LOGGED_PATH: usize = 200;

/// A label value out of a fixed set, with its position in the set (for [`series_key`]).
#[derive(Clone, Copy, Debug, PartialEq)]
struct BoundedLabel {
    index: u8,
    label: &'static str,
}

/// The `http.request.method` value: known methods as they are, others as `_OTHER`
/// (semantic conventions), so arbitrary methods cannot mint series.
fn method_label(method: &Method) -> BoundedLabel {
    let (index, label) = match *method {
        Method::GET => (0, "GET"),
        Method::POST => (1, "POST"),
        Method::PATCH => (2, "PATCH"),
        Method::DELETE => (3, "DELETE"),
        Method::PUT => (4, "PUT"),
        Method::HEAD => (5, "HEAD"),
        Method::OPTIONS => (6, "OPTIONS"),
        Method::TRACE => (7, "TRACE"),
        Method::CONNECT => (8, "CONNECT"),
        _ => (9, "_OTHER"),
    };
    BoundedLabel { index, label }
}

/// Identifies a method, route and status for the metrics' series cache.
fn series_key(method: BoundedLabel, route: BoundedLabel, status: u16) -> u32 {
    (u32::from(method.index) << 24) | (u32::from(route.index) << 16) | u32::from(status)
}

/// The `http.route` value of a request path: the router's template it matches, else
/// [`UNMATCHED_ROUTE`].
fn route_label(path: &str) -> BoundedLabel {
    let known = ROUTE_MATCHERS.iter().position(|route| route.matches(path));
    match known {
        Some(index) => BoundedLabel {
            index: index as u8,
            label: ROUTES[index],
        },
        None => BoundedLabel {
            index: ROUTES.len() as u8,
            label: UNMATCHED_ROUTE,
        },
    }
}

/// The W3C ids of this request's server span: `None` when it has none (a span the sampler
/// dropped outright). When traces are exported the span is a real OpenTelemetry span
/// continuing the caller's trace. Otherwise no span exists (the `span` is disabled and
/// free) and the ids are made here the same way: the caller's trace id when a valid
/// `traceparent` came in, a new random one otherwise, and a new span id — so logs,
/// exemplars and response headers still correlate at almost no cost.
fn server_trace(span: &tracing::Span, headers: &HeaderMap) -> Option<ServerTrace> {
    let parent = traces::extract_parent(headers);
    if !span.is_disabled() {
        return exported_trace(span, parent);
    }
    let ids = RandomIdGenerator::default();
    let parent = parent.span();
    let remote = parent.span_context();
    let (trace_id, sampled) = if remote.is_valid() {
        (remote.trace_id(), remote.is_sampled())
    } else {
        (ids.new_trace_id(), true)
    };
    Some(ServerTrace::new(trace_id, ids.new_span_id(), sampled))
}

/// The ids of an exported server span, continuing `parent`. Out of line: see
/// [`record_response`].
#[cold]
#[inline(never)]
fn exported_trace(span: &tracing::Span, parent: opentelemetry::Context) -> Option<ServerTrace> {
    let _ = span.set_parent(parent);
    let context = span.context().span().span_context().clone();
    context
        .is_valid()
        .then(|| ServerTrace::new(context.trace_id(), context.span_id(), context.is_sampled()))
}

/// The server span's ids, hex-encoded once for the logs, headers and exemplar.
#[derive(Clone, Copy)]
struct ServerTrace {
    ids: TraceIds,
    sampled: bool,
}

impl ServerTrace {
    fn new(trace_id: TraceId, span_id: SpanId, sampled: bool) -> ServerTrace {
        ServerTrace {
            ids: TraceIds::new(trace_id.to_bytes(), span_id.to_bytes()),
            sampled,
        }
    }
}

/// The request path as logged: at most [`MAX_LOGGED_PATH`] bytes (cut at a character
/// boundary), so a scanner's megabyte URL cannot bloat the log.
fn logged_path(uri: &Uri) -> &str {
    let path = uri.path();
    if path.len() <= MAX_LOGGED_PATH {
        return path;
    }
    let mut end = MAX_LOGGED_PATH;
    while !path.is_char_boundary(end) {
        end -= 1;
    }
    &path[..end]
}

/// `traceresponse: 00-{trace-id}-{span-id}-{flags}` (W3C Trace Context Level 2) and
/// `X-Trace-Id`, the second sharing the first's bytes (one allocation for both).
fn trace_headers(ids: &TraceIds, sampled: bool) -> (HeaderValue, HeaderValue) {
    let mut value = [0u8; 55];
    value[..3].copy_from_slice(b"00-");
    value[3..35].copy_from_slice(ids.trace_id().as_bytes());
    value[35] = b'-';
    value[36..52].copy_from_slice(ids.span_id().as_bytes());
    value[52..].copy_from_slice(if sampled { b"-01" } else { b"-00" });
    debug_assert!(value.iter().all(|&b| b.is_ascii_hexdigit() || b == b'-'));
    let value = axum::body::Bytes::copy_from_slice(&value);
    // SAFETY: hex digits and dashes only (see `TraceIds`), all visible ASCII, which is what
    // a header value requires; the checked constructor would test every byte per request.
    unsafe {
        let trace_id = HeaderValue::from_maybe_shared_unchecked(value.slice(3..35));
        (HeaderValue::from_maybe_shared_unchecked(value), trace_id)
    }
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// The telemetry layer around the public router. A hand-written service rather than
/// `middleware::from_fn`, whose future is boxed around a clone of the inner service.
#[derive(Clone)]
pub struct ObserveLayer {
    metrics: Arc<Metrics>,
}

impl ObserveLayer {
    pub fn new(metrics: Arc<Metrics>) -> ObserveLayer {
        ObserveLayer { metrics }
    }
}

impl<S> Layer<S> for ObserveLayer {
    type Service = Observe<S>;

    fn layer(&self, inner: S) -> Observe<S> {
        Observe {
            inner,
            metrics: self.metrics.clone(),
        }
    }
}

/// See [`ObserveLayer`].
#[derive(Clone)]
pub struct Observe<S> {
    inner: S,
    metrics: Arc<Metrics>,
}

impl<S> Service<Request> for Observe<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = ObserveFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        let started = Instant::now();
        let method = method_label(request.method());
        let route = route_label(request.uri().path());
        // A clone of the URI shares its bytes; the path is cut for the log line only.
        let uri = request.uri().clone();
        let request_bytes = content_length(request.headers()).unwrap_or(0);
        let span = server_span(method.label, route.label, &uri);
        let trace = server_trace(&span, request.headers());
        let (request_id, request_id_header) = request_id::resolve(&mut request);
        let correlation = Correlation::new(request_id, trace.map(|trace| trace.ids));
        let handled = self.inner.call(request).instrument(span.clone());
        ObserveFuture {
            handled: request_id::scoped(correlation.clone(), request_id_header, handled),
            exchange: Some(Exchange {
                started,
                method,
                route,
                uri,
                request_bytes,
                span,
                sampled: trace.is_some_and(|trace| trace.sampled),
                correlation,
            }),
            metrics: self.metrics.clone(),
            active: None,
        }
    }
}

fn server_span(method: &'static str, route: &'static str, uri: &Uri) -> tracing::Span {
    tracing::info_span!(
        target: "task_api::http",
        "HTTP request",
        otel.name = %format_args!("{method} {route}"),
        otel.kind = "server",
        otel.status_code = Empty,
        http.request.method = method,
        http.route = route,
        url.path = logged_path(uri),
        url.scheme = "http",
        http.response.status_code = Empty,
        request_id = Empty,
    )
}

pin_project! {
    /// The response future of [`Observe`]: the handler's, inside the server span and the
    /// request's correlation scope, with the telemetry of the exchange recorded before its
    /// first poll and when it completes. Written out rather than an `async` block so no
    /// allocation is needed per request.
    pub struct ObserveFuture<F> {
        #[pin]
        handled: Scoped<Instrumented<F>>,
        exchange: Option<Exchange>,
        metrics: Arc<Metrics>,
        // Counted in `http.server.active_requests` from the first poll until the response
        // or until the future is dropped (the client went away).
        active: Option<ActiveRequest>,
    }
}

impl<F> Future for ObserveFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if this.active.is_none()
            && let Some(exchange) = this.exchange.as_ref()
        {
            *this.active = Some(exchange.begin(this.metrics));
        }
        let Ok(response) = std::task::ready!(this.handled.poll(cx));
        this.active.take();
        let exchange = this
            .exchange
            .take()
            .expect("ObserveFuture polled after it completed");
        Poll::Ready(Ok(exchange.finish(this.metrics, response)))
    }
}

/// A request being served, counted in its method's active-requests gauge until dropped.
struct ActiveRequest(prometheus_client::metrics::gauge::Gauge);

impl Drop for ActiveRequest {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// One request on its way through the telemetry layer.
struct Exchange {
    started: Instant,
    method: BoundedLabel,
    route: BoundedLabel,
    uri: Uri,
    request_bytes: u64,
    span: tracing::Span,
    /// Whether the trace in `correlation` (if any) was sampled: only then is it an exemplar.
    sampled: bool,
    correlation: Arc<Correlation>,
}

impl Exchange {
    /// Before the handler runs: the request id on an exported span, the active-requests
    /// gauge.
    fn begin(&self, metrics: &Metrics) -> ActiveRequest {
        if !self.span.is_disabled() {
            record_request_id(&self.span, &self.correlation.request_id);
        }
        let gauge = metrics
            .http_active(usize::from(self.method.index), self.method.label)
            .clone();
        gauge.inc();
        ActiveRequest(gauge)
    }

    /// After it answered: the metrics, the response's trace headers, the access-log line.
    fn finish(self, metrics: &Metrics, mut response: Response) -> Response {
        let Exchange {
            started,
            method,
            route,
            uri,
            request_bytes,
            span,
            sampled,
            correlation,
        } = self;
        let elapsed = started.elapsed();
        let status = response.status().as_u16();
        let response_bytes = response
            .body()
            .size_hint()
            .exact()
            .or_else(|| content_length(response.headers()))
            .unwrap_or(0);
        if !span.is_disabled() {
            record_response(&span, status);
        }
        let labels = HttpLabels {
            http_request_method: method.label,
            http_route: route.label,
            http_response_status_code: status,
        };
        let measured = Measurements {
            duration_seconds: elapsed.as_secs_f64(),
            trace: correlation.trace().filter(|_| sampled).copied(),
            request_bytes,
            response_bytes,
        };
        metrics
            .http
            .observe(series_key(method, route, status), &labels, &measured);

        if let Some(ids) = correlation.trace() {
            let (traceresponse, trace_id) = trace_headers(ids, sampled);
            let headers = response.headers_mut();
            headers.insert(TRACERESPONSE.clone(), traceresponse);
            headers.insert(X_TRACE_ID.clone(), trace_id);
        }
        let line = logging::AccessLine {
            method: method.label,
            route: route.label,
            path: logged_path(&uri),
            status,
            duration: elapsed,
            request_bytes,
            response_bytes,
        };
        if !logging::write_access_line(&line, &correlation) {
            log_access_event(&span, &line, correlation);
        }
        response
    }
}

// The functions below are out of line and marked cold because the common request (JSON
// logs, no trace export) never calls them: inlined, their code sat in the middle of the
// hot path, and the request path's code already about fills the core's L2 (see
// docs/telemetry.md, "Cost").

/// The request id on the exported server span.
#[cold]
#[inline(never)]
fn record_request_id(span: &tracing::Span, request_id: &str) {
    span.record("request_id", request_id);
}

/// The response's status on the exported server span.
#[cold]
#[inline(never)]
fn record_response(span: &tracing::Span, status: u16) {
    // i64: tracing-opentelemetry exports unsigned fields as strings.
    span.record("http.response.status_code", i64::from(status));
    if status >= 500 {
        span.record("otel.status_code", "ERROR");
    }
}

/// The access line as a tracing event, for when it is not written directly (pretty
/// format; or the filter decides). In the request's correlation scope, which its future
/// has left by now.
#[cold]
#[inline(never)]
fn log_access_event(
    span: &tracing::Span,
    line: &logging::AccessLine<'_>,
    correlation: Arc<Correlation>,
) {
    request_id::in_scope(correlation, || {
        span.in_scope(|| {
            tracing::event!(
                target: logging::ACCESS_TARGET,
                tracing::Level::INFO,
                http.request.method = line.method,
                http.route = line.route,
                url.path = line.path,
                http.response.status_code = line.status,
                duration_seconds = line.duration.as_secs_f64(),
                http.request.body.size = line.request_bytes,
                http.response.body.size = line.response_bytes,
                "request completed"
            );
        })
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_methods_and_routes_collapse_to_fixed_labels() {
        assert_eq!(
            method_label(&Method::from_bytes(b"BREW").unwrap()).label,
            "_OTHER"
        );
        assert_eq!(method_label(&Method::PATCH).label, "PATCH");
        assert_eq!(route_label("/wp-login.php").label, UNMATCHED_ROUTE);
    }

    #[test]
    fn every_method_route_and_status_has_its_own_series_key() {
        let methods: Vec<BoundedLabel> =
            ["GET", "POST", "PATCH", "DELETE", "PUT", "HEAD", "OPTIONS"]
                .iter()
                .chain(["TRACE", "CONNECT", "BREW"].iter())
                .map(|m| method_label(&Method::from_bytes(m.as_bytes()).unwrap()))
                .collect();
        let mut routes: Vec<BoundedLabel> = ROUTES
            .iter()
            .map(|r| route_label(&r.replace("{id}", "0194f1d2")))
            .collect();
        routes.push(route_label("/nowhere"));
        assert!(
            methods
                .iter()
                .all(|m| usize::from(m.index) < super::super::metrics::METHOD_LABELS)
        );
        let mut seen = std::collections::HashMap::new();
        for method in &methods {
            for route in &routes {
                for status in [200, 201, 404, 503] {
                    let labels = (method.label, route.label, status);
                    let previous = seen.insert(series_key(*method, *route, status), labels);
                    assert!(
                        previous.is_none(),
                        "{labels:?} shares a key with {previous:?}"
                    );
                }
            }
        }
    }

    /// The route matched here must be the one axum routes to: a router with the same
    /// templates answers each path with its `MatchedPath`.
    #[tokio::test]
    async fn routes_match_as_axum_matches_them() {
        use axum::{extract::MatchedPath, routing::any};
        use tower::ServiceExt as _;
        let mut router = axum::Router::new();
        for template in ROUTES {
            router = router.route(
                template,
                any(|matched: MatchedPath| async move { matched.as_str().to_owned() }),
            );
        }
        let paths = [
            "/api/v1/tasks",
            "/api/v1/tasks/",
            "/api/v1/tasks/0194f1d2-7c5e-7a4b-9f7e-3b2a1c0d9e8f",
            "/api/v1/tasks/abc%2Fdef",
            "/api/v1/tasks/a/b",
            "/api/v1/tasksx",
            "/api/v1/openapi.json",
            "/api/v1/openapi.jsonx",
            "/api/v1",
            "/",
            "/metrics",
        ];
        for path in paths {
            let response = router
                .clone()
                .oneshot(Request::get(path).body(axum::body::Body::empty()).unwrap())
                .await
                .unwrap();
            let axum_route = if response.status().is_success() {
                let body = axum::body::to_bytes(response.into_body(), 1024)
                    .await
                    .unwrap();
                String::from_utf8(body.to_vec()).unwrap()
            } else {
                UNMATCHED_ROUTE.to_owned()
            };
            assert_eq!(route_label(path).label, axum_route, "{path}");
        }
    }

    /// A client that goes away drops the response future mid-request: the request must
    /// leave the active-requests gauge all the same.
    #[tokio::test]
    async fn an_abandoned_request_is_no_longer_active() {
        let metrics = Arc::new(Metrics::default());
        let never =
            tower::service_fn(|_: Request| std::future::pending::<Result<Response, Infallible>>());
        let mut service = ObserveLayer::new(metrics.clone()).layer(never);
        let request = Request::get("/api/v1/tasks")
            .body(axum::body::Body::empty())
            .unwrap();
        let mut pending = Box::pin(service.call(request));
        assert!(futures::poll!(pending.as_mut()).is_pending());
        let active = || metrics.http_active(0, "GET").get();
        assert_eq!(active(), 1);
        drop(pending);
        assert_eq!(active(), 0);
    }

    #[test]
    fn long_paths_are_cut_for_the_log_at_a_character_boundary() {
        let long: Uri = format!("/{}", "é".repeat(150)).parse().unwrap();
        let logged = logged_path(&long);
        assert!(logged.len() <= MAX_LOGGED_PATH && logged.len() >= MAX_LOGGED_PATH - 1);
        assert!(long.path().starts_with(logged));
        let short: Uri = "/api/v1/tasks?limit=5".parse().unwrap();
        assert_eq!(logged_path(&short), "/api/v1/tasks");
    }

    #[test]
    fn traceresponse_is_version_trace_span_flags() {
        let ids = TraceIds::new([0xab; 16], [0x01; 8]);
        let (sampled, trace_id) = trace_headers(&ids, true);
        assert_eq!(
            sampled,
            "00-abababababababababababababababab-0101010101010101-01"
        );
        assert_eq!(trace_id, "abababababababababababababababab");
        assert_eq!(
            trace_headers(&ids, false).0.to_str().unwrap(),
            "00-abababababababababababababababab-0101010101010101-00"
        );
    }
}
