//! Optimistic concurrency: ETag on reads, If-Match on writes, 412 on a stale version.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{Backend, assert_problem, spawn_app};

crate::on_both_backends!(
    a_stale_if_match_is_412_and_changes_nothing,
    of_two_racing_conditional_updates_exactly_one_wins,
    unconditional_concurrent_updates_all_apply,
    if_match_star_and_lists_follow_rfc_9110,
);

async fn a_stale_if_match_is_412_and_changes_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = &app.create_id(json!({ "title": "v1" })).await;
    let updated = app.patch(id, json!({ "title": "v2" }), Some("\"1\"")).await;
    assert_eq!(updated.status(), StatusCode::OK);
    assert_problem(
        app.patch(id, json!({ "title": "v3" }), Some("\"1\"")).await,
        StatusCode::PRECONDITION_FAILED,
        "precondition-failed",
    )
    .await;
    assert_problem(
        app.delete(id, Some("\"1\"")).await,
        StatusCode::PRECONDITION_FAILED,
        "precondition-failed",
    )
    .await;
    let current = app.task(id).await;
    assert_eq!(
        (current["title"].as_str(), current["version"].as_i64()),
        (Some("v2"), Some(2))
    );
    assert_eq!(
        app.delete(id, Some("\"2\"")).await.status(),
        StatusCode::NO_CONTENT
    );
}

async fn of_two_racing_conditional_updates_exactly_one_wins(backend: Backend) {
    let app = spawn_app(backend).await;
    for round in 0..10 {
        let id = app.create_id(json!({ "title": "race" })).await;
        let (a, b) = tokio::join!(
            app.patch(&id, json!({ "title": "a" }), Some("\"1\"")),
            app.patch(&id, json!({ "title": "b" }), Some("\"1\"")),
        );
        let mut statuses = [a.status().as_u16(), b.status().as_u16()];
        statuses.sort();
        assert_eq!(statuses, [200, 412], "round {round}");
        let current = app.task(&id).await;
        assert_eq!(
            current["version"], 2,
            "round {round}: exactly one write landed"
        );
    }
}

async fn unconditional_concurrent_updates_all_apply(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app.create_id(json!({ "title": "counter" })).await;
    let updates =
        (0..8).map(|i| app.patch(&id, json!({ "description": format!("writer {i}") }), None));
    for response in futures::future::join_all(updates).await {
        assert_eq!(response.status(), StatusCode::OK);
    }
    let current = app.task(&id).await;
    assert_eq!(current["version"], 9, "no update was lost");
}

async fn if_match_star_and_lists_follow_rfc_9110(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app.create_id(json!({ "title": "t" })).await;
    assert_eq!(
        app.patch(&id, json!({ "title": "u" }), Some("*"))
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        app.patch(&id, json!({ "title": "v" }), Some("\"9\", \"2\""))
            .await
            .status(),
        StatusCode::OK
    );
    // A weak tag never matches If-Match (strong comparison).
    assert_eq!(
        app.patch(&id, json!({ "title": "w" }), Some("W/\"3\""))
            .await
            .status(),
        StatusCode::PRECONDITION_FAILED
    );
}
