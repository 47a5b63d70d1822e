//! Profiles: created from svc-auth's sign-up events, read one at a time or in batches,
//! edited by their owner, found by search. `Users` also owns the follow graph (`graph`).

use std::collections::HashMap;

use sqlx::PgPool;
use xir_common::{errors::During, rate::PerUserLimit, request::timestamp};
use xir_proto::user::v1 as pb;

use crate::{
    db::{self, ProfileRow},
    domain::{Bio, DisplayName, PageLimit, SearchQuery, UserId, Username},
    error::Error,
};

pub struct Users {
    pub(crate) pool: PgPool,
    /// Follows notify the followed: one user may make so many.
    pub(crate) notifying: PerUserLimit,
}

/// How a profile is looked up.
pub enum Lookup {
    Id(UserId),
    Username(Username),
}

/// A profile as svc-auth's sign-up event describes it.
pub struct NewProfile {
    pub id: UserId,
    pub username: Username,
    pub display_name: DisplayName,
    pub created_at: chrono::DateTime<chrono::Utc>,
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

impl Users {
    pub fn new(pool: PgPool, notifying: PerUserLimit) -> Self {
        Self { pool, notifying }
    }

    pub async fn profile(&self, lookup: Lookup) -> Result<pb::Profile, Error> {
        let row = match lookup {
            Lookup::Id(id) => db::profile_by_id(&self.pool, id).await,
            Lookup::Username(name) => db::profile_by_username(&self.pool, &name).await,
        };
        let row = row.during("find profile")?;
        Ok(row.ok_or(Error::NotFound("profile"))?.into())
    }

    /// The caller's own profile. The token proves the account exists, so a missing profile
    /// is one svc-auth's outbox has not delivered yet: worth a retry, not a NOT_FOUND.
    pub async fn own_profile(&self, me: UserId) -> Result<pb::Profile, Error> {
        let row = db::profile_by_id(&self.pool, me)
            .await
            .during("find own profile")?
            .ok_or(Error::NotYet(
                "your profile is being created; retry shortly",
            ))?;
        Ok(row.into())
    }

    pub async fn update_profile(
        &self,
        me: UserId,
        display_name: Option<DisplayName>,
        bio: Option<Bio>,
    ) -> Result<pb::Profile, Error> {
        let row = db::update_profile(&self.pool, me, display_name.as_ref(), bio.as_ref())
            .await
            .during("update profile")?
            .ok_or(Error::NotFound("profile"))?;
        Ok(row.into())
    }

    pub async fn search(
        &self,
        query: &SearchQuery,
        limit: PageLimit,
    ) -> Result<Vec<pb::Profile>, Error> {
        let rows = db::search(&self.pool, query, i64::from(limit.get()))
            .await
            .during("search profiles")?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// True when the profile is new; a repeated event changes nothing.
    pub async fn create_profile(&self, new: NewProfile) -> Result<bool, Error> {
        Ok(db::create_profile(
            &self.pool,
            new.id,
            &new.username,
            &new.display_name,
            new.created_at,
        )
        .await
        .during("create profile")?)
    }

    /// The profiles of `ids` that exist, in the order of `ids`.
    pub async fn profiles(&self, ids: &[UserId]) -> Result<Vec<pb::Profile>, Error> {
        let raw: Vec<i64> = ids.iter().map(|id| id.get()).collect();
        let mut by_id: HashMap<i64, ProfileRow> = db::profiles_by_ids(&self.pool, &raw)
            .await
            .during("read profiles by id")?
            .into_iter()
            .map(|row| (row.user_id, row))
            .collect();
        Ok(raw
            .iter()
            .filter_map(|id| by_id.remove(id))
            .map(Into::into)
            .collect())
    }

    /// The profiles of the names that are usernames of somebody. Names that cannot be
    /// usernames resolve to nobody: they come from tweet text and are not an error.
    pub async fn resolve_usernames(&self, names: &[String]) -> Result<Vec<pb::Profile>, Error> {
        let lowered: Vec<String> = names
            .iter()
            .filter(|name| Username::parse(name).is_ok())
            .map(|name| name.to_lowercase())
            .collect();
        let rows = db::profiles_by_usernames(&self.pool, &lowered)
            .await
            .during("read profiles by username")?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// Moves a tweet count once per event id; false when the event was applied before.
    pub async fn apply_tweet_count(
        &self,
        event_id: &str,
        user: UserId,
        delta: i64,
    ) -> Result<bool, Error> {
        Ok(db::apply_tweet_count(&self.pool, event_id, user, delta)
            .await
            .during("apply tweet count")?)
    }
}
