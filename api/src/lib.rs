//! Watchpost task API: a REST service for tasks, built to be observed.
//!
//! The way of a request: `routes` (HTTP) → `domain` (validated types) → `store` (SQL).
//! Modules import only modules below them; docs/architecture.md draws the map.

pub mod auth;
pub mod config;
pub mod domain;
pub mod fault;
pub mod problem;
pub mod request_id;
pub mod route_templates;
pub mod routes;
pub mod startup;
pub mod state;
pub mod store;
pub mod telemetry;
