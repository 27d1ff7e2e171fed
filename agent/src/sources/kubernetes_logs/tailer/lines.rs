//! Line splitting: bytes read from a file become raw lines (cut at a bounded length, a
//! partial last line kept for the next read), which the format's assembler turns into
//! log lines appended to the hand-off.

use super::tailed::Tailed;
use crate::pipeline::logs::{LogBatch, LogEntry};
use crate::sources::kubernetes_logs::discovery::FileLabels;
use crate::sources::kubernetes_logs::parser::Line;
use crate::sources::kubernetes_logs::telemetry::ReaderTelemetry;

/// Raw lines may exceed the message limit by this much (CRI/Docker prefixes) before the
/// reader cuts them.
pub(super) const RAW_LINE_ALLOWANCE: usize = 1024;

impl Tailed {
    /// Splits `data`, read at `base`, at its newlines: the partial line carried from the
    /// last read is completed first, raw lines longer than `raw_max` are cut, complete
    /// lines go through the assembler to `out` with the file's labels, and the bytes after
    /// the last newline wait in `partial`.
    pub(super) fn split(
        &mut self,
        data: &[u8],
        base: u64,
        now: i64,
        raw_max: usize,
        mut out: impl FnMut(&FileLabels, Line<'_>),
    ) {
        let labels = &self.labels;
        let mut emit = |line: Line<'_>| out(labels, line);
        let mut pos = 0;
        for newline in memchr::memchr_iter(b'\n', data) {
            let piece = &data[pos..newline];
            if self.partial.is_empty() && !self.partial_truncated {
                let truncated = piece.len() > raw_max;
                let piece = &piece[..piece.len().min(raw_max)];
                self.assembler
                    .push(piece, truncated, base + pos as u64, now, &mut emit);
            } else {
                append_capped(
                    &mut self.partial,
                    &mut self.partial_truncated,
                    piece,
                    raw_max,
                );
                self.assembler.push(
                    &self.partial,
                    self.partial_truncated,
                    self.line_start,
                    now,
                    &mut emit,
                );
                self.partial.clear();
                self.partial_truncated = false;
            }
            pos = newline + 1;
            self.line_start = base + pos as u64;
        }
        if pos < data.len() {
            append_capped(
                &mut self.partial,
                &mut self.partial_truncated,
                &data[pos..],
                raw_max,
            );
        }
    }
}

/// Appends lines to the hand-off and counts them; the counters are shared atomics, so
/// they are updated once per read rather than per line.
#[derive(Default)]
pub(super) struct LineCounts {
    lines: usize,
    truncated: usize,
}

impl LineCounts {
    pub(super) fn push(&mut self, batch: &mut LogBatch, labels: &FileLabels, line: Line<'_>) {
        self.lines += 1;
        self.truncated += usize::from(line.truncated);
        let start = batch.text.len();
        batch.text.push_str(&line.text);
        batch.entries.push(LogEntry {
            stream: labels.get(line.stream).clone(),
            timestamp_ns: line.timestamp_ns,
            text: start..batch.text.len(),
        });
    }

    pub(super) fn record(&self, telemetry: &ReaderTelemetry) {
        telemetry.read_lines.inc_by(self.lines as f64);
        if self.truncated > 0 {
            telemetry.truncated_lines.inc_by(self.truncated as f64);
        }
    }
}

pub(super) fn append_capped(buffer: &mut Vec<u8>, truncated: &mut bool, piece: &[u8], max: usize) {
    let room = max.saturating_sub(buffer.len());
    if piece.len() > room {
        *truncated = true;
    }
    buffer.extend_from_slice(&piece[..piece.len().min(room)]);
}
