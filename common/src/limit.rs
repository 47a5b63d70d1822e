//! The global limit on calls served at once, for API calls only: health checks and reflection
//! pass beside it, so a pod busy with its full share of calls still answers its liveness and
//! readiness probes, rather than being restarted by Kubernetes for being busy.
//!
//! A call that got its turn runs to completion in a task of its own, holding the turn, whether
//! or not its caller still waits. A caller that gives up (its deadline, Envoy's per-try
//! timeout, the server's own timeout) would otherwise drop whatever the call was doing: a
//! database driver whose operation is dropped half-way cannot reuse its connection and closes
//! it (the MongoDB driver does, by design), so under load every timed-out call costs a new
//! connection and its handshake, the pool fills with connections being established, and the
//! calls behind them time out in turn; a write is left applied or not, nobody knows. The
//! caller still gets its answer at once (an error when it gave up). A call still waiting for
//! its turn is dropped with its caller: work that never started is not kept, and the calls
//! running, abandoned or not, never exceed the limit.

use std::{
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use tokio::sync::Semaphore;
use tower::{Layer, Service, ServiceExt};
use tracing::Instrument;

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
            semaphore: self.semaphore.clone(),
            inner,
        }
    }
}

#[derive(Clone)]
pub struct ApiConcurrencyLimit<S> {
    semaphore: Arc<Semaphore>,
    inner: S,
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
        let inner = self.inner.clone();
        if is_probe(request.uri().path()) {
            return Box::pin(inner.oneshot(request));
        }
        let semaphore = self.semaphore.clone();
        // The call's span (the observe layer outside enters it), for the task to stay in.
        let span = tracing::Span::current();
        Box::pin(async move {
            let turn = semaphore
                .acquire_owned()
                .await
                .expect("the semaphore is never closed");
            let call = inner.oneshot(request).instrument(span);
            let task = tokio::spawn(async move {
                let outcome = call.await;
                drop(turn);
                outcome
            });
            match task.await {
                Ok(outcome) => outcome,
                // A panicking call fails as it would have without its own task.
                Err(error) => std::panic::resume_unwind(error.into_panic()),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::{convert::Infallible, time::Duration};

    use std::sync::atomic::{AtomicUsize, Ordering};

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

    #[tokio::test]
    async fn a_call_whose_caller_gave_up_still_finishes_and_one_still_waiting_never_starts() {
        let release = Arc::new(Notify::new());
        let (started, finished) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let inner = tower::service_fn({
            let (release, started, finished) = (release.clone(), started.clone(), finished.clone());
            move |_: http::Request<()>| {
                let (release, started, finished) =
                    (release.clone(), started.clone(), finished.clone());
                async move {
                    started.fetch_add(1, Ordering::SeqCst);
                    release.notified().await;
                    finished.fetch_add(1, Ordering::SeqCst);
                    Ok::<_, Infallible>(())
                }
            }
        });
        let service = ApiConcurrencyLimitLayer::new(1).layer(inner);
        let call = |service: ApiConcurrencyLimit<_>| {
            tokio::time::timeout(
                Duration::from_millis(50),
                service.oneshot(request("/xir.tweet.v1.TweetService/CreateTweet")),
            )
        };
        // The first takes the one turn; the second waits for it; both callers give up.
        let (first, second) = tokio::join!(call(service.clone()), call(service.clone()));
        assert!(
            first.is_err() && second.is_err(),
            "both callers stopped waiting"
        );
        assert_eq!(
            started.load(Ordering::SeqCst),
            1,
            "only the first got a turn"
        );
        release.notify_one();
        for _ in 0..500 {
            if finished.load(Ordering::SeqCst) == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(
            finished.load(Ordering::SeqCst),
            1,
            "the abandoned call finished its work"
        );
        // Its turn came back, and the call that was waiting did not start when it did.
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(started.load(Ordering::SeqCst), 1);
        release.notify_one();
        let third = call(service.clone()).await;
        assert_eq!(third.expect("the turn is free").ok(), Some(()));
    }
}
