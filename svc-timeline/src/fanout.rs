//! Writing home-timeline entries: fan-out of a new tweet or repost to the author's followers
//! (streamed from svc-user in batches, unordered bulk inserts, duplicates ignored), the
//! follow backfill, removals, and trimming each timeline to its cap.

use std::time::Instant;

use futures_util::TryStreamExt;
use mongodb::{Collection, bson::doc, options::InsertManyOptions};
use tokio_stream::StreamExt;
use xir_common::{errors::During, peer::PeerChannel};
use xir_proto::user::v1::{
    BatchGetProfilesRequest, ListFollowerIdsRequest, user_service_client::UserServiceClient,
};

use crate::{
    config::FanoutSettings,
    error::Error,
    store::{self, EntryDoc},
};

pub const ENTRIES_WRITTEN: &str = "timeline_entries_written_total";
pub const FANOUT_SECONDS: &str = "timeline_fanout_seconds";
pub const FANOUT_SKIPPED: &str = "timeline_fanout_skipped_total";

/// One timeline entry: `item_id` orders the timeline (the tweet's id, or the repost's).
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    pub item_id: i64,
    pub tweet_id: i64,
    /// Whose follow brought it here: the author, or the reposter for a repost.
    pub author_id: i64,
    /// The reposter; 0 for an original tweet.
    pub reposted_by: i64,
}

impl Entry {
    fn document(&self, owner: i64) -> EntryDoc {
        EntryDoc {
            owner_id: owner,
            item_id: self.item_id,
            tweet_id: self.tweet_id,
            author_id: self.author_id,
            reposted_by: self.reposted_by,
        }
    }
}

pub struct Fanout {
    pub entries: Collection<EntryDoc>,
    pub users: UserServiceClient<PeerChannel>,
    pub settings: FanoutSettings,
}

impl Fanout {
    /// Writes `entry` into `owners`' timelines; an entry already there is left alone.
    #[tracing::instrument(skip_all, fields(owners = owners.len()))]
    pub async fn insert(&self, owners: &[i64], entry: Entry) -> Result<u64, Error> {
        if owners.is_empty() {
            return Ok(0);
        }
        let documents: Vec<EntryDoc> = owners.iter().map(|&owner| entry.document(owner)).collect();
        let written = match self
            .entries
            .insert_many(documents)
            .with_options(InsertManyOptions::builder().ordered(false).build())
            .await
        {
            Ok(result) => result.inserted_ids.len() as u64,
            Err(error) if store::is_duplicate(&error) => duplicates_written(&error, owners.len()),
            Err(error) => return Err(Err(error).during("insert timeline entries")?),
        };
        metrics::counter!(ENTRIES_WRITTEN).increment(written);
        // Trim a sample of the timelines each time (amortised: every timeline is trimmed about
        // once per 16 entries it receives), so none grows far past the cap.
        for &owner in owners
            .iter()
            .filter(|&&owner| (owner ^ entry.item_id) % 16 == 0)
        {
            self.trim(owner).await?;
        }
        Ok(written)
    }

    /// The author's own timeline and, unless the author is above the celebrity threshold,
    /// every follower's. Returns the number of timelines written.
    #[tracing::instrument(skip_all)]
    pub async fn fan_out(&self, entry: Entry, created_at_ms: u64) -> Result<u64, Error> {
        let started = Instant::now();
        self.insert(&[entry.author_id], entry).await?;
        let mut users = self.users.clone();
        let profile = users
            .batch_get_profiles(BatchGetProfilesRequest {
                user_ids: vec![entry.author_id],
            })
            .await
            .map_err(Error::Dependency)?
            .into_inner()
            .profiles
            .pop();
        if profile.is_some_and(|p| p.followers_count > self.settings.celebrity_followers) {
            metrics::counter!(FANOUT_SKIPPED).increment(1);
            return Ok(1); // merged at read time instead
        }
        let mut stream = users
            .list_follower_ids(ListFollowerIdsRequest {
                user_id: entry.author_id,
                batch_size: self.settings.batch_size,
            })
            .await
            .map_err(Error::Dependency)?
            .into_inner();
        let mut timelines = 1;
        while let Some(batch) = stream.next().await {
            let batch = batch.map_err(Error::Dependency)?;
            self.insert(&batch.follower_ids, entry).await?;
            timelines += batch.follower_ids.len() as u64;
        }
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        metrics::histogram!(FANOUT_SECONDS)
            .record(now_ms.saturating_sub(created_at_ms) as f64 / 1000.0);
        tracing::debug!(
            timelines,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "fanned out"
        );
        Ok(timelines)
    }

    /// Keeps the newest `timeline_cap` entries of `owner`'s timeline.
    #[tracing::instrument(skip_all)]
    pub async fn trim(&self, owner: i64) -> Result<(), Error> {
        let first_dropped: Vec<EntryDoc> = self
            .entries
            .find(doc! { "owner_id": owner })
            .sort(doc! { "item_id": -1 })
            .skip(self.settings.timeline_cap as u64)
            .limit(1)
            .await
            .during("find the timeline's cut")?
            .try_collect()
            .await
            .during("read the timeline's cut")?;
        if let Some(first_dropped) = first_dropped.first() {
            self.entries
                .delete_many(
                    doc! { "owner_id": owner, "item_id": { "$lte": first_dropped.item_id } },
                )
                .await
                .during("trim timeline")?;
        }
        Ok(())
    }
}

/// How many documents an unordered bulk insert wrote when some were duplicates.
fn duplicates_written(error: &mongodb::error::Error, attempted: usize) -> u64 {
    match error.kind.as_ref() {
        mongodb::error::ErrorKind::InsertMany(e) => {
            attempted.saturating_sub(e.write_errors.as_ref().map_or(0, Vec::len)) as u64
        }
        _ => 0,
    }
}
