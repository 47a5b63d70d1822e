//! Reading tweets: live tweets by id with the viewer's state (hydration), completed into cards
//! for clients. A page costs a fixed number of queries whatever its size, or none for what the
//! cache has. (The pages of an author's tweets and reposts are `items`.)

use std::collections::{HashMap, HashSet};

use futures_util::TryStreamExt;
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
    cache::Reacted,
    domain::{TweetId, UserId},
    error::Error,
    reactions,
    store::{self, TweetDoc, timestamp},
    tweets::Tweets,
};

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
