//! The gRPC adapter: parses each request into domain values, calls `Tweets`, maps back.

use tonic::{Request, Response, Status};
use xir_common::{
    errors::FieldViolations,
    mongo::id_range,
    request::{batch_ids, caller_id, field, viewer_id},
};
use xir_proto::tweet::v1::{self as pb, tweet_service_server::TweetService};

use crate::{
    domain::{IdempotencyKey, PageLimit, TweetId, UserId, normalise_hashtag},
    error::Error,
    pages::Range,
    reactions::Reaction,
    tweets::Tweets,
    writes::{Draft, Toggle},
};

pub struct TweetApi {
    tweets: Tweets,
}

impl TweetApi {
    pub fn new(tweets: Tweets) -> Self {
        Self { tweets }
    }

    async fn draft(&self, author: UserId, request: pb::CreateTweetRequest) -> Result<Draft, Error> {
        let mut violations = FieldViolations::new();
        let text = violations.check("text", self.tweets.parse_text(request.text).await?);
        let reply_to =
            violations.check("reply_to_id", TweetId::parse_optional(request.reply_to_id));
        let quote_of =
            violations.check("quote_of_id", TweetId::parse_optional(request.quote_of_id));
        let key = violations.check(
            "idempotency_key",
            IdempotencyKey::parse(&request.idempotency_key),
        );
        match (text, reply_to, quote_of, key) {
            (Some(text), Some(reply_to), Some(quote_of), Some(key)) => Ok(Draft {
                author,
                text,
                reply_to,
                quote_of,
                key,
            }),
            _ => Err(violations.into()),
        }
    }

    /// A like or repost by `user` of the tweet the request names, added or taken back.
    async fn react(
        &self,
        user: UserId,
        raw_id: i64,
        reaction: Reaction,
        toggle: Toggle,
    ) -> Result<pb::Tweet, Error> {
        self.tweets
            .react(reaction, toggle, user, tweet_id(raw_id)?)
            .await
    }
}

fn tweet_id(raw: i64) -> Result<TweetId, Error> {
    Ok(field("tweet_id", TweetId::parse(raw))?)
}

fn range(max_id: i64, since_id: i64) -> Result<Range, FieldViolations> {
    id_range(max_id, since_id).map(Range)
}

#[tonic::async_trait]
impl TweetService for TweetApi {
    async fn create_tweet(
        &self,
        request: Request<pb::CreateTweetRequest>,
    ) -> Result<Response<pb::CreateTweetResponse>, Status> {
        let author = caller_id(&request)?;
        let draft = self.draft(author, request.into_inner()).await?;
        let tweet = self.tweets.create(draft).await?;
        Ok(Response::new(pb::CreateTweetResponse {
            tweet: Some(tweet),
        }))
    }

    async fn get_tweet(
        &self,
        request: Request<pb::GetTweetRequest>,
    ) -> Result<Response<pb::GetTweetResponse>, Status> {
        let viewer = viewer_id(&request);
        let id = tweet_id(request.into_inner().tweet_id)?;
        let tweet = self.tweets.tweet(id, viewer).await?;
        Ok(Response::new(pb::GetTweetResponse { tweet: Some(tweet) }))
    }

    async fn delete_tweet(
        &self,
        request: Request<pb::DeleteTweetRequest>,
    ) -> Result<Response<pb::DeleteTweetResponse>, Status> {
        let author = caller_id(&request)?;
        let id = tweet_id(request.into_inner().tweet_id)?;
        self.tweets.delete(author, id).await?;
        Ok(Response::new(pb::DeleteTweetResponse {}))
    }

    async fn like_tweet(
        &self,
        request: Request<pb::LikeTweetRequest>,
    ) -> Result<Response<pb::LikeTweetResponse>, Status> {
        let user = caller_id(&request)?;
        let raw_id = request.into_inner().tweet_id;
        let tweet = self.react(user, raw_id, Reaction::Like, Toggle::On).await?;
        Ok(Response::new(pb::LikeTweetResponse { tweet: Some(tweet) }))
    }

    async fn unlike_tweet(
        &self,
        request: Request<pb::UnlikeTweetRequest>,
    ) -> Result<Response<pb::UnlikeTweetResponse>, Status> {
        let user = caller_id(&request)?;
        let raw_id = request.into_inner().tweet_id;
        let tweet = self
            .react(user, raw_id, Reaction::Like, Toggle::Off)
            .await?;
        Ok(Response::new(pb::UnlikeTweetResponse {
            tweet: Some(tweet),
        }))
    }

    async fn repost(
        &self,
        request: Request<pb::RepostRequest>,
    ) -> Result<Response<pb::RepostResponse>, Status> {
        let user = caller_id(&request)?;
        let raw_id = request.into_inner().tweet_id;
        let tweet = self
            .react(user, raw_id, Reaction::Repost, Toggle::On)
            .await?;
        Ok(Response::new(pb::RepostResponse { tweet: Some(tweet) }))
    }

    async fn unrepost(
        &self,
        request: Request<pb::UnrepostRequest>,
    ) -> Result<Response<pb::UnrepostResponse>, Status> {
        let user = caller_id(&request)?;
        let raw_id = request.into_inner().tweet_id;
        let tweet = self
            .react(user, raw_id, Reaction::Repost, Toggle::Off)
            .await?;
        Ok(Response::new(pb::UnrepostResponse { tweet: Some(tweet) }))
    }

    async fn list_user_tweets(
        &self,
        request: Request<pb::ListUserTweetsRequest>,
    ) -> Result<Response<pb::ListUserTweetsResponse>, Status> {
        let viewer = viewer_id(&request);
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let user = violations.check("user_id", UserId::parse(request.user_id));
        let limit = violations.check("limit", PageLimit::parse(request.limit));
        let range = violations.absorb(range(request.max_id, request.since_id));
        let (Some(user), Some(limit), Some(range)) = (user, limit, range) else {
            return Err(Error::from(violations).into());
        };
        let (items, next_max_id) = self
            .tweets
            .user_tweets(user, &range, limit, request.exclude_replies, viewer)
            .await?;
        Ok(Response::new(pb::ListUserTweetsResponse {
            items,
            next_max_id,
        }))
    }

    async fn get_thread(
        &self,
        request: Request<pb::GetThreadRequest>,
    ) -> Result<Response<pb::GetThreadResponse>, Status> {
        let viewer = viewer_id(&request);
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let id = violations.check("tweet_id", TweetId::parse(request.tweet_id));
        let limit = violations.check("limit", PageLimit::parse(request.limit));
        if request.replies_after_id < 0 {
            violations.add("replies_after_id", "must not be negative");
        }
        let (Some(id), Some(limit), true) = (id, limit, violations.is_empty()) else {
            return Err(Error::from(violations).into());
        };
        let thread = self
            .tweets
            .thread(id, request.replies_after_id, limit, viewer)
            .await?;
        Ok(Response::new(pb::GetThreadResponse {
            ancestors: thread.ancestors,
            tweet: Some(thread.tweet),
            replies: thread.replies,
            next_replies_after_id: thread.next_replies_after_id,
        }))
    }

    async fn list_hashtag_tweets(
        &self,
        request: Request<pb::ListHashtagTweetsRequest>,
    ) -> Result<Response<pb::ListHashtagTweetsResponse>, Status> {
        let viewer = viewer_id(&request);
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        let tag = normalise_hashtag(&request.hashtag);
        if tag.is_none() {
            violations.add("hashtag", "must be a hashtag, with or without '#'");
        }
        let limit = violations.check("limit", PageLimit::parse(request.limit));
        let range = violations.check("max_id", range(request.max_id, request.since_id));
        let (Some(tag), Some(limit), Some(range)) = (tag, limit, range) else {
            return Err(Error::from(violations).into());
        };
        let (tweets, next_max_id) = self.tweets.hashtag(tag, &range, limit, viewer).await?;
        Ok(Response::new(pb::ListHashtagTweetsResponse {
            tweets,
            next_max_id,
        }))
    }

    async fn batch_get_tweets(
        &self,
        request: Request<pb::BatchGetTweetsRequest>,
    ) -> Result<Response<pb::BatchGetTweetsResponse>, Status> {
        let request = request.into_inner();
        let ids =
            batch_ids("tweet_ids", &request.tweet_ids, TweetId::parse).map_err(Error::from)?;
        let viewer = match request.viewer_id {
            0 => None,
            raw => Some(field("viewer_id", UserId::parse(raw)).map_err(Error::from)?),
        };
        let ids: Vec<i64> = ids.into_iter().map(TweetId::get).collect();
        let tweets = self.tweets.hydrate(&ids, viewer).await?;
        Ok(Response::new(pb::BatchGetTweetsResponse { tweets }))
    }

    async fn list_recent_by_authors(
        &self,
        request: Request<pb::ListRecentByAuthorsRequest>,
    ) -> Result<Response<pb::ListRecentByAuthorsResponse>, Status> {
        let request = request.into_inner();
        let authors =
            batch_ids("author_ids", &request.author_ids, UserId::parse).map_err(Error::from)?;
        let limit = field("limit", PageLimit::parse(request.limit)).map_err(Error::from)?;
        let range = range(request.max_id, request.since_id).map_err(Error::from)?;
        let items = self
            .tweets
            .recent_by_authors(&authors, &range, limit)
            .await?;
        Ok(Response::new(pb::ListRecentByAuthorsResponse { items }))
    }
}
