//! The gRPC adapter: parses each request into domain values, calls `Users`, maps back.

use std::pin::Pin;

use tokio_stream::{Stream, wrappers::ReceiverStream};
use tonic::{Request, Response, Status};
use xir_common::{
    errors::FieldViolations,
    request::{MAX_BATCH, batch_ids, caller_id, field},
};
use xir_proto::user::v1::{
    self as pb, get_profile_request::User, user_service_server::UserService,
};

use crate::{
    db::Direction,
    domain::{Bio, Cursor, DisplayName, PageLimit, SearchQuery, UserId, Username},
    error::Error,
    profiles::{Lookup, NewProfile, Users},
};

const SEARCH_LIMIT: u32 = 20;
const DEFAULT_ID_BATCH: u32 = 1_000;
const MAX_ID_BATCH: u32 = 10_000;

pub struct UserApi {
    users: Users,
}

impl UserApi {
    pub fn new(users: Users) -> Self {
        Self { users }
    }

    async fn list(
        &self,
        direction: Direction,
        user_id: i64,
        limit: i32,
        cursor: &str,
    ) -> Result<(Vec<pb::Profile>, String), Error> {
        let mut violations = FieldViolations::new();
        let user = violations.check("user_id", UserId::parse(user_id));
        let limit = violations.check("limit", PageLimit::parse(limit));
        let cursor = violations.check("cursor", Cursor::parse(cursor));
        let (Some(user), Some(limit), Some(cursor)) = (user, limit, cursor) else {
            return Err(violations.into());
        };
        self.users.list(direction, user, limit, cursor).await
    }
}

fn lookup(user: Option<User>) -> Result<Lookup, FieldViolations> {
    match user {
        Some(User::UserId(raw)) => Ok(Lookup::Id(field("user_id", UserId::parse(raw))?)),
        Some(User::Username(raw)) => {
            Ok(Lookup::Username(field("username", Username::parse(&raw))?))
        }
        None => Err(FieldViolations::single("user", "set user_id or username")),
    }
}

fn new_profile(request: &pb::CreateProfileRequest) -> Result<NewProfile, FieldViolations> {
    let mut violations = FieldViolations::new();
    let id = violations.check("user_id", UserId::parse(request.user_id));
    let username = violations.check("username", Username::parse(&request.username));
    let display_name = violations.check("display_name", DisplayName::parse(&request.display_name));
    let created_at = request
        .created_at
        .and_then(|t| chrono::DateTime::from_timestamp(t.seconds, t.nanos.max(0) as u32));
    if created_at.is_none() {
        violations.add("created_at", "is required");
    }
    match (id, username, display_name, created_at) {
        (Some(id), Some(username), Some(display_name), Some(created_at)) => Ok(NewProfile {
            id,
            username,
            display_name,
            created_at,
        }),
        _ => Err(violations),
    }
}

type FollowerIdStream = Pin<Box<dyn Stream<Item = Result<pb::FollowerIdBatch, Status>> + Send>>;

#[tonic::async_trait]
impl UserService for UserApi {
    async fn get_profile(
        &self,
        request: Request<pb::GetProfileRequest>,
    ) -> Result<Response<pb::GetProfileResponse>, Status> {
        let lookup = lookup(request.into_inner().user).map_err(Error::from)?;
        let profile = self.users.profile(lookup).await?;
        Ok(Response::new(pb::GetProfileResponse {
            profile: Some(profile),
        }))
    }

    async fn get_own_profile(
        &self,
        request: Request<pb::GetOwnProfileRequest>,
    ) -> Result<Response<pb::GetProfileResponse>, Status> {
        let profile = self.users.own_profile(caller_id(&request)?).await?;
        Ok(Response::new(pb::GetProfileResponse {
            profile: Some(profile),
        }))
    }

    async fn update_profile(
        &self,
        request: Request<pb::UpdateProfileRequest>,
    ) -> Result<Response<pb::UpdateProfileResponse>, Status> {
        let me = caller_id(&request)?;
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let display_name = request
            .display_name
            .as_deref()
            .and_then(|raw| violations.check("display_name", DisplayName::parse(raw)));
        let bio = request
            .bio
            .as_deref()
            .and_then(|raw| violations.check("bio", Bio::parse(raw)));
        violations.into_result().map_err(Error::from)?;
        let profile = self.users.update_profile(me, display_name, bio).await?;
        Ok(Response::new(pb::UpdateProfileResponse {
            profile: Some(profile),
        }))
    }

    async fn follow(
        &self,
        request: Request<pb::FollowRequest>,
    ) -> Result<Response<pb::FollowResponse>, Status> {
        let me = caller_id(&request)?;
        let target =
            field("user_id", UserId::parse(request.into_inner().user_id)).map_err(Error::from)?;
        let relationship = self.users.change_edge(me, target, true).await?;
        Ok(Response::new(pb::FollowResponse {
            relationship: Some(relationship),
        }))
    }

    async fn unfollow(
        &self,
        request: Request<pb::UnfollowRequest>,
    ) -> Result<Response<pb::UnfollowResponse>, Status> {
        let me = caller_id(&request)?;
        let target =
            field("user_id", UserId::parse(request.into_inner().user_id)).map_err(Error::from)?;
        let relationship = self.users.change_edge(me, target, false).await?;
        Ok(Response::new(pb::UnfollowResponse {
            relationship: Some(relationship),
        }))
    }

    async fn list_followers(
        &self,
        request: Request<pb::ListFollowersRequest>,
    ) -> Result<Response<pb::ListFollowersResponse>, Status> {
        let request = request.into_inner();
        let (profiles, next_cursor) = self
            .list(
                Direction::Followers,
                request.user_id,
                request.limit,
                &request.cursor,
            )
            .await?;
        Ok(Response::new(pb::ListFollowersResponse {
            profiles,
            next_cursor,
        }))
    }

    async fn list_following(
        &self,
        request: Request<pb::ListFollowingRequest>,
    ) -> Result<Response<pb::ListFollowingResponse>, Status> {
        let request = request.into_inner();
        let (profiles, next_cursor) = self
            .list(
                Direction::Following,
                request.user_id,
                request.limit,
                &request.cursor,
            )
            .await?;
        Ok(Response::new(pb::ListFollowingResponse {
            profiles,
            next_cursor,
        }))
    }

    async fn get_relationships(
        &self,
        request: Request<pb::GetRelationshipsRequest>,
    ) -> Result<Response<pb::GetRelationshipsResponse>, Status> {
        let me = caller_id(&request)?;
        let ids = batch_ids("user_ids", &request.into_inner().user_ids, UserId::parse)
            .map_err(Error::from)?;
        let relationships = self.users.relationships(me, &ids).await?;
        Ok(Response::new(pb::GetRelationshipsResponse {
            relationships,
        }))
    }

    async fn search_users(
        &self,
        request: Request<pb::SearchUsersRequest>,
    ) -> Result<Response<pb::SearchUsersResponse>, Status> {
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let query = violations.check("query", SearchQuery::parse(&request.query));
        let limit = violations.check(
            "limit",
            PageLimit::parse_with(request.limit, SEARCH_LIMIT, SEARCH_LIMIT),
        );
        let (Some(query), Some(limit)) = (query, limit) else {
            return Err(Error::from(violations).into());
        };
        let profiles = self.users.search(&query, limit).await?;
        Ok(Response::new(pb::SearchUsersResponse { profiles }))
    }

    async fn create_profile(
        &self,
        request: Request<pb::CreateProfileRequest>,
    ) -> Result<Response<pb::CreateProfileResponse>, Status> {
        let new = new_profile(request.get_ref()).map_err(Error::from)?;
        let created = self.users.create_profile(new).await?;
        Ok(Response::new(pb::CreateProfileResponse { created }))
    }

    async fn batch_get_profiles(
        &self,
        request: Request<pb::BatchGetProfilesRequest>,
    ) -> Result<Response<pb::BatchGetProfilesResponse>, Status> {
        let ids = batch_ids("user_ids", &request.into_inner().user_ids, UserId::parse)
            .map_err(Error::from)?;
        let profiles = self.users.profiles(&ids).await?;
        Ok(Response::new(pb::BatchGetProfilesResponse { profiles }))
    }

    async fn resolve_usernames(
        &self,
        request: Request<pb::ResolveUsernamesRequest>,
    ) -> Result<Response<pb::ResolveUsernamesResponse>, Status> {
        let names = request.into_inner().usernames;
        if names.len() > MAX_BATCH {
            let violation =
                FieldViolations::single("usernames", format!("at most {MAX_BATCH} names"));
            return Err(Error::from(violation).into());
        }
        let profiles = self.users.resolve_usernames(&names).await?;
        Ok(Response::new(pb::ResolveUsernamesResponse { profiles }))
    }

    type ListFollowerIdsStream = FollowerIdStream;

    async fn list_follower_ids(
        &self,
        request: Request<pb::ListFollowerIdsRequest>,
    ) -> Result<Response<Self::ListFollowerIdsStream>, Status> {
        let request = request.into_inner();
        let user = field("user_id", UserId::parse(request.user_id)).map_err(Error::from)?;
        let batch = field(
            "batch_size",
            PageLimit::parse_with(request.batch_size, DEFAULT_ID_BATCH, MAX_ID_BATCH),
        )
        .map_err(Error::from)?;
        let batches = self.users.stream_follower_ids(user, batch);
        Ok(Response::new(Box::pin(ReceiverStream::new(batches))))
    }

    async fn list_following_ids(
        &self,
        request: Request<pb::ListFollowingIdsRequest>,
    ) -> Result<Response<pb::ListFollowingIdsResponse>, Status> {
        let request = request.into_inner();
        let user = field("user_id", UserId::parse(request.user_id)).map_err(Error::from)?;
        if request.min_followers_count < 0 {
            let violation = FieldViolations::single("min_followers_count", "must not be negative");
            return Err(Error::from(violation).into());
        }
        let user_ids = self
            .users
            .following_ids(user, request.min_followers_count)
            .await?;
        Ok(Response::new(pb::ListFollowingIdsResponse { user_ids }))
    }

    async fn apply_tweet_count_event(
        &self,
        request: Request<pb::ApplyTweetCountEventRequest>,
    ) -> Result<Response<pb::ApplyTweetCountEventResponse>, Status> {
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        if request.event_id.is_empty() || request.event_id.len() > 200 {
            violations.add("event_id", "must be 1 to 200 characters long");
        }
        let user = violations.check("user_id", UserId::parse(request.user_id));
        if !matches!(request.delta, -1 | 1) {
            violations.add("delta", "must be 1 or -1");
        }
        let Some(user) = user.filter(|_| violations.is_empty()) else {
            return Err(Error::from(violations).into());
        };
        let applied = self
            .users
            .apply_tweet_count(&request.event_id, user, i64::from(request.delta))
            .await?;
        Ok(Response::new(pb::ApplyTweetCountEventResponse { applied }))
    }
}
