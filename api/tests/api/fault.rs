//! Fault injection (tests only): `/fault` on the admin listener makes `/api/v1/*` fail or
//! slow on purpose, measured like real failures.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, assert_problem, sample, spawn_app, spawn_app_with};

const ENABLED: (&str, &str) = ("FAULT_INJECTION_ENABLED", "true");

impl TestApp {
    async fn fault(&self, method: Method, body: Option<Value>) -> reqwest::Response {
        let mut request = self
            .client
            .request(method, format!("{}/fault", self.admin_address));
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.unwrap()
    }

    /// The fault now in force, as `GET /fault` answers it.
    async fn current_fault(&self) -> Value {
        self.fault(Method::GET, None).await.json().await.unwrap()
    }
}

/// The value of `http_server_request_duration_seconds_{suffix}` for GET /api/v1/tasks.
fn list_series(text: &str, suffix: &str, status: u16) -> Option<f64> {
    sample(
        text,
        &format!(
            "http_server_request_duration_seconds_{suffix}{{http_request_method=\"GET\",http_route=\"/api/v1/tasks\",http_response_status_code=\"{status}\"}}"
        ),
    )
}

#[tokio::test]
async fn the_fault_endpoint_does_not_exist_unless_enabled() {
    let app = spawn_app(Backend::Sqlite).await;
    for (method, body) in [
        (Method::GET, None),
        (Method::PUT, Some(json!({ "error_ratio": 1.0 }))),
        (Method::DELETE, None),
    ] {
        let response = app.fault(method.clone(), body).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{method}");
    }
    assert_eq!(app.get("/api/v1/tasks").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_ratio_of_one_fails_every_api_call_and_the_metrics_count_the_500s() {
    let app = spawn_app_with(Backend::Sqlite, &[ENABLED]).await;
    let set = app
        .fault(Method::PUT, Some(json!({ "error_ratio": 1.0 })))
        .await;
    assert_eq!(set.status(), StatusCode::OK);
    assert_eq!(
        set.json::<Value>().await.unwrap(),
        json!({ "error_ratio": 1.0, "latency_seconds": 0.0 })
    );

    for _ in 0..5 {
        let body = assert_problem(
            app.get("/api/v1/tasks").await,
            StatusCode::INTERNAL_SERVER_ERROR,
            "injected-fault",
        )
        .await;
        assert!(
            body["title"].as_str().unwrap().contains("Injected"),
            "{body}"
        );
    }
    assert_eq!(
        app.create(json!({ "title": "never stored" }))
            .await
            .status(),
        StatusCode::INTERNAL_SERVER_ERROR
    );
    assert_eq!(
        app.get("/api/v1/openapi.json").await.status(),
        StatusCode::OK,
        "the contract stays readable"
    );
    let text = app.scrape().await;
    assert_eq!(list_series(&text, "count", 500), Some(5.0), "{text}");
    assert_eq!(list_series(&text, "count", 200), None);

    assert_eq!(
        app.fault(Method::DELETE, None).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        app.current_fault().await,
        json!({ "error_ratio": 0.0, "latency_seconds": 0.0 })
    );
    for _ in 0..5 {
        assert_eq!(app.get("/api/v1/tasks").await.status(), StatusCode::OK);
    }
    let listed: Value = app.get("/api/v1/tasks").await.json().await.unwrap();
    assert_eq!(
        listed["items"],
        json!([]),
        "the failed create stored nothing"
    );
    let text = app.scrape().await;
    assert_eq!(list_series(&text, "count", 200), Some(6.0), "{text}");
    assert_eq!(list_series(&text, "count", 500), Some(5.0));
}

#[tokio::test]
async fn injected_latency_delays_every_api_call_and_shows_in_the_duration() {
    let app = spawn_app_with(Backend::Sqlite, &[ENABLED]).await;
    let set = app
        .fault(Method::PUT, Some(json!({ "latency_seconds": 0.3 })))
        .await;
    assert_eq!(set.status(), StatusCode::OK);
    for _ in 0..2 {
        let started = Instant::now();
        assert_eq!(app.get("/api/v1/tasks").await.status(), StatusCode::OK);
        assert!(started.elapsed() >= Duration::from_millis(300));
    }
    let text = app.scrape().await;
    assert_eq!(list_series(&text, "count", 200), Some(2.0), "{text}");
    assert!(
        list_series(&text, "sum", 200).is_some_and(|sum| sum >= 0.6),
        "{text}"
    );
}

#[tokio::test]
async fn the_starting_fault_comes_from_the_environment() {
    let app = spawn_app_with(
        Backend::Sqlite,
        &[
            ENABLED,
            ("FAULT_ERROR_RATIO", "1"),
            ("FAULT_LATENCY_SECONDS", "0.05"),
        ],
    )
    .await;
    assert_eq!(
        app.get("/api/v1/tasks").await.status(),
        StatusCode::INTERNAL_SERVER_ERROR
    );
    assert_eq!(
        app.current_fault().await,
        json!({ "error_ratio": 1.0, "latency_seconds": 0.05 })
    );
}

#[tokio::test]
async fn a_bad_fault_answers_400_naming_the_field_and_changes_nothing() {
    let app = spawn_app_with(Backend::Sqlite, &[ENABLED]).await;
    let cases = [
        (json!({ "error_ratio": 1.5 }), "/error_ratio"),
        (json!({ "error_ratio": "half" }), "/error_ratio"),
        (json!({ "latency_seconds": 61 }), "/latency_seconds"),
        (json!({ "latency_seconds": -1 }), "/latency_seconds"),
        (json!({ "latency": 1 }), "/latency"),
        (json!([0.5]), ""),
    ];
    for (body, pointer) in cases {
        let response = app.fault(Method::PUT, Some(body.clone())).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
        let problem: Value = response.json().await.unwrap();
        assert_eq!(
            problem["type"], "https://watchpost.dev/problems/invalid-fault",
            "{problem}"
        );
        assert_eq!(problem["errors"][0]["pointer"], pointer, "{problem}");
    }
    let response = app
        .client
        .put(format!("{}/fault", app.admin_address))
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        app.current_fault().await,
        json!({ "error_ratio": 0.0, "latency_seconds": 0.0 })
    );
    assert_eq!(app.get("/api/v1/tasks").await.status(), StatusCode::OK);
}
