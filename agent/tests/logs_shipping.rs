//! What Loki receives: formats, labels, structured metadata, tenant and credentials, and
//! the lines of files deleted while being read.

mod support;

use std::io::Write;
use std::time::Duration;

use support::logs::*;
use support::metric;

const WAIT: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_json_lines_arrive_with_their_stream_and_time() {
    let mut node = Node::new("docker").await;
    let path = pod_log(&node.pods, "legacy", "app-0", "main");
    let now = nanos();
    let time = rfc3339(now);
    let lines = [
        format!(r#"{{"log":"plain \"quoted\" message\n","stream":"stdout","time":"{time}"}}"#),
        format!(r#"{{"log":"first half, ","stream":"stderr","time":"{time}"}}"#),
        format!(r#"{{"log":"second half\n","stream":"stderr","time":"{time}"}}"#),
    ];
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    node.start_agent();
    let expected = vec![
        "plain \"quoted\" message".to_string(),
        "first half, second half".to_string(),
    ];
    node.wait_for(&expected, WAIT).await;
    let entries = node.receiver.store().entries();
    assert_eq!(entries.len(), 2);
    let joined = entries.iter().find(|e| e.line == expected[1]).unwrap();
    assert!(
        joined.stream.contains(r#"stream="stderr""#),
        "{}",
        joined.stream
    );
    assert_eq!(joined.timestamp_ns, now as i128);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_and_trace_ids_of_json_lines_go_as_structured_metadata() {
    let mut node = Node::new("metadata").await;
    let path = pod_log(&node.pods, "shop", "api-0", "app");
    let json = r#"{"level":"info","msg":"done","request_id":"req-42","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"}"#;
    std::fs::write(
        &path,
        cri("stdout", "F", json) + &cri("stdout", "F", "not json"),
    )
    .unwrap();
    node.start_agent();
    node.wait_for(&[json.to_string(), "not json".to_string()], WAIT)
        .await;
    let entries = node.receiver.store().entries();
    let with = entries.iter().find(|e| e.line == json).unwrap();
    assert_eq!(
        with.metadata,
        vec![
            ("request_id".to_string(), "req-42".to_string()),
            (
                "trace_id".to_string(),
                "4bf92f3577b34da6a3ce929d0e0e4736".to_string()
            ),
        ]
    );
    assert!(
        !with.stream.contains("req-42"),
        "ids must never become labels"
    );
    let without = entries.iter().find(|e| e.line == "not json").unwrap();
    assert!(without.metadata.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn structured_metadata_can_be_switched_off_for_old_loki() {
    let mut node = Node::with(
        "nometadata",
        AgentOptions {
            extra_sink: "    structured_metadata: false".to_string(),
            ..AgentOptions::default()
        },
    )
    .await;
    let path = pod_log(&node.pods, "shop", "api-0", "app");
    let json = r#"{"request_id":"req-1"}"#;
    std::fs::write(&path, cri("stdout", "F", json)).unwrap();
    node.start_agent();
    node.wait_for(&[json.to_string()], WAIT).await;
    assert!(node.receiver.store().entries()[0].metadata.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tenant_and_credentials_are_sent_with_every_push() {
    let mut node = Node::with(
        "tenant",
        AgentOptions {
            extra_sink:
                "    tenant_id: team-a\n    basic_auth: {username: agent, password: s3cret}"
                    .to_string(),
            ..AgentOptions::default()
        },
    )
    .await;
    let path = pod_log(&node.pods, "shop", "api-0", "app");
    std::fs::write(&path, cri("stdout", "F", "with tenant")).unwrap();
    node.start_agent();
    node.wait_for(&["with tenant".to_string()], WAIT).await;
    let stats = node.receiver.store().stats();
    assert_eq!(stats.last_tenant.as_deref(), Some("team-a"));
    // base64("agent:s3cret")
    assert_eq!(
        stats.last_authorization.as_deref(),
        Some("Basic YWdlbnQ6czNjcmV0")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_file_is_drained_before_it_is_closed() {
    let mut node = Node::new("deleted").await;
    let path = pod_log(&node.pods, "shop", "api-0", "app");
    let mut file = append(&path);
    file.write_all(cri("stdout", "F", "before deletion").as_bytes())
        .unwrap();
    node.start_agent();
    node.wait_for(&["before deletion".to_string()], WAIT).await;
    // The pod is gone but its runtime still holds the file and writes a last words.
    std::fs::remove_file(&path).unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let mut expected = vec!["before deletion".to_string()];
    for i in 0..100 {
        let message = format!("written after deletion {i}");
        file.write_all(cri("stdout", "F", &message).as_bytes())
            .unwrap();
        expected.push(message);
    }
    node.wait_for(&expected, WAIT).await;
    drop(file);
    // Closed after drain_idle_seconds (1 s here): nothing left open.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let metrics = node.metrics().await;
    assert_eq!(metric(&metrics, "node_agent_logs_files_watched"), Some(0.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_delivers_the_open_batch_and_records_it() {
    let mut node = Node::with(
        "sigterm",
        AgentOptions {
            // Long enough that only the shutdown flush can send the batch.
            batch_wait_seconds: 30.0,
            ..AgentOptions::default()
        },
    )
    .await;
    let path = pod_log(&node.pods, "shop", "api-0", "app");
    let expected: Vec<String> = (0..20)
        .map(|i| format!("flushed at shutdown {i}"))
        .collect();
    let text: String = expected.iter().map(|m| cri("stdout", "F", m)).collect();
    std::fs::write(&path, &text).unwrap();
    node.start_agent();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        node.receiver.store().stats().entries,
        0,
        "sent before the batch closed"
    );
    node.stop_agent();
    let delivery = Delivery::of(&node.receiver, &expected);
    assert!(delivery.missing.is_empty(), "{delivery:?}");
    let positions = std::fs::read_to_string(&node.positions).unwrap();
    assert!(
        positions.contains(&format!("\"offset\": {}", text.len())),
        "positions not at the end of the file: {positions}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_while_loki_is_down_exits_in_time_and_loses_nothing() {
    let mut node = Node::new("sigterm-down").await;
    let path = pod_log(&node.pods, "shop", "api-0", "app");
    let first: Vec<String> = (0..10).map(|i| format!("before the outage {i}")).collect();
    std::fs::write(
        &path,
        first
            .iter()
            .map(|m| cri("stdout", "F", m))
            .collect::<String>(),
    )
    .unwrap();
    node.start_agent();
    node.wait_for(&first, WAIT).await;
    node.receiver.stop().await;
    let mut file = append(&path);
    let second: Vec<String> = (0..10).map(|i| format!("during the outage {i}")).collect();
    for m in &second {
        file.write_all(cri("stdout", "F", m).as_bytes()).unwrap();
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let started = std::time::Instant::now();
    node.stop_agent();
    // shutdown.timeout_seconds is 5 in these tests.
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "took {:?}",
        started.elapsed()
    );
    node.receiver.restart().await.unwrap();
    node.start_agent();
    let delivery = node.wait_for(&second, WAIT).await;
    assert_eq!(
        delivery.duplicates, 0,
        "the acknowledged lines were sent again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_endpoints_are_verified_against_the_configured_ca() {
    let mut node = Node::with(
        "tls",
        AgentOptions {
            tls: true,
            ..AgentOptions::default()
        },
    )
    .await;
    assert!(node.receiver.url().starts_with("https://"));
    let path = pod_log(&node.pods, "shop", "api-0", "app");
    std::fs::write(&path, cri("stdout", "F", "over tls")).unwrap();

    // Not trusted yet: the certificate is self-signed, so nothing may be delivered.
    node.start_agent();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        node.receiver.store().stats().entries,
        0,
        "an untrusted certificate was accepted"
    );
    let retries = metric(
        &node.metrics().await,
        "node_agent_sink_retries_total{sink=\"loki\"}",
    );
    assert!(
        retries.unwrap_or(0.0) >= 1.0,
        "the handshake failure must be retried: {retries:?}"
    );
    node.stop_agent();

    let ca = node.scratch.0.join("loki-ca.pem");
    std::fs::write(&ca, node.receiver.ca_pem().unwrap()).unwrap();
    node.options.extra_sink = format!("    tls_ca_file: \"{}\"", ca.display());
    node.start_agent();
    node.wait_for(&["over tls".to_string()], WAIT).await;
}
