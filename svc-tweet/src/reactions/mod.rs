//! Likes and reposts, written so that a crash at any point (of svc-tweet or of the database)
//! leaves neither a reaction without its count nor a count without its reaction.
//!
//! A reaction and its tweet's counter live in two documents, and MongoDB without replica-set
//! transactions updates them one at a time. So every change is first recorded on the reaction
//! itself as `pending: {event_id, delta, since}` (a new like or repost is inserted pending; one
//! being undone is marked pending with delta -1). Completing it then takes three steps, each
//! safe to repeat:
//!
//! 1. count it once: the tweet's counter moves by `delta`, with its timeline event in the
//!    tweet's outbox, in one update that also sets the marker `counted.<event_id>`; the update
//!    matches only while that marker is absent, so a repeat counts nothing;
//! 2. settle the reaction: clear `pending` (or delete the undone reaction);
//! 3. drop the marker: once the reaction is settled nothing can count it again, so its
//!    marker is queued in memory and dropped by the next count update of the same tweet (one
//!    write per reaction on a busy tweet, not two) or by the sweeper's next pass. A crash
//!    loses the queue: a few leftover markers, harmless (each names one finished change).
//!
//! The request completes its own change. One interrupted is completed by the next request
//! on the same reaction or, at the latest, by the sweeper (`crate::sweeper`), which completes reactions
//! pending for longer than three request timeouts: by then the request that wrote them has
//! been dropped by the server's timeout, so the two never race (a race could count twice once
//! the marker is gone). Sweepers of several replicas claim each reaction before completing it,
//! and give up on it well before the claim expires. While pending, a new reaction already
//! counts as the viewer's and an undone one no longer does.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use mongodb::{
    Collection, Database,
    bson::{DateTime, Document, doc},
};
use xir_common::{errors::During, ids::IdGenerator};

mod change;

use self::change::Change;
pub use self::change::{Reaction, current, pending_delta, timeline_event};
use crate::{
    changes::Changes,
    error::Error,
    store::{self, outbox_push},
};

#[derive(Clone)]
pub struct Reactions {
    pub(crate) tweets: Collection<Document>,
    likes: Collection<Document>,
    reposts: Collection<Document>,
    /// Markers of settled changes, by tweet, waiting to be dropped.
    pub(crate) settled: Arc<Mutex<HashMap<i64, Vec<String>>>>,
    /// Told of every tweet a count changed.
    changes: Changes,
}

impl Reactions {
    pub fn new(database: &Database, changes: Changes) -> Self {
        Self {
            tweets: database.collection(store::TWEETS),
            likes: database.collection(store::LIKES),
            reposts: database.collection(store::REPOSTS),
            settled: Arc::default(),
            changes,
        }
    }

    pub(crate) fn take_settled(&self, tweet_id: i64) -> Vec<String> {
        self.settled
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(&tweet_id)
            .unwrap_or_default()
    }

    pub(crate) fn queue_settled(&self, tweet_id: i64, markers: impl IntoIterator<Item = String>) {
        self.settled
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .entry(tweet_id)
            .or_default()
            .extend(markers);
    }

    pub(crate) fn collection(&self, reaction: Reaction) -> &Collection<Document> {
        match reaction {
            Reaction::Like => &self.likes,
            Reaction::Repost => &self.reposts,
        }
    }

    fn find_filter(tweet_id: i64, user_id: i64) -> Document {
        doc! { "tweet_id": tweet_id, "user_id": user_id }
    }

    /// Adds `user_id`'s reaction to `tweet_id`; a reaction already there is left as it is.
    pub async fn add(
        &self,
        reaction: Reaction,
        tweet_id: i64,
        user_id: i64,
        ids: &IdGenerator,
    ) -> Result<(), Error> {
        let now = DateTime::now();
        let id = match reaction {
            Reaction::Like => mongodb::bson::Bson::String(format!("{tweet_id}:{user_id}")),
            Reaction::Repost => mongodb::bson::Bson::Int64(ids.next_id()?),
        };
        let document = doc! {
            "_id": id,
            "tweet_id": tweet_id,
            "user_id": user_id,
            "created_at": now,
            "pending": { "event_id": ids.next_id()?, "delta": 1, "since": now },
        };
        let collection = self.collection(reaction);
        // Twice at most: once more after finishing an undo that was in the way.
        for _ in 0..2 {
            match collection.insert_one(&document).await {
                Ok(_) => return self.complete(reaction, &document).await,
                Err(error) if store::is_duplicate(&error) => {
                    let existing = collection
                        .find_one(Self::find_filter(tweet_id, user_id))
                        .await
                        .during("find existing reaction")?;
                    let Some(existing) = existing else { continue };
                    match pending_delta(&existing) {
                        Some(-1) => self.complete(reaction, &existing).await?,
                        Some(_) => return self.complete(reaction, &existing).await,
                        None => return Ok(()),
                    }
                }
                Err(error) => return Err(Err(error).during("insert reaction")?),
            }
        }
        Ok(())
    }

    /// Takes back `user_id`'s reaction to `tweet_id`; none there is fine.
    pub async fn remove(
        &self,
        reaction: Reaction,
        tweet_id: i64,
        user_id: i64,
        ids: &IdGenerator,
    ) -> Result<(), Error> {
        let event_id = ids.next_id()?;
        let collection = self.collection(reaction);
        // Twice at most: once more after finishing an addition that was in the way.
        for _ in 0..2 {
            let mut settled = Self::find_filter(tweet_id, user_id);
            settled.insert("pending", mongodb::bson::Bson::Null);
            let marked = collection
                .find_one_and_update(
                    settled,
                    doc! { "$set": { "pending": {
                        "event_id": event_id, "delta": -1, "since": DateTime::now(),
                    } } },
                )
                .return_document(mongodb::options::ReturnDocument::After)
                .await
                .during("mark reaction for removal")?;
            if let Some(marked) = marked {
                return self.complete(reaction, &marked).await;
            }
            let existing = collection
                .find_one(Self::find_filter(tweet_id, user_id))
                .await
                .during("find reaction to remove")?;
            match existing {
                None => return Ok(()),
                Some(existing) => {
                    let undoing = pending_delta(&existing) == Some(-1);
                    self.complete(reaction, &existing).await?;
                    if undoing {
                        return Ok(());
                    }
                }
            }
        }
        Ok(())
    }

    /// Step 1: moves the tweet's counter by the change, with its timeline event, unless the
    /// tweet's marker says it was counted (or the tweet is gone or deleted: no counter to keep).
    async fn count_once(&self, change: &Change, marker: &str) -> Result<(), Error> {
        let tweet = self
            .tweets
            .find_one(doc! { "_id": change.tweet_id })
            .projection(doc! { "author_id": 1, "deleted_at": 1 })
            .await
            .during("find reacted tweet")?;
        let Some(tweet) = tweet.filter(|t| t.get_datetime("deleted_at").is_err()) else {
            return Ok(());
        };
        let author_id = tweet.get_i64("author_id").unwrap_or_default();
        let mut filter = store::live();
        filter.insert("_id", change.tweet_id);
        filter.insert(marker, doc! { "$exists": false });
        if change.delta < 0 {
            filter.insert(change.reaction.counter(), doc! { "$gt": 0 });
        }
        let mut set = doc! { marker: true };
        let mut inc = doc! { change.reaction.counter(): i64::from(change.delta) };
        let event = change.event(author_id);
        let queues_event = event.is_some();
        if let Some(kind) = event {
            let (outbox_set, count) = outbox_push(&[timeline_event(change.event_id, kind)]);
            set.extend(outbox_set);
            inc.insert("outbox_count", count);
        }
        let stale = self.take_settled(change.tweet_id);
        let mut update = doc! { "$set": set, "$inc": inc };
        if !stale.is_empty() {
            let unset: Document = stale.iter().map(|m| (m.clone(), "".into())).collect();
            update.insert("$unset", unset);
        }
        match self.tweets.update_one(filter, update).await {
            Ok(outcome) if outcome.matched_count == 1 => {
                self.changes
                    .tweet_changed(change.tweet_id, queues_event)
                    .await;
                Ok(())
            }
            // Counted already (or gone): the stale markers were not dropped either.
            Ok(_) => {
                self.queue_settled(change.tweet_id, stale);
                Ok(())
            }
            Err(error) => {
                self.queue_settled(change.tweet_id, stale);
                Err(Err(error).during("count reaction on tweet")?)
            }
        }
    }

    /// Completes the pending change of `stored` (a reaction document): see the module docs.
    pub async fn complete(&self, reaction: Reaction, stored: &Document) -> Result<(), Error> {
        let Ok(pending) = stored.get_document("pending") else {
            return Ok(());
        };
        let (Ok(event_id), Ok(delta), Ok(tweet_id), Ok(user_id)) = (
            pending.get_i64("event_id"),
            pending.get_i32("delta"),
            stored.get_i64("tweet_id"),
            stored.get_i64("user_id"),
        ) else {
            tracing::warn!(?stored, "a malformed pending reaction; left alone");
            return Ok(());
        };
        let marker = format!("counted.{event_id}");
        let change = Change {
            reaction,
            event_id,
            delta,
            tweet_id,
            user_id,
            reaction_id: stored.get_i64("_id").unwrap_or_default(),
        };
        // The reaction was written (or marked undone) before this completion started.
        self.changes
            .reaction_changed(user_id, tweet_id, reaction == Reaction::Repost)
            .await;
        self.count_once(&change, &marker).await?;
        let collection = self.collection(reaction);
        let this_change = doc! { "_id": stored.get("_id").cloned(), "pending.event_id": event_id };
        if delta > 0 {
            collection
                .update_one(this_change, doc! { "$unset": { "pending": "" } })
                .await
                .during("settle added reaction")?;
        } else {
            collection
                .delete_one(this_change)
                .await
                .during("delete removed reaction")?;
        }
        self.queue_settled(tweet_id, [marker]);
        Ok(())
    }
}
