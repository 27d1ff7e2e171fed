//! Cross-check: the independent `tracing-loki` client (its own logproto code and snappy
//! encoder) pushes to the receiver, and the receiver decodes what it sent.

use std::time::{Duration, Instant};

use loki_receiver::{Receiver, ReceiverConfig};
use tracing_subscriber::layer::SubscriberExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_pushed_by_tracing_loki_are_decoded_with_labels_and_lines() {
    let receiver = Receiver::start(ReceiverConfig::default()).await.unwrap();
    let (layer, controller, task) = tracing_loki::builder()
        .label("service", "cross-check")
        .unwrap()
        .extra_field("run", "42")
        .unwrap()
        .build_controller_url(tracing_loki::url::Url::parse(&receiver.url()).unwrap())
        .unwrap();
    let background = tokio::spawn(task);
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, || {
        // tracing-loki does not ship events whose target starts with "tracing_loki" (its
        // own), and this test crate's default target does: name one explicitly.
        tracing::info!(target: "crosscheck", request_id = "r-1", "first message");
        tracing::warn!(target: "crosscheck", "second message");
    });
    controller.shutdown().await;
    tokio::time::timeout(Duration::from_secs(10), background)
        .await
        .expect("tracing-loki did not flush")
        .unwrap();

    let deadline = Instant::now() + Duration::from_secs(10);
    while receiver.store().stats().entries < 2 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let entries = receiver.store().entries();
    assert_eq!(entries.len(), 2, "{entries:?}");
    let info = entries
        .iter()
        .find(|e| e.line.contains("first message"))
        .unwrap();
    assert_eq!(info.stream, r#"{level="info", service="cross-check"}"#);
    assert!(info.line.contains("\"run\":\"42\""), "{}", info.line);
    let warn = entries
        .iter()
        .find(|e| e.line.contains("second message"))
        .unwrap();
    assert_eq!(warn.stream, r#"{level="warn", service="cross-check"}"#);
    let now_ns = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i128;
    assert!((now_ns - info.timestamp_ns).abs() < 60_000_000_000);
    let stats = receiver.store().stats();
    assert_eq!(
        stats.responses.keys().copied().collect::<Vec<_>>(),
        vec![204]
    );
}
