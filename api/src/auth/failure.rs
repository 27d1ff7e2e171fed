//! Why a request was not authenticated: one bounded set of reasons, used as the
//! `reason` label of `task_api_auth_failures_total`, in the log line, and (as a fixed
//! sentence) in the `WWW-Authenticate` `error_description` of RFC 6750 §3.
//!
//! The descriptions are fixed texts: they never quote the token or any claim, and they
//! stay within the characters RFC 6750 allows in `error_description` (no `"` or `\`).

/// One reason a bearer token (or its absence) was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    /// No `Authorization` header.
    Missing,
    /// More than one `Authorization` header.
    DuplicateHeader,
    /// Not the Bearer scheme, or not ASCII.
    NotBearer,
    /// Larger than any token an identity provider issues.
    TooLarge,
    /// Not three base64url parts of JSON.
    Malformed,
    /// `alg` is `none`, unknown, or not the key's algorithm.
    Algorithm,
    /// No key with the token's `kid` (or no `kid` where keys come from a JWKS).
    UnknownKey,
    /// The signature does not verify.
    Signature,
    /// `exp` is past (beyond the leeway).
    Expired,
    /// `nbf` is in the future (beyond the leeway).
    NotYetValid,
    /// `iat` is in the future (beyond the leeway).
    IssuedInFuture,
    /// `iss` is not the configured issuer.
    Issuer,
    /// `aud` does not name this API.
    Audience,
    /// `exp` or the owner claim is absent, or a time claim is not a number.
    MissingClaim,
    /// The owner claim is empty, too long, or has control characters.
    InvalidOwner,
    /// Keys come from a JWKS and none has been fetched yet.
    NoKeys,
}

impl AuthFailure {
    /// Every reason, for documentation and tests.
    pub const ALL: [AuthFailure; 16] = [
        AuthFailure::Missing,
        AuthFailure::DuplicateHeader,
        AuthFailure::NotBearer,
        AuthFailure::TooLarge,
        AuthFailure::Malformed,
        AuthFailure::Algorithm,
        AuthFailure::UnknownKey,
        AuthFailure::Signature,
        AuthFailure::Expired,
        AuthFailure::NotYetValid,
        AuthFailure::IssuedInFuture,
        AuthFailure::Issuer,
        AuthFailure::Audience,
        AuthFailure::MissingClaim,
        AuthFailure::InvalidOwner,
        AuthFailure::NoKeys,
    ];

    /// The metric label value.
    pub fn reason(self) -> &'static str {
        match self {
            AuthFailure::Missing => "missing",
            AuthFailure::DuplicateHeader => "duplicate_header",
            AuthFailure::NotBearer => "not_bearer",
            AuthFailure::TooLarge => "too_large",
            AuthFailure::Malformed => "malformed",
            AuthFailure::Algorithm => "algorithm",
            AuthFailure::UnknownKey => "unknown_key",
            AuthFailure::Signature => "signature",
            AuthFailure::Expired => "expired",
            AuthFailure::NotYetValid => "not_yet_valid",
            AuthFailure::IssuedInFuture => "issued_in_future",
            AuthFailure::Issuer => "issuer",
            AuthFailure::Audience => "audience",
            AuthFailure::MissingClaim => "missing_claim",
            AuthFailure::InvalidOwner => "invalid_owner",
            AuthFailure::NoKeys => "no_keys",
        }
    }

    /// What failed, for the caller: the problem's `detail` and the `error_description`.
    pub fn description(self) -> &'static str {
        match self {
            AuthFailure::Missing => "Send Authorization: Bearer <JWT>.",
            AuthFailure::DuplicateHeader => "The request has more than one Authorization header.",
            AuthFailure::NotBearer => "The Authorization scheme must be Bearer, in ASCII.",
            AuthFailure::TooLarge => "The bearer token is longer than 8192 bytes.",
            AuthFailure::Malformed => "The bearer token is not a well-formed JWT.",
            AuthFailure::Algorithm => "The token's alg is not the algorithm of the key.",
            AuthFailure::UnknownKey => "No key with the token's kid is known.",
            AuthFailure::Signature => "The token's signature is invalid.",
            AuthFailure::Expired => "The token has expired (exp).",
            AuthFailure::NotYetValid => "The token is not valid yet (nbf).",
            AuthFailure::IssuedInFuture => "The token is issued in the future (iat).",
            AuthFailure::Issuer => "The token's issuer (iss) is not accepted.",
            AuthFailure::Audience => "The token's audience (aud) is not this API.",
            AuthFailure::MissingClaim => {
                "The token lacks a required claim (exp or the owner claim) or has a malformed one."
            }
            AuthFailure::InvalidOwner => {
                "The token's owner claim must be 1-255 bytes without control characters."
            }
            AuthFailure::NoKeys => "The keys of the identity provider have not been fetched yet.",
        }
    }

    /// The RFC 6750 §3.1 error code: none when no credentials came (§3.1: the server
    /// should not say more then), `invalid_request` when the header itself is malformed,
    /// `invalid_token` otherwise.
    pub fn error_code(self) -> Option<&'static str> {
        match self {
            AuthFailure::Missing => None,
            AuthFailure::DuplicateHeader | AuthFailure::NotBearer => Some("invalid_request"),
            _ => Some("invalid_token"),
        }
    }

    /// The `WWW-Authenticate` challenge of RFC 6750 §3.
    pub fn challenge(self) -> String {
        match self.error_code() {
            None => "Bearer realm=\"task-api\"".to_owned(),
            Some(code) => format!(
                "Bearer realm=\"task-api\", error=\"{code}\", error_description=\"{}\"",
                self.description()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_use_only_the_characters_rfc_6750_allows() {
        for failure in AuthFailure::ALL {
            let allowed =
                |c: char| matches!(c, '\x20'..='\x21' | '\x23'..='\x5b' | '\x5d'..='\x7e');
            assert!(failure.description().chars().all(allowed), "{failure:?}");
            assert!(
                failure
                    .reason()
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'_')
            );
            axum::http::HeaderValue::from_str(&failure.challenge()).unwrap();
        }
    }
}
