//! The tonic service. The tweet RPCs arrive with issue 5; until then each answers
//! UNIMPLEMENTED, while health, reflection, metrics and readiness are served for real.

use mongodb::Database;
use tonic::{Request, Response, Status};
use xir_proto::tweet::v1::{self as pb, tweet_service_server::TweetService};

pub struct TweetApi {
    #[allow(dead_code)] // read by the tweet RPCs (issue 5)
    database: Database,
}

impl TweetApi {
    pub fn new(database: Database) -> Self {
        Self { database }
    }
}

fn not_yet(rpc: &str) -> Status {
    Status::unimplemented(format!("{rpc} is not implemented yet"))
}

#[tonic::async_trait]
impl TweetService for TweetApi {
    async fn create_tweet(
        &self,
        _: Request<pb::CreateTweetRequest>,
    ) -> Result<Response<pb::CreateTweetResponse>, Status> {
        Err(not_yet("CreateTweet"))
    }

    async fn get_tweet(
        &self,
        _: Request<pb::GetTweetRequest>,
    ) -> Result<Response<pb::GetTweetResponse>, Status> {
        Err(not_yet("GetTweet"))
    }

    async fn delete_tweet(
        &self,
        _: Request<pb::DeleteTweetRequest>,
    ) -> Result<Response<pb::DeleteTweetResponse>, Status> {
        Err(not_yet("DeleteTweet"))
    }

    async fn like_tweet(
        &self,
        _: Request<pb::LikeTweetRequest>,
    ) -> Result<Response<pb::LikeTweetResponse>, Status> {
        Err(not_yet("LikeTweet"))
    }

    async fn unlike_tweet(
        &self,
        _: Request<pb::UnlikeTweetRequest>,
    ) -> Result<Response<pb::UnlikeTweetResponse>, Status> {
        Err(not_yet("UnlikeTweet"))
    }

    async fn repost(
        &self,
        _: Request<pb::RepostRequest>,
    ) -> Result<Response<pb::RepostResponse>, Status> {
        Err(not_yet("Repost"))
    }

    async fn unrepost(
        &self,
        _: Request<pb::UnrepostRequest>,
    ) -> Result<Response<pb::UnrepostResponse>, Status> {
        Err(not_yet("Unrepost"))
    }

    async fn list_user_tweets(
        &self,
        _: Request<pb::ListUserTweetsRequest>,
    ) -> Result<Response<pb::ListUserTweetsResponse>, Status> {
        Err(not_yet("ListUserTweets"))
    }

    async fn get_thread(
        &self,
        _: Request<pb::GetThreadRequest>,
    ) -> Result<Response<pb::GetThreadResponse>, Status> {
        Err(not_yet("GetThread"))
    }

    async fn list_hashtag_tweets(
        &self,
        _: Request<pb::ListHashtagTweetsRequest>,
    ) -> Result<Response<pb::ListHashtagTweetsResponse>, Status> {
        Err(not_yet("ListHashtagTweets"))
    }

    async fn batch_get_tweets(
        &self,
        _: Request<pb::BatchGetTweetsRequest>,
    ) -> Result<Response<pb::BatchGetTweetsResponse>, Status> {
        Err(not_yet("BatchGetTweets"))
    }

    async fn list_recent_by_authors(
        &self,
        _: Request<pb::ListRecentByAuthorsRequest>,
    ) -> Result<Response<pb::ListRecentByAuthorsResponse>, Status> {
        Err(not_yet("ListRecentByAuthors"))
    }
}
