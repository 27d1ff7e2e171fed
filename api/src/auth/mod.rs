//! Who is calling: the owner is the `sub` of a bearer JWT verified with the configured HS256
//! secret or RS256 public key. Without a key the service runs in an explicit single-owner
//! development mode, announced loudly at start.

use axum::{extract::FromRequestParts, http::request::Parts};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use crate::{
    config::{AuthSettings, JwtKey},
    problem::ApiError,
    startup::AppState,
};

/// The owner every task belongs to in development mode.
pub const DEVELOPMENT_OWNER: &str = "development";
const MAX_SUBJECT_LEN: usize = 255;

/// Verifies bearer tokens, or stands in for them in development mode.
// One per process: boxing the large variant would only add a pointer chase per request.
#[allow(clippy::large_enum_variant)]
pub enum Authenticator {
    Jwt {
        key: DecodingKey,
        validation: Validation,
    },
    SingleOwner,
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
}

impl Authenticator {
    pub fn from_settings(settings: &AuthSettings) -> anyhow::Result<Self> {
        let Some(key) = &settings.key else {
            return Ok(Authenticator::SingleOwner);
        };
        let (key, algorithm) = match key {
            JwtKey::Hs256Secret(secret) => (
                DecodingKey::from_secret(secret.expose().as_bytes()),
                Algorithm::HS256,
            ),
            JwtKey::Rs256PublicKeyPem(pem) => {
                (DecodingKey::from_rsa_pem(pem.as_bytes())?, Algorithm::RS256)
            }
        };
        let mut validation = Validation::new(algorithm);
        validation.set_required_spec_claims(&["exp", "sub"]);
        validation.leeway = 30;
        match &settings.issuer {
            Some(issuer) => validation.set_issuer(&[issuer]),
            None => validation.iss = None,
        }
        match &settings.audience {
            Some(audience) => validation.set_audience(&[audience]),
            None => validation.validate_aud = false,
        }
        Ok(Authenticator::Jwt { key, validation })
    }

    pub fn is_development(&self) -> bool {
        matches!(self, Authenticator::SingleOwner)
    }

    /// The owner named by an `Authorization` header value.
    pub fn owner(&self, authorization: Option<&str>) -> Result<Owner, ApiError> {
        let (key, validation) = match self {
            Authenticator::SingleOwner => return Ok(Owner(DEVELOPMENT_OWNER.to_owned())),
            Authenticator::Jwt { key, validation } => (key, validation),
        };
        let header = authorization
            .ok_or_else(|| ApiError::Unauthorized("Send Authorization: Bearer <JWT>.".into()))?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .ok_or_else(|| {
                ApiError::Unauthorized("The Authorization scheme must be Bearer.".into())
            })?
            .trim();
        let data = jsonwebtoken::decode::<Claims>(token, key, validation)
            .map_err(|e| ApiError::Unauthorized(format!("The bearer token is invalid: {e}.")))?;
        let sub = data.claims.sub;
        if sub.is_empty() || sub.len() > MAX_SUBJECT_LEN {
            return Err(ApiError::Unauthorized(
                "The token's sub claim must be 1-255 bytes.".into(),
            ));
        }
        Ok(Owner(sub))
    }
}

/// The authenticated owner of the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner(pub String);

impl FromRequestParts<AppState> for Owner {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let authorization = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .map(|v| v.to_str());
        let authorization = match authorization {
            Some(Ok(value)) => Some(value),
            Some(Err(_)) => {
                return Err(ApiError::Unauthorized(
                    "The Authorization header is not ASCII.".into(),
                ));
            }
            None => None,
        };
        state.authenticator.owner(authorization)
    }
}
