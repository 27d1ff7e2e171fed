//! Rotation while the reader runs. A file truncated in place (logrotate's copytruncate)
//! shrinks, or its first bytes change; before starting over at 0 as a new track, the
//! reader looks beside it for the copy (same first bytes, at least as long as what was
//! read), which takes over the old track from where the reader had stopped, so the lines
//! written between the last read and the copy are not lost. Files rotated while the agent
//! was stopped are found by [`crate::sources::kubernetes_logs::rotated`].

use std::io;
use std::path::Path;

use super::Reader;
use super::tailed::{Start, Tailed};
use crate::checkpoint::{Ack, FINGERPRINT_BYTES, FileId, Fingerprint, read_first};
use crate::sources::kubernetes_logs::parser::Assembler;
use crate::sources::kubernetes_logs::rotated::{self, Found};

impl Reader {
    /// Whether the file, now `size` bytes long, shrank below what was read, or its first
    /// bytes changed.
    pub(super) fn was_truncated(&self, tailed: &Tailed, size: u64) -> io::Result<bool> {
        Ok(size < tailed.offset || !self.head_matches(tailed)?)
    }

    fn head_matches(&self, tailed: &Tailed) -> io::Result<bool> {
        if tailed.head.is_empty() {
            return Ok(true);
        }
        let mut now = [0u8; FINGERPRINT_BYTES];
        let now = &mut now[..tailed.head.len()];
        Ok(read_first(&tailed.file, now)? == now.len() && *now == *tailed.head)
    }

    /// The file was truncated in place (copytruncate): its copy, if there is one, takes
    /// over the track from where the reader stopped; the file starts over at 0 as a new
    /// track.
    pub(super) fn truncated(&mut self, tailed: &mut Tailed) {
        self.telemetry.rotations_truncated.inc();
        let fingerprint = Fingerprint::of(&tailed.head);
        let dir = tailed.path.parent().unwrap_or(Path::new("/"));
        let files = &self.files;
        let skip = |_: &Path, id: FileId| id == tailed.id || files.contains_key(&id);
        match rotated::copy_of(dir, fingerprint, tailed.offset, skip) {
            Some(found) => {
                tracing::info!(path = %tailed.path.display(), copy = %found.path.display(), "truncated; finishing from its copy");
                if let Err(error) = self.move_to_copy(tailed, found) {
                    tracing::warn!(%error, "cannot open the copy of a truncated file");
                    self.outbox.acks.push(Ack::Forget(tailed.track));
                }
            }
            None => {
                tracing::info!(path = %tailed.path.display(), "truncated; reading from the start");
                // What was not read of the old content is gone with it.
                self.outbox.acks.push(Ack::Forget(tailed.track));
            }
        }
        tailed.start_over(self.positions.new_track(), &self.config);
        let record = tailed.record(0);
        self.observe(record);
    }

    /// Moves the unfinished state of `tailed` (its track, offset, partial line) to its
    /// copy, which is drained and closed like a rotated file.
    fn move_to_copy(&mut self, tailed: &mut Tailed, found: Found) -> io::Result<()> {
        let start = Start {
            track: tailed.track,
            path: found.path,
            file: found.file,
            offset: tailed.offset,
            resent_below: tailed.resent_below,
            gone: true,
        };
        let mut copy = Tailed::new(start, &self.config, &self.node)?;
        copy.line_start = tailed.line_start;
        copy.partial = std::mem::take(&mut tailed.partial);
        copy.partial_truncated = tailed.partial_truncated;
        copy.assembler = std::mem::replace(
            &mut tailed.assembler,
            Assembler::new(self.config.format, self.config.max_line_bytes),
        );
        self.observe(copy.record(0));
        self.announce(&mut copy);
        self.files.insert(copy.id, copy);
        Ok(())
    }
}
