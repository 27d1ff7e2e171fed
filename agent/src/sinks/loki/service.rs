//! One push attempt: POST the snappy-compressed protobuf body to `/loki/api/v1/push` and
//! say whether to count it delivered, give it up, or retry.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue, RETRY_AFTER, USER_AGENT};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::config::LokiConfig;

/// How an attempt ended.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    /// 2xx: Loki has the lines.
    Delivered,
    /// A 4xx other than 429: sending it again would fail again. Carries the status and
    /// Loki's explanation.
    Rejected(u16, String),
    /// 429, 5xx, timeout or connection error: try again later (`after`: Loki's
    /// `Retry-After`, if it sent one).
    Retry {
        reason: String,
        after: Option<Duration>,
    },
}

/// Longest part of an error body kept for the log.
const MAX_ERROR_BODY: usize = 1024;

/// The HTTP client and fixed request parts.
#[derive(Clone, Debug)]
pub struct PushService {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    uri: hyper::Uri,
    tenant: Option<HeaderValue>,
    authorization: Option<HeaderValue>,
    timeout: Duration,
}

impl PushService {
    /// A service for a validated config.
    pub fn new(config: &LokiConfig) -> anyhow::Result<PushService> {
        use base64::Engine;
        let uri = format!("{}/loki/api/v1/push", config.endpoint.trim_end_matches('/')).parse()?;
        let authorization = if let Some(basic) = &config.basic_auth {
            let raw = format!("{}:{}", basic.username, basic.password.expose());
            let encoded = base64::engine::general_purpose::STANDARD.encode(raw);
            Some(sensitive(format!("Basic {encoded}"))?)
        } else if let Some(token) = &config.bearer_token {
            Some(sensitive(format!("Bearer {}", token.expose()))?)
        } else {
            None
        };
        let tenant = if config.tenant_id.is_empty() {
            None
        } else {
            Some(HeaderValue::from_str(&config.tenant_id)?)
        };
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(config.request_timeout_seconds.duration()));
        // `enforce_http(false)` lets the TLS wrapper take https:// URLs; http:// stays plain.
        connector.enforce_http(false);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls_config(config)?)
            .https_or_http()
            .enable_http1()
            .wrap_connector(connector);
        Ok(PushService {
            client: Client::builder(TokioExecutor::new()).build(https),
            uri,
            tenant,
            authorization,
            timeout: config.request_timeout_seconds.duration(),
        })
    }

    /// Sends `body` once.
    pub async fn push(&self, body: Bytes) -> Outcome {
        let mut request = hyper::Request::post(self.uri.clone())
            .header(CONTENT_TYPE, "application/x-protobuf")
            .header(
                USER_AGENT,
                concat!("watchpost-node-agent/", env!("CARGO_PKG_VERSION")),
            );
        if let Some(tenant) = &self.tenant {
            request = request.header("X-Scope-OrgID", tenant.clone());
        }
        if let Some(authorization) = &self.authorization {
            request = request.header(AUTHORIZATION, authorization.clone());
        }
        let request = match request.body(Full::new(body)) {
            Ok(request) => request,
            Err(error) => return Outcome::Rejected(0, error.to_string()),
        };
        let attempt = async {
            let response = self.client.request(request).await.map_err(|e| {
                // The source chain says "connection refused" where the top level only
                // says "client error (Connect)".
                let mut text = e.to_string();
                let mut source = std::error::Error::source(&e);
                while let Some(cause) = source {
                    text.push_str(": ");
                    text.push_str(&cause.to_string());
                    source = cause.source();
                }
                text
            })?;
            let status = response.status();
            let retry_after = response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            let body = response
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            let text = String::from_utf8_lossy(&body[..body.len().min(MAX_ERROR_BODY)])
                .trim()
                .to_string();
            Ok::<_, String>((status.as_u16(), retry_after, text))
        };
        match tokio::time::timeout(self.timeout, attempt).await {
            Err(_) => Outcome::Retry {
                reason: "timeout".to_string(),
                after: None,
            },
            Ok(Err(error)) => Outcome::Retry {
                reason: error,
                after: None,
            },
            Ok(Ok((status, retry_after, text))) => classify(status, retry_after, text),
        }
    }
}

/// Loki's statuses: 2xx stored; 429 rate-limited and 5xx unavailable (retry); any other
/// 4xx means this request is wrong (bad labels, too old, too long, auth) and stays wrong.
pub fn classify(status: u16, retry_after: Option<Duration>, text: String) -> Outcome {
    match status {
        200..=299 => Outcome::Delivered,
        429 | 500..=599 => Outcome::Retry {
            reason: format!("HTTP {status}: {text}"),
            after: retry_after,
        },
        _ => Outcome::Rejected(status, text),
    }
}

/// TLS for https:// endpoints: the system's trusted roots plus `tls_ca_file`.
fn tls_config(config: &LokiConfig) -> anyhow::Result<rustls::ClientConfig> {
    use anyhow::Context;
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    // Unreadable system certificates are skipped, not fatal: a private CA in
    // tls_ca_file may be all that is needed.
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    if let Some(path) = &config.tls_ca_file {
        let certs = CertificateDer::pem_file_iter(path)
            .with_context(|| format!("tls_ca_file: cannot read {}", path.display()))?;
        for cert in certs {
            let cert =
                cert.with_context(|| format!("tls_ca_file: {} is not PEM", path.display()))?;
            roots
                .add(cert)
                .with_context(|| format!("tls_ca_file: bad certificate in {}", path.display()))?;
        }
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

fn sensitive(value: String) -> anyhow::Result<HeaderValue> {
    let mut header = HeaderValue::from_str(&value)?;
    header.set_sensitive(true);
    Ok(header)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_classified_as_loki_means_them() {
        assert_eq!(classify(204, None, String::new()), Outcome::Delivered);
        assert!(matches!(
            classify(429, None, String::new()),
            Outcome::Retry { .. }
        ));
        assert!(matches!(
            classify(503, None, String::new()),
            Outcome::Retry { .. }
        ));
        assert_eq!(
            classify(400, None, "too old".into()),
            Outcome::Rejected(400, "too old".into())
        );
        assert!(matches!(
            classify(401, None, String::new()),
            Outcome::Rejected(401, _)
        ));
    }
}
