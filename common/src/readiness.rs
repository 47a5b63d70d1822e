//! Keeps the `readiness` health status true to the dependencies: checks them in a loop,
//! retrying with exponential backoff while they fail (no crash loop), and re-checking at an
//! interval once they answer, so a database that goes away later turns readiness off again.

use std::{future::Future, time::Duration};

use tokio_util::sync::CancellationToken;

use crate::{server::Readiness, settings::ReadinessSettings};

/// Runs `check` until `stop` is cancelled, reporting each result through `readiness`.
/// `check` is called again after each interval or backoff; it does any one-time setup
/// (migrations, indexes) itself before answering `Ok` the first time.
pub fn spawn_probe<F, Fut, E>(
    readiness: Readiness,
    settings: ReadinessSettings,
    stop: CancellationToken,
    mut check: F,
) -> tokio::task::JoinHandle<()>
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), E>> + Send,
    E: std::error::Error + Send + Sync + 'static,
{
    tokio::spawn(async move {
        let initial = Duration::from_millis(settings.retry_initial_ms);
        let max = Duration::from_millis(settings.retry_max_ms);
        let interval = Duration::from_millis(settings.check_interval_ms);
        let timeout = Duration::from_millis(settings.check_timeout_ms);
        let mut backoff = initial;
        let mut ready = false;
        loop {
            let outcome = tokio::select! {
                () = stop.cancelled() => return,
                outcome = tokio::time::timeout(timeout, check()) => outcome,
            };
            let delay = match outcome {
                Ok(Ok(())) => {
                    if !ready {
                        tracing::info!("dependencies reachable: readiness SERVING");
                        ready = true;
                    }
                    readiness.set(true).await;
                    backoff = initial;
                    interval
                }
                failure => {
                    let reason = match failure {
                        Ok(Err(error)) => format_chain(&error),
                        _ => format!("no answer within {} ms", timeout.as_millis()),
                    };
                    if ready {
                        tracing::warn!(reason, "dependencies unreachable: readiness NOT_SERVING");
                    } else {
                        tracing::warn!(
                            reason,
                            retry_in_ms = backoff.as_millis() as u64,
                            "dependencies not ready yet"
                        );
                    }
                    ready = false;
                    readiness.set(false).await;
                    let delay = backoff;
                    backoff = (backoff * 2).min(max);
                    delay
                }
            };
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(delay) => {}
            }
        }
    })
}

fn format_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
