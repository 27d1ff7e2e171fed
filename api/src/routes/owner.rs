//! The request's owner as handlers extract it: the [`OwnerId`] its bearer token proves,
//! or a 401 problem. Here rather than in `auth`, which knows tokens but not HTTP answers.

use std::sync::Arc;

use axum::{
    extract::{FromRef, FromRequestParts},
    http::request::Parts,
};

use crate::{auth::Authenticator, domain::OwnerId, problem::ApiError};

/// A handler's [`OwnerId`] is the request's authenticated owner. It extracts from any
/// state that hands out the [`Authenticator`] ([`FromRef`]), not only the application's.
impl<S> FromRequestParts<S> for OwnerId
where
    Arc<Authenticator>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Arc::<Authenticator>::from_ref(state)
            .authenticate(&parts.headers)
            .await
            .map_err(ApiError::Unauthorized)
    }
}
