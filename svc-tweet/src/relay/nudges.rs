//! Tweets whose events were just written, named by the writes for the relay to deliver first
//! (see the relay's module docs), and new tweets written already claimed by this process's
//! relay, handed to it whole.

use std::{
    sync::{Mutex, PoisonError},
    time::Duration,
};

use mongodb::bson::{DateTime, Document};
use tokio::sync::Notify;
use xir_common::request::dedup;

use super::{Claimed, claims::claim_id, millis_from_now};
use crate::store::TweetDoc;

/// Tweets whose events were just written, for the relay to deliver first.
#[derive(Default)]
pub struct Nudges {
    queued: Mutex<Queued>,
    /// How long a new tweet is written claimed for; None when no relay of this process reads
    /// the births (new tweets are then written unclaimed, for any relay's search).
    birth_lease: Option<Duration>,
    /// The claim every tweet born in this process carries: each is worked once, from memory.
    birth_claim: i64,
    pub(super) wake: Notify,
}

#[derive(Default)]
struct Queued {
    /// Tweets to claim by id.
    tweets: Vec<i64>,
    /// New tweets written with this process's birth claim, with their events.
    born: Vec<Claimed>,
}

/// Nudged tweets held at most (and new tweets claimed at birth); past that the relay's search
/// for due tweets finds the rest.
const NUDGES_HELD: usize = 4_096;

/// The lease and claim a new tweet is written with (see [`Nudges::birth_claim`]).
pub struct BirthClaim {
    claim: i64,
    until: DateTime,
}

impl BirthClaim {
    /// Sets the claim on the document about to be inserted.
    pub fn stamp(&self, document: &mut Document) {
        document.insert("outbox_lease_until", self.until);
        document.insert("outbox_claim", self.claim);
    }
}

impl Nudges {
    /// Nudges whose relay also takes the tweets this process writes, claimed at birth.
    pub fn claiming_births(lease: Duration) -> Self {
        Self {
            birth_lease: Some(lease),
            birth_claim: claim_id(),
            ..Self::default()
        }
    }

    /// Announces that `tweet_id` has events waiting.
    pub fn tweet(&self, tweet_id: i64) {
        {
            let mut queued = self.queued.lock().unwrap_or_else(PoisonError::into_inner);
            if queued.tweets.len() >= NUDGES_HELD {
                return;
            }
            queued.tweets.push(tweet_id);
        }
        self.wake.notify_one();
    }

    /// The claim to write a new tweet with, so that this process's relay delivers its events
    /// from memory, without a claim's update and read; None when no relay here takes births
    /// or its queue is full (the tweet is then written unclaimed, and found by a search).
    pub fn birth_claim(&self) -> Option<BirthClaim> {
        let lease = self.birth_lease?;
        let queued = self.queued.lock().unwrap_or_else(PoisonError::into_inner);
        // A soft bound: writes that got their claim before the queue filled still join it.
        (queued.born.len() < NUDGES_HELD).then(|| BirthClaim {
            claim: self.birth_claim,
            until: millis_from_now(lease.as_millis() as u64),
        })
    }

    /// Hands the relay a new tweet written with `claim`. Should the relay not get to it
    /// before the lease ends (or the process die first), the search for due tweets finds it.
    pub fn born(&self, tweet: &TweetDoc, claim: &BirthClaim) {
        let born = Claimed::born(tweet, claim.claim);
        self.queued
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .born
            .push(born);
        self.wake.notify_one();
    }

    /// Up to `limit` tweets claimed at birth and up to `limit` nudged tweets (each once),
    /// oldest first.
    pub(super) fn take(&self, limit: usize) -> (Vec<Claimed>, Vec<i64>) {
        let mut queued = self.queued.lock().unwrap_or_else(PoisonError::into_inner);
        let born_end = limit.min(queued.born.len());
        let born: Vec<Claimed> = queued.born.drain(..born_end).collect();
        let end = limit.min(queued.tweets.len());
        let taken: Vec<i64> = queued.tweets.drain(..end).collect();
        if !queued.tweets.is_empty() || !queued.born.is_empty() {
            self.wake.notify_one(); // the rest next pass
        }
        drop(queued);
        (born, dedup(&taken))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        compose::{NewTweet, document},
        domain::TweetText,
    };

    fn new_tweet(id: i64) -> TweetDoc {
        let text = TweetText::parse("a new tweet").expect("valid text");
        document(NewTweet {
            id,
            author: 1,
            text: &text,
            parent: None,
            quoted: None,
            mentions: Vec::new(),
            event_ids: [id + 1, id + 2],
            now: DateTime::now(),
        })
    }

    #[test]
    fn births_are_claimed_only_where_a_relay_takes_them_and_has_room() {
        assert!(Nudges::default().birth_claim().is_none(), "no relay here");
        let nudges = Nudges::claiming_births(Duration::from_secs(30));
        let claim = nudges.birth_claim().expect("room for a birth");
        assert!(claim.until > DateTime::now());
        let tweet = new_tweet(7);
        for _ in 0..NUDGES_HELD {
            nudges.born(&tweet, &claim);
        }
        assert!(nudges.birth_claim().is_none(), "the queue is full");
        let (born, nudged) = nudges.take(10);
        assert_eq!((born.len(), nudged.len()), (10, 0));
        assert!(nudges.birth_claim().is_some(), "room again");
    }

    #[test]
    fn a_stamped_document_carries_the_claim_and_its_lease() {
        let nudges = Nudges::claiming_births(Duration::from_secs(30));
        let claim = nudges.birth_claim().expect("claim");
        let mut document = Document::new();
        claim.stamp(&mut document);
        assert_eq!(document.get_i64("outbox_claim"), Ok(nudges.birth_claim));
        assert!(document.get_datetime("outbox_lease_until").is_ok());
    }
}
