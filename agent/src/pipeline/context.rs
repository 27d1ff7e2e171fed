//! What every source is started with, and what starting one gives back, so `crate::app`
//! starts each source the same way: `<source>::source::start(&config, &context)`.
//!
//! The context carries the outputs of every kind; a source takes the ones it produces.
//! `crate::app` fills them in after building the sinks, so a source never learns which
//! sinks exist.

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::logs::LogOutput;
use super::metrics::{MetricSender, PageSender};
use crate::config::types::IdentityConfig;
use crate::telemetry::Registry;

/// Everything a source needs from the agent around it.
pub struct SourceContext {
    /// The registry the source's own telemetry goes into.
    pub registry: Registry,
    /// Fires when the agent stops; the source's task ends soon after.
    pub shutdown: CancellationToken,
    /// The node's identity (names, labels).
    pub identity: IdentityConfig,
    /// Where the source's data goes.
    pub outputs: SourceOutputs,
}

/// The sending ends a source may use, one per kind of data.
pub struct SourceOutputs {
    /// The input of every metrics sink (empty when none is enabled).
    pub metrics: Vec<MetricSender>,
    /// The page served on `/metrics`.
    pub page: PageSender,
    /// The log channel and the positions file, when the Loki sink runs.
    pub logs: Option<LogOutput>,
}

/// A started component's task, under the name its log lines at shutdown use.
pub type Task = (&'static str, JoinHandle<()>);
