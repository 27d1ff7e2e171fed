//! Who is calling: the owner is a claim (`sub` unless `AUTH_OWNER_CLAIM` says otherwise)
//! of a bearer JWT (RFC 7519, RFC 6750). Keys come from one source: an HS256 secret or an
//! RS256 public key (development and tests), or an identity provider's JWKS ([`jwks`]).
//! Without a key the service runs in an explicit single-owner development mode,
//! announced loudly at start.
//!
//! Every time claim is honoured with one leeway (`AUTH_CLOCK_LEEWAY`): `exp` required and
//! not past, `nbf` and `iat` not in the future. Verification reads only memory: a network
//! fetch happens only for a `kid` not in the cache, rate-limited in [`jwks`]. A refusal
//! names its [`AuthFailure`] in the problem, the `WWW-Authenticate` challenge, the log
//! line and `task_api_auth_failures_total{reason}`, never the token.

mod failure;
pub mod jwks;

use std::sync::Arc;

use axum::http::{HeaderMap, header::AUTHORIZATION};
use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, errors::ErrorKind};
use serde::{Deserialize, de::DeserializeOwned};
use serde_json::Value;

pub use failure::AuthFailure;
use jwks::Jwks;

use crate::{
    config::{AuthSettings, JwtKey},
    domain::OwnerId,
    telemetry::metrics::{Metrics, ReasonLabels},
};

/// The owner every task belongs to in development mode.
pub const DEVELOPMENT_OWNER: &str = "development";
/// Longer tokens are refused before any decoding: identity providers issue a few KiB at
/// most, and a 64 KiB header should cost nothing but this comparison.
const MAX_TOKEN_LEN: usize = 8192;

/// Where tokens are verified against.
// One per process: boxing the large variant would only add a pointer chase per request.
#[allow(clippy::large_enum_variant)]
enum Keys {
    SingleOwner,
    Static {
        key: DecodingKey,
        validation: Validation,
    },
    Jwks {
        jwks: Arc<Jwks>,
        /// One validation per algorithm a JWKS key may have; the key picks it.
        validations: [(Algorithm, Validation); 3],
    },
}

/// Verifies bearer tokens, or stands in for them in development mode.
pub struct Authenticator {
    keys: Keys,
    owner_claim: OwnerClaim,
    leeway_seconds: u64,
    metrics: Arc<Metrics>,
}

/// The claim naming the owner. `sub` is read into a two-field struct; another name needs
/// a map of all claims, which only deployments that ask for it pay.
enum OwnerClaim {
    Sub,
    Named(String),
}

impl Authenticator {
    pub fn from_settings(settings: &AuthSettings, metrics: Arc<Metrics>) -> anyhow::Result<Self> {
        let leeway_seconds = settings.leeway.as_secs();
        let validation = |algorithm| {
            let mut validation = Validation::new(algorithm);
            validation.set_required_spec_claims(&["exp"]);
            validation.validate_exp = true;
            validation.validate_nbf = true;
            validation.leeway = leeway_seconds;
            match &settings.issuer {
                Some(issuer) => validation.set_issuer(&[issuer]),
                None => validation.iss = None,
            }
            match &settings.audience {
                Some(audience) => validation.set_audience(&[audience]),
                None => validation.validate_aud = false,
            }
            validation
        };
        let keys = match &settings.key {
            None => Keys::SingleOwner,
            Some(JwtKey::Hs256Secret(secret)) => Keys::Static {
                key: DecodingKey::from_secret(secret.expose().as_bytes()),
                validation: validation(Algorithm::HS256),
            },
            Some(JwtKey::Rs256PublicKeyPem(pem)) => Keys::Static {
                key: DecodingKey::from_rsa_pem(pem.as_bytes())?,
                validation: validation(Algorithm::RS256),
            },
            Some(JwtKey::JwksUrl(_) | JwtKey::OidcIssuer(_)) => Keys::Jwks {
                jwks: Arc::new(
                    Jwks::from_settings(settings, metrics.clone())?.expect("a JWKS key source"),
                ),
                validations: [Algorithm::RS256, Algorithm::PS256, Algorithm::ES256]
                    .map(|algorithm| (algorithm, validation(algorithm))),
            },
        };
        let owner_claim = match settings.owner_claim.as_str() {
            "sub" => OwnerClaim::Sub,
            other => OwnerClaim::Named(other.to_owned()),
        };
        Ok(Authenticator {
            keys,
            owner_claim,
            leeway_seconds,
            metrics,
        })
    }

    pub fn is_development(&self) -> bool {
        matches!(self.keys, Keys::SingleOwner)
    }

    /// The JWKS, when keys come from an identity provider (for its refresh task).
    pub fn jwks(&self) -> Option<&Arc<Jwks>> {
        match &self.keys {
            Keys::Jwks { jwks, .. } => Some(jwks),
            _ => None,
        }
    }

    /// Whether a token can be verified at all: false only while a JWKS has not arrived.
    pub fn has_keys(&self) -> bool {
        self.jwks().is_none_or(|jwks| jwks.has_keys())
    }

    /// The owner the request's `Authorization` header proves; a refusal is counted and
    /// logged here.
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<OwnerId, AuthFailure> {
        if self.is_development() {
            return Ok(OwnerId::parse(DEVELOPMENT_OWNER.to_owned()).expect("a valid owner"));
        }
        let result = self.verify(headers).await;
        if let Err(failure) = result {
            self.metrics
                .auth_failures
                .get_or_create(&ReasonLabels {
                    reason: failure.reason(),
                })
                .inc();
            tracing::info!(
                reason = failure.reason(),
                description = failure.description(),
                "bearer token refused"
            );
        }
        result
    }

    async fn verify(&self, headers: &HeaderMap) -> Result<OwnerId, AuthFailure> {
        let token = bearer_token(headers)?;
        match &self.owner_claim {
            OwnerClaim::Sub => {
                let claims: SubClaims = self.verified_claims(token).await?;
                self.owner_of(claims.sub, claims.iat)
            }
            OwnerClaim::Named(name) => {
                let mut claims: serde_json::Map<String, Value> =
                    self.verified_claims(token).await?;
                let iat = claims.remove("iat");
                self.owner_of(claims.remove(name), iat)
            }
        }
    }

    /// The claims of a token whose signature, `alg`, `exp`, `nbf`, `iss` and `aud` are
    /// verified.
    async fn verified_claims<C: DeserializeOwned>(&self, token: &str) -> Result<C, AuthFailure> {
        let (jwks, validations) = match &self.keys {
            Keys::SingleOwner => unreachable!("development mode verifies nothing"),
            Keys::Static { key, validation } => {
                return decode(token, key, validation);
            }
            Keys::Jwks { jwks, validations } => (jwks, validations),
        };
        let (algorithm, kid) = algorithm_and_kid(token)?;
        let verify = |key: &jwks::VerifyingKey| {
            if algorithm != key.algorithm {
                return Err(AuthFailure::Algorithm);
            }
            let (_, validation) = validations
                .iter()
                .find(|(algorithm, _)| *algorithm == key.algorithm)
                .expect("a validation for every JWKS algorithm");
            decode(token, &key.key, validation)
        };
        if let Some(result) = jwks.with_key(&kid, verify) {
            return result;
        }
        // Boxed: inlined, the fetch's state would add about 1.4 KB to every request's
        // handler future, for a path that runs at most once per interval.
        Box::pin(jwks.refresh_for_unknown_kid()).await;
        match jwks.with_key(&kid, verify) {
            Some(result) => result,
            None if !jwks.has_keys() => Err(AuthFailure::NoKeys),
            None => Err(AuthFailure::UnknownKey),
        }
    }

    /// Checks `iat` (which the JWT library does not) and the owner claim.
    fn owner_of(&self, owner: Option<Value>, iat: Option<Value>) -> Result<OwnerId, AuthFailure> {
        if let Some(iat) = iat {
            let iat = iat.as_f64().ok_or(AuthFailure::MissingClaim)?;
            let now = jsonwebtoken::get_current_timestamp();
            if iat > now.saturating_add(self.leeway_seconds) as f64 {
                return Err(AuthFailure::IssuedInFuture);
            }
        }
        let owner = match owner {
            None | Some(Value::Null) => return Err(AuthFailure::MissingClaim),
            Some(Value::String(owner)) => owner,
            Some(_) => return Err(AuthFailure::InvalidOwner),
        };
        OwnerId::parse(owner).ok_or(AuthFailure::InvalidOwner)
    }
}

/// The claims read when the owner is `sub`.
#[derive(Deserialize)]
struct SubClaims {
    sub: Option<Value>,
    iat: Option<Value>,
}

/// The `alg` and `kid` of a token's header. Apart, so that the library's large `Header`
/// is not held across the (rare) refresh in the request's future.
fn algorithm_and_kid(token: &str) -> Result<(Algorithm, String), AuthFailure> {
    let header = jsonwebtoken::decode_header(token).map_err(|error| classify(&error, token))?;
    let kid = header.kid.ok_or(AuthFailure::UnknownKey)?;
    Ok((header.alg, kid))
}

/// The token of the one `Authorization: Bearer` header.
fn bearer_token(headers: &HeaderMap) -> Result<&str, AuthFailure> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let value = values.next().ok_or(AuthFailure::Missing)?;
    if values.next().is_some() {
        return Err(AuthFailure::DuplicateHeader);
    }
    if value.len() > MAX_TOKEN_LEN + "Bearer ".len() {
        return Err(AuthFailure::TooLarge);
    }
    let value = value.to_str().map_err(|_| AuthFailure::NotBearer)?;
    let (scheme, token) = value.split_once(' ').ok_or(AuthFailure::NotBearer)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthFailure::NotBearer);
    }
    match token.trim() {
        "" => Err(AuthFailure::Malformed),
        token => Ok(token),
    }
}

fn decode<C: DeserializeOwned>(
    token: &str,
    key: &DecodingKey,
    validation: &Validation,
) -> Result<C, AuthFailure> {
    jsonwebtoken::decode::<C>(token, key, validation)
        .map(|data| data.claims)
        .map_err(|error| classify(&error, token))
}

/// The reason a JWT library error stands for.
fn classify(error: &jsonwebtoken::errors::Error, token: &str) -> AuthFailure {
    match error.kind() {
        ErrorKind::InvalidSignature
        | ErrorKind::InvalidRsaKey(_)
        | ErrorKind::InvalidEcdsaKey
        | ErrorKind::InvalidKeyFormat => AuthFailure::Signature,
        ErrorKind::ExpiredSignature => AuthFailure::Expired,
        ErrorKind::ImmatureSignature => AuthFailure::NotYetValid,
        ErrorKind::InvalidIssuer => AuthFailure::Issuer,
        ErrorKind::InvalidAudience => AuthFailure::Audience,
        ErrorKind::MissingRequiredClaim(_) | ErrorKind::InvalidClaimFormat(_) => {
            AuthFailure::MissingClaim
        }
        ErrorKind::InvalidAlgorithm
        | ErrorKind::MissingAlgorithm
        | ErrorKind::InvalidAlgorithmName => AuthFailure::Algorithm,
        // The library cannot parse a header whose `alg` it does not know (`none`
        // above all): that is an algorithm refusal, not a malformed token.
        _ if header_names_an_unusable_alg(token) => AuthFailure::Algorithm,
        _ => AuthFailure::Malformed,
    }
}

/// Whether the token's header is JSON with an `alg` none of our keys can have.
fn header_names_an_unusable_alg(token: &str) -> bool {
    #[derive(Deserialize)]
    struct Header {
        alg: String,
    }
    let Some(header) = token.split('.').next() else {
        return false;
    };
    let Ok(json) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(header) else {
        return false;
    };
    serde_json::from_slice::<Header>(&json)
        .is_ok_and(|header| header.alg.parse::<Algorithm>().is_err())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The authentication future is part of every request's handler future: the JWKS
    /// fetch (about 1.4 KB of state) and the library's `Header` (about 600 bytes) must
    /// stay out of it.
    #[test]
    fn authenticating_adds_little_to_a_requests_future() {
        let settings = crate::config::Settings::from_lookup(|name| {
            (name == "AUTH_JWKS_URL").then(|| "https://idp.example/jwks.json".to_owned())
        })
        .unwrap();
        let authenticator =
            Authenticator::from_settings(&settings.auth, Arc::new(Metrics::new(true))).unwrap();
        let headers = HeaderMap::new();
        let future = authenticator.authenticate(&headers);
        assert!(
            std::mem::size_of_val(&future) <= 256,
            "{} bytes",
            std::mem::size_of_val(&future)
        );
    }
}
