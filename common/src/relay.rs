//! The one outbox relay of every service. Two outboxes sit behind it: the PostgreSQL services'
//! `outbox` table ([`crate::outbox`]) and the events svc-tweet keeps inside tweet documents.
//! Each knows how to claim, deliver and settle its own events in one pass; the relay runs
//! those passes (at once while there is work or a write announces some, every poll interval
//! when idle, five intervals after a database error), keeps the pending gauge, and stops
//! with the service.
//!
//! Every outbox retries a failed delivery after the same backoff
//! ([`crate::settings::OutboxSettings::backoff`]) and reports through the same metrics
//! ([`crate::delivery`]), labelled by the event's `topic`.

use std::{future::Future, time::Duration};

use tokio_util::sync::CancellationToken;

use crate::settings::OutboxSettings;

/// Events written but not yet delivered (set-aside ones excluded).
pub const PENDING: &str = "outbox_pending_events";

/// How often the pending gauge is refreshed at most.
const GAUGE_EVERY: Duration = Duration::from_secs(2);

/// An outbox the relay drains.
pub trait Outbox: Send + Sync + 'static {
    type Error: std::error::Error + Send + Sync + 'static;

    /// Claims due events, delivers them in the order they were written and settles each
    /// (delivered, set aside, or retried after the backoff). True when it found work.
    fn relay_once(&self) -> impl Future<Output = Result<bool, Self::Error>> + Send;

    /// How many events wait for delivery.
    fn pending(&self) -> impl Future<Output = Result<u64, Self::Error>> + Send;

    /// Resolves when a write has just queued events, so the relay need not wait out its poll
    /// interval; an outbox no write announces never resolves it.
    fn woken(&self) -> impl Future<Output = ()> + Send {
        std::future::pending()
    }
}

/// Drains `outbox` until `stop` is cancelled.
pub fn spawn<O: Outbox>(
    outbox: O,
    settings: &OutboxSettings,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    let idle = Duration::from_millis(settings.poll_interval_ms);
    tokio::spawn(async move {
        let mut last_gauge: Option<tokio::time::Instant> = None;
        loop {
            if last_gauge.is_none_or(|at| at.elapsed() > GAUGE_EVERY) {
                record_pending(&outbox).await;
                last_gauge = Some(tokio::time::Instant::now());
            }
            let pause = match outbox.relay_once().await {
                Ok(true) => Duration::ZERO,
                Ok(false) => idle,
                Err(error) => {
                    tracing::warn!(
                        error = &error as &dyn std::error::Error,
                        "outbox relay cannot reach the database"
                    );
                    idle * 5
                }
            };
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(pause) => {}
                () = outbox.woken(), if !pause.is_zero() => {}
            }
        }
    })
}

async fn record_pending<O: Outbox>(outbox: &O) {
    match outbox.pending().await {
        Ok(pending) => metrics::gauge!(PENDING).set(pending as f64),
        Err(error) => tracing::debug!(
            error = &error as &dyn std::error::Error,
            "cannot count outbox events"
        ),
    }
}
