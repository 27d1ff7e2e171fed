//! Filesystem events (Linux inotify) that wake the reader: a new pod directory, a new or
//! renamed log file, or a write to one. Events only shorten the wait; the periodic rescan
//! and polls stay the source of truth, so a lost or overflowed event costs latency, never
//! lines.

use std::collections::HashSet;
use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What woke the waiter.
#[derive(Debug, PartialEq, Eq)]
pub enum Wake {
    /// Nothing happened.
    Timeout,
    /// Only writes to existing files: poll them.
    Written,
    /// Entries appeared, moved or vanished (or the queue overflowed): rescan.
    Entries,
}

/// An inotify instance and the directories it watches.
pub struct FsEvents {
    fd: OwnedFd,
    watched: HashSet<PathBuf>,
}

impl FsEvents {
    /// A new, empty watcher.
    pub fn new() -> io::Result<FsEvents> {
        // SAFETY: plain syscall; a non-negative return is a new descriptor we own.
        let fd = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(FsEvents {
            // SAFETY: `fd` was just returned by inotify_init1 and is owned by nobody else.
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
            watched: HashSet::new(),
        })
    }

    /// Watches `dir` (once) for entries appearing, moving, vanishing or being written.
    pub fn watch(&mut self, dir: &Path) {
        if self.watched.contains(dir) {
            return;
        }
        let Ok(path) = CString::new(dir.as_os_str().as_bytes()) else {
            return;
        };
        let mask = libc::IN_CREATE
            | libc::IN_MOVED_TO
            | libc::IN_MOVED_FROM
            | libc::IN_DELETE
            | libc::IN_MODIFY
            | libc::IN_ONLYDIR;
        // SAFETY: valid descriptor and NUL-terminated path.
        let wd = unsafe { libc::inotify_add_watch(self.fd.as_raw_fd(), path.as_ptr(), mask) };
        if wd >= 0 {
            self.watched.insert(dir.to_path_buf());
        }
    }

    /// Forgets directories that no longer exist (the kernel dropped their watches).
    pub fn prune(&mut self) {
        self.watched.retain(|dir| dir.is_dir());
    }

    /// Waits up to `timeout` for events and drains the queue.
    pub fn wait(&self, timeout: Duration) -> Wake {
        let mut poll = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let millis = timeout.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: one valid pollfd.
        let ready = unsafe { libc::poll(&mut poll, 1, millis) };
        if ready <= 0 {
            return Wake::Timeout;
        }
        let mut wake = Wake::Written;
        let mut buffer = [0u8; 16 * 1024];
        loop {
            // SAFETY: reading into a buffer we own, within its length.
            let n = unsafe {
                libc::read(
                    self.fd.as_raw_fd(),
                    buffer.as_mut_ptr().cast(),
                    buffer.len(),
                )
            };
            if n <= 0 {
                break;
            }
            // struct inotify_event { int wd; uint32_t mask, cookie, len; char name[len]; }
            let mut at = 0;
            while at + 16 <= n as usize {
                let field =
                    |i: usize| u32::from_ne_bytes(buffer[at + i..at + i + 4].try_into().unwrap());
                let (mask, len) = (field(4), field(12) as usize);
                if mask & libc::IN_MODIFY == 0 {
                    wake = Wake::Entries;
                }
                at += 16 + len;
            }
        }
        wake
    }
}

/// The directory part of a glob before its first wildcard: the root to watch.
pub fn static_root(pattern: &str) -> PathBuf {
    let mut root = PathBuf::from("/");
    for component in Path::new(pattern)
        .parent()
        .unwrap_or(Path::new("/"))
        .components()
    {
        let text = component.as_os_str().to_string_lossy();
        if text.contains(['*', '?', '[']) {
            break;
        }
        root.push(component);
    }
    root
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_static_root_stops_at_the_first_wildcard() {
        assert_eq!(
            static_root("/var/log/pods/*/*/*.log"),
            PathBuf::from("/var/log/pods")
        );
        assert_eq!(static_root("/logs/app.log"), PathBuf::from("/logs"));
    }

    #[test]
    fn a_new_file_in_a_watched_directory_wakes_the_waiter() {
        let dir = std::env::temp_dir().join(format!("wp-watch-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut events = FsEvents::new().unwrap();
        events.watch(&dir);
        assert_eq!(events.wait(Duration::from_millis(10)), Wake::Timeout);
        std::fs::write(dir.join("0.log"), b"x\n").unwrap();
        assert_eq!(events.wait(Duration::from_secs(5)), Wake::Entries);
        assert_eq!(
            events.wait(Duration::from_millis(10)),
            Wake::Timeout,
            "drained"
        );
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(dir.join("0.log"))
            .unwrap();
        std::io::Write::write_all(&mut file, b"y\n").unwrap();
        assert_eq!(events.wait(Duration::from_secs(5)), Wake::Written);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
