//! HTTP routes: the public API router and the admin router.

mod cursor;
pub mod fault;
pub mod fault_layer;
pub mod health;
mod json;
pub mod metrics;
pub mod openapi;
mod owner;
pub mod tasks;

use axum::{Router, http::Uri, routing::get};

use crate::{problem::ApiError, route_templates, state::AppState};

/// `/api/v1/*`, with problem+json answers for unknown routes and methods.
pub fn api_router() -> Router<AppState> {
    Router::new()
        .route(
            route_templates::TASKS,
            get(tasks::list_tasks).post(tasks::create_task),
        )
        .route(
            route_templates::TASK,
            get(tasks::get_task)
                .patch(tasks::update_task)
                .delete(tasks::delete_task),
        )
        .route(route_templates::OPENAPI, get(openapi::openapi_json))
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .fallback(|uri: Uri| async move {
            ApiError::RouteNotFound(uri.path().chars().take(200).collect())
        })
}

/// `/livez`, `/readyz`, `/metrics` and (tests only) `/fault` on the admin listener, outside
/// the RED metrics.
pub fn admin_router() -> Router<AppState> {
    Router::new()
        .route("/livez", get(health::livez))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(metrics::metrics))
        .route(
            "/fault",
            get(fault::get_fault)
                .put(fault::put_fault)
                .delete(fault::delete_fault),
        )
}
