//! Tweets whose events were just written, named by the writes for the relay to deliver first
//! (see the relay's module docs).

use std::sync::{Mutex, PoisonError};

use tokio::sync::Notify;
use xir_common::request::dedup;

/// Tweets whose events were just written, for the relay to deliver first.
#[derive(Default)]
pub struct Nudges {
    tweets: Mutex<Vec<i64>>,
    pub(super) wake: Notify,
}

/// Nudged tweets held at most; past that the relay's search for due tweets finds the rest.
const NUDGES_HELD: usize = 4_096;

impl Nudges {
    /// Announces that `tweet_id` has events waiting.
    pub fn tweet(&self, tweet_id: i64) {
        {
            let mut tweets = self.tweets.lock().unwrap_or_else(PoisonError::into_inner);
            if tweets.len() >= NUDGES_HELD {
                return;
            }
            tweets.push(tweet_id);
        }
        self.wake.notify_one();
    }

    /// Up to `limit` nudged tweets, oldest first, each once.
    pub(super) fn take(&self, limit: usize) -> Vec<i64> {
        let mut tweets = self.tweets.lock().unwrap_or_else(PoisonError::into_inner);
        let end = limit.min(tweets.len());
        let taken: Vec<i64> = tweets.drain(..end).collect();
        if !tweets.is_empty() {
            self.wake.notify_one(); // the rest next pass
        }
        drop(tweets);
        dedup(&taken)
    }
}
