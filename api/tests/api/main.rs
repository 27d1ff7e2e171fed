//! The task API's integration tests: each starts the real application (HTTP stack, SQL) on
//! port 0 against a fresh database, on SQLite and on PostgreSQL.

mod helpers;

mod auth;
mod auth_attacks;
mod concurrency;
mod errors;
mod fault;
mod identity_provider;
mod jwks;
mod lifecycle;
mod module_dependencies;
mod pagination;
mod sqlite_writes;
mod tasks;
mod telemetry;
