//! Queries on svc-auth's tables.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::domain::{Email, UserId, Username};

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// The unique indexes whose violations mean "taken".
pub const USERNAME_TAKEN: &str = "accounts_username_lower_key";
pub const EMAIL_TAKEN: &str = "accounts_email_lower_key";

#[derive(Debug, sqlx::FromRow)]
pub struct Account {
    pub user_id: i64,
    pub username: String,
    pub password_hash: String,
}

#[tracing::instrument(skip_all)]
pub async fn insert_account(
    connection: &mut PgConnection,
    user: UserId,
    username: &Username,
    email: &Email,
    password_hash: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO accounts (user_id, username, email, password_hash) VALUES ($1, $2, $3, $4)",
    )
    .bind(user.get())
    .bind(username.as_str())
    .bind(email.as_str())
    .bind(password_hash)
    .execute(connection)
    .await?;
    Ok(())
}

/// By username or email, regardless of case (each side served by its unique index).
#[tracing::instrument(skip_all)]
pub async fn account_by_login(pool: &PgPool, login: &str) -> sqlx::Result<Option<Account>> {
    sqlx::query_as(
        "SELECT user_id, username, password_hash FROM accounts
         WHERE lower(username) = lower($1) OR lower(email) = lower($1)",
    )
    .bind(login)
    .fetch_optional(pool)
    .await
}

#[tracing::instrument(skip_all)]
pub async fn account_by_id(pool: &PgPool, user: UserId) -> sqlx::Result<Option<Account>> {
    sqlx::query_as("SELECT user_id, username, password_hash FROM accounts WHERE user_id = $1")
        .bind(user.get())
        .fetch_optional(pool)
        .await
}

#[tracing::instrument(skip_all)]
pub async fn set_password_hash(
    connection: &mut PgConnection,
    user: UserId,
    hash: &str,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE accounts SET password_hash = $2, updated_at = now() WHERE user_id = $1")
        .bind(user.get())
        .bind(hash)
        .execute(connection)
        .await?;
    Ok(())
}

#[tracing::instrument(skip_all)]
pub async fn new_family(connection: &mut PgConnection, user: UserId) -> sqlx::Result<Uuid> {
    let family = Uuid::new_v4();
    sqlx::query("INSERT INTO token_families (family_id, user_id) VALUES ($1, $2)")
        .bind(family)
        .bind(user.get())
        .execute(connection)
        .await?;
    Ok(family)
}

#[tracing::instrument(skip_all)]
pub async fn insert_refresh_token(
    connection: &mut PgConnection,
    hash: &[u8],
    family: Uuid,
    expires_at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO refresh_tokens (token_hash, family_id, expires_at) VALUES ($1, $2, $3)",
    )
    .bind(hash)
    .bind(family)
    .bind(expires_at)
    .execute(connection)
    .await?;
    Ok(())
}

#[derive(Debug, sqlx::FromRow)]
pub struct StoredRefreshToken {
    pub family_id: Uuid,
    pub user_id: i64,
    pub expires_at: DateTime<Utc>,
    pub rotated_at: Option<DateTime<Utc>>,
    pub family_revoked_at: Option<DateTime<Utc>>,
}

#[tracing::instrument(skip_all)]
pub async fn refresh_token(pool: &PgPool, hash: &[u8]) -> sqlx::Result<Option<StoredRefreshToken>> {
    sqlx::query_as(
        "SELECT t.family_id, f.user_id, t.expires_at, t.rotated_at, f.revoked_at AS family_revoked_at
         FROM refresh_tokens t JOIN token_families f USING (family_id)
         WHERE t.token_hash = $1",
    )
    .bind(hash)
    .fetch_optional(pool)
    .await
}

/// Marks the token used; false when another request rotated it first.
#[tracing::instrument(skip_all)]
pub async fn mark_rotated(connection: &mut PgConnection, hash: &[u8]) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE refresh_tokens SET rotated_at = now() WHERE token_hash = $1 AND rotated_at IS NULL",
    )
    .bind(hash)
    .execute(connection)
    .await?;
    Ok(done.rows_affected() == 1)
}

#[tracing::instrument(skip_all)]
pub async fn revoke_family(pool: &PgPool, family: Uuid) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE token_families SET revoked_at = now() WHERE family_id = $1 AND revoked_at IS NULL",
    )
    .bind(family)
    .execute(pool)
    .await?;
    Ok(())
}

#[tracing::instrument(skip_all)]
pub async fn revoke_all_families(connection: &mut PgConnection, user: UserId) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE token_families SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL",
    )
    .bind(user.get())
    .execute(connection)
    .await?;
    Ok(())
}
