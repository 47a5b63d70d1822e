//! Tweets by id in Redis, in front of MongoDB for the hottest read there is: the tweets of
//! every page of every home timeline (BatchGetTweets), as DeathStarBench keeps posts in
//! memcached before MongoDB. MongoDB stays the store of record. The cache is optional
//! (without `[redis]` every read goes to MongoDB) and fails open: with Redis unreachable,
//! reads go to MongoDB and `tweet_cache_lookups_total{outcome="error"}` counts them.
//!
//! An entry is the live tweet's document (its outbox left out) as BSON, kept
//! `tweet_cache.ttl_secs`; a new tweet is put in as it is written, since its author's
//! followers are about to read it. A write that changes a tweet (a count, a deletion)
//! replaces its entry with an empty *hold* for `tweet_cache.hold_ms`, and readers fill only
//! absent entries (SET NX): a reader that fetched the old document just before the write
//! cannot put it back after it, unless it stalls for longer than the hold. While the hold
//! lasts, that tweet is read from MongoDB.

use std::{collections::HashMap, time::Duration};

use mongodb::bson;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use serde::Deserialize;
use xir_common::cache::{Redis, RedisSettings};

use crate::store::TweetDoc;

/// Tweets looked up in the cache, by outcome: `hit`, `miss`, `error` (Redis unreachable).
pub const LOOKUPS_TOTAL: &str = "tweet_cache_lookups_total";

/// `[tweet_cache]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TweetCacheSettings {
    /// How long an entry lives, in seconds.
    pub ttl_secs: u64,
    /// How long a changed tweet's entry stays empty, in milliseconds (see the module docs).
    pub hold_ms: u64,
}

impl Default for TweetCacheSettings {
    fn default() -> Self {
        Self {
            ttl_secs: 300,
            hold_ms: 5_000,
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

    fn key(prefix: &str, id: i64) -> String {
        format!("{prefix}tweet:{id}")
    }

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

    /// The cached tweets among `ids` (holds and misses left out).
    pub async fn get(&self, ids: &[i64]) -> HashMap<i64, TweetDoc> {
        if self.redis.is_none() || ids.is_empty() {
            return HashMap::new();
        }
        let Some((mut connection, prefix)) = self.connection().await else {
            count(ids.len(), "error");
            return HashMap::new();
        };
        let keys: Vec<String> = ids.iter().map(|&id| Self::key(prefix, id)).collect();
        let values: Vec<Option<Vec<u8>>> = match redis::cmd("MGET")
            .arg(&keys)
            .query_async(&mut connection)
            .await
        {
            Ok(values) => values,
            Err(error) => {
                tracing::debug!(
                    error = &error as &dyn std::error::Error,
                    "tweet cache read failed"
                );
                count(ids.len(), "error");
                return HashMap::new();
            }
        };
        let found: HashMap<i64, TweetDoc> = ids
            .iter()
            .zip(values)
            .filter_map(|(&id, value)| {
                let tweet: TweetDoc = bson::from_slice(&value.filter(|v| !v.is_empty())?).ok()?;
                (tweet.id == id).then_some((id, tweet))
            })
            .collect();
        count(found.len(), "hit");
        count(ids.len() - found.len(), "miss");
        found
    }

    /// Puts `tweets` (live ones, as read from MongoDB) in where nothing, not even a hold, is.
    pub async fn fill(&self, tweets: &[TweetDoc]) {
        if tweets.is_empty() {
            return;
        }
        let Some((mut connection, prefix)) = self.connection().await else {
            return;
        };
        let mut pipe = redis::pipe();
        for tweet in tweets {
            let Ok(bytes) = bson::to_vec(&cacheable(tweet)) else {
                continue;
            };
            pipe.cmd("SET")
                .arg(Self::key(prefix, tweet.id))
                .arg(bytes)
                .arg("EX")
                .arg(self.settings.ttl_secs.max(1))
                .arg("NX")
                .ignore();
        }
        if let Err(error) = pipe.query_async::<()>(&mut connection).await {
            tracing::debug!(
                error = &error as &dyn std::error::Error,
                "tweet cache fill failed"
            );
        }
    }

    /// Marks tweet `id` changed: its entry becomes a hold (see the module docs).
    pub async fn hold(&self, id: i64) {
        let Some((mut connection, prefix)) = self.connection().await else {
            if self.redis.is_some() {
                tracing::warn!(
                    tweet_id = id,
                    "tweet cache unreachable: its entry may stay stale until it expires"
                );
            }
            return;
        };
        let held = redis::cmd("SET")
            .arg(Self::key(prefix, id))
            .arg("")
            .arg("PX")
            .arg(self.settings.hold_ms.max(1))
            .query_async::<()>(&mut connection)
            .await;
        if let Err(error) = held {
            tracing::warn!(
                tweet_id = id,
                error = &error as &dyn std::error::Error,
                "tweet cache not updated: its entry may stay stale until it expires"
            );
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

/// The document as cached: without its outbox (events are the relay's business, and large).
fn cacheable(tweet: &TweetDoc) -> TweetDoc {
    TweetDoc {
        outbox: bson::Document::new(),
        outbox_count: 0,
        ..tweet.clone()
    }
}

fn count(tweets: usize, outcome: &'static str) {
    if tweets > 0 {
        metrics::counter!(LOOKUPS_TOTAL, "outcome" => outcome).increment(tweets as u64);
    }
}
