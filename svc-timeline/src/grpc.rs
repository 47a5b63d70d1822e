//! The tonic service. ApplyFollowEvent is served; the home timeline, notifications listing and
//! tweet events arrive with issue 6 and answer UNIMPLEMENTED until then.

use std::sync::Arc;

use mongodb::{
    Database,
    bson::{Document, doc},
};
use tonic::{Request, Response, Status};
use xir_common::{domain::UserId, errors::FieldViolations, ids::IdGenerator};
use xir_proto::timeline::v1::{
    self as pb, NotificationKind, timeline_service_server::TimelineService,
};

use crate::{error::Error, store};

pub const EVENTS_APPLIED: &str = "timeline_events_applied_total";

pub struct TimelineApi {
    database: Database,
    ids: Arc<IdGenerator>,
}

impl TimelineApi {
    pub fn new(database: Database, ids: Arc<IdGenerator>) -> Self {
        Self { database, ids }
    }

    async fn already_applied(&self, event_id: &str) -> Result<bool, Error> {
        let found = self
            .database
            .collection::<Document>(store::APPLIED_EVENTS)
            .find_one(doc! { "_id": event_id })
            .await?;
        Ok(found.is_some())
    }

    /// Marks the event applied, after its effects (each idempotent on its own) are written: a
    /// crash in between makes the redelivery redo them harmlessly, never skip them.
    async fn mark_applied(&self, event_id: &str, kind: &'static str) -> Result<(), Error> {
        let inserted = self
            .database
            .collection::<Document>(store::APPLIED_EVENTS)
            .insert_one(doc! { "_id": event_id, "applied_at": mongodb::bson::DateTime::now() })
            .await;
        match inserted {
            Ok(_) => {
                metrics::counter!(EVENTS_APPLIED, "kind" => kind).increment(1);
                Ok(())
            }
            Err(error) if store::is_duplicate(&error) => Ok(()),
            Err(error) => Err(error.into()),
        }
    }

    /// Stores a notification unless this event already did for this recipient.
    async fn notify(
        &self,
        event_id: &str,
        recipient: UserId,
        actor: UserId,
        kind: NotificationKind,
        tweet_id: Option<i64>,
    ) -> Result<(), Error> {
        if recipient == actor {
            return Ok(()); // never for your own actions
        }
        let mut notification = doc! {
            "_id": self.ids.next_id(),
            "event_id": event_id,
            "recipient_id": recipient.get(),
            "actor_id": actor.get(),
            "kind": kind as i32,
            "created_at": mongodb::bson::DateTime::now(),
        };
        if let Some(tweet_id) = tweet_id {
            notification.insert("tweet_id", tweet_id);
        }
        match self
            .database
            .collection::<Document>(store::NOTIFICATIONS)
            .insert_one(notification)
            .await
        {
            Ok(_) => Ok(()),
            Err(error) if store::is_duplicate(&error) => Ok(()),
            Err(error) => Err(error.into()),
        }
    }
}

fn not_yet(rpc: &str) -> Status {
    Status::unimplemented(format!("{rpc} is not implemented yet"))
}

#[tonic::async_trait]
impl TimelineService for TimelineApi {
    async fn get_home_timeline(
        &self,
        _: Request<pb::GetHomeTimelineRequest>,
    ) -> Result<Response<pb::GetHomeTimelineResponse>, Status> {
        Err(not_yet("GetHomeTimeline"))
    }

    async fn list_notifications(
        &self,
        _: Request<pb::ListNotificationsRequest>,
    ) -> Result<Response<pb::ListNotificationsResponse>, Status> {
        Err(not_yet("ListNotifications"))
    }

    async fn apply_tweet_event(
        &self,
        _: Request<pb::TweetEvent>,
    ) -> Result<Response<pb::ApplyEventResponse>, Status> {
        Err(not_yet("ApplyTweetEvent"))
    }

    /// A follow notifies the followee; an unfollow removes the followee's entries from the
    /// follower's timeline. (The follow's backfill of recent tweets arrives with issue 6.)
    async fn apply_follow_event(
        &self,
        request: Request<pb::FollowEvent>,
    ) -> Result<Response<pb::ApplyEventResponse>, Status> {
        let event = request.into_inner();
        let mut violations = FieldViolations::new();
        if event.event_id.is_empty() || event.event_id.len() > 200 {
            violations.add("event_id", "must be 1 to 200 characters long");
        }
        let follower = violations.check("follower_id", UserId::parse(event.follower_id));
        let followee = violations.check("followee_id", UserId::parse(event.followee_id));
        let (Some(follower), Some(followee)) = (follower, followee) else {
            return Err(Error::from(violations).into());
        };
        if !violations.is_empty() {
            return Err(Error::from(violations).into());
        }
        if self.already_applied(&event.event_id).await? {
            return Ok(Response::new(pb::ApplyEventResponse { applied: false }));
        }
        if event.following {
            self.notify(
                &event.event_id,
                followee,
                follower,
                NotificationKind::Follow,
                None,
            )
            .await?;
        } else {
            self.database
                .collection::<Document>(store::ENTRIES)
                .delete_many(doc! { "owner_id": follower.get(), "author_id": followee.get() })
                .await
                .map_err(Error::from)?;
        }
        self.mark_applied(
            &event.event_id,
            if event.following {
                "follow"
            } else {
                "unfollow"
            },
        )
        .await?;
        Ok(Response::new(pb::ApplyEventResponse { applied: true }))
    }
}
