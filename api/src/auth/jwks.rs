//! The identity provider's keys: a JWKS (RFC 7517) fetched from `AUTH_JWKS_URL`, or from
//! the `jwks_uri` of `AUTH_OIDC_ISSUER`'s discovery document (OpenID Connect Discovery
//! 1.0 §4), cached in memory and refreshed in the background.
//!
//! Requests only ever read the cache: a network fetch happens on the refresh schedule
//! (Cache-Control `max-age`, else `AUTH_JWKS_REFRESH_INTERVAL`) and when a token names an
//! unknown `kid` — which is how a rotation is picked up at once — but at most once per
//! `AUTH_JWKS_MIN_REFRESH_INTERVAL`, so a flood of made-up `kid`s cannot hammer the
//! provider. A failed fetch keeps the last good keys. Each key's algorithm comes from the
//! key (its `alg`, else its type), never from a token.

use std::{
    sync::{Arc, Mutex, RwLock},
    time::{Duration, Instant},
};

use anyhow::{Context as _, bail};
use jsonwebtoken::{
    Algorithm, DecodingKey,
    jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse},
};
use serde::Deserialize;

use crate::{config::AuthSettings, telemetry::metrics::Metrics};

/// A JWKS or discovery document larger than this is refused: real ones are a few KiB.
const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;
/// How long one fetch may take; a request waiting on an unknown-`kid` refresh waits this
/// long at most.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest a `max-age` is honoured: keys are re-read at least daily.
const MAX_CACHE_AGE: Duration = Duration::from_secs(24 * 3600);
/// The first retry delay at start while no key has been fetched yet.
const FIRST_RETRY: Duration = Duration::from_secs(1);

/// A public key from the JWKS, with the one algorithm it verifies.
pub struct VerifyingKey {
    pub kid: String,
    pub algorithm: Algorithm,
    pub key: DecodingKey,
}

/// Where the JWKS is.
enum Location {
    Url(String),
    /// Discovery resolves the URL once; it is kept for later refreshes.
    Issuer {
        issuer: String,
        jwks_uri: Mutex<Option<String>>,
    },
}

/// The cached keys and their refresh.
pub struct Jwks {
    location: Location,
    client: reqwest::Client,
    keys: RwLock<Arc<[VerifyingKey]>>,
    last_success: Mutex<Option<Instant>>,
    /// When the last fetch started; held across the fetch so refreshes run one at a time.
    last_attempt: tokio::sync::Mutex<Option<Instant>>,
    refresh_interval: Duration,
    min_refresh_interval: Duration,
    metrics: Arc<Metrics>,
}

impl Jwks {
    /// `None` unless the settings name a JWKS URL or an OIDC issuer. Fetches nothing yet.
    pub fn from_settings(
        settings: &AuthSettings,
        metrics: Arc<Metrics>,
    ) -> anyhow::Result<Option<Jwks>> {
        let location = match &settings.key {
            Some(crate::config::JwtKey::JwksUrl(url)) => Location::Url(url.clone()),
            Some(crate::config::JwtKey::OidcIssuer(issuer)) => Location::Issuer {
                issuer: issuer.clone(),
                jwks_uri: Mutex::new(None),
            },
            _ => return Ok(None),
        };
        let client = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .user_agent(concat!("task-api/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("building the JWKS HTTP client")?;
        Ok(Some(Jwks {
            location,
            client,
            keys: RwLock::new(Arc::from([])),
            last_success: Mutex::new(None),
            last_attempt: tokio::sync::Mutex::new(None),
            refresh_interval: settings.jwks_refresh_interval,
            min_refresh_interval: settings.jwks_min_refresh_interval,
            metrics,
        }))
    }

    /// Runs `verify` with the key named `kid`, if it is cached. Only a read lock: this is
    /// the per-request path.
    pub fn with_key<R>(&self, kid: &str, verify: impl FnOnce(&VerifyingKey) -> R) -> Option<R> {
        let keys = self.keys.read().unwrap_or_else(|p| p.into_inner());
        keys.iter().find(|key| key.kid == kid).map(verify)
    }

    pub fn has_keys(&self) -> bool {
        !self
            .keys
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .is_empty()
    }

    /// Seconds since the last successful fetch, if there was one.
    pub fn age(&self) -> Option<Duration> {
        self.last_success
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .map(|at| at.elapsed())
    }

    /// Fetches the keys again because a token named a `kid` not in the cache, unless a
    /// fetch started less than the minimum interval ago. Concurrent callers wait for the
    /// one fetch rather than starting their own.
    pub async fn refresh_for_unknown_kid(&self) {
        let mut last_attempt = self.last_attempt.lock().await;
        if last_attempt.is_some_and(|at| at.elapsed() < self.min_refresh_interval) {
            return;
        }
        let _ = self.refresh(&mut last_attempt, "unknown kid").await;
    }

    /// Keeps the keys fresh until the task is aborted: fetches now, then again when the
    /// provider's `max-age` (or the refresh interval) runs out; while no key was ever
    /// fetched, retries from 1 s, doubling up to the minimum interval.
    pub async fn keep_fresh(self: Arc<Self>) {
        let mut retry = FIRST_RETRY;
        loop {
            let outcome = {
                let mut last_attempt = self.last_attempt.lock().await;
                self.refresh(&mut last_attempt, "scheduled").await
            };
            let next = match outcome {
                Ok(max_age) => {
                    retry = FIRST_RETRY;
                    max_age
                        .unwrap_or(self.refresh_interval)
                        .clamp(self.min_refresh_interval, MAX_CACHE_AGE)
                }
                Err(()) if !self.has_keys() => {
                    let next = retry;
                    retry = (retry * 2).min(self.min_refresh_interval);
                    next
                }
                Err(()) => self.min_refresh_interval,
            };
            tokio::time::sleep(next).await;
        }
    }

    /// One fetch, with `last_attempt` held. Returns the provider's `max-age`, if any.
    async fn refresh(
        &self,
        last_attempt: &mut Option<Instant>,
        why: &'static str,
    ) -> Result<Option<Duration>, ()> {
        *last_attempt = Some(Instant::now());
        self.metrics.jwks_refreshes.inc();
        match self.fetch().await {
            Ok((keys, max_age)) => {
                let kids: Vec<&str> = keys.iter().map(|key| key.kid.as_str()).collect();
                tracing::info!(why, keys = ?kids, "JWKS fetched");
                self.metrics.jwks_keys.set(keys.len() as i64);
                *self.keys.write().unwrap_or_else(|p| p.into_inner()) = Arc::from(keys);
                *self.last_success.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
                Ok(max_age)
            }
            Err(error) => {
                self.metrics.jwks_refresh_failures.inc();
                tracing::warn!(
                    why,
                    error = format!("{error:#}"),
                    cached_keys = self.keys.read().unwrap_or_else(|p| p.into_inner()).len(),
                    "JWKS fetch failed; the last good keys stay in use"
                );
                Err(())
            }
        }
    }

    async fn fetch(&self) -> anyhow::Result<(Vec<VerifyingKey>, Option<Duration>)> {
        let url = self.jwks_url().await?;
        let (body, max_age) = self.get(&url).await?;
        Ok((parse_jwks(&body)?, max_age))
    }

    async fn jwks_url(&self) -> anyhow::Result<String> {
        let (issuer, cached) = match &self.location {
            Location::Url(url) => return Ok(url.clone()),
            Location::Issuer { issuer, jwks_uri } => (issuer, jwks_uri),
        };
        if let Some(url) = cached.lock().unwrap_or_else(|p| p.into_inner()).clone() {
            return Ok(url);
        }
        let discovery = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        let (body, _) = self.get(&discovery).await?;
        let url = jwks_uri_of(&body, issuer)?;
        *cached.lock().unwrap_or_else(|p| p.into_inner()) = Some(url.clone());
        Ok(url)
    }

    /// The body and `Cache-Control: max-age` of a GET.
    async fn get(&self, url: &str) -> anyhow::Result<(Vec<u8>, Option<Duration>)> {
        let response = self
            .client
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .with_context(|| format!("GET {url}"))?;
        let status = response.status();
        if !status.is_success() {
            bail!("GET {url}: {status}");
        }
        let max_age = response
            .headers()
            .get_all(reqwest::header::CACHE_CONTROL)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .find_map(max_age);
        if response
            .content_length()
            .is_some_and(|length| length > MAX_DOCUMENT_BYTES as u64)
        {
            bail!("GET {url}: the document is larger than {MAX_DOCUMENT_BYTES} bytes");
        }
        let body = response
            .bytes()
            .await
            .with_context(|| format!("GET {url}: reading the body"))?;
        if body.len() > MAX_DOCUMENT_BYTES {
            bail!("GET {url}: the document is larger than {MAX_DOCUMENT_BYTES} bytes");
        }
        Ok((body.to_vec(), max_age))
    }
}

/// `max-age=N` of one Cache-Control value; `no-cache`/`no-store` count as 0 (the
/// minimum interval then applies).
fn max_age(cache_control: &str) -> Option<Duration> {
    cache_control.split(',').find_map(|directive| {
        let directive = directive.trim();
        if directive.eq_ignore_ascii_case("no-cache") || directive.eq_ignore_ascii_case("no-store")
        {
            return Some(Duration::ZERO);
        }
        let (name, value) = directive.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("max-age")
            .then(|| value.trim().trim_matches('"').parse().ok())
            .flatten()
            .map(Duration::from_secs)
    })
}

/// The `jwks_uri` of a discovery document, whose `issuer` must be the configured one
/// exactly (OpenID Connect Discovery 1.0 §4.3).
fn jwks_uri_of(document: &[u8], issuer: &str) -> anyhow::Result<String> {
    #[derive(Deserialize)]
    struct Discovery {
        issuer: String,
        jwks_uri: String,
    }
    let discovery: Discovery =
        serde_json::from_slice(document).context("the discovery document is not as expected")?;
    if discovery.issuer != issuer {
        bail!(
            "the discovery document names issuer {:?}, not the configured {issuer:?}",
            discovery.issuer
        );
    }
    Ok(discovery.jwks_uri)
}

/// The usable keys of a JWKS. Keys this service cannot use (encryption keys, other
/// algorithms, no `kid`) are skipped, so that a provider adding a new kind of key does
/// not stop verification with the others; a set without any usable key is an error, so
/// the cached keys are kept.
fn parse_jwks(document: &[u8]) -> anyhow::Result<Vec<VerifyingKey>> {
    #[derive(Deserialize)]
    struct Set {
        keys: Vec<serde_json::Value>,
    }
    let set: Set = serde_json::from_slice(document).context("the JWKS is not a JSON key set")?;
    let keys: Vec<VerifyingKey> = set
        .keys
        .into_iter()
        .filter_map(|value| {
            let jwk: Jwk = serde_json::from_value(value).ok()?;
            let kid = jwk.common.key_id.clone()?;
            if jwk.common.public_key_use == Some(PublicKeyUse::Encryption) {
                return None;
            }
            let algorithm = algorithm_of(&jwk)?;
            let key = DecodingKey::from_jwk(&jwk).ok()?;
            Some(VerifyingKey {
                kid,
                algorithm,
                key,
            })
        })
        .collect();
    if keys.is_empty() {
        bail!("the JWKS has no usable key (RS256, PS256 or ES256 with a kid)");
    }
    Ok(keys)
}

/// The algorithm a key verifies: its `alg` when given (RS256, PS256 with RSA keys; ES256
/// with P-256 keys), else RS256 for RSA and ES256 for P-256 keys.
fn algorithm_of(jwk: &Jwk) -> Option<Algorithm> {
    match (&jwk.algorithm, jwk.common.key_algorithm) {
        (AlgorithmParameters::RSA(_), None | Some(KeyAlgorithm::RS256)) => Some(Algorithm::RS256),
        (AlgorithmParameters::RSA(_), Some(KeyAlgorithm::PS256)) => Some(Algorithm::PS256),
        (AlgorithmParameters::EllipticCurve(ec), None | Some(KeyAlgorithm::ES256))
            if ec.curve == EllipticCurve::P256 =>
        {
            Some(Algorithm::ES256)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_control_max_age_is_read() {
        assert_eq!(
            max_age("public, max-age=300"),
            Some(Duration::from_secs(300))
        );
        assert_eq!(max_age("no-store"), Some(Duration::ZERO));
        assert_eq!(max_age("public"), None);
        assert_eq!(max_age("max-age=soon"), None);
    }

    #[test]
    fn discovery_must_name_the_configured_issuer() {
        let document =
            br#"{"issuer": "https://idp.example", "jwks_uri": "https://idp.example/keys"}"#;
        assert_eq!(
            jwks_uri_of(document, "https://idp.example").unwrap(),
            "https://idp.example/keys"
        );
        assert!(jwks_uri_of(document, "https://evil.example").is_err());
    }

    #[test]
    fn unusable_keys_are_skipped_and_none_usable_is_an_error() {
        let set = br#"{"keys": [
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
            {"kty": "EC", "kid": "p384", "crv": "P-384", "x": "AAAA", "y": "AAAA"},
            {"kty": "RSA", "kid": "enc", "use": "enc", "n": "AQAB", "e": "AQAB"},
            {"kty": "RSA", "n": "AQAB", "e": "AQAB"},
            {"kty": "RSA", "kid": "ps", "alg": "PS256", "n": "AQAB", "e": "AQAB"},
            {"kty": "RSA", "kid": "rs", "n": "AQAB", "e": "AQAB"}
        ]}"#;
        let keys = parse_jwks(set).unwrap();
        let found: Vec<(&str, Algorithm)> = keys
            .iter()
            .map(|key| (key.kid.as_str(), key.algorithm))
            .collect();
        assert_eq!(found, [("ps", Algorithm::PS256), ("rs", Algorithm::RS256)]);
        assert!(parse_jwks(br#"{"keys": []}"#).is_err());
        assert!(parse_jwks(b"<html>").is_err());
    }
}
