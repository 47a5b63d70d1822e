//! Each author's recent items (tweets and reposts, newest first), by page. An author's pages
//! live under the author's current *version*, a random number at `items:<author>`: a write
//! that changes the author's items (a tweet, a deletion, a repost or its undoing) gives the
//! author a new version once MongoDB has it, so no page cached before is read again (each
//! expires after `tweet_cache.items_ttl_secs`). A reader that fetched the old items just
//! before the write stores them under the old version, where nobody looks any more. A missing
//! version (never read, evicted, expired) is minted by the first reader.
//!
//! A repost of a tweet deleted later stays on its reposter's cached pages; the tweet itself is
//! gone, and every reader hydrates items into tweets, so it is left out there.

use prost::Message;
use xir_proto::tweet::v1::{ListRecentByAuthorsResponse, RecentItem};

use super::{TweetCache, count, fill_failed, read_failed, write_failed};

/// How long an unchanged author keeps a version (a new one is minted after).
const VERSION_TTL_SECS: u64 = 86_400;

/// Which page of an author's items.
#[derive(Debug, Clone, Copy)]
pub struct PageKey {
    pub max_id: i64,
    pub since_id: i64,
    pub limit: i64,
    pub exclude_replies: bool,
}

/// Where a page that missed is to be stored: its key under the version read.
pub struct PageSlot(String);

pub enum PageLookup {
    Hit(Vec<RecentItem>),
    Miss(PageSlot),
    /// No cache, or Redis down: read MongoDB and store nothing.
    Unavailable,
}

fn version_key(prefix: &str, author: i64) -> String {
    format!("{prefix}items:{author}")
}

fn new_version() -> u64 {
    rand::random()
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
        let stored = redis::cmd("SET")
            .arg(slot.0)
            .arg(bytes)
            .arg("EX")
            .arg(self.settings.items_ttl_secs.max(1))
            .query_async::<()>(&mut connection)
            .await;
        if let Err(error) = stored {
            fill_failed(&error);
        }
    }

    /// `author`'s items changed (MongoDB has the change): every page cached so far retires.
    pub async fn author_changed(&self, author: i64) {
        let Some((mut connection, prefix)) = self.connection().await else {
            if self.is_on() {
                tracing::warn!(
                    user_id = author,
                    "tweet cache unreachable: old pages may be served until they expire"
                );
            }
            return;
        };
        let minted = redis::cmd("SET")
            .arg(version_key(prefix, author))
            .arg(new_version())
            .arg("EX")
            .arg(VERSION_TTL_SECS)
            .query_async::<()>(&mut connection)
            .await;
        if let Err(error) = minted {
            write_failed("retiring an author's pages", &error);
        }
    }
}

/// The author's current version (minted when there is none) and the page under it: the
/// cached page, if any, and its key.
async fn lookup(
    connection: &mut redis::aio::ConnectionManager,
    versions: &str,
    page: PageKey,
) -> redis::RedisResult<(Option<Vec<u8>>, String)> {
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
    let slot = format!(
        "{versions}:{}:{}:{}:{}:{}",
        version.unwrap_or_default(),
        page.max_id,
        page.since_id,
        page.limit,
        u8::from(page.exclude_replies)
    );
    let cached: Option<Vec<u8>> = redis::cmd("GET").arg(&slot).query_async(connection).await?;
    Ok((cached, slot))
}
