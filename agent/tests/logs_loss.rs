//! Loss tests with the real `node-agent` binary and a Loki receiver: whatever happens to
//! the agent, the files or Loki, every line written arrives. Duplicates are allowed (and
//! printed): they come from a push in flight (sent, not yet acknowledged and recorded)
//! when the agent died.

mod support;

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use loki_receiver::Mode;
use support::logs::*;
use support::metric;

const DEADLINE: Duration = Duration::from_secs(60);

/// Appends one CRI record (`tag` F: a whole line, P: a piece of one).
fn write_cri(file: &mut File, stream: &str, tag: &str, message: &str) {
    file.write_all(cri(stream, tag, message).as_bytes())
        .unwrap();
}

/// Every line the receiver holds, in arrival order.
fn received_lines(node: &Node) -> Vec<String> {
    node.receiver
        .store()
        .entries()
        .into_iter()
        .map(|e| e.line)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_line_survives_ten_kill_9s_during_steady_writes() {
    let mut node = Node::new("kill9").await;
    let a = Writer::start(pod_log(&node.pods, "shop", "api-0", "app"), "a", 2000, None);
    let b = Writer::start(pod_log(&node.pods, "shop", "api-1", "app"), "b", 2000, None);
    for round in 0..10u64 {
        node.start_agent();
        // Different lifetimes so kills land in different phases (reading, sending,
        // between a push and the positions write).
        tokio::time::sleep(Duration::from_millis(250 + (round * 97) % 400)).await;
        node.kill_agent();
    }
    node.start_agent();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut expected = a.finish();
    expected.extend(b.finish());
    let delivery = node.wait_for(&expected, DEADLINE).await;
    println!(
        "kill -9 x10: {} lines written, {} received, {} duplicates",
        expected.len(),
        delivery.received,
        delivery.duplicates
    );
    assert!(
        expected.len() > 10_000,
        "the writers wrote too little to mean anything"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receiver_down_for_30_seconds_loses_nothing() {
    let mut node = Node::new("outage").await;
    let writer = Writer::start(pod_log(&node.pods, "shop", "web-0", "app"), "w", 1000, None);
    node.start_agent();
    tokio::time::sleep(Duration::from_secs(2)).await;
    node.receiver.stop().await;
    tokio::time::sleep(Duration::from_secs(30)).await;
    let during = node.metrics().await;
    let retries = metric(&during, "node_agent_sink_retries_total{sink=\"loki\"}").unwrap();
    let lag = metric(&during, "node_agent_logs_lag_bytes").unwrap();
    let lag_seconds = metric(&during, "node_agent_logs_lag_seconds").unwrap();
    assert!(retries >= 5.0, "retries while Loki was down: {retries}");
    assert!(lag > 100_000.0, "lag while Loki was down: {lag} bytes");
    assert!(
        lag_seconds > 20.0,
        "lag while Loki was down: {lag_seconds} s"
    );
    node.receiver.restart().await.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let expected = writer.finish();
    let delivery = node.wait_for(&expected, DEADLINE).await;
    println!(
        "30 s outage: {} lines, {} duplicates, {retries} retries, lag {lag} bytes / {lag_seconds:.1} s",
        expected.len(),
        delivery.duplicates
    );
    assert_eq!(
        delivery.duplicates, 0,
        "nothing was acknowledged twice without a crash"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_by_rename_under_load_loses_nothing() {
    let mut node = Node::new("rename").await;
    let path = pod_log(&node.pods, "shop", "web-0", "app");
    let lock = Arc::new(Mutex::new(()));
    let writer = Writer::start(path.clone(), "r", 3000, Some(lock.clone()));
    node.start_agent();
    for i in 0..5 {
        tokio::time::sleep(Duration::from_millis(600)).await;
        let _guard = lock.lock().unwrap();
        // The kubelet's naming: the live file keeps its name, the old one gets a stamp.
        std::fs::rename(
            &path,
            path.with_file_name(format!("0.log.20261123-12000{i}")),
        )
        .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let expected = writer.finish();
    let delivery = node.wait_for(&expected, DEADLINE).await;
    let metrics = node.metrics().await;
    let moved = metric(&metrics, "node_agent_logs_rotations_total{kind=\"moved\"}").unwrap();
    println!(
        "rename x5: {} lines, {} duplicates, {moved} moved",
        expected.len(),
        delivery.duplicates
    );
    assert!(moved >= 5.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_by_copytruncate_under_load_loses_nothing() {
    let mut node = Node::new("copytruncate").await;
    let path = pod_log(&node.pods, "shop", "web-0", "app");
    let lock = Arc::new(Mutex::new(()));
    let writer = Writer::start(path.clone(), "c", 3000, Some(lock.clone()));
    node.start_agent();
    for i in 0..5 {
        tokio::time::sleep(Duration::from_millis(600)).await;
        let _guard = lock.lock().unwrap();
        // logrotate's copytruncate: copy, then truncate the live file in place. (Lines
        // written between the two are lost by logrotate itself; the lock keeps the
        // writer out of that window so the test measures only the agent.)
        copytruncate(&path, &path.with_file_name(format!("0.log.{i}")));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let expected = writer.finish();
    let delivery = node.wait_for(&expected, DEADLINE).await;
    let metrics = node.metrics().await;
    let truncated = metric(
        &metrics,
        "node_agent_logs_rotations_total{kind=\"truncated\"}",
    )
    .unwrap();
    println!(
        "copytruncate x5: {} lines, {} duplicates, {truncated} truncations",
        expected.len(),
        delivery.duplicates
    );
    assert!(truncated >= 5.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reused_inode_holding_another_file_is_read_from_the_start() {
    // The kernel hands a deleted file's inode to the next new file; the positions file
    // then names the right inode with a stale offset. Simulated exactly: a positions
    // entry for this file's dev+inode whose fingerprint is of other content.
    let mut node = Node::new("inode").await;
    let path = pod_log(&node.pods, "shop", "web-0", "app");
    let mut expected = Vec::new();
    let mut file = append(&path);
    for i in 0..10 {
        let message = format!("reused inode line {i}");
        write_cri(&mut file, "stdout", "F", &message);
        expected.push(message);
    }
    let metadata = std::fs::metadata(&path).unwrap();
    write_positions(
        &node,
        &path,
        &metadata,
        b"some other file's first bytes",
        metadata.len() / 2,
    );
    node.start_agent();
    let delivery = node.wait_for(&expected, Duration::from_secs(20)).await;
    assert_eq!(delivery.received, 10, "all ten lines, from the start");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_matching_checkpoint_resumes_where_loki_acknowledged() {
    let mut node = Node::new("resume").await;
    let path = pod_log(&node.pods, "shop", "web-0", "app");
    let mut text = String::new();
    for i in 0..10 {
        text.push_str(&cri("stdout", "F", &format!("resume line {i}")));
    }
    std::fs::write(&path, &text).unwrap();
    let half: usize = text.split_inclusive('\n').take(5).map(str::len).sum();
    let metadata = std::fs::metadata(&path).unwrap();
    write_positions(
        &node,
        &path,
        &metadata,
        &text.as_bytes()[..256.min(half)],
        half as u64,
    );
    node.start_agent();
    let expected: Vec<String> = (5..10).map(|i| format!("resume line {i}")).collect();
    let delivery = node.wait_for(&expected, Duration::from_secs(20)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(node.receiver.store().entries().len(), 5, "{delivery:?}");
}

fn write_positions(
    node: &Node,
    path: &std::path::Path,
    metadata: &std::fs::Metadata,
    head: &[u8],
    offset: u64,
) {
    use std::os::unix::fs::MetadataExt;
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in head {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    let positions = serde_json::json!({
        "version": 1,
        "files": [{
            "id": {"dev": metadata.dev(), "inode": metadata.ino()},
            "fingerprint": {"len": head.len(), "hash": hash},
            "offset": offset,
            "path": path,
        }]
    });
    std::fs::create_dir_all(node.positions.parent().unwrap()).unwrap();
    std::fs::write(&node.positions, positions.to_string()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_1_mib_line_is_cut_with_a_marker_and_its_neighbours_arrive() {
    let mut node = Node::new("longline").await;
    let path = pod_log(&node.pods, "shop", "web-0", "app");
    let mut file = append(&path);
    write_cri(&mut file, "stdout", "F", "before the long lines");
    // One 1 MiB line as a single CRI record...
    let huge = "x".repeat(1024 * 1024);
    write_cri(&mut file, "stdout", "F", &format!("whole-{huge}"));
    // ...and one as containerd writes it: 16 KiB pieces.
    let piece = "y".repeat(16 * 1024);
    write_cri(&mut file, "stderr", "P", "split-");
    for _ in 0..64 {
        write_cri(&mut file, "stderr", "P", &piece);
    }
    write_cri(&mut file, "stderr", "F", "end");
    write_cri(&mut file, "stdout", "F", "after the long lines");
    node.start_agent();
    let expected = vec![
        "before the long lines".to_string(),
        "after the long lines".to_string(),
    ];
    node.wait_for(&expected, Duration::from_secs(20)).await;
    let entries = node.receiver.store().entries();
    let marker = " [truncated by node-agent]";
    for prefix in ["whole-", "split-"] {
        let cut = entries
            .iter()
            .find(|e| e.line.starts_with(prefix))
            .unwrap_or_else(|| panic!("the {prefix} line did not arrive"));
        assert!(cut.line.ends_with(marker), "{prefix} line not marked");
        assert!(
            cut.line.len() <= 256_000,
            "{prefix} line is {} bytes",
            cut.line.len()
        );
        assert!(
            cut.line.len() > 250_000,
            "{prefix} line cut too short: {}",
            cut.line.len()
        );
    }
    assert_eq!(entries.len(), 4);
    let metrics = node.metrics().await;
    assert_eq!(
        metric(&metrics, "node_agent_logs_truncated_lines_total"),
        Some(2.0)
    );
    assert_eq!(node.receiver.store().stats().rejected_entries, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_utf8_is_replaced_and_never_stops_the_file() {
    let mut node = Node::new("utf8").await;
    let path = pod_log(&node.pods, "shop", "web-0", "app");
    let mut file = append(&path);
    let mut bad = cri("stdout", "F", "bad bytes: ").into_bytes();
    bad.pop();
    bad.extend_from_slice(b"\xff\xfe\xc3 end\n");
    file.write_all(&bad).unwrap();
    write_cri(&mut file, "stdout", "F", "still reading");
    node.start_agent();
    let expected = vec![
        "bad bytes: \u{fffd}\u{fffd}\u{fffd} end".to_string(),
        "still reading".to_string(),
    ];
    node.wait_for(&expected, Duration::from_secs(20)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_files_at_once_all_arrive_with_their_labels() {
    let mut node = Node::new("many").await;
    let mut expected = Vec::new();
    for pod in 0..200 {
        let path = pod_log(&node.pods, "batch", &format!("job-{pod}"), "worker");
        let mut text = String::new();
        for i in 0..50 {
            let message = format!("pod {pod} line {i}");
            text.push_str(&cri(
                if i % 2 == 0 { "stdout" } else { "stderr" },
                "F",
                &message,
            ));
            expected.push(message);
        }
        std::fs::write(path, text).unwrap();
    }
    node.start_agent();
    let delivery = node.wait_for(&expected, DEADLINE).await;
    assert_eq!(delivery.duplicates, 0);
    let entries = node.receiver.store().entries();
    let sample = entries.iter().find(|e| e.line == "pod 137 line 3").unwrap();
    assert_eq!(
        sample.stream,
        r#"{container="worker", namespace="batch", node="test-node", pod="job-137", stream="stderr"}"#
    );
    let metrics = node.metrics().await;
    assert_eq!(
        metric(&metrics, "node_agent_logs_files_watched"),
        Some(200.0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cri_partial_lines_are_reassembled_even_across_a_kill_9() {
    let mut node = Node::new("partials").await;
    let path = pod_log(&node.pods, "shop", "web-0", "app");
    let mut file = append(&path);
    write_cri(&mut file, "stdout", "F", "complete one");
    write_cri(&mut file, "stdout", "P", "out-a ");
    write_cri(&mut file, "stderr", "P", "err-a ");
    write_cri(&mut file, "stdout", "P", "out-b ");
    write_cri(&mut file, "stderr", "F", "err-b");
    node.start_agent();
    node.wait_for(
        &["complete one".to_string(), "err-a err-b".to_string()],
        Duration::from_secs(20),
    )
    .await;
    // Let a positions write happen while stdout's line is still unfinished.
    tokio::time::sleep(Duration::from_millis(500)).await;
    node.kill_agent();
    write_cri(&mut file, "stdout", "F", "out-c");
    node.start_agent();
    node.wait_for(&["out-a out-b out-c".to_string()], Duration::from_secs(20))
        .await;
    let lines = received_lines(&node);
    assert!(
        lines
            .iter()
            .all(|l| l != "out-c" && !l.starts_with("out-b")),
        "a piece was shipped as a line: {lines:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loki_errors_are_retried_or_dropped_as_loki_means_them() {
    let mut node = Node::new("errors").await;
    let path = pod_log(&node.pods, "shop", "web-0", "app");
    let mut file = append(&path);
    node.start_agent();
    for status in [429, 503] {
        // Two failures, then the retry goes through.
        node.receiver.set_mode(Mode::Fail {
            status,
            remaining: Some(2),
        });
        let line = format!("retried through {status}");
        write_cri(&mut file, "stdout", "F", &line);
        node.wait_for(&[line], Duration::from_secs(20)).await;
    }
    node.receiver.set_mode(Mode::Fail {
        status: 400,
        remaining: Some(1),
    });
    write_cri(&mut file, "stdout", "F", "refused by 400");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while node.receiver.mode() != Mode::Accept && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    write_cri(&mut file, "stdout", "F", "after the refusal");
    node.wait_for(&["after the refusal".to_string()], Duration::from_secs(20))
        .await;
    let metrics = node.metrics().await;
    assert_eq!(
        metric(&metrics, "node_agent_sink_retries_total{sink=\"loki\"}"),
        Some(4.0)
    );
    assert_eq!(
        metric(
            &metrics,
            "node_agent_sink_dropped_events_total{sink=\"loki\",reason=\"rejected\"}"
        ),
        Some(1.0)
    );
    let lines = received_lines(&node);
    assert!(!lines.contains(&"refused by 400".to_string()));
    // The refused batch is not retried after a restart either: the checkpoint moved on.
    node.stop_agent();
    node.start_agent();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = received_lines(&node);
    assert_eq!(
        after.len(),
        lines.len(),
        "lines re-sent after a clean restart: {after:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotations_while_the_agent_is_stopped_lose_nothing() {
    let mut node = Node::new("offline-rotation").await;
    let renamed = pod_log(&node.pods, "shop", "web-0", "app");
    let copied = pod_log(&node.pods, "shop", "web-1", "app");
    let lines = |tag: &str, range: std::ops::Range<u32>| -> Vec<String> {
        range.map(|i| format!("{tag} line {i}")).collect()
    };
    let write = |path: &Path, messages: &[String]| {
        let mut file = append(path);
        for m in messages {
            write_cri(&mut file, "stdout", "F", m);
        }
    };
    write(&renamed, &lines("renamed", 0..10));
    write(&copied, &lines("copied", 0..10));
    node.start_agent();
    let mut expected = lines("renamed", 0..10);
    expected.extend(lines("copied", 0..10));
    node.wait_for(&expected, Duration::from_secs(20)).await;
    node.stop_agent();

    // While stopped: more lines, then the kubelet's rename rotation of one file and a
    // copytruncate of the other, then lines in the fresh files.
    write(&renamed, &lines("renamed", 10..20));
    write(&copied, &lines("copied", 10..20));
    std::fs::rename(&renamed, renamed.with_file_name("0.log.20261123-130000")).unwrap();
    copytruncate(&copied, &copied.with_file_name("0.log.1"));
    write(&renamed, &lines("renamed", 20..25));
    write(&copied, &lines("copied", 20..25));

    node.start_agent();
    let mut expected = lines("renamed", 0..25);
    expected.extend(lines("copied", 0..25));
    let delivery = node.wait_for(&expected, Duration::from_secs(20)).await;
    assert_eq!(delivery.duplicates, 0, "acknowledged lines were sent again");
}
