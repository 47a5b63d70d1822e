//! The PostgreSQL outbox relay against a real database: each ordering key's events in order,
//! different keys at once, a key waiting for a retry holding back only its own events, and a
//! batch receiver settling a whole pass.
#![cfg(feature = "testing")]

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use sqlx::{Executor, PgPool};
use tokio::sync::Barrier;
use xir_common::{
    outbox::{self, Batched, DeliveryError, Event, OneByOne, OutboxSettings},
    testing,
};

/// The table as the module docs give it (each service's migrations create the same).
const TABLE: &str = "CREATE TABLE outbox (
    id              BIGSERIAL   PRIMARY KEY,
    topic           TEXT        NOT NULL,
    payload         BYTEA       NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    attempts        INTEGER     NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    lease_until     TIMESTAMPTZ,
    last_error      TEXT,
    ordering_key    TEXT
)";

/// An outbox table holding `events`, in a database of its own (dropped with the first value).
async fn outbox_with(events: &[(&str, &str)]) -> (testing::TestDatabase, PgPool) {
    let database = testing::postgres_database("outbox").await;
    let pool = PgPool::connect(database.url())
        .await
        .expect("connect to the test database");
    pool.execute(TABLE).await.expect("create the outbox");
    let mut connection = pool.acquire().await.expect("a connection");
    for (key, payload) in events {
        outbox::enqueue(&mut connection, "test.topic", key, payload.as_bytes())
            .await
            .expect("enqueue");
    }
    (database, pool)
}

fn payload(event: &Event) -> String {
    String::from_utf8(event.payload.clone()).expect("utf-8 payloads")
}

async fn left(pool: &PgPool) -> Vec<String> {
    sqlx::query_scalar::<_, Vec<u8>>("SELECT payload FROM outbox ORDER BY id")
        .fetch_all(pool)
        .await
        .expect("read the outbox")
        .into_iter()
        .map(|p| String::from_utf8(p).expect("utf-8"))
        .collect()
}

/// Each key's first delivery waits until the other key's has started: delivered one after
/// the other, the first would wait forever.
#[tokio::test]
async fn different_keys_are_delivered_at_once_and_each_key_in_order() {
    let (_database, pool) =
        outbox_with(&[("a", "a1"), ("b", "b1"), ("a", "a2"), ("b", "b2")]).await;
    let both_started = Arc::new(Barrier::new(2));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let deliver = |event: Event| {
        let (both_started, seen) = (both_started.clone(), seen.clone());
        async move {
            let payload = payload(&event);
            if payload.ends_with('1') {
                both_started.wait().await;
            }
            seen.lock().expect("seen").push(payload);
            Ok::<(), DeliveryError>(())
        }
    };
    let claimed = tokio::time::timeout(
        Duration::from_secs(30),
        outbox::relay_once(&pool, &OutboxSettings::default(), &OneByOne(deliver)),
    )
    .await
    .expect("the two keys' first events were delivered at the same time")
    .expect("relay pass");
    assert_eq!(claimed, 4);
    let seen = seen.lock().expect("seen").clone();
    let order =
        |key: char| -> Vec<&String> { seen.iter().filter(|p| p.starts_with(key)).collect() };
    assert_eq!(order('a'), ["a1", "a2"]);
    assert_eq!(order('b'), ["b1", "b2"]);
    assert!(
        left(&pool).await.is_empty(),
        "delivered events leave the outbox"
    );
}

#[tokio::test]
async fn a_key_waiting_for_a_retry_holds_back_only_its_own_events() {
    let (_database, pool) =
        outbox_with(&[("a", "a1"), ("b", "b1"), ("a", "a2"), ("b", "b2")]).await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let deliver = |event: Event| {
        let seen = seen.clone();
        async move {
            let payload = payload(&event);
            seen.lock().expect("seen").push(payload.clone());
            if payload == "a1" {
                return Err(DeliveryError::Retry("the receiver is busy".into()));
            }
            Ok(())
        }
    };
    outbox::relay_once(&pool, &OutboxSettings::default(), &OneByOne(deliver))
        .await
        .expect("relay pass");
    let mut seen = seen.lock().expect("seen").clone();
    seen.sort();
    assert_eq!(seen, ["a1", "b1", "b2"], "a2 waits behind a1; b goes on");
    assert_eq!(left(&pool).await, ["a1", "a2"]);
    let due_later: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM outbox WHERE next_attempt_at > now() AND lease_until IS NULL",
    )
    .fetch_one(&pool)
    .await
    .expect("count");
    assert_eq!(due_later, 2, "a1 and a2 wait for the backoff together");
}

/// A batch receiver gets the whole pass in one call, each key's events as one sequence in
/// order, and its answers settle each event: delivered ones leave the outbox, a refused one is
/// set aside, and a retry holds back its key's later events, untried, for the backoff.
#[tokio::test]
async fn a_batch_delivery_takes_the_pass_in_one_call_and_each_outcome_settles_its_event() {
    let (_database, pool) = outbox_with(&[
        ("a", "a1"),
        ("b", "b1"),
        ("c", "c1"),
        ("a", "a2"),
        ("b", "b2"),
        ("c", "c2"),
    ])
    .await;
    let calls = Arc::new(Mutex::new(Vec::new()));
    let delivery = Batched(|sequences: Vec<Vec<Event>>| {
        let calls = calls.clone();
        async move {
            let sequences: Vec<Vec<String>> = sequences
                .iter()
                .map(|events| events.iter().map(payload).collect())
                .collect();
            calls.lock().expect("calls").push(sequences.clone());
            sequences
                .iter()
                .map(|events| match events[0].as_str() {
                    "a1" => vec![Ok(()), Ok(())],
                    "b1" => vec![Err(DeliveryError::Rejected("never".into())), Ok(())],
                    _ => vec![Err(DeliveryError::Retry("busy".into()))],
                })
                .collect()
        }
    });
    let claimed = outbox::relay_once(&pool, &OutboxSettings::default(), &delivery)
        .await
        .expect("relay pass");
    assert_eq!(claimed, 6);
    let mut calls = calls.lock().expect("calls").clone();
    assert_eq!(calls.len(), 1, "one call for the pass");
    calls[0].sort();
    assert_eq!(calls[0], [["a1", "a2"], ["b1", "b2"], ["c1", "c2"]]);
    assert_eq!(left(&pool).await, ["b1", "c1", "c2"]);
    let set_aside: Vec<String> = sqlx::query_scalar(
        "SELECT convert_from(payload, 'UTF8') FROM outbox WHERE next_attempt_at = 'infinity'",
    )
    .fetch_all(&pool)
    .await
    .expect("set aside");
    assert_eq!(set_aside, ["b1"]);
    let due_later: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM outbox
         WHERE next_attempt_at > now() AND next_attempt_at < 'infinity' AND lease_until IS NULL",
    )
    .fetch_one(&pool)
    .await
    .expect("count");
    assert_eq!(due_later, 2, "c2, untried, waits with c1");
}
