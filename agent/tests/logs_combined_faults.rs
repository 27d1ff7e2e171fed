//! Faults combined, with the real `node-agent` binary and a Loki receiver: Loki answering
//! 503 while files rotate (by rename, by copytruncate, then gzipped as the kubelet does)
//! and the agent is killed with SIGKILL between rotations. Every line written arrives;
//! files that were already fully acknowledged are never sent again.

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use loki_receiver::Mode;
use support::logs::*;
use support::metric;

const DEADLINE: Duration = Duration::from_secs(60);

fn loki_down(node: &Node) {
    node.receiver.set_mode(Mode::Fail {
        status: 503,
        remaining: None,
    });
}

fn loki_up(node: &Node) {
    node.receiver.set_mode(Mode::Accept);
}

/// Appends `count` CRI lines tagged `tag` to `path`; returns their messages.
fn write_lines(path: &Path, tag: &str, count: usize) -> Vec<String> {
    let mut file = append(path);
    let mut text = String::new();
    let messages: Vec<String> = (0..count).map(|i| format!("{tag} line {i:05}")).collect();
    for message in &messages {
        text.push_str(&cri("stdout", "F", message));
    }
    file.write_all(text.as_bytes()).unwrap();
    messages
}

/// Waits until the running agent has read at least `lines` lines since it started.
async fn wait_read(node: &Node, lines: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let read = metric(&node.metrics().await, "node_agent_logs_read_lines_total").unwrap_or(0.0);
        if read >= lines as f64 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the agent read only {read} of {lines} lines"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The kubelet's rotation: the live file gets a timestamped name, the runtime reopens
/// a fresh one at the path.
fn rename_rotate(path: &Path, stamp: &str) -> PathBuf {
    let rotated = path.with_file_name(format!("0.log.{stamp}"));
    std::fs::rename(path, &rotated).unwrap();
    rotated
}

async fn finish(node: &mut Node, expected: &[String], what: &str) -> Delivery {
    loki_up(node);
    node.start_agent();
    let delivery = node.wait_for(expected, DEADLINE).await;
    let resent = metric(&node.metrics().await, "node_agent_logs_resent_lines_total").unwrap_or(0.0);
    println!(
        "{what}: {} lines written, {} received, {} duplicates, {resent} counted as re-sent by the last agent",
        expected.len(),
        delivery.received,
        delivery.duplicates
    );
    delivery
}

/// With Loki answering 503: lines read, a rotation, more lines read, kill -9, a
/// restart, a second rotation, more lines read, kill -9. Returns the lines written.
async fn two_rotations_with_a_kill_between(
    node: &mut Node,
    path: &Path,
    rotate: impl Fn(&Path, u32),
) -> Vec<String> {
    loki_down(node);
    let mut expected = write_lines(path, "first", 500);
    node.start_agent();
    wait_read(node, 500).await;
    rotate(path, 0);
    expected.extend(write_lines(path, "second", 500));
    wait_read(node, 1000).await;
    node.kill_agent();
    node.start_agent();
    wait_read(node, 1000).await;
    rotate(path, 1);
    expected.extend(write_lines(path, "third", 500));
    wait_read(node, 1500).await;
    node.kill_agent();
    expected
}

/// The kubelet's names for the rotations of `two_rotations_with_a_kill_between`.
fn kubelet_rotate(path: &Path, n: u32) {
    rename_rotate(path, &format!("20261202-10{n:02}00"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loki_down_across_two_rename_rotations_with_a_kill_between_loses_nothing() {
    let mut node = Node::new("outage-rename-kill").await;
    let path = pod_log(&node.pods, "shop", "web-0", "app");
    let mut expected = two_rotations_with_a_kill_between(&mut node, &path, kubelet_rotate).await;
    expected.extend(write_lines(&path, "while stopped", 100));
    finish(&mut node, &expected, "outage, rename x2, kill -9").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loki_down_across_two_copytruncates_with_a_kill_between_loses_nothing() {
    let mut node = Node::new("outage-copytruncate-kill").await;
    let path = pod_log(&node.pods, "shop", "web-0", "app");
    let expected =
        two_rotations_with_a_kill_between(&mut node, &path, |p, _| rotate_by_copytruncate(p)).await;
    finish(&mut node, &expected, "outage, copytruncate x2, kill -9").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copytruncates_while_the_agent_is_down_during_an_outage_lose_nothing() {
    let mut node = Node::new("outage-copytruncate-stopped").await;
    let path = pod_log(&node.pods, "shop", "web-0", "app");
    loki_down(&node);
    let mut expected = write_lines(&path, "first", 500);
    node.start_agent();
    wait_read(&node, 500).await;
    rotate_by_copytruncate(&path);
    expected.extend(write_lines(&path, "second", 500));
    wait_read(&node, 1000).await;
    node.kill_agent();
    // Down: the generation the agent saw last is copied away and its copy shifted on.
    rotate_by_copytruncate(&path);
    expected.extend(write_lines(&path, "third", 300));
    finish(&mut node, &expected, "outage, copytruncate while down").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_file_gzipped_before_the_restart_is_finished_from_its_gz() {
    let mut node = Node::new("outage-gzip").await;
    let path = pod_log(&node.pods, "shop", "web-0", "app");
    let expected = two_rotations_with_a_kill_between(&mut node, &path, kubelet_rotate).await;
    // The kubelet compresses every rotated file but the newest.
    gzip(&path.with_file_name("0.log.20261202-100000"));
    let delivery = finish(&mut node, &expected, "outage, rename x2, kill -9, gzip").await;
    assert!(delivery.missing.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_while_the_hand_off_is_full_loses_nothing() {
    let mut node = Node::with(
        "outage-full-hand-off",
        AgentOptions {
            max_buffered_bytes: 64 * 1024,
            extra_source: "    read_chunk_bytes: 16384".to_string(),
            extra_sink: "    batch_max_bytes: 16384".to_string(),
            ..AgentOptions::default()
        },
    )
    .await;
    let path = pod_log(&node.pods, "shop", "web-0", "app");
    loki_down(&node);
    // Far more than the hand-off holds: the reader stops, blocked on a full hand-off.
    let mut expected = write_lines(&path, "first", 20_000);
    node.start_agent();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let read = metric(&node.metrics().await, "node_agent_logs_read_lines_total").unwrap_or(0.0);
    assert!(
        read < 20_000.0,
        "the hand-off did not fill: {read} lines read"
    );
    rename_rotate(&path, "20261202-100000");
    expected.extend(write_lines(&path, "second", 500));
    tokio::time::sleep(Duration::from_millis(500)).await;
    node.kill_agent();
    finish(
        &mut node,
        &expected,
        "outage, full hand-off, rename, kill -9",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fully_acknowledged_rotated_files_are_never_sent_again_after_a_kill() {
    let mut node = Node::new("acked-no-resend").await;
    let path = pod_log(&node.pods, "shop", "web-0", "app");
    let mut expected = write_lines(&path, "first", 300);
    node.start_agent();
    node.wait_for(&expected, DEADLINE).await;
    let rotated = rename_rotate(&path, "20261202-100000");
    expected.extend(write_lines(&path, "second", 300));
    node.wait_for(&expected, DEADLINE).await;
    rotate_by_copytruncate(&path);
    expected.extend(write_lines(&path, "third", 300));
    node.wait_for(&expected, DEADLINE).await;
    // Time for the positions file to record every acknowledgement (interval 0), not for
    // the rotated files to be drained and forgotten (drain_idle 1 s).
    tokio::time::sleep(Duration::from_millis(300)).await;
    node.kill_agent();
    gzip(&rotated);
    node.start_agent();
    wait_read(&node, 0).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let delivery = Delivery::of(&node.receiver, &expected);
    let resent = metric(&node.metrics().await, "node_agent_logs_resent_lines_total").unwrap();
    assert!(delivery.missing.is_empty(), "{delivery:?}");
    assert_eq!(delivery.duplicates, 0, "acknowledged lines were sent again");
    assert_eq!(resent, 0.0);
}
