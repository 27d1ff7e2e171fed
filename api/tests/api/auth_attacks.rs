//! The attack suite: tokens an attacker (or a broken client) sends, against each key
//! source (HS256 secret, RS256 public key, a JWKS served over HTTP). Each must answer 401
//! problem+json with an RFC 6750 challenge naming the failed check, count under its
//! reason in `task_api_auth_failures_total`, and never echo the token; tokens within the
//! clock leeway must pass.

use std::collections::BTreeMap;

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{StatusCode, header::HeaderMap};
use serde_json::{Value, json};

use crate::{
    helpers::{Backend, SECRET, TestApp, assert_problem, sample, spawn_app_with},
    identity_provider::{
        AUDIENCE, ISSUER, IdentityProvider, SigningKey, good_claims, sign, signing_key,
    },
};

const RS256_PUBLIC_KEY: &str = include_str!("../fixtures/rs256-public.pem");
const ISSUER_AND_AUDIENCE: [(&str, &str); 2] =
    [("AUTH_JWT_ISSUER", ISSUER), ("AUTH_JWT_AUDIENCE", AUDIENCE)];

/// One way of issuing tokens to an app: a good signature, a forged one (same `kid` and
/// `alg`, another key), and an algorithm-confusion attempt.
struct KeySource {
    name: &'static str,
    good: Box<dyn Fn(&Value) -> String>,
    forged: Box<dyn Fn(&Value) -> String>,
    confused: Box<dyn Fn(&Value) -> String>,
    /// Whether tokens are looked up by `kid` (a JWKS).
    by_kid: bool,
}

fn hs256(secret: &[u8], kid: Option<&str>, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(secret)).unwrap()
}

/// A token naming rsa-1's `kid` and `alg` but signed with rsa-2's private key.
fn rsa_1_forged_with_rsa_2(claims: &Value) -> String {
    let other = SigningKey {
        kid: "rsa-1",
        algorithm: Algorithm::RS256,
        key: signing_key("rsa-2").key,
    };
    sign(&other, claims)
}

fn hs256_source() -> KeySource {
    KeySource {
        name: "HS256 secret",
        good: Box::new(|claims| hs256(SECRET.as_bytes(), None, claims)),
        forged: Box::new(|claims| hs256(b"another-secret-of-at-least-32-bytes!", None, claims)),
        // An RS256 token where an HS256 secret is configured.
        confused: Box::new(|claims| sign(&signing_key("rsa-1"), claims)),
        by_kid: false,
    }
}

fn rs256_source() -> KeySource {
    KeySource {
        name: "RS256 public key",
        good: Box::new(|claims| sign(&signing_key("rsa-1"), claims)),
        forged: Box::new(rsa_1_forged_with_rsa_2),
        // The classic: HS256 keyed with the public key's PEM text.
        confused: Box::new(|claims| hs256(RS256_PUBLIC_KEY.as_bytes(), None, claims)),
        by_kid: false,
    }
}

fn jwks_source() -> KeySource {
    KeySource {
        name: "JWKS",
        good: Box::new(|claims| sign(&signing_key("ec-1"), claims)),
        forged: Box::new(rsa_1_forged_with_rsa_2),
        // HS256 keyed with the public key, naming the RSA key's kid.
        confused: Box::new(|claims| hs256(RS256_PUBLIC_KEY.as_bytes(), Some("rsa-1"), claims)),
        by_kid: true,
    }
}

/// `header.payload.signature` from raw JSON texts (for what a JWT library would refuse
/// to produce).
fn raw_token(header: &str, payload: &str, signature: &str) -> String {
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(payload),
        signature
    )
}

fn with(claims: &Value, changes: Value) -> Value {
    let mut claims = claims.clone();
    for (name, value) in changes.as_object().unwrap() {
        if value.is_null() {
            claims.as_object_mut().unwrap().remove(name);
        } else {
            claims[name] = value.clone();
        }
    }
    claims
}

/// Each case: what it is, the `Authorization` values sent, and the expected reason
/// (`None`: accepted).
fn cases(source: &KeySource) -> Vec<(&'static str, Vec<String>, Option<&'static str>)> {
    let now = chrono::Utc::now().timestamp();
    let claims = good_claims("mallory");
    let good = |changes: Value| format!("Bearer {}", (source.good)(&with(&claims, changes)));
    let mut cases = vec![
        ("a good token", vec![good(json!({}))], None),
        (
            "exp within the leeway",
            vec![good(json!({ "exp": now - 30 }))],
            None,
        ),
        (
            "nbf within the leeway",
            vec![good(json!({ "nbf": now + 30 }))],
            None,
        ),
        (
            "iat within the leeway",
            vec![good(json!({ "iat": now + 30 }))],
            None,
        ),
        ("no Authorization", vec![], Some("missing")),
        (
            "alg none",
            vec![format!(
                "Bearer {}",
                raw_token(r#"{"alg":"none","typ":"JWT"}"#, &claims.to_string(), "")
            )],
            Some("algorithm"),
        ),
        (
            "algorithm confusion",
            vec![format!("Bearer {}", (source.confused)(&claims))],
            Some("algorithm"),
        ),
        (
            "a wrong signature",
            vec![format!("Bearer {}", (source.forged)(&claims))],
            Some("signature"),
        ),
        (
            "expired",
            vec![good(json!({ "exp": now - 3600 }))],
            Some("expired"),
        ),
        (
            "no exp",
            vec![good(json!({ "exp": null }))],
            Some("missing_claim"),
        ),
        (
            "nbf an hour ahead",
            vec![good(json!({ "nbf": now + 3600 }))],
            Some("not_yet_valid"),
        ),
        (
            "iat an hour ahead",
            vec![good(json!({ "iat": now + 3600 }))],
            Some("issued_in_future"),
        ),
        (
            "a wrong iss",
            vec![good(json!({ "iss": "https://evil.test" }))],
            Some("issuer"),
        ),
        (
            "a wrong aud",
            vec![good(json!({ "aud": "another-api" }))],
            Some("audience"),
        ),
        (
            "an empty sub",
            vec![good(json!({ "sub": "" }))],
            Some("invalid_owner"),
        ),
        (
            "no sub",
            vec![good(json!({ "sub": null }))],
            Some("missing_claim"),
        ),
        (
            "malformed base64",
            vec!["Bearer eyJhbGciOi!!.@@@.###".to_owned()],
            Some("malformed"),
        ),
        (
            "malformed JSON",
            vec![format!(
                "Bearer {}",
                raw_token(r#"{"alg":"HS256""#, r#"{"sub":"x""#, "c2ln")
            )],
            Some("malformed"),
        ),
        (
            "a 64 KiB token",
            vec![format!("Bearer {}", "a".repeat(64 * 1024))],
            Some("too_large"),
        ),
        (
            "two Authorization values",
            vec![good(json!({})), good(json!({}))],
            Some("duplicate_header"),
        ),
        (
            "another scheme",
            vec!["Basic YWxpY2U6c2VjcmV0".to_owned()],
            Some("not_bearer"),
        ),
    ];
    if source.by_kid {
        let unknown = SigningKey {
            kid: "never-published",
            algorithm: Algorithm::ES256,
            key: signing_key("ec-1").key,
        };
        cases.push((
            "an unknown kid",
            vec![format!("Bearer {}", sign(&unknown, &claims))],
            Some("unknown_key"),
        ));
        let mut header = Header::new(Algorithm::ES256);
        header.kid = None;
        cases.push((
            "no kid",
            vec![format!(
                "Bearer {}",
                jsonwebtoken::encode(&header, &claims, &signing_key("ec-1").key).unwrap()
            )],
            Some("unknown_key"),
        ));
        // rsa-2 is published for PS256 only: an RS256 signature by it is refused.
        let downgraded = SigningKey {
            kid: "rsa-2",
            algorithm: Algorithm::RS256,
            key: signing_key("rsa-2").key,
        };
        cases.push((
            "an algorithm other than the key's",
            vec![format!("Bearer {}", sign(&downgraded, &claims))],
            Some("algorithm"),
        ));
        for kid in ["rsa-1", "rsa-2"] {
            cases.push((
                "each JWKS algorithm",
                vec![format!("Bearer {}", sign(&signing_key(kid), &claims))],
                None,
            ));
        }
    }
    cases
}

async fn attack(app: &TestApp, source: &KeySource) {
    let mut expected: BTreeMap<&str, u32> = BTreeMap::new();
    for (case, authorizations, reason) in cases(source) {
        let mut headers = HeaderMap::new();
        for value in &authorizations {
            headers.append("authorization", value.parse().unwrap());
        }
        let response = app
            .client
            .get(app.url("/api/v1/tasks"))
            .headers(headers)
            .send()
            .await
            .unwrap();
        let what = format!("{}: {case}", source.name);
        let Some(reason) = reason else {
            assert_eq!(response.status(), StatusCode::OK, "{what}");
            continue;
        };
        *expected.entry(reason).or_default() += 1;
        let challenge = response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_owned();
        let problem = assert_problem(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
        let description = problem["detail"].as_str().unwrap();
        if reason == "missing" {
            assert_eq!(challenge, "Bearer realm=\"task-api\"", "{what}");
        } else {
            let code = if matches!(reason, "duplicate_header" | "not_bearer") {
                "invalid_request"
            } else {
                "invalid_token"
            };
            assert_eq!(
                challenge,
                format!(
                    "Bearer realm=\"task-api\", error=\"{code}\", error_description=\"{description}\""
                ),
                "{what}"
            );
        }
        for value in &authorizations {
            let token = value.trim_start_matches("Bearer ");
            assert!(
                !challenge.contains(token) && !problem.to_string().contains(token),
                "{what}: the token is echoed"
            );
        }
        let counted = sample(
            &app.scrape().await,
            &format!("task_api_auth_failures_total{{reason=\"{reason}\"}}"),
        );
        assert_eq!(
            counted,
            Some(f64::from(expected[reason])),
            "{what}: counted under {reason}"
        );
    }
    let reasons = if source.by_kid { 15 } else { 14 };
    assert_eq!(
        expected.len(),
        reasons,
        "every reason was tried: {expected:?}"
    );
}

#[tokio::test]
async fn attacks_on_an_hs256_secret_are_refused_with_the_failed_check() {
    let app = spawn_app_with(Backend::Sqlite, &ISSUER_AND_AUDIENCE).await;
    attack(&app, &hs256_source()).await;
}

#[tokio::test]
async fn attacks_on_an_rs256_public_key_are_refused_with_the_failed_check() {
    let mut settings = ISSUER_AND_AUDIENCE.to_vec();
    settings.extend([
        ("AUTH_JWT_SECRET", ""),
        ("AUTH_JWT_PUBLIC_KEY", RS256_PUBLIC_KEY),
    ]);
    let app = spawn_app_with(Backend::Sqlite, &settings).await;
    attack(&app, &rs256_source()).await;
}

#[tokio::test]
async fn attacks_on_a_jwks_are_refused_with_the_failed_check() {
    let provider = IdentityProvider::start(&["rsa-1", "rsa-2", "ec-1"]).await;
    let jwks_url = provider.jwks_url();
    let mut settings = ISSUER_AND_AUDIENCE.to_vec();
    settings.extend([
        ("AUTH_JWT_SECRET", ""),
        ("AUTH_JWKS_URL", jwks_url.as_str()),
    ]);
    let app = spawn_app_with(Backend::Sqlite, &settings).await;
    attack(&app, &jwks_source()).await;
}
