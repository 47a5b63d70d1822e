//! svc-tweet's collections and the indexes every query needs (see svc-tweet/README.md).

use mongodb::bson::doc;
use xir_common::mongo::{IndexPlan, index};

pub const TWEETS: &str = "tweets";
pub const LIKES: &str = "likes";
pub const REPOSTS: &str = "reposts";
pub const IDEMPOTENCY_KEYS: &str = "idempotency_keys";

pub fn indexes() -> IndexPlan {
    vec![
        // ListUserTweets: an author's tweets, newest first.
        (
            TWEETS,
            index(doc! { "author_id": 1, "_id": -1 }, "author_newest", false),
        ),
        // GetThread: direct replies to a tweet, oldest first.
        (
            TWEETS,
            index(
                doc! { "reply_to_tweet_id": 1, "_id": 1 },
                "replies_oldest",
                false,
            ),
        ),
        // ListHashtagTweets: tweets by hashtag (multikey), newest first.
        (
            TWEETS,
            index(doc! { "hashtags": 1, "_id": -1 }, "hashtag_newest", false),
        ),
        // The outbox relay: pending events whose lease has expired.
        (
            TWEETS,
            index(
                doc! { "outbox_pending": 1, "outbox_lease_until": 1 },
                "outbox_due",
                false,
            ),
        ),
        // One like per user and tweet; the viewer's likes among a page of tweets.
        (
            LIKES,
            index(
                doc! { "tweet_id": 1, "user_id": 1 },
                "tweet_user_unique",
                true,
            ),
        ),
        (
            LIKES,
            index(doc! { "user_id": 1, "tweet_id": 1 }, "user_tweet", false),
        ),
        // One repost per user and tweet; a user's reposts, newest first.
        (
            REPOSTS,
            index(
                doc! { "tweet_id": 1, "user_id": 1 },
                "tweet_user_unique",
                true,
            ),
        ),
        (
            REPOSTS,
            index(doc! { "user_id": 1, "_id": -1 }, "user_newest", false),
        ),
        // Idempotency keys are kept 24 hours; expired ones are swept by this index.
        (
            IDEMPOTENCY_KEYS,
            index(doc! { "expires_at": 1 }, "expiry", false),
        ),
    ]
}
