//! The reader: one thread that follows every discovered file, turns bytes into lines and
//! hands them, with the offsets they make safe to checkpoint, to the Loki sink.
//!
//! Every file the reader sees is a *track* in the positions file from that moment on, at
//! offset 0 until Loki acknowledges some of it, and the record is on disk before any of
//! its lines leaves the reader. So after any crash every file that was seen and not fully
//! acknowledged is found again, wherever rotation moved its content ([`rotated`]).
//!
//! Rotation without loss:
//! - by rename (kubelet, logrotate `create`): the open descriptor follows the inode, so
//!   the old file is read to its end; it is closed after [`drain_idle`] without new bytes,
//!   then the new file at the path is a new track, read from 0.
//! - by copytruncate: the copy takes over the old track from where the reader had
//!   stopped, the file starts over at 0 as a new track (`tailer/rotation.rs`).
//! - deletion: the descriptor keeps the data readable; it is drained, then closed.
//!
//! Beside this loop: `tailer/tailed.rs` holds one file's state, `tailer/lines.rs` splits
//! its bytes into lines, `tailer/rotation.rs` handles truncation in place.
//!
//! [`drain_idle`]: super::config::KubernetesLogsConfig::drain_idle_seconds
//! [`rotated`]: super::rotated

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

mod lines;
mod rotation;
mod tailed;

use super::config::KubernetesLogsConfig;
use super::discovery::{self, FileLabels};
use super::parser::Line;
use super::rotated::{self, Found};
use super::telemetry::ReaderTelemetry;
use super::watch::{FsEvents, Wake, static_root};
use crate::checkpoint::{Ack, FINGERPRINT_BYTES, FileId, Positions, Record, Track};
use crate::pipeline::logs::{LogBatch, LogSender};
use lines::{LineCounts, RAW_LINE_ALLOWANCE};
use tailed::{Start, Tailed, read_head};

/// The tailing loop's state.
pub struct Reader {
    config: KubernetesLogsConfig,
    include: Vec<glob::Pattern>,
    exclude: Vec<glob::Pattern>,
    node: String,
    positions: Positions,
    /// Observations (new tracks, moved identities) not yet written: written before the
    /// next hand-off, so no line leaves the reader before its file is recorded.
    unsaved: bool,
    files: HashMap<FileId, Tailed>,
    output: LogSender,
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
        output: LogSender,
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
            chunk: vec![0; config.read_chunk_bytes],
            config,
            node,
            positions,
            unsaved: false,
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
        if self.scan(true).is_err() {
            return;
        }
        let rescan = self.config.rescan_interval_seconds.duration();
        let idle = self.config.poll_interval_seconds.duration();
        let mut last_scan = Instant::now();
        while !self.shutdown.is_cancelled() {
            if last_scan.elapsed() >= rescan {
                if self.scan(false).is_err() {
                    return;
                }
                last_scan = Instant::now();
            }
            let read_any = match self.poll_all() {
                Ok(read_any) => read_any,
                Err(SinkGone) => return,
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
                        if self.scan(false).is_err() {
                            return;
                        }
                        last_scan = Instant::now();
                    }
                }
                None => std::thread::sleep(idle.min(rescan)),
            }
        }
    }

    /// One pass over every file; whether any had new bytes.
    fn poll_all(&mut self) -> Result<bool, SinkGone> {
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

    /// Records a file's identity; written before the next hand-off.
    fn observe(&mut self, record: Record) {
        self.positions.observe(record);
        self.unsaved = true;
    }

    /// Writes the observations made since the last write. A positions file that cannot be
    /// written stops the hand-off (retried every second) rather than let lines leave
    /// whose file a restart could not find.
    fn save_observations(&mut self) -> Result<(), SinkGone> {
        if !self.unsaved {
            return Ok(());
        }
        loop {
            match self.positions.save() {
                Ok(()) => {
                    self.unsaved = false;
                    return Ok(());
                }
                Err(error) => {
                    tracing::error!(%error, "cannot record newly seen log files; reading paused");
                    for _ in 0..10 {
                        if self.shutdown.is_cancelled() {
                            return Err(SinkGone);
                        }
                        std::thread::sleep(Duration::from_millis(100));
                    }
                }
            }
        }
    }

    fn flush(&mut self) -> Result<(), SinkGone> {
        self.save_observations()?;
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
            Err(mpsc::error::TrySendError::Closed(_)) => return Err(SinkGone),
            Err(mpsc::error::TrySendError::Full(batch)) => batch,
        };
        // The sink's input is full: wait for room. This is the backpressure that keeps
        // memory bounded when Loki is slow or down. The wait wakes the moment the sink
        // takes a hand-off (sleeping instead left the sink idle, badly so on one core),
        // and at every rescan interval to keep the lag gauges current and see shutdown.
        let rescan = self.config.rescan_interval_seconds.duration();
        let Some(runtime) = self.runtime.clone() else {
            // Outside a runtime (unit tests): the plain blocking send.
            return self.output.blocking_send(batch).map_err(|_| SinkGone);
        };
        let output = self.output.clone();
        loop {
            let output = &output;
            let reserved =
                runtime.block_on(async { tokio::time::timeout(rescan, output.reserve()).await });
            match reserved {
                Ok(Ok(permit)) => {
                    permit.send(batch);
                    return Ok(());
                }
                Ok(Err(_)) => return Err(SinkGone),
                Err(_) => {
                    if self.shutdown.is_cancelled() {
                        return Err(SinkGone);
                    }
                    self.watch_while_blocked()?;
                }
            }
        }
    }

    /// While the sink takes nothing, reading waits but rotation does not: new files are
    /// still recorded and truncated files handed to their copies, so content rotated
    /// away twice during a long Loki outage is still known after a crash.
    fn watch_while_blocked(&mut self) -> Result<(), SinkGone> {
        self.scan(false)?;
        let ids: Vec<FileId> = self.files.keys().copied().collect();
        for id in ids {
            let Some(mut tailed) = self.files.remove(&id) else {
                continue;
            };
            let truncated = tailed
                .file
                .metadata()
                .and_then(|m| self.was_truncated(&tailed, m.len()));
            match truncated {
                Ok(true) => self.truncated(&mut tailed),
                Ok(false) if tailed.head.len() < FINGERPRINT_BYTES => {
                    // A file not read yet is recorded by its first bytes too, so its
                    // `.gz` can be recognised after a crash.
                    if let Ok(head) = read_head(&tailed.file)
                        && head.len() > tailed.head.len()
                    {
                        tailed.head = head;
                        let record = tailed.record(0);
                        self.observe(record);
                    }
                }
                Ok(false) => {}
                Err(error) => {
                    tracing::warn!(path = %tailed.path.display(), %error, "cannot read log file")
                }
            }
            self.files.insert(id, tailed);
        }
        self.save_observations()
    }

    fn should_close(&self, tailed: &Tailed) -> bool {
        let drain = self.config.drain_idle_seconds.duration();
        tailed
            .gone_since
            .is_some_and(|since| since.elapsed() >= drain)
            && tailed.last_data.elapsed() >= drain
            && tailed.offset >= tailed.size
    }

    /// Emits what is left of a drained file and forgets its track once all of it is
    /// acknowledged.
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
        self.outbox.acks.push(Ack::Forget(tailed.track));
        tracing::debug!(path = %tailed.path.display(), "closed drained log file");
    }

    /// Re-evaluates the globs: opens new files, marks vanished ones as draining. The
    /// first scan after a start first finds every recorded track ([`Reader::recover`]).
    fn scan(&mut self, first: bool) -> Result<(), SinkGone> {
        let paths = discovery::scan(&self.include, &self.exclude);
        if let Some(events) = &mut self.events {
            events.prune();
            for pattern in &self.include {
                watch_levels(events, pattern.as_str());
            }
        }
        let mut matched = Vec::new();
        for path in paths {
            if let Ok(metadata) = std::fs::metadata(&path)
                && metadata.is_file()
            {
                matched.push((path, FileId::of(&metadata)));
            }
        }
        if first {
            let globbed: HashSet<&Path> = matched.iter().map(|(p, _)| p.as_path()).collect();
            self.recover(&globbed);
        }
        let mut seen = HashSet::new();
        for (path, id) in matched {
            seen.insert(id);
            if let Some(tailed) = self.files.get_mut(&id) {
                tailed.gone_since = None;
                if tailed.path != path {
                    tailed.labels = FileLabels::for_path(&path, &self.node);
                    tailed.path = path;
                    let record = tailed.record(0);
                    self.observe(record);
                }
                continue;
            }
            let track = self.positions.new_track();
            if let Err(error) = self.start(track, &path, 0, 0, false) {
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
        self.update_gauges();
        self.save_observations()
    }

    /// Opens `path` as `track` at `offset` and records it.
    fn start(
        &mut self,
        track: Track,
        path: &Path,
        offset: u64,
        resent_below: u64,
        gone: bool,
    ) -> io::Result<()> {
        let file = File::open(path)?;
        let start = Start {
            track,
            path: path.to_path_buf(),
            file,
            offset,
            resent_below,
            gone,
        };
        self.adopt(start)
    }

    /// Follows `start` from now on and records where its track lives.
    fn adopt(&mut self, start: Start) -> io::Result<()> {
        let tailed = Tailed::new(start, &self.config, &self.node)?;
        if self.files.contains_key(&tailed.id) {
            // Another track already reads this file (two records found the same content
            // after a restart): one reader of it is enough, and a record no one advances
            // would stay in the positions file for ever.
            if self.positions.acked_offset(tailed.track).is_some()
                && !self.files.values().any(|t| t.track == tailed.track)
            {
                self.positions.remove(tailed.track);
                self.unsaved = true;
            }
            return Ok(());
        }
        self.observe(tailed.record(tailed.offset));
        self.files.insert(tailed.id, tailed);
        Ok(())
    }

    /// After a restart: finds every recorded track, wherever rotation moved it while the
    /// agent was down, and resumes it at its acknowledged offset. First each track's own
    /// inode (at a matched path or renamed beside it), then, for the tracks left, a copy
    /// with the same first bytes, then a `.gz` of it. A track found nowhere is gone for
    /// good and forgotten, which keeps the positions file bounded.
    fn recover(&mut self, globbed: &HashSet<&Path>) {
        let records = self.positions.records();
        let mut unresolved = Vec::new();
        for record in records {
            let dir = record.path.parent().unwrap_or(Path::new("/"));
            match rotated::same_inode(dir, record.id, record.fingerprint, record.offset) {
                Some(found) => self.resume(&record, found, globbed, "renamed"),
                None => unresolved.push(record),
            }
        }
        let scratch = self
            .config
            .positions_path
            .parent()
            .unwrap_or(Path::new("."))
            .to_path_buf();
        for record in unresolved {
            let dir = record.path.parent().unwrap_or(Path::new("/"));
            let files = &self.files;
            let skip = |_: &Path, id: FileId| files.contains_key(&id) || id == record.id;
            if let Some(found) = rotated::copy_of(dir, record.fingerprint, record.offset, skip) {
                self.resume(&record, found, globbed, "copied");
            } else if let Some(found) =
                rotated::gzip_of(dir, record.fingerprint, record.offset, &scratch)
            {
                self.resume(&record, found, globbed, "compressed");
            } else {
                tracing::info!(path = %record.path.display(), offset = record.offset, "a recorded log file is gone; forgetting it");
                self.positions.remove(record.track);
                self.unsaved = true;
            }
        }
    }

    fn resume(&mut self, record: &Record, found: Found, globbed: &HashSet<&Path>, how: &str) {
        let gone = !globbed.contains(found.path.as_path());
        if gone || found.path != record.path {
            tracing::info!(path = %found.path.display(), recorded = %record.path.display(), offset = record.offset, how, "resuming a file rotated while stopped");
        }
        let start = Start {
            track: record.track,
            path: found.path,
            file: found.file,
            offset: record.offset,
            resent_below: record.read,
            gone,
        };
        if let Err(error) = self.adopt(start) {
            tracing::warn!(path = %record.path.display(), %error, "cannot open a rotated log file");
        }
    }

    /// Reads what is new in one file; whether there was anything.
    fn poll(&mut self, tailed: &mut Tailed) -> io::Result<bool> {
        let size = tailed.file.metadata()?.len();
        if self.was_truncated(tailed, size)? {
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
        let have = tailed.head.len() as u64;
        if have < FINGERPRINT_BYTES as u64 && base <= have && have < base + n as u64 {
            let from = (have - base) as usize;
            let to = n.min(FINGERPRINT_BYTES - base as usize);
            tailed.head.extend_from_slice(&self.chunk[from..to]);
            let record = tailed.record(0);
            self.observe(record);
            // Written before these bytes become lines: a track recorded without first
            // bytes cannot be told apart from later content of its inode, so if the file
            // were copied and truncated while the agent is down, its copy could not be
            // found. A failed write is retried before the next hand-off.
            if self.positions.save().is_ok() {
                self.unsaved = false;
            }
        }
        if tailed.resent_below > base {
            let again = (tailed.resent_below - base).min(n as u64) as usize;
            let lines = memchr::memchr_iter(b'\n', &self.chunk[..again]).count();
            self.telemetry.resent_lines.inc_by(lines as f64);
        }
        let now = now_ns();
        let raw_max = self.config.max_line_bytes + RAW_LINE_ALLOWANCE;
        let mut counts = LineCounts::default();
        let outbox = &mut self.outbox;
        tailed.split(&self.chunk[..n], base, now, raw_max, |labels, line| {
            counts.push(outbox, labels, line)
        });
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
            self.outbox.acks.push(Ack::Advance {
                track: tailed.track,
                offset: resume,
            });
            self.positions.note_read(tailed.track, resume);
        }
    }

    fn update_gauges(&self) {
        self.telemetry.files_watched.set(self.files.len() as f64);
        let mut lag = 0u64;
        for tailed in self.files.values() {
            // Fresh sizes: while the sink is backed up, polls (which record sizes) wait.
            let size = tailed.file.metadata().map_or(tailed.size, |m| m.len());
            let acked = self.positions.acked_offset(tailed.track).unwrap_or(0);
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
struct SinkGone;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::Registry;
    use std::io::Write;
    use std::path::PathBuf;

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
        fn append(&self, text: &str) {
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.file)
                .unwrap();
            file.write_all(text.as_bytes()).unwrap();
        }

        /// Scans, reads everything, and returns the lines and the last offset announced.
        fn read_everything(&mut self) -> (Vec<String>, Option<u64>) {
            assert!(self.reader.scan(false).is_ok());
            while self.reader.poll_all().ok() == Some(true) {}
            let mut lines = Vec::new();
            let mut offset = None;
            while let Ok(batch) = self.input.try_recv() {
                lines.extend(batch.entries.iter().map(|e| batch.line(e).to_string()));
                for ack in &batch.acks {
                    if let Ack::Advance { offset: at, .. } = ack {
                        offset = Some(*at);
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
        f.append(&first);
        f.append(&format!("{TS} stdout F tw"));
        let (lines, offset) = f.read_everything();
        assert_eq!(lines, vec!["one"]);
        assert_eq!(offset, Some(first.len() as u64));
        f.append("o\n");
        let (lines, offset) = f.read_everything();
        assert_eq!(lines, vec!["two"]);
        assert_eq!(offset, Some(std::fs::metadata(&f.file).unwrap().len()));
    }

    #[test]
    fn the_checkpoint_stays_before_an_unfinished_cri_piece_while_other_lines_pass() {
        let mut f = fixture("pieces");
        let complete = format!("{TS} stdout F done\n");
        f.append(&complete);
        f.append(&format!("{TS} stdout P first half, \n"));
        f.append(&format!("{TS} stderr F meanwhile on stderr\n"));
        let (lines, offset) = f.read_everything();
        assert_eq!(lines, vec!["done", "meanwhile on stderr"]);
        assert_eq!(
            offset,
            Some(complete.len() as u64),
            "a restart must re-read the piece"
        );
        f.append(&format!("{TS} stdout F second half\n"));
        let (lines, offset) = f.read_everything();
        assert_eq!(lines, vec!["first half, second half"]);
        assert_eq!(offset, Some(std::fs::metadata(&f.file).unwrap().len()));
    }

    #[test]
    fn an_over_long_line_is_cut_without_buffering_all_of_it() {
        let mut f = fixture("long");
        f.reader.config.max_line_bytes = 1024;
        let long = "x".repeat(100_000);
        f.append(&format!("{TS} stdout F {long}\n{TS} stdout F next\n"));
        let (lines, _) = f.read_everything();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].len(), 1024);
        assert!(lines[0].ends_with(super::super::parser::TRUNCATION_MARKER));
        assert_eq!(lines[1], "next");
        assert!(f.reader.files.values().all(|t| t.partial.capacity() < 4096));
    }

    #[test]
    fn a_truncated_file_is_read_again_from_the_start() {
        let mut f = fixture("truncate");
        f.append(&format!(
            "{TS} stdout F before truncation, a long enough line\n"
        ));
        assert_eq!(f.read_everything().0.len(), 1);
        std::fs::OpenOptions::new()
            .write(true)
            .open(&f.file)
            .unwrap()
            .set_len(0)
            .unwrap();
        f.append(&format!("{TS} stdout F after\n"));
        let (lines, offset) = f.read_everything();
        assert_eq!(lines, vec!["after"]);
        assert_eq!(offset, Some(std::fs::metadata(&f.file).unwrap().len()));
    }
}
