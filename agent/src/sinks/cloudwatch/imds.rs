//! The instance id from the EC2 instance metadata service, for the `InstanceId` dimension.
//!
//! Uses the SDK's IMDSv2 client (session token first, as IMDSv2-only instances require).
//! The endpoint follows the SDK's rules (`AWS_EC2_METADATA_SERVICE_ENDPOINT`, profile,
//! default `169.254.169.254`), so pods whose hop limit blocks IMDS simply get an error.

use std::time::Duration;

use aws_config::provider_config::ProviderConfig;
use aws_sdk_cloudwatch::error::DisplayErrorContext;

use crate::sinks::cloudwatch::service::https_client;

/// Reads `/latest/meta-data/instance-id`, giving up after a few seconds.
pub async fn instance_id() -> Result<String, String> {
    let provider = ProviderConfig::without_region().with_http_client(https_client());
    let client = aws_config::imds::Client::builder()
        .configure(&provider)
        .max_attempts(2)
        .operation_timeout(Duration::from_secs(3))
        .build();
    let id = client
        .get("/latest/meta-data/instance-id")
        .await
        .map_err(|e| DisplayErrorContext(&e).to_string())?;
    let id = String::from(id);
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(format!("unexpected instance id {id:?}"));
    }
    Ok(id)
}
