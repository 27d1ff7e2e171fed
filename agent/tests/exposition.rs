//! The agent's `/metrics` is valid for the real tools: promtool's linter and a real
//! Prometheus scraping it.

mod support;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use support::{ChildGuard, TestAgent, free_port, http_get, require_tool, wait_for};

/// node_exporter's memory names keep `/proc/meminfo`'s spelling (`MemAvailable`), which
/// promtool's style lint flags; dashboards depend on those exact names, so that one
/// finding is expected for `node_memory_*` and nothing else is.
fn is_expected_finding(line: &str) -> bool {
    line.starts_with("node_memory_")
        && line.ends_with("metric names should be written in 'snake_case' not 'camelCase'")
}

#[tokio::test]
async fn promtool_check_metrics_finds_nothing_but_node_exporter_memory_names() {
    let promtool = require_tool("PROMTOOL");
    let agent = TestAgent::start("sources:\n  node:\n    collect_interval_seconds: 0.2\n").await;
    let body = wait_for("a node collection", Duration::from_secs(10), || async {
        let (_, content_type, body) = http_get(&agent.metrics_url()).await.ok()?;
        assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
        body.contains("node_cpu_seconds_total").then_some(body)
    })
    .await;
    assert!(
        body.contains("node_agent_build_info{version=\""),
        "own telemetry is served beside node stats"
    );

    let mut child = Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let findings = String::from_utf8_lossy(&output.stdout).to_string()
        + &String::from_utf8_lossy(&output.stderr);
    let unexpected: Vec<&str> = findings
        .lines()
        .filter(|l| !l.trim().is_empty() && !is_expected_finding(l))
        .collect();
    assert!(
        unexpected.is_empty(),
        "promtool check metrics found:\n{}",
        unexpected.join("\n")
    );
    assert!(
        findings.contains("node_memory_MemAvailable_bytes"),
        "promtool ran and saw node_exporter's names:\n{findings}"
    );
    agent.stop().await;
}

#[tokio::test]
async fn prometheus_scrapes_the_agent_and_can_query_node_stats() {
    let prometheus = require_tool("PROMETHEUS");
    let agent = TestAgent::start("sources:\n  node:\n    collect_interval_seconds: 0.5\n").await;
    let dir = std::env::temp_dir().join(format!("node-agent-prometheus-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: node-agent\n    static_configs:\n      - targets: ['127.0.0.1:{}']\n",
            agent.port
        ),
    )
    .unwrap();
    let port = free_port();
    let _prometheus = ChildGuard::spawn(
        &prometheus,
        &[
            format!("--config.file={}", config.display()),
            format!("--storage.tsdb.path={}", dir.join("data").display()),
            format!("--web.listen-address=127.0.0.1:{port}"),
        ],
        &[],
    );
    let query = |q: &str| {
        let url = format!(
            "http://127.0.0.1:{port}/api/v1/query?query={}",
            q.replace(' ', "%20").replace('"', "%22")
        );
        async move {
            let (status, _, body) = http_get(&url).await.ok()?;
            if status != 200 {
                return None;
            }
            let json: serde_json::Value = serde_json::from_str(&body).ok()?;
            let value = json["data"]["result"][0]["value"][1]
                .as_str()?
                .parse::<f64>()
                .ok()?;
            Some(value)
        }
    };
    let up = wait_for(
        "Prometheus to scrape the agent",
        Duration::from_secs(30),
        || query("up{job=\"node-agent\"}"),
    )
    .await;
    assert_eq!(up, 1.0);
    let cpus = wait_for("CPU series in Prometheus", Duration::from_secs(15), || {
        query("count(node_cpu_seconds_total{mode=\"idle\"})")
    })
    .await;
    assert!(cpus >= 1.0);
    let samples = query("scrape_samples_post_metric_relabeling{job=\"node-agent\"}")
        .await
        .unwrap_or(0.0);
    assert!(
        samples > 100.0,
        "Prometheus ingested {samples} samples per scrape"
    );
    drop(_prometheus);
    std::fs::remove_dir_all(&dir).unwrap();
    agent.stop().await;
}
