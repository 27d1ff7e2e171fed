//! Liveness and readiness for the orchestrator, on the admin listener.

use std::time::Duration;

use axum::{Json, extract::State, http::StatusCode};
use serde_json::{Value, json};

use crate::state::AppState;

/// How long readiness waits for the database before calling it down.
const DATABASE_CHECK_TIMEOUT: Duration = Duration::from_secs(1);

/// The process is alive (no dependency is checked: a database outage must not restart pods).
pub async fn livez() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// Whether to send traffic here: not while starting, draining, without a database, or
/// (with a JWKS) before the first keys arrived.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    if state.readiness.is_draining() {
        return not_ready("shutting down");
    }
    if !state.readiness.is_migrated() {
        return not_ready("database migrations have not run yet");
    }
    if !state.authenticator.has_keys() {
        return not_ready("no key from the identity provider's JWKS yet");
    }
    let ping = tokio::time::timeout(DATABASE_CHECK_TIMEOUT, state.store.database().ping()).await;
    match ping {
        Ok(Ok(())) => (
            StatusCode::OK,
            Json(json!({ "status": "ready", "checks": { "database": "ok" } })),
        ),
        Ok(Err(e)) => not_ready(&format!("database: {e}")),
        Err(_) => not_ready("database: no answer within 1s"),
    }
}

fn not_ready(reason: &str) -> (StatusCode, Json<Value>) {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({ "status": "not_ready", "reason": reason })),
    )
}
