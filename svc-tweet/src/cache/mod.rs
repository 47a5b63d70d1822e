//! svc-tweet's cache in Redis, in front of MongoDB for its two hot reads, as DeathStarBench
//! keeps posts in memcached and user timelines in Redis before MongoDB:
//!
//! - tweets by id ([`tweets`]): every page of every home timeline is hydrated from them
//!   (BatchGetTweets);
//! - each author's recent items, tweets and reposts ([`items`]): user timelines
//!   (ListUserTweets) and svc-timeline's read-time merge of celebrities (ListRecentByAuthors);
//! - what each viewer did to each tweet ([`viewers`]), the rest of hydrating a page.
//!
//! MongoDB stays the store of record. The cache is optional (without `[redis]` every read goes
//! to MongoDB) and fails open: with Redis unreachable, reads go to MongoDB and
//! `tweet_cache_lookups_total{outcome="error"}` counts them. Every write that would make an
//! entry wrong retires it after writing MongoDB, in a way a concurrent reader that fetched
//! the old data cannot undo (each submodule says how).

mod items;
mod tweets;
mod viewers;

use std::{collections::HashMap, time::Duration};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use serde::Deserialize;
use xir_common::cache::{Redis, RedisSettings};

pub use items::{PageKey, PageLookup, PageSlot};
pub use viewers::Reacted;

/// Lookups in the cache, by `kind` (`tweet`: per tweet, `items`: per author page, `viewer`:
/// per viewer and tweet) and `outcome` (`hit`, `miss`, `error`: Redis unreachable).
pub const LOOKUPS_TOTAL: &str = "tweet_cache_lookups_total";

/// `[tweet_cache]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TweetCacheSettings {
    /// How long a cached tweet (or a viewer's state of one) lives, in seconds.
    pub ttl_secs: u64,
    /// How long a changed tweet's (or viewer state's) entry stays empty, in milliseconds (see
    /// [`tweets`]).
    pub hold_ms: u64,
    /// How long a cached page of an author's items lives, in seconds.
    pub items_ttl_secs: u64,
}

impl Default for TweetCacheSettings {
    fn default() -> Self {
        Self {
            ttl_secs: 300,
            hold_ms: 5_000,
            items_ttl_secs: 300,
        }
    }
}

#[derive(Default)]
pub struct TweetCache {
    /// `None`: no cache, every read goes to MongoDB.
    redis: Option<Redis>,
    settings: TweetCacheSettings,
}

impl TweetCache {
    pub fn new(
        redis: Option<&RedisSettings>,
        settings: TweetCacheSettings,
    ) -> Result<Self, redis::RedisError> {
        Ok(Self {
            redis: redis
                .map(|settings| Redis::new(settings, fail_fast()))
                .transpose()?,
            settings,
        })
    }

    fn is_on(&self) -> bool {
        self.redis.is_some()
    }

    /// The connection and the key prefix; `None` without a cache or while Redis is down.
    async fn connection(&self) -> Option<(ConnectionManager, &str)> {
        let redis = self.redis.as_ref()?;
        match redis.connection().await {
            Ok(connection) => Some((connection, redis.prefix())),
            Err(error) => {
                tracing::debug!(
                    error = &error as &dyn std::error::Error,
                    "tweet cache unreachable"
                );
                None
            }
        }
    }
}

impl TweetCache {
    /// The cached values of `ids` (each at `key(prefix, id)`), decoded: holds, misses and
    /// values `decode` refuses are left out. Counted as `kind` lookups.
    async fn get_many<T>(
        &self,
        kind: &'static str,
        ids: &[i64],
        key: impl Fn(&str, i64) -> String,
        decode: impl Fn(i64, &[u8]) -> Option<T>,
    ) -> HashMap<i64, T> {
        if !self.is_on() || ids.is_empty() {
            return HashMap::new();
        }
        let Some((mut connection, prefix)) = self.connection().await else {
            count(kind, ids.len(), "error");
            return HashMap::new();
        };
        let keys: Vec<String> = ids.iter().map(|&id| key(prefix, id)).collect();
        let values: Vec<Option<Vec<u8>>> = match redis::cmd("MGET")
            .arg(&keys)
            .query_async(&mut connection)
            .await
        {
            Ok(values) => values,
            Err(error) => {
                read_failed(kind, ids.len(), &error);
                return HashMap::new();
            }
        };
        let found: HashMap<i64, T> = ids
            .iter()
            .zip(values)
            .filter_map(|(&id, value)| {
                let value = value.filter(|v| !v.is_empty())?;
                Some((id, decode(id, &value)?))
            })
            .collect();
        count(kind, found.len(), "hit");
        count(kind, ids.len() - found.len(), "miss");
        found
    }

    /// Stores each of `entries` (an id and its bytes) under `key` for `tweet_cache.ttl_secs`
    /// where nothing, not even a hold, is yet (SET NX): what `get_many` reads.
    async fn fill_many(&self, entries: Vec<(i64, Vec<u8>)>, key: impl Fn(&str, i64) -> String) {
        if entries.is_empty() {
            return;
        }
        let Some((mut connection, prefix)) = self.connection().await else {
            return;
        };
        let mut pipe = redis::pipe();
        for (id, bytes) in entries {
            pipe.cmd("SET")
                .arg(key(prefix, id))
                .arg(bytes)
                .arg("EX")
                .arg(self.settings.ttl_secs.max(1))
                .arg("NX")
                .ignore();
        }
        if let Err(error) = pipe.query_async::<()>(&mut connection).await {
            fill_failed(&error);
        }
    }

    /// Replaces the entry at `key(prefix)` with an empty hold for `tweet_cache.hold_ms`:
    /// `what` changed (MongoDB has it), and no fill may put the old value back meanwhile.
    async fn hold_entry(&self, key: impl FnOnce(&str) -> String, what: &str) {
        let Some((mut connection, prefix)) = self.connection().await else {
            if self.is_on() {
                tracing::warn!(
                    "tweet cache unreachable: the old {what} may be served until it expires"
                );
            }
            return;
        };
        let held = redis::cmd("SET")
            .arg(key(prefix))
            .arg("")
            .arg("PX")
            .arg(self.settings.hold_ms.max(1))
            .query_async::<()>(&mut connection)
            .await;
        if let Err(error) = held {
            write_failed(&format!("holding the changed {what}"), &error);
        }
    }
}

/// A cache that is down must not slow reads down: one connection attempt per call, and
/// short timeouts (redis-rs's defaults retry a connection for about six seconds).
fn fail_fast() -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_number_of_retries(0)
        .set_connection_timeout(Some(Duration::from_millis(250)))
        .set_response_timeout(Some(Duration::from_millis(500)))
}

/// A lookup that Redis failed: counted, and answered by MongoDB instead.
fn read_failed(kind: &'static str, lookups: usize, error: &redis::RedisError) {
    tracing::debug!(
        error = error as &dyn std::error::Error,
        "tweet cache read failed"
    );
    count(kind, lookups, "error");
}

/// A fill that Redis failed: the next reader reads MongoDB again, nothing worse.
fn fill_failed(error: &redis::RedisError) {
    tracing::debug!(
        error = error as &dyn std::error::Error,
        "tweet cache fill failed"
    );
}

fn count(kind: &'static str, lookups: usize, outcome: &'static str) {
    if lookups > 0 {
        metrics::counter!(LOOKUPS_TOTAL, "kind" => kind, "outcome" => outcome)
            .increment(lookups as u64);
    }
}

/// Logs a failed cache write: after a change, its old entry may be served until it expires.
fn write_failed(what: &str, error: &redis::RedisError) {
    tracing::warn!(
        error = error as &dyn std::error::Error,
        "tweet cache: {what} failed; an old entry may be served until it expires"
    );
}
