//! The paged reads: a thread, a user's tweets and reposts, a hashtag, and the recent items of
//! several authors (for svc-timeline). Each page costs a fixed number of queries.

use std::collections::HashMap;

use mongodb::bson::{Document, doc};
use xir_common::request::dedup;
use xir_proto::tweet::v1 as pb;

use crate::{
    domain::{PageLimit, TweetId, UserId},
    error::Error,
    reads::{to_proto, with_range},
    store,
    tweets::Tweets,
};

/// Where a list starts and ends: a MongoDB `_id` range from `max_id` and `since_id`.
pub struct Range(pub Document);

/// A thread page: the tweet, its ancestors from the root down, and a page of its replies.
pub struct Thread {
    pub ancestors: Vec<pb::Tweet>,
    pub tweet: pb::Tweet,
    pub replies: Vec<pb::Tweet>,
    pub next_replies_after_id: i64,
}

impl Tweets {
    /// One live tweet as `viewer` sees it, as a card.
    pub async fn tweet(&self, id: TweetId, viewer: Option<UserId>) -> Result<pb::Tweet, Error> {
        let tweet = self.hydrate(&[id.get()], viewer).await?;
        self.with_cards(tweet, viewer)
            .await?
            .pop()
            .ok_or(Error::NotFound("tweet"))
    }

    /// A user's tweets and reposts, newest first, as cards.
    pub async fn user_tweets(
        &self,
        user: UserId,
        range: &Range,
        limit: PageLimit,
        exclude_replies: bool,
        viewer: Option<UserId>,
    ) -> Result<(Vec<pb::FeedItem>, i64), Error> {
        let items = self
            .recent_items(&[user.get()], &range.0, limit, exclude_replies)
            .await?;
        let (items, next_max_id) = limit.cut(items, |last| last.item_id);
        let tweet_ids: Vec<i64> = items.iter().map(|i| i.tweet_id).collect();
        let tweets = self.hydrate(&dedup(&tweet_ids), viewer).await?;
        let tweets = self.with_cards(tweets, viewer).await?;
        let by_id: HashMap<i64, &pb::Tweet> = tweets.iter().map(|t| (t.tweet_id, t)).collect();
        let items = items
            .iter()
            .filter_map(|item| {
                let tweet = (*by_id.get(&item.tweet_id)?).clone();
                let repost = item.reposted_by_user_id != 0;
                Some(pb::FeedItem {
                    item_id: item.item_id,
                    tweet: Some(tweet),
                    reposted_by_user_id: item.reposted_by_user_id,
                    reposted_at: repost.then(|| xir_common::ids::created_at(item.item_id)),
                })
            })
            .collect();
        Ok((items, next_max_id.unwrap_or(0)))
    }

    /// The thread around `id`: every part a card, from one page of cards for the whole thread.
    pub async fn thread(
        &self,
        id: TweetId,
        replies_after_id: i64,
        limit: PageLimit,
        viewer: Option<UserId>,
    ) -> Result<Thread, Error> {
        let tweet = self.require_tweet(id).await?;
        let mut filter = store::live();
        filter.insert("reply_to_tweet_id", id.get());
        if replies_after_id > 0 {
            filter.insert("_id", doc! { "$gt": replies_after_id });
        }
        let replies = self.find_tweets(filter, true, limit.probe()).await?;
        let (replies, next) = limit.cut(replies, |last| last.id);
        let ancestors = self.live_in_order(&tweet.ancestor_ids).await?;

        let mut page_ids: Vec<i64> = ancestors.iter().map(|t| t.id).collect();
        page_ids.push(tweet.id);
        page_ids.extend(replies.iter().map(|r| r.id));
        let states = self.viewer_states(viewer, &page_ids).await?;
        let above = ancestors.len();
        let page = ancestors
            .into_iter()
            .chain(std::iter::once(tweet))
            .chain(replies)
            .map(|t| to_proto(t, &states))
            .collect();
        let mut page = self.with_cards(page, viewer).await?;
        let replies = page.split_off(above + 1);
        let tweet = page.pop().ok_or(Error::NotFound("tweet"))?;
        Ok(Thread {
            ancestors: page,
            tweet,
            replies,
            next_replies_after_id: next.unwrap_or(0),
        })
    }

    /// The newest tweets with `tag`, as cards.
    pub async fn hashtag(
        &self,
        tag: String,
        range: &Range,
        limit: PageLimit,
        viewer: Option<UserId>,
    ) -> Result<(Vec<pb::Tweet>, i64), Error> {
        let mut filter = store::live();
        filter.insert("hashtags", tag);
        let found = self
            .find_tweets(with_range(filter, "_id", &range.0), false, limit.probe())
            .await?;
        let (found, next_max_id) = limit.cut(found, |last| last.id);
        let ids: Vec<i64> = found.iter().map(|t| t.id).collect();
        let states = self.viewer_states(viewer, &ids).await?;
        let tweets = found.into_iter().map(|t| to_proto(t, &states)).collect();
        Ok((
            self.with_cards(tweets, viewer).await?,
            next_max_id.unwrap_or(0),
        ))
    }

    /// The newest items of several authors (for svc-timeline's merge): ids only.
    pub async fn recent_by_authors(
        &self,
        authors: &[UserId],
        range: &Range,
        limit: PageLimit,
    ) -> Result<Vec<pb::RecentItem>, Error> {
        let authors: Vec<i64> = authors.iter().map(|a| a.get()).collect();
        let mut items = self.recent_items(&authors, &range.0, limit, false).await?;
        items.truncate(limit.get() as usize);
        Ok(items)
    }
}
