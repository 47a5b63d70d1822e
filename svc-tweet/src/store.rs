//! svc-tweet's collections, documents, and the indexes every query needs.
//!
//! `tweets` documents carry their own outbox: events waiting for delivery live in the tweet's
//! `outbox` sub-document (keyed by event id), written by the same single-document update as
//! the change that caused them, with `outbox_count` > 0 while any are pending. MongoDB-protocol
//! servers without multi-document transactions still never lose an event this way.

use mongodb::bson::{self, Binary, DateTime, Document, doc, spec::BinarySubtype};
use serde::{Deserialize, Serialize};
pub use xir_common::mongo::is_duplicate;
use xir_common::mongo::{IndexPlan, index};

pub const TWEETS: &str = "tweets";
pub const LIKES: &str = "likes";
pub const REPOSTS: &str = "reposts";
pub const IDEMPOTENCY_KEYS: &str = "idempotency_keys";

pub fn indexes() -> IndexPlan {
    vec![
        // ListUserTweets, ListRecentByAuthors: an author's tweets, newest first.
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
        // The outbox relay: tweets with pending events whose lease has expired.
        (
            TWEETS,
            index(
                doc! { "outbox_count": 1, "outbox_lease_until": 1 },
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
        // Likes and reposts whose change was interrupted (see reactions.rs).
        (
            LIKES,
            index(doc! { "pending.since": 1 }, "pending_since", false),
        ),
        (
            REPOSTS,
            index(doc! { "pending.since": 1 }, "pending_since", false),
        ),
        // Idempotency keys live 24 hours; expired ones are swept by this index.
        (
            IDEMPOTENCY_KEYS,
            index(doc! { "expires_at": 1 }, "expiry", false),
        ),
    ]
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MentionDoc {
    pub user_id: i64,
    pub username: String,
}

/// A tweet as stored. Optional references are 0 when absent, as in the API.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TweetDoc {
    #[serde(rename = "_id")]
    pub id: i64,
    pub author_id: i64,
    pub text: String,
    pub created_at: DateTime,
    #[serde(default)]
    pub reply_to_tweet_id: i64,
    #[serde(default)]
    pub reply_to_user_id: i64,
    pub conversation_id: i64,
    /// From the root of the conversation down to the parent (at most 100), so GetThread reads
    /// all ancestors in one query.
    #[serde(default)]
    pub ancestor_ids: Vec<i64>,
    #[serde(default)]
    pub quote_of_tweet_id: i64,
    #[serde(default)]
    pub mentions: Vec<MentionDoc>,
    #[serde(default)]
    pub hashtags: Vec<String>,
    #[serde(default)]
    pub like_count: i64,
    #[serde(default)]
    pub reply_count: i64,
    #[serde(default)]
    pub repost_count: i64,
    #[serde(default)]
    pub quote_count: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<DateTime>,
    /// Pending events: event id -> [`PendingEvent`].
    #[serde(default)]
    pub outbox: Document,
    #[serde(default)]
    pub outbox_count: i64,
}

/// Where a pending event goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// svc-timeline's ApplyTweetEvent (timelines and notifications).
    Timeline,
    /// svc-user's ApplyTweetCountEvent (the author's tweet count).
    UserTweetCount,
}

impl Target {
    /// The `topic` label of the relay's metrics, named like the PostgreSQL outboxes' topics.
    pub fn topic(self) -> &'static str {
        match self {
            Target::Timeline => "timeline.tweet",
            Target::UserTweetCount => "user.tweet_count",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingEvent {
    pub target: Target,
    /// The encoded request message (`TweetEvent` or `ApplyTweetCountEventRequest`).
    pub payload: Binary,
    pub created_at: DateTime,
    #[serde(default)]
    pub attempts: i32,
}

impl PendingEvent {
    pub fn new(target: Target, payload: Vec<u8>) -> Self {
        Self {
            target,
            payload: Binary {
                subtype: BinarySubtype::Generic,
                bytes: payload,
            },
            created_at: DateTime::now(),
            attempts: 0,
        }
    }
}

/// A stored time as the API's `Timestamp`.
pub fn timestamp(at: DateTime) -> prost_types::Timestamp {
    let millis = at.timestamp_millis();
    prost_types::Timestamp {
        seconds: millis.div_euclid(1000),
        nanos: (millis.rem_euclid(1000) * 1_000_000) as i32,
    }
}

/// The `$set` that adds `events` to a tweet's outbox in the same update, and how many.
pub fn outbox_push(events: &[(String, PendingEvent)]) -> (Document, i64) {
    let mut set = Document::new();
    for (id, event) in events {
        set.insert(
            format!("outbox.{id}"),
            bson::to_bson(event).unwrap_or(bson::Bson::Null),
        );
    }
    (set, events.len() as i64)
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RepostDoc {
    /// The repost's own id, time-ordered like a tweet id.
    #[serde(rename = "_id")]
    pub id: i64,
    pub tweet_id: i64,
    pub user_id: i64,
    pub created_at: DateTime,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IdempotencyDoc {
    /// `<author id>:<key>`.
    #[serde(rename = "_id")]
    pub id: String,
    pub tweet_id: i64,
    /// SHA-256 of the text, hex: a reuse with another text is refused.
    pub text_sha256: String,
    pub expires_at: DateTime,
    /// The tweet the key's first request made, written before the tweet itself: whichever
    /// request finds the key writes the tweet if it is missing, so a repeat never waits for
    /// the first request (and a first request that died still gets its tweet written).
    /// Absent on keys stored before this field existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tweet: Option<TweetDoc>,
}

/// Tweets not deleted.
pub fn live() -> Document {
    doc! { "deleted_at": null }
}

/// The projection that leaves the outbox out of reads.
pub fn without_outbox() -> Document {
    doc! { "outbox": 0 }
}
