//! Keys from an identity provider's JWKS, served by a real HTTP server: rotation without a
//! restart, the provider going away, a flood of unknown `kid`s, readiness before the first
//! keys, OIDC discovery and Cache-Control.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::{
    helpers::{
        Backend, TestApp, assert_problem, fresh_database, sample, spawn_app_with, start_unready,
    },
    identity_provider::{IdentityProvider, SigningKey, good_claims, sign, signing_key},
};

/// Long enough that only the test's own steps trigger fetches.
const SLOW_REFRESH: (&str, &str) = ("AUTH_JWKS_REFRESH_INTERVAL", "1h");

async fn jwks_app(provider: &IdentityProvider, extra: &[(&str, &str)]) -> TestApp {
    let url = provider.jwks_url();
    let mut settings = vec![("AUTH_JWT_SECRET", ""), ("AUTH_JWKS_URL", url.as_str())];
    settings.extend_from_slice(extra);
    spawn_app_with(Backend::Sqlite, &settings).await
}

async fn call(app: &TestApp, token: &str) -> reqwest::Response {
    app.client
        .get(app.url("/api/v1/tasks"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

fn token(kid: &'static str) -> String {
    sign(&signing_key(kid), &good_claims("alice"))
}

fn unknown_kid_token(n: usize) -> String {
    let kid: &'static str = Box::leak(format!("made-up-{n}").into_boxed_str());
    let key = SigningKey {
        kid,
        ..signing_key("ec-1")
    };
    sign(&key, &good_claims("alice"))
}

async fn refused_for(response: reqwest::Response, reason_description: &str) {
    let problem = assert_problem(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    assert_eq!(problem["detail"], reason_description);
}

const UNKNOWN_KID: &str = "No key with the token's kid is known.";

#[tokio::test]
async fn a_rotation_is_picked_up_without_a_restart() {
    let provider = IdentityProvider::start(&["rsa-1"]).await;
    let app = jwks_app(
        &provider,
        &[SLOW_REFRESH, ("AUTH_JWKS_MIN_REFRESH_INTERVAL", "200ms")],
    )
    .await;
    assert_eq!(call(&app, &token("rsa-1")).await.status(), StatusCode::OK);

    // The provider adds a new key and removes the old one.
    provider.publish(&["rsa-2"]);
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(
        call(&app, &token("rsa-2")).await.status(),
        StatusCode::OK,
        "the new kid triggers a refresh"
    );
    refused_for(call(&app, &token("rsa-1")).await, UNKNOWN_KID).await;
    assert!(provider.jwks_fetches() >= 2);
}

#[tokio::test]
async fn the_cached_keys_keep_working_when_the_provider_goes_away() {
    let mut provider = IdentityProvider::start(&["ec-1"]).await;
    let app = jwks_app(
        &provider,
        &[SLOW_REFRESH, ("AUTH_JWKS_MIN_REFRESH_INTERVAL", "200ms")],
    )
    .await;
    provider.stop().await;
    tokio::time::sleep(Duration::from_millis(250)).await;

    refused_for(call(&app, &unknown_kid_token(0)).await, UNKNOWN_KID).await;
    assert_eq!(call(&app, &token("ec-1")).await.status(), StatusCode::OK);
    assert_eq!(app.readyz().await, StatusCode::OK, "still ready");
    let text = app.scrape().await;
    assert_eq!(
        sample(&text, "task_api_auth_jwks_refresh_failures_total"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "task_api_auth_jwks_refreshes_total"),
        Some(2.0)
    );
    assert_eq!(sample(&text, "task_api_auth_jwks_keys"), Some(1.0));
    assert!(sample(&text, "task_api_auth_jwks_age_seconds").is_some_and(|age| age >= 0.25));
    assert_eq!(
        sample(
            &text,
            "task_api_auth_failures_total{reason=\"unknown_key\"}"
        ),
        Some(1.0)
    );
    promtool_check_metrics(&text);
}

/// `promtool check metrics` finds nothing to say about the exposition.
fn promtool_check_metrics(text: &str) {
    let promtool = std::env::var("PROMTOOL").expect("PROMTOOL is not set: run ./scripts/test");
    let mut check = std::process::Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(check.stdin.as_mut().unwrap(), text.as_bytes()).unwrap();
    let output = check.wait_with_output().unwrap();
    assert!(
        output.status.success() && output.stdout.is_empty() && output.stderr.is_empty(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test]
async fn a_burst_of_unknown_kids_fetches_at_most_once_per_interval() {
    let provider = IdentityProvider::start(&["ec-1"]).await;
    let app = jwks_app(
        &provider,
        &[SLOW_REFRESH, ("AUTH_JWKS_MIN_REFRESH_INTERVAL", "2s")],
    )
    .await;
    assert_eq!(provider.jwks_fetches(), 1, "fetched once at start");
    for _ in 0..20 {
        assert_eq!(call(&app, &token("ec-1")).await.status(), StatusCode::OK);
    }
    assert_eq!(provider.jwks_fetches(), 1, "verifying never fetches");
    // Within the interval after the start fetch: none of them fetches.
    let burst = |from: usize| {
        let app = &app;
        futures::future::join_all(
            (from..from + 50)
                .map(move |n| async move { call(app, &unknown_kid_token(n)).await.status() }),
        )
    };
    assert!(
        burst(0)
            .await
            .iter()
            .all(|s| *s == StatusCode::UNAUTHORIZED)
    );
    assert_eq!(provider.jwks_fetches(), 1);

    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert!(
        burst(100)
            .await
            .iter()
            .all(|s| *s == StatusCode::UNAUTHORIZED)
    );
    assert_eq!(
        provider.jwks_fetches(),
        2,
        "one fetch for fifty unknown kids"
    );
    assert!(
        burst(200)
            .await
            .iter()
            .all(|s| *s == StatusCode::UNAUTHORIZED)
    );
    assert_eq!(provider.jwks_fetches(), 2);
    assert_eq!(call(&app, &token("ec-1")).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn readiness_waits_for_the_first_keys() {
    let provider = IdentityProvider::start(&["ec-1"]).await;
    provider.set_failing(true);
    let url = provider.jwks_url();
    let (database_url, scratch) = fresh_database(Backend::Sqlite).await;
    let app = start_unready(
        &database_url,
        scratch,
        &[
            ("AUTH_JWT_SECRET", ""),
            ("AUTH_JWKS_URL", url.as_str()),
            ("AUTH_JWKS_MIN_REFRESH_INTERVAL", "200ms"),
        ],
    )
    .await;
    // Failing fetches (at start and the retries) never make it ready.
    while provider.jwks_fetches() < 2 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(app.readyz().await, StatusCode::SERVICE_UNAVAILABLE);
    let response = call(&app, &token("ec-1")).await;
    assert_problem(response, StatusCode::SERVICE_UNAVAILABLE, "not-ready").await;

    provider.set_failing(false);
    for _ in 0..400 {
        if app.readyz().await == StatusCode::OK {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(
        app.readyz().await,
        StatusCode::OK,
        "ready once keys arrived"
    );
    assert_eq!(call(&app, &token("ec-1")).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn oidc_discovery_finds_the_keys_and_requires_the_issuer() {
    let provider = IdentityProvider::start(&["rsa-2", "ec-1"]).await;
    let issuer = provider.base_url.clone();
    let app = spawn_app_with(
        Backend::Sqlite,
        &[
            ("AUTH_JWT_SECRET", ""),
            ("AUTH_OIDC_ISSUER", issuer.as_str()),
        ],
    )
    .await;
    let mut claims = good_claims("alice");
    claims["iss"] = json!(issuer);
    for kid in ["rsa-2", "ec-1"] {
        let response = call(&app, &sign(&signing_key(kid), &claims)).await;
        assert_eq!(response.status(), StatusCode::OK, "{kid}");
    }
    claims["iss"] = json!("https://issuer.test");
    let problem = assert_problem(
        call(&app, &sign(&signing_key("ec-1"), &claims)).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    assert_eq!(
        problem["detail"],
        "The token's issuer (iss) is not accepted."
    );
}

#[tokio::test]
async fn cache_control_max_age_schedules_the_refresh() {
    let provider = IdentityProvider::start(&["ec-1"]).await;
    provider.set_cache_control("public, max-age=1");
    let _app = jwks_app(
        &provider,
        &[SLOW_REFRESH, ("AUTH_JWKS_MIN_REFRESH_INTERVAL", "200ms")],
    )
    .await;
    // With a 1 h interval, only max-age can bring the second and third fetch.
    for _ in 0..400 {
        if provider.jwks_fetches() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(provider.jwks_fetches() >= 3, "{}", provider.jwks_fetches());
}

#[tokio::test]
async fn the_owner_claim_is_configurable() {
    let provider = IdentityProvider::start(&["ec-1"]).await;
    let app = jwks_app(&provider, &[("AUTH_OWNER_CLAIM", "username")]).await;
    let mut claims = good_claims("ignored-sub");
    claims["username"] = json!("carol");
    let token = sign(&signing_key("ec-1"), &claims);
    let created = app
        .client
        .post(app.url("/api/v1/tasks"))
        .bearer_auth(&token)
        .json(&json!({ "title": "carol's" }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let mut other = good_claims("ignored-sub");
    other["username"] = json!("dave");
    let page: serde_json::Value = call(&app, &sign(&signing_key("ec-1"), &other))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        page["items"],
        json!([]),
        "owners are told apart by username"
    );
    claims.as_object_mut().unwrap().remove("username");
    refused_for(
        call(&app, &sign(&signing_key("ec-1"), &claims)).await,
        "The token lacks a required claim (exp or the owner claim) or has a malformed one.",
    )
    .await;
}
