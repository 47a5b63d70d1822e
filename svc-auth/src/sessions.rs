//! Sessions: a refresh token rotates on every use, and a rotated token that comes back
//! revokes its whole family (whoever holds the newest token may be a thief).

use chrono::Utc;
use xir_common::errors::During;
use xir_proto::auth::v1 as pb;

use crate::{
    accounts::{Accounts, user_id},
    db::{self, StoredRefreshToken},
    error::Error,
    refresh_tokens,
};

const INVALID: Error = Error::Unauthenticated("invalid or expired refresh token");

impl Accounts {
    /// A new token pair in the same family, the presented token spent.
    pub async fn refresh(&self, token: &str) -> Result<pb::TokenPair, Error> {
        if !refresh_tokens::looks_valid(token) {
            return Err(INVALID);
        }
        let hash = refresh_tokens::hash(token);
        let stored = db::refresh_token(&self.pool, &hash)
            .await
            .during("find refresh token")?
            .ok_or(INVALID)?;
        if stored.family_revoked_at.is_some() || stored.expires_at < Utc::now() {
            return Err(INVALID);
        }
        if stored.rotated_at.is_some() {
            return Err(self.reused(&stored).await);
        }
        let user = user_id(stored.user_id)?;
        let mut tx = self.pool.begin().await.during("begin refresh")?;
        if !db::mark_rotated(&mut tx, &hash)
            .await
            .during("rotate refresh token")?
        {
            // Rotated by a concurrent request between our read and this write: a reuse too.
            drop(tx);
            return Err(self.reused(&stored).await);
        }
        let tokens = self
            .issue_tokens(&mut tx, user, Some(stored.family_id))
            .await?;
        tx.commit().await.during("commit refresh")?;
        Ok(tokens)
    }

    /// Ends the session the token belongs to; an unknown token is already signed out.
    pub async fn logout(&self, token: &str) -> Result<(), Error> {
        if refresh_tokens::looks_valid(token)
            && let Some(stored) = db::refresh_token(&self.pool, &refresh_tokens::hash(token))
                .await
                .during("find refresh token")?
        {
            db::revoke_family(&self.pool, stored.family_id)
                .await
                .during("revoke token family")?;
        }
        Ok(())
    }

    /// Revokes the family of a token presented again, and answers as for any invalid token.
    async fn reused(&self, stored: &StoredRefreshToken) -> Error {
        tracing::warn!(family = %stored.family_id, user_id = stored.user_id, "refresh token reused: family revoked");
        match db::revoke_family(&self.pool, stored.family_id)
            .await
            .during("revoke reused token family")
        {
            Ok(()) => INVALID,
            Err(error) => error.into(),
        }
    }
}
