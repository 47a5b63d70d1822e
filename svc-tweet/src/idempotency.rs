//! CreateTweet's idempotency keys: a client that retries a post with the same key gets the
//! first tweet back, never a second one. A key is stored as `<author>:<key>` with the hash of
//! the text and lives 24 hours; it is claimed before the tweet is written, so two concurrent
//! retries make one tweet.

use mongodb::bson::{DateTime, doc};
use sha2::{Digest, Sha256};
use xir_common::errors::FieldViolations;

use crate::{
    domain::{IdempotencyKey, TweetId, UserId},
    error::Error,
    grpc::TweetApi,
    store::{self, IdempotencyDoc, TweetDoc},
};

/// How long a key is remembered.
pub const TTL_MS: i64 = 24 * 60 * 60 * 1000;

/// One request's key, bound to its author and its text.
pub struct Claim {
    id: String,
    text_sha256: String,
}

/// What a stored key says about a request that presents it again.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    /// Past its lifetime: as if it had never been used.
    Expired,
    /// The same request again: its tweet is the answer.
    Repeat(i64),
}

impl Claim {
    pub fn new(author: UserId, key: &IdempotencyKey, text: &str) -> Self {
        Self {
            id: format!("{}:{}", author.get(), key.as_str()),
            text_sha256: format!("{:x}", Sha256::digest(text.as_bytes())),
        }
    }

    /// A key reused with another text is the client's mistake, not a repeat.
    fn verdict(&self, stored: &IdempotencyDoc, now: DateTime) -> Result<Verdict, Error> {
        if stored.expires_at < now {
            return Ok(Verdict::Expired);
        }
        if stored.text_sha256 != self.text_sha256 {
            return Err(FieldViolations::single(
                "idempotency_key",
                "was used with a different text",
            )
            .into());
        }
        Ok(Verdict::Repeat(stored.tweet_id))
    }
}

impl TweetApi {
    /// The tweet an earlier request with this key made, if there was one.
    pub(crate) async fn replay(&self, claim: &Claim) -> Result<Option<TweetDoc>, Error> {
        let Some(stored) = self.keys.find_one(doc! { "_id": &claim.id }).await? else {
            return Ok(None);
        };
        let tweet_id = match claim.verdict(&stored, DateTime::now())? {
            Verdict::Expired => {
                self.keys.delete_one(doc! { "_id": &claim.id }).await?;
                return Ok(None);
            }
            Verdict::Repeat(tweet_id) => {
                TweetId::parse(tweet_id).map_err(|_| Error::Conflict("corrupt idempotency key"))?
            }
        };
        // The first request may still be writing its tweet; it is created right after the key.
        for _ in 0..20 {
            if let Some(tweet) = self.live_tweet(tweet_id).await? {
                return Ok(Some(tweet));
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        Err(Error::Conflict(
            "a request with this idempotency key is still in progress",
        ))
    }

    /// Claims the key for `tweet_id` before the tweet is written. `Some` is the tweet of a
    /// request that claimed it first (the answer to give instead).
    pub(crate) async fn claim(
        &self,
        claim: &Claim,
        tweet_id: i64,
    ) -> Result<Option<TweetDoc>, Error> {
        let stored = IdempotencyDoc {
            id: claim.id.clone(),
            tweet_id,
            text_sha256: claim.text_sha256.clone(),
            expires_at: DateTime::from_millis(DateTime::now().timestamp_millis() + TTL_MS),
        };
        match self.keys.insert_one(stored).await {
            Ok(_) => Ok(None),
            Err(error) if store::is_duplicate(&error) => match self.replay(claim).await? {
                Some(tweet) => Ok(Some(tweet)),
                None => Err(Error::from(error)),
            },
            Err(error) => Err(Error::from(error)),
        }
    }

    /// Gives the key back when its tweet could not be written, so a retry can make it.
    pub(crate) async fn release(&self, claim: &Claim) {
        let _ = self.keys.delete_one(doc! { "_id": &claim.id }).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim(text: &str) -> Claim {
        let key = IdempotencyKey::parse("draft-1")
            .expect("a valid key")
            .expect("a key");
        Claim::new(UserId::parse(7).expect("an id"), &key, text)
    }

    fn stored(text: &str, expires_at_ms: i64) -> IdempotencyDoc {
        let claim = claim(text);
        IdempotencyDoc {
            id: claim.id,
            tweet_id: 99,
            text_sha256: claim.text_sha256,
            expires_at: DateTime::from_millis(expires_at_ms),
        }
    }

    #[test]
    fn a_key_belongs_to_its_author() {
        assert_eq!(claim("hi").id, "7:draft-1");
    }

    #[test]
    fn the_same_text_within_a_day_is_a_repeat_and_another_text_is_refused() {
        let now = DateTime::from_millis(1_000);
        assert_eq!(
            claim("hello").verdict(&stored("hello", 2_000), now).ok(),
            Some(Verdict::Repeat(99))
        );
        let refused = claim("other").verdict(&stored("hello", 2_000), now);
        assert!(
            matches!(refused, Err(Error::InvalidArgument(ref v)) if v.to_string().starts_with("idempotency_key")),
            "{refused:?}"
        );
    }

    #[test]
    fn an_expired_key_is_as_if_never_used() {
        let now = DateTime::from_millis(3_000);
        assert_eq!(
            claim("other").verdict(&stored("hello", 2_000), now).ok(),
            Some(Verdict::Expired)
        );
    }
}
