//! The sweeper: completes likes and reposts whose request died before completing them (see
//! `reactions` for the steps), and drops the markers of settled changes.

use std::time::Duration;

use futures_util::TryStreamExt;
use mongodb::bson::{DateTime, Document, doc};
use tokio_util::sync::CancellationToken;
use xir_common::errors::{DbError, During};

use crate::{
    error::Error,
    reactions::{Reaction, Reactions},
};

const SWEEP_EVERY: Duration = Duration::from_secs(2);

impl Reactions {
    /// Completes reactions left pending (by a crash, or a request that lost its database) for
    /// longer than `abandoned_after`; returns how many.
    pub async fn sweep(&self, abandoned_after: Duration) -> Result<usize, Error> {
        let now = DateTime::now().timestamp_millis();
        let ms = abandoned_after.as_millis() as i64;
        let before = DateTime::from_millis(now - ms);
        let mut completed = 0;
        for reaction in [Reaction::Like, Reaction::Repost] {
            let collection = self.collection(reaction);
            let abandoned: Vec<Document> = collection
                .find(doc! { "pending.since": { "$lt": before } })
                .limit(100)
                .await
                .during("find abandoned reactions")?
                .try_collect()
                .await
                .during("read abandoned reactions")?;
            for stored in &abandoned {
                let Ok(event_id) = stored
                    .get_document("pending")
                    .and_then(|p| p.get_i64("event_id"))
                else {
                    continue;
                };
                let claimed = collection
                    .find_one_and_update(
                        doc! {
                            "_id": stored.get("_id").cloned(),
                            "pending.event_id": event_id,
                            "$or": [
                                { "pending.claimed_until": null },
                                { "pending.claimed_until": { "$lt": DateTime::now() } },
                            ],
                        },
                        doc! { "$set": {
                            "pending.claimed_until": DateTime::from_millis(now + ms),
                        } },
                    )
                    .return_document(mongodb::options::ReturnDocument::After)
                    .await
                    .during("claim abandoned reaction")?;
                let Some(claimed) = claimed else { continue };
                // Well inside the claim: past it another replica may complete this one too.
                match tokio::time::timeout(abandoned_after / 3, self.complete(reaction, &claimed))
                    .await
                {
                    Ok(result) => result?,
                    Err(_) => continue,
                }
                completed += 1;
            }
        }
        if completed > 0 {
            tracing::info!(completed, "completed interrupted likes and reposts");
        }
        self.drop_settled_markers().await?;
        Ok(completed)
    }

    /// Drops every queued marker (the sweeper's pass).
    pub async fn drop_settled_markers(&self) -> Result<(), Error> {
        let queued: Vec<(i64, Vec<String>)> = self
            .settled
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .drain()
            .collect();
        for (tweet_id, markers) in queued {
            let unset: Document = markers.iter().map(|m| (m.clone(), "".into())).collect();
            if let Err(error) = self
                .tweets
                .update_one(doc! { "_id": tweet_id }, doc! { "$unset": unset })
                .await
            {
                self.queue_settled(tweet_id, markers);
                return Err(Error::from(DbError {
                    operation: "drop settled markers",
                    source: error,
                }));
            }
        }
        Ok(())
    }
}

/// Sweeps every few seconds until `stop` is cancelled, completing reactions pending for longer
/// than `abandoned_after` (three request timeouts).
pub fn spawn(
    reactions: Reactions,
    abandoned_after: Duration,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if let Err(error) = reactions.sweep(abandoned_after).await {
                tracing::warn!(
                    error = &error as &dyn std::error::Error,
                    "cannot complete pending likes and reposts now"
                );
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(SWEEP_EVERY) => {}
            }
        }
    })
}
