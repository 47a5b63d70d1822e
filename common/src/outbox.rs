//! The transactional outbox of the PostgreSQL services.
//!
//! A change and the event it causes are written in one transaction ([`enqueue`]); a relay
//! ([`spawn_relay`]) claims due events with an expiring lease (`FOR UPDATE SKIP LOCKED`, so
//! several replicas share the work without delivering one event twice in the normal case),
//! delivers them with retries and exponential backoff, and deletes them once delivered. The
//! receiver is idempotent on the event id anyway: a relay that dies after delivering but before
//! deleting leaves the event to be delivered again when its lease expires. An event the
//! receiver refuses for good ([`DeliveryError::Rejected`]) is set aside (kept with
//! `next_attempt_at = 'infinity'` and the reason in `last_error`) so it blocks no other.
//!
//! Each service's migrations create the table:
//!
//! ```sql
//! CREATE TABLE outbox (
//!     id              BIGSERIAL   PRIMARY KEY,
//!     topic           TEXT        NOT NULL,
//!     payload         BYTEA       NOT NULL,
//!     created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
//!     attempts        INTEGER     NOT NULL DEFAULT 0,
//!     next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(),
//!     lease_until     TIMESTAMPTZ,
//!     last_error      TEXT
//! );
//! CREATE INDEX outbox_due ON outbox (next_attempt_at, id);
//! ```

use std::{future::Future, time::Duration};

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use tokio_util::sync::CancellationToken;

pub use crate::delivery::{
    DELIVERED_TOTAL, DeliveryError, FAILURES_TOTAL, LAG_SECONDS, REJECTED_TOTAL,
};
use crate::delivery::{record_delivered, record_rejected, record_retry};
pub use crate::relay::PENDING;
pub use crate::settings::OutboxSettings;

/// One claimed event.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Event {
    pub id: i64,
    pub topic: String,
    pub payload: Vec<u8>,
    pub created_at: DateTime<Utc>,
    pub attempts: i32,
}

impl Event {
    /// A stable id for the receiver's idempotency: `<service>:<row id>`.
    pub fn event_id(&self, service: &str) -> String {
        format!("{service}:{}", self.id)
    }
}

/// Writes an event in the caller's transaction: it exists exactly when the change does.
/// Returns its id (for [`deliver_now`]).
pub async fn enqueue(
    connection: &mut PgConnection,
    topic: &str,
    payload: &[u8],
) -> sqlx::Result<i64> {
    sqlx::query_scalar("INSERT INTO outbox (topic, payload) VALUES ($1, $2) RETURNING id")
        .bind(topic)
        .bind(payload)
        .fetch_one(connection)
        .await
}

/// Delivers event `id` at once, once the transaction that wrote it has committed, for a caller
/// waiting on its effect (a new account's profile should exist when SignUp answers). It claims
/// the event as the relay does, so the two never deliver it at the same time; whatever stands
/// in the way (the receiver down, or slower than `settings.deliver_now_ms`, the database
/// unreachable) leaves the event to the relay, which is still the guarantee. Returns whether
/// the event was delivered now.
#[tracing::instrument(skip_all, fields(event_id = id))]
pub async fn deliver_now<F, Fut>(
    pool: &PgPool,
    settings: &OutboxSettings,
    id: i64,
    deliver: F,
) -> bool
where
    F: FnOnce(Event) -> Fut,
    Fut: Future<Output = Result<(), DeliveryError>>,
{
    let claimed: sqlx::Result<Option<Event>> = sqlx::query_as(
        "UPDATE outbox SET lease_until = now() + make_interval(secs => $2), attempts = attempts + 1
         WHERE id = $1 AND next_attempt_at <= now() AND (lease_until IS NULL OR lease_until < now())
         RETURNING id, topic, payload, created_at, attempts",
    )
    .bind(id)
    .bind(settings.lease_ms as f64 / 1000.0)
    .fetch_optional(pool)
    .await;
    let Ok(Some(event)) = claimed else {
        return false;
    };
    let (topic, created_at) = (event.topic.clone(), event.created_at);
    let deadline = Duration::from_millis(settings.deliver_now_ms);
    let outcome = match tokio::time::timeout(deadline, deliver(event)).await {
        Ok(outcome) => outcome,
        Err(_) => Err(DeliveryError::Retry(format!(
            "no answer within {} ms",
            settings.deliver_now_ms
        ))),
    };
    let settled = match outcome {
        Ok(()) => delivered(pool, id, topic, created_at).await.map(|()| true),
        Err(DeliveryError::Rejected(reason)) => {
            set_aside(pool, id, topic, &reason).await.map(|()| false)
        }
        Err(DeliveryError::Retry(reason)) => {
            tracing::info!(reason, "immediate delivery failed; the relay will retry");
            // Back to the relay at once, not after the lease.
            sqlx::query("UPDATE outbox SET lease_until = NULL, last_error = $2 WHERE id = $1")
                .bind(id)
                .bind(&reason)
                .execute(pool)
                .await
                .map(|_| false)
        }
    };
    settled.unwrap_or_else(|error| {
        tracing::warn!(
            error = &error as &dyn std::error::Error,
            "cannot record an immediate delivery; the relay will see to the event"
        );
        false
    })
}

/// A delivered event leaves the outbox.
async fn delivered(
    pool: &PgPool,
    id: i64,
    topic: String,
    created_at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM outbox WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await?;
    record_delivered(
        &topic,
        (Utc::now() - created_at).to_std().unwrap_or_default(),
    );
    Ok(())
}

/// An event its receiver refuses for good is kept, with the reason, where no relay claims it.
async fn set_aside(pool: &PgPool, id: i64, topic: String, reason: &str) -> sqlx::Result<()> {
    record_rejected(&topic, &id.to_string(), reason);
    sqlx::query(
        "UPDATE outbox SET lease_until = NULL, last_error = $2, next_attempt_at = 'infinity'
         WHERE id = $1",
    )
    .bind(id)
    .bind(reason)
    .execute(pool)
    .await?;
    Ok(())
}

/// The outbox table of one pool, drained by the shared relay with `deliver`.
struct TableOutbox<F> {
    pool: PgPool,
    settings: OutboxSettings,
    deliver: F,
}

impl<F, Fut> crate::relay::Outbox for TableOutbox<F>
where
    F: Fn(Event) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), DeliveryError>> + Send,
{
    type Error = sqlx::Error;

    async fn relay_once(&self) -> sqlx::Result<bool> {
        Ok(relay_once(&self.pool, &self.settings, &self.deliver).await? > 0)
    }

    async fn pending(&self) -> sqlx::Result<u64> {
        let pending: i64 =
            sqlx::query_scalar("SELECT count(*) FROM outbox WHERE next_attempt_at < 'infinity'")
                .fetch_one(&self.pool)
                .await?;
        Ok(pending.max(0) as u64)
    }
}

/// Delivers due events with `deliver` until `stop` is cancelled. `deliver` says why an event
/// failed: to be retried later, or refused for good.
pub fn spawn_relay<F, Fut>(
    pool: PgPool,
    settings: OutboxSettings,
    stop: CancellationToken,
    deliver: F,
) -> tokio::task::JoinHandle<()>
where
    F: Fn(Event) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), DeliveryError>> + Send,
{
    let outbox = TableOutbox {
        pool,
        settings: settings.clone(),
        deliver,
    };
    crate::relay::spawn(outbox, &settings, stop)
}

/// Claims one batch and delivers it; returns how many events were claimed.
pub async fn relay_once<F, Fut>(
    pool: &PgPool,
    settings: &OutboxSettings,
    deliver: &F,
) -> sqlx::Result<usize>
where
    F: Fn(Event) -> Fut,
    Fut: Future<Output = Result<(), DeliveryError>>,
{
    let events: Vec<Event> = sqlx::query_as(
        "UPDATE outbox SET lease_until = now() + make_interval(secs => $1), attempts = attempts + 1
         WHERE id IN (
             SELECT id FROM outbox
             WHERE next_attempt_at <= now() AND (lease_until IS NULL OR lease_until < now())
             ORDER BY id LIMIT $2
             FOR UPDATE SKIP LOCKED)
         RETURNING id, topic, payload, created_at, attempts",
    )
    .bind(settings.lease_ms as f64 / 1000.0)
    .bind(settings.batch_size)
    .fetch_all(pool)
    .await?;
    let claimed = events.len();
    let mut events = events;
    events.sort_by_key(|event| event.id);
    let mut failed_from = None;
    for (index, event) in events.iter().enumerate() {
        let (id, topic, created_at, attempts) = (
            event.id,
            event.topic.clone(),
            event.created_at,
            event.attempts,
        );
        match deliver(event.clone()).await {
            Ok(()) => delivered(pool, id, topic, created_at).await?,
            Err(DeliveryError::Rejected(reason)) => set_aside(pool, id, topic, &reason).await?,
            Err(DeliveryError::Retry(reason)) => {
                record_retry(&topic, &id.to_string(), i64::from(attempts), &reason);
                // Later events wait too, so one receiver sees them in the order they happened.
                failed_from = Some((index, reason, attempts));
                break;
            }
        }
    }
    if let Some((index, reason, attempts)) = failed_from {
        let retry_in = settings.backoff(attempts);
        let ids: Vec<i64> = events[index..].iter().map(|event| event.id).collect();
        sqlx::query(
            "UPDATE outbox SET lease_until = NULL, last_error = $2,
                 next_attempt_at = now() + make_interval(secs => $3)
             WHERE id = ANY($1)",
        )
        .bind(&ids)
        .bind(&reason)
        .bind(retry_in.as_secs_f64())
        .execute(pool)
        .await?;
    }
    Ok(claimed)
}
