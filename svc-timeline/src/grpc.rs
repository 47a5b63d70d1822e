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

use crate::{applying::FollowChange, error::Error, home::Range, markers, timelines::Timelines};

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
        let event = request.into_inner();
        let mut violations = FieldViolations::new();
        valid_event_id(&event.event_id, &mut violations);
        match &event.kind {
            Some(kind) => check_kind(kind, &mut violations),
            None => violations.add("kind", "is required"),
        }
        let (Some(kind), true) = (event.kind, violations.is_empty()) else {
            return Err(Error::from(violations).into());
        };
        let applied = self
            .timelines
            .apply_tweet_event(event.event_id, kind)
            .await?;
        Ok(Response::new(pb::ApplyEventResponse { applied }))
    }

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
        let change = FollowChange {
            event_id: event.event_id,
            follower,
            followee,
            following: event.following,
        };
        let applied = self.timelines.apply_follow_event(change).await?;
        Ok(Response::new(pb::ApplyEventResponse { applied }))
    }
}
