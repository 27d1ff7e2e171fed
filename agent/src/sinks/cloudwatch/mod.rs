//! CloudWatch sink: selected metrics as PutMetricData statistic sets.
//!
//! Speaks CloudWatch's current wire protocol (Smithy RPC v2 CBOR) through
//! aws-sdk-cloudwatch; API reference:
//! <https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricData.html>.
//! Only series matching the allowlist (`metrics`) are sent, because every custom metric
//! is billed. The non-obvious decision: values are aggregated into one StatisticValues
//! datum per metric and push interval rather than sent per collection, which costs the
//! same per metric but far fewer requests, and keeps min/max visible to alarms.
//!
//! Flow: [`aggregate`] (batches → datums) → [`batch`] (datums → requests within API
//! limits) → [`queue`] (bounded, drop-oldest) → [`service`] (one call) retried by
//! [`sink`] with exponential backoff and jitter.

pub mod aggregate;
pub mod batch;
pub mod config;
pub mod imds;
pub mod queue;
pub mod selector;
pub mod service;
pub mod sink;
