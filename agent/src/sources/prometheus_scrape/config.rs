//! The `sources.prometheus_scrape` section.

use serde::{Deserialize, Serialize};

use crate::config::types::{ConfigError, Seconds};

/// One endpoint to scrape.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// Short name; added to every scraped series as the `job` label (unless the series
    /// has one) and used in the agent's telemetry.
    pub name: String,
    /// `http://host:port/path` of a Prometheus text-format endpoint.
    pub url: String,
}

/// Scraping Prometheus endpoints so sinks can forward selected series.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PrometheusScrapeConfig {
    /// Off by default.
    pub enabled: bool,
    /// How often every target is scraped.
    pub scrape_interval_seconds: Seconds,
    /// Time limit of one scrape; the interval caps it.
    pub scrape_timeout_seconds: Seconds,
    /// Largest response body accepted; bigger ones fail the scrape (protects memory).
    pub max_response_bytes: usize,
    /// The endpoints.
    pub targets: Vec<Target>,
}

impl Default for PrometheusScrapeConfig {
    fn default() -> Self {
        PrometheusScrapeConfig {
            enabled: false,
            scrape_interval_seconds: Seconds(15.0),
            scrape_timeout_seconds: Seconds(5.0),
            max_response_bytes: 4 * 1024 * 1024,
            targets: Vec::new(),
        }
    }
}

impl PrometheusScrapeConfig {
    /// Checks ranges and targets; `key` is this section's path.
    pub fn validate(&self, key: &str) -> Result<(), ConfigError> {
        let at = |field: &str| format!("{key}.{field}");
        self.scrape_interval_seconds
            .check_range(&at("scrape_interval_seconds"), 0.1, 3600.0)?;
        self.scrape_timeout_seconds
            .check_range(&at("scrape_timeout_seconds"), 0.05, 600.0)?;
        if !(1024..=256 * 1024 * 1024).contains(&self.max_response_bytes) {
            return Err(ConfigError::invalid(
                &at("max_response_bytes"),
                "must be between 1024 and 268435456",
            ));
        }
        if self.enabled && self.targets.is_empty() {
            return Err(ConfigError::invalid(
                &at("targets"),
                "is empty: nothing to scrape; disable the source instead",
            ));
        }
        let mut names = std::collections::HashSet::new();
        for (i, target) in self.targets.iter().enumerate() {
            let valid_name = !target.name.is_empty()
                && target
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.');
            if !valid_name {
                return Err(ConfigError::invalid(
                    &at(&format!("targets[{i}].name")),
                    "must be non-empty letters, digits, '-', '_' or '.'",
                ));
            }
            if !names.insert(&target.name) {
                return Err(ConfigError::invalid(
                    &at(&format!("targets[{i}].name")),
                    format!("{:?} is used twice", target.name),
                ));
            }
            match target.url.parse::<hyper::Uri>() {
                Ok(uri) if uri.scheme_str() == Some("http") && uri.host().is_some() => {}
                Ok(uri) if uri.scheme_str() == Some("https") => {
                    return Err(ConfigError::invalid(
                        &at(&format!("targets[{i}].url")),
                        "https is not supported by the scraper; scrape the in-cluster http endpoint",
                    ));
                }
                _ => {
                    return Err(ConfigError::invalid(
                        &at(&format!("targets[{i}].url")),
                        format!("{:?} is not an http://host[:port]/path URL", target.url),
                    ));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    fn error(yaml: &str) -> String {
        Config::from_yaml(yaml).unwrap_err().to_string()
    }

    #[test]
    fn targets_are_checked_and_errors_name_the_entry() {
        let base = "sources:\n  prometheus_scrape:\n    enabled: true\n    targets:\n";
        assert_eq!(
            error(&format!(
                "{base}      - {{name: api, url: 'https://api/metrics'}}\n"
            )),
            "sources.prometheus_scrape.targets[0].url: https is not supported by the scraper; scrape the in-cluster http endpoint"
        );
        assert_eq!(
            error(&format!(
                "{base}      - {{name: api, url: 'http://a/m'}}\n      - {{name: api, url: 'http://b/m'}}\n"
            )),
            "sources.prometheus_scrape.targets[1].name: \"api\" is used twice"
        );
        assert_eq!(
            error(&format!(
                "{base}      - {{name: api, url: 'api:8080/metrics'}}\n"
            )),
            "sources.prometheus_scrape.targets[0].url: \"api:8080/metrics\" is not an http://host[:port]/path URL"
        );
        assert!(
            error(&format!("{base}      - {{name: api}}\n"))
                .starts_with("sources.prometheus_scrape.targets[0]: missing field `url`")
        );
    }
}
