//! `/fault` on the admin listener (tests only): read, set or clear the fault injected into
//! `/api/v1/*`. Answers 404 unless `FAULT_INJECTION_ENABLED=true`, as if it did not exist.

use std::sync::Arc;

use axum::{Json, body::Bytes, extract::State};
use serde_json::Value;

use crate::{
    domain::FieldError,
    fault::{Fault, FaultField, FaultInjector},
    problem::ApiError,
    state::AppState,
};

fn injector(state: &AppState) -> Result<&Arc<FaultInjector>, ApiError> {
    state
        .fault
        .as_ref()
        .ok_or_else(|| ApiError::RouteNotFound("/fault".into()))
}

/// `GET /fault`: the fault now applied.
pub async fn get_fault(State(state): State<AppState>) -> Result<Json<Fault>, ApiError> {
    Ok(Json(injector(&state)?.current()))
}

/// `PUT /fault` with `{"error_ratio": 0.1, "latency_seconds": 0.3}`; a value left out is 0.
pub async fn put_fault(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Json<Fault>, ApiError> {
    let injector = injector(&state)?;
    let fault = parse(&body)?;
    injector.set(fault);
    tracing::warn!(
        error_ratio = fault.error_ratio,
        latency_seconds = fault.latency_seconds,
        "fault injection changed"
    );
    Ok(Json(fault))
}

/// `DELETE /fault`: no fault any more.
pub async fn delete_fault(State(state): State<AppState>) -> Result<Json<Fault>, ApiError> {
    let injector = injector(&state)?;
    injector.set(Fault::default());
    tracing::warn!("fault injection cleared");
    Ok(Json(Fault::default()))
}

/// The body as a fault; every problem names its field with a JSON Pointer.
fn parse(body: &[u8]) -> Result<Fault, ApiError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| ApiError::MalformedBody(e.to_string()))?;
    let Value::Object(fields) = value else {
        return Err(invalid("", "the body must be a JSON object"));
    };
    let mut error_ratio = 0.0;
    let mut latency_seconds = 0.0;
    for (name, value) in &fields {
        let slot = match name.as_str() {
            "error_ratio" => &mut error_ratio,
            "latency_seconds" => &mut latency_seconds,
            _ => {
                return Err(invalid(
                    &format!("/{name}"),
                    "unknown field; expected error_ratio or latency_seconds",
                ));
            }
        };
        *slot = value
            .as_f64()
            .ok_or_else(|| invalid(&format!("/{name}"), "expected a number"))?;
    }
    Fault::new(error_ratio, latency_seconds).map_err(|error| {
        let pointer = match error.field {
            FaultField::ErrorRatio => "/error_ratio",
            FaultField::LatencySeconds => "/latency_seconds",
        };
        invalid(pointer, error.reason)
    })
}

fn invalid(pointer: &str, detail: &str) -> ApiError {
    let pointer: String = pointer.chars().take(100).collect();
    ApiError::InvalidFault(vec![FieldError::new(pointer, detail)])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pointer(body: &str) -> String {
        match parse(body.as_bytes()) {
            Err(ApiError::InvalidFault(errors)) => errors[0].pointer.clone(),
            other => panic!("expected an invalid fault, got {other:?}"),
        }
    }

    #[test]
    fn every_bad_value_is_named() {
        assert_eq!(pointer(r#"{"error_ratio": 2}"#), "/error_ratio");
        assert_eq!(pointer(r#"{"error_ratio": "half"}"#), "/error_ratio");
        assert_eq!(pointer(r#"{"latency_seconds": 600}"#), "/latency_seconds");
        assert_eq!(pointer(r#"{"latency": 1}"#), "/latency");
        assert_eq!(pointer("[]"), "");
        assert!(matches!(parse(b"{"), Err(ApiError::MalformedBody(_))));
        assert_eq!(parse(b"{}").unwrap(), Fault::default());
    }
}
