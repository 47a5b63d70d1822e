//! CreateTweet's idempotency keys: a client that retries a post with the same key gets the
//! first tweet back, never a second one. A key is stored as `<author>:<key>` with the hash of
//! the text and the tweet it made, and lives 24 hours. It is claimed before the tweet is
//! written, so two concurrent retries make one tweet, and a retry that finds the key writes
//! the tweet itself if it is still missing: nobody waits for anybody. A request claims its key
//! without looking it up first (one insert; the unique `_id` refuses a key already taken), so
//! only a repeat pays for reading it.

use mongodb::bson::{DateTime, doc};
use sha2::{Digest, Sha256};
use xir_common::errors::{During, FieldViolations};

use crate::{
    domain::{IdempotencyKey, TweetId, UserId},
    error::Error,
    store::{self, IdempotencyDoc, TweetDoc},
    tweets::Tweets,
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

/// What claiming a key found.
pub enum Claimed {
    /// The key is this request's: write the tweet.
    Mine,
    /// An earlier request with this key made this tweet: answer with it.
    Earlier(Box<TweetDoc>),
}

impl Tweets {
    /// The tweet an earlier request with this key made, if there was one.
    pub(crate) async fn replay(&self, claim: &Claim) -> Result<Option<TweetDoc>, Error> {
        let Some(stored) = self
            .keys
            .find_one(doc! { "_id": &claim.id })
            .await
            .during("find idempotency key")?
        else {
            return Ok(None);
        };
        let tweet_id = match claim.verdict(&stored, DateTime::now())? {
            Verdict::Expired => {
                self.keys
                    .delete_one(doc! { "_id": &claim.id })
                    .await
                    .during("drop expired idempotency key")?;
                return Ok(None);
            }
            Verdict::Repeat(tweet_id) => {
                TweetId::parse(tweet_id).map_err(|_| Error::Conflict("corrupt idempotency key"))?
            }
        };
        if let Some(tweet) = stored.tweet {
            // The first request may not have written it yet, or may have died first.
            self.write_tweet(&tweet).await?;
        }
        self.live_tweet(tweet_id)
            .await?
            .map(Some)
            .ok_or(Error::Conflict(
                "the tweet made with this idempotency key was deleted",
            ))
    }

    /// Claims the key for `tweet` before the tweet is written, so that two concurrent
    /// requests with one key make one tweet. A key found taken answers with its tweet; one
    /// found expired is dropped (by the replay) and claimed afresh.
    pub(crate) async fn claim(&self, claim: &Claim, tweet: &TweetDoc) -> Result<Claimed, Error> {
        let stored = IdempotencyDoc {
            id: claim.id.clone(),
            tweet_id: tweet.id,
            text_sha256: claim.text_sha256.clone(),
            expires_at: DateTime::from_millis(DateTime::now().timestamp_millis() + TTL_MS),
            tweet: Some(tweet.clone()),
        };
        for _ in 0..2 {
            match self.keys.insert_one(&stored).await {
                Ok(_) => return Ok(Claimed::Mine),
                Err(error) if store::is_duplicate(&error) => {
                    if let Some(tweet) = self.replay(claim).await? {
                        return Ok(Claimed::Earlier(Box::new(tweet)));
                    }
                }
                Err(error) => return Err(Err(error).during("claim idempotency key")?),
            }
        }
        // Taken again after its expired claim was dropped: another request has it now.
        Err(Error::Conflict(
            "the idempotency key was claimed concurrently",
        ))
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
            tweet: None,
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
