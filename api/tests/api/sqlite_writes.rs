//! SQLite's writes queue for a small pool of their own, beside a pool of readers: many
//! concurrent writers all succeed, in the process's queue rather than SQLite's busy handler.

use futures::{StreamExt as _, stream};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Backend, sample, spawn_app};

const WRITERS: usize = 64;
const CREATES: usize = 256;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creates_on_sqlite_all_succeed_through_the_write_pool() {
    let app = spawn_app(Backend::Sqlite).await;
    let statuses: Vec<StatusCode> = stream::iter(0..CREATES)
        .map(|i| {
            let app = &app;
            async move {
                app.create(json!({ "title": format!("racer {i}") }))
                    .await
                    .status()
            }
        })
        .buffer_unordered(WRITERS)
        .collect()
        .await;
    let failed: Vec<_> = statuses
        .iter()
        .filter(|s| **s != StatusCode::CREATED)
        .collect();
    assert!(failed.is_empty(), "every create answers 201: {failed:?}");

    let mut stored = 0;
    let mut path = "/api/v1/tasks?limit=100".to_owned();
    loop {
        let page: Value = app.get(&path).await.json().await.unwrap();
        stored += page["items"].as_array().unwrap().len();
        match page["next"].as_str() {
            Some(next) => path = format!("/api/v1/tasks?limit=100&cursor={next}"),
            None => break,
        }
    }
    assert_eq!(stored, CREATES, "every created task is stored once");

    let text = app.scrape().await;
    let pool = |metric: &str, name: &str| {
        sample(
            &text,
            &format!(
                "{metric}{{db_system_name=\"sqlite\",db_client_connection_pool_name=\"{name}\"}}"
            ),
        )
    };
    assert_eq!(
        pool("db_client_connection_max", "tasks_write"),
        Some(f64::from(task_api::store::SQLITE_WRITE_CONNECTIONS)),
        "{text}"
    );
    assert_eq!(
        pool("db_client_connection_max", "tasks_read"),
        Some(16.0),
        "{text}"
    );
    assert!(
        pool(
            "db_client_connection_wait_time_seconds_count",
            "tasks_write"
        )
        .is_some_and(|waits| waits >= CREATES as f64),
        "every insert went through the write pool: {text}"
    );
    assert!(
        pool("db_client_connection_wait_time_seconds_count", "tasks_read")
            .is_some_and(|waits| waits >= 1.0),
        "reads go through the read pool: {text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_and_writes_interleave_on_sqlite_and_see_each_other() {
    let app = spawn_app(Backend::Sqlite).await;
    let rounds = stream::iter(0..32)
        .map(|i| {
            let app = &app;
            async move {
                let id = app.create_id(json!({ "title": format!("task {i}") })).await;
                let done = app
                    .patch(&id, json!({ "status": "done" }), Some("\"1\""))
                    .await;
                assert_eq!(done.status(), StatusCode::OK, "task {i}");
                assert_eq!(
                    app.task(&id).await["status"],
                    "done",
                    "task {i}: the read sees the write"
                );
                assert_eq!(
                    app.delete(&id, Some("\"2\"")).await.status(),
                    StatusCode::NO_CONTENT
                );
                assert_eq!(
                    app.get(&format!("/api/v1/tasks/{id}")).await.status(),
                    StatusCode::NOT_FOUND
                );
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<()>>();
    rounds.await;
}
