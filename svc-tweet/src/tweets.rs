//! svc-tweet's state and the two writes every tweet change goes through: an update of one
//! live tweet document with its outbox events, and a counter step that never goes below zero.

use std::sync::Arc;

use mongodb::{
    Collection, Database,
    bson::{Document, doc},
    options::{FindOneAndUpdateOptions, ReturnDocument},
};
use xir_common::{
    cpu::CpuPool, errors::During, ids::IdGenerator, peer::PeerChannel, rate::PerUserLimit,
    request::MAX_BATCH,
};
use xir_proto::user::v1::{ResolveUsernamesRequest, user_service_client::UserServiceClient};

use crate::{
    changes::Changes,
    error::Error,
    reactions::Reactions,
    store::{self, IdempotencyDoc, MentionDoc, PendingEvent, RepostDoc, TweetDoc, outbox_push},
};

pub struct Tweets {
    pub(crate) tweets: Collection<TweetDoc>,
    pub(crate) raw_tweets: Collection<Document>,
    pub(crate) likes: Collection<Document>,
    pub(crate) reposts: Collection<RepostDoc>,
    /// Likes and reposts with their counters, crash-safe.
    pub(crate) reactions: Reactions,
    pub(crate) keys: Collection<IdempotencyDoc>,
    pub(crate) ids: Arc<IdGenerator>,
    pub(crate) users: UserServiceClient<PeerChannel>,
    /// Text parsing runs here, off the async workers and bounded.
    pub(crate) cpu: CpuPool,
    /// Likes, reposts and mentions notify somebody: one user may make so many.
    pub(crate) notifying: PerUserLimit,
    /// Told of every tweet written (the relay and the cache).
    pub(crate) changes: Changes,
}

impl Tweets {
    pub fn new(
        database: &Database,
        ids: Arc<IdGenerator>,
        users: UserServiceClient<PeerChannel>,
        cpu: CpuPool,
        notifying: PerUserLimit,
        changes: Changes,
    ) -> Self {
        Self {
            tweets: database.collection(store::TWEETS),
            raw_tweets: database.collection(store::TWEETS),
            likes: database.collection(store::LIKES),
            reposts: database.collection(store::REPOSTS),
            reactions: Reactions::new(database, changes.clone()),
            keys: database.collection(store::IDEMPOTENCY_KEYS),
            ids,
            users,
            cpu,
            notifying,
            changes,
        }
    }

    /// Likes and reposts as this service writes them (shared with the sweeper).
    pub fn reactions(&self) -> Reactions {
        self.reactions.clone()
    }

    /// Refuses a write that notifies somebody when `user` has made too many lately.
    pub(crate) fn check_notifying(&self, user: i64) -> Result<(), Error> {
        self.notifying
            .check(user)
            .map_err(|limited| Error::Refused(limited.into()))
    }

    /// Applies `update` (plus the outbox `events`) to a live tweet and returns it as it is now.
    #[tracing::instrument(skip_all, fields(tweet_id = id))]
    pub(crate) async fn update_tweet(
        &self,
        id: i64,
        filter: Document,
        mut update: Document,
        events: &[(String, PendingEvent)],
    ) -> Result<Option<TweetDoc>, Error> {
        if !events.is_empty() {
            let (set, count) = outbox_push(events);
            let mut current_set = update.get_document("$set").cloned().unwrap_or_default();
            current_set.extend(set);
            update.insert("$set", current_set);
            let mut inc = update.get_document("$inc").cloned().unwrap_or_default();
            inc.insert("outbox_count", count);
            update.insert("$inc", inc);
        }
        // No projection: FerretDB's findAndModify does not take one.
        let options = FindOneAndUpdateOptions::builder()
            .return_document(ReturnDocument::After)
            .build();
        let updated = self
            .tweets
            .find_one_and_update(filter, update)
            .with_options(options)
            .await
            .during("update tweet")?;
        if updated.is_some() {
            self.changes.tweet_changed(id, !events.is_empty()).await;
        }
        Ok(updated)
    }

    /// Moves a counter of a live tweet by `delta`, never below zero, with `events` attached.
    pub(crate) async fn bump(
        &self,
        id: i64,
        counter: &str,
        delta: i64,
        events: &[(String, PendingEvent)],
    ) -> Result<Option<TweetDoc>, Error> {
        let mut filter = store::live();
        filter.insert("_id", id);
        if delta < 0 {
            filter.insert(counter, doc! { "$gt": 0 });
        }
        self.update_tweet(id, filter, doc! { "$inc": { counter: delta } }, events)
            .await
    }

    /// Resolves `@names` to users in one batched call; names nobody has stay plain text.
    pub(crate) async fn resolve_mentions(
        &self,
        names: &[String],
    ) -> Result<Vec<MentionDoc>, Error> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let names: Vec<String> = names.iter().take(MAX_BATCH).cloned().collect();
        let profiles = self
            .users
            .clone()
            .resolve_usernames(ResolveUsernamesRequest {
                usernames: names.clone(),
            })
            .await
            .map_err(Error::Dependency)?
            .into_inner()
            .profiles;
        Ok(names
            .iter()
            .filter_map(|name| {
                profiles
                    .iter()
                    .find(|p| p.username.eq_ignore_ascii_case(name))
                    .map(|p| MentionDoc {
                        user_id: p.user_id,
                        username: name.clone(),
                    })
            })
            .collect())
    }
}
