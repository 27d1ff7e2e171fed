//! The reader: one thread that follows every discovered file, turns bytes into lines and
//! hands them, with the offsets they make safe to checkpoint, to the Loki sink.
//!
//! Rotation without loss:
//! - by rename (kubelet, logrotate `create`): the open descriptor follows the inode, so
//!   the old file is read to its end; it is closed after [`drain_idle`] without new bytes,
//!   then the new file at the path is a new identity, read from 0.
//! - by copytruncate: the file shrinks, or its first bytes change. Before starting over at
//!   0, the reader looks beside it for the copy (same first bytes, at least as long as
//!   what was read) and reads the copy from where it had stopped, so the lines written
//!   between the last read and the copy are not lost.
//! - deletion: the descriptor keeps the data readable; it is drained, then closed.
//!
//! [`drain_idle`]: super::config::KubernetesLogsConfig::drain_idle_seconds

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::LogBatch;
use super::LogEntry;
use super::config::KubernetesLogsConfig;
use super::discovery::{self, FileLabels};
use super::parser::{Assembler, Line};
use super::telemetry::ReaderTelemetry;
use super::watch::{FsEvents, Wake, static_root};
use crate::checkpoint::{Ack, FINGERPRINT_BYTES, FileId, Fingerprint, Positions, Record};

/// Raw lines may exceed the message limit by this much (CRI/Docker prefixes) before the
/// reader cuts them.
const RAW_LINE_ALLOWANCE: usize = 1024;

struct Tailed {
    id: FileId,
    path: PathBuf,
    file: File,
    labels: FileLabels,
    /// Next byte to read.
    offset: u64,
    /// Size at the last poll.
    size: u64,
    /// First byte of the line not yet complete (its bytes are in `partial`).
    line_start: u64,
    partial: Vec<u8>,
    partial_truncated: bool,
    /// The file's first bytes, up to FINGERPRINT_BYTES.
    head: Vec<u8>,
    assembler: Assembler,
    /// Resume offset last handed to the sink.
    announced: Option<u64>,
    /// When the file stopped being at any matched path (rotated away or deleted).
    gone_since: Option<Instant>,
    last_data: Instant,
}

impl Tailed {
    /// The offset a restart may resume at: before the incomplete line and before any
    /// unfinished CRI/Docker piece.
    fn resume_offset(&self) -> u64 {
        self.assembler
            .oldest_pending_start()
            .map_or(self.line_start, |p| p.min(self.line_start))
    }

    fn record(&self, offset: u64) -> Record {
        let len = self.head.len().min(offset as usize);
        Record {
            id: self.id,
            fingerprint: Fingerprint::of(&self.head[..len]),
            offset,
            path: self.path.clone(),
        }
    }
}

/// The tailing loop's state.
pub struct Reader {
    config: KubernetesLogsConfig,
    include: Vec<glob::Pattern>,
    exclude: Vec<glob::Pattern>,
    node: String,
    positions: Positions,
    resume: HashMap<FileId, Record>,
    files: HashMap<FileId, Tailed>,
    output: mpsc::Sender<LogBatch>,
    telemetry: ReaderTelemetry,
    chunk: Vec<u8>,
    /// The hand-off being filled.
    outbox: LogBatch,
    started_ns: i64,
    shutdown: CancellationToken,
    /// Wakes the idle reader on new files and writes; None where inotify is unavailable.
    events: Option<FsEvents>,
    /// The agent's runtime, for waiting on the sink's input with a timeout.
    runtime: Option<tokio::runtime::Handle>,
}

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}

impl Reader {
    /// A reader over `config`'s files, resuming from `positions`, sending to `output`.
    pub fn new(
        config: KubernetesLogsConfig,
        node: String,
        positions: Positions,
        output: mpsc::Sender<LogBatch>,
        telemetry: ReaderTelemetry,
        shutdown: CancellationToken,
    ) -> Reader {
        let compile = |patterns: &[String]| {
            patterns
                .iter()
                .filter_map(|p| glob::Pattern::new(p).ok())
                .collect::<Vec<_>>()
        };
        Reader {
            include: compile(&config.include),
            exclude: compile(&config.exclude),
            resume: positions.records().into_iter().map(|r| (r.id, r)).collect(),
            chunk: vec![0; config.read_chunk_bytes],
            config,
            node,
            positions,
            files: HashMap::new(),
            output,
            telemetry,
            outbox: LogBatch::default(),
            started_ns: now_ns(),
            shutdown,
            runtime: tokio::runtime::Handle::try_current().ok(),
            events: FsEvents::new()
                .inspect_err(
                    |error| tracing::warn!(%error, "no inotify; relying on rescans and polls"),
                )
                .ok(),
        }
    }

    /// Tails until `shutdown` fires or the sink goes away.
    pub fn run(mut self) {
        self.scan(true);
        let rescan = self.config.rescan_interval_seconds.duration();
        let idle = self.config.poll_interval_seconds.duration();
        let mut last_scan = Instant::now();
        while !self.shutdown.is_cancelled() {
            if last_scan.elapsed() >= rescan {
                self.scan(false);
                last_scan = Instant::now();
            }
            let read_any = match self.poll_all() {
                Ok(read_any) => read_any,
                Err(Closed) => return,
            };
            if read_any {
                continue;
            }
            match &self.events {
                Some(events) => {
                    // Writes wake the reader, so without them it need not poll every file
                    // each poll interval: idle cost stays near zero with hundreds of
                    // files. The rescan interval bounds what a missed event can delay.
                    let wait = rescan.saturating_sub(last_scan.elapsed()).max(idle);
                    if events.wait(wait) == Wake::Entries {
                        self.scan(false);
                        last_scan = Instant::now();
                    }
                }
                None => std::thread::sleep(idle.min(rescan)),
            }
        }
    }

    /// One pass over every file; whether any had new bytes.
    fn poll_all(&mut self) -> Result<bool, Closed> {
        let mut read_any = false;
        let ids: Vec<FileId> = self.files.keys().copied().collect();
        for id in ids {
            let Some(mut tailed) = self.files.remove(&id) else {
                continue;
            };
            match self.poll(&mut tailed) {
                Ok(true) => read_any = true,
                Ok(false) => {}
                Err(error) => {
                    tracing::warn!(path = %tailed.path.display(), %error, "cannot read log file")
                }
            }
            if self.should_close(&tailed) {
                self.close(tailed);
            } else {
                self.files.insert(id, tailed);
            }
            if self.outbox.text.len() >= self.config.read_chunk_bytes {
                self.flush()?;
            }
        }
        self.flush()?;
        Ok(read_any)
    }

    fn flush(&mut self) -> Result<(), Closed> {
        if self.outbox.entries.is_empty() && self.outbox.acks.is_empty() {
            return Ok(());
        }
        // Sized for a full hand-off up front: a doubling String would keep up to twice
        // the text alive while the sink holds it.
        let fresh = LogBatch {
            text: String::with_capacity(
                self.config.read_chunk_bytes + self.config.read_chunk_bytes / 4,
            ),
            ..LogBatch::default()
        };
        let batch = std::mem::replace(&mut self.outbox, fresh);
        let batch = match self.output.try_send(batch) {
            Ok(()) => return Ok(()),
            Err(mpsc::error::TrySendError::Closed(_)) => return Err(Closed),
            Err(mpsc::error::TrySendError::Full(batch)) => batch,
        };
        // The sink's input is full: wait for room. This is the backpressure that keeps
        // memory bounded when Loki is slow or down. The wait wakes the moment the sink
        // takes a hand-off (sleeping instead left the sink idle, badly so on one core),
        // and at every rescan interval to keep the lag gauges current and see shutdown.
        let rescan = self.config.rescan_interval_seconds.duration();
        let Some(runtime) = self.runtime.clone() else {
            // Outside a runtime (unit tests): the plain blocking send.
            return self.output.blocking_send(batch).map_err(|_| Closed);
        };
        loop {
            let output = &self.output;
            let reserved =
                runtime.block_on(async { tokio::time::timeout(rescan, output.reserve()).await });
            match reserved {
                Ok(Ok(permit)) => {
                    permit.send(batch);
                    return Ok(());
                }
                Ok(Err(_)) => return Err(Closed),
                Err(_) => {
                    if self.shutdown.is_cancelled() {
                        return Err(Closed);
                    }
                    self.update_gauges();
                }
            }
        }
    }

    fn should_close(&self, tailed: &Tailed) -> bool {
        let drain = self.config.drain_idle_seconds.duration();
        tailed
            .gone_since
            .is_some_and(|since| since.elapsed() >= drain)
            && tailed.last_data.elapsed() >= drain
            && tailed.offset >= tailed.size
    }

    /// Emits what is left of a drained file and forgets it.
    fn close(&mut self, mut tailed: Tailed) {
        let now = now_ns();
        let mut counts = LineCounts::default();
        let outbox = &mut self.outbox;
        let labels = &tailed.labels;
        let mut out = |line: Line<'_>| counts.push(outbox, labels, line);
        if !tailed.partial.is_empty() {
            let raw = std::mem::take(&mut tailed.partial);
            tailed.assembler.push(
                &raw,
                tailed.partial_truncated,
                tailed.line_start,
                now,
                &mut out,
            );
        }
        tailed.assembler.flush(&mut out);
        counts.record(&self.telemetry);
        self.outbox.acks.push(Ack::Forget(tailed.id));
        tracing::debug!(path = %tailed.path.display(), "closed drained log file");
    }

    /// Re-evaluates the globs: opens new files, marks vanished ones as draining.
    fn scan(&mut self, first: bool) {
        let paths = discovery::scan(&self.include, &self.exclude);
        if let Some(events) = &mut self.events {
            events.prune();
            for pattern in &self.include {
                watch_levels(events, pattern.as_str());
            }
        }
        let mut seen = std::collections::HashSet::new();
        for path in paths {
            let Ok(metadata) = std::fs::metadata(&path) else {
                continue;
            };
            if !metadata.is_file() {
                continue;
            }
            let id = FileId::of(&metadata);
            seen.insert(id);
            if let Some(tailed) = self.files.get_mut(&id) {
                if tailed.path != path {
                    tailed.labels = FileLabels::for_path(&path, &self.node);
                    tailed.path = path;
                }
                tailed.gone_since = None;
                continue;
            }
            if let Err(error) = self.open(&path, false) {
                tracing::warn!(path = %path.display(), %error, "cannot open log file");
            }
        }
        let now = Instant::now();
        for tailed in self.files.values_mut() {
            if !seen.contains(&tailed.id) && tailed.gone_since.is_none() {
                tailed.gone_since = Some(now);
                self.telemetry.rotations_moved.inc();
            }
        }
        if first {
            self.recover_rotated();
        }
        self.update_gauges();
    }

    /// After a restart: files with a checkpoint that no glob matched any more were
    /// rotated (renamed) while the agent was down; find them beside their old path by
    /// identity and drain them. Records of files that are gone are dropped.
    fn recover_rotated(&mut self) {
        let orphans: Vec<Record> = self.resume.drain().map(|(_, r)| r).collect();
        for record in orphans {
            let Some(dir) = record.path.parent() else {
                continue;
            };
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if discovery::is_compressed(&path) {
                    continue;
                }
                let Ok(metadata) = std::fs::metadata(&path) else {
                    continue;
                };
                if FileId::of(&metadata) == record.id && !self.files.contains_key(&record.id) {
                    self.resume.insert(record.id, record.clone());
                    match self.open(&path, true) {
                        Ok(()) => {
                            tracing::info!(path = %path.display(), "draining a file rotated while stopped")
                        }
                        Err(error) => {
                            tracing::warn!(path = %path.display(), %error, "cannot open rotated log file")
                        }
                    }
                    break;
                }
            }
        }
        self.resume.clear();
        let files: std::collections::HashSet<FileId> = self.files.keys().copied().collect();
        self.positions.retain(|r| files.contains(&r.id));
    }

    /// Opens `path`, resuming at its checkpoint when identity and fingerprint agree.
    fn open(&mut self, path: &Path, gone: bool) -> io::Result<()> {
        let file = File::open(path)?;
        let metadata = file.metadata()?;
        let id = FileId::of(&metadata);
        if self.files.contains_key(&id) {
            return Ok(());
        }
        let size = metadata.len();
        let mut offset = 0;
        if let Some(record) = self.resume.remove(&id) {
            if record.offset <= size && record.fingerprint.matches(&file)? {
                offset = record.offset;
            } else {
                // Truncated in place while the agent was stopped (copytruncate), or the
                // inode was reused. A copy beside it that starts like the recorded file
                // holds what was not yet acknowledged: finish it from the recorded offset.
                if let Some(copy) = self.find_copy(path, id, record.fingerprint, record.offset)
                    && let Ok(copy_metadata) = std::fs::metadata(&copy)
                {
                    let copy_id = FileId::of(&copy_metadata);
                    self.resume.insert(
                        copy_id,
                        Record {
                            id: copy_id,
                            path: copy.clone(),
                            ..record
                        },
                    );
                    tracing::info!(path = %path.display(), copy = %copy.display(), "truncated while stopped; finishing from its copy");
                    self.open(&copy, true)?;
                } else {
                    tracing::info!(path = %path.display(), "checkpointed inode now holds another file; reading from the start");
                }
            }
        }
        let mut head = vec![0; (offset as usize).min(FINGERPRINT_BYTES)];
        file.read_exact_at(&mut head, 0)?;
        let tailed = Tailed {
            id,
            path: path.to_path_buf(),
            labels: FileLabels::for_path(path, &self.node),
            file,
            offset,
            size,
            line_start: offset,
            partial: Vec::new(),
            partial_truncated: false,
            head,
            assembler: Assembler::new(self.config.format, self.config.max_line_bytes),
            announced: None,
            gone_since: gone.then(Instant::now),
            last_data: Instant::now(),
        };
        self.files.insert(id, tailed);
        Ok(())
    }

    /// Reads what is new in one file; whether there was anything.
    fn poll(&mut self, tailed: &mut Tailed) -> io::Result<bool> {
        let size = tailed.file.metadata()?.len();
        if size < tailed.offset || !self.head_matches(tailed)? {
            self.truncated(tailed);
        }
        tailed.size = size;
        if size <= tailed.offset {
            return Ok(false);
        }
        let want = ((size - tailed.offset) as usize).min(self.chunk.len());
        let n = tailed
            .file
            .read_at(&mut self.chunk[..want], tailed.offset)?;
        if n == 0 {
            return Ok(false);
        }
        let base = tailed.offset;
        if (base as usize) < FINGERPRINT_BYTES && tailed.head.len() == base as usize {
            let take = n.min(FINGERPRINT_BYTES - base as usize);
            tailed.head.extend_from_slice(&self.chunk[..take]);
        }
        let now = now_ns();
        let raw_max = self.config.max_line_bytes + RAW_LINE_ALLOWANCE;
        let mut counts = LineCounts::default();
        let outbox = &mut self.outbox;
        let labels = &tailed.labels;
        let mut out = |line: Line<'_>| counts.push(outbox, labels, line);
        let data = &self.chunk[..n];
        let mut pos = 0;
        for newline in memchr::memchr_iter(b'\n', data) {
            let piece = &data[pos..newline];
            if tailed.partial.is_empty() && !tailed.partial_truncated {
                let truncated = piece.len() > raw_max;
                let piece = &piece[..piece.len().min(raw_max)];
                tailed
                    .assembler
                    .push(piece, truncated, base + pos as u64, now, &mut out);
            } else {
                append_capped(
                    &mut tailed.partial,
                    &mut tailed.partial_truncated,
                    piece,
                    raw_max,
                );
                tailed.assembler.push(
                    &tailed.partial,
                    tailed.partial_truncated,
                    tailed.line_start,
                    now,
                    &mut out,
                );
                tailed.partial.clear();
                tailed.partial_truncated = false;
            }
            pos = newline + 1;
            tailed.line_start = base + pos as u64;
        }
        if pos < n {
            append_capped(
                &mut tailed.partial,
                &mut tailed.partial_truncated,
                &data[pos..],
                raw_max,
            );
        }
        tailed.offset = base + n as u64;
        tailed.last_data = Instant::now();
        self.telemetry.read_bytes.inc_by(n as f64);
        counts.record(&self.telemetry);
        self.announce(tailed);
        Ok(true)
    }

    /// Tells the sink how far this file may be checkpointed once what precedes is acked.
    fn announce(&mut self, tailed: &mut Tailed) {
        let resume = tailed.resume_offset();
        if tailed.announced != Some(resume) {
            tailed.announced = Some(resume);
            self.outbox.acks.push(Ack::Advance(tailed.record(resume)));
        }
    }

    fn head_matches(&self, tailed: &Tailed) -> io::Result<bool> {
        if tailed.head.is_empty() {
            return Ok(true);
        }
        let mut now = [0u8; FINGERPRINT_BYTES];
        let now = &mut now[..tailed.head.len()];
        let mut filled = 0;
        while filled < now.len() {
            match tailed.file.read_at(&mut now[filled..], filled as u64)? {
                0 => return Ok(false),
                n => filled += n,
            }
        }
        Ok(*now == *tailed.head)
    }

    /// The file was truncated in place (copytruncate): finish from the copy if there is
    /// one, then start over at 0.
    fn truncated(&mut self, tailed: &mut Tailed) {
        self.telemetry.rotations_truncated.inc();
        let fingerprint = Fingerprint::of(&tailed.head);
        if let Some(copy) = self.find_copy(&tailed.path, tailed.id, fingerprint, tailed.offset) {
            match self.adopt_copy(tailed, &copy) {
                Ok(()) => {
                    tracing::info!(path = %tailed.path.display(), copy = %copy.display(), "truncated; finishing from its copy")
                }
                Err(error) => {
                    tracing::warn!(path = %copy.display(), %error, "cannot open the copy of a truncated file")
                }
            }
        } else {
            tracing::info!(path = %tailed.path.display(), "truncated; reading from the start");
        }
        tailed.offset = 0;
        tailed.size = 0;
        tailed.line_start = 0;
        tailed.partial.clear();
        tailed.partial_truncated = false;
        tailed.head.clear();
        tailed.assembler = Assembler::new(self.config.format, self.config.max_line_bytes);
        tailed.announced = None;
        self.announce(tailed);
    }

    /// A file beside `original` (not `original_id`, not tailed already) that starts with
    /// `fingerprint` and holds at least `min_len` bytes: the copy copytruncate left.
    fn find_copy(
        &self,
        original: &Path,
        original_id: FileId,
        fingerprint: Fingerprint,
        min_len: u64,
    ) -> Option<PathBuf> {
        if fingerprint.len == 0 {
            return None;
        }
        let dir = original.parent()?;
        for entry in std::fs::read_dir(dir).ok()?.flatten() {
            let path = entry.path();
            if path == original || discovery::is_compressed(&path) {
                continue;
            }
            let Ok(file) = File::open(&path) else {
                continue;
            };
            let Ok(metadata) = file.metadata() else {
                continue;
            };
            let id = FileId::of(&metadata);
            if !metadata.is_file()
                || id == original_id
                || self.files.contains_key(&id)
                || metadata.len() < min_len
            {
                continue;
            }
            if fingerprint.matches(&file).unwrap_or(false) {
                return Some(path);
            }
        }
        None
    }

    /// Moves the unfinished state of `tailed` to its copy, which continues from the same
    /// offset and is drained and closed like a rotated file.
    fn adopt_copy(&mut self, tailed: &mut Tailed, path: &Path) -> io::Result<()> {
        let file = File::open(path)?;
        let metadata = file.metadata()?;
        let copy = Tailed {
            id: FileId::of(&metadata),
            path: path.to_path_buf(),
            labels: tailed.labels.clone(),
            file,
            offset: tailed.offset,
            size: metadata.len(),
            line_start: tailed.line_start,
            partial: std::mem::take(&mut tailed.partial),
            partial_truncated: tailed.partial_truncated,
            head: tailed.head.clone(),
            assembler: std::mem::replace(
                &mut tailed.assembler,
                Assembler::new(self.config.format, self.config.max_line_bytes),
            ),
            announced: None,
            gone_since: Some(Instant::now()),
            last_data: Instant::now(),
        };
        let mut copy = copy;
        // Recorded before the original's reset to 0, so a crash in between still finds
        // the copy (by identity, beside the original) and finishes it.
        self.announce(&mut copy);
        self.files.insert(copy.id, copy);
        Ok(())
    }

    fn update_gauges(&self) {
        self.telemetry.files_watched.set(self.files.len() as f64);
        let mut lag = 0u64;
        for tailed in self.files.values() {
            // Fresh sizes: while the sink is backed up, polls (which record sizes) wait.
            let size = tailed.file.metadata().map_or(tailed.size, |m| m.len());
            let acked = self.positions.acked_offset(tailed.id).unwrap_or(0);
            lag += size.saturating_sub(acked.min(size));
        }
        self.telemetry.lag_bytes.set(lag as f64);
        let seconds = if lag == 0 {
            0.0
        } else {
            let newest = match self.positions.newest_acked_ns() {
                0 => self.started_ns,
                ns => ns,
            };
            Duration::from_nanos((now_ns() - newest).max(0) as u64).as_secs_f64()
        };
        self.telemetry.lag_seconds.set(seconds);
    }
}

/// Watches every directory level a pattern can produce files under: the static root
/// (new pod directories), each directory matching an intermediate level (new container
/// directories), and the files' directories (new files, renames, writes).
fn watch_levels(events: &mut FsEvents, pattern: &str) {
    let root = static_root(pattern);
    events.watch(&root);
    let Some(parent) = Path::new(pattern).parent() else {
        return;
    };
    for level in parent
        .ancestors()
        .take_while(|a| *a != root && a.starts_with(&root))
    {
        let Some(level) = level.to_str() else {
            continue;
        };
        if let Ok(dirs) = glob::glob(level) {
            for dir in dirs.flatten().filter(|d| d.is_dir()) {
                events.watch(&dir);
            }
        }
    }
}

/// The sink went away (shutdown).
struct Closed;

/// Appends lines to the hand-off and counts them; the counters are shared atomics, so
/// they are updated once per read rather than per line.
#[derive(Default)]
struct LineCounts {
    lines: usize,
    truncated: usize,
}

impl LineCounts {
    fn push(&mut self, batch: &mut LogBatch, labels: &FileLabels, line: Line<'_>) {
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

    fn record(&self, telemetry: &ReaderTelemetry) {
        telemetry.read_lines.inc_by(self.lines as f64);
        if self.truncated > 0 {
            telemetry.truncated_lines.inc_by(self.truncated as f64);
        }
    }
}

fn append_capped(buffer: &mut Vec<u8>, truncated: &mut bool, piece: &[u8], max: usize) {
    let room = max.saturating_sub(buffer.len());
    if piece.len() > room {
        *truncated = true;
    }
    buffer.extend_from_slice(&piece[..piece.len().min(room)]);
}

/// Keeps the channel capacity that bounds memory: `max_buffered_bytes` of hand-offs.
pub fn channel_capacity(config: &KubernetesLogsConfig) -> usize {
    (config.max_buffered_bytes / config.read_chunk_bytes).max(2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::Registry;
    use std::io::Write;

    struct Fixture {
        dir: PathBuf,
        file: PathBuf,
        reader: Reader,
        input: mpsc::Receiver<LogBatch>,
    }

    fn fixture(name: &str) -> Fixture {
        let dir = std::env::temp_dir().join(format!("wp-tailer-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let container = dir.join("ns_pod_uid/app");
        std::fs::create_dir_all(&container).unwrap();
        let config = KubernetesLogsConfig {
            include: vec![format!("{}/*/*/*.log", dir.display())],
            positions_path: dir.join("positions.json"),
            ..KubernetesLogsConfig::default()
        };
        let positions = Positions::open(&config.positions_path).unwrap();
        let (tx, input) = mpsc::channel(64);
        let reader = Reader::new(
            config,
            "node".to_string(),
            positions,
            tx,
            ReaderTelemetry::new(&Registry::new()),
            CancellationToken::new(),
        );
        Fixture {
            file: container.join("0.log"),
            dir,
            reader,
            input,
        }
    }

    impl Fixture {
        fn write(&self, text: &str) {
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.file)
                .unwrap();
            file.write_all(text.as_bytes()).unwrap();
        }

        /// Scans, reads everything, and returns the lines and the last offset announced.
        fn read(&mut self) -> (Vec<String>, Option<u64>) {
            self.reader.scan(false);
            while self.reader.poll_all().ok() == Some(true) {}
            let mut lines = Vec::new();
            let mut offset = None;
            while let Ok(batch) = self.input.try_recv() {
                lines.extend(batch.entries.iter().map(|e| batch.line(e).to_string()));
                for ack in &batch.acks {
                    if let Ack::Advance(record) = ack {
                        offset = Some(record.offset);
                    }
                }
            }
            (lines, offset)
        }
    }

    impl Drop for Fixture {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    const TS: &str = "2026-11-23T12:00:00.000000000Z";

    #[test]
    fn the_checkpoint_stops_before_an_unterminated_line() {
        let mut f = fixture("unterminated");
        let first = format!("{TS} stdout F one\n");
        f.write(&first);
        f.write(&format!("{TS} stdout F tw"));
        let (lines, offset) = f.read();
        assert_eq!(lines, vec!["one"]);
        assert_eq!(offset, Some(first.len() as u64));
        f.write("o\n");
        let (lines, offset) = f.read();
        assert_eq!(lines, vec!["two"]);
        assert_eq!(offset, Some(std::fs::metadata(&f.file).unwrap().len()));
    }

    #[test]
    fn the_checkpoint_stays_before_an_unfinished_cri_piece_while_other_lines_pass() {
        let mut f = fixture("pieces");
        let complete = format!("{TS} stdout F done\n");
        f.write(&complete);
        f.write(&format!("{TS} stdout P first half, \n"));
        f.write(&format!("{TS} stderr F meanwhile on stderr\n"));
        let (lines, offset) = f.read();
        assert_eq!(lines, vec!["done", "meanwhile on stderr"]);
        assert_eq!(
            offset,
            Some(complete.len() as u64),
            "a restart must re-read the piece"
        );
        f.write(&format!("{TS} stdout F second half\n"));
        let (lines, offset) = f.read();
        assert_eq!(lines, vec!["first half, second half"]);
        assert_eq!(offset, Some(std::fs::metadata(&f.file).unwrap().len()));
    }

    #[test]
    fn an_over_long_line_is_cut_without_buffering_all_of_it() {
        let mut f = fixture("long");
        f.reader.config.max_line_bytes = 1024;
        let long = "x".repeat(100_000);
        f.write(&format!("{TS} stdout F {long}\n{TS} stdout F next\n"));
        let (lines, _) = f.read();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].len(), 1024);
        assert!(lines[0].ends_with(super::super::parser::TRUNCATION_MARKER));
        assert_eq!(lines[1], "next");
        assert!(f.reader.files.values().all(|t| t.partial.capacity() < 4096));
    }

    #[test]
    fn a_truncated_file_is_read_again_from_the_start() {
        let mut f = fixture("truncate");
        f.write(&format!(
            "{TS} stdout F before truncation, a long enough line\n"
        ));
        assert_eq!(f.read().0.len(), 1);
        std::fs::OpenOptions::new()
            .write(true)
            .open(&f.file)
            .unwrap()
            .set_len(0)
            .unwrap();
        f.write(&format!("{TS} stdout F after\n"));
        let (lines, offset) = f.read();
        assert_eq!(lines, vec!["after"]);
        assert_eq!(offset, Some(std::fs::metadata(&f.file).unwrap().len()));
    }
}
