//! Access tokens: the settings that check them, their claims, and the verifier with its
//! cached JWKS (fetched again for an unknown `kid`, at most once per interval, one at a time).

use std::{
    collections::HashMap,
    sync::RwLock,
    time::{Duration, Instant},
};

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;
use tonic::Status;
use xir_proto::auth::v1::{GetJwksRequest, Jwk, auth_service_client::AuthServiceClient};

use super::Caller;

/// `[auth]`: how this service checks access tokens.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthSettings {
    /// svc-auth's gRPC address, where the JWKS comes from.
    pub url: String,
    /// The `iss` every token must carry.
    pub issuer: String,
    /// The `aud` every token must carry.
    pub audience: String,
    /// Unknown `kid`s trigger a JWKS fetch at most this often, in milliseconds.
    pub min_refresh_interval_ms: u64,
    /// Clock skew tolerated on `exp` and `nbf`, in seconds.
    pub leeway_secs: u64,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            url: "http://127.0.0.1:50051".to_owned(),
            issuer: "xir-auth".to_owned(),
            audience: "xir".to_owned(),
            min_refresh_interval_ms: 10_000,
            leeway_secs: 30,
        }
    }
}

/// The claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    /// The user id, as a decimal string.
    pub sub: String,
    pub iat: u64,
    pub nbf: u64,
    pub exp: u64,
    pub jti: String,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("missing bearer token")]
    Missing,
    #[error("malformed token")]
    Malformed,
    #[error("token must be signed with EdDSA")]
    WrongAlgorithm,
    #[error("token names no key id")]
    NoKeyId,
    #[error("unknown signing key")]
    UnknownKey,
    #[error("invalid token: {0}")]
    Invalid(jsonwebtoken::errors::Error),
    #[error("cannot fetch the signing keys")]
    KeysUnavailable(#[source] Status),
}

/// Where the public keys come from.
pub enum KeySource {
    /// svc-auth's GetJwks over gRPC (every other service).
    Remote(AuthServiceClient<tonic::transport::Channel>),
    /// Keys this process holds itself (svc-auth).
    Local(Vec<Jwk>),
}

/// Verifies access tokens against a cached JWKS.
pub struct TokenVerifier {
    source: KeySource,
    validation: Validation,
    min_refresh_interval: Duration,
    /// Swapped whole after a fetch; read without waiting for one.
    keys: RwLock<HashMap<String, DecodingKey>>,
    /// Held by the one fetch under way; the last attempt, successful or not.
    last_fetch: Mutex<Option<FetchAttempt>>,
}

struct FetchAttempt {
    at: Instant,
    /// Why it failed, if it did: repeated to callers until the next attempt is allowed, so a
    /// valid token meets "unavailable" (retry) rather than "unknown key" (sign in again).
    failure: Option<Status>,
}

impl TokenVerifier {
    pub fn new(settings: &AuthSettings, source: KeySource) -> Self {
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.algorithms = vec![Algorithm::EdDSA];
        validation.set_issuer(&[&settings.issuer]);
        validation.set_audience(&[&settings.audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.leeway = settings.leeway_secs;
        let by_kid = match &source {
            KeySource::Local(jwks) => decoding_keys(jwks),
            KeySource::Remote(_) => HashMap::new(),
        };
        Self {
            source,
            validation,
            min_refresh_interval: Duration::from_millis(settings.min_refresh_interval_ms),
            keys: RwLock::new(by_kid),
            last_fetch: Mutex::new(None),
        }
    }

    /// A verifier fetching keys from svc-auth at `settings.url` (connects lazily).
    pub fn remote(settings: &AuthSettings) -> Result<Self, tonic::transport::Error> {
        let channel = tonic::transport::Endpoint::from_shared(settings.url.clone())?
            .connect_timeout(Duration::from_secs(3))
            .timeout(Duration::from_secs(5))
            .connect_lazy();
        Ok(Self::new(
            settings,
            KeySource::Remote(AuthServiceClient::new(channel)),
        ))
    }

    /// The caller named by a valid token.
    pub async fn verify(&self, token: &str) -> Result<Caller, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
        if header.alg != Algorithm::EdDSA {
            return Err(TokenError::WrongAlgorithm);
        }
        let kid = header.kid.ok_or(TokenError::NoKeyId)?;
        let key = match self.cached_key(&kid) {
            Some(key) => key,
            None => {
                self.refresh().await?;
                self.cached_key(&kid).ok_or(TokenError::UnknownKey)?
            }
        };
        let data = jsonwebtoken::decode::<Claims>(token, &key, &self.validation)
            .map_err(TokenError::Invalid)?;
        let user_id = data
            .claims
            .sub
            .parse::<i64>()
            .ok()
            .filter(|id| *id > 0)
            .ok_or(TokenError::Malformed)?;
        Ok(Caller { user_id })
    }

    fn cached_key(&self, kid: &str) -> Option<DecodingKey> {
        let keys = self
            .keys
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        keys.get(kid).cloned()
    }

    /// Fetches the JWKS again unless an attempt was made within the minimum interval (an
    /// attacker sending random `kid`s must not turn every request into a call to svc-auth):
    /// until then an unknown `kid` stays unknown. One fetch at a time; callers that arrive
    /// during it wait for its result instead of fetching again.
    async fn refresh(&self) -> Result<(), TokenError> {
        let KeySource::Remote(client) = &self.source else {
            return Ok(());
        };
        let mut last_fetch = self.last_fetch.lock().await;
        if let Some(attempt) = last_fetch.as_ref()
            && attempt.at.elapsed() < self.min_refresh_interval
        {
            return match &attempt.failure {
                Some(status) => Err(TokenError::KeysUnavailable(status.clone())),
                None => Ok(()),
            };
        }
        let fetched = client.clone().get_jwks(GetJwksRequest {}).await;
        *last_fetch = Some(FetchAttempt {
            at: Instant::now(),
            failure: fetched.as_ref().err().cloned(),
        });
        let fetched = decoding_keys(
            &fetched
                .map_err(TokenError::KeysUnavailable)?
                .into_inner()
                .keys,
        );
        tracing::info!(keys = fetched.len(), "fetched the token signing keys");
        *self
            .keys
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = fetched;
        Ok(())
    }
}

fn decoding_keys(jwks: &[Jwk]) -> HashMap<String, DecodingKey> {
    jwks.iter()
        .filter(|jwk| jwk.kty == "OKP" && jwk.crv == "Ed25519")
        .filter_map(|jwk| {
            Some((
                jwk.kid.clone(),
                DecodingKey::from_ed_components(&jwk.x).ok()?,
            ))
        })
        .collect()
}
