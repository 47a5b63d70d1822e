//! Tweets by id. An entry is the live tweet's document (its outbox left out) as BSON, kept
//! `tweet_cache.ttl_secs`; a new tweet is put in as it is written, since its author's
//! followers are about to read it. A write that changes a tweet (a count, a deletion) replaces
//! its entry with an empty *hold* for `tweet_cache.hold_ms`, and readers fill only absent
//! entries (SET NX): a reader that fetched the old document just before the write cannot put
//! it back after it, unless it stalls for longer than the hold. While the hold lasts, that
//! tweet is read from MongoDB.

use std::collections::HashMap;

use mongodb::bson;

use super::TweetCache;
use crate::store::TweetDoc;

fn key(prefix: &str, id: i64) -> String {
    format!("{prefix}tweet:{id}")
}

impl TweetCache {
    /// The cached tweets among `ids` (holds and misses left out).
    pub async fn get(&self, ids: &[i64]) -> HashMap<i64, TweetDoc> {
        self.get_many("tweet", ids, key, |id, bytes| {
            let tweet: TweetDoc = bson::from_slice(bytes).ok()?;
            (tweet.id == id).then_some(tweet)
        })
        .await
    }

    /// Puts `tweets` (live ones, as read from MongoDB) in where nothing, not even a hold, is.
    pub async fn fill(&self, tweets: &[TweetDoc]) {
        let entries = tweets
            .iter()
            .filter_map(|tweet| Some((tweet.id, bson::to_vec(&cacheable(tweet)).ok()?)))
            .collect();
        self.fill_many(entries, key).await;
    }

    /// Marks tweet `id` changed: its entry becomes a hold.
    pub async fn hold(&self, id: i64) {
        self.hold_entry(|prefix| key(prefix, id), &format!("tweet {id}"))
            .await;
    }
}

/// The document as cached: without its outbox (events are the relay's business, and large).
fn cacheable(tweet: &TweetDoc) -> TweetDoc {
    TweetDoc {
        outbox: bson::Document::new(),
        outbox_count: 0,
        ..tweet.clone()
    }
}
