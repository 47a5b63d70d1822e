//! Redis, as the services that keep caches in it reach it (svc-timeline's home timelines,
//! svc-tweet's tweets by id): connected on first use and reconnected by redis-rs's
//! `ConnectionManager`, so a service starts while Redis is down, and every key under one
//! prefix, so that several deployments (or test runs) can share a server.

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use serde::Deserialize;
use tokio::sync::OnceCell;

/// `[redis]`. `url` has no default (it may carry a password):
/// `XIR_REDIS__URL=redis://127.0.0.1:6379/`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisSettings {
    pub url: String,
    /// Put before every key.
    #[serde(default = "default_key_prefix")]
    pub key_prefix: String,
}

/// `redis.key_prefix` unless set.
pub const DEFAULT_KEY_PREFIX: &str = "xir:";

fn default_key_prefix() -> String {
    DEFAULT_KEY_PREFIX.into()
}

pub struct Redis {
    client: redis::Client,
    config: ConnectionManagerConfig,
    connection: OnceCell<ConnectionManager>,
    prefix: String,
}

impl Redis {
    /// Checks the URL; connects on first use, as `config` says (retries and timeouts).
    pub fn new(
        settings: &RedisSettings,
        config: ConnectionManagerConfig,
    ) -> Result<Self, redis::RedisError> {
        Ok(Self {
            client: redis::Client::open(settings.url.as_str())?,
            config,
            connection: OnceCell::new(),
            prefix: settings.key_prefix.clone(),
        })
    }

    /// The shared, multiplexed connection (cheap to clone, one per process).
    pub async fn connection(&self) -> Result<ConnectionManager, redis::RedisError> {
        let manager = self
            .connection
            .get_or_try_init(|| {
                self.client
                    .get_connection_manager_with_config(self.config.clone())
            })
            .await?;
        Ok(manager.clone())
    }

    /// The key prefix (`redis.key_prefix`).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Answers once Redis does.
    pub async fn ping(&self) -> Result<(), redis::RedisError> {
        let mut connection = self.connection().await?;
        redis::cmd("PING").query_async(&mut connection).await
    }
}
