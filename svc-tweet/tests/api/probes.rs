use tonic::Code;
use xir_common::testing;
use xir_proto::tweet::v1::{
    GetTweetRequest, SERVICE_NAME, tweet_service_client::TweetServiceClient,
};

use crate::helpers::spawn_app;

#[tokio::test]
async fn serves_health_reflection_and_rpc_metrics() {
    let app = spawn_app().await;
    testing::assert_probes(app.grpc_addr, SERVICE_NAME).await;

    let indexes = app
        .database
        .collection::<mongodb::bson::Document>(svc_tweet::store::TWEETS)
        .list_index_names()
        .await
        .expect("list indexes");
    for wanted in [
        "author_newest",
        "replies_oldest",
        "hashtag_newest",
        "outbox_due",
    ] {
        assert!(
            indexes.iter().any(|i| i == wanted),
            "{wanted} missing from {indexes:?}"
        );
    }

    let error = TweetServiceClient::new(app.channel().await)
        .get_tweet(GetTweetRequest { tweet_id: 1 })
        .await
        .expect_err("no such tweet");
    assert_eq!(error.code(), Code::NotFound);
    testing::assert_rpc_metrics(app.metrics_addr, SERVICE_NAME, "GetTweet", Code::NotFound).await;
}
