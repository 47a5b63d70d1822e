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

mod tokens;

use std::{
    collections::{HashMap, HashSet},
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use tonic::Status;
use tower::{Layer, Service};

use crate::identity::{InternalRpc, Peer, SERVICE_TOKEN_HEADER, ServiceIdentity};

pub use tokens::{AuthSettings, Claims, KeySource, TokenError, TokenVerifier};

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
