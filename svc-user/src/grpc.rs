//! The tonic service: parse the request into domain values, call the database, map back.

use std::pin::Pin;

use sqlx::PgPool;
use tokio_stream::Stream;
use tonic::{Request, Response, Status};
use xir_common::{auth, errors::FieldViolations};
use xir_proto::user::v1::{
    self as pb, get_profile_request::User, user_service_server::UserService,
};

use crate::{
    db::{self, ProfileRow},
    domain::{Bio, DisplayName, UserId, Username},
    error::Error,
};

pub struct UserApi {
    pool: PgPool,
}

impl UserApi {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

fn timestamp(at: chrono::DateTime<chrono::Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: at.timestamp_subsec_nanos() as i32,
    }
}

impl From<ProfileRow> for pb::Profile {
    fn from(row: ProfileRow) -> Self {
        pb::Profile {
            user_id: row.user_id,
            username: row.username,
            display_name: row.display_name,
            bio: row.bio,
            created_at: Some(timestamp(row.created_at)),
            followers_count: row.followers_count,
            following_count: row.following_count,
            tweet_count: row.tweet_count,
        }
    }
}

fn not_yet(rpc: &str) -> Status {
    Status::unimplemented(format!("{rpc} is not implemented yet"))
}

type FollowerIdStream = Pin<Box<dyn Stream<Item = Result<pb::FollowerIdBatch, Status>> + Send>>;

#[tonic::async_trait]
impl UserService for UserApi {
    async fn get_profile(
        &self,
        request: Request<pb::GetProfileRequest>,
    ) -> Result<Response<pb::GetProfileResponse>, Status> {
        let row = match request.into_inner().user {
            Some(User::UserId(raw)) => {
                let id = UserId::parse(raw)
                    .map_err(|e| FieldViolations::single("user_id", e.to_string()))?;
                db::profile_by_id(&self.pool, id)
                    .await
                    .map_err(Error::from)?
            }
            Some(User::Username(raw)) => {
                let username = Username::parse(&raw)
                    .map_err(|e| FieldViolations::single("username", e.to_string()))?;
                db::profile_by_username(&self.pool, &username)
                    .await
                    .map_err(Error::from)?
            }
            None => return Err(FieldViolations::single("user", "set user_id or username").into()),
        };
        let profile = row.ok_or(Error::NotFound("profile"))?;
        Ok(Response::new(pb::GetProfileResponse {
            profile: Some(profile.into()),
        }))
    }

    async fn update_profile(
        &self,
        request: Request<pb::UpdateProfileRequest>,
    ) -> Result<Response<pb::UpdateProfileResponse>, Status> {
        let caller = auth::caller(&request)?;
        let me =
            UserId::parse(caller.user_id).map_err(|_| Status::unauthenticated("invalid caller"))?;
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
        let profile = db::update_profile(&self.pool, me, display_name.as_ref(), bio.as_ref())
            .await
            .map_err(Error::from)?
            .ok_or(Error::NotFound("profile"))?;
        Ok(Response::new(pb::UpdateProfileResponse {
            profile: Some(profile.into()),
        }))
    }

    async fn follow(
        &self,
        _: Request<pb::FollowRequest>,
    ) -> Result<Response<pb::FollowResponse>, Status> {
        Err(not_yet("Follow"))
    }

    async fn unfollow(
        &self,
        _: Request<pb::UnfollowRequest>,
    ) -> Result<Response<pb::UnfollowResponse>, Status> {
        Err(not_yet("Unfollow"))
    }

    async fn list_followers(
        &self,
        _: Request<pb::ListFollowersRequest>,
    ) -> Result<Response<pb::ListFollowersResponse>, Status> {
        Err(not_yet("ListFollowers"))
    }

    async fn list_following(
        &self,
        _: Request<pb::ListFollowingRequest>,
    ) -> Result<Response<pb::ListFollowingResponse>, Status> {
        Err(not_yet("ListFollowing"))
    }

    async fn get_relationships(
        &self,
        _: Request<pb::GetRelationshipsRequest>,
    ) -> Result<Response<pb::GetRelationshipsResponse>, Status> {
        Err(not_yet("GetRelationships"))
    }

    async fn search_users(
        &self,
        _: Request<pb::SearchUsersRequest>,
    ) -> Result<Response<pb::SearchUsersResponse>, Status> {
        Err(not_yet("SearchUsers"))
    }

    async fn create_profile(
        &self,
        request: Request<pb::CreateProfileRequest>,
    ) -> Result<Response<pb::CreateProfileResponse>, Status> {
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let id = violations.check("user_id", UserId::parse(request.user_id));
        let username = violations.check("username", Username::parse(&request.username));
        let display_name =
            violations.check("display_name", DisplayName::parse(&request.display_name));
        let created_at = request
            .created_at
            .and_then(|t| chrono::DateTime::from_timestamp(t.seconds, t.nanos.max(0) as u32));
        if created_at.is_none() {
            violations.add("created_at", "is required");
        }
        let (Some(id), Some(username), Some(display_name), Some(created_at)) =
            (id, username, display_name, created_at)
        else {
            return Err(Error::from(violations).into());
        };
        let created = db::create_profile(&self.pool, id, &username, &display_name, created_at)
            .await
            .map_err(Error::from)?;
        Ok(Response::new(pb::CreateProfileResponse { created }))
    }

    async fn batch_get_profiles(
        &self,
        _: Request<pb::BatchGetProfilesRequest>,
    ) -> Result<Response<pb::BatchGetProfilesResponse>, Status> {
        Err(not_yet("BatchGetProfiles"))
    }

    async fn resolve_usernames(
        &self,
        _: Request<pb::ResolveUsernamesRequest>,
    ) -> Result<Response<pb::ResolveUsernamesResponse>, Status> {
        Err(not_yet("ResolveUsernames"))
    }

    type ListFollowerIdsStream = FollowerIdStream;

    async fn list_follower_ids(
        &self,
        _: Request<pb::ListFollowerIdsRequest>,
    ) -> Result<Response<Self::ListFollowerIdsStream>, Status> {
        Err(not_yet("ListFollowerIds"))
    }

    async fn list_following_ids(
        &self,
        _: Request<pb::ListFollowingIdsRequest>,
    ) -> Result<Response<pb::ListFollowingIdsResponse>, Status> {
        Err(not_yet("ListFollowingIds"))
    }

    async fn apply_tweet_count_event(
        &self,
        _: Request<pb::ApplyTweetCountEventRequest>,
    ) -> Result<Response<pb::ApplyTweetCountEventResponse>, Status> {
        Err(not_yet("ApplyTweetCountEvent"))
    }
}
