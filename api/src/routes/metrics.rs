//! `GET /metrics` on the admin listener: OpenMetrics (with exemplars) when the scraper
//! asks for it, the classic Prometheus text format otherwise.

use axum::{
    extract::State,
    http::{HeaderMap, HeaderValue, header},
    response::{IntoResponse, Response},
};

use crate::{
    state::AppState,
    telemetry::metrics::{ConnectionState, PoolLabels, PoolStateLabels},
};

const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
const CLASSIC: &str = "text/plain; version=0.0.4; charset=utf-8";

pub async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let openmetrics = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|accept| accept.contains("application/openmetrics-text"));
    record_pool_usage(&state);
    if let Some(age) = state.authenticator.jwks().and_then(|jwks| jwks.age()) {
        state.metrics.jwks_age.set(age.as_secs_f64());
    }
    let body = state.metrics.encode(openmetrics);
    let content_type = if openmetrics { OPENMETRICS } else { CLASSIC };
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
        body,
    )
        .into_response()
}

/// Pool gauges are read from the pools themselves at scrape time: no query, no background
/// task.
fn record_pool_usage(state: &AppState) {
    let database = state.store.database();
    let system = database.system_name();
    for pool in database.pool_usage() {
        for (connection_state, value) in [
            (ConnectionState::Used, pool.used),
            (ConnectionState::Idle, pool.idle),
        ] {
            let labels = PoolStateLabels {
                db_system_name: system,
                db_client_connection_pool_name: pool.name,
                db_client_connection_state: connection_state,
            };
            state
                .metrics
                .pool_connections
                .get_or_create(&labels)
                .set(i64::from(value));
        }
        let labels = PoolLabels {
            db_system_name: system,
            db_client_connection_pool_name: pool.name,
        };
        state
            .metrics
            .pool_max
            .get_or_create(&labels)
            .set(i64::from(pool.max));
    }
}
