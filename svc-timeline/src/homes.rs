//! Home timelines in Redis: one sorted set per user, as Twitter's timeline service, Mastodon's
//! home feeds and DeathStarBench keep them. It is a cache: a timeline that is missing (never
//! read, evicted, or Redis restarted) is rebuilt from the follow graph and recent tweets on its
//! first read (see `home`).
//!
//! Every member has score 0 and reads `<item id, 20 digits>:<tweet>:<author>:<reposter>`, so
//! the set orders by item id exactly (lexicographic order of fixed-width digits; a float score
//! would round snowflake ids), a page is one `ZRANGE … BYLEX REV LIMIT`, and inserting the same
//! entry twice is a no-op. A timeline is created with a sentinel member (item id 0), so fan-out,
//! which writes only to timelines that exist (a missing one gets everything from its rebuild),
//! writes to it from then on, and trims each to its cap by rank in the same round trip. A
//! second key, `…:built`, is set once a rebuild has put everything in: a timeline whose rebuild
//! failed or was cut short (a dependency down, the process killed) reads as missing and is
//! rebuilt again, never served half-built.

use redis::{
    Script,
    aio::{ConnectionManager, ConnectionManagerConfig},
};
use xir_common::{
    cache::{Redis, RedisSettings},
    errors::During,
};

use crate::{error::Error, fanout::Entry, home::Item};

/// The member that makes a timeline exist; it sorts below every real entry.
pub const SENTINEL: &str = "00000000000000000000:0:0:0";

/// The key of `owner`'s timeline under `prefix` (the `redis.key_prefix` setting).
pub fn timeline_key(prefix: &str, owner: i64) -> String {
    format!("{prefix}home:{owner}")
}

/// The key set once `owner`'s timeline is complete (see the module's comment).
pub fn built_key(prefix: &str, owner: i64) -> String {
    format!("{}:built", timeline_key(prefix, owner))
}

/// Timelines written per pipelined round trip.
const WRITES_PER_ROUND_TRIP: usize = 500;

/// Adds ARGV[1] to timeline KEYS[1] if the timeline exists, then trims it to the newest
/// ARGV[2] members. Answers 1 when the entry is new.
const INSERT_IF_PRESENT: &str = r"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local added = redis.call('ZADD', KEYS[1], 0, ARGV[1])
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -(tonumber(ARGV[2]) + 1))
return added
";

impl Entry {
    /// The entry as a member of a timeline's sorted set.
    pub fn member(&self) -> String {
        format!(
            "{:020}:{}:{}:{}",
            self.item_id, self.tweet_id, self.author_id, self.reposted_by
        )
    }

    /// The entry a member holds; `None` for the sentinel or a member not written by us.
    pub fn from_member(member: &str) -> Option<Entry> {
        let mut parts = member.split(':').map(str::parse::<i64>);
        let mut next = || parts.next()?.ok();
        let entry = Entry {
            item_id: next()?,
            tweet_id: next()?,
            author_id: next()?,
            reposted_by: next()?,
        };
        (entry.item_id > 0).then_some(entry)
    }
}

/// The lexicographic bounds of a page: item ids below `max_id` (0: no bound) and above
/// `since_id` (0: no bound), as `ZRANGE … BYLEX REV` takes them (upper bound first).
pub fn lex_bounds(max_id: i64, since_id: i64) -> (String, String) {
    let upper = if max_id > 0 {
        format!("({max_id:020}")
    } else {
        "+".to_owned()
    };
    // Every member of an item above `since_id` is at or above the next id's prefix; the
    // sentinel (item 0) is always below.
    let lower = format!("[{:020}", since_id.max(0) + 1);
    (upper, lower)
}

pub struct HomeTimelines {
    /// Connected on first use, so the service starts while Redis is down and its readiness
    /// says so.
    redis: Redis,
    cap: i64,
    insert_if_present: Script,
}

impl HomeTimelines {
    pub fn new(settings: &RedisSettings, cap: i64) -> Result<Self, redis::RedisError> {
        Ok(Self {
            // redis-rs's retries and timeouts: fan-out waits for Redis rather than failing.
            redis: Redis::new(settings, ConnectionManagerConfig::new())?,
            cap,
            insert_if_present: Script::new(INSERT_IF_PRESENT),
        })
    }

    async fn connection(&self) -> Result<ConnectionManager, Error> {
        Ok(self.redis.connection().await.during("connect to Redis")?)
    }

    fn key(&self, owner: i64) -> String {
        timeline_key(self.redis.prefix(), owner)
    }

    fn built_key(&self, owner: i64) -> String {
        built_key(self.redis.prefix(), owner)
    }

    /// Answers once Redis does (the readiness check).
    pub async fn ping(&self) -> Result<(), Error> {
        Ok(self.redis.ping().await.during("ping Redis")?)
    }

    /// Writes `entry` into the timelines of `owners` that exist, each trimmed to the cap in
    /// the same script; pipelined, a few hundred owners per round trip. Returns how many
    /// timelines gained the entry.
    #[tracing::instrument(skip_all, fields(owners = owners.len()))]
    pub async fn insert(&self, owners: &[i64], entry: Entry) -> Result<u64, Error> {
        let member = entry.member();
        self.write(owners.iter().map(|&owner| (owner, member.clone())))
            .await
    }

    /// Writes `entries` into `owner`'s timeline if it exists (a follow's backfill, a rebuild),
    /// in one round trip per few hundred.
    #[tracing::instrument(skip_all, fields(entries = entries.len()))]
    pub async fn insert_into(&self, owner: i64, entries: &[Entry]) -> Result<u64, Error> {
        self.write(entries.iter().map(|entry| (owner, entry.member())))
            .await
    }

    /// Runs the insert script for each (owner, member), pipelined.
    async fn write(&self, writes: impl Iterator<Item = (i64, String)>) -> Result<u64, Error> {
        let mut connection = self.connection().await?;
        let writes: Vec<(i64, String)> = writes.collect();
        let mut added = 0;
        for chunk in writes.chunks(WRITES_PER_ROUND_TRIP) {
            let mut pipe = redis::pipe();
            // Loaded in the same round trip, so the EVALSHAs below never meet NOSCRIPT (a
            // restarted Redis has no scripts).
            pipe.load_script(&self.insert_if_present).ignore();
            for (owner, member) in chunk {
                pipe.invoke_script(
                    self.insert_if_present
                        .key(self.key(*owner))
                        .arg(member)
                        .arg(self.cap),
                );
            }
            let results: Vec<u64> = pipe
                .query_async(&mut connection)
                .await
                .during("insert timeline entries")?;
            added += results.iter().sum::<u64>();
        }
        Ok(added)
    }

    /// Removes `entry` from the timelines of `owners`, pipelined.
    #[tracing::instrument(skip_all, fields(owners = owners.len()))]
    pub async fn remove(&self, owners: &[i64], entry: Entry) -> Result<(), Error> {
        let mut connection = self.connection().await?;
        let member = entry.member();
        for chunk in owners.chunks(WRITES_PER_ROUND_TRIP) {
            let mut pipe = redis::pipe();
            for &owner in chunk {
                pipe.zrem(self.key(owner), &member).ignore();
            }
            pipe.query_async::<()>(&mut connection)
                .await
                .during("remove timeline entries")?;
        }
        Ok(())
    }

    /// Removes every entry `author` brought into `owner`'s timeline (an unfollow). A timeline
    /// is at most `cap` members, read whole.
    #[tracing::instrument(skip_all)]
    pub async fn remove_author(&self, owner: i64, author: i64) -> Result<(), Error> {
        let mut connection = self.connection().await?;
        let key = self.key(owner);
        let members: Vec<String> = redis::cmd("ZRANGE")
            .arg(&key)
            .arg(0)
            .arg(-1)
            .query_async(&mut connection)
            .await
            .during("read a timeline")?;
        let gone: Vec<&String> = members
            .iter()
            .filter(|m| Entry::from_member(m).is_some_and(|e| e.author_id == author))
            .collect();
        if !gone.is_empty() {
            redis::cmd("ZREM")
                .arg(&key)
                .arg(gone)
                .query_async::<()>(&mut connection)
                .await
                .during("remove an author's entries")?;
        }
        Ok(())
    }

    /// Whether `owner`'s timeline is in Redis, complete.
    pub async fn exists(&self, owner: i64) -> Result<bool, Error> {
        let mut connection = self.connection().await?;
        let (timeline, built): (bool, bool) = redis::pipe()
            .exists(self.key(owner))
            .exists(self.built_key(owner))
            .query_async(&mut connection)
            .await
            .during("look a timeline up")?;
        Ok(timeline && built)
    }

    /// Records that `owner`'s timeline holds everything it should (a rebuild's last step).
    pub async fn mark_built(&self, owner: i64) -> Result<(), Error> {
        let mut connection = self.connection().await?;
        redis::cmd("SET")
            .arg(self.built_key(owner))
            .arg(1)
            .query_async::<()>(&mut connection)
            .await
            .during("mark a timeline built")?;
        Ok(())
    }

    /// Creates `owner`'s timeline (empty, or as it is), so fan-out starts writing to it. A
    /// rebuild calls this before it reads what to put in, so nothing posted meanwhile is lost.
    pub async fn create(&self, owner: i64) -> Result<(), Error> {
        let mut connection = self.connection().await?;
        redis::cmd("ZADD")
            .arg(self.key(owner))
            .arg(0)
            .arg(SENTINEL)
            .query_async::<()>(&mut connection)
            .await
            .during("create a timeline")?;
        Ok(())
    }

    /// The newest `probe` items of `owner`'s timeline in the range, newest first; `None` when
    /// the timeline does not exist, complete. One round trip.
    #[tracing::instrument(skip_all)]
    pub async fn page(
        &self,
        owner: i64,
        max_id: i64,
        since_id: i64,
        probe: i64,
    ) -> Result<Option<Vec<Item>>, Error> {
        let mut connection = self.connection().await?;
        let key = self.key(owner);
        let (upper, lower) = lex_bounds(max_id, since_id);
        let (exists, built, members): (bool, bool, Vec<String>) = redis::pipe()
            .exists(&key)
            .exists(self.built_key(owner))
            .cmd("ZRANGE")
            .arg(&key)
            .arg(upper)
            .arg(lower)
            .arg("BYLEX")
            .arg("REV")
            .arg("LIMIT")
            .arg(0)
            .arg(probe)
            .query_async(&mut connection)
            .await
            .during("read a timeline page")?;
        Ok((exists && built).then(|| {
            members
                .iter()
                .filter_map(|m| Entry::from_member(m))
                .map(Item::from)
                .collect()
        }))
    }
}

impl From<Entry> for Item {
    fn from(entry: Entry) -> Self {
        Item {
            item_id: entry.item_id,
            tweet_id: entry.tweet_id,
            reposted_by: entry.reposted_by,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(item_id: i64) -> Entry {
        Entry {
            item_id,
            tweet_id: item_id,
            author_id: 7,
            reposted_by: 0,
        }
    }

    #[test]
    fn members_order_as_their_item_ids_and_read_back() {
        // Snowflake ids past 2^53, one apart: a float score would make them equal.
        let (a, b) = (
            entry(1_900_000_000_000_000_001),
            entry(1_900_000_000_000_000_002),
        );
        assert!(a.member() < b.member());
        assert!(entry(99).member() < entry(100).member());
        assert!(SENTINEL < entry(1).member().as_str());
        let repost = Entry {
            item_id: 50,
            tweet_id: 40,
            author_id: 3,
            reposted_by: 3,
        };
        let back = Entry::from_member(&repost.member()).expect("parses");
        assert_eq!(
            (
                back.item_id,
                back.tweet_id,
                back.author_id,
                back.reposted_by
            ),
            (50, 40, 3, 3)
        );
        assert!(Entry::from_member(SENTINEL).is_none());
        assert!(Entry::from_member("junk").is_none());
    }

    #[test]
    fn page_bounds_exclude_max_id_and_since_id() {
        let (upper, lower) = lex_bounds(100, 40);
        // Strictly below item 100 ("(" is exclusive; item 100's members extend the prefix).
        assert_eq!(upper, "(00000000000000000100");
        assert!(entry(100).member().as_str() > &upper[1..]);
        assert!(entry(99).member().as_str() < &upper[1..]);
        // At or above item 41's prefix: item 40 is out, 41 is in.
        assert_eq!(lower, "[00000000000000000041");
        assert!(entry(40).member().as_str() < &lower[1..]);
        assert!(entry(41).member().as_str() >= &lower[1..]);
        assert_eq!(
            lex_bounds(0, 0),
            ("+".to_owned(), "[00000000000000000001".to_owned())
        );
    }
}
