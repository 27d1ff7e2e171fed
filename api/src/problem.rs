//! Every error the API returns, as `application/problem+json` (RFC 9457).
//!
//! [`ApiError`] is the one place where a failure becomes a status code: handlers and
//! extractors return it, nothing else builds error responses. Unexpected failures are logged
//! here with their full context and reach the client only as a generic 500.

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{auth::AuthFailure, domain::FieldError, request_id, store::StoreError};

pub const PROBLEM_JSON: &str = "application/problem+json";
/// Problem `type` URIs are this prefix plus a stable slug; docs/api-errors.md lists them.
pub const PROBLEM_TYPE_BASE: &str = "https://watchpost.dev/problems/";

/// A problem details object (RFC 9457).
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// Stable URI identifying the kind of problem; clients branch on this.
    #[serde(rename = "type")]
    pub problem_type: String,
    /// Short summary of the kind of problem.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong with this request, for a human.
    pub detail: String,
    /// The request id (also in the `X-Request-Id` response header), for support and log search.
    pub request_id: String,
    /// Per-field errors (validation problems only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("task not found")]
    TaskNotFound,
    #[error("no route matches {0}")]
    RouteNotFound(String),
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("malformed request body: {0}")]
    MalformedBody(String),
    #[error("unsupported media type: {0}")]
    UnsupportedMediaType(String),
    #[error("request body larger than the limit")]
    PayloadTooLarge,
    #[error("request body is invalid")]
    Validation(Vec<FieldError>),
    #[error("query parameters are invalid")]
    InvalidParameters(Vec<FieldError>),
    #[error("unauthorized: {}", .0.reason())]
    Unauthorized(AuthFailure),
    #[error("If-Match does not match the current version")]
    PreconditionFailed,
    #[error("overloaded")]
    Overloaded,
    #[error("request timed out")]
    Timeout,
    #[error("the service is shutting down or not ready")]
    NotReady,
    #[error("fault injected on purpose")]
    InjectedFault,
    #[error("the fault is invalid")]
    InvalidFault(Vec<FieldError>),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

struct Kind {
    status: StatusCode,
    slug: &'static str,
    title: &'static str,
    retry_after_seconds: Option<u32>,
}

impl ApiError {
    fn kind(&self) -> Kind {
        let kind = |status, slug, title| Kind {
            status,
            slug,
            title,
            retry_after_seconds: None,
        };
        match self {
            ApiError::TaskNotFound => {
                kind(StatusCode::NOT_FOUND, "task-not-found", "Task not found")
            }
            ApiError::RouteNotFound(_) => {
                kind(StatusCode::NOT_FOUND, "route-not-found", "No such route")
            }
            ApiError::MethodNotAllowed => kind(
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "Method not allowed",
            ),
            ApiError::MalformedBody(_) => kind(
                StatusCode::BAD_REQUEST,
                "malformed-body",
                "Malformed request body",
            ),
            ApiError::UnsupportedMediaType(_) => kind(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
            ),
            ApiError::PayloadTooLarge => kind(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload-too-large",
                "Request body too large",
            ),
            ApiError::Validation(_) => kind(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation-failed",
                "Request body is invalid",
            ),
            ApiError::InvalidParameters(_) => kind(
                StatusCode::BAD_REQUEST,
                "invalid-parameters",
                "Query parameters are invalid",
            ),
            // Not the caller's fault: the identity provider's keys have not arrived yet.
            ApiError::Unauthorized(AuthFailure::NoKeys) => Kind {
                retry_after_seconds: Some(5),
                ..kind(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "not-ready",
                    "Service not ready",
                )
            },
            ApiError::Unauthorized(_) => kind(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "Authentication required",
            ),
            ApiError::PreconditionFailed => kind(
                StatusCode::PRECONDITION_FAILED,
                "precondition-failed",
                "Precondition failed",
            ),
            ApiError::Overloaded => Kind {
                retry_after_seconds: Some(1),
                ..kind(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "overloaded",
                    "Service overloaded",
                )
            },
            ApiError::Timeout => Kind {
                retry_after_seconds: Some(1),
                ..kind(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "timeout",
                    "Request timed out",
                )
            },
            ApiError::NotReady => Kind {
                retry_after_seconds: Some(5),
                ..kind(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "not-ready",
                    "Service not ready",
                )
            },
            ApiError::Store(StoreError::Unavailable(_)) => Kind {
                retry_after_seconds: Some(2),
                ..kind(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "database-unavailable",
                    "Database unavailable",
                )
            },
            ApiError::InjectedFault => kind(
                StatusCode::INTERNAL_SERVER_ERROR,
                "injected-fault",
                "Injected fault (fault injection is on)",
            ),
            ApiError::InvalidFault(_) => {
                kind(StatusCode::BAD_REQUEST, "invalid-fault", "Invalid fault")
            }
            ApiError::Store(_) | ApiError::Internal(_) => kind(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal server error",
            ),
        }
    }

    /// What the client is told. Internal causes are never part of it.
    fn detail(&self) -> String {
        match self {
            ApiError::TaskNotFound => "No task with this id exists for you.".into(),
            ApiError::RouteNotFound(path) => format!("No route matches {path}; the API lives under /api/v1."),
            ApiError::MethodNotAllowed => "This route does not support this method; see the Allow header.".into(),
            ApiError::MalformedBody(why) => format!("The body is not valid JSON: {why}"),
            ApiError::UnsupportedMediaType(got) => {
                format!("Expected Content-Type application/json, got {got}.")
            }
            ApiError::PayloadTooLarge => "The request body exceeds the configured limit.".into(),
            ApiError::Validation(errors)
            | ApiError::InvalidParameters(errors)
            | ApiError::InvalidFault(errors) => {
                let fields: Vec<&str> = errors.iter().map(|e| e.pointer.as_str()).collect();
                format!("Invalid: {}.", fields.join(", "))
            }
            ApiError::Unauthorized(failure) => failure.description().into(),
            ApiError::PreconditionFailed => {
                "The task changed since you read it: If-Match does not match its current ETag. Read it again."
                    .into()
            }
            ApiError::Overloaded => "Too many requests in flight; retry after the Retry-After delay.".into(),
            ApiError::Timeout => "The request took longer than the server's limit.".into(),
            ApiError::NotReady => "The service is starting or shutting down.".into(),
            ApiError::InjectedFault => {
                "This error was injected on purpose by the admin listener's /fault (tests only).".into()
            }
            ApiError::Store(StoreError::Unavailable(_)) => {
                "The database is unreachable; retry after the Retry-After delay.".into()
            }
            ApiError::Store(_) | ApiError::Internal(_) => {
                "An unexpected error occurred; quote the request id when reporting it.".into()
            }
        }
    }

    pub fn status(&self) -> StatusCode {
        self.kind().status
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let kind = self.kind();
        match &self {
            ApiError::Store(StoreError::Unavailable(cause)) => {
                tracing::warn!(error = %cause, "database unavailable");
            }
            ApiError::Store(cause) => tracing::error!(error = %cause, "store error"),
            ApiError::Internal(cause) => {
                tracing::error!(error = format!("{cause:#}"), "internal error")
            }
            _ => {}
        }
        let detail = self.detail();
        let challenge = match &self {
            ApiError::Unauthorized(failure) if kind.status == StatusCode::UNAUTHORIZED => {
                Some(failure.challenge())
            }
            _ => None,
        };
        let errors = match self {
            ApiError::Validation(errors)
            | ApiError::InvalidParameters(errors)
            | ApiError::InvalidFault(errors) => errors,
            _ => Vec::new(),
        };
        let problem = Problem {
            problem_type: format!("{PROBLEM_TYPE_BASE}{}", kind.slug),
            title: kind.title.to_owned(),
            status: kind.status.as_u16(),
            detail,
            request_id: request_id::current().unwrap_or_default(),
            errors,
        };
        let body = serde_json::to_vec(&problem).expect("a problem always serializes");
        let mut response = (kind.status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let Some(seconds) = kind.retry_after_seconds {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if let Some(challenge) = challenge {
            let challenge = HeaderValue::from_str(&challenge)
                .expect("challenges are fixed visible ASCII (tested in auth::failure)");
            headers.insert(header::WWW_AUTHENTICATE, challenge);
        }
        response
    }
}
