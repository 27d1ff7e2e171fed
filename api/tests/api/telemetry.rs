//! Telemetry as an on-call engineer relies on it: exact RED series, exemplars that lead to
//! the trace, log lines that carry the request's ids, and spans exported over real OTLP.
//! Log and trace tests run the real binary, whose stdout and OTLP output are what ships.

use std::{
    io::{BufRead, BufReader},
    net::TcpListener as StdListener,
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{Router, body::Bytes, routing::post};
use opentelemetry_proto::tonic::{
    collector::trace::v1::ExportTraceServiceRequest,
    common::v1::{KeyValue, any_value::Value as AnyValue},
    trace::v1::{Span, span::SpanKind},
};
use prost::Message as _;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Backend, SECRET, sample, spawn_app, token_for};

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The real binary with its stdout captured line by line.
struct Binary {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    address: String,
    admin_address: String,
    _scratch: tempfile::TempDir,
}

impl Binary {
    async fn start(extra: &[(&str, &str)]) -> Binary {
        let scratch = tempfile::tempdir().unwrap();
        let (port, admin_port) = (free_port(), free_port());
        let mut command = Command::new(env!("CARGO_BIN_EXE_task-api"));
        command
            .env_clear()
            .env("LISTEN_ADDR", format!("127.0.0.1:{port}"))
            .env("ADMIN_LISTEN_ADDR", format!("127.0.0.1:{admin_port}"))
            .env(
                "DATABASE_URL",
                format!("sqlite://{}", scratch.path().join("t.db").display()),
            )
            .env("AUTH_JWT_SECRET", SECRET)
            .env("SHUTDOWN_DRAIN_DELAY", "0s")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in extra {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("start task-api");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stdout = child.stdout.take().unwrap();
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        let binary = Binary {
            child,
            lines,
            address: format!("http://127.0.0.1:{port}"),
            admin_address: format!("http://127.0.0.1:{admin_port}"),
            _scratch: scratch,
        };
        let client = reqwest::Client::new();
        // Up to 20 s: the whole suite runs in parallel on two cores in CI.
        for _ in 0..400 {
            if let Ok(r) = client
                .get(format!("{}/readyz", binary.admin_address))
                .send()
                .await
                && r.status() == StatusCode::OK
            {
                return binary;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "task-api did not become ready; stdout: {:?}",
            binary.lines.lock().unwrap()
        );
    }

    fn json_lines(&self) -> Vec<Value> {
        let lines = self.lines.lock().unwrap();
        lines
            .iter()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect()
    }

    /// The log lines so far, once one of them satisfies `wanted` (lines reach stdout from
    /// a background writer, a few milliseconds after the request).
    fn json_lines_once(&self, wanted: impl Fn(&Value) -> bool) -> Vec<Value> {
        for _ in 0..500 {
            let lines = self.json_lines();
            if lines.iter().any(&wanted) {
                return lines;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("no such log line within 5 s: {:?}", self.json_lines());
    }

    /// SIGTERM and wait: the exit flushes queued spans.
    fn terminate(mut self) -> Vec<String> {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let status = self.child.wait().unwrap();
        assert!(status.success(), "task-api exited with {status}");
        std::thread::sleep(Duration::from_millis(100));
        self.lines.lock().unwrap().clone()
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn red_metrics_count_exact_series_and_collapse_unmatched_routes() {
    let app = spawn_app(Backend::Sqlite).await;
    for _ in 0..3 {
        app.create_ok(json!({ "title": "counted" })).await;
    }
    assert_eq!(
        app.create(json!({ "title": "" })).await.status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    for path in ["/wp-login.php", "/.env", "/api/v1/tasks/x/y/z"] {
        assert_eq!(app.get(path).await.status(), StatusCode::NOT_FOUND);
    }
    app.client
        .get(format!("{}/readyz", app.admin_address))
        .send()
        .await
        .unwrap();
    let scrape = app
        .client
        .get(format!("{}/metrics", app.admin_address))
        .send()
        .await
        .unwrap();
    assert_eq!(
        scrape.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = scrape.text().await.unwrap();

    let duration = "http_server_request_duration_seconds_count";
    let series = |method: &str, route: &str, status: u16| {
        format!(
            "{duration}{{http_request_method=\"{method}\",http_route=\"{route}\",http_response_status_code=\"{status}\"}}"
        )
    };
    assert_eq!(
        sample(&text, &series("POST", "/api/v1/tasks", 201)),
        Some(3.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, &series("POST", "/api/v1/tasks", 422)),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, &series("GET", "unmatched", 404)),
        Some(3.0),
        "scanner paths collapse to one series"
    );
    assert!(
        !text.contains("wp-login") && !text.contains(".env"),
        "paths never become labels"
    );
    assert!(
        !text.contains("/readyz") && !text.contains("/metrics"),
        "health and metrics are not counted"
    );
    assert_eq!(sample(&text, "task_api_tasks_created_total"), Some(3.0));
    assert!(text.contains("# TYPE http_server_request_duration_seconds histogram"));
    assert!(sample(&text, "process_resident_memory_bytes").is_some_and(|v| v > 0.0));
    assert!(text.contains("task_api_build_info{version=\"0.1.0\""));
    assert!(text.contains("db_client_operation_duration_seconds_count{db_system_name=\"sqlite\",db_operation_name=\"INSERT\",db_collection_name=\"tasks\"}"));
    assert!(
        sample(
            &text,
            "db_client_connection_wait_time_seconds_count{db_system_name=\"sqlite\",db_client_connection_pool_name=\"tasks_write\"}"
        )
        .is_some_and(|waits| waits >= 3.0),
        "every insert's wait for the writer's connection is recorded: {text}"
    );

    let promtool = std::env::var("PROMTOOL").expect("PROMTOOL is not set: run ./scripts/test");
    let mut check = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(check.stdin.as_mut().unwrap(), text.as_bytes()).unwrap();
    let output = check.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.stdout.is_empty() && output.stderr.is_empty(),
        "promtool reports: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Without an OTLP endpoint no span is exported, yet the ids still follow W3C Trace
/// Context: a caller's valid `traceparent` is continued (its trace id, its sampled flag,
/// a new span id), an invalid one is ignored for a fresh sampled trace.
#[tokio::test]
async fn trace_ids_continue_the_callers_traceparent_without_exporting() {
    let app = spawn_app(Backend::Sqlite).await;
    let caller_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let caller_span = "00f067aa0ba902b7";
    let ids_of = |response: &reqwest::Response| {
        let header = |name: &str| response.headers()[name].to_str().unwrap().to_owned();
        let traceresponse = header("traceresponse");
        let parts: Vec<String> = traceresponse.split('-').map(str::to_owned).collect();
        assert_eq!(parts.len(), 4, "{traceresponse}");
        assert_eq!(parts[0], "00");
        assert_eq!(
            header("x-trace-id"),
            parts[1],
            "one trace id in both headers"
        );
        (parts[1].clone(), parts[2].clone(), parts[3].clone())
    };
    for (flags, sampled) in [("01", "01"), ("00", "00")] {
        let response = app
            .request(reqwest::Method::GET, "/api/v1/tasks")
            .header(
                "traceparent",
                format!("00-{caller_trace}-{caller_span}-{flags}"),
            )
            .send()
            .await
            .unwrap();
        let (trace, span, response_flags) = ids_of(&response);
        assert_eq!(trace, caller_trace);
        assert!(span.len() == 16 && span != caller_span, "{span}");
        assert_eq!(response_flags, sampled);
    }
    let response = app
        .request(reqwest::Method::GET, "/api/v1/tasks")
        .header(
            "traceparent",
            format!("00-{}-{caller_span}-01", "0".repeat(32)),
        )
        .send()
        .await
        .unwrap();
    let (trace, _, flags) = ids_of(&response);
    assert!(
        trace.len() == 32 && trace != "0".repeat(32) && trace != caller_trace,
        "{trace}"
    );
    assert_eq!(flags, "01");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_exemplar_trace_id_is_the_one_in_the_requests_log_line() {
    let binary = Binary::start(&[]).await;
    let client = reqwest::Client::new();
    let response = client
        .post(format!("{}/api/v1/tasks", binary.address))
        .bearer_auth(token_for("alice"))
        .json(&json!({ "title": "follow me" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let trace_id = response.headers()["x-trace-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();

    let openmetrics = client
        .get(format!("{}/metrics", binary.admin_address))
        .header("accept", "application/openmetrics-text; version=1.0.0")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let exemplar = openmetrics
        .lines()
        .filter(|l| {
            l.starts_with("http_server_request_duration_seconds_bucket")
                && l.contains("http_response_status_code=\"201\"")
        })
        .find_map(|l| l.split_once(" # ").map(|(_, e)| e.to_owned()))
        .expect("an exemplar on the POST 201 duration histogram");
    assert!(
        exemplar.contains(&format!("trace_id=\"{trace_id}\"")),
        "{exemplar}"
    );
    assert!(openmetrics.ends_with("# EOF\n"));

    let is_access =
        |l: &Value| l["request_id"] == request_id.as_str() && l["message"] == "request completed";
    let lines = binary.json_lines_once(is_access);
    let access = lines
        .iter()
        .find(|l| is_access(l))
        .expect("the request's access log line");
    assert_eq!(access["trace_id"], trace_id.as_str());
    assert_eq!(access["http.route"], "/api/v1/tasks");
    assert_eq!(access["http.response.status_code"], 201);
    let complaints: Vec<&Value> = lines
        .iter()
        .filter(|l| l["level"] == "WARN" || l["level"] == "ERROR")
        .collect();
    assert!(
        complaints.is_empty(),
        "without an OTLP endpoint tracing is off silently: {complaints:?}"
    );
}

/// The access line follows `RUST_LOG` and `LOG_FORMAT` like every other line: off when its
/// target is silenced, human-readable in the pretty format.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_lines_follow_the_log_filter_and_format() {
    let cases = [
        (
            [
                ("RUST_LOG", "info,task_api::access=off"),
                ("LOG_FORMAT", "json"),
            ],
            false,
        ),
        ([("RUST_LOG", "info"), ("LOG_FORMAT", "pretty")], true),
        (
            [
                ("RUST_LOG", "warn,task_api::access=info"),
                ("LOG_FORMAT", "json"),
            ],
            true,
        ),
    ];
    for (settings, expect_access) in cases {
        let binary = Binary::start(&settings).await;
        let response = reqwest::Client::new()
            .get(format!("{}/api/v1/tasks", binary.address))
            .bearer_auth(token_for("alice"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let raw = binary.terminate();
        let access: Vec<&String> = raw
            .iter()
            .filter(|l| l.contains("request completed"))
            .collect();
        assert_eq!(
            access.len(),
            usize::from(expect_access),
            "{settings:?}: {raw:#?}"
        );
        if let Some(line) = access.first() {
            let json = settings.contains(&("LOG_FORMAT", "json"));
            assert_eq!(serde_json::from_str::<Value>(line).is_ok(), json, "{line}");
            assert!(line.contains("/api/v1/tasks"), "{line}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_file_holds_stdouts_lines_rotated_by_rename_without_a_split_line() {
    let logs = tempfile::tempdir().unwrap();
    let path = logs.path().join("task-api.log");
    let binary = Binary::start(&[
        ("LOG_FILE", path.to_str().unwrap()),
        ("LOG_FILE_MAX_BYTES", "4096"),
        ("LOG_FILE_MAX_FILES", "20"),
    ])
    .await;
    let client = reqwest::Client::new();
    // ~30 access lines of ~500 bytes: several rotations at 4096 bytes a file.
    for i in 0..30 {
        let response = client
            .post(format!("{}/api/v1/tasks", binary.address))
            .bearer_auth(token_for("alice"))
            .header("x-request-id", format!("file-{i}"))
            .json(&json!({ "title": "to the sidecar" }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    let stdout = binary.terminate();

    let mut rotated: Vec<(u32, std::path::PathBuf)> = std::fs::read_dir(logs.path())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter_map(|p| {
            let n = p.extension()?.to_str()?.parse().ok()?;
            Some((n, p))
        })
        .collect();
    rotated.sort();
    assert!(rotated.len() >= 2, "no rotation: {rotated:?}");
    assert_eq!(
        rotated.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
        (1..=rotated.len() as u32).collect::<Vec<_>>(),
        "rotated files are numbered 1..N"
    );
    let mut in_file = String::new();
    for file in rotated.iter().rev().map(|(_, p)| p).chain([&path]) {
        let text = std::fs::read_to_string(file).unwrap();
        assert!(
            text.len() <= 4096,
            "{} has {} bytes",
            file.display(),
            text.len()
        );
        assert!(
            text.ends_with('\n'),
            "{} ends inside a line",
            file.display()
        );
        in_file.push_str(&text);
    }
    let in_file: Vec<&str> = in_file.lines().collect();
    assert_eq!(
        in_file, stdout,
        "the file holds stdout's lines, whole and in order"
    );
    for i in 0..30 {
        let id = format!("file-{i}");
        assert!(
            in_file.iter().any(|line| {
                let line: Value = serde_json::from_str(line).unwrap();
                line["request_id"] == id.as_str() && line["message"] == "request completed"
            }),
            "no access line for {id} in the log file"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_log_line_of_a_request_carries_its_ids_and_no_secret() {
    let binary = Binary::start(&[("RUST_LOG", "info,task_api::db=debug")]).await;
    let token = token_for("alice");
    let client = reqwest::Client::new();
    let response = client
        .post(format!("{}/api/v1/tasks", binary.address))
        .bearer_auth(&token)
        .header("x-request-id", "req-under-test")
        .json(&json!({ "title": "logged" }))
        .send()
        .await
        .unwrap();
    let trace_id = response.headers()["x-trace-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let raw = binary.terminate();
    let ours: Vec<Value> = raw
        .iter()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|l| l["request_id"] == "req-under-test")
        .collect();
    assert!(
        ours.len() >= 2,
        "the database log and the access log at least: {raw:#?}"
    );
    for line in &ours {
        assert_eq!(line["trace_id"], trace_id.as_str(), "{line}");
        assert!(
            line["span_id"].as_str().is_some_and(|s| s.len() == 16),
            "{line}"
        );
        assert!(
            line["timestamp"]
                .as_str()
                .is_some_and(|t| chrono::DateTime::parse_from_rfc3339(t).is_ok())
        );
        assert!(
            line["level"].is_string() && line["target"].is_string() && line["message"].is_string()
        );
    }
    let everything = raw.join("\n");
    assert!(
        !everything.contains(&token) && !everything.contains(SECRET),
        "a secret reached the logs"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_token_is_logged_with_its_reason_and_request_id_but_not_the_token() {
    let binary = Binary::start(&[]).await;
    let expired = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &json!({ "sub": "alice", "exp": chrono::Utc::now().timestamp() - 3600 }),
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap();
    let response = reqwest::Client::new()
        .get(format!("{}/api/v1/tasks", binary.address))
        .bearer_auth(&expired)
        .header("x-request-id", "req-refused")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let raw = binary.terminate();
    let refusal = raw
        .iter()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|l| l["message"] == "bearer token refused")
        .unwrap_or_else(|| panic!("no refusal line: {raw:#?}"));
    assert_eq!(refusal["request_id"], "req-refused", "{refusal}");
    assert_eq!(refusal["reason"], "expired", "{refusal}");
    assert_eq!(refusal["description"], "The token has expired (exp).");
    assert!(
        !raw.join("\n").contains(&expired),
        "the token reached the logs"
    );
}

/// Spans a receiver decoded, each with its resource's attributes.
type ReceivedSpans = Arc<Mutex<Vec<(Vec<KeyValue>, Span)>>>;

/// An OTLP/HTTP receiver decoding the real protobuf `ExportTraceServiceRequest`.
async fn otlp_receiver() -> (u16, ReceivedSpans) {
    let spans: ReceivedSpans = Arc::default();
    let sink = spans.clone();
    let app = Router::new().route(
        "/v1/traces",
        post(move |body: Bytes| {
            let sink = sink.clone();
            async move {
                let request =
                    ExportTraceServiceRequest::decode(body).expect("a valid OTLP protobuf body");
                for resource in request.resource_spans {
                    let attributes = resource.resource.map(|r| r.attributes).unwrap_or_default();
                    for scope in resource.scope_spans {
                        for span in scope.spans {
                            sink.lock().unwrap().push((attributes.clone(), span));
                        }
                    }
                }
                StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (port, spans)
}

fn attribute<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a AnyValue> {
    attributes
        .iter()
        .find(|kv| kv.key == key)?
        .value
        .as_ref()?
        .value
        .as_ref()
}

fn string_attribute(attributes: &[KeyValue], key: &str) -> Option<String> {
    match attribute(attributes, key)? {
        AnyValue::StringValue(s) => Some(s.clone()),
        other => Some(format!("{other:?}")),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_continue_the_callers_trace_and_nest_database_operations() {
    let (port, received) = otlp_receiver().await;
    let endpoint = format!("http://127.0.0.1:{port}");
    let binary = Binary::start(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
        (
            "OTEL_RESOURCE_ATTRIBUTES",
            "deployment.environment.name=test",
        ),
    ])
    .await;
    let caller_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let caller_span = "00f067aa0ba902b7";
    let response = reqwest::Client::new()
        .post(format!("{}/api/v1/tasks", binary.address))
        .bearer_auth(token_for("alice"))
        .header("traceparent", format!("00-{caller_trace}-{caller_span}-01"))
        .json(&json!({ "title": "traced" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(
        response.headers()["x-trace-id"],
        caller_trace,
        "the caller's trace continues here"
    );
    binary.terminate();

    let spans = received.lock().unwrap().clone();
    let (resource, server) = spans
        .iter()
        .find(|(_, s)| s.name == "POST /api/v1/tasks")
        .unwrap_or_else(|| {
            panic!(
                "no server span among {:?}",
                spans.iter().map(|(_, s)| &s.name).collect::<Vec<_>>()
            )
        });
    assert_eq!(
        string_attribute(resource, "service.name").as_deref(),
        Some("task-api")
    );
    assert_eq!(
        string_attribute(resource, "deployment.environment.name").as_deref(),
        Some("test")
    );
    assert_eq!(server.kind, SpanKind::Server as i32);
    assert_eq!(hex(&server.trace_id), caller_trace);
    assert_eq!(hex(&server.parent_span_id), caller_span);
    assert_eq!(
        string_attribute(&server.attributes, "http.request.method").as_deref(),
        Some("POST")
    );
    assert_eq!(
        string_attribute(&server.attributes, "http.route").as_deref(),
        Some("/api/v1/tasks")
    );
    assert_eq!(
        attribute(&server.attributes, "http.response.status_code"),
        Some(&AnyValue::IntValue(201))
    );

    let (_, insert) = spans
        .iter()
        .find(|(_, s)| s.name == "INSERT tasks")
        .expect("a database span");
    assert_eq!(insert.kind, SpanKind::Client as i32);
    assert_eq!(
        insert.parent_span_id, server.span_id,
        "the database span is a child of the request span"
    );
    assert_eq!(hex(&insert.trace_id), caller_trace);
    assert_eq!(
        string_attribute(&insert.attributes, "db.system.name").as_deref(),
        Some("sqlite")
    );
    assert_eq!(
        string_attribute(&insert.attributes, "db.operation.name").as_deref(),
        Some("INSERT")
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
