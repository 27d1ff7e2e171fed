//! Test harness: the real application on port 0 against a fresh database per test.
//!
//! PostgreSQL tests use the throwaway cluster `scripts/test` starts and names in
//! `WATCHPOST_TEST_POSTGRES_URL`; each test gets its own database in it.

use std::{collections::HashMap, time::Duration};

use jsonwebtoken::{EncodingKey, Header};
use reqwest::{Response, StatusCode};
use serde_json::Value;
use task_api::{config::Settings, startup::Application};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    sync::oneshot,
    task::JoinHandle,
};

pub const SECRET: &str = "test-secret-that-is-at-least-32-bytes-long";

#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Generates one `#[tokio::test]` per backend for each listed `async fn(Backend)`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name($crate::helpers::Backend::Sqlite).await })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name($crate::helpers::Backend::Postgres).await })*
        }
    };
}

pub struct TestApp {
    pub address: String,
    pub admin_address: String,
    pub client: reqwest::Client,
    pub database_url: String,
    token: Option<String>,
    shutdown: Option<oneshot::Sender<()>>,
    pub server: Option<JoinHandle<anyhow::Result<()>>>,
    _scratch: Option<tempfile::TempDir>,
}

/// A fresh database URL for `backend`.
pub async fn fresh_database(backend: Backend) -> (String, Option<tempfile::TempDir>) {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!("sqlite://{}", dir.path().join("tasks.db").display());
            (url, Some(dir))
        }
        Backend::Postgres => {
            let admin_url = postgres_admin_url();
            let name = format!("t_{}", uuid::Uuid::new_v4().simple());
            let admin = sqlx::PgPool::connect(&admin_url)
                .await
                .expect("connect to the test cluster");
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&admin)
                .await
                .expect("create a test database");
            admin.close().await;
            let base = admin_url.rsplit_once('/').expect("a URL with a database").0;
            (format!("{base}/{name}"), None)
        }
    }
}

pub fn postgres_admin_url() -> String {
    std::env::var("WATCHPOST_TEST_POSTGRES_URL").expect(
        "WATCHPOST_TEST_POSTGRES_URL is not set: run ./scripts/test, which starts a throwaway PostgreSQL",
    )
}

/// The app with HS256 auth, on a fresh database.
pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, &[]).await
}

/// The app with HS256 auth and extra environment settings.
pub async fn spawn_app_with(backend: Backend, extra: &[(&str, &str)]) -> TestApp {
    let (database_url, scratch) = fresh_database(backend).await;
    let app = start_unready(&database_url, scratch, extra).await;
    app.wait_until_ready().await;
    app
}

/// Settings for a test app on `database_url`: loopback port 0, HS256 auth, no drain delay.
pub fn test_settings(database_url: &str, extra: &[(&str, &str)]) -> Settings {
    let mut vars: HashMap<String, String> = [
        ("LISTEN_ADDR", "127.0.0.1:0"),
        ("ADMIN_LISTEN_ADDR", "127.0.0.1:0"),
        ("DATABASE_URL", database_url),
        ("AUTH_JWT_SECRET", SECRET),
        ("SHUTDOWN_DRAIN_DELAY", "0s"),
        ("DATABASE_ACQUIRE_TIMEOUT", "1s"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    for (k, v) in extra {
        vars.insert((*k).to_owned(), (*v).to_owned());
    }
    Settings::from_lookup(|name| vars.get(name).cloned()).expect("valid test settings")
}

/// The app serving on `database_url`, not waiting for readiness (the database may be down).
pub async fn start_unready(
    database_url: &str,
    scratch: Option<tempfile::TempDir>,
    extra: &[(&str, &str)],
) -> TestApp {
    let settings = test_settings(database_url, extra);
    let development = settings.auth.key.is_none();
    let mut app = start(settings, database_url.to_owned(), scratch).await;
    if !development {
        app.token = Some(token_for("alice"));
    }
    app
}

async fn start(
    settings: Settings,
    database_url: String,
    scratch: Option<tempfile::TempDir>,
) -> TestApp {
    let application = Application::build(settings)
        .await
        .expect("the application builds");
    let mut app = TestApp::from_application(application, database_url);
    app._scratch = scratch;
    app
}

impl TestApp {
    /// Serves a built application in the background.
    pub fn from_application(application: Application, database_url: String) -> TestApp {
        let address = format!("http://127.0.0.1:{}", application.port());
        let admin_address = format!("http://127.0.0.1:{}", application.admin_port());
        let (shutdown, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(application.run_until_stopped(async move {
            let _ = stopped.await;
        }));
        TestApp {
            address,
            admin_address,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(20))
                .build()
                .unwrap(),
            database_url,
            token: None,
            shutdown: Some(shutdown),
            server: Some(server),
            _scratch: None,
        }
    }
}

/// An HS256 token for `sub`, valid for an hour.
pub fn token_for(sub: &str) -> String {
    let exp = chrono::Utc::now().timestamp() + 3600;
    jsonwebtoken::encode(
        &Header::default(),
        &serde_json::json!({ "sub": sub, "exp": exp }),
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap()
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// Another client of the same running app, calling as `sub`.
    pub fn as_owner(&self, sub: &str) -> TestApp {
        TestApp {
            address: self.address.clone(),
            admin_address: self.admin_address.clone(),
            client: self.client.clone(),
            database_url: self.database_url.clone(),
            token: Some(token_for(sub)),
            shutdown: None,
            server: None,
            _scratch: None,
        }
    }

    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let builder = self.client.request(method, self.url(path));
        match &self.token {
            Some(token) => builder.bearer_auth(token),
            None => builder,
        }
    }

    pub async fn create(&self, body: Value) -> Response {
        self.request(reqwest::Method::POST, "/api/v1/tasks")
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// Creates a task and returns its JSON, asserting success.
    pub async fn create_ok(&self, body: Value) -> Value {
        let response = self.create(body).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        response.json().await.unwrap()
    }

    /// Creates a task and returns its id, asserting success.
    pub async fn create_id(&self, body: Value) -> String {
        self.create_ok(body).await["id"]
            .as_str()
            .expect("a task id")
            .to_owned()
    }

    /// The task's JSON as `GET /api/v1/tasks/{id}` answers it.
    pub async fn task(&self, id: &str) -> Value {
        self.get(&format!("/api/v1/tasks/{id}"))
            .await
            .json()
            .await
            .unwrap()
    }

    pub async fn get(&self, path: &str) -> Response {
        self.request(reqwest::Method::GET, path)
            .send()
            .await
            .unwrap()
    }

    pub async fn patch(&self, id: &str, body: Value, if_match: Option<&str>) -> Response {
        let mut builder = self
            .request(reqwest::Method::PATCH, &format!("/api/v1/tasks/{id}"))
            .json(&body);
        if let Some(tag) = if_match {
            builder = builder.header("If-Match", tag);
        }
        builder.send().await.unwrap()
    }

    pub async fn delete(&self, id: &str, if_match: Option<&str>) -> Response {
        let mut builder = self.request(reqwest::Method::DELETE, &format!("/api/v1/tasks/{id}"));
        if let Some(tag) = if_match {
            builder = builder.header("If-Match", tag);
        }
        builder.send().await.unwrap()
    }

    pub async fn readyz(&self) -> StatusCode {
        match self
            .client
            .get(format!("{}/readyz", self.admin_address))
            .send()
            .await
        {
            Ok(response) => response.status(),
            Err(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The admin listener's `/metrics` exposition.
    pub async fn scrape(&self) -> String {
        self.client
            .get(format!("{}/metrics", self.admin_address))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    pub async fn wait_until_ready(&self) {
        for _ in 0..200 {
            if self.readyz().await == StatusCode::OK {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("the application did not become ready within 5s");
    }

    /// Sends the shutdown signal without waiting for the drain.
    pub fn signal_shutdown(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

/// The value of `series` (its name and labels exactly as exposed) in a scraped exposition.
pub fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// Asserts a problem+json response and returns its body.
pub async fn assert_problem(response: Response, status: StatusCode, slug: &str) -> Value {
    assert_eq!(response.status(), status, "unexpected status");
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/problem+json")
    );
    let request_id = response
        .headers()
        .get("x-request-id")
        .expect("X-Request-Id")
        .to_str()
        .unwrap()
        .to_owned();
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["type"],
        format!("https://watchpost.dev/problems/{slug}"),
        "{body}"
    );
    assert_eq!(body["status"], status.as_u16());
    assert_eq!(
        body["request_id"], request_id,
        "problem carries the request id"
    );
    assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()));
    body
}

/// A POST whose body arrives in two halves `pause` apart, over a raw connection: the
/// request is in flight (holding a concurrency permit) for at least `pause`.
/// Returns the status code and the raw response.
pub async fn slow_post(
    address: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
    pause: Duration,
) -> (u16, String) {
    let host = address.trim_start_matches("http://");
    let mut stream = TcpStream::connect(host).await.expect("connect");
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n{auth}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let (first, second) = body.split_at(body.len() / 2);
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(first.as_bytes()).await.unwrap();
    tokio::time::sleep(pause).await;
    let _ = stream.write_all(second.as_bytes()).await;
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response).await;
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, response)
}
