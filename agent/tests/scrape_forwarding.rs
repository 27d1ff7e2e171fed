//! Series scraped from an application's `/metrics` are forwarded to CloudWatch (ministack)
//! by name and label matchers, counters as their increase.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, StandardUnit, Statistic};
use axum::extract::State;
use support::aws::{Ministack, test_credentials};
use support::{TestAgent, scrape, value, wait_for};

/// A stand-in for the task API: each scrape adds 10 to the 5xx counter until frozen.
struct FakeApi {
    scrapes: AtomicU64,
    frozen: AtomicBool,
    errors: AtomicU64,
}

async fn metrics(State(api): State<Arc<FakeApi>>) -> String {
    api.scrapes.fetch_add(1, Ordering::SeqCst);
    if !api.frozen.load(Ordering::SeqCst) {
        api.errors.fetch_add(10, Ordering::SeqCst);
    }
    let errors = api.errors.load(Ordering::SeqCst);
    format!(
        "# HELP http_server_requests_total Requests served.\n# TYPE http_server_requests_total counter\n\
http_server_requests_total{{route=\"/tasks\",status=\"200\"}} 5000\n\
http_server_requests_total{{route=\"/tasks\",status=\"503\"}} {errors}\n\
http_server_requests_total{{route=\"/health\",status=\"500\"}} 1\n\
# TYPE http_server_in_flight_requests gauge\nhttp_server_in_flight_requests 3\n"
    )
}

#[tokio::test]
async fn selected_application_series_reach_cloudwatch_as_increases() {
    test_credentials();
    let ministack = Ministack::start().await;
    let api = Arc::new(FakeApi {
        scrapes: AtomicU64::new(0),
        frozen: AtomicBool::new(false),
        errors: AtomicU64::new(100),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api_port = listener.local_addr().unwrap().port();
    let router = axum::Router::new()
        .route("/metrics", axum::routing::get(metrics))
        .with_state(api.clone());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });

    let yaml = format!(
        r#"
identity: {{cluster: c1, node: n1}}
sources:
  node: {{enabled: false}}
  prometheus_scrape:
    enabled: true
    scrape_interval_seconds: 0.2
    targets:
      - {{name: task-api, url: 'http://127.0.0.1:{api_port}/metrics'}}
sinks:
  cloudwatch:
    enabled: true
    region: us-east-1
    endpoint: {}
    namespace: Watchpost/App
    push_interval_seconds: 3600
    metrics:
      - selector: 'http_server_requests_total{{status=~"5..", route!="/health"}}'
        dimensions: [job, route]
        name: ServerErrors
"#,
        ministack.url()
    );
    let agent = TestAgent::start(&yaml).await;
    wait_for("four scrapes", Duration::from_secs(10), || async {
        (api.scrapes.load(Ordering::SeqCst) >= 4).then_some(())
    })
    .await;
    api.frozen.store(true, Ordering::SeqCst);
    // A couple of scrapes after freezing add nothing; then shutdown flushes the interval.
    let frozen_at = api.scrapes.load(Ordering::SeqCst);
    wait_for("two frozen scrapes", Duration::from_secs(10), || async {
        (api.scrapes.load(Ordering::SeqCst) >= frozen_at + 2).then_some(())
    })
    .await;
    // Read only now: a scrape in flight while freezing may still have added its 10.
    let increase = api.errors.load(Ordering::SeqCst) - 100 - 10;
    let telemetry = scrape(&agent.metrics_url()).await;
    assert_eq!(
        value(
            &telemetry,
            "node_agent_scrape_errors_total",
            &[("target", "task-api")]
        ),
        Some(0.0)
    );
    assert_eq!(
        value(
            &telemetry,
            "node_agent_scrape_samples",
            &[("target", "task-api")]
        ),
        Some(4.0)
    );
    agent.stop().await;

    let client = ministack.client().await;
    let now = SystemTime::now();
    let points = client
        .get_metric_statistics()
        .namespace("Watchpost/App")
        .metric_name("ServerErrors")
        .dimensions(Dimension::builder().name("ClusterName").value("c1").build())
        .dimensions(Dimension::builder().name("NodeName").value("n1").build())
        .dimensions(Dimension::builder().name("job").value("task-api").build())
        .dimensions(Dimension::builder().name("route").value("/tasks").build())
        .start_time(DateTime::from(now - Duration::from_secs(600)))
        .end_time(DateTime::from(now + Duration::from_secs(600)))
        .period(3600)
        .statistics(Statistic::Sum)
        .send()
        .await
        .unwrap()
        .datapoints
        .unwrap_or_default();
    assert_eq!(points.len(), 1, "one datum for the one selected series");
    assert_eq!(
        points[0].sum,
        Some(increase as f64),
        "the counter's increase while scraped, not its total"
    );
    assert_eq!(points[0].unit, Some(StandardUnit::Count));

    let metrics = client
        .list_metrics()
        .namespace("Watchpost/App")
        .send()
        .await
        .unwrap()
        .metrics
        .unwrap_or_default();
    assert_eq!(
        metrics.len(),
        1,
        "the 200s, /health 500s and the gauge are not forwarded: {metrics:?}"
    );
}

#[tokio::test]
async fn an_unreachable_target_is_counted_as_a_scrape_error() {
    let port = support::free_port();
    let yaml = format!(
        "sources:\n  node: {{enabled: false}}\n  prometheus_scrape:\n    enabled: true\n    scrape_interval_seconds: 0.1\n    scrape_timeout_seconds: 0.1\n    targets:\n      - {{name: gone, url: 'http://127.0.0.1:{port}/metrics'}}\n"
    );
    let agent = TestAgent::start(&yaml).await;
    wait_for("scrape errors", Duration::from_secs(10), || async {
        let telemetry = scrape(&agent.metrics_url()).await;
        value(
            &telemetry,
            "node_agent_scrape_errors_total",
            &[("target", "gone")],
        )
        .filter(|v| *v >= 2.0)
    })
    .await;
    agent.stop().await;
}
