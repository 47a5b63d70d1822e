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
//! on the same reaction or, at the latest, by [`spawn_sweeper`], which completes reactions
//! pending for longer than three request timeouts: by then the request that wrote them has
//! been dropped by the server's timeout, so the two never race (a race could count twice once
//! the marker is gone). Sweepers of several replicas claim each reaction before completing it,
//! and give up on it well before the claim expires. While pending, a new reaction already
//! counts as the viewer's and an undone one no longer does.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use futures_util::TryStreamExt;
use mongodb::{
    Collection, Database,
    bson::{DateTime, Document, doc},
};
use prost::Message;
use tokio_util::sync::CancellationToken;
use xir_common::{
    errors::{DbError, During},
    ids::IdGenerator,
};
use xir_proto::timeline::v1::{self as events, tweet_event::Kind};

use crate::{
    error::Error,
    store::{self, PendingEvent, Target, outbox_push},
};

const SWEEP_EVERY: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reaction {
    Like,
    Repost,
}

impl Reaction {
    fn counter(self) -> &'static str {
        match self {
            Reaction::Like => "like_count",
            Reaction::Repost => "repost_count",
        }
    }
}

/// A tweet event for the timeline service, keyed by `id` in the tweet's outbox.
pub fn timeline_event(id: i64, kind: Kind) -> (String, PendingEvent) {
    let event = events::TweetEvent {
        event_id: format!("svc-tweet:{id}"),
        occurred_at: Some(store::timestamp(DateTime::now())),
        kind: Some(kind),
    };
    (
        id.to_string(),
        PendingEvent::new(Target::Timeline, event.encode_to_vec()),
    )
}

/// The delta of a reaction's pending change, if it has one.
pub fn pending_delta(reaction: &Document) -> Option<i32> {
    reaction
        .get_document("pending")
        .ok()
        .and_then(|pending| pending.get_i32("delta").ok())
}

/// The filter of reactions that count as the viewer's (an undo under way no longer does).
pub fn current() -> Document {
    doc! { "pending.delta": { "$ne": -1 } }
}

#[derive(Clone)]
pub struct Reactions {
    tweets: Collection<Document>,
    likes: Collection<Document>,
    reposts: Collection<Document>,
    /// Markers of settled changes, by tweet, waiting to be dropped.
    settled: Arc<Mutex<HashMap<i64, Vec<String>>>>,
}

impl Reactions {
    pub fn new(database: &Database) -> Self {
        Self {
            tweets: database.collection(store::TWEETS),
            likes: database.collection(store::LIKES),
            reposts: database.collection(store::REPOSTS),
            settled: Arc::default(),
        }
    }

    fn take_settled(&self, tweet_id: i64) -> Vec<String> {
        self.settled
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(&tweet_id)
            .unwrap_or_default()
    }

    fn queue_settled(&self, tweet_id: i64, markers: impl IntoIterator<Item = String>) {
        self.settled
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .entry(tweet_id)
            .or_default()
            .extend(markers);
    }

    /// Drops every queued marker (the sweeper's pass).
    pub async fn drop_settled_markers(&self) -> Result<(), Error> {
        let queued: Vec<(i64, Vec<String>)> = self
            .settled
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .drain()
            .collect();
        for (tweet_id, markers) in queued {
            let unset: Document = markers.iter().map(|m| (m.clone(), "".into())).collect();
            let _serialised = store::locks::tweet(tweet_id).await;
            if let Err(error) = self
                .tweets
                .update_one(doc! { "_id": tweet_id }, doc! { "$unset": unset })
                .await
            {
                self.queue_settled(tweet_id, markers);
                return Err(Error::from(DbError {
                    operation: "drop settled markers",
                    source: error,
                }));
            }
        }
        Ok(())
    }

    fn collection(&self, reaction: Reaction) -> &Collection<Document> {
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
                Err(error) => {
                    return Err(Error::from(DbError {
                        operation: "insert reaction",
                        source: error,
                    }));
                }
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
        let tweet = self
            .tweets
            .find_one(doc! { "_id": tweet_id })
            .projection(doc! { "author_id": 1, "deleted_at": 1 })
            .await
            .during("find reacted tweet")?;
        // A tweet gone or deleted has no counter to keep: only the reaction is settled.
        if let Some(tweet) = tweet.filter(|t| t.get_datetime("deleted_at").is_err()) {
            let author_id = tweet.get_i64("author_id").unwrap_or_default();
            let event = match (reaction, delta > 0) {
                (Reaction::Like, true) => Some(Kind::Liked(events::TweetLiked {
                    tweet_id,
                    tweet_author_id: author_id,
                    liker_id: user_id,
                })),
                (Reaction::Like, false) => None,
                (Reaction::Repost, added) => {
                    let repost_id = stored.get_i64("_id").unwrap_or_default();
                    Some(if added {
                        Kind::Reposted(events::TweetReposted {
                            repost_id,
                            tweet_id,
                            tweet_author_id: author_id,
                            reposter_id: user_id,
                        })
                    } else {
                        Kind::Unreposted(events::TweetUnreposted {
                            repost_id,
                            tweet_id,
                            reposter_id: user_id,
                        })
                    })
                }
            };
            let mut filter = store::live();
            filter.insert("_id", tweet_id);
            filter.insert(marker.clone(), doc! { "$exists": false });
            if delta < 0 {
                filter.insert(reaction.counter(), doc! { "$gt": 0 });
            }
            let mut set = doc! { marker.clone(): true };
            let mut inc = doc! { reaction.counter(): i64::from(delta) };
            if let Some(kind) = event {
                let (outbox_set, count) = outbox_push(&[timeline_event(event_id, kind)]);
                set.extend(outbox_set);
                inc.insert("outbox_count", count);
            }
            let stale = self.take_settled(tweet_id);
            let mut update = doc! { "$set": set, "$inc": inc };
            if !stale.is_empty() {
                let unset: Document = stale.iter().map(|m| (m.clone(), "".into())).collect();
                update.insert("$unset", unset);
            }
            let _serialised = store::locks::tweet(tweet_id).await;
            match self.tweets.update_one(filter, update).await {
                Ok(outcome) if outcome.matched_count == 1 => {}
                // Counted already (or gone): the stale markers were not dropped either.
                Ok(_) => self.queue_settled(tweet_id, stale),
                Err(error) => {
                    self.queue_settled(tweet_id, stale);
                    return Err(Error::from(DbError {
                        operation: "count reaction on tweet",
                        source: error,
                    }));
                }
            }
        }
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

    /// Completes reactions left pending (by a crash, or a request that lost its database) for
    /// longer than `abandoned_after`; returns how many.
    pub async fn sweep(&self, abandoned_after: Duration) -> Result<usize, Error> {
        let now = DateTime::now().timestamp_millis();
        let ms = abandoned_after.as_millis() as i64;
        let before = DateTime::from_millis(now - ms);
        let mut completed = 0;
        for reaction in [Reaction::Like, Reaction::Repost] {
            let collection = self.collection(reaction);
            let abandoned: Vec<Document> = collection
                .find(doc! { "pending.since": { "$lt": before } })
                .limit(100)
                .await
                .during("find abandoned reactions")?
                .try_collect()
                .await
                .during("read abandoned reactions")?;
            for stored in &abandoned {
                let Ok(event_id) = stored
                    .get_document("pending")
                    .and_then(|p| p.get_i64("event_id"))
                else {
                    continue;
                };
                let claimed = collection
                    .find_one_and_update(
                        doc! {
                            "_id": stored.get("_id").cloned(),
                            "pending.event_id": event_id,
                            "$or": [
                                { "pending.claimed_until": null },
                                { "pending.claimed_until": { "$lt": DateTime::now() } },
                            ],
                        },
                        doc! { "$set": {
                            "pending.claimed_until": DateTime::from_millis(now + ms),
                        } },
                    )
                    .return_document(mongodb::options::ReturnDocument::After)
                    .await
                    .during("claim abandoned reaction")?;
                let Some(claimed) = claimed else { continue };
                // Well inside the claim: past it another replica may complete this one too.
                match tokio::time::timeout(abandoned_after / 3, self.complete(reaction, &claimed))
                    .await
                {
                    Ok(result) => result?,
                    Err(_) => continue,
                }
                completed += 1;
            }
        }
        if completed > 0 {
            tracing::info!(completed, "completed interrupted likes and reposts");
        }
        self.drop_settled_markers().await?;
        Ok(completed)
    }
}

/// Sweeps every few seconds until `stop` is cancelled, completing reactions pending for longer
/// than `abandoned_after` (three request timeouts).
pub fn spawn_sweeper(
    reactions: Reactions,
    abandoned_after: Duration,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if let Err(error) = reactions.sweep(abandoned_after).await {
                tracing::warn!(
                    error = &error as &dyn std::error::Error,
                    "cannot complete pending likes and reposts now"
                );
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(SWEEP_EVERY) => {}
            }
        }
    })
}
