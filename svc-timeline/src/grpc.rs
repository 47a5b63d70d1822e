//! The tonic service: applies tweet and follow events (idempotently, by event id), and serves
//! the hydrated home timeline and notifications.

use std::{collections::HashMap, sync::Arc};

use futures_util::TryStreamExt;
use mongodb::{
    Collection, Database,
    bson::{Document, doc},
};
use tokio::sync::watch;
use tonic::{Request, Response, Status};
use xir_common::{
    auth,
    domain::{PageLimit, UserId},
    errors::FieldViolations,
    ids::{self, IdGenerator},
    mongo::id_range,
    peer::PeerChannel,
};
use xir_proto::{
    timeline::v1::{
        self as pb, NotificationKind, timeline_service_server::TimelineService, tweet_event::Kind,
    },
    tweet::v1::{ListRecentByAuthorsRequest, tweet_service_client::TweetServiceClient},
    user::v1::user_service_client::UserServiceClient,
};

use crate::{
    error::Error,
    events::{self, Removal},
    fanout::{Entry, Fanout},
    home, markers, store,
};

pub const EVENTS_APPLIED: &str = "timeline_events_applied_total";

/// Outcomes of event applications still running, by event id.
type InFlight = Arc<std::sync::Mutex<HashMap<String, watch::Receiver<Option<Result<(), String>>>>>>;

#[derive(Clone)]
pub struct TimelineApi {
    in_flight: InFlight,
    database: Database,
    ids: Arc<IdGenerator>,
    pub(crate) fanout: Arc<Fanout>,
    pub(crate) users: UserServiceClient<PeerChannel>,
    pub(crate) tweets: TweetServiceClient<PeerChannel>,
}

fn me<T>(request: &Request<T>) -> Result<UserId, Status> {
    let caller = auth::caller(request)?;
    UserId::parse(caller.user_id).map_err(|_| Status::unauthenticated("invalid caller"))
}

fn valid_event_id(event_id: &str, violations: &mut FieldViolations) {
    if event_id.is_empty() || event_id.len() > 200 {
        violations.add("event_id", "must be 1 to 200 characters long");
    }
}

fn positive(name: &str, raw: i64, violations: &mut FieldViolations) -> i64 {
    if raw <= 0 {
        violations.add(name, "must be a positive id");
    }
    raw
}

fn unix_now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64)
}

impl TimelineApi {
    /// The marker at `last_read_id`, with the count of what is newer.
    async fn marker(&self, me: UserId, last_read_id: i64) -> Result<pb::NotificationMarker, Error> {
        Ok(pb::NotificationMarker {
            last_read_id,
            unread_count: markers::unread(&self.database, me, last_read_id).await?,
        })
    }

    pub fn new(
        database: Database,
        ids: Arc<IdGenerator>,
        fanout: Arc<Fanout>,
        users: UserServiceClient<PeerChannel>,
        tweets: TweetServiceClient<PeerChannel>,
    ) -> Self {
        Self {
            in_flight: InFlight::default(),
            database,
            ids,
            fanout,
            users,
            tweets,
        }
    }

    /// Applies a tweet event in a task of its own, so a large fan-out is neither bound to nor
    /// cancelled with the caller's deadline. Answers once it is done, or after a short wait
    /// with UNAVAILABLE ("still applying"): the sender's relay retries, and the retry joins the
    /// running task instead of starting another. The event is marked applied only when all its
    /// effects are written, so a crash mid-way means a redelivery redoes it (idempotently).
    async fn apply_tweet_event_once(&self, event_id: String, kind: Kind) -> Result<(), Status> {
        let mut outcome = {
            let mut in_flight = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
            match in_flight.get(&event_id) {
                Some(running) => running.clone(),
                None => {
                    let (done, outcome) = watch::channel(None);
                    in_flight.insert(event_id.clone(), outcome.clone());
                    let api = self.clone();
                    tokio::spawn(async move {
                        let result = match api.apply_tweet_kind(&event_id, kind).await {
                            Ok(label) => api.mark_applied(&event_id, label).await,
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
                        api.in_flight
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .remove(&event_id);
                        let _ = done.send(Some(result));
                    });
                    outcome
                }
            }
        };
        let wait = std::time::Duration::from_millis(self.fanout.settings.ack_wait_ms);
        match tokio::time::timeout(wait, outcome.wait_for(Option::is_some)).await {
            Ok(Ok(result)) => match result.as_ref() {
                Some(Ok(())) => Ok(()),
                Some(Err(reason)) => Err(Status::unavailable(format!(
                    "applying the event failed: {reason}"
                ))),
                None => Err(Status::unavailable("still applying the event; retry")),
            },
            Ok(Err(_)) | Err(_) => Err(Status::unavailable("still applying the event; retry")),
        }
    }

    pub(crate) fn entries(&self) -> Collection<Document> {
        self.database.collection(store::ENTRIES)
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

    /// Stores a notification unless this event already did for this recipient, or the same
    /// actor already notified the recipient of the same kind on the same target (an undone and
    /// redone like, follow or repost); never for your own actions.
    async fn notify(
        &self,
        event_id: &str,
        recipient: i64,
        actor: i64,
        kind: NotificationKind,
        tweet_id: i64,
    ) -> Result<(), Error> {
        if recipient == actor || recipient <= 0 {
            return Ok(());
        }
        let notification = doc! {
            "_id": self.ids.next_id()?,
            "event_id": event_id,
            "recipient_id": recipient,
            "actor_id": actor,
            "kind": kind as i32,
            "tweet_id": tweet_id,
            "created_at": mongodb::bson::DateTime::now(),
        };
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
        let removed = match effects.removal {
            Some(Removal::Tweet(tweet_id)) => doc! { "tweet_id": tweet_id },
            Some(Removal::Repost {
                tweet_id,
                repost_id,
            }) => doc! { "tweet_id": tweet_id, "item_id": repost_id },
            None => return Ok(effects.label),
        };
        self.entries().delete_many(removed).await?;
        Ok(effects.label)
    }

    /// The followee's recent tweets and reposts, into the follower's timeline.
    async fn backfill(&self, follower: i64, followee: i64) -> Result<(), Error> {
        let items = self
            .tweets
            .clone()
            .list_recent_by_authors(ListRecentByAuthorsRequest {
                author_ids: vec![followee],
                max_id: 0,
                since_id: 0,
                limit: self.fanout.settings.backfill,
            })
            .await
            .map_err(Error::Dependency)?
            .into_inner()
            .items;
        for item in items {
            let entry = Entry {
                item_id: item.item_id,
                tweet_id: item.tweet_id,
                author_id: followee,
                reposted_by: item.reposted_by_user_id,
            };
            self.fanout.insert(&[follower], entry).await?;
        }
        Ok(())
    }
}

#[tonic::async_trait]
impl TimelineService for TimelineApi {
    /// Stored entries merged with the recent tweets of followed authors above the fan-out
    /// threshold, newest first, without duplicates, hydrated with batched calls.
    async fn get_home_timeline(
        &self,
        request: Request<pb::GetHomeTimelineRequest>,
    ) -> Result<Response<pb::GetHomeTimelineResponse>, Status> {
        let me = me(&request)?;
        let request = request.into_inner();
        let limit = PageLimit::parse(request.limit)
            .map_err(|e| Error::from(FieldViolations::single("limit", e.to_string())))?;
        let range = id_range(request.max_id, request.since_id).map_err(Error::from)?;

        // The stored entries and the celebrities' recent items, read at once.
        let (stored, pulled) = tokio::try_join!(
            self.stored_items(me, &range, limit.probe()),
            self.celebrity_items(me, request.max_id, request.since_id, limit.probe()),
        )?;
        let items = stored.into_iter().chain(pulled).collect();
        let (items, next_max_id) = home::merge(items, limit.get() as usize);

        let tweet_ids: Vec<i64> = items.iter().map(|i| i.tweet_id).collect();
        let reposters: Vec<i64> = items
            .iter()
            .map(|i| i.reposted_by)
            .filter(|&r| r != 0)
            .collect();
        let (cards, profiles) = self.cards(&tweet_ids, &reposters, me).await?;
        let items = home::timeline_items(items, cards, &profiles);
        Ok(Response::new(pb::GetHomeTimelineResponse {
            items,
            next_max_id,
        }))
    }

    async fn list_notifications(
        &self,
        request: Request<pb::ListNotificationsRequest>,
    ) -> Result<Response<pb::ListNotificationsResponse>, Status> {
        let me = me(&request)?;
        let request = request.into_inner();
        let limit = PageLimit::parse(request.limit)
            .map_err(|e| Error::from(FieldViolations::single("limit", e.to_string())))?;
        let range = id_range(request.max_id, request.since_id).map_err(Error::from)?;
        let mut filter = doc! { "recipient_id": me.get() };
        if !range.is_empty() {
            filter.insert("_id", range);
        }
        let mut found: Vec<Document> = self
            .database
            .collection::<Document>(store::NOTIFICATIONS)
            .find(filter)
            .sort(doc! { "_id": -1 })
            .limit(limit.probe())
            .await
            .map_err(Error::from)?
            .try_collect()
            .await
            .map_err(Error::from)?;
        let more = found.len() > limit.get() as usize;
        found.truncate(limit.get() as usize);
        let next_max_id = if more {
            found
                .last()
                .and_then(|d| d.get_i64("_id").ok())
                .unwrap_or(0)
        } else {
            0
        };
        let tweet_ids: Vec<i64> = found
            .iter()
            .filter_map(|d| d.get_i64("tweet_id").ok())
            .filter(|&id| id > 0)
            .collect();
        let actors: Vec<i64> = found
            .iter()
            .filter_map(|d| d.get_i64("actor_id").ok())
            .collect();
        let (cards, profiles) = self.cards(&tweet_ids, &actors, me).await?;
        let notifications = found
            .iter()
            .filter_map(|d| {
                let id = d.get_i64("_id").ok()?;
                let tweet_id = d.get_i64("tweet_id").unwrap_or(0);
                Some(pb::Notification {
                    notification_id: id,
                    kind: d.get_i32("kind").unwrap_or(0),
                    actor: profiles.get(&d.get_i64("actor_id").ok()?).cloned(),
                    card: cards.get(&tweet_id).cloned(),
                    created_at: Some(ids::created_at(id)),
                })
            })
            .collect();
        let last_read = markers::last_read(&self.database, me)
            .await
            .map_err(Error::from)?;
        let unread_count = markers::unread(&self.database, me, last_read)
            .await
            .map_err(Error::from)?;
        Ok(Response::new(pb::ListNotificationsResponse {
            notifications,
            next_max_id,
            unread_count,
        }))
    }

    async fn get_notification_marker(
        &self,
        request: Request<pb::GetNotificationMarkerRequest>,
    ) -> Result<Response<pb::NotificationMarker>, Status> {
        let me = me(&request)?;
        let last_read_id = markers::last_read(&self.database, me)
            .await
            .map_err(Error::from)?;
        Ok(Response::new(self.marker(me, last_read_id).await?))
    }

    async fn set_notification_marker(
        &self,
        request: Request<pb::SetNotificationMarkerRequest>,
    ) -> Result<Response<pb::NotificationMarker>, Status> {
        let me = me(&request)?;
        let wanted = markers::parse_last_read(request.into_inner().last_read_id, unix_now_ms())
            .map_err(Error::from)?;
        let last_read_id = markers::advance(&self.database, me, wanted)
            .await
            .map_err(Error::from)?;
        Ok(Response::new(self.marker(me, last_read_id).await?))
    }

    async fn apply_tweet_event(
        &self,
        request: Request<pb::TweetEvent>,
    ) -> Result<Response<pb::ApplyEventResponse>, Status> {
        let event = request.into_inner();
        let mut violations = FieldViolations::new();
        valid_event_id(&event.event_id, &mut violations);
        let Some(kind) = event.kind else {
            violations.add("kind", "is required");
            return Err(Error::from(violations).into());
        };
        match &kind {
            Kind::Created(c) => {
                positive("created.tweet_id", c.tweet_id, &mut violations);
                positive("created.author_id", c.author_id, &mut violations);
            }
            Kind::Deleted(d) => {
                positive("deleted.tweet_id", d.tweet_id, &mut violations);
            }
            Kind::Reposted(r) => {
                positive("reposted.repost_id", r.repost_id, &mut violations);
                positive("reposted.tweet_id", r.tweet_id, &mut violations);
                positive("reposted.reposter_id", r.reposter_id, &mut violations);
            }
            Kind::Unreposted(u) => {
                positive("unreposted.repost_id", u.repost_id, &mut violations);
                positive("unreposted.tweet_id", u.tweet_id, &mut violations);
            }
            Kind::Liked(l) => {
                positive("liked.tweet_id", l.tweet_id, &mut violations);
                positive("liked.liker_id", l.liker_id, &mut violations);
            }
        }
        violations.into_result().map_err(Error::from)?;
        if self.already_applied(&event.event_id).await? {
            return Ok(Response::new(pb::ApplyEventResponse { applied: false }));
        }
        self.apply_tweet_event_once(event.event_id, kind).await?;
        Ok(Response::new(pb::ApplyEventResponse { applied: true }))
    }

    /// A follow notifies the followee and backfills the followee's recent tweets; an unfollow
    /// removes the followee's entries from the follower's timeline.
    async fn apply_follow_event(
        &self,
        request: Request<pb::FollowEvent>,
    ) -> Result<Response<pb::ApplyEventResponse>, Status> {
        let event = request.into_inner();
        let mut violations = FieldViolations::new();
        valid_event_id(&event.event_id, &mut violations);
        let follower = positive("follower_id", event.follower_id, &mut violations);
        let followee = positive("followee_id", event.followee_id, &mut violations);
        violations.into_result().map_err(Error::from)?;
        if self.already_applied(&event.event_id).await? {
            return Ok(Response::new(pb::ApplyEventResponse { applied: false }));
        }
        if event.following {
            self.notify(
                &event.event_id,
                followee,
                follower,
                NotificationKind::Follow,
                0,
            )
            .await?;
            self.backfill(follower, followee).await?;
        } else {
            self.entries()
                .delete_many(doc! { "owner_id": follower, "author_id": followee })
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
