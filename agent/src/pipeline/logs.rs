//! What flows from the log source to the Loki sink: lines with the checkpoint moves they
//! make safe, over one bounded channel. The reader waits when it is full, so a slow Loki
//! pauses reading instead of growing memory; the files are the buffer.

use std::ops::Range;
use std::sync::Arc;

use tokio::sync::mpsc;

use crate::checkpoint::{Ack, Positions};

/// One log line on its way to Loki.
#[derive(Clone, Debug, PartialEq)]
pub struct LogEntry {
    /// The stream's label set, rendered (`{container="app", ...}`).
    pub stream: Arc<str>,
    /// Nanoseconds since the Unix epoch.
    pub timestamp_ns: i64,
    /// Where the message is in its batch's `text` (at most `max_line_bytes`).
    pub text: Range<usize>,
}

/// What the reader hands to the sink at once: lines, then the checkpoint moves that
/// become true once those lines (and all before them) are acknowledged.
///
/// The messages share one buffer instead of a `String` each: one allocation per
/// hand-off rather than per line, freed by the sink in one piece.
#[derive(Debug, Default)]
pub struct LogBatch {
    pub entries: Vec<LogEntry>,
    pub acks: Vec<Ack>,
    /// Every message, back to back.
    pub text: String,
}

impl LogBatch {
    /// The message of `entry`.
    pub fn line(&self, entry: &LogEntry) -> &str {
        &self.text[entry.text.clone()]
    }
}

/// Sending end of the Loki sink's input.
pub type LogSender = mpsc::Sender<LogBatch>;

/// Receiving end of the Loki sink's input.
pub type LogReceiver = mpsc::Receiver<LogBatch>;

/// The log channel, holding at most `capacity` hand-offs.
pub fn log_channel(capacity: usize) -> (LogSender, LogReceiver) {
    mpsc::channel(capacity)
}

/// What the log source is given: the sending end of the log channel, and the positions
/// file where it records each file's track before reading it (the Loki sink applies the
/// acknowledgements to the same file).
#[derive(Clone, Debug)]
pub struct LogOutput {
    pub sender: LogSender,
    pub positions: Positions,
}
