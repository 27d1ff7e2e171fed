//! Memory stays bounded when Loki stalls: reading pauses and the files are the buffer.

mod support;

use std::time::{Duration, Instant};

use loki_receiver::Mode;
use support::logs::*;
use support::metric;

/// The documented bound (docs/logs.md): 8 MiB of hand-off buffer, a 1 MiB batch and its
/// encoded copies, the runtime and the metrics, with room for allocator slack.
const RSS_BOUND_BYTES: u64 = 32 * 1024 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resident_memory_stays_bounded_while_loki_stalls_under_50k_lines_per_second() {
    let mut node = Node::new("memory").await;
    node.receiver.set_mode(Mode::Stall);
    let writers: Vec<Writer> = (0..4)
        .map(|i| {
            let path = pod_log(&node.pods, "load", &format!("gen-{i}"), "app");
            Writer::start(path, &format!("m{i}"), 12_500, None)
        })
        .collect();
    node.start_agent();
    let started = Instant::now();
    let mut peak = 0u64;
    while started.elapsed() < Duration::from_secs(20) {
        peak = peak.max(rss_bytes(node.agent_pid()));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let metrics = node.metrics().await;
    let lag = metric(&metrics, "node_agent_logs_lag_bytes").unwrap();
    node.receiver.set_mode(Mode::Accept);
    let mut expected = Vec::new();
    for writer in writers {
        expected.extend(writer.finish());
    }
    println!(
        "stalled Loki, {} lines in 20 s ({:.0} lines/s): peak RSS {:.1} MiB, lag {:.1} MiB",
        expected.len(),
        expected.len() as f64 / 20.0,
        peak as f64 / 1048576.0,
        lag / 1048576.0
    );
    assert!(
        expected.len() >= 900_000,
        "writers fell short of 50k lines/s: {}",
        expected.len()
    );
    assert!(
        lag > 50.0 * 1048576.0,
        "the backlog should be on disk, lag {lag}"
    );
    assert!(
        peak < RSS_BOUND_BYTES,
        "peak RSS {peak} over the bound {RSS_BOUND_BYTES}"
    );
    // And nothing was lost to the stall.
    node.wait_for(&expected, Duration::from_secs(120)).await;
}
