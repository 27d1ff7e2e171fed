//! The log file a sidecar tails (LOG_FILE): a second copy of stdout's lines, rotated by size.
//!
//! Rotation renames (`app.log` → `app.log.1` → `app.log.2`, the oldest overwritten) and
//! creates a new file at the path, the way logrotate's default and the kubelet rotate. A
//! tailer that holds the old file open reads it to its end and then opens the new one, so
//! no line is lost; copytruncate would race the tailer and lose the lines written between
//! the copy and the truncation. A line never straddles two files: the tailer would ship
//! its halves as two lines. The file is written only by the log writer thread
//! (`log_writer.rs`), so a slow or failing disk never reaches the request path; a
//! failure is reported once on stderr (stdout, the log of record, keeps every line) and
//! writing is retried on the next batch.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::config::LogFileSettings;

/// Appends whole lines to LOG_FILE, rotating before a line would take it past its limit.
pub struct RotatingFile {
    settings: LogFileSettings,
    /// `None` after a failure: the next batch opens the path again (the file may have been
    /// removed, or the disk was full for a while).
    file: Option<File>,
    /// Bytes in the current file.
    size: u64,
    /// The failure being reported, so a persistent one is printed once, not per batch.
    failing: Option<String>,
}

impl RotatingFile {
    /// Opens (or creates) the file at `settings.path` for appending; lines already in it stay.
    pub fn open(settings: LogFileSettings) -> io::Result<Self> {
        let (file, size) = open_for_append(&settings.path)?;
        Ok(Self {
            settings,
            file: Some(file),
            size,
            failing: None,
        })
    }

    /// Appends `batch` (whole lines); a failure is reported on stderr, never returned, so
    /// the caller's other output carries on.
    pub fn write_lines(&mut self, batch: &[u8]) {
        match self.try_write_lines(batch) {
            Ok(()) => {
                if self.failing.take().is_some() {
                    eprintln!(
                        "task-api: writing the log file {} works again",
                        self.settings.path.display()
                    );
                }
            }
            Err(error) => {
                self.file = None;
                let error = error.to_string();
                if self.failing.as_deref() != Some(error.as_str()) {
                    eprintln!(
                        "task-api: writing the log file {} failed: {error}; its lines are \
                         lost until it works again, stdout keeps every line",
                        self.settings.path.display()
                    );
                    self.failing = Some(error);
                }
            }
        }
    }

    fn try_write_lines(&mut self, mut batch: &[u8]) -> io::Result<()> {
        while !batch.is_empty() {
            let file = match &mut self.file {
                Some(file) => file,
                None => {
                    let (file, size) = open_for_append(&self.settings.path)?;
                    self.size = size;
                    self.file.insert(file)
                }
            };
            let room = self.settings.max_bytes.saturating_sub(self.size);
            let mut fits = whole_lines_within(batch, room);
            if fits == 0 {
                if self.size > 0 {
                    self.rotate()?;
                    continue;
                }
                // A line longer than the limit goes whole into a file of its own.
                fits = batch
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(batch.len(), |newline| newline + 1);
            }
            file.write_all(&batch[..fits])?;
            self.size += fits as u64;
            batch = &batch[fits..];
        }
        Ok(())
    }

    /// Renames `path.N-1` → `path.N` … `path` → `path.1` and starts a new file at `path`.
    fn rotate(&mut self) -> io::Result<()> {
        self.file = None;
        let path = &self.settings.path;
        for n in (1..self.settings.max_files).rev() {
            match std::fs::rename(rotated(path, n), rotated(path, n + 1)) {
                Err(error) if error.kind() != io::ErrorKind::NotFound => return Err(error),
                _ => {}
            }
        }
        std::fs::rename(path, rotated(path, 1))?;
        let (file, size) = open_for_append(path)?;
        self.file = Some(file);
        self.size = size;
        Ok(())
    }
}

/// The length of the longest run of whole lines at the start of `batch` that fits in
/// `room` bytes (all of `batch` when it fits, even without a final newline).
fn whole_lines_within(batch: &[u8], room: u64) -> usize {
    if batch.len() as u64 <= room {
        return batch.len();
    }
    let room = usize::try_from(room).unwrap_or(usize::MAX);
    batch[..room]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |newline| newline + 1)
}

fn open_for_append(path: &Path) -> io::Result<(File, u64)> {
    let file = OpenOptions::new().create(true).append(true).open(path)?;
    let size = file.metadata()?.len();
    Ok((file, size))
}

/// `path.n`, the n-th most recent rotated file.
pub fn rotated(path: &Path, n: u32) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(dir: &Path, max_bytes: u64, max_files: u32) -> LogFileSettings {
        LogFileSettings {
            path: dir.join("app.log"),
            max_bytes,
            max_files,
        }
    }

    fn contents(path: &Path) -> String {
        std::fs::read_to_string(path).unwrap_or_default()
    }

    /// `count` lines of exactly `len` bytes each, numbered so order and loss show.
    fn lines(first: usize, count: usize, len: usize) -> Vec<String> {
        (first..first + count)
            .map(|i| format!("{:0>width$}\n", i, width = len - 1))
            .collect()
    }

    #[test]
    fn files_rotate_by_rename_before_they_would_pass_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let settings = settings(dir.path(), 4096, 2);
        let mut file = RotatingFile::open(settings.clone()).unwrap();
        // 100-byte lines: 40 fit in 4096 bytes; 100 lines make files of 40, 40 and 20.
        for line in lines(0, 100, 100) {
            file.write_lines(line.as_bytes());
        }
        let (current, one, two) = (
            contents(&settings.path),
            contents(&rotated(&settings.path, 1)),
            contents(&rotated(&settings.path, 2)),
        );
        assert_eq!(two, lines(0, 40, 100).concat());
        assert_eq!(one, lines(40, 40, 100).concat());
        assert_eq!(current, lines(80, 20, 100).concat());
        assert!(!rotated(&settings.path, 3).exists());
    }

    #[test]
    fn only_max_files_rotated_files_are_kept_and_the_oldest_go() {
        let dir = tempfile::tempdir().unwrap();
        let settings = settings(dir.path(), 4096, 3);
        let mut file = RotatingFile::open(settings.clone()).unwrap();
        // 1024-byte lines, four per file: 40 lines make 10 files, of which 4 remain.
        for line in lines(0, 40, 1024) {
            file.write_lines(line.as_bytes());
        }
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["app.log", "app.log.1", "app.log.2", "app.log.3"]);
        assert_eq!(
            contents(&rotated(&settings.path, 3)),
            lines(24, 4, 1024).concat()
        );
        assert_eq!(contents(&settings.path), lines(36, 4, 1024).concat());
        for name in names {
            let size = std::fs::metadata(dir.path().join(&name)).unwrap().len();
            assert_eq!(size, 4096, "{name}");
        }
    }

    #[test]
    fn a_batch_is_cut_between_lines_never_inside_one() {
        let dir = tempfile::tempdir().unwrap();
        let settings = settings(dir.path(), 4096, 5);
        let mut file = RotatingFile::open(settings.clone()).unwrap();
        // 300-byte lines in batches of 7: no file boundary falls on a batch boundary.
        let all = lines(0, 70, 300);
        for batch in all.chunks(7) {
            file.write_lines(batch.concat().as_bytes());
        }
        let mut shipped = String::new();
        for n in (1..=5).rev() {
            let text = contents(&rotated(&settings.path, n));
            assert!(text.len() <= 4096 && text.ends_with('\n'), "app.log.{n}");
            shipped.push_str(&text);
        }
        let text = contents(&settings.path);
        assert!(text.len() <= 4096 && text.ends_with('\n'));
        shipped.push_str(&text);
        assert_eq!(shipped, all.concat(), "every line whole, once, in order");
    }

    #[test]
    fn a_line_longer_than_the_limit_gets_a_file_of_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let settings = settings(dir.path(), 4096, 2);
        let mut file = RotatingFile::open(settings.clone()).unwrap();
        let long = format!("{}\n", "x".repeat(5000));
        file.write_lines(b"short\n");
        file.write_lines(format!("{long}after\n").as_bytes());
        assert_eq!(contents(&rotated(&settings.path, 2)), "short\n");
        assert_eq!(contents(&rotated(&settings.path, 1)), long);
        assert_eq!(contents(&settings.path), "after\n");
    }

    #[test]
    fn a_restart_appends_to_the_file_and_counts_what_is_there() {
        let dir = tempfile::tempdir().unwrap();
        let settings = settings(dir.path(), 4096, 2);
        std::fs::write(&settings.path, "x".repeat(4000) + "\n").unwrap();
        let mut file = RotatingFile::open(settings.clone()).unwrap();
        file.write_lines(&[b'y'; 100]);
        assert_eq!(contents(&rotated(&settings.path, 1)).len(), 4001);
        assert_eq!(contents(&settings.path), "y".repeat(100));
    }

    #[test]
    fn a_removed_directory_loses_lines_only_until_it_is_back() {
        let dir = tempfile::tempdir().unwrap();
        let logs = dir.path().join("logs");
        std::fs::create_dir(&logs).unwrap();
        let settings = settings(&logs, 4096, 2);
        let mut file = RotatingFile::open(settings.clone()).unwrap();
        file.write_lines(b"one\n");
        std::fs::remove_dir_all(&logs).unwrap();
        // The open file still takes this line (it is unlinked, not gone), then rotation
        // cannot rename into the missing directory.
        file.write_lines("z".repeat(4096).as_bytes());
        file.write_lines(b"lost\n");
        assert!(file.failing.is_some());
        std::fs::create_dir(&logs).unwrap();
        file.write_lines(b"three\n");
        assert!(file.failing.is_none());
        assert_eq!(contents(&settings.path), "three\n");
    }
}
