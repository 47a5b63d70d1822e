//! The tonic service: parse the request into domain values, do the work, map back.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use prost::Message;
use sqlx::{PgConnection, PgPool};
use tonic::{Request, Response, Status};
use uuid::Uuid;
use xir_common::{auth, errors::FieldViolations, ids::IdGenerator, outbox};
use xir_proto::{
    auth::v1::{self as pb, auth_service_server::AuthService},
    user::v1::CreateProfileRequest,
};

use crate::{
    config::Settings,
    db,
    domain::{DisplayName, Email, Password, UserId, Username},
    error::{Error, unique_violation},
    keys::SigningKeys,
    passwords::{Hasher, Verdict},
    profiles::{CREATE_PROFILE_TOPIC, Profiles},
    refresh_tokens,
    throttle::{self, Subject},
};

/// Longest password accepted at login: hashing is the expensive part, keep its input bounded.
const MAX_PASSWORD_CHARS: usize = 128;

pub struct AuthApi {
    pool: PgPool,
    keys: Arc<SigningKeys>,
    hasher: Hasher,
    ids: Arc<IdGenerator>,
    settings: Arc<Settings>,
    profiles: Profiles,
}

impl AuthApi {
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

    /// A refresh token in `family` (a new family when `None`) and a fresh access token.
    async fn issue_tokens(
        &self,
        connection: &mut PgConnection,
        user: UserId,
        family: Option<Uuid>,
    ) -> Result<pb::TokenPair, Error> {
        let family = match family {
            Some(family) => family,
            None => db::new_family(connection, user).await?,
        };
        let (refresh_token, hash) = refresh_tokens::generate();
        let refresh_expires_at =
            Utc::now() + chrono::Duration::seconds(self.settings.tokens.refresh_ttl_secs as i64);
        db::insert_refresh_token(connection, &hash, family, refresh_expires_at).await?;
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

/// Longer than any username or email address svc-auth accepts at sign-up.
const MAX_LOGIN_BYTES: usize = 320;

fn timestamp(at: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: at.timestamp_subsec_nanos() as i32,
    }
}

/// The client's address, for login throttling: `x-real-ip`, which the edge sets to the address
/// it trusts (overwriting whatever the client sent), else the peer of a direct gRPC call.
/// `x-forwarded-for` is never read: its first entries are whatever the client wrote.
fn client_address<T>(request: &Request<T>) -> String {
    request
        .metadata()
        .get("x-real-ip")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<std::net::IpAddr>().ok())
        .or_else(|| request.remote_addr().map(|addr| addr.ip()))
        .map_or_else(|| "unknown".to_owned(), |ip| ip.to_string())
}

fn user_id(raw: i64) -> Result<UserId, Error> {
    // Ids come from our own rows and tokens; a bad one is corrupted state, not bad input.
    UserId::parse(raw).map_err(|_| Error::Unauthenticated("unknown account"))
}

#[tonic::async_trait]
impl AuthService for AuthApi {
    async fn sign_up(
        &self,
        request: Request<pb::SignUpRequest>,
    ) -> Result<Response<pb::SignUpResponse>, Status> {
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let username = violations.check("username", Username::parse(&request.username));
        let email = violations.check("email", Email::parse(&request.email));
        let password = violations.check(
            "password",
            Password::parse(&request.password, &request.username),
        );
        let display_name = if request.display_name.trim().is_empty() {
            &request.username
        } else {
            &request.display_name
        };
        let display_name = violations.check("display_name", DisplayName::parse(display_name));
        let (Some(username), Some(email), Some(password), Some(display_name)) =
            (username, email, password, display_name)
        else {
            return Err(Error::from(violations).into());
        };

        let hash = self
            .hasher
            .hash(password.expose())
            .await
            .map_err(Error::from)?;
        let user = user_id(self.ids.next_id()?)?;
        let mut tx = self.pool.begin().await.map_err(Error::from)?;
        if let Err(error) = db::insert_account(&mut tx, user, &username, &email, &hash).await {
            return Err(match unique_violation(&error) {
                Some(db::USERNAME_TAKEN) => Error::AlreadyExists { field: "username" },
                Some(db::EMAIL_TAKEN) => Error::AlreadyExists { field: "email" },
                _ => Error::from(error),
            }
            .into());
        }
        // The profile is created by svc-user from this event, delivered even if svc-user is
        // down right now; the account and the event commit together or not at all.
        let profile = CreateProfileRequest {
            user_id: user.get(),
            username: username.as_str().to_owned(),
            display_name: display_name.as_str().to_owned(),
            created_at: Some(timestamp(Utc::now())),
        };
        let event = outbox::enqueue(&mut tx, CREATE_PROFILE_TOPIC, &profile.encode_to_vec())
            .await
            .map_err(Error::from)?;
        let tokens = self.issue_tokens(&mut tx, user, None).await?;
        tx.commit().await.map_err(Error::from)?;
        let profile_created = outbox::deliver_now(&self.pool, &self.settings.outbox, event, |e| {
            self.profiles.deliver(e)
        })
        .await;
        tracing::info!(user_id = user.get(), profile_created, "account created");
        Ok(Response::new(pb::SignUpResponse {
            user_id: user.get(),
            tokens: Some(tokens),
        }))
    }

    async fn login(
        &self,
        request: Request<pb::LoginRequest>,
    ) -> Result<Response<pb::LoginResponse>, Status> {
        let address = client_address(&request);
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let login = request.login.trim();
        // Neither a username nor an email address is long or holds control characters (and
        // PostgreSQL refuses a NUL byte in text outright).
        if login.is_empty() || login.len() > MAX_LOGIN_BYTES || login.chars().any(char::is_control)
        {
            violations.add("login", "must be a username or an email address");
        }
        if request.password.is_empty() || request.password.chars().count() > MAX_PASSWORD_CHARS {
            violations.add("password", "must be 1 to 128 characters long");
        }
        violations.into_result().map_err(Error::from)?;

        let throttle_settings = &self.settings.throttle;
        let account = db::account_by_login(&self.pool, login)
            .await
            .map_err(Error::from)?;
        // An unknown login is counted under its own name, as an account would be.
        let account_key = match &account {
            Some(account) => account.user_id.to_string(),
            None => format!("login:{}", login.to_lowercase()),
        };
        // The first is forgiven on success (see below).
        let subjects = [
            Subject::account_from(&account_key, &address, throttle_settings),
            Subject::address(&address, throttle_settings),
            Subject::account_anywhere(&account_key, throttle_settings),
        ];
        let attempt = throttle::claim(&self.pool, &subjects, throttle_settings)
            .await
            .map_err(Error::from)?
            .map_err(|retry_after_secs| Error::Throttled { retry_after_secs })?;

        let verdict = match self
            .hasher
            .verify(
                &request.password,
                account.as_ref().map(|a| a.password_hash.as_str()),
            )
            .await
        {
            Ok(verdict) => verdict,
            Err(error) => {
                attempt.abandon(&self.pool).await.map_err(Error::from)?;
                return Err(Error::from(error).into());
            }
        };
        let (account, rehashed) = match (account, verdict) {
            (Some(account), Verdict::Correct) => (account, None),
            (Some(account), Verdict::CorrectRehashed(hash)) => (account, Some(hash)),
            // The attempt's claims stay, as failures. The same answer for an unknown account
            // and a wrong password.
            _ => return Err(Error::Unauthenticated("wrong login or password").into()),
        };
        let user = user_id(account.user_id)?;
        attempt
            .succeeded(&self.pool, &subjects[0])
            .await
            .map_err(Error::from)?;
        let mut tx = self.pool.begin().await.map_err(Error::from)?;
        if let Some(hash) = rehashed {
            db::set_password_hash(&mut tx, user, &hash)
                .await
                .map_err(Error::from)?;
        }
        let tokens = self.issue_tokens(&mut tx, user, None).await?;
        tx.commit().await.map_err(Error::from)?;
        Ok(Response::new(pb::LoginResponse {
            user_id: user.get(),
            tokens: Some(tokens),
        }))
    }

    async fn refresh(
        &self,
        request: Request<pb::RefreshRequest>,
    ) -> Result<Response<pb::RefreshResponse>, Status> {
        let token = request.into_inner().refresh_token;
        if token.is_empty() {
            return Err(
                Error::from(FieldViolations::single("refresh_token", "is required")).into(),
            );
        }
        const INVALID: Error = Error::Unauthenticated("invalid or expired refresh token");
        if !refresh_tokens::looks_valid(&token) {
            return Err(INVALID.into());
        }
        let hash = refresh_tokens::hash(&token);
        let stored = db::refresh_token(&self.pool, &hash)
            .await
            .map_err(Error::from)?
            .ok_or(INVALID)?;
        if stored.family_revoked_at.is_some() || stored.expires_at < Utc::now() {
            return Err(INVALID.into());
        }
        let reused = || async {
            // A rotated token came back: whoever holds the family's newest token may be a thief.
            tracing::warn!(family = %stored.family_id, user_id = stored.user_id, "refresh token reused: family revoked");
            db::revoke_family(&self.pool, stored.family_id).await
        };
        if stored.rotated_at.is_some() {
            reused().await.map_err(Error::from)?;
            return Err(INVALID.into());
        }
        let user = user_id(stored.user_id)?;
        let mut tx = self.pool.begin().await.map_err(Error::from)?;
        if !db::mark_rotated(&mut tx, &hash)
            .await
            .map_err(Error::from)?
        {
            // Rotated by a concurrent request between our read and this write: a reuse too.
            drop(tx);
            reused().await.map_err(Error::from)?;
            return Err(INVALID.into());
        }
        let tokens = self
            .issue_tokens(&mut tx, user, Some(stored.family_id))
            .await?;
        tx.commit().await.map_err(Error::from)?;
        Ok(Response::new(pb::RefreshResponse {
            tokens: Some(tokens),
        }))
    }

    async fn logout(
        &self,
        request: Request<pb::LogoutRequest>,
    ) -> Result<Response<pb::LogoutResponse>, Status> {
        let token = request.into_inner().refresh_token;
        if token.is_empty() {
            return Err(
                Error::from(FieldViolations::single("refresh_token", "is required")).into(),
            );
        }
        if refresh_tokens::looks_valid(&token)
            && let Some(stored) = db::refresh_token(&self.pool, &refresh_tokens::hash(&token))
                .await
                .map_err(Error::from)?
        {
            db::revoke_family(&self.pool, stored.family_id)
                .await
                .map_err(Error::from)?;
        }
        Ok(Response::new(pb::LogoutResponse {}))
    }

    async fn change_password(
        &self,
        request: Request<pb::ChangePasswordRequest>,
    ) -> Result<Response<pb::ChangePasswordResponse>, Status> {
        let caller = auth::caller(&request)?;
        let request = request.into_inner();
        let user = user_id(caller.user_id)?;
        let account = db::account_by_id(&self.pool, user)
            .await
            .map_err(Error::from)?
            .ok_or(Error::Unauthenticated("unknown account"))?;
        let new_password =
            Password::parse(&request.new_password, &account.username).map_err(|error| {
                Error::from(FieldViolations::single("new_password", error.to_string()))
            })?;
        if request.current_password.is_empty()
            || request.current_password.chars().count() > MAX_PASSWORD_CHARS
        {
            return Err(
                Error::from(FieldViolations::single("current_password", "is required")).into(),
            );
        }

        let throttle_settings = &self.settings.throttle;
        // Only the signed-in owner reaches this: its own count, apart from login failures,
        // so nobody else's guesses can lock the owner out of changing the password.
        let subjects = [Subject::password_change(user.get(), throttle_settings)];
        let attempt = throttle::claim(&self.pool, &subjects, throttle_settings)
            .await
            .map_err(Error::from)?
            .map_err(|retry_after_secs| Error::Throttled { retry_after_secs })?;
        let verdict = match self
            .hasher
            .verify(&request.current_password, Some(&account.password_hash))
            .await
        {
            Ok(verdict) => verdict,
            Err(error) => {
                attempt.abandon(&self.pool).await.map_err(Error::from)?;
                return Err(Error::from(error).into());
            }
        };
        if verdict == Verdict::Wrong {
            return Err(Error::Unauthenticated("current password is wrong").into());
        }
        attempt
            .succeeded(&self.pool, &subjects[0])
            .await
            .map_err(Error::from)?;

        let hash = self
            .hasher
            .hash(new_password.expose())
            .await
            .map_err(Error::from)?;
        let mut tx = self.pool.begin().await.map_err(Error::from)?;
        db::set_password_hash(&mut tx, user, &hash)
            .await
            .map_err(Error::from)?;
        // Every other session ends: all refresh-token families of the user are revoked.
        db::revoke_all_families(&mut tx, user)
            .await
            .map_err(Error::from)?;
        let tokens = self.issue_tokens(&mut tx, user, None).await?;
        tx.commit().await.map_err(Error::from)?;
        tracing::info!(
            user_id = user.get(),
            "password changed; other sessions revoked"
        );
        Ok(Response::new(pb::ChangePasswordResponse {
            tokens: Some(tokens),
        }))
    }

    async fn get_jwks(
        &self,
        _: Request<pb::GetJwksRequest>,
    ) -> Result<Response<pb::GetJwksResponse>, Status> {
        Ok(Response::new(pb::GetJwksResponse {
            keys: self.keys.jwks(),
        }))
    }
}
