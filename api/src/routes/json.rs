//! The JSON body extractor: the checks every JSON request passes, in the order a client
//! would fix them — media type (415), size (413), syntax (400), then shape (422 with a
//! JSON Pointer to the offending field).

use axum::{
    body::Bytes,
    extract::{FromRequest, Request},
    http::header::CONTENT_TYPE,
};
use serde::de::DeserializeOwned;

use crate::{domain::FieldError, problem::ApiError};

/// A request body parsed as JSON into `T`.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let content_type = request
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !is_json(content_type) {
            let shown = if content_type.is_empty() {
                "none"
            } else {
                content_type
            };
            return Err(ApiError::UnsupportedMediaType(
                shown.chars().take(100).collect(),
            ));
        }
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::PayloadTooLarge
                } else {
                    ApiError::MalformedBody(rejection.body_text())
                }
            })?;
        parse(&bytes).map(JsonBody)
    }
}

/// `application/json` or any `application/*+json` (e.g. merge-patch), parameters allowed.
fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Every request body of this API is a JSON object. serde would also read a struct from an
/// array (`["title"]`), a leniency clients should never come to depend on.
fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => {}
        // Well-formed JSON of the wrong kind is a shape error; anything else is syntax.
        Some(b'[' | b'"' | b'-' | b'0'..=b'9' | b't' | b'f' | b'n')
            if serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok() =>
        {
            return Err(ApiError::Validation(vec![FieldError::new(
                "",
                "the body must be a JSON object",
            )]));
        }
        _ => {}
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let pointer = pointer_of(&error);
        let inner = error.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => ApiError::Validation(vec![FieldError::new(
                pointer,
                without_position(&inner.to_string()),
            )]),
            _ => ApiError::MalformedBody(inner.to_string()),
        }
    })?;
    deserializer
        .end()
        .map_err(|e| ApiError::MalformedBody(e.to_string()))?;
    Ok(value)
}

/// The JSON Pointer of the field an error is about. serde reports a missing field at its
/// parent, naming the field in the message; that error gets the field's own pointer.
fn pointer_of(error: &serde_path_to_error::Error<serde_json::Error>) -> String {
    let mut pointer = String::new();
    for segment in error.path().iter() {
        match segment {
            serde_path_to_error::Segment::Seq { index } => pointer.push_str(&format!("/{index}")),
            serde_path_to_error::Segment::Map { key } => {
                pointer.push_str(&format!("/{}", escape(key)))
            }
            serde_path_to_error::Segment::Enum { variant } => {
                pointer.push_str(&format!("/{}", escape(variant)))
            }
            serde_path_to_error::Segment::Unknown => {}
        }
    }
    let message = error.inner().to_string();
    if message.starts_with("missing field")
        && let Some(name) = message.split('`').nth(1)
    {
        pointer.push_str(&format!("/{}", escape(name)));
    }
    pointer
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

fn without_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    struct Body {
        title: String,
        count: Option<u8>,
    }

    fn errors(json: &str) -> Vec<FieldError> {
        match parse::<Body>(json.as_bytes()) {
            Err(ApiError::Validation(errors)) => errors,
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn shape_errors_point_at_the_field() {
        assert_eq!(errors(r#"{"title": 5}"#)[0].pointer, "/title");
        assert_eq!(errors(r#"{"count": 1}"#)[0].pointer, "/title");
        assert_eq!(
            errors(r#"{"title": "a", "count": 300}"#)[0].pointer,
            "/count"
        );
        assert_eq!(
            errors(r#"{"title": "a", "colour": 1}"#)[0].pointer,
            "/colour"
        );
        assert!(!errors(r#"{"title": 5}"#)[0].detail.contains("line"));
    }

    #[test]
    fn a_valid_body_parses_into_its_type() {
        let body: Body = parse(br#"{"title": "a", "count": 3}"#).unwrap();
        assert_eq!((body.title.as_str(), body.count), ("a", Some(3)));
    }

    #[test]
    fn syntax_errors_are_malformed_bodies() {
        assert!(matches!(
            parse::<Body>(b"{\"title\": "),
            Err(ApiError::MalformedBody(_))
        ));
        assert!(matches!(
            parse::<Body>(b"{\"title\": \"a\"} trailing"),
            Err(ApiError::MalformedBody(_))
        ));
    }

    #[test]
    fn json_media_types_are_recognised() {
        assert!(is_json("application/json"));
        assert!(is_json("Application/JSON; charset=utf-8"));
        assert!(is_json("application/merge-patch+json"));
        assert!(!is_json("text/plain"));
        assert!(!is_json(""));
    }
}
