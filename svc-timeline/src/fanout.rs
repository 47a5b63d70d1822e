//! Writing home-timeline entries: fan-out of a new tweet or repost to the author's own
//! timeline and their followers' (streamed from svc-user in batches, written to Redis in
//! pipelined batches), and taking an entry back out of the same timelines.

use std::{sync::Arc, time::Instant};

use tokio_stream::StreamExt;
use xir_common::peer::PeerChannel;
use xir_proto::user::v1::{
    BatchGetProfilesRequest, ListFollowerIdsRequest, user_service_client::UserServiceClient,
};

use crate::{config::FanoutSettings, error::Error, homes::HomeTimelines};

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

/// What to do to every timeline an entry reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Write {
    Insert,
    Remove,
}

pub struct Fanout {
    pub homes: Arc<HomeTimelines>,
    pub users: UserServiceClient<PeerChannel>,
    pub settings: FanoutSettings,
}

impl Fanout {
    /// Writes `entry` into the timelines of `owners` that exist; an entry already there is
    /// left alone.
    pub async fn insert(&self, owners: &[i64], entry: Entry) -> Result<u64, Error> {
        let written = self.homes.insert(owners, entry).await?;
        metrics::counter!(ENTRIES_WRITTEN).increment(written);
        Ok(written)
    }

    /// The author's own timeline and, unless the author is above the celebrity threshold,
    /// every follower's. Returns the number of timelines reached.
    #[tracing::instrument(skip_all)]
    pub async fn fan_out(&self, entry: Entry, created_at_ms: u64) -> Result<u64, Error> {
        let started = Instant::now();
        let timelines = self.reach(entry, Write::Insert).await?;
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

    /// Takes `entry` out of the timelines its fan-out wrote it to.
    #[tracing::instrument(skip_all)]
    pub async fn withdraw(&self, entry: Entry) -> Result<u64, Error> {
        self.reach(entry, Write::Remove).await
    }

    /// Applies `write` to the author's timeline and, unless they are a celebrity (merged at
    /// read time instead), to each batch of their followers'.
    async fn reach(&self, entry: Entry, write: Write) -> Result<u64, Error> {
        self.write(&[entry.author_id], entry, write).await?;
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
            if write == Write::Insert {
                metrics::counter!(FANOUT_SKIPPED).increment(1);
            }
            return Ok(1);
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
            self.write(&batch.follower_ids, entry, write).await?;
            timelines += batch.follower_ids.len() as u64;
        }
        Ok(timelines)
    }

    async fn write(&self, owners: &[i64], entry: Entry, write: Write) -> Result<(), Error> {
        match write {
            Write::Insert => self.insert(owners, entry).await.map(drop),
            Write::Remove => self.homes.remove(owners, entry).await,
        }
    }
}
