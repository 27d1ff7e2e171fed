//! Acknowledgement-driven checkpoints: the positions file records, per file identity,
//! the offset up to which Loki has acknowledged every line.
//!
//! The non-obvious decision: the offset moves when Loki answers, never when a line is
//! read (Promtail, Fluent Bit and Vector move it on read, so a crash between read and
//! delivery loses lines). After a crash the agent resumes at the last *acknowledged*
//! offset: lines may be sent twice (same timestamp and content, which Loki collapses),
//! never lost.
//!
//! A file is identified by device + inode and a fingerprint (FNV-1a 64) of its first
//! bytes, up to [`FINGERPRINT_BYTES`]: inodes are reused after deletion, and a reused
//! inode with different first bytes is a new file, read from the start.
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

    /// Whether `file` still starts with the bytes this fingerprint was taken from.
    pub fn matches(&self, file: &File) -> io::Result<bool> {
        let mut head = vec![0u8; self.len as usize];
        let mut filled = 0;
        while filled < head.len() {
            match file.read_at(&mut head[filled..], filled as u64)? {
                0 => return Ok(false),
                n => filled += n,
            }
        }
        Ok(Fingerprint::of(&head) == *self)
    }
}

/// One line of the positions file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Which file.
    pub id: FileId,
    /// What it started with when the offset was recorded.
    pub fingerprint: Fingerprint,
    /// Every line before this byte offset was acknowledged (or deliberately dropped).
    pub offset: u64,
    /// Where the file was last seen; used after a restart to find a file that was
    /// rotated away while the agent was down.
    pub path: PathBuf,
}

/// What an acknowledgement does to the checkpoint, in the order the reader produced it.
#[derive(Clone, Debug, PartialEq)]
pub enum Ack {
    /// Everything before `record.offset` in `record.id` is delivered.
    Advance(Record),
    /// The file was drained and closed; forget it.
    Forget(FileId),
}

#[derive(Debug, Serialize, Deserialize)]
struct OnDisk {
    version: u32,
    files: Vec<Record>,
}

#[derive(Debug, Default)]
struct State {
    records: BTreeMap<FileId, Record>,
    dirty: bool,
    newest_acked_ns: i64,
}

/// The positions file and its in-memory state; cheap to clone.
#[derive(Clone, Debug)]
pub struct Positions {
    path: PathBuf,
    state: Arc<Mutex<State>>,
    /// Held while writing, so the flusher's and the shutdown write never share the
    /// temporary file.
    writing: Arc<Mutex<()>>,
    /// Signalled on every change, to wake the flusher.
    changed: Arc<tokio::sync::Notify>,
}

impl Positions {
    /// Opens (or starts) the positions file at `path`. A file that cannot be parsed is an
    /// error rather than an empty start, because starting empty would re-send every log
    /// on the node.
    pub fn open(path: &Path) -> io::Result<Positions> {
        let records = match std::fs::read(path) {
            Ok(bytes) => {
                let on_disk: OnDisk = serde_json::from_slice(&bytes).map_err(|e| {
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("positions file {} is corrupt: {e}", path.display()),
                    )
                })?;
                on_disk.files.into_iter().map(|r| (r.id, r)).collect()
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(e),
        };
        Ok(Positions {
            path: path.to_path_buf(),
            state: Arc::new(Mutex::new(State {
                records,
                ..State::default()
            })),
            writing: Arc::default(),
            changed: Arc::default(),
        })
    }

    /// The recorded files, as loaded or since updated.
    pub fn records(&self) -> Vec<Record> {
        self.lock().records.values().cloned().collect()
    }

    /// The acknowledged offset of `id`, if recorded.
    pub fn acked_offset(&self, id: FileId) -> Option<u64> {
        self.lock().records.get(&id).map(|r| r.offset)
    }

    /// Timestamp (ns since epoch) of the newest entry Loki acknowledged, 0 before any.
    pub fn newest_acked_ns(&self) -> i64 {
        self.lock().newest_acked_ns
    }

    /// Applies acknowledgements in order; `newest_entry_ns` is the newest timestamp among
    /// the acknowledged entries (for the lag metric).
    pub fn apply(&self, acks: &[Ack], newest_entry_ns: Option<i64>) {
        let mut state = self.lock();
        for ack in acks {
            match ack {
                Ack::Advance(record) => {
                    state.records.insert(record.id, record.clone());
                }
                Ack::Forget(id) => {
                    state.records.remove(id);
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

    /// Drops records of files that no longer exist anywhere the reader looked at start.
    pub fn retain(&self, keep: impl Fn(&Record) -> bool) {
        let mut state = self.lock();
        let before = state.records.len();
        state.records.retain(|_, r| keep(r));
        state.dirty |= state.records.len() != before;
    }

    /// Writes the file if anything changed since the last write.
    pub fn save(&self) -> io::Result<()> {
        let _writing = self.writing.lock().expect("positions writer poisoned");
        let bytes = {
            let mut state = self.lock();
            if !state.dirty {
                return Ok(());
            }
            state.dirty = false;
            let on_disk = OnDisk {
                version: 1,
                files: state.records.values().cloned().collect(),
            };
            serde_json::to_vec_pretty(&on_disk).expect("positions serialize")
        };
        let result = write_atomically(&self.path, &bytes);
        if result.is_err() {
            self.lock().dirty = true;
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

    fn record(inode: u64, offset: u64) -> Record {
        Record {
            id: FileId { dev: 1, inode },
            fingerprint: Fingerprint::of(b"2026-01-01"),
            offset,
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
        positions.apply(
            &[
                Ack::Advance(record(7, 100)),
                Ack::Advance(record(8, 5)),
                Ack::Advance(record(7, 250)),
                Ack::Forget(FileId { dev: 1, inode: 8 }),
            ],
            Some(42),
        );
        positions.save().unwrap();
        let reopened = Positions::open(&path).unwrap();
        assert_eq!(reopened.records(), vec![record(7, 250)]);
        assert!(!dir.join("positions.json.tmp").exists());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_corrupt_positions_file_is_an_error_not_a_fresh_start() {
        let dir = temp_dir("corrupt");
        let path = dir.join("positions.json");
        std::fs::write(&path, b"{not json").unwrap();
        let error = Positions::open(&path).unwrap_err();
        assert!(error.to_string().contains("corrupt"), "{error}");
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
