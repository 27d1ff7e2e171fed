//! One PutMetricData call, and the judgement of whether its failure is worth retrying.
//!
//! The SDK's own retries are disabled: the sink retries itself so that every retry is
//! counted in `node_agent_sink_retries_total` and a request that keeps failing stays in
//! the bounded queue, where overflow (not a retry budget) decides what is lost.

use aws_sdk_cloudwatch::Client;
use aws_sdk_cloudwatch::config::SharedHttpClient;
use aws_sdk_cloudwatch::config::http::HttpResponse;
use aws_sdk_cloudwatch::config::retry::RetryConfig;
use aws_sdk_cloudwatch::config::timeout::TimeoutConfig;
use aws_sdk_cloudwatch::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_cloudwatch::operation::put_metric_data::PutMetricDataError;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit, StatisticSet};
use aws_smithy_http_client::tls;

use crate::sinks::cloudwatch::aggregate::{Datum, Unit};
use crate::sinks::cloudwatch::config::CloudWatchConfig;

/// Error codes CloudWatch and the AWS front ends use for throttling.
const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottled",
    "RequestThrottledException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "SlowDown",
];

/// Why a call failed.
#[derive(Debug, PartialEq)]
pub enum PutError {
    /// Throttling, 5xx, timeouts, network and credential trouble: try again later.
    Retryable(String),
    /// CloudWatch refused the request itself (4xx): retrying cannot help.
    Rejected(String),
}

/// Sends datums to one namespace.
#[derive(Clone, Debug)]
pub struct CloudWatchService {
    client: Client,
    namespace: String,
    high_resolution: bool,
}

impl CloudWatchService {
    /// Builds the client: credentials and region from the standard AWS chain
    /// (environment, web identity/IRSA, profile, instance metadata), optionally overridden
    /// by `region` and `endpoint`.
    /// Fails when no region is configured and the chain finds none: every call would fail.
    pub async fn new(config: &CloudWatchConfig) -> anyhow::Result<Self> {
        let http = https_client();
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .http_client(http)
            .retry_config(RetryConfig::disabled())
            .timeout_config(
                TimeoutConfig::builder()
                    .operation_attempt_timeout(config.request_timeout_seconds.duration())
                    .build(),
            );
        if !config.region.is_empty() {
            loader = loader.region(aws_config::Region::new(config.region.clone()));
        }
        if !config.endpoint.is_empty() {
            loader = loader.endpoint_url(config.endpoint.clone());
        }
        let shared = loader.load().await;
        if shared.region().is_none() {
            anyhow::bail!(
                "sinks.cloudwatch.region: empty, and the AWS chain (AWS_REGION, AWS_DEFAULT_REGION, \
                 profile, instance metadata) found no region; set one"
            );
        }
        Ok(CloudWatchService {
            client: Client::new(&shared),
            namespace: config.namespace.clone(),
            high_resolution: config.high_resolution,
        })
    }

    /// One PutMetricData call with `datums`.
    pub async fn put(&self, datums: &[Datum]) -> Result<(), PutError> {
        let data: Vec<MetricDatum> = datums.iter().map(|d| self.to_sdk(d)).collect();
        match self
            .client
            .put_metric_data()
            .namespace(&self.namespace)
            .set_metric_data(Some(data))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(error) => Err(classify(error)),
        }
    }

    fn to_sdk(&self, datum: &Datum) -> MetricDatum {
        let unit = match datum.unit {
            Unit::Seconds => StandardUnit::Seconds,
            Unit::Bytes => StandardUnit::Bytes,
            Unit::Count => StandardUnit::Count,
            Unit::None => StandardUnit::None,
        };
        let mut builder = MetricDatum::builder()
            .metric_name(&datum.name)
            .set_dimensions(Some(
                datum
                    .dimensions
                    .iter()
                    .map(|(name, value)| Dimension::builder().name(name).value(value).build())
                    .collect(),
            ))
            .statistic_values(
                StatisticSet::builder()
                    .sample_count(datum.sample_count)
                    .sum(datum.sum)
                    .minimum(datum.minimum)
                    .maximum(datum.maximum)
                    .build(),
            )
            .unit(unit)
            .timestamp(DateTime::from(datum.timestamp));
        if self.high_resolution {
            builder = builder.storage_resolution(1);
        }
        builder.build()
    }
}

/// The SDK's HTTP client with rustls on ring (no aws-lc/cmake build, smaller binary).
pub fn https_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https()
}

fn classify(error: SdkError<PutMetricDataError, HttpResponse>) -> PutError {
    let message = DisplayErrorContext(&error).to_string();
    match &error {
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            let code = service.err().code().unwrap_or_default();
            if status >= 500 || status == 429 || THROTTLING_CODES.contains(&code) {
                PutError::Retryable(message)
            } else {
                PutError::Rejected(message)
            }
        }
        SdkError::ConstructionFailure(_) => PutError::Rejected(message),
        _ => PutError::Retryable(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::SystemTime;

    fn datum(unit: Unit) -> Datum {
        Datum {
            name: "node_load1".into(),
            dimensions: vec![("NodeName".into(), "n1".into())],
            unit,
            sample_count: 3.0,
            sum: 6.0,
            minimum: 1.0,
            maximum: 3.0,
            timestamp: SystemTime::UNIX_EPOCH,
        }
    }

    async fn service(high_resolution: bool) -> CloudWatchService {
        let config = CloudWatchConfig {
            region: "us-east-1".into(),
            endpoint: "http://127.0.0.1:9".into(),
            high_resolution,
            ..CloudWatchConfig::default()
        };
        CloudWatchService::new(&config).await.unwrap()
    }

    #[tokio::test]
    async fn datums_carry_statistic_sets_units_and_dimensions() {
        let sdk = service(false).await.to_sdk(&datum(Unit::Bytes));
        assert_eq!(sdk.metric_name(), Some("node_load1"));
        assert_eq!(sdk.unit(), Some(&StandardUnit::Bytes));
        let stats = sdk.statistic_values().unwrap();
        assert_eq!(
            (
                stats.sample_count(),
                stats.sum(),
                stats.minimum(),
                stats.maximum()
            ),
            (Some(3.0), Some(6.0), Some(1.0), Some(3.0))
        );
        assert_eq!(sdk.dimensions()[0].name(), Some("NodeName"));
        assert_eq!(
            sdk.storage_resolution(),
            None,
            "standard resolution by default"
        );
        assert!(sdk.value().is_none(), "a statistic set, not a single value");
    }

    #[tokio::test]
    async fn high_resolution_sets_one_second_storage() {
        let sdk = service(true).await.to_sdk(&datum(Unit::None));
        assert_eq!(sdk.storage_resolution(), Some(1));
        assert_eq!(sdk.unit(), Some(&StandardUnit::None));
    }
}
