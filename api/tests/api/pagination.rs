//! Listing: filters, sort orders and keyset cursors, including while rows are inserted.

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, spawn_app};

crate::on_both_backends!(
    pages_cover_every_task_once_in_creation_order,
    filters_select_by_status_and_priority,
    due_date_sort_puts_undated_tasks_last_both_ways,
    paging_stays_correct_while_tasks_are_inserted,
    the_last_page_has_no_next_field_as_the_openapi_document_says,
);

/// Follows `next` cursors from `first`, returning every item.
async fn collect_pages(app: &TestApp, first: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut path = first.to_owned();
    for _ in 0..1000 {
        let page: Value = app.get(&path).await.json().await.unwrap();
        items.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next"].as_str() {
            Some(next) => {
                let sep = if first.contains('?') { '&' } else { '?' };
                path = format!("{first}{sep}cursor={next}");
            }
            None => return items,
        }
    }
    panic!("pagination did not end");
}

fn ids(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn pages_cover_every_task_once_in_creation_order(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut created = Vec::new();
    for i in 0..25 {
        created.push(
            app.create_ok(json!({ "title": format!("task {i}") })).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let first: Value = app
        .get("/api/v1/tasks?limit=10")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(first["items"].as_array().unwrap().len(), 10);
    assert!(first["next"].is_string());
    assert_eq!(
        ids(&collect_pages(&app, "/api/v1/tasks?limit=10").await),
        created
    );
    let mut newest_first = created.clone();
    newest_first.reverse();
    assert_eq!(
        ids(&collect_pages(&app, "/api/v1/tasks?limit=7&sort=-created_at").await),
        newest_first
    );
    let exact: Value = app
        .get("/api/v1/tasks?limit=25")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(exact["next"], Value::Null, "no empty trailing page");
}

async fn filters_select_by_status_and_priority(backend: Backend) {
    let app = spawn_app(backend).await;
    for (status, priority) in [
        ("todo", "high"),
        ("done", "high"),
        ("done", "low"),
        ("in_progress", "low"),
        ("done", "high"),
    ] {
        app.create_ok(json!({ "title": "t", "status": status, "priority": priority }))
            .await;
    }
    let done = collect_pages(&app, "/api/v1/tasks?status=done&limit=1").await;
    assert_eq!(done.len(), 3);
    assert!(done.iter().all(|t| t["status"] == "done"));
    let done_high = collect_pages(&app, "/api/v1/tasks?status=done&priority=high").await;
    assert_eq!(done_high.len(), 2);
    assert!(
        done_high
            .iter()
            .all(|t| t["status"] == "done" && t["priority"] == "high")
    );
}

async fn due_date_sort_puts_undated_tasks_last_both_ways(backend: Backend) {
    let app = spawn_app(backend).await;
    let dues = [
        Some("2027-03-01T00:00:00Z"),
        None,
        Some("2027-01-01T00:00:00Z"),
        None,
        Some("2027-02-01T00:00:00Z"),
        Some("2027-01-01T00:00:00Z"),
    ];
    for due in dues {
        app.create_ok(json!({ "title": "t", "due_at": due })).await;
    }
    for (sort, expected) in [
        (
            "due_at",
            [
                "2027-01-01",
                "2027-01-01",
                "2027-02-01",
                "2027-03-01",
                "-",
                "-",
            ],
        ),
        (
            "-due_at",
            [
                "2027-03-01",
                "2027-02-01",
                "2027-01-01",
                "2027-01-01",
                "-",
                "-",
            ],
        ),
    ] {
        let items = collect_pages(&app, &format!("/api/v1/tasks?sort={sort}&limit=2")).await;
        let got: Vec<String> = items
            .iter()
            .map(|t| {
                t["due_at"]
                    .as_str()
                    .map_or("-".to_owned(), |d| d[..10].to_owned())
            })
            .collect();
        assert_eq!(got, expected, "sort={sort}");
        assert_eq!(
            items
                .iter()
                .map(|t| t["id"].clone())
                .collect::<HashSet<_>>()
                .len(),
            6,
            "sort={sort}: no repeats"
        );
    }
}

async fn paging_stays_correct_while_tasks_are_inserted(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut before = Vec::new();
    for i in 0..30 {
        before.push(
            app.create_ok(json!({ "title": format!("before {i}") }))
                .await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let writer = {
        let app = app.as_owner("alice");
        tokio::spawn(async move {
            for i in 0..40 {
                app.create_ok(json!({ "title": format!("during {i}") }))
                    .await;
            }
        })
    };
    let seen = ids(&collect_pages(&app, "/api/v1/tasks?limit=3").await);
    writer.await.unwrap();
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no task appears twice");
    assert_eq!(
        &seen[..30],
        &before[..],
        "every task that existed at the start appears once, in order"
    );
    // Newest-first while inserting: the pre-existing tasks still all appear exactly once.
    let writer = {
        let app = app.as_owner("alice");
        tokio::spawn(async move {
            for i in 0..20 {
                app.create_ok(json!({ "title": format!("late {i}") })).await;
            }
        })
    };
    let seen = ids(&collect_pages(&app, "/api/v1/tasks?limit=4&sort=-created_at").await);
    writer.await.unwrap();
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no task appears twice");
    for id in &before {
        assert!(unique.contains(id), "{id} was skipped");
    }
}

async fn the_last_page_has_no_next_field_as_the_openapi_document_says(backend: Backend) {
    let app = spawn_app(backend).await;
    for i in 0..3 {
        app.create_ok(json!({ "title": format!("task {i}") })).await;
    }
    let first: Value = app.get("/api/v1/tasks?limit=2").await.json().await.unwrap();
    assert!(first["next"].is_string(), "{first}");
    let next = first["next"].as_str().unwrap();
    let last: Value = app
        .get(&format!("/api/v1/tasks?limit=2&cursor={next}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(last["items"].as_array().unwrap().len(), 1);
    assert!(
        !last.as_object().unwrap().contains_key("next"),
        "absent, not null, on the last page: {last}"
    );

    let doc: Value = app.get("/api/v1/openapi.json").await.json().await.unwrap();
    let page = &doc["components"]["schemas"]["TaskPage"];
    assert_eq!(page["properties"]["next"]["type"], "string", "{page}");
    assert!(
        !page["required"]
            .as_array()
            .is_some_and(|required| required.iter().any(|field| field == "next")),
        "next is optional: {page}"
    );
}
