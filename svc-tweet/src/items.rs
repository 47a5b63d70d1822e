//! The recent items (tweets and reposts, newest first) of one or a few authors: user
//! timelines, and svc-timeline's read-time merge and backfill. Each page costs a fixed number
//! of queries, or none when the cache has it (`cache::items`).

use std::collections::HashMap;

use futures_util::{TryStreamExt, future::try_join_all};
use mongodb::bson::{Document, doc};
use xir_common::{errors::During, request::dedup};
use xir_proto::tweet::v1 as pb;

use crate::{
    cache::{PageKey, PageLookup},
    domain::PageLimit,
    error::Error,
    reactions,
    reads::with_range,
    store::{self, RepostDoc},
    tweets::Tweets,
};

/// Authors whose recent items are read author by author from the cache; more go to MongoDB in
/// one query.
const AUTHORS_FROM_CACHE: usize = 16;

impl Tweets {
    /// The newest tweets and reposts of `authors` in `range`, without the authors' own replies
    /// when `exclude_replies` (their reposts of replies stay). Returns up to `limit + 1` items
    /// so callers can tell whether more follow. A few authors' pages come from the cache, each
    /// author's apart (the newest of all are among the newest of each); more authors than that
    /// (a timeline being rebuilt) are one MongoDB query.
    #[tracing::instrument(skip_all, fields(authors = authors.len()))]
    pub(crate) async fn recent_items(
        &self,
        authors: &[i64],
        range: &Document,
        limit: PageLimit,
        exclude_replies: bool,
    ) -> Result<Vec<pb::RecentItem>, Error> {
        if authors.is_empty() {
            return Ok(Vec::new());
        }
        if authors.len() > AUTHORS_FROM_CACHE {
            return self
                .stored_recent_items(authors, range, limit, exclude_replies)
                .await;
        }
        let page = PageKey {
            max_id: range.get_i64("$lt").unwrap_or(0),
            since_id: range.get_i64("$gt").unwrap_or(0),
            limit: limit.probe(),
            exclude_replies,
        };
        let pages = try_join_all(
            authors
                .iter()
                .map(|&author| self.author_recent_items(author, range, limit, page)),
        )
        .await?;
        let mut items: Vec<pb::RecentItem> = pages.into_iter().flatten().collect();
        items.sort_by_key(|item| std::cmp::Reverse(item.item_id));
        items.truncate(limit.probe() as usize);
        Ok(items)
    }

    /// One author's page of [`Self::recent_items`], from the cache or else MongoDB.
    async fn author_recent_items(
        &self,
        author: i64,
        range: &Document,
        limit: PageLimit,
        page: PageKey,
    ) -> Result<Vec<pb::RecentItem>, Error> {
        let cache = self.changes.cache();
        let slot = match cache.author_page(author, page).await {
            PageLookup::Hit(items) => return Ok(items),
            PageLookup::Miss(slot) => Some(slot),
            PageLookup::Unavailable => None,
        };
        let items = self
            .stored_recent_items(&[author], range, limit, page.exclude_replies)
            .await?;
        if let Some(slot) = slot {
            cache.put_author_page(slot, &items).await;
        }
        Ok(items)
    }

    /// [`Self::recent_items`] from MongoDB: one query for tweets and one for reposts, merged.
    async fn stored_recent_items(
        &self,
        authors: &[i64],
        range: &Document,
        limit: PageLimit,
        exclude_replies: bool,
    ) -> Result<Vec<pb::RecentItem>, Error> {
        let mut filter = store::live();
        filter.insert("author_id", doc! { "$in": authors });
        if exclude_replies {
            // Written on every tweet, 0 when it answers none.
            filter.insert("reply_to_tweet_id", 0_i64);
        }
        let tweets = self
            .find_tweets(with_range(filter, "_id", range), false, limit.probe())
            .await?;
        let reposts: Vec<RepostDoc> = self
            .reposts
            .find(with_range(
                {
                    let mut filter = doc! { "user_id": { "$in": authors } };
                    filter.extend(reactions::current());
                    filter
                },
                "_id",
                range,
            ))
            .sort(doc! { "_id": -1 })
            .limit(limit.probe())
            .await
            .during("find reposts")?
            .try_collect()
            .await
            .during("read reposts")?;
        let mut items: Vec<pb::RecentItem> = tweets
            .into_iter()
            .map(|t| pb::RecentItem {
                item_id: t.id,
                tweet_id: t.id,
                author_id: t.author_id,
                reposted_by_user_id: 0,
            })
            .chain(reposts.into_iter().map(|r| pb::RecentItem {
                item_id: r.id,
                tweet_id: r.tweet_id,
                author_id: 0,
                reposted_by_user_id: r.user_id,
            }))
            .collect();
        items.sort_by_key(|item| std::cmp::Reverse(item.item_id));
        items.truncate(limit.probe() as usize);
        self.name_original_authors(&mut items).await?;
        Ok(items)
    }

    /// Reposts name the original's author too (one query for the page); a repost whose
    /// original was deleted leaves the page.
    async fn name_original_authors(&self, items: &mut Vec<pb::RecentItem>) -> Result<(), Error> {
        let missing: Vec<i64> = dedup(
            &items
                .iter()
                .filter(|i| i.author_id == 0)
                .map(|i| i.tweet_id)
                .collect::<Vec<_>>(),
        );
        if missing.is_empty() {
            return Ok(());
        }
        let mut filter = store::live();
        filter.insert("_id", doc! { "$in": &missing });
        let originals: Vec<Document> = self
            .raw_tweets
            .find(filter)
            .projection(doc! { "author_id": 1 })
            .await
            .during("find originals of reposts")?
            .try_collect()
            .await
            .during("read originals of reposts")?;
        let authors: HashMap<i64, i64> = originals
            .iter()
            .filter_map(|d| Some((d.get_i64("_id").ok()?, d.get_i64("author_id").ok()?)))
            .collect();
        items.retain_mut(|item| {
            if item.author_id != 0 {
                return true;
            }
            match authors.get(&item.tweet_id) {
                Some(&author) => {
                    item.author_id = author;
                    true
                }
                None => false, // the original was deleted
            }
        });
        Ok(())
    }
}
