//! What a write tells the rest of the service once MongoDB has it: the relay, that events wait
//! in a tweet (see `relay`), and the cache, which of its entries are stale (see `cache`).

use std::sync::Arc;

use crate::{
    cache::TweetCache,
    relay::{BirthClaim, Nudges},
    store::TweetDoc,
};

#[derive(Clone, Default)]
pub struct Changes {
    nudges: Arc<Nudges>,
    cache: Arc<TweetCache>,
}

impl Changes {
    pub fn new(nudges: Arc<Nudges>, cache: Arc<TweetCache>) -> Self {
        Self { nudges, cache }
    }

    pub fn cache(&self) -> &TweetCache {
        &self.cache
    }

    /// Tweet `id` was written: `queued_events` when the write put events in its outbox.
    pub async fn tweet_changed(&self, id: i64, queued_events: bool) {
        if queued_events {
            self.nudges.tweet(id);
        }
        self.cache.hold(id).await;
    }

    /// The claim to write a new tweet with, when this process's relay takes it from memory.
    pub fn birth_claim(&self) -> Option<BirthClaim> {
        self.nudges.birth_claim()
    }

    /// A new tweet was written (with its events, and `claim` if it was written with one):
    /// its followers are about to read it.
    pub async fn tweet_created(&self, tweet: &TweetDoc, claim: Option<&BirthClaim>) {
        match claim {
            Some(claim) => self.nudges.born(tweet, claim),
            None => self.nudges.tweet(tweet.id),
        }
        // Two keys, no order between them: one round trip's wait, not two.
        tokio::join!(
            self.cache.fill(std::slice::from_ref(tweet)),
            self.cache.author_posted(tweet),
        );
    }

    /// `user`'s own items changed: a tweet of theirs deleted, a repost made or undone.
    pub async fn items_changed(&self, user: i64) {
        self.cache.author_changed(user).await;
    }

    /// `user` liked or reposted `tweet`, or took it back (`repost`: a repost, which is one of
    /// the user's items too).
    pub async fn reaction_changed(&self, user: i64, tweet: i64, repost: bool) {
        self.cache.hold_viewer_state(user, tweet).await;
        if repost {
            self.items_changed(user).await;
        }
    }
}
