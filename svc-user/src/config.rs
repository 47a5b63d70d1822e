//! svc-user's settings: see xir_common::settings for the layering rules.

use std::path::PathBuf;

use serde::Deserialize;
use xir_common::auth::AuthSettings;
use xir_common::bootstrap::ServiceSettings;
use xir_common::identity::IdentitySettings;
use xir_common::outbox::OutboxSettings;
use xir_common::rate::RateSettings;
use xir_common::settings::{
    self, PostgresSettings, ReadinessSettings, ServerSettings, ServiceUrl, SettingsError,
    TelemetrySettings,
};

/// Compiled defaults; `database.url` has none on purpose (it carries a password).
const DEFAULTS: &str = r#"
[server]
port = 50052
metrics_port = 9102

[database]
max_connections = 10

[timeline_service]
url = "http://127.0.0.1:50054"
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
    /// Where access tokens are checked against (svc-auth's JWKS).
    #[serde(default)]
    pub auth: AuthSettings,
    #[serde(default)]
    pub outbox: OutboxSettings,
    /// Follows per user (each notifies the followed).
    #[serde(default)]
    pub notifying_writes: RateSettings,
    /// Where follow events go (through the outbox).
    pub timeline_service: ServiceUrl,
}

impl ServiceSettings for Settings {
    fn load(config_file: Option<PathBuf>) -> Result<Self, SettingsError> {
        settings::load(DEFAULTS, config_file)
    }

    fn server(&self) -> &ServerSettings {
        &self.server
    }

    fn telemetry(&self) -> &TelemetrySettings {
        &self.telemetry
    }
}

impl Settings {
    /// The compiled defaults with `overrides` (TOML) on top, ignoring files and environment.
    pub fn with_overrides(overrides: &str) -> Result<Self, SettingsError> {
        settings::load_with(DEFAULTS, overrides)
    }
}
