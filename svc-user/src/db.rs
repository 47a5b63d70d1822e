//! Queries on svc-user's tables.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};

use crate::domain::{Bio, DisplayName, SearchQuery, UserId, Username};

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ProfileRow {
    pub user_id: i64,
    pub username: String,
    pub display_name: String,
    pub bio: String,
    pub created_at: DateTime<Utc>,
    pub followers_count: i64,
    pub following_count: i64,
    pub tweet_count: i64,
}

const PROFILE_COLUMNS: &str = "user_id, username, display_name, bio, created_at, followers_count, following_count, tweet_count";

#[tracing::instrument(skip_all)]
pub async fn profile_by_id(pool: &PgPool, id: UserId) -> Result<Option<ProfileRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {PROFILE_COLUMNS} FROM profiles WHERE user_id = $1"
    )))
    .bind(id.get())
    .fetch_optional(pool)
    .await
}

/// Case-insensitive, served by `profiles_username_lower_key`.
#[tracing::instrument(skip_all)]
pub async fn profile_by_username(
    pool: &PgPool,
    username: &Username,
) -> Result<Option<ProfileRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {PROFILE_COLUMNS} FROM profiles WHERE lower(username) = lower($1)"
    )))
    .bind(username.as_str())
    .fetch_optional(pool)
    .await
}

/// Creates the profile unless it exists; true when this call created it.
#[tracing::instrument(skip_all)]
pub async fn create_profile(
    pool: &PgPool,
    id: UserId,
    username: &Username,
    display_name: &DisplayName,
    created_at: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO profiles (user_id, username, display_name, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (user_id) DO NOTHING",
    )
    .bind(id.get())
    .bind(username.as_str())
    .bind(display_name.as_str())
    .bind(created_at)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Sets the fields that are `Some`; `None` when the profile does not exist.
#[tracing::instrument(skip_all)]
pub async fn update_profile(
    pool: &PgPool,
    id: UserId,
    display_name: Option<&DisplayName>,
    bio: Option<&Bio>,
) -> Result<Option<ProfileRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE profiles SET display_name = COALESCE($2, display_name), bio = COALESCE($3, bio)
         WHERE user_id = $1 RETURNING {PROFILE_COLUMNS}"
    )))
    .bind(id.get())
    .bind(display_name.map(DisplayName::as_str))
    .bind(bio.map(Bio::as_str))
    .fetch_optional(pool)
    .await
}

/// A profile together with the `seq` of the edge that listed it.
#[derive(Debug, sqlx::FromRow)]
pub struct ListedProfile {
    pub seq: i64,
    #[sqlx(flatten)]
    pub profile: ProfileRow,
}

/// Locks the rows of `ids` in id order (so two opposite follows cannot deadlock) and returns
/// the ids that exist.
#[tracing::instrument(skip_all)]
pub async fn lock_profiles(
    connection: &mut PgConnection,
    ids: [UserId; 2],
) -> sqlx::Result<Vec<i64>> {
    sqlx::query_scalar(
        "SELECT user_id FROM profiles WHERE user_id = ANY($1) ORDER BY user_id FOR UPDATE",
    )
    .bind(ids.map(UserId::get).to_vec())
    .fetch_all(connection)
    .await
}

/// True when the edge is new.
#[tracing::instrument(skip_all)]
pub async fn insert_follow(
    connection: &mut PgConnection,
    follower: UserId,
    followee: UserId,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "INSERT INTO follows (follower_id, followee_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
    )
    .bind(follower.get())
    .bind(followee.get())
    .execute(connection)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// True when there was an edge to delete.
#[tracing::instrument(skip_all)]
pub async fn delete_follow(
    connection: &mut PgConnection,
    follower: UserId,
    followee: UserId,
) -> sqlx::Result<bool> {
    let done = sqlx::query("DELETE FROM follows WHERE follower_id = $1 AND followee_id = $2")
        .bind(follower.get())
        .bind(followee.get())
        .execute(connection)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Moves the follower's following_count and the followee's followers_count by `delta`, in the
/// transaction that changed the edge.
#[tracing::instrument(skip_all)]
pub async fn adjust_follow_counts(
    connection: &mut PgConnection,
    follower: UserId,
    followee: UserId,
    delta: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE profiles SET
             following_count = following_count + CASE WHEN user_id = $1 THEN $3 ELSE 0 END,
             followers_count = followers_count + CASE WHEN user_id = $2 THEN $3 ELSE 0 END
         WHERE user_id IN ($1, $2)",
    )
    .bind(follower.get())
    .bind(followee.get())
    .bind(delta)
    .execute(connection)
    .await?;
    Ok(())
}

/// Which of `ids` the viewer follows, and which follow the viewer (two primary-key lookups).
#[tracing::instrument(skip_all)]
pub async fn relationships(
    pool: &PgPool,
    viewer: UserId,
    ids: &[i64],
) -> sqlx::Result<(Vec<i64>, Vec<i64>)> {
    let following = sqlx::query_scalar(
        "SELECT followee_id FROM follows WHERE follower_id = $1 AND followee_id = ANY($2)",
    )
    .bind(viewer.get())
    .bind(ids)
    .fetch_all(pool)
    .await?;
    let followed_by = sqlx::query_scalar(
        "SELECT follower_id FROM follows WHERE follower_id = ANY($2) AND followee_id = $1",
    )
    .bind(viewer.get())
    .bind(ids)
    .fetch_all(pool)
    .await?;
    Ok((following, followed_by))
}

/// Which side of the edge a list walks.
#[derive(Debug, Clone, Copy)]
pub enum Direction {
    /// Who follows the user (`follows_followee_seq`).
    Followers,
    /// Whom the user follows (`follows_follower_seq`).
    Following,
}

impl Direction {
    /// (column holding the user, column holding the listed ids)
    fn columns(self) -> (&'static str, &'static str) {
        match self {
            Direction::Followers => ("followee_id", "follower_id"),
            Direction::Following => ("follower_id", "followee_id"),
        }
    }
}

/// One page of profiles on one side of `user`'s edges, newest edge first, before `before_seq`.
#[tracing::instrument(skip_all)]
pub async fn list_page(
    pool: &PgPool,
    direction: Direction,
    user: UserId,
    before_seq: Option<i64>,
    limit: i64,
) -> sqlx::Result<Vec<ListedProfile>> {
    let (own, other) = direction.columns();
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT f.seq, p.user_id, p.username, p.display_name, p.bio, p.created_at,
                p.followers_count, p.following_count, p.tweet_count
         FROM follows f JOIN profiles p ON p.user_id = f.{other}
         WHERE f.{own} = $1 AND ($2::bigint IS NULL OR f.seq < $2)
         ORDER BY f.seq DESC LIMIT $3"
    )))
    .bind(user.get())
    .bind(before_seq)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// One batch of follower ids (index-only), newest edge first, before `before_seq`.
#[tracing::instrument(skip_all)]
pub async fn follower_ids(
    pool: &PgPool,
    user: UserId,
    before_seq: Option<i64>,
    limit: i64,
) -> sqlx::Result<Vec<(i64, i64)>> {
    sqlx::query_as(
        "SELECT seq, follower_id FROM follows
         WHERE followee_id = $1 AND ($2::bigint IS NULL OR seq < $2)
         ORDER BY seq DESC LIMIT $3",
    )
    .bind(user.get())
    .bind(before_seq)
    .bind(limit)
    .fetch_all(pool)
    .await
}

#[tracing::instrument(skip_all)]
pub async fn following_ids(
    pool: &PgPool,
    user: UserId,
    min_followers: i64,
) -> sqlx::Result<Vec<i64>> {
    sqlx::query_scalar(
        "SELECT f.followee_id FROM follows f JOIN profiles p ON p.user_id = f.followee_id
         WHERE f.follower_id = $1 AND p.followers_count >= $2
         ORDER BY f.seq DESC",
    )
    .bind(user.get())
    .bind(min_followers)
    .fetch_all(pool)
    .await
}

/// Prefix search on username or display name, most followed first.
#[tracing::instrument(skip_all)]
pub async fn search(
    pool: &PgPool,
    query: &SearchQuery,
    limit: i64,
) -> sqlx::Result<Vec<ProfileRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {PROFILE_COLUMNS} FROM profiles
         WHERE lower(username) LIKE $1 OR lower(display_name) LIKE $1
         ORDER BY followers_count DESC, user_id LIMIT $2"
    )))
    .bind(query.like_prefix())
    .bind(limit)
    .fetch_all(pool)
    .await
}

#[tracing::instrument(skip_all)]
pub async fn profiles_by_ids(pool: &PgPool, ids: &[i64]) -> sqlx::Result<Vec<ProfileRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {PROFILE_COLUMNS} FROM profiles WHERE user_id = ANY($1)"
    )))
    .bind(ids)
    .fetch_all(pool)
    .await
}

/// `lowered` must be lowercase already.
#[tracing::instrument(skip_all)]
pub async fn profiles_by_usernames(
    pool: &PgPool,
    lowered: &[String],
) -> sqlx::Result<Vec<ProfileRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {PROFILE_COLUMNS} FROM profiles WHERE lower(username) = ANY($1)"
    )))
    .bind(lowered)
    .fetch_all(pool)
    .await
}

/// Applies a tweet-count change once per event id; false when already applied.
#[tracing::instrument(skip_all)]
pub async fn apply_tweet_count(
    pool: &PgPool,
    event_id: &str,
    user: UserId,
    delta: i64,
) -> sqlx::Result<bool> {
    let mut tx = pool.begin().await?;
    let fresh =
        sqlx::query("INSERT INTO applied_events (event_id) VALUES ($1) ON CONFLICT DO NOTHING")
            .bind(event_id)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            == 1;
    if fresh {
        sqlx::query(
            "UPDATE profiles SET tweet_count = GREATEST(tweet_count + $2, 0) WHERE user_id = $1",
        )
        .bind(user.get())
        .bind(delta)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(fresh)
}
