//! The tonic service: parse the request into domain values, read and write the collections,
//! map back. Every write that others must hear about puts its events in the tweet document's
//! outbox in the same single-document update (see `store` and `relay`).

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
};

use futures_util::TryStreamExt;
use mongodb::{
    Collection, Database,
    bson::{DateTime, Document, doc},
    options::{FindOneAndUpdateOptions, ReturnDocument},
};
use tonic::{Request, Response, Status};
use xir_common::{
    auth, cpu::CpuPool, errors::FieldViolations, ids::IdGenerator, mongo::id_range,
    peer::PeerChannel, rate::PerUserLimit,
};
use xir_proto::{
    timeline::v1::{self as events, tweet_event::Kind},
    tweet::v1::{self as pb, tweet_service_server::TweetService},
    user::v1::{ResolveUsernamesRequest, user_service_client::UserServiceClient},
};

use crate::{
    compose::{self, NewTweet},
    domain::{IdempotencyKey, PageLimit, TweetId, TweetText, UserId, normalise_hashtag},
    error::Error,
    idempotency::Claim,
    reactions::{self, Reaction, Reactions},
    reads::{ViewerStates, dedup, to_proto, with_range},
    store::{self, IdempotencyDoc, MentionDoc, PendingEvent, RepostDoc, TweetDoc, outbox_push},
};

/// Most ids one batch request carries.
const MAX_BATCH: usize = 100;

pub struct TweetApi {
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
}

fn field<T, E: std::fmt::Display>(name: &str, result: Result<T, E>) -> Result<T, Error> {
    result.map_err(|error| Error::from(FieldViolations::single(name, error.to_string())))
}

fn me<T>(request: &Request<T>) -> Result<UserId, Status> {
    let caller = auth::caller(request)?;
    UserId::parse(caller.user_id).map_err(|_| Status::unauthenticated("invalid caller"))
}

fn viewer_of<T>(request: &Request<T>) -> Option<UserId> {
    auth::viewer(request).and_then(|caller| UserId::parse(caller.user_id).ok())
}

/// Batch ids: at most 100, positive, duplicates dropped, order kept.
fn batch_ids(name: &str, raw: &[i64]) -> Result<Vec<i64>, Error> {
    if raw.len() > MAX_BATCH {
        return Err(FieldViolations::single(name, format!("at most {MAX_BATCH} ids")).into());
    }
    let mut seen = HashSet::new();
    let mut ids = Vec::with_capacity(raw.len());
    for &id in raw {
        field(name, TweetId::parse(id))?;
        if seen.insert(id) {
            ids.push(id);
        }
    }
    Ok(ids)
}

impl TweetApi {
    pub fn new(
        database: &Database,
        ids: Arc<IdGenerator>,
        users: UserServiceClient<PeerChannel>,
        cpu: CpuPool,
        notifying: PerUserLimit,
    ) -> Self {
        Self {
            tweets: database.collection(store::TWEETS),
            raw_tweets: database.collection(store::TWEETS),
            likes: database.collection(store::LIKES),
            reposts: database.collection(store::REPOSTS),
            reactions: Reactions::new(database),
            keys: database.collection(store::IDEMPOTENCY_KEYS),
            ids,
            users,
            cpu,
            notifying,
        }
    }

    /// CreateTweet's answer: the tweet (new, or from a retried request) as a card.
    async fn created(&self, tweet: TweetDoc) -> Result<Response<pb::CreateTweetResponse>, Status> {
        let tweet = to_proto(tweet, &ViewerStates::default());
        let tweet = self.with_cards(vec![tweet], None).await?.pop();
        Ok(Response::new(pb::CreateTweetResponse { tweet }))
    }

    /// Applies `update` (plus the outbox `events`) to a live tweet and returns it as it is now.
    async fn update_tweet(
        &self,
        id: i64,
        filter: Document,
        mut update: Document,
        events: &[(String, PendingEvent)],
    ) -> Result<Option<TweetDoc>, Error> {
        let _serialised = store::locks::tweet(id).await;
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
        Ok(self
            .tweets
            .find_one_and_update(filter, update)
            .with_options(options)
            .await?)
    }

    /// Moves a counter of a live tweet by `delta`, never below zero, with `events` attached.
    async fn bump(
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

    /// Likes and reposts as this API writes them (shared with the sweeper).
    pub fn reactions(&self) -> Reactions {
        self.reactions.clone()
    }

    /// Resolves `@names` to users in one batched call; names nobody has stay plain text.
    async fn resolve_mentions(&self, names: &[String]) -> Result<Vec<MentionDoc>, Error> {
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

#[tonic::async_trait]
impl TweetService for TweetApi {
    async fn create_tweet(
        &self,
        request: Request<pb::CreateTweetRequest>,
    ) -> Result<Response<pb::CreateTweetResponse>, Status> {
        let author = me(&request)?;
        let mut request = request.into_inner();
        let mut violations = FieldViolations::new();
        let raw_text = std::mem::take(&mut request.text);
        let parsed = match TweetText::check_bounds(&raw_text) {
            Ok(()) => self.cpu.run(move || TweetText::parse(&raw_text)).await?,
            Err(invalid) => Err(invalid),
        };
        let text = violations.check("text", parsed);
        let reply_to =
            violations.check("reply_to_id", TweetId::parse_optional(request.reply_to_id));
        let quote_of =
            violations.check("quote_of_id", TweetId::parse_optional(request.quote_of_id));
        let key = violations.check(
            "idempotency_key",
            IdempotencyKey::parse(&request.idempotency_key),
        );
        let (Some(text), Some(reply_to), Some(quote_of), Some(key)) =
            (text, reply_to, quote_of, key)
        else {
            return Err(Error::from(violations).into());
        };
        if !text.mentions().is_empty() {
            self.notifying.check(author.get())?;
        }

        let claim = key.map(|key| Claim::new(author, &key, text.as_str()));
        if let Some(claim) = &claim
            && let Some(tweet) = self.replay(claim).await?
        {
            return self.created(tweet).await;
        }

        let parent = match reply_to {
            Some(id) => Some(self.require_tweet(id).await?),
            None => None,
        };
        let quoted = match quote_of {
            Some(id) => Some(self.require_tweet(id).await?),
            None => None,
        };
        let mentions = self.resolve_mentions(text.mentions()).await?;
        let tweet_id = self.ids.next_id()?;
        let event_ids = [self.ids.next_id()?, self.ids.next_id()?];
        // Claim the key before writing the tweet, so two concurrent retries create one tweet.
        if let Some(claim) = &claim
            && let Some(tweet) = self.claim(claim, tweet_id).await?
        {
            return self.created(tweet).await;
        }
        let tweet = compose::document(NewTweet {
            id: tweet_id,
            author: author.get(),
            text: &text,
            parent: parent.as_ref(),
            quoted: quoted.as_ref(),
            mentions,
            event_ids,
            now: DateTime::now(),
        });
        if let Err(error) = self.tweets.insert_one(&tweet).await {
            if let Some(claim) = &claim {
                self.release(claim).await;
            }
            return Err(Error::from(error).into());
        }
        // The parent's and the quoted tweet's counters (their own documents).
        if let Some(parent) = &parent {
            self.bump(parent.id, "reply_count", 1, &[]).await?;
        }
        if let Some(quoted) = &quoted {
            self.bump(quoted.id, "quote_count", 1, &[]).await?;
        }
        self.created(tweet).await
    }

    async fn get_tweet(
        &self,
        request: Request<pb::GetTweetRequest>,
    ) -> Result<Response<pb::GetTweetResponse>, Status> {
        let viewer = viewer_of(&request);
        let id = field("tweet_id", TweetId::parse(request.into_inner().tweet_id))?;
        let tweet = self.hydrate(&[id.get()], viewer).await?;
        let tweet = self
            .with_cards(tweet, viewer)
            .await?
            .pop()
            .ok_or(Error::NotFound("tweet"))?;
        Ok(Response::new(pb::GetTweetResponse { tweet: Some(tweet) }))
    }

    async fn delete_tweet(
        &self,
        request: Request<pb::DeleteTweetRequest>,
    ) -> Result<Response<pb::DeleteTweetResponse>, Status> {
        let author = me(&request)?;
        let id = field("tweet_id", TweetId::parse(request.into_inner().tweet_id))?;
        let Some(tweet) = self
            .raw_tweets
            .find_one(doc! { "_id": id.get() })
            .projection(doc! { "author_id": 1, "deleted_at": 1, "reply_to_tweet_id": 1, "quote_of_tweet_id": 1 })
            .await
            .map_err(Error::from)?
        else {
            return Err(Error::NotFound("tweet").into());
        };
        if tweet.get_i64("author_id").ok() != Some(author.get()) {
            return Err(Error::PermissionDenied("only the author can delete a tweet").into());
        }
        let deleted = events::TweetDeleted {
            tweet_id: id.get(),
            author_id: author.get(),
        };
        let pending = [
            reactions::timeline_event(self.ids.next_id()?, Kind::Deleted(deleted)),
            compose::count_event(self.ids.next_id()?, author.get(), -1),
        ];
        let mut filter = store::live();
        filter.insert("_id", id.get());
        let changed = self
            .update_tweet(
                id.get(),
                filter,
                doc! { "$set": { "deleted_at": DateTime::now() } },
                &pending,
            )
            .await?;
        if changed.is_some() {
            // Deleted now (not before): the parent and the quoted tweet count one less.
            if let Ok(parent) = tweet.get_i64("reply_to_tweet_id")
                && parent > 0
            {
                self.bump(parent, "reply_count", -1, &[]).await?;
            }
            if let Ok(quoted) = tweet.get_i64("quote_of_tweet_id")
                && quoted > 0
            {
                self.bump(quoted, "quote_count", -1, &[]).await?;
            }
        }
        Ok(Response::new(pb::DeleteTweetResponse {}))
    }

    async fn like_tweet(
        &self,
        request: Request<pb::LikeTweetRequest>,
    ) -> Result<Response<pb::LikeTweetResponse>, Status> {
        let user = me(&request)?;
        let id = field("tweet_id", TweetId::parse(request.into_inner().tweet_id))?;
        self.notifying.check(user.get())?;
        self.require_tweet(id).await?;
        self.reactions
            .add(Reaction::Like, id.get(), user.get(), &self.ids)
            .await?;
        Ok(Response::new(pb::LikeTweetResponse {
            tweet: Some(self.reacted_to(id, user).await?),
        }))
    }

    async fn unlike_tweet(
        &self,
        request: Request<pb::UnlikeTweetRequest>,
    ) -> Result<Response<pb::UnlikeTweetResponse>, Status> {
        let user = me(&request)?;
        let id = field("tweet_id", TweetId::parse(request.into_inner().tweet_id))?;
        self.require_tweet(id).await?;
        self.reactions
            .remove(Reaction::Like, id.get(), user.get(), &self.ids)
            .await?;
        Ok(Response::new(pb::UnlikeTweetResponse {
            tweet: Some(self.reacted_to(id, user).await?),
        }))
    }

    async fn repost(
        &self,
        request: Request<pb::RepostRequest>,
    ) -> Result<Response<pb::RepostResponse>, Status> {
        let user = me(&request)?;
        let id = field("tweet_id", TweetId::parse(request.into_inner().tweet_id))?;
        self.notifying.check(user.get())?;
        self.require_tweet(id).await?;
        self.reactions
            .add(Reaction::Repost, id.get(), user.get(), &self.ids)
            .await?;
        Ok(Response::new(pb::RepostResponse {
            tweet: Some(self.reacted_to(id, user).await?),
        }))
    }

    async fn unrepost(
        &self,
        request: Request<pb::UnrepostRequest>,
    ) -> Result<Response<pb::UnrepostResponse>, Status> {
        let user = me(&request)?;
        let id = field("tweet_id", TweetId::parse(request.into_inner().tweet_id))?;
        self.require_tweet(id).await?;
        self.reactions
            .remove(Reaction::Repost, id.get(), user.get(), &self.ids)
            .await?;
        Ok(Response::new(pb::UnrepostResponse {
            tweet: Some(self.reacted_to(id, user).await?),
        }))
    }

    async fn list_user_tweets(
        &self,
        request: Request<pb::ListUserTweetsRequest>,
    ) -> Result<Response<pb::ListUserTweetsResponse>, Status> {
        let viewer = viewer_of(&request);
        let request = request.into_inner();
        let user = field("user_id", UserId::parse(request.user_id))?;
        let limit = field("limit", PageLimit::parse(request.limit))?;
        let range = id_range(request.max_id, request.since_id).map_err(Error::from)?;
        let items = self
            .recent_items(&[user.get()], &range, limit, request.exclude_replies)
            .await?;
        let more = items.len() > limit.get() as usize;
        let items: Vec<pb::RecentItem> = items.into_iter().take(limit.get() as usize).collect();
        let next_max_id = if more {
            items.last().map_or(0, |i| i.item_id)
        } else {
            0
        };
        let tweet_ids: Vec<i64> = items.iter().map(|i| i.tweet_id).collect();
        let tweets = self.hydrate(&dedup(&tweet_ids), viewer).await?;
        let tweets = self.with_cards(tweets, viewer).await?;
        let by_id: HashMap<i64, &pb::Tweet> = tweets.iter().map(|t| (t.tweet_id, t)).collect();
        let items = items
            .iter()
            .filter_map(|item| {
                let tweet = (*by_id.get(&item.tweet_id)?).clone();
                let repost = item.reposted_by_user_id != 0;
                Some(pb::FeedItem {
                    item_id: item.item_id,
                    tweet: Some(tweet),
                    reposted_by_user_id: item.reposted_by_user_id,
                    reposted_at: repost.then(|| xir_common::ids::created_at(item.item_id)),
                })
            })
            .collect();
        Ok(Response::new(pb::ListUserTweetsResponse {
            items,
            next_max_id,
        }))
    }

    async fn get_thread(
        &self,
        request: Request<pb::GetThreadRequest>,
    ) -> Result<Response<pb::GetThreadResponse>, Status> {
        let viewer = viewer_of(&request);
        let request = request.into_inner();
        let id = field("tweet_id", TweetId::parse(request.tweet_id))?;
        let limit = field("limit", PageLimit::parse(request.limit))?;
        if request.replies_after_id < 0 {
            return Err(Error::from(FieldViolations::single(
                "replies_after_id",
                "must not be negative",
            ))
            .into());
        }
        let tweet = self.require_tweet(id).await?;
        let mut filter = store::live();
        filter.insert("reply_to_tweet_id", id.get());
        if request.replies_after_id > 0 {
            filter.insert("_id", doc! { "$gt": request.replies_after_id });
        }
        let mut replies = self.find_tweets(filter, true, limit.probe()).await?;
        let more = replies.len() > limit.get() as usize;
        replies.truncate(limit.get() as usize);
        let next = if more {
            replies.last().map_or(0, |r| r.id)
        } else {
            0
        };

        let mut page_ids: Vec<i64> = tweet.ancestor_ids.clone();
        page_ids.push(tweet.id);
        page_ids.extend(replies.iter().map(|r| r.id));
        let states = self.viewer_states(viewer, &page_ids).await?;
        let ancestors = {
            let ids = &tweet.ancestor_ids;
            let mut filter = store::live();
            filter.insert("_id", doc! { "$in": ids });
            let found: Vec<TweetDoc> = if ids.is_empty() {
                Vec::new()
            } else {
                self.tweets
                    .find(filter)
                    .projection(store::without_outbox())
                    .await
                    .map_err(Error::from)?
                    .try_collect()
                    .await
                    .map_err(Error::from)?
            };
            let mut by_id: HashMap<i64, TweetDoc> = found.into_iter().map(|t| (t.id, t)).collect();
            ids.iter()
                .filter_map(|i| by_id.remove(i))
                .map(|t| to_proto(t, &states))
                .collect()
        };
        // One page of cards for the whole thread, then cut back into its parts.
        let ancestors: Vec<pb::Tweet> = ancestors;
        let (above, replies_count) = (ancestors.len(), replies.len());
        let mut page = ancestors;
        page.push(to_proto(tweet, &states));
        page.extend(replies.into_iter().map(|r| to_proto(r, &states)));
        let mut page = self.with_cards(page, viewer).await?;
        let replies = page.split_off(above + 1);
        let tweet = page.pop();
        debug_assert_eq!(replies.len(), replies_count);
        Ok(Response::new(pb::GetThreadResponse {
            ancestors: page,
            tweet,
            replies,
            next_replies_after_id: next,
        }))
    }

    async fn list_hashtag_tweets(
        &self,
        request: Request<pb::ListHashtagTweetsRequest>,
    ) -> Result<Response<pb::ListHashtagTweetsResponse>, Status> {
        let viewer = viewer_of(&request);
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let tag = normalise_hashtag(&request.hashtag);
        if tag.is_none() {
            violations.add("hashtag", "must be a hashtag, with or without '#'");
        }
        let limit = violations.check("limit", PageLimit::parse(request.limit));
        let range = violations.check("max_id", id_range(request.max_id, request.since_id));
        let (Some(tag), Some(limit), Some(range)) = (tag, limit, range) else {
            return Err(Error::from(violations).into());
        };
        let mut filter = store::live();
        filter.insert("hashtags", tag);
        let mut found = self
            .find_tweets(with_range(filter, "_id", &range), false, limit.probe())
            .await?;
        let more = found.len() > limit.get() as usize;
        found.truncate(limit.get() as usize);
        let next_max_id = if more {
            found.last().map_or(0, |t| t.id)
        } else {
            0
        };
        let ids: Vec<i64> = found.iter().map(|t| t.id).collect();
        let states = self.viewer_states(viewer, &ids).await?;
        Ok(Response::new(pb::ListHashtagTweetsResponse {
            tweets: self
                .with_cards(
                    found.into_iter().map(|t| to_proto(t, &states)).collect(),
                    viewer,
                )
                .await?,
            next_max_id,
        }))
    }

    async fn batch_get_tweets(
        &self,
        request: Request<pb::BatchGetTweetsRequest>,
    ) -> Result<Response<pb::BatchGetTweetsResponse>, Status> {
        let request = request.into_inner();
        let ids = batch_ids("tweet_ids", &request.tweet_ids)?;
        let viewer = match request.viewer_id {
            0 => None,
            raw => Some(field("viewer_id", UserId::parse(raw))?),
        };
        let tweets = self.hydrate(&ids, viewer).await?;
        Ok(Response::new(pb::BatchGetTweetsResponse { tweets }))
    }

    async fn list_recent_by_authors(
        &self,
        request: Request<pb::ListRecentByAuthorsRequest>,
    ) -> Result<Response<pb::ListRecentByAuthorsResponse>, Status> {
        let request = request.into_inner();
        if request.author_ids.len() > MAX_BATCH {
            return Err(
                Error::from(FieldViolations::single("author_ids", "at most 100 authors")).into(),
            );
        }
        let mut authors = Vec::with_capacity(request.author_ids.len());
        for &raw in &request.author_ids {
            authors.push(field("author_ids", UserId::parse(raw))?.get());
        }
        let limit = field("limit", PageLimit::parse(request.limit))?;
        let range = id_range(request.max_id, request.since_id).map_err(Error::from)?;
        let mut items = self.recent_items(&authors, &range, limit, false).await?;
        items.truncate(limit.get() as usize);
        Ok(Response::new(pb::ListRecentByAuthorsResponse { items }))
    }
}
