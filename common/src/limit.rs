//! The global limit on calls served at once, for API calls only: health checks and reflection
//! pass beside it, so a pod busy with its full share of calls still answers its liveness and
//! readiness probes, rather than being restarted by Kubernetes for being busy.

use std::{
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use tokio::sync::Semaphore;
use tower::{Layer, Service, ServiceExt, limit::ConcurrencyLimit};

use crate::observe::is_probe;

/// At most `max` API calls at once across every connection; more wait for a turn.
#[derive(Clone)]
pub struct ApiConcurrencyLimitLayer {
    semaphore: Arc<Semaphore>,
}

impl ApiConcurrencyLimitLayer {
    pub fn new(max: usize) -> Self {
        Self {
            semaphore: Arc::new(Semaphore::new(max)),
        }
    }
}

impl<S: Clone> Layer<S> for ApiConcurrencyLimitLayer {
    type Service = ApiConcurrencyLimit<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ApiConcurrencyLimit {
            limited: ConcurrencyLimit::with_semaphore(inner.clone(), self.semaphore.clone()),
            direct: inner,
        }
    }
}

#[derive(Clone)]
pub struct ApiConcurrencyLimit<S> {
    limited: ConcurrencyLimit<S>,
    direct: S,
}

impl<S, B> Service<http::Request<B>> for ApiConcurrencyLimit<S>
where
    S: Service<http::Request<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Response: Send + 'static,
    S::Error: Send + 'static,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    /// Always ready: each call waits for its own turn (or none) in its future.
    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        if is_probe(request.uri().path()) {
            Box::pin(self.direct.clone().oneshot(request))
        } else {
            Box::pin(self.limited.clone().oneshot(request))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::{convert::Infallible, time::Duration};

    use tokio::sync::Notify;

    use super::*;

    fn request(path: &str) -> http::Request<()> {
        http::Request::builder()
            .uri(path)
            .body(())
            .expect("request")
    }

    #[tokio::test]
    async fn health_checks_pass_while_api_calls_hold_every_turn() {
        let release = Arc::new(Notify::new());
        // API calls wait until released; anything else answers at once.
        let inner = tower::service_fn({
            let release = release.clone();
            move |request: http::Request<()>| {
                let release = release.clone();
                async move {
                    if request.uri().path().starts_with("/xir.") {
                        release.notified().await;
                    }
                    Ok::<_, Infallible>(request.uri().path().to_owned())
                }
            }
        });
        let service = ApiConcurrencyLimitLayer::new(1).layer(inner);
        let busy = tokio::spawn(
            service
                .clone()
                .oneshot(request("/xir.user.v1.UserService/GetProfile")),
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
        let waiting = tokio::spawn(
            service
                .clone()
                .oneshot(request("/xir.user.v1.UserService/SearchUsers")),
        );
        let probe = tokio::time::timeout(
            Duration::from_secs(5),
            service
                .clone()
                .oneshot(request("/grpc.health.v1.Health/Check")),
        )
        .await
        .expect("the probe does not wait for a turn");
        assert_eq!(probe, Ok("/grpc.health.v1.Health/Check".to_owned()));
        assert!(
            !waiting.is_finished(),
            "the second API call waits for the one turn"
        );
        release.notify_one();
        busy.await.expect("task").expect("served");
        release.notify_one();
        waiting
            .await
            .expect("task")
            .expect("served after the first");
    }
}
