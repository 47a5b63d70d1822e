//! The gRPC adapter: parses each request into domain values, calls `Timelines`, maps back.

use tonic::{Request, Response, Status};
use xir_common::{
    domain::PageLimit,
    errors::FieldViolations,
    mongo::id_range,
    request::{caller_id, field},
};
use xir_proto::timeline::v1::{
    self as pb, timeline_service_server::TimelineService, tweet_event::Kind,
};

use crate::{
    applying::FollowChange,
    batches::{self, Outcome, TweetChange},
    error::Error,
    home::Range,
    markers,
    timelines::Timelines,
};

pub struct TimelineApi {
    timelines: Timelines,
}

impl TimelineApi {
    pub fn new(timelines: Timelines) -> Self {
        Self { timelines }
    }
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

/// The ids a tweet event of this kind needs, each positive.
fn check_kind(kind: &Kind, violations: &mut FieldViolations) {
    match kind {
        Kind::Created(c) => {
            positive("created.tweet_id", c.tweet_id, violations);
            positive("created.author_id", c.author_id, violations);
        }
        Kind::Deleted(d) => {
            positive("deleted.tweet_id", d.tweet_id, violations);
        }
        Kind::Reposted(r) => {
            positive("reposted.repost_id", r.repost_id, violations);
            positive("reposted.tweet_id", r.tweet_id, violations);
            positive("reposted.reposter_id", r.reposter_id, violations);
        }
        Kind::Unreposted(u) => {
            positive("unreposted.repost_id", u.repost_id, violations);
            positive("unreposted.tweet_id", u.tweet_id, violations);
        }
        Kind::Liked(l) => {
            positive("liked.tweet_id", l.tweet_id, violations);
            positive("liked.liker_id", l.liker_id, violations);
        }
    }
}

fn page(limit: i32, max_id: i64, since_id: i64) -> Result<(PageLimit, Range), Error> {
    let limit = field("limit", PageLimit::parse(limit))?;
    let ids = id_range(max_id, since_id)?;
    Ok((
        limit,
        Range {
            max_id,
            since_id,
            ids,
        },
    ))
}

fn unix_now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64)
}

#[tonic::async_trait]
impl TimelineService for TimelineApi {
    async fn get_home_timeline(
        &self,
        request: Request<pb::GetHomeTimelineRequest>,
    ) -> Result<Response<pb::GetHomeTimelineResponse>, Status> {
        let me = caller_id(&request)?;
        let request = request.into_inner();
        let (limit, range) = page(request.limit, request.max_id, request.since_id)?;
        let (items, next_max_id) = self.timelines.home_timeline(me, &range, limit).await?;
        Ok(Response::new(pb::GetHomeTimelineResponse {
            items,
            next_max_id,
        }))
    }

    async fn list_notifications(
        &self,
        request: Request<pb::ListNotificationsRequest>,
    ) -> Result<Response<pb::ListNotificationsResponse>, Status> {
        let me = caller_id(&request)?;
        let request = request.into_inner();
        let (limit, range) = page(request.limit, request.max_id, request.since_id)?;
        let page = self.timelines.notifications(me, range.ids, limit).await?;
        Ok(Response::new(page))
    }

    async fn get_notification_marker(
        &self,
        request: Request<pb::GetNotificationMarkerRequest>,
    ) -> Result<Response<pb::NotificationMarker>, Status> {
        let me = caller_id(&request)?;
        Ok(Response::new(self.timelines.marker(me).await?))
    }

    async fn set_notification_marker(
        &self,
        request: Request<pb::SetNotificationMarkerRequest>,
    ) -> Result<Response<pb::NotificationMarker>, Status> {
        let me = caller_id(&request)?;
        let wanted = markers::parse_last_read(request.into_inner().last_read_id, unix_now_ms())
            .map_err(Error::from)?;
        Ok(Response::new(
            self.timelines.advance_marker(me, wanted).await?,
        ))
    }

    async fn apply_tweet_event(
        &self,
        request: Request<pb::TweetEvent>,
    ) -> Result<Response<pb::ApplyEventResponse>, Status> {
        let change = tweet_change(request.into_inner()).map_err(Error::from)?;
        let applied = self
            .timelines
            .apply_tweet_event(change.event_id, change.kind)
            .await?;
        Ok(Response::new(pb::ApplyEventResponse { applied }))
    }

    async fn apply_follow_event(
        &self,
        request: Request<pb::FollowEvent>,
    ) -> Result<Response<pb::ApplyEventResponse>, Status> {
        let change = follow_change(request.into_inner()).map_err(Error::from)?;
        let applied = self.timelines.apply_follow_event(change).await?;
        Ok(Response::new(pb::ApplyEventResponse { applied }))
    }

    async fn apply_tweet_events(
        &self,
        request: Request<pb::ApplyTweetEventsRequest>,
    ) -> Result<Response<pb::ApplyEventsResponse>, Status> {
        let sequences = request.into_inner().sequences;
        at_most_max_events(sequences.iter().map(|s| s.events.len()))?;
        let sequences = sequences
            .into_iter()
            .map(|sequence| sequence.events.into_iter().map(tweet_change).collect())
            .collect();
        let outcomes = self.timelines.apply_tweet_batch(sequences).await?;
        Ok(Response::new(events_response(outcomes)))
    }

    async fn apply_follow_events(
        &self,
        request: Request<pb::ApplyFollowEventsRequest>,
    ) -> Result<Response<pb::ApplyEventsResponse>, Status> {
        let sequences = request.into_inner().sequences;
        at_most_max_events(sequences.iter().map(|s| s.events.len()))?;
        let sequences = sequences
            .into_iter()
            .map(|sequence| sequence.events.into_iter().map(follow_change).collect())
            .collect();
        let outcomes = self.timelines.apply_follow_batch(sequences).await?;
        Ok(Response::new(events_response(outcomes)))
    }
}

fn tweet_change(event: pb::TweetEvent) -> Result<TweetChange, FieldViolations> {
    let mut violations = FieldViolations::new();
    valid_event_id(&event.event_id, &mut violations);
    match &event.kind {
        Some(kind) => check_kind(kind, &mut violations),
        None => violations.add("kind", "is required"),
    }
    match (event.kind, violations.is_empty()) {
        (Some(kind), true) => Ok(TweetChange {
            event_id: event.event_id,
            kind,
        }),
        _ => Err(violations),
    }
}

fn follow_change(event: pb::FollowEvent) -> Result<FollowChange, FieldViolations> {
    let mut violations = FieldViolations::new();
    valid_event_id(&event.event_id, &mut violations);
    let follower = positive("follower_id", event.follower_id, &mut violations);
    let followee = positive("followee_id", event.followee_id, &mut violations);
    violations.into_result()?;
    Ok(FollowChange {
        event_id: event.event_id,
        follower,
        followee,
        following: event.following,
    })
}

/// A batch's size is checked before any of its events is looked at.
fn at_most_max_events(sequence_lengths: impl Iterator<Item = usize>) -> Result<(), Error> {
    if sequence_lengths.sum::<usize>() > batches::MAX_EVENTS {
        let limit = format!("must hold at most {} events in all", batches::MAX_EVENTS);
        return Err(FieldViolations::single("sequences", limit).into());
    }
    Ok(())
}

fn events_response(sequences: Vec<Vec<Outcome>>) -> pb::ApplyEventsResponse {
    use pb::event_outcome::Outcome as Pb;
    let outcome = |outcome: Outcome| pb::EventOutcome {
        outcome: Some(match outcome {
            Outcome::Applied(now) => Pb::Applied(now),
            Outcome::Retry(reason) => Pb::Retry(reason),
            Outcome::Rejected(reason) => Pb::Rejected(reason),
        }),
    };
    pb::ApplyEventsResponse {
        sequences: sequences
            .into_iter()
            .map(|events| pb::SequenceOutcome {
                events: events.into_iter().map(outcome).collect(),
            })
            .collect(),
    }
}
