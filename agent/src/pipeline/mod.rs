//! What flows from sources to sinks, one module per kind of data. `crate::app` creates
//! every channel and hands the sending end to sources and the receiving end to sinks, so
//! neither imports the other; both import only this module.
//!
//! - [`metrics`]: batches of metric families, fanned out to every metrics sink; a full
//!   channel drops the batch (the next collection supersedes it).
//! - [`logs`]: log lines with their checkpoint moves, to the Loki sink; a full channel
//!   makes the reader wait (nothing may be dropped).
//! - [`context`]: the [`context::SourceContext`] every source is started with, holding
//!   the sending ends of the above.

pub mod context;
pub mod logs;
pub mod metrics;
