//! Layered settings: compiled defaults, then an optional TOML file, then `XIR_` environment
//! variables (`__` separates nesting levels: `XIR_DATABASE__URL` sets `database.url`).
//!
//! Every settings struct denies unknown fields, so a misspelt key fails at start, naming the
//! key, instead of being silently ignored.

use std::{
    fmt,
    net::{IpAddr, SocketAddr},
    path::PathBuf,
    time::Duration,
};

use figment::{
    Figment,
    providers::{Env, Format, Toml},
};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

/// The environment variable naming the optional TOML file (like `--config`).
pub const CONFIG_ENV: &str = "XIR_CONFIG";
const ENV_PREFIX: &str = "XIR_";

/// Why settings could not be loaded; the message names the key and where its value came from.
#[derive(Debug, thiserror::Error)]
#[error("invalid settings: {0}")]
pub struct SettingsError(String);

impl From<figment::Error> for SettingsError {
    fn from(error: figment::Error) -> Self {
        let lines: Vec<String> = error.into_iter().map(|e| describe(&e)).collect();
        SettingsError(lines.join("; "))
    }
}

fn describe(error: &figment::Error) -> String {
    let key = error.path.join(".");
    // Where the bad value came from; a missing value came from nowhere.
    let source = match (&error.kind, &error.metadata) {
        (figment::error::Kind::MissingField(_), _) | (_, None) => String::new(),
        (_, Some(m)) => match &m.source {
            Some(source) => format!(" (from {} {source})", m.name),
            None => format!(" (from {})", m.name),
        },
    };
    if key.is_empty() {
        format!("{}{source}", error.kind)
    } else {
        format!("key `{key}`: {}{source}", error.kind)
    }
}

/// Loads `T` from the layers: `defaults` (a TOML document compiled into the binary), the file
/// given by `config_file` (or by `XIR_CONFIG`), then `XIR_...` environment variables.
pub fn load<T: DeserializeOwned>(
    defaults: &str,
    config_file: Option<PathBuf>,
) -> Result<T, SettingsError> {
    let mut figment = Figment::new().merge(Toml::string(defaults));
    let file = config_file.or_else(|| std::env::var_os(CONFIG_ENV).map(PathBuf::from));
    if let Some(path) = file {
        if !path.is_file() {
            return Err(SettingsError(format!(
                "config file {} does not exist",
                path.display()
            )));
        }
        figment = figment.merge(Toml::file_exact(path));
    }
    figment = figment.merge(service_env());
    Ok(figment.extract()?)
}

/// `T` from the compiled `defaults` with `overrides` (a TOML document) on top, and nothing from
/// files or the environment: for tests that build a service's settings in place.
pub fn load_with<T: DeserializeOwned>(defaults: &str, overrides: &str) -> Result<T, SettingsError> {
    Ok(Figment::new()
        .merge(Toml::string(defaults))
        .merge(Toml::string(overrides))
        .extract()?)
}

/// `XIR_*` variables, except `XIR_CONFIG` (the file's path, not a key) and the scripts' own:
/// `XIR_TEST_*` (the test harness's tools and database URLs), `XIR_DEV_*` (scripts/dev's
/// servers and addresses) and `XIR_TOOLS_*` (where built tools are cached). A service started
/// from a shell that has those set must not refuse them as unknown keys.
fn service_env() -> Env {
    Env::prefixed(ENV_PREFIX).split("__").filter(|key| {
        let key = key.as_str().to_ascii_lowercase();
        key != "config"
            && !["test_", "dev_", "tools_"]
                .iter()
                .any(|p| key.starts_with(p))
    })
}

/// The path given as `--config PATH` or `--config=PATH` on the command line, if any.
pub fn config_path_from_args() -> Option<PathBuf> {
    let mut args = std::env::args_os().skip(1);
    while let Some(arg) = args.next() {
        let arg = arg.to_string_lossy().into_owned();
        if arg == "--config" {
            return args.next().map(PathBuf::from);
        }
        if let Some(path) = arg.strip_prefix("--config=") {
            return Some(PathBuf::from(path));
        }
    }
    None
}

/// A value that must not appear in logs (database URLs with passwords, keys).
#[derive(Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// `[server]`: the gRPC listener, the metrics listener, limits and shutdown.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSettings {
    /// Address to bind both listeners to.
    pub host: IpAddr,
    /// gRPC port; 0 picks a free one (tests).
    pub port: u16,
    /// Prometheus `/metrics` port; 0 picks a free one (tests).
    pub metrics_port: u16,
    /// Upper bound for one call, in milliseconds (a shorter `grpc-timeout` from the client wins).
    pub request_timeout_ms: u64,
    /// Calls served at once across all connections; more wait for a slot.
    pub concurrency_limit: usize,
    /// After SIGTERM, how long calls are still served with readiness NOT_SERVING before the
    /// listener closes: long enough for the edge's health checks (and the cluster's endpoint
    /// lists) to stop sending new calls here. 0 (the default, for a terminal) closes at once.
    pub drain_delay_ms: u64,
    /// After the listener closes, how long in-flight calls may take before the process exits
    /// anyway.
    pub shutdown_grace_ms: u64,
    /// CPU-heavy calls (password hashing, tweet text parsing) running at once; 0: one per core.
    pub cpu_heavy_running: usize,
    /// CPU-heavy calls waiting for a turn; beyond that, RESOURCE_EXHAUSTED at once.
    pub cpu_heavy_queued: usize,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            host: IpAddr::from([0, 0, 0, 0]),
            port: 50051,
            metrics_port: 9100,
            request_timeout_ms: 10_000,
            concurrency_limit: 512,
            drain_delay_ms: 0,
            shutdown_grace_ms: 20_000,
            cpu_heavy_running: 0,
            cpu_heavy_queued: 32,
        }
    }
}

impl ServerSettings {
    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }

    pub fn drain_delay(&self) -> Duration {
        Duration::from_millis(self.drain_delay_ms)
    }

    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_millis(self.shutdown_grace_ms)
    }
}

/// `[readiness]`: how dependencies are checked for the `readiness` health status.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReadinessSettings {
    /// Between two checks while dependencies answer, in milliseconds.
    pub check_interval_ms: u64,
    /// One check gives up after this, in milliseconds.
    pub check_timeout_ms: u64,
    /// First retry delay after a failed check; doubles up to `retry_max_ms`.
    pub retry_initial_ms: u64,
    pub retry_max_ms: u64,
}

impl Default for ReadinessSettings {
    fn default() -> Self {
        Self {
            check_interval_ms: 5_000,
            check_timeout_ms: 3_000,
            retry_initial_ms: 100,
            retry_max_ms: 5_000,
        }
    }
}

/// `[telemetry]`: logs and traces.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct TelemetrySettings {
    /// An `EnvFilter` directive such as `info` or `info,svc_user=debug` (`RUST_LOG` wins).
    pub log_level: String,
    /// OTLP/gRPC collector, e.g. `http://jaeger:4317`; traces are not exported when absent.
    pub otlp_endpoint: Option<String>,
    /// Fraction of new traces sampled (a sampled parent is always followed).
    pub sample_ratio: f64,
}

impl Default for TelemetrySettings {
    fn default() -> Self {
        Self {
            log_level: "info".to_owned(),
            otlp_endpoint: None,
            sample_ratio: 1.0,
        }
    }
}

/// `[database]` of the PostgreSQL services. `url` has no default: it carries a password and
/// comes from the environment (`XIR_DATABASE__URL`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PostgresSettings {
    pub url: Secret,
    #[serde(default = "defaults::max_connections")]
    pub max_connections: u32,
    #[serde(default)]
    pub min_connections: u32,
    /// How long a query waits for a pooled connection, in milliseconds.
    #[serde(default = "defaults::acquire_timeout_ms")]
    pub acquire_timeout_ms: u64,
}

/// `[database]` of the MongoDB services. `url` has no default (it may carry a password).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MongoSettings {
    pub url: Secret,
    /// The database holding this service's collections.
    pub name: String,
    #[serde(default = "defaults::max_connections")]
    pub max_pool_size: u32,
    /// How long an operation waits for a reachable server, in milliseconds.
    #[serde(default = "defaults::acquire_timeout_ms")]
    pub server_selection_timeout_ms: u64,
}

mod defaults {
    pub fn max_connections() -> u32 {
        10
    }
    pub fn acquire_timeout_ms() -> u64 {
        3_000
    }
}

/// `[outbox]`: how a service's outbox relay delivers (PostgreSQL and MongoDB outboxes alike).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutboxSettings {
    /// Pause between polls when nothing is due, in milliseconds.
    pub poll_interval_ms: u64,
    /// Events claimed at once.
    pub batch_size: i64,
    /// How long a claim lasts before another relay may take the event, in milliseconds.
    pub lease_ms: u64,
    /// First retry delay after a failed delivery; doubles per attempt up to `retry_max_ms`.
    pub retry_initial_ms: u64,
    pub retry_max_ms: u64,
    /// How long a request waits for its event's immediate delivery ([`crate::outbox`]'s
    /// `deliver_now`, e.g. a new account's profile) before leaving it to the relay.
    pub deliver_now_ms: u64,
}

impl OutboxSettings {
    /// The delay before attempt `attempts + 1`: exponential, capped, with up to 20% jitter so
    /// replicas retrying one receiver do not move in lockstep.
    pub fn backoff(&self, attempts: i32) -> Duration {
        let exponent = attempts.saturating_sub(1).clamp(0, 20) as u32;
        let delay = self
            .retry_initial_ms
            .saturating_mul(1u64 << exponent)
            .min(self.retry_max_ms);
        let jitter = delay / 5 * u64::from(rand::random::<u8>()) / 255;
        Duration::from_millis(delay + jitter)
    }
}

impl Default for OutboxSettings {
    fn default() -> Self {
        Self {
            poll_interval_ms: 200,
            batch_size: 100,
            lease_ms: 30_000,
            retry_initial_ms: 200,
            retry_max_ms: 30_000,
            deliver_now_ms: 1_000,
        }
    }
}

/// `[<peer>_service]`: where another service answers (`http://host:port`), and how its
/// replicas are found. Calls are balanced across every address the host resolves to (a
/// headless Kubernetes Service has one per ready pod): see [`crate::balance`].
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceUrl {
    pub url: String,
    /// How often the host is resolved again, so replicas that come and go get calls or stop
    /// getting them.
    #[serde(default = "ServiceUrl::default_resolve_every_ms")]
    pub resolve_every_ms: u64,
    /// A DNS server (`ip:port`) to resolve the host with instead of the system's resolver
    /// (`/etc/resolv.conf`, `/etc/hosts`), as Envoy's `--dns-resolver` or nginx's `resolver`.
    #[serde(default)]
    pub nameserver: Option<SocketAddr>,
}

impl ServiceUrl {
    /// `url`, resolved by the system every 5 s.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            resolve_every_ms: Self::default_resolve_every_ms(),
            nameserver: None,
        }
    }

    fn default_resolve_every_ms() -> u64 {
        5_000
    }

    /// How often the host is resolved again (at least every 100 ms apart).
    pub fn resolve_every(&self) -> Duration {
        Duration::from_millis(self.resolve_every_ms.max(100))
    }
}
