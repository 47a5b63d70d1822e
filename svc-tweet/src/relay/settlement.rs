//! What a pass of the relay does to its claimed tweets' outboxes: each tweet's pending events
//! in the order they were written, and the updates that record how each went.

use std::{collections::BTreeMap, time::Duration};

use mongodb::{
    Collection,
    bson::{self, DateTime, Document, doc},
};
use xir_common::delivery;

use super::millis_from_now;
use crate::store::PendingEvent;

/// A claimed tweet's pending events (its `outbox`) in the order they were written (their keys
/// are time-ordered ids); an entry that does not parse is left where it is.
pub(super) fn pending_events(outbox: &Document) -> Vec<(String, PendingEvent)> {
    let mut pending: Vec<(i64, String, PendingEvent)> = outbox
        .iter()
        .filter_map(|(key, value)| {
            let event: PendingEvent = bson::from_bson(value.clone()).ok()?;
            Some((key.parse::<i64>().unwrap_or(i64::MAX), key.clone(), event))
        })
        .collect();
    pending.sort_by_key(|(order, _, _)| *order);
    pending
        .into_iter()
        .map(|(_, key, event)| (key, event))
        .collect()
}

/// What one pass did to a tweet's outbox, as the single update that records it: delivered and
/// refused events leave the outbox (refused ones kept in `outbox_rejected` with the reason), a
/// failed one counts an attempt and holds the lease until its retry.
#[derive(Default)]
pub(super) struct Settlement {
    unset: Document,
    set: Document,
    inc: Document,
    settled: i64,
}

impl Settlement {
    pub(super) fn delivered(&mut self, key: &str, event: &PendingEvent) {
        self.unset.insert(format!("outbox.{key}"), "");
        self.settled += 1;
        let lag_ms =
            (DateTime::now().timestamp_millis() - event.created_at.timestamp_millis()).max(0);
        delivery::record_delivered(event.target.topic(), Duration::from_millis(lag_ms as u64));
    }

    pub(super) fn rejected(&mut self, key: &str, event: &PendingEvent, reason: String) {
        self.unset.insert(format!("outbox.{key}"), "");
        self.set.insert(
            format!("outbox_rejected.{key}"),
            doc! { "reason": reason, "event": bson::to_bson(event).unwrap_or_default() },
        );
        self.settled += 1;
    }

    pub(super) fn retry_later(&mut self, key: &str, backoff: Duration) {
        self.inc.insert(format!("outbox.{key}.attempts"), 1);
        self.set.insert(
            "outbox_lease_until",
            millis_from_now(backoff.as_millis() as u64),
        );
    }

    /// Whether this pass delivered every one of the tweet's `events`, with nothing left to
    /// retry or to keep aside as refused: its outbox can simply be emptied.
    pub(super) fn settles_all(&self, events: i64) -> bool {
        events > 0 && self.settled == events && self.set.is_empty() && self.inc.is_empty()
    }

    pub(super) fn into_update(mut self) -> Document {
        // Released now unless a retry holds it.
        if !self.set.contains_key("outbox_lease_until") {
            self.set.insert("outbox_lease_until", bson::Bson::Null);
        }
        if self.settled > 0 {
            self.inc.insert("outbox_count", -self.settled);
        }
        let mut update = doc! { "$set": self.set };
        if !self.unset.is_empty() {
            update.insert("$unset", self.unset);
        }
        if !self.inc.is_empty() {
            update.insert("$inc", self.inc);
        }
        update
    }
}

/// One claimed tweet after its events were worked.
pub(super) struct Worked {
    pub id: i64,
    /// The claim it was worked under: the settlement holds only while the tweet still has it.
    pub claim: i64,
    /// Its `outbox_count` as claimed.
    pub events_when_claimed: i64,
    pub settlement: Settlement,
}

/// Records the pass's outcome. The usual outcome, every event of a tweet delivered, takes one
/// update for all such tweets with the same claim and number of events: its outbox is emptied where the
/// count is still what was claimed (no event was added meanwhile, since every write that adds
/// one counts it). The others, and any that gained an event meanwhile, take an update each.
/// Every update holds only while the claim is still ours: past the lease another pass may
/// have claimed the tweet.
pub(super) async fn record(
    tweets: &Collection<Document>,
    worked: Vec<Worked>,
) -> mongodb::error::Result<()> {
    let mut complete: BTreeMap<(i64, i64), Vec<Worked>> = BTreeMap::new();
    // Each with whether the group update may have emptied it already.
    let mut one_by_one: Vec<(Worked, bool)> = Vec::new();
    for tweet in worked {
        if tweet.settlement.settles_all(tweet.events_when_claimed) {
            complete
                .entry((tweet.claim, tweet.events_when_claimed))
                .or_default()
                .push(tweet);
        } else {
            one_by_one.push((tweet, false));
        }
    }
    for ((claim, events), group) in complete {
        let ids: Vec<i64> = group.iter().map(|tweet| tweet.id).collect();
        let emptied = tweets
            .update_many(
                doc! { "_id": { "$in": &ids }, "outbox_claim": claim, "outbox_count": events },
                doc! {
                    "$set": { "outbox": {}, "outbox_count": 0_i64, "outbox_lease_until": bson::Bson::Null },
                    "$unset": { "outbox_claim": "" },
                },
            )
            .await?;
        if emptied.modified_count < ids.len() as u64 {
            // Those emptied no longer carry the claim, so only the rest match below.
            one_by_one.extend(group.into_iter().map(|tweet| (tweet, true)));
        }
    }
    for (tweet, maybe_emptied) in one_by_one {
        let outcome = tweets
            .update_one(
                doc! { "_id": tweet.id, "outbox_claim": tweet.claim },
                tweet.settlement.into_update(),
            )
            .await?;
        if outcome.matched_count == 0 && !maybe_emptied {
            tracing::warn!(
                tweet_id = tweet.id,
                "outbox lease expired before the relay finished; events may be delivered again"
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Target;

    fn event(target: Target) -> PendingEvent {
        PendingEvent::new(target, vec![1, 2, 3])
    }

    #[test]
    fn events_come_in_the_order_they_were_written() {
        let outbox = doc! {
            "30": bson::to_bson(&event(Target::Timeline)).unwrap(),
            "4": bson::to_bson(&event(Target::UserTweetCount)).unwrap(),
            "not an event": 7,
        };
        let keys: Vec<String> = pending_events(&outbox)
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(keys, ["4", "30"]);
    }

    #[test]
    fn a_pass_that_delivers_all_releases_the_lease_and_empties_the_outbox() {
        let mut settlement = Settlement::default();
        settlement.delivered("4", &event(Target::UserTweetCount));
        settlement.rejected("5", &event(Target::Timeline), "invalid".into());
        let update = settlement.into_update();
        assert_eq!(
            update
                .get_document("$set")
                .unwrap()
                .get("outbox_lease_until"),
            Some(&bson::Bson::Null)
        );
        assert!(
            update
                .get_document("$set")
                .unwrap()
                .contains_key("outbox_rejected.5")
        );
        let unset = update.get_document("$unset").unwrap();
        assert!(unset.contains_key("outbox.4") && unset.contains_key("outbox.5"));
        assert_eq!(
            update.get_document("$inc").unwrap().get_i64("outbox_count"),
            Ok(-2)
        );
    }

    #[test]
    fn a_failed_delivery_counts_an_attempt_and_holds_the_lease_until_its_retry() {
        let mut settlement = Settlement::default();
        settlement.retry_later("6", Duration::from_secs(60));
        let update = settlement.into_update();
        let lease = update
            .get_document("$set")
            .unwrap()
            .get_datetime("outbox_lease_until");
        assert!(lease.is_ok_and(|until| *until > DateTime::now()));
        let inc = update.get_document("$inc").unwrap();
        assert_eq!(inc.get_i32("outbox.6.attempts"), Ok(1));
        assert!(!inc.contains_key("outbox_count"));
        assert!(!update.contains_key("$unset"));
    }

    #[test]
    fn only_a_pass_that_delivered_every_event_claimed_empties_the_outbox_whole() {
        let mut delivered = Settlement::default();
        delivered.delivered("4", &event(Target::UserTweetCount));
        delivered.delivered("5", &event(Target::Timeline));
        assert!(delivered.settles_all(2));
        assert!(!delivered.settles_all(3), "an event it did not read stays");

        let mut refused = Settlement::default();
        refused.delivered("4", &event(Target::UserTweetCount));
        refused.rejected("5", &event(Target::Timeline), "invalid".into());
        assert!(!refused.settles_all(2), "a refused event is kept aside");

        let mut retried = Settlement::default();
        retried.delivered("4", &event(Target::UserTweetCount));
        retried.retry_later("5", Duration::from_secs(1));
        assert!(!retried.settles_all(2));
    }
}
