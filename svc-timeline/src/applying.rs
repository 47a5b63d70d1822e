//! Applying events, each exactly once in effect: tweet events (notifications, fan-out,
//! removals; see `events` for what each one does) and follow events (a notification and the
//! backfill, or the unfollow's removal). An event is marked applied only after all its effects
//! are written, so a crash mid-way means a redelivery redoes it, idempotently.

use mongodb::bson::{DateTime, doc};
use tokio::sync::watch;
use xir_common::{errors::During, ids};
use xir_proto::timeline::v1::{NotificationKind, tweet_event::Kind};

use crate::{
    error::Error,
    events,
    store::{self, AppliedDoc},
    timelines::Timelines,
};

pub const EVENTS_APPLIED: &str = "timeline_events_applied_total";

/// A follow or an unfollow, its ids checked.
pub struct FollowChange {
    pub event_id: String,
    pub follower: i64,
    pub followee: i64,
    pub following: bool,
}

impl Timelines {
    /// Applies a tweet event; false when it was applied before.
    pub async fn apply_tweet_event(&self, event_id: String, kind: Kind) -> Result<bool, Error> {
        if self.already_applied(&event_id).await? {
            return Ok(false);
        }
        self.apply_tweet_event_once(event_id, kind).await?;
        Ok(true)
    }

    /// Applies a tweet event in a task of its own, so a large fan-out is neither bound to nor
    /// cancelled with the caller's deadline. Answers once it is done, or after a short wait
    /// with UNAVAILABLE ("still applying"): the sender's relay retries, and the retry joins the
    /// running task instead of starting another.
    pub(crate) async fn apply_tweet_event_once(
        &self,
        event_id: String,
        kind: Kind,
    ) -> Result<(), Error> {
        let mut outcome = self.join_or_start(event_id, kind);
        let wait = std::time::Duration::from_millis(self.fanout.settings.ack_wait_ms);
        match tokio::time::timeout(wait, outcome.wait_for(Option::is_some)).await {
            Ok(Ok(result)) => match result.as_ref() {
                Some(Ok(())) => Ok(()),
                Some(Err(reason)) => Err(Error::ApplyFailed(reason.clone())),
                None => Err(Error::StillApplying),
            },
            Ok(Err(_)) | Err(_) => Err(Error::StillApplying),
        }
    }

    /// The outcome of the running application of `event_id`, started now if none runs.
    fn join_or_start(
        &self,
        event_id: String,
        kind: Kind,
    ) -> watch::Receiver<Option<Result<(), String>>> {
        let mut in_flight = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(running) = in_flight.get(&event_id) {
            return running.clone();
        }
        let (done, outcome) = watch::channel(None);
        in_flight.insert(event_id.clone(), outcome.clone());
        let timelines = self.clone();
        tokio::spawn(async move {
            let result = match timelines.apply_tweet_kind(&event_id, kind).await {
                Ok(label) => timelines.mark_applied(&event_id, label).await,
                Err(error) => Err(error),
            };
            let result = result.map_err(|error| {
                tracing::warn!(
                    event_id,
                    error = &error as &dyn std::error::Error,
                    "applying a tweet event failed"
                );
                error.to_string()
            });
            timelines
                .in_flight
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&event_id);
            let _ = done.send(Some(result));
        });
        outcome
    }

    async fn apply_tweet_kind(&self, event_id: &str, kind: Kind) -> Result<&'static str, Error> {
        let effects = events::effects(kind);
        for notice in &effects.notices {
            self.notify(
                event_id,
                notice.recipient,
                notice.actor,
                notice.kind,
                notice.tweet_id,
            )
            .await?;
        }
        if let Some(entry) = effects.fan_out {
            self.fanout
                .fan_out(entry, ids::timestamp_ms(entry.item_id))
                .await?;
        }
        if let Some(entry) = effects.removal {
            self.fanout.withdraw(entry).await?;
        }
        Ok(effects.label)
    }

    /// A follow notifies the followee and backfills the followee's recent tweets; an unfollow
    /// removes the followee's entries from the follower's timeline. False when applied before.
    pub async fn apply_follow_event(&self, change: FollowChange) -> Result<bool, Error> {
        if self.already_applied(&change.event_id).await? {
            return Ok(false);
        }
        let notice = self.follow_notification(&change)?;
        self.store_notifications(notice.into_iter().collect())
            .await?;
        let label = self.apply_follow_to_timelines(&change).await?;
        self.mark_applied(&change.event_id, label).await?;
        Ok(true)
    }

    /// A follow notifies the followee; an unfollow nobody.
    pub(crate) fn follow_notification(
        &self,
        change: &FollowChange,
    ) -> Result<Option<store::NotificationDoc>, Error> {
        if !change.following {
            return Ok(None);
        }
        let (follower, followee) = (change.follower, change.followee);
        let kind = NotificationKind::Follow;
        self.notification(&change.event_id, followee, follower, kind, 0)
    }

    /// Writes a follow event's effects on home timelines (idempotent); its label for the
    /// applied-events metric.
    pub(crate) async fn apply_follow_to_timelines(
        &self,
        change: &FollowChange,
    ) -> Result<&'static str, Error> {
        let (follower, followee) = (change.follower, change.followee);
        if !change.following {
            self.fanout.homes.remove_author(follower, followee).await?;
            return Ok("unfollow");
        }
        // A timeline Redis does not hold is built whole now (the new followee included), so
        // fan-out reaches it from this follow on.
        if self.fanout.homes.exists(follower).await? {
            self.backfill(follower, followee).await?;
        } else {
            self.rebuild(follower).await?;
        }
        Ok("follow")
    }

    /// The followee's recent tweets and reposts, into the follower's timeline.
    #[tracing::instrument(skip_all)]
    async fn backfill(&self, follower: i64, followee: i64) -> Result<(), Error> {
        let entries = self
            .recent_entries(&[followee], 0, 0, self.fanout.settings.backfill)
            .await?;
        let written = self.fanout.homes.insert_into(follower, &entries).await?;
        metrics::counter!(crate::fanout::ENTRIES_WRITTEN).increment(written);
        Ok(())
    }

    async fn already_applied(&self, event_id: &str) -> Result<bool, Error> {
        let found = self
            .applied
            .find_one(doc! { "_id": event_id })
            .await
            .during("look up applied event")?;
        Ok(found.is_some())
    }

    /// Marks the event applied, after its effects (each idempotent on its own) are written: a
    /// crash in between makes the redelivery redo them harmlessly, never skip them.
    async fn mark_applied(&self, event_id: &str, kind: &'static str) -> Result<(), Error> {
        let applied = AppliedDoc {
            event_id: event_id.to_owned(),
            applied_at: DateTime::now(),
        };
        match self.applied.insert_one(applied).await {
            Ok(_) => {
                metrics::counter!(EVENTS_APPLIED, "kind" => kind).increment(1);
                Ok(())
            }
            Err(error) if store::is_duplicate(&error) => Ok(()),
            Err(error) => Err(Err(error).during("mark event applied")?),
        }
    }
}
