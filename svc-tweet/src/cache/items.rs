//! Each author's recent items (tweets and reposts, newest first), by page. An author's pages
//! live under the author's current *version*, a random number at `items:<author>`: a page
//! cached under a version is read only while that version is current, and expires after
//! `tweet_cache.items_ttl_secs` whatever happens.
//!
//! A change of the author's items, once MongoDB has it, gives the author a new version, so a
//! reader that fetched the old items just before the change stores them under the old version,
//! where nobody looks any more:
//!
//! - A new tweet, by far the most common change, carries the *top pages* (no `max_id`, no
//!   `since_id`: user timelines' first pages, svc-timeline's merge of celebrities) over to the
//!   new version with the tweet added, so a busy author's timeline keeps being served from
//!   Redis. The top pages of a version are one hash, read whole by the writer; the new version
//!   and its pages are set in one script, only if the version is still the one read, else the
//!   pages retire as below. A page copied keeps its expiry, so one that a failed write left
//!   wrong is wrong at most until then.
//! - Any other change (a deletion, a repost or its undoing) retires every page.
//!
//! A missing version (never read, evicted, expired) is minted by the first reader, before it
//! reads MongoDB: a writer that finds none has nothing to carry over, and the reader's read
//! comes after the write.
//!
//! A repost of a tweet deleted later stays on its reposter's cached pages; the tweet itself is
//! gone, and every reader hydrates items into tweets, so it is left out there.

use std::{collections::HashMap, sync::LazyLock};

use prost::Message;
use redis::Script;
use xir_proto::tweet::v1::{ListRecentByAuthorsResponse, RecentItem};

use super::{TweetCache, count, fill_failed, read_failed, write_failed};
use crate::store::TweetDoc;

/// How long an unchanged author keeps a version (a new one is minted after).
const VERSION_TTL_SECS: u64 = 86_400;

/// Sets the new version (KEYS[1] to ARGV[2]) and its top pages (KEYS[2], field-value pairs
/// from ARGV[5], expiring in ARGV[4] ms) if the version is still ARGV[1]; 1 if it was.
static CARRY_OVER: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
if #ARGV > 4 then
  redis.call('HSET', KEYS[2], unpack(ARGV, 5))
  redis.call('PEXPIRE', KEYS[2], ARGV[4])
end
return 1
",
    )
});

/// Which page of an author's items.
#[derive(Debug, Clone, Copy)]
pub struct PageKey {
    pub max_id: i64,
    pub since_id: i64,
    pub limit: i64,
    pub exclude_replies: bool,
}

impl PageKey {
    /// A first page: what a new tweet changes, and what is carried over to a new version.
    fn is_top(&self) -> bool {
        self.max_id == 0 && self.since_id == 0
    }

    /// A top page's field in its version's hash.
    fn top_field(&self) -> String {
        format!("{}:{}", self.limit, u8::from(self.exclude_replies))
    }
}

/// Where a page that missed is to be stored, under the version read.
pub struct PageSlot(Slot);

enum Slot {
    /// A field of the version's hash of top pages.
    Top { pages: String, field: String },
    /// A key of its own.
    Other(String),
}

pub enum PageLookup {
    Hit(Vec<RecentItem>),
    Miss(PageSlot),
    /// No cache, or Redis down: read MongoDB and store nothing.
    Unavailable,
}

fn version_key(prefix: &str, author: i64) -> String {
    format!("{prefix}items:{author}")
}

fn top_pages_key(versions: &str, version: &str) -> String {
    format!("{versions}:{version}:top")
}

fn new_version() -> String {
    rand::random::<u64>().to_string()
}

impl TweetCache {
    /// `page` of `author`'s items, or where to store it.
    pub async fn author_page(&self, author: i64, page: PageKey) -> PageLookup {
        if !self.is_on() {
            return PageLookup::Unavailable;
        }
        let Some((mut connection, prefix)) = self.connection().await else {
            count("items", 1, "error");
            return PageLookup::Unavailable;
        };
        match lookup(&mut connection, &version_key(prefix, author), page).await {
            Ok((Some(bytes), _)) => match ListRecentByAuthorsResponse::decode(bytes.as_slice()) {
                Ok(cached) => {
                    count("items", 1, "hit");
                    PageLookup::Hit(cached.items)
                }
                Err(_) => PageLookup::Unavailable, // not ours; MongoDB answers
            },
            Ok((None, slot)) => {
                count("items", 1, "miss");
                PageLookup::Miss(PageSlot(slot))
            }
            Err(error) => {
                read_failed("items", 1, &error);
                PageLookup::Unavailable
            }
        }
    }

    /// Stores a page read from MongoDB after a miss.
    pub async fn put_author_page(&self, slot: PageSlot, items: &[RecentItem]) {
        let Some((mut connection, _)) = self.connection().await else {
            return;
        };
        let bytes = ListRecentByAuthorsResponse {
            items: items.to_vec(),
        }
        .encode_to_vec();
        let ttl = self.settings.items_ttl_secs.max(1);
        let stored = match slot.0 {
            // The hash expires with its first page: the pages of one version live no longer
            // than `items_ttl_secs`, however many are added or carried over.
            Slot::Top { pages, field } => {
                redis::pipe()
                    .atomic()
                    .hset(&pages, field, bytes)
                    .ignore()
                    .cmd("EXPIRE")
                    .arg(&pages)
                    .arg(ttl)
                    .arg("NX")
                    .ignore()
                    .query_async::<()>(&mut connection)
                    .await
            }
            Slot::Other(key) => {
                redis::cmd("SET")
                    .arg(key)
                    .arg(bytes)
                    .arg("EX")
                    .arg(ttl)
                    .query_async::<()>(&mut connection)
                    .await
            }
        };
        if let Err(error) = stored {
            fill_failed(&error);
        }
    }

    /// `tweet` was written (MongoDB has it): the author's top pages gain it under a new
    /// version, every other page retires.
    pub async fn author_posted(&self, tweet: &TweetDoc) {
        let Some((mut connection, prefix)) = self.connection().await else {
            self.warn_unreachable(tweet.author_id);
            return;
        };
        let versions = version_key(prefix, tweet.author_id);
        match carry_over(&mut connection, &versions, tweet).await {
            Ok(true) => {}
            // Another change came between: its version goes too.
            Ok(false) => retire(&mut connection, &versions).await,
            Err(error) => {
                write_failed("adding a tweet to its author's pages", &error);
                retire(&mut connection, &versions).await;
            }
        }
    }

    /// `author`'s items changed (MongoDB has the change): every page cached so far retires.
    pub async fn author_changed(&self, author: i64) {
        let Some((mut connection, prefix)) = self.connection().await else {
            self.warn_unreachable(author);
            return;
        };
        retire(&mut connection, &version_key(prefix, author)).await;
    }

    fn warn_unreachable(&self, author: i64) {
        if self.is_on() {
            tracing::warn!(
                user_id = author,
                "tweet cache unreachable: old pages may be served until they expire"
            );
        }
    }
}

/// Gives the author a version nobody has read under.
async fn retire(connection: &mut redis::aio::ConnectionManager, versions: &str) {
    let minted = redis::cmd("SET")
        .arg(versions)
        .arg(new_version())
        .arg("EX")
        .arg(VERSION_TTL_SECS)
        .query_async::<()>(connection)
        .await;
    if let Err(error) = minted {
        write_failed("retiring an author's pages", &error);
    }
}

/// Carries the author's top pages over to a new version with `tweet` added; `false` when the
/// version changed meanwhile and nothing was set. No version: nothing to carry over.
async fn carry_over(
    connection: &mut redis::aio::ConnectionManager,
    versions: &str,
    tweet: &TweetDoc,
) -> redis::RedisResult<bool> {
    let version: Option<String> = redis::cmd("GET")
        .arg(versions)
        .query_async(connection)
        .await?;
    let Some(version) = version else {
        return Ok(true);
    };
    let old_pages = top_pages_key(versions, &version);
    let (pages, expires_in_ms): (HashMap<String, Vec<u8>>, i64) = redis::pipe()
        .hgetall(&old_pages)
        .pttl(&old_pages)
        .query_async(connection)
        .await?;
    let item = RecentItem {
        item_id: tweet.id,
        tweet_id: tweet.id,
        author_id: tweet.author_id,
        reposted_by_user_id: 0,
    };
    let next = new_version();
    let mut invocation = CARRY_OVER.prepare_invoke();
    invocation
        .key(versions)
        .key(top_pages_key(versions, &next))
        .arg(&version)
        .arg(&next)
        .arg(VERSION_TTL_SECS)
        .arg(expires_in_ms);
    if expires_in_ms > 0 {
        for (field, bytes) in pages {
            // A page that cannot be read is left behind: its next reader misses.
            if let Some(page) = with_item(&field, &bytes, item, tweet.reply_to_tweet_id != 0) {
                invocation.arg(field).arg(page);
            }
        }
    }
    let carried: i64 = invocation.invoke_async(connection).await?;
    Ok(carried == 1)
}

/// The top page stored as `field`/`bytes` with `item` (a new tweet, `is_reply` or not) in
/// it, if the page shows such items; `None` if the page is not one of ours.
fn with_item(field: &str, bytes: &[u8], item: RecentItem, is_reply: bool) -> Option<Vec<u8>> {
    let (limit, exclude_replies) = field.split_once(':')?;
    let limit: usize = limit.parse().ok()?;
    let exclude_replies = exclude_replies == "1";
    let mut page = ListRecentByAuthorsResponse::decode(bytes).ok()?;
    if !(exclude_replies && is_reply) {
        add_to_page(&mut page.items, item, limit);
    }
    Some(page.encode_to_vec())
}

/// Adds `item` to a page of at most `limit` items, newest first, unless it is there already
/// (a reader that read MongoDB after the write stored it).
fn add_to_page(items: &mut Vec<RecentItem>, item: RecentItem, limit: usize) {
    if items.iter().any(|i| i.item_id == item.item_id) {
        return;
    }
    let at = items.partition_point(|i| i.item_id > item.item_id);
    items.insert(at, item);
    items.truncate(limit);
}

/// The author's current version (minted when there is none) and the page under it: the
/// cached page, if any, and where it goes.
async fn lookup(
    connection: &mut redis::aio::ConnectionManager,
    versions: &str,
    page: PageKey,
) -> redis::RedisResult<(Option<Vec<u8>>, Slot)> {
    let mut version: Option<String> = redis::cmd("GET")
        .arg(versions)
        .query_async(connection)
        .await?;
    if version.is_none() {
        // Minted unless another reader (or a write) just did: then theirs counts.
        (version,) = redis::pipe()
            .cmd("SET")
            .arg(versions)
            .arg(new_version())
            .arg("NX")
            .arg("EX")
            .arg(VERSION_TTL_SECS)
            .ignore()
            .cmd("GET")
            .arg(versions)
            .query_async(connection)
            .await?;
    }
    let version = version.unwrap_or_default();
    if page.is_top() {
        let pages = top_pages_key(versions, &version);
        let field = page.top_field();
        let cached: Option<Vec<u8>> = redis::cmd("HGET")
            .arg(&pages)
            .arg(&field)
            .query_async(connection)
            .await?;
        return Ok((cached, Slot::Top { pages, field }));
    }
    let key = format!(
        "{versions}:{version}:{}:{}:{}:{}",
        page.max_id,
        page.since_id,
        page.limit,
        u8::from(page.exclude_replies)
    );
    let cached: Option<Vec<u8>> = redis::cmd("GET").arg(&key).query_async(connection).await?;
    Ok((cached, Slot::Other(key)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: i64) -> RecentItem {
        RecentItem {
            item_id: id,
            tweet_id: id,
            author_id: 1,
            reposted_by_user_id: 0,
        }
    }

    fn ids(items: &[RecentItem]) -> Vec<i64> {
        items.iter().map(|i| i.item_id).collect()
    }

    #[test]
    fn a_new_item_goes_in_order_and_the_page_keeps_its_length() {
        let mut page = vec![item(9), item(5), item(3)];
        add_to_page(&mut page, item(10), 3);
        assert_eq!(ids(&page), [10, 9, 5]);
        // Written out of order by a concurrent writer: still in place.
        add_to_page(&mut page, item(7), 3);
        assert_eq!(ids(&page), [10, 9, 7]);
    }

    #[test]
    fn an_item_already_on_the_page_is_not_added_twice() {
        let mut page = vec![item(10), item(9)];
        add_to_page(&mut page, item(10), 21);
        assert_eq!(ids(&page), [10, 9]);
    }

    #[test]
    fn a_short_page_grows() {
        let mut page = vec![];
        add_to_page(&mut page, item(4), 21);
        assert_eq!(ids(&page), [4]);
    }

    #[test]
    fn a_reply_stays_off_pages_without_replies() {
        let page = ListRecentByAuthorsResponse {
            items: vec![item(1)],
        }
        .encode_to_vec();
        let decoded = |bytes: Option<Vec<u8>>| {
            ids(
                &ListRecentByAuthorsResponse::decode(bytes.expect("ours").as_slice())
                    .expect("a page")
                    .items,
            )
        };
        assert_eq!(decoded(with_item("21:1", &page, item(2), true)), [1]);
        assert_eq!(decoded(with_item("21:0", &page, item(2), true)), [2, 1]);
        assert_eq!(decoded(with_item("21:1", &page, item(2), false)), [2, 1]);
        assert_eq!(with_item("nonsense", &page, item(2), false), None);
    }
}
