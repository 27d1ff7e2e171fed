//! Node stats under node_exporter's exact names and labels, so community dashboards,
//! recording rules and alerts work unchanged.
//!
//! Everything is read from procfs and `statfs(2)` directly rather than through a
//! system-information crate: node_exporter's semantics (CPU seconds per mode from
//! USER_HZ ticks, every `/proc/meminfo` field, 512-byte diskstats sectors, mounts from
//! PID 1's view) are defined in terms of those files, and reading them ourselves keeps the
//! values identical and the agent small. Collection runs on a blocking thread because a
//! hung network filesystem can stall `statfs` indefinitely; `/metrics` keeps serving the
//! previous collection meanwhile.

pub mod config;
mod diskstats;
mod filefd;
mod filesystem;
mod loadavg;
mod meminfo;
mod netdev;
pub mod source;
mod stat;
mod system;
