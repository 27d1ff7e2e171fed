//! The HTTP server: `/metrics` (node stats + the agent's own telemetry, text format 0.0.4)
//! and `/healthz`.
//!
//! Node stats are rendered once per collection by the node source, so a scrape only
//! concatenates two strings; scrapes cost almost nothing however often they come.

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::pipeline::metrics::PageReceiver;
use crate::telemetry::{Counter, Registry};

/// The content type of Prometheus' classic text format.
pub const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

#[derive(Clone)]
struct ServerState {
    node: PageReceiver,
    registry: Registry,
    scrapes: Counter,
}

/// The router; `node` carries the latest rendered node stats.
pub fn router(node: PageReceiver, registry: Registry) -> Router {
    let scrapes = registry.counter(
        "node_agent_metrics_scrapes_total",
        "Requests served on /metrics.",
        &[],
    );
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .with_state(ServerState {
            node,
            registry,
            scrapes,
        })
}

async fn metrics(State(state): State<ServerState>) -> impl IntoResponse {
    state.scrapes.inc();
    let node = state.node.borrow().clone();
    let mut body = String::with_capacity(node.len() + 16 * 1024);
    body.push_str(&node);
    state.registry.encode(&mut body);
    ([(header::CONTENT_TYPE, TEXT_FORMAT)], body)
}
