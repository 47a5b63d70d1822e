//! The tonic service: parse the request into domain values, call the database, map back.

use std::{collections::HashMap, pin::Pin};

use prost::Message;
use sqlx::PgPool;
use tokio_stream::{Stream, wrappers::ReceiverStream};
use tonic::{Request, Response, Status};
use xir_common::{auth, errors::FieldViolations, outbox, rate::PerUserLimit};
use xir_proto::{
    timeline::v1::FollowEvent,
    user::v1::{self as pb, get_profile_request::User, user_service_server::UserService},
};

use crate::{
    db::{self, Direction, ListedProfile, ProfileRow},
    domain::{Bio, Cursor, DisplayName, PageLimit, SearchQuery, UserId, Username},
    error::Error,
};

/// The outbox topic whose events become svc-timeline's ApplyFollowEvent calls.
pub const FOLLOW_TOPIC: &str = "timeline.follow";
/// Most ids one batch call takes (BatchGetProfiles, ResolveUsernames, GetRelationships).
const MAX_BATCH: usize = 100;
const SEARCH_LIMIT: u32 = 20;
const DEFAULT_ID_BATCH: u32 = 1_000;
const MAX_ID_BATCH: u32 = 10_000;

pub struct UserApi {
    pool: PgPool,
    /// Follows notify the followed: one user may make so many.
    notifying: PerUserLimit,
}

impl UserApi {
    pub fn new(pool: PgPool, notifying: PerUserLimit) -> Self {
        Self { pool, notifying }
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

fn me<T>(request: &Request<T>) -> Result<UserId, Status> {
    let caller = auth::caller(request)?;
    UserId::parse(caller.user_id).map_err(|_| Status::unauthenticated("invalid caller"))
}

fn field<T, E: std::fmt::Display>(name: &str, result: Result<T, E>) -> Result<T, Error> {
    result.map_err(|error| Error::from(FieldViolations::single(name, error.to_string())))
}

/// `ids` parsed, at most `MAX_BATCH`, duplicates dropped, order kept.
fn batch_ids(name: &str, ids: &[i64]) -> Result<Vec<i64>, Error> {
    if ids.len() > MAX_BATCH {
        return Err(FieldViolations::single(name, format!("at most {MAX_BATCH} ids")).into());
    }
    let mut seen = std::collections::HashSet::new();
    let mut parsed = Vec::with_capacity(ids.len());
    for &raw in ids {
        let id = field(name, UserId::parse(raw))?;
        if seen.insert(id) {
            parsed.push(id.get());
        }
    }
    Ok(parsed)
}

/// A page of listed profiles and the cursor of the next page.
fn page(mut rows: Vec<ListedProfile>, limit: PageLimit) -> (Vec<pb::Profile>, String) {
    let more = rows.len() > limit.get() as usize;
    rows.truncate(limit.get() as usize);
    let next = match (more, rows.last()) {
        (true, Some(last)) => Cursor::after(last.seq).encode(),
        _ => String::new(),
    };
    (
        rows.into_iter().map(|row| row.profile.into()).collect(),
        next,
    )
}

impl UserApi {
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
        let rows = db::list_page(
            &self.pool,
            direction,
            user,
            cursor.map(Cursor::seq),
            limit.probe(),
        )
        .await?;
        Ok(page(rows, limit))
    }

    async fn relationship(&self, viewer: UserId, other: UserId) -> Result<pb::Relationship, Error> {
        let (following, followed_by) =
            db::relationships(&self.pool, viewer, &[other.get()]).await?;
        Ok(pb::Relationship {
            user_id: other.get(),
            following: !following.is_empty(),
            followed_by: !followed_by.is_empty(),
        })
    }

    /// Follows or unfollows in one transaction: the edge, both counts and the outbox event.
    async fn change_edge(
        &self,
        follower: UserId,
        followee: UserId,
        follow: bool,
    ) -> Result<pb::Relationship, Error> {
        if follower == followee {
            return Err(FieldViolations::single("user_id", "you cannot follow yourself").into());
        }
        let mut tx = self.pool.begin().await?;
        let present = db::lock_profiles(&mut tx, [follower, followee]).await?;
        if !present.contains(&followee.get()) {
            return Err(Error::NotFound("user"));
        }
        if !present.contains(&follower.get()) {
            return Err(Error::FailedPrecondition(
                "your profile is still being created; try again shortly",
            ));
        }
        let changed = if follow {
            db::insert_follow(&mut tx, follower, followee).await?
        } else {
            db::delete_follow(&mut tx, follower, followee).await?
        };
        if changed {
            db::adjust_follow_counts(&mut tx, follower, followee, if follow { 1 } else { -1 })
                .await?;
            let event = FollowEvent {
                event_id: String::new(), // the relay names it after the outbox row
                occurred_at: Some(timestamp(chrono::Utc::now())),
                follower_id: follower.get(),
                followee_id: followee.get(),
                following: follow,
            };
            outbox::enqueue(&mut tx, FOLLOW_TOPIC, &event.encode_to_vec()).await?;
        }
        tx.commit().await?;
        self.relationship(follower, followee).await
    }
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
                let id = field("user_id", UserId::parse(raw))?;
                db::profile_by_id(&self.pool, id)
                    .await
                    .map_err(Error::from)?
            }
            Some(User::Username(raw)) => {
                let username = field("username", Username::parse(&raw))?;
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

    async fn get_own_profile(
        &self,
        request: Request<pb::GetOwnProfileRequest>,
    ) -> Result<Response<pb::GetProfileResponse>, Status> {
        let me = me(&request)?;
        // The token proves the account exists, so a missing profile is one svc-auth's outbox
        // has not delivered yet: worth a retry, not a NOT_FOUND.
        let profile = db::profile_by_id(&self.pool, me)
            .await
            .map_err(Error::from)?
            .ok_or(Error::NotYet(
                "your profile is being created; retry shortly",
            ))?;
        Ok(Response::new(pb::GetProfileResponse {
            profile: Some(profile.into()),
        }))
    }

    async fn update_profile(
        &self,
        request: Request<pb::UpdateProfileRequest>,
    ) -> Result<Response<pb::UpdateProfileResponse>, Status> {
        let me = me(&request)?;
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
        request: Request<pb::FollowRequest>,
    ) -> Result<Response<pb::FollowResponse>, Status> {
        let me = me(&request)?;
        let target = field("user_id", UserId::parse(request.into_inner().user_id))?;
        self.notifying.check(me.get())?;
        let relationship = self.change_edge(me, target, true).await?;
        Ok(Response::new(pb::FollowResponse {
            relationship: Some(relationship),
        }))
    }

    async fn unfollow(
        &self,
        request: Request<pb::UnfollowRequest>,
    ) -> Result<Response<pb::UnfollowResponse>, Status> {
        let me = me(&request)?;
        let target = field("user_id", UserId::parse(request.into_inner().user_id))?;
        let relationship = self.change_edge(me, target, false).await?;
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
        let me = me(&request)?;
        let ids = batch_ids("user_ids", &request.into_inner().user_ids)?;
        let (following, followed_by) = db::relationships(&self.pool, me, &ids)
            .await
            .map_err(Error::from)?;
        let relationships = ids
            .into_iter()
            .map(|id| pb::Relationship {
                user_id: id,
                following: following.contains(&id),
                followed_by: followed_by.contains(&id),
            })
            .collect();
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
        let rows = db::search(&self.pool, &query, i64::from(limit.get()))
            .await
            .map_err(Error::from)?;
        Ok(Response::new(pb::SearchUsersResponse {
            profiles: rows.into_iter().map(Into::into).collect(),
        }))
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
        request: Request<pb::BatchGetProfilesRequest>,
    ) -> Result<Response<pb::BatchGetProfilesResponse>, Status> {
        let ids = batch_ids("user_ids", &request.into_inner().user_ids)?;
        let mut by_id: HashMap<i64, ProfileRow> = db::profiles_by_ids(&self.pool, &ids)
            .await
            .map_err(Error::from)?
            .into_iter()
            .map(|row| (row.user_id, row))
            .collect();
        let profiles = ids
            .iter()
            .filter_map(|id| by_id.remove(id))
            .map(Into::into)
            .collect();
        Ok(Response::new(pb::BatchGetProfilesResponse { profiles }))
    }

    async fn resolve_usernames(
        &self,
        request: Request<pb::ResolveUsernamesRequest>,
    ) -> Result<Response<pb::ResolveUsernamesResponse>, Status> {
        let names = request.into_inner().usernames;
        if names.len() > MAX_BATCH {
            return Err(
                FieldViolations::single("usernames", format!("at most {MAX_BATCH} names")).into(),
            );
        }
        // Names that cannot be usernames resolve to nobody; they are not an error here (they
        // come from tweet text).
        let lowered: Vec<String> = names
            .iter()
            .filter(|name| Username::parse(name).is_ok())
            .map(|name| name.to_lowercase())
            .collect();
        let rows = db::profiles_by_usernames(&self.pool, &lowered)
            .await
            .map_err(Error::from)?;
        Ok(Response::new(pb::ResolveUsernamesResponse {
            profiles: rows.into_iter().map(Into::into).collect(),
        }))
    }

    type ListFollowerIdsStream = FollowerIdStream;

    /// Streams every follower id in keyset batches: one short query per batch, at most
    /// `batch_size` ids held at a time, and the bounded channel makes a slow reader slow the
    /// reads down instead of filling memory.
    async fn list_follower_ids(
        &self,
        request: Request<pb::ListFollowerIdsRequest>,
    ) -> Result<Response<Self::ListFollowerIdsStream>, Status> {
        let request = request.into_inner();
        let user = field("user_id", UserId::parse(request.user_id))?;
        let batch = field(
            "batch_size",
            PageLimit::parse_with(request.batch_size, DEFAULT_ID_BATCH, MAX_ID_BATCH),
        )?;
        let (sender, receiver) = tokio::sync::mpsc::channel(2);
        let pool = self.pool.clone();
        tokio::spawn(async move {
            let mut before = None;
            loop {
                let rows = match db::follower_ids(&pool, user, before, i64::from(batch.get())).await
                {
                    Ok(rows) => rows,
                    Err(error) => {
                        let _ = sender.send(Err(xir_common::postgres::status(&error))).await;
                        return;
                    }
                };
                let Some(&(last_seq, _)) = rows.last() else {
                    return;
                };
                let full = rows.len() == batch.get() as usize;
                before = Some(last_seq);
                let message = pb::FollowerIdBatch {
                    follower_ids: rows.into_iter().map(|(_, id)| id).collect(),
                };
                if sender.send(Ok(message)).await.is_err() || !full {
                    return; // the caller went away, or that was the last batch
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(receiver))))
    }

    async fn list_following_ids(
        &self,
        request: Request<pb::ListFollowingIdsRequest>,
    ) -> Result<Response<pb::ListFollowingIdsResponse>, Status> {
        let request = request.into_inner();
        let user = field("user_id", UserId::parse(request.user_id))?;
        if request.min_followers_count < 0 {
            return Err(
                FieldViolations::single("min_followers_count", "must not be negative").into(),
            );
        }
        let user_ids = db::following_ids(&self.pool, user, request.min_followers_count)
            .await
            .map_err(Error::from)?;
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
        let applied = db::apply_tweet_count(
            &self.pool,
            &request.event_id,
            user,
            i64::from(request.delta),
        )
        .await
        .map_err(Error::from)?;
        Ok(Response::new(pb::ApplyTweetCountEventResponse { applied }))
    }
}
