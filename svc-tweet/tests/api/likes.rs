//! Likes: counted exactly under concurrency, and rate-limited per user.

use futures_util::future::join_all;
use tonic::Code;
use xir_proto::tweet::v1::{GetTweetRequest, LikeTweetRequest, UnlikeTweetRequest};
use xir_testkit::{Options, Stack, bearer};

use crate::tweets::post;

/// 100 users like one tweet at once: exactly 100. Liking twice counts once; unliking never
/// goes below zero.
#[tokio::test]
async fn likes_count_exactly_under_concurrency() {
    let stack = Stack::start(Options::default()).await;
    stack.seed_profiles(1, 1, "author").await;
    let fans = stack.seed_profiles(100, 100, "fan").await;
    let tweet = post(&stack, 1, "like me").await.expect("posted");

    let likes = join_all(fans.iter().map(|&fan| {
        let token = stack.token(fan);
        let stack = &stack;
        async move {
            stack
                .tweets()
                .await
                .like_tweet(bearer(
                    &token,
                    LikeTweetRequest {
                        tweet_id: tweet.tweet_id,
                    },
                ))
                .await
        }
    }))
    .await;
    let failed: Vec<_> = likes.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(failed.is_empty(), "likes failed: {failed:?}");
    let mut tweets = stack.tweets().await;
    let liked = tweets
        .like_tweet(bearer(
            &stack.token(100),
            LikeTweetRequest {
                tweet_id: tweet.tweet_id,
            },
        ))
        .await
        .expect("like again")
        .into_inner()
        .tweet
        .expect("tweet");
    assert_eq!(liked.like_count, 100);
    assert!(liked.viewer.is_some_and(|v| v.liked));

    for _ in 0..2 {
        tweets
            .unlike_tweet(bearer(
                &stack.token(100),
                UnlikeTweetRequest {
                    tweet_id: tweet.tweet_id,
                },
            ))
            .await
            .expect("unlike");
    }
    let other = post(&stack, 1, "nobody likes this").await.expect("posted");
    let unliked = tweets
        .unlike_tweet(bearer(
            &stack.token(100),
            UnlikeTweetRequest {
                tweet_id: other.tweet_id,
            },
        ))
        .await
        .expect("unlike what was never liked")
        .into_inner()
        .tweet
        .expect("tweet");
    assert_eq!(unliked.like_count, 0);
    let now = tweets
        .get_tweet(GetTweetRequest {
            tweet_id: tweet.tweet_id,
        })
        .await
        .expect("get")
        .into_inner()
        .tweet
        .expect("tweet");
    assert_eq!(now.like_count, 99);
}

/// Writes that notify somebody were unlimited: one user could flood another's notifications.
/// A user's likes are limited (here a burst of 3, then one a minute); another user's are not.
#[tokio::test]
async fn likes_are_rate_limited_per_user() {
    let stack = Stack::start(Options {
        notifying_writes: (1, 3),
        ..Options::default()
    })
    .await;
    stack.seed_profiles(1, 3, "user").await;
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(
            post(&stack, 1, &format!("likeable {n}"))
                .await
                .expect("posted")
                .tweet_id,
        );
    }
    let mut tweets = stack.tweets().await;
    let (two, three) = (stack.token(2), stack.token(3));
    let mut refused = None;
    for &tweet_id in &ids {
        match tweets
            .like_tweet(bearer(&two, LikeTweetRequest { tweet_id }))
            .await
        {
            Ok(_) => {}
            Err(status) => {
                refused = Some(status);
                break;
            }
        }
    }
    let refused = refused.expect("5 likes in a row go over the burst of 3");
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    assert!(
        refused
            .metadata()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .is_some_and(|s| s >= 1),
        "{refused:?}"
    );
    tweets
        .like_tweet(bearer(&three, LikeTweetRequest { tweet_id: ids[0] }))
        .await
        .expect("another user likes freely");
}
