//! The correlation ids of a request: the request id — taken from `X-Request-Id` when the
//! caller's value is sane, generated otherwise, returned on every response — and, with
//! telemetry on, the W3C trace and span ids. Anything running on the request's task
//! (problem bodies, every log line) reads them through a task-local, so log correlation
//! needs no tracing spans and costs a pointer read.
//!
//! [`RequestIdLayer`] gives each request its id when telemetry is off; with telemetry on,
//! the telemetry layer does the same through [`resolve`] and [`Scoped`], so that a request
//! passes one hand-written layer either way.

use std::{
    convert::Infallible,
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use axum::{
    extract::Request,
    http::{HeaderName, HeaderValue},
    response::Response,
};
use pin_project_lite::pin_project;
use tokio::task::futures::TaskLocalFuture;
use tower::{Layer, Service};
use uuid::Uuid;

pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// Longer caller ids are replaced: they would bloat every log line of the request.
pub const MAX_LEN: usize = 128;

/// The correlation ids of the request being served.
#[derive(Debug)]
pub struct Correlation {
    pub request_id: String,
    trace: Option<TraceIds>,
}

/// W3C trace and span ids as lowercase hex, held inline: they are copied into log lines,
/// exemplars and response headers of every request, without allocating.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceIds {
    trace_id: [u8; 32],
    span_id: [u8; 16],
}

impl TraceIds {
    pub fn new(trace_id: [u8; 16], span_id: [u8; 8]) -> TraceIds {
        let trace_id = u128::from_be_bytes(trace_id);
        let mut ids = TraceIds {
            trace_id: [0; 32],
            span_id: hex_u64(u64::from_be_bytes(span_id)),
        };
        ids.trace_id[..16].copy_from_slice(&hex_u64((trace_id >> 64) as u64));
        ids.trace_id[16..].copy_from_slice(&hex_u64(trace_id as u64));
        ids
    }

    pub fn trace_id(&self) -> &str {
        hex_str(&self.trace_id)
    }

    pub fn span_id(&self) -> &str {
        hex_str(&self.span_id)
    }
}

/// The ids as text without validating them again: every request reads them for its
/// response headers and log lines, and the checked conversion showed up in the telemetry
/// layer's instruction profile.
fn hex_str(digits: &[u8]) -> &str {
    debug_assert!(digits.iter().all(u8::is_ascii_hexdigit));
    // SAFETY: the fields are private and only `hex_u64` writes them, with ASCII hex
    // digits, which are valid UTF-8.
    unsafe { std::str::from_utf8_unchecked(digits) }
}

/// `value` as 16 lowercase hex digits. Eight digits at a time in a `u64` rather than a
/// table lookup per digit: every request hex-encodes its ids, and a loop per digit costs a
/// few hundred instructions of the telemetry's few thousand.
fn hex_u64(value: u64) -> [u8; 16] {
    let mut digits = [0; 16];
    digits[..8].copy_from_slice(&hex_digits(spread_nibbles((value >> 32) as u32)).to_be_bytes());
    digits[8..].copy_from_slice(&hex_digits(spread_nibbles(value as u32)).to_be_bytes());
    digits
}

/// The eight nibbles of `value`, most significant first, one per byte (big-endian order).
fn spread_nibbles(value: u32) -> u64 {
    let mut spread = u64::from(value);
    spread = (spread | (spread << 16)) & 0x0000_ffff_0000_ffff;
    spread = (spread | (spread << 8)) & 0x00ff_00ff_00ff_00ff;
    (spread | (spread << 4)) & 0x0f0f_0f0f_0f0f_0f0f
}

/// Each byte of `nibbles` (0 to 15) as its ASCII hex digit: `'0' + n`, plus 39 more for
/// 10 and up to land on `'a'`. No byte can carry into the next.
fn hex_digits(nibbles: u64) -> u64 {
    let letters = ((nibbles + 0x0606_0606_0606_0606) >> 4) & 0x0101_0101_0101_0101;
    nibbles + 0x3030_3030_3030_3030 + letters * 39
}

impl Correlation {
    /// `request_id` must come from [`resolve`]: log lines write it without escaping.
    pub fn new(request_id: String, trace: Option<TraceIds>) -> Arc<Correlation> {
        Arc::new(Correlation { request_id, trace })
    }

    pub fn trace(&self) -> Option<&TraceIds> {
        self.trace.as_ref()
    }
}

tokio::task_local! {
    static CURRENT: Arc<Correlation>;
}

/// The id of the request being served on this task, if any.
pub fn current() -> Option<String> {
    CURRENT.try_with(|c| c.request_id.clone()).ok()
}

/// Runs `f` with the correlation ids of the request being served on this task, if any.
pub fn with_current<R>(f: impl FnOnce(&Correlation) -> R) -> Option<R> {
    CURRENT.try_with(|c| f(c)).ok()
}

/// Runs `f` with `correlation` as the current request's (for work done outside the
/// request's future, such as its access-log event).
pub fn in_scope<R>(correlation: Arc<Correlation>, f: impl FnOnce() -> R) -> R {
    CURRENT.sync_scope(correlation, f)
}

/// Whether a caller-supplied id is safe to log and echo: 1–128 visible ASCII characters
/// from a conservative set (no spaces, quotes or control characters that could forge logs).
pub fn is_acceptable(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_LEN
        && id.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':' | b'/' | b'+' | b'=')
        })
}

/// The request's id: the caller's `X-Request-Id` when it is acceptable, else a new UUID,
/// which then replaces the caller's header so that handlers see the id in use. Returns
/// the id and its header value for the response.
pub fn resolve(request: &mut Request) -> (String, HeaderValue) {
    if let Some(header) = request.headers().get(&X_REQUEST_ID)
        && let Ok(id) = header.to_str()
        && is_acceptable(id)
    {
        return (id.to_owned(), header.clone());
    }
    let mut text = Uuid::encode_buffer();
    let id: &str = Uuid::new_v4().hyphenated().encode_lower(&mut text);
    let header = HeaderValue::from_str(id).expect("a UUID is a valid header value");
    request
        .headers_mut()
        .insert(X_REQUEST_ID.clone(), header.clone());
    (id.to_owned(), header)
}

/// Runs `inner` with `correlation` as the current request's, and returns the request id in
/// the response's `X-Request-Id`.
pub fn scoped<F>(correlation: Arc<Correlation>, header: HeaderValue, inner: F) -> Scoped<F>
where
    F: Future,
{
    Scoped {
        inner: CURRENT.scope(correlation, inner),
        header: Some(header),
    }
}

pin_project! {
    /// See [`scoped`].
    pub struct Scoped<F> {
        #[pin]
        inner: TaskLocalFuture<Arc<Correlation>, F>,
        header: Option<HeaderValue>,
    }
}

impl<F> Future for Scoped<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Ok(mut response) = std::task::ready!(this.inner.poll(cx));
        if let Some(header) = this.header.take() {
            response.headers_mut().insert(X_REQUEST_ID.clone(), header);
        }
        Poll::Ready(Ok(response))
    }
}

/// The request-id middleware for when telemetry is off. Hand-written rather than
/// `middleware::from_fn`, whose future is boxed around a clone of the inner service on
/// every request.
#[derive(Clone, Copy, Default)]
pub struct RequestIdLayer;

impl<S> Layer<S> for RequestIdLayer {
    type Service = PropagateRequestId<S>;

    fn layer(&self, inner: S) -> PropagateRequestId<S> {
        PropagateRequestId { inner }
    }
}

/// See [`RequestIdLayer`].
#[derive(Clone)]
pub struct PropagateRequestId<S> {
    inner: S,
}

impl<S> Service<Request> for PropagateRequestId<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Scoped<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        let (id, header) = resolve(&mut request);
        scoped(Correlation::new(id, None), header, self.inner.call(request))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_ids_are_lowercase_hex_as_w3c_writes_them() {
        let ids = TraceIds::new(
            0x0af7651916cd43dd8448eb211c80319c_u128.to_be_bytes(),
            0xb7ad6b7169203331_u64.to_be_bytes(),
        );
        assert_eq!(ids.trace_id(), "0af7651916cd43dd8448eb211c80319c");
        assert_eq!(ids.span_id(), "b7ad6b7169203331");
    }

    #[test]
    fn every_byte_value_is_hex_encoded_as_format_does() {
        for byte in 0..=u8::MAX {
            let mut trace_id = [0; 16];
            trace_id[byte as usize % 16] = byte;
            let span_id = [
                byte,
                0,
                byte ^ 0xff,
                1,
                0x10,
                byte,
                0xf0,
                byte.reverse_bits(),
            ];
            let ids = TraceIds::new(trace_id, span_id);
            assert_eq!(
                ids.trace_id(),
                format!("{:032x}", u128::from_be_bytes(trace_id))
            );
            assert_eq!(
                ids.span_id(),
                format!("{:016x}", u64::from_be_bytes(span_id))
            );
        }
    }

    /// With telemetry off: the handler sees the id in use, in its request's header and as
    /// the task's current id, and the response returns it.
    #[tokio::test]
    async fn the_layer_gives_the_handler_and_the_response_one_id() {
        use tower::ServiceExt as _;
        let handler = tower::service_fn(|request: Request| async move {
            let header = request.headers()[&X_REQUEST_ID]
                .to_str()
                .unwrap()
                .to_owned();
            let current = current().expect("the handler runs in the request's scope");
            Ok::<_, Infallible>(Response::new(axum::body::Body::from(format!(
                "{header} {current}"
            ))))
        });
        for caller_id in [Some("web:checkout/42"), Some("has space"), None] {
            let mut request = Request::get("/");
            if let Some(id) = caller_id {
                request = request.header(&X_REQUEST_ID, id);
            }
            let request = request.body(axum::body::Body::empty()).unwrap();
            let response = RequestIdLayer
                .layer(handler)
                .oneshot(request)
                .await
                .unwrap();
            let returned = response.headers()[&X_REQUEST_ID]
                .to_str()
                .unwrap()
                .to_owned();
            let body = axum::body::to_bytes(response.into_body(), 1024)
                .await
                .unwrap();
            assert_eq!(body, format!("{returned} {returned}"), "{caller_id:?}");
            match caller_id {
                Some(id) if is_acceptable(id) => assert_eq!(returned, id),
                _ => assert!(Uuid::parse_str(&returned).is_ok(), "{returned}"),
            }
        }
    }

    #[test]
    fn sane_caller_ids_are_kept_and_others_refused() {
        assert!(is_acceptable("3f2c9a1e-5b7d-4c1a-9e2f-1a2b3c4d5e6f"));
        assert!(is_acceptable("web:checkout/42"));
        assert!(!is_acceptable(""));
        assert!(!is_acceptable("has space"));
        assert!(!is_acceptable("quote\"inject"));
        assert!(!is_acceptable(&"a".repeat(MAX_LEN + 1)));
    }
}
