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
//! Events with the same `ordering_key` (what they are about: a follower, an account) are
//! delivered one after another in the order they were written, and an event waiting for a
//! retry holds back the later ones of its key; events of different keys are delivered
//! concurrently, so one slow receiver call does not hold up the whole batch. Rows without a
//! key (written before the column existed) share one order. A receiver with a batch RPC takes
//! a whole pass in one call ([`spawn_batch_relay`]), one sequence per key; the others get one
//! call per event ([`spawn_relay`]). Either way the pass settles in a few statements: one
//! delete for everything delivered, one update per key left to retry.
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
//!     last_error      TEXT,
//!     ordering_key    TEXT
//! );
//! CREATE INDEX outbox_due ON outbox (next_attempt_at, id);
//! ```

use std::{collections::HashMap, future::Future, time::Duration};

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
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
    pub ordering_key: Option<String>,
}

impl Event {
    /// A stable id for the receiver's idempotency: `<service>:<row id>`.
    pub fn event_id(&self, service: &str) -> String {
        format!("{service}:{}", self.id)
    }
}

/// Events delivered at once by one relay pass, each key's in order (see the module docs).
const KEYS_AT_ONCE: usize = 16;

/// Writes an event in the caller's transaction: it exists exactly when the change does.
/// `ordering_key` names what the event is about: events with the same key reach the receiver
/// in the order they were written. Returns its id (for [`deliver_now`]).
pub async fn enqueue(
    connection: &mut PgConnection,
    topic: &str,
    ordering_key: &str,
    payload: &[u8],
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO outbox (topic, ordering_key, payload) VALUES ($1, $2, $3) RETURNING id",
    )
    .bind(topic)
    .bind(ordering_key)
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
         RETURNING id, topic, payload, created_at, attempts, ordering_key",
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

pub use crate::delivery::Outcomes;

/// How a relay hands a pass's events to their receiver.
pub trait Delivery: Send + Sync {
    /// Delivers each sequence's events in order; sequences are independent of each other.
    /// Answers one [`Outcomes`] per sequence, in the order given.
    fn deliver(&self, sequences: Vec<Vec<Event>>) -> impl Future<Output = Vec<Outcomes>> + Send;
}

/// One receiver call per event, [`KEYS_AT_ONCE`] sequences at a time.
pub struct OneByOne<F>(pub F);

impl<F, Fut> Delivery for OneByOne<F>
where
    F: Fn(Event) -> Fut + Send + Sync,
    Fut: Future<Output = Result<(), DeliveryError>> + Send,
{
    async fn deliver(&self, sequences: Vec<Vec<Event>>) -> Vec<Outcomes> {
        futures_util::stream::iter(sequences)
            .map(|events| crate::delivery::in_order(events, &self.0))
            .buffered(KEYS_AT_ONCE)
            .collect()
            .await
    }
}

/// The whole pass in one receiver call (a batch RPC): `F` gets every sequence at once.
pub struct Batched<F>(pub F);

impl<F, Fut> Delivery for Batched<F>
where
    F: Fn(Vec<Vec<Event>>) -> Fut + Send + Sync,
    Fut: Future<Output = Vec<Outcomes>> + Send,
{
    fn deliver(&self, sequences: Vec<Vec<Event>>) -> impl Future<Output = Vec<Outcomes>> + Send {
        (self.0)(sequences)
    }
}

/// The outbox table of one pool, drained by the shared relay with `delivery`.
struct TableOutbox<D> {
    pool: PgPool,
    settings: OutboxSettings,
    delivery: D,
}

impl<D: Delivery + 'static> crate::relay::Outbox for TableOutbox<D> {
    type Error = sqlx::Error;

    async fn relay_once(&self) -> sqlx::Result<bool> {
        Ok(relay_once(&self.pool, &self.settings, &self.delivery).await? > 0)
    }

    async fn pending(&self) -> sqlx::Result<u64> {
        let pending: i64 =
            sqlx::query_scalar("SELECT count(*) FROM outbox WHERE next_attempt_at < 'infinity'")
                .fetch_one(&self.pool)
                .await?;
        Ok(pending.max(0) as u64)
    }
}

/// Delivers due events with `deliver`, one call per event, until `stop` is cancelled.
/// `deliver` says why an event failed: to be retried later, or refused for good.
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
    spawn_delivery(pool, settings, stop, OneByOne(deliver))
}

/// Delivers due events with `deliver`, a relay pass's sequences in one call, until `stop` is
/// cancelled.
pub fn spawn_batch_relay<F, Fut>(
    pool: PgPool,
    settings: OutboxSettings,
    stop: CancellationToken,
    deliver: F,
) -> tokio::task::JoinHandle<()>
where
    F: Fn(Vec<Vec<Event>>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Vec<Outcomes>> + Send,
{
    spawn_delivery(pool, settings, stop, Batched(deliver))
}

fn spawn_delivery<D: Delivery + 'static>(
    pool: PgPool,
    settings: OutboxSettings,
    stop: CancellationToken,
    delivery: D,
) -> tokio::task::JoinHandle<()> {
    let outbox = TableOutbox {
        pool,
        settings: settings.clone(),
        delivery,
    };
    crate::relay::spawn(outbox, &settings, stop)
}

/// Claims one batch, delivers it (each key's events in order) and settles it; returns how
/// many events were claimed.
pub async fn relay_once<D: Delivery>(
    pool: &PgPool,
    settings: &OutboxSettings,
    delivery: &D,
) -> sqlx::Result<usize> {
    let events: Vec<Event> = sqlx::query_as(
        "UPDATE outbox SET lease_until = now() + make_interval(secs => $1), attempts = attempts + 1
         WHERE id IN (
             SELECT id FROM outbox
             WHERE next_attempt_at <= now() AND (lease_until IS NULL OR lease_until < now())
             ORDER BY id LIMIT $2
             FOR UPDATE SKIP LOCKED)
         RETURNING id, topic, payload, created_at, attempts, ordering_key",
    )
    .bind(settings.lease_ms as f64 / 1000.0)
    .bind(settings.batch_size)
    .fetch_all(pool)
    .await?;
    let claimed = events.len();
    if claimed == 0 {
        return Ok(0);
    }
    let sequences = by_ordering_key(events);
    let outcomes = delivery.deliver(sequences.clone()).await;
    settle(pool, settings, sequences, outcomes).await?;
    Ok(claimed)
}

/// The events of each ordering key, oldest first.
fn by_ordering_key(events: Vec<Event>) -> Vec<Vec<Event>> {
    let mut keys: HashMap<Option<String>, Vec<Event>> = HashMap::new();
    for event in events {
        keys.entry(event.ordering_key.clone())
            .or_default()
            .push(event);
    }
    let mut keys: Vec<Vec<Event>> = keys.into_values().collect();
    for events in &mut keys {
        events.sort_by_key(|event| event.id);
    }
    keys
}

/// Records a pass: delivered events leave the outbox (one statement), refused ones are set
/// aside, and in a sequence with an event to retry, it and the events after it (untried)
/// wait for the backoff together, so the receiver sees them in the order they happened.
async fn settle(
    pool: &PgPool,
    settings: &OutboxSettings,
    sequences: Vec<Vec<Event>>,
    outcomes: Vec<Outcomes>,
) -> sqlx::Result<()> {
    let mut delivered_ids = Vec::new();
    let mut lags = Vec::new();
    let mut outcomes = outcomes.into_iter();
    for events in sequences {
        let mut tried = outcomes.next().unwrap_or_default().into_iter();
        for (index, event) in events.iter().enumerate() {
            let outcome = tried.next().unwrap_or_else(|| {
                Err(DeliveryError::Retry("the receiver gave no outcome".into()))
            });
            match outcome {
                Ok(()) => {
                    delivered_ids.push(event.id);
                    lags.push((event.topic.clone(), event.created_at));
                }
                Err(DeliveryError::Rejected(reason)) => {
                    set_aside(pool, event.id, event.topic.clone(), &reason).await?;
                }
                Err(DeliveryError::Retry(reason)) => {
                    retry_later(pool, settings, &events[index..], &reason).await?;
                    break;
                }
            }
        }
    }
    if !delivered_ids.is_empty() {
        sqlx::query("DELETE FROM outbox WHERE id = ANY($1)")
            .bind(&delivered_ids)
            .execute(pool)
            .await?;
    }
    let now = Utc::now();
    for (topic, created_at) in lags {
        record_delivered(&topic, (now - created_at).to_std().unwrap_or_default());
    }
    Ok(())
}

/// `events` (a sequence's first one to retry and those behind it) wait for the backoff.
async fn retry_later(
    pool: &PgPool,
    settings: &OutboxSettings,
    events: &[Event],
    reason: &str,
) -> sqlx::Result<()> {
    let first = &events[0];
    record_retry(
        &first.topic,
        &first.id.to_string(),
        i64::from(first.attempts),
        reason,
    );
    let ids: Vec<i64> = events.iter().map(|event| event.id).collect();
    sqlx::query(
        "UPDATE outbox SET lease_until = NULL, last_error = $2,
             next_attempt_at = now() + make_interval(secs => $3)
         WHERE id = ANY($1)",
    )
    .bind(&ids)
    .bind(reason)
    .bind(settings.backoff(first.attempts).as_secs_f64())
    .execute(pool)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: i64, key: Option<&str>) -> Event {
        Event {
            id,
            topic: "t".into(),
            payload: Vec::new(),
            created_at: Utc::now(),
            attempts: 1,
            ordering_key: key.map(str::to_owned),
        }
    }

    #[test]
    fn each_key_keeps_its_events_in_the_order_they_were_written() {
        let claimed = vec![
            event(5, Some("a")),
            event(2, Some("b")),
            event(3, None),
            event(1, Some("a")),
            event(4, None),
            event(6, Some("b")),
        ];
        let mut keys: Vec<Vec<i64>> = by_ordering_key(claimed)
            .into_iter()
            .map(|events| events.iter().map(|event| event.id).collect())
            .collect();
        keys.sort();
        assert_eq!(keys, [vec![1, 5], vec![2, 6], vec![3, 4]]);
    }
}
