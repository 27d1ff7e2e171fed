//! Bearer JWT authentication and owner isolation.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Backend, SECRET, assert_problem, spawn_app, spawn_app_with};

crate::on_both_backends!(
    requests_without_a_valid_token_are_401,
    one_owner_never_sees_anothers_tasks,
    rs256_tokens_are_verified_with_the_public_key,
    development_mode_needs_no_token,
);

fn hs256(claims: Value, secret: &str) -> String {
    jsonwebtoken::encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

async fn requests_without_a_valid_token_are_401(backend: Backend) {
    let app = spawn_app(backend).await;
    let later = chrono::Utc::now().timestamp() + 600;
    let bad_tokens = [
        None,
        Some("Basic YWxpY2U6c2VjcmV0".to_owned()),
        Some("Bearer not-a-jwt".to_owned()),
        Some(format!(
            "Bearer {}",
            hs256(
                json!({ "sub": "alice", "exp": later }),
                "another-secret-of-at-least-32-bytes!"
            )
        )),
        Some(format!(
            "Bearer {}",
            hs256(json!({ "sub": "alice", "exp": 1_000_000 }), SECRET)
        )),
        Some(format!("Bearer {}", hs256(json!({ "exp": later }), SECRET))),
        Some(format!(
            "Bearer {}",
            hs256(json!({ "sub": "", "exp": later }), SECRET)
        )),
    ];
    for authorization in bad_tokens {
        let mut request = app.client.request(Method::GET, app.url("/api/v1/tasks"));
        if let Some(value) = &authorization {
            request = request.header("authorization", value);
        }
        let response = request.send().await.unwrap();
        assert!(
            response.headers().get("www-authenticate").is_some(),
            "{authorization:?}"
        );
        assert_problem(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    }
    // The body is not looked at before the caller is known.
    let response = app
        .client
        .post(app.url("/api/v1/tasks"))
        .body("garbage")
        .send()
        .await
        .unwrap();
    assert_problem(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
}

async fn one_owner_never_sees_anothers_tasks(backend: Backend) {
    let alice = spawn_app(backend).await;
    let bob = alice.as_owner("bob");
    let task = alice.create_ok(json!({ "title": "alice's" })).await;
    let id = task["id"].as_str().unwrap();
    let path = format!("/api/v1/tasks/{id}");

    assert_problem(
        bob.get(&path).await,
        StatusCode::NOT_FOUND,
        "task-not-found",
    )
    .await;
    assert_problem(
        bob.patch(id, json!({ "title": "mine now" }), None).await,
        StatusCode::NOT_FOUND,
        "task-not-found",
    )
    .await;
    assert_problem(
        bob.patch(id, json!({ "title": "mine now" }), Some("\"1\""))
            .await,
        StatusCode::NOT_FOUND,
        "task-not-found",
    )
    .await;
    assert_problem(
        bob.delete(id, None).await,
        StatusCode::NOT_FOUND,
        "task-not-found",
    )
    .await;
    let page: Value = bob.get("/api/v1/tasks").await.json().await.unwrap();
    assert_eq!(page["items"], json!([]));

    let unchanged: Value = alice.get(&path).await.json().await.unwrap();
    assert_eq!(unchanged, task, "bob's attempts changed nothing");
}

async fn rs256_tokens_are_verified_with_the_public_key(backend: Backend) {
    let public = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/rs256-public.pem"
    );
    let app = spawn_app_with(
        backend,
        &[
            ("AUTH_JWT_SECRET", ""),
            ("AUTH_JWT_PUBLIC_KEY_FILE", public),
        ],
    )
    .await;
    let private = include_bytes!("../fixtures/rs256-private.pem");
    let later = chrono::Utc::now().timestamp() + 600;
    let token = jsonwebtoken::encode(
        &Header::new(Algorithm::RS256),
        &json!({ "sub": "carol", "exp": later }),
        &EncodingKey::from_rsa_pem(private).unwrap(),
    )
    .unwrap();
    let response = app
        .client
        .get(app.url("/api/v1/tasks"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    // An HS256 token signed with the public key text must not pass (algorithm confusion).
    let forged = hs256(
        json!({ "sub": "carol", "exp": later }),
        &std::fs::read_to_string(public).unwrap(),
    );
    let response = app
        .client
        .get(app.url("/api/v1/tasks"))
        .bearer_auth(&forged)
        .send()
        .await
        .unwrap();
    assert_problem(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
}

async fn development_mode_needs_no_token(backend: Backend) {
    let app = spawn_app_with(backend, &[("AUTH_JWT_SECRET", "")]).await;
    let response = app
        .client
        .post(app.url("/api/v1/tasks"))
        .json(&json!({ "title": "dev" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
}
