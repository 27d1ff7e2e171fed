//! One scrape: an HTTP GET with a time limit and a body-size limit, parsed as text format.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::metric::MetricFamily;
use crate::metric::parse::parse;

/// What Prometheus itself asks for, minus protobuf: classic text preferred, OpenMetrics accepted.
const ACCEPT: &str =
    "text/plain;version=0.0.4;q=1,application/openmetrics-text;version=1.0.0;q=0.5,*/*;q=0.1";

/// A reusable scraping client (keeps connections alive between scrapes).
#[derive(Clone, Debug)]
pub struct Scraper {
    client: Client<HttpConnector, Empty<Bytes>>,
    timeout: Duration,
    max_bytes: usize,
}

impl Scraper {
    /// A client with the given limits.
    pub fn new(timeout: Duration, max_bytes: usize) -> Self {
        Scraper {
            client: Client::builder(TokioExecutor::new()).build_http(),
            timeout,
            max_bytes,
        }
    }

    /// GETs `url` and parses the body; the error says which step failed.
    pub async fn scrape(&self, url: &str) -> Result<Vec<MetricFamily>, String> {
        let request = hyper::Request::get(url)
            .header("accept", ACCEPT)
            .header(
                "user-agent",
                concat!("watchpost-node-agent/", env!("CARGO_PKG_VERSION")),
            )
            .body(Empty::new())
            .map_err(|e| format!("bad request: {e}"))?;
        let work = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| format!("request failed: {e}"))?;
            if !response.status().is_success() {
                return Err(format!("HTTP status {}", response.status()));
            }
            let body = Limited::new(response.into_body(), self.max_bytes)
                .collect()
                .await
                .map_err(|e| format!("reading body: {e}"))?
                .to_bytes();
            let text = std::str::from_utf8(&body).map_err(|e| format!("body is not UTF-8: {e}"))?;
            parse(text).map_err(|e| format!("invalid exposition: {e}"))
        };
        tokio::time::timeout(self.timeout, work)
            .await
            .map_err(|_| format!("timed out after {:?}", self.timeout))?
    }
}
