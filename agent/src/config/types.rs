//! Types every component's config section uses: durations in seconds, regular
//! expressions compiled at load, the node's identity and the error that names a key.
//! They live below `config` and the components, so a component never imports the loader.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The node's identity.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct IdentityConfig {
    /// Cluster name (empty: not known).
    pub cluster: String,
    /// Kubernetes node name; defaults to the host name. In a DaemonSet set it from the
    /// downward API (`NODE_AGENT__IDENTITY__NODE` from `spec.nodeName`).
    pub node: String,
    /// Cloud instance id (empty: not known).
    pub instance: String,
    /// When `instance` is empty and the CloudWatch sink uses the `instance` dimension, ask
    /// the EC2 instance metadata service (IMDSv2) for the id at start.
    pub instance_from_metadata: bool,
}

impl Default for IdentityConfig {
    fn default() -> Self {
        IdentityConfig {
            cluster: String::new(),
            node: hostname(),
            instance: String::new(),
            instance_from_metadata: false,
        }
    }
}

fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its whole length and gethostname NUL-terminates
    // within it on success.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return String::new();
    }
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// A duration written as a number of seconds (fractions allowed).
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd)]
pub struct Seconds(pub f64);

impl Seconds {
    /// As a `Duration`.
    pub fn duration(self) -> Duration {
        Duration::from_secs_f64(self.0)
    }

    /// Checks `min <= self <= max`, naming `key` otherwise.
    pub fn check_range(self, key: &str, min: f64, max: f64) -> Result<(), ConfigError> {
        if self.0.is_finite() && self.0 >= min && self.0 <= max {
            Ok(())
        } else {
            Err(ConfigError::invalid(
                key,
                format!("must be between {min} and {max} seconds, got {}", self.0),
            ))
        }
    }
}

impl<'de> Deserialize<'de> for Seconds {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = f64::deserialize(deserializer)?;
        if !value.is_finite() || value < 0.0 {
            return Err(serde::de::Error::custom(format!(
                "expected a non-negative number of seconds, got {value}"
            )));
        }
        Ok(Seconds(value))
    }
}

impl Serialize for Seconds {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_f64(self.0)
    }
}

/// A regular expression, compiled when the config is read so a bad one names its key.
#[derive(Clone)]
pub struct Pattern(pub regex::Regex);

impl Pattern {
    /// Compiles `source`; panics on an invalid literal, so only for built-in defaults.
    pub fn builtin(source: &str) -> Self {
        Pattern(regex::Regex::new(source).expect("built-in pattern compiles"))
    }

    /// Whether the pattern matches anywhere in `text` (like node_exporter's flags).
    pub fn is_match(&self, text: &str) -> bool {
        self.0.is_match(text)
    }
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.0.as_str(), f)
    }
}

impl<'de> Deserialize<'de> for Pattern {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let source = String::deserialize(deserializer)?;
        regex::Regex::new(&source)
            .map(Pattern)
            .map_err(|e| serde::de::Error::custom(format!("not a valid regular expression: {e}")))
    }
}

impl Serialize for Pattern {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0.as_str())
    }
}

/// Why a configuration was rejected.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path} is not valid YAML: {message}")]
    Yaml { path: PathBuf, message: String },
    #[error("environment variable {var}: {message}")]
    Env { var: String, message: String },
    #[error("{key}: {message}")]
    Invalid { key: String, message: String },
}

impl ConfigError {
    /// A rejected value at `key`.
    pub fn invalid(key: &str, message: impl Into<String>) -> Self {
        ConfigError::Invalid {
            key: key.to_string(),
            message: message.into(),
        }
    }
}

/// A key that has a new name: read only so that the error names the key to use instead.
pub type Retired = Option<serde::de::IgnoredAny>;

/// Refuses the first retired key that is set, naming the key that replaces it; `key` is
/// the section's path, `retired` lists (old name, new name, value).
pub fn refuse_retired(key: &str, retired: &[(&str, &str, &Retired)]) -> Result<(), ConfigError> {
    match retired.iter().find(|(_, _, value)| value.is_some()) {
        Some((old, new, _)) => Err(ConfigError::invalid(
            &format!("{key}.{old}"),
            format!("is no longer read; use {key}.{new}"),
        )),
        None => Ok(()),
    }
}
