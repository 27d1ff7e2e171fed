//! Create, read, update and delete.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Backend, assert_problem, spawn_app};

crate::on_both_backends!(
    create_answers_201_with_location_etag_and_defaults,
    get_returns_what_create_stored,
    patch_changes_only_the_given_fields,
    patch_with_null_due_date_clears_it,
    delete_answers_204_and_the_task_is_gone,
    unknown_and_malformed_ids_are_404,
    get_with_a_matching_if_none_match_is_304,
);

async fn create_answers_201_with_location_etag_and_defaults(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app.create(json!({ "title": "Page the on-call" })).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(response.headers()["etag"], "\"1\"");
    let task: Value = response.json().await.unwrap();
    assert_eq!(
        location,
        format!("/api/v1/tasks/{}", task["id"].as_str().unwrap())
    );
    assert_eq!(task["status"], "todo");
    assert_eq!(task["priority"], "medium");
    assert_eq!(task["description"], "");
    assert_eq!(task["due_at"], Value::Null);
    assert_eq!(task["version"], 1);
    assert_eq!(task["created_at"], task["updated_at"]);
}

async fn get_returns_what_create_stored(backend: Backend) {
    let app = spawn_app(backend).await;
    let created = app
        .create_ok(json!({
            "title": "Rotate the keys", "description": "before Friday", "status": "in_progress",
            "priority": "high", "due_at": "2026-12-24T18:30:00.123456+02:00"
        }))
        .await;
    let response = app
        .get(&format!(
            "/api/v1/tasks/{}",
            created["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["etag"], "\"1\"");
    let fetched: Value = response.json().await.unwrap();
    assert_eq!(fetched, created);
    assert_eq!(
        fetched["due_at"], "2026-12-24T16:30:00.123456Z",
        "stored in UTC at microsecond precision"
    );
}

async fn patch_changes_only_the_given_fields(backend: Backend) {
    let app = spawn_app(backend).await;
    let created = app
        .create_ok(json!({ "title": "a", "priority": "low", "due_at": "2027-01-01T00:00:00Z" }))
        .await;
    let id = created["id"].as_str().unwrap();
    let response = app
        .patch(id, json!({ "status": "done", "title": "b" }), None)
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["etag"], "\"2\"");
    let updated: Value = response.json().await.unwrap();
    assert_eq!(updated["status"], "done");
    assert_eq!(updated["title"], "b");
    assert_eq!(updated["priority"], "low");
    assert_eq!(updated["due_at"], created["due_at"]);
    assert_eq!(updated["version"], 2);
    assert_eq!(updated["created_at"], created["created_at"]);
    let fetched: Value = app
        .get(&format!("/api/v1/tasks/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(fetched, updated);
}

async fn patch_with_null_due_date_clears_it(backend: Backend) {
    let app = spawn_app(backend).await;
    let created = app
        .create_ok(json!({ "title": "a", "due_at": "2027-01-01T00:00:00Z" }))
        .await;
    let updated: Value = app
        .patch(
            created["id"].as_str().unwrap(),
            json!({ "due_at": null }),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(updated["due_at"], Value::Null);
}

async fn delete_answers_204_and_the_task_is_gone(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app.create_ok(json!({ "title": "a" })).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let response = app.delete(&id, None).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_problem(
        app.get(&format!("/api/v1/tasks/{id}")).await,
        StatusCode::NOT_FOUND,
        "task-not-found",
    )
    .await;
    assert_problem(
        app.delete(&id, None).await,
        StatusCode::NOT_FOUND,
        "task-not-found",
    )
    .await;
}

async fn unknown_and_malformed_ids_are_404(backend: Backend) {
    let app = spawn_app(backend).await;
    let unknown = uuid::Uuid::now_v7();
    assert_problem(
        app.get(&format!("/api/v1/tasks/{unknown}")).await,
        StatusCode::NOT_FOUND,
        "task-not-found",
    )
    .await;
    assert_problem(
        app.get("/api/v1/tasks/not-a-uuid").await,
        StatusCode::NOT_FOUND,
        "task-not-found",
    )
    .await;
    assert_problem(
        app.patch(&unknown.to_string(), json!({"title": "x"}), None)
            .await,
        StatusCode::NOT_FOUND,
        "task-not-found",
    )
    .await;
}

async fn get_with_a_matching_if_none_match_is_304(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app.create_ok(json!({ "title": "a" })).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let response = app
        .request(reqwest::Method::GET, &format!("/api/v1/tasks/{id}"))
        .header("If-None-Match", "\"1\"")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
    let response = app
        .request(reqwest::Method::GET, &format!("/api/v1/tasks/{id}"))
        .header("If-None-Match", "\"7\"")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}
