//! The CloudWatch sink against ministack, a real emulator of CloudWatch's current wire
//! protocol: what the agent pushes is read back with the SDK; big pushes are split;
//! throttling and 5xx are retried; only a full queue drops data.

mod support;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_sdk_cloudwatch::Client;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{
    Dimension, Metric, MetricDataQuery, MetricStat, StandardUnit, Statistic,
};
use node_agent::config::Config;
use node_agent::config::types::IdentityConfig;
use node_agent::metric::{MetricFamily, MetricKind, labels};
use node_agent::pipeline::metrics::{MetricBatch, metric_channel};
use node_agent::sinks::cloudwatch::sink::CloudWatchSink;
use node_agent::sinks::telemetry::SinkTelemetry;
use node_agent::telemetry::Registry;
use support::aws::{Fault, FaultProxy, Ministack, test_credentials};
use support::{TestAgent, wait_for};
use tokio_util::sync::CancellationToken;

fn dimension(name: &str, value: &str) -> Dimension {
    Dimension::builder().name(name).value(value).build()
}

async fn statistics(
    client: &Client,
    namespace: &str,
    name: &str,
    dimensions: Vec<Dimension>,
) -> Vec<aws_sdk_cloudwatch::types::Datapoint> {
    let now = SystemTime::now();
    client
        .get_metric_statistics()
        .namespace(namespace)
        .metric_name(name)
        .set_dimensions(Some(dimensions))
        .start_time(DateTime::from(now - Duration::from_secs(3600)))
        .end_time(DateTime::from(now + Duration::from_secs(600)))
        .period(3600)
        .statistics(Statistic::SampleCount)
        .statistics(Statistic::Sum)
        .statistics(Statistic::Minimum)
        .statistics(Statistic::Maximum)
        .send()
        .await
        .expect("GetMetricStatistics")
        .datapoints
        .unwrap_or_default()
}

fn mem_total_bytes() -> f64 {
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap();
    let kb: f64 = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    kb * 1024.0
}

#[tokio::test]
async fn node_stats_pushed_by_the_agent_read_back_with_names_dimensions_units_and_values() {
    test_credentials();
    let ministack = Ministack::start().await;
    let yaml = format!(
        r#"
identity: {{cluster: test-cluster, node: test-node, instance: i-0123456789abcdef0}}
sources:
  node: {{collect_interval_seconds: 0.2}}
sinks:
  cloudwatch:
    enabled: true
    region: us-east-1
    endpoint: {}
    namespace: Watchpost/Test
    push_interval_seconds: 1
    dimensions: [cluster, node, instance]
    metrics:
      - selector: node_memory_MemTotal_bytes
      - selector: 'node_filesystem_size_bytes{{mountpoint="/"}}'
        dimensions: [mountpoint, fstype]
      - selector: 'node_cpu_seconds_total{{mode="idle"}}'
        name: CpuIdleSeconds
"#,
        ministack.url()
    );
    let agent = TestAgent::start(&yaml).await;
    let client = ministack.client().await;
    let identity = || {
        vec![
            dimension("ClusterName", "test-cluster"),
            dimension("NodeName", "test-node"),
            dimension("InstanceId", "i-0123456789abcdef0"),
        ]
    };

    let memory = wait_for(
        "MemTotal in CloudWatch",
        Duration::from_secs(20),
        || async {
            let points = statistics(
                &client,
                "Watchpost/Test",
                "node_memory_MemTotal_bytes",
                identity(),
            )
            .await;
            points.into_iter().next()
        },
    )
    .await;
    assert_eq!(memory.unit, Some(StandardUnit::Bytes));
    assert!(memory.sample_count.unwrap() >= 1.0);
    assert_eq!(
        memory.minimum,
        Some(mem_total_bytes()),
        "exact size, statistic set minimum"
    );
    assert_eq!(memory.maximum, Some(mem_total_bytes()));

    let mut fs_dimensions = identity();
    fs_dimensions.push(dimension("mountpoint", "/"));
    let root_fstype = std::fs::read_to_string("/proc/1/mounts")
        .unwrap()
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f[1] == "/").then(|| f[2].to_string())
        })
        .unwrap();
    fs_dimensions.push(dimension("fstype", &root_fstype));
    let size = wait_for(
        "root filesystem size in CloudWatch",
        Duration::from_secs(10),
        || async {
            statistics(
                &client,
                "Watchpost/Test",
                "node_filesystem_size_bytes",
                fs_dimensions.clone(),
            )
            .await
            .into_iter()
            .next()
        },
    )
    .await;
    let usage = nix_statfs_size("/");
    assert_eq!(size.maximum, Some(usage));

    // The counter arrives as per-collection increases of idle CPU seconds: never more
    // than the wall time times the CPU count per collection, and read back through the
    // newer GetMetricData API.
    let query = MetricDataQuery::builder()
        .id("idle")
        .metric_stat(
            MetricStat::builder()
                .metric(
                    Metric::builder()
                        .namespace("Watchpost/Test")
                        .metric_name("CpuIdleSeconds")
                        .set_dimensions(Some(identity()))
                        .build(),
                )
                .period(60)
                .stat("Maximum")
                .unit(StandardUnit::Seconds)
                .build(),
        )
        .build();
    let idle_max = wait_for(
        "CpuIdleSeconds via GetMetricData",
        Duration::from_secs(10),
        || async {
            let now = SystemTime::now();
            let result = client
                .get_metric_data()
                .metric_data_queries(query.clone())
                .start_time(DateTime::from(now - Duration::from_secs(600)))
                .end_time(DateTime::from(now + Duration::from_secs(600)))
                .send()
                .await
                .expect("GetMetricData");
            result
                .metric_data_results?
                .into_iter()
                .next()?
                .values?
                .into_iter()
                .reduce(f64::max)
        },
    )
    .await;
    let cpus = std::thread::available_parallelism().unwrap().get() as f64;
    assert!(
        idle_max >= 0.0 && idle_max <= 2.0 * cpus,
        "idle seconds per 0.2 s collection: {idle_max}"
    );

    let metrics = client
        .list_metrics()
        .namespace("Watchpost/Test")
        .send()
        .await
        .unwrap()
        .metrics
        .unwrap_or_default();
    let mut names: Vec<_> = metrics
        .iter()
        .filter_map(|m| m.metric_name.clone())
        .collect();
    names.sort();
    names.dedup();
    assert_eq!(
        names,
        [
            "CpuIdleSeconds",
            "node_filesystem_size_bytes",
            "node_memory_MemTotal_bytes"
        ],
        "only the allowlist is sent"
    );
    agent.stop().await;
}

fn nix_statfs_size(path: &str) -> f64 {
    let c = std::ffi::CString::new(path).unwrap();
    let mut buf: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: valid NUL-terminated path and writable buffer.
    assert_eq!(unsafe { libc::statfs(c.as_ptr(), &mut buf) }, 0);
    buf.f_blocks as f64 * buf.f_bsize as f64
}

/// A sink wired to `endpoint`, fed by the returned sender; its telemetry is readable
/// through the returned handles (registration is idempotent).
async fn sink(
    endpoint: &str,
    extra: &str,
) -> (
    tokio::sync::mpsc::Sender<Arc<MetricBatch>>,
    SinkTelemetry,
    CancellationToken,
    tokio::task::JoinHandle<()>,
) {
    let yaml = format!(
        "sinks:\n  cloudwatch:\n    enabled: true\n    region: us-east-1\n    endpoint: {endpoint}\n    namespace: Watchpost/Sink\n    dimensions: [node]\n    min_backoff_seconds: 0.05\n    max_backoff_seconds: 0.2\n    metrics:\n      - selector: watchpost_test_series\n        dimensions: [i]\n{extra}"
    );
    let config = Config::from_yaml(&yaml).expect("valid test config");
    let registry = Registry::new();
    let identity = IdentityConfig {
        cluster: String::new(),
        node: "n1".into(),
        instance: String::new(),
        ..IdentityConfig::default()
    };
    let sink = CloudWatchSink::new(config.sinks.cloudwatch, &identity, &registry)
        .await
        .expect("sink builds");
    let telemetry = SinkTelemetry::new(&registry, "cloudwatch");
    let (sender, receiver) = metric_channel();
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(sink.run(receiver, shutdown.clone(), Duration::from_secs(20)));
    (sender, telemetry, shutdown, task)
}

fn series_batch(count: usize, value: f64) -> Arc<MetricBatch> {
    let mut family = MetricFamily::new("watchpost_test_series", "test", MetricKind::Gauge);
    for i in 0..count {
        family.push(labels([("i", &i.to_string())]), value);
    }
    Arc::new(MetricBatch {
        source: "test".into(),
        collected_at: SystemTime::now(),
        families: vec![family],
    })
}

#[tokio::test]
async fn a_push_of_2500_datums_is_split_into_three_calls_and_all_arrive() {
    test_credentials();
    let ministack = Ministack::start().await;
    let proxy = FaultProxy::start(ministack.url()).await;
    let (input, telemetry, shutdown, task) =
        sink(&proxy.url(), "    push_interval_seconds: 3600\n").await;
    input.send(series_batch(2500, 7.0)).await.unwrap();
    // Shutdown flushes the aggregate: one push of 2,500 datums.
    tokio::time::sleep(Duration::from_millis(200)).await;
    shutdown.cancel();
    task.await.unwrap();

    assert_eq!(proxy.puts(), 3, "1,000 + 1,000 + 500");
    assert_eq!(telemetry.requests_succeeded.get(), 3.0);
    assert_eq!(telemetry.sent_events.get(), 2500.0);
    let client = ministack.client().await;
    let metrics = client
        .list_metrics()
        .namespace("Watchpost/Sink")
        .metric_name("watchpost_test_series")
        .send()
        .await
        .unwrap()
        .metrics
        .unwrap_or_default();
    assert_eq!(metrics.len(), 2500, "every dimension set arrived");
    let points = statistics(
        &client,
        "Watchpost/Sink",
        "watchpost_test_series",
        vec![dimension("NodeName", "n1"), dimension("i", "2499")],
    )
    .await;
    assert_eq!(points.len(), 1);
    assert_eq!(points[0].sum, Some(7.0));
}

#[tokio::test]
async fn throttling_and_server_errors_are_retried_until_delivered_without_dropping() {
    test_credentials();
    let ministack = Ministack::start().await;
    let proxy = FaultProxy::start(ministack.url()).await;
    proxy.fail_next(&[Fault::Throttle, Fault::Unavailable, Fault::InternalError]);
    let (input, telemetry, shutdown, task) =
        sink(&proxy.url(), "    push_interval_seconds: 3600\n").await;
    input.send(series_batch(10, 1.0)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    shutdown.cancel();
    task.await.unwrap();

    assert_eq!(proxy.puts(), 4, "three failures, then success");
    assert_eq!(telemetry.retries.get(), 3.0);
    assert_eq!(telemetry.attempt_duration.count(), 4);
    assert_eq!(telemetry.requests_succeeded.get(), 1.0);
    assert_eq!(telemetry.sent_events.get(), 10.0);
    assert_eq!(
        telemetry.dropped_queue_full.get()
            + telemetry.dropped_rejected.get()
            + telemetry.dropped_shutdown.get(),
        0.0
    );
    let metrics = ministack
        .client()
        .await
        .list_metrics()
        .namespace("Watchpost/Sink")
        .send()
        .await
        .unwrap()
        .metrics
        .unwrap_or_default();
    assert_eq!(metrics.len(), 10);
}

#[tokio::test]
async fn a_request_cloudwatch_rejects_is_dropped_as_rejected_without_retrying() {
    test_credentials();
    let ministack = Ministack::start().await;
    let proxy = FaultProxy::start(ministack.url()).await;
    proxy.fail_next(&[Fault::InvalidParameter]);
    let (input, telemetry, shutdown, task) =
        sink(&proxy.url(), "    push_interval_seconds: 3600\n").await;
    input.send(series_batch(4, 1.0)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    shutdown.cancel();
    task.await.unwrap();

    assert_eq!(proxy.puts(), 1, "not retried");
    assert_eq!(telemetry.retries.get(), 0.0);
    assert_eq!(telemetry.requests_rejected.get(), 1.0);
    assert_eq!(telemetry.dropped_rejected.get(), 4.0);
    assert_eq!(telemetry.dropped_queue_full.get(), 0.0);
}

#[tokio::test]
async fn drops_are_counted_only_once_the_bounded_queue_overflows() {
    test_credentials();
    let ministack = Ministack::start().await;
    let proxy = FaultProxy::start(ministack.url()).await;
    proxy.fail_always(Some(Fault::Unavailable));
    let (input, telemetry, shutdown, task) = sink(
        &proxy.url(),
        "    push_interval_seconds: 0.2\n    queue_capacity: 3\n",
    )
    .await;
    let feeder = {
        let input = input.clone();
        tokio::spawn(async move {
            loop {
                if input.send(series_batch(5, 1.0)).await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };

    // While the queue fills, every failure is a retry and nothing is dropped: a drop is
    // only ever seen with the queue at capacity.
    wait_for("the queue to fill", Duration::from_secs(10), || async {
        let (depth, dropped) = (
            telemetry.queue_requests.get(),
            telemetry.dropped_queue_full.get(),
        );
        assert!(
            dropped == 0.0 || depth == 3.0,
            "dropped {dropped} with the queue at {depth} of 3"
        );
        (depth == 3.0).then_some(())
    })
    .await;
    assert!(telemetry.retries.get() >= 1.0);

    wait_for("overflow drops", Duration::from_secs(10), || async {
        (telemetry.dropped_queue_full.get() >= 10.0).then_some(())
    })
    .await;
    assert_eq!(
        telemetry.dropped_queue_full.get() % 5.0,
        0.0,
        "whole requests of 5 datums are dropped"
    );
    assert!(
        telemetry.queue_requests.get() <= 3.0,
        "the queue never exceeds its capacity"
    );
    assert_eq!(telemetry.sent_events.get(), 0.0);

    // CloudWatch recovers: the queue drains and drops stop.
    proxy.fail_always(None);
    wait_for("the queue to drain", Duration::from_secs(10), || async {
        (telemetry.sent_events.get() > 0.0 && telemetry.queue_requests.get() <= 1.0).then_some(())
    })
    .await;
    let dropped_after_recovery = telemetry.dropped_queue_full.get();
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        telemetry.dropped_queue_full.get(),
        dropped_after_recovery,
        "no drops once CloudWatch is healthy"
    );
    feeder.abort();
    shutdown.cancel();
    task.await.unwrap();
    assert_eq!(
        telemetry.dropped_shutdown.get(),
        0.0,
        "the final flush delivered everything queued"
    );
    assert!(proxy.forwarded_puts() >= 1);
}
