//! The relay of the events waiting in tweet documents.
//!
//! Each pass claims a batch of tweets with pending events (up to `outbox.batch_size`) in three
//! queries whatever the batch's size: find the due ids, set an expiring lease
//! (`outbox_lease_until`) and this pass's claim id on those still due, read back the ones that
//! carry the claim id. Several relays (replicas) thus never work on one document at once in the
//! normal case. The claimed tweets are worked concurrently: each delivers its events in the
//! order they were written, removes the delivered ones in one update, and, when a delivery
//! fails, pushes its lease out by the retry backoff so that it waits before the next attempt. A relay that dies mid-way leaves
//! the lease to expire; the receivers are idempotent on the event id, so a redelivery is safe.
//! An event its receiver refuses for good is moved to the document's `outbox_rejected` (with
//! the reason) instead of blocking the events after it.
//!
//! A write that queues events names its tweet in [`Nudges`]: the relay wakes at once and
//! claims those tweets by id (one point update each) before it looks for other due ones, so a
//! new tweet starts its fan-out as soon as CreateTweet returns, not a poll interval later, and
//! without a search for due documents. The search still finds whatever a nudge missed (a full
//! queue, another replica's write, a restart).

mod nudges;
mod settlement;

use std::{future::Future, sync::Arc};

use futures_util::{StreamExt, TryStreamExt, stream};
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
    relay,
    settings::OutboxSettings,
};
use xir_proto::{
    timeline::v1::{TweetEvent, timeline_service_client::TimelineServiceClient},
    user::v1::{ApplyTweetCountEventRequest, user_service_client::UserServiceClient},
};

pub use self::nudges::Nudges;
use self::settlement::{Settlement, pending_events};
use crate::store::{self, PendingEvent, Target};

#[derive(Clone)]
pub struct Receivers {
    pub timelines: TimelineServiceClient<PeerChannel>,
    pub users: UserServiceClient<PeerChannel>,
}

/// The events in tweet documents, drained by the shared relay.
struct TweetOutbox {
    tweets: Collection<Document>,
    settings: OutboxSettings,
    receivers: Receivers,
    nudges: Arc<Nudges>,
}

impl relay::Outbox for TweetOutbox {
    type Error = mongodb::error::Error;

    async fn relay_once(&self) -> mongodb::error::Result<bool> {
        let nudged = self.nudges.take(self.settings.batch_size.max(1) as usize);
        if !nudged.is_empty() {
            relay_nudged(&self.tweets, &self.settings, &self.receivers, nudged).await?;
            return Ok(true);
        }
        relay_once(&self.tweets, &self.settings, &self.receivers).await
    }

    fn woken(&self) -> impl Future<Output = ()> + Send {
        self.nudges.wake.notified()
    }

    /// The events of every tweet with some waiting (one aggregation, on the outbox_count index).
    async fn pending(&self) -> mongodb::error::Result<u64> {
        let totals: Vec<Document> = self
            .tweets
            .aggregate([
                doc! { "$match": { "outbox_count": { "$gt": 0 } } },
                doc! { "$group": { "_id": null, "events": { "$sum": "$outbox_count" } } },
            ])
            .await?
            .try_collect()
            .await?;
        let events = totals.first().map_or(0, |total| match total.get("events") {
            Some(bson::Bson::Int32(n)) => i64::from(*n),
            Some(bson::Bson::Int64(n)) => *n,
            Some(bson::Bson::Double(n)) => *n as i64,
            _ => 0,
        });
        Ok(events.max(0) as u64)
    }
}

/// Delivers the events of tweet documents, nudged ones first, until `stop` is cancelled.
pub fn spawn(
    database: &Database,
    settings: OutboxSettings,
    receivers: Receivers,
    nudges: Arc<Nudges>,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    let outbox = TweetOutbox {
        tweets: database.collection(store::TWEETS),
        settings: settings.clone(),
        receivers,
        nudges,
    };
    relay::spawn(outbox, &settings, stop)
}

fn millis_from_now(ms: u64) -> DateTime {
    DateTime::from_millis(DateTime::now().timestamp_millis() + ms as i64)
}

/// Tweets of one batch worked at once (each its own events in order).
const TWEETS_AT_ONCE: usize = 16;

/// Claims a batch of documents and works them; false when none was due.
pub async fn relay_once(
    tweets: &Collection<Document>,
    settings: &OutboxSettings,
    receivers: &Receivers,
) -> mongodb::error::Result<bool> {
    let lease = millis_from_now(settings.lease_ms);
    let claim = claim_id();
    let claimed = claim_batch(tweets, lease, claim, settings.batch_size).await?;
    if claimed.is_empty() {
        return Ok(false);
    }
    let outcomes: Vec<mongodb::error::Result<()>> = stream::iter(claimed)
        .map(|document| work(tweets, settings, receivers, claim, document))
        .buffer_unordered(TWEETS_AT_ONCE)
        .collect()
        .await;
    outcomes
        .into_iter()
        .collect::<mongodb::error::Result<()>>()?;
    Ok(true)
}

/// Claims each nudged tweet by id, if its events are still due, and works the claimed ones.
async fn relay_nudged(
    tweets: &Collection<Document>,
    settings: &OutboxSettings,
    receivers: &Receivers,
    nudged: Vec<i64>,
) -> mongodb::error::Result<()> {
    let lease = millis_from_now(settings.lease_ms);
    let claim = claim_id();
    let outcomes: Vec<mongodb::error::Result<()>> = stream::iter(nudged)
        .map(|id| async move {
            match claim_one(tweets, id, lease, claim).await? {
                Some(document) => work(tweets, settings, receivers, claim, document).await,
                None => Ok(()), // delivered already, or another pass holds it
            }
        })
        .buffer_unordered(TWEETS_AT_ONCE)
        .collect()
        .await;
    outcomes.into_iter().collect()
}

/// Claims one tweet until `lease` if its events are due: one update by id.
async fn claim_one(
    tweets: &Collection<Document>,
    id: i64,
    lease: DateTime,
    claim: i64,
) -> mongodb::error::Result<Option<Document>> {
    let mut filter = due();
    filter.insert("_id", id);
    tweets
        .find_one_and_update(
            filter,
            doc! { "$set": { "outbox_lease_until": lease, "outbox_claim": claim } },
        )
        .return_document(ReturnDocument::After)
        .await
}

/// Tweets with events waiting whose lease, if any, has expired.
fn due() -> Document {
    doc! {
        "outbox_count": { "$gt": 0 },
        "$or": [
            { "outbox_lease_until": null },
            { "outbox_lease_until": { "$lt": DateTime::now() } },
        ],
    }
}

/// An id no other pass of any relay uses: its claim on the documents it leased.
fn claim_id() -> i64 {
    use std::sync::atomic::{AtomicI64, Ordering};
    static NEXT: AtomicI64 = AtomicI64::new(0);
    // The process id and the time it started make it unique across replicas and restarts.
    static BASE: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    let base = *BASE.get_or_init(|| {
        (i64::from(std::process::id()) << 40) ^ DateTime::now().timestamp_millis() << 8
    });
    base ^ NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Delivers one claimed tweet's events in order and records the outcome in one update.
async fn work(
    tweets: &Collection<Document>,
    settings: &OutboxSettings,
    receivers: &Receivers,
    claim: i64,
    document: Document,
) -> mongodb::error::Result<()> {
    let Ok(id) = document.get_i64("_id") else {
        return Ok(());
    };
    let mut settlement = Settlement::default();
    for (key, event) in pending_events(&document) {
        match deliver(receivers, &event).await {
            Ok(()) => settlement.delivered(&key, &event),
            Err(DeliveryError::Rejected(reason)) => {
                delivery::record_rejected(event.target.topic(), &format!("{id}/{key}"), &reason);
                settlement.rejected(&key, &event, reason);
            }
            Err(DeliveryError::Retry(reason)) => {
                let attempts = event.attempts + 1;
                let name = format!("{id}/{key}");
                delivery::record_retry(event.target.topic(), &name, i64::from(attempts), &reason);
                // Later events of this tweet wait too, so receivers see them in order.
                settlement.retry_later(&key, settings.backoff(attempts));
                break;
            }
        }
    }
    // Only while the claim is still ours: past the lease another pass may have claimed it.
    let outcome = tweets
        .update_one(
            doc! { "_id": id, "outbox_claim": claim },
            settlement.into_update(),
        )
        .await?;
    if outcome.matched_count == 0 {
        tracing::warn!(
            tweet_id = id,
            "outbox lease expired before the relay finished; events may be delivered again"
        );
    }
    Ok(())
}

/// Claims up to `limit` tweets with due events until `lease`, in three queries; the claim
/// itself checks again that each is still due (another replica may have claimed it in
/// between), and only the documents carrying `claim` afterwards are ours.
async fn claim_batch(
    tweets: &Collection<Document>,
    lease: DateTime,
    claim: i64,
    limit: i64,
) -> mongodb::error::Result<Vec<Document>> {
    let due = due();
    let candidates: Vec<Document> = tweets
        .find(due.clone())
        .projection(doc! { "_id": 1 })
        .limit(limit.max(1))
        .await?
        .try_collect()
        .await?;
    let ids: Vec<i64> = candidates
        .iter()
        .filter_map(|c| c.get_i64("_id").ok())
        .collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut filter = due;
    filter.insert("_id", doc! { "$in": &ids });
    tweets
        .update_many(
            filter,
            doc! { "$set": { "outbox_lease_until": lease, "outbox_claim": claim } },
        )
        .await?;
    tweets
        .find(doc! { "_id": { "$in": &ids }, "outbox_claim": claim })
        .await?
        .try_collect()
        .await
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
