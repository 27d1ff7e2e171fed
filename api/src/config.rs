//! Configuration from environment variables only (12-factor).
//!
//! Every setting is declared once in [`SETTINGS`]: its variable, default and meaning. That
//! table drives both `task-api --help` and parsing, so the help text cannot drift from what
//! the service reads. A bad value stops start-up with an error naming the variable.

use std::{fmt, net::SocketAddr, path::PathBuf, time::Duration};

use crate::fault::{Fault, FaultField};

/// One environment variable the service reads.
pub struct Setting {
    pub name: &'static str,
    pub default: Option<&'static str>,
    pub help: &'static str,
}

/// Every variable the service reads, in the order `--help` prints them.
pub const SETTINGS: &[Setting] = &[
    Setting {
        name: "LISTEN_ADDR",
        default: Some("0.0.0.0:8080"),
        help: "Public listener for /api/v1/*.",
    },
    Setting {
        name: "ADMIN_LISTEN_ADDR",
        default: Some("0.0.0.0:9464"),
        help: "Admin listener for /livez, /readyz and /metrics.",
    },
    Setting {
        name: "DATABASE_URL",
        default: Some("sqlite://watchpost-tasks.db"),
        help: "postgres://user:pass@host/db in production; sqlite://FILE (created if missing) embedded.",
    },
    Setting {
        name: "DATABASE_MAX_CONNECTIONS",
        default: Some("16"),
        help: "Upper bound of the connection pool (on SQLite, of the read pool; writes queue for a small pool of their own, `tasks_write`, whose size db_client_connection_max reports).",
    },
    Setting {
        name: "DATABASE_ACQUIRE_TIMEOUT",
        default: Some("2s"),
        help: "How long a request waits for a database connection before failing fast with 503.",
    },
    Setting {
        name: "AUTH_JWT_SECRET",
        default: None,
        help: "HS256 secret verifying bearer tokens (owner = `sub`).",
    },
    Setting {
        name: "AUTH_JWT_PUBLIC_KEY",
        default: None,
        help: "RS256 public key (PEM text) verifying bearer tokens.",
    },
    Setting {
        name: "AUTH_JWT_PUBLIC_KEY_FILE",
        default: None,
        help: "Path of an RS256 public key (PEM file).",
    },
    Setting {
        name: "AUTH_JWKS_URL",
        default: None,
        help: "JWKS URL of an identity provider; RS256, PS256 and ES256 keys, rotated without a restart.",
    },
    Setting {
        name: "AUTH_OIDC_ISSUER",
        default: None,
        help: "OIDC issuer URL: its JWKS is found by discovery, and tokens must carry it as `iss`.",
    },
    Setting {
        name: "AUTH_JWKS_REFRESH_INTERVAL",
        default: Some("15m"),
        help: "How often the JWKS is fetched again when the provider sends no Cache-Control max-age.",
    },
    Setting {
        name: "AUTH_JWKS_MIN_REFRESH_INTERVAL",
        default: Some("30s"),
        help: "At most one JWKS fetch per this interval, however many unknown `kid`s arrive.",
    },
    Setting {
        name: "AUTH_CLOCK_LEEWAY",
        default: Some("60s"),
        help: "Clock skew allowed for `exp`, `nbf` and `iat`.",
    },
    Setting {
        name: "AUTH_OWNER_CLAIM",
        default: Some("sub"),
        help: "The token claim naming the owner (e.g. `username` for Cognito access tokens).",
    },
    Setting {
        name: "AUTH_JWT_ISSUER",
        default: None,
        help: "If set, tokens must carry this `iss`.",
    },
    Setting {
        name: "AUTH_JWT_AUDIENCE",
        default: None,
        help: "If set, tokens must carry this `aud`.",
    },
    Setting {
        name: "AUTH_REQUIRED",
        default: Some("false"),
        help: "true refuses to start without a JWT key (production); false allows single-owner development mode.",
    },
    Setting {
        name: "REQUEST_TIMEOUT",
        default: Some("10s"),
        help: "A request still running after this answers 503.",
    },
    Setting {
        name: "REQUEST_BODY_LIMIT_BYTES",
        default: Some("65536"),
        help: "Larger request bodies answer 413.",
    },
    Setting {
        name: "CONCURRENCY_LIMIT",
        default: Some("1024"),
        help: "Requests handled at once; beyond it requests are shed with 503 + Retry-After.",
    },
    Setting {
        name: "SHUTDOWN_DRAIN_DELAY",
        default: Some("5s"),
        help: "After SIGTERM, /readyz answers 503 but the listener keeps serving this long.",
    },
    Setting {
        name: "SHUTDOWN_TIMEOUT",
        default: Some("20s"),
        help: "After the drain delay, in-flight requests get at most this long to finish.",
    },
    Setting {
        name: "LOG_FORMAT",
        default: Some("json"),
        help: "json (one object per line) or pretty.",
    },
    Setting {
        name: "RUST_LOG",
        default: Some("info"),
        help: "Log filter, e.g. info,task_api=debug.",
    },
    Setting {
        name: "LOG_FILE",
        default: None,
        help: "If set, every log line also goes to this file (stdout keeps its copy), e.g. for a sidecar that tails it.",
    },
    Setting {
        name: "LOG_FILE_MAX_BYTES",
        default: Some("10485760"),
        help: "With LOG_FILE: the file is renamed to LOG_FILE.1 before it would exceed this size; at least 4096.",
    },
    Setting {
        name: "LOG_FILE_MAX_FILES",
        default: Some("2"),
        help: "With LOG_FILE: rotated files kept (LOG_FILE.1 ... LOG_FILE.N), 1 to 100; older ones are deleted.",
    },
    Setting {
        name: "TELEMETRY_ENABLED",
        default: Some("true"),
        help: "Benchmark switch, not for production: false drops request spans, RED metrics and trace export, to measure their overhead (docs/telemetry.md).",
    },
    Setting {
        name: "TASKS_GAUGE_INTERVAL",
        default: Some("15s"),
        help: "How often the task_api_tasks{status} gauge is refreshed from the database.",
    },
    Setting {
        name: "FAULT_INJECTION_ENABLED",
        default: Some("false"),
        help: "TESTS ONLY: true lets the admin listener's /fault make /api/v1/* fail (500) or slow on purpose.",
    },
    Setting {
        name: "FAULT_ERROR_RATIO",
        default: Some("0"),
        help: "With fault injection on: share of API requests answered with an injected 500 at start, 0 to 1.",
    },
    Setting {
        name: "FAULT_LATENCY_SECONDS",
        default: Some("0"),
        help: "With fault injection on: seconds added to every API request at start, 0 to 60.",
    },
    Setting {
        name: "OTEL_EXPORTER_OTLP_ENDPOINT",
        default: None,
        help: "OTLP/HTTP collector, e.g. http://otel-collector:4318; traces are exported only when set.",
    },
    Setting {
        name: "OTEL_SERVICE_NAME",
        default: Some("task-api"),
        help: "service.name of the traces.",
    },
    Setting {
        name: "OTEL_RESOURCE_ATTRIBUTES",
        default: None,
        help: "Extra resource attributes, k=v,k2=v2.",
    },
    Setting {
        name: "OTEL_TRACES_SAMPLER",
        default: Some("parentbased_always_on"),
        help: "always_on, always_off, traceidratio or parentbased_{always_on,always_off,traceidratio}.",
    },
    Setting {
        name: "OTEL_TRACES_SAMPLER_ARG",
        default: None,
        help: "Sampling ratio for the traceidratio samplers, 0 to 1.",
    },
];

/// The service's whole configuration, validated.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen_addr: SocketAddr,
    pub admin_listen_addr: SocketAddr,
    pub database: DatabaseSettings,
    pub auth: AuthSettings,
    pub http: HttpSettings,
    pub shutdown: ShutdownSettings,
    pub log: LogSettings,
    pub tasks_gauge_interval: Duration,
    pub telemetry_enabled: bool,
    /// `Some` (the starting fault) only when fault injection is enabled.
    pub fault_injection: Option<Fault>,
}

#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    pub url: DatabaseUrl,
    pub max_connections: u32,
    pub acquire_timeout: Duration,
}

/// A database URL; its `Debug`/`Display` hide the password so it can be logged.
#[derive(Clone)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    pub fn new(url: impl Into<String>) -> Self {
        Self(url.into())
    }
    /// The URL with its password, for the driver only.
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_postgres(&self) -> bool {
        self.0.starts_with("postgres://") || self.0.starts_with("postgresql://")
    }
    pub fn is_sqlite(&self) -> bool {
        self.0.starts_with("sqlite:")
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // scheme://user:password@host → scheme://user:***@host
        match (self.0.find("://"), self.0.rfind('@')) {
            (Some(scheme_end), Some(at)) if at > scheme_end => {
                let credentials = &self.0[scheme_end + 3..at];
                match credentials.find(':') {
                    Some(colon) => write!(
                        f,
                        "{}{}:***{}",
                        &self.0[..scheme_end + 3],
                        &credentials[..colon],
                        &self.0[at..]
                    ),
                    None => f.write_str(&self.0),
                }
            }
            _ => f.write_str(&self.0),
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({self})")
    }
}

/// A secret value whose `Debug` never shows it.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Where the keys verifying bearer tokens come from.
#[derive(Debug, Clone)]
pub enum JwtKey {
    Hs256Secret(Secret),
    Rs256PublicKeyPem(String),
    /// A JWKS fetched from this URL.
    JwksUrl(String),
    /// An OIDC issuer whose discovery document names the JWKS URL.
    OidcIssuer(String),
}

#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// `None` is the explicit single-owner development mode.
    pub key: Option<JwtKey>,
    pub issuer: Option<String>,
    pub audience: Option<String>,
    pub leeway: Duration,
    pub owner_claim: String,
    pub jwks_refresh_interval: Duration,
    pub jwks_min_refresh_interval: Duration,
}

#[derive(Debug, Clone)]
pub struct HttpSettings {
    pub request_timeout: Duration,
    pub body_limit_bytes: usize,
    pub concurrency_limit: usize,
}

#[derive(Debug, Clone)]
pub struct ShutdownSettings {
    pub drain_delay: Duration,
    pub timeout: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Pretty,
}

#[derive(Debug, Clone)]
pub struct LogSettings {
    pub format: LogFormat,
    pub filter: String,
    /// `Some` when LOG_FILE is set: a second copy of the log, rotated by size.
    pub file: Option<LogFileSettings>,
}

/// The log file a sidecar tails (LOG_FILE and its rotation limits).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFileSettings {
    pub path: PathBuf,
    pub max_bytes: u64,
    pub max_files: u32,
}

/// The smallest LOG_FILE_MAX_BYTES: below a few lines per file, rotation would churn.
pub const LOG_FILE_MIN_BYTES: u64 = 4096;
/// The most LOG_FILE_MAX_FILES: more rotated files belong in a log shipper, not a pod.
pub const LOG_FILE_MAX_ROTATED: u32 = 100;

/// A setting that could not be used; names the variable and says what is allowed.
#[derive(Debug, thiserror::Error)]
#[error("invalid {variable}={shown_value}: {reason}")]
pub struct ConfigError {
    pub variable: &'static str,
    shown_value: String,
    reason: String,
}

impl ConfigError {
    pub(crate) fn new(variable: &'static str, value: &str, reason: impl Into<String>) -> Self {
        let shown_value = if variable.contains("SECRET") || variable == "DATABASE_URL" {
            "<redacted>".to_owned()
        } else {
            format!("{value:?}")
        };
        Self {
            variable,
            shown_value,
            reason: reason.into(),
        }
    }
}

/// Reads variables through a lookup function so tests need not touch the process environment.
struct Source<F> {
    lookup: F,
}

impl<F: Fn(&str) -> Option<String>> Source<F> {
    /// The raw value: the variable if set and non-empty, else the documented default.
    fn raw(&self, name: &'static str) -> Option<String> {
        (self.lookup)(name).filter(|v| !v.is_empty()).or_else(|| {
            SETTINGS
                .iter()
                .find(|s| s.name == name)
                .unwrap_or_else(|| panic!("{name} is not declared in SETTINGS"))
                .default
                .map(str::to_owned)
        })
    }

    fn required(&self, name: &'static str) -> String {
        self.raw(name)
            .unwrap_or_else(|| panic!("{name} has no default in SETTINGS"))
    }

    fn parse<T: std::str::FromStr>(
        &self,
        name: &'static str,
        expected: &str,
    ) -> Result<T, ConfigError> {
        let value = self.required(name);
        value
            .trim()
            .parse()
            .map_err(|_| ConfigError::new(name, &value, format!("expected {expected}")))
    }

    fn boolean(&self, name: &'static str) -> Result<bool, ConfigError> {
        match self.required(name).as_str() {
            "true" => Ok(true),
            "false" => Ok(false),
            other => Err(ConfigError::new(name, other, "expected true or false")),
        }
    }

    fn duration(&self, name: &'static str) -> Result<Duration, ConfigError> {
        let value = self.required(name);
        parse_duration(&value).ok_or_else(|| {
            ConfigError::new(name, &value, "expected a duration such as 500ms, 10s or 2m")
        })
    }

    fn positive<T>(&self, name: &'static str) -> Result<T, ConfigError>
    where
        T: std::str::FromStr + PartialOrd + Default,
    {
        let value: T = self.parse(name, "a positive integer")?;
        if value <= T::default() {
            return Err(ConfigError::new(
                name,
                &self.required(name),
                "expected a positive integer",
            ));
        }
        Ok(value)
    }
}

/// Parses `500ms`, `10s`, `2m`, `1h`; a bare number is seconds.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let seconds = match unit.trim() {
        "ms" => number / 1000.0,
        "" | "s" => number,
        "m" => number * 60.0,
        "h" => number * 3600.0,
        _ => return None,
    };
    (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds))
}

impl Settings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads variables through `lookup`; unset or empty variables take their defaults.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let source = Source { lookup };
        let database_url = source.required("DATABASE_URL");
        let url = DatabaseUrl::new(database_url.clone());
        if !url.is_postgres() && !url.is_sqlite() {
            return Err(ConfigError::new(
                "DATABASE_URL",
                &database_url,
                "expected a postgres:// or sqlite:// URL",
            ));
        }
        let settings = Settings {
            listen_addr: source.parse("LISTEN_ADDR", "host:port, e.g. 0.0.0.0:8080")?,
            admin_listen_addr: source.parse("ADMIN_LISTEN_ADDR", "host:port, e.g. 0.0.0.0:9464")?,
            database: DatabaseSettings {
                url,
                max_connections: source.positive("DATABASE_MAX_CONNECTIONS")?,
                acquire_timeout: source.duration("DATABASE_ACQUIRE_TIMEOUT")?,
            },
            auth: auth_settings(&source)?,
            http: HttpSettings {
                request_timeout: source.duration("REQUEST_TIMEOUT")?,
                body_limit_bytes: source.positive("REQUEST_BODY_LIMIT_BYTES")?,
                concurrency_limit: source.positive("CONCURRENCY_LIMIT")?,
            },
            shutdown: ShutdownSettings {
                drain_delay: source.duration("SHUTDOWN_DRAIN_DELAY")?,
                timeout: source.duration("SHUTDOWN_TIMEOUT")?,
            },
            log: LogSettings {
                format: match source.required("LOG_FORMAT").as_str() {
                    "json" => LogFormat::Json,
                    "pretty" => LogFormat::Pretty,
                    other => {
                        return Err(ConfigError::new(
                            "LOG_FORMAT",
                            other,
                            "expected json or pretty",
                        ));
                    }
                },
                filter: source.required("RUST_LOG"),
                file: log_file(&source)?,
            },
            telemetry_enabled: source.boolean("TELEMETRY_ENABLED")?,
            fault_injection: fault_injection(&source)?,
            tasks_gauge_interval: match source.duration("TASKS_GAUGE_INTERVAL")? {
                interval if interval.is_zero() => {
                    return Err(ConfigError::new(
                        "TASKS_GAUGE_INTERVAL",
                        "0",
                        "expected a duration above zero",
                    ));
                }
                interval => interval,
            },
        };
        Ok(settings)
    }

    /// The text of `task-api --help`, generated from [`SETTINGS`].
    pub fn help() -> String {
        let mut text = format!(
            "task-api {}\nWatchpost task API. Configured by environment variables only:\n\n",
            env!("CARGO_PKG_VERSION")
        );
        for setting in SETTINGS {
            let default = setting
                .default
                .map_or_else(|| "unset".to_owned(), |d| format!("default {d}"));
            text.push_str(&format!(
                "  {:<31} {} ({default})\n",
                setting.name, setting.help
            ));
        }
        text
    }
}

/// The log file's settings; LOG_FILE_MAX_* are not even read unless LOG_FILE is set.
fn log_file<F: Fn(&str) -> Option<String>>(
    source: &Source<F>,
) -> Result<Option<LogFileSettings>, ConfigError> {
    let Some(path) = source.raw("LOG_FILE") else {
        return Ok(None);
    };
    if path.ends_with('/') {
        return Err(ConfigError::new(
            "LOG_FILE",
            &path,
            "expected the path of a file, not a directory",
        ));
    }
    let max_bytes: u64 = source.parse("LOG_FILE_MAX_BYTES", "a number of bytes")?;
    if max_bytes < LOG_FILE_MIN_BYTES {
        return Err(ConfigError::new(
            "LOG_FILE_MAX_BYTES",
            &source.required("LOG_FILE_MAX_BYTES"),
            format!("expected at least {LOG_FILE_MIN_BYTES} bytes"),
        ));
    }
    let max_files: u32 = source.parse("LOG_FILE_MAX_FILES", "a whole number")?;
    if !(1..=LOG_FILE_MAX_ROTATED).contains(&max_files) {
        return Err(ConfigError::new(
            "LOG_FILE_MAX_FILES",
            &source.required("LOG_FILE_MAX_FILES"),
            format!(
                "expected 1 to {LOG_FILE_MAX_ROTATED} (a tailer needs at least one rotated file to finish reading)"
            ),
        ));
    }
    Ok(Some(LogFileSettings {
        path: PathBuf::from(path),
        max_bytes,
        max_files,
    }))
}

/// The starting fault; the FAULT_* values are not even read unless injection is enabled.
fn fault_injection<F: Fn(&str) -> Option<String>>(
    source: &Source<F>,
) -> Result<Option<Fault>, ConfigError> {
    if !source.boolean("FAULT_INJECTION_ENABLED")? {
        return Ok(None);
    }
    let error_ratio = source.parse("FAULT_ERROR_RATIO", "a number from 0 to 1")?;
    let latency_seconds =
        source.parse("FAULT_LATENCY_SECONDS", "a number of seconds from 0 to 60")?;
    Fault::new(error_ratio, latency_seconds)
        .map(Some)
        .map_err(|error| {
            let variable = match error.field {
                FaultField::ErrorRatio => "FAULT_ERROR_RATIO",
                FaultField::LatencySeconds => "FAULT_LATENCY_SECONDS",
            };
            ConfigError::new(variable, &source.required(variable), error.reason)
        })
}

fn auth_settings<F: Fn(&str) -> Option<String>>(
    source: &Source<F>,
) -> Result<AuthSettings, ConfigError> {
    let secret = source.raw("AUTH_JWT_SECRET");
    let pem_text = source.raw("AUTH_JWT_PUBLIC_KEY");
    let pem_file = source.raw("AUTH_JWT_PUBLIC_KEY_FILE");
    let pem = match (pem_text, pem_file) {
        (Some(_), Some(path)) => {
            return Err(ConfigError::new(
                "AUTH_JWT_PUBLIC_KEY_FILE",
                &path,
                "set either AUTH_JWT_PUBLIC_KEY or AUTH_JWT_PUBLIC_KEY_FILE, not both",
            ));
        }
        (Some(text), None) => Some(("AUTH_JWT_PUBLIC_KEY", text)),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(PathBuf::from(&path)).map_err(|e| {
                ConfigError::new(
                    "AUTH_JWT_PUBLIC_KEY_FILE",
                    &path,
                    format!("cannot read the file: {e}"),
                )
            })?;
            Some(("AUTH_JWT_PUBLIC_KEY_FILE", text))
        }
        (None, None) => None,
    };
    let jwks_url = source.raw("AUTH_JWKS_URL");
    let oidc_issuer = source.raw("AUTH_OIDC_ISSUER");
    let chosen = [
        secret.as_ref().map(|_| "AUTH_JWT_SECRET"),
        pem.as_ref().map(|(variable, _)| *variable),
        jwks_url.as_ref().map(|_| "AUTH_JWKS_URL"),
        oidc_issuer.as_ref().map(|_| "AUTH_OIDC_ISSUER"),
    ];
    let mut chosen = chosen.into_iter().flatten();
    if let (Some(first), Some(second)) = (chosen.next(), chosen.next()) {
        return Err(ConfigError::new(
            second,
            "<set>",
            format!("set one key source only, not both {first} and {second}"),
        ));
    }
    for (variable, url) in [
        ("AUTH_JWKS_URL", &jwks_url),
        ("AUTH_OIDC_ISSUER", &oidc_issuer),
    ] {
        if let Some(url) = url
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            return Err(ConfigError::new(
                variable,
                url,
                "expected an https:// URL (http:// only for tests on loopback)",
            ));
        }
    }
    let key = match (secret, pem) {
        (Some(_), Some(_)) => unreachable!("two key sources were refused above"),
        (None, None) if jwks_url.is_some() => jwks_url.map(JwtKey::JwksUrl),
        (None, None) if oidc_issuer.is_some() => oidc_issuer.clone().map(JwtKey::OidcIssuer),
        (Some(secret), None) => {
            if secret.len() < 32 {
                return Err(ConfigError::new(
                    "AUTH_JWT_SECRET",
                    &secret,
                    "expected at least 32 bytes (RFC 7518 §3.2: a key as long as the hash)",
                ));
            }
            Some(JwtKey::Hs256Secret(Secret(secret)))
        }
        (None, Some((variable, pem))) => {
            jsonwebtoken::DecodingKey::from_rsa_pem(pem.as_bytes()).map_err(|e| {
                ConfigError::new(
                    variable,
                    "<pem>",
                    format!("expected an RSA public key in PEM: {e}"),
                )
            })?;
            Some(JwtKey::Rs256PublicKeyPem(pem))
        }
        (None, None) => None,
    };
    let required = source.boolean("AUTH_REQUIRED")?;
    if required && key.is_none() {
        return Err(ConfigError::new(
            "AUTH_REQUIRED",
            "true",
            "auth is required but no key source (AUTH_JWT_SECRET, AUTH_JWT_PUBLIC_KEY(_FILE), \
             AUTH_JWKS_URL or AUTH_OIDC_ISSUER) is set",
        ));
    }
    let owner_claim = source.required("AUTH_OWNER_CLAIM");
    if owner_claim.len() > 64 || !owner_claim.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ConfigError::new(
            "AUTH_OWNER_CLAIM",
            &owner_claim,
            "expected a claim name of 1-64 visible ASCII characters",
        ));
    }
    let jwks_min_refresh_interval = source.duration("AUTH_JWKS_MIN_REFRESH_INTERVAL")?;
    if jwks_min_refresh_interval.is_zero() {
        return Err(ConfigError::new(
            "AUTH_JWKS_MIN_REFRESH_INTERVAL",
            "0",
            "expected a duration above zero (it protects the provider from floods of unknown kids)",
        ));
    }
    let jwks_refresh_interval = source.duration("AUTH_JWKS_REFRESH_INTERVAL")?;
    if jwks_refresh_interval < jwks_min_refresh_interval {
        return Err(ConfigError::new(
            "AUTH_JWKS_REFRESH_INTERVAL",
            &source.required("AUTH_JWKS_REFRESH_INTERVAL"),
            "expected at least AUTH_JWKS_MIN_REFRESH_INTERVAL",
        ));
    }
    Ok(AuthSettings {
        key,
        // An OIDC issuer is also the `iss` its tokens must carry (OIDC Core §3.1.3.7).
        issuer: source.raw("AUTH_JWT_ISSUER").or(oidc_issuer),
        audience: source.raw("AUTH_JWT_AUDIENCE"),
        leeway: source.duration("AUTH_CLOCK_LEEWAY")?,
        owner_claim,
        jwks_refresh_interval,
        jwks_min_refresh_interval,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|name| vars.get(name).cloned())
    }

    #[test]
    fn defaults_are_the_embedded_development_setup() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.listen_addr.to_string(), "0.0.0.0:8080");
        assert_eq!(s.admin_listen_addr.to_string(), "0.0.0.0:9464");
        assert!(s.database.url.is_sqlite());
        assert!(s.auth.key.is_none());
        assert_eq!(s.http.request_timeout, Duration::from_secs(10));
    }

    #[test]
    fn a_bad_value_names_its_variable() {
        let err = settings(&[("LISTEN_ADDR", "not-an-address")]).unwrap_err();
        assert_eq!(err.variable, "LISTEN_ADDR");
        assert!(
            err.to_string().contains("LISTEN_ADDR=\"not-an-address\""),
            "{err}"
        );
        let err = settings(&[("REQUEST_TIMEOUT", "soon")]).unwrap_err();
        assert_eq!(err.variable, "REQUEST_TIMEOUT");
        let err = settings(&[("CONCURRENCY_LIMIT", "0")]).unwrap_err();
        assert_eq!(err.variable, "CONCURRENCY_LIMIT");
        let err = settings(&[("DATABASE_URL", "mysql://u:hunter2@h/db")]).unwrap_err();
        assert_eq!(err.variable, "DATABASE_URL");
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    #[test]
    fn auth_required_without_a_key_refuses_to_start() {
        let err = settings(&[("AUTH_REQUIRED", "true")]).unwrap_err();
        assert_eq!(err.variable, "AUTH_REQUIRED");
    }

    #[test]
    fn one_key_source_only() {
        let err = settings(&[
            (
                "AUTH_JWT_SECRET",
                "test-secret-that-is-at-least-32-bytes-long",
            ),
            ("AUTH_JWKS_URL", "https://idp.example/jwks.json"),
        ])
        .unwrap_err();
        assert_eq!(err.variable, "AUTH_JWKS_URL");
        let err = settings(&[("AUTH_OIDC_ISSUER", "idp.example")]).unwrap_err();
        assert_eq!(err.variable, "AUTH_OIDC_ISSUER");
        let oidc = settings(&[("AUTH_OIDC_ISSUER", "https://idp.example")]).unwrap();
        assert_eq!(oidc.auth.issuer.as_deref(), Some("https://idp.example"));
        assert_eq!(oidc.auth.leeway, Duration::from_secs(60));
        assert_eq!(oidc.auth.owner_claim, "sub");
        let err = settings(&[("AUTH_JWKS_MIN_REFRESH_INTERVAL", "0s")]).unwrap_err();
        assert_eq!(err.variable, "AUTH_JWKS_MIN_REFRESH_INTERVAL");
        let err = settings(&[("AUTH_OWNER_CLAIM", "user name")]).unwrap_err();
        assert_eq!(err.variable, "AUTH_OWNER_CLAIM");
    }

    #[test]
    fn a_short_hs256_secret_is_refused_without_echoing_it() {
        let err = settings(&[("AUTH_JWT_SECRET", "short")]).unwrap_err();
        assert_eq!(err.variable, "AUTH_JWT_SECRET");
        assert!(!err.to_string().contains("short\""), "{err}");
    }

    #[test]
    fn fault_injection_is_off_unless_enabled_and_then_validated() {
        let off = settings(&[("FAULT_ERROR_RATIO", "7")]).unwrap();
        assert_eq!(off.fault_injection, None, "ignored while disabled");
        let on = settings(&[
            ("FAULT_INJECTION_ENABLED", "true"),
            ("FAULT_ERROR_RATIO", "0.25"),
            ("FAULT_LATENCY_SECONDS", "1.5"),
        ])
        .unwrap();
        assert_eq!(on.fault_injection, Some(Fault::new(0.25, 1.5).unwrap()));
        for (variable, value) in [
            ("FAULT_ERROR_RATIO", "1.1"),
            ("FAULT_ERROR_RATIO", "often"),
            ("FAULT_LATENCY_SECONDS", "61"),
            ("FAULT_LATENCY_SECONDS", "-1"),
        ] {
            let err =
                settings(&[("FAULT_INJECTION_ENABLED", "true"), (variable, value)]).unwrap_err();
            assert_eq!(err.variable, variable, "{err}");
        }
    }

    #[test]
    fn the_log_file_is_off_unless_set_and_then_validated() {
        let off = settings(&[("LOG_FILE_MAX_BYTES", "1")]).unwrap();
        assert_eq!(off.log.file, None, "limits are ignored without LOG_FILE");
        let on = settings(&[("LOG_FILE", "/var/log/task-api/task-api.log")]).unwrap();
        assert_eq!(
            on.log.file,
            Some(LogFileSettings {
                path: PathBuf::from("/var/log/task-api/task-api.log"),
                max_bytes: 10_485_760,
                max_files: 2,
            })
        );
        for (variable, value) in [
            ("LOG_FILE", "/var/log/task-api/"),
            ("LOG_FILE_MAX_BYTES", "4095"),
            ("LOG_FILE_MAX_BYTES", "10MiB"),
            ("LOG_FILE_MAX_FILES", "0"),
            ("LOG_FILE_MAX_FILES", "101"),
        ] {
            let err = settings(&[("LOG_FILE", "/tmp/t.log"), (variable, value)]).unwrap_err();
            assert_eq!(err.variable, variable, "{err}");
        }
    }

    #[test]
    fn database_url_display_hides_the_password() {
        let url = DatabaseUrl::new("postgres://app:s3cret@db:5432/tasks");
        assert_eq!(url.to_string(), "postgres://app:***@db:5432/tasks");
        assert!(!format!("{url:?}").contains("s3cret"));
    }

    #[test]
    fn durations_accept_common_units() {
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("3"), Some(Duration::from_secs(3)));
        assert_eq!(parse_duration("fast"), None);
        assert_eq!(parse_duration("-1s"), None);
    }

    #[test]
    fn help_lists_every_variable_with_its_default() {
        let help = Settings::help();
        for setting in SETTINGS {
            assert!(
                help.contains(setting.name),
                "{} missing from --help",
                setting.name
            );
        }
        assert!(help.contains("default 0.0.0.0:8080"));
    }
}
