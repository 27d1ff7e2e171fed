//! The real `node-agent` binary: `--check-config`, configuration errors, and a SIGTERM
//! that flushes what the CloudWatch sink holds before exiting.

mod support;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, SystemTime};

use aws_sdk_cloudwatch::primitives::DateTime;
use support::aws::{Ministack, test_credentials};
use support::{ChildGuard, free_port, http_get, wait_for};

const BINARY: &str = env!("CARGO_BIN_EXE_node-agent");

fn scratch_file(name: &str, contents: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("node-agent-binary-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

/// `node-agent --check-config --config <path>` with `env` added to the environment.
fn check_config(path: &Path, env: &[(&str, &str)]) -> Output {
    Command::new(BINARY)
        .args(["--check-config", "--config"])
        .arg(path)
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

/// What `--check-config` prints for a valid file, asserting it exits 0.
fn effective_config(path: &Path, env: &[(&str, &str)]) -> String {
    let output = check_config(path, env);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn check_config_prints_the_effective_config_with_environment_overrides() {
    let path = scratch_file(
        "ok.yaml",
        "identity:\n  cluster: from-file\nsinks:\n  cloudwatch:\n    namespace: Watchpost/Check\n",
    );
    let printed = effective_config(
        &path,
        &[
            ("NODE_AGENT__IDENTITY__CLUSTER", "from-env"),
            ("NODE_AGENT__SOURCES__NODE__COLLECT_INTERVAL_SECONDS", "5"),
        ],
    );
    assert!(printed.contains("cluster: from-env"), "{printed}");
    assert!(
        printed.contains("collect_interval_seconds: 5.0"),
        "{printed}"
    );
    assert!(printed.contains("namespace: Watchpost/Check"), "{printed}");
    assert!(
        printed.contains("selector: node_load1"),
        "the default allowlist is shown: {printed}"
    );
}

#[test]
fn the_documented_example_config_is_valid() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/config/example.yaml");
    assert!(effective_config(Path::new(example), &[]).contains("name: TaskApiServerErrors"));
}

#[test]
fn invalid_config_exits_2_naming_the_key() {
    let path = scratch_file(
        "bad.yaml",
        "sinks:\n  cloudwatch:\n    max_datums_per_request: 5000\n",
    );
    let output = check_config(&path, &[]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "node-agent: invalid configuration: sinks.cloudwatch.max_datums_per_request: must be between 1 and 1000\n"
    );
    let output = Command::new(BINARY).arg("--bogus").output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .starts_with("node-agent: unknown argument \"--bogus\"")
    );
}

#[test]
fn cloudwatch_without_any_region_fails_at_start_naming_the_key() {
    let path = scratch_file(
        "noregion.yaml",
        "server: {listen_address: '127.0.0.1:0'}\nsinks:\n  cloudwatch: {enabled: true}\n",
    );
    let home = std::env::temp_dir().join(format!("node-agent-no-aws-home-{}", std::process::id()));
    std::fs::create_dir_all(&home).unwrap();
    let output = Command::new(BINARY)
        .arg("--config")
        .arg(&path)
        .env_remove("AWS_REGION")
        .env_remove("AWS_DEFAULT_REGION")
        .env_remove("AWS_PROFILE")
        .env("HOME", &home)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("node-agent: sinks.cloudwatch.region: empty, and the AWS chain"),
        "{stderr}"
    );
}

#[tokio::test]
async fn sigterm_flushes_queued_metrics_to_cloudwatch_and_exits_cleanly() {
    test_credentials();
    let ministack = Ministack::start().await;
    let port = free_port();
    let path = scratch_file(
        "flush.yaml",
        &format!(
            "server: {{listen_address: '127.0.0.1:{port}'}}\nidentity: {{node: sigterm-node}}\nsources:\n  node: {{collect_interval_seconds: 0.2}}\n\
sinks:\n  cloudwatch:\n    enabled: true\n    endpoint: {}\n    namespace: Watchpost/Flush\n    push_interval_seconds: 3600\n",
            ministack.url()
        ),
    );
    // Killed on drop if the test fails before SIGTERM.
    let mut child = ChildGuard::spawn(
        BINARY,
        &["--config".to_string(), path.display().to_string()],
        &[
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("AWS_REGION", "us-east-1"),
        ],
    );
    let metrics_url = format!("http://127.0.0.1:{port}/metrics");
    wait_for("two node collections", Duration::from_secs(15), || async {
        let (_, _, body) = http_get(&metrics_url).await.ok()?;
        let families = node_agent::metric::parse::parse(&body).ok()?;
        support::value(
            &families,
            "node_agent_collector_duration_seconds_count",
            &[("collector", "stat")],
        )
        .filter(|n| *n >= 2.0)
    })
    .await;

    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(child.0.id() as i32, libc::SIGTERM) }, 0);
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the agent did not exit within 15 s of SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "exit status {status}");

    // The push interval is an hour: only the shutdown flush can have sent this.
    let client = ministack.client().await;
    let now = SystemTime::now();
    let points = client
        .get_metric_statistics()
        .namespace("Watchpost/Flush")
        .metric_name("node_load1")
        .dimensions(
            aws_sdk_cloudwatch::types::Dimension::builder()
                .name("NodeName")
                .value("sigterm-node")
                .build(),
        )
        .start_time(DateTime::from(now - Duration::from_secs(600)))
        .end_time(DateTime::from(now + Duration::from_secs(600)))
        .period(3600)
        .statistics(aws_sdk_cloudwatch::types::Statistic::SampleCount)
        .send()
        .await
        .unwrap()
        .datapoints
        .unwrap_or_default();
    assert_eq!(
        points.len(),
        1,
        "the aggregated interval was flushed on SIGTERM"
    );
    assert!(points[0].sample_count.unwrap() >= 2.0);
}

/// A fake EC2 instance metadata service speaking IMDSv2: a session token, then the id.
async fn fake_imds(instance_id: &'static str) -> u16 {
    use axum::routing::{get, put};
    let app = axum::Router::new()
        .route(
            "/latest/api/token",
            put(|| async {
                (
                    [("x-aws-ec2-metadata-token-ttl-seconds", "21600")],
                    "fake-token",
                )
            }),
        )
        .route(
            "/latest/meta-data/instance-id",
            get(move |headers: axum::http::HeaderMap| async move {
                match headers.get("x-aws-ec2-metadata-token") {
                    Some(token) if token == "fake-token" => Ok(instance_id),
                    _ => Err(axum::http::StatusCode::UNAUTHORIZED),
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    port
}

#[tokio::test]
async fn instance_id_comes_from_ec2_metadata_when_asked() {
    test_credentials();
    let ministack = Ministack::start().await;
    let imds_port = fake_imds("i-0fa4e1d5ca1ab1e00").await;
    let port = free_port();
    let path = scratch_file(
        "imds.yaml",
        &format!(
            "server: {{listen_address: '127.0.0.1:{port}'}}\nidentity: {{node: imds-node, instance_from_metadata: true}}\n\
sources:\n  node: {{collect_interval_seconds: 0.2}}\n\
sinks:\n  cloudwatch:\n    enabled: true\n    endpoint: {}\n    namespace: Watchpost/Imds\n    push_interval_seconds: 0.5\n    dimensions: [node, instance]\n    metrics: [{{selector: node_load1}}]\n",
            ministack.url()
        ),
    );
    let _agent = ChildGuard::spawn_command(
        Command::new(BINARY)
            .arg("--config")
            .arg(&path)
            .env_remove("AWS_EC2_METADATA_DISABLED")
            .env(
                "AWS_EC2_METADATA_SERVICE_ENDPOINT",
                format!("http://127.0.0.1:{imds_port}"),
            )
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1"),
    );
    let client = ministack.client().await;
    let dimensions = wait_for(
        "a datum with an InstanceId",
        Duration::from_secs(20),
        || async {
            let metrics = client
                .list_metrics()
                .namespace("Watchpost/Imds")
                .send()
                .await
                .ok()?
                .metrics?;
            metrics.into_iter().next()?.dimensions
        },
    )
    .await;
    let pairs: Vec<(String, String)> = dimensions
        .into_iter()
        .map(|d| (d.name.unwrap_or_default(), d.value.unwrap_or_default()))
        .collect();
    assert_eq!(
        pairs,
        [
            ("NodeName".to_string(), "imds-node".to_string()),
            ("InstanceId".to_string(), "i-0fa4e1d5ca1ab1e00".to_string())
        ]
    );
}
