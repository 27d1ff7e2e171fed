//! New pods are found through filesystem events, well before the next rescan.

mod support;

use std::time::{Duration, Instant};

use support::logs::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_pods_log_is_shipped_long_before_the_rescan_interval() {
    let mut node = Node::with(
        "discovery",
        AgentOptions {
            rescan_interval_seconds: 60.0,
            ..AgentOptions::default()
        },
    )
    .await;
    node.start_agent();
    // Let the agent's first scan pass, so only an event can find the new pod.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = Instant::now();
    let path = pod_log(&node.pods, "shop", "new-pod", "app");
    std::fs::write(&path, cri("stdout", "F", "hello from a new pod")).unwrap();
    node.wait_for(
        &["hello from a new pod".to_string()],
        Duration::from_secs(10),
    )
    .await;
    let took = started.elapsed();
    println!("new pod's first line shipped after {took:?}");
    assert!(
        took < Duration::from_secs(5),
        "took {took:?} with a 60 s rescan interval"
    );
}
