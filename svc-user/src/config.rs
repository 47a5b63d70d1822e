//! svc-user's settings: see xir_common::settings for the layering rules.

use serde::Deserialize;
use xir_common::auth::AuthSettings;
use xir_common::identity::IdentitySettings;
use xir_common::outbox::OutboxSettings;
use xir_common::rate::RateSettings;
use xir_common::settings::{
    PostgresSettings, ReadinessSettings, ServerSettings, ServiceUrl, TelemetrySettings,
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

xir_common::service_settings!(Settings, DEFAULTS);
