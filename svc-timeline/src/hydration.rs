//! Hydration: tweet ids and user ids turned into what a client shows (cards with the tweet,
//! its author, the viewer's state and one level of quoted tweet; profiles), with a fixed number
//! of batched calls to svc-tweet and svc-user whatever the page size.

use std::collections::HashMap;

use xir_common::{domain::UserId, request::dedup};
use xir_proto::{
    timeline::v1 as pb,
    tweet::v1::{BatchGetTweetsRequest, Tweet},
    user::v1::Profile,
};

use crate::{error::Error, timelines::Timelines};

/// Most ids one batch call to another service takes.
pub const BATCH: usize = 100;

pub type CardsById = HashMap<i64, pb::TweetCard>;
pub type ProfilesById = HashMap<i64, Profile>;

impl Timelines {
    pub(crate) async fn profiles(&self, ids: &[i64]) -> Result<ProfilesById, Error> {
        xir_common::profiles::by_id(&self.users, ids)
            .await
            .map_err(Error::Dependency)
    }

    pub(crate) async fn batch_tweets(
        &self,
        ids: &[i64],
        viewer: UserId,
    ) -> Result<HashMap<i64, Tweet>, Error> {
        let mut found = HashMap::new();
        for chunk in ids.chunks(BATCH) {
            let tweets = self
                .tweets
                .clone()
                .batch_get_tweets(BatchGetTweetsRequest {
                    tweet_ids: chunk.to_vec(),
                    viewer_id: viewer.get(),
                })
                .await
                .map_err(Error::Dependency)?
                .into_inner()
                .tweets;
            found.extend(tweets.into_iter().map(|t| (t.tweet_id, t)));
        }
        Ok(found)
    }

    /// Full cards for `tweet_ids` (deleted ones left out) and the profiles of `extra_users`,
    /// with a fixed number of calls whatever the page size: tweets, quoted tweets, profiles.
    #[tracing::instrument(skip_all)]
    pub(crate) async fn cards(
        &self,
        tweet_ids: &[i64],
        extra_users: &[i64],
        viewer: UserId,
    ) -> Result<(CardsById, ProfilesById), Error> {
        let tweets = self.batch_tweets(&dedup(tweet_ids), viewer).await?;
        let quoted_ids: Vec<i64> = tweets
            .values()
            .map(|t| t.quote_of_tweet_id)
            .filter(|&id| id != 0)
            .collect();
        let quoted_ids = dedup(&quoted_ids);
        let quoted = self.batch_tweets(&quoted_ids, viewer).await?;
        let user_ids: Vec<i64> = tweets
            .values()
            .chain(quoted.values())
            .map(|t| t.author_id)
            .chain(extra_users.iter().copied())
            .collect();
        let profiles = self.profiles(&user_ids).await?;
        let cards = tweets
            .into_iter()
            .map(|(id, tweet)| {
                let quoted = quoted
                    .get(&tweet.quote_of_tweet_id)
                    .map(|q| pb::QuotedTweet {
                        author: profiles.get(&q.author_id).cloned(),
                        tweet: Some(q.clone()),
                    });
                let card = pb::TweetCard {
                    author: profiles.get(&tweet.author_id).cloned(),
                    tweet: Some(tweet),
                    quoted,
                };
                (id, card)
            })
            .collect();
        Ok((cards, profiles))
    }
}
