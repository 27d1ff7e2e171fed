//! The randomized torture test: several pods writing CRI lines, random rotations (the
//! kubelet's rename with gzip of older files, and logrotate's copytruncate), random
//! SIGKILLs of the agent and random Loki outages, all at once. At the end every line
//! written has arrived; duplicates are printed.
//!
//! `TORTURE_SECONDS` (default 40) sets how long the faults go on and `TORTURE_SEED`
//! replays a run; `scripts/torture-logs.sh` runs it for longer. The seed is printed
//! first, so a failure can be replayed.
//!
//! What the agent cannot be asked to survive is kept out: a file created and rotated
//! away twice while the agent is down (never seen, so never recorded), lines written
//! between logrotate's copy and truncate (lost by logrotate itself), and rotated files
//! deleted before the agent read them. Downtime is therefore shorter than a pod's
//! shortest rotation interval, and the writers pause while a pod is rotated.

mod support;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use loki_receiver::Mode;
use support::logs::*;
use support::metric;

struct Pod {
    path: PathBuf,
    lock: Arc<Mutex<()>>,
    by_rename: bool,
    rotations: u32,
    next_rotation: Instant,
}

impl Pod {
    fn rotate(&mut self) {
        let _writers_wait = self.lock.lock().unwrap();
        self.rotations += 1;
        if self.by_rename {
            let dir = self.path.parent().unwrap();
            // The kubelet compresses every rotated file but the newest.
            for entry in std::fs::read_dir(dir).unwrap().flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with("0.log.") && !name.ends_with(".gz") {
                    gzip(&entry.path());
                }
            }
            let stamp = format!("0.log.20261202-{:06}", self.rotations);
            std::fs::rename(&self.path, self.path.with_file_name(stamp)).unwrap();
        } else {
            rotate_by_copytruncate(&self.path);
        }
    }
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().map(|v| {
        v.parse()
            .unwrap_or_else(|_| panic!("{name} must be a whole number, got {v:?}"))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn torture_random_rotations_kills_and_outages_lose_no_line() {
    let seed = env_u64("TORTURE_SEED").unwrap_or_else(|| fastrand::u64(..));
    let seconds = env_u64("TORTURE_SECONDS").unwrap_or(40);
    println!("torture: TORTURE_SEED={seed} TORTURE_SECONDS={seconds}");
    let mut rng = fastrand::Rng::with_seed(seed);

    let mut node = Node::new("torture").await;
    let mut pods = Vec::new();
    let mut writers = Vec::new();
    for i in 0..6 {
        let path = pod_log(&node.pods, "shop", &format!("web-{i}"), "app");
        let lock = Arc::new(Mutex::new(()));
        writers.push(Writer::start(
            path.clone(),
            &format!("p{i}"),
            500,
            Some(lock.clone()),
        ));
        pods.push(Pod {
            path,
            lock,
            by_rename: i % 2 == 0,
            rotations: 0,
            next_rotation: Instant::now() + Duration::from_millis(rng.u64(1000..4000)),
        });
    }

    node.start_agent();
    let started = Instant::now();
    let mut next_kill = started + Duration::from_millis(rng.u64(2000..5000));
    let mut outage_until: Option<Instant> = None;
    let mut next_outage = started + Duration::from_millis(rng.u64(3000..10_000));
    let (mut kills, mut outages) = (0, 0);
    while started.elapsed() < Duration::from_secs(seconds) {
        let now = Instant::now();
        for pod in &mut pods {
            if now >= pod.next_rotation {
                pod.rotate();
                pod.next_rotation = now + Duration::from_millis(rng.u64(1000..4000));
            }
        }
        if now >= next_kill {
            node.kill_agent();
            kills += 1;
            // Shorter than any pod's rotation interval (see the module doc).
            tokio::time::sleep(Duration::from_millis(rng.u64(0..400))).await;
            node.start_agent();
            next_kill = Instant::now() + Duration::from_millis(rng.u64(2000..5000));
        }
        match outage_until {
            Some(until) if now >= until => {
                node.receiver.set_mode(Mode::Accept);
                outage_until = None;
                next_outage = now + Duration::from_millis(rng.u64(5000..15_000));
            }
            None if now >= next_outage => {
                node.receiver.set_mode(Mode::Fail {
                    status: 503,
                    remaining: None,
                });
                outages += 1;
                outage_until = Some(now + Duration::from_millis(rng.u64(5000..30_000)));
            }
            _ => {}
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    node.receiver.set_mode(Mode::Accept);
    let mut expected = Vec::new();
    for writer in writers {
        expected.extend(writer.finish());
    }
    if node.agent.is_none() {
        node.start_agent();
    }
    let dirs: Vec<PathBuf> = pods
        .iter()
        .map(|p| p.path.parent().unwrap().to_path_buf())
        .collect();
    let delivery = wait_or_explain(&node, &expected, &dirs, Duration::from_secs(90)).await;
    let metrics = node.metrics().await;
    let resent = metric(&metrics, "node_agent_logs_resent_lines_total").unwrap_or(0.0);
    let rotations: u32 = pods.iter().map(|p| p.rotations).sum();
    println!(
        "torture (seed {seed}): {} lines written, {} received, {} duplicates; {rotations} rotations, {kills} kill -9s, {outages} Loki outages; the last agent re-sent {resent} lines",
        expected.len(),
        delivery.received,
        delivery.duplicates
    );
    assert!(
        kills > 0 && rotations > 0,
        "the run was too short to torture anything"
    );
}

/// Waits for every line; on failure names the missing runs of each pod, which tell a
/// lost rotation segment (one long run) from a slow agent (the tail of every pod).
async fn wait_or_explain(
    node: &Node,
    expected: &[String],
    pod_dirs: &[PathBuf],
    timeout: Duration,
) -> Delivery {
    let deadline = Instant::now() + timeout;
    loop {
        let delivery = Delivery::of(&node.receiver, expected);
        if delivery.missing.is_empty() {
            return delivery;
        }
        if Instant::now() > deadline {
            let mut runs: Vec<(String, u64, u64)> = Vec::new();
            for line in &delivery.missing {
                let mut words = line.split(' ');
                let (pod, seq) = (words.next().unwrap(), words.nth(1).unwrap());
                let seq: u64 = seq.parse().unwrap();
                match runs.last_mut() {
                    Some((p, _, last)) if p == pod && *last + 1 == seq => *last = seq,
                    _ => runs.push((pod.to_string(), seq, seq)),
                }
            }
            let runs: Vec<String> = runs
                .iter()
                .map(|(pod, first, last)| {
                    let first_line = format!("{pod} line {first:08} ");
                    format!(
                        "{pod} {first}..={last} (from {})",
                        locate(pod_dirs, &first_line)
                    )
                })
                .collect();
            panic!(
                "{} of {} lines never arrived, in runs: {}; the receiver answered {:?}",
                delivery.missing.len(),
                expected.len(),
                runs.join(", "),
                node.receiver.store().stats().responses
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Which rotated file holds `needle`, and at what byte offset of its (decompressed)
/// content: with the agent's log, this says which track lost the lines.
fn locate(pod_dirs: &[PathBuf], needle: &str) -> String {
    for dir in pod_dirs {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            let Ok(raw) = std::fs::read(&path) else {
                continue;
            };
            let content = if path.extension().is_some_and(|e| e == "gz") {
                let mut plain = Vec::new();
                let mut decoder = flate2::read::MultiGzDecoder::new(&raw[..]);
                if std::io::Read::read_to_end(&mut decoder, &mut plain).is_err() {
                    continue;
                }
                plain
            } else {
                raw
            };
            if let Some(at) = memchr::memmem::find(&content, needle.as_bytes()) {
                let line_start = content[..at]
                    .iter()
                    .rposition(|&b| b == b'\n')
                    .map_or(0, |i| i + 1);
                return format!(
                    "{} at byte {line_start} of {}",
                    path.display(),
                    content.len()
                );
            }
        }
    }
    "no file".to_string()
}
