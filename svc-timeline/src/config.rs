//! svc-timeline's settings: see xir_common::settings for the layering rules.

use serde::Deserialize;
use xir_common::auth::AuthSettings;
pub use xir_common::cache::RedisSettings;
use xir_common::identity::IdentitySettings;
use xir_common::ids::IdSettings;
use xir_common::settings::{
    MongoSettings, ReadinessSettings, ServerSettings, ServiceUrl, TelemetrySettings,
};

/// Compiled defaults; `database.url` has none on purpose (it may carry a password).
const DEFAULTS: &str = r#"
[server]
port = 50054
metrics_port = 9104

[database]
name = "xir_timeline"

[user_service]
url = "http://127.0.0.1:50052"

[tweet_service]
url = "http://127.0.0.1:50053"
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
    /// Home timelines (`[redis]`; `url` has no default, it may carry a password).
    pub redis: RedisSettings,
    /// Where access tokens are checked against (svc-auth's JWKS).
    #[serde(default)]
    pub auth: AuthSettings,
    #[serde(default)]
    pub ids: IdSettings,
    #[serde(default)]
    pub fanout: FanoutSettings,
    /// Followers and author profiles come from here.
    pub user_service: ServiceUrl,
    /// Tweets (hydration, backfill, read-time merge) come from here.
    pub tweet_service: ServiceUrl,
}

/// `[fanout]`: the hybrid model's knobs.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FanoutSettings {
    /// Authors with more followers than this are not fanned out on write; their recent tweets
    /// are merged into followers' timelines at read time.
    pub celebrity_followers: i64,
    /// Entries kept per timeline; older ones are trimmed in the write that adds one.
    pub timeline_cap: i64,
    /// Recent tweets copied into a timeline when its owner follows someone.
    pub backfill: i32,
    /// Follower ids asked per streamed batch.
    pub batch_size: i32,
    /// How long ApplyTweetEvent (and ApplyTweetEvents, for each new event) waits for its
    /// fan-out before answering "still applying" (the fan-out goes on; the sender retries and
    /// gets the outcome), in milliseconds.
    pub ack_wait_ms: u64,
}

impl Default for FanoutSettings {
    fn default() -> Self {
        Self {
            celebrity_followers: 10_000,
            timeline_cap: 800,
            backfill: 50,
            batch_size: 1_000,
            ack_wait_ms: 5_000,
        }
    }
}

xir_common::service_settings!(Settings, DEFAULTS);
