//! A relay pass's events applied in one call (ApplyTweetEvents, ApplyFollowEvents): one lookup
//! of the events applied before, the sequences concurrently and each one in order, and for
//! follow events one write of their notifications and one that marks every new one applied. The relay pays one round trip a
//! pass instead of one an event, and the store a few statements instead of two an event.
//!
//! A sequence stops at an event that cannot be applied now: the relay sends it and the events
//! after it again, in order. An invalid event is refused alone; the others go on.

use std::collections::HashSet;

use futures_util::{StreamExt, TryStreamExt, stream};
use mongodb::bson::{DateTime, Document, doc};
use tonic::Status;
use xir_common::{
    delivery::DeliveryError,
    errors::{During, FieldViolations},
};
use xir_proto::timeline::v1::tweet_event::Kind;

use crate::{
    applying::{EVENTS_APPLIED, FollowChange},
    error::Error,
    store::{self, AppliedDoc, NotificationDoc},
    timelines::Timelines,
};

/// The most events one call may carry (the relays send a pass: at most `outbox.batch_size`
/// documents or rows).
pub const MAX_EVENTS: usize = 1_000;

/// Sequences applied at once.
const SEQUENCES_AT_ONCE: usize = 16;

/// An event of a batch as its sender wrote it: parsed, or what is wrong with it.
pub type Parsed<T> = Result<T, FieldViolations>;

/// A tweet event, its fields checked.
pub struct TweetChange {
    pub event_id: String,
    pub kind: Kind,
}

/// What became of one event of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Applied now (true) or before (false).
    Applied(bool),
    /// Not applied now: to be sent again, with the rest of its sequence.
    Retry(String),
    /// Never applicable: not to be sent again.
    Rejected(String),
}

impl Outcome {
    /// What the sender would have made of the error had the event come alone.
    fn of_error(error: Error) -> Self {
        match DeliveryError::from(Status::from(error)) {
            DeliveryError::Retry(reason) => Outcome::Retry(reason),
            DeliveryError::Rejected(reason) => Outcome::Rejected(reason),
        }
    }

    fn invalid(violations: FieldViolations) -> Self {
        Outcome::Rejected(format!("invalid argument: {violations}"))
    }
}

/// A follow sequence's outcomes, the events it applied now (id, metric label), still to be
/// marked applied, and their notifications, still to be stored.
struct FollowsTried {
    outcomes: Vec<Outcome>,
    applied_now: Vec<(String, &'static str)>,
    notices: Vec<NotificationDoc>,
}

/// The ids of a batch's valid events.
fn event_ids<T>(sequences: &[Vec<Parsed<T>>], id: impl Fn(&T) -> &String) -> Vec<String> {
    let valid = sequences
        .iter()
        .flatten()
        .filter_map(|event| event.as_ref().ok());
    valid.map(|event| id(event).clone()).collect()
}

impl Timelines {
    /// Applies sequences of follow events; one list of outcomes per sequence.
    pub async fn apply_follow_batch(
        &self,
        sequences: Vec<Vec<Parsed<FollowChange>>>,
    ) -> Result<Vec<Vec<Outcome>>, Error> {
        let ids = event_ids(&sequences, |change| &change.event_id);
        let before = self.applied_before(ids).await?;
        let tried: Vec<FollowsTried> = stream::iter(sequences)
            .map(|changes| self.apply_follow_sequence(changes, &before))
            .buffered(SEQUENCES_AT_ONCE)
            .collect()
            .await;
        let applied_now: Vec<(String, &'static str)> = tried
            .iter()
            .flat_map(|sequence| sequence.applied_now.iter().cloned())
            .collect();
        let notices = tried.iter().flat_map(|s| s.notices.iter().cloned());
        let marked = match self.store_notifications(notices.collect()).await {
            Ok(()) => self.mark_all_applied(&applied_now).await,
            Err(error) => Err(format!("cannot store the notifications: {error}")),
        };
        Ok(tried
            .into_iter()
            .map(|sequence| match &marked {
                Ok(()) => sequence.outcomes,
                // Effects written but not marked: applied again on the retry, harmlessly.
                Err(reason) => sequence
                    .outcomes
                    .into_iter()
                    .map(|outcome| match outcome {
                        Outcome::Applied(true) => Outcome::Retry(reason.clone()),
                        other => other,
                    })
                    .collect(),
            })
            .collect())
    }

    async fn apply_follow_sequence(
        &self,
        changes: Vec<Parsed<FollowChange>>,
        before: &HashSet<String>,
    ) -> FollowsTried {
        let mut tried = FollowsTried {
            outcomes: Vec::with_capacity(changes.len()),
            applied_now: Vec::new(),
            notices: Vec::new(),
        };
        for change in changes {
            let outcome = match change {
                Err(violations) => Outcome::invalid(violations),
                Ok(change) if before.contains(&change.event_id) => Outcome::Applied(false),
                Ok(change) => match self.apply_follow_effects(&change).await {
                    Ok((label, notice)) => {
                        tried.applied_now.push((change.event_id, label));
                        tried.notices.extend(notice);
                        Outcome::Applied(true)
                    }
                    Err(error) => Outcome::of_error(error),
                },
            };
            let stop = matches!(outcome, Outcome::Retry(_));
            tried.outcomes.push(outcome);
            if stop {
                break;
            }
        }
        tried
    }

    /// A follow event's effects on home timelines, and its notification to store with the
    /// batch's.
    async fn apply_follow_effects(
        &self,
        change: &FollowChange,
    ) -> Result<(&'static str, Option<NotificationDoc>), Error> {
        let notice = self.follow_notification(change)?;
        let label = self.apply_follow_to_timelines(change).await?;
        Ok((label, notice))
    }

    /// Applies sequences of tweet events; one list of outcomes per sequence. Each new event
    /// goes through the same path as ApplyTweetEvent (a big fan-out runs in a task of its own
    /// and is marked applied there).
    pub async fn apply_tweet_batch(
        &self,
        sequences: Vec<Vec<Parsed<TweetChange>>>,
    ) -> Result<Vec<Vec<Outcome>>, Error> {
        let ids = event_ids(&sequences, |change| &change.event_id);
        let before = self.applied_before(ids).await?;
        Ok(stream::iter(sequences)
            .map(|changes| self.apply_tweet_sequence(changes, &before))
            .buffered(SEQUENCES_AT_ONCE)
            .collect()
            .await)
    }

    async fn apply_tweet_sequence(
        &self,
        changes: Vec<Parsed<TweetChange>>,
        before: &HashSet<String>,
    ) -> Vec<Outcome> {
        let mut outcomes = Vec::with_capacity(changes.len());
        for change in changes {
            let outcome = match change {
                Err(violations) => Outcome::invalid(violations),
                Ok(change) if before.contains(&change.event_id) => Outcome::Applied(false),
                Ok(change) => match self
                    .apply_tweet_event_once(change.event_id, change.kind)
                    .await
                {
                    Ok(()) => Outcome::Applied(true),
                    Err(error) => Outcome::of_error(error),
                },
            };
            let stop = matches!(outcome, Outcome::Retry(_));
            outcomes.push(outcome);
            if stop {
                break;
            }
        }
        outcomes
    }

    /// Which of `event_ids` were applied before: one query on `_id`.
    async fn applied_before(&self, event_ids: Vec<String>) -> Result<HashSet<String>, Error> {
        if event_ids.is_empty() {
            return Ok(HashSet::new());
        }
        let found: Vec<Document> = self
            .applied
            .clone_with_type::<Document>()
            .find(doc! { "_id": { "$in": event_ids } })
            .projection(doc! { "_id": 1 })
            .await
            .during("look up applied events")?
            .try_collect()
            .await
            .during("look up applied events")?;
        Ok(found
            .iter()
            .filter_map(|applied| applied.get_str("_id").ok().map(str::to_owned))
            .collect())
    }

    /// Marks `events` applied in one write; an event marked before (a concurrent redelivery)
    /// is no failure. The reason to retry when the write failed.
    async fn mark_all_applied(&self, events: &[(String, &'static str)]) -> Result<(), String> {
        if events.is_empty() {
            return Ok(());
        }
        let applied_at = DateTime::now();
        let marks = events.iter().map(|(event_id, _)| AppliedDoc {
            event_id: event_id.clone(),
            applied_at,
        });
        match self.applied.insert_many(marks).ordered(false).await {
            Ok(_) => {}
            Err(error) if store::is_duplicate(&error) => {}
            Err(error) => {
                tracing::warn!(
                    error = &error as &dyn std::error::Error,
                    events = events.len(),
                    "cannot mark a batch of events applied; they will be applied again"
                );
                return Err(format!("cannot mark the events applied: {error}"));
            }
        }
        for (_, label) in events {
            metrics::counter!(EVENTS_APPLIED, "kind" => *label).increment(1);
        }
        Ok(())
    }
}
