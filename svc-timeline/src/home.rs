//! The home timeline: a page from the owner's timeline in Redis (rebuilt first when it is
//! missing) and the recent items of the celebrities they follow (read at request time, never
//! fanned out), merged, then turned into items with their cards.

use std::collections::HashSet;

use mongodb::bson::Document;
use xir_common::{
    domain::{PageLimit, UserId},
    ids,
};
use xir_proto::{
    timeline::v1 as pb, tweet::v1::ListRecentByAuthorsRequest, user::v1::ListFollowingIdsRequest,
};

use crate::{
    error::Error,
    fanout::Entry,
    hydration::{BATCH, CardsById, ProfilesById},
    timelines::Timelines,
};

/// Timelines rebuilt because Redis had none (first read, eviction, a Redis restart).
pub const REBUILDS: &str = "timeline_rebuilds_total";

/// A timeline item before hydration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Item {
    /// The cursor key: the tweet id, or the repost's own id for a repost.
    pub item_id: i64,
    pub tweet_id: i64,
    /// 0 for an original tweet.
    pub reposted_by: i64,
}

/// One page of at most `limit` items from `candidates` (each source's newest `limit + 1` in
/// the requested range): newest first, each item once, and each tweet once (the newest of a
/// tweet and its reposts). Returns the page and the `max_id` of the next one, 0 when nothing
/// is left. The cursor is the last item of the page, so the next page starts right below it
/// and skips nothing.
/// A page's bounds: the raw `max_id`/`since_id` (passed on to svc-tweet) and the id range
/// they make.
pub struct Range {
    pub max_id: i64,
    pub since_id: i64,
    pub ids: Document,
}

pub fn merge(mut candidates: Vec<Item>, limit: usize) -> (Vec<Item>, i64) {
    candidates.sort_by_key(|item| std::cmp::Reverse(item.item_id));
    let mut seen_items = HashSet::new();
    let mut seen_tweets = HashSet::new();
    candidates.retain(|item| seen_items.insert(item.item_id) && seen_tweets.insert(item.tweet_id));
    let more = candidates.len() > limit;
    candidates.truncate(limit);
    let next_max_id = if more {
        candidates.last().map_or(0, |item| item.item_id)
    } else {
        0
    };
    (candidates, next_max_id)
}

/// The page's items with their cards; an item whose tweet is gone is left out. A repost says
/// who made it and when (its item id is minted when the repost is made).
pub fn timeline_items(
    items: Vec<Item>,
    mut cards: CardsById,
    profiles: &ProfilesById,
) -> Vec<pb::TimelineItem> {
    items
        .into_iter()
        .filter_map(|item| {
            let card = if item.reposted_by == 0 {
                cards.remove(&item.tweet_id)?
            } else {
                cards.get(&item.tweet_id)?.clone()
            };
            Some(pb::TimelineItem {
                item_id: item.item_id,
                card: Some(card),
                reposted_by: profiles.get(&item.reposted_by).cloned(),
                reposted_at: (item.reposted_by != 0).then(|| ids::created_at(item.item_id)),
            })
        })
        .collect()
}

impl Timelines {
    /// Stored entries merged with the recent tweets of followed authors above the fan-out
    /// threshold, newest first, without duplicates, as cards; and the next page's `max_id`.
    pub async fn home_timeline(
        &self,
        me: UserId,
        range: &Range,
        limit: PageLimit,
    ) -> Result<(Vec<pb::TimelineItem>, i64), Error> {
        // The stored entries and the celebrities' recent items, read at once.
        let (stored, pulled) = tokio::try_join!(
            self.stored_items(me, range, limit.probe()),
            self.celebrity_items(me, range.max_id, range.since_id, limit.probe()),
        )?;
        let items = stored.into_iter().chain(pulled).collect();
        let (items, next_max_id) = merge(items, limit.get() as usize);
        let tweet_ids: Vec<i64> = items.iter().map(|i| i.tweet_id).collect();
        let reposters: Vec<i64> = items
            .iter()
            .map(|i| i.reposted_by)
            .filter(|&r| r != 0)
            .collect();
        let (cards, profiles) = self.cards(&tweet_ids, &reposters, me).await?;
        Ok((timeline_items(items, cards, &profiles), next_max_id))
    }

    /// The owner's stored fan-out entries in `range`, newest first, at most `probe`; the
    /// timeline is rebuilt first when Redis has none.
    #[tracing::instrument(skip_all)]
    pub(crate) async fn stored_items(
        &self,
        owner: UserId,
        range: &Range,
        probe: i64,
    ) -> Result<Vec<Item>, Error> {
        let homes = &self.fanout.homes;
        let page = |owner| homes.page(owner, range.max_id, range.since_id, probe);
        if let Some(items) = page(owner.get()).await? {
            return Ok(items);
        }
        self.rebuild(owner.get()).await?;
        Ok(page(owner.get()).await?.unwrap_or_default())
    }

    /// Rebuilds `owner`'s timeline from the follow graph and recent tweets: their own and
    /// those of everyone they follow below the celebrity threshold (celebrities are merged at
    /// read time). The timeline is created first, so what is fanned out meanwhile goes in too,
    /// and marked built last.
    #[tracing::instrument(skip_all)]
    pub(crate) async fn rebuild(&self, owner: i64) -> Result<(), Error> {
        let homes = &self.fanout.homes;
        homes.create(owner).await?;
        let threshold = self.fanout.settings.celebrity_followers;
        let (followed, celebrities) = tokio::try_join!(
            self.following(owner, 0),
            self.following(owner, threshold + 1)
        )?;
        let celebrities: HashSet<i64> = celebrities.into_iter().collect();
        let authors: Vec<i64> = std::iter::once(owner)
            .chain(followed.into_iter().filter(|id| !celebrities.contains(id)))
            .collect();
        let entries = self
            .recent_entries(&authors, 0, 0, PageLimit::MAX as i32)
            .await?;
        homes.insert_into(owner, &entries).await?;
        // Only now: a rebuild that failed above leaves the timeline to be rebuilt again.
        homes.mark_built(owner).await?;
        metrics::counter!(REBUILDS).increment(1);
        Ok(())
    }

    /// Whom `owner` follows among accounts with at least `min_followers` followers.
    async fn following(&self, owner: i64, min_followers: i64) -> Result<Vec<i64>, Error> {
        Ok(self
            .users
            .clone()
            .list_following_ids(ListFollowingIdsRequest {
                user_id: owner,
                min_followers_count: min_followers,
            })
            .await
            .map_err(Error::Dependency)?
            .into_inner()
            .user_ids)
    }

    /// Read-time fan-in: the recent items, in the same range, of the authors `owner` follows
    /// who are too big to fan out on write, at most `probe` per batch of authors.
    #[tracing::instrument(skip_all)]
    pub(crate) async fn celebrity_items(
        &self,
        owner: UserId,
        max_id: i64,
        since_id: i64,
        probe: i64,
    ) -> Result<Vec<Item>, Error> {
        let celebrities = self
            .following(owner.get(), self.fanout.settings.celebrity_followers + 1)
            .await?;
        let items = self
            .recent_entries(&celebrities, max_id, since_id, probe as i32)
            .await?;
        Ok(items.into_iter().map(Item::from).collect())
    }

    /// The recent items of `authors` in the range, as the entries a fan-out of them would
    /// write (a repost brought by its reposter), at most `limit` per batch of authors.
    pub(crate) async fn recent_entries(
        &self,
        authors: &[i64],
        max_id: i64,
        since_id: i64,
        limit: i32,
    ) -> Result<Vec<Entry>, Error> {
        let mut entries = Vec::new();
        for chunk in authors.chunks(BATCH) {
            let recent = self
                .tweets
                .clone()
                .list_recent_by_authors(ListRecentByAuthorsRequest {
                    author_ids: chunk.to_vec(),
                    max_id,
                    since_id,
                    limit,
                })
                .await
                .map_err(Error::Dependency)?
                .into_inner()
                .items;
            entries.extend(recent.into_iter().map(|r| Entry {
                item_id: r.item_id,
                tweet_id: r.tweet_id,
                author_id: if r.reposted_by_user_id != 0 {
                    r.reposted_by_user_id
                } else {
                    r.author_id
                },
                reposted_by: r.reposted_by_user_id,
            }));
        }
        Ok(entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tweet(id: i64) -> Item {
        Item {
            item_id: id,
            tweet_id: id,
            reposted_by: 0,
        }
    }

    fn repost(id: i64, of: i64) -> Item {
        Item {
            item_id: id,
            tweet_id: of,
            reposted_by: 9,
        }
    }

    fn ids(items: &[Item]) -> Vec<i64> {
        items.iter().map(|item| item.item_id).collect()
    }

    #[test]
    fn stored_and_pulled_items_interleave_newest_first_with_a_cursor_below_the_page() {
        let stored = [tweet(10), tweet(7), tweet(3)];
        let pulled = [tweet(9), tweet(8), tweet(2)];
        let (page, next) = merge(stored.iter().chain(&pulled).copied().collect(), 4);
        assert_eq!(ids(&page), [10, 9, 8, 7]);
        assert_eq!(next, 7);
    }

    #[test]
    fn the_last_page_has_no_cursor() {
        let (page, next) = merge(vec![tweet(2), tweet(5)], 4);
        assert_eq!(ids(&page), [5, 2]);
        assert_eq!(next, 0);
    }

    #[test]
    fn an_item_met_twice_and_a_tweet_with_its_repost_show_once() {
        // The same entry from both sources, and tweet 4 reposted (item 12) into the page.
        let (page, next) = merge(vec![tweet(6), tweet(6), tweet(4), repost(12, 4)], 10);
        assert_eq!(ids(&page), [12, 6]);
        assert_eq!(next, 0);
    }
}
