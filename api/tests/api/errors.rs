//! Every error status the API promises, each as problem+json with the request id.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Backend, assert_problem, slow_post, spawn_app, spawn_app_with, token_for};

crate::on_both_backends!(
    malformed_json_is_400,
    a_non_json_content_type_is_415,
    a_body_over_the_limit_is_413,
    invalid_fields_are_422_with_a_pointer_each,
    unknown_routes_are_404_and_wrong_methods_405,
    bad_list_parameters_are_400_with_each_parameter_named,
    a_sane_caller_request_id_is_echoed_and_an_insane_one_replaced,
    requests_beyond_the_concurrency_limit_are_shed_with_503,
    a_request_over_the_timeout_is_503,
);

async fn malformed_json_is_400(backend: Backend) {
    let app = spawn_app(backend).await;
    for body in ["{\"title\": ", "not json", "{\"title\": \"a\"} {}"] {
        let response = app
            .request(Method::POST, "/api/v1/tasks")
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_problem(response, StatusCode::BAD_REQUEST, "malformed-body").await;
    }
}

async fn a_non_json_content_type_is_415(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app
        .request(Method::POST, "/api/v1/tasks")
        .header("content-type", "text/plain")
        .body("{\"title\": \"a\"}")
        .send()
        .await
        .unwrap();
    assert_problem(
        response,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported-media-type",
    )
    .await;
    let without = app
        .request(Method::POST, "/api/v1/tasks")
        .body("{\"title\": \"a\"}")
        .send()
        .await
        .unwrap();
    assert_problem(
        without,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported-media-type",
    )
    .await;
}

async fn a_body_over_the_limit_is_413(backend: Backend) {
    let app = spawn_app_with(backend, &[("REQUEST_BODY_LIMIT_BYTES", "1024")]).await;
    let response = app
        .create(json!({ "title": "a", "description": "x".repeat(2000) }))
        .await;
    assert_problem(response, StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large").await;
    // Under the limit the same request is fine.
    let response = app
        .create(json!({ "title": "a", "description": "x".repeat(500) }))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
}

async fn invalid_fields_are_422_with_a_pointer_each(backend: Backend) {
    let app = spawn_app(backend).await;
    let cases: &[(Value, &str)] = &[
        (json!({ "title": "" }), "/title"),
        (json!({ "title": "   " }), "/title"),
        (json!({ "title": "x".repeat(256) }), "/title"),
        (
            json!({ "title": "a", "description": "d".repeat(10_001) }),
            "/description",
        ),
        (json!({ "title": "a", "status": "blocked" }), "/status"),
        (json!({ "title": "a", "priority": "urgent" }), "/priority"),
        (json!({ "title": "a", "due_at": "tomorrow" }), "/due_at"),
        (json!({ "title": 7 }), "/title"),
        (json!({}), "/title"),
        (json!({ "title": "a", "owner": "mallory" }), "/owner"),
        (json!([1, 2]), ""),
    ];
    for (body, pointer) in cases {
        let problem = assert_problem(
            app.create(body.clone()).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation-failed",
        )
        .await;
        assert_eq!(problem["errors"][0]["pointer"], *pointer, "for {body}");
    }
    let both = app
        .create(json!({ "title": "", "description": "d".repeat(10_001) }))
        .await;
    let problem = assert_problem(both, StatusCode::UNPROCESSABLE_ENTITY, "validation-failed").await;
    assert_eq!(
        problem["errors"].as_array().unwrap().len(),
        2,
        "every invalid field is reported: {problem}"
    );
    // Nothing was stored by any of them.
    let page: Value = app.get("/api/v1/tasks").await.json().await.unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 0);
}

async fn unknown_routes_are_404_and_wrong_methods_405(backend: Backend) {
    let app = spawn_app(backend).await;
    assert_problem(
        app.get("/api/v2/tasks").await,
        StatusCode::NOT_FOUND,
        "route-not-found",
    )
    .await;
    assert_problem(app.get("/").await, StatusCode::NOT_FOUND, "route-not-found").await;
    let response = app
        .request(Method::PUT, "/api/v1/tasks")
        .send()
        .await
        .unwrap();
    let allow = response
        .headers()
        .get("allow")
        .map(|v| v.to_str().unwrap().to_owned());
    assert_problem(
        response,
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
    )
    .await;
    assert!(allow.is_some_and(|a| a.contains("GET") && a.contains("POST")));
}

async fn bad_list_parameters_are_400_with_each_parameter_named(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app
        .get("/api/v1/tasks?limit=0&status=nope&sort=title&cursor=%%%")
        .await;
    let problem = assert_problem(response, StatusCode::BAD_REQUEST, "invalid-parameters").await;
    let names: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["pointer"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["limit", "status", "sort", "cursor"]);
    assert_problem(
        app.get("/api/v1/tasks?limit=101").await,
        StatusCode::BAD_REQUEST,
        "invalid-parameters",
    )
    .await;
}

async fn a_sane_caller_request_id_is_echoed_and_an_insane_one_replaced(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app
        .request(Method::GET, "/api/v1/tasks/nope")
        .header("x-request-id", "checkout-42")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "checkout-42");
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["request_id"], "checkout-42");

    let response = app
        .request(Method::GET, "/api/v1/tasks")
        .header("x-request-id", "bad id\" with quote")
        .send()
        .await
        .unwrap();
    let id = response.headers()["x-request-id"].to_str().unwrap();
    assert!(
        uuid::Uuid::parse_str(id).is_ok(),
        "replaced by a generated id, got {id}"
    );
}

async fn requests_beyond_the_concurrency_limit_are_shed_with_503(backend: Backend) {
    let app = spawn_app_with(backend, &[("CONCURRENCY_LIMIT", "1")]).await;
    let token = token_for("alice");
    let address = app.address.clone();
    // Holds the only permit while its body trickles in.
    let slow = tokio::spawn(async move {
        slow_post(
            &address,
            "/api/v1/tasks",
            Some(&token),
            r#"{"title": "slow"}"#,
            Duration::from_millis(800),
        )
        .await
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let response = app.get("/api/v1/tasks").await;
    assert_eq!(
        response
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap()),
        Some("1")
    );
    assert_problem(response, StatusCode::SERVICE_UNAVAILABLE, "overloaded").await;
    let (status, _) = slow.await.unwrap();
    assert_eq!(status, 201, "the request holding the permit completes");
    assert_eq!(
        app.get("/api/v1/tasks").await.status(),
        StatusCode::OK,
        "capacity is back"
    );
}

async fn a_request_over_the_timeout_is_503(backend: Backend) {
    let app = spawn_app_with(backend, &[("REQUEST_TIMEOUT", "200ms")]).await;
    let token = token_for("alice");
    let (status, raw) = slow_post(
        &app.address,
        "/api/v1/tasks",
        Some(&token),
        r#"{"title": "slow"}"#,
        Duration::from_millis(600),
    )
    .await;
    assert_eq!(status, 503, "{raw}");
    assert!(
        raw.contains("https://watchpost.dev/problems/timeout"),
        "{raw}"
    );
    assert!(raw.to_ascii_lowercase().contains("retry-after: 1"), "{raw}");
}
