//! The relay of the events waiting in tweet documents.
//!
//! Each pass claims a batch of tweets with pending events (up to `outbox.batch_size`) in a
//! fixed number of queries whatever the batch's size (see `claims`): set an expiring lease
//! (`outbox_lease_until`) and this pass's claim id on those still due, read back the ones that
//! carry the claim id. Several relays (replicas) thus never work on one document at once in the
//! normal case. The claimed tweets are worked concurrently, each delivering its events in the
//! order they were written; then the pass records the outcome (see `settlement`): one update
//! empties the outbox of every tweet whose events were all delivered, and a tweet with a failed
//! delivery has its lease pushed out by the retry backoff, so that it waits before the next
//! attempt. A relay that dies mid-way leaves the lease to expire; the receivers are idempotent
//! on the event id, so a redelivery is safe. An event its receiver refuses for good is moved to
//! the document's `outbox_rejected` (with the reason) instead of blocking the events after it.
//!
//! A write that queues events names its tweet in [`Nudges`]: the relay wakes at once and
//! claims the nudged tweets by id, all in one update, before it looks for other due ones, so a
//! new tweet starts its fan-out as soon as CreateTweet returns, not a poll interval later, and
//! without a search for due documents. A new tweet goes further: CreateTweet writes it
//! already claimed by this process's relay (lease and a claim id kept for births) and hands
//! the relay the document it wrote, so the relay delivers its events without claiming or
//! reading it, and settles it with the other tweets of the pass: one update per pass where a
//! claim takes three queries. The search still finds whatever a nudge missed (a full queue,
//! another replica's write, a restart, a birth whose process died before its relay got to it,
//! once the lease ends).

mod claims;
mod nudges;
mod settlement;

use std::{future::Future, sync::Arc};

use futures_util::{StreamExt, TryStreamExt, stream};
use mongodb::{
    Collection, Database,
    bson::{self, DateTime, Document, doc},
};
use prost::Message;
use tokio_util::sync::CancellationToken;
use xir_common::{
    delivery::{self, DeliveryError, Outcomes, Sendable},
    peer::PeerChannel,
    relay,
    settings::OutboxSettings,
};
use xir_proto::{
    timeline::v1::{
        ApplyTweetEventsRequest, TweetEvent, TweetEventSequence,
        timeline_service_client::TimelineServiceClient,
    },
    user::v1::{ApplyTweetCountEventRequest, user_service_client::UserServiceClient},
};

pub use self::nudges::{BirthClaim, Nudges};
use self::{
    claims::claim_id,
    settlement::{Settlement, Worked, pending_events},
};
use crate::store::{self, PendingEvent, Target, TweetDoc};

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
        let (born, nudged) = self.nudges.take(self.settings.batch_size.max(1) as usize);
        if born.is_empty() && nudged.is_empty() {
            return relay_once(&self.tweets, &self.settings, &self.receivers).await;
        }
        let mut claimed = born;
        claimed.extend(claim_nudged(&self.tweets, &self.settings, nudged).await?);
        work_all(&self.tweets, &self.settings, &self.receivers, claimed).await?;
        Ok(true)
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
        let events = totals
            .first()
            .and_then(|total| number(total.get("events")))
            .unwrap_or(0);
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
    let claim = claim_id();
    let lease = millis_from_now(settings.lease_ms);
    let claimed = claims::claim_due(tweets, lease, claim, settings.batch_size).await?;
    if claimed.is_empty() {
        return Ok(false);
    }
    let claimed = claimed
        .iter()
        .filter_map(|d| Claimed::of(d, claim))
        .collect();
    work_all(tweets, settings, receivers, claimed).await?;
    Ok(true)
}

/// Claims the nudged tweets whose events are still due.
async fn claim_nudged(
    tweets: &Collection<Document>,
    settings: &OutboxSettings,
    nudged: Vec<i64>,
) -> mongodb::error::Result<Vec<Claimed>> {
    let claim = claim_id();
    let lease = millis_from_now(settings.lease_ms);
    let claimed = claims::claim_ids(tweets, &nudged, lease, claim).await?;
    Ok(claimed
        .iter()
        .filter_map(|d| Claimed::of(d, claim))
        .collect())
}

/// Delivers the claimed tweets' events, then records how each went. The timeline's events
/// of every claimed tweet go in ApplyTweetEvents calls, one sequence per tweet; svc-user's
/// tweet counts in a call each, several tweets at once. Each tweet's events reach each
/// receiver in the order they were written, and one to retry holds back the rest of its
/// tweet's events for that receiver.
async fn work_all(
    tweets: &Collection<Document>,
    settings: &OutboxSettings,
    receivers: &Receivers,
    claimed: Vec<Claimed>,
) -> mongodb::error::Result<()> {
    if claimed.is_empty() {
        return Ok(());
    }
    let (timeline, counts) = tokio::join!(
        deliver_to_timelines(receivers, &claimed),
        deliver_counts(receivers, &claimed),
    );
    let worked = claimed
        .into_iter()
        .zip(timeline.into_iter().zip(counts))
        .map(|(tweet, (timeline, counts))| tweet.settle(settings, timeline, counts))
        .collect();
    settlement::record(tweets, worked).await
}

/// A claimed tweet's pending events, in the order they were written, by receiver.
struct Claimed {
    id: i64,
    /// The claim it carries: its pass's, or this process's birth claim.
    claim: i64,
    events_when_claimed: i64,
    timeline: Vec<(String, PendingEvent)>,
    counts: Vec<(String, PendingEvent)>,
}

impl Claimed {
    /// A document read back with `claim` on it.
    fn of(document: &Document, claim: i64) -> Option<Self> {
        let outbox = document.get_document("outbox").ok();
        Some(Self::new(
            document.get_i64("_id").ok()?,
            claim,
            // -1 (no count read) never equals a pass's settled events: recorded one by one.
            number(document.get("outbox_count")).unwrap_or(-1),
            outbox.map(pending_events).unwrap_or_default(),
        ))
    }

    /// A new tweet as this process wrote it, with the birth `claim`.
    fn born(tweet: &TweetDoc, claim: i64) -> Self {
        let events = pending_events(&tweet.outbox);
        Self::new(tweet.id, claim, tweet.outbox_count, events)
    }

    fn new(id: i64, claim: i64, events: i64, pending: Vec<(String, PendingEvent)>) -> Self {
        let (timeline, counts) = pending
            .into_iter()
            .partition(|(_, event)| event.target == Target::Timeline);
        Self {
            id,
            claim,
            events_when_claimed: events,
            timeline,
            counts,
        }
    }

    /// The update that records what became of the events tried, each receiver's in order.
    fn settle(self, settings: &OutboxSettings, timeline: Outcomes, counts: Outcomes) -> Worked {
        let mut settlement = Settlement::default();
        for (events, outcomes) in [(&self.timeline, timeline), (&self.counts, counts)] {
            for ((key, event), outcome) in events.iter().zip(outcomes) {
                let name = format!("{}/{key}", self.id);
                match outcome {
                    Ok(()) => settlement.delivered(key, event),
                    Err(DeliveryError::Rejected(reason)) => {
                        delivery::record_rejected(event.target.topic(), &name, &reason);
                        settlement.rejected(key, event, reason);
                    }
                    Err(DeliveryError::Retry(reason)) => {
                        let attempts = event.attempts + 1;
                        let topic = event.target.topic();
                        delivery::record_retry(topic, &name, i64::from(attempts), &reason);
                        settlement.retry_later(key, settings.backoff(attempts));
                        break;
                    }
                }
            }
        }
        Worked {
            id: self.id,
            claim: self.claim,
            events_when_claimed: self.events_when_claimed,
            settlement,
        }
    }
}

/// Every claimed tweet's timeline events, in ApplyTweetEvents calls.
async fn deliver_to_timelines(receivers: &Receivers, claimed: &[Claimed]) -> Vec<Outcomes> {
    let sendable = claimed
        .iter()
        .map(|tweet| Sendable::up_to_refusal(&tweet.timeline, tweet_event))
        .collect();
    delivery::deliver_in_calls(
        sendable,
        |sequences| {
            let mut timelines = receivers.timelines.clone();
            let sequences = sequences
                .into_iter()
                .map(|events| TweetEventSequence { events })
                .collect();
            async move {
                let reply = timelines
                    .apply_tweet_events(ApplyTweetEventsRequest { sequences })
                    .await?;
                Ok(delivery::batch_outcomes(reply.into_inner()))
            }
        },
        |event| {
            let mut timelines = receivers.timelines.clone();
            async move { timelines.apply_tweet_event(event).await.map(|_| ()) }
        },
    )
    .await
}

/// A pending timeline event as the message svc-timeline takes.
fn tweet_event((_, event): &(String, PendingEvent)) -> Result<TweetEvent, DeliveryError> {
    TweetEvent::decode(event.payload.bytes.as_slice()).map_err(DeliveryError::undecodable)
}

/// Every claimed tweet's tweet-count events, a call each: several tweets at once, each
/// tweet's in order up to the first to retry.
async fn deliver_counts(receivers: &Receivers, claimed: &[Claimed]) -> Vec<Outcomes> {
    // Owned, not borrowed, items: a stream over references trips the compiler's check that
    // the relay's future is Send.
    let counts: Vec<Vec<PendingEvent>> = claimed
        .iter()
        .map(|tweet| {
            tweet
                .counts
                .iter()
                .map(|(_, event)| event.clone())
                .collect()
        })
        .collect();
    stream::iter(counts)
        .map(|events| delivery::in_order(events, |event| deliver_count(receivers, event)))
        .buffered(TWEETS_AT_ONCE)
        .collect()
        .await
}

/// A count as MongoDB stores or sums it: an int32, an int64 or a double.
fn number(value: Option<&bson::Bson>) -> Option<i64> {
    match value? {
        bson::Bson::Int32(n) => Some(i64::from(*n)),
        bson::Bson::Int64(n) => Some(*n),
        bson::Bson::Double(n) => Some(*n as i64),
        _ => None,
    }
}

async fn deliver_count(receivers: &Receivers, event: PendingEvent) -> Result<(), DeliveryError> {
    let payload = event.payload.bytes.as_slice();
    let message =
        ApplyTweetCountEventRequest::decode(payload).map_err(DeliveryError::undecodable)?;
    receivers
        .users
        .clone()
        .apply_tweet_count_event(message)
        .await
        .map(|_| ())
        .map_err(DeliveryError::from)
}
