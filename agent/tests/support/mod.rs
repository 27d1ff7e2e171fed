//! Helpers shared by the integration tests: required tools, free ports, an in-process
//! agent, child processes that are killed when the test ends, a tiny HTTP client and
//! readers of `/metrics`; [`logs`] for the log pipeline, [`aws`] for CloudWatch.

#![allow(dead_code)] // each test binary uses a different subset

pub mod aws;
pub mod logs;

use std::future::Future;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use node_agent::app::Application;
use node_agent::config::Config;
use node_agent::metric::MetricFamily;
use tokio_util::sync::CancellationToken;

/// The path in environment variable `name`, or a failure that says how to get it.
/// `scripts/test` exports these; a test that silently skipped could never fail.
pub fn require_tool(name: &str) -> String {
    match std::env::var(name) {
        Ok(path) if !path.is_empty() && std::path::Path::new(&path).exists() => path,
        Ok(path) => panic!(
            "{name}={path} does not exist; run the tests through scripts/test, which installs it"
        ),
        Err(_) => panic!(
            "{name} is not set; run the tests through scripts/test, which installs the tool and exports {name}"
        ),
    }
}

/// A free TCP port on loopback.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process killed (and reaped) when dropped, so a failing test leaves nothing behind.
pub struct ChildGuard(pub Child);

impl ChildGuard {
    /// Starts `program` with `args` and `env`; output as for [`ChildGuard::spawn_command`].
    pub fn spawn(program: &str, args: &[String], env: &[(&str, &str)]) -> ChildGuard {
        ChildGuard::spawn_command(Command::new(program).args(args).envs(env.iter().copied()))
    }

    /// Starts a prepared command (for environment removals and the like), output discarded
    /// unless `NODE_AGENT_TEST_VERBOSE` is set.
    pub fn spawn_command(command: &mut Command) -> ChildGuard {
        let verbose = std::env::var_os("NODE_AGENT_TEST_VERBOSE").is_some();
        let quiet = || {
            if verbose {
                Stdio::inherit()
            } else {
                Stdio::null()
            }
        };
        let child = command
            .stdout(quiet())
            .stderr(quiet())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", command.get_program().display()));
        ChildGuard(child)
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// GETs `url`; returns the status, content type and body.
pub async fn http_get(url: &str) -> Result<(u16, String, String), String> {
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let response = tokio::time::timeout(Duration::from_secs(10), client.get(url.parse().unwrap()))
        .await
        .map_err(|_| format!("GET {url} timed out"))?
        .map_err(|e| format!("GET {url}: {e}"))?;
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok((
        status,
        content_type,
        String::from_utf8_lossy(&body).into_owned(),
    ))
}

/// GETs a `/metrics` endpoint and parses it.
pub async fn scrape(url: &str) -> Vec<MetricFamily> {
    let (status, _, body) = http_get(url).await.unwrap();
    assert_eq!(status, 200, "GET {url}");
    node_agent::metric::parse::parse(&body)
        .unwrap_or_else(|e| panic!("{url} is not valid text format: {e}"))
}

/// Polls `check` every 100 ms until it returns `Some`, failing after `timeout`.
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// An agent running inside the test's runtime, on a free loopback port.
pub struct TestAgent {
    pub port: u16,
    pub shutdown: CancellationToken,
    pub task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl TestAgent {
    /// Builds the agent from `yaml` (with `server.listen_address` forced to loopback:0).
    pub async fn start(yaml: &str) -> TestAgent {
        let mut config = Config::from_yaml(yaml).expect("test config is valid");
        config.server.listen_address = "127.0.0.1:0".parse().unwrap();
        let app = Application::build(config).await.expect("agent builds");
        let port = app.port();
        let shutdown = app.shutdown_token();
        let task = tokio::spawn(app.run_until_stopped());
        TestAgent {
            port,
            shutdown,
            task,
        }
    }

    /// The agent's `/metrics` URL.
    pub fn metrics_url(&self) -> String {
        format!("http://127.0.0.1:{}/metrics", self.port)
    }

    /// Stops the agent as SIGTERM would, and waits for it.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        (&mut self.task)
            .await
            .expect("agent task")
            .expect("agent stops cleanly");
    }
}

impl Drop for TestAgent {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// The value of `name{labels}` in `families`, if present.
pub fn value(families: &[MetricFamily], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let family = families.iter().find(|f| f.name == name)?;
    family
        .samples
        .iter()
        .find(|s| {
            labels
                .iter()
                .all(|(k, v)| s.labels.iter().any(|(lk, lv)| lk == k && lv == v))
        })
        .map(|s| s.value)
}

/// The value of an unlabelled or exactly-labelled series in a `/metrics` text.
pub fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|line| line.starts_with(series) && line[series.len()..].starts_with(' '))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}
