//! Container logs: tails the kubelet's log files and hands their lines to the Loki sink.
//!
//! Reads `/var/log/pods/<namespace>_<pod>_<uid>/<container>/<n>.log` (configurable
//! globs) in the CRI, Docker json-file or plain format ([`parser`]), follows rotation by
//! rename and by copytruncate, drains deleted files ([`tailer`]), and labels each line
//! with namespace, pod, container, node and stream ([`discovery`]).
//!
//! The non-obvious decision: the reader never checkpoints. Each hand-off to the sink
//! carries, beside its lines, the offsets those lines make safe ([`crate::checkpoint::Ack`]);
//! the sink applies them only once Loki acknowledged the lines, so the positions file
//! never runs ahead of Loki. The hand-off channel is bounded, so a slow Loki pauses
//! reading instead of growing memory.

pub mod config;
pub mod discovery;
pub mod parser;
pub mod rotated;
pub mod source;
pub mod tailer;
pub mod telemetry;
pub mod watch;
