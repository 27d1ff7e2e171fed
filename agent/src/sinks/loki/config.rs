//! The `sinks.loki` section.

use serde::{Deserialize, Serialize, Serializer};

use crate::config::types::{ConfigError, Seconds};
use crate::sinks::retry;

/// A credential: read from the config, never printed (`--check-config` shows
/// `<redacted>`, `Debug` too).
#[derive(Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// The value, for building the request header only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str("<redacted>")
    }
}

/// HTTP basic authentication (Grafana Cloud, a gateway with htpasswd).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    pub username: String,
    pub password: Secret,
}

/// Shipping log lines to Loki's push API.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LokiConfig {
    /// Off by default; `sources.kubernetes_logs` feeds it.
    pub enabled: bool,
    /// Base URL of Loki (or its gateway), `http://host:port` or `https://host:port`;
    /// `/loki/api/v1/push` is appended.
    pub endpoint: String,
    /// Sent as `X-Scope-OrgID` when not empty (multi-tenant Loki).
    pub tenant_id: String,
    /// Basic authentication; exclusive with `bearer_token`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub basic_auth: Option<BasicAuth>,
    /// Bearer token; exclusive with `basic_auth`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bearer_token: Option<Secret>,
    /// PEM file of CA certificates to trust for an https:// endpoint, besides the system's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_ca_file: Option<std::path::PathBuf>,
    /// A batch is sent once its lines reach this many bytes...
    pub batch_max_bytes: usize,
    /// ...or once its oldest line waited this long.
    pub batch_wait_seconds: Seconds,
    /// Pushes sent concurrently. Acknowledgements still move checkpoints in batch order,
    /// whatever order Loki answers in. 1 sends strictly in order, as Loki before 2.4 (or
    /// with `unordered_writes: false`) needs; it refuses a stream's entries older than
    /// the newest it stored.
    pub max_in_flight_requests: usize,
    /// Time limit of one push attempt.
    pub request_timeout_seconds: Seconds,
    /// First retry delay; doubles per attempt, with jitter.
    pub min_backoff_seconds: Seconds,
    /// Longest retry delay. Retries never stop on their own: the files are the buffer.
    pub max_backoff_seconds: Seconds,
    /// Send the fields below of JSON lines as structured metadata (Loki 2.9+ with
    /// `allow_structured_metadata`); switch off for older Loki, which refuses it.
    pub structured_metadata: bool,
    /// Top-level JSON fields sent as structured metadata, never as labels (their values
    /// are unbounded).
    pub structured_metadata_fields: Vec<String>,
}

impl Default for LokiConfig {
    fn default() -> Self {
        LokiConfig {
            enabled: false,
            endpoint: "http://loki-gateway.monitoring.svc:80".to_string(),
            tenant_id: String::new(),
            basic_auth: None,
            bearer_token: None,
            tls_ca_file: None,
            batch_max_bytes: 1024 * 1024,
            batch_wait_seconds: Seconds(1.0),
            max_in_flight_requests: 4,
            request_timeout_seconds: Seconds(10.0),
            min_backoff_seconds: Seconds(0.5),
            max_backoff_seconds: Seconds(30.0),
            structured_metadata: true,
            structured_metadata_fields: vec!["request_id".to_string(), "trace_id".to_string()],
        }
    }
}

impl LokiConfig {
    /// Checks ranges and the endpoint; `key` is this section's path.
    pub fn validate(&self, key: &str) -> Result<(), ConfigError> {
        let at = |field: &str| format!("{key}.{field}");
        let uri: Result<hyper::Uri, _> = self.endpoint.parse();
        match uri {
            Ok(uri)
                if matches!(uri.scheme_str(), Some("http" | "https")) && uri.host().is_some() => {}
            _ => {
                return Err(ConfigError::invalid(
                    &at("endpoint"),
                    format!(
                        "must be an http:// or https://host[:port] URL, got {:?}",
                        self.endpoint
                    ),
                ));
            }
        }
        if let Some(path) = &self.tls_ca_file
            && !path.is_file()
        {
            return Err(ConfigError::invalid(
                &at("tls_ca_file"),
                format!("{} is not a readable file", path.display()),
            ));
        }
        if self.basic_auth.is_some() && self.bearer_token.is_some() {
            return Err(ConfigError::invalid(
                &at("bearer_token"),
                "set either basic_auth or bearer_token, not both",
            ));
        }
        if !(1024..=64 * 1024 * 1024).contains(&self.batch_max_bytes) {
            return Err(ConfigError::invalid(
                &at("batch_max_bytes"),
                "must be between 1024 and 67108864 (Loki refuses pushes over its burst limit)",
            ));
        }
        self.batch_wait_seconds
            .check_range(&at("batch_wait_seconds"), 0.001, 60.0)?;
        if !(1..=64).contains(&self.max_in_flight_requests) {
            return Err(ConfigError::invalid(
                &at("max_in_flight_requests"),
                "must be between 1 and 64",
            ));
        }
        self.request_timeout_seconds
            .check_range(&at("request_timeout_seconds"), 0.1, 600.0)?;
        retry::validate(
            key,
            self.min_backoff_seconds,
            self.max_backoff_seconds,
            3600.0,
        )?;
        for (i, field) in self.structured_metadata_fields.iter().enumerate() {
            if field.is_empty() || field.contains('"') {
                return Err(ConfigError::invalid(
                    &at(&format!("structured_metadata_fields[{i}]")),
                    "must be a non-empty JSON field name without quotes",
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        LokiConfig::default().validate("sinks.loki").unwrap();
    }

    #[test]
    fn bad_endpoints_double_auth_and_no_slots_name_their_key() {
        let config = LokiConfig {
            endpoint: "loki:3100".to_string(),
            ..LokiConfig::default()
        };
        let error = config.validate("sinks.loki").unwrap_err().to_string();
        assert!(error.starts_with("sinks.loki.endpoint:"), "{error}");
        let config = LokiConfig {
            basic_auth: Some(BasicAuth {
                username: "u".into(),
                password: Secret("p".into()),
            }),
            bearer_token: Some(Secret("t".into())),
            ..LokiConfig::default()
        };
        let error = config.validate("sinks.loki").unwrap_err().to_string();
        assert!(error.starts_with("sinks.loki.bearer_token:"), "{error}");
        let config = LokiConfig {
            max_in_flight_requests: 0,
            ..LokiConfig::default()
        };
        let error = config.validate("sinks.loki").unwrap_err().to_string();
        assert!(
            error.starts_with("sinks.loki.max_in_flight_requests:"),
            "{error}"
        );
    }

    #[test]
    fn https_is_accepted_and_a_missing_ca_file_names_its_key() {
        let config = LokiConfig {
            endpoint: "https://logs.example.com".to_string(),
            ..LokiConfig::default()
        };
        config.validate("sinks.loki").unwrap();
        let config = LokiConfig {
            tls_ca_file: Some("/nonexistent/ca.pem".into()),
            ..config
        };
        let error = config.validate("sinks.loki").unwrap_err().to_string();
        assert!(error.starts_with("sinks.loki.tls_ca_file:"), "{error}");
    }

    #[test]
    fn secrets_are_never_printed() {
        let config = LokiConfig {
            bearer_token: Some(Secret("s3cr3t".into())),
            ..LokiConfig::default()
        };
        assert!(!format!("{config:?}").contains("s3cr3t"));
        assert!(!serde_json::to_string(&config).unwrap().contains("s3cr3t"));
    }
}
