//! A real identity provider for the tests: signing keys (fixtures), and a JWKS with an
//! OpenID Connect discovery document served over HTTP on a loopback port, whose keys can
//! be rotated, which counts its fetches, and which can fail or go away.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
};

use axum::{
    Json, Router,
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

pub const ISSUER: &str = "https://issuer.test";
pub const AUDIENCE: &str = "task-api";

/// A key the tests sign with: its `kid`, algorithm and private key.
pub struct SigningKey {
    pub kid: &'static str,
    pub algorithm: Algorithm,
    pub key: EncodingKey,
}

/// `rsa-1` (RS256), `rsa-2` (PS256 in the JWKS) and `ec-1` (ES256).
pub fn signing_key(kid: &'static str) -> SigningKey {
    let rsa = |pem: &str| EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap();
    let (algorithm, key) = match kid {
        "rsa-1" => (
            Algorithm::RS256,
            rsa(include_str!("../fixtures/rs256-private.pem")),
        ),
        "rsa-2" => (
            Algorithm::PS256,
            rsa(include_str!("../fixtures/rsa-2-private.pem")),
        ),
        "ec-1" => (
            Algorithm::ES256,
            EncodingKey::from_ec_pem(include_bytes!("../fixtures/ec-p256-private.pem")).unwrap(),
        ),
        other => panic!("no fixture key {other}"),
    };
    SigningKey {
        kid,
        algorithm,
        key,
    }
}

/// The public JWK of a fixture key, with its `kid` and `alg`.
pub fn public_jwk(kid: &str) -> Value {
    let keys: HashMap<String, Value> =
        serde_json::from_str(include_str!("../fixtures/jwk-public-keys.json")).unwrap();
    let mut jwk = keys[kid].clone();
    jwk["kid"] = json!(kid);
    jwk["use"] = json!("sig");
    jwk["alg"] = json!(match kid {
        "rsa-2" => "PS256",
        "ec-1" => "ES256",
        _ => "RS256",
    });
    jwk
}

/// Claims that pass every check of an app configured with [`ISSUER`] and [`AUDIENCE`].
pub fn good_claims(sub: &str) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({ "sub": sub, "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 600 })
}

/// A token signed by `key`, its `kid` in the header.
pub fn sign(key: &SigningKey, claims: &Value) -> String {
    let mut header = Header::new(key.algorithm);
    header.kid = Some(key.kid.to_owned());
    jsonwebtoken::encode(&header, claims, &key.key).unwrap()
}

#[derive(Default)]
struct Provider {
    keys: Mutex<Vec<Value>>,
    cache_control: Mutex<Option<String>>,
    failing: AtomicBool,
    jwks_fetches: AtomicUsize,
    issuer: Mutex<String>,
}

/// The identity provider's HTTP server on 127.0.0.1, stopped when dropped.
pub struct IdentityProvider {
    pub base_url: String,
    state: Arc<Provider>,
    server: JoinHandle<()>,
}

impl IdentityProvider {
    /// Serves `/jwks.json` with the public keys of `kids` and a discovery document whose
    /// issuer is the server's own URL.
    pub async fn start(kids: &[&str]) -> IdentityProvider {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Provider::default());
        *state.issuer.lock().unwrap() = base_url.clone();
        let router = Router::new()
            .route("/jwks.json", get(jwks))
            .route("/.well-known/openid-configuration", get(discovery))
            .with_state(state.clone());
        let server = tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        let provider = IdentityProvider {
            base_url,
            state,
            server,
        };
        provider.publish(kids);
        provider
    }

    pub fn jwks_url(&self) -> String {
        format!("{}/jwks.json", self.base_url)
    }

    /// Replaces the published keys (a rotation).
    pub fn publish(&self, kids: &[&str]) {
        *self.state.keys.lock().unwrap() = kids.iter().map(|kid| public_jwk(kid)).collect();
    }

    pub fn set_cache_control(&self, value: &str) {
        *self.state.cache_control.lock().unwrap() = Some(value.to_owned());
    }

    /// While failing, every request answers 503.
    pub fn set_failing(&self, failing: bool) {
        self.state.failing.store(failing, Ordering::SeqCst);
    }

    pub fn jwks_fetches(&self) -> usize {
        self.state.jwks_fetches.load(Ordering::SeqCst)
    }

    /// The provider goes away: its port refuses connections from now on.
    pub async fn stop(&mut self) {
        self.server.abort();
        let _ = (&mut self.server).await;
    }
}

impl Drop for IdentityProvider {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn jwks(State(state): State<Arc<Provider>>) -> Response {
    state.jwks_fetches.fetch_add(1, Ordering::SeqCst);
    if state.failing.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let keys = state.keys.lock().unwrap().clone();
    let mut response = Json(json!({ "keys": keys })).into_response();
    if let Some(value) = state.cache_control.lock().unwrap().clone() {
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, value.parse().unwrap());
    }
    response
}

async fn discovery(State(state): State<Arc<Provider>>) -> Response {
    if state.failing.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let issuer = state.issuer.lock().unwrap().clone();
    Json(json!({
        "issuer": issuer,
        "jwks_uri": format!("{issuer}/jwks.json"),
        "id_token_signing_alg_values_supported": ["RS256", "PS256", "ES256"],
    }))
    .into_response()
}
