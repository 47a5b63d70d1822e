//! svc-tweet's settings: see xir_common::settings for the layering rules.

use crate::cache::TweetCacheSettings;
use serde::Deserialize;
use xir_common::auth::AuthSettings;
use xir_common::cache::RedisSettings;
use xir_common::identity::IdentitySettings;
use xir_common::ids::IdSettings;
use xir_common::rate::RateSettings;
use xir_common::settings::OutboxSettings;
use xir_common::settings::{
    MongoSettings, ReadinessSettings, ServerSettings, ServiceUrl, TelemetrySettings,
};

/// Compiled defaults; `database.url` has none on purpose (it may carry a password).
const DEFAULTS: &str = r#"
[server]
port = 50053
metrics_port = 9103

[database]
name = "xir_tweet"

[user_service]
url = "http://127.0.0.1:50052"

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
    pub database: MongoSettings,
    /// The cache of tweets by id in front of `database` (`[redis]`; none when unset).
    #[serde(default)]
    pub redis: Option<RedisSettings>,
    #[serde(default)]
    pub tweet_cache: TweetCacheSettings,
    /// Where access tokens are checked against (svc-auth's JWKS).
    #[serde(default)]
    pub auth: AuthSettings,
    #[serde(default)]
    pub ids: IdSettings,
    /// The relay of the events pending in tweet documents.
    #[serde(default)]
    pub outbox: OutboxSettings,
    /// Likes, reposts and tweets that mention somebody, per user (each notifies somebody).
    #[serde(default)]
    pub notifying_writes: RateSettings,
    /// Mentions are resolved here; tweet counts are reported here.
    pub user_service: ServiceUrl,
    /// Timeline and notification events go here.
    pub timeline_service: ServiceUrl,
}

xir_common::service_settings!(Settings, DEFAULTS);
