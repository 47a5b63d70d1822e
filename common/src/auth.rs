//! Access-token checks for every service.
//!
//! Tokens are EdDSA JWTs minted only by svc-auth. Services verify them locally with the public
//! keys svc-auth publishes (GetJwks): cached, fetched again when a token names an unknown `kid`
//! (at most once per `auth.min_refresh_interval_ms`, failed attempts included, and one fetch at
//! a time). A token with a known key never waits for a fetch, so random `kid`s sent while
//! svc-auth is slow or down stall only themselves. The algorithm is pinned to EdDSA, and
//! `iss`, `aud`, `exp` and `nbf` are checked.
//!
//! [`AuthLayer`] runs in front of a service: every RPC needs a valid `authorization: Bearer`
//! token unless the service lists it as public (sign-up, reading a profile) or internal.
//! Internal RPCs (service-to-service calls, which the edge never routes) need instead a service
//! token from one of the callers the method names ([`crate::identity`]): none or a bad one is
//! `UNAUTHENTICATED`, another service's is `PERMISSION_DENIED`. Health and reflection are
//! always open. Handlers read the caller with [`caller`].

use std::{
    collections::{HashMap, HashSet},
    future::Future,
    pin::Pin,
    sync::{Arc, RwLock},
    task::{Context, Poll},
    time::{Duration, Instant},
};

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;
use tonic::Status;
use tower::{Layer, Service};
use xir_proto::auth::v1::{GetJwksRequest, Jwk, auth_service_client::AuthServiceClient};

use crate::identity::{InternalRpc, Peer, SERVICE_TOKEN_HEADER, ServiceIdentity};

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

/// The authenticated user of a call, put in the request's extensions by [`AuthLayer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    pub user_id: i64,
}

/// The caller of `request`, or `Unauthenticated` when the RPC ran without a token (a public
/// RPC that needs one anyway is a bug, but answers cleanly).
pub fn caller<T>(request: &tonic::Request<T>) -> Result<Caller, Status> {
    request
        .extensions()
        .get::<Caller>()
        .copied()
        .ok_or_else(|| Status::unauthenticated("this call needs an access token"))
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

/// Which RPCs of a service run without a user token: public ones (anyone) and internal ones
/// (only the services each names). Everything else requires a user token.
#[derive(Debug, Clone, Default)]
pub struct AccessPolicy {
    public: HashSet<String>,
    internal: HashMap<String, &'static [Peer]>,
}

impl AccessPolicy {
    /// `public` and `internal` are methods of `service` (e.g. `SignUp`).
    pub fn new(service: &str, public: &[&str], internal: &[InternalRpc]) -> Self {
        Self {
            public: public
                .iter()
                .map(|method| format!("/{service}/{method}"))
                .collect(),
            internal: internal
                .iter()
                .map(|rpc| (format!("/{service}/{}", rpc.method), rpc.callers))
                .collect(),
        }
    }

    fn is_public(&self, path: &str) -> bool {
        path.starts_with("/grpc.health.v1.Health/")
            || path.starts_with("/grpc.reflection.")
            || self.public.contains(path)
    }

    fn internal_callers(&self, path: &str) -> Option<&'static [Peer]> {
        self.internal.get(path).copied()
    }
}

#[derive(Clone)]
pub struct AuthLayer {
    verifier: Arc<TokenVerifier>,
    identity: Arc<ServiceIdentity>,
    policy: Arc<AccessPolicy>,
}

impl AuthLayer {
    pub fn new(
        verifier: Arc<TokenVerifier>,
        identity: Arc<ServiceIdentity>,
        policy: AccessPolicy,
    ) -> Self {
        Self {
            verifier,
            identity,
            policy: Arc::new(policy),
        }
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = Authenticate<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Authenticate {
            inner,
            verifier: self.verifier.clone(),
            identity: self.identity.clone(),
            policy: self.policy.clone(),
        }
    }
}

#[derive(Clone)]
pub struct Authenticate<S> {
    inner: S,
    verifier: Arc<TokenVerifier>,
    identity: Arc<ServiceIdentity>,
    policy: Arc<AccessPolicy>,
}

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for Authenticate<S>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    ReqBody: Send + 'static,
    ResBody: Default + Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<ReqBody>) -> Self::Future {
        let path = request.uri().path();
        if let Some(callers) = self.policy.internal_callers(path) {
            return match check_service(&self.identity, request.headers(), callers, path) {
                Ok(_) => Box::pin(self.inner.call(request)),
                Err(status) => Box::pin(async move { Ok(status.into_http()) }),
            };
        }
        let open = self.policy.is_public(path);
        let token = bearer(request.headers()).map(str::to_owned);
        if open && token.is_none() {
            return Box::pin(self.inner.call(request));
        }
        // The ready service is used below, after an await: take it, leave a clone behind.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let verifier = self.verifier.clone();
        Box::pin(async move {
            // Open RPCs take an optional token (a public read can still know its viewer); a
            // token that is present must be valid either way.
            let verified = match token {
                Some(token) => verifier.verify(&token).await,
                None => Err(TokenError::Missing),
            };
            match verified {
                Ok(caller) => {
                    request.extensions_mut().insert(caller);
                    inner.call(request).await
                }
                Err(error) => Ok(rejection(&error).into_http()),
            }
        })
    }
}

fn check_service(
    identity: &ServiceIdentity,
    headers: &http::HeaderMap,
    callers: &[Peer],
    path: &str,
) -> Result<Peer, Status> {
    let token = headers
        .get(SERVICE_TOKEN_HEADER)
        .and_then(|value| value.to_str().ok());
    let verified = match token {
        Some(token) => identity.verify(token),
        None => Err(crate::identity::ServiceTokenError::Missing),
    };
    let peer = verified.map_err(|error| {
        tracing::warn!(%error, path, "internal call without a valid service identity");
        Status::unauthenticated(error.to_string())
    })?;
    if !callers.contains(&peer) {
        tracing::warn!(%peer, path, "internal call from a service the method does not accept");
        return Err(Status::permission_denied(format!(
            "{peer} may not call {path}"
        )));
    }
    Ok(peer)
}

fn rejection(error: &TokenError) -> Status {
    match error {
        TokenError::KeysUnavailable(_) => {
            tracing::warn!(
                error = error as &dyn std::error::Error,
                "cannot check a token"
            );
            Status::unavailable("cannot check the access token now, try again")
        }
        _ => {
            tracing::debug!(%error, "token rejected");
            Status::unauthenticated(error.to_string())
        }
    }
}

/// The caller, when the request carried a valid token (for open RPCs that personalise).
pub fn viewer<T>(request: &tonic::Request<T>) -> Option<Caller> {
    request.extensions().get::<Caller>().copied()
}

fn bearer(headers: &http::HeaderMap) -> Option<&str> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}
