//! Helpers for the log pipeline tests: a kubelet-like log directory in a temp dir, the
//! real `node-agent` binary pointed at an in-process Loki receiver, CRI line writers, and
//! the accounting that says which written lines arrived.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use loki_receiver::{Limits, Receiver, ReceiverConfig};

use super::{free_port, http_get};

/// A scratch directory removed on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        let base = std::env::var_os("WATCHPOST_TEST_SCRATCH")
            .map(PathBuf::from)
            .unwrap_or_else(std::env::temp_dir);
        let dir = base.join(format!("logs-{name}-{}-{}", std::process::id(), nanos()));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if std::env::var_os("NODE_AGENT_TEST_KEEP").is_some() {
            eprintln!("kept {}", self.0.display());
            return;
        }
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn nanos() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64
}

/// RFC3339 with nanoseconds, UTC, as containerd writes it.
pub fn rfc3339(ns: i64) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let nanos = ns.rem_euclid(1_000_000_000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil from days (Howard Hinnant).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The kubelet's path for a container log.
pub fn pod_log(root: &Path, namespace: &str, pod: &str, container: &str) -> PathBuf {
    let dir = root
        .join(format!(
            "{namespace}_{pod}_0b1c2d3e-1111-2222-3333-444455556666"
        ))
        .join(container);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("0.log")
}

/// Opens for appending, as container runtimes do (writes land at the end even after a
/// truncation).
pub fn append(path: &Path) -> File {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap()
}

/// logrotate's copytruncate: copy the live file to `copy`, then truncate it in place.
pub fn copytruncate(path: &Path, copy: &Path) {
    std::fs::copy(path, copy).unwrap();
    OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(0)
        .unwrap();
}

/// logrotate's copytruncate with numbered copies: `<file>.1`, `<file>.2`, ... shift up
/// one, the live file is copied to `<file>.1` and truncated in place.
pub fn rotate_by_copytruncate(path: &Path) {
    let numbered = |n: u32| {
        let mut name = path.as_os_str().to_owned();
        name.push(format!(".{n}"));
        PathBuf::from(name)
    };
    let oldest = (1..)
        .take_while(|&n| numbered(n).exists())
        .last()
        .unwrap_or(0);
    for n in (1..=oldest).rev() {
        std::fs::rename(numbered(n), numbered(n + 1)).unwrap();
    }
    copytruncate(path, &numbered(1));
}

/// The kubelet's compression of a rotated file: `<file>.gz`, then the original removed.
pub fn gzip(path: &Path) {
    let mut gz = path.as_os_str().to_owned();
    gz.push(".gz");
    let mut encoder = flate2::write::GzEncoder::new(
        File::create(PathBuf::from(gz)).unwrap(),
        flate2::Compression::fast(),
    );
    encoder.write_all(&std::fs::read(path).unwrap()).unwrap();
    encoder.finish().unwrap();
    std::fs::remove_file(path).unwrap();
}

/// One complete CRI line with `message`.
pub fn cri(stream: &str, tag: &str, message: &str) -> String {
    format!("{} {stream} {tag} {message}\n", rfc3339(nanos()))
}

/// Agent settings a test may change.
pub struct AgentOptions {
    pub batch_wait_seconds: f64,
    pub rescan_interval_seconds: f64,
    pub max_buffered_bytes: usize,
    pub extra_source: String,
    /// Extra keys under `sinks.loki`, indented by four spaces.
    pub extra_sink: String,
    /// The receiver serves HTTPS with a self-signed certificate.
    pub tls: bool,
}

impl Default for AgentOptions {
    fn default() -> Self {
        AgentOptions {
            batch_wait_seconds: 0.1,
            rescan_interval_seconds: 0.2,
            max_buffered_bytes: 8 * 1024 * 1024,
            extra_source: String::new(),
            extra_sink: String::new(),
            tls: false,
        }
    }
}

/// A node: pod log directory, positions file, receiver, and (when running) the agent.
pub struct Node {
    pub scratch: Scratch,
    pub pods: PathBuf,
    pub positions: PathBuf,
    pub receiver: Receiver,
    pub agent: Option<Child>,
    pub metrics_port: u16,
    pub options: AgentOptions,
}

impl Node {
    pub async fn new(name: &str) -> Node {
        Node::with(name, AgentOptions::default()).await
    }

    pub async fn with(name: &str, options: AgentOptions) -> Node {
        let scratch = Scratch::new(name);
        let pods = scratch.0.join("pods");
        std::fs::create_dir_all(&pods).unwrap();
        let receiver = Receiver::start(ReceiverConfig {
            // Far above Loki's default 4 MiB/s: these tests are about loss, not limits.
            limits: Limits::default().with_rate_mib(1024.0),
            tls: options.tls,
            ..ReceiverConfig::default()
        })
        .await
        .unwrap();
        Node {
            positions: scratch.0.join("state/positions.json"),
            pods,
            scratch,
            receiver,
            agent: None,
            metrics_port: free_port(),
            options,
        }
    }

    fn config(&self) -> String {
        format!(
            r#"server:
  listen_address: "127.0.0.1:{port}"
log:
  level: "warn"
identity:
  node: "test-node"
sources:
  node:
    enabled: false
  kubernetes_logs:
    enabled: true
    include: ["{pods}/*/*/*.log"]
    positions_path: "{positions}"
    rescan_interval_seconds: {rescan}
    poll_interval_seconds: 0.02
    drain_idle_seconds: 1
    positions_sync_interval_seconds: 0
    max_buffered_bytes: {buffered}
{extra}
sinks:
  loki:
    enabled: true
    endpoint: "{url}"
    batch_wait_seconds: {wait}
    min_backoff_seconds: 0.05
    max_backoff_seconds: 1
{extra_sink}
shutdown:
  timeout_seconds: 5
"#,
            port = self.metrics_port,
            pods = self.pods.display(),
            positions = self.positions.display(),
            url = self.receiver.url(),
            wait = self.options.batch_wait_seconds,
            rescan = self.options.rescan_interval_seconds,
            buffered = self.options.max_buffered_bytes,
            extra = self.options.extra_source,
            extra_sink = self.options.extra_sink,
        )
    }

    /// Starts the real binary.
    pub fn start_agent(&mut self) {
        assert!(self.agent.is_none(), "agent already running");
        let config = self.scratch.0.join("agent.yaml");
        std::fs::write(&config, self.config()).unwrap();
        let verbose = std::env::var_os("NODE_AGENT_TEST_VERBOSE").is_some();
        // A long torture run can pin its own copy of the binary, so a rebuild in the
        // shared target directory does not swap the agent under it between restarts.
        let binary = std::env::var_os("NODE_AGENT_TEST_BINARY")
            .unwrap_or_else(|| env!("CARGO_BIN_EXE_node-agent").into());
        let child = Command::new(binary)
            .arg("--config")
            .arg(&config)
            .stdout(if verbose {
                Stdio::inherit()
            } else {
                Stdio::null()
            })
            .stderr(if verbose {
                Stdio::inherit()
            } else {
                Stdio::null()
            })
            .spawn()
            .expect("start node-agent");
        self.agent = Some(child);
    }

    /// SIGKILL: no flush, no final positions write.
    pub fn kill_agent(&mut self) {
        if let Some(mut child) = self.agent.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    /// SIGTERM and wait for a clean exit.
    pub fn stop_agent(&mut self) {
        if let Some(mut child) = self.agent.take() {
            unsafe_sigterm(child.id());
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                if let Some(status) = child.try_wait().unwrap() {
                    assert!(status.success(), "node-agent exited with {status}");
                    return;
                }
                assert!(Instant::now() < deadline, "node-agent ignored SIGTERM");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    pub fn agent_pid(&self) -> u32 {
        self.agent.as_ref().expect("agent running").id()
    }

    /// The agent's `/metrics` text.
    pub async fn metrics(&self) -> String {
        let url = format!("http://127.0.0.1:{}/metrics", self.metrics_port);
        http_get(&url)
            .await
            .map(|(_, _, body)| body)
            .unwrap_or_default()
    }

    /// Waits until every line in `expected` was received, or panics after `timeout`
    /// listing what is missing. Returns the accounting.
    pub async fn wait_for(&self, expected: &[String], timeout: Duration) -> Delivery {
        let deadline = Instant::now() + timeout;
        loop {
            // Counting is cheap, matching is not: match only once enough arrived.
            if (self.receiver.store().stats().entries as usize) < expected.len()
                && Instant::now() <= deadline
            {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
            let delivery = Delivery::of(&self.receiver, expected);
            if delivery.missing.is_empty() {
                return delivery;
            }
            if Instant::now() > deadline {
                let sample: Vec<_> = delivery.missing.iter().take(5).collect();
                panic!(
                    "{} of {} lines never arrived (received {} entries), e.g. {sample:?}",
                    delivery.missing.len(),
                    expected.len(),
                    delivery.received
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill_agent();
    }
}

fn unsafe_sigterm(pid: u32) {
    let status = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Which expected lines arrived, and how many arrived more than once.
#[derive(Debug)]
pub struct Delivery {
    pub missing: Vec<String>,
    pub received: usize,
    pub duplicates: usize,
}

impl Delivery {
    pub fn of(receiver: &Receiver, expected: &[String]) -> Delivery {
        let entries = receiver.store().entries();
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for entry in &entries {
            *counts.entry(entry.line.as_str()).or_default() += 1;
        }
        let missing = expected
            .iter()
            .filter(|line| !counts.contains_key(line.as_str()))
            .cloned()
            .collect();
        let duplicates = counts.values().map(|c| c - 1).sum();
        Delivery {
            missing,
            received: entries.len(),
            duplicates,
        }
    }
}

/// Resident memory of `pid` in bytes.
pub fn rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS");
    kb * 1024
}

/// Writes `write` lines with a unique message each into `file` from a thread, until
/// told to stop; returns every message written.
pub struct Writer {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    handle: Option<std::thread::JoinHandle<Vec<String>>>,
}

impl Writer {
    /// `lines_per_second` CRI stdout lines into `path` (opened for append on every
    /// write batch, so a rename rotation moves writes to the new file like a runtime's
    /// reopen). `lock`, when given, is held for each write so a test can rotate between
    /// writes.
    pub fn start(
        path: PathBuf,
        tag: &str,
        lines_per_second: u64,
        lock: Option<std::sync::Arc<std::sync::Mutex<()>>>,
    ) -> Writer {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let tag = tag.to_string();
        let handle = std::thread::spawn(move || {
            let mut written = Vec::new();
            let started = Instant::now();
            let mut seq = 0u64;
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                let due = started.elapsed().as_secs_f64() * lines_per_second as f64;
                let mut chunk = String::new();
                while (seq as f64) < due && chunk.len() < 256 * 1024 {
                    let message = format!("{tag} line {seq:08} payload-abcdefghijklmnopqrstuvwxyz");
                    chunk.push_str(&cri("stdout", "F", &message));
                    written.push(message);
                    seq += 1;
                }
                if !chunk.is_empty() {
                    let _guard = lock.as_ref().map(|l| l.lock().unwrap());
                    append(&path).write_all(chunk.as_bytes()).unwrap();
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            written
        });
        Writer {
            stop,
            handle: Some(handle),
        }
    }

    /// Stops and returns every message written.
    pub fn finish(mut self) -> Vec<String> {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.handle.take().unwrap().join().unwrap()
    }
}
