//! Claiming tweets for one pass of the relay: a lease and this pass's claim id set on a batch
//! of tweets in one update, and the claimed documents read back in one query, however many
//! there are.

use futures_util::TryStreamExt;
use mongodb::{
    Collection,
    bson::{DateTime, Document, doc},
};

/// Tweets with events waiting whose lease, if any, has expired.
pub(super) fn due() -> Document {
    doc! {
        "outbox_count": { "$gt": 0 },
        "$or": [
            { "outbox_lease_until": null },
            { "outbox_lease_until": { "$lt": DateTime::now() } },
        ],
    }
}

/// An id no other pass of any relay uses: its claim on the documents it leased.
pub(super) fn claim_id() -> i64 {
    use std::sync::atomic::{AtomicI64, Ordering};
    static NEXT: AtomicI64 = AtomicI64::new(0);
    // The process id and the time it started make it unique across replicas and restarts.
    static BASE: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    let base = *BASE.get_or_init(|| {
        (i64::from(std::process::id()) << 40) ^ DateTime::now().timestamp_millis() << 8
    });
    base ^ NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Up to `limit` tweets with due events, claimed until `lease`.
pub(super) async fn claim_due(
    tweets: &Collection<Document>,
    lease: DateTime,
    claim: i64,
    limit: i64,
) -> mongodb::error::Result<Vec<Document>> {
    let candidates: Vec<Document> = tweets
        .find(due())
        .projection(doc! { "_id": 1 })
        .limit(limit.max(1))
        .await?
        .try_collect()
        .await?;
    let ids: Vec<i64> = candidates
        .iter()
        .filter_map(|c| c.get_i64("_id").ok())
        .collect();
    claim_ids(tweets, &ids, lease, claim).await
}

/// Claims those of `ids` whose events are still due until `lease`, and reads them back. The
/// claim checks again that each is due (another replica may have claimed it in between, or
/// delivered it), and only the documents carrying `claim` afterwards are ours.
pub(super) async fn claim_ids(
    tweets: &Collection<Document>,
    ids: &[i64],
    lease: DateTime,
    claim: i64,
) -> mongodb::error::Result<Vec<Document>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut filter = due();
    filter.insert("_id", doc! { "$in": ids });
    tweets
        .update_many(
            filter,
            doc! { "$set": { "outbox_lease_until": lease, "outbox_claim": claim } },
        )
        .await?;
    tweets
        .find(doc! { "_id": { "$in": ids }, "outbox_claim": claim })
        .await?
        .try_collect()
        .await
}
