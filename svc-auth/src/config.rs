//! svc-auth's settings: see xir_common::settings for the layering rules.

use serde::Deserialize;
use xir_common::identity::IdentitySettings;
use xir_common::{
    auth::AuthSettings,
    ids::IdSettings,
    outbox::OutboxSettings,
    settings::{
        PostgresSettings, ReadinessSettings, Secret, ServerSettings, ServiceUrl, TelemetrySettings,
    },
};

/// Compiled defaults; `database.url` has none on purpose (it carries a password).
const DEFAULTS: &str = r#"
[server]
port = 50051
metrics_port = 9101

[database]
max_connections = 10

[user_service]
url = "http://127.0.0.1:50052"
"#;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// This service's key and the keys of the services it accepts internal calls from.
    #[serde(default)]
    pub identity: IdentitySettings,
    #[serde(default)]
    pub server: ServerSettings,
    #[serde(default)]
    pub readiness: ReadinessSettings,
    #[serde(default)]
    pub telemetry: TelemetrySettings,
    pub database: PostgresSettings,
    /// `iss` and `aud` of the tokens this service mints (and checks, for ChangePassword).
    #[serde(default)]
    pub auth: AuthSettings,
    #[serde(default)]
    pub tokens: TokenSettings,
    #[serde(default)]
    pub passwords: PasswordSettings,
    #[serde(default)]
    pub throttle: ThrottleSettings,
    #[serde(default)]
    pub ids: IdSettings,
    #[serde(default)]
    pub outbox: OutboxSettings,
    /// Where profiles of new accounts are created (through the outbox).
    pub user_service: ServiceUrl,
}

/// `[tokens]`: lifetimes and signing keys.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TokenSettings {
    pub access_ttl_secs: u64,
    pub refresh_ttl_secs: u64,
    /// The current Ed25519 signing key, PKCS#8 PEM (from a Secret: `XIR_TOKENS__SIGNING_KEY_PEM`).
    /// Required unless `generate_development_key` is on.
    pub signing_key_pem: Option<Secret>,
    /// The previous signing key during a rotation: its public half is still published, so
    /// tokens it signed stay valid until they expire.
    pub previous_signing_key_pem: Option<Secret>,
    /// DEVELOPMENT ONLY: without `signing_key_pem`, generate a throwaway key at start rather
    /// than refuse to start. Its tokens stop verifying when the process restarts, and replicas
    /// would each have their own. Docker Compose and scripts/dev turn it on.
    pub generate_development_key: bool,
}

impl Default for TokenSettings {
    fn default() -> Self {
        Self {
            access_ttl_secs: 15 * 60,
            refresh_ttl_secs: 30 * 24 * 60 * 60,
            signing_key_pem: None,
            previous_signing_key_pem: None,
            generate_development_key: false,
        }
    }
}

/// `[passwords]`: argon2id cost. Stored hashes with weaker parameters are upgraded at login.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PasswordSettings {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for PasswordSettings {
    fn default() -> Self {
        // OWASP's minimum for argon2id: 19 MiB, 2 iterations, 1 lane.
        Self {
            memory_kib: 19 * 1024,
            iterations: 2,
            parallelism: 1,
        }
    }
}

/// `[throttle]`: failed logins allowed per window before ResourceExhausted.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ThrottleSettings {
    pub window_secs: u64,
    /// Per account from one client address (an attacker elsewhere cannot lock the owner out).
    pub max_failures_per_account: i64,
    /// Higher than per account: many users may share one address (NAT, offices).
    pub max_failures_per_address: i64,
    /// Failures at one account from anywhere before attempts slow down.
    pub slow_down_after: i64,
    /// The longest gap a slowed-down account's attempts must leave, in seconds.
    pub max_slow_down_secs: u64,
}

impl Default for ThrottleSettings {
    fn default() -> Self {
        Self {
            window_secs: 15 * 60,
            max_failures_per_account: 5,
            max_failures_per_address: 50,
            slow_down_after: 10,
            max_slow_down_secs: 60,
        }
    }
}

xir_common::service_settings!(Settings, DEFAULTS);
