//! The state of one open file: its track, where the reader is in it, the line it is in
//! the middle of, and its first bytes (the fingerprint that recognises it after a move).

use std::fs::File;
use std::io;
use std::path::PathBuf;
use std::time::Instant;

use crate::checkpoint::{FINGERPRINT_BYTES, FileId, Fingerprint, Record, Track, read_first};
use crate::sources::kubernetes_logs::config::KubernetesLogsConfig;
use crate::sources::kubernetes_logs::discovery::FileLabels;
use crate::sources::kubernetes_logs::parser::Assembler;

/// One open file and where the reader is in it.
pub(super) struct Tailed {
    pub(super) track: Track,
    pub(super) id: FileId,
    pub(super) path: PathBuf,
    pub(super) file: File,
    pub(super) labels: FileLabels,
    /// Next byte to read.
    pub(super) offset: u64,
    /// Size at the last poll.
    pub(super) size: u64,
    /// First byte of the line not yet complete (its bytes are in `partial`).
    pub(super) line_start: u64,
    pub(super) partial: Vec<u8>,
    pub(super) partial_truncated: bool,
    /// The file's first bytes, up to FINGERPRINT_BYTES.
    pub(super) head: Vec<u8>,
    pub(super) assembler: Assembler,
    /// Resume offset last handed to the sink.
    pub(super) announced: Option<u64>,
    /// Lines starting below this offset were handed to the sink before a restart.
    pub(super) resent_below: u64,
    /// When the file stopped being at any matched path (rotated away or deleted).
    pub(super) gone_since: Option<Instant>,
    pub(super) last_data: Instant,
}

/// Where a [`Tailed`] starts.
pub(super) struct Start {
    pub(super) track: Track,
    pub(super) path: PathBuf,
    pub(super) file: File,
    pub(super) offset: u64,
    pub(super) resent_below: u64,
    pub(super) gone: bool,
}

impl Tailed {
    /// The file in `start`, with its first bytes read, resuming at `start.offset`.
    pub(super) fn new(
        start: Start,
        config: &KubernetesLogsConfig,
        node: &str,
    ) -> io::Result<Tailed> {
        let metadata = start.file.metadata()?;
        let head = read_head(&start.file)?;
        Ok(Tailed {
            track: start.track,
            id: FileId::of(&metadata),
            labels: FileLabels::for_path(&start.path, node),
            path: start.path,
            file: start.file,
            offset: start.offset,
            size: metadata.len(),
            line_start: start.offset,
            partial: Vec::new(),
            partial_truncated: false,
            head,
            assembler: Assembler::new(config.format, config.max_line_bytes),
            announced: None,
            resent_below: start.resent_below,
            gone_since: start.gone.then(Instant::now),
            last_data: Instant::now(),
        })
    }

    /// The same file, truncated in place, as new content: `track` from offset 0, nothing
    /// read of it yet.
    pub(super) fn start_over(&mut self, track: Track, config: &KubernetesLogsConfig) {
        self.track = track;
        self.offset = 0;
        self.size = 0;
        self.line_start = 0;
        self.partial.clear();
        self.partial_truncated = false;
        self.head.clear();
        self.assembler = Assembler::new(config.format, config.max_line_bytes);
        self.announced = None;
        self.resent_below = 0;
    }

    /// The offset a restart may resume at: before the incomplete line and before any
    /// unfinished CRI/Docker piece.
    pub(super) fn resume_offset(&self) -> u64 {
        self.assembler
            .oldest_pending_start()
            .map_or(self.line_start, |p| p.min(self.line_start))
    }

    /// What the positions file should know of this file, at `offset`.
    pub(super) fn record(&self, offset: u64) -> Record {
        Record {
            track: self.track,
            id: self.id,
            fingerprint: Fingerprint::of(&self.head),
            offset,
            read: offset,
            path: self.path.clone(),
        }
    }
}

/// The first bytes of `file`, up to FINGERPRINT_BYTES (fewer if it is shorter).
pub(super) fn read_head(file: &File) -> io::Result<Vec<u8>> {
    let mut head = vec![0u8; FINGERPRINT_BYTES];
    let filled = read_first(file, &mut head)?;
    head.truncate(filled);
    Ok(head)
}
