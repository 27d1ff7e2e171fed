//! The correlation id of a request: taken from `X-Request-Id` when the caller's value is
//! sane, generated otherwise, returned on every response and readable anywhere inside the
//! request (problem bodies, log lines) through a task-local.

use axum::{
    extract::Request,
    http::{HeaderName, HeaderValue},
    middleware::Next,
    response::Response,
};
use uuid::Uuid;

pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// Longer caller ids are replaced: they would bloat every log line of the request.
pub const MAX_LEN: usize = 128;

tokio::task_local! {
    static CURRENT: String;
}

/// The id of the request being served on this task, if any.
pub fn current() -> Option<String> {
    CURRENT.try_with(Clone::clone).ok()
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

/// Middleware: resolves the id, runs the rest of the stack inside its scope, echoes it.
pub async fn propagate(mut request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(&X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| is_acceptable(v))
        .map(str::to_owned)
        .unwrap_or_else(|| Uuid::new_v4().to_string());
    let header = HeaderValue::from_str(&id).expect("acceptable ids are valid header values");
    request
        .headers_mut()
        .insert(X_REQUEST_ID.clone(), header.clone());
    let mut response = CURRENT.scope(id, next.run(request)).await;
    response.headers_mut().insert(X_REQUEST_ID.clone(), header);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

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
