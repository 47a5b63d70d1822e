//! The follow graph: follows and unfollows (the edge, both counts and the outbox event in one
//! transaction), relationships, and the follower lists, paged or streamed.

use prost::Message;
use tokio::sync::mpsc;
use tonic::Status;
use xir_common::{errors::During, outbox, request::timestamp};
use xir_proto::{timeline::v1::FollowEvent, user::v1 as pb};

use crate::{
    db::{self, Direction, ListedProfile},
    domain::{Cursor, PageLimit, UserId},
    error::Error,
    profiles::Users,
};

/// The outbox topic whose events become svc-timeline's ApplyFollowEvent calls.
pub const FOLLOW_TOPIC: &str = "timeline.follow";

/// A page of listed profiles and the cursor of the next page ("" on the last).
fn page(rows: Vec<ListedProfile>, limit: PageLimit) -> (Vec<pb::Profile>, String) {
    let (rows, next) = limit.cut(rows, |last| Cursor::after(last.seq).encode());
    (
        rows.into_iter().map(|row| row.profile.into()).collect(),
        next.unwrap_or_default(),
    )
}

impl Users {
    /// One page of a user's followers or followings and the cursor of the next.
    pub async fn list(
        &self,
        direction: Direction,
        user: UserId,
        limit: PageLimit,
        cursor: Option<Cursor>,
    ) -> Result<(Vec<pb::Profile>, String), Error> {
        let rows = db::list_page(
            &self.pool,
            direction,
            user,
            cursor.map(Cursor::seq),
            limit.probe(),
        )
        .await
        .during("list a page of the graph")?;
        Ok(page(rows, limit))
    }

    /// How `viewer` and each of `others` follow one another, in the order of `others`.
    pub async fn relationships(
        &self,
        viewer: UserId,
        others: &[UserId],
    ) -> Result<Vec<pb::Relationship>, Error> {
        let ids: Vec<i64> = others.iter().map(|id| id.get()).collect();
        let (following, followed_by) = db::relationships(&self.pool, viewer, &ids)
            .await
            .during("read relationships")?;
        Ok(ids
            .into_iter()
            .map(|id| pb::Relationship {
                user_id: id,
                following: following.contains(&id),
                followed_by: followed_by.contains(&id),
            })
            .collect())
    }

    /// Follows (`follow`) or unfollows `followee` and answers the relationship as it is now.
    pub async fn change_edge(
        &self,
        follower: UserId,
        followee: UserId,
        follow: bool,
    ) -> Result<pb::Relationship, Error> {
        if follower == followee {
            return Err(xir_common::errors::FieldViolations::single(
                "user_id",
                "you cannot follow yourself",
            )
            .into());
        }
        if follow {
            self.notifying
                .check(follower.get())
                .map_err(|limited| Error::Refused(limited.into()))?;
        }
        let mut tx = self.pool.begin().await.during("begin follow change")?;
        let present = db::lock_profiles(&mut tx, [follower, followee])
            .await
            .during("lock both profiles")?;
        if !present.contains(&followee.get()) {
            return Err(Error::NotFound("user"));
        }
        if !present.contains(&follower.get()) {
            return Err(Error::FailedPrecondition(
                "your profile is still being created; try again shortly",
            ));
        }
        let changed = if follow {
            db::insert_follow(&mut tx, follower, followee).await
        } else {
            db::delete_follow(&mut tx, follower, followee).await
        }
        .during("write follow edge")?;
        if changed {
            db::adjust_follow_counts(&mut tx, follower, followee, if follow { 1 } else { -1 })
                .await
                .during("adjust follow counts")?;
            let event = FollowEvent {
                event_id: String::new(), // the relay names it after the outbox row
                occurred_at: Some(timestamp(chrono::Utc::now())),
                follower_id: follower.get(),
                followee_id: followee.get(),
                following: follow,
            };
            // Keyed by the follower: the timeline a follow or an unfollow changes.
            let key = follower.get().to_string();
            outbox::enqueue(&mut tx, FOLLOW_TOPIC, &key, &event.encode_to_vec())
                .await
                .during("queue follow event")?;
        }
        tx.commit().await.during("commit follow change")?;
        let mut relationship = self.relationships(follower, &[followee]).await?;
        Ok(relationship.pop().unwrap_or_default())
    }

    /// Sends every follower id of `user` in keyset batches: one short query per batch, at most
    /// `batch` ids held at a time, and the bounded channel makes a slow reader slow the reads
    /// down instead of filling memory.
    pub fn stream_follower_ids(
        &self,
        user: UserId,
        batch: PageLimit,
    ) -> mpsc::Receiver<Result<pb::FollowerIdBatch, Status>> {
        let (sender, receiver) = mpsc::channel(2);
        let pool = self.pool.clone();
        tokio::spawn(async move {
            let mut before = None;
            loop {
                let rows = match db::follower_ids(&pool, user, before, i64::from(batch.get()))
                    .await
                    .during("read a batch of follower ids")
                {
                    Ok(rows) => rows,
                    Err(error) => {
                        let _ = sender.send(Err(Error::from(error).into())).await;
                        return;
                    }
                };
                let Some(&(last_seq, _)) = rows.last() else {
                    return;
                };
                let full = rows.len() == batch.get() as usize;
                before = Some(last_seq);
                let message = pb::FollowerIdBatch {
                    follower_ids: rows.into_iter().map(|(_, id)| id).collect(),
                };
                if sender.send(Ok(message)).await.is_err() || !full {
                    return; // the caller went away, or that was the last batch
                }
            }
        });
        receiver
    }

    /// The users `user` follows that have at least `min_followers` followers.
    pub async fn following_ids(&self, user: UserId, min_followers: i64) -> Result<Vec<i64>, Error> {
        Ok(db::following_ids(&self.pool, user, min_followers)
            .await
            .during("read following ids")?)
    }
}
