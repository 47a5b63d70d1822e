//! Queries on svc-user's tables.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::domain::{UserId, Username};

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
