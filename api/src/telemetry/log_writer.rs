//! Where log lines go: a shared buffer that a background thread writes to stdout (and to
//! LOG_FILE when set) in batches.
//!
//! A request appends its line under a mutex and returns; it never makes a system call. The
//! writer thread is woken only by the first line after it went idle and then lingers up to
//! [`LINGER`] to gather more (or until [`WRITE_AT`] bytes wait), so there is one
//! `write(2)` and wake-up per batch of lines instead of one per line: on a busy 2-core
//! machine, a wake-up and context switch per line cost more than formatting the line.
//!
//! Nothing is dropped: when stdout cannot keep up and the buffer holds [`MAX_BUFFERED`]
//! bytes, loggers wait for the writer. Dropping the [`LogWriterGuard`] writes what is left.
//! The log file is the sidecar's copy: its failures are reported and skipped
//! ([`RotatingFile::write_lines`]), never waited for.

use std::io::{self, Write};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use super::log_file::RotatingFile;

/// How long the writer waits after the first line for more to join its batch; the longest
/// a line waits in memory. Under light load it bounds the writer's wake-ups to 50 a
/// second (5 ms allows ~200, and those context switches on the cores serving requests are
/// a measurable part of what a line costs). Log shippers poll files every second or so;
/// 20 ms is unseen.
const LINGER: Duration = Duration::from_millis(20);
/// A batch this large is written without waiting out the linger. Small on purpose: the
/// buffer being filled and the batch being written pass through the cache of the core
/// that serves requests, and at 256 KiB each they fill its 512 KiB L2, evicting the
/// request path's own code and data. In the telemetry benchmark 64 KiB makes the server
/// ~2% faster than 256 KiB, and 16 KiB ~1% faster again, for more `write(2)` calls: one
/// per 16 KiB of lines, ~600 a second at 20,000 requests a second (~490 bytes each).
const WRITE_AT: usize = 16 * 1024;
/// Loggers wait (rather than drop their line) while this much is waiting to be written.
const MAX_BUFFERED: usize = 4 * 1024 * 1024;

#[derive(Default)]
struct State {
    buffer: Vec<u8>,
    /// The writer sleeps until a line arrives; the first line wakes it.
    writer_idle: bool,
    /// Loggers waiting for space: the writer signals `space` only when there are any
    /// (signalling costs a system call even with nobody waiting).
    waiting_loggers: usize,
    closed: bool,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    /// Signalled for the writer: first line, a full batch, or closing.
    lines: Condvar,
    /// Signalled for loggers waiting on a full buffer.
    space: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A logger that panicked mid-append leaves at worst a partial line; keep logging.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Hands log lines to the writer thread; cheap to clone (one per formatted event).
#[derive(Clone)]
pub struct LogWriter {
    shared: Arc<Shared>,
}

/// Keeps the writer thread running; dropping it writes the remaining lines and stops it.
pub struct LogWriterGuard {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// Starts the writer thread over `out` and, when given, the log file.
pub fn spawn(
    out: impl Write + Send + 'static,
    file: Option<RotatingFile>,
) -> io::Result<(LogWriter, LogWriterGuard)> {
    let shared = Arc::new(Shared::default());
    let thread = std::thread::Builder::new()
        .name("log-writer".to_string())
        .spawn({
            let shared = shared.clone();
            move || write_batches(&shared, out, file)
        })?;
    Ok((
        LogWriter {
            shared: shared.clone(),
        },
        LogWriterGuard {
            shared,
            thread: Some(thread),
        },
    ))
}

fn write_batches(shared: &Shared, mut out: impl Write, mut file: Option<RotatingFile>) {
    let mut batch = Vec::with_capacity(WRITE_AT);
    loop {
        let mut state = shared.lock();
        while state.buffer.is_empty() && !state.closed {
            state.writer_idle = true;
            state = shared
                .lines
                .wait(state)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
        state.writer_idle = false;
        if state.buffer.is_empty() && state.closed {
            return;
        }
        if state.buffer.len() < WRITE_AT && !state.closed {
            state = shared
                .lines
                .wait_timeout_while(state, LINGER, |s| s.buffer.len() < WRITE_AT && !s.closed)
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .0;
        }
        std::mem::swap(&mut batch, &mut state.buffer);
        let loggers_wait = state.waiting_loggers > 0;
        drop(state);
        if loggers_wait {
            shared.space.notify_all();
        }
        // Nowhere to report a failing stdout; the lines are lost either way, and blocking
        // every request on it would turn a logging fault into an outage.
        let _ = out.write_all(&batch).and_then(|()| out.flush());
        if let Some(file) = &mut file {
            file.write_lines(&batch);
        }
        batch.clear();
        if batch.capacity() > 4 * WRITE_AT {
            batch.shrink_to(WRITE_AT);
        }
    }
}

impl LogWriter {
    /// Queues `line` (whole lines only: lines of concurrent loggers are never interleaved
    /// within one call).
    pub fn append(&self, line: &[u8]) {
        let shared = &self.shared;
        let mut state = shared.lock();
        while state.buffer.len() >= MAX_BUFFERED && !state.closed {
            state.waiting_loggers += 1;
            state = shared
                .space
                .wait(state)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            state.waiting_loggers -= 1;
        }
        let before = state.buffer.len();
        state.buffer.extend_from_slice(line);
        let after = state.buffer.len();
        // Wake the writer for the first line of a batch (it lingers for more), and once
        // more when the batch is big enough to cut the linger short.
        let wake_writer =
            (before == 0 && state.writer_idle) || (before < WRITE_AT && after >= WRITE_AT);
        // After unlocking: the woken writer often runs at once on this core, and would
        // only find the lock still held, sleep again and cost two more context switches.
        drop(state);
        if wake_writer {
            shared.lines.notify_one();
        }
    }
}

impl Write for LogWriter {
    fn write(&mut self, line: &[u8]) -> io::Result<usize> {
        self.append(line);
        Ok(line.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogWriter {
    type Writer = LogWriter;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl Drop for LogWriterGuard {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.lines.notify_one();
        self.shared.space.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Collects what the writer thread writes, and how many writes it took.
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<(Vec<u8>, usize)>>);

    impl Write for Sink {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            let mut sink = self.0.lock().unwrap();
            sink.0.extend_from_slice(bytes);
            sink.1 += 1;
            Ok(bytes.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn every_line_arrives_whole_and_in_order_in_few_writes() {
        let sink = Sink::default();
        let (writer, guard) = spawn(sink.clone(), None).unwrap();
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let mut writer = writer.clone();
                std::thread::spawn(move || {
                    for i in 0..20_000 {
                        writer
                            .write_all(format!("thread {t} line {i}\n").as_bytes())
                            .unwrap();
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        drop(guard);
        let (bytes, writes) = sink.0.lock().unwrap().clone();
        let text = String::from_utf8(bytes).unwrap();
        let mut next = [0usize; 4];
        for line in text.lines() {
            let words: Vec<&str> = line.split(' ').collect();
            let (t, i): (usize, usize) = (words[1].parse().unwrap(), words[3].parse().unwrap());
            assert_eq!(i, next[t], "thread {t}'s lines out of order or missing");
            next[t] += 1;
        }
        assert_eq!(next, [20_000; 4]);
        assert!(writes < 80_000 / 10, "{writes} writes for 80,000 lines");
    }

    /// A stdout that blocks until the test opens it.
    struct Gated {
        open: std::sync::mpsc::Receiver<()>,
        opened: bool,
        sink: Sink,
    }

    impl Write for Gated {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            if !self.opened {
                self.open.recv().unwrap();
                self.opened = true;
            }
            self.sink.write(bytes)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn loggers_wait_for_a_stalled_stdout_and_lose_nothing() {
        let sink = Sink::default();
        let (open, gate) = std::sync::mpsc::channel();
        let (writer, guard) = spawn(
            Gated {
                open: gate,
                opened: false,
                sink: sink.clone(),
            },
            None,
        )
        .unwrap();
        let line = [b"x".repeat(1023), b"\n".to_vec()].concat();
        // Up to MAX_BUFFERED can sit in the batch the stalled write holds and as much again
        // in the buffer: three times that cannot all go in without waiting.
        let lines = 3 * MAX_BUFFERED / line.len();
        let logger = std::thread::spawn({
            let writer = writer.clone();
            let line = line.clone();
            move || {
                for _ in 0..lines {
                    writer.append(&line);
                }
            }
        });
        std::thread::sleep(Duration::from_millis(300));
        let finished_while_stalled = logger.is_finished();
        // Open stdout before asserting: a failed assertion must not leave the writer
        // thread, which the guard joins, blocked forever.
        open.send(()).unwrap();
        assert!(
            !finished_while_stalled,
            "three times the buffer went into a stalled stdout without waiting"
        );
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !logger.is_finished() {
            assert!(
                std::time::Instant::now() < deadline,
                "the waiting logger was never woken"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        logger.join().unwrap();
        drop(guard);
        let written = sink.0.lock().unwrap().0.len();
        assert_eq!(written, lines * line.len());
    }

    #[test]
    fn a_quiet_line_is_written_without_waiting_for_more() {
        let sink = Sink::default();
        let (mut writer, _guard) = spawn(sink.clone(), None).unwrap();
        writer.write_all(b"alone\n").unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while sink.0.lock().unwrap().0.is_empty() {
            assert!(
                std::time::Instant::now() < deadline,
                "the line was never written"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(sink.0.lock().unwrap().0, b"alone\n");
    }
}
