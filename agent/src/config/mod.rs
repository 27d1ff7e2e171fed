//! The agent's configuration: one YAML file plus environment overrides.
//!
//! Every section has safe defaults, so an empty file (or none) is a valid config.
//! An environment variable `NODE_AGENT__<KEY>__<KEY>...` overrides the key at that path
//! (`NODE_AGENT__SINKS__CLOUDWATCH__ENABLED=true`); its value is read as a YAML scalar or
//! flow collection, so numbers, booleans and `[a, b]` lists work. Unknown keys are errors,
//! and every error names the key (`sinks.cloudwatch.push_interval_seconds: ...`).

pub mod types;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_norway::{Mapping, Value};

use crate::sinks::SinksConfig;
use crate::sources::SourcesConfig;
use types::{ConfigError, IdentityConfig, Seconds};

/// Prefix of environment variables that override config keys.
pub const ENV_PREFIX: &str = "NODE_AGENT__";

/// The whole configuration.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The HTTP server for `/metrics`.
    pub server: ServerConfig,
    /// Log verbosity.
    pub log: LogConfig,
    /// Who this node is; becomes CloudWatch dimensions.
    pub identity: IdentityConfig,
    /// Where data comes from.
    pub sources: SourcesConfig,
    /// Where data goes.
    pub sinks: SinksConfig,
    /// How long to spend flushing on SIGTERM.
    pub shutdown: ShutdownConfig,
}

/// The HTTP server that serves `/metrics`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address and port to listen on.
    pub listen_address: SocketAddr,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen_address: SocketAddr::from(([0, 0, 0, 0], 9101)),
        }
    }
}

/// Logging.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// A tracing filter directive: `info`, `debug`, `node_agent=debug,info`, ...
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: "info".into(),
        }
    }
}

/// Graceful shutdown.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ShutdownConfig {
    /// Upper bound on the time spent flushing queued data after SIGTERM.
    pub timeout_seconds: Seconds,
}

impl Default for ShutdownConfig {
    fn default() -> Self {
        ShutdownConfig {
            timeout_seconds: Seconds(10.0),
        }
    }
}

impl Config {
    /// Reads `path` (if any), applies `NODE_AGENT__*` overrides from `env`, and validates.
    pub fn load(
        path: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let mut tree = match path {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.into(),
                    source,
                })?;
                serde_norway::from_str::<Value>(&text).map_err(|e| ConfigError::Yaml {
                    path: path.into(),
                    message: e.to_string(),
                })?
            }
            None => Value::Null,
        };
        let mut overrides: Vec<(String, String)> = env
            .into_iter()
            .filter(|(k, _)| k.starts_with(ENV_PREFIX))
            .collect();
        // Sorted so that the result does not depend on the environment's order.
        overrides.sort();
        for (var, value) in overrides {
            apply_override(&mut tree, &var, &value)?;
        }
        Config::from_value(tree)
    }

    /// Parses and validates a YAML document (no environment).
    pub fn from_yaml(text: &str) -> Result<Config, ConfigError> {
        let tree = serde_norway::from_str::<Value>(text).map_err(|e| ConfigError::Yaml {
            path: PathBuf::from("<inline>"),
            message: e.to_string(),
        })?;
        Config::from_value(tree)
    }

    fn from_value(mut tree: Value) -> Result<Config, ConfigError> {
        if tree.is_null() {
            tree = Value::Mapping(Mapping::new());
        }
        let config: Config = serde_path_to_error::deserialize(tree).map_err(|e| {
            let key = e.path().to_string();
            let key = if key == "." {
                "<root>".to_string()
            } else {
                key
            };
            ConfigError::Invalid {
                key,
                message: e.into_inner().to_string(),
            }
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Checks the rules serde cannot express (ranges, dependencies between keys).
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.shutdown
            .timeout_seconds
            .check_range("shutdown.timeout_seconds", 0.0, 300.0)?;
        self.sources.validate("sources")?;
        self.sinks.validate("sinks")?;
        if self.sources.kubernetes_logs.enabled && !self.sinks.loki.enabled {
            return Err(ConfigError::invalid(
                "sinks.loki.enabled",
                "must be true when sources.kubernetes_logs.enabled is: logs go only to Loki",
            ));
        }
        Ok(())
    }

    /// The effective configuration as YAML, for `--check-config`.
    pub fn to_yaml(&self) -> String {
        serde_norway::to_string(self).expect("config serializes")
    }
}

fn apply_override(tree: &mut Value, var: &str, raw: &str) -> Result<(), ConfigError> {
    let env_error = |message: String| ConfigError::Env {
        var: var.to_string(),
        message,
    };
    let path: Vec<String> = var[ENV_PREFIX.len()..]
        .split("__")
        .map(|s| s.to_ascii_lowercase())
        .collect();
    if path.iter().any(|segment| segment.is_empty()) {
        return Err(env_error("the key path has an empty segment".into()));
    }
    // A value that is not valid YAML on its own (e.g. `a: b: c`) is taken as plain text.
    let value =
        serde_norway::from_str::<Value>(raw).unwrap_or_else(|_| Value::String(raw.to_string()));
    let mut node = tree;
    for (i, segment) in path.iter().enumerate() {
        if node.is_null() {
            *node = Value::Mapping(Mapping::new());
        }
        let Value::Mapping(map) = node else {
            return Err(env_error(format!(
                "{} is not a section, cannot set a key inside it",
                path[..i].join(".")
            )));
        };
        let key = Value::String(segment.clone());
        if i + 1 == path.len() {
            map.insert(key, value);
            return Ok(());
        }
        node = map.entry(key).or_insert(Value::Null);
    }
    unreachable!("the path has at least one segment")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn empty_config_is_valid_with_defaults() {
        let config = Config::from_yaml("").unwrap();
        assert_eq!(config.server.listen_address.port(), 9101);
        assert!(config.sources.node.enabled);
    }

    #[test]
    fn unknown_key_is_named_with_its_section() {
        let err = Config::from_yaml("sources:\n  node:\n    colect_interval_seconds: 5\n")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("sources.node.colect_interval_seconds: unknown field `colect_interval_seconds`, expected one of `enabled`"), "{err}");
    }

    #[test]
    fn wrong_type_names_the_key() {
        let err = Config::from_yaml("server:\n  listen_address: nowhere\n")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("server.listen_address:"), "{err}");
    }

    #[test]
    fn bad_regex_names_the_key() {
        let err = Config::from_yaml("sources:\n  node:\n    netdev:\n      device_exclude: '(['\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("sources.node.netdev.device_exclude: not a valid regular expression"),
            "{err}"
        );
    }

    #[test]
    fn out_of_range_value_names_the_key_and_the_range() {
        let err = Config::from_yaml("shutdown:\n  timeout_seconds: 1000\n")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "shutdown.timeout_seconds: must be between 0 and 300 seconds, got 1000"
        );
    }

    #[test]
    fn environment_overrides_file_values_with_typed_scalars() {
        let dir = std::env::temp_dir().join(format!("node-agent-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("agent.yaml");
        std::fs::write(&path, "identity:\n  cluster: from-file\n  node: n1\n").unwrap();
        let config = Config::load(
            Some(&path),
            env(&[
                ("NODE_AGENT__IDENTITY__CLUSTER", "from-env"),
                ("NODE_AGENT__SOURCES__NODE__COLLECT_INTERVAL_SECONDS", "2.5"),
                ("UNRELATED", "x"),
            ]),
        )
        .unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(config.identity.cluster, "from-env");
        assert_eq!(config.identity.node, "n1");
        assert_eq!(config.sources.node.collect_interval_seconds, Seconds(2.5));
    }

    #[test]
    fn environment_override_takes_yaml_lists_and_names_bad_values() {
        let config = Config::load(
            None,
            env(&[(
                "NODE_AGENT__SINKS__CLOUDWATCH__DIMENSIONS",
                "[node, instance]",
            )]),
        )
        .unwrap();
        assert_eq!(config.sinks.cloudwatch.dimensions.len(), 2);
        let err = Config::load(
            None,
            env(&[("NODE_AGENT__SINKS__CLOUDWATCH__DIMENSIONS", "[rack]")]),
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("sinks.cloudwatch.dimensions[0]: unknown variant `rack`, expected one of `cluster`, `node`, `instance`"), "{err}");
    }

    #[test]
    fn environment_override_of_unknown_key_is_rejected() {
        let err = Config::load(None, env(&[("NODE_AGENT__SINKS__NOPE", "1")]))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("sinks.nope: unknown field `nope`"), "{err}");
    }

    #[test]
    fn environment_override_inside_a_scalar_is_rejected() {
        let err = Config::load(
            None,
            env(&[
                ("NODE_AGENT__LOG__LEVEL", "info"),
                ("NODE_AGENT__LOG__LEVEL__X", "1"),
            ]),
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            err,
            "environment variable NODE_AGENT__LOG__LEVEL__X: log.level is not a section, cannot set a key inside it"
        );
    }

    #[test]
    fn missing_file_is_reported_with_its_path() {
        let err = Config::load(Some(Path::new("/nonexistent/agent.yaml")), Vec::new())
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("cannot read config file /nonexistent/agent.yaml"),
            "{err}"
        );
    }

    #[test]
    fn effective_config_round_trips_through_yaml() {
        let config = Config::from_yaml("identity:\n  cluster: c\n").unwrap();
        let again = Config::from_yaml(&config.to_yaml()).unwrap();
        assert_eq!(again.to_yaml(), config.to_yaml());
    }
}
