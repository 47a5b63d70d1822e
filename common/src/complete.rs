//! Every call runs to completion in a task of its own, whether or not its caller still waits.
//!
//! A caller that gives up (its deadline, Envoy's per-try timeout, the server's own timeout)
//! drops the call's future, and with it whatever the call was doing: a database driver whose
//! operation is dropped half-way cannot reuse its connection and closes it (the MongoDB driver
//! does, by design), so under load every timed-out call costs a new connection and its
//! handshake, the pool fills with connections being established, and the calls behind them
//! time out in turn. It also leaves a write that the database may or may not have applied.
//! Here the caller still gets its answer at once (an error when it gave up), while the call's
//! work finishes and gives its connections back. The concurrency limit sits inside, so the
//! work still running counts against it and cannot pile up without bound.

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};

use tower::{Layer, Service, ServiceExt};
use tracing::Instrument;

#[derive(Clone, Copy, Default)]
pub struct RunToCompletionLayer;

impl<S> Layer<S> for RunToCompletionLayer {
    type Service = RunToCompletion<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RunToCompletion { inner }
    }
}

#[derive(Clone)]
pub struct RunToCompletion<S> {
    inner: S,
}

impl<S, B> Service<http::Request<B>> for RunToCompletion<S>
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

    /// Always ready: the call waits for the inner service in its own task.
    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        // In the call's span (the observe layer outside enters it), so the task stays in it.
        let call = self
            .inner
            .clone()
            .oneshot(request)
            .instrument(tracing::Span::current());
        let task = tokio::spawn(call);
        Box::pin(async move {
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
    use std::{
        convert::Infallible,
        sync::{
            Arc,
            atomic::{AtomicBool, Ordering},
        },
        time::Duration,
    };

    use tokio::sync::Notify;

    use super::*;

    #[tokio::test]
    async fn a_call_whose_caller_gave_up_still_finishes_its_work() {
        let (release, finished) = (Arc::new(Notify::new()), Arc::new(AtomicBool::new(false)));
        let inner = tower::service_fn({
            let (release, finished) = (release.clone(), finished.clone());
            move |_: http::Request<()>| {
                let (release, finished) = (release.clone(), finished.clone());
                async move {
                    release.notified().await;
                    finished.store(true, Ordering::SeqCst);
                    Ok::<_, Infallible>(())
                }
            }
        });
        let service = RunToCompletionLayer.layer(inner);
        let call = service.oneshot(http::Request::new(()));
        let gave_up = tokio::time::timeout(Duration::from_millis(20), call).await;
        assert!(gave_up.is_err(), "the caller stopped waiting");
        release.notify_one();
        for _ in 0..500 {
            if finished.load(Ordering::SeqCst) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the call's work was dropped with its caller");
    }

    #[tokio::test]
    async fn the_answer_comes_back_to_a_caller_that_waits() {
        let inner = tower::service_fn(|request: http::Request<()>| async move {
            Ok::<_, Infallible>(request.uri().path().to_owned())
        });
        let answer = RunToCompletionLayer
            .layer(inner)
            .oneshot(http::Request::builder().uri("/a").body(()).unwrap())
            .await;
        assert_eq!(answer, Ok("/a".to_owned()));
    }
}
