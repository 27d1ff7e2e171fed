//! Acknowledgement-driven checkpoints: the positions file records, per file the reader
//! has seen, the offset up to which Loki has acknowledged every line.
//!
//! The non-obvious decisions:
//! - The offset moves when Loki answers, never when a line is read (Promtail, Fluent Bit
//!   and Vector move it on read, so a crash between read and delivery loses lines). After
//!   a crash the agent resumes at the last *acknowledged* offset: lines may be sent twice
//!   (same timestamp and content, which Loki collapses), never lost.
//! - A file is recorded the moment the reader sees it, at offset 0, before any of its
//!   lines leaves the reader. A file read while Loki was down and then rotated away is
//!   therefore still known after a crash, however many rotations happened meanwhile.
//! - Records are keyed by *track* (a file's content), not by inode: copytruncate gives an
//!   inode new content and moves the old content to a copy, and acknowledgements still in
//!   flight must land on the copy's record.
//!
//! A file is identified by device + inode and a fingerprint (FNV-1a 64) of its first
//! bytes, up to [`FINGERPRINT_BYTES`]: inodes are reused after deletion, and a reused
//! inode with different first bytes is a new file, read from the start. The fingerprint
//! also finds a track's content in a copy or in a `.gz` after a restart.
//!
//! The file is written atomically: a temporary file beside it, fsync, rename over the
//! old one, fsync of the directory. A crash leaves either the old or the new version.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::telemetry::{Counter, Gauge, Registry};

/// How many leading bytes of a file its fingerprint covers at most.
pub const FINGERPRINT_BYTES: usize = 256;

/// A file's identity on this node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FileId {
    /// `st_dev`.
    pub dev: u64,
    /// `st_ino`.
    pub inode: u64,
}

impl FileId {
    /// The identity of an open file or a stat result.
    pub fn of(metadata: &std::fs::Metadata) -> FileId {
        FileId {
            dev: metadata.dev(),
            inode: metadata.ino(),
        }
    }
}

/// A hash of a file's first `len` bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    /// How many leading bytes were hashed (at most [`FINGERPRINT_BYTES`]).
    pub len: u32,
    /// FNV-1a 64 of those bytes; chosen because it is tiny, stable across Rust versions
    /// (unlike `DefaultHasher`), and collisions only matter together with an equal inode.
    pub hash: u64,
}

impl Fingerprint {
    /// The fingerprint of `head` (already cut to the length wanted).
    pub fn of(head: &[u8]) -> Fingerprint {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in head {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
        Fingerprint {
            len: head.len() as u32,
            hash,
        }
    }

    /// Whether `head` (a file's first bytes, at least `len` of them) starts with the bytes
    /// this fingerprint was taken from.
    pub fn matches_head(&self, head: &[u8]) -> bool {
        head.len() >= self.len as usize && Fingerprint::of(&head[..self.len as usize]) == *self
    }

    /// Whether `file` still starts with the bytes this fingerprint was taken from.
    pub fn matches(&self, file: &File) -> io::Result<bool> {
        let mut head = [0u8; FINGERPRINT_BYTES];
        let head = &mut head[..(self.len as usize).min(FINGERPRINT_BYTES)];
        Ok(read_first(file, head)? == head.len() && Fingerprint::of(head) == *self)
    }
}

/// Fills `buf` with `file`'s first bytes; how many there were (fewer at end of file).
pub fn read_first(file: &File, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read_at(&mut buf[filled..], filled as u64)? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

/// A track: one file's content, followed from the moment the reader first sees it until
/// every line of it is acknowledged and the file is gone. Its identity may move (a
/// copytruncate copy takes over the content of the original; a rotated file is
/// decompressed), its track never does, so acknowledgements still in flight apply to
/// the content they were read from.
pub type Track = u64;

/// One line of the positions file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Which content.
    pub track: Track,
    /// Which file holds it now.
    pub id: FileId,
    /// What it starts with.
    pub fingerprint: Fingerprint,
    /// Every line before this byte offset was acknowledged (or deliberately dropped).
    pub offset: u64,
    /// How far the reader had handed lines to the sink when the file was last written:
    /// lines read again below it after a restart are counted as re-sent.
    #[serde(default)]
    pub read: u64,
    /// Where the file was last seen; after a restart the file, its copy or its `.gz`
    /// is searched for beside it.
    pub path: PathBuf,
}

/// What an acknowledgement does to the checkpoint, in the order the reader produced it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Ack {
    /// Everything before `offset` in `track` is delivered.
    Advance { track: Track, offset: u64 },
    /// The track's file was drained and closed: every line of it is delivered; forget it.
    Forget(Track),
}

#[derive(Debug, Serialize, Deserialize)]
struct OnDisk {
    version: u32,
    files: Vec<serde_json::Value>,
}

/// The records of version 1 files, keyed by file identity alone.
#[derive(Debug, Deserialize)]
struct RecordV1 {
    id: FileId,
    fingerprint: Fingerprint,
    offset: u64,
    path: PathBuf,
}

const VERSION: u32 = 2;

#[derive(Debug, Default)]
struct State {
    records: BTreeMap<Track, Record>,
    next_track: Track,
    dirty: bool,
    newest_acked_ns: i64,
}

/// The positions file and its in-memory state; cheap to clone.
///
/// Two writers share it: the reader records every file identity it sees ([`observe`],
/// written before any line of that file leaves the reader), and the Loki sink moves
/// offsets as Loki acknowledges ([`apply`]).
///
/// [`observe`]: Positions::observe
/// [`apply`]: Positions::apply
#[derive(Clone, Debug)]
pub struct Positions {
    path: PathBuf,
    state: Arc<Mutex<State>>,
    /// Held while writing, so the flusher's, the reader's and the shutdown write never
    /// share the temporary file.
    writing: Arc<Mutex<()>>,
    /// Signalled on every acknowledgement, to wake the flusher.
    changed: Arc<tokio::sync::Notify>,
    telemetry: Option<PositionsTelemetry>,
}

/// The positions file's `node_agent_logs_positions_*` series: an on-call engineer's
/// proof that checkpoints are still being recorded.
#[derive(Clone, Debug)]
struct PositionsTelemetry {
    last_write: Gauge,
    write_errors: Counter,
    tracks: Gauge,
}

impl Positions {
    /// Opens (or starts) the positions file at `path`. A file that cannot be parsed is an
    /// error rather than an empty start, because starting empty would re-send every log
    /// on the node.
    pub fn open(path: &Path) -> io::Result<Positions> {
        let records = match std::fs::read(path) {
            Ok(bytes) => parse(&bytes).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("positions file {} is corrupt: {e}", path.display()),
                )
            })?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(e),
        };
        let next_track = records.keys().next_back().map_or(1, |t| t + 1);
        Ok(Positions {
            path: path.to_path_buf(),
            state: Arc::new(Mutex::new(State {
                records,
                next_track,
                ..State::default()
            })),
            writing: Arc::default(),
            changed: Arc::default(),
            telemetry: None,
        })
    }

    /// Registers the positions file's series in `registry`.
    pub fn with_telemetry(mut self, registry: &Registry) -> Positions {
        let telemetry = PositionsTelemetry {
            last_write: registry.gauge(
                "node_agent_logs_positions_last_write_timestamp_seconds",
                "When the positions file was last written (Unix time); 0 before the first write.",
                &[],
            ),
            write_errors: registry.counter(
                "node_agent_logs_positions_write_errors_total",
                "Failed writes of the positions file (checkpoints not recorded; retried).",
                &[],
            ),
            tracks: registry.gauge(
                "node_agent_logs_positions_tracks",
                "Files recorded in the positions file (seen and not yet fully acknowledged and gone).",
                &[],
            ),
        };
        telemetry.tracks.set(self.lock().records.len() as f64);
        self.telemetry = Some(telemetry);
        self
    }

    /// The recorded tracks, oldest first.
    pub fn records(&self) -> Vec<Record> {
        self.lock().records.values().cloned().collect()
    }

    /// A track number never used before in this positions file's life.
    pub fn new_track(&self) -> Track {
        let mut state = self.lock();
        let track = state.next_track;
        state.next_track += 1;
        track
    }

    /// The acknowledged offset of `track`, if recorded.
    pub fn acked_offset(&self, track: Track) -> Option<u64> {
        self.lock().records.get(&track).map(|r| r.offset)
    }

    /// Timestamp (ns since epoch) of the newest entry Loki acknowledged, 0 before any.
    pub fn newest_acked_ns(&self) -> i64 {
        self.lock().newest_acked_ns
    }

    /// Records where `record.track` lives now: a new track at `record.offset`, or a known
    /// one at a new identity, fingerprint or path (its acknowledged offset is kept).
    /// Written by the next [`save`](Positions::save), which the reader does before it
    /// hands on any line of the file.
    pub fn observe(&self, record: Record) {
        let mut state = self.lock();
        match state.records.get_mut(&record.track) {
            Some(known) => {
                if known.id == record.id
                    && known.fingerprint == record.fingerprint
                    && known.path == record.path
                {
                    return;
                }
                known.id = record.id;
                known.fingerprint = record.fingerprint;
                known.path = record.path;
                known.offset = known.offset.max(record.offset);
            }
            None => {
                state.records.insert(record.track, record);
            }
        }
        state.dirty = true;
    }

    /// Notes how far the reader has handed `track`'s lines on; written with the next
    /// write, never causing one.
    pub fn note_read(&self, track: Track, offset: u64) {
        if let Some(record) = self.lock().records.get_mut(&track) {
            record.read = record.read.max(offset);
        }
    }

    /// Forgets a track whose file is gone for good (found nowhere after a restart).
    pub fn remove(&self, track: Track) {
        let mut state = self.lock();
        if state.records.remove(&track).is_some() {
            state.dirty = true;
        }
    }

    /// Applies acknowledgements in order; `newest_entry_ns` is the newest timestamp among
    /// the acknowledged entries (for the lag metric).
    pub fn apply(&self, acks: &[Ack], newest_entry_ns: Option<i64>) {
        let mut state = self.lock();
        for ack in acks {
            match *ack {
                Ack::Advance { track, offset } => {
                    if let Some(record) = state.records.get_mut(&track) {
                        record.offset = record.offset.max(offset);
                        record.read = record.read.max(offset);
                    }
                }
                Ack::Forget(track) => {
                    state.records.remove(&track);
                }
            }
        }
        if let Some(ns) = newest_entry_ns {
            state.newest_acked_ns = state.newest_acked_ns.max(ns);
        }
        if !acks.is_empty() {
            state.dirty = true;
            self.changed.notify_one();
        }
    }

    /// Writes the file if anything changed since the last write.
    pub fn save(&self) -> io::Result<()> {
        let _writing = self.writing.lock().expect("positions writer poisoned");
        let (bytes, tracks) = {
            let mut state = self.lock();
            if !state.dirty {
                return Ok(());
            }
            state.dirty = false;
            let files = state
                .records
                .values()
                .map(|r| serde_json::to_value(r).expect("positions serialize"))
                .collect();
            let bytes = serde_json::to_vec_pretty(&OnDisk {
                version: VERSION,
                files,
            })
            .expect("positions serialize");
            (bytes, state.records.len())
        };
        let result = write_atomically(&self.path, &bytes);
        if result.is_err() {
            self.lock().dirty = true;
        }
        if let Some(telemetry) = &self.telemetry {
            match &result {
                Ok(()) => {
                    let now = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0.0, |d| d.as_secs_f64());
                    telemetry.last_write.set(now);
                    telemetry.tracks.set(tracks as f64);
                }
                Err(_) => telemetry.write_errors.inc(),
            }
        }
        result
    }

    /// Writes the file after each acknowledgement, at most `delay` later, until
    /// `shutdown`; acknowledgements that arrive meanwhile share the next write (group
    /// commit), so `delay` 0 writes as soon as possible without one fsync per batch. The
    /// final write is the Loki sink's, after its last acknowledgement.
    pub async fn run_flusher(self, delay: Duration, shutdown: CancellationToken) {
        loop {
            tokio::select! {
                _ = self.changed.notified() => {}
                _ = shutdown.cancelled() => break,
            }
            if !delay.is_zero() {
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = shutdown.cancelled() => break,
                }
            }
            let me = self.clone();
            // fsync blocks; keep it off the runtime thread.
            let result = tokio::task::spawn_blocking(move || me.save()).await;
            let failed = match result {
                Ok(Ok(())) => false,
                Ok(Err(error)) => {
                    tracing::error!(path = %self.path.display(), %error, "cannot write positions file");
                    true
                }
                Err(error) => {
                    tracing::error!(%error, "positions writer panicked");
                    true
                }
            };
            if failed {
                // Still dirty: try again even if no acknowledgement comes.
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => self.changed.notify_one(),
                    _ = shutdown.cancelled() => break,
                }
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("positions state poisoned")
    }
}

/// Reads version 2, and version 1 (one record per file identity, each becoming a track).
fn parse(bytes: &[u8]) -> Result<BTreeMap<Track, Record>, String> {
    let on_disk: OnDisk = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    let mut records = BTreeMap::new();
    match on_disk.version {
        1 => {
            for (n, value) in on_disk.files.into_iter().enumerate() {
                let v1: RecordV1 = serde_json::from_value(value).map_err(|e| e.to_string())?;
                let track = n as Track + 1;
                records.insert(
                    track,
                    Record {
                        track,
                        id: v1.id,
                        fingerprint: v1.fingerprint,
                        offset: v1.offset,
                        read: v1.offset,
                        path: v1.path,
                    },
                );
            }
        }
        VERSION => {
            for value in on_disk.files {
                let record: Record = serde_json::from_value(value).map_err(|e| e.to_string())?;
                if records.insert(record.track, record).is_some() {
                    return Err("a track is recorded twice".to_string());
                }
            }
        }
        other => {
            return Err(format!(
                "unknown version {other} (this agent reads 1 and 2)"
            ));
        }
    }
    Ok(records)
}

fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    let temp = dir.join(name);
    {
        let mut file = File::create(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
    }
    std::fs::rename(&temp, path)?;
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(track: Track, inode: u64, offset: u64) -> Record {
        Record {
            track,
            id: FileId { dev: 1, inode },
            fingerprint: Fingerprint::of(b"2026-01-01"),
            offset,
            read: offset,
            path: PathBuf::from(format!("/var/log/pods/x/{inode}.log")),
        }
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("wp-ckpt-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn acknowledged_offsets_survive_a_reopen() {
        let dir = temp_dir("reopen");
        let path = dir.join("positions.json");
        let positions = Positions::open(&path).unwrap();
        positions.observe(record(1, 7, 0));
        positions.observe(record(2, 8, 0));
        positions.apply(
            &[
                Ack::Advance {
                    track: 1,
                    offset: 100,
                },
                Ack::Advance {
                    track: 2,
                    offset: 5,
                },
                Ack::Advance {
                    track: 1,
                    offset: 250,
                },
                Ack::Forget(2),
            ],
            Some(42),
        );
        positions.save().unwrap();
        let reopened = Positions::open(&path).unwrap();
        assert_eq!(reopened.records(), vec![record(1, 7, 250)]);
        assert_eq!(
            reopened.new_track(),
            2,
            "the next track follows the newest recorded one"
        );
        assert!(!dir.join("positions.json.tmp").exists());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn an_observed_file_is_recorded_at_offset_zero_before_any_acknowledgement() {
        let dir = temp_dir("observe");
        let path = dir.join("positions.json");
        let positions = Positions::open(&path).unwrap();
        positions.observe(record(1, 7, 0));
        positions.save().unwrap();
        assert_eq!(
            Positions::open(&path).unwrap().records(),
            vec![record(1, 7, 0)]
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_track_moved_to_its_copy_keeps_its_offset_and_late_acks_still_apply() {
        let dir = temp_dir("move");
        let positions = Positions::open(&dir.join("positions.json")).unwrap();
        positions.observe(record(1, 7, 0));
        positions.apply(
            &[Ack::Advance {
                track: 1,
                offset: 100,
            }],
            None,
        );
        let mut copy = record(1, 9, 0);
        copy.path = PathBuf::from("/var/log/pods/x/7.log.1");
        positions.observe(copy.clone());
        positions.apply(
            &[Ack::Advance {
                track: 1,
                offset: 300,
            }],
            None,
        );
        let recorded = &positions.records()[0];
        assert_eq!((recorded.id, recorded.offset), (copy.id, 300));
        assert_eq!(recorded.path, copy.path);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn the_read_offset_rides_along_without_causing_a_write() {
        let dir = temp_dir("read");
        let path = dir.join("positions.json");
        let positions = Positions::open(&path).unwrap();
        positions.observe(record(1, 7, 0));
        positions.save().unwrap();
        positions.note_read(1, 500);
        positions.save().unwrap();
        assert_eq!(Positions::open(&path).unwrap().records()[0].read, 0);
        positions.apply(
            &[Ack::Advance {
                track: 1,
                offset: 100,
            }],
            None,
        );
        positions.save().unwrap();
        let reopened = &Positions::open(&path).unwrap().records()[0];
        assert_eq!((reopened.offset, reopened.read), (100, 500));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_version_1_file_becomes_one_track_per_file() {
        let dir = temp_dir("v1");
        let path = dir.join("positions.json");
        std::fs::write(
            &path,
            br#"{"version":1,"files":[{"id":{"dev":1,"inode":7},"fingerprint":{"len":3,"hash":9},"offset":40,"path":"/a/0.log"}]}"#,
        )
        .unwrap();
        let records = Positions::open(&path).unwrap().records();
        assert_eq!(records.len(), 1);
        assert_eq!(
            (records[0].track, records[0].offset, records[0].read),
            (1, 40, 40)
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_corrupt_positions_file_is_an_error_not_a_fresh_start() {
        let dir = temp_dir("corrupt");
        let path = dir.join("positions.json");
        for bad in [&b"{not json"[..], br#"{"version":9,"files":[]}"#] {
            std::fs::write(&path, bad).unwrap();
            let error = Positions::open(&path).unwrap_err();
            assert!(error.to_string().contains("corrupt"), "{error}");
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn writes_and_failed_writes_show_in_the_positions_series() {
        let dir = temp_dir("series");
        let registry = Registry::new();
        let positions = Positions::open(&dir.join("positions.json"))
            .unwrap()
            .with_telemetry(&registry);
        positions.observe(record(1, 7, 0));
        positions.save().unwrap();
        let telemetry = positions.telemetry.clone().unwrap();
        assert!(telemetry.last_write.get() > 1.7e9);
        assert_eq!(telemetry.tracks.get(), 1.0);
        // The temporary file cannot be created where a directory stands.
        std::fs::create_dir(dir.join("positions.json.tmp")).unwrap();
        positions.observe(record(2, 8, 0));
        assert!(positions.save().is_err());
        assert_eq!(telemetry.write_errors.get(), 1.0);
        assert_eq!(telemetry.tracks.get(), 1.0, "not written, not counted");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_missing_positions_file_starts_empty() {
        let dir = temp_dir("missing");
        let positions = Positions::open(&dir.join("positions.json")).unwrap();
        assert!(positions.records().is_empty());
        positions.save().unwrap();
        assert!(
            !dir.join("positions.json").exists(),
            "nothing changed, nothing written"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn fingerprint_matches_only_the_same_leading_bytes() {
        let dir = temp_dir("fp");
        let path = dir.join("a.log");
        std::fs::write(&path, b"first line\nsecond\n").unwrap();
        let file = File::open(&path).unwrap();
        assert!(Fingerprint::of(b"first line").matches(&file).unwrap());
        assert!(!Fingerprint::of(b"other line").matches(&file).unwrap());
        let longer = Fingerprint::of(&[b'x'; 100]);
        assert!(
            !longer.matches(&file).unwrap(),
            "a shorter file cannot match"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
