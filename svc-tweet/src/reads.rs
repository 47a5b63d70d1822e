//! Reading tweets: live tweets by id with the viewer's state (hydration), and pages of an
//! author's tweets and reposts merged newest first. A page costs a fixed number of queries,
//! whatever its size.

use std::collections::{HashMap, HashSet};

use futures_util::{TryStreamExt, future::try_join_all};
use mongodb::{
    Collection,
    bson::{Document, doc},
};
use serde::de::DeserializeOwned;
use xir_common::{
    errors::{DbError, During},
    request::dedup,
};
use xir_proto::{tweet::v1 as pb, user::v1::Profile};

use crate::{
    cache::{PageKey, PageLookup, Reacted},
    domain::{PageLimit, TweetId, UserId},
    error::Error,
    reactions,
    store::{self, RepostDoc, TweetDoc, timestamp},
    tweets::Tweets,
};

/// Authors whose recent items are read author by author from the cache; more go to MongoDB in
/// one query.
const AUTHORS_FROM_CACHE: usize = 16;

/// What a viewer did to the tweets of one page: from the cache, the rest in two indexed
/// queries for the whole page.
#[derive(Default)]
pub(crate) struct ViewerStates {
    viewer: bool,
    liked: HashSet<i64>,
    reposted: HashSet<i64>,
}

impl ViewerStates {
    pub(crate) fn of(&self, tweet_id: i64) -> Option<pb::ViewerState> {
        self.viewer.then(|| pb::ViewerState {
            liked: self.liked.contains(&tweet_id),
            reposted: self.reposted.contains(&tweet_id),
        })
    }
}

pub(crate) fn to_proto(tweet: TweetDoc, states: &ViewerStates) -> pb::Tweet {
    pb::Tweet {
        viewer: states.of(tweet.id),
        tweet_id: tweet.id,
        author_id: tweet.author_id,
        text: tweet.text,
        created_at: Some(timestamp(tweet.created_at)),
        reply_to_tweet_id: tweet.reply_to_tweet_id,
        reply_to_user_id: tweet.reply_to_user_id,
        conversation_id: tweet.conversation_id,
        quote_of_tweet_id: tweet.quote_of_tweet_id,
        mentions: tweet
            .mentions
            .into_iter()
            .map(|m| pb::Mention {
                user_id: m.user_id,
                username: m.username,
            })
            .collect(),
        hashtags: tweet.hashtags,
        like_count: tweet.like_count.max(0),
        reply_count: tweet.reply_count.max(0),
        repost_count: tweet.repost_count.max(0),
        quote_count: tweet.quote_count.max(0),
        // Filled by `Tweets::with_cards` for the client-facing answers.
        author: None,
        quoted: None,
    }
}

/// Every document of `collection` that matches `filter`.
async fn all<T: DeserializeOwned + Send + Sync>(
    collection: &Collection<T>,
    filter: Document,
    operation: &'static str,
) -> Result<Vec<T>, DbError<mongodb::error::Error>> {
    collection
        .find(filter)
        .await
        .during(operation)?
        .try_collect()
        .await
        .during(operation)
}

pub(crate) fn with_range(mut filter: Document, field: &str, range: &Document) -> Document {
    if !range.is_empty() {
        filter.insert(field, range.clone());
    }
    filter
}

impl Tweets {
    pub(crate) async fn live_tweet(&self, id: TweetId) -> Result<Option<TweetDoc>, Error> {
        let mut filter = store::live();
        filter.insert("_id", id.get());
        Ok(self
            .tweets
            .find_one(filter)
            .projection(store::without_outbox())
            .await
            .during("find live tweet")?)
    }

    pub(crate) async fn require_tweet(&self, id: TweetId) -> Result<TweetDoc, Error> {
        self.live_tweet(id).await?.ok_or(Error::NotFound("tweet"))
    }

    /// What `viewer` did to `tweet_ids`: from the cache, the rest in two queries at once.
    pub(crate) async fn viewer_states(
        &self,
        viewer: Option<UserId>,
        tweet_ids: &[i64],
    ) -> Result<ViewerStates, Error> {
        let Some(viewer) = viewer else {
            return Ok(ViewerStates::default());
        };
        let cache = self.changes.cache();
        let mut states = cache.viewer_states(viewer.get(), tweet_ids).await;
        let missing: Vec<i64> = dedup(tweet_ids)
            .into_iter()
            .filter(|id| !states.contains_key(id))
            .collect();
        if !missing.is_empty() {
            let stored = self.stored_viewer_states(viewer, &missing).await?;
            cache.fill_viewer_states(viewer.get(), &stored).await;
            states.extend(stored);
        }
        let with = |flag: fn(&Reacted) -> bool| {
            states
                .iter()
                .filter(|(_, state)| flag(state))
                .map(|(&id, _)| id)
                .collect()
        };
        Ok(ViewerStates {
            viewer: true,
            liked: with(|state| state.liked),
            reposted: with(|state| state.reposted),
        })
    }

    /// [`Self::viewer_states`] from MongoDB: every one of `tweet_ids`, reacted to or not.
    async fn stored_viewer_states(
        &self,
        viewer: UserId,
        tweet_ids: &[i64],
    ) -> Result<HashMap<i64, Reacted>, Error> {
        let mut filter = doc! { "user_id": viewer.get(), "tweet_id": { "$in": tweet_ids } };
        filter.extend(reactions::current());
        let (liked, reposted) = tokio::try_join!(
            all(&self.likes, filter.clone(), "find viewer likes"),
            all(&self.reposts, filter, "find viewer reposts"),
        )?;
        let liked: HashSet<i64> = liked
            .iter()
            .filter_map(|d| d.get_i64("tweet_id").ok())
            .collect();
        let reposted: HashSet<i64> = reposted.iter().map(|r| r.tweet_id).collect();
        Ok(tweet_ids
            .iter()
            .map(|&id| {
                let state = Reacted {
                    liked: liked.contains(&id),
                    reposted: reposted.contains(&id),
                };
                (id, state)
            })
            .collect())
    }

    /// The tweet as `user` sees it after reacting to it (its counts moved, their state set).
    pub(crate) async fn reacted_to(&self, id: TweetId, user: UserId) -> Result<pb::Tweet, Error> {
        let tweet = self.require_tweet(id).await?;
        let states = self.viewer_states(Some(user), &[id.get()]).await?;
        let tweet = to_proto(tweet, &states);
        self.with_cards(vec![tweet], Some(user))
            .await?
            .pop()
            .ok_or(Error::NotFound("tweet"))
    }

    /// The live tweets of `ids`, in the order of `ids`: those the cache lacks in one query.
    pub(crate) async fn live_in_order(&self, ids: &[i64]) -> Result<Vec<TweetDoc>, Error> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let cache = self.changes.cache();
        let mut by_id = cache.get(ids).await;
        let missing: Vec<i64> = dedup(ids)
            .into_iter()
            .filter(|id| !by_id.contains_key(id))
            .collect();
        if !missing.is_empty() {
            let stored = self.stored_live(&missing).await?;
            cache.fill(&stored).await;
            by_id.extend(stored.into_iter().map(|t| (t.id, t)));
        }
        Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
    }

    /// The live tweets of `ids` in MongoDB, in no order: one query.
    async fn stored_live(&self, ids: &[i64]) -> Result<Vec<TweetDoc>, Error> {
        let mut filter = store::live();
        filter.insert("_id", doc! { "$in": ids });
        Ok(self
            .tweets
            .find(filter)
            .projection(store::without_outbox())
            .await
            .during("find tweets by id")?
            .try_collect()
            .await
            .during("read tweets by id")?)
    }

    /// Live tweets by id, in the order asked, with the viewer's state: three queries at most,
    /// at once.
    #[tracing::instrument(skip_all, fields(tweets = ids.len()))]
    pub(crate) async fn hydrate(
        &self,
        ids: &[i64],
        viewer: Option<UserId>,
    ) -> Result<Vec<pb::Tweet>, Error> {
        let (found, states) =
            tokio::try_join!(self.live_in_order(ids), self.viewer_states(viewer, ids))?;
        Ok(found.into_iter().map(|t| to_proto(t, &states)).collect())
    }

    #[tracing::instrument(skip_all)]
    pub(crate) async fn find_tweets(
        &self,
        filter: Document,
        ascending: bool,
        limit: i64,
    ) -> Result<Vec<TweetDoc>, Error> {
        Ok(self
            .tweets
            .find(filter)
            .projection(store::without_outbox())
            .sort(doc! { "_id": if ascending { 1 } else { -1 } })
            .limit(limit)
            .await
            .during("find tweets")?
            .try_collect()
            .await
            .during("read tweets")?)
    }

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

    /// Completes tweets for a client: each gets its author's profile and its quoted tweet (with
    /// the viewer's state and its own author), so a page renders from one call. Costs one
    /// query for the quoted tweets (plus the viewer's state) and one batched call to svc-user
    /// per 100 authors, whatever the page size.
    #[tracing::instrument(skip_all, fields(tweets = tweets.len()))]
    pub(crate) async fn with_cards(
        &self,
        mut tweets: Vec<pb::Tweet>,
        viewer: Option<UserId>,
    ) -> Result<Vec<pb::Tweet>, Error> {
        let quote_ids: Vec<i64> = tweets
            .iter()
            .map(|t| t.quote_of_tweet_id)
            .filter(|&id| id > 0)
            .collect();
        let quoted: HashMap<i64, pb::Tweet> = self
            .hydrate(&dedup(&quote_ids), viewer)
            .await?
            .into_iter()
            .map(|t| (t.tweet_id, t))
            .collect();
        let authors: Vec<i64> = tweets
            .iter()
            .chain(quoted.values())
            .map(|t| t.author_id)
            .collect();
        let profiles = self.profiles(&dedup(&authors)).await?;
        for tweet in &mut tweets {
            tweet.author = profiles.get(&tweet.author_id).cloned();
            tweet.quoted = quoted.get(&tweet.quote_of_tweet_id).map(|quoted| {
                let mut quoted = quoted.clone();
                quoted.author = profiles.get(&quoted.author_id).cloned();
                Box::new(quoted)
            });
        }
        Ok(tweets)
    }

    /// Profiles by id from svc-user.
    async fn profiles(&self, ids: &[i64]) -> Result<HashMap<i64, Profile>, Error> {
        xir_common::profiles::by_id(&self.users, ids)
            .await
            .map_err(Error::Dependency)
    }
}
