//! Replies, quotes, threads, deletes and the lists built from them.

use tonic::Code;
use tonic::transport::Channel;
use xir_common::identity::Peer;
use xir_proto::tweet::v1::{
    BatchGetTweetsRequest, CreateTweetRequest, DeleteTweetRequest, GetThreadRequest,
    GetTweetRequest, ListHashtagTweetsRequest, ListUserTweetsRequest, RepostRequest,
    UnrepostRequest,
};
use xir_proto::tweet::v1::{Tweet, tweet_service_client::TweetServiceClient};
use xir_testkit::{Options, Stack, bearer};

use crate::tweets::{post, post_with};

/// A conversation: a root, a reply to it, a reply to the reply, and a quote of the root.
struct Conversation {
    root: Tweet,
    reply: Tweet,
    nested: Tweet,
    quote: Tweet,
}

#[tokio::test]
async fn replies_quotes_threads_deletes_and_lists() {
    let stack = Stack::start(Options::default()).await;
    stack.seed_profiles(1, 3, "user").await;
    let conversation = start_conversation(&stack).await;
    threads_and_hashtags_show_the_conversation(&stack, &conversation).await;
    deletes_are_the_authors_and_leave_every_list(&stack, &conversation).await;
    a_users_list_pages_their_tweets_and_reposts(&stack, &conversation).await;
}

/// The live tweet `id`.
async fn fetch(tweets: &mut TweetServiceClient<Channel>, id: i64) -> Tweet {
    tweets
        .get_tweet(GetTweetRequest { tweet_id: id })
        .await
        .expect("get")
        .into_inner()
        .tweet
        .expect("tweet")
}

/// Users 1, 2 and 3 start a conversation; a reply to an unknown tweet is refused.
async fn start_conversation(stack: &Stack) -> Conversation {
    let root = post(stack, 1, "root #Topic").await.expect("root");
    let reply = post_with(
        stack,
        2,
        CreateTweetRequest {
            text: "reply".into(),
            reply_to_id: root.tweet_id,
            ..Default::default()
        },
    )
    .await
    .expect("reply");
    let nested = post_with(
        stack,
        3,
        CreateTweetRequest {
            text: "nested".into(),
            reply_to_id: reply.tweet_id,
            ..Default::default()
        },
    )
    .await
    .expect("nested reply");
    assert_eq!(
        (reply.conversation_id, nested.conversation_id),
        (root.tweet_id, root.tweet_id)
    );
    assert_eq!((reply.reply_to_user_id, nested.reply_to_user_id), (1, 2));
    let quote = post_with(
        stack,
        3,
        CreateTweetRequest {
            text: "look #topic".into(),
            quote_of_id: root.tweet_id,
            ..Default::default()
        },
    )
    .await
    .expect("quote");
    assert_eq!(quote.quote_of_tweet_id, root.tweet_id);

    let error = post_with(
        stack,
        2,
        CreateTweetRequest {
            text: "x".into(),
            reply_to_id: 999_999,
            ..Default::default()
        },
    )
    .await
    .expect_err("unknown parent");
    assert_eq!(error.code(), Code::NotFound);

    Conversation {
        root,
        reply,
        nested,
        quote,
    }
}

/// The counters, the thread from either end and the hashtag's list show the conversation.
async fn threads_and_hashtags_show_the_conversation(stack: &Stack, conversation: &Conversation) {
    let Conversation {
        root,
        reply,
        nested,
        quote,
    } = conversation;
    let mut tweets = stack.tweets().await;
    let root_now = fetch(&mut tweets, root.tweet_id).await;
    assert_eq!((root_now.reply_count, root_now.quote_count), (1, 1));

    let thread = tweets
        .get_thread(GetThreadRequest {
            tweet_id: nested.tweet_id,
            replies_after_id: 0,
            limit: 0,
        })
        .await
        .expect("thread")
        .into_inner();
    assert_eq!(
        thread
            .ancestors
            .iter()
            .map(|t| t.tweet_id)
            .collect::<Vec<_>>(),
        [root.tweet_id, reply.tweet_id]
    );
    let thread = tweets
        .get_thread(GetThreadRequest {
            tweet_id: root.tweet_id,
            replies_after_id: 0,
            limit: 0,
        })
        .await
        .expect("thread")
        .into_inner();
    assert_eq!(
        thread
            .replies
            .iter()
            .map(|t| t.tweet_id)
            .collect::<Vec<_>>(),
        [reply.tweet_id]
    );

    let tagged = tweets
        .list_hashtag_tweets(ListHashtagTweetsRequest {
            hashtag: "#TOPIC".into(),
            ..Default::default()
        })
        .await
        .expect("hashtag")
        .into_inner()
        .tweets;
    assert_eq!(
        tagged.iter().map(|t| t.tweet_id).collect::<Vec<_>>(),
        [quote.tweet_id, root.tweet_id]
    );
}

/// Someone else's tweet cannot be deleted; one's own can, and it is gone everywhere.
async fn deletes_are_the_authors_and_leave_every_list(stack: &Stack, conversation: &Conversation) {
    let Conversation {
        root, reply, quote, ..
    } = conversation;
    let mut tweets = stack.tweets().await;
    let error = tweets
        .delete_tweet(bearer(
            &stack.token(2),
            DeleteTweetRequest {
                tweet_id: root.tweet_id,
            },
        ))
        .await
        .expect_err("not the author");
    assert_eq!(error.code(), Code::PermissionDenied);
    tweets
        .delete_tweet(bearer(
            &stack.token(2),
            DeleteTweetRequest {
                tweet_id: reply.tweet_id,
            },
        ))
        .await
        .expect("delete own");
    tweets
        .delete_tweet(bearer(
            &stack.token(2),
            DeleteTweetRequest {
                tweet_id: reply.tweet_id,
            },
        ))
        .await
        .expect("idempotent");
    let error = tweets
        .get_tweet(GetTweetRequest {
            tweet_id: reply.tweet_id,
        })
        .await
        .expect_err("deleted");
    assert_eq!(error.code(), Code::NotFound);
    let batch = stack
        .tweets_as(Peer::Timeline)
        .await
        .batch_get_tweets(BatchGetTweetsRequest {
            tweet_ids: vec![quote.tweet_id, reply.tweet_id, root.tweet_id],
            viewer_id: 0,
        })
        .await
        .expect("batch")
        .into_inner()
        .tweets;
    assert_eq!(
        batch.iter().map(|t| t.tweet_id).collect::<Vec<_>>(),
        [quote.tweet_id, root.tweet_id],
        "order kept, deleted left out"
    );
    let root_now = fetch(&mut tweets, root.tweet_id).await;
    assert_eq!(root_now.reply_count, 0);
}

/// A user's list: their tweets and reposts, newest first, paged.
async fn a_users_list_pages_their_tweets_and_reposts(stack: &Stack, conversation: &Conversation) {
    let Conversation {
        root,
        nested,
        quote,
        ..
    } = conversation;
    let mut tweets = stack.tweets().await;
    tweets
        .repost(bearer(
            &stack.token(3),
            RepostRequest {
                tweet_id: root.tweet_id,
            },
        ))
        .await
        .expect("repost");
    let first = tweets
        .list_user_tweets(bearer(
            &stack.token(3),
            ListUserTweetsRequest {
                user_id: 3,
                limit: 2,
                ..Default::default()
            },
        ))
        .await
        .expect("list")
        .into_inner();
    assert_eq!(first.items.len(), 2);
    assert_eq!(first.items[0].reposted_by_user_id, 3);
    assert_eq!(
        first.items[0].tweet.as_ref().map(|t| t.tweet_id),
        Some(root.tweet_id)
    );
    assert!(
        first.items[0]
            .tweet
            .as_ref()
            .and_then(|t| t.viewer)
            .is_some_and(|v| v.reposted)
    );
    assert_eq!(
        first.items[1].tweet.as_ref().map(|t| t.tweet_id),
        Some(quote.tweet_id)
    );
    let rest = tweets
        .list_user_tweets(ListUserTweetsRequest {
            user_id: 3,
            limit: 2,
            max_id: first.next_max_id,
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner();
    assert_eq!(
        rest.items
            .iter()
            .filter_map(|i| i.tweet.as_ref())
            .map(|t| t.tweet_id)
            .collect::<Vec<_>>(),
        [nested.tweet_id]
    );
    assert_eq!(rest.next_max_id, 0);
    tweets
        .unrepost(bearer(
            &stack.token(3),
            UnrepostRequest {
                tweet_id: root.tweet_id,
            },
        ))
        .await
        .expect("unrepost");
    let root_now = fetch(&mut tweets, root.tweet_id).await;
    assert_eq!(root_now.repost_count, 0);
}
