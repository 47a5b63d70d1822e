//! Accounts: sign-up, login and password changes, each a short transaction that ends in a new
//! token pair. The gRPC adapter hands over parsed domain values; the rules live here.

use std::sync::Arc;

use chrono::Utc;
use prost::Message;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;
use xir_common::{
    errors::{During, FieldViolations},
    ids::IdGenerator,
    outbox,
    request::timestamp,
};
use xir_proto::{auth::v1 as pb, user::v1::CreateProfileRequest};

use crate::{
    config::Settings,
    db,
    domain::{DisplayName, Email, Password, UserId, Username},
    error::{Error, unique_violation},
    keys::SigningKeys,
    passwords::{Hasher, Verdict},
    profiles::{CREATE_PROFILE_TOPIC, Profiles},
    refresh_tokens,
    throttle::{self, Attempt, Subject},
};

/// Longest password accepted at login: hashing is the expensive part, keep its input bounded.
pub const MAX_PASSWORD_CHARS: usize = 128;

pub struct Accounts {
    pub(crate) pool: PgPool,
    keys: Arc<SigningKeys>,
    hasher: Hasher,
    ids: Arc<IdGenerator>,
    pub(crate) settings: Arc<Settings>,
    profiles: Profiles,
}

/// A sign-up whose fields are all valid.
pub struct NewAccount {
    pub username: Username,
    pub email: Email,
    pub password: Password,
    pub display_name: DisplayName,
}

/// A login attempt: `login` is a username or an email address, `address` the client's.
pub struct LoginAttempt<'a> {
    pub login: &'a str,
    pub password: &'a str,
    pub address: &'a str,
}

impl Accounts {
    pub fn new(
        pool: PgPool,
        keys: Arc<SigningKeys>,
        hasher: Hasher,
        ids: Arc<IdGenerator>,
        settings: Arc<Settings>,
        profiles: Profiles,
    ) -> Self {
        Self {
            pool,
            keys,
            hasher,
            ids,
            settings,
            profiles,
        }
    }

    pub fn jwks(&self) -> Vec<pb::Jwk> {
        self.keys.jwks()
    }

    /// Creates the account and its session, and queues the profile for svc-user.
    pub async fn sign_up(&self, new: NewAccount) -> Result<(UserId, pb::TokenPair), Error> {
        let hash = self.hasher.hash(new.password.expose()).await?;
        let user = user_id(self.ids.next_id()?)?;
        let mut tx = self.pool.begin().await.during("begin sign-up")?;
        if let Err(error) =
            db::insert_account(&mut tx, user, &new.username, &new.email, &hash).await
        {
            return Err(match unique_violation(&error) {
                Some(db::USERNAME_TAKEN) => Error::AlreadyExists { field: "username" },
                Some(db::EMAIL_TAKEN) => Error::AlreadyExists { field: "email" },
                _ => Err(error).during("insert account")?,
            });
        }
        // The profile is created by svc-user from this event, delivered even if svc-user is
        // down right now; the account and the event commit together or not at all.
        let profile = CreateProfileRequest {
            user_id: user.get(),
            username: new.username.as_str().to_owned(),
            display_name: new.display_name.as_str().to_owned(),
            created_at: Some(timestamp(Utc::now())),
        };
        let key = user.get().to_string();
        let event = outbox::enqueue(
            &mut tx,
            CREATE_PROFILE_TOPIC,
            &key,
            &profile.encode_to_vec(),
        )
        .await
        .during("queue profile event")?;
        let tokens = self.issue_tokens(&mut tx, user, None).await?;
        tx.commit().await.during("commit sign-up")?;
        // Normally the profile exists when sign-up answers; the outbox covers the rest.
        let profile_created = outbox::deliver_now(&self.pool, &self.settings.outbox, event, |e| {
            self.profiles.deliver(e)
        })
        .await;
        tracing::info!(user_id = user.get(), profile_created, "account created");
        Ok((user, tokens))
    }

    /// Checks the password under the login throttles and starts a session.
    pub async fn login(&self, attempt: LoginAttempt<'_>) -> Result<(UserId, pb::TokenPair), Error> {
        let throttle_settings = &self.settings.throttle;
        let account = db::account_by_login(&self.pool, attempt.login)
            .await
            .during("find account by login")?;
        // An unknown login is counted under its own name, as an account would be.
        let account_key = match &account {
            Some(account) => account.user_id.to_string(),
            None => format!("login:{}", attempt.login.to_lowercase()),
        };
        // The first is forgiven on success (see below).
        let subjects = [
            Subject::account_from(&account_key, attempt.address, throttle_settings),
            Subject::address(attempt.address, throttle_settings),
            Subject::account_anywhere(&account_key, throttle_settings),
        ];
        let claimed = self.claim_attempt(&subjects).await?;
        let stored_hash = account.as_ref().map(|a| a.password_hash.as_str());
        let (verdict, claimed) = self.verify(claimed, attempt.password, stored_hash).await?;
        let (account, rehashed) = match (account, verdict) {
            (Some(account), Verdict::Correct) => (account, None),
            (Some(account), Verdict::CorrectRehashed(hash)) => (account, Some(hash)),
            // The attempt's claims stay, as failures. The same answer for an unknown account
            // and a wrong password.
            _ => return Err(Error::Unauthenticated("wrong login or password")),
        };
        let user = user_id(account.user_id)?;
        claimed
            .succeeded(&self.pool, &subjects[0])
            .await
            .during("forgive login failures")?;
        let mut tx = self.pool.begin().await.during("begin login")?;
        if let Some(hash) = rehashed {
            db::set_password_hash(&mut tx, user, &hash)
                .await
                .during("store rehashed password")?;
        }
        let tokens = self.issue_tokens(&mut tx, user, None).await?;
        tx.commit().await.during("commit login")?;
        Ok((user, tokens))
    }

    /// Replaces the password of a signed-in user and ends every other session.
    pub async fn change_password(
        &self,
        user: UserId,
        current_password: &str,
        new_password: &str,
    ) -> Result<pb::TokenPair, Error> {
        let account = db::account_by_id(&self.pool, user)
            .await
            .during("find account")?
            .ok_or(Error::Unauthenticated("unknown account"))?;
        let mut violations = FieldViolations::new();
        let new_password = violations.check(
            "new_password",
            Password::parse(new_password, &account.username),
        );
        if current_password.is_empty() || current_password.chars().count() > MAX_PASSWORD_CHARS {
            violations.add("current_password", "is required");
        }
        let (Some(new_password), true) = (new_password, violations.is_empty()) else {
            return Err(violations.into());
        };

        // Only the signed-in owner reaches this: its own count, apart from login failures,
        // so nobody else's guesses can lock the owner out of changing the password.
        let subjects = [Subject::password_change(
            user.get(),
            &self.settings.throttle,
        )];
        let claimed = self.claim_attempt(&subjects).await?;
        let (verdict, claimed) = self
            .verify(claimed, current_password, Some(&account.password_hash))
            .await?;
        if verdict == Verdict::Wrong {
            return Err(Error::Unauthenticated("current password is wrong"));
        }
        claimed
            .succeeded(&self.pool, &subjects[0])
            .await
            .during("forgive password failures")?;

        let hash = self.hasher.hash(new_password.expose()).await?;
        let mut tx = self.pool.begin().await.during("begin password change")?;
        db::set_password_hash(&mut tx, user, &hash)
            .await
            .during("store new password")?;
        // Every other session ends: all refresh-token families of the user are revoked.
        db::revoke_all_families(&mut tx, user)
            .await
            .during("revoke sessions")?;
        let tokens = self.issue_tokens(&mut tx, user, None).await?;
        tx.commit().await.during("commit password change")?;
        tracing::info!(
            user_id = user.get(),
            "password changed; other sessions revoked"
        );
        Ok(tokens)
    }

    async fn claim_attempt(&self, subjects: &[Subject]) -> Result<Attempt, Error> {
        throttle::claim(&self.pool, subjects, &self.settings.throttle)
            .await
            .during("claim throttled attempt")?
            .map_err(|retry_after_secs| Error::Throttled { retry_after_secs })
    }

    /// The password's verdict; a check that could not run (busy, failed) is not a guess, so
    /// the attempt is given back.
    async fn verify(
        &self,
        attempt: Attempt,
        password: &str,
        stored_hash: Option<&str>,
    ) -> Result<(Verdict, Attempt), Error> {
        match self.hasher.verify(password, stored_hash).await {
            Ok(verdict) => Ok((verdict, attempt)),
            Err(error) => {
                attempt
                    .abandon(&self.pool)
                    .await
                    .during("give back attempt")?;
                Err(error.into())
            }
        }
    }

    /// A refresh token in `family` (a new family when `None`) and a fresh access token.
    pub(crate) async fn issue_tokens(
        &self,
        connection: &mut PgConnection,
        user: UserId,
        family: Option<Uuid>,
    ) -> Result<pb::TokenPair, Error> {
        let family = match family {
            Some(family) => family,
            None => db::new_family(connection, user)
                .await
                .during("create token family")?,
        };
        let (refresh_token, hash) = refresh_tokens::generate();
        let refresh_expires_at =
            Utc::now() + chrono::Duration::seconds(self.settings.tokens.refresh_ttl_secs as i64);
        db::insert_refresh_token(connection, &hash, family, refresh_expires_at)
            .await
            .during("insert refresh token")?;
        let (access_token, access_expires_at) = self.keys.mint(
            user,
            &self.settings.auth,
            self.settings.tokens.access_ttl_secs,
        )?;
        Ok(pb::TokenPair {
            access_token,
            access_token_expires_at: Some(timestamp(access_expires_at)),
            refresh_token,
            refresh_token_expires_at: Some(timestamp(refresh_expires_at)),
        })
    }
}

pub(crate) fn user_id(raw: i64) -> Result<UserId, Error> {
    // Ids come from our own rows and tokens; a bad one is corrupted state, not bad input.
    UserId::parse(raw).map_err(|_| Error::Unauthenticated("unknown account"))
}
