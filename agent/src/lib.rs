//! Watchpost node agent: runs on every node (a Kubernetes DaemonSet), serves node stats
//! under node_exporter's names on `/metrics`, and ships selected metrics out of the node.
//!
//! Layout: `sources/` produce data, `sinks/` send it out, `pipeline` carries it between
//! them, `app` wires them from `config`; `telemetry` is the agent's own `node_agent_*`
//! metrics, `server` the HTTP endpoint, `metric` the data model and text format.

pub mod app;
pub mod checkpoint;
pub mod cli;
pub mod config;
pub mod metric;
pub mod pipeline;
pub mod server;
pub mod sinks;
pub mod sources;
pub mod telemetry;
