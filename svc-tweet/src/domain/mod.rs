//! Parsed request values: a handler never touches a bare i64 or String from the wire.

mod idempotency_key;
mod tweet_text;

pub use idempotency_key::IdempotencyKey;
pub use tweet_text::{InvalidText, TweetText, extract, normalise_hashtag, weighted_length};
pub use xir_common::domain::{PageLimit, UserId};

/// A tweet or repost id: positive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TweetId(i64);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("must be a positive tweet id")]
pub struct InvalidTweetId;

impl TweetId {
    pub fn parse(raw: i64) -> Result<Self, InvalidTweetId> {
        if raw > 0 {
            Ok(TweetId(raw))
        } else {
            Err(InvalidTweetId)
        }
    }

    /// `None` for 0, the proto's "not set".
    pub fn parse_optional(raw: i64) -> Result<Option<Self>, InvalidTweetId> {
        if raw == 0 {
            Ok(None)
        } else {
            Self::parse(raw).map(Some)
        }
    }

    pub fn get(self) -> i64 {
        self.0
    }
}
