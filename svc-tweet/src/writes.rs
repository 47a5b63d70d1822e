//! The writes of tweets: create (with its idempotency key), delete, and the reactions (likes
//! and reposts). Each change of a tweet document carries its outbox events in the same update.

use mongodb::bson::{self, DateTime, doc};
use xir_common::errors::During;
use xir_proto::{
    timeline::v1::{self as events, tweet_event::Kind},
    tweet::v1 as pb,
};

use crate::{
    compose::{self, NewTweet},
    domain::{IdempotencyKey, TweetId, TweetText, UserId},
    error::Error,
    idempotency::{Claim, Claimed},
    reactions::{self, Reaction},
    reads::{ViewerStates, to_proto},
    store::{self, TweetDoc},
    tweets::Tweets,
};

/// A tweet to create, its fields parsed.
pub struct Draft {
    pub author: UserId,
    pub text: TweetText,
    pub reply_to: Option<TweetId>,
    pub quote_of: Option<TweetId>,
    pub key: Option<IdempotencyKey>,
}

/// Adding or taking back a like or a repost.
#[derive(Debug, Clone, Copy)]
pub enum Toggle {
    On,
    Off,
}

impl Tweets {
    /// Parses tweet text on the CPU pool (it is the expensive part of a request); the outer
    /// error is a busy pool, the inner one bad text.
    pub async fn parse_text(
        &self,
        raw: String,
    ) -> Result<Result<TweetText, crate::domain::InvalidText>, Error> {
        if let Err(invalid) = TweetText::check_bounds(&raw) {
            return Ok(Err(invalid));
        }
        self.cpu
            .run(move || TweetText::parse(&raw))
            .await
            .map_err(|busy| Error::Refused(busy.into()))
    }

    /// Creates the tweet (or answers the one an earlier request with the same key made). The
    /// key is claimed with the tweet already composed, in one insert: a first request (the
    /// usual one) makes no lookup of its key; a repeat finds the key taken and is answered
    /// with the tweet the key made.
    pub async fn create(&self, draft: Draft) -> Result<pb::Tweet, Error> {
        if !draft.text.mentions().is_empty() {
            self.check_notifying(draft.author.get())?;
        }
        let claim = draft
            .key
            .as_ref()
            .map(|key| Claim::new(draft.author, key, draft.text.as_str()));
        let tweet = match self.compose(&draft).await {
            Ok(tweet) => tweet,
            Err(Error::NotFound(what)) => {
                // A repeat whose parent or quoted tweet was deleted since: still its tweet.
                let replayed = match &claim {
                    Some(claim) => self.replay(claim).await?,
                    None => None,
                };
                return match replayed {
                    Some(tweet) => self.created(tweet).await,
                    None => Err(Error::NotFound(what)),
                };
            }
            Err(error) => return Err(error),
        };
        if let Some(claim) = &claim
            && let Claimed::Earlier(tweet) = self.claim(claim, &tweet).await?
        {
            return self.created(*tweet).await;
        }
        // The card (the author's profile, the quoted tweet) needs nothing of the write: both
        // at once, so a post waits for one of them, not for both in turn.
        let (written, card) = tokio::join!(self.write_tweet(&tweet), self.created(tweet.clone()));
        written?;
        card
    }

    /// The document of a new tweet: its parent and quoted tweet must exist.
    async fn compose(&self, draft: &Draft) -> Result<TweetDoc, Error> {
        let parent = match draft.reply_to {
            Some(id) => Some(self.require_tweet(id).await?),
            None => None,
        };
        let quoted = match draft.quote_of {
            Some(id) => Some(self.require_tweet(id).await?),
            None => None,
        };
        Ok(compose::document(NewTweet {
            id: self.ids.next_id()?,
            author: draft.author.get(),
            text: &draft.text,
            parent: parent.as_ref(),
            quoted: quoted.as_ref(),
            mentions: self.resolve_mentions(draft.text.mentions()).await?,
            event_ids: [self.ids.next_id()?, self.ids.next_id()?],
            now: DateTime::now(),
        }))
    }

    /// Writes a new tweet unless it is there already (claimed for this process's relay when
    /// it takes births), and counts it on the tweets it answers and quotes: only the request
    /// that wrote it does, so a replay never counts twice.
    pub(crate) async fn write_tweet(&self, tweet: &TweetDoc) -> Result<(), Error> {
        let mut document = bson::to_document(tweet)
            .map_err(mongodb::error::Error::from)
            .during("encode tweet")?;
        let claim = self.changes.birth_claim();
        if let Some(claim) = &claim {
            claim.stamp(&mut document);
        }
        match self.raw_tweets.insert_one(document).await {
            Ok(_) => self.changes.tweet_created(tweet, claim.as_ref()).await,
            Err(error) if store::is_duplicate(&error) => return Ok(()),
            Err(error) => return Err(Err(error).during("insert tweet")?),
        }
        if tweet.reply_to_tweet_id > 0 {
            self.bump(tweet.reply_to_tweet_id, "reply_count", 1, &[])
                .await?;
        }
        if tweet.quote_of_tweet_id > 0 {
            self.bump(tweet.quote_of_tweet_id, "quote_count", 1, &[])
                .await?;
        }
        Ok(())
    }

    /// CreateTweet's answer: the tweet (new, or from a retried request) as a card.
    async fn created(&self, tweet: TweetDoc) -> Result<pb::Tweet, Error> {
        let tweet = to_proto(tweet, &ViewerStates::default());
        self.with_cards(vec![tweet], None)
            .await?
            .pop()
            .ok_or(Error::NotFound("tweet"))
    }

    /// Deletes the author's own tweet; deleting it again changes nothing.
    pub async fn delete(&self, author: UserId, id: TweetId) -> Result<(), Error> {
        let Some(tweet) = self
            .raw_tweets
            .find_one(doc! { "_id": id.get() })
            .projection(doc! { "author_id": 1, "deleted_at": 1, "reply_to_tweet_id": 1, "quote_of_tweet_id": 1 })
            .await
            .during("find tweet to delete")?
        else {
            return Err(Error::NotFound("tweet"));
        };
        if tweet.get_i64("author_id").ok() != Some(author.get()) {
            return Err(Error::PermissionDenied(
                "only the author can delete a tweet",
            ));
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
        let update = doc! { "$set": { "deleted_at": DateTime::now() } };
        if self
            .update_tweet(id.get(), filter, update, &pending)
            .await?
            .is_none()
        {
            return Ok(()); // deleted before
        }
        self.changes.items_changed(author.get()).await;
        // Deleted now: the parent and the quoted tweet count one less.
        let linked = |field: &str| tweet.get_i64(field).ok().filter(|&id| id > 0);
        if let Some(parent) = linked("reply_to_tweet_id") {
            self.bump(parent, "reply_count", -1, &[]).await?;
        }
        if let Some(quoted) = linked("quote_of_tweet_id") {
            self.bump(quoted, "quote_count", -1, &[]).await?;
        }
        Ok(())
    }

    /// Likes or reposts (`On`), or takes it back (`Off`), and answers the tweet as `user`
    /// sees it now. Adding notifies the author, so it is rate-limited.
    pub async fn react(
        &self,
        reaction: Reaction,
        toggle: Toggle,
        user: UserId,
        id: TweetId,
    ) -> Result<pb::Tweet, Error> {
        if let Toggle::On = toggle {
            self.check_notifying(user.get())?;
        }
        self.require_tweet(id).await?;
        match toggle {
            Toggle::On => {
                self.reactions
                    .add(reaction, id.get(), user.get(), &self.ids)
                    .await?
            }
            Toggle::Off => {
                self.reactions
                    .remove(reaction, id.get(), user.get(), &self.ids)
                    .await?
            }
        }
        self.reacted_to(id, user).await
    }
}
