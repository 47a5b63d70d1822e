//! Queries on svc-user's tables.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::domain::{Bio, DisplayName, UserId, Username};

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

pub async fn profile_by_id(pool: &PgPool, id: UserId) -> Result<Option<ProfileRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {PROFILE_COLUMNS} FROM profiles WHERE user_id = $1"
    )))
    .bind(id.get())
    .fetch_optional(pool)
    .await
}

/// Case-insensitive, served by `profiles_username_lower_key`.
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
