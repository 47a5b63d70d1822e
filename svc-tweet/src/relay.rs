//! The relay of the events waiting in tweet documents.
//!
//! It claims one tweet with pending events at a time with `findAndModify`, setting an expiring
//! lease (`outbox_lease_until`) so that several relays (replicas) never work on one document at
//! once in the normal case; delivers its events in the order they were written; removes the
//! delivered ones in one update; and, when a delivery fails, pushes the lease out by the retry
//! backoff so that the document waits before the next attempt. A relay that dies mid-way leaves
//! the lease to expire; the receivers are idempotent on the event id, so a redelivery is safe.
//! An event its receiver refuses for good is moved to the document's `outbox_rejected` (with
//! the reason) instead of blocking the events after it.

use std::time::Duration;

use mongodb::{
    Collection, Database,
    bson::{self, DateTime, Document, doc},
    options::ReturnDocument,
};
use prost::Message;
use tokio_util::sync::CancellationToken;
use xir_common::{
    delivery::{self, DeliveryError},
    peer::PeerChannel,
    settings::OutboxSettings,
};
use xir_proto::{
    timeline::v1::{TweetEvent, timeline_service_client::TimelineServiceClient},
    user::v1::{ApplyTweetCountEventRequest, user_service_client::UserServiceClient},
};

use crate::store::{self, PendingEvent, Target};

pub const PENDING_DOCUMENTS: &str = "outbox_pending_documents";

#[derive(Clone)]
pub struct Receivers {
    pub timelines: TimelineServiceClient<PeerChannel>,
    pub users: UserServiceClient<PeerChannel>,
}

pub fn spawn(
    database: &Database,
    settings: OutboxSettings,
    receivers: Receivers,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    let tweets: Collection<Document> = database.collection(store::TWEETS);
    tokio::spawn(async move {
        let idle = Duration::from_millis(settings.poll_interval_ms);
        let mut last_gauge = tokio::time::Instant::now() - Duration::from_secs(60);
        loop {
            if last_gauge.elapsed() > Duration::from_secs(2) {
                if let Ok(pending) = tweets
                    .count_documents(doc! { "outbox_count": { "$gt": 0 } })
                    .await
                {
                    metrics::gauge!(PENDING_DOCUMENTS).set(pending as f64);
                }
                last_gauge = tokio::time::Instant::now();
            }
            let pause = match relay_once(&tweets, &settings, &receivers).await {
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
            }
        }
    })
}

fn millis_from_now(ms: u64) -> DateTime {
    DateTime::from_millis(DateTime::now().timestamp_millis() + ms as i64)
}

/// Claims and works one document; false when none was due.
pub async fn relay_once(
    tweets: &Collection<Document>,
    settings: &OutboxSettings,
    receivers: &Receivers,
) -> mongodb::error::Result<bool> {
    let now = DateTime::now();
    let lease = millis_from_now(settings.lease_ms);
    let due = doc! {
        "outbox_count": { "$gt": 0 },
        "$or": [ { "outbox_lease_until": null }, { "outbox_lease_until": { "$lt": now } } ],
    };
    // Find a due tweet, then claim it under its lock, re-checking that it is still due (another
    // replica may have claimed it in between).
    let Some(candidate) = tweets
        .find_one(due.clone())
        .projection(doc! { "_id": 1 })
        .await?
    else {
        return Ok(false);
    };
    let Ok(id) = candidate.get_i64("_id") else {
        return Ok(false);
    };
    let guard = store::locks::tweet(id).await;
    let mut filter = due;
    filter.insert("_id", id);
    let claimed = tweets
        .find_one_and_update(filter, doc! { "$set": { "outbox_lease_until": lease } })
        // No projection: FerretDB's findAndModify does not take one.
        .return_document(ReturnDocument::After)
        .await?;
    drop(guard);
    let Some(claimed) = claimed else {
        return Ok(true);
    };
    let mut pending: Vec<(i64, String, PendingEvent)> = claimed
        .get_document("outbox")
        .map(|outbox| {
            outbox
                .iter()
                .filter_map(|(key, value)| {
                    let event: PendingEvent = bson::from_bson(value.clone()).ok()?;
                    Some((key.parse::<i64>().unwrap_or(i64::MAX), key.clone(), event))
                })
                .collect()
        })
        .unwrap_or_default();
    pending.sort_by_key(|(order, _, _)| *order);

    let mut unset = Document::new();
    let mut set = Document::new();
    let mut inc = Document::new();
    let mut delivered = 0_i64;
    for (_, key, event) in &pending {
        match deliver(receivers, event).await {
            Ok(()) => {
                unset.insert(format!("outbox.{key}"), "");
                delivered += 1;
                let lag_ms = (DateTime::now().timestamp_millis()
                    - event.created_at.timestamp_millis())
                .max(0);
                delivery::record_delivered(
                    event.target.topic(),
                    Duration::from_millis(lag_ms as u64),
                );
            }
            Err(DeliveryError::Rejected(reason)) => {
                tracing::error!(
                    tweet_id = id,
                    event = key,
                    reason,
                    "outbox event refused by its receiver; set aside, the others go on"
                );
                delivery::record_rejected(event.target.topic());
                unset.insert(format!("outbox.{key}"), "");
                set.insert(
                    format!("outbox_rejected.{key}"),
                    doc! { "reason": reason, "event": bson::to_bson(event).unwrap_or_default() },
                );
                delivered += 1;
            }
            Err(DeliveryError::Retry(reason)) => {
                let attempts = event.attempts + 1;
                tracing::warn!(
                    tweet_id = id,
                    event = key,
                    attempts,
                    reason,
                    "outbox delivery failed; will retry"
                );
                delivery::record_failure(event.target.topic());
                inc.insert(format!("outbox.{key}.attempts"), 1);
                // Later events of this tweet wait too, so receivers see them in order.
                set.insert(
                    "outbox_lease_until",
                    millis_from_now(settings.backoff(attempts).as_millis() as u64),
                );
                break;
            }
        }
    }
    if !set.contains_key("outbox_lease_until") {
        set.insert("outbox_lease_until", bson::Bson::Null);
    }
    if delivered > 0 {
        inc.insert("outbox_count", -delivered);
    }
    let mut update = doc! { "$set": set };
    if !unset.is_empty() {
        update.insert("$unset", unset);
    }
    if !inc.is_empty() {
        update.insert("$inc", inc);
    }
    // Only while the lease is still ours: past it another relay may be working the document.
    let _serialised = store::locks::tweet(id).await;
    let outcome = tweets
        .update_one(doc! { "_id": id, "outbox_lease_until": lease }, update)
        .await?;
    if outcome.matched_count == 0 {
        tracing::warn!(
            tweet_id = id,
            "outbox lease expired before the relay finished; events may be delivered again"
        );
    }
    Ok(true)
}

async fn deliver(receivers: &Receivers, event: &PendingEvent) -> Result<(), DeliveryError> {
    let payload = event.payload.bytes.as_slice();
    let result = match event.target {
        Target::Timeline => {
            let message = TweetEvent::decode(payload).map_err(DeliveryError::undecodable)?;
            receivers
                .timelines
                .clone()
                .apply_tweet_event(message)
                .await
                .map(|_| ())
        }
        Target::UserTweetCount => {
            let message =
                ApplyTweetCountEventRequest::decode(payload).map_err(DeliveryError::undecodable)?;
            receivers
                .users
                .clone()
                .apply_tweet_count_event(message)
                .await
                .map(|_| ())
        }
    };
    result.map_err(DeliveryError::from)
}
