//! What a test sees of the stack's Redis: svc-timeline's home timelines and svc-tweet's cache.

use xir_common::testing;

use crate::Stack;

impl Stack {
    /// svc-timeline's `redis.key_prefix` in this stack (see [`crate::redis_toml`]).
    fn timeline_key_prefix(&self) -> String {
        format!("{}:", self.timeline_database_name)
    }

    /// The Redis key of `owner`'s home timeline in this stack.
    pub fn timeline_key(&self, owner: i64) -> String {
        svc_timeline::homes::timeline_key(&self.timeline_key_prefix(), owner)
    }

    /// A connection to the Redis that holds this stack's home timelines.
    pub async fn redis(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(testing::redis_url())
            .expect("a Redis URL")
            .get_multiplexed_async_connection()
            .await
            .expect("the test Redis answers")
    }

    /// Makes `owners`' home timelines exist, empty, as an active user's do: svc-timeline
    /// builds one when its owner first reads it or follows someone, and seeded accounts never
    /// did either. Fan-out writes only to timelines that exist.
    pub async fn create_timelines(&self, owners: &[i64]) {
        let mut pipe = redis::pipe();
        for &owner in owners {
            let prefix = self.timeline_key_prefix();
            pipe.zadd(self.timeline_key(owner), svc_timeline::homes::SENTINEL, 0)
                .ignore();
            pipe.set(svc_timeline::homes::built_key(&prefix, owner), 1)
                .ignore();
        }
        pipe.query_async::<()>(&mut self.redis().await)
            .await
            .expect("create timelines");
    }

    /// Every member of `owner`'s home timeline in Redis, oldest first.
    pub async fn timeline_members(&self, owner: i64) -> Vec<String> {
        redis::cmd("ZRANGE")
            .arg(self.timeline_key(owner))
            .arg(0)
            .arg(-1)
            .query_async(&mut self.redis().await)
            .await
            .expect("read a timeline")
    }

    /// svc-tweet's cache of tweets by id in this stack (the same Redis keys), for a test that
    /// writes around the service as a crashed replica or the sweeper would.
    pub fn tweet_cache(&self) -> svc_tweet::cache::TweetCache {
        svc_tweet::cache::TweetCache::new(
            Some(&xir_common::cache::RedisSettings {
                url: testing::redis_url(),
                key_prefix: format!("{}:", self.tweet_database_name),
            }),
            svc_tweet::cache::TweetCacheSettings::default(),
        )
        .expect("the test Redis URL")
    }

    /// The tweets of `owner`'s home timeline in Redis, oldest first (a repost as its tweet).
    pub async fn timeline_tweet_ids(&self, owner: i64) -> Vec<i64> {
        self.timeline_members(owner)
            .await
            .iter()
            .filter_map(|member| svc_timeline::fanout::Entry::from_member(member))
            .map(|entry| entry.tweet_id)
            .collect()
    }

    /// How many entries `owner`'s home timeline holds in Redis.
    pub async fn timeline_len(&self, owner: i64) -> u64 {
        // Every real entry: the sentinel (item 0) sorts below the bounds of a whole page.
        let (upper, lower) = svc_timeline::homes::lex_bounds(0, 0);
        redis::cmd("ZLEXCOUNT")
            .arg(self.timeline_key(owner))
            .arg(lower)
            .arg(upper)
            .query_async(&mut self.redis().await)
            .await
            .expect("count timeline entries")
    }
}
