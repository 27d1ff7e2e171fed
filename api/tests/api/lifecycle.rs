//! Start-up, readiness, graceful shutdown, and surviving a database outage.

use std::{process::Command, sync::Arc, time::Duration};

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::{
    net::{TcpListener, TcpStream},
    sync::Mutex,
    task::JoinHandle,
};

use crate::helpers::{
    Backend, TestApp, assert_problem, fresh_database, slow_post, spawn_app, spawn_app_with,
    token_for,
};

crate::on_both_backends!(
    liveness_and_readiness_answer_on_the_admin_listener,
    shutdown_drains_and_every_in_flight_request_completes,
    the_openapi_document_describes_every_route,
);

async fn liveness_and_readiness_answer_on_the_admin_listener(backend: Backend) {
    let app = spawn_app(backend).await;
    let live = app
        .client
        .get(format!("{}/livez", app.admin_address))
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), StatusCode::OK);
    let ready: Value = app
        .client
        .get(format!("{}/readyz", app.admin_address))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["checks"]["database"], "ok");
    // Health endpoints are not on the public listener.
    assert_eq!(app.get("/readyz").await.status(), StatusCode::NOT_FOUND);
}

async fn shutdown_drains_and_every_in_flight_request_completes(backend: Backend) {
    let mut app = spawn_app_with(backend, &[("SHUTDOWN_DRAIN_DELAY", "400ms")]).await;
    let token = token_for("alice");
    let in_flight: Vec<_> = (0..10)
        .map(|i| {
            let (address, token) = (app.address.clone(), token.clone());
            tokio::spawn(async move {
                let body = format!(r#"{{"title": "in flight {i}"}}"#);
                slow_post(
                    &address,
                    "/api/v1/tasks",
                    Some(&token),
                    &body,
                    Duration::from_millis(700),
                )
                .await
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    app.signal_shutdown();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        app.readyz().await,
        StatusCode::SERVICE_UNAVAILABLE,
        "readiness turns 503 at once"
    );
    assert_eq!(
        app.get("/api/v1/tasks").await.status(),
        StatusCode::OK,
        "still serving during the drain delay"
    );
    for request in in_flight {
        let (status, raw) = request.await.unwrap();
        assert_eq!(
            status, 201,
            "an in-flight request failed during shutdown: {raw}"
        );
    }
    let server = app.server.take().unwrap();
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("stops in time")
        .unwrap()
        .expect("exits cleanly");
    assert!(
        TcpStream::connect(app.address.trim_start_matches("http://"))
            .await
            .is_err(),
        "the listener is closed"
    );
}

async fn the_openapi_document_describes_every_route(backend: Backend) {
    let app = spawn_app(backend).await;
    let doc: Value = app
        .client
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    for (path, methods) in [
        ("/api/v1/tasks", &["get", "post"][..]),
        ("/api/v1/tasks/{id}", &["get", "patch", "delete"][..]),
    ] {
        for method in methods {
            assert!(
                doc["paths"][path][method].is_object(),
                "{method} {path} undocumented"
            );
        }
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
}

/// A TCP proxy in front of PostgreSQL that the test can cut and restore, like a network
/// partition: cutting closes every connection and refuses new ones.
struct CuttableProxy {
    port: u16,
    target: String,
    accept: Option<JoinHandle<()>>,
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl CuttableProxy {
    async fn new(target: String) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Self {
            port,
            target,
            accept: None,
            connections: Arc::default(),
        }
    }

    async fn restore(&mut self) {
        let listener = TcpListener::bind(("127.0.0.1", self.port))
            .await
            .expect("rebind the proxy port");
        let (target, connections) = (self.target.clone(), self.connections.clone());
        self.accept = Some(tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let target = target.clone();
                connections.lock().await.push(tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                }));
            }
        }));
    }

    async fn cut(&mut self) {
        if let Some(accept) = self.accept.take() {
            accept.abort();
            let _ = accept.await;
        }
        for connection in self.connections.lock().await.drain(..) {
            connection.abort();
        }
    }
}

/// The app on PostgreSQL reached through a proxy that starts cut when `start_cut`.
async fn app_behind_proxy(start_cut: bool) -> (TestApp, CuttableProxy) {
    let (url, _) = fresh_database(Backend::Postgres).await;
    let (prefix, rest) = url.split_once('@').unwrap();
    let (host_port, database) = rest.split_once('/').unwrap();
    let mut proxy = CuttableProxy::new(host_port.to_owned()).await;
    if !start_cut {
        proxy.restore().await;
    }
    let proxied = format!("{prefix}@127.0.0.1:{}/{database}", proxy.port);
    let app = crate::helpers::start_unready(&proxied, None, &[]).await;
    (app, proxy)
}

async fn eventually<F: std::future::Future<Output = bool>>(
    what: &str,
    mut check: impl FnMut() -> F,
) {
    for _ in 0..100 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what} did not happen within 10s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_answers_503_and_recovers_by_itself() {
    let (app, mut proxy) = app_behind_proxy(false).await;
    app.wait_until_ready().await;
    let task = app
        .create_ok(json!({ "title": "survives the outage" }))
        .await;
    let path = format!("/api/v1/tasks/{}", task["id"].as_str().unwrap());

    proxy.cut().await;
    let started = std::time::Instant::now();
    let response = app.get(&path).await;
    let body = assert_problem(
        response,
        StatusCode::SERVICE_UNAVAILABLE,
        "database-unavailable",
    )
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "fails fast, took {:?}: {body}",
        started.elapsed()
    );
    assert_eq!(app.readyz().await, StatusCode::SERVICE_UNAVAILABLE);
    let live = app
        .client
        .get(format!("{}/livez", app.admin_address))
        .send()
        .await
        .unwrap();
    assert_eq!(
        live.status(),
        StatusCode::OK,
        "an outage must not make the process look dead"
    );

    proxy.restore().await;
    eventually("recovery", || async {
        app.get(&path).await.status() == StatusCode::OK
    })
    .await;
    assert_eq!(app.readyz().await, StatusCode::OK);
    let fetched: Value = app.get(&path).await.json().await.unwrap();
    assert_eq!(fetched, task);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_down_at_start_delays_readiness_without_crashing() {
    let (app, mut proxy) = app_behind_proxy(true).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(app.readyz().await, StatusCode::SERVICE_UNAVAILABLE);
    assert_problem(
        app.get("/api/v1/tasks").await,
        StatusCode::SERVICE_UNAVAILABLE,
        "not-ready",
    )
    .await;
    proxy.restore().await;
    eventually("readiness", || async {
        app.readyz().await == StatusCode::OK
    })
    .await;
    assert_eq!(
        app.create(json!({ "title": "after start" })).await.status(),
        StatusCode::CREATED
    );
}

#[test]
fn help_lists_every_variable_and_bad_config_names_it() {
    let binary = env!("CARGO_BIN_EXE_task-api");
    let help = Command::new(binary).arg("--help").output().unwrap();
    assert!(help.status.success());
    let text = String::from_utf8(help.stdout).unwrap();
    for variable in task_api::config::SETTINGS {
        assert!(
            text.contains(variable.name),
            "--help is missing {}",
            variable.name
        );
    }
    let bad = Command::new(binary)
        .env("ADMIN_LISTEN_ADDR", "localhost")
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let stderr = String::from_utf8(bad.stderr).unwrap();
    assert!(stderr.contains("ADMIN_LISTEN_ADDR"), "{stderr}");
    let required = Command::new(binary)
        .env("AUTH_REQUIRED", "true")
        .env_remove("AUTH_JWT_SECRET")
        .output()
        .unwrap();
    assert_eq!(required.status.code(), Some(2));
    assert!(
        String::from_utf8(required.stderr)
            .unwrap()
            .contains("AUTH_REQUIRED")
    );
    let scratch = tempfile::tempdir().unwrap();
    let unopenable = Command::new(binary)
        .env(
            "LOG_FILE",
            scratch.path().join("missing-directory/task-api.log"),
        )
        .output()
        .unwrap();
    assert_eq!(unopenable.status.code(), Some(2));
    let stderr = String::from_utf8(unopenable.stderr).unwrap();
    assert!(stderr.contains("invalid LOG_FILE="), "{stderr}");
}
