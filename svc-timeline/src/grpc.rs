//! The tonic service. The timeline RPCs arrive with issue 6; until then each answers
//! UNIMPLEMENTED, while health, reflection, metrics and readiness are served for real.

use mongodb::Database;
use tonic::{Request, Response, Status};
use xir_proto::timeline::v1::{self as pb, timeline_service_server::TimelineService};

pub struct TimelineApi {
    #[allow(dead_code)] // read by the timeline RPCs (issue 6)
    database: Database,
}

impl TimelineApi {
    pub fn new(database: Database) -> Self {
        Self { database }
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

    async fn apply_follow_event(
        &self,
        _: Request<pb::FollowEvent>,
    ) -> Result<Response<pb::ApplyEventResponse>, Status> {
        Err(not_yet("ApplyFollowEvent"))
    }
}
