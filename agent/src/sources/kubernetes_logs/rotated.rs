//! Where a file's content went after a rotation the reader did not see through: the same
//! inode under another name (rename), a file with the same first bytes (copytruncate's
//! copy), or a gzip of it (the kubelet compresses every rotated file but the newest, and
//! logrotate does with `compress`).
//!
//! The non-obvious decision: a `.gz` holding unacknowledged lines is finished rather than
//! skipped. It is decompressed into an unlinked scratch file beside the positions file, so
//! the reader follows it like any rotated file, by offset, and its identity is checked by
//! the fingerprint of the *decompressed* first bytes.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use super::discovery;
use crate::checkpoint::{FileId, Fingerprint};

/// A file found for a recorded track.
pub struct Found {
    pub path: PathBuf,
    pub file: File,
}

/// The regular files in `dir`, `.gz` or not.
fn siblings(dir: &Path, compressed: bool) -> impl Iterator<Item = PathBuf> {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .filter(move |path| discovery::is_compressed(path) == compressed)
}

/// The file in `dir` with identity `id`, if it still starts with `fingerprint` and holds
/// at least `min_len` bytes.
pub fn same_inode(dir: &Path, id: FileId, fingerprint: Fingerprint, min_len: u64) -> Option<Found> {
    for path in siblings(dir, false) {
        let Ok(metadata) = std::fs::metadata(&path) else {
            continue;
        };
        if !metadata.is_file() || FileId::of(&metadata) != id {
            continue;
        }
        let file = File::open(&path).ok()?;
        let metadata = file.metadata().ok()?;
        if FileId::of(&metadata) == id
            && metadata.len() >= min_len
            && fingerprint.matches(&file).unwrap_or(false)
        {
            return Some(Found { path, file });
        }
        return None;
    }
    None
}

/// A file in `dir` (not compressed, not `skip`ped) that starts with `fingerprint` and
/// holds at least `min_len` bytes: the copy copytruncate left.
pub fn copy_of(
    dir: &Path,
    fingerprint: Fingerprint,
    min_len: u64,
    skip: impl Fn(&Path, FileId) -> bool,
) -> Option<Found> {
    if fingerprint.len == 0 {
        return None;
    }
    for path in siblings(dir, false) {
        let Ok(file) = File::open(&path) else {
            continue;
        };
        let Ok(metadata) = file.metadata() else {
            continue;
        };
        if !metadata.is_file() || metadata.len() < min_len || skip(&path, FileId::of(&metadata)) {
            continue;
        }
        if fingerprint.matches(&file).unwrap_or(false) {
            return Some(Found { path, file });
        }
    }
    None
}

/// A `.gz` in `dir` whose decompressed content starts with `fingerprint`, decompressed
/// into an unlinked file in `scratch` (at least `min_len` bytes, or it is not the one).
pub fn gzip_of(
    dir: &Path,
    fingerprint: Fingerprint,
    min_len: u64,
    scratch: &Path,
) -> Option<Found> {
    if fingerprint.len == 0 {
        return None;
    }
    for path in siblings(dir, true) {
        let Ok(file) = File::open(&path) else {
            continue;
        };
        let mut head = Vec::with_capacity(fingerprint.len as usize);
        let mut decoder = flate2::read::MultiGzDecoder::new(file).take(u64::from(fingerprint.len));
        if decoder.read_to_end(&mut head).is_err() || !fingerprint.matches_head(&head) {
            continue;
        }
        match decompress(&path, scratch) {
            Ok(file) if file.metadata().is_ok_and(|m| m.len() >= min_len) => {
                return Some(Found { path, file });
            }
            Ok(_) => {
                tracing::warn!(path = %path.display(), "compressed rotation is shorter than what was read of it; not resuming it");
            }
            Err(error) => {
                tracing::error!(path = %path.display(), %error, "cannot decompress a rotated log file holding unacknowledged lines");
            }
        }
    }
    None
}

/// Decompresses `gz` into an unlinked file in `scratch`, so its space is freed when the
/// reader closes it. A stream damaged midway keeps what decompressed before the damage.
fn decompress(gz: &Path, scratch: &Path) -> io::Result<File> {
    std::fs::create_dir_all(scratch)?;
    let name = gz.file_name().unwrap_or_default().to_string_lossy();
    let temp = scratch.join(format!(".restore-{}-{name}", std::process::id()));
    let mut out = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&temp)?;
    std::fs::remove_file(&temp)?;
    let mut decoder = flate2::read::MultiGzDecoder::new(File::open(gz)?);
    if let Err(error) = io::copy(&mut decoder, &mut out) {
        tracing::warn!(path = %gz.display(), %error, "compressed rotation is damaged; reading what decompressed");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("wp-rotated-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn gzip(path: &Path, content: &[u8]) {
        let mut encoder =
            flate2::write::GzEncoder::new(File::create(path).unwrap(), flate2::Compression::fast());
        encoder.write_all(content).unwrap();
        encoder.finish().unwrap();
    }

    #[test]
    fn a_gzip_is_found_by_its_decompressed_first_bytes_and_read_in_full() {
        let dir = temp_dir("gz");
        let content =
            b"2026-12-02T10:00:00Z stdout F first\n2026-12-02T10:00:01Z stdout F second\n";
        gzip(
            &dir.join("0.log.20261202-100000.gz"),
            b"2026-12-02T09:00:00Z stdout F other file\n",
        );
        gzip(&dir.join("0.log.20261202-100500.gz"), content);
        let found = gzip_of(
            &dir,
            Fingerprint::of(&content[..30]),
            40,
            &dir.join("state"),
        )
        .unwrap();
        assert!(found.path.ends_with("0.log.20261202-100500.gz"));
        let mut read = vec![0; content.len() + 10];
        let n = std::os::unix::fs::FileExt::read_at(&found.file, &mut read, 0).unwrap();
        read.truncate(n);
        assert_eq!(read, content);
        assert_eq!(
            std::fs::read_dir(dir.join("state")).unwrap().count(),
            0,
            "the scratch copy is unlinked"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_gzip_shorter_than_the_acknowledged_offset_is_not_taken() {
        let dir = temp_dir("gz-short");
        let content = b"2026-12-02T10:00:00Z stdout F only line\n";
        gzip(&dir.join("0.log.1.gz"), content);
        let fingerprint = Fingerprint::of(&content[..20]);
        assert!(gzip_of(&dir, fingerprint, 1000, &dir.join("state")).is_none());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_copy_is_found_by_first_bytes_and_length_but_never_a_skipped_file() {
        let dir = temp_dir("copy");
        std::fs::write(dir.join("0.log"), b"new content\n").unwrap();
        std::fs::write(dir.join("0.log.1"), b"old content, longer\n").unwrap();
        let fingerprint = Fingerprint::of(b"old content");
        let found = copy_of(&dir, fingerprint, 15, |_, _| false).unwrap();
        assert!(found.path.ends_with("0.log.1"));
        assert!(
            copy_of(&dir, fingerprint, 100, |_, _| false).is_none(),
            "too short"
        );
        assert!(copy_of(&dir, fingerprint, 15, |p, _| p.ends_with("0.log.1")).is_none());
        assert!(
            copy_of(&dir, Fingerprint::default(), 0, |_, _| false).is_none(),
            "no first bytes, no search"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
